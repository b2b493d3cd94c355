"""The error bounds hold and `digits` means significant digits (issue 15, items 1-3).

Every check compares the engine with an INDEPENDENT reference written here: for collinear
configurations (c_i = p + a_i e, p orthogonal to the unit vector e) the softmax depends on y only
through u = <y, e>, and

    F = |p|^2 + E[abar^2],  abar = sum_i w_i a_i,  w = softmax_i(a_i u - a_i^2 / 2),
    grad_i F = 2 (E[w_i] p + E[w_i abar] e + E[w_i (u - a_i)(a_i - abar) abar] e
                  - E[w_i (a_i - abar) abar] p)

(from the direct form of SPEC §2 with v = p + abar e, h_i = (a_i - abar) abar and E[z | u] = 0 for
the part z of y orthogonal to e).  Each 1-D expectation is computed by mpmath.quad (tanh-sinh)
at digits + 20 with breakpoints at every a_i and every pairwise tie point (a_i + a_j) / 2, where
the mass sits.  The engine never sees these formulas or rules.

A configuration beyond the engine must raise InaccurateError with a reason; a value must satisfy
|value - truth| <= error and error <= 10^-digits * |quantity| (the gradient: its Frobenius norm),
or, where the engine reports an absolute floor, error <= 10^-digits * natural scale.
"""
from __future__ import annotations

import functools
import math
import time

import mpmath
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import verify
from verify import model, quadrature
from verify.precision import MAX_DIGITS, MAX_DPS, context
from verify.quadrature import InaccurateError

RATIOS: list[tuple[float, str]] = []   # (|value - truth| / error, case): the battery's record
# (correct digits against the reference / digits asked, case): digits reached, independently
DIGITS: list[tuple[float, str]] = []


def _record_digits(ctx, size, true_err, ref_err, digits: int, case: str):
    """Correct significant digits against the reference (its own error counted as agreement),
    as a fraction of the digits asked."""
    off = max(true_err, ref_err)
    correct = float(ctx.log10(size / off)) if off else math.inf
    DIGITS.append((min(correct, 10 * digits) / digits, case))


# ------------------------------------------------------------------------------------------------
# The independent reference (collinear configurations)
# ------------------------------------------------------------------------------------------------

def _breakpoints(ctx, a):
    """0, every a_i +- {0, 1, 2}, and the tie points of neighbours in sorted order (the only ties
    on the upper envelope of the lines a_i u - a_i^2/2), graded by the width 1/|a_i - a_j|."""
    a = sorted(set(a))
    pts = {ctx.mpf(0)} | {x + s for x in a for s in (-2, -1, 0, 1, 2)}
    for x, y in zip(a, a[1:]):
        t, width = (x + y) / 2, 1 / (y - x)
        if width < 1:   # wider transitions are smooth on unit panels
            pts |= {t} | {t + s * width * 2 ** j for j in range(-1, 7) for s in (-1, 1)}
    # beyond |u| = 60 the Gaussian weight is below e^-1800, far under any value tested
    pts = {q for q in pts if abs(q) <= 60}
    hi = max(abs(p) for p in pts)
    # unit panels between them: the Gaussian and the softmax tails vary like e^{|u| x}
    pts |= {ctx.mpf(j) for j in range(-int(hi) - 1, int(hi) + 2)}
    return [-ctx.inf] + sorted(pts | {hi + 1, hi + 3, -hi - 1, -hi - 3}) + [ctx.inf]


_GL_NODES: dict = {}   # (degree, prec) -> [(x, w) as mpf tuples]: shared across contexts


