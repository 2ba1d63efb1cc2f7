"""The session module, Alembic migrations, and deprecated modules that forward to the session module."""

from __future__ import annotations

import ast
from collections import Counter

from ..project import same_behaviour

from .results import Origin
from .source import _Module, _own_nodes


class _SessionModule:
    """The scan's steps for the session module, migrations and deprecated shims (mixed into scan._Scanner)."""

    def _choose_session_module(self) -> None:
        votes: Counter[str] = Counter()
        where: dict[str, str] = {}
        for items, weight in ((self.result.factories, 2), (self.result.session_makers, 2),
                              (self.result.context_managers, 3), (self.result.dependencies, 3)):
            for item in items:
                module = item.qualified.rsplit(".", 1)[0]
                votes[module] += weight
                where[module] = item.origin.path
        if votes:
            best = max(votes, key=lambda m: (votes[m], -m.count("."), m))
            self.result.session_module = (best, where[best])

    def _find_migrations(self) -> None:
        """Alembic environments: their revisions bind sessions to the migration's connection."""
        for module in self.modules:
            if module.path.name == "env.py" and any(v == "alembic.context" or v.startswith("alembic.context.")
                                                    for v in module.imports.values()):
                self.result.migrations.append(Origin(module.rel, 1))

    def _find_deprecated(self) -> None:
        for module in self.modules:
            if "Deprecat" in module.text and any(self._warns_deprecation(module, node) for node in module.nodes):
                self.deprecated_modules.add(module.name)

    @staticmethod
    def _warns_deprecation(module: _Module, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call) or (module.qualify(node.func) or "").rsplit(".", 1)[-1] != "warn":
            return False
        categories = node.args[1:2] + [kw.value for kw in node.keywords if kw.arg == "category"]
        return any((module.qualify(c) or "").rsplit(".", 1)[-1] in {"DeprecationWarning",
                                                                    "PendingDeprecationWarning"}
                   for c in categories)

    def _resolve_deprecated(self) -> None:
        session_modules = {item.qualified.rsplit(".", 1)[0]
                           for items in (self.result.factories, self.result.context_managers,
                                         self.result.dependencies) for item in items}
        for module in self.modules:
            if module.name not in self.deprecated_modules:
                continue
            # forwarded-to module: what its imports point at, among the session modules
            targets: Counter[str] = Counter()
            for imported in module.imports.values():
                for candidate in session_modules:
                    if imported == candidate or imported.startswith(candidate + "."):
                        targets[candidate] += 1
            if not targets:
                continue
            target = targets.most_common(1)[0][0]
            self.result.deprecated.append((module.name, target, Origin(module.rel, 1)))
            for fn in module.tree.body:
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                forwarded = self._forwarded_name(module, fn, target)
                if forwarded and forwarded != fn.name:
                    self.result.deprecated.append((f"{module.name}.{fn.name}", f"{target}.{forwarded}",
                                                   self.origin(module, fn)))
                elif not forwarded and f"{target}.{fn.name}" in self.functions and not same_behaviour(
                        f"{module.name}.{fn.name}", f"{target}.{fn.name}", (self.root,)):
                    self.result.differing.append((f"{module.name}.{fn.name}", f"{target}.{fn.name}",
                                                  self.origin(module, fn)))

    @staticmethod
    def _forwarded_name(module: _Module, fn, target: str) -> str | None:
        """The helper of `target` that `fn` returns / yields from (`return database.get_db_session()`)."""
        for node in _own_nodes(fn):
            value = node.value if isinstance(node, (ast.Return, ast.YieldFrom, ast.Await)) else None
            if isinstance(value, ast.Await):
                value = value.value
            if isinstance(value, ast.Call):
                qualified = module.qualify(value.func) or ""
                if qualified.startswith(target + ".") and qualified.count(".") == target.count(".") + 1:
                    return qualified.rsplit(".", 1)[1]
        return None
