"""The numeric core against independent computations (issue 2): Monte Carlo in the full space,
a different quadrature (mpmath.quad on the unreduced integral), the other gradient form, central
finite differences at higher precision, and the float64 path against 50 digits."""
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import verify
from verify import model
from verify.precision import context
from verify.quadrature import InaccurateError


def _mc_loss(c, samples=400_000, seed=1):
    """Monte Carlo of E|v(y)|^2 in the full d-dimensional space, with its standard error."""
    rng = np.random.default_rng(seed)
    C = np.array(c, dtype=float)
    Y = rng.standard_normal((samples, C.shape[1]))
    L = Y @ C.T - 0.5 * (C * C).sum(axis=1)[None, :]
    L -= L.max(axis=1, keepdims=True)
    W = np.exp(L)
    W /= W.sum(axis=1, keepdims=True)
    V = W @ C
    f = (V * V).sum(axis=1)
    return f.mean(), f.std(ddof=1) / math.sqrt(samples)


@pytest.mark.parametrize("c", [
    [[0.3, 0.1, -0.2], [-0.2, 0.05, 0.1]],                    # overlapping, n=2, d=3
    [[2.0, 0.0, 1.0], [-1.5, 0.5, 0.0], [0.5, -2.0, 0.3]],    # separated, n=3, d=3
])
def test_loss_against_monte_carlo(c):
    est = model.F(c, 10)
    mean, se = _mc_loss(c)
    # 5 standard errors: a false alarm has probability ~6e-7
    assert abs(float(est.value) - mean) <= 5 * se + float(est.error)


@pytest.mark.parametrize("c", [
    [[0.4, -0.3], [-0.1, 0.35]],      # overlapping
    [[2.5, 1.0], [-1.5, -0.5]],       # separated: a sharp transition at the tie point
])
def test_loss_against_tanh_sinh_quadrature(c):
    """A different rule: mpmath.quad (tanh-sinh) on an independently written 1-D integrand.

    For n = 2 the weights depend on y only through u = <y, e>, e = (c2 - c1)/|c2 - c1|, and
    |v|^2 = |c1 + w2 (c2 - c1)|^2 with w2 = sigmoid(|c2 - c1| u + o)."""
    ctx = context(40)
    C = [[ctx.mpf(x) for x in r] for r in c]
    dv = [b - a for a, b in zip(C[0], C[1])]
    nd = ctx.sqrt(ctx.fsum(x * x for x in dv))
    o = -(ctx.fsum(a * b for a, b in zip(C[0], dv)) + nd * nd / 2)

    def f(u):
        w2 = 1 / (1 + ctx.exp(-(nd * u + o)))
        v = [a + w2 * b for a, b in zip(C[0], dv)]
        return ctx.fsum(x * x for x in v) * ctx.exp(-u * u / 2) / ctx.sqrt(2 * ctx.pi)

    ref, ref_err = ctx.quad(f, [-ctx.inf, -o / nd, ctx.inf], error=True)
    est = model.F(c, 25)
    assert ref_err < ctx.mpf(10) ** -30
    assert abs(est.value - ref) <= est.error + ref_err


def _unreduced_tensor_loss(c, order, ctx):
    """E|v|^2 by an order^d tensor Gauss-Hermite rule in the original coordinates."""
    x, w = ctx.gauss_quadrature(order, "hermite")
    x = [ctx.sqrt(2) * t for t in x]
    w = [t / ctx.sqrt(ctx.pi) for t in w]
    C = [[ctx.mpf(v) for v in ci] for ci in c]
    total = ctx.zero
    import itertools
    for idx in itertools.product(range(order), repeat=len(c[0])):
        y = [x[i] for i in idx]
        wt = ctx.fprod(w[i] for i in idx)
        ex = [ctx.exp(ctx.fsum(yj * cj for yj, cj in zip(y, ci)) - ctx.fsum(cj * cj for cj in ci) / 2)
              for ci in C]
        s = ctx.fsum(ex)
        v = [ctx.fsum(ex[i] * C[i][j] for i in range(len(C))) / s for j in range(len(c[0]))]
        total += wt * ctx.fsum(t * t for t in v)
    return total


