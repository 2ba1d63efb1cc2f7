"""SPEC §2: `context-manager`, `dependency` and their async counterparts take a string or a list; the
first entry is the one fixes use, every entry is a standard helper (dispatch: `get_session` and
`get_organization_session`; onyx: six)."""

from __future__ import annotations

import pytest

from helpers import check_not_fixed, config, found
from session_lint.config import Config, ConfigError


def test_a_list_keeps_its_first_entry_for_fixes_and_all_for_detection():
    cfg = Config.from_dict({"context-manager": ["get_db_session", "app.tenancy.tenant_session"],
                            "async-dependency": "get_async_db"})
    assert cfg.context_manager == "get_db_session"
    assert cfg.context_managers == ("get_db_session", "app.tenancy.tenant_session")
    assert cfg.async_dependencies == ("get_async_db",)


@pytest.mark.parametrize("value", [[], [""], ["get_db", 3], 3])
def test_an_empty_or_mixed_list_is_a_configuration_error(value):
    with pytest.raises(ConfigError, match="'dependency' must be a string or a list of strings"):
        Config.from_dict({"dependency": value})


SCOPE = config(more_context_managers=("session_scope",))


def test_a_block_of_the_second_context_manager_is_a_session_block():
    src = ("from core.database import session_scope\n\n\ndef f(uid):\n    with session_scope() as db:\n"
           "        user = db.get(User, uid)\n    return user.email\n")
    assert found(src, "SES005", cfg=SCOPE) == [(7, 12, "SES005")]
    assert found(src, "SES005") == []  # unknown helper: not a session block


def test_no_fix_nests_a_session_inside_the_second_context_managers_block():
    src = ("from core.database import SessionLocal, session_scope\n\n\ndef f():\n"
           "    with session_scope() as outer:\n        db = SessionLocal()\n        db.add(User())\n"
           "        db.close()\n        outer.add(User())\n")
    check_not_fixed(src, "SES001", cfg=SCOPE)


def test_a_route_injecting_the_second_dependency_that_opens_another_session_is_ses003():
    src = ("from fastapi import Depends\nfrom core.database import get_db_session, get_tenant_db\n\n\n"
           "def f(db=Depends(get_tenant_db)):\n    with get_db_session() as s:\n        s.add(User())\n")
    cfg = config(more_dependencies=("get_tenant_db",))
    assert found(src, "SES003", cfg=cfg) == [(6, 5, "SES003")]
    assert found(src, "SES003") == []


TENANT_HELPER = '''

@contextmanager
def tenant_session(tenant):
    db = SessionLocal()
    try:
        yield db
        db.commit()
    finally:
        db.close()
'''


def test_an_unlisted_context_manager_of_the_session_module_is_standard(tmp_path):
    from helpers import PROJECT

    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    source = (PROJECT / "core" / "database.py").read_text()
    (tmp_path / "core" / "database.py").write_text(source + TENANT_HELPER)
    (tmp_path / "app").mkdir()
    src = ("from core.database import tenant_session\n\n\ndef f(uid):\n    with tenant_session(1) as db:\n"
           "        user = db.get(User, uid)\n    return user.email\n")
    path, cfg = tmp_path / "app" / "users.py", config(root=tmp_path)
    assert found(src, "SES005", path=path, cfg=cfg) == [(7, 12, "SES005")]
    # a namesake elsewhere is not the session module's helper
    assert found(src.replace("core.database", "app.helpers"), "SES005", path=path, cfg=cfg) == []
