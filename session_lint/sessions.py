"""What opens a session: the predicates SES001-SES006 share.

All of them take the rule (for name resolution and configuration) and a node
of the module it is visiting.
"""

from __future__ import annotations

import ast
import enum
from functools import lru_cache
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
        return name, context_manager_commits(rule, call)
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


def context_manager_commits(rule: Rule, call: cst.CSTNode) -> bool:
    """Does the (house) context manager called here commit at exit? Read from its source when the
    project defines it (some only close: `try: yield s finally: s.close()`); assumed when unknown."""
    from .project import find_module_source, search_roots

    if not isinstance(call, cst.Call):
        return True
    for name in rule.qualified_names(call.func):
        module, _, function = name.rpartition(".")
        source = find_module_source(module, search_roots(rule.context.path, rule.config.root)) if module else None
        if source is not None:
            commits = _function_commits(source, source.stat().st_mtime_ns, function)
            if commits is not None:
                return commits
    return True


@lru_cache(maxsize=256)
def _function_commits(path, mtime_ns: int, function: str) -> bool | None:
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            if not any(isinstance(sub, (ast.Yield, ast.YieldFrom)) for sub in ast.walk(node)):
                return None  # not a generator-based context manager (a stub, a class...): unknown
            return any(isinstance(sub, ast.Attribute) and sub.attr in ("commit", "begin") for sub in ast.walk(node))
    return None


def session_expires_on_commit(rule: Rule, call: cst.CSTNode) -> bool:
    """`expire-on-commit` from the configuration, unless the call says otherwise
    (`Session(engine, expire_on_commit=False)`)."""
    if isinstance(call, cst.Call):
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "expire_on_commit" and isinstance(arg.value, cst.Name):
                if arg.value.value in ("True", "False"):
                    return arg.value.value == "True"
    return rule.config.expire_on_commit
