"""Reading a project module for the scan: its `ast`, its imports, and the predicates on its expressions."""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..ast_imports import import_bindings, imported_names
from ...discovery import discover, is_test_path
from ..knowledge import (
    BUILDER_FLAVORS,
    CONTEXT_MANAGER_DECORATORS,
    SCOPED_BUILDER_LEAVES,
    SESSION_CONSTRUCTORS,
)
from ..names import module_name_for
from .. import newer_syntax



# `Session`, `AsyncSession`, `AsyncReadSession`, ... but not `UserSession` (a model)
_SESSION_TYPE_RE = re.compile(r"^(Async|Sync)?(Read|Write|ReadOnly|ReadWrite|Db|DB|Database|Orm|SQL)?Session$")
# names of the SQLAlchemy API itself never become configured names (a bare name matches by its last part)
_RESERVED = set(BUILDER_FLAVORS) | {"Session", "AsyncSession", "session", "db"}



# -- per-module facts -----------------------------------------------------------------

@dataclass
class _Module:
    path: Path
    rel: str
    name: str
    package: str
    tree: ast.Module
    text: str
    imports: dict[str, str] = field(default_factory=dict)
    nodes: list[ast.AST] = field(default_factory=list)  # every node, walked once

    def qualify(self, node: ast.AST | None) -> str | None:
        """The dotted name an expression refers to, through this module's imports."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self.imports.get(node.id)
        if base is None:
            base = f"{self.name}.{node.id}" if node.id in self.defined else node.id
        return ".".join([base, *parts])

    @property
    def defined(self) -> set[str]:
        if not hasattr(self, "_defined"):
            names = set()
            for stmt in self.tree.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(stmt.name)
                elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
                elif sys.version_info >= (3, 12) and isinstance(stmt, ast.TypeAlias):
                    names.add(stmt.name.id)
            self._defined = names
        return self._defined


def _read_imports(module: _Module) -> None:
    # above the top-level package: keep the module as written
    module.imports.update(import_bindings(module.nodes, module.package, keep_unresolved=True))


def _load(root: Path) -> list[_Module]:
    modules = []
    for path in discover([root], lambda p: False):
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            rel = path.as_posix()
        if _is_test(rel):
            continue  # fixtures and fakes are not the project's conventions
        try:
            data = path.read_bytes()
        except OSError:
            continue
        tree = _parse(data, str(path))
        if tree is None:
            continue  # the linter reports unparsable files; --init just skips them
        naming = module_name_for(path)
        modules.append(_Module(path, rel, naming.name, naming.package, tree,
                               data.decode("utf-8", errors="replace"), nodes=list(ast.walk(tree))))
    prefix = _import_root_prefix(modules, root)
    for module in modules:
        if prefix and module.name.startswith(prefix + "."):
            module.name = module.name[len(prefix) + 1:]
            module.package = module.package[len(prefix) + 1:] if module.package != prefix else ""
        _read_imports(module)
    return modules


def _import_root_prefix(modules: list[_Module], root: Path) -> str:
    """The packages above `root` that `__init__.py` chains put in front of module names (`backend`
    for atom's backend/core/database.py) when the project's own absolute imports leave them out
    (`from core.database import SessionLocal`: it runs with `root` on sys.path). Configured names
    must be spelled the way the code imports them. "" when the imports use the full names."""
    if not ((root / "__init__.py").exists() or (root / "__init__.pyi").exists()):
        return ""
    prefix = module_name_for(root / "__init__.py").name
    names = {module.name for module in modules}
    as_written = with_prefix = 0
    for module in modules:
        seen_from: set[int] = set()  # a `from m import a, b` names its module once
        for imported in imported_names(module.nodes):
            if imported.is_from:
                if imported.level or not imported.written or id(imported.node) in seen_from:
                    continue
                seen_from.add(id(imported.node))
            target = imported.written
            as_written += target in names
            with_prefix += f"{prefix}.{target}" in names and target not in names
    return prefix if with_prefix > as_written else ""


def _parse(data: bytes, filename: str) -> ast.Module | None:
    try:
        return newer_syntax.parse(data, filename=filename)
    except (SyntaxError, ValueError, RecursionError):
        return None


def _is_test(rel: str) -> bool:
    return is_test_path(rel)


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """The statements that run at module level: the body, and the bodies of module-level `try`,
    `if` and `with` blocks (atom builds `AsyncSessionLocal` inside `try: import aiosqlite ...`)."""
    found, stack = [], list(reversed(tree.body))
    while stack:
        stmt = stack.pop()
        found.append(stmt)
        if isinstance(stmt, (ast.If, ast.Try, ast.With)) or type(stmt).__name__ == "TryStar":
            blocks = [stmt.body, getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])]
            blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
            for block in reversed(blocks):
                stack.extend(reversed(block))
    return found


def _own_nodes(fn: ast.AST) -> list[ast.AST]:
    """The nodes of a function body, without those of nested functions, lambdas and classes."""
    found, stack = [], list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        found.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return found


# -- expression predicates ------------------------------------------------------------

def _returned_context_manager(module: _Module, fn) -> tuple[str, ast.AST] | None:
    """(flavor, inner function) for a plain function that builds a `@contextmanager` generator in its
    body and returns a call of it (atom's `get_db_session`): calling it gives a context manager."""
    inner = {stmt.name: stmt for stmt in fn.body if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for stmt in fn.body:
        if (isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id in inner):
            built = inner[stmt.value.func.id]
            for decorator in built.decorator_list:
                name = module.qualify(decorator.func if isinstance(decorator, ast.Call) else decorator)
                if name in CONTEXT_MANAGER_DECORATORS:
                    return CONTEXT_MANAGER_DECORATORS[name], built
    return None


def _builder_flavor(module: _Module, call: ast.AST) -> str | None:
    """`sessionmaker(...)` and friends (async when async_* or `class_=AsyncSession`)."""
    if not isinstance(call, ast.Call):
        return None
    qualified = module.qualify(call.func) or ""
    last = qualified.rsplit(".", 1)[-1]
    if last not in BUILDER_FLAVORS or not (qualified.startswith("sqlalchemy.") or qualified == last):
        return None
    flavor = BUILDER_FLAVORS[last]
    if last in SCOPED_BUILDER_LEAVES and call.args and _builder_flavor(module, call.args[0]):
        flavor = _builder_flavor(module, call.args[0])
    for kw in call.keywords:
        if kw.arg == "class_" and "Async" in (module.qualify(kw.value) or ""):
            flavor = "async"
    return flavor


def _expire_setting(call: ast.Call) -> bool | None:
    if isinstance(call.args[0] if call.args else None, ast.Call) and not call.keywords:
        return _expire_setting(call.args[0])  # scoped_session(sessionmaker(expire_on_commit=...))
    for kw in call.keywords:
        if kw.arg == "expire_on_commit" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool):
            return kw.value.value
    return None


def _is_session_type(module: _Module, node: ast.AST | None) -> str | None:
    """The qualified session class an annotation names (`Session`, `AsyncSession`, `AsyncReadSession`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(node, ast.Subscript):  # Iterator[Session], Generator[Session, None, None]
        inner = node.slice
        first = inner.elts[0] if isinstance(inner, ast.Tuple) and inner.elts else inner
        return _is_session_type(module, first)
    qualified = module.qualify(node)
    if qualified and (qualified in SESSION_CONSTRUCTORS or _SESSION_TYPE_RE.match(qualified.rsplit(".", 1)[-1])):
        return qualified
    return None


def flavor_of_type(qualified: str) -> str:
    return "async" if "Async" in qualified.rsplit(".", 1)[-1] or ".asyncio" in qualified else "sync"
