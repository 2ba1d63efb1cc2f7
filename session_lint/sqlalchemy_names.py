"""Moved to session_lint/knowledge.py (every SQLAlchemy / FastAPI fact in one place). This module
only re-exports those names for code written against it on parallel branches; import
`session_lint.knowledge` instead."""

from .knowledge import (  # noqa: F401
    ASYNC_SCOPED_REGISTRIES,
    ASYNC_SESSION_CLASSES,
    ASYNC_SESSIONMAKERS,
    EVENT_LISTEN,
    EVENT_LISTENS_FOR,
    REGISTRIES,
    SCOPED_REGISTRIES,
    SESSION_CLASSES,
    SESSIONMAKERS,
    SYNC_SCOPED_REGISTRIES,
)
