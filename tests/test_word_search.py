"""WordSearch finds what the `\\b`-led regex it replaces finds (session_lint/analysis/word_search.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from session_lint.analysis.word_search import WordSearch
from session_lint.engine.screen import FOREIGN_PREFIXES, _word_pattern

ROOT = Path(__file__).parent.parent
TEXTS = [
    b"", b"close", b"xclose close", b"close_all(); s.close()", b"_close\nclose", b"enclose(x)\nclosed\n(close)",
    b"requests.Session() Session()", b"import requests\nrequests.Session\nboto3.session.Session\nsqlalchemy.Session",
    b"AsyncSession SessionLocal Session_ Sessions get_db get_dbapi my_get_db get_db_session",
    b"async def f(): pass\nasync  def\nasync\\\n def\nxasync def\n_async def\n",
    b"\xe9close \xc3\xa9Session \x00Session",
]


def _patterns() -> list[tuple[WordSearch, re.Pattern[bytes]]]:
    words = frozenset({"Session", "AsyncSession", "SessionLocal", "get_db", "get_db_session", "sessionmaker"})
    ordered = sorted(words, key=lambda w: (-len(w), w))
    original = re.compile(rb"\b(?:" + "|".join(
        "".join(f"(?<!{re.escape(p)})" for p in FOREIGN_PREFIXES.get(w, ())) + re.escape(w) for w in ordered
    ).encode() + rb")\b")
    return [(_word_pattern(words), original), (WordSearch(rb"close\b"), re.compile(rb"\bclose\b")),
            (WordSearch(rb"async\s+def\b"), re.compile(rb"\basync\s+def\b"))]


@pytest.mark.parametrize("text", TEXTS)
def test_word_search_matches_the_regex_it_replaces(text):
    for search, regex in _patterns():
        assert [m.span() for m in search.finditer(text)] == [m.span() for m in regex.finditer(text)]
        assert (search.search(text) is None) == (regex.search(text) is None)


def test_word_search_matches_the_regex_on_this_repository():
    for path in sorted((ROOT / "session_lint").rglob("*.py")) + sorted((ROOT / "tests").rglob("*.py")):
        data = path.read_bytes()
        for search, regex in _patterns():
            assert [m.span() for m in search.finditer(data)] == [m.span() for m in regex.finditer(data)], path


FIXTURE_USES = [b"with Session() as s:", b"with(factory()) as s:", b"with  (\n  make.begin() ) as s:",
                b"with \\\n  factory() as s:", b"s.close()", b"s . close ()", b"withfactory()", b"with factory as s:",
                b"# with x", b"with (a, b):", b"width(x)", b"with" + b" " * 200_000 + b"x"]  # (the last: one blank run)


@pytest.mark.parametrize("text", FIXTURE_USES)
def test_the_fixture_spelling_matches_its_regex_in_linear_time(text):
    # the regex it replaces; its two quantifiers over one blank run took seconds on 16,000 blanks
    original = re.compile(rb"\.[\s\\]*close[\s\\]*\(|\bwith(?:[\s\\]+\(?|\()\s*[A-Za-z_]\w*(?:\.begin)?\s*\(")
    from session_lint.analysis.pytest_fixtures import spells_fixture_use

    expected = original.search(text) is not None if len(text) < 1000 else False
    assert spells_fixture_use(text) is expected


@pytest.mark.parametrize("text, spelled", [
    (b"with factory . begin () as s:", True),  # (the regex above missed these two)
    (b"with factory.\\\n        begin() as s:", True),
    (b"with x" + b" " * 100_000 + b"." + b" " * 100_000, False),  # (linear: one run each side of the dot)
])
def test_the_fixture_spelling_reads_blanks_around_begin(text, spelled):
    from session_lint.analysis.pytest_fixtures import spells_fixture_use

    assert spells_fixture_use(text) is spelled


@pytest.mark.parametrize("text, dots", [
    (b"db.commit()", [2]),
    (b"db . commit ()", [3]),
    (b"(db.\n    commit())", [3]),
    (b"db.\\\n    commit()", [2]),
    (b"(db.  # why.\n    # and why\n\n    commit())", [3, 11]),  # (the comment's dot too: more, never fewer)
    (b"(db.commit  # why\n    ())", [3]),  # (a comment after the name counts as a call)
    (b"db.commit", []),
    (b"db.commits()", []),
    (b"db.commit_all()", []),
    (b"x = 1  # db.commit()\n", [11]),  # (bytes: a comment's text too, as every prefilter word)
    (b"(db.  # why\n    close())", []),
])
def test_attribute_search_finds_the_dots_a_name_follows_whatever_lies_between(text, dots):
    from session_lint.analysis.word_search import AttributeSearch

    assert sorted(AttributeSearch({"commit", "rollback"}).dots(text)) == dots


def test_attribute_search_reads_each_comment_once():
    # a line of dots and comments: read again from every `.#`, it took minutes
    from session_lint.analysis.word_search import AttributeSearch

    assert AttributeSearch({"commit"}).search(b"x = 1  # " + b".#" * 200_000 + b"\nother()\n") is None
    assert AttributeSearch({"commit"}).search(b"(x.  # " + b"#" * 200_000 + b"\n commit())\n") == 2
