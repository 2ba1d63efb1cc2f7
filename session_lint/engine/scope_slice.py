"""The top-level statements scope analysis must see for the names rules resolve.

Scope analysis (LibCST's ScopeProvider) is the largest cost of linting a file that
passed the screen. Rules only resolve names built from session words (configured
factories, managers, dependencies, session types, deprecated names, SQLAlchemy's
session classes) and the names a fix introduces; a utility function in the same file
that spells none of them and shares no module-level name with the statements that do
cannot change what those names resolve to. So ScopeProvider runs over a module made of:

- every top-level statement that spells a word (`Name` nodes, aliases included: an
  import `SessionLocal as SL` spells both; strings where scope analysis reads types)
  or binds at module level a name fixes introduce (`db`, `Depends`, ...), and, with SES015
  selected, every statement holding an `async def` (an imported `Annotated[...]` alias in a
  parameter's annotation spells no word): the seeds;
- every statement that mentions a name a seed binds (rules ask for the uses and
  rebindings of those: a function using the module-global session `db`); then,
  until nothing changes,
- every statement that binds a name a kept statement mentions (`helper = ...` used
  by a kept function), so each kept name resolves as it does in the whole module.

The nodes of the kept statements are the module's own nodes, so scopes map the same
node objects; nodes of dropped statements get no scope (their qualified names are
empty: none of them spells a word, so none could resolve to a configured name).

"Module-level names" are the names bound in the module's scope: assignment, loop,
`with`, walrus and match targets, imports, def/class names (not inside function or
class bodies), and `global` declarations in functions.

The same holds one level down, for the methods of a kept class (atom's service modules are big
classes of which a few methods use a session): a method that spells no word, mentions no name a
seed binds, declares no `global` (and is no `async def`, with SES015 selected) is left out of
scope analysis (`ScopeSlice.left_out`: the traversal skips it, so every other node keeps its own
identity), unless the class body's other statements, or the methods kept, mention its name
(`@total.setter`, `handler = process`): then it stays, with what it mentions in turn.

tests/test_scope_slice.py compares diagnostics with and without the slice.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import libcst as cst

from .screen import ScopeWords
from ..analysis.walk import IS_NODE, LAYOUT, child_fields, children, find_all

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names fixes introduce (a parameter `db`, `Depends`, a session type): a statement binding one at
# module level is kept, so the fixes' checks for clashes see it.
FIX_NAMES = frozenset({"db", "session", "Depends", "Annotated", "Session", "AsyncSession"})
_TYPING_CALLS = frozenset({"cast", "TypeVar", "NewType"})


def _mentioned(node: cst.CSTNode, found: set[str], bound: set[str], typing: bool = False) -> None:
    """Every `Name` under `node` into `found`, `global` declarations into `bound`. Strings count
    where scope analysis parses them as types (`typing`: annotations, subscripts,
    `cast`/`TypeVar`/`NewType` calls), not docstrings or messages."""
    kind = type(node)
    if kind is cst.Name:
        found.add(node.value)
        return
    if kind is cst.SimpleString:
        if typing:
            found.update(_IDENTIFIER.findall(node.value))
        return
    if kind is cst.Global:
        bound.update(item.name.value for item in node.names)
    elif kind is cst.Annotation or kind is cst.Subscript:
        typing = True
    elif kind is cst.Call:
        func = node.func
        leaf = func.attr if isinstance(func, cst.Attribute) else func
        typing = typing or (isinstance(leaf, cst.Name) and leaf.value in _TYPING_CALLS)
    for field in child_fields(node):
        value = getattr(node, field)
        if IS_NODE[type(value)]:
            if type(value) not in LAYOUT:
                _mentioned(value, found, bound, typing)
        elif isinstance(value, (list, tuple)):
            for child in value:
                if IS_NODE[type(child)] and type(child) not in LAYOUT:
                    _mentioned(child, found, bound, typing)


def _bound(node: cst.CSTNode, bound: set[str]) -> None:
    """Names `node` binds in the module's scope (assignments, imports, defs, loop and `with`
    targets, walrus, match captures; not inside function or class bodies)."""
    kind = type(node)
    if kind is cst.FunctionDef or kind is cst.ClassDef:
        bound.add(node.name.value)
        for field in child_fields(node):
            if field != "body":  # decorators and defaults run at module level (a walrus there binds)
                for child in _values(getattr(node, field)):
                    _bound(child, bound)
        return
    if kind is cst.AssignTarget or kind is cst.AnnAssign or kind is cst.AugAssign:
        _targets(node.target, bound)
    elif kind is cst.For:  # (a comprehension's `for` binds in its own scope)
        _targets(node.target, bound)
    elif kind is cst.WithItem or kind is cst.ExceptHandler or kind is cst.ExceptStarHandler:
        as_name = node.asname if kind is cst.WithItem else node.name
        if as_name is not None:
            _targets(as_name.name, bound)
    elif kind is cst.NamedExpr:
        _targets(node.target, bound)
    elif (kind is cst.Import or kind is cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
        bound.update(_alias_binding(alias) for alias in node.names)
    elif kind is cst.MatchAs or kind is cst.MatchStar:
        if node.name is not None:
            bound.add(node.name.value)
    elif kind is cst.MatchMapping and node.rest is not None:
        bound.add(node.rest.value)
    elif kind is cst.TypeAlias:
        bound.add(node.name.value)
    for child in children(node):
        if type(child) not in LAYOUT:  # (binds nothing)
            _bound(child, bound)


def _targets(target: cst.CSTNode, bound: set[str]) -> None:
    if isinstance(target, cst.Name):
        bound.add(target.value)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            _targets(element.value, bound)
    elif isinstance(target, cst.StarredElement):
        _targets(target.value, bound)
    elif isinstance(target, cst.AsName):
        _targets(target.name, bound)


def _alias_binding(alias: cst.ImportAlias) -> str:
    """The name an import alias binds: `x` for `import x.y`, `z` for `... as z`."""
    if alias.asname is not None:
        return alias.asname.name.value
    name = alias.name
    while isinstance(name, cst.Attribute):
        name = name.value
    return name.value


def _values(value: object) -> tuple:
    return tuple(v for v in value if IS_NODE[type(v)]) if isinstance(value, (list, tuple)) \
        else (value,) if IS_NODE[type(value)] else ()


class ScopeSlice(NamedTuple):
    """What scope analysis reads: `module`'s statements, but the methods whose ids are in `left_out`."""

    module: cst.Module
    left_out: frozenset[int] = frozenset()


