"""Gradient descent on the population loss (SPEC §2 "Gradient descent"), with trajectories,
stop rules and a per-parameter classification.

GD runs in centred coordinates c_i = mu_i - mu*: the noised parameterisation steps
c <- c - eta grad F; the clean one steps m <- m - eta e^{-t} grad F, i.e. c <- c - eta e^{-2t} grad F.
The trajectory is recorded on a log-spaced schedule (every step up to 10, then ~12 per decade), so
a 10^6-step run keeps a few hundred records.

Classification of parameter i from its distance r_i(tau) = |c_i(tau)| to the target (explicit,
recorded rules, never by eye):

* ``converged``: r_i at the end <= ``converge_tol`` and r_i did not increase over the last
  ``window`` records;
* ``diverging``: r_i increased at every one of the last ``window`` records and ended above
  ``diverge_bound`` (default: twice the initial largest distance), or overflowed;
* ``undecided``: neither.
"""
from __future__ import annotations

import math
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from verify import model
from verify import precision as _precision
from verify.precision import Precision
from verify.quadrature import InaccurateError, log10_abs

CONVERGED, DIVERGING, UNDECIDED = "converged", "diverging", "undecided"
FLOAT64_OVERFLOW = 1e60


def record_schedule(max_steps: int, per_decade: int = 12) -> list[int]:
    """Steps 0..10 and then log-spaced steps up to max_steps (always included)."""
    steps = set(range(min(10, max_steps) + 1))
    x = 10.0
    while x < max_steps:
        steps.add(int(round(x)))
        x *= 10 ** (1 / per_decade)
    steps.add(max_steps)
    return sorted(steps)


@dataclass
class Rules:
    """The thresholds of the classification (recorded with every trajectory)."""

    converge_tol: float = 1e-3
    diverge_bound: float | None = None
    window: int = 5

    def to_dict(self) -> dict:
        return {"converge_tol": self.converge_tol, "diverge_bound": self.diverge_bound,
                "window": self.window}


