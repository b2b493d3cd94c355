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

``Rules(mode="outcome")`` is the far-start claims' rule instead (:mod:`verify.outcomes`, where it is
documented): ``converged`` when r_i <= ``converge_tol`` at each of the last ``window`` + 1
records, ``diverging`` when r_i is not finite or strictly increased over them and ended above its
own r_i(0).  Both modes stop a run early (``stop_when_classified``) by the same rule they classify
with, in Python and in the compiled engine alike.
"""
from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from verify import model
from verify import precision as _precision
from verify.precision import Precision
from verify.quadrature import Float64RangeError, InaccurateError, log10_abs

CONVERGED, DIVERGING, UNDECIDED = "converged", "diverging", "undecided"
FLOAT64_OVERFLOW = 1e60
RULE_MODES = ("monotone", "outcome")


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
    mode: str = "monotone"      # or "outcome" (module docstring)

    def __post_init__(self):
        if self.mode not in RULE_MODES:
            raise ValueError(f"Rules.mode must be one of {RULE_MODES}, got {self.mode!r}")

    def to_dict(self) -> dict:
        out = {"converge_tol": self.converge_tol, "diverge_bound": self.diverge_bound,
               "window": self.window}
        if self.mode != "monotone":
            out["mode"] = self.mode
        return out


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
    if rules.mode == "outcome":
        return _classify_outcome(dist_history, rules)
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


def _classify_outcome(dist_history: list[list[float]], rules: Rules) -> list[str]:
    """Rules(mode="outcome"): per mean, over the last ``window`` + 1 records -- converged when
    every r_i <= converge_tol; diverging when the last is not finite, or r_i strictly increased
    and ended above r_i(0) (the first record); otherwise undecided."""
    w = rules.window
    out = []
    for i in range(len(dist_history[0])):
        r = [row[i] for row in dist_history]
        tail = r[-(w + 1):]
        if not math.isfinite(r[-1]):
            out.append(DIVERGING)
        elif len(tail) == w + 1 and max(tail) <= rules.converge_tol:
            out.append(CONVERGED)
        elif (len(tail) == w + 1 and all(b > a for a, b in zip(tail, tail[1:]))
              and r[-1] > r[0]):
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
    """The step bar (verify.progress): None means shown on a terminal for long runs only."""
    from verify import progress
    return progress.gd_bar(total, desc, enabled)


ENGINES = ("auto", "numba", "numpy")


def _float64_recheck(su, C, tau: int, traj):
    """The policy re-applied to the iterate C of a multiprecision run, after every step (it costs
    ~0.3 ms, a multiprecision step milliseconds to seconds; rechecked only every 10th step, a
    spread growing fast -- thm3.2's split -- kept runs in multiprecision for steps float64 could
    take, each up to ~30 s where the Arb kernel hands a 3-D split span to mpmath): (float64
    precision, exact parameters) when float64 now gives the digits asked, with
    the switch recorded in ``traj.precision["switched"]``; (None, None) otherwise."""
    now = model.check_params(C.tolist(), "c")
    cand = su.policy(now, "auto")
    if not cand.is_float64:
        return None, None
    traj.precision["switched"] = {"step": tau, **cand.to_dict()}
    return cand, now


def evaluator_for(prec: Precision):
    """The evaluator of a run whose precision policy asks for more than float64 (and of the
    mpmath phase of a run that later drops to float64).  One place, so another multiprecision
    kernel can be swapped in; float64 steps use the compiled engine or ``model.Evaluator``.
    Multiprecision runs use the Arb kernel (:mod:`verify.engine_arb`), which hands any
    configuration it does not cover to ``model.Evaluator`` itself and keeps the reason (its
    ``fallbacks`` list and each Estimate's ``rule["engine"]``)."""
    if prec.is_float64:
        return model.Evaluator(prec)
    try:
        from verify.engine_arb import ArbEvaluator
    except ImportError:  # pragma: no cover - python-flint is a declared dependency
        return model.Evaluator(prec)
    return ArbEvaluator(prec)


def _compiled_engine():
    """verify.engine_f64, or None when numba is unavailable."""
    try:
        from verify import engine_f64
    except ImportError:  # pragma: no cover - numba is a declared dependency
        return None
    return engine_f64


def _check_engine(engine: str):
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "numba" and _compiled_engine() is None:
        raise ValueError("engine='numba' needs numba installed (pip install numba)")
    return engine != "numpy" and _compiled_engine() is not None


class _Setup:
    """Validated inputs of one run, its precision policy and its (empty) trajectory."""

    def __init__(self, c0, eta, steps, digits, backend, t, parameterisation, rules):
        self.c_exact = model.check_params(c0, "c0")
        self.eta_x = _precision.exact(eta, "eta")
        if self.eta_x <= 0:
            raise ValueError(f"eta must be > 0, got {eta!r}")
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"steps must be a nonnegative integer, got {steps!r}")
        from verify.inputs import check_parameterisation, check_t
        check_parameterisation(parameterisation)
        self.tt = check_t(t)
        self.digits, self.backend, self.parameterisation = digits, backend, parameterisation
        self.rules = rules or Rules()
        self.steps = steps
        self.prec = self.policy(self.c_exact, backend)
        self.traj = Trajectory(rules=self.rules.to_dict(), precision=self.prec.to_dict(),
                               settings={"eta": str(eta), "steps": steps, "t": str(t),
                                         "digits": digits, "parameterisation": parameterisation,
                                         "backend": self.prec.backend})
        self.initial_max = max(_to_float(mpmath.sqrt(sum(x * x for x in r))) for r in self.c_exact)

    def policy(self, c_ex, backend_: str) -> Precision:
        return model._resolve_precision(c_ex, self.digits, None, backend_, model._scale_digits(c_ex))

    def convert(self, prec: Precision, rows):
        if prec.is_float64:
            return np.array([[float(x) for x in r] for r in rows], dtype=float)
        ctx = _precision.context(prec.dps)
        return np.array([[ctx.convert(x) for x in r] for r in rows], dtype=object)

    def eff_step(self, prec: Precision):
        if prec.is_float64:
            e = float(self.eta_x)
            return e * math.exp(-2 * float(self.tt)) if self.parameterisation == "clean" else e
        ctx = _precision.context(prec.dps)
        e = ctx.convert(self.eta_x)
        return e * ctx.exp(-2 * ctx.convert(self.tt)) if self.parameterisation == "clean" else e


