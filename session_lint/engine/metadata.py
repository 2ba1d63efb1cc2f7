"""One traversal of a module for all rules, with LibCST metadata computed only when asked for.

`MetadataWrapper.visit_batched` resolves every declared provider before the rules
visit: a ParentNodeProvider pass, a ScopeProvider pass, an eager QualifiedNameProvider
pass, a PositionProvider pass, then the rules' pass (on ~150-line files that made
LibCST ~4x the cost of its parse). Here the rules share one read-only traversal
(walk.py) that records each node's parent as it goes (a node is visited after all
its ancestors, which is what rules ask for); scope and positions are LibCST's own
providers run on first use (positions per top-level statement, scope without the
idle batched traversals, over scope_slice.py's statements); qualified names are
asked of the node's scope only for the nodes rules look at (what
QualifiedNameProvider computes for every node). Rules keep using `get_metadata(...)`
with the same providers and get the same answers (tests/test_metadata.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import libcst as cst
from libcst.metadata import (
    CodePosition,
    CodeRange,
    ExpressionContextProvider,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from ..analysis.libcst_compat import computed_metadata, positions_and_code, visit_scope_providers_read_only
from ..analysis.model import FileModel
from .windows import LINE_END
from ..analysis.walk import IS_NODE, LAYOUT, child_fields, record_parents, visit_code_read_only


class _Lazy(Mapping):
    """A provider's node -> value mapping, computed on first access."""

    def __init__(self, compute: Callable[[], Mapping]) -> None:
        self._compute = compute
        self._data: Mapping | None = None

    @property
    def data(self) -> Mapping:
        if self._data is None:
            self._data = self._compute()
        return self._data

    def __getitem__(self, node: cst.CSTNode) -> Any:
        return self.data[node]

    def get(self, node: cst.CSTNode, default: Any = None) -> Any:
        return self.data.get(node, default)

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _all_parents(module: cst.Module) -> dict:
    parents: dict = {}
    record_parents(module, parents)
    return parents


class _Parents(_Lazy):
    """Parents recorded by the rules' traversal. A rule looking below the node being visited (a
    rule analysing a function from `visit_FunctionDef`) gets that node's subtree walked once; a
    node outside it (looked up from `visit_Module`) costs one parent pass over the whole module."""

    def __init__(self, module: cst.Module, stack: list[cst.CSTNode]) -> None:
        super().__init__(lambda: _all_parents(module))
        self.module = module
        self.stack = stack
        self.seen: dict[cst.CSTNode, cst.CSTNode] = {}
        self.walked: set[cst.CSTNode] = set()  # subtrees whose code nodes all have their parent in `seen`

    def lookup(self, node: cst.CSTNode) -> cst.CSTNode | None:
        parent = self.seen.get(node)
        if parent is None and self.stack and self.stack[-1] not in self.walked:
            self.walked.add(self.stack[-1])
            record_parents(self.stack[-1], self.seen, LAYOUT)  # (as the traversal: a layout node's from `data`)
            parent = self.seen.get(node)
        return parent

    def __getitem__(self, node: cst.CSTNode) -> cst.CSTNode:
        parent = self.lookup(node)
        return parent if parent is not None else self.data[node]

    def get(self, node: cst.CSTNode, default: Any = None) -> Any:
        parent = self.lookup(node)
        if parent is not None:
            return parent
        return default if node is self.module else self.data.get(node, default)


class _QualifiedNames(_Lazy):
    """QualifiedNameProvider's answer (`scope.get_qualified_names_for(node)`), per node on demand."""

    def __init__(self, scopes: _Lazy) -> None:
        super().__init__(dict)
        self.scopes = scopes

    def __getitem__(self, node: cst.CSTNode) -> Any:
        return self.get(node, set())

    def get(self, node: cst.CSTNode, default: Any = None) -> Any:
        scope = self.scopes.get(node)
        return scope.get_qualified_names_for(node) if scope else set()


