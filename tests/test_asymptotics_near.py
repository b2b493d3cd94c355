"""Properties of the near-converged law (issue 11, item 7): the derived constants against the
numeric core's full gradient (finite differences, an independent computation), the law against
full gradient descent, the regime refusal, and mutants showing each property can fail.

kappa and lambda come from proofs/near_converged.py (SymPy); the gradients from verify.model (the
numeric core's quadrature).  The finite-difference third derivative of the pair's gradient
g(a) = <grad_{c_1} F, u> at c = (a u, -a u, 0, ...) is, g being odd,

    D(h) = (g(2h) - 2 g(h)) / h^3 = 6 kappa + 30 lambda h^2 + 126 mu h^4 + O(h^6),

so D(h)/6 -> kappa with the predicted O(h^2) correction 5 lambda h^2 (stencil truncation from the
derived series, not a fitted tolerance).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from verify import dynamics, model
from verify.asymptotics import near

import test_properties as P  # tests/ is on sys.path


def pair_config(n: int, u, a: float):
    u = np.asarray(u, dtype=float)
    return [list(a * u), list(-a * u)] + [[0.0] * len(u)] * (n - 2)


def pair_gradient(n: int, u, a: float) -> tuple[float, float]:
    """(<grad_{c_1} F, u>, its error estimate) from the numeric core (float64 where it suffices)."""
    est = model.grad_F(pair_config(n, u, a), digits=8)
    assert est.ok
    g = np.array([float(x) for x in est.value[0]])
    e = max(float(x) for x in est.error[0])
    return float(g @ np.asarray(u, dtype=float)), e


def fd_third(n: int, u, h: float) -> tuple[float, float]:
    """D(h)/6 and its error bound from the two gradients' error estimates."""
    g2, e2 = pair_gradient(n, u, 2 * h)
    g1, e1 = pair_gradient(n, u, h)
    return (g2 - 2 * g1) / h ** 3 / 6, (e2 + 2 * e1) / h ** 3 / 6


def prop_kappa_from_fd(coeffs, case):
    """D(h)/6 = kappa + 5 lambda h^2 + 21 mu h^4 + O(h^6): the residual after the derived
    correction is within the next term's size (|21 mu| h^4, doubled for the O(h^6) tail) plus the
    quadrature error; and without the correction the gap is of order h^2 (so the test sees lambda)."""
    n, u, h = case
    co = coeffs(n)
    k, lam, mu = float(co["kappa"]), float(co["lam"]), float(co["mu"])
    d6, err = fd_third(n, u, h)
    bound = 2 * 21 * abs(mu) * h ** 4 + err + 1e-12 * abs(k)
    assert abs(d6 - k - 5 * lam * h ** 2) <= bound, (n, h, d6, k, lam, bound)


def unit_vectors(d):
    return st.lists(st.floats(-1, 1), min_size=d, max_size=d).filter(
        lambda v: sum(x * x for x in v) > 0.05).map(lambda v: [x / math.sqrt(sum(y * y for y in v)) for x in v])


@st.composite
def pair_cases(draw):
    n = draw(st.integers(2, 5))
    d = draw(st.integers(1, 2))
    u = draw(unit_vectors(d))
    h = draw(st.sampled_from([0.02, 0.03, 0.05]))
    return n, u, h


@settings(max_examples=8, deadline=None)
@given(pair_cases())
@example((2, [1.0], 0.05))
@example((3, [0.6, 0.8], 0.03))
def test_kappa_matches_fd_third_derivative(case):
    prop_kappa_from_fd(near.coefficients, case)


def test_kappa_convergence_order_h_squared():
    """D(h)/6 - kappa shrinks by 4 when h halves (the predicted O(h^2) correction) and its size is
    5 lambda h^2 to within the next term."""
    n, u = 3, [1.0]
    k, lam = near.kappa(n), float(near.coefficients(n)["lam"])
    dev = [fd_third(n, u, h)[0] - k for h in (0.04, 0.02)]
    assert 3.6 < dev[0] / dev[1] < 4.4, dev
    assert abs(dev[1] / (5 * lam * 0.02 ** 2) - 1) < 0.02, dev


