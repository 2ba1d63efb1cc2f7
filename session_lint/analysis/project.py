"""Looking at other modules of the linted project (without importing them)."""

from __future__ import annotations

import ast
import os
from functools import lru_cache
from pathlib import Path

from .ast_imports import import_bindings, imported_names, last_name
from .knowledge import annotated_dependency, commits
from .names import module_name_for
from . import newer_syntax


def search_roots(path: str | Path, config_root: Path | None) -> tuple[Path, ...]:
    """Directories a dotted module name may be relative to, nearest first."""
    return _search_roots(str(path), config_root, os.getcwd())


@lru_cache(maxsize=4096)  # asked for every annotation and import the rules follow: resolving paths dominated
def _search_roots(path: str, config_root: Path | None, cwd: str) -> tuple[Path, ...]:
    p = (Path(cwd) / path).resolve()
    module = module_name_for(p)
    depth = module.name.count(".") + (0 if p.name.startswith("__init__.") else 1)
    package_root = p
    for _ in range(depth):
        package_root = package_root.parent
    roots = [package_root, *(d for d in [config_root, Path(cwd)] if d is not None)]
    return tuple(dict.fromkeys(r.resolve() for r in roots))


PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def forget_layout() -> None:
    """Forget the project layout read so far (which files and packages exist, where the roots are):
    a run reads it once, a long-lived process (the language server) before each file it lints, since
    a module or an `__init__.py` may have been added or removed since."""
    from .names import _module_name_for

    for cached in (_module_name_for, find_module_source, _search_roots, _project_of):
        cached.cache_clear()


def scan_roots(path: str | Path, config_root: Path | None) -> tuple[Path, ...]:
    """The directories a scan of every project file (project_imports.named_by_string) walks: the
    file's package root and the configuration's root, or the working directory when those are one;
    a root above the file's project (the nearest directory with one of PROJECT_MARKERS) only when
    it is a project too (a monorepo's configuration). A run from a parent directory
    (`cd ~ && session-lint code/app/src`) would otherwise walk everything in it."""
    roots = search_roots(path, config_root)[:2]
    project = _project_of(str(Path(path).resolve().parent))
    if project is None:
        return roots
    return tuple(root for root in roots
                 if root == project or project in root.parents or _project_of(str(root)) == root)


