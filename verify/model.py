"""The model of SPEC §2 in centred coordinates: weights, v, the loss F, both gradient forms and
the gradient-EM direction, as Gaussian expectations with error estimates.

Notation (SPEC §2): parameters c_i in R^d (i = 1..n), y ~ N(0, I_d),
    w(y) = softmax_i(<y, c_i> - |c_i|^2 / 2),   v(y) = sum_i w_i(y) c_i,   F(c) = E|v|^2.

The weights depend on y only through its projection u = P^T y on the span of the differences
d_i = c_i - c_1 (P: d x k orthonormal, k <= min(n-1, d)), and
    <y, c_i> - |c_i|^2/2 - (<y, c_1> - |c_1|^2/2) = <u, e_i> + o_i,
    e_i = P^T d_i,  o_i = -(<c_1, d_i> + |d_i|^2 / 2),
so every expectation is a k-dimensional Gaussian integral (:mod:`verify.quadrature`).  Writing
v = c_1 + delta with delta = sum_i w_i d_i and h_i = <c_i - v, v> = <d_i - delta, v> keeps every
small quantity small: nothing is formed as a difference of two large numbers.

The direct gradient is 2 E[w_i v + w_i (y - c_i) h_i]; since E[y g(u)] = P E[u g(u)],
    grad_i F = 2 (E[w_i v] + P E[u w_i h_i] - c_i E[w_i h_i]).
The Stein form (SPEC §2, the paper's Lemma 2.2) and the EM direction E[w_i (y - c_i)] =
P E[u w_i] - c_i E[w_i] are computed from their own integrands, independently.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from verify import precision as _precision
from verify import quadrature as _quadrature
from verify.precision import Precision, exact
from verify.quadrature import (Arith, Float64RangeError, Geometry, InaccurateError, Integrator,
                               Tolerance, groups_measure, log10_abs)

FORMS = ("direct", "stein")
DEFAULT_DIGITS = 30
# What "digits" of a gradient-like quantity (gradient, EM direction) are counted against:
# "quantity": every component relative to the whole quantity's Frobenius norm (what a GD step
# needs); "per-mean": each mean's block (grad_{c_i}, a d-vector) relative to its own norm, so a far
# mean's ~e^{-r^2/8} gradient gets its own significant digits.
ACCURACY = ("quantity", "per-mean")
# How often the policy raises the working precision when rounding, not the rule, held a value
# below the digits asked (each raise adds the digits that were missing, plus guard digits).
ESCALATIONS = 8

# ---------------------------------------------------------------------------------------------
# Input checking
# ---------------------------------------------------------------------------------------------


def _as_sequence(x, name: str, what: str) -> list:
    """``x`` as a list; strings, mappings and sets are refused (a string is not a vector of its
    characters: ['10', '20'] must not mean the means (1, 0) and (2, 0))."""
    if isinstance(x, (str, bytes, bytearray)):
        raise ValueError(f"{name} must be {what}, got the string {x!r:.60}")
    if isinstance(x, (dict, set, frozenset)):
        raise ValueError(f"{name} must be {what}, got a {type(x).__name__}")
    try:
        return list(x)
    except TypeError:
        raise ValueError(f"{name} must be {what}, got {type(x).__name__}") from None


def check_params(c, name: str = "params", min_n: int = 2) -> list[list]:
    """Validate n >= min_n vectors of one length d >= 1 with finite entries; exact mpf copies.

    Each vector is a sequence of numbers (int, float, mpf, decimal string); a string in place of
    a vector raises ValueError naming it."""
    rows = [_as_sequence(ci, f"{name}[{i}]", "a vector (a sequence of numbers)")
            for i, ci in enumerate(_as_sequence(c, name, "a sequence of n vectors"))]
    if len(rows) < min_n:
        raise ValueError(f"{name} needs n >= {min_n} vectors, got n = {len(rows)}")
    d = len(rows[0])
    if d < 1:
        raise ValueError(f"{name}: vectors need dimension d >= 1, got d = 0")
    for i, r in enumerate(rows):
        if len(r) != d:
            raise ValueError(f"{name}: vector {i} has length {len(r)}, expected d = {d}")
    return [[exact(x, f"{name}[{i}][{j}]") for j, x in enumerate(r)] for i, r in enumerate(rows)]


def check_vector(x, d: int, name: str) -> list:
    """Validate one vector of length d (a string in place of a vector raises ValueError)."""
    vals = _as_sequence(x, name, f"a vector of length {d}")
    if len(vals) != d:
        raise ValueError(f"{name} has length {len(vals)}, expected d = {d}")
    return [exact(v, f"{name}[{j}]") for j, v in enumerate(vals)]


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """A computed quantity with its absolute error bound.

    value/error: a number (mpf or float) or an n x d nested list; ``error`` bounds |value - exact|
    per component (rule-pair difference + Gaussian tail bound + rounding).  ok: the error meets
    the target, ``error <= 10^-(digits + spread) * |quantity|`` (the loss itself; the gradient and
    EM direction by their Frobenius norm), or where a vanishing quantity cannot be resolved, the
    absolute floor ``10^-(digits + spread) * natural scale`` -- ``rule["accuracy"]`` says which
    ("relative" / "absolute floor"), ``rule["floor"]`` the floor.  precision: what it ran at;
    rule: which quadrature produced it (nodes, level, truncation range).
    """

    value: Any
    error: Any
    precision: Precision
    rule: dict = field(default_factory=dict)
    ok: bool = True

    @property
    def dps(self) -> int | None:
        return self.precision.dps

    def max_error(self) -> float:
        if isinstance(self.error, list):
            return max(float(x) for row in self.error for x in row)
        return float(self.error)


# ---------------------------------------------------------------------------------------------
# Preparation: reduce to the span of the differences
# ---------------------------------------------------------------------------------------------


@dataclass
class Setup:
    ar: Arith
    C: np.ndarray      # (n, d) parameters
    D: np.ndarray      # (n, d) differences d_i = c_i - c_ref
    P: np.ndarray      # (d, k) orthonormal basis of span{d_i}, principal directions first
    geom: Geometry     # logits <u, e_i> + o_i
    n: int
    d: int
    ref: int = 0       # the reference component: the one nearest the target

    @property
    def k(self) -> int:
        return self.P.shape[1]

    @property
    def R(self):
        """max_i |c_i| (rounded up by a relative 2^-40): every |v(y)| is at most this."""
        R = max(self.ar.sqrt((row * row).sum()) for row in self.C)
        return R * (1 + self.ar.num(2) ** -40)


def _orthonormal_basis(D: np.ndarray, ar: Arith) -> np.ndarray:
    """Gram–Schmidt (twice) on the rows of D; a row adds a direction when its residual is more
    than the working precision's noise relative to the row itself (tiny rows count)."""
    d = D.shape[1]
    basis: list[np.ndarray] = []
    rel = ar.eps * 1e4 if ar.ctx is None else ar.eps * 2 ** 20
    for row in D:
        nrm0 = ar.sqrt((row * row).sum())
        if nrm0 == 0:
            continue
        r = row.copy()
        for _ in range(2):
            for b in basis:
                r = r - b * (r * b).sum()
        nrm = ar.sqrt((r * r).sum())
        if nrm > rel * nrm0:
            basis.append(r / nrm)
        if len(basis) == d:
            break
    if not basis:
        return ar.zeros((d, 0))
    return np.array(basis, dtype=ar.dtype).T


