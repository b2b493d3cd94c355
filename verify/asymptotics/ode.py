"""Small numerical tools of the reduced laws (issue 11; issue 21: no SciPy): an adaptive
Dormand-Prince 5(4) integrator for a scalar ODE that lands on a given output grid, and the cubic
Hermite interpolant through the values and derivatives it returns.

Both are plain float64 numpy/math code.  The integrator's error per step is held below
``atol + rtol |y|`` by the embedded fourth-order solution (standard step-size control, exponent
1/5, safety 0.9); the grid points are hit exactly (no dense output), and the derivative f(u, y) at
every grid point comes out of the first-same-as-last stage for free, so the Hermite interpolant
between grid points is fourth-order without further evaluations of f.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

# Dormand & Prince (1980), RK5(4)7M: nodes, stages, fifth- and fourth-order weights
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = ((),
      (1 / 5,),
      (3 / 40, 9 / 40),
      (44 / 45, -56 / 15, 32 / 9),
      (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
      (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
      (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84))
_B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_E = tuple(b5 - b4 for b5, b4 in zip(_B5, _B4))


class IntegrationError(ArithmeticError):
    """The step size fell below the resolution of the independent variable."""


def dopri45(f: Callable[[float, float], float], y0: float, grid, *, rtol: float,
            atol: float = 1e-14, h0: float | None = None, max_steps: int = 1_000_000):
    """Integrate y' = f(u, y) from y(grid[0]) = y0 through the increasing ``grid``.

    Returns (y, dy, steps): y and f(u, y) at every grid point (float64 arrays) and the number of
    accepted steps.  Raises :class:`IntegrationError` when the step collapses or ``max_steps`` is
    exceeded (never a silent truncation)."""
    grid = np.asarray(grid, float)
    if grid.ndim != 1 or len(grid) < 1 or np.any(np.diff(grid) <= 0):
        raise ValueError("grid must be a strictly increasing 1-D sequence")
    if not (rtol > 0 and atol >= 0):
        raise ValueError(f"tolerances must be positive (rtol {rtol!r}, atol {atol!r})")
    ys = np.empty(len(grid))
    dys = np.empty(len(grid))
    u, y = float(grid[0]), float(y0)
    k1 = f(u, y)
    ys[0], dys[0] = y, k1
    span = float(grid[-1] - grid[0]) if len(grid) > 1 else 1.0
    h = h0 if h0 is not None else 1e-3 * span
    accepted = 0
    for j in range(1, len(grid)):
        target = float(grid[j])
        while u < target:
            last = u + h >= target
            hh = target - u if last else h
            if hh <= 8 * np.finfo(float).eps * max(abs(u), 1.0):
                raise IntegrationError(f"step size collapsed to {hh:.3g} at u = {u:.6g}")
            k = [k1]
            for i in range(1, 7):
                yi = y + hh * sum(a * kk for a, kk in zip(_A[i], k))
                k.append(f(u + _C[i] * hh, yi))
            y5 = y + hh * sum(b * kk for b, kk in zip(_B5, k))
            err = abs(hh * sum(e * kk for e, kk in zip(_E, k)))
            scale = atol + rtol * max(abs(y), abs(y5))
            ratio = err / scale
            if ratio <= 1.0:
                u = target if last else u + hh
                y, k1 = y5, k[6]            # first same as last: k7 = f(u + h, y5)
                accepted += 1
                if accepted > max_steps:
                    raise IntegrationError(f"more than {max_steps} steps")
            fac = 5.0 if ratio == 0 else min(5.0, max(0.2, 0.9 * ratio ** -0.2))
            if ratio > 1.0:
                fac = min(fac, 1.0)
            h = hh * fac if (not last or ratio > 1.0) else max(h, hh * fac)
        ys[j], dys[j] = y, k1
    return ys, dys, accepted


def hermite(x, xs, ys, dys) -> np.ndarray:
    """The piecewise cubic Hermite interpolant through (xs, ys) with slopes dys, at x (clamped to
    [xs[0], xs[-1]]).  Error <= h^4 max|y''''| / 384 on an interval of width h."""
    xs, ys, dys = (np.asarray(a, float) for a in (xs, ys, dys))
    x = np.clip(np.asarray(x, float), xs[0], xs[-1])
    k = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
    h = xs[k + 1] - xs[k]
    t = (x - xs[k]) / h
    t2, t3 = t * t, t * t * t
    h00, h10 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t
    h01, h11 = -2 * t3 + 3 * t2, t3 - t2
    return h00 * ys[k] + h10 * h * dys[k] + h01 * ys[k + 1] + h11 * h * dys[k + 1]

