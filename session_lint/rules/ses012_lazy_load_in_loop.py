"""SES012 lazy-load-in-loop: a lazy relationship read for every object of a query result (N+1 queries)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import Assignment, ImportAssignment, ScopeProvider

from ..analysis.codemod import has_comment
from ..diagnostics import Applicability, Fix, ImportSpec
from ..analysis.flow.file import file_flow
from ..analysis.knowledge import (
    EAGER_LAZY_VALUES,
    EAGER_LOAD_OPTIONS,
    NO_LAZY_LAZY_VALUES,
    NO_LAZY_LOAD_OPTIONS,
    QUERY_PASSTHROUGH_METHODS,
)
from ..analysis.sessions import session_variable
from .base import Rule
from ..analysis.walk import visit_read_only

# The screen trigger, what a file must contain for this rule to fire: a `for` loop (or comprehension)
# over a query reading an attribute of its target named like a relationship of a model the file can
# see, in a file that spells `query(` / `scalars(` / `select(` / `execute(`. session_lint/engine/screen_queries.py
# implements it; the screen skips the rest.
SCREEN_TRIGGERS = ("lazy_loop",)

DOCS = """\
## What it does
Checks for a loop (or a comprehension) over the objects of one query (`for u in db.query(User).all()`,
`db.scalars(select(User)).all()`, `db.execute(select(User)).scalars()`,
SQLModel's `db.exec(select(User))`, the awaited async forms, or a variable of the
same function assigned one of those) whose body reads a relationship of that
model which loads lazily (the model classes are read from the project's source,
as SES005 does), while the session is open: a session injected or annotated, or
the loop inside the session's `with` block. Not reported when the query's
`.options(...)` load that relationship (`selectinload`, `joinedload`,
`subqueryload`, `immediateload`, `contains_eager`, or `raiseload` / `noload`,
also the `"*"` wildcard), or when the relationship is declared with
`lazy="selectin" | "joined" | "subquery" | "immediate" | "raise" |
"raise_on_sql" | "noload" | "dynamic" | "write_only"`. Reported at the first read
of each relationship in the loop.

## Why is this bad?
A lazy relationship emits one SELECT the first time it is read on each object:
a loop over N objects runs N + 1 queries (the "N+1 problem"), one round trip
each. With `selectinload` the relationship is loaded for all N objects by one
extra SELECT when the query runs: 2 queries whatever N is. On an `AsyncSession`
a lazy load inside a loop fails outright (`MissingGreenlet`).

## Example
```python
with get_db_session() as db:
    for user in db.scalars(select(User)).all():
        print(user.name, len(user.items))
```

## Use instead
```python
with get_db_session() as db:
    for user in db.scalars(select(User).options(selectinload(User.items))).all():
        print(user.name, len(user.items))
```

## Fix safety
The fix is unsafe: it adds `.options(selectinload(Model.relationship))` right
after the `query(Model)` / `select(Model)` call when that call is in the same
function (importing `selectinload` from `sqlalchemy.orm`). The query then loads
the relationship of every object it returns, up front, in one more SELECT: more
rows are read when the loop stops early or reads the relationship of a few
objects only, and objects already in the session get that relationship
populated. No fix is offered when the statement comes from elsewhere or the
query contains a comment.

## Options
- `session-factories`, `context-manager`, `dependency`, `session-type` and their
  async counterparts: which variables are sessions.

