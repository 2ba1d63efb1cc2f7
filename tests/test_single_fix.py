"""`engine.linter.single_fix`, the language server's quick fix: the text one diagnostic's fix makes, which is
what `session-lint --fix` (with `--unsafe-fixes` for an unsafe fix) writes when that fix is the file's
only one. Checked on every fixture case and rule example with a single fix, and for the refusals
`fix_source` makes (a fix that would add a finding is not offered)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "runtime"))

from helpers import DEFAULT_PATH, config  # noqa: E402
from pairs import case_names, drop_header, load_case  # noqa: E402
from session_lint.config import Config  # noqa: E402
from session_lint.diagnostics import Applicability  # noqa: E402
from session_lint.engine.linter import fix_source, run_rules, single_fix  # noqa: E402
from session_lint.rules import all_rules  # noqa: E402


def check_single_fix(source: str, path: str, cfg: Config) -> int:
    """Assert single_fix == fix_source for the file's only fix; 1 when it had exactly one."""
    run = run_rules(source, path, cfg)
    fixable = [d for d in run.diagnostics if d.fix is not None]
    if len(fixable) != 1:
        return 0
    [diagnostic] = fixable
    unsafe = diagnostic.fix.applicability is Applicability.UNSAFE
    expected = fix_source(source, path, cfg, unsafe_fixes=unsafe).source
    assert single_fix(run, diagnostic, cfg) == (expected if expected != source else None)
    return 1


EXAMPLES = [(f"{rule.code}-{index}", source) for rule in all_rules() for index, source in enumerate(rule.INVALID)]


def test_every_single_fix_fixture_case_and_rule_example():
    checked = []
    for name in case_names():
        case = load_case(name)
        if check_single_fix(drop_header(case.before), str(case.lint_path), Config.discover(case.lint_path.parent)):
            checked.append(name)
    for name, source in EXAMPLES:
        if check_single_fix(source, str(DEFAULT_PATH), config()):
            checked.append(name)
    assert len(checked) >= 20, checked  # (26 when written: every fixture case, 8 rule examples)


def test_a_fix_that_adds_a_finding_is_not_offered(monkeypatch):
    source = "from core.database_manager import get_db_session\n"
    run = run_rules(source, str(DEFAULT_PATH), config())
    [diagnostic] = run.diagnostics
    assert single_fix(run, diagnostic, config()) == "from core.database import get_db_session\n"
    # the fixed text made to hold a new finding (a second deprecated import): fix_source refuses
    # such a fix, and so does single_fix
    from session_lint.engine import linter as engine

    original = engine.fixed_text
    monkeypatch.setattr(engine, "fixed_text", lambda run, d: original(run, d) + source.replace(
        "get_db_session", "get_monitored_db_session"))
    assert single_fix(run, diagnostic, config()) is None
