"""thm3.5 (with Cor. 3.6): random far initialisation -- exactly one parameter converges.

Statement (own words): with the initial means drawn i.i.d. from N(m, I_d), far from the target
(|m - m*| = M0 > 10^9 sqrt(d) n^10), at t = 0, gradient descent has, with probability at least
1 - n^2 M0^(-1/3), exactly one mean converging to the target and all the others diverging; the loss
then decays as O(1/tau).

Provenance: as reported by the public summary of the paper (arXiv 2511.22069, Thm 3.5 and
Cor. 3.6); theorem number and constants unverified (SPEC §1).

Kind of check: statistical for the probability, asymptotic for the rate and the divergence
(issue 11).  The probability statement is a *lower bound* (empirical frequency >= 1 - n^2 M0^(-1/3)),
checked by a 95% Wilson interval over seeds; at any feasible M0 the bound is vacuous (negative),
which the record says.  The rate O(1/tau) and "the others diverge" are statements about
tau -> infinity, decided by the far regime's derived slow law (:mod:`verify.asymptotics.far`,
derivation ``far-drift``) validated against a full GD run (n = 2, from the GD state when the near
mean has converged) and integrated to tau = 1e12: the far mean diverges when the law sends r to
infinity (derived: r ~ sqrt(8 ln tau)); loss = O(tau^-P) holds when tau^P * loss stays bounded under
the law (derived: tau * loss -> 0 like 16 m/(eta r^2)), and fails (REFUTED, the law's numbers as
witness) when it grows at the law's end with a slope that does not fall back (P > 1: the derived
limit slope is -1).  The stated scale M0 = 10^9 sqrt(d) n^10 is not reachable by GD in any budget;
the record gives the reason with numbers and reads the theorem at feasible M0 (``reading``).

Classification rule (explicit; recorded in the inputs), from each parameter's distance r_i(tau)
to the target on the log-spaced records:
  converged -- r_i <= converge_tol at each of the last ``window`` + 1 records;
  diverging -- r_i strictly increased over the last ``window`` + 1 records and ends above its
               initial value r_i(0); or (n = 2 only) the other mean converged and this one is at
               r >= 3, where the validated far-regime law's drift g(r) > 0 carries it to infinity;
  undecided -- otherwise.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from verify import dynamics, rates
from verify.claims import common
from verify.claims.common import (CONFIRMED, INCONCLUSIVE, REFUTED, quantity, wilson_interval)
from verify.claims.record import Finding
from verify.outcomes import (CONVERGED, DIVERGING, UNDECIDED, classify_outcome, default_eta,
                             exactly_one, far_init, outcome_rules, run_many)

ID = "thm3.5"
TITLE = "Random far initialisation: exactly one mean converges w.p. >= 1 - n^2 M0^(-1/3); loss O(1/tau)"
STATEMENT = ("With m_i(0) drawn i.i.d. from N(m, I_d), |m - m*| = M0 > 10^9 sqrt(d) n^10 and t = 0, "
             "with probability at least 1 - n^2 M0^(-1/3) exactly one mean converges to the target, "
             "the others diverge, and the loss is O(1/tau).")
PROVENANCE = ("As reported by the public summary of arXiv 2511.22069 (Thm 3.5, Cor. 3.6); "
              "constants unverified.")



def rate_summary(traj, power: float, tail: float = 0.5):
    """(fit of log loss vs log tau, implied constant of loss = O(tau^-power)) over the tail."""
    fit = rates.loglog_fit(traj.steps, traj.loss, tail=tail)
    ic = rates.implied_constant(traj.steps, traj.loss, power, tail=tail)
    return fit, ic


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------

TIERS = {
    # (n, d, M0 list, seeds per M0); step caps only, so a rerun reproduces the record exactly.
    # rate_run = (n, d, M0, steps): the GD run the far-regime law is validated on.
    "quick": {"configs": [(2, 2, [3.0, 6.0], 3)], "steps": 3000,
              "rate_run": (2, 2, 4.0, 100_000), "min_span": 10.0, "derive": False},
    "full": {"configs": [(2, 2, [2.0, 3.0, 4.0, 6.0, 8.0, 12.0], 6), (2, 3, [4.0, 8.0], 5),
                         (3, 2, [4.0, 8.0], 3)],
             "steps": 6000, "rate_run": (2, 2, 4.0, 1_000_000), "min_span": 10.0, "derive": True},
}
READING = {
    "M0": "feasible M0 (2..12) instead of the stated M0 > 1e9 sqrt(d) n^10 -- that scale is out of "
          "reach of any GD budget (see findings); at feasible M0 the probability bound is vacuous, "
          "so the frequencies show where the behaviour starts",
    "diverge": "the far mean's distance tends to infinity under the validated far-regime law "
               "-- a finite run only sees a slow drift",
    "O(1/tau)": "tau * loss bounded for all tau: the GD run's values before the law starts, the "
                "validated law's after -- the bound is a statement about tau -> infinity",
}


def law_classes(traj, classes: list[str]) -> list[str]:
    """The GD classes, with the far mean of a two-mean run that the GD rule left undecided decided
    by the far-regime law: when the other mean has converged and the far one is at r >= R_MIN,
    the law's drift g(r) > 0 carries it to infinity (class ``diverging``).  Runs with more means
    are left as GD classified them (unequal far means are outside the law's configuration)."""
    from verify.asymptotics import far
    if len(classes) != 2 or classes.count(CONVERGED) != 1 or UNDECIDED not in classes:
        return classes
    j = classes.index(UNDECIDED)
    if traj.dist[-1][j] >= far.R_MIN:
        return [DIVERGING if c == UNDECIDED else c for c in classes]
    return classes


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
            seeds = [seed + 1000 * k + int(M0 * 10) + 100000 * n + 10000 * d for k in range(nseeds)]
            starts = [far_init(n, d, M0, s)[0] for s in seeds]
            for s, c0, tr in zip(seeds, starts, run_many(starts, eta, steps)):
                cls = law_classes(tr, classify_outcome(tr, rules))
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
        findings.append(Finding("The converging mean was the one initially closest to the target",
                                value=f"{closest_hits} of {closest_total} runs",
                                evidence="fraction of 'exactly one' runs where the closest converged"))
        quantities.append(quantity("fraction of 'exactly one' runs where the closest converged",
                                   closest_hits / closest_total, precision="float64"))
    # the rate and the divergence: the far-regime law, validated on one full GD run
    from verify.asymptotics import far
    from verify.claims.far_common import law_quantities, validation_quantities
    n, d, M0, rsteps = rate_run
    eta = default_eta(M0)
    c0, _ = far_init(n, d, M0, seed)
    tr = run_many([c0], eta, rsteps, digits=8)[0]
    cls = classify_outcome(tr, rules)
    val = far.validate(tr, eta, min_span=cfg["min_span"])
    qs_der, der, der_ok = [], None, True
    if cfg["derive"]:
        from verify.claims.symbolic_common import run_derivation
        der, der_ok, qs_der = run_derivation("far-drift", digits=15)
    quantities += validation_quantities(val)
    fit = rates.loglog_fit(tr.steps, tr.loss, tail=0.5)
    if fit:
        quantities.append(quantity("GD window: loss log-log slope (tail half)", fit.slope,
                                   fit.stderr, claimed=-claimed_power, relation="~",
                                   precision="float64",
                                   note=f"n={n}, d={d}, M0={M0:g}, eta={eta:g}, {rsteps} steps; "
                                        "reported, not deciding"))
    rate, law_ok, ratios, k_sup = None, False, None, None
    if val.law is not None:
        law = val.law
        ratios = far.asymptotic_ratios(law)
        law_ok = far.law_consistent(ratios)
        quantities += law_quantities(law, ratios)
        P = claimed_power
        tail_exp = P + law.slope            # d ln(tau^P loss) / d ln tau along the law
        k = len(law.slope) - 1
        kd = max(1, int(0.9 * k))
        rising_slope = bool(law.slope[k] > law.slope[kd])
        tau_gd = [t for t in tr.steps if 0 < t <= val.tau0]
        k_gd = max((tr.loss[i] * tr.steps[i] ** P for i in range(len(tr.steps))
                    if 0 < tr.steps[i] <= val.tau0), default=0.0)
        k_law = float(np.max(law.steps[1:] ** P * law.loss[1:]))
        k_sup = max(k_gd, k_law)
        # bounded when the exponent is negative at the end and, the slope rising to its derived
        # limit -1, stays so (P <= 1); unbounded when positive at the end and not falling back
        if tail_exp[k] < 0 and (P <= 1 or not rising_slope):
            rate = "bounded"
        elif tail_exp[k] > 0 and (rising_slope or P > 1):
            rate = "unbounded"
        else:
            rate = "undecided"
        quantities.append(quantity(
            f"implied constant sup tau^{P:g} * loss (GD before tau0, law after)", k_sup,
            precision="float64", claimed="bounded", relation="~",
            note=f"GD part {k_gd:.4g} over {len(tau_gd)} records; law part {k_law:.4g}; at the "
                 f"law's end tau^{P:g} loss = {float(law.steps[-1] ** P * law.loss[-1]):.4g}"
                 f", d ln(tau^P loss)/d ln tau = {tail_exp[k]:.4f}; under the law: {rate}"))
        mv = far.steps_to_move(law.r0, 1.0, eta, law.m)
        quantities.append(quantity("steps for the far mean to move from r0 to r0 + 1 (law)", mv,
                                   precision="float64", note=f"r0 = {law.r0:.6g}, eta = {eta:g}"))
        findings.append(Finding(
            "The far mean diverges under the validated law: r grows without bound like "
            "sqrt(8 ln tau), so slowly that a finite run sees only a drift",
            value=f"r = {law.r0:.4g} at tau0 = {val.tau0} -> {law.r[-1]:.4g} at tau = {law.steps[-1]:.3g}",
            evidence="thm3_5-law-r", kind="finding"))
        findings.append(Finding(
            "O(1/tau) holds with room under the law: tau * loss -> 0 like 16 m / (eta r^2), "
            "i.e. loss ~ 2m/(eta tau ln tau)",
            value=f"tau loss eta r^2/(16 m) = {ratios['end']['loss_eta_tau_r2_over_16m']:.4f} at "
                  f"tau = {law.steps[-1]:.3g}", evidence="thm3_5-law-loss", kind="finding"))
    info, note = stated_scale_note(2, 2)
    findings.append(Finding(note, value=f"{info['steps_needed_estimate']:.3g} steps",
                            kind="constant-gap"))
    findings.append(Finding("At every M0 run here the bound 1 - n^2 M0^(-1/3) is <= 0 (vacuous); the "
                            "frequencies show where the behaviour starts, not a test of the constant.",
                            kind="constant-gap",
                            evidence="Exactly one converges: frequency over seeds"))
    inputs = {"seed": seed, "tier": tier, "configs": [list(map(str, c[:3])) + [c[3]] for c in configs],
              "steps": steps, "t": 0, "parameterisation": "noised",
              "eta_rule": "min(0.01, 0.36/M0^2)", "outcome_rules": rules,
              "rate_run": {"n": n, "d": d, "M0": M0, "eta": eta, "steps": rsteps,
                           "classes": cls, "stop_reason": tr.stop_reason},
              "validation": val.summary(), "asymptotic_ratios": ratios, "rate_under_law": rate,
              "claimed_power": claimed_power, "runs": rows, "stated_scale": info}
    tables = [{"title": "Exactly one converges: frequency over seeds",
               "columns": ["n", "d", "M0", "seeds", "decided", "exactly one", "frequency",
                           "95% Wilson", "bound 1-n^2 M0^-1/3"], "rows": table_rows}]
    figs = far.figures("thm3_5", f"thm3.5 rate run (n={n}, d={d}, M0={M0:g})", tr, val)
    witness = None
    if freq_refuted:
        verdict, witness, reason = REFUTED, {"frequency_below_bound": freq_refuted}, ""
    elif not val.passed:
        verdict, reason = INCONCLUSIVE, f"the reduced law's validation failed: {val.reason}"
    elif not (law_ok and der_ok):
        verdict = INCONCLUSIVE
        reason = ("the law's numbers do not approach the derived asymptotic forms" if not law_ok
                  else "a step of the far-drift derivation failed")
    elif rate == "unbounded":
        verdict, reason = REFUTED, ""
        witness = {"rate_run": inputs["rate_run"], "claimed_power": claimed_power,
                   "law": "dr/dtau = eta g(r) (far-drift), validated",
                   "law_slope_end": float(val.law.slope[-1]), "tau_end": float(val.law.steps[-1]),
                   "implied_constant_sup_so_far": k_sup, "validation": val.summary()}
    elif rate == "bounded":
        verdict, reason = CONFIRMED, ""
    else:
        verdict = INCONCLUSIVE
        reason = f"the rate is undecided under the law (classes of the GD run {cls})"
    return common.make_record(
        sys.modules[__name__], verdict=verdict, assurance="asymptotic", tier=tier,
        quantities=qs_der + quantities, findings=findings, witness=witness, reason=reason,
        figures=figs, tables=tables, inputs=inputs, reading=dict(READING), derivation=der)
