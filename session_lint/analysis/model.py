"""The per-file model the rules and the analysis query: one object per linted file.

It holds what is known about the file (path, configuration, LibCST module, its module name) and
answers the questions every analysis asks of a node - what it resolves to, its parent, its
position, its scope - through the metadata the engine computes on demand
(session_lint/engine/metadata.py). Facts computed from the file once, whichever rule asks first
(module-level registries, session wrappers, fixture resolvers, the flow analyses), live in its
`facts` (see `memo`), never on a rule or in a module global. Rules pass it, not themselves, to
the analysis (`raw_session_call(self.context, node)`): the role ruff's semantic model and
pyupgrade's `State` play.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst
from libcst.metadata import CodeRange, ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider
from libcst.metadata.name_provider import ModuleNameAndPackage

from ..config import Config
from .names import fully_qualified, is_module, name_matches
from .project import origin_of, same_source, search_roots


@dataclass
class FileModel:
    """What is known about the file being linted, and the name resolution every analysis uses."""

    path: str
    config: Config
    module: cst.Module
    module_name: str
    package: str = ""
    source: str | None = None  # the text `module` was parsed from (None: ask `module.code`)
    fixes: bool = True  # False: the engine drops every fix (a window of a file, blanked strings)
    # top-level functions of the file called in statements `module` leaves out (a window: engine/windows.py)
    calls_elsewhere: frozenset[str] = frozenset()
    # per-file results the analysis computes once, whichever rule asks first (see `memo`)
    facts: dict = field(default_factory=dict)
    flow: Any = None  # flow.FileFlow: the flow analyses of this file (SES005/SES006), made on first use
    # provider -> node -> value, set by the engine for the traversal (engine/metadata.py: computed on demand)
    metadata: Mapping[type, Mapping] = field(default_factory=dict)
    _qualified: dict = field(default_factory=dict)  # node -> fully qualified names

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
        """Is this file the module `dotted` (`names.is_module`)?"""
        return is_module(self.module_name, dotted)

    # -- nodes ----------------------------------------------------------------------
    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.metadata[ParentNodeProvider].get(node, None)

    def encloses(self, outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
        """Is `inner` below `outer` (not `outer` itself)?"""
        current = self.parent(inner)
        while current is not None:
            if current is outer:
                return True
            current = self.parent(current)
        return False

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self.metadata[PositionProvider][node]

    def scope(self, node: cst.CSTNode):
        """The LibCST scope of `node` (None outside the statements name resolution looked at)."""
        scopes = self.metadata.get(ScopeProvider)
        return scopes.get(node) if scopes is not None else None

    # -- names ----------------------------------------------------------------------
    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        """What `node` may resolve to, as absolute dotted names (relative imports made absolute)."""
        cache = self._qualified
        if node not in cache:
            qnames = self.metadata[QualifiedNameProvider].get(node, set())
            cache[node] = fully_qualified(qnames, self.module_name_and_package) if qnames else set()
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
        origins = self.memo("origins", dict)  # one look-up per name and file
        followed = set()
        for q in qualified:
            if q.rpartition(".")[2] in leaves:
                if q not in origins:
                    origins[q] = origin_of(q, self.project_roots())
                followed.add(origins[q])
        return qualified | followed

    def project_roots(self) -> tuple[Path, ...]:
        """Where this file's project modules are looked up (`project.search_roots`), once per file."""
        return self.memo("search_roots", lambda: search_roots(self.path, self.config.root))
