"""Every SQLAlchemy / SQLModel / FastAPI fact session-lint relies on, stated once.

The screen, `--init`, the helper readers and the rules all import from here, so a fact about a
library changes in one place. Plain data and `ast`-level predicates only: no LibCST (the screen
and `--init` use this module without loading it) and nothing about the linted project.

Dotted names are the absolute names a resolved import gives (`sqlalchemy.orm.Session`), every
public spelling of each object included (`sqlalchemy.orm.session.Session` is the same class).
"""

from __future__ import annotations

import ast

# -- sessions -------------------------------------------------------------------------------------

# Classes whose call creates a raw session, whatever the configuration says.
SESSION_CLASSES = frozenset({
    "sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session",
    "sqlmodel.Session", "sqlmodel.orm.session.Session",
})
ASYNC_SESSION_CLASSES = frozenset({
    "sqlalchemy.ext.asyncio.AsyncSession", "sqlalchemy.ext.asyncio.session.AsyncSession",
    "sqlmodel.ext.asyncio.session.AsyncSession",
})
SESSION_CONSTRUCTORS = SESSION_CLASSES | ASYNC_SESSION_CLASSES

# Builders: calling one gives a registry; calling the registry gives a session.
SESSIONMAKERS = frozenset({"sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker"})
ASYNC_SESSIONMAKERS = frozenset({
    "sqlalchemy.ext.asyncio.async_sessionmaker", "sqlalchemy.ext.asyncio.session.async_sessionmaker",
})
MAKERS = SESSIONMAKERS | ASYNC_SESSIONMAKERS
SYNC_SCOPED_REGISTRIES = frozenset({"sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session"})
ASYNC_SCOPED_REGISTRIES = frozenset({
    "sqlalchemy.ext.asyncio.async_scoped_session", "sqlalchemy.ext.asyncio.scoping.async_scoped_session",
})
SCOPED_REGISTRIES = SYNC_SCOPED_REGISTRIES | ASYNC_SCOPED_REGISTRIES
REGISTRIES = MAKERS | SCOPED_REGISTRIES


def _leaves(names: frozenset[str]) -> frozenset[str]:
    return frozenset(name.rpartition(".")[2] for name in names)


# A builder's last component -> the flavor of the sessions it makes (`--init` matches spellings:
# `sessionmaker` / `scoped_session` / `async_sessionmaker` / `async_scoped_session`). A sync
# builder makes async sessions with `class_=AsyncSession`; `scoped_session(maker)` takes the maker's.
BUILDER_FLAVORS: dict[str, str] = {
    **{leaf: "sync" for leaf in _leaves(SESSIONMAKERS | SYNC_SCOPED_REGISTRIES)},
    **{leaf: "async" for leaf in _leaves(ASYNC_SESSIONMAKERS | ASYNC_SCOPED_REGISTRIES)},
}
SCOPED_BUILDER_LEAVES = _leaves(SCOPED_REGISTRIES)
SESSION_WORDS = _leaves(SESSION_CONSTRUCTORS | REGISTRIES)  # what a file spells to make a session
REGISTRY_WORDS = _leaves(REGISTRIES)
DEFAULT_SESSION_TYPES = {"sync": "sqlalchemy.orm.Session", "async": "sqlalchemy.ext.asyncio.AsyncSession"}

# -- transactions ---------------------------------------------------------------------------------

# A helper commits its session when it calls `commit()`, or opens `begin()`: the `with
# session.begin():` block commits on a clean exit. One answer for `--init` (which helper is the
# committing context manager) and the helper readers (what a block opened by it does at its end).
COMMITTING_METHODS = frozenset({"commit", "begin"})
# What a unit-of-work helper does to the session it yielded (one of them: it manages the session).
CLEANUP_METHODS = frozenset({"commit", "rollback", "close"})


def commits(function: ast.AST, nodes=None) -> bool:
    """Does this function's code (or the given `nodes` of it) commit: `.commit` or `.begin` spelled?"""
    return any(isinstance(node, ast.Attribute) and node.attr in COMMITTING_METHODS
               for node in (ast.walk(function) if nodes is None else nodes))


# After a failed flush or commit the session is unusable until rolled back (`PendingRollbackError`).
# An `except` handler swallows the failure when it neither re-raises (its last statement) nor rolls
# the session back before anything else in it touches the session. Callers classify each statement
# of the handler, in order: ROLLS_BACK, TOUCHES_SESSION or anything else.
ROLLS_BACK, TOUCHES_SESSION = "rolls-back", "touches-session"


def handler_swallows_failure(reraises: bool, steps) -> bool:
    """Does an `except` handler whose statements are classified as `steps` swallow a failed write?"""
    if reraises:
        return False
    for step in steps:
        if step == ROLLS_BACK:
            return False
        if step == TOUCHES_SESSION:
            return True
    return True


