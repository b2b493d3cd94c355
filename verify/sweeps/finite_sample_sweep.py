"""Sweep ``finite-sample`` (issue 22 item 2): GD on the empirical denoising score-matching loss
(verify.finite_sample) over N data points x n means x noise level t x seed, in d = 2.

A cell draws its N data points x_k ~ N(0, I_2) and the n initial noised means mu_i(0) ~
N(0, e^{-2t} I_2) (the noised target's own law) from seeds derived from its inputs, runs GD
(eta = 0.25, up to 2000 steps, Gauss-Hermite order 8, final values checked at order 16) and
classifies each final mean (target = the noised empirical mean, data point, cluster, diverging;
verify.finite_sample.classify_means).  It records the distances of the final means from the
population target 0 and from the noised empirical mean e^{-t} xbar.
"""
from __future__ import annotations


import numpy as np

from verify.sweeps.base import Axis, Sweep
from verify.sweeps.sgd_batch import source_hash

SEED = 20262202
D = 2
_SOURCES = ("sweeps/finite_sample_sweep.py", "finite_sample.py")


def finite_sample_cell(N: int, n: int, t: float, seed: int, code: str = "") -> dict:
    from verify import finite_sample as fs
    from verify import interrupt
    e_t, sigma = fs.smoothing(t)
    data_seed = SEED + 7919 * seed + 100003 * N
    init_seed = SEED + 7919 * seed + 1009 * n + int(1000 * t) + 17
    x = np.random.default_rng(data_seed).standard_normal((N, D))
    a = e_t * x
    mu0 = e_t * np.random.default_rng(init_seed).standard_normal((n, D))
    run = fs.run_dsm_gd(mu0, a, sigma)
    if interrupt.requested():
        raise KeyboardInterrupt
    xbar = x.mean(axis=0)
    cls, rule = fs.classify_means(run.mu, a, e_t, sigma, xbar)
    finite = [m for m, c in zip(run.mu, cls) if c != fs.DIVERGING]
    d_pop = [float(np.linalg.norm(m)) for m in finite]
    d_emp = [float(np.linalg.norm(m - e_t * xbar)) for m in finite]
    return {"N": N, "n": n, "t": t, "seed": seed, "data_seed": data_seed, "init_seed": init_seed,
            "d": D, "eta": 0.25, "steps": run.steps, "grad_norm": run.grad_norm,
            "loss": run.loss, "loss_error": run.loss_error, "grad_error": run.grad_error,
            "classes": cls, "rule": rule,
            "memorised": cls.count(fs.DATA), "diverging": cls.count(fs.DIVERGING),
            "max_dist_pop": max(d_pop) if d_pop else None,
            "max_dist_emp": max(d_emp) if d_emp else None,
            "emp_mean_dist": float(e_t * np.linalg.norm(xbar)),
            "final_mu": [[float(v) for v in m] for m in run.mu]}


SWEEP = Sweep(
    "finite-sample", "denoising score matching on N samples: where the n means end (target, "
    "data points, clusters, diverging) and how fast they approach the population target in N",
    (Axis("N", (4, 32), (2, 4, 8, 16, 32, 64, 128), 1, 4096, True),
     Axis("n", (1, 4), (1, 2, 4), 1, 8, True),
     Axis("t", (0.5,), (0.1, 0.5), 0.01, 5),
     Axis("seed", (0, 1), (0, 1, 2), 0, 10_000, True)),
    finite_sample_cell, "verify.sweeps.beyond_summaries:summarise_finite_sample",
    fixed=(("code", source_hash(_SOURCES)),))
