"""Text output with source snippets (ruff's full form), colour rules, concise, and --statistics."""

from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner

from session_lint.frontends.cli import main
from session_lint.diagnostics import Applicability, Diagnostic, Fix
from session_lint.frontends.output import SourceLines, format_full, format_statistics, use_color

OLD = "from core.database_manager import get_db_session\n"


def full(diagnostics, text, color=False) -> str:
    sources = SourceLines()
    sources.register("m.py", text)
    out = io.StringIO()
    format_full(diagnostics, out, sources, color=color)
    return out.getvalue()


def test_caret_under_the_range_and_help_line():
    d = Diagnostic("SES001", "manual session `SessionLocal()`", "m.py", 10, 10, 10, 24,
                   fix=Fix(Applicability.SAFE, "Use `get_db_session()`"))
    text = "\n" * 9 + "    db = SessionLocal()\n"
    assert full([d], text) == (
        "m.py:10:10: SES001 manual session `SessionLocal()`\n"
        "   |\n"
        "10 |     db = SessionLocal()\n"
        "   |          ^^^^^^^^^^^^^^ SES001\n"
        "   |\n"
        "   = help: Use `get_db_session()`\n"
        "\n")


def test_multi_line_range_underlines_to_the_end_of_the_first_line():
    d = Diagnostic("SES003", "second session", "m.py", 1, 5, 2, 13)
    out = full([d], "    with get_db_session() as db:\n        db.add(x)\n")
    assert out.splitlines()[1:6] == [
        "  |",
        "1 |     with get_db_session() as db:",
        "  |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^ SES003",
        "2 |         db.add(x)",
        "  |",
    ]


def test_tabs_are_expanded_consistently_and_unreadable_source_is_skipped():
    d = Diagnostic("SES001", "m", "m.py", 1, 2, 1, 4)
    assert "1 |     ab\n  |     ^^ SES001\n" in full([d], "\tab\n")
    missing = Diagnostic("SES999", "cannot read file", "nowhere.py", 1, 1, 1, 1)
    assert full([missing], "") == "nowhere.py:1:1: SES999 cannot read file\n\n"


def test_colour_only_when_asked():
    d = Diagnostic("SES001", "m", "m.py", 1, 1, 1, 2)
    assert "\x1b[" in full([d], "x\n", color=True)
    assert "\x1b[" not in full([d], "x\n", color=False)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_use_color_respects_tty_and_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert use_color(_Tty()) and not use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(_Tty())


def diagnostic(code, applicability=None):
    fix = Fix(applicability, "x") if applicability else None
    return Diagnostic(code, "m", "m.py", 1, 1, 1, 2, fix=fix)


def test_statistics_ruff_style():
    diagnostics = [diagnostic("SES004", Applicability.SAFE)] * 12 + [diagnostic("SES999")] + \
        [diagnostic("SES004")]
    out = io.StringIO()
    format_statistics(diagnostics, out, unsafe_fixes=False)
    assert out.getvalue() == "13\tSES004\t[*] deprecated-session-import\n 1\tSES999\t[ ] syntax-error\n"
    out = io.StringIO()
    format_statistics(diagnostics, out, unsafe_fixes=False, as_json=True)
    assert json.loads(out.getvalue())[0] == {"code": "SES004", "name": "deprecated-session-import",
                                             "count": 13, "fixable": True}


def test_statistics_marks_fixes_hidden_behind_unsafe_fixes():
    out = io.StringIO()
    format_statistics([diagnostic("SES004", Applicability.UNSAFE)], out, unsafe_fixes=False)
    assert out.getvalue() == "1\tSES004\t[-] deprecated-session-import\n"
    out = io.StringIO()
    format_statistics([diagnostic("SES004", Applicability.UNSAFE)], out, unsafe_fixes=True)
    assert out.getvalue() == "1\tSES004\t[*] deprecated-session-import\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.session-lint]\n")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "database.py").write_text("def get_db_session(): ...\n")
    (tmp_path / "a.py").write_text(OLD)
    (tmp_path / "b.py").write_text(OLD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_statistics_and_concise(project):
    result = CliRunner().invoke(main, ["--statistics", "a.py", "b.py"])
    assert (result.exit_code, result.stdout) == (1, "2\tSES004\t[*] deprecated-session-import\n")
    result = CliRunner().invoke(main, ["--output-format", "concise", "a.py", "b.py"])
    assert result.stdout.splitlines()[:2] == [
        "a.py:1:1: SES004 deprecated session import `core.database_manager.get_db_session` "
        "(use `core.database.get_db_session`)",
        "b.py:1:1: SES004 deprecated session import `core.database_manager.get_db_session` "
        "(use `core.database.get_db_session`)"]


def test_cli_text_shows_source_from_stdin(project):
    result = CliRunner().invoke(main, ["--stdin-filename", "c.py"], input="\n" + OLD)
    assert result.exit_code == 1
    assert "2 | from core.database_manager import get_db_session\n" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal
