"""The precision policy (SPEC §4): how many digits a configuration needs, and local contexts.

A run asks for ``digits`` correct decimal digits.  The working precision adds

* the *spread digits* ``log10(scale / spread)``, where ``scale = max_i |c_i|`` and ``spread`` is
  the smallest nonzero ``|c_i - c_j|`` (centred coordinates, SPEC §2): the part of the gradient that
  separates the parameters is that much smaller than the common part, so it needs that many more
  digits to survive; and
* guard digits for rounding in quadrature sums.

Arithmetic happens in a private :class:`mpmath.MPContext` per working precision, so library code
never touches the global ``mpmath.mp``.  Configurations whose working precision fits in a double and
whose magnitudes stay well inside the double range run on the vectorised float64 path instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath
from mpmath import libmp

GUARD_DIGITS = 10
STRING_BITS = 4000
MIN_DIGITS = 1
MIN_DPS = 15
# Largest digits / working precision accepted (ValueError beyond).  The quadrature ladder tops out
# at Gauss-Legendre 96 per panel, which reaches ~125-138 digits on separated configurations
# (measured on [[1],[0]]: 120 digits asked give 125.8 (loss) and 124.1 (gradient) certified;
# 140 asked stop at 138.0 and 135.8), so the cap is what that rule reaches: larger requests would
# only spend minutes before failing, and are refused up front.  (Was 500: unreachable.)
MAX_DIGITS = 120
MAX_DPS = 1200
FLOAT64_DIGITS = 15  # what a double holds; the float64 path needs digits + spread + guard <= this
FLOAT64_GUARD = 3
# Magnitudes at which float64 is trusted: the integrands hold products up to |c|^4.
FLOAT64_MIN_SCALE = 1e-60
FLOAT64_MAX_SCALE = 1e60


@lru_cache(maxsize=None)
def context(dps: int) -> mpmath.ctx_mp.MPContext:
    """A private mpmath context at ``dps`` decimal digits (cached; never the global ``mp``)."""
    if dps < MIN_DPS:
        raise ValueError(f"dps must be at least {MIN_DPS}, got {dps}")
    ctx = mpmath.MPContext()
    ctx.dps = dps
    return ctx


@dataclass(frozen=True)
class Precision:
    """The precision a computation runs at.

    digits: correct digits asked for; spread_digits: log10(scale/spread) added for the spread;
    dps: working decimal digits (None on the float64 path); backend: "mpmath" or "float64".
    """

    digits: int
    spread_digits: int
    guard: int
    dps: int | None
    backend: str

    @property
    def is_float64(self) -> bool:
        return self.backend == "float64"

    def describe(self) -> str:
        if self.is_float64:
            return f"float64 (digits={self.digits}, spread digits={self.spread_digits})"
        extra = self.dps - self.digits - self.spread_digits - self.guard
        return (f"dps={self.dps} (digits={self.digits} + spread {self.spread_digits}"
                + (f" + cancellation {extra}" if extra > 0 else "") + f" + guard {self.guard})")

    def to_dict(self) -> dict:
        return {"digits": self.digits, "spread_digits": self.spread_digits, "guard": self.guard,
                "dps": self.dps, "backend": self.backend}


def _sq_norm_exact(vec) -> tuple:
    """|vec|^2 as an exact raw mpf value (no rounding: prec=0 in libmp means exact)."""
    acc = libmp.fzero
    for x in vec:
        t = x._mpf_
        acc = libmp.mpf_add(acc, libmp.mpf_mul(t, t))
    return acc


def _half_log10(raw: tuple) -> float:
    """0.5*log10 of a nonnegative raw mpf value; -inf for zero."""
    if raw == libmp.fzero:
        return -math.inf
    man, exp = libmp.to_man_exp(raw)
    bits = int(man).bit_length()
    if bits > 900:  # keep the mantissa inside the double range
        man >>= bits - 900
        exp += bits - 900
    return 0.5 * (math.log10(man) + exp * math.log10(2))


def exact(x, name: str = "value") -> mpmath.mpf:
    """``x`` as an mpf with no rounding at all (int, float, mpf, decimal string, or anything
    whose ``str`` is a decimal number, e.g. a Fraction-free SymPy Float).

    Decimal strings ("0.3") are read to STRING_BITS bits (~1200 digits), far beyond any working
    precision, so "0.3" means 0.3 at every precision a run uses.  Non-finite values
    raise ValueError naming ``name``.
    """
    if isinstance(x, mpmath.mpf):
        raw = x._mpf_
    elif isinstance(x, bool):
        raise ValueError(f"{name} must be a number, got {x!r}")
    elif isinstance(x, int):
        raw = libmp.from_int(x)
    elif isinstance(x, float):
        if not math.isfinite(x):
            raise ValueError(f"{name} must be finite, got {x!r}")
        raw = libmp.from_float(x)
    else:
        text = str(x).strip()
        try:
            raw = libmp.from_str(text, max(STRING_BITS, 4 * len(text) + 64), libmp.round_nearest)
        except (ValueError, TypeError):
            raise ValueError(f"{name} must be a real number, got {x!r}") from None
    if raw in (libmp.fnan, libmp.finf, libmp.fninf):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return mpmath.mp.make_mpf(raw)


def scale_and_spread(c) -> tuple[float, float]:
    """log10 of max_i |c_i| and of min_{i<j, c_i != c_j} |c_i - c_j|.

    Differences are formed exactly (raw mpf arithmetic without rounding), so a spread of 1e-1000
    relative to the scale is seen; both numbers are -inf/inf when there is nothing to measure.
    """
    vecs = [[exact(x) for x in ci] for ci in c]
    log_scale = max((_half_log10(_sq_norm_exact(ci)) for ci in vecs), default=-math.inf)
    log_spread = math.inf
    for i in range(len(vecs)):
        for j in range(i + 1, len(vecs)):
            diff = [mpmath.mpf(libmp.mpf_sub(a._mpf_, b._mpf_)) for a, b in zip(vecs[i], vecs[j])]
            h = _half_log10(_sq_norm_exact(diff))
            log_spread = min(log_spread, h)
    return log_scale, log_spread


def choose(c, digits: int, *, guard: int = GUARD_DIGITS, allow_float64: bool = True,
           extra_digits: int = 0) -> Precision:
    """The precision policy for centred parameters ``c`` (n vectors) and ``digits`` wanted.

    ``extra_digits`` lets a caller add known losses (e.g. the Stein form's cancellation at large
    scale).  Raises ValueError for digits < 1.
    """
    if not isinstance(digits, int) or isinstance(digits, bool) or digits < MIN_DIGITS:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    if digits > MAX_DIGITS:
        raise ValueError(f"digits must be <= {MAX_DIGITS} (precision.MAX_DIGITS: what the quadrature "
                         f"ladder reaches on separated configurations), got {digits}")
    log_scale, log_spread = scale_and_spread(c)
    if math.isinf(log_spread) or math.isinf(log_scale):
        spread_digits = 0
    else:
        spread_digits = max(0, math.ceil(log_scale - log_spread))
    need = digits + spread_digits + extra_digits
    in_range = (not math.isinf(log_scale) and math.log10(FLOAT64_MIN_SCALE) < log_scale
                < math.log10(FLOAT64_MAX_SCALE)) or math.isinf(log_scale)
    if allow_float64 and need + FLOAT64_GUARD <= FLOAT64_DIGITS and in_range:
        return Precision(digits, spread_digits, FLOAT64_GUARD, None, "float64")
    dps = max(MIN_DPS, need + guard)
    if dps > MAX_DPS:
        raise ValueError(f"c: {digits} digits here need a working precision of {dps} digits "
                         f"(spread {spread_digits} + scale {extra_digits} + guard {guard}), over "
                         f"the maximum dps {MAX_DPS} (precision.MAX_DPS)")
    return Precision(digits, spread_digits, guard, dps, "mpmath")


def at_dps(dps: int, digits: int | None = None) -> Precision:
    """An explicit working precision (no policy), e.g. for a user's ``dps=``."""
    if not isinstance(dps, int) or dps < MIN_DPS:
        raise ValueError(f"dps must be an integer >= {MIN_DPS}, got {dps!r}")
    if digits is None:
        digits = dps - GUARD_DIGITS
    if digits < MIN_DIGITS or digits > dps:
        raise ValueError(f"digits={digits} cannot be supported at dps={dps}")
    return Precision(digits, 0, dps - digits, dps, "mpmath")
