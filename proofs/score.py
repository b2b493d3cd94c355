"""Derivation `score` (SPEC §2 "Student", "Loss", "Centred coordinates"; claim `score`).

1. -|x - mu_i|^2/2 = -|x|^2/2 + a_i(x), a_i = <x, mu_i> - |mu_i|^2/2;
2. grad log (1/n) sum_i N(x; mu_i, I) = sum_i w_i mu_i - x with w = softmax(a);
3. the Ornstein-Uhlenbeck marginal of N(m*, I): mean e^{-t} m*, covariance I (and the density
   solves the Fokker-Planck equation of dX = -X dt + sqrt(2) dW); target score mu* - x;
4. centring c_i = mu_i - mu*, y = x - mu*: the logits change by a term common to all i, so
   L_t = E|sum_i w_i mu_i - mu*|^2 = F(c);
5. denoising score matching: E|s(x_t) - grad log p(x_t | x_0)|^2 = L_t + d e^{-2t}/(1 - e^{-2t}).
"""
from __future__ import annotations

import time

import sympy as sp

from proofs import numeric
from proofs.base import Derivation, Expect, Grad, Notation as N, Sq, Step, eq, vanishes
from proofs.symbolic import dot

NAME = "score"
STATEMENT = (
    "The student score $\\sum_i w_i \\mu_i - x$, with $w$ the softmax of "
    "$\\langle x, \\mu_i\\rangle - |\\mu_i|^2/2$, is exactly the score of the equal-weight "
    "identity-covariance mixture $\\frac{1}{n}\\sum_i \\mathcal{N}(\\mu_i, I)$; the noised target "
    "stays $\\mathcal{N}(e^{-t} m^*, I)$; in centred coordinates the population score-matching loss "
    "is $F(c) = \\mathbb{E}|v|^2$; and the denoising loss differs from it by a constant that does "
    "not depend on the parameters.")

SIZES = ((2, 1), (2, 2), (3, 1), (3, 2))
t = sp.Symbol("t", positive=True)


class Mixture:
    """Symbols for one (n, d): means mu_i, point x; P_i stands for exp(-|x - mu_i|^2/2)."""

    def __init__(self, n: int, d: int):
        self.n, self.d = n, d
        self.mu = [[sp.Symbol(f"mu{i + 1}{k + 1}", real=True) for k in range(d)] for i in range(n)]
        self.x = [sp.Symbol(f"x{k + 1}", real=True) for k in range(d)]
        self.P = [sp.Symbol(f"P{i + 1}", positive=True) for i in range(n)]
        self.E = [sp.Symbol(f"E{i + 1}", positive=True) for i in range(n)]
        self.G = sp.Symbol("G", positive=True)   # exp(-|x|^2/2)

    def exponent(self, i):
        return -dot([a - b for a, b in zip(self.x, self.mu[i])], [a - b for a, b in zip(self.x, self.mu[i])]) / 2

    def logit(self, i):
        return dot(self.x, self.mu[i]) - dot(self.mu[i], self.mu[i]) / 2

    def d_x(self, expr, k):
        """d/dx_k with dP_i/dx_k = P_i d(exponent_i)/dx_k (derivative of exp)."""
        out = sp.diff(expr, self.x[k])
        for i, P in enumerate(self.P):
            out += sp.diff(expr, P) * P * sp.diff(self.exponent(i), self.x[k])
        return out


def check_exponent(mx: Mixture) -> bool:
    return all(sp.expand(mx.exponent(i) - (-dot(mx.x, mx.x) / 2 + mx.logit(i))) == 0 for i in range(mx.n))


def check_score(mx: Mixture, claimed=None) -> bool:
    """grad log sum_i P_i, with P_i = G E_i (step 1), equals sum_i w_i mu_i - x, w_i = E_i/sum E."""
    total = sp.Add(*mx.P)
    sub = {P: mx.G * E for P, E in zip(mx.P, mx.E)}
    wsum = sp.Add(*mx.E)
    for k in range(mx.d):
        lhs = (mx.d_x(total, k) / total).subs(sub)
        rhs = claimed(mx, k) if claimed else sp.Add(*[E * mu[k] for E, mu in zip(mx.E, mx.mu)]) / wsum - mx.x[k]
        num, _ = sp.fraction(sp.together(lhs - rhs))
        if sp.expand(num) != 0:
            return False
    return True


def check_ou_moments() -> bool:
    """X_t = e^{-t} X_0 + sqrt(1 - e^{-2t}) Z, X_0 ~ N(m*, 1), Z ~ N(0, 1) independent (per coordinate)."""
    m = sp.Symbol("m", real=True)
    a, b = sp.exp(-t), sp.sqrt(1 - sp.exp(-2 * t))
    mean = a * m
    var = a ** 2 * 1 + b ** 2 * 1
    return vanishes(mean - sp.exp(-t) * m) and vanishes(var - 1)


