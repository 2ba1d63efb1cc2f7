"""Does any other module of the project import a given name from this one? (read, never imported)

Used before a fix removes a module-level name: a "yes" or "cannot tell" means no fix.
"""

from __future__ import annotations

import ast
import os
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from .ast_imports import imported_names
from . import newer_syntax
from ..discovery import is_test_path

SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "build", "dist", "venv", "env"})
MAX_FILES = 5000
MAX_SCANNED_FILES = 50000  # a byte search: cheap, but not over a whole disk
_QUOTED_DOTTED = re.compile(rb"""["']([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)["']""")


def _python_files(root: Path):
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS]
        for file in files:
            if file.endswith(".py"):
                yield Path(directory) / file


def _package_of(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).parts[:-1])


def _imports_name(tree: ast.AST, text: str, module: str, name: str, package: str) -> bool:
    parent, _, leaf = module.rpartition(".")
    for imported in imported_names(ast.walk(tree), package):
        if imported.is_from:
            source = imported.module or ""
            if source == module and imported.name in (name, "*"):
                return True
            if source == parent and imported.name == leaf and f"{imported.asname or leaf}.{name}" in text:
                return True
        elif imported.written == module and f"{imported.asname or module}.{name}" in text:
            return True
    return False


@lru_cache(maxsize=128)
def imported_elsewhere(root: Path, module: str, name: str, own_path: Path) -> bool:
    """True when another project file imports `name` from `module` (or when we cannot tell)."""
    leaf = module.rpartition(".")[2]
    for count, path in enumerate(_python_files(root)):
        if count > MAX_FILES:
            return True
        if path.resolve() == own_path:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if name not in text or leaf not in text:
            continue
        try:
            tree = newer_syntax.parse(text)
        except (SyntaxError, ValueError):
            return True
        if _imports_name(tree, text, module, name, _package_of(path, root)):
            return True
    return False


@lru_cache(maxsize=8)
def _quoted_dotted_names(root: Path) -> dict[str, frozenset[str]] | None:
    """Every quoted dotted name (`"app.jobs.SessionLocal"`) in the project's Python files, by its last
    part; None when the tree is too big to tell. One byte search per file, once per run."""
    found: dict[str, set[str]] = defaultdict(set)
    for count, path in enumerate(_python_files(root)):
        if count > MAX_SCANNED_FILES:
            return None
        if not is_test_path(path.relative_to(root)):
            continue  # patches live in tests; a message or a mapping elsewhere is not one
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for match in _QUOTED_DOTTED.finditer(data):
            text = match.group(1).decode("ascii")
            found[text.rpartition(".")[2]].add(text)
    return {leaf: frozenset(names) for leaf, names in found.items()}


def named_by_string(root: Path, module: str, name: str) -> bool:
    """Does a string in the project spell this module's attribute `module.name`? Tests patch module
    attributes that way (`patch("app.jobs.SessionLocal")`): removing the import makes them raise
    AttributeError. Either spelling may carry a longer package prefix (`backend.app.jobs`); True
    when we cannot tell."""
    names = _quoted_dotted_names(root)
    if names is None:
        return True
    target = f"{module}.{name}"
    return any(s == target or s.endswith("." + target) or target.endswith("." + s) for s in names.get(name, ()))