# -- events ---------------------------------------------------------------------------------------

# `@event.listens_for(target, "after_flush")` / `event.listen(target, "after_flush", fn)`.
EVENT_LISTENS_FOR = frozenset({"sqlalchemy.event.listens_for", "sqlalchemy.event.api.listens_for"})
EVENT_LISTEN = frozenset({"sqlalchemy.event.listen", "sqlalchemy.event.api.listen"})

# -- loading --------------------------------------------------------------------------------------

# Query options that load a relationship eagerly (`options(selectinload(User.posts))`).
EAGER_LOAD_OPTIONS = frozenset({"joinedload", "selectinload", "subqueryload", "immediateload", "contains_eager"})
# What a query chain ends with when it returns one object, and the calls it passes through on the
# way (`query(User).filter(...).first()`). flow.py (SES005) keeps its own pair, which lacks `get_one`
# and has a few more pass-throughs: to be replaced by these (a behaviour change: its own commit).
SINGLE_RESULT_METHODS = frozenset({"first", "one", "one_or_none", "get", "get_one", "scalar_one", "scalar_one_or_none"})
QUERY_PASSTHROUGH_METHODS = frozenset({"filter", "filter_by", "where", "order_by", "options", "join", "outerjoin",
                                       "limit", "offset", "distinct", "unique", "group_by", "populate_existing",
                                       "with_for_update"})
# Options after which reading the relationship emits no lazy SELECT per object (SES012): it is loaded
# eagerly, or reading it raises / gives nothing instead. `relationship(lazy=...)` values with that effect.
NO_LAZY_LOAD_OPTIONS = frozenset({"raiseload", "noload"})
NO_LAZY_LAZY_VALUES = frozenset({"raise", "raise_on_sql", "noload", "dynamic", "write_only"})
# Legacy `Query` calls before `.get(pk)` that `Session.get(Model, pk, ...)` takes as a keyword (SES013):
# `Query.get()` passes the query's `populate_existing` / `with_for_update` / options to the same implementation.
QUERY_GET_KEYWORDS = {"populate_existing": "populate_existing", "with_for_update": "with_for_update"}
# `relationship(lazy=...)` values that load with the parent.
EAGER_LAZY_VALUES = frozenset({"joined", "selectin", "subquery", "immediate"})

# -- asyncio (SES010, SES011) ---------------------------------------------------------------------

# `AsyncSession` methods that return an awaitable (coroutine functions in SQLAlchemy 2.0/2.1;
# `exec` is SQLModel's): without `await` nothing runs. `add`, `add_all`, `expunge`, `expire`,
# `in_transaction`, `begin()` (an async context manager) and the other methods are plain calls.
ASYNC_SESSION_AWAITABLE_METHODS = frozenset({
    "execute", "commit", "rollback", "flush", "refresh", "get", "get_one", "scalar", "scalars", "delete",
    "delete_all", "merge", "merge_all", "close", "aclose", "reset", "invalidate", "stream", "stream_scalars",
    "run_sync", "connection", "exec",
})
# Methods only a SQLAlchemy session (or connection) has, not a cache, a set or an HTTP client: an
# object of unknown type whose coroutine methods the code awaits (`await s.execute(q)`) and that has
# one of these called (`s.add(obj)`, `await s.flush()`) is taken for an AsyncSession.
SESSION_ONLY_METHODS = frozenset({"add_all", "flush", "refresh", "scalars", "merge", "expunge", "expunge_all",
                                  "expire", "expire_all", "run_sync", "stream_scalars", "get_one",
                                  "begin_nested", "in_transaction", "add"})
# Functions that run the coroutines they are given concurrently: `asyncio.gather(a(s), b(s))`.
ASYNC_GATHER = frozenset({"asyncio.gather", "asyncio.tasks.gather"})
# Functions that schedule a coroutine as a task running beside the caller (also any `.create_task`
# method: an event loop's, an `asyncio.TaskGroup`'s), and the task groups that await theirs at exit.
ASYNC_CREATE_TASK = frozenset({"asyncio.create_task", "asyncio.tasks.create_task",
                               "asyncio.ensure_future", "asyncio.tasks.ensure_future"})
TASK_GROUPS = frozenset({"asyncio.TaskGroup", "asyncio.taskgroups.TaskGroup",
                         "anyio.create_task_group", "anyio.abc.TaskGroup"})

# -- raw SQL (SES014) -------------------------------------------------------------------------------

# `text("SELECT ...")`: a textual SQL construct, every public spelling.
TEXT_CONSTRUCTS = frozenset({"sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text",
                             "sqlalchemy.sql._elements_constructors.text", "sqlmodel.text", "sqlmodel.sql.expression.text"})
