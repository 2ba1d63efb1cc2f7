"""The screen's triggers on query constructs, for SES012-SES014: their prefilters, the words
scope_slice.py keeps for them, and the `ast` checks session_lint/engine/screen.py runs when a file
spells those words (the screen's contract: see that module's docstring).
"""

from __future__ import annotations

import ast
import re
from typing import Callable

from ..analysis.ast_imports import last_name
from ..analysis.knowledge import EAGER_LOAD_OPTIONS, NO_LAZY_LOAD_OPTIONS, TEXT_CONSTRUCTS
from ..analysis.word_search import BLANKS, AttributeSearch, WordSearch
from ..config import Config
from .screen_ast import ImportTable, Nodes, is_call_of


# -- SES012-SES014: triggers on query constructs (`query_get`, `sql_string`, `lazy_loop`) ---------------
#   query_get  a `.get(...)` call on a chain that starts with a `.query(...)` call (SES013)
#   sql_string a call spelled `execute` / `exec_driver_sql`, or of SQLAlchemy's `text` (`_sql_calls`), whose first
#              positional argument builds a string (an f-string with a value, `%`, `+` or `.format(...)`)
#              or is a name the file assigns (`=`, `: T =`, `+=`) such a string (SES014)
#   lazy_loop  a `for` statement (or comprehension) over a query chain (or a name the file assigns
#              one) reading an attribute of its target named like a relationship of a model the
#              file can see (models.registry_for), in a file that spells `query(`, `scalars(`,
#              `select(` or `execute(` (SES012)
# They spell no session word (the session may be an injected alias), so each has its own prefilter.
QUERY_TRIGGERS = frozenset({"query_get", "sql_string", "lazy_loop"})


def _spells_all(*patterns: WordSearch | AttributeSearch | re.Pattern[bytes]) -> Callable[[bytes], bool]:
    return lambda data: all(pattern.search(data) is not None for pattern in patterns)


_SQL_METHOD_WORD = WordSearch(rb"(?:execute|exec_driver_sql)\b")
_TEXT_WORD = WordSearch(rb"text\b")
_TEXT_MODULE_WORD = WordSearch(rb"(?:" + "|".join(sorted({n.partition(".")[0] for n in TEXT_CONSTRUCTS})).encode()
                                + rb")\b")


def _may_call_sql(data: bytes) -> bool:
    """`sql_string`'s prefilter: `_sql_calls` takes a callee spelled `execute` / `exec_driver_sql`, or
    one that resolves to a `text` of knowledge.TEXT_CONSTRUCTS. `screen_ast.ImportTable.resolve` gives
    the spelling and the imports' dotted names, so both words are spelled: `text` and its module
    (`sqlalchemy`, `sqlmodel`), in the import or at the call. `text` alone is a common word, rarely
    SQLAlchemy's (82 of letta's 710 files passed this prefilter for it alone)."""
    return (_SQL_METHOD_WORD.search(data) is not None
            or (_TEXT_WORD.search(data) is not None and _TEXT_MODULE_WORD.search(data) is not None))


_QUERY_PREFILTERS: dict[str, Callable[[bytes], bool]] = {
    "query_get": _spells_all(AttributeSearch({"query"}), AttributeSearch({"get"})),
    "sql_string": _may_call_sql,
    "lazy_loop": _spells_all(WordSearch(rb"for\b"), WordSearch(rb"(?:query|scalars|select|execute)" + BLANKS + rb"[(#]")),
}
SQL_CALL_WORDS = frozenset({"text", "execute", "exec_driver_sql"})
# the names these rules resolve (scope_slice.py keeps the statements spelling them)
QUERY_SCOPE_WORDS = {
    "query_get": frozenset({"query", "get"}),
    "sql_string": SQL_CALL_WORDS,
    "lazy_loop": frozenset({"query", "scalars", "select", "execute", "options", "selectinload"})
    | EAGER_LOAD_OPTIONS | NO_LAZY_LOAD_OPTIONS,
}


def spelled_queries(triggers: frozenset[str], data: bytes) -> frozenset[str]:
    """The query triggers whose words the file spells (bytes regexes)."""
    return frozenset(t for t in triggers if _QUERY_PREFILTERS[t](data))


