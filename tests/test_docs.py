"""Rule documentation: every rule documents every section; docs/rules.md is up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from session_lint.frontends.cli import main
from session_lint.frontends.docs import SECTIONS, explain, missing_sections, rules_markdown
from session_lint.rules import all_rules

RULES_MD = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_every_rule_has_all_doc_sections_in_order(rule):
    assert missing_sections(rule) == []
    positions = [rule.docs.index(f"## {section}\n") for section in SECTIONS]
    assert positions == sorted(positions)
    assert rule.summary and "\n" not in rule.summary
    assert rule.fix_availability in ("safe", "unsafe", "sometimes", "none")


def test_missing_sections_are_named():
    class Partial:
        docs = "## What it does\nx\n## Example\n```python\n## not a heading\n```\n"
    assert missing_sections(Partial) == ["Why is this bad?", "Use instead", "Fix safety", "Options",
                                         "References"]


def test_committed_rules_md_is_up_to_date():
    assert RULES_MD.read_text(encoding="utf-8") == rules_markdown(), \
        "regenerate with: python -m session_lint.frontends.docs > docs/rules.md"


def test_rules_md_links_match_rule_urls():
    text = rules_markdown()
    for rule in all_rules():
        anchor = rule.url().rsplit("#", 1)[1]
        assert f"(#{anchor})" in text
        assert f"\n## {rule.code} {rule.name}\n" in text  # GitHub derives `anchor` from this heading
        assert "\n### What it does\n" in text


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_explain_prints_header_and_full_docs(rule):
    result = CliRunner().invoke(main, ["--explain", rule.code.lower()])
    assert result.exit_code == 0
    assert result.stdout == explain(rule)
    assert result.stdout.startswith(f"# {rule.name} ({rule.code})\n\nFix is ")
    assert rule.docs.strip() in result.stdout


def test_explain_unknown_code_is_a_one_line_error():
    result = CliRunner().invoke(main, ["--explain", "SES123"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "session-lint: error: unknown rule 'SES123' (see `session-lint --list-rules`)"]
