"""How the neighbours' claims (em-global, rf-global) read their runs of
:func:`verify.claims.objectives_common.run`: which means count as converging, and the records'
quantities and distance lines.  Kept apart from ``objectives_common`` (whose source is part of the
objectives sweep's cell code) so that the claims' reading can change without recomputing cells.

A mean counts as converging when the classification rule says converged (distance <= TOL and
non-increasing over the last WINDOW + 1 records), when it is still approaching (distance strictly
decreasing over them), or when it is *settled*: its distance stayed <= TOL at every one of the
last WINDOW + 1 records.  The last reading is for over-parameterised runs near the target, where
the means' individual distances need not fall monotonically (the mean of the means settles first
and the spread between them decays slowly, so one distance may rise by a few thousandths while
the loss keeps falling); a mean that leaves the tolerance ball in that window is not settled.
"""
from __future__ import annotations

import math

from verify.claims.common import quantity
from verify.claims.objectives_common import TOL, WINDOW
from verify.claims.record import Line
from verify import dynamics


def settled(run: dict) -> int:
    """Means neither classified converged nor approaching whose distance stayed <= TOL at each
    of the run's last WINDOW + 1 records."""
    tail = run["trajectory"]["dist"][-(WINDOW + 1):]
    if len(tail) <= WINDOW:
        return 0
    out = 0
    for i, cls in enumerate(run["classes"]):
        if cls == dynamics.CONVERGED:
            continue
        if all(b[i] < a[i] for a, b in zip(tail, tail[1:])):    # counted as approaching
            continue
        if all(row[i] <= TOL for row in tail):
            out += 1
    return out


def counts(run: dict) -> dict:
    """converged, approaching, settled, diverging and the rest (not converging) for one run."""
    s = settled(run)
    rest = run["n"] - run["converged"] - run["approaching"] - s - run["diverging"]
    return {"converged": run["converged"], "approaching": run["approaching"], "settled": s,
            "diverging": run["diverging"], "unsettled": rest}


def run_evidence(runs, slope_claim: str | None = None) -> tuple[list, list]:
    """The records' view of a claim's runs: per run, the means converged / approaching /
    settled / diverging (and, with ``slope_claim``, the late slope of log loss with two standard
    errors against that claimed upper bound), and one distance line per mean for the figure."""
    qs, lines = [], []
    for r in runs:
        k = counts(r)
        label = f"{r['family']} n={r['n']} d={r['d']} M0={r['M0']}"
        qs.append(quantity(f"{label}: means converged / approaching / settled / diverging",
                           f"{k['converged']} / {k['approaching']} / {k['settled']} / "
                           f"{k['diverging']}",
                           precision=f"float64, 4 digits per step ({r['steps']} steps, eta "
                                     f"{r['eta']})"))
        if slope_claim is not None and math.isfinite(r["slope"]):
            qs.append(quantity(f"{label}: late slope of log K", r["slope"], 2 * r["slope_se"],
                               claimed=slope_claim, relation="<=", precision="least squares"))
        tr = r["trajectory"]
        for i in range(r["n"]):
            lines.append(Line(f"{label} |c_{i + 1}|", [float(s) for s in tr["steps"]],
                              [row[i] for row in tr["dist"]]))
    return qs, lines
