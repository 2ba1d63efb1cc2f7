"""The private LibCST APIs session-lint uses, in one place.

Each buys a large saving on a hot path (see the callers) and is covered by tests that compare the
result with LibCST's public API (tests/test_metadata.py). When a LibCST release moves one of them,
this module is the one to change: the callers only use the functions below.

Callers: session_lint/analysis/walk.py (`visit_children`), session_lint/analysis/names.py (`fully_qualify`),
session_lint/engine/metadata.py (`computed_metadata`).
"""

from __future__ import annotations

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
