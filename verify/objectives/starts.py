"""The start families on which the objectives are compared (issue 21): the paper's hard starts
and plain random ones, in centred coordinates c_i = m_i - m* (SPEC §2, t = 0), reproducible
from the seed.

* ``tiny-spread`` (thm3.2): every m_i within ``spread`` of the origin (the stated spread,
  exp(-106 n d M0^3), is far below any run; 1e-6 is the reading), target m* = M0 e_1;
* ``thm3.4``: m_1 = exp(-M0/100) e_1, the others 0, m* = M0 e_1;
* ``far-random`` (thm3.5): m_i i.i.d. N(m, I_d) with |m - m*| = M0 (direction from the seed);
* ``experiment`` (the paper's figure): n = 5, d = 3, m_i = (M0, 0, 0) + 1e-7 z_i, m* = 0;
* ``random``: c_i i.i.d. N(0, (M0/2)^2 I_d) (no structure at all).
"""
from __future__ import annotations

import math

import numpy as np

FAMILIES = ("tiny-spread", "thm3.4", "far-random", "experiment")
ALL_FAMILIES = FAMILIES + ("random",)
TINY_SPREAD = 1e-6


def start(family: str, n: int, d: int, M0: float, seed: int) -> list[list[float]]:
    """Centred start c (n x d floats) of ``family``; the experiment family fixes n = 5, d = 3."""
    rng = np.random.default_rng([seed, ALL_FAMILIES.index(family) if family in ALL_FAMILIES
                                 else 99])
    e1 = np.zeros(d)
    e1[0] = 1.0
    if family == "tiny-spread":
        C = -M0 * e1[None, :] + TINY_SPREAD * rng.standard_normal((n, d))
    elif family == "thm3.4":
        C = np.tile(-M0 * e1, (n, 1))
        C[0] = (math.exp(-M0 / 100) - M0) * e1
    elif family == "far-random":
        u = rng.standard_normal(d)
        u /= np.linalg.norm(u)
        C = M0 * u[None, :] + rng.standard_normal((n, d))
    elif family == "experiment":
        if (n, d) != (5, 3):
            raise ValueError("the experiment family has n = 5, d = 3")
        C = np.array([[M0, 0.0, 0.0]] * 5) + 1e-7 * rng.standard_normal((5, 3))
    elif family == "random":
        C = (M0 / 2) * rng.standard_normal((n, d))
    else:
        raise ValueError(f"start family must be one of {', '.join(ALL_FAMILIES)}, got {family!r}")
    return [[float(x) for x in row] for row in C]


def shape(family: str, n: int, d: int) -> tuple[int, int]:
    return (5, 3) if family == "experiment" else (n, d)
