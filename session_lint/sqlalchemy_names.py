"""The SQLAlchemy / SQLModel names the rules know, in a module without LibCST (the screen
and the prefilter use them before, and often instead of, loading LibCST)."""

from __future__ import annotations

# Classes whose call creates a raw session, whatever the configuration says.
SESSION_CLASSES = frozenset({
    "sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session",
    "sqlmodel.Session", "sqlmodel.orm.session.Session",
})
ASYNC_SESSION_CLASSES = frozenset({
    "sqlalchemy.ext.asyncio.AsyncSession", "sqlalchemy.ext.asyncio.session.AsyncSession",
    "sqlmodel.ext.asyncio.session.AsyncSession",
})
SESSIONMAKERS = frozenset({"sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker"})
ASYNC_SESSIONMAKERS = frozenset({
    "sqlalchemy.ext.asyncio.async_sessionmaker", "sqlalchemy.ext.asyncio.session.async_sessionmaker",
})
SCOPED_REGISTRIES = frozenset({
    "sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session",
    "sqlalchemy.ext.asyncio.async_scoped_session", "sqlalchemy.ext.asyncio.scoping.async_scoped_session",
})
REGISTRIES = SESSIONMAKERS | ASYNC_SESSIONMAKERS | SCOPED_REGISTRIES
# `@event.listens_for(target, "after_flush")` / `event.listen(target, "after_flush", fn)`.
EVENT_LISTENS_FOR = frozenset({"sqlalchemy.event.listens_for", "sqlalchemy.event.api.listens_for"})
EVENT_LISTEN = frozenset({"sqlalchemy.event.listen", "sqlalchemy.event.api.listen"})