def check_fokker_planck(d: int = 2) -> bool:
    """q_t = N(e^{-t} m*, I_d) solves d_t q = div(x q) + Laplacian q (generator of dX = -X dt + sqrt 2 dW)."""
    x = sp.symbols(f"x1:{d + 1}", real=True)
    m = sp.symbols(f"m1:{d + 1}", real=True)
    q = sp.exp(-sum((xi - sp.exp(-t) * mi) ** 2 for xi, mi in zip(x, m)) / 2)
    res = sp.diff(q, t) - sum(sp.diff(xi * q, xi) + sp.diff(q, xi, 2) for xi in x)
    return vanishes(res / q)


def check_target_score(d: int = 2) -> bool:
    x = sp.symbols(f"x1:{d + 1}", real=True)
    mu = sp.symbols(f"m1:{d + 1}", real=True)
    logq = -sum((xi - mi) ** 2 for xi, mi in zip(x, mu)) / 2
    return all(sp.expand(sp.diff(logq, xi) - (mi - xi)) == 0 for xi, mi in zip(x, mu))


def check_centring(n: int = 3, d: int = 2) -> bool:
    """Logits in (x, mu) minus logits in (y, c) = <y, mu*> + |mu*|^2/2 for every i (common shift),
    and sum_i w_i mu_i - mu* = sum_i w_i c_i when sum_i w_i = 1."""
    mx = Mixture(n, d)
    ms = [sp.Symbol(f"ms{k + 1}", real=True) for k in range(d)]
    y = [sp.Symbol(f"y{k + 1}", real=True) for k in range(d)]
    c = [[sp.Symbol(f"c{i + 1}{k + 1}", real=True) for k in range(d)] for i in range(n)]
    sub = {**{mx.x[k]: y[k] + ms[k] for k in range(d)},
           **{mx.mu[i][k]: c[i][k] + ms[k] for i in range(n) for k in range(d)}}
    shift = dot(y, ms) + dot(ms, ms) / 2
    ok = all(sp.expand(mx.logit(i).subs(sub) - (dot(y, c[i]) - dot(c[i], c[i]) / 2) - shift) == 0
             for i in range(n))
    w = sp.symbols(f"w1:{n + 1}", positive=True)
    on_simplex = {w[-1]: 1 - sum(w[:-1])}
    for k in range(d):
        lhs = sum(w[i] * mx.mu[i][k] for i in range(n)).subs(sub) - ms[k]
        ok &= sp.expand((lhs - sum(w[i] * c[i][k] for i in range(n))).subs(on_simplex)) == 0
    return bool(ok)


def check_dsm_pointwise() -> bool:
    """|s - g_c|^2 - |s - g_m|^2 = -2 <s, g_c - g_m> + |g_c|^2 - |g_m|^2 (vectors in R^2)."""
    S = sp.symbols("s1:3", real=True)
    gc = sp.symbols("gc1:3", real=True)
    gm = sp.symbols("gm1:3", real=True)
    lhs = sum((a - b) ** 2 for a, b in zip(S, gc)) - sum((a - b) ** 2 for a, b in zip(S, gm))
    rhs = -2 * sum(a * (b - c) for a, b, c in zip(S, gc, gm)) + sum(b ** 2 for b in gc) - sum(c ** 2 for c in gm)
    return sp.expand(lhs - rhs) == 0


def check_dsm_conditioning() -> bool:
    """Per coordinate: Cov(z, x_t) = sigma_t, Var(x_t) = 1, so E[z | x_t] = sigma_t (x_t - e^{-t} m*)
    and E[-z/sigma_t | x_t] = -(x_t - mu*) = the target score; sigma_t^2 = 1 - e^{-2t}."""
    sig = sp.sqrt(1 - sp.exp(-2 * t))
    cov_z_x = sig * 1            # Cov(z, e^{-t} x0 + sig z) = sig Var(z)
    var_x = sp.exp(-2 * t) + sig ** 2
    xt, m = sp.symbols("x_t m", real=True)
    cond_mean_z = cov_z_x / var_x * (xt - sp.exp(-t) * m)
    return vanishes(var_x - 1) and vanishes(-cond_mean_z / sig - (sp.exp(-t) * m - xt))


def dsm_constant(d):
    """E|g_c|^2 - E|g_m|^2 = d / sigma_t^2 - d."""
    return d / (1 - sp.exp(-2 * t)) - d


def check_dsm_constant() -> bool:
    d = sp.Symbol("d", positive=True)
    return vanishes(dsm_constant(d) - d * sp.exp(-2 * t) / (1 - sp.exp(-2 * t)))


