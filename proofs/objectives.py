"""Derivation `objectives` (SPEC §6): the gradients of the neighbouring objectives.

1. gradient EM.  log p_c(y) - log phi(y) = log (1/n) sum_j exp(a_j), a_j = <y, c_j> - |c_j|^2/2,
   so K(c) = -E[log (1/n) sum_j exp(a_j)] and, pointwise, d/dc_i of -log sum_j exp(a_j) is
   -w_i (y - c_i): grad_i K = -E[w_i (y - c_i)], and GD on K is the gradient-EM update.
2. The two forms of K the engine uses: log (1/n) sum_j e^{a_j} = a_r + log sum_j e^{a_j - a_r}
   - log n = abar + log mean_j e^{a_j - abar}; with E[a_j] = -|c_j|^2/2 (Gaussian moments).
3. reverse Fisher.  R(c) = E_{y~p_c}|v|^2 = E_phi[L(y) |v(y)|^2] with L = (1/n) sum_j e^{a_j}.
   Pointwise, d/dc_i [L |v|^2] = (1/n) e^{a_i} (y - c_i)|v|^2 + L d|v|^2/dc_i, and
   d|v|^2/dc_i = 2 (w_i v + w_i (y - c_i) h_i), h_i = <c_i - v, v>.  Since
   E_phi[(1/n) e^{a_i} g(y)] = (1/n) E_z[g(c_i + z)] (change of variables y = c_i + z):
   grad_i R = (1/n) E_{z}[z |v(c_i + z)|^2] + E_{p_c}[2 (w_i v + w_i (y - c_i) h_i)]  ("score").
4. Stein's lemma under the shifted measure, E_z[z g(c_i + z)] = E_z[grad_y g(c_i + z)], with
   grad_y |v|^2 = 2 sum_l w_l h_l c_l and sum_l w_l h_l = 0, gives the pathwise form
   (1/n) E_z[2 sum_l w_l h_l (c_l - c_r)](c_i + z) for the first term.
5. time average.  d/dc F(e^{-t} c) = e^{-t} (grad F)(e^{-t} c) (chain rule), integrated in t.
6. near the target: grad_i F - 2 grad_i K = 2 E[w_i B_i] (derivation em-link), O(s^3) at c = s u.

Spot check (own numerics, no verify/ import): on d = 1 configurations, this module's own
tanh-sinh quadrature (split at the softmax tie points) of the derived gradient integrands
against central finite differences of the objectives' values at 34 digits (h = 1e-9, so the
difference error is O(h^2) = 1e-18), for each objective.
"""
from __future__ import annotations

import time

import sympy as sp

from proofs import numeric
from proofs.base import Derivation, Step, vanishes
from proofs.em_link import check_split
from proofs.symbolic import SoftmaxModel, dot, gaussian_expect

NAME = "objectives"
STATEMENT = (
    "The gradients of the objectives beyond the paper: gradient EM (KL(N(0,I) || p_c)) has "
    "$\\nabla_{c_i} K = -\\mathbb{E}[w_i (y - c_i)]$; the reverse Fisher divergence $R = "
    "\\mathbb{E}_{p_c}|v|^2$ differentiates through its sampling distribution, $\\nabla_{c_i} R = "
    "\\frac{1}{n}\\mathbb{E}_z[z |v(c_i + z)|^2] + \\mathbb{E}_{p_c}[2(w_i v + w_i (y - c_i) h_i)]$, "
    "equal by Stein's lemma to the pathwise form with $\\nabla_y |v|^2 = 2\\sum_l w_l h_l c_l$; "
    "the time average's gradient is $\\int \\lambda(t) e^{-t} (\\nabla F)(e^{-t} c)\\,dt$.")

SIZES = ((2, 1), (2, 2), (3, 1), (3, 2))


def _on(check, sizes=SIZES):
    return all(check(SoftmaxModel(n, d)) for n, d in sizes), \
        "n, d in " + ", ".join(f"({n},{d})" for n, d in sizes)