def test_mutant_kappa_fails():
    """A wrong kappa (8/n instead of 8/n^2) and a kappa without the a^5 term's sign are caught."""
    def wrong_kappa(n):
        co = dict(near.coefficients(n))
        co["kappa"] = co["kappa"] * n
        return co

    def wrong_lambda(n):
        co = dict(near.coefficients(n))
        co["lam"] = -co["lam"]
        return co

    assert P.fails(prop_kappa_from_fd, wrong_kappa, (3, [1.0], 0.03))
    assert P.fails(prop_kappa_from_fd, wrong_lambda, (2, [1.0], 0.05))


def test_cubic_form_of_a_general_spread():
    """A zero-mean spread c = s u: grad_{c_i} F / s^3 -> (4/n) C u_i (derived cubic form) with an
    O(s^2) remainder: Richardson in s^2 from s and s/2 leaves O(s^4)."""
    rng = np.random.default_rng(7)
    u = rng.standard_normal((3, 2))
    u -= u.mean(axis=0)
    C = u.T @ u / 3
    want = 4 / 3 * u @ C
    est, err = [], []
    for s in (0.04, 0.02):
        g = model.grad_F((s * u).tolist(), digits=6)
        assert g.ok
        est.append(np.array([[float(x) for x in r] for r in g.value]) / s ** 3)
        err.append(max(float(x) for r in g.error for x in r) / s ** 3)
    rich = (4 * est[1] - est[0]) / 3
    # Richardson leaves O(s^4): the pair's derived s^4 coefficients (mu/kappa, (lam/kappa)^2) are
    # ~10-20 at n = 3, so 50 s^4 bounds that term; plus the propagated quadrature error
    tol = 50 * 0.04 ** 4 * np.abs(want).max() + (4 * err[1] + err[0]) / 3
    assert np.abs(rich - want).max() <= tol, (rich, want, tol)
    assert np.abs(est[1] - want).max() > 3 * np.abs(rich - want).max()   # the s^2 term is seen


def test_pair_law_against_gd():
    """The log-corrected pair law against 3000 float64 GD steps from a thm2.1-scale pair (past the
    plateau: T = 133 steps): the gaps in a(tau) and loss are within the derived allowance."""
    from verify.claims.c_thm2_1 import pair_allowance
    n, eta, a0 = 2, 0.5, math.exp(-2.1) / 2
    tr = dynamics.run_gd([[a0], [-a0]], eta, 3000, digits=6, progress=False)
    assert tr.stop_reason == "max steps", tr.stop_reason
    law = near.PairLaw(n, eta, a0)
    st_ = np.array(tr.steps[1:], dtype=float)
    ga = near.validation_gap(st_, [r[0] for r in tr.dist[1:]], law.a(st_))
    gl = near.validation_gap(st_, tr.loss[1:], law.loss(st_), tr.loss_error[1:])
    allow = pair_allowance(n, a0, eta)
    assert ga["gap"] <= allow and gl["gap"] <= allow + gl["error"], (ga, gl, allow)
    law.order = 1   # the leading law misses by O(a0^2): the correction is needed and seen
    gl1 = near.validation_gap(st_, tr.loss[1:], law.loss(st_))
    assert gl1["gap"] > 10 * gl["gap"]


def test_sup_closed_form_against_the_law_and_gd():
    """(3 sqrt3/16) a0^3/n equals the maximum of the leading law on a fine grid, and the measured
    GD maximum of loss sqrt(eta tau) sits within the pair allowance below it (records are sparse)."""
    n, eta, a0 = 2, 0.5, 0.03
    law = near.PairLaw(n, eta, a0, order=1)
    closed = law.sup_k_closed_form(0.5)
    assert math.isclose(closed, 3 * math.sqrt(3) / 16 * a0 ** 3 / n, rel_tol=1e-12)
    taus = np.geomspace(1, 1e9, 200_001)
    grid = float((law.loss(taus) * np.sqrt(eta * taus)).max())
    assert math.isclose(grid, closed, rel_tol=1e-6)
    tr = dynamics.run_gd([[a0], [-a0]], eta, 5000, digits=6, progress=False)
    meas = max(v * math.sqrt(eta * s) for s, v in zip(tr.steps, tr.loss))
    assert meas <= closed * (1 + 10 * near.remainder_ratio(n) * a0 ** 2)
    assert meas >= closed * 0.97


