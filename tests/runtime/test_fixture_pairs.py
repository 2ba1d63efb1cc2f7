"""Every fixture pair: lint ``before`` -> expected codes, fix -> ``after``, ``after`` is clean and stable."""

from __future__ import annotations

import pytest

from pairs import Case, case_names, drop_header, load_case

api = pytest.importorskip("session_lint.api", reason="engine API (session_lint.api) not available yet")
from session_lint.config import Config  # noqa: E402


@pytest.fixture(params=case_names())
def case(request: pytest.FixtureRequest) -> Case:
    return load_case(request.param)


@pytest.fixture
def config(case: Case) -> Config:
    return Config.discover(case.lint_path.parent)


def codes(source: str, case: Case, config: Config) -> list[str]:
    diagnostics = api.lint_source(source, str(case.lint_path), config)
    return [d.code for d in sorted(diagnostics, key=lambda d: (d.line, d.column))]


def test_before_reports_expected_codes(case, config):
    assert case.expect, "a pair without expected codes proves nothing"
    assert codes(case.before, case, config) == case.expect


def test_fix_produces_after(case, config):
    result = api.fix_source(case.before, str(case.lint_path), config, unsafe_fixes=True)
    assert result.applied > 0
    assert [d.code for d in result.remaining] == []
    # The header line differs on purpose ("# expect:" vs "# fixed:"); the rest must be identical.
    assert drop_header(result.source) == drop_header(case.after)


def test_after_is_clean(case, config):
    assert codes(case.after, case, config) == []


def test_fixing_after_changes_nothing(case, config):
    result = api.fix_source(case.after, str(case.lint_path), config, unsafe_fixes=True)
    assert result.applied == 0
    assert result.source == case.after
