"""Derivation `gradient` (SPEC §2 "Gradient, direct form" and "Stein form"; claim `gradient`).

F(c) = E|v(y)|^2, y ~ N(0, I_d), v = sum_i w_i c_i, w = softmax(<y, c_i> - |c_i|^2/2) (no 1/2).

1. the softmax chain rules (from the exact softmax);
2. the Jacobian of v in c_i, hence the direct form of the pointwise gradient of |v|^2;
3. differentiation under E (dominated convergence: every term is a polynomial in y and c times
   weights in [0, 1]);
4. the Jacobian of v in y and the y-gradient of f_i = w_i <c_i - v, v>;
5. the Stein form: direct - Stein = 2 (y f_i - grad_y f_i) pointwise, i.e. component k equals
   y.g - div g for the field g = 2 f_i e_k, whose expectation vanishes by Stein's lemma.

Every identity is checked on the concrete sizes ``SIZES`` (symbols for all c and y); the
general-n argument is the same computation with the index sums left unexpanded.
"""
from __future__ import annotations

import time

import sympy as sp

from proofs import numeric
from proofs.base import (Apply, Derivation, Expect, Grad, Inner, Notation as N, Outer, Sq, Step,
                         eq)
from proofs.symbolic import SoftmaxModel, dot, matvec, vadd, vscale

NAME = "gradient"
STATEMENT = (
    "The gradient of the score-matching loss $F(c) = \\mathbb{E}|v|^2$ with respect to the mean "
    "$c_i$ has two equivalent expectation forms: the direct one, from differentiating the "
    "integrand, and a Stein form with no explicit $y$, cubic in the parameters beyond the leading "
    "$2\\,\\mathbb{E}[w_i v]$.  The two integrands differ pointwise by "
    "$2(y f_i - \\nabla_y f_i)$ with $f_i = w_i \\langle c_i - v, v\\rangle$, a term of the form "
    "$y \\cdot g - \\operatorname{div} g$ whose Gaussian expectation is zero.")

SIZES = ((2, 1), (2, 2), (3, 1), (3, 2))


# ---- the integrands (lists of d polynomials in w, c, y) ---------------------------------------

def direct_integrand(m: SoftmaxModel, i: int):
    """2 [w_i v + w_i (y - c_i) <c_i - v, v>]."""
    v, ci, wi = m.v, m.c[i], m.w[i]
    h = dot(vadd(ci, vscale(-1, v)), v)
    return [2 * (wi * v[k] + wi * (m.y[k] - ci[k]) * h) for k in range(m.d)]


def stein_integrand(m: SoftmaxModel, i: int):
    """2 w_i [v + M c_i - 2 v <v, c_i> - 2 M v + 3 |v|^2 v],  M = sum_j w_j c_j c_j^T."""
    v, ci, wi, M = m.v, m.c[i], m.w[i], m.M
    Mc, Mv = matvec(M, ci), matvec(M, v)
    vc, vv = dot(v, ci), dot(v, v)
    return [2 * wi * (v[k] + Mc[k] - 2 * v[k] * vc - 2 * Mv[k] + 3 * vv * v[k]) for k in range(m.d)]


def stein_potential(m: SoftmaxModel, i: int):
    """f_i = w_i <c_i - v, v>: the field for gradient component k is g = 2 f_i e_k."""
    return m.w[i] * dot(vadd(m.c[i], vscale(-1, m.v)), m.v)


# ---- the checks (each returns True iff the identity reduces to 0 on every size tried) --------

def check_jacobian_c(m: SoftmaxModel) -> bool:
    """d v_k / d c_{i,l} = w_i delta_kl + w_i (c_{i,k} - v_k)(y_l - c_{i,l})."""
    ok = True
    for i in range(m.n):
        for k in range(m.d):
            for l in range(m.d):
                rhs = m.w[i] * (1 if k == l else 0) + m.w[i] * (m.c[i][k] - m.v[k]) * (m.y[l] - m.c[i][l])
                ok &= m.is_zero(m.d_c(m.v[k], i, l) - rhs)
    return bool(ok)


def check_direct(m: SoftmaxModel, integrand=direct_integrand) -> bool:
    """d |v|^2 / d c_i equals the direct integrand."""
    vv = dot(m.v, m.v)
    return all(m.is_zero(m.d_c(vv, i, l) - integrand(m, i)[l]) for i in range(m.n) for l in range(m.d))


