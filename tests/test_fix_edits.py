"""JSON/SARIF edits are computed from each fix's own nodes (session_lint/edits.py), not by applying
the fix to the whole module: applied to the source, they must give exactly what the whole-module
path (`apply_fixes` for that one diagnostic) gives, on every fixture case and rule example."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "runtime"))

from helpers import DEFAULT_PATH, config  # noqa: E402
from pairs import case_names, drop_header, load_case  # noqa: E402
from session_lint import edits  # noqa: E402
from session_lint.config import Config  # noqa: E402
from session_lint.engine import apply_fixes, fix_edits, run_rules, whole_module_edits  # noqa: E402
from session_lint.rules import all_rules  # noqa: E402


def apply_edits(source: str, changes: list[dict]) -> str:
    """Apply ruff-shaped edits (1-based rows and columns, non-overlapping) to `source`."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(location: dict) -> int:
        row, column = location["row"], location["column"]
        return (starts[row - 1] if row - 1 < len(starts) else len(source)) + column - 1

    out, at = [], 0
    for edit in sorted(changes, key=lambda e: (e["location"]["row"], e["location"]["column"])):
        start, end = offset(edit["location"]), offset(edit["end_location"])
        assert start >= at, "overlapping edits"
        out.append(source[at:start])
        out.append(edit["content"])
        at = end
    out.append(source[at:])
    return "".join(out)


def whole_module_text(run, diagnostic) -> str:
    tree, _ = apply_fixes(run.module, [diagnostic], diagnostic.path)
    return tree.code


def check_every_fix(source: str, path: str, cfg: Config) -> tuple[int, int]:
    """(fixes, fixes the node path computed itself); asserts each fix's edits are exact."""
    run = run_rules(source, path, cfg)
    fixes = computed = 0
    for diagnostic in run.diagnostics:
        if diagnostic.fix is None:
            continue
        fixes += 1
        expected = whole_module_text(run, diagnostic)
        assert apply_edits(source, fix_edits(run, diagnostic)) == expected
        assert apply_edits(source, whole_module_edits(run, diagnostic)) == expected
        try:
            text = edits.fixed_text(edits.spans_for(run.module, source), diagnostic)
        except edits.Unsupported:
            continue
        assert text == expected, (diagnostic.code, diagnostic.line)
        computed += 1
    return fixes, computed


@pytest.mark.parametrize("name", case_names())
def test_fixture_case_edits_equal_the_whole_module_fix(name):
    case = load_case(name)
    source = drop_header(case.before)
    fixes, computed = check_every_fix(source, str(case.lint_path), Config.discover(case.lint_path.parent))
    assert fixes > 0
    assert computed == fixes  # none of the fixtures needs the whole-module path


EXAMPLES = [pytest.param(source, id=f"{rule.code}-{index}") for rule in all_rules()
            for index, source in enumerate(rule.INVALID)]


@pytest.mark.parametrize("source", EXAMPLES)
def test_rule_example_edits_equal_the_whole_module_fix(source):
    check_every_fix(source, str(DEFAULT_PATH), config())
