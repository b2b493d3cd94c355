"""The multiprecision Gauss-Hermite rule of verify.quadrature (Newton's method on the orthonormal
recurrence) against mpmath's own rule (an eigenvalue method: an independent construction), and
against the exact moments of N(0, 1); the split rule's tie widths at logit slopes near the ends of
the float64 range."""
from __future__ import annotations

import math
import signal

import mpmath
import numpy as np
import pytest

from verify import quadrature
from verify.precision import context


@pytest.mark.parametrize("order,dps", [(1, 20), (2, 30), (3, 50), (8, 30), (21, 40), (48, 30),
                                       (64, 25)])
def test_hermite_rule_is_mpmath_s_rule_to_the_working_digits(order, dps):
    x, w = quadrature._rule_mp("hermite", order, dps)
    ctx = context(dps + 10)
    xr, wr = ctx.gauss_quadrature(order, "hermite")        # weight e^{-x^2}: rescale to N(0, 1)
    xr = [ctx.sqrt(2) * v for v in xr]
    wr = [v / ctx.sqrt(ctx.pi) for v in wr]
    assert len(x) == len(w) == order
    ulp = ctx.mpf(10) ** (1 - dps)     # x and w are rounded to dps digits
    for a, b in zip(x, xr):
        assert abs(a - b) <= ulp * (1 + abs(b)), (a, b)
    for a, b in zip(w, wr):
        assert abs(a - b) <= ulp * abs(b), (a, b)


@pytest.mark.parametrize("order,dps", [(5, 30), (16, 40), (40, 30)])
def test_hermite_rule_integrates_the_normal_moments_exactly(order, dps):
    """sum w x^j = E[x^j] = (j - 1)!! for even j, 0 for odd j, for every j < 2 order."""
    x, w = quadrature._rule_mp("hermite", order, dps)
    ctx = context(dps + 10)
    for j in range(2 * order):
        got = ctx.fsum(ctx.mpf(wi) * ctx.mpf(xi) ** j for xi, wi in zip(x, w))
        want = 0 if j % 2 else math.prod(range(j - 1, 0, -2))
        scale = ctx.fsum(ctx.mpf(wi) * abs(ctx.mpf(xi)) ** j for xi, wi in zip(x, w))
        assert abs(got - want) <= order * scale * ctx.mpf(10) ** (1 - dps), (j, got, want)


# ------------------------------------------------------------------------------------------------
# Tie widths at extreme logit slopes.  A pair of means at +-1e300 has logit slope 2e300; its square
# overflowed (np.linalg.norm), the width came out 0, and the grading of _panel_edges never reached
# a panel's width: verify.loss on that pair at 20 digits ran for ever (the slow tier's
# test_pair_scales_pinned[300-loss]).
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("e,slope", [
    ([[0.0], [2e300]], 2e300),                     # the pair at +-1e300: the square overflows
    ([[0.0, 0.0], [3e200, 4e200]], 5e200),         # two coordinates, each square overflows
    ([[0.0], [1.5]], 1.5),
])
def test_tie_width_is_one_over_the_slope_at_any_float64_scale(e, slope):
    geom = quadrature.Geometry(np.array(e), np.zeros(len(e)))
    (pos, width), = quadrature._line_breaks(geom, 0, np.array(e[0][1:]), 50.0)
    assert pos == 0.0
    assert width == pytest.approx(1.0 / slope, rel=4e-16, abs=0)


def _alarm(_signum, _frame):
    raise TimeoutError("_panel_edges did not return")


@pytest.mark.parametrize("width", [0.0, -1.0, math.inf, math.nan])
def test_panel_edges_refuses_a_width_it_cannot_grade(width):
    """A width that is not positive and finite is refused at once (0 used to loop for ever)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 5.0)
    try:
        with pytest.raises(quadrature.InaccurateError, match="not positive and finite"):
            quadrature._panel_edges([(0.5, width)], 7.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_panel_edges_grades_from_the_width_up():
    """A width of 1e-300: the grading doubles from it up to the panel width, the edges closer than
    1e-12 L to the last one kept merge, so the tie is resolved to ~1e-12 L with ~40 graded edges
    a side, and no panel is wider than PANEL_MAX."""
    L = 7.0
    edges = quadrature._panel_edges([(0.5, 1e-300)], L)
    assert edges[0] == -L and edges[-1] == L
    gaps = np.diff(edges)
    assert gaps.min() > 1e-12 * L and gaps.max() <= quadrature.PANEL_MAX
    assert min(abs(x - 0.5) for x in edges) <= 4e-12 * L
    sides = 2 * math.ceil(math.log2(quadrature.PANEL_MAX / (1e-12 * L)))
    assert len(edges) <= sides + 2 * math.ceil(L / quadrature.PANEL_MAX) + 2
