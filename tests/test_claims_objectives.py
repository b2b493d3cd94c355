"""The neighbours' claims (em-global, rf-global): their decisions follow the evidence (a
diverging mean refutes "every mean converges", a certain sign change of g(s) refutes "no
critical point on the symmetric family"), and the quick tier decides each statement with every
false twin REFUTED (slow: it runs GD)."""
from __future__ import annotations

import pytest

from verify.claims import c_em_global, c_rf_global, objectives_evidence
from verify.claims.objectives_common import TOL, WINDOW
from verify.claims.statement import combine


def _run(n, converged, approaching, diverging, slope=-1.0, se=0.01, family="random",
         dist=None):
    """A run's summary with recorded distances to match: converged means sit at 0.01,
    approaching ones fall from 3, diverging ones grow from 10, the rest stay at 5 (far, not
    moving); ``dist`` replaces the rows of the means after those."""
    k = 1 + WINDOW
    rows = ([[0.01] * k] * converged + [[3.0 - 0.1 * j for j in range(k)]] * approaching
            + [[10.0 + j for j in range(k)]] * diverging)
    rows += dist if dist is not None else [[5.0] * k] * (n - len(rows))
    classes = (["converged"] * converged + ["undecided"] * approaching
               + ["diverging"] * diverging + ["undecided"] * (n - converged - approaching
                                                               - diverging))
    return {"n": n, "converged": converged, "approaching": approaching, "diverging": diverging,
            "slope": slope, "slope_se": se, "family": family, "classes": classes,
            "trajectory": {"dist": [list(col) for col in zip(*rows)]}}


def test_settled_means_count_as_converging_only_inside_the_tolerance():
    k = 1 + WINDOW
    # rising and falling by thousandths near the target, inside the ball at every record
    wobble = [0.0007, 0.0044, 0.0052, 0.003, 0.006, 0.0051][:k]
    inside = {"runs": [_run(3, 2, 0, 0, dist=[wobble]), _run(2, 2, 0, 0)]}
    assert objectives_evidence.settled(inside["runs"][0]) == 1
    assert combine(c_em_global.decide(c_em_global.STATEMENT_DATA, inside))[0] == "CONFIRMED"
    # the same wobble once outside the ball (one record at 1.5 TOL): not settled
    out = [x if j != 2 else 1.5 * TOL for j, x in enumerate(wobble)]
    left = {"runs": [_run(3, 2, 0, 0, dist=[out]), _run(2, 2, 0, 0)]}
    assert objectives_evidence.settled(left["runs"][0]) == 0
    assert combine(c_em_global.decide(c_em_global.STATEMENT_DATA, left))[0] == "INCONCLUSIVE"


def test_em_global_rate_fails_on_one_run_above_the_bound():
    # one run certainly slower than t^-3 refutes "every slope <= -3", whatever the other says
    twin = next(t for t in c_em_global.TWINS if t.name == "rate-t^-3")
    obs = {"runs": [_run(2, 2, 0, 0, slope=-2.626, se=0.069), _run(3, 3, 0, 0, slope=-2.9,
                                                                    se=1.07)]}
    rate = {d.key: d.holds for d in c_em_global.decide(twin.statement, obs)}["rate"]
    assert rate is False
    # both runs' intervals straddle the bound: undecided
    obs = {"runs": [_run(2, 2, 0, 0, slope=-2.95, se=0.1), _run(3, 3, 0, 0, slope=-2.9,
                                                                 se=1.07)]}
    assert {d.key: d.holds for d in c_em_global.decide(twin.statement, obs)}["rate"] is None


def test_em_global_decisions_follow_the_runs():
    good = {"runs": [_run(3, 3, 0, 0, slope=-1.2), _run(2, 1, 1, 0)]}
    assert combine(c_em_global.decide(c_em_global.STATEMENT_DATA, good))[0] == "CONFIRMED"
    bad = {"runs": [_run(3, 1, 0, 2), _run(2, 2, 0, 0, slope=-1.0)]}
    verdict, witness, _ = combine(c_em_global.decide(c_em_global.STATEMENT_DATA, bad))
    assert verdict == "REFUTED" and "non_converging" in witness["failing conclusions"]
    slow = {"runs": [_run(3, 3, 0, 0, slope=-0.2, se=0.01)]}
    assert combine(c_em_global.decide(c_em_global.STATEMENT_DATA, slow))[0] == "REFUTED"
    unsettled = {"runs": [_run(3, 2, 0, 0)]}
    assert combine(c_em_global.decide(c_em_global.STATEMENT_DATA, unsettled))[0] == "INCONCLUSIVE"


def _family(signs):
    return [{"n": 3, "s": 0.5 * (k + 1), "gR": g, "eR": 1e-9, "gF": 1.0, "eF": 1e-9,
             "other": 0.0, "other_err": 1e-12} for k, g in enumerate(signs)]


def test_rf_global_symmetric_family_decision():
    runs = [_run(3, 3, 0, 0)]
    none = {"runs": runs, "family": _family([0.1, 0.5, 1.0, 2.0])}
    assert combine(c_rf_global.decide(c_rf_global.STATEMENT_DATA, none))[0] == "CONFIRMED"
    one = {"runs": runs, "family": _family([0.1, 0.05, -0.02, -0.3])}
    verdict, witness, _ = combine(c_rf_global.decide(c_rf_global.STATEMENT_DATA, one))
    assert verdict == "REFUTED" and "symmetric_critical" in witness["failing conclusions"]
    unsure = {"runs": runs, "family": _family([0.1, 1e-12, 0.5])}
    assert combine(c_rf_global.decide(c_rf_global.STATEMENT_DATA, unsure))[0] == "INCONCLUSIVE"


@pytest.mark.slow
@pytest.mark.parametrize("mod", [c_em_global, c_rf_global])
def test_quick_tier_decided_with_twins_refuted(mod):
    rec = mod.check("quick")
    assert rec.verdict in ("CONFIRMED", "REFUTED")
    assert len(rec.twins) >= 2 and all(t["verdict"] == "REFUTED" for t in rec.twins)
