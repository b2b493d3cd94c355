"""Tests of verify.certify (Arb enclosures) against the mpmath engine, mutants whose enclosures must
fail, the claim records' certified assurance, and proofs.all_equal."""
from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
from flint import arb, ctx as fctx
from hypothesis import given, settings, strategies as st, HealthCheck

from verify import certify, model
from verify.claims import c_thm3_1

S3 = "2.550550988641223901198534664225517007544"   # s*(3), 40 digits (proofs.stationary)


def contains(ball: arb, value, err=0, dps=None) -> bool:
    """ball widened by err (the mpmath value's own error estimate) plus the rounding of the value
    at its working precision (dps digits, default: its context's) contains value."""
    dps = dps or getattr(getattr(value, "context", None), "dps", 15)
    with fctx.workprec(400):
        v = arb(mpmath.nstr(value, 110, strip_zeros=False))
        e = arb(mpmath.nstr(abs(err), 5)) if err else arb(0)
        e = e + abs(v) * arb(10) ** (2 - dps)
        return bool((ball + arb(0, e.abs_upper())).overlaps(v))


@pytest.fixture(scope="module")
def blocks3():
    """The closed-form expected Hessian blocks (A: e_1, B: off-axis) at s*(3), mpmath at 22 digits."""
    from proofs import hessian, numeric
    ctx = numeric.context(22)
    return (ctx,) + tuple(hessian.stationary_blocks(3, ctx.mpf(S3), ctx))


def config(s, n, d=1):
    c = [["0"] * d for _ in range(n)]
    c[0][0], c[1][0] = str(s), "-" + str(s)
    return c


# ---- enclosures contain the engine's values ---------------------------------------------------

def test_G_and_L_contain_mpmath():
    ctx = mpmath.MPContext()
    ctx.dps = 70
    for n, s in ((3, "2"), (5, "1.25"), (4, "3.5")):
        g, gerr = c_thm3_1.stationarity_G(ctx, ctx.mpf(s), n)   # own direct-form tanh-sinh integral
        G = certify.stationarity_G(n, s, 200)
        assert G.rad() < 1e-50 and contains(G, g, gerr)
        L, lerr = c_thm3_1.profile_L(ctx, ctx.mpf(s), n)
        Lb = certify.loss_L(n, s, 200)
        assert contains(Lb, L, lerr)


def test_F_and_directional_derivative_contain_core():
    """order 0 is F, order 1 is grad F . u (the core's direct-form gradient, a 2-D integral when
    u leaves the e_1 axis)."""
    n, d, s = 3, 2, "1.5"
    u = [[1, 2], [0, -1], [3, 1]]
    F = model.F(config(s, n, d), digits=30)
    g = model.grad_F(config(s, n, d), digits=30)
    dot = mpmath.fsum(mpmath.mpf(g.value[i][k]) * u[i][k] for i in range(n) for k in range(d))
    assert contains(certify.directional(n, d, s, u, 0, 128)[0], F.value, F.error)
    assert contains(certify.directional(n, d, s, u, 1, 128)[0], dot, 10 * g.max_error())


def test_curvature_contains_closed_form_hessian(blocks3):
    """u^T H u (series in t) against the closed-form expected Hessian of proofs.hessian (mpmath,
    a different formula and quadrature), on the e_1 block and on an off-axis block."""
    ctx, A, B, err = blocks3
    n = 3
    x = [Fraction(1), Fraction(-1, 2), Fraction(3, 4)]
    for blk, axis in ((A, 0), (B, 1)):
        q = ctx.fsum(x[i] * x[j] * blk[i][j] for i in range(n) for j in range(n))
        u = [[0, 0] for _ in range(n)]
        for i in range(n):
            u[i][axis] = x[i]
        ball = certify.curvature(n, 2, S3, u, 128)
        assert ball.rad() < 1e-20
        assert contains(ball, q, 10 * max(abs(e) for e in err) if isinstance(err, list) else 10 * err)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(3, 5), s=st.sampled_from(["0.75", "1.5", "2.25", "3"]),
       u=st.lists(st.integers(-2, 2), min_size=5, max_size=5))
def test_property_directional_contains_core(n, s, u):
    uu = [[x] for x in u[:n]]
    g = model.grad_F(config(s, n), digits=20)
    dot = mpmath.fsum(mpmath.mpf(g.value[i][0]) * uu[i][0] for i in range(n))
    assert contains(certify.directional(n, 1, s, uu, 1, 100)[0], dot, 10 * g.max_error())


