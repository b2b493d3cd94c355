"""The neighbours' claims (em-global, rf-global): their decisions follow the evidence (a
diverging mean refutes "every mean converges", a certain sign change of g(s) refutes "no
critical point on the symmetric family"), and the quick tier decides each statement with every
false twin REFUTED (slow: it runs GD)."""
from __future__ import annotations

import pytest

from verify.claims import c_em_global, c_rf_global
from verify.claims.statement import combine


def _run(n, converged, approaching, diverging, slope=-1.0, se=0.01, family="random"):
    return {"n": n, "converged": converged, "approaching": approaching, "diverging": diverging,
            "slope": slope, "slope_se": se, "family": family}


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
