"""What the flow analysis of one function found, for SES005 (reads of detached objects, and
the uses its fixes must move or copy) and SES006 (uses of closed sessions)."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from .state import Closure, LoadedObject


@dataclass
class DetachedRead:
    name: str  # the object's variable
    attr: str | None  # None: the object itself escapes (returned / validated)
    node: cst.CSTNode
    obj: LoadedObject
    reason: str  # "expired", "relationship", "deferred"
    verb: str = "read"  # "returned", "validated" when the object itself escapes


@dataclass
class ClosedUse:
    name: str
    node: cst.CSTNode
    closure: Closure


@dataclass
class Analysis:
    reads: list[DetachedRead] = field(default_factory=list)
    closed_uses: list[ClosedUse] = field(default_factory=list)
    # every use (read, name load) of a closed block's objects or session, by closure node
    uses_after: dict[cst.CSTNode, list[cst.CSTNode]] = field(default_factory=dict)
    # blocks whose exit commit flushed added objects: reads moved into the block would see them unflushed
    flushed_at_exit: set[cst.CSTNode] = field(default_factory=set)
