"""SES006 session-used-after-close: flagged uses, near misses, message."""

import os

import pytest

from helpers import DEFAULT_PATH, check_flagged, check_noop, check_not_fixed, config, found
from session_lint.api import Config
from session_lint.engine.parallel import Options, lint_one

CODE = "SES006"
HEAD = (
    "from sqlalchemy.orm import Session\n"
    "from core.database import SessionLocal, get_db_session, get_async_session\n"
    "\n"
)  # 3 lines: the function under test starts on line 4


def src(body: str) -> str:
    return HEAD + body


@pytest.mark.parametrize("body, line, col", [
    # after its `with` block
    ("def f():\n    with get_db_session() as db:\n        pass\n    db.query(User).all()\n", 7, 5),
    ("def f():\n    with SessionLocal() as db:\n        db.add(x)\n    return db.execute(q)\n", 7, 12),
    ("async def f():\n    async with get_async_session() as db:\n        pass\n    await db.commit()\n", 7, 11),
    # passed on to a helper after the block
    ("def f():\n    with get_db_session() as db:\n        pass\n    helper(db)\n", 7, 12),
    # after an explicit close()
    ("def f():\n    db = SessionLocal()\n    db.close()\n    db.query(User).all()\n", 7, 5),
    ("def f(db: Session):\n    db.close()\n    return db.get(User, 1)\n", 6, 12),
    # after a try/finally that closed it
    ("def f():\n    db = SessionLocal()\n    try:\n        db.add(x)\n    finally:\n        db.close()\n"
     "    db.commit()\n", 10, 5),
    # closed on one path only
    ("def f(c):\n    db = SessionLocal()\n    if c:\n        db.close()\n    db.commit()\n", 8, 5),
    # in a later loop, a comprehension
    ("def f(ids):\n    with get_db_session() as db:\n        pass\n    return [db.get(User, i) for i in ids]\n", 7, 13),
    # module-level code
    ("with get_db_session() as db:\n    pass\ndb.flush()\n", 6, 1),
])
def test_flagged(body, line, col):
    check_flagged(src(body), [(line, col, CODE)])


def test_first_use_only():
    body = "def f():\n    with get_db_session() as db:\n        pass\n    db.add(x)\n    db.commit()\n"
    check_flagged(src(body), [(7, 5, CODE)])


def test_each_closed_block_is_reported():
    body = ("def f():\n    with get_db_session() as db:\n        pass\n    db.add(x)\n"
            "    with get_db_session() as db:\n        pass\n    db.add(y)\n")
    check_flagged(src(body), [(7, 5, CODE), (10, 5, CODE)])


@pytest.mark.parametrize("body", [
    # used inside the block
    "def f():\n    with get_db_session() as db:\n        db.query(User).all()\n",
    # rebound to a new session
    "def f():\n    db = SessionLocal()\n    db.close()\n    db = SessionLocal()\n    db.query(User).all()\n",
    "def f():\n    with get_db_session() as db:\n        pass\n    with get_db_session() as db:\n        db.add(x)\n",
    # closing again, or testing the name, does not use it
    "def f():\n    with SessionLocal() as db:\n        pass\n    db.close()\n",
    "def f():\n    db = SessionLocal()\n    db.close()\n    if db is not None:\n        pass\n",
    # the path that closed it left the function
    "def f(c):\n    db = SessionLocal()\n    if c:\n        db.close()\n        return\n    db.commit()\n    db.close()\n",
    "def f():\n    db = SessionLocal()\n    try:\n        db.commit()\n    except Exception:\n        db.close()\n"
    "        raise\n    db.add(x)\n",
    # not a session
    "def f():\n    fh = open('x')\n    fh.close()\n    fh.read()\n",
    "def f(conn):\n    conn.close()\n    conn.execute(q)\n",
    "def f():\n    with open('x') as fh:\n        pass\n    fh.read()\n",
    # a nested function is its own scope
    "def f():\n    with get_db_session() as db:\n        pass\n    def g(db):\n        return db.query(User)\n",
    # the name shadowed by a comprehension
    "def f(dbs):\n    with get_db_session() as db:\n        pass\n    return [db.x for db in dbs]\n",
    # a session that is only begun (`with db.begin():`) is not closed
    "def f(db: Session):\n    with db.begin():\n        pass\n    db.query(User).all()\n",
])
def test_not_flagged(body):
    check_noop(src(body), CODE)


