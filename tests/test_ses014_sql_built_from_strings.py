"""SES014 sql-built-from-strings: SQL formatted from non-constant values, passed to text() / execute()."""

import pytest
from helpers import check_flagged, check_noop, config

from session_lint.api import fix_source

CODE = "SES014"
HEAD = ("import sqlalchemy as sa\nfrom sqlalchemy import create_engine, text\nfrom sqlalchemy.orm import Session\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\nfrom core.database import get_db_session\n\n"
        "TABLE = 'users'\nengine = create_engine('sqlite://')\n\n\n")
# HEAD is 10 lines: sources below start at line 11


@pytest.mark.parametrize("src, expected", [
    # the four ways of building a string, anchored at the argument
    ("def f(db: Session, name: str):\n    db.execute(text(f\"SELECT * FROM users WHERE name = '{name}'\"))\n",
     [(12, 21, CODE)]),
    ("def f(db: Session, name):\n    db.execute(text(\"SELECT * FROM users WHERE name = '%s'\" % name))\n",
     [(12, 21, CODE)]),
    ("def f(db: Session, name):\n    db.execute(text(\"SELECT * FROM users WHERE name = '{}'\".format(name)))\n",
     [(12, 21, CODE)]),
    ("def f(db: Session, name):\n    db.execute(text(\"SELECT * FROM users WHERE name = '\" + name + \"'\"))\n",
     [(12, 21, CODE)]),
    # through a local variable of the same function, reported at the variable
    ("def f(db: Session, user_id):\n    q = f'SELECT * FROM users WHERE id = {user_id}'\n    db.execute(text(q))\n",
     [(13, 21, CODE)]),
    ("def f(db: Session, user_id):\n    q = 'SELECT * FROM users'\n    q += ' WHERE id = ' + user_id\n"
     "    return db.execute(text(q)).all()\n", [(14, 28, CODE)]),
    # text() by any spelling, and the async session's execute
    ("async def f(s: AsyncSession, name):\n    await s.execute(sa.text(f\"SELECT 1 WHERE x = '{name}'\"))\n",
     [(12, 29, CODE)]),
    # a string straight to a session's / connection's execute (1.x style), and exec_driver_sql
    ("def f(name):\n    with get_db_session() as db:\n        db.execute(f\"DELETE FROM users WHERE name = '{name}'\")\n",
     [(13, 20, CODE)]),
    ("def f(name):\n    with engine.connect() as conn:\n        conn.execute(f\"DELETE FROM t WHERE x = '{name}'\")\n"
     "        conn.exec_driver_sql('DELETE FROM t WHERE x = %s' % name)\n", [(13, 22, CODE), (14, 30, CODE)]),
    ("def f(conn: sa.Connection, name):\n    conn.execute('DELETE FROM t WHERE x = ' + name)\n", [(12, 18, CODE)]),
    # text() anywhere: a where clause, an order_by, module level
    ("def f(sort):\n    return select(User).order_by(text(f'{sort} DESC'))\n", [(12, 39, CODE)]),
    ("q = text(f'SELECT * FROM t WHERE id = {input()}')\n", [(11, 10, CODE)]),
    # the right side of a comparison is a value; manual escaping is still formatting
    ("def f(db: Session, col):\n    db.execute(text(f\"SELECT * FROM t WHERE x = {col} AND y = 1\"))\n",
     [(12, 21, CODE)]),
    ("def f(db: Session, ids):\n    csv = ', '.join(\"'\" + str(i).replace(\"'\", \"''\") + \"'\" for i in ids)\n"
     "    db.execute(text(f'SELECT * FROM t WHERE id IN ({csv})'))\n", [(13, 21, CODE)]),
    # a number from a parameter is still a value that could be bound
    ("def f(db: Session, n: int):\n    db.execute(text(f'SELECT * FROM t LIMIT {n}'))\n", [(12, 21, CODE)]),
    # a module-level lowercase variable may be rebound anywhere
    ("table = 'users'\n\n\ndef f(db: Session):\n    db.execute(text(f\"SELECT * FROM t WHERE x = '{table}'\"))\n",
     [(15, 21, CODE)]),
    # a parameter that some call in the module passes a non-constant
    ("def run(db: Session, where):\n    db.execute(text(f'SELECT * FROM t WHERE {where}'))\n\n\n"
     "def main(db: Session, user_input):\n    run(db, 'a = 1')\n    run(db, user_input)\n", [(12, 21, CODE)]),
])
def test_flagged(src, expected):
    check_flagged(HEAD + src, expected)


