"""Derivation `em-link` (SPEC §2 "Gradient EM"; claim `em-link`, the paper's Lemma 2.2 as reported).

1. Stein's lemma with g = w_i e_k: E[w_i (y - c_i)] = -E[w_i v]  (the gradient-EM direction).
2. The Stein form of the gradient splits as grad_{c_i} F = -2 E[w_i (y - c_i)] + R_i with
   R_i = 2 E[w_i B_i],  B_i = M c_i - 2 v <v, c_i> - 2 M v + 3 |v|^2 v  (cubic in c).
3. With c = s u: B_i is exactly s^3 B_i(u) for the same weights, and |B_i| <= 8 s^3 max|u_j|^3
   (v and M are convex combinations), so |R_i| <= 16 s^3 max|u_j|^3.
4. Expansion in s: w_i = (1/n)[1 + s b_i + s^2 (b_i^2/2 - mean_k b_k^2/2 - q_i)] + O(s^3) with
   b_i = <y, u_i - ubar>, q_i = (|u_i|^2 - mean_k |u_k|^2)/2.  Gaussian moments then give
      -2 EM_i = s (2/n) ubar + s^3 (2/n)[C ut_i - ubar <ut_i, ubar> - C ubar] + O(s^5),
      R_i     = s^3 (2/n)[Mbar u_i - 2 ubar <ubar, u_i> - 2 Mbar ubar + 3 |ubar|^2 ubar] + O(s^5),
   ut_i = u_i - ubar, C = mean_k ut_k ut_k^T, Mbar = mean_k u_k u_k^T.  Even orders vanish
   because the gradient is odd in c (y -> -y).
"""
from __future__ import annotations

import time

import sympy as sp
from sympy.polys.domains import QQ
from sympy.polys.rings import ring

from proofs import numeric
from proofs.base import (Apply, Derivation, Expect, Grad, Inner, Notation as N, Sq, Step, eq)
from proofs.gradient import stein_integrand
from proofs.symbolic import (SoftmaxModel, dot, matvec, ring_coeff, ring_gaussian_expect,
                             ring_mul_trunc, vadd, vscale)

NAME = "em-link"
STATEMENT = (
    "Near the target the score-matching gradient is twice the negative gradient-EM direction plus "
    "a cubic correction: $\\mathbb{E}[w_i (y - c_i)] = -\\mathbb{E}[w_i v]$ by Stein's lemma, so "
    "$\\nabla_{c_i} F = -2\\,\\mathbb{E}[w_i (y - c_i)] + R_i$ with $|R_i| \\le 16 s^3 \\max_j |u_j|^3$ "
    "when $c = s u$; the expansion in $s$ is odd, and its $s^3$ coefficients are derived in closed form.")

SIZES = ((2, 1), (2, 2), (3, 1), (3, 2))
SMALL_SIZES = ((2, 1), (2, 2), (3, 1))   # for the structural identities (split, homogeneity, oddness)
SERIES_SIZES = ((2, 1), (2, 2), (3, 1), (3, 2))


# ---- integrands ---------------------------------------------------------------------------

def em_integrand(m: SoftmaxModel, i: int):
    """w_i (y - c_i)."""
    return [m.w[i] * (m.y[k] - m.c[i][k]) for k in range(m.d)]


def cubic_bracket(m: SoftmaxModel, i: int):
    """B_i = M c_i - 2 v <v, c_i> - 2 M v + 3 |v|^2 v."""
    v, ci = m.v, m.c[i]
    Mc, Mv = matvec(m.M, ci), matvec(m.M, v)
    return [Mc[k] - 2 * v[k] * dot(v, ci) - 2 * Mv[k] + 3 * dot(v, v) * v[k] for k in range(m.d)]


# ---- checks -------------------------------------------------------------------------------