def _principal_rotation(E0: np.ndarray, ar: Arith) -> np.ndarray:
    """Rotation V (k x k) making the columns of E0 V principal directions, largest spread first."""
    k = E0.shape[1]
    if k <= 1:
        return np.array([[ar.num(1)]] * k, dtype=ar.dtype).reshape(k, k)
    centred = E0 - (E0.sum(axis=0) / E0.shape[0])[None, :]   # works for float and object arrays
    G = centred.T @ centred
    if ar.ctx is None:
        lam, V = np.linalg.eigh(G)
        return V[:, np.argsort(-lam)]
    ctx = ar.ctx
    lam, Q = ctx.eigsy(ctx.matrix(G.tolist()))
    order = sorted(range(k), key=lambda j: -lam[j])
    return np.array([[Q[r, j] for j in order] for r in range(k)], dtype=object)


def prepare(c_exact: list[list], prec: Precision) -> Setup:
    """Parameters at working precision, reduced to the span of their differences."""
    ar = Arith(prec)
    C = ar.array(c_exact)
    n, d = C.shape
    # The reference is the component nearest the target: v = c_ref + sum_i w_i d_i is then formed
    # without cancellation where that component dominates (a far reference would leave
    # v = 30 - 30 (1 - 1e-50) to rounding), and small differences stay exact as before.
    ref = min(range(n), key=lambda i: (C[i] * C[i]).sum())
    D = C - C[ref][None, :]
    P0 = _orthonormal_basis(np.delete(D, ref, axis=0), ar)
    E0 = D @ P0 if P0.shape[1] else ar.zeros((n, 0))
    V = _principal_rotation(E0, ar)
    P = P0 @ V if P0.shape[1] else P0
    E = D @ P if P.shape[1] else ar.zeros((n, 0))
    o = -((D * C[ref][None, :]).sum(axis=1) + (D * D).sum(axis=1) / 2)
    return Setup(ar, C, D, P, Geometry(E, o), n, d, ref)


# ---------------------------------------------------------------------------------------------
# Integrands
# ---------------------------------------------------------------------------------------------

# component blocks an integrand can produce; their sizes depend on (n, d, k)
BLOCKS = ("F", "wv", "wh", "uwh", "stein", "w", "uw")


def _block_sizes(n: int, d: int, k: int) -> dict[str, int]:
    return {"F": 1, "wv": n * d, "wh": n, "uwh": k * n, "stein": n * d, "w": n, "uw": k * n}


def _block_slices(blocks: Sequence[str], setup) -> dict[str, slice]:
    """Where each named block sits in the concatenated integrand vector (in the order given)."""
    sizes = _block_sizes(setup.n, setup.d, setup.k)
    slices, pos = {}, 0
    for b in blocks:
        slices[b] = slice(pos, pos + sizes[b])
        pos += sizes[b]
    return slices


def _softmax(L: np.ndarray, ar: Arith) -> np.ndarray:
    top = np.array([max(row) for row in L], dtype=ar.dtype) if ar.ctx is not None else L.max(axis=1)
    X = ar.exp(L - top[:, None])
    return X / X.sum(axis=1)[:, None]


