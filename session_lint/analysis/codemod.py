"""Block-rewrite helpers for fixes that move statements in and out of session blocks.

Pure functions on LibCST nodes (no metadata): what a block does with a session
(writes, commits, closes), whether a rewrite would drop a comment, renaming a
name inside statements, and building `with`/`async with` statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import libcst as cst

from . import patterns as m
from ..diagnostics import ImportSpec
from .knowledge import ROLLS_BACK, TOUCHES_SESSION, handler_swallows_failure
from .names import dotted_name
from .walk import visit_read_only

# Session methods that change what the next commit writes.
WRITE_METHODS = frozenset({
    "add", "add_all", "delete", "merge", "flush", "execute", "bulk_save_objects",
    "bulk_insert_mappings", "bulk_update_mappings", "update", "insert",
})
# Calls that hand their arguments to code running later or elsewhere (a session passed to one outlives
# the block), and container methods that keep their argument.
SPAWNERS = frozenset({
    "Thread", "Process", "Timer", "create_task", "ensure_future", "submit", "run_in_executor",
    "start_soon", "start_new_thread", "apply_async", "delay", "spawn", "call_soon", "call_later",
    "add_task", "add_job",
})
KEEPERS = frozenset({"append", "appendleft", "extend", "insert", "add", "put", "put_nowait", "setdefault",
                     "update", "push"})
# Statements that leave a block other than by falling off its end or raising.
_EXITS = (cst.Return, cst.Break, cst.Continue)
_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def has_comment(node: cst.CSTNode) -> bool:
    return bool(m.findall(node, m.Comment()))


def root_name(expr: cst.BaseExpression) -> str | None:
    """`db` for `db.query(X).filter(...).delete`."""
    while True:
        if isinstance(expr, cst.Name):
            return expr.value
        if isinstance(expr, cst.Attribute):
            expr = expr.value
        elif isinstance(expr, cst.Call):
            expr = expr.func
        elif isinstance(expr, cst.Subscript):
            expr = expr.value
        else:
            return None


class _Uses(cst.CSTVisitor):
    """Collects what a subtree does with the session called `name`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.writes = False  # a write method, an attribute assignment, or the session handed to a call
        self.exits = False  # a return/break/continue leaving the block (not inside a nested loop)
        self.yields = False
        self.escapes = False  # returned, yielded, stored, captured or handed to a thread/task: it outlives the block
        self.loops = 0

    def _captured(self, node: cst.CSTNode) -> bool:
        """A nested function, lambda or generator expression that sees the session may run after the block."""
        self.escapes = self.escapes or bool(m.findall(node, m.Name(self.name)))
        return False

    def visit_FunctionDef(self, node) -> bool:
        return self._captured(node.body)

    def visit_ClassDef(self, node) -> bool:
        return self._captured(node.body)

    def visit_Lambda(self, node) -> bool:
        return self._captured(node.body)

    def visit_GeneratorExp(self, node) -> bool:
        return self._captured(node)

    def visit_For(self, node) -> None:
        self.loops += 1

    def leave_For(self, node) -> None:
        self.loops -= 1

    def visit_While(self, node) -> None:
        self.loops += 1

    def leave_While(self, node) -> None:
        self.loops -= 1

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (isinstance(func, cst.Attribute) and func.attr.value in WRITE_METHODS
                and root_name(func.value) == self.name):
            self.writes = True
        # handed to another function: it may write through it
        if any(m.matches(arg.value, m.Name(self.name)) for arg in node.args):
            self.writes = True
            if isinstance(func, cst.Attribute) and func.attr.value in KEEPERS and root_name(func.value) != self.name:
                self.escapes = True  # `sessions.append(db)`
        if call_leaf(func) in SPAWNERS and any(m.findall(arg, m.Name(self.name)) for arg in node.args):
            self.escapes = True  # `Thread(target=f, args=(db,))`, `create_task(work(db))`

    def _assigned(self, targets: Sequence[cst.BaseExpression], value) -> None:
        if any(m.findall(t, m.Attribute() | m.Subscript()) for t in targets):
            self.writes = True  # attribute assignment on a loaded object
        if value is not None and m.matches(value, m.Name(self.name)):
            self.escapes = True  # aliased or stored somewhere
        if value is not None and any(m.matches(t, m.Attribute() | m.Subscript()) for t in targets) \
                and _mentions(value, self.name):
            self.escapes = True  # `self.repo = Repo(db)`, `cache[k] = (db, x)`

    def visit_Assign(self, node: cst.Assign) -> None:
        self._assigned([t.target for t in node.targets], node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._assigned([node.target], node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._assigned([node.target], None)

    def visit_Del(self, node: cst.Del) -> None:
        if m.findall(node.target, m.Attribute() | m.Subscript()):
            self.writes = True

    def visit_Return(self, node: cst.Return) -> None:
        self.exits = True
        if node.value is not None and _mentions(node.value, self.name):
            self.escapes = True

    def visit_Break(self, node) -> None:
        self.exits = self.exits or self.loops == 0

    def visit_Continue(self, node) -> None:
        self.exits = self.exits or self.loops == 0

    def visit_Yield(self, node: cst.Yield) -> None:
        self.yields = True
        self.escapes = True  # a generator keeps the block open while its consumer does anything

    def visit_Element(self, node: cst.Element) -> None:
        if m.matches(node.value, m.Name(self.name)):
            self.escapes = True  # `[db]`, `(db, x)`: kept in a container

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if m.matches(node.value, m.Name(self.name)):
            self.escapes = True


def call_leaf(func: cst.BaseExpression) -> str | None:
    """`start` for `worker.start(...)`, `Thread` for `threading.Thread(...)`."""
    return func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)


def _mentions(node: cst.CSTNode, name: str) -> bool:
    """Does the value hand out the session itself (`db`, `(db, x)`, `Repo(db)`), not just a result of it?"""
    session = m.Name(name)
    return (m.matches(node, session) or bool(m.findall(node, m.Element(value=session)))
            or bool(m.findall(node, m.Arg(value=session))))


def uses(nodes: Sequence[cst.CSTNode], name: str) -> _Uses:
    visitor = _Uses(name)
    for node in nodes:
        visit_read_only(node, visitor)
    return visitor


class _UsesOutside(cst.CSTVisitor):
    """Walks a scope in source order and notes whether `name` is used where a new block around
    `inside` would not cover it: after the opening statement, or before it in a loop around it."""

    def __init__(self, name: str, opening: cst.CSTNode, inside: Sequence[cst.CSTNode], scope: cst.CSTNode) -> None:
        self.name, self.opening, self.inside, self.scope = name, opening, set(map(id, inside)), scope
        self.passed_opening = False
        self.used_before = False
        self.loops = 0
        self.opening_in_loop = False
        self.found = False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is self.opening:
            self.passed_opening, self.opening_in_loop = True, self.loops > 0
            return False
        if id(node) in self.inside:
            return False
        if isinstance(node, (cst.For, cst.While)):
            self.loops += 1
        if isinstance(node, cst.Name) and node.value == self.name:
            if self.passed_opening:
                self.found = True
            else:
                self.used_before = True
        return not self.found

    def on_leave(self, node: cst.CSTNode) -> None:
        if isinstance(node, (cst.For, cst.While)) and node is not self.opening and id(node) not in self.inside:
            self.loops -= 1


def used_outside_block(scope: cst.CSTNode, name: str, opening: cst.CSTNode,
                       inside: Sequence[cst.CSTNode]) -> bool:
    """Would a block made of `opening` (the statement binding the session) and `inside` leave a use
    of `name` out? Any use after the opening statement (in the same scope, at any depth: `if db is
    None: db = SessionLocal()` and `db.query()` below it), or a use before it when a loop repeats it."""
    visitor = _UsesOutside(name, opening, inside, scope)
    visit_read_only(scope, visitor)
    return visitor.found or (visitor.used_before and visitor.opening_in_loop)


def writes(nodes: Sequence[cst.CSTNode], name: str) -> bool:
    return uses(nodes, name).writes


def is_method_stmt(stmt: cst.CSTNode, name: str, method: str) -> bool:
    """`name.method()` (or `await name.method()`) as a statement of its own."""
    call = m.Call(func=m.Attribute(value=m.Name(name), attr=m.Name(method)), args=[])
    return m.matches(stmt, m.SimpleStatementLine(body=[m.Expr(value=call | m.Await(expression=call))]))


def commits_on_every_path(stmts: Sequence[cst.BaseStatement], name: str) -> bool:
    """Does the block end in `name.commit()` with no way out before it and no write after it?"""
    last = max((i for i, s in enumerate(stmts) if is_method_stmt(s, name, "commit")), default=None)
    if last is None:
        return False
    before, after = uses(stmts[:last], name), uses(stmts[last + 1:], name)
    return not before.exits and not before.yields and not after.writes


def safe_to_manage(stmts: Sequence[cst.BaseStatement], name: str) -> bool:
    """Can a manager that commits on success take over without changing what is committed?"""
    return not writes(stmts, name) or commits_on_every_path(stmts, name)


def _reraises(handler: cst.ExceptHandler) -> bool:
    body = handler.body.body if isinstance(handler.body, cst.IndentedBlock) else ()
    return bool(body) and m.matches(body[-1], m.SimpleStatementLine(body=[m.Raise()]))


def _touches_transaction(stmts: Sequence[cst.CSTNode], name: str) -> bool:
    """Writes through the session, or commits / flushes it."""
    ends = m.Call(func=m.Attribute(value=m.Name(name), attr=m.Name("commit") | m.Name("flush")))
    return writes(stmts, name) or any(m.findall(s, ends) for s in stmts)


def swallows_failed_write(stmts: Sequence[cst.BaseStatement], name: str) -> bool:
    """Is there a `try` around writes / commit on the session with a handler that swallows the error
    without first rolling back? In a manager that commits at exit, a failed flush then raises
    `PendingRollbackError` there (and kills the loop around it), and a non-database error commits
    what the old code discarded. A handler that rolls back before touching the session leaves it clean."""
    for trial in (t for s in stmts for t in m.findall(s, m.Try())):
        if not _touches_transaction(list(trial.body.body) if isinstance(trial.body, cst.IndentedBlock) else [],
                                    name):
            continue
        if any(handler_swallows_failure(_reraises(handler), _handler_steps(handler, name))
               for handler in trial.handlers):
            return True
    return False


def returns_failed_write(stmts: Sequence[cst.BaseStatement], name: str) -> bool:
    """Is there a `try` around writes / commit on the session with a handler that returns instead of
    raising (`except Exception: db.rollback(); return "Error"`)? The function reports a failed write
    as its return value; a manager's commit at exit would run outside that handler and raise (atom's
    tests make `commit` fail and expect the error string). A handler that carries on (a loop skipping
    a row) has no such contract."""
    for trial in (t for s in stmts for t in m.findall(s, m.Try())):
        body = list(trial.body.body) if isinstance(trial.body, cst.IndentedBlock) else []
        if _touches_transaction(body, name) and any(not _reraises(h) and m.findall(h, m.Return())
                                                    for h in trial.handlers):
            return True
    return False


def catches_everything(trial: cst.Try) -> bool:
    """A handler for any exception: bare `except:`, `except Exception` / `BaseException` (or a tuple with one)."""
    catch_all = m.Name("Exception") | m.Name("BaseException")
    return any(h.type is None or m.matches(h.type, catch_all)
               or (isinstance(h.type, cst.Tuple) and any(m.matches(e.value, catch_all) for e in h.type.elements))
               for h in trial.handlers)


def _handler_steps(handler: cst.ExceptHandler, name: str):
    """knowledge.handler_swallows_failure's reading of each statement: a `name.rollback()` statement
    rolls back; any other mention of `name` touches the session (logging first is fine)."""
    for stmt in handler.body.body if isinstance(handler.body, cst.IndentedBlock) else ():
        if is_method_stmt(stmt, name, "rollback"):
            yield ROLLS_BACK
        elif m.findall(stmt, m.Name(name)):
            yield TOUCHES_SESSION
        else:
            yield None


def is_rollback_reraise(handler: cst.ExceptHandler, name: str) -> bool:
    """`except ...: name.rollback(); raise` — exactly what the context manager does."""
    body = handler.body.body if isinstance(handler.body, cst.IndentedBlock) else ()
    if len(body) != 2 or not is_method_stmt(body[0], name, "rollback"):
        return False
    return m.matches(body[1], m.SimpleStatementLine(body=[m.Raise(exc=None)]))


def without_rollback(handler: cst.ExceptHandler, name: str) -> cst.ExceptHandler | None:
    """The handler minus its `name.rollback()` when it re-raises (the manager rolls back);
    None when it swallows the error (the rollback must stay)."""
    body = list(handler.body.body) if isinstance(handler.body, cst.IndentedBlock) else []
    if not body or not m.matches(body[-1], m.SimpleStatementLine(body=[m.Raise()])):
        return handler
    if not any(is_method_stmt(s, name, "rollback") for s in body):
        return handler
    kept = [s for s in body if not is_method_stmt(s, name, "rollback")]
    return handler.with_changes(body=handler.body.with_changes(body=kept))


class _Rename(cst.CSTTransformer):
    def __init__(self, old: str, new: str) -> None:
        super().__init__()
        self.old, self.new = old, new

    def leave_Name(self, original, updated):
        return updated.with_changes(value=self.new) if original.value == self.old else updated

    def leave_Attribute(self, original, updated):
        return updated.with_changes(attr=original.attr)  # `x.old` is not the variable

    def leave_Arg(self, original, updated):
        return updated.with_changes(keyword=original.keyword)  # nor is `f(old=...)`


def rename(stmts: Sequence[cst.BaseStatement], old: str, new: str) -> list[cst.BaseStatement]:
    if old == new:
        return list(stmts)
    return [s.visit(_Rename(old, new)) for s in stmts]


def with_block(call: cst.BaseExpression, name: str, body: Sequence[cst.BaseStatement], *,
               asynchronous: bool = False, leading_lines: Sequence[cst.EmptyLine] = (),
               header: cst.TrailingWhitespace | None = None) -> cst.With:
    block = cst.IndentedBlock(body=list(body), header=header or cst.TrailingWhitespace())
    return cst.With(
        items=[cst.WithItem(item=call, asname=cst.AsName(name=cst.Name(name)))],
        body=block,
        asynchronous=cst.Asynchronous() if asynchronous else None,
        leading_lines=list(leading_lines),
    )


def helper_call(dotted: str, default_module: str, module_alias: cst.BaseExpression | None = None,
                ) -> tuple[cst.Call, ImportSpec | None]:
    """A call of a configured helper (`get_db_session()`), and the import it needs.

    `module_alias`: an expression already naming the session module in this file
    (`database` for `import core.database as database`); then no import is added.
    """
    module, _, leaf = dotted.rpartition(".")
    if module_alias is not None:
        return cst.Call(func=cst.Attribute(value=module_alias, attr=cst.Name(leaf))), None
    return cst.Call(func=cst.Name(leaf)), ImportSpec(module or default_module, leaf)


def name_import(dotted: str, default_module: str) -> tuple[cst.Name, ImportSpec]:
    module, _, leaf = dotted.rpartition(".")
    return cst.Name(leaf), ImportSpec(module or default_module, leaf)


def prepend_leading_lines(stmt: cst.BaseStatement, lines: Sequence[cst.EmptyLine]) -> cst.BaseStatement:
    return stmt.with_changes(leading_lines=[*lines, *stmt.leading_lines]) if lines else stmt


def block_statements(node: cst.BaseSuite) -> list[cst.BaseStatement] | None:
    return list(node.body) if isinstance(node, cst.IndentedBlock) else None


def split_docstring(stmts: Sequence[cst.BaseStatement]) -> tuple[list, list]:
    if stmts and m.matches(stmts[0], m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString()
                                                                       | m.ConcatenatedString())])):
        return [stmts[0]], list(stmts[1:])
    return [], list(stmts)


