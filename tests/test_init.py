"""`session-lint --init`: convention discovery on small synthetic projects and on the demo app."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from session_lint.config import Config, ConfigError
from session_lint.frontends.init import discover_conventions, render, run_init, write_config

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "demo"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, src in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src).lstrip("\n"), encoding="utf-8")
    return tmp_path


def init_config(root: Path) -> Config:
    """The generated block, loaded the way session-lint loads it."""
    block = render(discover_conventions(root))
    path = root / "generated.toml"
    path.write_text(block.replace("[tool.session-lint]", "[tool.session-lint]", 1), encoding="utf-8")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(block, encoding="utf-8")
    return Config.from_file(pyproject)


PKG = {"app/__init__.py": "", "app/db/__init__.py": ""}


def test_sessionmaker_with_aliased_import_and_tuple_unpacking(tmp_path):
    root = project(tmp_path, {**PKG, "app/db/session.py": """
        from sqlalchemy.orm import sessionmaker as sm, scoped_session
        import sqlalchemy.ext.asyncio as aio

        engine = make_engine()
        SyncMaker, AsyncMaker = sm(bind=engine), aio.async_sessionmaker(engine, expire_on_commit=False)
        ScopedSession = scoped_session(sm(bind=engine))
        local_only = 1
        def helper():
            maker = sm()  # a local variable, not a project factory
    """})
    cfg = init_config(root)
    assert cfg.session_module == "app.db.session"
    assert cfg.session_factories == ("SyncMaker", "ScopedSession")
    assert cfg.async_session_factories == ("AsyncMaker",)
    assert cfg.expire_on_commit is False
    block = render(discover_conventions(root))
    assert '"SyncMaker",  # app/db/session.py:5' in block
    assert "expire-on-commit = false  # app/db/session.py:5" in block


def test_factory_built_by_a_function_and_lazy_module_attribute(tmp_path):
    root = project(tmp_path, {**PKG, "app/db/core.py": """
        from sqlalchemy.ext.asyncio import async_sessionmaker

        def make_factory(engine):
            return async_sessionmaker(engine, expire_on_commit=False)

        _factory = None
        def _get_factory():
            global _factory
            if _factory is None:
                _factory = async_sessionmaker()
            return _factory

        def __getattr__(name):
            if name == "LazySession":
                return _get_factory()
            raise AttributeError(name)

        Maker = make_factory(engine)
    """})
    cfg = init_config(root)
    assert set(cfg.async_session_factories) == {"LazySession", "Maker"}  # `_factory` is private
    assert cfg.expire_on_commit is False


def test_context_manager_that_commits_rollbacks_and_closes(tmp_path):
    root = project(tmp_path, {**PKG, "app/db/session.py": """
        import contextlib
        from sqlalchemy.orm import sessionmaker

        SessionFactory = sessionmaker()

        @contextlib.contextmanager
        def session_scope():
            s = SessionFactory()
            try:
                yield s
                s.commit()
            except Exception:
                s.rollback()
                raise
            finally:
                s.close()

        @contextlib.contextmanager
        def timer():  # near miss: a context manager that yields no session
            yield 1

        @contextlib.asynccontextmanager
        async def session_context():
            async with make()() as session:
                yield session
    """})
    cfg = init_config(root)
    assert cfg.context_manager == "session_scope"
    assert cfg.session_factories == ("SessionFactory",)
    assert "session_scope" in render(discover_conventions(root))
    assert "timer" not in render(discover_conventions(root))


def test_a_context_manager_that_opens_begin_commits(tmp_path):
    # `with session.begin():` commits on a clean exit: the same answer the rules' helper readers
    # give (knowledge.COMMITTING_METHODS), so it ranks above one that only closes
    root = project(tmp_path, {**PKG, "app/db/session.py": """
        import contextlib
        from sqlalchemy.orm import sessionmaker

        SessionFactory = sessionmaker()

        @contextlib.contextmanager
        def read_scope():
            s = SessionFactory()
            try:
                yield s
            finally:
                s.close()

        @contextlib.contextmanager
        def unit_of_work():
            with SessionFactory() as s, s.begin():
                yield s
    """})
    assert init_config(root).context_manager == "unit_of_work"


def test_async_context_manager_from_async_sessionmaker(tmp_path):
    root = project(tmp_path, {**PKG, "app/db/session.py": """
        from contextlib import asynccontextmanager
        from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

        AsyncSessionMaker = async_sessionmaker()

        @asynccontextmanager
        async def session_context():
            session = AsyncSessionMaker()
            try:
                yield session
                await session.commit()
            finally:
                await session.close()
    """})
    cfg = init_config(root)
    assert cfg.async_context_manager == "session_context"
    assert cfg.async_session_factories == ("AsyncSessionMaker",)


def test_generator_dependency_and_annotated_alias_ranked_by_use(tmp_path):
    root = project(tmp_path, {**PKG, "app/api/__init__.py": "", "app/api/deps.py": """
        from collections.abc import Generator
        from typing import Annotated
        from fastapi import Depends
        from sqlmodel import Session

        def get_session() -> Generator[Session, None, None]:
            with Session(engine) as session:
                yield session

        def get_other() -> Generator[Session, None, None]:
            with Session(engine) as session:
                yield session

        SessionDep = Annotated[Session, Depends(get_session)]
    """, "app/api/routes.py": """
        from fastapi import Depends
        from sqlmodel import Session
        from app.api.deps import SessionDep, get_other

        def a(session: SessionDep): ...
        def b(session: SessionDep): ...
        def c(session: Session = Depends(get_other)): ...
    """})
    cfg = init_config(root)
    assert cfg.dependency == "get_session"
    assert cfg.session_module == "app.api.deps"
    assert cfg.session_type == "sqlmodel.Session"
    block = render(discover_conventions(root))
    assert "# dependency alias app/api/deps.py:14: SessionDep = Annotated[Session, Depends(get_session)]" in block
    # SPEC §2: both are the session module's dependencies, the most used first (the one fixes use)
    assert ('dependency = [\n    "get_session",  # app/api/deps.py:6, used 2 times\n'
            '    "get_other",  # app/api/deps.py:10, used 1 times\n]') in block


def test_non_generator_dependency_found_through_its_alias(tmp_path):
    # Netflix/dispatch style: get_db returns the request's session; routes use the alias.
    root = project(tmp_path, {**PKG, "app/db/core.py": """
        from typing import Annotated
        from fastapi import Depends
        from sqlalchemy.orm import Session, sessionmaker

        SessionLocal = sessionmaker()

        def get_db(request) -> Session:
            return request.state.db

        DbSession = Annotated[Session, Depends(get_db)]
    """, "app/views.py": """
        from app.db.core import DbSession as DB

        def index(db_session: DB): ...
    """})
    cfg = init_config(root)
    assert cfg.dependency == "get_db"
    assert cfg.session_module == "app.db.core"


def test_dependency_outside_the_session_module_is_spelled_in_full(tmp_path):
    root = project(tmp_path, {**PKG, "app/db/session.py": """
        from contextlib import asynccontextmanager
        from sqlalchemy.ext.asyncio import async_sessionmaker
        Maker = async_sessionmaker()
        Maker2 = async_sessionmaker()

        @asynccontextmanager
        async def unit():
            async with Maker() as s:
                yield s
    """, "app/deps.py": """
        from collections.abc import AsyncIterator
        from sqlalchemy.ext.asyncio import AsyncSession

        async def get_async_session(request) -> AsyncIterator[AsyncSession]:
            yield request.state.session
    """})
    cfg = init_config(root)
    assert cfg.session_module == "app.db.session"
    assert cfg.async_dependency == "app.deps.get_async_session"
    assert cfg.async_context_manager == "unit"


def test_deprecated_shim_with_renamed_helpers(tmp_path):
    root = project(tmp_path, {**PKG, "app/db/session.py": """
        from contextlib import contextmanager
        from sqlalchemy.orm import sessionmaker
        SessionLocal = sessionmaker()

        @contextmanager
        def get_sync_session():
            db = SessionLocal()
            try:
                yield db
            finally:
                db.close()
    """, "app/db/legacy.py": """
        import warnings
        from app.db import session as new

        def get_sync_session():
            warnings.warn("use app.db.session", DeprecationWarning)
            return new.get_sync_session()

        def old_scope():
            warnings.warn("use app.db.session", category=DeprecationWarning)
            return new.get_sync_session()
    """})
    cfg = init_config(root)
    assert cfg.deprecated_map == {
        "app.db.legacy": "app.db.session",
        "app.db.legacy.old_scope": "app.db.session.get_sync_session",
    }
    assert cfg.context_manager == "get_sync_session"  # the shim's own copy is not a candidate


def test_nothing_found_gives_a_loadable_block_without_default_deprecations(tmp_path):
    root = project(tmp_path, {"main.py": "print('hello')\n"})
    cfg = init_config(root)
    assert cfg.deprecated == ()
    assert cfg.session_module == Config().session_module  # defaults stay
    assert "# session-module: not found" in render(discover_conventions(root))


def test_tests_and_fixtures_are_not_conventions(tmp_path):
    root = project(tmp_path, {"tests/conftest.py": """
        from sqlalchemy.orm import sessionmaker
        TestingSession = sessionmaker()
    """, "app/fixtures.py": """
        import pytest
        from sqlalchemy.orm import Session
        @pytest.fixture
        def db() -> Session:
            with Session() as s:
                yield s
    """})
    discovery = discover_conventions(root)
    assert discovery.factories == [] and discovery.dependencies == []


def test_newer_syntax_than_the_running_python_is_still_scanned(tmp_path):
    root = project(tmp_path, {**PKG, "app/db/session.py": """
        from sqlalchemy.orm import sessionmaker
        type Maker = sessionmaker
        SessionLocal = sessionmaker()
        def f():
            try:
                pass
            except ValueError, TypeError:
                pass
    """})
    assert init_config(root).session_factories == ("SessionLocal",)


def test_newer_syntax_after_a_long_run_of_blank_lines_is_still_scanned(tmp_path):
    # the rewrite matches indentation within its line: `^\\s*` ran over every following blank line
    # from each one (120,000 blank lines took minutes)
    blank = "\n" * 120_000
    root = project(tmp_path, {**PKG, "app/db/session.py": "from sqlalchemy.orm import sessionmaker\n" + blank
                              + "type Maker = sessionmaker\nSessionLocal = sessionmaker()\n"})
    assert init_config(root).session_factories == ("SessionLocal",)


def test_demo_application_reproduces_its_reference_configuration():
    cfg = init_config_readonly(DEMO)
    reference = Config.from_file(DEMO / "pyproject.toml")
    for attr in ("session_module", "session_factories", "context_manager", "dependency",
                 "async_session_factories", "async_context_manager", "async_dependency",
                 "expire_on_commit"):
        assert getattr(cfg, attr) == getattr(reference, attr), attr
    assert cfg.deprecated_map == reference.deprecated_map


def init_config_readonly(root: Path) -> Config:
    return Config.from_dict(tomllib.loads(run_init(root)[0])["tool"]["session-lint"])


# -- --write --------------------------------------------------------------------------

def test_write_appends_and_keeps_the_file_byte_for_byte(tmp_path):
    original = b'[project]\r\nname = "x"  # keep me\r\n\r\n[tool.ruff]\r\nline-length = 100'
    (tmp_path / "pyproject.toml").write_bytes(original)
    block = "[tool.session-lint]\nsession-module = \"app.db\"\n"
    target = write_config(block, tmp_path)
    data = target.read_bytes()
    assert data.startswith(original + b"\r\n")
    assert data.endswith(b'[tool.session-lint]\r\nsession-module = "app.db"\r\n')
    assert Config.from_file(target).session_module == "app.db"


def test_write_creates_the_file(tmp_path):
    project(tmp_path, {"db.py": "from sqlalchemy.orm import sessionmaker\nS = sessionmaker()\n"})
    block, written = run_init(tmp_path, write=True)
    assert written == tmp_path / "pyproject.toml"
    assert written.read_text() == block
    assert Config.from_file(written).session_factories == ("S",)


def test_write_refuses_an_existing_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.session-lint]\nselect = ['SES']\n")
    with pytest.raises(ConfigError, match="already has a \\[tool.session-lint\\] table"):
        run_init(tmp_path, write=True)
    assert (tmp_path / "pyproject.toml").read_text() == "[tool.session-lint]\nselect = ['SES']\n"


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="expects a project directory"):
        run_init(tmp_path / "missing")
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        run_init(tmp_path, write=True)


# -- the command line -------------------------------------------------------------------

def cli(*args, cwd: Path | None = None):
    from click.testing import CliRunner

    from session_lint.frontends.cli import main
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_init_prints_and_writes(tmp_path):
    root = project(tmp_path, {"db.py": "from sqlalchemy.orm import sessionmaker\nMaker = sessionmaker()\n"})
    code, out, _ = cli("--init", root)
    assert code == 0 and out.startswith("[tool.session-lint]\n") and '"Maker",  # db.py:2' in out
    assert not (root / "pyproject.toml").exists()
    code, _, err = cli("--init", "--write", root)
    assert code == 0 and "Added [tool.session-lint] to" in err
    assert (root / "pyproject.toml").read_text() == out
    code, out, err = cli("--init", "--write", root)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "already has" in err


def test_cli_init_bad_path_is_one_line(tmp_path):
    code, _, err = cli("--init", tmp_path / "nope")
    assert code == 2 and err.strip().splitlines() == [
        f"session-lint: error: --init expects a project directory, got {tmp_path / 'nope'}"]


def test_notice_when_no_configuration_exists(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("a.py")
    if (tmp_path.parent / "pyproject.toml").exists():  # pragma: no cover - a config above tmp
        pytest.skip("a pyproject.toml above the temporary directory")
    assert code == 0 and err.count("--init") == 1 and "defaults" in err
    (tmp_path / "pyproject.toml").write_text("[tool.session-lint]\n")
    assert "--init" not in cli("a.py")[2]


def test_alembic_migrations_are_excluded(tmp_path):
    root = project(tmp_path, {"app/__init__.py": "", "app/migrations/env.py": """
        from alembic import context
        context.configure()
    """, "app/migrations/versions/0001_x.py": """
        from sqlalchemy.orm import Session
        def upgrade():
            session = Session(bind=op.get_bind())
    """, "other/env.py": "import os\n"})
    cfg = init_config(root)
    assert cfg.exclude == ("app/migrations",)
    assert cfg.is_excluded(root / "app" / "migrations" / "versions" / "0001_x.py")
    assert not cfg.is_excluded(root / "app" / "models.py")


# -- issue 11/14: atom's backend/ (run from the directory its imports resolve from) ---------------

ATOM_SHAPE = {
    "backend/__init__.py": "",
    "backend/core/__init__.py": "",
    "backend/core/database.py": """
        from sqlalchemy.orm import sessionmaker

        SessionLocal = sessionmaker(bind=engine, expire_on_commit=False)

        def get_db():
            db = SessionLocal()
            try:
                yield db
            finally:
                db.close()

        def get_db_session():
            from contextlib import contextmanager

            @contextmanager
            def _session_context():
                db = SessionLocal()
                try:
                    yield db
                    db.commit()
                except Exception:
                    db.rollback()
                    raise
                finally:
                    db.close()

            return _session_context()
    """,
    "backend/api/__init__.py": "",
    "backend/api/routes.py": """
        from fastapi import Depends
        from core.database import get_db, get_db_session

        def index(db=Depends(get_db)):
            return 1
    """,
    "backend/services/__init__.py": "",
    "backend/services/jobs.py": "from core.database import get_db_session\nimport core.database\n",
    "backend/scripts/seed.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.orm import sessionmaker

        SessionLocal = sessionmaker(bind=create_engine("sqlite:///dev.db"))
    """,
}


