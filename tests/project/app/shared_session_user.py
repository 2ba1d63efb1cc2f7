"""Imports a module-level session from app.shared (read by SES002's tests, never run)."""
from app.shared import session

session.query