def check_em_stein(m: SoftmaxModel, integrand=em_integrand) -> bool:
    """w_i (y - c_i) + w_i v = y w_i - grad_y w_i (component k: y.g - div g, g = w_i e_k)."""
    for i in range(m.n):
        lhs = integrand(m, i)
        for k in range(m.d):
            if not m.is_zero(lhs[k] + m.w[i] * m.v[k] - (m.y[k] * m.w[i] - m.d_y(m.w[i], k))):
                return False
    return True


def check_split(m: SoftmaxModel) -> bool:
    """Stein integrand = 2 w_i v + 2 w_i B_i."""
    return all(m.is_zero(stein_integrand(m, i)[k] - 2 * m.w[i] * m.v[k]
                         - 2 * m.w[i] * cubic_bracket(m, i)[k])
               for i in range(m.n) for k in range(m.d))


def check_homogeneous(m: SoftmaxModel) -> bool:
    """B_i(s c) = s^3 B_i(c) at fixed weights."""
    s = sp.Symbol("s", positive=True)
    scaled = {x: s * x for row in m.c for x in row}
    return all(m.is_zero(B.subs(scaled, simultaneous=True) - s ** 3 * B)
               for i in range(m.n) for B in cubic_bracket(m, i))


def check_odd(m: SoftmaxModel) -> bool:
    """Stein integrand(-c, -y) = -Stein integrand(c, y) with the same weights (w(-c,-y) = w(c,y))."""
    flip = {x: -x for x in [x for row in m.c for x in row] + m.y}
    return all(m.is_zero(e.subs(flip, simultaneous=True) + e)
               for i in range(m.n) for e in stein_integrand(m, i))


