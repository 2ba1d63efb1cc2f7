"""FastAPI awareness: route functions, sessions injected with `Depends`, adding a dependency parameter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from .codemod import name_import
from ..diagnostics import ImportSpec
from .knowledge import (
    ANNOTATED,
    APP_CLASSES,
    ASYNC_SESSION_CLASSES,
    DEPENDS,
    ROUTE_METHODS,
    SESSION_CLASSES,
)
from .names import dotted_name
from .project import annotated_aliases, find_module_source
from .sessions import Flavor, is_dependency

if TYPE_CHECKING:
    from .model import FileModel



@dataclass(frozen=True)
class Injected:
    """A parameter through which FastAPI hands the function a session."""

    name: str
    flavor: Flavor
    param: cst.Param


def _module_assignments(module: cst.Module) -> dict[str, cst.BaseExpression]:
    """Top-level `name = value` / `name: T = value` of a module."""
    found: dict[str, cst.BaseExpression] = {}
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Assign) and small.value is not None:
                for target in small.targets:
                    if isinstance(target.target, cst.Name):
                        found[target.target.value] = small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None and isinstance(small.target, cst.Name):
                found[small.target.value] = small.value
    return found


def _assignments(file: FileModel) -> dict[str, cst.BaseExpression]:
    return file.memo("module_assignments", lambda: _module_assignments(file.module))


def is_route(file: FileModel, func: cst.FunctionDef) -> bool:
    """Decorated with `@<app or router>.get/post/.../api_route/websocket(...)`."""
    for decorator in func.decorators:
        call = decorator.decorator
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                and call.func.attr.value in ROUTE_METHODS):
            continue
        owner = call.func.value
        if isinstance(owner, cst.Name) and owner.value in _assignments(file):
            value = _assignments(file)[owner.value]
            if isinstance(value, cst.Call) and file.qualified_names(value.func) & APP_CLASSES:
                return True
            continue  # a known object that is not an app or router (Flask, a cache, ...)
        return True  # imported or attribute: cannot resolve, trust the decorator's shape
    return False


def is_websocket(func: cst.FunctionDef) -> bool:
    """A websocket handler (`@router.websocket(...)`, or a `WebSocket` parameter): it lives as long as
    the connection, so a session injected into it is held for the connection's whole life."""
    for decorator in func.decorators:
        call = decorator.decorator
        target = call.func if isinstance(call, cst.Call) else call
        if isinstance(target, cst.Attribute) and target.attr.value in ("websocket", "websocket_route"):
            return True
    p = func.params
    return any(param.annotation is not None and (dotted_name(param.annotation.annotation) or "")
               .rpartition(".")[2] == "WebSocket" for param in (*p.posonly_params, *p.params, *p.kwonly_params))


def _is_depends(file: FileModel, node: cst.BaseExpression | None) -> cst.Call | None:
    if not isinstance(node, cst.Call):
        return None
    names = file.qualified_names(node.func)
    if names & DEPENDS or (not names and dotted_name(node.func) in ("Depends", "fastapi.Depends")):
        return node
    return None


def _session_type_flavor(file: FileModel, node: cst.BaseExpression) -> Flavor | None:
    names = file.qualified_names(node)
    if names & SESSION_CLASSES or file.resolves_to(node, file.config.session_type):
        return Flavor.SYNC
    if names & ASYNC_SESSION_CLASSES or file.resolves_to(node, file.config.async_session_type):
        return Flavor.ASYNC
    return None


def _depends_flavor(file: FileModel, depends: cst.Call, annotation: cst.BaseExpression | None) -> Flavor | None:
    """A session dependency: the configured one, or any dependency of a Session-typed parameter."""
    if depends.args:
        flavor = is_dependency(file, depends.args[0].value)
        if flavor:
            return flavor
    if annotation is not None:
        return _session_type_flavor(file, annotation)
    return None


def _annotated_flavor(file: FileModel, node: cst.BaseExpression) -> Flavor | None:
    """`Annotated[Session, Depends(get_db)]`."""
    if not isinstance(node, cst.Subscript):
        return None
    if not (file.qualified_names(node.value) & ANNOTATED or dotted_name(node.value) == "Annotated"):
        return None
    elements = [e.slice.value for e in node.slice if isinstance(e.slice, cst.Index)]
    if len(elements) < 2:
        return None
    for extra in elements[1:]:
        depends = _is_depends(file, extra)
        if depends:
            return _depends_flavor(file, depends, elements[0])
    return None


def _alias_flavor(file: FileModel, node: cst.BaseExpression) -> Flavor | None:
    """`DbSession` where `DbSession = Annotated[Session, Depends(get_db)]` here or in a project module."""
    if not isinstance(node, cst.Name):
        return None
    local = _assignments(file).get(node.value)
    here = f"{file.module_name}.{node.value}"
    names = file.qualified_names(node)
    if local is not None and (here in names or not names):
        return _annotated_flavor(file, local)
    for qualified in names:
        module, _, leaf = qualified.rpartition(".")
        if module and module not in (file.module_name, "builtins", "typing"):
            return _imported_alias_flavor(file, module, leaf)
    return None


