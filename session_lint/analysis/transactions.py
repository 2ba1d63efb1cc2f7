"""Which dependencies own their session's transaction, read from their source (never imported).

The six-line dependency of the FastAPI/SQLAlchemy guides lets the framework own the transaction:

    def get_db():
        with SessionLocal() as session, session.begin():
            yield session

(or `with SessionLocal.begin() as session: yield session`, and the `async with` forms). A route that
receives its session and calls `commit()` / `rollback()` on it ends the block's transaction early
(SES007). A dependency owns the transaction when it yields inside a `with` / `async with` one of
whose items is a `.begin()` call; `begin_nested()` is a savepoint and does not count.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from .helper_behaviour import behaviour
from .session_methods import definition

BEGIN = "begin"


@lru_cache(maxsize=256)
def dependency_owns_transaction(dotted: str, roots: tuple[Path, ...]) -> bool:
    """Does the project function `dotted` yield from inside a `begin()` block?"""
    found = definition(dotted, roots)
    if found is None or not isinstance(found[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    return _yields_inside_begin(found[0].body, inside=False)


def _yields_inside_begin(body: list[ast.stmt], inside: bool) -> bool:
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue  # a nested function's yields are its own
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            if _yields_inside_begin(stmt.body, inside or any(_is_begin(i.context_expr) for i in stmt.items)):
                return True
            continue
        if inside and any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in _own_expressions(stmt)):
            return True
        for block in _blocks(stmt):
            if _yields_inside_begin(block, inside):
                return True
    return False


def _is_begin(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == BEGIN


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    blocks = [getattr(stmt, name) for name in ("body", "orelse", "finalbody") if isinstance(getattr(stmt, name, None), list)]
    blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
    blocks += [case.body for case in getattr(stmt, "cases", [])]
    return blocks


def _own_expressions(stmt: ast.stmt) -> list[ast.AST]:
    """The expression nodes of a simple statement (compound statements' blocks are walked apart)."""
    if _blocks(stmt):
        return []
    return [n for n in ast.walk(stmt) if not isinstance(n, (ast.Lambda,))]


def dependency_never_commits(dotted: str, roots: tuple[Path, ...]) -> bool:
    """Is the project function `dotted` a dependency that yields a session it opens and never commits
    it (`db = SessionLocal(); try: yield db; finally: db.close()`), followed through the helpers it
    delegates to (helper_behaviour.py)? False when unknown."""
    found = behaviour(dotted, roots)
    return found.commits is False and found.creates_sessions and not found.passes_through
