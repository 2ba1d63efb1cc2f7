"""SES009 session-held-across-io: network, subprocess or sleep calls while a session is open and in use."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import libcst as cst
from libcst.metadata import Assignment, ScopeProvider

from ..analysis.fastapi import injected_sessions
from ..analysis.knowledge import ASYNC_SLEEP, SLOW_CLIENTS, SLOW_FUNCTIONS, SQL_METHODS
from ..analysis.model import FileModel
from ..analysis.sessions import manual_session_call, method_on, own_nodes, session_block_opening, writes_through
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# a call of a known slow function or client (or a configured `slow-calls` name) in a file that
# opens or receives a session. session_lint/engine/screen.py skips LibCST for files without it.
SCREEN_TRIGGERS = ("slow_io",)

DOCS = """\
## What it does
Checks for calls that wait on the network, another process or the clock while a
session holds a connection: after it ran SQL (`execute`, `scalars`, `query`,
`get`, `flush`, `refresh`, `merge`, ..., or handed to other code) and before it commits, rolls back or
closes, inside a session block (`with get_db_session() as db:`, `with
SessionLocal() as db:`, `with SessionLocal.begin() as db:`, the `async` forms),
between `db = SessionLocal()` and `db.close()`, and in a function that receives
its session through `Depends`, once it has written. `add()` alone runs no SQL
(the insert waits for the next flush), and a commit on every path gives the
connection back to the pool until the next SQL. Slow calls are
`requests.*`, `httpx.*` and the methods of `httpx.Client` / `AsyncClient`,
`aiohttp.ClientSession`, `requests.Session` and `boto3` clients,
`urllib.request.urlopen`, `smtplib.SMTP`, `subprocess.run` / `call` / `check_*`,
`time.sleep` and `asyncio.sleep` with a delay other than `0`; the `slow-calls`
option adds the project's own (`app.clients.fetch_invoice`). Names are resolved
through imports: a local function called `get` is not `requests.get`.

## Why is this bad?
Once a session has run a statement it holds a pooled connection, and after a
write it holds row locks, until it commits or closes. A call that waits on
another service holds both for its whole duration: other requests block on the
locks, and under load the pool runs dry (`QueuePool limit of size 5 overflow 10
reached, connection timed out`).

## Example
```python
with get_db_session() as db:
    order = db.get(Order, order_id)
    order.status = "paid"
    db.flush()
    requests.post(WEBHOOK_URL, json={"id": order.id})
```

## Use instead
```python
with get_db_session() as db:
    order = db.get(Order, order_id)
    order.status = "paid"
    payload = {"id": order.id}
requests.post(WEBHOOK_URL, json=payload)
```

## Fix safety
No fix: moving the call out of the block changes what happens when it fails (the
write is committed before the webhook is sent, or the webhook is sent for a write
that later rolls back), which only the author can decide.

## Options
- `slow-calls`: dotted names of further slow functions.
- `session-module`, `session-factories`, `context-manager`, `dependency` and
  their async forms: what opens or injects a session.

