"""Session helpers shaped like onyx's `onyx.db.engine.sql_engine` (read, never imported, by SES005's tests)."""
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from core.database import engine, get_db_session

NoExpireLocal = sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def get_session_with_tenant(*, tenant_id):
    """Builds its sessions itself, with expire_on_commit=False on every path."""
    if tenant_id == "public":
        session = Session(bind=engine, expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
        return
    with engine.connect() as connection:
        session = Session(bind=connection, expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()


@contextmanager
def get_session_with_current_tenant():
    """Delegates: what its sessions do is what get_session_with_tenant's do."""
    with get_session_with_tenant(tenant_id=current_tenant()) as session:
        yield session


get_session_with_shared_schema = get_session_with_current_tenant


@contextmanager
def committing_no_expire_session():
    """Commits at exit, from a module-level sessionmaker with expire_on_commit=False."""
    with NoExpireLocal() as session:
        yield session
        session.commit()


@contextmanager
def delegating_committer():
    """Commits only through the house helper it hands on."""
    with get_db_session() as session:
        yield session


@contextmanager
def mixed_session(flag):
    """One path expires, the other does not: cannot tell."""
    session = Session(engine, expire_on_commit=flag == "x") if flag else Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    finally:
        session.close()


@contextmanager
def expiring_session():
    """Says expire_on_commit=True itself, whatever the configuration says."""
    with Session(engine, expire_on_commit=True) as session, session.begin():
        yield session


def current_tenant():
    return "public"


def audit(user_id):
    """Opens its own session: calling it inside another session block nests two sessions."""
    with get_session_with_current_tenant() as session:
        session.execute("select 1")


@contextmanager
def get_session_with_current_tenant_if_none(session):
    """onyx: a new session only when the caller has none; otherwise the caller's, left open."""
    if session is None:
        with get_session_with_current_tenant() as session:
            yield session
    else:
        yield session
