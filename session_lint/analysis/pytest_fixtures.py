"""pytest fixture resolution: which parameters of a test module's tests and fixtures are sessions.

A parameter of a test function (`test*`, at module level or in a pytest-collected class) or of a
`@pytest.fixture` function, in a test module (`discovery.is_test_path`, below the project root),
is the fixture of that name that pytest would inject: the nearest definition, looking in the same
class, then at module level, then in the `conftest.py` of the module's directory and of each
directory above it up to the project root. A fixture requesting its own name gets the next
definition out (an override).

A fixture is a *session provider* when everything it yields or returns is a session: a call of a
SQLAlchemy `Session`/`AsyncSession`, of `sessionmaker(...)` or of a factory (`SessionLocal()`, a
module-level `sessionmaker`, a factory fixture's parameter), the `as` target of the configured
context manager or of `with <raw session> as s`, or another session fixture's parameter. It is a
*factory provider* when everything it yields or returns is a session factory (`sessionmaker(...)`,
`scoped_session(...)`, the configured factories, a project module's `sessionmaker`, another factory
fixture): a call of such a parameter opens a session. Anything else (a mock, a connection, a
client with a `close()`) is neither: names are resolved, never matched by their spelling.

Fixture files are read with `ast` (never imported), once per (path, mtime); the linted module's
own fixtures once per linted file. Non-test modules cost nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, NamedTuple

from .ast_imports import import_bindings, imported_names
from ..discovery import is_project_test_path
from .knowledge import MAKERS, SCOPED_REGISTRIES, SESSION_CONSTRUCTORS
from .names import module_name_for, name_matches
from .project import origin_of, search_roots, stamped
from .word_search import AttributeSearch, WordSearch
from . import newer_syntax

if TYPE_CHECKING:
    import libcst as cst

    from ..config import Config
    from .model import FileModel

FIXTURE_DECORATORS = frozenset({"pytest.fixture", "pytest_asyncio.fixture", "_pytest.fixtures.fixture"})
PARAMETRIZE = frozenset({"pytest.mark.parametrize"})
PATCHERS = frozenset({"unittest.mock.patch", "mock.patch"})  # `.object` / `.multiple` / `.dict` below
MAX_DEPTH = 6  # fixtures requesting fixtures: deeper chains are "unknown"

SESSION, FACTORY = "session", "factory"


@dataclass(frozen=True)
class Provided:
    """What a fixture parameter holds: a session or a session factory (and, when its source says
    so with a constant, the `expire_on_commit` of the sessions; None: the option decides)."""

    kind: str
    expires: bool | None = None


Function = ast.FunctionDef | ast.AsyncFunctionDef
_UNKNOWN = object()  # a definition that may exist where we cannot read


@dataclass
class FixtureModule:
    """What one module (a test module or a conftest.py) tells about fixtures."""

    name: str
    package: str
    path: Path | None
    imports: dict[str, str] = field(default_factory=dict)
    fixtures: dict[str | None, dict[str, Function]] = field(default_factory=dict)  # class (None: module)
    functions: dict[tuple[str | None, str], Function] = field(default_factory=dict)
    collected_classes: set[str] = field(default_factory=set)  # classes whose methods get fixtures
    values: dict[str, list[ast.expr]] = field(default_factory=dict)  # module-level `X = value`
    # module-level names bound otherwise (imports, assignments): maybe a fixture we cannot read
    # (`from tests.fixtures import db_session`); `star`: a `from m import *` may bind any name
    opaque: set[str] = field(default_factory=set)
    star: bool = False
    bases: dict[str, list[str | None]] = field(default_factory=dict)  # class -> same-module bases (None: other)

    def resolve(self, node: ast.expr) -> str | None:
        """The dotted name of `node` through this module's imports (None for its own names)."""
        if isinstance(node, ast.Name):
            return self.imports.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None


def _fixture_name(module: FixtureModule, function: Function) -> str | None:
    """The fixture name of `function` when it is decorated with `@pytest.fixture` (`name=` renames)."""
    for decorator in function.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        if module.resolve(call.func if call else decorator) not in FIXTURE_DECORATORS:
            continue
        for keyword in call.keywords if call else ():
            if keyword.arg == "name":
                value = keyword.value
                return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
        return function.name
    return None


