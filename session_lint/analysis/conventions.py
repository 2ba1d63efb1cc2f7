"""Discover a project's session conventions (what `session-lint --init` reports, and what the
rules read of a project module's factories and generators: `module_session_facts`).

The scan reads every Python file once with `ast` (no LibCST: this runs over whole
repositories) and resolves names through each module's imports, so
`from sqlalchemy.orm import sessionmaker as sm` and `import contextlib;
@contextlib.contextmanager` are found like the plain spellings. It looks for:

* session factories: `X = sessionmaker(...)` / `async_sessionmaker(...)` /
  `scoped_session(...)` at module level (or declared `global`), tuple unpacking,
  functions that build and return one, and lazy module `__getattr__` exports;
* context managers: `@contextmanager` / `@asynccontextmanager` functions that
  create a session, yield it and commit/rollback/close it;
* dependencies: generators that yield a session, functions used as
  `Depends(f)` for a session-typed parameter, and `Annotated[Session, Depends(f)]`
  aliases (ranked by how often the project uses them);
* `expire_on_commit=` given to a discovered factory;
* deprecated shims: modules that warn with `DeprecationWarning` and forward to the
  session module (renamed helpers become name entries).
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .ast_imports import import_bindings, imported_names
from ..discovery import discover, is_test_path
from .knowledge import (
    BUILDER_FLAVORS,
    CLEANUP_METHODS,
    CONTEXT_MANAGER_DECORATORS,
    SCOPED_BUILDER_LEAVES,
    SESSION_CONSTRUCTORS,
    annotated_dependency,
    commits,
)
from .names import module_name_for
from .project import same_behaviour

# `Session`, `AsyncSession`, `AsyncReadSession`, ... but not `UserSession` (a model)
_SESSION_TYPE_RE = re.compile(r"^(Async|Sync)?(Read|Write|ReadOnly|ReadWrite|Db|DB|Database|Orm|SQL)?Session$")
# names of the SQLAlchemy API itself never become configured names (a bare name matches by its last part)
_RESERVED = set(BUILDER_FLAVORS) | {"Session", "AsyncSession", "session", "db"}


@dataclass
class Origin:
    path: str  # relative to the scanned root, forward slashes
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Item:
    """One discovered helper: its bare name, qualified name, flavor and where it is defined."""

    name: str
    qualified: str
    flavor: str  # "sync" / "async"
    origin: Origin
    note: str = ""
    uses: int = 0
    commits: bool = False
    session_type: str | None = None
    # `expire_on_commit=` of the sessions a helper constructs itself (`Session(bind=e, expire_on_commit=False)`)
    expires: bool | None = None


@dataclass
class Discovery:
    root: Path
    files: int = 0
    factories: list[Item] = field(default_factory=list)
    context_managers: list[Item] = field(default_factory=list)
    dependencies: list[Item] = field(default_factory=list)
    aliases: list[tuple[str, Item]] = field(default_factory=list)  # (alias source, dependency)
    expire_on_commit: tuple[bool, Origin] | None = None
    deprecated: list[tuple[str, str, Origin]] = field(default_factory=list)
    # helpers of a deprecated module whose namesake in the new module behaves otherwise (atom's
    # `get_db_session(commit=False)` does not commit; the new one does): (old, new, origin)
    differing: list[tuple[str, str, Origin]] = field(default_factory=list)
    session_module: tuple[str, str] | None = None  # (dotted name, relative path)
    # functions and methods returning a session they construct (prefect's
    # `AsyncPostgresConfiguration.session()`: `return AsyncSession(engine, ...)`)
    session_makers: list[Item] = field(default_factory=list)
    migrations: list[Origin] = field(default_factory=list)  # Alembic env.py files


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


# Newer syntax than the running Python may know, rewritten line for line (names and
# line numbers stay): PEP 695 `type X = ...` and PEP 758 `except A, B:`.
_TYPE_ALIAS_RE = re.compile(rb"^(\s*)type\s+([A-Za-z_]\w*)\s*(?:\[[^\]=]*\])?\s*=", re.MULTILINE)
_EXCEPT_RE = re.compile(rb"^(\s*except\*?\s+)(?!\()([^:\n]+,[^:\n]+?)(\s+as\s+\w+)?\s*:", re.MULTILINE)


def _parse(data: bytes, filename: str) -> ast.Module | None:
    for attempt in (data, _downgrade(data)):
        try:
            return ast.parse(attempt, filename=filename)
        except (SyntaxError, ValueError, RecursionError):
            continue
    return None


def _downgrade(data: bytes) -> bytes:
    data = _TYPE_ALIAS_RE.sub(rb"\1\2 =", data)
    return _EXCEPT_RE.sub(lambda m: m.group(1) + b"(" + m.group(2) + b")" + (m.group(3) or b"") + b":", data)


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


# -- the scan -------------------------------------------------------------------------

class _Scanner:
    def __init__(self, root: Path, modules: list[_Module] | None = None) -> None:
        self.root = root
        self.modules = _load(root) if modules is None else modules
        self.result = Discovery(root=root, files=len(self.modules))
        self.factory_names: dict[str, Item] = {}  # qualified -> item
        self.factory_functions: dict[str, str] = {}  # qualified function returning a factory -> flavor
        self.factory_calls: dict[str, ast.Call] = {}  # ... and the sessionmaker(...) call it makes
        self.functions: dict[str, tuple[_Module, ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        self.deprecated_modules: set[str] = set()

    def run(self) -> Discovery:
        for module in self.modules:
            for node in _module_level(module.tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.functions[f"{module.name}.{node.name}"] = (module, node)
        self._find_deprecated()
        self._find_migrations()
        live = [m for m in self.modules if m.name not in self.deprecated_modules]
        builders = [m for m in live if "sessionmaker" in m.text or "scoped_session" in m.text]
        for module in builders:
            self._find_factory_functions(module)
        makers = tuple(name.rsplit(".", 1)[-1] for name in self.factory_functions)
        for module in live:
            if module in builders or any(name in module.text for name in makers):
                self._find_factories(module)
        for module in live:
            if "yield" in module.text:
                self._find_helpers(module)
            if "Session" in module.text or "sessionmaker" in module.text:
                self._find_session_makers(module)
        self._count_dependency_uses(live)
        self._choose_session_module()
        self._expiry_from_helpers()
        self._resolve_deprecated()
        return self.result

    def origin(self, module: _Module, node: ast.AST) -> Origin:
        return Origin(module.rel, getattr(node, "lineno", 1))

    # factories ---------------------------------------------------------------
    def _find_factory_functions(self, module: _Module) -> None:
        """Functions that build and return a sessionmaker (`create_async_sessionmaker(engine)`)."""
        for node in module.nodes:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = _own_nodes(node)
            assigned = {}
            for sub in body:
                if isinstance(sub, ast.Assign) and (flavor := _builder_flavor(module, sub.value)):
                    assigned.update({t.id: (flavor, sub.value) for t in sub.targets if isinstance(t, ast.Name)})
            for sub in body:
                if isinstance(sub, ast.Return) and sub.value is not None:
                    flavor, call = _builder_flavor(module, sub.value), sub.value
                    if flavor is None and isinstance(sub.value, ast.Name):
                        flavor, call = assigned.get(sub.value.id, (None, None))
                    if flavor:
                        self.factory_functions[f"{module.name}.{node.name}"] = flavor
                        self.factory_calls[f"{module.name}.{node.name}"] = call

    def _factory_flavor(self, module: _Module, value: ast.AST) -> str | None:
        flavor = _builder_flavor(module, value)
        if flavor is None and isinstance(value, ast.Call) and not isinstance(value.func, ast.Call):
            flavor = self.factory_functions.get(module.qualify(value.func) or "")
        return flavor

    def _add_factory(self, module: _Module, name: str, flavor: str, node: ast.AST, call: ast.AST,
                     note: str = "") -> None:
        if name in _RESERVED:
            return
        qualified = f"{module.name}.{name}"
        if qualified in self.factory_names:
            return
        item = Item(name, qualified, flavor, self.origin(module, node), note)
        self.factory_names[qualified] = item
        self.result.factories.append(item)
        if isinstance(call, ast.Call) and not _builder_flavor(module, call):
            call = self.factory_calls.get(module.qualify(call.func) or "", call)
        if isinstance(call, ast.Call):
            setting = _expire_setting(call)
            if setting is not None and self.result.expire_on_commit is None:
                self.result.expire_on_commit = (setting, item.origin)

    def _find_factories(self, module: _Module) -> None:
        globals_ = {n for node in module.nodes if isinstance(node, ast.Global) for n in node.names}
        top_level = set(map(id, _module_level(module.tree)))
        for node in module.nodes:
            if isinstance(node, ast.Assign):
                pairs = []
                for target in node.targets:
                    if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        pairs += zip(target.elts, node.value.elts)
                    else:
                        pairs.append((target, node.value))
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                pairs = [(node.target, node.value)]
            else:
                continue
            at_module_level = id(node) in top_level
            for target, value in pairs:
                if not isinstance(target, ast.Name) or not (at_module_level or target.id in globals_):
                    continue
                flavor = self._factory_flavor(module, value)
                if flavor:
                    self._add_factory(module, target.id, flavor, node, value)
        self._find_lazy_exports(module)
        self._find_configure_calls(module)

    def _find_lazy_exports(self, module: _Module) -> None:
        """`def __getattr__(name): if name == "AsyncSessionLocal": return _make_factory()`."""
        for fn in module.tree.body:
            if not (isinstance(fn, ast.FunctionDef) and fn.name == "__getattr__"):
                continue
            for node in ast.walk(fn):
                if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                        and len(node.test.comparators) == 1 and isinstance(node.test.ops[0], ast.Eq)):
                    continue
                constant = node.test.comparators[0]
                if not (isinstance(constant, ast.Constant) and isinstance(constant.value, str)):
                    continue
                for stmt in node.body:
                    if isinstance(stmt, ast.Return) and stmt.value is not None:
                        flavor = self._factory_flavor(module, stmt.value)
                        if flavor:
                            self._add_factory(module, constant.value, flavor, node, stmt.value,
                                              "lazy module attribute")

    def _find_configure_calls(self, module: _Module) -> None:
        """`SessionLocal.configure(expire_on_commit=False)` sets the option after the fact."""
        if self.result.expire_on_commit is not None:
            return
        for node in module.nodes:
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "configure"
                    and (module.qualify(node.func.value) or "") in self.factory_names):
                setting = _expire_setting(node)
                if setting is not None:
                    self.result.expire_on_commit = (setting, self.origin(module, node))
                    return

    # context managers and dependencies -----------------------------------------
    def _creates_session(self, module: _Module, value: ast.AST | None) -> str | None:
        """Flavor of an expression that opens a session (factory call, Session(...), maker()())."""
        if isinstance(value, ast.Await):
            value = value.value
        if not isinstance(value, ast.Call):
            return None
        func = value.func
        if isinstance(func, ast.Call):  # sessionmaker(...)(), _get_factory()()
            return self._factory_flavor(module, func)
        qualified = module.qualify(func) or ""
        if qualified in self.factory_names:
            return self.factory_names[qualified].flavor
        if qualified in SESSION_CONSTRUCTORS:
            return flavor_of_type(qualified)
        last = qualified.rsplit(".", 1)[-1]
        if any(item.name == last for item in self.result.factories):  # a re-export we did not resolve
            return next(item.flavor for item in self.result.factories if item.name == last)
        return None

    def _yielded_session(self, module: _Module, fn) -> tuple[str | None, str | None, bool]:
        """(flavor, session variable, cleans up) when `fn` yields a session it obtained."""
        bound: dict[str, str] = {}
        body = _own_nodes(fn)
        for node in body:
            if isinstance(node, ast.Assign) and (flavor := self._creates_session(module, node.value)):
                bound.update({t.id: flavor for t in node.targets if isinstance(t, ast.Name)})
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name):
                        flavor = self._creates_session(module, item.context_expr)
                        if flavor is None and _is_session_type(module, fn.returns):
                            flavor = flavor_of_type(_is_session_type(module, fn.returns))
                        if flavor:
                            bound[item.optional_vars.id] = flavor
        annotated = _is_session_type(module, fn.returns)
        for node in body:
            if isinstance(node, ast.Yield) and node.value is not None:
                # `yield request.state.session` counts when the return annotation says Session
                var = node.value.id if isinstance(node.value, ast.Name) else ""
                flavor = bound.get(var) or (flavor_of_type(annotated) if annotated else None)
                if flavor:
                    if isinstance(fn, ast.AsyncFunctionDef):
                        flavor = "async"
                    cleans = any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                                 and c.func.attr in CLEANUP_METHODS and isinstance(c.func.value, ast.Name)
                                 and c.func.value.id == var for c in body)
                    return flavor, var, cleans or var in bound and any(
                        isinstance(w, (ast.With, ast.AsyncWith)) for w in body)
        return None, None, False

    def _find_session_makers(self, module: _Module) -> None:
        """Functions and methods that build a session themselves: `return AsyncSession(engine, ...)`,
        `return sessionmaker(bind=engine)()`. Where sessions are made is where the session module is,
        even when the project's helpers are methods no configuration can name."""
        for fn in module.nodes:
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or _is_test(module.rel):
                continue
            for node in _own_nodes(fn):
                if isinstance(node, ast.Return) and self._constructs_session(module, node.value):
                    item = Item(fn.name, f"{module.name}.{fn.name}", "sync", self.origin(module, fn))
                    self.result.session_makers.append(item)
                    setting = _expire_setting(node.value)
                    if setting is None and isinstance(node.value.func, ast.Call):  # sessionmaker(...)()
                        setting = _expire_setting(node.value.func)
                    if setting is not None and self.result.expire_on_commit is None:
                        self.result.expire_on_commit = (setting, item.origin)
                    break

    def _constructs_session(self, module: _Module, value: ast.AST | None) -> bool:
        """`Session(...)` / `AsyncSession(...)` or `sessionmaker(...)()`: not a session obtained from a factory."""
        if not isinstance(value, ast.Call):
            return False
        if isinstance(value.func, ast.Call):
            return _builder_flavor(module, value.func) is not None
        return (module.qualify(value.func) or "") in SESSION_CONSTRUCTORS

    def _constructed_expiry(self, module: _Module, fn: ast.AST) -> bool | None:
        """The one `expire_on_commit=` constant of the sessions `fn` constructs itself, if it states one."""
        settings = {_expire_setting(node) for node in _own_nodes(fn) if self._constructs_session(module, node)}
        return settings.pop() if len(settings) == 1 else None

    def _expiry_from_helpers(self) -> None:
        """No factory states `expire_on_commit`, but the helpers that build sessions themselves do
        (onyx: every helper of the session module builds `Session(bind=..., expire_on_commit=False)`):
        their common setting, the session module's helpers first."""
        if self.result.expire_on_commit is not None:
            return
        helpers = self.result.context_managers + self.result.dependencies
        module = self.result.session_module[0] if self.result.session_module else None
        own = [h for h in helpers if h.qualified.rsplit(".", 1)[0] == module and h.expires is not None]
        stated = own or [h for h in helpers if h.expires is not None]
        if stated and len({h.expires for h in stated}) == 1:
            first = min(stated, key=lambda h: (h.origin.path, h.origin.line))
            self.result.expire_on_commit = (first.expires, first.origin)

    def _find_helpers(self, module: _Module) -> None:
        for fn in _module_level(module.tree):
            if isinstance(fn, ast.ClassDef) or not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if fn.name.startswith("_"):
                continue  # private (prefect's `_maintenance_session`): not a convention others can import
            decorators = {module.qualify(d.func if isinstance(d, ast.Call) else d) for d in fn.decorator_list}
            if any(d and d.rsplit(".", 1)[-1] == "fixture" for d in decorators):
                continue  # pytest fixtures
            cm = next((CONTEXT_MANAGER_DECORATORS[d] for d in decorators if d in CONTEXT_MANAGER_DECORATORS), None)
            built = None if decorators else _returned_context_manager(module, fn)
            if built is not None:  # `def get_db_session(): @contextmanager def _ctx(): ...; return _ctx()`
                cm, facts_of = built
            else:
                facts_of = fn
            flavor, var, cleans = self._yielded_session(module, facts_of)
            if flavor is None:
                continue
            session_type = _is_session_type(module, fn.returns)
            item = Item(fn.name, f"{module.name}.{fn.name}", flavor, self.origin(module, fn),
                        session_type=session_type, expires=self._constructed_expiry(module, facts_of))
            if cm:
                if not cleans:
                    continue  # a bare pass-through, not a unit of work
                item.commits = commits(facts_of, _own_nodes(facts_of))
                self.result.context_managers.append(item)
            else:
                self.result.dependencies.append(item)

    def _count_dependency_uses(self, modules: list[_Module]) -> None:
        """Functions passed to `Depends(...)` for session-typed parameters, and Annotated aliases."""
        known = {item.qualified: item for item in self.result.dependencies}
        uses: Counter[str] = Counter()
        types: dict[str, str] = {}
        alias_targets: dict[str, str] = {}  # qualified alias -> qualified dependency

        def depends_target(module: _Module, node: ast.AST | None) -> str | None:
            if (isinstance(node, ast.Call) and (module.qualify(node.func) or "").rsplit(".", 1)[-1] == "Depends"
                    and node.args):
                return module.qualify(node.args[0])
            return None

        def annotated_parts(module: _Module, node: ast.AST | None) -> tuple[str, str] | None:
            parts = annotated_dependency(node, lambda e: (module.qualify(e) or "").rpartition(".")[2])
            if parts is not None:
                session_type = _is_session_type(module, parts[0])
                target = next((t for call in parts[1] if (t := depends_target(module, call))), None)
                if session_type and target:
                    return session_type, target
            return None

        for module in modules:
            for stmt in module.tree.body:
                value, name = None, None
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    value, name = stmt.value, stmt.targets[0].id
                elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    value, name = stmt.value, stmt.target.id
                elif sys.version_info >= (3, 12) and isinstance(stmt, ast.TypeAlias):
                    value, name = stmt.value, stmt.name.id
                parts = annotated_parts(module, value)
                if parts:
                    session_type, target = parts
                    alias_targets[f"{module.name}.{name}"] = target
                    types.setdefault(target, session_type)
                    self.result.aliases.append((f"{name} = {ast.unparse(value)}",
                                                Item(name, f"{module.name}.{name}", flavor_of_type(session_type),
                                                     self.origin(module, stmt), note=target)))
        alias_names = tuple({a.name for _, a in self.result.aliases})
        for module in modules:
            if "Depends" not in module.text and not any(a in module.text for a in alias_names):
                continue
            for fn in module.nodes:
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
                defaults = [None] * (len(fn.args.posonlyargs + fn.args.args) - len(fn.args.defaults))
                defaults += list(fn.args.defaults) + list(fn.args.kw_defaults)
                for arg, default in zip(args, defaults):
                    target = depends_target(module, default)
                    session_type = _is_session_type(module, arg.annotation)
                    if target and session_type:
                        uses[target] += 1
                        types.setdefault(target, session_type)
                    elif (parts := annotated_parts(module, arg.annotation)):
                        uses[parts[1]] += 1
                        types.setdefault(parts[1], parts[0])
                    elif (alias := module.qualify(arg.annotation)) in alias_targets:
                        uses[alias_targets[alias]] += 1
        for qualified, count in uses.items():
            item = known.get(qualified)
            if item is None:
                definition = self.functions.get(qualified)
                if definition is None or definition[0].name in self.deprecated_modules:
                    continue  # a dependency we cannot see (installed library) or a deprecated shim
                module, fn = definition
                item = Item(fn.name, qualified, "async" if isinstance(fn, ast.AsyncFunctionDef)
                            else flavor_of_type(types[qualified]), self.origin(module, fn),
                            note="used with Depends()")
                self.result.dependencies.append(item)
                known[qualified] = item
            item.uses = count
            item.session_type = item.session_type or types.get(qualified)
        for _, alias in self.result.aliases:
            if alias.note in known:
                alias.note = known[alias.note].name

    # session module and deprecated shims ----------------------------------------------
    def _choose_session_module(self) -> None:
        votes: Counter[str] = Counter()
        where: dict[str, str] = {}
        for items, weight in ((self.result.factories, 2), (self.result.session_makers, 2),
                              (self.result.context_managers, 3), (self.result.dependencies, 3)):
            for item in items:
                module = item.qualified.rsplit(".", 1)[0]
                votes[module] += weight
                where[module] = item.origin.path
        if votes:
            best = max(votes, key=lambda m: (votes[m], -m.count("."), m))
            self.result.session_module = (best, where[best])

    def _find_migrations(self) -> None:
        """Alembic environments: their revisions bind sessions to the migration's connection."""
        for module in self.modules:
            if module.path.name == "env.py" and any(v == "alembic.context" or v.startswith("alembic.context.")
                                                    for v in module.imports.values()):
                self.result.migrations.append(Origin(module.rel, 1))

    def _find_deprecated(self) -> None:
        for module in self.modules:
            if "Deprecat" in module.text and any(self._warns_deprecation(module, node) for node in module.nodes):
                self.deprecated_modules.add(module.name)

    @staticmethod
    def _warns_deprecation(module: _Module, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call) or (module.qualify(node.func) or "").rsplit(".", 1)[-1] != "warn":
            return False
        categories = node.args[1:2] + [kw.value for kw in node.keywords if kw.arg == "category"]
        return any((module.qualify(c) or "").rsplit(".", 1)[-1] in {"DeprecationWarning",
                                                                    "PendingDeprecationWarning"}
                   for c in categories)

    def _resolve_deprecated(self) -> None:
        session_modules = {item.qualified.rsplit(".", 1)[0]
                           for items in (self.result.factories, self.result.context_managers,
                                         self.result.dependencies) for item in items}
        for module in self.modules:
            if module.name not in self.deprecated_modules:
                continue
            # forwarded-to module: what its imports point at, among the session modules
            targets: Counter[str] = Counter()
            for imported in module.imports.values():
                for candidate in session_modules:
                    if imported == candidate or imported.startswith(candidate + "."):
                        targets[candidate] += 1
            if not targets:
                continue
            target = targets.most_common(1)[0][0]
            self.result.deprecated.append((module.name, target, Origin(module.rel, 1)))
            for fn in module.tree.body:
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                forwarded = self._forwarded_name(module, fn, target)
                if forwarded and forwarded != fn.name:
                    self.result.deprecated.append((f"{module.name}.{fn.name}", f"{target}.{forwarded}",
                                                   self.origin(module, fn)))
                elif not forwarded and f"{target}.{fn.name}" in self.functions and not same_behaviour(
                        f"{module.name}.{fn.name}", f"{target}.{fn.name}", (self.root,)):
                    self.result.differing.append((f"{module.name}.{fn.name}", f"{target}.{fn.name}",
                                                  self.origin(module, fn)))

    @staticmethod
    def _forwarded_name(module: _Module, fn, target: str) -> str | None:
        """The helper of `target` that `fn` returns / yields from (`return database.get_db_session()`)."""
        for node in _own_nodes(fn):
            value = node.value if isinstance(node, (ast.Return, ast.YieldFrom, ast.Await)) else None
            if isinstance(value, ast.Await):
                value = value.value
            if isinstance(value, ast.Call):
                qualified = module.qualify(value.func) or ""
                if qualified.startswith(target + ".") and qualified.count(".") == target.count(".") + 1:
                    return qualified.rsplit(".", 1)[1]
        return None


@lru_cache(maxsize=128)
def module_session_facts(sources: tuple[tuple[str, str, bytes], ...]) -> tuple[dict[str, str], frozenset[str]]:
    """What `--init` finds, for a few modules given as (dotted name, package, source) - a linted module
    and the session module whose factories it may use: the functions returning a sessionmaker
    (`{qualified: flavor}`) and the generators yielding a session (qualified names)."""
    modules = []
    for name, package, data in sources:
        tree = _parse(data, name)
        if tree is not None:
            module = _Module(Path(name), name, name, package, tree, "", nodes=list(ast.walk(tree)))
            _read_imports(module)
            modules.append(module)
    scanner = _Scanner(Path("."), modules)
    for module in modules:
        scanner._find_factory_functions(module)
    for module in modules:
        scanner._find_factories(module)
    for module in modules:
        scanner._find_helpers(module)
    return dict(scanner.factory_functions), frozenset(i.qualified for i in scanner.result.dependencies)


def discover_conventions(root: str | Path) -> Discovery:
    return _Scanner(Path(root)).run()
