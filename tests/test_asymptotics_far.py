"""Properties of the far-regime reduced law (issue 11, item 7; verify/asymptotics/far.py,
proofs/far_drift.py): g(r) against the full gradient of the model (an independent implementation,
and finite differences of its loss), the float64 rule against the mpmath reference, the drift law
against its derived asymptotic series for large r, the law against full GD, and bad input.
Mutants (a wrong power of r, a wrong constant) must be falsified by the same properties.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proofs import far_drift
from verify import dynamics, model
from verify.asymptotics import far

from test_properties import falsified  # tests/ is on sys.path


# ---- g(r) against the model's full gradient -------------------------------------------------

def prop_g_matches_model_gradient(case):
    """The far mean's radial gradient from verify.model (direct form, its own quadrature) equals
    -g at (delta, r), within the two error estimates."""
    r, delta, m = case
    c = [[delta]] + [[r]] * m
    est = model.grad_F(c, 10)
    g, err = far.drift_mp(r, m, delta=delta, digits=12)
    got = -float(est.value[1][0])
    tol = 10 * (float(est.error[1][0]) + float(err)) + 1e-12 * abs(got)
    assert abs(got - float(g)) <= tol, (case, got, float(g), tol)


@settings(max_examples=6, deadline=None)
@given(st.tuples(st.floats(4.0, 9.0), st.floats(-0.05, 0.05), st.integers(1, 3)))
@example((5.0, 0.0, 1))
@example((8.0, 0.001, 2))
def test_g_matches_model_gradient(case):
    prop_g_matches_model_gradient(case)


def test_g_is_minus_dF_dr_by_finite_differences():
    # central differences of the model's loss (its own rule) along the cluster's radius
    r, m, h = 6.0, 2, 1e-3
    Fp = model.F([[0.0]] + [[r + h]] * m, 14)
    Fm = model.F([[0.0]] + [[r - h]] * m, 14)
    fd = -(float(Fp.value) - float(Fm.value)) / (2 * h) / m
    g, _ = far.drift_mp(r, m, delta=0, digits=14)
    # truncation error of the central difference: h^2/6 |F'''| ~ h^2 r^4/400 |F'| here
    assert abs(fd / float(g) - 1) < h * h * r ** 4 / 100, (fd, float(g))


def test_mutant_gradient_is_falsified():
    # a drift with the far mean's weight squared once too often is not the model's gradient
    def mutant(case):
        r, delta, m = case
        est = model.grad_F([[delta]] + [[r]] * m, 10)
        g, err = far.drift_mp(r, m, delta=delta, digits=12)
        assert abs(-float(est.value[1][0]) - 1.01 * float(g)) <= 10 * float(err + est.error[1][0])
    assert falsified(st.tuples(st.floats(4.0, 9.0), st.just(0.0), st.just(1)),
                     lambda f, c: f(c), mutant, max_examples=3)


# ---- the law's own drift (tables and the fast rule) at m > 1 ---------------------------------

@pytest.mark.parametrize("m", [1, 2, 3])
def test_law_tables_and_fast_drift_match_mpmath_per_m(m):
    # the law integrates its own g (law_values' interpolation tables, drift_fast); both must be
    # -(1/m) dFt/dr for every m, against drift_mp (mpmath, another rule) at the slow manifold's
    # delta: a rule that drops the 1/m is off by the factor m at m = 2, 3
    rs = np.array([4.3, 6.1, 8.7])
    lv = far.law_values(rs, m)
    for k, r in enumerate(rs):
        g, err = far.drift_mp(float(r), m, delta=far.near_offset(float(r), m), digits=15)
        g = float(g)
        assert abs(lv["g"][k] - g) <= lv["g_error"][k] + float(err) + 1e-12 * abs(g), (r, m)
        # drift_fast is the coarser of node_values' two rules: within their difference
        _, g_err, _, _ = far.node_values(float(r), m)
        assert abs(far.drift_fast(float(r), m) - g) <= g_err + float(err) + 1e-12 * abs(g), (r, m)


# ---- the float64 rule against the mpmath reference -------------------------------------------

@pytest.mark.parametrize("r,m", [(4.0, 1), (6.5, 2), (10.0, 1), (20.0, 3), (35.0, 1)])
def test_float64_drift_matches_mpmath(r, m):
    d = far.drift(r, m)
    g, err = far.drift_mp(r, m, delta=d.delta, digits=15)
    assert err <= 1e-15 * abs(g)
    # the float64 rule's estimate (halved panels) plus rounding of ~2000-node sums
    assert abs(d.g / float(g) - 1) <= 50 * d.g_error / d.g + 1e-13


def test_near_offset_is_stationary_and_small():
    for r in (5.0, 8.0):
        dl = far.near_offset(r, 1)
        assert abs(far._integrals(r, dl, 1)[2]) < 1e-14
        # the near mean is pulled toward the cluster by ~g/2 (a relative e^{-r^2/8} effect on g)
        assert 0 < dl < far.drift(r, 1).g


# ---- the drift law against its derived asymptotic series --------------------------------------

B = far_drift.g_coefficients(1, 3)  # exact b1, b2, b3 at m = 1


def prop_asymptotic_series(form, r):
    """g = lead (1 + b1/r^2 + b2/r^4 + ...):  r^4 (g / (lead (1 + b1/r^2)) - 1) -> b2, with the
    next term (b3 - b1 b2)/r^2 (derived) bounding the gap up to a factor 2 for r >= 12."""
    b1, b2, b3 = (float(x) for x in B)
    g, err = far.drift_mp(r, 1, delta=0, digits=20)
    rem = (float(g) / form(r) - 1) * r ** 4
    assert abs(rem - b2) <= 2 * abs(b3 - b1 * b2) / r ** 2 + float(err / g) * r ** 4, (r, rem, b2)


def two_term(r):
    return far.g_asymptotic(r, 1, order=1)


@settings(max_examples=4, deadline=None)
@given(st.floats(12.0, 40.0))
@example(12.0)
@example(40.0)
def test_drift_law_matches_asymptotic_series(r):
    prop_asymptotic_series(two_term, r)


def test_b1_closed_form_matches_series():
    assert abs(float(B[0]) - (-4 - math.pi ** 2 / 2)) < 1e-14
    for m in (2, 3):
        b1 = -4 - math.pi ** 2 / 2 + 2 * math.log(m) - math.log(m) ** 2 / 2
        assert far_drift.correction_b1(m) == pytest.approx(b1, rel=1e-14)
        # the law's b1 comes from the series with m substituted: the same number by another route
        if m == 2:
            assert far.correction_b1(m) == pytest.approx(b1, rel=1e-14)
        # numbers: r^2 (g/lead - 1) -> b1, the gap of order b2/r^2 (|b2| < 50 for m <= 3)
        g, _ = far.drift_mp(30.0, m, delta=0, digits=15)
        assert abs((float(g) / far.g_asymptotic(30.0, m) - 1) * 900 - b1) < 50 / 900 * 2


def test_mutant_wrong_power_of_r_is_falsified():
    def wrong_power(r):       # r^3 instead of r^2 in the leading term
        return two_term(r) * r
    assert falsified(st.floats(12.0, 40.0), prop_asymptotic_series, wrong_power, max_examples=3)


def test_mutant_wrong_constant_is_falsified():
    def wrong_constant(r):    # sqrt(pi/8) replaced by sqrt(pi/4)
        return two_term(r) * math.sqrt(2)
    assert falsified(st.floats(12.0, 40.0), prop_asymptotic_series, wrong_constant, max_examples=3)


def test_law_slope_approaches_derived_form():
    law = far.integrate(6.0, 0.01, 1, tau_max=1e12, points_per_decade=10)
    ratios = far.asymptotic_ratios(law)
    assert far.law_consistent(ratios)
    e = ratios["end"]
    # s = -1 - 8/r^2 + O(r^-4): the O(r^-4) gap, measured against the derived 8/r^2
    assert abs(e["slope_excess_r2_over_8"] - 1) < 40 / e["r"] ** 2
    assert -1.1 < e["slope"] < -1.0


# ---- the law against full gradient descent ------------------------------------------------------

ETA = 0.0144


@pytest.fixture(scope="module")
def short_run():
    # near mean at the target, far one at 5: it moves from 5 to ~7 in 3000 steps
    run = getattr(dynamics, "run_gd_batch", None)
    return (run([[[0.0], [5.0]]], ETA, 3000, digits=8, progress=False)[0] if run else
            dynamics.run_gd([[0.0], [5.0]], ETA, 3000, digits=8, progress=False))


def test_law_matches_full_gd_short_run(short_run):
    v = far.validate(short_run, ETA, tau_max=1e6, min_span=2.0)
    assert v.passed, v.summary()
    assert v.r_gap < far.GAP_TOL["r"] and v.loss_gap < far.GAP_TOL["loss"]


def test_validation_catches_a_ten_percent_wrong_step(short_run):
    # a law with the step 10% off moves the loss by ~10% over the compared range: above the loss
    # allowance (1e-2, the size below which a gap cannot change a power of tau or a log factor),
    # so the validation must fail -- an allowance inflated 100x would let it pass
    v = far.validate(short_run, ETA * 1.1, tau_max=1e6, min_span=2.0)
    assert not v.passed and far.GAP_TOL["loss"] < v.loss_gap < 100 * far.GAP_TOL["loss"], v.summary()


def test_validation_catches_a_wrong_law(short_run):
    # the same run against a law with the step halved must fail the gap tolerance
    v = far.validate(short_run, ETA / 2, tau_max=1e6, min_span=2.0)
    assert not v.passed


# ---- bad input and global precision ------------------------------------------------------------

def test_refuses_outside_regime():
    with pytest.raises(ValueError, match="r >= "):
        far.drift(2.0, 1)
    with pytest.raises(ValueError, match="not converged"):
        far.drift_mp(6.0, 1, delta=0.8)
    with pytest.raises(ValueError, match="m "):
        far.drift(6.0, 0)
    with pytest.raises(ValueError, match="eta"):
        far.integrate(6.0, -1.0)


def test_global_precision_untouched():
    before = mpmath.mp.prec
    far.drift_mp(15.0, 1, digits=20)
    assert mpmath.mp.prec == before


def test_steps_to_move_matches_time_law():
    # (1/eta) int dr/g against the derived time law T(r) (leading two terms) at large r
    import sympy as sp
    T, _b1 = far_drift.time_law()
    f = sp.lambdify(far_drift.r, T.subs(far_drift.m, 1), "math")
    r = 20.0
    steps = far.steps_to_move(r, 1.0, 1.0, 1)
    assert steps == pytest.approx(f(r + 1) - f(r), rel=3 * 150 / r ** 4)
    assert np.isfinite(steps)


def test_law_from_state_refuses_non_regime_states():
    with pytest.raises(ValueError, match="near mean is not converged"):
        far.law_from_state([[0.3, 0.0], [6.0, 0.0]], 0.01)
    with pytest.raises(ValueError, match="not equal"):
        far.law_from_state([[0.0, 0.0], [6.0, 0.0], [6.5, 0.0]], 0.01)
    with pytest.raises(ValueError, match="r >= "):
        far.law_from_state([[0.0], [2.0]], 0.01)
    law = far.law_from_state([[0.01, 0.0], [0.0, 6.0], [0.0, 6.0]], 0.01, tau_max=1e3)
    assert law.m == 2 and law.r0 == pytest.approx(6.0)


# ---- the law's own numerical tools (no SciPy): logistic, ODE integrator, interpolation ---------

def test_logistic_pair_matches_mpmath_everywhere():
    z = np.concatenate([np.linspace(-800, 800, 161), [-1e-300, 0.0, 1e-300, -36.7, 36.7]])
    W, V = far.logistic_pair(z)
    with mpmath.workdps(40):
        for zi, w, v in zip(z, W, V):
            ref_w = 1 / (1 + mpmath.exp(-mpmath.mpf(zi)))
            ref_v = 1 / (1 + mpmath.exp(mpmath.mpf(zi)))
            # full relative precision, also in the tails (where 1 - W would cancel)
            for got, ref in ((w, ref_w), (v, ref_v)):
                if ref < 1e-307:
                    assert got == 0 or abs(got - float(ref)) < 1e-320
                else:
                    assert abs(got / float(ref) - 1) <= 4e-16, (zi, got, ref)


@pytest.mark.parametrize("rtol", [1e-6, 1e-10])
def test_dopri45_against_closed_forms(rtol):
    from verify.asymptotics.ode import dopri45
    grid = np.linspace(0.0, 3.0, 13)
    # y' = -2 u y^2, y(0) = 1: y = 1/(1 + u^2); y' = y cos u: y = e^{sin u}
    for f, exact, dexact in (
            (lambda u, y: -2 * u * y * y, lambda u: 1 / (1 + u * u), lambda u: -2 * u / (1 + u * u) ** 2),
            (lambda u, y: y * math.cos(u), lambda u: math.exp(math.sin(u)),
             lambda u: math.cos(u) * math.exp(math.sin(u)))):
        y, dy, steps = dopri45(f, exact(0.0), grid, rtol=rtol, atol=1e-15)
        ref = np.array([exact(u) for u in grid])
        dref = np.array([dexact(u) for u in grid])
        # global error: a few hundred local tolerances over the run at most
        assert np.max(np.abs(y - ref) / np.abs(ref)) <= 100 * rtol
        assert np.max(np.abs(dy - dref)) <= 100 * rtol * np.max(np.abs(dref)) + 1e-14
        assert steps >= len(grid) - 1


def test_dopri45_refuses_bad_input():
    from verify.asymptotics.ode import dopri45
    with pytest.raises(ValueError, match="increasing"):
        dopri45(lambda u, y: y, 1.0, [0.0, 0.0, 1.0], rtol=1e-8)
    with pytest.raises(ValueError, match="tolerances"):
        dopri45(lambda u, y: y, 1.0, [0.0, 1.0], rtol=0.0)


def test_hermite_fourth_order_against_closed_form():
    from verify.asymptotics.ode import hermite
    for k in (10, 20):
        xs = np.linspace(0.0, 2.0, k + 1)
        x = np.linspace(0.0, 2.0, 1001)
        got = hermite(x, xs, np.sin(3 * xs), 3 * np.cos(3 * xs))
        h = xs[1] - xs[0]
        assert np.max(np.abs(got - np.sin(3 * x))) <= h ** 4 * 3 ** 4 / 384 * 1.0001


def test_law_time_matches_separable_quadrature():
    # dr/dtau = eta g(r) is autonomous: tau = (1/eta) int_{r0}^{r(tau)} dr'/g(r') -- an independent
    # computation (Gauss-Legendre in r, no ODE) of the time the integrator says it took
    eta = 0.01
    law = far.integrate(4.0, eta, 1, tau_max=1e6, points_per_decade=5)
    for k in (6, 15, len(law.tau) - 1):
        tau_q = far.steps_to_move(4.0, float(law.r[k] - 4.0), eta, 1)
        # the r error moves tau by dr / (eta g)
        slack = (law.r_error + 1e-12) / (eta * far.drift_fast(float(law.r[k]), 1))
        assert abs(tau_q - law.tau[k]) <= 1e-7 * law.tau[k] + slack, (k, tau_q, law.tau[k])
    # and the interpolant between grid points, against the same quadrature
    t_mid = math.sqrt(law.tau[10] * law.tau[11])
    r_mid = float(law.r_at(t_mid))
    assert far.steps_to_move(4.0, r_mid - 4.0, eta, 1) == pytest.approx(
        t_mid, rel=1e-6 + float(law.r_at_error(t_mid)) * 20)


def test_log_weight_mass_against_mpmath_quadrature():
    # E[min(1, e^{k(x - t)})], x ~ N(0,1), by mpmath quad at 40 digits (split at x = t), and the
    # normal tail far beyond float64's range against mpmath's erfc
    with mpmath.workdps(40):
        for t, k in ((0.5, 1.0), (3.0, 0.7), (12.0, 2.0), (40.0, 5.0), (-1.0, 2.0)):
            phi = lambda x: mpmath.exp(-x * x / 2) / mpmath.sqrt(2 * mpmath.pi)
            # the first integrand is a Gaussian bump at x = k (width 1): breakpoints every 2 across it
            pts = [-mpmath.inf] + [k + j for j in range(-12, 13, 2) if k + j < t] + [t]
            ref = (mpmath.quad(lambda x: mpmath.exp(k * (x - t)) * phi(x), pts)
                   + mpmath.quad(phi, [t, mpmath.inf]))
            got = float(far.log_weight_mass(np.array([t]), np.array([k]))[0])
            assert abs(got - float(mpmath.log(ref))) <= 1e-9 * max(1.0, abs(got)), (t, k)
        for t in (30.0, 1e3, 1e8):
            ref = mpmath.log(mpmath.erfc(mpmath.mpf(t) / mpmath.sqrt(2)) / 2)
            got = float(far.log_normal_tail(np.array([t]))[0])
            assert abs(got / float(ref) - 1) <= 1e-14 + 15 / t ** 6


def test_two_phase_from_parts_beyond_float64_resolution():
    # at M0 = 1e14 float64 cannot hold M0 u + z to the offsets (ulp 1/64): the parts form decides
    # the closest mean from 2 M0 u.z + |z|^2, computed here independently in mpmath
    from verify.outcomes import far_parts
    M0 = 1e14
    for seed in (52, 83, 7):
        u, z = far_parts(3, 2, seed)
        tp = far.two_phase(far_parts=(M0, u, z))
        with mpmath.workdps(50):
            sq = [sum((mpmath.mpf(M0) * mpmath.mpf(float(ui)) + mpmath.mpf(float(zi))) ** 2
                      for ui, zi in zip(u, row)) for row in z]
        assert tp.closest == min(range(3), key=lambda i: sq[i])
        assert tp.applies and tp.log10_displacement < -1000    # t ~ M0 gap: mass ~ e^{-t^2/2}


def test_log_normal_tail_below_minus_nine_is_erfc_rounded():
    # below t = -9 the rule skips erfc: float64's erfc(t / sqrt 2) is exactly 2.0 there, and the
    # true ln Phi(-t) = ln(1 - Phi(t)) is within 2e-19 of the 0.0 returned (mpmath, 30 digits)
    ts = np.concatenate([np.linspace(-60.0, -9.0, 513), [-9.0, -1e3, -1e8]])
    assert all(math.erfc(t / math.sqrt(2)) == 2.0 for t in ts)
    got = far.log_normal_tail(ts)
    assert np.all(got == 0.0)
    with mpmath.workdps(30):
        for t in (-9.0, -12.0, -40.0):
            ref = mpmath.log(mpmath.erfc(mpmath.mpf(t) / mpmath.sqrt(2)) / 2)
            assert abs(float(ref)) <= 2e-19
    # just above the cut the per-element erfc path is kept (values not rounded to 0)
    assert far.log_normal_tail(np.array([-8.0]))[0] != 0.0


def test_moments_from_the_taylor_series_are_the_derivatives_of_phi():
    """K_j read off the Taylor series of Phi(1/2 + h) are the expressions obtained by
    differentiating the Mellin transform j times (the slow route), j = 0..6."""
    fast = far_drift.moments(6)
    slow = far_drift.moments_by_differentiation(6)
    assert len(fast) == 7 and all(f == s_ for f, s_ in zip(fast, slow))


def test_log_normal_tail_is_its_scalar_formula_bit_for_bit():
    """The compiled ln Phi(-t) gives the float64 values of its formula written with the math
    module (math.erfc, math.log, math.log1p call the same C library), over each branch and their
    edges, with random points between the grid's; shape and non-finite inputs are kept."""
    rng = np.random.default_rng(5)
    t = np.concatenate([np.linspace(-12.0, 40.0, 20001), rng.uniform(-10.0, 60.0, 20000),
                        rng.standard_normal(5000) * 3, [-9.0, np.nextafter(-9.0, 0), 25.0,
                        np.nextafter(25.0, 0), 0.0, 1e8, 1e150]])

    def scalar(x):
        if x < -9:
            return 0.0
        if x < 25:
            return math.log(0.5 * math.erfc(x / math.sqrt(2)))
        return -x * x / 2 - math.log(x * math.sqrt(2 * math.pi)) + math.log1p(-1 / (x * x) + 3 / (x * x) ** 2)

    with np.errstate(over="ignore"):  # at x = 1e150, (x x)^2 is inf and its term 3/inf is 0, as meant
        reference = np.array([scalar(x) for x in t])
    assert np.array_equal(far.log_normal_tail(t), reference)
    grid = t[:20000].reshape(4, 50, 100)
    assert np.array_equal(far.log_normal_tail(grid), far.log_normal_tail(grid.ravel()).reshape(grid.shape))
    assert np.isnan(far.log_normal_tail(np.array([np.nan]))[0])