def scope_slice(module: cst.Module, words: ScopeWords) -> ScopeSlice:
    """The top-level statements of `module` a resolution of a word can depend on, and the methods of
    their classes it cannot (see the module's docstring)."""
    mentioned: list[set[str]] = []  # every name each top-level statement spells
    binds: list[set[str]] = []  # the names it binds in the module's scope
    classes: dict[int, list[_Member]] = {}  # a class statement's index -> its body's statements
    for index, statement in enumerate(module.body):
        found: set[str] = set()
        bound: set[str] = set()
        members = _class_members(statement, found, bound)
        if members is None:
            _mentioned(statement, found, bound)  # (`global x` in a function: x is bound in the module)
        else:
            classes[index] = members
        _bound(statement, bound)
        mentioned.append(found)
        binds.append(bound)
    seeds = [bool(found & words.spelled or bound & (FIX_NAMES | words.bound)) or _star_import(statement)
             or (words.async_defs and _holds_async_def(statement))
             for statement, found, bound in zip(module.body, mentioned, binds)]
    # Uses and rebindings of the names the seeds bind: rules ask for their accesses and assignments.
    seed_bound = set().union(*(_seed_binds(statement, bound, words.spelled)
                               for statement, bound, seed in zip(module.body, binds, seeds) if seed))
    kept = [seed or bool(found & seed_bound) for seed, found in zip(seeds, mentioned)]
    # Then whatever binds a name a kept statement mentions, until nothing changes: resolution.
    needed = set().union(*(found for found, keep in zip(mentioned, kept) if keep))
    changed = True
    while changed:
        changed = False
        for index, bound in enumerate(binds):
            if not kept[index] and bound & needed:
                kept[index] = changed = True
                needed |= mentioned[index]
    spelled = words.spelled | seed_bound
    left_out = frozenset(id(member.node) for index, members in classes.items() if kept[index]
                         for member in _methods_left_out(members, spelled, words.async_defs))
    if all(kept):
        return ScopeSlice(module, left_out)
    return ScopeSlice(module.with_changes(body=[s for s, keep in zip(module.body, kept) if keep]), left_out)