def _legendre_nodes(n: int, prec: int) -> list:
    """The n-point Gauss-Legendre nodes and weights on [-1, 1] to ``prec`` bits, as raw mpf
    tuples: numpy's float64 nodes (x >= 0; the rule is symmetric) refined by Newton's method on
    the three-term recurrence in gmpy2, the precision doubling from 106 bits to prec + 40 (each
    step doubles the correct bits, so the cost is about two evaluations at full precision; mpmath's
    own calc_nodes starts from 3 digits at 1.5 prec, and took ~85% of this reference's time), then
    w = 2 / ((1 - x^2) P_n'(x)^2) at the refined x."""
    import gmpy2
    import numpy as np
    from mpmath.libmp import from_man_exp, mpf_neg

    def legendre(r):
        t1, t2 = gmpy2.mpfr(1), gmpy2.mpfr(0)
        for j in range(1, n + 1):
            t2, t1 = t1, ((2 * j - 1) * r * t1 - (j - 1) * t2) / j
        return t1, n * (r * t1 - t2) / (r * r - 1)      # P_n(r), P_n'(r)

    # float64 start: the asymptotic cos(pi (j - 1/4) / (n + 1/2)) polished by Newton (vectorised)
    x0 = np.cos(np.pi * (np.arange(1, n // 2 + 2) - 0.25) / (n + 0.5))[: (n + 1) // 2]
    if n % 2:
        x0[-1] = 0.0
    for _ in range(6):
        t1, t2 = np.ones_like(x0), np.zeros_like(x0)
        for j in range(1, n + 1):
            t2, t1 = t1, ((2 * j - 1) * x0 * t1 - (j - 1) * t2) / j
        x0 = x0 - np.where(x0 != 0, t1 / (n * (x0 * t1 - t2) / (x0 * x0 - 1)), 0.0)
    full = prec + 40
    out = []
    for r0 in x0:
        r, p = float(r0), 53
        while p < full:
            p = min(2 * p, full)
            with gmpy2.context(gmpy2.get_context(), precision=p):
                r = gmpy2.mpfr(r)
                if r != 0:          # x = 0 is a root exactly (odd n)
                    val, der = legendre(r)
                    r = r - val / der
        with gmpy2.context(gmpy2.get_context(), precision=full):
            r = gmpy2.mpfr(r)
            _, der = legendre(r)
            w = 2 / ((1 - r * r) * der * der)
        x, wt = (from_man_exp(int(m), int(e)) for m, e in
                 (r.as_mantissa_exp(), w.as_mantissa_exp()))
        out.append((x, wt))
        if r != 0:
            out.append((mpf_neg(x), wt))
    return out


class _GaussLegendre(mpmath.calculus.quadrature.GaussLegendre):
    """mpmath's Gauss-Legendre rule (degree m: 3 * 2^(m-1) nodes), its nodes from
    :func:`_legendre_nodes` and kept across contexts (mpmath recomputes them for every new
    context, and every reference call makes one)."""

    def calc_nodes(self, degree, prec, verbose=False):
        key = (degree, prec)
        if key not in _GL_NODES:
            _GL_NODES[key] = _legendre_nodes(3 * 2 ** (degree - 1), prec)
        return [(self.ctx.make_mpf(x), self.ctx.make_mpf(w)) for x, w in _GL_NODES[key]]


def test_reference_gauss_legendre_nodes_match_mpmath():
    """The reference's own Gauss-Legendre nodes against mpmath's calc_nodes (an independent
    algorithm: Newton from the asymptotic guess at 1.5 prec), degrees 1-5 (3-48 nodes)."""
    for dps in (30, 120):
        ctx = context(dps)
        for degree in range(1, 6):
            mine = sorted(_GaussLegendre(ctx).calc_nodes(degree, ctx.prec))
            ref = sorted(ctx._gauss_legendre.calc_nodes(degree, ctx.prec))
            assert len(mine) == len(ref) == 3 * 2 ** (degree - 1)
            for (x, w), (xr, wr) in zip(mine, ref):
                assert abs(x - xr) <= 16 * ctx.eps and abs(w - wr) <= 16 * ctx.eps


def reference(a, p, e, digits: int, rows: bool = False):
    """(F, its error, grad (n x d), its error) for c_i = p + a_i e, by Gauss-Legendre
    (mpmath.quad) at digits + 25 working digits on the breakpoints above; the error of each
    expectation is mpmath's own estimate."""
    wide = context(400)   # the spreads tested go down to 1e-300
    lo = min(abs(wide.mpf(x) - wide.mpf(y)) for x in a for y in a if x != y)
    top = max(abs(wide.mpf(x)) for x in a)
    spread = max(0, int(wide.log10(top / lo)) + 1)
    # at scales below 1, abar = sum w_i a_i can be |a|^2 small from terms of size |a|: that many
    # more digits (twice, for the loss's abar^2 and the gradient's products)
    cancel = max(0, int(-wide.log10(top)) + 1) * 2
    ctx = context(digits + 25 + spread + cancel)
    a = [ctx.mpf(x) for x in a]
    p = [ctx.mpf(x) for x in p]
    e = [ctx.mpf(x) for x in e]
    n, d = len(a), len(e)
    pts = _breakpoints(ctx, a)
    norm = 1 / ctx.sqrt(2 * ctx.pi)
    cache = {}
    rule = _GaussLegendre(ctx)   # one rule for every expectation: its node caches are shared

    def weights(u):
        # every expectation is integrated on the same nodes: the weights are computed once
        if u not in cache:
            lg = [x * u - x * x / 2 for x in a]
            top = max(lg)
            ex = [ctx.exp(t - top) for t in lg]
            s = ctx.fsum(ex)
            w = [t / s for t in ex]
            cache[u] = (w, ctx.fsum(wi * ai for wi, ai in zip(w, a)), ctx.exp(-u * u / 2) * norm)
        return cache[u]

    def E(g):
        def h(u):
            w, ab, phi = weights(u)
            return g(u, w, ab) * phi
        # mpmath.quad stops on an absolute tolerance (its eps): scale by the integrand's peak on
        # the breakpoints so that tolerance is relative (values here reach 1e-200)
        S = max(abs(h(u)) for u in pts[1:-1]) or ctx.mpf(1)
        val, err = ctx.quad(lambda u: h(u) / S, pts, error=True, method=lambda _: rule,
                            maxdegree=8)
        return val * S, err * S

    pp = ctx.fsum(x * x for x in p)
    EA2, eA2 = E(lambda u, w, ab: ab * ab)
    F = pp + EA2
    grad, gerr = [], []
    pmax = max(map(abs, p), default=0)
    for i in range(n):
        (Ew, ew), (Ewa, ewa), (Eu, eu), (Eh, eh) = (
            E(lambda u, w, ab, i=i: w[i]), E(lambda u, w, ab, i=i: w[i] * ab),
            E(lambda u, w, ab, i=i: w[i] * (u - a[i]) * (a[i] - ab) * ab),
            E(lambda u, w, ab, i=i: w[i] * (a[i] - ab) * ab))
        grad.append([2 * (Ew * p[j] + Ewa * e[j] + Eu * e[j] - Eh * p[j]) for j in range(d)])
        gerr.append(2 * (ew * pmax + ewa + eu + eh * pmax))
    return F, eA2, grad, (gerr if rows else max(gerr)), ctx


def collinear(a, p=None, e=None):
    """Parameters c_i = p + a_i e as exact decimal strings (e = (0.6, 0.8) is exact)."""
    e = e or [1]
    p = p or [0] * len(e)
    chk = context(60)
    assert abs(chk.fsum(chk.mpf(x) * chk.mpf(y) for x, y in zip(p, e))) < 1e-50, "p must be orthogonal to e"
    ctx = context(420)   # spreads down to 1e-300 must survive
    return [[mpmath.nstr(ctx.mpf(pj) + ctx.mpf(ai) * ctx.mpf(ej), 400) for pj, ej in zip(p, e)]
            for ai in a], p, e


def check(kind: str, a, digits: int, *, p=None, e=None, form="direct", backend="auto",
          case: str = "", est=None):
    """Engine vs reference for one quantity; returns the ratio |value - truth| / error.
    All comparisons run in the reference's context (never at the global 53 bits).  ``est``: a
    value already computed for exactly these parameters and digits (verify.loss at t = 0 with
    target 0 is model.F of the same c), judged instead of recomputing it."""
    c, p, e = collinear(a, p, e)
    F_ref, F_err, g_ref, g_err, ctx = reference(a, p, e, digits)
    cv = ctx.convert
    R = max(ctx.sqrt(ctx.fsum(cv(x) ** 2 for x in row)) for row in c)
    if kind == "loss":
        est = est if est is not None else model.F(c, digits, backend=backend)
        ref_err, size, err = F_err, abs(F_ref), cv(est.error)
        true_err = abs(cv(est.value) - F_ref)
        natural = R * R
    else:
        est = est if est is not None else model.grad_F(c, digits, form=form, backend=backend)
        ref_err = g_err
        size = ctx.sqrt(ctx.fsum(x * x for row in g_ref for x in row))
        err = max(cv(x) for row in est.error for x in row)
        true_err = max(abs(cv(x) - t) for row, trow in zip(est.value, g_ref)
                       for x, t in zip(row, trow))
        natural = R + R ** 3
    tenth = ctx.mpf(10) ** -digits
    # the reference must be far better than what it judges
    assert ref_err <= tenth / 1000 * size, f"reference not accurate enough: {ref_err} vs {size}"
    assert true_err <= err + ref_err, (
        f"{case}: error bound fails: |value - truth| = {mpmath.nstr(true_err, 5)} > stated "
        f"{mpmath.nstr(err, 5)} ({est.rule})")
    if est.rule.get("accuracy") == "absolute floor" and not est.rule.get("vanishes"):
        # the floor is for parts that vanish; the quantity itself has its digits (issue 24.1)
        assert true_err <= tenth * size + ref_err, (
            f"{case}: {mpmath.nstr(true_err, 5)} off is not {digits} significant digits of "
            f"{mpmath.nstr(size, 5)} ({est.rule})")
    elif est.rule.get("accuracy") == "absolute floor":
        assert err <= tenth * natural
    else:
        assert err <= tenth * size, (
            f"{case}: {mpmath.nstr(err, 5)} is not {digits} significant digits of "
            f"{mpmath.nstr(size, 5)} ({est.rule})")
    # the battery's measure: the true error beyond the reference's own uncertainty, over the
    # stated error (<= 1 when the bound holds)
    ratio = float(max(0, true_err - ref_err) / err) if err else 0.0
    label = f"{case or kind} {a} digits={digits} {form if kind != 'loss' else ''}"
    RATIOS.append((ratio, label))
    _record_digits(ctx, size, true_err, ref_err, digits, label)
    return est, ratio


# ------------------------------------------------------------------------------------------------
# The issue's table and a fixed battery
# ------------------------------------------------------------------------------------------------

def test_issue_witness_far_pair_with_near_component():
    """verify.loss([[30],[-30],[0]], [0], digits=30): the far means' mass sits at the tie points
    +-15, about e^{-r^2/8}; the issue's independent value is 5.1843731381776889e-48."""
    r = verify.loss([[30], [-30], [0]], [0], digits=30)
    issue_value = mpmath.mpf("5.1843731381776889e-48")
    assert abs(r.value - issue_value) <= r.error + mpmath.mpf("1e-16") * issue_value
    check("loss", [30, -30, 0], 30, case="issue table row 1", est=r)


# Both digits in the slow tier: the default tier's test_issue_witness_far_pair_with_near_component
# checks the same class (a far symmetric pair with a near component: the loss's mass at the tie
# points, ~e^{-r^2/8}) against the issue's value and the reference, at 30 digits.
@pytest.mark.parametrize("digits", [pytest.param(20, marks=pytest.mark.slow),
                                    pytest.param(30, marks=pytest.mark.slow)])
def test_issue_witness_25(digits):
    r = verify.loss([[25], [-25], [0]], [0], digits=digits)
    assert abs(r.value - mpmath.mpf("3.6590387630506871e-33")) <= r.error + mpmath.mpf("1e-49")
    check("loss", [25, -25, 0], digits, case="issue table rows 3-4", est=r)


SLOW = pytest.mark.slow
BATTERY = [
    # (kind, a (positions along the line), digits, p (offset, orthogonal to e), e, form)
    pytest.param("loss", [30, -30, 0], 20, None, ["0.6", "0.8"], "direct", marks=SLOW),  # row 2, d=2
    pytest.param("grad", [25, -25, 0], 12, None, None, "direct", marks=SLOW),
    ("grad", [25, -25, 0], 12, None, None, "stein"),
    pytest.param("loss", [60, 0], 10, None, None, "direct", marks=SLOW),  # separation 60, n = 2
    ("grad", [60, 0], 8, None, None, "direct"),                     # float64 -> mpmath fallback
    ("grad", [30, 0.3, -0.2], 15, None, None, "direct"),            # one far, others near
    pytest.param("loss", [-20, 0.5, 0.1, -0.4], 15, None, ["0.6", "0.8"], "direct", marks=SLOW),
    pytest.param("grad", [40, 41.5, 43], 12, None, None, "direct", marks=SLOW),  # target far
    pytest.param("loss", [3, 1.5, -1, -4, 6], 12, [4, -3], ["0.6", "0.8"], "direct",
                 marks=SLOW),                                       # n = 5, offset target
    ("grad", [2, -1.5, 0.5], 8, None, None, "direct"),              # float64 path
    ("grad", [2, -1.5, 0.5], 8, None, None, "stein"),
    pytest.param("grad", [12, -9, 0.25, 1], 10, [1, "-0.75"], ["0.6", "0.8"], "direct",
                 marks=SLOW),
]


@pytest.mark.parametrize("kind,a,digits,p,e,form", BATTERY)
def test_battery(kind, a, digits, p, e, form):
    check(kind, a, digits, p=p, e=e, form=form, case="battery")


@pytest.mark.parametrize("rel", ["1e-5", pytest.param("1e-40", marks=pytest.mark.slow), "1e-300"])
def test_tiny_spreads(rel):
    """Parameters 1 + rel * z_i: the spread digits enter the working precision, and the gradient
    (whose spread part is rel times its common part) keeps digits + spread digits."""
    wide = context(400)
    r = wide.mpf(rel)
    a = [1 + 2 * r, 1 - r, 1 + r / 2]
    digits = 8
    est, _ = check("grad", [mpmath.nstr(x, 400) for x in a], digits, case=f"tiny spread {rel}")
    assert est.precision.spread_digits >= -int(mpmath.log10(r)) - 1


@pytest.mark.parametrize("parameterisation", ["noised", "clean"])
def test_noise_level_and_parameterisations(parameterisation):
    """Through verify.api at t = 0.7: c_i = mu_i - e^{-t} m* (noised) or e^{-t}(m_i - m*) (clean);
    the clean gradient is e^{-t} grad_c F.  Reference from c formed here at 80 digits.  12
    digits (was 20): the mapping through t and the parameterisation is what is checked here;
    the engine's 20 and 30 digits are checked by the battery and the issue witnesses."""
    digits = 12
    params, target = [["9.5"], ["-2"], ["0.25"]], ["1.5"]
    ctx = context(80)
    s = ctx.exp(-ctx.mpf("0.7"))
    if parameterisation == "noised":
        a = [ctx.mpf(m[0]) - s * ctx.mpf(target[0]) for m in params]
    else:
        a = [s * (ctx.mpf(m[0]) - ctx.mpf(target[0])) for m in params]
    F_ref, F_err, g_ref, _, rctx = reference(a, [0], [1], digits)
    cv = rctx.convert
    lo = verify.loss(params, target, t="0.7", digits=digits, parameterisation=parameterisation)
    assert abs(cv(lo.value) - F_ref) <= cv(lo.error) + F_err
    assert cv(lo.error) <= rctx.mpf(10) ** -digits * F_ref
    RATIOS.append((float(abs(cv(lo.value) - F_ref) / cv(lo.error)), f"t=0.7 {parameterisation} loss"))
    g = verify.gradient(params, target, t="0.7", digits=digits, parameterisation=parameterisation)
    factor = s if parameterisation == "clean" else 1
    truth = [[cv(factor) * x for x in row] for row in g_ref]
    size = rctx.sqrt(rctx.fsum(x * x for row in truth for x in row))
    for row, erow, trow in zip(g.value, g.error, truth):
        for x, ex, tx in zip(row, erow, trow):
            assert abs(cv(x) - tx) <= cv(ex) + rctx.mpf(10) ** -(digits + 5) * size
            assert cv(ex) <= rctx.mpf(10) ** -digits * size
            RATIOS.append((float(abs(cv(x) - tx) / cv(ex)), f"t=0.7 {parameterisation} gradient"))


def test_vanishing_gradient_reports_the_absolute_floor():
    """At a symmetric pair c = (s, -s) with a third at 0 the third gradient vanishes by symmetry;
    at the thm3.1 construction only the floor can be asked of a gradient that vanishes."""
    g = model.grad_F([[0], [0]], 20)        # all equal at the target: k = 0, exact zero
    assert all(x == 0 for row in g.value for x in row)
    est, _ = check("grad", [1.3, -1.3, 0], 12, case="symmetric pair")
    assert abs(est.value[2][0]) <= est.error[2][0]


# ------------------------------------------------------------------------------------------------
# Property: random collinear configurations in the regimes of the issue
# ------------------------------------------------------------------------------------------------

position = st.one_of(st.floats(-2, 2), st.floats(8, 30), st.floats(-30, -8))
configs = dict(a=st.lists(position, min_size=2, max_size=5, unique=True),
               offset=st.sampled_from([None, [4, -3]]), two_d=st.booleans(),
               digits=st.sampled_from([8, 12, 20]),
               kind=st.sampled_from(["loss", "direct", "stein"]))


def _property(a, offset, two_d, digits, kind):
    a = [round(x, 3) for x in a]
    if len(set(a)) < 2:
        return
    e = ["0.6", "0.8"] if two_d else None
    p = offset if two_d else None
    try:
        check("loss" if kind == "loss" else "grad", a, digits, p=p, e=e,
              form="direct" if kind == "loss" else kind, case="property")
    except InaccurateError as err:
        assert str(err), "InaccurateError must carry its reason"


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=st.lists(st.one_of(st.floats(-2, 2), st.floats(8, 20), st.floats(-20, -8)),
                  min_size=2, max_size=3, unique=True), offset=configs["offset"],
       two_d=configs["two_d"], digits=st.just(8), kind=configs["kind"])
def test_property_bound_holds(a, offset, two_d, digits, kind):
    """Random collinear configurations (near, far and both), d = 1 or 2, both gradient forms."""
    _property(a, offset, two_d, digits, kind)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**configs)
def test_property_bound_holds_wide(a, offset, two_d, digits, kind):
    """The same property with n up to 5 and 20 digits."""
    _property(a, offset, two_d, digits, kind)


# ------------------------------------------------------------------------------------------------
# Beyond the engine: a reason, never a number with a false bound
# ------------------------------------------------------------------------------------------------

def test_two_separated_directions_beyond_budget_raise_with_reason(monkeypatch):
    monkeypatch.setattr(quadrature, "MAX_WORK_MP", 20_000)
    with pytest.raises(InaccurateError, match="budget"):
        model.F([[30, 0], [0, 30], [0, 0]], 30)


def test_many_components_end_with_budget_error_promptly(monkeypatch):
    """gradient([[i] for i in range(30)], [0], digits=30) used to run for minutes: the mpmath
    work budget bounds it (here lowered so the test is quick) and the error names the budget."""
    monkeypatch.setattr(quadrature, "MAX_WORK_MP", 50_000)
    t0 = time.perf_counter()
    with pytest.raises(InaccurateError, match="budget"):
        verify.gradient([[i] for i in range(30)], [0], digits=30)
    assert time.perf_counter() - t0 < 30


@pytest.mark.parametrize("kw,match", [
    ({"digits": 2 ** 70}, "digits"), ({"digits": MAX_DIGITS + 1}, "digits"),
    ({"dps": 10 ** 5}, "dps"), ({"dps": MAX_DPS + 1}, "dps"),
])
def test_precision_caps(kw, match):
    with pytest.raises(ValueError, match=match):
        verify.loss([[1], [-1]], [0], **kw)


@pytest.mark.parametrize("params", [[["1e308"], ["-1e308"]], [["1e400"], ["-1e400"]],
                                    [["1e400"], ["-1e400"], ["0"]]])
def test_huge_parameters_give_an_error_not_a_hang_or_inf(params):
    for fn in (verify.loss, verify.gradient):
        t0 = time.perf_counter()
        try:
            r = fn(params, [0], digits=10)
        except InaccurateError as err:
            assert str(err)
        else:
            errs = [r.error] if fn is verify.loss else [x for row in r.error for x in row]
            assert all(mpmath.isfinite(x) for x in errs)
        assert time.perf_counter() - t0 < 10


# ------------------------------------------------------------------------------------------------
# Significant digits or an error (issue 24, item 1)
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,a,digits", [
    ("loss", ["1e-20", "-1e-20", "0"], 20),     # was 11.5 correct digits, exit 0
    ("grad", ["1e-20", "-1e-20", "0"], 20),     # was 12.2
    ("grad", ["1e-10", "-1e-10"], 30),          # was 21.9 of 30
    ("grad", ["1e-8", "-2e-8", "1e-8"], 30),    # was 26.0 of 30
])
def test_issue24_values_have_the_digits_asked(kind, a, digits):
    """Small values that are not zero by symmetry: the policy raises the working precision until
    the error bound certifies the digits asked (the reference is the collinear quadrature)."""
    est, _ = check(kind, a, digits, case="issue 24 short digits")
    assert est.ok and est.rule["digits_reached"] >= digits, est.rule


