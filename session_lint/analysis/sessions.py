"""What opens a session: the predicates SES001-SES006 share.

All of them take the file (for name resolution and configuration) and a node
of the module it is visiting.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import Assignment, ImportAssignment, ScopeProvider

from ..diagnostics import ImportSpec
from .helper_behaviour import Behaviour
from .knowledge import (
    ASYNC_SESSION_AWAITABLE_METHODS,
    ASYNC_SESSION_CLASSES,
    ASYNC_SESSIONMAKERS,
    DML_CONSTRUCTS,
    EVENT_LISTEN,
    EVENT_LISTENS_FOR,
    REGISTRIES,
    REGISTRY_WORDS,
    SCOPED_REGISTRIES,
    SESSION_CLASSES,
    SESSION_ONLY_METHODS,
    SESSIONMAKERS,
    WRITE_METHODS,
)
from .names import dotted_name
from .project import module_defines
from .session_methods import (
    context_method_flavor,
    factory_method_flavor,
    project_class,
    returned_class,
    session_module_method_names,
)
from .walk import IS_NODE, LAYOUT, child_fields, find_all, visit_read_only

if TYPE_CHECKING:
    from .model import FileModel

class Flavor(enum.Enum):
    SYNC = "sync"
    ASYNC = "async"


def raw_session_call(file: FileModel, node: cst.CSTNode) -> Flavor | None:
    """Does this call create a raw session by hand? (`SessionLocal()`, `Session(engine)`,
    `sessionmaker(bind=e)()`, `next(get_db())`.) Returns its flavour."""
    if not isinstance(node, cst.Call):
        return None
    config = file.config
    func = node.func
    if isinstance(func, cst.Call):  # sessionmaker(bind=e)(), create_async_sessionmaker(engine)()
        return built_registry_flavor(file, func)
    names = file.qualified_names(func)
    if names & SESSION_CLASSES:
        return Flavor.SYNC
    if names & ASYNC_SESSION_CLASSES:
        return Flavor.ASYNC
    if file.resolves_to(func, config.session_factories):
        return Flavor.SYNC
    if file.resolves_to(func, config.async_session_factories):
        return Flavor.ASYNC
    if (names & {"builtins.next", "next"} or (not names and _spelled(func, "next"))) and node.args:
        inner = _generator_call(file, node.args[0].value)
        if inner is not None and project_session_generator(file, inner.func):
            return Flavor.SYNC  # a dependency generator driven by hand
    if isinstance(func, cst.Attribute):
        return _factory_method_call(file, func)
    return None


def _factory_method_call(file: FileModel, func: cst.Attribute) -> Flavor | None:
    """`db.session()` where `db` is an object of a project class whose `session` method returns a
    new session (session_methods.py): `db = provide_database_interface()` (the function's return
    annotation names the class) or a parameter `db: PrefectDBInterface`. Only methods named like a
    factory method of the session module's classes: the screen looks for those names."""
    if not isinstance(func.value, cst.Name):
        return None
    roots = file.project_roots()
    method = func.attr.value
    if method not in session_module_method_names(file.config.session_module, roots):
        return None
    cls = _receiver_class(file, func.value, roots)
    flavor = factory_method_flavor(cls, method, roots) if cls else None
    return Flavor(flavor) if flavor else None


def _receiver_class(file: FileModel, name: cst.Name, roots) -> str | None:
    """The project class of the object `name` holds, when its only binding in scope says so."""
    scope = _scope(file, name)
    bindings = list(scope[name.value]) if scope is not None else []
    if len(bindings) != 1 or not isinstance(bindings[0], Assignment) or isinstance(bindings[0], ImportAssignment):
        return None
    node = bindings[0].node
    if isinstance(node, cst.Param):
        annotation = node.annotation.annotation if node.annotation else None
        names = file.qualified_names(annotation) if annotation is not None else set()
        found = {project_class(n, roots) for n in names}
    else:
        value = assigned_value(file, node)
        if isinstance(value, cst.Await):
            value = value.expression
        names = file.qualified_names(value.func) if isinstance(value, cst.Call) else set()
        found = {returned_class(n, roots) for n in names}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def _generator_call(file: FileModel, node: cst.BaseExpression) -> cst.Call | None:
    """`get_db()` in `next(get_db())`, or in `gen = get_db(); next(gen)` (bound in this scope)."""
    if isinstance(node, cst.Call):
        return node
    scope = _scope(file, node) if isinstance(node, cst.Name) else None
    if scope is None:
        return None
    values = [assigned_value(file, a.node) for a in scope[node.value]
              if isinstance(a, Assignment) and not isinstance(a, ImportAssignment)]
    return values[0] if len(values) == 1 and isinstance(values[0], cst.Call) else None


def managed_session_call(file: FileModel, node: cst.CSTNode) -> Flavor | None:
    """Is this a call of the house context manager (`get_db_session()` / `get_async_session()`)?"""
    if not isinstance(node, cst.Call):
        return None
    if file.resolves_to(node.func, file.config.context_managers):
        return Flavor.SYNC
    if file.resolves_to(node.func, file.config.async_context_managers):
        return Flavor.ASYNC
    return _standard_helper(file, node.func, "context-manager")


def opens_session(file: FileModel, node: cst.CSTNode) -> Flavor | None:
    """Any call that opens a new session: by hand or through the context manager."""
    return raw_session_call(file, node) or managed_session_call(file, node)


def is_dependency(file: FileModel, node: cst.CSTNode) -> Flavor | None:
    """Is `node` the configured FastAPI dependency (`get_db` / `get_async_db`)?"""
    if file.resolves_to(node, file.config.dependencies):
        return Flavor.SYNC
    if file.resolves_to(node, file.config.async_dependencies):
        return Flavor.ASYNC
    return _standard_helper(file, node, "dependency")


