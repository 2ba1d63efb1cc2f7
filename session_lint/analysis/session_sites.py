"""Where a session opened by hand lives: the fact that decides which file reports it.

SPEC §3: one call gets one code. A session bound at module level, in a class body or on `self`
outlives every unit of work (global-session); one opened in a function that already receives a
session through `Depends` is a second session there (mixed-session-patterns); any other is a unit
of work of its own (manual-session). Each file asks `manual_session_site` and reports its own kind,
instead of knowing which cases belong to the others.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from .fastapi import injected_sessions
from .sessions import enclosing_function, global_session_binding

if TYPE_CHECKING:
    import libcst as cst

    from .model import FileModel


class ManualSite(enum.Enum):
    SHARED = "shared"  # bound where it outlives a unit of work (module, class body, `self`)
    BESIDE_INJECTED = "beside-injected"  # in a function that receives a session through Depends
    OWN_UNIT_OF_WORK = "own-unit-of-work"


def manual_session_site(file: FileModel, call: cst.Call) -> ManualSite:
    """Where the session this call opens by hand lives (the call is known to open one)."""
    if global_session_binding(file, call):
        return ManualSite.SHARED
    function = enclosing_function(file, call)
    if function is not None and injected_sessions(file, function):
        return ManualSite.BESIDE_INJECTED
    return ManualSite.OWN_UNIT_OF_WORK
