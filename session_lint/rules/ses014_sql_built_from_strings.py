"""SES014 sql-built-from-strings: SQL text formatted from non-constant values (SQL injection)."""

from __future__ import annotations

import ast
import re
import string
from typing import Union

import libcst as cst
from libcst.metadata import Assignment, ImportAssignment, ScopeProvider

from ..analysis.project import module_file, parsed_file
from ..analysis.knowledge import CONNECTION_CLASSES, ENGINE_BUILDERS, ENGINE_CLASSES, TEXT_CONSTRUCTS
from ..analysis.sessions import assigned_value, own_nodes, session_variable
from .base import Rule
from ..analysis.walk import visit_read_only

# The screen trigger, what a file must contain for this rule to fire: a call spelled `execute` /
# `exec_driver_sql`, or of SQLAlchemy's `text` as imported here, whose first positional argument is a string built by
# formatting, or a name assigned one in the file. See session_lint/engine/screen_queries.py.
SCREEN_TRIGGERS = ("sql_string",)

DOCS = """\
## What it does
Checks for SQL built by string formatting from a value that is not a constant,
passed to SQLAlchemy's `text()`, to `execute()` on a session or connection, or to
`exec_driver_sql()`: an f-string with an interpolated value, `"..." % value`,
`"...".format(value)`, or `"..." + value`, written in the call or assigned to a
local variable of the same function first (`q = f"..."; db.execute(text(q))`).

Not reported: literals, module-level constants (`UPPER_CASE` names bound to a
literal, or imported), `X.__tablename__`, numbers (`{n:d}`, `%d`, `int(x)`,
`len(x)`), values picked from a constant (`"DESC" if desc else "ASC"`,
`SORT_COLUMNS[key]`), placeholder lists built from constants
(`", ".join(f":p{i}" for i in range(n))`); a value in an identifier position
(inside double quotes, or right after `FROM`, `JOIN`, `INTO`, `UPDATE`, `TABLE`,
`SCHEMA`, `INDEX`, `VIEW`, `SEQUENCE`, `TRIGGER`, `DATABASE`, `EXISTS`, `TO`,
next to a `.`, a bind parameter's name `:{name}`, or the column a condition
starts with, `WHERE {column} = ...`: identifiers cannot be bound parameters); a statement that takes no
parameters (`SET`, `BEGIN`, `SAVEPOINT`, `RELEASE`, `LISTEN`, `PRAGMA`); values
from a same-module function that returns constants, or a parameter every call in
the module passes a constant; and a statement that binds parameters
itself (`text(...).bindparams(...)`, `execute(text(...), params)`): the
formatted part is then an identifier the author chose to interpolate.

## Why is this bad?
A value formatted into SQL is parsed as SQL: `name = "x' OR '1'='1"` turns a
lookup into a query that returns every row, and worse. Bound parameters
(`text("... WHERE name = :name")` with `{"name": name}`) send the value
separately from the statement, so the driver never parses it as SQL (and the
database can cache one statement for every value).

## Example
```python
def find(db: Session, name: str):
    return db.execute(text(f"SELECT * FROM users WHERE name = '{name}'")).all()
```

## Use instead
```python
def find(db: Session, name: str):
    return db.execute(text("SELECT * FROM users WHERE name = :name"), {"name": name}).all()
```

## Fix safety
There is no fix: which parameters to bind, and how to quote identifiers that
cannot be bound, is the author's call.

## Options
- `session-factories`, `context-manager`, `dependency`, `session-type` and their
  async counterparts: which variables are sessions (for `execute()`).

## References
- [SQLAlchemy: Using Textual SQL](https://docs.sqlalchemy.org/en/20/core/tutorial.html#using-textual-sql)
- [SQLAlchemy: text()](https://docs.sqlalchemy.org/en/20/core/sqlelement.html#sqlalchemy.sql.expression.text)
- [OWASP: SQL Injection Prevention Cheat Sheet](https://cheatsheetseries.owasp.org/cheatsheets/SQL_Injection_Prevention_Cheat_Sheet.html)
"""

# A value right after one of these keywords (or inside double quotes / backticks) is an identifier.
_IDENTIFIER_BEFORE = re.compile(
    r'(?:["`.:]|\b(?:FROM|JOIN|INTO|UPDATE|TABLE|SCHEMA|INDEX|VIEW|SEQUENCE|TRIGGER|DATABASE|EXISTS|TO)\s+)$',
    re.IGNORECASE)
