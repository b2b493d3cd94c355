"""Finite samples: denoising score matching on N data points (issue 22 item 2; SPEC §7).

Data x_1..x_N ~ N(m*, I_d) (m* = 0 here: the population target of the noised means is 0), noise
level t > 0: a_k = e^{-t} x_k, sigma^2 = 1 - e^{-2t}.  The student is SPEC §2's, with noised means
mu_i (n x d): s(x) = sum_i w_i(x) mu_i - x.  The empirical DSM loss (no factor 1/2, as for F) is

    L(mu) = (1/N) sum_k E_z | s(a_k + sigma z) + z / sigma |^2,   z ~ N(0, I_d),

and its gradient, per (k, z) with x = a_k + sigma z, v = sum_j w_j mu_j, e = v - x + z/sigma,

    grad_{mu_i} = 2 w_i [ e + (x - mu_i) <mu_i - v, e> ]           (proofs/dsm.py derives both).

Its minimiser over all functions is the score of the smoothed empirical distribution
p_hat = (1/N) sum_k N(a_k, sigma^2 I) (DSM = Fisher divergence to p_hat + a constant).  The student
(identity covariances) cannot represent it at any finite t (sigma^2 < 1: the scores differ by
x (1/sigma^2 - 1) + O(1) far out), so GD finds the student's best fit; with one mean (n = 1) that
is exactly mu = e^{-t} xbar, the noised empirical mean, at distance e^{-t} |xbar| ~ e^{-t}
sqrt(d/N) from the population target.  As N -> infinity p_hat -> N(0, I), which the student
represents exactly (every mean at 0).

Expectations over z: tensor Gauss-Hermite of order K per dimension; the error estimate of a value
is its difference to order 2K (the integrand is smooth in z on the scale 1/(sigma |mu_i - mu_j|),
so the rule converges while the means stay within a few units).  GD (float64, vectorised numpy)
runs at order K; the final loss and gradient are re-evaluated at both orders and reported with that
error.  Classification of each final mean (explicit rule, :func:`classify_means`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

GH_ORDER = 8


def gauss_hermite(order: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (M, d) and weights (M,) of the tensor rule for E over z ~ N(0, I_d)."""
    x, w = np.polynomial.hermite_e.hermegauss(order)
    w = w / w.sum()
    grids = np.meshgrid(*([x] * d), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=1)
    wg = np.meshgrid(*([w] * d), indexing="ij")
    weights = np.prod(np.stack([g.ravel() for g in wg], axis=1), axis=1)
    return nodes, weights


def smoothing(t: float) -> tuple[float, float]:
    """(e^{-t}, sigma) at noise level t > 0."""
    if not t > 0:
        raise ValueError(f"the noise level t must be > 0, got {t!r}")
    return math.exp(-t), math.sqrt(-math.expm1(-2 * t))


def dsm_loss_grad(mu: np.ndarray, a: np.ndarray, sigma: float, order: int = GH_ORDER
                  ) -> tuple[float, np.ndarray]:
    """Empirical DSM loss and its gradient at noised means mu (n, d), data a (N, d)."""
    n, d = mu.shape
    Z, W = gauss_hermite(order, d)                       # (M, d), (M,)
    X = a[:, None, :] + sigma * Z[None, :, :]            # (N, M, d)
    wt = np.broadcast_to(W[None, :], X.shape[:2]) / a.shape[0]
    X = X.reshape(-1, d)
    Zr = np.broadcast_to(Z[None], (a.shape[0],) + Z.shape).reshape(-1, d)
    wt = wt.reshape(-1)
    logits = X @ mu.T - 0.5 * (mu * mu).sum(axis=1)[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    Wm = np.exp(logits)
    Wm /= Wm.sum(axis=1, keepdims=True)                  # (P, n)
    V = Wm @ mu                                          # (P, d)
    E = V - X + Zr / sigma
    loss = float(wt @ (E * E).sum(axis=1))
    H = (E @ mu.T - (V * E).sum(axis=1)[:, None]) * Wm   # w_i <mu_i - v, e>
    G = 2 * ((Wm * wt[:, None]).T @ E + (H * wt[:, None]).T @ X - mu * (H * wt[:, None]).sum(0)[:, None])
    return loss, G


def dsm_loss_grad_checked(mu, a, sigma, order: int = GH_ORDER):
    """(loss, grad, loss error, grad error): two orders, the error their difference."""
    L1, G1 = dsm_loss_grad(mu, a, sigma, order)
    L2, G2 = dsm_loss_grad(mu, a, sigma, 2 * order)
    return L2, G2, abs(L2 - L1), float(np.abs(G2 - G1).max())


@dataclass
class Run:
    mu: np.ndarray
    steps: int
    grad_norm: float
    loss: float
    loss_error: float
    grad_error: float
    norms: list = field(default_factory=list)     # max_i |mu_i| at checkpoints


def run_dsm_gd(mu0, a, sigma, eta: float = 0.25, steps: int = 2000, order: int = GH_ORDER,
               tol: float = 1e-7) -> Run:
    """GD on the empirical DSM loss from mu0 (n, d); stops when the gradient norm < tol."""
    mu = np.array(mu0, dtype=float)
    norms = []
    tau = 0
    for tau in range(steps):
        _, G = dsm_loss_grad(mu, a, sigma, order)
        gn = float(np.sqrt((G * G).sum()))
        if tau % 100 == 0:
            norms.append(float(np.sqrt((mu * mu).sum(axis=1)).max()))
        if gn < tol or not np.all(np.isfinite(G)):
            break
        mu -= eta * G
    L, G, Le, Ge = dsm_loss_grad_checked(mu, a, sigma, order)
    return Run(mu, tau, float(np.sqrt((G * G).sum())), L, Le, Ge, norms)


TARGET, DATA, CLUSTER, DIVERGING = "target", "data point", "cluster", "diverging"


def classify_means(mu: np.ndarray, a: np.ndarray, e_t: float, sigma: float, xbar: np.ndarray
                   ) -> tuple[list[str], dict]:
    """Per final mean, in this order: "diverging" -- |mu_i| > R = 3 + max_k |a_k| (beyond every
    data point); "target" -- within 0.1 of the noised empirical mean e^{-t} xbar (the n = 1
    minimiser: the population target as N samples see it); "data point" -- within 0.5 sigma of
    its nearest a_k and at least twice as close to it as to any other a_j (one point memorised);
    "cluster" -- the rest (a point among several data points)."""
    R = 3 + float(np.sqrt((a * a).sum(axis=1)).max())
    emp = e_t * xbar
    out = []
    for m in mu:
        dist = np.sqrt(((a - m) ** 2).sum(axis=1))
        order = np.argsort(dist)
        if not np.all(np.isfinite(m)) or np.linalg.norm(m) > R:
            out.append(DIVERGING)
        elif np.linalg.norm(m - emp) < 0.1:
            out.append(TARGET)
        elif dist[order[0]] < 0.5 * sigma and (len(dist) == 1 or dist[order[1]] > 2 * dist[order[0]]):
            out.append(DATA)
        else:
            out.append(CLUSTER)
    return out, {"R_diverge": R, "target_radius": 0.1, "data_radius": "0.5 sigma, twice as close "
                 "as the next point"}
