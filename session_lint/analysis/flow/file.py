"""Per-file flow data, and the entry point SES005 and SES006 call."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from ..walk import IS_NODE, LAYOUT, child_fields
from .interpreter import FlowAnalysis
from .results import Analysis

if TYPE_CHECKING:
    from ..models import ModelRegistry
    from ..model import FileModel


class FileFlow:
    """What the flow analysis of one file shares between its functions and between SES005 and
    SES006: the model registry of the file (read once, from the source the module was parsed
    from) and each function's analysis. Lives on the file's model (analysis/model.py), never in a global."""

    def __init__(self, context: FileModel) -> None:
        self.context = context
        self._registry: ModelRegistry | None = None
        self.analyses: dict[cst.CSTNode, Analysis] = {}

    @property
    def models(self) -> ModelRegistry:
        if self._registry is None:
            from ..models import registry_for

            context = self.context
            source = context.source if context.source is not None else context.module.code
            self._registry = registry_for(source, context.path, context.config.root)
        return self._registry


def may_close_a_session(scope: cst.FunctionDef | cst.Module) -> bool:
    """Can the analysis of `scope` find anything? Every finding (and every use it records) is about
    a session that closed, and a session closes only at the end of a `with` block that binds it to
    a name (`with ... as name:`, interpreter.stmt_With) or by a `.close()` call. Without either in
    the code the interpreter walks (the body, nested functions and classes left out: they are
    analysed on their own), its analysis is empty: no metadata asked, no statement interpreted."""
    stack: list[cst.CSTNode] = list(scope.body) if isinstance(scope, cst.Module) else [scope.body]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is cst.With:
            if any(item.asname is not None and type(item.asname.name) is cst.Name for item in node.items):
                return True
        elif kind is cst.Attribute:
            if node.attr.value == "close":
                return True
        elif kind is cst.FunctionDef or kind is cst.ClassDef:
            continue
        for name in child_fields(node):
            value = getattr(node, name)
            if IS_NODE[type(value)]:
                if type(value) not in LAYOUT:
                    stack.append(value)
            elif isinstance(value, (list, tuple)):
                stack.extend(child for child in value if IS_NODE[type(child)] and type(child) not in LAYOUT)
    return False


def file_flow(context: FileModel) -> FileFlow:
    """The flow data of the file `context` describes (created on first use)."""
    if context.flow is None or context.flow.context is not context:
        context.flow = FileFlow(context)
    return context.flow


def analyse(file: FileModel, node: cst.FunctionDef | cst.Module) -> Analysis:
    """The analysis of one function (or of the module's top-level code), shared by SES005 and SES006."""
    shared = file_flow(file)
    if node not in shared.analyses and not may_close_a_session(node):
        shared.analyses[node] = Analysis()  # nothing closes: nothing can be used after a close
    if node not in shared.analyses:
        flow = FlowAnalysis(file, lambda: shared.models)
        shared.analyses[node] = flow.run_function(node) if isinstance(node, cst.FunctionDef) else flow.run_module(node)
    return shared.analyses[node]
