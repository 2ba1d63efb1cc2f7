"""SES004 deprecated-session-import: imports from a module listed in `[tool.session-lint.deprecated]`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import libcst as cst
from libcst.helpers import get_absolute_module_from_package_for_import
from libcst.metadata import ScopeProvider

from ..diagnostics import Applicability, Fix, ImportSpec
from ..analysis.names import dotted_name, module_name_for
from ..analysis.project import find_module_source, module_defines, same_behaviour, search_roots
from .base import Rule
from ..analysis.walk import visit_read_only

# The screen trigger, what a file must contain for this rule to fire:
# an import or attribute naming a deprecated module or name.
# session_lint/engine/screen.py skips LibCST for files without it; rules.screen_triggers() reads this line.
SCREEN_TRIGGERS = ("deprecated",)

DOCS = """\
## What it does
Checks for imports of session helpers from a deprecated module, as listed in
`[tool.session-lint.deprecated]` (by default `core.database_manager`, whose
helpers moved to `core.database`).

## Why is this bad?
The deprecated module is a compatibility shim: every call goes through a
wrapper that emits `DeprecationWarning`, and the shim will be deleted. Code that
still imports it breaks on that day, and renamed helpers
(`get_db_session_for_request` is now `get_db`) keep old names alive.

## Example
```python
from core.database_manager import get_db_session, get_db_session_for_request

@router.get("/users")
def list_users(db: Session = Depends(get_db_session_for_request)): ...
```

## Use instead
```python
from core.database import get_db_session, get_db

@router.get("/users")
def list_users(db: Session = Depends(get_db)): ...
```

