"""Runs shared by the neighbours' claims (em-global, rf-global) and the objectives sweep:
GD under one objective of :mod:`verify.objectives` from one start family, summarised by explicit
rules (issue 21).  Not a claim module: claims import it, it imports no claim.

Per run: each mean's class by :func:`verify.dynamics.classify` (converged: distance <= TOL and
non-increasing over the last WINDOW + 1 records; diverging: strictly increasing and above twice
the start's largest distance), whether each unconverged mean is *approaching* (distance strictly
decreasing over the last WINDOW + 1 records), and the loss's late law: the least-squares slope
of log(loss) against log(step) over the records in the last decade of steps, with its standard
error.
"""
from __future__ import annotations

import math

import numpy as np

from verify import dynamics
from verify.objectives import starts

TOL, WINDOW = 0.1, 4
RULES = dynamics.Rules(converge_tol=TOL, window=WINDOW)
ETA = {"forward-fisher": 0.1, "gradient-em": 0.5, "reverse-fisher": 0.1, "time-averaged": 0.1}


def late_slope(steps, loss) -> tuple[float, float, int]:
    """(slope, standard error, points) of log loss vs log step over the last decade."""
    last = steps[-1]
    pts = [(math.log(s), math.log(v)) for s, v in zip(steps, loss)
           if s >= max(1, last / 10) and v is not None and 0 < v < math.inf]
    if len(pts) < 4:
        return math.nan, math.nan, len(pts)
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    A = np.vstack([x, np.ones_like(x)]).T
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    s2 = float(resid @ resid) / max(1, len(x) - 2)
    se = math.sqrt(s2 / float(((x - x.mean()) ** 2).sum()))
    return float(coef[0]), se, len(pts)


def run(objective: str, family: str, n: int, d: int, M0: float, seed: int, steps: int,
        eta: float | None = None, digits: int = 4) -> dict:
    """One GD run and its summary (plain numbers, JSON-ready)."""
    n, d = starts.shape(family, n, d)
    c0 = starts.start(family, n, d, M0, seed)
    eta = ETA[objective] if eta is None else eta
    tr = dynamics.run_gd(c0, eta, steps, digits=digits, objective=objective, rules=RULES,
                         progress=False)
    dist = tr.dist
    tail = dist[-(WINDOW + 1):]
    approaching = [len(tail) > WINDOW and all(b[i] < a[i] for a, b in zip(tail, tail[1:]))
                   for i in range(n)]
    slope, se, npts = late_slope(tr.steps, tr.loss)
    # the far drift's sign: the farthest mean's distance change over the last record interval
    far = int(np.argmax(dist[-1])) if dist else 0
    drift = dist[-1][far] - dist[-2][far] if len(dist) > 1 else 0.0
    return {"objective": objective, "family": family, "n": n, "d": d, "M0": M0, "seed": seed,
            "eta": eta, "steps": tr.steps[-1] if tr.steps else 0, "classes": tr.classes,
            "converged": sum(c == dynamics.CONVERGED for c in tr.classes),
            "diverging": sum(c == dynamics.DIVERGING for c in tr.classes),
            "approaching": sum(a and c != dynamics.CONVERGED
                               for a, c in zip(approaching, tr.classes)),
            "start_dist": dist[0] if dist else [], "final_dist": dist[-1] if dist else [],
            "slope": slope, "slope_se": se, "slope_points": npts,
            "far_drift": math.copysign(1.0, drift) if drift else 0.0,
            "far_drift_per_step": drift / max(1, (tr.steps[-1] - tr.steps[-2])) if len(dist) > 1 else 0.0,
            "loss_end": tr.loss[-1] if tr.loss else math.nan,
            "trajectory": {"steps": tr.steps, "dist": dist, "loss": tr.loss},
            "stop_reason": tr.stop_reason, "inaccurate_steps": tr.settings.get("inaccurate_steps"),
            "precision": tr.precision.get("backend")}