def query_constructs(triggers: frozenset[str], index: Nodes,
                     relationships: Callable[[], frozenset[str]]) -> frozenset[str]:
    """The `triggers` whose construct the file contains (see their description). `relationships`:
    the relationship names of the models this file can see (asked only of a file with a query loop)."""
    fired: set[str] = set()
    calls = index.of(ast.Call)
    if "query_get" in triggers and any(_get_on_query(n) for n in calls):
        fired.add("query_get")
    if "lazy_loop" in triggers:
        loaded = {t.id for n in index.of(ast.Assign, ast.AnnAssign) if n.value is not None
                  and _loading_chain(n.value) for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                  if isinstance(t, ast.Name)}
        reads = {attr for n in index.of(*_LOOPS) for attr in _query_loop_reads(n, loaded)}
        if reads and reads & relationships():
            fired.add("lazy_loop")
    if "sql_string" in triggers and any(_builds_string(n) for n in index.of(ast.JoinedStr, ast.BinOp, ast.Call)):
        is_sql_call = _sql_calls(index.of(ast.Import, ast.ImportFrom))
        # SES014 reads the first positional argument: built there, or a name assigned a built string
        built = {target.id for n in index.of(ast.Assign, ast.AnnAssign, ast.AugAssign)
                 if n.value is not None and _builds_string(n.value)
                 for target in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(target, ast.Name)}
        if any(n.args and is_sql_call(n.func)
                   and (_builds_string(n.args[0]) or (isinstance(n.args[0], ast.Name) and n.args[0].id in built))
                   for n in calls):
            fired.add("sql_string")
    return frozenset(fired)


_LOADING_METHODS = frozenset({"query", "scalars", "execute", "exec", "stream_scalars"})


def _loading_chain(chain: ast.AST) -> bool:
    """`db.query(...)...`, `(await s.execute(...)).scalars()`: a chain through a loading method."""
    while True:
        if isinstance(chain, ast.Await):
            chain = chain.value
        elif isinstance(chain, ast.Call) and isinstance(chain.func, ast.Attribute):
            if chain.func.attr in _LOADING_METHODS:
                return True
            chain = chain.func.value
        else:
            return False


def _sql_calls(imports: list[ast.Import | ast.ImportFrom]) -> Callable[[ast.expr], bool]:
    """May a call of this callee take SQL (SES014's sinks)? `.execute(...)` / `.exec_driver_sql(...)` on
    anything; `text(...)` only when it may be SQLAlchemy's (`sqlalchemy.text`, knowledge.TEXT_CONSTRUCTS,
    through any of `imports`, the file's: not htpy's `text`)."""
    table = ImportTable()
    for node in imports:
        table.add(node)

    def is_sql_call(func: ast.expr) -> bool:
        return (last_name(func) in ("execute", "exec_driver_sql")
                or not table.resolve(func).isdisjoint(TEXT_CONSTRUCTS))

    return is_sql_call


_LOOPS = (ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def _query_loop_reads(node: ast.AST, loaded: set[str]) -> set[str]:
    """The attributes read on the target of a `for` / comprehension (its whole expression) with a name
    target over a query call chain, or over a variable (or a chain on one) the file assigns such a
    chain: what SES012 may find lazily loaded, whatever the model."""
    if isinstance(node, (ast.For, ast.AsyncFor)):
        loops, body = [(node.target, node.iter)], node.body
    elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        loops, body = [(g.target, g.iter) for g in node.generators], [node]
    else:
        return set()
    targets = set()
    for target, iterable in loops:
        base = iterable
        while isinstance(base, (ast.Await, ast.Call, ast.Attribute)):
            base = base.value if isinstance(base, (ast.Await, ast.Attribute)) else base.func
        if isinstance(target, ast.Name) and (_loading_chain(iterable) or (isinstance(base, ast.Name)
                                                                          and base.id in loaded)):
            targets.add(target.id)
    if not targets:
        return set()
    return {n.attr for part in body for n in ast.walk(part)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in targets}


def relationship_names(tree: ast.Module, path: str, config: Config) -> frozenset[str]:
    """Every relationship name of the models SES012 reads for this file (models.registry_for)."""
    from ..analysis.models import registry_for_tree

    registry = registry_for_tree(tree, path, config.root)
    return frozenset(name for info in registry.models.values() for name in info.relationships)


def _get_on_query(node: ast.AST) -> bool:
    if not is_call_of(node, "get"):
        return False
    inner = node.func.value
    while isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
        if inner.func.attr == "query":
            return True
        inner = inner.func.value
    return False


def _builds_string(node: ast.AST) -> bool:
    """An f-string with a value, `a % b`, `a + b` or `x.format(...)`: what SES014 looks at."""
    return ((isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values))
            or (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)))
            or is_call_of(node, "format"))
