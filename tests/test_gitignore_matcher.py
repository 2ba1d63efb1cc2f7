"""discovery.gitignore_matcher answers exactly as pathspec's GitIgnoreSpec (it joins pathspec's regexes)."""

from __future__ import annotations

import itertools

import pathspec
import pytest

from session_lint.discovery import gitignore_matcher

PYTHON_TEMPLATE = """
# Byte-compiled / optimized / DLL files
__pycache__/
*.py[cod]
*$py.class
build/
develop-eggs/
/dist/
.eggs/
lib64/
*.egg-info/
.installed.cfg
htmlcov/
.tox/
.coverage.*
nosetests.xml
*.cover
docs/_build/
.ipynb_checkpoints
.env
venv/
/site
src/**/generated
**/fixtures/*.json
migrations/versions/[0-9]*.py
foo\\ bar
\\#hash
secret?.py
"""
NEGATING = PYTHON_TEMPLATE + "!keep.py\n*.log\n!important.log\nsrc/app/\n!src/app/main.py\n"

PARTS = ["src", "app", "docs", "_build", "build", "dist", "site", "generated", "fixtures", "migrations",
         "versions", "venv", "keep.py", "main.py", "x.pyc", "a.json", "0001_init.py", "foo bar",
         "#hash", "secret1.py", "secret12.py", "important.log", "debug.log", ".env", "lib64"]


def paths() -> list[str]:
    found = []
    for depth in (1, 2, 3):
        for combo in itertools.product(PARTS if depth < 3 else PARTS[:12], repeat=depth):
            rel = "/".join(combo)
            found += [rel, rel + "/"]
    return found


@pytest.mark.parametrize("text", [PYTHON_TEMPLATE, NEGATING, "", "# only a comment\n", "!nothing\n"])
def test_same_answers_as_pathspec(text):
    lines = text.splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    matches = gitignore_matcher(lines)
    answers = {rel: matches(rel) for rel in paths()}
    assert [rel for rel, ignored in answers.items() if bool(spec.match_file(rel)) != ignored] == []
    if "keep.py" in text:  # the negations are exercised both ways
        assert matches("src/keep.py") is False and matches("src/x.pyc") is True
        assert matches("src/app/main.py") is False and matches("src/app/x.py") is True