class Series:
    """The weights of c = s u expanded to O(s^3), for one concrete (n, d).

    The series arithmetic runs in the sparse polynomial ring QQ[s, y, u] (:attr:`R`): truncated
    products never form the terms beyond the order kept, and an identity between polynomials is
    equality of ring elements (the same decision as ``expand(lhs - rhs) == 0``, much faster)."""

    def __init__(self, n: int, d: int):
        self.n, self.d = n, d
        self.s = sp.Symbol("s", positive=True)
        self.u = [[sp.Symbol(f"u{i + 1}{k + 1}", real=True) for k in range(d)] for i in range(n)]
        self.y = [sp.Symbol(f"y{k + 1}", real=True) for k in range(d)]
        self.ubar = [sp.Add(*[self.u[i][k] for i in range(n)]) / n for k in range(d)]
        self.R, *gens = ring([self.s] + self.y + [x for row in self.u for x in row], QQ)
        self.gs, self.gy = gens[0], gens[1:1 + d]
        self.gu = [gens[1 + d + i * d:1 + d + (i + 1) * d] for i in range(n)]
        self.y_idx = tuple(range(1, 1 + d))

    def to_ring(self, expr):
        """A polynomial expression in (s, y, u) as an element of :attr:`R`."""
        return self.R.from_expr(sp.sympify(expr)) if expr != 0 else self.R.zero

    def mul(self, a, b, order: int):
        """a b through s^order."""
        return ring_mul_trunc(a, b, 0, order)

    def weights_from_exp(self, order: int = 2):
        """Truncated Taylor series of exp(a_i) / sum_j exp(a_j), a_i = s <y,u_i> - s^2 |u_i|^2/2, in
        :attr:`R`: exp(a_i) through s^order is sum_{k <= order} a_i^k / k! (a_i = O(s))."""
        R, s = self.R, self.gs
        a = [s * rdot(self.gy, ui) - s ** 2 * rdot(ui, ui) * QQ(1, 2) for ui in self.gu]
        ex = []
        for ai in a:
            term, e = R.one, R.one
            for k in range(1, order + 1):
                term = self.mul(term, ai, order) * QQ(1, k)
                e += term
            ex.append(e)
        delta = sum(ex, R.zero) * QQ(1, self.n) - 1              # sum exp = n (1 + delta)
        # 1/(1 + delta) = sum_{p <= order} (-delta)^p (delta = O(s)), by Horner's rule with a
        # truncation after every product
        inv = R.one
        for _ in range(order):
            inv = 1 - self.mul(delta, inv, order)
        inv = inv * QQ(1, self.n)
        return [self.mul(e, inv, order) for e in ex]

    def weights_formula(self):
        """(1/n)[1 + s b_i + s^2 (b_i^2/2 - mean b^2/2 - q_i)]."""
        n, s = self.n, self.s
        b = [dot(self.y, vadd(ui, vscale(-1, self.ubar))) for ui in self.u]
        q = [dot(ui, ui) / 2 for ui in self.u]
        mb2 = sp.Add(*[x ** 2 for x in b]) / n
        mq = sp.Add(*q) / n
        return [(1 + s * b[i] + s ** 2 * (b[i] ** 2 / 2 - mb2 / 2 - (q[i] - mq))) / n for i in range(n)]

    def expect(self, p):
        """E over y ~ N(0, I) of a ring element (Gaussian moments)."""
        return ring_gaussian_expect(p, self.y_idx)

    def weight_coefficients(self):
        """[w_i at s^0, s^1, s^2] from :meth:`weights_formula` (checked against exp separately),
        as elements of :attr:`R`."""
        return [[ring_coeff(self.to_ring(w), 0, k) for k in range(3)] for w in self.weights_formula()]

    def em_coefficients(self, wc=None):
        """The s^1, s^2, s^3 coefficients of -2 EM_i = 2 E[w_i v] = 2 s E[w_i sum_j w_j u_j]
        (elements of :attr:`R`)."""
        wc = wc or self.weight_coefficients()
        out = []
        for i in range(self.n):
            vec = []
            for k in range(self.d):
                inner = [sum((wc[j][p] * self.gu[j][k] for j in range(self.n)), self.R.zero)
                         for p in range(3)]
                prod = cauchy(wc[i], inner, 2)
                vec.append(tuple(2 * self.expect(prod[p]) for p in range(3)))
            out.append(vec)
        return out

    def em_s3_formula(self, i: int):
        """(2/n)[C ut_i - ubar <ut_i, ubar> - C ubar]."""
        n, ub = self.n, self.ubar
        ut = [vadd(uj, vscale(-1, ub)) for uj in self.u]
        C = [[sp.Add(*[ut[j][k] * ut[j][l] for j in range(n)]) / n for l in range(self.d)]
             for k in range(self.d)]
        Cu, Cb = matvec(C, ut[i]), matvec(C, ub)
        return [sp.Rational(2, n) * (Cu[k] - ub[k] * dot(ut[i], ub) - Cb[k]) for k in range(self.d)]

    def remainder_coefficients(self, wc=None):
        """The s^3 and s^4 coefficients of R_i = 2 E[w_i B_i(s u)] = 2 s^3 E[w_i B_i(u)]
        (homogeneity, step 3), so only the weights to O(s^2) enter (elements of :attr:`R`)."""
        wc = [row[:2] for row in (wc or self.weight_coefficients())]
        n, d, u, Z = self.n, self.d, self.gu, self.R.zero
        v = [[sum((wc[j][p] * u[j][k] for j in range(n)), Z) for p in range(2)] for k in range(d)]
        M = [[[sum((wc[j][p] * u[j][k] * u[j][l] for j in range(n)), Z) for p in range(2)]
              for l in range(d)] for k in range(d)]

        def sdot(a, b):  # <a, b> for vectors of series
            return [sum((cauchy(x, y, 1)[p] for x, y in zip(a, b)), Z) for p in range(2)]

        vv = sdot(v, v)
        out = []
        for i in range(n):
            ci = [[x, Z] for x in u[i]]
            vc = sdot(v, ci)
            vec = []
            for k in range(d):
                Mc = sdot(M[k], ci)
                Mv = sdot(M[k], v)
                B = [Mc[p] - 2 * cauchy(v[k], vc, 1)[p] - 2 * Mv[p] + 3 * cauchy(vv, v[k], 1)[p]
                     for p in range(2)]
                prod = cauchy(wc[i], B, 1)
                vec.append(tuple(2 * self.expect(prod[p]) for p in range(2)))
            out.append(vec)
        return out

    def remainder_s3_formula(self, i: int):
        """(2/n)[Mbar u_i - 2 ubar <ubar, u_i> - 2 Mbar ubar + 3 |ubar|^2 ubar]."""
        n, ub, ui = self.n, self.ubar, self.u[i]
        Mb = [[sp.Add(*[self.u[j][k] * self.u[j][l] for j in range(n)]) / n for l in range(self.d)]
              for k in range(self.d)]
        Mu, Mub = matvec(Mb, ui), matvec(Mb, ub)
        return [sp.Rational(2, n) * (Mu[k] - 2 * ub[k] * dot(ub, ui) - 2 * Mub[k] + 3 * dot(ub, ub) * ub[k])
                for k in range(self.d)]


