"""SES010 at runtime: an un-awaited `AsyncSession.commit()` commits nothing (the session rolls the
write back when it closes, and Python only warns that the coroutine was never awaited); an
un-awaited `execute()` hands back a coroutine instead of a result. The fixed code (`await` added)
commits the row and returns the rows. On SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import gc

import pytest
from app.models import User
from core import database as db_module
from pairs import import_case_module, load_case
from sqlalchemy import select


def committed_emails() -> list[str]:
    with db_module.engine.connect() as conn:
        return sorted(conn.scalars(select(User.email)))


def pair(name: str):
    case = load_case(name)
    return (import_case_module(case.before_path, f"{name}_before"),
            import_case_module(case.after_path, f"{name}_after"))


def in_session(work):
    """Run `work(db)` in a session that neither commits nor rolls back on its own (closing rolls back)."""
    async def scenario():
        try:
            async with db_module.AsyncSessionLocal() as db:
                return await work(db)
        finally:
            await db_module.dispose_async_engine()
    return asyncio.run(scenario())


def test_unawaited_commit_commits_nothing_fixed_commits(database):
    before, after = pair("ses010_unawaited_commit")
    with pytest.warns(RuntimeWarning, match="coroutine 'AsyncSession.commit' was never awaited"):
        in_session(lambda db: before.run(db, "case@example.com"))
        gc.collect()
    assert committed_emails() == []  # the add was rolled back when the session closed

    in_session(lambda db: after.run(db, "case@example.com"))
    assert committed_emails() == ["case@example.com"]


def test_unawaited_execute_gives_a_coroutine_fixed_gives_rows(database):
    before, after = pair("ses010_unawaited_execute_result")
    with db_module.get_db_session() as db:
        db.add(User(name="Case", email="case@example.com"))
    with pytest.warns(RuntimeWarning, match="coroutine 'AsyncSession.execute' was never awaited"):
        with pytest.raises(AttributeError, match="'coroutine' object has no attribute 'scalars'"):
            in_session(before.run)
        gc.collect()
    assert in_session(after.run) == ["case@example.com"]
