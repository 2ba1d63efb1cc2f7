"""SES005 detached-instance-access: an ORM object's attributes read after its session closed."""

from __future__ import annotations

import libcst as cst

from ..analysis import patterns as m
from ..diagnostics import Applicability, Fix
from ..analysis.flow import Analysis, DetachedRead, analyse, file_flow
from ..analysis.move_safety import bound_reads, why_not_move
from ..analysis.walk import walk
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# a session opened by hand in a file that spells `close`, or in a block whose names are used after it
# (an ORM object loaded in a session block and read after it).
# session_lint/engine/screen.py skips LibCST for files without it; rules.screen_triggers() reads this line.
SCREEN_TRIGGERS = ("raw_closed", "block")

DOCS = """\
## What it does
Checks for ORM objects loaded inside a session block (`db.query(...).first()`,
`db.get(Model, id)`, `db.scalars(...)`, `db.execute(...).scalar_one()`, an
element of a loop over such a result) or added to it (`db.add(obj)`), whose
attributes are read after the block closed the session.

Which reads fail follows SQLAlchemy's semantics and the `expire-on-commit`
option:
- the block committed (the context manager commits at exit, or `db.commit()` was
  called) and `expire-on-commit = true`: every attribute was expired by the
  commit, so any read (and returning the object itself) fails;
- otherwise the object was detached with what it had loaded: only lazy
  relationships and deferred columns that were never loaded fail. Relationship
  names come from the model classes of the file and of the project modules it
  imports them from; `options(joinedload(...))`, `selectinload`, `subqueryload`
  and `lazy="joined"/"selectin"` count as loaded.

## Why is this bad?
A detached object cannot load anything: the read raises
`sqlalchemy.orm.exc.DetachedInstanceError` ("Instance <User> is not bound to a
Session; attribute refresh operation cannot proceed", or "Parent instance is not
bound to a Session; lazy load operation of attribute 'posts' cannot proceed").
It often passes in tests, where data is still in the identity map, and fails in
production.

## Example
```python
def get_email(user_id: int) -> str:
    with get_db_session() as db:
        user = db.get(User, user_id)
    return user.email
```

## Use instead
```python
def get_email(user_id: int) -> str:
    with get_db_session() as db:
        user = db.get(User, user_id)
        return user.email
```
or copy the data you need out of the block (`email = user.email`), or eager-load
the relationship you read later (`options(selectinload(User.posts))`).

## Fix safety
The fix is unsafe. When every use after the block is a read of a column that
always runs on the way out, it copies the values out: `user_email = user.email`
at the end of the block (after `db.flush()` when the block added the object, so
its id and defaults exist), and the code after the block uses `user_email`.
Otherwise, when every use lies in the statements that directly follow the
block, up to and including a `return` (or the end of the function), it moves
those statements to the end of the block, where the session is still open; the
commit then happens after them. The move is refused when the statements hold
network, subprocess, sleep or file I/O, an `await` of anything but the
session, a loop that is not over what the block loaded, another session block,
or a call that is given the session: a fix never makes a session wait on I/O.

## Options
- `expire-on-commit`: set it to `false` when the project's `sessionmaker` uses
  `expire_on_commit=False`; then only unloaded relationships and deferred
  columns are reported.
- `context-manager`, `session-factories` (and their async counterparts): what
  opens a session block.

## References
- [SQLAlchemy: DetachedInstanceError](https://docs.sqlalchemy.org/en/20/errors.html#error-bhk3)
- [SQLAlchemy: Session.commit() and expire_on_commit](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#committing)
- [SQLAlchemy: relationship loading techniques](https://docs.sqlalchemy.org/en/20/orm/queryguide/relationships.html)
"""


