"""What a project's own session helper does, read from its source (never imported).

SES005/SES006 judge each session block by the helper that opened it (SPEC §2): does it commit
when the block ends, and does it hand out sessions that expire their objects on commit? A
helper often delegates (onyx: `get_session_with_current_tenant` opens `get_session_with_tenant`,
which builds `Session(bind=engine, expire_on_commit=False)`), so calls are followed through the
helper's module and the project modules it imports from, a few levels deep.

Only an explicit `expire_on_commit=<constant>` is knowledge: a `sessionmaker()` without it may be
re-`configure()`d at run time (the reference module does), so it stays "unknown" and the
`expire-on-commit` option decides.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .ast_imports import import_bindings
from .knowledge import (
    ASYNC_SESSIONMAKERS,
    CONTEXT_MANAGER_DECORATORS,
    MAKERS,
    SCOPED_REGISTRIES,
    SESSION_CONSTRUCTORS,
    commits,
)
from .project import module_file
from . import newer_syntax

MAX_DEPTH = 4  # helpers delegating to helpers: deeper chains are "unknown"

# expire_on_commit values a piece of code can give its sessions: True, False, or None (cannot tell)
Expiry = frozenset


@dataclass(frozen=True)
class Behaviour:
    """None: cannot tell (the caller falls back to its default)."""

    commits: bool | None = None  # commits when the block ends (a generator-based context manager)
    expires: bool | None = None  # expire_on_commit of the sessions it hands out
    creates_sessions: bool = False  # builds a session itself or through a helper it calls
    # yields a session its caller gave it (onyx `get_session_with_current_tenant_if_none(db)`): the
    # block then neither owns nor closes the session
    passes_through: bool = False


UNKNOWN = Behaviour()


def _settled(values: Expiry) -> bool | None:
    """One answer only when every session the code can create agrees."""
    return next(iter(values)) if len(values) == 1 else None


def _constant_keyword(call: ast.Call, keyword: str) -> tuple[bool, bool | None]:
    """(present?, its constant bool value or None)."""
    for kw in call.keywords:
        if kw.arg == keyword:
            value = kw.value.value if isinstance(kw.value, ast.Constant) else None
            return True, value if isinstance(value, bool) else None
    return False, None


@dataclass
class ModuleFacts:
    """The top level of one module: its imports, functions, sessionmakers and aliases."""

    name: str
    package: str
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted name
    functions: dict[str, ast.AST] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    makers: dict[str, Expiry] = field(default_factory=dict)  # `SessionLocal = sessionmaker(...)`
    async_makers: set[str] = field(default_factory=set)  # the makers above that are `async_sessionmaker`s
    aliases: dict[str, str] = field(default_factory=dict)  # `get_session = get_catalog_session`

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name `node` refers to (imports followed), or `<module>.<name>` for locals."""
        if isinstance(node, ast.Name):
            if node.id in self.imports:
                return self.imports[node.id]
            return f"{self.name}.{node.id}"
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None


@lru_cache(maxsize=256)
def _facts(path: Path, mtime_ns: int, module: str, is_package: bool) -> ModuleFacts | None:
    try:
        tree = newer_syntax.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    facts = ModuleFacts(module, module if is_package else module.rpartition(".")[0])
    facts.imports.update(import_bindings(tree.body, facts.package))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            facts.functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            facts.classes[node.name] = node
    for node in tree.body:  # after the imports: a maker's call is resolved through them
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    _bind(facts, target.id, node.value)
    for node in ast.walk(tree):  # `SessionLocal.configure(expire_on_commit=...)`, anywhere
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "configure"
                and isinstance(node.func.value, ast.Name) and node.func.value.id in facts.makers):
            present, value = _constant_keyword(node, "expire_on_commit")
            if present:
                facts.makers[node.func.value.id] |= {value}
    return facts


def _bind(facts: ModuleFacts, name: str, value: ast.AST) -> None:
    if isinstance(value, ast.Name):
        facts.aliases[name] = value.id
        return
    if not isinstance(value, ast.Call):
        return
    func = facts.resolve(value.func)
    if func in SCOPED_REGISTRIES and value.args:  # scoped_session(sessionmaker(...))
        value = value.args[0]
        func = facts.resolve(value.func) if isinstance(value, ast.Call) else None
    if func in MAKERS:
        present, expires = _constant_keyword(value, "expire_on_commit")
        facts.makers[name] = frozenset({expires}) if present else frozenset()
        if func in ASYNC_SESSIONMAKERS:
            facts.async_makers.add(name)


def module_facts(module: str, roots: tuple[Path, ...]) -> ModuleFacts | None:
    stamp = module_file(module, roots) if module else None
    if stamp is None:
        return None
    return _facts(*stamp, module, stamp[0].name == "__init__.py")


# -- what a dotted name does -------------------------------------------------------------

@dataclass(frozen=True)
class _Reading:
    commits: bool | None
    expiry: Expiry  # every expire_on_commit value of the sessions it can create (empty: creates none)
    generator: bool = False
    passes_through: bool = False


_NOTHING = _Reading(None, frozenset())


def behaviour(dotted: str, roots: tuple[Path, ...]) -> Behaviour:
    """What calling the project name `dotted` (`onyx.db.engine.sql_engine.get_session_with_tenant`,
    `app.db.SessionLocal`) does to the sessions it hands out."""
    reading = _read(dotted, roots, 0)
    return Behaviour(reading.commits if reading.generator else None, _settled(reading.expiry), bool(reading.expiry),
                     reading.passes_through)


