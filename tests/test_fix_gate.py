"""The engine's gate: a fix whose output gains a finding (of any selected rule) is not applied,
while the other fixes of the same file still are (issue 11: atom's fixed files gained SES006s)."""

from helpers import DEFAULT_PATH, config

from session_lint.api import fix_source

# Rewriting the wrapper's only caller would leave `return SessionLocal()` in the wrapper reported.
WRAPPER_CALLER = (
    "from core.database import SessionLocal\n"
    "from core.database_manager import get_db_session\n\n\n"
    "def get_session():\n    return SessionLocal()\n\n\n"
    "def f():\n    with get_session() as db:\n        return db.query(User).all()\n"
)


def test_a_fix_that_adds_a_finding_is_skipped_and_the_others_are_applied():
    result = fix_source(WRAPPER_CALLER, str(DEFAULT_PATH), config(), unsafe_fixes=True)
    # SES004 merges the moved name into the existing import of the new module
    assert result.source == WRAPPER_CALLER.replace(
        "from core.database import SessionLocal\nfrom core.database_manager import get_db_session\n",
        "from core.database import get_db_session, SessionLocal\n")
    assert result.applied == 1
    assert [(d.line, d.column, d.code) for d in result.remaining] == [(9, 10, "SES001")]


def test_the_gated_result_is_stable():
    once = fix_source(WRAPPER_CALLER, str(DEFAULT_PATH), config(), unsafe_fixes=True).source
    assert fix_source(once, str(DEFAULT_PATH), config(), unsafe_fixes=True).source == once
