"""The Arb kernel (verify.engine_arb) against the mpmath engine (model.Evaluator), the reference.

Two independent engines -- different arithmetic (Arb balls vs mpmath object arrays), different
node generators (Newton in Arb / Arb's Legendre roots vs mpmath.gauss_quadrature), different rule
ladders and layouts, different organisation of the sums (moments of the weights as matrix products
vs per-node integrands) -- must agree within the sum of their own error estimates on overlapping,
separated and tiny-spread configurations, and give the same GD iterates to the digits asked.
"""
from __future__ import annotations

import math

import mpmath
import pytest
from flint import arb

from verify import dynamics, engine_arb, model
from verify import precision as _precision
from verify.precision import Precision, exact

OVERLAP = [[0.15, 0.05], [-0.1, 0.12], [0.03, -0.15]]          # n=3, d=2: Gauss-Hermite 2-D
SEPARATED_2D = [["0.9", "-0.3"], ["-0.6", "0.5"]]                # n=2, d=2: split rule, k=1
SEPARATED_1D = [["1.5"], ["-1.2"], ["0.2"]]                      # n=3, d=1: three tie points
FAR_1D = [["3"], ["-2.5"], ["0.4"]]                                # n=3, d=1: sharp transitions

_E20 = "0.00000000000000000001"
K3_TINY = [["0.5", "0", "0"], ["0.5", _E20, "0"], ["0.5", "0", _E20], [f"0.5{_E20[2:]}", "0", "0"]]
K3_OVERLAP = [["0.1", "0.05", "0"], ["-0.05", "0.1", "0.02"], ["0", "-0.1", "0.1"],
              ["0.02", "0", "-0.1"]]                              # n=4, d=3: tensor GH in 3-D


def _tiny(ex: int):
    """n=3, d=2 parameters that agree to ``ex`` digits: spread 1e-ex at scale ~0.45."""
    z = "0" * (ex - 1)
    return [[f"0.4{z}3", f"-0.2{z}1"], [f"0.4{z}1", f"-0.2{z}2"], [f"0.4{z}2", f"-0.2{z}5"]]


def _prec(c, digits):
    cx = model.check_params(c)
    return cx, model._resolve_precision(cx, digits, None, "mpmath", model._scale_digits(cx))


def _agree(a: model.Estimate, b: model.Estimate) -> float:
    """max |a - b| / (err_a + err_b) over components (<= 1 means agreement within the estimates)."""
    va, vb = a.value, b.value
    ea, eb = a.error, b.error
    if not isinstance(va, list):
        va, vb, ea, eb = [[va]], [[vb]], [[ea]], [[eb]]
    ctx = _precision.context(max(a.precision.dps, b.precision.dps) + 30)   # never global mp
    worst = 0.0
    for ra, rb, sa, sb in zip(va, vb, ea, eb):
        for x, y, u, v in zip(ra, rb, sa, sb):
            diff = abs(ctx.convert(x) - ctx.convert(y))
            tol = ctx.convert(u) + ctx.convert(v)
            if diff == 0:
                continue
            worst = max(worst, math.inf if tol == 0 else float(diff / tol))
    return worst


@pytest.mark.parametrize("c, digits, kind", [
    (OVERLAP, 20, "Gauss-Hermite"),
    (SEPARATED_2D, 30, "trapezoid"),
    (SEPARATED_1D, 25, "trapezoid"),
    (FAR_1D, 25, "split"),
    (K3_TINY, 10, "Gauss-Hermite 3x3x3"),
    (K3_OVERLAP, 8, "Gauss-Hermite"),
    (_tiny(100), 20, "Gauss-Hermite"),
    (_tiny(1000), 20, "Gauss-Hermite"),
], ids=["overlap-n3d2", "separated-n2d2", "separated-n3d1", "far-n3d1", "k3-spread1e-20",
         "k3-overlap", "spread1e-100",
         "spread1e-1000"])
