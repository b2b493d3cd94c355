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
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["Interrupted", "requested", "request", "clear", "check", "armed", "is_armed"]

REASON = "interrupted"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a check.  A KeyboardInterrupt, so ``except Exception`` never swallows it."""


_requested = False
_armed = False


def requested() -> bool:
    """True once Ctrl-C was seen in this process (since the last :func:`clear`)."""
    return _requested


def request() -> None:
    """Record a Ctrl-C (called by the SIGINT handlers; safe inside a signal handler)."""
    global _requested
    _requested = True


def clear() -> None:
    global _requested
    _requested = False


def is_armed() -> bool:
    return _armed


def check() -> None:
    """Raise :class:`Interrupted` if a Ctrl-C was seen inside an armed scope; otherwise nothing."""
    if _armed and _requested:
        raise Interrupted(REASON)


def _handler(signum, frame):
    request()
    raise Interrupted(REASON)


@contextmanager
def armed(install_handler: bool = True):
    """Arm the flag for the duration of a check (or a whole run).

    With ``install_handler`` (main thread only) SIGINT sets the flag and raises
    :class:`Interrupted`; the previous handler comes back on exit.  The flag is not cleared on
    exit: the caller reads :func:`requested` afterwards.
    """
    global _armed
    old = None
    can_install = install_handler and threading.current_thread() is threading.main_thread()
    if can_install:
        old = signal.signal(signal.SIGINT, _handler)
    was = _armed
    _armed = True
    try:
        yield
    finally:
        _armed = was
        if can_install:
            signal.signal(signal.SIGINT, old if old is not None else signal.default_int_handler)
