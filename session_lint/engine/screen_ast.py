"""The `ast` machinery the screen's triggers share (session_lint/engine/screen.py, screen_async.py,
screen_queries.py): a module's nodes, each top-level statement walked at most once (`Nodes`); what
the file's imports bind (`FromImports`, `ImportTable`); which bare annotation names state no session
(`NoSessionNames`); what a parameter's annotation and default may make it (`plain_annotation`,
`may_inject`).
"""

from __future__ import annotations

import ast
from typing import Container

from ..analysis.ast_imports import imported_names, last_name
from ..analysis.names import module_name_for
from ..analysis.project import annotated_aliases, find_module_source, search_roots
from ..config import Config


def leaf(dotted: str) -> str:
    return dotted.rpartition(".")[2]


class Nodes:
    """The nodes of a module, each top-level statement walked at most once: the triggers look at
    the same nodes many times (all calls, all imports, the calls of one function), and `ast.walk`
    cost more than everything else the screen does (4.7M node visits on polar before this). A
    statement no trigger asks about is never walked. A def or class inside a walked statement is
    a slice of its walk (a method walked again was a third of polar's node visits). The triggers
    that look at every node of one kind ask `of` (an index by type, made once)."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.top_level = {id(stmt) for stmt in tree.body}
        self.of_statement: dict[int, list[ast.AST]] = {}
        self.scopes: dict[int, tuple[list[ast.AST], int, int]] = {}  # def/class -> (walk, start, end)
        self._all: list[ast.AST] | None = None
        self._positions: dict[type, list[int]] | None = None  # type -> its nodes' indexes in `all`
        self._of: dict[tuple[type, ...], list[ast.AST]] = {}

    def within(self, node: ast.AST) -> list[ast.AST]:
        """`node` and every node below it."""
        found = self.of_statement.get(id(node))
        if found is not None:
            return found
        inside = self.scopes.get(id(node))
        if inside is not None:
            walked, start, end = inside
            return walked[start:end]
        if id(node) not in self.top_level:
            return _walk(node)
        found = self.of_statement[id(node)] = _walk(node, self.scopes)
        return found

    @property
    def all(self) -> list[ast.AST]:
        if self._all is None:
            self._all = [self.tree, *(node for stmt in self.tree.body for node in self.within(stmt))]
        return self._all

    def of(self, *kinds: type[ast.AST]) -> list[ast.AST]:
        """The nodes of `all` whose type is one of `kinds`, in its order (the type itself: a parsed
        tree holds no instance of a subclass). Eight triggers scanning every node cost more than
        one pass that files them by type."""
        found = self._of.get(kinds)
        if found is None:
            positions = self._positions
            if positions is None:
                positions = self._positions = {}
                for position, node in enumerate(self.all):
                    kind = type(node)
                    if kind in positions:
                        positions[kind].append(position)
                    else:
                        positions[kind] = [position]
            everything = self.all
            at = (positions.get(kinds[0], ()) if len(kinds) == 1
                  else sorted(position for kind in kinds for position in positions.get(kind, ())))
            found = self._of[kinds] = [everything[position] for position in at]
        return found


# Fields that never hold a node a trigger looks at: names and numbers, expression contexts and
# operators (singletons under every `Name` and `BinOp`: a third of a module's nodes).
_NOT_WALKED = frozenset({"id", "attr", "arg", "name", "asname", "module", "level", "is_async", "kind", "conversion",
                         "type_comment", "simple", "tag", "lineno", "rest", "kwd_attrs", "n", "s",
                         "ctx", "op", "ops"})
# Lists hold nodes or None (`{**a}`'s key, a keyword-only argument without default) but in these:
_WALKED_FIELDS: dict[type, tuple[str, ...]] = {ast.Constant: (), ast.MatchSingleton: (), ast.Global: (), ast.Nonlocal: ()}


class _End(int):
    """On `_walk`'s stack: the def or class found at this index has had its last node walked."""


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _walk(node: ast.AST, scopes: dict[int, tuple[list[ast.AST], int, int]] | None = None,
          skipped: tuple[type, ...] = ()) -> list[ast.AST]:
    """`node` and everything below it but contexts and operators (what `ast.walk` yields, in
    another order and without those, several times faster). Each subtree is a run of the list
    (depth first); with `scopes`, the run of each def and class below `node` is recorded there.
    Nodes of the `skipped` types are left out with everything below them."""
    found, todo = [], [node]
    ast_type, fields_of = ast.AST, _WALKED_FIELDS
    while todo:
        current = todo.pop()
        kind = type(current)
        if kind is _End:
            start = int(current)
            scopes[id(found[start])] = (found, start, len(found))
            continue
        if skipped and kind in skipped:
            continue
        found.append(current)
        if scopes is not None and kind in _SCOPES:
            todo.append(_End(len(found) - 1))
        fields = fields_of.get(kind)
        if fields is None:
            fields = fields_of[kind] = tuple(f for f in kind._fields if f not in _NOT_WALKED)
        for name in fields:
            value = getattr(current, name, None)
            if type(value) is list:
                for item in value:
                    if item is not None:
                        todo.append(item)
            elif isinstance(value, ast_type):
                todo.append(value)
    return found



