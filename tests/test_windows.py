"""A very large module is linted a window of top-level statements at a time, with the same findings."""

from __future__ import annotations

import ast
import os
import subprocess
from contextlib import contextmanager
import sys
import threading
from pathlib import Path

import libcst as cst
import pytest
from helpers import REAL, real_project_sources

import session_lint.engine.linter as linter
from session_lint.config import Config
from session_lint.engine import screen as screen_module, windows
from session_lint.engine.linter import fix_source, lint_source
from session_lint.engine.runner import screen_for
from session_lint.rules import all_rules

ROOT = Path(__file__).parent.parent
MODULE = str(ROOT / "tests" / "project" / "app" / "module.py")
sys.path.insert(0, str(ROOT / "bench"))
import dense_module  # noqa: E402  (the benchmark's generator of session-dense service modules)


def findings(source: str, path: str, config: Config, fixes: bool = False, screened: bool = False) -> list[tuple]:
    """(A window builds no fix, and SES005's message says what to do when it has none.) `screened`:
    linted as the CLI lints it, after the screen (which leaves a module linted in windows to each
    window's own verdict)."""
    if screened:
        verdict = screen_for(config, path).verdict(source.encode(), path)
        found = linter.run_rules(source, path, config, verdict, fixes=False).diagnostics if verdict.may_report else []
    else:
        found = lint_source(source, path, config, fixes=fixes)
    return [(d.code, d.line, d.column, d.end_line, d.end_column, d.message) for d in found]


@contextmanager
def windowed(monkeypatch, size: int):
    """Every module windowed, `size` characters of own statements per window (1: one statement each)."""
    with monkeypatch.context() as patched:
        patched.setattr(windows, "WINDOWED_ABOVE", 0)
        patched.setattr(windows, "WINDOW_SIZE", size)
        yield


def same_windowed_and_whole(source: str, path: str, config: Config, monkeypatch, sizes=(1, 400)) -> None:
    whole = findings(source, path, config)
    assert [f[:5] for f in findings(source, path, config, fixes=True)] == [f[:5] for f in whole]
    for size in sizes:
        with windowed(monkeypatch, size):
            assert findings(source, path, config) == whole, (path, size)
            assert findings(source, path, config, screened=True) == whole, (path, size, "screened windows")


@pytest.mark.parametrize("source", [
    "import a\n# c\n\n@dec\ndef f():\n    return a\n  # indented comment\nx = 1; y = 2\nclass C:\n    pass\n\n# end",
    "import a\r\nif a:\r\n    b = 1\r\nelse:\r\n    b = 2\r\n",
    "x = 1\n",
    'x = """\nline\n"""\ndef f(): return x\n\n\n',
])
def test_chunks_are_the_module_cut_at_top_level_statements(source):
    chunks = windows.chunks(source)
    assert "".join(chunk.text for chunk in chunks) == source
    assert [chunk.first_line for chunk in chunks[1:]] == [chunk.last_line + 1 for chunk in chunks[:-1]]
    for chunk in chunks:  # each chunk parses alone: whole statements
        cst.parse_module(chunk.text)


TRICKY = ('X = """\ndef f(): pass\nelse\n"""\n@dec\ndef g():\n    pass\nif a:\n    pass\nelse:\n    pass\n'
          'z = (\n1,\n)\nw = 1 + \\\n2\ntry:\n    pass\nexcept E:\n    pass\nfinally:\n    pass\n'
          "class C:\n    '''\nclass D:\n'''\n")


def test_the_pieces_ast_parses_end_at_top_level_statements(monkeypatch):
    whole = windows.chunks(TRICKY)
    monkeypatch.setattr(windows, "PIECE_SIZE", 1)  # every line that may begin a statement is tried as a cut
    assert windows.chunks(TRICKY) == whole
    assert [chunk.first_line for chunk in whole] == [1, 5, 8, 12, 15, 17, 23]


@pytest.mark.parametrize("tail, expected", [
    ("def (:\n", ("SyntaxError: invalid syntax", 5)),
    ("y = " + "(" * 300 + ")" * 300 + "\n", ("file is too deeply nested to parse (too many nested parentheses)", 205)),
], ids=["syntax-error", "too-deep"])
def test_a_huge_module_that_does_not_parse_is_reported_from_its_pieces(monkeypatch, tail, expected):
    monkeypatch.setattr(windows, "WHOLE_AST_LIMIT", 20_000)
    monkeypatch.setattr(windows, "WINDOWED_ABOVE", 10_000)
    monkeypatch.setattr(windows, "PIECE_SIZE", 2_000)
    parsed: list[int] = []
    real_parse = ast.parse
    monkeypatch.setattr(windows.ast, "parse", lambda text, *args: parsed.append(len(text)) or real_parse(text, *args))
    source = "x = 1\n" * 5_000 + tail
    found = lint_source(source, MODULE, Config())
    assert [(d.code, d.message, d.line, d.column) for d in found] == [("SES999", expected[0], 5_001, expected[1])]
    assert max(parsed) < 2 * 2_000 + 1_000  # (the piece holding the error: one doubling)


