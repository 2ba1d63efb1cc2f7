"""The command line end to end: exit codes, formats, fixes on disk, bad input."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_lint.cli import main
from session_lint.rules import rule_codes

DEMO = Path(__file__).parent.parent / "fixtures" / "demo"
DEPRECATED = "from core.database_manager import get_db_session\n\n\ndef job():\n    with get_db_session() as db:\n        return db\n"


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def demo(tmp_path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def project(tmp_path) -> Path:
    """A tiny project: core/database.py + a pyproject with [tool.session-lint]."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "database.py").write_text("def get_db_session(): ...\ndef get_db(): ...\n")
    (tmp_path / "pyproject.toml").write_text("[tool.session-lint]\n")
    return tmp_path


def test_demo_reports_ses004_then_fix_is_stable_and_clean(demo):
    code, out, _ = run(demo)
    assert code == 1
    lines = [line for line in out.splitlines() if ": SES" in line]
    assert len(lines) >= 4 and all(": SES004 " in line for line in lines if "SES004" in line)
    assert any(line.startswith(f"{demo / 'app' / 'reports.py'}:8:1: SES004 ") for line in lines)
    assert "fixable with --fix)." in out  # SES001-SES003 findings add an unsafe-fixes hint after it

    code, out, _ = run("--fix", demo)
    assert "fixed" in out
    snapshot = {p: p.read_bytes() for p in demo.rglob("*.py")}
    code, out, _ = run("--fix", demo)
    assert {p: p.read_bytes() for p in demo.rglob("*.py")} == snapshot  # second --fix changes nothing
    code, out, _ = run("--select", "SES004", demo)
    assert (code, out.strip()) == (0, "All checks passed!")


def test_text_format_and_summary(project):
    (project / "job.py").write_text(DEPRECATED)
    code, out, _ = run("--output-format", "concise", project / "job.py")
    assert code == 1
    first = (f"{project / 'job.py'}:1:1: SES004 deprecated session import `core.database_manager.get_db_session` "
             "(use `core.database.get_db_session`)")
    assert out.splitlines() == [first, "Found 1 error (1 fixable with --fix)."]
    code, out, _ = run(project / "job.py")  # text: the same first line, then the source (ruff's full output)
    assert code == 1
    assert out.splitlines()[0] == first and out.splitlines()[-1] == "Found 1 error (1 fixable with --fix)."


def test_json_format_has_ruffs_shape(project):
    (project / "job.py").write_text(DEPRECATED)
    code, out, _ = run("--output-format", "json", project)
    assert code == 1
    (record,) = json.loads(out)
    assert set(record) == {"code", "message", "filename", "location", "end_location", "fix", "noqa_row", "url"}
    assert record["code"] == "SES004"
    assert record["location"] == {"row": 1, "column": 1}
    assert record["end_location"] == {"row": 1, "column": 49}
    assert record["fix"]["applicability"] == "safe"
    assert record["fix"]["edits"] == [{"content": "from core.database import get_db_session\n",
                                       "location": {"row": 1, "column": 1},
                                       "end_location": {"row": 2, "column": 1}}]


def test_diff_writes_nothing(project):
    path = project / "job.py"
    path.write_text(DEPRECATED)
    code, out, _ = run("--diff", path)
    assert code == 1
    assert "-from core.database_manager import get_db_session\n+from core.database import get_db_session\n" in out
    assert path.read_text() == DEPRECATED


def test_exit_zero(project):
    (project / "job.py").write_text(DEPRECATED)
    assert run("--exit-zero", project)[0] == 0


def test_fix_keeps_crlf_bom_encoding_and_mode(project):
    path = project / "job.py"
    path.write_bytes(b"\xef\xbb\xbf" + DEPRECATED.replace("\n", "\r\n").encode())
    path.chmod(0o751)
    code, _, _ = run("--fix", path)
    assert code == 0
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data == b"\xef\xbb\xbf" + DEPRECATED.replace("core.database_manager", "core.database").replace("\n", "\r\n").encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert [p.name for p in project.iterdir() if p.name.startswith(".job")] == []  # no temp file left


def test_fix_keeps_a_declared_latin1_encoding(project):
    path = project / "job.py"
    source = "# -*- coding: latin-1 -*-\n" + DEPRECATED + "NAME = 'Müller'\n"
    path.write_bytes(source.encode("latin-1"))
    run("--fix", path)
    assert path.read_bytes() == source.replace("core.database_manager", "core.database").encode("latin-1")


def test_syntax_error_next_to_a_good_file(project):
    (project / "broken.py").write_text("from core.database import SessionLocal\ndef f(:\n    pass\n")
    (project / "unrelated.py").write_text("def g(:\n")  # spells no session name: never parsed
    (project / "job.py").write_text(DEPRECATED)
    code, out, err = run(project)
    assert code == 1
    assert f"{project / 'broken.py'}:2:7: SES999 SyntaxError" in out
    assert "unrelated.py" not in out
    assert f"{project / 'job.py'}:1:1: SES004" in out
    assert "Traceback" not in out + err


