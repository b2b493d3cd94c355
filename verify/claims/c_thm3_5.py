"""thm3.5 (with Cor. 3.6): random far initialisation -- exactly one parameter converges.

Statement (own words): with the initial means drawn i.i.d. from N(m, I_d), far from the target
(|m - m*| = M0 > 10^9 sqrt(d) n^10), at t = 0, gradient descent has, with probability at least
1 - n^2 M0^(-1/3), exactly one mean converging to the target and all the others diverging; the loss
then decays as O(1/tau).

Provenance: as reported by the public summary of the paper (arXiv 2511.22069, Thm 3.5 and
Cor. 3.6); theorem number and constants unverified (SPEC §1).

Kind of check: statistical and qualitative.  The probability statement is a *lower bound*
(empirical frequency >= 1 - n^2 M0^(-1/3)): it is checked by a 95% Wilson interval over seeds; at
any feasible M0 the bound is vacuous (negative), which the record says.  The rate O(1/tau) is an
*upper bound*, judged by the implied constant tau * loss over the tail (bounded) and the fitted
slope; growth of tau * loss counts against the claim only when it persists over the last half of
that tail too and ends above every earlier value of tau * loss (a rise that levels off inside the
run -- seen at M0 ~ 4..6 -- is a transient and gives INCONCLUSIVE).  The stated scale M0 = 10^9 sqrt(d) n^10 is not reachable by GD in any budget; the record
gives the reason with numbers (step-size and step-count estimates) and leaves that part undecided.

Classification rule (explicit; recorded in the inputs), from each parameter's distance r_i(tau)
to the target on the log-spaced records:
  converged -- r_i <= converge_tol at each of the last ``window`` + 1 records;
  diverging -- r_i strictly increased over the last ``window`` + 1 records and ends above its
               initial value r_i(0);
  undecided -- otherwise.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from verify import dynamics, rates
from verify.claims import common
from verify.claims.common import (CONFIRMED, INCONCLUSIVE, REFUTED, quantity, wilson_interval)

ID = "thm3.5"
TITLE = "Random far initialisation: exactly one mean converges w.p. >= 1 - n^2 M0^(-1/3); loss O(1/tau)"
STATEMENT = ("With m_i(0) drawn i.i.d. from N(m, I_d), |m - m*| = M0 > 10^9 sqrt(d) n^10 and t = 0, "
             "with probability at least 1 - n^2 M0^(-1/3) exactly one mean converges to the target, "
             "the others diverge, and the loss is O(1/tau).")
PROVENANCE = ("As reported by the public summary of arXiv 2511.22069 (Thm 3.5, Cor. 3.6); "
              "constants unverified.")

CONVERGED, DIVERGING, UNDECIDED = "converged", "diverging", "undecided"


# ---------------------------------------------------------------------------------------------
# Shared by the dynamics claims (thm3.4, thm3.7, figure)
# ---------------------------------------------------------------------------------------------

def outcome_rules(converge_tol: float = 0.05, window: int = 4) -> dict:
    return {"converge_tol": converge_tol, "window": window,
            "rule": "converged: r <= converge_tol at each of the last window+1 records; "
                    "diverging: r strictly increasing over the last window+1 records and "
                    "r_end > r(0); otherwise undecided"}


def classify_outcome(traj, rules: dict) -> list[str]:
    """Per-parameter class from the distances recorded in ``traj`` (see the module docstring)."""
    if not traj.dist:
        return []
    w = rules["window"]
    out = []
    for i in range(len(traj.dist[0])):
        r = [row[i] for row in traj.dist]
        tail = r[-(w + 1):]
        if not math.isfinite(r[-1]):
            out.append(DIVERGING)
        elif len(tail) == w + 1 and max(tail) <= rules["converge_tol"]:
            out.append(CONVERGED)
        elif (len(tail) == w + 1 and all(b > a for a, b in zip(tail, tail[1:]))
              and r[-1] > r[0]):
            out.append(DIVERGING)
        else:
            out.append(UNDECIDED)
    return out


def exactly_one(classes: list[str]) -> bool | None:
    """True/False when every parameter is classified, None when some is undecided."""
    if UNDECIDED in classes:
        return None
    return classes.count(CONVERGED) == 1 and classes.count(DIVERGING) == len(classes) - 1


def far_init(n: int, d: int, M0: float, seed: int) -> tuple[list[list[float]], list[float]]:
    """Centred c_i(0) = m_i(0) - m*: m* = 0, m = M0 u (u a random unit vector), m_i ~ N(m, I_d)."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    c = M0 * u[None, :] + rng.standard_normal((n, d))
    return c.tolist(), (M0 * u).tolist()


