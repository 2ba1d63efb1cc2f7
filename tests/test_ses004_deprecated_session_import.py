"""SES004 deprecated-session-import: every import shape, near misses, exact fixes."""

import pytest

from helpers import DEFAULT_PATH, PROJECT, check_fixed, check_flagged, check_noop, check_not_fixed, config, found

from session_lint.api import lint_source

CODE = "SES004"


# -- flagged, with exact positions --------------------------------------------------
@pytest.mark.parametrize("src, expected", [
    ("from core.database_manager import get_db_session\n", [(1, 1, CODE)]),
    ("import os\nfrom core.database_manager import get_db_session, get_monitored_db_session\n", [(2, 1, CODE)]),
    ("from core.database_manager import (\n    get_db_session,\n    get_db_session_for_request,\n)\n", [(1, 1, CODE)]),
    ("from core.database_manager import get_db_session as gds\n", [(1, 1, CODE)]),
    ("import core.database_manager as dm\ndm.get_db_session()\n", [(1, 1, CODE)]),
    ("import core.database_manager\ncore.database_manager.get_db_session()\n", [(1, 1, CODE)]),
    ("from core import database_manager\n", [(1, 1, CODE)]),
    ("from core import database_manager as dbm\n", [(1, 1, CODE)]),
    ("def job():\n    from core.database_manager import get_db_session\n", [(2, 5, CODE)]),
    ("from core.database_manager import *\n", [(1, 1, CODE)]),
    ("x = 1\nif x:\n    import core.database_manager as dm\n", [(3, 5, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(src, expected)


def test_relative_import_inside_package_core():
    path = PROJECT / "core" / "services.py"
    check_flagged("from .database_manager import get_db_session\n", [(1, 1, CODE)], path=path)
    check_flagged("from . import database_manager\n", [(1, 1, CODE)], path=path)


def test_attribute_use_of_a_deprecated_name_when_the_module_itself_is_not_deprecated():
    cfg = config(deprecated=(("legacy.db.get_session", "core.database.get_db_session"),))
    src = "import legacy.db as ldb\n\nwith ldb.get_session() as s:\n    pass\n"
    check_flagged(src, [(3, 6, CODE)], cfg=cfg)
    check_fixed(src, "import legacy.db as ldb\nfrom core.database import get_db_session\n\n"
                     "with get_db_session() as s:\n    pass\n", CODE, cfg=cfg)


# -- near misses ------------------------------------------------------------------------
@pytest.mark.parametrize("src", [
    "from core.database import get_db_session\n",
    "from core.database_manager_utils import get_db_session\n",
    "import core.database_manager_utils as dm\ndm.get_db_session()\n",
    "database_manager = object()\ndatabase_manager.get_db_session()\n",
    "def f(database_manager):\n    return database_manager.get_db_session()\n",
    "from other import database_manager\n",
    "from core import database\n",
    "# from core.database_manager import get_db_session\n",
    "s = 'from core.database_manager import get_db_session'\n",
])
def test_not_flagged(src):
    check_noop(src, CODE)


def test_the_deprecated_module_itself_is_not_flagged():
    src = "import core.database_manager\nfrom core.database_manager import get_db_session\n"
    check_noop(src, CODE, path=PROJECT / "core" / "database_manager.py")


def test_relative_import_of_another_packages_database_manager_is_not_flagged():
    check_noop("from .database_manager import get_db_session\n", CODE, path=PROJECT / "app" / "views.py")


# -- fixes --------------------------------------------------------------------------------
def test_fix_simple_import():
    check_fixed(
        "from core.database_manager import get_db_session\n\nwith get_db_session() as db:\n    pass\n",
        "from core.database import get_db_session\n\nwith get_db_session() as db:\n    pass\n", CODE)


def test_fix_several_names_and_a_rename_in_the_table():
    check_fixed(
        "from core.database_manager import get_db_session, get_monitored_db_session\n\n"
        "get_monitored_db_session()\n",
        "from core.database import get_db_session\n\nget_db_session()\n", CODE)


def test_fix_parenthesised_multiline_import_keeps_comments():
    check_fixed(
        """\
        from core.database_manager import (
            get_db_session,  # services
            get_db_session_for_request as request_db,  # routes
        )
        """,
        """\
        from core.database import (
            get_db_session,  # services
            get_db as request_db,  # routes
        )
        """, CODE)


def test_fix_renamed_name_renames_every_use():
    check_fixed(
        """\
        from fastapi import Depends
        from core.database_manager import get_db_session_for_request


        def list_users(db=Depends(get_db_session_for_request)):
            return db


        dependencies = [get_db_session_for_request]
        """,
        """\
        from fastapi import Depends
        from core.database import get_db


        def list_users(db=Depends(get_db)):
            return db


        dependencies = [get_db]
        """, CODE)


def test_fix_renamed_name_keeps_an_alias_when_the_new_name_is_taken():
    check_fixed(
        "get_db = None\nfrom core.database_manager import get_db_session_for_request\nget_db_session_for_request()\n",
        "get_db = None\nfrom core.database import get_db as get_db_session_for_request\nget_db_session_for_request()\n",
        CODE)


def test_fix_as_alias_kept():
    check_fixed("from core.database_manager import get_db_session as gds\ngds()\n",
                "from core.database import get_db_session as gds\ngds()\n", CODE)


def test_fix_module_alias_and_attribute_uses():
    check_fixed(
        "import core.database_manager as dm\n\ndm.get_db_session()\ndm.get_db_session_for_request()\n",
        "import core.database as dm\n\ndm.get_db_session()\ndm.get_db()\n", CODE)


def test_fix_plain_module_import_and_dotted_uses():
    check_fixed("import core.database_manager\n\ncore.database_manager.get_db_session()\n",
                "import core.database\n\ncore.database.get_db_session()\n", CODE)


def test_fix_from_package_import_module_renames_uses():
    check_fixed("from core import database_manager\n\ndatabase_manager.get_db_session()\n",
                "from core import database\n\ndatabase.get_db_session()\n", CODE)


def test_fix_relative_imports_stay_relative():
    path = PROJECT / "core" / "services.py"
    check_fixed("from .database_manager import get_db_session\nfrom . import database_manager as dm\n",
                "from .database import get_db_session\nfrom . import database as dm\n", CODE, path=path)


def test_fix_function_local_import():
    check_fixed(
        "def job():\n    from core.database_manager import get_db_session\n    return get_db_session()\n",
        "def job():\n    from core.database import get_db_session\n    return get_db_session()\n", CODE)


def test_fix_merges_into_existing_import_instead_of_a_duplicate_line():
    check_fixed(
        "from core.database import SessionLocal\nfrom core.database_manager import get_db_session\n\n"
        "get_db_session()\nSessionLocal\n",
        # AddImportsVisitor merges and sorts the names
        "from core.database import get_db_session, SessionLocal\n\nget_db_session()\nSessionLocal\n", CODE)


def test_no_merge_when_it_would_drop_a_comment():
    check_fixed(
        "from core.database import SessionLocal\n# legacy helpers\nfrom core.database_manager import get_db_session\n",
        "from core.database import SessionLocal\n# legacy helpers\nfrom core.database import get_db_session\n", CODE)


# -- flagged without a fix ---------------------------------------------------------------------
@pytest.mark.parametrize("src", [
    # not known to exist in core.database: the import would fail
    "from core.database_manager import DatabaseManager\n",
    "from core.database_manager import DatabaseManager, get_db_session\n",
    "import core.database_manager as dm\ndm.DatabaseManager()\n",
    # the module object escapes: its users cannot be checked
    "import core.database_manager as dm\nregistry = dm\n",
    "from core.database_manager import *\n",
])
def test_flagged_without_fix(src):
    check_not_fixed(src, CODE)


def test_nothing_known_about_the_new_module_means_no_fix(tmp_path):
    path = tmp_path / "app.py"
    path.write_text("")
    check_not_fixed("from core.database_manager import get_db_session\n", CODE,
                    path=path, cfg=config(root=tmp_path))


def test_noqa_suppresses():
    assert found("from core.database_manager import get_db_session  # noqa\n", CODE) == []
    assert found("from core.database_manager import get_db_session  # noqa: SES004\n", CODE) == []
    assert found("from core.database_manager import get_db_session  # noqa: SES001\n", CODE) == [(1, 1, CODE)]


@pytest.mark.parametrize("before", ["# a form feed \x0c in a comment\n", "x = '\u2028'\n", "\x0c\n", "x = 1\r\n"])
def test_noqa_is_read_on_the_line_the_finding_is_on(before):
    # (str.splitlines also ends a line at a form feed or U+2028; LibCST, Python and LSP do not)
    src = before + "from core.database_manager import get_db_session  # noqa: SES004\n"
    assert found(src, CODE) == []
    assert found(src.replace("  # noqa: SES004", ""), CODE) == [(2, 1, CODE)]


def test_fix_from_package_import_module_renames_renamed_members():
    check_fixed("from core import database_manager\n\ndatabase_manager.get_monitored_db_session()\n",
                "from core import database\n\ndatabase.get_db_session()\n", CODE)


def test_module_imported_from_package_with_unknown_member_has_no_fix():
    check_not_fixed("from core import database_manager\n\ndatabase_manager.DatabaseManager()\n", CODE)


def test_fix_rename_within_the_same_module_keeps_the_other_names():
    cfg = config(deprecated=(("core.database.get_session", "core.database.get_db_session"),))
    check_fixed("from core.database import SessionLocal, get_session, get_db_session\n\nget_session()\n",
                "from core.database import SessionLocal, get_db_session\n\nget_db_session()\n", CODE, cfg=cfg)


# -- issue 11 / SPEC §4: a deprecated helper is moved only onto one that behaves the same ----------

ATOM_DATABASE = '''\
from contextlib import contextmanager


@contextmanager
def get_db_session():
    db = SessionLocal()
    try:
        yield db
        db.commit()
    finally:
        db.close()
'''

ATOM_DATABASE_MANAGER = '''\
import warnings
from contextlib import contextmanager


@contextmanager
def get_db_session(commit: bool = False, close: bool = True, rollback_on_error: bool = True):
    warnings.warn("deprecated", DeprecationWarning, stacklevel=2)
    db = SessionLocal()
    try:
        yield db
        if commit:
            db.commit()
    finally:
        if close:
            db.close()


def get_monitored_db_session():
    from core.database import get_db_session as new
    warnings.warn("deprecated", DeprecationWarning, stacklevel=2)
    return new()
'''


def _atom_project(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "database.py").write_text(ATOM_DATABASE)
    (tmp_path / "core" / "database_manager.py").write_text(ATOM_DATABASE_MANAGER)
    (tmp_path / "app").mkdir()
    return tmp_path / "app" / "jobs.py", config(root=tmp_path, deprecated=(("core.database_manager", "core.database"),))


def test_a_deprecated_helper_that_does_not_commit_is_not_moved_onto_one_that_does(tmp_path):
    # atom: the old get_db_session(commit=False) leaves writes uncommitted; the new one commits them
    path, cfg = _atom_project(tmp_path)
    check_not_fixed("from core.database_manager import get_db_session\n", CODE, path=path, cfg=cfg)


def test_a_deprecated_helper_that_forwards_to_the_new_one_is_moved(tmp_path):
    # it mentions no commit itself, but it hands out the new helper's context manager
    path, cfg = _atom_project(tmp_path)
    cfg = config(root=tmp_path, deprecated=(
        ("core.database_manager.get_monitored_db_session", "core.database.get_db_session"),))
    check_fixed("from core.database_manager import get_monitored_db_session\n\nwith get_monitored_db_session() as db:\n    pass\n",
                "from core.database import get_db_session\n\nwith get_db_session() as db:\n    pass\n", CODE, path=path, cfg=cfg)


# atom scripts/verify_db.py:16, after a sys.path bootstrap: the deprecated module's singleton has no
# counterpart in the new module, so the message does not send users looking for one
VERIFY_DB = """\
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from core.database_manager import db_manager
"""


def test_name_missing_from_the_new_module_is_reported_without_naming_it():
    diagnostics = [d for d in lint_source(VERIFY_DB, str(DEFAULT_PATH), config()) if d.code == CODE]
    assert [(d.line, d.column) for d in diagnostics] == [(6, 1)]
    assert diagnostics[0].message == ("deprecated session import `core.database_manager.db_manager` "
                                      "(`core.database` has no `db_manager`: use the helpers of `core.database` instead)")
    assert diagnostics[0].fix is None


def test_name_present_in_the_new_module_is_named():
    [diagnostic] = lint_source("from core.database_manager import get_db_session\n", str(DEFAULT_PATH), config())
    assert diagnostic.message.endswith("(use `core.database.get_db_session`)")
