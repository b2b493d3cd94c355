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
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from verify import precision as _precision
from verify.precision import Precision, exact
from verify.quadrature import Arith, Geometry, InaccurateError, Integrator, Tolerance

FORMS = ("direct", "stein")
DEFAULT_DIGITS = 30

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
    """A computed quantity with its absolute error estimate.

    value/error: a number (mpf or float) or an n x d nested list; precision: what it ran at;
    rule: which quadrature produced it (and with how many nodes); ok: the estimate met the target.
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
    D: np.ndarray      # (n, d) differences d_i = c_i - c_1
    P: np.ndarray      # (d, k) orthonormal basis of span{d_i}, principal directions first
    geom: Geometry     # logits <u, e_i> + o_i
    n: int
    d: int

    @property
    def k(self) -> int:
        return self.P.shape[1]


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
                r = r - (r * b).sum() * b
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
    D = C - C[0][None, :]
    P0 = _orthonormal_basis(D[1:], ar)
    E0 = D @ P0 if P0.shape[1] else ar.zeros((n, 0))
    V = _principal_rotation(E0, ar)
    P = P0 @ V if P0.shape[1] else P0
    E = D @ P if P.shape[1] else ar.zeros((n, 0))
    o = -((D * C[0][None, :]).sum(axis=1) + (D * D).sum(axis=1) / 2)
    return Setup(ar, C, D, P, Geometry(E, o), n, d)


# ---------------------------------------------------------------------------------------------
# Integrands
# ---------------------------------------------------------------------------------------------

# component blocks an integrand can produce; their sizes depend on (n, d, k)
BLOCKS = ("F", "wv", "wh", "uwh", "stein", "w", "uw")


def _block_sizes(n: int, d: int, k: int) -> dict[str, int]:
    return {"F": 1, "wv": n * d, "wh": n, "uwh": k * n, "stein": n * d, "w": n, "uw": k * n}


def _softmax(L: np.ndarray, ar: Arith) -> np.ndarray:
    top = np.array([max(row) for row in L], dtype=ar.dtype) if ar.ctx is not None else L.max(axis=1)
    X = ar.exp(L - top[:, None])
    return X / X.sum(axis=1)[:, None]


def integrand(setup: Setup, blocks: Sequence[str]):
    """f(U) -> (m, ncomp): the requested blocks, concatenated in the order given."""
    C, D, geom, ar = setup.C, setup.D, setup.geom, setup.ar
    c1 = C[0]

    def f(U: np.ndarray) -> np.ndarray:
        m = U.shape[0]
        if setup.k:
            L = U @ geom.e.T + geom.o[None, :]
        else:
            L = np.array([list(geom.o)] * m, dtype=ar.dtype)
        w = _softmax(L, ar)                        # (m, n)
        delta = w @ D                              # (m, d)
        v = c1[None, :] + delta                    # (m, d)
        out = []
        for b in blocks:
            if b == "F":
                out.append((v * v).sum(axis=1)[:, None])
            elif b == "wv":
                out.append((w[:, :, None] * v[:, None, :]).reshape(m, -1))
            elif b in ("wh", "uwh"):
                h = ((D[None, :, :] - delta[:, None, :]) * v[:, None, :]).sum(axis=2)  # (m, n)
                wh = w * h
                out.append(wh if b == "wh" else (U[:, :, None] * wh[:, None, :]).reshape(m, -1))
            elif b == "stein":
                out.append(_stein(w, v, C).reshape(m, -1))
            elif b == "w":
                out.append(w)
            elif b == "uw":
                out.append((U[:, :, None] * w[:, None, :]).reshape(m, -1))
        return np.concatenate(out, axis=1)

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
    if dps is not None:
        if not isinstance(dps, int) or isinstance(dps, bool) or dps < _precision.MIN_DPS:
            raise ValueError(f"dps must be an integer >= {_precision.MIN_DPS}, got {dps!r}")
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


class Evaluator:
    """Expectations for one configuration at one precision, sharing the reduction and the rules.

    Most callers use :func:`F`, :func:`grad_F`, :func:`em_direction`; gradient descent keeps one
    Evaluator's :class:`Integrator` across steps (cached rules, warm-started ladder).
    """

    def __init__(self, prec: Precision, integrator: Integrator | None = None):
        self.prec = prec
        self.integrator = integrator or Integrator(prec)

    def blocks(self, c_exact, blocks: Sequence[str]) -> tuple[Setup, dict, dict, bool, dict]:
        setup = prepare(c_exact, self.prec)
        sizes = _block_sizes(setup.n, setup.d, setup.k)
        slices, pos = {}, 0
        for b in blocks:
            slices[b] = slice(pos, pos + sizes[b])
            pos += sizes[b]
        R = max(setup.ar.sqrt((row * row).sum()) for row in setup.C)
        one = setup.ar.num(1)
        natural = {"F": R * R, "wv": R, "wh": R * R, "uwh": R * R, "stein": R + R ** 3,
                   "w": one, "uw": one}
        tol = Tolerance(self.prec.digits + self.prec.spread_digits, [slices[b] for b in blocks],
                        [natural[b] for b in blocks])
        res = self.integrator.expect(setup.geom, integrand(setup, blocks), tol,
                                     key=tuple(blocks) + (setup.n,))
        vals = {b: res.value[slices[b]] for b in blocks}
        errs = {b: res.error[slices[b]] for b in blocks}
        return setup, vals, errs, res.ok, res.rule

    def F(self, c_exact) -> Estimate:
        _, vals, errs, ok, rule = self.blocks(c_exact, ["F"])
        return Estimate(vals["F"][0], errs["F"][0], self.prec, rule, ok)

    def grad(self, c_exact, form: str = "direct", with_loss: bool = False):
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        if form == "direct":
            setup, vals, errs, ok, rule = self.blocks(c_exact, ["F", "wv", "wh", "uwh"])
            n, d, k = setup.n, setup.d, setup.k
            A = vals["wv"].reshape(n, d)
            Ae = errs["wv"].reshape(n, d)
            B = vals["uwh"].reshape(k, n)
            Be = errs["uwh"].reshape(k, n)
            Cc = vals["wh"]
            Ce = errs["wh"]
            P, C = setup.P, setup.C
            absP = np.abs(P)
            g = A - C * Cc[:, None]
            ge = Ae + np.abs(C) * Ce[:, None]
            if k:
                g = g + (P @ B).T
                ge = ge + (absP @ Be).T
            g = 2 * g
            # rounding in forming g: a few ulps of its largest term
            big = np.abs(A) + np.abs(C * Cc[:, None]) + ((absP @ np.abs(B)).T if k else 0)
            ge = 2 * ge + 2 * big * setup.ar.eps * 8
        else:
            setup, vals, errs, ok, rule = self.blocks(c_exact, ["F", "stein"])
            n, d = setup.n, setup.d
            g = 2 * vals["stein"].reshape(n, d)
            # the Stein integrand adds terms up to ~ (1 + 8 R^2) R that cancel to a result that
            # can be much smaller: count their rounding, not the result's
            R = max(setup.ar.sqrt((row * row).sum()) for row in setup.C)
            ge = 2 * errs["stein"].reshape(n, d) + 2 * 16 * setup.ar.eps * R * (1 + 8 * R * R)
        est = Estimate(g.tolist(), ge.tolist(), self.prec, dict(rule, form=form), ok)
        if with_loss:
            return est, Estimate(vals["F"][0], errs["F"][0], self.prec, rule, ok)
        return est

    def em(self, c_exact) -> Estimate:
        setup, vals, errs, ok, rule = self.blocks(c_exact, ["w", "uw"])
        n, d, k = setup.n, setup.d, setup.k
        W, We = vals["w"], errs["w"]
        g = -setup.C * W[:, None]
        ge = np.abs(setup.C) * We[:, None]
        if k:
            g = g + (setup.P @ vals["uw"].reshape(k, n)).T
            ge = ge + (np.abs(setup.P) @ errs["uw"].reshape(k, n)).T
        return Estimate(g.tolist(), ge.tolist(), self.prec, rule, ok)


def _evaluator(c, digits, dps, backend, extra=0):
    c_exact = check_params(c, "c")
    prec = _resolve_precision(c_exact, digits, dps, backend, extra)
    return c_exact, Evaluator(prec)


def _require(est: Estimate, what: str, strict: bool) -> Estimate:
    if strict and not est.ok:
        raise InaccurateError(
            f"{what}: error estimate {est.max_error():.3g} misses {est.precision.digits} digits "
            f"({est.rule.get('rule', '?')}); ask for fewer digits or a higher dps")
    return est


def F(c, digits: int | None = None, *, dps: int | None = None, backend: str = "auto",
      strict: bool = True) -> Estimate:
    """The centred loss F(c) = E|v|^2 (SPEC §2) with its error estimate.

    c: n >= 2 vectors of length d (int/float/str/mpf; read exactly).  digits: correct digits wanted
    (default 30); dps: fix the working precision instead.  strict: raise InaccurateError when the
    error estimate misses the target (otherwise the Estimate has ok=False).
    """
    c_exact, ev = _evaluator(c, digits, dps, backend)
    return _require(ev.F(c_exact), "F", strict)


def grad_F(c, digits: int | None = None, *, form: str = "direct", dps: int | None = None,
           backend: str = "auto", strict: bool = True) -> Estimate:
    """grad_{c_i} F for every i, as an n x d list, in the direct or the Stein form (SPEC §2)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    c_exact = check_params(c, "c")
    extra = _scale_digits(c_exact) * (2 if form == "stein" else 1)
    prec = _resolve_precision(c_exact, digits, dps, backend, extra)
    return _require(Evaluator(prec).grad(c_exact, form), "grad_F", strict)


def em_direction(c, digits: int | None = None, *, dps: int | None = None, backend: str = "auto",
                 strict: bool = True) -> Estimate:
    """The gradient-EM direction E[w_i (y - c_i)] for every i (SPEC §2), n x d."""
    c_exact = check_params(c, "c")
    prec = _resolve_precision(c_exact, digits, dps, backend, _scale_digits(c_exact))
    return _require(Evaluator(prec).em(c_exact), "em_direction", strict)


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
