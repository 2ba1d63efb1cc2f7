"""Running many files: cache lookup, screen, lint, in a process pool when it pays.

Per file: read the bytes once; a file the prefilter skips is done (no cache entry:
the byte regex costs what a lookup costs); in CHECK mode look the result up in the cache
(session_lint/cache.py); otherwise screen it (session_lint/screen.py) and only then
pay for LibCST. Files are handed to the pool in chunks, largest files first so one
big module does not finish last on a single worker; small files travel in batches
to keep inter-process traffic low. Outcomes come back in the order of the jobs, and
the CLI sorts diagnostics by (path, line, column), so output does not depend on
--jobs. A tree with at most one candidate file runs in-process (no pool start-up).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache
from .config import Config
from .diagnostics import syntax_error
from .runner import FileOutcome, Mode, process_data, screen_for

SMALL_TREE_BYTES = 4 << 20  # below this, count candidates in-process to decide whether a pool pays
CHUNK_FILES = 64  # at most this many files per task
CHUNK_BYTES = 256 << 10  # a task's files add up to about this much source


@dataclass(frozen=True)
class Options:
    mode: Mode = Mode.CHECK
    unsafe_fixes: bool = False
    with_edits: bool = False
    use_cache: bool = True


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_caches: dict[tuple, Cache] = {}


def _cache_for(config: Config, options: Options) -> Cache | None:
    if not options.use_cache or options.mode is not Mode.CHECK:
        return None  # fixes must always run; only CHECK results are cached
    key = (config, config.root, options.with_edits)  # Config equality ignores its root
    if key not in _caches:
        _caches[key] = Cache(config, options.with_edits)
    return _caches[key]


def lint_one(path: Path, config: Config, options: Options) -> FileOutcome:
    """Everything for one file: read, cache, screen, lint (never raises)."""
    display = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return FileOutcome(display, [syntax_error(display, f"cannot read file: {exc.strerror or exc}")])
    screen = screen_for(config, display)
    if not screen.prefilter(data, display):
        return FileOutcome(display)  # the byte regex is as cheap as a cache lookup: nothing to store
    cache = _cache_for(config, options)
    if cache is not None:
        key, resolved = cache.key(path, data)
        cached = cache.get(key, display)
        if cached is not None:
            return FileOutcome(display, cached)
    if not screen.check(data, display):
        outcome, linted = FileOutcome(display), False
    else:
        outcome = process_data(path, data, config, options.mode, options.unsafe_fixes, options.with_edits,
                               screen=False)
        linted = True
    if cache is not None and outcome.error is None:
        cache.put(key, resolved, data, outcome.diagnostics, linted)
    return outcome


def _lint_chunk(chunk: list[tuple[int, Path, Config]], options: Options) -> list[tuple[int, FileOutcome]]:
    return [(index, lint_one(path, config, options)) for index, path, config in chunk]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _few_candidates(jobs: list[tuple[Path, Config]], sizes: list[int]) -> bool:
    """Small trees: at most one file passes the prefilter, so a pool cannot help."""
    if sum(sizes) > SMALL_TREE_BYTES:
        return False
    candidates = 0
    for path, config in jobs:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        candidates += screen_for(config, str(path)).prefilter(data, str(path))
        if candidates > 1:
            return False
    return True


def chunks(jobs: list[tuple[Path, Config]], sizes: list[int], workers: int) -> list[list[tuple[int, Path, Config]]]:
    """Largest files first; big files alone, small ones batched up to CHUNK_BYTES / CHUNK_FILES."""
    order = sorted(range(len(jobs)), key=lambda i: (-sizes[i], i))
    budget = max(16 << 10, min(CHUNK_BYTES, sum(sizes) // max(1, workers * 8)))
    result: list[list[tuple[int, Path, Config]]] = []
    current: list[tuple[int, Path, Config]] = []
    current_bytes = 0
    for i in order:
        current.append((i, *jobs[i]))
        current_bytes += sizes[i]
        if current_bytes >= budget or len(current) >= CHUNK_FILES:
            result.append(current)
            current, current_bytes = [], 0
    if current:
        result.append(current)
    return result


def run_jobs(jobs: list[tuple[Path, Config]], options: Options, workers: int | None = None) -> list[FileOutcome]:
    """Outcomes for every (file, config) job, in the order of `jobs`."""
    # Parsing allocates millions of short-lived objects: collecting every 700 allocations costs
    # ~25% of an `ast.parse`. Freeze what is loaded (forked workers inherit it) and collect less often.
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        return _run(jobs, options, workers or default_jobs())
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _run(jobs: list[tuple[Path, Config]], options: Options, workers: int) -> list[FileOutcome]:
    sizes = [_size(path) for path, _ in jobs]
    if workers <= 1 or len(jobs) <= 1 or _few_candidates(jobs, sizes):
        return [lint_one(path, config, options) for path, config in jobs]
    outcomes: list[FileOutcome | None] = [None] * len(jobs)
    work = chunks(jobs, sizes, workers)
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=min(workers, len(work)), mp_context=context) as pool:
        futures = [(chunk, pool.submit(_lint_chunk, chunk, options)) for chunk in work]
        for chunk, future in futures:
            try:
                for index, outcome in future.result():
                    outcomes[index] = outcome
            except BrokenProcessPool as exc:  # a worker died (out of memory, a crash in native code)
                for index, path, _ in chunk:
                    outcomes[index] = FileOutcome(str(path), error=f"{path}: worker process died ({exc})")
    return [o if o is not None else FileOutcome(str(jobs[i][0])) for i, o in enumerate(outcomes)]

