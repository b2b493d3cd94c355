"""Values and gradients of the objectives of SPEC §6, with error bounds, on either back end.

An objective is its list of Gaussian measures (which blocks of :mod:`.integrands` to integrate
under N(0, I) or under the shifted N(c_j, I)) plus an assembly of the value and the gradient
from those expectations; the time average adds an outer Gauss–Legendre rule in t.  The back end
is the :class:`verify.quadrature.Integrator` at the precision the policy picks: float64 (numpy,
vectorised) or mpmath (the reference), the same code evaluating the same definition.

Assemblies (derived in :mod:`proofs.objectives`, reduced coordinates of :mod:`verify.model`):

* gradient-em, K(c) = KL(N(0,I) || p_c):
  K = |c_ref|^2/2 + log n - E[lse]  (form "ref": no cancellation when the other means are far)
    = mean_i |c_i|^2/2 - E[lme]     (form "centred": no log n cancellation near the target);
  the one whose leading term is smaller is used.  grad_i K = -E[w_i (y - c_i)]
  = c_i E[w_i] - P E[u w_i], so GD on K is the gradient-EM update c_i <- c_i + eta E[w_i (y - c_i)].
* reverse-fisher, R(c) = (1/n) sum_j E_j |v|^2 (E_j: y = c_j + z):
  grad_i R = (2/n) sum_j (E_j[w_i v] + P E_j[u w_i h_i] + (d_j - d_i) E_j[w_i h_i])
             + (2/n) P E_i[sum_l w_l h_l e_l]            (form "pathwise", the default)
  the last term being (1/n) E_i[grad_y |v|^2]; by Stein's lemma it equals (1/n) P E_i[u |v|^2]
  (form "score": the derivative of the sampling density), computed from its own integrand.
* time-averaged, T(c) = int lambda(t) F(e^{-t} c) dt with
  grad T = int lambda(t) e^{-t} (grad F)(e^{-t} c) dt: Gauss–Legendre in t on [t0, t1] (orders on
  a ladder; error = difference of two orders + the weighted inner error bounds), each F and
  grad F from the existing engine (:mod:`verify.model`).
* forward-fisher: the existing engine, unchanged.

Acceptance: each expectation is accepted blockwise at D = digits + spread digits; the assembled
quantity (the value; the gradient by its Frobenius norm) must then have error <= 10^-digits |q|,
or, where it vanishes below the working precision, <= 10^-digits times its natural scale
("absolute floor").  When the assembly cancels, the blocks are recomputed with the digits lost
added (once); a quantity that still misses is returned with ok False (callers raise in strict
mode).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import mpmath
import numpy as np

from verify import model
from verify.model import Estimate, prepare
from verify.precision import Precision
from verify.quadrature import (Float64RangeError, InaccurateError, Integrator, Tolerance,
                               groups_measure, log10_abs)

from .integrands import block_slices, integrand, shifted_geometry

OBJECTIVES = ("forward-fisher", "gradient-em", "reverse-fisher", "time-averaged")
GRADIENT_FORMS = {"forward-fisher": ("direct", "stein"), "gradient-em": ("direct",),
                  "reverse-fisher": ("pathwise", "score"), "time-averaged": ("direct",)}
T_LADDER = (3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96)
DEFAULT_T_RANGE = (0.0, 1.0)
# most digits added when a quantity was accepted only on the absolute floor (see compute)
MAX_FLOOR_DIGITS = 120


def check_objective(name: str) -> str:
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {name!r}")
    return name


@dataclass(frozen=True)
class TimeWeight:
    """lambda(t) on [t0, t1]: ``density`` (None: uniform, 1/(t1 - t0)); ``label`` names it."""

    t0: float = DEFAULT_T_RANGE[0]
    t1: float = DEFAULT_T_RANGE[1]
    density: Callable | None = None
    label: str = "uniform"

    def __post_init__(self):
        for nm in ("t0", "t1"):
            x = getattr(self, nm)
            if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
                raise ValueError(f"t-range: {nm} must be a finite number, got {x!r}")
        if not 0 <= self.t0 < self.t1:
            raise ValueError(f"t-range must satisfy 0 <= T0 < T1, got {self.t0},{self.t1}")

    def weight(self, t, ctx=None):
        if self.density is not None:
            return self.density(t)
        return 1 / ((ctx.mpf(self.t1) - self.t0) if ctx is not None else (self.t1 - self.t0))


def time_weight(t_range=None) -> TimeWeight:
    if t_range is None:
        return TimeWeight()
    if isinstance(t_range, TimeWeight):
        return t_range
    try:
        t0, t1 = (float(x) for x in t_range)
    except (TypeError, ValueError):
        raise ValueError(f"t-range must be two numbers T0,T1, got {t_range!r}") from None
    return TimeWeight(t0, t1)


# ---------------------------------------------------------------------------------------------
# What each objective integrates
# ---------------------------------------------------------------------------------------------

VALUE_BLOCKS = {"gradient-em": ("lse", "lme"), "reverse-fisher": ("F",)}
GRAD_BLOCKS = {("gradient-em", "direct"): ("w", "uw"),
               ("reverse-fisher", "pathwise"): ("wv", "wh", "uwh", "ghd"),
               ("reverse-fisher", "score"): ("wv", "wh", "uwh", "zF")}


def measures(name: str, setup) -> list:
    """The Gaussian measures an objective integrates over: None = N(0, I); j = N(c_j, I)."""
    return [None] if name == "gradient-em" else list(range(setup.n))


def _natural(setup, block: str):
    R, one = setup.R, setup.ar.num(1)
    return {"F": R * R, "wv": R, "wh": R * R, "uwh": R * R, "ghd": R ** 3, "zF": R * R,
            "w": one, "uw": one, "lse": one + R * R, "lme": one + R * R}[block]


def _expect(setup, integ: Integrator, j, blocks, digits: float):
    geom = shifted_geometry(setup, j)
    sl = block_slices(blocks, setup.n, setup.d, setup.k)
    tol = Tolerance(digits, groups_measure([sl[b] for b in blocks]),
                    [_natural(setup, b) for b in blocks])
    res = integ.expect(geom, integrand(setup, geom, blocks), tol,
                       key=("objective", j is None) + tuple(blocks) + (setup.n,))
    return ({b: res.value[sl[b]] for b in blocks}, {b: res.error[sl[b]] for b in blocks},
            res.ok, res.rule)


def _assemble_value(name, setup, E, Err):
    """(value, error, cancellation scale) from the measures' expectations."""
    ar = setup.ar
    n = setup.n
    if name == "gradient-em":
        (vals, errs), = [(E[None], Err[None])]
        c1 = setup.C[setup.ref]
        logn = ar.num(math.log(n)) if ar.ctx is None else ar.ctx.log(n)
        lead_ref = (c1 * c1).sum() / 2 + logn
        lead_cen = (setup.C * setup.C).sum() / (2 * n)
        if lead_ref <= lead_cen:
            val, err, lead = lead_ref - vals["lse"][0], errs["lse"][0], lead_ref
        else:
            val, err, lead = lead_cen - vals["lme"][0], errs["lme"][0], lead_cen
        return val, err + 8 * ar.eps * lead, lead
    # reverse-fisher
    val = sum((E[j]["F"][0] for j in range(n)), ar.num(0)) / n
    err = sum((Err[j]["F"][0] for j in range(n)), ar.num(0)) / n
    return val, err + 8 * n * ar.eps * val, val


