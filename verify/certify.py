"""Certified enclosures for claim `thm3.1` (SPEC §3, §4): Arb ball arithmetic through python-flint.

Everything here is a proof by computation: each returned ``arb`` ball contains the exact value,
with every rounding error, quadrature error (``acb.integral``, rigorous for analytic integrands)
and truncation error (an explicit Gaussian tail bound) inside its radius.  The mpmath engine
(:mod:`verify.model`) stays the reference implementation; the tests compare the two.

The one integrand (SPEC §2, centred coordinates).  Base configuration S(s): c_1 = s e_1,
c_2 = -s e_1, c_k = 0 (k >= 3) in R^d; a direction u (n x d); t a perturbation parameter.  The
Taylor coefficients in t of |v(y; S(s) + t u)|^2 are built with series arithmetic (order 2):
logits l_i(t) = l_i + a_i t + b_i t^2, a_i = <y, u_i> - <c_i, u_i>, b_i = -|u_i|^2 / 2, and with
p_i = a_i, q_i = b_i + a_i^2/2, P = sum_j w_j p_j, Q = sum_j w_j q_j (sum_j w_j = 1):
    w_i(t) = w_i [1 + (p_i - P) t + (q_i - p_i P + P^2 - Q) t^2 + O(t^3)],
    v(t) = sum_i w_i(t) (c_i + t u_i),   |v|^2 = k0 + k1 t + k2 t^2 + O(t^3).
So F = E[k0], the directional derivative D_u F = E[k1], and u^T H u = 2 E[k2] (differentiation
under E by dominated convergence: every coefficient is bounded by a polynomial in |y|).

Reduction to one dimension: at S(s) the weights depend on y only through z = y_1.  The t^k
coefficient is a polynomial of degree <= k in the off-axis coordinates y_2..y_d (a_i is linear in
them, b_i constant), so for k <= 3 its expectation over y_2..y_d ~ N(0, I) is given exactly by the
2-point Gauss-Hermite product rule y_j = +-1; the integrand uses the same expectation in closed
form (:func:`_series`: O(1) ball operations per node whatever n and d; the generic series of
:func:`_coefficients` averaged over that rule is its reference in the tests).  What remains is a
1-D integral over z:
``acb.integral`` on [-T, T] (split at the softmax transitions z = 0, +-(s/2 + log(n-2)/s)), plus a
rigorous tail bound: the same formulas evaluated in "majorant" arithmetic (each quantity replaced by
a polynomial in r = 1 + |z| with nonnegative coefficients bounding its modulus, |w_i| <= 1) give
|k_j(z)| <= sum_m M_m (1 + |z|)^m, and for T >= 1
    int_{|z| > T} (1 + |z|)^m phi(z) dz <= 2 (1 + 1/T)^m I_m(T),
    I_0 <= phi(T)/T (Mills),  I_1 = phi(T),  I_m = T^{m-1} phi(T) + (m - 1) I_{m-2}.
The integrand is meromorphic in z (poles where 2 cosh(sz) + (n-2) e^{s^2/2} = 0, at distance
pi/s from the real axis; no branch cuts), so Arb's analyticity test is automatic.

Working precision is local (``flint.ctx.workprec``), never left changed.  The quadrature's
arithmetic carries _GUARD bits beyond the requested precision (its goals and limits stay those of
the requested precision), so its rounding adds little to the radius.
"""
from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any, Callable, Sequence

from flint import acb, arb, ctx as _fctx, fmpq

__all__ = ["Ball", "directional", "loss_L", "stationarity_G", "stationarity_G_prime",
           "certify_stationary", "curvature", "certify_saddle", "hessian_blocks_approx",
           "choose_directions", "enclosure_strings", "bench_acb_lossgrad_n2"]


# ------------------------------------------------------------------------------------------------
# Helpers: precision, exact constants, decimal strings
# ------------------------------------------------------------------------------------------------

def _exact(x) -> arb:
    """An arb containing x: ints and Fractions exactly (or outward rounded), arb unchanged,
    decimal strings parsed by Arb (outward rounded)."""
    if isinstance(x, arb):
        return x
    if isinstance(x, Fraction):
        return arb(fmpq(x.numerator, x.denominator))
    if isinstance(x, int):
        return arb(x)
    if isinstance(x, float):
        return arb(x)          # a double is an exact binary number
    return arb(str(x))


def enclosure_strings(x: arb, digits: int | None = None) -> tuple[str, str]:
    """(lo, hi) decimal strings with lo <= every point of the ball <= hi (outward rounded).

    ``digits`` significant digits (default: the ball's relative accuracy + 3, at least 8)."""
    if digits is None:
        acc = x.rel_accuracy_bits()
        digits = max(8, min(80, int(acc * 0.30103) + 3)) if acc > 0 else 8
    with _fctx.workprec(max(64, x.mid().bits() + 16, int(digits * 3.33) + 16)):
        return (_round_dec(x, x.lower(), digits, down=True),
                _round_dec(x, x.upper(), digits, down=False))