def _standard_helper(file: FileModel, node: cst.CSTNode, kind: str) -> Flavor | None:
    """A `kind` helper the session module defines without the configuration listing it (SPEC §2:
    standard too, dispatch's `get_organization_session` beside `get_session`)."""
    from .helper_behaviour import standard_helpers

    if not isinstance(node, (cst.Name, cst.Attribute)):
        return None
    roots = file.project_roots()
    helpers = standard_helpers(file.config.session_module, roots)
    for name, found in helpers.items():
        if found.endswith(kind) and file.resolves_to(node, name):
            return Flavor.ASYNC if found.startswith("async-") else Flavor.SYNC
    return None


def is_registry_call(file: FileModel, node: cst.CSTNode) -> bool:
    """`sessionmaker(...)`, `async_sessionmaker(...)`, `scoped_session(...)`: the recommended registries."""
    return (isinstance(node, cst.Call) and not isinstance(node.func, cst.Call)
            and bool(file.qualified_names(node.func) & REGISTRIES))


def session_block_target(file: FileModel, item: cst.WithItem) -> tuple[str, Flavor] | None:
    """For `with <session-opening call> as name:` return (name, flavour)."""
    flavor = opens_session(file, item.item)
    if flavor and item.asname and isinstance(item.asname.name, cst.Name):
        return item.asname.name.value, flavor
    return None


