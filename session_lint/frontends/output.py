"""Output formats: text (ruff-style, with source snippets), concise, json (ruff's shape), SARIF 2.1.0,
GitHub annotations, and `--statistics`.

`text` shows each finding like ruff's full output: the `path:line:col: CODE message`
line, then the offending source line(s) with carets under the range (coloured only
on a terminal without NO_COLOR). `concise` is the first line alone.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Callable, TextIO
from urllib.parse import quote

from .. import __version__
from ..diagnostics import SYNTAX_ERROR_CODE, Applicability, Diagnostic
from ..rules import all_rules, docs_url, rule_names

INFORMATION_URI = "https://github.com/session-lint/session-lint"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


# -- source lines ----------------------------------------------------------------------

class SourceLines:
    """The current text of linted files, read on demand (stdin text is registered)."""

    def __init__(self) -> None:
        self._texts: dict[str, list[str] | None] = {}

    def register(self, path: str, text: str) -> None:
        self._texts[path] = text.splitlines()

    def lines(self, path: str) -> list[str] | None:
        if path not in self._texts:
            from ..sourcefile import (  # late: only text/baseline output needs it
                Source,
                SourceError,
            )
            try:
                self._texts[path] = Source.read(path).text.splitlines()
            except SourceError:
                self._texts[path] = None
        return self._texts[path]

    def line(self, path: str, number: int) -> str | None:
        lines = self.lines(path)
        return lines[number - 1] if lines is not None and 0 < number <= len(lines) else None


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _style(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color and text else text


MAX_SNIPPET_LINES = 6


def format_full(diagnostics: list[Diagnostic], out: TextIO, sources: SourceLines,
                color: bool = False) -> None:
    """ruff's full output: the SPEC's first line, then the source with carets under the range."""
    for d in diagnostics:
        out.write(f"{_style(d.path, '1', color)}:{d.line}:{d.column}: "
                  f"{_style(d.code, '1;31', color)} {d.message}\n")
        snippet = _snippet(d, sources, color)
        if snippet:
            out.write(snippet)
        out.write("\n")


def _snippet(d: Diagnostic, sources: SourceLines, color: bool) -> str:
    last = min(max(d.end_line, d.line), d.line + MAX_SNIPPET_LINES - 1)
    lines = [(n, sources.line(d.path, n)) for n in range(d.line, last + 1)]
    if lines[0][1] is None:
        return ""
    lines = [(n, text) for n, text in lines if text is not None]
    width = len(str(lines[-1][0]))
    gutter = _style(" " * width + " |", "1;34", color)
    rows = [gutter]
    for n, text in lines:
        rows.append(f"{_style(str(n).rjust(width) + ' |', '1;34', color)} {text.expandtabs(4)}")
        if n == d.line:
            start = len(text[: d.column - 1].expandtabs(4))
            end_text = text[: d.end_column - 1] if d.end_line == d.line else text.rstrip()
            end = max(len(end_text.expandtabs(4)), start + 1)
            carets = _style("^" * (end - start) + " " + d.code, "1;31", color)
            rows.append(f"{gutter} {' ' * start}{carets}")
    rows.append(gutter)
    if d.fix is not None:
        rows.append(f"{' ' * width} = {_style('help', '1;36', color)}: {d.fix.message}")
    return "\n".join(rows) + "\n"


def format_concise(diagnostics: list[Diagnostic], out: TextIO) -> None:
    for d in diagnostics:
        out.write(f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}\n")


# -- --statistics ---------------------------------------------------------------------

def statistics(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> list[dict]:
    """Counts per code, most frequent first (ruff's `--statistics`)."""
    counts = Counter(d.code for d in diagnostics)
    rows = []
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        found = [d for d in diagnostics if d.code == code]
        name = rule_names().get(code)  # (the rules' names without loading them: a warm run needs no LibCST)
        rows.append({
            "code": code,
            "name": name if name else ("syntax-error" if code == SYNTAX_ERROR_CODE else ""),
            "count": count,
            "fixable": any(d.is_fixable(unsafe_fixes) for d in found),
            "unsafe_fixable": not unsafe_fixes and any(
                d.fix is not None and d.fix.applicability is Applicability.UNSAFE for d in found),
        })
    return rows


def format_statistics(diagnostics: list[Diagnostic], out: TextIO, unsafe_fixes: bool,
                      as_json: bool = False) -> None:
    rows = statistics(diagnostics, unsafe_fixes)
    if as_json:
        json.dump([{k: r[k] for k in ("code", "name", "count", "fixable")} for r in rows], out, indent=2)
        out.write("\n")
        return
    width = max((len(str(r["count"])) for r in rows), default=1)
    for r in rows:
        marker = "[*]" if r["fixable"] else "[-]" if r["unsafe_fixable"] else "[ ]"
        out.write(f"{str(r['count']).rjust(width)}\t{r['code']}\t{marker} {r['name']}\n")


# -- GitHub workflow commands ---------------------------------------------------------

def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github_annotation(d: Diagnostic) -> str:
    name = rule_names().get(d.code)
    title = f"{d.code} {name}" if name else d.code
    props = [("file", d.path), ("line", d.line), ("col", d.column),
             ("endLine", d.end_line), ("endColumn", d.end_column), ("title", title)]
    joined = ",".join(f"{key}={_escape_property(str(value))}" for key, value in props)
    return f"::error {joined}::{_escape_data(d.message)}"


def format_github(diagnostics: list[Diagnostic], out: TextIO) -> None:
    for d in diagnostics:
        out.write(github_annotation(d) + "\n")


# -- SARIF 2.1.0 ------------------------------------------------------------------------

def _rule_descriptor(rule) -> dict:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _first_section(rule.docs)},
        "help": {"text": rule.docs, "markdown": rule.docs},
        "helpUri": rule.url(),
        "defaultConfiguration": {"level": "error"},
        "properties": {"fix": rule.fix_availability, "tags": ["sqlalchemy", "session"]},
    }


