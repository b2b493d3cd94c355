"""Claim checks that need high precision: thm3.1 (stationary point), thm3.2 (exponentially small
initialisation), lem3.3 (reference point).  Each quick check runs and its verdict is asserted
from the computed numbers, against independent computations where possible; each claim also has
a deliberately false variant whose check must not come out CONFIRMED."""
import json
import math

import mpmath
import pytest

from verify import model
from verify.claims import c_lem3_3, c_thm3_1, c_thm3_2, small_init
from verify.claims.record import CONFIRMED, INCONCLUSIVE, REFUTED, dumps, loads
from verify.precision import context


def _q(rec, prefix):
    return [q for q in rec.quantities if q.name.startswith(prefix)]


# ---------------------------------------------------------------------------------------------
# thm3.1
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def thm31_quick():
    return c_thm3_1.check("quick")


def test_thm31_quick_confirmed_with_numbers(thm31_quick):
    rec = thm31_quick
    assert rec.verdict == CONFIRMED, (rec.reason, rec.witness)
    s3 = _q(rec, "s* (n=3)")[0]
    L3 = _q(rec, "L(s*) (n=3)")[0]
    # >= 30 significant digits reported (quick tier; the full tier asks 40), error bar below 1e-30,
    # and s* agrees with the 40-digit value of proofs.stationary (test_certify.S3)
    assert len(s3.value.replace(".", "").lstrip("0")) >= 30 and float(s3.error) < 1e-30
    assert abs(mpmath.mpf(s3.value) - mpmath.mpf("2.550550988641223901198534664225517007544")) < 1e-29
    assert float(L3.value) > 0 and float(L3.error) < 1e-30
    # every core gradient row is zero within its floor, and F agrees with L to >= 38 digits
    grad_rows = rec.tables[0]["rows"]
    assert {r[1] for r in grad_rows if r[0] == "3"} == {"1"}      # quick: d = 1 (full: 1..3)
    assert rec.assurance == "certified" and {t["verdict"] for t in rec.twins} == {REFUTED}
    assert all(r[5] == "yes" and float(r[6]) >= 28 for r in grad_rows)
    json.dumps(rec.to_dict())  # the record is plain data


def test_thm31_s_star_is_a_critical_point_of_the_profile(thm31_quick):
    """Independent of the stationarity integrand: L(s) (a different integral) is maximal at s*
    along the family: L(s* +- h) < L(s*) by about |L''| h^2 / 2."""
    s = mpmath.mpf(_q(thm31_quick, "s* (n=3)")[0].value)
    ctx = context(50)
    h = ctx.mpf("1e-6")
    L0 = c_thm3_1.profile_L(ctx, s, 3)[0]
    Lp, Lm = c_thm3_1.profile_L(ctx, s + h, 3)[0], c_thm3_1.profile_L(ctx, s - h, 3)[0]
    assert Lp < L0 and Lm < L0
    # first derivative by central difference vanishes to O(h^2)
    assert abs((Lp - Lm) / (2 * h)) < 1e-10


@pytest.mark.slow
def test_thm31_hessian_is_a_saddle_with_rotation_null_directions():
    """The finite-difference Hessian (full tier only since issue 20) classifies the point as the
    certified enclosures do: a saddle, with the rotation generators as null directions."""
    s = c_thm3_1.find_s_star(3, 20)["s"]
    cl = {}
    for d in (1, 2):
        H = c_thm3_1.hessian_fd(s, 3, d, 10)
        cl[d] = c_thm3_1.classify_hessian(H["H"], H["E"], H["ctx"], 3, d, s)
    assert cl[1]["kind"] == cl[2]["kind"] == "saddle" and cl[1]["zero"] == 0
    assert cl[2]["zero"] == cl[2]["expected_zero"] == 1 and cl[2]["rotation_null"]
    eig1 = [float(x) for x in cl[1]["eigenvalues"]]
    assert sum(x < 0 for x in eig1) == 2 and sum(x > 0 for x in eig1) == 1