def test_agrees_with_mpmath(c, digits, kind):
    cx, prec = _prec(c, digits)
    ga, fa = engine_arb.ArbEvaluator(prec).grad(cx, "direct", with_loss=True)
    gm, fm = model.Evaluator(prec).grad(cx, "direct", with_loss=True)
    assert ga.ok and fa.ok and gm.ok and fm.ok
    assert ga.rule["engine"] == "arb" and kind in ga.rule["rule"]
    assert _agree(fa, fm) <= 1.0
    assert _agree(ga, gm) <= 1.0
    # the estimates meet D = digits + spread digits significant digits
    D = prec.digits + prec.spread_digits
    ctx = _precision.context(prec.dps + 30)
    norm = ctx.sqrt(ctx.fsum(ctx.convert(x) ** 2 for row in ga.value for x in row))
    assert all(ctx.convert(e) <= norm * ctx.mpf(10) ** -D for row in ga.error for e in row)
    assert ctx.convert(fa.error) <= abs(ctx.convert(fa.value)) * ctx.mpf(10) ** -D


SEPARATED_N3D2 = [["0.5", "0.1"], ["-0.4", "0.3"], ["0.2", "-0.6"]]   # both directions sharp


def test_separated_2d_tensor_trapezoid_against_gauss_hermite():
    """k = 2 with sharp directions: the tensor trapezoid pair (at 20 digits) against the Arb
    Gauss-Hermite pair at 12 digits -- different rules; the mpmath comparison is in the slow tier
    (mpmath's nested split rule needs minutes here)."""
    cx, p20 = _prec(SEPARATED_N3D2, 20)
    g20, f20 = engine_arb.ArbEvaluator(p20).grad(cx, with_loss=True)
    assert g20.ok and "trapezoid" in g20.rule["rule"] and g20.rule["engine"] == "arb"
    cx, p12 = _prec(SEPARATED_N3D2, 12)
    g12, f12 = engine_arb.ArbEvaluator(p12).grad(cx, with_loss=True)
    assert g12.ok and "Gauss-Hermite" in g12.rule["rule"]
    assert _agree(f20, f12) <= 1.0 and _agree(g20, g12) <= 1.0


@pytest.mark.slow
def test_separated_2d_against_mpmath():
    cx, p12 = _prec(SEPARATED_N3D2, 12)
    gm, fm = model.Evaluator(p12).grad(cx, with_loss=True)
    cx, p20 = _prec(SEPARATED_N3D2, 20)
    ga, fa = engine_arb.ArbEvaluator(p20).grad(cx, with_loss=True)
    assert gm.ok and ga.ok and _agree(fa, fm) <= 1.0 and _agree(ga, gm) <= 1.0


@pytest.mark.parametrize("c, truth", [
    ([[30], [-30], [0]], "5.1843731381776889e-48"),
    ([[25], [-25], [0]], "3.6590387630506871e-33"),
    ([[30, 0], [-30, 0], [0, 0]], "5.1843731381776889e-48"),
])
def test_far_components_loss_in_the_tails(c, truth):
    """Issue 15's table: losses that live in the Gaussian tails (independent values, three
    quadratures agreeing to 1e-30, quoted to 17 digits).  The truncation bound is relative to the
    value, so [-L, L] widens until the omitted mass is below 10^-D |F|; the absolute floor is
    never taken on a truncation bound."""
    cx, prec = _prec(c, 30)
    f = engine_arb.ArbEvaluator(prec).F(cx)
    ctx = _precision.context(60)
    t = ctx.mpf(truth)
    assert f.ok and f.rule["accuracy"] == "relative"
    assert abs(ctx.convert(f.value) - t) <= ctx.convert(f.error) + t * ctx.mpf("1e-16")
    assert ctx.convert(f.error) <= t * ctx.mpf(10) ** -30