def test_span_reduction_against_unreduced_tensor_rule():
    # n = 3 in d = 3 with a 2-D difference span: compare with a 3-D tensor Gauss-Hermite rule in
    # the original coordinates (no reduction at all), overlapping so the tensor rule converges;
    # the reference's own error is estimated by two orders (|r16 - r20| ~ 4e-19, the order-20
    # rule's error ~100x smaller at the observed rate), so the engine's 15 digits (multiprecision
    # path, which reduces the span with mpmath's eigsy) are checked to ~1e-18 of F ~ 0.1.
    c = [[0.2, 0.1, 0.3], [-0.1, 0.25, 0.3], [0.05, -0.2, 0.3]]
    digits = 15
    est = model.F(c, digits, backend="mpmath")
    ctx = context(30)
    r1 = _unreduced_tensor_loss(c, 16, ctx)
    r2 = _unreduced_tensor_loss(c, 20, ctx)
    ref_err = abs(r2 - r1)
    assert ref_err < ctx.mpf(10) ** -(digits + 2) * r2   # the reference outranks what it judges
    assert abs(est.value - r2) <= est.error + ref_err


# Separated in two directions at 20 digits needs a nested split rule of ~10^5 nodes in mpmath,
# beyond the engine's mpmath node budget (quadrature.MAX_NODES_MP): the engine refuses with
# InaccurateError instead of returning a value that misses its target.  The slow cases below
# record that limitation: they are expected to fail with exactly that error (strict, so they
# start failing -- and get promoted -- the day the engine handles them), and any other outcome,
# a wrong number above all, fails the test.  The fast tier checks that geometry on float64.
NODE_BUDGET = pytest.mark.xfail(raises=InaccurateError, strict=True,
                                reason="2-D separated geometry in mpmath exceeds MAX_NODES_MP")
@pytest.mark.parametrize("c,digits", [
    ([[0.3, 0.1], [-0.2, 0.05]], 20),
    ([[2.0, 0.0], [-2.0, 0.5]], 20),
    ([[1.5, 0.2], [-1.0, 1.0], [0.3, -1.2]], 10),
    pytest.param([[1.5, 0.2], [-1.0, 1.0], [0.3, -1.2]], 20, marks=[pytest.mark.slow, NODE_BUDGET]),
])
def test_direct_and_stein_forms_agree(c, digits):
    g1 = model.grad_F(c, digits, form="direct")
    g2 = model.grad_F(c, digits, form="stein")
    for r1, r2, e1, e2 in zip(g1.value, g2.value, g1.error, g2.error):
        for a, b, ea, eb in zip(r1, r2, e1, e2):
            assert abs(a - b) <= ea + eb


K2 = [[1.0, -0.5], [-0.7, 0.8], [0.2, 0.1]]   # 3 means in 2-D: a 2-D difference span (k = 2)


@pytest.mark.parametrize("c", [
    [[0.3, 0.1], [-0.2, 0.05]],
    [[2.0, 0.0], [-2.0, 0.5]],
    # ~100 s (twelve 30-digit losses on a 2-D span in mpmath): the slow tier.  The default tier
    # checks the same k = 2 geometry, every coordinate, to ~2e-9 in
    # test_gradient_k2_against_finite_differences_of_float64_loss.
    pytest.param(K2, marks=pytest.mark.slow),
])
def test_gradient_against_central_finite_differences(c):
    digits = 20
    g = model.grad_F(c, digits)
    ctx = context(60)   # perturbed parameters formed exactly, not at the global 53 bits
    h = ctx.mpf(10) ** -8   # truncation error ~ h^2 |F'''| ~ 1e-16: compare to 14 digits
    for i in range(len(c)):
        for j in range(len(c[0])):
            cp = [[ctx.mpf(x) for x in r] for r in c]
            cm = [[ctx.mpf(x) for x in r] for r in c]
            cp[i][j] += h
            cm[i][j] -= h
            fp = model.F(cp, 30)
            fm = model.F(cm, 30)
            fd = (fp.value - fm.value) / (2 * h)
            fd_err = (fp.error + fm.error) / (2 * h) + 1e-13   # h^2 truncation, bounded generously
            assert abs(fd - g.value[i][j]) <= fd_err + g.error[i][j]


