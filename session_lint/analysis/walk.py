"""A read-only traversal of a LibCST tree in the order of LibCST's own `visit`.

`node.visit(visitor)` rebuilds and re-validates every node it passes (it is written
for transformers), which makes a read-only pass about 4x the cost of this walk. The
order of each node type's fields is taken from LibCST itself: its
`_visit_and_replace_children` is run once per type with a visitor that notes the
fields and does not descend.
"""

from __future__ import annotations

from collections.abc import Callable, Container

import libcst as cst

from .libcst_compat import visit_children


class _FieldRecorder(cst.CSTVisitor):
    """Notes which fields `_visit_and_replace_children` visits, without descending."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if not self.fields or self.fields[-1] != attribute:
            self.fields.append(attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass


# Node types whose `_visit_and_replace_children` skips a field depending on its value
# (`format_spec` when None): their fields are recorded per node, not per type.
# tests/test_metadata.py checks LibCST has no other conditional traversal.
PER_NODE_FIELDS = frozenset({"FormattedStringExpression", "TemplatedStringExpression"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(node: cst.CSTNode) -> tuple[str, ...]:
    """The fields LibCST's own traversal visits, in its order (recorded from it once per type)."""
    kind = type(node)
    found = _CHILD_FIELDS.get(kind)
    if found is None:
        recorder = _FieldRecorder()
        visit_children(node, recorder)
        found = tuple(recorder.fields)
        if kind.__name__ not in PER_NODE_FIELDS:
            _CHILD_FIELDS[kind] = found
    return found


class _NodeTypes(dict):
    """type -> is it a LibCST node? `isinstance(value, cst.CSTNode)` goes through
    `ABCMeta.__instancecheck__` (a Python-level call) for every field of every node walked."""

    def __missing__(self, kind: type) -> bool:
        found = self[kind] = issubclass(kind, cst.CSTNode)
        return found


IS_NODE = _NodeTypes()


# Whitespace, comments and punctuation: only more of the same below them (about half the nodes of
# a module), so a walk looking for code can skip them
LAYOUT = frozenset({
    cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.Newline, cst.TrailingWhitespace, cst.EmptyLine,
    cst.Comment, cst.Comma, cst.Dot, cst.Colon, cst.Semicolon, cst.AssignEqual, cst.LeftParen, cst.RightParen,
    cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace})


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """`node`'s child nodes in LibCST's traversal order."""
    found = []
    for name in child_fields(node):
        value = getattr(node, name)
        if IS_NODE[type(value)]:
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found += [child for child in value if IS_NODE[type(child)]]
    return found


def walk(node: cst.CSTNode, enter: Callable[[cst.CSTNode], None], leave: Callable[[cst.CSTNode], None]) -> None:
    """LibCST's traversal order (`node.visit`) without what makes it expensive for a read-only
    pass: `visit` rebuilds and re-validates every node it passes (about 4x this walk)."""
    enter(node)
    is_node = IS_NODE
    for name in _CHILD_FIELDS.get(type(node)) or child_fields(node):
        value = getattr(node, name)
        if is_node[type(value)]:
            walk(value, enter, leave)
        elif isinstance(value, (list, tuple)):
            for child in value:
                if is_node[type(child)]:
                    walk(child, enter, leave)
    leave(node)


def find_all(node: cst.CSTNode, accept: Callable[[cst.CSTNode], bool]) -> list[cst.CSTNode]:
    """The nodes under `node` (itself included) that `accept`, in `walk`'s order: what
    `libcst.matchers.findall` finds, without its visit rebuilding the tree on the way."""
    found: list[cst.CSTNode] = []
    is_node = IS_NODE

    def below(node: cst.CSTNode) -> None:
        if accept(node):
            found.append(node)
        for name in _CHILD_FIELDS.get(type(node)) or child_fields(node):
            value = getattr(node, name)
            if is_node[type(value)]:
                below(value)
            elif isinstance(value, (list, tuple)):
                for child in value:
                    if is_node[type(child)]:
                        below(child)

    below(node)
    return found


