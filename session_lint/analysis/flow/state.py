"""The abstract state of the flow analysis: what each name holds at a point of a function
(an open or closed session, an ORM object loaded from / added to one, a statement being built),
and how the states of two paths join (a name stays dangerous unless every path rebinds it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import libcst as cst
from libcst.metadata import CodeRange


@dataclass(frozen=True)
class Closure:
    """Where and how a session ended: its `with` block, or a `.close()` call."""

    session: str
    node: cst.CSTNode  # the With statement or the close() Call
    by_close_call: bool

    def line(self, position: Callable[[cst.CSTNode], CodeRange]) -> int:
        """The line where the session closed (asked only for what is reported: positions cost)."""
        where = position(self.node)
        return where.start.line if self.by_close_call else where.end.line


@dataclass(frozen=True)
class LoadedObject:
    """An ORM object (or a list of them) a name holds, loaded from or added to `session`."""

    session: str
    model: str | None = None
    eager: frozenset[str] = frozenset()  # relationships eager-loaded by the query ("*" = all)
    collection: bool = False
    entity: bool | None = True  # None: could not tell (e.g. `select(self.model)`)
    expired: bool = False
    pending: bool = False  # added and never flushed: transient again after the close
    added: bool = False  # came from `add()`, not from a query
    loaded: frozenset[str] = frozenset()  # attributes read while the session was open
    closure: Closure | None = None  # set once the session closed: the object is detached

    def join(self, other: LoadedObject) -> LoadedObject:
        if self is other:
            return self
        if (self.closure is None) != (other.closure is None):
            return self if self.closure else other
        return replace(self, expired=self.expired or other.expired, pending=self.pending and other.pending,
                       loaded=self.loaded & other.loaded)


@dataclass(frozen=True)
class SessionState:
    """A session a name holds: does its block commit at exit, does a commit expire, has it closed?"""

    commits_at_exit: bool = False
    expires: bool = True  # expire_on_commit of this session
    closure: Closure | None = None


@dataclass
class FlowState:
    """What each name holds at one point of the function being analysed."""

    objects: dict[str, LoadedObject] = field(default_factory=dict)
    sessions: dict[str, SessionState] = field(default_factory=dict)
    values: dict[str, tuple[cst.BaseExpression, ...]] = field(default_factory=dict)
    # session factories held by a name (a pytest factory fixture): calling one opens a session;
    # the value is their sessions' expire_on_commit (None: the option decides)
    factories: dict[str, bool | None] = field(default_factory=dict)

    def copy(self) -> FlowState:
        return FlowState(dict(self.objects), dict(self.sessions), dict(self.values), dict(self.factories))

    def unbind(self, name: str) -> None:
        self.objects.pop(name, None)
        self.sessions.pop(name, None)
        self.values.pop(name, None)
        self.factories.pop(name, None)

    def open_session(self, name: str) -> bool:
        sess = self.sessions.get(name)
        return sess is not None and sess.closure is None


def join_states(states: Iterable[FlowState | None]) -> FlowState | None:
    live = [s for s in states if s is not None]
    if not live:
        return None
    out = live[0].copy()
    for other in live[1:]:
        for name, obj in other.objects.items():
            out.objects[name] = out.objects[name].join(obj) if name in out.objects else obj
        for name, sess in other.sessions.items():
            mine = out.sessions.get(name)
            if mine is None or (mine.closure is None and sess.closure is not None):
                out.sessions[name] = sess
        for name, value in other.values.items():
            out.values.setdefault(name, value)
        for name in [n for n in out.factories if n not in other.factories]:
            del out.factories[name]  # rebound on some path
    return out