def read_module(tree: ast.Module, name: str, package: str, path: Path | None) -> FixtureModule:
    module = FixtureModule(name, package, path)
    module.imports.update(import_bindings(tree.body, package, keep_unresolved=True))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            module.functions[(None, node.name)] = node
        elif isinstance(node, ast.ClassDef):
            if not any(_is_test_case(base) for base in node.bases):  # unittest classes get no fixtures
                module.collected_classes.add(node.name)
            module.bases[node.name] = [base.id if isinstance(base, ast.Name) else None for base in node.bases
                                       if not (isinstance(base, ast.Name) and base.id == "object")]
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    module.functions[(node.name, sub.name)] = sub
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    module.values.setdefault(target.id, []).append(node.value)
                else:
                    for sub in ast.walk(target):
                        if isinstance(sub, ast.Name):
                            module.values.setdefault(sub.id, []).append(ast.Constant(None))  # unknown
    module.star = module.star or any(imported.is_star for imported in imported_names(tree.body))
    module.opaque = (set(module.imports) | set(module.values)) - {"pytest"}
    for (owner, _), function in module.functions.items():
        fixture = _fixture_name(module, function)
        if fixture is not None:
            module.fixtures.setdefault(owner, {})[fixture] = function
    return module


def _is_test_case(base: ast.expr) -> bool:
    leaf = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
    return leaf.endswith("TestCase")


@lru_cache(maxsize=256)
def _conftest(path: Path, mtime_ns: int) -> FixtureModule | None:
    try:
        tree = newer_syntax.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError, RecursionError):
        return None
    name = module_name_for(path)
    return read_module(tree, name.name, name.package, path)


def _conftest_path(directory: Path) -> Path | None:
    candidate = directory / "conftest.py"
    return candidate if candidate.is_file() else None


def conftest_chain(path: Path, root: Path | None) -> tuple[Path, ...]:
    """The conftest.py files that apply to the module at `path`, nearest first (itself excluded),
    up to the project root (the configuration's directory, else the filesystem root)."""
    found = []
    directory = path.parent
    while True:
        conftest = _conftest_path(directory)
        if conftest is not None and conftest != path:
            found.append(conftest)
        if directory == root or directory.parent == directory:
            break
        directory = directory.parent
    return tuple(found)


def _returned_values(function: Function) -> list[ast.expr | None]:
    """What the function yields or returns (its own statements, not nested functions')."""
    values: list[ast.expr | None] = []
    generator = False
    stack: list[ast.AST] = list(function.body)
    returns: list[ast.expr | None] = []
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            generator = True
            # `yield from other()`: whatever that yields, which is not read (an unknown value)
            values.append(node.value if isinstance(node, ast.Yield) else ast.Constant(...))
        elif isinstance(node, ast.Return):
            returns.append(node.value)
        stack.extend(ast.iter_child_nodes(node))
    return values if generator else returns


