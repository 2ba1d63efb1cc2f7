"""Flow analysis of one function body for SES005 and SES006.

A small abstract interpreter walks the statements in execution order with a
state: which names hold an open or closed session, and which hold ORM objects
loaded from / added to a session (with what SQLAlchemy would have done to them:
expired by a commit, detached by the close). Branches are analysed separately
and joined (a name stays dangerous unless every path rebinds it); early
returns, `raise`, `break`/`continue` end a path; comprehensions and lambdas
scope their own names; nested functions and classes are their own scope
(analysed on their own). A test's or fixture's parameter that pytest fills with
a session or a session factory starts as one (pytest_fixtures.py). Loops are walked
once (no back edges): the analysis prefers missing a finding to inventing one.

Layout: state.py (what names hold, joins), loads.py (what a query loads), events.py (what
session calls and block ends do), uses.py (uses after a close), interpreter.py (statements and
expressions in execution order), results.py (what SES005/SES006 read), file.py (per-file data,
`analyse`).
"""

from .file import FileFlow, analyse, file_flow
from .results import Analysis, ClosedUse, DetachedRead
from .state import Closure, FlowState, LoadedObject, SessionState

__all__ = ["Analysis", "ClosedUse", "Closure", "DetachedRead", "FileFlow", "FlowState", "LoadedObject",
           "SessionState", "analyse", "file_flow"]
