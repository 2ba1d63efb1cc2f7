"""SES006 session-used-after-close: flagged uses, near misses, message."""

import pytest

from helpers import DEFAULT_PATH, check_flagged, check_noop, check_not_fixed, config

CODE = "SES006"
HEAD = (
    "from sqlalchemy.orm import Session\n"
    "from core.database import SessionLocal, get_db_session, get_async_session\n"
    "\n"
)  # 3 lines: the function under test starts on line 4


def src(body: str) -> str:
    return HEAD + body


@pytest.mark.parametrize("body, line, col", [
    # after its `with` block
    ("def f():\n    with get_db_session() as db:\n        pass\n    db.query(User).all()\n", 7, 5),
    ("def f():\n    with SessionLocal() as db:\n        db.add(x)\n    return db.execute(q)\n", 7, 12),
    ("async def f():\n    async with get_async_session() as db:\n        pass\n    await db.commit()\n", 7, 11),
    # passed on to a helper after the block
    ("def f():\n    with get_db_session() as db:\n        pass\n    helper(db)\n", 7, 12),
    # after an explicit close()
    ("def f():\n    db = SessionLocal()\n    db.close()\n    db.query(User).all()\n", 7, 5),
    ("def f(db: Session):\n    db.close()\n    return db.get(User, 1)\n", 6, 12),
    # after a try/finally that closed it
    ("def f():\n    db = SessionLocal()\n    try:\n        db.add(x)\n    finally:\n        db.close()\n"
     "    db.commit()\n", 10, 5),
    # closed on one path only
    ("def f(c):\n    db = SessionLocal()\n    if c:\n        db.close()\n    db.commit()\n", 8, 5),
    # in a later loop, a comprehension
    ("def f(ids):\n    with get_db_session() as db:\n        pass\n    return [db.get(User, i) for i in ids]\n", 7, 13),
    # module-level code
    ("with get_db_session() as db:\n    pass\ndb.flush()\n", 6, 1),
])
def test_flagged(body, line, col):
    check_flagged(src(body), [(line, col, CODE)])


def test_first_use_only():
    body = "def f():\n    with get_db_session() as db:\n        pass\n    db.add(x)\n    db.commit()\n"
    check_flagged(src(body), [(7, 5, CODE)])


def test_each_closed_block_is_reported():
    body = ("def f():\n    with get_db_session() as db:\n        pass\n    db.add(x)\n"
            "    with get_db_session() as db:\n        pass\n    db.add(y)\n")
    check_flagged(src(body), [(7, 5, CODE), (10, 5, CODE)])


@pytest.mark.parametrize("body", [
    # used inside the block
    "def f():\n    with get_db_session() as db:\n        db.query(User).all()\n",
    # rebound to a new session
    "def f():\n    db = SessionLocal()\n    db.close()\n    db = SessionLocal()\n    db.query(User).all()\n",
    "def f():\n    with get_db_session() as db:\n        pass\n    with get_db_session() as db:\n        db.add(x)\n",
    # closing again, or testing the name, does not use it
    "def f():\n    with SessionLocal() as db:\n        pass\n    db.close()\n",
    "def f():\n    db = SessionLocal()\n    db.close()\n    if db is not None:\n        pass\n",
    # the path that closed it left the function
    "def f(c):\n    db = SessionLocal()\n    if c:\n        db.close()\n        return\n    db.commit()\n    db.close()\n",
    "def f():\n    db = SessionLocal()\n    try:\n        db.commit()\n    except Exception:\n        db.close()\n"
    "        raise\n    db.add(x)\n",
    # not a session
    "def f():\n    fh = open('x')\n    fh.close()\n    fh.read()\n",
    "def f(conn):\n    conn.close()\n    conn.execute(q)\n",
    "def f():\n    with open('x') as fh:\n        pass\n    fh.read()\n",
    # a nested function is its own scope
    "def f():\n    with get_db_session() as db:\n        pass\n    def g(db):\n        return db.query(User)\n",
    # the name shadowed by a comprehension
    "def f(dbs):\n    with get_db_session() as db:\n        pass\n    return [db.x for db in dbs]\n",
    # a session that is only begun (`with db.begin():`) is not closed
    "def f(db: Session):\n    with db.begin():\n        pass\n    db.query(User).all()\n",
])
def test_not_flagged(body):
    check_noop(src(body), CODE)


def test_message_and_no_fix():
    from session_lint.api import lint_source
    body = "def f():\n    with get_db_session() as db:\n        pass\n    db.query(User).all()\n"
    (d,) = [d for d in lint_source(src(body), str(DEFAULT_PATH), config()) if d.code == CODE]
    assert d.message == "session `db` used after it was closed when its `with` block ended on line 6"
    body = "def f():\n    db = SessionLocal()\n    db.close()\n    db.query(User).all()\n"
    (d,) = [d for d in lint_source(src(body), str(DEFAULT_PATH), config()) if d.code == CODE]
    assert d.message == "session `db` used after it was closed by `db.close()` on line 6"
    check_not_fixed(src(body), CODE)