@dataclass
class Trajectory:
    """What a GD run recorded.  Lists are aligned with ``steps``; ``dist[i]`` is |c_i| = |mu_i - mu*|."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    loss_error: list[float] = field(default_factory=list)
    loss_log10: list[float] = field(default_factory=list)  # exact-range log10 of the loss
    dist: list[list[float]] = field(default_factory=list)
    dist_log10: list[list[float]] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    final_c: list[list[str]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    stop_reason: str = ""
    interrupted: bool = False
    precision: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    evaluations: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        import dataclasses
        return dataclasses.asdict(self)


def _to_float(x) -> float:
    try:
        f = float(x)
    except OverflowError:
        return math.inf
    return f


def classify(dist_history: list[list[float]], rules: Rules, initial_max: float) -> list[str]:
    """Classes per parameter from the recorded distances (rows: records, columns: parameters)."""
    if not dist_history:
        return []
    bound = rules.diverge_bound if rules.diverge_bound is not None else 2 * initial_max
    n = len(dist_history[0])
    out = []
    tail = dist_history[-(rules.window + 1):]
    for i in range(n):
        r = [row[i] for row in tail]
        if not math.isfinite(r[-1]):
            out.append(DIVERGING)
        elif len(r) > rules.window and r[-1] <= rules.converge_tol and all(
                b <= a for a, b in zip(r, r[1:])):
            out.append(CONVERGED)
        elif len(r) > rules.window and r[-1] > bound and all(b > a for a, b in zip(r, r[1:])):
            out.append(DIVERGING)
        else:
            out.append(UNDECIDED)
    return out


class _Interrupt:
    """Turns the first Ctrl-C into a flag so the trajectory so far is kept.

    The Ctrl-C is also recorded process-wide (:mod:`verify.interrupt`): inside a claims run
    (an armed scope) the check is then stopped -- the next run refuses to start -- and never
    reported as a verdict.  Outside a claims run only this run ends, as before.
    """

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self):
        from verify import interrupt
        interrupt.check()  # a check stopped by Ctrl-C starts no new run
        try:
            self._old = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread
            self._old = None
        return self

    def _handler(self, signum, frame):
        from verify import interrupt
        interrupt.request()
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def _progress(total: int, enabled: bool | None, desc: str):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a declared dependency
        return None
    return tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr)


RECHECK_STEPS = 10  # how often a run in mpmath asks whether float64 now suffices


def run_gd(c0, eta, steps: int, *, digits: int = 20, backend: str = "auto", t=0,
           parameterisation: str = "noised", rules: Rules | None = None,
           stop_when_classified: bool = False, progress: bool | None = None,
           desc: str = "GD", max_seconds: float | None = None) -> Trajectory:
    """Population gradient descent from centred parameters ``c0`` (n x d) for ``steps`` steps.

    eta > 0 is the step on the chosen parameterisation (the effective step on c is eta, or
    eta e^{-2t} for "clean").  The precision comes from the policy for ``c0`` and ``digits``
    (float64 when it suffices).  A run that starts in mpmath only because the parameters are close
    together (the usual small-spread start) re-applies the policy to the current iterate every
    ``RECHECK_STEPS`` steps and continues in float64 from the first iterate where the policy says
    float64 gives ``digits`` digits there; the switch (step and policy) is kept in
    ``traj.precision["switched"]``.  The precision is never raised mid-run.
    The loss is evaluated together with the gradient, so it costs nothing extra.
    """
    c_exact = model.check_params(c0, "c0")
    eta_x = _precision.exact(eta, "eta")
    if eta_x <= 0:
        raise ValueError(f"eta must be > 0, got {eta!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a nonnegative integer, got {steps!r}")
    from verify.api import check_parameterisation, check_t
    check_parameterisation(parameterisation)
    tt = check_t(t)
    rules = rules or Rules()
    def policy(c_ex, backend_: str) -> Precision:
        return model._resolve_precision(c_ex, digits, None, backend_, model._scale_digits(c_ex))

    prec = policy(c_exact, backend)
    traj = Trajectory(rules=rules.to_dict(), precision=prec.to_dict(),
                      settings={"eta": str(eta), "steps": steps, "t": str(t), "digits": digits,
                                "parameterisation": parameterisation, "backend": prec.backend})
    schedule = set(record_schedule(steps))

    def convert(prec: Precision, rows):
        if prec.is_float64:
            return np.array([[float(x) for x in r] for r in rows], dtype=float)
        ctx = _precision.context(prec.dps)
        return np.array([[ctx.convert(x) for x in r] for r in rows], dtype=object)

    def eff_step(prec: Precision):
        if prec.is_float64:
            e = float(eta_x)
            return e * math.exp(-2 * float(tt)) if parameterisation == "clean" else e
        ctx = _precision.context(prec.dps)
        e = ctx.convert(eta_x)
        return e * ctx.exp(-2 * ctx.convert(tt)) if parameterisation == "clean" else e

    ev = model.Evaluator(prec)
    C = convert(prec, c_exact)
    h = eff_step(prec)
    initial_max = max(_to_float(mpmath.sqrt(sum(x * x for x in r))) for r in c_exact)
    start = time.perf_counter()
    bar = _progress(steps, progress, desc)
    tau = 0
    try:
        with _Interrupt() as intr:
            while True:
                rows = C.tolist()
                try:
                    g_est, f_est = ev.grad(rows, "direct", with_loss=True)
                except (OverflowError, FloatingPointError):
                    traj.stop_reason = "overflow"
                    break
                except InaccurateError as e:
                    traj.stop_reason = f"unresolved gradient at step {tau}: {e}"
                    break
                if not g_est.ok:
                    traj.stop_reason = (f"inaccurate gradient at step {tau}: error "
                                        f"{g_est.max_error():.3g} ({g_est.rule.get('rule')})")
                    break
                G = np.array(g_est.value, dtype=C.dtype)
                if tau in schedule:
                    _record(traj, tau, f_est, C, G)
                if bar is not None:
                    bar.update(1)
                if tau >= steps:
                    traj.stop_reason = "max steps"
                    break
                if intr.hit:
                    traj.interrupted = True
                    traj.stop_reason = f"interrupted at step {tau}"
                    if traj.steps[-1] != tau:
                        _record(traj, tau, f_est, C, G)
                    break
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    traj.stop_reason = f"time budget {max_seconds}s reached at step {tau}"
                    if traj.steps[-1] != tau:
                        _record(traj, tau, f_est, C, G)
                    break
                C = C - h * G
                tau += 1
                if (backend == "auto" and not prec.is_float64 and tau % RECHECK_STEPS == 0):
                    now = model.check_params(C.tolist(), "c")
                    cand = policy(now, "auto")
                    if cand.is_float64:
                        prec = cand
                        traj.precision["switched"] = {"step": tau, **cand.to_dict()}
                        ev = model.Evaluator(prec)
                        C = convert(prec, now)
                        h = eff_step(prec)
                if prec.is_float64 and not np.all(np.isfinite(C)) or (
                        prec.is_float64 and np.abs(C).max() > FLOAT64_OVERFLOW):
                    traj.stop_reason = "overflow"
                    break
                if stop_when_classified and tau in schedule and len(traj.steps) > rules.window:
                    cls = classify(traj.dist, rules, initial_max)
                    if UNDECIDED not in cls:
                        rows = C.tolist()
                        g_est, f_est = ev.grad(rows, "direct", with_loss=True)
                        _record(traj, tau, f_est, C, np.array(g_est.value, dtype=C.dtype))
                        traj.stop_reason = "all parameters classified"
                        break
    finally:
        if bar is not None:
            bar.close()
    if traj.stop_reason == "overflow":
        traj.dist.append([math.inf] * len(c_exact))
        traj.dist_log10.append([math.inf] * len(c_exact))
        traj.steps.append(tau)
        traj.loss.append(math.inf)
        traj.loss_error.append(math.nan)
        traj.loss_log10.append(math.inf)
        traj.grad_norm.append(math.inf)
    traj.classes = classify(traj.dist, rules, initial_max)
    traj.final_c = [[mpmath.nstr(x, 50) if not isinstance(x, float) else repr(x) for x in r]
                    for r in C.tolist()]
    traj.evaluations = ev.integrator.evaluations
    traj.seconds = time.perf_counter() - start
    return traj


def _record(traj: Trajectory, tau: int, f_est, C: np.ndarray, G: np.ndarray) -> None:
    traj.steps.append(tau)
    traj.loss.append(_to_float(f_est.value))
    traj.loss_error.append(_to_float(f_est.error))
    traj.loss_log10.append(log10_abs(f_est.value))
    norms = [(row * row).sum() for row in C]
    traj.dist.append([_to_float(x) ** 0.5 if _to_float(x) > 0 else 0.0 for x in norms])
    traj.dist_log10.append([log10_abs(x) / 2 for x in norms])
    traj.grad_norm.append(_to_float(sum((row * row).sum() for row in G)) ** 0.5)
