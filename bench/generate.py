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
import re
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


# -- the real shape: what the flat tree hid (issue 13) --------------------------------------------
# Real services are big classes with many methods in 2-5k-line modules, and a few session-dense
# files hold most of the session code. Module sizes (blocks of ~20-25 lines each):
REAL_SIZES = ((0.6, 4, 16), (0.32, 20, 60), (0.08, 130, 210))  # (share, min blocks, max blocks)
DENSE_SHARE = 0.06  # of the session modules: a service class whose every method opens a session

SERVICE_METHOD = '''
def rename_{name}(self, user_id: int, name: str) -> int:
    """Rename the user; the service owns its session block."""
    with get_db_session() as db:
        user = db.get(User, user_id)
        if user is None:
            raise KeyError(user_id)
        user.name = name
        db.flush()
        return user.id
'''

QUERY_METHOD = '''
def list_{name}(self, owner_id: int, limit: int = {k}) -> list[dict]:
    with get_db_session() as db:
        items = db.query(Item).filter(Item.owner_id == owner_id).limit(limit).all()
        return [{{"id": item.id, "title": item.title}} for item in items]
'''


def _as_method(source: str) -> str:
    """A module-level function template as a method (`self` first), indented into a class."""
    source = re.sub(r"^def (\w+)\(\)", r"def \1(self)", source, count=1, flags=re.M)
    source = re.sub(r"^def (\w+)\((?!self)", r"def \1(self, ", source, count=1, flags=re.M)
    return textwrap.indent(source, "    ")


METHOD_ANTI_PATTERNS = [ANTI_PATTERNS[i] for i in (0, 3, 4)]  # SES001, SES005, SES006 inside methods


def _real_unrelated(rng: random.Random, index: int, blocks: int) -> str:
    parts = [f'"""Utility module {index} (no database access)."""\n', UNRELATED_HEADER]
    b = 0
    while b < blocks:
        if rng.random() < 0.3:  # a free function or a small dataclass
            parts.append(UNRELATED_FUNC.format(name=f"item_{index}_{b}", f=rng.randint(1, 9) / 2,
                                               m=rng.randint(2, 7), k=rng.randint(10, 99)))
            b += 1
            continue
        methods = rng.randint(3, 40)
        parts.append(f"\n\nclass Helper{index}x{b}:\n    \"\"\"A helper with many methods.\"\"\"\n")
        for m in range(methods):
            parts.append(_as_method(UNRELATED_FUNC.format(name=f"step_{m}", f=rng.randint(1, 9) / 2,
                                                          m=rng.randint(2, 7), k=rng.randint(10, 99))))
        b += methods
    return "".join(parts)


def _real_session(rng: random.Random, index: int, blocks: int, anti: bool, dense: bool) -> str:
    parts = [f'"""Routes and services {index}."""\n', SESSION_HEADER]
    if anti and rng.random() < 0.3:
        parts.insert(1, "from core.database_manager import get_db_session_for_request  # SES004\n")
    session_share = 0.9 if dense else 0.2
    b, klass = 0, 0
    anti_left = 1 + dense * 3 if anti else 0
    while b < blocks:
        if rng.random() < 0.15:  # module-level routes
            for r in range(rng.randint(1, 6)):
                parts.append(ROUTE.format(name=f"r{index}_{b}_{r}"))
            b += 1
            continue
        methods = rng.randint(5, 60)
        parts.append(f"\n\nclass Service{index}x{klass}:\n    \"\"\"A service of many methods.\"\"\"\n")
        klass += 1
        for m in range(methods):
            name = f"m{b}_{m}"
            roll = rng.random()
            if anti_left and roll < 0.05:
                parts.append(_as_method(METHOD_ANTI_PATTERNS[(index + m) % 3].format(name=name)))
                anti_left -= 1
            elif roll < session_share:
                template = SERVICE_METHOD if rng.random() < 0.5 else QUERY_METHOD
                parts.append(_as_method(template.format(name=name, k=rng.randint(5, 50))))
            else:
                parts.append(_as_method(UNRELATED_FUNC.format(name=f"calc_{name}", f=1.5, m=3, k=42)))
        b += methods
    return "".join(parts)


def generate(root: Path, files: int = 2000, seed: int = 0, session_share: float = 0.25,
             anti_share: float = 0.12, blocks: int = 8, shape: str = "flat") -> dict:
    """Write `files` modules under `root` (plus core/ and the pyproject); return counts.

    shape "flat": small modules of module-level functions (the first benchmark's tree); "real":
    modules of 4 to 210 blocks (a tenth of them 3-5k lines), big classes of many methods, and a few
    session-dense modules (see REAL_SIZES)."""
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
        if shape == "real":
            roll, size = rng.random(), 0
            for share, low, high in REAL_SIZES:
                if roll < share:
                    size = rng.randint(low, high)
                    break
                roll -= share
            size = size or REAL_SIZES[-1][1]
        else:
            size = max(1, int(rng.gauss(blocks, blocks / 2)))
        if rng.random() < session_share:
            anti = rng.random() < anti_share
            if shape == "real":
                dense = rng.random() < DENSE_SHARE
                text = _real_session(rng, index, max(size, 60) if dense else size, anti, dense)
                counts["dense"] = counts.get("dense", 0) + dense
            else:
                text = _session_module(rng, index, size, anti)
            counts["session"] += 1
            counts["anti"] += anti
        else:
            text = _real_unrelated(rng, index, size) if shape == "real" else _unrelated(rng, index, size)
        (package / f"module{index:05d}.py").write_text(textwrap.dedent(text))
        counts["files"] += 1
        counts["lines"] += text.count("\n")
    (root / "app" / "models.py").write_text(MODELS)
    return counts