_NOT_OWN_CODE = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def own_code(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Module) -> list[ast.AST]:
    """The nodes of `function`'s (or a module's) body but those of nested defs, lambdas and classes (their own
    code) - what sessions.own_nodes walks: not its decorators, defaults or annotations - and, as
    `_walk`, but contexts and operators."""
    return [node for statement in function.body for node in _walk(statement, skipped=_NOT_OWN_CODE)]


def is_call_of(node: ast.AST, method: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method


# The nodes binding a name otherwise than by an import (`FromImports._read`)
_BINDING_KINDS = (ast.Name, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.arg, ast.ExceptHandler,
                  ast.MatchAs, ast.MatchStar, ast.MatchMapping, ast.Global, ast.Nonlocal)


class FromImports:
    """`get(name)`: (M, A) when the file binds `name` only by one `from M import A [as name]`, else
    None. A relative import is made absolute in the file's package, as the rules make it
    (linter._findings: module_name_for); one that climbs above the top-level package binds a name
    not known here (the rules then name the file by its directories: polar's backoffice modules
    sit in folders without `__init__.py`), and the absolute imports mean the same under either
    name; a star import may bind anything: then no name is known."""

    def __init__(self, nodes: Nodes, path: str) -> None:
        self.nodes, self.path = nodes, path
        self._imports: dict[str, tuple[str, str]] | None = None
        self._functions: frozenset[str] = frozenset()
        self._imported_only: frozenset[str] = frozenset()

    def get(self, name: str) -> tuple[str, str] | None:
        if self._imports is None:
            self._read()
        return self._imports.get(name)

    def own_function(self, name: str) -> bool:
        """Does the file bind `name` only by one top-level `def` (no star import either)?"""
        if self._imports is None:
            self._read()
        return name in self._functions

    def imported_only(self) -> frozenset[str]:
        """The names the file binds by imports only (`import respx`; none with a star import): the
        rules resolve no project object's class for such a name (sessions._receiver_class)."""
        if self._imports is None:
            self._read()
        return self._imported_only

    def _read(self) -> None:
        found: dict[str, tuple[str, str]] = {}
        other: set[str] = set()  # bound some other way, or more than once
        imported: set[str] = set()  # bound by an import
        for name in imported_names(self.nodes.of(ast.Import, ast.ImportFrom), module_name_for(self.path).package):
            if name.is_star:
                self._imports = {}
                return
            imported.add(name.bound)
            if not name.is_from or name.module is None or name.bound in found:
                other.add(name.bound)  # (module None: a relative import above the top-level package)
            else:
                found[name.bound] = (name.module, name.name)
        top_level = {id(statement) for statement in self.nodes.tree.body}
        defined: set[str] = set()  # by one top-level def, so far
        elsewhere: set[str] = set()  # bound otherwise than by an import
        for node in self.nodes.of(*_BINDING_KINDS):
            kind = type(node)
            if kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
                elsewhere.add(node.name)
                if kind is not ast.ClassDef and id(node) in top_level and node.name not in defined | other \
                        and node.name not in found:
                    defined.add(node.name)
                else:
                    other.add(node.name)
            else:
                names = _bound_names(node)
                other.update(names)
                elsewhere.update(names)
        self._imports = {name: imported for name, imported in found.items() if name not in other | defined}
        self._functions = frozenset(defined - other)
        self._imported_only = frozenset(imported - elsewhere)


def _bound_names(node: ast.AST) -> tuple[str, ...] | list[str]:
    """The names a node of _BINDING_KINDS other than a def or class binds."""
    kind = type(node)
    if kind is ast.Name:
        return (node.id,) if type(node.ctx) is not ast.Load else ()
    if kind is ast.arg:
        return (node.arg,)
    if kind in (ast.ExceptHandler, ast.MatchAs, ast.MatchStar):
        return (node.name,) if node.name else ()
    if kind is ast.MatchMapping:
        return (node.rest,) if node.rest else ()
    return node.names  # (Global, Nonlocal)


class NoSessionNames:
    """`name in names`: does a bare annotation `name` state no session for the rules? The async
    triggers' rules (SES010, SES011) follow async sessions only. A parameter's annotation makes it one
    when it resolves to SQLAlchemy's / SQLModel's AsyncSession or the configured async session type
    (sessions.annotation_flavor: by the last component, re-exports followed), or to an `Annotated[...]`
    alias assigned in its module (fastapi._alias_flavor: that module's project source, read as
    written). So a name the file binds once, by `from M import A [as name]` (M absolute, or made so in
    the file's package; no star import in the file, no other binding of the name), states none when A
    is neither of those last components nor `Annotated`, and M's project source assigns no alias
    named A (or M has none: another library's `Scope`). On polar, parameters annotated with the
    project's TypedDicts, starlette's `Scope` or the sync `Session` fired SES010 or SES011 in 22 files
    that have no such finding; 17 of them reached LibCST for nothing else.
    With no `async_types`, a name in it is no `Annotated` alias: FastAPI injects nothing through it
    (fastapi.injected_sessions, which SES003 and SES015 ask); polar's task modules annotate
    parameters with `UUID` or their own enums."""

    def __init__(self, imported: FromImports, path: str, config: Config, async_types: frozenset[str]) -> None:
        self.imported, self.path, self.config, self.async_types = imported, path, config, async_types
        self._answers: dict[str, bool] = {}

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name not in self._answers:
            self._answers[name] = self._states_none(name)
        return self._answers[name]

    def _states_none(self, name: str) -> bool:
        imported = self.imported.get(name)
        if imported is None:
            return False
        module, original = imported
        if original in self.async_types or original == "Annotated":
            return False
        source = find_module_source(module, search_roots(self.path, self.config.root))
        return source is None or original not in annotated_aliases(source)


class ImportTable:
    """What the imports seen bind each local name to, for resolving a name by its import (a superset
    of what LibCST's qualified names answer: every binding of a name, wherever it is imported)."""

    def __init__(self) -> None:
        self.imports: dict[str, set[str]] = {}  # local name -> dotted names it may be bound to
        self.star_modules: list[str] = []

    def add(self, node: ast.Import | ast.ImportFrom) -> None:
        # relative modules stay as written (`.models.Session`): screen.py's `_Finder._sqlalchemy` accepts those
        # by their leaf
        for imported in imported_names([node]):
            if imported.is_star:
                self.star_modules.append(imported.written)
            elif imported.is_from:
                self.imports.setdefault(imported.bound, set()).add(f"{imported.written}.{imported.name}")
            else:
                self.imports.setdefault(imported.bound, set()).add(imported.target())

    def resolve(self, node: ast.expr) -> set[str]:
        """Dotted names `node` may refer to: every import binding of its base, plus its spelling."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return set()
        rest = "".join("." + p for p in reversed(parts))
        found = {node.id + rest}
        found |= {bound + rest for bound in self.imports.get(node.id, ())}
        found |= {f"{module}.{node.id}{rest}" for module in self.star_modules}
        return found


SCALAR_ANNOTATIONS = frozenset({"int", "str", "float", "bool", "bytes", "complex", "None"})
# builtins and typing names: an annotation made only of these names no session (`data: dict[str, Any]`)
_PLAIN_TYPE_NAMES = SCALAR_ANNOTATIONS | frozenset({
    "dict", "Dict", "list", "List", "set", "Set", "frozenset", "FrozenSet", "tuple", "Tuple", "Any", "Optional",
    "Union", "Sequence", "Mapping", "MutableMapping", "Iterable", "Iterator", "Callable", "type", "Type", "object",
    "typing", "collections", "abc", "Literal", "Unpack", "ClassVar", "Final", "Required", "NotRequired",
    "Awaitable", "Coroutine", "AsyncIterator", "AsyncIterable", "AsyncGenerator", "Generator", "Collection"})


def plain_annotation(annotation: ast.expr) -> bool:
    """Is the annotation made of builtin / typing names only (no name that may be a session type or
    alias, no string that may spell one)?"""
    for node in ast.walk(annotation):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return False
        if isinstance(node, (ast.Name, ast.Attribute)) and last_name(node) not in _PLAIN_TYPE_NAMES:
            return False
    return True


def parameters_with_defaults(args: ast.arguments) -> list[tuple[ast.arg, ast.expr | None]]:
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    found = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
    return found + [(a, None) for a in (args.vararg, args.kwarg) if a is not None]


def may_inject(func: ast.FunctionDef | ast.AsyncFunctionDef, no_alias: Container[str]) -> bool:
    """Could a parameter of `func` be a session FastAPI injects (`parameter_may_inject`)?"""
    return any(parameter_may_inject(param, default, no_alias) for param, default in parameters_with_defaults(func.args))


def parameter_may_inject(param: ast.arg, default: ast.expr | None, no_alias: Container[str]) -> bool:
    """Could this parameter be a session FastAPI injects (fastapi.injected_sessions)? A call as its
    default (`Depends(get_db)`), or an annotation that may be `Annotated[...]` (a subscript of
    anything but a builtin or typing name) or an alias of one (a bare name that is not a builtin or
    typing name: `SessionDep`), unless its import says it is neither (`no_alias`: `UUID`). A dotted
    or string annotation, or a default that is no call, is none."""
    if isinstance(default, ast.Call):
        return True
    annotation = param.annotation
    value = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    if isinstance(value, ast.Name) and value.id in no_alias:
        return False
    if isinstance(annotation, ast.Subscript) and not plain_annotation(value):
        return True
    return isinstance(annotation, ast.Name) and annotation.id not in _PLAIN_TYPE_NAMES