def run_gd(c0, eta, steps: int, *, digits: int = 20, backend: str = "auto", t=0,
           parameterisation: str = "noised", rules: Rules | None = None,
           stop_when_classified: bool = False, progress: bool | None = None,
           desc: str = "GD", max_seconds: float | None = None, engine: str = "auto",
           objective: str = "forward-fisher", t_range=None) -> Trajectory:
    """Population gradient descent from centred parameters ``c0`` (n x d) for ``steps`` steps.

    ``objective`` (SPEC §6, :mod:`verify.objectives`): the paper's forward-fisher (default; the
    engines below) or gradient-em / reverse-fisher / time-averaged (``t_range``), stepped by
    :func:`run_objective_gd`, with the same records, classification and stop rules.

    eta > 0 is the step on the chosen parameterisation (the effective step on c is eta, or
    eta e^{-2t} for "clean").  The precision comes from the policy for ``c0`` and ``digits``
    (float64 when it suffices).  A run that starts in mpmath only because the parameters are close
    together (the usual small-spread start) re-applies the policy to the current iterate after
    every step and continues in float64 from the first iterate where the policy says
    float64 gives ``digits`` digits there; the switch (step and policy) is kept in
    ``traj.precision["switched"]``.
    The loss is evaluated together with the gradient, so it costs nothing extra.

    Range switch (``backend="auto"`` only): a float64 step that float64 cannot represent at all
    (the integrand's mass lies where float64 Gaussian weights underflow,
    :class:`~verify.quadrature.Float64RangeError`) is taken again, from the same iterate, in
    multiprecision (:func:`evaluator_for`; same ``digits``, working precision from the policy with
    float64 excluded), and the run stays there to the end (no return to float64: the far mass
    that forced the switch is still there a step later).  The switch is recorded in
    ``traj.settings["backend_switch"]`` = {"step", "from": "float64", "to": "mpmath",
    "evaluator", "dps", "reason"}; ``traj.precision``'s top-level fields then describe the
    multiprecision steps and ``traj.precision["raised"]`` = {"step", "from": <the float64
    precision>}.  Steps before ``step`` are float64, steps from ``step`` on multiprecision; no
    step is repeated or skipped.  With an explicit ``backend="float64"`` the run stops there
    instead ("unresolved gradient at step k: ...").

    ``engine`` chooses how float64 steps run: "numba" (the compiled engine
    :mod:`verify.engine_f64`, many steps per call), "numpy" (``model.Evaluator``, one step per
    Python iteration; the reference), or "auto" (numba when installed).  A compiled step whose
    error estimate misses the target is taken on the numpy path instead, and
    ``traj.settings["engine_fallbacks"]`` says which steps and why.
    """
    if objective != "forward-fisher":
        return run_objective_gd(c0, eta, steps, objective=objective, t_range=t_range,
                                digits=digits, backend=backend, t=t,
                                parameterisation=parameterisation, rules=rules,
                                stop_when_classified=stop_when_classified, progress=progress,
                                desc=desc, max_seconds=max_seconds)
    compiled = _check_engine(engine)
    su = _Setup(c0, eta, steps, digits, backend, t, parameterisation, rules)
    su.traj.settings["engine"] = "numba" if compiled else "numpy"
    ph = _Phase(su, su.convert(su.prec, su.c_exact), 0, su.prec, su.eff_step(su.prec))
    start = time.perf_counter()
    bar = _progress(steps, progress, desc)
    try:
        with _Interrupt() as intr:
            while True:
                _reference_steps(ph, compiled, stop_when_classified, intr, bar, start,
                                 max_seconds)
                if su.traj.stop_reason:
                    break
                # float64 in the compiled engine from here
                run = _F64Run(su, ph.C, ph.tau, ph.prec, ph.h, stop_when_classified)
                if ph.pending == "classified":  # classified at the hand-over step
                    ph.pending = None
                    run.finish_classified()
                    run.sync()
                _drive([run], steps, intr, bar, start, max_seconds)
                ph.C, ph.tau = run.C, run.tau
                ph.evaluations += run.evaluations
                if run.range_error is None or not _raise_precision(ph, run.range_error,
                                                                   run.pending):
                    break
    finally:
        if bar is not None:
            bar.close()
    _finish(su.traj, ph.C, ph.tau, su.rules, su.initial_max, len(su.c_exact))
    su.traj.evaluations = ph.evaluations
    su.traj.seconds = time.perf_counter() - start
    return su.traj


