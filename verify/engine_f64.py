"""Compiled float64 engine (numba) for population gradient descent (SPEC §2, §4; issue 10).

One compiled call runs many GD steps: each step reduces the parameters to the span of their
differences (Gram-Schmidt twice, principal directions first, as SPEC §2 "Dimension reduction"),
evaluates the loss and the direct-form gradient of SPEC §2 with a pair of rules of consecutive order
(their difference, plus a rounding bound and, for split rules, a truncation bound, is the error
estimate), climbs the ladder until the estimate meets the target, and updates the parameters.
Records follow :func:`verify.dynamics.record_schedule`; the stop rules (max steps, overflow, all
parameters classified) are applied inside the compiled loop.  Chunks of steps return to Python so
the progress bar and Ctrl-C keep working.

Rules (independent of :mod:`verify.quadrature`, same mathematics):

* overlapping directions (logit-slope spread below ``sharp_limit``): tensor Gauss-Hermite in the
  reduced coordinates, exponentials factorised across dimensions (exp<u, e_i> = prod_m exp(u_m e_im):
  n * K * k exponentials per rule, not one per node and component), node loop innermost;
* separated directions (up to three): composite Gauss-Legendre on [-L, L] split at the softmax tie
  points (pairs of logits along the inner line, triples along the next one, quadruples -- vertices
  of the 3-D softmax diagram -- along the outermost) and graded towards them (where the gradings
  of nearby ties overlap, an edge stays only if some tie's grading needs it: no slivers),
  all computed inside the compiled code per outer node, the inner lines' nodes gathered into blocks
  of about NODE_BLOCK nodes; Gauss-Hermite along the remaining directions.
  As in :mod:`verify.quadrature`, the range is widened until a rigorous bound on the Gaussian mass
  outside it times a bound on |f| is small *relative to the computed loss and gradient* (a far
  component's mass sits near its tie point r/2, ~e^{-r^2/8}); past |u| = 36 (float64 weights
  underflow) the step returns RANGE and is taken on the numpy path.  v is formed from the
  component nearest the target (no cancellation where it dominates).

Rule order follows the requested digits and the geometry: per direction the Gauss-Hermite order
shrinks with the spread, and the ladder level is the lowest whose pair meets the target (warm
started per run, moving down when a pair agrees 4 digits better than needed, or, for a split
rule, when a probe every SLACK_STEPS steps finds that the pair one rung lower meets the target).
A mixed rule (separated and smooth directions) has two ladders, the Gauss-Legendre level and a Gauss-Hermite
level: while the latter gives no higher orders, the rule is the one-ladder pair; when a failing
pair's Gauss-Hermite share is the larger (one more pass splits the difference), the Gauss-Hermite
level climbs alone and the rule is two-way: three passes, (GH coarse, GL fine), (GH fine,
GL coarse), (GH fine, GL fine), give each family's difference with the other at its returned
order; their sum is the estimate, and only a family whose difference is too large climbs.  A
smooth direction that needs many Gauss-Hermite nodes so no longer drags the split rule to 32-40
Gauss-Legendre nodes per panel where 8 suffice.  A step whose
estimate misses the target returns a status instead of a value; :mod:`verify.dynamics` then takes
that step on the numpy/mpmath path and records why.  The lines' work arrays (edges, node rows) come
from a work space allocated once per trajectory (:func:`workspace`), not per line, which
also keeps each inner line's panel edges for the next step while its ties stay put (REUSE_SHIFT).
"""
from __future__ import annotations

import math

import numpy as np
from numba.typed import List

from verify.jitcache import njit

GH_LADDER = np.array([2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160], dtype=np.int64)
GL_LADDER = np.array([4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96], dtype=np.int64)
NL = len(GH_LADDER)
GH_COMFORT = 128
# Widest panel away from ties (and where a tie's grading ends).  3 took 0.86x the time on far
# one-converges cells but its pair estimate fell below the true loss error (3.5x) on the 1-D far
# run [[30], [0.5]] at 8 digits (tests/test_engine_f64.py): kept at 2
PANEL_MAX = 2.0
MAX_SPLIT_DIMS = 3
MAX_NODES = 2_000_000
# Three separated directions (issue 24): a nested split rule of ~(panels x order)^3 nodes; at the
# lowest rungs that is ~5-50 million nodes (~0.1 us each compiled), so its budget is larger.
MAX_NODES_SPLIT3 = 120_000_000
EPS = 2.0 ** -52
OVERFLOW = 1e60
# Widest truncation range, as quadrature.L_MAX_FLOAT64: float64 Gaussian weights exp(-u^2/2)
# underflow near |u| = 38.6.  Mass that needs a wider range is a RANGE status (the numpy path then
# raises quadrature.Float64RangeError and backend="auto" reruns in mpmath).
L_MAX = 36.0
L_STEP = 1.0       # one widening of the split range (the warm start counts them)
WIDEN_CHUNK = 8.0  # widen by at most this much before recomputing the value
MAX_WIDENINGS = 40
SLACK_STEPS = 8
# A split rule's level may also come down when the pair one rung lower would meet the target:
# every SLACK_STEPS steps at one level (>= 2), one extra pass at the order below the coarse one
# gives that pair's difference exactly (the panels do not depend on the order); it must meet the
# target with PROBE_SPARE digits to spare (a factor 2).  Without it a run that once needed the
# higher rung kept it: the pair's estimate includes the range's tail term, held near a quarter of
# the allowance, so "4 digits better than needed" never held (one-converges cells ran 20000
# steps at GL 6->8 where GL 4->6 met the target: 59 000 against 21 000 nodes a step).
PROBE_SPARE = 0.3
# Graded panels towards a tie grow by this factor (edges at p +- w GRADING^j): a GL q panel at
# distance D from a tie of width w (poles of the softmax at distance pi w) has Bernstein radius
# rho ~ (G+1)/(G-1) + sqrt(((G+1)/(G-1))^2 - 1), 3.7 at G = 3 (GL 4: rho^-8 ~ 3e-5 relative to
# the panel's variation; 5.8 at G = 2).  Measured on one-converges trajectories (n = 3, 4; d = 2):
# 0.64x the nodes of G = 2 at the lowest rung, true errors 1e-7 against a 1e-4 target; G = 4
# needs the next rung (more nodes).
GRADING = 3.0
# Along the outer coordinates the features are where tie lines cross (triple points; quadruple
# in 3-D), and what the outer rule integrates is a line integral across them: the crossing is
# smoothed over a transition width, so its grading starts at OUTER_WIDTH transition widths.
# Measured on the same trajectories (5 digits, 40 configurations against 10-digit values):
# 1 -> 4 takes 0.73x the nodes, true errors at most 0.002 of the target and 0.26 of the
# estimate; at 8 a true error reached 0.97 of its estimate (too coarse: not used).
OUTER_WIDTH = 4.0

# Reassociation lets the node-loop sums vectorise (SIMD); NaN/inf semantics are kept.
FAST = {"reassoc", "contract"}
# A compiled function with no fastmath of its own takes its first caller's: numba compiles a callee
# with the flags of the function being compiled when it is first met (numba issue 7168), and the
# cache keeps that one version.  _panel_edges, first met in _lines0, was built with FAST by the
# engine's entry points but without it when a test called it first: the uniform panels' edges
# then differed by up to 9 ulps, and the trajectories with them.  So every function called from a
# FAST one that does floating-point arithmetic declares FAST itself (the flags the engine's runs
# have always given it), the helpers without any (index sorts, buffers, the odometer) declare
# False, and tests/test_jitcache.py checks that no callee is left to its caller.

# status codes of one evaluation
OK, INACCURATE, BUDGET, TOO_SHARP, RANGE = 0, 1, 2, 3, 4
STATUS_TEXT = {INACCURATE: "the rule ladder was exhausted before the error estimate met the target",
               BUDGET: f"the rule needs more than {MAX_NODES} nodes ({MAX_NODES_SPLIT3} with "
                       "three separated directions)",
               TOO_SHARP: f"more than {MAX_SPLIT_DIMS} separated directions",
               RANGE: f"the integrand's mass lies beyond |u| = {L_MAX} (relative to the value "
                      "asked for), where float64 Gaussian weights underflow"}
# return codes of a chunk
CHUNK_END, MAX_STEPS, OVERFLOWED, FALLBACK, CLASSIFIED = 0, 1, 2, 3, 4


def _tables():
    m = int(GH_LADDER.max())
    gx, gw = np.zeros((NL, m)), np.zeros((NL, m))
    for li, q in enumerate(GH_LADDER):
        x, w = np.polynomial.hermite_e.hermegauss(int(q))
        gx[li, :q], gw[li, :q] = x, w / math.sqrt(2 * math.pi)
    m = int(GL_LADDER.max())
    lx, lw = np.zeros((NL, m)), np.zeros((NL, m))
    for li, q in enumerate(GL_LADDER):
        x, w = np.polynomial.legendre.leggauss(int(q))
        lx[li, :q], lw[li, :q] = x, w
    return gx, gw, lx, lw


GHX, GHW, GLX, GLW = _tables()


def truncation(digits: float) -> float:
    """First guess for the half-width L of the split rule's range: erfc(L/sqrt 2) (1+L)^2 <
    10^-(digits+2).  Only a starting point: :func:`evaluate` widens the range until the rigorous
    tail bound (:func:`_tail_bounds`) is small relative to the computed loss and gradient."""
    L = 1.0
    while math.log10(math.erfc(L / math.sqrt(2)) * (1 + L) ** 2) > -(digits + 2):
        L += 0.25
    return L


def sharp_limit(digits: float) -> float:
    """Largest logit-slope spread for Gauss-Hermite within GH_COMFORT nodes (poles of the softmax
    at distance pi/spread; N nodes reach ~exp(-(pi/spread) sqrt(2N)))."""
    return min(1.5, math.pi * math.sqrt(2 * GH_COMFORT) / (math.log(10) * (digits + 2)))


class Config:
    """Per-run constants passed to the kernels (digits -> rule parameters)."""

    def __init__(self, digits: float):
        self.digits = float(digits)
        self.L = truncation(digits)
        self.log_limit = math.log10(sharp_limit(digits))
        self.margin = math.log(10.0) * digits + 10.0
        self.params = np.array([self.digits, self.L, self.log_limit, self.margin])


# ----------------------------------------------------------------------------------------------
# Reduction to the span of the differences
# ----------------------------------------------------------------------------------------------

@njit(cache=True)
def _argsort(x):
    """Indices sorting the short array x ascending (insertion sort: compiles fast)."""
    idx = np.empty(x.shape[0], dtype=np.int64)
    _argsort_into(x, idx)
    return idx


@njit(cache=True, fastmath=False)
def _argsort_into(x, idx):
    """idx[:m] = indices sorting x ascending, m = x.shape[0] (no allocation)."""
    m = x.shape[0]
    for i in range(m):
        idx[i] = i
    for i in range(1, m):
        j = i
        while j > 0 and x[idx[j - 1]] > x[idx[j]]:
            t = idx[j - 1]
            idx[j - 1] = idx[j]
            idx[j] = t
            j -= 1


