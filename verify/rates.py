"""Rates from trajectories (SPEC §3, "asymptotic O(.) claims"): log-log slopes with their
uncertainty, and implied constants of O(tau^-p) bounds over the tail of a run.

An O(tau^-p) upper bound is judged by the implied constant K(tau) = loss(tau) * tau^p: it must stay
bounded over the tail, i.e. the fitted slope of log K against log tau is not significantly
positive.  A lower bound c / tau^q is judged the other way round.  Too few tail points give
``decided = False``; callers turn that into INCONCLUSIVE, never a pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

MIN_TAIL_POINTS = 6


@dataclass
class Fit:
    """Least-squares line log10 y = a + slope * log10 x over a window, with the slope's standard
    error; ``points`` used and the window [x_from, x_to]."""

    slope: float
    stderr: float
    intercept: float
    points: int
    x_from: float
    x_to: float

    def to_dict(self) -> dict:
        return asdict(self)


def loglog_fit(x: list[float], y: list[float], *, tail: float = 0.5) -> Fit | None:
    """Fit over the last ``tail`` fraction of the run in log10(x) (x > 0, y > 0 only).

    Returns None when fewer than MIN_TAIL_POINTS usable points remain.
    """
    pts = [(math.log10(a), math.log10(b)) for a, b in zip(x, y)
           if a > 0 and b is not None and b > 0 and math.isfinite(b)]
    if not pts:
        return None
    lo = pts[-1][0] - tail * (pts[-1][0] - pts[0][0])
    pts = [p for p in pts if p[0] >= lo]
    if len(pts) < MIN_TAIL_POINTS:
        return None
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    a = my - slope * mx
    resid = [p[1] - a - slope * p[0] for p in pts]
    s2 = sum(r * r for r in resid) / max(1, n - 2)
    return Fit(slope, math.sqrt(s2 / sxx), a, n, 10 ** pts[0][0], 10 ** pts[-1][0])


@dataclass
class ImpliedConstant:
    """K(tau) = y(tau) * tau^p over the tail: its largest value, its final value, the fit of
    log K against log tau, and whether it is bounded (slope <= 2 standard errors above 0, plus
    ``slack``)."""

    power: float
    k_max: float
    k_last: float
    fit: Fit | None
    bounded: bool
    decided: bool

    def to_dict(self) -> dict:
        d = asdict(self)
        return d


def implied_constant(tau: list[float], y: list[float], power: float, *, tail: float = 0.5,
                     slack: float = 0.02) -> ImpliedConstant:
    """Judge y = O(tau^-power) over the tail of a run (tau > 0)."""
    pairs = [(t, v * t ** power) for t, v in zip(tau, y)
             if t > 0 and v is not None and v > 0 and math.isfinite(v)]
    if not pairs:
        return ImpliedConstant(power, math.nan, math.nan, None, False, False)
    fit = loglog_fit([p[0] for p in pairs], [p[1] for p in pairs], tail=tail)
    lo = math.log10(pairs[-1][0]) - tail * (math.log10(pairs[-1][0]) - math.log10(pairs[0][0]))
    tail_vals = [k for t, k in pairs if math.log10(t) >= lo]
    if fit is None:
        return ImpliedConstant(power, max(tail_vals), tail_vals[-1], None, False, False)
    bounded = fit.slope <= slack + 2 * fit.stderr
    # a window shorter than a decade of tau cannot tell a transient hump from growth
    decided = math.log10(pairs[-1][0]) - lo >= 1.0
    return ImpliedConstant(power, max(tail_vals), tail_vals[-1], fit, bounded, decided)


def eventually_nondecreasing(tau: list[float], y: list[float], power: float, *,
                             tail: float = 0.3, rel_tol: float = 1e-9) -> tuple[bool, bool]:
    """(decided, holds): is tau^power * y non-decreasing over the last ``tail`` of the run (in
    log tau)?  ``rel_tol`` absorbs the loss's own relative error."""
    pairs = [(t, v * t ** power) for t, v in zip(tau, y)
             if t > 0 and v is not None and v > 0 and math.isfinite(v)]
    if len(pairs) < MIN_TAIL_POINTS:
        return False, False
    lo = math.log10(pairs[-1][0]) - tail * (math.log10(pairs[-1][0]) - math.log10(pairs[0][0]))
    ks = [k for t, k in pairs if math.log10(t) >= lo]
    if len(ks) < MIN_TAIL_POINTS:
        return False, False
    return True, all(b >= a * (1 - rel_tol) for a, b in zip(ks, ks[1:]))