def integrand(setup: Setup, blocks: Sequence[str]):
    """f(U) -> (values, magnitudes), both (m, ncomp): the requested blocks, concatenated in the
    order given, and per entry the size of the terms it was formed from (its rounding scale).

    ``f.bounds`` = (a, b) per component with |f(u)| <= a + b|u| for every u (R = max_i |c_i|,
    |v| <= R since v is a convex combination of the c_i): |v|^2 <= R^2, |w_i v_j| <= R,
    |w_i h_i| = w_i |<c_i - v, v>| <= 2R^2, the Stein integrand <= R + 8R^3, w_i <= 1, and a
    factor |u_j| <= |u| for the u-weighted blocks.  They bound the mass a truncated range omits.
    """
    C, D, geom, ar = setup.C, setup.D, setup.geom, setup.ar
    c1 = C[setup.ref]
    absc1 = ar.sqrt((c1 * c1).sum())
    normD = np.array([ar.sqrt((row * row).sum()) for row in D], dtype=ar.dtype)
    normC2 = (C * C).sum(axis=1)
    normC = np.array([ar.sqrt(x) for x in normC2], dtype=ar.dtype)
    n, d, k = setup.n, setup.d, setup.k
    R = setup.R
    zero, one = ar.num(0), ar.num(1)
    bound_of = {"F": (R * R, zero), "wv": (R, zero), "wh": (2 * R * R, zero),
                "uwh": (zero, 2 * R * R), "stein": (R + 8 * R ** 3, zero), "w": (one, zero),
                "uw": (zero, one)}
    sizes = _block_sizes(n, d, k)
    a_vec = np.concatenate([np.array([bound_of[b][0]] * sizes[b], dtype=ar.dtype) for b in blocks])
    b_vec = np.concatenate([np.array([bound_of[b][1]] * sizes[b], dtype=ar.dtype) for b in blocks])

    def f(U: np.ndarray):
        m = U.shape[0]
        if setup.k:
            L = U @ geom.e.T + geom.o[None, :]
        else:
            L = np.array([list(geom.o)] * m, dtype=ar.dtype)
        w = _softmax(L, ar)                        # (m, n)
        delta = w @ D                              # (m, d)
        v = c1[None, :] + delta                    # (m, d)
        # the array goes first in array-with-mpf arithmetic: mpf + ndarray has mpmath format the
        # whole array into an error message before numpy takes over (the same sum, at a cost)
        vabs = w @ normD + absc1                   # (m,)  >= |v|: the scale v is formed at
        out, mag = [], []
        for b in blocks:
            if b == "F":
                out.append((v * v).sum(axis=1)[:, None])
                mag.append((vabs * vabs)[:, None])
            elif b == "wv":
                out.append((w[:, :, None] * v[:, None, :]).reshape(m, -1))
                mag.append(np.repeat(w * vabs[:, None], d, axis=1))
            elif b in ("wh", "uwh"):
                h = ((D[None, :, :] - delta[:, None, :]) * v[:, None, :]).sum(axis=2)  # (m, n)
                wh = w * h
                whm = w * (normD[None, :] + (w @ normD)[:, None]) * vabs[:, None]
                if b == "wh":
                    out.append(wh)
                    mag.append(whm)
                else:
                    out.append((U[:, :, None] * wh[:, None, :]).reshape(m, -1))
                    mag.append((np.abs(U)[:, :, None] * whm[:, None, :]).reshape(m, -1))
            elif b == "stein":
                out.append(_stein(w, v, C).reshape(m, -1))
                s2 = w @ normC2                    # sum_j w_j |c_j|^2
                sm = w * (vabs[:, None] + normC[None, :] * s2[:, None]
                          + 2 * (vabs * vabs)[:, None] * normC[None, :]
                          + 2 * (vabs * s2)[:, None] + 3 * (vabs ** 3)[:, None])
                mag.append(np.repeat(sm, d, axis=1))
            elif b == "w":
                out.append(w)
                mag.append(w)
            elif b == "uw":
                out.append((U[:, :, None] * w[:, None, :]).reshape(m, -1))
                mag.append((np.abs(U)[:, :, None] * w[:, None, :]).reshape(m, -1))
        return np.concatenate(out, axis=1), np.concatenate(mag, axis=1)

    f.bounds = (a_vec, b_vec)
    return f


def _stein(w: np.ndarray, v: np.ndarray, C: np.ndarray) -> np.ndarray:
    """w_i (v + sum_j w_j c_j <c_j, c_i> - 2 v <v, c_i> - 2 sum_j w_j <v, c_j> c_j + 3|v|^2 v)."""
    G = C @ C.T                                    # (n, n)
    vc = v @ C.T                                   # (m, n)   <v, c_i>
    vv = (v * v).sum(axis=1)                       # (m,)
    T1 = (w[:, :, None] * G[None, :, :]).transpose(0, 2, 1) @ C   # (m, n, d): sum_j w_j G_ji c_j
    T3 = (w * vc) @ C                              # (m, d)
    common = v + (-2) * T3 + 3 * vv[:, None] * v   # (m, d)
    inner = common[:, None, :] + T1 - 2 * vc[:, :, None] * v[:, None, :]
    return w[:, :, None] * inner


# ---------------------------------------------------------------------------------------------
# Expectations
# ---------------------------------------------------------------------------------------------