def test_spread_law_late_constant_and_rank():
    """rank(S0) n^2/64 from the law's own eigenvalues at tau = 1e15 (the late limit)."""
    c = [[0.01, 0.002], [-0.004, 0.003], [-0.006, -0.005]]
    law = near.SpreadLaw(c, 0.1)
    assert law.rank == 2
    tau = 1e15
    assert math.isclose(float(law.loss(tau)) * (0.1 * tau) ** 2, law.late_constant, rel_tol=1e-6)


def test_all_equal_start_has_no_plateau():
    law = near.SpreadLaw([[0.01, 0.02]] * 3, 0.1)
    assert law.rank == 0 and law.plateau_time == math.inf and law.late_constant == 0
    # abs=0: the default absolute tolerance 1e-12 would accept any tiny number here
    assert float(law.loss(10)) == pytest.approx(5e-4 * (1 - 2 * 0.1 / 3) ** 20, rel=1e-9, abs=0)


def test_mean_contraction_matches_full_gd():
    # all means equal: every weight is 1/n, so full GD moves each by eta (2/n) c -- the law's
    # factor 1 - 2 eta/n per step -- against the GD engine's own quadrature (an independent path)
    c0 = [[0.01, 0.02]] * 3
    eta = 0.1
    tr = dynamics.run_gd(c0, eta, 200, digits=10, progress=False)
    law = near.SpreadLaw(c0, eta)
    for st, row in zip(tr.steps, tr.dist):
        pred = float(law.mean_norm(st))
        assert abs(row[0] / pred - 1) <= 1e-8, (st, row[0], pred)


@pytest.mark.parametrize("bad", [
    lambda: near.PairLaw(2, 0.5, 0.5),
    lambda: near.SpreadLaw([[0.5], [-0.5]], 0.5),
    lambda: near.SpreadLaw([[0.3, 0.0], [0.31, 0.0]], 0.5),
    lambda: near.PairLaw(1, 0.5, 0.01),
    lambda: near.PairLaw(2, -0.5, 0.01),
])
def test_law_refused_outside_the_regime(bad):
    with pytest.raises(ValueError) as exc:
        bad()
    msg = str(exc.value)
    assert ("small" in msg) or ("n must" in msg) or ("eta must" in msg), msg


def test_refusal_threshold_is_the_remainder_condition():
    n = 3
    amax = near.max_amplitude(n)
    assert math.isclose(near.remainder_ratio(n) * amax ** 2, near.REMAINDER_TOL)
    near.PairLaw(n, 0.1, 0.999 * amax)
    with pytest.raises(ValueError, match="lambda"):
        near.PairLaw(n, 0.1, 1.001 * amax)


# ---- the thm2.1 verdict from the law ------------------------------------------------------------

REDUCED_RUNS = [(2, 3, 2.0, "moderate", "noised", 2000)]


@pytest.fixture(scope="module")
def obs21():
    from verify.claims import c_thm2_1
    return c_thm2_1.observe("quick", runs=REDUCED_RUNS)


def test_thm2_1_power_above_the_law_is_refuted_with_the_law_as_witness(obs21):
    """A claimed rate faster than the law's tau^-2 (power 2.5, and 2.1): the law makes
    loss (eta tau)^P grow, so the statement is REFUTED with the law's numbers as witness; the
    law's own power 2 and the stated 1/2 hold."""
    from verify.claims import c_thm2_1
    from verify.claims.statement import judge
    for P in (2.5, 2.1):
        v, w, _r, ds = judge(c_thm2_1.decide, c_thm2_1.STATEMENT_DATA.replace("rate", claimed=P), obs21)
        assert v == "REFUTED" and w["failing conclusions"] == "rate" and "unbounded" in w["rate"]
    for P in (2.0, 0.5):
        v, _w, reason, _ds = judge(c_thm2_1.decide, c_thm2_1.STATEMENT_DATA.replace("rate", claimed=P), obs21)
        assert v == "CONFIRMED", reason


