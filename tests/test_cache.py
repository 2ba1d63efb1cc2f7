"""The result cache: keyed by content + configuration + tool, atomic, robust to corruption."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from session_lint.engine.cache import CACHE_DIR, Cache
from session_lint.config import Config
from session_lint.diagnostics import Applicability, Diagnostic, Fix
from session_lint.engine.parallel import Options, lint_one

DEPRECATED = "from core.database_manager import get_db_session\n"


def make_project(tmp_path: Path) -> tuple[Path, Config]:
    (tmp_path / "pyproject.toml").write_text("[tool.session-lint]\n")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "database.py").write_text("def get_db_session(): ...\n")
    (tmp_path / "app.py").write_text(DEPRECATED)
    return tmp_path / "app.py", Config.discover(tmp_path)


def diagnostic(path: str = "a.py") -> Diagnostic:
    return Diagnostic("SES004", "message", path, 1, 1, 1, 10, fix=Fix(Applicability.SAFE, "fix it"))


def entries(root: Path) -> list[Path]:
    return [p for p in (root / CACHE_DIR).rglob("*") if p.is_file() and p.parent.name != CACHE_DIR]


def test_round_trip_and_gitignore(tmp_path):
    file, cfg = make_project(tmp_path)
    cache = Cache(cfg, with_edits=False)
    key, resolved = cache.key(file, file.read_bytes())
    assert cache.get(key, "x.py") is None
    cache.put(key, resolved, file.read_bytes(), [diagnostic()], linted=False)
    [found] = cache.get(key, "shown/as.py")
    assert (found.code, found.path, found.fix.message) == ("SES004", "shown/as.py", "fix it")
    assert (tmp_path / CACHE_DIR / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (tmp_path / CACHE_DIR / "CACHEDIR.TAG").is_file()


def test_key_depends_on_content_config_and_output(tmp_path):
    file, cfg = make_project(tmp_path)
    data = file.read_bytes()
    key = Cache(cfg, False).key(file, data)[0]
    assert Cache(cfg, False).key(file, data)[0] == key
    assert Cache(cfg, False).key(file, data + b"\n")[0] != key
    assert Cache(replace(cfg, dependency="get_session"), False).key(file, data)[0] != key
    assert Cache(cfg, True).key(file, data)[0] != key


def test_corrupt_entry_is_a_miss_and_is_overwritten(tmp_path):
    file, cfg = make_project(tmp_path)
    options = Options()
    first = lint_one(file, cfg, options).diagnostics
    [entry] = entries(tmp_path)
    entry.write_bytes(b"\x80\x04garbage")
    assert lint_one(file, cfg, options).diagnostics == first
    assert lint_one(file, cfg, options).diagnostics == first
    assert entry.read_bytes() != b"\x80\x04garbage"


def test_warm_run_does_not_lint(tmp_path, monkeypatch):
    file, cfg = make_project(tmp_path)
    cold = lint_one(file, cfg, Options()).diagnostics
    assert [d.code for d in cold] == ["SES004"]
    import session_lint.engine.parallel as parallel

    def boom(*args, **kwargs):
        raise AssertionError("a warm run must not lint")
    monkeypatch.setattr(parallel, "process_data", boom)
    assert [(d.code, d.line, d.message) for d in lint_one(file, cfg, Options()).diagnostics] == \
        [(d.code, d.line, d.message) for d in cold]


def test_changed_imported_module_invalidates(tmp_path):
    """SES004's fix depends on the new module's names: editing that module is a miss."""
    file, cfg = make_project(tmp_path)
    options = Options()
    assert lint_one(file, cfg, options).diagnostics[0].fix is not None  # get_db_session exists there
    (tmp_path / "core" / "database.py").write_text("def something_else(): ...\n# changed\n")
    assert lint_one(file, cfg, options).diagnostics[0].fix is None


def test_fix_mode_and_no_cache_do_not_touch_the_cache(tmp_path):
    from session_lint.engine.runner import Mode
    file, cfg = make_project(tmp_path)
    lint_one(file, cfg, Options(mode=Mode.DIFF))
    lint_one(file, cfg, Options(use_cache=False))
    assert not (tmp_path / CACHE_DIR).exists()


def test_unwritable_cache_is_ignored(tmp_path):
    file, cfg = make_project(tmp_path)
    (tmp_path / CACHE_DIR).write_text("not a directory")
    assert [d.code for d in lint_one(file, cfg, Options()).diagnostics] == ["SES004"]
