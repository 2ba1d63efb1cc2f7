"""Lint a very large module in windows of its top-level statements, so memory stays bounded.

LibCST's tree and its metadata take about 0.6 MB per kB of source (a 50,000-line, 1.5 MB
service module took 930 MB in one piece), and every rule reads them until the module is done.
A module larger than WINDOWED_ABOVE characters is therefore linted a window at a time: its
top-level statements are cut into runs of about WINDOW_SIZE characters, and each run is
parsed and linted on its own, together with its context - the statements the run's names
can depend on:

- every top-level statement that may bind a name the window spells (imports, assignments,
  `with` and `if` blocks, defs and classes, `global` declarations: what names resolve to,
  module-global sessions, the helpers a function calls, the models it queries), then what
  those spell in turn, until nothing changes;
- star and `__future__` imports;
- the statements calling a function the run defines (SES014 reads every call of a function to
  know what its parameters receive), up to CALLERS_SIZE characters: the functions whose callers
  do not fit are named in `Window.calls_elsewhere`, and the rule takes them as called with anything.

A statement binding nothing the window spells (a module-level `db.add(...)` in a seeding
script, `app.include_router(...)`) cannot change what the window's names resolve to; leaving
it out keeps a window small even in a module made of 50,000 such statements.

A finding is kept by the window that owns its line, so each is reported once. Names are
spelled by a regular expression over the text, comments and strings included: more context
than scope analysis needs, never less. Positions are the file's own: each window maps its
lines back (metadata.py `_Positions`). Findings come without fixes: a fix rewrites one
window's text, and its imports and the uses it renames may lie in others.
tests/test_windows.py compares windowed and whole-module findings on real-shaped code.

A window's text is what the engine parses, so such a module is screened a window at a time
(screen.py `Screen._windowed_verdict`, up to the first window a rule may report in; the later ones
are screened by whoever lints them): only the windows where a rule may report reach LibCST, each
with only those rules, and no `ast` tree of the whole module is built but for a module up to
screen.SCREENED_WHOLE_UP_TO bytes, screened whole first (an idle one is settled so). With workers,
parallel.py makes each window a pool task of its own.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..sourcefile import Source, SourceError

WINDOWED_ABOVE = 350_000  # characters: about 10,000 lines of dense code, 210 MB in one piece
WINDOW_SIZE = 100_000  # characters of a window's own statements (its context comes on top)
CALLERS_SIZE = 100_000  # characters of statements calling the window's functions its context may take in

# Bytes of source above which no `ast` tree of the whole module is built: the tree takes ~133 bytes
# per character (a 1.5 MB module: 200 MB), and a worker stays under 300 MB (issue 12).
WHOLE_AST_LIMIT = 1_600_000
PIECE_SIZE = 50_000  # characters `ast` parses at a time to find the top-level statements (~7 MB of tree)

_NOT_A_START = frozenset(" \t\f\r\n#@)]}")
_CONTINUATION = re.compile(r"(?:else|elif|except|finally)\b")  # (`case` lines are indented)
# CPython refuses these nesting depths (its tokenizer allows 200 open brackets, its parser a bounded stack)
DEPTH_SYNTAX_ERRORS = frozenset({"too many nested parentheses", "too many levels of indentation"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LINE_END = re.compile(r"\r\n|\r|\n")  # line breaks as LibCST and CPython count them


@dataclass
class Chunk:
    """One top-level statement with the lines before it (comments, blank lines)."""

    first_line: int  # 1-based, in the file
    last_line: int
    text: str
    spelled: frozenset[str]  # every identifier in its text
    binds: frozenset[str] | None  # the module-level names it may bind; None: every window keeps it
    function: str | None = None  # the name of the function it defines (`def`, `async def`), if it is one


@dataclass
class Window:
    text: str  # the window's own statements and their context, in the file's order
    own_lines: list[tuple[int, int]]  # (first, last) file lines of the window's own statements
    segments: list[tuple[int, int]]  # (first line in `text`, first line in the file) of each chunk
    calls_elsewhere: frozenset[str] = frozenset()  # its functions with calls left out of `text`

    def file_line(self, line: int) -> int:
        """The file's line for line `line` of the window's text."""
        index = bisect.bisect_right(self.segments, (line, float("inf"))) - 1
        window_first, file_first = self.segments[max(index, 0)]
        return file_first + line - window_first

    def owns(self, line: int) -> bool:
        return any(first <= line <= last for first, last in self.own_lines)


def chunks(source: str) -> list[Chunk] | None:
    """The module's top-level statements as chunks of whole lines, in order (None: it has none).
    Raises Unparsable when CPython cannot parse it."""
    texts = _lines(source)
    ends = _statement_ends(texts)
    if not ends:
        return None
    found, first = [], 1
    for index, (end, (binds, function)) in enumerate(ends):
        last = len(texts) if index == len(ends) - 1 else end  # the last chunk takes the file's end
        text = "".join(texts[first - 1:last])
        found.append(Chunk(first, last, text, frozenset(_IDENTIFIER.findall(text)), binds, function))
        first = last + 1
    return found


def _lines(source: str) -> list[str]:
    """The lines of `source`, each with its line break."""
    texts = [line + brk for line, brk in zip(LINE_END.split(source), [*LINE_END.findall(source), ""])]
    if texts and not texts[-1]:
        texts.pop()  # (the empty "line" after a final line break)
    return texts


def _statement_ends(texts: list[str]) -> list[tuple[int, tuple[frozenset[str] | None, str | None]]]:
    """(last line, (what it binds, the function it defines)) of each top-level statement."""
    ends: dict[int, tuple[frozenset[str] | None, str | None]] = {}
    for offset, tree in ast_pieces(texts):
        for statement in tree.body:
            function = statement.name if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
            first, last = offset + statement.lineno - 1, offset + statement.end_lineno
            spells_global = any("global" in text for text in texts[first:last])
            ends[last] = (module_level_names(statement, spells_global), function)
    return sorted(ends.items())


class Unparsable(Exception):
    """CPython cannot parse the module (a syntax error, or nesting too deep for it)."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def ast_pieces(texts: list[str]) -> Iterator[tuple[int, ast.Module]]:
    """The module whose lines are `texts`, parsed by `ast` a piece of about PIECE_SIZE characters
    at a time, so no tree holds the whole of a huge module: (lines before the piece, its tree).

    A piece starts where the previous one ended and ends before a line starting at column 0 with
    code that can begin a statement. Such a line may still lie inside a string or brackets (or
    be an `else:` / a decorated `def`): then the piece does not parse (an unterminated string or
    bracket, a decorator without its definition) and it grows to a later such line. A piece that
    parses ends where a top-level statement ends."""
    start = 0
    while start < len(texts):
        end = _cut_after(texts, start, PIECE_SIZE)
        while True:
            try:
                tree = ast.parse("".join(texts[start:end]))
                break
            except SyntaxError as exc:
                if end >= len(texts) or exc.msg in DEPTH_SYNTAX_ERRORS:
                    raise Unparsable(exc.msg, start + (exc.lineno or 1), exc.offset or 1) from None
                end = _cut_after(texts, start, 2 * sum(len(text) for text in texts[start:end]))
            except (ValueError, RecursionError, MemoryError) as exc:
                raise Unparsable(str(exc) or type(exc).__name__) from None
        yield start, tree
        del tree
        start = end


