"""Claim `thm3.2` (SPEC §3): from an exponentially small initialisation every parameter converges.

Statement (as reported by the public summary; constants unverified): at t = 0, with target m*,
|m*| = M0, and every initial mean of norm at most (1/(108 n d)) exp(-106 n d M0^3), gradient
descent brings every student mean to the target, and afterwards the loss decays as O(1/sqrt(tau)).

Kind of check: the convergence part is checked on runs (every parameter classified ``converged``
by the explicit rule of :mod:`verify.dynamics`); the rate is an *upper* bound, judged by the
implied constant K(tau) = loss(tau) sqrt(tau) staying bounded over the tail (a loss that decays
faster, e.g. geometrically, satisfies it).

In centred coordinates c_i = m_i - m* all parameters start at about -m*, |c_i| ~ M0, with spread
~1e-94 (n = 2, d = 1, M0 = 1) down to ~1e-1000: the precision policy adds log10(scale/spread)
digits, so runs need 100-1000 working digits.  The record shows what float64 does with the same
initialisation: m_i + (-m*) rounds to -m* for every i, the spread is exactly 0, the parameters
are identical and stay identical forever (their gradients are equal), so float64 follows the
all-equal trajectory and cannot say anything about whether the parameters would separate.

Verdict rule (over all runs): any parameter ``diverging`` -> REFUTED (witness: run and distances);
any ``undecided`` or an inaccurate gradient -> INCONCLUSIVE; else the rate: implied constant of
power 1/2 bounded (rates.implied_constant) -> CONFIRMED; not bounded -> REFUTED; undecided ->
INCONCLUSIVE.

GD step eta = 0.25 (justification): the Hessian on common shifts is 2/n (all-equal parameters,
grad = (2/n) a), so GD is stable for eta < n and the common point contracts by 1 - 2 eta/n; 0.25
keeps this factor >= 0.75 for n >= 2, small enough that the contraction phase (claim `lem3.3`) is
resolved over many steps and inside the "small step" regime the theorem assumes.
"""
from __future__ import annotations

import math
import sys
import time

import mpmath

from verify import dynamics, rates
from verify import precision as _precision
from verify.claims import common
from verify.claims.common import Figure, Line, quantity
from verify.claims.record import Finding
from verify.claims.small_init import DIGITS, ETA, TIERS, first_converged_step, run_config
from verify.claims.statement import Conclusion, Decision, Statement, Twin

ID = "thm3.2"
TITLE = "Exponentially small initialisation: every parameter converges, loss O(1/sqrt(tau))"
STATEMENT = (
    "With no noise (t = 0), a target mean of norm M0, and all n student means started within "
    "(1/(108 n d)) exp(-106 n d M0^3) of the origin, population gradient descent drives every "
    "student mean to the target, after which the loss is at most a constant times tau^(-1/2).")
PROVENANCE = ("as reported by the public summary of the paper (Theorem 3.2); the constants 108 "
              "and 106 and the rate are unverified")

RATE_POWER = 0.5


