"""thm3.7: a lower bound on the loss in the random-far-initialisation regime.

Statement (own words): in the regime of thm3.5 (one mean converges, the others diverge), the loss
cannot decay much faster than 1/tau: for every eps > 0 there is c > 0 with loss(tau) >= c / tau^(1+eps).

Provenance: as reported by the public summary of arXiv 2511.22069 (Thm 3.7); constants unverified
(SPEC §1).

Kind of check: an asymptotic *lower* bound, judged on one long float64 GD run (n = 2, so the
difference span is 1-D and long runs are cheap) for each eps in a list:

* K_eps(tau) = tau^(1+eps) * loss(tau) must be eventually non-decreasing over the last 30% of the
  run (in log tau), with a relative tolerance for the loss's own error
  (:func:`verify.rates.eventually_nondecreasing`);
* the fitted log-log slope of the loss over that tail must satisfy slope >= -(1+eps) - 2 stderr.

CONFIRMED when both hold for every eps and the run shows the thm3.5 pattern (exactly one mean
converged, the others diverging).  REFUTED when, for some eps, the slope is below -(1+eps) by more
than max(3 stderr, 0.5) on the tail and on both its halves (a steady decay faster by more
than half a unit in the exponent; smaller gaps are left to the transient): a finite run cannot
refute an asymptotic bound in the strict sense, and the witness records the evidence as such.
Otherwise INCONCLUSIVE (e.g. a run still in its transient).
"""
from __future__ import annotations

import math
import sys

from verify import dynamics, rates
from verify.claims import common
from verify.claims.c_thm3_5 import classify_outcome, default_eta, exactly_one, far_init, outcome_rules
from verify.claims.common import CONFIRMED, INCONCLUSIVE, REFUTED, quantity

ID = "thm3.7"
TITLE = "Lower bound: in the thm3.5 regime loss >= c / tau^(1+eps) for every eps > 0"
STATEMENT = ("When one mean converges and the others diverge (the regime of thm3.5), the loss decays "
             "no faster than tau^-(1+eps) for every eps > 0: loss(tau) >= c_eps / tau^(1+eps).")
PROVENANCE = "As reported by the public summary of arXiv 2511.22069 (Thm 3.7); constants unverified."

TIERS = {
    "quick": {"n": 2, "d": 2, "M0": 4.0, "steps": 25000, "eps": [0.05, 0.1, 0.2]},
    "full": {"n": 2, "d": 2, "M0": 4.0, "steps": 250000, "eps": [0.05, 0.1, 0.2]},
}
TAIL = 0.3
# Digits asked of each gradient and loss.  The non-decreasing test tolerates twice the loss's own
# relative error; at 4 digits that error reaches ~9% of the loss late in a 250k-step run (the loss
# is ~1e-4 of its terms), which would make the test toothless; 8 digits keep it near 1e-6 for ~20%
# more time per step.
DIGITS = 8


