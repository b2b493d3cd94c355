"""Shared Hypothesis strategies for the property tests: parameter configurations in centred
coordinates (SPEC §2) and the paper's special configurations.

Coordinates are drawn on the dyadic grid k/8 (|k| <= 16, so |coordinate| <= 2): every coordinate
is an exact binary float, sums and differences of grid points are exact, and two distinct points
are at least 1/8 apart, so the precision policy's spread digits stay small and the fast float64
path applies (SPEC §4).  Exact coincidences (c_i = c_j, all-equal, c_i = 0) are drawn often.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

GRID = 8          # denominator of the dyadic grid
GRID_MAX = 16     # largest |numerator|: coordinates in [-2, 2]

coordinate = st.integers(-GRID_MAX, GRID_MAX).map(lambda k: k / GRID)
small_n = st.integers(2, 4)
small_d = st.integers(1, 3)


# Cost caps for the fast tier (float64, ~8 digits): a 2-D reduced integral with n = 4 separated
# components takes 1-3 s, a 3-D one ~1 minute, so the fast tier keeps (n - 1) * min(n - 1, d) <= 4
# (n = 4 only in d = 1); the slow tier passes MAX_COST = 6 for n = 4 in d = 2.
MAX_COST = 4


@st.composite
def configs(draw, n=small_n, d=small_d, coord=coordinate, max_cost=MAX_COST):
    """n vectors of length d (lists of floats) on the dyadic grid, within the cost cap."""
    nn = draw(n)
    dd = draw(d.filter(lambda dd: (nn - 1) * min(nn - 1, dd) <= max_cost))
    return [[draw(coord) for _ in range(dd)] for _ in range(nn)]


@st.composite
def collinear_configs(draw, n=small_n, d=small_d, scalar=st.integers(-12, 12)):
    """c_i = a_i u with one grid direction u: the reduced integral is 1-D (k <= 1), which keeps
    high-precision evaluations cheap."""
    nn, dd = draw(n), draw(d)
    u = draw(st.lists(st.integers(-1, 1), min_size=dd, max_size=dd).filter(any))
    a = [draw(scalar) / GRID for _ in range(nn)]
    return [[ai * uj for uj in u] for ai in a]


@st.composite
def pair_configs(draw, d=small_d):
    """n = 2 (the reduction is 1-D along c_1 - c_2 in every dimension d)."""
    return draw(configs(n=st.just(2), d=d))


@st.composite
def unit_configs(draw, n=small_n, d=small_d):
    """A direction u = (u_1..u_n) for c = s u, with max_i |u_i| = 1 (grid, scaled)."""
    c = draw(configs(n=n, d=d).filter(lambda c: any(x for row in c for x in row)))
    top = max(math.sqrt(sum(x * x for x in row)) for row in c)
    return [[x / top for x in row] for row in c]


def rotation(d: int, angles: list[float]) -> np.ndarray:
    """A d x d rotation (float64) composed of plane rotations by the given angles."""
    Q = np.eye(d)
    planes = [(i, j) for i in range(d) for j in range(i + 1, d)]
    for (i, j), th in zip(planes, angles):
        G = np.eye(d)
        G[i, i] = G[j, j] = math.cos(th)
        G[i, j], G[j, i] = -math.sin(th), math.sin(th)
        Q = G @ Q
    return Q


angles = st.lists(st.floats(-math.pi, math.pi, allow_nan=False), min_size=3, max_size=3)


# ---- the paper's special configurations (for @example) --------------------------------------

def thm31(s: float, n: int = 3, d: int = 2) -> list[list[float]]:
    """thm3.1's family: c_1 = s e_1, c_2 = -s e_1, all other c_i = 0."""
    c = [[0.0] * d for _ in range(n)]
    c[0][0], c[1][0] = s, -s
    return c


def all_equal(a: list[float], n: int = 3) -> list[list[float]]:
    """Every c_i = a (lem3.3's configuration)."""
    return [list(a) for _ in range(n)]


def figure_start(M: float = 4.0, n: int = 5, d: int = 3, seed: int = 0) -> list[list[float]]:
    """The figure's near-coincident start (m* = 0): c_i = (M, 0, 0) + 1e-7 z_i."""
    z = np.random.default_rng(seed).standard_normal((n, d))
    return [[(M if j == 0 else 0.0) + 1e-7 * z[i, j] for j in range(d)] for i in range(n)]
