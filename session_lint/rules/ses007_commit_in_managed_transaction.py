"""SES007 commit-in-managed-transaction: `commit()` / `rollback()` on a session whose transaction a block owns."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import Assignment, ImportAssignment, ScopeProvider

from ..analysis import patterns as m
from ..analysis.codemod import has_comment
from ..diagnostics import Applicability, Fix
from ..analysis.fastapi import injected_dependency, injected_sessions
from ..analysis.sessions import is_session_annotation, opens_session, session_factory
from ..analysis.transactions import dependency_owns_transaction
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# a `.commit()` / `.rollback()` call in a file that also calls `.begin()` or injects with `Depends`.
# session_lint/engine/screen.py skips LibCST for files without it; rules.screen_triggers() reads this line.
SCREEN_TRIGGERS = ("transaction",)

DOCS = """\
## What it does
Checks for `commit()` or `rollback()` called on a session whose transaction a
block owns: inside `with session.begin():` / `async with session.begin():`,
`with Factory.begin() as session:`, `with Session(engine) as s, s.begin():`, or
in a function whose session FastAPI injects from a dependency that yields it
inside such a block (the six-line `with SessionLocal.begin() as s: yield s`
dependency). `begin_nested()` savepoints, the project's own context managers
(which may commit when told to) and sessions of other blocks are not reported.

## Why is this bad?
The block promised atomicity: everything in it commits together when it ends, or
nothing does. A `commit()` inside commits what ran so far even if the block later
fails, and the next use of the session in the block raises
`InvalidRequestError: Can't operate on closed transaction inside context
manager`. A `rollback()` silently discards the block's earlier work and breaks
the rest of it the same way.

## Example
```python
with SessionLocal.begin() as db:
    db.add(order)
    db.commit()
    db.add(invoice)  # InvalidRequestError; the order is already committed
```

## Use instead
```python
with SessionLocal.begin() as db:
    db.add(order)
    db.add(invoice)
```

## Fix safety
The fix is safe and offered for one shape only: a bare `commit()` that is the
last statement of the `begin()` block, which the block does anyway when it ends.
Any other `commit()`, every `rollback()` and every call in a route (the
dependency commits after the route returns, so moving the commit changes when a
failure is seen) are reported without a fix.

## Options
- `session-module`, `session-factories`, `async-session-factories`,
  `dependency`, `async-dependency`.