## References
- [SQLAlchemy: Relationship Loading Techniques](https://docs.sqlalchemy.org/en/20/orm/queryguide/relationships.html)
- [SQLAlchemy: Select IN loading](https://docs.sqlalchemy.org/en/20/orm/queryguide/relationships.html#select-in-loading)
"""

_SELECTS = frozenset({"sqlalchemy.select", "sqlalchemy.sql.select", "sqlalchemy.sql.expression.select",
                      "sqlalchemy.future.select", "sqlmodel.select", "sqlmodel.sql.expression.select"})
_NOT_LAZY = EAGER_LAZY_VALUES | NO_LAZY_LAZY_VALUES
_COVERING = EAGER_LOAD_OPTIONS | NO_LAZY_LOAD_OPTIONS
_RESULT_METHODS = frozenset({"all", "unique", "scalars", "fetchall", "partitions"})
_SESSION_METHODS = frozenset({"query", "scalars", "execute", "exec", "stream_scalars"})
_STATEMENT_METHODS = QUERY_PASSTHROUGH_METHODS | {"execution_options"}


@dataclass
class _Query:
    """Where the loop's objects come from: the entity, the call that names it (`query(M)` /
    `select(M)`, where the fix adds its option) and the chain of calls on it up to the loop."""

    entity: cst.BaseExpression
    model: str
    root: cst.Call
    calls: list[cst.Call]


class LazyLoadInLoop(Rule):
    code = "SES012"
    name = "lazy-load-in-loop"
    summary = "lazy relationship read for each object of a query result in a loop (N+1 queries)"
    docs = DOCS
    fix_availability = "sometimes"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        ("from sqlalchemy import select\nfrom sqlalchemy.orm import Session, relationship, selectinload\n\n\n"
         "class User(Base):\n    items = relationship('Item')\n\n\n"
         "def f(db: Session):\n    for u in db.scalars(select(User).options(selectinload(User.items))):\n"
         "        print(u.items)\n"),
    )
    INVALID = (
        ("from sqlalchemy import select\nfrom sqlalchemy.orm import Session, relationship\n\n\n"
         "class User(Base):\n    items = relationship('Item')\n\n\n"
         "def f(db: Session):\n    for u in db.scalars(select(User)).all():\n        print(u.items)\n"),
    )

    def visit_For(self, node: cst.For) -> None:
        self._loop(node, node.target, node.iter, [node.body])

    def visit_CompFor(self, node: cst.CompFor) -> None:
        """`[u.items for u in db.query(User)]`: the element (and the conditions) read per object."""
        comprehension = self.parent(node)
        while isinstance(comprehension, cst.CompFor):
            comprehension = self.parent(comprehension)
        if isinstance(comprehension, cst.DictComp):
            parts = [comprehension.key, comprehension.value]
        elif isinstance(comprehension, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            parts = [comprehension.elt]
        else:
            return
        parts += list(node.ifs) + ([node.inner_for_in] if node.inner_for_in is not None else [])
        self._loop(node, node.target, node.iter, parts)

    def _loop(self, node: cst.CSTNode, target: cst.BaseExpression, iterable: cst.BaseExpression,
              body: list[cst.CSTNode]) -> None:
        if not isinstance(target, cst.Name):
            return
        query = self._query_of(iterable, node, 0)
        if query is None:
            return
        registry = file_flow(self.context).models
        lazy_reads: dict[str, cst.Attribute] = {}  # relationship -> its first read in the loop
        for read in (r for part in body for r in _reads(part, target.value)):
            attr = read.attr.value
            if attr in lazy_reads:
                continue
            lazy = registry.lazy_strategy(query.model, attr)
            if lazy is None or lazy in _NOT_LAZY or self._covered(query, attr):
                continue
            lazy_reads[attr] = read
        if not lazy_reads:
            return
        fix = self._fix(query, list(lazy_reads))  # one `.options(...)` loading all of them
        for attr, read in lazy_reads.items():
            self.report(read, f"`{self.context.module.code_for_node(read)}` loads `{query.model}.{attr}` lazily for "
                              "each object of the query: N+1 queries (load it with `selectinload`)", fix)

    # -- the query the loop walks -----------------------------------------------------------------
    def _query_of(self, node: cst.BaseExpression, loop: cst.CSTNode, depth: int,
                  calls: list[cst.Call] | None = None) -> _Query | None:
        """The query whose objects `node` gives, run on a session that is open at `loop`."""
        calls = [] if calls is None else calls
        while True:
            if isinstance(node, cst.Await):
                node = node.expression
            elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                method = node.func.attr.value
                if method in _SESSION_METHODS and (method not in _RESULT_METHODS
                                                   or session_variable(self.context, node.func.value)):
                    return self._session_query(node, method, calls, loop, depth)
                if method not in _RESULT_METHODS | _STATEMENT_METHODS:
                    return None
                calls.append(node)
                node = node.func.value
            elif isinstance(node, cst.Name) and depth == 0:
                value = self._single_value(node)
                return self._query_of(value, loop, depth + 1, calls) if value is not None else None
            else:
                return None

    def _session_query(self, call: cst.Call, method: str, calls: list[cst.Call], loop: cst.CSTNode,
                       depth: int) -> _Query | None:
        session = call.func.value
        if not self._open_at(session, loop):
            return None
        if method == "query":
            if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
                return None
            if any(c.func.attr.value not in _STATEMENT_METHODS | {"all"} for c in calls):
                return None
            return _entity_query(call, calls)
        if not call.args or call.args[0].keyword is not None:
            return None
        results = [c.func.attr.value for c in calls]
        if method == "execute" and "scalars" not in results:
            return None  # rows, not objects
        if method == "exec" and "scalars" in results:
            return None
        statement = call.args[0].value
        if isinstance(statement, cst.Name):
            statement = self._single_value(statement)
        chain: list[cst.Call] = []
        while isinstance(statement, cst.Call) and isinstance(statement.func, cst.Attribute) \
                and statement.func.attr.value in _STATEMENT_METHODS:
            chain.append(statement)
            statement = statement.func.value
        if not (isinstance(statement, cst.Call) and self.qualified_names(statement.func) & _SELECTS):
            return None
        if len(statement.args) != 1 or statement.args[0].keyword is not None or statement.args[0].star:
            return None
        return _entity_query(statement, chain)

    def _open_at(self, session: cst.BaseExpression, loop: cst.CSTNode) -> bool:
        """A session variable, open where the loop runs: a parameter, or a name bound in this
        function whose `with` block holds the loop (or that is not a `with` target at all)."""
        if not session_variable(self.context, session):
            return False
        for binding in self._bindings(session):
            parent = self.parent(binding.node)
            if isinstance(parent, cst.AsName):
                block = self.parent(self.parent(parent))  # AsName -> WithItem -> With
                if not (isinstance(block, cst.With) and self.context.encloses(block, loop)):
                    return False
        return True

    def _single_value(self, name: cst.Name) -> cst.BaseExpression | None:
        """The value of a variable this function binds once (`users = db.query(User).all()`)."""
        bindings = self._bindings(name)
        if len(bindings) != 1 or not isinstance(bindings[0], Assignment) or isinstance(bindings[0], ImportAssignment):
            return None
        if isinstance(bindings[0].scope, cst.metadata.GlobalScope):
            return None
        target = bindings[0].node
        parent = self.parent(target)
        if isinstance(parent, cst.AssignTarget):
            statement = self.parent(parent)
            return statement.value if isinstance(statement, cst.Assign) and len(statement.targets) == 1 else None
        if isinstance(parent, cst.AnnAssign) and parent.target is target:
            return parent.value
        return None

    def _bindings(self, node: cst.CSTNode) -> list:
        if not isinstance(node, cst.Name):
            return []
        scope = self.get_metadata(ScopeProvider, node, None)
        return list(scope[node.value]) if scope is not None else []

    def _covered(self, query: _Query, attr: str) -> bool:
        """Do the query's options load (or refuse to lazy-load) `attr`?"""
        for call in query.calls:
            if call.func.attr.value != "options":
                continue
            for arg in call.args:
                if arg.star:
                    return True  # options we cannot see
                if _mentions_loader(self, arg.value, attr):
                    return True
        return False

    # -- the fix ------------------------------------------------------------------------------------
    def _fix(self, query: _Query, attrs: list[str]) -> Fix | None:
        root = query.root
        if has_comment(root) or not isinstance(query.entity, (cst.Name, cst.Attribute)):
            return None
        if not self._selectinload_free(root):
            return None  # the name means something else here
        options = [cst.Arg(cst.Call(cst.Name("selectinload"),
                                    [cst.Arg(cst.Attribute(query.entity.deep_clone(), cst.Name(attr)))]))
                   for attr in attrs]
        options = [a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))) for a in options[:-1]] \
            + options[-1:]
        new = cst.Call(cst.Attribute(root, cst.Name("options")), options)
        entity = self.context.module.code_for_node(query.entity)
        loaded = ", ".join(f"`{entity}.{attr}`" for attr in attrs)
        return Fix(Applicability.UNSAFE, f"Load {loaded} with `selectinload` in the query",
                   {root: new}, add_imports=(ImportSpec("sqlalchemy.orm", "selectinload"),))

    def _selectinload_free(self, node: cst.CSTNode) -> bool:
        """May the fix write `selectinload` here: unbound, or SQLAlchemy's (imported from `sqlalchemy.orm`)?"""
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return False
        for assignment in scope["selectinload"]:
            imported = assignment.node if isinstance(assignment, ImportAssignment) else None
            if not (isinstance(imported, cst.ImportFrom) and not imported.relative and imported.module is not None
                    and self.context.module.code_for_node(imported.module) == "sqlalchemy.orm"):
                return False
        return True


