"""Write one large, session-dense service module (issue 13 / 12 item 9): linear time and memory per file.

    python bench/dense_module.py --lines 50000 --out /tmp/dense     # /tmp/dense/app/services/dense.py
    /usr/bin/time -v session-lint --no-cache /tmp/dense             # max RSS, wall time
    python bench/dense_module.py --lines 10000 --run --max-seconds 60 --max-rss-mb 300   # a regression guard

`--run` lints the module with this checkout (`--jobs 1 --no-cache`), prints wall and CPU seconds
and the worker's peak RSS, and exits 1 when a given limit is exceeded.

The module is what real services look like at their worst: many small functions, each with a
`with get_db_session() as db:` block whose objects are loaded there and read after it (expired
reads, returned objects, a use of the closed session now and then), plus service classes with
many methods doing the same. Deterministic; never committed (only this generator is).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent

PYPROJECT = """\
[tool.session-lint]
session-module = "core.database"
"""

DATABASE = '''\
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)


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

HEADER = '''\
"""A large service module."""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.models import Item, Order, User
from core.database import get_db_session

logger = logging.getLogger(__name__)

'''

FUNCTIONS = [
    # detached read after the block (SES005)
    '''
def load_user_{n}(user_id: int) -> str:
    with get_db_session() as db:
        user = db.get(User, user_id)
        logger.info("loaded %s", user_id)
    return user.email
''',
    # clean: read inside the block
    '''
def user_name_{n}(user_id: int) -> str:
    with get_db_session() as db:
        user = db.query(User).filter(User.id == user_id).first()
        name = user.name if user else ""
    return name
''',
    # query loop, objects returned (SES005 on the returned list element read)
    '''
def order_totals_{n}(customer_id: int) -> list[int]:
    totals = []
    with get_db_session() as db:
        orders = db.scalars(select(Order).where(Order.customer_id == customer_id)).all()
    for order in orders:
        totals.append(order.total)
    return totals
''',
    # session used after its block (SES006)
    '''
def rename_{n}(item_id: int, name: str) -> None:
    with get_db_session() as db:
        item = db.get(Item, item_id)
        if item is None:
            return
        item.name = name
    db.flush()
''',
    # helper without a session: no flow analysis needed
    '''
def format_{n}(value: float, unit: str = "EUR") -> str:
    if value < 0:
        raise ValueError("negative")
    parts = [f"{{value:.2f}}", unit]
    return " ".join(parts)
''',
    # added object returned after commit (SES005, returned)
    '''
def create_item_{n}(name: str) -> Item:
    item = Item(name=name)
    with get_db_session() as db:
        db.add(item)
    return item
''',
    # eager-loaded relationship, try/except, branches
    '''
def user_orders_{n}(user_id: int) -> int:
    count = 0
    try:
        with get_db_session() as db:
            stmt = select(User).options(selectinload(User.orders)).where(User.id == user_id)
            user = db.execute(stmt).scalar_one()
            count = len(user.orders)
    except LookupError:
        logger.warning("missing %s", user_id)
        count = -1
    return count
''',
]

METHODS = [
    '''
    def get_{n}(self, item_id: int) -> Item | None:
        with get_db_session() as db:
            item = db.get(Item, item_id)
        self.cache[item_id] = item
        return item
''',
    '''
    def price_{n}(self, item_id: int) -> float:
        with get_db_session() as db:
            item = db.get(Item, item_id)
            price = item.price
        return price * self.rate
''',
    '''
    def label_{n}(self, value: str) -> str:
        return f"{{self.prefix}}-{{value}}-{n}"
''',
    '''
    def owner_{n}(self, order_id: int) -> str:
        with get_db_session() as db:
            order = db.query(Order).filter_by(id=order_id).one()
        if order.total > 100:
            return order.customer.name
        return ""
''',
]


def module_text(lines: int) -> str:
    parts = [HEADER]
    count = HEADER.count("\n")
    n = 0
    while count < lines:
        if n % 10 == 9:  # a service class with many methods
            body = [f"\n\nclass Service{n}:\n    def __init__(self) -> None:\n        self.cache = {{}}\n"
                    f"        self.rate = 1.0\n        self.prefix = 'svc'\n"]
            for k in range(24):
                body.append(METHODS[k % len(METHODS)].format(n=f"{n}_{k}"))
            chunk = "".join(body)
        else:
            chunk = "\n" + FUNCTIONS[n % len(FUNCTIONS)].format(n=n)
        parts.append(chunk)
        count += chunk.count("\n")
        n += 1
    return "".join(parts)


def write(out: Path, lines: int) -> Path:
    (out / "core").mkdir(parents=True, exist_ok=True)
    (out / "app" / "services").mkdir(parents=True, exist_ok=True)
    (out / "pyproject.toml").write_text(PYPROJECT)
    (out / "core" / "__init__.py").write_text("")
    (out / "core" / "database.py").write_text(DATABASE)
    (out / "app" / "__init__.py").write_text("")
    (out / "app" / "services" / "__init__.py").write_text("")
    (out / "app" / "models.py").write_text(MODELS)
    target = out / "app" / "services" / "dense.py"
    target.write_text(module_text(lines))
    return target


MODELS = '''\
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    email: Mapped[str]
    orders: Mapped[list["Order"]] = relationship(back_populates="customer")


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    total: Mapped[int]
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer: Mapped[User] = relationship(back_populates="orders")


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    price: Mapped[float]
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/dense"))
    parser.add_argument("--run", action="store_true", help="lint it and report time and peak RSS")
    parser.add_argument("--max-seconds", type=float, help="with --run: fail above this CPU time")
    parser.add_argument("--max-rss-mb", type=float, help="with --run: fail above this peak RSS")
    args = parser.parse_args(argv)
    target = write(args.out, args.lines)
    print(f"{target}: {target.read_text().count(chr(10))} lines")
    if not args.run:
        return 0
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "session_lint", "--no-cache", "--exit-zero", "--jobs", "1",
                           "--statistics", str(args.out)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, rss_mb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    print(proc.stdout.strip())
    print(f"wall {wall:.1f} s, cpu {cpu:.1f} s, peak RSS {rss_mb:.0f} MB, exit {proc.returncode}")
    failed = proc.returncode != 0 or (args.max_seconds is not None and cpu > args.max_seconds) \
        or (args.max_rss_mb is not None and rss_mb > args.max_rss_mb)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
