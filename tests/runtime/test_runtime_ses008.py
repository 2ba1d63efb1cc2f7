"""SES008 at runtime, on SQLite and PostgreSQL: the route answers the same, but the row it added is
gone when the request ends (get_db closes the session, which rolls back); after the fix it is kept."""

from __future__ import annotations

from sqlalchemy import select

from app.models import User
from core import database as db_module
from pairs import import_case_module, load_case


def committed_emails() -> list[str]:
    with db_module.engine.connect() as conn:
        return sorted(conn.scalars(select(User.email)))


def test_the_write_is_lost_before_and_kept_after(database):
    case = load_case("ses008_route_add_without_commit")
    before = import_case_module(case.before_path, "ses008_before")
    after = import_case_module(case.after_path, "ses008_after")

    assert before.run("case@example.com") == {"created": "case@example.com"}
    assert committed_emails() == []
    assert db_module.checked_out() == 0

    assert after.run("case@example.com") == {"created": "case@example.com"}
    assert committed_emails() == ["case@example.com"]
    assert db_module.checked_out() == 0
