"""SES015 sync-session-in-async-function (opt-in): a sync session opened or injected in `async def`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import check_flagged, check_noop, config, found

from session_lint.frontends.cli import main
from session_lint.rules import all_rules, opt_in_codes

CODE = "SES015"
ON = config(extend_select=(CODE,))
ROOT = Path(__file__).parent.parent
HEAD = ("from typing import Annotated\nfrom fastapi import APIRouter, Depends\nfrom sqlalchemy.orm import Session\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from core.database import SessionLocal, get_async_db, get_async_session, get_db, get_db_session\n\n"
        "router = APIRouter()\n\n\n")
# HEAD is 9 lines: sources below start at line 10


@pytest.mark.parametrize("src, expected", [
    # injected: at the `async def` line (after the decorator)
    ("@router.get('/u')\nasync def f(db: Session = Depends(get_db)):\n    return db.get(User, 1)\n", [(11, 1, CODE)]),
    ("@router.get('/u')\nasync def f(db: Annotated[Session, Depends(get_db)]):\n    return db.get(User, 1)\n",
     [(11, 1, CODE)]),
    ("class Api:\n    async def f(self, db=Depends(get_db)):\n        return db.get(User, 1)\n", [(11, 5, CODE)]),
    # opened: at the opening call
    ("async def f():\n    with get_db_session() as db:\n        return db.get(User, 1)\n", [(11, 10, CODE)]),
    ("async def f():\n    db = SessionLocal()\n    try:\n        return db.get(User, 1)\n    finally:\n        db.close()\n",
     [(11, 10, CODE)]),
    ("async def f(engine):\n    with Session(engine) as db:\n        return db.get(User, 1)\n", [(11, 10, CODE)]),
    # both
    ("@router.get('/u')\nasync def f(db: Session = Depends(get_db)):\n    with get_db_session() as other:\n"
     "        return other.get(User, 1)\n", [(11, 1, CODE), (12, 10, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected, cfg=ON)


@pytest.mark.parametrize("src", [
    # a sync function: FastAPI runs it in its thread pool
    "@router.get('/u')\ndef f(db: Session = Depends(get_db)):\n    return db.get(User, 1)\n",
    "def f():\n    with get_db_session() as db:\n        return db.get(User, 1)\n",
    # the async stack
    "@router.get('/u')\nasync def f(db: AsyncSession = Depends(get_async_db)):\n    return await db.get(User, 1)\n",
    "async def f():\n    async with get_async_session() as db:\n        return await db.get(User, 1)\n",
    # a sync session handed in by the caller (not opened or injected here)
    "async def f(db: Session):\n    return db.get(User, 1)\n",
    # opened in a nested sync function that runs in a worker thread
    ("async def f():\n    def work():\n        with get_db_session() as db:\n            return db.get(User, 1)\n"
     "    return await asyncio.to_thread(work)\n"),
    "async def f():\n    return await asyncio.to_thread(lambda: SessionLocal().get(User, 1))\n",
])
def test_noop(src):
    check_noop(HEAD + src, CODE, cfg=ON)


OFFENDER = HEAD + "@router.get('/u')\nasync def f(db: Session = Depends(get_db)):\n    return db.get(User, 1)\n"


@pytest.mark.parametrize("selection, reported", [
    ({}, False),  # the default select = ["SES"]
    ({"select": ("ALL",)}, False),
    ({"select": ("SES01",)}, False),  # a prefix does not enable an opt-in rule
    ({"extend_select": ("SES015",)}, True),
    ({"select": ("SES015",)}, True),
    ({"select": ("SES", "SES015")}, True),
    ({"extend_select": ("SES015",), "ignore": ("SES015",)}, False),
])
def test_opt_in_selection(selection, reported):
    assert bool(found(OFFENDER, CODE, cfg=config(**selection))) == reported


def test_the_opt_in_rules_are_the_classes_saying_so():
    # rules.opt_in_codes() reads `default_enabled = False` from the source, before LibCST is loaded
    assert opt_in_codes() == {rule.code for rule in all_rules() if not rule.default_enabled} == {CODE}


def _project(tmp_path: Path, table: str = "") -> Path:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "database.py").write_text(textwrap.dedent("""\
        from sqlalchemy.orm import Session, sessionmaker
        SessionLocal = sessionmaker()
        def get_db():
            db = SessionLocal()
            try:
                yield db
            finally:
                db.close()
        """))
    (tmp_path / "pyproject.toml").write_text("[tool.session-lint]\n" + table)
    (tmp_path / "routes.py").write_text(
        "from fastapi import Depends\nfrom sqlalchemy.orm import Session\nfrom core.database import get_db\n\n\n"
        "async def read(db: Session = Depends(get_db)):\n    return db.get(User, 1)\n")
    return tmp_path


def _cli(project: Path, *args: str) -> tuple[int, str]:
    old = os.getcwd()
    os.chdir(project)
    try:
        result = CliRunner().invoke(main, [*args, "routes.py"], catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout


def test_cli_enables_it_with_extend_select_only(tmp_path):
    project = _project(tmp_path)
    assert _cli(project) == (0, "All checks passed!\n")
    code, out = _cli(project, "--extend-select", "SES015")
    assert code == 1 and "routes.py:6:1: SES015 `async def read` receives the sync session `db`" in out


def test_cli_enables_it_from_the_configuration(tmp_path):
    project = _project(tmp_path, 'extend-select = ["SES015"]\n')
    code, out = _cli(project)
    assert code == 1 and "routes.py:6:1: SES015" in out


def test_explain_and_list_rules_say_it_is_opt_in():
    explained = CliRunner().invoke(main, ["--explain", CODE]).stdout
    assert explained.startswith("# sync-session-in-async-function (SES015)") and "**opt-in**" in explained
    listed = CliRunner().invoke(main, ["--list-rules"]).stdout
    assert re.search(r"^SES015  sync-session-in-async-function +none +\(opt-in\) ", listed, re.MULTILINE)


def _flake8(project: Path, *args: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "flake8", *args, "--format", "%(row)d:%(col)d:%(code)s", "routes.py"],
                            cwd=project, capture_output=True, text=True, env=env)
    assert result.stderr == ""
    return result.stdout.splitlines()


def test_flake8_follows_its_own_select_like_the_cli(tmp_path):
    pytest.importorskip("flake8")
    project = _project(tmp_path)
    assert _flake8(project, "--select", "SES") == []
    assert _flake8(project, "--select", "SES", "--extend-select", "SES015") == ["6:1:SES015"]
    assert _flake8(project, "--select", "SES015") == ["6:1:SES015"]


def test_flake8_follows_the_session_lint_configuration(tmp_path):
    pytest.importorskip("flake8")
    project = _project(tmp_path, 'extend-select = ["SES015"]\n')
    assert _flake8(project, "--select", "SES") == ["6:1:SES015"]