class _Hooks:
    """Which `visit_<Node>` / `leave_<Node>` method a visitor class has for each node type, for
    visitors that keep CSTVisitor's own `on_visit` / `on_leave` (which look the method up by a
    formatted name for every node, and call LibCST's no-op stubs)."""

    def __init__(self, visitor_class: type) -> None:
        self.cls = visitor_class
        self.own_visit = visitor_class.on_visit is cst.CSTVisitor.on_visit
        self.own_leave = visitor_class.on_leave is cst.CSTVisitor.on_leave
        self.visits: dict[type, str | None] = {}
        self.leaves: dict[type, str | None] = {}

    def method(self, table: dict[type, str | None], prefix: str, kind: type) -> str | None:
        name = prefix + kind.__name__
        found = getattr(self.cls, name, None)
        table[kind] = name if found is not None and not getattr(found, "_is_no_op", False) else None
        return table[kind]


_HOOKS: dict[type, _Hooks] = {}


def visit_read_only(node: cst.CSTNode, visitor: cst.CSTVisitor, skip: frozenset[type] = frozenset(),
                    left_out: Container[int] = ()) -> None:
    """`node.visit(visitor)` for a visitor that only reads the tree: the same `on_visit` /
    `on_leave` calls in the same order (children skipped when `on_visit` says so), without
    rebuilding and re-validating every node on the way back up. Nodes of the `skip` types below
    `node`, and the nodes whose ids are in `left_out`, are left out, with everything below them."""
    hooks = _HOOKS.get(type(visitor))
    if hooks is None:
        if len(_HOOKS) > 500:  # visitor classes made in a function (one per call)
            _HOOKS.clear()
        hooks = _HOOKS[type(visitor)] = _Hooks(type(visitor))
    _visit(node, visitor, hooks, skip, left_out)


def visit_code_read_only(node: cst.CSTNode, visitor: cst.CSTVisitor, left_out: Container[int] = ()) -> None:
    """`visit_read_only` without whitespace, comments and punctuation (LAYOUT): for a visitor that
    does nothing with those but record where they are (LibCST's scope analysis, about half its
    nodes)."""
    visit_read_only(node, visitor, LAYOUT, left_out)


def _visit(node: cst.CSTNode, visitor: cst.CSTVisitor, hooks: _Hooks, skip: frozenset[type],
           left_out: Container[int]) -> None:
    if left_out and id(node) in left_out:
        return
    kind = type(node)
    if hooks.own_visit:  # CSTVisitor.on_visit: children unless the hook returns False
        name = hooks.visits[kind] if kind in hooks.visits else hooks.method(hooks.visits, "visit_", kind)
        descend = name is None or getattr(visitor, name)(node) is not False
    else:
        descend = visitor.on_visit(node)
    if descend:
        is_node = IS_NODE
        for field in _CHILD_FIELDS.get(kind) or child_fields(node):
            value = getattr(node, field)
            if is_node[type(value)]:
                if type(value) not in skip:
                    _visit(value, visitor, hooks, skip, left_out)
            elif isinstance(value, (list, tuple)):
                for child in value:
                    if is_node[type(child)] and type(child) not in skip:
                        _visit(child, visitor, hooks, skip, left_out)
    if hooks.own_leave:
        name = hooks.leaves[kind] if kind in hooks.leaves else hooks.method(hooks.leaves, "leave_", kind)
        if name is not None:
            getattr(visitor, name)(node)
    else:
        visitor.on_leave(node)


def record_parents(root: cst.CSTNode, parents: dict, skip: frozenset[type] = frozenset()) -> None:
    """Each node's parent under `root` (cheaper than ParentNodeProvider, which asks every node
    for its `children`, itself a visit), recorded in `walk`'s order; nodes of the `skip` types
    are left out, with everything below them."""
    is_node = IS_NODE

    def below(node: cst.CSTNode) -> None:
        for name in _CHILD_FIELDS.get(type(node)) or child_fields(node):
            value = getattr(node, name)
            if is_node[type(value)]:
                if type(value) not in skip:
                    parents[value] = node
                    below(value)
            elif isinstance(value, (list, tuple)):
                for child in value:
                    if is_node[type(child)] and type(child) not in skip:
                        parents[child] = node
                        below(child)

    below(root)
