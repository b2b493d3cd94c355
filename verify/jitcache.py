"""Compiled functions that compile once per checkout: numba's ``njit`` with the on-disk cache and a
cross-process lock around every compile.

numba caches a compiled function on disk (``cache=True``), but two processes that start cold at
the same time both miss the cache and both compile: a pool's workers, pytest's workers, the
subprocesses of the CLI tests.  The float64 engine takes about 46 s to compile from a cold cache
on one idle core, and two compiles at once share the cores.  Here the first process to compile
a function holds an exclusive lock on a file in that function's cache directory; a process that
needs a compile meanwhile waits for the lock, then looks in the cache again, where it usually
finds the other process's result and loads it in a fraction of a second.

The lock is taken inside numba's own compiler lock (one order in every thread, so no deadlock
between threads), once per process at a time (nested compiles of callees do not take it again,
so no deadlock between processes), and never waited for longer than :data:`MAX_WAIT_S` (a holder
that hangs costs a compile, not a hang).  Where the lock cannot be had (no ``fcntl``, a read-only
cache directory) the compile goes ahead as numba's would.

Only how long a first call takes changes: what is compiled and what it computes are numba's.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numba
from numba.core.compiler_lock import global_compiler_lock

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: compile without the lock
    fcntl = None

__all__ = ["njit", "serialise", "LOCK_NAME", "MAX_WAIT_S"]

LOCK_NAME = "verify-compile.lock"
MAX_WAIT_S = 900.0
_POLL_S = 0.05

_held = 0  # depth of compiles in this process that hold (or gave up on) the lock


def njit(*args, **opts):
    """``numba.njit`` whose compiles are serialised across processes (:func:`serialise`);
    used as numba's: ``@njit(cache=True, fastmath=...)``."""
    if args and callable(args[0]) and not opts:  # bare @njit
        return serialise(numba.njit(args[0]))
    return lambda fn: serialise(numba.njit(*args, **opts)(fn))


def serialise(dispatcher):
    """Route ``dispatcher``'s compiles through the cross-process lock (a no-op without a disk
    cache).  Returns the dispatcher."""
    cache_dir = getattr(getattr(dispatcher, "_cache", None), "_cache_path", None)
    if cache_dir is None:
        return dispatcher
    compile_ = dispatcher.compile

    def compile(sig):
        with global_compiler_lock, _lock(Path(cache_dir)):
            return compile_(sig)

    dispatcher.compile = compile
    return dispatcher


class _lock:
    """The exclusive lock file in ``cache_dir``, taken by the outermost compile of this process."""

    def __init__(self, cache_dir: Path):
        self.cache_dir, self.fd = cache_dir, None

    def __enter__(self):
        global _held
        if _held == 0 and fcntl is not None:
            self.fd = _acquire(self.cache_dir / LOCK_NAME)
        _held += 1
        return self

    def __exit__(self, *exc):
        global _held
        _held -= 1
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
        return False


def _acquire(path: Path) -> int | None:
    """An fd holding the exclusive lock on ``path``; None when the lock cannot be had (the
    directory is not writable) or was not free within MAX_WAIT_S."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None
    deadline, held = time.monotonic() + MAX_WAIT_S, False
    try:
        while not held:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(_POLL_S)
    except OSError:  # a file system without locks
        return None
    finally:
        if not held:  # also on Ctrl-C while waiting: nothing left open
            os.close(fd)
    return fd