@njit(cache=True)
def _jacobi_eigh(G):
    """Eigenvalues and eigenvectors (columns) of the small symmetric matrix G (cyclic Jacobi)."""
    k = G.shape[0]
    A = G.copy()
    V = np.eye(k)
    for _ in range(100):
        off = 0.0
        tot = 0.0
        for p in range(k):
            for q in range(k):
                tot += A[p, q] * A[p, q]
                if p != q:
                    off += A[p, q] * A[p, q]
        if off <= 1e-32 * tot or off == 0.0:
            break
        for p in range(k - 1):
            for q in range(p + 1, k):
                if A[p, q] == 0.0:
                    continue
                theta = (A[q, q] - A[p, p]) / (2 * A[p, q])
                t = (1.0 if theta >= 0 else -1.0) / (abs(theta) + math.sqrt(theta * theta + 1))
                c = 1 / math.sqrt(t * t + 1)
                s = t * c
                for r in range(k):
                    arp = A[r, p]
                    arq = A[r, q]
                    A[r, p] = c * arp - s * arq
                    A[r, q] = s * arp + c * arq
                for r in range(k):
                    apr = A[p, r]
                    aqr = A[q, r]
                    A[p, r] = c * apr - s * aqr
                    A[q, r] = s * apr + c * aqr
                for r in range(k):
                    vrp = V[r, p]
                    vrq = V[r, q]
                    V[r, p] = c * vrp - s * vrq
                    V[r, q] = s * vrp + c * vrq
    lam = np.empty(k)
    for p in range(k):
        lam[p] = A[p, p]
    return lam, V


@njit(cache=True, inline="always")   # one call site (_evaluate)
def _reduce(C):
    """(D, Pp, Ep, o, k): differences, basis (d, k), logit slopes (n, k), offsets (n,)."""
    n, d = C.shape
    D = np.empty((n, d))
    for i in range(n):
        for j in range(d):
            D[i, j] = C[i, j] - C[0, j]
    basis = np.zeros((d, d))
    kb = 0
    rel = EPS * 1e4
    res = np.empty(d)
    for r in range(1, n):
        nrm0 = 0.0
        for j in range(d):
            nrm0 += D[r, j] * D[r, j]
        nrm0 = math.sqrt(nrm0)
        if nrm0 == 0.0:
            continue
        for j in range(d):
            res[j] = D[r, j]
        for _ in range(2):
            for b in range(kb):
                dot = 0.0
                for j in range(d):
                    dot += res[j] * basis[b, j]
                for j in range(d):
                    res[j] -= dot * basis[b, j]
        nrm = 0.0
        for j in range(d):
            nrm += res[j] * res[j]
        nrm = math.sqrt(nrm)
        if nrm > rel * nrm0:
            for j in range(d):
                basis[kb, j] = res[j] / nrm
            kb += 1
        if kb == d:
            break
    k = kb
    E0 = np.zeros((n, k))
    for i in range(n):
        for m in range(k):
            s = 0.0
            for j in range(d):
                s += D[i, j] * basis[m, j]
            E0[i, m] = s
    P = np.zeros((d, k))
    if k >= 2:
        mean = np.zeros(k)
        for i in range(n):
            for m in range(k):
                mean[m] += E0[i, m]
        for m in range(k):
            mean[m] /= n
        G = np.zeros((k, k))
        for i in range(n):
            for a in range(k):
                for b in range(k):
                    G[a, b] += (E0[i, a] - mean[a]) * (E0[i, b] - mean[b])
        lam, V = _jacobi_eigh(G)
        order = _argsort(-lam)
        for j in range(d):
            for m in range(k):
                s = 0.0
                for a in range(k):
                    s += basis[a, j] * V[a, order[m]]
                P[j, m] = s
    else:
        for j in range(d):
            for m in range(k):
                P[j, m] = basis[m, j]
    E = np.zeros((n, k))
    o = np.zeros(n)
    for i in range(n):
        for m in range(k):
            s = 0.0
            for j in range(d):
                s += D[i, j] * P[j, m]
            E[i, m] = s
        s1 = 0.0
        s2 = 0.0
        for j in range(d):
            s1 += D[i, j] * C[0, j]
            s2 += D[i, j] * D[i, j]
        o[i] = -(s1 + s2 / 2)
    return D, P, E, o, k


@njit(cache=True)
def _gh_index(lsp, level, top, coarse, digits):
    """Ladder index of the Gauss-Hermite order along a smooth direction of log10 spread ``lsp``
    at ladder ``level``; ``top`` is the largest log10 spread of the smooth directions, whose order
    is the level's.  The order follows the spread (for wide spreads N ~ spread^2, so a direction
    2^s times narrower sits 2s rungs lower), but never below the order at which the softmax's
    Taylor terms (3 spread)^(2N) fall under 10^-digits; the coarse rule is one rung lower."""
    if lsp == -np.inf:
        fine = 1
    else:
        fine = max(1, level - int(2 * (top - lsp) / math.log10(2.0)))
        t = -(math.log10(3.0) + lsp)
        if t > 0.3:
            need = math.ceil(digits / (2 * t)) + 1
            for i in range(NL):
                if GH_LADDER[i] >= need:
                    fine = max(fine, i)
                    break
    fine = min(fine, NL - 1)
    return fine - 1 if coarse else fine


# ----------------------------------------------------------------------------------------------
# Integrand: accumulate the blocks F, wv (n*d), wh (n), uwh (k*n) at one node
# ----------------------------------------------------------------------------------------------

@njit(cache=True, fastmath=FAST)
def _accum_block(A, q, U, Ws, C, D, acc, aacc, V, H, Fc, Vs, R):
    """Accumulate the blocks F, wv (n*d), wh (n), uwh (k*n) over q nodes (coordinates U (k, q),
    weights Ws).  A (n, q) holds the
    unnormalised softmax weights (overwritten).  Node loop innermost.  aacc gets sum W |term|
    (for the rounding bound; an empty aacc skips it: the coarse rule of a pair needs none).
    V, H, Fc, Vs, R: work arrays (d, q), (n, q), (q), (q), (q)."""
    n, d = D.shape
    k = U.shape[0]
    rnd = aacc.shape[0] > 0
    # each pass runs over the nodes (rows of length q), so that it vectorises; a pass begins
    # with its first term rather than with zeros (0 + x is x: the sums are the same)
    for c in range(q):
        Fc[c] = A[0, c]
    for i in range(1, n):
        for c in range(q):
            Fc[c] += A[i, c]
    for c in range(q):
        Fc[c] = 1.0 / Fc[c]
    for i in range(n):
        for c in range(q):
            A[i, c] *= Fc[c]
    # rounding scale: v = c_0 + sum_i w_i d_i is formed at |c_0| + sum_i w_i |d_i| >= |v| (terms
    # that cancel leave rounding of their own size), h_i at (|d_i| + sum_j w_j |d_j|) that scale
    Dn = np.empty(n)
    for i in range(n):
        s = 0.0
        for j in range(d):
            s += D[i, j] * D[i, j]
        Dn[i] = math.sqrt(s)
    c0n = 0.0
    for j in range(d):
        c0n += C[0, j] * C[0, j]
    c0n = math.sqrt(c0n)
    gam = 0.5 * (n + 3)
    if rnd:
        dn = Dn[0]
        for c in range(q):
            Vs[c] = A[0, c] * dn
        for i in range(1, n):
            dn = Dn[i]
            for c in range(q):
                Vs[c] += A[i, c] * dn
    for j in range(d):
        dij = D[0, j]
        for c in range(q):
            V[j, c] = A[0, c] * dij
        for i in range(1, n):
            dij = D[i, j]
            for c in range(q):
                V[j, c] += A[i, c] * dij
    for j in range(d):
        c0 = C[0, j]
        for i in range(n):
            dij = D[i, j]
            if j == 0:
                for c in range(q):
                    H[i, c] = (dij - V[j, c]) * (c0 + V[j, c])
            else:
                for c in range(q):
                    H[i, c] += (dij - V[j, c]) * (c0 + V[j, c])
        for c in range(q):
            V[j, c] += c0
    for c in range(q):
        Fc[c] = V[0, c] * V[0, c]
    for j in range(1, d):
        for c in range(q):
            Fc[c] += V[j, c] * V[j, c]
    s = 0.0
    for c in range(q):
        s += Ws[c] * Fc[c]
    acc[0] += s
    if rnd:
        sa = 0.0
        for c in range(q):
            # |fl(v) - v| <= (n+3) eps va, so |fl(f) - f| <= (n+3) eps va (2|v| + (n+3) eps va)
            # + d eps f; the rounding bound is 8 sqrt(m) eps times this magnitude
            va = c0n + Vs[c]
            f = Fc[c]
            sa += Ws[c] * (f + gam * va * (math.sqrt(f) + 2 * gam * EPS * va))
        aacc[0] += sa
        # from here on Fc holds the rounding scale |c_0| + sum_j w_j |d_j|
        for c in range(q):
            Fc[c] = c0n + Vs[c]
    p = 1 + n * d
    for i in range(n):
        # one pass makes A hold W w_i (weight times softmax weight) and H hold W w_i h_i (each
        # product formed once, not per block component) and sums what needs no other row
        s = 0.0
        if rnd:
            sa = 0.0
            sr = 0.0
            dn = Dn[i]
            for c in range(q):
                a = A[i, c] * Ws[c]
                A[i, c] = a
                h = H[i, c] * a
                H[i, c] = h
                s += h
                sa += a * Fc[c]
                r = a * (dn + Vs[c]) * Fc[c]
                R[c] = r
                sr += r
            aacc[p + i] += sr
            # the same magnitude for every j
            for j in range(d):
                aacc[1 + i * d + j] += sa
        else:
            for c in range(q):
                a = A[i, c] * Ws[c]
                A[i, c] = a
                h = H[i, c] * a
                H[i, c] = h
                s += h
        acc[p + i] += s
        for j in range(d):
            s = 0.0
            for c in range(q):
                s += A[i, c] * V[j, c]
            acc[1 + i * d + j] += s
        for m in range(k):
            s = 0.0
            for c in range(q):
                s += U[m, c] * H[i, c]
            acc[p + n + m * n + i] += s
            if rnd:
                sa = 0.0
                for c in range(q):
                    sa += abs(U[m, c]) * R[c]
                aacc[p + n + m * n + i] += sa


