"""What `ast` import statements bind: the one reader of `import` / `from ... import` for the
LibCST-free parts (the screen, `--init`, the cache, the project and model scans).

`imported_names(nodes, package)` flattens the import statements among `nodes` into one
`ImportedName` per imported alias, with the module resolved the way importlib does (relative
imports from `package`). Callers choose what they need (the name bound, the dotted name it refers
to, the module as written) instead of each walking `ast.Import` / `ast.ImportFrom` on its own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable, Iterator

from .names import absolute_module


@dataclass(frozen=True)
class ImportedName:
    """One alias of an import statement (`import a.b as c`, `from ..m import x as y`, `from m import *`)."""

    node: ast.Import | ast.ImportFrom
    written: str  # the module as spelled, with the dots of a relative import: `a.b`, `..m`, `.`
    module: str | None  # absolute module; None for a relative import above the top-level package
    name: str | None  # the imported attribute (`x`, `*`); None for `import a.b`
    asname: str | None

    @property
    def is_from(self) -> bool:
        return self.name is not None

    @property
    def is_star(self) -> bool:
        return self.name == "*"

    @property
    def level(self) -> int:
        return self.node.level if isinstance(self.node, ast.ImportFrom) else 0

    @property
    def bound(self) -> str | None:
        """The local name the statement binds: `import a.b` binds `a`; None for `*`."""
        if self.is_star:
            return None
        if self.asname:
            return self.asname
        return self.name if self.is_from else self.written.partition(".")[0]

    def target(self, keep_unresolved: bool = False) -> str | None:
        """The dotted name `bound` refers to (`import a.b` -> `a`, `import a.b as c` -> `a.b`,
        `from .m import x` -> `<package>.m.x`). With `keep_unresolved`, a relative import above the
        top-level package keeps the module as written without its dots (`from ..m import x` -> `m.x`)."""
        if self.is_star:
            return None
        if not self.is_from:
            return self.written if self.asname else self.written.partition(".")[0]
        base = self.module
        if base is None and keep_unresolved:
            base = self.node.module or ""
        if base is None:
            return None
        return f"{base}.{self.name}" if base else self.name


def imported_names(nodes: Iterable[ast.AST], package: str = "") -> Iterator[ImportedName]:
    """Every alias of the `ast.Import` / `ast.ImportFrom` statements among `nodes`, in order."""
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield ImportedName(node, alias.name, alias.name, None, alias.asname)
        elif isinstance(node, ast.ImportFrom):
            written = "." * node.level + (node.module or "")
            module = absolute_module(node.module, node.level, package)
            for alias in node.names:
                yield ImportedName(node, written, module, alias.name, alias.asname)


def import_bindings(nodes: Iterable[ast.AST], package: str, *, from_only: bool = False,
                    keep_unresolved: bool = False) -> dict[str, str]:
    """`{bound name: dotted name}` for the import statements among `nodes`: `import a.b` binds `a`,
    `import a.b as c` binds `c`, `from .m import x as y` binds `y` to `<package>.m.x`.
    `from_only`: `from` imports alone (re-exports); `keep_unresolved`: a relative import above the
    top-level package keeps the module as written instead of being skipped."""
    found: dict[str, str] = {}
    for imported in imported_names(nodes, package):
        if from_only and not imported.is_from:
            continue
        target = imported.target(keep_unresolved)
        if target is not None:
            found[imported.bound] = target
    return found


def last_name(node: ast.AST) -> str | None:
    """`Session` for `Session` and `orm.Session`: the name a `Name` or `Attribute` ends with (None for
    anything else). Spelling only: what it resolves to is the caller's business."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None