# ---- derived integrands (used by the checks and compiled for the spot check) ---------------

def h(m: SoftmaxModel, i: int):
    return dot([a - b for a, b in zip(m.c[i], m.v)], m.v)


def em_gradient_integrand(m: SoftmaxModel, i: int):
    """-w_i (y - c_i): the pointwise gradient of -log (1/n) sum_j exp(a_j)."""
    return [-m.w[i] * (m.y[k] - m.c[i][k]) for k in range(m.d)]


def dv2_dc(m: SoftmaxModel, i: int):
    """2 (w_i v + w_i (y - c_i) h_i)."""
    hi = h(m, i)
    return [2 * (m.w[i] * m.v[k] + m.w[i] * (m.y[k] - m.c[i][k]) * hi) for k in range(m.d)]


def grad_y_v2(m: SoftmaxModel, r: int = 0):
    """2 sum_l w_l h_l (c_l - c_r)."""
    return [2 * sp.Add(*[m.w[l] * h(m, l) * (m.c[l][k] - m.c[r][k]) for l in range(m.n)])
            for k in range(m.d)]


# ---- checks --------------------------------------------------------------------------------

def check_em_gradient(m: SoftmaxModel) -> bool:
    """d/dc_il [-log sum_j E_j] = -w_i (y_l - c_il) in the exact representation."""
    S = sp.Add(*m.E)
    wx = m.exact_weights()
    for i in range(m.n):
        for l in range(m.d):
            lhs = m.diff_exact(-sp.log(S), m.c[i][l])
            rhs = -wx[i] * (m.y[l] - m.c[i][l])
            num, _ = sp.fraction(sp.together(lhs - rhs))
            if sp.expand(num) != 0:
                return False
    return True


def check_em_forms(m: SoftmaxModel) -> bool:
    """E[a_j] = -|c_j|^2/2 and E[abar] = -mean_j |c_j|^2/2 (Gaussian moments)."""
    a = m.logits()
    ok = all(sp.expand(gaussian_expect(aj, m.y) + dot(cj, cj) / 2) == 0 for aj, cj in zip(a, m.c))
    abar = sp.Add(*a) / m.n
    return ok and sp.expand(gaussian_expect(abar, m.y) + sp.Add(*[dot(cj, cj) for cj in m.c])
                            / (2 * m.n)) == 0


def check_rf_product_rule(m: SoftmaxModel) -> bool:
    """d/dc_il [(1/n) sum_j E_j |v|^2] = (1/n) E_i (y_l - c_il)|v|^2 + (1/n) sum_j E_j d|v|^2/dc_il,
    with v in the exact weights, and d|v|^2/dc_il = 2(w_i v_l + w_i (y_l - c_il) h_i)."""
    wx = m.exact_weights()
    vx = [sp.Add(*[wx[j] * m.c[j][k] for j in range(m.n)]) for k in range(m.d)]
    v2 = dot(vx, vx)
    L = sp.Add(*m.E) / m.n
    sub = dict(zip(m.w, wx))
    for i in range(m.n):
        for l in range(m.d):
            lhs = m.diff_exact(L * v2, m.c[i][l])
            rhs = m.E[i] * (m.y[l] - m.c[i][l]) * v2 / m.n + L * dv2_dc(m, i)[l].subs(sub)
            num, _ = sp.fraction(sp.together(lhs - rhs))
            if sp.expand(num) != 0:
                return False
    return True


def check_dv2(m: SoftmaxModel) -> bool:
    """d|v|^2/dc_i = 2 (w_i v + w_i (y - c_i) h_i) (polynomial chain rule, on the simplex)."""
    v2 = dot(m.v, m.v)
    return all(m.is_zero(m.d_c(v2, i, l) - dv2_dc(m, i)[l]) for i in range(m.n) for l in range(m.d))


