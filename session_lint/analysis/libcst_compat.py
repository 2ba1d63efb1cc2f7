"""The private LibCST APIs session-lint uses, in one place.

Each buys a large saving on a hot path (see the callers) and is covered by tests that compare the
result with LibCST's public API (tests/test_metadata.py). When a LibCST release moves one of them,
this module is the one to change: the callers only use the functions below.

Callers: session_lint/analysis/walk.py (`visit_children`), session_lint/analysis/names.py (`fully_qualify`),
session_lint/engine/metadata.py (`computed_metadata`, `positions_and_code`, `visit_scope_providers_read_only`,
which also replaces ScopeVisitor's `on_leave` by one that tests node types without ABC checks).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    import libcst as cst
    from libcst.metadata import BaseMetadataProvider, QualifiedName


def visit_children(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """Run `node`'s own child traversal with `visitor` (`CSTNode._visit_and_replace_children`): the
    only way to learn the order and the conditions in which LibCST visits a node type's fields."""
    node._visit_and_replace_children(visitor)


def fully_qualify(module_name: str, package: str, qname: QualifiedName) -> QualifiedName:
    """A module-relative QualifiedName made absolute (`FullyQualifiedNameVisitor._fully_qualify`),
    for one node at a time instead of FullyQualifiedNameProvider's whole-module pass. Raises
    ImportError for a relative import above the top-level package."""
    from libcst.metadata.name_provider import FullyQualifiedNameVisitor

    return FullyQualifiedNameVisitor._fully_qualify(module_name, package, qname)


def computed_metadata(provider: BaseMetadataProvider) -> Mapping:
    """What a provider computed when run by hand (`provider.visit_Module(module)`) instead of through
    `MetadataWrapper.resolve` (which adds a whole-module traversal that computes nothing)."""
    return provider._computed


def positions_and_code(module: cst.Module) -> tuple[Mapping, str]:
    """PositionProvider's ranges for `module`, as (start line, start column, end line, end column)
    tuples, and the module's code, from one code generation. The ranges are those LibCST's
    `PositionProvidingCodegenState` records, at a third of its cost: it makes two CodePosition
    objects and a CodeRange for every node, splits every token with a regular expression and
    enters a generator-based context manager for every syntactic position; callers turn only the
    ranges they ask for into CodeRanges (tests/test_metadata.py compares every node's with LibCST's)."""
    state = _position_state_class()(default_indent=module.default_indent, default_newline=module.default_newline)
    module._codegen(state)
    return state.ranges, "".join(state.tokens)


_NEWLINE = re.compile(r"\r\n?|\n")  # (position_provider.NEWLINE_RE)


@functools.cache
def _position_state_class() -> type:
    """The code generation state, made on first use (this module does not import LibCST itself)."""
    from libcst._nodes.internal import CodegenState

    class PositionState(CodegenState):
        """LibCST's `PositionProvidingCodegenState`: the same positions, kept as tuples."""

        def __init__(self, default_indent: str, default_newline: str) -> None:
            super().__init__(default_indent=default_indent, default_newline=default_newline)
            self.line, self.column = 1, 0  # (1-based, 0-based)
            self.starts: list[tuple[int, int]] = []
            self.ranges: dict[cst.CSTNode, tuple[int, int, int, int]] = {}

        def add_indent_tokens(self) -> None:
            self.tokens.extend(self.indent_tokens)
            for token in self.indent_tokens:
                self._advance(token)

        def add_token(self, value: str) -> None:
            self.tokens.append(value)
            self._advance(value)

        def _advance(self, value: str) -> None:
            if "\n" in value or "\r" in value:
                segments = _NEWLINE.split(value)
                self.line += len(segments) - 1
                self.column = len(segments[-1])
            else:
                self.column += len(value)

        def before_codegen(self, node: cst.CSTNode) -> None:
            self.starts.append((self.line, self.column))

        def after_codegen(self, node: cst.CSTNode) -> None:
            start = self.starts.pop()
            if node not in self.ranges:  # a syntactic position, recorded while generating it, wins
                self.ranges[node] = (*start, self.line, self.column)

        def record_syntactic_position(self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None,
                                      end_node: cst.CSTNode | None = None) -> _SyntacticPosition:
            return _SyntacticPosition(self, node, start_node, end_node)

    return PositionState


