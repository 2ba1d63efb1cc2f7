"""Hostile runs (issue 12): killed --fix runs, deep nesting, very long expressions, flake8 isolation.

A killed run must write nothing after it has exited and leave no worker behind; deep or long
input must give findings or SES999, never a crash, a traceback or lost findings for other files.
Everything is generated here; the kill tests use real signals on a real subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from session_lint.api import Config, lint_source

REPO = Path(__file__).resolve().parent.parent
DATABASE = Path(__file__).parent / "project" / "core" / "database.py"
FIXABLE = """\
from core.database import SessionLocal


def count_users():
    db = SessionLocal()
    try:
        return db.query(User).count()
    finally:
        db.close()
"""
MANUAL = "from core.database import SessionLocal\n\n\ndef f():\n    db = SessionLocal()\n    return db\n"


def make_project(root: Path, files: dict[str, str]) -> Path:
    (root / "pyproject.toml").write_text("[tool.session-lint]\n")
    (root / "core").mkdir()
    (root / "core" / "__init__.py").write_text("")
    (root / "core" / "database.py").write_text(DATABASE.read_text())
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    for name, text in files.items():
        (root / "app" / name).write_text(text)
    return root


def _as_from_a_terminal() -> None:
    # A suite started in the background by a non-interactive shell (`pytest &`) ignores SIGINT, and
    # so would the run it starts: session-lint keeps an ignored SIGINT ignored (nohup), so Ctrl-C
    # tests would wait forever. A user's shell runs the command with SIGINT at its default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def session_lint(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "session_lint", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_as_from_a_terminal, **kwargs)


# -- a killed --fix --------------------------------------------------------------------------

def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `root` (temporary files included) with its mtime and content."""
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()}


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


# Enough files that the run is still going when the test has seen the first write and signals it
# (240 were fixed before the signal arrived once the per-file work got faster).
STOPPED_RUN_FILES = 1000


def start_fix_and_wait_for_first_write(root: Path, jobs: str) -> tuple[subprocess.Popen, list[int]]:
    files = sorted((root / "app").glob("m*.py"))
    process = session_lint("--fix", "--unsafe-fixes", "--no-cache", "--jobs", jobs, str(root))
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while not any(f.read_text() != FIXABLE for f in files):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no file was fixed"
        workers.update(children(process.pid))
        time.sleep(0.1)
    workers.update(children(process.pid))
    return process, sorted(workers)


def assert_quiet_after_exit(root: Path, workers: list[int]) -> None:
    """Nothing changes any more, and no worker survives its parent."""
    before = snapshot(root)
    time.sleep(2)
    assert snapshot(root) == before
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)]


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds workers through /proc")


@needs_proc
@pytest.mark.parametrize("signum, jobs", [(signal.SIGTERM, "2"), (signal.SIGINT, "1")])
def test_stopped_fix_says_what_it_wrote_and_writes_nothing_after_exit(tmp_path, signum, jobs):
    root = make_project(tmp_path, {f"m{i}.py": FIXABLE for i in range(STOPPED_RUN_FILES)})
    process, workers = start_fix_and_wait_for_first_write(root, jobs)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    assert "Traceback" not in stderr
    written = sum(f.read_text() != FIXABLE for f in (root / "app").glob("m*.py"))
    assert f"interrupted by {signal.Signals(signum).name}; {written} fixed file" in stderr
    assert 0 < written < STOPPED_RUN_FILES
    assert not list(root.rglob(".*.session-lint"))  # no temporary file left behind
    for file in (root / "app").glob("m*.py"):  # each file is whole: the original or the fix
        assert file.read_text() == FIXABLE or "with get_db_session() as db:" in file.read_text()
    assert_quiet_after_exit(root, workers)


