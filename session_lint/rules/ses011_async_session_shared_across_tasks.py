"""SES011 async-session-shared-across-tasks: one `AsyncSession` used by coroutines that run concurrently."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ScopeProvider

from ..analysis.knowledge import ASYNC_CREATE_TASK, ASYNC_GATHER, ASYNC_SESSION_AWAITABLE_METHODS, TASK_GROUPS
from ..analysis.sessions import Flavor, function_own_nodes, sessions_of
from .base import Rule
from ..analysis.walk import visit_read_only

# The screen trigger, what a file must contain for this rule to fire:
# an `async def` calling something spelled `gather` / `create_task` / `ensure_future` / `start_soon`
# (or an import alias of one) with a positional argument naming something that may hold a session
# there. session_lint/engine/screen_async.py implements it; the screen skips LibCST for files without it.
SCREEN_TRIGGERS = ("shared_tasks",)

DOCS = """\
## What it does
Checks for one `AsyncSession` handed to coroutines that run at the same time:
two or more arguments of `asyncio.gather(...)` that use it (`gather(load(db),
count(db))`, `gather(db.execute(a), db.execute(b))`, or `gather(*(f(db, x) for x
in xs))`); a task started with `asyncio.create_task(f(db))` /
`ensure_future` / `loop.create_task` while the function goes on using `db` before
it awaits the task; `create_task` / `start_soon` of a task group
(`asyncio.TaskGroup`, `anyio.create_task_group()`) given `db` twice, or in a loop.
The session must be known to be async (an `AsyncSession` parameter, the async
dependency or context manager, `async_sessionmaker`, or an object the function
awaits coroutine methods of and calls a session-only method on, as SES010 says). Sequential awaits, and
coroutines that each open their own session, are fine.

## Why is this bad?
An `AsyncSession` (like a `Session`) is a single unit of work over one connection
and is not safe for concurrent use: SQLAlchemy calls sharing it between tasks a
programming error. Depending on timing and driver it fails with
`InvalidRequestError: ... concurrent operations are not permitted`,
`IllegalStateChangeError`, an `InterfaceError: another operation is in progress`
(asyncpg), or silently interleaves statements within one transaction.

## Example
```python
async def dashboard(db: AsyncSession):
    users, orders = await asyncio.gather(count_users(db), count_orders(db))
```

## Use instead
```python
async def dashboard(db: AsyncSession):
    users = await count_users(db)
    orders = await count_orders(db)
```
or give each task its own session (`async with get_async_session() as db:` inside
each coroutine).

## Fix safety
No fix: running the calls one after another, or giving each its own session
(another transaction), is a design decision.

## Options
- `async-session-factories`, `async-context-manager`, `async-dependency`,
  `async-session-type`, `session-module`: what makes a session async.