def rdot(a, b):
    """<a, b> for vectors of ring elements."""
    return sum((x * y for x, y in zip(a, b)), a[0].ring.zero)


def cauchy(a, b, order: int):
    """Coefficients 0..order of the product of two truncated power series (lists of elements of
    one polynomial ring)."""
    return [sum((a[p] * b[k - p] for p in range(k + 1) if p < len(a) and k - p < len(b)), 0)
            for k in range(order + 1)]


def check_weight_series(sr: Series) -> bool:
    got, want = sr.weights_from_exp(2), sr.weights_formula()
    return all(g == sr.to_ring(w) for g, w in zip(got, want))


def check_em_series(sr: Series, s3_formula=None) -> bool:
    s3_formula = s3_formula or sr.em_s3_formula
    coeffs = sr.em_coefficients()
    for i in range(sr.n):
        f3 = s3_formula(i)
        for k in range(sr.d):
            c1, c2, c3 = coeffs[i][k]
            if c1 != sr.to_ring(sp.Rational(2, sr.n) * sr.ubar[k]) or c2 != 0 \
                    or c3 != sr.to_ring(f3[k]):
                return False
    return True


def check_remainder_series(sr: Series, s3_formula=None) -> bool:
    s3_formula = s3_formula or sr.remainder_s3_formula
    coeffs = sr.remainder_coefficients()
    for i in range(sr.n):
        f3 = s3_formula(i)
        for k in range(sr.d):
            c3, c4 = coeffs[i][k]
            if c3 != sr.to_ring(f3[k]) or c4 != 0:
                return False
    return True


def _on(check, sizes, make=SoftmaxModel):
    return all(check(make(n, d)) for n, d in sizes), "n, d in " + ", ".join(f"({n},{d})" for n, d in sizes)


# ---- display ------------------------------------------------------------------------------

