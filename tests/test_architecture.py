"""The import direction docs/architecture.md describes, checked on the package's source.

Modules are named by their path under session_lint/ without `.py` (`rules/base`), so no dotted
module name is spelled here (project_imports.named_by_string reads test files for those).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "session_lint"

# The layers, top-down: a layer imports only the layers below it (and the shared vocabulary).
# Ways in: they use the engine; nothing below them uses them.
FRONTEND_PACKAGE = "frontends"
FRONTENDS_OUTSIDE_THE_PACKAGE = {"__main__", "api"}
# The lint loop: screen, parse, metadata, rules, fixes, cache, parallel runs.
ENGINE_PACKAGE = "engine"
# What a file means. Rules build on it; it builds on nothing above it.
ANALYSIS_PACKAGE = "analysis"
# The vocabulary every layer shares: configuration, diagnostics, which files exist and how they decode.
SHARED = {"__init__", "config", "diagnostics", "discovery", "sourcefile"}
# The facts every layer reads: they import no other session_lint module but `names`, and no LibCST.
FACT_MODULES = {"analysis/knowledge": set(), "analysis/ast_imports": {"analysis/names"}}


def _module_name(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").as_posix().removesuffix("/__init__") or "__init__"


def _is_module(name: str) -> bool:
    return (PACKAGE / name).with_suffix(".py").is_file() or (PACKAGE / name / "__init__.py").is_file()


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
                targets = ["/".join([*base, alias.name]) if _is_module("/".join([*base, alias.name]))
                           else "/".join(base) or "__init__" for alias in node.names]
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


def test_analysis_queries_the_file_model_not_the_rules():
    """Rules pass the per-file model (analysis/model) to the analysis, never themselves: no analysis
    module names a rule, not even as a type."""
    for module, imports in _graph().items():
        if module.startswith(ANALYSIS_PACKAGE + "/"):
            assert not [target for target, _ in imports if target.startswith("rules")], module


def _layer(module: str) -> str:
    if module in FRONTENDS_OUTSIDE_THE_PACKAGE or module.startswith(FRONTEND_PACKAGE + "/"):
        return "frontend"
    if module.startswith(ENGINE_PACKAGE + "/"):
        return "engine"
    if module.startswith("rules"):
        return "rules"
    if module.startswith(ANALYSIS_PACKAGE + "/"):
        return "analysis"
    assert module in SHARED or module in {ENGINE_PACKAGE, ANALYSIS_PACKAGE, FRONTEND_PACKAGE, "libcst"}, (
        f"{module}: put it in a layer's package (docs/architecture.md) or list it as shared vocabulary")
    return "shared"


# What each layer may import.
MAY_IMPORT = {
    "frontend": {"frontend", "engine", "rules", "analysis", "shared"},
    "engine": {"engine", "rules", "analysis", "shared"},
    "rules": {"rules", "analysis", "shared"},
    "analysis": {"analysis", "shared"},
    "shared": {"shared", "rules"},  # config validates codes against the registry (no rule module loaded)
}


def test_every_module_belongs_to_a_layer():
    for module in _graph():
        _layer(module)


def test_layers_import_only_the_layers_below():
    for module, imports in _graph().items():
        layer = _layer(module)
        for target, _ in imports:
            if target == "libcst":
                continue
            assert _layer(target) in MAY_IMPORT[layer], f"{module} ({layer}) imports {target} ({_layer(target)})"


def test_shared_vocabulary_reads_only_the_rule_registry():
    for module, imports in _graph().items():
        if _layer(module) == "shared":
            assert {target for target, _ in imports if _layer(target) == "rules"} <= {"rules"}, module


def test_fact_modules_stand_alone():
    graph = _graph()
    for module, allowed in FACT_MODULES.items():
        imported = {target for target, _ in graph[module]}
        assert imported <= allowed, (module, imported - allowed)
