"""Lint a very large module in windows of its top-level statements, so memory stays bounded.

LibCST's tree and its metadata take about 0.6 MB per kB of source (a 50,000-line, 1.5 MB
service module took 930 MB in one piece), and every rule reads them until the module is done.
A module larger than WINDOWED_ABOVE characters is therefore linted a window at a time: its
top-level statements are cut into runs of about WINDOW_SIZE characters, and each run is
parsed and linted on its own, together with its context - the statements the run's names
can depend on:

- every top-level statement that is not a `def` or `class` (imports, assignments, `if`
  blocks...: what names resolve to, module-global sessions, routers, engines);
- every `def` / `class` whose name the window spells, until nothing changes (the helpers a
  function calls, the models it queries, what those spell in turn), and every `def` that
  declares a `global` the window spells.

A finding is kept by the window that owns its line, so each is reported once. Names are
spelled by a regular expression over the text, comments and strings included: more context
than scope analysis needs, never less. Positions are the file's own: each window maps its
lines back (metadata.py `_Positions`). Findings come without fixes: a fix rewrites one
window's text, and its imports and the uses it renames may lie in others.
tests/test_windows.py compares windowed and whole-module findings on real-shaped code.
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass

WINDOWED_ABOVE = 350_000  # characters: about 10,000 lines of dense code, 210 MB in one piece
WINDOW_SIZE = 100_000  # characters of a window's own statements (its context comes on top)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LINE_END = re.compile(r"\r\n|\r|\n")  # line breaks as LibCST and CPython count them


@dataclass
class Chunk:
    """One top-level statement with the lines before it (comments, blank lines)."""

    first_line: int  # 1-based, in the file
    last_line: int
    text: str
    spelled: frozenset[str]  # every identifier in its text
    binds: frozenset[str] | None  # a def/class: its name and the globals it declares; None: always context


@dataclass
class Window:
    text: str  # the window's own statements and their context, in the file's order
    own_lines: list[tuple[int, int]]  # (first, last) file lines of the window's own statements
    segments: list[tuple[int, int]]  # (first line in `text`, first line in the file) of each chunk

    def file_line(self, line: int) -> int:
        """The file's line for line `line` of the window's text."""
        index = bisect.bisect_right(self.segments, (line, float("inf"))) - 1
        window_first, file_first = self.segments[max(index, 0)]
        return file_first + line - window_first

    def owns(self, line: int) -> bool:
        return any(first <= line <= last for first, last in self.own_lines)


def chunks(source: str) -> list[Chunk] | None:
    """The module's top-level statements as chunks of whole lines, in order; None when CPython
    cannot parse it (the whole-module path reports why)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not tree.body:
        return None
    ends = sorted({statement.end_lineno for statement in tree.body})
    binds = {statement.end_lineno: _binds(statement) for statement in tree.body}
    del tree  # (the largest object of a windowed run: gone before LibCST starts)
    lines = _LINE_END.split(source)
    breaks = _LINE_END.findall(source)
    found, first = [], 1
    for index, end in enumerate(ends):
        last = len(lines) if index == len(ends) - 1 else end  # the last chunk takes the file's end
        text = "".join(line + brk for line, brk in zip(lines[first - 1:last], breaks[first - 1:last]))
        if last == len(lines):  # (zip stopped before the text after the last line break, if any)
            text += lines[-1]
        last = min(last, len(breaks)) if text.endswith(("\n", "\r")) else last  # (no line after the last break)
        found.append(Chunk(first, last, text, frozenset(_IDENTIFIER.findall(text)), binds[end]))
        first = last + 1
    return found


def _binds(statement: ast.stmt) -> frozenset[str] | None:
    if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return None
    declared = {name for node in ast.walk(statement) if isinstance(node, ast.Global) for name in node.names}
    return frozenset({statement.name, *declared})


def windows(found: list[Chunk], size: int | None = None) -> list[Window]:
    """Runs of about `size` (WINDOW_SIZE) characters of `found`, each with its context."""
    size = size or WINDOW_SIZE
    runs: list[list[int]] = [[]]
    length = 0
    for index, chunk in enumerate(found):
        if runs[-1] and length + len(chunk.text) > size:
            runs.append([])
            length = 0
        runs[-1].append(index)
        length += len(chunk.text)
    return [_window(found, run) for run in runs]


def _window(found: list[Chunk], own: list[int]) -> Window:
    kept = [chunk.binds is None for chunk in found]
    for index in own:
        kept[index] = True
    spelled = set().union(*(chunk.spelled for chunk, keep in zip(found, kept) if keep))
    changed = True
    while changed:  # the defs and classes a kept statement names, and what they name in turn
        changed = False
        for index, chunk in enumerate(found):
            if not kept[index] and chunk.binds & spelled:
                kept[index] = changed = True
                spelled |= chunk.spelled
    parts, segments, line = [], [], 1
    for chunk, keep in zip(found, kept):
        if keep:
            parts.append(chunk.text)
            segments.append((line, chunk.first_line))
            line += len(_LINE_END.findall(chunk.text))
    own_lines = [(found[i].first_line, found[i].last_line) for i in own]
    return Window("".join(parts), own_lines, segments)
