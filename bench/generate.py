"""Generate a synthetic FastAPI/SQLAlchemy repository for benchmarks and tests (never committed).

Mix per 100 files by default (realistic: 5-35% of the files of real repositories touch
sessions; in the real projects we ran, 1-3% of files had something to report): ~75
unrelated modules (utilities, dataclasses; some mention "session" in docstrings, ~15% use
`requests.Session()`), ~22 clean session users (routes with `Depends(get_db)`, services with
`with get_db_session()`), ~3 with anti-patterns (cycling through every pattern SES001-SES006
flag, and SES004 imports). Deterministic for a given seed.
"""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

PYPROJECT = """\
[tool.session-lint]
session-module = "core.database"
"""

DATABASE = '''\
"""The session module (exempt from SES001/SES002)."""
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine, expire_on_commit=True)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@contextmanager
def get_db_session():
    db = SessionLocal()
    try:
        yield db
        db.commit()
    except Exception:
        db.rollback()
        raise
    finally:
        db.close()
'''

DATABASE_MANAGER = '''\
"""Deprecated shim."""
from core.database import get_db as get_db_session_for_request, get_db_session as get_monitored_db_session
'''

MODELS = '''\
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    items: Mapped[list["Item"]] = relationship(back_populates="owner")


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    owner: Mapped[User] = relationship(back_populates="items")
'''

UNRELATED_FUNC = '''
def {name}(values: list[int], factor: float = {f}) -> dict[str, float]:
    """Summarise values (the session word appears in docs: session handling lives elsewhere).

    Args:
        values: the samples.
        factor: weight of the multiples.
    """
    # Accumulate in one pass; rounding happens at the end.
    total = 0.0
    result: dict[str, float] = {{}}
    for index, value in enumerate(values):
        if value % {m} == 0:
            total += value * factor
        elif value > {k}:
            total -= value / (index + 1)
        else:
            result[f"v{{index}}"] = value ** 2

    # Totals and the mean are reported with the per-item values.
    result["total"] = total
    result["mean"] = total / max(1, len(values))
    return {{key: round(val, 3) for key, val in sorted(result.items()) if val}}
'''

UNRELATED_CLASS = '''
@dataclass
class {name}:
    identifier: int
    label: str = "{label}"
    tags: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [self.label, *self.tags]
        return ", ".join(p.upper() for p in parts if p)

    def merge(self, other: "{name}") -> "{name}":
        return {name}(self.identifier, self.label or other.label, self.tags + other.tags)
'''

HTTP_CLIENT = '''
def fetch_{name}(url: str) -> str:
    session = requests.Session()  # an HTTP session, not a database one
    with session:
        return session.get(url, timeout={k}).text
'''

ROUTE = '''
@router.get("/{name}/{{item_id}}")
def read_{name}(item_id: int, db: Session = Depends(get_db)):
    item = db.get(Item, item_id)
    if item is None:
        raise HTTPException(status_code=404)
    return {{"id": item.id, "title": item.title}}
'''

SERVICE = '''
def rename_{name}(user_id: int, name: str) -> int:
    with get_db_session() as db:
        user = db.get(User, user_id)
        user.name = name
        return user.id
'''

ANTI_PATTERNS = [
    # SES001 manual session
    '''
def count_{name}() -> int:
    db = SessionLocal()
    try:
        return db.query(User).count()
    finally:
        db.close()
''',
    # SES002 global session
    '''
class Repo{name}:
    def __init__(self):
        self.db = SessionLocal()
''',
    # SES003 mixed patterns
    '''
@router.post("/{name}")
def create_{name}(title: str, db: Session = Depends(get_db)):
    with get_db_session() as other:
        other.add(Item(title=title, owner_id=1))
    return {{"ok": True}}
''',
    # SES005 detached instance access
    '''
def load_{name}(user_id: int) -> str:
    with get_db_session() as db:
        user = db.query(User).filter(User.id == user_id).first()
    return user.name
''',
    # SES006 session used after close
    '''
def reuse_{name}() -> int:
    with get_db_session() as db:
        db.query(User).all()
    return db.query(User).count()
''',
]

SESSION_HEADER = """\
from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy.orm import Session

from app.models import Item, User
from core.database import SessionLocal, get_db, get_db_session

router = APIRouter()
"""

UNRELATED_HEADER = """\
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import requests
"""


def _unrelated(rng: random.Random, index: int, blocks: int) -> str:
    parts = [f'"""Utility module {index} (no database access)."""\n', UNRELATED_HEADER]
    for b in range(blocks):
        kind = rng.random()
        name = f"item_{index}_{b}"
        if kind < 0.55:
            parts.append(UNRELATED_FUNC.format(name=name, f=rng.randint(1, 9) / 2, m=rng.randint(2, 7),
                                               k=rng.randint(10, 99)))
        elif kind < 0.98:
            parts.append(UNRELATED_CLASS.format(name=f"Record{index}x{b}", label=f"label {b}"))
        else:
            parts.append(HTTP_CLIENT.format(name=name, k=rng.randint(1, 30)))
    return "".join(parts)


def _session_module(rng: random.Random, index: int, blocks: int, anti: bool) -> str:
    parts = [f'"""Routes and services {index}."""\n', SESSION_HEADER]
    if anti and rng.random() < 0.3:
        parts.insert(1, "from core.database_manager import get_db_session_for_request  # SES004\n")
    for b in range(blocks):
        name = f"r{index}_{b}"
        if anti and b == 0:
            parts.append(ANTI_PATTERNS[index % len(ANTI_PATTERNS)].format(name=name))
        elif rng.random() < 0.5:
            parts.append(ROUTE.format(name=name))
        else:
            parts.append(SERVICE.format(name=name))
        if rng.random() < 0.5:
            parts.append(UNRELATED_FUNC.format(name=f"helper_{name}", f=1.5, m=3, k=42))
    return "".join(parts)


def generate(root: Path, files: int = 2000, seed: int = 0, session_share: float = 0.25,
             anti_share: float = 0.12, blocks: int = 8) -> dict:
    """Write `files` modules under `root` (plus core/ and the pyproject); return counts."""
    rng = random.Random(seed)
    root = Path(root)
    (root / "core").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "core" / "__init__.py").write_text("")
    (root / "core" / "database.py").write_text(DATABASE)
    (root / "core" / "database_manager.py").write_text(DATABASE_MANAGER)
    counts = {"files": 3, "session": 0, "anti": 0, "lines": DATABASE.count("\n") + 2}
    per_package = 50
    for index in range(files):
        package = root / "app" / f"pkg{index // per_package:03d}"
        if not (package / "__init__.py").exists():
            package.mkdir(parents=True, exist_ok=True)
            (package / "__init__.py").write_text("")
            (root / "app" / "__init__.py").write_text("")
        size = max(1, int(rng.gauss(blocks, blocks / 2)))
        if rng.random() < session_share:
            anti = rng.random() < anti_share
            text = _session_module(rng, index, size, anti)
            counts["session"] += 1
            counts["anti"] += anti
        else:
            text = _unrelated(rng, index, size)
        (package / f"module{index:05d}.py").write_text(textwrap.dedent(text))
        counts["files"] += 1
        counts["lines"] += text.count("\n")
    (root / "app" / "models.py").write_text(MODELS)
    return counts
