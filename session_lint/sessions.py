"""What opens a session: the predicates SES001-SES006 share.

All of them take the rule (for name resolution and configuration) and a node
of the module it is visiting.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import libcst as cst

if TYPE_CHECKING:
    from .rules.base import Rule

# Classes whose call creates a raw session, whatever the configuration says.
SESSION_CLASSES = frozenset({
    "sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session",
    "sqlmodel.Session", "sqlmodel.orm.session.Session",
})
ASYNC_SESSION_CLASSES = frozenset({
    "sqlalchemy.ext.asyncio.AsyncSession", "sqlalchemy.ext.asyncio.session.AsyncSession",
    "sqlmodel.ext.asyncio.session.AsyncSession",
})
SESSIONMAKERS = frozenset({"sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker"})
ASYNC_SESSIONMAKERS = frozenset({
    "sqlalchemy.ext.asyncio.async_sessionmaker", "sqlalchemy.ext.asyncio.session.async_sessionmaker",
})
REGISTRIES = SESSIONMAKERS | ASYNC_SESSIONMAKERS | frozenset({
    "sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session",
    "sqlalchemy.ext.asyncio.async_scoped_session", "sqlalchemy.ext.asyncio.scoping.async_scoped_session",
})


class Flavor(enum.Enum):
    SYNC = "sync"
    ASYNC = "async"


def raw_session_call(rule: Rule, node: cst.CSTNode) -> Flavor | None:
    """Does this call create a raw session by hand? (`SessionLocal()`, `Session(engine)`,
    `sessionmaker(bind=e)()`, `next(get_db())`.) Returns its flavour."""
    if not isinstance(node, cst.Call):
        return None
    config = rule.config
    func = node.func
    if isinstance(func, cst.Call):  # sessionmaker(bind=e)()
        names = rule.qualified_names(func.func)
        if names & SESSIONMAKERS:
            return Flavor.SYNC
        if names & ASYNC_SESSIONMAKERS:
            return Flavor.ASYNC
        return None
    names = rule.qualified_names(func)
    if names & SESSION_CLASSES:
        return Flavor.SYNC
    if names & ASYNC_SESSION_CLASSES:
        return Flavor.ASYNC
    if rule.resolves_to(func, config.session_factories):
        return Flavor.SYNC
    if rule.resolves_to(func, config.async_session_factories):
        return Flavor.ASYNC
    if (names & {"builtins.next", "next"} or (not names and _spelled(func, "next"))) and node.args:
        inner = node.args[0].value
        if isinstance(inner, cst.Call) and rule.resolves_to(inner.func, config.dependency):
            return Flavor.SYNC  # a dependency generator driven by hand
    return None


def managed_session_call(rule: Rule, node: cst.CSTNode) -> Flavor | None:
    """Is this a call of the house context manager (`get_db_session()` / `get_async_session()`)?"""
    if not isinstance(node, cst.Call):
        return None
    if rule.resolves_to(node.func, rule.config.context_manager):
        return Flavor.SYNC
    if rule.resolves_to(node.func, rule.config.async_context_manager):
        return Flavor.ASYNC
    return None


def opens_session(rule: Rule, node: cst.CSTNode) -> Flavor | None:
    """Any call that opens a new session: by hand or through the context manager."""
    return raw_session_call(rule, node) or managed_session_call(rule, node)


def is_dependency(rule: Rule, node: cst.CSTNode) -> Flavor | None:
    """Is `node` the configured FastAPI dependency (`get_db` / `get_async_db`)?"""
    if rule.resolves_to(node, rule.config.dependency):
        return Flavor.SYNC
    if rule.resolves_to(node, rule.config.async_dependency):
        return Flavor.ASYNC
    return None


def is_registry_call(rule: Rule, node: cst.CSTNode) -> bool:
    """`sessionmaker(...)`, `async_sessionmaker(...)`, `scoped_session(...)`: the recommended registries."""
    return (isinstance(node, cst.Call) and not isinstance(node.func, cst.Call)
            and bool(rule.qualified_names(node.func) & REGISTRIES))


def session_block_target(rule: Rule, item: cst.WithItem) -> tuple[str, Flavor] | None:
    """For `with <session-opening call> as name:` return (name, flavour)."""
    flavor = opens_session(rule, item.item)
    if flavor and item.asname and isinstance(item.asname.name, cst.Name):
        return item.asname.name.value, flavor
    return None


def _spelled(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


# -- session blocks, for the flow analysis of SES005/SES006 ------------------------

def session_block_opening(rule: Rule, item: cst.WithItem) -> tuple[str, bool] | None:
    """For a `with` item that opens a session bound to a name, return (name, commits at exit).

    The house context manager and `sessionmaker.begin()` / `Factory.begin()` commit when the
    block ends; a raw `with SessionLocal() as db:` / `with Session(engine) as s:` only closes.
    """
    if not (item.asname and isinstance(item.asname.name, cst.Name)):
        return None
    name = item.asname.name.value
    call = item.item
    if managed_session_call(rule, call):
        return name, True
    if raw_session_call(rule, call):
        return name, False
    if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "begin" and _is_session_factory(rule, call.func.value)):
        return name, True  # `with SessionLocal.begin() as db:`
    return None


def _is_session_factory(rule: Rule, node: cst.CSTNode) -> bool:
    config = rule.config
    return (rule.resolves_to(node, config.session_factories)
            or rule.resolves_to(node, config.async_session_factories)
            or is_registry_call(rule, node))


def is_session_annotation(rule: Rule, annotation: cst.BaseExpression | None) -> bool:
    """Is this annotation the (async) session type (`Session`, `AsyncSession`, the configured ones)?"""
    if annotation is None:
        return False
    if isinstance(annotation, cst.Subscript):  # Annotated[Session, Depends(get_db)]
        elements = annotation.slice
        if not elements or not isinstance(elements[0].slice, cst.Index):
            return False
        annotation = elements[0].slice.value
    names = rule.qualified_names(annotation)
    config = rule.config
    return bool(names & (SESSION_CLASSES | ASYNC_SESSION_CLASSES)) or rule.resolves_to(
        annotation, (config.session_type, config.async_session_type))