class Resolver:
    """Fixture resolution for one linted test module (kept on its file context)."""

    def __init__(self, own: FixtureModule, path: Path, config: Config) -> None:
        self.config = config
        self.own = own
        resolved = path.resolve()
        root = config.root.resolve() if config.root is not None else None
        if root is not None and root not in resolved.parents:
            root = None
        self.modules: list[FixtureModule] = [own]
        for conftest in conftest_chain(resolved, root):
            stamp = stamped(conftest)
            found = _conftest(*stamp) if stamp is not None else None
            if found is not None:
                self.modules.append(found)
        self.roots = search_roots(resolved, config.root)
        self.memo: dict[tuple[int, str | None, str], Provided | None] = {}
        self.busy: set[tuple[int, str | None, str]] = set()

    # -- which fixture a parameter is ------------------------------------------------------
    def _levels(self, module: FixtureModule, owner: str | None) -> list[tuple[int, str | None]]:
        """(index in self.modules, class) to look in, nearest first, from a function of `module`."""
        start = next(i for i, m in enumerate(self.modules) if m is module)
        levels = [(start, owner)] if owner is not None else []
        return levels + [(i, None) for i in range(start, len(self.modules))]

    def fixture(self, module: FixtureModule, owner: str | None, param: str,
                requester: str | None = None) -> Provided | None:
        """What pytest injects for `param` in a function of `module` (in class `owner`); `requester`:
        the fixture asking, whose own definition is skipped when it requests its own name."""
        levels = self._levels(module, owner)
        if requester == param:  # `def db(db)`: the definition further out
            mine = next((n for n, (i, o) in enumerate(levels)
                         if param in self.modules[i].fixtures.get(o, {})), None)
            levels = levels[mine + 1:] if mine is not None else levels
        for index, cls in levels:
            found = self._class_fixture(index, cls, param, set()) if cls is not None \
                else self.modules[index].fixtures.get(None, {}).get(param)
            if isinstance(found, tuple):
                return self._provided(index, found[0], param, found[1])
            if found is _UNKNOWN:
                return None
            if found is not None:
                return self._provided(index, cls, param, found)
            where = self.modules[index]
            if cls is None and (param in where.opaque or where.star):
                return None  # maybe a fixture imported into that module: cannot tell which
        return None

    def _class_fixture(self, index: int, cls: str, param: str, seen: set[str]):
        """The fixture `param` defined in class `cls` or a base class of the same module (the
        class defining it, the function); _UNKNOWN when a base we cannot read may define it."""
        module = self.modules[index]
        definition = module.fixtures.get(cls, {}).get(param)
        if definition is not None:
            return cls, definition
        seen.add(cls)
        for base in module.bases.get(cls, ()):
            if base is None or base not in module.bases:
                return _UNKNOWN
            if base not in seen:
                found = self._class_fixture(index, base, param, seen)
                if found is not None:
                    return found
        return None

    def _provided(self, index: int, owner: str | None, name: str, function: Function) -> Provided | None:
        key = (index, owner, name)
        if key in self.memo:
            return self.memo[key]
        if key in self.busy or len(self.busy) > MAX_DEPTH:
            return None
        self.busy.add(key)
        try:
            result = _Judge(self, self.modules[index], owner, name, function).provided()
        finally:
            self.busy.discard(key)
        self.memo[key] = result
        return result

    # -- the parameters of a function -----------------------------------------------------------
    def parameters(self, owner: str | None, function_name: str) -> dict[str, Provided]:
        """The session / factory fixtures among the parameters of the linted module's function."""
        function = self.own.functions.get((owner, function_name))
        if function is None or (owner is not None and owner not in self.own.collected_classes):
            return {}
        fixture = _fixture_name(self.own, function)
        if fixture is None and not function.name.startswith("test"):
            return {}
        if owner is not None and fixture is None and not owner.startswith("Test"):
            return {}
        found = {}
        for param in injected_parameters(self.own, function, method=owner is not None):
            provided = self.fixture(self.own, owner, param, requester=fixture)
            if provided is not None:
                found[param] = provided
        return found