def _resolve_precision(c_exact, digits: int | None, dps: int | None, backend: str,
                       extra_digits: int = 0) -> Precision:
    if backend not in ("auto", "float64", "mpmath"):
        raise ValueError(f"backend must be 'auto', 'float64' or 'mpmath', got {backend!r}")
    if digits is not None and (not isinstance(digits, int) or isinstance(digits, bool) or digits < 1):
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    if digits is not None and digits > _precision.MAX_DIGITS:
        raise ValueError(f"digits must be <= {_precision.MAX_DIGITS} (precision.MAX_DIGITS: what "
                         "the quadrature ladder reaches on separated configurations), "
                         f"got {digits}")
    if dps is not None:
        if not isinstance(dps, int) or isinstance(dps, bool) or dps < _precision.MIN_DPS:
            raise ValueError(f"dps must be an integer >= {_precision.MIN_DPS}, got {dps!r}")
        if dps > _precision.MAX_DPS:
            raise ValueError(f"dps must be <= {_precision.MAX_DPS} (precision.MAX_DPS), got {dps}")
        if backend == "float64":
            raise ValueError("dps and backend='float64' exclude each other")
        pol = _precision.choose(c_exact, 1, allow_float64=False, extra_digits=extra_digits)
        want = digits if digits is not None else dps - _precision.GUARD_DIGITS - pol.spread_digits - extra_digits
        if want < 1 or want + pol.spread_digits + extra_digits > dps - 2:
            raise ValueError(
                f"dps={dps} cannot support {max(want, 1)} correct digits here: the parameters' "
                f"spread needs {pol.spread_digits} extra digits (and {extra_digits} for scale); "
                f"use dps >= {max(want, 1) + pol.spread_digits + extra_digits + _precision.GUARD_DIGITS}")
        return Precision(want, pol.spread_digits, dps - want - pol.spread_digits, dps, "mpmath")
    digits = DEFAULT_DIGITS if digits is None else digits
    prec = _precision.choose(c_exact, digits, allow_float64=(backend != "mpmath"),
                             extra_digits=extra_digits)
    if backend == "float64" and not prec.is_float64:
        raise ValueError(f"float64 cannot give {digits} digits here (needs "
                         f"{digits + prec.spread_digits + extra_digits} digits incl. spread); "
                         "use backend='mpmath' or fewer digits")
    return prec


def _scale_digits(c_exact) -> int:
    """Digits lost to cancellation in the gradient when |c| > 1 (terms of size |c|^3 vs |c|)."""
    log_scale, _ = _precision.scale_and_spread(c_exact)
    return max(0, math.ceil(2 * log_scale)) if math.isfinite(log_scale) else 0


def _norm(g: np.ndarray, ar: Arith):
    """Frobenius norm of an array of numbers at the working precision."""
    return ar.sqrt(sum((x * x for x in g.ravel()), ar.num(0)))


def _assemble_direct(setup: Setup, vals: dict, errs: dict):
    """grad F = 2 (E[w_i v] + P E[u w_i h_i] - c_i E[w_i h_i]) and its error, from the blocks;
    third: the rounding of the assembly (a few ulps of its largest term)."""
    n, d, k = setup.n, setup.d, setup.k
    A, Ae = vals["wv"].reshape(n, d), errs["wv"].reshape(n, d)
    Cc, Ce = vals["wh"], errs["wh"]
    P, C = setup.P, setup.C
    g = A - C * Cc[:, None]
    ge = Ae + np.abs(C) * Ce[:, None]
    big = np.abs(A) + np.abs(C * Cc[:, None])
    if k:
        B, Be = vals["uwh"].reshape(k, n), errs["uwh"].reshape(k, n)
        g = g + (P @ B).T
        ge = ge + (np.abs(P) @ Be).T
        big = big + (np.abs(P) @ np.abs(B)).T
    return 2 * g, 2 * ge, 2 * big * setup.ar.eps * 8


def _assemble_stein(setup: Setup, vals: dict, errs: dict):
    n, d = setup.n, setup.d
    g = 2 * vals["stein"].reshape(n, d)
    return g, 2 * errs["stein"].reshape(n, d), np.abs(g) * setup.ar.eps * 2


def _assemble_em(setup: Setup, vals: dict, errs: dict):
    """E[w_i (y - c_i)] = P E[u w_i] - c_i E[w_i]."""
    n, k = setup.n, setup.k
    W, We = vals["w"], errs["w"]
    g = -setup.C * W[:, None]
    ge = np.abs(setup.C) * We[:, None]
    big = np.abs(g)
    if k:
        UW = vals["uw"].reshape(k, n)
        g = g + (setup.P @ UW).T
        ge = ge + (np.abs(setup.P) @ errs["uw"].reshape(k, n)).T
        big = big + (np.abs(setup.P) @ np.abs(UW)).T
    return g, ge, big * setup.ar.eps * 8


# quantity name -> (blocks it needs, assembly); "F" is the loss itself
QUANTITIES = {"F": (("F",), None), "direct": (("wv", "wh", "uwh"), _assemble_direct),
              "stein": (("stein",), _assemble_stein), "em": (("w", "uw"), _assemble_em)}