def _display():
    i, c, w, y, v, F = N.i, N.c, N.w, N.y, N.v, N.F
    s, n = N.s, N.n
    ci, wi = c[i], w[i]
    u = sp.IndexedBase("u")
    ub, ut = sp.Symbol(r"\bar{u}"), sp.IndexedBase(r"\tilde{u}")
    Cm, Mb = sp.Symbol("C"), sp.Symbol(r"\bar{M}")
    R, EM = sp.IndexedBase("R"), sp.IndexedBase(r"\mathrm{EM}")
    B = Apply(N.M, ci) - 2 * v * Inner(v, ci) - 2 * Apply(N.M, v) + 3 * Sq(v) * v
    b = sp.IndexedBase("b")
    q = sp.IndexedBase("q")
    e3 = 2 / n * (Apply(Cm, ut[i]) - ub * Inner(ut[i], ub) - Apply(Cm, ub))
    c3 = 2 / n * (Apply(Mb, u[i]) - 2 * ub * Inner(ub, u[i]) - 2 * Apply(Mb, ub) + 3 * Sq(ub) * ub)
    return {
        "stein": [eq(wi * (y - ci) + wi * v, y * wi - Grad(wi, y)),
                  eq(Expect(wi * (y - ci)), -Expect(wi * v))],
        "split": eq(Grad(F, ci), -2 * EM[i] + R[i]),
        "R": eq(R[i], 2 * Expect(wi * B)),
        "homog": eq(sp.Symbol(r"B_{i}(s u)"), s ** 3 * sp.Symbol(r"B_{i}(u)")),
        "bound": sp.Symbol(r"\lvert R_{i} \rvert \le 16\, s^{3} \max_{j} \lVert u_{j} \rVert^{3}"),
        "odd": eq(sp.Symbol(r"\nabla_{c_i} F(-c)"), -sp.Symbol(r"\nabla_{c_i} F(c)")),
        "wseries": eq(wi, (1 + s * b[i] + s ** 2 * (b[i] ** 2 / 2 - sp.Symbol(r"\overline{b^{2}}") / 2 - q[i])) / n
                      + sp.Order(s ** 3)),
        "em": eq(-2 * EM[i], s * 2 / n * ub + s ** 3 * e3 + sp.Order(s ** 5)),
        "rem": eq(R[i], s ** 3 * c3 + sp.Order(s ** 5)),
        "final": eq(Grad(F, ci), -2 * EM[i] + s ** 3 * c3 + sp.Order(s ** 5)),
    }


# ---- the derivation -----------------------------------------------------------------------

def derive(spot_check: bool = True, digits: int = 30) -> Derivation:
    t0 = time.perf_counter()
    disp = _display()
    steps: list[Step] = []

    ok, where = _on(check_em_stein, SIZES)
    steps.append(Step(
        "Pointwise, $w_i (y - c_i) + w_i v = y w_i - \\nabla_y w_i$; component $k$ is $y \\cdot g - "
        "\\operatorname{div} g$ for $g = w_i e_k$ (bounded), so by Stein's lemma the gradient-EM "
        "direction $\\mathrm{EM}_i = \\mathbb{E}[w_i (y - c_i)]$ equals $-\\mathbb{E}[w_i v]$.",
        disp["stein"], "pointwise+lemma:stein", ok, where))

    ok, where = _on(check_split, SMALL_SIZES)
    steps.append(Step(
        "Split the Stein form of the gradient (derivation gradient) into $2\\,\\mathbb{E}[w_i v] = "
        "-2\\,\\mathrm{EM}_i$ and the rest $R_i$.", [disp["split"], disp["R"]], "symbolic-zero", ok, where))

    ok, where = _on(check_homogeneous, SMALL_SIZES)
    steps.append(Step(
        "At fixed weights the bracket $B_i$ is homogeneous of degree 3 in $c$; since $v$ and $M$ are "
        "convex combinations, $|v| \\le r$, $\\lVert M \\rVert \\le r^2$ with $r = s \\max_j |u_j|$, "
        "so $|B_i| \\le (1+2+2+3) r^3$ and $|R_i| \\le 16 s^3 \\max_j |u_j|^3$: the remainder is "
        "$O(s^3)$ uniformly.", [disp["homog"], disp["bound"]],
        "pointwise+lemma:convex-combination-bound", ok, where + "; homogeneity symbolic"))

    ok, where = _on(check_odd, SMALL_SIZES)
    steps.append(Step(
        "Oddness: the integrand changes sign under $(c, y) \\to (-c, -y)$, which leaves the weights "
        "and $N(0, I)$ unchanged; so the expansion of the gradient in $s$ has only odd powers.",
        disp["odd"], "pointwise+lemma:odd-symmetry", ok, where))

    ok, where = _on(check_weight_series, SERIES_SIZES, Series)
    steps.append(Step(
        "Second-order expansion of the softmax at $c = s u$: $b_i = \\langle y, u_i - \\bar u\\rangle$, "
        "$q_i = (|u_i|^2 - \\overline{|u|^2})/2$; from the Taylor series of $\\exp$ and of $1/(1+x)$.",
        disp["wseries"], "symbolic-zero", ok, where))

    ok, where = _on(check_em_series, SERIES_SIZES, Series)
    steps.append(Step(
        "Gradient-EM direction to $O(s^5)$: take Gaussian moments of the expanded $2 w_i v$ (the "
        "$s^2$ term vanishes, every even one by step 4); $\\tilde u_i = u_i - \\bar u$, $C = "
        "\\frac{1}{n}\\sum_k \\tilde u_k \\tilde u_k^\\top$.",
        disp["em"], "pointwise+lemma:gaussian-moments", ok, where + "; s^1, s^2, s^3 coefficients"))

    ok, where = _on(check_remainder_series, SERIES_SIZES, Series)
    steps.append(Step(
        "The cubic remainder to $O(s^5)$: its $s^3$ coefficient uses the weights at $s = 0$ "
        "($w = 1/n$, $v = s\\bar u$, $M = s^2 \\bar M$, $\\bar M = \\frac{1}{n}\\sum_k u_k u_k^\\top$); "
        "the $s^4$ coefficient vanishes.",
        disp["rem"], "pointwise+lemma:gaussian-moments", ok, where + "; s^3 and s^4 coefficients"))

    t1 = time.perf_counter()
    der = Derivation(NAME, STATEMENT, steps, disp["final"])
    der.spot_check = run_spot_check(digits) if spot_check else {"skipped": "not requested",
                                                               "passed": False}
    der.runtime_s = {"symbolic": t1 - t0, "spot_check": time.perf_counter() - t1}
    return der


