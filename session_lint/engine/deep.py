"""Deep input: run the per-file analysis where recursion has room.

LibCST's parser and session-lint's own walks recurse once (or a few times) per nesting level
of the source. Valid generated code nests far deeper than the default recursion limit allows
(a 1,000-term `1 + 1 + ...` is a 1,000-deep tree of binary operations), and the main thread's
8 MB C stack overflows (a segfault, not an exception) well before a big recursion limit is
reached. So each file is analysed on a thread with a large stack while the recursion limit is
raised: deep input then lints like any other, and input deeper still (refused by CPython
itself, see `engine.too_deep`) becomes an SES999 finding instead of a crash.

A thread's stack is reserved address space: the pages are only committed as they are used,
so a shallow file costs what it costs on the main thread (plus starting a thread, ~0.1 ms).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

STACK_BYTES = 512 << 20  # room for RECURSION_LIMIT Python frames that go through C calls
RECURSION_LIMIT = 50_000

T = TypeVar("T")

_state = threading.local()  # `deep` is set on the threads this module starts
_limit_lock = threading.Lock()
_deep_calls = 0  # how many deep threads run: the raised limit is restored when the last ends
_saved_limit = 0


def on_deep_stack() -> bool:
    return getattr(_state, "deep", False)


def _raise_limit() -> None:
    global _deep_calls, _saved_limit
    with _limit_lock:
        if _deep_calls == 0:
            _saved_limit = sys.getrecursionlimit()
            # The limit is per interpreter: while it is raised, the main thread (8 MB of stack) could
            # overflow before hitting it, but the main thread only waits for the deep thread then.
            sys.setrecursionlimit(max(_saved_limit, RECURSION_LIMIT))
        _deep_calls += 1


def _restore_limit() -> None:
    global _deep_calls
    with _limit_lock:
        _deep_calls -= 1
        if _deep_calls == 0:
            sys.setrecursionlimit(_saved_limit)


def _start(target: Callable[[], None]) -> threading.Thread | None:
    """A started thread with a large stack, or None where the platform refuses one."""
    try:
        previous = threading.stack_size(STACK_BYTES)
    except (ValueError, RuntimeError):  # no settable stack size here: the caller runs in place
        return None
    try:
        thread = threading.Thread(target=target, name="session-lint-deep", daemon=True)
        thread.start()
        return thread
    except RuntimeError:  # cannot start a thread (resource limits): run in place
        return None
    finally:
        threading.stack_size(previous)


def call_deep(fn: Callable[..., T], *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` on a large-stack thread with a raised recursion limit (re-raises)."""
    if on_deep_stack():
        return fn(*args, **kwargs)
    result: list = []
    error: list[BaseException] = []

    def target() -> None:
        _state.deep = True
        try:
            result.append(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the calling thread, which raises it
            error.append(exc)

    _raise_limit()
    try:
        thread = _start(target)
        if thread is not None:
            thread.join()
    finally:
        _restore_limit()
    if thread is None:  # in place, at the normal limit: a RecursionError, never a C stack overflow
        return fn(*args, **kwargs)
    if error:
        raise error[0]
    return result[0]


def deep(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator: always run `fn` through `call_deep`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return call_deep(fn, *args, **kwargs)
    return wrapper