def test_thm2_1_scaling_exponents_and_convergence(obs21):
    # every start in the ball converges under the law (the thm3.1 configuration, near-symmetric
    # pairs, equal means, random); the implied constant's exponents are recorded with errors and
    # a claimed scaling below the fitted one is refuted by the same decision
    from verify.claims import c_thm2_1
    f = obs21["fit"]
    assert f["points"] >= 9 and f["n_err"] > 0 and f["d_err"] > 0
    d = {x.key: x for x in c_thm2_1.decide(c_thm2_1.STATEMENT_DATA, obs21)}
    assert d["converges"].holds is True and d["scaling"].holds is True
    low = c_thm2_1.STATEMENT_DATA.replace("scaling", claimed={"n": f["n"] - 1, "d": f["d"] - 1})
    assert {x.key: x for x in c_thm2_1.decide(low, obs21)}["scaling"].holds is False
    names = {s["start"] for s in obs21["starts"]}
    assert "the thm3.1 configuration scaled into the ball" in names and "near-symmetric pair" in names


def test_thm2_1_wrong_kappa_fails_validation(monkeypatch):
    """A law with a wrong kappa (8/n instead of 8/n^2) misses full GD: INCONCLUSIVE, with the
    validation gap named in the reason."""
    from verify.claims import c_thm2_1
    right = near.coefficients

    def wrong(n):
        co = dict(right(n))
        co["kappa"] = co["kappa"] * n
        return co

    monkeypatch.setattr(near, "coefficients", wrong)
    rec = c_thm2_1.check("quick", runs=REDUCED_RUNS)
    assert rec.verdict == "INCONCLUSIVE" and "validation" in rec.reason, rec.reason


# ---- the general spread law against full GD (random thm2.1-scale starts) ------------------------

def prop_spread_law_matches_gd(law_factory, case, steps=3000, eta=0.5):
    """From a random small start (thm2.1 scale), the leading-order spread law (with the mean's
    transient) matches full GD after the mean has decayed, within the derived allowance."""
    from verify.claims.c_thm2_1 import _gaps, matching_time, spread_allowance
    c0, _ = case
    tr = dynamics.run_gd(c0, eta, steps, digits=6, progress=False)
    assert tr.stop_reason == "max steps", tr.stop_reason
    law = law_factory(c0, eta)
    n = len(c0)
    allow = spread_allowance(n, near.SpreadLaw(c0, eta).amplitude)
    g = _gaps(tr, law.dist, law.loss, matching_time(n, eta), allow)
    assert g["loss"]["gap"] <= allow + g["loss"]["error"] and g["dist"]["gap"] <= allow, (g, allow)


@settings(max_examples=6, deadline=None)
@given(P.high_noise_starts(n=st.integers(2, 3)))
def test_spread_law_matches_gd(case):
    prop_spread_law_matches_gd(near.SpreadLaw, case)


def test_mutant_spread_law_is_falsified():
    """A law whose spread moves at half the derived rate (8 eta/n -> 4 eta/n) misses GD."""
    def half_rate(c, eta):
        law = near.SpreadLaw(c, eta / 2)
        law.q = 1 - 2 * eta / law.n        # keep the mean's (correct) contraction
        return law
    assert P.falsified(P.high_noise_starts(n=st.integers(2, 3)), prop_spread_law_matches_gd,
                       half_rate, max_examples=10)


