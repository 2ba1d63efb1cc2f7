"""The reference session module (fixtures/demo/core/database.py) does what the rules assume."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import DetachedInstanceError

from app.models import User
from core import database as db_module
from core import database_manager
from core.database import get_async_db, get_async_session, get_db, get_db_session


def emails() -> list[str]:
    """Rows as another connection sees them (i.e. only what was committed)."""
    with db_module.engine.connect() as conn:
        return list(conn.scalars(select(User.email).order_by(User.id)))


def test_context_manager_commits_on_success(database):
    with get_db_session() as db:
        db.add(User(name="Ada", email="ada@example.com"))
        db.flush()
        assert db_module.checked_out() == 1  # the block really holds a pooled connection
    assert emails() == ["ada@example.com"]
    assert db_module.checked_out() == 0


def test_context_manager_rolls_back_and_reraises(database):
    events: list[str] = []
    # close() alone would also discard the INSERT: watch for the explicit rollback itself
    on_rollback = lambda session: events.append("rollback")  # noqa: E731
    on_commit = lambda session: events.append("commit")  # noqa: E731
    event.listen(db_module.SessionLocal, "after_rollback", on_rollback)
    event.listen(db_module.SessionLocal, "after_commit", on_commit)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            with get_db_session() as db:
                db.add(User(name="Ada", email="ada@example.com"))
                db.flush()  # the INSERT reached the database inside the transaction
                raise RuntimeError("boom")
    finally:
        event.remove(db_module.SessionLocal, "after_rollback", on_rollback)
        event.remove(db_module.SessionLocal, "after_commit", on_commit)
    assert events == ["rollback"]
    assert emails() == []
    assert db_module.checked_out() == 0


def test_expire_on_commit_is_configurable(database):
    with get_db_session() as db:
        kept = User(name="Ada", email="ada@example.com")
        db.add(kept)
    with pytest.raises(DetachedInstanceError):  # default: expired by the commit, then detached
        kept.name

    db_module.configure(database.url, expire_on_commit=False)
    with get_db_session() as db:
        loaded = db.scalars(select(User)).one()
        loaded.name = "Ada L."
    assert loaded.name == "Ada L."  # still loaded after commit + close
    assert emails() == ["ada@example.com"]


def make_app() -> FastAPI:
    app = FastAPI()

    @app.post("/users/{email}")
    def create(email: str, commit: bool = True, db: Session = Depends(get_db)) -> dict:
        db.add(User(name="API", email=email))
        db.flush()
        during = db_module.checked_out()
        if commit:
            db.commit()
        return {"checked_out": during}

    return app


def test_get_db_under_fastapi(database):
    with TestClient(make_app()) as client:
        committed = client.post("/users/a@example.com")
        uncommitted = client.post("/users/b@example.com", params={"commit": "false"})
    assert committed.status_code == uncommitted.status_code == 200
    assert committed.json() == {"checked_out": 1}  # the request held exactly one connection
    assert emails() == ["a@example.com"]  # get_db itself never commits
    assert db_module.checked_out() == 0


def test_async_context_manager(database):
    async def scenario() -> tuple[list[str], int]:
        try:
            async with get_async_session() as db:
                db.add(User(name="Ada", email="ada@example.com"))
            with pytest.raises(RuntimeError):
                async with get_async_session() as db:
                    db.add(User(name="Bob", email="bob@example.com"))
                    await db.flush()
                    raise RuntimeError("boom")
            async with get_async_session() as db:
                found = list(await db.scalars(select(User.email).order_by(User.id)))
            return found, db_module.async_checked_out()
        finally:
            await db_module.dispose_async_engine()

    assert asyncio.run(scenario()) == (["ada@example.com"], 0)
    assert emails() == ["ada@example.com"]


def test_async_dependency_closes_and_never_commits(database):
    async def scenario() -> tuple[int, int]:
        try:
            dependency = get_async_db()  # driven the way FastAPI drives a yield dependency
            db = await anext(dependency)
            db.add(User(name="Ada", email="ada@example.com"))
            await db.flush()
            during = db_module.async_checked_out()
            await dependency.aclose()
            return during, db_module.async_checked_out()
        finally:
            await db_module.dispose_async_engine()

    assert asyncio.run(scenario()) == (1, 0)
    assert emails() == []


@pytest.mark.parametrize("name", ["get_db_session", "get_monitored_db_session"])
def test_shim_context_managers_warn_and_forward(database, name):
    with pytest.warns(DeprecationWarning, match=rf"database_manager\.{name} is deprecated") as record:
        with getattr(database_manager, name)() as db:
            db.add(User(name="Ada", email="ada@example.com"))
    assert record[0].filename == __file__  # stacklevel=2: the warning points at the caller
    assert emails() == ["ada@example.com"]
    assert db_module.checked_out() == 0


def test_shim_request_dependency_warns_and_yields_working_session(database):
    app = FastAPI()

    @app.post("/users")
    def create(db: Session = Depends(database_manager.get_db_session_for_request)) -> int:
        db.add(User(name="Ada", email="ada@example.com"))
        db.flush()
        during = db_module.checked_out()
        db.commit()
        return during

    with pytest.warns(DeprecationWarning, match="use core.database.get_db"):
        with TestClient(app) as client:
            response = client.post("/users")
    assert response.json() == 1
    assert emails() == ["ada@example.com"]
    assert db_module.checked_out() == 0


def test_shim_reexports_the_same_sessionmaker():
    assert database_manager.SessionLocal is db_module.SessionLocal


def test_url_drivers():
    assert db_module.sync_url("postgresql://u@h/db").drivername in {"postgresql+psycopg", "postgresql+psycopg2"}
    assert db_module.sync_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"
    assert str(db_module.async_url("sqlite:////tmp/x.db")) == "sqlite+aiosqlite:////tmp/x.db"
    assert str(db_module.async_url("postgresql+psycopg2://u@h/db")) == "postgresql+asyncpg://u@h/db"
    with pytest.raises(ValueError):
        db_module.async_url("mysql://u@h/db")
