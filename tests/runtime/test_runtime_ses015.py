"""SES015 at runtime: a sync session in an `async def` blocks the event loop for as long as its
query runs: a heartbeat task ticking every few milliseconds does not tick once meanwhile. The same
query through an AsyncSession (`async with get_async_session()`) leaves the loop free: the heartbeat
keeps ticking. The query is slow on purpose: `pg_sleep` on PostgreSQL, a recursive count on SQLite.
The code that runs is the code session-lint flags (with `extend-select = ["SES015"]`)."""

from __future__ import annotations

import asyncio
import types
from dataclasses import replace

from core import database as db_module
from pairs import DEMO_DIR

from session_lint.api import Config, lint_source

SOURCE = '''\
from sqlalchemy import text

from core.database import get_async_session, get_db_session


async def report_sync(slow_sql: str) -> int:
    with get_db_session() as db:
        return db.execute(text(slow_sql)).scalar_one()


async def report_async(slow_sql: str) -> int:
    async with get_async_session() as db:
        return (await db.execute(text(slow_sql))).scalar_one()
'''
SLOW_SQL = {
    "postgresql": "SELECT count(*) FROM (SELECT pg_sleep(0.4)) AS s",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 150000) "
              "SELECT count(*) FROM c",
}


def module() -> types.ModuleType:
    namespace = types.ModuleType("ses015_blocking")
    exec(compile(SOURCE, "ses015_blocking.py", "exec"), namespace.__dict__)
    return namespace


def test_session_lint_flags_the_sync_session_when_enabled():
    path = DEMO_DIR / "app" / "ses015_blocking.py"
    config = Config.discover(DEMO_DIR)
    assert [d.code for d in lint_source(SOURCE, str(path), config) if d.code == "SES015"] == []  # opt-in
    enabled = replace(config, extend_select=("SES015",))
    assert [(d.line, d.column, d.code) for d in lint_source(SOURCE, str(path), enabled)
            if d.code == "SES015"] == [(7, 10, "SES015")]


def heartbeats_during(work, slow_sql: str) -> tuple[int, int]:
    """(ticks of a 5 ms heartbeat task while `work(slow_sql)` ran, its result)."""
    async def scenario():
        ticks = 0

        async def heartbeat():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        beating = asyncio.create_task(heartbeat())
        await asyncio.sleep(0.02)  # the heartbeat is running
        start = ticks
        try:
            result = await work(slow_sql)
            return ticks - start, result
        finally:
            beating.cancel()
            await db_module.dispose_async_engine()
    return asyncio.run(scenario())


def test_sync_session_in_async_def_blocks_the_loop_async_session_does_not(database):
    code = module()
    slow_sql = SLOW_SQL[database.dialect]
    blocked, result = heartbeats_during(code.report_sync, slow_sql)
    assert blocked == 0  # not one tick while the sync session's query ran on the loop's thread
    free, same = heartbeats_during(code.report_async, slow_sql)
    assert free >= 3 and same == result