# A value before a comparison, at the start of a condition, is its left operand: a column (`{col} = TRUE`).
_CONDITION_START = re.compile(r"(?:^|\b(?:WHERE|AND|OR|ON|HAVING|WHEN|NOT)|[(,])\s*$", re.IGNORECASE)
_COMPARISON_NEXT = re.compile(r"\s*(?:=|<>|!=|<=|>=|<|>|@>|<@|&&|\bIS\b|\bIN\b|\bNOT\b|\bI?LIKE\b)", re.IGNORECASE)
# `SET search_path = ...`, `SET LOCAL TIME ZONE '...'`, `BEGIN IMMEDIATE`, `SAVEPOINT sp_1`: statements
# that take no bound parameters
_SET_STATEMENT = re.compile(r"\s*(?:SET|BEGIN|SAVEPOINT|RELEASE|LISTEN|UNLISTEN|PRAGMA)\s", re.IGNORECASE)
_NUMERIC_FORMATS = frozenset("bdeEfFgGnoxX%")  # `{n:d}`, `{x:.2f}`: the value is formatted as a number
_NUMERIC_PERCENT = frozenset("diouxXeEfFgG")
_NUMERIC_CALLS = frozenset({"int", "float", "len", "bool", "round", "abs", "hex", "oct", "ord", "sum", "min", "max"})
_SAFE_ATTRIBUTES = frozenset({"__tablename__", "__name__"})
_MAX_DEPTH = 12

Part = Union[str, "Value"]


class Value:
    """An interpolated expression of a built string, and whether its format makes it a number."""

    def __init__(self, expression: cst.BaseExpression, numeric: bool = False) -> None:
        self.expression = expression
        self.numeric = numeric


