"""session-lint: find and fix SQLAlchemy session anti-patterns."""

__version__ = "0.1.0"