@needs_proc
def test_killed_fix_leaves_no_worker_writing(tmp_path):
    root = make_project(tmp_path, {f"m{i}.py": FIXABLE for i in range(STOPPED_RUN_FILES)})
    process, workers = start_fix_and_wait_for_first_write(root, "2")
    assert workers, "the run should use worker processes"
    process.kill()
    process.communicate(timeout=60)
    assert_quiet_after_exit(root, workers)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_check_stopped_while_the_engine_parses_exits_as_the_signal_would(tmp_path, jobs):
    """`--jobs 1` runs the engine on a deep-stack thread; a signal may stop the run while that
    thread is inside LibCST's native parser. Half of such runs ended in SIGABRT (the interpreter's
    shutdown ending the thread through Rust frames) before the CLI exited without that shutdown.
    `--jobs 2` lints the module's windows on two workers, which must not outlive the run."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import dense_module
    finally:
        sys.path.pop(0)
    dense_module.write(tmp_path, 12000)  # 360k characters: its LibCST parse and rules take seconds
    signalled = []
    for delay in (0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.8, 2.1, 2.4):  # (a fast machine finishes before the last ones)
        process = session_lint("--no-cache", "--jobs", jobs, str(tmp_path))
        time.sleep(delay)
        workers = children(process.pid) if Path("/proc/self/stat").exists() else []
        if process.poll() is not None:  # finished already (a fast machine): nothing to stop
            process.communicate()
            continue
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert_quiet_after_exit(tmp_path, workers)
        if process.returncode in (0, 1) and not stderr:
            continue  # it finished between the poll and the signal (a busy machine): nothing stopped
        signalled.append((delay, process.returncode, stderr.strip()))
    assert len(signalled) >= 3, signalled
    assert all(code == 130 and stderr == "session-lint: interrupted by SIGINT" for _, code, stderr in signalled), signalled


def test_a_signal_during_a_write_stops_the_run_after_the_write():
    from session_lint.engine.signals import Interrupted, StopOnSignals

    steps = []
    with StopOnSignals() as stop:
        with pytest.raises(Interrupted) as stopped:
            with stop.hold():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler runs here: it must not cut the write short
                steps.append("written")
    assert steps == ["written"] and stopped.value.exit_code == 143
    assert str(Interrupted(signal.SIGINT, 1)) == "interrupted by SIGINT; 1 fixed file written before stopping"
    assert str(Interrupted(signal.SIGTERM)) == "interrupted by SIGTERM"  # a check run writes nothing
    assert signal.getsignal(signal.SIGTERM) != stop._handle  # handlers are restored


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(),
                    reason="the patched lint must reach the workers through fork")
def test_a_crashing_worker_loses_only_its_own_file(tmp_path, monkeypatch):
    from session_lint.engine import parallel

    root = make_project(tmp_path, {**{f"m{i}.py": MANUAL for i in range(8)}, "crash.py": MANUAL})
    real_lint_one = parallel.lint_one

    def lint_one(path, config, options):
        if path.name == "crash.py":  # as a segfault in native code would
            os.kill(os.getpid(), signal.SIGKILL)
        return real_lint_one(path, config, options)
    monkeypatch.setattr(parallel, "lint_one", lint_one)
    config = Config.discover(root)
    jobs = [(path, config) for path in sorted((root / "app").glob("*.py"))]
    outcomes = parallel.run_jobs(jobs, parallel.Options(use_cache=False), workers=2)
    by_name = {Path(o.path).name: o for o in outcomes}
    assert "died" in by_name["crash.py"].error
    assert all(o.error is None and [d.code for d in o.diagnostics] == ["SES001"]
               for name, o in by_name.items() if name.startswith("m"))


# -- deep and long input ----------------------------------------------------------------------

def test_deep_calls_run_on_a_large_stack_and_restore_the_limit(monkeypatch):
    import threading

    from session_lint.engine import deep

    def depth(n: int) -> int:
        return 0 if n == 0 else 1 + depth(n - 1)
    limit = sys.getrecursionlimit()
    assert deep.call_deep(depth, 20_000) == 20_000  # far past the default limit of 1,000
    assert sys.getrecursionlimit() == limit
    with pytest.raises(ZeroDivisionError):  # errors reach the caller
        deep.call_deep(lambda: 1 / 0)

    def refused(size=None):
        raise ValueError("no settable stack size here")
    monkeypatch.setattr(threading, "stack_size", refused)
    assert deep.call_deep(depth, 10) == 10  # runs in place where no large stack can be had
    assert sys.getrecursionlimit() == limit


def test_deep_nesting_is_ses999_and_other_files_keep_their_findings(tmp_path):
    nested = MANUAL + "x = " + "(" * 3000 + "1" + ")" * 3000 + "\n"
    root = make_project(tmp_path, {"nested.py": nested, "a.py": MANUAL, "b.py": MANUAL})
    for jobs in ("1", "2"):
        process = session_lint("--no-cache", "--jobs", jobs, "--output-format", "concise", str(root))
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, (stdout, stderr)  # not 139 (segfault)
        assert "Traceback" not in stderr and "internal error" not in stderr
        found = sorted((Path(line.split(":")[0]).name, line.split()[1]) for line in stdout.splitlines()
                       if ": SES" in line)
        assert found == [("a.py", "SES001"), ("b.py", "SES001"), ("nested.py", "SES999")]
        assert "too deeply nested" in stdout


def test_cpython_depth_limits_are_reported_before_libcst():
    config = Config(root=DATABASE.parent.parent)
    for source in ("x = " + "[" * 1000 + "]" * 1000 + "\n", "x = " + "-" * 20000 + "1\n"):
        diagnostics = lint_source(MANUAL + source, str(DATABASE.parent.parent / "app" / "m.py"), config)
        assert [d.code for d in diagnostics] == ["SES999"]
        assert "too deeply nested" in diagnostics[0].message


def test_long_sum_is_linted(tmp_path):
    source = MANUAL + "x = " + " + ".join(["1"] * 1000) + "\n"
    root = make_project(tmp_path, {"long.py": source})
    process = session_lint("--no-cache", "--output-format", "concise", str(root / "app" / "long.py"))
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1 and stderr == ""
    assert [line.split()[1] for line in stdout.splitlines() if ": SES" in line] == ["SES001"]


def test_long_implicit_string_concatenation_is_linted_and_never_rewritten(tmp_path):
    blob = "BLOB = (\n" + "".join(f'    "part {i}"  # {i}\n' for i in range(5000)) + ")\n"
    source = FIXABLE + blob + "DATA = b'" + "x" * 5000 + "'\n"
    root = make_project(tmp_path, {"blob.py": source})
    target = root / "app" / "blob.py"
    process = session_lint("--no-cache", "--output-format", "concise", str(target))
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1 and stderr == ""
    assert [line.split(":", 1)[1].split()[0:2] for line in stdout.splitlines() if ": SES" in line] == \
        [["5:10:", "SES001"]]  # not a false SES999, and at its real position
    process = session_lint("--no-cache", "--fix", "--unsafe-fixes", str(target))
    process.communicate(timeout=120)
    assert target.read_text() == source  # the blanked strings are never written back


def test_blanked_strings_keep_every_position():
    from session_lint.engine.long_strings import LONG_STRING_CHARS, blank_long_strings

    long_line = "x = '" + "é" * LONG_STRING_CHARS + "'; y = f(1)\n"
    joined = "z = g(\n    'a'\n    'b' \\\n    " + "'c' " * LONG_STRING_CHARS + ")\n"
    triple = 's = """\n' + "line\n" * LONG_STRING_CHARS + '"""\n'
    for source in (long_line, joined, triple):
        blanked = blank_long_strings(source)
        assert blanked is not None and blanked != source
        assert [len(line) for line in blanked.splitlines()] == [len(line) for line in source.splitlines()]
        compile(blanked, "<blanked>", "exec")
    assert blank_long_strings("x = 'short'\n") is None


# -- flake8 -----------------------------------------------------------------------------------

def test_flake8_plugin_turns_an_internal_error_into_ses999(monkeypatch):
    import session_lint.frontends.flake8_plugin as plugin

    def broken(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")
    monkeypatch.setattr(plugin, "run_rules", broken)
    lines = MANUAL.splitlines(keepends=True)
    findings = list(plugin.SessionLintPlugin(None, str(DATABASE.parent.parent / "app" / "m.py"), lines).run())
    assert [(row, message.split()[0]) for row, _, message, _ in findings] == [(1, "SES999")]
    assert "internal error (RecursionError" in findings[0][2]


def test_flake8_plugin_lints_a_long_expression():
    from session_lint.frontends.flake8_plugin import SessionLintPlugin

    source = MANUAL + "x = " + " + ".join(["1"] * 1000) + "\n"
    path = str(DATABASE.parent.parent / "app" / "m.py")
    findings = list(SessionLintPlugin(None, path, source.splitlines(keepends=True)).run())
    assert [message.split()[0] for _, _, message, _ in findings] == ["SES001"]


def test_flake8_run_keeps_every_file_with_a_long_concatenation(tmp_path):
    pytest.importorskip("flake8")
    blob = "BLOB = (\n" + "".join(f'    "part {i}"\n' for i in range(5000)) + ")\n"
    root = make_project(tmp_path, {"blob.py": MANUAL + blob, "plain.py": MANUAL})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "flake8", "--select", "SES", "app"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.stderr == ""
    assert sorted(line.split()[1] + " " + line.split(":")[0] for line in result.stdout.splitlines()) == \
        ["SES001 app/blob.py", "SES001 app/plain.py"]
