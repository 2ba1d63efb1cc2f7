"""session_lint/analysis/patterns.py finds what `libcst.matchers` finds, for every pattern shape the
rules use, on every node of the fixtures, the test project and the rule examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import libcst as cst
import libcst.matchers as lm
import pytest

from session_lint.analysis import patterns as pm
from session_lint.rules import all_rules

ROOT = Path(__file__).parent.parent


def shapes(m) -> dict[str, object]:
    """The pattern shapes the rules and codemod.py build, from either module."""
    call_on = m.Call(func=m.Attribute(value=m.Name("db"), attr=m.Name("commit")), args=[])
    return {
        "any name": m.Name(),
        "a name": m.Name("db"),
        "a call of a name": m.Call(func=m.Name("helper")),
        "a method call without arguments": call_on,
        "a statement of one call, awaited or not": m.SimpleStatementLine(body=[m.Expr(value=call_on | m.Await(expression=call_on))]),
        "a bare raise": m.SimpleStatementLine(body=[m.Raise(exc=None)]),
        "a raise": m.SimpleStatementLine(body=[m.Raise()]),
        "one of two names": m.Name("Exception") | m.Name("BaseException"),
        "slow statements": m.Await() | m.For() | m.While() | m.With() | m.Call(),
        "a global naming it": m.Global(names=[m.ZeroOrMore(), m.NameItem(name=m.Name("db")), m.ZeroOrMore()]),
        "assigned or bound": m.AssignTarget(target=m.Name("db")) | m.AsName(name=m.Name("db")),
        "handed over": m.Element(value=m.Name("db")) | m.Arg(value=m.Name("db")),
        "a docstring": m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())]),
        "targets": m.Attribute() | m.Subscript(),
        "a sys.path edit": m.Call(func=m.Attribute(value=m.Attribute(value=m.Name("sys"), attr=m.Name("path")),
                                                   attr=m.Name("insert") | m.Name("append"))),
        "an environment edit": m.AssignTarget(target=m.Subscript(value=m.Attribute(value=m.Name("os"),
                                                                                    attr=m.Name("environ")))),
        "comments": m.Comment(),
        "trials and returns": m.Try() | m.Return(),
    }


def sources() -> list[str]:
    files = [*(ROOT / "fixtures").rglob("*.py"), *(ROOT / "tests" / "project").rglob("*.py")]
    found = [f.read_text(encoding="utf-8") for f in files]
    found += [src for rule in all_rules() for src in (*rule.VALID, *rule.INVALID)]
    found.append("global a, db, b\nglobal db\nglobal a\ntry:\n    db.commit()  # note\nexcept (ValueError, Exception):\n"
                 "    raise\nsys.path.insert(0, '.')\nos.environ['X'] = '1'\nhelper(db)\nx = (db, 1)\n")
    return found


@pytest.mark.parametrize("shape", sorted(shapes(lm)))
def test_patterns_find_what_libcst_matchers_find(shape):
    ours, theirs = shapes(pm)[shape], shapes(lm)[shape]
    matched = 0
    for source in sources():
        module = cst.parse_module(source)
        found = pm.findall(module, ours)
        assert found == lm.findall(module, theirs), (shape, source[:200])
        for statement in module.body:
            assert pm.matches(statement, ours) == lm.matches(statement, theirs)
        matched += len(found)
    assert matched, f"no node matches {shape}: the comparison says nothing"


def test_a_lint_that_builds_fixes_does_not_import_libcst_matchers():
    # only applying a fix needs them (LibCST's codemod package imports them): a quarter of a second
    code = ("import sys\nsys.path.insert(0, 'tests')\nfrom helpers import DEFAULT_PATH, config\n"
            "from session_lint.api import lint_source\nfrom session_lint.rules import all_rules\n"
            "fixes = [d.fix for rule in all_rules() for source in rule.INVALID\n"
            "         for d in lint_source(source, str(DEFAULT_PATH), config(select=(rule.code,)))]\n"
            "assert any(fixes)\nprint('libcst.matchers' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
