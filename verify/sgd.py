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

Two implementations of the same step: a compiled one (numba; draws, gradient and update for many
steps per call, from the same ``numpy.random.Generator`` stream, which numba reproduces bit for
bit) and the vectorised numpy one (the reference; ``engine="numpy"``).  They differ only in the
order of the floating-point sums.

Batch sizes (issue 22): ``batch`` (alias ``samples``) may be any integer from 1 to 10^6.  Each
step's draws are taken in blocks of at most :data:`DRAW` rows from the same stream (a numpy
``Generator`` fills blocks in the same order as one large draw, so the block size does not change
the run), so memory stays bounded by DRAW x d floats whatever B is.  With B = 1 the loss estimate
has no standard error (recorded as inf).  ``keep_params=True`` also keeps the parameters at every
record step (``traj.params``, a list of (n, d) arrays; not part of ``to_dict``), so the population
loss along an SGD path can be evaluated afterwards (the sgd-batch sweep does).
"""
from __future__ import annotations

import math
import time

import numpy as np

from verify.dynamics import (FLOAT64_OVERFLOW, Rules, Trajectory, classify, record_schedule)

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a declared dependency
    njit = None

SGD_ENGINES = ("auto", "numba", "numpy")
DRAW = 1 << 16        # rows of y drawn at once: memory stays O(DRAW d) for any batch size
MAX_BATCH = 10 ** 6


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
            parameterisation: str = "noised", rules: Rules | None = None,
            engine: str = "auto", batch: int | None = None,
            keep_params: bool = False) -> Trajectory:
    """Stochastic GD from centred parameters ``c0`` (n x d floats) for ``steps`` steps.

    Every step draws ``batch`` (alias ``samples``; ``batch`` wins when both are given) fresh
    y ~ N(0, I_d), 1 <= batch <= 10^6, from one ``default_rng(seed)`` stream, so a run is
    reproducible from (c0, eta, steps, batch, seed).  Stops early on overflow.
    ``engine``: "numba" (compiled), "numpy" (the reference) or "auto" (numba when installed).
    """
    if batch is not None:
        samples = batch
    if engine not in SGD_ENGINES:
        raise ValueError(f"engine must be one of {SGD_ENGINES}, got {engine!r}")
    if engine == "numba" and njit is None:
        raise ValueError("engine='numba' needs numba installed (pip install numba)")
    if parameterisation not in ("noised", "clean"):
        raise ValueError(f"parameterisation must be 'noised' or 'clean', got {parameterisation!r}")
    if not eta > 0:
        raise ValueError(f"eta must be > 0, got {eta!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a nonnegative integer, got {steps!r}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) \
            or not 1 <= samples <= MAX_BATCH:
        raise ValueError(f"batch must be an integer from 1 to {MAX_BATCH}, got {samples!r}")
    samples = int(samples)
    rules = rules or Rules()
    C = np.array(c0, dtype=float)
    n, d = C.shape
    h = eta * math.exp(-2 * t) if parameterisation == "clean" else float(eta)
    rng = np.random.default_rng(seed)
    schedule = set(record_schedule(steps))
    traj = Trajectory(rules=rules.to_dict(), precision={"backend": "float64", "dps": None},
                      settings={"eta": str(eta), "steps": steps, "t": str(t), "samples": samples,
                                "batch": samples, "seed": seed,
                                "parameterisation": parameterisation,
                                "backend": "float64 Monte Carlo", "gradient": "stochastic"})
    initial_max = float(np.sqrt((C * C).sum(axis=1)).max())
    start = time.perf_counter()
    compiled = engine != "numpy" and njit is not None
    traj.settings["engine"] = "numba" if compiled else "numpy"
    params = [] if keep_params else None
    if compiled:
        tau = _run_compiled(C, h, steps, samples, rng, schedule, traj, params)
    else:
        tau = _run_numpy(C, h, steps, samples, rng, schedule, traj, params)
    if keep_params:
        traj.params = params
    if traj.stop_reason == "overflow":
        traj.steps.append(tau)
        traj.dist.append([math.inf] * n)
        traj.dist_log10.append([math.inf] * n)
        traj.loss.append(math.inf)
        traj.loss_error.append(math.nan)
        traj.loss_log10.append(math.inf)
        traj.grad_norm.append(math.inf)
    traj.classes = classify(traj.dist, rules, initial_max)
    traj.final_c = [[repr(float(x)) for x in row] for row in C]
    traj.evaluations = samples * (tau + 1)
    traj.seconds = time.perf_counter() - start
    return traj


def _record(traj: Trajectory, tau: int, C: np.ndarray, loss: float, se: float, gnorm: float):
    traj.steps.append(tau)
    traj.loss.append(loss)
    traj.loss_error.append(se)
    traj.loss_log10.append(math.log10(loss) if loss > 0 else -math.inf)
    r = np.sqrt((C * C).sum(axis=1))
    traj.dist.append([float(x) for x in r])
    traj.dist_log10.append([math.log10(x) if x > 0 else -math.inf for x in r])
    traj.grad_norm.append(gnorm)


def batch_gradient(C: np.ndarray, rng: np.random.Generator, batch: int
                   ) -> tuple[np.ndarray, float, float]:
    """:func:`sample_gradient` over ``batch`` fresh draws from ``rng``, taken in blocks of at most
    DRAW rows (the same draws as one block of ``batch`` rows); the loss's standard error from the
    pooled sums of |v|^2 and |v|^4 (shifted by the first block's mean against cancellation)."""
    n, d = C.shape
    G = np.zeros_like(C)
    s1 = s2 = 0.0
    shift = None
    done = 0
    while done < batch:
        m = min(DRAW, batch - done)
        Y = rng.standard_normal((m, d))
        Gb, _, _ = sample_gradient(C, Y)
        vv = _sample_losses(C, Y)
        if shift is None:
            shift = float(vv.mean())
        G += Gb * m
        s1 += float((vv - shift).sum())
        s2 += float(((vv - shift) ** 2).sum())
        done += m
    G /= batch
    loss = shift + s1 / batch
    se = (math.sqrt(max(s2 - s1 * s1 / batch, 0.0) / (batch - 1) / batch) if batch > 1
          else math.inf)
    return G, loss, se


def _sample_losses(C: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """|v(y)|^2 per sample row of Y."""
    logits = Y @ C.T - 0.5 * (C * C).sum(axis=1)[None, :]
    logits -= logits.max(axis=1, keepdims=True)
    W = np.exp(logits)
    W /= W.sum(axis=1, keepdims=True)
    V = W @ C
    return (V * V).sum(axis=1)


def _run_numpy(C, h, steps, samples, rng, schedule, traj, params=None) -> int:
    """The reference loop (vectorised numpy); C is updated in place.  Returns the last step."""
    n, d = C.shape
    tau = 0
    while True:
        G, loss, se = batch_gradient(C, rng, samples)
        if tau in schedule:
            _record(traj, tau, C, loss, se, float(np.sqrt((G * G).sum())))
            if params is not None:
                params.append(C.copy())
        if tau >= steps:
            traj.stop_reason = "max steps"
            return tau
        C -= h * G
        tau += 1
        if not np.all(np.isfinite(C)) or np.abs(C).max() > FLOAT64_OVERFLOW:
            traj.stop_reason = "overflow"
            return tau


CHUNK = 500  # steps per compiled call (Ctrl-C is seen between calls)


def _run_compiled(C, h, steps, samples, rng, schedule, traj, params=None) -> int:
    sched = np.zeros(steps + 1, dtype=np.bool_)
    sched[sorted(schedule)] = True
    n = C.shape[0]
    cap = len(schedule) + 1
    rsteps = np.zeros(cap, dtype=np.int64)
    rvals = np.zeros((cap, 3))            # loss, standard error, gradient norm
    rC = np.zeros((cap, n))               # squared distances
    rP = np.zeros((cap, n, C.shape[1]))   # parameters at the record steps
    ist = np.zeros(3, dtype=np.int64)     # records, tau, code (0 running, 1 max steps, 2 overflow)
    done = 0
    while ist[2] == 0:
        _sgd_chunk(rng, C, h, steps, CHUNK, samples, sched, ist, rsteps, rvals, rC, rP, DRAW)
        for r in range(done, int(ist[0])):
            traj.steps.append(int(rsteps[r]))
            loss, se, gn = (float(x) for x in rvals[r])
            traj.loss.append(loss)
            traj.loss_error.append(se)
            traj.loss_log10.append(math.log10(loss) if loss > 0 else -math.inf)
            dist = np.sqrt(rC[r])
            traj.dist.append([float(x) for x in dist])
            traj.dist_log10.append([math.log10(x) if x > 0 else -math.inf for x in dist])
            traj.grad_norm.append(gn)
            if params is not None:
                params.append(rP[r].copy())
        done = int(ist[0])
    traj.stop_reason = "max steps" if ist[2] == 1 else "overflow"
    return int(ist[1])


if njit is not None:
    @njit(cache=True, fastmath={"reassoc", "contract"})
    def _sgd_sums(Y, C, sq, G, vv):
        """Adds sum over samples of w_i v + w_i (y - c_i) <c_i - v, v> to G (n, d), writes |v|^2
        per sample to vv[:len(Y)] and returns its sum; samples in blocks, the sample loop
        innermost."""
        S, d = Y.shape
        n = C.shape[0]
        B = 256
        YT = np.empty((d, B))
        Lg = np.empty((n, B))
        V = np.empty((d, B))
        top = np.empty(B)
        F = np.empty(B)
        total = 0.0
        for a0 in range(0, S, B):
            m = min(B, S - a0)
            for j in range(d):
                for c in range(m):
                    YT[j, c] = Y[a0 + c, j]
            for c in range(m):
                top[c] = -np.inf
            for i in range(n):
                for c in range(m):
                    Lg[i, c] = -sq[i]
                for j in range(d):
                    cij = C[i, j]
                    for c in range(m):
                        Lg[i, c] += YT[j, c] * cij
                for c in range(m):
                    top[c] = max(top[c], Lg[i, c])
            for c in range(m):
                F[c] = 0.0
            for i in range(n):
                for c in range(m):
                    Lg[i, c] = np.exp(Lg[i, c] - top[c])
                    F[c] += Lg[i, c]
            for c in range(m):
                F[c] = 1.0 / F[c]
            for i in range(n):
                for c in range(m):
                    Lg[i, c] *= F[c]
            for j in range(d):
                for c in range(m):
                    V[j, c] = 0.0
                for i in range(n):
                    cij = C[i, j]
                    for c in range(m):
                        V[j, c] += Lg[i, c] * cij
            for c in range(m):
                F[c] = 0.0
            for j in range(d):
                for c in range(m):
                    F[c] += V[j, c] * V[j, c]
            for c in range(m):
                vv[a0 + c] = F[c]
                total += F[c]
            for i in range(n):
                # wh = w_i (<v, c_i> - |v|^2), stored in top (free now)
                for c in range(m):
                    top[c] = 0.0
                for j in range(d):
                    cij = C[i, j]
                    for c in range(m):
                        top[c] += V[j, c] * cij
                for c in range(m):
                    top[c] = Lg[i, c] * (top[c] - F[c])
                for j in range(d):
                    cij = C[i, j]
                    s = 0.0
                    for c in range(m):
                        s += Lg[i, c] * V[j, c] + top[c] * (YT[j, c] - cij)
                    G[i, j] += s
        return total

    @njit(cache=True)
    def _sgd_chunk(rng, C, h, steps, nsteps, S, sched, ist, rsteps, rvals, rC, rP, draw):
        """Up to ``nsteps`` stochastic steps (same stream and same sequence as _run_numpy); each
        step's S draws in blocks of at most ``draw`` rows."""
        n, d = C.shape
        G = np.empty((n, d))
        vv = np.empty(min(S, draw))
        tau = ist[1]
        stop = tau + nsteps
        while tau < stop or tau >= steps:
            sq = np.empty(n)
            for i in range(n):
                s = 0.0
                for j in range(d):
                    s += C[i, j] * C[i, j]
                sq[i] = 0.5 * s
            G[:, :] = 0.0
            total = 0.0
            s1 = 0.0
            s2 = 0.0
            shift = 0.0
            done = 0
            while done < S:
                m = min(draw, S - done)
                Y = rng.standard_normal((m, d))
                part = _sgd_sums(Y, C, sq, G, vv)
                if done == 0:
                    shift = part / m
                for a in range(m):
                    s1 += vv[a] - shift
                    s2 += (vv[a] - shift) ** 2
                total += part
                done += m
            loss = total / S
            if S > 1:
                se = np.sqrt(max(s2 - s1 * s1 / S, 0.0) / (S - 1)) / np.sqrt(S)
            else:
                se = np.inf
            gn = 0.0
            for i in range(n):
                for j in range(d):
                    G[i, j] = 2.0 * G[i, j] / S
                    gn += G[i, j] * G[i, j]
            if sched[tau]:
                r = ist[0]
                rsteps[r] = tau
                rvals[r, 0] = loss
                rvals[r, 1] = se
                rvals[r, 2] = np.sqrt(gn)
                for i in range(n):
                    s = 0.0
                    for j in range(d):
                        s += C[i, j] * C[i, j]
                    rC[r, i] = s
                    for j in range(d):
                        rP[r, i, j] = C[i, j]
                ist[0] = r + 1
            if tau >= steps:
                ist[1] = tau
                ist[2] = 1
                return
            bad = False
            for i in range(n):
                for j in range(d):
                    C[i, j] -= h * G[i, j]
                    if not np.isfinite(C[i, j]) or abs(C[i, j]) > FLOAT64_OVERFLOW:
                        bad = True
            tau += 1
            if bad:
                ist[1] = tau
                ist[2] = 2
                return
        ist[1] = tau


def noise_to_drift_run(r: float, d: int, B: int, steps: int, seed: int, k: int = 1,
                       blocks: int = 20) -> dict:
    """The far mean's batch noise-to-drift ratio measured along SGD steps (issue 22 item 1): k
    means held at the target and one at r e_1 (the configuration of the derived law
    verify.asymptotics.sgd_noise.rho_law), ``steps`` fresh batches of B samples from
    ``default_rng(seed)``; per batch the far mean's stochastic gradient g (:func:`sample_gradient`).

    Returns {"measured": sqrt(tr Cov(g)) / |mean g|, "measured_se": its batch-means standard error
    over ``blocks`` blocks, "mean": mean g along e_1, "steps", ...}: the ratio the law predicts is
    sqrt(tr Q / B) / |E g| with Q the per-sample covariance, which Cov over the batches estimates.
    The parameters are held fixed (the far mean's own drift is e^{-r^2/8} slow), so the steps are
    independent draws."""
    C = np.zeros((k + 1, d))
    C[k, 0] = r
    rng = np.random.default_rng(seed)
    G = np.empty((steps, d))
    for tau in range(steps):
        G[tau] = sample_gradient(C, rng.standard_normal((B, d)))[0][k]

    def ratio(X):
        m = X.mean(axis=0)
        return float(math.sqrt(X.var(axis=0, ddof=1).sum()) / abs(m[0])), float(m[0])

    measured, mean = ratio(G)
    per = [ratio(G[b * steps // blocks:(b + 1) * steps // blocks])[0] for b in range(blocks)]
    se = float(np.std(per, ddof=1) / math.sqrt(blocks))
    return {"r": r, "d": d, "B": B, "k": k, "steps": steps, "seed": seed, "measured": measured,
            "measured_se": se, "mean": mean}
