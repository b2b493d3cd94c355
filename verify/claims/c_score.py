"""Claim ``score``: the student score is the score of the equal-weight, identity-covariance mixture.

Statement (SPEC §2): with student means mu_i, the function s(x) = sum_i w_i(x) mu_i - x with
w = softmax_i(<x, mu_i> - |mu_i|^2/2) equals grad_x log((1/n) sum_i N(x; mu_i, I_d)).
Provenance: the paper's model definition, as reported by the public summary.  Tight identity.

Check: the SymPy derivation ``score`` (proofs/score.py), then a numeric comparison at run
precision of the softmax formula (:func:`verify.model.weights`) against the gradient of the log
mixture density taken by mpmath's numerical differentiation at random points — two independent
routes to the same vector.  As data (SPEC §5): the claimed formula is parameterised by the mixture
it is the score of (variance, logit coefficient); the false twins claim the score of another
mixture and are decided against the same numerical gradients.
"""
from __future__ import annotations

import random

from verify import model
from verify.claims.common import decided_record, quantity
from verify.claims.statement import Conclusion, Decision, Statement, Twin
from verify.claims.record import Finding
from verify.claims.symbolic_common import run_derivation
from verify.precision import context

ID = "score"
TITLE = "The student score is the score of the equal-weight identity-covariance Gaussian mixture"
STATEMENT = ("For means mu_1..mu_n, sum_i w_i(x) mu_i - x with w the softmax of "
             "<x, mu_i> - |mu_i|^2/2 is exactly grad_x log of (1/n) sum_i N(x; mu_i, I_d).")
PROVENANCE = "Model definition of the paper, as reported by the public summary."


# The mixture whose score the formula is claimed to be: component variance sigma^2 and the
# coefficient k of |mu_i|^2 in the softmax logits <x, mu_i>/sigma^2 - k |mu_i|^2/sigma^2.  The
# formula claimed for that mixture is (sum_i w_i mu_i - x)/sigma^2.
STATEMENT_DATA = Statement(
    hypotheses={"student": "n >= 2 means mu_i in R^d, equal weights 1/n, identity covariances",
                "logits": "w = softmax of <x, mu_i> - |mu_i|^2/2"},
    conclusions=(
        Conclusion("score_formula", "sum_i w_i(x) mu_i - x equals grad_x log of (1/n) sum_i "
                   "N(x; mu_i, I) at every x", "identity",
                   {"variance": 1, "logit_norm_coefficient": 0.5}, "=="),
        Conclusion("derivation", "the SymPy derivation of the score identity passes every step",
                   "identity", "every step passes", "=="),
    ),
    reading={"digits": "agreement to the working precision less 10 digits (numerical "
                       "differentiation of the log-density loses some) -- the two routes are "
                       "independent"})

TWINS = [
    Twin("wrong-mixture-variance",
         "the formula (sum_i w_i mu_i - x)/2 with logits halved, the score of the mixture with "
         "covariance 2 I: not the score of the identity-covariance mixture",
         STATEMENT_DATA.replace("score_formula", claimed={"variance": 2, "logit_norm_coefficient": 0.5})),
    Twin("logit-norm-coefficient-1",
         "softmax logits <x, mu_i> - |mu_i|^2 (coefficient 1, not 1/2): the weights of unequally "
         "weighted components, so not the equal-weight mixture's score",
         STATEMENT_DATA.replace("score_formula", claimed={"variance": 1, "logit_norm_coefficient": 1})),
]


def _points(points: int, dps: int, seed: int) -> list[dict]:
    """Random (n, d, mu, x) and grad_x log of the identity mixture there by mpmath's numerical
    differentiation (independent of any softmax formula), at ``dps`` digits."""
    ctx = context(dps)
    rng = random.Random(seed)
    out = []
    for _ in range(points):
        n, d = rng.randint(2, 4), rng.randint(1, 3)
        mu = [[ctx.mpf(rng.uniform(-2, 2)) for _ in range(d)] for _ in range(n)]
        x = [ctx.mpf(rng.uniform(-3, 3)) for _ in range(d)]

        def logp(*xs, mu=mu):
            terms = [ctx.exp(-ctx.fsum((a - b) ** 2 for a, b in zip(xs, m)) / 2) for m in mu]
            return ctx.log(ctx.fsum(terms) / n)

        grad = []
        for j in range(d):
            order = [0] * d
            order[j] = 1
            grad.append(ctx.diff(logp, x, tuple(order)))
        out.append({"n": n, "d": d, "mu": mu, "x": x, "grad": grad})
    return out


def claimed_score(mu, x, variance, coeff, dps: int) -> list:
    """(sum_i w_i mu_i - x)/variance with w = softmax((<x, mu_i> - coeff |mu_i|^2)/variance)."""
    ctx = context(dps)
    var, k = ctx.mpf(variance), ctx.mpf(coeff)
    logits = [(ctx.fsum(a * b for a, b in zip(x, m)) - k * ctx.fsum(a * a for a in m)) / var
              for m in mu]
    top = max(logits)
    e = [ctx.exp(l - top) for l in logits]
    tot = ctx.fsum(e)
    return [(ctx.fsum(e[i] * mu[i][j] for i in range(len(mu))) / tot - x[j]) / var
            for j in range(len(x))]