def test_the_screen_reads_a_module_linted_in_windows_a_window_at_a_time(monkeypatch):
    monkeypatch.setattr(windows, "WINDOWED_ABOVE", 20_000)
    monkeypatch.setattr(windows, "WINDOW_SIZE", 2_000)
    monkeypatch.setattr(windows, "PIECE_SIZE", 5_000)
    monkeypatch.setattr(screen_module, "SCREENED_WHOLE_UP_TO", 10_000)  # (the module is larger)
    parsed: list[int] = []
    real_parse = ast.parse
    monkeypatch.setattr(ast, "parse", lambda source, *args, **kwargs: parsed.append(len(source))
                        or real_parse(source, *args, **kwargs))
    functions = large_module(2)
    at = functions.index("\n\ndef load_0")
    source = functions[:at] + filler(1000) + functions[at:]  # the blocks in the last window
    screen = screen_for(Config(), MODULE)
    verdict = screen.verdict(source.encode(), MODULE)
    assert verdict.codes is None  # (the windows say which rules)
    assert [(each.window.text.count("get_db_session()"), each.codes, each.to_screen) for each in verdict.windows] == \
        [(1, {"SES005", "SES006"}, False), (1, None, True)]  # the two blocks' windows; the filler's: no rule
    assert len(source) > 20_000 and max(parsed) < 10_000  # no tree of the whole module
    assert not screen.verdict(source.replace("user.email", "uid").encode(), MODULE).may_report
    # the blocks first: the screen stops at their window, the windows after it are screened when linted
    verdict = screen.verdict((functions + filler(1000)).encode(), MODULE)
    assert [(each.codes, each.to_screen) for each in verdict.windows[:2]] == [({"SES005", "SES006"}, False),
                                                                             (None, True)]
    assert len(verdict.windows) == len(windows.windows(windows.chunks(functions + filler(1000)))) > 10


def test_a_module_linted_in_windows_up_to_a_size_is_screened_whole_first(monkeypatch):
    monkeypatch.setattr(windows, "WINDOWED_ABOVE", 20_000)
    monkeypatch.setattr(windows, "WINDOW_SIZE", 2_000)
    cuts: list[int] = []
    real_chunks = windows.chunks
    monkeypatch.setattr(windows, "chunks", lambda text: cuts.append(len(text)) or real_chunks(text))
    source = large_module(2) + filler(1000)
    idle = source.replace("user.email", "uid")
    screen = screen_for(Config(), MODULE)
    assert 20_000 < len(source) <= screen_module.SCREENED_WHOLE_UP_TO
    # idle: settled by the whole module's screen, never cut up
    assert screen.verdict(idle.encode(), MODULE) == screen_module._NO_RULE and cuts == []
    # a rule may report: the windows say where
    verdict = screen.verdict(source.encode(), MODULE)
    assert cuts == [len(source)] and verdict.codes is None
    assert [each.codes for each in verdict.windows if not each.to_screen] == [{"SES005", "SES006"}]
    # above the size, an idle module is screened a window at a time (no whole tree of it)
    monkeypatch.setattr(screen_module, "SCREENED_WHOLE_UP_TO", 10_000)
    assert screen.verdict(idle.encode(), MODULE) == screen_module._NO_RULE and cuts == [len(source), len(idle)]


def test_a_window_holds_the_statements_binding_what_it_names():
    source = ("from core.database import SessionLocal\n\nLIMIT = 3\n\n"
              "def helper(db):\n    return db.close()\n\n"
              "class User:\n    pass\n\n"
              "def unrelated():\n    return 1\n\n"
              "def load(uid):\n    db = SessionLocal()\n    user = db.get(User, uid)\n    helper(db)\n    return user\n")
    chunks = windows.chunks(source)
    last = windows.windows(chunks, size=1)[-1]
    assert last.text == ("from core.database import SessionLocal\n\n"
                         "def helper(db):\n    return db.close()\n\n"
                         "class User:\n    pass\n\n"
                         "def load(uid):\n    db = SessionLocal()\n    user = db.get(User, uid)\n    helper(db)\n"
                         "    return user\n")
    assert last.own_lines == [(13, 18)]
    assert [last.file_line(line) for line in (1, 3, 6, 9, 13)] == [1, 5, 8, 14, 18]