def test_message_and_no_fix():
    from session_lint.api import lint_source
    body = "def f():\n    with get_db_session() as db:\n        pass\n    db.query(User).all()\n"
    (d,) = [d for d in lint_source(src(body), str(DEFAULT_PATH), config()) if d.code == CODE]
    assert d.message == "session `db` used after it was closed when its `with` block ended on line 6"
    body = "def f():\n    db = SessionLocal()\n    db.close()\n    db.query(User).all()\n"
    (d,) = [d for d in lint_source(src(body), str(DEFAULT_PATH), config()) if d.code == CODE]
    assert d.message == "session `db` used after it was closed by `db.close()` on line 6"
    check_not_fixed(src(body), CODE)


# -- pytest fixtures: a test's parameter that pytest fills with a session (or a session factory) --------
# Real shapes from rush86999/atom `backend/tests`: `db_session` (a conftest.py fixture built from the
# `worker_database` sessionmaker fixture) closed then queried; `sess = memory_db(); sess.close()`
# then handed to a function; the fixture `session` closed then handed to `_db_ctx(session)`.

CONFTEST = """\
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from core.database import get_db_session


@pytest.fixture(scope="session")
def worker_database():
    engine = create_engine("sqlite://")
    SessionLocal = sessionmaker(bind=engine)
    yield SessionLocal
    engine.dispose()


@pytest.fixture(scope="function")
def db_session(worker_database):
    SessionLocal = worker_database
    session = SessionLocal()
    transaction = session.begin_nested()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def managed():
    with get_db_session() as db:
        yield db


@pytest.fixture
def connection(worker_database):
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        yield conn


@pytest.fixture
def client():
    c = make_client()
    yield c
    c.close()
"""


def make_tree(root, files: dict[str, str]) -> Config:
    (root / "core").mkdir(exist_ok=True)
    (root / "core" / "__init__.py").write_text("")
    (root / "core" / "database.py").write_text(
        "from contextlib import contextmanager\nfrom sqlalchemy.orm import sessionmaker\n\n"
        "SessionLocal = sessionmaker()\n\n\n@contextmanager\ndef get_db_session():\n"
        "    db = SessionLocal()\n    try:\n        yield db\n        db.commit()\n    finally:\n        db.close()\n")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Config(root=root)


def fixture_findings(root, rel: str, source: str, files: dict[str, str] | None = None, code: str = CODE):
    cfg = make_tree(root, {"tests/conftest.py": CONFTEST, **(files or {}), rel: source})
    return found(source, code, path=root / rel, cfg=cfg)


def test_conftest_session_fixture_closed_then_queried(tmp_path):
    # atom tests/error_paths/test_database_error_paths.py:386 and :442
    source = (
        "class TestSessions:\n"
        "    def test_reconnects(self, db_session):\n"
        "        db_session.add(agent)\n"
        "        db_session.commit()\n"
        "        db_session.close()\n"
        "        assert db_session.query(Agent).count() == 1\n"
    )
    assert fixture_findings(tmp_path, "tests/error_paths/test_db.py", source) == [(6, 16, CODE)]
    from session_lint.api import lint_source
    path = tmp_path / "tests/error_paths/test_db.py"
    (d,) = [d for d in lint_source(source, str(path), Config(root=tmp_path)) if d.code == CODE]
    assert d.message == "session `db_session` used after it was closed by `db_session.close()` on line 5"


