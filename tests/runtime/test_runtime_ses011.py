"""SES011 at runtime: one AsyncSession given to coroutines that `asyncio.gather` runs concurrently.

What goes wrong depends on timing and the driver, which is why SQLAlchemy calls it a programming
error rather than detecting it everywhere:

- when the gathered coroutines are the session's first use, both ask it for a connection at once:
  `InvalidRequestError: This session is provisioning a new connection; concurrent operations are not
  permitted` (both drivers), and closing the session while the other task is still connecting then
  fails with `IllegalStateChangeError`;
- once the session holds its connection, two writers flushing at once fail: `InvalidRequestError:
  Session is already flushing` (aiosqlite; asyncpg too when the second flush starts while the first
  holds the session, as on a loaded machine) or asyncpg's `InterfaceError: cannot perform operation:
  another operation is in progress`;
- two plain reads on a session that already holds its connection raise nothing with either driver
  (SQLAlchemy's adapters queue statements on one connection): they interleave silently in one
  transaction. That case is not shown: there is nothing to observe.

The sequential form of the same code (what SES011's docs recommend) runs on both. The code that runs
is the code session-lint flags (linted here as a module of the demo app)."""

from __future__ import annotations

import asyncio
import types

import pytest
from core import database as db_module
from pairs import DEMO_DIR
from sqlalchemy.exc import InterfaceError, InvalidRequestError

from session_lint.api import Config, lint_source

SOURCE = '''\
import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User


async def count(db: AsyncSession) -> int:
    return (await db.execute(select(func.count()).select_from(User))).scalar_one()


async def add(db: AsyncSession, email: str) -> str:
    db.add(User(name="Case", email=email))
    await db.flush()
    return email


async def shared(db: AsyncSession) -> list[int]:
    return await asyncio.gather(count(db), count(db))


async def shared_writers(db: AsyncSession) -> list[str]:
    await count(db)
    return await asyncio.gather(add(db, "a@example.com"), add(db, "b@example.com"))


async def sequential(db: AsyncSession) -> list[int]:
    return [await count(db), await count(db)]
'''


def module() -> types.ModuleType:
    namespace = types.ModuleType("ses011_shared")
    exec(compile(SOURCE, "ses011_shared.py", "exec"), namespace.__dict__)
    return namespace


def test_session_lint_flags_the_shared_session_and_not_the_sequential_one():
    path = DEMO_DIR / "app" / "ses011_shared.py"
    found = [(d.line, d.code) for d in lint_source(SOURCE, str(path), Config.discover(DEMO_DIR)) if d.code == "SES011"]
    assert found == [(20, "SES011"), (25, "SES011")]


def run(work):
    async def scenario():
        try:
            async with db_module.AsyncSessionLocal() as db:
                return await work(db)
        finally:
            await db_module.dispose_async_engine()
    return asyncio.run(scenario())


# the task still connecting when the first one failed is cancelled at the end of asyncio.run; its
# half-made connection is collected without being checked in
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_gather_on_a_fresh_session_fails_sequential_works(database):
    code = module()
    with pytest.raises(InvalidRequestError) as raised:
        run(code.shared)
    chain = []
    error: BaseException | None = raised.value
    while error is not None:
        chain.append(str(error))
        error = error.__context__
    assert any("concurrent operations are not permitted" in message for message in chain), chain
    assert run(code.sequential) == [0, 0]


@pytest.mark.filterwarnings("ignore:Usage of the 'Session.add\\(\\)' operation:sqlalchemy.exc.SAWarning")
def test_two_writers_on_one_session_fail_sequential_works(database):
    code = module()
    # (on PostgreSQL which of the two fails first is timing: both are the failure SES011 warns of)
    expected = ((InterfaceError, InvalidRequestError), "another operation is in progress|Session is already flushing") \
        if database.dialect == "postgresql" else (InvalidRequestError, "Session is already flushing")
    with pytest.raises(expected[0], match=expected[1]):
        run(code.shared_writers)
    assert run(code.sequential) == [0, 0]  # nothing of the failed run was committed