@pytest.mark.parametrize("n,d", [(2, 1), (2, 3), (3, 3), (4, 2), (5, 4)])
def test_late_constant_counts_only_real_spread(n, d):
    # a random start spans an affine hull of dimension min(n - 1, d); S0 = ct^T ct / n then has
    # that many positive eigenvalues and d - rank round-off ones (~1e-20).  Independent of the
    # rank count: every eigenvalue of the unfiltered S0 follows lam/(1 + 8 eta lam tau/n), and at
    # tau = 1e12 the real ones sit on their asymptote n/(8 eta tau) while round-off ones contribute
    # ~lam^2 -- so sum lam(tau)^2 (eta tau)^2 is the late constant r n^2/64 of the genuine rank.
    from verify.asymptotics.near import SpreadLaw
    rng = np.random.default_rng(n * 10 + d)
    c = 1e-2 * rng.standard_normal((n, d))
    c -= c.mean(axis=0)                      # no mean: the law's spread is S0 itself
    law = SpreadLaw(c, 0.01)
    lam0 = np.linalg.eigvalsh(c.T @ c / n)
    tau, eta = 1e14, 0.01
    direct = float(np.sum((lam0 / (1 + 8 * eta / n * lam0 * tau)) ** 2) * (eta * tau) ** 2)
    r = min(n - 1, d)
    assert law.rank == r
    assert law.late_constant == pytest.approx(r * n * n / 64, rel=1e-15, abs=0)
    # finite tau: each real term falls short of n^2/64 by the relative 2 n/(8 eta lam tau)
    short = 2 * n / (8 * eta * float(law.lam0.min()) * tau)
    assert abs(direct / law.late_constant - 1) <= 1.01 * short + 1e-12


# ---- SpreadLaw.sup_k and the clock offset tau0 against direct maxima (issue 20 survivors) ---------

def _brute_sup(f, t_lo: float, t_hi: float) -> float:
    """max of f over [t_lo, t_hi]: a log grid, then a fine linear grid around the best point."""
    ts = np.geomspace(max(t_lo, 1e-9), t_hi, 20001)
    if t_lo == 0:
        ts = np.concatenate([[0.0], ts])
    k = int(np.argmax(f(ts)))
    lo, hi = ts[max(k - 1, 0)], ts[min(k + 1, len(ts) - 1)]
    fine = np.linspace(lo, hi, 20001)
    return float(max(f(fine).max(), f(ts).max()))


@pytest.mark.parametrize("tau0,tau_from", [(0.0, None), (500.0, None), (500.0, 2000.0), (500.0, 3e5)])
def test_spread_sup_k_against_per_eigenvalue_maxima(tau0, tau_from):
    # no mean: F = sum_j lam_j(tau)^2, lam_j(tau) = lam_j / (1 + (8 eta/n) lam_j (tau - tau0)),
    # lam_j the eigenvalues of S0 = ct^T ct / n from numpy directly; the closed-form bound is the
    # sum over j of each term's own maximum of lam_j(tau)^2 (eta tau)^p over tau >= tau_from
    n, eta, p = 3, 0.1, 0.5
    c = np.array([[0.02, 0.004], [-0.008, 0.006], [-0.012, -0.010]])
    c = c - c.mean(axis=0)
    lam = np.linalg.eigvalsh(c.T @ c / n)
    law = near.SpreadLaw(c, eta, tau0=tau0)
    t_lo = tau0 if tau_from is None else tau_from
    per = [_brute_sup(lambda t, l=l: (l / (1 + 8 * eta / n * l * (t - tau0))) ** 2 * (eta * t) ** p,
                      t_lo, 1e9) for l in lam]
    out = law.sup_k(p, tau_from=tau_from)
    assert out["bounded"]
    assert out["upper_bound"] == pytest.approx(sum(per), rel=1e-7)
    # the grid maximum of the sum lies between the largest term's maximum and the bound
    assert max(per) * (1 - 1e-6) <= out["sup"] <= out["upper_bound"] * (1 + 1e-12)
    assert out["tau_at"] >= t_lo
    if tau_from == 3e5:        # past every term's peak (~1/(8 eta lam) steps): tau_from binds
        assert out["tau_at"] == pytest.approx(tau_from, rel=1e-12)


def test_spread_sup_k_mean_only_against_direct_maximum():
    # all means equal (no spread): F = |cbar|^2 (1 - 2 eta/n)^(2 (tau - tau0)); its maximum times
    # (eta tau)^p from the explicit form, with and without a clock offset
    n, eta, p = 3, 0.1, 0.5
    cb = np.array([0.01, 0.02])
    for tau0 in (0.0, 40.0):
        law = near.SpreadLaw([cb] * n, eta, tau0=tau0)
        assert law.rank == 0
        f = lambda t: (cb @ cb) * (1 - 2 * eta / n) ** (2 * (t - tau0)) * (eta * t) ** p
        out = law.sup_k(p)
        assert out["upper_bound"] == pytest.approx(_brute_sup(f, tau0, 1e5), rel=1e-7)


