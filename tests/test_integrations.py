"""flake8 plugin parity with the CLI, and the pre-commit hooks' entries run as pre-commit would."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
DEMO = ROOT / "fixtures" / "demo"


def _env() -> dict:
    # the checkout under test must win over any installed copy
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def demo(tmp_path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "app" / "noqa_case.py").write_text(
        "from core.database_manager import get_db_session  # noqa: SES004\n"
        "from core.database_manager import get_monitored_db_session  # noqa: SES001\n")
    return target


def _cli_findings(tree: Path) -> list[tuple[str, int, int, str]]:
    cli = subprocess.run([sys.executable, "-m", "session_lint", "--output-format", "json", "."],
                         cwd=tree, capture_output=True, text=True, env=_env())
    return sorted((os.path.normpath(r["filename"]), r["location"]["row"], r["location"]["column"], r["code"])
                  for r in json.loads(cli.stdout))


def _flake8_findings(tree: Path) -> list[tuple[str, int, int, str]]:
    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--select", "SES", "--format",
                             "%(path)s|%(row)d|%(col)d|%(code)s", "."],
                            cwd=tree, capture_output=True, text=True, env=_env())
    assert flake8.stderr == ""
    return sorted((os.path.normpath(p), int(r), int(c), code)
                  for p, r, c, code in (line.split("|") for line in flake8.stdout.splitlines()))


def test_flake8_reports_what_the_cli_reports(demo):
    pytest.importorskip("flake8")
    expected = _cli_findings(demo)
    assert expected  # the demo has findings, including one that survives a noqa for another code
    assert ("app/noqa_case.py", 2, 1, "SES004") in expected
    assert _flake8_findings(demo) == expected


def test_flake8_honours_exclude_and_per_file_ignores_like_the_cli(demo):
    pytest.importorskip("flake8")
    config = demo / "pyproject.toml"
    config.write_text(config.read_text().replace(
        'exclude = []\nper-file-ignores = { "scripts/*" = ["SES002"] }',
        'exclude = ["legacy", "app/generated_*.py"]\n'
        'per-file-ignores = { "scripts/*" = ["SES002"], "app/jobs/*" = ["SES004"] }'))
    global_session = "from core.database import SessionLocal\ndb = SessionLocal()\n"
    deprecated = "from core.database_manager import get_db_session\n"
    for place, text in [("legacy/old.py", global_session), ("app/generated_models.py", global_session),
                        ("app/jobs/nightly.py", deprecated + global_session), ("scripts/tool.py", global_session)]:
        (demo / place).parent.mkdir(exist_ok=True)
        (demo / place).write_text(text)
    expected = _cli_findings(demo)
    assert not [f for f in expected if f[0].startswith(("legacy/", "app/generated_", "scripts/"))]
    assert [f for f in expected if f[0] == "app/jobs/nightly.py"] == [("app/jobs/nightly.py", 3, 6, "SES002")]
    assert _flake8_findings(demo) == expected


def _hooks() -> dict:
    return {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def test_pre_commit_hooks_declaration():
    hooks = _hooks()
    assert set(hooks) == {"session-lint", "session-lint-fix"}
    for hook in hooks.values():
        assert hook["types"] == ["python"] and hook["require_serial"] is True and hook["language"] == "python"
    assert "--fix" in shlex.split(hooks["session-lint-fix"]["entry"])


def test_pre_commit_hook_entries_run_against_a_file(demo):
    target = demo / "app" / "reports.py"
    before = target.read_text()
    hooks = _hooks()

    def run_hook(hook_id: str) -> subprocess.CompletedProcess:
        # pre-commit runs `entry` with the staged file names appended
        argv = shlex.split(hooks[hook_id]["entry"])
        assert argv[0] == "session-lint"
        return subprocess.run([sys.executable, "-m", "session_lint", *argv[1:], str(target)],
                              cwd=demo, capture_output=True, text=True, env=_env())

    check = run_hook("session-lint")
    assert check.returncode == 1 and "SES004" in check.stdout
    assert target.read_text() == before
    fix = run_hook("session-lint-fix")
    assert fix.returncode == 0, fix.stdout + fix.stderr
    assert "from core.database import get_db_session" in target.read_text()
    assert run_hook("session-lint").returncode == 0