@njit(cache=True, fastmath=FAST)
def _tensor_gh(E, o, C, D, idx, acc, aacc):
    """Tensor Gauss-Hermite over all k directions with factorised exponentials (n * K * k
    exponentials per rule); the last one or two directions form one vectorised node block, an
    odometer runs over the others.  Returns the node count."""
    n, d = D.shape
    k = E.shape[1]
    qmax = 0
    for m in range(k):
        qmax = max(qmax, GH_LADDER[idx[m]])
    X = np.empty((k, n, qmax))
    for m in range(k):
        lo = E[0, m]
        hi = E[0, m]
        for i in range(n):
            lo = min(lo, E[i, m])
            hi = max(hi, E[i, m])
        cm = 0.5 * (lo + hi)
        q = GH_LADDER[idx[m]]
        for i in range(n):
            e = E[i, m] - cm
            for a in range(q):
                X[m, i, a] = math.exp(GHX[idx[m], a] * e)
    omax = o[0]
    for i in range(n):
        omax = max(omax, o[i])
    nb = 2 if k >= 2 else 1          # directions in the node block
    ko = k - nb                      # directions of the odometer
    qa = GH_LADDER[idx[k - nb]]
    qb = GH_LADDER[idx[k - 1]] if nb == 2 else 1
    Q = qa * qb
    # the block's coordinates and weights, and its factorised exponentials (fixed per rule)
    U = np.zeros((k, Q))
    Wb = np.empty(Q)
    Xb = np.empty((n, Q))
    for a in range(qa):
        for b in range(qb):
            c = a * qb + b
            U[k - nb, c] = GHX[idx[k - nb], a]
            w = GHW[idx[k - nb], a]
            if nb == 2:
                U[k - 1, c] = GHX[idx[k - 1], b]
                w *= GHW[idx[k - 1], b]
            Wb[c] = w
    for i in range(n):
        for a in range(qa):
            xa = X[k - nb, i, a]
            for b in range(qb):
                Xb[i, a * qb + b] = xa * (X[k - 1, i, b] if nb == 2 else 1.0)
    prod = np.empty((ko + 1, n))
    wprod = np.empty(ko + 1)
    for i in range(n):
        prod[0, i] = math.exp(o[i] - omax)
    wprod[0] = 1.0
    cnt = np.zeros(max(ko, 1), dtype=np.int64)
    A = np.empty((n, Q))
    V = np.empty((d, Q))
    H = np.empty((n, Q))
    Fc = np.empty(Q)
    Ws = np.empty(Q)
    Vs = np.empty(Q)
    R = np.empty(Q)
    nodes = 0
    level = 0
    while True:
        for m in range(level, ko):
            c = cnt[m]
            x = GHX[idx[m], c]
            for t in range(Q):
                U[m, t] = x
            wprod[m + 1] = wprod[m] * GHW[idx[m], c]
            for i in range(n):
                prod[m + 1, i] = prod[m, i] * X[m, i, c]
        wp = wprod[ko]
        for c in range(Q):
            Ws[c] = wp * Wb[c]
        for i in range(n):
            pi = prod[ko, i]
            for c in range(Q):
                A[i, c] = pi * Xb[i, c]
        _accum_block(A, Q, U, Ws, C, D, acc, aacc, V, H, Fc, Vs, R)
        nodes += Q
        if not _advance(cnt, idx, ko - 1):
            break
    return nodes


@njit(cache=True, fastmath=False)
def _advance(cnt, idx, top):
    """Step the mixed-radix node counter cnt[0..top] (digit m runs over the GH_LADDER[idx[m]]
    nodes of its rule), last digit fastest; False once it wraps (every node visited)."""
    m = top
    while m >= 0:
        cnt[m] += 1
        if cnt[m] < GH_LADDER[idx[m]]:
            return True
        cnt[m] = 0
        m -= 1
    return False


# the line rules' work arrays: initial length of each (grown on demand, kept for the chunk)
WORK_INIT = 256
# slots of the float64 buffers, W_US the last (edges at levels 0, 1, 2 must coexist: an outer line's edges
# stay in use while its inner lines run; the inner lines' edges one after another; the inner
# lines' coordinates and weights) and of the int64 buffers (scratch, exponent bits, the offsets
# of each inner line's edges; WI_OFFS the last)
W_EDGES, W_TMP, W_NODES, W_LINES, W_US = (np.int64(i) for i in (0, 3, 4, 5, 6))
WI_TMP, WI_BITS, WI_OFFS = (np.int64(i) for i in (0, 1, 2))
# An inner line's panel edges are a function of its ties (positions and transition widths) and of
# the range L alone (:func:`_panel_edges`), and building them is about a fifth of a far run's
# time (measured: building every inner line's edges twice took 1.18x the time on four n = 3, 4
# far states).  A work space kept for a whole trajectory (verify.dynamics makes one per run)
# keeps the edges each evaluation pass built, line by line in the order the pass meets its lines,
# with the ties they were built from: pass p < CACHED_PASSES of an evaluation in buffers
# W_CACHE + p (edges), W_CTIES + p (ties: positions, then widths), WI_COFF + p and WI_CTOFF + p
# (offsets), with its range in W_CL.  The next evaluation recomputes each line's ties (cheap) and
# takes the kept edges when they are the same ties -- as many, each within REUSE_SHIFT of its
# transition width w of where it was, each width within REUSE_SHIFT of itself -- and the range
# is unchanged; any other line is rebuilt (in place, or, when its number of ties or edges
# changed, with the pass's later lines).  Why a quarter of w is harmless: the softmax across a
# tie is analytic with its poles ~pi w off the real line, not on it, so the tie need not sit on an
# edge; what the grading secures is each panel's Bernstein radius rho (see GRADING).  A tie moved
# by w/4 and narrowed by a quarter leaves the two panels beside it at rho ~9 (~13 in place) and
# moves the graded ones, whose design value is rho ~3.7 at distance D >> w, by O(w/D).  The rule
# is still a pair of Gauss-Legendre rules on fixed panels, judged by its own difference each step.
# Measured on six n = 3, 4 far states over 400 steps: 0.90x the time, 90% of the lines' edges taken,
# the same nodes a step, iterates within 2e-9 of rebuilding every line (the runs' 4 digits ask
# 1e-4).  A single evaluation (:func:`evaluate`) uses a fresh work space, so it builds every line;
# the kept edges of a run do not depend on where its chunks of steps begin.  (Two separated
# directions or fewer: see _split.)
CACHED_PASSES = 6
REUSE_SHIFT = 0.25
W_CL = np.int64(7)                       # the range L each pass's kept edges were built for
W_CACHE = np.int64(8)
W_CTIES = np.int64(8 + CACHED_PASSES)
WI_CTRL = np.int64(3)                    # the counters below
WI_COFF = np.int64(4)
WI_CTOFF = np.int64(4 + CACHED_PASSES)
# entries of the WI_CTRL buffer: the evaluation's pass number, the pass's line number, the kept
# edges' slot of the pass (CACHED_PASSES: none), lines that took kept edges (a count the tests
# read), and from CT_KEPT on each slot's number of kept lines
CT_PASS, CT_LINE, CT_SLOT, CT_REUSED, CT_KEPT = 0, 1, 2, 3, 4
# Integer arguments written as constants (a line's level, a state slot) go through these: numba
# compiles a callee once for every literal value it is passed (``Literal[int](2)``), whereas
# these are typed int64, so one compile serves all values (a cold compile of the engine went
# from 80-88 s to 41-46 s on one idle core; 300-step runs from 24 far configurations take the
# same time, 0.998x, and agree to 7e-8 relative, their evaluations differing in rounding).
I0, I1, I2, I3 = (np.int64(i) for i in range(4))
# Inner lines are integrated in blocks of at least this many nodes (several lines per call of
# _accum_block): its fixed cost per call (the rounding norms, ~60 short loops) is then spread
# over more nodes.  Measured on 300-step runs from 24 far one-converges configurations (n = 3, 4;
# 4 and 5 digits), eight interleaved repetitions: 0.93x the time of one block per line (median
# ratio), 512 and 2048 nodes slower than 1024, 4096 no faster than one line a block (the block's
# ~20 rows then leave the L2 cache).  A block's sums differ from the per-line ones in rounding.
NODE_BLOCK = 1024


@njit(cache=True)
def workspace():
    """Work arrays for the split rule's lines, allocated once per trajectory (or per
    :func:`evaluate_errors` call) and reused by every line of every evaluation: the float64
    buffers W_* and the int64 buffers WI_* above, each grown by :func:`_grab` when a line needs
    more.  Measured on the one-converges grid (2 Dask
    workers): 0.88x the time of allocating them per line.  Allocated per split pass at a size
    bounding every line, they sat above malloc's mmap threshold (Dask workers set
    MALLOC_TRIM_THRESHOLD_), and the page faults cost 100 s of system time."""
    f = List()
    for _ in range(W_CTIES + CACHED_PASSES):
        f.append(np.zeros(WORK_INIT))
    i = List()
    for _ in range(WI_CTOFF + CACHED_PASSES):
        i.append(np.zeros(WORK_INIT, dtype=np.int64))
    return f, i


@njit(cache=True, fastmath=False)
def _grab(bufs, slot, m):
    """The first m entries of buffer ``slot`` (a view), after growing it (at least doubling, its
    contents kept) if it is shorter."""
    b = bufs[slot]
    if b.shape[0] < m:
        g = np.empty(max(m, 2 * b.shape[0]), dtype=b.dtype)
        g[:b.shape[0]] = b
        bufs[slot] = g
        b = g
    return b[:m]


@njit(cache=True, fastmath=FAST)
def _line_breaks(E, o, lev, u, margin, pos, wid, ws):
    """Tie points along coordinate ``lev`` (0, 1 or 2) with the coordinates above it fixed in ``u``:
    where lev+2 logits tie (solving for coordinates 0..lev), kept when the tie is within
    ``margin`` of the largest logit there, each with its transition width in wid (1/|slope
    difference| along the inner line, OUTER_WIDTH times that along the outer ones).  Returns the
    count written to pos/wid."""
    n, k = E.shape
    cnt = 0
    scratch = _grab(ws[0], W_TMP, n + k)
    lg = scratch[:n]
    uu = scratch[n:n + k]
    uu[:] = u
    if lev == 0:
        for i0 in range(n):
            for i1 in range(i0 + 1, n):
                A = E[i1, 0] - E[i0, 0]
                r = -(o[i1] - o[i0])
                for m in range(1, k):
                    r -= (E[i1, m] - E[i0, m]) * u[m]
                if abs(A) < 1e-14 * max(1.0, abs(A)):
                    continue
                x = r / A
                uu[0] = x
                top = -np.inf
                for i in range(n):
                    s = o[i]
                    for m in range(k):
                        s += E[i, m] * uu[m]
                    lg[i] = s
                    top = max(top, s)
                if lg[i0] < top - margin:
                    continue
                sl = 0.0
                for m in range(k):
                    sl += (E[i1, m] - E[i0, m]) ** 2
                pos[cnt] = x
                wid[cnt] = 1.0 / math.sqrt(sl)
                cnt += 1
    elif lev == 1:
        for i0 in range(n):
            for i1 in range(i0 + 1, n):
                for i2 in range(i1 + 1, n):
                    a11 = E[i1, 0] - E[i0, 0]
                    a12 = E[i1, 1] - E[i0, 1]
                    a21 = E[i2, 0] - E[i0, 0]
                    a22 = E[i2, 1] - E[i0, 1]
                    r1 = -(o[i1] - o[i0])
                    r2 = -(o[i2] - o[i0])
                    for m in range(2, k):
                        r1 -= (E[i1, m] - E[i0, m]) * u[m]
                        r2 -= (E[i2, m] - E[i0, m]) * u[m]
                    det = a11 * a22 - a12 * a21
                    big = max(1.0, max(max(abs(a11), abs(a12)), max(abs(a21), abs(a22))))
                    if abs(det) < 1e-14 * big * big:
                        continue
                    x0 = (r1 * a22 - a12 * r2) / det
                    x1 = (a11 * r2 - a21 * r1) / det
                    uu[0] = x0
                    uu[1] = x1
                    top = -np.inf
                    for i in range(n):
                        s = o[i]
                        for m in range(k):
                            s += E[i, m] * uu[m]
                        lg[i] = s
                        top = max(top, s)
                    if lg[i0] < top - margin:
                        continue
                    s1 = 0.0
                    s2 = 0.0
                    for m in range(k):
                        s1 += (E[i1, m] - E[i0, m]) ** 2
                        s2 += (E[i2, m] - E[i0, m]) ** 2
                    pos[cnt] = x1
                    wid[cnt] = OUTER_WIDTH / math.sqrt(max(s1, s2))
                    cnt += 1
    else:
        # lev == 2: where four logits tie (a vertex of the 3-D softmax diagram), solving for
        # coordinates 0..2 (Cramer's rule) with the coordinates above fixed
        A = np.empty((3, 3))
        r = np.empty(3)
        for i0 in range(n):
            for i1 in range(i0 + 1, n):
                for i2 in range(i1 + 1, n):
                    for i3 in range(i2 + 1, n):
                        big = 1.0
                        for a, ia in enumerate((i1, i2, i3)):
                            for m in range(3):
                                A[a, m] = E[ia, m] - E[i0, m]
                                big = max(big, abs(A[a, m]))
                            ra = -(o[ia] - o[i0])
                            for m in range(3, k):
                                ra -= (E[ia, m] - E[i0, m]) * u[m]
                            r[a] = ra
                        det = _det3(A)
                        if abs(det) < 1e-14 * big * big * big:
                            continue
                        for m in range(3):
                            uu[m] = _det3_col(A, r, m) / det
                        top = -np.inf
                        for i in range(n):
                            s = o[i]
                            for m in range(k):
                                s += E[i, m] * uu[m]
                            lg[i] = s
                            top = max(top, s)
                        if lg[i0] < top - margin:
                            continue
                        smax = 0.0
                        for ia in (i1, i2, i3):
                            s1 = 0.0
                            for m in range(k):
                                s1 += (E[ia, m] - E[i0, m]) ** 2
                            smax = max(smax, s1)
                        pos[cnt] = uu[2]
                        wid[cnt] = OUTER_WIDTH / math.sqrt(smax)
                        cnt += 1
    return cnt


LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238      # ln 2 in two parts (Cody-Waite): k LN2_HI is exact for |k| < 2^11
LN2_LO = 1.9082149292705877e-10
ROUND_MAGIC = 6755399441055744.0      # 1.5 * 2^52: adding it rounds to an integer in the low bits
ROUND_MAGIC_BITS = int(np.array([ROUND_MAGIC]).view(np.int64)[0])


@njit(cache=True, fastmath={"contract"})
def _exp_poly(x, out, tb):
    """First pass of :func:`_exp_nonpos`: out = exp(r), tb = y log2 e + ROUND_MAGIC (k in its
    low bits), with y = max(x, -708) = k ln 2 + r, |r| <= ln2 / 2 (branch-free, so it vectorises;
    no reassociation, which would cancel the rounding constant)."""
    for c in range(x.shape[0]):
        y = x[c]
        y = y if y > -708.0 else -708.0
        t = y * LOG2E + ROUND_MAGIC
        tb[c] = t
        kf = t - ROUND_MAGIC
        r = (y - kf * LN2_HI) - kf * LN2_LO
        # Taylor series to degree 13: remainder (ln2 / 2)^14 / 14! < 5e-18 relative
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        out[c] = p


@njit(cache=True, fastmath=FAST)
def _exp_nonpos(x, out, tb, kb):
    """out[c] = exp(x[c]) for x[c] <= 0 within about 1 ulp (below -708, exp(-708) ~ 3e-308: a
    softmax weight that far below the largest is nothing next to it), in loops the compiler
    vectorises: 1.6 against 5.0 ns an exponential for math.exp, measured here (AVX2).  The
    split rule takes n - 1 or n exponentials per node; x, out, tb (float64) and kb (int64) are
    distinct arrays of one length (no aliasing, or the loops stay scalar)."""
    _exp_poly(x, out, tb)
    ti = tb.view(np.int64)
    for c in range(x.shape[0]):
        kb[c] = (ti[c] - ROUND_MAGIC_BITS + 1023) << 52       # the bits of 2^k
    sc = kb.view(np.float64)
    for c in range(x.shape[0]):
        out[c] *= sc[c]


@njit(cache=True, fastmath=FAST)
def _det3(A):
    return (A[0, 0] * (A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1])
            - A[0, 1] * (A[1, 0] * A[2, 2] - A[1, 2] * A[2, 0])
            + A[0, 2] * (A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0]))


@njit(cache=True, fastmath=FAST)
def _det3_col(A, r, col):
    """det(A) with column ``col`` replaced by r (Cramer's rule)."""
    B = A.copy()
    for a in range(3):
        B[a, col] = r[a]
    return _det3(B)


@njit(cache=True, fastmath=False)
def _sort_in_place(x):
    """Sort x ascending in place (insertion sort: linear on the nearly sorted edges)."""
    for i in range(1, x.shape[0]):
        v = x[i]
        j = i
        while j > 0 and x[j - 1] > v:
            x[j] = x[j - 1]
            j -= 1
        x[j] = v


@njit(cache=True, fastmath=FAST)
def _panel_edges(pos, wid, nb, L, lev, ws):
    """Panel edges on [-L, L]: tie points, graded towards each (first panel = transition width,
    each next one GRADING - 1 times its distance from the tie), uniform panels no wider than
    PANEL_MAX elsewhere.  Returns a view of the work space's edge buffer for level ``lev``."""
    cap = 2
    for b in range(nb):
        cap += 1
        h = wid[b]
        while h < PANEL_MAX:
            cap += 2
            h *= GRADING
    scratch = _grab(ws[0], W_TMP, cap + 3 * nb)
    raw = scratch[:cap]
    fp = scratch[cap:cap + nb]     # the features graded towards: centre, width, last graded distance
    fw = scratch[cap + nb:cap + 2 * nb]
    fl = scratch[cap + 2 * nb:cap + 3 * nb]
    fl[:] = 0.0
    nf = 0
    c = 0
    raw[c] = -L
    c += 1
    wmin = np.inf
    # ties closer than half their transition width are one feature: grade towards their middle
    order = _grab(ws[1], WI_TMP, nb)
    _argsort_into(pos[:nb], order)
    b = 0
    while b < nb:
        lo = pos[order[b]]
        hi = lo
        w = wid[order[b]]
        e = b + 1
        while e < nb and pos[order[e]] - hi < 0.5 * min(w, wid[order[e]]):
            hi = pos[order[e]]
            w = min(w, wid[order[e]])
            e += 1
        b = e
        p = 0.5 * (lo + hi)
        # a tie whose transition is wider than a panel is no sharp feature at this scale
        if not (-L < p < L) or w > PANEL_MAX:
            continue
        wmin = min(wmin, w)
        h0 = max(w, hi - lo)
        fp[nf] = p
        fw[nf] = h0
        # the graded edges p -+ h0 GRADING^j (j < J), written in ascending order (features come
        # in ascending order too, so the sort below has little to do)
        J = 0
        h = h0
        while h < PANEL_MAX:
            fl[nf] = h
            J += 1
            h *= GRADING
        h = h0
        for j in range(J):
            raw[c + J - 1 - j] = p - h
            raw[c + J + 1 + j] = p + h
            h *= GRADING
        raw[c + J] = p
        m = c
        for t in range(c, c + 2 * J + 1):
            q = raw[t]
            if -L < q < L:
                raw[m] = q
                m += 1
        c = m
        nf += 1
    raw[c] = L
    c += 1
    pts = raw[:c]
    _sort_in_place(pts)
    c = _drop_redundant(pts, c, fp[:nf], fw[:nf], fl[:nf])
    # edges closer than a thousandth of the narrowest transition are one edge (near-coincident
    # ties, e.g. a cluster of nearly equal parameters, would otherwise make slivers)
    tiny = 1e-12 * L if wmin == np.inf else max(1e-12 * L, 1e-3 * wmin)
    out = _grab(ws[0], W_EDGES + lev, c + int(2 * L / PANEL_MAX) + 4)
    m = 0
    out[0] = pts[0]
    m = 1
    for t in range(1, c):
        q = pts[t]
        gap = q - out[m - 1]
        if gap <= tiny and t < c - 1:
            continue
        if gap > PANEL_MAX:
            # (a gap of at most PANEL_MAX is one piece: its quotient rounds to at most 1)
            pieces = math.ceil(gap / PANEL_MAX)
            base = out[m - 1]
            for s in range(1, pieces):
                out[m] = base + gap * (s / pieces)
                m += 1
        out[m] = q
        m += 1
    return out[:m]


@njit(cache=True, fastmath=FAST)
def _drop_redundant(pts, c, fp, fw, fl):
    """Remove, in place, the graded edges of pts[:c] (sorted) that another feature's grading made
    redundant; returns the new count.  One feature's grading (centre p, width h, edges
    p +- h GRADING^j up to the last, p +- fl, below PANEL_MAX) makes every panel within fl of p no
    wider than max(h, (GRADING - 1) x its distance to p), and panels beyond no wider than
    PANEL_MAX; where the gradings of nearby features overlap, their edges interleave into slivers
    much narrower than that.  An edge is dropped when the panels that result (from the last edge
    kept to the next candidate, cut into pieces no wider than PANEL_MAX) still meet that condition
    for every feature.  Feature centres and the range ends are always kept,
    so a single feature's grading is unchanged and no panel is coarser than some feature's own
    grading allows there (the condition only gets harder as a panel widens: the greedy pass keeps
    exactly the edges whose removal would break it)."""
    nf = fp.shape[0]
    if nf < 2:
        return c
    slack = 1 + 1e-12
    m = 1
    for t in range(1, c):
        e = pts[t]
        keep = t == c - 1
        if not keep:
            for f in range(nf):
                if e == fp[f]:
                    keep = True
                    break
        if not keep:
            a = pts[m - 1]
            b = pts[t + 1]
            # without e, [a, b] is cut into equal pieces no wider than PANEL_MAX (as
            # _panel_edges does next); the pieces at either end are the ones nearest a feature.
            # One piece (the common case) needs no division: b - a <= PANEL_MAX slack is exactly
            # when the rounded quotient is at most 1
            width = b - a
            if width > PANEL_MAX * slack:
                width = width / max(1, math.ceil(width / (PANEL_MAX * slack)))
            for end in range(2):
                lo = a if end == 0 else b - width
                hi = a + width if end == 0 else b
                for f in range(nf):
                    p = fp[f]
                    if lo < p < hi:
                        dist = 0.0
                    else:
                        dist = min(abs(p - lo), abs(p - hi))
                    if dist < fl[f] and width > max(fw[f], (GRADING - 1) * dist) * slack:
                        keep = True
                        break
        if keep:
            pts[m] = e
            m += 1
    return m