@pytest.mark.parametrize("src", [
    # constants: literals, module-level UPPER_CASE names, imported ones, __tablename__
    "def f(db: Session):\n    db.execute(text('SELECT * FROM users'))\n",
    "def f(db: Session):\n    db.execute(text(f\"SELECT * FROM t WHERE x = '{TABLE}'\"))\n",
    "from app.settings import SCHEMA\n\n\ndef f(db: Session):\n    db.execute(text(f\"SELECT * FROM t WHERE s = '{SCHEMA}'\"))\n",
    "def f(db: Session):\n    db.execute(text(f\"SELECT * FROM t WHERE x = '{User.__tablename__}'\"))\n",
    "def f(db: Session):\n    db.execute(text('SELECT ' + 'x' + ' FROM t'))\n",
    # bound parameters
    "def f(db: Session, name):\n    db.execute(text('SELECT * FROM users WHERE name = :name'), {'name': name})\n",
    "def f(db: Session, name):\n    db.execute(text('SELECT * FROM users WHERE name = :n').bindparams(n=name))\n",
    "def f(conn: sa.Connection, name):\n    conn.exec_driver_sql('SELECT * FROM t WHERE x = %s', (name,))\n",
    # numbers formatted as numbers
    "def f(db: Session, n):\n    db.execute(text(f'SELECT * FROM t LIMIT {n:d}'))\n",
    "def f(db: Session, n):\n    db.execute(text('SELECT * FROM t LIMIT %d' % n))\n",
    "def f(db: Session, ids):\n    db.execute(text(f'SELECT * FROM t LIMIT {len(ids)}'))\n",
    # values picked from constants; placeholders built from constants
    "def f(db: Session, desc):\n    d = 'DESC' if desc else 'ASC'\n    db.execute(text(f'SELECT * FROM t ORDER BY x {d}'))\n",
    "ORDER = {'a': 'name', 'b': 'email'}\n\n\ndef f(db: Session, k):\n"
    "    db.execute(text(f'SELECT * FROM t ORDER BY {ORDER[k]}'))\n",
    "def f(db: Session, ids):\n    ph = ', '.join(f':p{i}' for i in range(len(ids)))\n"
    "    db.execute(text(f'SELECT * FROM t WHERE id IN ({ph})'), {f'p{i}': v for i, v in enumerate(ids)})\n",
    "def f(db: Session, ids):\n    ph = ', '.join(f':p{i}' for i, _ in enumerate(ids))\n"
    "    db.execute(text(f'SELECT * FROM t WHERE id IN ({ph})'))\n",
    "PAIRS = [('a', 'b')]\n\n\ndef f(db: Session):\n    for key, source in PAIRS:\n"
    "        db.execute(text(f\"UPDATE t SET x = 1 WHERE k = '{key}' AND s = '{source}'\"))\n",
    # identifiers: quoted, after FROM / TABLE / SCHEMA ..., qualified
    "def f(db: Session, schema):\n    db.execute(text(f'CREATE SCHEMA \"{schema}\"'))\n",
    "def f(db: Session, table):\n    db.execute(text(f'SELECT count(*) FROM {table}'))\n",
    "def f(db: Session, t, c):\n    db.execute(text(f'SELECT {t}.{c} FROM x'))\n",
    # a column a condition starts with, a bind parameter's name
    "def f(db: Session, col):\n    db.execute(text(f'SELECT * FROM t WHERE {col} = TRUE'))\n",
    "def f(db: Session, filters):\n    where = ' AND '.join([f'{k} = :{k}' for k in filters])\n"
    "    db.execute(text('SELECT * FROM t WHERE ' + where), filters)\n",
    # statements that take no bound parameters
    "def f(db: Session, tz):\n    db.execute(text(f\"SET LOCAL TIME ZONE '{tz}'\"))\n",
    "def f(conn: sa.Connection, mode):\n    conn.exec_driver_sql(f'BEGIN {mode}')\n",
    # a same-module helper that returns constants; a parameter every call passes a constant
    "def where():\n    return ' AND '.join(['a = 1', 'b = 2'])\n\n\ndef f(db: Session):\n"
    "    db.execute(text(f'SELECT * FROM t WHERE {where()}'))\n",
    "def run(db: Session, where):\n    db.execute(text(f'SELECT * FROM t WHERE {where}'))\n\n\n"
    "def main(db: Session):\n    run(db, 'a = 1')\n    run(db, where='b = 2')\n",
    # an enum member's own value
    "import enum\n\n\nclass Unit(enum.StrEnum):\n    day = 'day'\n\n    def interval(self):\n"
    "        return text(f\"'1 {self.value}'::interval\")\n",
    # not SQLAlchemy's text(), not a session's or connection's execute
    "def f(cursor, name):\n    cursor.execute(f\"SELECT * FROM t WHERE x = '{name}'\")\n",
    "def f(op, name):\n    op.execute(f\"DELETE FROM t WHERE x = '{name}'\")\n",
    # a string that is not built: a parameter passed through (its callers are reported, if anyone)
    "def f(db: Session, sql):\n    db.execute(text(sql))\n",
    # a name bound twice, once not to a string built here
    "def f(db: Session, q, name):\n    if not q:\n        q = 'SELECT 1'\n    db.execute(text(q))\n",
])
def test_noop(src):
    check_noop(HEAD + src, CODE)


def test_connection_of_the_projects_engine():
    # `engine = create_engine(...)` in the project's core/database.py, imported
    check_flagged("from core.database import engine\n\n\ndef f(name):\n    with engine.begin() as conn:\n"
                  "        conn.execute(f\"DELETE FROM t WHERE x = '{name}'\")\n", [(6, 22, CODE)])
    check_noop("from app.clients import engine\n\n\ndef f(name):\n    with engine.connect() as conn:\n"
               "        conn.execute(f\"DELETE FROM t WHERE x = '{name}'\")\n", CODE)


def test_another_librarys_text_is_not_sql():
    # polar's backoffice: `text(f"Members ({len(members)})")` of an HTML builder
    check_noop("from tagflow import text\n\n\ndef f(name):\n    return text(f'Hello {name}')\n", CODE)


def test_no_fix_offered():
    src = HEAD + "def f(db: Session, name):\n    db.execute(text(f\"SELECT * FROM t WHERE x = '{name}'\"))\n"
    assert fix_source(src, "app/module.py", config(), unsafe_fixes=True).source == src