def _central_difference_f64(c, i, j, h):
    """(F(c + h e_ij) - F(c - h e_ij)) / 2h from the float64 loss, and its rounding/rule error
    (the two losses' error bounds over 2h).  c and h are floats and c +- h is exact (asserted)."""
    cp = [list(r) for r in c]
    cm = [list(r) for r in c]
    cp[i][j] += h
    cm[i][j] -= h
    assert Fraction(cp[i][j]) == Fraction(c[i][j]) + Fraction(h)
    assert Fraction(cm[i][j]) == Fraction(c[i][j]) - Fraction(h)
    fp = model.F(cp, 10, backend="float64")
    fm = model.F(cm, 10, backend="float64")
    return (fp.value - fm.value) / (2 * h), (fp.error + fm.error) / (2 * h)


@pytest.mark.parametrize("backend,digits", [("float64", 10), ("mpmath", 8)])
def test_gradient_k2_against_finite_differences_of_float64_loss(backend, digits):
    """The direct gradient on a 2-D span (3 means in 2-D), both arithmetic paths, every
    coordinate, against central differences of the loss (another integrand: |v|^2 only).

    The loss comes from the float64 path (error ~5e-14, its bound checked against multiprecision
    in test_float64_path_agrees_with_multiprecision), h = 2^-14 so c +- h is exact.  The
    difference's truncation error (h^2 F'''/6) is estimated from the step 2h: D(2h) - D(h) =
    3 h^2 F'''/6 + O(h^4), so |D(2h) - D(h)| bounds D(h)'s truncation with a factor 3 to spare
    (the same conservative rule as the trapezoid references of test_accuracy); the rounding
    part is the losses' error over 2h.  Observed: tolerance ~2e-9, agreement ~3e-10."""
    g = model.grad_F(K2, digits, backend=backend)
    assert g.precision.is_float64 == (backend == "float64")
    h = 2.0 ** -14
    for i in range(len(K2)):
        for j in range(len(K2[0])):
            d1, e1 = _central_difference_f64(K2, i, j, h)
            d2, e2 = _central_difference_f64(K2, i, j, 2 * h)
            tol = abs(d2 - d1) + e1 + e2
            assert tol < 1e-8          # the check is tight: ~8 digits of an O(0.1) gradient
            assert abs(d1 - float(g.value[i][j])) <= tol + float(g.error[i][j]), (i, j)


@pytest.mark.parametrize("c", [
    [[0.3, 0.1], [-0.2, 0.05]],
    [[3.0, 0.5], [-2.0, -2.0], [0.5, -0.75]],   # separated, differences collinear (k = 1)
    pytest.param([[3.0, 0.5], [-2.0, -1.0], [0.5, 2.0]],                 # k = 2, sharp
                 marks=[pytest.mark.slow, NODE_BUDGET]),
])
def test_float64_path_agrees_with_multiprecision(c):
    # the reference at 20 digits (error ~1e-22) is far inside the float64 path's ~1e-13
    f64 = model.grad_F(c, 10, backend="float64")
    ref = model.grad_F(c, 20)
    assert f64.precision.is_float64 and not ref.precision.is_float64
    for r, rr, e in zip(f64.value, ref.value, f64.error):
        for a, b, ea in zip(r, rr, e):
            assert abs(a - float(b)) <= ea + 1e-14 * max(1.0, abs(float(b)))
    l64 = model.F(c, 10, backend="float64")
    lref = model.F(c, 20)
    assert abs(l64.value - float(lref.value)) <= l64.error + 1e-14 * float(lref.value)


