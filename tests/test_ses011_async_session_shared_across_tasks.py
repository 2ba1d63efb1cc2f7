"""SES011 async-session-shared-across-tasks: one AsyncSession used by concurrently running coroutines."""

import pytest
from helpers import check_flagged, check_noop, found

CODE = "SES011"
HEAD = ("import asyncio\nfrom asyncio import gather as together\nimport anyio\nfrom fastapi import Depends\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\nfrom sqlalchemy.orm import Session\n"
        "from core.database import get_async_db, get_async_session\n\n\n")
# HEAD is 9 lines: sources below start at line 10


@pytest.mark.parametrize("src, expected", [
    # gather: anchored at the second argument that uses the session
    ("async def f(db: AsyncSession):\n    await asyncio.gather(load(db), count(db))\n", [(11, 36, CODE)]),
    ("async def f(db: AsyncSession):\n    await together(db.execute(a), db.execute(b))\n", [(11, 35, CODE)]),
    ("async def f(db: AsyncSession):\n    return await asyncio.gather(load(db), other(), Repo(db).count())\n",
     [(11, 52, CODE)]),
    ("async def f(db: AsyncSession):\n    await asyncio.gather(*(load(db, x) for x in xs))\n", [(11, 28, CODE)]),
    ("async def f(db=Depends(get_async_db)):\n    await asyncio.gather(load(session=db), count(session=db))\n",
     [(11, 44, CODE)]),
    ("async def f():\n    async with get_async_session() as db:\n        await asyncio.gather(load(db), count(db))\n",
     [(12, 40, CODE)]),
    # create_task, then the function keeps using the session before awaiting the task
    ("async def f(db: AsyncSession):\n    task = asyncio.create_task(load(db))\n    await db.execute(q)\n"
     "    await task\n", [(12, 11, CODE)]),
    ("async def f(db: AsyncSession):\n    task = asyncio.ensure_future(load(db))\n    await count(db)\n"
     "    await task\n", [(12, 17, CODE)]),
    # a task group: the session given to two of its tasks, or in a loop
    ("async def f(db: AsyncSession):\n    async with asyncio.TaskGroup() as tg:\n        tg.create_task(load(db))\n"
     "        tg.create_task(count(db))\n", [(13, 30, CODE)]),
    ("async def f(db: AsyncSession):\n    async with anyio.create_task_group() as tg:\n        for x in xs:\n"
     "            tg.start_soon(load, db, x)\n", [(13, 13, CODE)]),
    # tasks created in a loop and awaited after it
    ("async def f(db: AsyncSession):\n    tasks = []\n    for x in xs:\n"
     "        tasks.append(asyncio.create_task(load(db, x)))\n    await asyncio.gather(*tasks)\n", [(13, 22, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected)


@pytest.mark.parametrize("src", [
    # sequential awaits
    "async def f(db: AsyncSession):\n    await load(db)\n    await count(db)\n",
    # only one coroutine uses the session
    "async def f(db: AsyncSession):\n    await asyncio.gather(load(db), fetch_remote())\n",
    # each coroutine opens its own session
    ("async def one():\n    async with get_async_session() as db:\n        return await load(db)\n\n\n"
     "async def f():\n    await asyncio.gather(one(), one())\n"),
    # two different sessions
    "async def f(a: AsyncSession, b: AsyncSession):\n    await asyncio.gather(load(a), load(b))\n",
    # the engine, not the session
    "async def f(db: AsyncSession):\n    await asyncio.gather(load(db.bind), count(db.bind))\n",
    # a sync session (SES015's business), an unknown object
    "async def f(db: Session):\n    await asyncio.gather(load(db), count(db))\n",
    "async def f(db):\n    await asyncio.gather(load(db), count(db))\n",
    # the task is awaited before the session is used again, also in a loop
    "async def f(db: AsyncSession):\n    task = asyncio.create_task(load(db))\n    await task\n    await db.execute(q)\n",
    "async def f(db: AsyncSession):\n    for x in xs:\n        t = asyncio.create_task(load(db, x))\n        await t\n",
    # the task group's tasks are done when its block ends
    ("async def f(db: AsyncSession):\n    async with asyncio.TaskGroup() as tg:\n        tg.create_task(load(db))\n"
     "    await db.execute(q)\n"),
    # plain methods (no I/O) while the task runs do not count
    "async def f(db: AsyncSession):\n    task = asyncio.create_task(load(db))\n    db.add(User())\n    await task\n",
])
def test_noop(src):
    check_noop(HEAD + src, CODE)


def test_no_fix_offered():
    src = HEAD + "async def f(db: AsyncSession):\n    await asyncio.gather(load(db), count(db))\n"
    from helpers import DEFAULT_PATH, config
    from session_lint.api import lint_source

    diagnostics = [d for d in lint_source(src, str(DEFAULT_PATH), config()) if d.code == CODE]
    assert [(d.line, d.fix) for d in diagnostics] == [(11, None)]


def test_one_report_per_gather():
    src = HEAD + "async def f(db: AsyncSession):\n    await asyncio.gather(a(db), b(db), c(db))\n"
    assert found(src, CODE) == [(11, 33, CODE)]


def test_the_session_of_a_project_context_method(tmp_path):
    # prefect's api/work_queues.py: `async with db.session_context() as session:` (an
    # @asynccontextmanager method yielding `await self.session()`), then two reads gathered on it
    from test_session_methods import _project

    from session_lint.analysis.session_methods import context_method_flavor

    cfg, path = _project(tmp_path)
    interface = ".".join(("svc", "database", "interface", "DBInterface"))
    assert context_method_flavor(interface, "session_context", (tmp_path,)) == "async"
    assert context_method_flavor(interface, "session", (tmp_path,)) is None  # not a context manager
    source = ("import asyncio\nfrom svc.database.interface import DBInterface\n\n\n"
              "async def route(db: DBInterface):\n    async with db.session_context() as session:\n"
              "        return await asyncio.gather(count(session=session), page(session=session))\n")
    path.write_text(source)
    assert found(source, CODE, path=path, cfg=cfg) == [(7, 61, CODE)]
    unawaited = source.replace("return await asyncio.gather(count(session=session), page(session=session))",
                               "session.commit()")
    assert found(unawaited, "SES010", path=path, cfg=cfg) == [(7, 9, "SES010")]