class Evaluator:
    """Expectations for one configuration at one precision, sharing the reduction and the rules.

    Most callers use :func:`F`, :func:`grad_F`, :func:`em_direction`; gradient descent keeps one
    Evaluator's :class:`Integrator` across steps (cached rules, warm-started ladder).

    Accuracy (``prec.digits + prec.spread_digits`` = D digits): each *quantity* -- the loss, the
    gradient (all n x d components together), the EM direction -- is accepted when every
    component's error is <= 10^-D times the quantity's size (|F|, or the Frobenius norm of the
    gradient / EM direction).  Only where the working precision cannot resolve a quantity that
    small (it vanishes, by symmetry or at a stationary point) is an absolute floor accepted:
    error <= 10^-D times its natural scale (R^2 for F, R + R^3 for the gradient, 1 + R for the
    EM direction, R = max_i |c_i|); ``rule["accuracy"]`` then says "absolute floor" and
    ``rule["floor"]`` gives that bound.  For gradient descent this means the step is accurate
    relative to the gradient's norm, which is what the step needs.
    """

    def __init__(self, prec: Precision, integrator: Integrator | None = None,
                 accuracy: str = "quantity"):
        if accuracy not in ACCURACY:
            raise ValueError(f"accuracy must be one of {ACCURACY}, got {accuracy!r}")
        self.prec = prec
        self.integrator = integrator or Integrator(prec)
        self.accuracy = accuracy

    def _parts(self, q: str, n: int) -> int:
        """How many accuracy parts quantity ``q`` has: one, or one per mean (per-mean mode)."""
        return n if (q != "F" and self.accuracy == "per-mean") else 1

    def _run(self, c_exact, quantities: Sequence[str], extra_blocks: Sequence[str] = ()):
        """Integrate the blocks that ``quantities`` need, accepting on those quantities."""
        setup = prepare(c_exact, self.prec)
        ar = setup.ar
        blocks = list(dict.fromkeys([b for q in quantities for b in QUANTITIES[q][0]]
                                    + list(extra_blocks)))
        slices = _block_slices(blocks, setup)
        R = setup.R
        natural = {"F": R * R, "direct": R + R ** 3, "stein": R + R ** 3, "em": 1 + R}

        def split(vec):
            return {b: vec[slices[b]] for b in blocks}

        def assembled(q, value, error):
            if q == "F":
                return value[slices["F"]], error[slices["F"]], None
            return QUANTITIES[q][1](setup, split(value), split(error))

        def measure(value, error):
            out = []
            for q in quantities:
                g, ge, _ = assembled(q, value, error)
                g, ge = np.asarray(g), np.asarray(ge)
                if self._parts(q, setup.n) > 1:    # per mean: block i = row i
                    out.extend((_norm(g[i], ar), max(ge[i].ravel())) for i in range(setup.n))
                else:
                    out.append((_norm(g, ar), max(ge.ravel())))
            return out

        def rounding(value):
            out = []
            for q in quantities:
                if q == "F":
                    out.append(ar.num(0))
                    continue
                _, _, rd = assembled(q, value, value * 0)
                rd = np.asarray(rd)
                if self._parts(q, setup.n) > 1:
                    out.extend(max(rd[i].ravel()) for i in range(setup.n))
                else:
                    out.append(max(rd.ravel()))
            return out

        D = self.prec.digits + self.prec.spread_digits
        tol = Tolerance(D, measure, [natural[q] for q in quantities
                                     for _ in range(self._parts(q, setup.n))], rounding)
        res = self.integrator.expect(setup.geom, integrand(setup, blocks), tol,
                                     key=tuple(blocks) + tuple(quantities) + (setup.n,
                                                                              self.accuracy))
        rule = dict(res.rule)
        if rule.get("accuracy") == "absolute floor":
            rule["floor"] = {q: _float_str(natural[q] * ar.num(10) ** -D) for q in quantities}
        return setup, res, split(res.value), split(res.error), rule, assembled

    def blocks(self, c_exact, blocks: Sequence[str]) -> tuple[Setup, dict, dict, bool, dict]:
        """Raw expectations of the named integrand blocks (see BLOCKS), each block accepted on
        its own largest component (relative, D digits).  Returns (setup, values, errors, ok, rule)."""
        setup = prepare(c_exact, self.prec)
        slices = _block_slices(blocks, setup)
        R = setup.R
        one = setup.ar.num(1)
        natural = {"F": R * R, "wv": R, "wh": R * R, "uwh": R * R, "stein": R + R ** 3,
                   "w": one, "uw": one}
        tol = Tolerance(self.prec.digits + self.prec.spread_digits,
                        groups_measure([slices[b] for b in blocks]), [natural[b] for b in blocks])
        res = self.integrator.expect(setup.geom, integrand(setup, blocks), tol,
                                     key=tuple(blocks) + (setup.n,))
        vals = {b: res.value[slices[b]] for b in blocks}
        errs = {b: res.error[slices[b]] for b in blocks}
        return setup, vals, errs, res.ok, res.rule

    def F(self, c_exact) -> Estimate:
        """The loss; error <= 10^-D |F| (F > 0 unless every c_i = 0, where it is exact)."""
        _, res, vals, errs, rule, _ = self._run(c_exact, ["F"])
        return Estimate(vals["F"][0], errs["F"][0], self.prec, rule, res.ok)

    def grad(self, c_exact, form: str = "direct", with_loss: bool = False):
        """grad F (n x d lists).  Each component's error <= 10^-D |grad F| (Frobenius norm over
        all components); with ``with_loss``, the loss too, to 10^-D |F| (same rule)."""
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        quantities = [form] + (["F"] if with_loss else [])
        setup, res, vals, errs, rule, assembled = self._run(c_exact, quantities, ["F"])
        g, ge, rd = assembled(form, res.value, res.error)
        ge = ge + rd
        est = Estimate(g.tolist(), ge.tolist(), self.prec, dict(rule, form=form), res.ok)
        if with_loss:
            return est, Estimate(vals["F"][0], errs["F"][0], self.prec, rule, res.ok)
        return est

    def em(self, c_exact) -> Estimate:
        """E[w_i (y - c_i)] (n x d); each component's error <= 10^-D times its Frobenius norm."""
        setup, res, vals, errs, rule, assembled = self._run(c_exact, ["em"])
        g, ge, rd = assembled("em", res.value, res.error)
        return Estimate(g.tolist(), (ge + rd).tolist(), self.prec, rule, res.ok)


