"""SES014 at runtime, on SQLite and PostgreSQL: a lookup whose SQL is formatted from its argument
returns every row for an injected value; the same lookup with a bound parameter returns none. The
two functions below are linted too: SES014 reports the first and not the second."""

from __future__ import annotations

import inspect
import textwrap

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import User
from core import database as db_module
from session_lint.api import Config, lint_source

INJECTION = "nobody' OR '1'='1"


def find_by_name_formatted(db: Session, name: str) -> list[str]:
    return list(db.scalars(text(f"SELECT email FROM users WHERE name = '{name}' ORDER BY email")))


def find_by_name_bound(db: Session, name: str) -> list[str]:
    return list(db.scalars(text("SELECT email FROM users WHERE name = :name ORDER BY email"), {"name": name}))


def codes(function) -> list[str]:
    source = "from sqlalchemy import text\nfrom sqlalchemy.orm import Session\n\n\n" + \
        textwrap.dedent(inspect.getsource(function))
    return [d.code for d in lint_source(source, "app/module.py", Config()) if d.code == "SES014"]


def test_the_rule_reports_the_formatted_query_only():
    assert codes(find_by_name_formatted) == ["SES014"]
    assert codes(find_by_name_bound) == []


def test_injection_returns_every_row_before_and_none_with_a_bound_parameter(database):
    with db_module.SessionLocal() as db:
        db.add_all([User(name="Ann", email="ann@example.com"), User(name="Bob", email="bob@example.com")])
        db.commit()
        # the honest use: both find Ann
        assert find_by_name_formatted(db, "Ann") == find_by_name_bound(db, "Ann") == ["ann@example.com"]
        # the injected value: every row through formatting, none through a bound parameter
        assert find_by_name_formatted(db, INJECTION) == ["ann@example.com", "bob@example.com"]
        assert find_by_name_bound(db, INJECTION) == []
    assert db_module.checked_out() == 0
