"""SES002 global-session: a Session instance that outlives a unit of work (module, class or `self`)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from libcst.metadata import ScopeProvider

from ..analysis import patterns as m
from ..analysis.codemod import (
    has_comment,
    helper_call,
    is_method_stmt,
    split_docstring,
    uses,
    with_block,
)
from ..diagnostics import Applicability, Fix
from ..analysis.project import search_roots
from ..analysis.project_imports import imported_elsewhere
from ..analysis.sessions import (
    Flavor,
    bound_to,
    factory_import_specs,
    global_session_binding,
    helper_available,
    house_factory_call,
    manual_session_call,
)
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# a session created by hand, bound at module / class / instance level.
# session_lint/engine/screen.py skips LibCST for files without it; rules.screen_triggers() reads this line.
SCREEN_TRIGGERS = ("raw",)

DOCS = """\
## What it does
Checks for a session instance bound at module level (`db = SessionLocal()`), in
a class body, or stored on `self`/`cls` in a method (`self.db = SessionLocal()`,
also lazily) of a long-lived object. A module-level `sessionmaker(...)`,
`async_sessionmaker(...)` or `scoped_session(...)` registry is the recommended
pattern and is not flagged; neither is a context-manager class (one defining
`__exit__`) or a test case (`tearDown`), whose session lives for one block.

## Why is this bad?
A `Session` is a unit of work, not a connection pool: it is not thread-safe and
it remembers everything loaded and every failed flush. One shared session means
one request's failure poisons every later one (`PendingRollbackError: This
Session's transaction has been rolled back due to a previous exception during
flush`), stale objects are served from its identity map, and concurrent
requests interleave on one connection.

## Example
```python
db = SessionLocal()

def get_user(user_id: int):
    return db.get(User, user_id)
```

## Use instead
```python
def get_user(user_id: int):
    with get_db_session() as db:
        return db.get(User, user_id)
```

## Fix safety
The fix is unsafe: it removes the global and makes every function of the module
that used it open its own `with get_db_session() as <name>:` around its body,
so each call now commits on success (the shared session committed only when
told to, possibly on behalf of another caller). No fix is offered when the
global is used at module level, rebound, declared `global`, used by a nested
function, or imported by another module of the project.

## Options
- `session-module`, `session-factories`, `async-session-factories`,
  `context-manager`, `async-context-manager`.

## References
- [SQLAlchemy: Is the Session thread-safe?](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#is-the-session-thread-safe-is-asyncsession-safe-to-share-in-concurrent-tasks)
- [SQLAlchemy: Contextual/Thread-local Sessions](https://docs.sqlalchemy.org/en/20/orm/contextual.html)
"""

WHERE = {"module": "at module level", "class": "in a class body", "instance": "on a long-lived object"}


class GlobalSession(Rule):
    code = "SES002"
    name = "global-session"
    summary = "Session instance shared at module level, in a class body or on self"
    docs = DOCS
    fix_availability = "sometimes"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        "from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker(bind=engine)\n",
        "from core.database import get_db_session\n\ndef f():\n    with get_db_session() as db:\n        pass\n",
    )
    INVALID = (
        "from core.database import SessionLocal\n\ndb = SessionLocal()\n",
        ("from core.database import SessionLocal\n\nclass Repo:\n    def __init__(self):\n"
        "        self.db = SessionLocal()\n"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self.skip = context.in_module(self.config.session_module)

    def visit_Call(self, node: cst.Call) -> None:
        if self.skip:
            return
        flavor = manual_session_call(self.context, node)
        kind = flavor and global_session_binding(self.context, node)
        if not kind:
            return
        binding = bound_to(self.context, node)
        targets = [t.target for t in binding.targets] if isinstance(binding, cst.Assign) else [binding.target]
        target = self.context.module.code_for_node(targets[0])
        call = self.context.module.code_for_node(node.func)
        self.report(node, f"session `{target} = {call}()` shared {WHERE[kind]}: open one per unit of work",
                    self.fix_for(node, binding, flavor) if kind == "module" else None)

    # -- fix: every function that used the global opens its own session ----------------
    def fix_for(self, call: cst.Call, binding, flavor: Flavor) -> Fix | None:
        if not house_factory_call(self.context, call):
            return None  # another engine or connection: the house helper would change the database
        if not (isinstance(binding, cst.Assign) and binding.value is call and len(binding.targets) == 1
                and isinstance(binding.targets[0].target, cst.Name)):
            return None
        line = self.parent(binding)
        if not (isinstance(self.parent(line), cst.Module) and len(line.body) == 1) or has_comment(line):
            return None
        target = binding.targets[0].target
        name = target.value
        scope = self.get_metadata(ScopeProvider, target, None)
        if scope is None or len(scope.assignments[name]) != 1 or self.declared_global(name):
            return None
        functions: dict[cst.FunctionDef, None] = {}
        (assignment,) = scope.assignments[name]
        for access in assignment.references:
            function = self.body_owner(access.node)
            if function is None:
                return None  # used at module level (or in a signature/decorator)
            functions[function] = None
        if not functions or self.imported_elsewhere(name):
            return None
        helper = self.config.async_context_manager if flavor is Flavor.ASYNC else self.config.context_manager
        if not helper_available(self.context, helper):
            return None
        new_call, spec = helper_call(helper, self.config.session_module)
        replacements: dict = {line: cst.RemoveFromParent()}
        for function in functions:
            rebuilt = self.open_in(function, name, new_call, flavor, set(functions))
            if rebuilt is None:
                return None
            replacements[function] = rebuilt
        return Fix(Applicability.UNSAFE,
                   f"Remove the global; open `{self.context.module.code_for_node(new_call)}` in each function",
                   replacements, add_imports=(spec,) if spec else (),
                   remove_imports=factory_import_specs(self.context, call))

    def open_in(self, function: cst.FunctionDef, name: str, call: cst.Call, flavor: Flavor,
                others: set) -> cst.FunctionDef | None:
        if any(self.context.encloses(other, function) for other in others if other is not function):
            return None  # nested in another user: one session would hide the other
        if not isinstance(function.body, cst.IndentedBlock):
            return None
        if flavor is Flavor.ASYNC and not function.asynchronous:
            return None
        docstring, body = split_docstring(function.body.body)
        body = [s for s in body if not is_method_stmt(s, name, "close")]
        if not body or uses(body, name).escapes:
            return None
        first, *rest = body
        first = first.with_changes(leading_lines=[ln for ln in first.leading_lines if ln.comment])
        block = with_block(call, name, [first, *rest], asynchronous=flavor is Flavor.ASYNC)
        return function.with_changes(body=function.body.with_changes(body=[*docstring, block]))

    # -- helpers ---------------------------------------------------------------------
    def body_owner(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        """The function whose body holds `node` (not its signature or decorators)."""
        child, current = node, self.parent(node)
        while current is not None:
            if isinstance(current, cst.FunctionDef) and child is current.body:
                return current
            child, current = current, self.parent(current)
        return None

    def declared_global(self, name: str) -> bool:
        pattern = m.Global(names=[m.ZeroOrMore(), m.NameItem(name=m.Name(name)), m.ZeroOrMore()])
        return bool(m.findall(self.context.module, pattern))

    def imported_elsewhere(self, name: str) -> bool:
        root = search_roots(self.context.path, self.config.root)[0]
        own = Path(self.context.path).resolve()
        if not root.is_dir():
            return True
        return imported_elsewhere(root, self.context.module_name, name, own)
