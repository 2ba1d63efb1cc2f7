"""Valid Python LibCST cannot parse: very long implicit string concatenations.

LibCST's native parser rejects an implicit concatenation of more than about 3,000 string
literals (`("a" "b" ... )`, found in generated code) with a syntax error, although CPython
accepts it. Session rules never look inside such a literal, so the file is linted with each
very long string expression blanked out: replaced by a string literal of exactly the same
length and line structure, so every other node keeps its line and column. A module parsed from
blanked text must never be written back, so its diagnostics carry no fix (engine.run_rules).
"""

from __future__ import annotations

import ast

LONG_STRING_CHARS = 4_000  # 3,000 literals take at least 6,000 characters; shorter ones parse


def blank_long_strings(source: str) -> str | None:
    """`source` with its long string expressions blanked, or None when it has none (or CPython
    cannot parse it either)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    spans = [_span(node, lines, starts) for node in _long_strings(tree, starts)]
    if not spans:
        return None
    pieces, done = [], 0
    for start, end in sorted(spans):
        pieces += [source[done:start], _blank(source[start:end])]
        done = end
    pieces.append(source[done:])
    return "".join(pieces)


def _long_strings(tree: ast.AST, starts: list[int]) -> list[ast.expr]:
    """The outermost string expressions (literals, f-strings, their implicit concatenations) whose
    source is longer than LONG_STRING_CHARS."""
    found, stack = [], [tree]
    while stack:  # (iterative: the tree may be as deep as the input that got us here)
        node = stack.pop()
        if _is_string(node) and _rough_length(node, starts) >= LONG_STRING_CHARS:
            found.append(node)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)))


def _rough_length(node: ast.expr, starts: list[int]) -> int:
    """The length of `node`'s source, give or take its non-ASCII bytes (ast columns are bytes)."""
    if node.end_lineno is None or node.end_col_offset is None:
        return 0
    return starts[node.end_lineno - 1] + node.end_col_offset - starts[node.lineno - 1] - node.col_offset


def _span(node: ast.expr, lines: list[str], starts: list[int]) -> tuple[int, int]:
    """Character offsets of `node` in the source (ast columns count UTF-8 bytes)."""
    def offset(line: int, byte_column: int) -> int:
        text = lines[line - 1]
        return starts[line - 1] + len(text.encode("utf-8")[:byte_column].decode("utf-8", "replace"))
    return offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)


def _blank(text: str) -> str:
    """String literals exactly as long as `text`, with its line breaks (and the backslashes that
    continue lines) where they were."""
    chars = [c if c in "\r\n" or (c == "\\" and text[i + 1:i + 2] in ("\n", "\r")) else " "
             for i, c in enumerate(text)]
    first_line = len(text.split("\n", 1)[0].split("\r", 1)[0])
    last_line = len(text.rsplit("\n", 1)[-1])
    if "\n" not in text and "\r" not in text:
        ends = '"'  # one line: `"    "`
    elif first_line >= 3 and last_line >= 3:
        ends = '"""'  # a triple-quoted string holds line breaks wherever they are
    else:
        ends = '""'  # two empty literals around the line breaks, which are inside brackets
    chars[:len(ends)] = ends
    chars[len(chars) - len(ends):] = ends
    return "".join(chars)