@njit(cache=True, fastmath=FAST)
def _kept_edges(ws, slot, seq, pos, wid, nb, at):
    """Copy kept line ``seq`` of pass ``slot`` into the lines buffer at ``at`` when pos/wid[:nb]
    are the ties its edges were built from (same count, each position within REUSE_SHIFT of its
    width, each width within REUSE_SHIFT of itself); returns the edge count, or -1 (nothing kept
    for this line, or its ties moved)."""
    ctrl = ws[1][WI_CTRL]
    if seq >= ctrl[CT_KEPT + slot]:
        return -1
    toff = ws[1][WI_CTOFF + slot]
    ties = ws[0][W_CTIES + slot]
    t0 = toff[seq]
    if toff[seq + 1] - t0 != 2 * nb:
        return -1
    for b in range(nb):
        w = ties[t0 + nb + b]
        if not (abs(pos[b] - ties[t0 + b]) <= REUSE_SHIFT * w
                and abs(wid[b] - w) <= REUSE_SHIFT * w):
            return -1
    eoff = ws[1][WI_COFF + slot]
    cache = ws[0][W_CACHE + slot]
    e0 = eoff[seq]
    ne = eoff[seq + 1] - e0
    dst = _grab(ws[0], W_LINES, at + ne)
    for x in range(ne):
        dst[at + x] = cache[e0 + x]
    ctrl[CT_REUSED] += 1
    return ne


@njit(cache=True, fastmath=False)
def _keep_edges(ws, slot, seq, edges, pos, wid, nb):
    """Keep line ``seq``'s freshly built edges and its ties for pass ``slot``: in place when the
    line was kept before with as many ties and edges (the later lines' kept edges stay where they
    are), else as the pass's last kept line (any kept after it are dropped)."""
    ctrl = ws[1][WI_CTRL]
    kept = ctrl[CT_KEPT + slot]
    if seq > kept:
        return
    ne = edges.shape[0]
    eoff = _grab(ws[1], WI_COFF + slot, seq + 2)
    toff = _grab(ws[1], WI_CTOFF + slot, seq + 2)
    if not (seq < kept and eoff[seq + 1] - eoff[seq] == ne
            and toff[seq + 1] - toff[seq] == 2 * nb):
        if seq == 0:
            eoff[0] = 0
            toff[0] = 0
        eoff[seq + 1] = eoff[seq] + ne
        toff[seq + 1] = toff[seq] + 2 * nb
        ctrl[CT_KEPT + slot] = seq + 1
    cache = _grab(ws[0], W_CACHE + slot, eoff[seq + 1])
    for x in range(ne):
        cache[eoff[seq] + x] = edges[x]
    ties = _grab(ws[0], W_CTIES + slot, toff[seq + 1])
    for b in range(nb):
        ties[toff[seq] + b] = pos[b]
        ties[toff[seq] + nb + b] = wid[b]


@njit(cache=True, fastmath=FAST)
def _lines0(E, o, C, D, us, Wl, t0, nl, gli, L, margin, acc, aacc, pos, wid, ws):
    """Integrate along coordinate 0 (split Gauss-Legendre) over the lines t0, t0 + 1, ... < nl,
    line t with the other coordinates in us[t, 1:] and weight Wl[t], as one node block: lines
    are added until the block has NODE_BLOCK nodes.  Returns (nodes, next line)."""
    n, d = D.shape
    k = E.shape[1]
    q = GL_LADDER[gli]
    norm = 1.0 / math.sqrt(2 * math.pi)
    # each line's edges, one line after another (line t's are allp[off[t]:off[t + 1]])
    off = _grab(ws[1], WI_OFFS, nl - t0 + 1)
    off[0] = 0
    M = 0
    t = t0
    ctrl = ws[1][WI_CTRL]
    slot = ctrl[CT_SLOT]
    while t < nl and M < NODE_BLOCK:
        nb = _line_breaks(E, o, I0, us[t], margin, pos, wid, ws)
        j = t - t0
        seq = ctrl[CT_LINE]
        ctrl[CT_LINE] += 1
        ne = _kept_edges(ws, slot, seq, pos, wid, nb, off[j]) if slot < CACHED_PASSES else -1
        if ne < 0:
            edges = _panel_edges(pos, wid, nb, L, I0, ws)
            ne = edges.shape[0]
            _grab(ws[0], W_LINES, off[j] + ne)[off[j]:] = edges
            if slot < CACHED_PASSES:
                _keep_edges(ws, slot, seq, edges, pos, wid, nb)
        off[j + 1] = off[j] + ne
        M += (ne - 1) * q
        t += 1
    t1 = t
    allp = _grab(ws[0], W_LINES, off[t1 - t0])
    # the work rows U, A, V, H, Ws, Fc, Vs, R, two scratch rows, and the exponent bits
    rows = k + 2 * n + d + 6
    work = _grab(ws[0], W_NODES, rows * M).reshape((rows, M))
    U = work[:k]
    A = work[k:k + n]
    V = work[k + n:k + n + d]
    H = work[k + n + d:k + 2 * n + d]
    Ws = work[k + 2 * n + d]
    Fc = work[k + 2 * n + d + 1]
    x = work[k + 2 * n + d + 2]
    tb = work[k + 2 * n + d + 3]
    Vs = work[k + 2 * n + d + 4]
    R = work[k + 2 * n + d + 5]
    kb = _grab(ws[1], WI_BITS, M)
    c = 0
    for t in range(t0, t1):
        W = Wl[t]
        j = t - t0
        for p in range(off[j], off[j + 1] - 1):
            half = 0.5 * (allp[p + 1] - allp[p])
            mid = 0.5 * (allp[p + 1] + allp[p])
            for s in range(q):
                z = mid + half * GLX[gli, s]
                U[0, c] = z
                x[c] = -0.5 * z * z
                Fc[c] = half * GLW[gli, s] * norm * W
                c += 1
    _exp_nonpos(x, Ws, tb, kb)          # the Gaussian weights (|z| <= L_MAX: no clamping)
    for c in range(M):
        Ws[c] *= Fc[c]
    for c in range(M):
        Fc[c] = -np.inf
    c0 = 0
    for t in range(t0, t1):
        j = t - t0
        c1 = c0 + (off[j + 1] - off[j] - 1) * q
        for m in range(1, k):
            um = us[t, m]
            for c in range(c0, c1):
                U[m, c] = um
        for i in range(n):
            b = o[i]
            for m in range(1, k):
                b += E[i, m] * us[t, m]
            e = E[i, 0]
            for c in range(c0, c1):
                A[i, c] = b + e * U[0, c]
                Fc[c] = max(Fc[c], A[i, c])
        c0 = c1
    for i in range(n):
        for c in range(M):
            x[c] = A[i, c] - Fc[c]
        _exp_nonpos(x, A[i], tb, kb)
    _accum_block(A, M, U, Ws, C, D, acc, aacc, V, H, Fc, Vs, R)
    return M, t1


@njit(cache=True, inline="always")   # ten lines, called from _line1 and _split
def _inner_lines(E, o, C, D, us, Wl, nl, gli, L, margin, acc, aacc, pos, wid, budget, ws):
    """All nl inner lines (:func:`_lines0`, block by block); stops once more than ``budget``
    nodes were used."""
    nodes = 0
    t = I0
    while t < nl:
        m, t = _lines0(E, o, C, D, us, Wl, t, nl, gli, L, margin, acc, aacc, pos, wid, ws)
        nodes += m
        if nodes > budget:
            return nodes
    return nodes


@njit(cache=True, inline="always")   # called from _line2 and _split, both inlined there
def _line1(E, o, C, D, u, Wout, gli, L, margin, acc, aacc, pos, wid, budget, ws):
    """Integrate along coordinate 1 (split at triple ties), an inner line along coordinate 0 per
    node; stops once more than ``budget`` nodes were used."""
    nb = _line_breaks(E, o, I1, u, margin, pos, wid, ws)
    edges = _panel_edges(pos, wid, nb, L, I1, ws)
    q = GL_LADDER[gli]
    k = E.shape[1]
    norm = 1.0 / math.sqrt(2 * math.pi)
    # one inner line per node: its coordinates (coordinate 1 the node's, the rest u's) and weight
    nl = (edges.shape[0] - 1) * q
    lines = _grab(ws[0], W_US, nl * (k + 1))
    us = lines[:nl * k].reshape((nl, k))
    Wl = lines[nl * k:]
    t = 0
    for p in range(edges.shape[0] - 1):
        half = 0.5 * (edges[p + 1] - edges[p])
        mid = 0.5 * (edges[p + 1] + edges[p])
        for c in range(q):
            x = mid + half * GLX[gli, c]
            Wl[t] = half * GLW[gli, c] * math.exp(-x * x / 2) * norm * Wout
            for m in range(k):
                us[t, m] = u[m]
            us[t, 1] = x
            t += 1
    return _inner_lines(E, o, C, D, us, Wl, nl, gli, L, margin, acc, aacc, pos, wid, budget,
                        ws)


@njit(cache=True, inline="always")   # one call site (_split)
def _line2(E, o, C, D, u, Wout, gli, L, margin, acc, aacc, pos, wid, budget, ws):
    """Integrate along coordinate 2 (split at the ties of four logits), a plane over coordinates
    0 and 1 (:func:`_line1`) per node."""
    nb = _line_breaks(E, o, I2, u, margin, pos, wid, ws)
    edges = _panel_edges(pos, wid, nb, L, I2, ws)
    q = GL_LADDER[gli]
    norm = 1.0 / math.sqrt(2 * math.pi)
    nodes = 0
    for p in range(edges.shape[0] - 1):
        half = 0.5 * (edges[p + 1] - edges[p])
        mid = 0.5 * (edges[p + 1] + edges[p])
        for c in range(q):
            x = mid + half * GLX[gli, c]
            W = half * GLW[gli, c] * math.exp(-x * x / 2) * norm * Wout
            u[2] = x
            nodes += _line1(E, o, C, D, u, W, gli, L, margin, acc, aacc, pos, wid,
                            budget - nodes, ws)
            if nodes > budget:
                return nodes
    return nodes


