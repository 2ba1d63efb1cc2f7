"""SES013 legacy-query-get: `session.query(Model).get(pk)` on a session, fixed to `session.get(Model, pk)`."""

import pytest
from helpers import check_fixed, check_flagged, check_noop, check_not_fixed

CODE = "SES013"
HEAD = ("from typing import Annotated\nfrom fastapi import APIRouter, Depends\n"
        "from sqlalchemy.orm import Session, selectinload, sessionmaker\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from core.database import SessionLocal, get_db, get_db_session\n\nrouter = APIRouter()\n\n\n")
# HEAD is 9 lines: sources below start at line 10


@pytest.mark.parametrize("src, expected", [
    # an annotated parameter
    ("def f(db: Session, i: int):\n    return db.query(User).get(i)\n", [(11, 12, CODE)]),
    # the house context manager's session
    ("def f(i):\n    with get_db_session() as db:\n        user = db.query(User).get(i)\n", [(12, 16, CODE)]),
    # the factory called by hand, and a sessionmaker's session
    ("def f(i):\n    db = SessionLocal()\n    try:\n        return db.query(User).get(i)\n    finally:\n"
     "        db.close()\n", [(13, 16, CODE)]),
    ("def f(engine, i):\n    with sessionmaker(bind=engine)() as s:\n        return s.query(User).get(i)\n",
     [(12, 16, CODE)]),
    # injected by FastAPI, both spellings
    ("@router.get('/u/{i}')\ndef f(i: int, db=Depends(get_db)):\n    return db.query(User).get(i)\n", [(12, 12, CODE)]),
    ("@router.get('/u/{i}')\ndef f(i: int, db: Annotated[Session, Depends(get_db)]):\n"
     "    return db.query(User).get(i)\n", [(12, 12, CODE)]),
    # with chained options / a filter (reported, see the fix tests), a composite key, `ident=`
    ("def f(db: Session):\n    a = db.query(User).options(selectinload(User.items)).get(1)\n"
     "    b = db.query(User).filter(User.active).get(1)\n    c = db.query(Pair).get((1, 2))\n"
     "    d = db.query(User).get(ident=1)\n",
     [(11, 9, CODE), (12, 9, CODE), (13, 9, CODE), (14, 9, CODE)]),
    # the sync session AsyncSession.run_sync hands its function
    ("async def f(s: AsyncSession):\n    return await s.run_sync(lambda sync: sync.query(User).get(1))\n",
     [(11, 42, CODE)]),
    # a sync session in an async function is still a sync session
    ("async def f(db: Session):\n    return db.query(User).get(1)\n", [(11, 12, CODE)]),
    # anchored at the call, on the line of the receiver
    ("def f(db: Session):\n    return (\n        db.query(User)\n        .get(1)\n    )\n", [(12, 9, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected)


@pytest.mark.parametrize("src", [
    # the modern form
    "def f(db: Session, i: int):\n    return db.get(User, i)\n",
    # not known to be a session: unannotated parameter, an attribute, another object
    "def f(db, i):\n    return db.query(User).get(i)\n",
    "def f(self, i):\n    return self.db.query(User).get(i)\n",
    "def f(i):\n    return requests.query(User).get(i)\n",
    "def f(db: Session, i):\n    db = other()\n    return db.query(User).get(i)\n",
    # a dict's get on a query result, a row's get
    "def f(db: Session):\n    return db.query(User).all().get('x')\n",
    "def f(db: Session):\n    return db.query(User).first().get('x')\n",
    "def f(db: Session, i):\n    return db.execute(q).mappings().get(i)\n",
    # several entities or a column: Query.get refuses them
    "def f(db: Session):\n    return db.query(User, Item).get(1)\n",
    "def f(db: Session):\n    return db.query().get(1)\n",
    # get with a default or no key: not Query.get's signature
    "def f(db: Session):\n    return db.query(User).get(1, None)\n",
    "def f(db: Session):\n    return db.query(User).get()\n",
    # an AsyncSession has no query(); its get is the modern form
    "async def f(s: AsyncSession):\n    return await s.get(User, 1)\n",
    # a lambda that run_sync does not call with a session
    "async def f(s: AsyncSession):\n    return await s.run_sync(fn, lambda sync: sync.query(User).get(1))\n",
    "def f(db: Session):\n    return run(lambda sync: sync.query(User).get(1))\n",
])
def test_noop(src):
    check_noop(HEAD + src, CODE)


def test_fix_plain():
    check_fixed(HEAD + "def f(db: Session, i: int):\n    return db.query(User).get(i)\n",
                HEAD + "def f(db: Session, i: int):\n    return db.get(User, i)\n", CODE)


def test_fix_composite_keys_pass_through():
    check_fixed(HEAD + "def f(db: Session):\n    a = db.query(Pair).get((1, 2))\n"
                "    b = db.query(Pair).get({'a': 1, 'b': 2})\n    c = db.query(models.User).get(ident=3)\n",
                HEAD + "def f(db: Session):\n    a = db.get(Pair, (1, 2))\n"
                "    b = db.get(Pair, {'a': 1, 'b': 2})\n    c = db.get(models.User, ident=3)\n", CODE)


def test_fix_options_become_the_options_keyword():
    check_fixed(HEAD + "def f(db: Session):\n    return db.query(User).options(selectinload(User.items)).get(1)\n",
                HEAD + "def f(db: Session):\n    return db.get(User, 1, options=[selectinload(User.items)])\n", CODE)
    check_fixed(HEAD + "def f(db: Session, opts):\n    return db.query(User).options(*opts).options(o).get(1)\n",
                HEAD + "def f(db: Session, opts):\n    return db.get(User, 1, options=[*opts, o])\n", CODE)


def test_fix_populate_existing_and_for_update():
    check_fixed(HEAD + "def f(db: Session):\n    return db.query(User).populate_existing().with_for_update().get(1)\n",
                HEAD + "def f(db: Session):\n    return db.get(User, 1, populate_existing=True, with_for_update=True)\n",
                CODE)


def test_fix_multiline_call_keeps_its_layout():
    check_fixed(HEAD + "def f(db: Session):\n    return db.query(User).options(\n        selectinload(User.items),\n"
                "    ).get(\n        1,\n    )\n",
                HEAD + "def f(db: Session):\n    return db.get(\n        User,\n        1,\n"
                "        options=[selectinload(User.items)],\n    )\n", CODE)


def test_fix_with_statement_session_and_run_sync():
    check_fixed(HEAD + "def f():\n    with get_db_session() as db:\n        return db.query(User).get(1)\n",
                HEAD + "def f():\n    with get_db_session() as db:\n        return db.get(User, 1)\n", CODE)
    check_fixed(HEAD + "async def f(s: AsyncSession):\n    return await s.run_sync(lambda x: x.query(User).get(1))\n",
                HEAD + "async def f(s: AsyncSession):\n    return await s.run_sync(lambda x: x.get(User, 1))\n", CODE)


@pytest.mark.parametrize("src", [
    # a criterion makes Query.get raise: not the same call
    "def f(db: Session):\n    return db.query(User).filter(User.active).get(1)\n",
    "def f(db: Session):\n    return db.query(User).execution_options(x=1).get(1)\n",
    "def f(db: Session):\n    return db.query(User).with_for_update(nowait=True).get(1)\n",
    "def f(db: Session):\n    return db.query(User).options(**kw).get(1)\n",
    # an entity that is not a plain name
    "def f(db: Session):\n    return db.query(aliased(User)).get(1)\n",
    # a comment the rewrite would drop
    "def f(db: Session):\n    return (db.query(User)  # the user\n            .get(1))\n",
])
def test_no_fix(src):
    check_not_fixed(HEAD + src, CODE)


def test_the_fix_is_safe():
    check_fixed(HEAD + "def f(db: Session):\n    return db.query(User).get(1)\n",
                HEAD + "def f(db: Session):\n    return db.get(User, 1)\n", CODE, unsafe=False)
