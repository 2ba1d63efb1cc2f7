"""--jobs and the cache never change the output: cold, warm, serial and parallel runs are identical."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent.parent))
from bench.generate import generate  # noqa: E402
from session_lint.engine.cache import CACHE_DIR  # noqa: E402
from session_lint.frontends.cli import main  # noqa: E402
from session_lint.engine.parallel import chunks  # noqa: E402


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    generate(root, files=60, seed=3, session_share=0.4, anti_share=0.5, blocks=3)
    (root / "app" / "broken.py").write_text("from sqlalchemy.orm import Session\ndef f(:\n    pass\n")  # SES999
    (root / "app" / "huge.py").write_text("x = (" * 200 + "1" + ")" * 200 + "\n")  # too deeply nested
    return root


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "github", "statistics"])
def test_cold_warm_serial_parallel_identical(tree, output_format):
    fmt = "--statistics" if output_format == "statistics" else f"--output-format={output_format}"
    reference = run(str(tree), "--no-cache", "--jobs", "1", fmt)
    assert reference[0] == 1 and "SES999" in reference[1]
    runs = [
        run(str(tree), "--no-cache", "--jobs", "2", fmt),
        run(str(tree), "--jobs", "2", fmt),  # cold cache
        run(str(tree), "--jobs", "2", fmt),  # warm
        run(str(tree), "--jobs", "1", fmt),  # warm, serial
    ]
    assert (tree / CACHE_DIR / ".gitignore").is_file()
    for result in runs:
        assert result == reference


def test_output_sorted_by_path_line_column(tree):
    _, output = run(str(tree), "--jobs", "2", "--no-cache")
    rows = [line.split(":")[:3] for line in output.splitlines() if ": SES" in line]
    keys = [(path, int(line), int(col)) for path, line, col in rows]
    assert keys == sorted(keys) and len(keys) >= 2


def test_largest_files_first_and_all_jobs_once():
    jobs = [(Path(f"f{i}.py"), None) for i in range(300)]
    sizes = [i * 10 for i in range(300)]
    work = chunks(jobs, sizes, workers=2)
    order = [index for chunk in work for index, _, _ in chunk]
    assert sorted(order) == list(range(300))
    assert order[0] == 299 and all(sizes[a] >= sizes[b] for a, b in zip(order, order[1:]))


def test_fix_runs_in_parallel_too(tmp_path):
    generate(tmp_path, files=30, seed=5, session_share=0.6, anti_share=0.5, blocks=2)
    code, _ = run(str(tmp_path), "--fix", "--jobs", "2")
    assert code in (0, 1)
    assert not (tmp_path / CACHE_DIR).exists()  # fix runs never write the cache
    again = run(str(tmp_path), "--fix", "--jobs", "2")
    assert "fixed" not in again[1].splitlines()[-1] or "0 fixed" in again[1]


LOADED = """
import sys
from click.testing import CliRunner
from session_lint.frontends.cli import main
result = CliRunner().invoke(main, sys.argv[1:])
print(result.exit_code, "libcst" in sys.modules)
"""


def _loads_libcst(*args: str) -> tuple[str, str]:
    import subprocess

    out = subprocess.run([sys.executable, "-c", LOADED, *args], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    return tuple(out.stdout.split())


def test_runs_that_need_no_libcst_do_not_load_it(tree, tmp_path):
    """Start-up matters in pre-commit: a warm run, or one where the screen skips every file,
    never imports LibCST (or the rules); a run that lints a file does."""
    (tmp_path / "util.py").write_text("import requests\n\ndef get():\n    return requests.Session()\n")
    assert _loads_libcst(str(tmp_path / "util.py"), "--jobs", "1") == ("0", "False")
    run(str(tree), "--jobs", "1")  # fills the cache
    assert _loads_libcst(str(tree), "--jobs", "1") == ("1", "False")  # warm: the cache answers
    assert _loads_libcst(str(tree), "--jobs", "1", "--no-cache") == ("1", "True")


CLEAN = "from core.database import get_db_session\n\n\ndef f{i}(uid):\n    with get_db_session() as db:\n" \
        "        return db.get(User, uid).name\n"


def test_a_clean_tree_starts_no_pool_and_loads_no_libcst(tmp_path):
    # every file spells a session name (the prefilter lets it through), none can be reported:
    # screened in the parent, no worker forked, LibCST never imported
    (tmp_path / "app").mkdir()
    for i in range(12):
        (tmp_path / "app" / f"m{i}.py").write_text(CLEAN.format(i=i))
    assert _loads_libcst(str(tmp_path), "--jobs", "2", "--no-cache") == ("0", "False")
    (tmp_path / "app" / "m5.py").write_text("from core.database import SessionLocal\n\n\ndef g():\n"
                                            "    db = SessionLocal()\n    return db\n")  # a manual session
    assert _loads_libcst(str(tmp_path), "--jobs", "2", "--no-cache") == ("1", "True")


def test_the_pool_lints_from_the_first_file_that_needs_the_engine(tmp_path):
    from session_lint.config import Config
    from session_lint.engine import parallel

    (tmp_path / "app").mkdir()
    manual = "from core.database import SessionLocal\n\n\ndef g():\n    db = SessionLocal()\n    return db\n"
    for i in range(10):
        (tmp_path / "app" / f"m{i}.py").write_text(manual if i in (3, 6, 8) else CLEAN.format(i=i))
    config = Config.discover(tmp_path)
    jobs = [(path, config) for path in sorted((tmp_path / "app").glob("*.py"))]
    for workers in (1, 2):
        outcomes = parallel.run_jobs(jobs, parallel.Options(use_cache=False), workers=workers)
        assert [(Path(o.path).name, [(d.line, d.code) for d in o.diagnostics]) for o in outcomes if o.diagnostics] == [
            ("m3.py", [(5, "SES001")]), ("m6.py", [(5, "SES001")]), ("m8.py", [(5, "SES001")])]