class _Phase:
    """The state of a run between its phases (reference loop, compiled engine): iterate, step,
    precision, effective step size, evaluations so far, and a stop the next phase owes (the
    compiled engine found every parameter classified but could not evaluate that step)."""

    def __init__(self, su: _Setup, C, tau: int, prec: Precision, h):
        self.su, self.C, self.tau, self.prec, self.h = su, C, tau, prec, h
        self.evaluations = 0
        self.pending: str | None = None
        self.ev = None  # an evaluator handed over by _raise_precision

    @property
    def raised(self) -> bool:
        return "backend_switch" in self.su.traj.settings


def _raise_precision(ph: _Phase, why: str, pending: str | None = None) -> bool:
    """Continue the run ``ph`` from its current iterate in multiprecision after float64 could not
    represent step ``ph.tau`` (range).  Records the switch; False (with the stop reason set)
    when the policy cannot give the digits in multiprecision either."""
    su, traj = ph.su, ph.su.traj
    rows = [[_precision.exact(x) for x in r] for r in ph.C.tolist()]  # floats are exact in mpf
    try:
        high = su.policy(rows, "mpmath")
    except ValueError as e:
        traj.stop_reason = f"unresolved gradient at step {ph.tau}: {why}; multiprecision: {e}"
        return False
    ev = evaluator_for(high)
    traj.settings["backend_switch"] = {
        "step": ph.tau, "from": ph.prec.backend, "to": high.backend,
        "evaluator": f"{type(ev).__module__}.{type(ev).__name__}", "dps": high.dps,
        "reason": why.split("; use backend=")[0]}
    traj.precision.update(high.to_dict())
    traj.precision["raised"] = {"step": ph.tau, "from": ph.prec.to_dict()}
    ph.prec, ph.C, ph.h = high, su.convert(high, rows), su.eff_step(high)
    ph.ev = ev
    ph.pending = pending
    return True