def test_issue24_short_digits_are_reported_not_hidden():
    """With a fixed dps the precision is never raised: strict raises naming the digits reached,
    non-strict returns the value, its (true) error and the digits reached."""
    with pytest.raises(InaccurateError, match=r"of 30 significant digits"):
        verify.gradient([["1e-10"], ["-1e-10"]], [0], dps=40, digits=30)
    r = verify.gradient([["1e-10"], ["-1e-10"]], [0], dps=40, digits=30, strict=False)
    assert not r.ok and 0 < r.digits_reached < 30
    c, p, e = collinear(["1e-10", "-1e-10"])
    _, _, g_ref, g_err, rctx = reference(["1e-10", "-1e-10"], p, e, 40)
    assert abs(rctx.convert(r.value[0][0]) - g_ref[0][0]) <= rctx.convert(r.error[0][0]) + g_err


def _pair_reference(s, digits: int):
    """F and grad_1 F for the symmetric pair c = (s, -s) in 1-D, independently of the engine:
    v = s tanh(s y), so F = phi(s) = s^2 E[tanh^2(s y)] and grad_1 F = -grad_2 F = phi'(s) / 2
    (F is invariant under c -> (-c_2, -c_1)).  For s < 1e3 by mpmath.quad in y, split where
    tanh turns (|y| ~ 1/s); for s >= 1e3 through E[sech^2(s y)] = G(s)/s with
    G(s) = int phi_N(x/s) sech^2(x) dx, so F = s^2 - s G and phi' = 2 s - G - s G' (no
    cancellation: G ~ 0.8, s G << s^2).  Returns (F, grad_1, ctx)."""
    ctx = context(digits + 40)
    s = ctx.mpf(s)
    norm = 1 / ctx.sqrt(2 * ctx.pi)
    if s < 1000:
        pts = sorted({ctx.mpf(0)} | {sg * k / s for k in (1, 2, 4, 8, 16, 32) for sg in (-1, 1)}
                     | {ctx.mpf(j) for j in range(-12, 13)})
        pts = [-ctx.inf] + [q for q in pts if abs(q) <= 40] + [ctx.inf]

        def E(g):
            return ctx.quad(lambda y: g(y) * ctx.exp(-y * y / 2) * norm, pts)
        # mpmath.quad stops on an absolute tolerance: integrate tanh(s y)/s, of order y, not s y
        q = min(s, 1)
        T = E(lambda y: (ctx.tanh(s * y) / q) ** 2) * q * q
        dT = E(lambda y: 2 * (ctx.tanh(s * y) / q) * ctx.sech(s * y) ** 2 * y) * q
        return s * s * T, (2 * s * T + s * s * dT) / 2, ctx
    pts = [-ctx.inf, -60, -20, -6, -2, 0, 2, 6, 20, 60, ctx.inf]
    G = ctx.quad(lambda x: ctx.exp(-(x / s) ** 2 / 2) * norm * ctx.sech(x) ** 2, pts)
    dG = ctx.quad(lambda x: ctx.exp(-(x / s) ** 2 / 2) * norm * x * x / s ** 3
                  * ctx.sech(x) ** 2, pts)
    return s * s - s * G, (2 * s - G - s * dG) / 2, ctx