## Fix safety
The fix is safe: it imports the same object from its new home (the shim only
forwards to it), renames every use of a renamed helper in the file, and merges
into an existing `from core.database import ...` instead of adding a second one.
A name is only moved when it is known to exist in the new module (a rename in
the table, or a top-level name found in the new module's source); otherwise the
diagnostic has no fix.

## Options
- `[tool.session-lint.deprecated]`: old dotted name -> new dotted name, for
  modules and for single (renamed) names.

## References
- [PEP 387: deprecation policy](https://peps.python.org/pep-0387/)
"""


@dataclass
class _FromImport:
    node: cst.ImportFrom
    module: str  # absolute module the names are imported from
    package: str  # package of the linted file, for relative rewrites


class DeprecatedSessionImport(Rule):
    code = "SES004"
    name = "deprecated-session-import"
    summary = "Import from a deprecated session module"
    docs = DOCS
    fix_availability = "safe"
    METADATA_DEPENDENCIES = Rule.METADATA_DEPENDENCIES + (ScopeProvider,)

    VALID = (
        "from core.database import get_db_session\n",
        "from core.database_manager_utils import get_db_session\n",
        "database_manager = load()\ndatabase_manager.get_db_session()\n",
    )
    INVALID = (
        "from core.database_manager import get_db_session\n",
        "import core.database_manager as dm\ndm.get_db_session()\n",
        "from core import database_manager\n",
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self.table = context.config.deprecated_map
        # the deprecated module itself (the shim) is not flagged
        self.skip = any(context.in_module(old) for old in self.table)
        self.package = module_name_for(context.path).package
        self._roots: tuple[Path, ...] | None = None
        self.from_imports: list[_FromImport] = []
        self.imports: list[cst.Import] = []
        self.names: dict[str, list[cst.Name]] = {}
        self.attributes: list[cst.Attribute] = []
        self.in_import = False

    # -- table lookups -----------------------------------------------------------
    def new_name_for(self, old: str) -> str | None:
        if old in self.table:
            return self.table[old]
        for key in sorted(self.table, key=len, reverse=True):
            if old.startswith(key + "."):
                return self.table[key] + old[len(key):]
        return None

    def known_to_exist(self, old: str, new: str) -> bool:
        """May `old` become `new`? `new` must exist (the table declares the rename, or the new module
        defines it) and behave the same (SPEC §4: a deprecated helper that does not commit is not
        replaced by one that does)."""
        if self._roots is None:
            self._roots = search_roots(self.context.path, self.config.root)
        if not same_behaviour(old, new, self._roots):
            return False
        return self.defined(old, new)

    def defined(self, old: str, new: str) -> bool:
        """Does `new` exist: the table declares the rename, or its module defines it?"""
        if self._roots is None:
            self._roots = search_roots(self.context.path, self.config.root)
        if old in self.table:
            return True  # the table declares this rename
        module, _, name = new.rpartition(".")
        return bool(module) and module_defines(module, name, self._roots)

    # -- collection (fixes are built in leave_Module, once every use is known) -----
    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if self.skip:
            return
        if node.relative:
            try:
                module = get_absolute_module_from_package_for_import(self.package or None, node)
            except Exception:
                module = None
        else:
            module = dotted_name(node.module)
        if module:
            self.from_imports.append(_FromImport(node, module, self.package))

    def visit_Import(self, node: cst.Import) -> None:
        if not self.skip:
            self.imports.append(node)

    def visit_Name(self, node: cst.Name) -> None:
        self.names.setdefault(node.value, []).append(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if not self.skip and not self.in_import:
            self.attributes.append(node)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        self.in_import = True

    def leave_ImportAlias(self, original_node: cst.ImportAlias) -> None:
        self.in_import = False

    def leave_Module(self, original_node: cst.Module) -> None:
        if self.skip:
            return
        for item in self.from_imports:
            self.check_from_import(item)
        reported_modules: set[str] = set()
        for node in self.imports:
            reported_modules |= self.check_import(node)
        for node in self.attributes:
            self.check_attribute(node, reported_modules)

    # -- `from x import y` ------------------------------------------------------
    def check_from_import(self, item: _FromImport) -> None:
        node = item.node
        if isinstance(node.names, cst.ImportStar):
            new_module = self.new_name_for(item.module)
            if new_module:
                self.report(node, f"deprecated session import from `{item.module}` (use `{new_module}`)")
            return
        moves = {}
        for alias in node.names:
            old = f"{item.module}.{alias.name.value}"
            new = self.new_name_for(old)
            if new:
                moves[alias] = (old, new)
        if not moves:
            return
        if len(moves) == 1:
            (old, new), = moves.values()
            new_module, _, leaf = new.rpartition(".")
            if self.defined(old, new) or find_module_source(new_module, self._roots) is None:
                message = f"deprecated session import `{old}` (use `{new}`)"
            else:  # the project's new module lacks it (atom: `from core.database_manager import db_manager`)
                message = (f"deprecated session import `{old}` (`{new_module}` has no `{leaf}`: "
                           f"use the helpers of `{new_module}` instead)")
        else:
            new_modules = sorted({new.rpartition(".")[0] for _, new in moves.values()})
            message = f"deprecated session import from `{item.module}` (use `{'`, `'.join(new_modules)}`)"
        self.report(node, message, self.fix_from_import(item, moves))

    def fix_from_import(self, item: _FromImport, moves: dict) -> Fix | None:
        node = item.node
        replacements: dict = {}
        new_aliases: list[tuple[cst.ImportAlias, str, str | None]] = []  # (alias, new leaf, asname)
        for alias, (old, new) in moves.items():
            if not self.known_to_exist(old, new):
                return None
            new_leaf = new.rpartition(".")[2]
            asname = alias.asname.name.value if alias.asname else None
            local = asname or alias.name.value
            if asname is None and new_leaf != alias.name.value and not self.name_free(new_leaf, new):
                asname = alias.name.value  # the new name is taken: keep the old one as an alias
            new_local = asname or new_leaf
            if self.is_module(old, new):
                uses = self.attribute_uses(node, local)
                members = None if uses is None else self.member_replacements(
                    uses, old, new, cst.Name(new_local) if new_local != local else None)
                if members is None:
                    return None
                replacements.update(members)
            elif new_local != local:
                renamed = self.rename_uses(node, local, new_local, new)
                if renamed is None:
                    return None
                replacements.update(renamed)
            if asname == new_leaf:
                asname = None
            new_aliases.append((alias, new_leaf, asname))
        new_modules = {new.rpartition(".")[0] for _, new in moves.values()}
        message = f"Import from `{'`, `'.join(sorted(new_modules))}`"
        if self.can_merge(node, new_modules, moves):
            (new_module,) = new_modules
            kept = [a for a in node.names if a not in moves]
            if kept:
                kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                replacements[node] = node.with_changes(names=kept)
            else:
                replacements[node] = cst.RemoveFromParent()
            adds = tuple(ImportSpec(new_module, leaf, asname) for _, leaf, asname in new_aliases)
            return Fix(Applicability.SAFE, message, replacements, add_imports=adds)
        if len(new_modules) != 1:
            return None  # a statement split over modules: leave it to a human
        (new_module,) = new_modules
        if len(moves) != len(node.names) and new_module != item.module:
            return None  # other names stay in the old module: leave it to a human
        # Rewrite in place: moved names renamed, other names (same module) kept as they are.
        renamed = {alias: (leaf, asname) for alias, leaf, asname in new_aliases}
        names, seen = [], set()
        for alias in node.names:
            leaf, asname = renamed.get(alias, (alias.name.value, alias.asname and alias.asname.name.value))
            if (leaf, asname) in seen:
                continue  # a rename made it a duplicate of a name already imported here
            seen.add((leaf, asname))
            names.append(alias.with_changes(name=cst.Name(leaf),
                                            asname=cst.AsName(cst.Name(asname)) if asname else None)
                         if alias in renamed else alias)
        names[-1] = names[-1].with_changes(comma=node.names[-1].comma)
        relative, module_expr = self.module_reference(node, new_module, item.package)
        replacements[node] = node.with_changes(relative=relative, module=module_expr, names=names)
        return Fix(Applicability.SAFE, message, replacements)

    def can_merge(self, node: cst.ImportFrom, new_modules: set[str], moves: dict) -> bool:
        """Merge into an existing module-level `from new import ...` when nothing (no comment) is lost."""
        if len(new_modules) != 1 or node.relative:
            return False
        (new_module,) = new_modules
        line = self.parent(node)
        if not isinstance(line, cst.SimpleStatementLine) or not isinstance(self.parent(line), cst.Module):
            return False
        if len(moves) == len(node.names) and (len(line.body) != 1 or _has_comment(line)):
            return False
        if len(moves) != len(node.names) and _has_comment(node):
            return False
        return any(
            other.node is not node and other.module == new_module and not self.is_deprecated_import(other)
            and not isinstance(other.node.names, cst.ImportStar)
            and isinstance(self.parent(self.parent(other.node)), cst.Module)
            for other in self.from_imports
        )

    def is_deprecated_import(self, item: _FromImport) -> bool:
        if isinstance(item.node.names, cst.ImportStar):
            return self.new_name_for(item.module) is not None
        return any(self.new_name_for(f"{item.module}.{a.name.value}") for a in item.node.names)

    def module_reference(self, node: cst.ImportFrom, new_module: str, package: str):
        """(dots, module expression) for `new_module`, relative when the original was."""
        if node.relative and package:
            base_parts = package.split(".")
            up = len(node.relative) - 1
            if up < len(base_parts):
                base = ".".join(base_parts[: len(base_parts) - up])
                if new_module == base:
                    return node.relative, None
                if new_module.startswith(base + "."):
                    return node.relative, cst.parse_expression(new_module[len(base) + 1:])
        return (), cst.parse_expression(new_module)

    def rename_uses(self, node: cst.CSTNode, local: str, new_leaf: str, new_full: str) -> dict | None:
        """Replacements renaming every use of the name `local` bound by `node`; None if not possible."""
        if not self.name_free(new_leaf, new_full):
            return None
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return None
        replacements: dict = {}
        for assignment in scope.assignments[local]:
            if getattr(assignment, "node", None) is not node:
                continue
            for access in assignment.references:
                if not isinstance(access.node, cst.Name):
                    return None  # e.g. a string annotation: not rewritten by hand
                replacements[access.node] = access.node.with_changes(value=new_leaf)
        return replacements

    def name_free(self, name: str, meaning: str) -> bool:
        """Can `name` be bound to `meaning` here without shadowing something else?"""
        for other in self.names.get(name, []):
            qualified = self.qualified_names(other)
            if qualified and qualified != {meaning}:
                return False
        return True

    # -- `import x.y as z` ------------------------------------------------------
    def check_import(self, node: cst.Import) -> set[str]:
        reported: set[str] = set()
        for alias in node.names:
            old = dotted_name(alias.name)
            new = self.new_name_for(old) if old else None
            if not new:
                continue
            reported.add(old)
            message = f"deprecated session module `{old}` imported (use `{new}`)"
            fix = self.fix_import(node, alias, old, new) if len(node.names) == 1 else None
            self.report(node, message, fix)
        return reported

    def fix_import(self, node: cst.Import, alias: cst.ImportAlias, old: str, new: str) -> Fix | None:
        replacements: dict = {node: node.with_changes(names=[alias.with_changes(name=cst.parse_expression(new))])}
        if alias.asname:
            uses = self.attribute_uses(node, alias.asname.name.value)
            if uses is None:
                return None
        else:
            uses = [(attr, attr.value) for attr in self.attributes
                    if isinstance(attr.value, (cst.Attribute, cst.Name))
                    and dotted_name(attr.value) == old and old in self.qualified_names(attr.value)]
        members = self.member_replacements(uses, old, new, None if alias.asname else cst.parse_expression(new))
        if members is None:
            return None
        replacements.update(members)
        return Fix(Applicability.SAFE, f"Import `{new}`", replacements)

    def member_replacements(self, uses: list, old: str, new: str, new_base: cst.BaseExpression | None) -> dict | None:
        """Rewrite `<module>.member` uses for a module moved from `old` to `new`.

        Renamed members get their new name; a member not known to exist in the
        new module means no fix. `new_base` replaces the module reference (None: keep it).
        """
        replacements = {}
        for attribute, base in uses:
            old_member = f"{old}.{attribute.attr.value}"
            new_member = self.new_name_for(old_member)
            if (not new_member or new_member.rpartition(".")[0] != new
                    or not self.known_to_exist(old_member, new_member)):
                return None
            new_attr = attribute.attr.with_changes(value=new_member.rpartition(".")[2])
            replacements[attribute] = attribute.with_changes(value=new_base or base, attr=new_attr)
        return replacements

    def is_module(self, old: str, new: str) -> bool:
        """Does the deprecated dotted name `old` denote a module (not a function or class)?"""
        if any(key.startswith(old + ".") for key in self.table):
            return True
        if self._roots is None:
            self._roots = search_roots(self.context.path, self.config.root)
        return find_module_source(new, self._roots) is not None

    def attribute_uses(self, node: cst.CSTNode, local: str) -> list | None:
        """(attribute, base name) for every `local.member` use; None if `local` is used bare."""
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return None
        uses = []
        for assignment in scope.assignments[local]:
            if getattr(assignment, "node", None) is not node:
                continue
            for access in assignment.references:
                parent = self.parent(access.node)
                if not (isinstance(parent, cst.Attribute) and parent.value is access.node):
                    return None
                uses.append((parent, access.node))
        return uses

    # -- `module.renamed_name` where only the name is deprecated ----------------------
    def check_attribute(self, node: cst.Attribute, reported_modules: set[str]) -> None:
        for old in self.qualified_names(node):
            new = self.table.get(old)
            if not new:
                continue
            module = old.rpartition(".")[0]
            if self.new_name_for(module) or old in reported_modules or module in reported_modules:
                continue  # the import that brought the module in is reported (and fixed) already
            new_module, _, new_leaf = new.rpartition(".")
            fix = None
            if self.name_free(new_leaf, new):
                fix = Fix(Applicability.SAFE, f"Use `{new}`", {node: cst.Name(new_leaf)},
                          add_imports=(ImportSpec(new_module, new_leaf),))
            self.report(node, f"deprecated session helper `{old}` (use `{new}`)", fix)
            return


def _has_comment(node: cst.CSTNode) -> bool:
    found = []

    class _Finder(cst.CSTVisitor):
        def visit_Comment(self, comment: cst.Comment) -> None:
            found.append(comment)

    visit_read_only(node, _Finder())
    return bool(found)
