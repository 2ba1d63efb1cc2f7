"""Per-file result cache: a warm re-run of an unchanged tree only reads and hashes files.

An entry holds the CHECK-mode diagnostics of one file, keyed by a blake2b hash of
the file's bytes, its resolved path and module name, the configuration, the output
needs (JSON edits or not) and the tool itself (version + the mtimes/sizes of its own
modules, so a changed rule never serves stale results). Fix and diff runs never use it.

Rules may look at other project modules (SES004 checks a name exists in the new
module, SES003 reads `SessionDep = Annotated[...]` aliases from the module that
defines them). So an entry also records the (mtime, size) of the project modules the
linted file imports, found the way the rules find them (`project.find_module_source`),
and, for a test module, the conftest.py files its fixtures come from; it is a miss when one of
them changed. Every entry, even one for a file the screen skipped, also depends on the
`session-module` (the screen's words include the helpers and factory methods it defines).

Every file gets an entry, also one the prefilter skips: a warm run then looks each file up
before any screen, so it never builds a screen (which reads the session module) nor loads
the analysis, and it starts no worker pool when every file is a hit (engine/parallel.py).

Layout (like ruff's): `<config root>/.session_lint_cache/` with a `.gitignore` holding
`*` and a CACHEDIR.TAG, entries in `v2/<2 hex>/<key>`. Each entry is written to a
temporary file and renamed into place, so concurrent runs never see half an entry;
an unreadable or corrupt entry is a miss and is overwritten.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

from .. import __version__
from ..config import Config

try:  # hashlib loads OpenSSL (a few ms of a warm run) to hand out the blake2b of _blake2
    from _blake2 import blake2b
except ImportError:  # pragma: no cover  (another Python implementation)
    from hashlib import blake2b
from ..diagnostics import Diagnostic

# The analysis (project modules, imports, fixtures) is imported by `project_dependencies`, which
# only a miss needs: a warm run looks entries up without it.

CACHE_DIR = ".session_lint_cache"
_FORMAT = "v2"  # v2: an entry for every file, the session module a dependency of each
_CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                 "# This file is a cache directory tag created by session-lint.\n")

Deps = tuple[tuple[str, int, int], ...]  # (path, mtime_ns, size) of project modules a result depends on
Stats = dict[str, "tuple[int, int] | None"]  # path -> (mtime_ns, size), None when it cannot be stat()ed


@lru_cache(maxsize=1)
def tool_fingerprint() -> str:
    """The version plus the size/mtime of every module of session_lint (rules change during development)."""
    package = Path(__file__).parent
    h = blake2b(__version__.encode(), digest_size=16)
    for file in sorted(package.rglob("*.py")):
        st = file.stat()
        h.update(f"{file.relative_to(package)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def config_fingerprint(config: Config) -> str:
    values = [(f.name, getattr(config, f.name)) for f in fields(config)]
    return repr(values)


@lru_cache(maxsize=4096)
def _package(directory: Path) -> str:
    """The dotted package of a directory (names.module_name_for's package chain), memoised per directory."""
    if (directory / "__init__.py").exists() or (directory / "__init__.pyi").exists():
        parent = directory.parent
        if parent == directory:
            return directory.name
        outer = _package(parent)
        return f"{outer}.{directory.name}" if outer else directory.name
    return ""


@lru_cache(maxsize=4096)
def _package_of(directory: str) -> str:
    return _package(Path(directory))


class Cache:
    """The cache for one configuration (one config root) and one kind of output."""

    def __init__(self, config: Config, with_edits: bool) -> None:
        root = config.root or Path.cwd()
        self.base = root / CACHE_DIR
        self.directory = self.base / _FORMAT
        self.config = config
        salt = blake2b(digest_size=32)
        salt.update(tool_fingerprint().encode())
        salt.update(config_fingerprint(config).encode())
        salt.update(b"edits" if with_edits else b"plain")
        self.salt = salt.digest()

    def key(self, path: Path, data: bytes) -> tuple[str, Path]:
        resolved = Path(os.path.abspath(path))
        h = blake2b(self.salt, digest_size=32)
        h.update(f"{resolved}\0{_package(resolved.parent)}\0".encode())
        h.update(data)
        return h.hexdigest(), resolved

    def _entry(self, key: str) -> Path:
        return self.directory / key[:2] / key

    def load(self, key: str) -> tuple[Deps, list[Diagnostic]] | None:
        """The entry stored under `key` (its dependencies not checked), or None."""
        try:
            with open(self._entry(key), "rb") as handle:
                stored_key, deps, diagnostics = pickle.load(handle)
        except FileNotFoundError:
            return None
        except Exception:  # corrupt, truncated or from another format: a miss (overwritten later)
            return None
        return (deps, diagnostics) if stored_key == key else None

    def get(self, key: str, display: str) -> list[Diagnostic] | None:
        """The stored diagnostics, or None (a miss)."""
        stored = self.load(key)
        if stored is None or not _deps_unchanged(stored[0], {}):
            return None
        return _shown_as(stored[1], display)

    def put(self, key: str, path: Path, data: bytes, diagnostics: list[Diagnostic], linted: bool) -> None:
        """Store a result; `linted` says whether LibCST ran (only then does it depend on the file's imports)."""
        deps = project_dependencies(path, data, self.config, linted)
        self.write(self._entry(key), (key, deps, diagnostics))

    def write(self, target: Path, value: object) -> None:
        """Pickle `value` to `target` atomically; never fails the run."""
        try:
            self._prepare(target.parent)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, target)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except (OSError, pickle.PicklingError):
            pass  # a read-only tree or a full disk must not fail the lint run

    def _prepare(self, directory: Path) -> None:
        if directory.is_dir():
            return
        if not self.base.is_dir():
            self.base.mkdir(parents=True, exist_ok=True)
            for name, text in ((".gitignore", "# Automatically created by session-lint.\n*\n"),
                               ("CACHEDIR.TAG", _CACHEDIR_TAG)):
                target = self.base / name
                if not target.exists():
                    _write_atomic_text(target, text)
        directory.mkdir(parents=True, exist_ok=True)


