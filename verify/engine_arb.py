"""Multiprecision kernel in Arb (python-flint) for the loss, the direct gradient (issue 10, item 3)
and the gradient-EM direction (issue 19).

Same model and reduction as :mod:`verify.model` (SPEC §2): the weights depend on y only through
u = P^T y on the span of the differences d_i = c_i - c_ref (c_ref: the component nearest the
target, as model.prepare chooses; k <= min(n-1, d) directions, principal first), with logits
l_i(u) = <u, e_i> + o_i.  What differs is how the expectations are organised:

* With delta = sum_j w_j d_j = P eps, eps = sum_j w_j e_j (k-vector), v = c_ref + delta,
  b = P^T c_ref, g_i = <c_ref, d_i>, and h_i = <d_i - delta, v> = g_i + <e_i - b, eps> - |eps|^2:
      F          = |c_ref|^2 E[1] + 2 <b, E[eps]> + E|eps|^2
      E[w_i v]   = c_ref E[w_i] + P E[w_i eps]
      E[w_i h_i] = g_i E[w_i] + <e_i - b, E[w_i eps]> - E[w_i |eps|^2]
  and E[u w_i h_i] the same with u inside; grad_i F = 2 (E[w_i v] + P E[u w_i h_i] - c_i E[w_i h_i])
  as in model.py.  So only E[w_i f], E[u_q w_i f] for f in {1, eps_1..eps_k, |eps|^2} are needed.
  The gradient-EM direction is E[w_i (y - c_i)] = P E[u w_i] - c_i E[w_i] (y = P u + a part
  independent of u with mean 0), from the same moments (f = 1); E[w_i v] above is minus it by
  Stein's lemma, from other moments (em-link's identity takes one side from each engine).
* On a tensor rule (nodes x_a, y_b) the exponentials factorise: exp(l_i) = A_ai B_bi with
  A_ai = exp(e_i1 x_a + o_i), B_bi = exp(<e_i(2..k), y_b>), so the softmax denominators are one
  matrix product S = A B^T, the numerators of eps_q are N_q = A diag(e_.q) B^T, and
  E[w_i f] = sum_a wx_a A_ai [(f / S)(wy B)]_ai: K x K by K x kn products in Arb, with a few
  scalar operations per node (1/S, eps_q, |eps|^2) in Python.  In one dimension the nodes of the
  trapezoid or split rule play the role of x_a (B is one row of ones).

Rules are right-sized: Gauss-Hermite orders per direction are predicted from the digits wanted and
the direction's logit spread (poles of the softmax at distance pi/spread), then a coarse/fine pair
of consecutive orders decides, climbing while the pair disagrees and stepping down when it agreed
with a margin (warm start across GD steps).  A *sharp* direction (Gauss-Hermite would need more
than GH_MAX_PREDICTED nodes) gets either the nested trapezoid pair h / h/2 on [-L, L] (the
integrand is analytic in the strip |Im u| < pi/spread, so the trapezoid rule converges like
e^{-2 pi tau/h}; in 2-D as a tensor factor beside Gauss-Hermite) or, in 1-D when cheaper, composite
Gauss-Legendre (rigorous Arb nodes) split and graded at the tie points.  Truncated ranges carry a
rigorous Gaussian tail bound in every moment's radius (|w_i f| <= sup|f|, the omitted mass is at
most erfc(L/sqrt 2), sqrt(2/pi) e^{-L^2/2} with a factor u); it is kept apart from rounding, and
[-L, L] widens until it is below 10^-D of the value (losses that live in the tails, ~1e-48).
Spans of k = 3..4 directions use tensor Gauss-Hermite (the second factor of S = A B^T runs over
tuples of the remaining directions).

Error semantics (model.Estimate): value = midpoint of the fine rule's ball; error = the largest
|fine - coarse| over the quantity's components (quadrature, conservative: it bounds the coarse
rule; one figure for all gradient components, so a component whose rules agree by coincidence is
not over-credited) + the fine ball's radius (every rounding, for free from Arb; with the tail
bound) + the rounding of the returned mpf.  ``digits`` means significant digits, as ACCURACY's
quadrature.Tolerance: the loss relative to itself, each gradient component relative to the
gradient's Frobenius norm (the EM direction and E[w_i v] likewise, each judged on its own rule
pair), at D = digits + spread digits (so gradient differences 10^-spread
smaller than the norm keep ``digits`` digits).  Only where the two rules agree within rounding and
the tail bound is below rounding is the absolute floor 10^-D times the natural scale (R^2 for F,
R + R^3 for the gradient, 1 + R for the EM direction, R for E[w_i v]) accepted; rule["accuracy"]
says which held.

Exponent range is unlimited in Arb, so scales of 1e-1000 work.  What this kernel does not cover
(float64 precision, the Stein form, k > 4, a sharp direction in k >= 3, rules
beyond the node budget, a ball that lost all accuracy) goes to model.Evaluator; the reason is
kept in ``fallbacks`` and in the Estimate's rule dict ("engine").  Arb's global working precision (flint.ctx.prec) is set only
inside a ``with`` block and restored.
"""
from __future__ import annotations

import itertools
import math
import statistics
import time
from dataclasses import dataclass
from functools import lru_cache

import flint
import mpmath
import numpy as np
from flint import arb, arb_mat

from verify import model
from verify import precision as _precision
from verify.model import Estimate
from verify.precision import Precision
from verify.quadrature import InaccurateError, _panel_edges

GH_LADDER = (2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 36, 40, 48, 56, 64, 72, 80, 96,
             112, 128, 160, 192)
GL_LADDER = (4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96)
PANEL_MAX = 3.0          # widest split-rule panel away from tie points
GH_MAX_PREDICTED = 128   # a direction predicted to need more Gauss-Hermite nodes is "sharp"
MAX_NODES = 200_000      # per rule; beyond it the configuration goes to model.Evaluator
MAX_K = 4                # difference directions the kernel takes (tensor Gauss-Hermite beyond 2)
LN10 = math.log(10.0)


class Counter:
    """Stands in for Integrator.evaluations: integrand nodes evaluated (own and fallback's)."""

    def __init__(self, owner: "ArbEvaluator"):
        self._owner = owner
        self.own = 0

    @property
    def evaluations(self) -> int:
        fb = self._owner._mp.integrator.evaluations if self._owner._mp is not None else 0
        return self.own + fb


class _Prec:
    """Arb working precision for a block (flint.ctx.prec is global; restored on exit)."""

    def __init__(self, bits: int):
        self.bits = bits

    def __enter__(self):
        self.old = flint.ctx.prec
        flint.ctx.prec = self.bits
        return self

    def __exit__(self, *exc):
        flint.ctx.prec = self.old
        return False


class Unsupported(Exception):
    """A configuration outside this kernel (the caller falls back to model.Evaluator)."""


# ---------------------------------------------------------------------------------------------
# Rules in Arb
# ---------------------------------------------------------------------------------------------

def _bits(dps: int) -> int:
    return int(math.ceil(dps * math.log2(10))) + 24


def hermite_rule(order: int, bits: int) -> tuple[list, list]:
    """The cached rule of :func:`_hermite_rule`; a rule that cannot be built raises Unsupported
    every time without being rebuilt (the failure is cached too)."""
    rule = _hermite_rule(order, bits)
    if isinstance(rule, str):
        raise Unsupported(rule)
    return rule