def _compute(tier: str = "quick", seed: int = 20260101, *, runs: list | None = None,
             init_scale=None, steps: int | None = None) -> dict:
    """The runs and every piece of the record; ``runs`` [(n, d, M0), ...] and ``steps`` override
    the tier; ``init_scale`` replaces the theorem's initial scale (a deliberately false variant)."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {tuple(TIERS)}, got {tier!r}")
    cfg = TIERS[tier]
    runs = runs or cfg["runs"]
    steps = steps or cfg["steps"]
    t0 = time.perf_counter()
    rules = dynamics.Rules()
    results = [run_config(n, d, M0, steps, seed, init_scale) for n, d, M0 in runs]
    quantities, findings, rows, fl_rows = [], [], [], []
    refuted, inconclusive = [], []
    dist_lines, loss_lines, spread_lines = [], [], []
    for r in results:
        hp, fl, init = r["hp"], r["float64"], r["init"]
        label = f"n={r['n']}, d={r['d']}, M0={r['M0']}"
        conv_step = first_converged_step(hp, rules.converge_tol)
        tau = [s for s in hp.steps if s > 0]
        loss_f = [float(v) if v > mpmath.mpf("1e-300") else 0.0 for s, v in zip(hp.steps, hp.loss) if s > 0]
        fit = rates.loglog_fit(tau, loss_f)
        ic = rates.implied_constant(tau, loss_f, RATE_POWER)
        r.update(conv_step=conv_step, fit=fit, ic=ic)
        rows.append([label, f"{init['log10_bound']:.1f}", hp.precision.describe(), str(len(hp.steps) - 1),
                     str(conv_step), ", ".join(hp.classes),
                     f"{hp.spread_log10[0]:.1f} -> {max(hp.spread_log10):.1f} -> {hp.spread_log10[-1]:.1f}",
                     f"{fit.slope:.3g} +- {fit.stderr:.2g}" if fit else "-",
                     f"{ic.k_max:.3g} ({'bounded' if ic.bounded else 'growing'})" if ic.decided else "undecided"])
        fl_rows.append([label, "yes" if r["float_identical"] else
                        "no: the e_1 spread is lost; the components orthogonal to m* survive as tiny doubles, but "
                        "|c_i - c_j|^2 underflows to 0",
                        f"{fl.spread_log10[0]}", f"{max(fl.spread_log10)}",
                        ", ".join(fl.classes), f"{hp.spread_log10[0]:.1f}"])
        quantities.append(quantity(f"initial scale bound log10 ({label})", init["log10_bound"],
                                   note=f"largest initial |m_i| log10 = {init['max_init_norm_log10']:.2f}",
                                   digits=6))
        quantities.append(quantity(f"steps to max_i |c_i| <= {rules.converge_tol} ({label})",
                                   conv_step if conv_step is not None else math.nan,
                                   precision=hp.precision))
        if fit:
            quantities.append(quantity(f"contraction phase: loss log-log slope over the run's tail ({label})",
                                       fit.slope, fit.stderr, precision=hp.precision, digits=4,
                                       note="the geometric contraction of the centre inside the "
                                            "run's window: a phase, not the rate (the late law "
                                            "decides the rate)"))
        dist_lines += [Line(f"{label} |c_{i + 1}|", [float(s) for s in hp.steps], [row[i] for row in hp.dist])
                       for i in range(r["n"])]
        loss_lines.append(Line(f"{label} loss", [float(s) for s in tau], loss_f))
        spread_lines.append(Line(f"{label} log10 min|c_i-c_j| (high precision)",
                                 [float(s) for s in hp.steps], hp.spread_log10))
        # the verdict inputs
        if hp.stop_reason not in ("max steps",):
            inconclusive.append(f"{label}: run stopped: {hp.stop_reason}")
        div = [i for i, c in enumerate(hp.classes) if c == dynamics.DIVERGING]
        und = [i for i, c in enumerate(hp.classes) if c == dynamics.UNDECIDED]
        if div:
            refuted.append({"run": label, "eta": ETA, "seed": seed, "steps": hp.steps[-1],
                            "initial_scale_log10": init["log10_bound"],
                            "diverging_parameters": [i + 1 for i in div],
                            "final_distances": [f"{x:.6g}" for x in hp.dist[-1]],
                            "classes": hp.classes, "precision": hp.precision.describe()})
        elif und:
            inconclusive.append(f"{label}: parameters {', '.join(str(i + 1) for i in und)} undecided "
                                f"after {hp.steps[-1]} steps (final distances "
                                f"{', '.join(f'{x:.3g}' for x in hp.dist[-1])})")

    ok_runs = [r for r in results if all(c == dynamics.CONVERGED for c in r["hp"].classes)]
    if ok_runs:
        findings.append(Finding(
            "Contraction phase: from the paper's tiny initialisation the parameters move as one "
            "block, the common point contracting by 1 - 2 eta/n per step (claim lem3.3) while the "
            "spread stays at its initial scale, so inside a run's window the loss falls "
            "geometrically.  This is a phase, not the asymptotic rate: the window's log-log slope "
            "says nothing about O(1/sqrt(tau)).",
            value="window log-log slopes " + ", ".join(
                f"{x['n']},{x['d']},M0={x['M0']}: {x['fit'].slope:.3g} +- {x['fit'].stderr:.2g}"
                for x in ok_runs if x["fit"]),
            evidence="thm3.2-loss", kind="time-scale"))
    findings.append(Finding(
        "In float64 the paper's initialisation collapses: m_i(0) - m* rounds to -m* for every i, so "
        "all c_i are bitwise equal and never separate; float64 follows the all-equal trajectory (it "
        "reaches the target for that reason only). The high-precision runs keep the spread.",
        value="initial spread 1e" + f"{results[0]['init']['log10_bound']:.0f}"
              " against a double's resolution of about 1e-16 M0",
        evidence="float64 on the same initialisation", kind="note"))
    findings.append(Finding(
        "Following the spread needs a working precision far above double precision.",
        value=", ".join(f"{x['n']},{x['d']},M0={x['M0']}: {x['hp'].precision.describe()}"
                        for x in results),
        evidence="High-precision runs", kind="note"))
    rate = STATEMENT_DATA.conclusion("rate")   # the stated rate as a bound through the first run
    ref = common.bound_line(loss_lines[0], float(rate.claimed), rate.relation,
                            f"O(tau^-{float(rate.claimed):g})") if loss_lines else None
    loss_lines += [ref] if ref else []
    figures = [
        Figure(id="thm3.2-dist", title="Small initialisation: distance of each parameter to the target",
               xlabel="GD step tau", ylabel="|m_i - m*|", lines=dist_lines, xscale="linear", yscale="log"),
        Figure(id="thm3.2-loss", title="Small initialisation: loss", xlabel="GD step tau",
               ylabel="loss", lines=loss_lines, xscale="log", yscale="log"),
        Figure(id="thm3.2-spread", title="Spread: min over i<j of |c_i - c_j| (log10) over the run",
               xlabel="GD step tau", ylabel="log10 spread", lines=spread_lines)]
    tables = [
        {"title": "High-precision runs", "columns": ["run", "log10 initial bound", "precision", "steps",
                                                    "first step all within tol", "classes",
                                                    "log10 spread: start -> max -> end",
                                                    "loss slope (tail)", "max loss*sqrt(tau) (tail)"],
         "rows": rows},
        {"title": "float64 on the same initialisation", "columns": [
            "run", "all c_i equal after rounding", "log10 spread at start", "log10 spread max",
            "classes", "high-precision log10 spread at start"], "rows": fl_rows}]
    inputs = {"tier": tier, "seed": seed, "runs": [list(x) for x in runs], "eta": ETA,
              "steps": steps, "t": "0", "parameterisation": "noised (= clean at t = 0)",
              "digits": DIGITS, "init_scale": None if init_scale is None else str(init_scale),
              "rules": rules.to_dict(), "rate_power": RATE_POWER,
              "initialisation": "m* = M0 e_1; m_i(0) = r_i u_i, u_i uniform on the sphere, "
                                "r_i uniform in [bound/2, bound] (random.Random(f'{seed}-{n}-{d}-{M0}'))",
              "precision": {f"{x['n']},{x['d']},{x['M0']}": x["hp"].precision.to_dict() for x in results}}
    return {"tier": tier, "seed": seed, "results": results, "quantities": quantities,
            "findings": findings, "figures": figures, "tables": tables, "inputs": inputs,
            "refuted": refuted, "inconclusive": inconclusive, "rules": rules, "steps": steps,
            "init_scale": init_scale, "t0": t0,
            "laws": [spread_law(r) for r in results],
            "timings": {f"high-precision run n={x['n']}, d={x['d']}, M0={x['M0']}":
                        x["hp"].seconds for x in results}}


# ------------------------------------------------------------------------------------------------
# After the contraction: the spread's plateau and late law (verify.asymptotics.near)
# ------------------------------------------------------------------------------------------------

MEAN_AT_LAW = 0.01      # the law starts at the first step with |cbar| <= this (near.MEAN_MAX = 0.1)


def spread_law(r: dict) -> dict:
    """The near-converged law of the run's spread from the first step with |cbar| <= MEAN_AT_LAW.

    The spread (down to 1e-1000) is below float64's range, so the law is built on the spread
    scaled by K (max |ct_i| -> 0.01, exact in float64 relative terms) with the mean unscaled: the
    spread law S(tau) = S0 (I + (8 eta/n) S0 dt)^-1 maps to itself under S0 -> K^2 S0,
    dt -> dt/K^2, and the mean's stretch is linear in ct.  Returns the late exponent of the loss
    (computed from the law in the run's arithmetic at 1e6 and 1e7 times the smallest eigenvalue's plateau), the plateau
    time, the plateau loss, the rank (eigenvalues above 1e-12 of the largest, the float64 error
    of the scaled S0) and the validation gap at the run's last step: measured max_i |c_i - cbar|
    against the law's prediction (relative)."""
    from verify.asymptotics import near
    hp, n = r["hp"], r["n"]
    eta = float(_precision.exact(ETA))
    ctx = _precision.context(hp.precision.dps or 50)
    k0 = None
    for k, rows in enumerate(hp.params):
        cbar = [ctx.fsum(ctx.convert(row[j]) for row in rows) / n for j in range(r["d"])]
        if ctx.sqrt(ctx.fsum(x * x for x in cbar)) <= MEAN_AT_LAW:
            k0 = k
            break
    if k0 is None:
        return {"ok": False, "why": f"|cbar| stays above {MEAN_AT_LAW} in the run"}
    rows = [[ctx.convert(x) for x in row] for row in hp.params[k0]]
    cbar = [ctx.fsum(row[j] for row in rows) / n for j in range(r["d"])]
    ct = [[row[j] - cbar[j] for j in range(r["d"])] for row in rows]
    amp = max(ctx.sqrt(ctx.fsum(x * x for x in row)) for row in ct)
    if amp == 0:
        return {"ok": False, "why": "no spread at the law's start"}
    K = ctx.mpf("0.01") / amp
    c_scaled = [[float(K * x) + float(m) for x, m in zip(row, cbar)] for row in ct]
    law = near.SpreadLaw(c_scaled, eta, tau0=float(hp.steps[k0]))
    lam_s = [float(x) for x in law.lam0]
    keep = [x for x in lam_s if x > 1e-12 * max(lam_s)]
    lam = [ctx.mpf(x) / K ** 2 for x in keep]
    b = ctx.mpf(8) * ctx.convert(_precision.exact(ETA)) / n
    T = 1 / (b * max(lam))                                   # plateau time (steps)

    def F(dt):
        return ctx.fsum((x / (1 + b * x * dt)) ** 2 for x in lam)
    T_last = 1 / (b * min(lam))                              # the smallest eigenvalue's plateau
    t1, t2 = 10 ** 6 * T_last, 10 ** 7 * T_last
    exponent = -(ctx.log(F(t2)) - ctx.log(F(t1))) / (ctx.log(t2) - ctx.log(t1))
    # validation: the spread at the run's last step against the law (plateau: dt/K^2 ~ 0)
    pred = max(math.sqrt(float(x @ x)) for x in law.ct0) / K
    last = hp.params[-1]
    lc = [ctx.fsum(ctx.convert(row[j]) for row in last) / n for j in range(r["d"])]
    meas = max(ctx.sqrt(ctx.fsum((ctx.convert(row[j]) - lc[j]) ** 2 for j in range(r["d"])))
               for row in last)
    gap = abs(meas / pred - 1)
    return {"ok": True, "tau0": hp.steps[k0], "rank": len(keep), "plateau_time": T,
            "plateau_loss": F(0), "late_exponent": float(exponent),
            "late_constant": len(keep) * n * n / 64.0, "gap": float(gap),
            "allowance": near.REMAINDER_TOL, "last_step": hp.steps[-1]}