def test_module_level_statements_binding_nothing_a_window_spells_stay_in_their_own_window():
    source = ("from __future__ import annotations\nfrom core.database import SessionLocal\nfrom x import *\n"
              "db = SessionLocal()\n" + "db.add(Row(1))\n" * 3 + "def f():\n    global g\n    g = 1\n"
              "def use():\n    return g\n")
    last = windows.windows(windows.chunks(source), size=1)[-1]
    assert last.text == ("from __future__ import annotations\nfrom x import *\n"
                         "def f():\n    global g\n    g = 1\ndef use():\n    return g\n")


SQL_HELPER = ("from sqlalchemy import text\n\n\n"
              "def count(session, where):\n"
              "    return session.execute(text(f\"SELECT count(*) FROM t WHERE {where}\")).scalar()\n\n\n"
              "def unrelated():\n    return 1\n\n\n"
              "def main(session):\n    return count(session, \"a = 1\")\n\n\n"
              "def other(session, where):\n    return session.execute(text(f\"SELECT 1 WHERE {where}\"))\n")


def test_a_window_holds_the_statements_calling_its_functions():
    """SES014 reads every call of a function to know what its parameters receive (polar's
    scripts/migrate_organization_statuses.py: a window without the callers reported line 91)."""
    window = windows.windows(windows.chunks(SQL_HELPER), size=1)[1]
    assert window.own_lines == [(2, 5)] and window.segments == [(1, 1), (2, 2), (6, 10)]
    assert window.text == ("from sqlalchemy import text\n\n\n"
                           "def count(session, where):\n"
                           "    return session.execute(text(f\"SELECT count(*) FROM t WHERE {where}\")).scalar()\n\n\n"
                           "def main(session):\n    return count(session, \"a = 1\")\n")
    assert window.calls_elsewhere == frozenset()


def test_callers_over_the_budget_are_named_and_their_function_takes_anything(monkeypatch):
    whole = findings(SQL_HELPER, MODULE, Config())
    assert [f[:3] for f in whole] == [("SES014", 17, 33)]  # `count` is only ever given a constant
    with windowed(monkeypatch, 1):
        assert findings(SQL_HELPER, MODULE, Config()) == whole
        monkeypatch.setattr(windows, "CALLERS_SIZE", 0)
        window = windows.windows(windows.chunks(SQL_HELPER))[1]
        assert "def main" not in window.text and window.calls_elsewhere == {"count"}
        assert [f[:3] for f in findings(SQL_HELPER, MODULE, Config())] == [("SES014", 5, 33), ("SES014", 17, 33)]


def test_rule_examples_give_the_same_findings(monkeypatch):
    for rule in all_rules():
        for source in (*rule.VALID, *rule.INVALID):
            same_windowed_and_whole(source, MODULE, Config(), monkeypatch)


def test_fixture_and_project_files_give_the_same_findings(monkeypatch):
    files = [*(ROOT / "fixtures").rglob("*.py"), *(ROOT / "tests" / "project").rglob("*.py")]
    for file in files:
        same_windowed_and_whole(file.read_text(encoding="utf-8"), str(file), Config.discover(file.parent),
                                monkeypatch)


def test_a_dense_service_module_gives_the_same_findings(tmp_path, monkeypatch):
    path = dense_module.write(tmp_path, 1500)
    config = Config.discover(path.parent)
    source = path.read_text(encoding="utf-8")
    assert len(findings(source, str(path), config)) > 50
    same_windowed_and_whole(source, str(path), config, monkeypatch, sizes=(1, 5000))


@pytest.mark.skipif(not REAL.is_dir(), reason=f"no real projects under {REAL}")
def test_real_project_files_give_the_same_findings(monkeypatch):
    checked = 0
    for file, source, config in real_project_sources(sample=8):
        if screen_for(config, str(file)).check(source.encode(), str(file)):
            same_windowed_and_whole(source, str(file), config, monkeypatch, sizes=(2000,))
            checked += 1
    assert checked


def large_module(functions: int, noqa_every_other: bool = False) -> str:
    """`functions` functions reading an expired object after its session block (SES005 at 8 + 6i, col 12)."""
    body = "".join(f"\n\ndef load_{i}(uid):\n    with get_db_session() as db:\n        user = db.get(User, uid)\n"
                   f"    return user.email{'  # noqa: SES005' if noqa_every_other and i % 2 == 0 else ''}\n"
                   for i in range(functions))
    return "from core.database import get_db_session\nfrom app.models import User\n" + body


