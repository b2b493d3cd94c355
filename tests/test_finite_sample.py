"""Tests of denoising score matching on finite samples (verify.finite_sample, proofs/dsm.py),
issue 22 item 2."""
from __future__ import annotations

import numpy as np
import pytest

from verify import finite_sample as fs


def _setup(N=5, n=3, t=0.4, seed=0):
    rng = np.random.default_rng(seed)
    e, s = fs.smoothing(t)
    a = e * rng.standard_normal((N, 2))
    mu = e * rng.standard_normal((n, 2))
    return a, mu, e, s


def test_gradient_matches_finite_differences():
    a, mu, _, s = _setup()
    _, G = fs.dsm_loss_grad(mu, a, s, 12)
    h = 1e-6
    for i in range(mu.shape[0]):
        for j in range(2):
            E = np.zeros_like(mu)
            E[i, j] = h
            fd = (fs.dsm_loss_grad(mu + E, a, s, 12)[0] - fs.dsm_loss_grad(mu - E, a, s, 12)[0]) / (2 * h)
            assert abs(fd - G[i, j]) < 1e-7 * max(1.0, abs(G[i, j]))


def test_error_estimate_bounds_a_higher_order_rule():
    a, mu, _, s = _setup(t=0.2)
    L, G, Le, Ge = fs.dsm_loss_grad_checked(mu, a, s, 8)
    L40, G40 = fs.dsm_loss_grad(mu, a, s, 40)
    assert abs(L - L40) <= max(Le, 1e-13 * abs(L40))
    assert np.abs(G - G40).max() <= max(Ge, 1e-12)


def test_dsm_loss_against_monte_carlo():
    """The quadrature loss against a 4e5-draw Monte Carlo average (independent): 5 s.e."""
    a, mu, _, s = _setup()
    L, _ = fs.dsm_loss_grad(mu, a, s, 16)
    rng = np.random.default_rng(3)
    k = rng.integers(0, len(a), 400_000)
    Z = rng.standard_normal((len(k), 2))
    X = a[k] + s * Z
    lg = X @ mu.T - 0.5 * (mu * mu).sum(1)
    lg -= lg.max(1, keepdims=True)
    W = np.exp(lg)
    W /= W.sum(1, keepdims=True)
    r = ((W @ mu - X + Z / s) ** 2).sum(1)
    assert abs(r.mean() - L) < 5 * r.std() / np.sqrt(len(r))


def test_one_mean_converges_to_the_noised_empirical_mean():
    """The derived n = 1 minimiser e^{-t} xbar (proofs/dsm.py)."""
    rng = np.random.default_rng(4)
    e, s = fs.smoothing(0.3)
    x = rng.standard_normal((7, 2))
    run = fs.run_dsm_gd(rng.standard_normal((1, 2)), e * x, s, steps=500, tol=1e-10)
    np.testing.assert_allclose(run.mu[0], e * x.mean(0), atol=1e-9)


def test_classification_rule():
    a = np.array([[0.0, 0.0], [3.0, 0.0], [3.2, 0.3]])
    xbar = np.array([2.0, 0.1])          # e_t = 1 here: the empirical-mean point is xbar
    mu = np.array([[2.0, 0.1], [0.05, 0.0], [3.1, 0.15], [50.0, 0.0]])
    cls, _ = fs.classify_means(mu, a, 1.0, 0.6, xbar)
    assert cls == [fs.TARGET, fs.DATA, fs.CLUSTER, fs.DIVERGING]


@pytest.mark.parametrize("t", [0.0, -1.0])
def test_noise_level_must_be_positive(t):
    with pytest.raises(ValueError, match="noise level"):
        fs.smoothing(t)
