"""SES003 mixed-session-patterns: a function that receives a session through `Depends` opens another."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ScopeProvider

from ..analysis import patterns as m
from ..analysis.codemod import has_comment, rename, uses
from ..diagnostics import Applicability, Fix
from ..analysis.fastapi import Injected, injected_sessions
from ..analysis.sessions import (
    Flavor,
    factory_import_specs,
    house_factory_call,
    managed_session_call,
    manual_session_call,
    opens_session,
)
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# a session opened inside a function that may receive one through `Depends`.
# session_lint/engine/screen.py skips LibCST for files without it; rules.screen_triggers() reads this line.
SCREEN_TRIGGERS = ("managed",)

DOCS = """\
## What it does
Checks for functions that receive a session through FastAPI's dependency
injection (`db: Session = Depends(get_db)`, `Annotated[Session, Depends(get_db)]`
or an alias of it such as `DbSession`) and also open another session inside
(`with get_db_session() as s:`, `SessionLocal()`, `next(get_db())`).

## Why is this bad?
The request now runs two transactions on two connections. Rows written by one
are invisible to the other until committed; the inner block commits on its own
schedule while the outer one may roll back (half-applied requests); and when
both write to the same rows the request can deadlock against itself (on SQLite:
`database is locked`). Each request also holds two pooled connections.

## Example
```python
@router.post("/users")
def create_user(data: UserIn, db: Session = Depends(get_db)):
    with get_db_session() as session:
        session.add(User(**data.dict()))
    return db.query(User).count()
```

## Use instead
```python
@router.post("/users")
def create_user(data: UserIn, db: Session = Depends(get_db)):
    db.add(User(**data.dict()))
    db.commit()
    return db.query(User).count()
```

## Fix safety
The fix unwraps the inner `with` block and renames its session to the injected
one. It is offered (safe) only when the inner block reads: then the reads simply
run in the request's transaction. No fix when the inner block writes (moved onto
the injected session, the writes would join the request's transaction: committed
with whatever it had pending, or rolled back with it; a separate session is
sometimes chosen for exactly that reason), when the inner call takes arguments
(a tenant, a bind, an engine: maybe another database), when the sessions'
flavours differ (sync inside async), when the inner session is created without
a `with`, or when a comment would be lost.

## Options
- `dependency`, `async-dependency`, `context-manager`, `async-context-manager`,
  `session-factories`, `async-session-factories`, `session-type`, `async-session-type`.

## References
- [FastAPI: Dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
- [SQLAlchemy: Session basics](https://docs.sqlalchemy.org/en/20/orm/session_basics.html)
"""


class MixedSessionPatterns(Rule):
    code = "SES003"
    name = "mixed-session-patterns"
    summary = "Second session opened in a function that already receives one through Depends"
    docs = DOCS
    fix_availability = "sometimes"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        ("from fastapi import Depends\nfrom core.database import get_db\n\n"
        "def f(db=Depends(get_db)):\n    return db.query(User).all()\n"),
    )
    INVALID = (
        ("from fastapi import Depends\nfrom core.database import get_db, get_db_session\n\n"
        "def f(db=Depends(get_db)):\n    with get_db_session() as s:\n        s.add(User())\n"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self.functions: list[tuple[cst.FunctionDef, list[Injected]]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append((node, injected_sessions(self.context, node)))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if not self.functions or not self.functions[-1][1]:
            return
        function, injected = self.functions[-1]
        flavor = opens_session(self.context, node) or manual_session_call(self.context, node)
        if not flavor or not self.in_body(node, function):
            return
        params = ", ".join(f"`{i.name}`" for i in injected)
        call = self.context.module.code_for_node(node.func)
        message = (f"second session `{call}()` in `{function.name.value}`, which already receives "
                   f"{params} through Depends: use the injected session")
        item = self.parent(node)
        if isinstance(item, cst.WithItem) and item.item is node:
            stmt = self.parent(item)
            self.report(stmt, message, self.fix_for(stmt, item, node, flavor, injected, function))
        else:
            self.report(node, message)

    def in_body(self, node: cst.CSTNode, function: cst.FunctionDef) -> bool:
        child, current = node, self.parent(node)
        while current is not None and current is not function:
            child, current = current, self.parent(current)
        return current is function and child is function.body

    # -- fix: unwrap the inner block onto the injected session ---------------------------
    def fix_for(self, stmt: cst.With, item: cst.WithItem, call: cst.Call, flavor: Flavor,
                injected: list[Injected], function: cst.FunctionDef) -> Fix | None:
        target = next((i for i in injected if i.flavor is flavor), None)
        if (target is None or len(stmt.items) != 1 or not isinstance(stmt.body, cst.IndentedBlock)
                or not (item.asname and isinstance(item.asname.name, cst.Name))):
            return None
        if (flavor is Flavor.ASYNC) != bool(stmt.asynchronous):
            return None
        if not (managed_session_call(self.context, call) or house_factory_call(self.context, call)):
            return None  # a session of another engine: the injected one is another database
        inner = item.asname.name.value
        body = list(stmt.body.body)
        if has_comment(stmt.body.header) or has_comment(cst.IndentedBlock(body=[], footer=stmt.body.footer)):
            return None
        if inner != target.name and self.used_outside(function, stmt, inner):
            return None
        found = uses(body, inner)
        if found.escapes or found.writes:
            # Writes moved onto the injected session join the request's transaction: committed
            # with whatever it had pending, or lost with its rollback (onyx's side session marks a
            # hook unreachable precisely so the request's failure path commits nothing). A fix
            # never changes which transaction code uses (SPEC §4).
            return None
        if call.args or isinstance(call.func, cst.Call):
            return None  # a helper or factory given a tenant, bind or engine: maybe another database
        moved = rename(body, inner, target.name)
        moved[0] = moved[0].with_changes(leading_lines=[*stmt.leading_lines, *moved[0].leading_lines])
        return Fix(Applicability.SAFE, f"Use the injected session `{target.name}`",
                   {stmt: cst.FlattenSentinel(moved)}, remove_imports=factory_import_specs(self.context, call))

    @staticmethod
    def used_outside(function: cst.FunctionDef, stmt: cst.With, name: str) -> bool:
        inside = len(m.findall(stmt, m.Name(name)))
        return len(m.findall(function.body, m.Name(name))) > inside

