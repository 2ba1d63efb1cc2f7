"""SES001 manual-session: factory shapes, near misses, exact fixes outside and inside routes."""

from pathlib import Path

import pytest
from helpers import (
    DEFAULT_PATH,
    PROJECT,
    check_fixed,
    check_flagged,
    check_noop,
    check_not_fixed,
    config,
    found,
)

from session_lint.api import fix_source, lint_source

CODE = "SES001"


# -- flagged, with exact positions --------------------------------------------------
@pytest.mark.parametrize("src, expected", [
    # the configured factory, resolved through imports and aliases
    ("from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n", [(4, 10, CODE)]),
    ("from core.database import SessionLocal as SL\n\ndef f():\n    db = SL()\n", [(4, 10, CODE)]),
    ("import core.database as database\n\ndef f():\n    db = database.SessionLocal()\n", [(4, 10, CODE)]),
    ("import core.database\n\ndef f():\n    db = core.database.SessionLocal()\n", [(4, 10, CODE)]),
    ("from core import database\n\ndef f():\n    return database.SessionLocal().query(X).all()\n",
     [(4, 12, CODE)]),
    # a re-export elsewhere in the project (app.database.SessionLocal) is the same factory
    ("from .database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n", [(4, 10, CODE)]),
    (("from core.database import AsyncSessionLocal\n\nasync def f():\n    async with AsyncSessionLocal() as s:\n"
     "        pass\n"), [(4, 16, CODE)]),
    # SQLAlchemy / SQLModel session classes and an immediately called sessionmaker
    ("from sqlalchemy.orm import Session\n\ndef f(engine):\n    with Session(engine) as s:\n        pass\n",
     [(4, 10, CODE)]),
    ("from sqlalchemy.orm import Session\n\ndef f(connection):\n    s = Session(bind=connection)\n",
     [(4, 9, CODE)]),
    ("import sqlalchemy.orm as orm\n\ndef f(e):\n    s = orm.Session(e)\n", [(4, 9, CODE)]),
    ("from sqlmodel import Session\n\ndef f(engine):\n    with Session(engine) as s:\n        pass\n",
     [(4, 10, CODE)]),
    ("from sqlalchemy.orm import sessionmaker\n\ndef f(e):\n    s = sessionmaker(bind=e)()\n", [(4, 9, CODE)]),
    (("from sqlalchemy.ext.asyncio import AsyncSession\n\nasync def f(e):\n    async with AsyncSession(e) as s:\n"
     "        pass\n"), [(4, 16, CODE)]),
    # a sessionmaker bound in this module and called by hand
    ("from sqlalchemy.orm import sessionmaker\nSession = sessionmaker()\n\ndef f():\n    s = Session()\n",
     [(5, 9, CODE)]),
    # a dependency generator driven by hand
    ("from core.database import get_db\n\ndef f():\n    db = next(get_db())\n", [(4, 10, CODE)]),
    # passed inline
    ("from core.database import SessionLocal\n\ndef f():\n    return Service(db=SessionLocal())\n",
     [(4, 23, CODE)]),
    # a one-line wrapper: its callers are flagged, not its body
    (("from core.database import SessionLocal\n\ndef get_session():\n    return SessionLocal()\n\n"
     "def f():\n    db = get_session()\n"), [(7, 10, CODE)]),
    (("from core.database import SessionLocal\n\ndef get_session(): return SessionLocal()\n\n"
     "def f():\n    db = get_session()\n"), [(6, 10, CODE)]),
    # ... unless nobody here calls it
    ("from core.database import SessionLocal\n\ndef get_session():\n    return SessionLocal()\n", [(4, 12, CODE)]),
    # a module-level `with` block is a unit of work, not a global
    ("from core.database import SessionLocal\n\nwith SessionLocal() as db:\n    pass\n", [(3, 6, CODE)]),
    # a context manager class owns its session for one block: manual, not global
    (("from core.database import SessionLocal\n\nclass Unit:\n    def __enter__(self):\n"
     "        self.db = SessionLocal()\n        return self.db\n\n    def __exit__(self, *exc):\n"
     "        self.db.close()\n"), [(5, 19, CODE)]),
    # Depends parameters of something that is not a session do not make it SES003
    (("from fastapi import Depends\nfrom core.database import SessionLocal\n\n"
     "def f(user=Depends(current_user)):\n    db = SessionLocal()\n"), [(5, 10, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(src, expected)


# -- near misses --------------------------------------------------------------------
@pytest.mark.parametrize("src", [
    "import boto3\n\ndef f():\n    s = boto3.Session()\n",
    "import requests\n\ndef f():\n    s = requests.Session()\n",
    "from requests import Session\n\ndef f():\n    with Session() as s:\n        pass\n",
    "class Session:\n    pass\n\ndef f():\n    s = Session()\n",
    "from core.database import get_db_session\n\ndef f():\n    with get_db_session() as db:\n        pass\n",
    "from core.database import SessionLocal\n\nfactory = SessionLocal\n",
    "from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker(bind=engine)\n",
    "from sqlalchemy.orm import scoped_session, sessionmaker\n\nSession = scoped_session(sessionmaker())\n",
    "def f(SessionFactory):\n    return SessionFactory()\n",
    "from core.database import get_db\n\ndef f():\n    return get_db()\n",
    "def f():\n    db = next(iter(rows))\n",
    # module-level / class-level / self bindings are SES002's
    "from core.database import SessionLocal\n\ndb = SessionLocal()\n",
    "from core.database import SessionLocal\n\nclass Repo:\n    db = SessionLocal()\n",
    "from core.database import SessionLocal\n\nclass Repo:\n    def __init__(self):\n        self.db = SessionLocal()\n",
    # an inner session in a function with an injected one is SES003's
    ("from fastapi import Depends\nfrom core.database import SessionLocal, get_db\n\n"
    "def f(db=Depends(get_db)):\n    other = SessionLocal()\n"),
])
def test_not_flagged(src):
    check_noop(src, CODE)


def test_the_session_module_is_exempt():
    src = "from sqlalchemy.orm import sessionmaker\nSessionLocal = sessionmaker()\n\ndef get_db():\n" \
          "    db = SessionLocal()\n    try:\n        yield db\n    finally:\n        db.close()\n"
    check_noop(src, CODE, path=PROJECT / "core" / "database.py")


def test_noqa():
    assert found("from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()  # noqa: SES001\n",
                 CODE) == []


# -- fixes outside routes ---------------------------------------------------------------
def test_fix_try_finally_read_only_is_safe():
    check_fixed(
        """\
        from core.database import SessionLocal


        def count_users():
            db = SessionLocal()
            try:
                return db.query(User).count()
            finally:
                db.close()
        """,
        """\
        from core.database import get_db_session


        def count_users():
            with get_db_session() as db:
                return db.query(User).count()
        """, CODE)


def test_fix_keeps_comments_alias_import_and_drops_rollback_reraise_handler():
    check_fixed(
        """\
        from core.database import SessionLocal as SL


        def rename(user_id, name):
            # one unit of work
            db = SL()
            try:  # may fail
                user = db.get(User, user_id)
                user.name = name  # a write
                db.commit()
            except Exception:
                db.rollback()
                raise
            finally:
                db.close()
        """,
        """\
        from core.database import get_db_session


        def rename(user_id, name):
            # one unit of work
            with get_db_session() as db:  # may fail
                user = db.get(User, user_id)
                user.name = name  # a write
                db.commit()
        """, CODE)


def test_fix_keeps_handlers_that_do_more_without_their_rollback():
    check_fixed(
        """\
        from core.database import SessionLocal


        def create(name):
            db = SessionLocal()
            try:
                db.add(User(name=name))
                db.commit()
            except IntegrityError:
                db.rollback()
                log.warning("duplicate %s", name)
                raise
            finally:
                db.close()
        """,
        """\
        from core.database import get_db_session


        def create(name):
            with get_db_session() as db:
                try:
                    db.add(User(name=name))
                    db.commit()
                except IntegrityError:
                    log.warning("duplicate %s", name)
                    raise
        """, CODE)


def test_write_without_commit_is_unsafe():
    src = """\
        from core.database import SessionLocal


        def stage(name):
            db = SessionLocal()
            try:
                db.add(User(name=name))
            finally:
                db.close()
        """
    check_not_fixed(src, CODE, unsafe=False)
    check_fixed(src, """\
        from core.database import get_db_session


        def stage(name):
            with get_db_session() as db:
                db.add(User(name=name))
        """, CODE, unsafe=True)


@pytest.mark.parametrize("body", [
    # a return before the commit: that path's writes were discarded
    "        if name:\n            db.add(User(name=name))\n            return\n        db.commit()\n",
    # a write after the last commit
    "        db.commit()\n        db.add(User(name=name))\n",
    # handing the session to other code may write
    "        save(db, name)\n",
    # attribute assignment on a loaded object
    "        db.get(User, 1).name = name\n",
    "        db.query(User).filter(User.id == 1).delete()\n",
    "        db.execute(text('delete from users'))\n",
])
def test_writes_make_the_fix_unsafe(body):
    src = ("from core.database import SessionLocal\n\n\ndef job(name):\n    db = SessionLocal()\n    try:\n"
           + body + "    finally:\n        db.close()\n")
    check_not_fixed(src, CODE, unsafe=False)
    assert found(src, CODE) == [(5, 10, CODE)]


def test_swallowing_handler_keeps_its_rollback_and_stays_safe():
    check_fixed(
        """\
        from core.database import SessionLocal


        def job():
            db = SessionLocal()
            try:
                db.add(User())
                db.commit()
            except Exception:
                db.rollback()
                log.exception("failed")
            finally:
                db.close()
        """,
        """\
        from core.database import get_db_session


        def job():
            with get_db_session() as db:
                try:
                    db.add(User())
                    db.commit()
                except Exception:
                    db.rollback()
                    log.exception("failed")
        """, CODE)


def test_swallowing_handler_without_rollback_is_unsafe():
    # the old code discarded the pending add on error; the manager would commit it
    src = """\
        from core.database import SessionLocal


        def job():
            db = SessionLocal()
            try:
                db.add(User())
                db.flush()
                notify()
                db.commit()
            except Exception:
                log.exception("failed")
            finally:
                db.close()
        """
    check_not_fixed(src, CODE, unsafe=False)
    assert found(src, CODE) == [(5, 10, CODE)]


def test_fix_with_factory_is_renamed_to_the_context_manager():
    check_fixed(
        "from core.database import SessionLocal\n\n\ndef f():\n    with SessionLocal() as db:  # read\n"
        "        return db.query(User).all()\n",
        "from core.database import get_db_session\n\n\ndef f():\n    with get_db_session() as db:  # read\n"
        "        return db.query(User).all()\n", CODE)


def test_fix_module_alias_is_reused():
    check_fixed(
        "import core.database as database\n\n\ndef f():\n    with database.SessionLocal() as db:\n"
        "        return db.query(User).all()\n",
        "import core.database as database\n\n\ndef f():\n    with database.get_db_session() as db:\n"
        "        return db.query(User).all()\n", CODE)


def test_fix_async_with():
    check_fixed(
        "from core.database import AsyncSessionLocal\n\n\nasync def f():\n    async with AsyncSessionLocal() as s:\n"
        "        return await s.get(User, 1)\n",
        "from core.database import get_async_session\n\n\nasync def f():\n    async with get_async_session() as s:\n"
        "        return await s.get(User, 1)\n", CODE)


def test_fix_async_try_finally():
    check_fixed(
        """\
        from core.database import AsyncSessionLocal


        async def f():
            session = AsyncSessionLocal()
            try:
                return (await session.execute(select(User))).scalars().all()
            finally:
                await session.close()
        """,
        """\
        from core.database import get_async_session


        async def f():
            async with get_async_session() as session:
                return (await session.execute(select(User))).scalars().all()
        """, CODE, unsafe=True)  # execute counts as a write


def test_fix_never_closed_wraps_the_rest_of_the_block_unsafe():
    src = """\
        from core.database import SessionLocal


        def job(ids):
            log.info("start")
            db = SessionLocal()

            for i in ids:
                db.add(Item(id=i))
            db.commit()
        """
    check_not_fixed(src, CODE, unsafe=False)
    check_fixed(src, """\
        from core.database import get_db_session


        def job(ids):
            log.info("start")
            with get_db_session() as db:
                for i in ids:
                    db.add(Item(id=i))
                db.commit()
        """, CODE, unsafe=True)


def test_fix_closed_at_the_end_without_finally():
    check_fixed(
        "from core.database import SessionLocal\n\n\ndef f():\n    db = SessionLocal()\n    n = db.query(User).count()\n"
        "    db.close()\n    return n\n",
        "from core.database import get_db_session\n\n\ndef f():\n    with get_db_session() as db:\n"
        "        n = db.query(User).count()\n    return n\n", CODE)


def test_fix_next_get_db():
    check_fixed(
        "from core.database import get_db\n\n\ndef f():\n    db = next(get_db())\n    try:\n"
        "        return db.query(User).all()\n    finally:\n        db.close()\n",
        "from core.database import get_db_session\n\n\ndef f():\n    with get_db_session() as db:\n"
        "        return db.query(User).all()\n", CODE)


def test_fix_wrapper_caller_is_not_applied_when_the_wrapper_would_be_reported_instead():
    # Rewriting the only caller leaves the wrapper's own `return SessionLocal()` reported: a fix
    # whose output gains a finding is not applied (the engine's gate), so the file stays as it is.
    before = ("from core.database import SessionLocal\n\n\ndef get_session():\n    return SessionLocal()\n\n\n"
              "def f():\n    with get_session() as db:\n        return db.query(User).all()\n")
    result = fix_source(before, str(DEFAULT_PATH), config(), unsafe_fixes=True)
    assert result.source == before
    assert result.applied == 0
    assert [(d.line, d.column, d.code) for d in result.remaining] == [(9, 10, CODE)]


def test_fix_keeps_other_finally_work():
    check_fixed(
        """\
        from core.database import SessionLocal


        def f(lock):
            db = SessionLocal()
            try:
                return db.query(User).all()
            finally:
                db.close()
                lock.release()
        """,
        """\
        from core.database import get_db_session


        def f(lock):
            with get_db_session() as db:
                try:
                    return db.query(User).all()
                finally:
                    lock.release()
        """, CODE)


@pytest.mark.parametrize("src", [
    # passed inline / returned / stored: the session outlives any block we could write
    "from core.database import SessionLocal\n\ndef f():\n    return Service(db=SessionLocal())\n",
    "from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n    return db\n",
    "from core.database import SessionLocal\n\ndef f(o):\n    db = SessionLocal()\n    o.db = db\n",
    # a comment on the removed line
    ("from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()  # keep me\n    try:\n"
    "        db.query(X).all()\n    finally:\n        db.close()\n"),
    # a comment in the removed finally
    ("from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n    try:\n"
    "        db.query(X).all()\n    finally:\n        # always\n        db.close()\n"),
    # used after close
    ("from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n    try:\n"
    "        db.query(X).all()\n    finally:\n        db.close()\n    print(db)\n"),
    # an async session in sync code (broken anyway)
    "from core.database import AsyncSessionLocal\n\ndef f():\n    s = AsyncSessionLocal()\n    s.close()\n",
    # a one-line suite
    "from core.database import SessionLocal\n\ndef f(x):\n    if x: db = SessionLocal()\n",
])
def test_flagged_without_fix(src):
    check_not_fixed(src, CODE)


# -- fixes in routes ---------------------------------------------------------------------------
def test_route_fix_injects_the_dependency():
    check_fixed(
        """\
        from fastapi import APIRouter
        from core.database import SessionLocal

        router = APIRouter()


        @router.get("/users")
        def list_users(limit: int = 10):
            db = SessionLocal()
            try:
                return db.query(User).limit(limit).all()
            finally:
                db.close()
        """,
        """\
        from fastapi import Depends, APIRouter
        from core.database import get_db
        from sqlalchemy.orm import Session

        router = APIRouter()


        @router.get("/users")
        def list_users(limit: int = 10, db: Session = Depends(get_db)):
            return db.query(User).limit(limit).all()
        """, CODE)


def test_route_fix_with_block_and_multiline_signature():
    check_fixed(
        """\
        from fastapi import FastAPI, Depends
        from core.database import SessionLocal

        app = FastAPI()


        @app.post("/users")
        def create_user(
            name: str,
            email: str,
        ):
            # create it
            with SessionLocal() as session:
                session.add(User(name=name, email=email))
                session.commit()
            return {"ok": True}
        """,
        """\
        from fastapi import FastAPI, Depends
        from core.database import get_db
        from sqlalchemy.orm import Session

        app = FastAPI()


        @app.post("/users")
        def create_user(
            name: str,
            email: str,
            session: Session = Depends(get_db),
        ):
            # create it
            session.add(User(name=name, email=email))
            session.commit()
            return {"ok": True}
        """, CODE)


def test_async_route_fix():
    check_fixed(
        """\
        from fastapi import APIRouter
        from core.database import AsyncSessionLocal

        router = APIRouter()


        @router.get("/users/{user_id}")
        async def get_user(user_id: int):
            async with AsyncSessionLocal() as db:
                return await db.get(User, user_id)
        """,
        """\
        from fastapi import Depends, APIRouter
        from core.database import get_async_db
        from sqlalchemy.ext.asyncio import AsyncSession

        router = APIRouter()


        @router.get("/users/{user_id}")
        async def get_user(user_id: int, db: AsyncSession = Depends(get_async_db)):
            return await db.get(User, user_id)
        """, CODE)


def test_flask_route_is_not_a_fastapi_route():
    check_fixed(
        """\
        from flask import Flask
        from core.database import SessionLocal

        app = Flask(__name__)


        @app.get("/users")
        def list_users():
            with SessionLocal() as db:
                return db.query(User).all()
        """,
        """\
        from flask import Flask
        from core.database import get_db_session

        app = Flask(__name__)


        @app.get("/users")
        def list_users():
            with get_db_session() as db:
                return db.query(User).all()
        """, CODE)


def test_imported_router_counts_as_a_route():
    check_fixed(
        "from app.api import router\nfrom core.database import SessionLocal\n\n\n@router.get('/')\ndef index():\n"
        "    with SessionLocal() as db:\n        return db.query(User).all()\n",
        "from app.api import router\nfrom core.database import get_db\nfrom fastapi import Depends\n"
        "from sqlalchemy.orm import Session\n\n\n@router.get('/')\ndef index(db: Session = Depends(get_db)):\n"
        "    return db.query(User).all()\n", CODE)


# -- found on real projects ---------------------------------------------------------------
@pytest.mark.parametrize("src", [
    # a dependency / context manager that provides sessions (full-stack-fastapi-template's get_db)
    "from sqlmodel import Session\n\ndef get_db():\n    with Session(engine) as session:\n        yield session\n",
    ("from core.database import SessionLocal\n\ndef provide():\n    db = SessionLocal()\n    try:\n        yield db\n"
    "    finally:\n        db.close()\n"),
])
def test_session_providers_are_not_flagged(src):
    check_noop(src, CODE)


def test_no_fix_when_the_helper_does_not_exist_in_the_session_module():
    src = "from core.database import SessionLocal\n\ndef f():\n    with SessionLocal() as db:\n        db.query(X).all()\n"
    check_not_fixed(src, CODE, cfg=config(context_manager="session_scope"))


def test_function_local_factory_import_gets_the_helper_locally():
    # a module-level import could create an import cycle (Netflix/dispatch's CLI imports lazily)
    check_fixed(
        """\
        import click


        def list_plugins():
            from core.database import SessionLocal

            db_session = SessionLocal()
            for record in db_session.query(Plugin):
                click.echo(record.title)
        """,
        """\
        import click


        def list_plugins():
            from core.database import get_db_session

            with get_db_session() as db_session:
                for record in db_session.query(Plugin):
                    click.echo(record.title)
        """, CODE, unsafe=True)


@pytest.mark.parametrize("src", [
    # bound to the caller's connection (mealie's flush hooks, alembic migrations): the helper
    # would open a different connection and transaction
    ("from sqlalchemy import orm\n\ndef hook(mapper, conn, target, extra):\n    session = orm.Session(bind=conn)\n"
    "    session.add(Log())\n    session.commit()\n"),
    ("from sqlalchemy.orm import Session\nfrom alembic import op\n\ndef upgrade():\n    session = Session(bind=op.get_bind())\n"
    "    session.query(X).all()\n"),
    ("from sqlalchemy.orm import sessionmaker\n\ndef f(schema_engine):\n    with sessionmaker(bind=schema_engine)() as s:\n"
    "        s.query(X).all()\n"),
    "from core.database import SessionLocal\n\ndef f(conn):\n    with SessionLocal(bind=conn) as s:\n        s.query(X).all()\n",
])
def test_explicitly_bound_sessions_are_flagged_without_fix(src):
    check_not_fixed(src, CODE)


def test_messages_name_the_factory_and_the_house_pattern():
    from session_lint.api import lint_source
    src = ("from fastapi import FastAPI\nfrom core.database import SessionLocal, AsyncSessionLocal\n\napp = FastAPI()\n\n\n"
           "@app.websocket('/ws')\nasync def ws(socket):\n    db = SessionLocal()\n    db.close()\n\n\n"
           "async def job():\n    s = AsyncSessionLocal()\n    await s.close()\n")
    messages = [d.message for d in lint_source(src, str(DEFAULT_PATH), config()) if d.code == CODE]
    assert messages == ["manual session `SessionLocal()`: use `with get_db_session()`",
                        "manual session `AsyncSessionLocal()`: use `async with get_async_session()`"]


def test_api_route_and_websocket_are_routes():
    check_fixed(
        "from fastapi import FastAPI\nfrom core.database import SessionLocal\n\napp = FastAPI()\n\n\n"
        "@app.api_route('/x', methods=['GET'])\ndef x():\n    with SessionLocal() as db:\n        return db.query(X).all()\n",
        "from fastapi import Depends, FastAPI\nfrom core.database import get_db\nfrom sqlalchemy.orm import Session\n\n"
        "app = FastAPI()\n\n\n@app.api_route('/x', methods=['GET'])\ndef x(db: Session = Depends(get_db)):\n"
        "    return db.query(X).all()\n", CODE)


def test_decorated_wrapper_is_not_a_plain_factory():
    # lru_cache makes it one shared session: the body is what gets reported, not each caller
    check_flagged("from functools import lru_cache\nfrom core.database import SessionLocal\n\n@lru_cache\n"
                  "def get_session():\n    return SessionLocal()\n\ndef f():\n    db = get_session()\n", [(6, 12, CODE)])


@pytest.mark.parametrize("signature, expected", [
    ("x, /, y, *args, z=1, **kw", "x, /, y, *args, z=1, db: Session = Depends(get_db), **kw"),
    ("*, k: int", "*, k: int, db: Session = Depends(get_db)"),
    ("", "db: Session = Depends(get_db)"),
    ("a, b=2", "a, b=2, db: Session = Depends(get_db)"),
    ("\n    a,\n", "\n    a,\n    db: Session = Depends(get_db),\n"),
])
def test_route_fix_signature_shapes(signature, expected):
    src = ("from fastapi import APIRouter\nfrom core.database import SessionLocal\n\nrouter = APIRouter()\n\n\n"
           f"@router.get('/')\ndef index({signature}):\n    with SessionLocal() as db:\n        return db.query(X).all()\n")
    after = ("from fastapi import Depends, APIRouter\nfrom core.database import get_db\nfrom sqlalchemy.orm import Session\n\n"
             f"router = APIRouter()\n\n\n@router.get('/')\ndef index({expected}):\n    return db.query(X).all()\n")
    check_fixed(src, after, CODE)


def test_handler_that_only_reraises_is_kept():
    check_fixed(
        "from core.database import SessionLocal\n\n\ndef f(uid):\n    db = SessionLocal()\n    try:\n"
        "        return db.get(User, uid).name\n    except KeyError:\n        raise\n    finally:\n        db.close()\n",
        "from core.database import get_db_session\n\n\ndef f(uid):\n    with get_db_session() as db:\n        try:\n"
        "            return db.get(User, uid).name\n        except KeyError:\n            raise\n", CODE)


def test_with_ses005_the_values_read_after_the_block_are_copied_in_the_new_with():
    result = fix_source(
        "from core.database import SessionLocal\n\ndef f(uid):\n    db = SessionLocal()\n    try:\n"
        "        user = db.get(User, uid)\n        db.commit()\n    finally:\n        db.close()\n    return user.name\n",
        str(DEFAULT_PATH), config(), unsafe_fixes=True)
    assert result.source == ("from core.database import get_db_session\n\ndef f(uid):\n    with get_db_session() as db:\n"
                             "        user = db.get(User, uid)\n        db.commit()\n        user_name = user.name\n"
                             "    return user_name\n")
    assert result.remaining == []


# -- issue 11 class 2: the new block must hold every later use of the session (atom's `owns_db`) --

def test_no_fix_when_the_session_is_used_after_the_branch_that_opens_it():
    check_not_fixed("""\
        from core.database import SessionLocal


        def f():
            db = None
            owns_db = False
            if db is None:
                db = SessionLocal()
                owns_db = True
            users = db.query(User).all()
            if owns_db:
                db.close()
            return users
        """, CODE)


def test_no_fix_when_a_parameter_gives_the_session_on_another_path():
    check_not_fixed("""\
        from core.database import SessionLocal


        def f(db=None):
            if db is None:
                db = SessionLocal()
                db.query(User).all()
        """, CODE)


def test_no_fix_when_a_loop_reuses_the_session_opened_later_in_its_body():
    check_not_fixed("""\
        from core.database import SessionLocal


        def f(items):
            db = None
            for item in items:
                if db is not None:
                    db.query(User).all()
                db = SessionLocal()
                db.query(User).all()
        """, CODE)


# -- issue 11 class 9: advice names only helpers the project has (polar, full-stack-fastapi-template) --

def test_advice_says_no_context_manager_is_found_when_the_configured_one_does_not_exist():
    src = "from core.database import SessionLocal\n\n\ndef job():\n    db = SessionLocal()\n    db.close()\n"
    messages = [d.message for d in lint_source(src, str(DEFAULT_PATH), config(context_manager="session_scope"))]
    assert messages == ["manual session `SessionLocal()`: open it with a context manager that commits, rolls back "
                        "and closes it (none found: `session_scope` is not defined in `core.database`; "
                        "set `context-manager`)"]


def test_advice_says_no_dependency_is_found_when_the_configured_one_does_not_exist():
    src = ("from fastapi import APIRouter\nfrom core.database import SessionLocal\n\nrouter = APIRouter()\n\n\n"
           "@router.get('/')\ndef index():\n    db = SessionLocal()\n    try:\n        return db.query(User).all()\n"
           "    finally:\n        db.close()\n")
    messages = [d.message for d in lint_source(src, str(DEFAULT_PATH), config(dependency="app.deps.get_session"))]
    assert messages == ["manual session `SessionLocal()`: inject it with a dependency that yields a session "
                        "(none found: `get_session` is not defined in `app.deps`; set `dependency`)"]


# A session made on its own engine (polar's scripts: `create_async_sessionmaker(engine)` on a script engine)
# is ended where it starts; the advice names no house helper, which would open it on another engine.
@pytest.mark.parametrize("src, message", [
    ("from sqlalchemy.orm import sessionmaker\n\n\ndef job(engine):\n    maker = sessionmaker(bind=engine)\n"
     "    db = maker()\n    try:\n        db.query(User).all()\n    finally:\n        db.close()\n",
     "manual session `maker()`: use `with maker() as db, db.begin():` (it commits, rolls back and closes the "
     "session, on the engine it was made with)"),
    ("from sqlalchemy.ext.asyncio import async_sessionmaker\n\n\nasync def job(engine):\n"
     "    maker = async_sessionmaker(engine)\n    async with maker() as session:\n        await session.flush()\n",
     "manual session `maker()`: use `async with maker() as session, session.begin():` (it commits, rolls back and "
     "closes the session, on the engine it was made with)"),
    ("from core.database import SessionLocal\n\n\ndef job(other):\n    s = SessionLocal(bind=other)\n    s.close()\n",
     "manual session `SessionLocal()`: use `with SessionLocal(bind=other) as s, s.begin():` (it commits, rolls "
     "back and closes the session, on the engine it was made with)"),
    ("from sqlalchemy.orm import Session\n\n\ndef job(engine):\n    Session(\n        engine,\n    ).close()\n",
     "manual session `Session()`: use `with Session(...) as session, session.begin():` (it commits, rolls back "
     "and closes the session, on the engine it was made with)"),
    # the house factory keeps its helper
    ("from core.database import SessionLocal\n\n\ndef job():\n    db = SessionLocal()\n    db.close()\n",
     "manual session `SessionLocal()`: use `with get_db_session()`"),
])
def test_advice_for_a_session_on_its_own_engine_keeps_that_engine(src, message):
    assert [d.message for d in lint_source(src, str(DEFAULT_PATH), config())] == [message]


# -- factory identity (issue 11, class 1): a namesake on another engine is not the configured factory ---
@pytest.mark.parametrize("src, expected", [
    # re-exported by a project module (tests/project/app/database.py: `import SessionLocal as SessionLocal`)
    ("from app.database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n", [(4, 10, CODE)]),
    ("from app import database\n\ndef f():\n    db = database.SessionLocal()\n", [(4, 10, CODE)]),
])
def test_reexported_factory_is_the_configured_one(src, expected):
    check_flagged(src, expected)


def test_relative_import_of_the_session_module():
    src = "from .database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n"
    check_flagged(src, [(4, 10, CODE)], path=PROJECT / "core" / "services.py")


def test_reexported_factory_gets_the_house_fix():
    check_fixed(
        """\
        from app.database import SessionLocal


        def count():
            with SessionLocal() as db:
                return db.query(User).count()
        """,
        """\
        from core.database import get_db_session


        def count():
            with get_db_session() as db:
                return db.query(User).count()
        """, CODE)


SCRIPT_OWN_FACTORY = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///dev.db"))


def seed():
    db = SessionLocal()
    try:
        db.add(User(name="admin"))
        db.commit()
    finally:
        db.close()
"""


def test_script_with_its_own_sessionmaker_is_reported_without_fix():
    # atom's scripts: `get_db_session()` would seed the production database instead of dev.db
    check_flagged(SCRIPT_OWN_FACTORY, [(8, 10, CODE)])
    check_not_fixed(SCRIPT_OWN_FACTORY, CODE)


def test_wrapper_of_a_local_sessionmaker_is_reported_without_fix():
    # the raw session of the test's own factory is made in the wrapper: reported there, once
    # (SPEC §3: at the factory call), not at each caller
    src = ("from sqlalchemy.orm import sessionmaker\n\nTestingSession = sessionmaker(bind=test_engine)\n\n"
           "def new_session():\n    return TestingSession()\n\ndef f():\n    with new_session() as db:\n"
           "        db.query(X).all()\n")
    check_flagged(src, [(6, 12, CODE)])
    check_not_fixed(src, CODE)


# atom scripts/smoke_test_agent_journey.py: the configured factory imported under another name inside
# main(), after a bootstrap pointing core.database at an isolated database through the environment
SMOKE_LOCAL_ALIAS = """\
import os

os.environ["DATABASE_URL"] = "sqlite:///journey.db"


def main():
    bootstrap()

    from core.database import SessionLocal as CoreSessionLocal  # bound via env

    db = CoreSessionLocal()
    try:
        asyncio.run(run_all(db))
    finally:
        db.close()
"""


def test_function_local_aliased_factory_is_reported():
    check_flagged(SMOKE_LOCAL_ALIAS, [(11, 10, CODE)])


def test_function_local_aliased_factory_fix_joins_the_local_import():
    # the helper comes from the module the factory came from, where it was imported (after the
    # environment bootstrap): same engine; unsafe, the manager commits at exit
    check_fixed(SMOKE_LOCAL_ALIAS, SMOKE_LOCAL_ALIAS.replace(
        "from core.database import SessionLocal as CoreSessionLocal  # bound via env\n\n"
        "    db = CoreSessionLocal()\n    try:\n        asyncio.run(run_all(db))\n    finally:\n        db.close()\n",
        "from core.database import get_db_session  # bound via env\n\n"
        "    with get_db_session() as db:\n        asyncio.run(run_all(db))\n"), CODE, unsafe=True)
    check_not_fixed(SMOKE_LOCAL_ALIAS, CODE, unsafe=False)


@pytest.mark.parametrize("src", [
    # a function-local alias of another module's namesake, or of the factory in another function
    ("def main():\n    from app.scratch_db import SessionLocal as CoreSessionLocal\n\n"
     "    db = CoreSessionLocal()\n    db.close()\n"),
    ("def a():\n    from core.database import SessionLocal as CoreSessionLocal\n\n"
     "def b(CoreSessionLocal):\n    db = CoreSessionLocal()\n    db.close()\n"),
])
def test_function_local_alias_near_misses(src):
    check_noop(src, CODE)


# atom tests/test_timeline_prediction.py: a test case builds its own factory on an in-memory engine in
# setUp and opens the session from the attribute
TIMELINE_SETUP = """\
import unittest

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker


class TestTimelinePrediction(unittest.TestCase):
    def setUp(self):
        self.engine = create_engine("sqlite:///:memory:")
        self.SessionLocal = sessionmaker(bind=self.engine)
        self.db = self.SessionLocal()
        self.db.commit()

    def tearDown(self):
        self.db.close()
"""


def test_factory_built_on_self_in_setup_is_reported_at_the_call():
    check_flagged(TIMELINE_SETUP, [(11, 19, CODE)])
    check_not_fixed(TIMELINE_SETUP, CODE)


@pytest.mark.parametrize("src, expected", [
    # a class-wide factory bound in setUpClass, opened in a test
    (("from sqlalchemy.orm import sessionmaker\n\nclass T:\n    @classmethod\n    def setUpClass(cls):\n"
      "        cls.Session = sessionmaker(bind=cls.engine)\n\n    def test_x(self):\n"
      "        with self.Session() as s:\n            s.query(X).all()\n"), [(9, 14, CODE)]),
    # a repository keeping its own factory (and a scoped one) from __init__
    (("from sqlalchemy.orm import scoped_session, sessionmaker\n\nclass Repo:\n    def __init__(self, e):\n"
      "        self.make = scoped_session(sessionmaker(bind=e))\n\n    def count(self):\n"
      "        s = self.make()\n        try:\n            return s.query(X).count()\n        finally:\n"
      "            s.close()\n"), [(8, 13, CODE)]),
    # a class-body factory
    (("from sqlalchemy.orm import sessionmaker\n\nclass Repo:\n    Session = sessionmaker()\n\n"
      "    def count(self):\n        with self.Session() as s:\n            return s.query(X).count()\n"),
     [(7, 14, CODE)]),
])
def test_factories_bound_on_the_class_or_instance(src, expected):
    assert found(src, CODE) == expected


@pytest.mark.parametrize("src", [
    # given from outside, or rebound to something we do not know
    ("class Repo:\n    def __init__(self, factory):\n        self.SessionLocal = factory\n\n"
     "    def f(self):\n        db = self.SessionLocal()\n        db.close()\n"),
    ("from sqlalchemy.orm import sessionmaker\n\nclass Repo:\n    def __init__(self, e, factory=None):\n"
     "        self.S = sessionmaker(bind=e)\n        if factory:\n            self.S = factory\n\n"
     "    def f(self):\n        db = self.S()\n        db.close()\n"),
    ("from sqlalchemy.orm import sessionmaker\n\nclass Repo:\n    def __init__(self, e):\n"
     "        self.S, self.engine = pick(e)\n        self.S = sessionmaker(bind=e)\n\n"
     "    def f(self):\n        db = self.S()\n        db.close()\n"),
    # another object's attribute; a static method's first parameter is not the instance
    ("from sqlalchemy.orm import sessionmaker\n\nclass Repo:\n    def __init__(self, e):\n"
     "        self.S = sessionmaker(bind=e)\n\n    def f(self, other):\n        db = other.S()\n        db.close()\n"),
    ("from sqlalchemy.orm import sessionmaker\n\nclass Repo:\n    def __init__(self, e):\n"
     "        self.S = sessionmaker(bind=e)\n\n    @staticmethod\n    def f(self):\n        db = self.S()\n"
     "        db.close()\n"),
    # the registry itself, read as an attribute, opens nothing
    ("from sqlalchemy.orm import sessionmaker\n\nclass Repo:\n    def __init__(self, e):\n"
     "        self.S = sessionmaker(bind=e)\n\n    def factory(self):\n        return self.S\n"),
])
def test_attribute_factories_near_misses(src):
    check_noop(src, CODE)


# dispatch src/dispatch/decorators.py: a scoped_session registry built per scheduled-task call over
# a sessionmaker of its own, called by hand (and one per organization schema)
DISPATCH_SCOPED_REGISTRY = """\
from sqlalchemy.orm import scoped_session, sessionmaker


def _execute_task_in_project_context(func, *args, **kwargs):
    CoreSession = scoped_session(sessionmaker(bind=engine))
    db_session = CoreSession()
    try:
        for organization in get_all(db_session=db_session):
            OrgSession = scoped_session(sessionmaker(bind=schema_engine))
            schema_session = OrgSession()
            try:
                func(*args, db_session=schema_session, **kwargs)
            finally:
                schema_session.close()
                OrgSession.remove()
    finally:
        db_session.close()
        CoreSession.remove()
"""


def test_local_scoped_session_registry_called_by_hand_is_reported_at_the_call():
    check_flagged(DISPATCH_SCOPED_REGISTRY, [(6, 18, CODE), (10, 30, CODE)])
    check_not_fixed(DISPATCH_SCOPED_REGISTRY, CODE)


@pytest.mark.parametrize("src, expected", [
    # immediately called, and with the factory passed by keyword
    ("from sqlalchemy.orm import scoped_session, sessionmaker\n\ndef f(e):\n"
     "    s = scoped_session(sessionmaker(bind=e))()\n    s.close()\n", [(4, 9, CODE)]),
    ("from sqlalchemy.orm import scoped_session, sessionmaker\n\ndef f(e):\n"
     "    S = scoped_session(session_factory=sessionmaker(bind=e))\n    s = S()\n    s.close()\n", [(5, 9, CODE)]),
    # building the registry creates no session; a registry over a factory we cannot see is not known to be one
    ("from sqlalchemy.orm import scoped_session, sessionmaker\n\ndef f(e):\n"
     "    S = scoped_session(sessionmaker(bind=e))\n    return S\n", []),
    ("from sqlalchemy.orm import scoped_session\n\ndef f(factory):\n"
     "    S = scoped_session(factory)\n    s = S()\n    s.close()\n", []),
])
def test_scoped_session_registries(src, expected):
    assert found(src, CODE) == expected


# atom tests/test_covpush_w86_identity_resolver.py: a helper returning an immediately called
# sessionmaker on the test's engine, called by two tests to read what was committed
W86_FRESH_SESSION = """\
from sqlalchemy.orm import sessionmaker


def _fresh_session(engine):
    return sessionmaker(bind=engine)()


def test_resolve_new_customer_with_links(db, engine):
    fresh = _fresh_session(engine)
    row = fresh.query(Customer).first()
    fresh.close()
    assert row is not None


def test_resolve_new_customer_without_links_still_persisted(db, engine):
    engine2 = engine
    fresh = _fresh_session(engine2)
    fresh.close()
"""


def test_wrapper_returning_an_immediately_called_sessionmaker_is_reported_in_the_wrapper():
    check_flagged(W86_FRESH_SESSION, [(5, 12, CODE)])
    check_not_fixed(W86_FRESH_SESSION, CODE)


@pytest.mark.parametrize("src, expected", [
    # the configured factory bound to another engine by the wrapper: not the house session either
    (("from core.database import SessionLocal\n\ndef fresh(engine):\n    return SessionLocal(bind=engine)\n\n"
      "def f(e):\n    s = fresh(e)\n    s.close()\n"), [(4, 12, CODE)]),
    # a wrapper of the configured factory stays reported at its callers (where the helper replaces it)
    (("from core.database import SessionLocal\n\ndef get_session():\n    return SessionLocal()\n\n"
      "def f():\n    s = get_session()\n    s.close()\n\ndef g():\n    s = get_session()\n    s.close()\n"),
     [(7, 9, CODE), (11, 9, CODE)]),
    # a same-named function of another module is not this file's wrapper: its call is not reported
    (("from sqlalchemy.orm import sessionmaker\nfrom app.helpers import _fresh_session\n\n"
      "def f(engine):\n    s = _fresh_session(engine)\n    s.close()\n"), []),
])
def test_where_wrapper_sessions_are_reported(src, expected):
    assert found(src, CODE) == expected


@pytest.mark.parametrize("src", [
    # onyx backend/onyx/evals/eval.py: a rollback-only factory bound by a `with`
    ("from core.database import SessionLocal\n\ndef run(engine):\n"
     "    with isolated_ephemeral_session_factory(engine) as SessionLocal:\n"
     "        with SessionLocal() as db:\n            db.query(X).all()\n"),
    # a parameter, an attribute, another project module's namesake (another database)
    "def f(SessionLocal):\n    db = SessionLocal()\n    db.close()\n",
    "class Repo:\n    def f(self):\n        with self.SessionLocal() as db:\n            db.query(X).all()\n",
    "from app.scratch_db import SessionLocal\n\ndef f():\n    with SessionLocal() as db:\n        db.query(X).all()\n",
    "import app.scratch_db as scratch\n\ndef f():\n    db = scratch.SessionLocal()\n    db.close()\n",
    # a module the project does not have: nothing says it re-exports the factory
    "from elsewhere.db import SessionLocal\n\ndef f():\n    db = SessionLocal()\n    db.close()\n",
])
def test_namesakes_of_the_configured_factory_are_not_it(src):
    check_noop(src, CODE)


# -- event listeners (issue 11, class 9a): a session on the event's own connection is the documented pattern ---
@pytest.mark.parametrize("src", [
    # mealie mealie/db/models/users/user_to_recipe.py: a mapper event
    ("from sqlalchemy import event\nfrom sqlalchemy.orm import Session\n\n"
     "@event.listens_for(UserToRecipe, \"after_insert\")\n@event.listens_for(UserToRecipe, \"after_delete\")\n"
     "def update_rating(_, connection, target):\n    session = Session(bind=connection)\n"
     "    update_recipe_rating(session, target)\n    session.commit()\n"),
    # mealie mealie/db/models/household/shopping_list.py: after_flush, on the flushing session's connection
    ("from sqlalchemy import event, orm\n\n@event.listens_for(orm.Session, \"after_flush\")\n"
     "def update_shopping_lists(session: orm.Session, _):\n    local_session = orm.Session(bind=session.connection())\n"
     "    try:\n        local_session.begin()\n        local_session.commit()\n    finally:\n        local_session.close()\n"),
    # registered with event.listen in the same module, positional bind, an immediately called sessionmaker
    ("from sqlalchemy import event\nfrom sqlalchemy.orm import Session\n\ndef audit(session, flush_context):\n"
     "    with Session(session.connection()) as s:\n        s.add(Log())\n\nevent.listen(Session, \"after_flush\", audit)\n"),
    ("import sqlalchemy as sa\nfrom sqlalchemy.orm import sessionmaker\n\ndef audit(session, ctx):\n"
     "    s = sessionmaker(bind=session.connection())()\n    s.add(Log())\n\nsa.event.listen(Model, \"after_flush\", audit)\n"),
    # atom backend/core/operation_tracker_hooks.py: a local sessionmaker on the event's connection
    ("from sqlalchemy import event\n\ndef register():\n    @event.listens_for(Tracker, \"after_update\")\n"
     "    def on_update(mapper, connection, target):\n        from sqlalchemy.orm import sessionmaker\n"
     "        Session = sessionmaker(bind=connection)\n        db = Session()\n        db.close()\n"),
    # a mapper-event handler registered elsewhere: (mapper, connection, target)
    ("from sqlalchemy.orm import Session\n\ndef after_insert(mapper, connection, target):\n"
     "    Session(bind=connection).add(Log(target.id))\n"),
])
def test_event_listener_sessions_on_the_event_connection_are_not_reported(src):
    check_noop(src, CODE)


@pytest.mark.parametrize("src, expected", [
    # a listener that opens a session on another engine: not the event's connection
    ("from sqlalchemy import event\nfrom sqlalchemy.orm import Session\n\n@event.listens_for(Model, \"after_insert\")\n"
     "def hook(mapper, connection, target):\n    s = Session(bind=other_engine)\n    s.close()\n", [(6, 9, CODE)]),
    # bound to a parameter, but not in a listener (a method taking (self, conn, data))
    ("from sqlalchemy.orm import Session\n\nclass Job:\n    def run(self, conn, data):\n"
     "        s = Session(bind=conn)\n        s.close()\n", [(5, 13, CODE)]),
    # `listen` of another library does not make a listener
    ("from blinker import listen\nfrom sqlalchemy.orm import Session\n\ndef audit(session, ctx):\n"
     "    s = Session(bind=session.connection())\n    s.close()\n\nlisten(Model, \"after_flush\", audit)\n",
     [(5, 9, CODE)]),
])
def test_sessions_that_only_look_like_event_listener_ones_are_reported(src, expected):
    check_flagged(src, expected)


# -- missed reports (issue 11, class 11): sessions of factories built by hand are reported, never fixed ---
CELERY_LOCAL_SESSIONMAKER = """\
from sqlalchemy.orm import sessionmaker


def nightly_cleanup(engine):
    Session = sessionmaker(bind=engine)
    session = Session()
    try:
        session.query(Job).delete()
        session.commit()
    finally:
        session.close()
"""

BUILT_BY_A_PROJECT_FUNCTION = """\
from app.scratch_db import make_sessionmaker

SessionLocal = make_sessionmaker(config.url)


def job():
    with SessionLocal() as db:
        db.query(Job).all()
"""


@pytest.mark.parametrize("src, expected", [
    # a Celery job / startup hook binding its own sessionmaker (atom check_db_standalone.py, onyx tests)
    (CELERY_LOCAL_SESSIONMAKER, [(6, 15, CODE)]),
    # dispatch src/dispatch/database/manage.py: SQLAlchemy's sessionmaker re-exported by a project module
    ("from core.database import sessionmaker\n\ndef init_database(engine):\n    session = sessionmaker(bind=engine)\n"
     "    db_session = session()\n", [(5, 18, CODE)]),
    # the with-target name of the configured factory rebound in the function (onyx tests' `SessionLocal`)
    ("from sqlalchemy.orm import sessionmaker\n\ndef test_usage(engine):\n    SessionLocal = sessionmaker(bind=engine)\n"
     "    with SessionLocal() as db:\n        db.query(X).all()\n", [(5, 10, CODE)]),
    # a nested function calling its enclosing function's factory (onyx evals' `Maker`)
    ("from sqlalchemy.orm import sessionmaker\n\ndef factory(conn):\n    Maker = sessionmaker(bind=conn)\n\n"
     "    def make_session():\n        s = Maker()\n        s.begin_nested()\n        return s\n\n    yield make_session\n",
     [(7, 13, CODE)]),
    # a project function returning a sessionmaker: in another module, and in this one
    (BUILT_BY_A_PROJECT_FUNCTION, [(7, 10, CODE)]),
    ("from sqlalchemy.orm import sessionmaker\n\ndef make_factory(url):\n    return sessionmaker(bind=create_engine(url))\n\n"
     "def main():\n    Session = make_factory(URL)\n    db = Session()\n    db.close()\n", [(8, 10, CODE)]),
    # a dependency generator of the project driven by hand, whichever module defines it
    ("from core.database import get_db\n\ndef f():\n    gen = get_db()\n    db = next(gen)\n", [(5, 10, CODE)]),
    ("from app.scratch_db import provide_session\n\ndef f():\n    db = next(provide_session())\n", [(4, 10, CODE)]),
    ("from sqlalchemy.orm import Session\n\ndef get_session():\n    with Session(engine) as session:\n        yield session\n\n"
     "def seed():\n    session = next(get_session())\n", [(8, 15, CODE)]),
])
def test_sessions_of_factories_built_by_hand_are_reported(src, expected):
    check_flagged(src, expected)


@pytest.mark.parametrize("src", [
    CELERY_LOCAL_SESSIONMAKER,
    BUILT_BY_A_PROJECT_FUNCTION,
    "from core.database import get_db\n\ndef f():\n    gen = get_db()\n    db = next(gen)\n    db.query(X).all()\n    db.close()\n",
    "from app.scratch_db import provide_session\n\ndef f():\n    db = next(provide_session())\n    db.query(X).all()\n    db.close()\n",
])
def test_sessions_of_factories_built_by_hand_get_no_fix(src):
    check_not_fixed(src, CODE)


@pytest.mark.parametrize("src", [
    # a generator that yields something else, a builder that returns something else
    "from app.scratch_db import rows\n\ndef f():\n    first = next(rows())\n",
    "def f(it):\n    gen = iter(it)\n    first = next(gen)\n",
    ("def make_client(url):\n    return Client(url)\n\ndef main():\n    Client = make_client(URL)\n"
     "    c = Client()\n"),
    # the factory itself (not called), and a name rebound to something else before the call
    "from sqlalchemy.orm import sessionmaker\n\ndef f(engine):\n    Session = sessionmaker(bind=engine)\n    return Session\n",
])
def test_calls_that_only_look_like_built_factories_are_not_reported(src):
    check_noop(src, CODE)


# -- real shapes from rush86999/atom (issue 11) -------------------------------------------------
def test_websocket_handler_gets_a_scoped_block_not_an_injected_session():
    # the injected session would hold a connection for the socket's whole life; the old one was
    # closed right after authentication
    check_fixed(
        """\
        from fastapi import APIRouter, WebSocket
        from core.database import SessionLocal

        router = APIRouter()


        @router.websocket("/ws")
        async def stream(websocket: WebSocket, token: str):
            db = SessionLocal()
            try:
                user = authenticate(db, token)
            finally:
                db.close()
            while True:
                await websocket.send_text(await websocket.receive_text())
        """,
        """\
        from fastapi import APIRouter, WebSocket
        from core.database import get_db_session

        router = APIRouter()


        @router.websocket("/ws")
        async def stream(websocket: WebSocket, token: str):
            with get_db_session() as db:
                user = authenticate(db, token)
            while True:
                await websocket.send_text(await websocket.receive_text())
        """, CODE, unsafe=True)


def test_route_awaiting_an_llm_after_closing_keeps_a_scoped_block():
    check_fixed(
        """\
        from fastapi import APIRouter
        from core.database import SessionLocal

        router = APIRouter()


        @router.post("/chat")
        async def chat(prompt: str):
            with SessionLocal() as db:
                history = db.query(Message).all()
            answer = await llm.complete(prompt, history)
            return {"answer": answer}
        """,
        """\
        from fastapi import APIRouter
        from core.database import get_db_session

        router = APIRouter()


        @router.post("/chat")
        async def chat(prompt: str):
            with get_db_session() as db:
                history = db.query(Message).all()
            answer = await llm.complete(prompt, history)
            return {"answer": answer}
        """, CODE)


def test_daemon_loop_with_handler_swallowing_a_failed_commit_is_not_fixed():
    # inside `with get_db_session()` the failed flush would raise PendingRollbackError at exit and
    # kill the loop; a non-database error would commit what the old code discarded
    check_not_fixed(
        """\
        from core.database import SessionLocal


        def worker():
            while True:
                db = SessionLocal()
                try:
                    try:
                        db.add(Heartbeat())
                        db.commit()
                    except Exception as exc:
                        logger.error("heartbeat failed: %s", exc)
                finally:
                    db.close()
                time.sleep(30)
        """, CODE)


def test_outer_handler_swallowing_without_rollback_is_not_fixed():
    check_not_fixed(
        """\
        from core.database import SessionLocal


        def record(event):
            db = SessionLocal()
            try:
                db.add(Event(name=event))
                db.commit()
            except Exception as exc:
                logger.warning("could not record %s: %s", event, exc)
            finally:
                db.close()
        """, CODE)


@pytest.mark.parametrize("use", [
    "sessions.append(db)",  # a stress test that intentionally keeps sessions open
    "pool[i] = db",
    "self.db = db",
    "self.repo = Repo(db)",
    "threading.Thread(target=work, args=(db,)).start()",
    "asyncio.create_task(work(db))",
    "executor.submit(work, db)",
    "callbacks.append(lambda: db.query(X).all())",
    "rows = (r for r in db.query(X))",
])
def test_session_meant_to_stay_open_is_not_wrapped(use):
    check_not_fixed(f"from core.database import SessionLocal\n\n\ndef hold(self, i):\n"
                    f"    db = SessionLocal()\n    {use}\n", CODE)


def test_closure_over_the_session_is_not_wrapped():
    check_not_fixed(
        """\
        from core.database import SessionLocal


        def schedule():
            db = SessionLocal()
            try:
                def job():
                    return db.query(X).count()
                scheduler.add(job)
            finally:
                db.close()
        """, CODE)


def test_no_fix_inside_another_session_block():
    check_not_fixed(
        """\
        from core.database import SessionLocal, get_db_session


        def copy():
            with get_db_session() as outer:
                db = SessionLocal()
                try:
                    return db.query(X).count() + outer.query(Y).count()
                finally:
                    db.close()
        """, CODE)


def test_no_fix_when_tests_patch_the_factory_by_name():
    # atom: ~320 `patch("<module>.SessionLocal")` in 52 test files (tests/project/tests/reports_patching.py)
    # hand the module a test session; after a rewrite to the house helper they would no longer
    # intercept anything and the code would open real sessions under test
    check_not_fixed(
        """\
        from core.database import SessionLocal


        def count_users():
            db = SessionLocal()
            try:
                return db.query(User).count()
            finally:
                db.close()
        """, CODE, path=PROJECT / "app" / "reports.py")


def test_helper_import_joins_the_factory_import_below_the_sys_path_bootstrap():
    # atom's scripts put the backend on sys.path (or load .env) first: an import above that fails,
    # or reads another database URL
    check_fixed(
        """\
        import os
        import sys

        sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

        from core.database import SessionLocal


        def main():
            db = SessionLocal()
            try:
                print(db.query(User).count())
            finally:
                db.close()
        """,
        """\
        import os
        import sys

        sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

        from core.database import get_db_session


        def main():
            with get_db_session() as db:
                print(db.query(User).count())
        """, CODE)


def test_no_fix_when_the_helper_import_cannot_join_one_below_an_environment_bootstrap():
    check_not_fixed(
        """\
        import os

        os.environ.setdefault("DATABASE_URL", "sqlite:///./test.db")

        from .database import SessionLocal


        def main():
            with SessionLocal() as db:
                print(db.query(User).count())
        """, CODE)


# -- providers (atom's tests): what makes a function a session provider -------------------------

def test_a_fixture_yielding_the_session_in_a_tuple_is_a_provider():
    check_noop("""\
        import pytest
        from sqlalchemy.orm import sessionmaker


        @pytest.fixture
        def db(engine):
            session = sessionmaker(bind=engine)()
            yield session, Item
            session.close()
        """, CODE)


def test_a_nested_provider_does_not_exempt_the_function_defining_it():
    check_flagged("""\
        from contextlib import contextmanager
        from sqlalchemy.orm import sessionmaker


        def test_runner(engine):
            @contextmanager
            def fake_db():
                session = sessionmaker(bind=engine)()
                try:
                    yield session
                finally:
                    session.close()

            session = sessionmaker(bind=engine)()
            session.add(Agent())
        """, [(14, 15, CODE)])


def test_test_factory_bound_to_another_database_is_not_replaced():
    # atom's tests: `SessionLocal = sessionmaker(bind=db_session.bind)` / an in-memory test database
    check_not_fixed(
        """\
        from sqlalchemy.orm import sessionmaker


        def test_metrics(db_session):
            SessionLocal = sessionmaker(bind=db_session.bind)
            session = SessionLocal()
            try:
                assert session.query(Metric).count() == 1
            finally:
                session.close()
        """, CODE)


def test_session_passed_inline_gets_a_scoped_block_unsafe():
    src = """\
        from core.database import SessionLocal


        def refresh():
            # nightly
            StatsRepository(SessionLocal()).refresh_counts(limit=10)
            notify_admins()
        """
    check_not_fixed(src, CODE, unsafe=False)
    check_fixed(src, """\
        from core.database import get_db_session


        def refresh():
            # nightly
            with get_db_session() as db:
                StatsRepository(db).refresh_counts(limit=10)
            notify_admins()
        """, CODE, unsafe=True)


@pytest.mark.parametrize("stmt", [
    "return Repo(SessionLocal()).count()",  # the result may be ORM objects of the closed session
    "count = Repo(SessionLocal()).count()",
    "Worker(SessionLocal()).start()",  # a thread keeps it
    "sessions.append(SessionLocal())",  # a stress test keeping sessions open
    "await Repo(SessionLocal()).sync()",
])
def test_session_passed_inline_that_may_outlive_the_statement_is_not_fixed(stmt):
    check_not_fixed(f"from core.database import SessionLocal\n\n\nasync def f(db):\n    {stmt}\n", CODE)


def test_helper_is_imported_from_the_module_the_file_imports_the_factory_from(tmp_path):
    # atom: the configuration says `backend.core.database`, the code runs with backend/ on its path
    # and imports `core.database`; importing `backend.core.database` would load a second module
    backend = tmp_path / "backend"
    (backend / "core").mkdir(parents=True)
    (backend / "__init__.py").write_text("")
    (backend / "core" / "__init__.py").write_text("")
    (backend / "core" / "database.py").write_text((PROJECT / "core" / "database.py").read_text())
    cfg = config(root=tmp_path, session_module="backend.core.database")
    check_fixed(
        """\
        from core.database import SessionLocal


        def count_users():
            with SessionLocal() as db:
                return db.query(User).count()
        """,
        """\
        from core.database import get_db_session


        def count_users():
            with get_db_session() as db:
                return db.query(User).count()
        """, CODE, path=backend / "core" / "jobs.py", cfg=cfg)


def test_handler_that_logs_then_rolls_back_and_swallows_keeps_its_rollback():
    check_fixed(
        """\
        from core.database import SessionLocal


        def record(event):
            db = SessionLocal()
            try:
                db.add(Event(name=event))
                db.commit()
            except Exception as exc:
                logger.warning("could not record %s: %s", event, exc)
                db.rollback()
            finally:
                db.close()
        """,
        """\
        from core.database import get_db_session


        def record(event):
            with get_db_session() as db:
                try:
                    db.add(Event(name=event))
                    db.commit()
                except Exception as exc:
                    logger.warning("could not record %s: %s", event, exc)
                    db.rollback()
        """, CODE)


def test_an_unresolved_name_spelled_like_the_factory_is_not_it():
    # no import binds it (atom's advanced_workflow_orchestrator.py uses an undefined SessionLocal)
    check_noop("def f():\n    db = SessionLocal()\n    db.close()\n", CODE)


def test_never_closed_session_block_ends_after_its_last_use():
    # dispatch's `plugins list` CLI: the report printed after the last query needs no connection
    check_fixed("""\
        from core.database import SessionLocal


        def list_plugins():
            db = SessionLocal()
            rows = [p.title for p in db.query(Plugin).all()]
            click.secho(tabulate(rows))
            send_report(rows)
        """, """\
        from core.database import get_db_session


        def list_plugins():
            with get_db_session() as db:
                rows = [p.title for p in db.query(Plugin).all()]
            click.secho(tabulate(rows))
            send_report(rows)
        """, CODE, unsafe=True)


def test_session_module_named_from_another_root_is_the_same_factory():
    # atom: `--init` names the module backend.core.database, the code imports core.database (same file)
    cfg = config(session_module="tests.project.core.database")
    check_flagged("from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n", [(4, 10, CODE)], cfg=cfg)
    check_noop("from app.scratch_db import SessionLocal\n\ndef f():\n    db = SessionLocal()\n", CODE, cfg=cfg)


def test_session_module_named_above_every_root_is_the_same_factory():
    # atom: `project.core.database` is found by no search root; core.database's file lies at that path
    cfg = config(session_module="project.core.database")
    check_flagged("def f():\n    from core.database import SessionLocal\n    db = SessionLocal()\n", [(3, 10, CODE)], cfg=cfg)
    check_noop("from app.scratch_db import SessionLocal\n\ndef f():\n    db = SessionLocal()\n", CODE, cfg=cfg)



def test_an_annotated_session_yielded_by_a_dependency_override_is_not_reported():
    # atom tests/test_pilot_change_password.py: `db: Session = TestSession()` in override_get_db
    check_noop("""\
        from sqlalchemy.orm import Session, sessionmaker


        def client(engine):
            TestSession = sessionmaker(bind=engine)

            def override_get_db():
                db: Session = TestSession()
                try:
                    yield db
                finally:
                    db.close()
        """, CODE)


def test_factory_reached_through_another_module_is_not_replaced():
    # atom's tests: `with tfe.SessionLocal() as db:` where the fixture patched `tfe.SessionLocal`
    check_not_fixed(
        """\
        import app.database as tfe


        def bump():
            with tfe.SessionLocal() as db:
                assert db.query(Fact).count() == 1
        """, CODE)


def test_no_fix_in_test_modules():
    # atom's tests/test_resource_management_coverage.py exercises `with SessionLocal()` itself;
    # tests make their sessions on purpose, and the house helper would commit for real
    check_not_fixed("""\
        from core.database import SessionLocal


        def test_session_is_a_context_manager():
            with SessionLocal() as db:
                assert db.query(User).count() == 0
        """, CODE, path=PROJECT / "tests" / "test_sessions.py")


def test_no_fix_for_next_get_db_when_tests_patch_the_dependency(tmp_path):
    # atom's enterprise auth tests patch `core.database.get_db` with a mock generator
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "database.py").write_text((PROJECT / "core" / "database.py").read_text())
    (tmp_path / "tests").mkdir()
    # spelled in pieces: a quoted dotted name in this very file would count for the checkout too
    (tmp_path / "tests" / "test_auth.py").write_text("patch(%r)\n" % ".".join(["core", "database", "get_db"]))
    (tmp_path / "app").mkdir()
    check_not_fixed(
        "from core.database import get_db\n\n\ndef f():\n    db = next(get_db())\n    try:\n"
        "        return db.query(User).all()\n    finally:\n        db.close()\n",
        CODE, path=tmp_path / "app" / "auth.py", cfg=config(root=tmp_path))


def test_a_run_from_a_parent_directory_reads_no_patches_outside_the_project(tmp_path, monkeypatch):
    # `cd ~ && session-lint code/proj`: the working directory is a search root, but a patch in a
    # neighbouring project says nothing about this one (and walking the home directory took seconds)
    from session_lint.analysis.project import scan_roots

    # spelled in pieces: a quoted dotted name in this very file would count for the checkout too
    patching = "patch(%r)\n" % ".".join(["app", "jobs", "SessionLocal"])
    source = ("from core.database import SessionLocal\n\n\ndef count():\n    db = SessionLocal()\n    try:\n"
              "        return db.query(User).count()\n    finally:\n        db.close()\n")

    def project(name: str, patched_in_own_tests: bool) -> Path:
        root = tmp_path / name
        (root / "core").mkdir(parents=True)
        (root / "core" / "__init__.py").write_text("")
        (root / "core" / "database.py").write_text((PROJECT / "core" / "database.py").read_text())
        (root / "app").mkdir()
        (root / "app" / "__init__.py").write_text("")
        (root / "pyproject.toml").write_text('[tool.session-lint]\nsession-module = "core.database"\n')
        if patched_in_own_tests:
            (root / "tests").mkdir()
            (root / "tests" / "test_jobs.py").write_text(patching)
        return root

    (tmp_path / "other" / "tests").mkdir(parents=True)
    (tmp_path / "other" / "tests" / "test_jobs.py").write_text(patching)
    monkeypatch.chdir(tmp_path)
    for name, patched, fixable in [("proj", False, True), ("patched", True, False)]:
        root = project(name, patched)
        path = root / "app" / "jobs.py"
        assert scan_roots(path, root) == (root,)
        found = lint_source(source, str(path), config(root=root))
        assert [(d.line, d.column, d.code, d.fix is not None) for d in found] == [(5, 10, CODE, fixable)], name


# -- handlers that turn a failed write into a return value (atom tools/platform_management_tool.py) --
ERROR_VALUE_TOOL = """\
    from core.database import SessionLocal


    def manage_workspace(name):
        db = SessionLocal()
        try:
            db.add(Workspace(name=name))
            db.commit()
            return f"Workspace {name} created."
        except Exception as e:
            db.rollback()
            logger.error(f"Error managing workspace: {e}")
            return "Error managing workspace"
        finally:
            db.close()
    """


def test_handler_returning_an_error_value_after_a_failed_write_is_not_fixed():
    # the manager's commit at exit would run outside the handler and raise from a function that
    # reports failures as values (atom's tests make `commit` fail and expect the error string)
    check_not_fixed(ERROR_VALUE_TOOL, CODE)
    assert found(ERROR_VALUE_TOOL, CODE) == [(5, 10, CODE)]


def test_handler_returning_an_error_value_inside_an_outer_catch_all_is_fixed():
    check_fixed(
        """\
        from core.database import SessionLocal


        def manage_workspace(name):
            try:
                db = SessionLocal()
                try:
                    db.add(Workspace(name=name))
                    db.commit()
                    return "created"
                except Exception:
                    db.rollback()
                    return "Error"
                finally:
                    db.close()
            except Exception:
                return "Error outside"
        """,
        """\
        from core.database import get_db_session


        def manage_workspace(name):
            try:
                with get_db_session() as db:
                    try:
                        db.add(Workspace(name=name))
                        db.commit()
                        return "created"
                    except Exception:
                        db.rollback()
                        return "Error"
            except Exception:
                return "Error outside"
        """, CODE)


def test_read_only_handler_returning_an_error_value_is_still_fixed():
    # nothing is written: the manager's commit at exit has nothing to fail on
    check_fixed(
        """\
        from core.database import SessionLocal


        def list_members():
            db = SessionLocal()
            try:
                return [u.name for u in db.query(User).all()]
            except Exception:
                return "Error listing"
            finally:
                db.close()
        """,
        """\
        from core.database import get_db_session


        def list_members():
            with get_db_session() as db:
                try:
                    return [u.name for u in db.query(User).all()]
                except Exception:
                    return "Error listing"
        """, CODE, unsafe=True)


# -- the session handed to project code that swallows failed commits (atom workers/queue_processing_worker.py) --
SWALLOWING_SERVICE = """\
class QueueService:
    def __init__(self, db):
        self.db = db

    def process(self):
        self._one()

    def _one(self):
        try:
            self.db.add(Entry())
            self.db.commit()
        except Exception as e:
            logger.error(f"failed: {e}")
"""

ROLLING_BACK_SERVICE = SWALLOWING_SERVICE.replace("logger.error", "self.db.rollback()\n            logger.error")

WORKER = """\
from core.database import SessionLocal
from services.queue import QueueService


def process_pending():
    db = SessionLocal()
    try:
        QueueService(db).process()
    finally:
        db.close()
"""


def _service_project(tmp_path, service_source: str):
    for package in ("core", "services", "workers"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "core" / "database.py").write_text((PROJECT / "core" / "database.py").read_text())
    (tmp_path / "services" / "queue.py").write_text(service_source)
    return tmp_path / "workers" / "queue_worker.py", config(root=tmp_path)


def test_no_fix_when_a_service_given_the_session_swallows_its_failed_commits(tmp_path):
    # the failed commit leaves the session in a failed transaction: close() discarded it, the
    # manager's commit at exit raises PendingRollbackError out of the worker
    path, cfg = _service_project(tmp_path, SWALLOWING_SERVICE)
    check_not_fixed(WORKER, CODE, path=path, cfg=cfg)
    assert found(WORKER, CODE, path=path, cfg=cfg) == [(6, 10, CODE)]


def test_no_fix_when_a_function_given_the_session_swallows_its_failed_commits(tmp_path):
    service = "def process(session, n):\n    try:\n        session.flush()\n    except ValueError:\n        pass\n"
    path, cfg = _service_project(tmp_path, service)
    worker = WORKER.replace("import QueueService", "import process").replace("QueueService(db).process()",
                                                                            "process(db, 3)")
    check_not_fixed(worker, CODE, path=path, cfg=cfg)


def test_service_that_rolls_back_its_failed_commits_keeps_the_fix(tmp_path):
    path, cfg = _service_project(tmp_path, ROLLING_BACK_SERVICE)
    check_fixed(WORKER, WORKER.replace("SessionLocal", "get_db_session").replace(
        "    db = get_db_session()\n    try:\n        QueueService(db).process()\n    finally:\n        db.close()\n",
        "    with get_db_session() as db:\n        QueueService(db).process()\n"), CODE, unsafe=True, path=path, cfg=cfg)


def test_middleware_storing_the_requests_session_on_request_state_is_a_provider():
    # dispatch main.py: the middleware makes each request's session; `get_db(request)` hands it out
    check_noop("""\
        from sqlalchemy.orm import scoped_session, sessionmaker


        async def db_session_middleware(request, call_next):
            session = scoped_session(sessionmaker(bind=engine))
            request.state.db = session()
            try:
                response = await call_next(request)
                request.state.db.commit()
                return response
            finally:
                request.state.db.close()
        """, CODE)


def test_a_session_stored_on_another_objects_state_is_still_reported():
    check_flagged("""\
        from core.database import SessionLocal


        def handler(request):
            app.state.db = SessionLocal()
        """, [(5, 20, CODE)])


def test_a_lambda_factory_handed_to_other_code_opens_no_session():
    # atom tests/test_pm_mvp.py:40 and tests/core/test_knowledge_vfs.py:47: the lambda replaces or
    # supplies a factory; the sessions are opened where it is called
    check_noop("""\
        from unittest.mock import patch

        from sqlalchemy.orm import Session, sessionmaker

        TestSession = sessionmaker(bind=engine)
        patcher = patch("app.jobs.SessionLocal", side_effect=lambda: TestSession())
        provider = Provider(db_factory=lambda: Session(bind=engine))
        """, CODE)


def test_a_lambda_called_on_the_spot_still_opens_a_session():
    check_flagged("""\
        from core.database import SessionLocal


        def job():
            db = (lambda: SessionLocal())()
            db.close()
        """, [(5, 19, CODE)])
