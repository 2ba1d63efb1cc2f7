"""Repository helpers for the SES005 tests (read, never imported)."""
from contextlib import contextmanager

from sqlalchemy import select

from core.database import SessionLocal

from app.orm_models import User


def get_user(db, user_id):
    return db.get(User, user_id)


def list_users(*, db_session):
    return db_session.query(User)


async def find_user(session, email):
    stmt = select(User).where(User.email == email)
    return (await session.execute(stmt)).scalar_one_or_none()


def user_names(db):
    return [u.name for u in db.query(User).all()]


def maybe_user(db, user_id):
    if user_id is None:
        return None
    return db.query(User).filter(User.id == user_id).first()


def count_users(db):
    return db.query(User).count()


@contextmanager
def session_context():
    """A project context manager that only closes (it never commits)."""
    session = SessionLocal()
    try:
        yield session
    finally:
        session.close()
