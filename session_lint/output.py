"""Output formats: `text` (path:line:col: CODE message + summary) and `json` (ruff's shape)."""

from __future__ import annotations

import json
from typing import TextIO

from .diagnostics import Applicability, Diagnostic
from .rules import rule_by_code


def format_text(diagnostics: list[Diagnostic], out: TextIO) -> None:
    for d in diagnostics:
        out.write(f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}\n")


def summary(diagnostics: list[Diagnostic], fixed: int, unsafe_fixes: bool) -> str:
    """ruff-style closing line(s)."""
    remaining = len(diagnostics)
    if remaining == 0:
        return f"Found {fixed} error{'s' if fixed != 1 else ''} ({fixed} fixed, 0 remaining)." if fixed \
            else "All checks passed!"
    fixable = sum(d.is_fixable(unsafe_fixes) for d in diagnostics)
    hidden = sum(d.fix is not None and d.fix.applicability is Applicability.UNSAFE for d in diagnostics) \
        if not unsafe_fixes else 0
    total = remaining + fixed
    line = f"Found {total} error{'s' if total != 1 else ''}"
    if fixed:
        line += f" ({fixed} fixed, {remaining} remaining)."
    elif fixable:
        line += f" ({fixable} fixable with --fix)."
    else:
        line += "."
    if hidden:
        line += (f"\nNo fixes available ({hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled "
                 f"with the `--unsafe-fixes` option)." if not fixable else
                 f"\n{hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the `--unsafe-fixes` option.")
    return line


def json_record(d: Diagnostic) -> dict:
    rule = rule_by_code(d.code)
    fix = None
    if d.fix is not None:
        fix = {"applicability": d.fix.applicability.value, "message": d.fix.message, "edits": d.edits or []}
    return {
        "code": d.code,
        "message": d.message,
        "filename": d.path,
        "location": {"row": d.line, "column": d.column},
        "end_location": {"row": d.end_line, "column": d.end_column},
        "fix": fix,
        "noqa_row": d.line,
        "url": rule.url() if rule else None,
    }


def format_json(diagnostics: list[Diagnostic], out: TextIO) -> None:
    json.dump([json_record(d) for d in diagnostics], out, indent=2)
    out.write("\n")