STATEMENT_DATA = Statement(
    hypotheses={"t": "t = 0 (no noise)", "target": "|m*| = M0",
                "initialisation": "every |m_i(0)| <= (1/(108 n d)) exp(-106 n d M0^3)",
                "step": "small step (eta = 0.25 here: the common point contracts for eta < n)"},
    conclusions=(
        Conclusion("converge", "every student mean converges to the target", "count", "all", "=="),
        Conclusion("rate", "after convergence the loss is O(tau^-1/2)", "rate", 0.5, "<="),
    ),
    reading={"rate": "loss = O(tau^-p) holds when the validated late law's exponent q (the loss "
                     "falls like tau^-q) satisfies p <= q: sup over tau of loss x tau^p is then "
                     "finite; the contraction's geometric phase inside a run's window is not the "
                     "rate"})

TWINS = [
    Twin("rate-2.5", "loss O(tau^-2.5): after the plateau the spread's law gives loss ~ "
         "C/(eta tau)^2, so loss x tau^2.5 grows without bound",
         STATEMENT_DATA.replace("rate", claimed=2.5, text="after convergence the loss is "
                                                          "O(tau^-2.5)")),
    Twin("exactly-one-converges", "exactly one mean converges (as for far starts, thm3.5): from "
         "the tiny initialisation all move as one block to the target",
         STATEMENT_DATA.replace("converge", claimed=1, text="exactly one mean converges")),
]


