"""SES010 unawaited-async-session-call: AsyncSession coroutine methods called without `await`."""

import pytest
from helpers import check_fixed, check_flagged, check_noop, check_not_fixed

CODE = "SES010"
HEAD = ("import asyncio\nfrom fastapi import Depends\nfrom sqlalchemy import select\n"
        "from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker\nfrom sqlalchemy.orm import Session\n"
        "from core.database import AsyncSessionLocal, get_async_db, get_async_session\n\n\n")
# HEAD is 8 lines: sources below start at line 9


@pytest.mark.parametrize("src, expected", [
    # thrown away, on an annotated parameter
    ("async def f(db: AsyncSession):\n    db.add(User())\n    db.commit()\n", [(11, 5, CODE)]),
    # used as if it were the result
    ("async def f(db: AsyncSession):\n    return db.execute(select(User)).scalars().all()\n", [(10, 12, CODE)]),
    ("async def f(db: AsyncSession):\n    for u in db.scalars(select(User)):\n        print(u)\n", [(10, 14, CODE)]),
    ("async def f(db: AsyncSession):\n    if db.get(User, 1):\n        return 1\n", [(10, 8, CODE)]),
    ("async def f(db: AsyncSession):\n    return list(db.scalars(select(User)))\n", [(10, 17, CODE)]),
    # assigned and never awaited, or only read as a result
    ("async def f(db: AsyncSession):\n    result = db.execute(select(User))\n    return result.scalars().all()\n",
     [(10, 14, CODE)]),
    ("async def f(db: AsyncSession):\n    pending = db.flush()\n", [(10, 15, CODE)]),
    # the sessions it knows: async with the raw factory, the context manager, a local async_sessionmaker
    ("async def f():\n    async with AsyncSessionLocal() as s:\n        s.add(User())\n        s.commit()\n",
     [(12, 9, CODE)]),
    ("async def f():\n    async with get_async_session() as s:\n        s.flush()\n", [(11, 9, CODE)]),
    ("async def f(engine):\n    maker = async_sessionmaker(engine)\n    async with maker() as s:\n        s.rollback()\n",
     [(12, 9, CODE)]),
    ("async def f():\n    s = AsyncSessionLocal()\n    try:\n        s.add(User())\n    finally:\n        s.close()\n",
     [(14, 9, CODE)]),
    # the async dependency, `X | None`, a closure over the outer function's session
    ("async def f(db=Depends(get_async_db)):\n    db.delete(obj)\n", [(10, 5, CODE)]),
    ("async def f(db: AsyncSession | None = None):\n    db.refresh(obj)\n", [(10, 5, CODE)]),
    ("async def f(db: AsyncSession):\n    async def inner():\n        db.merge(obj)\n    await inner()\n",
     [(11, 9, CODE)]),
    # a session of unknown origin the code itself shows to be async: it awaits its coroutine methods
    # and calls a method only sessions have (letta: `async with db_registry.async_session() as session:`)
    ("async def f():\n    async with registry.async_session() as session:\n"
     "        result = await session.execute(q)\n        for entry in result.scalars():\n"
     "            session.delete(entry)\n        await session.flush()\n", [(13, 13, CODE)]),
    ("async def f(session):\n    await session.execute(q)\n    session.add(x)\n    session.commit()\n",
     [(12, 5, CODE)]),
    # every coroutine method
    ("async def f(db: AsyncSession):\n    db.run_sync(work)\n    db.stream(q)\n    db.connection()\n",
     [(10, 5, CODE), (11, 5, CODE), (12, 5, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected)


@pytest.mark.parametrize("src", [
    # awaited
    "async def f(db: AsyncSession):\n    db.add(User())\n    await db.commit()\n",
    "async def f(db: AsyncSession):\n    return (await db.execute(select(User))).scalars().all()\n",
    # plain methods of AsyncSession
    "async def f(db: AsyncSession):\n    db.add(User())\n    db.add_all([])\n    db.expunge(u)\n    db.expire(u)\n"
    "    return db.in_transaction()\n",
    # a sync session in an async function, or an unknown object
    "async def f(db: Session):\n    db.commit()\n",
    "async def f(db):\n    db.commit()\n",
    "async def f(client: Client):\n    client.execute(q)\n",
    # a sync function (it cannot await)
    "def f(db: AsyncSession):\n    db.commit()\n",
    # assigned, then awaited; returned; handed on to gather / create_task / wait_for / a list
    "async def f(db: AsyncSession):\n    pending = db.commit()\n    await pending\n",
    "async def f(db: AsyncSession):\n    return db.execute(select(User))\n",
    "async def f(db: AsyncSession):\n    await asyncio.gather(db.execute(a), other())\n",
    "async def f(db: AsyncSession):\n    task = asyncio.create_task(db.commit())\n    await task\n",
    "async def f(db: AsyncSession):\n    await asyncio.wait_for(db.commit(), timeout=5)\n",
    "async def f(db: AsyncSession):\n    coros = [db.get(User, i) for i in ids]\n    return await asyncio.gather(*coros)\n",
    "async def f(db: AsyncSession):\n    pending = db.commit()\n    return pending\n",
    # the name is rebound to something else in the function: not known to be the session
    "async def f(db: AsyncSession):\n    db = Other()\n    db.commit()\n",
    # an object of unknown type with some awaited methods and no session-only one (a redis pipeline
    # queues `get` / `delete` and runs them at `await pipe.execute()`)
    ("async def f(redis):\n    async with redis.pipeline() as pipe:\n        pipe.get('a')\n"
     "        pipe.delete('b')\n        await pipe.execute()\n"),
    # session-only methods but nothing awaited on it: a sync session of unknown origin
    "async def f(session):\n    session.add(x)\n    session.commit()\n",
    # `async with s.begin():` is not a coroutine call
    "async def f(db: AsyncSession):\n    async with db.begin():\n        db.add(User())\n",
    # in a lambda: runs elsewhere
    "async def f(db: AsyncSession):\n    return lambda: db.commit()\n",
])
def test_noop(src):
    check_noop(HEAD + src, CODE)


def test_fix_awaits_a_thrown_away_call():
    check_fixed(HEAD + "async def f(db: AsyncSession):\n    db.add(User())\n    db.commit()  # keep\n",
                HEAD + "async def f(db: AsyncSession):\n    db.add(User())\n    await db.commit()  # keep\n",
                CODE, unsafe=True)


def test_fix_parenthesizes_a_used_result():
    check_fixed(HEAD + "async def f(db: AsyncSession):\n    return db.execute(select(User)).scalars().all()\n",
                HEAD + "async def f(db: AsyncSession):\n    return (await db.execute(select(User))).scalars().all()\n",
                CODE, unsafe=True)


def test_fix_awaits_in_a_loop_header_an_argument_and_an_assignment():
    check_fixed(HEAD + "async def f(db: AsyncSession):\n    r = db.scalars(select(User))\n    for u in r:\n"
                "        print(u)\n    for u in db.scalars(select(User)):\n        print(u)\n"
                "    return sorted(db.scalars(q))\n",
                HEAD + "async def f(db: AsyncSession):\n    r = await db.scalars(select(User))\n    for u in r:\n"
                "        print(u)\n    for u in await db.scalars(select(User)):\n        print(u)\n"
                "    return sorted(await db.scalars(q))\n",
                CODE, unsafe=True)


def test_fix_keeps_existing_parentheses_around_the_await():
    check_fixed(HEAD + "async def f(db: AsyncSession):\n    (db.commit())\n",
                HEAD + "async def f(db: AsyncSession):\n    (await db.commit())\n", CODE, unsafe=True)


def test_no_fix_in_a_generator_expression():
    # `await` there would make the generator asynchronous: `any()` could not iterate it
    check_not_fixed(HEAD + "async def f(db: AsyncSession):\n    return list(x for x in db.scalars(q))\n", CODE)


def test_the_fix_is_not_safe():
    check_not_fixed(HEAD + "async def f(db: AsyncSession):\n    db.commit()\n", CODE, unsafe=False)


def test_one_awaited_flush_does_not_make_a_session():
    """polar's scripts/void_eligible_orders.py: `await manager.flush(...)` then the sync `manager.reset()`
    on a job-queue manager; `flush` is both a coroutine and a session-only method name, which alone is
    no evidence of a session."""
    check_noop(
        """
        async def main(broker, redis):
            async with JobQueueManager.open(broker, redis) as manager:
                await manager.flush(broker, redis)
                manager.reset()
        """,
        "SES010",
    )