@pytest.mark.parametrize("n,M0", [(2, 5.0), (2, 20.0), (2, 100.0), (3, 1e3), (3, 1e5),
                                  (2, 1.4e9 * math.sqrt(2) * 2 ** 10), (3, 1e14)])
def test_two_phase_batch_agrees_with_scalar_rule(n, M0):
    # the vectorised reduction (thm3.5's seeds at once) against the per-start loop: the same
    # decision for every start and the same numbers to float64 rounding (relative 1e-11; the
    # elementwise arithmetic is the same, only vectorised transcendental kernels may differ by ulps)
    from verify.outcomes import far_parts
    parts = [far_parts(n, 2, s) for s in range(60)]
    b = far.two_phase_batch(M0, np.array([p[0] for p in parts]), np.array([p[1] for p in parts]))
    for k, p in enumerate(parts):
        r = far.two_phase(far_parts=(M0,) + p)
        assert r.closest == b["closest"][k] and r.applies == b["applies"][k], (k, r)
        for f in ("log10_displacement", "log10_perturbation", "phase1_time", "min_tie", "r_far_min"):
            a, c = getattr(r, f), float(b[f][k])
            assert a == c or abs(a - c) <= 1e-11 * abs(a), (k, f, a, c)


def test_nodes_edges_strictly_increasing():
    # far._nodes joins its panel edges without sorting: they must already be strictly increasing
    # (what np.unique of the same pieces returns) across the law's range of r, delta and m
    for r in (3.0, 3.7, 5.0, 8.25, 15.0, 40.0):
        for delta in (-0.5, -1e-3, 0.0, 1e-6, 0.3):
            for m in (1, 2, 3):
                for refine in (1, 2):
                    y, _w = far._nodes(r, delta, m, refine)
                    assert np.all(np.diff(y) > 0), (r, delta, m, refine)