@pytest.mark.parametrize("c", [
    [[0.3, 0.1], [-0.2, 0.05]],                  # overlapping
    [[1.2, 0.0], [-1.0, 0.3]],                   # transitional
    [[4.0, 1.0], [-4.0, 0.0]],                   # well separated
    pytest.param([[3.0, 0.0], [-2.5, 1.0], [0.2, -3.0]],   # separated in two directions
                 marks=[pytest.mark.slow, NODE_BUDGET]),
])
def test_error_estimate_bounds_true_error(c):
    est = model.F(c, 12, backend="mpmath")
    ref = model.F(c, 30)
    assert abs(est.value - ref.value) <= est.error + ref.error


@pytest.mark.parametrize("digits,backend", [
    (6, "mpmath"),      # the multiprecision path on a 2-D span (was 20 digits: 16 s)
    (10, "float64"),    # the float64 path, same geometry
])
def test_em_identity_stein(digits, backend):
    # E[w_i (y - c_i)] = -E[w_i v] (Stein's lemma): both sides from independent integrands.
    c = [[0.8, -0.2], [-0.5, 0.6], [0.1, 0.3]]
    em = model.em_direction(c, digits, backend=backend)
    assert em.precision.is_float64 == (backend == "float64")
    ev = model.Evaluator(em.precision)
    setup, vals, errs, ok, _ = ev.blocks(model.check_params(c), ["wv"])
    assert ok and setup.k == 2
    wv = vals["wv"].reshape(3, 2)
    wve = errs["wv"].reshape(3, 2)
    for i in range(3):
        for j in range(2):
            assert abs(em.value[i][j] + wv[i][j]) <= em.error[i][j] + wve[i][j]


def _tiny_config(scale_exp, n=3):
    """Parameters m_i = 10^scale_exp (u + 1e-20 z_i) around a unit-size target (t = 0)."""
    ctx = context(scale_exp * -1 + 80)
    u = [ctx.mpf(1), ctx.mpf("0.5")]
    zs = [[ctx.mpf("0.3"), ctx.mpf("-1.1")], [ctx.mpf("-0.7"), ctx.mpf("0.4")], [ctx.mpf("0.9"), ctx.mpf("0.2")]]
    s = ctx.mpf(10) ** scale_exp
    eps = ctx.mpf(10) ** -20
    return [[s * (a + eps * b) for a, b in zip(u, z)] for z in zs[:n]], [ctx.mpf("0.6"), ctx.mpf("-0.4")]


@pytest.mark.parametrize("scale_exp", [-300, -1000])
def test_tiny_scale_keeps_the_spread(scale_exp):
    params, target = _tiny_config(scale_exp)
    digits = 12
    g = verify.gradient(params, target, digits=digits)
    assert g.precision.dps >= -scale_exp + 20 + digits   # the policy saw the spread
    # independent: the Stein form's integrand at the same working precision
    gs = verify.gradient(params, target, digits=digits, form="stein")
    diffs = []
    for j in range(2):
        d01 = g.value[0][j] - g.value[1][j]
        s01 = gs.value[0][j] - gs.value[1][j]
        err = g.error[0][j] + g.error[1][j] + gs.error[0][j] + gs.error[1][j]
        assert d01 != 0
        assert abs(d01 - s01) <= err
        assert err <= abs(d01) * 10 ** -digits   # the spread's contribution has `digits` digits
        diffs.append(d01)
    # float64 cannot even hold the parameters apart: every gradient comes out identical
    p64 = [[float(x) for x in r] for r in params]
    g64 = verify.gradient(p64, [float(x) for x in target], digits=8, backend="float64")
    assert all(g64.value[0][j] == g64.value[1][j] for j in range(2))
    assert all(d != 0 for d in diffs)