def injected_parameters(module: FixtureModule, function: Function, method: bool) -> list[str]:
    """The parameters pytest fills with fixtures: not `self`, not those with defaults, not those
    `mock.patch` decorators fill (the first ones), not those `parametrize` names."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    if method and positional:
        positional = positional[1:]
    without_default = positional[:len(positional) - len(args.defaults)] if args.defaults else positional
    kwonly = [a for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
    parametrized: set[str] = set()
    patched = 0
    for decorator in function.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        dotted = module.resolve(decorator.func) or ""
        if dotted in PARAMETRIZE:
            first = decorator.args[0] if decorator.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                parametrized |= {p.strip() for p in first.value.split(",")}
            elif isinstance(first, (ast.List, ast.Tuple)):
                parametrized |= {e.value for e in first.elts if isinstance(e, ast.Constant)}
            else:
                return []  # cannot tell which parameters it fills
        elif _injects_mock(dotted, decorator):
            patched += 1
    names = [a.arg for a in without_default[patched:]] + [a.arg for a in kwonly]
    return [n for n in names if n not in parametrized]


def _injects_mock(dotted: str, call: ast.Call) -> bool:
    """Does this `patch(...)` decorator pass a mock argument (no `new` given)?"""
    if any(k.arg == "new" for k in call.keywords):
        return False
    if dotted in PATCHERS:
        return len(call.args) < 2
    base, _, attr = dotted.rpartition(".")
    if base in PATCHERS and attr == "object":
        return len(call.args) < 3
    return False


class _Judge:
    """Is one fixture a session or factory provider? (its yields/returns, followed through its
    local names, its parameters (other fixtures) and its module's names)."""

    def __init__(self, resolver: Resolver, module: FixtureModule, owner: str | None, name: str,
                 function: Function) -> None:
        self.resolver = resolver
        self.module = module
        self.owner = owner
        self.name = name
        self.function = function
        self.params = set(injected_parameters(module, function, method=owner is not None))
        self.locals: dict[str, list[tuple[str, ast.AST]]] = {}
        self.depth = 0
        self._collect_bindings()

    def _collect_bindings(self) -> None:
        stack: list[ast.AST] = list(self.function.body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.locals.setdefault(node.name, []).append(("other", node))
                continue
            if isinstance(node, ast.Lambda):
                continue
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        self.locals.setdefault(target.id, []).append(("value", node.value))
                    else:
                        self._unknown(target)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name):
                        self.locals.setdefault(item.optional_vars.id, []).append(("with", item.context_expr))
                    elif item.optional_vars is not None:
                        self._unknown(item.optional_vars)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.AugAssign, ast.NamedExpr)):
                self._unknown(node.target)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for imported in imported_names([node]):
                    self.locals.setdefault(imported.bound or "*", []).append(("other", node))
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.locals.setdefault(node.name, []).append(("other", node))
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                for name in node.names:
                    self.locals.setdefault(name, []).append(("other", node))
            stack.extend(ast.iter_child_nodes(node))

    def _unknown(self, target: ast.AST) -> None:
        """Names bound by an unpacking target (`a.x = ...` / `a[k] = ...` bind nothing)."""
        if isinstance(target, ast.Name):
            self.locals.setdefault(target.id, []).append(("other", target))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._unknown(element)
        elif isinstance(target, ast.Starred):
            self._unknown(target.value)

    def provided(self) -> Provided | None:
        values = _returned_values(self.function)
        values = [v for v in values if not (v is None or (isinstance(v, ast.Constant) and v.value is None))]
        return self._agree([self.expr(v) for v in values]) if values else None

    @staticmethod
    def _agree(found: list[Provided | None]) -> Provided | None:
        if not found or any(f is None for f in found) or len({f.kind for f in found}) != 1:
            return None
        expires = {f.expires for f in found}
        return Provided(found[0].kind, expires.pop() if len(expires) == 1 else None)

    # -- expressions ----------------------------------------------------------------------------
    def expr(self, node: ast.expr | None) -> Provided | None:
        self.depth += 1
        try:
            if self.depth > 2 * MAX_DEPTH:
                return None
            while isinstance(node, ast.Await):
                node = node.value
            if isinstance(node, ast.Name):
                return self.name_kind(node.id)
            if isinstance(node, ast.Attribute):
                dotted = self.module.resolve(node) if self._global(_base(node)) else None
                return self.dotted_kind(dotted) if dotted else None
            if isinstance(node, ast.Call):
                return self.call_kind(node)
            return None
        finally:
            self.depth -= 1

    def _global(self, name: str | None) -> bool:
        return name is not None and name not in self.locals and name not in self.params

    def name_kind(self, name: str) -> Provided | None:
        if name in self.locals:
            return self._agree([self.binding_kind(kind, node) for kind, node in self.locals[name]])
        if name in self.params:
            return self.resolver.fixture(self.module, self.owner, name, requester=self.name)
        if name in self.module.values:  # `TestingSessionLocal = sessionmaker(...)` at module level
            if len(self.module.values[name]) != 1:
                return None
            return _Judge(self.resolver, self.module, None, "", _EMPTY).expr(self.module.values[name][0])
        dotted = self.module.imports.get(name)
        return self.dotted_kind(dotted) if dotted else None

    def binding_kind(self, kind: str, node: ast.AST) -> Provided | None:
        if kind == "value":
            return self.expr(node)
        if kind != "with" or not isinstance(node, ast.Call):
            return None
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "begin" and not node.args:  # `Factory.begin()`
            factory = self.expr(func.value)
            return Provided(SESSION, factory.expires) if factory and factory.kind == FACTORY else None
        opened = self.call_kind(node)  # `with Session(engine) as s`, `with SessionLocal() as s`
        if opened is not None:
            return opened if opened.kind == SESSION else None
        dotted = self.module.resolve(func) if self._global(_base(func)) else None
        if dotted and self._configured(dotted, (self.resolver.config.context_manager,
                                                self.resolver.config.async_context_manager)):
            from .helper_behaviour import behaviour

            found = behaviour(origin_of(dotted, self.resolver.roots), self.resolver.roots)
            return None if found.passes_through else Provided(SESSION, found.expires)
        return None

    def call_kind(self, call: ast.Call) -> Provided | None:
        func = call.func
        own = _expire_keyword(call)
        if isinstance(func, ast.Call):  # sessionmaker(...)()
            inner = self.module.resolve(func.func) if self._global(_base(func.func)) else None
            if inner in MAKERS:
                return Provided(SESSION, own if own is not None else _expire_keyword(func))
            return None
        dotted = self.module.resolve(func) if self._global(_base(func)) else None
        if dotted in SESSION_CONSTRUCTORS:
            return Provided(SESSION, own)
        if dotted in MAKERS:
            return Provided(FACTORY, own)
        if dotted in SCOPED_REGISTRIES:
            inner = self.expr(call.args[0]) if call.args else None
            return Provided(FACTORY, inner.expires) if inner and inner.kind == FACTORY else None
        factory = self.expr(func)
        if factory is not None and factory.kind == FACTORY:
            return Provided(SESSION, own if own is not None else factory.expires)
        return None

    def dotted_kind(self, dotted: str) -> Provided | None:
        """A name of another module: the configured session factories, or a module-level
        `sessionmaker(...)` of a project module (re-exports followed). Once per name and process."""
        key = (dotted, self.resolver.roots, self.resolver.config)
        if key not in _DOTTED:
            _DOTTED[key] = self._dotted_kind(dotted)
        return _DOTTED[key]

    def _dotted_kind(self, dotted: str) -> Provided | None:
        config = self.resolver.config
        roots = self.resolver.roots
        if dotted.split(".")[0] in _NOT_PROJECT:
            return None
        if self._configured(dotted, config.session_factories + config.async_session_factories):
            return Provided(FACTORY, _maker_expiry(origin_of(dotted, roots), roots))
        module, _, leaf = dotted.rpartition(".")
        if not module or not _may_bind_maker(module, leaf, roots):
            return None  # most names: the module neither builds a sessionmaker nor imports the name
        origin = origin_of(dotted, roots)
        if origin != dotted:
            return self.dotted_kind(origin)
        from .helper_behaviour import module_facts

        facts = module_facts(module, roots)
        if facts is not None and leaf in facts.makers:
            return Provided(FACTORY, _maker_expiry(origin, roots))
        return None

    def _configured(self, dotted: str, wanted: tuple[str, ...]) -> bool:
        leaves = {w.rpartition(".")[2] for w in wanted}
        if dotted.rpartition(".")[2] not in leaves:
            return False  # re-exports keep the name (project.origin_of)
        session_module = self.resolver.config.session_module
        candidates = {dotted, origin_of(dotted, self.resolver.roots)}
        return any(name_matches(c, w, session_module) for c in candidates for w in wanted)