@lru_cache(maxsize=1024)
def _project_of(directory: str) -> Path | None:
    for candidate in (Path(directory), *Path(directory).parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return None


@lru_cache(maxsize=4096)  # asked again for each module a trigger or rule follows (4 stats a root)
def find_module_source(dotted: str, roots: tuple[Path, ...]) -> Path | None:
    rel = Path(*dotted.split("."))
    for root in roots:
        for candidate in (root / rel.with_suffix(".py"), root / rel / "__init__.py",
                          root / "src" / rel.with_suffix(".py"), root / "src" / rel / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def stamped(path: Path) -> tuple[Path, int] | None:
    """`(path, mtime_ns)` of a source file, the key of every per-file cache of parsed facts
    (None when it cannot be read)."""
    try:
        return path, path.stat().st_mtime_ns
    except OSError:
        return None


def module_file(dotted: str, roots: tuple[Path, ...]) -> tuple[Path, int] | None:
    """The project source of `dotted` with its mtime: "find the source, stat it" for the caches
    that parse other modules (helper_behaviour, models, fixtures, this module)."""
    source = find_module_source(dotted, roots) if dotted else None
    return stamped(source) if source is not None else None


def parsed_file(path: Path) -> ast.Module | None:
    """The `ast` of a project file, parsed once per (path, mtime)."""
    stamp = stamped(path)
    return _parsed(*stamp) if stamp is not None else None


@lru_cache(maxsize=256)
def _top_level_names(path: Path, mtime_ns: int) -> frozenset[str] | None:
    try:
        tree = newer_syntax.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for imported in imported_names([node]):
                if imported.is_star:
                    return None  # cannot know what a star import brings
                names.add(imported.bound)
        elif isinstance(node, (ast.If, ast.Try)):
            # conditional definitions (`try: import x except ImportError: ...`) count
            for sub in ast.walk(node):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(sub.name)
                elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, ast.alias):
                    names.add((sub.asname or sub.name).split(".")[0])
    return frozenset(names)


def module_defines(dotted_module: str, name: str, roots: tuple[Path, ...]) -> bool:
    """Is `name` a top-level name of the project module `dotted_module`? False when unknown."""
    source = find_module_source(dotted_module, roots)
    if source is None:
        return False
    names = _top_level_names(source, source.stat().st_mtime_ns)
    if names is None:
        return False
    if name in names:
        return True
    # a submodule of a package counts too (`from core import database`)
    return find_module_source(f"{dotted_module}.{name}", roots) is not None


def same_behaviour(old: str, new: str, roots: tuple[Path, ...]) -> bool:
    """May calls of the project function `old` become calls of `new`? True when `old` forwards to
    `new`, or both take the same parameters and agree on committing; also when either is not a
    function we can read (a class, a constant: nothing to compare). A deprecated
    `get_db_session(commit=False, close=True)` that does not commit by default is not the new
    `get_db_session()` that always does: callers passing `commit=` would even fail."""
    old_fn, new_fn = _function_source(old, roots), _function_source(new, roots)
    if old_fn is None or new_fn is None:
        return True
    (old_tree, old_def), (_new_tree, new_def) = old_fn, new_fn
    if _forwards_to(old_tree, old_def, new):
        return True
    return ast.dump(old_def.args) == ast.dump(new_def.args) and commits(old_def) == commits(new_def)


def _function_source(dotted: str, roots: tuple[Path, ...]) -> tuple[ast.Module, ast.AST] | None:
    module, _, name = dotted.rpartition(".")
    stamp = module_file(module, roots)
    tree = _parsed(*stamp) if stamp is not None else None
    if tree is None:
        return None
    return next(((tree, node) for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and node.name == name), None)


@lru_cache(maxsize=64)
def _parsed(path: Path, mtime_ns: int) -> ast.Module | None:
    try:
        return newer_syntax.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None


def _forwards_to(tree: ast.Module, function: ast.AST, target: str) -> bool:
    """Does `function` call `target` (imported by name or through its module, anywhere in the file)?"""
    module, _, leaf = target.rpartition(".")
    local_names, module_aliases = set(), set()
    package, _, module_leaf = module.rpartition(".")
    for imported in imported_names(ast.walk(tree)):
        if imported.is_from and not imported.level:
            if imported.written == module and imported.name == leaf:
                local_names.add(imported.bound)
            elif imported.written == package and imported.name == module_leaf:
                module_aliases.add(imported.bound)
        elif not imported.is_from and imported.written == module:
            module_aliases.add(imported.asname or imported.written)  # `import a.b` is used as `a.b.f()`
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in local_names:
            return True
        if (isinstance(func, ast.Attribute) and func.attr == leaf
                and ast.unparse(func.value) in module_aliases):
            return True
    return False


@lru_cache(maxsize=256)
def _top_level_imports(path: Path, mtime_ns: int, package: str) -> dict[str, str]:
    """`{bound name: absolute dotted name}` for the module's top-level `from m import x [as y]`."""
    try:
        tree = newer_syntax.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return {}
    return import_bindings(tree.body, package, from_only=True)


def origin_of(dotted: str, roots: tuple[Path, ...], depth: int = 4) -> str:
    """Where `module.name` really comes from when `module` is a project module that re-exports it
    (`from core.database import SessionLocal [as X]`), followed through a few re-exports; `dotted`
    itself when the project module defines it (or is not in the project)."""
    module, _, leaf = dotted.rpartition(".")
    source = find_module_source(module, roots) if module and depth else None
    if source is None:
        return dotted
    package = module if source.name == "__init__.py" else module.rpartition(".")[0]
    origin = _top_level_imports(source, source.stat().st_mtime_ns, package).get(leaf)
    return dotted if origin is None or origin == dotted else origin_of(origin, roots, depth - 1)


def same_source(module: str, other: str, roots: tuple[Path, ...]) -> bool:
    """Do two dotted names find the same project file (`core.database`, `backend.core.database`)?"""
    path, other_path = find_module_source(module, roots), find_module_source(other, roots)
    if path is not None and other_path is not None:
        return path == other_path
    # the longer name may be above every root (`backend.` when the roots are backend/ and below):
    # the file the shorter one finds must then lie at the longer one's path
    found, longer = (path, other) if path is not None else (other_path, module)
    if found is None:
        return False
    parts = list(found.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    wanted = longer.split(".")
    return parts[-len(wanted):] == wanted


def annotated_aliases(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """`Name = Annotated[T, Depends(dep)]` at the top of a module (also `Name: X = ...`, `type Name =
    ...`): {Name: (T, dep)}, last components, parsed once per (path, mtime). fastapi.py resolves an
    alias annotation with it; the screen asks whether a name is one."""
    stamp = stamped(path)
    return _annotated_aliases(*stamp) if stamp is not None else {}


@lru_cache(maxsize=256)
def _annotated_aliases(path: Path, mtime_ns: int) -> dict[str, tuple[str | None, str | None]]:
    try:
        data = path.read_bytes()
        if b"Annotated" not in data:  # an alias's value spells it (annotated_dependency): most modules are
            return {}  # never parsed (the screen asks for the module of every imported annotation name)
        tree = newer_syntax.parse(data)
    except (OSError, SyntaxError, ValueError):
        return {}
    found = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            target, value = stmt.target.id, stmt.value
        elif _TYPE_ALIAS is not None and isinstance(stmt, _TYPE_ALIAS):
            target, value = stmt.name.id, stmt.value
        else:
            continue
        parts = annotated_dependency(value, last_name)
        if parts is not None:
            first, depends = parts
            dependency = last_name(depends[0].args[0]) if depends[0].args else None
            found[target] = (last_name(first), dependency)
    return found


_TYPE_ALIAS = getattr(ast, "TypeAlias", None)  # `type DbSession = Annotated[...]` (Python 3.12+)