def _entity_query(root: cst.Call, calls: list[cst.Call]) -> _Query | None:
    entity = root.args[0].value
    model = entity.value if isinstance(entity, cst.Name) else entity.attr.value if isinstance(entity, cst.Attribute) \
        else None
    if model is None or not model[:1].isupper():
        return None
    return _Query(entity, model, root, calls)




def _mentions_loader(rule: Rule, option: cst.BaseExpression, attr: str) -> bool:
    """`selectinload(User.items)`, `joinedload("items")`, `raiseload("*")`, `defaultload(User.x).selectinload(...)`
    (the chain's first loader decides for the first attribute: any eager or raise loader mentioning
    `attr` counts), `Load(User).selectinload(User.items)`."""
    loaders: list[str] = []
    mentioned = False
    for node in _walk(option):
        if isinstance(node, cst.Call):
            func = node.func
            leaf = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
            if leaf in _COVERING:
                loaders.append(leaf)
                for arg in node.args:
                    value = arg.value
                    if isinstance(value, cst.Attribute) and value.attr.value == attr:
                        mentioned = True
                    if isinstance(value, cst.SimpleString) and value.evaluated_value in (attr, "*"):
                        mentioned = True
    return bool(loaders) and mentioned


def _walk(node: cst.CSTNode):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def _reads(body: cst.CSTNode, name: str) -> list[cst.Attribute]:
    """`name.attr` read in the loop body (not assigned, not in nested functions or classes), in order."""
    found: list[cst.Attribute] = []

    class Reads(cst.CSTVisitor):
        def visit_FunctionDef(self, node) -> bool:
            return False

        def visit_ClassDef(self, node) -> bool:
            return False

        def visit_Lambda(self, node) -> bool:
            return False

        def visit_AssignTarget(self, node) -> bool:
            return not isinstance(node.target, cst.Attribute)

        def visit_Attribute(self, node: cst.Attribute) -> None:
            if isinstance(node.value, cst.Name) and node.value.value == name:
                found.append(node)

    visit_read_only(body, Reads())
    return found
