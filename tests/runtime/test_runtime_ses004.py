"""SES004 at runtime: the "before" code goes through the deprecated shim (DeprecationWarning),
the fixed code does not, and both leave the same rows behind on every database."""

from __future__ import annotations

import warnings

import pytest
from sqlalchemy import select

from app.models import User
from core import database as db_module
from pairs import case_names, import_case_module, load_case

SES004_CASES = [name for name in case_names() if name.startswith("ses004_")]


def fresh_tables() -> None:
    db_module.Base.metadata.drop_all(db_module.engine)
    db_module.Base.metadata.create_all(db_module.engine)


def committed_users() -> list[tuple[str, str]]:
    with db_module.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(User.name, User.email).order_by(User.id))]


def test_there_are_ses004_cases():
    assert len(SES004_CASES) >= 3


@pytest.mark.parametrize("name", SES004_CASES)
def test_before_warns_after_does_not_and_results_match(database, name):
    case = load_case(name)
    before = import_case_module(case.before_path, f"{name}_before")
    after = import_case_module(case.after_path, f"{name}_after")

    with pytest.warns(DeprecationWarning, match=r"core\.database_manager\.\w+ is deprecated"):
        before_result = before.run("case@example.com")
    before_rows = committed_users()
    assert db_module.checked_out() == 0

    fresh_tables()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # any shim call would now raise
        after_result = after.run("case@example.com")
    assert db_module.checked_out() == 0

    assert before_result and after_result == before_result
    assert before_rows == [("Case", "case@example.com")]
    assert committed_users() == before_rows