# ---- numeric spot check -------------------------------------------------------------------

SPOT_POINTS = ((3, 1, 1.0, 21), (2, 2, 1.0, 22))
SPOT_S = ("1e-9", "5e-10")       # tiny scales for the s^3 coefficients (own quadrature)
MODEL_S = "0.5"                  # a moderate scale for the comparison with the numeric core


def s3_coefficients_numeric(u, ctx):
    """The derived s^3 coefficients (EM part, remainder part) at numeric u, via SymPy -> ctx."""
    n, d = len(u), len(u[0])
    sr = Series(n, d)
    args = [x for row in sr.u for x in row]
    vals = [ctx.mpf(x) for row in u for x in row]
    em = [[numeric.compile_mp(args, e, ctx)(*vals) for e in sr.em_s3_formula(i)] for i in range(n)]
    rem = [[numeric.compile_mp(args, e, ctx)(*vals) for e in sr.remainder_s3_formula(i)] for i in range(n)]
    return em, rem


def my_em_and_remainder(c, ctx):
    """(EM_i, R_i) for all i by this module's own 1-D quadrature of the derived integrands.

    EM_i = E[w_i (y - c_i)] = e E[z w_i] - c_i E[w_i] and R_i = 2 E[w_i B_i] where the weights
    depend on y only through z = <y, e>: d = 1 (e = 1) or n = 2 (e = (c_1 - c_2)/|c_1 - c_2|;
    the component of y orthogonal to e is independent of z with mean 0)."""
    n, d = len(c), len(c[0])
    if not (d == 1 or n == 2):
        raise ValueError("own 1-D reduction needs d = 1 or n = 2")
    m = SoftmaxModel(n, d)
    cc = [[ctx.mpf(x) for x in row] for row in c]
    flat_c = [x for row in cc for x in row]
    diff = [a - b for a, b in zip(cc[0], cc[-1])]
    norm = ctx.sqrt(ctx.fsum(t * t for t in diff))
    e = [x / norm for x in diff] if d > 1 else [ctx.one]
    args = m.w + [x for row in m.c for x in row]
    # one compiled function for all n d components (one call per node instead of n d)
    bracket = numeric.compile_mp(args, [2 * m.w[i] * b for i in range(n) for b in cubic_bracket(m, i)],
                                 ctx)

    def f(z):
        w = numeric.weights(ctx, cc, [z * ek for ek in e])
        out = [z * wi for wi in w] + list(w)
        out += list(bracket(*w, *flat_c))
        return out

    val, err = numeric.expect_1d(ctx, f)
    zw, Ew, R = val[:n], val[n:2 * n], val[2 * n:]
    em = [[e[k] * zw[i] - cc[i][k] * Ew[i] for k in range(d)] for i in range(n)]
    return em, [R[i * d:(i + 1) * d] for i in range(n)], err


