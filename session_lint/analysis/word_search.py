"""Byte searches for the prefilters. Word regexes without a leading `\\b` (`WordSearch`): `re`
finds a pattern's first literal quickly only when the pattern starts with it (a leading `\\b` or
lookbehind made the prefilter's word searches 6-9x slower on the files they do not match, which are
most files). Attribute names after a dot, whatever lies between them (`AttributeSearch`)."""

from __future__ import annotations

import re
from typing import Iterable, Iterator

WORD_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_WORD_BYTES = frozenset(map(ord, WORD_CHARACTERS))


class WordSearch:
    """`re.compile(rb"\\b" + pattern)` for a `pattern` that starts with a word character, that `\\b`
    (and the `foreign` prefixes a matched word must not follow) checked on each match in Python.
    Same matches as the regex: a rejected start is retried one byte on, as `re` would."""

    def __init__(self, pattern: bytes, foreign: dict[bytes, tuple[bytes, ...]] | None = None) -> None:
        self.regex = re.compile(pattern)
        self.foreign = foreign or {}

    def finditer(self, data: bytes) -> Iterator[re.Match[bytes]]:
        pos, search, foreign = 0, self.regex.search, self.foreign
        while (match := search(data, pos)) is not None:
            start = match.start()
            if (start == 0 or data[start - 1] not in _WORD_BYTES) and not any(
                    data.endswith(prefix, 0, start) for prefix in foreign.get(match.group(), ())):
                yield match
                pos = max(match.end(), start + 1)
            else:
                pos = start + 1

    def search(self, data: bytes) -> re.Match[bytes] | None:
        return next(self.finditer(data), None)


# What may lie between the tokens of `x . name (` on one logical line: spaces, line breaks (inside
# brackets) and line continuations. Comments may too, inside brackets: `AttributeSearch` reads them.
BLANKS = rb"[ \t\f\r\n\\]*"
_BLANK_RUN = re.compile(BLANKS)
_LINE_END = re.compile(rb"[\r\n]")


class AttributeSearch:
    """Where `.name` is spelled, for one of `names`, whatever lies between the dot and the name:
    blanks, line continuations, and inside brackets line breaks and comments (`db . commit()`,
    `(db.  # why\\n    commit())`). `call`: only a name followed by `(`; a comment after the name
    counts as one (`db.commit  # why\\n ()`: more, never fewer). Linear: one line's comment is read
    once, however many dots come before it (a regex that skipped comments read the rest of the line
    again from every `.#` on it)."""

    def __init__(self, names: Iterable[str], call: bool = True) -> None:
        alternatives = rb"(?:" + b"|".join(re.escape(name).encode() for name in sorted(names)) + rb")"
        after = BLANKS + rb"[(#]" if call else rb"\b"
        self._direct = re.compile(rb"\." + BLANKS + alternatives + after)
        self._name = re.compile(alternatives + after)
        self._dot_then_comment = re.compile(rb"\." + BLANKS + rb"#")

    def dots(self, data: bytes) -> Iterator[int]:
        """The positions of the dots such a name follows (those with a comment between come last)."""
        yield from (match.start() for match in self._direct.finditer(data))
        yield from self._dots_before_comments(data)

    def search(self, data: bytes) -> int | None:
        """The first such dot found (None: none), as `re` and `WordSearch` answer."""
        found = self._direct.search(data)  # (the prefilters ask this of every file: no generator first)
        return found.start() if found is not None else next(self._dots_before_comments(data), None)

    def _dots_before_comments(self, data: bytes) -> Iterator[int]:
        follows: dict[int, bool] = {}  # a line end -> does such a name come next, past blanks and comments?
        line_end = -1
        for match in self._dot_then_comment.finditer(data):
            if match.end() > line_end:  # a comment on a line not read yet: its end
                found = _LINE_END.search(data, match.end())
                line_end = found.start() if found is not None else len(data)
            if self._name_after(data, line_end, follows):
                yield match.start()

    def _name_after(self, data: bytes, position: int, follows: dict[int, bool]) -> bool:
        """Does such a name come after `position`, past blanks and whole comment lines? Remembered for
        every line end on the way, so each comment line is read once."""
        passed = []
        while position not in follows:
            passed.append(position)
            start = _BLANK_RUN.match(data, position).end()
            if data[start:start + 1] != b"#":
                follows[position] = self._name.match(data, start) is not None
                break
            found = _LINE_END.search(data, start)
            position = found.start() if found is not None else len(data)
        for line_end in passed:
            follows[line_end] = follows[position]
        return follows[position]
