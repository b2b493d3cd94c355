"""Progress display on a terminal: one line per claim as it starts and as it ends (verdict,
seconds), and tqdm bars for long gradient-descent runs and for sweeps (cells done / total).

Silent when stderr is not a terminal (logs, pipes, CI, tests), unless forced with ``--progress``.
One process-wide switch, :func:`configure`: ``None`` follows ``sys.stderr.isatty()``; the claims
runner sets it from ``--progress`` and hands it to its worker processes, so a check's GD runs
follow the command's choice.  Progress goes to stderr only; stdout (records, ``--json``) and the
reports never see it.

Callers: :mod:`verify.claims.runner` (claim lines), :mod:`verify.sweeps.engine` (the cell bar),
:func:`verify.dynamics.run_gd` (the step bar of runs of at least :data:`LONG_RUN_STEPS` steps
when its ``progress`` argument is None; a claim opts in by passing ``progress=None``).
"""
from __future__ import annotations

import os
import sys

# A GD run shorter than this takes well under a second on the compiled engine: no bar for it.
LONG_RUN_STEPS = 5000

_forced: bool | None = None


def configure(enabled: bool | None) -> None:
    """Set the process-wide switch: True/False force the display on/off, None follows the
    terminal."""
    global _forced
    _forced = None if enabled is None else bool(enabled)


def configured() -> bool | None:
    """The switch as configured (for handing to worker processes)."""
    return _forced


def enabled(flag: bool | None = None) -> bool:
    """Whether to show progress: ``flag`` when given, else the switch, else whether stderr is a
    terminal."""
    if flag is not None:
        return bool(flag)
    if _forced is not None:
        return _forced
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr is not a terminal
        return False


def line(text: str) -> None:
    """One progress line on stderr (only when enabled)."""
    if enabled():
        print(text, file=sys.stderr, flush=True)


def claim_started(claim_id: str) -> None:
    line(f"{claim_id} started")


def claim_finished(claim_id: str, verdict: str, seconds: float, done: int | None = None,
                   total: int | None = None) -> None:
    count = f"[{done}/{total}] " if done is not None and total is not None else ""
    line(f"{count}{claim_id}: {verdict} ({seconds:.1f} s)")


def bar(total: int, desc: str, unit: str, *, initial: int = 0, flag: bool | None = None,
        leave: bool = True):
    """A tqdm bar on stderr, or None when progress is off (callers test ``bar is not None``)."""
    if not enabled(flag):
        return None
    from tqdm import tqdm
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        size = os.terminal_size((0, 0))
    # A terminal that reports no size (a bare pseudo-terminal) would hide the bar: use 80 x 24.
    width = {"dynamic_ncols": True} if min(size) > 0 else {"ncols": 80, "nrows": 24}
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave, file=sys.stderr,
                **width)


def gd_bar(steps: int, desc: str, flag: bool | None = None):
    """The step bar of a GD run: shown for runs of at least LONG_RUN_STEPS steps when ``flag`` is
    None (and progress is on), always when ``flag`` is True, never when it is False."""
    if flag is None and steps < LONG_RUN_STEPS:
        return None
    return bar(steps, desc, "step", flag=flag, leave=False)
