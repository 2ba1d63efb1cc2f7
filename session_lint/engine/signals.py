"""Stopping a run cleanly: SIGINT / SIGTERM in the parent, and workers that never outlive it.

With --fix only the parent process writes files (workers return the fixed bytes, see
session_lint/engine/parallel.py), so once the command has exited nothing is written any more, and
a signal handled between two writes never leaves a half-written file:

- `StopOnSignals` turns SIGINT / SIGTERM into `Interrupted`, raised in the main thread; while a
  file is being written (`hold()`) the signal is noted and raised right after the write.
- Workers ignore SIGINT (Ctrl-C reaches the whole process group; the parent stops them), die on
  SIGTERM, and on Linux are killed by the kernel when the parent dies, even by SIGKILL
  (PR_SET_PDEATHSIG). Elsewhere they notice an orphaned state before each file and exit.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class Interrupted(Exception):
    """The run was stopped by a signal; `written` files were fixed before it arrived (None: the
    run writes no files)."""

    def __init__(self, signum: int, written: int | None = None) -> None:
        super().__init__(signum, written)
        self.signum = signum
        self.written = written

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process killed by that signal

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        if self.written is None:
            return f"interrupted by {name}"
        files = f"{self.written} fixed file{'s' if self.written != 1 else ''}"
        return f"interrupted by {name}; {files} written before stopping"


class StopOnSignals:
    """While active (a context manager, main thread only): SIGINT / SIGTERM raise `Interrupted`."""

    def __init__(self) -> None:
        self._previous: dict[int, object] = {}
        self._holding = False
        self._pending: int | None = None

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for signum in STOP_SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:  # (nohup, a background job: keep ignoring)
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame) -> None:
        if self._holding:
            self._pending = signum  # raised once the write in progress is complete
            return
        raise Interrupted(signum)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Finish what is inside (a file write) before a signal stops the run."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._pending is not None:
            raise Interrupted(self._pending)


def exit_now(code: int) -> None:
    """Exit with `code` at once, streams flushed, without the interpreter's shutdown. A stopped run
    may leave the deep-stack thread (engine/deep.py) inside LibCST's native parser; at shutdown
    CPython ends such a daemon thread with pthread_exit, and that forced unwinding through the
    parser's Rust frames aborts the process: half of the SIGINTs sent to `--jobs 1` on a large
    module ended in SIGABRT instead of exit code 130. Every write is complete by then (`hold`),
    and the workers die with this process (`init_worker`)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # (a closed pipe, a closed stream: nothing more to say)
            pass
    os._exit(code)


def init_worker(parent_pid: int) -> None:
    """Process-pool initializer: the worker stops when its parent does, however it stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the handler inherited through fork is the parent's
    _die_with_parent()
    exit_if_orphaned(parent_pid)  # the parent may have died before prctl took effect


def exit_if_orphaned(parent_pid: int) -> None:
    if os.getppid() != parent_pid:
        os._exit(1)


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to this process when its parent dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError, TypeError):  # not Linux (no prctl): exit_if_orphaned covers it
        pass
