"""Fuzzing: hypothesmith-generated programs, mutated to contain session patterns, through lint
and `--fix --unsafe-fixes` via the engine API. Whatever the input, nothing raises, every fixed
output parses, and fixing the fixed output changes nothing.

The in-suite run is short and derandomized (the same examples on every run, so CI is stable).
A long campaign, with fresh random examples:

    SESSION_LINT_FUZZ_EXAMPLES=20000 nice -n 10 python -m pytest -q -p no:cacheprovider \
        tests/test_fuzz.py --hypothesis-show-statistics --hypothesis-seed=1
"""

from __future__ import annotations

import ast
import os

import hypothesmith
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from helpers import DEFAULT_PATH, config
from session_lint.api import fix_source, lint_source

CAMPAIGN_EXAMPLES = int(os.environ.get("SESSION_LINT_FUZZ_EXAMPLES", "0"))
PROGRAMS = hypothesmith.from_grammar()  # built once: compiling the grammar costs seconds
IMPORTS = "from core.database import SessionLocal, get_db_session, get_db\nfrom fastapi import Depends\n"

# Statements a mutation drops at the top of a function body (indented to the body).
BODY_SNIPPETS = (
    "db = SessionLocal()",
    "db = SessionLocal()\ndb.query(User).first()\ndb.close()",
    "db = SessionLocal()\ntry:\n    db.add(x)\n    db.commit()\nfinally:\n    db.close()",
    "with SessionLocal() as db:\n    user = db.query(User).first()\nprint(user.name)",
    "with get_db_session() as db:\n    db.query(User).all()\ndb.query(User).all()",
    "with get_db_session() as db:\n    user = db.get(User, 1)\nreturn user.email",
    "db = SessionLocal()\ndb.close()\ndb.query(User).all()",
)
# Whole definitions a mutation appends at module level.
MODULE_SNIPPETS = (
    "db = SessionLocal()\n",
    "@router.get('/')\ndef route(db: Session = Depends(get_db)):\n"
    "    with get_db_session() as inner:\n        return inner.query(User).all()\n",
    "class Repo:\n    def __init__(self):\n        self.db = SessionLocal()\n",
    "def load(uid):\n    db = SessionLocal()\n    try:\n        return db.get(User, uid)\n"
    "    finally:\n        db.close()\n",
    "def detached(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n    return user.email\n",
    "def closed():\n    db = SessionLocal()\n    db.close()\n    return db.query(User).all()\n",
    "from core.database_manager import get_db_session as legacy_session\n",
)


def _indent_of_body(lines: list[str], header: int) -> str | None:
    """The indentation of the block opened at `lines[header]`, or None for a one-line `def f(): x`."""
    for line in lines[header + 1:]:
        if line.strip():
            indent = line[: len(line) - len(line.lstrip())]
            header_indent = lines[header][: len(lines[header]) - len(lines[header].lstrip())]
            return indent if len(indent) > len(header_indent) else None
    return None


def _function_headers(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines)
            if line.lstrip().startswith(("def ", "async def ")) and line.rstrip().endswith(":")]


@st.composite
def session_programs(draw) -> str:
    """A generated program with session imports, session statements in some of its functions
    and session-using definitions after it."""
    lines = draw(PROGRAMS).splitlines()
    for header in reversed(_function_headers(lines)):
        indent = _indent_of_body(lines, header)
        if indent is None or not draw(st.booleans()):
            continue
        snippet = draw(st.sampled_from(BODY_SNIPPETS))
        lines[header + 1:header + 1] = [indent + line for line in snippet.splitlines()]
    tail = draw(st.lists(st.sampled_from(MODULE_SNIPPETS), max_size=3))
    return IMPORTS + "\n".join(lines) + "\n" + "\n".join(tail)


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# Generate phase only: hypothesmith's target phase and grammar shrinking take minutes per run.
@settings(max_examples=CAMPAIGN_EXAMPLES or 50, derandomize=not CAMPAIGN_EXAMPLES, database=None,
          deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(session_programs())
def test_lint_and_fix_never_raise_fixed_code_parses_and_refix_is_a_no_op(source):
    cfg, path = config(), str(DEFAULT_PATH)
    lint_source(source, path, cfg)
    fixed = fix_source(source, path, cfg, unsafe_fixes=True)
    if _parses(source):
        assert _parses(fixed.source), fixed.source
    again = fix_source(fixed.source, path, cfg, unsafe_fixes=True)
    assert (again.source, again.applied) == (fixed.source, 0)


@pytest.mark.skipif("x\U0003174a".isidentifier(), reason="U+3174A is a letter in this Python's Unicode database")
def test_identifier_libcst_rejects_is_ses999_not_an_exception():
    """Found by the fuzzer: LibCST raised CSTValidationError (not a syntax error) for an identifier
    with a character unassigned in this Python's Unicode database."""
    source = "from core.database import SessionLocal\nx\U0003174a = SessionLocal()\n"
    cfg, path = config(), str(DEFAULT_PATH)
    expected = [("SES999", "SyntaxError: invalid non-printable character U+3174A", 2, 2)]
    assert [(d.code, d.message, d.line, d.column) for d in lint_source(source, path, cfg)] == expected
    fixed = fix_source(source, path, cfg, unsafe_fixes=True)
    assert (fixed.source, fixed.applied) == (source, 0)
    assert [(d.code, d.message, d.line, d.column) for d in fixed.remaining] == expected