class DetachedInstanceAccess(Rule):
    code = "SES005"
    name = "detached-instance-access"
    summary = "ORM object attribute read after its session closed"
    docs = DOCS
    fix_availability = "sometimes"

    # (the import makes `get_db_session` the configured context manager: without it nothing is flagged)
    VALID = (
        "from core.database import get_db_session\n\ndef f(uid):\n    with get_db_session() as db:\n"
        "        user = db.get(User, uid)\n        return user.email\n",
        "from core.database import get_db_session\n\ndef f(uid):\n    with get_db_session() as db:\n"
        "        email = db.get(User, uid).email\n    return email\n",
    )
    INVALID = (
        "from core.database import get_db_session\n\ndef f(uid):\n    with get_db_session() as db:\n"
        "        user = db.get(User, uid)\n    return user.email\n",
    )

    def visit_Module(self, node: cst.Module) -> None:
        self.check(node, analyse(self.context, node))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.check(node, analyse(self.context, node))

    def check(self, scope: cst.CSTNode, analysis: Analysis) -> None:
        for read in analysis.reads:
            fix = self.fix(read, analysis) if self.context.fixes else None
            self.report(read.node, self.message(read, fixable=fix is not None), fix)

    def message(self, read: DetachedRead, fixable: bool) -> str:
        closure = read.obj.closure
        where = f"after the session `{closure.session}` closed (line {closure.line(self.position)})"
        if read.attr is None:
            text = f"`{read.name}` {read.verb} {where}: it is detached and its attributes were expired by the commit"
        else:
            text = f"`{read.name}.{read.attr}` read {where}: `{read.name}` is detached"
            if read.reason == "expired":
                text += " and its attributes were expired by the commit"
            elif read.reason == "relationship":
                text += f" and the relationship `{read.attr}` was never loaded"
            else:
                text += f" and the deferred column `{read.attr}` was never loaded"
        if not fixable:
            text += "; read what you need inside the block" + (
                f" after `{read.obj.session}.flush()`" if read.obj.added else "") + (
                " or eager-load it" if read.reason == "relationship" else "")
        return text

    # -- fixes ----------------------------------------------------------------------------------
    def fix(self, read: DetachedRead, analysis: Analysis) -> Fix | None:
        closure = read.obj.closure
        block = self.try_finally_closing(closure.node) if closure.by_close_call else closure.node
        if not isinstance(block, (cst.With, cst.Try)) or not isinstance(block.body, cst.IndentedBlock):
            return None
        suite = self.parent(block)
        if not isinstance(suite, (cst.IndentedBlock, cst.Module)):
            return None
        uses = analysis.uses_after.get(closure.node, [])
        # copying the values moves no code into the session: preferred whenever it can resolve every use
        return self.copy_fix(read, analysis, block, suite, uses) or self.move_fix(read, analysis, block, suite, uses)

    def move_fix(self, read: DetachedRead, analysis: Analysis, block: cst.With | cst.Try,
                 suite: cst.IndentedBlock | cst.Module, uses: list[cst.CSTNode]) -> Fix | None:
        """Move the statements that use the objects, up to a `return`, to the end of the block."""
        if block in analysis.flushed_at_exit:
            return None  # inside the block, added objects are not flushed yet (no id, no defaults)
        body = list(suite.body)
        index = body.index(block)
        following = body[index + 1:]
        end = next((i for i, stmt in enumerate(following) if _returns(stmt)), None)
        if end is None:
            if not (isinstance(suite, cst.IndentedBlock) and isinstance(self.parent(suite), cst.FunctionDef)):
                return None
            end = len(following) - 1  # falls off the end of the function: an implicit return
        moved = following[: end + 1]
        if not moved or any(_holds(stmt, (cst.Yield, cst.FunctionDef, cst.ClassDef)) for stmt in moved):
            return None
        moved_ids = {id(stmt) for stmt in moved}
        if not all(self.within(use, moved_ids) for use in uses):
            return None  # a use outside the moved statements
        if why_not_move(self.context, moved, read.obj.closure.session, uses):
            return None  # the session would be held across I/O, a loop or another session
        inner = block.body
        moved[0] = moved[0].with_changes(leading_lines=(*inner.footer, *moved[0].leading_lines))
        new_block = block.with_changes(body=inner.with_changes(body=(*inner.body, *moved), footer=()))
        new_suite = suite.with_changes(body=(*body[:index], new_block, *following[end + 1:]))
        return Fix(Applicability.UNSAFE, f"Move the code that uses `{read.name}` into the session block",
                   {suite: new_suite})

    def copy_fix(self, read: DetachedRead, analysis: Analysis, block: cst.With | cst.Try,
                 suite: cst.IndentedBlock | cst.Module, uses: list[cst.CSTNode]) -> Fix | None:
        """Copy the column values read after the block into variables at the end of the block
        (`user_email = user.email`) and read those instead: no other code moves into the session."""
        reads = bound_reads(self.context, block, suite, uses, self.kind_of(read))
        last = block.body.body[-1] if block.body.body else None
        if not reads or last is None or _leaves(last):
            return None
        taken = set(self.names_in_module())  # this fix's own picks stay its own
        variables: dict[tuple[str, str], str] = {}
        replacements: dict[cst.CSTNode, cst.CSTNode] = {}
        for node in reads:
            key = (node.value.value, node.attr.value)
            if key not in variables:
                variables[key] = _fresh(f"{key[0]}_{key[1]}", taken)
            replacements[node] = cst.Name(variables[key])
        statements = [cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(var))],
                                                          cst.Attribute(cst.Name(obj), cst.Name(attr)))])
                      for (obj, attr), var in variables.items()]
        if block in analysis.flushed_at_exit:  # objects added in the block get their ids first
            statements.insert(0, _flush(read.obj.closure.session, _asynchronous(block)))
        replacements[block.body] = block.body.with_changes(body=(*block.body.body, *statements))
        copied = ", ".join(f"`{obj}.{attr}`" for obj, attr in variables)
        return Fix(Applicability.UNSAFE, f"Read {copied} inside the session block", replacements)

    def kind_of(self, read: DetachedRead):
        """`kind_of(name, attr)`: what `attr` is on the object `name` (its model is known for `read`'s)."""
        registry = file_flow(self.context).models
        return lambda name, attr: registry.attribute_kind(read.obj.model if name == read.name else None, attr)

    def within(self, node: cst.CSTNode, statements: set[int]) -> bool:
        """Is `node` one of the `statements` (their ids) or below one? Asked of its parents, not its
        position: a position costs generating the code of the whole top-level statement holding it."""
        current: cst.CSTNode | None = node
        while current is not None:
            if id(current) in statements:
                return True
            current = self.parent(current)
        return False

    def names_in_module(self) -> set[str]:
        cache = self.context.__dict__
        if "_ses005_names" not in cache:
            cache["_ses005_names"] = _spelled_names(self.context.module)
        return cache["_ses005_names"]

    def try_finally_closing(self, call: cst.CSTNode) -> cst.Try | None:
        """The `try:` of `try: ... finally: db.close()` (nothing else in the finally, no except/else:
        moved statements must not change which errors are caught)."""
        line = self.parent(self.parent(call))
        finally_block = self.parent(self.parent(line)) if line is not None else None
        if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1
                and isinstance(finally_block, cst.Finally) and len(finally_block.body.body) == 1):
            return None
        node = self.parent(finally_block)
        return node if isinstance(node, cst.Try) and not node.handlers and node.orelse is None else None