def test_module_names_follow_how_the_project_imports_itself(tmp_path):
    # backend/ has an __init__.py, but the code imports `core.database`, never `backend.core.database`
    root = project(tmp_path, ATOM_SHAPE) / "backend"
    assert init_config(root).session_module == "core.database"


def test_the_package_name_stays_when_the_project_imports_it_that_way(tmp_path):
    files = {**ATOM_SHAPE, "backend/services/jobs.py": "from backend.core.database import get_db_session\n",
             "backend/api/routes.py": "from backend.core.database import get_db\n"}
    root = project(tmp_path, files) / "backend"
    assert init_config(root).session_module == "backend.core.database"


def test_a_function_returning_a_context_manager_built_inside_it_is_the_context_manager(tmp_path):
    root = project(tmp_path, ATOM_SHAPE) / "backend"
    cfg = init_config(root)
    assert cfg.context_manager == "get_db_session"
    assert cfg.dependency == "get_db"
    assert "context-manager = \"get_db_session\"  # core/database.py:12" in render(discover_conventions(root))


def test_a_scripts_own_sessionmaker_is_not_configured_as_the_projects_factory(tmp_path):
    # configured, SES001's fix would point the script's dev.db sessions at the session module's engine
    root = project(tmp_path, ATOM_SHAPE) / "backend"
    assert init_config(root).session_factories == ("SessionLocal",)
    block = render(discover_conventions(root))
    assert ("#   not configured: seed.SessionLocal (scripts/seed.py:4), its own sessionmaker "
            "(calls are reported as raw sessions, never rewritten)") in block