def test_undecodable_file_is_ses999(project):
    (project / "bad.py").write_bytes(b"x = '\xff\xfe'\nfrom core.database import SessionLocal\n")
    code, out, _ = run(project / "bad.py")
    assert code == 1 and f"{project / 'bad.py'}:1:1: SES999 cannot decode file" in out


@pytest.mark.parametrize("table, message", [
    ("[tool.session-lint]\nsesion-module = 'x'\n", "unknown key 'sesion-module'"),
    ("[tool.session-lint]\nsession-factories = 'SessionLocal'\n", "'session-factories' must be a list of strings"),
    ("[tool.session-lint]\nexpire-on-commit = 'yes'\n", "'expire-on-commit' must be true or false"),
    ("[tool.session-lint]\nselect = ['XYZ1']\n", "'select' has unknown rule code 'XYZ1'"),
    ("[tool.session-lint\n", "invalid TOML"),
])
def test_config_errors_exit_2_with_one_line(project, table, message):
    (project / "pyproject.toml").write_text(table)
    (project / "job.py").write_text("x = 1\n")
    code, out, err = run(project)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and err.startswith("session-lint: error: ")


# every rule module's code (the registry reads them from the module names), then SES999
VALID_CODES = f"(valid: {', '.join(rule_codes())}, SES999, a prefix of them such as SES or SES00, or ALL)"


@pytest.mark.parametrize("args, message", [
    (["--select", "SES042"], f"--select has unknown rule code 'SES042' {VALID_CODES}"),
    (["--select", "SES001,SES0011"], f"--select has unknown rule code 'SES0011' {VALID_CODES}"),
    (["--ignore", "SES7"], f"--ignore has unknown rule code 'SES7' {VALID_CODES}"),
    (["--extend-select", "E501"], f"--extend-select has unknown rule code 'E501' {VALID_CODES}"),
    (["--select", ""], "--select needs at least one rule code or prefix, got ''"),
    (["--select", " , "], "--select needs at least one rule code or prefix, got ' , '"),
])
def test_unknown_or_missing_codes_on_the_command_line_exit_2(project, args, message):
    (project / "job.py").write_text(DEPRECATED)
    assert run(*args, project) == (2, "", f"session-lint: error: {message}\n")


@pytest.mark.parametrize("table, message", [
    ('select = ["SES042"]', f"'select' has unknown rule code 'SES042' {VALID_CODES}"),
    ('select = []', "'select' is empty: no rule would be checked"),
    ('ignore = ["SES0001"]', f"'ignore' has unknown rule code 'SES0001' {VALID_CODES}"),
    ('extend-select = ["ses001"]', f"'extend-select' has unknown rule code 'ses001' {VALID_CODES}"),
    ('per-file-ignores = { "job.py" = ["SES04"] }',
     f"'per-file-ignores' entry 'job.py' has unknown rule code 'SES04' {VALID_CODES}"),
])
def test_unknown_codes_in_the_configuration_exit_2(project, table, message):
    (project / "pyproject.toml").write_text(f"[tool.session-lint]\n{table}\n")
    (project / "job.py").write_text(DEPRECATED)
    assert run(project) == (2, "", f"session-lint: error: {project / 'pyproject.toml'}: {message}\n")


@pytest.mark.parametrize("args", [["--select", "SES"], ["--select", "SES00"], ["--select", "ALL"],
                                  ["--select", "ses004"], ["--ignore", "SES999"], ["--select", "SES9"]])
def test_prefixes_all_and_known_codes_stay_valid(project, args):
    (project / "job.py").write_text(DEPRECATED)
    assert run(*args, project)[0] == (0 if args == ["--select", "SES9"] else 1)


def test_explicit_config_file_and_missing_path(project, tmp_path):
    assert run("--config", tmp_path / "missing.toml", project)[0] == 2
    code, _, err = run(project / "nope.py")
    assert code == 2 and "no such file or directory" in err


def test_select_ignore_extend_select_and_per_file_ignores(project):
    (project / "job.py").write_text(DEPRECATED)
    assert run("--ignore", "SES004", project)[0] == 0
    assert run("--select", "SES001", project)[0] == 0
    assert run("--select", "SES001", "--extend-select", "SES004", project)[0] == 1
    assert run("--select", "SES00", project)[0] == 1
    (project / "pyproject.toml").write_text('[tool.session-lint]\nper-file-ignores = { "job.py" = ["SES004"] }\n')
    assert run(project)[0] == 0
    (project / "pyproject.toml").write_text('[tool.session-lint]\nignore = ["SES"]\nextend-select = ["SES004"]\n')
    assert run(project)[0] == 1  # ruff semantics: the more specific selector wins