def check_grad_y(m: SoftmaxModel) -> bool:
    """grad_y |v|^2 = 2 sum_l w_l h_l c_l, sum_l w_l h_l = 0, hence = 2 sum_l w_l h_l (c_l - c_1)."""
    v2 = dot(m.v, m.v)
    s = sp.Add(*[m.w[l] * h(m, l) for l in range(m.n)])
    ok = m.is_zero(s)
    for k in range(m.d):
        ok = ok and m.is_zero(m.d_y(v2, k) - 2 * sp.Add(*[m.w[l] * h(m, l) * m.c[l][k]
                                                          for l in range(m.n)]))
        ok = ok and m.is_zero(m.d_y(v2, k) - grad_y_v2(m)[k])
    return bool(ok)


def check_time_chain(m: SoftmaxModel) -> bool:
    """d/dc_il F(e^{-t} c) = e^{-t} (d_il F)(e^{-t} c) for a generic smooth F."""
    t = sp.Symbol("t", nonnegative=True)
    xs = [x for row in m.c for x in row]
    Fn = sp.Function("F")
    expr = Fn(*[sp.exp(-t) * x for x in xs])
    for idx, x in enumerate(xs):
        lhs = sp.diff(expr, x)
        dummies = sp.symbols(f"z0:{len(xs)}")
        rhs = sp.exp(-t) * sp.diff(Fn(*dummies), dummies[idx]).subs(
            dict(zip(dummies, [sp.exp(-t) * x for x in xs])), simultaneous=True)
        if sp.simplify(lhs - rhs) != 0:
            return False
    return True


def check_em_far_integral() -> bool:
    """int sigma(u) e^{-u/2} du over R equals int du / (2 cosh(u/2)) equals pi."""
    u = sp.Symbol("u", real=True)
    a = sp.exp(-u / 2) / (1 + sp.exp(-u))
    b = 1 / (2 * sp.cosh(u / 2))
    same = vanishes((a - b).rewrite(sp.exp))
    return bool(same and vanishes(sp.integrate(b, (u, -sp.oo, sp.oo)) - sp.pi))


def check_rf_far_limit() -> bool:
    """The reverse-Fisher integrand at w = (1, 0, ..., 0): 2 (w_1 v + w_1 (y - c_1) h_1) -> 2 c_1,
    the other blocks -> 0, and grad_y |v|^2 -> 0 (n = 2, 3; d = 1, 2)."""
    for n, d in ((2, 1), (3, 2)):
        m = SoftmaxModel(n, d)
        at = {m.w[0]: 1, **{w: 0 for w in m.w[1:]}}
        for k in range(d):
            if sp.expand(dv2_dc(m, 0)[k].subs(at) - 2 * m.c[0][k]) != 0:
                return False
            if any(sp.expand(dv2_dc(m, i)[k].subs(at)) != 0 for i in range(1, n)):
                return False
            if sp.expand(grad_y_v2(m)[k].subs(at)) != 0:
                return False
    return True