def _float_str(x) -> str:
    import mpmath
    return mpmath.nstr(x, 3) if not isinstance(x, float) else f"{x:.3g}"


def _require(est: Estimate, what: str, strict: bool) -> Estimate:
    if strict and not est.ok:
        why = est.rule.get("unresolved")
        reached = est.rule.get("digits_reached")
        got = (f"{_fmt_digits(reached)} of {est.precision.digits} significant digits"
               if reached is not None else f"{est.precision.digits} significant digits missed")
        raise InaccurateError(
            f"{what}: {got}, error estimate {est.max_error():.3g} ({est.rule.get('rule', '?')}"
            + (f"; {why}" if why else "") + "); ask for fewer digits, or strict=False for the "
            "value with its error")
    return est


def _reached_rule(rule: dict, reached: float, zeros, asked, accuracy: str) -> tuple[dict, float]:
    """A copy of ``rule`` with the digits the error bound certifies (cut, not rounded, to one
    decimal), the digits asked, the accuracy mode and any parts zero by symmetry; and that
    shown number."""
    shown = round(math.floor(reached * 10) / 10, 1) if math.isfinite(reached) else reached
    out = dict(rule, digits_reached=shown, digits_asked=asked, per=accuracy)
    if zeros:
        out["zero_parts"] = zeros
    return out, shown


def _fmt_digits(x) -> str:
    return "0" if x is None or x <= 0 else ("all" if x == math.inf else f"{x:.1f}")


def _log10(x) -> float:
    return log10_abs(x)


def _log10_norm(row) -> float:
    """log10 of the Euclidean norm of a list of numbers (floats or mpf of any exponent)."""
    logs = [_log10(x) for x in row]
    top = max(logs, default=-math.inf)
    if top == -math.inf:
        return -math.inf
    return top + 0.5 * math.log10(sum(10.0 ** (2 * (lx - top)) for lx in logs))


def digits_reached(est: Estimate, accuracy: str = "quantity") -> tuple[float, list[int]]:
    """(significant digits the error bound certifies, indices of parts that are exactly zero).

    The loss: log10(|F| / error).  A gradient-like n x d value: log10(|g| / max error) with |g|
    the Frobenius norm ("quantity"), or the smallest per mean of log10(|g_i| / max_j err_ij)
    ("per-mean").  A part whose value is exactly zero (by symmetry) is left out and listed; it is
    held to the absolute floor.  inf when nothing is left or the error is zero."""
    if not isinstance(est.value, list):
        rows_v, rows_e = [[est.value]], [[est.error]]
    elif accuracy == "per-mean":
        rows_v, rows_e = est.value, est.error
    else:
        rows_v = [[x for row in est.value for x in row]]
        rows_e = [[x for row in est.error for x in row]]
    worst, zeros = math.inf, []
    for i, (rv, re_) in enumerate(zip(rows_v, rows_e)):
        size = _log10_norm(rv)
        if size == -math.inf:
            zeros.append(i)
            continue
        err = max(_log10(x) for x in re_)
        worst = min(worst, size - err)
    return worst, zeros


