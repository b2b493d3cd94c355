"""The multiprecision Gauss-Hermite rule of verify.quadrature (Newton's method on the orthonormal
recurrence) against mpmath's own rule (an eigenvalue method: an independent construction), and
against the exact moments of N(0, 1)."""
from __future__ import annotations

import math

import mpmath
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