def _pair_case(exponent: int, target: str, digits: int, kind: str):
    """verify.loss/gradient at m = m* +- 10^exponent (exact decimal strings, t = 0, so the
    centred c = +-10^exponent exactly) against :func:`_pair_reference`."""
    wide = context(700)
    s = wide.mpf(10) ** exponent
    m = wide.mpf(target)
    params = [[mpmath.nstr(m + s, 650)], [mpmath.nstr(m - s, 650)]]
    F_ref, g_ref, ctx = _pair_reference(s, digits)
    tenth = ctx.mpf(10) ** -digits
    label = f"pair +-1e{exponent} about {target} digits={digits} {kind}"
    if kind == "loss":
        r = verify.loss(params, [target], digits=digits)
        pairs = [(r.value, r.error, F_ref)]
        size = F_ref
    else:
        r = verify.gradient(params, [target], digits=digits)
        pairs = [(r.value[0][0], r.error[0][0], g_ref), (r.value[1][0], r.error[1][0], -g_ref)]
        size = abs(g_ref) * ctx.sqrt(2)
    assert r.ok and r.rule["digits_reached"] >= digits, (label, r.rule)
    for val, err, truth in pairs:
        val, err = ctx.convert(val), ctx.convert(err)
        off = abs(val - truth)
        # the reference is good to ~digits + 30 (quadrature at digits + 40 working digits)
        slack = tenth * size * ctx.mpf(10) ** -25
        assert off <= err + slack, f"{label}: |value - truth| = {mpmath.nstr(off, 5)} > {err}"
        assert err <= tenth * size, f"{label}: {mpmath.nstr(err, 5)} is not {digits} digits"
        RATIOS.append((float(max(0, off - slack) / err) if err else 0.0, label))
        _record_digits(ctx, size, off, slack, digits, label)


