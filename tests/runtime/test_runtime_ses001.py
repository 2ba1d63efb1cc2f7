"""SES001 at runtime: a hand-made session leaks its connection when the body raises or when it is
never closed; the fixed code returns the pool to zero checked-out connections, commits the same rows
on success and none on error."""

from __future__ import annotations

import asyncio
import gc
from contextlib import contextmanager, nullcontext

import pytest
from app.models import User
from core import database as db_module
from pairs import import_case_module, load_case
from sqlalchemy import select
from sqlalchemy.exc import SAWarning


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


# aiosqlite's worker thread of the leaked connection dies when SQLAlchemy terminates it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_async_closed_without_finally_leaks_on_error_fixed_does_not(database):
    before, after = pair("ses001_async_closed_without_finally")

    async def scenario(module, leak_warning) -> tuple[list[str], int]:
        try:
            emails = await module.run("ok@example.com")
            with leak_warning, no_cyclic_gc():
                with pytest.raises(LookupError):
                    await module.run("fail@example.com", fail=True)
                leaked = db_module.async_checked_out()
            return emails, leaked
        finally:
            await db_module.dispose_async_engine()

    # the leaked connection is only found by the garbage collector, which says so
    collected = pytest.warns(SAWarning, match="garbage collector is trying to clean up non-checked-in connection")
    assert asyncio.run(scenario(before, collected)) == (["ok@example.com"], 1)
    assert committed_emails() == ["ok@example.com"]
    fresh_tables()
    assert asyncio.run(scenario(after, nullcontext())) == (["ok@example.com"], 0)
    assert committed_emails() == ["ok@example.com"]


def test_handler_that_rolls_back_first_leaves_the_manager_a_clean_session(database):
    # issue 11, class 5: inside `with get_db_session()` a handler that swallows a failed write is only
    # right when it rolls back first: the manager's commit at exit then sees no failed transaction
    # (no PendingRollbackError), and the loop around it carries on.
    before, after = pair("ses001_handler_rolls_back_and_skips")
    for module, leaked in ((before, 1), (after, 0)):
        fresh_tables()
        with no_cyclic_gc():
            assert module.run(["a@example.com", "a@example.com", "b@example.com"]) == ["a@example.com"]
            assert db_module.checked_out() == 0
            with pytest.raises(LookupError):
                module.run(["c@example.com"], fail=True)
            assert db_module.checked_out() == leaked  # before: the flushed row's connection
        assert committed_emails() == ["a@example.com", "b@example.com"]


def test_session_passed_inline_leaks_scoped_block_does_not(database):
    # issue 11, class 10: `record(SessionLocal(), ...)` never closes the session it hands over
    before, after = pair("ses001_passed_inline")
    for module, leaked in ((before, 2), (after, 0)):
        fresh_tables()
        with no_cyclic_gc():
            assert module.run("ok@example.com") == ["ok@example.com"]
            with pytest.raises(LookupError):
                module.run("fail@example.com", fail=True)
            # before: the read after commit and the flushed failure each keep a connection
            assert db_module.checked_out() == leaked
        assert committed_emails() == ["ok@example.com"]
