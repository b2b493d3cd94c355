"""Every named sweep, by name: the paper's three (:mod:`verify.sweeps.definitions`) and the sweeps
beyond the paper, each defined in a module of its own.  Kept apart from the definitions so that a
sweep module may use the paper sweeps' cell code without an import circle."""
from __future__ import annotations

from verify.sweeps import finite_sample_sweep, intermediate, objectives_sweep, sgd_batch
from verify.sweeps.base import Sweep, SweepError
from verify.sweeps.definitions import PAPER_SWEEPS

SWEEPS: dict[str, Sweep] = dict(PAPER_SWEEPS)
for _module in (sgd_batch, finite_sample_sweep, intermediate, objectives_sweep):
    SWEEPS[_module.SWEEP.name] = _module.SWEEP


def get(name: str) -> Sweep:
    if name not in SWEEPS:
        raise SweepError(f"unknown sweep {name!r}; known: {', '.join(SWEEPS)}")
    return SWEEPS[name]
