"""Gaussian expectations E[f(u)], u ~ N(0, I_k), each with an error estimate (SPEC §2, §4).

The integrands of the model depend on u only through n logits ``l_i(u) = <u, e_i> + o_i``
(a :class:`Geometry`).  Two regimes need different rules:

* *overlapping* directions (the logits' slopes differ by little along a direction): the integrand
  is an entire function of modest growth and a Gauss–Hermite rule converges fast;
* *separated* directions: the softmax has sharp transitions (width ``1/|e_i - e_j|``) at the tie
  points, where Gauss–Hermite stalls at a few digits.  There the rule is composite Gauss–Legendre
  on a truncated range, split at every tie point and graded geometrically towards it, so that each
  panel is no wider than its distance to the nearest complex pole of the softmax.

A product rule uses Gauss–Hermite along the smooth directions (outer) and the split rule along the
sharp ones (inner, nested: the tie points of the inner line depend on the outer coordinates).

Every value comes from two rules of consecutive order on a ladder; their difference is the error
estimate (conservative: it bounds the lower-order rule, and the higher-order value is returned).
A truncation bound for the split rule's finite range is added.  If no pair on the ladder agrees to
the tolerance, the result says so (``ok`` is False) and callers raise or report INCONCLUSIVE.

Rules (nodes and weights) are cached per order and precision: building a 100-digit Gauss rule
costs ~0.1-0.4 s, far more than an evaluation.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache

import mpmath
import numpy as np

from verify.precision import Precision, context

GH_LADDER = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160)
GL_LADDER = (4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96)
# A direction whose logit slopes spread more than this gets the split rule.  Along such a direction
# the softmax has poles at distance pi/spread from the real axis; Gauss–Hermite needs about
# (ln(10^D) / (pi/spread))^2 / 2 nodes, which beats the split rule's ~(2L + grading) * N nodes only
# below these spreads (float64: D ~ 12; mpmath: D ~ 30-100).
GH_COMFORT = 128
PANEL_MAX = 2.0  # widest panel of the split rule away from tie points
MAX_SPLIT_DIMS = 2
# Node budgets per rule: beyond them a value is reported as unresolved rather than computed for
# minutes (a float64 node costs ~1 us, an mpmath one ~100 us).
MAX_NODES_FLOAT64 = 2_000_000
MAX_NODES_MP = 60_000


class InaccurateError(ArithmeticError):
    """An expectation whose error estimate misses the requested accuracy."""


# --------------------------------------------------------------------------------------------
# Arithmetic back ends: numpy float64 arrays, or numpy object arrays of mpf in a private context.
# --------------------------------------------------------------------------------------------

class Arith:
    """Elementwise functions and constants for one precision (float64 or an mpmath context)."""

    def __init__(self, prec: Precision):
        self.prec = prec
        if prec.is_float64:
            self.ctx = None
            self.dtype = float
            self.exp = np.exp
            self.eps = 2.0 ** -52
        else:
            ctx = context(prec.dps)
            self.ctx = ctx
            self.dtype = object
            self.exp = np.frompyfunc(ctx.exp, 1, 1)
            self.eps = ctx.mpf(2) ** (-ctx.prec)

    def num(self, x):
        """A scalar at this precision."""
        if self.ctx is None:
            return float(x)
        return self.ctx.convert(x)

    def array(self, values) -> np.ndarray:
        """An array at this precision from nested numbers (mpf, float, int, str)."""
        a = np.array(values, dtype=object)
        if self.ctx is None:
            return a.astype(float)
        conv = np.frompyfunc(self.ctx.convert, 1, 1)
        return conv(a) if a.size else a

    def zeros(self, shape) -> np.ndarray:
        if self.ctx is None:
            return np.zeros(shape)
        z = np.empty(shape, dtype=object)
        z.fill(self.ctx.zero)
        return z

    def sqrt(self, x):
        return math.sqrt(x) if self.ctx is None else self.ctx.sqrt(x)

    def abs(self, a):
        return np.abs(a)

    def to_float(self, x) -> float:
        return float(x)


# --------------------------------------------------------------------------------------------
# Cached one-dimensional rules
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _rule_mp(kind: str, order: int, dps: int):
    ctx = context(dps + 5)
    if kind == "hermite":
        x, w = ctx.gauss_quadrature(order, "hermite")
        s2 = ctx.sqrt(2)
        spi = ctx.sqrt(ctx.pi)
        nodes = [s2 * xi for xi in x]
        weights = [wi / spi for wi in w]
    else:
        nodes, weights = ctx.gauss_quadrature(order, "legendre")
    out = context(dps)
    return (np.array([out.convert(v) for v in nodes], dtype=object),
            np.array([out.convert(v) for v in weights], dtype=object))


@lru_cache(maxsize=None)
def _rule_f64(kind: str, order: int):
    if kind == "hermite":
        x, w = np.polynomial.hermite_e.hermegauss(order)
        return x, w / math.sqrt(2 * math.pi)
    return np.polynomial.legendre.leggauss(order)


def rule(kind: str, order: int, ar: Arith):
    """Nodes and weights of a Gauss rule: "hermite" integrates against N(0,1), "legendre" on [-1,1]."""
    if ar.ctx is None:
        return _rule_f64(kind, order)
    return _rule_mp(kind, order, ar.prec.dps)


# --------------------------------------------------------------------------------------------
# Geometry and results
# --------------------------------------------------------------------------------------------

@dataclass
class Geometry:
    """Logits l_i(u) = <u, e_i> + o_i for u in R^k: e has shape (n, k), o shape (n,)."""

    e: np.ndarray
    o: np.ndarray

    @property
    def k(self) -> int:
        return self.e.shape[1]

    def spreads(self) -> list[float]:
        """Per direction, log10 of max_i e_ij - min_i e_ij (how sharp the softmax is along it;
        -inf for none).  Logarithms, because spreads of 1e-1000 are routine here."""
        return [log10_abs(max(self.e[:, j]) - min(self.e[:, j])) for j in range(self.k)]


@dataclass
class Expectation:
    """Values of E[f(u)] (one per component), their error estimates, and how they were obtained."""

    value: np.ndarray
    error: np.ndarray
    ok: bool
    rule: dict = field(default_factory=dict)


def log10_abs(x) -> float:
    """log10|x| for a float or an mpf of any exponent (-inf for zero)."""
    if isinstance(x, float) or isinstance(x, int) or isinstance(x, np.floating):
        return math.log10(abs(x)) if x != 0 else -math.inf
    if x == 0:
        return -math.inf
    man, exp = x.man_exp
    man = abs(int(man))
    bits = man.bit_length()
    if bits > 900:
        man >>= bits - 900
        exp += bits - 900
    return math.log10(man) + exp * math.log10(2)


@dataclass
class Tolerance:
    """Accept when, in every group of components,
    error <= 10^-digits * max(max|value in group|, floor).

    ``digits`` may exceed the double range's 308 (spreads of 1e-1000 need ~1030): the comparison
    is made on log10 of mpf values, never on their float conversions.  The floor is the group's
    natural size (e.g. |c|^2 for the loss): a group that vanishes by symmetry is then asked for
    absolute, not relative, accuracy.
    """

    digits: float
    groups: list[slice]
    floors: list | None = None

    def met(self, value: np.ndarray, error: np.ndarray) -> bool:
        floors = self.floors or [0.0] * len(self.groups)
        for g, floor in zip(self.groups, floors):
            scale = max([log10_abs(x) for x in value[g]] + [log10_abs(floor)])
            worst = max((log10_abs(x) for x in error[g]), default=-math.inf)
            if worst > -math.inf and worst > scale - self.digits:
                return False
        return True


# --------------------------------------------------------------------------------------------
# Node sets
# --------------------------------------------------------------------------------------------

def _tensor_gh(orders: list[int], ar: Arith):
    """Tensor Gauss–Hermite rule with ``orders[j]`` nodes along dimension j."""
    dims = len(orders)
    if dims == 0:
        return np.empty((1, 0), dtype=ar.dtype), np.array([ar.num(1)], dtype=ar.dtype)
    rules = [rule("hermite", q, ar) for q in orders]
    idx = np.array(list(itertools.product(*[range(q) for q in orders])))
    nodes = np.empty((len(idx), dims), dtype=ar.dtype)
    weights = None
    for j, (x, w) in enumerate(rules):
        nodes[:, j] = x[idx[:, j]]
        weights = w[idx[:, j]] if weights is None else weights * w[idx[:, j]]
    return nodes, weights


def sharp_limit(digits: float) -> float:
    """Largest logit-slope spread along a direction for which Gauss–Hermite converges within
    GH_COMFORT nodes: the softmax's poles sit at distance pi/spread from the real axis, and a GH
    rule of N nodes reaches ~exp(-(pi/spread) sqrt(2N)) there."""
    return min(1.5, math.pi * math.sqrt(2 * GH_COMFORT) / (math.log(10) * (digits + 2)))


def _gh_orders(spreads: list[float], level: int, limit: float, coarse: bool,
               digits: float) -> list[int]:
    """``spreads`` are log10 spreads.  Per smooth direction, the GH order of the fine (or coarse) rule at ``level``.

    Directions whose spread is far below the limit need far fewer nodes (N grows like
    spread^2), so their ladder index is shifted down -- but never below the order at which the
    softmax's Taylor terms (3 spread)^(2N) drop under 10^-digits.  The coarse rule is always one
    rung below the fine one in every direction, so the pair's difference sees every direction."""
    out = []
    log_limit = math.log10(limit)
    for lsp in spreads:
        if lsp >= log_limit:
            shift, floor_idx = 0, 0
        else:
            shift = len(GH_LADDER) if lsp == -math.inf else int(2 * (log_limit - lsp) / math.log10(2))
            if lsp == -math.inf:
                need = 2
            else:
                need = math.ceil(digits / (2 * max(0.3, -min(math.log10(3) + lsp, math.log10(0.5))))) + 1
            floor_idx = next((i for i, q in enumerate(GH_LADDER) if q >= need), len(GH_LADDER) - 2)
            floor_idx = max(0, min(floor_idx - 1, len(GH_LADDER) - 2))
        idx = max(floor_idx, level - 1 - shift) + (0 if coarse else 1)
        out.append(GH_LADDER[min(idx, len(GH_LADDER) - 1)])
    return out