def _round_dec(x: arb, v: arb, digits: int, down: bool) -> str:
    """A decimal string q near v with q <= every point of x (down) or q >= every point (up);
    called inside a working precision that holds x."""
    from decimal import Decimal, localcontext
    if v.is_zero() and ((down and x >= 0) or (not down and x <= 0)):
        return "0"
    dec = Decimal(v.mid().str(digits, radius=False).replace("e", "E"))
    ulp = Decimal(1).scaleb(dec.adjusted() - digits + 1)
    with localcontext() as dctx:
        dctx.prec = digits + 10
        for _ in range(20):
            q = arb(str(dec))
            if (down and q <= x) or (not down and q >= x):
                return str(dec)
            dec = dec - ulp if down else dec + ulp
    raise ArithmeticError("could not round outward")


_GUARD = 16     # extra bits for the quadrature's arithmetic in directional (not its goal)


def _bits_for_digits(digits: int) -> int:
    return int(math.ceil(digits * 3.3219280948873626)) + 32


# ------------------------------------------------------------------------------------------------
# Majorant arithmetic for the tail bound
# ------------------------------------------------------------------------------------------------

class _Maj:
    """An upper bound of |f(z)|, |z| >= 1, as a polynomial in r = 1 + |z| with nonnegative arb
    coefficients.  Sums and differences add bounds; products multiply polynomials."""

    __slots__ = ("c",)

    def __init__(self, coeffs):
        self.c = list(coeffs)

    @staticmethod
    def const(x) -> "_Maj":
        return _Maj([_exact(x).abs_upper()])

    def _other(self, o) -> "_Maj":
        return o if isinstance(o, _Maj) else _Maj.const(o)

    def __add__(self, o):
        o = self._other(o)
        n = max(len(self.c), len(o.c))
        a = self.c + [arb(0)] * (n - len(self.c))
        b = o.c + [arb(0)] * (n - len(o.c))
        return _Maj([(x + y).abs_upper() for x, y in zip(a, b)])

    __radd__ = __add__
    __sub__ = __add__
    __rsub__ = __add__

    def __neg__(self):
        return self

    def __mul__(self, o):
        o = self._other(o)
        out = [arb(0)] * (len(self.c) + len(o.c) - 1)
        for i, x in enumerate(self.c):
            for j, y in enumerate(o.c):
                out[i + j] = (out[i + j] + x * y).abs_upper()
        return _Maj(out)

    __rmul__ = __mul__


def _tail_bound(maj: _Maj, T: arb) -> arb:
    """Upper bound of int_{|z|>T} sum_m M_m (1+|z|)^m phi(z) dz (T >= 1), see the module doc."""
    phi = (-(T * T) / 2).exp() / (2 * arb.pi()).sqrt()
    I = [phi / T, phi]
    for m in range(2, len(maj.c)):
        I.append(T ** (m - 1) * phi + (m - 1) * I[m - 2])
    total = arb(0)
    for m, Mm in enumerate(maj.c):
        total += 2 * Mm * (1 + 1 / T) ** m * I[m]
    return total.abs_upper()


# ------------------------------------------------------------------------------------------------
# The series integrand
# ------------------------------------------------------------------------------------------------

def _coefficients(w, c1, u, y, one, half, mult=None):
    """(k0, k1, k2): Taylor coefficients in t of |v(y; c + t u)|^2 (module doc).

    w: weights at t = 0, one per group of identical components; c1: their e_1 coordinates (the
    other coordinates are 0); u: their rows of the direction (d entries each); mult: how many
    components each group stands for (default 1 each); y: length-d point; one, half: ring
    constants.  Generic over the ring: directional evaluates it in majorant arithmetic for the
    tail bound; in ball arithmetic it is the reference of the closed form in :func:`_series`."""
    n, d = len(u), len(y)
    mult = mult or [1] * n
    a = []
    b = []
    for i in range(n):
        ai = y[0] * u[i][0] - c1[i] * u[i][0]
        for k in range(1, d):
            if u[i][k] != 0:
                ai = ai + y[k] * u[i][k]
        a.append(ai)
        b.append(-(half * sum((x * x for x in u[i][1:]), u[i][0] * u[i][0])))
    mw = [w[i] * mult[i] if mult[i] != 1 else w[i] for i in range(n)]
    P = mw[0] * a[0]
    Q = mw[0] * (b[0] + half * a[0] * a[0])
    for i in range(1, n):
        P = P + mw[i] * a[i]
        Q = Q + mw[i] * (b[i] + half * a[i] * a[i])
    w1 = [mw[i] * (a[i] - P) for i in range(n)]
    w2 = [mw[i] * ((b[i] + half * a[i] * a[i]) - a[i] * P + P * P - Q) for i in range(n)]
    v0 = [None] * d
    v1 = [None] * d
    v2 = [None] * d
    for k in range(d):
        s0 = s1 = s2 = None
        for i in range(n):
            ci = c1[i] if k == 0 else 0
            t0 = mw[i] * ci if ci != 0 else None
            t1 = (w1[i] * ci if ci != 0 else None)
            t1 = _plus(t1, mw[i] * u[i][k] if u[i][k] != 0 else None)
            t2 = (w2[i] * ci if ci != 0 else None)
            t2 = _plus(t2, w1[i] * u[i][k] if u[i][k] != 0 else None)
            s0, s1, s2 = _plus(s0, t0), _plus(s1, t1), _plus(s2, t2)
        v0[k], v1[k], v2[k] = s0, s1, s2
    k0 = k1 = k2 = None
    for k in range(d):
        k0 = _plus(k0, _times(v0[k], v0[k]))
        k1 = _plus(k1, _times(2 * one, _times(v0[k], v1[k])))
        k2 = _plus(k2, _plus(_times(2 * one, _times(v0[k], v2[k])), _times(v1[k], v1[k])))
    zero = one - one
    return (k0 if k0 is not None else zero, k1 if k1 is not None else zero,
            k2 if k2 is not None else zero)