_DOTTED: dict[tuple, Provided | None] = {}
_NOT_PROJECT = frozenset({"sqlalchemy", "sqlmodel", "pytest", "unittest", "builtins", "typing", "os", "sys"})
_MAKER_WORDS = re.compile(rb"sessionmaker|scoped_session")


def _may_bind_maker(module: str, leaf: str, roots: tuple[Path, ...]) -> bool:
    """May the project module `module` bind `leaf` to a sessionmaker: it spells one, or it imports
    `leaf` (a re-export)? Bytes only: most names a fixture returns are not worth parsing a module for."""
    from .project import module_file

    stamp = module_file(module, roots)
    return stamp is not None and _maker_or_import(*stamp, leaf)


@lru_cache(maxsize=1024)
def _maker_or_import(path: Path, mtime_ns: int, leaf: str) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if _MAKER_WORDS.search(data):
        return True
    word = re.escape(leaf.encode())
    return re.search(rb"\bimport\b[^\n]*\b" + word + rb"\b|\bimport\s*\([^)]*\b" + word + rb"\b", data) is not None


_EMPTY = ast.FunctionDef(name="", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[],
                                                     defaults=[]), body=[], decorator_list=[])


def _base(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _expire_keyword(call: ast.Call) -> bool | None:
    for keyword in call.keywords:
        if keyword.arg == "expire_on_commit" and isinstance(keyword.value, ast.Constant) \
                and isinstance(keyword.value.value, bool):
            return keyword.value.value
    return None


def _maker_expiry(dotted: str, roots: tuple[Path, ...]) -> bool | None:
    from .helper_behaviour import behaviour

    return behaviour(dotted, roots).expires


# -- for the screen (no LibCST) ----------------------------------------------------------------------

_VISIBLE: dict[tuple, frozenset[str]] = {}


def visible_session_fixtures(directory: Path, config: Config) -> frozenset[str]:
    """Names of the session / factory fixtures the conftest.py files give the modules of `directory`
    (cached per set of conftest.py versions): a test module spelling none of them, and defining no
    fixture of its own, has no fixture session."""
    resolved = directory.resolve()
    root = config.root.resolve() if config.root is not None else None
    if root is not None and root != resolved and root not in resolved.parents:
        root = None
    chain = tuple(stamped(c) for c in conftest_chain(resolved / "__init__.py", root))
    key = (chain, config)
    if key not in _VISIBLE:
        probe = FixtureModule("", "", None)
        resolver = Resolver(probe, resolved / "__probe__.py", config)
        names = {name for module in resolver.modules[1:] for name in module.fixtures.get(None, {})}
        _VISIBLE[key] = frozenset(n for n in names if resolver.fixture(probe, None, n) is not None)
    return _VISIBLE[key]


_CLOSE_CALL = AttributeSearch({"close"})
_NAME_BEFORE = re.compile(rb"([A-Za-z_]\w*)[\s\\]*$")


def _closed_names(data: bytes) -> set[str]:
    """The `x` of every `x.close(` in the source (bytes: a superset of the calls the ast holds)."""
    found = set()
    for dot in _CLOSE_CALL.dots(data):
        before = _NAME_BEFORE.search(data, max(0, dot - 80), dot)
        if before is not None:
            found.add(before.group(1).decode())
    return found


# a `.close()` call or a `with name(` / `with name.begin(` opening: what a fixture session's use needs
# (one way to match the blanks before the name: two quantifiers over one run were quadratic in its length)
# (`with factory . begin ()`: one blank run on each side of the dot and of `begin`)
_WITH_CALL_SPELLING = WordSearch(rb"with(?=[\s\\(])[\s\\]*(?:\(\s*)?[A-Za-z_]\w*[\s\\]*(?:\.[\s\\]*begin[\s\\]*)?\(")


def spells_fixture_use(data: bytes) -> bool:
    return _CLOSE_CALL.search(data) is not None or _WITH_CALL_SPELLING.search(data) is not None


def closing_fixture_functions(tree: ast.Module, data: bytes, path: str,
                              config: Config) -> list[tuple[Function, set[str], set[str]]]:
    """The functions of this test module that may close a fixture session they take, each with the
    names it may close one in (a session fixture parameter, `db_session.close()`; a name made from a
    factory fixture, `s = factory()` ... `s.close()`) and the factory fixture parameters it may open
    one from (`with factory() as s:`, `factory_opened`): the rules' resolution, run on the screen's
    `ast` (a superset of what the flow analysis reports)."""
    return [(function, (closes.closed & sessions) | {n for n, p in closes.made.items() if p in factories}, factories)
            for _, function, closes, sessions, factories in _closing_functions(tree, data, path, config)]


def _closing_resolver(tree: ast.Module, data: bytes, path: str, config: Config) -> Resolver | None:
    """The module's resolver when one of its functions may close a fixture session it takes, else
    None (then no function of the module can: the rules take no parameter for a fixture session)."""
    first = next(_closing_functions(tree, data, path, config), None)
    return first[0] if first is not None else None


def _closing_functions(tree: ast.Module, data: bytes, path: str,
                       config: Config) -> Iterator[tuple[Resolver, Function, _Closes, set[str], set[str]]]:
    closed = _closed_names(data)
    name = module_name_for(path)
    own = read_module(tree, name.name, name.package, None)
    resolver = None
    for (owner, function_name), function in own.functions.items():
        args = function.args
        if len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs) <= (owner is not None):
            continue
        if resolver is None:
            resolver = Resolver(own, Path(path), config)
        found = resolver.parameters(owner, function_name)
        sessions = {p for p in closed & found.keys() if found[p].kind == SESSION}
        factories = {p for p, provided in found.items() if provided.kind == FACTORY}
        if not sessions and not factories:
            continue
        # the function's own code must close one (FlowAnalysis closes a session at its `.close()`
        # in the function it analyses): atom's modules close the session fixture `db` they define,
        # and their tests that take `db` never close it
        closes = _closed_parameters(function)
        if closes.closed & sessions or closes.opened & factories:
            yield resolver, function, closes, sessions, factories