@njit(cache=True)
def _split(E, o, C, D, ks, idx_smooth, gli, L, margin, acc, aacc, ws):
    """Split rule along the ks sharp coordinates (first), Gauss-Hermite along the rest."""
    n, d = D.shape
    k = E.shape[1]
    nsm = k - ks
    u = np.zeros(k)
    npairs = n * (n - 1) * (n - 2) * (n - 3) // 24 + n * (n - 1) * (n - 2) // 6 + n * n + 4
    budget = MAX_NODES_SPLIT3 if ks == 3 else MAX_NODES
    pos = np.empty(2 * npairs)
    wid = np.empty(2 * npairs)
    cnt = np.zeros(max(nsm, 1), dtype=np.int64)
    Wl = np.empty(1)
    nodes = 0
    # this pass's number in the evaluation picks its kept edges (CACHED_PASSES); a changed range
    # drops them.  Three separated directions keep none: their passes have up to ~10^5-10^6
    # inner lines (a plane of lines per outer node), too many to hold for every pass
    ctrl = ws[1][WI_CTRL]
    slot = ctrl[CT_PASS] if ks < 3 else CACHED_PASSES
    ctrl[CT_PASS] += 1
    ctrl[CT_LINE] = 0
    ctrl[CT_SLOT] = slot
    if slot < CACHED_PASSES:
        cl = ws[0][W_CL]
        if cl[slot] != L:
            ctrl[CT_KEPT + slot] = 0
            cl[slot] = L
    while True:
        Wout = 1.0
        for m in range(nsm):
            u[ks + m] = GHX[idx_smooth[m], cnt[m]]
            Wout *= GHW[idx_smooth[m], cnt[m]]
        if ks == 1:
            us = u.reshape((1, k))
            Wl[0] = Wout
            nodes += _inner_lines(E, o, C, D, us, Wl, I1, gli, L, margin, acc, aacc, pos, wid,
                                  budget - nodes, ws)
        elif ks == 2:
            nodes += _line1(E, o, C, D, u, Wout, gli, L, margin, acc, aacc, pos, wid,
                            budget - nodes, ws)
        else:
            nodes += _line2(E, o, C, D, u, Wout, gli, L, margin, acc, aacc, pos, wid,
                            budget - nodes, ws)
        if nodes > budget:
            return nodes
        if not _advance(cnt, idx_smooth, nsm - 1):
            break
    return nodes


@njit(cache=True)
def _accept(val, eq, rd, C, Pp, tdig, G, out):
    """Form the gradient (direct form: 2 (E[w v] - c_i E[w h] + P E[u w h])) into G and judge the
    pair.  ``eq``: per-component quadrature error (rule difference + truncation), ``rd``: rounding.
    The loss must have ``tdig`` significant digits, the gradient ``tdig`` digits relative to its
    norm -- unless the quadrature error is already below the rounding noise (a quantity that
    vanishes cannot be resolved relatively; then the rounding bound is the error).
    out = [loss error, gradient error (max), quadrature part of the loss, of the gradient].
    Returns the number of digits to spare (<0: not met)."""
    n, d = C.shape
    k = Pp.shape[1]
    o1 = 1 + n * d
    o2 = o1 + n
    gq = 0.0
    gr = 0.0
    gn = 0.0
    for i in range(n):
        for j in range(d):
            p = 1 + i * d + j
            cij = C[i, j]
            g = val[p] - cij * val[o1 + i]
            q = eq[p] + abs(cij) * eq[o1 + i]
            r = rd[p] + abs(cij) * rd[o1 + i]
            big = abs(val[p]) + abs(cij * val[o1 + i])
            for m in range(k):
                pm = o2 + m * n + i
                g += Pp[j, m] * val[pm]
                q += abs(Pp[j, m]) * eq[pm]
                r += abs(Pp[j, m]) * rd[pm]
                big += abs(Pp[j, m] * val[pm])
            G[i, j] = 2 * g
            gn += 4 * g * g
            gq = max(gq, 2 * q)
            gr = max(gr, 2 * r + 2 * big * EPS * 8)
    gn = math.sqrt(gn)
    out[0] = eq[0] + rd[0]
    out[1] = gq + gr
    out[2] = eq[0]
    out[3] = gq
    # digits to spare: how far below its allowance each quadrature error is
    spare = 100.0
    for x, allow in ((eq[0], max(abs(val[0]) * 10.0 ** (-tdig), rd[0])),
                     (gq, max(gn * 10.0 ** (-tdig), gr))):
        if x > 0:
            if allow <= 0:
                return -1.0
            spare = min(spare, math.log10(allow / x))
    return spare


@njit(cache=True)
def _tail_bounds(n, d, k, ks, L, R, tv):
    """Per component, a rigorous bound on |E[f 1_outside]| for the split range |u_j| <= L along
    the ``ks`` truncated coordinates (as quadrature.tail_masses / tail_bound).  Union bound:
    P(outside) <= ks erfc(L/sqrt 2), E[|u| 1_outside] <= ks (2 phi(L) + (k-1) sqrt(2/pi)
    erfc(L/sqrt 2)); and |f| <= a + b|u| with R >= max_i |c_i| >= |v| (v is a convex combination of
    the c_i): |v|^2 <= R^2, |w_i v_j| <= R, |w_i h_i| <= 2R^2, |u_m w_i h_i| <= 2R^2 |u|."""
    er = math.erfc(L / math.sqrt(2.0)) * (1 + 1e-12)
    phi = math.exp(-L * L / 2) / math.sqrt(2 * math.pi) * (1 + 1e-12)
    P = ks * er
    M = ks * (2 * phi + (k - 1) * math.sqrt(2 / math.pi) * er)
    o1 = 1 + n * d
    o2 = o1 + n
    tv[0] = R * R * P
    for p in range(1, o1):
        tv[p] = R * P
    for p in range(o1, o2):
        tv[p] = 2 * R * R * P
    for p in range(o2, o2 + k * n):
        tv[p] = 2 * R * R * M


# The engine has one compiled entry point, run_chunk: numba re-optimises a compiled function
# together with everything it calls, so each compiled layer costs another pass over the whole
# engine on a cold compile, and each numba-IR inlining of the evaluation's body another copy of
# it (a cold compile of an evaluation and a run took 71.6 s with the evaluation compiled on its
# own as well, 62.2 s with this one entry point).  One evaluation is a chunk of no steps
# (evaluate_errors).

def evaluate(C, params, state, G):
    """Loss and direct-form gradient at C (n, d) into G; see :func:`evaluate_errors`."""
    return evaluate_errors(C, params, state, G, np.zeros(2))


def evaluate_errors(C, params, state, G, errs, ws=None):
    """Loss and direct-form gradient at C (n, d) into G; returns (F, F error, status, nodes,
    level) and puts [loss error, largest gradient-component error] into ``errs``, in the work
    space ``ws`` (a fresh one if None).  It is a chunk of :func:`run_chunk` that ends at the step
    it starts from: one evaluation, no records, C kept."""
    n = C.shape[0]
    ist = np.zeros(IST_LEN, dtype=np.int64)
    out = np.zeros(3)
    run_chunk(C, 0.0, 0, 1, np.zeros(1, dtype=np.bool_), params, state, ist,
              np.array([0, 0], dtype=np.int64), np.array([0.0, np.inf]),
              np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1), np.zeros((1, n)),
              np.zeros((1, n)), np.zeros(1), workspace() if ws is None else ws, G, out)
    errs[0], errs[1] = out[1], out[2]
    return out[0], out[1], ist[IST_STATUS], ist[IST_NODES], ist[IST_LEVEL]


# One evaluation (run_chunk's step): _reference_first, _evaluate, _gradient_back, each inlined
# once into run_chunk.
#
# ``params`` = (digits, L, log10 sharp limit, margin); ``state`` (int64, shape (4, 4, 5)) holds
# per (min(k, 3), separated directions) the warm-start ladder level, a slack counter, how many
# L_STEP widenings of the split range the run needs at present, and for a mixed rule (separated
# and smooth directions) the Gauss-Hermite level and its slack counter; ``ws`` is the work space
# (:func:`workspace`), which a run allocates once.
#
# The reference component (row 0 of the reduction, the base v = c_ref + sum_i w_i d_i is formed
# from) is the one nearest the target, as in model.prepare: a far reference would leave
# v = 30 - 30 (1 - 1e-50) to rounding.  The split rule's range is widened until the rigorous tail
# bound is at most a quarter of the relative budget of the loss and of the gradient (or below
# their rounding level); a range beyond L_MAX returns RANGE (no value).  ``errs`` receives [loss
# error, largest gradient-component error] (inf when the status is not OK).

@njit(cache=True, inline="always")   # one call site (run_chunk)
def _reference_first(C, G, errs, ws):
    """Start an evaluation at C: (ref, Cs, Gs) with ref the row nearest the target, Cs = C with
    rows 0 and ref swapped (C itself when ref is 0) and Gs the gradient's buffer in that order."""
    errs[0] = np.inf
    errs[1] = np.inf
    ws[1][WI_CTRL][CT_PASS] = 0    # passes are numbered from 0 in each evaluation
    n = C.shape[0]
    ref = 0
    best = np.inf
    for i in range(n):
        s = 0.0
        for j in range(C.shape[1]):
            s += C[i, j] * C[i, j]
        if s < best:
            best = s
            ref = i
    Cs, Gs = C, G
    if ref != 0:
        Cs = C.copy()
        for j in range(C.shape[1]):
            Cs[0, j] = C[ref, j]
            Cs[ref, j] = C[0, j]
        Gs = np.empty_like(G)
    return ref, Cs, Gs


@njit(cache=True, inline="always")   # one call site (run_chunk)
def _gradient_back(G, Gs, ref):
    """The gradient Gs (rows 0 and ref swapped, see :func:`_reference_first`) into G."""
    if ref != 0:
        for i in range(G.shape[0]):
            r = ref if i == 0 else (0 if i == ref else i)
            for j in range(G.shape[1]):
                G[r, j] = Gs[i, j]


