"""Sweep ``objectives`` (issue 21 item 6): the four objectives of SPEC §6 from the same starts.

Axes: objective (0 forward-fisher, 1 gradient-em, 2 reverse-fisher, 3 time-averaged on
t in [0, 1]) x start family (0 tiny-spread, 1 thm3.4, 2 far-random, 3 experiment; see
:mod:`verify.objectives.starts`) x M0 x seed.  n = 3, d = 1 for the first three families (the
tiny spread and thm3.4's construction are collinear; the far random start is read on a line), the
experiment's n = 5, d = 3.  Each cell runs STEPS steps of GD on its objective (eta: 0.5 for EM,
0.1 otherwise; float64 at 4 digits per step) and reports, by the rules of
:mod:`verify.claims.objectives_common`: how many means converged / are approaching / diverge, the
step at which each mean first came within the tolerance, the loss's late law (slope of log loss
against log step over the last decade), and the sign of the farthest mean's drift at the end.
Everything is seeded from the cell's inputs.  The summary is
:func:`verify.sweeps.objectives_summary.summarise_objectives`.
"""
from __future__ import annotations


from verify.sweeps.base import Axis, Sweep, hash_sources

OBJECTIVE_NAMES = ("forward-fisher", "gradient-em", "reverse-fisher", "time-averaged")
FAMILY_NAMES = ("tiny-spread", "thm3.4", "far-random", "experiment")
STEPS = 300
N, D = 3, 1
_SOURCES = ("sweeps/objectives_sweep.py", "claims/objectives_common.py", "objectives/evaluate.py",
            "objectives/integrands.py", "objectives/starts.py")


def source_hash(sources=_SOURCES) -> str:
    """The cell's "code" entry: a hash of the files its result depends on beyond
    verify.sweeps.engine's list, so a change to them recomputes the cells."""
    return hash_sources(sources)


def objectives_cell(objective: int, family: int, M0: float, seed: int, code: str = "") -> dict:
    from verify.claims.objectives_common import TOL, run
    r = run(OBJECTIVE_NAMES[objective], FAMILY_NAMES[family], N, D, M0, seed, STEPS)
    tr = r.pop("trajectory")
    first = []
    for i in range(r["n"]):
        hit = [s for s, row in zip(tr["steps"], tr["dist"]) if row[i] <= TOL]
        first.append(hit[0] if hit else None)
    r["first_within_tol"] = first
    r["steps_rec"] = tr["steps"]
    r["dist_rec"] = tr["dist"]
    r["loss_rec"] = tr["loss"]
    return r


SWEEP = Sweep(
    "objectives", "the four objectives (forward Fisher = the paper, gradient EM, reverse Fisher, "
    "time-averaged) from the paper's hard starts: means converging, late loss law, far drift",
    (Axis("objective", (0, 1, 2, 3), (0, 1, 2, 3), 0, 3, True),
     Axis("family", (0, 1, 2, 3), (0, 1, 2, 3), 0, 3, True),
     Axis("M0", (6.0,), (4.0, 6.0), 1, 12),
     Axis("seed", (1,), (1,), 0, 10_000, True)),
    objectives_cell, "verify.sweeps.objectives_summary:summarise_objectives",
    fixed=(("code", source_hash()),))