def check_direct_exact(m: SoftmaxModel, integrand=direct_integrand) -> bool:
    """The same with the exact softmax (exponentials), no chain-rule shortcut."""
    wx = m.exact_weights()
    vx = [sp.Add(*[wx[j] * m.c[j][k] for j in range(m.n)]) for k in range(m.d)]
    vv = dot(vx, vx)
    for i in range(m.n):
        target = [m.to_exact(e) for e in integrand(m, i)]
        for l in range(m.d):
            num, _ = sp.fraction(sp.together(m.diff_exact(vv, m.c[i][l]) - target[l]))
            if sp.expand(num) != 0:
                return False
    return True


def check_jacobian_y(m: SoftmaxModel) -> bool:
    """d v_k / d y_l = M_kl - v_k v_l."""
    return all(m.is_zero(m.d_y(m.v[k], l) - (m.M[k][l] - m.v[k] * m.v[l]))
               for k in range(m.d) for l in range(m.d))


def grad_y_potential_formula(m: SoftmaxModel, i: int):
    """w_i [(c_i - v)(<c_i, v> - |v|^2) + M c_i - v <v, c_i> - 2 M v + 2 |v|^2 v]."""
    v, ci, wi = m.v, m.c[i], m.w[i]
    Mc, Mv = matvec(m.M, ci), matvec(m.M, v)
    vc, vv = dot(v, ci), dot(v, v)
    return [wi * ((ci[k] - v[k]) * (vc - vv) + Mc[k] - v[k] * vc - 2 * Mv[k] + 2 * vv * v[k])
            for k in range(m.d)]


def check_grad_y_potential(m: SoftmaxModel) -> bool:
    return all(m.is_zero(m.d_y(stein_potential(m, i), l) - grad_y_potential_formula(m, i)[l])
               for i in range(m.n) for l in range(m.d))


def check_stein(m: SoftmaxModel, stein=stein_integrand) -> bool:
    """direct_k - stein_k = y.g - div g with g = 2 f_i e_k, i.e. 2 (y_k f_i - d f_i / d y_k)."""
    for i in range(m.n):
        f = stein_potential(m, i)
        D, S = direct_integrand(m, i), stein(m, i)
        for k in range(m.d):
            if not m.is_zero(D[k] - S[k] - 2 * (m.y[k] * f - m.d_y(f, k))):
                return False
    return True


def _on_sizes(check, sizes=SIZES) -> tuple[bool, str]:
    ok = all(check(SoftmaxModel(n, d)) for n, d in sizes)
    return ok, "n, d in " + ", ".join(f"({n},{d})" for n, d in sizes)


# ---- display ------------------------------------------------------------------------------

def _display():
    i, j, c, w, y, v, F, I = N.i, N.j, N.c, N.w, N.y, N.v, N.F, N.I
    ci, wi = c[i], w[i]
    f = wi * Inner(ci - v, v)
    direct = 2 * (wi * v + wi * (y - ci) * Inner(ci - v, v))
    stein = 2 * wi * (v + N.sum_j(w[j] * Inner(c[j], ci) * c[j]) - 2 * v * Inner(v, ci)
                      - 2 * N.sum_j(w[j] * Inner(v, c[j]) * c[j]) + 3 * Sq(v) * v)
    return {
        "rules": [eq(Grad(w[j], ci), w[j] * (sp.KroneckerDelta(i, j) - wi) * (y - ci)),
                  eq(Grad(w[j], y), w[j] * (c[j] - v))],
        "jac_c": eq(sp.Symbol(r"\partial v / \partial c_{i}"), wi * I + wi * Outer(ci - v, y - ci)),
        "direct_pw": eq(Grad(Sq(v), ci), direct),
        "direct": eq(Grad(F, ci), Expect(direct)),
        "jac_y": eq(sp.Symbol(r"\partial v / \partial y"), N.sum_j(w[j] * Outer(c[j], c[j])) - Outer(v, v)),
        "grad_f": eq(Grad(f, y), wi * ((ci - v) * (Inner(ci, v) - Sq(v)) + Apply(N.M, ci)
                                       - v * Inner(v, ci) - 2 * Apply(N.M, v) + 2 * Sq(v) * v)),
        "stein_pw": eq(direct - stein, 2 * (y * f - Grad(f, y))),
        "final": eq(Grad(F, ci), Expect(stein)),
    }


