"""A derived upper bound on the smoothness constant of the centred loss F (SPEC §2).

Statement.  On the region {c : |c_i| <= R for every i} the Hessian of F(c) = E|v(y)|^2 (as a
symmetric operator on R^{n d} with the Euclidean norm) satisfies

    || Hess F(c) ||  <=  L(R) = 2 [ 1 + 4 R^2 + 6 R (1 + R) + 8 R^2 (1 + R)^2 ],

independently of n and d.  Consequently one gradient step c' = c - eta grad F(c) with
0 < eta <= 1/L(R_seg), where R_seg bounds |c_i| along the whole segment [c, c'], satisfies the
descent lemma  F(c') <= F(c) - eta (1 - L eta / 2) |grad F(c)|^2.

Derivation.  Fix a unit direction h = (h_1..h_n), sum_i |h_i|^2 = 1 (so |h_i| <= 1), and write
c(s) = c + s h.  Along the line the logits are a_i(s) = <y, c_i + s h_i> - |c_i + s h_i|^2 / 2 with

    a_i' = alpha_i = <y - c_i, h_i>,    a_i'' = gamma_i = -|h_i|^2   (|gamma_i| <= 1).

For the softmax w = softmax(a), with beta_i = alpha_i - sum_j w_j alpha_j,

    w_i'  = w_i beta_i,
    w_i'' = w_i [ beta_i^2 - E_w beta^2 + gamma_i - E_w gamma ]     (E_w: the w-weighted mean).

Let A = max_j |alpha_j|; then E_w beta^2 = Var_w(alpha) <= A^2 and sum_i w_i |beta_i| <= A.
Since v = sum_i w_i c_i is a convex combination, |v| <= R and |c_i - v| <= 2 R.  Using
sum_i w_i' = sum_i w_i'' = 0 to centre at v:

    v'  = sum_i w_i h_i + sum_i w_i beta_i (c_i - v),          |v'|  <= 1 + 2 R A,
    v'' = 2 sum_i w_i beta_i h_i + sum_i w_i'' (c_i - v),       |v''| <= 2 A + 2 R (2 A^2 + 2).

Then d^2/ds^2 F = 2 E[ |v'|^2 + <v, v''> ] (differentiation under E is fine: every term has
Gaussian moments), so

    |Hess F[h, h]| <= 2 E[ (1 + 2 R A)^2 + R (2 A + 4 R A^2 + 4 R) ]
                    = 2 [ 1 + 4 R^2 + 6 R E[A] + 8 R^2 E[A^2] ].

Finally A <= M + R with M = max_j |<y, h_j>|, and E[M^2] <= sum_j E<y, h_j>^2 = sum_j |h_j|^2 = 1,
so E[A^2] <= (1 + R)^2 and E[A] <= 1 + R.  The Hessian is symmetric, so its norm is the largest
|Hess F[h, h]| over unit h, which gives L(R).

Tightness: an upper bound, not tight.  At R = 0 it gives 2 while the true norm at c = 0 is 2/n
(F ~ |mean_i c_i|^2 near the origin); the tests compare it with finite-difference Hessian norms.
"""
from __future__ import annotations

import math
from typing import Sequence


def hessian_bound(R: float) -> float:
    """L(R): an upper bound on ||Hess F|| over {|c_i| <= R for all i} (R >= 0, float)."""
    if not (R >= 0 and math.isfinite(R)):
        raise ValueError(f"R must be a finite number >= 0, got {R!r}")
    return 2.0 * (1.0 + 4.0 * R * R + 6.0 * R * (1.0 + R) + 8.0 * R * R * (1.0 + R) ** 2)


def radius(c: Sequence[Sequence[float]]) -> float:
    """max_i |c_i| (float; rounded up by one part in 10^12 so it stays an upper bound)."""
    return max(math.sqrt(sum(float(x) ** 2 for x in ci)) for ci in c) * (1 + 1e-12)


def segment_radius(c: Sequence[Sequence[float]], direction: Sequence[Sequence[float]],
                   eta: float) -> float:
    """An upper bound on max_i |c_i - s direction_i| for 0 <= s <= eta (triangle inequality)."""
    return max(math.sqrt(sum(float(x) ** 2 for x in ci))
               + eta * math.sqrt(sum(float(x) ** 2 for x in gi))
               for ci, gi in zip(c, direction)) * (1 + 1e-12)


def safe_step(c: Sequence[Sequence[float]], direction: Sequence[Sequence[float]],
              fraction: float = 1.0) -> float:
    """A step eta with eta <= fraction / L(R_seg(eta)): the segment's own radius is used, found by
    shrinking eta until the condition holds (L grows with eta through R_seg, so this terminates)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    eta = fraction / hessian_bound(radius(c))
    while eta > fraction / hessian_bound(segment_radius(c, direction, eta)):
        eta /= 2
    return eta


def gradient_bound(R: float) -> float:
    """G(R): an upper bound on |grad F| over {|c_i| <= R}.  From the derivation above,
    d/ds F = 2 E<v, v'> <= 2 R (1 + 2 R E[A]) <= 2 R (1 + 2 R (1 + R)) for every unit h."""
    if not (R >= 0 and math.isfinite(R)):
        raise ValueError(f"R must be a finite number >= 0, got {R!r}")
    return 2.0 * R * (1.0 + 2.0 * R * (1.0 + R))