def run_spot_check(digits: int = 30) -> dict:
    """(a) At c = s u for two tiny s, this module's own quadrature of R_i/s^3 and of
    (-2 EM_i - s (2/n) ubar)/s^3, Richardson-extrapolated in s^2 (error O(s^4) ~ 1e-36), against
    the derived closed forms.  (b) At c = 0.5 u, the numeric core's grad F + 2 EM against this
    module's quadrature of R_i = 2 E[w_i B_i]."""
    ctx = numeric.context(digits + 30)
    points, worst = [], float("inf")
    for n, d, scale, seed in SPOT_POINTS:
        u = numeric.random_config(n, d, scale, seed)
        em3, rem3 = s3_coefficients_numeric(u, ctx)
        uu = [[ctx.mpf(x) for x in row] for row in u]
        ubar = [ctx.fsum(row[k] for row in uu) / n for k in range(d)]
        est_rem, est_em = [], []
        for s_txt in SPOT_S:
            s = ctx.mpf(s_txt)
            em, R, _ = my_em_and_remainder([[s * x for x in row] for row in uu], ctx)
            est_rem.append([[R[i][k] / s ** 3 for k in range(d)] for i in range(n)])
            est_em.append([[(-2 * em[i][k] - s * 2 * ubar[k] / n) / s ** 3 for k in range(d)]
                           for i in range(n)])
        r = (ctx.mpf(SPOT_S[0]) / ctx.mpf(SPOT_S[1])) ** 2

        def extrapolate(a, b):
            return [[(r * b[i][k] - a[i][k]) / (r - 1) for k in range(d)] for i in range(n)]

        for label, est, formula in (("R_i s^3 coefficient (own quadrature)", est_rem, rem3),
                                    ("EM s^3 coefficient (own quadrature)", est_em, em3)):
            agree = numeric.agreement_digits(ctx, extrapolate(*est), formula)
            worst = min(worst, agree)
            points.append({"u": u, "s": list(SPOT_S), "quantity": label, "digits": round(agree, 1)})

    model, reason = numeric.load_model()
    if model is None:
        return {"skipped": reason, "passed": False, "points": points}
    for n, d, scale, seed in SPOT_POINTS:
        u = numeric.random_config(n, d, scale, seed)
        s = ctx.mpf(MODEL_S)
        c = numeric.as_input(ctx, [[s * ctx.mpf(x) for x in row] for row in u])
        _, R, _ = my_em_and_remainder(c, ctx)
        g = model.grad_F(c, digits=digits).value
        em = model.em_direction(c, digits=digits).value
        theirs = [[ctx.mpf(g[i][k]) + 2 * ctx.mpf(em[i][k]) for k in range(d)] for i in range(n)]
        agree = numeric.agreement_digits(ctx, R, theirs)
        worst = min(worst, agree)
        points.append({"c": c, "quantity": "grad_F + 2 em_direction (numeric core) vs own R_i",
                       "digits": round(agree, 1)})
    return {"points": points, "dps": ctx.dps, "digits": worst, "required_digits": digits - 2,
            "passed": worst >= digits - 2,
            "note": ("s^3 coefficients: own quadrature, Richardson in s^2; decomposition: numeric "
                     "core at c = 0.5 u.")}