def _assemble_grad(name, form, setup, E, Err):
    """(gradient n x d, error n x d, largest term n x d)."""
    ar, n, d, k = setup.ar, setup.n, setup.d, setup.k
    P, C, D = setup.P, setup.C, setup.D
    if name == "gradient-em":
        vals, errs = E[None], Err[None]
        W, We = vals["w"], errs["w"]
        g = C * W[:, None]
        ge = np.abs(C) * We[:, None]
        big = np.abs(g)
        if k:
            UW = vals["uw"].reshape(k, n)
            g = g - (P @ UW).T
            ge = ge + (np.abs(P) @ errs["uw"].reshape(k, n)).T
            big = big + (np.abs(P) @ np.abs(UW)).T
        return g, ge, big
    g = ar.zeros((n, d))
    ge = ar.zeros((n, d))
    big = ar.zeros((n, d))
    for j in range(n):
        vals, errs = E[j], Err[j]
        A, Ae = vals["wv"].reshape(n, d), errs["wv"].reshape(n, d)
        Hh, He = vals["wh"], errs["wh"]
        shift = D[j][None, :] - D                   # d_j - d_i, row i
        term = A + shift * Hh[:, None]
        terr = Ae + np.abs(shift) * He[:, None]
        tbig = np.abs(A) + np.abs(shift * Hh[:, None])
        if k:
            B, Be = vals["uwh"].reshape(k, n), errs["uwh"].reshape(k, n)
            term = term + (P @ B).T
            terr = terr + (np.abs(P) @ Be).T
            tbig = tbig + (np.abs(P) @ np.abs(B)).T
        g, ge, big = g + 2 * term, ge + 2 * terr, big + 2 * tbig
        if k:
            blk = "ghd" if form == "pathwise" else "zF"
            fac = 2 if form == "pathwise" else 1
            x, xe = vals[blk], errs[blk]
            g[j] = g[j] + fac * (P @ x)
            ge[j] = ge[j] + fac * (np.abs(P) @ xe)
            big[j] = big[j] + fac * (np.abs(P) @ np.abs(x))
    return g / n, ge / n, big / n