@lru_cache(maxsize=None)
def _truncation(digits: float) -> float:
    """Half-width L of the split rule's range: the Gaussian mass beyond it, times (1+L)^2 for
    the polynomial growth of the integrand, is below 10^-(digits+2)."""
    ctx = context(30)
    L = 1.0
    while float(ctx.log10(ctx.erfc(ctx.mpf(L) / ctx.sqrt(2)) * (1 + L) ** 2)) > -(digits + 2):
        L += 0.25
    return L


def _tail_factor(k: int, L: float, ar: "Arith"):
    """k * erfc(L / sqrt 2) * (1 + L)^2 at the working precision: the truncated mass, bounded."""
    if ar.ctx is None:
        return k * math.erfc(L / math.sqrt(2)) * (1 + L) ** 2
    ctx = ar.ctx
    return k * ctx.erfc(ctx.mpf(L) / ctx.sqrt(2)) * (1 + ctx.mpf(L)) ** 2


def _panel_edges(breaks: list[tuple[float, float]], L: float) -> list[float]:
    """Panel edges on [-L, L]: tie points, graded towards each (first panel = transition width),
    and uniform panels no wider than PANEL_MAX elsewhere."""
    edges = {-L, L}
    for p, width in breaks:
        if not -L < p < L:
            continue
        edges.add(p)
        h = width
        while h < PANEL_MAX:
            for q in (p - h, p + h):
                if -L < q < L:
                    edges.add(q)
            h *= 2
    pts = sorted(edges)
    out = [pts[0]]
    for q in pts[1:]:
        gap = q - out[-1]
        if gap <= 1e-12 * L:
            continue
        pieces = max(1, math.ceil(gap / PANEL_MAX))
        base = out[-1]
        out.extend([base + gap * (t / pieces) for t in range(1, pieces)])
        out.append(q)
    return out