# ---- thm3.1 certification -----------------------------------------------------------------------

def test_certify_stationary_n3_contains_s_star_and_core_loss():
    r = certify.certify_stationary(3, 40)
    assert r["certified"], r["reason"]
    s = r["s"]
    assert r["s_digits"] >= 40
    with fctx.workprec(300):
        assert s.overlaps(arb(S3) + arb(0, arb("1e-39")))
    lo, hi = r["bracket"]
    assert r["G_lo"] > 0 and r["G_hi"] < 0 and r["Gp_bracket"] < 0
    assert lo <= Fraction(5, 2) and hi >= Fraction(11, 4) - Fraction(1, 64)
    assert r["L"] > 0
    F = model.F(config(s.mid().str(60, radius=False), 3), digits=40)
    assert contains(r["L"], F.value, F.error)


def test_saddle_n3_signs_and_fd_spectrum():
    """Certified Rayleigh quotients are the extreme eigenvalues of the numeric Hessian (the claim's
    finite-difference classification found -0.33860492 and 2.0093225 at n = 3, d = 2)."""
    r = c_thm3_1.certified_point(3, 40, dims=(1, 2))
    assert r["certified"], r["reason"]
    rq = {(d, x["label"]): x["rayleigh"] for d, xs in r["saddle"].items() for x in xs}
    assert rq[(1, "negative")] < 0 and rq[(2, "positive")] > 0 and rq[(2, "negative off-axis")] < 0
    assert abs(float(rq[(1, "negative")].mid()) + 0.33860492) < 1e-7
    assert abs(float(rq[(2, "positive")].mid()) - 2.0093225) < 1e-6
    with fctx.workprec(300):
        for e in r["enclosures"]:
            assert arb(e.lo) <= arb(e.hi)


# ---- mutants ---------------------------------------------------------------------------------

def test_mutant_weights_fail(monkeypatch):
    """Logits without the -|c_i|^2/2 term (a wrong integrand): the certified s* must exclude the
    true s*(3), or the certification must fail."""
    orig = certify._weights

    def wrong(s, z, n, groups):
        return orig(s * 1, z, n, groups)[:2] + [w * 2 for w in orig(s, z, n, groups)[2:]]

    monkeypatch.setattr(certify, "_weights", wrong)
    r = certify.certify_stationary(3, 20)
    if r["certified"]:
        with fctx.workprec(300):
            assert not r["s"].overlaps(arb(S3))
    else:
        assert r["reason"]


def test_mutant_series_fails(monkeypatch, blocks3):
    """A wrong second-order coefficient (scaled by 1 + 1/8): the curvature enclosure excludes the
    closed-form Hessian's value, which the correct one contains."""
    q = blocks3[1][0][0]
    good = certify.curvature(3, 1, S3, [[1], [0], [0]], 100)
    assert contains(good, q, 1e-15)
    orig = certify._coefficients

    def wrong(w, c1, u, y, one, half, mult=None):
        k0, k1, k2 = orig(w, c1, u, y, one, half, mult)
        return k0, k1, k2 * (one + half * half * half)

    monkeypatch.setattr(certify, "_coefficients", wrong)
    bad = certify.curvature(3, 1, S3, [[1], [0], [0]], 100)
    assert not contains(bad, q, 1e-15)


# ---- interfaces, bad input, precision hygiene -------------------------------------------------

def test_bad_input():
    with pytest.raises(ValueError, match="n"):
        certify.directional(2, 1, 1, [[1], [1]], 0, 64)
    with pytest.raises(ValueError, match="order"):
        certify.directional(3, 1, 1, [[1], [0], [0]], 3, 64)
    with pytest.raises(ValueError, match="u"):
        certify.directional(3, 2, 1, [[1], [0], [0]], 2, 64)


def test_precision_restored_and_strings_outward():
    before = fctx.prec
    b = certify.loss_L(3, "2", 150)
    assert fctx.prec == before
    lo, hi = certify.enclosure_strings(b)
    with fctx.workprec(300):
        assert arb(lo) <= b and arb(hi) >= b
        assert float(arb(hi) - arb(lo)) < 1e-40


