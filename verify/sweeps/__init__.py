"""Parameter sweeps (issue 14): where the paper's behaviours really start, against its constants.

A sweep is a named grid of *cells*; each cell is a small, seeded, deterministic computation (a
few gradient-descent runs) whose result is a plain dict.  The data flow is the toolkit's:

    definitions.py  the sweeps: grids (quick/full) and the cell functions (part of the cache key)
    engine.py       runs cells serially or as Dask tasks, caches each finished cell on disk
    summaries.py    the summaries read from the cells (not part of the cache key)
    fit.py          the laws fitted to the cells (least squares with uncertainties, onsets)
    cli.py          ``python -m verify sweep NAME [--quick] [--scheduler ...] [--resummarise]``

Each finished sweep writes ``summary.json`` (a plain record: fitted laws, tables, figures) next
to its cells under ``reports/sweeps/NAME/``; the reports render it in "Where the behaviour
starts" without recomputing anything.
"""
from __future__ import annotations

from verify.sweeps.definitions import SWEEPS, Sweep, get

__all__ = ["SWEEPS", "Sweep", "get"]