PREFECT_SHAPE = {
    # sessions are built by configuration classes and handed out by an interface's methods; a
    # service module has a private helper of its own
    "prefect/__init__.py": "",
    "prefect/server/__init__.py": "",
    "prefect/server/database/__init__.py": "",
    "prefect/server/database/configurations.py": """
        from sqlalchemy.ext.asyncio import AsyncSession


        class AsyncPostgresConfiguration:
            async def session(self, engine) -> AsyncSession:
                return AsyncSession(engine, expire_on_commit=False)


        class AioSqliteConfiguration:
            async def session(self, engine) -> AsyncSession:
                return AsyncSession(engine, expire_on_commit=False)
        """,
    "prefect/server/services/__init__.py": "",
    "prefect/server/services/db_vacuum.py": """
        from contextlib import asynccontextmanager
        from typing import AsyncIterator

        from sqlalchemy.ext.asyncio import AsyncSession


        @asynccontextmanager
        async def _maintenance_session(db) -> AsyncIterator[AsyncSession]:
            session = await db.config.session(await db.config.engine())
            async with session:
                yield session
        """,
}


def test_the_module_that_builds_sessions_is_the_session_module(tmp_path):
    # prefect: --init chose the vacuum service (a private helper) and SES001 then reported the
    # project's own session factories in configurations.py
    root = project(tmp_path, PREFECT_SHAPE)
    cfg = init_config(root)
    assert cfg.session_module == "prefect.server.database.configurations"
    assert cfg.expire_on_commit is False
    assert "_maintenance_session" not in render(discover_conventions(root))


