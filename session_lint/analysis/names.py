"""What a name or attribute in a module refers to.

Rules ask `qualified_names(node)` (through `Rule.qualified_names`) and get the
dotted names the expression resolves to, through `import x`, `import x as y`,
`from x import y as z`, relative imports (resolved from the file's package
path) and function-local imports. It is LibCST's QualifiedNameProvider, made
absolute with the module's own dotted name (the FullyQualifiedNameProvider logic).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Collection, NamedTuple

if TYPE_CHECKING:  # the screen and the cache use this module without loading LibCST
    import libcst as cst
    from libcst.metadata import QualifiedName


class ModuleName(NamedTuple):
    """A module's dotted name and its package (the fields of LibCST's ModuleNameAndPackage)."""

    name: str
    package: str


def module_name_for(path: str | Path) -> ModuleName:
    """Dotted module name of a file, from the chain of packages (`__init__.py`) above it."""
    return _module_name_for(str(path), os.getcwd())


# Asked for the file and every module a trigger or rule follows, each time (a relative path's answer
# depends on the working directory): the `stat`s and path objects were 2% of the screen on atom. The
# layout is read once per process; session_lint/analysis/project.py `forget_layout` forgets it.
@lru_cache(maxsize=4096)
def _module_name_for(path: str, cwd: str) -> ModuleName:
    p = Path(path)
    stem = p.name.rsplit(".", 1)[0]
    parts = [] if stem == "__init__" else [stem]
    directory = p.resolve().parent if p.exists() else p.parent
    packages: list[str] = []
    while (directory / "__init__.py").exists() or (directory / "__init__.pyi").exists():
        packages.insert(0, directory.name)
        if directory.parent == directory:
            break
        directory = directory.parent
    name = ".".join(packages + parts) or stem
    return ModuleName(name, ".".join(packages))


def fallback_module_name(path: str | Path) -> ModuleName:
    """Every directory counts as a package: deep enough for any relative import."""
    parts = [part for part in Path(path).resolve().with_suffix("").parts[1:] if part.isidentifier()]
    parts = parts or ["module"]
    return ModuleName(".".join(parts), ".".join(parts[:-1]))


def is_module(module_name: str, dotted: str) -> bool:
    """Is the module named `module_name` the configured module `dotted`, whatever root it was named
    from (`backend.core.database` is `core.database`)? What the rules ask to skip the session module."""
    return module_name == dotted or module_name.endswith("." + dotted)


def fully_qualified(qnames: Collection[QualifiedName], module: ModuleName) -> set[str]:
    """Absolute dotted names for the module-relative names of QualifiedNameProvider.

    LibCST's FullyQualifiedNameProvider computes this eagerly for every node of the
    module; asking only for the nodes a rule looks at costs a third less overall.
    Raises ImportError for a relative import above the detected top-level package.
    """
    from .libcst_compat import fully_qualify

    return {fully_qualify(module.name, module.package, q).name for q in qnames}


def absolute_module(module: str | None, level: int, package: str) -> str | None:
    """The module a `from <dots><module> import ...` in `package` refers to (importlib's rule).

    None when the dots climb above the top-level package (or name nothing at all).
    """
    if not level:
        return module or None
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else [])) or None


def dotted_name(node: cst.BaseExpression | None) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None (spelling only, no resolution)."""
    import libcst as cst

    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def name_matches(qualified: str, wanted: str, default_module: str | None = None) -> bool:
    """Does a resolved dotted name denote the configured name `wanted`?

    A dotted `wanted` (`app.db.get_session`) must match exactly; a bare one (`SessionLocal`)
    is `<default_module>.SessionLocal`, never any name that merely ends the same way (a
    script's own `SessionLocal = sessionmaker(...)` is another database). Re-exports through
    other project modules are the caller's to follow first (`project.origin_of`).
    """
    if "." in wanted:
        return qualified == wanted
    return default_module is not None and qualified == f"{default_module}.{wanted}"