def test_bench_n2_matches_engine():
    r = certify.bench_acb_lossgrad_n2()
    assert r["digits"] >= 50
    c = certify.BENCH_N2["c"]
    F = model.F(c, digits=50)
    g = model.grad_F(c, digits=50)
    ctx = mpmath.MPContext()
    ctx.dps = 60
    assert abs(ctx.mpf(r["F"]) - ctx.mpf(F.value)) < ctx.mpf(10) ** -48
    for row_a, row_b in zip(r["grad"], g.value):
        for x, y in zip(row_a, row_b):
            assert abs(ctx.mpf(x) - ctx.mpf(y)) < ctx.mpf(10) ** -48


# ---- the exact all-equal identity -------------------------------------------------------------

def test_all_equal_symbolic_and_mutant():
    from proofs import all_equal as A
    import sympy as sp
    der = A.derive(spot_check=False)
    assert der.steps_passed
    # a mutant integrand (the 3|v|^2 v term of the Stein form with 2 instead of 3) must not pass
    w = sp.simplify(A.weight())
    v = sp.simplify(A.v_coord(w))
    good = sp.simplify(A.stein_integrand(w, v).doit())
    sq = A.inner(v, v).doit()
    bad = sp.simplify(good - 2 * w * sq * v)
    assert sp.simplify(bad - 2 * A.a[A.k] / A.n) != 0
    assert sp.simplify(A.contraction_factor() - (1 - A.eta / A.n)) != 0


# ---- the claim end to end -------------------------------------------------------------------

@pytest.mark.slow
def test_thm31_quick_is_certified():
    rec = c_thm3_1.check("quick")
    assert rec.verdict == "CONFIRMED" and rec.assurance == "certified", rec.reason
    names = [e.name for e in rec.enclosures]
    for n in (3, 4, 5):
        assert f"s* (n={n})" in names and f"L(s*) (n={n})" in names


@pytest.mark.slow
@pytest.mark.parametrize("n", range(6, 11))
def test_certified_point_large_n(n):
    r = c_thm3_1.certified_point(n, 40)
    assert r["certified"], r["reason"]
    F = model.F(config(r["stationary"]["s"].mid().str(50, radius=False), n), digits=40)
    assert contains(r["stationary"]["L"], F.value, F.error)


# ---- the Gaussian tail bound: enclosures with a short range must still contain the value ------

def test_tail_bound_covers_the_omitted_mass():
    """With the range cut at T = 3 the integrand's mass beyond |z| > 3 is ~1e-2, far above the
    integral's own radius: the enclosure contains mpmath's independent L(s) only because the tail
    bound is added, and that bound is at least the omitted mass computed directly."""
    ctx = mpmath.MPContext()
    ctx.dps = 30
    s, n, T = ctx.mpf(2), 3, 3
    L, lerr = c_thm3_1.profile_L(ctx, s, n)              # own tanh-sinh integral on the whole line
    ball, info = certify.directional(n, 1, "2", [[1], [-1], [0]], 0, 128, T=T)
    norm = 1 / ctx.sqrt(2 * ctx.pi)

    def f(z):
        w1, w2 = c_thm3_1._weights(ctx, s, z, n)
        return (s * (w1 - w2)) ** 2 * norm * ctx.exp(-z * z / 2)
    omitted = 2 * ctx.quad(f, [T, ctx.inf])                # f is even
    assert omitted > 1e-3                                  # the tail matters at this T
    # ... far more than the integral's own radius (the ball's radius without the tail bound)
    assert float(ball.rad() - info["tail"]) < float(omitted) / 100
    assert contains(ball, L, lerr)
    assert info["tail"] >= arb(mpmath.nstr(omitted, 20))
    # and it is a bound, not a blanket: within a factor 100 of the omitted mass here
    assert info["tail"] < 100 * arb(mpmath.nstr(omitted, 20))


def test_tail_bound_of_a_constant_against_the_gaussian_tail():
    """For |f| <= 1 the bound must cover P(|z| > T) = erfc(T/sqrt 2) (mpmath, independent)."""
    for T in (1, 2, 4, 8):
        b = certify._tail_bound(certify._Maj([arb(1)]), arb(T))
        exact = mpmath.erfc(mpmath.mpf(T) / mpmath.sqrt(2))
        assert b >= arb(mpmath.nstr(exact, 25)) and b < 3 * arb(mpmath.nstr(exact, 25))