class _Positions(_Lazy):
    """PositionProvider's ranges, computed for the top-level statement that holds the node.

    A top-level statement's code starts at column 0 of the line after the code before it,
    so LibCST's PositionProvider run over a module made of that statement alone gives
    the same ranges shifted by that many lines. Rules ask positions for the nodes they
    report and the functions they analyse, rarely for every statement of a file.

    That line: where the statement's code occurs in `text` (the text `module` was parsed
    from, which is its code) when it occurs there exactly once; else by generating the code
    of every statement before it (a whole module's code generation, per file).
    """

    def __init__(self, module: cst.Module, parents: _Parents, stack: list[cst.CSTNode],
                 line_map: Callable[[int], int] | None = None, text: str | None = None) -> None:
        super().__init__(lambda: positions_and_code(module)[0])
        self.module = module
        self.text = text
        self.line_map = line_map  # a window of a larger file: its line -> the file's line (windows.py)
        self.parents = parents
        self.stack = stack  # the traversal's current path: stack[1] is the current top-level statement
        self.by_statement: dict[cst.CSTNode, tuple[Mapping, int]] = {}
        self._first_lines: dict[cst.CSTNode, int] | None = None
        self._top_level = set(module.body)

    def first_lines(self) -> dict[cst.CSTNode, int]:
        """Line (1-based) where each top-level statement's code (with its leading lines) starts."""
        if self._first_lines is None:
            module, line = self.module, 1
            line += sum(_line_count(module.code_for_node(empty)) for empty in module.header)
            self._first_lines = {}
            for statement in module.body:
                self._first_lines[statement] = line if self.line_map is None else self.line_map(line)
                line += _line_count(module.code_for_node(statement))
        return self._first_lines

    def visited_top_statement(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The top-level statement holding an already visited node (parents the traversal saw)."""
        seen = self.parents.seen
        while node in seen:
            parent = seen[node]
            if parent is self.module:
                return node if node in self._top_level else None  # header / footer lines: None
            node = parent
        return None

    def candidates(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        """Top-level statements that may hold `node`, likeliest first: the one found through visited
        parents, the statement being visited (rules analyse what is below them), then every other
        in order (a rule looking ahead from `visit_Module`)."""
        top = self.visited_top_statement(node)
        if top is not None:
            yield top
            return
        if len(self.stack) > 1:
            yield self.stack[1]
        yield from (statement for statement in self.module.body if statement not in self.by_statement)

    def ranges_of(self, statement: cst.CSTNode) -> tuple[Mapping, int]:
        if statement not in self.by_statement:
            alone = self.module.with_changes(body=[statement], header=[], footer=[], has_trailing_newline=True)
            ranges, code = positions_and_code(alone)
            first = self._first_line_in_text(statement, code)
            self.by_statement[statement] = (ranges, (first or self.first_lines()[statement]) - 1)
        return self.by_statement[statement]

    def _first_line_in_text(self, statement: cst.CSTNode, code: str) -> int | None:
        """The statement's first line, from the one place its code occurs in the text (None when
        that is not certain: no text, the code found twice or not at all)."""
        text = self.text
        if text is None or (statement is self.module.body[-1] and not self.module.has_trailing_newline):
            return None  # (the text's last statement lacks the newline the statement alone ends with)
        at = text.find(code)
        if at < 0 or text.find(code, at + 1) >= 0:
            return None
        line = 1 + len(LINE_END.findall(text, 0, at))
        return line if self.line_map is None else self.line_map(line)

    def get(self, node: cst.CSTNode, default: Any = None) -> Any:
        if node is not self.module:
            for statement in self.candidates(node):
                ranges, shift = self.ranges_of(statement)
                found = ranges.get(node)
                if found is not None:
                    return _code_range(found, shift)
        found = self.data.get(node)  # the module itself, header/footer comments
        return _code_range(found, 0) if found is not None else default

    def __getitem__(self, node: cst.CSTNode) -> Any:
        found = self.get(node, _MISSING)
        if found is _MISSING:
            raise KeyError(node)
        return found


_MISSING = object()


def _code_range(found: tuple[int, int, int, int], shift: int) -> CodeRange:
    """A range from `positions_and_code`, `shift` lines down."""
    start_line, start_column, end_line, end_column = found
    return CodeRange(CodePosition(start_line + shift, start_column), CodePosition(end_line + shift, end_column))


def _line_count(code: str) -> int:
    return len(LINE_END.findall(code))  # (what PositionProvider counts as a line break)


def _scopes(module: cst.Module, left_out: frozenset[int] = frozenset()) -> Mapping:
    """ScopeProvider's mapping. Both ScopeProvider and the ExpressionContextProvider it depends
    on do all their work in `visit_Module` (each runs its own visitor over the module); run
    through `MetadataWrapper.resolve`, each also gets a batched traversal of the whole module
    that calls nothing - half the cost of scope analysis. Same providers, same results
    (tests/test_metadata.py)."""
    # both only read the tree (no rebuilt copy of it), and do nothing with layout but give it a scope
    # (which no rule asks about: a whitespace or comment node gets none)
    visit_scope_providers_read_only(_visit_code_but_left_out)
    contexts = ExpressionContextProvider()
    contexts.left_out = left_out  # (scope_slice.py: methods no resolution of a word depends on)
    contexts.visit_Module(module)
    scopes = ScopeProvider()
    scopes.left_out = left_out
    scopes.metadata = {ExpressionContextProvider: computed_metadata(contexts)}
    scopes.visit_Module(module)
    return computed_metadata(scopes)


def _visit_code_but_left_out(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """How the scope visitors visit: layout and the nodes their provider leaves out skipped."""
    visit_code_read_only(node, visitor, getattr(visitor.provider, "left_out", ()))


class ModuleMetadata:
    """The metadata mappings rules read through `get_metadata`, for one module."""

    def __init__(self, module: cst.Module, scope_module: cst.Module | None = None,
                 line_map: Callable[[int], int] | None = None, text: str | None = None,
                 left_out: frozenset[int] = frozenset()) -> None:
        self.stack: list[cst.CSTNode] = []  # the rules' traversal: path from the module to the current node
        self.parents = _Parents(module, self.stack)
        scopes = _Lazy(lambda: _scopes(scope_module or module, left_out))
        self.providers: dict[type, Mapping] = {
            ParentNodeProvider: self.parents,
            ScopeProvider: scopes,
            QualifiedNameProvider: _QualifiedNames(scopes),
            PositionProvider: _Positions(module, self.parents, self.stack, line_map, text),
        }


@lru_cache(maxsize=None)
def _hook_names(rule_class: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The `visit_<Node>` / `leave_<Node>` methods a rule class defines (not LibCST's no-op stubs)."""
    names = [name for name in dir(rule_class) if name.startswith(("visit_", "leave_"))
             and not getattr(getattr(rule_class, name), "_is_no_op", False)]
    attribute_hooks = [name for name in names if name.count("_") > 1]  # visit_Call_func
    if attribute_hooks:
        raise TypeError(f"{rule_class.__name__}: per-attribute hooks are not supported ({attribute_hooks[0]})")
    return tuple(n for n in names if n.startswith("visit_")), tuple(n for n in names if n.startswith("leave_"))


