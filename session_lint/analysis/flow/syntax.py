"""Small questions about LibCST expressions the flow analysis asks."""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst


def strip_await(node: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(node, cst.Await):
        node = node.expression
    return node


def class_like(node: cst.BaseExpression) -> bool:
    leaf = node.value if isinstance(node, cst.Name) else node.attr.value if isinstance(node, cst.Attribute) else ""
    return leaf[:1].isupper()


def leaf_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def names_in_target(node: cst.CSTNode) -> list[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for el in node.elements for n in names_in_target(el.value)]
    if isinstance(node, cst.StarredElement):
        return names_in_target(node.value)
    return []


def walk_nodes(node: cst.CSTNode) -> Iterable[cst.CSTNode]:
    yield node
    for child in node.children:
        yield from walk_nodes(child)