# inline="always" (numba IR, one call site each, same flags as the caller): no module of its own,
# which numba would optimise once alone and again inside its caller
@njit(cache=True, inline="always")   # one call site (run_chunk)
def _evaluate(C, params, state, G, errs, ws):
    """One evaluation at C with row 0 as the reference component: (F, F error, status, nodes,
    level), the gradient into G (see the comment above :func:`_reference_first`)."""
    digits, L, log_limit, margin = params[0], params[1], params[2], params[3]
    n, d = C.shape
    D, P, E0, o, k = _reduce(C)
    R = 0.0
    for i in range(n):
        s = 0.0
        for j in range(d):
            s += C[i, j] * C[i, j]
        R = max(R, math.sqrt(s))
    R *= 1 + 2.0 ** -40
    ncomp = 1 + n * d + n + k * n
    if k == 0:
        # all parameters equal: w = 1/n at every node, the integrand is constant
        acc = np.zeros(ncomp)
        aacc = np.zeros(ncomp)
        A = np.ones((n, 1))
        _accum_block(A, I1, np.zeros((0, 1)), np.ones(1), C, D, acc, aacc,
                     np.empty((d, 1)), np.empty((n, 1)), np.empty(1), np.empty(1), np.empty(1))
        for i in range(n):
            for j in range(d):
                G[i, j] = 2 * (acc[1 + i * d + j] - C[i, j] * acc[1 + n * d + i])
        errs[0] = abs(acc[0]) * EPS * 4
        errs[1] = 0.0
        for i in range(n):
            for j in range(d):
                errs[1] = max(errs[1], 4 * EPS * (abs(acc[1 + i * d + j])
                                                  + abs(C[i, j] * acc[1 + n * d + i])))
        return acc[0], abs(acc[0]) * EPS * 4, OK, 1, 0
    # layout: sharp directions first
    lsp = np.empty(k)
    for m in range(k):
        lo = E0[0, m]
        hi = E0[0, m]
        for i in range(n):
            lo = min(lo, E0[i, m])
            hi = max(hi, E0[i, m])
        lsp[m] = math.log10(hi - lo) if hi > lo else -np.inf
    perm = np.empty(k, dtype=np.int64)
    ks = I0
    for m in range(k):
        if lsp[m] > log_limit:
            perm[ks] = m
            ks += 1
    p = ks
    for m in range(k):
        if lsp[m] <= log_limit:
            perm[p] = m
            p += 1
    if ks > MAX_SPLIT_DIMS:
        return 0.0, np.inf, TOO_SHARP, 0, 0
    E = np.empty((n, k))
    Pp = np.empty((d, k))
    for m in range(k):
        for i in range(n):
            E[i, m] = E0[i, perm[m]]
        for j in range(d):
            Pp[j, m] = P[j, perm[m]]
    nsm = k - ks
    # GH orders follow the widest smooth direction when all are smooth; with split directions
    # the level follows the split rule and the smooth orders are set against the sharp limit
    top = -np.inf
    for m in range(nsm):
        top = max(top, lsp[perm[ks + m]])
    if ks:
        top = log_limit
    ki = min(k, 3)
    tv = np.zeros(ncomp)
    if ks:
        L = min(L_MAX, L + L_STEP * state[ki, ks, 2])   # widenings this run needs at present
        _tail_bounds(n, d, k, ks, L, R, tv)
    quarter = math.log10(4.0)
    half = math.log10(2.0)
    start = max(1, state[ki, ks, 0])
    if ks == 3 and state[ki, ks, 0] == 0:
        # no warm start in three separated directions, where each rung costs ~(q_fine/q_coarse)^3
        # more: begin at the first rung whose coarse Gauss-Legendre order reaches the digits
        # (measured on [[5,0,0],[0,5,0],[0,0,5],[0,0,0]]: 6 digits at GL 6->8, 10 at GL 10->12)
        for li in range(1, NL):
            if GL_LADDER[li - 1] >= digits:
                start = li
                break
    # separated and smooth directions together (a mixed rule): two ladders, the split rule's
    # Gauss-Legendre level lv and a Gauss-Hermite level lh.  While lh gives the smooth directions
    # no higher orders than lv does, the rule is the one-ladder rule (one pair, both families one
    # rung coarser); once a failing pair's Gauss-Hermite share is the larger one, lh climbs alone
    # and the rule becomes two-way: three passes, each family's pair with the other family at its
    # fine (returned) order, the estimate the sum of both differences
    mixed = ks > 0 and nsm > 0
    lv = start                                  # the split rule's (or the only) ladder level
    lh = lv                                     # the Gauss-Hermite level of a mixed rule
    if mixed and state[ki, ks, 3] > 0:
        lh = state[ki, ks, 3]
    val = np.zeros(ncomp)
    total = 0
    status = INACCURATE
    lv_used = 0
    idx = np.empty(nsm, dtype=np.int64)
    idxc = np.empty(nsm, dtype=np.int64)
    rd = np.zeros(ncomp)
    eq = np.zeros(ncomp)
    eqs = np.zeros(ncomp)
    eqh = np.zeros(ncomp)
    out = np.zeros(4)
    out2 = np.zeros(4)
    Gt = np.empty((n, d))
    widenings = 0
    noacc = np.zeros(0)
    vals = np.zeros((3, ncomp))
    budget = MAX_NODES_SPLIT3 if ks == 3 else MAX_NODES
    while lv < NL and lh < NL:
        aacc = np.zeros(ncomp)
        mnodes = 0
        g = max(lh, lv) if mixed else lv        # the Gauss-Hermite level used
        two = False
        for m in range(nsm):
            lsm = lsp[perm[ks + m]]
            idx[m] = _gh_index(lsm, g, top, False, digits)
            idxc[m] = _gh_index(lsm, g, top, True, digits)
            if mixed and idx[m] != _gh_index(lsm, lv, top, False, digits):
                two = True
        npass = 3 if two else 2
        for pass_ in range(npass):
            fine = pass_ == npass - 1
            # passes: one-ladder (coarse GH, coarse GL), (fine GH, fine GL); two-way
            # (coarse GH, fine GL), (fine GH, coarse GL), (fine GH, fine GL)
            ig = idxc if pass_ == 0 else idx
            gli = lv if fine or (two and pass_ == 0) else lv - 1
            for c in range(ncomp):
                vals[pass_, c] = 0.0
            # the rounding bound is the returned (fine) rule's: the coarse passes skip it
            ra = aacc if fine else noacc
            if ks == 0:
                mnodes = _tensor_gh(E, o, C, D, ig, vals[pass_], ra)
            else:
                mnodes = _split(E, o, C, D, ks, ig, gli, L, margin, vals[pass_], ra, ws)
            total += mnodes
            if mnodes > budget:
                state[ki, ks, 0] = lv
                if mixed:
                    state[ki, ks, 3] = lh
                return 0.0, np.inf, BUDGET, total, lv
        rnd = EPS * 8 * math.sqrt(mnodes)
        f = npass - 1
        for c in range(ncomp):
            val[c] = vals[f, c]
            rd[c] = aacc[c] * rnd
            if two:
                # each family's pair with the other family at its fine (returned) order (taken at
                # the coarse Gauss-Legendre order, the Gauss-Hermite difference would carry that
                # rule's error: the tie points, so the panels, move with the smooth coordinates)
                eqs[c] = abs(vals[2, c] - vals[1, c])
                eqh[c] = abs(vals[2, c] - vals[0, c])
                eq[c] = eqs[c] + eqh[c] + tv[c]
            else:
                eq[c] = abs(vals[1, c] - vals[0, c]) + tv[c]
        lv_used = lv
        if ks and _accept(val, tv, rd, C, Pp, digits, Gt, out2) < quarter:
            # the mass outside [-L, L] may matter relative to the value (a far component's mass
            # sits near its tie point r/2, ~e^{-r^2/8}): widen the range until the tail bound is
            # small against the value just computed, then recompute at this level.  At most
            # WIDEN_CHUNK at a time: the value itself grows when the range reaches mass it missed
            # (a value that was 0 would otherwise ask for the whole float64 range at once)
            L0 = L
            while True:
                if L >= L_MAX:
                    return 0.0, np.inf, RANGE, total, lv
                L = min(L_MAX, L + L_STEP)
                state[ki, ks, 2] += 1
                _tail_bounds(n, d, k, ks, L, R, tv)
                if L - L0 >= WIDEN_CHUNK or _accept(val, tv, rd, C, Pp, digits, Gt, out2) >= quarter:
                    break
            widenings += 1
            if widenings > MAX_WIDENINGS:
                break
            continue
        spare = _accept(val, eq, rd, C, Pp, digits, G, out)
        if spare >= 0:
            status = OK
            # warm start: begin here next time; after SLACK_STEPS consecutive pairs that agreed
            # 4 digits better than needed, try one rung lower (so the rule can also shrink).
            # A two-way rule judges each family by its own difference (the tail term, which the
            # range keeps a few digits below the target, would otherwise hold both up)
            state[ki, ks, 0] = lv
            if mixed:
                state[ki, ks, 3] = lh
            if two:
                _slack(state, ki, ks, I0, lv, _accept(val, eqs, rd, C, Pp, digits, Gt, out2) >= 4)
                _slack(state, ki, ks, I3, g, _accept(val, eqh, rd, C, Pp, digits, Gt, out2) >= 4)
            elif ks and not mixed and lv >= 2 and spare < 4:
                total += _probe_down(state, ki, ks, lv, lv > start, E, o, C, D, Pp, L, margin,
                                     digits, vals, tv, rd, eqs, Gt, out2, ws)
            else:
                _slack(state, ki, ks, I0, lv, spare >= 4)
            # the range, too, may come down when one step narrower would still meet the tail
            # target by two digits (a far component moving away needs less than it did)
            if ks and state[ki, ks, 2] > 0:
                _tail_bounds(n, d, k, ks, L - L_STEP, R, tv)
                if _accept(val, tv, rd, C, Pp, digits, Gt, out2) >= quarter + 2:
                    state[ki, ks, 2] -= 1
            break
        if not mixed:
            lv += 1
            continue
        if not two:
            # which family failed the one-ladder pair: one more pass, (coarse GH, fine GL), splits
            # its difference into a Gauss-Hermite part (at the fine Gauss-Legendre order) and a
            # Gauss-Legendre part (at the coarse Gauss-Hermite orders); it only picks the ladder
            for c in range(ncomp):
                vals[2, c] = 0.0
            mn = _split(E, o, C, D, ks, idxc, lv, L, margin, vals[2], noacc, ws)
            total += mn
            if mn > budget:
                state[ki, ks, 0] = lv
                state[ki, ks, 3] = lh
                return 0.0, np.inf, BUDGET, total, lv
            for c in range(ncomp):
                eqh[c] = abs(vals[1, c] - vals[2, c])
                eqs[c] = abs(vals[2, c] - vals[0, c])
        # raise each family whose difference (with half the tail term) uses more than half the
        # allowance -- if neither did, the sum would meet it, so at least one rises.  The
        # one-ladder rule climbs as one unless only the Gauss-Hermite share is too large
        for c in range(ncomp):
            eqs[c] += 0.5 * tv[c]
            eqh[c] += 0.5 * tv[c]
        up_s = _accept(val, eqs, rd, C, Pp, digits, Gt, out2) < half
        up_h = _accept(val, eqh, rd, C, Pp, digits, Gt, out2) < half
        if not two:
            up_s = up_s or not up_h             # one ladder: lv carries the GH orders along
            up_h = not up_s
        elif not (up_s or up_h):
            up_s = True
            up_h = True
        if up_s:
            lv += 1
        if up_h:
            lh = _gh_raise(lsp, perm, ks, nsm, g, top, digits, idx)
    if status != OK:
        state[ki, ks, 0] = NL - 2
        if mixed:
            state[ki, ks, 3] = NL - 2
    else:
        errs[0] = out[0]
        errs[1] = out[1]
    return val[0], out[0], status, total, lv_used


@njit(cache=True)
def _slack(state, ki, ks, slot, level, ample):
    """The warm start's way down for the level in ``state[ki, ks, slot]`` (its counter in the next
    slot): after SLACK_STEPS consecutive ``ample`` pairs (4 digits better than needed) the next
    step starts one rung below ``level``; a pair that is not ample resets the count."""
    if not ample:
        state[ki, ks, slot + 1] = 0
        return
    state[ki, ks, slot + 1] += 1
    if state[ki, ks, slot + 1] >= SLACK_STEPS:
        state[ki, ks, slot] = max(1, level - 1)
        state[ki, ks, slot + 1] = 0


@njit(cache=True, inline="always")   # one call site (_evaluate), as _evaluate's
def _probe_down(state, ki, ks, lv, climbed, E, o, C, D, Pp, L, margin, digits, vals, tv, rd,
                eq, G, out, ws):
    """A pure split rule's way down (PROBE_SPARE), after an accepted pair at level ``lv`` >= 2
    whose coarse values are vals[0]: count the steps at this level in state[ki, ks, 1] (a climb
    this step restarts the count) and every SLACK_STEPS steps integrate once more at the order
    below the coarse one (into vals[2]; the panels do not depend on the order), which gives the
    lower pair's difference exactly; the next step starts one rung lower when that pair meets the
    target with PROBE_SPARE digits to spare.  Returns the nodes the probe used."""
    if climbed:
        state[ki, ks, 1] = 0
        return 0
    state[ki, ks, 1] += 1
    if state[ki, ks, 1] < SLACK_STEPS:
        return 0
    state[ki, ks, 1] = 0
    ncomp = vals.shape[1]
    for c in range(ncomp):
        vals[2, c] = 0.0
    nodes = _split(E, o, C, D, ks, np.empty(0, dtype=np.int64), lv - 2, L, margin, vals[2],
                   np.zeros(0), ws)
    for c in range(ncomp):
        eq[c] = abs(vals[0, c] - vals[2, c]) + tv[c]
    if _accept(vals[0], eq, rd, C, Pp, digits, G, out) >= PROBE_SPARE:
        state[ki, ks, 0] = lv - 1
    return nodes