def _line_breaks(geom_f: Geometry, level: int, fixed: np.ndarray, margin: float):
    """Tie points along coordinate ``level`` (0-based) with coordinates > level fixed.

    For each set S of level+2 components, the point where their logits all tie (solving for the
    coordinates 0..level) projects to one candidate; it is kept when the tied logit is within
    ``margin`` of the largest logit there (otherwise that tie is invisible at this precision).
    Computed in float64: they only place panel edges, never enter a value.
    """
    e, o = geom_f.e, geom_f.o
    n = e.shape[0]
    j = level + 1
    out = []
    for S in itertools.combinations(range(n), j + 1):
        i0 = S[0]
        A = np.array([e[i, :j] - e[i0, :j] for i in S[1:]])
        rhs = np.array([-(o[i] - o[i0]) - (e[i, j:] - e[i0, j:]) @ fixed for i in S[1:]])
        try:
            if abs(np.linalg.det(A)) < 1e-14 * max(1.0, np.abs(A).max()) ** j:
                continue
            x = np.linalg.solve(A, rhs)
        except np.linalg.LinAlgError:
            continue
        u = np.concatenate([x, fixed])
        logits = e @ u + o
        if logits[i0] < logits.max() - margin:
            continue
        slope = max(np.linalg.norm(e[i] - e[i0]) for i in S[1:])
        out.append((float(x[-1]), 1.0 / slope))
    return out