def _groups(u):
    """Rows 0 and 1 on their own; rows 2.. (the components at the target, c_k = 0) grouped by
    equal direction rows: the integrand sums over a group's members are equal terms."""
    rows, mult = [u[0], u[1]], [1, 1]
    seen: dict = {}
    for row in u[2:]:
        key = tuple(row)
        if key in seen:
            mult[seen[key]] += 1
        else:
            seen[key] = len(rows)
            rows.append(row)
            mult.append(1)
    return rows, mult


def _plus(x, y):
    if x is None:
        return y
    if y is None:
        return x
    return x + y


def _times(x, y):
    if x is None or y is None:
        return None
    return x * y


def _offaxis_points(u, d):
    """The 2-point Gauss-Hermite product rule on the off-axis coordinates that u uses (the
    reference for the closed-form expectation of :func:`_series`; the tests use it)."""
    used = [k for k in range(1, d) if any(row[k] != 0 for row in u)]
    pts = [[0] * d]
    for k in used:
        pts = [p[:k] + [sg] + p[k + 1:] for p in pts for sg in (1, -1)]
    return pts


def _weights(s, z, n, groups, K=None):
    """w_1, w_2 and w_k (k >= 3, once per group) at S(s).  With E = e^{-s|z|} (|z| read as z or
    -z by the sign of the ball's centre; both are the same analytic function) and K = e^{s^2/2}:
    the larger of w_1, w_2 is 1/(1 + E^2 + (n-2) K E), the smaller E^2 times it, w_k = K E times
    it.  Written this way no factor grows with |z|, which keeps balls in s tight.  ``K``: the
    enclosure of e^{s^2/2} when the caller already holds it (it does not depend on z)."""
    pos = z.real.mid() >= 0
    E = (-(s * z) if pos else s * z).exp()
    if K is None:
        K = (s * s / 2).exp()
    EE, KE = E * E, K * E
    big = 1 / (1 + EE + (n - 2) * KE)
    small = EE * big
    wk = KE * big
    return ([big, small] if pos else [small, big]) + [wk] * groups


def _as_rows(u, n, d):
    rows = [[_frac(x) for x in row] for row in u]
    if len(rows) != n or any(len(r) != d for r in rows):
        raise ValueError(f"u must be an {n} x {d} array")
    return rows


def _frac(x):
    if isinstance(x, (int, Fraction, arb)):
        return x
    if isinstance(x, float):
        return Fraction(x)
    return Fraction(str(x))


