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
The split rule's finite range |u_j| <= L adds a rigorous tail bound: the Gaussian mass outside it
(and its first moment) times the integrand's bound |f| <= a + b|u|; L is widened until that bound
is small *relative to the computed value*, so mass far out in the tails (around a tie point at
distance r/2, of size e^{-r^2/8}) is integrated rather than dropped.  Rounding is bounded from the
magnitudes of the terms each integrand value was formed from.  Acceptance is on the caller's
quantities (:class:`Tolerance`): significant digits, with an absolute floor only where rounding
cannot resolve a vanishing quantity.  If no pair on the ladder meets it, the result says so
(``ok`` is False) and callers raise or report INCONCLUSIVE; beyond the node/work budgets the
reason is given in an InaccurateError.

Rules (nodes and weights) are cached per order and precision: building a 100-digit Gauss rule
costs ~0.1-0.4 s, far more than an evaluation.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import mpmath
import numpy as np

from verify.precision import FLOAT64_DIGITS, FLOAT64_GUARD, Precision, context

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
# mpmath work budget per expectation, summed over the ladder: nodes x integrand components
# (an mpmath node-component costs ~10-30 us, so this is ~0.5-1 min: the 2-D checks of the
# gradient claim need ~1 million).  Beyond it: InaccurateError.
MAX_WORK_MP = 2_400_000
# Three separated directions: only the compiled float64 engine (verify.engine_f64) integrates
# them, and only to this many significant digits (digits + spread): its rounding bound grows like
# sqrt(nodes) eps with ~1e8 nodes (measured on [[5,0,0],[0,5,0],[0,0,5],[0,0,0]]: 10 asked give
# 10.3 certified, 11 asked only 10.1), and each rung costs (q_fine/q_coarse)^3 more.
SPLIT3_MAX_DIGITS = 10
# The gradient's rounding bound is larger (n x d components formed from several blocks): 10 asked
# gave 9.9 certified on that configuration (11 asked: 9.7, more nodes), so its cap is one lower.
SPLIT3_MAX_DIGITS_GRADIENT = 9
# An optimistic rate of significant digits per Gauss-Legendre node and panel of the split rule
# (measured: ~1.2 -- GL 6->8 gives 7.1 digits on [[10,0],[0,10],[0,0]], GL 96 ~125 digits on
# [[1],[0]]; the integrator itself starts at orders of half the digits): :func:`preflight` refuses
# up front only what even this rate cannot fit in the budget.
DIGITS_PER_GL_NODE = 2.0
DIGITS_PER_GL_NODE_MEASURED = 1.2   # what preflight's suggestion of fewer digits assumes
# Widest truncation range: float64 Gaussian weights exp(-u^2/2) underflow near |u| = 38.6.
L_MAX_FLOAT64 = 36.0
L_MAX = 2000.0


class InaccurateError(ArithmeticError):
    """An expectation whose error estimate misses the requested accuracy."""


class Float64RangeError(InaccurateError):
    """The value needs Gaussian weights below the double range: retry in multiprecision."""


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