def _digits(ctx, a, b) -> float:
    rel = abs(a - b) / max(abs(b), ctx.mpf(1))
    return float(-ctx.log10(rel)) if rel > 0 else float(ctx.dps)


def numeric_agreement(points: int, dps: int, seed: int) -> tuple[float, list]:
    """Smallest number of digits to which the toolkit's softmax formula (verify.model.weights)
    agrees with the numerical gradient of the log mixture density, over random points."""
    ctx = context(dps)
    worst, cases = float("inf"), []
    for p in _points(points, dps, seed):
        w = model.weights(p["mu"], p["x"], dps=dps)
        for j in range(p["d"]):
            formula = ctx.fsum(w[i] * p["mu"][i][j] for i in range(p["n"])) - p["x"][j]
            worst = min(worst, _digits(ctx, formula, p["grad"][j]))
        cases.append({"n": p["n"], "d": p["d"]})
    return worst, cases


def observe(tier: str = "quick", seed: int = 20260101) -> dict:
    dps = 40 if tier == "quick" else 60
    der, der_ok, qs = run_derivation("score", digits=30)
    points = 4 if tier == "quick" else 12
    pts = _points(points, dps, seed)
    ctx = context(dps)
    model_digits = float("inf")
    for p in pts:
        w = model.weights(p["mu"], p["x"], dps=dps)
        for j in range(p["d"]):
            formula = ctx.fsum(w[i] * p["mu"][i][j] for i in range(p["n"])) - p["x"][j]
            model_digits = min(model_digits, _digits(ctx, formula, p["grad"][j]))
    steps = der.get("steps", []) if der else []
    return {"dps": dps, "points": pts, "need": dps - 10, "der": der, "der_ok": der_ok, "qs": qs,
            "steps_passed": sum(1 for s in steps if s.get("passed")), "steps": len(steps),
            "model_digits": model_digits, "tier": tier, "seed": seed}


def decide(statement: Statement, obs) -> list[Decision]:
    ctx = context(obs["dps"])
    c = statement.conclusion("score_formula").claimed
    worst = float("inf")
    for p in obs["points"]:
        s = claimed_score(p["mu"], p["x"], c["variance"], c["logit_norm_coefficient"], obs["dps"])
        worst = min(worst, min(_digits(ctx, a, b) for a, b in zip(s, p["grad"])))
    need = obs["need"]
    out = [Decision("score_formula", worst >= need,
                    f"{worst:.1f} digits of agreement (at least {need} needed; "
                    f"{obs['dps']} significant digits)",
                    f"the claimed formula against mpmath's numerical gradient of the log mixture "
                    f"density at {len(obs['points'])} random points, n in 2..4, d in 1..3")]
    out.append(Decision("derivation", obs["der_ok"] and obs["steps"] > 0,
                        f"{obs['steps_passed']} of {obs['steps']} steps passed",
                        "SymPy derivation 'score' (proofs/score.py)"))
    return out


def check(tier: str = "quick", seed: int = 20260101):
    obs = observe(tier, seed)
    qs = list(obs["qs"])
    dps, need, points = obs["dps"], obs["need"], len(obs["points"])
    digits = obs["model_digits"]
    qs.append(quantity("score formula vs numerical grad log-density: digits of agreement",
                       f"{digits:.1f}", claimed=str(need), relation=">=",
                       precision=f"{dps} digits",
                       note=f"{points} random configurations, n in 2..4, d in 1..3; the formula "
                            "as the toolkit computes it (the softmax weights of verify/model.py)"))
    inputs = {"seed": seed, "dps": dps, "points": points,
              "cases": [{"n": p["n"], "d": p["d"]} for p in obs["points"]]}
    findings = [Finding(
        "The denoising score-matching loss (conditional score target) and the population "
        "score-matching loss differ by a constant that does not depend on the parameters, "
        "d e^-2t/(1 - e^-2t), so the two have the same gradient and the same gradient-descent "
        "dynamics.",
        value=f"{qs[1].value} digits of agreement in the spot check ({qs[1].precision})"
        if len(qs) > 1 else "",
        evidence=qs[1].name if len(qs) > 1 else "", kind="convention")]
    return decided_record(
        __name__, obs, assurance="symbolic" if obs["der_ok"] else "numeric", tier=tier,
        tested=f"{points} random points, n = 2..4, d = 1..3, {dps} significant digits; the "
               "identity for symbolic means in the derivation's sizes",
        in_scope="yes", scope_reason="an identity for every n, d: checked symbolically and at "
                                     "random points of the stated setting",
        quantities=qs, derivation=obs["der"], inputs=inputs, findings=findings)