def _imported_alias_flavor(file: FileModel, module: str, name: str) -> Flavor | None:
    """Read the alias's definition from the project module's source (spelling level); once per name and file
    (every annotation of every parameter asks)."""
    known = file.memo("imported_alias_flavors", dict)
    if (module, name) not in known:
        known[module, name] = _read_imported_alias_flavor(file, module, name)
    return known[module, name]


def _read_imported_alias_flavor(file: FileModel, module: str, name: str) -> Flavor | None:
    source = find_module_source(module, file.project_roots())
    if source is None:
        return None
    alias = annotated_aliases(source).get(name)
    if alias is None:
        return None
    first, target = alias
    config = file.config
    if target in {d.rpartition(".")[2] for d in config.dependencies}:
        return Flavor.SYNC
    if target in {d.rpartition(".")[2] for d in config.async_dependencies}:
        return Flavor.ASYNC
    if first in ("AsyncSession", config.async_session_type.rpartition(".")[2]):
        return Flavor.ASYNC
    if first in ("Session", config.session_type.rpartition(".")[2]):
        return Flavor.SYNC
    return None


def injected_sessions(file: FileModel, func: cst.FunctionDef) -> list[Injected]:
    """Parameters that receive a session from FastAPI's dependency injection."""
    found = []
    params = func.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        annotation = param.annotation.annotation if param.annotation else None
        flavor = None
        depends = _is_depends(file, param.default)
        if depends is not None:
            flavor = _depends_flavor(file, depends, annotation)
        elif annotation is not None:
            flavor = _annotated_flavor(file, annotation) or _alias_flavor(file, annotation)
        if flavor:
            found.append(Injected(param.name.value, flavor, param))
    return found


def parameter_names(func: cst.FunctionDef) -> set[str]:
    p = func.params
    names = {x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)}
    for star in (p.star_arg, p.star_kwarg):
        if isinstance(star, cst.Param):
            names.add(star.name.value)
    return names


def add_dependency_param(file: FileModel, func: cst.FunctionDef, name: str, flavor: Flavor,
                         ) -> tuple[cst.Parameters, tuple[ImportSpec, ...]]:
    """`name: Session = Depends(get_db)` appended to the signature, and the imports it needs."""
    config = file.config
    sync = flavor is Flavor.SYNC
    type_name, type_import = name_import(config.session_type if sync else config.async_session_type, "")
    dep_name, dep_import = name_import(config.dependency if sync else config.async_dependency,
                                       config.session_module)
    param = cst.Param(
        name=cst.Name(name),
        annotation=cst.Annotation(type_name),
        default=cst.Call(func=cst.Name("Depends"), args=[cst.Arg(dep_name)]),
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(" "),
                              whitespace_after=cst.SimpleWhitespace(" ")),
    )
    params = func.params
    use_kwonly = isinstance(params.star_arg, cst.Param) or bool(params.kwonly_params)
    existing = list(params.kwonly_params if use_kwonly else params.params)
    if existing:
        last = existing[-1]
        param = param.with_changes(comma=last.comma)  # whatever followed the last one follows ours
        if len(existing) > 1 and isinstance(existing[-2].comma, cst.Comma):
            between = existing[-2].comma  # the signature's own separator (one per line or not)
        elif isinstance(last.comma, cst.Comma) and isinstance(last.comma.whitespace_after,
                                                                cst.ParenthesizedWhitespace):
            between = cst.Comma(whitespace_after=func.whitespace_before_params)  # `(\n    a,\n)`
        else:
            between = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        existing[-1] = last.with_changes(comma=between)
    existing.append(param)
    new_params = params.with_changes(**{"kwonly_params" if use_kwonly else "params": existing})
    imports = (ImportSpec("fastapi", "Depends"), type_import, dep_import)
    return new_params, imports


def injected_dependency(file: FileModel, param: cst.Param) -> set[str]:
    """The dotted names the dependency of an injected parameter may be: `Depends(dep)` as its default,
    in `Annotated[T, Depends(dep)]`, or in an alias of that here or in a project module (whose
    dependency is named as that module sees it: `definition()` follows its imports)."""
    depends = _is_depends(file, param.default)
    annotation = param.annotation.annotation if param.annotation else None
    if depends is None and isinstance(annotation, cst.Name):
        local = _assignments(file).get(annotation.value)
        names = file.qualified_names(annotation)
        if local is not None and (f"{file.module_name}.{annotation.value}" in names or not names):
            annotation = local
        else:
            for qualified in names:
                module, _, leaf = qualified.rpartition(".")
                source = find_module_source(module, file.project_roots()) if module else None
                alias = annotated_aliases(source).get(leaf) if source else None
                if alias is not None and alias[1]:
                    return {f"{module}.{alias[1]}"}
            return set()
    if depends is None and isinstance(annotation, cst.Subscript):
        extras = [e.slice.value for e in annotation.slice[1:] if isinstance(e.slice, cst.Index)]
        depends = next((d for d in map(lambda e: _is_depends(file, e), extras) if d is not None), None)
    if depends is None or not depends.args:
        return set()
    return file.qualified_names(depends.args[0].value)