def test_a_private_helper_is_not_a_convention(tmp_path):
    root = project(tmp_path, {"app/__init__.py": "", "app/db.py": """
        from contextlib import contextmanager

        from sqlalchemy.orm import sessionmaker

        SessionLocal = sessionmaker()


        @contextmanager
        def _scratch():
            db = SessionLocal()
            try:
                yield db
            finally:
                db.close()
        """})
    cfg = init_config(root)
    assert cfg.session_module == "app.db"
    assert cfg.context_manager == "get_db_session"  # the default: `_scratch` is not configured


def test_factories_and_helpers_built_in_a_module_level_try_are_found(tmp_path):
    # atom's core/database.py: async support is set up inside `try: ... except ImportError:`
    root = project(tmp_path, {**PKG, "app/db/session.py": """
        from contextlib import asynccontextmanager
        from sqlalchemy.orm import sessionmaker

        SessionLocal = sessionmaker(bind=engine, expire_on_commit=False)

        try:
            from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
            AsyncSessionLocal = async_sessionmaker(async_engine, class_=AsyncSession, expire_on_commit=False)
        except ImportError:
            AsyncSessionLocal = None

        async def get_async_db():
            async with AsyncSessionLocal() as session:
                yield session

        def get_async_db_session():
            @asynccontextmanager
            async def _context():
                async with AsyncSessionLocal() as session:
                    try:
                        yield session
                        await session.commit()
                    except Exception:
                        await session.rollback()
                        raise
            return _context()
    """})
    cfg = init_config(root)
    assert cfg.async_session_factories == ("AsyncSessionLocal",)
    assert cfg.async_dependency == "get_async_db"
    assert cfg.async_context_manager == "get_async_db_session"


