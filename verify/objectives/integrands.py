"""The objectives of SPEC §6, each defined once: integrands over Gaussian measures.

Every objective here is a combination of expectations E[f(u)], u ~ N(0, I_k), in the reduced
coordinates of :mod:`verify.model` (u = P^T z on the span of the differences d_i = c_i - c_ref;
logits relative to the reference component: <u, e_i> + o_i).  An expectation under a *shifted*
Gaussian y = c_j + z (the reverse Fisher divergence samples from the student p_c) is the same
integral with shifted offsets: <c_j + z, d_i> - <c_ref, d_i> - |d_i|^2/2 = <u, e_i> + o^{(j)}_i,

    o^{(j)}_i = <d_j, d_i> - |d_i|^2 / 2          (formed from the differences: no cancellation).

The blocks an integrand can produce (n means, d dimensions, k = dim of the reduced space):

    "F"    |v|^2                                       1
    "wv"   w_i v                                       n*d
    "wh"   w_i h_i,   h_i = <c_i - v, v>               n
    "uwh"  u_a w_i h_i                                 k*n
    "ghd"  sum_l w_l h_l e_l  (= P^T grad_y |v|^2 / 2) k
    "zF"   u_a |v|^2          (score-function form)    k
    "w"    w_i                                         n
    "uw"   u_a w_i                                     k*n
    "lse"  log sum_i exp(<u, e_i> + o_i)               1
    "lme"  log mean_i exp(x_i - mean_l x_l), x_i = <u, e_i> + o_i   1

grad_y |v|^2 = 2 sum_l w_l h_l c_l = 2 sum_l w_l h_l d_l (as sum_l w_l h_l = 0) is derived in
:mod:`proofs.objectives`, with every other identity the assemblies below use.

What each objective integrates (``MEASURES``) and how its value and gradient are assembled from
the blocks lives in :mod:`verify.objectives.evaluate`; nothing else in the package writes an
integrand.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from verify.quadrature import Geometry

BLOCKS = ("F", "wv", "wh", "uwh", "ghd", "zF", "w", "uw", "lse", "lme")


def block_sizes(n: int, d: int, k: int) -> dict[str, int]:
    return {"F": 1, "wv": n * d, "wh": n, "uwh": k * n, "ghd": k, "zF": k, "w": n, "uw": k * n,
            "lse": 1, "lme": 1}


def block_slices(blocks: Sequence[str], n: int, d: int, k: int) -> dict[str, slice]:
    sizes = block_sizes(n, d, k)
    out, pos = {}, 0
    for b in blocks:
        out[b] = slice(pos, pos + sizes[b])
        pos += sizes[b]
    return out


def shifted_geometry(setup, j: int | None) -> Geometry:
    """The logits' geometry under N(0, I) (j None) or under N(c_j, I) (component j's measure)."""
    if j is None:
        return setup.geom
    E, D = setup.geom.e, setup.D
    o = (D * D[j][None, :]).sum(axis=1) - (D * D).sum(axis=1) / 2
    return Geometry(E, o)


def _rowmax(L: np.ndarray, ar) -> np.ndarray:
    if ar.ctx is None:
        return L.max(axis=1)
    return np.array([max(row) for row in L], dtype=object)


def _log(x: np.ndarray, ar) -> np.ndarray:
    if ar.ctx is None:
        return np.log(x)
    return np.array([ar.ctx.log(v) for v in x], dtype=object)


def integrand(setup, geom: Geometry, blocks: Sequence[str]):
    """f(U) -> (values, magnitudes), both (m, ncomp), for :meth:`quadrature.Integrator.expect`.

    ``f.bounds`` = (a, b) per component, |f(u)| <= a + b|u| for every u (R = max_i |c_i| bounds
    |v|; |d_i| <= 2R; |h_i| <= 2R^2; the log-sum-exp blocks grow at most linearly, with slope
    max_i |e_i| (2 max_i |e_i| after centring) and intercept log n + max_i |o_i| (twice that for
    "lme", which is >= 0 by Jensen)).  They bound what a truncated range omits.
    """
    C, D, ar = setup.C, setup.D, setup.ar
    E, o = geom.e, geom.o
    n, d, k = setup.n, setup.d, setup.k
    c1 = C[setup.ref]
    absc1 = ar.sqrt((c1 * c1).sum())
    normD = np.array([ar.sqrt((row * row).sum()) for row in D], dtype=ar.dtype)
    R = setup.R
    zero, one = ar.num(0), ar.num(1)
    logn = ar.num(math.log(n)) if ar.ctx is None else ar.ctx.log(n)
    emax = max((ar.sqrt((row * row).sum()) for row in E), default=zero) if k else zero
    omax = max(abs(x) for x in o)
    bound_of = {"F": (R * R, zero), "wv": (R, zero), "wh": (2 * R * R, zero),
                "uwh": (zero, 2 * R * R), "ghd": (4 * R ** 3, zero), "zF": (zero, R * R),
                "w": (one, zero), "uw": (zero, one), "lse": (logn + omax, emax),
                "lme": (2 * omax, 2 * emax)}
    sizes = block_sizes(n, d, k)
    a_vec = np.concatenate([np.array([bound_of[b][0]] * sizes[b], dtype=ar.dtype) for b in blocks])
    b_vec = np.concatenate([np.array([bound_of[b][1]] * sizes[b], dtype=ar.dtype) for b in blocks])

    def f(U: np.ndarray):
        m = U.shape[0]
        L = U @ E.T + o[None, :] if k else np.array([list(o)] * m, dtype=ar.dtype)
        top = _rowmax(L, ar)
        X = ar.exp(L - top[:, None])
        S = X.sum(axis=1)
        w = X / S[:, None]                          # (m, n)
        delta = w @ D
        v = c1[None, :] + delta
        vabs = w @ normD + absc1                    # >= |v|: the scale v is formed at
        h = ((D[None, :, :] - delta[:, None, :]) * v[:, None, :]).sum(axis=2)   # (m, n)
        hmag = (normD[None, :] + (w @ normD)[:, None]) * vabs[:, None]
        out, mag = [], []
        for b in blocks:
            if b == "F":
                out.append((v * v).sum(axis=1)[:, None])
                mag.append((vabs * vabs)[:, None])
            elif b == "wv":
                out.append((w[:, :, None] * v[:, None, :]).reshape(m, -1))
                mag.append(np.repeat(w * vabs[:, None], d, axis=1))
            elif b == "wh":
                out.append(w * h)
                mag.append(w * hmag)
            elif b == "uwh":
                out.append((U[:, :, None] * (w * h)[:, None, :]).reshape(m, -1))
                mag.append((np.abs(U)[:, :, None] * (w * hmag)[:, None, :]).reshape(m, -1))
            elif b == "ghd":
                out.append((w * h) @ E)
                mag.append(np.repeat(((w * hmag) @ normD)[:, None], k, axis=1))
            elif b == "zF":
                out.append(U * (v * v).sum(axis=1)[:, None])
                mag.append(np.abs(U) * (vabs * vabs)[:, None])
            elif b == "w":
                out.append(w)
                mag.append(w)
            elif b == "uw":
                out.append((U[:, :, None] * w[:, None, :]).reshape(m, -1))
                mag.append((np.abs(U)[:, :, None] * w[:, None, :]).reshape(m, -1))
            elif b == "lse":
                val = top + _log(S, ar)
                out.append(val[:, None])
                mag.append((np.abs(top) + logn + 1)[:, None])
            elif b == "lme":
                xbar = L.sum(axis=1) / n
                val = top - xbar + _log(S, ar) - logn
                out.append(val[:, None])
                mag.append((np.abs(top) + np.abs(xbar) + logn + 1)[:, None])
        return np.concatenate(out, axis=1), np.concatenate(mag, axis=1)

    f.bounds = (a_vec, b_vec)
    return f
