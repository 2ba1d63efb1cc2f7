"""Re-exports the session module's factory (read, never imported, by SES001's tests)."""
from core.database import SessionLocal as SessionLocal

__all__ = ["SessionLocal"]