def test_thm31_hessian_family_eigenvalue_matches_G_prime():
    """Along the family direction x = (e_1, -e_1, 0)/sqrt(2), x^T H x = G'(s*) (L' = 2 G and
    L(s) = F(s e_1, -s e_1, 0) with |d c / d s|^2 = 2): a check of the FD Hessian against the
    derivative of the 1-D stationarity integrand."""
    root = c_thm3_1.find_s_star(3, 20)
    H = c_thm3_1.hessian_fd(root["s"], 3, 1, 10)
    ctx = H["ctx"]
    x = [1, -1, 0]
    q = ctx.fsum(H["H"][r][c] * x[r] * x[c] for r in range(3) for c in range(3)) / 2
    assert abs(q - root["G_prime"]) < 1e-5


def test_thm31_wrong_sign_in_stationarity_condition_finds_no_point():
    """With the second term's sign flipped the 1-D condition has no root on the scan grid: no
    point to test, so the check cannot confirm (nor refute: the wrong condition is not the
    claim) -- every conclusion stays undecided."""
    rec = c_thm3_1.check("quick", stationarity_sign=-1, ns=(3,), hessian=False, cross_checks=False)
    assert rec.verdict == INCONCLUSIVE
    assert "none for n = 3" in rec.reason
    assert all(c["holds"] is None for c in rec.conclusions)


def test_thm31_wrong_claimed_s_star_is_refuted():
    # the refutation comes from the core's gradient at the claimed point; the enclosures are
    # not needed for it (certify=False)
    rec = c_thm3_1.check("quick", ns=(3,), hessian=False, cross_checks=False, certify=False,
                         claimed_s_star={3: "2.6"})
    assert rec.verdict == REFUTED
    assert float(rec.witness["max_abs_grad_at_claimed"]) > 1e-3
    assert rec.witness["computed_s_star"].startswith("2.55055")


def test_thm31_wrong_kind_claim_is_refuted(thm31_quick):
    """The paper's wording could suggest a local maximum; claiming it must be refuted, by the
    certified curvature signs (enclosures of u^T H u of both signs)."""
    twins = {t["name"]: t for t in thm31_quick.twins}
    assert twins["local-maximum"]["verdict"] == twins["local-minimum"]["verdict"] == REFUTED
    curv = [e for e in thm31_quick.enclosures if e.name.startswith("u^T H u")]
    assert any(float(e.hi) < 0 for e in curv) and any(float(e.lo) > 0 for e in curv)


# ---------------------------------------------------------------------------------------------
# thm3.2
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def thm32_quick():
    return c_thm3_2.check("quick")


def test_thm32_quick_confirmed(thm32_quick):
    rec = thm32_quick
    assert rec.verdict == CONFIRMED, (rec.reason, rec.witness)
    for row in rec.tables[0]["rows"]:
        assert set(row[5].split(", ")) == {"converged"}
        start, mx, end = (float(x) for x in row[6].split(" -> "))
        assert start < -90 and mx < start + 2      # the spread survives and is not amplified
    # the policy's working precision exceeds the spread: dps > -log10(initial bound)
    for key, prec in rec.inputs["precision"].items():
        assert prec["backend"] == "mpmath"
    # the rate is decided by the late law: loss ~ C/(eta tau)^2 at 1e6..1e7 plateau times, so
    # the exponent is 2 up to O(1e-6) (closed form of the leading law); the contraction's window
    # slope is reported as a phase only
    assert rec.conclusions[1]["key"] == "rate" and rec.conclusions[1]["holds"] is True
    exps = [float(x.split("late exponent ")[1].split(" ")[0])
            for x in rec.conclusions[1]["observed"].split("; ")]
    assert len(exps) == 3 and all(abs(q - 2) < 1e-5 for q in exps)
    assert all(q.claimed is None for q in _q(rec, "contraction phase"))
    twins = {t["name"]: t["verdict"] for t in rec.twins}
    assert twins == {"rate-2.5": REFUTED, "exactly-one-converges": REFUTED}


def test_thm32_initial_scales_follow_the_theorem():
    ctx = context(30)
    b = small_init.scale_bound(2, 1, 1, ctx)
    assert abs(ctx.log10(b) - (-212 / ctx.log(10) - ctx.log10(216))) < 1e-20
    init = small_init.initial_parameters(3, 2, "1", seed=1)
    assert init["max_init_norm_log10"] <= init["log10_bound"] + 1e-12
    # the centred parameters keep the spread exactly enough: differences are ~ the bound
    c = init["c"]
    diff = max(abs(a - b) for a, b in zip(c[0], c[1]))
    assert -281 < float(mpmath.log10(diff)) < -278


