"""Running many files: cache lookup, screen, lint, in a process pool when it pays.

In CHECK mode this (parent) process first looks every file up in the cache
(session_lint/engine/cache.py: read the bytes, hash them, open one entry); only the misses go
further, and a warm run of an unchanged tree ends there: no pool, no screen, no analysis
imported. Per missed file: read the bytes once; screen it (session_lint/engine/screen.py) and
only then pay for LibCST; store the result, a screened-out file's too. Files are handed to the
pool in chunks, largest files first so one big module does not finish last on a single worker;
small files travel in batches to keep inter-process traffic low. Outcomes come back in the
order of the jobs, and the CLI sorts diagnostics by (path, line, column), so output does not
depend on --jobs or on which files were cached. At most one candidate file to lint runs
in-process (no pool start-up). A small tree is screened in this process until a file needs the
engine: a clean tree starts no pool and never imports LibCST. Before forking a pool this process
imports LibCST and the rules once, so that the workers share them instead of importing them each
(same run, default --jobs, CPU: the template 1.54 -> 0.93 s, a clean 40-file tree 0.34 -> 0.23 s).

With --fix, workers return the fixed bytes and only this (parent) process writes, one file at
a time between signals: a stopped run (SIGINT, SIGTERM, even SIGKILL) writes nothing after it
has exited and leaves no half-written file (session_lint/engine/signals.py). A worker that dies breaks
the pool: the files it lost are run again one per process, so only the culprit is an error.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .cache import Cache, Lookups
from ..config import Config
from ..diagnostics import Diagnostic, syntax_error
from .runner import FileOutcome, Mode, process_data, screen_for, write_fixed
from .signals import Interrupted, StopOnSignals, exit_if_orphaned, init_worker
from ..sourcefile import Source, SourceError

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from .screen import ScreenedWindow, Verdict

# multiprocessing and concurrent.futures are imported when a pool starts (a warm run starts none).

_DIED = "{path}: the process linting this file died (a crash in native code or out of memory)"
SMALL_TREE_BYTES = 4 << 20  # below this, count candidates in-process to decide whether a pool pays
CHUNK_FILES = 64  # at most this many files per task
# --fix/--diff cost ~10x a lint per file: small tasks cost little more, and fixed files come back
# (to be written, see _Writer) a few at a time instead of after a whole large chunk.
FIX_CHUNK_FILES = 4
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


def lint_one(path: Path, config: Config, options: Options, workers: int = 1) -> FileOutcome:
    """Everything for one file: read, cache, screen, lint (never raises). A fixed file is
    not written: it comes back in `new_data`, for the parent to write (`_Writer`). Every CHECK
    result is stored, a screened-out file's too (the next run needs no screen for it). `workers`:
    the processes a module linted in windows may use (this process lints nothing else meanwhile)."""
    found = _up_to_the_engine(path, config, options)
    if isinstance(found, FileOutcome):
        return found
    if workers > 1 and options.mode is Mode.CHECK:
        outcome = found.lint_windows_on_pool(workers)
        if outcome is not None:
            return outcome
    return found.lint(options)


@dataclass
class _ForTheEngine:
    """A file read and screened that the engine must lint (a rule may report in it)."""

    path: Path
    data: bytes
    config: Config
    screened: Verdict
    cache: Cache | None
    key: tuple[str, Path] | None

    def lint(self, options: Options) -> FileOutcome:
        outcome = process_data(self.path, self.data, self.config, options.mode, options.unsafe_fixes,
                               options.with_edits, write=False, screened=self.screened)
        return self._stored(outcome)

    def lint_windows_on_pool(self, workers: int) -> FileOutcome | None:
        """CHECK: a module linted in windows (session_lint/engine/windows.py), the windows the screen
        left to LibCST spread over a process pool; None when the file is not such a module, or
        anything but findings comes of it (the in-process path then says what, as for any file)."""
        from concurrent.futures.process import BrokenProcessPool

        if not self.spreads_windows:
            return None
        try:
            with _started_pool(min(workers, len(self.screened.windows))) as pool:
                return self.windows_outcome(pool.map(_lint_window, self.screened.windows, repeat(str(self.path)),
                                                     repeat(self.config)))
        except BrokenProcessPool:
            return FileOutcome(str(self.path), error=_DIED.format(path=self.path))
        except Interrupted:
            raise
        except Exception:  # a bug in a rule: the in-process path reports it with its place
            return None

    @property
    def spreads_windows(self) -> bool:
        """Is it a module linted in windows, with more than one window to lint (`lint_window` tasks)?"""
        return self.screened.windows is not None and len(self.screened.windows) > 1

    def windows_outcome(self, results: Iterable[list[Diagnostic] | Diagnostic | None]) -> FileOutcome | None:
        """The outcome from its windows' `lint_window` results, in order; None when they do not
        settle the file (the in-process path says why)."""
        from .linter import merged_windows

        try:
            text = Source.from_bytes(self.data).text  # (noqa comments are read in it)
        except SourceError:
            return None
        run = merged_windows(text, results)
        if run is None:
            return None
        return self._stored(FileOutcome(str(self.path), run.diagnostics))  # (a window's findings carry no fix)

    def _stored(self, outcome: FileOutcome) -> FileOutcome:
        if self.cache is not None and self.key is not None and outcome.error is None:
            self.cache.put(*self.key, self.data, outcome.diagnostics, True)
        return outcome


def _lint_window(screened: ScreenedWindow, path: str, config: Config):
    """A pool task: `linter.lint_window` (imported in the worker, which has it from the fork)."""
    from .linter import lint_window

    return lint_window(*screened, path, config)


def _up_to_the_engine(path: Path, config: Config, options: Options) -> FileOutcome | _ForTheEngine:
    """Read, look up, screen: the outcome when that settles the file (unreadable, cached, or no
    rule can report: stored as such), else what the engine needs."""
    display = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return FileOutcome(display, [syntax_error(display, f"cannot read file: {exc.strerror or exc}")])
    cache = _cache_for(config, options)
    key = None
    if cache is not None:
        key = cache.key(path, data)
        cached = cache.get(key[0], display)
        if cached is not None:
            return FileOutcome(display, cached)
    screened = screen_for(config, display).verdict(data, display)  # (its prefilter first, then `ast`)
    if screened.may_report:
        return _ForTheEngine(path, data, config, screened, cache, key)
    if cache is not None and key is not None:
        cache.put(*key, data, [], False)
    return FileOutcome(display)


def cached_outcomes(jobs: list[tuple[Path, Config]], options: Options) -> tuple[list[FileOutcome | None],
                                                                              list[Lookups]]:
    """The cache's answer for each job, None for a miss (every job when the cache is off), and the
    lookups to `save` once the misses are linted (the next run's pack, cache.Lookups)."""
    outcomes: list[FileOutcome | None] = [None] * len(jobs)
    if not options.use_cache or options.mode is not Mode.CHECK:
        return outcomes, []
    by_config: dict[int, Lookups] = {}  # by id: hashing a Config for every file adds up
    lookups: dict[int, Lookups] = {}  # one per cache (equal configs share one), so one pack each
    for i, (path, config) in enumerate(jobs):
        lookup = by_config.get(id(config))
        if lookup is None:
            cache = _cache_for(config, options)
            if id(cache) not in lookups:
                lookups[id(cache)] = Lookups(cache)
            lookup = by_config[id(config)] = lookups[id(cache)]
        found = lookup.find(path)
        if found is not None:
            outcomes[i] = FileOutcome(str(path), found)
    return outcomes, list(lookups.values())


def _lint_chunk(chunk: list[tuple[int, Path, Config]], options: Options,
               parent_pid: int) -> list[tuple[int, FileOutcome]]:
    results = []
    for index, path, config in chunk:
        exit_if_orphaned(parent_pid)  # where the kernel cannot kill orphans for us (no prctl)
        results.append((index, lint_one(path, config, options)))
    return results


class _Writer:
    """Writes fixed files in this process, each one whole before a signal stops the run."""

    def __init__(self, jobs: list[tuple[Path, Config]], stop: StopOnSignals) -> None:
        self.jobs = jobs
        self.stop = stop
        self.written = 0

    def take(self, index: int, outcome: FileOutcome) -> FileOutcome:
        if outcome.new_data is not None:
            with self.stop.hold():
                self.written += write_fixed(self.jobs[index][0], outcome)
        return outcome


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _screen_until_the_engine(jobs: list[tuple[Path, Config]], options: Options,
                             outcomes: list[FileOutcome | None], writer: _Writer) -> int:
    """Settle the jobs in order in this process while no rule can report in them; the index of the
    first one the engine must lint (`len(jobs)` when none)."""
    for i, (path, config) in enumerate(jobs):
        found = _up_to_the_engine(path, config, options)
        if not isinstance(found, FileOutcome):
            return i  # (the pool reads and screens it again: one file)
        outcomes[i] = writer.take(i, found)
    return len(jobs)


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


def chunks(jobs: list[tuple[Path, Config]], sizes: list[int], workers: int,
           max_files: int = CHUNK_FILES) -> list[list[tuple[int, Path, Config]]]:
    """Largest files first; big files alone, small ones batched up to CHUNK_BYTES / `max_files`."""
    order = sorted(range(len(jobs)), key=lambda i: (-sizes[i], i))
    budget = max(16 << 10, min(CHUNK_BYTES, sum(sizes) // max(1, workers * 8)))
    result: list[list[tuple[int, Path, Config]]] = []
    current: list[tuple[int, Path, Config]] = []
    current_bytes = 0
    for i in order:
        current.append((i, *jobs[i]))
        current_bytes += sizes[i]
        if current_bytes >= budget or len(current) >= max_files:
            result.append(current)
            current, current_bytes = [], 0
    if current:
        result.append(current)
    return result


def run_jobs(jobs: list[tuple[Path, Config]], options: Options, workers: int | None = None) -> list[FileOutcome]:
    """Outcomes for every (file, config) job, in the order of `jobs`. Raises `Interrupted`
    (with the number of files written) when SIGINT or SIGTERM stops the run."""
    # Parsing allocates millions of short-lived objects: collecting every 700 allocations costs
    # ~25% of an `ast.parse`. Freeze what is loaded (forked workers inherit it) and collect less often.
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    with StopOnSignals() as stop:
        writer = _Writer([], stop)
        try:
            outcomes, lookups = cached_outcomes(jobs, options)
            misses = [i for i, outcome in enumerate(outcomes) if outcome is None]
            if misses:  # only these reach the screen, and the pool if it pays
                writer.jobs = [jobs[i] for i in misses]
                for i, outcome in zip(misses, _run(writer.jobs, options, workers or default_jobs(), writer)):
                    outcomes[i] = outcome
            for lookup in lookups:
                lookup.save()
            return outcomes  # type: ignore[return-value]  (every job has its outcome now)
        except Interrupted as exc:
            raise Interrupted(exc.signum, writer.written if options.mode is Mode.FIX else None) from None
        finally:
            gc.set_threshold(*threshold)
            gc.unfreeze()


def _run(jobs: list[tuple[Path, Config]], options: Options, workers: int, writer: _Writer) -> list[FileOutcome]:
    sizes = [_size(path) for path, _ in jobs]
    if workers <= 1 or len(jobs) <= 1 or _few_candidates(jobs, sizes):
        return [writer.take(i, lint_one(path, config, options, workers)) for i, (path, config) in enumerate(jobs)]
    outcomes: list[FileOutcome | None] = [None] * len(jobs)
    start = 0
    if sum(sizes) <= SMALL_TREE_BYTES:
        # a small tree is screened here until a file needs the engine: where none does (a clean
        # tree), no pool starts and LibCST is never imported; from that file on, the pool lints
        start = _screen_until_the_engine(jobs, options, outcomes, writer)
        if start == len(jobs):
            return outcomes  # type: ignore[return-value]  (every job has its outcome now)
        if _few_candidates(jobs[start + 1:], sizes[start + 1:]):
            for i in range(start, len(jobs)):
                outcomes[i] = writer.take(i, lint_one(*jobs[i], options, workers))
            return outcomes  # type: ignore[return-value]
    rest = list(range(start, len(jobs)))
    spread: list[tuple[int, _ForTheEngine]] = []
    if options.mode is Mode.CHECK:
        rest, spread = _spread_windows(jobs, sizes, rest, options, outcomes, writer)
    work = [[(rest[i], path, config) for i, path, config in chunk] for chunk in chunks(
        [jobs[i] for i in rest], [sizes[i] for i in rest], workers,
        CHUNK_FILES if options.mode is Mode.CHECK else FIX_CHUNK_FILES)]
    tasks = len(work) + sum(len(found.screened.windows) for _, found in spread)
    lost = _run_pool(work, min(workers, tasks), options, outcomes, writer, spread)
    # A dead worker (a crash in native code, out of memory) breaks the pool and loses every chunk
    # not done yet: each of their files runs again in a process of its own, so that only the file
    # that kills its process is reported, and every other file keeps its findings.
    for index, path, config in (job for chunk in lost for job in chunk):
        if _run_pool([[(index, path, config)]], 1, options, outcomes, writer):
            outcomes[index] = FileOutcome(str(path), error=_DIED.format(path=path))
    return [o if o is not None else FileOutcome(str(jobs[i][0])) for i, o in enumerate(outcomes)]


def _spread_windows(jobs: list[tuple[Path, Config]], sizes: list[int], indices: list[int], options: Options,
                    outcomes: list[FileOutcome | None], writer: _Writer) -> tuple[list[int], list[tuple[int, _ForTheEngine]]]:
    """CHECK: the modules linted in windows among `indices`, screened here, so that their windows run
    as pool tasks of their own (a 50,000-line module would otherwise keep one worker busy long after
    the rest is done); returns the other indices, and those modules. A module the screen settles is
    settled here."""
    from .windows import WINDOWED_ABOVE

    rest, spread = [], []
    for index in indices:
        if sizes[index] <= WINDOWED_ABOVE:  # (never fewer bytes than characters)
            rest.append(index)
            continue
        found = _up_to_the_engine(*jobs[index], options)
        if isinstance(found, FileOutcome):
            outcomes[index] = writer.take(index, found)
        elif found.spreads_windows:
            spread.append((index, found))
        else:
            rest.append(index)  # (the pool screens it again: a rare module)
    return rest, spread


@dataclass
class _WindowTasks:
    """The pool tasks linting one module's windows."""

    index: int
    found: _ForTheEngine
    futures: list[Future]
    left: int = 0


def _run_pool(work: list[list[tuple[int, Path, Config]]], workers: int, options: Options,
              outcomes: list[FileOutcome | None], writer: _Writer,
              spread: Iterable[tuple[int, _ForTheEngine]] = ()) -> list[list[tuple[int, Path, Config]]]:
    """Run the chunks, and the windows of the `spread` modules, on a process pool, filling `outcomes`;
    returns the chunks a dead worker lost (a spread module it lost comes back as a chunk of its own)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    lost = []
    with _started_pool(workers) as pool:
        pending: dict[Future, list[tuple[int, Path, Config]] | _WindowTasks] = {}
        for index, found in spread:  # first: a window is a long task, and a module's windows are many
            group = _WindowTasks(index, found, [pool.submit(_lint_window, each, str(found.path), found.config)
                                                for each in found.screened.windows])
            group.left = len(group.futures)
            pending.update((future, group) for future in group.futures)
        pending.update((pool.submit(_lint_chunk, chunk, options, os.getpid()), chunk) for chunk in work)
        while pending:  # write each chunk's fixed files as soon as it is done
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                if isinstance(task, _WindowTasks):
                    task.left -= 1
                    if task.left == 0 and not _collect_windows(task, options, outcomes, writer):
                        lost.append([(task.index, task.found.path, task.found.config)])
                elif not _collect(future, outcomes, writer):
                    lost.append(task)
    return lost


def _collect_windows(group: _WindowTasks, options: Options, outcomes: list[FileOutcome | None],
                     writer: _Writer) -> bool:
    """Take a spread module's outcome once all its windows are done; False when a dead worker lost one."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        outcome = group.found.windows_outcome([future.result() for future in group.futures])
    except BrokenProcessPool:
        return False
    except Exception:  # a bug in a rule: the in-process path below reports it with its place
        outcome = None
    if outcome is None:
        outcome = group.found.lint(options)  # (in this process: says why, as for any file)
    outcomes[group.index] = writer.take(group.index, outcome)
    return True


@contextmanager
def _started_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers die with this process, forked (where the platform can) once LibCST
    and the rules are loaded. Leaving the block normally waits for the workers; any exception (a
    signal's `Interrupted`, a bug) kills them first: no worker outlives the run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    if context is not None:
        _preload_for_workers()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=init_worker, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown(cancel_futures=True)  # (tasks whose results are no longer wanted do not start)


def _preload_for_workers() -> None:
    """Import LibCST, the engine and the rules before forking the workers: each would import them
    on its first candidate (about half a second of CPU apiece); forked, they share this copy."""
    from ..rules import all_rules
    from . import linter  # noqa: F401  (LibCST and its metadata providers)

    all_rules()
    gc.freeze()  # (what was just loaded: the workers' collections never walk it)


def _collect(future: Future, outcomes: list[FileOutcome | None], writer: _Writer) -> bool:
    """Take a chunk's outcomes (writing fixed files); False when a dead worker lost the chunk."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        results = future.result()
    except BrokenProcessPool:
        return False
    for index, outcome in results:
        outcomes[index] = writer.take(index, outcome)
    return True


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers now: waiting for their queued chunks could take minutes."""
    # (the executor has no public way to stop running tasks; `_processes` maps pid -> Process)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=5)
