"""Scope analysis over the slice of a module gives the same diagnostics and fixes as over all of it."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from helpers import REAL, real_project_sources, write_tree

import session_lint.engine.linter as engine
from session_lint.config import Config
from session_lint.engine.linter import fix_source, lint_source
from session_lint.rules import all_rules
from session_lint.engine.runner import screen_for
from session_lint.analysis.walk import find_all
from session_lint.engine.scope_slice import scope_slice
from session_lint.engine.screen import scope_words

ROOT = Path(__file__).parent.parent
WORDS = scope_words(Config(), [r.code for r in all_rules()])


def kept(source: str) -> list[str]:
    module = cst.parse_module(source)
    return [module.code_for_node(s).strip().splitlines()[0] for s in scope_slice(module, WORDS).module.body]


def test_unrelated_statements_are_left_out():
    source = ("import json\nfrom core.database import SessionLocal\n\n"
              "def load(uid):\n    db = SessionLocal()\n    return db.get(User, uid)\n\n"
              "def fmt(x):\n    return json.dumps(x)\n\nLIMIT = 3\n")
    assert kept(source) == ["from core.database import SessionLocal", "def load(uid):"]


def test_statements_sharing_a_module_level_name_are_kept():
    source = ("from core.database import SessionLocal\nimport helpers\n\nLIMIT = 3\n\n"
              "def load(uid):\n    db = SessionLocal()\n    return helpers.clip(db.get(User, uid), LIMIT)\n\n"
              "LIMIT = 4\n\ndef other():\n    return 1\n")
    assert kept(source) == ["from core.database import SessionLocal", "import helpers", "LIMIT = 3",
                            "def load(uid):", "LIMIT = 4"]


def test_users_of_a_module_global_session_and_global_declarations_are_kept():
    source = ("db = SessionLocal()\n\ndef a():\n    return db.query(User).all()\n\n"
              "def b():\n    global conn\n    conn = 1\n\ndef c():\n    return conn\n\ndef d():\n    return 2\n")
    assert kept(source) == ["db = SessionLocal()", "def a():"]
    source += "\ndef e():\n    return conn + db.x\n"
    # e uses `db` (bound by a seed); `conn`, which e mentions, is bound by b's `global`; c only
    # uses `conn`, which no rule asks about
    assert kept(source) == ["db = SessionLocal()", "def a():", "def b():", "def e():"]


def test_only_the_uses_of_names_the_seeds_bind_are_kept():
    source = ("import logging\nfrom core.database import SessionLocal\nlog = logging.getLogger()\n\n"
              "def load():\n    log.info('x')\n    return SessionLocal()\n\n"
              "def other():\n    log.info('y')\n\ndef uses_factory():\n    return SessionLocal\n")
    assert kept(source) == ["import logging", "from core.database import SessionLocal",
                            "log = logging.getLogger()", "def load():", "def uses_factory():"]


def test_words_in_string_annotations_and_star_imports_keep_their_statement():
    source = 'from x import *\n\ndef f(s: "Session"):\n    pass\n\ndef g():\n    pass\n'
    assert kept(source) == ["from x import *", "def f(s: \"Session\"):"]


def test_docstrings_messages_and_parameter_names_do_not_link():
    source = ('from core.database import SessionLocal\n\ndef load(values):\n    db = SessionLocal()\n'
              '    return db\n\ndef fmt(values, db=None):\n    """Formats; the session lives elsewhere."""\n'
              '    log("no db session here")\n    return values\n')
    assert kept(source) == ["from core.database import SessionLocal", "def load(values):"]


def test_nothing_to_leave_out_returns_the_module_itself():
    module = cst.parse_module("from sqlalchemy.orm import Session\nS = Session\n")
    assert scope_slice(module, WORDS).module is module


def _same_with_and_without_slice(source: str, path: str, config: Config, monkeypatch) -> None:
    sliced = lint_source(source, path, config)
    sliced_fix = fix_source(source, path, config, unsafe_fixes=True).source if sliced else source
    with monkeypatch.context() as patched:
        patched.setattr(engine, "scope_words", lambda *args: None)
        whole = lint_source(source, path, config)
        whole_fix = fix_source(source, path, config, unsafe_fixes=True).source if whole else source
    assert [(d.line, d.column, d.code, d.message, d.fix and d.fix.applicability) for d in sliced] == \
        [(d.line, d.column, d.code, d.message, d.fix and d.fix.applicability) for d in whole], path
    assert sliced_fix == whole_fix, path


def test_rule_examples(monkeypatch):
    for rule in all_rules():
        for source in (*rule.VALID, *rule.INVALID):
            _same_with_and_without_slice(source, str(ROOT / "tests" / "project" / "app" / "module.py"),
                                         Config(), monkeypatch)


def test_fixture_and_project_files(monkeypatch):
    files = [*(ROOT / "fixtures").rglob("*.py"), *(ROOT / "tests" / "project").rglob("*.py")]
    for file in files:
        _same_with_and_without_slice(file.read_text(encoding="utf-8"), str(file), Config.discover(file.parent),
                                     monkeypatch)


@pytest.mark.skipif(not REAL.is_dir(), reason=f"no real projects under {REAL}")
def test_real_project_files_that_pass_the_screen(monkeypatch):
    """A deterministic sample unless SESSION_LINT_SCREEN_FULL=1 (every file takes a minute or more)."""
    checked = 0
    for file, source, cfg in real_project_sources(sample=8):
        if screen_for(cfg, str(file)).check(source.encode(), str(file)):
            _same_with_and_without_slice(source, str(file), cfg, monkeypatch)
            checked += 1
    assert checked


def test_async_defs_are_kept_for_sync_in_async(tmp_path):
    # SES015 reads an injected session through an imported `Annotated[Session, Depends(get_db)]` alias,
    # whose name spells no word: with SES015 selected, every statement holding an `async def` is kept
    write_tree(tmp_path, {"app/__init__.py": "", "app/deps.py": (
        "from typing import Annotated\nfrom fastapi import Depends\nfrom sqlalchemy.orm import Session\n"
        "from core.database import get_db\n\nDbSession = Annotated[Session, Depends(get_db)]\n")})
    source = ("from app.deps import DbSession\n\n\nasync def f(p: DbSession):\n    return p\n\n\n"
              "class C:\n    def outer(self):\n        async def inner(p: DbSession):\n            return p\n"
              "        return inner\n\n\nif True:\n    pass\nelse:\n    async def g(p: DbSession):\n        return p\n\n\n"
              "def plain(p: DbSession):\n    return p\n\n\nmatch mode:\n    case 1:\n        async def h(p: DbSession):\n"
              "            return p\n")
    words = scope_words(Config(), ["SES015"])
    module = cst.parse_module(source)
    assert [module.code_for_node(s).strip().splitlines()[0] for s in scope_slice(module, words).module.body] == [
        "from app.deps import DbSession", "async def f(p: DbSession):", "class C:", "if True:", "match mode:"]
    assert not scope_words(Config(), ["SES003"]).async_defs
    path = tmp_path / "app" / "service.py"
    found = lint_source(source, str(path), Config(root=tmp_path, select=("SES015",)))
    assert [(d.line, d.column, d.code) for d in found] == [(4, 1, "SES015"), (10, 9, "SES015"), (18, 5, "SES015"), (28, 9, "SES015")]


def left_out(source: str, words=WORDS) -> list[str]:
    module = cst.parse_module(source)
    found = scope_slice(module, words).left_out
    return [node.name.value for node in find_all(module, lambda n: type(n) is cst.FunctionDef) if id(node) in found]


SERVICE = ("from core.database import SessionLocal\nfrom sqlalchemy.orm import Session\nimport json\n\nstate = {}\n\n"
           "class Service:\n    limit = 3\n\n"
           "    def load(self, uid):\n        db = SessionLocal()\n        return db.get(User, uid)\n\n"
           "    def fmt(self, x):\n        return json.dumps(x)\n\n"
           "    @property\n    def session(self) -> Session:\n        return self._session\n\n"
           "    @session.setter\n    def session(self, value):\n        self._session = value\n\n"
           "    def reset(self):\n        global state\n        state = {}\n\n"
           "    async def poll(self):\n        return 1\n")


def test_methods_of_a_kept_class_that_spell_no_word_are_left_out():
    # the setter stays: its decorator reads the name the property (which spells `Session`) binds in the
    # class body; `reset` binds a module-level name; `fmt` and `poll` spell no word
    assert kept(SERVICE) == ["from core.database import SessionLocal", "from sqlalchemy.orm import Session",
                             "import json", "state = {}", "class Service:"]
    assert left_out(SERVICE, scope_words(Config(), ["SES001"])) == ["fmt", "poll"]
    assert left_out(SERVICE) == ["fmt"]  # SES015 (among every rule's words) visits every async def


def test_methods_using_a_name_a_seed_binds_are_kept():
    source = ("from core.database import SessionLocal\n\ndb = SessionLocal()\n\nclass Repo:\n"
              "    def a(self):\n        return db.query(User).all()\n\n    def b(self):\n        return 2\n\n"
              "    handler = b\n")
    assert left_out(source) == []  # `a` uses the module's session; `b` is read by the class body
    assert left_out(source.replace("    handler = b\n", "")) == ["b"]


def test_a_class_left_out_whole_leaves_no_method_out():
    source = "from core.database import SessionLocal\n\nclass Unrelated:\n    def f(self):\n        return 1\n"
    assert kept(source) == ["from core.database import SessionLocal"]
    assert left_out(source) == []  # (the class is not analysed at all)


def test_methods_left_out_change_no_finding(monkeypatch):
    source = SERVICE + ("\n    def close_then_read(self, uid):\n        db = SessionLocal()\n        user = db.get(User, uid)\n"
                        "        db.close()\n        return db.query(User).filter_by(name=user.name).all()\n\n"
                        "    def helper(self):\n        return self.fmt(1)\n")
    assert left_out(source) == ["fmt", "helper"]
    _same_with_and_without_slice(source, str(ROOT / "tests" / "project" / "app" / "module.py"), Config(),
                                 monkeypatch)
    assert [d.code for d in lint_source(source, str(ROOT / "tests" / "project" / "app" / "module.py"))] \
        == ["SES001", "SES001", "SES006"]