# ---- display -------------------------------------------------------------------------------

def _display():
    i, j, n, d = N.i, N.j, N.n, N.d
    x = sp.Symbol("x")
    mu, w, a = sp.IndexedBase(r"\mu"), N.w, N.a
    mstar, mus = sp.Symbol("m^{*}"), sp.Symbol(r"\mu^{*}")
    p = sp.Function("p")
    sig2 = 1 - sp.exp(-2 * t)
    st = sp.Function("s")(x)
    xt, x0, zz = sp.Symbol("x_t"), sp.Symbol("x_0"), sp.Symbol("z")
    return {
        "exponent": eq(-Sq(x - mu[i]) / 2, -Sq(x) / 2 + a[i]),
        "score": eq(Grad(sp.log(p(x)), x), N.sum_j(w[j] * mu[j]) - x),
        "ou": [eq(sp.Symbol("X_t"), sp.exp(-t) * sp.Symbol("X_0") + sp.sqrt(sig2) * zz),
               eq(sp.Symbol(r"\operatorname{Cov} X_t"), sp.exp(-2 * t) + sig2),
               eq(sp.Symbol(r"\partial_{t} q_{t}"), sp.Symbol(r"\operatorname{div}(x q_t) + \Delta q_t"))],
        "target": eq(Grad(sp.log(sp.Function("q_t")(x)), x), mus - x),
        "centring": eq(N.sum_j(w[j] * mu[j]) - mus, N.v),
        "loss": eq(sp.Symbol("L_t"), Expect(Sq(N.v))),
        "dsm": eq(Expect(Sq(st + zz / sp.sqrt(sig2))),
                  sp.Symbol("L_t") + d * sp.exp(-2 * t) / sig2),
        "final": [eq(Grad(sp.log(p(x)), x), N.sum_j(w[j] * mu[j]) - x), eq(sp.Symbol("L_t"), sp.Symbol("F(c)"))],
    }


def derive(spot_check: bool = True, digits: int = 30) -> Derivation:
    t0 = time.perf_counter()
    disp = _display()
    steps: list[Step] = []
    where = "n, d in " + ", ".join(f"({n},{d})" for n, d in SIZES)

    steps.append(Step(
        "Complete the square in each Gaussian exponent: the $-|x|^2/2$ part is common to all "
        "components.", disp["exponent"], "symbolic-zero",
        all(check_exponent(Mixture(n, d)) for n, d in SIZES), where))

    steps.append(Step(
        "Differentiate $\\log \\frac{1}{n}\\sum_i (2\\pi)^{-d/2} e^{-|x-\\mu_i|^2/2}$; after "
        "cancelling the common factor $e^{-|x|^2/2}$ the weights are the softmax of the logits "
        "$a_i$: the student score of SPEC section 2 is the mixture's score.",
        disp["score"], "symbolic-zero", all(check_score(Mixture(n, d)) for n, d in SIZES), where))

    steps.append(Step(
        "Ornstein-Uhlenbeck marginal: $X_t = e^{-t} X_0 + \\sqrt{1-e^{-2t}} Z$ with independent "
        "Gaussians is Gaussian with mean $e^{-t} m^*$ and covariance $e^{-2t} + (1 - e^{-2t}) = 1$ "
        "per coordinate; its density solves the Fokker-Planck equation of $dX = -X dt + \\sqrt 2 dW$.",
        disp["ou"], "pointwise+lemma:gaussian-closure",
        check_ou_moments() and check_fokker_planck(2), "moments; Fokker-Planck residual for d = 2"))

    steps.append(Step(
        "Target score of $\\mathcal{N}(\\mu^*, I)$, $\\mu^* = e^{-t} m^*$.", disp["target"],
        "symbolic-zero", check_target_score(2), "d = 2"))

    steps.append(Step(
        "Centre: $c_i = \\mu_i - \\mu^*$, $y = x - \\mu^*$ shifts every logit by the same "
        "$\\langle y, \\mu^*\\rangle + |\\mu^*|^2/2$ (so $w$ is unchanged), and "
        "$\\sum_i w_i \\mu_i - \\mu^* = v$; with $y \\sim \\mathcal{N}(0, I)$ the loss is $F(c)$.",
        [disp["centring"], disp["loss"]], "symbolic-zero", check_centring(3, 2), "n, d = 3, 2"))

    steps.append(Step(
        "Denoising form: pointwise $|s - g_c|^2 - |s - g_m|^2 = -2\\langle s, g_c - g_m\\rangle + "
        "|g_c|^2 - |g_m|^2$ with $g_c = -z/\\sigma_t$ the conditional score and $g_m = \\mu^* - x_t$; "
        "Gaussian conditioning gives $\\mathbb{E}[g_c \\mid x_t] = g_m$, so the cross term has "
        "mean 0 (tower property) and the difference is the constant "
        "$d/\\sigma_t^2 - d = d e^{-2t}/(1 - e^{-2t})$: same minimisers, same gradient.  (The noise-"
        "prediction form $\\mathbb{E}|\\epsilon_\\theta - z|^2$ with $\\epsilon_\\theta = -\\sigma_t s$ "
        "is $\\sigma_t^2$ times this: its gradient is scaled by $\\sigma_t^2$.)",
        disp["dsm"], "pointwise+lemma:gaussian-conditioning",
        check_dsm_pointwise() and check_dsm_conditioning() and check_dsm_constant(),
        "pointwise identity in R^2; conditional mean and the constant symbolic"))

    t1 = time.perf_counter()
    der = Derivation(NAME, STATEMENT, steps, disp["final"])
    der.spot_check = run_spot_check(digits) if spot_check else {"skipped": "not requested",
                                                               "passed": False}
    der.runtime_s = {"symbolic": t1 - t0, "spot_check": time.perf_counter() - t1}
    return der