@lru_cache(maxsize=1024)
def _read(dotted: str, roots: tuple[Path, ...], depth: int) -> _Reading:
    if depth > MAX_DEPTH:
        return _NOTHING
    module, _, name = dotted.rpartition(".")
    facts = module_facts(module, roots)
    if facts is None:
        return _NOTHING
    if name in facts.aliases:
        return _read(f"{module}.{facts.aliases[name]}", roots, depth + 1)
    if name in facts.imports:  # re-exported (`from .engine import get_session`)
        return _read(facts.imports[name], roots, depth + 1)
    if name in facts.makers:
        return _Reading(False, facts.makers[name] or frozenset({None}))
    function = facts.functions.get(name)
    if function is None:
        return _NOTHING
    return _read_function(function, facts, roots, depth)


def _read_function(function: ast.AST, facts: ModuleFacts, roots: tuple[Path, ...], depth: int) -> _Reading:
    generator = any(isinstance(sub, (ast.Yield, ast.YieldFrom)) for sub in ast.walk(function))
    commits_itself = commits(function)
    expiry: set[bool | None] = set()
    forced: set[bool | None] = set()  # `session.expire_on_commit = False` overrides how it was made
    for sub in ast.walk(function):
        if isinstance(sub, ast.Assign):
            for target in sub.targets:
                if isinstance(target, ast.Attribute) and target.attr == "expire_on_commit":
                    value = sub.value.value if isinstance(sub.value, ast.Constant) else None
                    forced.add(value if isinstance(value, bool) else None)
        if not isinstance(sub, ast.Call):
            continue
        created = _created_expiry(sub, facts, roots, depth)
        expiry |= created.expiry
        if created.commits and _delegates(function, sub):
            commits_itself = True  # `with other_helper() as s: yield s`: the other helper's commit is ours
    return _Reading(commits_itself, frozenset(forced or expiry), generator, _yields_a_parameter(function))


def _created_expiry(call: ast.Call, facts: ModuleFacts, roots: tuple[Path, ...], depth: int) -> _Reading:
    """The sessions this call creates (directly, or through a maker / helper it calls)."""
    func = call.func
    if isinstance(func, ast.Call):  # sessionmaker(...)()
        inner = facts.resolve(func.func)
        if inner in MAKERS:
            present, value = _constant_keyword(func, "expire_on_commit")
            return _Reading(False, frozenset({value if present else None}))
        return _NOTHING
    if isinstance(func, ast.Attribute) and func.attr == "begin":  # SessionLocal.begin()
        func = func.value
    dotted = facts.resolve(func)
    if dotted is None:
        return _NOTHING
    own, own_value = _constant_keyword(call, "expire_on_commit")
    if dotted in SESSION_CONSTRUCTORS:
        return _Reading(False, frozenset({own_value if own else None}))
    if dotted.split(".")[0] in ("sqlalchemy", "sqlmodel", "builtins", "typing"):
        return _NOTHING
    reading = _read(dotted, roots, depth + 1)
    if own and reading.expiry:  # `SessionLocal(expire_on_commit=False)`
        return replace_expiry(reading, frozenset({own_value}))
    return reading


def replace_expiry(reading: _Reading, expiry: Expiry) -> _Reading:
    return _Reading(reading.commits, expiry, reading.generator, reading.passes_through)


def _yields_a_parameter(function: ast.AST) -> bool:
    args = function.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    return any(isinstance(sub, ast.Yield) and isinstance(sub.value, ast.Name) and sub.value.id in params
               for sub in ast.walk(function))


def _delegates(function: ast.AST, call: ast.Call) -> bool:
    """Is `call` the helper this generator hands on (`with call as s: yield s`, `yield from call`)?"""
    for sub in ast.walk(function):
        if isinstance(sub, (ast.With, ast.AsyncWith)):
            if any(item.context_expr is call for item in sub.items):
                return True
        elif isinstance(sub, ast.YieldFrom) and sub.value is call:
            return True
    return False


# -- the standard helpers a session module defines (SPEC §2) --------------------------------------



def standard_helpers(session_module: str, roots: tuple[Path, ...]) -> dict[str, str]:
    """Every generator the session module defines that hands out sessions it creates, by name:
    `"context-manager"` (decorated with `@contextmanager` / `@asynccontextmanager`) or `"dependency"`
    (a plain generator, for `Depends`), prefixed `"async-"` for `async def`. SPEC §2: these are
    standard whether the configuration lists them or not."""
    stamp = module_file(session_module, roots)
    return _standard_helpers(session_module, roots, stamp[1]) if stamp is not None else {}


@lru_cache(maxsize=64)
def _standard_helpers(session_module: str, roots: tuple[Path, ...], _mtime_ns: int) -> dict[str, str]:
    facts = module_facts(session_module, roots)
    found: dict[str, str] = {}
    if facts is None:
        return found
    for name, function in facts.functions.items():
        reading = _read(f"{facts.name}.{name}", roots, 0)
        if not reading.generator or not reading.expiry or reading.passes_through:
            continue  # hands out no session of its own
        decorators = {facts.resolve(d.func if isinstance(d, ast.Call) else d) for d in function.decorator_list}
        kind = "context-manager" if decorators & CONTEXT_MANAGER_DECORATORS.keys() else "dependency"
        found[name] = f"async-{kind}" if isinstance(function, ast.AsyncFunctionDef) else kind
    return found