def _frob(g, ar):
    return ar.sqrt(sum((x * x for x in np.asarray(g).ravel()), ar.num(0)))


@dataclass
class _Run:
    """One configuration at one precision: the reduction, the integrator and the bookkeeping."""

    prec: Precision
    integrator: Integrator | None = None
    rules: list = field(default_factory=list)

    def __post_init__(self):
        if self.integrator is None:
            self.integrator = Integrator(self.prec)

    def blocks(self, name, setup, blocks, digits):
        E, Err, ok = {}, {}, True
        for j in measures(name, setup):
            E[j], Err[j], okj, rule = _expect(setup, self.integrator, j, blocks, digits)
            ok = ok and okj
            self.rules.append(rule)
        return E, Err, ok


def _accept(size, err, digits, natural, ar) -> tuple[bool, str]:
    lerr = log10_abs(err)
    if lerr == -math.inf or lerr <= log10_abs(size) - digits:
        return True, "relative"
    if lerr <= log10_abs(natural) - digits:
        return True, "absolute floor"
    return False, "missed"


def _lost_digits(size, big, ar) -> int:
    lb, ls = log10_abs(big), log10_abs(size)
    if ls == -math.inf or lb == -math.inf:
        return 0
    return max(0, math.ceil(lb - ls))


def _layer(name, c_exact, prec: Precision, want: str, form: str, run: _Run | None = None):
    """Value ("value"), gradient ("grad") or both ("both") of a layer objective at ``prec``."""
    run = run or _Run(prec)
    setup = prepare(c_exact, prec)
    ar = setup.ar
    D0 = prec.digits + prec.spread_digits
    out = {}
    wanted = ["value", "grad"] if want == "both" else [want]
    for q in wanted:
        blocks = VALUE_BLOCKS[name] if q == "value" else GRAD_BLOCKS[(name, form)]
        extra = 0
        for attempt in range(2):
            E, Err, ok = run.blocks(name, setup, blocks, D0 + extra)
            if q == "value":
                val, err, lead = _assemble_value(name, setup, E, Err)
                size, big, natural = abs(val), abs(lead), _natural(setup, "F") + 1
                value, error = val, err
            else:
                g, ge, big_arr = _assemble_grad(name, form, setup, E, Err)
                ge = ge + big_arr * ar.eps * 8
                size, big = _frob(g, ar), max(big_arr.ravel())
                natural = setup.R + setup.R ** 3 if name == "reverse-fisher" else 1 + setup.R
                error = ge
                err = max(ge.ravel())
                value = g
            acc_ok, mode = _accept(size, err, prec.digits, natural, ar)
            floor_digits = 0 if mode != "absolute floor" else \
                max(0, math.ceil(log10_abs(natural) - log10_abs(size))) + 2
            lost = _lost_digits(size, big, ar)
            if acc_ok or attempt or lost == 0 or (prec.is_float64 and D0 + lost > 15):
                break
            extra = lost
        rule = {"rule": run.rules[-1].get("rule") if run.rules else "exact",
                "accuracy": mode, "measures": len(measures(name, setup)),
                "evaluations": run.integrator.evaluations, "objective": name}
        if floor_digits:
            rule["floor_digits"] = floor_digits
        if q == "grad":
            rule["form"] = form
            est = Estimate(value.tolist(), error.tolist(), prec, rule, ok and acc_ok)
        else:
            est = Estimate(value, error, prec, rule, ok and acc_ok)
        out[q] = est
    return out


# ---------------------------------------------------------------------------------------------
# The time average
# ---------------------------------------------------------------------------------------------