class SqlBuiltFromStrings(Rule):
    code = "SES014"
    name = "sql-built-from-strings"
    summary = "SQL built by string formatting from a non-constant value (SQL injection): bind parameters"
    docs = DOCS
    fix_availability = "none"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        ("from sqlalchemy import text\nfrom sqlalchemy.orm import Session\n\n\n"
         "def f(db: Session, name: str):\n"
         "    return db.execute(text('SELECT * FROM users WHERE name = :name'), {'name': name}).all()\n"),
        ("from sqlalchemy import text\n\nTABLE = 'users'\n\n\ndef f(db):\n"
         "    return db.execute(text(f'SELECT count(*) FROM {TABLE}')).scalar()\n"),
    )
    INVALID = (
        ("from sqlalchemy import text\nfrom sqlalchemy.orm import Session\n\n\n"
         "def f(db: Session, name: str):\n"
         "    return db.execute(text(f\"SELECT * FROM users WHERE name = '{name}'\")).all()\n"),
        ("from sqlalchemy import text\n\n\ndef f(conn, user_id):\n"
         "    q = 'SELECT * FROM users WHERE id = ' + user_id\n    return conn.execute(text(q))\n"),
    )

    def visit_Call(self, node: cst.Call) -> None:
        sink = self._sink(node)
        if sink is None or not node.args or node.args[0].keyword is not None or node.args[0].star:
            return
        if self._binds_parameters(node, sink):
            return
        argument = node.args[0].value
        found = self._built(argument, 0)
        if found is None:
            return
        kind, value = found
        code = self.context.module.code_for_node
        through = f" (through `{argument.value}`)" if isinstance(argument, cst.Name) else ""
        self.report(argument, f"SQL built with {kind} from `{code(value.expression)}`{through} passed to "
                              f"`{sink}()`: bind the value as a parameter instead")

    # -- where SQL goes ---------------------------------------------------------------------------
    def _sink(self, call: cst.Call) -> str | None:
        func = call.func
        if self.qualified_names(func) & TEXT_CONSTRUCTS:
            return "text"
        if not isinstance(func, cst.Attribute):
            return None
        method = func.attr.value
        if method == "exec_driver_sql":
            return "exec_driver_sql"
        if method == "execute" and (session_variable(self.context, func.value) or self._connection(func.value)):
            return "execute"
        return None

    def _connection(self, node: cst.BaseExpression) -> bool:
        """A SQLAlchemy connection: `with engine.connect() as conn` / `engine.begin()` on an engine this
        function or module builds (`create_engine(...)`) or is given (`engine: Engine`), a parameter
        annotated `Connection` / `AsyncConnection`, or `conn = session.connection()`."""
        bindings = self._bindings(node)
        if not bindings:
            return False
        for binding in bindings:
            if not isinstance(binding, Assignment) or isinstance(binding, ImportAssignment):
                return False
            target = binding.node
            if isinstance(target, cst.Param):
                if not self._annotated(target, CONNECTION_CLASSES):
                    return False
                continue
            parent = self.parent(target)
            if isinstance(parent, cst.AsName) and isinstance(self.parent(parent), cst.WithItem):
                value = self.parent(parent).item
            else:
                value = _assigned(self, target)
            if isinstance(value, cst.Await):
                value = value.expression
            if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and not value.args):
                return False
            method, receiver = value.func.attr.value, value.func.value
            if method in ("connect", "begin") and self._engine(receiver):
                continue
            if method == "connection" and session_variable(self.context, receiver):
                continue
            return False
        return True

    def _engine(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Call):
            return bool(self.qualified_names(node.func) & ENGINE_BUILDERS)
        bindings = self._bindings(node)
        if not bindings:
            return False
        for binding in bindings:
            if isinstance(binding, ImportAssignment):
                if not any(_project_engine(q, self.project_roots()) for q in self.qualified_names(node)):
                    return False
                continue
            if not isinstance(binding, Assignment):
                return False
            target = binding.node
            if isinstance(target, cst.Param):
                if not self._annotated(target, ENGINE_CLASSES):
                    return False
                continue
            value = _assigned(self, target)
            if not (isinstance(value, cst.Call) and self.qualified_names(value.func) & ENGINE_BUILDERS):
                return False
        return True

    def _annotated(self, param: cst.Param, classes: frozenset[str]) -> bool:
        annotation = param.annotation.annotation if param.annotation else None
        return annotation is not None and bool(self.qualified_names(annotation) & classes)

    def _binds_parameters(self, call: cst.Call, sink: str) -> bool:
        """`text(...).bindparams(...)`, `execute(text(...), params)`, `execute(sql, params)`."""
        if sink != "text":
            return len(call.args) > 1
        parent = self.parent(call)
        if isinstance(parent, cst.Attribute) and parent.attr.value == "bindparams":
            return True
        outer = self.parent(parent) if isinstance(parent, cst.Arg) else None
        return isinstance(outer, cst.Call) and len(outer.args) > 1 and outer.args[0] is parent

    # -- what was built ---------------------------------------------------------------------------
    def _built(self, node: cst.BaseExpression, depth: int) -> tuple[str, Value] | None:
        """(how, the first non-constant value in a value position) for a string built from one."""
        if isinstance(node, cst.Name) and depth == 0:
            for value in self._local_values(node) or ():
                found = self._built(value, depth + 1)
                if found:
                    return found
            return None
        built = _parts(node)
        if built is None:
            return None
        kind, parts = built
        value = self._unsafe_value(parts)
        return (kind, value) if value is not None else None

    def _unsafe_value(self, parts: list[Part]) -> Value | None:
        """The first value of a built string that is not a constant and sits where a bound parameter
        could go (not an identifier, not in a `SET` statement, whose values cannot be bound)."""
        text = ""
        for index, part in enumerate(parts):
            if isinstance(part, str):
                text += part
                continue
            after = parts[index + 1] if index + 1 < len(parts) and isinstance(parts[index + 1], str) else ""
            left_operand = _CONDITION_START.search(text) and _COMPARISON_NEXT.match(after)
            if (part.numeric or _IDENTIFIER_BEFORE.search(text) or after.startswith(".") or left_operand
                    or _SET_STATEMENT.match(text) or self._constant(part.expression, 0)):
                text += "?"
                continue
            return part
        return None

    def _local_values(self, name: cst.Name) -> list[cst.BaseExpression] | None:
        """The values a variable of this function is assigned (`q = ...`, `q += ...`), or None when
        it has another kind of binding (a parameter, a loop target, an import, another scope)."""
        bindings = self._bindings(name)
        scope = self.get_metadata(ScopeProvider, name, None)
        if not bindings or scope is None or isinstance(scope, cst.metadata.GlobalScope):
            return None
        values = []
        for binding in bindings:
            if not isinstance(binding, Assignment) or isinstance(binding, ImportAssignment):
                return None
            value = _assigned(self, binding.node)
            if value is None:
                return None
            values.append(value)
        return values

    def _constant(self, node: cst.BaseExpression, depth: int) -> bool:
        """Is this value a constant, for SQL's sake: it cannot carry text a caller chose?"""
        if depth > _MAX_DEPTH:
            return False
        constant = lambda n: self._constant(n, depth + 1)  # noqa: E731
        if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary)):
            return True
        if isinstance(node, (cst.ConcatenatedString, cst.FormattedString)):
            parts = _string_parts(node)
            return parts is not None and self._unsafe_value(parts) is None
        if isinstance(node, cst.Name):
            return node.value in ("True", "False", "None") or self._constant_name(node, depth)
        if isinstance(node, cst.Attribute):
            return (node.attr.value in _SAFE_ATTRIBUTES or _upper(node.attr.value)
                    or self._enum_member_value(node))
        if isinstance(node, cst.UnaryOperation):
            return constant(node.expression)
        if isinstance(node, cst.BinaryOperation):
            return constant(node.left) and constant(node.right)
        if isinstance(node, cst.IfExp):
            return constant(node.body) and constant(node.orelse)
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            return all(isinstance(e, cst.Element) and constant(e.value) for e in node.elements)
        if isinstance(node, cst.Dict):  # what a lookup in it can give
            return all(isinstance(e, cst.DictElement) and constant(e.value) for e in node.elements)
        if isinstance(node, cst.Subscript):  # a value picked from a constant table: `SORT[key]`
            return constant(node.value)
        if isinstance(node, (cst.GeneratorExp, cst.ListComp)):
            return constant(node.elt)
        if isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Name) and func.value in _NUMERIC_CALLS:
                return True
            if isinstance(func, cst.Name) and func.value == "str":
                return all(constant(a.value) for a in node.args)
            if isinstance(func, cst.Attribute) and func.attr.value == "join" and len(node.args) == 1:
                return constant(func.value) and constant(node.args[0].value)
            return self._returns_constant(func, depth)
        return False

    def _returns_constant(self, func: cst.BaseExpression, depth: int) -> bool:
        """A call of a function of this module whose every `return` gives a constant
        (`where = _build_where()` joining constant clauses)."""
        bindings = self._bindings(func)
        if len(bindings) != 1 or not isinstance(bindings[0], Assignment) \
                or not isinstance(bindings[0].node, cst.FunctionDef):
            return False
        returns = own_nodes(bindings[0].node.body).returns
        return bool(returns) and all(r.value is not None and self._constant(r.value, depth + 1) for r in returns)

    def _always_given_constants(self, param: cst.Param, depth: int) -> bool:
        """A parameter of a function of this module that every call of it in this module passes a
        constant (`_count(session, where)` called with `where = " AND ".join(CLAUSES)`). A function
        called nowhere here (an API, a route, a callback) takes anything."""
        params = self.parent(param)
        function = self.parent(params) if isinstance(params, cst.Parameters) else None
        if not isinstance(function, cst.FunctionDef) or param.star:
            return False
        positional = [*params.posonly_params, *params.params]
        index = next((i for i, p in enumerate(positional) if p is param), None)
        calls = self._calls_of(function)
        if not calls:
            return False
        for call in calls:
            given = next((a.value for a in call.args if a.keyword is not None
                          and a.keyword.value == param.name.value), None)
            if given is None and index is not None and index < len(call.args) \
                    and all(a.keyword is None and not a.star for a in call.args[:index + 1]):
                given = call.args[index].value
            if given is None:
                if any(a.star for a in call.args):
                    return False
                given = param.default
            if given is None or not self._constant(given, depth + 1):
                return False
        return True

    def _calls_of(self, function: cst.FunctionDef) -> list[cst.Call]:
        """Calls of a top-level function of this module, by name (None if it is also used otherwise)."""
        if not isinstance(self.parent(function), cst.Module) or function.name.value in self.context.calls_elsewhere:
            return []  # (calls in statements this window of the file left out: they may pass anything)
        index = self.context.memo("ses014_calls", lambda: _calls_by_name(self.context.module))
        calls = index.get(function.name.value, [])
        if any(self.get_metadata(ScopeProvider, c.func, None) is None for c in calls):
            return []  # a call we cannot resolve: it may pass anything
        return [c for c in calls if any(isinstance(b, Assignment) and b.node is function
                                         for b in self._bindings(c.func))]

    def _enum_member_value(self, node: cst.Attribute) -> bool:
        """`self.value` / `self.name` in a method of an `Enum` subclass: one of its members' values."""
        if not (isinstance(node.value, cst.Name) and node.value.value == "self" and node.attr.value in ("value", "name")):
            return False
        current = self.parent(node)
        while current is not None and not isinstance(current, cst.ClassDef):
            current = self.parent(current)
        return current is not None and any(
            any(q.startswith("enum.") for q in self.qualified_names(base.value)) for base in current.bases)

    def _loop_over_constant(self, target: cst.CSTNode, depth: int) -> bool | None:
        """For a `for` target (or an element of a tuple target): does the loop walk a constant
        (`for key, source in LIST_METADATA:`)? None when `target` is not a loop target."""
        parent = self.parent(target)
        if isinstance(parent, cst.Element) and isinstance(self.parent(parent), (cst.Tuple, cst.List)):
            target, parent = self.parent(parent), self.parent(self.parent(parent))
        if isinstance(parent, (cst.For, cst.CompFor)) and parent.target is target:
            return self._constant(parent.iter, depth + 1)
        return None

    def _constant_name(self, name: cst.Name, depth: int) -> bool:
        bindings = self._bindings(name)
        if not bindings:
            return False
        for binding in bindings:
            if isinstance(binding, ImportAssignment):
                if not _upper(name.value):
                    return False
                continue
            if not isinstance(binding, Assignment):
                return False
            target = binding.node
            if isinstance(target, cst.Param):
                if not self._always_given_constants(target, depth):
                    return False
                continue
            parent = self.parent(target)
            if isinstance(parent, (cst.For, cst.CompFor)) and parent.target is target and _counts(parent.iter, True):
                continue  # `for i in range(n)`
            if isinstance(parent, cst.Element) and isinstance(self.parent(parent), cst.Tuple):
                loop, elements = self.parent(self.parent(parent)), self.parent(parent).elements
                if (isinstance(loop, (cst.For, cst.CompFor)) and loop.target is self.parent(parent)
                        and elements[0] is parent and _counts(loop.iter, first=False)):
                    continue  # `for i, x in enumerate(xs)`
            looped = self._loop_over_constant(target, depth)
            if looped is not None:
                if not looped:
                    return False
                continue
            value = _assigned(self, target)
            if value is None or not self._constant(value, depth + 1):
                return False
            module_level = isinstance(binding.scope, cst.metadata.GlobalScope)
            if module_level and not _upper(name.value):
                return False  # a module-level variable may be rebound anywhere
        return True

    def _bindings(self, node: cst.CSTNode) -> list:
        if not isinstance(node, cst.Name):
            return []
        scope = self.get_metadata(ScopeProvider, node, None)
        return list(scope[node.value]) if scope is not None else []


