"""SARIF 2.1.0 output, validated against the official OASIS schema (tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from session_lint.frontends.cli import main
from session_lint.diagnostics import Applicability, Diagnostic, Fix
from session_lint.frontends.output import sarif_log
from session_lint.rules import all_rules

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
DEPRECATED = "from core.database_manager import get_db_session\n\n\ndef job():\n    with get_db_session() as db:\n        return db\n"


def validate(log: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(log)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "database.py").write_text("def get_db_session(): ...\n")
    (tmp_path / "pyproject.toml").write_text("[tool.session-lint]\n")
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "job.py").write_text(DEPRECATED)
    (tmp_path / "jobs" / "broken.py").write_text("from core.database import get_db_session\ndef f(:\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_sarif(*args) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["--output-format", "sarif", *map(str, args)], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def test_cli_sarif_is_valid_and_complete(project):
    code, log = run_sarif("jobs")
    assert code == 1
    validate(log)
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "session-lint"
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == [rule.code for rule in all_rules()] + ["SES999"]
    ses004 = driver["rules"][ids.index("SES004")]
    assert ses004["name"] == "deprecated-session-import"
    assert ses004["shortDescription"]["text"]
    assert ses004["fullDescription"]["text"].startswith("Checks for imports")
    assert "## Why is this bad?" in ses004["help"]["markdown"]
    assert ses004["helpUri"].endswith("docs/rules.md#ses004-deprecated-session-import")

    by_rule = {r["ruleId"]: r for r in run["results"]}
    result = by_rule["SES004"]
    assert driver["rules"][result["ruleIndex"]]["id"] == "SES004"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "jobs/job.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 49}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    (fix,) = result["fixes"]
    assert fix["description"]["text"].endswith("(safe fix)")
    (change,) = fix["artifactChanges"]
    assert change["replacements"][0] == {
        "deletedRegion": {"startLine": 1, "startColumn": 1, "endLine": 2, "endColumn": 1},
        "insertedContent": {"text": "from core.database import get_db_session\n"},
    }
    assert len(result["partialFingerprints"]["sessionLint/v1"]) == 32
    assert "fixes" not in by_rule["SES999"]  # parse errors: reported, nothing to fix


def test_clean_run_is_valid_with_no_results(project):
    (project / "jobs" / "job.py").write_text("x = 1\n")
    (project / "jobs" / "broken.py").unlink()
    code, log = run_sarif("jobs")
    assert code == 0
    validate(log)
    assert log["runs"][0]["results"] == []


def test_paths_outside_the_working_directory_are_file_uris(tmp_path):
    outside = tmp_path / "elsewhere" / "a b.py"
    d = Diagnostic("SES004", "m", str(outside), 2, 3, 2, 9,
                   fix=Fix(Applicability.UNSAFE, "do it"),
                   edits=[{"content": "", "location": {"row": 2, "column": 1},
                           "end_location": {"row": 3, "column": 1}}])
    log = sarif_log([d], base=tmp_path / "project")
    validate(log)
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": outside.as_uri()}
    fix = log["runs"][0]["results"][0]["fixes"][0]
    assert fix["description"]["text"] == "do it (unsafe fix)"


def test_relative_paths_are_percent_encoded(tmp_path):
    d = Diagnostic("SES004", "m", "dir with space/mod#1.py", 1, 1, 1, 2)
    log = sarif_log([d], base=tmp_path)
    validate(log)
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] \
        == "dir%20with%20space/mod%231.py"


def test_the_schema_check_rejects_a_broken_log():
    with pytest.raises(jsonschema.ValidationError):
        validate({"version": "2.1.0", "runs": [{"results": []}]})  # a run needs its tool
    log = sarif_log([Diagnostic("SES004", "m", "a.py", 0, 1, 1, 2)])  # lines are 1-based
    with pytest.raises(jsonschema.ValidationError):
        validate(log)