@pytest.mark.parametrize("exponent,kind", [(-300, "loss"), (-300, "grad"), (-37, "grad"),
                                           # 12 s on one core (the 1e300 scale's reference
                                           # quadrature): the slow tier.  It ran for ever
                                           # until the tie widths stopped overflowing (see
                                           # test_quadrature_rules)
                                           pytest.param(300, "loss", marks=pytest.mark.slow),
                                           (-3, "loss")])
def test_pair_scales_pinned(exponent, kind):
    """The property's corners, pinned: 1e-300 and 1e300 (loss), small-scale gradients."""
    _pair_case(exponent, "0.75", 20, kind)


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exponent=st.integers(-300, 300), target=st.sampled_from(["0", "0.75", "-3"]),
       digits=st.integers(5, 30), kind=st.sampled_from(["loss", "grad"]))
def test_property_pair_scales(exponent, target, digits, kind):
    """Scales 1e-300..1e150 centred on the target (m = m* +- s): every returned value carries
    the digits asked against the independent pair reference.  The gradient is drawn up to
    s = 1e4 only: beyond, the direct form's |c|^3 terms cancel to |c| and the split rule's
    ladder tops out (see test_large_scale_gradient_reaches_its_digits).  The loss is drawn up
    to s = 1e150, the range the integrator states ("|c| up to ~1e150 works"); beyond it see
    test_loss_beyond_1e154_is_refused_when_the_offsets_overflow."""
    if kind == "grad" and exponent > 4:
        exponent = exponent % 9 - 4
    elif exponent > 150:
        exponent -= 300                 # loss: folded onto -150..0
    _pair_case(exponent, target, digits, kind)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=InaccurateError,
                   reason="known limit, found by test_property_pair_scales (exponent=250, "
                          "target='0', digits=22): the reduction leaves the pair's offsets, 0 "
                          "in exact arithmetic, at rounding size eps |c|^2 = 1.6e467, beyond "
                          "float64, and the split rule refuses to place ties it cannot represent "
                          "(1e200 likewise; at 1e150 and 1e300 the offsets stay finite or round "
                          "to 0 and the loss meets its digits)")
