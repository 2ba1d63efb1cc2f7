"""The screen's triggers on async code, for SES010, SES011 and SES015: their prefilters, the words
scope_slice.py keeps for them, and the `ast` checks session_lint/engine/screen.py runs when a file
spells those words (the screen's contract: see that module's docstring).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Callable, Container, Iterable, NamedTuple

from ..analysis.ast_imports import import_bindings, last_name
from ..analysis.knowledge import (
    ASYNC_CREATE_TASK,
    ASYNC_GATHER,
    ASYNC_SESSION_AWAITABLE_METHODS,
    SESSION_ONLY_METHODS,
)
from ..analysis.word_search import AttributeSearch, WordSearch
from .screen_ast import Nodes, leaf, may_inject, own_code, parameters_with_defaults, plain_annotation

if TYPE_CHECKING:
    from .screen import _Finder


# -- SES010, SES011, SES015: triggers on async code (`unawaited`, `shared_tasks`, `sync_in_async`) ----------
#   unawaited     an `async def` whose own code (not its decorators or nested defs) calls an AsyncSession
#                 coroutine method on a name (`db.commit()`,
#                 knowledge.ASYNC_SESSION_AWAITABLE_METHODS) that is not the operand of an `await`, a name
#                 that may hold a session there (`_may_hold_sessions`) (SES010)
#   shared_tasks  an `async def` with a call spelled `gather` / `create_task` / `ensure_future` /
#                 `start_soon` given a name that may hold a session there (SES011)
#   sync_in_async an `async def` that opens a session (what the `raw` / `managed` triggers call an
#                 opening) or may have one injected (a parameter with a call as default, or an annotation
#                 that may be `Annotated[...]` or an alias of it: `screen_ast.may_inject`) (SES015)
# The session may come through an alias that spells no session word, so each has its own prefilter.
ASYNC_TRIGGERS = frozenset({"unawaited", "shared_tasks", "sync_in_async"})
_ASYNC_DEF = WordSearch(rb"async\s+def\b")
_TASK_WORDS = frozenset({"gather", "create_task", "ensure_future", "start_soon"})
_ASYNC_PREFILTERS = {
    "unawaited": (_ASYNC_DEF, AttributeSearch(ASYNC_SESSION_AWAITABLE_METHODS)),
    "shared_tasks": (_ASYNC_DEF, WordSearch(rb"(?:" + "|".join(sorted(_TASK_WORDS)).encode() + rb")\b")),
    "sync_in_async": (_ASYNC_DEF,),
}
# the names these rules resolve (scope_slice.py keeps the statements spelling them)
ASYNC_SCOPE_WORDS = {
    "unawaited": ASYNC_SESSION_AWAITABLE_METHODS | {"Depends"},
    "shared_tasks": frozenset({leaf(n) for n in ASYNC_GATHER | ASYNC_CREATE_TASK} | _TASK_WORDS
                              | {"asyncio", "anyio", "TaskGroup", "create_task_group", "Depends"}),
    "sync_in_async": frozenset({"Depends"}),
}


def spelled_async(triggers: frozenset[str], data: bytes) -> frozenset[str]:
    """The async triggers whose words the file spells (bytes regexes)."""
    return frozenset(t for t in triggers if all(p.search(data) is not None for p in _ASYNC_PREFILTERS[t]))


def async_constructs(triggers: frozenset[str], nodes: Nodes, finder: _Finder | None,
                     spells_openers: bool, session_types: frozenset[str],
                     no_session: Container[str] = frozenset(), no_alias: Container[str] = frozenset(),
                     injects_sync: Callable[[ast.expr | None], bool] = lambda default: False,
                     imported_only: Container[str] = frozenset()) -> frozenset[str]:
    """The `triggers` whose construct the file contains (see their description). `spells_openers`:
    the prefilter looked for every word a session-opening call spells, so without a `finder` (none
    spelled) no call here opens a session. `no_session`: bare annotation names that state no
    AsyncSession; `no_alias`: those that are no `Annotated` alias (`screen_ast.NoSessionNames`);
    `injects_sync`: is a parameter's default the configured sync dependency (SES010 and SES011 look
    at async sessions only)? `imported_only`: the names the file binds by imports only
    (`FromImports.imported_only`)."""
    fired: set[str] = set()
    functions = nodes.of(ast.AsyncFunctionDef)
    signs = _Signs(finder.may_open if finder is not None else (_never if spells_openers else _always), session_types,
                   no_session, injects_sync, imported_only)
    nesting = _Nesting(nodes)
    # (an `await` of a call is in every def the call is in: one set serves every function)
    awaited = {id(n.value) for n in nodes.of(ast.Await)} if "unawaited" in triggers else set()
    if "unawaited" in triggers and _unawaited_receivers(nodes.of(ast.Call), awaited):
        for function in functions:
            inside = nodes.within(function)
            receivers = _unawaited_receivers(inside, awaited)
            if receivers:  # SES010 reads the calls of the body's own code (sessions.own_nodes), not of a
                receivers = _unawaited_receivers(own_code(function), awaited)  # decorator or nested def
            if receivers and _may_hold_sessions(inside, receivers, awaited, nesting.outer_candidates(function, signs),
                                                signs):
                fired.add("unawaited")
                break
    if "shared_tasks" in triggers:
        words = _TASK_WORDS | {local for local, bound in import_bindings(  # `from asyncio import gather as g`
            nodes.of(ast.Import, ast.ImportFrom), "", keep_unresolved=True).items() if leaf(bound) in _TASK_WORDS}
        starts = {id(n) for n in nodes.of(ast.Call) if last_name(n.func) in words}
        if starts and any(_task_may_get_a_session(function, starts, nodes, nesting, signs)
                          for function in functions):
            fired.add("shared_tasks")
    if "sync_in_async" in triggers:
        openings = finder.opening_lines() if finder is not None else []
        if any(may_inject(f, no_alias) or any(f.lineno <= line <= f.end_lineno for line in openings) for f in functions):
            fired.add("sync_in_async")
    return frozenset(fired)


def _unawaited_receivers(nodes: Iterable[ast.AST], awaited: set[int]) -> set[str]:
    """The names AsyncSession coroutine methods are called on among `nodes`, outside an `await`."""
    return {n.func.value.id for n in nodes if isinstance(n, ast.Call) and id(n) not in awaited
            and isinstance(n.func, ast.Attribute) and n.func.attr in ASYNC_SESSION_AWAITABLE_METHODS
            and isinstance(n.func.value, ast.Name)}


class _Nesting:
    """`outer_candidates(function)`: what the def around `function` may hold a session in (its free
    names may be that def's sessions: sessions.sessions_of), None when no def is around it. Asked
    only of the async defs whose calls a trigger looks at, so the defs' source spans are compared
    (one def lies inside another's span, decorators included, exactly when it is inside that def)
    instead of walking every def: methods were walked once more for this alone."""

    def __init__(self, nodes: Nodes) -> None:
        self.nodes = nodes
        self.defs: list[tuple[tuple[tuple[int, int], tuple[int, int]], ast.FunctionDef | ast.AsyncFunctionDef]] | None = None
        self.candidates: dict[int, set[str]] = {}

    def around(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The innermost def holding `function` (through classes too, as sessions_of looks)."""
        if self.defs is None:
            self.defs = [(_def_span(n), n) for n in self.nodes.of(ast.FunctionDef, ast.AsyncFunctionDef)]
        start, end = span = _def_span(function)
        holding = [(outer, node) for outer, node in self.defs if outer[0] <= start and end <= outer[1] and outer != span]
        return max(holding, key=lambda found: found[0][0])[1] if holding else None

    def outer_candidates(self, function: ast.FunctionDef | ast.AsyncFunctionDef, signs: _Signs) -> set[str] | None:
        outer = self.around(function)
        if outer is None:
            return None
        if id(outer) not in self.candidates:
            inside = self.nodes.within(outer)
            awaited = {id(n.value) for n in inside if isinstance(n, ast.Await)}
            self.candidates[id(outer)] = _session_candidates(inside, awaited, self.outer_candidates(outer, signs), signs)
        return self.candidates[id(outer)]


def _def_span(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[tuple[int, int], tuple[int, int]]:
    start = min([(node.lineno, node.col_offset), *((d.lineno, d.col_offset) for d in node.decorator_list)])
    return start, (node.end_lineno or node.lineno, node.end_col_offset or 0)


def _task_may_get_a_session(function: ast.AsyncFunctionDef, starts: set[int], nodes: Nodes, nesting: _Nesting,
                            signs: _Signs) -> bool:
    """Does `function` start coroutines (a call in `starts`: `gather`, `create_task`, `start_soon`) with a
    positional argument naming something that may hold a session? SES011 reports only a session the
    function holds (sessions.sessions_of) that a started coroutine uses."""
    inside = nodes.within(function)
    names = {name.id for call in inside if id(call) in starts for arg in call.args
             for name in ast.walk(arg) if isinstance(name, ast.Name)}
    if not names:
        return False
    awaited = {id(n.value) for n in inside if isinstance(n, ast.Await)}
    return _may_hold_sessions(inside, names, awaited, nesting.outer_candidates(function, signs), signs)


class _Signs(NamedTuple):
    """What may make a binding hold a session (`_may_hold_sessions`)."""

    may_open: Callable[[ast.Call], bool]  # may this call open one (the finder's openings)
    session_types: frozenset[str]  # the session types' last components (`Session`, `AsyncSession`, configured)
    # bare annotation names that state no AsyncSession (`screen_ast.NoSessionNames`)
    no_session: Container[str] = frozenset()
    injects_sync: Callable[[ast.expr | None], bool] = lambda default: False  # a sync session's `Depends(...)`
    imported_only: Container[str] = frozenset()  # bound by imports only: no project object of a known class


def _always(call: ast.Call) -> bool:
    return True


def _never(call: ast.Call) -> bool:
    return False


def _may_hold_sessions(inside: list[ast.AST], names: set[str], awaited: set[int], outer: set[str] | None,
                       signs: _Signs) -> bool:
    """May one of `names` hold a session in this function (`_session_candidates`)?"""
    return bool(names & _session_candidates(inside, awaited, outer, signs))


def _session_candidates(inside: list[ast.AST], awaited: set[int], outer: set[str] | None, signs: _Signs) -> set[str]:
    """The names that may hold a session in the function whose nodes are `inside`
    (sessions.function_sessions, over-approximated). `outer`: those of the def around it, if any.
    A name every binding of which may hold a session: a parameter with a default or an annotation that
    may state a session, a `with` target of a call that may open one (or of a method of a local
    object: a project class's context method), a name annotated so or assigned (`await` or not) a
    call that may open one (sessions.opened_flavor: `job = queue.get()` holds none); a name the
    function uses like a session (awaits a coroutine method of it and calls a session-only method);
    or, in a nested function, a name it does not bind that may hold one in the def around it (a
    closure over that function's session: `landed.get(...)` in a mock's side effect reads a dict).
    With functions nested in this one, their bindings are mixed with its own, so a binding that
    holds no session rules nothing out."""
    bound: set[str] = set()
    candidates: set[str] = set()
    other: set[str] = set()  # bound at least once to something that holds no session
    awaited_on, session_only = set(), set()
    for node in inside:
        if isinstance(node, ast.arguments):
            for arg, default in parameters_with_defaults(node):
                bound.add(arg.arg)
                may_inject = not signs.injects_sync(default) and (
                    isinstance(default, ast.Call)
                    or (arg.annotation is not None and _may_state_session(arg.annotation, signs)))
                (candidates if may_inject else other).add(arg.arg)
        elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
            bound.add(node.optional_vars.id)
            call = node.context_expr
            # sessions.opened_flavor: a method of a project object may open one (`db.session_context()`),
            # not one of an imported module's (`with respx.mock() as m:`: no class of the project's)
            opens = isinstance(call, ast.Call) and (signs.may_open(call) or (
                isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
                and call.func.value.id not in signs.imported_only))
            (candidates if opens else other).add(node.optional_vars.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
            value = node.value.value if isinstance(node.value, ast.Await) else node.value
            opens = (_may_state_session(node.annotation, signs)
                     or (isinstance(value, ast.Call) and signs.may_open(value)))
            (candidates if opens else other).add(node.target.id)
        elif isinstance(node, (ast.Assign, ast.NamedExpr)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value.value if isinstance(node.value, ast.Await) else node.value
            opens = ((isinstance(node, ast.NamedExpr) or len(node.targets) == 1) and isinstance(value, ast.Call)
                     and signs.may_open(value))
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bound.add(name.id)
                        (candidates if opens and name is target else other).add(name.id)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension, ast.AugAssign)):
            names_bound = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            bound |= names_bound
            other |= names_bound
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            if node.func.attr in ASYNC_SESSION_AWAITABLE_METHODS and id(node) in awaited:
                awaited_on.add(node.func.value.id)
            if node.func.attr in SESSION_ONLY_METHODS:
                session_only.add(node.func.value.id)
    has_nested = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) for n in inside[1:])
    if not has_nested:
        candidates -= other  # sessions.function_sessions: a name also bound to anything else holds none
    candidates |= awaited_on & session_only
    if outer is not None:
        candidates |= outer - bound
    return candidates


def _may_state_session(annotation: ast.expr, signs: _Signs) -> bool:
    """May this parameter annotation make it a session (sessions.annotation_flavor, fastapi.injected_sessions)?
    They read both sides of `X | Y`, a subscript by its first element (`Optional[AsyncSession]`;
    `dict[str, UUID]` states none) unless it may be `Annotated` (anything but a builtin or typing name),
    a dotted name by what it resolves to (`asyncio.StreamWriter` is no session type; only a bare
    name may be an alias), a string never; a bare name that is not a builtin or typing one may be,
    unless its import says it is none (`signs.no_session`: `screen_ast.NoSessionNames`)."""
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _may_state_session(annotation.left, signs) or _may_state_session(annotation.right, signs)
    if isinstance(annotation, ast.Subscript):
        value = annotation.value  # (`Annotated[...]` under any name may inject one; a class read as no session cannot)
        if not plain_annotation(value) and not (isinstance(value, ast.Name) and value.id in signs.no_session):
            return True
        first = annotation.slice
        if isinstance(first, ast.Tuple):
            if not first.elts:
                return False
            first = first.elts[0]
        return _may_state_session(first, signs)
    if isinstance(annotation, ast.Constant):
        return False
    if isinstance(annotation, ast.Attribute):
        return annotation.attr in signs.session_types
    if isinstance(annotation, ast.Name) and annotation.id in signs.no_session:
        return False
    return not plain_annotation(annotation)