def observe(tier: str = "quick", seed: int = 20260101, **kw) -> dict:
    return _compute(tier, seed, **kw)


def decide(statement: Statement, obs) -> list[Decision]:
    claimed = statement.conclusion("converge").claimed
    holds, und, texts = True, False, []
    for r in obs["results"]:
        cls = r["hp"].classes
        n = r["n"]
        want = n if claimed == "all" else int(claimed)
        conv = cls.count(dynamics.CONVERGED)
        undecided = cls.count(dynamics.UNDECIDED)
        texts.append(f"n={n}, d={r['d']}, M0={r['M0']}: {conv} of {n} converged"
                     + (f", {undecided} undecided" if undecided else ""))
        if undecided and conv <= want <= conv + undecided:
            und = True
        elif conv != want:
            holds = False
    out = [Decision("converge", False if not holds else (None if und or not obs["results"] else True),
                    "; ".join(texts), f"high-precision GD runs of {obs['steps']} steps, classified "
                                      "by the explicit rule of verify/dynamics.py")]
    p = float(statement.conclusion("rate").claimed)
    ok, bad, texts = True, [], []
    for r, law in zip(obs["results"], obs["laws"]):
        label = f"n={r['n']}, d={r['d']}, M0={r['M0']}"
        if not law["ok"] or law["gap"] > law["allowance"]:
            bad.append(f"{label}: " + (law.get("why") or f"law off by {law['gap']:.2g}"))
            continue
        q = law["late_exponent"]
        ok &= p <= q + 1e-9
        texts.append(f"{label}: late exponent {q:.6f} (rank {law['rank']}, plateau "
                     f"{mpmath.nstr(law['plateau_time'], 3)} steps, law off the run by "
                     f"{law['gap']:.1e})")
    out.append(Decision("rate", None if bad else ok,
                        "; ".join(texts + bad),
                        f"the near-converged law of the spread from the step where |cbar| <= "
                        f"{MEAN_AT_LAW}, validated against the run's spread at its last step "
                        f"(allowance {obs['laws'][0].get('allowance', '-') if obs['laws'] else '-'}); "
                        f"claimed exponent {p:g} against the law's"))
    return out


