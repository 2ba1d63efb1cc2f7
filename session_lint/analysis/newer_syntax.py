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
finds are where they were. A PEP 701 f-string (3.12: a line break or the string's own quote
inside a replacement field) becomes triple-quoted. A file with other newer syntax (a comment or a
backslash inside a field) is not rewritten: its `ast` parse still fails, and the screen falls back
to the words the file spells.
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
    """`data` with PEP 695 / PEP 758 syntax and PEP 701 f-strings rewritten for an older `ast` (the
    same text otherwise)."""
    data = _TYPE_ALIAS.sub(rb"\1\2 =", data)
    data = _BARE_EXCEPT_TUPLE.sub(rb"\1except\2 (\3):", data)
    return _triple_quoted_fstrings(_without_type_parameters(data))


_QUOTES = (0x22, 0x27)  # " '
_STRING_OR_COMMENT = re.compile(rb"[#'\"]")
_PREFIX_LETTERS = frozenset(b"rRbBuUfF")
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class _Unreadable(Exception):
    """A string this scanner does not follow: the text is left as it is."""


def _triple_quoted_fstrings(data: bytes) -> bytes:
    """Single-quoted f-strings only Python 3.12 reads (PEP 701: a line break, or their own quote,
    inside a replacement field: polar's `f"-{\n formatters.currency(...)\n}"`) made triple-quoted,
    which an older `ast` reads the same way; lines stay on their lines. Comments and other strings
    are skipped; a comment or a backslash inside a field (3.12 too) is left as it is."""
    if b"f" not in data and b"F" not in data:
        return data
    out, copied, index = bytearray(), 0, 0
    try:
        while (found := _STRING_OR_COMMENT.search(data, index)) is not None:
            index = found.start()
            char = data[index]
            if char == 0x23:  # a comment, to the end of its line
                end = data.find(b"\n", index)
                index = len(data) if end < 0 else end
            else:
                end, newer = _literal_end(data, index)
                if newer and data.find(data[index:index + 1] * 3, index + 1, end - 1) < 0:
                    quote = data[index:index + 1]
                    out += data[copied:index] + quote * 3 + data[index + 1:end - 1] + quote * 3
                    copied = end
                index = end
    except _Unreadable:
        return data
    return bytes(out + data[copied:]) if copied else data


def _literal_end(data: bytes, index: int) -> tuple[int, bool]:
    """`_string_end` of the string literal whose opening quote is at `index`, its prefix (`rf`,
    `b`) read before the quote."""
    start = index
    while start > 0 and data[start - 1] in _PREFIX_LETTERS:
        start -= 1
    prefix = data[start:index].lower() if start == 0 or data[start - 1] not in _WORD else b""
    return _string_end(data, index, prefix)


def _string_end(data: bytes, start: int, prefix: bytes) -> tuple[int, bool]:
    """(the index after the string literal opening at `start`, is it a single-quoted f-string that
    only PEP 701 allows). Raises _Unreadable for a string without its end or a 3.12-only field this
    rewrite cannot give an older Python."""
    quote = data[start]
    triple = data[start:start + 3] == bytes([quote]) * 3
    index = start + (3 if triple else 1)
    fstring, newer = b"f" in prefix, False
    while index < len(data):
        char = data[index]
        if char == 0x5C:  # a backslash escapes the next character (in a raw string, it still keeps a quote)
            index += 2
            continue
        if char == quote and (not triple or data[index:index + 3] == bytes([quote]) * 3):
            return index + (3 if triple else 1), newer and not triple
        if char == 0x0A and not triple:
            raise _Unreadable
        if fstring and char == 0x7B:  # {
            if data[index + 1:index + 2] == b"{":
                index += 2
                continue
            index, field_newer = _field_end(data, index + 1, quote)
            newer = newer or field_newer
            continue
        index += 1
    raise _Unreadable


def _field_end(data: bytes, index: int, quote: int) -> tuple[int, bool]:
    """(the index after the `}` closing the replacement field that starts at `index`, does it hold a
    line break or the enclosing string's quote)."""
    depth, newer = 0, False
    while index < len(data):
        char = data[index]
        if char in _QUOTES:
            newer = newer or char == quote
            index, _ = _literal_end(data, index)
            continue
        if char in (0x23, 0x5C):  # a comment or a backslash in a field: 3.12 only, not rewritten
            raise _Unreadable
        if char == 0x0A:
            newer = True
        elif char in b"([{":
            depth += 1
        elif char in b")]":
            depth -= 1
        elif char == 0x7D:  # }
            if not depth:
                return index + 1, newer
            depth -= 1
        elif char == 0x3A and not depth:  # `:` the format spec, to the field's `}` (it may hold fields)
            index += 1
            while index < len(data) and data[index] != 0x7D:
                if data[index] == 0x7B:
                    index, spec_newer = _field_end(data, index + 1, quote)
                    newer = newer or spec_newer
                    continue
                if data[index] in (0x0A, quote):
                    raise _Unreadable
                index += 1
            if index >= len(data):
                raise _Unreadable
            return index + 1, newer
        index += 1
    raise _Unreadable


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
        elif char in _QUOTES:
            try:
                index, _ = _literal_end(data, index)
            except _Unreadable:
                return None
            continue
        index += 1
    return None