def test_dF_ddelta_is_the_integrals_third_term():
    # near_offset's secant evaluates only dF/ddelta: the same float as the full rule's third term
    for r in (3.0, 4.5, 9.0, 16.0):
        for delta in (-0.2, 0.0, 1e-7, 0.4):
            for m in (1, 2):
                assert far._dF_ddelta(r, delta, m) == far._integrals(r, delta, m)[2]


# ---- the law by its time integral against the ODE reference ---------------------------------------

def test_time_integral_law_matches_ode_reference():
    # two independent integrations of dr/dtau = eta g(r): the inverted time integral over the
    # interpolation tables against Dormand-Prince in u = ln(1 + tau) (every stage a fresh quadrature)
    for r0, eta, m, tmax in ((5.0, 0.0144, 2, 1e4), (3.1, 0.01, 1, 1e3)):
        new = far.integrate(r0, eta, m, tau_max=tmax, points_per_decade=5)
        old = far.integrate_ode(r0, eta, m, tau_max=tmax, points_per_decade=5)
        gap = np.max(np.abs(new.r - old.r))
        assert gap <= new.r_error + old.r_error, (r0, m, gap, new.r_error, old.r_error)
        assert new.r_error < 1e-7 and new.r[-1] - r0 > 0.1       # a moving law, a tight error
        # slopes and losses from the tables' interpolants against direct quadratures
        assert np.max(np.abs(new.loss / old.loss - 1)) < 1e-9
        assert np.max(np.abs(new.drdu / old.drdu - 1)) < 1e-9