def _reference_steps(ph: _Phase, compiled: bool, stop_when_classified: bool, intr, bar,
                     start: float, max_seconds: float | None) -> None:
    """Advance ``ph`` on the reference path (multiprecision, or float64 through model.Evaluator
    when the compiled engine is off) until the run stops (``traj.stop_reason`` set) or the
    precision is float64 with the compiled engine on (the caller continues there)."""
    su = ph.su
    traj, rules, steps = su.traj, su.rules, su.steps
    schedule = set(record_schedule(steps))
    ev, ph.ev = ph.ev, None
    while True:
        if compiled and ph.prec.is_float64:
            break  # the compiled engine continues from here
        if ev is None:
            ev = evaluator_for(ph.prec) if not ph.prec.is_float64 else model.Evaluator(ph.prec)
        C, tau = ph.C, ph.tau
        try:
            g_est, f_est = ev.grad(C.tolist(), "direct", with_loss=True)
        except (OverflowError, FloatingPointError):
            traj.stop_reason = "overflow"
            break
        except Float64RangeError as e:
            if su.backend == "auto" and ph.prec.is_float64:
                ph.evaluations += ev.integrator.evaluations
                ev = None
                if _raise_precision(ph, str(e)):
                    ev, ph.ev = ph.ev, None
                    continue  # the same step, now in multiprecision
                break
            traj.stop_reason = f"unresolved gradient at step {tau}: {e}"
            break
        except InaccurateError as e:
            traj.stop_reason = f"unresolved gradient at step {tau}: {e}"
            break
        if not g_est.ok:
            traj.stop_reason = (f"inaccurate gradient at step {tau}: error "
                                f"{g_est.max_error():.3g} ({g_est.rule.get('rule')})")
            break
        G = np.array(g_est.value, dtype=C.dtype)
        recorded = bool(traj.steps) and traj.steps[-1] == tau
        if tau in schedule and not recorded:
            _record(traj, tau, f_est, C, G)
            recorded = True
        if ph.pending == "classified":  # owed by the compiled engine: this step ends the run
            ph.pending = None
            if not recorded:
                _record(traj, tau, f_est, C, G)
            traj.stop_reason = "all parameters classified"
            break
        if bar is not None:
            bar.update(1)
        if tau >= steps:
            traj.stop_reason = "max steps"
            break
        if intr.hit:
            traj.interrupted = True
            traj.stop_reason = f"interrupted at step {tau}"
            if not recorded:
                _record(traj, tau, f_est, C, G)
            break
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            traj.stop_reason = f"time budget {max_seconds}s reached at step {tau}"
            if not recorded:
                _record(traj, tau, f_est, C, G)
            break
        C = C - G * ph.h
        tau += 1
        ph.C, ph.tau = C, tau
        if su.backend == "auto" and not ph.prec.is_float64 and not ph.raised:
            cand, now = _float64_recheck(su, C, tau, traj)
            if cand is not None:
                ph.prec = cand
                ph.evaluations += ev.integrator.evaluations
                ev = None
                ph.C = C = su.convert(cand, now)
                ph.h = su.eff_step(cand)
        if ph.prec.is_float64 and (not np.all(np.isfinite(C))
                                   or np.abs(C).max() > FLOAT64_OVERFLOW):
            traj.stop_reason = "overflow"
            break
        if stop_when_classified and tau in schedule and len(traj.steps) > rules.window:
            cls = classify(traj.dist, rules, su.initial_max)
            if UNDECIDED not in cls:
                ph.pending = "classified"  # the next pass evaluates this step, records it, stops
    if ev is not None:
        ph.evaluations += ev.integrator.evaluations


def run_gd_batch(c0s, eta, steps: int, *, digits: int = 20, backend: str = "auto", t=0,
                 parameterisation: str = "noised", rules: Rules | None = None,
                 stop_when_classified: bool = False, progress: bool | None = None,
                 desc: str = "GD batch", max_seconds: float | None = None,
                 engine: str = "auto", objective: str = "forward-fisher",
                 t_range=None) -> list[Trajectory]:
    """B independent runs (different starts ``c0s``; same n, d, eta, steps and options), advanced
    together by the compiled engine: each round moves every trajectory a chunk of steps.
    Each result is identical to ``run_gd(c0s[b], eta, steps, ...)`` with the same options
    (same iterates, records, classes and stop reasons; only ``seconds`` differs -- it is the batch's
    wall time).  Starts whose precision policy gives mpmath, or ``engine="numpy"``, run one by one
    through :func:`run_gd`.  ``max_seconds`` applies to the whole batch.

    A start that float64 cannot represent at some step (range, see :func:`run_gd`) leaves the
    batch alone: with ``backend="auto"`` it continues from that step in multiprecision after the
    compiled batch has finished (``settings["backend_switch"]`` as in run_gd), with an explicit
    ``backend="float64"`` it stops with its own reason; the other starts are not affected."""
    c0s = list(c0s)
    if objective != "forward-fisher":   # no compiled engine for these yet: one run per start
        return [run_gd(c, eta, steps, digits=digits, backend=backend, t=t,
                       parameterisation=parameterisation, rules=rules,
                       stop_when_classified=stop_when_classified, progress=False, desc=desc,
                       max_seconds=max_seconds, objective=objective, t_range=t_range)
                for c in c0s]
    compiled = _check_engine(engine)
    if not c0s:
        raise ValueError("c0s must hold at least one start")
    setups = [_Setup(c, eta, steps, digits, backend, t, parameterisation, rules) for c in c0s]
    shapes = {(len(s.c_exact), len(s.c_exact[0])) for s in setups}
    if len(shapes) != 1:
        raise ValueError(f"c0s must all have the same shape (n, d), got {sorted(shapes)}")
    out: list[Trajectory | None] = [None] * len(c0s)
    kw = dict(digits=digits, backend=backend, t=t, parameterisation=parameterisation,
              rules=rules, stop_when_classified=stop_when_classified, progress=False,
              max_seconds=max_seconds, engine=engine)
    batch = [b for b, s in enumerate(setups) if compiled and s.prec.is_float64]
    for b in range(len(c0s)):
        if b not in batch:
            out[b] = run_gd(c0s[b], eta, steps, **kw)
    if batch:
        start = time.perf_counter()
        runs = []
        for b in batch:
            su = setups[b]
            su.traj.settings["engine"] = "numba"
            runs.append(_F64Run(su, su.convert(su.prec, su.c_exact), 0, su.prec,
                                su.eff_step(su.prec), stop_when_classified))
        bar = _progress(steps * len(runs), progress, desc)
        phases = []
        try:
            with _Interrupt() as intr:
                _drive(runs, steps, intr, bar, start, max_seconds)
                for b, run in zip(batch, runs):
                    ph = _Phase(setups[b], run.C, run.tau, run.prec, run.h)
                    ph.evaluations = run.evaluations
                    if run.range_error is not None and _raise_precision(ph, run.range_error,
                                                                        run.pending):
                        # this start alone continues in multiprecision, as run_gd would
                        _reference_steps(ph, compiled, stop_when_classified, intr, None,
                                         start, max_seconds)
                    phases.append(ph)
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - start
        for b, ph in zip(batch, phases):
            su = setups[b]
            _finish(su.traj, ph.C, ph.tau, su.rules, su.initial_max, len(su.c_exact))
            su.traj.evaluations = ph.evaluations
            su.traj.seconds = seconds
            out[b] = su.traj
    return out  # type: ignore[return-value]


