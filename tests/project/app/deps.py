"""Annotated dependency aliases (read by SES003's tests, never run)."""
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from core.database import get_db

SessionDep = Annotated[Session, Depends(get_db)]
CurrentUser = Annotated[str, Depends(lambda: "me")]
