"""JSON/SARIF edits are computed from each fix's own nodes (session_lint/engine/edits.py), not by applying
the fix to the whole module: applied to the source, they must give exactly what the whole-module
path (`apply_fixes` for that one diagnostic) gives, on every fixture case and rule example."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "runtime"))

from helpers import DEFAULT_PATH, config  # noqa: E402
from pairs import case_names, drop_header, load_case  # noqa: E402
from session_lint.engine import edits  # noqa: E402
from session_lint.config import Config  # noqa: E402
from session_lint.engine.linter import apply_fixes, fix_edits, run_rules, whole_module_edits  # noqa: E402
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


# Shapes the node path must get exactly right: blocks emptied by a removal, statements turned into
# several, `elif`, arguments' commas, CRLF and tab indentation, imports added after a docstring or a
# comment, an import left unused, a function that imports the name itself, a big class.
HEADER = "from core.database import SessionLocal, get_db_session, get_db\nfrom fastapi import Depends\n"
SHAPES = {
    "route": HEADER + (
        "@router.get('/')\n"
        "def route(db: Session = Depends(get_db)):\n"
        "    with get_db_session() as inner:\n"
        "        return inner.query(User).all()\n"),
    "route-elif": HEADER + (
        "@router.get('/')\n"
        "def route(x, db: Session = Depends(get_db)):\n"
        "    if x:\n        pass\n"
        "    elif x > 1:\n"
        "        with get_db_session() as inner:\n"
        "            inner.query(User).all()\n"),
    "try-finally": HEADER + (
        "def load(uid):\n    db = SessionLocal()\n    try:\n        return db.get(User, uid)\n"
        "    finally:\n        db.close()\n"),
    "never-closed": HEADER + "def f():\n    db = SessionLocal()\n    db.query(User).all()\n",
    "global": HEADER + "db = SessionLocal()\n\ndef f():\n    return db.query(User).all()\n",
    "detached": HEADER + (
        "def detached(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
        "    return user.email\n"),
    "deprecated": '"""Docstring."""\n# a comment\nfrom core.database_manager import get_db_session as legacy\n'
                  "\n\ndef f():\n    with legacy() as db:\n        db.query(User).all()\n",
    "deprecated-alias": "import core.database_manager as dm\n\n\ndef f():\n    with dm.get_db_session() as db:\n"
                        "        db.query(User).all()\n",
    "crlf-tabs": HEADER.replace("\n", "\r\n") + "def f():\r\n\tdb = SessionLocal()\r\n\ttry:\r\n"
                 "\t\treturn db.get(User, 1)\r\n\tfinally:\r\n\t\tdb.close()\r\n",
    "only-use": "import os\nfrom core.database import SessionLocal\n\nX = 1\n\n\ndef f(uid):\n"
                "    db = SessionLocal()\n    try:\n        return db.get(User, uid)\n    finally:\n"
                "        db.close()\n",
    "no-final-newline": HEADER + "def f(uid):\n    db = SessionLocal()\n    try:\n        return db.get(User, uid)\n"
                        "    finally:\n        db.close()\n\n\nX = 1",
    "no-final-newline-at-end": HEADER + "def f(uid):\n    db = SessionLocal()\n    try:\n"
                               "        return db.get(User, uid)\n    finally:\n        db.close()",
    "top-and-own-import": "from core.database import SessionLocal\n\n\nclass S:\n    def f(self, uid):\n"
                          "        from core.database import SessionLocal\n        # SessionLocal here is its own\n"
                          "        with SessionLocal() as db:\n            return db.get(User, uid)\n\n"
                          "    def g(self):\n        from core.database import SessionLocal\n"
                          "        return SessionLocal\n",
    "own-import": "def f(uid):\n    from core.database import SessionLocal\n    db = SessionLocal()\n"
                  "    try:\n        return db.get(User, uid)\n    finally:\n        db.close()\n",
    "big-class": HEADER + "\n\nclass Service:\n" + "".join(
        f"    def m{i}(self, uid):\n        db = SessionLocal()\n        try:\n"
        f"            return db.get(User, uid + {i})\n        finally:\n            db.close()\n\n"
        for i in range(8)),
}


@pytest.mark.parametrize("name", SHAPES)
def test_shape_edits_equal_the_whole_module_fix(name):
    fixes, computed = check_every_fix(SHAPES[name], str(DEFAULT_PATH), config())
    assert fixes > 0


def test_the_node_path_computes_the_common_shapes_itself():
    """The fast path is really taken (not the fallback) where it should be."""
    for name in ("route", "try-finally", "global", "detached", "big-class", "crlf-tabs", "only-use",
                 "no-final-newline", "top-and-own-import"):
        fixes, computed = check_every_fix(SHAPES[name], str(DEFAULT_PATH), config())
        assert computed == fixes, name


def test_an_import_left_unused_is_removed_by_the_edits():
    run = run_rules(SHAPES["only-use"], str(DEFAULT_PATH), config())
    [diagnostic] = [d for d in run.diagnostics if d.fix is not None]
    fixed = apply_edits(SHAPES["only-use"], fix_edits(run, diagnostic))
    assert "SessionLocal" not in fixed
    assert fixed.startswith("import os\nfrom core.database import get_db_session\n\nX = 1\n")


def test_a_function_importing_the_name_itself_loses_that_import_with_its_last_use():
    run = run_rules(SHAPES["own-import"], str(DEFAULT_PATH), config())
    [diagnostic] = [d for d in run.diagnostics if d.fix is not None]
    text = edits.fixed_text(edits.spans_for(run.module, SHAPES["own-import"]), diagnostic)
    assert text == whole_module_text(run, diagnostic)
    assert "SessionLocal" not in text


def test_a_fix_whose_rewrite_names_the_removed_import_still_gets_exact_edits():
    """SES002 on a module-level session: its rewrite names the factory again (the node path cannot
    tell whether the import stays)."""
    source = "from core.database import SessionLocal\n\ndb = SessionLocal()\n\n\ndef f():\n" \
             "    return db.query(User).all()\n\n\ndef g():\n    return SessionLocal\n"
    run = run_rules(source, str(DEFAULT_PATH), config())
    for diagnostic in (d for d in run.diagnostics if d.fix is not None):
        assert apply_edits(source, fix_edits(run, diagnostic)) == whole_module_text(run, diagnostic)


def test_text_edits_rebuild_the_new_text_exactly():
    """The line diff (only the span between the first and last difference is diffed) on random
    small texts: with and without a final newline, insertions, deletions, repeated lines."""
    import random

    rng = random.Random(7)
    for _ in range(2000):
        old = "".join(rng.choice(["a\n", "b\n", "\n", "dd\n"]) for _ in range(rng.randint(0, 12)))
        if old and rng.random() < 0.2:
            old = old[:-1]
        new = list(old)
        for _ in range(rng.randint(0, 4)):
            at = rng.randint(0, len(new))
            if rng.random() < 0.5:
                new.insert(at, rng.choice("ab\n"))
            elif at < len(new):
                del new[at]
        new = "".join(new)
        changes = edits.text_edits(old, new)
        assert apply_edits(old, changes) == new, (old, new, changes)
        assert (changes == []) == (old == new)


def test_text_edits_are_whole_lines_at_their_rows():
    assert edits.text_edits("a\nb\nc\n", "a\nB\nc\n") == [
        {"content": "B\n", "location": {"row": 2, "column": 1}, "end_location": {"row": 3, "column": 1}}]
    assert edits.text_edits("a\nb\n", "a\nb\nc\n") == [
        {"content": "c\n", "location": {"row": 3, "column": 1}, "end_location": {"row": 3, "column": 1}}]