_NO = Provided("")


class _Closes(NamedTuple):
    """What a function does with its parameters' sessions (`_closed_parameters`)."""

    closed: set[str]  # parameters closed by `p.close()`
    opened: set[str]  # parameters called into a name later closed, or opened by `with p() as s:`
    made: dict[str, str]  # a name assigned `p()` (awaited or not) -> that parameter


def _closed_parameters(function: Function) -> _Closes:
    """What `function` closes and opens of its parameters, anywhere in its code."""
    args = function.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    nodes = list(ast.walk(function))
    made: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            value = node.value.value if isinstance(node.value, ast.Await) else node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in params:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                made.update((t.id, value.func.id) for t in targets if isinstance(t, ast.Name))
    closed: set[str] = set()
    opened: set[str] = set()
    for node in nodes:
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "close"
                and isinstance(node.func.value, ast.Name)):
            name = node.func.value.id
            if name in params:
                closed.add(name)
            if name in made:
                opened.add(made[name])
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                opener = factory_opened(item.context_expr, params)
                if opener is not None and item.optional_vars is not None:
                    opened.add(opener)
    return _Closes(closed, opened, made)


def factory_opened(expr: ast.expr, factories: set[str]) -> str | None:
    """The one of `factories` that `expr` opens a session from: `factory()` / `factory.begin()`
    (flow/interpreter.py factory_call)."""
    func = expr.func if isinstance(expr, ast.Call) else None
    if isinstance(func, ast.Attribute) and func.attr == "begin":
        func = func.value
    return func.id if isinstance(func, ast.Name) and func.id in factories else None