ENGINE_BUILDERS = frozenset({"sqlalchemy.create_engine", "sqlalchemy.engine.create_engine",
                             "sqlalchemy.ext.asyncio.create_async_engine", "sqlalchemy.ext.asyncio.engine.create_async_engine",
                             "sqlmodel.create_engine"})
ENGINE_CLASSES = frozenset({"sqlalchemy.Engine", "sqlalchemy.engine.Engine", "sqlalchemy.engine.base.Engine",
                            "sqlalchemy.ext.asyncio.AsyncEngine", "sqlalchemy.ext.asyncio.engine.AsyncEngine"})
CONNECTION_CLASSES = frozenset({"sqlalchemy.Connection", "sqlalchemy.engine.Connection",
                                "sqlalchemy.engine.base.Connection", "sqlalchemy.ext.asyncio.AsyncConnection",
                                "sqlalchemy.ext.asyncio.engine.AsyncConnection"})

# -- context managers -----------------------------------------------------------------------------

CONTEXT_MANAGER_DECORATORS: dict[str, str] = {
    "contextlib.contextmanager": "sync", "contextlib.asynccontextmanager": "async",
}

# -- FastAPI --------------------------------------------------------------------------------------

ROUTE_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "trace",
                           "api_route", "websocket", "route"})
APP_CLASSES = frozenset({"fastapi.FastAPI", "fastapi.applications.FastAPI",
                         "fastapi.APIRouter", "fastapi.routing.APIRouter"})
DEPENDS = frozenset({"fastapi.Depends", "fastapi.param_functions.Depends", "fastapi.params.Depends"})
ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})


def annotated_dependency(value: ast.AST | None, leaf_of) -> tuple[ast.expr, list[ast.Call]] | None:
    """`Annotated[T, ..., Depends(dep), ...]` (also a `Name = ...` / `type Name = ...` alias's value):
    (T, the `Depends(...)` calls among the extras, in order). `leaf_of(expr)` is the last component
    of what an expression names, by the caller's resolution (spelling or imports). None for anything
    else. The callers decide what T and the dependency must be."""
    if not (isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Tuple) and len(value.slice.elts) >= 2):
        return None
    if leaf_of(value.value) != "Annotated":
        return None
    first, *extras = value.slice.elts
    depends = [e for e in extras if isinstance(e, ast.Call) and leaf_of(e.func) == "Depends"]
    return (first, depends) if depends else None


# -- slow I/O (SES009): calls that hold whatever the caller holds for network or wall-clock time ----
# Module-level functions, by their dotted name.
SLOW_FUNCTIONS = frozenset({
    *(f"requests.{m}" for m in ("get", "post", "put", "patch", "delete", "head", "options", "request")),
    *(f"requests.api.{m}" for m in ("get", "post", "put", "patch", "delete", "head", "options", "request")),
    *(f"httpx.{m}" for m in ("get", "post", "put", "patch", "delete", "head", "options", "request", "stream")),
    "urllib.request.urlopen", "smtplib.SMTP", "smtplib.SMTP_SSL",
    *(f"subprocess.{m}" for m in ("run", "call", "check_call", "check_output")),
    "time.sleep",
})
# Clients whose methods do network I/O: `with httpx.Client() as client: client.get(...)`,
# `s3 = boto3.client("s3"); s3.put_object(...)`. Any method of an object they build counts.
SLOW_CLIENTS = frozenset({
    "httpx.Client", "httpx.AsyncClient", "aiohttp.ClientSession", "requests.Session", "requests.session",
    "boto3.client", "boto3.resource", "smtplib.SMTP", "smtplib.SMTP_SSL",
})
ASYNC_SLEEP = frozenset({"asyncio.sleep"})  # slow unless its delay is the constant 0 (a bare yield point)
SLOW_MODULE_WORDS = frozenset(name.partition(".")[0] for name in SLOW_FUNCTIONS | SLOW_CLIENTS | ASYNC_SLEEP)
# Session methods that write (SES009 counts an injected session as holding locks after the first).
WRITE_METHODS = frozenset({"add", "add_all", "delete", "merge", "flush", "bulk_save_objects",
                           "bulk_insert_mappings", "bulk_update_mappings"})
DML_CONSTRUCTS = frozenset({"insert", "update", "delete"})
# Session methods that run SQL, so the session holds a connection (and, after a write, its locks)
# from then until it commits, rolls back or closes. `add`, `delete`, `expunge`, `expire` only mark
# objects: their SQL runs at the next flush.
SQL_METHODS = frozenset({"execute", "scalar", "scalars", "query", "get", "get_one", "flush", "refresh", "merge",
                         "connection", "stream", "stream_scalars", "exec"})  # `session.execute(update(User)...)` writes