def test_loss_alone_and_evaluation_counter():
    cx, prec = _prec(SEPARATED_2D, 30)
    ev = engine_arb.ArbEvaluator(prec)
    f = ev.F(cx)
    fm = model.Evaluator(prec).F(cx)
    assert f.ok and _agree(f, fm) <= 1.0
    assert ev.integrator.evaluations > 0 and not ev.fallbacks


def test_all_equal_is_exact():
    cx, prec = _prec([["0.3", "0.1"], ["0.3", "0.1"]], 30)
    g, f = engine_arb.ArbEvaluator(prec).grad(cx, with_loss=True)
    # k = 0: w_i = 1/2 everywhere, F = |c|^2, grad_i = 2 (c/2 + 0) = c (direct form, h_i = 0)
    x01, x03 = exact("0.1"), exact("0.3")
    assert abs(f.value - x01) <= f.error
    for row, err in zip(g.value, g.error):
        assert abs(row[0] - x03) <= err[0] and abs(row[1] - x01) <= err[1]


def test_gauss_hermite_rule_moments():
    # N(0,1) moments E x^(2m) = (2m-1)!!, exact for 2m <= 2N-1; odd moments vanish
    xs, ws = engine_arb.hermite_rule(9, 300)
    with engine_arb._Prec(300):
        _check_moments(xs, ws)


def _check_moments(xs, ws):
    for m in range(0, 9):
        s = sum((w * x ** (2 * m) for x, w in zip(xs, ws)), arb(0))
        exact = math.prod(range(1, 2 * m, 2)) if m else 1
        assert abs(float(s.mid()) - exact) <= 1e-60 * exact
        assert abs(sum((w * x ** (2 * m + 1) for x, w in zip(xs, ws)), arb(0)).mid()) < 1e-60


def test_fallbacks_are_recorded_not_silent():
    # k = 3 directions: beyond the Arb kernel -> model.Evaluator, with the reason
    e = "0.00000000000000000001"      # spread 1e-20: a few Gauss-Hermite nodes per direction
    c = [["0.5"] + ["0"] * 4] + [["0.5"] + [e if j == i else "0" for j in range(4)] for i in range(4)]
    c.append([f"0.5{e[2:]}"] + ["0"] * 4)                       # n = 6, d = 5: k = 5
    cx, prec = _prec(c, 6)
    ev = engine_arb.ArbEvaluator(prec)
    g = ev.grad(cx)
    assert "fallback" in g.rule["engine"] and "k = 5" in g.rule["engine"]
    assert ev.fallbacks and ev.fallbacks[0][0] == "grad"
    # the EM direction too (k = 5), with its reason
    em = ev.em(cx)
    assert "fallback" in em.rule["engine"] and "k = 5" in em.rule["engine"]
    assert ev.fallbacks[-1][0] == "em"
    # the Stein form is not in the kernel either; the EM direction is (tests/test_engine_arb_em.py)
    cx2, prec2 = _prec(OVERLAP, 12)
    ev2 = engine_arb.ArbEvaluator(prec2)
    assert "Stein" in ev2.grad(cx2, "stein").rule["engine"]
    assert ev2.em(cx2).rule["engine"] == "arb"
    with pytest.raises(ValueError, match="form"):
        ev2.grad(cx2, "other")


def _gd(ev, c_exact, prec, eta, steps):
    ctx = mpmath.MPContext()
    ctx.dps = prec.dps
    C = [[ctx.convert(x) for x in row] for row in c_exact]
    h = ctx.convert(eta)
    for _ in range(steps):
        g = ev.grad(C, "direct")
        assert g.ok
        C = [[x - h * ctx.convert(y) for x, y in zip(r, gr)] for r, gr in zip(C, g.value)]
    return C