def _project_engine(dotted: str, roots) -> bool:
    """`from app.db import engine`: does that project module bind `engine` at top level to
    `create_engine(...)` / `create_async_engine(...)`, or annotate it `Engine` / `AsyncEngine`?"""
    module, _, name = dotted.rpartition(".")
    found = module_file(module, roots) if module else None
    tree = parsed_file(found[0]) if found else None
    if tree is None:
        return False
    leaves = {n.rpartition(".")[2] for n in ENGINE_BUILDERS | ENGINE_CLASSES}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
            value = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name:
            annotation = stmt.annotation
            if isinstance(annotation, (ast.Name, ast.Attribute)) and \
                    (annotation.id if isinstance(annotation, ast.Name) else annotation.attr) in leaves:
                return True
            value = stmt.value
        else:
            continue
        func = value.func if isinstance(value, ast.Call) else None
        if isinstance(func, (ast.Name, ast.Attribute)) and \
                (func.id if isinstance(func, ast.Name) else func.attr) in leaves:
            return True
    return False


def _calls_by_name(module: cst.Module) -> dict[str, list[cst.Call]]:
    found: dict[str, list[cst.Call]] = {}

    class Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Name):
                found.setdefault(node.func.value, []).append(node)

    visit_read_only(module, Calls())
    return found


