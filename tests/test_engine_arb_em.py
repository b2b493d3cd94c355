"""The gradient-EM direction E[w_i (y - c_i)] and E[w_i v] in the Arb kernel (engine_arb, issue 19)
against the mpmath engine (model.em_direction, model.Evaluator.blocks), the reference.

Independent of the kernel: mpmath integrates the per-node integrands w_i, u w_i (or w_i v) on its
own rules in its own arithmetic; the kernel forms P E[u w_i] - c_i E[w_i] (c_ref E[w_i] + P
E[w_i eps]) from its moment products.  They must agree within the sum of their error estimates,
at 30 and 50 digits, on overlapping, separated, far, near-target and tiny-spread configurations
(n = 2..4, d = 1..3); Stein's lemma E[w_i (y - c_i)] = -E[w_i v] links the two quantities.
"""
from __future__ import annotations

import math

import pytest

from verify import engine_arb, model
from verify import precision as _precision

CONFIGS = {
    "n2d1": [["0.8"], ["-1.3"]],                                          # k=1, trapezoid
    "overlap_n3d2": [[0.15, 0.05], [-0.1, 0.12], [0.03, -0.15]],          # Gauss-Hermite 2-D
    "sep_n2d2": [["0.9", "-0.3"], ["-0.6", "0.5"]],                       # separated, k=1
    "far_n3d1": [["3"], ["-2.5"], ["0.4"]],                                # split Gauss-Legendre
    "far_n2d3": [["1.2", "-0.4", "0.3"], ["-0.9", "0.5", "0.1"]],         # d=3, k=1
    "n4d2": [["0.2", "0"], ["0", "0.2"], ["-0.2", "0"], ["0", "-0.25"]],  # 4 means, k=2
    "near_n3d1": [["0.001"], ["-0.002"], ["0.0005"]],                      # near the target
    "tiny_n3d2": [["0.4003", "-0.2001"], ["0.4001", "-0.2002"], ["0.4002", "-0.2005"]],
}
# mpmath's budget refuses these at 50 digits (two separated directions / a sharp one in 2-D)
MP50_TOO_DEAR = {"n4d2"}
K3_N4D3 = [["0.1", "0.05", "0"], ["-0.05", "0.1", "0.02"], ["0", "-0.1", "0.1"],
           ["0.02", "0", "-0.1"]]                                          # tensor GH in 3-D


def _ratio(a, b) -> float:
    """max |a - b| / (err_a + err_b) over the components (<= 1: within the estimates)."""
    ctx = _precision.context(max(a.precision.dps, b.precision.dps) + 30)
    worst = 0.0
    for ra, rb, sa, sb in zip(a.value, b.value, a.error, b.error):
        for x, y, u, v in zip(ra, rb, sa, sb):
            diff = abs(ctx.convert(x) - ctx.convert(y))
            if diff:
                tol = ctx.convert(u) + ctx.convert(v)
                worst = max(worst, math.inf if tol == 0 else float(diff / tol))
    return worst


def _rel_err_digits(est) -> float:
    """Digits the error certifies relative to the Frobenius norm of the value."""
    ctx = _precision.context(est.precision.dps + 30)
    norm = ctx.sqrt(ctx.fsum(ctx.convert(x) ** 2 for r in est.value for x in r))
    err = max(ctx.convert(e) for r in est.error for e in r)
    return math.inf if err == 0 else float(ctx.log10(norm / err))


@pytest.mark.parametrize("digits", [30, 50])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_em_direction_matches_mpmath(name, digits):
    if digits == 50 and name in MP50_TOO_DEAR:
        pytest.skip("mpmath refuses it at 50 digits (its node budget)")
    c = CONFIGS[name]
    a = engine_arb.em_direction(c, digits)
    b = model.em_direction(c, digits)
    assert a.rule["engine"] == "arb" and a.rule["form"] == "em"
    assert a.ok and a.precision == b.precision
    assert _rel_err_digits(a) >= digits          # the digits asked, certified by its own error
    assert _ratio(a, b) <= 1


def test_em_direction_k3_matches_mpmath():
    a = engine_arb.em_direction(K3_N4D3, 12)
    b = model.em_direction(K3_N4D3, 12)
    assert a.rule["engine"] == "arb" and a.ok
    assert _ratio(a, b) <= 1


@pytest.mark.parametrize("name", ["overlap_n3d2", "far_n3d1", "far_n2d3", "near_n3d1"])
def test_wv_matches_mpmath_block_and_stein(name):
    """E[w_i v] from the kernel against mpmath's "wv" block, and Stein's lemma against the
    kernel's own EM direction (two different sets of moments)."""
    cx = model.check_params(CONFIGS[name])
    prec = model._resolve_precision(cx, 30, None, "mpmath", model._scale_digits(cx))
    ev = engine_arb.ArbEvaluator(prec)
    wv = ev.wv(cx)
    assert wv.rule["engine"] == "arb" and wv.rule["form"] == "wv" and wv.ok
    _, vals, errs, ok, _ = model.Evaluator(prec).blocks(cx, ["wv"])
    n, d = len(cx), len(cx[0])
    ref = model.Estimate([[vals["wv"][i * d + j] for j in range(d)] for i in range(n)],
                         [[errs["wv"][i * d + j] for j in range(d)] for i in range(n)], prec)
    assert ok and _ratio(wv, ref) <= 1
    em = ev.em(cx)
    neg = model.Estimate([[-x for x in r] for r in wv.value], wv.error, prec)
    assert _ratio(em, neg) <= 1
    assert not ev.fallbacks


def test_em_direction_all_means_equal_is_exact():
    """k = 0 (every c_i equal): w_i = 1/n, so E[w_i (y - c_i)] = -c_i / n exactly."""
    c = [["0.3", "-0.7"]] * 3
    a = engine_arb.em_direction(c, 30)
    ctx = _precision.context(a.precision.dps + 10)
    for row, err in zip(a.value, a.error):
        for x, e, cj in zip(row, err, c[0]):
            assert abs(ctx.convert(x) + ctx.mpf(cj) / 3) <= ctx.convert(e) + ctx.mpf(10) ** -40


def test_em_direction_float64_and_fallback_reasons():
    cx = model.check_params(CONFIGS["overlap_n3d2"])
    p64 = model._resolve_precision(cx, 8, None, "float64", 0)
    ev = engine_arb.ArbEvaluator(p64)
    est = ev.em(cx)
    assert "fallback" in est.rule["engine"] and ev.fallbacks[-1][0] == "em"
    assert "fallback" in ev.wv(cx).rule["engine"] and ev.fallbacks[-1][0] == "wv"
