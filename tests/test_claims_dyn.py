"""Tests of the dynamics claims (thm2.1, thm3.4, thm3.5, thm3.7, figure) and of verify.sgd.

Reduced variants of each quick check run in the fast tier and their verdicts are asserted; each
claim also gets a deliberately false variant (wrong rate exponent, an initialisation where all
means converge, a negative eps) that must come out REFUTED or INCONCLUSIVE -- never CONFIRMED.
The stochastic gradient is compared with the independent quadrature gradient of verify.model.
"""
import json
import math

import mpmath

import numpy as np
import pytest

from verify import model, sgd
from verify.claims import c_figure, c_thm2_1, c_thm3_4, c_thm3_5, c_thm3_7, common
from verify.outcomes import classify_outcome, outcome_rules
from verify.claims.record import CONFIRMED, INCONCLUSIVE, REFUTED, dumps, loads
from verify.dynamics import Trajectory


# ---------------------------------------------------------------------------------------------
# verify.sgd against the population gradient (an independent computation)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2])
def test_sample_gradient_agrees_with_quadrature(seed):
    C = np.random.default_rng(seed).standard_normal((3, 2)) * 0.7
    exact = np.array(model.grad_F(C.tolist(), 6).value, dtype=float)
    loss = float(model.F(C.tolist(), 6).value)
    Y = np.random.default_rng(100 + seed).standard_normal((400000, 2))
    G, L, se = sgd.sample_gradient(C, Y)
    # Monte Carlo error ~ 1/sqrt(4e5) ~ 1.6e-3 relative to the integrand's size
    assert np.abs(G - exact).max() < 6e-3 * max(1.0, np.abs(exact).max())
    assert abs(L - loss) < 5 * se


def test_run_sgd_reproducible_and_records():
    c0 = [[1.0, 0.0], [0.0, 0.5], [-0.3, 0.2]]
    a = sgd.run_sgd(c0, 0.05, 30, samples=500, seed=7)
    b = sgd.run_sgd(c0, 0.05, 30, samples=500, seed=7)
    assert a.final_c == b.final_c and a.loss == b.loss
    assert a.steps[0] == 0 and a.steps[-1] == 30
    assert a.settings["samples"] == 500 and a.settings["seed"] == 7
    assert a.loss[-1] < a.loss[0]


def test_run_sgd_clean_step_is_scaled():
    c0 = [[1.0, 0.0], [0.0, 0.5]]
    noised = sgd.run_sgd(c0, 0.05, 5, samples=200, seed=3)
    clean = sgd.run_sgd(c0, 0.05 * math.exp(2.0), 5, samples=200, seed=3, t=1.0,
                        parameterisation="clean")
    assert np.allclose(np.array(noised.final_c, dtype=float), np.array(clean.final_c, dtype=float))


def test_run_sgd_rejects_bad_input():
    with pytest.raises(ValueError):
        sgd.run_sgd([[1.0], [0.0]], -1.0, 3)
    with pytest.raises(ValueError):
        sgd.run_sgd([[1.0], [0.0]], 0.1, 3, parameterisation="other")


# ---------------------------------------------------------------------------------------------
# The classification rule on hand-made distance histories
# ---------------------------------------------------------------------------------------------

def _traj(rows):
    return Trajectory(steps=list(range(len(rows))), dist=rows)


def test_classify_outcome_rules():
    rules = outcome_rules(converge_tol=0.1, window=3)
    rows = [[1.0, 1.0, 1.0], [0.5, 1.1, 0.9], [0.09, 1.2, 1.1],
            [0.05, 1.3, 0.8], [0.04, 1.4, 1.2], [0.03, 1.5, 1.3]]
    assert classify_outcome(_traj(rows), rules) == ["converged", "diverging", "undecided"]
    assert classify_outcome(_traj(rows + [[0.02, math.inf, 1.4]]), rules)[1] == "diverging"


# ---------------------------------------------------------------------------------------------
# Claim checks: reduced quick variants and false variants
# ---------------------------------------------------------------------------------------------

def _roundtrip(rec):
    recs, _ = loads(dumps([rec], {}))
    assert recs[0].verdict == rec.verdict
    json.loads(dumps([rec], {}))


def test_thm2_1_confirmed_reduced():
    rec = c_thm2_1.check("quick", runs=[(2, 3, 2.0, "moderate", "noised", 4000)])
    assert rec.id == "thm2.1"
    run = rec.inputs["runs"][0]
    assert all(run["approaching"])
    assert run["implied_constant"]["bounded"]
    assert rec.verdict == CONFIRMED, rec.reason
    assert all(t["verdict"] == REFUTED for t in rec.twins) and len(rec.twins) >= 2
    assert rec.in_scope == "yes" and rec.hypotheses
    _roundtrip(rec)


