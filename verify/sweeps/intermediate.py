"""Sweep ``intermediate`` (issue 22 item 3): the regime the paper leaves open -- initial spreads
between the split threshold delta*(M) (below it every mean converges; the ``split-threshold``
sweep) and O(1) (thm3.5's far random start: exactly one converges).

A cell is thm3.2's setting with its scale replaced by delta = 10^lgdelta (t = 0, m* = M0 e_1, every
m_i(0) within delta of the origin: verify.sweeps.definitions._split_start, the split-threshold
sweep's own start) in d = 2 and GD at eta = 0.25 (the split-threshold sweep's step) for the steps
the common point needs to reach the target plus 300, extended by a factor 4 up to three times
while some mean is undecided.  Per mean, at the end of a run (explicit rule, recorded):

* converging -- |c_i| < 0.5 and not growing over the last two records;
* diverging  -- |c_i| > 1 and growing over the last window+1 records; or, decided by the far law
  (verify.asymptotics.far: once a mean has converged, a mean outside radius 1 drifts outward,
  dr/dtau = eta g(r) > 0 for every r), |c_i| > 1 and growing over the last two records while
  another mean converges;
* undecided  -- otherwise (kept apart in the summary).

The cell records the number of converging means, how each was decided, and the run length.
"""
from __future__ import annotations

import math

from verify.sweeps.base import Axis, Sweep
from verify.sweeps.sgd_batch import source_hash

D = 2
ETA = "0.25"
CONVERGED_R, AWAY_R, WINDOW = 0.5, 1.0, 4
_SOURCES = ("sweeps/intermediate.py", "claims/small_init.py")


def classify(dist: list[list[float]]) -> tuple[list[str], list[str]]:
    """(classes, how) per mean from the recorded distances (rows: records)."""
    last = dist[-1]
    n = len(last)
    cls, how = [], []
    conv_any = False
    for i in range(n):
        r = [row[i] for row in dist]
        growing2 = len(r) > 1 and r[-1] > r[-2]
        if math.isfinite(r[-1]) and r[-1] < CONVERGED_R and not growing2:
            conv_any = True
    for i in range(n):
        r = [row[i] for row in dist]
        tail = r[-(WINDOW + 1):]
        growing2 = len(r) > 1 and r[-1] > r[-2]
        if not math.isfinite(r[-1]):
            cls.append("diverging"), how.append("overflow")
        elif r[-1] < CONVERGED_R and not growing2:
            cls.append("converging"), how.append("run")
        elif (r[-1] > AWAY_R and len(tail) == WINDOW + 1
              and all(b > a for a, b in zip(tail, tail[1:]))):
            cls.append("diverging"), how.append("run")
        elif r[-1] > AWAY_R and growing2 and conv_any:
            cls.append("diverging"), how.append("far law")
        else:
            cls.append("undecided"), how.append("-")
    return cls, how


def intermediate_cell(M0: float, n: int, lgdelta: float, seed: int, code: str = "") -> dict:
    from verify import dynamics
    from verify.sweeps.definitions import _check_interrupt, _split_start, split_steps
    c0 = _split_start(M0, n, D, lgdelta, seed)
    steps = split_steps(M0, n)
    for _ in range(4):
        tr = dynamics.run_gd(c0, ETA, steps, digits=6, progress=False)
        _check_interrupt(tr)
        cls, how = classify(tr.dist)
        if "undecided" not in cls:
            break
        steps *= 4
    k = cls.count("converging")
    return {"M0": M0, "n": n, "d": D, "lgdelta": lgdelta, "seed": seed, "eta": ETA,
            "steps": tr.steps[-1], "classes": cls, "decided_by": how,
            "converging": k, "undecided": cls.count("undecided"),
            "final_dist": [r if math.isfinite(r) else None for r in tr.dist[-1]],
            "rule": f"converging: |c_i| < {CONVERGED_R} and not growing; diverging: |c_i| > "
                    f"{AWAY_R} and growing over {WINDOW + 1} records, or over 2 records while "
                    f"another mean converges (far law)"}


SWEEP = Sweep(
    "intermediate", "the open regime between the split threshold and O(1) spreads: the number of "
    "converging means against the initial spread delta and M0",
    (Axis("M0", (4.0, 6.0), (3.0, 4.0, 5.0, 6.0, 7.0), 1, 12),
     Axis("n", (3,), (3, 4, 5), 2, 8, True),
     Axis("lgdelta", (-4.0, -2.0, 0.0), (-7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0), -300, 0.5),
     Axis("seed", (0,), (0, 1, 2), 0, 10_000, True)),
    intermediate_cell, "verify.sweeps.beyond_summaries:summarise_intermediate",
    fixed=(("code", source_hash(_SOURCES)),))