def test_law_values_match_direct_drift():
    rs = np.array([3.05, 4.77, 6.2, 9.9])
    far.integrate(3.0, 1.0, 1, tau_max=1e3)           # tables built past r = 10
    lv = far.law_values(rs, 1)
    for k, r in enumerate(rs):
        d = far.drift(float(r), 1)
        assert abs(lv["g"][k] - d.g) <= lv["g_error"][k] + d.g_error, (r, lv["g"][k], d.g)
        assert abs(lv["loss"][k] - d.loss) <= lv["loss_error"][k] + d.loss_error
        # the estimate is small where it matters (largest on the first panel: ln g is singular
        # at the drift's zero r_c ~ 2.4, 0.6 below it, which slows the 8-node interpolant)
        assert lv["g_error"][k] < 1e-7 * d.g and lv["loss_error"][k] < 1e-7 * d.loss


# ---- the two-phase reduction against a direct vector computation (issue 20, mutation survivors) ----

def _phi_log(x: float) -> float:
    """ln Phi(x) by mpmath at 30 digits (independent of far.log_normal_tail)."""
    with mpmath.workdps(30):
        return float(mpmath.log(mpmath.ncdf(x)))


@pytest.mark.parametrize("M0,allow", [(1e3, 1e-9), (1e3, 0.1), (300.0, 1e-9)])
def test_two_phase_geometry_against_vectors(M0, allow):
    # the tie distances, the far means' distances and the displacement/perturbation bounds from
    # the vectors themselves (norms of b - lam a, the bisecting hyperplane's distance from the
    # origin), with Phi from mpmath: the scalar expansion in two_phase must give the same numbers
    rng = np.random.default_rng(7)
    n, d, near_tol, grid = 3, 2, 0.05, 400
    u = np.array([0.6, 0.8])
    c0 = M0 * u + rng.standard_normal((n, d))
    tp = far.two_phase(c0, allow=allow, near_tol=near_tol, grid=grid)
    norms = np.linalg.norm(c0, axis=1)
    i = int(np.argmin(norms))
    assert tp.closest == i
    lam = np.concatenate([[1.0], np.geomspace(1.0, near_tol / norms[i], grid)[1:]])
    ties, masses = [], []
    for j in range(n):
        if j == i:
            continue
        for lm in lam:
            a = lm * c0[i]
            k = np.linalg.norm(c0[j] - a) + allow
            t = ((norms[j] - allow) ** 2 - a @ a) / (2 * k)
            ties.append(t)
            masses.append(np.logaddexp(_phi_log(-t), k * k / 2 - k * t + _phi_log(t - k)))
    assert tp.min_tie == pytest.approx(min(ties), rel=1e-9)
    assert tp.r_far_min == pytest.approx(min(norms[j] for j in range(n) if j != i) - allow,
                                         rel=1e-14)
    worst = max(masses)
    R = norms.max() + allow
    log_pert = (math.log(2 * (n - 1)) + worst / 2 + math.log(3 * R + 2 * R * R * math.sqrt(d + R * R))
                - math.log(2 * near_tol))
    p = math.exp(log_pert)
    s1 = math.log(norms[i] / near_tol) / (2 * (1 - p))
    log_disp = math.log(s1) + math.log(2) + worst / 2 + math.log(R + 2 * R * R * math.sqrt(d + R * R))
    ln10 = math.log(10)
    assert tp.log10_perturbation == pytest.approx(log_pert / ln10, rel=1e-9)
    assert tp.phase1_time == pytest.approx(s1, rel=1e-12)
    assert tp.log10_displacement == pytest.approx(log_disp / ln10, rel=1e-9)
    applies = (log_disp <= math.log(allow) and log_pert <= math.log(0.1) and min(ties) > 0
               and tp.r_far_min >= far.R_MIN)
    assert tp.applies == applies and applies == (M0 > 500)   # both outcomes are exercised


