"""The parts every sweep is made of: a grid axis, a named sweep (axes, cell function, summariser)
and the rule that an interrupted run never becomes a cached cell.  The sweeps themselves are
defined in :mod:`verify.sweeps.definitions` (the paper's three) and in one module each for the
sweeps beyond the paper; :mod:`verify.sweeps.registry` names them all.
"""
from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

SEED = 20260101


class SweepError(ValueError):
    """Bad sweep input (unknown name, grid value out of range): a one-line message."""


@dataclass(frozen=True)
class Axis:
    """One grid axis: the quick and full values, and the range a user may ask for."""

    name: str
    quick: tuple
    full: tuple
    lo: float
    hi: float
    integer: bool = False


@dataclass(frozen=True)
class Sweep:
    name: str
    title: str
    axes: tuple[Axis, ...]
    cell_fn: Callable[..., dict]
    summariser: str             # a function of verify.sweeps.summaries, resolved when called
    fixed: tuple[tuple[str, object], ...] = ()

    def summarise(self, cells: list[tuple[dict, dict]], grid: str) -> dict:
        """The summary record of ``cells`` ((cell, result) pairs in grid order); ``grid`` names
        the grid ("quick", "full" or "custom").  Imported here, not at module load: the
        summaries import this module, and they are not part of a cell's cache key."""
        where, _, fn = self.summariser.rpartition(":")    # "module:function" or a function name
        module = importlib.import_module(where or "verify.sweeps.summaries")
        return getattr(module, fn)(cells, grid)

    def grid(self, quick: bool, overrides: dict[str, list] | None = None) -> list[dict]:
        """The cells in a fixed order (the product of the axes, first axis slowest)."""
        values = []
        overrides = overrides or {}
        unknown = set(overrides) - {a.name for a in self.axes}
        if unknown:
            raise SweepError(f"sweep {self.name!r} has no axis {sorted(unknown)[0]!r}; "
                             f"axes: {', '.join(a.name for a in self.axes)}")
        for a in self.axes:
            vals = overrides.get(a.name, a.quick if quick else a.full)
            for v in vals:
                if not (a.lo <= v <= a.hi) or (a.integer and int(v) != v):
                    raise SweepError(f"{self.name}: {a.name}={v:g} is out of range "
                                     f"[{a.lo:g}, {a.hi:g}]" + (" (integers)" if a.integer else ""))
            values.append([int(v) if a.integer else float(v) for v in vals])
        cells = [{}]
        for a, vals in zip(self.axes, values):
            cells = [dict(c, **{a.name: v}) for c in cells for v in vals]
        return [dict(c, **dict(self.fixed)) for c in cells]


def _check_interrupt(traj) -> None:
    # A GD run turns the first Ctrl-C into a flag and returns early; a cell must never be
    # computed (and cached) from an interrupted run.
    if traj.interrupted:
        raise KeyboardInterrupt


def hash_sources(sources, length: int = 12) -> str:
    """A hash of the named source files (paths relative to verify/): a cell's code version, so a
    change to any of them recomputes the cells that depend on it."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for rel in sources:
        p = root / rel
        if p.exists():
            h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:length]
