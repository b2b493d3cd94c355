"""Quantities shared by the far-regime claims (thm3.4, thm3.5, thm3.7): the reduced law's
validation gaps against full GD and the law's numbers next to their derived limits
(:mod:`verify.asymptotics.far`).  A helper module of the claims, not a claim.
"""
from __future__ import annotations

import copy
import functools

from verify import dynamics
from verify.asymptotics import far
from verify.claims.common import quantity


@functools.lru_cache(maxsize=4)
def _law_run_cached(c0: tuple, eta: float, steps: int, digits: int, tau_max: float,
                    min_span: float):
    tr = dynamics.run_gd([list(row) for row in c0], eta, steps, digits=digits, progress=False)
    return tr, far.validate(tr, eta, tau_max=tau_max, min_span=min_span)


def law_run(c0, eta: float, steps: int, *, digits: int = 8, tau_max: float = 1e12,
            min_span: float = 10.0):
    """One long GD run and the far law validated on it (``far.validate``), computed once per
    process for given inputs: thm3.5's rate run and thm3.7's run are the same start, step and
    length, so a process that checks both integrates the law once.  Returns fresh copies
    (trajectory, validation), so a caller's changes never reach another caller."""
    key = tuple(tuple(float(x) for x in row) for row in c0)
    tr, val = _law_run_cached(key, float(eta), int(steps), int(digits), float(tau_max),
                              float(min_span))
    return copy.deepcopy(tr), copy.deepcopy(val)


def validation_quantities(val) -> list:
    """The validation gaps as quantities (shared by thm3.4/3.5/3.7)."""
    span = f"taus {val.taus[0]}..{val.taus[-1]} ({len(val.taus)} records)" if val.taus else "none"
    return [
        quantity(f"law vs full GD: largest relative gap in r (m = {val.m})", val.r_gap,
                 val.r_gap_error, claimed=val.tolerance.get("r"), relation="<=", precision="float64",
                 note=f"at tau = {val.r_gap_tau}; compared at {span}; law from tau0 = {val.tau0}, "
                      f"r0 = {val.r0:.6g}; GD {val.gd_steps} steps; {val.reason or 'passed'}"),
        quantity(f"law vs full GD: largest relative gap in the loss (m = {val.m})", val.loss_gap,
                 val.loss_gap_error, claimed=val.tolerance.get("loss"), relation="<=",
                 precision="float64", note=f"at tau = {val.loss_gap_tau}; at the last compared tau "
                                           f"the gaps are r {val.gaps_at_end[0]:.3g}, loss "
                                           f"{val.gaps_at_end[1]:.3g}"),
    ]


def law_quantities(law, ratios) -> list:
    e, b = ratios["end"], ratios["earlier"]
    return [
        quantity("law at its end: r", e["r"], law.r_error, precision="float64",
                 note=f"GD step tau = {e['tau']:.3g} (law from tau0 = {law.tau_offset:g}, r0 = {law.r0:.6g}), m = {law.m}, "
                      f"eta = {law.eta:g}; derived r ~ sqrt(8 ln tau)"),
        quantity("law at its end: loss", e["loss"], precision="float64",
                 note="derived: loss ~ 16 m / (eta r^2 tau) ~ 2 m / (eta tau ln tau)"),
        quantity("law: local slope s = dln loss/dln tau at its end", e["slope"], precision="float64",
                 claimed="-1 - 8/r^2 + O(r^-4)", relation="~",
                 note=f"two decades earlier {b['slope']:.5f}"),
        quantity("law: loss eta tau r^2 / (16 m) (derived limit 1)", e["loss_eta_tau_r2_over_16m"],
                 claimed=1, relation="~", precision="float64",
                 note=f"two decades earlier {b['loss_eta_tau_r2_over_16m']:.5f}"),
        quantity("law: (-1 - s) r^2 / 8 (derived limit 1)", e["slope_excess_r2_over_8"], claimed=1,
                 relation="~", precision="float64",
                 note=f"two decades earlier {b['slope_excess_r2_over_8']:.5f}"),
        quantity("law: p = (-1 - s) ln tau (derived limit 1)", e["slope_excess_ln_tau"], claimed=1,
                 relation="~", precision="float64",
                 note=f"two decades earlier {b['slope_excess_ln_tau']:.5f}; the approach is "
                      "logarithmically slow (corrections ~ ln ln tau / ln tau)"),
        quantity("g(r) / two-term asymptotic form at the law's end", e["g_over_asymptotic"],
                 claimed=1, relation="~", precision="float64",
                 note="g ~ sqrt(pi/(8m)) (r^2/4) e^{-r^2/8} (1 + b1/r^2), b1 = -4 - pi^2/2 + "
                      "2 ln m - (ln m)^2/2"),
    ]
