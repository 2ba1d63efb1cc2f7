"""The private LibCST APIs session-lint uses, in one place.

Each buys a large saving on a hot path (see the callers) and is covered by tests that compare the
result with LibCST's public API (tests/test_metadata.py). When a LibCST release moves one of them,
this module is the one to change: the callers only use the functions below.

Callers: session_lint/analysis/walk.py (`visit_children`), session_lint/analysis/names.py (`fully_qualify`),
session_lint/engine/metadata.py (`computed_metadata`, `visit_scope_providers_read_only`).
"""

from __future__ import annotations

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
        read_only = (ScopeVisitor, ExpressionContextVisitor)

        def visit_scope_read_only(self: cst.CSTNode, visitor: cst.CSTVisitor) -> cst.CSTNode:
            if isinstance(visitor, read_only) and not getattr(_unpatched, "active", False):
                visit(self, visitor)
                return self
            return original(self, visitor)

        cst.CSTNode.visit = visit_scope_read_only
        _patched = True


@contextmanager
def libcst_own_scope_visits() -> Iterator[None]:
    """LibCST's own `visit` for the scope visitors too, on this thread (what tests compare with)."""
    _unpatched.active = True
    try:
        yield
    finally:
        _unpatched.active = False