def _compute(c_exact, digits, dps, backend, extra, run, what: str, strict: bool,
             accuracy: str = "quantity", form: str = "direct") -> Estimate:
    """Run ``run(Evaluator)`` at the policy's precision, then make the digits true.

    * When the float64 path was chosen automatically but the value needs Gaussian weights below
      the double range (mass far out in the tails), repeat it in multiprecision at the same digits.
    * Significant digits or an error (SPEC §4): the rule pair may agree while rounding holds the
      value below the digits asked (a loss of order |c|^4 formed from terms of order |c|^2, the
      absolute-floor case).  The working precision is then raised by the digits missing (plus
      guard digits; doubled while no digit shows) and the value recomputed, up to ESCALATIONS
      times and MAX_DPS.  A part that is exactly zero (by symmetry) keeps the absolute floor, as
      does a value with no significant digit even at MAX_DPS (``rule["vanishes"]``).  What is still short is ok=False, with
      ``rule["digits_reached"]`` (strict raises).  A fixed ``dps`` or backend="float64" is never
      raised."""
    if accuracy not in ACCURACY:
        raise ValueError(f"accuracy must be one of {ACCURACY}, got {accuracy!r}")
    prec = _resolve_precision(c_exact, digits, dps, backend, extra)
    # before computing: three separated directions go to the compiled engine (or are refused),
    # and a split rule predicted to overrun the multiprecision budget is refused (issue 24)
    setup = prepare(c_exact, prec)
    D = prec.digits + prec.spread_digits
    ks = _quadrature.sharp_dims(setup.geom, D)
    if ks > 3:
        raise InaccurateError(f"{what}: {ks} separated directions: no back end here integrates "
                              "more than 3 (refused before computing)")
    if ks > _quadrature.MAX_SPLIT_DIMS:
        return _require(_separated(c_exact, prec, what, form, dps, backend, accuracy, strict),
                        what, strict)
    blocks = {"F": ("F",), "grad_F": QUANTITIES[form][0] + ("F",), "em_direction": ("w", "uw")}
    sizes = _block_sizes(setup.n, setup.d, setup.k)
    why = _quadrature.preflight(setup.geom, prec, D,
                                setup.n + sum(sizes[b] for b in blocks.get(what, ("F",))))
    if why is not None:
        raise InaccurateError(f"{what}: refused before computing: {why}")

    def evaluate(prec, backend_used):
        try:
            return run(Evaluator(prec, accuracy=accuracy)), backend_used
        except Float64RangeError:
            if backend_used != "auto":
                raise
            p2 = _resolve_precision(c_exact, digits, dps, "mpmath", extra)
            return run(Evaluator(p2, accuracy=accuracy)), "mpmath"

    est, used = evaluate(prec, backend)
    asked = est.precision.digits
    reached, zeros = digits_reached(est, accuracy)
    bump, vanishes = 0, False
    can_raise = dps is None and backend != "float64"
    for _ in range(ESCALATIONS):
        if reached >= asked or not est.ok or not can_raise:
            break
        # resolved in part: add the digits missing; no digit yet (the value is below the
        # rounding of terms |c|^2 or |c|^3 times larger, by an unknown factor): double the
        # working precision until one shows
        step = (math.ceil(asked - reached) + 2 if reached > 0
                else max(asked + 2, est.precision.dps or _precision.FLOAT64_DIGITS))
        bump += step
        try:
            prec2 = _resolve_precision(c_exact, asked, None, "mpmath" if used == "float64"
                                       else used, extra + bump)
        except ValueError:          # beyond MAX_DPS
            vanishes = reached <= 0
            break
        est2, used = evaluate(prec2, "mpmath" if used == "float64" else used)
        reached2, zeros = digits_reached(est2, accuracy)
        gained = reached2 >= reached + 1
        est, reached = est2, reached2
        if not gained and reached > 0:
            break                   # not a rounding limit: more digits do not help
    rule, shown = _reached_rule(est.rule, reached, zeros, asked, accuracy)
    if vanishes:
        rule["vanishes"] = (f"no significant digit at the largest working precision (dps "
                            f"{est.precision.dps}): zero to within the absolute floor")
    ok = est.ok
    if ok and reached < asked and not vanishes:
        ok = False
        if dps is not None:
            how = "a fixed dps is never raised: give digits instead, or a higher dps"
        elif backend == "float64":
            how = "backend='float64' cannot hold more: use backend='auto'"
        else:
            how = (f"the working precision needed is over MAX_DPS = {_precision.MAX_DPS} or "
                   f"{ESCALATIONS} raises did not reach it")
        rule["unresolved"] = f"rounding limits the value to {_fmt_digits(shown)} digits ({how})"
    est = Estimate(est.value, est.error, est.precision, rule, ok)
    return _require(est, what, strict)


def _separated(c_exact, prec: Precision, what: str, form: str, dps, backend: str,
               accuracy: str, strict: bool) -> Estimate:
    """The loss or direct gradient where the span has three separated directions, from the
    compiled float64 engine (:func:`verify.engine_f64.separated_expectation`), at most
    quadrature.SPLIT3_MAX_DIGITS significant digits (spread included); what cannot run there is
    refused before computing with what would work."""
    cap = _quadrature.SPLIT3_MAX_DIGITS if what == "F" else _quadrature.SPLIT3_MAX_DIGITS_GRADIENT
    D = prec.digits + prec.spread_digits
    head = f"{what}: 3 separated directions are integrated by the compiled float64 engine only"
    if what == "em_direction" or form != "direct":
        raise InaccurateError(f"{head} (loss and direct-form gradient); use form='direct'")
    if dps is not None or backend == "mpmath":
        raise InaccurateError(f"{head}: give digits <= {cap} (incl. spread) and no dps, "
                              "backend='auto' or 'float64'")
    if prec.spread_digits > cap - 1:
        raise InaccurateError(f"{head}, to {cap} digits incl. the parameters' spread "
                              f"({prec.spread_digits} digits here): no back end resolves it")
    C = np.array([[float(x) for x in row] for row in c_exact])
    scale = float(np.abs(C).max())
    if not (_precision.FLOAT64_MIN_SCALE < scale < _precision.FLOAT64_MAX_SCALE):
        raise InaccurateError(f"{head}, for |c| between {_precision.FLOAT64_MIN_SCALE:g} and "
                              f"{_precision.FLOAT64_MAX_SCALE:g} (here {scale:.3g})")
    if D > cap and strict:
        raise InaccurateError(f"{head}, to at most {cap} digits incl. spread ({D} asked): ask "
                              f"digits <= {cap - prec.spread_digits}, or strict=False for the "
                              f"value at {cap} digits with its error")
    from verify import engine_f64
    out = engine_f64.separated_expectation(C, min(D, cap))
    if not out["ok"]:
        raise InaccurateError(f"{head}, and it failed here: {out['why']}")
    p64 = Precision(prec.digits, prec.spread_digits, _precision.FLOAT64_GUARD, None, "float64")
    rule = {"rule": out["rule"], "nodes": out["nodes"], "level": out["level"],
            "engine": "compiled float64 (3 separated directions)", "accuracy": "relative"}
    if what == "F":
        est = Estimate(out["F"], out["F_error"], p64, rule, True)
    else:
        n, d = C.shape
        est = Estimate(out["G"], [[out["G_error"]] * d for _ in range(n)], p64,
                       dict(rule, form="direct"), True)
    reached, zeros = digits_reached(est, accuracy)
    rule, shown = _reached_rule(rule, reached, zeros, prec.digits, accuracy)
    ok = reached >= prec.digits
    if not ok:
        rule["unresolved"] = (f"3 separated directions: the compiled float64 engine reaches "
                              f"{_fmt_digits(shown)} digits (at most {cap} incl. spread)")
    return Estimate(est.value, est.error, p64, rule, ok)