def test_discovery_skips_ignored_places(project):
    for place in [".venv/lib/x.py", "build/x.py", "node_modules/x.py", "generated/x.py", "vendor/x.py",
                  "envdir/x.py"]:
        (project / place).parent.mkdir(parents=True, exist_ok=True)
        (project / place).write_text(DEPRECATED)
    (project / "envdir" / "pyvenv.cfg").write_text("")
    (project / ".gitignore").write_text("generated/\n")
    (project / "pyproject.toml").write_text('[tool.session-lint]\nexclude = ["vendor"]\n')
    (project / "pkg").mkdir()
    (project / "pkg" / "job.py").write_text(DEPRECATED)
    (project / "pkg" / "stub.pyi").write_text(DEPRECATED)
    (project / "pkg" / "notes.txt").write_text(DEPRECATED)
    code, out, _ = run("--output-format", "json", project)
    assert sorted(Path(r["filename"]).relative_to(project).as_posix() for r in json.loads(out)) == [
        "pkg/job.py", "pkg/stub.pyi"]


MODULE_GLOBAL = "from core.database import SessionLocal\ndb = SessionLocal()\n"


def test_symlink_loops_are_skipped_with_one_warning_each(project, monkeypatch):
    monkeypatch.chdir(project)
    (project / "pkg").mkdir()
    (project / "pkg" / "job.py").write_text(MODULE_GLOBAL)
    for name, target in [("a.py", "b.py"), ("b.py", "a.py"), ("a", "b"), ("b", "a")]:
        (project / "pkg" / name).symlink_to(target)
    assert run("--output-format", "concise", ".") == (
        1, "pkg/job.py:2:6: SES002 session `db = SessionLocal()` shared at module level: open one per unit of work\n"
           "Found 1 error.\n",
        "warning: skipping pkg/a.py: symlink loop\nwarning: skipping pkg/b.py: symlink loop\n")


def _denied(real, path):
    """`real(path)`, or PermissionError for anything in a directory named `locked`."""
    if "locked" in Path(path).parts:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    return real(path)


# Tests run as root, who can read any directory: simulate a mode-000 one where a non-root user
# fails, listing it (os.scandir) or looking inside it (the virtualenv check stats locked/pyvenv.cfg).
@pytest.mark.parametrize("target, name", [(os, "scandir"), (Path, "exists")])
def test_unreadable_directory_is_skipped_with_a_warning(project, monkeypatch, target, name):
    monkeypatch.chdir(project)
    for place in ("locked", "pkg"):
        (project / place).mkdir()
        (project / place / "job.py").write_text(MODULE_GLOBAL)
    real = getattr(target, name)
    monkeypatch.setattr(target, name, lambda path: _denied(real, path))
    code, out, err = run("--output-format", "concise", ".")
    assert (code, err) == (1, "warning: skipping locked: Permission denied\n")
    assert out.startswith("pkg/job.py:2:6: SES002 ")


def test_no_all_checks_passed_next_to_an_internal_error(project, monkeypatch):
    (project / "job.py").write_text(DEPRECATED)

    def broken_rules(*args, **kwargs):
        raise RuntimeError("rule bug")

    monkeypatch.setattr("session_lint.runner.lint_text", broken_rules)
    code, out, err = run("--no-cache", project / "job.py")
    assert (code, out) == (2, "")
    assert err.startswith(f"session-lint: error: {project / 'job.py'}: internal error (RuntimeError: rule bug at ")


def test_no_all_checks_passed_next_to_a_failed_write(project, monkeypatch):
    (project / "job.py").write_text(DEPRECATED)

    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("session_lint.runner.write_atomic", full_disk)
    assert run("--fix", project / "job.py") == (
        2, "", f"session-lint: error: {project / 'job.py'}: cannot write fixed file: [Errno 28] No space left on device\n")
    assert (project / "job.py").read_text() == DEPRECATED


NEWER_SYNTAX = ("from core.database import SessionLocal\ntype UserId = int\n\n\ndef job():\n"
                "    db = SessionLocal()\n    try:\n        db.query(UserId).all()\n    finally:\n        db.close()\n")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="PEP 695 syntax parses on this Python")