def derive(spot_check: bool = True, digits: int = 30) -> Derivation:
    t0 = time.perf_counter()
    steps: list[Step] = []
    S = sp.Symbol
    ok, where = _on(check_em_gradient, ((2, 1), (2, 2), (3, 1)))
    steps.append(Step(
        "Gradient EM: the pointwise gradient of $-\\log \\frac1n\\sum_j e^{a_j}$ is $-w_i (y - c_i)$, "
        "so $\\nabla_{c_i} K = -\\mathbb{E}[w_i (y - c_i)]$ and GD on $K$ is the gradient-EM update.",
        S("grad_{c_i} K = -E[w_i (y - c_i)]"), "symbolic-zero", ok, where + "; exact softmax"))
    ok, where = _on(check_em_forms)
    steps.append(Step(
        "The two forms of $K$: $K = |c_r|^2/2 + \\log n - \\mathbb{E}[\\log\\sum_j e^{a_j - a_r}]$ "
        "$= \\overline{|c|^2}/2 - \\mathbb{E}[\\log \\mathrm{mean}_j e^{a_j - \\bar a}]$, from "
        "$\\mathbb{E}[a_j] = -|c_j|^2/2$.",
        S("E[a_j] = -|c_j|^2/2"), "pointwise+lemma:gaussian-moments", ok, where))
    ok, where = _on(check_dv2)
    steps.append(Step(
        "$\\nabla_{c_i} |v|^2 = 2 (w_i v + w_i (y - c_i) h_i)$, $h_i = \\langle c_i - v, v\\rangle$.",
        S("grad_{c_i} |v|^2 = 2 (w_i v + w_i (y - c_i) h_i)"), "symbolic-zero", ok, where))
    ok, where = _on(check_rf_product_rule, ((2, 1), (2, 2), (3, 1)))
    steps.append(Step(
        "Reverse Fisher through the sampling distribution: $R = \\mathbb{E}_\\phi[L |v|^2]$, "
        "$L = \\frac1n\\sum_j e^{a_j}$; the product rule gives the score term $\\frac1n e^{a_i} "
        "(y - c_i)|v|^2$ plus $L\\,\\nabla_{c_i}|v|^2$; the change of variables $y = c_i + z$ turns "
        "$\\mathbb{E}_\\phi[\\frac1n e^{a_i} g]$ into $\\frac1n\\mathbb{E}_z[g(c_i + z)]$.",
        S("grad_{c_i} R = (1/n) E_z[z |v(c_i+z)|^2] + E_{p_c}[grad_{c_i}|v|^2]"),
        "pointwise+lemma:change-of-variables", ok, where + "; exact softmax"))
    ok, where = _on(check_grad_y)
    steps.append(Step(
        "Pathwise form: $\\nabla_y |v|^2 = 2\\sum_l w_l h_l c_l$ and $\\sum_l w_l h_l = 0$; Stein's "
        "lemma under $N(c_i, I)$ turns $\\mathbb{E}_z[z |v|^2]$ into $\\mathbb{E}_z[2\\sum_l w_l h_l "
        "(c_l - c_r)]$.",
        S("grad_y |v|^2 = 2 sum_l w_l h_l (c_l - c_r)"), "pointwise+lemma:stein", ok, where))
    ok, where = _on(check_time_chain, ((2, 1), (2, 2)))
    steps.append(Step(
        "Time average: $\\nabla_c F(e^{-t} c) = e^{-t} (\\nabla F)(e^{-t} c)$, integrated against "
        "$\\lambda(t)$.", S("grad T = int lambda(t) e^{-t} (grad F)(e^{-t} c) dt"), "symbolic-zero",
        ok, where))
    from proofs.em_link import SMALL_SIZES
    ok = all(check_split(SoftmaxModel(n, d)) for n, d in SMALL_SIZES)
    steps.append(Step(
        "Near the target: $\\nabla_{c_i} F - 2\\nabla_{c_i} K = \\nabla_{c_i} F + 2\\,\\mathrm{EM}_i "
        "= 2\\mathbb{E}[w_i B_i] = O(s^3)$ at $c = s u$ (derivation em-link).",
        S("grad F - 2 grad K = 2 E[w_i B_i] = O(s^3)"), "symbolic-zero", ok,
        "n, d in " + ", ".join(f"({n},{d})" for n, d in SMALL_SIZES)))
    ok = check_em_far_integral()
    steps.append(Step(
        "Far drift of gradient EM: one mean at $c_1 = r e$, the other $n - 1$ at the target. With "
        r"$y = (r/2 + \log(n-1)/r + x) e + \dots$ the weight is $\sigma(r x)$ and the density "
        r"$\phi(r/2)(n-1)^{-1/2} e^{-r x/2}(1 + O(1/r^2))$; with $u = r x$, $\mathbb{E}[w_1 (y - c_1)] "
        r"= -\frac{\phi(r/2)}{2\sqrt{n-1}} \int \sigma(u) e^{-u/2} du\,(1 + O(r^{-2}))$ and "
        r"$\int \sigma(u) e^{-u/2} du = \int \frac{du}{2\cosh(u/2)} = \pi$: the far mean comes "
        r"back, $\Delta r = -\eta \frac{\pi}{2\sqrt{n-1}} \phi(r/2)$ per step.",
        S("E[w_1 (y - c_1)] = -(pi/2) phi(r/2) / sqrt(n-1) (1 + O(1/r^2))"), "symbolic-limit", ok,
        "the integral by SymPy; the expansion checked numerically in the spot check"))
    ok = check_rf_far_limit()
    steps.append(Step(
        "Far drift of reverse Fisher: under the far mean's own measure $y = c_1 + z$, "
        r"$w_1 \to 1$, $v \to c_1$, $h_1 \to 0$ up to $O(e^{-r^2/8})$, and its pathwise term "
        r"vanishes with $h$; so $\nabla_{c_1} R = \frac{2}{n} c_1 (1 + O(e^{-r^2/8}))$: the far mean "
        r"returns geometrically, $r \leftarrow r (1 - 2\eta/n)$.",
        S("grad_{c_1} R -> (2/n) c_1"), "symbolic-limit", ok, "w_1 -> 1 limit of the integrand"))
    t1 = time.perf_counter()
    der = Derivation(NAME, STATEMENT, steps, S("GD on K = gradient EM; grad R in two equal forms"))
    der.spot_check = run_spot_check(digits) if spot_check else {"skipped": "not requested",
                                                               "passed": False}
    der.runtime_s = {"symbolic": t1 - t0, "spot_check": time.perf_counter() - t1}
    return der


