"""SES008 route-write-without-commit: a route writes through a session its dependency never commits."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ScopeProvider

from ..diagnostics import Applicability, Fix
from ..analysis.fastapi import injected_dependency, injected_sessions, is_route
from ..analysis.sessions import Flavor, method_on, own_nodes, writes_through
from ..analysis.transactions import dependency_never_commits
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# a route decorator (`@x.post(...)`) and a write through a parameter (`db.add(...)`) in that function
# without a `.commit()` on it. session_lint/engine/screen.py skips LibCST for files without it.
SCREEN_TRIGGERS = ("route_write",)

DOCS = """\
## What it does
Checks for FastAPI routes (`@router.post/put/patch/delete/...`, `@app.*`,
`api_route`) whose session comes from a dependency that never commits (the
`get_db` that yields a session and closes it; read from the dependency's source),
that write through it (`add`, `add_all`, `delete`, `merge`, `flush`,
`execute(insert/update/delete(...))`) and call `commit()` on no path. A route that
hands the session to other code (a service or CRUD function, which may commit) is
not reported, nor one whose dependency commits or owns a `begin()` block.

## Why is this bad?
When the request ends the dependency closes the session, and closing rolls back
whatever was not committed: the route answers `200 OK` and the write is silently
lost. Some drivers also leave the connection "idle in transaction" until then.

## Example
```python
@router.post("/users")
def create_user(data: UserIn, db: Session = Depends(get_db)):
    user = User(**data.dict())
    db.add(user)
    return {"id": user.id}
```

## Use instead
```python
@router.post("/users")
def create_user(data: UserIn, db: Session = Depends(get_db)):
    user = User(**data.dict())
    db.add(user)
    db.commit()
    return {"id": user.id}
```

## Fix safety
The fix is unsafe: it adds `db.commit()` (`await db.commit()` for an async
session) before the route's final `return`, or at its end, so the write is now
kept, and a failing commit now fails the request. It is offered only when that
`return` is the route's only one.

## Options
- `dependency`, `async-dependency`, `session-module`: which dependency hands out sessions.

## References
- [FastAPI: SQL (Relational) Databases](https://fastapi.tiangolo.com/tutorial/sql-databases/)
- [SQLAlchemy: Closing](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#closing)
"""


class RouteWriteWithoutCommit(Rule):
    code = "SES008"
    name = "route-write-without-commit"
    summary = "route writes through a session its dependency never commits, and never commits itself"
    docs = DOCS
    fix_availability = "sometimes"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        ("from fastapi import APIRouter, Depends\nfrom core.database import get_db\n\nrouter = APIRouter()\n\n\n"
         "@router.post('/u')\ndef f(db=Depends(get_db)):\n    db.add(User())\n    db.commit()\n"),
        # handed to a service that may commit
        ("from fastapi import APIRouter, Depends\nfrom core.database import get_db\n\nrouter = APIRouter()\n\n\n"
         "@router.post('/u')\ndef f(db=Depends(get_db)):\n    db.add(User())\n    audit(db)\n"),
    )
    INVALID = (
        ("from fastapi import APIRouter, Depends\nfrom core.database import get_db\n\nrouter = APIRouter()\n\n\n"
         "@router.post('/u')\ndef f(db=Depends(get_db)):\n    db.add(User())\n    return {}\n"),
    )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not isinstance(node.body, cst.IndentedBlock) or not is_route(self.context, node):
            return
        roots = self.project_roots()
        for injected in injected_sessions(self.context, node):
            if not any(dependency_never_commits(d, roots) for d in injected_dependency(self.context, injected.param)):
                continue
            calls = own_nodes(node.body).calls
            write = next((c for c in calls if writes_through(c, injected.name)), None)
            if write is None or any(_ends(c, injected.name) for c in calls):
                continue
            after = calls[calls.index(write):]
            if any(_hands_over(c, injected.name) for c in after):
                continue  # the code it is handed to may commit
            self.report(write, f"`{self.context.module.code_for_node(write.func)}()` in a route whose session "
                               "is never committed: the write is rolled back when the request ends",
                        self._fix(node, injected.name, injected.flavor))
            return

    def _fix(self, function: cst.FunctionDef, session: str, flavor: Flavor) -> Fix | None:
        body = function.body
        statements = list(body.body)
        returns = own_nodes(body).returns
        last = statements[-1]
        ends_in_return = (isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1
                          and isinstance(last.body[0], cst.Return))
        if len(returns) > (1 if ends_in_return else 0):
            return None  # several exits: where the commit goes is the author's call
        call = f"await {session}.commit()" if flavor is Flavor.ASYNC and function.asynchronous else f"{session}.commit()"
        if flavor is Flavor.ASYNC and not function.asynchronous:
            return None
        commit = cst.parse_statement(call + "\n")
        new_body = statements[:-1] + [commit, last] if ends_in_return else statements + [commit]
        return Fix(Applicability.UNSAFE, f"Add `{call}`", {body: body.with_changes(body=new_body)})


def _ends(call: cst.Call, session: str) -> bool:
    """A `commit()` on the session (or `begin()`, whose block commits)."""
    return method_on(call, session) in ("commit", "begin")


def _hands_over(call: cst.Call, session: str) -> bool:
    """The session passed to other code: `crud.create(db, ...)`, `Service(session=db)`."""
    return any(isinstance(arg.value, cst.Name) and arg.value.value == session for arg in call.args)