def _write_atomic_text(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, target)


def _shown_as(diagnostics: list[Diagnostic], display: str) -> list[Diagnostic]:
    for diagnostic in diagnostics:
        diagnostic.path = display  # the same file may be named differently on the command line
    return diagnostics


Signature = tuple[int, int, int, int]  # a file's (mtime_ns, size, inode, ctime_ns)
PackEntry = tuple["Signature | None", str, str, Deps, "list[Diagnostic]"]  # signature, package, key, entry
RACY_NS = 2_000_000_000


class Lookups:
    """One run's lookups in one cache, and the pack they leave for the next run.

    The pack (`v2/pack-<salt>`, one per cache) holds, for every file a run looked up, its stat
    signature (mtime, size, inode, ctime), its package, its key and its entry. A file whose
    signature and package are the recorded ones is not even read (a warm run then costs a stat
    per file and one pickle); any other file is read and hashed as without the pack. As git does
    with its index, a signature less than two seconds older than the pack is not recorded (None):
    a file rewritten within the same timestamp tick, same size, would look unchanged. Only the
    parent process reads and writes packs; a pack lost to a concurrent run costs one slower run.
    """

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.path = cache.directory / f"pack-{cache.salt.hex()[:32]}"
        try:
            with open(self.path, "rb") as handle:
                self.packed: dict[str, PackEntry] = pickle.load(handle)
        except Exception:  # none yet, corrupt or from another format: every file is read
            self.packed = {}
        self.seen: dict[str, PackEntry] = {}
        self.missed: dict[str, tuple[Signature, str, str]] = {}  # to be linted: signature, package, key
        self.stats: Stats = {}  # dependencies stat()ed in this run (many entries share the session module)

    def find(self, path: Path) -> list[Diagnostic] | None:
        """The cached diagnostics of `path`, or None (a miss: lint it, then `save`)."""
        resolved = os.path.abspath(path)
        try:
            st = os.stat(resolved)
        except OSError:
            return None
        signature = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
        package = _package_of(os.path.dirname(resolved))
        packed = self.packed.get(resolved)
        if packed is not None and packed[0] == signature and packed[1] == package:
            key = packed[2]
        else:
            try:
                with open(resolved, "rb") as handle:
                    key = self.cache.key(path, handle.read())[0]
            except OSError:
                return None
        stored = packed[3:] if packed is not None and packed[2] == key else self.cache.load(key)
        if stored is None or not _deps_unchanged(stored[0], self.stats):
            self.missed[resolved] = (signature, package, key)
            return None
        self.seen[resolved] = (signature, package, key, *stored)
        return _shown_as(stored[1], str(path))

    def save(self) -> None:
        """Write the next pack, when this run's answers differ from the one read: the misses with
        the entries their lint stored, recorded signatures, files gone."""
        for resolved, (signature, package, key) in self.missed.items():
            stored = self.cache.load(key)
            if stored is not None:
                self.seen[resolved] = (signature, package, key, *stored)
        if not self.missed and all(self.packed.get(p, ())[:3] == e[:3] for p, e in self.seen.items()):
            return  # (files gone since are dropped the next time a pack is written)
        recent = time.time_ns() - RACY_NS
        pack = {p: e for p, e in self.packed.items() if p not in self.seen and os.path.exists(p)}
        for resolved, (signature, *rest) in self.seen.items():
            racy = signature is None or signature[0] >= recent or signature[3] >= recent
            pack[resolved] = (None if racy else signature, *rest)
        self.cache.write(self.path, pack)


