"""SES010 unawaited-async-session-call: an `AsyncSession` coroutine method called without `await`."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ScopeProvider

from ..diagnostics import Applicability, Fix
from ..analysis.knowledge import ASYNC_SESSION_AWAITABLE_METHODS
from ..analysis.sessions import Flavor, function_own_nodes, sessions_of
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# an `async def` whose own code calls one of AsyncSession's coroutine methods on a plain name
# (`db.commit()`) outside an `await`, a name that may hold a session there (not `job = queue.pop()`).
# session_lint/engine/screen_async.py implements it; the screen skips LibCST for files without it.
SCREEN_TRIGGERS = ("unawaited",)

DOCS = """\
## What it does
Checks for `AsyncSession` methods that return an awaitable (`execute`, `commit`,
`rollback`, `flush`, `refresh`, `get`, `get_one`, `scalar`, `scalars`, `delete`,
`merge`, `close`, `stream`, `stream_scalars`, `run_sync`, `connection`, ...) called
without `await` in an `async def`, on a session known to be async: a parameter
annotated `AsyncSession` or injected with the async dependency, a target of
`async with AsyncSessionLocal() as s` / `async with get_async_session() as s`, a
session made by `async_sessionmaker(...)` or by a project factory that builds
`AsyncSession`s, or an object of unknown origin that the function itself shows
to be one: it awaits one of its coroutine methods and calls a method only
sessions have (`add`, `flush`, `refresh`, `scalars`, `merge`, ...). Reported when the coroutine is thrown away (`db.commit()` as a
statement), used as if it were the result (`db.execute(q).scalars()`, `for row
in db.scalars(q)`, `if db.get(User, 1):`, `list(db.scalars(q))`), or assigned to a
name that is never awaited. `add`, `add_all`, `expunge`, `expire` and
`in_transaction` are plain methods. A coroutine that is returned, passed to
another call (`asyncio.gather`, `create_task`, `wait_for`), or assigned and
awaited later is not reported.

## Why is this bad?
Calling a coroutine method only creates the coroutine: nothing runs until it is
awaited. `db.commit()` without `await` commits nothing, and the session rolls the
work back when it closes; the request still answers `200 OK`. Python only says
`RuntimeWarning: coroutine 'AsyncSession.commit' was never awaited`, at garbage
collection, if anyone looks.

## Example
```python
async def create_user(db: AsyncSession, name: str) -> None:
    db.add(User(name=name))
    db.commit()
```

## Use instead
```python
async def create_user(db: AsyncSession, name: str) -> None:
    db.add(User(name=name))
    await db.commit()
```

## Fix safety
The fix adds `await` (with parentheses where the result is used: `(await
db.execute(q)).scalars()`). It is unsafe: the call that never ran now runs, so the
commit now happens, the statement now executes, and its errors now surface. No
fix inside a generator expression (an `await` there would make it an async
generator).

## Options
- `async-session-factories`, `async-context-manager`, `async-dependency`,
  `async-session-type`, `session-module`: what makes a session async.

