"""SES013 legacy-query-get: `session.query(Model).get(pk)`, the legacy form of `session.get(Model, pk)`."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ScopeProvider

from ..analysis.codemod import has_comment
from ..diagnostics import Applicability, Fix
from ..analysis.knowledge import QUERY_GET_KEYWORDS, QUERY_PASSTHROUGH_METHODS
from ..analysis.sessions import Flavor, session_variable
from .base import Rule

# The screen trigger, what a file must contain for this rule to fire: a `.get(...)` call on a chain that
# starts with a `.query(...)` call. session_lint/engine/screen_queries.py implements it; the screen skips
# LibCST for files without it.
SCREEN_TRIGGERS = ("query_get",)

DOCS = """\
## What it does
Checks for `session.query(Model).get(pk)` on a session (a variable opened by
the session factory or context manager, injected by the dependency, annotated
`Session`, or made by a `sessionmaker`; the sync session `run_sync` hands a
function), and for the same call with `.options(...)`, `.populate_existing()` or
`.with_for_update()` in between.

## Why is this bad?
`Query.get()` is legacy since SQLAlchemy 1.4: 2.x emits a `LegacyAPIWarning` for
every call, and the `Query` API is not available on `AsyncSession`. Since 1.4
`Session.get()` does the same thing (identity map first, then one SELECT by
primary key) without building a `Query`.

## Example
```python
with get_db_session() as db:
    user = db.query(User).get(user_id)
    order = db.query(Order).options(selectinload(Order.lines)).get((shop_id, order_id))
```

## Use instead
```python
with get_db_session() as db:
    user = db.get(User, user_id)
    order = db.get(Order, (shop_id, order_id), options=[selectinload(Order.lines)])
```

## Fix safety
The fix is safe: `Query.get()` calls `Session.get()`'s own implementation with
the query's loader options, `populate_existing` and `with_for_update`, which the
fix passes as `options=[...]`, `populate_existing=True` and
`with_for_update=True`. A composite key (tuple or dict) is passed unchanged.
No fix is offered when the query has other calls before `.get()` (`.filter()`
makes `Query.get()` raise; `.execution_options()` and arguments to
`.with_for_update()` are left to the author), when the entity is not a plain
name or attribute, or when the call contains a comment.
An `AsyncSession` has no `query()`: its `get()` is already the modern form, and
a legacy call inside `run_sync(lambda s: s.query(M).get(pk))` is reported on the
sync session `s`.

## Options
- `session-factories`, `context-manager`, `dependency`, `session-type` and their
  async counterparts: which variables are sessions.

## References
- [SQLAlchemy 2.0 migration: ORM Query - get() method moves to Session](https://docs.sqlalchemy.org/en/20/changelog/migration_20.html#orm-query-get-method-moves-to-session)
- [SQLAlchemy: Session.get()](https://docs.sqlalchemy.org/en/20/orm/session_api.html#sqlalchemy.orm.Session.get)
"""

# calls that return the query itself: `.filter(...)`, `.options(...)`, ...
_QUERY_METHODS = QUERY_PASSTHROUGH_METHODS | frozenset(QUERY_GET_KEYWORDS) | {"execution_options"}


class LegacyQueryGet(Rule):
    code = "SES013"
    name = "legacy-query-get"
    summary = "`session.query(Model).get(pk)` is legacy: use `session.get(Model, pk)`"
    docs = DOCS
    fix_availability = "sometimes"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        "from sqlalchemy.orm import Session\n\n\ndef f(db: Session, i: int):\n    return db.get(User, i)\n",
        # not a session: a dict's `get`
        "def f(cache, i):\n    return cache.query(User).get(i)\n",
    )
    INVALID = (
        "from sqlalchemy.orm import Session\n\n\ndef f(db: Session, i: int):\n    return db.query(User).get(i)\n",
        "from core.database import get_db_session\n\n\ndef f(i):\n    with get_db_session() as db:\n"
        "        return db.query(User).filter(User.active).get(i)\n",
    )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "get" and len(node.args) == 1
                and not node.args[0].star and (node.args[0].keyword is None or node.args[0].keyword.value == "ident")):
            return  # `Query.get(ident)`: one primary key (a scalar, tuple or dict)
        chain = []  # (method, call) between query(...) and get(...), outermost first
        inner = func.value
        while isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute) and inner.func.attr.value != "query":
            chain.append((inner.func.attr.value, inner))
            inner = inner.func.value
        if not (isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute)):
            return
        if any(method not in _QUERY_METHODS for method, _ in chain):
            return  # `.first().get(key)`, `.all()`: no longer a query
        query = inner
        if len(query.args) != 1 or query.args[0].star or query.args[0].keyword is not None:
            return  # several entities or columns: `Query.get()` refuses them
        receiver = query.func.value
        if session_variable(self.context, receiver) is not Flavor.SYNC:
            return
        entity = self.context.module.code_for_node(query.args[0].value)
        self.report(node, f"`{self.context.module.code_for_node(receiver)}.query({entity}).get()` is legacy: "
                          f"use `{self.context.module.code_for_node(receiver)}.get({entity}, ...)`",
                    self._fix(node, query, list(reversed(chain))))

    def _fix(self, get: cst.Call, query: cst.Call, chain: list[tuple[str, cst.Call]]) -> Fix | None:
        entity = query.args[0].value
        if not isinstance(entity, (cst.Name, cst.Attribute)) or has_comment(get):
            return None
        keywords: dict[str, cst.BaseExpression] = {}
        options: list[cst.Element] = []
        for method, call in chain:
            if method == "options" and call.args and all(a.keyword is None for a in call.args):
                options.extend(cst.StarredElement(a.value) if a.star == "*" else cst.Element(a.value)
                               for a in call.args if a.star in ("", "*"))
                if any(a.star == "**" for a in call.args):
                    return None
            elif method in QUERY_GET_KEYWORDS and not call.args and method not in keywords:
                keywords[method] = cst.Name("True")
            else:
                return None  # `.filter(...)`, `.execution_options(...)`: not the same call
        if options:
            keywords["options"] = cst.List(options)
        multiline = not (isinstance(get.whitespace_before_args, cst.SimpleWhitespace)
                         and not get.whitespace_before_args.value)
        separator = get.whitespace_before_args if multiline else cst.SimpleWhitespace(" ")
        args = [cst.Arg(entity, comma=cst.Comma(whitespace_after=separator)), *get.args]
        if keywords:
            last = args[-1]
            trailing, closing = last.comma, last.whitespace_after_arg
            args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=separator),
                                         whitespace_after_arg=cst.SimpleWhitespace(""))
            for index, (keyword, value) in enumerate(keywords.items()):
                final = index == len(keywords) - 1
                args.append(cst.Arg(value, keyword=cst.Name(QUERY_GET_KEYWORDS.get(keyword, keyword)),
                                    equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
                                    comma=trailing if final else cst.Comma(whitespace_after=separator),
                                    whitespace_after_arg=closing if final else cst.SimpleWhitespace("")))
        new = get.with_changes(func=get.func.with_changes(value=query.func.value),
                               args=args)
        code = self.context.module.code_for_node(new)
        return Fix(Applicability.SAFE, f"Use `{code}`" if "\n" not in code else "Use `Session.get()`", {get: new})


