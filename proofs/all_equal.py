"""Derivation `all-equal` (claim `lem3.3`; SPEC §2): the gradient at all-equal parameters.

For every n >= 2 and d >= 1, symbolic in both: if c_1 = ... = c_n = a then grad_{c_i} F = (2/n) a
for every i, in the direct form and in the Stein form of SPEC §2.  Hence gradient descent keeps the
parameters equal and maps the common point a to (1 - 2 eta/n) a in this toolkit's convention (loss
without a factor 1/2); with the loss halved the factor is 1 - eta/n, the factor lem3.3 reports.
In the clean parameterisation (GD on m_i, step eta on L_t) the factor is 1 - 2 eta e^{-2t}/n.

How the generality is obtained: n and d are SymPy symbols; sums over components and coordinates
are ``sympy.Sum`` objects over symbolic ranges, evaluated by ``doit`` (sum of n equal terms is n
times the term), and every step reduces to 0 with ``simplify``; no concrete size is substituted.
The expectation is of a pointwise constant, so it needs no lemma.
"""
from __future__ import annotations

import time

import sympy as sp

from proofs import numeric
from proofs.base import Derivation, Grad, Notation as N, Step, eq, vanishes

NAME = "all-equal"
STATEMENT = (
    "For all $n \\ge 2$ and $d \\ge 1$: at all-equal parameters $c_1 = \\cdots = c_n = a$ the "
    "softmax weights are $1/n$, $v = a$, and both the direct and the Stein integrand of "
    "$\\nabla_{c_i} F$ equal $(2/n)\\, a$ pointwise, so $\\nabla_{c_i} F = (2/n)\\, a$ and one "
    "gradient step maps $a$ to $(1 - 2\\eta/n)\\, a$ (to $(1 - \\eta/n)\\, a$ with the loss halved).")

n, d = sp.symbols("n d", integer=True, positive=True)
i, j, k, l = sp.symbols("i j k l", integer=True, positive=True)
a = sp.IndexedBase("a", real=True)        # the common point, coordinates a[k], k = 1..d
y = sp.IndexedBase("y", real=True)        # the Gaussian point
eta = sp.Symbol("eta", positive=True)
ell = sp.Symbol("ell", real=True)         # the common logit <y, a> - |a|^2/2


def weight():
    """w_i = e^{ell_i} / sum_j e^{ell_j} with every ell_j = ell (symbolic n terms)."""
    return sp.exp(ell) / sp.Sum(sp.exp(ell), (j, 1, n)).doit()


def v_coord(w):
    """v_k = sum_j w_j c_jk with c_jk = a_k."""
    return sp.Sum(w * a[k], (j, 1, n)).doit()


def inner(f, g):
    """sum_k f(k) g(k) over the d coordinates (f, g: expressions in k)."""
    return sp.Sum(f * g, (k, 1, d))


def direct_integrand(w, v):
    """k-th coordinate of 2 [w_i v + w_i (y - c_i) <c_i - v, v>] at c_i = a."""
    h = inner(a[k] - v, v).doit()
    return 2 * (w * v + w * (y[k] - a[k]) * h)


def stein_integrand(w, v):
    """k-th coordinate of 2 w_i (v + sum_j w_j c_j c_j^T c_i - 2 v v^T c_i
    - 2 sum_j w_j <v, c_j> c_j + 3 |v|^2 v) at c_j = a (so c_j^T c_i = |a|^2 = <v, c_j>/... )."""
    sq = inner(a[k], a[k])                     # |a|^2
    vc = inner(v, a[k])                        # <v, a> (v_k = v as an expression in k)
    vv = inner(v, v)
    cc = sp.Sum(w * a[k] * sq, (j, 1, n)).doit()          # sum_j w_j c_j (c_j^T c_i)
    vvc = 2 * v * vc                                       # 2 v (v^T c_i)
    wvc = 2 * sp.Sum(w * vc * a[k], (j, 1, n)).doit()      # 2 sum_j w_j <v, c_j> c_j
    return 2 * w * (v + cc - vvc - wvc + 3 * vv * v)


def check_weight() -> tuple[bool, sp.Expr]:
    w = weight()
    return vanishes(w - 1 / n), w


def check_v() -> tuple[bool, sp.Expr]:
    v = v_coord(sp.simplify(weight()))
    return vanishes(v - a[k]), v


def check_direct() -> tuple[bool, sp.Expr]:
    w = sp.simplify(weight())
    v = sp.simplify(v_coord(w))
    g = sp.simplify(direct_integrand(w, v))
    return vanishes(g - 2 * a[k] / n), g


def check_stein() -> tuple[bool, sp.Expr]:
    w = sp.simplify(weight())
    v = sp.simplify(v_coord(w))
    g = sp.simplify(stein_integrand(w, v).doit())
    return vanishes(g - 2 * a[k] / n), g