def test_spread_sup_k_power_two_and_beyond():
    n, eta = 2, 0.1
    c = [[0.01, 0.0], [-0.01, 0.0]]
    law = near.SpreadLaw(c, eta)
    # p = 2: lam^2 (eta tau)^2 / (1 + (8/n) lam eta tau)^2 rises to (n/8)^2 = n^2/64 per eigenvalue
    out = law.sup_k(2.0)
    assert out["bounded"] and out["upper_bound"] == pytest.approx(n * n / 64, rel=1e-12)
    big = law.sup_k(2.5)
    assert big["bounded"] is False and big["upper_bound"] == math.inf
    # the law's growth F (eta tau)^p ~ C (eta tau)^(p - 2), not a grid maximum
    assert big["sup"] == math.inf and big["growth"].endswith("(eta tau)^0.5")
    zero = near.SpreadLaw([[0.0, 0.0]] * 3, eta).sup_k(0.5)
    assert zero["upper_bound"] == 0.0 and zero["sup"] == 0.0


def test_pair_law_with_clock_offset_against_gd():
    # the pair law started from the GD state at step K (tau0 = K) follows GD from there: a law
    # that ignored tau0 would sit at a0's plateau ~K steps behind
    from verify.claims.c_thm2_1 import pair_allowance
    n, eta, a0 = 2, 0.5, 0.03
    tr = dynamics.run_gd([[a0], [-a0]], eta, 4000, digits=6, progress=False)
    k = next(i for i, s in enumerate(tr.steps) if s >= 1000)
    K, aK = float(tr.steps[k]), float(tr.dist[k][0])
    law = near.PairLaw(n, eta, aK, tau0=K)
    st_ = np.array(tr.steps[k:], dtype=float)
    ga = near.validation_gap(st_, [r[0] for r in tr.dist[k:]], law.a(st_))
    assert ga["gap"] <= pair_allowance(n, aK, eta), ga
    # the leading-order sup from tau0 on: the explicit law 4 a(tau)^4 / n^2, a^-2 = aK^-2 + 2 eta
    # (8/n^2) (tau - K), maximised directly
    lead = near.PairLaw(n, eta, aK, tau0=K, order=1)
    f = lambda t: 4 / n ** 2 / (1 / aK ** 2 + 16 * eta / n ** 2 * (t - K)) ** 2 * np.sqrt(eta * t)
    assert lead.sup_k_closed_form(0.5) == pytest.approx(_brute_sup(f, K, 1e10), rel=1e-7)


def test_gaps_measure_an_unresolved_mean_against_the_configuration_size():
    """A mean the law puts far below the allowance times the configuration's size (the centre of a
    symmetric start) is compared in units of that size: a round-off-sized residue passes, a real
    displacement of 1% of the size fails, and resolved means keep their relative gap."""
    from types import SimpleNamespace
    from verify.claims.c_thm2_1 import _gaps
    steps = [0, 40, 60, 80]       # the law's centre mean: 1e-2 (2/3)^tau <= 9e-10 from tau = 40
    law_dist = lambda s: np.stack([np.full_like(s, 4e-3), np.full_like(s, 4e-3),
                                   1e-2 * (2 / 3) ** s], axis=1)
    loss = lambda s: np.full_like(s, 1e-10)

    def traj(centre, far_scale=1.0):
        return SimpleNamespace(steps=steps, loss=[1e-10] * 4, loss_error=[0.0] * 4,
                               dist=[[4e-3 * far_scale, 4e-3, centre] for _ in steps])
    allow = 1e-4
    g = _gaps(traj(8e-12), law_dist, loss, 1, allow)
    assert g["dist"]["gap"] <= allow, g
    g = _gaps(traj(4e-5), law_dist, loss, 1, allow)           # 1% of the configuration's size
    assert g["dist"]["gap"] == pytest.approx(1e-2, rel=1e-6) and "measure" in g["dist"], g
    g = _gaps(traj(8e-12, far_scale=1.001), law_dist, loss, 1, allow)  # a resolved mean 0.1% off
    assert g["dist"]["gap"] == pytest.approx(1e-3, rel=1e-6) and "measure" not in g["dist"], g