def test_loss_beyond_1e154_is_refused_when_the_offsets_overflow():
    _pair_case(250, "0", 22, "loss")


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=InaccurateError,
                   reason="known limit: the gradient at scale 1e20 reaches ~13 of 20 digits "
                          "(direct-form cancellation; the ladder tops out at GL 96/panel)")
def test_large_scale_gradient_reaches_its_digits():
    _pair_case(20, "0", 20, "grad")


# ------------------------------------------------------------------------------------------------
# Per-mean accuracy (issue 21, item 2)
# ------------------------------------------------------------------------------------------------

def _per_mean_case(r: int, digits: int):
    """verify.gradient([[r], [0], ['1e-3']], [0], accuracy="per-mean"): every mean's block,
    the far one (~e^{-r^2/8}) included, to ``digits`` significant digits of its own size, against
    the collinear reference (mpmath.quad on split panels: its breakpoints include the tie points
    r/2 and 5e-4, where the far mean wins and loses the softmax)."""
    a = [str(r), "0", "1e-3"]
    c, p, e = collinear(a)
    _, _, g_ref, g_err, ctx = reference(a, p, e, digits, rows=True)
    g = verify.gradient([[r], [0], ["1e-3"]], [0], digits=digits, accuracy="per-mean")
    tenth = ctx.mpf(10) ** -digits
    for i in range(3):
        val, err, truth = ctx.convert(g.value[i][0]), ctx.convert(g.error[i][0]), g_ref[i][0]
        size = abs(truth)
        assert g_err[i] <= tenth / 1000 * size, "reference not accurate enough"
        assert abs(val - truth) <= err + g_err[i], (r, i, val, truth, err)
        assert err <= tenth * size, (r, i, mpmath.nstr(err, 5), mpmath.nstr(size, 5))
        label = f"per-mean r={r} mean {i} digits={digits}"
        RATIOS.append((float(max(0, abs(val - truth) - g_err[i]) / err), label))
        _record_digits(ctx, size, abs(val - truth), g_err[i], digits, label)
    return g, g_ref


