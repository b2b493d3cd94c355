"""Parameter sweeps (issue 14): where the paper's behaviours really start, against its constants.

A sweep is a named grid of *cells*; each cell is a small, seeded, deterministic computation (a
few gradient-descent runs) whose result is a plain dict.  The data flow is the toolkit's:

    base.py         what a sweep is made of: axes, the Sweep record, the interrupt rule
    definitions.py  the paper's three sweeps: grids (quick/full) and cell functions (cache key)
    sgd_batch.py, finite_sample_sweep.py, intermediate.py, objectives_sweep.py
                    the sweeps beyond the paper, one module each
    registry.py     every sweep by name
    engine.py       runs cells serially or as Dask tasks, caches each finished cell on disk
    summaries.py    the summaries read from the cells (not part of the cache key)
    fit.py          the laws fitted to the cells (least squares with uncertainties, onsets)
    cli.py          ``python -m verify sweep NAME [--quick] [--scheduler ...] [--resummarise]``

Each finished sweep writes ``summary.json`` (a plain record: fitted laws, tables, figures) next
to its cells under ``reports/sweeps/NAME/``; the reports render it in "Where the behaviour
starts" without recomputing anything.
"""
from __future__ import annotations

from verify.sweeps.registry import SWEEPS, Sweep, get

__all__ = ["SWEEPS", "Sweep", "get"]