# ---- the derivation -----------------------------------------------------------------------

def derive(spot_check: bool = True, digits: int = 30, core_grad=None) -> Derivation:
    """The symbolic steps, then (``spot_check``) the numeric spot check, whose engine gradients
    come from ``core_grad`` (see :func:`run_spot_check`; default the registered core's grad_F)."""
    t0 = time.perf_counter()
    disp = _display()
    steps: list[Step] = []

    ok = all(SoftmaxModel(n, d).softmax_rules() for n, d in SIZES)
    steps.append(Step("Softmax chain rules, from $w_j = e^{a_j}/\\sum_k e^{a_k}$, "
                      "$a_j = \\langle y, c_j\\rangle - |c_j|^2/2$.",
                      disp["rules"], "symbolic-zero", ok,
                      "n, d in (2,1), (2,2), (3,1), (3,2); rational functions in $e^{a_j}$, cancel"))

    ok, where = _on_sizes(check_jacobian_c)
    steps.append(Step("Jacobian of $v = \\sum_j w_j c_j$ with respect to $c_i$.", disp["jac_c"],
                      "symbolic-zero", ok, where + "; polynomial in w on the simplex"))

    ok, where = _on_sizes(check_direct)
    ok_exact = check_direct_exact(SoftmaxModel(2, 2)) and check_direct_exact(SoftmaxModel(3, 1))
    steps.append(Step("Pointwise gradient of $|v|^2$: $2 (\\partial v/\\partial c_i)^\\top v$ gives "
                      "the direct integrand (also re-derived with explicit exponentials for "
                      "$(n, d) = (2,2), (3,1)$).",
                      disp["direct_pw"], "symbolic-zero", ok and ok_exact, where))

    steps.append(Step("Differentiate under the expectation: the integrand and its c-derivative are "
                      "bounded by a polynomial in |y| uniformly on compact sets of c (weights lie in "
                      "[0, 1]), so dominated convergence applies.",
                      disp["direct"], "pointwise+lemma:dominated-convergence", steps[-1].passed,
                      "pointwise identity of the previous step"))

    ok, where = _on_sizes(check_jacobian_y)
    steps.append(Step("Jacobian of $v$ in $y$ (symmetric): $M - v v^\\top$ with $M = \\sum_j w_j c_j c_j^\\top$.",
                      disp["jac_y"], "symbolic-zero", ok, where))

    ok, where = _on_sizes(check_grad_y_potential)
    steps.append(Step("$y$-gradient of the Stein potential $f_i = w_i \\langle c_i - v, v\\rangle$.", disp["grad_f"],
                      "symbolic-zero", ok, where))

    ok, where = _on_sizes(check_stein)
    steps.append(Step("Direct minus Stein integrand equals $2 (y f_i - \\nabla_y f_i)$: component "
                      "$k$ is $y \\cdot g - \\operatorname{div} g$ for the field $g = 2 f_i e_k$, "
                      "which has polynomial growth, so its Gaussian expectation is 0 (Stein's "
                      "lemma $\\mathbb{E}[y \\cdot g] = \\mathbb{E}[\\operatorname{div} g]$).",
                      disp["stein_pw"], "pointwise+lemma:stein", ok, where))

    t1 = time.perf_counter()
    der = Derivation(NAME, STATEMENT, steps, disp["final"])
    der.spot_check = (run_spot_check(digits, core_grad) if spot_check
                      else {"skipped": "not requested", "passed": False})
    der.runtime_s = {"symbolic": t1 - t0, "spot_check": time.perf_counter() - t1}
    return der


# ---- numeric spot check -------------------------------------------------------------------

SPOT_DIGITS_2D = 20
SPOT_POINTS = (  # (n, d, scale, seed, reduction)
    (3, 1, 1.3, 11, "1-D"),
    (2, 3, 1.0, 12, "1-D along c1 - c2"),
    (3, 2, 0.45, 13, "2-D Gauss-Hermite"),
)


