"""SES001 manual-session: a session factory called by hand outside the session module."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from libcst.metadata import Assignment, ImportAssignment, ScopeProvider

from ..analysis import patterns as m
from ..analysis.codemod import (
    KEEPERS,
    SPAWNERS,
    add_import_alias,
    call_leaf,
    catches_everything,
    has_comment,
    helper_call,
    imported_at_top,
    is_method_stmt,
    is_rollback_reraise,
    place_imports,
    returns_failed_write,
    safe_to_manage,
    swallows_failed_write,
    swap_into,
    used_outside_block,
    uses,
    with_block,
    without_rollback,
)
from ..analysis.callee_behaviour import swallows_failed_writes
from ..diagnostics import Applicability, Fix, ImportSpec
from ..discovery import is_test_path
from ..analysis.fastapi import (
    add_dependency_param,
    is_route,
    is_websocket,
    parameter_names,
)
from ..analysis.names import dotted_name
from ..analysis.project import scan_roots
from ..analysis.project_imports import named_by_string
from ..analysis.session_sites import ManualSite, manual_session_site
from ..analysis.sessions import (
    Flavor,
    bound_to,
    enclosing_function,
    event_connection_session,
    factory_import_specs,
    helper_available,
    house_factory_call,
    local_import_of,
    manual_session_call,
    opens_session,
    request_state_session,
    wrapped_call,
    wrapper_body_call,
    yields_session,
)
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire:
# a call that may create a raw session by hand.
# session_lint/engine/screen.py skips LibCST for files without it; rules.screen_triggers() reads this line.
SCREEN_TRIGGERS = ("raw",)

DOCS = """\
## What it does
Checks for sessions created by calling a session factory by hand
(`SessionLocal()`, `AsyncSessionLocal()`, `Session(engine)`, `sessionmaker(...)()`,
`next(get_db())`, or a one-line wrapper returning one) outside the configured
`session-module`.

## Why is this bad?
A hand-made session must be committed, rolled back and closed by hand on every
path. Forgetting `close()` (or an exception before it) leaks a pooled
connection until the pool is exhausted; forgetting `rollback()` leaves the
connection in a failed transaction. The house conventions do this in one place:
`with get_db_session() as db:` (commit on success, rollback on error, always
close) in services and scripts, and `db: Session = Depends(get_db)` in routes.

## Example
```python
def rename_user(user_id: int, name: str) -> None:
    db = SessionLocal()
    try:
        db.get(User, user_id).name = name
        db.commit()
    except Exception:
        db.rollback()
        raise
    finally:
        db.close()
```

## Use instead
```python
def rename_user(user_id: int, name: str) -> None:
    with get_db_session() as db:
        db.get(User, user_id).name = name
        db.commit()
```
In a FastAPI route, the session comes from the dependency:
```python
@router.get("/users")
def list_users(db: Session = Depends(get_db)):
    return db.query(User).all()
```
A session made on its own engine (a local `sessionmaker(bind=engine)`,
`Session(engine)`) keeps it: the message advises its own block,
`with maker() as db, db.begin():`, never a house helper on another engine.

## Fix safety
The context manager commits when the block succeeds. The fix is safe only when
that cannot change what is committed: the block performs no writes, or it ends
in an explicit `commit()` on every success path. Otherwise it is unsafe (the
manager would commit what the old code discarded). A never-closed session gets
an unsafe fix whose block ends after the session's last use. Handlers that only
roll back and re-raise are dropped (the manager does that); handlers that roll
back before carrying on are kept. A session passed inline to a statement of its
own (`Repo(SessionLocal()).refresh()`) gets an unsafe scoped block.