def test_two_phase_applies_far_and_not_at_a_tie():
    # far apart (M0 = 1e4 along u, offsets O(1)): the closest mean's lead is ~M0 |dz|, every other
    # weight is e^{-O(M0^2)}: the reduction closes.  Two means at the same distance (a reflection
    # of each other across u): no tie distance is positive, the reduction must not apply.
    u = np.array([1.0, 0.0])
    z = np.array([[-1.0, 0.3], [1.0, -0.2], [0.5, 0.9]])
    tp = far.two_phase(far_parts=(1e4, u, z))
    assert tp.applies and tp.closest == 0 and tp.min_tie > 100
    tie = far.two_phase(np.array([[10.0, 0.5], [10.0, -0.5], [12.0, 0.0]]))
    assert not tie.applies and tie.min_tie <= 0
    # the default allowance: a quarter of the smallest gap |b| - |a| (capped at 0.1), seen in the
    # far means' lower bound |b| - allow
    close = far.two_phase(np.array([[10.0, 0.0], [10.2, 0.0], [13.0, 0.0]]))
    assert close.r_far_min == pytest.approx(10.2 - 0.2 / 4, rel=1e-12)
    # the closest mean's continuous time to reach near_tol: ln(|a0| / near_tol)/2 when the others'
    # perturbation vanishes (p ~ 0 far out)
    assert tp.phase1_time == pytest.approx(math.log(math.hypot(1e4 - 1.0, 0.3) / 0.05) / 2, rel=1e-12)


# ---- the law's clock offset (tau_offset) -----------------------------------------------------------

def test_law_slope_with_tau_offset_against_finite_differences():
    # slope = d ln loss / d ln(GD step), GD step = tau + tau_offset: a central difference in tau of
    # the loss from direct quadratures (far.drift at the law's r_at), times (tau + offset)
    T0, eta = 3000.0, 0.01
    law = far.integrate(4.5, eta, 1, tau_max=1e7, points_per_decade=10, tau_offset=T0)
    assert np.array_equal(law.steps, law.tau + T0)
    for k in (12, 20, 30):
        tau = float(law.tau[k])
        h = 1e-3 * tau
        lp = far.drift(float(law.r_at(tau + h)), 1).loss
        lm = far.drift(float(law.r_at(tau - h)), 1).loss
        fd = (tau + T0) * (lp - lm) / (2 * h) / law.loss[k]
        assert abs(law.slope[k] - fd) <= 1e-5 * abs(fd), (k, tau, law.slope[k], fd)