def default_eta(M0: float) -> float:
    """Step size: 0.01 (the paper's) capped by 0.36 / M0^2 (the Hessian grows like M0^2)."""
    return min(0.01, 0.36 / M0 ** 2)


def rate_summary(traj, power: float, tail: float = 0.5):
    """(fit of log loss vs log tau, implied constant of loss = O(tau^-power)) over the tail."""
    fit = rates.loglog_fit(traj.steps, traj.loss, tail=tail)
    ic = rates.implied_constant(traj.steps, traj.loss, power, tail=tail)
    return fit, ic


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------

TIERS = {
    # (n, d, M0 list, seeds per M0); step caps only, so a rerun reproduces the record exactly
    "quick": {"configs": [(2, 2, [3.0, 6.0], 5)], "steps": 3000,
              "rate_run": (2, 2, 4.0, 12000)},
    "full": {"configs": [(2, 2, [2.0, 3.0, 4.0, 6.0, 8.0, 12.0], 6), (2, 3, [4.0, 8.0], 5),
                         (3, 2, [4.0, 8.0], 3)],
             "steps": 6000, "rate_run": (2, 2, 4.0, 60000)},
}


def bound(n: int, M0: float) -> float:
    return 1 - n * n * M0 ** (-1.0 / 3.0)


def stated_scale_note(n: int, d: int) -> tuple[dict, str]:
    """Why the stated scale is out of reach: the numbers."""
    M0 = 1e9 * math.sqrt(d) * n ** 10
    eta_max = 0.36 / M0 ** 2
    # the converging mean moves at most ~eta * |grad| ~ eta * M0 per step while |c| ~ M0 at best
    steps_needed = M0 / (eta_max * M0)
    info = {"n": n, "d": d, "M0_stated": M0, "eta_stable_estimate": eta_max,
            "steps_needed_estimate": steps_needed}
    text = (f"At the stated scale (n={n}, d={d}: M0 = 1e9 sqrt(d) n^10 = {M0:.3g}) the numbers are "
            f"representable, but the Hessian at the initial cluster grows like M0^2, so a stable step "
            f"is eta <~ {eta_max:.2g}, and moving a mean a distance M0 at speed ~eta*M0 takes "
            f"~{steps_needed:.2g} steps: far beyond any budget, so that part is not run (undecided).")
    return info, text


