"""Helpers shared by the claim checks: number formatting, quantities, figures from trajectories,
package versions and the record factory."""
from __future__ import annotations

import math
import platform
import sys
from typing import Any

import mpmath

from verify.claims.record import (CONFIRMED, ERROR, INCONCLUSIVE, REFUTED, ClaimRecord, Figure,
                                  Line, Quantity)

__all__ = ["CONFIRMED", "REFUTED", "INCONCLUSIVE", "ERROR", "ClaimRecord", "Figure", "Line",
           "Quantity", "nstr", "quantity", "versions", "make_record", "trajectory_figures",
           "precision_label", "wilson_interval", "decided_record"]


def nstr(x, digits: int = 17) -> str:
    """A decimal string for an mpf/float/int with ``digits`` significant digits."""
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        return f"{x:.{min(digits, 17)}g}"
    return mpmath.nstr(x, digits, min_fixed=-4, max_fixed=8)


def precision_label(prec) -> str:
    """'float64' or 'dps=N' for a verify.precision.Precision (or its dict)."""
    if isinstance(prec, dict):
        return "float64" if prec.get("backend") == "float64" else f"dps={prec.get('dps')}"
    return "float64" if prec.is_float64 else f"dps={prec.dps}"


def quantity(name: str, value, error=None, claimed=None, relation: str = "", precision="",
             note: str = "", digits: int = 17) -> Quantity:
    return Quantity(name=name, value=nstr(value, digits), error=None if error is None else nstr(error, 3),
                    claimed=None if claimed is None else (claimed if isinstance(claimed, str) else nstr(claimed, digits)),
                    relation=relation,
                    precision=precision if isinstance(precision, str) else precision_label(precision),
                    note=note)


def versions() -> dict[str, str]:
    """The versions of the packages a check computes with (test-only packages such as
    hypothesis are not imported at run time, so they are not recorded)."""
    import numpy
    import sympy
    return {"python": platform.python_version(), "mpmath": mpmath.__version__,
            "mpmath_backend": mpmath.libmp.BACKEND, "numpy": numpy.__version__,
            "sympy": sympy.__version__}


def make_record(module, *, verdict: str, assurance: str, tier: str, **fields: Any) -> ClaimRecord:
    """A record for the claim module ``module`` (a module or its name; reads its ID, TITLE,
    STATEMENT, PROVENANCE)."""
    if isinstance(module, str):
        module = sys.modules[module]
    inputs = dict(fields.pop("inputs", {}))
    inputs.setdefault("versions", versions())
    return ClaimRecord(id=module.ID, title=module.TITLE, statement=module.STATEMENT,
                       provenance=module.PROVENANCE, verdict=verdict, assurance=assurance,
                       tier=tier, inputs=inputs, **fields)


def decided_record(module, obs, *, assurance: str, tier: str, tested: str, in_scope: str,
                   scope_reason: str, **fields: Any) -> ClaimRecord:
    """A record whose verdict is combine(decide(STATEMENT_DATA, obs)) (SPEC §5): the claim
    module's statement and every twin in ``TWINS`` are decided on the same evidence ``obs``; the
    record carries hypotheses, conclusions, twins and scope.  The statement's reading is merged
    under any ``reading`` passed in ``fields``."""
    from verify.claims.statement import conclusions_table, judge, twins_table
    if isinstance(module, str):
        module = sys.modules[module]
    st = module.STATEMENT_DATA
    verdict, witness, reason, decisions = judge(module.decide, st, obs)
    reading = dict(st.reading)
    reading.update(fields.pop("reading", {}) or {})
    extra_witness = fields.pop("witness", None) or {}
    witness = {**extra_witness, **witness} if verdict == REFUTED else None
    extra_reason = fields.pop("reason", "")
    if verdict == INCONCLUSIVE and extra_reason:
        reason = f"{reason}; {extra_reason}"
    return make_record(module, verdict=verdict, assurance=assurance, tier=tier,
                       witness=witness, reason=reason, reading=reading,
                       hypotheses=dict(st.hypotheses), tested=tested, in_scope=in_scope,
                       scope_reason=scope_reason,
                       conclusions=conclusions_table(st, decisions),
                       twins=twins_table(module.decide, module.TWINS, obs), **fields)


