"""Independent numerics for the spot checks of the derivations (issue 3).

Everything here runs in a private ``mpmath.MPContext`` so the global mpmath precision is never
touched.  The integrands are the *derived* SymPy expressions themselves, compiled by
:func:`compile_mp` to functions that compute in that private context; the Gaussian expectations
use rules that differ from the numeric core's (tanh-sinh in 1-D, a Gauss-Hermite product rule at
two orders in 2-D), so agreement with :mod:`verify.model` is evidence for both sides.
"""
from __future__ import annotations

import random
from functools import lru_cache
from typing import Any, Callable, Sequence

import mpmath
import sympy as sp


@lru_cache(maxsize=None)
def context(dps: int) -> mpmath.MPContext:
    """A private mpmath context at ``dps`` digits, shared per dps (never mutated after creation)."""
    ctx = mpmath.MPContext()
    ctx.dps = dps
    return ctx


def compile_mp(args: Sequence[sp.Symbol], expr, ctx: mpmath.MPContext) -> Callable:
    """``expr`` as a function of ``args`` evaluated in ``ctx`` (rationals, exp, ... at ctx precision)."""
    namespace = {"mpf": ctx.mpf, "exp": ctx.exp, "sinh": ctx.sinh, "cosh": ctx.cosh,
                 "sqrt": ctx.sqrt, "log": ctx.log, "pi": ctx.pi, "tanh": ctx.tanh, "erfc": ctx.erfc,
                 "erf": ctx.erf}
    # cse: the derived integrands repeat sinh/cosh/exp subterms; evaluate each once per call
    return sp.lambdify(list(args), expr, modules=[namespace, "mpmath"], cse=True)


def softmax(ctx, logits):
    top = max(logits)
    e = [ctx.exp(a - top) for a in logits]
    total = ctx.fsum(e)
    return [x / total for x in e]


def weights(ctx, c, y):
    """w_i(y) = softmax_i(<y, c_i> - |c_i|^2/2) in ``ctx`` (SPEC §2)."""
    return softmax(ctx, [ctx.fsum(yk * ck for yk, ck in zip(y, ci))
                         - ctx.fsum(ck * ck for ck in ci) / 2 for ci in c])


def expect_1d(ctx, f: Callable, breakpoints: Sequence = ()) -> tuple[Any, Any]:
    """E[f(z)], z ~ N(0, 1), by tanh-sinh on (-inf, inf) split at ``breakpoints``.

    ``f`` may return a number or a list of numbers; returns (value(s), error estimate)."""
    pts = sorted({ctx.mpf(b) for b in breakpoints} | {ctx.zero})
    interval = [-ctx.inf] + pts + [ctx.inf]
    norm = 1 / ctx.sqrt(2 * ctx.pi)
    cache: dict = {}

    def g(z):  # every component's quadrature visits the same nodes: evaluate f once per node
        if z not in cache:
            cache[z] = f(z)
        return cache[z]

    probe = g(ctx.zero)
    if isinstance(probe, (list, tuple)):
        weighted: dict = {}

        def gw(z):  # the components times the Gaussian factor, formed once per node
            if z not in weighted:
                e = ctx.exp(-z * z / 2)
                weighted[z] = [v * e for v in g(z)]
            return weighted[z]

        vals, errs = [], []
        for k in range(len(probe)):
            val, err = ctx.quad(lambda z, k=k: gw(z)[k], interval, error=True)
            vals.append(val * norm)
            errs.append(err * norm)
        return vals, max(errs)
    val, err = ctx.quad(lambda z: g(z) * ctx.exp(-z * z / 2), interval, error=True)
    return val * norm, err * norm


_GH_CACHE: dict[tuple[int, int], tuple[list, list]] = {}


def _gh_rule(ctx, order: int):
    key = (order, ctx.prec)
    if key not in _GH_CACHE:
        x, w = ctx.gauss_quadrature(order, "hermite")
        s2, sp_ = ctx.sqrt(2), ctx.sqrt(ctx.pi)
        _GH_CACHE[key] = ([xi * s2 for xi in x], [wi / sp_ for wi in w])
    return _GH_CACHE[key]


def expect_2d(ctx, f: Callable, orders: tuple[int, int] = (48, 64)):
    """E[f(y1, y2)], y ~ N(0, I_2), by Gauss-Hermite product rules of two orders.

    Returns (value(s) of the higher order, |difference| of the two orders as error estimate).
    Fast convergence needs the softmax transitions to be mild (|c_i - c_j| below ~1.5)."""
    results = []
    for order in orders:
        x, w = _gh_rule(ctx, order)
        acc = None
        for i in range(order):
            for j in range(order):
                val = f(x[i], x[j])
                wt = w[i] * w[j]
                if isinstance(val, (list, tuple)):
                    acc = [wt * v for v in val] if acc is None else [a + wt * v for a, v in zip(acc, val)]
                else:
                    acc = wt * val if acc is None else acc + wt * val
        results.append(acc)
    lo, hi = results
    if isinstance(hi, list):
        return hi, max(abs(a - b) for a, b in zip(lo, hi))
    return hi, abs(lo - hi)


def flat(x) -> list:
    if isinstance(x, (list, tuple)):
        return [z for item in x for z in flat(item)]
    return [x]


def agreement_digits(ctx, mine, theirs) -> float:
    """Digits of agreement between two numbers or nested lists, relative to the larger's scale.

    For vectors the scale is the largest entry (so a component that is ~0 is judged against the
    size of the whole gradient, not against itself).  Capped at the working precision."""
    a = [ctx.mpf(v) for v in flat(mine)]
    b = [ctx.mpf(v) for v in flat(theirs)]
    if len(a) != len(b):
        raise ValueError(f"shape mismatch: {len(a)} vs {len(b)} entries")
    scale = max([abs(v) for v in a + b] + [ctx.mpf(10) ** (-ctx.dps)])
    diff = max(abs(x - y) for x, y in zip(a, b))
    if diff == 0:
        return float(ctx.dps)
    return min(float(ctx.dps), float(-ctx.log10(diff / scale)))


def random_config(n: int, d: int, scale: float, seed: int) -> list[list[str]]:
    """Random rational-looking parameters as decimal strings (exact inputs for both sides)."""
    rng = random.Random(seed)
    return [[f"{rng.uniform(-scale, scale):.6f}" for _ in range(d)] for _ in range(n)]


def as_input(ctx, c) -> list[list[str]]:
    """Parameters as decimal strings carrying ctx.dps significant digits (zeros kept).

    Why: the numeric core parses a decimal string with a bit budget proportional to its length,
    so a short non-dyadic string such as "0.135" is rounded at ~26 digits; padding it to the
    working precision makes both sides read the same number to that precision."""
    return [[ctx.nstr(ctx.mpf(x), ctx.dps, strip_zeros=False) for x in row] for row in c]


def load_model():
    """(the numeric core, "") or (None, reason): the engine verify.model registered with
    :mod:`proofs.engine_hook` (proofs/ never imports verify/)."""
    from proofs import engine_hook
    return engine_hook.registered()
