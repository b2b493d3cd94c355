"""thm3.4: necessity of a tiny initialisation -- from m_1(0) = exp(-M0/100) e_1, m_i(0) = 0
(i >= 2), only m_1 converges.

Statement (own words): at t = 0 with a target of norm |m*| = M0, start one mean at
exp(-M0/100) e_1 and all the others at the origin.  Then gradient descent drives m_1 to the target
while every other mean diverges -- so the small-initialisation result (thm3.2) needs its
exponentially small scale.

Provenance: as reported by the public summary of arXiv 2511.22069 (Thm 3.4); the direction of m*
relative to e_1 and the size of M0 are not stated there; constants unverified (SPEC §1).

Kind of check: qualitative (float64 GD, explicit classification rules of
:func:`verify.claims.c_thm3_5.classify_outcome`).  Since c_2 = ... = c_n exactly, they stay equal
and the difference span is one-dimensional, so these runs are cheap.  Several M0 and several angles
theta between m* and e_1 are run; runs at M0 >= ``scope_M0`` are in scope (smaller M0 shows where
the behaviour starts).  A decided in-scope run whose pattern differs from "m_1 converges, all
others diverge" is a refutation witness.  The growth law of the diverging norms is fitted as
tau^alpha (log-log slope) and as |c|^2 = a + b ln tau (least squares), both reported.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from verify import api, dynamics, rates
from verify.claims import common
from verify.claims.c_thm3_5 import (CONVERGED, DIVERGING, UNDECIDED, classify_outcome,
                                    default_eta, outcome_rules)
from verify.claims.common import CONFIRMED, INCONCLUSIVE, REFUTED, quantity

ID = "thm3.4"
TITLE = "Necessity of tiny initialisation: from m_1(0) = exp(-M0/100) e_1, others at 0, only m_1 converges"
STATEMENT = ("At t = 0 with |m*| = M0, if m_1 starts at exp(-M0/100) e_1 and every other mean at the "
             "origin, then only m_1 converges to the target; the other means diverge.")
PROVENANCE = ("As reported by the public summary of arXiv 2511.22069 (Thm 3.4); direction of m* and "
              "range of M0 not stated there; constants unverified.")

TIERS = {
    "quick": {"n": 3, "d": 2, "M0s": [3.0, 8.0], "angles": [0.0, math.pi / 2, math.pi],
              "steps": 4000},
    "full": {"n": 3, "d": 2, "M0s": [1.0, 2.0, 3.0, 5.0, 8.0, 12.0],
             "angles": [0.0, math.pi / 4, math.pi / 2, 3 * math.pi / 4, math.pi],
             "steps": 8000},
}


def initial(n: int, d: int, M0: float, angle: float, init_scale: float | None = None):
    """Centred c(0) (t = 0, so c_i = m_i - m*) and m*; m* = M0 (cos angle, sin angle, 0, ...)."""
    m_star = [0.0] * d
    m_star[0] = M0 * math.cos(angle)
    if d > 1:
        m_star[1] = M0 * math.sin(angle)
    m = [[0.0] * d for _ in range(n)]
    m[0][0] = math.exp(-M0 / 100) if init_scale is None else init_scale
    return [[float(x) for x in row] for row in api.centred(m, m_star, 0)], m_star


def growth_law(traj, i: int) -> dict:
    """Fits of r_i(tau) over the tail half: r ~ tau^alpha, and r^2 = a + b ln tau."""
    fit = rates.loglog_fit(traj.steps, [row[i] for row in traj.dist], tail=0.5)
    pts = [(math.log(s), row[i] ** 2) for s, row in zip(traj.steps, traj.dist)
           if s > 0 and math.isfinite(row[i])]
    lo = pts[-1][0] / 2 if pts else 0
    pts = [p for p in pts if p[0] >= lo]
    out = {"alpha": fit.slope if fit else None, "alpha_stderr": fit.stderr if fit else None}
    if len(pts) >= 3:
        x = np.array([p[0] for p in pts])
        y = np.array([p[1] for p in pts])
        b, a = np.polyfit(x, y, 1)
        resid = y - (a + b * x)
        out.update({"b_r2_per_ln_tau": float(b), "a": float(a),
                    "rms_resid_r2": float(np.sqrt((resid ** 2).mean()))})
    return out


def check(tier: str = "quick", seed: int = 20260101, *, init_scale: float | None = None,
          M0s=None, angles=None, steps: int | None = None,
          scope_M0: float = 3.0, rules: dict | None = None, n: int | None = None,
          d: int | None = None) -> common.ClaimRecord:
    """Run the thm3.4 check.  ``init_scale`` replaces exp(-M0/100) (a mutation: e.g. 0 puts all
    means at the origin, where they stay identical and all converge)."""
    cfg = TIERS[tier]
    n = n or cfg["n"]
    d = d or cfg["d"]
    M0s = M0s or cfg["M0s"]
    angles = cfg["angles"] if angles is None else angles
    steps = steps or cfg["steps"]
    rules = rules or outcome_rules()
    rows, table, quantities, findings, runs_for_fig = [], [], [], [], []
    witness = None
    undecided_in_scope = 0
    confirmed_in_scope = 0
    start_M0 = {}
    laws = []
    for angle in angles:
        for M0 in M0s:
            c0, m_star = initial(n, d, M0, angle, init_scale)
            eta = default_eta(M0)
            tr = dynamics.run_gd(c0, eta, steps, digits=4, progress=False)
            cls = classify_outcome(tr, rules)
            as_claimed = (cls[0] == CONVERGED and all(c == DIVERGING for c in cls[1:]))
            decided = UNDECIDED not in cls
            row = {"M0": M0, "angle": angle, "eta": eta, "steps_run": tr.steps[-1],
                   "classes": cls, "final_dist": tr.dist[-1], "final_loss": tr.loss[-1],
                   "stop_reason": tr.stop_reason}
            if as_claimed:
                law = growth_law(tr, 1)
                row["growth_law_c2"] = law
                laws.append((M0, angle, law))
                start_M0.setdefault(angle, M0)
            rows.append(row)
            table.append([f"{angle:.4f}", M0, eta, tr.steps[-1], " ".join(c[:4] for c in cls),
                          f"{tr.dist[-1][0]:.3g}", f"{tr.dist[-1][1]:.4g}",
                          "yes" if as_claimed else ("no" if decided else "undecided")])
            if M0 >= scope_M0:
                if as_claimed:
                    confirmed_in_scope += 1
                elif decided and witness is None:
                    witness = {"n": n, "d": d, "M0": M0, "angle_to_e1": angle, "m_star": m_star,
                               "init": "m_1(0) = %s e_1, others 0" % (
                                   "exp(-M0/100)" if init_scale is None else repr(init_scale)),
                               "eta": eta, "steps": tr.steps[-1], "classes": cls,
                               "final_dist": tr.dist[-1], "rules": rules}
                elif not decided:
                    undecided_in_scope += 1
            if angle == angles[0] and M0 == max(M0s):
                runs_for_fig.append((f"M0={M0:g}, angle={angle:.2f}", tr))
    for angle in angles:
        if angle in start_M0:
            findings.append(f"angle {angle:.3f} between m* and e_1: the claimed pattern first "
                            f"appears at M0 = {start_M0[angle]:g} among M0 = {M0s}.")
        else:
            findings.append(f"angle {angle:.3f}: the claimed pattern appears at none of M0 = {M0s}.")
    for (M0, angle, law) in laws:
        quantities.append(quantity(
            f"growth of |c_2| (M0={M0:g}, angle={angle:.2f}): alpha in |c| ~ tau^alpha",
            law["alpha"] if law["alpha"] is not None else math.nan, law["alpha_stderr"],
            precision="float64",
            note="|c|^2 = a + b ln tau fit: b = %.4g, rms residual %.3g" % (
                law.get("b_r2_per_ln_tau", math.nan), law.get("rms_resid_r2", math.nan))))
    if any(r["angle"] >= math.pi / 2 - 1e-12 for r in rows):
        wrong = [r for r in rows if r["classes"][0] == DIVERGING
                 and all(c == CONVERGED for c in r["classes"][1:])]
        if wrong:
            findings.append(
                "When m* makes an angle >= pi/2 with e_1, m_1(0) is farther from the target than the "
                "origin: then the n-1 identical means at the origin converge together and m_1 "
                f"diverges ({len(wrong)} runs). As reported, the theorem does not say the direction "
                "of m*.")
    quantities.append(quantity("in-scope runs matching the claim", confirmed_in_scope,
                               precision="float64",
                               note=f"M0 >= {scope_M0:g}; undecided in scope: {undecided_in_scope}"))
    if witness:
        verdict, reason = REFUTED, ""
    elif undecided_in_scope == 0 and confirmed_in_scope > 0:
        verdict, reason = CONFIRMED, ""
    else:
        verdict = INCONCLUSIVE
        reason = (f"{undecided_in_scope} in-scope runs undecided within {steps} steps "
                  f"each (classification rules: {rules['rule']})")
    figs = common.trajectory_figures("thm3_4", "thm3.4", runs_for_fig) if runs_for_fig else []
    inputs = {"seed": seed, "tier": tier, "n": n, "d": d, "M0s": M0s, "angles": angles, "t": 0,
              "parameterisation": "noised", "steps": steps,
              "eta_rule": "min(0.01, 0.36/M0^2)", "scope_M0": scope_M0, "outcome_rules": rules,
              "init_scale": "exp(-M0/100)" if init_scale is None else init_scale, "runs": rows,
              "note": "deterministic initialisation: the seed is unused"}
    return common.make_record(
        sys.modules[__name__], verdict=verdict, assurance="float64", tier=tier,
        quantities=quantities, findings=findings, witness=witness, reason=reason, figures=figs,
        tables=[{"title": "thm3.4 runs", "columns": ["angle", "M0", "eta", "steps", "classes",
                                                      "|c_1| end", "|c_2| end", "as claimed"],
                 "rows": table}], inputs=inputs)