def _spelled(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


# -- manual sessions in context (SES001-SES003) -----------------------------------
# Kept apart from the predicates above: wrappers and module-local registries need a
# look at the whole module, cached with the file's facts (once per linted file).

def _module_cache(file: FileModel, key: str, compute):
    return file.memo(key, compute)


def called_registry(file: FileModel, call: cst.Call) -> tuple[Flavor, cst.Call] | None:
    """`Session()` where `Session = sessionmaker(...)` (or `= make_sessionmaker(config)`, a project
    function returning one) is bound in this module or an enclosing function: calling it opens a raw
    session of that factory's engine. Returns the flavour and the call that built the factory."""
    func = call.func
    if isinstance(func, cst.Attribute):
        return _attribute_registry(file, func)
    scope = _scope(file, func) if isinstance(func, cst.Name) else None
    if scope is None:
        return None
    assignments = [a for a in scope[func.value] if isinstance(a, Assignment)]
    if any(isinstance(a, ImportAssignment) for a in assignments):
        return None  # imported: resolved by name (the configured factory or not a factory at all)
    for assignment in assignments:
        value = assigned_value(file, assignment.node)
        flavor = built_registry_flavor(file, value)
        if flavor:
            return flavor, value
    return None


def _attribute_registry(file: FileModel, func: cst.Attribute) -> tuple[Flavor, cst.Call] | None:
    """`self.SessionLocal()` in a method, where the methods of this class bind only a built factory
    to that attribute (`self.SessionLocal = sessionmaker(bind=self.engine)` in `setUp`, or
    `cls.Session = ...` in `setUpClass`; or the class body binds it): a raw session of that factory.
    The receiver must be the method's own first parameter; an attribute bound anywhere else (another
    object, a base class, a tuple target) is not known to be a factory."""
    receiver = func.value
    method = enclosing_function(file, func) if isinstance(receiver, cst.Name) else None
    if method is None or _receiver(method) != receiver.value:
        return None
    block = file.parent(method)
    owner = file.parent(block) if isinstance(block, cst.IndentedBlock) else None
    if not isinstance(owner, cst.ClassDef):
        return None
    cache = _module_cache(file, "_attribute_bindings", dict)
    if id(owner) not in cache:
        cache[id(owner)] = _attribute_bindings(owner)
    values = cache[id(owner)].get(func.attr.value)
    if not values or any(v is None for v in values):
        return None
    flavors = [built_registry_flavor(file, v) for v in values]
    return (flavors[0], values[0]) if all(flavors) else None


def _receiver(method: cst.FunctionDef) -> str | None:
    """The name of a method's `self` / `cls` (None for a static method or no parameter)."""
    if any(_spelled(d.decorator, "staticmethod") for d in method.decorators):
        return None
    params = [*method.params.posonly_params, *method.params.params]
    return params[0].name.value if params else None


_ASSIGNMENTS = (cst.Assign, cst.AnnAssign, cst.AugAssign)


def _attribute_bindings(cls: cst.ClassDef) -> dict[str, list[cst.BaseExpression | None]]:
    """attribute -> the values its class binds to it: `self.x = v` in the methods (through their own
    first parameter), `x = v` in the class body. None for a binding whose value is unknown
    (`self.x, self.y = pair`, `self.x: T` without a value)."""
    found: dict[str, list[cst.BaseExpression | None]] = {}

    def targets(stmt) -> list[tuple[cst.BaseExpression, cst.BaseExpression | None]]:
        if isinstance(stmt, cst.Assign):
            return [(t.target, stmt.value) for t in stmt.targets]
        if isinstance(stmt, (cst.AnnAssign, cst.AugAssign)):
            return [(stmt.target, stmt.value if isinstance(stmt, cst.AnnAssign) else None)]
        return []

    def add(target, value, receiver: str | None) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                add(element.value, None, receiver)
        elif receiver is None and isinstance(target, cst.Name):
            found.setdefault(target.value, []).append(value)
        elif receiver is not None and isinstance(target, cst.Attribute) and _spelled(target.value, receiver):
            found.setdefault(target.attr.value, []).append(value)

    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                for target, value in targets(small):
                    add(target, value, None)
        elif isinstance(stmt, cst.FunctionDef) and (receiver := _receiver(stmt)) is not None:
            for small in find_all(stmt, lambda node: type(node) in _ASSIGNMENTS):
                for target, value in targets(small):
                    add(target, value, receiver)
    return found


def _scope(file: FileModel, node: cst.CSTNode):
    """The scope of `node`. The engine gives every file its scopes; the rules of flow.py use these
    predicates without declaring ScopeProvider, so ask the mapping itself (None when absent)."""
    scopes = file.metadata.get(ScopeProvider)
    return scopes.get(node) if scopes is not None else None


def assigned_value(file: FileModel, target: cst.CSTNode) -> cst.BaseExpression | None:
    """The value of `target = value` / `target: T = value` (None for other bindings)."""
    parent = file.parent(target)
    if isinstance(parent, cst.AssignTarget) and parent.target is target:
        parent = file.parent(parent)
        return parent.value if isinstance(parent, cst.Assign) else None
    return parent.value if isinstance(parent, cst.AnnAssign) and parent.target is target else None


_SESSIONMAKER_LEAVES = tuple(REGISTRY_WORDS)


def built_registry_flavor(file: FileModel, value: cst.CSTNode | None) -> Flavor | None:
    """Is `value` a session factory being built: `sessionmaker(...)`, `async_sessionmaker(...)`, or a
    call of a project function that returns one (read from its source)? Its sessions' flavour."""
    if not isinstance(value, cst.Call) or isinstance(value.func, cst.Call):
        return None
    # through a project module re-exporting SQLAlchemy's (dispatch: `from .core import sessionmaker`)
    names = file.resolved_names(value.func, _SESSIONMAKER_LEAVES)
    if names & SESSIONMAKERS:  # `sessionmaker(engine, class_=AsyncSession)` makes async sessions
        class_ = next((a.value for a in value.args if a.keyword is not None and a.keyword.value == "class_"), None)
        return Flavor.ASYNC if class_ is not None and file.qualified_names(class_) & ASYNC_SESSION_CLASSES else Flavor.SYNC
    if names & ASYNC_SESSIONMAKERS:
        return Flavor.ASYNC
    if names & SCOPED_REGISTRIES:  # `scoped_session(sessionmaker(bind=engine))`: its sessions are the inner factory's
        return built_registry_flavor(file, _registry_argument(value))
    for name in names:
        module = name.rpartition(".")[0]
        flavor = _module_facts(file, module)[0].get(name) if module else None
        if flavor:
            return Flavor(flavor)
    return None


def _registry_argument(call: cst.Call) -> cst.BaseExpression | None:
    """The factory a `scoped_session(session_factory, scopefunc=None)` wraps."""
    for arg in call.args:
        if (arg.keyword is None and not arg.star) or (arg.keyword is not None and arg.keyword.value == "session_factory"):
            return arg.value
    return None


def project_session_generator(file: FileModel, func: cst.CSTNode) -> bool:
    """Is `func` a generator function of the project that yields a session (a FastAPI dependency:
    the configured one or any other), wherever it is defined? Read from its module's source."""
    if is_dependency(file, func):
        return True
    for name in file.qualified_names(func):
        module = name.rpartition(".")[0]
        if module and name in _module_facts(file, module)[1]:
            return True
    return False


def _module_facts(file: FileModel, module: str) -> tuple[dict[str, str], frozenset[str]]:
    """`conventions.module_session_facts` of a project module (this file's own source for itself), with the
    session module's factories known; nothing for a module outside the project."""
    cache = _module_cache(file, "_module_facts", dict)
    if module not in cache:
        cache[module] = _read_module_facts(file, module)
    return cache[module]


def _read_module_facts(file: FileModel, module: str) -> tuple[dict[str, str], frozenset[str]]:
    from .conventions import module_facts_of

    own = None
    if file.module_name in (module, file.config.session_module):
        own = (file.module_name, file.package, file.module.code.encode("utf-8", "surrogateescape"))
    return module_facts_of(module, file.project_roots(), file.config.session_module, own)


def session_wrappers(file: FileModel) -> dict[str, Flavor]:
    """Top-level functions of this file whose whole body is `return <raw session>`:
    their callers open manual sessions too."""
    return {name: flavor for name, (flavor, _) in _wrapper_returns(file).items()}


def _wrapper_returns(file: FileModel) -> dict[str, tuple[Flavor, cst.Call]]:
    """`session_wrappers`, with the call each one returns."""
    def compute() -> dict[str, tuple[Flavor, cst.Call]]:
        found = {}
        for stmt in file.module.body:
            if not isinstance(stmt, cst.FunctionDef) or stmt.asynchronous or stmt.decorators:
                continue  # a decorator (lru_cache, contextmanager) changes what a call returns
            if isinstance(stmt.body, cst.IndentedBlock):  # one statement, after any docstring
                lines = [s for s in stmt.body.body if not _is_docstring(s)]
                small = lines[0].body if len(lines) == 1 and isinstance(lines[0], cst.SimpleStatementLine) else []
            else:  # `def get(): return SessionLocal()`
                small = stmt.body.body
            if len(small) == 1 and isinstance(small[0], cst.Return):
                flavor = _raw_or_registry(file, small[0].value)
                if flavor:
                    found[stmt.name.value] = flavor, small[0].value
        return found
    return _module_cache(file, "_session_wrappers", compute)


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _local_call(file: FileModel, call: cst.Call, table: dict[str, Flavor]) -> Flavor | None:
    func = call.func
    if isinstance(func, cst.Name) and func.value in table:
        names = file.qualified_names(func)
        if not names or f"{file.module_name}.{func.value}" in names:
            return table[func.value]
    return None


def _raw_or_registry(file: FileModel, node: cst.CSTNode | None) -> Flavor | None:
    if not isinstance(node, cst.Call):
        return None
    registry = called_registry(file, node)
    return raw_session_call(file, node) or (registry[0] if registry else None)


def manual_session_call(file: FileModel, node: cst.CSTNode) -> Flavor | None:
    """A session opened by hand: a raw session call, a call of a `sessionmaker` bound in this
    module, or a call of a same-module wrapper returning one."""
    if not isinstance(node, cst.Call):
        return None
    known = file.memo("manual_session_call", dict)  # SES001, SES002, SES009 ... ask of the same calls
    if node not in known:
        known[node] = _raw_or_registry(file, node) or _local_call(file, node, session_wrappers(file))
    return known[node]


def house_factory_call(file: FileModel, call: cst.Call) -> bool:
    """Is this session one of the configured factory's (the database and engine the house helpers
    use)? `SessionLocal()`, `next(get_db())`, a same-module wrapper returning one. A local
    `sessionmaker(...)`, `Session(engine)` or a project builder's factory is another engine: a fix
    that swaps it for the house helper would point the code at another database (SPEC §4)."""
    func = call.func
    config = file.config
    if explicitly_bound(call):
        return False
    if file.resolves_to(func, config.session_factories) or file.resolves_to(func, config.async_session_factories):
        return True
    if dotted_name(func) == "next" and call.args and isinstance(call.args[0].value, cst.Call):
        return is_dependency(file, call.args[0].value.func) is not None
    wrapped = wrapped_call(file, call)
    return wrapped is not None and house_factory_call(file, wrapped)


def wrapped_call(file: FileModel, call: cst.Call) -> cst.Call | None:
    """For a call of a same-module wrapper (`def new_session(): return SessionLocal()`), the call the
    wrapper's body returns; None for any other call."""
    func = call.func
    if not isinstance(func, cst.Name) or _local_call(file, call, session_wrappers(file)) is None:
        return None
    return _wrapper_returns(file)[func.value][1]


def wrapper_body_call(file: FileModel, node: cst.Call) -> str | None:
    """The wrapper function whose `return` this call is, if any."""
    ret = file.parent(node)
    func = enclosing_function(file, ret) if isinstance(ret, cst.Return) else None
    if func is not None and func.name.value in session_wrappers(file) and isinstance(file.parent(func), cst.Module):
        return func.name.value
    return None


def enclosing_function(file: FileModel, node: cst.CSTNode) -> cst.FunctionDef | None:
    """The nearest function (not lambda) around `node`; None at module or class level."""
    current = file.parent(node)
    while current is not None:
        if isinstance(current, cst.FunctionDef):
            return current
        if isinstance(current, cst.ClassDef):
            return None
        current = file.parent(current)
    return None


def bound_to(file: FileModel, call: cst.Call) -> cst.CSTNode | None:
    """The Assign/AnnAssign whose value is this call (through `x or Call()` / `a if c else Call()`)."""
    node: cst.CSTNode = call
    parent = file.parent(node)
    while isinstance(parent, (cst.BooleanOperation, cst.IfExp)):
        node, parent = parent, file.parent(parent)
    if isinstance(parent, (cst.Assign, cst.AnnAssign)) and parent.value is node:
        return parent
    return None


def global_session_binding(file: FileModel, call: cst.Call) -> str | None:
    """Where a session bound here lives longer than a unit of work: `"module"`, `"class"`
    or `"instance"` (`self.db = SessionLocal()` in a method of a class that is not itself a
    context manager or a test case); None otherwise."""
    binding = bound_to(file, call)
    if binding is None:
        return None
    targets = [t.target for t in binding.targets] if isinstance(binding, cst.Assign) else [binding.target]
    function = enclosing_function(file, call)
    if function is None:
        owner = _enclosing_class(file, call)
        return "class" if owner is not None else "module"
    if not any(isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name)
               and t.value.value in ("self", "cls") for t in targets):
        return None
    owner = _enclosing_class(file, function)
    if owner is None or _scoped_owner(owner):
        return None
    return "instance"


