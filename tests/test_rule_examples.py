"""Every rule's own documentation examples behave as documented: each of its `INVALID` sources
is flagged by the rule and none of its `VALID` ones is (linted as `app/module.py` of the test
project, whose `core/database.py` is the reference session module)."""

from __future__ import annotations

import pytest

from helpers import DEFAULT_PATH, config
from session_lint.api import lint_source
from session_lint.rules import all_rules

EXAMPLES = [pytest.param(rule.code, kind, source, id=f"{rule.code}-{kind}-{index}") for rule in all_rules()
            for kind, sources in (("INVALID", rule.INVALID), ("VALID", rule.VALID))
            for index, source in enumerate(sources)]


def test_every_rule_has_valid_and_invalid_examples():
    assert [rule.code for rule in all_rules() if not (rule.VALID and rule.INVALID)] == []


@pytest.mark.parametrize("code, kind, source", EXAMPLES)
def test_rule_flags_its_invalid_examples_and_not_its_valid_ones(code, kind, source):
    # an opt-in rule (SES015) is checked when named by its full code
    flagged = [d.line for d in lint_source(source, str(DEFAULT_PATH), config(extend_select=(code,))) if d.code == code]
    assert bool(flagged) == (kind == "INVALID"), source
