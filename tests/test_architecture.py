"""The import direction docs/architecture.md describes, checked on the package's source.

Modules are named by their path under session_lint/ without `.py` (`rules/base`), so no dotted
module name is spelled here (project_imports.named_by_string reads test files for those).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "session_lint"

# Ways in: they use the engine; nothing below them uses them.
FRONTENDS = {"__main__", "api", "cli", "output", "flake8_plugin", "baseline", "docs", "init"}
# Analysis that still receives the visiting rule as its context (name resolution, configuration,
# per-file caches), typed with `rules/base.Rule` under TYPE_CHECKING. The per-file model of issue 15
# replaces that argument; no other module may start doing it.
TAKE_THE_RULE_AS_CONTEXT = {"sessions", "fastapi", "flow/file", "flow/interpreter", "move_safety", "pytest_fixtures",
                            "session_sites"}
# The facts every layer reads: they import no other session_lint module but `names`, and no LibCST.
FACT_MODULES = {"knowledge": set(), "ast_imports": {"names"}}


def _module_name(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").as_posix().removesuffix("/__init__") or "__init__"


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported session_lint module as a path name, only under `if TYPE_CHECKING:`)."""
    name = _module_name(path)
    package = name.split("/")[:-1] if not path.name == "__init__.py" else name.split("/")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(n) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
                 and ast.unparse(stmt.test) == "TYPE_CHECKING" for n in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                targets = ["/".join([*base, *node.module.split(".")])]
            else:
                targets = ["/".join([*base, alias.name]) for alias in node.names]
            found.extend((target, id(node) in type_only) for target in targets)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [module] if module else [alias.name for alias in node.names]
            found.extend(("libcst", id(node) in type_only) for n in names if n.split(".")[0] == "libcst")
    return found


def _graph() -> dict[str, list[tuple[str, bool]]]:
    return {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _is_rule_module(name: str) -> bool:
    return name.startswith("rules/ses")


def test_only_the_rules_package_imports_rule_modules():
    for module, imports in _graph().items():
        if module.startswith("rules"):
            continue
        assert not [target for target, _ in imports if _is_rule_module(target)], module


def test_analysis_uses_the_rule_class_only_as_a_type():
    users = set()
    for module, imports in _graph().items():
        if module.startswith("rules"):
            continue
        for target, type_only in imports:
            if target == "rules/base":
                assert type_only, f"{module} imports rules/base at run time"
                users.add(module)
    assert users <= TAKE_THE_RULE_AS_CONTEXT, users - TAKE_THE_RULE_AS_CONTEXT


def test_frontends_are_imported_by_frontends_only():
    for module, imports in _graph().items():
        if module in FRONTENDS:
            continue
        for target, _ in imports:
            assert target not in FRONTENDS, f"{module} imports the frontend {target}"


def test_the_engine_does_not_import_the_ways_in():
    for module in ("engine", "runner", "parallel", "cache", "screen"):
        assert not {target for target, _ in _graph()[module]} & FRONTENDS, module


def test_fact_modules_stand_alone():
    graph = _graph()
    for module, allowed in FACT_MODULES.items():
        imported = {target for target, _ in graph[module]}
        assert imported <= allowed, (module, imported - allowed)
