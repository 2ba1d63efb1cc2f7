"""Does project code that a session is handed to swallow its failed writes? Read from its source.

SES001's fix puts a session under the house context manager, which commits when the block ends.
The old code only closed it. When a function (or a service class) the session is handed to catches
a failed commit and carries on without rolling back (atom's `SupervisedQueueService`:
`try: ...; self.db.commit() except Exception: logger.error(...)`), the session is left in a failed
transaction: `close()` discarded that, but the manager's commit at exit raises
`PendingRollbackError` out of code that never raised before. Such a block gets no fix.

Only code the project defines is read (the same module-facts cache as `helper_behaviour`); a callee
that cannot be found is not held against the fix.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from .helper_behaviour import ModuleFacts
from .knowledge import ROLLS_BACK, TOUCHES_SESSION, handler_swallows_failure
from .session_methods import definition

MAX_DEPTH = 3  # a session handed on through helpers: deeper chains are not followed
TRANSACTION_ENDS = frozenset({"commit", "flush", "execute"})  # what fails and needs a rollback


def swallows_failed_writes(dotted: str, position: int | None, keyword: str | None,
                           roots: tuple[Path, ...]) -> bool:
    """Does calling the project name `dotted` with the session as argument `position` (or `keyword`)
    swallow a failed commit/flush of that session without rolling back?"""
    return _swallows(dotted, position, keyword, roots, 0)


@lru_cache(maxsize=2048)
def _swallows(dotted: str, position: int | None, keyword: str | None, roots: tuple[Path, ...],
              depth: int) -> bool:
    if depth > MAX_DEPTH:
        return False
    found = definition(dotted, roots)
    if found is None:
        return False
    node, facts = found
    if isinstance(node, ast.ClassDef):
        return _class_swallows(node, position, keyword, facts, roots, depth)
    param = _parameter(node, position, keyword, skip_self=False)
    return param is not None and _function_swallows(node, ast.Name(param), facts, roots, depth)


def _parameter(function: ast.AST, position: int | None, keyword: str | None, *, skip_self: bool) -> str | None:
    args = function.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)][1 if skip_self else 0:]
    if keyword is not None:
        names = {*positional, *(a.arg for a in args.kwonlyargs)}
        return keyword if keyword in names else None
    return positional[position] if position is not None and position < len(positional) else None


def _class_swallows(cls: ast.ClassDef, position: int | None, keyword: str | None, facts: ModuleFacts,
                    roots: tuple[Path, ...], depth: int) -> bool:
    """`Service(db)`: where `__init__` keeps the session (`self.db = db`), does any method swallow?"""
    methods = [n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    init = next((n for n in methods if n.name == "__init__"), None)
    param = _parameter(init, position, keyword, skip_self=True) if init is not None else None
    if param is None:
        return False
    kept = {target.attr for sub in ast.walk(init) if isinstance(sub, ast.Assign)
            and isinstance(sub.value, ast.Name) and sub.value.id == param
            for target in sub.targets if _is_self_attribute(target)}
    return any(_function_swallows(method, _self_attribute(attr), facts, roots, depth)
               for method in methods for attr in kept)


def _is_self_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def _self_attribute(attr: str) -> ast.Attribute:
    return ast.Attribute(value=ast.Name("self"), attr=attr)


def _same(node: ast.AST, session: ast.AST) -> bool:
    """Is `node` the session expression (`db`, or `self.db` in a service class)?"""
    if isinstance(session, ast.Name):
        return isinstance(node, ast.Name) and node.id == session.id
    return _is_self_attribute(node) and node.attr == session.attr


def _method_call(node: ast.AST, session: ast.AST, methods: frozenset[str] | set[str]) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in methods and _same(node.func.value, session))


def _function_swallows(function: ast.AST, session: ast.AST, facts: ModuleFacts, roots: tuple[Path, ...],
                       depth: int) -> bool:
    for trial in (n for n in ast.walk(function) if isinstance(n, ast.Try)):
        if not any(_method_call(n, session, TRANSACTION_ENDS) for s in trial.body for n in ast.walk(s)):
            continue
        if any(_handler_swallows(handler, session) for handler in trial.handlers):
            return True
    return _hands_on_to_swallower(function, session, facts, roots, depth)


def _handler_swallows(handler: ast.ExceptHandler, session: ast.AST) -> bool:
    """Neither re-raises nor rolls the session back before using it again (often committing again)."""
    reraises = bool(handler.body) and isinstance(handler.body[-1], ast.Raise)
    return handler_swallows_failure(reraises, (_handler_step(stmt, session) for stmt in handler.body))


def _handler_step(stmt: ast.stmt, session: ast.AST) -> str | None:
    nodes = list(ast.walk(stmt))
    if any(_method_call(n, session, {"rollback"}) for n in nodes):
        return ROLLS_BACK
    return TOUCHES_SESSION if any(_same(n, session) for n in nodes) else None


def _hands_on_to_swallower(function: ast.AST, session: ast.AST, facts: ModuleFacts, roots: tuple[Path, ...],
                           depth: int) -> bool:
    """`helper(db)` inside the function, where the project's `helper` swallows."""
    for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
        target = facts.resolve(call.func) if isinstance(call.func, (ast.Name, ast.Attribute)) else None
        if target is None or _is_self_attribute(call.func):
            continue
        for i, arg in enumerate(call.args):
            if _same(arg, session) and _swallows(target, i, None, roots, depth + 1):
                return True
        for kw in call.keywords:
            if kw.arg is not None and _same(kw.value, session) and _swallows(target, None, kw.arg, roots, depth + 1):
                return True
    return False
