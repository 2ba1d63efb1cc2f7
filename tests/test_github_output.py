"""`--output-format github`: workflow-command annotations with GitHub's escaping."""

from __future__ import annotations

from click.testing import CliRunner

from session_lint.frontends.cli import main
from session_lint.diagnostics import Diagnostic
from session_lint.frontends.output import github_annotation


def test_annotation_shape():
    d = Diagnostic("SES004", "deprecated import `core.database_manager`", "app/x.py", 3, 5, 4, 10)
    assert github_annotation(d) == (
        "::error file=app/x.py,line=3,col=5,endLine=4,endColumn=10,"
        "title=SES004 deprecated-session-import::deprecated import `core.database_manager`")


def test_escaping_of_properties_and_message():
    d = Diagnostic("SES004", "50% done\r\nnext: a, b", "C:/dir,x/a:b%.py", 1, 1, 1, 2)
    assert github_annotation(d) == (
        "::error file=C%3A/dir%2Cx/a%3Ab%25.py,line=1,col=1,endLine=1,endColumn=2,"
        "title=SES004 deprecated-session-import::50%25 done%0D%0Anext: a, b")


def test_unknown_code_uses_the_code_as_title():
    d = Diagnostic("SES999", "SyntaxError: bad", "a.py", 1, 1, 1, 1)
    assert ",title=SES999::SyntaxError: bad" in github_annotation(d)


def test_cli_github_format(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.session-lint]\n")
    (tmp_path / "a.py").write_text("from core.database_manager import get_db_session\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--output-format", "github", "a.py"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "::error file=a.py,line=1,col=1,endLine=1,endColumn=49,title=SES004 deprecated-session-import::"
        "deprecated session import `core.database_manager.get_db_session` (use `core.database.get_db_session`)"]
