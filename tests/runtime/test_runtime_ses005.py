"""SES005 at runtime: the "before" code raises DetachedInstanceError (expire_on_commit=True, the
reference module's default); the fixed code returns the right values and leaves no connection
checked out. With expire_on_commit=False, column reads after the block work (SES005 stays quiet
on them) while an unloaded relationship still fails (SES005 still reports it)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm.exc import DetachedInstanceError

from core import database as db_module
from pairs import import_case_module, load_case

EXPECTED = {
    "ses005_return_after_block": "Case <case@example.com>",
    "ses005_relationship_after_block": ["a", "b"],
    "ses005_loop_after_block": ["case@example.com"],
    "ses006_query_after_block": ["case@example.com"],
}


def fresh_tables() -> None:
    db_module.Base.metadata.drop_all(db_module.engine)
    db_module.Base.metadata.create_all(db_module.engine)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_before_raises_detached_instance_error_after_returns_the_values(database, name):
    case = load_case(name)
    before = import_case_module(case.before_path, f"{name}_before")
    after = import_case_module(case.after_path, f"{name}_after")

    with pytest.raises(DetachedInstanceError):
        before.run("case@example.com")
    assert db_module.checked_out() == 0

    fresh_tables()
    assert after.run("case@example.com") == EXPECTED[name]
    assert db_module.checked_out() == 0


def test_without_expire_on_commit_columns_survive_but_lazy_relationships_do_not(database):
    db_module.configure(make_url(database.url), expire_on_commit=False)
    try:
        columns = import_case_module(load_case("ses005_return_after_block").before_path, "columns")
        assert columns.run("case@example.com") == "Case <case@example.com>"
        fresh_tables()
        relationship = import_case_module(load_case("ses005_relationship_after_block").before_path, "rel")
        with pytest.raises(DetachedInstanceError, match="lazy load operation of attribute 'items'"):
            relationship.run("case@example.com")
        assert db_module.checked_out() == 0
    finally:
        db_module.configure(make_url(database.url), expire_on_commit=True)


def test_the_linter_agrees_with_the_runtime_without_expire_on_commit():
    from session_lint.api import lint_source
    from session_lint.config import Config
    from dataclasses import replace

    for name, flagged in [("ses005_return_after_block", False), ("ses005_relationship_after_block", True)]:
        case = load_case(name)
        cfg = replace(Config.discover(case.lint_path.parent), expire_on_commit=False)
        codes = [d.code for d in lint_source(case.before, str(case.lint_path), cfg)]
        assert codes == (["SES005"] if flagged else [])
