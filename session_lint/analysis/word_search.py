"""Word regexes without a leading `\\b`: `re` finds a pattern's first literal quickly only when the
pattern starts with it (a leading `\\b` or lookbehind made the prefilter's word searches 6-9x
slower on the files they do not match, which are most files)."""

from __future__ import annotations

import re
from typing import Iterator

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
