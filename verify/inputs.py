"""Checks of the inputs that every entry point shares (the noise level t and the
parameterisation), below both the public API and the dynamics so that neither imports the other
for them."""
from __future__ import annotations

import mpmath

from verify.precision import exact

PARAMETERISATIONS = ("noised", "clean")

# Largest noise level accepted: e^{-t} ~ 10^-434294 there, and the clean parameterisation's
# c = e^{-t}(m - m*) is still formed quickly; far beyond, exp(-t) itself becomes intractable.
MAX_T = 10**6


def check_t(t) -> mpmath.mpf:
    """t as an exact mpf; ValueError naming ``t`` unless 0 <= t <= MAX_T."""
    tt = exact(t, "t")
    if tt < 0:
        raise ValueError(f"t must be >= 0, got {t!r:.60}")
    if tt > MAX_T:
        raise ValueError(f"t must be <= {MAX_T} (e^-t is below 10^-434294 there), got {t!r:.60}")
    return tt


def check_parameterisation(p: str) -> str:
    if p not in PARAMETERISATIONS:
        raise ValueError(f"parameterisation must be one of {PARAMETERISATIONS}, got {p!r}")
    return p