def _split_nodes(geom_f: Geometry, ks: int, outer: tuple, gl_order: int, L: float,
                 margin: float, ar: Arith):
    """Nodes and weights of the nested split rule over the first ``ks`` coordinates, one inner
    rule per outer node (``outer`` = (nodes, weights) over the remaining, smooth coordinates).

    Panel edges are placed in float64 (they are positions, not values); nodes and weights are
    formed at the working precision from the cached Gauss–Legendre rule.
    """
    xq, wq = rule("legendre", gl_order, ar)
    if ar.ctx is None:
        norm = 1.0 / math.sqrt(2 * math.pi)
        gauss = np.exp
        to_num = float
    else:
        ctx = ar.ctx
        norm = 1 / ctx.sqrt(2 * ctx.pi)
        gauss = ar.exp
        to_num = ctx.mpf
    blocks, wblocks = [], []

    def recurse(level: int, fixed_f: list, fixed_n: list, wacc):
        edges = _panel_edges(_line_breaks(geom_f, level, np.array(fixed_f, dtype=float), margin), L)
        a = np.array([to_num(x) for x in edges[:-1]], dtype=ar.dtype)
        b = np.array([to_num(x) for x in edges[1:]], dtype=ar.dtype)
        half, mid = (b - a) / 2, (a + b) / 2
        coords = (mid[:, None] + half[:, None] * xq[None, :]).ravel()
        wts = (half[:, None] * wq[None, :]).ravel() * gauss(-coords * coords / 2) * norm * wacc
        if level == 0:
            block = np.empty((len(coords), 1 + len(fixed_n)), dtype=ar.dtype)
            block[:, 0] = coords
            if fixed_n:
                block[:, 1:] = np.array(fixed_n, dtype=ar.dtype)[None, :]
            blocks.append(block)
            wblocks.append(wts)
            return
        for cq, wt in zip(coords, wts):
            recurse(level - 1, [float(cq)] + fixed_f, [cq] + fixed_n, wt)

    for row, wrow in zip(outer[0], outer[1]):
        recurse(ks - 1, [float(x) for x in row], list(row), wrow)
    return np.concatenate(blocks), np.concatenate(wblocks)


# --------------------------------------------------------------------------------------------
# The integrator
# --------------------------------------------------------------------------------------------