## References
- [SQLAlchemy: Asynchronous I/O (asyncio)](https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html)
- [Python: Coroutines and Tasks](https://docs.python.org/3/library/asyncio-task.html#coroutines)
"""

# Builtins that consume what they are given: a coroutine passed to one is used as if it were the result.
_CONSUMERS = frozenset(f"builtins.{n}" for n in (
    "list", "tuple", "set", "frozenset", "dict", "sorted", "len", "bool", "str", "repr", "print", "next",
    "iter", "enumerate", "any", "all", "sum", "min", "max", "zip", "map", "filter", "reversed", "int", "float"))


class UnawaitedAsyncSessionCall(Rule):
    code = "SES010"
    name = "unawaited-async-session-call"
    summary = "AsyncSession coroutine method called without `await`"
    docs = DOCS
    fix_availability = "sometimes"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        ("from sqlalchemy.ext.asyncio import AsyncSession\n\n\nasync def f(db: AsyncSession):\n"
         "    db.add(User())\n    await db.commit()\n"),
        # a sync session in an async function: its methods are plain calls
        ("from sqlalchemy.orm import Session\n\n\nasync def f(db: Session):\n    db.add(User())\n    db.commit()\n"),
        # awaited by someone else
        ("import asyncio\nfrom sqlalchemy.ext.asyncio import AsyncSession\n\n\nasync def f(db: AsyncSession):\n"
         "    await asyncio.wait_for(db.commit(), 5)\n"),
    )
    INVALID = (
        ("from sqlalchemy.ext.asyncio import AsyncSession\n\n\nasync def f(db: AsyncSession):\n"
         "    db.add(User())\n    db.commit()\n"),
        ("from core.database import AsyncSessionLocal\n\n\nasync def f():\n"
         "    async with AsyncSessionLocal() as db:\n        users = db.execute(select(User)).scalars().all()\n"),
    )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not node.asynchronous or not isinstance(node.body, cst.IndentedBlock):
            return
        # only a coroutine method called on a plain name can be reported: which names hold an async
        # session is asked only of the functions that make such a call
        calls = [call for call in function_own_nodes(self.context, node).calls
                 if isinstance(call.func, cst.Attribute) and isinstance(call.func.value, cst.Name)
                 and call.func.attr.value in ASYNC_SESSION_AWAITABLE_METHODS]
        if not calls:
            return
        names = {name for name, flavor in sessions_of(self.context, node).items() if flavor is Flavor.ASYNC}
        for call in calls:
            if call.func.value.value in names and self._unawaited(call, node):
                self._report(call, call.func)

    # -- is the coroutine ever awaited? -------------------------------------------------------
    def _unawaited(self, call: cst.Call, function: cst.FunctionDef) -> bool:
        """Is the coroutine `call` makes thrown away or used as if it were its result?"""
        parent = self.parent(call)
        if isinstance(parent, cst.Expr):
            return True  # `db.commit()`: thrown away
        if isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is call:
            return True  # `db.execute(q).scalars()`
        if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is call:
            return True
        if isinstance(parent, (cst.If, cst.While, cst.IfExp)) and parent.test is call:
            return True
        if isinstance(parent, (cst.BooleanOperation, cst.UnaryOperation, cst.BinaryOperation,
                               cst.Comparison, cst.ComparisonTarget, cst.FormattedStringExpression)):
            return True
        if isinstance(parent, cst.Arg):
            consumer = self.parent(parent)
            return isinstance(consumer, cst.Call) and bool(self.qualified_names(consumer.func) & _CONSUMERS)
        if isinstance(parent, (cst.Assign, cst.AnnAssign)) and parent.value is call:
            targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [parent.target]
            if len(targets) == 1 and isinstance(targets[0], cst.Name):
                return not self._awaited_later(targets[0], function)
        return False  # returned, yielded, passed on, stored: someone else may await it

    def _awaited_later(self, target: cst.Name, function: cst.FunctionDef) -> bool:
        """Is the coroutine bound to `target` awaited, or handed on, somewhere in the function?
        (Any use that is not "as if it were the result" counts: the rule stays silent.)"""
        scope = self.get_metadata(ScopeProvider, target, None)
        if scope is None:
            return True
        accesses = [a.node for a in scope.accesses if a.node is not target
                    and isinstance(a.node, cst.Name) and a.node.value == target.value]
        for name in accesses:
            parent = self.parent(name)
            if isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is name:
                continue
            if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is name:
                continue
            if isinstance(parent, cst.Arg):
                consumer = self.parent(parent)
                if isinstance(consumer, cst.Call) and self.qualified_names(consumer.func) & _CONSUMERS:
                    continue
            return True
        return False

    # -- report and fix -------------------------------------------------------------------------
    def _report(self, call: cst.Call, func: cst.Attribute) -> None:
        text = self.context.module.code_for_node(func)
        self.report(call, f"`{text}()` is a coroutine and is never awaited: it does not run "
                          f"(add `await`)", self._fix(call))

    def _fix(self, call: cst.Call) -> Fix | None:
        node: cst.CSTNode | None = self.parent(call)
        while node is not None and not isinstance(node, cst.FunctionDef):
            if isinstance(node, cst.GeneratorExp):
                return None  # `await` would turn it into an async generator
            node = self.parent(node)
        parent = self.parent(call)
        wrapped = cst.Await(expression=call)
        if (isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is call) or (
                isinstance(parent, cst.Call) and parent.func is call):
            wrapped = wrapped.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        if call.lpar:  # `(db.commit())`: the parentheses go around the `await`
            wrapped = wrapped.with_changes(expression=call.with_changes(lpar=[], rpar=[]),
                                           lpar=list(call.lpar), rpar=list(call.rpar))
        return Fix(Applicability.UNSAFE, f"Add `await` before `{self.context.module.code_for_node(call.func)}()`",
                   {call: wrapped})