def test_thm32_float64_loses_the_spread(thm32_quick):
    for row in thm32_quick.tables[1]["rows"]:
        assert row[2] == "-inf"          # float64: spread zero at the start
        assert float(row[5]) < -90       # high precision: the spread is there


def test_thm32_all_equal_trajectory_is_exact():
    """Independent prediction: for all-equal parameters F = |a|^2 exactly and a contracts by
    1 - 2 eta/n, so the loss after k steps is M0^2 (1 - 2 eta/n)^(2k) (float64 run)."""
    tr = small_init.tracked_gd([[-1.0], [-1.0], [-1.0]], "0.25", 10, digits=8, backend="float64")
    for k in range(11):
        assert tr.loss[k] == pytest.approx((1 - 0.5 / 3) ** (2 * k), rel=1e-10, abs=0)


def test_thm32_too_large_initial_scale_is_not_confirmed():
    rec = c_thm3_2.check("quick", runs=[(2, 1, "3")], init_scale="0.5", steps=150)
    assert rec.verdict in (REFUTED, INCONCLUSIVE)


# ---------------------------------------------------------------------------------------------
# lem3.3
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lem33_obs():
    return c_lem3_3.observe("quick", runs=[(2, 1, "1"), (3, 1, "1")])


def test_lem33_quick_confirmed_with_convention_finding():
    rec = c_lem3_3.check("quick")
    assert rec.verdict == CONFIRMED, (rec.reason, rec.witness)
    assert rec.reading["loss convention"].startswith("with 1/2")
    for row in rec.tables[0]["rows"]:
        n = int(row[0].split(",")[0].split("=")[1])
        measured = mpmath.mpf(row[3])
        # independent prediction: grad F = (2/n) a at all-equal parameters, the halved loss
        # half of it, so the centre contracts by 1 - eta/n (with 1/2) or 1 - 2 eta/n (without)
        kappa = 1 if row[1] == "with 1/2" else 2
        assert abs(measured - (1 - kappa * 0.25 / n)) < 1e-20
        # tracking the stated reference M0 (1 - eta/n)^tau: within the band with 1/2 only
        assert (float(row[7]) <= float(row[9])) == (kappa == 1)
    conv = [f for f in rec.findings if f.kind == "convention"]
    assert conv and "exact for the loss with 1/2;" in conv[0].headline
    assert {t["verdict"] for t in rec.twins} == {REFUTED}
    records, _ = loads(dumps([rec], {}))
    assert records[0].verdict == CONFIRMED


def test_lem33_literal_factor_without_convention_is_refuted(lem33_obs):
    from verify.claims.statement import judge
    twin = {t.name: t for t in c_lem3_3.TWINS}["factor-1-eta/n-without-1/2"]
    verdict, witness, _, decs = judge(c_lem3_3.decide, twin.statement, lem33_obs)
    assert verdict == REFUTED and witness["failing conclusions"].startswith("factor")
    # the deviation is |(1 - 2 eta/n) - (1 - eta/n)| = eta/n, largest at n = 2: 0.125
    assert "= 0.125 " in decs[0].observed


@pytest.mark.parametrize("kappa,dev", [(3, "0.25"), (0.5, "0.0625"), (1.5, "0.0625")])
def test_lem33_wrong_factor_is_refuted_by_its_deviation(lem33_obs, kappa, dev):
    from verify.claims.statement import judge
    st = c_lem3_3.STATEMENT_DATA.replace("factor", claimed={"kappa": kappa})
    verdict, _, _, decs = judge(c_lem3_3.decide, st, lem33_obs)
    assert verdict == REFUTED and f"= {dev} " in decs[0].observed


# ---------------------------------------------------------------------------------------------
# full tiers (minutes)
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("module", [c_thm3_1, c_thm3_2, c_lem3_3])
def test_full_tier(module):
    rec = module.check("full")
    assert rec.verdict == CONFIRMED, (rec.reason, rec.witness)