# ---- numeric spot check (d = 1, own quadrature) ----------------------------------------------

SPOT_CONFIGS = ((("0.7", "-0.4", "1.3"), False), (("2.5", "0.2"), True))  # (c, with the time average)
FD_H = "1e-9"
SPOT_DPS = 34
T_NODES = 16


def _ties(c):
    """Tie points of the logits y c_i - c_i^2/2 (d = 1): y = (c_i + c_j)/2."""
    return [(a + b) / 2 for i, a in enumerate(c) for b in c[i + 1:]]


def objective_values_1d(ctx, c, t_range=(0, 1), with_t: bool = True):
    """(K, R, T) at d = 1 by tanh-sinh: K from the log-mixture ratio, R as (1/n) sum_j of
    E_z |v(c_j + z)|^2, T by Gauss-Legendre 40 in t over F(e^{-t} c)."""
    n = len(c)

    def v(y, cc):
        w = numeric.softmax(ctx, [y * ci - ci * ci / 2 for ci in cc])
        return ctx.fsum(wi * ci for wi, ci in zip(w, cc))

    def lmr(y):
        a = [y * ci - ci * ci / 2 for ci in c]
        top = max(a)
        return top + ctx.log(ctx.fsum(ctx.exp(x - top) for x in a) / n)

    K, _ = numeric.expect_1d(ctx, lambda y: -lmr(y), _ties(c))
    R = ctx.fsum(numeric.expect_1d(ctx, lambda z, cj=cj: v(cj + z, c) ** 2,
                                   [p - cj for p in _ties(c)])[0] for cj in c) / n
    if not with_t:
        return K, R, None
    x, w = ctx.gauss_quadrature(T_NODES, "legendre")
    t0, t1 = (ctx.mpf(t) for t in t_range)
    T = 0
    for xi, wi in zip(x, w):
        t = (t0 + t1) / 2 + (t1 - t0) / 2 * xi
        s = ctx.exp(-t)
        cs = [s * ci for ci in c]
        T += wi / 2 * numeric.expect_1d(ctx, lambda y: v(y, cs) ** 2, _ties(cs))[0]
    return K, R, T


