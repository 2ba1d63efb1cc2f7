"""Session factories: `sessionmaker(...)` bindings, functions building one, lazy exports,
`configure(...)` calls, `expire_on_commit`."""

from __future__ import annotations

import ast


from .results import Item
from .source import _Module, _RESERVED, _builder_flavor, _expire_setting, _module_level, _own_nodes


class _Factories:
    """The scan's steps that find session factories (mixed into scan._Scanner)."""

    def _find_factory_functions(self, module: _Module) -> None:
        """Functions that build and return a sessionmaker (`create_async_sessionmaker(engine)`)."""
        for node in module.nodes:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = _own_nodes(node)
            assigned = {}
            for sub in body:
                if isinstance(sub, ast.Assign) and (flavor := _builder_flavor(module, sub.value)):
                    assigned.update({t.id: (flavor, sub.value) for t in sub.targets if isinstance(t, ast.Name)})
            for sub in body:
                if isinstance(sub, ast.Return) and sub.value is not None:
                    flavor, call = _builder_flavor(module, sub.value), sub.value
                    if flavor is None and isinstance(sub.value, ast.Name):
                        flavor, call = assigned.get(sub.value.id, (None, None))
                    if flavor:
                        self.factory_functions[f"{module.name}.{node.name}"] = flavor
                        self.factory_calls[f"{module.name}.{node.name}"] = call

    def _factory_flavor(self, module: _Module, value: ast.AST) -> str | None:
        flavor = _builder_flavor(module, value)
        if flavor is None and isinstance(value, ast.Call) and not isinstance(value.func, ast.Call):
            flavor = self.factory_functions.get(module.qualify(value.func) or "")
        return flavor

    def _add_factory(self, module: _Module, name: str, flavor: str, node: ast.AST, call: ast.AST,
                     note: str = "") -> None:
        if name in _RESERVED:
            return
        qualified = f"{module.name}.{name}"
        if qualified in self.factory_names:
            return
        item = Item(name, qualified, flavor, self.origin(module, node), note)
        self.factory_names[qualified] = item
        self.result.factories.append(item)
        if isinstance(call, ast.Call) and not _builder_flavor(module, call):
            call = self.factory_calls.get(module.qualify(call.func) or "", call)
        if isinstance(call, ast.Call):
            setting = _expire_setting(call)
            if setting is not None and self.result.expire_on_commit is None:
                self.result.expire_on_commit = (setting, item.origin)

    def _find_factories(self, module: _Module) -> None:
        globals_ = {n for node in module.nodes if isinstance(node, ast.Global) for n in node.names}
        top_level = set(map(id, _module_level(module.tree)))
        for node in module.nodes:
            if isinstance(node, ast.Assign):
                pairs = []
                for target in node.targets:
                    if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        pairs += zip(target.elts, node.value.elts)
                    else:
                        pairs.append((target, node.value))
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                pairs = [(node.target, node.value)]
            else:
                continue
            at_module_level = id(node) in top_level
            for target, value in pairs:
                if not isinstance(target, ast.Name) or not (at_module_level or target.id in globals_):
                    continue
                flavor = self._factory_flavor(module, value)
                if flavor:
                    self._add_factory(module, target.id, flavor, node, value)
        self._find_lazy_exports(module)
        self._find_configure_calls(module)

    def _find_lazy_exports(self, module: _Module) -> None:
        """`def __getattr__(name): if name == "AsyncSessionLocal": return _make_factory()`."""
        for fn in module.tree.body:
            if not (isinstance(fn, ast.FunctionDef) and fn.name == "__getattr__"):
                continue
            for node in ast.walk(fn):
                if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                        and len(node.test.comparators) == 1 and isinstance(node.test.ops[0], ast.Eq)):
                    continue
                constant = node.test.comparators[0]
                if not (isinstance(constant, ast.Constant) and isinstance(constant.value, str)):
                    continue
                for stmt in node.body:
                    if isinstance(stmt, ast.Return) and stmt.value is not None:
                        flavor = self._factory_flavor(module, stmt.value)
                        if flavor:
                            self._add_factory(module, constant.value, flavor, node, stmt.value,
                                              "lazy module attribute")

    def _find_configure_calls(self, module: _Module) -> None:
        """`SessionLocal.configure(expire_on_commit=False)` sets the option after the fact."""
        if self.result.expire_on_commit is not None:
            return
        for node in module.nodes:
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "configure"
                    and (module.qualify(node.func.value) or "") in self.factory_names):
                setting = _expire_setting(node)
                if setting is not None:
                    self.result.expire_on_commit = (setting, self.origin(module, node))
                    return