class _Member(NamedTuple):
    """A statement of a class body (or the class's own header: `node` None), with the names it spells
    and the `global` declarations it holds."""

    node: cst.CSTNode | None
    mentioned: set[str]
    declared_global: set[str]


def _class_members(statement: cst.CSTNode, found: set[str], bound: set[str]) -> list[_Member] | None:
    """For a class with an indented body: `_mentioned` of the whole statement into `found` and
    `bound`, and what each statement of its body (and its header) spells. None for any other statement."""
    if type(statement) is not cst.ClassDef or type(statement.body) is not cst.IndentedBlock:
        return None
    members = []
    header_found: set[str] = set()
    header_bound: set[str] = set()
    for field in child_fields(statement):
        if field != "body":
            for child in _values(getattr(statement, field)):
                if type(child) not in LAYOUT:
                    _mentioned(child, header_found, header_bound)
    members.append(_Member(None, header_found, header_bound))
    for member in statement.body.body:
        member_found: set[str] = set()
        member_bound: set[str] = set()
        _mentioned(member, member_found, member_bound)
        members.append(_Member(member, member_found, member_bound))
    for member in members:
        found |= member.mentioned
        bound |= member.declared_global
    return members


def _methods_left_out(members: list[_Member], spelled: set[str] | frozenset[str], async_defs: bool) -> list[_Member]:
    """The methods of a kept class no resolution of a word can depend on (see the module's docstring)."""
    candidates = {id(m.node): m for m in members
                  if type(m.node) is cst.FunctionDef and not m.declared_global and not m.mentioned & spelled
                  and not (async_defs and _holds_async_def(m.node))}
    if not candidates:
        return []
    # the class body binds each method's name: whatever the statements kept mention stays bound
    needed = set().union(*(m.mentioned for m in members if id(m.node) not in candidates))
    changed = True
    while changed:
        changed = False
        for key, member in list(candidates.items()):
            if member.node.name.value in needed:
                del candidates[key]
                needed |= member.mentioned
                changed = True
    return list(candidates.values())


def _seed_binds(statement: cst.CSTNode, bound: set[str], words: frozenset[str]) -> set[str]:
    """The names a seed binds whose uses matter: all of them, except in an import line, where
    only the aliases that spell a word, or come from a module path that does, count
    (`from sqlalchemy.orm import Session, relationship`: `Session`)."""
    if not isinstance(statement, cst.SimpleStatementLine) or \
            not any(isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body):
        return bound
    found: set[str] = set()
    for small in statement.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            from_spelled = isinstance(small, cst.ImportFrom) and _spells(small.module, words)
            for alias in small.names if isinstance(small.names, (list, tuple)) else ():
                if from_spelled or _spells(alias, words):
                    found.add(_alias_binding(alias))
        else:
            _bound(small, found)
    return found


def _spells(node: cst.CSTNode | None, words: frozenset[str]) -> bool:
    found: set[str] = set()
    if node is not None:
        _mentioned(node, found, set())
    return bool(found & words)


def _holds_async_def(statement: cst.CSTNode) -> bool:
    """Is there an `async def` in `statement`, at any depth (SES015 visits every one)?"""
    return bool(find_all(statement, lambda node: type(node) is cst.FunctionDef and node.asynchronous is not None))


def _star_import(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar) for small in statement.body)