def test_thm3_4_aligned_target_confirmed():
    rec = c_thm3_4.check("quick", M0s=[8.0], angles=[0.0])
    run = rec.inputs["runs"][0]
    assert run["classes"][0] == "converged"
    assert all(c == "diverging" for c in run["classes"][1:])
    assert rec.verdict == CONFIRMED, rec.reason
    assert {t["name"]: t["verdict"] for t in rec.twins} == {"all-converge": REFUTED,
                                                           "others-return": REFUTED}
    _roundtrip(rec)


def test_thm3_4_drift_zero_brackets_a_sign_change():
    # r_c from the sign-keeping bracket; independently, the far law's float64 rule says g > 0 at 3 (its regime
    # starts there) and the mpmath reference says g < 0 at r_c - 0.01 and g > 0 at r_c + 0.01
    from proofs.far_drift import drift_reference
    from verify.asymptotics import far
    rc, err = c_thm3_4.drift_zero(2)
    assert err < 1e-6 and 2.0 < rc < 3.0
    assert drift_reference(rc - 0.01, 2)[0] < 0 < drift_reference(rc + 0.01, 2)[0]
    assert far.drift(3.0, 2).g > 0


def test_thm3_4_opposite_target_is_a_reading_finding():
    # m* opposite to e_1: the means at the origin are closer and converge; m_1 diverges.  The
    # claim is read with m* along +e_1, so this run is a finding of kind "reading" and, with no
    # run in the reading, the verdict is undecided -- never a refutation of the theorem.
    rec = c_thm3_4.check("quick", M0s=[8.0], angles=[math.pi])
    run = rec.inputs["runs"][0]
    assert run["classes"][0] == "diverging"
    assert run["classes"][1:] == ["converged"] * (len(run["classes"]) - 1)
    assert rec.verdict == INCONCLUSIVE and "no run" in rec.reason
    assert any(f.kind == "reading" and "pi/2" in f.headline for f in rec.findings)
    assert "direction of m*" in rec.reading


def test_thm3_4_false_variant_all_start_at_origin():
    # all means at the origin: they stay identical and all converge; the claim must not pass
    rec = c_thm3_4.check("quick", M0s=[5.0], angles=[0.0], init_scale=0.0, steps=2000)
    assert rec.verdict in (REFUTED, INCONCLUSIVE)
    assert rec.inputs["runs"][0]["classes"].count("converged") != 1


@pytest.fixture(scope="module")
def obs35():
    # the reduction at an intermediate M0 where the bound is positive (1 - 4e4^(-1/3) = 0.81),
    # its validation against full GD at M0 = 20, and the far law on a run a decade past settling
    return c_thm3_5.observe("quick", reduction=[(2, [1e4])], seeds=200, gd_configs=[],
                            rate_run=(2, 2, 4.0, 30000))


def test_thm3_5_confirmed_with_a_positive_bound(obs35):
    rec = c_thm3_5.record(c_thm3_5, obs35, "quick")
    q = [x for x in rec.quantities if x.name.startswith("P(exactly one")][0]
    assert float(q.claimed) > 0.8
    assert obs35["reduction_validation"]["passed"]
    assert rec.verdict == CONFIRMED, rec.reason
    assert {t["name"]: t["verdict"] for t in rec.twins} == {"all-converge": REFUTED,
                                                           "rate-1.05": REFUTED}
    _roundtrip(rec)


def test_thm3_5_reduction_agrees_with_full_gd(obs35):
    # every validation run: GD's outcome is exactly one (the closest), the closest mean's
    # contraction follows (1 - 2 eta)^tau within the reduction's perturbation bound, and the far
    # mean moved less than the reduction's displacement bound
    runs = obs35["reduction_validation"]["runs"]
    assert len(runs) >= 6
    for r in runs:
        assert r["exactly_one"] is True and r["classes"][r["closest"]] == "converged"
        assert r["contraction_gap"] <= r["contraction_allowance"]
        assert r["displacement"] <= r["displacement_bound"]


def test_thm3_5_frequency_test_can_fail(obs35):
    # the same decision on evidence where the reduction decided only 150 of 200 seeds at
    # M0 = 1e4 (the others undecided) cannot confirm; with 150 failures it refutes
    import copy
    ev = copy.copy(obs35)
    ev["reduction"] = [dict(obs35["reduction"][0], applies=150)]
    d = {x.key: x for x in c_thm3_5.decide(c_thm3_5.STATEMENT_DATA, ev)}
    assert d["probability"].holds is None       # 150/200 with 50 undecided: limits straddle 0.81
    # a claimed outcome the reduction never gives (two of two converge): 0/200, the one-sided
    # upper limit 1 - 0.05^(1/200) = 0.0149 is below the bound 0.81
    st = c_thm3_5.STATEMENT_DATA.replace("probability", claimed={"converging": 2, "n_power": 2,
                                                                 "M0_power": -1 / 3})
    d = {x.key: x for x in c_thm3_5.decide(st, obs35)}
    assert d["probability"].holds is False and "limits [0.0000, 0.02" in d["probability"].observed