def _gl(order: int, a, b, ctx):
    if ctx is None:
        x, w = np.polynomial.legendre.leggauss(order)
        half, mid = (b - a) / 2, (a + b) / 2
        return [mid + half * xi for xi in x], [half * wi for wi in w]
    x, w = ctx.gauss_quadrature(order, "legendre")
    a, b = ctx.mpf(a), ctx.mpf(b)
    half, mid = (b - a) / 2, (a + b) / 2
    return [mid + half * xi for xi in x], [half * wi for wi in w]


def _time_averaged(c_exact, prec: Precision, want: str, tw: TimeWeight, evaluator=None,
                   ladder=T_LADDER):
    ar_ctx = None if prec.is_float64 else model.prepare([[0], [0]], prec).ar.ctx
    ev = evaluator or model.Evaluator(prec)
    n, d = len(c_exact), len(c_exact[0])

    def conv(x):
        return float(x) if ar_ctx is None else ar_ctx.convert(x)

    def exp(x):
        return math.exp(-x) if ar_ctx is None else ar_ctx.exp(-x)

    cache = {}

    def at(t):
        key = str(t)
        if key not in cache:
            s = exp(t)
            cs = [[conv(x) * s for x in row] for row in c_exact]
            if want in ("grad", "both"):
                ge, fe = ev.grad(cs, "direct", with_loss=True)
                cache[key] = (s, fe, ge)
            else:
                cache[key] = (s, ev.F(cs), None)
        return cache[key]

    prev, rules = None, []
    for order in ladder:
        ts, ws = _gl(order, tw.t0, tw.t1, ar_ctx)
        lam = [tw.weight(t, ar_ctx) * w for t, w in zip(ts, ws)]
        val = sum((lw * at(t)[1].value for t, lw in zip(ts, lam)), conv(0))
        inner = sum((abs(lw) * at(t)[1].error for t, lw in zip(ts, lam)), conv(0))
        ok = all(at(t)[1].ok for t in ts)
        g = ge_in = None
        if want in ("grad", "both"):
            g = np.array([[conv(0)] * d for _ in range(n)], dtype=object if ar_ctx else float)
            ge_in = g * 0
            for t, lw in zip(ts, lam):
                s, _, gr = at(t)
                g = g + lw * s * np.array(gr.value, dtype=g.dtype)
                ge_in = ge_in + abs(lw) * s * np.array(gr.error, dtype=g.dtype)
                ok = ok and gr.ok
        cur = (val, g)
        if prev is not None:
            dval = abs(val - prev[0])
            verr = dval + inner
            good_v = log10_abs(verr) <= log10_abs(val) - prec.digits or verr == 0
            good_g = True
            if g is not None:
                dg = np.abs(g - prev[1])
                gerr = dg + ge_in
                size = math.sqrt(sum(float(x) ** 2 for x in g.ravel())) if ar_ctx is None else \
                    ar_ctx.sqrt(sum(x * x for x in g.ravel()))
                good_g = log10_abs(max(gerr.ravel())) <= log10_abs(size) - prec.digits
            if good_v and good_g:
                rule = {"rule": f"Gauss-Legendre {order} vs {prev_order} in t on "
                                f"[{tw.t0}, {tw.t1}] ({tw.label} weight) x "
                                f"({at(ts[0])[1].rule.get('rule')})",
                        "accuracy": "relative", "objective": "time-averaged",
                        "t_range": [tw.t0, tw.t1], "t_nodes": order}
                out = {"value": Estimate(val, verr, prec, rule, ok)}
                if g is not None:
                    out["grad"] = Estimate(g.tolist(), gerr.tolist(), prec, dict(rule, form="direct"),
                                           ok)
                return out
        prev, prev_order = cur, order
    rule = {"rule": f"Gauss-Legendre up to {T_LADDER[-1]} in t did not settle",
            "objective": "time-averaged", "unresolved": "outer rule in t"}
    out = {"value": Estimate(val, abs(val - prev[0]) + inner, prec, rule, False)}
    if g is not None:
        out["grad"] = Estimate(g.tolist(), (ge_in + 1).tolist(), prec, rule, False)
    return out


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

def _extra_digits(name, c_exact) -> int:
    return model._scale_digits(c_exact)