FUNCTIONS = windows.WINDOWED_ABOVE // 80


def test_a_module_above_the_limit_is_parsed_a_window_at_a_time(monkeypatch):
    monkeypatch.setattr(windows, "WINDOWED_ABOVE", 20_000)  # (the real limits, scaled down)
    monkeypatch.setattr(windows, "WINDOW_SIZE", 6_000)
    functions = 300
    source = large_module(functions, noqa_every_other=True)
    assert len(source) > windows.WINDOWED_ABOVE
    parsed: list[int] = []
    real_parse = cst.parse_module
    monkeypatch.setattr(linter.cst, "parse_module", lambda text: parsed.append(len(text)) or real_parse(text))
    found = lint_source(source, MODULE, Config())
    assert len(parsed) > 3 and max(parsed) < windows.WINDOW_SIZE + 1000
    # each function's read of the expired `user.email`, once, on its own line; noqa'd ones dropped
    assert [(d.code, d.line, d.column) for d in found] == [("SES005", 8 + 6 * i, 12) for i in range(1, functions, 2)]
    assert all(d.fix is None for d in found)


def test_fix_leaves_a_windowed_module_unchanged(monkeypatch):
    source = next(example for rule in all_rules() for example in rule.INVALID
                  if fix_source(example, MODULE, Config(), unsafe_fixes=True).applied)
    with windowed(monkeypatch, 1):
        result = fix_source(source, MODULE, Config(), unsafe_fixes=True)
        assert (result.source, result.applied) == (source, 0)
        assert [(d.code, d.line, d.fix) for d in result.remaining] == \
            [(d.code, d.line, None) for d in lint_source(source, MODULE, Config())]
        assert result.remaining


def test_the_cli_reports_a_windowed_module_and_leaves_it_unfixed(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.session-lint]\nsession-module = "core.database"\n')
    filler = '\n\nNOTES = """\n' + "a line of text\n" * (windows.WINDOWED_ABOVE // 15) + '"""\n'
    (tmp_path / "big.py").write_text(large_module(3) + filler)
    (tmp_path / "small.py").write_text(large_module(3))
    before = (tmp_path / "big.py").read_text()

    def session_lint(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "session_lint", "--no-cache", *args], cwd=tmp_path,
                              capture_output=True, text=True)

    out = session_lint("--statistics", "big.py")
    assert (out.returncode, out.stdout, out.stderr) == (1, "3\tSES005\t[ ] detached-instance-access\n", "")
    assert session_lint("--statistics", "small.py").stdout == "3\tSES005\t[-] detached-instance-access\n"
    out = session_lint("--fix", "--unsafe-fixes", ".")
    assert out.returncode == 1, out.stderr
    assert (tmp_path / "big.py").read_text() == before
    assert (tmp_path / "small.py").read_text() != large_module(3)


def test_a_window_builds_no_fix_and_its_message_says_what_to_do(monkeypatch):
    from session_lint.rules.ses005_detached_instance_access import DetachedInstanceAccess

    source = large_module(2)
    whole = lint_source(source, MODULE, Config())
    assert [(d.code, d.line, d.fix is not None) for d in whole] == [("SES005", 8, True), ("SES005", 14, True)]
    assert not any("read what you need" in d.message for d in whole)
    built = []
    real_fix = DetachedInstanceAccess.fix
    monkeypatch.setattr(DetachedInstanceAccess, "fix", lambda self, *args: built.append(1) or real_fix(self, *args))
    with windowed(monkeypatch, 1):
        found = lint_source(source, MODULE, Config())
    assert [(d.code, d.line, d.column, d.fix, d.fix_spans) for d in found] == \
        [("SES005", 8, 12, None, []), ("SES005", 14, 12, None, [])]
    assert all(d.message.endswith("; read what you need inside the block") for d in found)
    assert built == []


# -- a module linted in windows: each window screened, the windows spread over the workers -----------

def filler(functions: int) -> str:
    """Functions no rule can report in (nothing a trigger looks for)."""
    return "".join(f"\n\ndef helper_{i}(x):\n    return x + {i}\n" for i in range(functions))


