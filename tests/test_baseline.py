"""Baselines: known findings survive unrelated edits; new or changed ones are reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_lint.frontends.baseline import Baseline, fingerprints, write_baseline
from session_lint.frontends.cli import main
from session_lint.config import ConfigError
from session_lint.diagnostics import Diagnostic
from session_lint.frontends.output import SourceLines

OLD = "from core.database_manager import get_db_session\n"
OLD_RENAMED = "from core.database_manager import get_monitored_db_session\n"


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.session-lint]\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "jobs.py").write_text(OLD + "\n\ndef job():\n    return 1\n")
    (tmp_path / "app" / "tasks.py").write_text(OLD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_baseline_survives_lines_inserted_above_and_reports_new_findings(project):
    code, _, err = run("--write-baseline", "baseline.json", "app")
    assert code == 0 and "Wrote 2 findings to baseline.json." in err
    document = json.loads((project / "baseline.json").read_text())
    assert document["version"] == 1
    assert document["findings"] == [
        {"code": "SES004", "occurrence": 0, "path": "app/jobs.py", "text": OLD.strip()},
        {"code": "SES004", "occurrence": 0, "path": "app/tasks.py", "text": OLD.strip()},
    ]
    assert run("--baseline", "baseline.json", "app")[:2] == (0, "All checks passed!\n")

    jobs = project / "app" / "jobs.py"
    jobs.write_text('"""Docstring."""\nimport os\n\n\n' + jobs.read_text())  # the finding moves down 4 lines
    assert run("--baseline", "baseline.json", "app")[0] == 0

    jobs.write_text(jobs.read_text() + "\n" + OLD_RENAMED)  # a new finding
    code, out, _ = run("--baseline", "baseline.json", "--output-format", "concise", "app")
    assert code == 1
    assert out.splitlines()[0].startswith("app/jobs.py:11:1: SES004 ")
    assert out.splitlines()[1] == "Found 1 error (1 fixable with --fix)."


def test_changed_line_and_extra_identical_finding_are_new(project):
    run("--write-baseline", "baseline.json", "app")
    tasks = project / "app" / "tasks.py"
    tasks.write_text(OLD + "def f():\n    " + OLD)  # a second identical import, indented
    code, out, _ = run("--baseline", "baseline.json", "--output-format", "concise", "app")
    assert code == 1 and out.count("SES004") == 1 and "app/tasks.py:3:5:" in out
    tasks.write_text(OLD.replace("import get_db_session", "import  get_db_session as s"))
    code, out, _ = run("--baseline", "baseline.json", "--output-format", "concise", "app")
    assert code == 1 and "app/tasks.py:1:1:" in out


def test_whitespace_only_changes_keep_the_match(project):
    run("--write-baseline", "baseline.json", "app")
    (project / "app" / "tasks.py").write_text(OLD.replace(" import ", "  import   ").rstrip() + "   \n")
    assert run("--baseline", "baseline.json", "app")[0] == 0


def test_baseline_file_is_stable(project):
    run("--write-baseline", "a.json", "app")
    (project / "app" / "jobs.py").write_text("\n\n" + (project / "app" / "jobs.py").read_text())
    run("--write-baseline", "b.json", "app")
    assert (project / "a.json").read_bytes() == (project / "b.json").read_bytes()


def test_paths_are_relative_to_the_baseline_file(project, monkeypatch):
    (project / "ci").mkdir()
    run("--write-baseline", "ci/baseline.json", "app")
    assert json.loads((project / "ci" / "baseline.json").read_text())["findings"][0]["path"] == "../app/jobs.py"
    monkeypatch.chdir(project / "app")
    assert run("--baseline", "../ci/baseline.json", ".")[0] == 0  # run from elsewhere, same matches


def test_occurrence_index_follows_position():
    sources = SourceLines()
    sources.register("m.py", "x()\nx()\n")
    first, second = (Diagnostic("SES001", "m", "m.py", n, 1, n, 4) for n in (1, 2))
    keys = fingerprints([second, first], sources, Path.cwd())
    assert [k[3] for k in keys] == [1, 0]


@pytest.mark.parametrize("content, message", [
    ("not json", "is not valid JSON"),
    ('{"version": 99, "findings": []}', "unsupported version 99"),
    ('{"version": 1, "findings": {}}', "'findings' must be a list"),
    ('{"version": 1, "findings": [{"path": "a"}]}', "malformed finding"),
])
def test_bad_baseline_is_a_one_line_error(project, content, message):
    (project / "baseline.json").write_text(content)
    with pytest.raises(ConfigError, match=message):
        Baseline.load(project / "baseline.json")
    code, out, err = run("--baseline", "baseline.json", "app")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_baseline_and_conflicting_options(project):
    code, _, err = run("--baseline", "missing.json", "app")
    assert code == 2 and "cannot read baseline missing.json" in err
    code, _, err = run("--baseline", "a.json", "--write-baseline", "b.json", "app")
    assert code == 2 and "cannot be combined" in err


def test_unwritable_baseline(project):
    with pytest.raises(ConfigError, match="cannot write baseline"):
        write_baseline(project / "no" / "such" / "dir.json", [], SourceLines())
