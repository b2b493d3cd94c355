"""The public API in the paper's original coordinates (SPEC §2).

Learnable means m_1..m_n, target m*, noise level t >= 0.  At level t the student means are
mu_i = e^{-t} m_i and the target mean is mu* = e^{-t} m*.  Two parameterisations:

* ``"noised"``: the parameters are the mu_i (GD on the noised means); the gradient is grad_{mu_i} L;
* ``"clean"``: the parameters are the m_i; grad_{m_i} L = e^{-t} grad_{mu_i} L.

Both reduce to centred coordinates c_i = mu_i - mu* where L_t = F(c) (:mod:`verify.model`).

Bad input raises ValueError naming the argument: a string where a vector is expected (``['10',
'20']`` is not two vectors of characters), non-finite entries, t < 0 or t > MAX_T (= 10^6; e^{-t}
is below 10^-434294 there), digits/dps beyond the precision policy's maxima.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import mpmath
from mpmath import libmp

from verify import model
from verify import objectives
from verify import precision as _precision
from verify.precision import Precision

from verify.inputs import MAX_T, PARAMETERISATIONS, check_parameterisation, check_t  # noqa: F401


@dataclass
class Result:
    """A loss or gradient value with its absolute error estimate and the precision it ran at.

    value/error: an mpf/float, or n lists of d numbers for a gradient.  precision: the policy's
    choice (``precision.describe()`` for a one-line account).  rule: the quadrature used.
    """

    value: Any
    error: Any
    precision: Precision
    rule: dict = field(default_factory=dict)
    ok: bool = True
    parameterisation: str = "noised"
    t: Any = 0

    def __float__(self) -> float:
        return float(self.value)

    @property
    def digits_reached(self):
        """Significant digits the error bound certifies (``rule["digits_reached"]``; None when
        the engine did not measure them)."""
        return self.rule.get("digits_reached")


def _coerce(params, target, digits, dps):
    """The public inputs as the library reads them: numpy and other integer types
    (numbers.Integral, never bool) become int for ``digits``/``dps``; ``params``, its rows and
    ``target`` must be sequences (list, tuple, array: something with a length that can be read
    twice), so a generator or iterator is refused with a ValueError naming the argument rather
    than consumed by the first reader."""
    def integer(x):
        return int(x) if isinstance(x, numbers.Integral) and not isinstance(x, bool) else x

    def sequence(x, name, what):
        if isinstance(x, Iterator) or not (hasattr(x, "__len__") and hasattr(x, "__getitem__")):
            raise ValueError(f"{name} must be {what} (a list, tuple or array), got "
                             f"{type(x).__name__}")
        return x

    params = sequence(params, "params", "a sequence of n vectors")
    if not isinstance(params, (str, bytes, bytearray, dict)):
        for i, row in enumerate(params):
            if not isinstance(row, (str, bytes, bytearray)):
                sequence(row, f"params[{i}]", "a vector (a sequence of numbers)")
    target = sequence(target, "target", "a vector")
    return params, target, integer(digits), integer(dps)


def _centring_dps(params, target, digits, dps) -> int | None:
    """Digits for forming e^{-t} (m - m*): the digits asked (or the fixed dps) plus 40 guard
    digits plus the parameters' spread; None (centred's default) when neither is given."""
    want = dps if dps is not None else digits
    if want is None:
        return None
    log_scale, log_spread = _precision.scale_and_spread(
        model.check_params(params, "params") + [model.check_vector(target, len(params[0]), "target")])
    spread = 0 if not math.isfinite(log_spread) else max(0, math.ceil(log_scale - log_spread))
    return max(60, int(want) + 40) + spread


def centred(params, target, t=0, parameterisation: str = "noised", dps: int | None = None):
    """c_i = mu_i - mu* for the given parameters (exact when t = 0).

    For t > 0 the factor e^{-t} is irrational; it is applied at ``dps`` digits (default: enough
    for the parameters' own spread plus 40 guard digits), above any working precision that the
    policy will pick for them.
    """
    check_parameterisation(parameterisation)
    p = model.check_params(params, "params")
    d = len(p[0])
    m_star = model.check_vector(target, d, "target")
    tt = check_t(t)
    if tt == 0:
        return [[mpmath.mp.make_mpf(libmp.mpf_sub(a._mpf_, b._mpf_)) for a, b in zip(row, m_star)]
                for row in p]
    if dps is None:
        log_scale, log_spread = _precision.scale_and_spread(p + [m_star])
        spread = 0 if not math.isfinite(log_spread) else max(0, math.ceil(log_scale - log_spread))
        dps = 60 + spread

    ctx = _precision.context(dps)
    s = ctx.exp(-ctx.mpf(tt))
    mu_star = [s * x for x in m_star]
    if parameterisation == "clean":
        return [[s * mpmath.mp.make_mpf(libmp.mpf_sub(a._mpf_, b._mpf_)) for a, b in zip(row, m_star)]
                for row in p]
    return [[mpmath.mp.make_mpf(libmp.mpf_sub(a._mpf_, ctx.mpf(b)._mpf_)) for a, b in zip(row, mu_star)]
            for row in p]


def _objective(name: str, t, t_range) -> str:
    """The objective's name, checked (SPEC §6); the time average integrates over the noise level
    itself, so it takes t = 0 and its range from ``t_range``."""
    objectives.check_objective(name)
    if name == "time-averaged" and check_t(t) != 0:
        raise ValueError("the time-averaged objective integrates over t itself: give t = 0 and "
                         "the range as t_range=(T0, T1)")
    if t_range is not None and name != "time-averaged":
        raise ValueError("t_range applies to objective='time-averaged' only")
    return name


def loss(params, target, t=0, *, digits: int | None = None, dps: int | None = None,
         backend: str = "auto", parameterisation: str = "noised", strict: bool = True,
         objective: str = "forward-fisher", t_range=None) -> Result:
    """The population score-matching loss L_t = E_{x~q_t}|s(x) - grad log q_t(x)|^2 (no 1/2).

    params: n >= 2 vectors of length d (numbers are read exactly: ints, floats, decimal strings,
    mpf); target: m* (length d); t >= 0.  Give ``digits`` (correct digits wanted; the precision
    policy picks the working precision, float64 when it suffices) or ``dps`` (a fixed working
    precision).  ``objective`` selects another objective of SPEC §6 (gradient-em, reverse-fisher,
    time-averaged with ``t_range`` = (T0, T1), default (0, 1)).  The result carries its error
    estimate; with ``strict`` an estimate that misses the
    target raises :class:`verify.quadrature.InaccurateError`.
    """
    params, target, digits, dps = _coerce(params, target, digits, dps)
    c = centred(params, target, t, parameterisation, _centring_dps(params, target, digits, dps))
    if objective != "forward-fisher":
        est = objectives.value(_objective(objective, t, t_range), c, digits, dps=dps,
                               backend=backend, strict=strict, t_range=t_range)
        return Result(est.value, est.error, est.precision, est.rule, est.ok, parameterisation, t)
    est = model.F(c, digits, dps=dps, backend=backend, strict=strict)
    return Result(est.value, est.error, est.precision, est.rule, est.ok, parameterisation, t)


def gradient(params, target, t=0, *, digits: int | None = None, dps: int | None = None,
             backend: str = "auto", parameterisation: str = "noised", form: str | None = None,
             strict: bool = True, objective: str = "forward-fisher", t_range=None,
             accuracy: str = "quantity") -> Result:
    """The gradient of :func:`loss` with respect to the parameters (n lists of d numbers).

    ``accuracy``: "quantity" (default) holds every component to ``digits`` significant digits of
    the gradient's norm; "per-mean" holds each mean's block grad_i to its own norm, so a far
    mean's ~e^{-r^2/8} gradient gets its own digits (forward-fisher only).

    ``objective`` (default the paper's forward-fisher) selects the objective of SPEC §6
    (:mod:`verify.objectives`); ``t_range`` = (T0, T1) sets the time average's range.

    ``form`` selects the direct or the Stein form of SPEC §2 (equal in exact arithmetic).
    For ``parameterisation="clean"`` this is grad_{m_i} L = e^{-t} grad_{mu_i} L.
    """
    params, target, digits, dps = _coerce(params, target, digits, dps)
    c = centred(params, target, t, parameterisation, _centring_dps(params, target, digits, dps))
    if objective != "forward-fisher" and accuracy != "quantity":
        raise ValueError(f"accuracy={accuracy!r} is available for the forward-fisher objective "
                         "only")
    if objective != "forward-fisher":
        est = objectives.gradient(_objective(objective, t, t_range), c, digits, dps=dps,
                                  backend=backend, strict=strict, form=form, t_range=t_range)
    else:
        est = model.grad_F(c, digits, form=form or "direct", dps=dps, backend=backend,
                           strict=strict, accuracy=accuracy)
    value, error = est.value, est.error
    tt = check_t(t)
    if parameterisation == "clean" and tt != 0:
        if est.precision.is_float64:
            s = math.exp(-float(tt))
        else:
            ctx = _precision.context(est.precision.dps)
            s = ctx.exp(-ctx.mpf(tt))
        value = [[s * x for x in row] for row in value]
        error = [[s * x for x in row] for row in error]
    return Result(value, error, est.precision, est.rule, est.ok, parameterisation, t)


# Stochastic gradient descent with B fresh samples per step, 1 <= B <= 10^6 (issue 22; centred
# coordinates, reproducible from the seed, compiled engine): verify.api.run_sgd is
# verify.sgd.run_sgd, imported on first use, since verify.sgd imports numba (half of the time
# `import verify` took, for commands such as `verify list` that never run SGD).
def __getattr__(name: str):
    if name == "run_sgd":
        from verify.sgd import run_sgd
        return run_sgd
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