def test_expire_on_commit_from_the_sessions_the_helpers_build(tmp_path):
    # onyx: no sessionmaker; every helper builds Session(bind=..., expire_on_commit=False)
    root = project(tmp_path, {**PKG, "app/db/engine.py": """
        from contextlib import contextmanager
        from sqlalchemy.orm import Session

        @contextmanager
        def get_session_with_tenant(tenant):
            session = Session(bind=engine, expire_on_commit=False)
            try:
                yield session
            finally:
                session.close()

        def get_session():
            with Session(bind=engine, expire_on_commit=False) as session:
                yield session
    """})
    cfg = init_config(root)
    assert cfg.expire_on_commit is False
    assert "expire-on-commit = false  # app/db/engine.py:5" in render(discover_conventions(root))


def test_helpers_that_disagree_on_expire_on_commit_leave_sqlalchemys_default(tmp_path):
    root = project(tmp_path, {**PKG, "app/db/engine.py": """
        from contextlib import contextmanager
        from sqlalchemy.orm import Session

        @contextmanager
        def fresh():
            session = Session(bind=engine, expire_on_commit=False)
            try:
                yield session
            finally:
                session.close()

        @contextmanager
        def expiring():
            session = Session(bind=engine, expire_on_commit=True)
            try:
                yield session
            finally:
                session.close()
    """})
    assert "expire-on-commit = true  # SQLAlchemy's default" in render(discover_conventions(root))