def _upper(name: str) -> bool:
    return name.isupper() and any(c.isalpha() for c in name)


def _counts(node: cst.BaseExpression, first: bool) -> bool:
    """`range(...)` (its values are numbers), or `enumerate(...)` (its first element is)."""
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Name)
            and node.func.value == ("range" if first else "enumerate"))


def _assigned(rule: Rule, target: cst.CSTNode) -> cst.BaseExpression | None:
    """The value of `target = value`, `target: T = value` (sessions.assigned_value) or `target += value`
    (a string built up piece by piece is built from each piece)."""
    parent = rule.parent(target)
    if isinstance(parent, cst.AugAssign) and parent.target is target:
        return parent.value
    return assigned_value(rule.context, target)


def _literal(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        left, right = _literal(node.left), _literal(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _parts(node: cst.BaseExpression) -> tuple[str, list[Part]] | None:
    """A string built from values, as literal text and values in order, with how it was built; None
    for anything else (a literal alone, a call, a name)."""
    if isinstance(node, cst.FormattedString) or (
            isinstance(node, cst.ConcatenatedString) and _literal(node) is None):
        parts = _string_parts(node)
        return ("an f-string", parts) if parts is not None and any(isinstance(p, Value) for p in parts) else None
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo):
        template = _literal(node.left)
        return ("`%` formatting", _percent_parts(template, node.right)) if template is not None else None
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        operands = _added(node)
        if not any(_literal(o) is not None or _parts(o) is not None for o in operands):
            return None  # `a + b` of unknown types: not known to be text
        parts: list[Part] = []
        for operand in operands:
            literal = _literal(operand)
            inner = _parts(operand) if literal is None else None
            parts.extend([literal] if literal is not None else inner[1] if inner else [Value(operand)])
        return ("`+` concatenation", parts) if any(isinstance(p, Value) for p in parts) else None
    if (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "format"):
        template = _literal(node.func.value)
        parts = _format_parts(template, node.args) if template is not None else None
        return ("`.format()`", parts) if parts else None
    return None


def _added(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add) and not node.lpar:
        return [*_added(node.left), *_added(node.right)]
    return [node]


def _string_parts(node: cst.BaseExpression) -> list[Part] | None:
    if isinstance(node, cst.ConcatenatedString):
        left, right = _string_parts(node.left), _string_parts(node.right)
        return left + right if left is not None and right is not None else None
    if isinstance(node, cst.SimpleString):
        literal = _literal(node)
        return [literal] if literal is not None else None
    if isinstance(node, cst.FormattedString):
        parts: list[Part] = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value)
            else:
                spec = "".join(p.value for p in part.format_spec or () if isinstance(p, cst.FormattedStringText))
                numeric = bool(spec) and spec[-1] in _NUMERIC_FORMATS and part.conversion is None
                parts.append(Value(part.expression, numeric))
        return parts
    return None