def _series(s: arb, u, order: int):
    """The integrand's z-dependence in closed form: a function (z, w_1, w_2, w_k) -> E_perp[k_order]
    at y_1 = z, the exact expectation over the off-axis coordinates y_2..y_d ~ N(0, I) (equal
    to the 2-point Gauss-Hermite average of :func:`_coefficients`, which stays the reference).

    The components k >= 3 share c_k = 0 and w_k, so their sums enter only through the exact
    constants S_1 = sum u_k1, S_2 = sum u_k1^2, B = -sum |u_k|^2 / 2, U = sum u_k,perp and
    D = sum |u_k,perp|^2 (k >= 3): each evaluation costs O(1) ball operations for every n and d.
    With alpha_i = (z - c_i1) u_i1, beta_i = <y_perp, u_i,perp> (so a_i = alpha_i + beta_i),
    E beta_i = 0 and E beta_i beta_j = C_ij = <u_i,perp, u_j,perp>; k0 and k1 are of degree <= 1
    in beta (their expectation is their value at beta = 0), and k2 is of degree 2, whence two
    exact corrections to its value at beta = 0 (V0 = s (w_1 - w_2), V1perp = sum_j w_j u_j,perp):
        E[V1_1^2] - V1_1(alpha)^2 = |sum_i lambda_i u_i,perp|^2,  lambda_i = w_i (c_i1 - V0),
        E[w2_i] - w2_i(alpha) = w_i (C_ii/2 - <u_i,perp, V1perp> + |V1perp|^2 - sum_j w_j C_jj/2).
    ``u`` rows: exact numbers (int, Fraction) or arb; the constants are formed exactly when the
    entries are rational and rounded once to the working precision (balls in any case)."""
    exact = not any(isinstance(x, arb) for row in u for x in row)

    def num(x):
        return x if exact else _exact(x)

    rows = [[num(x) for x in row] for row in u]
    zero = Fraction(0) if exact else arb(0)

    def dot(x, y):
        return sum((a * b for a, b in zip(x, y)), zero)

    r0, r1, rest = rows[0], rows[1], rows[2:]
    perp = [r[1:] for r in rows]
    Up = [sum((p[j] for p in perp[2:]), zero) for j in range(len(r0) - 1)]
    const = {
        "u0": r0[0], "u1": r1[0],
        "S1": sum((r[0] for r in rest), zero), "S2": sum((r[0] * r[0] for r in rest), zero),
        "b0": -dot(r0, r0) / 2, "b1": -dot(r1, r1) / 2,
        "B": -sum((dot(r, r) for r in rest), zero) / 2,
        "g00": dot(perp[0], perp[0]), "g01": dot(perp[0], perp[1]), "g0U": dot(perp[0], Up),
        "g11": dot(perp[1], perp[1]), "g1U": dot(perp[1], Up), "gUU": dot(Up, Up),
        "D": sum((dot(p, p) for p in perp[2:]), zero)}
    has_rest = any(const[k] != 0 for k in ("S1", "S2", "B"))
    has_perp = any(x != 0 for p in perp for x in p)
    c = {k: _exact(v) for k, v in const.items()}
    u0, u1, S1, S2, b0, b1, B = (c[k] for k in ("u0", "u1", "S1", "S2", "b0", "b1", "B"))
    g00, g01, g0U, g11, g1U, gUU, D = (c[k] for k in ("g00", "g01", "g0U", "g11", "g1U", "gUU",
                                                        "D"))
    half = arb(1) / 2
    hS2 = S2 * half
    s = _exact(s)

    def k_order(z, w0, w1, wk):
        V0 = s * (w0 - w1)
        if order == 0:
            return V0 * V0
        a0 = (z - s) * u0
        a1 = (z + s) * u1
        P = w0 * a0 + w1 * a1
        if has_rest:
            P += wk * z * S1
        d0 = a0 - P
        d1 = a1 - P
        V1 = s * (w0 * d0 - w1 * d1) + w0 * u0 + w1 * u1
        if has_rest:
            V1 += wk * S1
        if order == 1:
            return 2 * V0 * V1
        h0 = b0 + a0 * a0 * half
        h1 = b1 + a1 * a1 * half
        Q = w0 * h0 + w1 * h1
        if has_rest:
            Q += wk * (B + z * z * hS2)
        cm = P * P - Q
        V2 = s * (w0 * (h0 - a0 * P + cm) - w1 * (h1 - a1 * P + cm)) + w0 * d0 * u0 + w1 * d1 * u1
        if has_rest:
            V2 += wk * (z * S2 - P * S1)
        k2 = 2 * V0 * V2 + V1 * V1
        if has_perp:
            x0 = g00 * w0 + g01 * w1 + g0U * wk          # <u_1,perp, V1perp>
            x1 = g01 * w0 + g11 * w1 + g1U * wk          # <u_2,perp, V1perp>
            xU = g0U * w0 + g1U * w1 + gUU * wk          # <U, V1perp>
            N = w0 * x0 + w1 * x1 + wk * xU              # |V1perp|^2
            e = N - (w0 * g00 + w1 * g11 + wk * D) * half
            corr_w2 = 2 * V0 * s * (w0 * (g00 * half - x0 + e) - w1 * (g11 * half - x1 + e))
            l0 = w0 * (s - V0)
            l1 = -(w1 * (s + V0))
            lU = -(wk * V0)
            corr_v1 = (l0 * l0 * g00 + l1 * l1 * g11 + lU * lU * gUU
                       + 2 * (l0 * l1 * g01 + l0 * lU * g0U + l1 * lU * g1U))
            k2 += N + corr_w2 + corr_v1
        return k2

    return k_order


def _integrand(n: int, s: arb, u, order: int) -> Callable:
    """The integrand of :func:`directional` for acb.integral, f(z, analytic) = factor x
    E_perp[k_order](z) phi(z) (factor 2 for order 2), at the current working precision.  The
    expectation over the off-axis coordinates in closed form (_series); e^{s^2/2} and the constant
    factors formed once, not per node.  At a real node (the Gauss-Legendre nodes: imaginary part
    exactly 0) the value is real and is computed in real balls (cheaper); complex balls elsewhere
    (the integrator's error bounds on complex neighbourhoods)."""
    series = _series(s, u, order)
    K = (s * s / 2).exp()
    sa, Ka = acb(s), acb(K)
    scale = (2 if order == 2 else 1) / (2 * arb.pi()).sqrt()
    mhalf = -arb(1) / 2

    def f(z, analytic):
        if z.imag.is_zero():
            x = z.real
            w = _weights(s, x, n, 1, K)
            return acb(series(x, w[0], w[1], w[2]) * scale * (x * x * mhalf).exp())
        w = _weights(sa, z, n, 1, Ka)
        return series(z, w[0], w[1], w[2]) * scale * (z * z * mhalf).exp()

    return f