@lru_cache(maxsize=None)
def _hermite_rule(order: int, bits: int):
    """Gauss-Hermite nodes and weights for N(0,1) (probabilists'), computed in Arb.

    Newton's method on the orthonormal recurrence p_{m+1} = (x p_m - sqrt(m) p_{m-1})/sqrt(m+1)
    from numpy's double-precision nodes; p_N' = sqrt(N) p_{N-1}, weights 1/(N p_{N-1}(x)^2).
    Nodes are exact binary numbers (the midpoints); weights are balls.
    """
    with _Prec(bits + 20):
        x0, _ = np.polynomial.hermite_e.hermegauss(order)
        sq = [arb(m).sqrt() for m in range(order + 1)]
        nodes, weights = [], []
        for xf in x0[: (order + 1) // 2]:           # nonnegative half by symmetry (x0 ascending)
            x = arb(float(-xf)) if xf < 0 else arb(float(xf))
            for it in range(80):
                pm1, p = arb(0), arb(1)
                for m in range(order):
                    pm1, p = p, (x * p - sq[m] * pm1) / sq[m + 1]
                step = (p / (sq[order] * pm1)).mid()
                x = (x - step).mid()
                if step == 0 or abs(step) < arb(2) ** (-(bits + 10)) * (1 + abs(x)):
                    break
            pm1, p = arb(0), arb(1)
            for m in range(order - 1):
                pm1, p = p, (x * p - sq[m] * pm1) / sq[m + 1]
            wgt = 1 / (order * p * p)
            nodes.append(x)
            weights.append(wgt)
        # the symmetric rule, ascending: -x for the positive nodes (descending), 0, then +x
        pos = sorted([(x, w) for x, w in zip(nodes, weights) if x != 0], key=lambda t: float(t[0]))
        zero = [(x, w) for x, w in zip(nodes, weights) if x == 0]
        out_n = [-x for x, _ in reversed(pos)] + [x for x, _ in zero] + [x for x, _ in pos]
        out_w = [w for _, w in reversed(pos)] + [w for _, w in zero] + [w for _, w in pos]
        if len(out_n) != order:
            # the kernel cannot build this rule: the evaluation goes to mpmath (its own rules)
            return f"Gauss-Hermite rule of order {order}: Newton lost a node"
    return out_n, out_w


@lru_cache(maxsize=None)
def legendre_rule(order: int, bits: int) -> tuple[list, list]:
    """Gauss-Legendre nodes and weights on [-1, 1] from Arb's rigorous root finder."""
    with _Prec(bits + 20):
        xs, ws = [], []
        for i in range(order):
            x, w = arb.legendre_p_root(order, i, weight=True)
            xs.append(x)
            ws.append(w)
    return xs, ws


# ---------------------------------------------------------------------------------------------
# Reduction (as model.prepare, in Arb)
# ---------------------------------------------------------------------------------------------

@dataclass
class ArbSetup:
    C: list        # n x d arb
    D: list        # n x d differences to c_1
    P: list        # d x k orthonormal basis, principal directions first
    e: list        # n x k
    o: list        # n
    n: int
    d: int
    k: int
    R: arb         # max |c_i|
    ref: int = 0   # reference component (e_ref = 0, o_ref = 0)


def _dot(a, b):
    s = arb(0)
    for x, y in zip(a, b):
        s += x * y
    return s


def _log10_abs(x) -> float:
    """log10 of |midpoint| of an arb (any exponent); -inf for zero."""
    m = (x if isinstance(x, arb) else arb(x)).mid()    # exact: no rounding at any precision
    if m == 0:
        return -math.inf
    man, exp = m.man_exp()
    man, exp = abs(int(man)), int(exp)
    bits = man.bit_length()
    if bits > 900:
        man >>= bits - 900
        exp += bits - 900
    return math.log10(man) + exp * math.log10(2)


def prepare(c_exact, bits: int) -> ArbSetup:
    """Parameters in Arb reduced to the span of their differences (k <= 2 here)."""
    C = [[arb(x) for x in row] for row in c_exact]
    n, d = len(C), len(C[0])
    # reference: the component nearest the target, so v = c_ref + delta has no cancellation where
    # that component dominates (model.prepare makes the same choice)
    ref = min(range(n), key=lambda i: _signed_key(_dot(C[i], C[i])))
    D = [[C[i][j] - C[ref][j] if i != ref else arb(0) for j in range(d)] for i in range(n)]
    rel = arb(2) ** (-(bits - 24) + 20)
    basis: list[list] = []
    for row in D[:ref] + D[ref + 1:]:
        nrm0 = _dot(row, row).sqrt()
        if nrm0 == 0:
            continue
        r = list(row)
        for _ in range(2):
            for b in basis:
                pr = _dot(r, b)
                r = [x - pr * y for x, y in zip(r, b)]
        nrm = _dot(r, r).sqrt()
        if nrm.mid() > (rel * nrm0).mid():
            basis.append([x / nrm for x in r])
        if len(basis) == d:
            break
    k = len(basis)
    if k > MAX_K:
        raise Unsupported(f"k = {k} difference directions (the Arb kernel handles k <= {MAX_K})")
    if k >= 3:
        P = _principal_basis(D, basis, n, d, k)
    elif k == 2:
        E0 = [[_dot(D[i], b) for b in basis] for i in range(n)]
        mean = [sum((E0[i][j] for i in range(n)), arb(0)) / n for j in range(2)]
        cen = [[E0[i][j] - mean[j] for j in range(2)] for i in range(n)]
        a = sum((r[0] * r[0] for r in cen), arb(0))
        c = sum((r[1] * r[1] for r in cen), arb(0))
        b = sum((r[0] * r[1] for r in cen), arb(0))
        theta = arb.atan2((2 * b).mid(), (a - c).mid()) / 2 if (b.mid() != 0 or (a - c).mid() != 0) \
            else arb(0)
        theta = theta.mid()
        cs, sn = theta.cos(), theta.sin()
        # principal direction first: columns (cos, sin) and (-sin, cos) of V
        P = [[basis[0][r] * cs + basis[1][r] * sn, -basis[0][r] * sn + basis[1][r] * cs]
             for r in range(d)]
    else:
        P = [[basis[0][r]] for r in range(d)] if k == 1 else [[] for _ in range(d)]
    e = [[_dot(D[i], [P[r][j] for r in range(d)]) for j in range(k)] for i in range(n)]
    o = [-(_dot(D[i], C[ref]) + _dot(D[i], D[i]) / 2) for i in range(n)]
    R = max((_dot(row, row).sqrt() for row in C), key=lambda z: float(z.mid()) if z.mid() != 0 else 0.0)
    return ArbSetup(C, D, P, e, o, n, d, k, R, ref)


def _principal_basis(D, basis, n: int, d: int, k: int) -> list:
    """P = basis V with V the principal directions of the centred E0 = D basis (largest spread
    first).  V comes from numpy's eigh on the Gram matrix scaled to O(1) (spreads of 1e-1000 would
    underflow a double); it is then made orthonormal at the working precision by Gram-Schmidt in
    Arb (twice), so P stays orthonormal to the working precision whatever eigh's accuracy."""
    E0 = [[_dot(D[i], b) for b in basis] for i in range(n)]
    mean = [sum((E0[i][j] for i in range(n)), arb(0)) / n for j in range(k)]
    cen = [[E0[i][j] - mean[j] for j in range(k)] for i in range(n)]
    G = [[sum((r[a] * r[b] for r in cen), arb(0)) for b in range(k)] for a in range(k)]
    top = max((abs(x) for row in G for x in row), key=_signed_key)
    if top == 0:
        V = np.eye(k)
    else:
        Gf = np.array([[float((x / top).mid()) for x in row] for row in G])
        lam, V = np.linalg.eigh(Gf)
        V = V[:, np.argsort(-lam)]
    cols = []
    for j in range(k):
        v = [arb(float(V[r, j])) for r in range(k)]
        for _ in range(2):
            for c in cols:
                pr = _dot(v, c)
                v = [x - pr * y for x, y in zip(v, c)]
        nv = _dot(v, v).sqrt()
        cols.append([x / nv for x in v])
    return [[sum((basis[j][r] * cols[q][j] for j in range(k)), arb(0)) for q in range(k)]
            for r in range(d)]


def _gh_tensor(orders: list[int], bits: int):
    """Nodes (tuples) and weights of the tensor Gauss-Hermite rule over ``orders``."""
    rules = [hermite_rule(q, bits) for q in orders]
    nodes, weights = [()], [arb(1)]
    for xs, ws in rules:
        nodes = [t + (x,) for t in nodes for x in xs]
        weights = [w0 * w for w0 in weights for w in ws]
    return nodes, weights


def _spread_log10(setup: ArbSetup, j: int) -> float:
    col = [setup.e[i][j] for i in range(setup.n)]
    hi = max(col, key=lambda z: _signed_key(z))
    lo = min(col, key=lambda z: _signed_key(z))
    return _log10_abs(hi - lo)


def _signed_key(z) -> tuple:
    """Sort key for arbs of any exponent (float() would underflow at 1e-1000)."""
    m = z.mid()
    if m == 0:
        return (0, 0.0)
    lg = _log10_abs(m)
    return (1, lg) if m > 0 else (-1, -lg)


# ---------------------------------------------------------------------------------------------
# Moments on a tensor (or one-dimensional) rule
# ---------------------------------------------------------------------------------------------

def expectations(setup: ArbSetup, xs, wx, ys, wy, tail=None) -> dict:
    """E[w_i f], E[u_1 w_i f], E[u_2 w_i f] for f in {1, eps_1, .., eps_k, |eps|^2} on the rule
    (xs, wx) x (ys, wy), where eps = sum_j w_j e_j is delta in the reduced coordinates.

    x runs along u_1 (split or GH nodes), y along u_2 (GH; a single node 0 of weight 1 when
    k < 2).  With A_ai = exp(e_i1 x_a + o_i), B_bi = exp(e_i2 y_b): S = A B^T, the numerators of
    eps_q are N_q = A diag(e_.q) B^T, and E[w_i f] = sum_a wx_a A_ai [(f / S) (wy B)]_ai, so the
    node sums are K1 x K2 by K2 x 2n products.  ``tail`` = (t0, t1) bounds the omitted Gaussian
    mass (without / with u_1); |w_i f| <= sup|f| is added to the radii.
    Returns {f: [by_q0, by_q1, by_q2]} with lists over i.
    """
    n, k = setup.n, setup.k
    e = setup.e
    e1 = [e[i][0] if k >= 1 else arb(0) for i in range(n)]
    o = setup.o
    one = arb(1)
    # the reference component has e_ref = 0, o_ref = 0: its factor is exactly 1
    ref = setup.ref
    A = [[(e1[i] * x + o[i]).exp() if i != ref else one for i in range(n)] for x in xs]
    if k >= 2:
        # y nodes are (k-1)-tuples (directions 2..k); a bare number is a 1-tuple
        ys = [y if isinstance(y, tuple) else (y,) for y in ys]
        B = []
        for y in ys:
            row = []
            for i in range(n):
                if i == ref:
                    row.append(one)
                else:
                    lg = e[i][1] * y[0]
                    for q in range(2, k):
                        lg += e[i][q] * y[q - 1]
                    row.append(lg.exp())
            B.append(row)
    else:
        B = [[one] * n]
    K1 = len(xs)
    others = [i for i in range(n) if i != ref]
    if k >= 2:
        # one product gives S and the numerators N_q of eps_q: [A; A diag(e_.1); ...] B^T
        Bt = arb_mat(B).transpose()
        stack = A + [[A[a][i] * e[i][q] for i in range(n)] for q in range(k) for a in range(K1)]
        SN = (arb_mat(stack) * Bt).tolist()
        S, N = SN[:K1], [SN[(q + 1) * K1:(q + 2) * K1] for q in range(k)]
    else:
        # one y node: S and N_1 are sums over the n components at each x node (A_ref = 1, e_ref = 0)
        S = [[sum((row[i] for i in others), one)] for row in A]
        N = [[[sum((row[i] * e1[i] for i in others), arb(0))] for row in A]] if k else []
    if k == 0:
        Z = {"1": [[1 / z for z in row] for row in S]}
    elif k == 1:
        inv, z1, zee = [], [], []
        for rs, r1 in zip(S, N[0]):
            ri, a1, aee = [], [], []
            for sv, n1 in zip(rs, r1):
                iv = 1 / sv
                e1_ = n1 * iv
                t1 = e1_ * iv
                ri.append(iv)
                a1.append(t1)
                aee.append(e1_ * t1)
            inv.append(ri)
            z1.append(a1)
            zee.append(aee)
        Z = {"1": inv, ("e", 0): z1, "ee": zee}
    elif k >= 3:
        inv, zq, zee = [], [[] for _ in range(k)], []
        for t_, rs in enumerate(S):
            ri, aq, aee = [], [[] for _ in range(k)], []
            rows_q = [N[q][t_] for q in range(k)]
            for b_, sv in enumerate(rs):
                iv = 1 / sv
                tot = arb(0)
                for q in range(k):
                    eq_ = rows_q[q][b_] * iv
                    tq = eq_ * iv
                    aq[q].append(tq)
                    tot += eq_ * tq
                ri.append(iv)
                aee.append(tot)
            inv.append(ri)
            for q in range(k):
                zq[q].append(aq[q])
            zee.append(aee)
        Z = {"1": inv, "ee": zee}
        Z.update({("e", q): zq[q] for q in range(k)})
    else:
        inv, z1, z2, zee = [], [], [], []
        for rs, r1, r2 in zip(S, N[0], N[1]):
            ri, a1, a2, aee = [], [], [], []
            for sv, n1, n2 in zip(rs, r1, r2):
                iv = 1 / sv
                e1_, e2_ = n1 * iv, n2 * iv
                t1, t2 = e1_ * iv, e2_ * iv
                ri.append(iv)
                a1.append(t1)
                a2.append(t2)
                aee.append(e1_ * t1 + e2_ * t2)
            inv.append(ri)
            z1.append(a1)
            z2.append(a2)
            zee.append(aee)
        Z = {"1": inv, ("e", 0): z1, ("e", 1): z2, "ee": zee}
    WA = [[w * A[a][i] for i in range(n)] for a, w in enumerate(wx)]
    WxA = [[x * z for z in row] for x, row in zip(xs, WA)]
    out = {}
    names = list(Z)
    if k < 2:
        # a single y node (0, weight 1, B = 1): the sums over a are one (2n x K1)(K1 x f) product
        Q = (arb_mat([WA[a] + WxA[a] for a in range(K1)]).transpose()
             * arb_mat([[Z[f][a][0] for f in names] for a in range(K1)]))
        zero = [arb(0)] * n
        for t, f in enumerate(names):
            out[f] = [[Q[i, t] for i in range(n)], [Q[n + i, t] for i in range(n)], zero]
        names = []
    else:
        right = arb_mat([[w * B[b][i] for i in range(n)]
                         + [w * y[q] * B[b][i] for q in range(k - 1) for i in range(n)]
                         for b, (y, w) in enumerate(zip(ys, wy))])
    XX = (arb_mat([row for f in names for row in Z[f]]) * right).tolist() if names else []
    for t, f in enumerate(names):
        X = XX[t * K1:(t + 1) * K1]
        sums = [[] for _ in range(k + 1)]     # none, u_1, u_2, ..., u_k
        for i in range(n):
            acc = [arb(0)] * (k + 1)
            for a in range(K1):
                xa = X[a]
                acc[0] += WA[a][i] * xa[i]
                acc[1] += WxA[a][i] * xa[i]
                for q in range(1, k):
                    acc[q + 1] += WA[a][i] * xa[q * n + i]
            for q in range(k + 1):
                sums[q].append(acc[q])
        out[f] = sums
    if not k:
        out["ee"] = [[arb(0)] * n for _ in range(3)]
    if tail is not None:
        out = add_tail(setup, out, tail)
    return out


def add_tail(setup: ArbSetup, out: dict, tail) -> dict:
    """The moments with the omitted Gaussian mass added to their radii: |w_i f| <= sup|f|
    (|eps_q| <= max_i |e_iq|, a convex combination), times t0 (or t1 with a factor u_1)."""
    n, k, e = setup.n, setup.k, setup.e
    out = {f: [list(lst) for lst in lists] for f, lists in out.items()}
    t0, t1 = tail
    emax = [max((abs(e[i][q]).upper() for i in range(n)), key=_signed_key) for q in range(k)]
    bound = {"1": arb(1), "ee": sum((m * m for m in emax), arb(0))}
    bound.update({("e", q): emax[q] for q in range(k)})
    for f, lists in out.items():
        for q, lst in enumerate(lists):
            r = (bound[f] * (t1 if q == 1 else t0)).upper()
            lists[q] = [x + arb(0, r) for x in lst]
    return out


def assemble(setup: ArbSetup, M: dict, need_grad: bool = True):
    """Loss and direct gradient (n x d lists of arb) from the expectations:
    with b = P^T c_1, g_i = <c_1, d_i>, delta = P eps:
        F = |c_1|^2 E[1] + 2 <b, E[eps]> + E|eps|^2                      (E[.] = sum_i E[w_i .])
        E[w_i v] = c_1 E[w_i] + P E[w_i eps]
        E[w_i h_i] = g_i E[w_i] + <e_i - b, E[w_i eps]> - E[w_i |eps|^2], and likewise with u."""
    n, d, k = setup.n, setup.d, setup.k
    C, D, P = setup.C, setup.D, setup.P
    c1 = C[setup.ref]
    b = [_dot(c1, [P[r][q] for r in range(d)]) for q in range(k)]
    g = [_dot(c1, D[i]) for i in range(n)]
    tot = lambda lst: sum(lst, arb(0))
    F = _dot(c1, c1) * tot(M["1"][0]) + tot(M["ee"][0])
    for q in range(k):
        F += 2 * b[q] * tot(M[("e", q)][0])
    if not need_grad:
        return F, None

    def wh(i, qq):
        s = g[i] * M["1"][qq][i] - M["ee"][qq][i]
        for q in range(k):
            s += (setup.e[i][q] - b[q]) * M[("e", q)][qq][i]
        return s

    grad = []
    for i in range(n):
        m1 = M["1"][0][i]
        whi = wh(i, 0)
        uwh = [wh(i, q + 1) for q in range(k)]
        row = []
        for r in range(d):
            val = c1[r] * m1 - C[i][r] * whi
            for q in range(k):
                val += P[r][q] * (M[("e", q)][0][i] + uwh[q])
            row.append(2 * val)
        grad.append(row)
    return F, grad


def _rows(setup: ArbSetup, M: dict, base, moment):
    """The n x d list of arb base(i)[r] E[w_i] + sum_q P[r][q] moment(q, i): the common shape of
    the two vectors below."""
    n, d, k, P = setup.n, setup.d, setup.k, setup.P
    out = []
    for i in range(n):
        m1, a = M["1"][0][i], base(i)
        row = []
        for r in range(d):
            val = a[r] * m1
            for q in range(k):
                val += P[r][q] * moment(q, i)
            row.append(val)
        out.append(row)
    return out


def assemble_em(setup: ArbSetup, M: dict):
    """The gradient-EM direction E[w_i (y - c_i)] (n x d list of arb) from the expectations.

    y = P u + y_perp with u = P^T y ~ N(0, I_k) and y_perp independent of u with mean 0, and the
    weights depend on y through u only, so E[w_i y] = P E[u w_i]:
        E[w_i (y - c_i)] = P E[u w_i] - c_i E[w_i]            (model._assemble_em)."""
    return _rows(setup, M, lambda i: [-x for x in setup.C[i]], lambda q, i: M["1"][q + 1][i])


def assemble_wv(setup: ArbSetup, M: dict):
    """E[w_i v] (n x d list of arb) from the expectations: v = c_ref + P eps, so
    E[w_i v] = c_ref E[w_i] + P E[w_i eps] (the first term of the direct gradient, see assemble).
    By Stein's lemma it is minus the EM direction; formed from other moments (E[w_i eps] instead
    of E[u w_i]) it is the second integrand of em-link's identity."""
    c1 = setup.C[setup.ref]
    return _rows(setup, M, lambda i: c1, lambda q, i: M[("e", q)][0][i])


# the n x d quantities besides the direct gradient: (assembly, natural scale of the absolute floor
# as in model.Evaluator: 1 + R for the EM direction, R for E[w_i v] (|v| <= R))
VECTORS = {"em": (assemble_em, lambda R: 1 + R), "wv": (assemble_wv, lambda R: R)}


# ---------------------------------------------------------------------------------------------
# Rule layouts
# ---------------------------------------------------------------------------------------------

def _gh_predict(lsp: float, D: float) -> int:
    """Gauss-Hermite order predicted for a direction of log10 logit spread ``lsp`` and D digits:
    the softmax's poles sit pi/spread from the real axis and an N-node rule reaches about
    exp(-(pi/spread) sqrt(2N)) there; for small spreads the Taylor terms (3 spread)^(2N) decide."""
    if lsp == -math.inf:
        return 2
    if lsp < -1:
        return max(2, math.ceil(D / (2 * -(math.log10(3) + lsp)) + 1))
    s = 10 ** lsp
    return max(2, math.ceil((D * LN10 * s / math.pi) ** 2 / 2), math.ceil(D / 2))


def _ladder_index(ladder, need: int) -> int:
    return next((i for i, q in enumerate(ladder) if q >= need), len(ladder) - 1)


def _truncation(D: float) -> float:
    """Half-width L with erfc(L/sqrt 2) < 10^-(D+3) (the bound itself is then taken in Arb):
    log erfc(L/sqrt 2) <= log(sqrt(2/pi)/L) - L^2/2 for L >= 1."""
    L = 2.0
    while 0.5 * math.log(2 / math.pi) - math.log(L) - L * L / 2 > -(D + 3) * LN10:
        L += 0.25
    return L


def _trapezoid_step(lsp: float, D: float, level: int) -> float:
    """Trapezoid step for a direction of log10 logit spread ``lsp``: poles at Im u = pi/spread,
    error ~ e^{tau^2/2} e^{-2 pi tau/h} with tau = 0.95 pi/spread (see _trapezoid_plan)."""
    tau = 0.95 * math.pi / 10 ** lsp
    return 2 * math.pi * tau / (LN10 * (D + 3) + tau * tau / 2) * 0.8 ** level


@lru_cache(maxsize=64)
def _trapezoid_nodes_cached(h: float, L: float, bits: int):
    with _Prec(bits):
        ha = arb(h)
        norm = 1 / (2 * arb.pi()).sqrt()
        nc = int(math.ceil(L / h))
        xs = [ha * j for j in range(-nc, nc + 1)]
        ws = [ha * norm * (-(x * x) / 2).exp() for x in xs]
    return xs, ws


def _trapezoid_nodes(h: float, L: float):
    """Nodes j h (|j h| <= L + h) and weights h phi(j h) at the current Arb precision."""
    return _trapezoid_nodes_cached(h, L, flint.ctx.prec)


def _trapezoid_plan(setup: ArbSetup, D: float, level: int):
    """(h, L, nc) of a trapezoid pair (h vs h/2, nested) on [-L, L] for a sharp direction in
    k = 1, or None when the split rule is cheaper.  The integrand phi(u) w_I(u) u^q is analytic in
    the strip |Im u| < tau = pi/spread (the softmax's poles), where |phi| grows by e^{tau^2/2};
    the trapezoid rule's error is then ~ e^{tau^2/2} e^{-2 pi tau/h}: h follows from D digits.
    The split rule needs ~ (panels) x (Gauss-Legendre orders of the pair) nodes."""
    lsp = _spread_log10(setup, 0)
    if lsp > 300 or lsp == -math.inf:
        return None
    tau = 0.95 * math.pi / 10 ** lsp
    L = _truncation(D)
    h = 2 * math.pi * tau / (LN10 * (D + 3) + tau * tau / 2) * 0.8 ** level
    nc = int(math.ceil(L / h))
    trap_nodes = 2 * (2 * nc + 1)
    # split rule estimate: ~L/PANEL_MAX*2 panels + 4 graded per tie, orders ~ D/1.2 (two rules)
    panels = 2 * L / PANEL_MAX + 4 * (setup.n - 1)
    split_nodes = panels * 2 * (D / 1.2)
    if trap_nodes > split_nodes or trap_nodes > MAX_NODES:
        return None
    return h, L, nc


def _split_edges(e: list[float], o: list[float], L: float, margin: float) -> list[float]:
    """Panel edges on [-L, L]: the visible tie points, graded geometrically towards each from the
    transition width 1/|e_i - e_j| up to PANEL_MAX, uniform panels <= PANEL_MAX elsewhere
    (the layout of :func:`verify.quadrature._panel_edges`, with this kernel's PANEL_MAX)."""
    n = len(e)
    breaks = []
    for i in range(n):
        for j in range(i + 1, n):
            de = e[i] - e[j]
            if de == 0:
                continue
            p = -(o[i] - o[j]) / de
            if not -L < p < L:
                continue
            logits = [e[m] * p + o[m] for m in range(n)]
            if logits[i] < max(logits) - margin:
                continue
            breaks.append((p, 1.0 / abs(de)))
    return _panel_edges(breaks, L, PANEL_MAX)


def _split_nodes(edges: list[float], order: int, bits: int):
    xq, wq = legendre_rule(order, bits)
    norm = 1 / (2 * arb.pi()).sqrt()
    xs, ws = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        a, b = arb(a), arb(b)
        half, mid = (b - a) / 2, (a + b) / 2
        hn = half * norm
        for x, w in zip(xq, wq):
            u = mid + half * x
            xs.append(u)
            ws.append(hn * w * (-(u * u) / 2).exp())
    return xs, ws


# ---------------------------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------------------------

def _to_mpf(x: arb, ctx):
    m = x.mid()
    if m == 0:
        return ctx.zero
    man, exp = m.man_exp()
    return ctx.mpf((int(man), int(exp)))


def _err_mpf(x: arb, ctx):
    """An upper bound on a nonnegative arb as an mpf (rounded up a little)."""
    u = x.abs_upper()
    if u == 0:
        return ctx.zero
    man, exp = u.man_exp()
    return ctx.mpf((int(man), int(exp))) * (1 + ctx.mpf(2) ** (-ctx.prec + 4))


class ArbEvaluator:
    """The GD-facing interface of model.Evaluator (``grad``, ``F``, ``em``, ``integrator``), with
    the loss, the direct gradient and the EM direction computed in Arb (module docstring); also
    ``wv`` = E[w_i v] (em-link's second integrand).

    ``fallbacks`` lists (what, reason) for every call handed to model.Evaluator.
    """

    def __init__(self, prec: Precision):
        self.prec = prec
        self._mp: model.Evaluator | None = None
        self.integrator = Counter(self)
        self.fallbacks: list[tuple[str, str]] = []
        self._level: dict[tuple, int] = {}
        self.bits = _bits(prec.dps) if not prec.is_float64 else 53
        self.target = prec.digits + prec.spread_digits

    # -- fallback ---------------------------------------------------------------------------
    def _fallback(self, what: str, why: str):
        if self._mp is None:
            self._mp = model.Evaluator(self.prec)
        if not self.fallbacks or self.fallbacks[-1] != (what, why):
            self.fallbacks.append((what, why))
        return self._mp

    @staticmethod
    def _tag(est: Estimate, why: str) -> Estimate:
        est.rule = dict(est.rule, engine=f"mpmath (fallback: {why})")
        return est

    # -- public interface ---------------------------------------------------------------------
    def F(self, c_exact) -> Estimate:
        if self.prec.is_float64:
            why = "float64 precision is not the Arb kernel's job"
            return self._tag(self._fallback("F", why).F(c_exact), why)
        try:
            f_est, _ = self._evaluate(c_exact, need_grad=False)
        except Unsupported as e:
            return self._tag(self._fallback("F", str(e)).F(c_exact), str(e))
        return f_est

    def grad(self, c_exact, form: str = "direct", with_loss: bool = False):
        if form not in model.FORMS:
            raise ValueError(f"form must be one of {model.FORMS}, got {form!r}")
        why = None
        if self.prec.is_float64:
            why = "float64 precision is not the Arb kernel's job"
        elif form != "direct":
            why = "the Stein form is not in the Arb kernel"
        if why is None:
            try:
                f_est, g_est = self._evaluate(c_exact, need_grad=True)
                return (g_est, f_est) if with_loss else g_est
            except Unsupported as e:
                why = str(e)
        out = self._fallback("grad", why).grad(c_exact, form, with_loss=with_loss)
        if with_loss:
            return self._tag(out[0], why), self._tag(out[1], why)
        return self._tag(out, why)

    def em(self, c_exact) -> Estimate:
        """The gradient-EM direction E[w_i (y - c_i)] (n x d), accepted as the gradient is: every
        component's error <= 10^-D times its Frobenius norm (floor 10^-D (1 + R))."""
        return self._vector(c_exact, "em")

    def wv(self, c_exact) -> Estimate:
        """E[w_i v] (n x d), accepted as :meth:`em` (floor 10^-D R); the fallback is
        model.Evaluator's "wv" block (accepted on its largest component)."""
        return self._vector(c_exact, "wv")

    def _vector(self, c_exact, what: str) -> Estimate:
        why = None
        if self.prec.is_float64:
            why = "float64 precision is not the Arb kernel's job"
        else:
            try:
                return self._evaluate(c_exact, need_grad=True, vector=what)[1]
            except Unsupported as e:
                why = str(e)
        mp = self._fallback(what, why)
        if what == "em":
            return self._tag(mp.em(c_exact), why)
        _, vals, errs, ok, rule = mp.blocks(c_exact, ["wv"])
        n, d = len(c_exact), len(c_exact[0])
        est = Estimate([[vals["wv"][i * d + j] for j in range(d)] for i in range(n)],
                       [[errs["wv"][i * d + j] for j in range(d)] for i in range(n)],
                       self.prec, dict(rule, form="wv"), ok)
        return self._tag(est, why)

    # -- the kernel -----------------------------------------------------------------------------
    def _evaluate(self, c_exact, need_grad: bool, vector: str | None = None):
        with _Prec(self.bits):
            try:
                setup = prepare(c_exact, self.bits)
                return self._evaluate_setup(setup, need_grad, vector)
            except (Unsupported, InaccurateError):
                raise
            except (ValueError, ArithmeticError, OverflowError) as e:
                # a ball that lost all accuracy (e.g. NaN) or a value outside the double range in
                # a layout step: not a number to return; mpmath takes over, with the reason kept
                raise Unsupported(f"Arb kernel could not evaluate here ({type(e).__name__}: "
                                  f"{e})") from e

    def _accept(self, setup, F, Fc, grad, gradc, D: float, F0=None, grad0=None,
                vector: str = "direct"):
        """Errors (arb upper bounds) and whether they meet D significant digits.

        As quadrature.Tolerance.assess: the loss is accepted when err <= 10^-D |F|, the gradient
        when every component's err <= 10^-D |grad F| (Frobenius); failing that, when the rule pair
        agrees within the rounding (the ball radius) and err <= 10^-D times the natural scale
        (R^2 for F, R + R^3 for the gradient): the absolute floor for a vanishing quantity.
        ``vector`` names the n x d quantity in ``grad``: "direct" (the gradient), or one of
        VECTORS (the EM direction, E[w_i v]: accepted the same way with their natural scales),
        which come without a loss (F None: only the vector is judged).
        Sets self._short = (digits missing, whether the radius (rounding + tail) dominates)."""
        R = setup.R
        mode = "relative"
        if F is None:
            errF, okF, short = None, True, -math.inf
            self._short = (short, False)
        else:
            diffF = abs(F.mid() - Fc.mid())
            errF = diffF + F.rad()
            lerr = _log10_abs(errF)
            okF = lerr == -math.inf or lerr <= _log10_abs(F) - D
            F0 = F if F0 is None else F0
            if (not okF and _log10_abs(diffF) <= _log10_abs(F0.rad())
                    and _log10_abs(F.rad()) <= _log10_abs(F0.rad()) + math.log10(2)
                    and lerr <= _log10_abs(R * R) - D):
                okF, mode = True, "absolute floor"
            short = lerr - (_log10_abs(F) - D)
            self._short = (short, _log10_abs(F.rad()) >= lerr - 0.5)
        grad0 = grad if grad0 is None else grad0
        scale = R + R * R * R if vector == "direct" else VECTORS[vector][1](R)
        info = {"accuracy": mode}
        if grad is None:
            return errF, None, okF, info
        diffs = [[abs(a.mid() - b.mid()) for a, b in zip(ra, rb)] for ra, rb in zip(grad, gradc)]
        # one quadrature error for all components (the largest pair difference): a component
        # whose two rules agree by coincidence is not credited with more accuracy than the rule
        # pair shows elsewhere (seen: 1.9e-27 claimed, 9e-25 true, 1.3e-22 on its neighbours)
        dmax = max((x for row in diffs for x in row), key=_signed_key)
        diffs = [[dmax] * len(row) for row in diffs]
        errG = [[dv + a.rad() for dv, a in zip(rd, ra)] for rd, ra in zip(diffs, grad)]
        norm2 = sum((x.mid() * x.mid() for row in grad for x in row), arb(0))
        lg_norm = _log10_abs(norm2) / 2 if norm2 != 0 else -math.inf
        worst = max(_log10_abs(x) for row in errG for x in row)
        okG = worst == -math.inf or worst <= lg_norm - D
        if not okG:
            wdiff = max(_log10_abs(x) for row in diffs for x in row)
            wrad = max(_log10_abs(a.rad()) for row in grad for a in row)
            wround = max(_log10_abs(a.rad()) for row in grad0 for a in row)
            if (wdiff <= wround and wrad <= wround + math.log10(2)
                    and worst <= _log10_abs(scale) - D):
                okG, mode = True, "absolute floor"
            if worst - (lg_norm - D) > short:
                self._short = (worst - (lg_norm - D), wrad >= worst - 0.5)
        info["accuracy"] = mode
        if mode == "absolute floor":
            info["floor"] = {} if F is None else {
                "F": mpmath.nstr(mpmath.mpf(10) ** (_log10_abs(R * R) - D), 3)}
            info["floor"][vector] = mpmath.nstr(mpmath.mpf(10) ** (_log10_abs(scale) - D), 3)
        return errF, errG, okF and okG, info

    def _evaluate_setup(self, setup: ArbSetup, need_grad: bool, vector: str | None = None):
        """(F, grad F) as Estimates (grad None without ``need_grad``), or with ``vector`` (a key
        of VECTORS) (None, that n x d quantity), from one rule pair climbed until the quantity
        returned meets the digits (see _accept)."""
        D = self.target + 0.0
        k, n = setup.k, setup.n
        ctx = _precision.context(self.prec.dps)
        spreads = [_spread_log10(setup, j) for j in range(k)]
        preds = [_gh_predict(s, D + 2) for s in spreads]
        # In two dimensions the per-direction pole estimate undercounts the weaker direction
        # (measured: 64x32 misses by 15 digits what 48x48 reaches at spreads 0.30/0.21), so every
        # direction outside the Taylor regime gets the strongest direction's order.
        wide = [j for j in range(k) if spreads[j] >= -1]
        if len(wide) > 1:
            top_pred = max(preds[j] for j in wide)
            for j in wide:
                preds[j] = top_pred
        sharp = [j for j in range(k) if preds[j] > GH_MAX_PREDICTED]
        key = (k, bool(sharp) and _trapezoid_plan(setup, D, 0) is not None, bool(sharp),
               need_grad if vector is None else vector, n)
        if sharp and k >= 3:
            raise Unsupported(f"a separated direction in a {k}-D span (the Arb kernel's "
                              "trapezoid/split rules cover k <= 2)")
        level = self._level.get(key, 0)
        # below this level no rule changes any more (the ladders' first rungs; trapezoid steps
        # wider than 0.8^-3 of the prediction), so the warm start never drifts below it
        if sharp:
            floor = -3
        elif k:
            floor = 1 - max(_ladder_index(GH_LADDER, p) for p in preds)
        else:
            floor = 0
        level = max(level, floor)
        best = None
        extra_L = 0.0
        for attempt in range(16):
            trap = None
            if sharp and k >= 2:
                # tensor rule: trapezoid along the sharp directions, Gauss-Hermite along the others
                L = _truncation(D + extra_L)
                parts_c, parts_f, names = [], [], []
                top = False
                for j in range(2):
                    if j in sharp:
                        h = _trapezoid_step(_spread_log10(setup, j), D + extra_L, level)
                        pc, pf = _trapezoid_nodes(h, L), _trapezoid_nodes(h / 2, L)
                        names.append(f"trapezoid h={h:.3g}->{h / 2:.3g} on [-{L:g}, {L:g}]")
                    else:
                        idx = max(1, _ladder_index(GH_LADDER, preds[j]) + level)
                        if idx >= len(GH_LADDER):
                            top = True
                            idx = len(GH_LADDER) - 1
                        pc, pf = hermite_rule(GH_LADDER[idx - 1], self.bits), \
                            hermite_rule(GH_LADDER[idx], self.bits)
                        names.append(f"Gauss-Hermite {GH_LADDER[idx]} vs {GH_LADDER[idx - 1]}")
                    parts_c.append(pc)
                    parts_f.append(pf)
                if top:
                    break
                La = arb(L)
                t0 = (La / arb(2).sqrt()).erfc()
                t1 = (2 / arb.pi()).sqrt() * (-(La * La) / 2).exp()
                # mass outside the truncated box, times |u_q| <= its tail moment or E|u| <= 1
                tb = len(sharp) * (t0 + t1)
                tail = (tb, tb)
                rules = [(parts_c[0][0], parts_c[0][1], parts_c[1][0], parts_c[1][1]),
                         (parts_f[0][0], parts_f[0][1], parts_f[1][0], parts_f[1][1])]
                desc = " (x) ".join(names) + " (Arb)"
            elif sharp:
                trap = _trapezoid_plan(setup, D + extra_L, level)
            if k >= 2 and sharp:
                pass                   # the tensor rule above
            elif trap is not None:
                h, L, nc = trap
                La = arb(L) - h
                t0 = (La / arb(2).sqrt()).erfc()
                t1 = (2 / arb.pi()).sqrt() * (-(La * La) / 2).exp()
                tail = (t0, t1)
                norm = 1 / (2 * arb.pi()).sqrt()
                ha = arb(h)
                even = [ha * j for j in range(-nc, nc + 1)]
                odd = [ha * j + ha / 2 for j in range(-nc, nc)]
                Ms = []
                for xs in (even, odd):
                    ws = [ha * norm * (-(x * x) / 2).exp() for x in xs]
                    Ms.append(expectations(setup, xs, ws, [arb(0)], [arb(1)]))
                    self.integrator.own += len(xs)
                Mf = {f: [[(a_ + b_) / 2 for a_, b_ in zip(la, lb)] for la, lb in zip(Ms[0][f], Ms[1][f])]
                      for f in Ms[0]}
                Mc = Ms[0]
                sizes = [len(even), len(even) + len(odd)]
                desc = (f"trapezoid h={h:.4g} vs h/2 on [-{L:g}, {L:g}] (Arb; analytic in the "
                        f"strip of the softmax poles)")
            elif sharp and trap is None:
                L = _truncation(D + extra_L)
                ef = [float(setup.e[i][0].mid()) for i in range(n)]
                of = [float(setup.o[i].mid()) for i in range(n)]
                if not all(map(math.isfinite, of)):
                    raise Unsupported("logit offsets outside the double range (split-rule layout)")
                edges = _split_edges(ef, of, L, D * LN10 + 10)
                base = _ladder_index(GL_LADDER, math.ceil(D / 1.2))
                idx = base + level
                if idx < 1:
                    idx, level = 1, 1 - base
                if idx >= len(GL_LADDER):
                    break
                La = arb(L)
                t0 = (La / arb(2).sqrt()).erfc()
                t1 = (2 / arb.pi()).sqrt() * (-(La * La) / 2).exp()
                tail = (t0, t1)
                rules = []
                for q in (GL_LADDER[idx - 1], GL_LADDER[idx]):
                    xs, ws = _split_nodes(edges, q, self.bits)
                    rules.append((xs, ws, [arb(0)], [arb(1)]))
                desc = (f"split Gauss-Legendre {GL_LADDER[idx - 1]}->{GL_LADDER[idx]}/panel "
                        f"x{len(edges) - 1} panels on [-{L:g}, {L:g}] (Arb)")
            else:
                orders_f, orders_c = [], []
                top = False
                for j in range(k):
                    base = _ladder_index(GH_LADDER, preds[j])
                    idx = max(1, base + level)
                    if idx >= len(GH_LADDER):
                        top = True
                        idx = len(GH_LADDER) - 1
                    orders_f.append(GH_LADDER[idx])
                    orders_c.append(GH_LADDER[idx - 1])
                if top:
                    break
                tail = None
                rules = []
                for orders in (orders_c, orders_f):
                    xs, wx = hermite_rule(orders[0], self.bits) if k >= 1 else ([arb(0)], [arb(1)])
                    ys, wy = (_gh_tensor(orders[1:], self.bits) if k >= 2
                              else ([arb(0)], [arb(1)]))
                    rules.append((xs, wx, ys, wy))
                desc = ("Gauss-Hermite " + "x".join(map(str, orders_f)) + " vs "
                        + "x".join(map(str, orders_c)) + " (Arb)") if k else "exact (k=0) (Arb)"
            if trap is None:
                sizes = [len(r[0]) * len(r[2]) for r in rules]
                if max(sizes) > MAX_NODES:
                    raise Unsupported(f"rule of {max(sizes)} nodes over the Arb kernel's budget "
                                      f"of {MAX_NODES}")
                Ms = []
                for xs, wx, ys, wy in rules:
                    Ms.append(expectations(setup, xs, wx, ys, wy))
                    self.integrator.own += len(xs) * len(ys)
                Mc, Mf = Ms
            # the truncated mass enters the radii (rigorously) but is kept apart from rounding:
            # only rounding may justify the absolute floor
            if vector is None:
                quantities = lambda M: assemble(setup, M, need_grad)
            else:
                quantities = lambda M: (None, VECTORS[vector][0](setup, M))
            F0, g0 = quantities(Mf)
            if tail is not None:
                Mc, Mf = add_tail(setup, Mc, tail), add_tail(setup, Mf, tail)
            (Fc, gc), (F, g) = quantities(Mc), quantities(Mf)
            if k == 0:
                Fc, gc = F, g          # exact: no quadrature
            what = vector or "direct"
            errF, errG, ok, info = self._accept(setup, F, Fc, g, gc, D, F0, g0, what)
            rule = {"rule": desc, "nodes": sizes[1], "compare_nodes": sizes[0], "level": level,
                    "evaluated_nodes": sizes[1] + (sizes[0] if trap is None else 0),
                    "engine": "arb", "bits": self.bits, **info}
            best = (F, errF, g, errG, ok, rule)
            if ok or k == 0:
                # slack of 4 digits: try one rung lower next time
                _, _, ok4, _ = self._accept(setup, F, Fc, g, gc, D + 4, F0, g0, what)
                self._level[key] = max(floor, level - 1 if ok4 else level)
                break
            short, rad_side = self._short
            if sharp and rad_side and short > 0 and extra_L < 4 * D:
                extra_L += short + 2      # the truncated mass dominates: widen [-L, L]
            else:
                level += 1
        if best is None:
            raise Unsupported("no rule on the Arb ladder fits this geometry")
        F, errF, g, errG, ok, rule = best
        if not ok:
            self._level[key] = level - 1
            rule = dict(rule, unresolved="the top of the Arb ladder did not meet the tolerance")
        # the returned mpf values are rounded to the context's precision: that rounding joins
        # the error (half an ulp, bounded by |value| 2^(1 - prec))
        ulp = arb(2) ** (1 - ctx.prec)
        f_est = None if F is None else Estimate(
            _to_mpf(F, ctx), _err_mpf(errF + abs(F.mid()) * ulp, ctx), self.prec, rule, ok)
        if g is None:
            return f_est, None
        g_est = Estimate([[_to_mpf(x, ctx) for x in row] for row in g],
                         [[_err_mpf(e + abs(x.mid()) * ulp, ctx) for x, e in zip(rg, re_)]
                          for rg, re_ in zip(g, errG)], self.prec,
                         dict(rule, form=vector or "direct"), ok)
        return f_est, g_est


def F(c, digits: int) -> Estimate:
    """F at ``digits`` significant digits, as :func:`verify.model.F` at the multiprecision working
    precision it would choose, computed by this kernel (see :func:`grad_F`)."""
    c_exact = model.check_params(c, "c")
    prec = _precision.choose(c_exact, digits, allow_float64=False)
    return ArbEvaluator(prec).F(c_exact)


def grad_F(c, digits: int, *, with_loss: bool = False):
    """The direct-form gradient of F (and F with ``with_loss``) at ``digits`` significant digits,
    as :func:`verify.model.grad_F` at the multiprecision working precision it would choose, but
    computed by this kernel (model.Evaluator where the kernel does not apply; ``rule["engine"]``
    says which).  No escalation as in model.grad_F: an estimate short of the digits has ok=False;
    its ``error`` bounds the error either way."""
    c_exact = model.check_params(c, "c")
    extra = model._scale_digits(c_exact)
    prec = _precision.choose(c_exact, digits, allow_float64=False, extra_digits=extra)
    return ArbEvaluator(prec).grad(c_exact, "direct", with_loss=with_loss)


def em_direction(c, digits: int) -> Estimate:
    """The gradient-EM direction E[w_i (y - c_i)] (n x d) at ``digits`` significant digits
    relative to its Frobenius norm, as :func:`verify.model.em_direction` at the multiprecision
    working precision it would choose, computed by this kernel (model.Evaluator where the kernel
    does not apply; ``rule["engine"]`` says which).  No escalation: an estimate short of the
    digits has ok=False; its ``error`` bounds the error either way."""
    c_exact = model.check_params(c, "c")
    extra = model._scale_digits(c_exact)
    prec = _precision.choose(c_exact, digits, allow_float64=False, extra_digits=extra)
    return ArbEvaluator(prec).em(c_exact)


# ---------------------------------------------------------------------------------------------
# Benchmarks (called by ``verify bench --json``; medians in ms, ratios against today's mpmath
# path measured in the same call)
# ---------------------------------------------------------------------------------------------

_LAST_CPU_MS = [0.0]


def _median_ms(fn, repeat: int):
    """Median wall time in ms (and, in _LAST_CPU_MS, the median CPU time of this process: on a
    shared, oversubscribed machine the wall time also counts waiting for a core)."""
    times, cpu, out = [], [], None
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    _LAST_CPU_MS[0] = 1e3 * statistics.median(cpu)
    return 1e3 * statistics.median(times), out


def _digits_reached(g: Estimate, f: Estimate) -> float:
    """Significant digits the error estimates certify: min over the loss (relative to |F|) and
    the gradient (each component relative to the Frobenius norm)."""
    ctx = _precision.context((g.precision.dps or 15) + 20)
    cv = ctx.convert
    lf = _log10_abs(arb(f.value)) - _log10_abs(arb(f.error)) if f.error else math.inf
    norm = ctx.sqrt(ctx.fsum(cv(x) ** 2 for row in g.value for x in row))
    worst = max(cv(e) for row in g.error for e in row)
    lg = float(ctx.log10(norm / worst)) if worst else math.inf
    return round(min(lf, lg), 1)


def _agreement_digits(g1, f1, g2, f2) -> float:
    """-log10 of the largest difference between two engines, relative as in _digits_reached."""
    ctx = _precision.context((g1.precision.dps or 15) + 20)
    cv = ctx.convert
    norm = ctx.sqrt(ctx.fsum(cv(x) ** 2 for row in g1.value for x in row))
    dg = max(abs(cv(a) - cv(b)) for ra, rb in zip(g1.value, g2.value)
             for a, b in zip(ra, rb)) / norm
    df = abs(cv(f1.value) - cv(f2.value)) / abs(cv(f1.value))
    worst = max(dg, df)
    return round(float(-ctx.log10(worst)), 1) if worst else math.inf


def bench_hp50_step_ms_n3d2(repeat: int = 5, compare: bool = True) -> dict:
    """One 50-digit GD step (gradient + loss + update), n = 3, d = 2, overlapping components
    (bench (b)'s configuration and precision: dps 50, 40 digits): Arb kernel, warm (rules cached,
    ladder level known), median of ``repeat``; with ``compare``, today's mpmath path
    (model.Evaluator) in the same call, warm, once."""
    c = [[0.15, 0.05], [-0.1, 0.12], [0.03, -0.15]]
    prec = Precision(40, 0, 10, 50, "mpmath")
    cx = model.check_params(c)
    eta = _precision.context(50).mpf("0.1")

    def step(ev):
        g, f = ev.grad(cx, "direct", with_loss=True)
        new = [[a - eta * b for a, b in zip(r, gr)] for r, gr in zip(cx, g.value)]
        return new, g, f

    ev = ArbEvaluator(prec)
    t_cold, _ = _median_ms(lambda: step(ArbEvaluator(prec)), 1)
    step(ev)
    ms, (_, g, f) = _median_ms(lambda: step(ev), repeat)
    cpu = _LAST_CPU_MS[0]
    out = {"hp50_step_ms_n3d2": ms, "cpu_ms": cpu, "cold_ms": t_cold,
           "digits": _digits_reached(g, f),
           "rule": g.rule.get("rule"), "nodes": g.rule.get("evaluated_nodes"),
           "target_ms": 30.0, "met": ms <= 30.0, "met_cpu": cpu <= 30.0}
    if compare:
        evm = model.Evaluator(prec)
        step(evm)
        ms_m, (_, gm, fm) = _median_ms(lambda: step(evm), 1)
        out.update({"mpmath_step_ms": ms_m, "ratio_vs_mpmath": ms_m / ms,
                    "mpmath_cpu_ms": _LAST_CPU_MS[0], "cpu_ratio_vs_mpmath": _LAST_CPU_MS[0] / cpu,
                    "mpmath_digits": _digits_reached(gm, fm),
                    "agreement_digits": _agreement_digits(g, f, gm, fm),
                    "mpmath_rule": gm.rule.get("rule")})
    return out


def bench_hp50_lossgrad_ms_n2(repeat: int = 5, compare: bool = True) -> dict:
    """Loss + direct gradient at 50 significant digits, n = 2, d = 2 separated (bench (a)'s
    configuration; a 1-D split rule): Arb kernel, warm, median of ``repeat``; with ``compare``,
    the naive baseline (naive.naive_loss_and_gradient: one mpmath.quad per quantity at dps 50,
    whose accuracy is bounded by its working precision, ~1e-50) and today's mpmath path
    (model.Evaluator at the same digits), in the same call."""
    c = [["0.9", "-0.3"], ["-0.6", "0.5"]]
    cx = model.check_params(c)
    prec = model._resolve_precision(cx, 50, None, "mpmath", model._scale_digits(cx))
    ev = ArbEvaluator(prec)
    t_cold, _ = _median_ms(lambda: ArbEvaluator(prec).grad(cx, "direct", with_loss=True), 1)
    ev.grad(cx, "direct", with_loss=True)
    ms, (g, f) = _median_ms(lambda: ev.grad(cx, "direct", with_loss=True), repeat)
    cpu = _LAST_CPU_MS[0]
    out = {"hp50_lossgrad_ms_n2": ms, "cpu_ms": cpu, "cold_ms": t_cold,
           "digits": _digits_reached(g, f),
           "max_error": float(max(f.error, g.max_error())), "rule": g.rule.get("rule"),
           "nodes": g.rule.get("evaluated_nodes")}
    if compare:
        from verify.naive import naive_loss_and_gradient
        ms_n, (vals, nerr) = _median_ms(lambda: naive_loss_and_gradient(c, 50), 1)
        cpu_n = _LAST_CPU_MS[0]
        diffs = [abs(vals[0] - f.value)] + [abs(vals[1 + 2 * i + j] - g.value[i][j])
                                            for i in range(2) for j in range(2)]
        evm = model.Evaluator(prec)
        evm.grad(cx, "direct", with_loss=True)
        ms_m, (gm, fm) = _median_ms(lambda: evm.grad(cx, "direct", with_loss=True), 1)
        out.update({"naive_quad_ms_n2": ms_n, "ratio_vs_naive": ms_n / ms,
                    "naive_cpu_ms": cpu_n, "cpu_ratio_vs_naive": cpu_n / cpu,
                    "naive_error_estimate": float(nerr),
                    "naive_accuracy_bound": 10.0 ** -50,   # dps 50 bounds what it can resolve
                    "max_difference_vs_naive": float(max(diffs)),
                    "mpmath_ms": ms_m, "ratio_vs_mpmath": ms_m / ms,
                    "mpmath_cpu_ms": _LAST_CPU_MS[0], "cpu_ratio_vs_mpmath": _LAST_CPU_MS[0] / cpu,
                    "mpmath_digits": _digits_reached(gm, fm),
                    "agreement_digits": _agreement_digits(g, f, gm, fm),
                    "target_ratio": 50.0, "met": ms_n / ms >= 50.0})
    return out