## References
- [SQLAlchemy: Using AsyncSession with Concurrent Tasks](https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html#using-asyncsession-with-concurrent-tasks)
- [SQLAlchemy: Is the Session thread-safe? Is AsyncSession safe to share in concurrent tasks?](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#is-the-session-thread-safe-is-asyncsession-safe-to-share-in-concurrent-tasks)
- [sqlalchemy/sqlalchemy#10092](https://github.com/sqlalchemy/sqlalchemy/issues/10092)
"""

_COMPREHENSIONS = (cst.GeneratorExp, cst.ListComp, cst.SetComp)
_Position = tuple[int, int]


class AsyncSessionSharedAcrossTasks(Rule):
    code = "SES011"
    name = "async-session-shared-across-tasks"
    summary = "one AsyncSession used by coroutines that run concurrently (gather, create_task, TaskGroup)"
    docs = DOCS
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        ("from sqlalchemy.ext.asyncio import AsyncSession\n\n\nasync def f(db: AsyncSession):\n"
         "    a = await load(db)\n    b = await count(db)\n"),
        ("import asyncio\nfrom core.database import get_async_session\n\n\nasync def one():\n"
         "    async with get_async_session() as db:\n        return await load(db)\n\n\n"
         "async def f():\n    await asyncio.gather(one(), one())\n"),
    )
    INVALID = (
        ("import asyncio\nfrom sqlalchemy.ext.asyncio import AsyncSession\n\n\nasync def f(db: AsyncSession):\n"
         "    await asyncio.gather(load(db), count(db))\n"),
        ("import asyncio\nfrom sqlalchemy.ext.asyncio import AsyncSession\n\n\nasync def f(db: AsyncSession):\n"
         "    task = asyncio.create_task(load(db))\n    await db.execute(q)\n    await task\n"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self.reported: set[int] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not node.asynchronous or not isinstance(node.body, cst.IndentedBlock):
            return
        # only a gather or a task start can be reported (`_gather`, `_task`): which names hold an
        # async session is asked only of the functions that make one
        calls = [call for call in function_own_nodes(self.context, node).calls if self._starts_coroutines(call)]
        if not calls:
            return
        names = sorted(name for name, flavor in sessions_of(self.context, node).items() if flavor is Flavor.ASYNC)
        for name in names:
            uses = _Uses(name)
            visit_read_only(node.body, uses)
            for call in calls:
                if self.qualified_names(call.func) & ASYNC_GATHER:
                    self._gather(call, name)
                else:
                    self._task(call, name, node, uses.found)

    def _starts_coroutines(self, call: cst.Call) -> bool:
        """`asyncio.gather(...)`, or a call `_task` looks at (a task start)."""
        func = call.func
        method = func.attr.value if isinstance(func, cst.Attribute) else None
        return method in ("create_task", "start_soon") or bool(
            self.qualified_names(func) & (ASYNC_GATHER | ASYNC_CREATE_TASK))

    # -- asyncio.gather(f(db), g(db)) -----------------------------------------------------------
    def _gather(self, call: cst.Call, session: str) -> None:
        users: list[cst.CSTNode] = []
        for arg in call.args:
            if arg.keyword is not None:
                continue  # return_exceptions=...
            value = arg.value
            if arg.star == "*" and isinstance(value, _COMPREHENSIONS) and _uses(value.elt, session):
                users += [value.elt, value.elt]  # one coroutine per element: all of them use it
            elif not arg.star and _uses(value, session):
                users.append(value)
        if len(users) >= 2:
            second = users[1]
            many = second is users[0]
            self._report(second, f"the session `{session}` is given to "
                                 f"{'every coroutine' if many else 'two coroutines'} that `asyncio.gather(...)` "
                                 "runs concurrently: an AsyncSession is not safe for concurrent tasks "
                                 "(await them one after another, or give each its own session)")

    # -- create_task(f(db)) while db is still in use --------------------------------------------
    def _task(self, call: cst.Call, session: str, function: cst.FunctionDef, uses: list[cst.CSTNode]) -> None:
        func = call.func
        method = func.attr.value if isinstance(func, cst.Attribute) else None
        if self.qualified_names(func) & ASYNC_CREATE_TASK or method == "create_task":
            started = [call.args[0].value] if call.args and not call.args[0].star and call.args[0].keyword is None else []
        elif method == "start_soon":  # anyio: `tg.start_soon(f, db)`
            started = [a.value for a in call.args if not a.star]
        else:
            return
        if not any(_uses(value, session) for value in started):
            return
        end, region = self._task_end(call, function)
        loop = self._enclosing_loop(call, region)
        if loop is not None and (end is None or end >= self._end(loop)):
            self._report(call, f"a task using the session `{session}` is started on every iteration "
                               "and not awaited in it: the tasks run concurrently on one AsyncSession, "
                               "which is not safe for concurrent tasks")
            return
        start = self._end(call)
        for use in uses:
            at = self._start(use)
            if at > start and (end is None or at < end):
                self._report(use, f"the session `{session}` is used while a task started with it "
                                  f"(line {self.position(call).start.line}) may still be running: an "
                                  "AsyncSession is not safe for concurrent tasks (await the task first)")
                return

    def _task_end(self, call: cst.Call, function: cst.FunctionDef) -> tuple[_Position | None, cst.CSTNode]:
        """Where the task `call` starts is awaited, at the latest (None: not in this function), and the
        region of code it lives in (its task group's block, else the function)."""
        func = call.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            group = self._task_group_block(func.value, call)
            if group is not None:
                return self._end(group), group
        holder = self._holder(call)
        if holder is not None:
            for awaited in _Awaits(holder).of(function.body):
                if self._start(awaited) > self._end(call):
                    return self._start(awaited), function
        return None, function

    def _holder(self, call: cst.Call) -> str | None:
        """The name the task is kept in: `t = create_task(...)`, `tasks.append(create_task(...))`."""
        parent = self.parent(call)
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
            return parent.targets[0].target.value
        if isinstance(parent, cst.Arg):
            outer = self.parent(parent)
            if (isinstance(outer, cst.Call) and isinstance(outer.func, cst.Attribute)
                    and outer.func.attr.value in ("append", "add") and isinstance(outer.func.value, cst.Name)):
                return outer.func.value.value
        return None

    def _task_group_block(self, receiver: cst.Name, call: cst.Call) -> cst.With | None:
        """The `async with asyncio.TaskGroup() as tg:` block around `call` that binds `receiver`."""
        node = self.parent(call)
        while node is not None and not isinstance(node, cst.FunctionDef):
            if isinstance(node, cst.With):
                for item in node.items:
                    if (item.asname is not None and isinstance(item.asname.name, cst.Name)
                            and item.asname.name.value == receiver.value and isinstance(item.item, cst.Call)
                            and self.qualified_names(item.item.func) & TASK_GROUPS):
                        return node
            node = self.parent(node)
        return None

    def _enclosing_loop(self, call: cst.Call, region: cst.CSTNode) -> cst.CSTNode | None:
        node = self.parent(call)
        while node is not None and node is not region and not isinstance(node, cst.FunctionDef):
            if isinstance(node, (cst.For, cst.While)):
                return node
            node = self.parent(node)
        return None

    # -- positions and reports --------------------------------------------------------------
    def _start(self, node: cst.CSTNode) -> _Position:
        pos = self.position(node).start
        return pos.line, pos.column

    def _end(self, node: cst.CSTNode) -> _Position:
        pos = self.position(node).end
        return pos.line, pos.column

    def _report(self, node: cst.CSTNode, message: str) -> None:
        if id(node) not in self.reported:
            self.reported.add(id(node))
            self.report(node, message)


def _uses(node: cst.CSTNode, session: str) -> bool:
    """Does the expression hand the session on (`f(db)`, `Repo(db)`) or run one of its coroutine
    methods (`db.execute(q)`)? `db.bind`, `db.info` are not uses of the session."""
    if isinstance(node, cst.Name):
        return node.value == session  # `tg.start_soon(load, db)`
    collect = _Uses(session)
    visit_read_only(node, collect)
    return bool(collect.found)


class _Uses(cst.CSTVisitor):
    """The uses of a session name, in source order (not in nested functions or lambdas): the
    argument that hands it on, or the call of one of its coroutine methods."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.found: list[cst.CSTNode] = []

    def visit_Arg(self, node: cst.Arg) -> None:
        if isinstance(node.value, cst.Name) and node.value.value == self.session:
            self.found.append(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == self.session
                and func.attr.value in ASYNC_SESSION_AWAITABLE_METHODS):
            self.found.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


class _Awaits(cst.CSTVisitor):
    """The `await` expressions that mention a name (`await t`, `await asyncio.gather(*tasks)`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[cst.Await] = []

    def of(self, body: cst.CSTNode) -> list[cst.Await]:
        visit_read_only(body, self)
        return self.found

    def visit_Await(self, node: cst.Await) -> None:
        class Mentions(cst.CSTVisitor):
            hit = False

            def visit_Name(inner, name: cst.Name) -> None:  # noqa: N805
                if name.value == self.name:
                    inner.hit = True
        mentions = Mentions()
        visit_read_only(node.expression, mentions)
        if mentions.hit:
            self.found.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False