def compute(name: str, c, want: str = "value", digits: int | None = None, *, dps: int | None = None,
            backend: str = "auto", form: str | None = None, t_range=None, strict: bool = True):
    """{"value": Estimate, "grad": Estimate} (the ones asked by ``want``: value/grad/both) of
    objective ``name`` at centred parameters ``c`` (n x d), to ``digits`` significant digits
    (value: relative to |value|; gradient: relative to its Frobenius norm).  ``backend``: auto
    (float64 when the policy allows, with a switch to mpmath when float64's range is not enough),
    float64, mpmath.  ``t_range`` = (t0, t1) or a :class:`TimeWeight` for the time average.
    """
    check_objective(name)
    form = form or GRADIENT_FORMS[name][0]
    if form not in GRADIENT_FORMS[name]:
        raise ValueError(f"form must be one of {GRADIENT_FORMS[name]} for {name}, got {form!r}")
    if t_range is not None and name != "time-averaged":
        raise ValueError("t-range applies to the time-averaged objective only")
    c_exact = model.check_params(c, "c")
    if name == "forward-fisher":
        out = {}
        if want in ("grad", "both"):
            out["grad"] = model.grad_F(c_exact, digits, form=form, dps=dps, backend=backend,
                                       strict=strict)
        if want in ("value", "both"):
            out["value"] = model.F(c_exact, digits, dps=dps, backend=backend, strict=strict)
        return out
    extra = _extra_digits(name, c_exact)
    tw = time_weight(t_range) if name == "time-averaged" else None

    def go(prec):
        if name == "time-averaged":
            return _time_averaged(c_exact, prec, want, tw)
        return _layer(name, c_exact, prec, want, form)

    prec = model._resolve_precision(c_exact, digits, dps, backend, extra)
    try:
        out = go(prec)
    except Float64RangeError:
        if backend != "auto":
            raise
        prec = model._resolve_precision(c_exact, digits, dps, "mpmath", extra)
        out = go(prec)
    floor = max((est.rule.get("floor_digits", 0) for est in out.values()), default=0)
    if floor and not prec.is_float64 and dps is None:
        # accepted only on the absolute floor: the quantity is far below its integrand's
        # terms (e.g. a far mean's e^{-r^2/8} drift); recompute once with those digits added,
        # so that it gets significant digits where the precision allows
        bump = min(floor, MAX_FLOOR_DIGITS)
        prec = Precision(prec.digits, prec.spread_digits, prec.guard + bump, prec.dps + bump,
                         "mpmath")
        out = go(prec)
    if strict:
        for q, est in out.items():
            model._require(est, f"{name} {q}", True)
    return out


def value(name: str, c, digits: int | None = None, **kw) -> Estimate:
    """The objective's value with its error bound (see :func:`compute`)."""
    return compute(name, c, "value", digits, **kw)["value"]


def gradient(name: str, c, digits: int | None = None, **kw) -> Estimate:
    """The objective's gradient (n x d) with its error bound (see :func:`compute`)."""
    return compute(name, c, "grad", digits, **kw)["grad"]


class Stepper:
    """Gradient and value of one objective at one precision, reused along a GD run (the rules
    and the integrator's warm start are kept between steps)."""

    def __init__(self, name: str, prec: Precision, t_range=None, form: str | None = None,
                 evaluator=None):
        """``evaluator``: the forward-Fisher back end the paper's objective and the time
        average's inner F / grad F use (anything with model.Evaluator's ``grad(c, "direct",
        with_loss=True)`` and ``F``, e.g. the Arb kernel a multiprecision run picks); default
        ``model.Evaluator`` at ``prec``.  It changes the back end, never the definition."""
        self.name = check_objective(name)
        self.prec = prec
        self.form = form or GRADIENT_FORMS[name][0]
        self.tw = time_weight(t_range) if name == "time-averaged" else None
        self.run = _Run(prec)
        self.evaluator = evaluator if evaluator is not None else \
            model.Evaluator(prec, self.run.integrator)
        self.t_start = 0

    def __call__(self, c_rows) -> tuple[Estimate, Estimate]:
        """(value, gradient) at parameters given as rows of numbers at this precision."""
        if self.name == "forward-fisher":
            g, f = self.evaluator.grad(c_rows, "direct", with_loss=True)
            return f, g
        if self.name == "time-averaged":
            # the pair of t-rules that last agreed is tried first (the integrand changes little
            # between GD steps); the ladder climbs from there when they no longer agree
            start = max(0, self.t_start)
            out = _time_averaged(c_rows, self.prec, "both", self.tw, self.evaluator,
                                 T_LADDER[start:])
            nodes = out["value"].rule.get("t_nodes")
            if nodes in T_LADDER:
                self.t_start = max(0, T_LADDER.index(nodes) - 1)
        else:
            self.run.rules.clear()
            out = _layer(self.name, c_rows, self.prec, "both", self.form, self.run)
        return out["value"], out["grad"]
