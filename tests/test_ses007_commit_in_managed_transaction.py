"""SES007 commit-in-managed-transaction: begin() blocks in every spelling, six-line dependencies, exact fixes."""

import pytest
from helpers import check_fixed, check_flagged, check_noop, check_not_fixed, config, found

CODE = "SES007"
HEAD = ("from fastapi import Depends\nfrom sqlalchemy.orm import Session, sessionmaker\n"
        "from core.database import SessionLocal, get_db, get_db_session\n\n\n")
# HEAD is 5 lines: sources below start at line 6


# -- flagged, with exact positions (anchored at the call) --------------------------------------
@pytest.mark.parametrize("src, expected", [
    # the factory's begin() block
    ("with SessionLocal.begin() as db:\n    db.add(X())\n    db.commit()\n", [(8, 5, CODE)]),
    # a session's own begin(), in the same `with` or an inner one
    ("with SessionLocal() as db, db.begin():\n    db.add(X())\n    db.commit()\n", [(8, 5, CODE)]),
    ("def f():\n    with SessionLocal() as db:\n        with db.begin():\n            db.rollback()\n",
     [(9, 13, CODE)]),
    # a commit in the middle: atomicity lost (no fix)
    ("with SessionLocal.begin() as db:\n    db.add(X())\n    db.commit()\n    db.add(Y())\n", [(8, 5, CODE)]),
    # nested deeper in the block
    ("with SessionLocal.begin() as db:\n    for x in xs:\n        if x:\n            db.commit()\n", [(9, 13, CODE)]),
    # a parameter annotated as a session, a local sessionmaker, Session(engine)
    ("def f(db: Session):\n    with db.begin():\n        db.commit()\n", [(8, 9, CODE)]),
    ("Maker = sessionmaker(bind=engine)\n\nwith Maker.begin() as s:\n    s.commit()\n", [(9, 5, CODE)]),
    ("def f(engine):\n    s = Session(engine)\n    with s.begin():\n        s.add(X())\n        s.commit()\n",
     [(10, 9, CODE)]),
    # an injected session's own begin()
    ("def f(db: Session = Depends(get_db)):\n    with db.begin():\n        db.add(X())\n        db.commit()\n",
     [(9, 9, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected)


def test_async_forms():
    src = ("from sqlalchemy.ext.asyncio import AsyncSession\n\n\n"
           "async def f(db: AsyncSession):\n    async with db.begin():\n        db.add(X())\n"
           "        await db.commit()\n")
    check_flagged(src, [(7, 15, CODE)])


# -- near misses: must stay silent ---------------------------------------------------------------
@pytest.mark.parametrize("src", [
    # after the block: the transaction is over
    "with SessionLocal.begin() as db:\n    db.add(X())\ndb.commit()\n",
    # a savepoint committed through its own object
    "with SessionLocal.begin() as db:\n    with db.begin_nested() as sp:\n        db.add(X())\n        sp.commit()\n",
    # another session's commit inside the block
    "with SessionLocal.begin() as db:\n    other = SessionLocal()\n    other.commit()\n",
    # the project's context manager allows an explicit commit
    "with get_db_session() as db:\n    db.add(X())\n    db.commit()\n",
    # a nested function runs later, outside the block
    "with SessionLocal.begin() as db:\n    def later():\n        db.commit()\n    callbacks.append(later)\n",
    # an unknown object's begin(): not known to be a session
    "def f(conn):\n    with conn.begin():\n        conn.commit()\n",
    # a session rebound inside the block
    "with SessionLocal.begin() as db:\n    db = SessionLocal()\n    db.commit()\n",
    # a route whose dependency yields and closes (no begin): the route must commit
    "def f(db: Session = Depends(get_db)):\n    db.add(X())\n    db.commit()\n",
    # an HTTP client's begin()
    "import httpx\n\nwith httpx.Client() as c, c.begin():\n    c.commit()\n",
])
def test_noop(src):
    check_noop(HEAD + src, CODE)


# -- fixes ---------------------------------------------------------------------------------------
def test_trailing_commit_is_removed():
    check_fixed(HEAD + "with SessionLocal.begin() as db:\n    db.add(X())\n    db.commit()\n",
                HEAD + "with SessionLocal.begin() as db:\n    db.add(X())\n", CODE)


def test_trailing_awaited_commit_is_removed():
    head = "from sqlalchemy.ext.asyncio import AsyncSession\n\n\n"
    check_fixed(head + "async def f(db: AsyncSession):\n    async with db.begin():\n        db.add(X())\n"
                "        await db.commit()\n    return 1\n",
                head + "async def f(db: AsyncSession):\n    async with db.begin():\n        db.add(X())\n    return 1\n",
                CODE)


@pytest.mark.parametrize("src", [
    # in the middle of the block
    "with SessionLocal.begin() as db:\n    db.add(X())\n    db.commit()\n    db.add(Y())\n",
    # a rollback is never removed
    "with SessionLocal.begin() as db:\n    db.add(X())\n    db.rollback()\n",
    # the only statement (removing it leaves an empty block)
    "with SessionLocal.begin() as db:\n    db.commit()\n",
    # under an `if`: not the block's last statement
    "with SessionLocal.begin() as db:\n    db.add(X())\n    if ok:\n        db.commit()\n",
    # a comment on the line
    "with SessionLocal.begin() as db:\n    db.add(X())\n    db.commit()  # keep: see ticket\n",
])
def test_not_fixed(src):
    check_not_fixed(HEAD + src, CODE)


# -- the six-line dependency: read from the project's source ---------------------------------------
SIX_LINE = '''
from core.database import SessionLocal


def get_tx_db():
    with SessionLocal() as session, session.begin():
        yield session


async def get_async_tx_db():
    async with make_async_session() as session:
        async with session.begin():
            yield session


def get_plain_db():
    with SessionLocal() as session:
        yield session
'''


def _with_deps(tmp_path):
    from helpers import PROJECT

    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "database.py").write_text((PROJECT / "core" / "database.py").read_text())
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "deps.py").write_text(
        SIX_LINE + "\nTxSession = Annotated[Session, Depends(get_tx_db)]\n")
    return tmp_path / "app" / "routes.py", config(root=tmp_path)


ROUTE_HEAD = ("from typing import Annotated\nfrom fastapi import APIRouter, Depends\nfrom sqlalchemy.orm import Session\n"
              "from sqlalchemy.ext.asyncio import AsyncSession\n"
              "from app.deps import TxSession, get_async_tx_db, get_plain_db, get_tx_db\n\nrouter = APIRouter()\n\n\n")
# ROUTE_HEAD is 9 lines


@pytest.mark.parametrize("src, expected", [
    ("@router.post('/')\ndef f(db: Session = Depends(get_tx_db)):\n    db.add(X())\n    db.commit()\n", [(13, 5, CODE)]),
    ("@router.post('/')\ndef f(db: Annotated[Session, Depends(get_tx_db)]):\n    db.rollback()\n", [(12, 5, CODE)]),
    ("@router.post('/')\ndef f(db: TxSession):\n    db.add(X())\n    db.commit()\n", [(13, 5, CODE)]),
    ("@router.post('/')\nasync def f(db: AsyncSession = Depends(get_async_tx_db)):\n    await db.commit()\n",
     [(12, 11, CODE)]),
    # the dependency that only closes: the route must commit itself
    ("@router.post('/')\ndef f(db: Session = Depends(get_plain_db)):\n    db.add(X())\n    db.commit()\n", []),
])
def test_six_line_dependency(tmp_path, src, expected):
    path, cfg = _with_deps(tmp_path)
    assert found(ROUTE_HEAD + src, CODE, path=path, cfg=cfg) == expected


def test_a_route_commit_is_not_fixed(tmp_path):
    path, cfg = _with_deps(tmp_path)
    src = ROUTE_HEAD + "@router.post('/')\ndef f(db: Session = Depends(get_tx_db)):\n    db.add(X())\n    db.commit()\n"
    check_not_fixed(src, CODE, path=path, cfg=cfg)


def test_a_builtin_receiver_is_not_a_session():
    check_noop(HEAD + "with list.begin():\n    list.commit()\n", CODE)
