"""SES007 at runtime, on SQLite and PostgreSQL.

The rule's claim: a `commit()` inside a `begin()` block commits what ran so far even when the block
then fails, and the next use of the session in the block raises `InvalidRequestError`. The fix's
claim: a trailing bare `commit()` is what the block does when it ends, so removing it changes nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError

from app.models import User
from core import database as db_module
from pairs import import_case_module, load_case


def committed_emails() -> list[str]:
    with db_module.engine.connect() as conn:
        return sorted(conn.scalars(select(User.email)))


def fresh_tables() -> None:
    db_module.Base.metadata.drop_all(db_module.engine)
    db_module.Base.metadata.create_all(db_module.engine)


def test_a_commit_inside_the_block_breaks_its_atomicity(database):
    with pytest.raises(InvalidRequestError, match="closed transaction inside context manager"):
        with db_module.SessionLocal.begin() as db:
            db.add(User(name="First", email="first@example.com"))
            db.commit()
            db.add(User(name="Second", email="second@example.com"))
            db.flush()
    # the block failed, yet its first half is committed
    assert committed_emails() == ["first@example.com"]
    assert db_module.checked_out() == 0


def test_without_the_commit_the_block_is_atomic(database):
    with pytest.raises(RuntimeError):
        with db_module.SessionLocal.begin() as db:
            db.add(User(name="First", email="first@example.com"))
            db.flush()
            raise RuntimeError("the block fails")
    assert committed_emails() == []


def test_the_trailing_commit_fix_changes_nothing(database):
    case = load_case("ses007_trailing_commit")
    before = import_case_module(case.before_path, "ses007_before")
    after = import_case_module(case.after_path, "ses007_after")

    assert before.run("case@example.com") == ["case@example.com"]
    before_rows = committed_emails()
    assert db_module.checked_out() == 0

    fresh_tables()
    assert after.run("case@example.com") == ["case@example.com"]
    assert committed_emails() == before_rows == ["case@example.com"]
    assert db_module.checked_out() == 0