_SCOPED_METHODS = frozenset({"__exit__", "__aexit__", "tearDown", "asyncTearDown", "teardown_method"})


def _scoped_owner(cls: cst.ClassDef) -> bool:
    """A context manager or a test case: the session it stores lives for one block or one test."""
    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    return any(isinstance(s, cst.FunctionDef) and s.name.value in _SCOPED_METHODS for s in body)


def _enclosing_class(file: FileModel, node: cst.CSTNode) -> cst.ClassDef | None:
    current = file.parent(node)
    while current is not None and not isinstance(current, cst.Module):
        if isinstance(current, cst.ClassDef):
            return current
        current = file.parent(current)
    return None


def factory_import_specs(file: FileModel, call: cst.Call) -> tuple[ImportSpec, ...]:
    """The imports of the factory a fix stops calling (the engine removes them only if unused).
    Needs ScopeProvider in the rule's METADATA_DEPENDENCIES."""
    func = call.func
    if isinstance(func, cst.Call):  # sessionmaker(...)()
        func = func.func
    elif raw_session_call(file, call) and dotted_name(func) == "next" and call.args:
        inner = call.args[0].value
        func = inner.func if isinstance(inner, cst.Call) else func
    if isinstance(func, cst.Name) and func.value in session_wrappers(file):
        return ()
    name = dotted_name(func)
    if name is None:
        return ()
    first = name.split(".")[0]
    scope = file.scope(func)
    if scope is None:
        return ()
    specs = []
    for assignment in scope[first]:
        if not isinstance(assignment, ImportAssignment):
            continue
        node = assignment.node
        if isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
            module = "." * len(node.relative) + (dotted_name(node.module) or "")
            for alias in node.names:
                asname = alias.asname.name.value if alias.asname else None
                if (asname or dotted_name(alias.name)) == first:
                    specs.append(ImportSpec(module, dotted_name(alias.name), asname))
        elif isinstance(node, cst.Import):
            for alias in node.names:
                asname = alias.asname.name.value if alias.asname else None
                if asname == first:
                    specs.append(ImportSpec(dotted_name(alias.name), None, asname))
    return tuple(specs)


def helper_available(file: FileModel, dotted: str) -> bool:
    """Is the configured helper (`get_db_session`, `app.api.deps.get_db`) known to exist? A fix
    only imports a helper it can find in the project's source (like SES004's moves)."""
    module, _, leaf = dotted.rpartition(".")
    module = module or file.config.session_module
    return module_defines(module, leaf, file.project_roots())


def yields_session(file: FileModel, node: cst.CSTNode, name: str | None) -> bool:
    """Is `node` in a generator that yields the session `name`: a dependency or context manager
    that provides sessions (where creating one by hand is the point)?"""
    function = enclosing_function(file, node)
    if function is None or name is None:
        return False
    return any(_hands_out(y.value, name) for y in _own_yields(function.body))