No fix, only the report, when the fix could change which database or
transaction the code uses or what it holds open: a factory that is not the
configured one (a local `sessionmaker(...)`, `Session(engine)`, a test's own
factory, one reached through another module's attribute); a module whose factory
tests patch by name (`patch("app.reports.SessionLocal")`); a session used after
the proposed block, returned, stored (on `self`, in a container, a closure, a
thread or task) or given a value on another path; a handler that swallows a
failed write without rolling back; a handler that returns an error value after a
failed write (`except Exception: db.rollback(); return "Error"`) unless a
catch-all `try` encloses the block (the manager's commit at exit would raise
outside it); a session handed to project code (a function, or a service class
keeping it on `self`) that swallows its own failed commits without a rollback
(the manager's commit at exit would raise `PendingRollbackError` where `close()`
discarded the failed transaction); a block inside another session block; a
file whose imports depend on a `sys.path`/environment bootstrap the helper
import cannot follow. In routes the session is injected with `Depends(...)`
only when nothing slow follows its use (no `await`, loop or call after it, not
a websocket handler); otherwise the scoped block is used.

## Options
- `session-module`, `session-factories`, `async-session-factories`,
  `context-manager`, `async-context-manager`, `dependency`, `async-dependency`,
  `session-type`, `async-session-type`.

## References
- [SQLAlchemy: When do I construct a Session, when do I commit it, and when do I close it?](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#session-faq-whentocreate)
- [FastAPI: Dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
"""


# Methods whose call outlives the statement (a server, a thread, a scheduler): no scoped block.
LONG_RUNNING = SPAWNERS | {"start", "serve", "serve_forever", "run_forever", "run_until_complete", "start_polling"}


class ManualSession(Rule):
    code = "SES001"
    name = "manual-session"
    summary = "Session created by hand instead of the context manager or dependency"
    docs = DOCS
    fix_availability = "sometimes"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        "from core.database import get_db_session\n\nwith get_db_session() as db:\n    pass\n",
        "import boto3\n\nsession = boto3.Session()\n",
    )
    INVALID = (
        "from core.database import SessionLocal\n\ndef job():\n    db = SessionLocal()\n",
        "from sqlalchemy.orm import Session\n\ndef job(engine):\n    with Session(engine) as s:\n        pass\n",
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self.skip = context.in_module(self.config.session_module)

    def visit_Call(self, node: cst.Call) -> None:
        if self.skip:
            return
        flavor = manual_session_call(self.context, node)
        if not flavor or manual_session_site(self.context, node) is not ManualSite.OWN_UNIT_OF_WORK:
            return  # a shared session, or a second one beside an injected session: not a unit of work
        function = enclosing_function(self.context, node)
        if event_connection_session(self.context, node):
            return  # SQLAlchemy's documented pattern: a session on the event's own connection
        if request_state_session(self.context, node):
            return  # middleware providing each request's session
        if self.handed_over_factory(node):
            return  # `patch(..., side_effect=lambda: Session())`: a factory; its callers open the sessions
        if yields_session(self.context, node, self.session_name(node)):
            return  # a dependency / context manager providing sessions: creating one is its job
        wrapped = wrapped_call(self.context, node)
        if wrapped is not None and not house_factory_call(self.context, wrapped):
            # `def _fresh_session(engine): return sessionmaker(bind=engine)()`: the raw session of a
            # factory of its own is made in the wrapper's body, reported there (SPEC §3: SES001 is
            # anchored at the factory call); its callers get no fix either way.
            return
        wrapper = wrapper_body_call(self.context, node)
        if wrapper and house_factory_call(self.context, node) and m.findall(self.context.module, m.Call(func=m.Name(wrapper))):
            # `def get_session(): return SessionLocal()`: the configured factory under another name.
            # Each caller owns its session's life and is where the house helper can replace it.
            return
        code = self.context.module.code_for_node(node.func)
        self.report(node, f"manual session `{code}()`: {self.advice(node, flavor, function)}",
                    self.fix_for(node, flavor, function))

    def advice(self, call: cst.Call, flavor: Flavor, function: cst.FunctionDef | None) -> str:
        """What to use instead, naming a helper only when the project has it (advice to call a
        `get_db_session()` that does not exist sends users looking for it), and never one that would
        open the session on another engine (SPEC §4, as for the fix)."""
        sync = flavor is Flavor.SYNC
        if self.on_another_engine(call):
            return self.own_engine_advice(call, sync)
        config = self.config
        if function is not None and self.route(function) and not is_websocket(function):
            dotted, key = (config.dependency, "dependency") if sync else (config.async_dependency, "async-dependency")
            if helper_available(self.context, dotted):
                return f"inject it with `Depends({dotted.rpartition('.')[2]})`"
            return f"inject it with a dependency that yields a session ({self.missing(dotted, key)})"
        dotted, key = ((config.context_manager, "context-manager") if sync
                       else (config.async_context_manager, "async-context-manager"))
        if helper_available(self.context, dotted):
            return f"use `{'with' if sync else 'async with'} {dotted.rpartition('.')[2]}()`"
        return f"open it with a context manager that commits, rolls back and closes it ({self.missing(dotted, key)})"

    def own_engine_advice(self, call: cst.Call, sync: bool) -> str:
        """The session's own block: `with <call> as s, s.begin():` works for a session class and a
        factory alike, and keeps the engine (polar's scripts: `create_async_sessionmaker(engine)` on
        a script engine, where the worker's `AsyncSessionMaker` is not even set up)."""
        code = self.context.module.code_for_node(call)
        if "\n" in code or len(code) > 60:
            code = f"{self.context.module.code_for_node(call.func)}(...)"
        if isinstance(self.parent(call), cst.Await):  # prefect's `await db.session()`: the session, once awaited
            code = f"await {code}"
        name = self.session_name(call) or "session"
        return (f"use `{'with' if sync else 'async with'} {code} as {name}, {name}.begin():` "
                f"(it commits, rolls back and closes the session, on the engine it was made with)")

    def missing(self, dotted: str, key: str) -> str:
        module, _, leaf = dotted.rpartition(".")
        return f"none found: `{leaf}` is not defined in `{module or self.config.session_module}`; set `{key}`"

    def handed_over_factory(self, call: cst.Call) -> bool:
        """Is `call` the whole body of a lambda passed as an argument (`patch("app.jobs.SessionLocal",
        side_effect=lambda: TestSession())`, `Provider(db_factory=lambda: Session(bind=engine))`)? The
        lambda is a session factory handed to other code, like a `sessionmaker`: no session is opened
        here, and the code that calls it is where its sessions are (atom tests/test_pm_mvp.py:40)."""
        lam = self.parent(call)
        return (isinstance(lam, cst.Lambda) and lam.body is call
                and isinstance(self.parent(lam), cst.Arg))

    # -- fixes ----------------------------------------------------------------------
    def fix_for(self, call: cst.Call, flavor: Flavor, function: cst.FunctionDef | None) -> Fix | None:
        if self.on_another_engine(call):
            return None  # the house helpers would change the database
        if is_test_path(self.project_relative_path()):
            # Tests make sessions on purpose (fixtures, rollback-only checks, tests of the factory
            # itself: atom's test_resource_management_coverage); the house helper commits for real.
            return None
        if any(self.patched(spec.asname or (spec.obj or spec.module).split(".")[0])
               for spec in factory_import_specs(self.context, call)) or self.dependency_patched(call):
            # Tests patch this module's factory by name (atom: `patch("<module>.SessionLocal")`) to
            # hand it a test session; the house helper would open a real one behind their back.
            return None
        parent = self.parent(call)
        if isinstance(parent, cst.WithItem) and parent.item is call:
            return self.fix_with(call, parent, self.parent(parent), flavor, function)
        assign = bound_to(self.context, call)
        if (isinstance(assign, cst.Assign) and assign.value is call and len(assign.targets) == 1
                and isinstance(assign.targets[0].target, cst.Name)):
            line = self.parent(assign)
            block = self.parent(line)
            if isinstance(block, cst.IndentedBlock) and len(line.body) == 1:
                return self.fix_assign(call, assign.targets[0].target.value, line, block, flavor, function)
        line = self.inline_statement(call)
        if line is not None and function is not None and flavor is Flavor.SYNC:
            return self.fix_inline(call, line)
        return None

    def inline_statement(self, call: cst.Call) -> cst.SimpleStatementLine | None:
        """The statement `Repo(SessionLocal()).count()` when the session is an argument of a call whose
        result is only used by a method chain of a statement of its own (nothing keeps the result)."""
        arg = self.parent(call)
        node = self.parent(arg) if isinstance(arg, cst.Arg) and arg.value is call else None
        if not isinstance(node, cst.Call):
            return None
        while True:
            attribute = self.parent(node)
            outer = self.parent(attribute) if isinstance(attribute, cst.Attribute) else None
            if not (isinstance(outer, cst.Call) and outer.func is attribute and attribute.value is node):
                break
            node = outer
        expr = self.parent(node)
        line = self.parent(expr) if isinstance(expr, cst.Expr) and expr.value is node else None
        if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(
                self.parent(line), cst.IndentedBlock):
            return line
        return None

    def fix_inline(self, call: cst.Call, line: cst.SimpleStatementLine) -> Fix | None:
        """`Repo(SessionLocal()).count()` -> `with get_db_session() as db: Repo(db).count()`: the session
        lives exactly as long as the statement. Unsafe: the code it is handed to may write, which the
        manager commits (the old session was dropped without a commit)."""
        function = enclosing_function(self.context, call)
        receiver = self.parent(self.parent(call))
        leaves = {call_leaf(receiver.func), call_leaf(line.body[0].value.func)}
        if (has_comment(line.with_changes(leading_lines=())) or m.findall(line, m.Await())
                or leaves & (LONG_RUNNING | KEEPERS) or self.inside_session_block(self.parent(line))):
            return None  # the session would live as long as a server / thread / awaited task
        name = next((n for n in ("db", "session") if not m.findall(function, m.Name(n))), None)
        new_call, add = self.helper(call, Flavor.SYNC)
        if name is None or new_call is None:
            return None
        body = line.deep_replace(call, cst.Name(name)).with_changes(leading_lines=())
        new_with = with_block(new_call, name, [body], leading_lines=line.leading_lines)
        return self.fix(Applicability.UNSAFE, f"Use `with {self.context.module.code_for_node(new_call)} as {name}:`",
                        {line: new_with}, call, Flavor.SYNC, add)

    def fix_with(self, call, item: cst.WithItem, stmt: cst.With, flavor: Flavor, function) -> Fix | None:
        if (flavor is Flavor.ASYNC) != bool(stmt.asynchronous):
            return None
        name = item.asname.name.value if item.asname and isinstance(item.asname.name, cst.Name) else None
        body = stmt.body.body if isinstance(stmt.body, cst.IndentedBlock) else None
        if name is None or body is None or self.unsound_block(body, name, outer=self.parent(stmt)):
            return None
        applicability = Applicability.SAFE if safe_to_manage(body, name) else Applicability.UNSAFE
        if self.route_body(stmt, function) and not self.long_lived(function, stmt):
            if len(stmt.items) != 1 or has_comment(stmt.body.header) or has_comment(
                    cst.IndentedBlock(body=[], footer=stmt.body.footer)):
                return None
            moved = [*body]
            moved[0] = _prepend(moved[0], stmt.leading_lines)
            return self.route_fix(function, stmt, moved, name, flavor, call, applicability)
        new_call, add = self.helper(call, flavor)
        if new_call is None:
            return None
        return self.fix(applicability, f"Use `{self.context.module.code_for_node(new_call)}`",
                        {call: new_call}, call, flavor, add)

    def fix_assign(self, call, name: str, line, block: cst.IndentedBlock, flavor: Flavor, function) -> Fix | None:
        if has_comment(line.with_changes(leading_lines=())):
            return None
        if flavor is Flavor.ASYNC and not (function is not None and function.asynchronous):
            return None
        stmts = list(block.body)
        i = stmts.index(line)
        rest = stmts[i + 1:]
        k = next((j for j, s in enumerate(rest) if isinstance(s, cst.Try) and s.finalbody is not None
                  and any(is_method_stmt(f, name, "close") for f in s.finalbody.body.body)), None)
        closed_by_hand = k is not None
        if k is not None:
            managed = self.unwrap_try(rest[:k], rest[k], name)
            if managed is None:
                return None
            body, header, applicability, removed_lines = managed
            after = rest[k + 1:]
        else:
            closes = [j for j, s in enumerate(rest) if is_method_stmt(s, name, "close")]
            if closes:
                j = closes[0]
                if has_comment(rest[j]):
                    return None
                body, after = rest[:j], rest[j + 1:]
                applicability = (Applicability.SAFE if safe_to_manage(body, name) else Applicability.UNSAFE)
            else:
                # never closed: the block ends after the session's last use, so the statements
                # after it (often slow I/O: printing reports, HTTP calls) do not hold a connection
                last = max((j for j, s in enumerate(rest) if m.findall(s, m.Name(name))), default=len(rest) - 1)
                body, after = rest[:last + 1], rest[last + 1:]
                applicability = Applicability.UNSAFE  # never closed: the manager changes its fate
            closed_by_hand = bool(closes)
            header, removed_lines = cst.TrailingWhitespace(), []
        if not body or any(m.findall(s, m.Name(name)) for s in after):
            return None  # nothing to wrap, or used after it was closed
        scope = function if function is not None else self.context.module
        if (function is not None and name in parameter_names(function)) or used_outside_block(
                scope, name, line, rest[:len(rest) - len(after)]):
            return None  # another path gives it a value, or it is used beyond the block
        if self.mentions_close(body, name):
            return None  # closed somewhere inside: not a shape we rewrite
        if uses(body, name).escapes or self.unsound_block(body, name, outer=block):
            return None
        leading = [*line.leading_lines, *removed_lines]
        if (function is not None and block is function.body and self.route(function)
                and not self.long_lived(function, rest[len(rest) - len(after) - 1] if after else None)):
            if has_comment(header):
                return None
            moved = [*body]
            moved[0] = _prepend(_strip_blank(moved[0]), leading)
            return self.route_fix(function, None, [*stmts[:i], *moved, *after], name, flavor, call,
                                  applicability, whole_body=True)
        new_call, add = self.helper(call, flavor)
        if new_call is None:
            return None
        first, *others = body
        new_with = with_block(new_call, name, [_strip_blank(first), *others],
                              asynchronous=flavor is Flavor.ASYNC, leading_lines=leading, header=header)
        new_block = block.with_changes(body=[*stmts[:i], new_with, *after])
        what = "wrap the rest of the block in" if not closed_by_hand else "use"
        return self.fix(applicability, f"{what.capitalize()} `with {self.context.module.code_for_node(new_call)} "
                                       f"as {name}:`", {block: new_block}, call, flavor, add)

    def unwrap_try(self, before: list, trial: cst.Try, name: str):
        """`try: BODY [except] finally: name.close()` -> the statements the `with` should hold."""
        if trial.orelse is not None or not isinstance(trial.body, cst.IndentedBlock):
            return None
        handlers, swallowing_unsafe = [], False
        for handler in trial.handlers:
            if is_rollback_reraise(handler, name):
                if has_comment(handler):
                    return None
                continue
            kept = without_rollback(handler, name)
            handler_body = list(kept.body.body) if isinstance(kept.body, cst.IndentedBlock) else []
            reraises = bool(handler_body) and m.matches(handler_body[-1], m.SimpleStatementLine(body=[m.Raise()]))
            rolls_back = any(is_method_stmt(s, name, "rollback") for s in handler_body)
            if uses(handler_body, name).writes or not (reraises or rolls_back):
                swallowing_unsafe = True
            if kept is not handler and any(has_comment(s) for s in handler.body.body
                                           if is_method_stmt(s, name, "rollback")):
                return None
            handlers.append(kept)
        final = trial.finalbody
        rest_final = [s for s in final.body.body if not is_method_stmt(s, name, "close")]
        removed_close = [s for s in final.body.body if is_method_stmt(s, name, "close")]
        if rest_final and any(has_comment(s) for s in removed_close):
            return None
        if not rest_final and has_comment(final):
            return None
        inner = list(trial.body.body)
        header = trial.body.header
        if handlers or rest_final:
            new_final = final.with_changes(body=final.body.with_changes(body=rest_final)) if rest_final else None
            inner = [trial.with_changes(handlers=handlers, finalbody=new_final, leading_lines=[])]
            header = cst.TrailingWhitespace()
        safe = safe_to_manage([*before, *trial.body.body], name) and not swallowing_unsafe
        removed_lines = [] if before else [ln for ln in trial.leading_lines if ln.comment is not None]
        body = [*before, *inner]
        if before and any(ln.comment for ln in trial.leading_lines):
            body[len(before)] = _prepend(body[len(before)], trial.leading_lines)
        return body, header, Applicability.SAFE if safe else Applicability.UNSAFE, removed_lines

    def route_fix(self, function: cst.FunctionDef, stmt, new_body: list, name: str, flavor: Flavor,
                  call: cst.Call, applicability: Applicability, whole_body: bool = False) -> Fix | None:
        dependency = self.config.async_dependency if flavor is Flavor.ASYNC else self.config.dependency
        if name in parameter_names(function) or not helper_available(self.context, dependency):
            return None
        if not whole_body:
            stmts = list(function.body.body)
            i = stmts.index(stmt)
            new_body = [*stmts[:i], *new_body, *stmts[i + 1:]]
        params, imports = add_dependency_param(self.context, function, name, flavor)
        new_function = function.with_changes(params=params, body=function.body.with_changes(body=new_body))
        placed = place_imports(self.context.module, {function: new_function}, imports)
        if placed is None:
            return None
        replacements, imports = placed
        return Fix(applicability, f"Inject the session: `{name} = Depends({dependency.rpartition('.')[2]})`",
                   replacements, add_imports=imports, remove_imports=self.factory_imports(call))

    # -- helpers --------------------------------------------------------------------
    def on_another_engine(self, call: cst.Call) -> bool:
        """Is the session made on another engine or connection than the house helpers' (a local
        `sessionmaker(...)`, `Session(engine)`, a factory this file assigns or reaches through another
        module's attribute)? Neither the fix nor the advice may swap it for them."""
        return (not house_factory_call(self.context, call) or self.assigned_factory(call)
                or self.foreign_attribute(call))

    def assigned_factory(self, call: cst.Call) -> bool:
        """Is the factory a name this file assigns (`SessionLocal = sessionmaker(bind=test_engine)`,
        `engine, SessionLocal = make_test_db()`) rather than imports? The house helper would open a
        session on another database."""
        func = call.func
        if not isinstance(func, cst.Name):
            return False
        scope = self.get_metadata(ScopeProvider, func, None)
        return scope is not None and any(
            isinstance(a, Assignment) and not isinstance(a, ImportAssignment)
            and not isinstance(a.node, (cst.FunctionDef, cst.ClassDef)) for a in scope[func.value])

    def foreign_attribute(self, call: cst.Call) -> bool:
        """`tfe.SessionLocal()`: the factory reached through another module's attribute, which its tests
        replace (`monkeypatch.setattr(tfe, "SessionLocal", ...)`) with a session on a test database."""
        func = call.func
        return isinstance(func, cst.Attribute) and not any(
            q == self.config.session_module or self.config.session_module.endswith("." + q)
            for q in self.qualified_names(func.value))

    def unsound_block(self, body: list, name: str, outer: cst.CSTNode) -> bool:
        """Would `with <helper>() as name:` around `body` be wrong whatever else holds? A handler
        swallowing a failed write (the manager's commit at exit then fails or commits what the old
        code discarded), or a session block around it (SPEC §4: never nest session blocks)."""
        return (swallows_failed_write(body, name) or self.inside_session_block(outer)
                or (returns_failed_write(body, name) and not self.caught_outside(outer))
                or self.handed_to_swallower(body, name))

    def caught_outside(self, node: cst.CSTNode | None) -> bool:
        """Is `node` inside the body of a `try` (in this function) that catches every exception? Code
        that turns failed writes into return values (atom's tools: `except Exception: db.rollback();
        return "Error ..."`) must not start raising from the manager's commit at exit; an outer
        catch-all keeps the function's no-raise contract (under its tests' failing mocks too)."""
        child = None
        while node is not None and not isinstance(node, (cst.FunctionDef, cst.Lambda, cst.Module)):
            if isinstance(node, cst.Try) and child is node.body and catches_everything(node):
                return True
            child, node = node, self.parent(node)
        return False

    def handed_to_swallower(self, body: list, name: str) -> bool:
        """Is the session handed to project code (a function, or a service class keeping it on `self`)
        that swallows its failed writes without a rollback? The manager's commit at exit would then
        raise `PendingRollbackError` where the old `close()` discarded the failed transaction."""
        roots = self.project_roots()
        for call in (c for s in body for c in m.findall(s, m.Call())):
            for i, arg in enumerate(call.args):
                if not (isinstance(arg.value, cst.Name) and arg.value.value == name):
                    continue
                keyword = arg.keyword.value if arg.keyword is not None else None
                position = None if keyword is not None else i
                if any(swallows_failed_writes(q, position, keyword, roots) for q in self.qualified_names(call.func)):
                    return True
        return False

    def inside_session_block(self, node: cst.CSTNode | None) -> bool:
        while node is not None and not isinstance(node, (cst.FunctionDef, cst.Lambda, cst.Module)):
            if isinstance(node, cst.With) and any(opens_session(self.context, item.item) for item in node.items):
                return True
            node = self.parent(node)
        return False

    def long_lived(self, function: cst.FunctionDef, last: cst.CSTNode | None) -> bool:
        """Would an injected session be held much longer than the old one? A websocket handler lives as
        long as its connection; after `last` (the statement that ended the old session) any await,
        loop or call may take long while the request's session still holds its connection."""
        if is_websocket(function):
            return True
        if last is None:
            return False
        stmts = list(function.body.body)
        after = stmts[stmts.index(last) + 1:] if last in stmts else []
        slow = m.Await() | m.For() | m.While() | m.With() | m.Call()
        return any(m.findall(s, slow) for s in after)

    def route(self, function: cst.FunctionDef) -> bool:
        return is_route(self.context, function)

    def route_body(self, stmt: cst.CSTNode, function: cst.FunctionDef | None) -> bool:
        return function is not None and self.parent(stmt) is function.body and self.route(function)

    @staticmethod
    def mentions_close(body: list, name: str) -> bool:
        close = m.Call(func=m.Attribute(value=m.Name(name), attr=m.Name("close")))
        return any(m.findall(s, close) for s in body)

    def session_name(self, call: cst.Call) -> str | None:
        parent = self.parent(call)
        if isinstance(parent, cst.WithItem) and parent.asname and isinstance(parent.asname.name, cst.Name):
            return parent.asname.name.value
        binding = bound_to(self.context, call)
        if isinstance(binding, cst.Assign) and isinstance(binding.targets[0].target, cst.Name):
            return binding.targets[0].target.value
        if isinstance(binding, cst.AnnAssign) and isinstance(binding.target, cst.Name):
            return binding.target.value  # `db: Session = TestSession()`
        return None

    def fix(self, applicability, message, replacements, call, flavor, add) -> Fix | None:
        placed = self.place_helper_import(replacements, call, add)
        if placed is None:
            return None
        replacements, add = placed
        return Fix(applicability, message, replacements, add_imports=add,
                   remove_imports=self.factory_imports(call))

    def place_helper_import(self, replacements: dict, call: cst.Call, add: tuple[ImportSpec, ...]):
        """The helper joins the statement that imports the factory (`from core.database import
        SessionLocal` gains `get_db_session`): a function-local import may avoid an import cycle, and a
        module-level one may come after the file set up `sys.path` or the environment."""
        node = self.factory_import_node(call.func)
        if not add or node is None or node.relative or dotted_name(node.module) != add[0].module:
            return place_imports(self.context.module, replacements, add)
        if enclosing_function(self.context, node) is None and imported_at_top(self.context.module, add[0]):
            return replacements, ()  # an earlier round added it
        return swap_into(dict(replacements), node, add_import_alias(node, add[0].obj)), ()

    def factory_import_node(self, func: cst.CSTNode) -> cst.ImportFrom | None:
        """The `from m import Factory` (module-level or function-local) that binds the factory name."""
        local = local_import_of(self.context, func)
        if local is not None or not isinstance(func, cst.Name):
            return local
        scope = self.get_metadata(ScopeProvider, func, None)
        nodes = [a.node for a in (scope[func.value] if scope is not None else ())
                 if isinstance(a, ImportAssignment) and isinstance(a.node, cst.ImportFrom)]
        return nodes[0] if len(nodes) == 1 and not isinstance(nodes[0].names, cst.ImportStar) else None

    def helper(self, call: cst.Call, flavor: Flavor) -> tuple[cst.Call | None, tuple[ImportSpec, ...]]:
        """`get_db_session()` (or `database.get_db_session()` when the factory was reached that way);
        None when the helper is not known to exist in the project."""
        config = self.config
        dotted = config.async_context_manager if flavor is Flavor.ASYNC else config.context_manager
        if not helper_available(self.context, dotted):
            return None, ()
        alias = None
        func = call.func
        if (isinstance(func, cst.Attribute) and "." not in dotted
                and config.session_module in self.qualified_names(func.value)):
            alias = func.value
        new_call, spec = helper_call(dotted, self.session_module_spelling(call), alias)
        return new_call, (spec,) if spec else ()

    def session_module_spelling(self, call: cst.Call) -> str:
        """The session module as this file imports the factory from it: `core.database` when the
        configuration says `backend.core.database` but the file runs with `backend/` on its path
        (importing the other spelling would load a second module, with its own engine)."""
        configured = self.config.session_module
        for spec in factory_import_specs(self.context, call):
            module = spec.module
            if spec.obj is not None and not module.startswith(".") and (
                    module == configured or configured.endswith("." + module) or module.endswith("." + configured)):
                return module
        return configured

    def project_relative_path(self) -> str:
        """This file's path below the configuration's root (the whole path when outside it)."""
        path = Path(self.context.path).resolve()
        root = self.config.root
        try:
            return path.relative_to(Path(root).resolve()).as_posix() if root else path.as_posix()
        except ValueError:
            return path.as_posix()

    def factory_imports(self, call: cst.Call) -> tuple[ImportSpec, ...]:
        return factory_import_specs(self.context, call)

    def dependency_patched(self, call: cst.Call) -> bool:
        """`next(get_db())` where tests patch `core.database.get_db` (atom's enterprise auth tests
        hand it a mock): the house context manager does not go through the dependency."""
        if dotted_name(call.func) != "next" or not call.args or not isinstance(call.args[0].value, cst.Call):
            return False
        module, _, leaf = self.config.dependency.rpartition(".")
        module = module or self.config.session_module
        roots = scan_roots(self.context.path, self.config.root)
        return any(named_by_string(root, module, leaf) for root in roots if root.is_dir())

    def patched(self, name: str) -> bool:
        roots = scan_roots(self.context.path, self.config.root)
        return any(named_by_string(root, self.context.module_name, name) for root in roots if root.is_dir())


def _prepend(stmt: cst.BaseStatement, lines) -> cst.BaseStatement:
    return stmt.with_changes(leading_lines=[*lines, *stmt.leading_lines]) if lines else stmt


def _strip_blank(stmt: cst.BaseStatement) -> cst.BaseStatement:
    """Drop blank lines before the first statement of a new block (comment lines stay)."""
    return stmt.with_changes(leading_lines=[ln for ln in stmt.leading_lines if ln.comment is not None])