def contraction_factor(halved: bool = False, t=0) -> sp.Expr:
    """The GD map on the common point: a - eta * grad (grad of F, or of F/2 with ``halved``), as a
    multiple of a; t: noise level for the clean parameterisation (grad_m = e^{-t} grad_mu,
    mu = e^{-t} m), 0 for GD on the noised means."""
    g = 2 * a[k] / n * (sp.Rational(1, 2) if halved else 1)
    step = a[k] - eta * sp.exp(-2 * t) * g
    return sp.simplify(step / a[k])


def check_contraction() -> bool:
    return (vanishes(contraction_factor() - (1 - 2 * eta / n))
            and vanishes(contraction_factor(halved=True) - (1 - eta / n)))


CONTRACTION = 1 - 2 * eta / n            # the exact factor in this toolkit's convention
CONTRACTION_HALVED = 1 - eta / n          # with the loss halved (the reported factor)


def _display():
    ai = sp.Symbol("a")
    return {
        "weights": eq(sp.Symbol("w_i"), 1 / N.n),
        "v": eq(N.v, ai),
        "grad": eq(Grad(N.F, N.c[N.i]), 2 * ai / N.n),
        "step": [eq(sp.Symbol("a^{+}"), (1 - 2 * sp.Symbol(r"\eta") / N.n) * ai),
                 eq(sp.Symbol(r"a^{+}_{1/2}"), (1 - sp.Symbol(r"\eta") / N.n) * ai)],
    }


def derive(spot_check: bool = True, digits: int = 30) -> Derivation:
    t0 = time.perf_counter()
    disp = _display()
    gen = "symbolic n and d (sympy.Sum over symbolic ranges)"
    ok_w, _ = check_weight()
    ok_v, _ = check_v()
    ok_d, _ = check_direct()
    ok_s, _ = check_stein()
    steps = [
        Step("Equal parameters give equal logits $\\ell$, so $w_i = e^{\\ell}/\\sum_{j=1}^n "
             "e^{\\ell} = 1/n$.", disp["weights"], "symbolic-zero", ok_w, gen),
        Step("$v_k = \\sum_{j=1}^n w_j a_k = a_k$, and $\\langle c_i - v, v\\rangle = 0$.",
             disp["v"], "symbolic-zero", ok_v, gen),
        Step("Direct form: $2[w_i v + w_i (y - c_i)\\langle c_i - v, v\\rangle] = (2/n) a$ "
             "pointwise, so its expectation is $(2/n) a$.", disp["grad"], "symbolic-zero", ok_d, gen),
        Step("Stein form: $2 w_i(v + \\sum_j w_j c_j c_j^\\top c_i - 2 v v^\\top c_i - 2\\sum_j w_j "
             "\\langle v, c_j\\rangle c_j + 3|v|^2 v) = (2/n)(1 + |a|^2 - 2|a|^2 - 2|a|^2 + 3|a|^2) a "
             "= (2/n) a$ pointwise.", disp["grad"], "symbolic-zero", ok_s, gen),
        Step("One GD step keeps the parameters equal and maps $a$ to $(1 - 2\\eta/n) a$; with the "
             "loss halved, to $(1 - \\eta/n) a$ (the reported factor): a factor 2 in the step size.",
             disp["step"], "symbolic-zero", check_contraction(), gen),
    ]
    t1 = time.perf_counter()
    der = Derivation(NAME, STATEMENT, steps, disp["grad"])
    der.spot_check = run_spot_check(digits) if spot_check else {"skipped": "not requested",
                                                               "passed": False}
    der.runtime_s = {"symbolic": t1 - t0, "spot_check": time.perf_counter() - t1}
    return der


SPOT = (((3, 2), ["0.7", "-1.3"]), ((5, 3), ["0.25", "0.5", "-2"]))


def run_spot_check(digits: int = 30) -> dict:
    """The numeric core's gradient at all-equal parameters against (2/n) a."""
    model, reason = numeric.load_model()
    if model is None:
        return {"skipped": reason, "passed": False}
    ctx = numeric.context(digits + 10)
    points, worst = [], float("inf")
    for (nn, dd), av in SPOT:
        c = [list(av) for _ in range(nn)]
        g = model.grad_F(c, digits=digits)
        expect = [[2 * ctx.mpf(x) / nn for x in av] for _ in range(nn)]
        dg = numeric.agreement_digits(ctx, g.value, expect)
        worst = min(worst, dg)
        points.append({"n": nn, "d": dd, "a": av, "agreement_digits": round(dg, 1)})
    return {"points": points, "dps": ctx.dps, "digits": worst, "required_digits": digits - 2,
            "passed": worst >= digits - 2,
            "note": "numeric core's gradient (quadrature) vs the closed form (2/n) a."}