def _hands_out(value: cst.CSTNode | None, name: str) -> bool:
    """`yield db` or `yield db, Model` (a fixture handing out the session with what it needs)."""
    if _spelled(value, name):
        return True
    return isinstance(value, cst.Tuple) and any(_spelled(e.value, name) for e in value.elements)


def _own_yields(body: cst.CSTNode) -> list[cst.Yield]:
    """The yields of this function, not of functions nested in it (a nested provider does not make
    the function that defines it one: atom's tests define a `@contextmanager` beside a raw session)."""
    class Collect(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[cst.Yield] = []

        def visit_FunctionDef(self, node) -> bool:
            return False

        def visit_Lambda(self, node) -> bool:
            return False

        def visit_ClassDef(self, node) -> bool:
            return False

        def visit_Yield(self, node: cst.Yield) -> None:
            self.found.append(node)

    collector = Collect()
    visit_read_only(body, collector)
    return collector.found


def local_import_of(file: FileModel, func: cst.CSTNode) -> cst.ImportFrom | None:
    """The function-local `from m import Factory` that binds the factory name used in `func`.
    (A fix adds its helper there too: a module-level import may create an import cycle.)"""
    if not isinstance(func, cst.Name):
        return None
    scope = file.scope(func)
    if scope is None:
        return None
    for assignment in scope[func.value]:
        node = getattr(assignment, "node", None)
        if (isinstance(assignment, ImportAssignment) and isinstance(node, cst.ImportFrom)
                and not isinstance(node.names, cst.ImportStar) and enclosing_function(file, node) is not None):
            return node
    return None


def explicitly_bound(call: cst.Call) -> bool:
    """`Session(connection)`, `SessionLocal(bind=other)`, `sessionmaker(bind=e)()`: a session tied to a
    connection or engine of the caller's choosing, which the house helpers cannot reproduce (inside an
    event hook or a migration it must share the caller's connection)."""
    if isinstance(call.func, cst.Call):
        return True
    return bool(call.args) and dotted_name(call.func) != "next"


# -- sessions of SQLAlchemy event listeners -----------------------------------------

def event_connection_session(file: FileModel, call: cst.Call) -> bool:
    """`Session(bind=connection)` in a SQLAlchemy event listener, bound to the event's own connection
    (a parameter, or `session.connection()` of the event's session): SQLAlchemy's documented way to
    write from a flush or mapper hook, inside the flush's transaction. Not a finding (SPEC §3)."""
    function = enclosing_function(file, call)
    registry = called_registry(file, call)  # `Session = sessionmaker(bind=connection); Session()`
    bind = _bind_argument(registry[1] if registry else call)
    if function is None or bind is None:
        return False
    params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
    if isinstance(bind, cst.Call) and not bind.args and isinstance(bind.func, cst.Attribute) \
            and bind.func.attr.value == "connection":
        bind = bind.func.value  # `session.connection()`: the connection of the event's session
    if not (isinstance(bind, cst.Name) and bind.value in params):
        return False
    # a mapper event's handler, (mapper, connection, target), wherever it is registered
    mapper_event = len(params) == 3 and bind.value == params[1] and params[0] not in ("self", "cls")
    return mapper_event or _is_listener(file, function)


def request_state_session(file: FileModel, call: cst.Call) -> bool:
    """`request.state.db = SessionLocal()` in a function taking the request: HTTP middleware that
    makes each request's session for a dependency to hand out (dispatch: `get_db(request)` returns
    `request.state.db`; the middleware commits, rolls back and closes it). The project's session
    provider, like a generator that yields one: not a finding (SPEC §3)."""
    assign = file.parent(call)
    if not (isinstance(assign, cst.Assign) and assign.value is call and len(assign.targets) == 1):
        return False
    target = assign.targets[0].target
    function = enclosing_function(file, call)
    if function is None or not (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Attribute)
                                and isinstance(target.value.value, cst.Name) and target.value.attr.value == "state"):
        return False
    params = {p.name.value for p in (*function.params.posonly_params, *function.params.params)}
    return target.value.value.value in params


def _bind_argument(call: cst.Call) -> cst.BaseExpression | None:
    """What `Session(bind=x)`, `Session(x)` or `sessionmaker(bind=x)()` binds the session to."""
    args = call.func.args if isinstance(call.func, cst.Call) else call.args
    for arg in args:
        if (arg.keyword is not None and arg.keyword.value == "bind") or (arg.keyword is None and not arg.star):
            return arg.value
    return None


def _is_listener(file: FileModel, function: cst.FunctionDef) -> bool:
    """Decorated with `@event.listens_for(...)`, or registered with `event.listen(target, name, fn)`
    in this module."""
    if any(isinstance(d.decorator, cst.Call) and file.qualified_names(d.decorator.func) & EVENT_LISTENS_FOR
           for d in function.decorators):
        return True
    return function.name.value in _module_cache(file, "_event_listeners", lambda: _registered_listeners(file))


def _calls_listen(node: cst.CSTNode) -> bool:
    """`listen(...)` / `x.listen(...)`."""
    if type(node) is not cst.Call:
        return False
    func = node.func
    leaf = func.attr if type(func) is cst.Attribute else func
    return type(leaf) is cst.Name and leaf.value == "listen"


def _registered_listeners(file: FileModel) -> frozenset[str]:
    found = set()
    for call in find_all(file.module, _calls_listen):
        args = [a.value for a in call.args]
        if len(args) >= 3 and isinstance(args[2], cst.Name) and file.qualified_names(call.func) & EVENT_LISTEN:
            found.add(args[2].value)
    return frozenset(found)


# -- session blocks, for the flow analysis of SES005/SES006 ------------------------

