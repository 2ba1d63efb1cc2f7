"""Project methods that hand out a new session, read from their source (never imported).

prefect opens sessions through an object: `db = provide_database_interface(); session = await
db.session()`. `PrefectDBInterface.session` returns `await self.database_config.session(engine)`,
`database_config` is a `BaseDatabaseConfiguration` (the `__init__` parameter it is assigned from
says so), whose abstract `session(engine)` every subclass in its module implements as
`return AsyncSession(engine, expire_on_commit=False)`. Such a call is a session made by hand,
like `SessionLocal()`.

Only bodies are evidence: a method is a session factory when every `return` gives a session it
constructs (a SQLAlchemy session class, a `sessionmaker` of its module) or gets from another
session factory: its own class's method, a method of an attribute whose class an annotation
states, a project function. An annotation alone is not (`def current(self) -> Session: return
self._session` is a getter). An abstract method is a factory when its module's subclasses all
implement it as one (subclasses elsewhere are not looked for). Decorated methods are not
followed (`@asynccontextmanager` changes what a call returns). Chains deeper than MAX_DEPTH are
"unknown", which is "not a factory".
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from .helper_behaviour import ModuleFacts, module_facts
from .knowledge import ASYNC_SESSION_CLASSES, SESSION_CLASSES

MAX_DEPTH = 4
SYNC, ASYNC = "sync", "async"


def factory_method_flavor(cls: str, method: str, roots: tuple[Path, ...]) -> str | None:
    """Does `<cls>.<method>(...)` return a new session (project class `cls`, dotted)? Its flavour."""
    return _method_flavor(cls, method, roots, 0)


@lru_cache(maxsize=1024)
def context_method_flavor(cls: str, method: str, roots: tuple[Path, ...]) -> str | None:
    """Does `with <cls>.<method>(...) as s:` give `s` a new session (project class `cls`, dotted)? A
    `@contextmanager` / `@asynccontextmanager` method whose every `yield` hands out a name bound to a
    session factory's result (prefect: `session = await self.session(); async with session: yield
    session`). Its flavour."""
    found = _class(cls, roots)
    function = _methods(found[0]).get(method) if found is not None else None
    if function is None or not any(_decorator_leaf(d) in _CONTEXT_MANAGER_DECORATORS for d in function.decorator_list):
        return None
    context = _Context(found[1], cls, found[0])
    values: dict[str, list[ast.AST | None]] = {}
    yields = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values.setdefault(target.id, []).append(node.value)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if isinstance(item.optional_vars, ast.Name):
                    values.setdefault(item.optional_vars.id, []).append(item.context_expr)
        elif isinstance(node, ast.Yield):
            yields.append(node.value)
    flavors = set()
    for value in yields:
        if not isinstance(value, ast.Name) or not values.get(value.id):
            return None
        flavors |= {_value_flavor(v, context, roots, 1) for v in values[value.id]}
    return flavors.pop() if len(flavors) == 1 else None


_CONTEXT_MANAGER_DECORATORS = frozenset({"contextmanager", "asynccontextmanager"})


def _decorator_leaf(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def returned_class(function: str, roots: tuple[Path, ...]) -> str | None:
    """The project class of what calling `function` returns: the class its return annotation names
    (`-> PrefectDBInterface`), or the class itself when `function` is a project class; dotted where
    it is defined. None when it names no project class."""
    found = definition(function, roots)
    if found is not None and isinstance(found[0], ast.ClassDef):  # `config = PgConfig(url)`
        return f"{found[1].name}.{found[0].name}"
    if found is None or not isinstance(found[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    node, facts = found
    return _annotated_class(node.returns, facts, roots)


def project_class(dotted: str, roots: tuple[Path, ...]) -> str | None:
    """`dotted` as the project class it names (where it is defined), or None."""
    found = _class(dotted, roots)
    return f"{found[1].name}.{found[0].name}" if found is not None else None


@lru_cache(maxsize=64)
def session_module_method_names(session_module: str, roots: tuple[Path, ...]) -> frozenset[str]:
    """The names of the session factory methods of the session module's classes (`session`): the
    screen's words for method calls that may open a session."""
    facts = module_facts(session_module, roots) if session_module else None
    if facts is None:
        return frozenset()
    return frozenset(name for cls in facts.classes for name in _methods(facts.classes[cls])
                     if _method_flavor(f"{session_module}.{cls}", name, roots, 0))


# -- definitions -----------------------------------------------------------------------------------

def definition(dotted: str, roots: tuple[Path, ...], hops: int = 0) -> tuple[ast.AST, ModuleFacts] | None:
    """The top-level function or class `dotted` names, following re-exports and aliases."""
    module, _, name = dotted.rpartition(".")
    facts = module_facts(module, roots) if module else None
    if facts is None or hops > MAX_DEPTH:
        return None
    if name in facts.aliases:
        return definition(f"{module}.{facts.aliases[name]}", roots, hops + 1)
    if name in facts.imports:
        return definition(facts.imports[name], roots, hops + 1)
    node = facts.functions.get(name) or facts.classes.get(name)
    return (node, facts) if node is not None else None


def _class(dotted: str, roots: tuple[Path, ...]) -> tuple[ast.ClassDef, ModuleFacts] | None:
    found = definition(dotted, roots)
    return found if found is not None and isinstance(found[0], ast.ClassDef) else None  # type: ignore[return-value]


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {node.name: node for node in cls.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _annotated_class(annotation: ast.AST | None, facts: ModuleFacts, roots: tuple[Path, ...]) -> str | None:
    """The project class an annotation names (a name, a dotted name or the same in a string)."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    if not isinstance(annotation, (ast.Name, ast.Attribute)):
        return None  # Optional[X], X | None: may be None, not followed
    dotted = facts.resolve(annotation)
    found = _class(dotted, roots) if dotted else None
    if found is None:
        return None
    cls, owner = found
    return f"{owner.name}.{cls.name}"


# -- what a method returns -------------------------------------------------------------------------

@lru_cache(maxsize=1024)
def _method_flavor(cls: str, method: str, roots: tuple[Path, ...], depth: int) -> str | None:
    found = _class(cls, roots) if depth <= MAX_DEPTH else None
    if found is None:
        return None
    node, facts = found
    function = _methods(node).get(method)
    if function is None:
        return None
    if _is_abstract(function):
        return _implementations_flavor(node, method, facts, roots, depth)
    if function.decorator_list:
        return None
    return _returns_flavor(function, _Context(facts, cls, node), roots, depth)


class _Context:
    """Where a body is read: its module, and its class for `self`."""

    def __init__(self, facts: ModuleFacts, cls: str | None = None, node: ast.ClassDef | None = None) -> None:
        self.facts, self.cls, self.node = facts, cls, node


@lru_cache(maxsize=1024)
def _function_flavor(dotted: str, roots: tuple[Path, ...], depth: int) -> str | None:
    found = definition(dotted, roots) if depth <= MAX_DEPTH else None
    if found is None or not isinstance(found[0], (ast.FunctionDef, ast.AsyncFunctionDef)) or found[0].decorator_list:
        return None
    return _returns_flavor(found[0], _Context(found[1]), roots, depth)


def _returns_flavor(function: ast.FunctionDef | ast.AsyncFunctionDef, context: _Context,
                    roots: tuple[Path, ...], depth: int) -> str | None:
    """The flavour of the sessions every `return` of `function` creates; None if one does not."""
    flavors = {_value_flavor(ret.value, context, roots, depth) for ret in _own_returns(function)}
    return flavors.pop() if len(flavors) == 1 else None  # no return, a non-session, or mixed


def _own_returns(function: ast.AST) -> list[ast.Return]:
    found, stack = [], list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            found.append(node)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return found


def _value_flavor(value: ast.AST | None, context: _Context, roots: tuple[Path, ...], depth: int) -> str | None:
    if isinstance(value, ast.Await):
        value = value.value
    if not isinstance(value, ast.Call):
        return None
    func, facts = value.func, context.facts
    if isinstance(func, ast.Name) and func.id in facts.makers:  # `SessionLocal()` of this module
        return ASYNC if func.id in facts.async_makers else SYNC
    if isinstance(func, ast.Attribute) and context.node is not None and _is_self(func.value):
        return _method_flavor(context.cls, func.attr, roots, depth + 1)  # `self.session()`
    if isinstance(func, ast.Attribute) and context.node is not None and _is_self_attribute(func.value):
        attribute_class = _attribute_class(context, func.value.attr, roots)  # `self.config.session()`
        return _method_flavor(attribute_class, func.attr, roots, depth + 1) if attribute_class else None
    dotted = facts.resolve(func)
    if dotted in SESSION_CLASSES:
        return SYNC
    if dotted in ASYNC_SESSION_CLASSES:
        return ASYNC
    return _function_flavor(dotted, roots, depth + 1) if dotted else None


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _is_self_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and _is_self(node.value)


def _attribute_class(context: _Context, attribute: str, roots: tuple[Path, ...]) -> str | None:
    """The class of `self.<attribute>` as annotations state it: `attribute: T` in the class body, or
    `self.attribute = parameter` in `__init__` with `parameter: T`. One answer or none."""
    assert context.node is not None
    classes = set()
    for node in context.node.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == attribute:
            classes.add(_annotated_class(node.annotation, context.facts, roots))
    init = _methods(context.node).get("__init__")
    if init is not None:
        parameters = {a.arg: a.annotation for a in (*init.args.posonlyargs, *init.args.args, *init.args.kwonlyargs)}
        for node in ast.walk(init):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(_is_self_attribute(t) and t.attr == attribute for t in targets):
                    value = node.value
                    if isinstance(node, ast.AnnAssign):
                        classes.add(_annotated_class(node.annotation, context.facts, roots))
                    elif isinstance(value, ast.Name) and parameters.get(value.id) is not None:
                        classes.add(_annotated_class(parameters[value.id], context.facts, roots))
                    else:
                        classes.add(None)  # assigned something whose class no annotation states
    return classes.pop() if len(classes) == 1 else None


def _is_abstract(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """`@abstractmethod` with a body that does nothing (a docstring, `pass`, `...`, a raise)."""
    decorated = any((isinstance(d, ast.Name) and d.id == "abstractmethod")
                    or (isinstance(d, ast.Attribute) and d.attr == "abstractmethod") for d in function.decorator_list)
    return decorated and all(
        isinstance(s, (ast.Pass, ast.Raise)) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in function.body)


def _implementations_flavor(base: ast.ClassDef, method: str, facts: ModuleFacts,
                            roots: tuple[Path, ...], depth: int) -> str | None:
    """An abstract method is a factory when every subclass in its module that implements it does so
    as a factory of one flavour (and at least one does)."""
    flavors = set()
    for name, cls in facts.classes.items():
        if any(isinstance(b, ast.Name) and b.id == base.name for b in cls.bases) and method in _methods(cls):
            flavors.add(_method_flavor(f"{facts.name}.{name}", method, roots, depth + 1))
    return flavors.pop() if len(flavors) == 1 else None
