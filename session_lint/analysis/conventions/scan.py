"""The scan of a whole project, and of a few modules for the rules."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path


from .results import Origin, Item, Discovery
from .source import _Module, _load, _module_level, _parse, _read_imports
from .factories import _Factories
from .helpers import _Helpers
from .usage import _DependencyUses
from .shims import _SessionModule


# -- the scan -------------------------------------------------------------------------

class _Scanner(_Factories, _Helpers, _DependencyUses, _SessionModule):
    """One scan of a project: the steps live in the mixins, each in its own module."""

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


def module_facts_of(module: str, roots: tuple, session_module: str,
                    own: tuple[str, str, bytes] | None = None) -> tuple[dict[str, str], frozenset[str]]:
    """`module_session_facts` of the project module `module`, read with the session module
    (whose factories it may use): its functions returning a sessionmaker and its generators yielding a
    session; nothing for a module outside the project. `own`: the linted file's (name, package, text),
    read from there instead of its path. The rules ask it (sessions._module_facts), and the screen
    (`_Finder.may_generate`)."""
    from ..project import find_module_source

    sources = []
    for name in dict.fromkeys((module, session_module)):
        if own is not None and name == own[0]:
            sources.append(own)
            continue
        path = find_module_source(name, roots)
        if path is None:
            if name == module:
                return {}, frozenset()
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        sources.append((name, name if path.name == "__init__.py" else name.rpartition(".")[0], data))
    return module_session_facts(tuple(sources))


def discover_conventions(root: str | Path) -> Discovery:
    return _Scanner(Path(root)).run()