def session_block_opening(file: FileModel, item: cst.WithItem) -> tuple[str, bool] | None:
    """For a `with` item that opens a session bound to a name, return (name, commits at exit).

    The house context manager and `sessionmaker.begin()` / `Factory.begin()` commit when the
    block ends; a raw `with SessionLocal() as db:` / `with Session(engine) as s:` only closes.
    """
    if not (item.asname and isinstance(item.asname.name, cst.Name)):
        return None
    name = item.asname.name.value
    call = item.item
    if managed_session_call(file, call):
        if helper_behaviour(file, call).passes_through:
            return None  # may hand back the caller's own session: the block does not own it
        return name, context_manager_commits(file, call)
    if raw_session_call(file, call):
        return name, False
    if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "begin" and _is_session_factory(file, call.func.value)):
        return name, True  # `with SessionLocal.begin() as db:`
    return None


def session_factory(file: FileModel, node: cst.CSTNode) -> bool:
    """Is `node` a session factory: a configured one, a `sessionmaker(...)`-style registry call, or a
    name this module or an enclosing function binds to one (`Session = sessionmaker(bind=engine)`)?"""
    return _is_session_factory(file, node) or (
        isinstance(node, (cst.Name, cst.Attribute)) and called_registry(file, cst.Call(func=node)) is not None)


def _is_session_factory(file: FileModel, node: cst.CSTNode) -> bool:
    config = file.config
    return (file.resolves_to(node, config.session_factories)
            or file.resolves_to(node, config.async_session_factories)
            or is_registry_call(file, node))


def is_session_annotation(file: FileModel, annotation: cst.BaseExpression | None) -> bool:
    """Is this annotation the (async) session type (`Session`, `AsyncSession`, the configured ones)?"""
    if annotation is None:
        return False
    if isinstance(annotation, cst.Subscript):  # Annotated[Session, Depends(get_db)]
        elements = annotation.slice
        if not elements or not isinstance(elements[0].slice, cst.Index):
            return False
        annotation = elements[0].slice.value
    names = file.qualified_names(annotation)
    config = file.config
    return bool(names & (SESSION_CLASSES | ASYNC_SESSION_CLASSES)) or file.resolves_to(
        annotation, (config.session_type, config.async_session_type))


def helper_behaviour(file: FileModel, call: cst.CSTNode) -> Behaviour:
    """What the project helper or factory called here does (commits at exit? expire_on_commit?),
    read from its source; UNKNOWN when the project does not define it. The one place rules ask."""
    from .helper_behaviour import UNKNOWN, behaviour

    if not isinstance(call, cst.Call):
        return UNKNOWN
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value == "begin":  # SessionLocal.begin()
        func = func.value
    roots = file.project_roots()
    for name in sorted(file.qualified_names(func)):
        found = behaviour(name, roots)
        if found != UNKNOWN:
            return found
    return UNKNOWN


def context_manager_commits(file: FileModel, call: cst.CSTNode) -> bool:
    """Does the (house) context manager called here commit at exit? Read from its source when the
    project defines it (some only close: `try: yield s finally: s.close()`); assumed when unknown."""
    commits = helper_behaviour(file, call).commits
    return True if commits is None else commits


def session_expires_on_commit(file: FileModel, call: cst.CSTNode) -> bool:
    """Does the session this call opens expire its objects on commit? The call's own
    `expire_on_commit=` (`Session(engine, expire_on_commit=False)`), else what the helper or
    sessionmaker it calls says in its source, else the `expire-on-commit` option."""
    if isinstance(call, cst.Call):
        inner = call.func if isinstance(call.func, cst.Call) else None  # sessionmaker(...)()
        for c in (call, inner) if inner is not None else (call,):
            for arg in c.args:
                if arg.keyword is not None and arg.keyword.value == "expire_on_commit" and isinstance(arg.value, cst.Name):
                    if arg.value.value in ("True", "False"):
                        return arg.value.value == "True"
    expires = helper_behaviour(file, call).expires
    return file.config.expire_on_commit if expires is None else expires


def method_on(call: cst.Call, session: str) -> str | None:
    """`add` for `session.add(...)`: the method called on the variable `session`, or None."""
    func = call.func
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == session:
        return func.attr.value
    return None


def writes_through(call: cst.Call, session: str) -> bool:
    """Does this call write through the session `session`: `add`, `delete`, `merge`, `flush`, ... or
    `execute(insert/update/delete(...))` (with any `.where(...)` / `.values(...)` after)?"""
    method = method_on(call, session)
    if method in WRITE_METHODS:
        return True
    if method != "execute" or not call.args:
        return False
    statement = call.args[0].value
    while isinstance(statement, cst.Call) and isinstance(statement.func, cst.Attribute):
        statement = statement.func.value
    return (isinstance(statement, cst.Call) and isinstance(statement.func, cst.Name)
            and statement.func.value in DML_CONSTRUCTS)


class _OwnNodes:
    """Calls and returns of a block in source order, not inside nested functions, lambdas or classes
    (their code runs later, elsewhere)."""

    def __init__(self) -> None:
        self.calls: list[cst.Call] = []
        self.returns: list[cst.Return] = []


def own_nodes(node: cst.CSTNode) -> _OwnNodes:
    """The calls (`.calls`) and returns (`.returns`) `node`'s own code makes."""
    found = _OwnNodes()
    calls, returns = found.calls, found.returns

    def below(node: cst.CSTNode) -> None:
        kind = type(node)
        if kind is cst.Call:
            calls.append(node)
        elif kind is cst.Return:
            returns.append(node)
        elif kind is cst.FunctionDef or kind is cst.Lambda or kind is cst.ClassDef:
            return
        for field in child_fields(node):
            value = getattr(node, field)
            if IS_NODE[type(value)]:
                if type(value) not in LAYOUT:
                    below(value)
            elif isinstance(value, (list, tuple)):
                for child in value:
                    if IS_NODE[type(child)] and type(child) not in LAYOUT:
                        below(child)

    below(node)
    return found