def derived_gradients_1d(ctx, c, t_range=(0, 1), with_t: bool = True):
    """(grad K, grad R pathwise, grad R score, grad T) at d = 1 from the derived integrands,
    compiled from SymPy, by the same tanh-sinh quadrature."""
    n = len(c)
    m = SoftmaxModel(n, 1)
    args = m.w + [row[0] for row in m.c] + m.y
    gK = [numeric.compile_mp(args, em_gradient_integrand(m, i)[0], ctx) for i in range(n)]
    dv = [numeric.compile_mp(args, dv2_dc(m, i)[0], ctx) for i in range(n)]
    gy = numeric.compile_mp(args, grad_y_v2(m)[0], ctx)
    v2 = numeric.compile_mp(args, dot(m.v, m.v), ctx)

    def at(cc, y):
        w = numeric.weights(ctx, [[x] for x in cc], [y])
        return list(w) + list(cc) + [y]

    gradK = [numeric.expect_1d(ctx, lambda y, i=i: gK[i](*at(c, y)), _ties(c))[0] for i in range(n)]
    path, score = [], []
    for i in range(n):
        tot = 0
        for cj in c:
            tot += numeric.expect_1d(ctx, lambda z, cj=cj: dv[i](*at(c, cj + z)),
                                     [p - cj for p in _ties(c)])[0]
        pw = numeric.expect_1d(ctx, lambda z, i=i: gy(*at(c, c[i] + z)), [p - c[i] for p in _ties(c)])[0]
        sc = numeric.expect_1d(ctx, lambda z, i=i: z * v2(*at(c, c[i] + z)), [p - c[i] for p in _ties(c)])[0]
        path.append((tot + pw) / n)
        score.append((tot + sc) / n)
    if not with_t:
        return gradK, path, score, None
    x, w = ctx.gauss_quadrature(T_NODES, "legendre")
    t0, t1 = (ctx.mpf(t) for t in t_range)
    gT = [0] * n
    dF = [numeric.compile_mp(args, dv2_dc(m, i)[0], ctx) for i in range(n)]
    for xi, wi in zip(x, w):
        t = (t0 + t1) / 2 + (t1 - t0) / 2 * xi
        s = ctx.exp(-t)
        cs = [s * ci for ci in c]
        for i in range(n):
            gT[i] += wi / 2 * s * numeric.expect_1d(ctx, lambda y, i=i: dF[i](*at(cs, y)), _ties(cs))[0]
    return gradK, path, score, gT


def run_spot_check(digits: int = 30) -> dict:
    ctx = numeric.context(SPOT_DPS)
    hstep = ctx.mpf(FD_H)
    points, worst = [], float("inf")
    for cfg, with_t in SPOT_CONFIGS:
        c = [ctx.mpf(x) for x in cfg]
        gK, gRp, gRs, gT = derived_gradients_1d(ctx, c, with_t=with_t)
        fd = [[], [], []]
        for i in range(len(c)):
            up = list(c)
            dn = list(c)
            up[i] += hstep
            dn[i] -= hstep
            vu = objective_values_1d(ctx, up, with_t=with_t)
            vd = objective_values_1d(ctx, dn, with_t=with_t)
            for q in range(3 if with_t else 2):
                fd[q].append((vu[q] - vd[q]) / (2 * hstep))
        pairs = [("grad K (gradient EM) vs finite differences", gK, fd[0]),
                 ("grad R pathwise vs finite differences", gRp, fd[1]),
                 ("grad R score form vs finite differences", gRs, fd[1])]
        if with_t:
            pairs.append(("grad T vs finite differences", gT, fd[2]))
        for label, mine, theirs in pairs:
            agree = numeric.agreement_digits(ctx, mine, theirs)
            worst = min(worst, agree)
            points.append({"c": list(cfg), "quantity": label, "digits": round(agree, 1)})
    need = 15   # central differences: error O(h^2) = 1e-18 times the third derivative
    return {"points": points, "dps": ctx.dps, "digits": worst, "required_digits": need,
            "passed": worst >= need,
            "note": f"central differences with h = {FD_H} at {SPOT_DPS} digits (error O(h^2)); own "
                    "tanh-sinh quadrature split at the tie points; the time average by "
                    f"Gauss-Legendre {T_NODES} in t."}
