"""How often the project injects each dependency (`Depends(f)`, `Annotated[Session, Depends(f)]`
aliases): the ranking `--init` uses."""

from __future__ import annotations

import ast
import sys
from collections import Counter

from ..knowledge import (
    annotated_dependency,
)

from .results import Item
from .source import _Module, _is_session_type, flavor_of_type


class _DependencyUses:
    """The scan's step that counts dependency uses (mixed into scan._Scanner)."""

    def _count_dependency_uses(self, modules: list[_Module]) -> None:
        """Functions passed to `Depends(...)` for session-typed parameters, and Annotated aliases."""
        known = {item.qualified: item for item in self.result.dependencies}
        uses: Counter[str] = Counter()
        types: dict[str, str] = {}
        alias_targets: dict[str, str] = {}  # qualified alias -> qualified dependency

        def depends_target(module: _Module, node: ast.AST | None) -> str | None:
            if (isinstance(node, ast.Call) and (module.qualify(node.func) or "").rsplit(".", 1)[-1] == "Depends"
                    and node.args):
                return module.qualify(node.args[0])
            return None

        def annotated_parts(module: _Module, node: ast.AST | None) -> tuple[str, str] | None:
            parts = annotated_dependency(node, lambda e: (module.qualify(e) or "").rpartition(".")[2])
            if parts is not None:
                session_type = _is_session_type(module, parts[0])
                target = next((t for call in parts[1] if (t := depends_target(module, call))), None)
                if session_type and target:
                    return session_type, target
            return None

        for module in modules:
            for stmt in module.tree.body:
                value, name = None, None
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    value, name = stmt.value, stmt.targets[0].id
                elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    value, name = stmt.value, stmt.target.id
                elif sys.version_info >= (3, 12) and isinstance(stmt, ast.TypeAlias):
                    value, name = stmt.value, stmt.name.id
                parts = annotated_parts(module, value)
                if parts:
                    session_type, target = parts
                    alias_targets[f"{module.name}.{name}"] = target
                    types.setdefault(target, session_type)
                    self.result.aliases.append((f"{name} = {ast.unparse(value)}",
                                                Item(name, f"{module.name}.{name}", flavor_of_type(session_type),
                                                     self.origin(module, stmt), note=target)))
        alias_names = tuple({a.name for _, a in self.result.aliases})
        for module in modules:
            if "Depends" not in module.text and not any(a in module.text for a in alias_names):
                continue
            for fn in module.nodes:
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
                defaults = [None] * (len(fn.args.posonlyargs + fn.args.args) - len(fn.args.defaults))
                defaults += list(fn.args.defaults) + list(fn.args.kw_defaults)
                for arg, default in zip(args, defaults):
                    target = depends_target(module, default)
                    session_type = _is_session_type(module, arg.annotation)
                    if target and session_type:
                        uses[target] += 1
                        types.setdefault(target, session_type)
                    elif (parts := annotated_parts(module, arg.annotation)):
                        uses[parts[1]] += 1
                        types.setdefault(parts[1], parts[0])
                    elif (alias := module.qualify(arg.annotation)) in alias_targets:
                        uses[alias_targets[alias]] += 1
        for qualified, count in uses.items():
            item = known.get(qualified)
            if item is None:
                definition = self.functions.get(qualified)
                if definition is None or definition[0].name in self.deprecated_modules:
                    continue  # a dependency we cannot see (installed library) or a deprecated shim
                module, fn = definition
                item = Item(fn.name, qualified, "async" if isinstance(fn, ast.AsyncFunctionDef)
                            else flavor_of_type(types[qualified]), self.origin(module, fn),
                            note="used with Depends()")
                self.result.dependencies.append(item)
                known[qualified] = item
            item.uses = count
            item.session_type = item.session_type or types.get(qualified)
        for _, alias in self.result.aliases:
            if alias.note in known:
                alias.note = known[alias.note].name