def function_own_nodes(file: FileModel, function: cst.FunctionDef) -> _OwnNodes:
    """`own_nodes(function.body)`, walked once per function whichever rule asks (SES010, SES011,
    SES015 and the sessions of the function)."""
    known = file.memo("function_own_nodes", dict)
    if function not in known:
        known[function] = own_nodes(function.body)
    return known[function]


# -- the sessions a function holds (SES010, SES011, SES015) -------------------------

def annotation_flavor(file: FileModel, annotation: cst.BaseExpression | None) -> Flavor | None:
    """The session flavour an annotation states: `AsyncSession`, `Session`, the configured types,
    also inside `Optional[...]`, `X | None` and `Annotated[X, ...]` (a string annotation is not read)."""
    if annotation is None:
        return None
    if isinstance(annotation, cst.BinaryOperation) and isinstance(annotation.operator, cst.BitOr):
        flavors = {annotation_flavor(file, side) for side in (annotation.left, annotation.right)} - {None}
        return flavors.pop() if len(flavors) == 1 else None
    if isinstance(annotation, cst.Subscript):  # Optional[AsyncSession], Annotated[AsyncSession, Depends(...)]
        first = annotation.slice[0].slice if annotation.slice else None
        return annotation_flavor(file, first.value) if isinstance(first, cst.Index) else None
    names = file.qualified_names(annotation)
    config = file.config
    if names & SESSION_CLASSES or file.resolves_to(annotation, config.session_type):
        return Flavor.SYNC
    if names & ASYNC_SESSION_CLASSES or file.resolves_to(annotation, config.async_session_type):
        return Flavor.ASYNC
    return None


def opened_flavor(file: FileModel, value: cst.BaseExpression | None, *, managed: bool) -> Flavor | None:
    """The flavour of the session `value` opens: a raw session (`AsyncSessionLocal()`, a local
    registry's, a same-module wrapper's, `await db.session()` of a project factory method) or, when
    `managed` (a `with` item), the house context manager's."""
    if isinstance(value, cst.Await):
        value = value.expression
    if not isinstance(value, cst.Call):
        return None
    flavor = manual_session_call(file, value)
    if flavor is None and managed:
        flavor = managed_session_call(file, value)
    func = value.func
    if flavor is None and managed and isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
        roots = file.project_roots()  # `async with db.session_context() as s:` (session_methods.py)
        cls = _receiver_class(file, func.value, roots)
        found = context_method_flavor(cls, func.attr.value, roots) if cls else None
        if found:
            return Flavor(found)
    if flavor is None and managed and isinstance(func, cst.Attribute) and func.attr.value == "begin":
        factory = func.value  # `async with AsyncSessionLocal.begin() as s:`
        if file.resolves_to(factory, file.config.async_session_factories):
            return Flavor.ASYNC
        if file.resolves_to(factory, file.config.session_factories):
            return Flavor.SYNC
        if isinstance(factory, (cst.Name, cst.Attribute)):
            registry = called_registry(file, cst.Call(func=factory))
            return registry[0] if registry else None
    return flavor