def test_per_mean_far_gradient_issue_witness():
    """The issue's witness at r = 50 (true far gradient -5.26e-134; the norm-relative default
    returns ~1e-277 there, inside its bound but with no correct digit)."""
    g, g_ref = _per_mean_case(50, 15)
    assert mpmath.nstr(g_ref[0][0], 3) == "-5.26e-134"
    q = verify.gradient([[50], [0], ["1e-3"]], [0], digits=15)
    assert abs(q.value[0][0] - g_ref[0][0]) <= q.error[0][0]     # its bound holds,
    assert q.error[0][0] > abs(g_ref[0][0])                          # but certifies no digit


@pytest.mark.slow
@pytest.mark.parametrize("r", [10, 20, 30, 40, 60])
def test_per_mean_far_gradient_separations(r):
    _per_mean_case(r, 20)


def test_per_mean_is_refused_for_other_objectives():
    with pytest.raises(ValueError, match="per-mean"):
        verify.gradient([[1], [0]], [0], digits=10, accuracy="per-mean", objective="gradient-em")



# ------------------------------------------------------------------------------------------------
# Separated configurations in 2 and 3 directions (issue 24, item 2): an independent reference
# ------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _trapezoid_cached(c: tuple, h: float, L: float):
    return trapezoid_reference([list(r) for r in c], h, L)


def trapezoid_reference(c, h: float, L: float):
    """F and grad F (direct form of SPEC §2, written out here) by the tensor trapezoid rule in the
    original coordinates y in R^d (d = 2 or 3), step h on [-L, L]^d, float64.

    Independent of the engines: no reduction to the span, no tie points, no grading, no Gauss
    rules.  The integrand is analytic in a strip around the reals (the softmax's poles lie at
    |Im <y, c_i - c_j>| = pi) and Gaussian-decaying, so the rule converges like e^{-const/h}; its
    error is estimated by the rule of step 2h (a subset of the nodes): |T_h - T_2h| bounds T_2h's
    error and so, conservatively, T_h's.  Returns (F, F error, G (n x d), max G error); the mass
    beyond L (d erfc(L/sqrt 2) |c|^2) is added to the errors."""
    import numpy as np
    c = np.array([[float(x) for x in row] for row in c])
    n, d = c.shape
    x = np.arange(-L, L + h / 2, h)
    phi = np.exp(-x * x / 2) / math.sqrt(2 * math.pi) * h
    half = 0.5 * (c * c).sum(axis=1)
    rest = np.array(np.meshgrid(*([x] * (d - 1)), indexing="ij")).reshape(d - 1, -1).T
    wrest = np.prod(np.array(np.meshgrid(*([phi] * (d - 1)), indexing="ij")).reshape(d - 1, -1),
                    axis=0)
    on_2h = np.all((np.rint((rest + L) / h).astype(int) % 2) == 0, axis=1)   # the 2h rule
    out = {1: [0.0, np.zeros((n, d))], 2: [0.0, np.zeros((n, d))]}
    for a, y0 in enumerate(x):
        Y = np.concatenate([np.full((len(rest), 1), y0), rest], axis=1)
        lg = Y @ c.T - half[None, :]
        lg -= lg.max(axis=1, keepdims=True)
        w = np.exp(lg)
        w /= w.sum(axis=1, keepdims=True)
        v = w @ c
        vv = (v * v).sum(axis=1)
        for step, mask, scale in ((1, slice(None), 1.0), (2, on_2h, 2.0 ** d)):
            if step == 2 and a % 2:
                continue
            wt = (wrest * phi[a])[mask] * scale
            acc = out[step]
            acc[0] += wt @ vv[mask]
            for i in range(n):
                t = w[mask, i] * wt
                s = (v[mask] @ c[i]) - vv[mask]             # <c_i - v, v>
                acc[1][i] += 2 * (t @ v[mask] + (t * s) @ (Y[mask] - c[i]))
    (F1, G1), (F2, G2) = out[1], out[2]
    R2 = float((c * c).sum(axis=1).max())
    tail = d * math.erfc(L / math.sqrt(2)) * (R2 + 2 * R2 * (1 + L))
    return F1, abs(F1 - F2) + tail, G1, float(np.abs(G1 - G2).max()) + tail


def _check_against_trapezoid(kind, params, digits, ref, case, **kw):
    """verify.loss / verify.gradient (target 0) against the trapezoid reference: the error bound
    holds, the digits asked are certified, and the agreement is recorded for the battery."""
    import numpy as np
    F_ref, F_err, G_ref, G_err = ref
    ctx = context(30)
    if kind == "loss":
        r = verify.loss(params, [0] * len(params[0]), digits=digits, **kw)
        diff, err, size, rerr = abs(float(r.value) - F_ref), float(r.error), abs(F_ref), F_err
    else:
        r = verify.gradient(params, [0] * len(params[0]), digits=digits, **kw)
        g = np.array([[float(x) for x in row] for row in r.value])
        diff = float(np.abs(g - G_ref).max())
        err = max(float(x) for row in r.error for x in row)
        size, rerr = float(np.linalg.norm(G_ref)), G_err
    assert r.ok and r.rule["digits_reached"] >= digits, r.rule
    assert err <= 10.0 ** -digits * size * (1 + 1e-9), (err, size)
    assert diff <= err + rerr, (kind, diff, err, rerr)
    RATIOS.append((max(0.0, diff - rerr) / err, f"{case} ({kind}, {digits} digits)"))
    _record_digits(ctx, ctx.mpf(size), ctx.mpf(diff), ctx.mpf(rerr), digits,
                   f"{case} ({kind})")
    return r