def check(tier: str = "quick", seed: int = 20260101, *, runs: list | None = None,
          init_scale=None, steps: int | None = None) -> common.ClaimRecord:
    """Run the check.  ``runs`` [(n, d, M0), ...] and ``steps`` override the tier; ``init_scale``
    replaces the theorem's initial scale by a given one (a deliberately false variant: the
    record then says it is outside the hypotheses)."""
    obs = _compute(tier, seed, runs=runs, init_scale=init_scale, steps=steps)
    findings = list(obs["findings"])
    laws = [(r, lw) for r, lw in zip(obs["results"], obs["laws"]) if lw["ok"]]
    if laws:
        findings.append(Finding(
            "After the contraction the loss sits on the spread's plateau (its initial size squared) "
            "for an astronomically long time, then falls like C/(eta tau)^2 with C = rank x n^2/64: "
            "the late law, validated against the run's spread, decides the rate -- O(1/sqrt(tau)) "
            "holds (the loss falls faster), and any claimed power above 2 fails.",
            value="; ".join(f"{r['n']},{r['d']},M0={r['M0']}: plateau loss "
                            f"{mpmath.nstr(lw['plateau_loss'], 3)} for ~{mpmath.nstr(lw['plateau_time'], 3)} "
                            f"steps, late exponent {lw['late_exponent']:.6f}, C = {lw['late_constant']:g}"
                            for r, lw in laws),
            evidence="thm3.2-spread", kind="time-scale"))
    runs_run = [(r["n"], r["d"], r["M0"]) for r in obs["results"]]
    in_scope = "partly" if obs["init_scale"] is None else "no"
    reason = ("the stated initial scale, at M0 <= " + str(max(float(m) for _, _, m in runs_run))
              + " and n <= " + str(max(n for n, _, _ in runs_run)) + "; the rate beyond the runs "
              "by the validated late law") if obs["init_scale"] is None else \
        f"initial scale {obs['init_scale']} instead of the stated bound: outside the hypotheses"
    rec = common.decided_record(
        sys.modules[__name__], obs, assurance="numeric", tier=tier,
        tested="(n, d, M0) = " + ", ".join(f"({a}, {b}, {c})" for a, b, c in runs_run)
               + f"; {obs['steps']} steps at eta = {ETA}; spreads down to 1e"
               + f"{min(r['init']['log10_bound'] for r in obs['results']):.0f}; the late law beyond",
        in_scope=in_scope, scope_reason=reason,
        quantities=obs["quantities"], findings=findings, figures=obs["figures"],
        tables=obs["tables"], inputs=obs["inputs"], timings=obs["timings"])
    rec.runtime_s = time.perf_counter() - obs["t0"]
    return rec