def run_objective_gd(c0, eta, steps: int, *, objective: str, t_range=None, digits: int = 20,
                     backend: str = "auto", t=0, parameterisation: str = "noised",
                     rules: Rules | None = None, stop_when_classified: bool = False,
                     progress: bool | None = None, desc: str = "GD",
                     max_seconds: float | None = None) -> Trajectory:
    """GD c <- c - eta grad J for an objective J of :mod:`verify.objectives` (for gradient-em
    this is the EM update c_i <- c_i + eta E[w_i (y - c_i)]).  One step per Python iteration
    (no compiled engine for these objectives); the precision is the policy's for ``c0``; a
    float64 step that float64's range cannot carry is taken again in mpmath and the run stays
    there (``settings["backend_switch"]``).  Steps whose estimate missed the digits asked are
    counted in ``settings["inaccurate_steps"]``; records hold the objective's own value."""
    from verify import objectives
    objectives.check_objective(objective)
    su = _Setup(c0, eta, steps, digits, backend, t, parameterisation, rules)
    su.traj.settings.update({"engine": "objectives", "objective": objective})
    if t_range is not None:
        su.traj.settings["t_range"] = list(objectives.time_weight(t_range).__dict__.values())[:2]
    prec = su.prec

    def stepper(p):  # multiprecision F / grad F (the time average's inner rule) on Arb
        return objectives.Stepper(objective, p, t_range,
                                  evaluator=None if p.is_float64 else evaluator_for(p))

    step = stepper(prec)
    C, h = su.convert(prec, su.c_exact), su.eff_step(prec)
    sched = set(record_schedule(steps))
    bad, evals, tau = 0, 0, 0
    start = time.perf_counter()
    bar = _progress(steps, progress, desc)
    try:
        with _Interrupt() as intr:
            while True:
                try:
                    f, g = step([list(r) for r in C])
                except Float64RangeError as e:
                    if backend != "auto" or not prec.is_float64:
                        su.traj.stop_reason = f"unresolved gradient at step {tau}: {e}"
                        break
                    prec = su.policy(su.c_exact, "mpmath")
                    su.traj.settings["backend_switch"] = {"step": tau, "from": "float64",
                                                          "to": "mpmath", "dps": prec.dps,
                                                          "reason": str(e)[:200]}
                    step = stepper(prec)
                    C, h = su.convert(prec, C.tolist()), su.eff_step(prec)
                    continue
                evals += 1
                bad += 0 if (f.ok and g.ok) else 1
                G = np.array(g.value, dtype=C.dtype)
                if tau in sched:
                    _record(su.traj, tau, f, C, G)
                    if stop_when_classified and tau > 0:
                        cls = classify(su.traj.dist, su.rules, su.initial_max)
                        if all(x != UNDECIDED for x in cls):
                            su.traj.stop_reason = "classified"
                            break
                if tau >= steps:
                    su.traj.stop_reason = "steps"
                    break
                if intr.hit:
                    su.traj.stop_reason = "interrupted"
                    su.traj.interrupted = True
                    break
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    su.traj.stop_reason = "time budget"
                    break
                C = C - G * h
                tau += 1
                if bar is not None:
                    bar.update(1)
                if (backend == "auto" and not prec.is_float64
                        and "backend_switch" not in su.traj.settings):
                    # as run_gd: float64 from the first iterate where the policy allows
                    cand, now = _float64_recheck(su, C, tau, su.traj)
                    if cand is not None:
                        prec, step = cand, stepper(cand)
                        C, h = su.convert(cand, now), su.eff_step(cand)
                if prec.is_float64 and not np.all(np.abs(C) < FLOAT64_OVERFLOW):
                    su.traj.stop_reason = "overflow"
                    break
    finally:
        if bar is not None:
            bar.close()
    if tau not in su.traj.steps and su.traj.stop_reason not in ("overflow", "steps", "classified"):
        f, g = step([list(r) for r in C])
        _record(su.traj, tau, f, C, np.array(g.value, dtype=C.dtype))
    switched = su.traj.precision.get("switched")
    su.traj.precision = prec.to_dict() if switched is None else \
        dict(su.prec.to_dict(), switched=switched)
    su.traj.settings["inaccurate_steps"] = bad
    _finish(su.traj, C, tau, su.rules, su.initial_max, len(su.c_exact))
    su.traj.evaluations = evals
    su.traj.seconds = time.perf_counter() - start
    return su.traj