def check(tier: str = "quick", seed: int = 20260101, *, eps_list=None, steps: int | None = None,
          M0: float | None = None, n: int | None = None, d: int | None = None,
          rules: dict | None = None, max_seconds: float | None = None) -> common.ClaimRecord:
    """Run the thm3.7 check.  ``eps_list`` may contain negative values (a mutated, false claim)."""
    cfg = TIERS[tier]
    eps_list = cfg["eps"] if eps_list is None else list(eps_list)
    steps = steps or cfg["steps"]
    M0 = M0 or cfg["M0"]
    n = n or cfg["n"]
    d = d or cfg["d"]
    rules = rules or outcome_rules()
    eta = default_eta(M0)
    c0, _ = far_init(n, d, M0, seed)
    tr = dynamics.run_gd(c0, eta, steps, digits=DIGITS, progress=False, max_seconds=max_seconds)
    cls = classify_outcome(tr, rules)
    regime = exactly_one(cls)
    fit = rates.loglog_fit(tr.steps, tr.loss, tail=TAIL)
    # the two halves of the tail, for the steadiness of a faster decay
    half1 = half2 = None
    if fit:
        pts = [(s, v) for s, v in zip(tr.steps, tr.loss) if s >= fit.x_from]
        mid = math.sqrt(fit.x_from * fit.x_to)
        a = [p for p in pts if p[0] <= mid]
        b = [p for p in pts if p[0] >= mid]
        half1 = rates.loglog_fit([p[0] for p in a], [p[1] for p in a], tail=1.0)
        half2 = rates.loglog_fit([p[0] for p in b], [p[1] for p in b], tail=1.0)
    # the loss's own relative error over the judged tail (twice it), so noise is not a decrease
    lo_tau = tr.steps[-1] ** (1 - TAIL) if tr.steps[-1] > 1 else 0
    rel_tol = 2 * max((e / v for s_, e, v in zip(tr.steps, tr.loss_error, tr.loss)
                       if s_ >= lo_tau and v > 0 and math.isfinite(e)), default=1e-12) + 1e-12
    quantities, per_eps, witness = [], [], None
    all_ok = fit is not None and regime is True
    for eps in eps_list:
        decided, nondec = rates.eventually_nondecreasing(tr.steps, tr.loss, 1 + eps, tail=TAIL,
                                                         rel_tol=rel_tol)
        slope_ok = fit is not None and fit.slope >= -(1 + eps) - 2 * fit.stderr
        margin = max(3 * fit.stderr, 0.5) if fit else math.inf
        steady_faster = (fit is not None and half1 is not None and half2 is not None
                         and all(f.slope < -(1 + eps) - margin for f in (fit, half1, half2)))
        per_eps.append({"eps": eps, "decided": decided, "nondecreasing": nondec,
                        "slope_ok": slope_ok, "steady_faster": steady_faster})
        ic = rates.implied_constant(tr.steps, tr.loss, 1 + eps, tail=TAIL)
        quantities.append(quantity(
            f"tau^(1+{eps:g}) * loss over the tail (last value)", ic.k_last, precision="float64",
            note=f"non-decreasing over the last {TAIL:.0%} of log tau: {nondec} (decided {decided}); "
                 f"max over the tail {ic.k_max:.4g}"))
        all_ok = all_ok and decided and nondec and slope_ok
        if steady_faster and witness is None:
            witness = {"eps": eps, "claimed_slope_at_least": -(1 + eps), "slope": fit.slope,
                       "stderr": fit.stderr, "slope_first_half": half1.slope,
                       "slope_second_half": half2.slope, "tau_window": [fit.x_from, fit.x_to],
                       "n": n, "d": d, "M0": M0, "eta": eta, "seed": seed, "steps": tr.steps[-1]}
    if fit:
        quantities.insert(0, quantity("loss log-log slope over the tail", fit.slope, fit.stderr,
                                      claimed=f">= -(1+eps) for eps in {eps_list}", relation=">=",
                                      precision="float64",
                                      note=f"tau in [{fit.x_from:.0f}, {fit.x_to:.0f}]; halves "
                                           f"{half1.slope if half1 else float('nan'):.3f}, "
                                           f"{half2.slope if half2 else float('nan'):.3f}"))
    if witness:
        verdict, reason = REFUTED, ""
    elif all_ok:
        verdict, reason = CONFIRMED, ""
    else:
        verdict = INCONCLUSIVE
        reason = (f"not decided on {tr.steps[-1]} steps: regime (exactly one converged) = {regime}, "
                  f"per eps {[(p['eps'], p['nondecreasing'], p['slope_ok']) for p in per_eps]}; "
                  "the run may still be in its transient")
    findings = [f"classes at the end: {cls}; loss at the end {tr.loss[-1]:.4g} at tau = {tr.steps[-1]}"]
    figs = common.trajectory_figures("thm3_7", f"thm3.7 (n={n}, d={d}, M0={M0:g})", [("GD", tr)],
                                     reference=("tau^-1", 1.0))
    inputs = {"seed": seed, "tier": tier, "n": n, "d": d, "M0": M0, "eta": eta, "steps": steps,
              "t": 0, "parameterisation": "noised", "digits": DIGITS, "eps": eps_list, "tail": TAIL,
              "rel_tol": rel_tol, "outcome_rules": rules, "per_eps": per_eps,
              "stop_reason": tr.stop_reason, "precision": tr.precision}
    return common.make_record(sys.modules[__name__], verdict=verdict, assurance="float64", tier=tier,
                              quantities=quantities, findings=findings, witness=witness,
                              reason=reason, figures=figs, inputs=inputs)