def directional(n: int, d: int, s, u: Sequence[Sequence], order: int, prec: int,
                T: float | None = None) -> tuple[arb, dict]:
    """Enclosure of d^order/dt^order F(S(s) + t u) at t = 0 (order 0, 1 or 2).

    s: arb ball (or exact number); u: n x d entries (ints, Fractions, decimal strings, floats as
    exact binaries, or arb); prec: working precision in bits.  Returns (arb, info) with info =
    {"tail": bound added, "T": truncation, "seconds": ...}."""
    if n < 3:
        raise ValueError(f"n must be >= 3 for the stationary configuration, got {n}")
    if order not in (0, 1, 2):
        raise ValueError(f"order must be 0, 1 or 2, got {order}")
    t0 = time.perf_counter()
    u = _as_rows(u, n, d)
    with _fctx.workprec(prec + _GUARD):
        s = _exact(s)              # a decimal string is rounded with the guard bits too
    with _fctx.workprec(prec):
        rows, mult = _groups(u)
        ng = len(rows) - 2
        ua = [[(_exact(x) if x != 0 else 0) for x in row] for row in rows]
        half = arb(1) / 2
        factor = 2 if order == 2 else 1
        if T is None:
            T = math.ceil(math.sqrt(2 * prec * math.log(2)) + 3)
        Ta = arb(T)
        sm = float(s.mid())
        cuts = [0.0]
        tr = sm / 2 + math.log(n - 2) / sm if n > 2 else 0.0
        if 0 < tr < T:
            cuts = [-tr, 0.0, tr]
        edges = [-float(T)] + cuts + [float(T)]
        # the integrator's goals and work limits are those of ``prec`` (Arb's defaults, spelled
        # out), its arithmetic and the integrand's (constants included) carry _GUARD more bits:
        # the same nodes and subdivision, with rounding radii ~2^-_GUARD of those at ``prec``
        tol = arb(2) ** (-prec)
        limits = dict(rel_tol=tol, abs_tol=tol, deg_limit=int(0.5 * prec + 60),
                      eval_limit=1000 * prec + prec * prec, depth_limit=2 * prec)
        val = acb(0)
        with _fctx.workprec(prec + _GUARD):
            f = _integrand(n, s, u, order)
            for lo, hi in zip(edges, edges[1:]):
                val += acb.integral(f, acb(lo), acb(hi), **limits)
        # the tail: majorant of the same coefficient with |w_i| <= 1, |z| <= r, |y_j| <= 1 (it
        # bounds k at every Gauss-Hermite point y_j = +-1, so their average, which _series equals)
        M = _Maj.const
        ones = [M(1)] * len(rows)
        cm = [M(s), M(s)] + [0] * ng
        um = [[(M(x) if x != 0 else 0) for x in row] for row in ua]
        ym = [_Maj([arb(0), arb(1)])] + [M(1)] * (d - 1)
        kmaj = _coefficients(ones, cm, um, ym, M(1), M(half), mult)[order]
        kmaj = kmaj if isinstance(kmaj, _Maj) else M(kmaj)
        tail = _tail_bound(kmaj * M(factor), Ta)
        if not val.imag.contains(0):
            raise ArithmeticError("imaginary part of a real integral excludes 0")
        out = val.real + arb(0, tail)
    return out, {"tail": tail, "T": T, "seconds": time.perf_counter() - t0, "prec": prec}


def _family(n: int) -> list[list[int]]:
    """u = d/ds S(s) = (e_1, -e_1, 0, ...) (d = 1)."""
    return [[1], [-1]] + [[0]] * (n - 2)


def loss_L(n: int, s, prec: int = 128) -> arb:
    """L(s) = F(S(s)) (d = 1 suffices: F does not depend on d at S(s))."""
    return directional(n, 1, s, [[0]] * n, 0, prec)[0]


def stationarity_G(n: int, s, prec: int = 128) -> arb:
    """G(s) = e_1 . grad_{c_1} F at S(s) = L'(s)/2 (proofs.stationary: grad_{c_2} F = -G e_1,
    grad_{c_k} F = 0, so L'(s) = grad F . (e_1, -e_1, 0, ...) = 2 G)."""
    val = directional(n, 1, s, _family(n), 1, prec)[0]
    with _fctx.workprec(prec):
        return val / 2


def stationarity_G_prime(n: int, s, prec: int = 64) -> arb:
    """G'(s) = L''(s)/2, for s a ball: an enclosure of G' over the whole ball."""
    val = directional(n, 1, s, _family(n), 2, prec)[0]
    with _fctx.workprec(prec):
        return val / 2


# ------------------------------------------------------------------------------------------------
# thm3.1: existence, uniqueness in a bracket, location (interval Newton), L(s*) > 0
# ------------------------------------------------------------------------------------------------

def _ball(lo, hi) -> arb:
    lo, hi = _exact(lo), _exact(hi)
    return (lo + hi) / 2 + arb(0, ((hi - lo) / 2).abs_upper())


def _memo(fn: Callable) -> Callable:
    """fn(n, s, prec) remembered for exact s (Fractions, exact arb balls; non-exact balls pass
    through): repeated calls (bracket ends that are scan points, Newton iterates that stopped
    moving) are computed once, with the same result."""
    seen: dict = {}

    def g(n, s, prec):
        if isinstance(s, arb) and not s.is_exact():
            return fn(n, s, prec)
        key = (n, type(s).__name__, s, prec)
        if key not in seen:
            seen[key] = fn(n, s, prec)
        return seen[key]

    return g


