"""Session events: what `commit()`, `flush()`, `rollback()`, `close()`, `add()`, `refresh()`,
`expunge()` and the end of a session block do to the objects of that session (SQLAlchemy's
semantics: expired by a commit, detached by the close, transient again when never flushed)."""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from .state import Closure, FlowState, LoadedObject
from .syntax import class_like, leaf_name


class SessionEvents:
    """FlowAnalysis's part that applies session events to the state (mixed into it)."""

    def commit(self, session: str, state: FlowState) -> None:
        expires = state.sessions[session].expires if session in state.sessions else self.expire_on_commit
        for name, obj in state.objects.items():
            if obj.session == session and obj.closure is None:
                obj = replace(obj, pending=False)
                if expires:
                    obj = replace(obj, expired=True, loaded=frozenset())
                state.objects[name] = obj

    def close(self, session: str, state: FlowState, closure: Closure) -> None:
        state.sessions[session] = replace(state.sessions[session], closure=closure)
        for name, obj in state.objects.items():
            if obj.session == session and obj.closure is None:
                state.objects[name] = replace(obj, closure=closure)

    def session_call(self, call: cst.Call, session: str, method: str, state: FlowState) -> None:
        args = [a.value for a in call.args]
        if method == "commit":
            self.commit(session, state)
        elif method == "flush":
            for name, obj in state.objects.items():
                if obj.session == session and obj.closure is None:
                    state.objects[name] = replace(obj, pending=False)
        elif method == "rollback":  # expires everything, whatever expire_on_commit says
            for name, obj in list(state.objects.items()):
                if obj.session == session and obj.closure is None:
                    if obj.pending:
                        del state.objects[name]
                    else:
                        state.objects[name] = replace(obj, expired=True, loaded=frozenset())
        elif method == "close":
            self.close(session, state, Closure(session, call, by_close_call=True))
        elif method in ("add", "add_all"):
            names = args[:1]
            if method == "add_all" and args and isinstance(args[0], (cst.List, cst.Tuple, cst.Set)):
                names = [el.value for el in args[0].elements]
            for arg in names:
                if isinstance(arg, cst.Name):
                    known = state.objects.get(arg.value)
                    if known is not None and known.session == session and known.closure is None:
                        continue
                    model = self._constructed_model(arg.value, state)
                    state.objects[arg.value] = LoadedObject(session, model, pending=True, added=True) \
                        if known is None else replace(known, session=session, closure=None)
        elif method == "refresh" and args and isinstance(args[0], cst.Name):
            obj = state.objects.get(args[0].value)
            if obj is not None and obj.closure is None:
                state.objects[args[0].value] = replace(obj, expired=False, pending=False)
        elif method == "expunge" and args and isinstance(args[0], cst.Name):
            state.objects.pop(args[0].value, None)  # detached on purpose, with what it loaded
        elif method == "expunge_all":
            for name in [n for n, obj in state.objects.items() if obj.session == session and obj.closure is None]:
                del state.objects[name]

    def _constructed_model(self, name: str, state: FlowState) -> str | None:
        for value in state.values.get(name, ())[-1:]:
            if isinstance(value, cst.Call) and class_like(value.func):
                return leaf_name(value.func)
        return None