def _hermite_newton(order: int, ctx) -> tuple[list, list]:
    """Gauss-Hermite nodes and weights for N(0,1) at ``ctx``'s precision: Newton's method on the
    orthonormal recurrence p_{m+1} = (x p_m - sqrt(m) p_{m-1}) / sqrt(m+1) from numpy's float64
    nodes (p_N' = sqrt(N) p_{N-1}; weights 1 / (N p_{N-1}(x)^2)), the nonnegative half mirrored.
    O(N^2) per Newton sweep, where mpmath's gauss_quadrature (an eigenvalue method) took ~1 s at
    N = 64 and 30 digits; the two agree to the working precision (tests/test_quadrature_rules)."""
    x0 = np.polynomial.hermite_e.hermegauss(order)[0]
    sq = [ctx.sqrt(m) for m in range(order + 1)]
    tol = ctx.mpf(10) ** (-ctx.dps)

    def recurrence(x):
        pm1, p = ctx.zero, ctx.one
        for m in range(order):
            pm1, p = p, (x * p - sq[m] * pm1) / sq[m + 1]
        return p, pm1

    half = []
    for xf in x0[order // 2:]:                      # the nonnegative half (x0 ascending)
        x = ctx.mpf(abs(float(xf)))
        if order % 2 and x == 0:
            x = ctx.zero
        for _ in range(60):
            p, pm1 = recurrence(x)
            dx = p / (sq[order] * pm1)
            x -= dx
            if abs(dx) <= tol * (1 + abs(x)):
                break
        else:
            raise ArithmeticError(f"Gauss-Hermite order {order}: Newton did not converge")
        pm1 = recurrence(x)[1]
        half.append((x, 1 / (order * pm1 * pm1)))
    lower = [(-x, w) for x, w in reversed(half) if x != 0]
    pairs = lower + half
    return [x for x, _ in pairs], [w for _, w in pairs]


@lru_cache(maxsize=None)
def _rule_mp(kind: str, order: int, dps: int):
    ctx = context(dps + 5)
    if kind == "hermite":
        nodes, weights = _hermite_newton(order, ctx)
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
    """What "accurate to ``digits`` digits" means for the quantities built from an expectation.

    The integrator produces a vector of expectations; the caller's quantities (a loss, a gradient,
    an EM direction) are assembled from it.  ``measure(value, error)`` returns, per quantity, its
    size |q| and the largest error of its components, given the expectations' values and an error
    vector (it must be linear and monotone in ``error``).  A quantity is accepted when

    * ``err <= 10^-digits * |q|`` (*relative* accuracy: significant digits of the quantity), or
    * the working precision cannot resolve it further -- the rules agree to the rounding level and
      the tail bound is below it -- and ``err <= 10^-digits * natural`` (*absolute floor*: a quantity
      that vanishes, by symmetry or at a stationary point, is reported to an absolute accuracy
      relative to its natural scale, e.g. |c|^3 for a gradient).  Which of the two held is reported.

    ``digits`` may exceed the double range's 308: comparisons are made on log10 of mpf values.
    ``rounding(value)`` adds, per quantity, the rounding of its assembly from the expectations.
    """

    digits: float
    measure: Callable[[np.ndarray, np.ndarray], list]
    natural: list
    rounding: Callable[[np.ndarray], list] | None = None

    def assess(self, value: np.ndarray, quad: np.ndarray, tail: np.ndarray,
               noise: np.ndarray) -> tuple[bool, str, list]:
        """(ok, "relative"/"absolute floor", per-quantity total errors) for error parts: rule
        difference ``quad``, truncation bound ``tail`` and rounding ``noise`` (all vectors)."""
        sizes = self.measure(value, quad + tail + noise)
        qparts = self.measure(value, quad + tail)
        nparts = self.measure(value, noise)
        extra = self.rounding(value) if self.rounding else [0] * len(sizes)
        mode, errs = "relative", []
        for (size, err), (_, qe), (_, ne), ex, nat in zip(sizes, qparts, nparts, extra, self.natural):
            err = err + ex
            errs.append(err)
            lerr = log10_abs(err)
            if lerr == -math.inf or lerr <= log10_abs(size) - self.digits:
                continue
            resolved = log10_abs(qe) <= log10_abs(ne + ex)
            if resolved and lerr <= log10_abs(nat) - self.digits:
                mode = "absolute floor"
                continue
            return False, mode, errs
        return True, mode, errs

    def tail_target_met(self, value: np.ndarray, tail: np.ndarray, noise: np.ndarray) -> bool:
        """The truncation bound is at most a quarter of the relative budget, or below the
        rounding level (beyond which a wider range cannot help)."""
        tparts = self.measure(value, tail)
        sizes = self.measure(value, noise)
        extra = self.rounding(value) if self.rounding else [0] * len(tparts)
        for (_, te), (size, ne), ex in zip(tparts, sizes, extra):
            lt = log10_abs(te)
            if lt == -math.inf:
                continue
            if lt <= log10_abs(size) - self.digits - math.log10(4):
                continue
            if lt <= log10_abs(ne + ex):
                continue
            return False
        return True


def groups_measure(groups: list[slice]):
    """A ``measure`` for quantities that are plain groups of components (size = largest |value|)."""
    def measure(value, error):
        return [(max(abs(x) for x in value[g]), max(abs(x) for x in error[g])) for g in groups]
    return measure


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
    """First guess for the half-width L of the split rule's range: the Gaussian mass beyond it,
    times (1+L)^2, is below 10^-(digits+2).  Only a starting point: the range is then widened
    until the rigorous tail bound (:func:`tail_bound`) is small relative to the computed value."""
    ctx = context(30)
    L = 1.0
    while float(ctx.log10(ctx.erfc(ctx.mpf(L) / ctx.sqrt(2)) * (1 + L) ** 2)) > -(digits + 2):
        L += 0.25
    return L


def tail_masses(k: int, ks: int, L: float, ar: "Arith"):
    """(P, M): bounds on P(u outside the box) and on E[|u| 1_outside], u ~ N(0, I_k), where the
    box is |u_j| <= L along the ``ks`` truncated coordinates (the others are unbounded).

    Union bound over the truncated coordinates j: P <= ks erfc(L/sqrt 2), and with
    |u| <= sum_l |u_l|, E[|u_j| 1{|u_j|>L}] = 2 phi(L), E[|u_l|] = sqrt(2/pi) (l != j, independent):
    M <= ks (2 phi(L) + (k-1) sqrt(2/pi) erfc(L/sqrt 2)).
    """
    if ar.ctx is None:
        er = math.erfc(L / math.sqrt(2))
        phi = math.exp(-L * L / 2) / math.sqrt(2 * math.pi)
        c = math.sqrt(2 / math.pi)
    else:
        ctx = ar.ctx
        LL = ctx.mpf(L)
        er = ctx.erfc(LL / ctx.sqrt(2))
        phi = ctx.exp(-LL * LL / 2) / ctx.sqrt(2 * ctx.pi)
        c = ctx.sqrt(2 / ctx.pi)
    return ks * er, ks * (2 * phi + (k - 1) * c * er)


def tail_bound(bounds, k: int, ks: int, L: float, ar: "Arith") -> np.ndarray:
    """Per component, a bound on |E[f 1_outside]| from |f(u)| <= a + b|u| (``bounds`` = (a, b))."""
    P, M = tail_masses(k, ks, L, ar)
    a, b = bounds
    return a * P + b * M


def _panel_edges(breaks: list[tuple[float, float]], L: float,
                 panel_max: float = PANEL_MAX) -> list[float]:
    """Panel edges on [-L, L]: tie points ``(position, transition width)``, graded towards each
    (first panel = transition width), and uniform panels no wider than ``panel_max`` elsewhere.
    Shared with the Arb kernel (:mod:`verify.engine_arb`), which uses wider panels."""
    edges = {-L, L}
    for p, width in breaks:
        if not -L < p < L:
            continue
        if not 0 < width < math.inf:
            # the grading below would never reach panel_max (a logit slope beyond float64):
            # refused as the other geometries float64 cannot place ties for are
            raise InaccurateError(f"a tie at {p:g} has transition width {width!r}, not positive "
                                  "and finite (logit slopes beyond the float64 range): its "
                                  "panels cannot be graded")
        edges.add(p)
        h = width
        while h < panel_max:
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
        pieces = max(1, math.ceil(gap / panel_max))
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
        if j == 1:
            # one unknown (every inner line): the quotient numpy's solve returns, without its
            # LAPACK call; the singularity test on |a| itself (numpy's det is exp(log|a|))
            a = A[0, 0]
            if abs(a) < 1e-14 * max(1.0, abs(a)):
                continue
            x = rhs / a
        else:
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
        # math.hypot does not overflow where the squares would: a pair of means at +-1e300 has a
        # slope of 2e300, whose square (np.linalg.norm) is inf, which made the width 0 and the
        # grading in _panel_edges loop for ever
        slope = max(math.hypot(*(e[i] - e[i0])) for i in S[1:])
        out.append((float(x[-1]), 1.0 / slope))
    return out


def sharp_dims(geom: Geometry, digits: float) -> int:
    """How many of the geometry's directions get the split rule at ``digits`` (the rest are
    Gauss-Hermite): the layout of :class:`Integrator`, for any precision."""
    spreads = geom.spreads()
    log_limit = math.log10(sharp_limit(digits))
    return sum(1 for lsp in spreads if lsp > log_limit)


def preflight(geom: Geometry, prec: Precision, digits: float, ncomp: int) -> str | None:
    """Why a fresh multiprecision expectation over ``geom`` cannot meet ``digits`` (incl. spread)
    within the node and work budgets -- a one-line reason naming what would work -- or None.
    Decided before any value is computed (issue 24): the split rule's nodes are counted in float64
    (no values) for the Gauss-Legendre order that even an optimistic DIGITS_PER_GL_NODE predicts,
    and its partner one rung lower; ``ncomp`` is the integrand's component count.  Only what that
    optimistic rule cannot fit is refused, so nothing that could finish within budget is; float64
    precisions and geometries without separated directions always pass."""
    if prec.is_float64:
        return None
    integ = Integrator(prec)
    perm, ks = integ._layout(geom, digits)
    if ks == 0 or ks > MAX_SPLIT_DIMS:
        return None
    geom_f = Geometry(np.array([[float(x) for x in r] for r in geom.e[:, perm]], dtype=float),
                      np.array([float(x) for x in geom.o], dtype=float))
    if not (np.all(np.isfinite(geom_f.e)) and np.all(np.isfinite(geom_f.o))):
        return None
    spreads = geom.spreads()
    L = _truncation(digits)
    margin = math.log(10.0) * digits + 10.0 + L * L / 2
    f64 = Arith(Precision(1, 0, FLOAT64_GUARD, None, "float64"))

    def cost(idx: int) -> tuple[int, int]:
        """(nodes of the fine rule GL_LADDER[idx], node-components of the pair), each counted
        only up to just past its budget."""
        orders = _gh_orders([spreads[j] for j in perm[ks:]], idx, integ._limit(digits), False,
                            digits)
        outer = [[float(x) for x in r] for r in _tensor_gh(orders, f64)[0]]
        fine = _count_split_nodes(geom_f, ks, outer, GL_LADDER[idx], L, margin, MAX_NODES_MP)
        coarse = _count_split_nodes(geom_f, ks, outer, GL_LADDER[idx - 1], L, margin,
                                    MAX_WORK_MP // max(ncomp, 1))
        return fine, (fine + coarse) * ncomp

    def fits(idx: int) -> bool:
        fine, work = cost(idx)
        return fine <= MAX_NODES_MP and work <= MAX_WORK_MP

    need = next((i for i, q in enumerate(GL_LADDER) if i and GL_LADDER[i - 1]
                 * DIGITS_PER_GL_NODE >= digits), len(GL_LADDER) - 1)
    if fits(need):
        return None
    fine, work = cost(need)
    extra = prec.dps - prec.digits - prec.spread_digits - prec.guard   # scale digits (gradient)
    alternatives = []
    f64_digits = FLOAT64_DIGITS - FLOAT64_GUARD - prec.spread_digits - max(extra, 0)
    if f64_digits >= 1:
        alternatives.append(f"digits <= {f64_digits} (float64, backend='auto')")
    best = next((i for i in range(need - 1, 0, -1) if fits(i)), None)
    if best is not None:
        mp_digits = int(GL_LADDER[best - 1] * DIGITS_PER_GL_NODE_MEASURED) - prec.spread_digits
        if mp_digits > max(f64_digits, 0):
            alternatives.append(f"digits <= ~{mp_digits} (multiprecision)")
    what_works = ("ask for " + " or ".join(alternatives)) if alternatives else \
        "no back end here fits it"
    return (f"{ks} separated direction(s) at {digits:g} digits incl. spread (dps {prec.dps}): "
            f"even an optimistic split rule (Gauss-Legendre {GL_LADDER[need]}/panel) needs over "
            f"{min(fine, MAX_NODES_MP)} nodes or {work} node-components, beyond the multiprecision "
            f"budget ({MAX_NODES_MP} nodes, {MAX_WORK_MP} node-components per expectation); "
            f"{what_works}")


class _OverBudget(InaccurateError):
    """A rule counted (in float64, before any node is formed) to exceed the node budget."""


def _count_split_nodes(geom_f: Geometry, ks: int, outer_nodes, gl_order: int, L: float,
                       margin: float, limit: int) -> int:
    """How many nodes :func:`_split_nodes` would form (float64 layout only, no values), stopping
    once ``limit`` is passed: multiprecision node building is the expensive part of a 2-D rule."""
    xq, _ = _rule_f64("legendre", gl_order)
    total = 0

    def recurse(level: int, fixed: list) -> int:
        edges = _panel_edges(_line_breaks(geom_f, level, np.array(fixed, dtype=float), margin), L)
        if level == 0:
            return (len(edges) - 1) * len(xq)
        a, b = np.array(edges[:-1]), np.array(edges[1:])
        coords = ((a + b) / 2)[:, None] + ((b - a) / 2)[:, None] * xq[None, :]
        out = 0
        for cq in coords.ravel():
            out += recurse(level - 1, [float(cq)] + fixed)
            if out > limit:
                break
        return out

    for row in outer_nodes:
        total += recurse(ks - 1, [float(x) for x in row])
        if total > limit:
            break
    return total


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

    def nodes(self, geom: Geometry, level: int, digits: float, coarse: bool = False,
              L: float | None = None, max_nodes: int | None = None):
        """Nodes (m, k) in the geometry's coordinates and weights (m,) of the fine rule at
        ``level`` (level >= 1), or of its coarse partner (one rung lower in every direction);
        the split rule covers |u_j| <= L along its sharp coordinates."""
        ar = self.ar
        perm, ks = self._layout(geom, digits)
        if ks > MAX_SPLIT_DIMS:
            raise InaccurateError(
                f"{ks} separated directions exceed this integrator's split rules (at most "
                f"{MAX_SPLIT_DIMS}); 3 separated directions are integrated by the compiled float64 "
                f"engine only (loss <= {SPLIT3_MAX_DIGITS}, direct gradient <= "
                f"{SPLIT3_MAX_DIGITS_GRADIENT} digits incl. "
                "spread: verify.loss / verify.gradient route them there), more than 3 by none")
        k = geom.k
        spreads = geom.spreads()
        orders = _gh_orders([spreads[j] for j in perm[ks:]], level, self._limit(digits), coarse,
                            digits)
        outer = _tensor_gh(orders, ar)
        if ks == 0:
            U, W = outer
        else:
            geom_f = Geometry(np.array([[float(x) for x in r] for r in geom.e[:, perm]], dtype=float),
                              np.array([float(x) for x in geom.o], dtype=float))
            if not (np.all(np.isfinite(geom_f.e)) and np.all(np.isfinite(geom_f.o))):
                raise InaccurateError("the logits' slopes or offsets exceed the double range "
                                      "(|c| of order 1e154 or more): tie points cannot be placed "
                                      "by any back end here, at any digits; |c| up to ~1e150 works")
            L = _truncation(digits) if L is None else L
            # ties whose logit trails the largest by more than this are invisible; the digits
            # asked are relative, so the margin covers the value's own smallness too (via L)
            margin = math.log(10.0) * digits + 10.0 + L * L / 2
            order = GL_LADDER[level - 1 if coarse else level]
            if max_nodes is not None and ar.ctx is not None:
                count = _count_split_nodes(geom_f, ks, [[float(x) for x in r] for r in outer[0]],
                                           order, L, margin, max_nodes)
                if count > max_nodes:
                    raise _OverBudget(f"the rule at level {level} needs over {max_nodes} nodes "
                                      f"(counted before building it; truncation L = {L:.4g})")
            U, W = _split_nodes(geom_f, ks, outer, GL_LADDER[level - 1 if coarse else level], L,
                                margin, ar)
        inv = np.argsort(perm)
        return (U[:, inv] if k else U), W, {"sharp_dims": ks, "k": k, "gh_orders": orders}

    def expect(self, geom: Geometry, f, tol: Tolerance, *, key: tuple = ()) -> Expectation:
        """E[f(u)] with error estimate; climbs the ladder until two consecutive rules agree.

        ``f(U)`` returns ``(values, magnitudes)``, both (m, ncomp): the integrand and a pointwise
        bound on the size of the terms it was formed from (its rounding scale).  ``f.bounds`` =
        (a, b), per component: |f(u)| <= a + b |u| everywhere (for the truncation bound).

        The error of each component is |fine - coarse| (the pair of rules one rung apart) plus,
        for the split rule, the rigorous bound on the Gaussian mass outside its range times the
        bound on |f| there, plus the rounding of the weighted sums.  The range is widened until
        that tail bound is small *relative to the computed quantities* (``tol``), so mass that
        sits far out -- around a tie point at distance r/2, of size e^{-r^2/8} -- is integrated,
        not dropped.
        """
        ar = self.ar
        perm, ks = self._layout(geom, tol.digits)
        skey = (geom.k, ks) + tuple(key)
        level = max(0, self._start.get(skey, 0))
        if geom.k == 0:
            U = np.empty((1, 0), dtype=ar.dtype)
            vals, mags = f(U)
            self.evaluations += 1
            noise = np.array([x * ar.eps * 8 for x in mags[0]], dtype=ar.dtype)
            zero = noise * 0
            ok, mode, _ = tol.assess(vals[0], zero, zero, noise)
            return Expectation(vals[0], noise, ok, {"rule": "exact (k=0)", "nodes": 1,
                                                    "accuracy": mode})
        best = None
        budget = MAX_NODES_FLOAT64 if ar.ctx is None else MAX_NODES_MP
        L = self._start.get(skey + ("L",), _truncation(tol.digits)) if ks else None
        if ks and skey not in self._start:
            # no warm start yet: the split rule needs Gauss-Legendre orders of about half the
            # digits per panel, so skip the rungs that cannot agree
            level = next((i for i, q in enumerate(GL_LADDER) if q >= tol.digits / 2),
                         len(GL_LADDER) - 1) - 1
        lv = max(1, level)
        widenings = 0
        work = 0
        # Directions with small logit spreads get their GH order from a floor computed for
        # ``tol.digits``; a quantity that cancels far below its terms' size (e.g. the EM
        # direction at a near-zero mean) needs more, so when a failed rung left the orders
        # unchanged the floor is computed for more digits on the next rung.
        boost, last_orders = 0, None
        # A budget exhausted before any rule pair finished leaves no value at all; once, the
        # ladder restarts from its first rung so that a value with a (wide, true) error exists
        # for callers that take one (strict=False) -- only where it started above that rung.
        restarted = False
        while lv < len(GH_LADDER):
            results = []
            over = None
            for coarse in (True, False):
                ncomp = len(f.bounds[0]) + geom.e.shape[0]
                room = budget if ar.ctx is None else min(budget, (MAX_WORK_MP - work) // ncomp)
                try:
                    U, W, info = self.nodes(geom, lv, tol.digits + boost, coarse, L,
                                            max_nodes=max(room, 0))
                except _OverBudget as e:
                    over = str(e) + f" (budget: {MAX_WORK_MP} node-components, {budget} nodes)"
                    break
                except InaccurateError as e:
                    return _unresolved(geom, ar, str(e), best)
                if len(W) > budget:
                    over = (f"the rule at level {lv} needs {len(W)} nodes, over the budget of "
                            f"{budget}" + (f" (truncation L = {L:.4g})" if L else ""))
                    break
                work += len(W) * (len(f.bounds[0]) + geom.e.shape[0])
                if ar.ctx is not None and work > MAX_WORK_MP:
                    over = (f"the node budget is exhausted at level {lv}: {work} node-components "
                            f"over the mpmath budget of {MAX_WORK_MP} (quadrature.MAX_WORK_MP)")
                    break
                vals, mags = f(U)
                self.evaluations += len(W)
                results.append(((W[:, None] * vals).sum(axis=0), W, mags, info))
            if over is not None:
                if best is None and not restarted and lv > 1:
                    restarted, lv, work = True, 1, 0
                    continue
                return _unresolved(geom, ar, over + ("; fewer digits need fewer nodes"
                                                     if best is not None else ""), best)
            (v0, W0, _, _), (val, W, mags, info) = results
            quad = np.abs(val - v0)
            # rounding: each weighted sum loses at most ~sqrt(m) eps of the sum of the magnitudes
            noise = (np.abs(W)[:, None] * mags).sum(axis=0) * ar.eps * 8 * math.sqrt(len(W))
            tail = tail_bound(f.bounds, geom.k, ks, L, ar) if ks else quad * 0
            if ks and not tol.tail_target_met(val, tail, noise):
                # the mass outside [-L, L] may matter relative to the value: widen the range
                # until the bound is small against the value just computed, then recompute
                L_new = L
                while not tol.tail_target_met(val, tail_bound(f.bounds, geom.k, ks, L_new, ar),
                                              noise):
                    L_new = L_new * 1.05 + 0.5
                    if ar.ctx is None and L_new > L_MAX_FLOAT64:
                        raise Float64RangeError(
                            f"the integrand's mass lies beyond |u| = {L_MAX_FLOAT64} (relative to "
                            "the value asked for), where float64 Gaussian weights underflow; "
                            "use backend='mpmath'")
                    if L_new > L_MAX:
                        return _unresolved(geom, ar, f"the truncation range needed exceeds "
                                           f"|u| <= {L_MAX}: the value's mass sits further out "
                                           "(a tie point beyond it, a value ~e^{-u^2/2} there); "
                                           "no back end here reaches it, at any digits", best)
                L = L_new
                widenings += 1
                if widenings > 12:
                    return _unresolved(geom, ar, "the truncation range did not settle", best)
                continue
            ok, mode, _ = tol.assess(val, quad, tail, noise)
            desc = {"rule": _describe(ks, info["gh_orders"], lv), "nodes": int(len(W)),
                    "compare_nodes": int(len(W0)), "level": lv, "accuracy": mode}
            if ks:
                desc["truncation"] = float(L)
            best = Expectation(val, quad + tail + noise, ok, desc)
            if ok:
                # Warm start: next time begin at this level, or one lower when this pair agreed
                # far better than needed, so the ladder can also come down; likewise the range.
                slack, _, _ = dataclasses.replace(tol, digits=tol.digits + 4).assess(
                    val, quad, tail, noise)
                self._start[skey] = max(1, lv - (1 if slack else 0))
                if ks:
                    self._start[skey + ("L",)] = L
                return best
            if info["gh_orders"] == last_orders:
                boost += 4
            last_orders = info["gh_orders"]
            lv += 1
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