def test_a_window_no_rule_can_report_in_never_reaches_libcst(monkeypatch):
    source = large_module(2) + filler(400)
    whole = findings(source, MODULE, Config())
    assert [f[:3] for f in whole] == [("SES005", 8, 12), ("SES005", 14, 12)]
    parsed: list[str] = []
    real_parse = cst.parse_module
    monkeypatch.setattr(linter.cst, "parse_module", lambda text: parsed.append(text) or real_parse(text))
    with windowed(monkeypatch, 400):
        cut = windows.windows(windows.chunks(source))
        assert findings(source, MODULE, Config(), screened=True) == whole
    assert len(cut) > 20
    assert [text.count("get_db_session()") for text in parsed] == [2]  # the one window with the two blocks


def cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from session_lint.frontends.cli import main

    result = CliRunner().invoke(main, ["--no-cache", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def windowed_project(tmp_path, monkeypatch) -> Path:
    """A project whose `app/big.py` is linted in windows (the limits scaled down: forked workers keep them)."""
    monkeypatch.setattr(windows, "WINDOWED_ABOVE", 20_000)
    monkeypatch.setattr(windows, "WINDOW_SIZE", 6_000)
    (tmp_path / "pyproject.toml").write_text('[tool.session-lint]\nsession-module = "core.database"\n')
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "big.py").write_text(large_module(300, noqa_every_other=True) + filler(200))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_windows_are_pool_tasks_with_the_serial_output(project: Path, monkeypatch, found: int) -> None:
    serial = cli("--jobs", "1", "app")
    assert serial[0] == 1 and f"Found {found} errors.\n" in serial[1]
    calls = project / "calls"
    real_lint_window = linter.lint_window

    def recording(*args):
        with calls.open("a") as out:  # (a forked worker's list would stay in the worker)
            out.write(f"{os.getpid()} {threading.current_thread() is threading.main_thread()}\n")
        return real_lint_window(*args)

    monkeypatch.setattr(linter, "lint_window", recording)
    assert cli("--jobs", "2", "app") == serial
    linted_in = [line.split() for line in calls.read_text().splitlines()]
    data = (project / "app" / "big.py").read_bytes()
    verdict = screen_for(Config.discover(project), "app/big.py").verdict(data, "app/big.py")
    assert len(linted_in) == len(verdict.windows) > 4
    # each window a task of its own: called by the pool on a worker's main thread (the engine linting
    # a whole module calls it from its deep-stack thread), never in this process
    assert all(pid != str(os.getpid()) and task == "True" for pid, task in linted_in)


def test_the_windows_of_a_module_run_on_the_workers_with_the_same_findings(windowed_project, monkeypatch):
    assert_windows_are_pool_tasks_with_the_serial_output(windowed_project, monkeypatch, 150)


def test_the_windows_of_a_module_among_other_files_are_pool_tasks_too(windowed_project, monkeypatch):
    for i in range(6):
        (windowed_project / "app" / f"small_{i}.py").write_text(large_module(i + 1))
    assert_windows_are_pool_tasks_with_the_serial_output(windowed_project, monkeypatch, 150 + 21)


DIED = "app/big.py: the process linting this file died (a crash in native code or out of memory)"


def die_in_workers_on_windows(monkeypatch) -> None:
    """`lint_window` kills any process but this one (a crash in native code)."""
    parent = os.getpid()
    real_lint_window = linter.lint_window
    monkeypatch.setattr(linter, "lint_window", lambda *args: os._exit(9) if os.getpid() != parent
                        else real_lint_window(*args))


def test_a_worker_dying_on_a_window_makes_the_module_an_error(windowed_project, monkeypatch):
    die_in_workers_on_windows(monkeypatch)
    code, output = cli("--jobs", "2", "app/big.py")
    assert code == 2 and DIED in output


def test_a_rule_failing_on_a_window_is_reported_as_for_any_file(windowed_project, monkeypatch):
    def failing(*args):
        raise ValueError("boom")

    monkeypatch.setattr(linter, "lint_window", failing)
    code, output = cli("--jobs", "2", "app/big.py")
    assert code == 2
    assert "app/big.py: internal error (ValueError: boom at test_windows.py:" in output


def test_a_worker_dying_on_a_window_among_other_files_costs_only_that_module(windowed_project, monkeypatch):
    (windowed_project / "app" / "small.py").write_text(large_module(2))
    (windowed_project / "app" / "other.py").write_text(large_module(1))
    die_in_workers_on_windows(monkeypatch)
    code, output = cli("--jobs", "2", "app")
    assert code == 2 and DIED in output
    assert [line.split(": ")[0] for line in output.splitlines() if ": SES005" in line] == \
        ["app/other.py:8:12", "app/small.py:8:12", "app/small.py:14:12"]