class _Bindings(cst.CSTVisitor):
    """Every name a function's own code binds, with the value (or `with` item) that binds it."""

    def __init__(self) -> None:
        self.found: dict[str, list[tuple[str, cst.CSTNode | None]]] = {}

    def add(self, target: cst.CSTNode, kind: str, value: cst.CSTNode | None) -> None:
        if isinstance(target, cst.Name):
            self.found.setdefault(target.value, []).append((kind, value))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.add(element.value, "other", None)
        elif isinstance(target, cst.StarredElement):
            self.add(target.value, "other", None)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self.add(target.target, "assign" if len(node.targets) == 1 else "other", node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.add(node.target, "annotated", node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.add(node.target, "other", None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.add(node.target, "assign", node.value)

    def visit_For(self, node: cst.For) -> None:
        self.add(node.target, "other", None)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self.add(node.asname.name, "with", node.item)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self.add(node.name.name, "other", None)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self.add(item.name, "other", None)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        for item in node.names:
            self.add(item.name, "other", None)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        name = node.asname.name if node.asname else node.name
        while isinstance(name, cst.Attribute):
            name = name.value
        self.add(name, "other", None)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.add(node.name, "other", None)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.add(node.name, "other", None)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ListComp(self, node) -> bool:  # comprehension targets are their own scope
        return False

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp


def function_sessions(file: FileModel, function: cst.FunctionDef,
                      outer: dict[str, Flavor] | None = None) -> dict[str, Flavor]:
    """{name: flavour} of the sessions `function`'s own code holds through a plain name: parameters
    annotated with a session type or injected with `Depends`, `with` / `async with` targets of a
    session-opening call, `s = <raw session>` (`await` included), `s: AsyncSession = ...`, and the
    `outer` function's sessions it does not rebind (a closure). A name also bound to anything else
    in the function is none of them (it may hold something else)."""
    from .fastapi import injected_sessions

    params = function.params
    all_params = [*params.posonly_params, *params.params, *params.kwonly_params,
                  *(p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param))]
    injected = {i.name: i.flavor for i in injected_sessions(file, function)}
    found: dict[str, Flavor] = {}
    shadowed: set[str] = set()
    for param in all_params:
        name = param.name.value
        flavor = injected.get(name) or annotation_flavor(file, param.annotation.annotation if param.annotation else None)
        if flavor is not None:
            found[name] = flavor
        else:
            shadowed.add(name)
    bindings = _Bindings()
    if isinstance(function.body, cst.IndentedBlock):
        for stmt in function.body.body:
            visit_read_only(stmt, bindings)
    for name, bound in bindings.found.items():
        flavors = set()
        for kind, value in bound:
            if kind == "with":
                flavors.add(opened_flavor(file, value, managed=True))
            elif kind == "assign":
                flavors.add(opened_flavor(file, value, managed=False))
            elif kind == "annotated":
                flavors.add(annotation_flavor(file, value.annotation.annotation)
                            or opened_flavor(file, value.value, managed=False))
            else:
                flavors.add(None)
        if name in found:
            flavors.add(found[name])
        elif name in shadowed:
            flavors.add(None)
        if len(flavors) == 1 and None not in flavors:
            found[name] = flavors.pop()
        else:
            found.pop(name, None)
            shadowed.add(name)
    for name, flavor in (outer or {}).items():
        if name not in found and name not in shadowed:
            found[name] = flavor
    untyped = {p.name.value for p in all_params} - set(found)
    untyped |= {name for name, bound in bindings.found.items() if all(kind in ("with", "assign") for kind, _ in bound)}
    untyped = {name for name in untyped - set(found)
               if all(kind in ("with", "assign") for kind, _ in bindings.found.get(name, ()))}
    if untyped and function.asynchronous:
        for name in _used_like_async_sessions(file, function, untyped):
            found[name] = Flavor.ASYNC
    return found


def sessions_of(file: FileModel, function: cst.FunctionDef) -> dict[str, Flavor]:
    """`function_sessions` of `function`, with the sessions of the function around it (if any) as
    `outer`: computed once per function whichever rule asks (SES010, SES011), and only for the
    functions a rule asks about and the functions around them."""
    memo = file.memo("sessions_of", dict)
    found = memo.get(function)
    if found is None:
        around = file.parent(function)
        while around is not None and not isinstance(around, cst.FunctionDef):
            around = file.parent(around)
        outer = sessions_of(file, around) if around is not None else None
        found = memo[function] = function_sessions(file, function, outer)
    return found


def _used_like_async_sessions(file: FileModel, function: cst.FunctionDef, names: set[str]) -> set[str]:
    """The `names` whose coroutine methods `function` awaits (`await s.execute(q)`) and on which it
    calls a method only sessions have (`s.add(obj)`, `s.flush()`): AsyncSessions, whatever made them
    (letta: `async with db_registry.async_session() as session:`, a helper no option can name)."""
    if not isinstance(function.body, cst.IndentedBlock):
        return set()
    awaited: dict[str, set[str]] = {}
    typed: dict[str, set[str]] = {}
    for call in function_own_nodes(file, function).calls:
        func = call.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in names):
            continue
        name, method = func.value.value, func.attr.value
        if method in SESSION_ONLY_METHODS:
            typed.setdefault(name, set()).add(method)
        if method in ASYNC_SESSION_AWAITABLE_METHODS and isinstance(file.parent(call), cst.Await):
            awaited.setdefault(name, set()).add(method)
    # two different methods: one `await manager.flush()` alone is no session (polar's JobQueueManager)
    return {name for name in awaited.keys() & typed.keys()
            if any(a != b for a in awaited[name] for b in typed[name])}

# -- names that hold a session (SES012-SES014: the receiver of `.query(...)`, `.execute(...)`) ------

def session_variable(file: FileModel, name: cst.CSTNode) -> Flavor | None:
    """Does the variable `name` hold a session, by every binding it has in its scope? A `with` /
    `async with` target of a session opening (`with get_db_session() as db:`), a parameter annotated
    as a session (`db: Session`, `Annotated[Session, ...]`) or injected by FastAPI (`Depends(get_db)`,
    an alias), a name assigned a session-opening call (`db = SessionLocal()`, `sessionmaker(...)()`,
    `next(get_db())`, a call of a local registry or wrapper). Resolved, never by its spelling: any
    other binding (a loop target, an unannotated parameter, another value) makes it unknown."""
    if not isinstance(name, cst.Name):
        return None
    scope = _scope(file, name)
    if scope is None:
        return None
    bindings = list(scope[name.value])
    if not bindings:
        return None
    flavors = {_binding_flavor(file, b) for b in bindings}
    return flavors.pop() if len(flavors) == 1 else None


def _binding_flavor(file: FileModel, binding) -> Flavor | None:
    if not isinstance(binding, Assignment) or isinstance(binding, ImportAssignment):
        return None
    node = binding.node
    if isinstance(node, cst.Param):
        return _param_flavor(file, node)
    parent = file.parent(node)
    if isinstance(parent, cst.AsName):
        item = file.parent(parent)
        found = session_block_target(file, item) if isinstance(item, cst.WithItem) else None
        return found[1] if found else None
    value = assigned_value(file, node)
    if isinstance(value, cst.Await):
        value = value.expression
    if isinstance(value, cst.Call):
        return manual_session_call(file, value)
    return None


def _param_flavor(file: FileModel, param: cst.Param) -> Flavor | None:
    from .fastapi import injected_sessions

    annotation = param.annotation.annotation if param.annotation else None
    if annotation is not None and is_session_annotation(file, annotation):
        inner = annotation.slice[0].slice.value if isinstance(annotation, cst.Subscript) else annotation
        asynchronous = (file.qualified_names(inner) & ASYNC_SESSION_CLASSES
                        or file.resolves_to(inner, file.config.async_session_type))
        return Flavor.ASYNC if asynchronous else Flavor.SYNC
    params = file.parent(param)
    owner = file.parent(params) if isinstance(params, cst.Parameters) else None
    if isinstance(owner, cst.Lambda):
        return _run_sync_session(file, owner, param)
    function = enclosing_function(file, param)
    if function is None:
        return None
    return next((i.flavor for i in injected_sessions(file, function) if i.param is param), None)


def _run_sync_session(file: FileModel, function: cst.Lambda, param: cst.Param) -> Flavor | None:
    """`await s.run_sync(lambda sync: ...)` on an async session: the lambda's first parameter is the
    sync session that `AsyncSession.run_sync` hands it."""
    positional = [*function.params.posonly_params, *function.params.params]
    arg = file.parent(function)
    call = file.parent(arg) if isinstance(arg, cst.Arg) else None
    if not (positional and positional[0] is param and isinstance(call, cst.Call) and call.args
            and call.args[0] is arg and arg.keyword is None and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "run_sync"):
        return None
    return Flavor.SYNC if session_variable(file, call.func.value) is Flavor.ASYNC else None
