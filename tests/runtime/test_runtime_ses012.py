"""SES012 at runtime, on SQLite and PostgreSQL: the loop over N objects runs N + 1 SELECTs (one for
the query, one lazy load per object); after the fix (`.options(selectinload(...))`) it runs 2
whatever N is, and returns the same result."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from app.models import Item, User
from core import database as db_module
from pairs import import_case_module, load_case

USERS = 4


def add_users() -> None:
    with db_module.SessionLocal() as db:
        for n in range(USERS):
            db.add(User(name=f"U{n}", email=f"u{n}@example.com",
                        items=[Item(title=f"t{n}.{k}") for k in range(n)]))
        db.commit()


@contextmanager
def counting_selects():
    selects: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(db_module.engine, "before_cursor_execute", count)
    try:
        yield selects
    finally:
        event.remove(db_module.engine, "before_cursor_execute", count)


def test_select_loop_n_plus_one_before_two_after(database):
    case = load_case("ses012_select_loop")
    before = import_case_module(case.before_path, "ses012_select_before")
    after = import_case_module(case.after_path, "ses012_select_after")
    add_users()
    expected = {f"u{n}@example.com": n for n in range(USERS)}

    with counting_selects() as selects:
        assert before.run() == expected
    assert len(selects) == USERS + 1
    with counting_selects() as selects:
        assert after.run() == expected
    assert len(selects) == 2
    assert db_module.checked_out() == 0


def test_query_loop_n_plus_one_before_two_after(database):
    case = load_case("ses012_query_loop")
    before = import_case_module(case.before_path, "ses012_query_before")
    after = import_case_module(case.after_path, "ses012_query_after")
    add_users()
    owners_with_items = USERS - 1  # u0 has none

    with db_module.SessionLocal() as db, counting_selects() as selects:
        old = before.run(db)
    assert len(selects) == owners_with_items + 1  # one lazy load per distinct owner (then the identity map)
    with db_module.SessionLocal() as db, counting_selects() as selects:
        new = after.run(db)
    assert len(selects) == 2
    assert new == old and len(old) == sum(range(USERS))
    assert db_module.checked_out() == 0