## References
- [SQLAlchemy: When do I construct a Session, when do I commit it, and when do I close it?](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#when-do-i-construct-a-session-when-do-i-commit-it-and-when-do-i-close-it)
- [SQLAlchemy: Dealing with Disconnects and pool timeouts](https://docs.sqlalchemy.org/en/20/errors.html#error-3o7r)
"""


class SessionHeldAcrossIo(Rule):
    code = "SES009"
    name = "session-held-across-io"
    summary = "network, subprocess or sleep call while a session is open and in use"
    docs = DOCS
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        ("import requests\nfrom core.database import get_db_session\n\n\ndef f():\n"
         "    with get_db_session() as db:\n        payload = db.get(User, 1).name\n    requests.post(URL, json=payload)\n"),
        # add() runs no SQL: nothing is held until the block commits
        ("import requests\nfrom core.database import get_db_session\n\n\ndef f():\n"
         "    with get_db_session() as db:\n        db.add(User())\n        requests.post(URL)\n"),
        # before the session's first use nothing is held yet
        ("import requests\nfrom core.database import get_db_session\n\n\ndef f():\n"
         "    with get_db_session() as db:\n        data = requests.get(URL).json()\n        db.add(User(**data))\n"),
    )
    INVALID = (
        ("import requests\nfrom core.database import get_db_session\n\n\ndef f():\n"
         "    with get_db_session() as db:\n        db.get(User, 1).name = 'x'\n        requests.post(URL)\n"),
        ("import time\nfrom core.database import SessionLocal\n\n\ndef f():\n    db = SessionLocal()\n"
         "    try:\n        db.execute(update(User).values(name='x'))\n        time.sleep(5)\n        db.commit()\n"
         "    finally:\n        db.close()\n"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self.reported: set[int] = set()

    # -- the three ways a session is held ---------------------------------------------------
    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            opened = session_block_opening(self.context, item)
            if opened is not None and isinstance(node.body, cst.IndentedBlock):
                self._check(_leaves(node.body.body), opened[0], after=self._runs_sql)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not isinstance(node.body, cst.IndentedBlock):
            return
        leaves = list(_leaves(node.body.body))
        for index, (leaf, _) in enumerate(leaves):  # `db = SessionLocal()` ... `db.close()`
            opened = _opened_name(self.context, leaf)
            if opened is not None:
                self._check(leaves[index + 1:], opened, after=self._runs_sql)
        for injected in injected_sessions(self.context, node):  # an injected session, after its first write
            first_write = next((i for i, (leaf, _) in enumerate(leaves) if self._writes(leaf, injected.name)), None)
            if first_write is not None:
                self._check(leaves[first_write:], injected.name, after=self._runs_sql)

    def _check(self, leaves: Sequence[tuple[cst.CSTNode, tuple]] | Iterator[tuple[cst.CSTNode, tuple]],
               session: str, after) -> None:
        leaves = list(leaves)
        start = next((i for i, (leaf, _) in enumerate(leaves) if after(leaf, session)), None)
        if start is None:
            return
        idle_in = None  # the block in which a commit / rollback released the connection, if any
        for count, (leaf, path) in enumerate(leaves[start + 1:], 1):
            if _closes(leaf, session):
                return
            if idle_in is not None and path[:len(idle_in)] != idle_in:
                idle_in = None  # left that block: on the paths that skipped it the connection is held
            if _ends_transaction(leaf, session):
                idle_in = path if idle_in is None else idle_in  # the connection goes back to the pool
                continue
            if self._runs_sql(leaf, session):
                idle_in = None
            if idle_in is not None:
                continue
            for call in _calls(leaf):
                slow = self._slow(call)
                if slow is not None and id(call) not in self.reported:
                    self.reported.add(id(call))
                    self.report(call, f"`{slow}` while the session `{session}` holds a connection ({count} "
                                      f"statement{'s' if count > 1 else ''} after it ran SQL): the "
                                      "connection and its locks are held for the call; finish the "
                                      "database work first")

    # -- what the statements do -------------------------------------------------------------
    @staticmethod
    def _runs_sql(leaf: cst.CSTNode, session: str) -> bool:
        """Does the statement run SQL on the session (so it holds a connection from then on)? A session
        handed to other code (`get_index_properties(db_session)`) is taken to: that code reads it."""
        return any(method_on(call, session) in SQL_METHODS
                   or any(isinstance(arg.value, cst.Name) and arg.value.value == session for arg in call.args)
                   for call in _calls(leaf))

    @staticmethod
    def _writes(leaf: cst.CSTNode, session: str) -> bool:
        return any(writes_through(call, session) for call in _calls(leaf))

    def _slow(self, call: cst.Call) -> str | None:
        """The dotted name of a slow call, or None."""
        names = self.qualified_names(call.func)
        known = names & SLOW_FUNCTIONS or names & set(self.config.slow_calls)
        if known:
            return f"{min(known)}()"
        if names & ASYNC_SLEEP:
            delay = call.args[0].value if call.args else None
            zero = isinstance(delay, (cst.Integer, cst.Float)) and float(delay.value) == 0
            return None if zero else "asyncio.sleep()"
        func = call.func
        if isinstance(func, cst.Attribute):
            client = self._client_class(func.value)
            if client is not None:
                return f"{client}(...).{func.attr.value}()"
        return None

    def _client_class(self, receiver: cst.BaseExpression) -> str | None:
        """`httpx.Client` for `client` bound by `with httpx.Client() as client:` / `client = httpx.Client()`,
        or for `httpx.Client()` itself."""
        if isinstance(receiver, cst.Call):
            found = self.qualified_names(receiver.func) & SLOW_CLIENTS
            return min(found) if found else None
        if not isinstance(receiver, cst.Name):
            return None
        scope = self.get_metadata(ScopeProvider, receiver, None)
        bindings = list(scope[receiver.value]) if scope is not None else []
        classes = set()
        for binding in bindings:
            if not isinstance(binding, Assignment):
                return None  # a builtin (`str.join(...)`): no binding node, not a client
            value = _bound_value(self.context, binding.node)
            if not isinstance(value, cst.Call):
                return None
            classes |= self.qualified_names(value.func) & SLOW_CLIENTS
        return min(classes) if len(classes) == 1 and bindings else None


def _bound_value(file: FileModel, node: cst.CSTNode) -> cst.BaseExpression | None:
    parent = file.parent(node)
    if isinstance(parent, cst.AsName):
        item = file.parent(parent)
        return item.item if isinstance(item, cst.WithItem) else None
    if isinstance(parent, cst.AssignTarget):
        assign = file.parent(parent)
        return assign.value if isinstance(assign, cst.Assign) else None
    return None


def _opened_name(file: FileModel, leaf: cst.CSTNode) -> str | None:
    """`db` for a statement `db = SessionLocal()` (a session opened by hand)."""
    if not (isinstance(leaf, cst.SimpleStatementLine) and len(leaf.body) == 1 and isinstance(leaf.body[0], cst.Assign)):
        return None
    assign = leaf.body[0]
    value = assign.value.expression if isinstance(assign.value, cst.Await) else assign.value
    if len(assign.targets) == 1 and isinstance(assign.targets[0].target, cst.Name) \
            and manual_session_call(file, value) is not None:
        return assign.targets[0].target.value
    return None


def _ends_transaction(leaf: cst.CSTNode, session: str) -> bool:
    return any(isinstance(c.func, cst.Attribute) and c.func.attr.value in ("commit", "rollback")
               and isinstance(c.func.value, cst.Name) and c.func.value.value == session for c in _calls(leaf))


def _closes(leaf: cst.CSTNode, session: str) -> bool:
    return any(isinstance(c.func, cst.Attribute) and c.func.attr.value == "close"
               and isinstance(c.func.value, cst.Name) and c.func.value.value == session for c in _calls(leaf))


def _leaves(statements: Sequence[cst.BaseStatement], path: tuple[int, ...] = ()) -> Iterator[tuple[cst.CSTNode, tuple[int, ...]]]:
    """The simple statements and compound statements' headers, in source order, through every block
    (not into nested functions and classes: their bodies run later), each with the blocks it is in
    (a leaf runs after an earlier one on every path when the earlier one's blocks are a prefix of its own)."""
    for stmt in statements:
        if isinstance(stmt, cst.SimpleStatementLine):
            yield stmt, path
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        else:
            yield from ((header, path) for header in _headers(stmt))
            for block in _blocks(stmt):
                yield from _leaves(block, path + (id(block),))


def _headers(stmt: cst.BaseCompoundStatement) -> list[cst.CSTNode]:
    if isinstance(stmt, (cst.If, cst.While)):
        return [stmt.test]
    if isinstance(stmt, cst.For):
        return [stmt.iter]
    if isinstance(stmt, cst.With):
        return list(stmt.items)
    if isinstance(stmt, cst.Match):
        return [stmt.subject]
    return []


def _blocks(stmt: cst.CSTNode) -> list[Sequence[cst.BaseStatement]]:
    blocks = []
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.IndentedBlock):
        blocks.append(body.body)
    elif isinstance(body, cst.SimpleStatementSuite):
        blocks.append([cst.SimpleStatementLine(body=body.body)])
    if isinstance(stmt, cst.Try) or isinstance(stmt, cst.TryStar):
        blocks += [h.body.body for h in stmt.handlers if isinstance(h.body, cst.IndentedBlock)]
    if isinstance(stmt, cst.Match):
        blocks += [case.body.body for case in stmt.cases if isinstance(case.body, cst.IndentedBlock)]
    for part in ("orelse", "finalbody"):
        other = getattr(stmt, part, None)
        if isinstance(other, cst.If):
            blocks.append([other])
        elif other is not None and isinstance(getattr(other, "body", None), cst.IndentedBlock):
            blocks.append(other.body.body)
    return blocks


def _calls(leaf: cst.CSTNode) -> list[cst.Call]:
    return own_nodes(leaf).calls
