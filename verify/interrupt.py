"""Ctrl-C for a claims run: one process-wide flag and the exception that stops a claim.

Library code keeps its old behaviour: a Ctrl-C during :func:`verify.dynamics.run_gd` ends that
run and returns the trajectory so far (``traj.interrupted``).  The claims runner *arms* the flag
(:func:`armed`) around each check; inside that scope

* a Ctrl-C outside a GD run raises :class:`Interrupted` at once (the scope's SIGINT handler);
* a Ctrl-C inside a GD run lets the run return its trajectory and sets the flag; the next GD run of
  the same check raises :class:`Interrupted` before its first step (:func:`check`), and the runner
  discards whatever verdict a check returns after the flag was set.

So an interrupted check never reports CONFIRMED: the runner turns it into an INCONCLUSIVE record
with reason "interrupted".  Long loops outside ``run_gd`` (compiled kernels, samplers) should call
:func:`check` between chunks.

A second Ctrl-C is remembered too (:func:`repeated`): SIGINT handlers call :func:`request`, which
notes a Ctrl-C that arrives when one was already seen; code that only re-records a
KeyboardInterrupt it caught calls :func:`note`, which never counts as a second one.  The runner
skips publishing after a second Ctrl-C, and :func:`deferred` holds Ctrl-C as a mere flag while it
winds down (no KeyboardInterrupt in the middle of its bookkeeping).

Worker pools: a terminal's Ctrl-C reaches the whole process group, workers included, and a worker
that is still starting (between the fork and its initializer) would run the parent's handler and
die with a traceback, breaking the pool.  Workers are therefore started inside :func:`forking`
(SIGINT blocked in the forking thread, so the children start with it blocked) and their
initializer calls :func:`quiet_worker` (SIGINT ignored, then unblocked).
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

__all__ = ["Interrupted", "requested", "request", "note", "repeated", "clear", "check", "armed",
           "deferred", "is_armed", "forking", "quiet_worker"]

REASON = "interrupted"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a check.  A KeyboardInterrupt, so ``except Exception`` never swallows it."""


_requested = False
_repeated = False
_armed = False


def requested() -> bool:
    """True once Ctrl-C was seen in this process (since the last :func:`clear`)."""
    return _requested


def repeated() -> bool:
    """True once a second Ctrl-C was seen (since the last :func:`clear`)."""
    return _repeated


def request() -> None:
    """Record a Ctrl-C signal (called by the SIGINT handlers; safe inside a signal handler); one
    arriving after an earlier one is a second Ctrl-C (:func:`repeated`)."""
    global _requested, _repeated
    if _requested:
        _repeated = True
    _requested = True


def note() -> None:
    """Record that a Ctrl-C happened, for code that caught its KeyboardInterrupt (the signal may
    already have been recorded by a handler: this never makes it a second one)."""
    global _requested
    _requested = True


def clear() -> None:
    global _requested, _repeated
    _requested = False
    _repeated = False


def is_armed() -> bool:
    return _armed


def check() -> None:
    """Raise :class:`Interrupted` if a Ctrl-C was seen inside an armed scope; otherwise nothing."""
    if _armed and _requested:
        raise Interrupted(REASON)


def _handler(signum, frame):
    request()
    raise Interrupted(REASON)


def _unraisable(previous):
    """A Ctrl-C that lands while C code is calling back into Python (numba's compiler writing its
    cache through an llvmlite callback, any ctypes callback) cannot propagate from there: Python
    prints it as "Exception ignored in ..." with a traceback and carries on.  The Ctrl-C is
    already recorded (:func:`request`) and the next :func:`check` raises it where it can
    propagate, so that :class:`Interrupted` is dropped silently; anything else goes to
    ``previous``."""
    def hook(unraisable):
        if isinstance(unraisable.exc_value, Interrupted):
            return
        previous(unraisable)
    return hook


@contextmanager
def armed(install_handler: bool = True):
    """Arm the flag for the duration of a check (or a whole run).

    With ``install_handler`` (main thread only) SIGINT sets the flag and raises
    :class:`Interrupted`; the previous handler comes back on exit.  The flag is not cleared on
    exit: the caller reads :func:`requested` afterwards.  Inside the scope an
    :class:`Interrupted` raised inside a callback from C is not printed (:func:`_unraisable`).
    """
    global _armed
    old = None
    can_install = install_handler and threading.current_thread() is threading.main_thread()
    if can_install:
        old = signal.signal(signal.SIGINT, _handler)
    was = _armed
    _armed = True
    old_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(old_hook)
    try:
        yield
    finally:
        _armed = was
        sys.unraisablehook = old_hook
        if can_install:
            signal.signal(signal.SIGINT, old if old is not None else signal.default_int_handler)


def _flag_handler(signum, frame):
    request()


@contextmanager
def deferred():
    """Within this scope (main thread) SIGINT only records the Ctrl-C (:func:`request`), raising
    nothing; an :func:`armed` scope inside it raises as usual.  The previous handler comes back on
    exit.  Elsewhere than the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, _flag_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.default_int_handler)


@contextmanager
def forking():
    """Block SIGINT in this thread for the scope: wrap the calls that start worker processes
    (``ProcessPoolExecutor.submit`` forks on first use).  Children inherit the blocked mask, so a
    Ctrl-C during their start-up waits until :func:`quiet_worker` ignores it; in this process a
    Ctrl-C that came meanwhile is delivered when the scope ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def quiet_worker() -> None:
    """Pool-worker initializer: ignore SIGINT (the parent decides what a Ctrl-C stops), then
    unblock it (it was blocked by :func:`forking` while the worker started; a pending one is
    discarded)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