_PERCENT = re.compile(r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<type>[diouxXeEfFgGcrsa%])")


def _percent_parts(template: str, right: cst.BaseExpression) -> list[Part] | None:
    if isinstance(right, cst.Tuple):
        positional = [e.value for e in right.elements if isinstance(e, cst.Element)]
    else:
        positional = [right]
    keyed = {}
    if isinstance(right, cst.Dict):
        keyed = {_literal(e.key): e.value for e in right.elements if isinstance(e, cst.DictElement)}
    parts: list[Part] = []
    offset, index = 0, 0
    for match in _PERCENT.finditer(template):
        parts.append(template[offset:match.start()])
        offset = match.end()
        kind = match["type"]
        if kind == "%":
            parts.append("%")
            continue
        if match["key"] is not None:
            value = keyed.get(match["key"], right)
        else:
            value = positional[index] if index < len(positional) else right
            index += 1
        parts.append(Value(value, kind in _NUMERIC_PERCENT))
    parts.append(template[offset:])
    return parts if any(isinstance(p, Value) for p in parts) else None


def _format_parts(template: str, args: tuple[cst.Arg, ...]) -> list[Part] | None:
    positional = [a.value for a in args if a.keyword is None and not a.star]
    keyed = {a.keyword.value: a.value for a in args if a.keyword is not None}
    starred = next((a.value for a in args if a.star), None)
    parts: list[Part] = []
    auto = 0
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None
    for literal, field, spec, conversion in parsed:
        parts.append(literal)
        if field is None:
            continue
        key = field.split(".")[0].split("[")[0]
        if key == "":
            value = positional[auto] if auto < len(positional) else starred
            auto += 1
        elif key.isdigit():
            value = positional[int(key)] if int(key) < len(positional) else starred
        else:
            value = keyed.get(key, starred)
        if value is None:
            return None  # a key we cannot see (`**kwargs`): unknown
        numeric = bool(spec) and spec[-1] in _NUMERIC_FORMATS and not conversion
        parts.append(Value(value, numeric))
    return parts if any(isinstance(p, Value) for p in parts) else None
