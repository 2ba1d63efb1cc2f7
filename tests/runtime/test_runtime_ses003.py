"""SES003 at runtime: a route that opens a second session runs two transactions on two pooled
connections at once; after the fix it uses the request's session only, with the same rows committed."""

from __future__ import annotations

from app.models import User
from core import database as db_module
from pairs import import_case_module, load_case
from sqlalchemy import select


def committed_emails() -> list[str]:
    with db_module.engine.connect() as conn:
        return sorted(conn.scalars(select(User.email)))


def test_two_connections_before_one_after(database):
    case = load_case("ses003_inner_context_manager")
    before = import_case_module(case.before_path, "ses003_before")
    after = import_case_module(case.after_path, "ses003_after")

    assert before.run("case@example.com") == {"before": [], "total": 0, "connections": 2}
    assert db_module.checked_out() == 0
    before_rows = committed_emails()

    db_module.Base.metadata.drop_all(db_module.engine)
    db_module.Base.metadata.create_all(db_module.engine)
    assert after.run("case@example.com") == {"before": [], "total": 0, "connections": 1}
    assert db_module.checked_out() == 0
    assert committed_emails() == before_rows == ["case@example.com"]
