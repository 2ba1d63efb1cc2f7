"""Sessions opened through a method of a project class (session_lint/analysis/session_methods.py).

The real shape is prefect's `prefect/server/api/server.py:914`: `db = provide_database_interface();
session = await db.session()`, where `PrefectDBInterface.session` returns
`await self.database_config.session(engine)` and the abstract `BaseDatabaseConfiguration.session`
is implemented by every subclass in its module as `return AsyncSession(engine, ...)`.
"""

from __future__ import annotations

import textwrap

import pytest

from helpers import config, found
from session_lint.api import lint_source
from session_lint.config import Config
from session_lint.engine.screen import Screen
from session_lint.analysis.session_methods import factory_method_flavor, returned_class, session_module_method_names

CONFIGURATIONS = '''
from abc import ABC, abstractmethod
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


class BaseConfiguration(ABC):
    @abstractmethod
    async def session(self, engine: AsyncEngine) -> AsyncSession:
        """A session for an engine."""


class PostgresConfiguration(BaseConfiguration):
    async def session(self, engine: AsyncEngine) -> AsyncSession:
        return AsyncSession(engine, expire_on_commit=False)


class SqliteConfiguration(BaseConfiguration):
    async def session(self, engine: AsyncEngine) -> AsyncSession:
        return AsyncSession(engine, expire_on_commit=False)
'''

INTERFACE = '''
from contextlib import asynccontextmanager
from sqlalchemy.ext.asyncio import AsyncSession
from {pkg}.database.configurations import BaseConfiguration


class DBInterface:
    def __init__(self, database_config: BaseConfiguration):
        self.database_config = database_config
        self._current = None

    async def engine(self):
        return await self.database_config.engine()

    async def session(self) -> AsyncSession:
        engine = await self.engine()
        return await self.database_config.session(engine)

    def current(self) -> AsyncSession:
        return self._current

    @asynccontextmanager
    async def session_context(self):
        session = await self.session()
        async with session:
            yield session


class CachedInterface:
    async def session(self) -> AsyncSession:
        return self._session
'''

DEPENDENCIES = '''
from {pkg}.database.interface import CachedInterface, DBInterface


def provide_cached() -> CachedInterface:
    return CachedInterface()


def provide_database_interface() -> DBInterface:
    return DBInterface(None)


def provide_something_else():
    return DBInterface(None)
'''


def _project(tmp_path, pkg: str = "svc"):
    """A prefect-shaped project under tmp_path; its configuration and the module to lint."""
    database = tmp_path / pkg / "database"
    database.mkdir(parents=True)
    (tmp_path / pkg / "__init__.py").write_text("")
    (database / "__init__.py").write_text(
        "from .dependencies import provide_database_interface\n")
    (database / "configurations.py").write_text(CONFIGURATIONS)
    (database / "interface.py").write_text(INTERFACE.format(pkg=pkg))
    (database / "dependencies.py").write_text(DEPENDENCIES.format(pkg=pkg))
    session_module = ".".join((pkg, "database", "configurations"))
    return config(root=tmp_path, session_module=session_module), tmp_path / pkg / "api.py"


def _lint(src: str, tmp_path, **kwargs):
    cfg, path = _project(tmp_path)
    source = textwrap.dedent(src).lstrip("\n").format(pkg="svc")
    path.write_text(source)
    return found(source, "SES001", path=path, cfg=cfg), cfg, path, source


def test_the_prefect_shape_is_a_manual_session_at_the_method_call(tmp_path):
    src = '''
    async def add_block_types():
        from {pkg}.database import provide_database_interface

        db = provide_database_interface()
        session = await db.session()
        async with session:
            await register(session)
    '''
    findings, cfg, path, source = _lint(src, tmp_path)
    assert findings == [(5, 21, "SES001")]
    # its advice awaits the method: `async with db.session()` would enter a coroutine, not the session
    assert [d.message for d in lint_source(source, str(path), cfg)] == [
        "manual session `db.session()`: use `async with await db.session() as session, session.begin():` "
        "(it commits, rolls back and closes the session, on the engine it was made with)"]