def _spelled_names(module: cst.Module) -> set[str]:
    """Every `Name` spelled in the module (what `m.findall(module, m.Name())` finds, without
    the matchers' per-node cost)."""
    found: set[str] = set()
    walk(module, lambda node: found.add(node.value) if type(node) is cst.Name else None, lambda node: None)
    return found


def _holds(node: cst.CSTNode, kinds: tuple[type, ...]) -> bool:
    """Is there a node of one of `kinds` at or below `node`?"""
    found = False

    def enter(child: cst.CSTNode) -> None:
        nonlocal found
        found = found or isinstance(child, kinds)

    walk(node, enter, lambda child: None)
    return found


def _returns(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(isinstance(s, cst.Return) for s in stmt.body)


def _leaves(stmt: cst.CSTNode) -> bool:
    """Does the block's last statement leave it (then nothing appended to the block would run)?"""
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, (cst.Return, cst.Raise, cst.Break, cst.Continue)) for s in stmt.body)


def _fresh(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _asynchronous(block: cst.With | cst.Try) -> bool:
    if isinstance(block, cst.With):
        return block.asynchronous is not None
    return bool(block.finalbody and m.findall(block.finalbody, m.Await()))


def _flush(session: str, awaited: bool) -> cst.SimpleStatementLine:
    call: cst.BaseExpression = cst.Call(cst.Attribute(cst.Name(session), cst.Name("flush")))
    return cst.SimpleStatementLine([cst.Expr(cst.Await(call) if awaited else call)])