class Integrator:
    """Computes E[f(u)] for integrands f(U) -> (m, ncomp) array, choosing rules per geometry.

    The integrator remembers the ladder level that last succeeded for a given kind of geometry,
    so a gradient-descent run does not climb the ladder at every step.
    """

    def __init__(self, prec: Precision):
        self.prec = prec
        self.ar = Arith(prec)
        self._start: dict[tuple, int] = {}
        self.evaluations = 0

    def _limit(self, digits: float) -> float:
        return sharp_limit(digits)

    def _layout(self, geom: Geometry, digits: float) -> tuple[list[int], int]:
        spreads = geom.spreads()
        log_limit = math.log10(self._limit(digits))
        sharp = [j for j in range(geom.k) if spreads[j] > log_limit]
        smooth = [j for j in range(geom.k) if spreads[j] <= log_limit]
        return sharp + smooth, len(sharp)

    def nodes(self, geom: Geometry, level: int, digits: float, coarse: bool = False):
        """Nodes (m, k) in the geometry's coordinates and weights (m,) of the fine rule at
        ``level`` (level >= 1), or of its coarse partner (one rung lower in every direction)."""
        ar = self.ar
        perm, ks = self._layout(geom, digits)
        if ks > MAX_SPLIT_DIMS:
            raise InaccurateError(f"{ks} separated directions exceed the split rule's limit "
                                  f"of {MAX_SPLIT_DIMS}")
        k = geom.k
        spreads = geom.spreads()
        orders = _gh_orders([spreads[j] for j in perm[ks:]], level, self._limit(digits), coarse,
                            digits)
        outer = _tensor_gh(orders, ar)
        if ks == 0:
            U, W = outer
        else:
            geom_f = Geometry(np.array(geom.e[:, perm], dtype=float),
                              np.array(geom.o, dtype=float))
            L = _truncation(digits)
            margin = math.log(10.0) * digits + 10.0
            U, W = _split_nodes(geom_f, ks, outer, GL_LADDER[level - 1 if coarse else level], L,
                                margin, ar)
        inv = np.argsort(perm)
        return (U[:, inv] if k else U), W, {"sharp_dims": ks, "k": k, "gh_orders": orders}

    def expect(self, geom: Geometry, f, tol: Tolerance, *, key: tuple = ()) -> Expectation:
        """E[f(u)] with error estimate; climbs the ladder until two consecutive rules agree."""
        ar = self.ar
        perm, ks = self._layout(geom, tol.digits)
        skey = (geom.k, ks) + tuple(key)
        level = max(0, self._start.get(skey, 0))
        if geom.k == 0:
            U = np.empty((1, 0), dtype=ar.dtype)
            val = f(U)[0]
            self.evaluations += 1
            err = np.array([abs(x) * ar.eps * 4 for x in val], dtype=ar.dtype)
            return Expectation(val, err, True, {"rule": "exact (k=0)", "nodes": 1})
        best = None
        budget = MAX_NODES_FLOAT64 if ar.ctx is None else MAX_NODES_MP
        for lv in range(max(1, level), len(GH_LADDER)):
            results = []
            for coarse in (True, False):
                try:
                    U, W, info = self.nodes(geom, lv, tol.digits, coarse)
                except InaccurateError as e:
                    return _unresolved(geom, ar, str(e), best)
                if len(W) > budget:
                    return _unresolved(geom, ar, f"the rule at level {lv} needs {len(W)} nodes, "
                                       f"over the budget of {budget}", best)
                vals = f(U)
                self.evaluations += len(W)
                results.append(((W[:, None] * vals).sum(axis=0), W, vals, info))
            (v0, W0, _, _), (val, W, vals, info) = results
            err = np.abs(val - v0)
            # rounding: each weighted sum loses at most ~sqrt(m) eps of the absolute sum
            err = err + np.abs(W[:, None] * vals).sum(axis=0) * ar.eps * 8 * math.sqrt(len(W))
            if ks:
                absmax = np.abs(vals).max(axis=0)
                err = err + absmax * _tail_factor(geom.k, _truncation(tol.digits), ar)
            desc = {"rule": _describe(ks, info["gh_orders"], lv), "nodes": int(len(W)),
                    "compare_nodes": int(len(W0)), "level": lv}
            best = Expectation(val, err, tol.met(val, err), desc)
            if best.ok:
                # Warm start: next time begin at this level, or one lower when this pair agreed
                # far better than needed, so the ladder can also come down.
                slack = Tolerance(tol.digits + 4, tol.groups, tol.floors).met(val, err)
                self._start[skey] = max(1, lv - (1 if slack else 0))
                return best
        assert best is not None
        self._start[skey] = max(0, len(GH_LADDER) - 2)
        return best


def _unresolved(geom: Geometry, ar: Arith, why: str, best: "Expectation | None") -> "Expectation":
    """The best value so far, flagged as not meeting the tolerance; with none yet, raise."""
    if best is not None:
        return Expectation(best.value, best.error, False, dict(best.rule, unresolved=why))
    raise InaccurateError(why)


def _describe(ks: int, gh_orders: list[int], level: int) -> str:
    parts = []
    if gh_orders:
        parts.append("Gauss-Hermite " + "x".join(str(q) for q in gh_orders) + " vs one rung lower")
    if ks:
        parts.append(f"split Gauss-Legendre {GL_LADDER[level - 1]}->{GL_LADDER[level]}/panel x{ks}")
    return " (x) ".join(parts)
