"""What a query hands out: the ORM object (or list of objects) an expression loads from an
open session, its model, whether it is a single object or a collection, and which relationships
the query eager-loads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import libcst as cst

from .state import FlowState, LoadedObject
from .syntax import class_like, leaf_name, strip_await
from ..walk import visit_read_only

LOADER_OPTIONS = frozenset({"joinedload", "selectinload", "subqueryload", "immediateload", "contains_eager"})
SINGLE_TERMINALS = frozenset({"first", "one", "one_or_none", "get", "scalar_one", "scalar_one_or_none"})
RESULT_PASSTHROUGH = frozenset({"unique", "filter", "filter_by", "where", "order_by", "options", "join",
                                "outerjoin", "limit", "offset", "distinct", "group_by", "having",
                                "execution_options", "populate_existing", "with_for_update"})
# Calls that read every column of the object they are given (pydantic / SQLModel).


def entity_of(arg: cst.BaseExpression) -> tuple[bool | None, str | None]:
    """(is an ORM entity?, model name) for the argument of `select()` / `query()` / `get()`."""
    if class_like(arg):
        return True, leaf_name(arg)
    if isinstance(arg, cst.Attribute) and class_like(arg.value):
        return False, None  # `User.email`: a column
    if isinstance(arg, (cst.Call, cst.BaseString, cst.Integer, cst.Float)):
        return False, None  # func.count(), literal(), text()
    return None, None  # a variable (`self.model`): cannot tell


def loader_targets(nodes: Iterable[cst.CSTNode]) -> frozenset[str]:
    """Relationship names eager-loaded by `joinedload(User.posts)`, `selectinload("posts")`, ..."""
    found: set[str] = set()

    class Finder(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if leaf_name(call.func) in LOADER_OPTIONS and call.args:
                arg = call.args[0].value
                if isinstance(arg, cst.Attribute):
                    found.add(arg.attr.value)
                elif isinstance(arg, cst.SimpleString):
                    found.add(arg.evaluated_value.split(".")[0])

    for node in nodes:
        visit_read_only(node, Finder())
    return frozenset(found)


class QueryLoads:
    """FlowAnalysis's part that reads loads (mixed into it: uses its `rule` and state)."""

    def load(self, expr: cst.BaseExpression, state: FlowState, iterated: bool = False) -> LoadedObject | None:
        """The object (or list of objects) an expression loads from an open session, if it does.
        `iterated`: the expression is iterated right here, so a bare `db.query(User)` runs now."""
        node = strip_await(expr)
        if (isinstance(node, cst.Call) and len(node.args) == 1 and "builtins.list" in self.file.qualified_names(node.func)):
            arg = node.args[0].value  # `list(db.scalars(...))`, `list(helper(db))`: evaluated here
            inner = self.load(arg, state) or self.helper_load(arg, state, evaluated=True)
            return replace(inner, collection=True) if inner is not None else None
        helper = self.helper_load(node, state)
        if helper is not None:
            return helper
        chain: list[tuple[str, cst.Call]] = []
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            chain.append((node.func.attr.value, node))
            node = strip_await(node.func.value)
        if not (isinstance(node, cst.Name) and state.open_session(node.value)) or not chain:
            return None
        session = node.value
        chain.reverse()
        (first, call), rest = chain[0], [m for m, _ in chain[1:]]
        args = [a.value for a in call.args if a.keyword is None and not a.star]
        if first in ("get", "get_one", "merge"):
            if rest:
                return None
            entity, model = entity_of(args[0]) if args and first != "merge" else (True, None)
            return LoadedObject(session, model, entity=True if first == "merge" else entity) if entity is not False else None
        if first == "query":
            if len(args) != 1 or not (rest or iterated):
                return None  # several entities: rows, not objects; or a Query nobody ran yet
            entity, model = entity_of(args[0])
            if iterated and all(m in RESULT_PASSTHROUGH for m in rest):
                rest = [*rest, "all"]
            terminal = rest[-1]
            if entity is False or not all(m in RESULT_PASSTHROUGH for m in rest[:-1]):
                return None
            if terminal not in SINGLE_TERMINALS and terminal != "all":
                return None
            eager = loader_targets(c for _, c in chain)
            return LoadedObject(session, model, eager, collection=terminal == "all", entity=entity)
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
            entity, model, eager = self.statement_info(args[0], state)
            if entity is False:
                return None
            return LoadedObject(session, model, eager, collection=not single, entity=entity)
        return None

    def helper_load(self, call: cst.BaseExpression, state: FlowState, evaluated: bool = False) -> LoadedObject | None:
        """A project function given the open session that returns what it loaded from it
        (`organization_service.get_all(db_session=db)`), found by reading its source."""
        if not isinstance(call, cst.Call):
            return None
        sessions = [a.value.value for a in call.args
                    if isinstance(a.value, cst.Name) and state.open_session(a.value.value)]
        if len(sessions) != 1:
            return None
        from ..models import project_loader

        for name in sorted(self.file.qualified_names(call.func)):
            loader = project_loader(name, self.file.path, self.file.config.root)
            if loader is not None and (evaluated or not loader.query):
                # an unevaluated Query iterated later re-runs, on a reopened session (not detached objects)
                return LoadedObject(sessions[0], loader.model, collection=loader.collection, entity=True)
        return None

    def statement_info(self, stmt: cst.BaseExpression, state: FlowState) -> tuple[bool | None, str | None, frozenset]:
        """Entity, model and eager loads of a `select(...)` statement (or a variable holding one)."""
        exprs: list[cst.BaseExpression] = [stmt]
        if isinstance(stmt, cst.Name):
            exprs = list(state.values.get(stmt.value, ()))
        entity: bool | None = None
        model: str | None = None
        for expr in exprs:
            node = expr
            while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                node = node.func.value
            if isinstance(node, cst.Call) and leaf_name(node.func) == "select" and node.args:
                if len(node.args) == 1:
                    entity, model = entity_of(node.args[0].value)
                else:
                    entity = False
        return entity, model, loader_targets(exprs)

    def element_of(self, iterable: cst.BaseExpression, state: FlowState) -> LoadedObject | None:
        if isinstance(iterable, cst.Name):
            obj = state.objects.get(iterable.value)
        else:
            obj = self.load(iterable, state, iterated=True)
        if obj is not None and obj.collection:
            return replace(obj, collection=False)
        return None