def module_nodes(data: bytes) -> Iterator[ast.AST]:
    """Every node of the module in `data` (as `ast.walk` gives them), parsed whole unless it is over
    WHOLE_AST_LIMIT bytes, then a piece at a time. Raises Unparsable."""
    if len(data) <= WHOLE_AST_LIMIT:
        try:
            yield from ast.walk(ast.parse(data))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise Unparsable(str(exc) or type(exc).__name__) from None
        return
    try:
        text = Source.from_bytes(data).text
    except SourceError as exc:
        raise Unparsable(str(exc)) from None
    for _, tree in ast_pieces(_lines(text)):
        yield from ast.walk(tree)


def _cut_after(texts: list[str], start: int, size: int) -> int:
    """The first line index after `size` characters from `start` that may begin a top-level
    statement (or the end)."""
    index, length = start, 0
    while index < len(texts) and (length < size or not _may_begin_statement(texts[index])):
        length += len(texts[index])
        index += 1
    return index


def _may_begin_statement(line: str) -> bool:
    return bool(line) and line[0] not in _NOT_A_START and not _CONTINUATION.match(line)


def module_level_names(statement: ast.stmt, spells_global: bool = True) -> frozenset[str] | None:
    """The module-level names `statement` may bind (more, never fewer: every name it stores outside
    function and class bodies, its def/class name, `global` declarations anywhere in it, import
    aliases); None for a star or `__future__` import, which every window keeps. `spells_global`:
    False when its text has no `global` (function and class bodies are then not walked)."""
    names: set[str] = set()
    stack: list[ast.AST] = [statement]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind in _SCOPES:
            names.add(node.name)
            if spells_global:
                names.update(n for inner in ast.walk(node) if type(inner) is ast.Global for n in inner.names)
            stack.extend(node.decorator_list)  # (a walrus in a decorator binds at module level)
            continue
        if kind is ast.ImportFrom and (node.module == "__future__" or any(a.name == "*" for a in node.names)):
            return None
        if kind is ast.Name and type(node.ctx) is not ast.Load:
            names.add(node.id)
        elif kind is ast.alias:
            names.add(node.asname or node.name.partition(".")[0])
        elif kind is ast.ExceptHandler or kind is ast.MatchAs or kind is ast.MatchStar:
            if node.name:
                names.add(node.name)
        elif kind is ast.MatchMapping and node.rest:
            names.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return frozenset(names)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def windows(found: list[Chunk], size: int | None = None) -> list[Window]:
    """Runs of about `size` (WINDOW_SIZE) characters of `found`, each with its context."""
    size = size or WINDOW_SIZE
    functions = {chunk.function for chunk in found if chunk.function is not None}
    spelling: dict[str, list[int]] = {}  # function name -> the chunks spelling it (its callers among them)
    for index, chunk in enumerate(found):
        for name in chunk.spelled & functions:
            spelling.setdefault(name, []).append(index)
    runs: list[list[int]] = [[]]
    length = 0
    for index, chunk in enumerate(found):
        if runs[-1] and length + len(chunk.text) > size:
            runs.append([])
            length = 0
        runs[-1].append(index)
        length += len(chunk.text)
    return [_window(found, run, spelling) for run in runs]


def _window(found: list[Chunk], own: list[int], spelling: dict[str, list[int]]) -> Window:
    kept = [chunk.binds is None for chunk in found]  # (star and `__future__` imports)
    for index in own:
        kept[index] = True
    elsewhere: set[str] = set()
    room = CALLERS_SIZE
    for index in own:  # the statements calling the window's functions (and so spelling their names)
        name = found[index].function
        if name is None:
            continue
        callers = [i for i in spelling.get(name, ()) if not kept[i]]
        size = sum(len(found[i].text) for i in callers)
        if size > room:
            elsewhere.add(name)
            continue
        room -= size
        for i in callers:
            kept[i] = True
    spelled = set().union(*(chunk.spelled for chunk, keep in zip(found, kept) if keep))
    changed = True
    while changed:  # the statements binding a name a kept statement spells, and so on
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
            line += len(LINE_END.findall(chunk.text))
    own_lines = [(found[i].first_line, found[i].last_line) for i in own]
    return Window("".join(parts), own_lines, segments, frozenset(elsewhere))
