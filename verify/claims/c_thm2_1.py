"""thm2.1: at high noise GD converges globally, with loss O(n^3 d^2 / sqrt(eta tau)).

Statement (own words): let M = max_i |m_i(0) - m*|.  If the noise level satisfies
t > log n + log M + 2, gradient descent at that t drives every mean to the target from any
initialisation, and for a small step (of order 1/(n^4 d^2)) the loss after tau steps is at most a
constant times n^3 d^2 / sqrt(eta tau).

Provenance: as reported by the public summary of arXiv 2511.22069 (Thm 2.1); the constant and the
parameterisation of the step are unverified (SPEC §1).

Kind of check: an *upper bound* (rate) plus a qualitative statement (convergence).  Random
initialisations with |m_i(0) - m*| = M exactly (m* a random unit vector, directions seeded), t just
above the threshold (t = log n + log M + 2 + 0.1), float64 GD.  Since c = e^{-t}(m - m*), every
|c_i(0)| < e^{-2}/n: the whole run lives near the target.  Per run:

* every parameter must be *approaching* the target: |c_i| strictly decreasing over the last
  ``window`` + 1 records and below its start (the ratio |c_i(end)| / |c_i(0)| is reported);
* the implied constant K(tau) = loss sqrt(eta tau) / (n^3 d^2) must stay bounded over the last
  30% of the run in log tau (:func:`verify.rates.implied_constant`, power 1/2); the fitted slope is
  shown next to -1/2 (a faster decay still confirms an upper bound).  K growing is counted against
  the claim only when it grows over that tail *and* over its last half *and* ends above every
  value K took before the tail (otherwise K is still bounded by its own earlier values; these
  runs show a loss plateau for eta tau ~ 50..1000 that ends inside the moderate-step runs).

Runs use the noised parameterisation with the theorem's small step eta = 1/(n^4 d^2) and with a
moderate step eta = 0.5 (outside "small" but reaching eta tau >> 1 within the budget), and one run
in the clean parameterisation (effective step on c is eta e^{-2t}; eta is scaled by e^{2t} so that
the effective step equals 0.5 -- stated in the inputs).  CONFIRMED when every run's parameters are
approaching and every run's K is decided bounded; REFUTED when some decided run has K growing or a
parameter classified as moving away; otherwise INCONCLUSIVE.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from verify import api, dynamics, rates
from verify.claims import common
from verify.claims.common import CONFIRMED, INCONCLUSIVE, REFUTED, quantity

ID = "thm2.1"
TITLE = "High noise: for t > log n + log M + 2 GD converges globally, loss O(n^3 d^2 / sqrt(eta tau))"
STATEMENT = ("If t > log n + log M + 2 with M = max_i |m_i(0) - m*|, gradient descent at noise level t "
             "converges to the target from any initialisation, and for small eta the loss after tau "
             "steps is O(n^3 d^2 / sqrt(eta tau)).")
PROVENANCE = "As reported by the public summary of arXiv 2511.22069 (Thm 2.1); constants unverified."

WINDOW = 4
MARGIN_T = 0.1
TAIL = 0.3

TIERS = {
    # (n, d, M, eta kind, parameterisation, steps)
    "quick": [(3, 2, 2.0, "moderate", "noised", 12000), (2, 3, 2.0, "moderate", "noised", 4000),
              (3, 2, 2.0, "moderate", "clean", 4000)],
    "full": [(2, 2, 2.0, "small", "noised", 60000), (3, 2, 2.0, "small", "noised", 60000),
             (2, 3, 5.0, "moderate", "noised", 20000), (3, 2, 2.0, "moderate", "noised", 20000),
             (3, 3, 3.0, "moderate", "noised", 10000), (4, 2, 2.0, "moderate", "noised", 8000),
             (3, 2, 2.0, "moderate", "clean", 10000)],
}


def initial(n: int, d: int, M: float, seed: int):
    """Original-coordinate means with |m_i - m*| = M exactly, and a unit-norm target m*."""
    rng = np.random.default_rng(seed)
    m_star = rng.standard_normal(d)
    m_star /= np.linalg.norm(m_star)
    u = rng.standard_normal((n, d))
    u /= np.linalg.norm(u, axis=1)[:, None]
    return (m_star[None, :] + M * u).tolist(), m_star.tolist()


def approaching(traj, window: int = WINDOW) -> list[bool]:
    out = []
    for i in range(len(traj.dist[0])):
        r = [row[i] for row in traj.dist]
        tail = r[-(window + 1):]
        out.append(len(tail) == window + 1 and all(b < a for a, b in zip(tail, tail[1:]))
                   and r[-1] < r[0])
    return out


def check(tier: str = "quick", seed: int = 20260101, *, runs=None, claimed_power: float = 0.5,
          t_margin: float = MARGIN_T) -> common.ClaimRecord:
    """Run the thm2.1 check; ``claimed_power`` mutates the rate (the paper's is 1/2 in eta tau)."""
    runs = runs or TIERS[tier]
    quantities, rows, table, figs_runs = [], [], [], []
    all_ok, refuted, undecided = True, None, []
    for k, (n, d, M, eta_kind, param, steps) in enumerate(runs):
        s = seed + k
        m0, m_star = initial(n, d, M, s)
        t = math.log(n) + math.log(M) + 2 + t_margin
        eta_eff = 1.0 / (n ** 4 * d ** 2) if eta_kind == "small" else 0.5
        if param == "noised":
            params = [[math.exp(-t) * x for x in row] for row in m0]   # mu_i = e^{-t} m_i
            eta = eta_eff
        else:
            params = m0
            eta = eta_eff * math.exp(2 * t)   # effective step on c is eta e^{-2t}
        c0 = api.centred(params, m_star, t, param)
        tr = dynamics.run_gd(c0, eta, steps, digits=6, t=t, parameterisation=param,
                             progress=False)
        appr = approaching(tr)
        scale = n ** 3 * d ** 2
        # K(tau) = loss (eta tau)^p / (n^3 d^2), eta the effective step on c; implied_constant
        # multiplies by tau^p itself
        kvals = [v * eta_eff ** claimed_power / scale for v in tr.loss]
        ic = rates.implied_constant(tr.steps, kvals, claimed_power, tail=TAIL)
        # the last half of that tail: growth there too makes the growth steady, not a transient
        ic_late = rates.implied_constant(tr.steps, kvals, claimed_power, tail=TAIL / 2)
        fit = rates.loglog_fit(tr.steps, tr.loss, tail=0.5)
        ratios = [row_end / row0 for row0, row_end in zip(tr.dist[0], tr.dist[-1])]
        ok = all(appr) and ic.decided and ic.bounded
        all_ok = all_ok and ok
        k_before_tail = max((kk * st ** claimed_power for st, kk in zip(tr.steps, kvals)
                             if 0 < st < (ic.fit.x_from if ic.fit else 0)), default=0.0)
        if (ic.decided and not ic.bounded and ic_late.decided and not ic_late.bounded
                and ic.k_last > k_before_tail and refuted is None):
            refuted = {"run": k, "n": n, "d": d, "M": M, "t": t, "eta": eta, "eta_effective": eta_eff,
                       "parameterisation": param, "seed": s, "steps": steps,
                       "claimed_power": claimed_power, "K_slope": ic.fit.slope,
                       "K_slope_stderr": ic.fit.stderr, "K_max": ic.k_max, "K_last": ic.k_last}
        label = f"n={n}, d={d}, M={M:g}, eta={eta_kind}, {param}"
        rows.append({"n": n, "d": d, "M": M, "t": t, "eta": eta, "eta_effective": eta_eff,
                     "parameterisation": param, "steps": steps, "seed": s, "approaching": appr,
                     "dist_ratio_end_over_start": ratios, "stop_reason": tr.stop_reason,
                     "precision": tr.precision, "implied_constant": ic.to_dict()})
        if not ok:
            undecided.append(rows[-1])
        table.append([n, d, M, f"{t:.4f}", param, f"{eta:.4g}", steps, str(all(appr)),
                      f"{max(ratios):.3g}", f"{ic.k_max:.3g}", str(ic.bounded),
                      f"{fit.slope:.3f} +- {fit.stderr:.3f}" if fit else "-"])
        quantities.append(quantity(f"K = loss sqrt(eta tau)/(n^3 d^2) max over tail ({label})",
                                   ic.k_max, precision="float64",
                                   note=f"last {ic.k_last:.3g}; log K slope "
                                        f"{ic.fit.slope if ic.fit else math.nan:.3f} +- "
                                        f"{ic.fit.stderr if ic.fit else math.nan:.3f}; bounded={ic.bounded}"))
        if fit:
            quantities.append(quantity(f"loss log-log slope ({label})", fit.slope, fit.stderr,
                                       claimed=-claimed_power, relation="<=", precision="float64"))
        if k < 2:
            figs_runs.append((label, tr))
    figs = common.trajectory_figures("thm2_1", "thm2.1 (high noise)", figs_runs,
                                     reference=("tau^-1/2", 0.5))
    findings = ["Every |c_i(0)| = e^{-t} M < e^{-2}/n: the high-noise threshold puts the whole run "
                "inside a small ball around the target.",
                "The measured decay is faster than tau^-1/2 in these runs where the slope is below "
                "-1/2; an upper bound is still confirmed by a faster decay."]
    if refuted:
        verdict, reason, witness = REFUTED, "", refuted
    elif all_ok:
        verdict, reason, witness = CONFIRMED, "", None
    else:
        verdict, witness = INCONCLUSIVE, None
        described = [
            f"n={r['n']}, d={r['d']}, M={r['M']:g}, eta={r['eta_effective']:.4g}, {r['parameterisation']}, "
            f"{r['steps']} steps (eta*tau = {r['eta_effective'] * r['steps']:.3g}): approaching "
            f"{r['approaching']}, implied constant decided={r['implied_constant']['decided']}, "
            f"bounded={r['implied_constant']['bounded']}, log K slope "
            + (f"{r['implied_constant']['fit']['slope']:.3f} +- {r['implied_constant']['fit']['stderr']:.3f}"
               if r['implied_constant'].get('fit') else "-")
            for r in undecided]
        reason = ("not decided within the runs' budgets (a run decides when every |c_i| is "
                  "approaching the target and K = loss sqrt(eta tau)/(n^3 d^2) is bounded over the "
                  "tail; growth of K that is not steady over the last half of the tail, or has not "
                  "exceeded K before the tail, is not counted as a refutation): " + "; ".join(described))
    inputs = {"seed": seed, "tier": tier, "t_rule": f"log n + log M + 2 + {t_margin}",
              "approach_rule": f"|c_i| strictly decreasing over the last {WINDOW}+1 records and below its start",
              "claimed_power": claimed_power, "runs": rows}
    return common.make_record(sys.modules[__name__], verdict=verdict, assurance="float64", tier=tier,
                              quantities=quantities, findings=findings, witness=witness,
                              reason=reason, figures=figs, inputs=inputs,
                              tables=[{"title": "thm2.1 runs",
                                       "columns": ["n", "d", "M", "t", "param", "eta", "steps",
                                                   "approaching", "max |c|end/|c|0", "K max",
                                                   "K bounded", "slope"], "rows": table}])
