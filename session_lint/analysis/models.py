"""Relationship and deferred-column names of the ORM model classes a module can see.

Used by SES005 when objects are detached but not expired (`expire-on-commit = false`,
or a session that closed without committing): then only attributes that were never
loaded fail, i.e. lazy relationships and deferred columns. Read with `ast`, never
imported: the linted module itself, plus the project modules it imports from
(following re-exports a few levels, e.g. `app/models/__init__.py`).
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from .ast_imports import imported_names
from .knowledge import (
    EAGER_LAZY_VALUES,
    QUERY_PASSTHROUGH_METHODS,
    SINGLE_RESULT_METHODS,
)
from .names import module_name_for
from .project import find_module_source, module_file, search_roots, stamped
from . import newer_syntax

MAX_MODULES = 40  # keep the scan cheap on large projects


@dataclass
class ModelInfo:
    relationships: dict[str, bool] = field(default_factory=dict)  # name -> eager by default
    lazy: dict[str, str | None] = field(default_factory=dict)  # relationship -> its `lazy=` (None: default)
    deferred: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)
    bases: tuple[str, ...] = ()


class ModelRegistry:
    def __init__(self, models: dict[str, ModelInfo]) -> None:
        self.models = models
        self.lazy_relationships = {n for m in models.values() for n, eager in m.relationships.items() if not eager}
        self.all_columns = {c for m in models.values() for c in m.columns}
        self.all_deferred = {c for m in models.values() for c in m.deferred}

    def _lookup(self, model: str, attr: str, seen: set[str]) -> str | None:
        info = self.models.get(model)
        if info is None or model in seen:
            return None
        seen.add(model)
        if attr in info.relationships:
            return "eager-relationship" if info.relationships[attr] else "relationship"
        if attr in info.deferred:
            return "deferred"
        if attr in info.columns:
            return "column"
        for base in info.bases:
            kind = self._lookup(base, attr, seen)
            if kind:
                return kind
        return None

    def lazy_strategy(self, model: str, attr: str, seen: set[str] | None = None) -> str | None:
        """`attr`'s `lazy=` when it is a relationship of the known class `model` (or of a base):
        "select" for the default; None when it is not one (or the class is unknown)."""
        info = self.models.get(model)
        seen = set() if seen is None else seen
        if info is None or model in seen:
            return None
        seen.add(model)
        if attr in info.relationships:
            return info.lazy.get(attr) or ("select" if not info.relationships[attr] else "joined")
        for base in info.bases:
            found = self.lazy_strategy(base, attr, seen)
            if found:
                return found
        return None

    def attribute_kind(self, model: str | None, attr: str) -> str | None:
        """"relationship" (lazy), "eager-relationship", "deferred", "column", or None (unknown)."""
        if model and model in self.models:
            return self._lookup(model, attr, set())
        # unknown model: only a name that is a lazy relationship and never a column anywhere
        if attr in self.lazy_relationships and attr not in self.all_columns:
            return "relationship"
        if attr in self.all_deferred and attr not in self.all_columns:
            return "deferred"
        return None


# -- reading one module ------------------------------------------------------------

def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            return func.attr
        if isinstance(func, ast.Name):
            return func.id
    return ""


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_eager(call: ast.Call) -> bool:
    return _lazy(call) in EAGER_LAZY_VALUES


def _lazy(call: ast.Call) -> str | None:
    """A `relationship(...)`'s loader strategy (`lazy="selectin"`, SQLModel's `sa_relationship_kwargs`)."""
    lazy = _string(_keyword(call, "lazy"))
    kwargs = _keyword(call, "sa_relationship_kwargs")  # SQLModel
    if isinstance(kwargs, ast.Dict):
        for key, value in zip(kwargs.keys, kwargs.values):
            if _string(key) == "lazy":
                lazy = _string(value)
    return lazy


def _target_class(call: ast.Call) -> str | None:
    """`relationship("Address")` / `relationship(Address)` -> "Address"."""
    if not call.args:
        return None
    arg = call.args[0]
    text = _string(arg) or (arg.id if isinstance(arg, ast.Name) else None)
    return text.rsplit(".", 1)[-1] if text else None


def _backref(call: ast.Call) -> str | None:
    value = _keyword(call, "backref")
    if isinstance(value, ast.Call) and value.args:
        return _string(value.args[0])
    return _string(value)


@dataclass
class ModuleModels:
    classes: dict[str, ModelInfo]
    backrefs: list[tuple[str, str]]  # (target class, attribute name)
    imports: list[tuple[str, str | None]]  # (absolute module, imported name or None for a module)


_STATEMENT_LEVEL = (ast.stmt, ast.excepthandler, ast.match_case)


def _statements(tree: ast.Module) -> Iterator[ast.AST]:
    """The statements of `tree` (and the except / case clauses holding some) in `ast.walk`'s order:
    imports and classes are statements, and statements only ever sit in lists of statements or
    clauses, so the expressions (nine nodes in ten) need not be walked. Same order, so the same
    first import and last class win."""
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        yield node
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                todo.extend(item for item in value if isinstance(item, _STATEMENT_LEVEL))


def read_module(tree: ast.Module, package: str) -> ModuleModels:
    classes: dict[str, ModelInfo] = {}
    backrefs: list[tuple[str, str]] = []
    imports: list[tuple[str, str | None]] = []
    for node in _statements(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.extend((imported.module, imported.name) for imported in imported_names([node], package)
                           if imported.module)
        elif isinstance(node, ast.ClassDef):
            info = ModelInfo(bases=tuple(b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
                                         for b in node.bases))
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    target, value, annotated = stmt.targets[0].id, stmt.value, False
                elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    target, value, annotated = stmt.target.id, stmt.value, True
                else:
                    continue
                kind = _call_name(value).lower() if value is not None else ""
                if kind == "relationship":
                    info.relationships[target] = _is_eager(value)
                    info.lazy[target] = _lazy(value)
                    other, back = _target_class(value), _backref(value)
                    if other and back:
                        backrefs.append((other, back))
                elif kind == "deferred" or (kind in {"mapped_column", "column_property", "column"}
                                            and isinstance(_keyword(value, "deferred"), ast.Constant)
                                            and _keyword(value, "deferred").value is True):
                    info.deferred.add(target)
                elif value is not None and kind or annotated:
                    info.columns.add(target)
            if info.relationships or info.deferred or info.columns:
                classes[node.name] = info
    return ModuleModels(classes, backrefs, imports)


@lru_cache(maxsize=512)
def _read_file(path: Path, mtime_ns: int, package: str) -> ModuleModels | None:
    try:
        tree = newer_syntax.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    return read_module(tree, package)


def _read_path(path: Path) -> ModuleModels | None:
    stamp = stamped(path)
    return _read_file(*stamp, module_name_for(path).package) if stamp is not None else None


def registry_for(source: str, path: str, config_root: Path | None) -> ModelRegistry:
    """Models of the linted module and of the project modules it imports names from."""
    try:
        tree = newer_syntax.parse(source)
    except (SyntaxError, ValueError):
        return ModelRegistry({})
    return registry_for_tree(tree, path, config_root)


def registry_for_tree(tree: ast.Module, path: str, config_root: Path | None) -> ModelRegistry:
    """`registry_for` the module parsed as `tree` (the screen's parse)."""
    own = read_module(tree, module_name_for(path).package)
    roots = search_roots(path, config_root)
    classes = dict(own.classes)
    backrefs = list(own.backrefs)
    seen: set[tuple[Path, str | None]] = set()
    queue = [(module, name, 0) for module, name in own.imports]
    while queue and len(seen) < MAX_MODULES:
        module, name, depth = queue.pop(0)
        source_path = find_module_source(module, roots)
        if source_path is None and name is not None:  # `from app import models`: a submodule
            source_path = find_module_source(f"{module}.{name}", roots)
            name = None
        if source_path is None or (source_path, name) in seen:
            continue
        seen.add((source_path, name))
        found = _read_path(source_path)
        if found is None:
            continue
        for cls, info in found.classes.items():
            classes.setdefault(cls, info)
        backrefs.extend(found.backrefs)
        if depth < 3:  # re-exports: `from .user import User` in a models package
            queue.extend((m, n, depth + 1) for m, n in found.imports if name is None or n in (name, "*"))
    for cls, attr in backrefs:
        if cls in classes and attr not in classes[cls].relationships:
            # a copy: the class may be a cached module's, which another file's registry reads too
            info = classes[cls]
            classes[cls] = replace(info, relationships={**info.relationships, attr: False})
    return ModelRegistry(classes)


# -- project functions that hand out ORM objects (repository / service helpers) ----------

@dataclass(frozen=True)
class Loader:
    """What a project function returns when it returns ORM objects loaded from its session argument."""

    model: str | None
    collection: bool
    query: bool = False  # an unevaluated Query: it runs (on whatever session) when iterated




def _model_of(node: ast.AST | None) -> tuple[bool, str | None]:
    """(is an entity?, model name) for the argument of query()/get()/select()."""
    if isinstance(node, ast.Name) and node.id[:1].isupper():
        return True, node.id
    if isinstance(node, ast.Attribute) and node.attr[:1].isupper():
        return True, node.attr
    return False, None


def _loaded_by(expr: ast.AST | None, params: set[str], assigned: dict[str, ast.AST], depth: int = 0) -> Loader | None:
    """Does `expr` load ORM objects from one of the function's parameters (its session)?"""
    while isinstance(expr, ast.Await):
        expr = expr.value
    if isinstance(expr, ast.Name) and expr.id in assigned and depth < 3:
        return _loaded_by(assigned[expr.id], params, assigned, depth + 1)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "list" and expr.args:
        inner = _loaded_by(expr.args[0], params, assigned, depth + 1)
        return Loader(inner.model, True) if inner else None  # evaluated here
    chain: list[tuple[str, ast.Call]] = []
    node = expr
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        chain.append((node.func.attr, node))
        node = node.func.value
        while isinstance(node, ast.Await):
            node = node.value
    if not (isinstance(node, ast.Name) and node.id in params) or not chain:
        return None
    chain.reverse()
    (first, call), rest = chain[0], [m for m, _ in chain[1:]]
    arg = call.args[0] if call.args else None
    if first in ("get", "get_one") and not rest:
        entity, model = _model_of(arg)
        return Loader(model, False) if entity else None
    if first == "query" and len(call.args) == 1:
        entity, model = _model_of(arg)
        if not entity or not all(m in QUERY_PASSTHROUGH_METHODS for m in rest[:-1]):
            return None
        if not rest or rest[-1] in QUERY_PASSTHROUGH_METHODS:
            return Loader(model, True, query=True)
        if rest[-1] == "all":
            return Loader(model, True)
        return Loader(model, False) if rest[-1] in SINGLE_RESULT_METHODS else None
    if first in ("scalars", "execute", "scalar", "exec"):
        if first == "execute":
            if not rest or rest[0] not in ("scalars", "scalar_one", "scalar_one_or_none"):
                return None
            rest = rest[1:] if rest[0] == "scalars" else rest
        stmt = arg
        if isinstance(stmt, ast.Name) and stmt.id in assigned:
            stmt = assigned[stmt.id]
        while isinstance(stmt, ast.Call) and isinstance(stmt.func, ast.Attribute):
            stmt = stmt.func.value
        if not (isinstance(stmt, ast.Call) and _call_name(stmt) == "select" and len(stmt.args) == 1):
            return None
        entity, model = _model_of(stmt.args[0])
        if not entity:
            return None
        single = first == "scalar" or bool(rest) and rest[-1] in SINGLE_RESULT_METHODS
        return Loader(model, not single)
    return None


def _function_loader(func: ast.FunctionDef | ast.AsyncFunctionDef) -> Loader | None:
    args = func.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    assigned: dict[str, ast.AST] = {}
    returns: list[ast.AST] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            returns.append(node.value)
        elif isinstance(node, (ast.Yield, ast.YieldFrom)):
            return None
    loaders = [_loaded_by(value, params, assigned) for value in returns]
    if not loaders or any(loader is None for loader in loaders):
        return None  # every value it returns must be loaded objects
    return loaders[0]


@lru_cache(maxsize=512)
def _module_functions(path: Path, mtime_ns: int) -> dict[str, Loader | None]:
    try:
        tree = newer_syntax.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return {}
    return {node.name: _function_loader(node) for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def project_loader(qualified_name: str, path: str, config_root: Path | None) -> Loader | None:
    """`dispatch.organization.service.get_all` -> what it returns, when it returns ORM objects."""
    module, _, function = qualified_name.rpartition(".")
    if not module:
        return None
    stamp = module_file(module, search_roots(path, config_root))
    if stamp is None:
        return None
    return _module_functions(*stamp).get(function)
