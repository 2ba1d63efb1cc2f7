"""Flow analysis of one function body for SES005 and SES006.

A small abstract interpreter walks the statements in execution order with a
state: which names hold an open or closed session, and which hold ORM objects
loaded from / added to a session (with what SQLAlchemy would have done to them:
expired by a commit, detached by the close). Branches are analysed separately
and joined (a name stays dangerous unless every path rebinds it); early
returns, `raise`, `break`/`continue` end a path; comprehensions and lambdas
scope their own names; nested functions and classes are their own scope
(analysed on their own). A test's or fixture's parameter that pytest fills with
a session or a session factory starts as one (pytest_fixtures.py). Loops are walked
once (no back edges): the analysis prefers missing a finding to inventing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import CodeRange

from .pytest_fixtures import SESSION, fixture_parameters
from .sessions import (
    is_session_annotation,
    raw_session_call,
    session_block_opening,
    session_expires_on_commit,
)

if TYPE_CHECKING:
    from .models import ModelRegistry
    from .rules.base import Rule, RuleContext

LOADER_OPTIONS = frozenset({"joinedload", "selectinload", "subqueryload", "immediateload", "contains_eager"})
SINGLE_TERMINALS = frozenset({"first", "one", "one_or_none", "get", "scalar_one", "scalar_one_or_none"})
RESULT_PASSTHROUGH = frozenset({"unique", "filter", "filter_by", "where", "order_by", "options", "join",
                                "outerjoin", "limit", "offset", "distinct", "group_by", "having",
                                "execution_options", "populate_existing", "with_for_update"})
# Calls that read every column of the object they are given (pydantic / SQLModel).
OBJECT_READERS = frozenset({"model_validate", "from_orm", "parse_obj", "validate"})


@dataclass(frozen=True)
class Closure:
    """Where and how a session ended: its `with` block, or a `.close()` call."""

    session: str
    node: cst.CSTNode  # the With statement or the close() Call
    by_close_call: bool

    def line(self, position: Callable[[cst.CSTNode], CodeRange]) -> int:
        """The line where the session closed (asked only for what is reported: positions cost)."""
        where = position(self.node)
        return where.start.line if self.by_close_call else where.end.line


@dataclass(frozen=True)
class Obj:
    session: str
    model: str | None = None
    eager: frozenset[str] = frozenset()  # relationships eager-loaded by the query ("*" = all)
    collection: bool = False
    entity: bool | None = True  # None: could not tell (e.g. `select(self.model)`)
    expired: bool = False
    pending: bool = False  # added and never flushed: transient again after the close
    added: bool = False  # came from `add()`, not from a query
    loaded: frozenset[str] = frozenset()  # attributes read while the session was open
    closure: Closure | None = None  # set once the session closed: the object is detached

    def join(self, other: Obj) -> Obj:
        if self is other:
            return self
        if (self.closure is None) != (other.closure is None):
            return self if self.closure else other
        return replace(self, expired=self.expired or other.expired, pending=self.pending and other.pending,
                       loaded=self.loaded & other.loaded)


@dataclass(frozen=True)
class Sess:
    commits_at_exit: bool = False
    expires: bool = True  # expire_on_commit of this session
    closure: Closure | None = None


@dataclass
class State:
    objects: dict[str, Obj] = field(default_factory=dict)
    sessions: dict[str, Sess] = field(default_factory=dict)
    values: dict[str, tuple[cst.BaseExpression, ...]] = field(default_factory=dict)
    # session factories held by a name (a pytest factory fixture): calling one opens a session;
    # the value is their sessions' expire_on_commit (None: the option decides)
    factories: dict[str, bool | None] = field(default_factory=dict)

    def copy(self) -> State:
        return State(dict(self.objects), dict(self.sessions), dict(self.values), dict(self.factories))

    def unbind(self, name: str) -> None:
        self.objects.pop(name, None)
        self.sessions.pop(name, None)
        self.values.pop(name, None)
        self.factories.pop(name, None)

    def open_session(self, name: str) -> bool:
        sess = self.sessions.get(name)
        return sess is not None and sess.closure is None


def join(states: Iterable[State | None]) -> State | None:
    live = [s for s in states if s is not None]
    if not live:
        return None
    out = live[0].copy()
    for other in live[1:]:
        for name, obj in other.objects.items():
            out.objects[name] = out.objects[name].join(obj) if name in out.objects else obj
        for name, sess in other.sessions.items():
            mine = out.sessions.get(name)
            if mine is None or (mine.closure is None and sess.closure is not None):
                out.sessions[name] = sess
        for name, value in other.values.items():
            out.values.setdefault(name, value)
        for name in [n for n in out.factories if n not in other.factories]:
            del out.factories[name]  # rebound on some path
    return out


@dataclass
class DetachedRead:
    name: str  # the object's variable
    attr: str | None  # None: the object itself escapes (returned / validated)
    node: cst.CSTNode
    obj: Obj
    reason: str  # "expired", "relationship", "deferred"
    verb: str = "read"  # "returned", "validated" when the object itself escapes


@dataclass
class ClosedUse:
    name: str
    node: cst.CSTNode
    closure: Closure


@dataclass
class Analysis:
    reads: list[DetachedRead] = field(default_factory=list)
    closed_uses: list[ClosedUse] = field(default_factory=list)
    # every use (read, name load) of a closed block's objects or session, by closure node
    uses_after: dict[cst.CSTNode, list[cst.CSTNode]] = field(default_factory=dict)
    # blocks whose exit commit flushed added objects: reads moved into the block would see them unflushed
    flushed_at_exit: set[cst.CSTNode] = field(default_factory=set)


def _strip(node: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(node, cst.Await):
        node = node.expression
    return node


def _class_like(node: cst.BaseExpression) -> bool:
    leaf = node.value if isinstance(node, cst.Name) else node.attr.value if isinstance(node, cst.Attribute) else ""
    return leaf[:1].isupper()


def _leaf(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _entity_of(arg: cst.BaseExpression) -> tuple[bool | None, str | None]:
    """(is an ORM entity?, model name) for the argument of `select()` / `query()` / `get()`."""
    if _class_like(arg):
        return True, _leaf(arg)
    if isinstance(arg, cst.Attribute) and _class_like(arg.value):
        return False, None  # `User.email`: a column
    if isinstance(arg, (cst.Call, cst.BaseString, cst.Integer, cst.Float)):
        return False, None  # func.count(), literal(), text()
    return None, None  # a variable (`self.model`): cannot tell


def _names_in_target(node: cst.CSTNode) -> list[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for el in node.elements for n in _names_in_target(el.value)]
    if isinstance(node, cst.StarredElement):
        return _names_in_target(node.value)
    return []


def _loader_targets(nodes: Iterable[cst.CSTNode]) -> frozenset[str]:
    """Relationship names eager-loaded by `joinedload(User.posts)`, `selectinload("posts")`, ..."""
    found: set[str] = set()

    class Finder(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if _leaf(call.func) in LOADER_OPTIONS and call.args:
                arg = call.args[0].value
                if isinstance(arg, cst.Attribute):
                    found.add(arg.attr.value)
                elif isinstance(arg, cst.SimpleString):
                    found.add(arg.evaluated_value.split(".")[0])

    for node in nodes:
        node.visit(Finder())
    return frozenset(found)


class FlowAnalysis:
    def __init__(self, rule: Rule, models: Callable[[], ModelRegistry]) -> None:
        self.rule = rule
        self.expire_on_commit = rule.config.expire_on_commit
        self._models = models
        self._registry: ModelRegistry | None = None
        self.result = Analysis()
        self.loops: list[list[State]] = []
        self.reported: set = set()

    @property
    def models(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = self._models()
        return self._registry

    # -- entry points --------------------------------------------------------------
    def run_function(self, node: cst.FunctionDef) -> Analysis:
        state = State()
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            ann = param.annotation.annotation if param.annotation else None
            if is_session_annotation(self.rule, ann):
                state.sessions[param.name.value] = Sess(expires=self.expire_on_commit)
        for name, provided in fixture_parameters(self.rule, node).items():  # pytest fixtures
            expires = self.expire_on_commit if provided.expires is None else provided.expires
            if provided.kind == SESSION:
                state.sessions[name] = Sess(expires=expires)
            else:
                state.factories[name] = expires
        self.block(node.body, state)
        return self.result

    def run_module(self, node: cst.Module) -> Analysis:
        self.statements(node.body, State())
        return self.result

    # -- statements -------------------------------------------------------------------
    def block(self, suite: cst.BaseSuite, state: State) -> State | None:
        return self.statements(suite.body, state)

    def statements(self, body: Iterable[cst.CSTNode], state: State | None) -> State | None:
        for stmt in body:
            if state is None:
                return None  # unreachable
            state = self.statement(stmt, state)
        return state

    def statement(self, node: cst.CSTNode, st: State) -> State | None:
        if isinstance(node, cst.SimpleStatementLine):
            return self.statements(node.body, st)
        handler = getattr(self, "stmt_" + type(node).__name__, None)
        if handler is not None:
            return handler(node, st)
        for child in node.children:  # anything else: evaluate the expressions it holds
            if isinstance(child, cst.BaseExpression):
                self.expr(child, st)
        return st

    def stmt_Expr(self, node: cst.Expr, st: State) -> State:
        self.expr(node.value, st)
        return st

    def stmt_Assign(self, node: cst.Assign, st: State) -> State:
        self.expr(node.value, st)
        for target in node.targets:
            self.assign(target.target, node.value, st)
        return st

    def stmt_AnnAssign(self, node: cst.AnnAssign, st: State) -> State:
        if node.value is not None:
            self.expr(node.value, st)
            self.assign(node.target, node.value, st)
        return st

    def stmt_AugAssign(self, node: cst.AugAssign, st: State) -> State:
        self.expr(node.value, st)
        self.expr(node.target, st)
        for name in _names_in_target(node.target):
            st.unbind(name)
        return st

    def stmt_Return(self, node: cst.Return, st: State) -> None:
        if node.value is not None:
            self.expr(node.value, st)
            values = node.value.elements if isinstance(node.value, cst.Tuple) else [node.value]
            for value in values:
                if isinstance(value, cst.Element):
                    value = value.value
                if isinstance(value, cst.Name):
                    self.escape(value, st)
        return None

    def stmt_Raise(self, node: cst.Raise, st: State) -> None:
        if node.exc is not None:
            self.expr(node.exc, st)
        return None

    def stmt_Break(self, node: cst.Break, st: State) -> None:
        if self.loops:
            self.loops[-1].append(st)
        return None

    stmt_Continue = stmt_Break

    def stmt_Del(self, node: cst.Del, st: State) -> State:
        for name in _names_in_target(node.target):
            st.unbind(name)
        return st

    def stmt_Import(self, node: cst.Import, st: State) -> State:
        for alias in node.names:
            name = alias.asname.name if alias.asname else alias.name
            while isinstance(name, cst.Attribute):
                name = name.value
            if isinstance(name, cst.Name):
                st.unbind(name.value)
        return st

    def stmt_ImportFrom(self, node: cst.ImportFrom, st: State) -> State:
        if not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                name = alias.asname.name if alias.asname else alias.name
                if isinstance(name, cst.Name):
                    st.unbind(name.value)
        return st

    def stmt_FunctionDef(self, node: cst.FunctionDef, st: State) -> State:
        st.unbind(node.name.value)  # its body is its own scope
        return st

    stmt_ClassDef = stmt_FunctionDef

    def stmt_If(self, node: cst.If, st: State) -> State | None:
        self.expr(node.test, st)
        body = self.block(node.body, st.copy())
        if isinstance(node.orelse, cst.If):
            other = self.stmt_If(node.orelse, st.copy())
        elif isinstance(node.orelse, cst.Else):
            other = self.block(node.orelse.body, st.copy())
        else:
            other = st
        return join([body, other])

    def _loop(self, node: cst.For | cst.While, body_state: State, st: State) -> State | None:
        self.loops.append([])
        out = self.block(node.body, body_state)
        jumps = self.loops.pop()
        after = join([st, out, *jumps])  # zero or more iterations
        if after is not None and node.orelse is not None:
            after = self.block(node.orelse.body, after)
        return after

    def stmt_For(self, node: cst.For, st: State) -> State | None:
        self.expr(node.iter, st)
        body_state = st.copy()
        element = self.element_of(node.iter, st)
        for name in _names_in_target(node.target):
            body_state.unbind(name)
        if element is not None and isinstance(node.target, cst.Name):
            body_state.objects[node.target.value] = element
        return self._loop(node, body_state, st)

    def stmt_While(self, node: cst.While, st: State) -> State | None:
        self.expr(node.test, st)
        return self._loop(node, st.copy(), st)

    def stmt_Try(self, node: cst.Try, st: State) -> State | None:
        start = st.copy()
        out = self.block(node.body, st)
        if out is not None and node.orelse is not None:
            out = self.block(node.orelse.body, out)
        outs = [out]
        for handler in node.handlers:
            hs = start.copy()
            if handler.name is not None:
                for name in _names_in_target(handler.name.name):
                    hs.unbind(name)
            outs.append(self.block(handler.body, hs))
        after = join(outs)
        if node.finalbody is not None:
            if after is None:  # every path left: the finally block still runs
                self.block(node.finalbody.body, start)
                return None
            after = self.block(node.finalbody.body, after)
        return after

    stmt_TryStar = stmt_Try

    def stmt_Match(self, node: cst.Match, st: State) -> State | None:
        self.expr(node.subject, st)
        outs: list[State | None] = [st]
        for case in node.cases:
            cs = st.copy()
            for sub in _walk(case.pattern):
                if isinstance(sub, cst.Name):
                    cs.unbind(sub.value)
            if case.guard is not None:
                self.expr(case.guard, cs)
            outs.append(self.block(case.body, cs))
        return join(outs)

    def stmt_With(self, node: cst.With, st: State) -> State | None:
        opened: list[str] = []
        committing: list[str] = []
        for item in node.items:
            self.expr(item.item, st)
            block = session_block_opening(self.rule, item)
            if block is not None:
                name, commits = block
                st.unbind(name)
                st.sessions[name] = Sess(commits, session_expires_on_commit(self.rule, _strip(item.item)))
                opened.append(name)
                if commits:
                    committing.append(name)
                continue
            call = _strip(item.item)
            factory = self.factory_call(call, st)
            if factory is not None and item.asname is not None and isinstance(item.asname.name, cst.Name):
                name, commits = item.asname.name.value, factory[1]  # `with session_factory() as s:`
                st.unbind(name)
                st.sessions[name] = Sess(commits, factory[0])
                opened.append(name)
                if commits:
                    committing.append(name)
                continue
            if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                    and call.func.attr.value == "begin" and isinstance(call.func.value, cst.Name)
                    and st.open_session(call.func.value.value)):
                committing.append(call.func.value.value)  # `with db.begin():` commits at exit
            if item.asname is not None:
                for name in _names_in_target(item.asname.name):
                    st.unbind(name)
        out = self.block(node.body, st)
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
    def assign(self, target: cst.BaseExpression, value: cst.BaseExpression, st: State) -> None:
        root = value
        while isinstance(root, (cst.Call, cst.Attribute)):
            root = root.func if isinstance(root, cst.Call) else root.value
        previous = st.values.get(root.value, ()) if isinstance(root, cst.Name) else ()
        loaded = self.load(value, st)
        alias = st.objects.get(value.value) if isinstance(value, cst.Name) else None
        for name in _names_in_target(target):
            st.unbind(name)
        if not isinstance(target, cst.Name):
            return
        name = target.value
        if loaded is not None:
            st.objects[name] = loaded
        elif alias is not None:
            st.objects[name] = alias  # another name for the same object
        elif raw_session_call(self.rule, _strip(value)):
            st.sessions[name] = Sess(expires=session_expires_on_commit(self.rule, _strip(value)))  # closed by hand
        elif (factory := self.factory_call(_strip(value), st)) is not None and not factory[1]:
            st.sessions[name] = Sess(expires=factory[0])  # `s = session_factory()`
        else:
            st.values[name] = previous + (value,)  # `stmt = select(User)`; `stmt = stmt.where(...)`

    def factory_call(self, node: cst.BaseExpression, st: State) -> tuple[bool, bool] | None:
        """`factory()` / `factory.begin()` of a factory held by a name: (expire_on_commit of the
        session it opens, does the block commit at exit?)."""
        if not isinstance(node, cst.Call):
            return None
        func, begins = node.func, False
        if isinstance(func, cst.Attribute) and func.attr.value == "begin" and not node.args:
            func, begins = func.value, True
        if not (isinstance(func, cst.Name) and func.value in st.factories):
            return None
        expires = st.factories[func.value]
        for arg in node.args:
            if (arg.keyword is not None and arg.keyword.value == "expire_on_commit"
                    and isinstance(arg.value, cst.Name) and arg.value.value in ("True", "False")):
                expires = arg.value.value == "True"
        return (self.expire_on_commit if expires is None else expires), begins

    # -- what a session hands out ---------------------------------------------------------------
    def load(self, expr: cst.BaseExpression, st: State, iterated: bool = False) -> Obj | None:
        """The object (or list of objects) an expression loads from an open session, if it does.
        `iterated`: the expression is iterated right here, so a bare `db.query(User)` runs now."""
        node = _strip(expr)
        if (isinstance(node, cst.Call) and len(node.args) == 1 and "builtins.list" in self.rule.qualified_names(node.func)):
            arg = node.args[0].value  # `list(db.scalars(...))`, `list(helper(db))`: evaluated here
            inner = self.load(arg, st) or self.helper_load(arg, st, evaluated=True)
            return replace(inner, collection=True) if inner is not None else None
        helper = self.helper_load(node, st)
        if helper is not None:
            return helper
        chain: list[tuple[str, cst.Call]] = []
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            chain.append((node.func.attr.value, node))
            node = _strip(node.func.value)
        if not (isinstance(node, cst.Name) and st.open_session(node.value)) or not chain:
            return None
        session = node.value
        chain.reverse()
        (first, call), rest = chain[0], [m for m, _ in chain[1:]]
        args = [a.value for a in call.args if a.keyword is None and not a.star]
        if first in ("get", "get_one", "merge"):
            if rest:
                return None
            entity, model = _entity_of(args[0]) if args and first != "merge" else (True, None)
            return Obj(session, model, entity=True if first == "merge" else entity) if entity is not False else None
        if first == "query":
            if len(args) != 1 or not (rest or iterated):
                return None  # several entities: rows, not objects; or a Query nobody ran yet
            entity, model = _entity_of(args[0])
            if iterated and all(m in RESULT_PASSTHROUGH for m in rest):
                rest = [*rest, "all"]
            terminal = rest[-1]
            if entity is False or not all(m in RESULT_PASSTHROUGH for m in rest[:-1]):
                return None
            if terminal not in SINGLE_TERMINALS and terminal != "all":
                return None
            eager = _loader_targets(c for _, c in chain)
            return Obj(session, model, eager, collection=terminal == "all", entity=entity)
        if first in ("scalars", "scalar", "execute", "exec"):  # exec: SQLModel's select -> scalars
            if first == "execute":
                if not rest or rest[0] not in ("scalars", "scalar_one", "scalar_one_or_none", "scalar"):
                    return None  # rows
                rest = rest[1:] if rest[0] == "scalars" else rest
                if rest and rest[0] in ("scalar_one", "scalar_one_or_none", "scalar"):
                    if len(rest) > 1:
                        return None
                    single = True
                else:
                    single = bool(rest) and rest[-1] in SINGLE_TERMINALS
            else:
                single = first == "scalar" or (bool(rest) and rest[-1] in SINGLE_TERMINALS)
            if not args:
                return None
            entity, model, eager = self.statement_info(args[0], st)
            if entity is False:
                return None
            return Obj(session, model, eager, collection=not single, entity=entity)
        return None

    def helper_load(self, call: cst.BaseExpression, st: State, evaluated: bool = False) -> Obj | None:
        """A project function given the open session that returns what it loaded from it
        (`organization_service.get_all(db_session=db)`), found by reading its source."""
        if not isinstance(call, cst.Call):
            return None
        sessions = [a.value.value for a in call.args
                    if isinstance(a.value, cst.Name) and st.open_session(a.value.value)]
        if len(sessions) != 1:
            return None
        from .models import project_loader

        for name in sorted(self.rule.qualified_names(call.func)):
            loader = project_loader(name, self.rule.context.path, self.rule.config.root)
            if loader is not None and (evaluated or not loader.query):
                # an unevaluated Query iterated later re-runs, on a reopened session (not detached objects)
                return Obj(sessions[0], loader.model, collection=loader.collection, entity=True)
        return None

    def statement_info(self, stmt: cst.BaseExpression, st: State) -> tuple[bool | None, str | None, frozenset]:
        """Entity, model and eager loads of a `select(...)` statement (or a variable holding one)."""
        exprs: list[cst.BaseExpression] = [stmt]
        if isinstance(stmt, cst.Name):
            exprs = list(st.values.get(stmt.value, ()))
        entity: bool | None = None
        model: str | None = None
        for expr in exprs:
            node = expr
            while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                node = node.func.value
            if isinstance(node, cst.Call) and _leaf(node.func) == "select" and node.args:
                if len(node.args) == 1:
                    entity, model = _entity_of(node.args[0].value)
                else:
                    entity = False
        return entity, model, _loader_targets(exprs)

    def element_of(self, iterable: cst.BaseExpression, st: State) -> Obj | None:
        if isinstance(iterable, cst.Name):
            obj = st.objects.get(iterable.value)
        else:
            obj = self.load(iterable, st, iterated=True)
        if obj is not None and obj.collection:
            return replace(obj, collection=False)
        return None

    # -- session events --------------------------------------------------------------------
    def commit(self, session: str, st: State) -> None:
        expires = st.sessions[session].expires if session in st.sessions else self.expire_on_commit
        for name, obj in st.objects.items():
            if obj.session == session and obj.closure is None:
                obj = replace(obj, pending=False)
                if expires:
                    obj = replace(obj, expired=True, loaded=frozenset())
                st.objects[name] = obj

    def close(self, session: str, st: State, closure: Closure) -> None:
        st.sessions[session] = replace(st.sessions[session], closure=closure)
        for name, obj in st.objects.items():
            if obj.session == session and obj.closure is None:
                st.objects[name] = replace(obj, closure=closure)

    def session_call(self, call: cst.Call, session: str, method: str, st: State) -> None:
        args = [a.value for a in call.args]
        if method == "commit":
            self.commit(session, st)
        elif method == "flush":
            for name, obj in st.objects.items():
                if obj.session == session and obj.closure is None:
                    st.objects[name] = replace(obj, pending=False)
        elif method == "rollback":  # expires everything, whatever expire_on_commit says
            for name, obj in list(st.objects.items()):
                if obj.session == session and obj.closure is None:
                    if obj.pending:
                        del st.objects[name]
                    else:
                        st.objects[name] = replace(obj, expired=True, loaded=frozenset())
        elif method == "close":
            self.close(session, st, Closure(session, call, by_close_call=True))
        elif method in ("add", "add_all"):
            names = args[:1]
            if method == "add_all" and args and isinstance(args[0], (cst.List, cst.Tuple, cst.Set)):
                names = [el.value for el in args[0].elements]
            for arg in names:
                if isinstance(arg, cst.Name):
                    known = st.objects.get(arg.value)
                    if known is not None and known.session == session and known.closure is None:
                        continue
                    model = self._constructed_model(arg.value, st)
                    st.objects[arg.value] = Obj(session, model, pending=True, added=True) \
                        if known is None else replace(known, session=session, closure=None)
        elif method == "refresh" and args and isinstance(args[0], cst.Name):
            obj = st.objects.get(args[0].value)
            if obj is not None and obj.closure is None:
                st.objects[args[0].value] = replace(obj, expired=False, pending=False)
        elif method == "expunge" and args and isinstance(args[0], cst.Name):
            st.objects.pop(args[0].value, None)  # detached on purpose, with what it loaded
        elif method == "expunge_all":
            for name in [n for n, obj in st.objects.items() if obj.session == session and obj.closure is None]:
                del st.objects[name]

    def _constructed_model(self, name: str, st: State) -> str | None:
        for value in st.values.get(name, ())[-1:]:
            if isinstance(value, cst.Call) and _class_like(value.func):
                return _leaf(value.func)
        return None

    # -- uses ------------------------------------------------------------------------------
    def use_after_close(self, obj_or_sess_closure: Closure, node: cst.CSTNode) -> None:
        self.result.uses_after.setdefault(obj_or_sess_closure.node, []).append(node)

    def read(self, name: str, attr: str, node: cst.CSTNode, st: State, obj: Obj | None = None) -> None:
        obj = obj or st.objects[name]
        if attr.startswith("__") or obj.collection:
            return
        if obj.closure is None:  # still attached: the read loads it (and refreshes expired columns)
            st.objects[name] = replace(obj, expired=False, loaded=obj.loaded | {attr})
            return
        self.use_after_close(obj.closure, node)
        reason = self.failing(obj, attr)
        if reason and (name, obj.closure.node) not in self.reported:
            self.reported.add((name, obj.closure.node))
            self.result.reads.append(DetachedRead(name, attr, node, obj, reason))

    def failing(self, obj: Obj, attr: str | None) -> str | None:
        if obj.pending:
            return None  # never flushed: transient again, nothing to load
        if obj.expired:
            return "expired" if attr is not None or obj.entity else None
        if attr is None or attr in obj.loaded or attr in obj.eager or "*" in obj.eager:
            return None
        kind = self.models.attribute_kind(obj.model, attr)
        return kind if kind in ("relationship", "deferred") else None

    def escape(self, node: cst.Name, st: State, verb: str = "returned") -> None:
        """The object itself leaves the function (returned): fails when its attributes were expired."""
        obj = st.objects.get(node.value)
        if obj is None or obj.closure is None:
            return
        if self.failing(obj, None) and obj.entity and (node.value, obj.closure.node) not in self.reported:
            self.reported.add((node.value, obj.closure.node))
            self.result.reads.append(DetachedRead(node.value, None, node, obj, "expired", verb))

    def name_load(self, node: cst.Name, st: State) -> None:
        name = node.value
        obj = st.objects.get(name)
        if obj is not None and obj.closure is not None:
            self.use_after_close(obj.closure, node)
        sess = st.sessions.get(name)
        if sess is not None and sess.closure is not None:
            self.use_after_close(sess.closure, node)
            key = ("session", name, sess.closure.node)
            if key not in self.reported:
                self.reported.add(key)
                self.result.closed_uses.append(ClosedUse(name, node, sess.closure))

    # -- expressions, in evaluation order ---------------------------------------------------
    def expr(self, node: cst.CSTNode, st: State) -> None:
        if isinstance(node, cst.Name):
            self.name_load(node, st)
        elif isinstance(node, cst.Attribute):
            self.attribute(node, st)
        elif isinstance(node, cst.Call):
            self.call(node, st)
        elif isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            self.comprehension(node, st)
        elif isinstance(node, cst.Lambda):
            inner = st.copy()
            for param in _walk(node.params):
                if isinstance(param, cst.Param):
                    inner.unbind(param.name.value)
            self.expr(node.body, inner)
        elif isinstance(node, cst.NamedExpr):
            self.expr(node.value, st)
            self.assign(node.target, node.value, st)
        elif isinstance(node, cst.Comparison) and self._is_identity_test(node, st):
            return  # `db is None` does not use the session
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return
        else:
            for child in node.children:
                self.expr(child, st)

    def _is_identity_test(self, node: cst.Comparison, st: State) -> bool:
        return (isinstance(node.left, cst.Name) and node.left.value in st.sessions
                and all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in node.comparisons))

    def attribute(self, node: cst.Attribute, st: State) -> None:
        value = node.value
        if isinstance(value, cst.Name):
            if value.value in st.objects:
                obj = st.objects[value.value]
                if obj.closure is not None:
                    self.use_after_close(obj.closure, value)
                self.read(value.value, node.attr.value, node, st)
                return
            sess = st.sessions.get(value.value)
            if sess is not None and sess.closure is not None and node.attr.value == "close":
                return  # closing twice is harmless
        elif (isinstance(value, cst.Subscript) and isinstance(value.value, cst.Name)
              and value.value.value in st.objects and st.objects[value.value.value].collection):
            coll = st.objects[value.value.value]
            for element in value.slice:
                self.expr(element, st)
            if coll.closure is not None:
                self.use_after_close(coll.closure, value.value)
            self.read(value.value.value, node.attr.value, node, st, obj=replace(coll, collection=False))
            return
        self.expr(value, st)

    def call(self, node: cst.Call, st: State) -> None:
        func = node.func
        self.expr(func, st)
        for arg in node.args:
            self.expr(arg.value, st)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            base, method = func.value.value, func.attr.value
            if st.open_session(base):
                self.session_call(node, base, method, st)
                return
            if method in OBJECT_READERS and node.args and isinstance(node.args[0].value, cst.Name):
                self.escape(node.args[0].value, st, "validated")
        if _leaf(func) == "make_transient" and node.args and isinstance(node.args[0].value, cst.Name):
            st.objects.pop(node.args[0].value.value, None)  # no session any more: reads never load
        if isinstance(func, cst.Attribute) and func.attr.value in ("add", "merge") and node.args:
            arg = node.args[0].value  # handed to another session: attached again
            if isinstance(arg, cst.Name) and arg.value in st.objects and st.objects[arg.value].closure:
                st.objects.pop(arg.value)

    def comprehension(self, node: cst.BaseComp, st: State) -> None:
        inner = st
        clause = node.for_in
        first = True
        while clause is not None:
            self.expr(clause.iter, inner)
            element = self.element_of(clause.iter, inner)
            if first:
                inner, first = st.copy(), False
            for name in _names_in_target(clause.target):
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


def _walk(node: cst.CSTNode) -> Iterable[cst.CSTNode]:
    yield node
    for child in node.children:
        yield from _walk(child)


class FileFlow:
    """What the flow analysis of one file shares between its functions and between SES005 and
    SES006: the model registry of the file (read once, from the source the module was parsed
    from) and each function's analysis. Lives on the file's RuleContext, never in a global."""

    def __init__(self, context: RuleContext) -> None:
        self.context = context
        self._registry: ModelRegistry | None = None
        self.analyses: dict[cst.CSTNode, Analysis] = {}

    @property
    def models(self) -> ModelRegistry:
        if self._registry is None:
            from .models import registry_for

            context = self.context
            source = context.source if context.source is not None else context.module.code
            self._registry = registry_for(source, context.path, context.config.root)
        return self._registry


def file_flow(context: RuleContext) -> FileFlow:
    """The flow data of the file `context` describes (created on first use)."""
    if context.flow is None or context.flow.context is not context:
        context.flow = FileFlow(context)
    return context.flow


def analyse(rule: Rule, node: cst.FunctionDef | cst.Module) -> Analysis:
    """The analysis of one function (or of the module's top-level code), shared by SES005 and SES006."""
    shared = file_flow(rule.context)
    if node not in shared.analyses:
        flow = FlowAnalysis(rule, lambda: shared.models)
        shared.analyses[node] = flow.run_function(node) if isinstance(node, cst.FunctionDef) else flow.run_module(node)
    return shared.analyses[node]