## References
- [SQLAlchemy: Framing out a begin / commit / rollback block](https://docs.sqlalchemy.org/en/20/orm/session_transaction.html#framing-out-a-begin-commit-rollback-block)
- [FastAPI: Dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
"""

ENDERS = ("commit", "rollback")


@dataclass
class _Block:
    """A `with` whose items own `session`'s transaction."""

    session: str
    node: cst.With
    spelled: str  # how the block's opening reads, for the message


class CommitInManagedTransaction(Rule):
    code = "SES007"
    name = "commit-in-managed-transaction"
    summary = "commit()/rollback() on a session whose transaction a begin() block or dependency owns"
    docs = DOCS
    fix_availability = "sometimes"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        "from core.database import SessionLocal\n\nwith SessionLocal.begin() as db:\n    db.add(User())\n",
        # a savepoint committed through its own object
        ("from core.database import SessionLocal\n\nwith SessionLocal.begin() as db:\n"
         "    with db.begin_nested() as savepoint:\n        db.add(User())\n        savepoint.commit()\n"),
        # the project's context manager: an explicit commit is allowed
        "from core.database import get_db_session\n\nwith get_db_session() as db:\n    db.add(User())\n    db.commit()\n",
    )
    INVALID = (
        "from core.database import SessionLocal\n\nwith SessionLocal.begin() as db:\n    db.add(User())\n    db.commit()\n",
        ("from core.database import SessionLocal\n\nwith SessionLocal() as db, db.begin():\n    db.add(User())\n"
         "    db.rollback()\n    db.add(User())\n"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self.frames: list[list[_Block]] = [[]]  # per function: the begin() blocks open around the code
        self.owning: list[dict[str, str]] = [{}]  # per function: injected sessions whose dependency owns it

    # -- where the code is -------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.append([])  # a nested function does not run inside the enclosing block
        self.owning.append(self._owned_injections(node))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.frames.pop()
        self.owning.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.frames.append([])
        self.owning.append({})

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.frames.pop()
        self.owning.pop()

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            session = self._owned_session(item)
            if session is not None:
                self.frames[-1].append(_Block(session, node, self.context.module.code_for_node(item.item)))

    def leave_With(self, original_node: cst.With) -> None:
        self.frames[-1] = [b for b in self.frames[-1] if b.node is not original_node]

    # -- the finding ---------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in ENDERS and isinstance(func.value, cst.Name)):
            return
        session, method = func.value.value, func.attr.value
        block = next((b for b in reversed(self.frames[-1]) if b.session == session), None)
        if block is not None:
            if self._rebound_in(block.node, session):
                return
            self.report(node, f"`{session}.{method}()` inside `with {block.spelled}`: the block owns the "
                              f"transaction and {'commits' if method == 'commit' else 'ends'} it itself",
                        self._fix(node, block) if method == "commit" else None)
        elif session in self.owning[-1] and not self._rebound_in(None, session):
            dependency = self.owning[-1][session]
            self.report(node, f"`{session}.{method}()` on the session of `{dependency}`, whose `begin()` block "
                              "owns the transaction: let the dependency commit")

    # -- which sessions a block or a dependency owns ----------------------------------------
    def _owned_session(self, item: cst.WithItem) -> str | None:
        """The session whose transaction this `with` item owns: `s` in `with s.begin():`,
        `with Factory.begin() as s:`, `with Session(e) as s, s.begin():`."""
        call = item.item
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "begin"):
            return None
        receiver = call.func.value
        if session_factory(self.context, receiver):  # `with SessionLocal.begin() as db:`
            return item.asname.name.value if item.asname and isinstance(item.asname.name, cst.Name) else None
        if isinstance(receiver, cst.Name) and self._is_session(receiver):
            return receiver.value
        return None

    def _is_session(self, name: cst.Name) -> bool:
        """Is every binding of `name` in scope a session (opened, injected or annotated as one)?"""
        scope = self.get_metadata(ScopeProvider, name, None)
        bindings = list(scope[name.value]) if scope is not None else []
        # a builtin (`BuiltinAssignment`) or an import has no binding node: not a session
        return bool(bindings) and all(isinstance(b, Assignment) and not isinstance(b, ImportAssignment)
                                      and self._binds_session(b.node) for b in bindings)

    def _binds_session(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Param):
            annotation = node.annotation.annotation if node.annotation else None
            function = self._function_of(node)
            injected = function is not None and any(i.param is node for i in injected_sessions(self.context, function))
            return injected or is_session_annotation(self.context, annotation)
        parent = self.parent(node)
        if isinstance(parent, cst.AsName):
            item = self.parent(parent)
            return isinstance(item, cst.WithItem) and opens_session(self.context, item.item) is not None
        if isinstance(parent, cst.AssignTarget):
            assign = self.parent(parent)
            return isinstance(assign, cst.Assign) and opens_session(self.context, assign.value) is not None
        return False

    def _function_of(self, param: cst.Param) -> cst.FunctionDef | None:
        node = self.parent(param)
        while node is not None and not isinstance(node, (cst.FunctionDef, cst.Lambda)):
            node = self.parent(node)
        return node if isinstance(node, cst.FunctionDef) else None

    def _owned_injections(self, function: cst.FunctionDef) -> dict[str, str]:
        """{parameter: dependency} for the sessions FastAPI injects from a dependency that yields
        inside a `begin()` block (read from the dependency's source)."""
        owned = {}
        roots = self.project_roots()
        for injected in injected_sessions(self.context, function):
            dependencies = injected_dependency(self.context, injected.param)
            owner = next((d for d in sorted(dependencies) if dependency_owns_transaction(d, roots)), None)
            if owner is not None:
                owned[injected.name] = owner.rpartition(".")[2]
        return owned

    def _rebound_in(self, block: cst.With | None, session: str) -> bool:
        """Is `session` assigned anew in the block (or, for an injected one, anywhere in the function)?"""
        if block is None:
            return False  # parameters rebound are rare; the scope check in _is_session covers blocks
        return bool(m.findall(block.body, m.AssignTarget(target=m.Name(session)) | m.AsName(name=m.Name(session))))

    # -- fix: a trailing bare commit() is what the block does anyway --------------------------
    def _fix(self, call: cst.Call, block: _Block) -> Fix | None:
        expression = self.parent(call)
        if isinstance(expression, cst.Await):
            expression = self.parent(expression)
        line = self.parent(expression) if isinstance(expression, cst.Expr) else None
        body = block.node.body
        if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and not has_comment(line)
                and call.args == () and isinstance(body, cst.IndentedBlock) and len(body.body) > 1
                and body.body[-1] is line):
            return None
        return Fix(Applicability.SAFE, f"Remove `{block.session}.commit()`: the block commits when it ends",
                   {line: cst.RemoveFromParent()})
