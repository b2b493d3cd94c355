"""Tests of verify.certify (Arb enclosures) against the mpmath engine, its closed-form integrand
against the generic series averaged over the Gauss-Hermite points, mutants whose enclosures must
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


# ---- the closed-form integrand against the Gauss-Hermite average of the generic series ----------

def _reference(n, d, s, u, order, z):
    """E_perp[k_order](z) the slow way: _coefficients (generic series arithmetic over the grouped
    rows) averaged over the 2-point Gauss-Hermite product rule y_j = +-1 (exact for degree <= 3)."""
    from flint import acb
    rows, mult = certify._groups(u)
    ng = len(rows) - 2
    ua = [[(certify._exact(x) if x != 0 else 0) for x in row] for row in rows]
    sa = acb(s)
    w = certify._weights(sa, z, n, ng)
    c1 = [certify._exact(s), -certify._exact(s)] + [0] * ng
    pts = certify._offaxis_points(u, d)
    tot = acb(0)
    for p in pts:
        y = [z] + [acb(x) for x in p[1:]]
        tot += certify._coefficients(w, c1, ua, y, acb(1), acb(arb(1) / 2), mult)[order]
    return tot / len(pts), w


def _series_vs_reference(n, d, s, u, order, zs, prec=200):
    """Both enclosures contain the same number: they overlap, and at exact nodes (radius 0) they
    agree to the working precision (so an overlap is not a blanket of two wide balls)."""
    from flint import acb
    with fctx.workprec(prec):
        f = certify._series(certify._exact(s), u, order)
        for z in zs:
            ref, w = _reference(n, d, s, u, order, z)
            got = f(z, w[0], w[1], w[-1])
            assert got.overlaps(ref), (n, d, u, order, z, got, ref)
            if z.rad() == 0:
                scale = max(1.0, abs(float(ref.real.mid())))
                assert float(abs(got - ref).upper()) < scale * 2.0 ** (20 - prec)
                assert float(got.rad()) < scale * 2.0 ** (20 - prec)


def test_series_equals_gauss_hermite_reference():
    """Off-axis entries in rows 1, 2 and the rest (the corrections for E beta_i beta_j), repeated
    rows (groups), a rest group with e_1 entries, real and complex nodes, order 0, 1, 2."""
    from flint import acb
    F = Fraction
    zs = [acb("0.7"), acb("-2.25"), acb("3.5", "0.75"),
          acb(arb("-1.3", "1e-3"), arb("0.2", "1e-3"))]
    cases = [
        (3, 1, "2", [[1], [-1], [0]]),
        (5, 1, "1.25", [[F(1, 3)], [2], [-1], [-1], [F(5, 7)]]),
        (4, 2, "2.5", [[1, 2], [0, -1], [3, 1], [3, 1]]),
        (4, 3, "1.75", [[1, 2, F(1, 3)], [0, -1, 1], [3, 1, 0], [F(-1, 2), 0, 2]]),
        (6, 2, "3", [[0, 1], [0, -1], [0, 2], [0, 2], [0, -3], [0, 1]]),
        (3, 3, "0.9", [[0, 0, 0], [0, 0, 0], [1, -2, F(3, 2)]]),
    ]
    for n, d, s, u in cases:
        for order in (0, 1, 2):
            _series_vs_reference(n, d, s, u, order, zs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(3, 5), d=st.integers(1, 3), s=st.sampled_from(["0.75", "1.5", "2.25", "3"]),
       entries=st.lists(st.integers(-3, 3), min_size=15, max_size=15),
       z=st.sampled_from(["0", "1.1", "-4.5", "7"]))
def test_property_series_equals_reference(n, d, s, entries, z):
    from flint import acb
    u = [[Fraction(entries[i * d + k], 2) for k in range(d)] for i in range(n)]
    for order in (0, 1, 2):
        _series_vs_reference(n, d, s, u, order, [acb(z), acb(z, "0.5")], prec=96)


def test_series_with_ball_entries_and_ball_s():
    """arb entries of u (inexact ones in rows 1, 2: _groups hashes the other rows) and a ball s:
    the constants are balls, the result still overlaps."""
    from flint import acb
    with fctx.workprec(128):
        s = arb("2.5") + arb(0, arb("1e-20"))
        u = [[arb(1) / 3, arb("0.25")], [-1, arb(2) / 7], [0, arb("0.75")]]
        z = acb("1.25")
        for order in (0, 1, 2):
            ref, w = _reference(3, 2, s, u, order, z)
            got = certify._series(s, u, order)(z, w[0], w[1], w[-1])
            assert got.overlaps(ref) and float(got.rad()) < 1e-15


def test_integrand_real_and_complex_paths_agree():
    """directional's integrand computes real nodes in real balls and other points in complex
    balls (the integrator's error bounds): at z + 0i and at z + [+-1e-40]i (complex path) the two
    must agree, and both must be factor x the series x the Gaussian density (one reference)."""
    from flint import acb
    F = Fraction
    with fctx.workprec(160):
        for n, s, u, order in ((3, "2", [[1], [-1], [0]], 1),
                               (5, "1.25", [[1], [-1], [0], [0], [0]], 0),
                               (4, "2.5", [[1, 2], [0, -1], [3, 1], [F(1, 2), 0]], 2)):
            sb = certify._exact(s)
            f = certify._integrand(n, sb, u, order)
            for x in ("0.3", "-1.7", "4.25"):
                real = f(acb(x), False)
                cplx = f(acb(arb(x), arb(0, arb("1e-40"))), True)
                assert real.imag.is_zero() and not cplx.imag.is_zero()
                assert real.overlaps(cplx) and float(abs(real - cplx).upper()) < 1e-30
                ref, w = _reference(n, len(u[0]), sb, u, order, acb(x))
                phi = (-arb(x) ** 2 / 2).exp() / (2 * arb.pi()).sqrt()
                assert real.overlaps(ref * phi * (2 if order == 2 else 1))
                assert float(abs(real - ref * phi * (2 if order == 2 else 1)).upper()) < 1e-40


def test_memo_keys_on_n_s_and_precision():
    """certify_stationary's memo: one call per (n, exact s, prec), the precision passed through
    and part of the key (a 64-bit enclosure must not answer a 215-bit request); non-exact balls are
    always recomputed."""
    seen = []

    def fn(n, s, prec):
        seen.append((n, s, prec))
        return (n, s, prec, len(seen))

    g = certify._memo(fn)
    half = Fraction(1, 2)
    assert g(3, half, 64) == (3, half, 64, 1) and g(3, half, 64) == (3, half, 64, 1)
    assert g(3, half, 215) == (3, half, 215, 2)
    assert g(4, half, 64)[3] == 3
    assert g(3, arb(half.numerator) / half.denominator, 64)[3] == 4    # an exact ball: own key
    assert g(3, arb(half.numerator) / half.denominator, 64)[3] == 4
    ball = arb("0.5") + arb(0, arb("1e-10"))
    assert g(3, ball, 64)[3] == 5 and g(3, ball, 64)[3] == 6
    assert len(seen) == 6


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

    def wrong(s, z, n, groups, K=None):
        w = orig(s, z, n, groups, K)
        return w[:2] + [x * 2 for x in w[2:]]

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
    orig = certify._series

    def wrong(s, u, order):
        f = orig(s, u, order)
        return f if order != 2 else (lambda z, w0, w1, wk: f(z, w0, w1, wk) * (1 + arb(1) / 8))

    monkeypatch.setattr(certify, "_series", wrong)
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
    for n in c_thm3_1.TIERS["quick"]["ns"]:      # n = 3 since the quick tier runs one n
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

    def f(z):  # the softmax of the logits s z - s^2/2, -s z - s^2/2 and 0 (n - 2 times)
        e1, e2 = ctx.exp(s * z - s * s / 2), ctx.exp(-s * z - s * s / 2)
        w1, w2 = e1 / (e1 + e2 + n - 2), e2 / (e1 + e2 + n - 2)
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
