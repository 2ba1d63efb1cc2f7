"""The rule base class: a LibCST batchable visitor with a code, docs and examples.

A rule module defines one subclass of `Rule`; the registry in
`session_lint/rules/__init__.py` finds it. Modelled on Fixit's LintRule.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import libcst as cst
from libcst.metadata import (
    CodeRange,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
)

from ..diagnostics import Diagnostic, Fix
from ..analysis.model import FileModel


class Rule(cst.BatchableCSTVisitor):
    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case
    summary: ClassVar[str]  # one line, for --list-rules and SARIF
    docs: ClassVar[str]  # ruff-style Markdown: What it does / Why is this bad / ...
    fix_availability: ClassVar[str] = "none"  # "safe", "unsafe", "sometimes" or "none"
    VALID: ClassVar[tuple[str, ...]] = ()  # sources that must not be flagged
    INVALID: ClassVar[tuple[str, ...]] = ()  # sources that must be flagged
    # False: an opt-in rule, checked only when `select` / `extend-select` (or flake8's) name its full
    # code, not through a prefix (`SES`, `ALL`). Set it in the class body as `default_enabled = False`:
    # rules.opt_in_codes() reads that line from the source.
    default_enabled: ClassVar[bool] = True

    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider)

    def __init__(self, context: FileModel) -> None:  # the file it visits (session_lint/analysis/model.py)
        super().__init__()
        self.context = context
        self.config = context.config
        self.diagnostics: list[Diagnostic] = []

    # -- the file model's questions, for the rule's own code (analysis takes `self.context`) ----
    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        return self.context.qualified_names(node)

    def resolves_to(self, node: cst.CSTNode, wanted: str | tuple[str, ...] | list[str],
                    default_module: str | None = None) -> bool:
        return self.context.resolves_to(node, wanted, default_module)

    def project_roots(self) -> tuple[Path, ...]:
        return self.context.project_roots()

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.context.parent(node)

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self.context.position(node)

    def report(self, node: cst.CSTNode, message: str, fix: Fix | None = None) -> None:
        if not self.context.fixes:
            fix = None  # (its spans would cost positions for nothing)
        pos = self.position(node)
        diagnostic = Diagnostic(
            code=self.code, message=message, path=self.context.path,
            line=pos.start.line, column=pos.start.column + 1,
            end_line=pos.end.line, end_column=pos.end.column + 1, fix=fix,
        )
        if fix is not None:
            # Spans the fix rewrites, so the engine can apply non-overlapping fixes together.
            diagnostic.fix_spans = [self._span(n) for n in fix.replacements]
        self.diagnostics.append(diagnostic)

    def _span(self, node: cst.CSTNode) -> tuple[tuple[int, int], tuple[int, int]]:
        pos = self.position(node)
        return (pos.start.line, pos.start.column), (pos.end.line, pos.end.column)

    @classmethod
    def url(cls) -> str:
        from . import docs_url

        return docs_url(cls.code, cls.name)