def _deps_unchanged(deps: Deps, stats: Stats) -> bool:
    for dep, mtime_ns, size in deps:
        if dep not in stats:
            try:
                st = os.stat(dep)
                stats[dep] = (st.st_mtime_ns, st.st_size)
            except OSError:
                stats[dep] = None
        if stats[dep] != (mtime_ns, size):
            return False
    return True


def project_dependencies(path: Path, data: bytes, config: Config, linted: bool = True) -> Deps:
    """The project modules a result for `path` may depend on: the session module (the screen reads
    its helpers), a test module's conftest.py files, and when LibCST ran (`linted`) every module
    the file imports (and `module.name` for `from module import name`) and the deprecated
    table's new modules."""
    from ..analysis.ast_imports import imported_names
    from ..analysis.project import find_module_source, search_roots
    from ..analysis.pytest_fixtures import conftest_chain
    from ..discovery import is_project_test_path
    from .windows import Unparsable, module_nodes

    dotted: set[str] = {config.session_module}
    if linted:
        package = _package(Path(os.path.abspath(path)).parent)
        dotted |= {new.rpartition(".")[0] for _, new in config.deprecated} | {new for _, new in config.deprecated}
        try:  # (a huge module is parsed a piece at a time: session_lint/engine/windows.py)
            for imported in imported_names(module_nodes(data), package):
                if not imported.is_from:
                    dotted.add(imported.written)
                elif imported.module:
                    dotted.add(imported.module)
                    if not imported.is_star:
                        dotted.add(f"{imported.module}.{imported.name}")
        except Unparsable:
            pass
    try:
        roots = search_roots(path, config.root)
    except OSError:
        return ()
    found: dict[str, tuple[str, int, int]] = {}
    sources = [find_module_source(name, roots) for name in sorted(d for d in dotted if d)]
    # the screen reads the session module from these roots (engine/screen.py, `_unlisted_helpers`)
    screen_roots = tuple(dict.fromkeys(p.resolve() for p in (config.root, Path.cwd()) if p is not None))
    sources.append(find_module_source(config.session_module, screen_roots) if config.session_module else None)
    if is_project_test_path(path, config.root):  # its fixtures' sessions are read from these
        sources += conftest_chain(Path(path).resolve(), config.root.resolve() if config.root else None)
    for source in sources:
        if source is not None and str(source) not in found:
            st = source.stat()
            found[str(source)] = (str(source), st.st_mtime_ns, st.st_size)
    return tuple(found.values())
