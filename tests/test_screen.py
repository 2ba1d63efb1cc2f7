"""The screen (prefilter + ast screen) never hides a diagnostic.

The equivalence test lints every source we have with the full engine and checks that
each file the screen skips has no diagnostic at all: committed fixtures, the test
project, every rule's VALID/INVALID examples, every source snippet in the rule tests,
and real projects under /tmp/real when present (never committed).
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import PROJECT, REAL, config, real_project_sources, write_tree

from session_lint.api import Config, lint_source
from session_lint.rules import all_rules, opt_in_codes
from session_lint.rules import screen_triggers as rule_screen_triggers
from session_lint.engine import linter
from session_lint.engine.linter import run_rules
from session_lint.engine.runner import process_data, screen_for
from session_lint.engine.screen import KNOWN_TRIGGERS, TRIGGERS, Screen, Verdict

ROOT = Path(__file__).parent.parent
MODULE = PROJECT / "app" / "module.py"


def screened_out(source: str, path: Path, cfg: Config) -> bool:
    return not screen_for(cfg, str(path)).check(source.encode(), str(path))


def assert_superset(source: str, path: Path, cfg: Config) -> None:
    """Each rule that reports something in this file is one the screen lets run (none at all when
    it screens the file out: not even SES999, unless the prefilter skips the file)."""
    verdict = screen_for(cfg, str(path)).verdict(source.encode(), str(path))
    if verdict.codes is None:
        return  # every rule runs
    found = lint_source(source, str(path), cfg)
    if not verdict.codes and not screen_for(cfg, str(path)).prefilter(source.encode()):
        found = [d for d in found if d.code != "SES999"]  # by design: such files are never parsed
    allowed = verdict.codes | {"SES999"} if verdict.codes else frozenset()  # (the engine parses it: SES999 stays)
    missed = [(d.line, d.code) for d in found if d.code not in allowed]
    assert missed == [], f"the screen lets {sorted(verdict.codes)} run on {path}, which has {missed}"


def _snippets() -> list[str]:
    """Rule examples plus every multi-line string constant in the rule tests that parses."""
    found = [src for rule in all_rules() for src in rule.VALID + rule.INVALID]
    for test in sorted(Path(__file__).parent.glob("test_ses*.py")):
        for node in ast.walk(ast.parse(test.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value:
                src = textwrap.dedent(node.value).lstrip("\n")
                try:
                    ast.parse(src)
                except SyntaxError:
                    continue
                found.append(src)
    return found


def test_every_rule_has_a_trigger():
    # a rule without one is linted on every file (correct, but slow): state `SCREEN_TRIGGERS` in its module
    assert {rule.code for rule in all_rules()} <= set(TRIGGERS)


def test_rule_modules_state_known_triggers():
    # the line the registry reads without importing the rule is the one the module defines
    for rule in all_rules():
        declared = getattr(sys.modules[rule.__module__], "SCREEN_TRIGGERS", None)
        if declared is not None:
            assert rule_screen_triggers()[rule.code] == frozenset(declared), rule.code
        assert TRIGGERS[rule.code] <= KNOWN_TRIGGERS, rule.code


@pytest.mark.parametrize("source", _snippets())
def test_snippets_screen_is_superset(source):
    assert_superset(source, MODULE, config())


@pytest.mark.parametrize("source", [s for s in _snippets() if "async def" in s])
def test_snippets_screen_is_superset_with_the_opt_in_rules(source):
    # opt-in rules (SES015) are off in config(): check their triggers with them named
    assert_superset(source, MODULE, config(extend_select=tuple(sorted(opt_in_codes()))))


def _spaced_dots(source: str) -> str:
    """`source` with every attribute dot spelled ` . ` (`db . commit()`): the same code to the rules."""
    import io
    import tokenize

    lines = source.splitlines(keepends=True)
    dots = [token.start for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type == tokenize.OP and token.string == "."]
    for row, column in reversed(dots):
        line = lines[row - 1]
        lines[row - 1] = line[:column] + " . " + line[column + 1:]
    return "".join(lines)


@pytest.mark.parametrize("source", [s for s in _snippets() if "." in s])
def test_snippets_with_spaced_dots_screen_is_superset(source):
    # the prefilters read calls as `.name(`: whatever lies between the dot and the name, as the rules
    spaced = _spaced_dots(source)
    assert {d.code for d in lint_source(spaced, str(MODULE), config())} == \
        {d.code for d in lint_source(source, str(MODULE), config())}
    assert_superset(spaced, MODULE, config(extend_select=tuple(sorted(opt_in_codes()))))


def test_fixture_and_project_files_screen_is_superset():
    files = [*(ROOT / "fixtures").rglob("*.py"), *PROJECT.rglob("*.py")]
    assert len(files) > 10
    for file in files:
        assert_superset(file.read_text(), file, Config.discover(file))
        assert_superset(file.read_text(), file, config())


def test_invalid_examples_pass_the_screen():
    for rule in all_rules():
        for source in rule.INVALID:
            assert not screened_out(source, MODULE, config(extend_select=(rule.code,))), source


@pytest.mark.skipif(not REAL.is_dir(), reason=f"no real projects under {REAL} (fetch some there to run this)")
def test_real_projects_screen_is_superset():
    """Every screened-out file of each real project lints clean. A deterministic sample of
    files unless SESSION_LINT_SCREEN_FULL=1 (full LibCST on every file takes minutes)."""
    checked = 0
    for file, source, cfg in real_project_sources(sample=40):
        assert_superset(source, file, cfg)
        checked += 1
    assert checked


# -- the prefilter and the ast screen on their own --------------------------------------

def screen(**overrides) -> Screen:
    return Screen(config(**overrides), [r for r in TRIGGERS])


@pytest.mark.parametrize("source", [
    "from core.database import get_dbapi\nget_dbapi()\n",  # word boundary
    "# SessionLocal() is not called here\nx = 1\n",
    "import requests\ns = requests.Session()\n",
    "from requests import Session\nwith Session() as s:\n    s.get('u')\n",
    "def f(db: Session):\n    return db.query(User).all()\n",  # a session parameter, nothing opened or closed
    "def f():\n    with get_db_session() as db:\n        db.add(User())\n",  # nothing used after the block
    "text = 'get_db_session() in a string'\n",
    "class C:\n    def f(self, db: Session):\n        self.close(db)\n        db.query(User)\n",
    # SQL text and a built string, but not the one the SQL is made of (SES014)
    "from sqlalchemy import text\n\ndef f(db, name):\n    log(f'{name}')\n    return db.execute(text('SELECT 1'))\n",
    # `next` on a method of an object the function holds: never a project generator (mealie's migrations)
    "def f(temp_dir):\n    return next(temp_dir.iterdir())\n",
    "from __future__ import annotations\n\n\nclass C:\n    def f(self):\n        return next(self.rows.all())\n",
])
def test_screened_out(source):
    assert not screen().check(source.encode())


@pytest.mark.parametrize("source", [
    "from core.database import SessionLocal as SL\ndb = SL()\n",
    "import core.database as d\nd.SessionLocal()\n",
    "from sqlalchemy import orm\norm.Session(engine)\n",
    "from sqlalchemy.orm import *\nSession(engine)\n",
    "from sqlalchemy.orm import sessionmaker\ndb = sessionmaker(bind=e)()\n",
    "from sqlalchemy.orm import sessionmaker\nS = sessionmaker(bind=e)\ndb = S()\n",
    "db = next(get_db())\n",
    "import app.deps as deps\n\n\ndef f():\n    return next(deps.get_db())\n",  # a module's function
    "from app.deps import *\n\n\ndef f():\n    return next(deps.get_db())\n",  # a star import may bind it
    "from sqlalchemy.orm import sessionmaker\nMaker = sessionmaker(bind=e)\n\ndef f():\n    return Maker()\n",
    "def new_session():\n    return SessionLocal()\n\ndef f():\n    db = new_session()\n",
    "from sqlalchemy.orm import Session as S\n\ndef f():\n    return S(engine)\n",
    # a function-local import aliasing the factory (atom scripts/smoke_test_agent_journey.py main())
    "def main():\n    from core.database import SessionLocal as CoreSessionLocal\n\n    db = CoreSessionLocal()\n",
    "from sqlalchemy.orm import sessionmaker\n\ndef f():\n    with sessionmaker(bind=e).begin() as db:\n"
    "        u = db.get(User, 1)\n    return u.name\n",
    "def f():\n    with get_db_session() as db:\n        u = db.get(User, 1)\n    return u.name\n",
    "def f(db: 'Session'):\n    db.close()\n    db.query(User)\n",
    "async def f(db: Optional[AsyncSession] = None):\n    await db.close()\n    await db.get(User, 1)\n",
    "def f(x: int, db=Depends(get_db)):\n    with get_db_session() as other:\n        pass\n",
    "from core import database_manager\n",
    "from .database_manager import get_db_session\n",
    "from core.database import SessionLocal\ndef f(:\n",  # a syntax error past the prefilter: the engine reports it
])
def test_candidates(source):
    assert screen().check(source.encode())


# SES014 and SES008 spell no session word: their prefilters ask for the call they look at
ROUTE = "@router.post('/items')\ndef create(item: Item, db=Depends(get_db)):\n"


@pytest.mark.parametrize("source", [
    "def label(text: str) -> str:\n    return text.upper()\n",  # `text`, not SQLAlchemy's
    "from htpy import text\n\n\ndef f(n):\n    return text(f'{n} items')\n",
    "@router.delete('/items/{id}')\ndef remove(id: int, service=Depends(get_service)):\n"
    "    return service.remove(id)\n",
    # not on a parameter: on an attribute chain
    "@router.post('/items')\ndef create(item: Item, repo=Depends(get_repository)):\n    return repo.items.add(item)\n",
    # a dot, then a comment of many #s: the write-method regex must not try every way to split them
    "@router.post('/items')\ndef create(item: Item):\n    return 1.  # " + "#" * 100 + "\n",
    # many dots before one comment: its line is read once, not again from every dot
    "@router.post('/items')\ndef create(item: Item):\n    return 1  # " + ".#" * 100_000 + "\n",
])
def test_prefilter_skips_files_without_the_call_a_rule_looks_at(source):
    assert not screen().prefilter(source.encode())
    assert_superset(source, MODULE, config())


def test_a_minified_line_of_writes_is_prefiltered_in_linear_time():
    # writes on attribute chains only: each looks back a bounded way, not to the line's start
    # (300,000 of them on one line took 34 s when each looked back to it; 1.2 s now)
    source = "@router.post('/items')\ndef create(item: Item):\n    " + "self.db.add(item);" * 300_000 + "\n"
    assert not Screen(config(), ["SES008"]).prefilter(source.encode())


@pytest.mark.parametrize("code, source", [
    ("SES014", "from sqlalchemy import text as sql\n\n\ndef f(n):\n    return sql(f'SELECT {n}')\n"),
    ("SES014", "import sqlmodel\n\n\ndef f(n):\n    return sqlmodel.text(f'SELECT {n}')\n"),
    ("SES014", "def f(conn, q):\n    conn.exec_driver_sql(q + ' LIMIT 1')\n"),
    ("SES008", ROUTE + "    db.add(item)\n"),
    ("SES008", "@router.delete('/items/{id}')\ndef remove(id: int, db=Depends(get_db)):\n"
               "    db.delete(db.get(Item, id))\n"),
    ("SES008", ROUTE + "    (db\n     .add(item))\n"),  # the name on the line above
    # a comment inside the attribute
    ("SES008", ROUTE + "    (db.  # the request's session\n     add(item))\n"),
    ("SES008", ROUTE + "    (db.  # the request's session.\n     # (two comment lines)\n\n     add(item))\n"),
    ("SES008", ROUTE + "    db . add(item)\n"),
    ("SES008", ROUTE + "    matrix @ db.add(item)\n"),  # `@` after an operand: a product
])
def test_prefilter_keeps_files_with_the_call_a_rule_looks_at(code, source):
    # the rule alone: no session word lets the file through (`get_db` would, with the other rules)
    assert Screen(config(), [code]).prefilter(source.encode())
    assert_superset(source, MODULE, config())


# A call's dot and name may have blanks, line breaks and comments between them: the prefilters read
# them as the rules' CST does (word_search.AttributeSearch)
SYNC = "from sqlalchemy.orm import Session\n\n\n"
ASYNC = "from sqlalchemy.ext.asyncio import AsyncSession\n\n\n"
ROUTER = "from fastapi import APIRouter, Depends\nfrom core.database import get_db\n\nrouter = APIRouter()\n\n\n"


@pytest.mark.parametrize("code, source", [
    ("SES007", SYNC + "def f(db: Session):\n    with db.begin():\n        db . commit()\n"),
    ("SES007", SYNC + "def f(db: Session):\n    with db.begin():\n        (db.  # why\n         commit())\n"),
    ("SES007", SYNC + "def f(db: Session):\n    with db.begin():\n        db.\\\n            commit()\n"),
    ("SES010", ASYNC + "async def f(db: AsyncSession):\n    db . commit()\n"),
    ("SES010", ASYNC + "async def f(db: AsyncSession):\n    (db.\n     commit  # why\n     ())\n"),
    ("SES013", SYNC + "def f(db: Session):\n    return db . query(User).get(1)\n"),
    ("SES013", SYNC + "def f(db: Session):\n    return (db.query(User).\n            get(1))\n"),
    ("SES008", ROUTER + "@router .post('/items')\ndef create(item: Item, db=Depends(get_db)):\n    db.add(item)\n"),
])
def test_a_call_spelled_apart_from_its_dot_reaches_its_rule(code, source):
    assert code in {d.code for d in lint_source(source, str(MODULE), config())}
    assert Screen(config(), [code]).prefilter(source.encode())
    assert code in screen().verdict(source.encode(), str(MODULE)).codes
    assert_superset(source, MODULE, config())


# SES008 follows the sessions FastAPI injects (fastapi.injected_sessions): a `Depends(...)` default, an
# `Annotated[...]` annotation or a bare alias name; a dotted annotation it resolves no alias through
@pytest.mark.parametrize("parameter, fires", [
    ("db=Depends(get_db)", True),
    ("db: SessionDep", True),
    ("db: Annotated[Session, Depends(get_db)]", True),
    ("db: SessionDep = None", True),
    ("db: dependencies.Docket", False),  # prefect's `docket: dependencies.Docket`
    ("db", False),
    ("db: 'SessionDep'", False),
    ("db: int", False),
])
def test_route_write_trigger_asks_for_a_parameter_fastapi_may_inject(parameter, fires):
    source = ROUTER + f"@router.post('/items')\ndef create({parameter}):\n    db.add(Item())\n"
    assert ("SES008" in screen().verdict(source.encode(), str(MODULE)).codes) is fires
    assert_superset(source, MODULE, config())
    assert_superset(source.replace("SessionDep", "Annotated[Session, Depends(get_db)]"), MODULE, config())


# SES001's `next(name)`: the rule drives the one call the function binds `name` to (sessions._generator_call)
_DRIVEN = "from app.scratch_db import provide_session\n\n\n"


@pytest.mark.parametrize("parameters, body, fires, reports", [
    ("", "    gen = provide_session()\n    db = next(gen)\n", True, True),
    ("", "    gen = other = provide_session()\n    db = next(gen)\n", True, True),
    ("", "    gen: Iterator = provide_session()\n    db = next(gen)\n", True, True),
    ("", "    db = next(gen)\n", True, False),  # a free name: the scopes around may bind it
    ("gen", "    db = next(gen)\n", False, False),  # a parameter: nothing to drive
    ("gen", "    gen = provide_session()\n    db = next(gen)\n", False, False),  # bound twice
    ("", "    gen = iter(rows)\n    db = next(gen)\n", False, False),  # prefect's `next(results)`
    ("", "    gen = flow.fn()\n    db = next(gen)\n", False, False),  # prefect's flow engine: a local object's
    ("", "    gen = provide_session()\n    gen = provide_session()\n    db = next(gen)\n", False, False),
    ("", "    gen = provide_session()\n    gen += 1\n    db = next(gen)\n", False, False),
    ("", "    for gen in gens:\n        db = next(gen)\n", False, False),
    ("", "    with provide_session() as gen:\n        db = next(gen)\n", False, False),
    ("", "    global gen\n    db = next(gen)\n", True, False),
    ("", "    db = [next(gen) for gen in gens]\n", True, False),  # (a comprehension's scope: not followed)
    ("", "    gen = provide_session()\n    pick = lambda: next(gen)\n", True, None),  # (nor a lambda's)
    # in a nested def's decorator or default: the scope around it (the def's parameter is not the name)
    ("", "    gen = provide_session()\n\n    @route(next(gen))\n    def inner(gen=1):\n        pass\n", True, True),
    ("", "    gen = provide_session()\n\n    def inner(db=next(gen), gen=1):\n        pass\n", True, True),
])
def test_raw_trigger_follows_a_driven_name_as_the_rule_does(parameters, body, fires, reports):
    source = f"{_DRIVEN}def f({parameters}):\n{body}"
    assert ("SES001" in Screen(config(), ["SES001"]).verdict(source.encode(), str(MODULE)).codes) is fires
    assert_superset(source, MODULE, config())
    if reports is not None:
        assert ("SES001" in {d.code for d in lint_source(source, str(MODULE), config())}) is reports


# SES001 leaves a session alone that the generator making it hands out (sessions.yields_session), and
# SES002 follows no bare name a function binds: the raw trigger asks the same (atom's test fixtures)
_PROVIDED = "from core.database import SessionLocal, get_db\n\n\n"


@pytest.mark.parametrize("body, fires, reports", [
    ("def f():\n    db = SessionLocal()\n    try:\n        yield db\n    finally:\n        db.close()\n", False, False),
    ("def f():\n    with SessionLocal() as db:\n        yield db\n", False, False),
    ("def f():\n    db: Session = SessionLocal()\n    yield db\n", False, False),
    ("def f(flag):\n    db = SessionLocal() if flag else None\n    yield db\n", False, False),
    ("def f():\n    db = SessionLocal()\n    yield db, Item\n", False, False),
    ("def f():\n    with SessionLocal() as db:\n        yield\n", True, True),  # (hands nothing out)
    ("def f():\n    db = SessionLocal()\n    yield other\n", True, True),
    ("def f():\n    db = SessionLocal()\n\n    def inner():\n        yield db\n    return inner\n", True, True),
    ("def f():\n    db = SessionLocal()\n    yield from [db]\n", True, True),
    ("def f():\n    db = other = SessionLocal()\n    yield db\n", True, False),  # (two targets: not followed)
    ("class Repo:\n    def f(self):\n        db = self.db = SessionLocal()\n        yield db\n", True, True),
    ("def f():\n    yield SessionLocal()\n", True, True),
    # a bare call of the dependency is no session for SES001 or SES002; `next(get_db())` is
    ("def f():\n    gen = get_db()\n    return gen\n", False, False),
    ("def f():\n    with get_db() as db:\n        db.query(Item)\n", False, False),
    ("def f():\n    db = next(get_db())\n    return db\n", True, True),
    # of the same-file functions that open a session, a call of a wrapper (`return SessionLocal()`) only
    ("def provide():\n    db = SessionLocal()\n    yield db\n\n\ndef f():\n    db = provide()\n", False, False),
    ("def provide():\n    with get_db() as db:\n        return db\n\n\ndef f():\n    db = provide()\n", False, False),
    ("def new_session():\n    return SessionLocal()\n\n\ndef f():\n    db = new_session()\n", True, True),
    # `next(name)` follows the name as sessions._generator_call does: through a comprehension that
    # does not bind it, in the module's own code, past an import of the same name (not counted)
    ("def f():\n    gen = get_db()\n    return [x for x in next(gen)]\n", True, True),
    ("def f(batches):\n    return [d for d in next(batches)]\n", False, False),
    ("def f(gens):\n    return [next(gen) for gen in gens]\n", True, False),  # (a comprehension's own name)
    ("if __name__ == '__main__':\n    gen = get_db()\n    print(next(gen))\n", True, True),
    ("def f():\n    import app.deps as gen\n    gen = get_db()\n    return next(gen)\n", True, True),
    # a method of an object the module holds resolves under this module: no project generator
    ("connector = Provider()\nbatches = connector.load()\nprint(next(batches))\n", False, False),
    ("gen = Provider()\n\n\ndef f():\n    return next(gen.sessions())\n", False, False),
    ("import app.deps as deps\nobj = deps\n\n\ndef f():\n    return next(obj.get_db())\n", False, False),
    # the rule follows a call or a name out of `next(...)`, whichever argument comes first, under any name
    ("class Reader:\n    def read(self):\n        return next(self._gen)\n", False, False),
    ("def f(d):\n    return next(d['gen'])\n", False, False),
    ("def f():\n    gens = get_db()\n    return next(*gens)\n", True, True),
    ("import builtins\n\n\ndef f():\n    return builtins.next(get_db())\n", True, True),
    # a function's generator yields a session when its module's facts say so (sessions._module_facts)
    ("from app.scratch_db import provide_session\n\n\ndef f():\n    gen = provide_session()\n    return next(gen)\n",
     True, True),
    ("from app.scratch_db import rows\n\n\ndef f():\n    gen = rows()\n    return next(gen)\n", False, False),
    ("def own():\n    db = SessionLocal()\n    yield db\n\n\ndef f():\n    gen = own()\n    return next(gen)\n",
     True, True),
    ("def own():\n    yield 1\n\n\ndef f():\n    gen = own()\n    return next(gen)\n", False, False),
    ("from other_lib import stream\n\n\ndef f():\n    return next(stream())\n", False, False),
])
def test_raw_trigger_leaves_out_what_the_rules_never_take_for_a_manual_session(body, fires, reports):
    assert_trigger(_PROVIDED + body, {"SES001", "SES002"}, fires, reports)


def assert_trigger(source: str, codes: set[str], fires: bool, reports: bool) -> None:
    """The screen lets `codes` run on `source` (`fires`), the rules report (`reports`), and the screen
    lets every rule that reports run."""
    assert bool(Screen(config(), sorted(codes)).verdict(source.encode(), str(MODULE)).codes) is fires
    assert_superset(source, MODULE, config())
    assert bool({d.code for d in lint_source(source, str(MODULE), config())} & codes) is reports


# SES005/SES006 follow a `.close()` of a name FlowAnalysis holds a session in: one assigned a raw
# session, or a `with` opening's (closed inside its block); not any name a raw session's file closes
_CLOSED = "from core.database import SessionLocal, get_db_session\n\n\n"
_ALIASED = "from typing import Annotated\n\nfrom fastapi import Depends\nfrom sqlalchemy.orm import Session as S\n\n\n"


@pytest.mark.parametrize("body, fires, reports", [
    ("def f():\n    with get_db_session() as db:\n        db.close()\n        return db.query(User).all()\n", True, True),
    ("def f():\n    with SessionLocal.begin() as db:\n        db.close()\n        return db.query(User).all()\n",
     True, True),
    ("def f():\n    if (db := SessionLocal()):\n        db.close()\n        return db.get(User, 1)\n", True, True),
    ("def f():\n    db = SessionLocal()\n    db.close()\n    return db.get(User, 1)\n", True, True),
    ("def f():\n    db = SessionLocal()\n    handle = open(path)\n    handle.close()\n    return handle.name, db\n",
     False, False),
    ("def f():\n    with get_db_session() as db:\n        handle = open(path)\n        handle.close()\n"
     "        return handle.name\n", False, False),
    # a parameter typed as a session under another name (sessions.is_session_annotation resolves it)
    (_ALIASED + "def f(db: S):\n    db.close()\n    return db.query(User).all()\n", True, True),
    (_ALIASED + "def f(db: Annotated[S, Depends(get_db)]):\n    db.close()\n    return db.query(User).all()\n",
     True, True),
    (_ALIASED + "def g():\n    return SessionLocal()\n\n\ndef f(db: S):\n    db.close()\n    return db.get(User, 1)\n",
     True, True),
    ("from typing import Any as S\n\n\ndef f(db: S):\n    db.close()\n    return db.query(User).all()\n",
     False, False),
])
def test_raw_closed_trigger_asks_for_a_closed_session(body, fires, reports):
    assert_trigger(_CLOSED + body, {"SES005", "SES006"}, fires, reports)


def test_configured_names_drive_the_prefilter():
    custom = screen(context_manager="app.db.session_scope", session_factories=("make_session",))
    assert custom.prefilter(b"with session_scope() as s: pass")
    assert custom.prefilter(b"s = make_session()")
    assert not custom.prefilter(b"s = make_sessions()")


@pytest.mark.parametrize("source, passes", [
    (b"import requests\ns = requests.Session()\n", False),  # an HTTP session: not a word
    (b"import boto3\ns = boto3.session.Session()\n", False),
    (b"from requests import Session\ns = Session()\n", True),  # the import spells the word: `ast` decides
    (b"from sqlalchemy import orm\ns = orm.Session(engine)\n", True),
    (b"import requests\nfrom sqlalchemy.orm import Session\nr = requests.Session()\n", True),
])
def test_other_libraries_sessions_do_not_pass_the_prefilter(source, passes):
    assert screen().prefilter(source) is passes


def test_unknown_rule_disables_the_screen():
    unknown = Screen(config(), ["SES001", "SES777"])
    assert unknown.check(b"x = 1\n")


def test_syntax_errors_reach_the_engine_only_in_files_spelling_a_session_name():
    assert screen().check(b"from core.database import SessionLocal\nx = (\n")
    assert not screen().check(b"x = (\n")  # never parsed (the prefilter skips it before any parse)


def test_the_session_module_makes_sessions_without_a_raw_trigger():
    # SES001 and SES002 skip the session module: a factory called there is how the house makes sessions
    source = ("from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker()\n\n\n"
              "def get_db():\n    db = SessionLocal()\n    try:\n        yield db\n    finally:\n        db.close()\n\n\n"
              "def count_items():\n    db = SessionLocal()\n    return db.query(Item).count()\n")
    session_module = PROJECT / "core" / "database.py"
    assert screen().verdict(source.encode(), str(session_module)).codes == frozenset()
    assert screen().verdict(source.encode(), str(MODULE)).codes == {"SES001", "SES002"}
    for path in (session_module, MODULE):
        assert_superset(source, path, config())


def test_a_def_inside_a_walked_statement_is_a_slice_of_its_walk():
    # (screen_ast.Nodes: the nodes of a method, asked after its class was walked, are not walked again)
    from session_lint.engine.screen_ast import Nodes, _walk

    compared = 0
    for file in [*(ROOT / "fixtures").rglob("*.py"), *(ROOT / "session_lint" / "engine").glob("*.py")]:
        tree = ast.parse(file.read_text(encoding="utf-8"))
        nodes = Nodes(tree)
        everything = nodes.all
        assert len(everything) == 1 + sum(len(_walk(statement)) for statement in tree.body)
        inner = [n for n in everything if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                 and id(n) not in nodes.top_level]
        for scope in inner:
            assert id(scope) in nodes.scopes
            assert [id(n) for n in nodes.within(scope)] == [id(n) for n in _walk(scope)]
            compared += 1
    assert compared > 100, "too few nested defs and classes: the comparison says little"


def test_the_nodes_of_some_types_are_those_of_every_node_in_its_order():
    # (screen_ast.Nodes.of: the triggers ask it instead of scanning every node; the import
    # tables built from it depend on the order of the imports)
    from session_lint.engine.screen_ast import Nodes

    asked = [(ast.Call,), (ast.Import, ast.ImportFrom), (ast.FunctionDef, ast.AsyncFunctionDef), (ast.Name, ast.arg),
             (ast.MatchAs,)]
    for file in [*(ROOT / "fixtures").rglob("*.py"), *(ROOT / "session_lint" / "engine").glob("*.py")]:
        nodes = Nodes(ast.parse(file.read_text(encoding="utf-8")))
        for kinds in asked:
            expected = [id(n) for n in nodes.all if isinstance(n, kinds)]
            assert [id(n) for n in nodes.of(*kinds)] == expected
            assert nodes.of(*kinds) is nodes.of(*kinds)  # (one list per file and kinds)


# -- the verdict: only the rules whose trigger fired run ---------------------------------

@pytest.mark.parametrize("source, codes", [
    # SES005/SES006 follow a raw session only once it may close: `.close()` (or a `with` block: `block`)
    ("from core.database import SessionLocal\ndb = SessionLocal()\n", {"SES001", "SES002"}),
    ("from core.database import SessionLocal\n\n\ndef f():\n    db = SessionLocal()\n    u = db.get(User, 1)\n"
     "    db.close()\n    return u.name\n", {"SES001", "SES002", "SES005", "SES006"}),
    ("from core.database import SessionLocal\ndb = SessionLocal()\nu = db.get(User, 1)\ndb . close()\nprint(u.name)\n",
     {"SES001", "SES002", "SES005", "SES006"}),  # (closed in a statement that spells no session word)
    # closed last (mealie's, dispatch's and letta's session modules), or in another function than its reads
    ("from core.database import SessionLocal\n\n\ndef f():\n    db = SessionLocal()\n    try:\n        yield db\n"
     "    finally:\n        db.close()\n", set()),  # (and a provider: SES001 leaves it alone)
    ("from core.database import SessionLocal\ndb = SessionLocal()\n\n\ndef shutdown():\n    db . close()\n",
     {"SES001", "SES002"}),
    ("from core.database import SessionLocal\n\n\ndef f(ids):\n    for i in ids:\n        if i:\n            print(u.name)\n"
     "        db = SessionLocal()\n        u = db.get(User, i)\n        db.close()\n",
     {"SES001", "SES002", "SES005", "SES006"}),  # read in the loop's next turn
    ("from core.database import SessionLocal\n\n\ndef f():\n    db = SessionLocal()\n    db.close()\n"
     "    db = SessionLocal()\n    return db.get(User, 1)\n", {"SES001", "SES002"}),  # a new session
    ("from core import database_manager\n", {"SES004"}),
    ("def f():\n    with get_db_session() as db:\n        u = db.get(User, 1)\n    return u.name\n", {"SES005", "SES006"}),
    ("def f(x: int, db=Depends(get_db)):\n    with get_db_session() as other:\n        pass\n", {"SES003"}),
    ("@router.post('/u')\ndef f(db: Session = Depends(get_db)):\n    db.add(User())\n", {"SES008"}),
    ("def f(db: Session):\n    with db.begin():\n        db.commit()\n", {"SES007"}),
])
def test_verdict_names_the_rules_whose_trigger_fired(source, codes):
    assert screen().verdict(source.encode()) == Verdict(frozenset(codes), parsed=True)
    assert_superset(source, MODULE, config())


# SES010's `unawaited`: a coroutine method called on a name that may hold a session
# (sessions.function_sessions over-approximated), not on every name assigned a call
@pytest.mark.parametrize("source, fires", [
    ("async def f(queue):\n    job = await queue.pop()\n    job.get('k')\n", False),  # opens no session
    ("async def f(rows: dict[str, Session]):\n    rows.get('k')\n", False),  # read by its first element
    ("async def f():\n    found: dict[str, int] = {}\n    found.get('k')\n", False),
    ("from core.database import AsyncSessionLocal\n\n\nasync def f():\n    db = AsyncSessionLocal()\n"
     "    db.commit()\n", True),
    ("async def f(db: Optional[AsyncSession]):\n    db.commit()\n", True),
    ("async def f(db: AsyncSession | None):\n    db.commit()\n", True),
    ("async def f(db: Annotated[Any, Depends(get_db)]):\n    db.commit()\n", True),
    ("async def f(db: SessionDep):\n    db.commit()\n", True),  # may be an alias of `Annotated[...]`
    ("async def f(rows: 'dict[str, Session]'):\n    rows.get('k')\n", False),  # a string states nothing
    ("async def f(db: 'AsyncSession'):\n    db.commit()\n", False),
    ("import asyncio\n\n\nasync def f(w: asyncio.StreamWriter):\n    w.close()\n", False),  # not a session type
    ("from sqlalchemy.ext import asyncio\n\n\nasync def f(db: asyncio.AsyncSession):\n    db.commit()\n", True),
    ("async def f():\n    async with Watch() as w:\n        w.close()\n", False),  # opens no session
    ("async def f(db: Database):\n    async with db.session_context() as s:\n        s.commit()\n", True),
    # a method of an imported module's opens none (sessions._receiver_class: no project class for it)
    ("import respx\n\n\nasync def f():\n    with respx.mock() as m:\n        m.get('u')\n", False),
    ("import respx\n\n\nasync def f(respx):\n    with respx.mock() as m:\n        m.get('u')\n", True),
    ("import respx\nrespx = make()\n\n\nasync def f():\n    with respx.mock() as m:\n        m.get('u')\n", True),
    ("from core import database as db\n\n\nasync def f():\n    async with db.get_async_session() as s:\n"
     "        s.commit()\n", True),
    ("from core.database import get_async_session\n\n\nasync def f():\n    async with get_async_session() as s:\n"
     "        s.commit()\n", True),
    ("async def f(s):\n    await s.execute(q)\n    s.add(x)\n    s.commit()\n", True),  # used like one
    # only the body's own calls count (sessions.own_nodes): not a decorator, not a nested def's code
    ("def make(router):\n    @router.get('/x')\n    async def read():\n        return 1\n    return read\n", False),
    ("async def f(db: AsyncSession):\n    def later():\n        db.commit()\n    return later\n", False),
    ("async def f(db: AsyncSession):\n    async def later():\n        db.commit()\n    return later\n", True),
    ("async def f(db: AsyncSession):\n    if x:\n        db.commit()\n", True),
    # a closure over the outer def's session: in a method, under decorators; not a def after it
    ("class C:\n    async def f(self, db: AsyncSession):\n        async def later():\n            db.commit()\n"
     "        return later\n", True),
    ("@app.get('/x')\nasync def f(db: AsyncSession):\n    @retry\n    async def later():\n        db.commit()\n"
     "    return later\n", True),
    ("async def f(db: AsyncSession):\n    return 1\n\n\nasync def g():\n    db.commit()\n", False),
    # a closure over what the def around may hold (sessions.sessions_of): polar's mocked side effects
    ("async def f(db: AsyncSession):\n    found: dict[str, int] = {}\n\n    async def fake(s: AsyncSession, key):\n"
     "        return found.get(key)\n    return fake\n", False),
    ("def f():\n    db = AsyncSessionLocal()\n\n    async def later():\n        db.commit()\n    return later\n", True),
    ("async def f(db: AsyncSession):\n    async def g():\n        async def h():\n            db.commit()\n"
     "        return h\n    return g\n", True),  # two defs out
    ("async def f(db: AsyncSession):\n    async def g(db):\n        db.commit()\n    return g\n", False),  # rebound
    ("rows = {}\n\n\nasync def f():\n    async def g():\n        rows.get(1)\n    return g\n", False),  # a global
    # the configured sync dependency injects a sync session, whatever the annotation (mealie's dependencies)
    ("from fastapi import Depends\nfrom core.database import get_db\n\n\n"
     "async def f(db: AsyncSession = Depends(get_db)):\n    db.commit()\n", False),
    ("from fastapi import Depends\nfrom core.database import get_async_db\n\n\n"
     "async def f(db=Depends(get_async_db)):\n    db.commit()\n", True),
    ("from fastapi import Depends\nfrom app.deps import get_db\n\n\nasync def f(db=Depends(get_db)):\n"
     "    db.commit()\n", True),  # another module's `get_db`
    ("from core.database import get_db\n\n\nasync def f(db=Depends(get_db)):\n    db.commit()\n", True),  # which Depends?
])
def test_unawaited_trigger_fires_only_on_names_that_may_hold_a_session(source, fires):
    # with SES001 the prefilter looks for the words a session opening spells (alone, any call may open one)
    assert ("SES010" in Screen(config(), ["SES001", "SES010"]).verdict(source.encode()).codes) is fires
    assert "SES010" in Screen(config(), ["SES010"]).verdict(source.encode()).codes or not fires
    assert_superset(source, MODULE, config())


# SES005's and SES006's `block`: a name that may hold the session or an object of it (FlowAnalysis follows loads,
# aliases, loop targets and added objects) read after the block, not any name the block mentions
_OPEN = "from core.database import get_db_session\n\n\n"


@pytest.mark.parametrize("body, after, fires", [
    ("        u = db.get(User, 1)\n", "    return u.name\n", True),
    ("        users = db.scalars(select(User)).all()\n", "    return [u.name for u in users]\n", True),
    ("        for u in db.query(User):\n            last = u\n", "    return last.name\n", True),  # a loop target's alias
    ("        db.add(user)\n", "    return user.id\n", True),
    ("        db.add_all([a, b])\n", "    return b.id\n", True),
    ("        u = load_user(db, 1)\n", "    return u.name\n", True),  # a helper given the session may load
    ("        u = list(db.scalars(q))\n", "    return u\n", True),
    ("        pass\n", "    return db\n", True),  # the closed session itself (SES006)
    ("        u = db.get(User, 1)\n        name = u.name\n", "    return name\n", False),  # a value, not an object
    ("        repo = Repository.from_session(db)\n        ids = repo.expired_ids()\n", "    return ids\n", False),
    ("        ids = [1, 2]\n        db.execute(q)\n", "    return ids\n", False),
    # FlowAnalysis binds an object to a bare name only: not `self`, not a tuple (mealie's event bus listeners)
    ("        self._session = db\n", "    return self.other\n", False),
    ("        a, b = db.get(User, 1), 2\n", "    return a.name\n", False),
    ("        for a, b in db.execute(q):\n            pass\n", "    return a.name\n", False),
    # read again only after a plain rebinding that every path from the block runs through (mealie's fixtures)
    ("        u = db.get(User, 1)\n", "    with get_db_session() as db:\n        u = db.get(User, 2)\n"
     "        return u.name, db\n", False),
    ("        u = db.get(User, 1)\n", "    u = fresh()\n    if q:\n        return u.name\n", False),
    ("        u = db.get(User, 1)\n", "    u, (v, *w) = fresh()\n    return u.name\n", False),
    ("        u = db.get(User, 1)\n", "    if q:\n        u = fresh()\n    return u.name\n", True),  # one path only
    ("        u = db.get(User, 1)\n", "    if q:\n        u = fresh()\n    else:\n        return u.name\n", True),
    ("        u = db.get(User, 1)\n", "    u.name = 'x'\n    u = fresh()\n", True),  # read before it
    ("        u = db.get(User, 1)\n", "    v = fresh()\n    u += v\n", True),  # `+=` reads first
    ("        u = db.get(User, 1)\n", "    u = u.parent\n", True),  # the value read is the old one
    ("        u = db.get(User, 1)\n", "    u = fresh()\n    def g():\n        return u.name\n    return g\n", False),
])
def test_block_trigger_follows_what_the_session_hands_out(body, after, fires):
    source = f"{_OPEN}def f(user, a, b, q):\n    with get_db_session() as db:\n{body}{after}"
    assert ("SES005" in Screen(config(), ["SES005", "SES006"]).verdict(source.encode()).codes) is fires
    assert_superset(source, MODULE, config())


HELPERS = {
    "app/__init__.py": "",
    "app/models.py": "class User(Base):\n    __tablename__ = 'users'\n",
    "app/helpers.py": ("from app.models import User\n\n\ndef count(db) -> int:\n    return db.query(User).count()\n\n\n"
                       "def load(db, uid):\n    return db.get(User, uid)\n"),
}


@pytest.mark.parametrize("call, fires, reports", [
    ("count(db)", False, False),  # returns no object (models.project_loader)
    ("load(db, 1)", True, True),
    ("_own_count(db)", False, False),  # a function of this file
    ("_own_load(db)", True, True),
    ("helpers.count(db)", True, False),  # (an attribute: not looked up)
])
def test_block_trigger_asks_what_a_helper_given_the_session_returns(tmp_path, call, fires, reports):
    # polar's tasks keep counts returned by helpers (`created = await _backfill_owner_members(session, org)`)
    source = ("from core.database import get_db_session\nfrom app import helpers\nfrom app.helpers import count, load\n"
              "from app.models import User\n\n\ndef _own_count(db):\n    return db.query(User).count()\n\n\n"
              "def _own_load(db):\n    return db.get(User, 1)\n\n\n"
              f"def f():\n    with get_db_session() as db:\n        got = {call}\n    return got.id\n")
    write_tree(tmp_path, {**HELPERS, "core/__init__.py": "", "core/database.py": (PROJECT / "core" / "database.py").read_text(),
                          "app/tasks.py": source})
    path, cfg = tmp_path / "app" / "tasks.py", config(root=tmp_path)
    assert ("SES005" in Screen(cfg, ["SES005", "SES006"]).verdict(source.encode(), str(path)).codes) is fires
    assert_superset(source, path, cfg)
    assert [(d.code, d.line) for d in lint_source(source, str(path), cfg)] == ([("SES005", 18)] if reports else [])


def test_block_trigger_reads_an_enclosing_loop():
    # the next iteration reads what this one loaded: `u` is used before the block, in the same loop
    source = (f"{_OPEN}def f(ids):\n    u = None\n    for i in ids:\n        if u is not None:\n            print(u.name)\n"
              "        with get_db_session() as db:\n            u = db.get(User, i)\n")
    assert "SES005" in Screen(config(), ["SES005", "SES006"]).verdict(source.encode()).codes
    assert "SES005" not in Screen(config(), ["SES005", "SES006"]).verdict(
        source.replace("u = db.get(User, i)", "n = db.get(User, i)").encode()).codes
    # a rebinding before the block shadows nothing after it: the block rebinds `u` in between
    source = (f"{_OPEN}def f(ids):\n    for i in ids:\n        u = None\n        with get_db_session() as db:\n"
              "            u = db.get(User, i)\n        print(u.name)\n")
    assert "SES005" in Screen(config(), ["SES005", "SES006"]).verdict(source.encode()).codes
    assert_superset(source, MODULE, config())


# A bare annotation imported from a module where it is no `Annotated[...]` alias states no AsyncSession for the
# rules (sessions.annotation_flavor, fastapi._alias_flavor): polar's TypedDicts, starlette's `Scope`, `Session`
ANNOTATED_MODULES = {
    "app/__init__.py": "",
    "app/props.py": "from typing import TypedDict\n\n\nclass GrantProps(TypedDict):\n    id: str\n",
    "app/deps.py": ("from typing import Annotated\nfrom fastapi import Depends\nfrom sqlalchemy.ext.asyncio import AsyncSession\n"
                    "from core.database import get_db\n\nSessionDep = Annotated[AsyncSession, Depends(get_db)]\n"),
}


@pytest.mark.parametrize("head, annotation, fires", [
    ("from app.props import GrantProps", "GrantProps", False),
    ("from .props import GrantProps", "GrantProps", False),  # relative, in the file's package
    ("from starlette.types import Scope", "Scope", False),  # no project source: no alias
    ("from app.props import GrantProps", "Optional[GrantProps]", False),
    ("from app.props import GrantProps\nfrom app.props import GrantProps as Wrapper", "Wrapper[GrantProps]", False),
    ("from app.deps import SessionDep", "SessionDep", True),  # an `Annotated[AsyncSession, ...]` alias
    ("from .deps import SessionDep", "SessionDep", True),
    ("from sqlalchemy.ext.asyncio import AsyncSession as AS", "AS", True),
    ("from app.props import AsyncSession", "AsyncSession", True),  # an async session type's name, wherever from
    ("from sqlalchemy.orm import Session", "Session", False),  # a sync session: SES010 follows async ones only
    ("from app.deps import SessionDep as Session", "Session", True),
    ("from typing_extensions import Annotated as A\nfrom app.props import GrantProps", "A[GrantProps, Depends(x)]",
     True),
    ("from app.props import GrantProps\nGrantProps = make()", "GrantProps", True),  # bound twice
    ("from app.props import GrantProps\nfrom app.other import *", "GrantProps", True),  # a star import may rebind it
    ("from ...far import GrantProps", "GrantProps", True),  # above the top-level package
    ("", "UnknownLocal", True),
])
def test_unawaited_trigger_reads_what_an_imported_annotation_is(tmp_path, head, annotation, fires):
    write_tree(tmp_path, ANNOTATED_MODULES)
    path = tmp_path / "app" / "service.py"
    source = f"from typing import Optional\n{head}\n\n\nasync def f(p: {annotation}):\n    return p.get('id').strip()\n"
    path.write_text(source)
    cfg = config(root=tmp_path)
    assert ("SES010" in Screen(cfg, ["SES010"]).verdict(source.encode(), str(path)).codes) is fires
    assert_superset(source, path, cfg)


# SES003's `managed` and SES015's `sync_in_async` ask whether FastAPI may inject a session into a parameter
# (fastapi.injected_sessions): a bare annotation imported from a module where it is no `Annotated[...]` alias
# injects none (polar's task modules: `UUID`, their own enums)
INJECTION_MODULES = {
    "app/__init__.py": "",
    "core/__init__.py": "",
    "core/database.py": (PROJECT / "core" / "database.py").read_text(),
    "app/props.py": "from typing import TypedDict\n\n\nclass GrantProps(TypedDict):\n    id: str\n",
    "app/deps.py": ("from typing import Annotated\nfrom fastapi import Depends\nfrom sqlalchemy.orm import Session\n"
                    "from core.database import get_db\n\nDbSession = Annotated[Session, Depends(get_db)]\n"),
}
_SESSION_ANNOTATED = ("from typing import Annotated as A\nfrom fastapi import Depends\nfrom sqlalchemy.orm import Session\n"
                      "from core.database import get_db")


@pytest.mark.parametrize("head, annotation, fires, reports", [
    ("from app.props import GrantProps", "GrantProps", False, False),
    ("from .props import GrantProps", "GrantProps", False, False),
    ("from uuid import UUID", "UUID", False, False),  # no project source: no alias
    ("from sqlalchemy.orm import Session", "Session", False, False),  # FastAPI injects no bare type
    ("from app.props import GrantProps\nfrom app.props import GrantProps as Wrapper", "Wrapper[GrantProps]",
     False, False),
    ("from app.deps import DbSession", "DbSession", True, True),  # an `Annotated[Session, Depends(...)]` alias
    ("from .deps import DbSession", "DbSession", True, True),
    ("from app.deps import DbSession as Session", "Session", True, True),
    (_SESSION_ANNOTATED, "A[Session, Depends(get_db)]", True, True),
    ("from app.props import GrantProps\nGrantProps = make()", "GrantProps", True, False),  # bound twice
    ("from app.props import GrantProps\nfrom app.other import *", "GrantProps", True, False),
    ("from ...far import GrantProps", "GrantProps", True, False),  # above the top-level package
    ("", "UnknownLocal", True, False),
])
@pytest.mark.parametrize("code", ["SES003", "SES015"])
def test_injection_triggers_read_what_an_imported_annotation_is(tmp_path, code, head, annotation, fires, reports):
    write_tree(tmp_path, INJECTION_MODULES)
    path = tmp_path / "app" / "service.py"
    if code == "SES003":  # a session opened where one may be injected
        source = (f"from core.database import get_db_session\n{head}\n\n\ndef f(p: {annotation}):\n"
                  "    with get_db_session() as s:\n        s.add(p)\n")
    else:  # an `async def` that may receive a sync session
        source = f"{head}\n\n\nasync def f(p: {annotation}):\n    return p\n"
    path.write_text(source)
    cfg = config(root=tmp_path, select=(code,))
    assert (code in Screen(cfg, [code]).verdict(source.encode(), str(path)).codes) is fires
    assert_superset(source, path, cfg)
    assert [d.code for d in lint_source(source, str(path), cfg)] == ([code] if reports else [])


def test_unpacked_keyword_arguments_are_no_session():
    source = ("from typing import Unpack\nfrom app.props import GrantProps\n\n\n"
              "async def f(**scope: Unpack[GrantProps]):\n    return scope.get('id').strip()\n")
    assert "SES010" not in Screen(config(), ["SES010"]).verdict(source.encode(), str(MODULE)).codes


# SES011's `shared_tasks`: coroutines started with a name that may hold a session, not any `gather`
@pytest.mark.parametrize("source, fires", [
    ("import asyncio\n\n\nasync def f(urls):\n    await asyncio.gather(*(fetch(u) for u in urls))\n", False),
    ("import asyncio\n\n\nasync def f(client):\n    asyncio.create_task(ping(client, timeout=3))\n", False),
    ("import asyncio\n\n\nasync def f(db: AsyncSession):\n    await asyncio.gather(load(db), count(db))\n", True),
    ("import asyncio\n\n\nasync def f():\n    async with get_async_session() as db:\n"
     "        asyncio.create_task(work(db))\n        await db.commit()\n", True),
    ("import asyncio\n\n\nasync def f(db: AsyncSession):\n    async def g():\n"
     "        await asyncio.gather(load(db), count(db))\n    await g()\n", True),  # a closure over it
    ("from asyncio import gather as g\n\n\nasync def f(db: AsyncSession):\n    await g(a(db), b(db))\n", True),
])
def test_shared_tasks_trigger_fires_only_on_tasks_given_what_may_be_a_session(source, fires):
    assert ("SES011" in Screen(config(), ["SES001", "SES011"]).verdict(source.encode()).codes) is fires
    assert_superset(source, MODULE, config())


# SES012's `lazy_loop`: a query loop reading an attribute named like a relationship of a visible model
LAZY_MODELS = "class User(Base):\n    items = relationship('Item')\n\n\n"


@pytest.mark.parametrize("source, fires", [
    (LAZY_MODELS + "def f(db: Session):\n    for u in db.query(User).all():\n        print(u.name, u.email)\n", False),
    (LAZY_MODELS + "def f(db: Session):\n    return [u.id for u in db.scalars(select(User))]\n", False),
    ("def f(db: Session):\n    for u in db.query(User).all():\n        print(u.items)\n", False),  # no model here
    (LAZY_MODELS + "def f(db: Session):\n    for u in db.query(User).all():\n        print(u.items)\n", True),
    (LAZY_MODELS + "def f(db: Session):\n    return [len(u.items) for u in db.scalars(select(User))]\n", True),
    (LAZY_MODELS + "def f(db: Session):\n    users = db.query(User).all()\n    return {u.id: u.items for u in users}\n",
     True),
])
def test_lazy_loop_trigger_fires_only_on_reads_named_like_a_relationship(source, fires):
    assert ("SES012" in Screen(config(), ["SES012"]).verdict(source.encode(), str(MODULE)).codes) is fires
    assert_superset(source, MODULE, config())


# SES008's `route_write`: `execute` writes only an insert / update / delete statement (sessions.writes_through)
@pytest.mark.parametrize("body, fires", [
    ("    db.execute(select(Item))\n", False),  # polar's health check: `execute(select(1))`
    ("    db.execute(text('SELECT 1'))\n", False),
    ("    db.execute(insert(Item).values(name='x'))\n", True),
    ("    db.execute(update(Item).where(Item.id == 1).values(name='x'))\n", True),
    ("    db.execute(delete(Item).where(Item.id == 1).returning(Item.id))\n", True),
    ("    db.execute(statement=insert(Item))\n", True),  # the statement as a keyword: still the first argument
    ("    db.execute(execution_options={}, statement=update(Item))\n", True),  # (any argument counts)
    ("    db.execute(select(Item))\n    db.merge(item)\n", True),
])
def test_route_write_trigger_counts_execute_of_a_write_statement_only(body, fires):
    source = "from fastapi import Depends\nfrom core.database import get_db\n\n\n" + ROUTE + body
    assert ("SES008" in Screen(config(), ["SES008"]).verdict(source.encode()).codes) is fires
    assert_superset(source, MODULE, config())


# SES007's and SES008's triggers ask what the rules ask of a route's `Depends(dep)`: does `dep` own its
# transaction (a `begin()` block around its `yield`), does it never commit
DEPENDENCY_MODULES = {
    "app/__init__.py": "",
    "core/__init__.py": "",
    "core/database.py": (PROJECT / "core" / "database.py").read_text(),
    "app/deps.py": (
        "from core.database import SessionLocal\n\n\n"
        "def owned():\n    with SessionLocal() as s, s.begin():\n        yield s\n\n\n"
        "def plain():\n    db = SessionLocal()\n    try:\n        yield db\n    finally:\n        db.close()\n\n\n"
        "def committing():\n    db = SessionLocal()\n    try:\n        yield db\n        db.commit()\n    finally:\n"
        "        db.close()\n"),
}


@pytest.mark.parametrize("code, head, dependency, body, fires, reports", [
    ("SES007", "from fastapi import Depends\nfrom app.deps import owned", "owned", "    db.commit()\n", True, True),
    ("SES007", "from fastapi import Depends\nfrom app.deps import plain", "plain", "    db.commit()\n", False, False),
    ("SES007", "from fastapi import Depends\nfrom .deps import committing as dep", "dep", "    db.commit()\n", False, False),
    ("SES007", "from fastapi import Depends\nfrom app.unknown import dep", "dep", "    db.commit()\n", False, False),
    # (an attribute is not followed, another `Depends` is not FastAPI's, a name bound twice is not known)
    ("SES007", "from fastapi import Depends\nimport app.deps as d", "d.owned", "    db.commit()\n", True, True),
    ("SES007", "from app.params import Depends\nfrom app.deps import plain", "plain", "    db.commit()\n", True, False),
    ("SES007", "from fastapi import Depends\nfrom app.deps import plain\nplain = owned", "plain", "    db.commit()\n",
     True, None),
    ("SES008", "from fastapi import Depends\nfrom app.deps import plain", "plain", "    db.add(item)\n", True, True),
    ("SES008", "from fastapi import Depends\nfrom app.deps import committing", "committing", "    db.add(item)\n",
     False, False),
    ("SES008", "from fastapi import Depends\nfrom app.deps import owned", "owned", "    db.add(item)\n", False, False),
    ("SES008", "from fastapi.params import Depends\nfrom .deps import plain", "plain", "    db.add(item)\n", True, True),
])
def test_transaction_and_route_write_triggers_read_the_route_dependency(tmp_path, code, head, dependency, body, fires,
                                                                       reports):
    write_tree(tmp_path, DEPENDENCY_MODULES)
    path = tmp_path / "app" / "routes.py"
    source = (f"from sqlalchemy.orm import Session\n{head}\n\n\n@router.post('/items')\n"
              f"def create(item: Item, db: Session = Depends({dependency})):\n{body}")
    path.write_text(source)
    cfg = config(root=tmp_path)
    assert (code in Screen(cfg, [code]).verdict(source.encode(), str(path)).codes) is fires
    assert_superset(source, path, cfg)
    if reports is not None:
        assert [d.code for d in lint_source(source, str(path), cfg)] == ([code] if reports else [])


ALIASES = ("from typing import Annotated\n\nfrom fastapi import Depends\nfrom sqlalchemy.orm import Session\n\n"
           "from app.deps import committing, owned, plain\n\n"
           "OwnedSession = Annotated[Session, Depends(owned)]\nPlainSession = Annotated[Session, Depends(plain)]\n"
           "CommittingSession = Annotated[Session, Depends(committing)]\nNoDependency = Annotated[Session, 'docs']\n")


# ... and of an alias of `Annotated[T, Depends(dep)]` imported from a project module (fastapi.injected_dependency)
@pytest.mark.parametrize("code, head, annotation, body, fires, reports", [
    ("SES007", "from app.aliases import OwnedSession", "OwnedSession", "    db.commit()\n", True, True),
    ("SES007", "from app.aliases import PlainSession", "PlainSession", "    db.commit()\n", False, False),
    ("SES007", "from app.aliases import NoDependency", "NoDependency", "    db.commit()\n", False, False),
    ("SES007", "from core.database import SessionLocal", "SessionLocal", "    db.commit()\n", False, False),  # dispatch's
    ("SES007", "from app.unknown import OwnedSession", "OwnedSession", "    db.commit()\n", True, False),
    ("SES007", "from app.aliases import PlainSession as OwnedSession", "OwnedSession", "    db.commit()\n", False, False),
    ("SES008", "from app.aliases import PlainSession", "PlainSession", "    db.add(item)\n", True, True),
    ("SES008", "from app.aliases import CommittingSession", "CommittingSession", "    db.add(item)\n", False, False),
    ("SES008", "from app.aliases import NoDependency", "NoDependency", "    db.add(item)\n", False, False),
])
def test_transaction_and_route_write_triggers_read_an_imported_alias(tmp_path, code, head, annotation, body, fires,
                                                                    reports):
    write_tree(tmp_path, {**DEPENDENCY_MODULES, "app/aliases.py": ALIASES})
    path = tmp_path / "app" / "routes.py"
    source = f"{head}\n\n\n@router.post('/items')\ndef create(item: Item, db: {annotation}):\n{body}"
    path.write_text(source)
    cfg = config(root=tmp_path)
    assert (code in Screen(cfg, [code]).verdict(source.encode(), str(path)).codes) is fires
    assert_superset(source, path, cfg)
    assert [d.code for d in lint_source(source, str(path), cfg)] == ([code] if reports else [])


@pytest.mark.parametrize("dependency, fires", [("committing", False), ("plain", True)])
def test_a_relative_import_above_the_package_leaves_the_other_imports_known(tmp_path, dependency, fires):
    # polar's backoffice modules sit in folders without `__init__.py`: `from ..dependencies import get_admin`
    # climbs above the package the file's module name gives, which made every import of the file unknown
    write_tree(tmp_path, {**DEPENDENCY_MODULES, "app/helpers.py": "def check():\n    return True\n"})
    path = tmp_path / "app" / "admin" / "routes.py"  # (no app/admin/__init__.py)
    source = (f"from fastapi import Depends\nfrom sqlalchemy.orm import Session\nfrom app.deps import {dependency}\n"
              f"from ..helpers import check\n\n\n@router.post('/items')\n"
              f"def create(item: Item, db: Session = Depends({dependency})):\n    check()\n    db.add(item)\n")
    write_tree(tmp_path, {"app/admin/routes.py": source})
    cfg = config(root=tmp_path)
    assert ("SES008" in Screen(cfg, ["SES008"]).verdict(source.encode(), str(path)).codes) is fires
    assert_superset(source, path, cfg)
    assert [d.code for d in lint_source(source, str(path), cfg)] == (["SES008"] if fires else [])


# SES014's `sql_string`: `text(...)` only when it may be SQLAlchemy's (not htpy's HTML `text`)
@pytest.mark.parametrize("source, fires", [
    ("from htpy import text\n\n\ndef f(n):\n    return text(f'{n} items')\n", False),
    ("from sqlalchemy import text\n\n\ndef f(db: Session, n):\n    return db.execute(text(f'SELECT {n}'))\n", True),
    ("from sqlalchemy import text as sql\n\n\ndef f(n):\n    return sql(f'SELECT {n}')\n", True),
    ("import sqlalchemy as sa\n\n\ndef f(n):\n    return sa.text(f'SELECT {n}')\n", True),
    ("from sqlalchemy import *\n\n\ndef f(n):\n    return text(f'SELECT {n}')\n", True),
    ("def f(conn, n):\n    q = 'SELECT ' + n\n    conn.exec_driver_sql(q)\n", True),
])
def test_sql_string_trigger_fires_only_on_sqlalchemy_text(source, fires):
    assert ("SES014" in Screen(config(), ["SES014"]).verdict(source.encode()).codes) is fires
    assert_superset(source, MODULE, config())


# SES003's `managed`: an opening in a function FastAPI may inject a session into (fastapi.injected_sessions)
OPENING = "    with get_db_session() as other:\n        other.add(x)\n"


@pytest.mark.parametrize("signature, fires", [
    ("def f(x: int = None):", False),  # a default that is no call
    ("def f(item: models.Item):", False),  # a dotted annotation is no alias
    ("def f(item: 'Item'):", False),  # nor is a string
    ("def f(items: list[Item]):", False),  # a subscript of a builtin is not `Annotated`
    ("def f(db: Session = Depends(get_db)):", True),
    ("def f(db: Annotated[Session, Depends(get_db)]):", True),
    ("def f(db: typing.Annotated[Session, Depends(get_db)]):", True),
    ("def f(db: SessionDep):", True),  # may be an alias of `Annotated[...]`
])
def test_managed_trigger_fires_only_where_a_session_may_be_injected(signature, fires):
    source = f"{signature}\n{OPENING}"
    assert ("SES003" in Screen(config(), ["SES003"]).verdict(source.encode()).codes) is fires
    assert_superset(source, MODULE, config())


def test_verdict_without_a_parse():
    assert screen().verdict(b"x = 1\n") == Verdict(frozenset(), parsed=False)  # the prefilter's no
    # what CPython cannot parse: the rules whose words it spells (LibCST may parse newer syntax)
    broken = b"from core.database import SessionLocal\ndef f(:\n"
    spelling_rules = {"SES001", "SES002", "SES003", "SES004", "SES005", "SES006"}  # a session word: their triggers
    assert screen().verdict(broken) == Verdict(frozenset(spelling_rules), parsed=False)
    # no selected rule's words: every rule, so the engine still parses it and reports SES999
    assert Screen(config(), ["SES009"]).verdict(broken) == Verdict(None, parsed=False)


NEWER_SYNTAX = ("from core.database import SessionLocal\n\ntype UserId = int\n\n\ndef f():\n"
                "    db = SessionLocal()\n    return db.query(User).all()\n")


@pytest.mark.parametrize("source", [NEWER_SYNTAX, "from core.database import SessionLocal\ndef f(:\n"])
def test_files_this_python_cannot_parse_report_what_unscreened_runs_report(source):
    # PEP 695 on 3.11: LibCST parses it, `ast` does not; a plain syntax error: SES999 either way
    screened = process_data(MODULE, source.encode(), config())
    unscreened = process_data(MODULE, source.encode(), config(), screen=False)
    assert _outcome(screened.diagnostics) == _outcome(unscreened.diagnostics)
    assert screened.diagnostics and all(d.code in ("SES001", "SES999") for d in screened.diagnostics)


SES001_AND_SES004 = "from core import database_manager\nfrom core.database import SessionLocal\n\n\ndef f():\n" \
                    "    db = SessionLocal()\n    return db\n"


def test_only_the_rules_the_verdict_names_run():
    path = str(MODULE)
    assert {d.code for d in run_rules(SES001_AND_SES004, path, config()).diagnostics} == {"SES001", "SES004"}
    only = run_rules(SES001_AND_SES004, path, config(), Verdict(frozenset({"SES004"}), parsed=True))
    assert [(d.line, d.code) for d in only.diagnostics] == [(1, "SES004")]


def test_a_text_the_screen_parsed_is_not_parsed_by_cpython_again(monkeypatch):
    asked = []
    real = linter.too_deep
    monkeypatch.setattr(linter, "too_deep", lambda source, path: asked.append(path) or real(source, path))
    run_rules(SES001_AND_SES004, "a.py", config(), Verdict(frozenset({"SES004"}), parsed=True))
    assert asked == []
    run_rules(SES001_AND_SES004, "b.py", config(), Verdict(frozenset({"SES004"}), parsed=False))
    run_rules(SES001_AND_SES004, "c.py", config())
    assert asked == ["b.py", "c.py"]


def _outcome(diagnostics) -> list[tuple]:
    return [(d.line, d.column, d.code, d.message, d.fix and d.fix.applicability, d.edits) for d in diagnostics]


def test_screened_runs_report_what_unscreened_runs_report():
    # the CLI's path (the verdict picks the rules), JSON edits included, against every rule on the text
    files = [*(ROOT / "fixtures").rglob("*.py"), *PROJECT.rglob("*.py")]
    compared = 0
    for file in files:
        data, cfg = file.read_bytes(), Config.discover(file)
        if not screen_for(cfg, str(file)).verdict(data, str(file)).codes:
            continue  # every rule runs, or none (test_fixture_and_project_files_screen_is_superset)
        screened = process_data(file, data, cfg, with_edits=True, write=False)
        unscreened = process_data(file, data, cfg, with_edits=True, screen=False, write=False)
        assert _outcome(screened.diagnostics) == _outcome(unscreened.diagnostics), file
        compared += bool(unscreened.diagnostics)
    assert compared > 10


def test_a_registry_from_a_project_builder_spelling_no_session_word(tmp_path):
    # polar's worker: `_maker = create_async_sessionmaker(engine)` in a function, `_maker()` in another;
    # the file spells no session word, only the builder's name (SES001 reads the builder's source)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "db.py").write_text(
        "from sqlalchemy.ext.asyncio import async_sessionmaker\n\n\n"
        "def create_async_sessionmaker(engine):\n    return async_sessionmaker(engine)\n")
    source = ("from app.db import create_async_sessionmaker\n\n_maker = None\n\n\ndef setup(engine):\n"
              "    global _maker\n    _maker = create_async_sessionmaker(engine)\n\n\ndef get():\n    return _maker()\n")
    path = tmp_path / "app" / "worker.py"
    cfg = Config.discover(tmp_path)
    assert [(d.line, d.column, d.code) for d in lint_source(source, str(path), cfg)] == [(12, 12, "SES001")]
    assert "SES001" in screen_for(cfg, str(path)).verdict(source.encode(), str(path)).codes
    assert_superset(source, path, cfg)


def test_projects_configured_alike_get_their_own_screen(tmp_path):
    # a configuration's equality leaves its root out; the screen reads each root's helpers and
    # dependencies (a monorepo's services, or a fixture linted with two configurations in one run)
    first, second = config(root=tmp_path / "a"), config(root=tmp_path / "b")
    assert first == second
    assert screen_for(first, str(MODULE)).config.root == tmp_path / "a"
    assert screen_for(second, str(MODULE)).config.root == tmp_path / "b"
