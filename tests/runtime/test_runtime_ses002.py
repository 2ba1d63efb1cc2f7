"""SES002 at runtime: one module-level session shared by every call lets a failed call poison the
next one (PendingRollbackError); after the fix each call has its own unit of work."""

from __future__ import annotations

import pytest
from app.models import User
from core import database as db_module
from pairs import import_case_module, load_case
from sqlalchemy import select
from sqlalchemy.exc import PendingRollbackError


def committed_emails() -> list[str]:
    with db_module.engine.connect() as conn:
        return sorted(conn.scalars(select(User.email)))


def test_failed_call_poisons_the_shared_session_but_not_the_fixed_code(database):
    case = load_case("ses002_module_global")
    before = import_case_module(case.before_path, "ses002_before")
    try:
        with pytest.raises(PendingRollbackError):
            before.run("case@example.com")
    finally:
        before.db.close()
    assert committed_emails() == ["case@example.com"]

    db_module.Base.metadata.drop_all(db_module.engine)
    db_module.Base.metadata.create_all(db_module.engine)
    after = import_case_module(case.after_path, "ses002_after")
    assert after.run("case@example.com") == ["case@example.com"]
    assert db_module.checked_out() == 0
    assert committed_emails() == ["case@example.com"]
