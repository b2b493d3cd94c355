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
steps per call) and the vectorised numpy one (the reference; ``engine="numpy"``).  Both use the
same draws: the compiled engine runs numpy's PCG64 and numpy's ziggurat itself, inline (bit for bit
``Generator.standard_normal``, and it hands the generator's final state back), 256 samples at a
time straight into the block it sums over.  They differ only in the order of the floating-point
sums and in the softmax's exponential: the compiled engine's own vectorisable exp (degree-13
polynomial after reduction by ln 2) is within 1 ulp of libm's, and sets weights below e^-708 of the
largest to 0.  Per step at 20000 samples in d = 3 (n = 5) this costs about half of what drawing
through numba's ``Generator.standard_normal`` and a libm exp per weight cost (draws ~2x, the
exponentials ~3x cheaper; measured interleaved with the previous kernel).

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
    from verify.jitcache import njit
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


def _pcg64_words(rng: np.random.Generator) -> np.ndarray:
    """The PCG64 state of ``rng`` as uint64 words [state_hi, state_lo, inc_hi, inc_lo]."""
    st = rng.bit_generator.state
    if st["bit_generator"] != "PCG64":
        raise TypeError(f"the compiled engine reproduces PCG64 streams, got {st['bit_generator']}")
    s, inc = st["state"]["state"], st["state"]["inc"]
    mask = (1 << 64) - 1
    return np.array([s >> 64, s & mask, inc >> 64, inc & mask], dtype=np.uint64)


def _set_pcg64_state(rng: np.random.Generator, words: np.ndarray) -> None:
    """Hands the state the compiled draws reached back to ``rng`` (the state the numpy path leaves
    after the same draws)."""
    st = rng.bit_generator.state
    st["state"]["state"] = (int(words[0]) << 64) | int(words[1])
    rng.bit_generator.state = st


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
    words = _pcg64_words(rng)
    done = 0
    while ist[2] == 0:
        _sgd_chunk(words, C, h, steps, CHUNK, samples, sched, ist, rsteps, rvals, rC, rP, DRAW)
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
    _set_pcg64_state(rng, words)
    traj.stop_reason = "max steps" if ist[2] == 1 else "overflow"
    return int(ist[1])


# numpy's PCG64 (128-bit LCG, XSL-RR output) and its ziggurat for standard normals
# (numpy/random/src/distributions/distributions.c random_standard_normal; the tables are the ones
# numba copied from numpy's ziggurat_constants.h), so the compiled draws are numpy's draws bit for
# bit (tests/test_sgd.py checks 10^6 of them, tail included, against Generator.standard_normal).
PCG64_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_B = 256              # samples per compiled block (the sample loop innermost)
# exp(r) on |r| <= ln2 / 2 by its Taylor polynomial of degree 13: relative truncation error
# <= (ln2/2)^14 / 14! * e^{ln2} < 1e-17, below the result's rounding (2^-53 ~ 1.1e-16).
_EXP_LOG2E = 1.4426950408889634
_EXP_LN2_HI = 6.93147180369123816490e-01     # ln 2 to 32 bits: k * _EXP_LN2_HI exact for |k| < 2^21
_EXP_LN2_LO = 1.90821492927058770002e-10
_EXP_SHIFT = 6755399441055744.0               # 1.5 * 2^52: bits(k + shift) = bits(shift) + k
_EXP_SHIFT_BITS = int(np.array([_EXP_SHIFT]).view(np.int64)[0])
_EXP_FLOOR = -708.0   # exp(-708) ~ 3e-308 is still normal; below it the weight is set to 0
_EXP_C = tuple(1.0 / math.factorial(k) for k in range(14))