def test_clopper_pearson_against_beta_tails():
    # one-sided limits solve I_L(x, N - x + 1) = 0.05 and 1 - I_U(x + 1, N - x) = 0.05 (mpmath's
    # regularised incomplete beta, an independent route); closed forms at x = N and x = 0
    N = 200
    assert c_thm3_5.clopper_pearson(N, N)[0] == pytest.approx(0.05 ** (1 / N), rel=1e-12)
    assert c_thm3_5.clopper_pearson(0, N)[1] == pytest.approx(1 - 0.05 ** (1 / N), rel=1e-12, abs=0)
    # large N (the stated-scale rows): no overflow, closed form to the log-factorials' accuracy
    assert c_thm3_5.clopper_pearson(0, 15000)[1] == pytest.approx(1 - 0.05 ** (1 / 15000), rel=1e-9, abs=0)
    for x in (1, 37, 150, 199):
        lo, hi = c_thm3_5.clopper_pearson(x, N)
        assert float(mpmath.betainc(x, N - x + 1, 0, lo, regularized=True)) == pytest.approx(0.05, rel=1e-9)
        assert 1 - float(mpmath.betainc(x + 1, N - x, 0, hi, regularized=True)) == pytest.approx(0.05, rel=1e-9)


@pytest.fixture(scope="module")
def obs37():
    return c_thm3_7.observe("quick", steps=30000)   # a decade past settling


def test_thm3_7_statement_and_twins(obs37):
    rec = c_thm3_7.record(c_thm3_7, obs37, "quick")
    # a finite run cannot refute eps > 0; the twins eps = 0 and eps = -0.1 must be refuted
    assert rec.verdict in (CONFIRMED, INCONCLUSIVE)
    assert {t["name"]: t["verdict"] for t in rec.twins} == {"eps-0": REFUTED, "eps-minus-0.1": REFUTED}
    _roundtrip(rec)


def test_thm3_7_false_negative_eps(obs37):
    variant = common.StatementVariant(c_thm3_7, c_thm3_7.STATEMENT_DATA.replace(
        "lower_bound", claimed={"eps": [-0.5]}))
    rec = c_thm3_7.record(variant, obs37, "quick")
    assert rec.verdict == REFUTED
    assert rec.witness["eps"] == -0.5 and rec.witness["slope"] < -0.5


def test_figure_reduced_quick_is_not_a_pass():
    rec = c_figure.check("quick", steps=300, population_steps=50)
    # 300 steps cannot decide the 20000-step claim's slope: never CONFIRMED
    assert rec.verdict in (INCONCLUSIVE, REFUTED)
    assert rec.verdict == INCONCLUSIVE
    assert len(rec.figures) == 4
    _roundtrip(rec)


def test_figure_false_slope_not_confirmed():
    rec = c_figure.check("quick", steps=300, population_steps=20,
                         claimed_slope=-3.0)
    assert rec.verdict != CONFIRMED


# ---------------------------------------------------------------------------------------------
# The full quick checks (slow tier)
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("mod", [c_thm2_1, c_thm3_4, c_thm3_5, c_thm3_7, c_figure])
def test_quick_checks_run(mod):
    rec = mod.check("quick")
    assert rec.id == mod.ID
    assert rec.verdict in (CONFIRMED, REFUTED, INCONCLUSIVE)
    _roundtrip(rec)


# ---------------------------------------------------------------------------------------------
# run_gd: a small-spread start in mpmath continues in float64 once the policy allows it
# ---------------------------------------------------------------------------------------------

def test_run_gd_drops_to_float64_when_policy_allows_and_agrees_with_mpmath():
    from verify import dynamics
    z = np.random.default_rng(3).standard_normal((3, 2))
    c0 = (np.array([[3.0, 0.0]] * 3) + 1e-9 * z).tolist()
    steps, digits = 120, 3
    auto = dynamics.run_gd(c0, 0.05, steps, digits=digits, progress=False)
    hp = dynamics.run_gd(c0, 0.05, steps, digits=digits, backend="mpmath", progress=False)
    assert auto.precision["backend"] == "mpmath"          # the 1e-9 spread needs it at the start
    sw = auto.precision["switched"]
    assert sw["backend"] == "float64"
    assert "switched" not in hp.precision                   # an explicit backend is never changed
    # both runs ask for `digits` digits of each gradient; over the run the distances must agree
    # to that many digits
    for a, b in zip(auto.dist[-1], hp.dist[-1]):
        assert abs(a - b) <= 10 ** (-digits) * abs(b)