def trajectory_figures(prefix: str, title: str, runs: list[tuple[str, Any]], *,
                       reference: tuple[str, float] | None = None) -> list[Figure]:
    """Two figures from GD trajectories: each parameter's distance to the target against the
    step, and the loss against the step on log-log axes (optionally with a reference rate
    ``(label, exponent)`` drawn through the last point of the first run)."""
    dist_lines, loss_lines = [], []
    for label, tr in runs:
        steps = [s for s in tr.steps]
        for i in range(len(tr.dist[0]) if tr.dist else 0):
            dist_lines.append(Line(f"{label} |c_{i + 1}|", [float(s) for s in steps],
                                   [row[i] for row in tr.dist]))
        pos = [(s, v) for s, v in zip(steps, tr.loss) if s > 0 and v is not None and 0 < v < math.inf]
        loss_lines.append(Line(f"{label} loss", [float(s) for s, _ in pos], [v for _, v in pos]))
    figs = [Figure(id=f"{prefix}-dist", title=f"{title}: distance of each parameter to the target",
                   xlabel="GD step tau", ylabel="|mu_i - mu*|", lines=dist_lines,
                   xscale="symlog", yscale="log")]
    if reference and loss_lines and loss_lines[0].x:
        label, p = reference
        x_end, y_end = loss_lines[0].x[-1], loss_lines[0].y[-1]
        x0 = max(1.0, loss_lines[0].x[0])
        xs = [x0, x_end]
        ys = [y_end * (x / x_end) ** (-p) for x in xs]
        loss_lines.append(Line(label, xs, ys, kind="reference"))
    figs.append(Figure(id=f"{prefix}-loss", title=f"{title}: loss", xlabel="GD step tau",
                       ylabel="loss", lines=loss_lines, xscale="log", yscale="log"))
    return figs


def plain_tuple(rows) -> str:
    """A configuration of means (one row of coordinates per mean) as plain math: "(0.8, -1.3)"
    when every mean is one number, else "((0.3, 0.1), (-0.2, 0.05))"."""
    rows = [[str(x) for x in (r if isinstance(r, (list, tuple)) else [r])] for r in rows]
    if all(len(r) == 1 for r in rows):
        return "(" + ", ".join(r[0] for r in rows) + ")"
    return "(" + ", ".join("(" + ", ".join(r) + ")" for r in rows) + ")"


def bound_line(data: Line, exponent: float, relation: str, claimed: str) -> Line | None:
    """The claimed rate C tau^-p drawn as a bound through one point of ``data``: for an upper
    bound (relation "<=") through the point where loss tau^p is largest, so the line lies on or
    above every point; for a lower bound (">=") through the point where it is smallest, so the
    line lies on or below every point.  The label names the claim and the point.  None when the
    data has no positive finite point at tau >= 1."""
    pts = [(x, y) for x, y in zip(data.x, data.y)
           if x >= 1 and y is not None and 0 < y < math.inf]
    if not pts:
        return None
    pick = max if relation == "<=" else min
    xk, yk = pick(pts, key=lambda q: math.log(q[1]) + exponent * math.log(q[0]))
    xs = [pts[0][0], pts[-1][0]]
    word = "largest" if relation == "<=" else "smallest"
    label = (f"claimed {claimed} through the data point at tau = {xk:.3g} "
             f"({word} loss tau^{exponent:g})")
    return Line(label, xs, [yk * (x / xk) ** (-exponent) for x in xs], kind="reference")


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    den = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / den
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


class StatementVariant:
    """A claim module seen with another statement: the same ID, title, prose, provenance, twins
    and ``decide``, but ``STATEMENT_DATA`` replaced (a check asked to decide a changed statement
    on its own evidence, e.g. a mutated rate exponent)."""

    def __init__(self, module, statement):
        for k in ("ID", "TITLE", "STATEMENT", "PROVENANCE", "TWINS", "decide"):
            setattr(self, k, getattr(module, k))
        self.STATEMENT_DATA = statement