def test_factory_fixture_call_closed_then_passed_on(tmp_path):
    # atom tests/test_turn_fact_extraction.py:624: the fixture yields the sessionmaker inside a `with patch`
    source = (
        "from unittest.mock import patch\n"
        "import pytest\n"
        "from sqlalchemy.orm import sessionmaker\n"
        "\n"
        "@pytest.fixture()\n"
        "def memory_db():\n"
        "    Session = sessionmaker(bind=engine, autoflush=False)\n"
        "    with patch.object(mod, 'SessionLocal', Session):\n"
        "        yield Session\n"
        "\n"
        "class TestFacts:\n"
        "    def test_empty(self, memory_db):\n"
        "        with memory_db() as db:\n"
        "            assert get_active_facts_for_prompt(db, 'ws') == []\n"
        "\n"
        "    def test_failure_returns_empty(self, memory_db):\n"
        "        sess = memory_db()\n"
        "        sess.close()\n"
        "        assert get_active_facts_for_prompt(sess, 'ws-1') == []\n"
    )
    assert fixture_findings(tmp_path, "tests/test_facts.py", source) == [(19, 44, CODE)]


def test_module_fixture_closed_then_handed_to_a_helper(tmp_path):
    # atom tests/test_covpush_graphrag_engine.py:241
    source = (
        "import pytest\n"
        "from sqlalchemy.orm import sessionmaker\n"
        "\n"
        "@pytest.fixture\n"
        "def session(engine):\n"
        "    Session = sessionmaker(bind=engine)\n"
        "    db = Session()\n"
        "    yield db\n"
        "    db.close()\n"
        "\n"
        "def test_error(g, session):\n"
        "    session.close()\n"
        "    with _db_ctx(session):\n"
        "        assert g.load('ws-1') == {}\n"
    )
    assert fixture_findings(tmp_path, "tests/test_graph.py", source) == [(13, 18, CODE)]


@pytest.mark.parametrize("source, line, col", [
    # `from pytest import fixture`, a class-level fixture, `@pytest.fixture(name=...)`
    ("from pytest import fixture\nfrom sqlalchemy.orm import Session\n\n@fixture\ndef s(engine):\n"
     "    return Session(engine)\n\ndef test_a(s):\n    s.close()\n    s.flush()\n", 10, 5),
    ("import pytest\nfrom core.database import SessionLocal\n\nclass TestA:\n    @pytest.fixture\n"
     "    def db(self):\n        return SessionLocal()\n\n    def test_a(self, db):\n        db.close()\n"
     "        db.flush()\n", 11, 9),
    ("import pytest\nfrom core.database import SessionLocal\n\n@pytest.fixture(name='dbs')\ndef make():\n"
     "    s = SessionLocal()\n    yield s\n\ndef test_a(dbs):\n    dbs.close()\n    dbs.flush()\n", 11, 5),
    # a fixture yielding the configured context manager's session
    ("def test_a(managed):\n    managed.close()\n    managed.execute(q)\n", 3, 5),
    # a fixture building on another one, and an override requesting the fixture it overrides
    ("import pytest\n\n@pytest.fixture\ndef db_session(db_session):\n    db_session.info['x'] = 1\n"
     "    yield db_session\n\ndef test_a(db_session):\n    db_session.close()\n    db_session.flush()\n", 10, 5),
    # a fixture of a base class in the same module
    ("import pytest\nfrom core.database import SessionLocal\n\nclass Base:\n    @pytest.fixture\n"
     "    def db(self):\n        return SessionLocal()\n\nclass TestA(Base):\n    def test_a(self, db):\n"
     "        db.close()\n        db.flush()\n", 12, 9),
    # `with factory.begin() as s:` on a factory fixture; an async test
    ("def test_a(worker_database):\n    with worker_database.begin() as s:\n        pass\n    s.add(x)\n", 4, 5),
    ("async def test_a(db_session):\n    await db_session.close()\n    await db_session.flush()\n", 3, 11),
])
def test_fixture_shapes(tmp_path, source, line, col):
    assert fixture_findings(tmp_path, "tests/test_shapes.py", source) == [(line, col, CODE)]