if njit is not None:
    from llvmlite import ir as _ir
    from numba import types as _nbtypes
    from numba.extending import intrinsic
    from numba.np.random._constants import (fi_double as _FI, ki_double as _KI,
                                            wi_double as _WI, ziggurat_nor_inv_r as _ZIG_INV_R,
                                            ziggurat_nor_r as _ZIG_R)

    _U1, _U8, _U9, _U11 = np.uint64(1), np.uint64(8), np.uint64(9), np.uint64(11)
    _UFF, _UMANT = np.uint64(0xFF), np.uint64(0x000FFFFFFFFFFFFF)
    _SIGN = np.array([1.0, -1.0])
    _TO_UNIT = 1.0 / 9007199254740992.0

    @intrinsic
    def _pcg_step(typingctx, hi, lo, inc_hi, inc_lo):
        """(hi, lo) <- (hi, lo) * PCG64_MULT + inc mod 2^128; returns (hi, lo, XSL-RR output of the
        new state): numpy's pcg64_next64."""
        u64 = _nbtypes.uint64
        sig = _nbtypes.UniTuple(u64, 3)(u64, u64, u64, u64)

        def codegen(context, builder, signature, args):
            i128, i64 = _ir.IntType(128), _ir.IntType(64)

            def join(a, b):
                return builder.or_(builder.shl(builder.zext(a, i128), _ir.Constant(i128, 64)),
                                   builder.zext(b, i128))

            s = builder.add(builder.mul(join(args[0], args[1]), _ir.Constant(i128, PCG64_MULT)),
                            join(args[2], args[3]))
            nh = builder.trunc(builder.lshr(s, _ir.Constant(i128, 64)), i64)
            nl = builder.trunc(s, i64)
            x = builder.xor(nh, nl)
            rot = builder.lshr(nh, _ir.Constant(i64, 58))
            left = builder.and_(builder.sub(_ir.Constant(i64, 0), rot), _ir.Constant(i64, 63))
            out = builder.or_(builder.lshr(x, rot), builder.shl(x, left))
            return context.make_tuple(builder, signature.return_type, [nh, nl, out])
        return sig, codegen

    @njit(inline="always")
    def _normal(hi, lo, inc_hi, inc_lo):
        """One standard normal: numpy's ziggurat on the PCG64 words; returns (x, hi, lo)."""
        while True:
            hi, lo, r = _pcg_step(hi, lo, inc_hi, inc_lo)
            idx = np.intp(r & _UFF)
            rabs = (r >> _U9) & _UMANT
            x = np.float64(np.int64(rabs)) * _WI[idx] * _SIGN[np.intp((r >> _U8) & _U1)]
            if rabs < _KI[idx]:
                return x, hi, lo
            if idx == 0:
                while True:
                    hi, lo, u = _pcg_step(hi, lo, inc_hi, inc_lo)
                    xx = -_ZIG_INV_R * np.log1p(-((u >> _U11) * _TO_UNIT))
                    hi, lo, u = _pcg_step(hi, lo, inc_hi, inc_lo)
                    yy = -np.log1p(-((u >> _U11) * _TO_UNIT))
                    if yy + yy > xx * xx:
                        if (rabs >> _U8) & _U1:
                            return -(_ZIG_R + xx), hi, lo
                        return _ZIG_R + xx, hi, lo
            else:
                hi, lo, u = _pcg_step(hi, lo, inc_hi, inc_lo)
                if ((_FI[idx - 1] - _FI[idx]) * ((u >> _U11) * _TO_UNIT) + _FI[idx]
                        < np.exp(-0.5 * x * x)):
                    return x, hi, lo

    # fastmath=False, declared: left undeclared, _normals took the flags of its caller _sgd_sums
    # (reassoc, contract; numba issue 7168), which allow an FMA in the acceptance test
    @njit(cache=True, fastmath=False)
    def _normals(words, YT, m):
        """YT[j, c] for c < m, j < d: the next m * d standard normals of the PCG64 stream in
        ``words`` (sample by sample, as numpy fills an (m, d) array); advances ``words``.
        No fastmath: the ziggurat's rare acceptance test is numpy's to the last bit."""
        d = YT.shape[0]
        hi, lo, inc_hi, inc_lo = words[0], words[1], words[2], words[3]
        for c in range(m):
            for j in range(d):
                YT[j, c], hi, lo = _normal(hi, lo, inc_hi, inc_lo)
        words[0] = hi
        words[1] = lo

    @njit(cache=True, fastmath={"contract"})
    def _softmax_exp(Lg, top, m, T, K):
        """Lg[i, c] <- exp(Lg[i, c] - top[c]) for c < m (arguments <= 0): range reduction by
        k = round(x log2 e), the degree-13 polynomial, scaling by 2^k built in the exponent bits
        (T, K: scratch, float64 (m,)).  Within 1 ulp of libm's exp (tests/test_sgd.py); weights
        below e^-708 relative to the largest are 0.  Vectorisable, unlike the libm call; no
        reassociation here (it would undo the two-part ln 2)."""
        n = Lg.shape[0]
        Ti = T.view(np.int64)
        Ki = K.view(np.int64)
        for i in range(n):
            for c in range(m):
                x = max(Lg[i, c] - top[c], _EXP_FLOOR)
                k = np.floor(x * _EXP_LOG2E + 0.5)
                T[c] = k + _EXP_SHIFT
                r = x - k * _EXP_LN2_HI - k * _EXP_LN2_LO
                p = _EXP_C[13]
                p = p * r + _EXP_C[12]
                p = p * r + _EXP_C[11]
                p = p * r + _EXP_C[10]
                p = p * r + _EXP_C[9]
                p = p * r + _EXP_C[8]
                p = p * r + _EXP_C[7]
                p = p * r + _EXP_C[6]
                p = p * r + _EXP_C[5]
                p = p * r + _EXP_C[4]
                p = p * r + _EXP_C[3]
                p = p * r + _EXP_C[2]
                p = p * r + 1.0
                p = p * r + 1.0
                Lg[i, c] = p if Lg[i, c] - top[c] >= _EXP_FLOOR else 0.0
            for c in range(m):
                Ki[c] = (Ti[c] - _EXP_SHIFT_BITS + 1023) << 52
            for c in range(m):
                Lg[i, c] *= K[c]

    @njit(cache=True, fastmath={"reassoc", "contract"})
    def _sgd_sums(words, S, C, sq, G, vv):
        """Draws S samples from the PCG64 stream in ``words`` and adds the sum over them of
        w_i v + w_i (y - c_i) <c_i - v, v> to G (n, d); writes |v|^2 per sample to vv[:S] and
        returns its sum.  Samples in blocks of _B, the sample loop innermost."""
        n, d = C.shape
        B = _B
        YT = np.empty((d, B))
        Lg = np.empty((n, B))
        V = np.empty((d, B))
        top = np.empty(B)
        F = np.empty(B)
        T = np.empty(B)
        K = np.empty(B)
        total = 0.0
        for a0 in range(0, S, B):
            m = min(B, S - a0)
            _normals(words, YT, m)
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
            _softmax_exp(Lg, top, m, T, K)
            for c in range(m):
                F[c] = 0.0
            for i in range(n):
                for c in range(m):
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
    def _sgd_chunk(words, C, h, steps, nsteps, S, sched, ist, rsteps, rvals, rC, rP, draw):
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
                part = _sgd_sums(words, m, C, sq, G, vv)
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
