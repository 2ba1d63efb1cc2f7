"""May these statements be moved into a session block? (SPEC §4: a fix never nests session blocks,
never moves network or other slow I/O, or loops over it, into a session.)

The session would be held open (a connection checked out, a transaction running) for as long as
the moved code runs; so a fix refuses code that waits on the outside world, loops over anything
but what the block itself loaded, opens another session or hands the session to other code.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import libcst as cst

from .io_calls import is_slow_io, looks_like_http_call
from .sessions import helper_behaviour, manual_session_call, opens_session, session_block_opening
from .walk import visit_read_only

if TYPE_CHECKING:
    from .model import FileModel


def why_not_move(file: FileModel, statements: Sequence[cst.CSTNode], session: str,
                 loaded: Collection[cst.CSTNode]) -> str | None:
    """The reason the statements must stay outside the block of `session`, or None.
    `loaded`: the name nodes (after the block) that refer to what the block loaded; a loop
    over one of them (or over one of its attributes) only reads what the session holds."""
    finder = _Blocker(file, session, {id(node) for node in loaded})
    for statement in statements:
        visit_read_only(statement, finder)
        if finder.reason:
            return finder.reason
    return None


def _leaf(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


class _Blocker(cst.CSTVisitor):
    def __init__(self, file: FileModel, session: str, loaded: set[int]) -> None:
        self.file = file
        self.session = session
        self.loaded = loaded
        self.reason: str | None = None

    def _refuse(self, reason: str) -> bool:
        self.reason = self.reason or reason
        return False

    def _over_loaded(self, iterable: cst.BaseExpression) -> bool:
        node = iterable.value if isinstance(iterable, cst.Attribute) else iterable
        return id(node) in self.loaded

    def visit_While(self, node: cst.While) -> bool:
        return self._refuse("a loop")

    def visit_For(self, node: cst.For) -> bool:
        return True if self._over_loaded(node.iter) else self._refuse("a loop")

    def visit_CompFor(self, node: cst.CompFor) -> bool:
        return True if self._over_loaded(node.iter) else self._refuse("a loop")

    def visit_Await(self, node: cst.Await) -> bool:
        call = node.expression
        if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                and isinstance(call.func.value, cst.Name) and call.func.value.value == self.session):
            return True  # `await db.execute(...)`: the session's own work
        return self._refuse("an await")

    def visit_WithItem(self, node: cst.WithItem) -> bool:
        item = node.item.expression if isinstance(node.item, cst.Await) else node.item
        if session_block_opening(self.file, node) or opens_session(self.file, item):
            return self._refuse("another session block")
        return True

    def visit_Call(self, node: cst.Call) -> bool:
        func = node.func
        if is_slow_io(self.file.qualified_names(func)):
            return self._refuse("slow I/O")
        if isinstance(func, cst.Attribute) and looks_like_http_call(func.attr.value, _leaf(func.value)):
            return self._refuse("an HTTP call")
        if any(isinstance(arg.value, cst.Name) and arg.value.value == self.session for arg in node.args):
            return self._refuse("a call given the session")
        if manual_session_call(self.file, node) or opens_session(self.file, node):
            return self._refuse("another session")
        if helper_behaviour(self.file, node).creates_sessions:
            return self._refuse("a call that opens a session")
        return True


# -- copying values out of the block instead (SES005's second fix) ---------------------------------
_CONDITIONAL = (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.FunctionDef,
                cst.ClassDef)
_LEAVING = (cst.Return, cst.Raise, cst.Break, cst.Continue, cst.Yield)


def bound_reads(file: FileModel, block: cst.CSTNode, suite: cst.IndentedBlock | cst.Module,
                uses: Sequence[cst.CSTNode], kind_of) -> list[cst.Attribute] | None:
    """The `obj.attr` reads after `block` that can be replaced by a value copied at the end of the
    block, or None when any use cannot: every use after the block must be such a read of a
    column (`kind_of(obj, attr)` is not a relationship; unknown only when the value is not used
    further), evaluated on every path that reaches the statement after the block (no branch,
    loop, short-circuit or early exit before it), with no other mention of the object's name in
    between (a rebinding, an `is None` test)."""
    body = list(suite.body)
    following = body[body.index(block) + 1:]
    use_ids = {id(node) for node in uses}
    reads: list[cst.Attribute] = []
    last = -1
    for use in uses:
        if isinstance(use, cst.Attribute):
            continue  # the read itself: judged through its name
        read = file.parent(use)
        if not (isinstance(use, cst.Name) and isinstance(read, cst.Attribute) and read.value is use
                and id(read) in use_ids and _copyable(file, read, kind_of(use.value, read.attr.value))):
            return None
        statement = _unconditional_statement(file, read, suite)
        if statement is None or statement not in following:
            return None
        reads.append(read)
        last = max(last, following.index(statement))
    if not reads:
        return None
    names = {read.value.value for read in reads}
    for statement in following[:last + 1]:
        for node in _mentions(statement, names):
            if id(node) not in use_ids:
                return None
    if any(_leaves_early(statement) for statement in following[:last]):
        return None
    return reads


def _copyable(file: FileModel, read: cst.Attribute, kind: str | None) -> bool:
    if kind in ("relationship", "eager-relationship"):
        return False  # the value is ORM objects, detached (and expired) like their parent
    outer = file.parent(read)
    if isinstance(outer, cst.Call) and outer.func is read:
        return False  # a method call: it may do anything with the session
    if isinstance(outer, cst.AugAssign) and outer.target is read:
        return False
    dereferenced = (isinstance(outer, (cst.Attribute, cst.Subscript)) and outer.value is read)
    return kind is not None or not dereferenced


def _unconditional_statement(file: FileModel, node: cst.CSTNode, suite: cst.CSTNode) -> cst.CSTNode | None:
    """The statement of `suite` holding `node`, when nothing on the way can skip evaluating it."""
    child, parent = node, file.parent(node)
    while parent is not None and parent is not suite:
        if isinstance(parent, cst.IndentedBlock) or isinstance(parent, _CONDITIONAL):
            return None
        if isinstance(parent, cst.If) and child is not parent.test:
            return None
        if isinstance(parent, cst.IfExp) and child is not parent.test:
            return None
        if isinstance(parent, cst.BooleanOperation) and child is not parent.left:
            return None
        child, parent = parent, file.parent(parent)
    return child if parent is suite else None


def _mentions(statement: cst.CSTNode, names: set[str]) -> list[cst.Name]:
    """Every `Name` node spelling one of `names` as a variable (not `x.name`, not `f(name=...)`)."""
    found: list[cst.Name] = []

    class Finder(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> bool:
            visit_read_only(node.value, self)
            return False

        def visit_Arg(self, node: cst.Arg) -> bool:
            visit_read_only(node.value, self)
            return False

        def visit_Name(self, node: cst.Name) -> None:
            if node.value in names:
                found.append(node)

    visit_read_only(statement, Finder())
    return found


def _leaves_early(statement: cst.CSTNode) -> bool:
    class Finder(cst.CSTVisitor):
        found = False

        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, _LEAVING):
                self.found = True
            return not self.found and not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda))

    finder = Finder()
    visit_read_only(statement, finder)
    return finder.found
