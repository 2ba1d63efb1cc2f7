"""What the scan finds: the helpers, where they are, and the project's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path




@dataclass
class Origin:
    path: str  # relative to the scanned root, forward slashes
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Item:
    """One discovered helper: its bare name, qualified name, flavor and where it is defined."""

    name: str
    qualified: str
    flavor: str  # "sync" / "async"
    origin: Origin
    note: str = ""
    uses: int = 0
    commits: bool = False
    session_type: str | None = None
    # `expire_on_commit=` of the sessions a helper constructs itself (`Session(bind=e, expire_on_commit=False)`)
    expires: bool | None = None


@dataclass
class Discovery:
    root: Path
    files: int = 0
    factories: list[Item] = field(default_factory=list)
    context_managers: list[Item] = field(default_factory=list)
    dependencies: list[Item] = field(default_factory=list)
    aliases: list[tuple[str, Item]] = field(default_factory=list)  # (alias source, dependency)
    expire_on_commit: tuple[bool, Origin] | None = None
    deprecated: list[tuple[str, str, Origin]] = field(default_factory=list)
    # helpers of a deprecated module whose namesake in the new module behaves otherwise (atom's
    # `get_db_session(commit=False)` does not commit; the new one does): (old, new, origin)
    differing: list[tuple[str, str, Origin]] = field(default_factory=list)
    session_module: tuple[str, str] | None = None  # (dotted name, relative path)
    # functions and methods returning a session they construct (prefect's
    # `AsyncPostgresConfiguration.session()`: `return AsyncSession(engine, ...)`)
    session_makers: list[Item] = field(default_factory=list)
    migrations: list[Origin] = field(default_factory=list)  # Alembic env.py files
