"""The small-initialisation runs shared by the claims thm3.2 and lem3.3 (not a claim itself).

thm3.2's initialisation (every mean within (1/(108 n d)) exp(-106 n d M0^3) of the origin, as
reported), the run plans of both claims, and ``tracked_gd``: high-precision gradient descent with
the centre and the spread recorded at every step.  Both claims read their runs from here, so no
claim imports another claim.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from verify import dynamics, model
from verify import precision as _precision

ETA = "0.25"
DIGITS = 20          # correct digits wanted on top of the spread digits
TIERS = {
    # (n, d, M0) runs; steps per run
    "quick": {"runs": [(2, 1, "1"), (3, 1, "1"), (3, 2, "1")], "steps": 160},
    "full": {"runs": [(2, 1, "1"), (3, 1, "1"), (3, 2, "1"), (2, 2, "1.2"), (4, 2, "1"),
                      (4, 3, "1"), (2, 1, "2.2")], "steps": 400},
}


def scale_bound(n: int, d: int, M0, ctx):
    """(1/(108 n d)) exp(-106 n d M0^3) in ctx (an mpf: no underflow down to any exponent)."""
    M0 = ctx.convert(_precision.exact(M0, "M0"))
    return ctx.exp(-106 * n * d * M0 ** 3) / (108 * n * d)


def initial_parameters(n: int, d: int, M0, seed: int, init_scale=None) -> dict:
    """m*: M0 e_1; m_i(0) = r_i u_i, u_i uniform on the sphere, r_i uniform in [bound/2, bound]
    (or ``init_scale`` instead of bound: a deliberately too large start).  Returns the centred
    c_i = m_i - m* computed at enough digits to keep 40 digits of the spread (exact for the run),
    and the bound in log10."""
    rng = random.Random(f"{seed}-{n}-{d}-{M0}")
    lo = _precision.context(30)
    bound = scale_bound(n, d, M0, lo) if init_scale is None else lo.convert(_precision.exact(init_scale))
    log10_bound = float(lo.log10(bound))
    ctx = _precision.context(max(30, int(-log10_bound) + 60))
    b = ctx.convert(bound) if init_scale is None else ctx.convert(_precision.exact(init_scale))
    M0x = ctx.convert(_precision.exact(M0))
    c, m = [], []
    for _ in range(n):
        u = [ctx.mpf(rng.gauss(0, 1)) for _ in range(d)]
        nu = ctx.sqrt(ctx.fsum(x * x for x in u))
        r = b * ctx.mpf(rng.uniform(0.5, 1.0))
        mi = [r * x / nu for x in u]
        m.append(mi)
        c.append([mi[0] - M0x] + mi[1:])
    return {"c": c, "m": m, "log10_bound": log10_bound, "dps_init": ctx.dps,
            "max_init_norm_log10": max(float(ctx.log10(ctx.sqrt(ctx.fsum(x * x for x in mi)))) for mi in m)}


@dataclass
class Track:
    """Per-step data of a tracked GD run (every step; runs are a few hundred steps).

    loss_log10, centre_log10 (|a|, a = mean_i c_i), dev_log10 (max_i |c_i - a|), spread_log10
    (min_{i<j} |c_i - c_j|), dist (|c_i|, floats) per step; factors: |a(tau+1)| / |a(tau)| as
    decimal strings (they differ from 1 - 2 eta/n by far less than a double resolves)."""

    steps: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    loss_err: list = field(default_factory=list)
    loss_log10: list = field(default_factory=list)
    centre: list = field(default_factory=list)        # |a| as mpf (kept for exact factors)
    dev_log10: list = field(default_factory=list)
    spread_log10: list = field(default_factory=list)
    dist: list = field(default_factory=list)
    ref_dist_log10: list = field(default_factory=list)   # with track_reference: max_i |c_i - A e|
    classes: list = field(default_factory=list)
    params: list = field(default_factory=list)       # with keep_params: c (n x d, working precision) per step
    precision: object = None
    stop_reason: str = ""
    seconds: float = 0.0


def _log10(ar, x) -> float:
    if x == 0:
        return -math.inf
    return math.log10(x) if ar.ctx is None else float(ar.ctx.log10(x))


def tracked_gd(c0, eta, steps: int, digits: int = DIGITS, *, backend: str = "auto",
               rules: dynamics.Rules | None = None, track_reference=None,
               keep_params: bool = False) -> Track:
    """GD c <- c - eta grad F (t = 0, so noised = clean parameterisation) with the spread and the
    centre recorded at every step.  The precision comes from the policy for c0 (float64 only when
    it suffices); backend='float64' forces double precision (the comparison runs).
    track_reference=(M0, kappa, eta) also records max_i |c_i - A(tau) e| with
    A(tau) = M0 (1 - kappa eta/n)^tau and e = -e_1 (the reference point of claim lem3.3).
    keep_params=True keeps every step's parameters (tr.params).
    Classification: the rule of :func:`verify.dynamics.classify` on the record schedule of :mod:`verify.dynamics`."""
    from verify.quadrature import Arith
    rules = rules or dynamics.Rules()
    c_exact = model.check_params(c0, "c0")
    prec = _precision.choose(c_exact, digits, allow_float64=(backend != "mpmath"))
    if backend == "float64" and not prec.is_float64:
        # forced: the comparison run shows what double precision does, whatever the policy says
        # (asking for the spread digits too would be asking float64 for ~100 digits)
        prec = _precision.Precision(digits, 0, _precision.FLOAT64_GUARD, None, "float64")
    ar = Arith(prec)
    ev = dynamics.evaluator_for(prec)
    C = ar.array(c_exact)
    h = ar.num(_precision.exact(eta))
    n = len(c_exact)
    tr = Track(precision=prec)
    schedule = set(dynamics.record_schedule(steps))
    sched_dist = []
    if track_reference is not None:
        M0r, kappa, eta_r = (ar.num(_precision.exact(x)) for x in track_reference)
        q_ref = 1 - kappa * eta_r / n
        e_ref = ar.zeros(len(c_exact[0]))
        e_ref[0] = ar.num(-1)
    t0 = time.perf_counter()
    for tau in range(steps + 1):
        rows = C.tolist()
        g, f = ev.grad(rows, "direct", with_loss=True)
        if not g.ok:
            tr.stop_reason = f"inaccurate gradient at step {tau}: error {g.max_error():.3g}"
            break
        a = C.sum(axis=0) / n
        dev = max(ar.sqrt(((row - a) ** 2).sum()) for row in C)
        spread = min(ar.sqrt(((C[i] - C[j]) ** 2).sum()) for i in range(n) for j in range(i + 1, n))
        dist = [float(ar.sqrt((row * row).sum())) for row in C]
        tr.steps.append(tau)
        tr.loss.append(f.value)
        tr.loss_err.append(float(f.error))
        tr.loss_log10.append(_log10(ar, f.value))
        tr.centre.append(ar.sqrt((a * a).sum()))
        tr.dev_log10.append(_log10(ar, dev))
        tr.spread_log10.append(_log10(ar, spread))
        tr.dist.append(dist)
        if track_reference is not None:
            ref = M0r * q_ref ** tau * e_ref
            tr.ref_dist_log10.append(_log10(ar, max(ar.sqrt(((row - ref) ** 2).sum()) for row in C)))
        if keep_params:
            tr.params.append([list(row) for row in rows])
        if tau in schedule:
            sched_dist.append(dist)
        if tau == steps:
            tr.stop_reason = "max steps"
            break
        C = C - ar.array(g.value) * h
        if any(not math.isfinite(x) or x > dynamics.FLOAT64_OVERFLOW for x in dist):
            tr.stop_reason = "overflow"
            break
    initial_max = max(tr.dist[0]) if tr.dist else 0.0
    tr.classes = dynamics.classify(sched_dist, rules, initial_max)
    tr.seconds = time.perf_counter() - t0
    return tr


def run_config(n: int, d: int, M0, steps: int, seed: int, init_scale=None, eta=ETA) -> dict:
    """The high-precision run and the float64 run on the same (rounded) initialisation."""
    init = initial_parameters(n, d, M0, seed, init_scale)
    hp = tracked_gd(init["c"], eta, steps, keep_params=True)
    c_float = [[float(x) for x in row] for row in init["c"]]
    fl = tracked_gd(c_float, eta, steps, digits=8, backend="float64")
    return {"n": n, "d": d, "M0": str(M0), "init": init, "hp": hp, "float64": fl,
            "float_identical": all(row == c_float[0] for row in c_float)}


def first_converged_step(tr: Track, tol: float) -> int | None:
    for s, dist in zip(tr.steps, tr.dist):
        if max(dist) <= tol:
            return s
    return None
