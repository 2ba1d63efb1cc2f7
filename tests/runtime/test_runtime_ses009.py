"""SES009 at runtime, on SQLite and PostgreSQL: a session that has written holds its locks across a
slow call. Another transaction writing the same row waits for the whole call; once the database
work finishes before the call (what the rule asks for), it does not wait."""

from __future__ import annotations

import threading
import time

from sqlalchemy import update

from app.models import User
from core import database as db_module

DELAY = 1.0  # the "slow call": long against a write, short for a test


def _writer(slow_call_inside: bool, wrote: threading.Event) -> None:
    with db_module.SessionLocal() as db:
        db.execute(update(User).where(User.email == "a@example.com").values(name="first"))
        wrote.set()
        if slow_call_inside:
            time.sleep(DELAY)  # SES009: the session has written and is still open
        db.commit()
    if not slow_call_inside:
        time.sleep(DELAY)  # the same call once the database work is done


def _blocked_for(slow_call_inside: bool) -> float:
    wrote = threading.Event()
    worker = threading.Thread(target=_writer, args=(slow_call_inside, wrote))
    worker.start()
    assert wrote.wait(10)
    start = time.monotonic()
    with db_module.SessionLocal() as other:
        other.execute(update(User).where(User.email == "a@example.com").values(name="second"))
        other.commit()
    waited = time.monotonic() - start
    worker.join()
    return waited


def test_a_slow_call_inside_the_session_blocks_other_writers(database):
    with db_module.SessionLocal() as db:
        db.add(User(name="A", email="a@example.com"))
        db.commit()
    held = _blocked_for(slow_call_inside=True)
    released = _blocked_for(slow_call_inside=False)
    assert held >= DELAY * 0.8, held
    assert released < DELAY * 0.5, released
    assert db_module.checked_out() == 0
