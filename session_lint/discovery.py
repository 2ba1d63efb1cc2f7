"""Which files to lint: `.py`/`.pyi` under the given paths, minus ignored places.

Skipped: VCS and tool directories, virtualenvs (any directory with a
`pyvenv.cfg`), build output, `node_modules`, paths matched by `.gitignore`
files found on the way down, and the configured `exclude` globs. A file named
explicitly on the command line is linted unless `exclude` matches it.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from pathlib import Path
from typing import Callable, Iterator

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "__pycache__", ".venv", "venv", ".tox", ".nox",
    "build", "dist", "node_modules", ".eggs", ".mypy_cache", ".ruff_cache",
    ".pytest_cache", ".session_lint_cache", "site-packages", "__pypackages__", ".direnv",
})
PYTHON_SUFFIXES = (".py", ".pyi")

Matcher = Callable[[str], bool]  # a path relative to the .gitignore's directory ("dir/" for a directory) -> ignored?


class _GitIgnores:
    """The .gitignore files seen from the walk's root down to the current directory."""

    def __init__(self) -> None:
        self.specs: list[tuple[str, Matcher]] = []  # (directory + "/", its .gitignore)
        self.cache: dict[str, Matcher | None] = {}

    def load(self, directory: str) -> None:
        if directory not in self.cache:
            matcher = None
            gitignore = os.path.join(directory, ".gitignore")
            if os.path.isfile(gitignore):
                try:
                    with open(gitignore, encoding="utf-8", errors="replace") as handle:
                        matcher = gitignore_matcher(handle.read().splitlines())
                except OSError:
                    matcher = None
            self.cache[directory] = matcher
        matcher = self.cache[directory]
        if matcher is not None:
            self.specs.append((directory.rstrip(os.sep) + os.sep, matcher))

    def ignored(self, path: str, is_dir: bool) -> bool:
        """`path`: resolved, as a string (pathlib costs more than the matching)."""
        for base, matches in self.specs:
            if path.startswith(base):
                rel = path[len(base):].replace(os.sep, "/")
                if matches(rel + "/" if is_dir else rel):
                    return True
        return False


_ANYWHERE = "^(?:.+/)?"  # how pathspec starts the regex of a pattern without a slash


def gitignore_matcher(lines: list[str]) -> Matcher:
    """`pathspec.GitIgnoreSpec.from_lines(lines).match_file`, faster: pathspec's regexes for the
    patterns joined into one (compiling 120 patterns one by one and trying each in Python cost
    more than the rest of discovery on dispatch). Exact: when no pattern matches a path, none
    ignores it; when one does and no pattern negates (`!x`), the path is ignored; otherwise
    pathspec itself decides. Anything unexpected in pathspec's regexes (another version's
    named groups, bytes) falls back to pathspec for every path."""
    import pathspec  # only for trees with a .gitignore

    def spec() -> Matcher:
        return pathspec.GitIgnoreSpec.from_lines(lines).match_file

    try:
        translated = [_pattern_class().pattern_to_regex(line) for line in lines]
        patterns = [(regex.replace("(?P<ps_d>", "(?:"), include) for regex, include in translated
                    if include is not None]
        if any(not isinstance(r, str) or "(?P" in r or not r.startswith("^") for r, _ in patterns):
            return spec()
        anywhere = [r[len(_ANYWHERE):] for r, _ in patterns if r.startswith(_ANYWHERE)]
        anchored = [r[1:] for r, _ in patterns if not r.startswith(_ANYWHERE)]
        branches = ([f"(?:.+/)?(?:{'|'.join(anywhere)})"] if anywhere else []) + [f"(?:{r})" for r in anchored]
        combined = re.compile(f"^(?:{'|'.join(branches)})") if branches else None
    except (AttributeError, ImportError, TypeError, ValueError, re.error):
        return spec()
    if combined is None:
        return lambda rel: False
    if all(include for _, include in patterns):
        return lambda rel: combined.match(rel) is not None
    negating: list[Matcher] = []  # pathspec, built the first time a path needs it

    def matches(rel: str) -> bool:
        if combined.match(rel) is None:
            return False
        if not negating:
            negating.append(spec())
        return bool(negating[0](rel))
    return matches


def _pattern_class():
    """The pattern class `GitIgnoreSpec` uses (pathspec 1.x, else 0.11-0.12)."""
    try:
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern
        return GitIgnoreSpecPattern
    except ImportError:
        from pathspec.patterns.gitwildmatch import GitWildMatchPattern
        return GitWildMatchPattern


def _is_skipped_dir(entry: os.DirEntry) -> bool:
    return (entry.name in SKIP_DIRS or entry.name.endswith(".egg-info")
            or Path(entry.path, "pyvenv.cfg").exists())  # (raises when the directory cannot be searched)


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
            ignores.load(str(parent))
        yield from _walk(root, None, ignores, is_excluded, seen, warn_once)


def _walk(directory: Path, resolved_directory: str | None, ignores: _GitIgnores, is_excluded, seen: set[Path],
          warn) -> Iterator[Path]:
    """`resolved_directory`: known below the root (the walk follows no directory symlink)."""
    depth = len(ignores.specs)
    try:
        if resolved_directory is None:
            resolved_directory = str(directory.resolve())
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


def _visit(entry: os.DirEntry, resolved_directory: str, ignores: _GitIgnores, is_excluded,
           seen: set[Path], warn) -> Iterator[Path]:
    """The files to lint at one directory entry (raises OSError/RuntimeError when it cannot be read)."""
    if entry.is_dir(follow_symlinks=False):
        resolved = os.path.join(resolved_directory, entry.name)
        if _is_skipped_dir(entry) or ignores.ignored(resolved, True):
            return
        path = Path(entry.path)
        if not is_excluded(path):
            yield from _walk(path, resolved, ignores, is_excluded, seen, warn)
    elif entry.name.endswith(PYTHON_SUFFIXES) and entry.is_file():
        resolved = str(Path(entry.path).resolve(strict=True)) if entry.is_symlink() \
            else os.path.join(resolved_directory, entry.name)
        if ignores.ignored(resolved, False):
            return
        path = Path(entry.path)
        if is_excluded(path) or path in seen:
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