def _finish(traj: Trajectory, C, tau: int, rules: Rules, initial_max: float, n: int) -> None:
    if traj.stop_reason == "overflow":
        traj.dist.append([math.inf] * n)
        traj.dist_log10.append([math.inf] * n)
        traj.steps.append(tau)
        traj.loss.append(math.inf)
        traj.loss_error.append(math.nan)
        traj.loss_log10.append(math.inf)
        traj.grad_norm.append(math.inf)
    traj.classes = classify(traj.dist, rules, initial_max)
    traj.final_c = [[mpmath.nstr(x, 50) if not isinstance(x, float) else repr(x) for x in r]
                    for r in C.tolist()]


class _F64Run:
    """One trajectory in the compiled engine: its iterate, records (numpy arrays the compiled
    loop appends to, mirrored into the Trajectory after each chunk) and warm-start state."""

    def __init__(self, su: _Setup, C, tau: int, prec: Precision, h: float,
                 stop_when_classified: bool):
        E = _compiled_engine()
        self.E, self.su, self.traj, self.prec, self.h = E, su, su.traj, prec, float(h)
        self.C = np.ascontiguousarray(np.array(C, dtype=float))
        self.tau = tau
        n, d = self.C.shape
        sched = record_schedule(su.steps)
        self.sched = np.zeros(su.steps + 1, dtype=np.bool_)
        self.sched[sched] = True
        have = len(self.traj.steps)
        cap = have + len(sched) + 4
        self.rsteps = np.zeros(cap, dtype=np.int64)
        self.rloss, self.rlerr, self.rgn = np.zeros(cap), np.zeros(cap), np.zeros(cap)
        self.rdist, self.rn2 = np.zeros((cap, n)), np.zeros((cap, n))
        for r in range(have):  # records of an mpmath phase, for the classification
            self.rsteps[r] = self.traj.steps[r]
            self.rdist[r] = self.traj.dist[r]
        self.ist = np.zeros(E.IST_LEN, dtype=np.int64)    # [records, tau, nodes, status, level]
        self.ist[E.IST_RECORDS], self.ist[E.IST_TAU] = have, tau
        self.synced = have
        self.state = E.new_state()
        self.ws = E.workspace()       # kept for the whole trajectory (its kept panel edges)
        self.cfg = E.Config(prec.digits + prec.spread_digits)
        bound = su.rules.diverge_bound if su.rules.diverge_bound is not None else 2 * su.initial_max
        self.fstop = np.array([su.rules.converge_tol, bound], dtype=float)
        # stopc[1]: 0 no early stop, 1 the "monotone" rule, 2 the "outcome" rule
        mode = 2 if su.rules.mode == "outcome" else 1
        self.stopc = np.array([su.rules.window, mode * int(stop_when_classified)], dtype=np.int64)
        self.stop_when_classified = stop_when_classified
        self.done = False
        self.ev = None
        self.fallbacks: dict[str, int] = {}
        self.fallback_steps: list[int] = []
        # float64 cannot represent step tau (backend "auto"): the caller continues in
        # multiprecision from here; ``pending`` is a stop the next phase owes ("classified")
        self.range_error: str | None = None
        self.pending: str | None = None

    @property
    def evaluations(self) -> int:
        ref = self.ev.integrator.evaluations if self.ev is not None else 0
        return int(self.ist[self.E.IST_NODES]) + ref

    def sync(self) -> None:
        """Mirror the new records into the Trajectory (same values as dynamics._record)."""
        tr = self.traj
        for r in range(self.synced, int(self.ist[self.E.IST_RECORDS])):
            tr.steps.append(int(self.rsteps[r]))
            F = float(self.rloss[r])
            tr.loss.append(F)
            tr.loss_error.append(float(self.rlerr[r]))
            tr.loss_log10.append(log10_abs(F))
            tr.dist.append([float(x) for x in self.rdist[r]])
            tr.dist_log10.append([log10_abs(float(x)) / 2 for x in self.rn2[r]])
            tr.grad_norm.append(float(self.rgn[r]))
        self.synced = int(self.ist[self.E.IST_RECORDS])

    def stop(self, reason: str) -> None:
        self.traj.stop_reason = reason
        self.done = True

    def _reference(self):
        if self.ev is None:
            self.ev = model.Evaluator(self.prec)
        return self.ev

    def evaluate(self, fallback_ok: bool = True):
        """(F, F error, G) at the current iterate: compiled, or the numpy path when the compiled
        estimate misses the target.  None (with the stop reason set) when neither resolves."""
        G = np.empty_like(self.C)
        F, Fe, status, nodes, _ = self.E.evaluate(self.C, self.cfg.params, self.state, G)
        self.ist[self.E.IST_NODES] += nodes
        if status == self.E.OK:
            return float(F), float(Fe), G
        return self._fallback_eval(int(status))

    def _fallback_eval(self, status: int):
        why = self.E.STATUS_TEXT.get(status, f"status {status}")
        self.fallbacks[why] = self.fallbacks.get(why, 0) + 1
        if len(self.fallback_steps) < 20:
            self.fallback_steps.append(int(self.tau))
        self.traj.settings["engine_fallbacks"] = {
            "steps": sum(self.fallbacks.values()), "first_steps": list(self.fallback_steps),
            "reasons": dict(self.fallbacks), "path": "numpy (model.Evaluator)"}
        try:
            g_est, f_est = self._reference().grad(self.C.tolist(), "direct", with_loss=True)
        except (OverflowError, FloatingPointError):
            self.stop("overflow")
            return None
        except Float64RangeError as e:
            if self.su.backend == "auto":
                self.range_error = str(e)
                self.done = True
            else:
                self.stop(f"unresolved gradient at step {self.tau}: {e}")
            return None
        except InaccurateError as e:
            self.stop(f"unresolved gradient at step {self.tau}: {e}")
            return None
        if not g_est.ok:
            self.stop(f"inaccurate gradient at step {self.tau}: error "
                      f"{g_est.max_error():.3g} ({g_est.rule.get('rule')})")
            return None
        return (float(f_est.value), float(f_est.error),
                np.ascontiguousarray(np.array(g_est.value, dtype=float)))

    def record(self, F, Fe, G) -> None:
        self.E.record(self.C, G, F, Fe, self.tau, self.rsteps, self.rloss, self.rlerr,
                      self.rdist, self.rn2, self.rgn, self.ist)

    def python_step(self) -> None:
        """One step on the reference path (the compiled estimate missed its target here);
        the same sequence as the compiled loop."""
        res = self._fallback_eval(int(self.ist[self.E.IST_STATUS]))
        if res is None:
            return
        F, Fe, G = res
        if self.sched[self.tau]:
            self.record(F, Fe, G)
        if self.tau >= self.su.steps:
            self.stop("max steps")
            return
        self.C[:] = self.C - self.h * G
        self.tau += 1
        self.ist[self.E.IST_TAU] = self.tau
        if not np.all(np.isfinite(self.C)) or np.abs(self.C).max() > FLOAT64_OVERFLOW:
            self.stop("overflow")
            return
        if (self.stop_when_classified and self.sched[self.tau]
                and self.ist[self.E.IST_RECORDS] > self.stopc[0]
                and self.E._classified(self.rdist, int(self.ist[self.E.IST_RECORDS]),
                                       int(self.stopc[0]),
                                       self.fstop[0], self.fstop[1], int(self.stopc[1]))):
            self.finish_classified()

    def finish_classified(self) -> None:
        res = self.evaluate()
        if res is not None:
            self.record(*res)
            self.stop("all parameters classified")
        elif self.range_error is not None:
            self.pending = "classified"  # the multiprecision phase records this step and stops

    def final_record(self, reason: str) -> None:
        """Stop early (Ctrl-C, time budget), recording the current step if not yet recorded."""
        last = int(self.ist[self.E.IST_RECORDS])
        if not (last and self.rsteps[last - 1] == self.tau):
            res = self.evaluate()
            if res is None:
                return
            self.record(*res)
        self.stop(reason)