def test_fix_of_syntax_newer_than_this_python_says_so_instead_of_blaming_the_fix(project):
    (project / "job.py").write_text(NEWER_SYNTAX)
    job = project / "job.py"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert run("--fix", "--output-format", "concise", job) == (
        1, f"{job}:2:6: SES999 SyntaxError: invalid syntax: the file needs a newer Python than {version} (not fixed)\n"
           f"{job}:6:10: SES001 manual session `SessionLocal()`: use `with get_db_session()`\n"
           "Found 2 errors (1 fixable with --fix).\n", "")
    assert job.read_text() == NEWER_SYNTAX


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_file_with_a_utf16_or_utf32_bom_is_ses999_not_skipped(project, encoding):
    job = project / "job.py"
    job.write_bytes("from core.database import SessionLocal\ndb = SessionLocal()\n".encode(encoding))
    name = encoding.upper()
    assert run("--output-format", "concise", "--no-cache", job) == (
        1, f"{job}:1:1: SES999 unsupported encoding: {name} (byte order mark); save the file as UTF-8\n"
           "Found 1 error.\n", "")


def test_stdin(project):
    code, out, _ = run("--stdin-filename", project / "job.py", input=DEPRECATED)
    assert code == 1 and f"{project / 'job.py'}:1:1: SES004" in out
    code, out, err = run("--fix", "--stdin-filename", project / "job.py", input=DEPRECATED)
    assert out == DEPRECATED.replace("core.database_manager", "core.database")
    assert code == 0


LATIN1 = '# -*- coding: latin-1 -*-\nimport core.database_manager\nname = "caf\xe9"\n'


def test_stdin_is_decoded_like_a_file_and_fixed_in_its_own_encoding():
    data = LATIN1.encode("latin-1")
    result = CliRunner().invoke(main, ["--stdin-filename", "x.py", "--output-format", "concise", "-"], input=data)
    assert (result.exit_code, result.stdout) == (
        1, "x.py:2:1: SES004 deprecated session module `core.database_manager` imported (use `core.database`)\n"
           "Found 1 error (1 fixable with --fix).\n")
    result = CliRunner().invoke(main, ["--fix", "--stdin-filename", "x.py", "-"], input=data)
    assert result.exit_code == 0
    assert result.stdout_bytes == LATIN1.replace("core.database_manager", "core.database").encode("latin-1")


def test_stdin_keeps_bom_and_crlf_and_reports_undecodable_input_as_ses999():
    data = b"\xef\xbb\xbfimport core.database_manager\r\n"
    result = CliRunner().invoke(main, ["--fix", "--stdin-filename", "x.py", "-"], input=data)
    assert (result.exit_code, result.stdout_bytes) == (0, b"\xef\xbb\xbfimport core.database\r\n")
    result = CliRunner().invoke(main, ["--stdin-filename", "x.py", "--output-format", "concise"],
                                input=b"x = '\xff'\nSessionLocal()\n")
    assert (result.exit_code, result.stdout) == (
        1, "x.py:1:1: SES999 cannot decode file: invalid or missing encoding declaration\nFound 1 error.\n")


def test_explain_list_rules_version():
    code, out, _ = run("--explain", "SES004")
    assert code == 0 and out.startswith("# deprecated-session-import (SES004)") and "## Fix safety" in out
    code, _, err = run("--explain", "SES123")
    assert code == 2 and "unknown rule" in err
    code, out, _ = run("--list-rules")
    assert code == 0 and "SES004  deprecated-session-import" in out
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("session-lint, version ")


def test_a_fix_that_would_not_parse_is_not_written(project, monkeypatch):
    import libcst as cst

    from session_lint.rules.ses004_deprecated_session_import import DeprecatedSessionImport

    original = DeprecatedSessionImport.fix_from_import

    def broken(self, item, moves):
        fix = original(self, item, moves)
        fix.replacements = {item.node: item.node.with_changes(names=[cst.ImportAlias(cst.Name("lambda"))])}
        return fix

    monkeypatch.setattr(DeprecatedSessionImport, "fix_from_import", broken)
    path = project / "job.py"
    path.write_text(DEPRECATED)
    code, _, err = run("--fix", path)
    assert code == 2 and "does not parse" in err and "Traceback" not in err
    assert path.read_text() == DEPRECATED


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_crashing_rule_is_a_one_line_error_and_the_run_goes_on(project, monkeypatch, jobs):
    from session_lint.rules.ses004_deprecated_session_import import DeprecatedSessionImport

    def visit_ImportFrom(self, node):  # LibCST dispatches batched visitors by method name
        raise ValueError("rule bug")

    monkeypatch.setattr(DeprecatedSessionImport, "visit_ImportFrom", visit_ImportFrom)
    (project / "a.py").write_text(DEPRECATED)
    (project / "b.py").write_text(DEPRECATED)
    code, out, err = run("--no-cache", "--jobs", jobs, project)
    assert code == 2
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if "internal error" in line]
    assert len(errors) == 2 and "ValueError: rule bug" in errors[0]


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "No such option '--bogus'"),
    (["--output-format", "xml", "."], "'xml' is not one of"),
    (["--jobs", "x", "."], "'x' is not a valid integer"),
    (["--config", "."], "is a directory"),
])
def test_usage_errors_are_one_line(args, message):
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("session-lint: error: ") and message in err
