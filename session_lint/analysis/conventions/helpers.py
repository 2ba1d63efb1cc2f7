"""Context managers and dependencies: functions that open a session and yield it."""

from __future__ import annotations

import ast

from ..knowledge import (
    CLEANUP_METHODS,
    CONTEXT_MANAGER_DECORATORS,
    SESSION_CONSTRUCTORS,
    commits,
)

from .results import Item
from .source import (
    _Module,
    _builder_flavor,
    _expire_setting,
    _is_session_type,
    _is_test,
    _module_level,
    _own_nodes,
    _returned_context_manager,
    flavor_of_type,
)


class _Helpers:
    """The scan's steps that find context managers and dependencies (mixed into scan._Scanner)."""

    def _creates_session(self, module: _Module, value: ast.AST | None) -> str | None:
        """Flavor of an expression that opens a session (factory call, Session(...), maker()())."""
        if isinstance(value, ast.Await):
            value = value.value
        if not isinstance(value, ast.Call):
            return None
        func = value.func
        if isinstance(func, ast.Call):  # sessionmaker(...)(), _get_factory()()
            return self._factory_flavor(module, func)
        qualified = module.qualify(func) or ""
        if qualified in self.factory_names:
            return self.factory_names[qualified].flavor
        if qualified in SESSION_CONSTRUCTORS:
            return flavor_of_type(qualified)
        last = qualified.rsplit(".", 1)[-1]
        if any(item.name == last for item in self.result.factories):  # a re-export we did not resolve
            return next(item.flavor for item in self.result.factories if item.name == last)
        return None

    def _yielded_session(self, module: _Module, fn) -> tuple[str | None, str | None, bool]:
        """(flavor, session variable, cleans up) when `fn` yields a session it obtained."""
        bound: dict[str, str] = {}
        body = _own_nodes(fn)
        for node in body:
            if isinstance(node, ast.Assign) and (flavor := self._creates_session(module, node.value)):
                bound.update({t.id: flavor for t in node.targets if isinstance(t, ast.Name)})
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name):
                        flavor = self._creates_session(module, item.context_expr)
                        if flavor is None and _is_session_type(module, fn.returns):
                            flavor = flavor_of_type(_is_session_type(module, fn.returns))
                        if flavor:
                            bound[item.optional_vars.id] = flavor
        annotated = _is_session_type(module, fn.returns)
        for node in body:
            if isinstance(node, ast.Yield) and node.value is not None:
                # `yield request.state.session` counts when the return annotation says Session
                var = node.value.id if isinstance(node.value, ast.Name) else ""
                flavor = bound.get(var) or (flavor_of_type(annotated) if annotated else None)
                if flavor:
                    if isinstance(fn, ast.AsyncFunctionDef):
                        flavor = "async"
                    cleans = any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                                 and c.func.attr in CLEANUP_METHODS and isinstance(c.func.value, ast.Name)
                                 and c.func.value.id == var for c in body)
                    return flavor, var, cleans or var in bound and any(
                        isinstance(w, (ast.With, ast.AsyncWith)) for w in body)
        return None, None, False

    def _find_session_makers(self, module: _Module) -> None:
        """Functions and methods that build a session themselves: `return AsyncSession(engine, ...)`,
        `return sessionmaker(bind=engine)()`. Where sessions are made is where the session module is,
        even when the project's helpers are methods no configuration can name."""
        for fn in module.nodes:
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or _is_test(module.rel):
                continue
            for node in _own_nodes(fn):
                if isinstance(node, ast.Return) and self._constructs_session(module, node.value):
                    item = Item(fn.name, f"{module.name}.{fn.name}", "sync", self.origin(module, fn))
                    self.result.session_makers.append(item)
                    setting = _expire_setting(node.value)
                    if setting is None and isinstance(node.value.func, ast.Call):  # sessionmaker(...)()
                        setting = _expire_setting(node.value.func)
                    if setting is not None and self.result.expire_on_commit is None:
                        self.result.expire_on_commit = (setting, item.origin)
                    break

    def _constructs_session(self, module: _Module, value: ast.AST | None) -> bool:
        """`Session(...)` / `AsyncSession(...)` or `sessionmaker(...)()`: not a session obtained from a factory."""
        if not isinstance(value, ast.Call):
            return False
        if isinstance(value.func, ast.Call):
            return _builder_flavor(module, value.func) is not None
        return (module.qualify(value.func) or "") in SESSION_CONSTRUCTORS

    def _constructed_expiry(self, module: _Module, fn: ast.AST) -> bool | None:
        """The one `expire_on_commit=` constant of the sessions `fn` constructs itself, if it states one."""
        settings = {_expire_setting(node) for node in _own_nodes(fn) if self._constructs_session(module, node)}
        return settings.pop() if len(settings) == 1 else None

    def _expiry_from_helpers(self) -> None:
        """No factory states `expire_on_commit`, but the helpers that build sessions themselves do
        (onyx: every helper of the session module builds `Session(bind=..., expire_on_commit=False)`):
        their common setting, the session module's helpers first."""
        if self.result.expire_on_commit is not None:
            return
        helpers = self.result.context_managers + self.result.dependencies
        module = self.result.session_module[0] if self.result.session_module else None
        own = [h for h in helpers if h.qualified.rsplit(".", 1)[0] == module and h.expires is not None]
        stated = own or [h for h in helpers if h.expires is not None]
        if stated and len({h.expires for h in stated}) == 1:
            first = min(stated, key=lambda h: (h.origin.path, h.origin.line))
            self.result.expire_on_commit = (first.expires, first.origin)

    def _find_helpers(self, module: _Module) -> None:
        for fn in _module_level(module.tree):
            if isinstance(fn, ast.ClassDef) or not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if fn.name.startswith("_"):
                continue  # private (prefect's `_maintenance_session`): not a convention others can import
            decorators = {module.qualify(d.func if isinstance(d, ast.Call) else d) for d in fn.decorator_list}
            if any(d and d.rsplit(".", 1)[-1] == "fixture" for d in decorators):
                continue  # pytest fixtures
            cm = next((CONTEXT_MANAGER_DECORATORS[d] for d in decorators if d in CONTEXT_MANAGER_DECORATORS), None)
            built = None if decorators else _returned_context_manager(module, fn)
            if built is not None:  # `def get_db_session(): @contextmanager def _ctx(): ...; return _ctx()`
                cm, facts_of = built
            else:
                facts_of = fn
            flavor, var, cleans = self._yielded_session(module, facts_of)
            if flavor is None:
                continue
            session_type = _is_session_type(module, fn.returns)
            item = Item(fn.name, f"{module.name}.{fn.name}", flavor, self.origin(module, fn),
                        session_type=session_type, expires=self._constructed_expiry(module, facts_of))
            if cm:
                if not cleans:
                    continue  # a bare pass-through, not a unit of work
                item.commits = commits(facts_of, _own_nodes(facts_of))
                self.result.context_managers.append(item)
            else:
                self.result.dependencies.append(item)
