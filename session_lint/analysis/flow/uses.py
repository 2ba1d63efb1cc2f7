"""Uses after a close: reads of a detached object's attributes that fail (SES005), the object
itself escaping, and uses of a closed session (SES006)."""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from .results import ClosedUse, DetachedRead
from .state import Closure, FlowState, LoadedObject


class UsesAfterClose:
    """FlowAnalysis's part that records uses of closed sessions and detached objects (mixed into it)."""

    def use_after_close(self, obj_or_sess_closure: Closure, node: cst.CSTNode) -> None:
        self.result.uses_after.setdefault(obj_or_sess_closure.node, []).append(node)

    def read(self, name: str, attr: str, node: cst.CSTNode, state: FlowState, obj: LoadedObject | None = None) -> None:
        obj = obj or state.objects[name]
        if attr.startswith("__") or obj.collection:
            return
        if obj.closure is None:  # still attached: the read loads it (and refreshes expired columns)
            state.objects[name] = replace(obj, expired=False, loaded=obj.loaded | {attr})
            return
        self.use_after_close(obj.closure, node)
        reason = self.failing(obj, attr)
        if reason and (name, obj.closure.node) not in self.reported:
            self.reported.add((name, obj.closure.node))
            self.result.reads.append(DetachedRead(name, attr, node, obj, reason))

    def failing(self, obj: LoadedObject, attr: str | None) -> str | None:
        if obj.pending:
            return None  # never flushed: transient again, nothing to load
        if obj.expired:
            return "expired" if attr is not None or obj.entity else None
        if attr is None or attr in obj.loaded or attr in obj.eager or "*" in obj.eager:
            return None
        kind = self.models.attribute_kind(obj.model, attr)
        return kind if kind in ("relationship", "deferred") else None

    def escape(self, node: cst.Name, state: FlowState, verb: str = "returned") -> None:
        """The object itself leaves the function (returned): fails when its attributes were expired."""
        obj = state.objects.get(node.value)
        if obj is None or obj.closure is None:
            return
        if self.failing(obj, None) and obj.entity and (node.value, obj.closure.node) not in self.reported:
            self.reported.add((node.value, obj.closure.node))
            self.result.reads.append(DetachedRead(node.value, None, node, obj, "expired", verb))

    def name_load(self, node: cst.Name, state: FlowState) -> None:
        name = node.value
        obj = state.objects.get(name)
        if obj is not None and obj.closure is not None:
            self.use_after_close(obj.closure, node)
        sess = state.sessions.get(name)
        if sess is not None and sess.closure is not None:
            self.use_after_close(sess.closure, node)
            key = ("session", name, sess.closure.node)
            if key not in self.reported:
                self.reported.add(key)
                self.result.closed_uses.append(ClosedUse(name, node, sess.closure))