class _ReplaceByIdentity(cst.CSTTransformer):
    def __init__(self, old: cst.CSTNode, new: cst.CSTNode) -> None:
        super().__init__()
        self.old, self.new, self.found = old, new, False

    def on_leave(self, original_node, updated_node):
        if original_node is self.old:
            self.found = True
            return self.new
        return updated_node


def swap_into(replacements: dict, old: cst.CSTNode, new: cst.CSTNode) -> dict:
    """Replace `old` by `new`: inside a replacement that already contains it, else on its own."""
    result = {}
    found = False
    for key, value in replacements.items():
        if isinstance(value, cst.CSTNode) and not found:
            swapper = _ReplaceByIdentity(old, new)
            value = value.visit(swapper)
            found = swapper.found
        elif isinstance(value, cst.FlattenSentinel) and not found:
            nodes = []
            for node in value.nodes:
                swapper = _ReplaceByIdentity(old, new)
                nodes.append(node.visit(swapper))
                found = found or swapper.found
            value = cst.FlattenSentinel(nodes)
        result[key] = value
    if not found:
        result[old] = new
    return result


def add_import_alias(node: cst.ImportFrom, name: str) -> cst.ImportFrom:
    """`from m import a` -> `from m import a, name` (unless already there)."""
    names = list(node.names)
    if any(isinstance(a.name, cst.Name) and a.name.value == name and a.asname is None for a in names):
        return node
    last = names[-1]
    trailing = last.comma
    names[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                                  if not isinstance(trailing, cst.Comma) else trailing)
    names.append(cst.ImportAlias(name=cst.Name(name),
                                 comma=cst.MaybeSentinel.DEFAULT if not isinstance(trailing, cst.Comma)
                                 else trailing))
    return node.with_changes(names=names)


