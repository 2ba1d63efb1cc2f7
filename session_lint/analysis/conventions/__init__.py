"""Discover a project's session conventions (what `session-lint --init` reports, and what the
rules read of a project module's factories and generators: `module_session_facts`).

The scan reads every Python file once with `ast` (no LibCST: this runs over whole
repositories) and resolves names through each module's imports, so
`from sqlalchemy.orm import sessionmaker as sm` and `import contextlib;
@contextlib.contextmanager` are found like the plain spellings. It looks for:

* session factories: `X = sessionmaker(...)` / `async_sessionmaker(...)` /
  `scoped_session(...)` at module level (or declared `global`), tuple unpacking,
  functions that build and return one, and lazy module `__getattr__` exports;
* context managers: `@contextmanager` / `@asynccontextmanager` functions that
  create a session, yield it and commit/rollback/close it;
* dependencies: generators that yield a session, functions used as
  `Depends(f)` for a session-typed parameter, and `Annotated[Session, Depends(f)]`
  aliases (ranked by how often the project uses them);
* `expire_on_commit=` given to a discovered factory;
* deprecated shims: modules that warn with `DeprecationWarning` and forward to the
  session module (renamed helpers become name entries).
"""

from .results import Discovery, Item, Origin
from .scan import discover_conventions, module_facts_of, module_session_facts
from .source import flavor_of_type

__all__ = ["Discovery", "Item", "Origin", "discover_conventions", "flavor_of_type", "module_facts_of", "module_session_facts"]
