"""Newer syntax than the running Python's, rewritten line by line for its `ast`.

A project may use syntax newer than the Python session-lint runs on: PEP 695 (`type X = ...`,
`def f[T](...)`, `class C[T]:`, 3.12) and PEP 758 (`except A, B:`, 3.14). LibCST parses those,
so the engine lints such a file, but `ast` on this Python does not (polar has 56 such files).
Without a tree the screen could not tell which rules may report, `--init` would not see the
session module's factories, and the rules would not see a module's models, helpers or fixtures.
`downgrade` rewrites them into what an older `ast` parses, and `parse` is `ast.parse` with that
rewrite when the text as written does not parse: every `ast` reader of project source uses it.
The engine always gets the file as written.

What a rewrite may drop is type parameters (type variables and their bounds: no trigger is made
of those); everything else keeps its tokens, and every line stays on its line (type parameters
over several lines leave their line breaks inside parentheses), so the statements the screen
finds are where they were. A file with other newer syntax (3.12 f-strings) is not
rewritten: its `ast` parse still fails, and the screen falls back to the words the file spells.
"""

from __future__ import annotations

import ast
import re

_TYPE_ALIAS = re.compile(rb"^([ \t]*)type[ \t]+(\w+)[ \t]*(?:\[[^\]\n]*\])?[ \t]*=", re.M)  # PEP 695 alias
_BARE_EXCEPT_TUPLE = re.compile(rb"^([ \t]*)except(\*?)[ \t]+([^():\n#]+,[^():\n#]+):", re.M)  # PEP 758
_GENERIC_DEF = re.compile(rb"^([ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+\w+)\[", re.M)  # PEP 695 parameters


def parse(source: bytes | str, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse(source)`, or, when that is a syntax error, the tree of `source` with newer syntax
    rewritten (`downgrade`). Raises what `ast.parse` raises for the text as written."""
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as error:
        data = source if isinstance(source, bytes) else source.encode("utf-8", "surrogateescape")
        downgraded = downgrade(data)
        if downgraded == data:
            raise
        try:
            return ast.parse(downgraded if isinstance(source, bytes)
                             else downgraded.decode("utf-8", "surrogateescape"), filename=filename)
        except SyntaxError:
            raise error from None


def downgrade(data: bytes) -> bytes:
    """`data` with PEP 695 / PEP 758 syntax rewritten for an older `ast` (the same text otherwise)."""
    data = _TYPE_ALIAS.sub(rb"\1\2 =", data)
    data = _BARE_EXCEPT_TUPLE.sub(rb"\1except\2 (\3):", data)
    return _without_type_parameters(data)


def _without_type_parameters(data: bytes) -> bytes:
    """`def f[T: Bound](x: T)` -> `def f(x: T)`, `class C[T](Base):` -> `class C(Base):`. Parameters
    over several lines keep their line breaks inside the call's parentheses: `class C[\n  T,\n](Base):`
    -> `class C(\n\nBase):`, `class C[\n  T,\n]:` -> `class C(\n\n):` (polar's services and
    repositories list their type parameters one per line)."""
    out, copied = bytearray(), 0
    for match in _GENERIC_DEF.finditer(data):
        if match.start() < copied:
            continue
        end = _closing_bracket(data, match.end())
        if end is None:
            continue
        breaks = data.count(b"\n", match.end(), end)
        out += data[copied:match.end() - 1]
        if not breaks:
            copied = end + 1
        elif data[end + 1:end + 2] == b"(":
            out += b"(" + b"\n" * breaks
            copied = end + 2
        else:
            out += b"(" + b"\n" * breaks + b")"
            copied = end + 1
    return bytes(out + data[copied:]) if copied else data


def _closing_bracket(data: bytes, start: int) -> int | None:
    """The index of the `]` closing the `[` before `start`, past comments and strings (a bound's
    forward reference, `# type: ignore[type-arg]`); None when there is none."""
    depth, index = 1, start
    while index < len(data):
        char = data[index]
        if char == 0x5B:  # [
            depth += 1
        elif char == 0x5D:  # ]
            depth -= 1
            if not depth:
                return index
        elif char == 0x23:  # a comment, to the end of its line
            index = data.find(b"\n", index)
            if index < 0:
                return None
            continue
        elif char in (0x22, 0x27):  # a string, on its line
            close = index + 1
            while close < len(data) and data[close] not in (char, 0x0A):
                close += 2 if data[close] == 0x5C else 1
            if close >= len(data) or data[close] != char:
                return None
            index = close
        index += 1
    return None