def test_gd_iterates_match_mpmath_from_tiny_spread():
    """20 GD steps from a 1e-100-spread start (thm3.2's regime): the iterates' differences
    c_i - c_j (size ~1e-100) agree to the 20 digits asked."""
    c0 = _tiny(100)
    cx, prec = _prec(c0, 20)
    steps, eta = 20, "0.1"
    Ca = _gd(engine_arb.ArbEvaluator(prec), cx, prec, eta, steps)
    Cm = _gd(model.Evaluator(prec), cx, prec, eta, steps)
    n = len(Ca)
    for i in range(n):
        for j in range(i + 1, n):
            da = [a - b for a, b in zip(Ca[i], Ca[j])]
            dm = [a - b for a, b in zip(Cm[i], Cm[j])]
            size = max(abs(x) for x in dm)
            assert 1e-102 < size < 1e-98
            assert max(abs(x - y) for x, y in zip(da, dm)) <= size * mpmath.mpf(10) ** -20


def test_dynamics_uses_arb_above_float64():
    if not hasattr(dynamics, "evaluator_for"):
        pytest.skip("dynamics.evaluator_for not present")
    p = Precision(20, 100, 10, 130, "mpmath")
    assert isinstance(dynamics.evaluator_for(p), engine_arb.ArbEvaluator)
    p64 = Precision(8, 0, 3, None, "float64")
    assert not isinstance(dynamics.evaluator_for(p64), engine_arb.ArbEvaluator)


def test_run_gd_with_arb_matches_mpmath_run(monkeypatch):
    """run_gd through the hook (Arb) and with the hook pointing at model.Evaluator: same final
    iterates to the digits asked (relative to the spread) and the same recorded losses."""
    if not hasattr(dynamics, "evaluator_for"):
        pytest.skip("dynamics.evaluator_for not present")
    c0 = _tiny(100)
    tr_a = dynamics.run_gd(c0, "0.1", 20, digits=20, progress=False)
    monkeypatch.setattr(dynamics, "evaluator_for", lambda prec: model.Evaluator(prec))
    tr_m = dynamics.run_gd(c0, "0.1", 20, digits=20, progress=False)
    assert tr_a.stop_reason == tr_m.stop_reason == "max steps"
    ctx = _precision.context(60)
    Ca = [[ctx.mpf(x) for x in r] for r in tr_a.final_c]
    Cm = [[ctx.mpf(x) for x in r] for r in tr_m.final_c]
    for ra, rm in zip(Ca, Cm):
        for a, m in zip(ra, rm):
            assert abs(a - m) <= abs(m) * ctx.mpf(10) ** -45    # final_c is printed to 50 digits
    for la, lm in zip(tr_a.loss, tr_m.loss):
        assert abs(la - lm) <= 1e-14 * abs(lm)


def test_bench_functions_report_time_digits_and_rule():
    r = engine_arb.bench_hp50_lossgrad_ms_n2(repeat=1, compare=False)
    assert r["hp50_lossgrad_ms_n2"] > 0 and r["digits"] >= 50 and r["max_error"] < 1e-50
    assert r["nodes"] > 0 and "Arb" in r["rule"]


@pytest.mark.slow
def test_run_gd_from_1e_1000_spread_matches_mpmath(monkeypatch):
    """thm3.2's extreme start: spread 1e-1000 (working precision ~1030 digits), 10 steps; the
    iterates' differences agree to the digits asked between the two engines."""
    c0 = _tiny(1000)
    cx, prec = _prec(c0, 20)
    Ca = _gd(engine_arb.ArbEvaluator(prec), cx, prec, "0.1", 10)
    Cm = _gd(model.Evaluator(prec), cx, prec, "0.1", 10)
    for i in range(3):
        for j in range(i + 1, 3):
            da = [a - b for a, b in zip(Ca[i], Ca[j])]
            dm = [a - b for a, b in zip(Cm[i], Cm[j])]
            size = max(abs(x) for x in dm)
            assert max(abs(x - y) for x, y in zip(da, dm)) <= size * mpmath.mpf(10) ** -20
