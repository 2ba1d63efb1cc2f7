"""SES003 mixed-session-patterns: injected sessions in every spelling, inner sessions, exact fixes."""

import pytest
from helpers import check_fixed, check_flagged, check_noop, check_not_fixed, found

CODE = "SES003"
HEAD = ("from typing import Annotated\nfrom fastapi import APIRouter, Depends\nfrom sqlalchemy.orm import Session\n"
        "from core.database import SessionLocal, get_db, get_db_session\n\nrouter = APIRouter()\n\n\n")
# HEAD is 8 lines: sources below start at line 9


# -- flagged, with exact positions (anchored at the inner `with`, or the call) -----------------
@pytest.mark.parametrize("src, expected", [
    ("def f(db: Session = Depends(get_db)):\n    with get_db_session() as s:\n        s.add(X())\n", [(10, 5, CODE)]),
    ("def f(db=Depends(get_db)):\n    with SessionLocal() as s:\n        pass\n", [(10, 5, CODE)]),
    ("def f(db: Annotated[Session, Depends(get_db)]):\n    with get_db_session() as s:\n        pass\n",
     [(10, 5, CODE)]),
    # an alias defined here
    (("DbSession = Annotated[Session, Depends(get_db)]\n\ndef f(db: DbSession):\n    with get_db_session() as s:\n"
     "        pass\n"), [(12, 5, CODE)]),
    # any dependency of a Session-typed parameter
    ("def f(db: Session = Depends(my_session)):\n    with get_db_session() as s:\n        pass\n", [(10, 5, CODE)]),
    # the inner session reuses the injected name
    ("@router.get('/')\ndef f(db: Session = Depends(get_db)):\n    with get_db_session() as db:\n        pass\n",
     [(11, 5, CODE)]),
    # created by hand
    ("def f(db=Depends(get_db)):\n    other = SessionLocal()\n    other.close()\n", [(10, 13, CODE)]),
    ("def f(db=Depends(get_db)):\n    return Service(SessionLocal())\n", [(10, 20, CODE)]),
    ("def f(db=Depends(get_db)):\n    s = next(get_db())\n", [(10, 9, CODE)]),
    # two inner sessions: two diagnostics
    (("async def f(db=Depends(get_db)):\n    with get_db_session() as a:\n        pass\n    with SessionLocal() as b:\n"
     "        pass\n"), [(10, 5, CODE), (12, 5, CODE)]),
    # nested inside another block
    ("def f(db=Depends(get_db)):\n    for i in range(3):\n        with get_db_session() as s:\n            pass\n",
     [(11, 9, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected)


def test_imported_alias():
    src = ("from app.deps import SessionDep\nfrom core.database import get_db_session\n\n\n"
           "def f(db: SessionDep):\n    with get_db_session() as s:\n        pass\n")
    check_flagged(src, [(6, 5, CODE)])


def test_async_dependency():
    src = ("from fastapi import Depends\nfrom sqlalchemy.ext.asyncio import AsyncSession\n"
           "from core.database import get_async_db, get_async_session\n\n\n"
           "async def f(db: AsyncSession = Depends(get_async_db)):\n    async with get_async_session() as s:\n"
           "        await s.get(User, 1)\n")
    check_flagged(src, [(7, 5, CODE)])


# -- near misses ----------------------------------------------------------------------------------
@pytest.mark.parametrize("src", [
    # no injected session
    "def f():\n    with get_db_session() as s:\n        pass\n",
    "def f(user=Depends(current_user)):\n    with get_db_session() as s:\n        pass\n",
    "def f(user: Annotated[str, Depends(current_user)]):\n    with get_db_session() as s:\n        pass\n",
    # the injected session only
    "def f(db: Session = Depends(get_db)):\n    return db.query(X).all()\n",
    # an inner function is its own unit of work (SES001's business)
    ("def f(db=Depends(get_db)):\n    def later():\n        with get_db_session() as s:\n            pass\n"
    "    return later\n"),
    # a session-typed parameter that is not injected
    "def f(db: Session):\n    with get_db_session() as s:\n        pass\n",
    # Depends used for a non-session and boto3 sessions inside
    "import boto3\n\ndef f(db=Depends(get_db)):\n    s = boto3.Session()\n",
])
def test_not_flagged(src):
    check_noop(HEAD + src, CODE)


def test_imported_non_session_alias_is_not_a_session():
    check_noop("from app.deps import CurrentUser\nfrom core.database import get_db_session\n\n\n"
               "def f(user: CurrentUser):\n    with get_db_session() as s:\n        pass\n", CODE)


def test_not_also_ses001():
    assert found(HEAD + "def f(db=Depends(get_db)):\n    with SessionLocal() as s:\n        pass\n", "SES001") == []


# -- fixes ------------------------------------------------------------------------------------------
def test_fix_read_only_inner_block_is_safe_and_renamed():
    check_fixed(
        """\
        from fastapi import APIRouter, Depends
        from sqlalchemy.orm import Session
        from core.database import get_db, get_db_session

        router = APIRouter()


        @router.get("/users")
        def list_users(db: Session = Depends(get_db)):
            # the report
            with get_db_session() as session:
                users = session.query(User).all()  # all of them
                count = len(users)
            return {"users": users, "count": count}
        """,
        """\
        from fastapi import APIRouter, Depends
        from sqlalchemy.orm import Session
        from core.database import get_db

        router = APIRouter()


        @router.get("/users")
        def list_users(db: Session = Depends(get_db)):
            # the report
            users = db.query(User).all()  # all of them
            count = len(users)
            return {"users": users, "count": count}
        """, CODE)


def test_no_fix_when_the_inner_block_writes():
    # onyx activate_hook: a side session commits `is_reachable=False` on its own so the request's
    # failure path commits nothing; on the injected session that write would join the request's
    # transaction (committed with its pending work, or rolled back with it)
    check_not_fixed("""\
        from fastapi import APIRouter, Depends
        from sqlalchemy.orm import Session
        from core.database import get_db, get_db_session

        router = APIRouter()


        @router.post("/hooks/{hook_id}/activate")
        def activate_hook(hook_id: int, db_session: Session = Depends(get_db)):
            hook = db_session.get(Hook, hook_id)
            if hook.is_reachable is not False:
                with get_db_session() as side_session:
                    update_hook(db_session=side_session, hook_id=hook_id, is_reachable=False)
                    side_session.commit()
            raise ValueError("unreachable")
        """, CODE)


@pytest.mark.parametrize("inner", [
    "with get_db_session() as s:\n        s.add(X())\n        s.commit()\n",
    "with SessionLocal() as s:\n        s.add(X())\n    return 1\n",
])
def test_no_fix_for_any_writing_inner_block(inner):
    check_not_fixed(HEAD + "def f(db=Depends(get_db)):\n    " + inner, CODE)


def test_no_fix_when_the_inner_helper_takes_arguments():
    # dispatch: get_organization_session(slug) opens a session on another tenant's schema
    check_not_fixed(HEAD + "def f(slug, db=Depends(get_db)):\n    with get_db_session(slug) as s:\n"
                    "        return s.query(X).all()\n", CODE)


def test_no_fix_async_writing_inner_block():
    check_not_fixed(
        """\
        from fastapi import Depends
        from sqlalchemy.ext.asyncio import AsyncSession
        from core.database import get_async_db, get_async_session


        async def f(db: AsyncSession = Depends(get_async_db)):
            async with get_async_session() as s:
                s.add(User())
            return 1
        """, CODE)


def test_fix_async_reading_inner_block():
    check_fixed(
        """\
        from fastapi import Depends
        from sqlalchemy.ext.asyncio import AsyncSession
        from core.database import get_async_db, get_async_session


        async def f(db: AsyncSession = Depends(get_async_db)):
            async with get_async_session() as s:
                users = (await s.scalars(select(User))).all()
            return users
        """,
        """\
        from fastapi import Depends
        from sqlalchemy.ext.asyncio import AsyncSession
        from core.database import get_async_db


        async def f(db: AsyncSession = Depends(get_async_db)):
            users = (await db.scalars(select(User))).all()
            return users
        """, CODE)


def test_fix_annotated_alias():
    check_fixed(
        HEAD + "DbSession = Annotated[Session, Depends(get_db)]\n\n\ndef f(db: DbSession):\n"
        "    with get_db_session() as s:\n        return s.query(X).all()\n",
        HEAD.replace("SessionLocal, get_db, get_db_session", "SessionLocal, get_db")
        + "DbSession = Annotated[Session, Depends(get_db)]\n\n\ndef f(db: DbSession):\n    return db.query(X).all()\n",
        CODE)


@pytest.mark.parametrize("src", [
    # created by hand, not in a `with`
    "def f(db=Depends(get_db)):\n    s = SessionLocal()\n    s.close()\n",
    # sync inner block in an async-injected function
    ("from sqlalchemy.ext.asyncio import AsyncSession\n\nasync def f(db: AsyncSession = Depends(get_async_db)):\n"
    "    with get_db_session() as s:\n        pass\n"),
    # the inner name is used after the block
    "def f(db=Depends(get_db)):\n    with get_db_session() as s:\n        s.query(X).all()\n    return s\n",
    # a return inside a writing managed block would skip the added commit
    "def f(db=Depends(get_db)):\n    with get_db_session() as s:\n        s.add(X())\n        if x:\n            return 1\n",
    # a comment on the `with` line would be lost
    "def f(db=Depends(get_db)):\n    with get_db_session() as s:  # separate\n        s.query(X).all()\n",
])
def test_flagged_without_fix(src):
    check_not_fixed(HEAD + src, CODE)


@pytest.mark.parametrize("inner", [
    "with Session(analytics_engine) as s:",  # another engine
    "with ReportSession() as s:",  # a local sessionmaker (another engine)
])
def test_inner_session_of_another_engine_is_reported_without_fix(inner):
    # the injected session is the house database: unwrapping onto it would read/write elsewhere
    src = HEAD + ("from sqlalchemy.orm import sessionmaker\nReportSession = sessionmaker(bind=analytics_engine)\n\n"
                  f"def f(db=Depends(get_db)):\n    {inner}\n        return s.query(X).all()\n")
    check_not_fixed(src, CODE)