def _drive(runs: list[_F64Run], steps: int, intr, bar, start: float,
           max_seconds: float | None) -> None:
    """Advance the runs chunk by chunk in the compiled engine until each stops; between chunks
    the progress bar moves, Ctrl-C and the time budget are checked, and a step the compiled
    engine hands back (estimate over target) is taken on the reference path."""
    E = runs[0].E
    B = len(runs)
    n, d = runs[0].C.shape
    cap = max(len(r.rsteps) for r in runs)
    Cs = np.stack([r.C for r in runs])
    states = np.stack([r.state for r in runs])
    ists = np.stack([r.ist for r in runs])
    fstops = np.stack([r.fstop for r in runs])
    rsteps = np.zeros((B, cap), dtype=np.int64)
    rloss, rlerr, rgn = np.zeros((B, cap)), np.zeros((B, cap)), np.zeros((B, cap))
    rdist, rn2 = np.zeros((B, cap, n)), np.zeros((B, cap, n))
    # the runs work on views of the stacked arrays, so the compiled and Python steps share them
    for b, r in enumerate(runs):
        m = len(r.rsteps)
        rsteps[b, :m], rdist[b, :m] = r.rsteps, r.rdist
        r.C, r.state, r.ist, r.fstop = Cs[b], states[b], ists[b], fstops[b]
        r.rsteps, r.rloss, r.rlerr, r.rgn = rsteps[b], rloss[b], rlerr[b], rgn[b]
        r.rdist, r.rn2 = rdist[b], rn2[b]
    codes = np.zeros(B, dtype=np.int64)
    active = np.array([not r.done for r in runs], dtype=np.bool_)
    chunk = 32
    while active.any():
        before = ists[:, E.IST_TAU].copy()
        t0 = time.perf_counter()
        E.run_chunk_batch(Cs, runs[0].h, steps, chunk, runs[0].sched, runs[0].cfg.params, states,
                          ists, runs[0].stopc, fstops, codes, active, rsteps, rloss, rlerr,
                          rdist, rn2, rgn, [r.ws for r in runs])
        dt = time.perf_counter() - t0
        # about 0.2 s between callbacks; the iterates do not depend on the chunking
        chunk = int(min(1 << 20, max(16, chunk * min(4.0, 0.2 / max(dt, 1e-6)))))
        for b, r in enumerate(runs):
            if not active[b]:
                continue
            r.tau = int(ists[b, E.IST_TAU])
            code = codes[b]
            if code == E.MAX_STEPS:
                r.stop("max steps")
            elif code == E.OVERFLOWED:
                r.stop("overflow")
            elif code == E.CLASSIFIED:
                r.finish_classified()
            elif code == E.FALLBACK:
                r.python_step()
            r.sync()
            if r.done:
                active[b] = False
        if bar is not None:
            bar.update(int((ists[:, E.IST_TAU] - before).sum()))
        stop_why = None
        if intr.hit:
            stop_why = "interrupted at step {}"
        elif max_seconds is not None and time.perf_counter() - start > max_seconds:
            stop_why = f"time budget {max_seconds}s reached at step {{}}"
        if stop_why:
            for b, r in enumerate(runs):
                if active[b]:
                    r.final_record(stop_why.format(r.tau))
                    r.traj.interrupted = r.traj.interrupted or intr.hit
                    r.sync()
                    active[b] = False
    for r in runs:
        r.C = np.array(r.C)


def _record(traj: Trajectory, tau: int, f_est, C: np.ndarray, G: np.ndarray) -> None:
    traj.steps.append(tau)
    traj.loss.append(_to_float(f_est.value))
    traj.loss_error.append(_to_float(f_est.error))
    traj.loss_log10.append(log10_abs(f_est.value))
    norms = [(row * row).sum() for row in C]
    traj.dist.append([_to_float(x) ** 0.5 if _to_float(x) > 0 else 0.0 for x in norms])
    traj.dist_log10.append([log10_abs(x) / 2 for x in norms])
    traj.grad_norm.append(_to_float(sum((row * row).sum() for row in G)) ** 0.5)
