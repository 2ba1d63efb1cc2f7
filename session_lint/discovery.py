"""Which files to lint: `.py`/`.pyi` under the given paths, minus ignored places.

Skipped: VCS and tool directories, virtualenvs (any directory with a
`pyvenv.cfg`), build output, `node_modules`, paths matched by `.gitignore`
files found on the way down, and the configured `exclude` globs. A file named
explicitly on the command line is linted unless `exclude` matches it.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Callable, Iterator

import pathspec

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "__pycache__", ".venv", "venv", ".tox", ".nox",
    "build", "dist", "node_modules", ".eggs", ".mypy_cache", ".ruff_cache",
    ".pytest_cache", ".session_lint_cache", "site-packages", "__pypackages__", ".direnv",
})
PYTHON_SUFFIXES = (".py", ".pyi")


class _GitIgnores:
    """The .gitignore files seen from the walk's root down to the current directory."""

    def __init__(self) -> None:
        self.specs: list[tuple[Path, pathspec.PathSpec]] = []
        self.cache: dict[Path, pathspec.PathSpec | None] = {}

    def load(self, directory: Path) -> None:
        if directory not in self.cache:
            spec = None
            gitignore = directory / ".gitignore"
            if gitignore.is_file():
                try:
                    lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
                    spec = pathspec.GitIgnoreSpec.from_lines(lines)
                except OSError:
                    spec = None
            self.cache[directory] = spec
        spec = self.cache[directory]
        if spec is not None:
            self.specs.append((directory, spec))

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for base, spec in self.specs:
            try:
                rel = path.relative_to(base).as_posix()
            except ValueError:
                continue
            if spec.match_file(rel + "/" if is_dir else rel):
                return True
        return False


def _is_skipped_dir(path: Path) -> bool:
    return path.name in SKIP_DIRS or path.name.endswith(".egg-info") or (path / "pyvenv.cfg").exists()


def warn_to_stderr(path: Path, reason: str) -> None:
    print(f"warning: skipping {path}: {reason}", file=sys.stderr)


def _reason(exc: Exception) -> str:
    """Why a path could not be walked, in a few words (pathlib reports a loop as RuntimeError)."""
    if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        return "symlink loop"
    return getattr(exc, "strerror", None) or str(exc)


def discover(paths: list[Path], is_excluded: Callable[[Path], bool],
             warn: Callable[[Path, str], None] = warn_to_stderr) -> Iterator[Path]:
    """Files to lint, each once, in a stable order. A path that cannot be walked (a symlink
    loop, an unreadable directory) is passed to `warn` once and skipped; the walk goes on."""
    seen: set[Path] = set()
    warned: set[Path] = set()

    def warn_once(path: Path, reason: str) -> None:
        if path not in warned:
            warned.add(path)
            warn(path, reason)

    for root in paths:
        if root.is_file():
            if not is_excluded(root) and root not in seen:
                seen.add(root)
                yield root
            continue
        ignores = _GitIgnores()
        for parent in reversed(root.resolve().parents):  # .gitignore files above the root apply too
            ignores.load(parent)
        yield from _walk(root, ignores, is_excluded, seen, warn_once)


def _walk(directory: Path, ignores: _GitIgnores, is_excluded, seen: set[Path], warn) -> Iterator[Path]:
    depth = len(ignores.specs)
    try:
        resolved_directory = directory.resolve()
        ignores.load(resolved_directory)
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (OSError, RuntimeError) as exc:
        warn(directory, _reason(exc))
        entries = []
    for entry in entries:
        try:
            yield from _visit(entry, resolved_directory, ignores, is_excluded, seen, warn)
        except (OSError, RuntimeError) as exc:
            warn(Path(entry.path), _reason(exc))
    del ignores.specs[depth:]


def _visit(entry: os.DirEntry, resolved_directory: Path, ignores: _GitIgnores, is_excluded,
           seen: set[Path], warn) -> Iterator[Path]:
    """The files to lint at one directory entry (raises OSError/RuntimeError when it cannot be read)."""
    path = Path(entry.path)
    if entry.is_dir(follow_symlinks=False):
        resolved = resolved_directory / entry.name
        if _is_skipped_dir(path) or ignores.ignored(resolved, True) or is_excluded(path):
            return
        yield from _walk(path, ignores, is_excluded, seen, warn)
    elif entry.name.endswith(PYTHON_SUFFIXES) and entry.is_file():
        resolved = path.resolve(strict=True) if entry.is_symlink() else resolved_directory / entry.name
        if ignores.ignored(resolved, False) or is_excluded(path) or path in seen:
            return
        seen.add(path)
        yield path


def is_test_path(path: str | Path) -> bool:
    """A test module or fixture file: under a `tests`/`test`/`testing` directory, `test_*.py`,
    `*_test.py` or `conftest.py` (fixes leave the sessions of tests alone; --init ignores them)."""
    parts = Path(path).parts
    name = parts[-1] if parts else ""
    return (any(p in {"tests", "test", "testing"} for p in parts[:-1]) or name == "conftest.py"
            or name.startswith("test_") or name.endswith("_test.py"))


def is_project_test_path(path: str | Path, root: Path | None) -> bool:
    """`is_test_path` for the path below the configuration's root (the whole resolved path when
    outside it): a project checked out under a directory named `tests` is not all tests."""
    resolved = Path(path).resolve()
    if root is not None:
        try:
            return is_test_path(resolved.relative_to(Path(root).resolve()))
        except ValueError:
            pass
    return is_test_path(resolved)