# -- entry point for the rules --------------------------------------------------------------------

def fixture_parameters(file: FileModel, function: cst.FunctionDef) -> dict[str, Provided]:
    """The parameters of `function` (a test or fixture of a test module) that pytest fills with a
    session or a session factory; empty for everything else (and for any non-test module, free)."""
    import libcst as cst

    context = file
    resolver: Resolver | None = context.memo(
        "fixture_resolver", lambda: _resolver(file) if is_project_test_path(context.path, file.config.root) else None)
    if resolver is None:
        return {}
    parent = file.parent(function)
    owner = None
    if not isinstance(parent, cst.Module):
        cls = file.parent(parent) if isinstance(parent, cst.IndentedBlock) else None
        if not isinstance(cls, cst.ClassDef) or not isinstance(file.parent(cls), cst.Module):
            return {}
        owner = cls.name.value
    return resolver.parameters(owner, function.name.value)


def _resolver(file: FileModel) -> Resolver | None:
    """The resolver of the linted test module, when a function of it may close a fixture session
    (the screen's question: a module that closes none needs no fixture resolved)."""
    context = file
    source = context.source if context.source is not None else context.module.code
    data = source.encode("utf-8", "surrogateescape")
    if not spells_fixture_use(data):
        return None
    try:
        tree = newer_syntax.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return _closing_resolver(tree, data, context.path, file.config)
