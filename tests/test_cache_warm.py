"""The warm path: the parent answers from the cache before any screen, pool or engine, and still
misses whenever the file, its configuration or the project facts it was judged by changed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from session_lint.engine import cache as cache_module
from session_lint.engine.cache import CACHE_DIR
from session_lint.frontends.cli import main

ROOT = Path(__file__).parent.parent

SESSION_MODULE = "from sqlalchemy.orm import sessionmaker\n\nSessionLocal = sessionmaker()\n"
HELPER = """
from contextlib import contextmanager


@contextmanager
def make_session():
    db = SessionLocal()
    try:
        yield db
        db.commit()
    finally:
        db.close()
"""
# Spells no configured name: the screen skips it until the session module defines make_session.
USES_HELPER = """from core.database import make_session


def load(ident):
    with make_session() as db:
        user = db.get(User, ident)
    return user.name
"""
GLOBAL = "from core.database import SessionLocal\n\ndb = SessionLocal()\n"


def make_tree(root: Path) -> Path:
    (root / "pyproject.toml").write_text("[tool.session-lint]\n")
    (root / ".gitignore").write_text("ignored/\n*.tmp.py\n")
    (root / "core").mkdir()
    (root / "core" / "__init__.py").write_text("")
    (root / "core" / "database.py").write_text(SESSION_MODULE)
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "service.py").write_text(USES_HELPER)
    for i in range(6):  # enough files for a pool to pay if anything had to be linted
        (root / "app" / f"job{i}.py").write_text(GLOBAL + f"\n\ndef f{i}():\n    return db\n")
        (root / "app" / f"plain{i}.py").write_text(f"def g{i}():\n    return {i}\n")
    return root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def run_process(*args: str) -> tuple[int, str]:
    """A run in a process of its own (the screen and the analysis memoise per process, by design)."""
    out = subprocess.run([sys.executable, "-m", "session_lint", *args], capture_output=True, text=True, cwd=ROOT)
    return out.returncode, out.stdout


LOADED = """
import sys
from click.testing import CliRunner
from session_lint.frontends.cli import main
result = CliRunner().invoke(main, sys.argv[1:])
heavy = ("libcst", "session_lint.analysis", "session_lint.engine.screen", "session_lint.engine.linter",
         "session_lint.rules.ses", "concurrent.futures.process", "multiprocessing")
print(result.exit_code, sorted({h for h in heavy for m in sys.modules if m == h or m.startswith(h)}))
"""


def loaded_modules(*args: str) -> str:
    out = subprocess.run([sys.executable, "-c", LOADED, *args], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return out.stdout.strip()


def test_warm_run_loads_no_engine_screen_analysis_or_pool(tmp_path):
    """Every file is a hit: no LibCST, no rule, no screen (it reads the session module), no analysis,
    and no worker pool, whatever --jobs says."""
    tree = make_tree(tmp_path)
    cold = loaded_modules(str(tree), "--jobs", "2")  # (LibCST is loaded by the workers)
    assert cold.startswith("1 ") and "concurrent.futures.process" in cold and "session_lint.analysis" in cold
    assert loaded_modules(str(tree), "--jobs", "2") == "1 []"
    assert loaded_modules(str(tree), "--jobs", "2", "--output-format", "json") != "1 []"  # its own cache
    assert loaded_modules(str(tree), "--jobs", "2", "--output-format", "json") == "1 []"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_screened_out_file_misses_when_the_session_module_changes(tmp_path, jobs):
    """A file the screen skipped is cached too, and judged again when the session module gains a
    helper that makes it a candidate (the screen's words come from there)."""
    tree = make_tree(tmp_path)
    first = run_process(str(tree), "--jobs", jobs, "--output-format", "concise")
    assert "service.py" not in first[1] and "job0.py" in first[1]
    assert run_process(str(tree), "--jobs", jobs, "--output-format", "concise") == first  # warm
    with open(tree / "core" / "database.py", "a") as handle:
        handle.write(HELPER)
    code, out = run_process(str(tree), "--jobs", jobs, "--output-format", "concise")
    assert "service.py:7:12: SES005" in out
    assert run_process(str(tree), "--jobs", jobs, "--output-format", "concise", "--no-cache") == (code, out)


def test_changed_file_and_changed_config_miss(tmp_path):
    tree = make_tree(tmp_path)
    first = run(str(tree), "--output-format", "concise")
    (tree / "app" / "job0.py").write_text("def f0():\n    return 0\n")
    second = run(str(tree), "--output-format", "concise")
    assert "job0.py" in first[1] and "job0.py" not in second[1] and "job1.py" in second[1]
    (tree / "pyproject.toml").write_text('[tool.session-lint]\nignore = ["SES002"]\n')
    assert run(str(tree), "--output-format", "concise") == run(str(tree), "--output-format", "concise", "--no-cache")
    assert "SES002" not in run(str(tree), "--output-format", "concise")[1]


def packs(root: Path) -> list[Path]:
    return sorted((root / CACHE_DIR).rglob("pack-*"))


def test_pack_spares_reading_unchanged_files(tmp_path, monkeypatch):
    """A warm run with the pack neither reads nor hashes a file whose stat is unchanged."""
    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # (the files were written a moment ago)
    tree = make_tree(tmp_path)
    first = run(str(tree), "--jobs", "1")
    assert len(packs(tree)) == 1

    def no_hashing(*args, **kwargs):
        raise AssertionError("an unchanged file was read and hashed")
    with monkeypatch.context() as patched:
        patched.setattr(cache_module.Cache, "key", no_hashing)
        assert run(str(tree), "--jobs", "1") == first
    (tree / "app" / "job1.py").write_text("def f1():\n    return 1\n")  # another size: a new stat
    assert "job1.py" not in run(str(tree), "--jobs", "1")[1]


def test_recent_signatures_are_not_recorded(tmp_path):
    """Racy files (git's term): a file changed within the same timestamp tick as the pack's own
    reading could look unchanged to a stat, so a signature taken less than RACY_NS ago is not kept."""
    tree = make_tree(tmp_path)
    run(str(tree), "--jobs", "1")
    [pack] = packs(tree)
    import pickle

    entries = pickle.loads(pack.read_bytes())
    assert len(entries) == 16 and all(signature is None for signature, *_ in entries.values())


def test_unreadable_pack_is_ignored(tmp_path):
    tree = make_tree(tmp_path)
    first = run(str(tree), "--jobs", "1")
    for pack in packs(tree):
        pack.write_bytes(b"\x80\x04garbage")
    assert run(str(tree), "--jobs", "1") == first
    assert run(str(tree), "--jobs", "1", "--no-cache") == first


def test_rule_names_read_from_source_match_the_classes():
    """The output formats name a finding's rule from `rule_names()` (no LibCST): the same names and
    documentation URLs as the rule classes."""
    from session_lint.rules import all_rules, docs_url, rule_names

    assert rule_names() == {rule.code: rule.name for rule in all_rules()}
    assert all(docs_url(rule.code, rule.name) == rule.url() for rule in all_rules())
