"""The statement interpreter: walks a function body in execution order, branches analysed
separately and joined, loops walked once, and hands each expression to the parts that know
what it loads (loads.py), what it does to a session (events.py) and whether it uses something
closed (uses.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import libcst as cst

from ..pytest_fixtures import SESSION, fixture_parameters
from ..sessions import (
    is_session_annotation,
    raw_session_call,
    session_block_opening,
    session_expires_on_commit,
)
from .events import SessionEvents
from .loads import QueryLoads
from .results import Analysis
from .state import Closure, FlowState, SessionState, join_states
from .syntax import leaf_name, names_in_target, strip_await, walk_nodes
from .uses import UsesAfterClose

if TYPE_CHECKING:
    from ..models import ModelRegistry
    from ..model import FileModel

# Calls that read every column of the object they are given (pydantic / SQLModel).
OBJECT_READERS = frozenset({"model_validate", "from_orm", "parse_obj", "validate"})


class FlowAnalysis(QueryLoads, SessionEvents, UsesAfterClose):
    """Walks one function body (or a module's top-level code) in execution order with a FlowState."""

    def __init__(self, file: FileModel, models: Callable[[], ModelRegistry]) -> None:
        self.file = file  # resolves names and positions through its metadata (sessions.py asks it)
        self.expire_on_commit = file.config.expire_on_commit
        self._models = models
        self._registry: ModelRegistry | None = None
        self.result = Analysis()
        self.loops: list[list[FlowState]] = []
        self.reported: set = set()

    @property
    def models(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = self._models()
        return self._registry

    # -- entry points --------------------------------------------------------------
    def run_function(self, node: cst.FunctionDef) -> Analysis:
        state = FlowState()
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            ann = param.annotation.annotation if param.annotation else None
            if is_session_annotation(self.file, ann):
                state.sessions[param.name.value] = SessionState(expires=self.expire_on_commit)
        for name, provided in fixture_parameters(self.file, node).items():  # pytest fixtures
            expires = self.expire_on_commit if provided.expires is None else provided.expires
            if provided.kind == SESSION:
                state.sessions[name] = SessionState(expires=expires)
            else:
                state.factories[name] = expires
        self.block(node.body, state)
        return self.result

    def run_module(self, node: cst.Module) -> Analysis:
        self.statements(node.body, FlowState())
        return self.result

    # -- statements -------------------------------------------------------------------
    def block(self, suite: cst.BaseSuite, state: FlowState) -> FlowState | None:
        return self.statements(suite.body, state)

    def statements(self, body: Iterable[cst.CSTNode], state: FlowState | None) -> FlowState | None:
        for stmt in body:
            if state is None:
                return None  # unreachable
            state = self.statement(stmt, state)
        return state

    def statement(self, node: cst.CSTNode, state: FlowState) -> FlowState | None:
        if isinstance(node, cst.SimpleStatementLine):
            return self.statements(node.body, state)
        handler = getattr(self, "stmt_" + type(node).__name__, None)
        if handler is not None:
            return handler(node, state)
        for child in node.children:  # anything else: evaluate the expressions it holds
            if isinstance(child, cst.BaseExpression):
                self.expr(child, state)
        return state

    def stmt_Expr(self, node: cst.Expr, state: FlowState) -> FlowState:
        self.expr(node.value, state)
        return state

    def stmt_Assign(self, node: cst.Assign, state: FlowState) -> FlowState:
        self.expr(node.value, state)
        for target in node.targets:
            self.assign(target.target, node.value, state)
        return state

    def stmt_AnnAssign(self, node: cst.AnnAssign, state: FlowState) -> FlowState:
        if node.value is not None:
            self.expr(node.value, state)
            self.assign(node.target, node.value, state)
        return state

    def stmt_AugAssign(self, node: cst.AugAssign, state: FlowState) -> FlowState:
        self.expr(node.value, state)
        self.expr(node.target, state)
        for name in names_in_target(node.target):
            state.unbind(name)
        return state

    def stmt_Return(self, node: cst.Return, state: FlowState) -> None:
        if node.value is not None:
            self.expr(node.value, state)
            values = node.value.elements if isinstance(node.value, cst.Tuple) else [node.value]
            for value in values:
                if isinstance(value, cst.Element):
                    value = value.value
                if isinstance(value, cst.Name):
                    self.escape(value, state)
        return None

    def stmt_Raise(self, node: cst.Raise, state: FlowState) -> None:
        if node.exc is not None:
            self.expr(node.exc, state)
        return None

    def stmt_Break(self, node: cst.Break, state: FlowState) -> None:
        if self.loops:
            self.loops[-1].append(state)
        return None

    stmt_Continue = stmt_Break

    def stmt_Del(self, node: cst.Del, state: FlowState) -> FlowState:
        for name in names_in_target(node.target):
            state.unbind(name)
        return state

    def stmt_Import(self, node: cst.Import, state: FlowState) -> FlowState:
        for alias in node.names:
            name = alias.asname.name if alias.asname else alias.name
            while isinstance(name, cst.Attribute):
                name = name.value
            if isinstance(name, cst.Name):
                state.unbind(name.value)
        return state

    def stmt_ImportFrom(self, node: cst.ImportFrom, state: FlowState) -> FlowState:
        if not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                name = alias.asname.name if alias.asname else alias.name
                if isinstance(name, cst.Name):
                    state.unbind(name.value)
        return state

    def stmt_FunctionDef(self, node: cst.FunctionDef, state: FlowState) -> FlowState:
        state.unbind(node.name.value)  # its body is its own scope
        return state

    stmt_ClassDef = stmt_FunctionDef

    def stmt_If(self, node: cst.If, state: FlowState) -> FlowState | None:
        self.expr(node.test, state)
        body = self.block(node.body, state.copy())
        if isinstance(node.orelse, cst.If):
            other = self.stmt_If(node.orelse, state.copy())
        elif isinstance(node.orelse, cst.Else):
            other = self.block(node.orelse.body, state.copy())
        else:
            other = state
        return join_states([body, other])

    def _loop(self, node: cst.For | cst.While, body_state: FlowState, state: FlowState) -> FlowState | None:
        self.loops.append([])
        out = self.block(node.body, body_state)
        jumps = self.loops.pop()
        after = join_states([state, out, *jumps])  # zero or more iterations
        if after is not None and node.orelse is not None:
            after = self.block(node.orelse.body, after)
        return after

    def stmt_For(self, node: cst.For, state: FlowState) -> FlowState | None:
        self.expr(node.iter, state)
        body_state = state.copy()
        element = self.element_of(node.iter, state)
        for name in names_in_target(node.target):
            body_state.unbind(name)
        if element is not None and isinstance(node.target, cst.Name):
            body_state.objects[node.target.value] = element
        return self._loop(node, body_state, state)

    def stmt_While(self, node: cst.While, state: FlowState) -> FlowState | None:
        self.expr(node.test, state)
        return self._loop(node, state.copy(), state)

    def stmt_Try(self, node: cst.Try, state: FlowState) -> FlowState | None:
        start = state.copy()
        out = self.block(node.body, state)
        if out is not None and node.orelse is not None:
            out = self.block(node.orelse.body, out)
        outs = [out]
        for handler in node.handlers:
            handler_state = start.copy()
            if handler.name is not None:
                for name in names_in_target(handler.name.name):
                    handler_state.unbind(name)
            outs.append(self.block(handler.body, handler_state))
        after = join_states(outs)
        if node.finalbody is not None:
            if after is None:  # every path left: the finally block still runs
                self.block(node.finalbody.body, start)
                return None
            after = self.block(node.finalbody.body, after)
        return after

    stmt_TryStar = stmt_Try

    def stmt_Match(self, node: cst.Match, state: FlowState) -> FlowState | None:
        self.expr(node.subject, state)
        outs: list[FlowState | None] = [state]
        for case in node.cases:
            case_state = state.copy()
            for sub in walk_nodes(case.pattern):
                if isinstance(sub, cst.Name):
                    case_state.unbind(sub.value)
            if case.guard is not None:
                self.expr(case.guard, case_state)
            outs.append(self.block(case.body, case_state))
        return join_states(outs)

    def stmt_With(self, node: cst.With, state: FlowState) -> FlowState | None:
        opened: list[str] = []
        committing: list[str] = []
        for item in node.items:
            self.expr(item.item, state)
            block = session_block_opening(self.file, item)
            if block is not None:
                name, commits = block
                state.unbind(name)
                state.sessions[name] = SessionState(commits, session_expires_on_commit(self.file, strip_await(item.item)))
                opened.append(name)
                if commits:
                    committing.append(name)
                continue
            call = strip_await(item.item)
            factory = self.factory_call(call, state)
            if factory is not None and item.asname is not None and isinstance(item.asname.name, cst.Name):
                name, commits = item.asname.name.value, factory[1]  # `with session_factory() as s:`
                state.unbind(name)
                state.sessions[name] = SessionState(commits, factory[0])
                opened.append(name)
                if commits:
                    committing.append(name)
                continue
            if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                    and call.func.attr.value == "begin" and isinstance(call.func.value, cst.Name)
                    and state.open_session(call.func.value.value)):
                committing.append(call.func.value.value)  # `with db.begin():` commits at exit
            if item.asname is not None:
                for name in names_in_target(item.asname.name):
                    state.unbind(name)
        out = self.block(node.body, state)
        if out is None:
            return None
        for name in committing:
            if out.open_session(name):
                if any(o.pending and o.session == name and o.closure is None for o in out.objects.values()):
                    self.result.flushed_at_exit.add(node)
                self.commit(name, out)
        for name in reversed(opened):
            if out.open_session(name):
                self.close(name, out, Closure(name, node, by_close_call=False))
        return out

    # -- bindings -------------------------------------------------------------------------
    def assign(self, target: cst.BaseExpression, value: cst.BaseExpression, state: FlowState) -> None:
        root = value
        while isinstance(root, (cst.Call, cst.Attribute)):
            root = root.func if isinstance(root, cst.Call) else root.value
        previous = state.values.get(root.value, ()) if isinstance(root, cst.Name) else ()
        loaded = self.load(value, state)
        alias = state.objects.get(value.value) if isinstance(value, cst.Name) else None
        for name in names_in_target(target):
            state.unbind(name)
        if not isinstance(target, cst.Name):
            return
        name = target.value
        if loaded is not None:
            state.objects[name] = loaded
        elif alias is not None:
            state.objects[name] = alias  # another name for the same object
        elif raw_session_call(self.file, strip_await(value)):
            state.sessions[name] = SessionState(expires=session_expires_on_commit(self.file, strip_await(value)))  # closed by hand
        elif (factory := self.factory_call(strip_await(value), state)) is not None and not factory[1]:
            state.sessions[name] = SessionState(expires=factory[0])  # `s = session_factory()`
        else:
            state.values[name] = previous + (value,)  # `stmt = select(User)`; `stmt = stmt.where(...)`

    def factory_call(self, node: cst.BaseExpression, state: FlowState) -> tuple[bool, bool] | None:
        """`factory()` / `factory.begin()` of a factory held by a name: (expire_on_commit of the
        session it opens, does the block commit at exit?)."""
        if not isinstance(node, cst.Call):
            return None
        func, begins = node.func, False
        if isinstance(func, cst.Attribute) and func.attr.value == "begin" and not node.args:
            func, begins = func.value, True
        if not (isinstance(func, cst.Name) and func.value in state.factories):
            return None
        expires = state.factories[func.value]
        for arg in node.args:
            if (arg.keyword is not None and arg.keyword.value == "expire_on_commit"
                    and isinstance(arg.value, cst.Name) and arg.value.value in ("True", "False")):
                expires = arg.value.value == "True"
        return (self.expire_on_commit if expires is None else expires), begins

    # -- expressions, in evaluation order ---------------------------------------------------
    def expr(self, node: cst.CSTNode, state: FlowState) -> None:
        if isinstance(node, cst.Name):
            self.name_load(node, state)
        elif isinstance(node, cst.Attribute):
            self.attribute(node, state)
        elif isinstance(node, cst.Call):
            self.call(node, state)
        elif isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            self.comprehension(node, state)
        elif isinstance(node, cst.Lambda):
            inner = state.copy()
            for param in walk_nodes(node.params):
                if isinstance(param, cst.Param):
                    inner.unbind(param.name.value)
            self.expr(node.body, inner)
        elif isinstance(node, cst.NamedExpr):
            self.expr(node.value, state)
            self.assign(node.target, node.value, state)
        elif isinstance(node, cst.Comparison) and self._is_identity_test(node, state):
            return  # `db is None` does not use the session
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return
        else:
            for child in node.children:
                self.expr(child, state)

    def _is_identity_test(self, node: cst.Comparison, state: FlowState) -> bool:
        return (isinstance(node.left, cst.Name) and node.left.value in state.sessions
                and all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in node.comparisons))

    def attribute(self, node: cst.Attribute, state: FlowState) -> None:
        value = node.value
        if isinstance(value, cst.Name):
            if value.value in state.objects:
                obj = state.objects[value.value]
                if obj.closure is not None:
                    self.use_after_close(obj.closure, value)
                self.read(value.value, node.attr.value, node, state)
                return
            sess = state.sessions.get(value.value)
            if sess is not None and sess.closure is not None and node.attr.value == "close":
                return  # closing twice is harmless
        elif (isinstance(value, cst.Subscript) and isinstance(value.value, cst.Name)
              and value.value.value in state.objects and state.objects[value.value.value].collection):
            coll = state.objects[value.value.value]
            for element in value.slice:
                self.expr(element, state)
            if coll.closure is not None:
                self.use_after_close(coll.closure, value.value)
            self.read(value.value.value, node.attr.value, node, state, obj=replace(coll, collection=False))
            return
        self.expr(value, state)

    def call(self, node: cst.Call, state: FlowState) -> None:
        func = node.func
        self.expr(func, state)
        for arg in node.args:
            self.expr(arg.value, state)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            base, method = func.value.value, func.attr.value
            if state.open_session(base):
                self.session_call(node, base, method, state)
                return
            if method in OBJECT_READERS and node.args and isinstance(node.args[0].value, cst.Name):
                self.escape(node.args[0].value, state, "validated")
        if leaf_name(func) == "make_transient" and node.args and isinstance(node.args[0].value, cst.Name):
            state.objects.pop(node.args[0].value.value, None)  # no session any more: reads never load
        if isinstance(func, cst.Attribute) and func.attr.value in ("add", "merge") and node.args:
            arg = node.args[0].value  # handed to another session: attached again
            if isinstance(arg, cst.Name) and arg.value in state.objects and state.objects[arg.value].closure:
                state.objects.pop(arg.value)

    def comprehension(self, node: cst.BaseComp, state: FlowState) -> None:
        inner = state
        clause = node.for_in
        first = True
        while clause is not None:
            self.expr(clause.iter, inner)
            element = self.element_of(clause.iter, inner)
            if first:
                inner, first = state.copy(), False
            for name in names_in_target(clause.target):
                inner.unbind(name)
            if element is not None and isinstance(clause.target, cst.Name):
                inner.objects[clause.target.value] = element
            for cond in clause.ifs:
                self.expr(cond.test, inner)
            clause = clause.inner_for_in
        if isinstance(node, cst.DictComp):
            self.expr(node.key, inner)
            self.expr(node.value, inner)
        else:
            self.expr(node.elt, inner)