def test_several_helpers_of_the_session_module_are_written_as_a_list(tmp_path):
    # dispatch: get_session and get_organization_session; a script's namesake is only mentioned
    helper = """
        @contextmanager
        def {name}():
            session = SessionLocal()
            try:
                yield session
            finally:
                session.close()
    """
    root = project(tmp_path, {**PKG, "app/db/core.py": """
        from contextlib import contextmanager
        from sqlalchemy.orm import sessionmaker

        SessionLocal = sessionmaker(bind=engine)
    """ + helper.format(name="get_session") + helper.format(name="get_organization_session"),
        "scripts/tool.py": "from contextlib import contextmanager\nfrom app.db.core import SessionLocal\n"
                           + textwrap.dedent(helper.format(name="session_scope"))})
    cfg = init_config(root)
    assert cfg.context_managers == ("get_session", "get_organization_session")
    block = render(discover_conventions(root))
    assert "#   also found: tool.session_scope (scripts/tool.py:5)" in block


def test_a_deprecated_helper_that_behaves_otherwise_is_said_in_a_comment(tmp_path):
    # atom: the deprecated get_db_session(commit=False) does not commit; the session module's one does
    root = project(tmp_path, {**PKG, "app/db/session.py": """
        from contextlib import contextmanager
        from sqlalchemy.orm import sessionmaker
        SessionLocal = sessionmaker()

        @contextmanager
        def get_db_session():
            db = SessionLocal()
            try:
                yield db
                db.commit()
            finally:
                db.close()
    """, "app/db/legacy.py": """
        import warnings
        from contextlib import contextmanager
        from app.db.session import SessionLocal

        @contextmanager
        def get_db_session(commit: bool = False):
            warnings.warn("use app.db.session", DeprecationWarning)
            db = SessionLocal()
            try:
                yield db
                if commit:
                    db.flush()
            finally:
                db.close()
    """})
    block = render(discover_conventions(root))
    assert ("# app.db.legacy.get_db_session (app/db/legacy.py:6) is not app.db.session.get_db_session: their "
            "parameters or their commits differ, so SES004 reports its imports without rewriting them") in block
    assert init_config(root).deprecated_map == {"app.db.legacy": "app.db.session"}
