"""SES015 sync-session-in-async-function (opt-in): a sync session opened or injected in `async def`."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ScopeProvider

from ..analysis.fastapi import injected_sessions
from ..analysis.sessions import Flavor, event_connection_session, managed_session_call, manual_session_call, function_own_nodes
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# an `async def` that opens a session or may have one injected (a parameter with a call as default,
# or an annotation that may be `Annotated[...]` or an alias of it). session_lint/engine/screen_async.py
# implements it; the screen skips LibCST for files without it.
SCREEN_TRIGGERS = ("sync_in_async",)

DOCS = """\
## What it does
Checks for a synchronous `Session` in an `async def`: opened there by hand
(`SessionLocal()`, `Session(engine)`, `sessionmaker(...)()`, `next(get_db())`) or
with the sync context manager (`with get_db_session() as db:`), reported at the
opening call; or injected into it (`db: Session = Depends(get_db)`,
`Annotated[Session, Depends(get_db)]`, an alias of that), reported at the `async
def` line. Code in a nested `def` or a `lambda` (what `run_in_threadpool` /
`asyncio.to_thread` run in a worker thread) is not checked.

This rule is **opt-in**: it is not part of the default selection (`select =
["SES"]` does not enable it, nor does any prefix such as `SES01` or `ALL`). Enable
it by its full code: `extend-select = ["SES015"]` in `[tool.session-lint]`,
`--extend-select SES015` on the command line, or `flake8 --extend-select SES015`
(flake8's own `select` / `extend-select` naming `SES015`). It is opt-in because
FastAPI's own tutorials show `async def` routes with a sync `Depends(get_db)`,
and an application with little traffic may accept the cost.

## Why is this bad?
Every statement a sync session runs blocks the thread it runs on. In an `async
def` that is the event loop's thread: while the database answers, no other
request, websocket or background task of the process makes progress, and a slow
query stalls them all. FastAPI runs a plain `def` route in a thread pool for
exactly this reason; an `async def` route runs on the loop itself.

## Example
```python
@router.get("/users/{user_id}")
async def read_user(user_id: int, db: Session = Depends(get_db)):
    return db.get(User, user_id)
```

## Use instead
```python
@router.get("/users/{user_id}")
def read_user(user_id: int, db: Session = Depends(get_db)):
    return db.get(User, user_id)
```
or the async stack: `db: AsyncSession = Depends(get_async_db)` and
`await db.get(User, user_id)`.

## Fix safety
No fix: dropping `async` changes how the function is called (its callers await
it), and moving to `AsyncSession` changes every statement.

## Options
- `session-factories`, `context-manager`, `dependency`, `session-type`,
  `session-module`: what opens or injects a sync session.
- `extend-select = ["SES015"]`: enables the rule.

## References
- [FastAPI: Concurrency and async / await](https://fastapi.tiangolo.com/async/#path-operation-functions)
- [SQLAlchemy: Asynchronous I/O (asyncio)](https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html)
"""


class SyncSessionInAsyncFunction(Rule):
    code = "SES015"
    name = "sync-session-in-async-function"
    summary = "(opt-in) a sync Session opened or injected in an `async def`: blocking calls on the event loop"
    docs = DOCS
    default_enabled = False
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        ("from fastapi import Depends\nfrom sqlalchemy.orm import Session\nfrom core.database import get_db\n\n\n"
         "def f(db: Session = Depends(get_db)):\n    return db.get(User, 1)\n"),
        ("from core.database import get_async_session\n\n\nasync def f():\n"
         "    async with get_async_session() as db:\n        return await db.get(User, 1)\n"),
    )
    INVALID = (
        ("from fastapi import Depends\nfrom sqlalchemy.orm import Session\nfrom core.database import get_db\n\n\n"
         "async def f(db: Session = Depends(get_db)):\n    return db.get(User, 1)\n"),
        ("from core.database import get_db_session\n\n\nasync def f():\n"
         "    with get_db_session() as db:\n        return db.get(User, 1)\n"),
    )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not node.asynchronous or not isinstance(node.body, cst.IndentedBlock):
            return
        for injected in injected_sessions(self.context, node):
            if injected.flavor is Flavor.SYNC:
                self.report(node, f"`async def {node.name.value}` receives the sync session `{injected.name}`: "
                                  "its queries block the event loop (use `def`, or an AsyncSession)")
                break
        for call in function_own_nodes(self.context, node).calls:
            if (manual_session_call(self.context, call) or managed_session_call(self.context, call)) is Flavor.SYNC \
                    and not event_connection_session(self.context, call):
                name = self.context.module.code_for_node(call.func)
                self.report(call, f"`{name}()` opens a sync session in `async def {node.name.value}`: its "
                                  "queries block the event loop (use the async session, or run the work in a thread)")
