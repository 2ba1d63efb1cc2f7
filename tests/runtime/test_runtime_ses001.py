"""SES001 at runtime: a hand-made session leaks its connection when the body raises or when it is
never closed; the fixed code returns the pool to zero checked-out connections, commits the same rows
on success and none on error."""

from __future__ import annotations

import gc
from contextlib import contextmanager

import pytest
from app.models import User
from core import database as db_module
from pairs import import_case_module, load_case
from sqlalchemy import select


def committed_emails() -> list[str]:
    with db_module.engine.connect() as conn:
        return sorted(conn.scalars(select(User.email)))


def fresh_tables() -> None:
    db_module.Base.metadata.drop_all(db_module.engine)
    db_module.Base.metadata.create_all(db_module.engine)


@contextmanager
def no_cyclic_gc():
    """A leaked Session sits in reference cycles: only the cyclic GC, at a moment nobody
    controls, would return its connection. Keep it from running while we look."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def pair(name: str):
    case = load_case(name)
    return (import_case_module(case.before_path, f"{name}_before"),
            import_case_module(case.after_path, f"{name}_after"))


def test_closed_without_finally_leaks_on_error_fixed_does_not(database):
    before, after = pair("ses001_closed_without_finally")
    with no_cyclic_gc():
        assert before.run("ok@example.com") == ["ok@example.com"]
        assert db_module.checked_out() == 0
        with pytest.raises(LookupError):
            before.run("fail@example.com", fail=True)
        assert db_module.checked_out() == 1  # the flushed transaction's connection is leaked
    assert committed_emails() == ["ok@example.com"]

    fresh_tables()
    with no_cyclic_gc():
        assert after.run("ok@example.com") == ["ok@example.com"]
        with pytest.raises(LookupError):
            after.run("fail@example.com", fail=True)
        assert db_module.checked_out() == 0
    assert committed_emails() == ["ok@example.com"]


def test_never_closed_leaks_fixed_does_not(database):
    before, after = pair("ses001_never_closed")
    with no_cyclic_gc():
        assert before.run("case@example.com") == ["case@example.com"]
        assert db_module.checked_out() == 1  # the read after commit began a transaction nobody ends
    assert committed_emails() == ["case@example.com"]

    fresh_tables()
    with no_cyclic_gc():
        assert after.run("case@example.com") == ["case@example.com"]
        assert db_module.checked_out() == 0
    assert committed_emails() == ["case@example.com"]


def test_route_gets_the_request_session_with_the_same_results(database):
    before, after = pair("ses001_route_try_finally")
    results = []
    for module in (before, after):
        fresh_tables()
        ok = module.run("case@example.com")
        failed = module.run("fail@example.com", fail=True)
        assert db_module.checked_out() == 0
        results.append((ok, failed, committed_emails()))
    assert results[0] == results[1]
    assert results[0] == ({"status": 200, "body": {"emails": ["case@example.com"]}},
                          {"status": 500, "body": None}, ["case@example.com"])