def my_gradient(c, form: str, ctx):
    """grad F from the derived integrand, by this module's own quadrature.  Returns (value, err).

    ``form`` "stein" or "direct".  Reductions: d = 1 is 1-D; n = 2 with the Stein form is 1-D
    along e = (c1 - c2)/|c1 - c2| (the Stein integrand depends on y only through w, which depends
    only on <y, e>); otherwise d = 2 by a 2-D product rule."""
    n, d = len(c), len(c[0])
    m = SoftmaxModel(n, d)
    integrand = stein_integrand if form == "stein" else direct_integrand
    args = m.w + [x for row in m.c for x in row] + m.y
    # one function for all n d components: the common subexpressions (v, |v|^2, M, ...) are
    # evaluated once per node
    fn = numeric.compile_mp(args, [e for i in range(n) for e in integrand(m, i)], ctx)
    cc = [[ctx.mpf(x) for x in row] for row in c]
    flat_c = [x for row in cc for x in row]

    def at(y):
        w = numeric.weights(ctx, cc, y)
        return list(fn(*w, *flat_c, *y))

    if d == 1:
        val, err = numeric.expect_1d(ctx, lambda z: at([z]), _breaks(ctx, cc))
    elif n == 2 and form == "stein":
        diff = [a - b for a, b in zip(cc[0], cc[1])]
        e = [x / ctx.sqrt(ctx.fsum(t * t for t in diff)) for x in diff]
        val, err = numeric.expect_1d(ctx, lambda z: at([z * ek for ek in e]))
    elif d == 2:
        val, err = numeric.expect_2d(ctx, lambda y1, y2: at([y1, y2]))
    else:
        raise ValueError("no reduction implemented for this (n, d, form)")
    return [val[i * d:(i + 1) * d] for i in range(n)], err


def _breaks(ctx, cc):
    """1-D softmax transition points (<y, c_i - c_j> = (|c_i|^2 - |c_j|^2)/2) as quad breakpoints."""
    pts = []
    for a in range(len(cc)):
        for b in range(a + 1, len(cc)):
            den = cc[a][0] - cc[b][0]
            if den != 0:
                pts.append((cc[a][0] ** 2 - cc[b][0] ** 2) / (2 * den))
    return pts


def run_spot_check(digits: int = 30, core_grad=None) -> dict:
    """This module's quadrature of one form against the engine's other form at SPOT_POINTS.

    ``core_grad(c, digits=, form=)`` gives the engine's gradient (an object with ``value``, n x d,
    and optionally ``rule["engine"]`` naming what answered), to ``digits`` significant digits of
    the gradient's norm; default: grad_F of the numeric core registered in proofs.engine_hook.
    A caller in verify/ may hand in a faster engine with the same contract (proofs/ never imports
    verify/)."""
    if core_grad is None:
        model, reason = numeric.load_model()
        if model is None:
            return {"skipped": reason, "passed": False}
        core_grad = model.grad_F
    ctx = numeric.context(digits + 12)
    points, worst = [], float("inf")
    for n, d, scale, seed, how in SPOT_POINTS:
        c = numeric.as_input(ctx, numeric.random_config(n, d, scale, seed))
        for mine_form, model_form in (("stein", "direct"), ("direct", "stein")):
            if mine_form == "direct" and not how.startswith("1-D"):
                continue  # one comparison per slow 2-D point; the 1-D points cover both pairings
            if how.startswith("1-D along") and mine_form == "direct":
                continue
            mine, err = my_gradient(c, mine_form, ctx)
            # the 2-D point asks the core for at most 2-D_DIGITS significant digits: each
            # gradient component to 30 digits of the gradient's norm needs more nodes there than
            # the core's mpmath work budget allows
            asked = digits if how.startswith("1-D") else min(digits, SPOT_DIGITS_2D)
            est = core_grad(c, digits=asked, form=model_form)
            agree = numeric.agreement_digits(ctx, mine, est.value)
            worst = min(worst, agree - (asked - 2))
            engine = (getattr(est, "rule", None) or {}).get("engine")
            points.append({"c": c, "mine": f"{mine_form} form, {how}",
                           "model": f"grad_F form={model_form}" + (f" ({engine})" if engine else ""),
                           "digits": round(agree, 1), "asked": asked, "my_error": ctx.nstr(err, 3)})
    digits_seen = min(p["digits"] for p in points)
    return {"points": points, "dps": ctx.dps, "digits": digits_seen,
            # per point: agreement >= asked - 2 (asked: `digits` at the 1-D points, at most
            # SPOT_DIGITS_2D at the 2-D one); the summary shows the least required
            "required_digits": min(p["asked"] for p in points) - 2,
            "passed": worst >= 0,
            "note": "this module's quadrature of one form against the numeric core's other form."}
