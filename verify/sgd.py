"""The paper's stochastic gradient descent (SPEC §3 `figure`): at every step the population
gradient of SPEC §2 is replaced by a Monte Carlo average over fresh samples.

Centred coordinates (SPEC §2): parameters c_i in R^d, samples y ~ N(0, I_d).  For one sample,
the direct form of the gradient of |v(y)|^2 with respect to c_i is

    2 [ w_i v + w_i (y - c_i) <c_i - v, v> ],

so the estimate is its average over ``samples`` fresh draws (float64, vectorised numpy, drawn from
``numpy.random.default_rng(seed)``).  The loss recorded is the Monte Carlo average of |v|^2 over the
same draws, with its standard error as the error.  The step is c <- c - eta_eff * g, where eta_eff is
eta ("noised") or eta e^{-2t} ("clean"), exactly as in :func:`verify.dynamics.run_gd`, and the
result is a :class:`verify.dynamics.Trajectory` on the same log-spaced record schedule, classified
by the same explicit :class:`verify.dynamics.Rules`.
"""
from __future__ import annotations

import math
import time

import numpy as np

from verify.dynamics import (FLOAT64_OVERFLOW, Rules, Trajectory, classify, record_schedule)


def sample_gradient(C: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Monte Carlo gradient of F at C (n, d) from samples Y (S, d).

    Returns (grad (n, d), loss estimate, standard error of the loss estimate).
    """
    S = Y.shape[0]
    logits = Y @ C.T - 0.5 * (C * C).sum(axis=1)[None, :]          # (S, n)
    logits -= logits.max(axis=1, keepdims=True)
    W = np.exp(logits)
    W /= W.sum(axis=1, keepdims=True)
    V = W @ C                                                      # (S, d)
    vv = (V * V).sum(axis=1)                                       # (S,)
    H = V @ C.T - vv[:, None]                                      # (S, n): <c_i - v, v>
    WH = W * H
    G = 2.0 * (W.T @ V + WH.T @ Y - C * WH.sum(axis=0)[:, None]) / S
    loss = float(vv.mean())
    se = float(vv.std(ddof=1) / math.sqrt(S)) if S > 1 else math.inf
    return G, loss, se


def run_sgd(c0, eta: float, steps: int, *, samples: int = 20000, seed: int = 0, t: float = 0.0,
            parameterisation: str = "noised", rules: Rules | None = None) -> Trajectory:
    """Stochastic GD from centred parameters ``c0`` (n x d floats) for ``steps`` steps.

    Every step draws ``samples`` fresh y ~ N(0, I_d) from one ``default_rng(seed)`` stream, so a
    run is reproducible from (c0, eta, steps, samples, seed).  Stops early on overflow.
    """
    if parameterisation not in ("noised", "clean"):
        raise ValueError(f"parameterisation must be 'noised' or 'clean', got {parameterisation!r}")
    if not eta > 0:
        raise ValueError(f"eta must be > 0, got {eta!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a nonnegative integer, got {steps!r}")
    if not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an integer >= 2, got {samples!r}")
    rules = rules or Rules()
    C = np.array(c0, dtype=float)
    n, d = C.shape
    h = eta * math.exp(-2 * t) if parameterisation == "clean" else float(eta)
    rng = np.random.default_rng(seed)
    schedule = set(record_schedule(steps))
    traj = Trajectory(rules=rules.to_dict(), precision={"backend": "float64", "dps": None},
                      settings={"eta": str(eta), "steps": steps, "t": str(t), "samples": samples,
                                "seed": seed, "parameterisation": parameterisation,
                                "backend": "float64 Monte Carlo", "gradient": "stochastic"})
    initial_max = float(np.sqrt((C * C).sum(axis=1)).max())
    start = time.perf_counter()
    tau = 0
    while True:
        Y = rng.standard_normal((samples, d))
        G, loss, se = sample_gradient(C, Y)
        if tau in schedule:
            traj.steps.append(tau)
            traj.loss.append(loss)
            traj.loss_error.append(se)
            traj.loss_log10.append(math.log10(loss) if loss > 0 else -math.inf)
            r = np.sqrt((C * C).sum(axis=1))
            traj.dist.append([float(x) for x in r])
            traj.dist_log10.append([math.log10(x) if x > 0 else -math.inf for x in r])
            traj.grad_norm.append(float(np.sqrt((G * G).sum())))
        if tau >= steps:
            traj.stop_reason = "max steps"
            break
        C = C - h * G
        tau += 1
        if not np.all(np.isfinite(C)) or np.abs(C).max() > FLOAT64_OVERFLOW:
            traj.stop_reason = "overflow"
            traj.steps.append(tau)
            traj.dist.append([math.inf] * n)
            traj.dist_log10.append([math.inf] * n)
            traj.loss.append(math.inf)
            traj.loss_error.append(math.nan)
            traj.loss_log10.append(math.inf)
            traj.grad_norm.append(math.inf)
            break
    traj.classes = classify(traj.dist, rules, initial_max)
    traj.final_c = [[repr(float(x)) for x in row] for row in C]
    traj.evaluations = samples * (tau + 1)
    traj.seconds = time.perf_counter() - start
    return traj
