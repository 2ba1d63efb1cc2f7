"""SES013 at runtime, on SQLite and PostgreSQL: `session.query(User).get(pk)` emits SQLAlchemy 2.x's
`LegacyAPIWarning`; the fixed `session.get(User, pk[, options=[...]])` emits none and gives the same
object (the same identity-map instance in one session, the same row across sessions), with the same
eager loads."""

from __future__ import annotations

import warnings

import pytest
from sqlalchemy import event, inspect
from sqlalchemy.exc import LegacyAPIWarning

from app.models import Item, User
from core import database as db_module
from pairs import import_case_module, load_case


def add_user() -> int:
    with db_module.SessionLocal() as db:
        user = User(name="Case", email="case@example.com", items=[Item(title="b"), Item(title="a")])
        db.add(user)
        db.commit()
        return user.id


def legacy_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [w for w in caught if issubclass(w.category, LegacyAPIWarning)]


def test_query_get_warns_before_and_not_after(database):
    case = load_case("ses013_query_get")
    before = import_case_module(case.before_path, "ses013_before")
    after = import_case_module(case.after_path, "ses013_after")
    user_id = add_user()

    (old, old_email), caught = legacy_warnings(lambda: before.run(user_id))
    assert [str(w.message) for w in caught] and "Query.get()" in str(caught[0].message)
    (new, new_email), caught = legacy_warnings(lambda: after.run(user_id))
    assert caught == []
    assert (inspect(old).identity, old_email) == (inspect(new).identity, new_email) == ((user_id,), "case@example.com")
    assert db_module.checked_out() == 0


def test_missing_key_gives_none_both_ways(database):
    case = load_case("ses013_query_get")
    before = import_case_module(case.before_path, "ses013_missing_before")
    after = import_case_module(case.after_path, "ses013_missing_after")
    for module in (before, after):
        with pytest.raises(AttributeError):  # `user.email` on None: both return None for a missing key
            module.run(4242)


def test_options_get_same_instance_same_eager_load(database):
    case = load_case("ses013_query_options_get")
    before = import_case_module(case.before_path, "ses013_options_before")
    after = import_case_module(case.after_path, "ses013_options_after")
    user_id = add_user()

    selects: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        selects.append(statement)

    event.listen(db_module.engine, "before_cursor_execute", count)
    try:
        with db_module.SessionLocal() as db:
            (old, old_titles), caught = legacy_warnings(lambda: before.run(db, user_id))
            assert len(caught) == 1
            assert len(selects) == 2  # the user, then its items (selectinload): no lazy load after
            db.expunge_all()
            selects.clear()
            (new, new_titles), caught = legacy_warnings(lambda: after.run(db, user_id))
            assert caught == []
            assert len(selects) == 2
            assert new_titles == old_titles == ["a", "b"]
            # in one session, the identity map gives the legacy and the fixed call the same object
            assert before.run(db, user_id)[0] is after.run(db, user_id)[0] is new
    finally:
        event.remove(db_module.engine, "before_cursor_execute", count)
    assert db_module.checked_out() == 0