def test_nearest_definition_wins(tmp_path):
    files = {
        # tests/api overrides `db_session` with something that is not a session
        "tests/api/conftest.py": "import pytest\n\n@pytest.fixture\ndef db_session():\n    return FakeDb()\n",
        # a sibling directory's conftest defines `memory` for its own tests only
        "tests/other/conftest.py": "import pytest\nfrom core.database import SessionLocal\n\n"
                                   "@pytest.fixture\ndef memory():\n    return SessionLocal()\n",
    }
    body = "def test_a(db_session, memory):\n    db_session.close()\n    memory.close()\n" \
           "    db_session.flush()\n    memory.flush()\n"
    assert fixture_findings(tmp_path, "tests/api/test_a.py", body, files) == []
    assert fixture_findings(tmp_path, "tests/test_b.py", body, files) == [(4, 5, CODE)]
    assert fixture_findings(tmp_path, "tests/other/test_c.py", body, files) == [(4, 5, CODE), (5, 5, CODE)]


@pytest.mark.parametrize("rel, source", [
    # fixtures that are not sessions, whatever they are called or however they close
    ("tests/test_a.py", "def test_a(client):\n    client.close()\n    client.get('/')\n"),
    ("tests/test_a.py", "def test_a(connection):\n    connection.close()\n    connection.execute(q)\n"),
    ("tests/test_a.py", "def test_a(worker_database):\n    worker_database.close_all()\n    worker_database()\n"),
    ("tests/test_a.py", "import pytest\n\n@pytest.fixture\ndef db_session():\n    return MagicMock()\n\n"
                        "def test_a(db_session):\n    db_session.close()\n    db_session.query(A)\n"),
    # not a fixture: no such fixture, a helper (not a test), a default, parametrize, a mock.patch argument
    ("tests/test_a.py", "def test_a(db):\n    db.close()\n    db.query(A)\n"),
    ("tests/test_a.py", "def check(db_session):\n    db_session.close()\n    db_session.query(A)\n"),
    ("tests/test_a.py", "def test_a(db_session=None):\n    db_session.close()\n    db_session.query(A)\n"),
    ("tests/test_a.py", "import pytest\n\n@pytest.mark.parametrize('db_session', [1])\n"
                        "def test_a(db_session):\n    db_session.close()\n    db_session.query(A)\n"),
    ("tests/test_a.py", "from unittest.mock import patch\n\n@patch('x.y')\n"
                        "def test_a(db_session):\n    db_session.close()\n    db_session.query(A)\n"),
    # a unittest class gets no fixtures; a nested function is not a test
    ("tests/test_a.py", "import unittest\n\nclass TestA(unittest.TestCase):\n"
                        "    def test_a(self, db_session):\n        db_session.close()\n        db_session.query(A)\n"),
    ("tests/test_a.py", "def test_a():\n    def test_inner(db_session):\n        db_session.close()\n"
                        "        db_session.query(A)\n"),
    # a fixture name imported into the module (or maybe, by a star import), or from an unread base class
    ("tests/test_a.py", "from tests.helpers import db_session\n\n"
                        "def test_a(db_session):\n    db_session.close()\n    db_session.query(A)\n"),
    ("tests/test_a.py", "from tests.helpers import *\n\n"
                        "def test_a(db_session):\n    db_session.close()\n    db_session.query(A)\n"),
    ("tests/test_a.py", "from tests.base import Base\n\nclass TestA(Base):\n"
                        "    def test_a(self, db_session):\n        db_session.close()\n        db_session.query(A)\n"),
    # a parameter named like a fixture in a module that is not a test module
    ("app/service.py", "def test_a(db_session):\n    db_session.close()\n    db_session.query(A)\n"),
    # a fixture with a `close()` rebound before the use
    ("tests/test_a.py", "def test_a(db_session, worker_database):\n    db_session.close()\n"
                        "    db_session = worker_database()\n    db_session.query(A)\n"),
])
def test_fixture_near_misses(tmp_path, rel, source):
    files = {"conftest.py": CONFTEST} if rel.startswith("app/") else {}
    assert fixture_findings(tmp_path, rel, source, files) == []