def F(c, digits: int | None = None, *, dps: int | None = None, backend: str = "auto",
      strict: bool = True) -> Estimate:
    """The centred loss F(c) = E|v|^2 (SPEC §2) with its error bound.

    c: n >= 2 vectors of length d (int/float/str/mpf; read exactly).  digits: *significant*
    digits wanted (default 30, at most MAX_DIGITS): ``error <= 10^-(digits + spread) * F``, where
    spread = log10(scale/spread) of the parameters (see :mod:`verify.precision`); dps: fix the
    working precision instead (at most MAX_DPS).  ``error`` bounds |value - F| (rule pair
    difference + rigorous Gaussian tail bound + rounding).  strict: raise InaccurateError when
    the error misses the target (otherwise the Estimate has ok=False).
    """
    c_exact = check_params(c, "c")
    return _compute(c_exact, digits, dps, backend, 0, lambda ev: ev.F(c_exact), "F", strict)


def grad_F(c, digits: int | None = None, *, form: str = "direct", dps: int | None = None,
           backend: str = "auto", strict: bool = True, accuracy: str = "quantity") -> Estimate:
    """grad_{c_i} F for every i, as an n x d list, in the direct or the Stein form (SPEC §2).

    ``digits`` are significant digits relative to the gradient's norm: every component's error
    is <= 10^-(digits + spread) * |grad F| (Frobenius norm over all n x d components).  Where the
    gradient vanishes (by symmetry, or at a stationary point) below what the working precision
    resolves, an absolute floor 10^-(digits + spread) * (R + R^3) applies instead, reported in
    ``rule["accuracy"]`` / ``rule["floor"]``.  With ``accuracy="per-mean"`` each mean's block
    grad_{c_i} F is held to its own norm instead (a far mean's ~e^{-r^2/8} gradient gets its own
    digits).  ``rule["digits_reached"]`` gives the digits the error bound certifies.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    c_exact = check_params(c, "c")
    extra = _scale_digits(c_exact) * (2 if form == "stein" else 1)
    return _compute(c_exact, digits, dps, backend, extra, lambda ev: ev.grad(c_exact, form),
                    "grad_F", strict, accuracy, form)


def em_direction(c, digits: int | None = None, *, dps: int | None = None, backend: str = "auto",
                 strict: bool = True, accuracy: str = "quantity") -> Estimate:
    """The gradient-EM direction E[w_i (y - c_i)] for every i (SPEC §2), n x d; ``digits`` are
    significant digits relative to its Frobenius norm (floor 10^-(digits+spread) (1 + R))."""
    c_exact = check_params(c, "c")
    return _compute(c_exact, digits, dps, backend, _scale_digits(c_exact),
                    lambda ev: ev.em(c_exact), "em_direction", strict, accuracy)


# ---------------------------------------------------------------------------------------------
# Pointwise quantities (for the symbolic layer's spot checks)
# ---------------------------------------------------------------------------------------------


def weights(c, y, dps: int = 50) -> list:
    """w(y) = softmax_i(<y, c_i> - |c_i|^2/2) at one point y, at ``dps`` digits."""
    c_exact = check_params(c, "c")
    y_exact = check_vector(y, len(c_exact[0]), "y")
    ctx = _precision.context(dps)
    logits = [ctx.fsum(ctx.mpf(yj) * ctx.mpf(cj) for yj, cj in zip(y_exact, ci))
              - ctx.fsum(ctx.mpf(cj) ** 2 for cj in ci) / 2 for ci in c_exact]
    top = max(logits)
    ex = [ctx.exp(lg - top) for lg in logits]
    s = ctx.fsum(ex)
    return [x / s for x in ex]


def v(c, y, dps: int = 50) -> list:
    """v(y) = sum_i w_i(y) c_i at one point y."""
    c_exact = check_params(c, "c")
    w = weights(c_exact, y, dps)
    ctx = _precision.context(dps)
    d = len(c_exact[0])
    return [ctx.fsum(w[i] * ctx.mpf(c_exact[i][j]) for i in range(len(w))) for j in range(d)]


# The derivations' spot checks compare their closed forms with this engine; proofs/ never imports
# verify/, so the engine registers itself there (proofs.engine_hook).
from proofs import engine_hook as _engine_hook  # noqa: E402

_engine_hook.register(sys.modules[__name__])