class _SyntacticPosition:
    """`PositionProvidingCodegenState.record_syntactic_position` as a plain context manager: the
    range of what is generated inside it, its start or end taken from `start_node` / `end_node`."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state, node: cst.CSTNode, start_node: cst.CSTNode | None,
                 end_node: cst.CSTNode | None) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = (self.state.line, self.state.column)

    def __exit__(self, *exc_info) -> bool:
        state = self.state
        ranges = state.ranges
        start = ranges[self.start_node][:2] if self.start_node is not None else self.start
        end = ranges[self.end_node][2:] if self.end_node is not None else (state.line, state.column)
        ranges[self.node] = (*start, *end)
        return False  # (exceptions propagate, as from LibCST's)


_patch_lock = threading.Lock()
_patched = False
_unpatched = threading.local()  # `.active` while `libcst_own_scope_visits()` runs (tests compare with it)


def visit_scope_providers_read_only(visit: Callable[[cst.CSTNode, cst.CSTVisitor], None]) -> None:
    """From now on, `node.visit(visitor)` runs `visit(node, visitor)` and returns `node` unchanged
    when `visitor` is one of LibCST's scope-analysis visitors (ScopeProvider's `ScopeVisitor`,
    ExpressionContextProvider's `ExpressionContextVisitor`); every other visitor gets LibCST's own.

    Those two only read the tree, and call `child.visit(self)` on the parts they handle themselves:
    `CSTNode.visit` rebuilds and re-validates every node it passes, about a third of the cost of
    scope analysis, for a copy of the tree nobody uses. tests/test_metadata.py compares the scopes
    with LibCST's unpatched providers."""
    global _patched
    import libcst as cst
    from libcst.metadata.expression_context_provider import ExpressionContextVisitor
    from libcst.metadata.scope_provider import ScopeVisitor

    with _patch_lock:
        if _patched:
            return
        original = cst.CSTNode.visit
        read_only = _SubclassOf((ScopeVisitor, ExpressionContextVisitor))  # (isinstance: an ABC check per call)

        def visit_scope_read_only(self: cst.CSTNode, visitor: cst.CSTVisitor) -> cst.CSTNode:
            if read_only[type(visitor)] and not getattr(_unpatched, "active", False):
                visit(self, visitor)
                return self
            return original(self, visitor)

        cst.CSTNode.visit = visit_scope_read_only
        _count_assignments_by_type(ScopeVisitor)
        _patched = True


class _SubclassOf(dict):
    """type -> is it a subclass of `classes`? (`isinstance` with LibCST's classes, which are ABCs,
    runs `ABCMeta.__instancecheck__` in Python for each class of the tuple.)"""

    def __init__(self, classes: tuple[type, ...]) -> None:
        super().__init__()
        self.classes = classes

    def __missing__(self, kind: type) -> bool:
        found = self[kind] = issubclass(kind, self.classes)
        return found


# ScopeVisitor.on_leave as LibCST 1.x writes it; `_count_assignments_by_type` replaces exactly this.
_SCOPE_ON_LEAVE = """\
    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.provider.set_metadata(original_node, self.scope)
        if isinstance(original_node, _ASSIGNMENT_LIKE_NODES):
            self.scope._assignment_count += 1
        super().on_leave(original_node)
"""


def _count_assignments_by_type(scope_visitor: type) -> None:
    """ScopeVisitor.on_leave, called for every node, asks `isinstance(node, _ASSIGNMENT_LIKE_NODES)`:
    18 ABC checks in Python for most nodes, a third of the cost of scope analysis. The same test by
    the node's type, cached. Only when LibCST's method is the one above (else LibCST's own stays)."""
    import inspect

    from libcst.metadata import scope_provider

    original = scope_visitor.on_leave
    try:
        if inspect.getsource(original) != _SCOPE_ON_LEAVE:
            return
    except (OSError, TypeError):
        return
    assignment_like = _SubclassOf(scope_provider._ASSIGNMENT_LIKE_NODES)
    leaves: dict[tuple[type, type], object] = {}  # (visitor, node type) -> `leave_<Node>` or None

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if getattr(_unpatched, "active", False):
            return original(self, original_node)
        self.provider.set_metadata(original_node, self.scope)
        kind = type(original_node)
        if assignment_like[kind]:
            self.scope._assignment_count += 1
        # `super().on_leave(original_node)`: CSTVisitor's, which calls `leave_<Node>` if there is one
        key = (type(self), kind)
        if key not in leaves:
            method = getattr(type(self), f"leave_{kind.__name__}", None)
            leaves[key] = None if method is None or getattr(method, "_is_no_op", False) else method
        method = leaves[key]
        if method is not None:
            method(self, original_node)

    scope_visitor.on_leave = on_leave


@contextmanager
def libcst_own_scope_visits() -> Iterator[None]:
    """LibCST's own `visit` for the scope visitors too, on this thread (what tests compare with)."""
    _unpatched.active = True
    try:
        yield
    finally:
        _unpatched.active = False
