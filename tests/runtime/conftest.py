"""Runtime tests: the demo application and its reference session module on real databases.

``database`` runs a test once on SQLite (fresh file per test) and once on PostgreSQL
(fresh database per test on the server named by SESSION_LINT_PG_URL).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo"
CASES = REPO / "fixtures" / "cases"

# The demo's top-level packages (core, app, scripts) are imported the way the app imports them.
if str(DEMO) not in sys.path:
    sys.path.insert(0, str(DEMO))

import app.models  # noqa: E402,F401  (registers the tables on Base.metadata)
from core import database as core_database  # noqa: E402

PG_ENV = "SESSION_LINT_PG_URL"
PG_NOT_CONFIGURED = (
    "PostgreSQL not configured: set SESSION_LINT_PG_URL (CI starts a server via .ci/postgres.sh)"
)


@dataclass(frozen=True)
class Database:
    url: str  # sync URL, password included
    dialect: str  # "sqlite" | "postgresql"


@pytest.fixture(scope="session")
def pg_server_url() -> URL:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{PG_NOT_CONFIGURED}; it is required when CI=true", pytrace=False)
        pytest.skip(PG_NOT_CONFIGURED)
    return make_url(url)


def _activate(url: URL, dialect: str) -> Iterator[Database]:
    core_database.configure(url)
    core_database.Base.metadata.create_all(core_database.engine)
    try:
        yield Database(url=url.render_as_string(hide_password=False), dialect=dialect)
    finally:
        core_database.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield from _activate(make_url(f"sqlite:///{tmp_path / 'test.db'}"), "sqlite")
        return
    server: URL = request.getfixturevalue("pg_server_url")
    # A database per test: a leaked connection ("before" code) cannot block the next test,
    # and DROP ... WITH (FORCE) ends whatever it left open.
    name = f"session_lint_{uuid.uuid4().hex[:12]}"
    admin = create_engine(core_database.sync_url(server), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield from _activate(server.set(database=name), "postgresql")
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