def check(tier: str = "quick", seed: int = 20260101, *, claimed_power: float = 1.0,
          configs=None, steps: int | None = None,
          rate_run=None, rules: dict | None = None) -> common.ClaimRecord:
    """Run the thm3.5 check; keyword arguments override the tier's sizes or mutate the claim
    (``claimed_power``: the loss is claimed O(tau^-claimed_power); the paper's is 1)."""
    cfg = TIERS[tier]
    configs = cfg["configs"] if configs is None else configs
    steps = steps or cfg["steps"]
    rate_run = rate_run or cfg["rate_run"]
    rules = rules or outcome_rules()
    rows, quantities, findings = [], [], []
    table_rows = []
    closest_hits = closest_total = 0
    freq_refuted = None
    for (n, d, M0s, nseeds) in configs:
        for M0 in M0s:
            eta = default_eta(M0)
            ones = decided = 0
            for k in range(nseeds):
                s = seed + 1000 * k + int(M0 * 10) + 100000 * n + 10000 * d
                c0, _ = far_init(n, d, M0, s)
                tr = dynamics.run_gd(c0, eta, steps, digits=4, progress=False)
                cls = classify_outcome(tr, rules)
                one = exactly_one(cls)
                if one is not None:
                    decided += 1
                    ones += int(one)
                if one:
                    closest = int(np.argmin([np.linalg.norm(x) for x in c0]))
                    closest_total += 1
                    closest_hits += int(cls[closest] == CONVERGED)
                rows.append({"n": n, "d": d, "M0": M0, "seed": s, "eta": eta,
                             "steps_run": tr.steps[-1], "classes": cls,
                             "final_loss": tr.loss[-1], "stop_reason": tr.stop_reason})
            lo, hi = wilson_interval(ones, decided)
            b = bound(n, M0)
            table_rows.append([n, d, M0, nseeds, decided, ones,
                               f"{ones / decided:.3f}" if decided else "-",
                               f"[{lo:.3f}, {hi:.3f}]", f"{b:.3f}"])
            quantities.append(quantity(
                f"P(exactly one converges), n={n}, d={d}, M0={M0:g}",
                ones / decided if decided else math.nan, (hi - lo) / 2 if decided else None,
                claimed=b, relation=">=", precision="float64",
                note=f"{ones}/{decided} decided runs ({nseeds - decided} undecided); 95% Wilson "
                     f"[{lo:.3f}, {hi:.3f}]; the bound is {'vacuous (<= 0)' if b <= 0 else 'positive'}"))
            if decided and b > 0 and hi < b:
                freq_refuted = {"n": n, "d": d, "M0": M0, "successes": ones, "trials": decided,
                                "wilson_upper": hi, "bound": b}
    if closest_total:
        findings.append(f"The converging mean was the one initially closest to the target in "
                        f"{closest_hits} of {closest_total} runs where exactly one converged.")
        quantities.append(quantity("fraction of 'exactly one' runs where the closest converged",
                                   closest_hits / closest_total, precision="float64"))
    # the rate run
    n, d, M0, rsteps = rate_run
    eta = default_eta(M0)
    c0, _ = far_init(n, d, M0, seed)
    tr = dynamics.run_gd(c0, eta, rsteps, digits=4, progress=False)
    cls = classify_outcome(tr, rules)
    fit, ic = rate_summary(tr, claimed_power)
    # growth over the last half of the tail as well: steady growth, not a transient rise
    ic_late = rates.implied_constant(tr.steps, tr.loss, claimed_power, tail=0.25)
    k_before_tail = max((v * st ** claimed_power for st, v in zip(tr.steps, tr.loss)
                         if 0 < st < (ic.fit.x_from if ic.fit else 0)), default=0.0)
    quantities.append(quantity("loss log-log slope (tail half)", fit.slope if fit else math.nan,
                               fit.stderr if fit else None, claimed=-claimed_power, relation="~",
                               precision="float64",
                               note=f"n={n}, d={d}, M0={M0:g}, eta={eta:g}, {rsteps} steps"))
    quantities.append(quantity(f"implied constant tau^{claimed_power:g} * loss (max over tail)",
                               ic.k_max, precision="float64",
                               note=f"last {ic.k_last:.4g}; slope of log K "
                                    f"{ic.fit.slope if ic.fit else float('nan'):.3g} +- "
                                    f"{ic.fit.stderr if ic.fit else float('nan'):.2g}; "
                                    f"bounded={ic.bounded}"))
    info, note = stated_scale_note(2, 2)
    findings.append(note)
    findings.append("At every M0 run here the bound 1 - n^2 M0^(-1/3) is <= 0 (vacuous); the "
                    "frequencies show where the behaviour starts, not a test of the constant.")
    rate_ok = ic.decided and ic.bounded and exactly_one(cls) is True
    inputs = {"seed": seed, "tier": tier, "configs": [list(map(str, c[:3])) + [c[3]] for c in configs],
              "steps": steps, "t": 0, "parameterisation": "noised",
              "eta_rule": "min(0.01, 0.36/M0^2)", "outcome_rules": rules,
              "rate_run": {"n": n, "d": d, "M0": M0, "eta": eta, "steps": rsteps,
                           "classes": cls, "stop_reason": tr.stop_reason},
              "claimed_power": claimed_power, "runs": rows, "stated_scale": info}
    tables = [{"title": "Exactly one converges: frequency over seeds",
               "columns": ["n", "d", "M0", "seeds", "decided", "exactly one", "frequency",
                           "95% Wilson", "bound 1-n^2 M0^-1/3"], "rows": table_rows}]
    figs = common.trajectory_figures("thm3_5", f"thm3.5 rate run (n={n}, d={d}, M0={M0:g})",
                                     [("GD", tr)], reference=(f"tau^-{claimed_power:g}", claimed_power))
    total_decided = sum(int(r[4]) for r in table_rows)
    if freq_refuted:
        verdict, witness, reason = REFUTED, {"frequency_below_bound": freq_refuted}, ""
    elif (ic.decided and not ic.bounded and ic_late.decided and not ic_late.bounded
          and ic.k_last > k_before_tail and exactly_one(cls) is True):
        verdict = REFUTED
        witness = {"rate_run": inputs["rate_run"], "claimed_power": claimed_power,
                   "implied_constant_slope": ic.fit.slope, "stderr": ic.fit.stderr,
                   "k_max": ic.k_max, "k_last": ic.k_last}
        reason = ""
    elif rate_ok and total_decided > 0:
        verdict, witness, reason = CONFIRMED, None, ""
    else:
        verdict, witness = INCONCLUSIVE, None
        reason = ("rate run not decided (classes %s, implied constant decided=%s, bounded=%s) or "
                  "no seed run decided" % (cls, ic.decided, ic.bounded))
    return common.make_record(
        sys.modules[__name__], verdict=verdict, assurance="statistical", tier=tier,
        quantities=quantities, findings=findings, witness=witness, reason=reason, figures=figs,
        tables=tables, inputs=inputs)
