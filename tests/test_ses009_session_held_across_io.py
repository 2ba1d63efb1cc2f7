"""SES009 session-held-across-io: slow calls after a session's first use, in every way a session is held."""

import pytest
from helpers import check_flagged, check_noop, config, found

CODE = "SES009"
HEAD = ("import asyncio\nimport subprocess\nimport time\n\nimport httpx\nimport requests\n"
        "from fastapi import Depends\nfrom sqlalchemy.orm import Session\n"
        "from core.database import SessionLocal, get_db, get_db_session\n\n\n")
# HEAD is 11 lines: sources below start at line 12


@pytest.mark.parametrize("src, expected", [
    # the context manager, after the first use
    ("def f():\n    with get_db_session() as db:\n        db.flush()\n        requests.post(URL)\n", [(15, 9, CODE)]),
    # nested in the block, a raw block, a begin() block
    ("def f():\n    with SessionLocal() as db:\n        user = db.get(User, 1)\n        if user:\n"
     "            subprocess.run(['notify'])\n", [(16, 13, CODE)]),
    ("def f():\n    with SessionLocal.begin() as db:\n        db.execute(update(X))\n        time.sleep(2)\n", [(15, 9, CODE)]),
    # an HTTP client's methods
    ("def f():\n    with get_db_session() as db, httpx.Client() as client:\n        db.get(X, 1)\n"
     "        client.post(URL)\n", [(15, 9, CODE)]),
    ("def f():\n    client = httpx.Client()\n    with get_db_session() as db:\n        db.scalars(q)\n"
     "        client.get(URL)\n", [(16, 9, CODE)]),
    # opened by hand: between the first use and close()
    ("def f():\n    db = SessionLocal()\n    try:\n        db.query(X).all()\n        requests.get(URL)\n"
     "    finally:\n        db.close()\n", [(16, 9, CODE)]),
    # an injected session after its first write has run SQL
    ("def f(db: Session = Depends(get_db)):\n    db.add(X())\n    db.flush()\n    requests.post(URL)\n    db.commit()\n",
     [(15, 5, CODE)]),
    # handed to other code, which reads it (onyx's tests/unit/onyx/indexing/test_vespa.py)
    ("def f():\n    with get_db_session() as db, httpx.Client() as client:\n        props = index_properties(db)\n"
     "        client.get(URL)\n", [(15, 9, CODE)]),
    # two slow calls: two findings
    ("def f():\n    with get_db_session() as db:\n        db.get(X, 1)\n        requests.post(URL)\n"
     "        time.sleep(1)\n", [(15, 9, CODE), (16, 9, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected)


def test_async_forms():
    src = ("import asyncio\nimport httpx\nfrom core.database import get_async_session\n\n\n"
           "async def f():\n    async with get_async_session() as db, httpx.AsyncClient() as client:\n"
           "        await db.execute(q)\n        await client.post(URL)\n        await asyncio.sleep(0)\n"
           "        await asyncio.sleep(3)\n")
    assert found(src, CODE) == [(9, 15, CODE), (11, 15, CODE)]


@pytest.mark.parametrize("src", [
    # before the first use: nothing is held yet
    "def f():\n    with get_db_session() as db:\n        data = requests.get(URL).json()\n        db.add(X(**data))\n",
    # after the block
    "def f():\n    with get_db_session() as db:\n        db.get(X, 1)\n    requests.post(URL)\n",
    # add() runs no SQL: the insert waits for the block's commit
    "def f():\n    with get_db_session() as db:\n        db.add(X())\n        requests.post(URL)\n",
    # an injected session that wrote without SQL yet
    "def f(db: Session = Depends(get_db)):\n    db.add(X())\n    requests.post(URL)\n    db.commit()\n",
    # after close()
    "def f():\n    db = SessionLocal()\n    db.get(X, 1)\n    db.close()\n    requests.post(URL)\n",
    # a nested function runs later
    "def f():\n    with get_db_session() as db:\n        db.get(X, 1)\n        def later():\n            requests.post(URL)\n",
    # an injected session that only read before the call
    "def f(db: Session = Depends(get_db)):\n    user = db.get(User, 1)\n    requests.post(URL)\n",
    # a local function called like requests' (resolution, not spelling)
    ("def get(url):\n    return url\n\n\ndef f():\n    with get_db_session() as db:\n        db.get(X, 1)\n"
     "        get(URL)\n"),
    # a method of some other object
    "def f(cache):\n    with get_db_session() as db:\n        db.get(X, 1)\n        cache.get(URL)\n",
])
def test_noop(src):
    check_noop(HEAD + src, CODE)


def test_slow_calls_option_adds_project_names():
    src = ("from app.clients import fetch_invoice\nfrom core.database import get_db_session\n\n\n"
           "def f():\n    with get_db_session() as db:\n        db.flush()\n        fetch_invoice(1)\n")
    names = ".".join(("app", "clients", "fetch_invoice"))
    assert found(src, CODE) == []
    assert found(src, CODE, cfg=config(slow_calls=(names,))) == [(8, 9, CODE)]


def test_the_screen_lets_every_flagged_case_through():
    from session_lint.engine.screen import Screen

    screen = Screen(config(), ("SES009",))
    src = HEAD + "def f(db: Session = Depends(get_db)):\n    db.add(X())\n    db.flush()\n    requests.post(URL)\n"
    assert found(src, CODE) == [(15, 5, CODE)]
    assert screen.check(src.encode(), "app/module.py")
    assert not screen.check(b"import requests\n\ndef f():\n    requests.get(URL)\n", "app/module.py")


def test_the_screen_with_this_rule_alone_sees_the_session_block():
    from session_lint.engine.screen import Screen

    src = ("from time import sleep\nfrom core.database import get_db_session\n\n\ndef f():\n"
           "    with get_db_session() as db:\n        db.get(X, 1)\n        sleep(1)\n")
    assert found(src, CODE) == [(8, 9, CODE)]
    assert Screen(config(), ("SES009",)).check(src.encode(), "app/module.py")


@pytest.mark.parametrize("src, expected", [
    # committed on every path before the call: the connection is back in the pool
    ("def f():\n    with get_db_session() as db:\n        db.flush()\n        db.commit()\n        requests.post(URL)\n",
     []),
    # used again after the commit: held again
    ("def f():\n    with get_db_session() as db:\n        db.flush()\n        db.commit()\n        db.get(X, 1)\n"
     "        requests.post(URL)\n", [(17, 9, CODE)]),
    # committed on one path only: the other still holds it (atom's ingestion_pipeline.py)
    ("def f(ok):\n    with get_db_session() as db:\n        db.flush()\n        if ok:\n            db.commit()\n"
     "        requests.post(URL)\n", [(17, 9, CODE)]),
    ("def f(ok):\n    with get_db_session() as db:\n        db.flush()\n        if ok:\n            db.commit()\n"
     "        else:\n            requests.post(URL)\n", [(18, 13, CODE)]),
    # a batch loop that commits, then throttles (polar's backfill scripts): nothing held while it sleeps
    ("async def f():\n    async with get_db_session() as db:\n        while True:\n            db.execute(q)\n"
     "            db.commit()\n            db.expunge_all()\n            if pause:\n                await asyncio.sleep(pause)\n",
     []),
])
def test_a_commit_releases_the_connection(src, expected):
    assert found(HEAD + src, CODE) == expected


def test_a_builtin_receiver_is_not_a_client():
    # atom's core/graphrag_engine.py: `str.join(...)` in a session block crashed the rule (BuiltinAssignment)
    src = HEAD + "def f():\n    with get_db_session() as db:\n        db.flush()\n        str.join(',', names)\n"
    assert found(src, CODE) == []