_SYNTAX_RULE = {
    "id": SYNTAX_ERROR_CODE,
    "name": "syntax-error",
    "shortDescription": {"text": "File could not be read or parsed"},
    "fullDescription": {"text": "session-lint could not read, decode or parse this file, so no rule ran on it."},
    "defaultConfiguration": {"level": "error"},
}


def _first_section(docs: str) -> str:
    """The text of `## What it does` (SARIF's fullDescription is plain text)."""
    body = docs.split("## What it does", 1)[-1]
    return " ".join(body.split("\n## ", 1)[0].split()) or docs.strip()


def _uri(path: str, base: Path) -> tuple[str, bool]:
    """(uri, relative to %SRCROOT%?) for a diagnostic path."""
    p = Path(path)
    try:
        rel = p.resolve().relative_to(base.resolve()) if p.is_absolute() else p
        return quote(rel.as_posix()), True
    except ValueError:
        return p.resolve().as_uri(), False


def _region(start_line: int, start_col: int, end_line: int, end_col: int) -> dict:
    return {"startLine": start_line, "startColumn": start_col, "endLine": end_line, "endColumn": end_col}


def _location(uri: str, relative: bool) -> dict:
    location = {"uri": uri}
    if relative:
        location["uriBaseId"] = "%SRCROOT%"
    return location


def sarif_log(diagnostics: list[Diagnostic], base: Path | None = None,
              fingerprint: Callable[[Diagnostic], str | None] | None = None) -> dict:
    """A SARIF 2.1.0 log (as GitHub code scanning reads it) for `diagnostics`."""
    base = base or Path.cwd()
    rules = [_rule_descriptor(rule) for rule in all_rules()]
    if any(d.code == SYNTAX_ERROR_CODE for d in diagnostics):
        rules.append(_SYNTAX_RULE)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for d in diagnostics:
        uri, relative = _uri(d.path, base)
        result = {
            "ruleId": d.code,
            "level": "error",
            "message": {"text": d.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": _location(uri, relative),
                "region": _region(d.line, d.column, d.end_line, d.end_column),
            }}],
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.fix is not None and d.edits:
            result["fixes"] = [{
                "description": {"text": f"{d.fix.message} ({d.fix.applicability.value} fix)"},
                "artifactChanges": [{
                    "artifactLocation": _location(uri, relative),
                    "replacements": [{
                        "deletedRegion": _region(e["location"]["row"], e["location"]["column"],
                                                 e["end_location"]["row"], e["end_location"]["column"]),
                        "insertedContent": {"text": e["content"]},
                    } for e in d.edits],
                }],
            }]
        if fingerprint is not None and (value := fingerprint(d)):
            result["partialFingerprints"] = {"sessionLint/v1": value}
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "session-lint",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": base.resolve().as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def format_sarif(diagnostics: list[Diagnostic], out: TextIO, base: Path | None = None,
                 fingerprint: Callable[[Diagnostic], str | None] | None = None) -> None:
    json.dump(sarif_log(diagnostics, base, fingerprint), out, indent=2)
    out.write("\n")


# -- summary line and JSON -------------------------------------------------------------

ALL_PASSED = "All checks passed!"


def summary(diagnostics: list[Diagnostic], fixed: int, unsafe_fixes: bool) -> str:
    """ruff-style closing line(s)."""
    remaining = len(diagnostics)
    if remaining == 0:
        return f"Found {fixed} error{'s' if fixed != 1 else ''} ({fixed} fixed, 0 remaining)." if fixed \
            else ALL_PASSED
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
    name = rule_names().get(d.code)
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
        "url": docs_url(d.code, name) if name else None,
    }


def format_json(diagnostics: list[Diagnostic], out: TextIO) -> None:
    json.dump([json_record(d) for d in diagnostics], out, indent=2)
    out.write("\n")