def test_fixture_files_pass_the_screen(tmp_path):
    """The CLI path (prefilter, screen, cache) finds what lint_source finds, though the test module
    spells no session word; a change to the conftest.py is seen by the cache."""
    source = "def test_a(db_session):\n    db_session.close()\n    db_session.query(A)\n"
    cfg = make_tree(tmp_path, {"tests/conftest.py": CONFTEST, "tests/test_a.py": source})
    options = Options(use_cache=True)
    outcome = lint_one(tmp_path / "tests" / "test_a.py", cfg, options)
    assert [(d.line, d.column, d.code) for d in outcome.diagnostics] == [(3, 5, CODE)]
    conftest = tmp_path / "tests" / "conftest.py"
    conftest.write_text(CONFTEST.replace("    yield session\n", "    yield object()\n"))
    os.utime(conftest, ns=(1, 1))  # a new mtime even on a coarse clock
    outcome = lint_one(tmp_path / "tests" / "test_a.py", cfg, options)
    assert outcome.diagnostics == []


# atom's test modules: the fixture `db` closes the session it made (a local, not a parameter), and
# the tests taking `db` never close it; the screen asks for a function closing its own fixture session
_CLOSING_FIXTURE = ("import pytest\nfrom core.database import SessionLocal\n\n\n@pytest.fixture\ndef db():\n"
                    "    db = SessionLocal()\n    try:\n        yield db\n    finally:\n        db.close()\n\n\n")


@pytest.mark.parametrize("test, expected", [
    ("def test_a(db):\n    user = db.get(User, 1)\n    assert user.name\n", []),
    ("class TestA:\n    def test_a(self, db):\n        db.flush()\n", []),
    ("def test_a(db):\n    db.close()\n    db.flush()\n", [(16, 5, CODE)]),
    ("def test_a(db):\n    def inner():\n        db.close()\n    inner()\n    db.flush()\n", []),
    # and a closed one must be read after its close: atom's tests close what they made last
    ("def test_a(db):\n    db.flush()\n    db.close()\n", []),
    ("def test_a(worker_database):\n    s = worker_database()\n    s.add(x)\n    s.close()\n", []),
    ("def test_a(worker_database):\n    s = worker_database()\n    s.close()\n    s.add(x)\n", [(17, 5, CODE)]),
    ("def test_a(worker_database):\n    with worker_database() as s:\n        s.add(x)\n", []),
    ("def test_a(worker_database):\n    with worker_database.begin() as s:\n        pass\n    s.add(x)\n",
     [(17, 5, CODE)]),
])
def test_the_screen_asks_for_a_function_closing_its_own_fixture_session(tmp_path, test, expected):
    from session_lint.engine.runner import screen_for

    source = _CLOSING_FIXTURE + test
    rel = "tests/test_a.py"
    assert fixture_findings(tmp_path, rel, source) == expected
    path = tmp_path / rel
    verdict = screen_for(Config(root=tmp_path), str(path)).verdict(source.encode(), str(path))
    assert bool(verdict.codes & {"SES005", "SES006"}) is bool(expected)


def test_ses005_reads_after_a_fixture_session_closed(tmp_path):
    """SES005 shares the flow analysis: an object loaded from a fixture session, expired by the
    commit, is read after `close()`; not when the fixture's sessionmaker does not expire on commit."""
    source = ("def test_a(db_session):\n    user = db_session.get(User, 1)\n    db_session.commit()\n"
              "    db_session.close()\n    assert user.name\n")
    assert fixture_findings(tmp_path, "tests/test_a.py", source, code="SES005") == [(5, 12, "SES005")]
    keeps = CONFTEST.replace("sessionmaker(bind=engine)", "sessionmaker(bind=engine, expire_on_commit=False)")
    assert fixture_findings(tmp_path, "tests/test_a.py", source, {"tests/conftest.py": keeps}, code="SES005") == []