# ---- numeric spot check ---------------------------------------------------------------------

def run_spot_check(digits: int = 30) -> dict:
    """(a) The mixture's score by numerical differentiation of log p (mpmath.diff in a private
    context) against sum_i w_i mu_i - x with the numeric core's pointwise weights, at 3 random
    (mu, x).  (b) d = 1, n = 2: the denoising loss by a 2-D Gauss-Hermite rule in (x_0, z) minus
    the numeric core's F(c) against the constant e^{-2t}/(1 - e^{-2t})."""
    model, reason = numeric.load_model()
    if model is None:
        return {"skipped": reason, "passed": False}
    ctx = numeric.context(digits + 15)
    points, worst = [], float("inf")
    for n, d, seed in ((3, 2, 31), (2, 3, 32), (4, 1, 33)):
        mu = numeric.as_input(ctx, numeric.random_config(n, d, 1.5, seed))
        x = numeric.as_input(ctx, numeric.random_config(1, d, 2.0, seed + 100))[0]
        mum = [[ctx.mpf(v) for v in row] for row in mu]
        xm = [ctx.mpf(v) for v in x]

        def logp(*xs):
            return ctx.log(ctx.fsum(ctx.exp(-ctx.fsum((a - b) ** 2 for a, b in zip(xs, row)) / 2)
                                    for row in mum))

        num = [ctx.diff(logp, xm, tuple(1 if j == k else 0 for j in range(d))) for k in range(d)]
        w = model.weights(mu, x, dps=ctx.dps)
        theirs = [ctx.fsum(ctx.mpf(w[i]) * mum[i][k] for i in range(n)) - xm[k] for k in range(d)]
        agree = numeric.agreement_digits(ctx, num, theirs)
        worst = min(worst, agree)
        points.append({"mu": mu, "x": x, "quantity": "score: mpmath.diff of log p vs model.weights",
                       "digits": round(agree, 1)})

    # (b) the denoising constant, d = 1, n = 2, small means so the product rule converges fast
    tt, mstar = ctx.mpf("0.7"), ctx.mpf("0.3")
    m_clean = [ctx.mpf("0.55"), ctx.mpf("-0.2")]
    a, sig = ctx.exp(-tt), ctx.sqrt(1 - ctx.exp(-2 * tt))
    mus = [a * m for m in m_clean]

    def student_score(xv):
        w = numeric.weights(ctx, [[m] for m in mus], [xv])
        return ctx.fsum(wi * m for wi, m in zip(w, mus)) - xv

    def dsm(x0, zz):   # x0 standard normal: X_0 = m* + x0
        xt = a * (mstar + x0) + sig * zz
        return (student_score(xt) + zz / sig) ** 2

    val, err = numeric.expect_2d(ctx, dsm, orders=(40, 56))
    c = numeric.as_input(ctx, [[m - a * mstar] for m in mus])
    Fm = model.F(c, digits=digits)
    const = ctx.exp(-2 * tt) / (1 - ctx.exp(-2 * tt))
    agree = numeric.agreement_digits(ctx, val - ctx.mpf(Fm.value), const)
    worst = min(worst, agree)
    points.append({"t": "0.7", "m_star": "0.3", "m": ["0.55", "-0.2"],
                   "quantity": "DSM loss - F(c) vs d e^{-2t}/(1-e^{-2t})", "digits": round(agree, 1),
                   "my_error": ctx.nstr(err, 3)})
    return {"points": points, "dps": ctx.dps, "digits": worst, "required_digits": digits - 2,
            "passed": worst >= digits - 2,
            "note": "score by numerical differentiation; denoising constant by a 2-D product rule."}
