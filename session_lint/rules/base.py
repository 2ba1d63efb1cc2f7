"""The rule base class: a LibCST batchable visitor with a code, docs and examples.

A rule module defines one subclass of `Rule`; the registry in
`session_lint/rules/__init__.py` finds it. Modelled on Fixit's LintRule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import libcst as cst
from libcst.metadata import (
    CodeRange,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
)
from libcst.metadata.name_provider import ModuleNameAndPackage

from ..config import Config
from ..diagnostics import Diagnostic, Fix
from ..names import fully_qualified, name_matches
from ..project import origin_of, same_source, search_roots


@dataclass
class RuleContext:
    """What a rule knows about the file it is visiting."""

    path: str
    config: Config
    module: cst.Module
    module_name: str
    package: str = ""
    # fully qualified names per node, shared by the rules visiting this module
    qualified_names: dict = field(default_factory=dict)
    source: str | None = None  # the text `module` was parsed from (None: ask `module.code`)
    # per-file results the analysis computes once, whichever rule asks first (see `memo`): they
    # belong to the file, not to any rule
    facts: dict = field(default_factory=dict)
    flow: Any = None  # flow.FileFlow: the flow analyses of this file (SES005/SES006), made on first use

    @property
    def module_name_and_package(self) -> ModuleNameAndPackage:
        return ModuleNameAndPackage(self.module_name, self.package)

    def memo(self, key: str, compute):
        """This file's `key` fact, computed on first use."""
        facts = self.facts
        if key not in facts:
            facts[key] = compute()
        return facts[key]

    def in_module(self, dotted: str) -> bool:
        """Is this file the module `dotted` (or inside the package `dotted`)?"""
        return self.module_name == dotted or self.module_name.endswith("." + dotted)


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

    def __init__(self, context: RuleContext) -> None:
        super().__init__()
        self.context = context
        self.config = context.config
        self.diagnostics: list[Diagnostic] = []

    # -- helpers rules share --------------------------------------------------
    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        cache = self.context.qualified_names
        if node not in cache:
            qnames = self.get_metadata(QualifiedNameProvider, node, set())
            cache[node] = fully_qualified(qnames, self.context.module_name_and_package) if qnames else set()
        return cache[node]

    def resolves_to(self, node: cst.CSTNode, wanted: str | tuple[str, ...] | list[str],
                    default_module: str | None = None) -> bool:
        """Does `node` resolve to one of the configured names in `wanted`? A bare configured name
        is the one of the session module, reached directly or through a project module that
        re-exports it; a local variable, parameter or another module's namesake is not."""
        names = (wanted,) if isinstance(wanted, str) else tuple(wanted)
        module = default_module if default_module is not None else self.config.session_module
        return any(name_matches(q, w, module) or self._same_module_name(q, w, module)
                   for q in self.resolved_names(node, names) for w in names)

    def _same_module_name(self, qualified: str, wanted: str, module: str) -> bool:
        """`core.database.SessionLocal` when the session module is `backend.core.database`: the
        same file, imported from another root (atom's code imports `core.*`, `--init` names
        modules from the repository's package chain)."""
        if "." in wanted:
            return False
        owner, _, leaf = qualified.rpartition(".")
        if leaf != wanted or not owner or not (owner.endswith("." + module) or module.endswith("." + owner)):
            return False
        return same_source(owner, module, self.project_roots())

    def resolved_names(self, node: cst.CSTNode, leaves: tuple[str, ...]) -> set[str]:
        """`qualified_names`, with those ending in one of `leaves` followed to their origin when a
        project module re-exports them (`from core.database import SessionLocal [as SessionLocal]`).
        Only under the same name: the screen (screen.py) finds a configured name by its spelling."""
        qualified = self.qualified_names(node)
        origins = self.context.memo("origins", dict)  # one look-up per name and file
        followed = set()
        for q in qualified:
            if q.rpartition(".")[2] in leaves:
                if q not in origins:
                    origins[q] = origin_of(q, self.project_roots())
                followed.add(origins[q])
        return qualified | followed

    def project_roots(self):
        """Where this file's project modules are looked up (`project.search_roots`), once per file."""
        return self.context.memo("search_roots", lambda: search_roots(self.context.path, self.config.root))

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.get_metadata(ParentNodeProvider, node, None)

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self.get_metadata(PositionProvider, node)

    def report(self, node: cst.CSTNode, message: str, fix: Fix | None = None) -> None:
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
        return f"https://github.com/session-lint/session-lint/blob/main/docs/rules.md#{cls.code.lower()}-{cls.name}"