def test_the_screen_lets_the_prefect_shape_through(tmp_path):
    src = '''
    async def add_block_types():
        from {pkg}.database import provide_database_interface

        db = provide_database_interface()
        session = await db.session()
    '''
    _, cfg, path, source = _lint(src, tmp_path)
    screen = Screen(cfg, ("SES001",))
    assert screen.prefilter(source.encode(), str(path))
    assert screen.check(source.encode(), str(path))


def test_a_parameter_annotated_with_the_interface_class_opens_one_too(tmp_path):
    src = '''
    from {pkg}.database.interface import DBInterface


    async def route(db: DBInterface):
        session = await db.session()
        return session
    '''
    assert _lint(src, tmp_path)[0] == [(5, 21, "SES001")]


def test_an_instance_of_a_configuration_class_opens_one(tmp_path):
    src = '''
    from {pkg}.database.configurations import PostgresConfiguration


    async def job(engine):
        config = PostgresConfiguration()
        session = await config.session(engine)
        return session
    '''
    assert _lint(src, tmp_path)[0] == [(6, 21, "SES001")]


@pytest.mark.parametrize("body", [
    # a getter annotated with the session class: the annotation alone is no evidence
    "db = provide_cached()\n    s = await db.session()",
    # the provider context manager is the standard way (decorated: not followed)
    "db = provide_database_interface()\n    s = db.session_context()",
    # no return annotation: the class of `db` is unknown
    "db = provide_something_else()\n    s = await db.session()",
    # two bindings: which object `db` holds is not known
    "db = provide_database_interface()\n    db = other()\n    s = await db.session()",
    # an object of an unrelated class with a method of the same name
    "db = requests.Session()\n    s = db.session()",
])
def test_near_misses_stay_silent(tmp_path, body):
    src = ("import requests\nfrom {pkg}.database.dependencies import provide_cached, "
           "provide_database_interface, provide_something_else\n\n\nasync def f(other):\n    " + body + "\n")
    assert _lint(src, tmp_path)[0] == []


def test_the_provider_method_itself_is_not_reported(tmp_path):
    cfg, _ = _project(tmp_path)
    path = tmp_path / "svc" / "database" / "interface.py"
    assert found(path.read_text(), "SES001", path=path, cfg=cfg) == []


def test_method_facts(tmp_path):
    cfg, _ = _project(tmp_path)
    roots = (tmp_path,)
    interface = ".".join(("svc", "database", "interface", "DBInterface"))
    assert returned_class(".".join(("svc", "database", "provide_database_interface")), roots) == interface
    assert factory_method_flavor(interface, "session", roots) == "async"
    assert factory_method_flavor(interface, "current", roots) is None
    assert factory_method_flavor(interface, "session_context", roots) is None
    assert session_module_method_names(cfg.session_module, roots) == frozenset({"session"})


def test_an_abstract_method_with_one_non_factory_implementation_is_not_a_factory(tmp_path):
    cfg, _ = _project(tmp_path)
    configurations = tmp_path / "svc" / "database" / "configurations.py"
    configurations.write_text(CONFIGURATIONS + '''

class CachedConfiguration(BaseConfiguration):
    async def session(self, engine):
        return self._cached
''')
    base = ".".join(("svc", "database", "configurations", "BaseConfiguration"))
    assert factory_method_flavor(base, "session", (tmp_path,)) is None


def test_without_a_session_module_method_nothing_changes(tmp_path):
    src = '''
    async def f():
        from {pkg}.database import provide_database_interface

        db = provide_database_interface()
        session = await db.session()
    '''
    cfg, path = _project(tmp_path)
    source = textwrap.dedent(src).lstrip("\n").format(pkg="svc")
    assert found(source, "SES001", path=path, cfg=Config(root=tmp_path)) == []