class _RuleTraversal:
    """Calls every rule's hooks for each node (as LibCST's batched visitor does) and records parents."""

    def __init__(self, rules: list[cst.BatchableCSTVisitor], metadata: ModuleMetadata) -> None:
        self.visits: dict[str, list[Callable]] = {}
        self.leaves: dict[str, list[Callable]] = {}
        for rule in rules:
            visits, leaves = _hook_names(type(rule))
            for name in visits:
                self.visits.setdefault(name[len("visit_"):], []).append(getattr(rule, name))
            for name in leaves:
                self.leaves.setdefault(name[len("leave_"):], []).append(getattr(rule, name))
        self.parents = metadata.parents.seen
        self.stack = metadata.stack

    def run(self, module: cst.Module) -> None:
        """Each node in `walk`'s order: its parent recorded, pushed on the stack, the rules'
        `visit_<Node>` hooks called, its children, the `leave_<Node>` hooks, popped. (One function:
        `walk` with two callbacks cost two calls more per node.)"""
        stack, parents, is_node = self.stack, self.parents, IS_NODE
        visits: dict[type, tuple[Callable, ...]] = {}
        leaves: dict[type, tuple[Callable, ...]] = {}
        # Whitespace, comments and punctuation (about half the nodes) are not visited unless a rule
        # hooks one of them (a comment lies below a comma). Only layout lies below layout, so every
        # other node gets the same parent and hooks; a layout node's parent, when asked, comes from
        # `_Parents`' own walk.
        hooked = {kind.__name__ for kind in LAYOUT} & (self.visits.keys() | self.leaves.keys())
        skip = frozenset() if hooked else LAYOUT

        def below(node: cst.CSTNode) -> None:
            kind = type(node)
            if kind not in visits:
                visits[kind] = tuple(self.visits.get(kind.__name__, ()))
                leaves[kind] = tuple(self.leaves.get(kind.__name__, ()))
            stack.append(node)
            for hook in visits[kind]:
                hook(node)
            for field in child_fields(node):
                value = getattr(node, field)
                if is_node[type(value)]:
                    if type(value) not in skip:
                        parents[value] = node
                        below(value)
                elif isinstance(value, (list, tuple)):
                    for child in value:
                        if is_node[type(child)] and type(child) not in skip:
                            parents[child] = node
                            below(child)
            for hook in leaves[kind]:
                hook(node)
            stack.pop()

        below(module)


def visit_with_rules(module: cst.Module, rules: list[cst.BatchableCSTVisitor],
                     scope_module: cst.Module | None = None, file: FileModel | None = None,
                     line_map: Callable[[int], int] | None = None, text: str | None = None,
                     left_out: frozenset[int] = frozenset()) -> None:
    """Visit `module` once with every rule, metadata resolved as the rules ask for it (scopes from
    `scope_module`, the statements of `module` name resolution depends on, but the methods in
    `left_out`: scope_slice.py). The file's model (what the rules and the analysis query) reads the
    same metadata. `text`: the text `module` was parsed from, when the caller has it (positions
    are found in it)."""
    metadata = ModuleMetadata(module, scope_module, line_map, text, left_out)
    for rule in rules:
        rule.metadata = metadata.providers
    if file is not None:
        file.metadata = metadata.providers
    traversal = _RuleTraversal(rules, metadata)
    try:
        traversal.run(module)
    finally:
        for rule in rules:
            rule.metadata = {}
        if file is not None:
            file.metadata = {}
