"""The diagnostic model shared by rules, the engine and every output format."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Union

if TYPE_CHECKING:  # diagnostics travel through the cache and output without loading LibCST
    import libcst as cst


class Applicability(str, enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"


# A replacement for one node: a new node, `cst.RemoveFromParent()`, or a
# `cst.FlattenSentinel` of statements.
Replacement = Union["cst.CSTNode", "cst.RemovalSentinel", "cst.FlattenSentinel"]


@dataclass(frozen=True)
class ImportSpec:
    """An import a fix adds or removes: `from module import obj as asname` or `import module`."""

    module: str
    obj: str | None = None
    asname: str | None = None


@dataclass
class Fix:
    """A rewrite that resolves one diagnostic.

    `replacements` maps nodes of the module the rule saw to their replacement;
    the engine applies them in one pass, then adds/removes the listed imports
    with LibCST's AddImportsVisitor / RemoveImportsVisitor.
    """

    applicability: Applicability
    message: str
    replacements: Mapping[cst.CSTNode, Replacement] = field(default_factory=dict)
    add_imports: tuple[ImportSpec, ...] = ()
    remove_imports: tuple[ImportSpec, ...] = ()


@dataclass
class Diagnostic:
    code: str
    message: str
    path: str
    line: int  # 1-based
    column: int  # 1-based
    end_line: int
    end_column: int
    fix: Fix | None = None
    # Filled in by the engine for JSON output: the edits the fix makes.
    edits: list[dict] | None = None
    # ((line, col), (line, col)) spans of the nodes the fix rewrites; fixes
    # whose spans do not overlap are applied in the same round.
    fix_spans: list = field(default_factory=list)

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.code)

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    def is_fixable(self, unsafe: bool) -> bool:
        return self.fix is not None and (unsafe or self.fix.applicability is Applicability.SAFE)


SYNTAX_ERROR_CODE = "SES999"


def syntax_error(path: str, message: str, line: int = 1, column: int = 1) -> Diagnostic:
    """SES999: a file that cannot be read, decoded or parsed."""
    return Diagnostic(SYNTAX_ERROR_CODE, message, path, line, column, line, column)
