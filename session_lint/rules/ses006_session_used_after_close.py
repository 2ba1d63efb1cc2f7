"""SES006 session-used-after-close: the session variable used after its block ended or `.close()`."""

from __future__ import annotations

import libcst as cst

from ..analysis.flow import Analysis, ClosedUse, analyse
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# a session opened by hand in a file that spells `close`, or in a block whose names are used after it
# (a session used after its block or `.close()`).
# session_lint/engine/screen.py skips LibCST for files without it; rules.screen_triggers() reads this line.
SCREEN_TRIGGERS = ("raw_closed", "block")

DOCS = """\
## What it does
Checks for a session variable used after the `with` block that opened it ended
(`with get_db_session() as db: ...` then `db.query(...)`), or after an explicit
`db.close()`, on a path where the name was not bound to a new session.

In test modules, pytest fixtures are resolved: a parameter of a test or of a
fixture is the fixture pytest injects for it (defined in the same class or
module, or in a `conftest.py` of the module's directory or one above it up to
the project root; the nearest one wins). When that fixture yields or returns a
session (`SessionLocal()`, `Session(engine)`, a call of a `sessionmaker`, the
context manager's session, another session fixture), the parameter is a session:
`db_session.close()` then `db_session.query(...)` is reported. When it yields a
session factory (a `sessionmaker`, the configured factory), a call of the
parameter opens one (`s = session_factory(); s.close(); use(s)`). A fixture that
yields anything else (a mock, a connection, a client) is not a session, whatever
it is called.

## Why is this bad?
The block already committed (or rolled back) and closed the session. A closed
SQLAlchemy 2 `Session` silently begins a new transaction when it is used again:
the later work happens on a session the context manager no longer owns, is never
committed, and holds a connection until garbage collection. Objects it returns
are unrelated to the ones loaded in the block. With SQLAlchemy 1.x or an
`AsyncSession`, it fails outright.

## Example
```python
def rename(user_id: int, name: str) -> None:
    with get_db_session() as db:
        user = db.get(User, user_id)
    db.execute(update(User).where(User.id == user_id).values(name=name))
```

## Use instead
```python
def rename(user_id: int, name: str) -> None:
    with get_db_session() as db:
        db.execute(update(User).where(User.id == user_id).values(name=name))
```

## Fix safety
No fix: whether the later work belongs in the block or in a new one is a
decision about transactions. When the use is in the statements right after the
block up to a `return`, SES005's fix (moving them into the block) also resolves
this one.

## Options
- `context-manager`, `session-factories` (and their async counterparts): what
  opens a session block (also inside a fixture).

## References
- [SQLAlchemy: opening and closing a Session](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#opening-and-closing-a-session)
- [SQLAlchemy: Session.close()](https://docs.sqlalchemy.org/en/20/orm/session_api.html#sqlalchemy.orm.Session.close)
- [pytest: overriding fixtures on various levels](https://docs.pytest.org/en/stable/how-to/fixtures.html#overriding-fixtures-on-various-levels)
"""


class SessionUsedAfterClose(Rule):
    code = "SES006"
    name = "session-used-after-close"
    summary = "Session used after its block ended or after close()"
    docs = DOCS
    fix_availability = "none"

    # (the imports make the names the configured helpers: without them nothing is flagged)
    VALID = (
        "from core.database import get_db_session\n\ndef f():\n    with get_db_session() as db:\n"
        "        db.query(User).all()\n",
        "from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n    db.close()\n"
        "    db = SessionLocal()\n    db.query(User).all()\n",
    )
    INVALID = (
        "from core.database import get_db_session\n\ndef f():\n    with get_db_session() as db:\n"
        "        pass\n    db.query(User).all()\n",
        "from core.database import SessionLocal\n\ndef f():\n    db = SessionLocal()\n    db.close()\n"
        "    db.query(User).all()\n",
    )

    def visit_Module(self, node: cst.Module) -> None:
        self.check(analyse(self.context, node))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.check(analyse(self.context, node))

    def check(self, analysis: Analysis) -> None:
        for use in analysis.closed_uses:
            self.report(use.node, self.message(use))

    def message(self, use: ClosedUse) -> str:
        closure = use.closure
        line = closure.line(self.position)
        how = (f"by `{use.name}.close()` on line {line}" if closure.by_close_call
               else f"when its `with` block ended on line {line}")
        return f"session `{use.name}` used after it was closed {how}"