# -- imports below a `sys.path` bootstrap ------------------------------------------------------
@lru_cache(maxsize=None)
def _bootstrap():
    """What edits `sys.path` or the environment before imports (built on first use: see `m`)."""
    path_edit = m.Call(func=m.Attribute(value=m.Attribute(value=m.Name("sys"), attr=m.Name("path")),
                                        attr=m.Name("insert") | m.Name("append") | m.Name("extend"))
                        | m.Attribute(value=m.Name("site"), attr=m.Name("addsitedir")))
    path_assign = m.AssignTarget(target=m.Attribute(value=m.Name("sys"), attr=m.Name("path"))
                                  | m.Subscript(value=m.Attribute(value=m.Name("sys"), attr=m.Name("path"))))
    env_edit = (m.Call(func=m.Name("load_dotenv") | m.Attribute(attr=m.Name("load_dotenv"))
                        | m.Attribute(value=m.Attribute(value=m.Name("os"), attr=m.Name("environ")),
                                      attr=m.Name("setdefault") | m.Name("update")))
                 | m.AssignTarget(target=m.Subscript(value=m.Attribute(value=m.Name("os"), attr=m.Name("environ")))))
    return path_edit | path_assign | env_edit


def imported_at_top(module: cst.Module, spec: ImportSpec) -> bool:
    for stmt in module.body:
        for small in (stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ()):
            if (spec.obj is not None and isinstance(small, cst.ImportFrom) and not small.relative
                    and not isinstance(small.names, cst.ImportStar) and dotted_name(small.module) == spec.module
                    and any(dotted_name(a.name) == spec.obj and _asname(a) == spec.asname for a in small.names)):
                return True
            if spec.obj is None and isinstance(small, cst.Import) and any(
                    dotted_name(a.name) == spec.module and _asname(a) == spec.asname for a in small.names):
                return True
    return False


def _asname(alias: cst.ImportAlias) -> str | None:
    return alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else None


def place_imports(module: cst.Module, replacements: dict, add: Sequence[ImportSpec],
                  ) -> tuple[dict, tuple[ImportSpec, ...]] | None:
    """A fix's new imports, when they cannot join the statement that imported the factory. LibCST's
    AddImportsVisitor puts them at the top of the file, which is wrong when the file first sets up
    `sys.path` (`sys.path.insert(...)`, `site.addsitedir(...)`) or the environment the session module
    reads at import (`os.environ[...] = ...`, `load_dotenv()`): then None (no fix)."""
    if add and any(not imported_at_top(module, spec) for spec in add) and any(
            m.findall(stmt, _bootstrap()) for stmt in module.body if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef))):
        return None
    return replacements, tuple(add)