@njit(cache=True)
def _gh_raise(lsp, perm, ks, nsm, lh, top, digits, idx):
    """The next Gauss-Hermite level of a mixed rule above ``lh`` at which some smooth direction's
    order (now ``idx``) changes (levels below an order's Taylor floor change nothing); NL when
    none does (every order at the top of the ladder)."""
    new = lh + 1
    while new < NL:
        for m in range(nsm):
            if _gh_index(lsp[perm[ks + m]], new, top, False, digits) != idx[m]:
                return new
        new += 1
    return NL


# ----------------------------------------------------------------------------------------------
# The multi-step loop
# ----------------------------------------------------------------------------------------------

@njit(cache=True)
def _classified(rdist, cnt, window, tol, bound, mode):
    """True when no parameter is undecided under the rules of verify.dynamics.classify: mode 1
    its "monotone" rule (tol, bound), mode 2 its "outcome" rule (tol; each r_i(0) is the
    first record's, as there)."""
    n = rdist.shape[1]
    lo = max(0, cnt - (window + 1))
    ln = cnt - lo
    for i in range(n):
        last = rdist[cnt - 1, i]
        if not math.isfinite(last):
            continue
        if mode == 2:
            if ln <= window:
                return False
            within = True
            rising = last > rdist[0, i]
            for r in range(lo, cnt):
                if not rdist[r, i] <= tol:
                    within = False
                if r > lo and not rdist[r, i] > rdist[r - 1, i]:
                    rising = False
            if within or rising:
                continue
            return False
        if ln > window and last <= tol:
            ok = True
            for r in range(lo + 1, cnt):
                if not rdist[r, i] <= rdist[r - 1, i]:
                    ok = False
                    break
            if ok:
                continue
        if ln > window and last > bound:
            ok = True
            for r in range(lo + 1, cnt):
                if not rdist[r, i] > rdist[r - 1, i]:
                    ok = False
                    break
            if ok:
                continue
        return False
    return True


# the entries of a trajectory's int64 state ``ist`` (run_chunk)
IST_RECORDS, IST_TAU, IST_NODES, IST_STATUS, IST_LEVEL = 0, 1, 2, 3, 4
IST_LEN = 5


@njit(cache=True)
def record(C, G, F, Ferr, tau, rsteps, rloss, rlerr, rdist, rn2, rgn, ist):
    """Append one record (step, loss, its error, distances, squared norms, gradient norm)."""
    n, d = C.shape
    r = ist[IST_RECORDS]
    rsteps[r] = tau
    rloss[r] = F
    rlerr[r] = Ferr
    gn = 0.0
    for i in range(n):
        s = 0.0
        for j in range(d):
            s += C[i, j] * C[i, j]
            gn += G[i, j] * G[i, j]
        rn2[r, i] = s
        rdist[r, i] = math.sqrt(s) if s > 0 else 0.0
    rgn[r] = math.sqrt(gn)
    ist[IST_RECORDS] = r + 1


@njit(cache=True)
def run_chunk(C, h, steps, nsteps, sched, params, state, ist, stopc, fstop,
              rsteps, rloss, rlerr, rdist, rn2, rgn, ws, G, out):
    """Advance one trajectory from step ist[1] by up to ``nsteps`` steps or until a stop.

    ist = [record count, tau, nodes evaluated, last status, last ladder level] (IST_*); stopc =
    [window, stop rule: 0 none, 1 or 2 the modes of :func:`_classified`]; fstop =
    [converge_tol, diverge bound].  G (n, d) and out = [F, loss error, gradient error] receive
    the last evaluation (at step ist[1] on return).  Returns a chunk code (CHUNK_END, MAX_STEPS,
    OVERFLOWED, FALLBACK: the step at ist[1] needs the reference path, CLASSIFIED: record the
    current step and stop).  With steps == ist[1] it evaluates once and returns MAX_STEPS (or
    FALLBACK), C unchanged."""
    n, d = C.shape
    errs = out[1:]
    tau = ist[IST_TAU]
    tau_stop = tau + nsteps
    while True:
        if tau >= tau_stop and tau < steps:
            ist[IST_TAU] = tau
            return CHUNK_END
        ref, Cs, Gs = _reference_first(C, G, errs, ws)
        F, Ferr, status, nodes, lv = _evaluate(Cs, params, state, Gs, errs, ws)
        _gradient_back(G, Gs, ref)
        out[0] = F
        ist[IST_NODES] += nodes
        ist[IST_STATUS] = status
        ist[IST_LEVEL] = lv
        if status != OK:
            ist[IST_TAU] = tau
            return FALLBACK
        if sched[tau]:
            record(C, G, F, Ferr, tau, rsteps, rloss, rlerr, rdist, rn2, rgn, ist)
        if tau >= steps:
            ist[IST_TAU] = tau
            return MAX_STEPS
        big = 0.0
        bad = False
        for i in range(n):
            for j in range(d):
                C[i, j] = C[i, j] - h * G[i, j]
                x = C[i, j]
                if not math.isfinite(x):
                    bad = True
                elif abs(x) > big:
                    big = abs(x)
        tau += 1
        if bad or big > OVERFLOW:
            ist[IST_TAU] = tau
            return OVERFLOWED
        if stopc[1] and sched[tau] and ist[IST_RECORDS] > stopc[0]:
            if _classified(rdist, ist[IST_RECORDS], stopc[0], fstop[0], fstop[1], stopc[1]):
                ist[IST_TAU] = tau
                return CLASSIFIED


def run_chunk_batch(Cs, h, steps, nsteps, sched, params, states, ists, stopc, fstops, codes,
                    active, rsteps, rloss, rlerr, rdist, rn2, rgn, wss):
    """run_chunk for each active trajectory b of a batch (independent states, records and work
    spaces wss[b], each kept for the whole trajectory: the kept panel edges then do not depend on
    where chunks begin); a Python loop (a chunk is about 0.2 s of compiled work, so the calls
    cost nothing measurable)."""
    for b in range(Cs.shape[0]):
        if active[b]:
            codes[b] = run_chunk(Cs[b], h, steps, nsteps, sched, params, states[b], ists[b],
                                 stopc, fstops[b], rsteps[b], rloss[b], rlerr[b], rdist[b],
                                 rn2[b], rgn[b], wss[b], np.empty_like(Cs[b]), np.zeros(3))


def new_state() -> np.ndarray:
    """A fresh warm-start state for :func:`evaluate` (one per trajectory)."""
    return np.zeros((4, 4, 5), dtype=np.int64)


def evaluate_py(C: np.ndarray, digits: float, state: np.ndarray | None = None,
                with_gradient_error: bool = False):
    """Convenience wrapper: (F, F error, G, status, nodes, level) at C (n, d) float64; with
    ``with_gradient_error`` a seventh entry, the bound on every gradient component's error."""
    C = np.ascontiguousarray(C, dtype=float)
    G = np.empty_like(C)
    st = new_state() if state is None else state
    errs = np.zeros(2)
    F, Fe, status, nodes, lv = evaluate_errors(C, Config(digits).params, st, G, errs)
    if with_gradient_error:
        return F, Fe, G, int(status), int(nodes), int(lv), float(errs[1])
    return F, Fe, G, int(status), int(nodes), int(lv)


def time_steps(C0, h: float, steps: int, digits: float, repeat: int = 5) -> tuple[float, dict]:
    """Median seconds per GD step of the compiled loop (no records) over ``steps`` steps from
    ``C0``, each repetition from the same start and a fresh warm-start state; with the last run's
    rule information (nodes per step, ladder level at the end, evaluation status)."""
    import statistics
    import time
    C0 = np.ascontiguousarray(np.array(C0, dtype=float))
    cfg = Config(digits)
    sched = np.zeros(steps + 1, dtype=np.bool_)
    n = C0.shape[0]
    rs, rl, re_, rg = (np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1), np.zeros(1))
    rd, rn = np.zeros((1, n)), np.zeros((1, n))
    stopc = np.array([5, 0], dtype=np.int64)
    fstop = np.array([0.0, np.inf])
    times, info = [], {}
    for _ in range(max(1, repeat) + 1):      # the first run loads/compiles: not timed
        C = C0.copy()
        st = new_state()
        ist = np.zeros(IST_LEN, dtype=np.int64)
        ws = workspace()
        G, out = np.empty_like(C), np.zeros(3)
        t0 = time.perf_counter()
        code = run_chunk(C, h, steps, steps + 1, sched, cfg.params, st, ist, stopc, fstop,
                         rs, rl, re_, rd, rn, rg, ws, G, out)
        times.append(time.perf_counter() - t0)
        done = int(ist[IST_TAU])
        info = {"code": int(code), "steps_done": done,
                "nodes_per_step": ist[IST_NODES] / max(1, done), "status": int(ist[IST_STATUS])}
    return statistics.median(times[1:]) / max(1, info["steps_done"]), info


def separated_expectation(C: np.ndarray, digits: float) -> dict:
    """One loss-and-gradient evaluation for the public API where the split rule needs three
    separated directions (issue 24; verify.model routes those here: the multiprecision rules stop
    at two).  ``C`` (n, d) float64 centred parameters, ``digits`` significant digits (loss relative
    to itself, every gradient component relative to the gradient's norm).

    Returns {"F", "F_error", "G" (n x d list), "G_error" (bound on every component), "ok",
    "status", "why", "nodes", "level", "rule"}: values with finite errors whenever the status is OK
    (errors inf otherwise).  The error is the pair difference (GL q vs the next order, bounding the
    lower-order rule; the higher-order value is returned) + the rigorous tail bound + rounding."""
    C = np.ascontiguousarray(np.array(C, dtype=float))
    cfg = Config(digits)
    st = new_state()
    G = np.empty_like(C)
    errs = np.zeros(2)
    F, Fe, status, nodes, lv = evaluate_errors(C, cfg.params, st, G, errs)
    ok = status == OK
    rule = (f"compiled float64 (numba): split Gauss-Legendre {GL_LADDER[max(lv - 1, 0)]}->"
            f"{GL_LADDER[lv]}/panel in each separated direction, graded at the softmax ties"
            if ok else "compiled float64 (numba)")
    return {"F": float(F), "F_error": float(errs[0]), "G": G.tolist(), "G_error": float(errs[1]),
            "ok": ok, "status": int(status), "why": STATUS_TEXT.get(int(status)),
            "nodes": int(nodes), "level": int(lv), "rule": rule}
