"""Claim ``score``: the student score is the score of the equal-weight, identity-covariance mixture.

Statement (SPEC §2): with student means mu_i, the function s(x) = sum_i w_i(x) mu_i - x with
w = softmax_i(<x, mu_i> - |mu_i|^2/2) equals grad_x log((1/n) sum_i N(x; mu_i, I_d)).
Provenance: the paper's model definition, as reported by the public summary.  Tight identity.

Check: the SymPy derivation ``score`` (proofs/score.py), then a numeric comparison at run
precision of the softmax formula (:func:`verify.model.weights`) against the gradient of the log
mixture density taken by mpmath's numerical differentiation at random points — two independent
routes to the same vector.
"""
from __future__ import annotations

import random

from verify import model
from verify.claims.common import CONFIRMED, INCONCLUSIVE, REFUTED, make_record, quantity
from verify.claims.record import Finding
from verify.claims.symbolic_common import run_derivation
from verify.precision import context

ID = "score"
TITLE = "The student score is the score of the equal-weight identity-covariance Gaussian mixture"
STATEMENT = ("For means mu_1..mu_n, sum_i w_i(x) mu_i - x with w the softmax of "
             "<x, mu_i> - |mu_i|^2/2 is exactly grad_x log of (1/n) sum_i N(x; mu_i, I_d).")
PROVENANCE = "Model definition of the paper, as reported by the public summary (SPEC §2)."


def numeric_agreement(points: int, dps: int, seed: int) -> tuple[float, list]:
    """Smallest number of agreeing digits over random (n, d, mu, x), and the cases."""
    ctx = context(dps)
    rng = random.Random(seed)
    worst = float("inf")
    cases = []
    for _ in range(points):
        n, d = rng.randint(2, 4), rng.randint(1, 3)
        mu = [[ctx.mpf(rng.uniform(-2, 2)) for _ in range(d)] for _ in range(n)]
        x = [ctx.mpf(rng.uniform(-3, 3)) for _ in range(d)]

        def logp(*xs):
            terms = [ctx.exp(-ctx.fsum((a - b) ** 2 for a, b in zip(xs, m)) / 2) for m in mu]
            return ctx.log(ctx.fsum(terms) / n)

        w = model.weights(mu, x, dps=dps)
        for j in range(d):
            formula = ctx.fsum(w[i] * mu[i][j] for i in range(n)) - x[j]
            order = [0] * d
            order[j] = 1
            numeric = ctx.diff(logp, x, tuple(order))
            rel = abs(formula - numeric) / max(abs(numeric), ctx.mpf(1))
            digits = float(-ctx.log10(rel)) if rel > 0 else float(dps)
            worst = min(worst, digits)
        cases.append({"n": n, "d": d})
    return worst, cases


def check(tier: str = "quick", seed: int = 20260101):
    dps = 40 if tier == "quick" else 60
    der, der_ok, qs = run_derivation("score", digits=30)
    points = 4 if tier == "quick" else 12
    digits, cases = numeric_agreement(points, dps, seed)
    need = dps - 10   # numerical differentiation loses some digits; the rest must agree
    qs.append(quantity("score formula vs numerical grad log-density: digits of agreement",
                       f"{digits:.1f}", claimed=str(need), relation=">=", precision=f"dps={dps}",
                       note=f"{points} random configurations, n in 2..4, d in 1..3"))
    inputs = {"seed": seed, "dps": dps, "points": points, "cases": cases}
    if der_ok and digits >= need:
        return make_record(__name__, verdict=CONFIRMED,
                           assurance="symbolic", tier=tier, quantities=qs, derivation=der,
                           inputs=inputs, findings=[Finding(
                               "The denoising score-matching loss (conditional score target) and the "
                               "population score-matching loss differ by a constant that does not depend on the parameters, "
                               "d e^-2t/(1 - e^-2t), so the two have the same gradient and the same "
                               "gradient-descent dynamics.",
                               value=f"{qs[1].value} digits of agreement in the spot check "
                                     f"({qs[1].precision})" if len(qs) > 1 else "",
                               evidence=qs[1].name if len(qs) > 1 else "", kind="convention")])
    if not der_ok:
        return make_record(__name__, verdict=INCONCLUSIVE,
                           assurance="symbolic", tier=tier, quantities=qs, derivation=der,
                           inputs=inputs, reason="a step of the SymPy derivation did not pass")
    return make_record(__name__, verdict=REFUTED, assurance="numeric",
                       tier=tier, quantities=qs, derivation=der, inputs=inputs,
                       witness={"digits_of_agreement": digits, "required": need, "cases": cases})
