"""SES006 at runtime: a session used after its unit of work closed it silently begins a new
transaction that nobody commits (the row is lost, a connection stays checked out until the
session is closed again). The fixed pair code commits and releases everything."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import User
from core import database as db_module
from core.database import get_db_session
from pairs import import_case_module, load_case


def committed_count() -> int:
    with db_module.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(User)).scalar_one()


def test_work_after_the_block_reopens_the_session_and_is_never_committed(database):
    with get_db_session() as db:
        db.add(User(name="First", email="first@example.com"))
    db.add(User(name="Late", email="late@example.com"))  # SES006: the block already committed and closed
    db.flush()
    assert db_module.checked_out() == 1  # a new transaction holds a connection
    db.close()  # what the code never does: everything after the block is rolled back
    assert db_module.checked_out() == 0
    assert committed_count() == 1


def test_the_fixed_pair_commits_and_releases(database):
    after = import_case_module(load_case("ses006_query_after_block").after_path, "ses006_after")
    assert after.run("case@example.com") == ["case@example.com"]
    assert committed_count() == 1
    assert db_module.checked_out() == 0