SEP3 = [[3, 0, 0], [0, 3, 0], [0, 0, 3], [0, 0, 0]]
SEP3_ISSUE = [[5, 0, 0], [0, 5, 0], [0, 0, 5], [0, 0, 0]]


def _rotated(params, seed: int):
    """A fixed random rotation and a cyclic permutation of the means (F is invariant, the gradient
    rotates and permutes with them)."""
    import numpy as np
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    c = np.array(params, dtype=float) @ q.T
    perm = list(range(1, len(params))) + [0]
    return c[perm].tolist(), q, perm


@pytest.mark.parametrize("kind", ["loss", "grad"])
def test_three_separated_directions_float64(kind):
    """Three separated directions (was refused at any digits): the compiled float64 engine, 6
    digits, against the trapezoid reference in the original coordinates."""
    ref = _trapezoid_cached(tuple(map(tuple, SEP3)), 0.125, 7.0)
    _check_against_trapezoid(kind, SEP3, 6, ref, "3 separated directions, |c| = 3")


def test_three_separated_directions_refusals():
    """What cannot run is refused before computing, with what would work."""
    with pytest.raises(InaccurateError, match=r"digits <= 10"):
        verify.loss(SEP3, [0, 0, 0], digits=20)
    with pytest.raises(InaccurateError, match=r"digits <= 9"):
        verify.gradient(SEP3, [0, 0, 0], digits=10)
    with pytest.raises(InaccurateError, match="form='direct'"):
        verify.gradient(SEP3, [0, 0, 0], digits=6, form="stein")
    with pytest.raises(InaccurateError, match="no dps"):
        verify.loss(SEP3, [0, 0, 0], dps=30)


def test_three_separated_directions_nonstrict_reports_digits_reached(monkeypatch):
    """strict=False beyond the float64 engine's digits: the value at its digits, with the
    (true) error and the digits reached (the engine's cap lowered to 6 here, so the test is
    quick; strict mode refuses the same call before computing)."""
    monkeypatch.setattr(quadrature, "SPLIT3_MAX_DIGITS", 6)
    ref = _trapezoid_cached(tuple(map(tuple, SEP3)), 0.125, 7.0)
    with pytest.raises(InaccurateError, match=r"digits <= 6"):
        verify.loss(SEP3, [0, 0, 0], digits=30)
    r = verify.loss(SEP3, [0, 0, 0], digits=30, strict=False)
    assert not r.ok and 6 <= r.digits_reached < 30
    assert abs(float(r.value) - ref[0]) <= float(r.error) + ref[1]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["loss", "grad"])
def test_three_separated_directions_issue_call(kind):
    """The issue's call loss([[5,0,0],[0,5,0],[0,0,5],[0,0,0]], [0,0,0], digits=10, strict=False)
    (and its gradient), against the trapezoid reference at h = 0.1; then a rotated and permuted
    copy, which must give the same loss and the rotated, permuted gradient."""
    import numpy as np
    ref = _trapezoid_cached(tuple(map(tuple, SEP3_ISSUE)), 0.0625, 9.0)
    digits = 10 if kind == "loss" else 9        # the gradient's cap: quadrature.SPLIT3_*
    r = _check_against_trapezoid(kind, SEP3_ISSUE, digits, ref, "issue 24: 3 separated, |c| = 5",
                                 strict=False)
    assert r.rule["engine"].startswith("compiled float64")
    rot, q, perm = _rotated(SEP3_ISSUE, 7)
    G_rot = (np.array(ref[2]) @ q.T)[perm]
    _check_against_trapezoid(kind, rot, digits, (ref[0], ref[1], G_rot, ref[3]),
                             "issue 24: rotated")
    if kind == "grad":
        # the issue's digits=10, strict=False: the value with its (true) error and digits reached
        g = verify.gradient(SEP3_ISSUE, [0, 0, 0], digits=10, strict=False)
        diff = float(np.abs(np.array(g.value, dtype=float) - ref[2]).max())
        assert diff <= max(float(x) for row in g.error for x in row) + ref[3]
        assert g.digits_reached >= 9


def test_two_separated_directions_beyond_budget_refused_up_front():
    """gradient([[10,0],[0,10],[0,0]], [0,0], digits=20, strict=False) ran over 600 s: now it is
    refused before computing (an optimistic count of the split rule's nodes), naming the digits
    that work; at those digits the values agree with the trapezoid reference."""
    params = [[10, 0], [0, 10], [0, 0]]
    for fn in (verify.loss, verify.gradient):
        with pytest.raises(InaccurateError, match=r"refused before computing.*digits <= \d+"):
            fn(params, [0, 0], digits=20, strict=False)
    ref = trapezoid_reference(params, 0.025, 11.0)
    _check_against_trapezoid("loss", params, 12, ref, "issue 24: [[10,0],[0,10],[0,0]]")
    _check_against_trapezoid("grad", params, 10, ref, "issue 24: [[10,0],[0,10],[0,0]]")


def test_zz_report_worst_ratio():
    """The battery's worst |value - truth| / stated error (printed with -s; must be <= 1)."""
    if not RATIOS:
        pytest.skip("no ratios recorded (tests deselected)")
    worst = max(RATIOS)
    for r in sorted(RATIOS)[-4:]:
        print(f"  ratio {r[0]:.3g}: {r[1]}")
    print(f"\nworst |value - truth| / error over {len(RATIOS)} checks: {worst[0]:.3g} ({worst[1]})")
    if DIGITS:
        low = min(DIGITS)
        print(f"worst digits reached / digits asked over {len(DIGITS)} checks: {low[0]:.3g} "
              f"({low[1]})")
        assert low[0] >= 1
    assert worst[0] <= 1
