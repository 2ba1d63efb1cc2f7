"""The part of `libcst.matchers` the rules use: `Name("db")`, `Call(func=..., args=[])`, `a | b`,
`ZeroOrMore()` in a sequence, `matches` and `findall`, with LibCST's meaning.

`libcst.matchers` is a generated module of a dataclass per node type and more; importing it takes a
quarter of a second, which every process that asked whether one fix applies paid (mealie: a
sixth of a whole run). These patterns are plain objects checked by `isinstance` and equality,
and `findall` is walk.find_all. tests/test_patterns.py compares both on every node of the
fixtures and rule examples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import libcst as cst

from .walk import find_all


class Pattern:
    """A node of type `kind` whose named fields match (a pattern, a sequence of them, or a value
    compared by equality: `Raise(exc=None)`)."""

    __slots__ = ("kind", "fields")

    def __init__(self, kind: type[cst.CSTNode], fields: dict[str, Any]) -> None:
        self.kind, self.fields = kind, fields

    def match(self, node: object) -> bool:
        return isinstance(node, self.kind) and all(_value_matches(getattr(node, name), expected)
                                                   for name, expected in self.fields.items())

    def __or__(self, other: Pattern | OneOf) -> OneOf:
        return OneOf((self, other))


class OneOf:
    """`a | b`: either pattern."""

    __slots__ = ("options",)

    def __init__(self, options: Sequence[Pattern | OneOf]) -> None:
        self.options = tuple(o for option in options for o in (option.options if isinstance(option, OneOf) else (option,)))

    def match(self, node: object) -> bool:
        return any(option.match(node) for option in self.options)

    def __or__(self, other: Pattern | OneOf) -> OneOf:
        return OneOf((self, other))


class ZeroOrMore:
    """In a sequence pattern: any number of elements (`Global(names=[ZeroOrMore(), NameItem(...), ZeroOrMore()])`)."""


def _value_matches(value: object, expected: object) -> bool:
    if isinstance(expected, (Pattern, OneOf)):
        return expected.match(value)
    if isinstance(expected, (list, tuple)):
        return isinstance(value, (list, tuple)) and _sequence_matches(tuple(value), tuple(expected))
    return value == expected


def _sequence_matches(values: tuple, patterns: tuple) -> bool:
    if not patterns:
        return not values
    head, rest = patterns[0], patterns[1:]
    if isinstance(head, ZeroOrMore):
        return any(_sequence_matches(values[skipped:], rest) for skipped in range(len(values) + 1))
    return bool(values) and _value_matches(values[0], head) and _sequence_matches(values[1:], rest)


def matches(node: object, pattern: Pattern | OneOf) -> bool:
    return pattern.match(node)


def findall(tree: cst.CSTNode, pattern: Pattern | OneOf) -> list[cst.CSTNode]:
    """Every node under `tree` (itself included) that matches, in LibCST's traversal order."""
    return find_all(tree, pattern.match)


def _pattern_of(kind: type[cst.CSTNode]):
    """The pattern constructor for `kind`: positional arguments name its fields in order (`Name("db")`)."""
    names = [field.name for field in dataclasses.fields(kind)]

    def make(*args: object, **fields: object) -> Pattern:
        return Pattern(kind, {**dict(zip(names, args)), **fields})

    make.__name__ = kind.__name__
    return make


Arg = _pattern_of(cst.Arg)
AsName = _pattern_of(cst.AsName)
AssignTarget = _pattern_of(cst.AssignTarget)
Attribute = _pattern_of(cst.Attribute)
Await = _pattern_of(cst.Await)
Call = _pattern_of(cst.Call)
Comment = _pattern_of(cst.Comment)
ConcatenatedString = _pattern_of(cst.ConcatenatedString)
Element = _pattern_of(cst.Element)
Expr = _pattern_of(cst.Expr)
For = _pattern_of(cst.For)
Global = _pattern_of(cst.Global)
Name = _pattern_of(cst.Name)
NameItem = _pattern_of(cst.NameItem)
Raise = _pattern_of(cst.Raise)
Return = _pattern_of(cst.Return)
SimpleStatementLine = _pattern_of(cst.SimpleStatementLine)
SimpleString = _pattern_of(cst.SimpleString)
Subscript = _pattern_of(cst.Subscript)
Try = _pattern_of(cst.Try)
While = _pattern_of(cst.While)
With = _pattern_of(cst.With)