def certify_stationary(n: int, digits: int = 40, scan_step: Fraction = Fraction(1, 4),
                       piece: Fraction = Fraction(1, 64), wide: bool = False, G_func: Callable | None = None,
                       Gp_func: Callable | None = None) -> dict:
    """Certify the stationary scale s* of S(s) for this n.

    1. Scan G at 64 bits on s = k * scan_step (k = 1..24): the first cell [a, b] where the
       enclosures have opposite strict signs.
    2. Uniqueness: cover the largest sub-bracket [lo, hi] of [a, b] (of the whole scan range with
       ``wide``) around the root by pieces of width ``piece`` x 4, 2, 1, growing outwards from
       the approximate root, on each of which the enclosure of G' is < 0; G(lo) > 0 > G(hi) is
       checked at its ends.
    3. Location: Newton with midpoints to about digits + 10 digits, then one interval-Newton step
       N(X) = m - G(m)/G'(X) on X = [m - r, m + r]: N(X) inside the interior of X proves a root
       in X (unique there), and s* is in N(X).
    4. L(s*) on the enclosure of s*, shown > 0.
    G_func/Gp_func replace G and G' (tests: a wrong integrand must fail).

    Returns a dict of arb balls and decisions; ``certified`` is False with ``reason`` when any
    step fails (never a wide ball presented as a proof)."""
    G = _memo(G_func or stationarity_G)
    Gp = _memo(Gp_func or stationarity_G_prime)
    t0 = time.perf_counter()
    prec = _bits_for_digits(digits + 15)
    out: dict[str, Any] = {"n": n, "digits": digits, "prec_bits": prec, "certified": False,
                           "reason": "", "timings": {}}
    # 1. scan
    grid = [scan_step * k for k in range(1, 25)]
    cell = None
    prev = None
    for x in grid:
        g = G(n, x, 64)
        if prev is not None and prev[1] > 0 and g < 0:
            cell = (prev[0], x)
            break
        prev = (x, g)
    out["timings"]["scan"] = time.perf_counter() - t0
    if cell is None:
        out["reason"] = (f"no certified sign change + -> - of G on s = {float(grid[0])}.."
                         f"{float(grid[-1])}")
        return out
    a, b = cell
    # approximate root by Newton with midpoints at 64 bits (starting at the cell's centre)
    t1 = time.perf_counter()
    with _fctx.workprec(64):
        m = _exact(Fraction(a + b) / 2).mid()
    for _ in range(30):
        step = (G(n, m, 64).mid() / Gp(n, m, 64).mid())
        m = (m - step).mid()
        if abs(float(step)) < 1e-12:
            break
    if not (float(a) < float(m) < float(b)):
        out["reason"] = f"Newton from the centre of the cell [{a}, {b}] left the cell"
        return out
    # 2. uniqueness: grow a bracket outwards from the piece containing m, in steps of width
    # ``piece`` * 8 halved (down to ``piece``) where the enclosure of G' fails to be < 0
    k0 = int(math.floor((float(m) - float(a)) / float(piece)))
    encs: list[arb] = []

    def neg_on(lo_k, hi_k):
        e = Gp(n, _ball(lo_k, hi_k), 64)
        if e < 0:
            encs.append(e)
            return True
        return False

    lo_b, hi_b = a + piece * k0, a + piece * (k0 + 1)
    if not neg_on(lo_b, hi_b):
        out["reason"] = "G' not enclosed below 0 on the piece containing the root"
        return out
    floor_s, ceil_s = (grid[0], grid[-1]) if wide else (a, b)
    for side in (-1, 1):
        W = piece * 4
        while W >= piece:
            if side < 0:
                if lo_b - W < floor_s:
                    W /= 2
                    continue
                if neg_on(lo_b - W, lo_b):
                    lo_b -= W
                    continue
            else:
                if hi_b + W > ceil_s:
                    W /= 2
                    continue
                if neg_on(hi_b, hi_b + W):
                    hi_b += W
                    continue
            W /= 2
    G_lo, G_hi = G(n, lo_b, 64), G(n, hi_b, 64)
    # enclosure of G' on the whole bracket: the union of the pieces' enclosures
    Gp_br = encs[0]
    for e in encs[1:]:
        Gp_br = Gp_br.union(e)
    out.update({"scan_cell": (a, b), "bracket": (lo_b, hi_b), "G_lo": G_lo, "G_hi": G_hi,
                "Gp_bracket": Gp_br, "pieces": len(encs)})
    out["timings"]["bracket"] = time.perf_counter() - t1
    if not (G_lo > 0 and G_hi < 0 and Gp_br < 0):
        out["reason"] = "the bracket's end signs or G' < 0 on it could not be certified"
        return out
    # 3. location
    t2 = time.perf_counter()
    with _fctx.workprec(prec):
        m = arb(m)
    for _ in range(12):
        g = G(n, m, prec)
        step = g.mid() / Gp(n, m, 64).mid()
        with _fctx.workprec(prec):
            m = (m - step).mid()
        if abs(float(step)) < 10.0 ** (-(digits + 12)):
            break
    with _fctx.workprec(prec):
        r = arb(10) ** (-(digits + 5))
        X = m + arb(0, r)
    Gm = G(n, m, prec)
    GpX = Gp(n, X, 64)
    with _fctx.workprec(prec):
        N = m - Gm / GpX
        newton_ok = bool(GpX < 0) and bool(X.contains_interior(N))
        s_enc = N.intersection(X) if newton_ok else X
    with _fctx.workprec(prec):
        inside = bool(_exact(lo_b) < s_enc) and bool(s_enc < _exact(hi_b))
    out["timings"]["newton"] = time.perf_counter() - t2
    out.update({"X": X, "G_mid": Gm, "Gp_X": GpX, "N": N, "s": s_enc, "newton_ok": newton_ok})
    if not newton_ok or not inside:
        out["reason"] = "interval Newton step N(X) not inside X (or X not inside the bracket)"
        return out
    # 4. L(s*)
    t3 = time.perf_counter()
    L = loss_L(n, s_enc, prec)
    out["timings"]["L"] = time.perf_counter() - t3
    out["L"] = L
    rel_digits = -math.log10(max(float(s_enc.rad()), 1e-300) / float(s_enc.mid()))
    out["s_digits"] = rel_digits
    if not L > 0:
        out["reason"] = "L(s*) not enclosed above 0"
        return out
    if rel_digits < digits:
        out["reason"] = f"s* enclosed to {rel_digits:.1f} digits only (< {digits})"
        return out
    out["certified"] = True
    out["timings"]["total"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------------------------------------
# The saddle: certified curvature signs
# ------------------------------------------------------------------------------------------------

def curvature(n: int, d: int, s, u, prec: int = 96) -> arb:
    """Enclosure of u^T H u, H the Hessian of F at S(s) in R^{n x d} (s an arb ball: the
    enclosure holds for every s in it)."""
    return directional(n, d, s, u, 2, prec)[0]


def hessian_blocks_approx(n: int, s, prec: int = 53):
    """Approximate A (the e_1 block) and B (an off-axis block) of the Hessian at S(s), n x n
    floats, by polarisation of directional second derivatives (used only to choose directions;
    nothing is certified here).  The components 3..n sit at the same point, so H is invariant
    under permuting them: 7 distinct entries per block (diagonal 1, 2, k; pairs 12, 1k, 2k, kl)."""
    s = float(_exact(s).mid()) if isinstance(s, arb) else s

    def q(idx, axis):
        d = axis + 1
        u = [[0] * d for _ in range(n)]
        for i in idx:
            u[i][axis] = 1
        return float(directional(n, d, s, u, 2, prec)[0].mid())

    blocks = []
    for axis in (0, 1):
        diag = {i: q([i], axis) for i in (0, 1, 2)}

        def pair(i, j):
            return (q([i, j], axis) - diag[min(i, 2)] - diag[min(j, 2)]) / 2

        off = {(0, 1): pair(0, 1), (0, 2): pair(0, 2), (1, 2): pair(1, 2)}
        off[(2, 3)] = pair(2, 3) if n >= 4 else 0.0
        M = [[0.0] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                if i == j:
                    M[i][j] = diag[min(i, 2)]
                else:
                    a, b = sorted((i, j))
                    key = (a, b) if b < 2 else (a, 2) if a < 2 else (2, 3)
                    M[i][j] = off[key]
        blocks.append(M)
    return blocks[0], blocks[1]


def choose_directions(n: int, d: int, A, B) -> list[tuple[str, list[list[Fraction]]]]:
    """Directions u (n x d, exact dyadic entries) from the eigenvectors of the approximate
    Hessian H = A (x) e_1 e_1^T + B (x) (I - e_1 e_1^T): its most negative and most positive
    eigenvector, and for d >= 2 the most negative off-axis one (spread over e_2..e_d)."""
    import numpy as np
    ea, va = np.linalg.eigh(np.array(A))
    eb, vb = np.linalg.eigh(np.array(B))

    def dyadic(x):
        return Fraction(round(float(x) * 2 ** 20), 2 ** 20)

    def embed(vec, axes):
        u = [[Fraction(0)] * d for _ in range(n)]
        for i in range(n):
            for k in axes:
                u[i][k] = dyadic(vec[i] / math.sqrt(len(axes)))
        return u

    off = list(range(1, d))
    cands = [(ea[0], "negative", va[:, 0], [0]), (ea[-1], "positive", va[:, -1], [0])]
    if d >= 2:
        cands += [(eb[0], "negative", vb[:, 0], off), (eb[-1], "positive", vb[:, -1], off)]
    neg = min((c for c in cands if c[1] == "negative"), key=lambda c: c[0])
    pos = max((c for c in cands if c[1] == "positive"), key=lambda c: c[0])
    out = [("negative", embed(neg[2], neg[3])), ("positive", embed(pos[2], pos[3]))]
    if d >= 2:
        out.append(("negative off-axis", embed(vb[:, 0], off)))
    return out


def certify_saddle(n: int, d: int, s_enc: arb, directions, prec: int = 96) -> list[dict]:
    """u^T H u enclosures for each (label, u); 'proved' says the sign its label claims is proved
    (the enclosure of the Rayleigh quotient u^T H u / |u|^2 lies entirely on that side of 0)."""
    out = []
    for label, u in directions:
        t0 = time.perf_counter()
        q = curvature(n, d, s_enc, u, prec)
        nu = sum(x * x for row in u for x in row)
        with _fctx.workprec(prec):
            rq = q / _exact(nu)
        sign_ok = bool(rq < 0) if label.startswith("negative") else bool(rq > 0)
        out.append({"label": label, "u": u, "uHu": q, "rayleigh": rq, "proved": sign_ok,
                    "seconds": time.perf_counter() - t0})
    return out


# ------------------------------------------------------------------------------------------------
# Benchmark hook (verify.bench): one 50-digit loss + gradient for n = 2
# ------------------------------------------------------------------------------------------------

BENCH_N2 = {"c": [["0.9", "-0.3"], ["-0.6", "0.5"]], "digits": 50}   # bench (a)'s configuration


def lossgrad_n2(c, prec: int) -> tuple[arb, list[list[arb]]]:
    """F and grad F for n = 2, any d, by acb.integral: everything depends on y only through
    z = <y, e>, e = (c_1 - c_2)/|c_1 - c_2| (SPEC §2), so with c_i = alpha_i e + beta (beta the
    common orthogonal part, alpha_i = <c_i, e>): w_1 = sigma(r z - (|c_1|^2 - |c_2|^2)/2),
    r = |c_1 - c_2|, v = w_1 c_1 + w_2 c_2, and the direct gradient
    grad_{c_i} F = 2 E[w_i v + w_i (y - c_i) <c_i - v, v>]; y enters linearly in the last term,
    whose orthogonal part vanishes in expectation, so y -> z e there.  Tail bound as above
    (|w| <= 1, |v| <= max |c_i|)."""
    d = len(c[0])
    with _fctx.workprec(prec):
        C = [[_exact(_frac(x)) for x in row] for row in c]
        diff = [C[0][k] - C[1][k] for k in range(d)]
        r = sum((x * x for x in diff), arb(0)).sqrt()
        e = [x / r for x in diff]
        sq = [sum((x * x for x in row), arb(0)) for row in C]
        shift = (sq[0] - sq[1]) / 2
        norm = 1 / (2 * arb.pi()).sqrt()
        T = math.ceil(math.sqrt(2 * prec * math.log(2)) + 3)
        cmax = max(float(x.abs_upper()) for row in C for x in row)
        # |integrand| <= 2 (cm + (|z| + cm) 2 cm (2 cm)) ... a bound polynomial in r = 1 + |z|
        cm = arb(cmax) * d
        maj = _Maj([2 * cm * (1 + 4 * cm * cm), 8 * cm * cm])
        tail = _tail_bound(maj + _Maj([cm * cm]), arb(T))

        def quantities(z):
            a = (r * z - shift).exp()
            w1 = a / (1 + a)
            w2 = 1 / (1 + a)
            v = [w1 * C[0][k] + w2 * C[1][k] for k in range(d)]
            y = [z * x for x in e]
            out = [sum((x * x for x in v), acb(0))]
            for i, wi in ((0, w1), (1, w2)):
                h = sum(((C[i][k] - v[k]) * v[k] for k in range(d)), acb(0))
                out += [2 * (wi * v[k] + wi * (y[k] - C[i][k]) * h) for k in range(d)]
            return out

        cut = float((shift / r).mid())
        edges = sorted({-float(T), max(min(cut, T - 1), -T + 1), float(T)})
        vals = []
        for idx in range(1 + 2 * d):
            def f(z, analytic, idx=idx):
                return quantities(z)[idx] * norm * (-(z * z) / 2).exp()
            tot = acb(0)
            for lo, hi in zip(edges, edges[1:]):
                tot += acb.integral(f, acb(lo), acb(hi))
            vals.append(tot.real + arb(0, tail))
    return vals[0], [vals[1:1 + d], vals[1 + d:]]


def bench_acb_lossgrad_n2(repeat: int = 1) -> dict:
    """One 50-digit loss + gradient for n = 2 (BENCH_N2, the configuration of bench (a)) with
    acb.integral: the median of ``repeat`` timings in seconds, the digits the enclosures certify
    (worst relative accuracy over F and the gradient entries), the widest enclosure and the
    values (50 digits)."""
    digits = BENCH_N2["digits"]
    prec = _bits_for_digits(digits + 5)
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        F, g = lossgrad_n2(BENCH_N2["c"], prec)
        times.append(time.perf_counter() - t0)
    balls = [F] + [x for row in g for x in row]
    acc = min(b.rel_accuracy_bits() for b in balls) * 0.30103
    width = max(float(2 * b.rad()) for b in balls)
    return {"name": "acb.integral loss+gradient n=2 (50 digits)",
            "seconds": sorted(times)[len(times) // 2], "digits": round(acc, 1),
            "max_width": width, "prec_bits": prec,
            "F": F.str(digits, radius=False),
            "grad": [[x.str(digits, radius=False) for x in row] for row in g]}
