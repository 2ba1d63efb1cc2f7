"""A factory of its own, on another database, and helpers built on it (read by SES001's tests)."""
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///dev.db"))


def make_sessionmaker(url):
    engine = create_engine(url)
    return sessionmaker(bind=engine, expire_on_commit=False)


def provide_session():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


def rows():
    yield from range(3)
