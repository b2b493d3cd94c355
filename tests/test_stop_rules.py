"""The two stop-and-classify rules of verify.dynamics (the "monotone" default and the far-start
claims' "outcome" rule of verify.outcomes), in Python and in the compiled engine, and the
small-spread hand-over to float64 at the first step the precision policy allows it."""
from __future__ import annotations

import math

import numpy as np
import pytest

from verify import dynamics, engine_f64, model, outcomes
from verify.dynamics import CONVERGED, DIVERGING, UNDECIDED

OUT = dynamics.Rules(converge_tol=0.05, window=4, mode="outcome")


def _decided(hist, rules) -> bool:
    return UNDECIDED not in dynamics.classify(hist, rules, 0.0)


# ---------------------------------------------------------------------------------------------
# The outcome rule, by hand
# ---------------------------------------------------------------------------------------------

def test_outcome_mode_classifies_by_its_documented_rule():
    hist = [[1.0, 1.0, 1.0, 3.0],
            [0.04, 1.1, 1.2, 2.0],
            [0.03, 1.2, 1.1, 2.1],
            [0.05, 1.3, 1.3, 2.2],
            [0.01, 1.4, 1.4, 2.3],
            [0.02, 1.5, 1.5, 2.4]]
    # 0: within 0.05 at the last 5 records, though not monotone -> converged;
    # 1: strictly rising and above r(0) -> diverging; 2: one dip -> undecided;
    # 3: rising over the window but still below its own r(0) = 3 -> undecided
    assert dynamics.classify(hist, OUT, 0.0) == [CONVERGED, DIVERGING, UNDECIDED, UNDECIDED]
    # the same column 0 under the monotone rule (tol 0.05) is not converged: it rose at a record
    mono = dynamics.Rules(converge_tol=0.05, window=4)
    assert dynamics.classify(hist, mono, 0.0)[0] == UNDECIDED
    # a monotone decrease ending below tol, but above it within the window: monotone-converged,
    # outcome-undecided
    down = [[1.0], [0.5], [0.2], [0.1], [0.06], [0.04]]
    assert dynamics.classify(down, mono, 0.0) == [CONVERGED]
    assert dynamics.classify(down, OUT, 0.0) == [UNDECIDED]
    # a non-finite distance is diverging at once; too few records decide nothing else
    assert dynamics.classify([[1.0, 0.01], [math.inf, 0.01]], OUT, 0.0) == [DIVERGING, UNDECIDED]


def test_outcomes_module_uses_the_same_rule():
    class T:
        dist = [[r, 1.0 + k] for k, r in enumerate((0.1, 0.06, 0.04, 0.03, 0.02, 0.01))]
    assert outcomes.classify_outcome(T, outcomes.outcome_rules()) == [UNDECIDED, DIVERGING]
    T.dist = [[0.01, 1.0 + k] for k in range(6)]
    assert outcomes.classify_outcome(T, outcomes.outcome_rules()) == [CONVERGED, DIVERGING]


def test_rules_mode_is_checked():
    with pytest.raises(ValueError, match="mode"):
        dynamics.Rules(mode="outcomes")
    # the default rule's record is unchanged; the outcome rule names its mode
    assert "mode" not in dynamics.Rules().to_dict()
    assert OUT.to_dict()["mode"] == "outcome"


# ---------------------------------------------------------------------------------------------
# The compiled stop test against the Python rule
# ---------------------------------------------------------------------------------------------

def _random_histories(seed: int, count: int):
    """Distance histories that sit near the rules' edges: random walks in log r with drifts of
    either sign, some ending below 0.05, some crossing their start, a few non-finite."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n, m = rng.integers(1, 5), rng.integers(1, 12)
        start = rng.uniform(0.02, 3.0, n)
        steps = rng.normal(rng.choice([-0.4, -0.05, 0.0, 0.05, 0.4], n), 0.1, (m - 1, n))
        h = np.vstack([start, start * np.exp(np.cumsum(steps, axis=0))]) if m > 1 else start[None]
        if rng.random() < 0.1:
            h[-1, rng.integers(n)] = np.inf
        yield h


@pytest.mark.parametrize("mode", ["monotone", "outcome"])
def test_compiled_stop_rule_equals_the_python_rule(mode):
    rules = dynamics.Rules(converge_tol=0.05, window=4, mode=mode, diverge_bound=1.5)
    code = 2 if mode == "outcome" else 1
    seen = {True: 0, False: 0}
    for h in _random_histories(11, 3000):
        want = _decided(h.tolist(), rules)
        got = engine_f64._classified(np.ascontiguousarray(h), h.shape[0], rules.window, 0.05,
                                     1.5, code)
        assert bool(got) == want, (mode, h.tolist())
        seen[want] += 1
    assert min(seen.values()) > 100          # both answers are exercised


# ---------------------------------------------------------------------------------------------
# A run stops at the first record the outcome rule decides
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_run_stops_where_the_outcome_rule_first_decides(engine):
    c0, _ = outcomes.far_init(2, 2, 4.0, 1)
    eta = outcomes.default_eta(4.0)
    a = dynamics.run_gd(c0, eta, 20000, digits=4, progress=False, engine=engine, rules=OUT,
                        stop_when_classified=True)
    assert a.stop_reason == "all parameters classified" and a.steps[-1] < 20000
    assert UNDECIDED not in a.classes
    assert a.classes == outcomes.classify_outcome(a, outcomes.outcome_rules())
    # decided on the records before the final one (the stop test), not one record earlier
    assert _decided(a.dist[:-1], OUT) and not _decided(a.dist[:-2], OUT)
    # the records are those of a run that does not stop early, up to the stop
    b = dynamics.run_gd(c0, eta, 20000, digits=4, progress=False, engine=engine, rules=OUT,
                        max_seconds=None, stop_when_classified=False) if engine == "numba" else None
    if b is not None:
        k = len(a.steps) - 1
        assert b.steps[:k] == a.steps[:k] and b.dist[:k] == a.dist[:k]
        assert b.classes == a.classes


# ---------------------------------------------------------------------------------------------
# The hand-over from multiprecision to float64 comes at the first step the policy allows
# ---------------------------------------------------------------------------------------------

def _policy_backend(final_c, digits: int) -> str:
    c = model.check_params([[x for x in r] for r in final_c], "c")
    return model._resolve_precision(c, digits, None, "auto", model._scale_digits(c)).backend


def test_small_spread_run_switches_at_the_first_step_float64_suffices():
    z = np.random.default_rng(3).standard_normal((3, 2))
    c0 = (np.array([[3.0, 0.0]] * 3) + 1e-9 * z).tolist()
    eta, digits = 0.05, 3
    auto = dynamics.run_gd(c0, eta, 60, digits=digits, progress=False)
    k = auto.precision["switched"]["step"]
    assert k > 1
    # the iterates up to the switch are the all-multiprecision run's: the policy asked for
    # multiprecision at step k - 1 and allows float64 at step k
    before = dynamics.run_gd(c0, eta, k - 1, digits=digits, backend="mpmath", progress=False)
    at = dynamics.run_gd(c0, eta, k, digits=digits, backend="mpmath", progress=False)
    assert _policy_backend(before.final_c, digits) != "float64"
    assert _policy_backend(at.final_c, digits) == "float64"


# ---------------------------------------------------------------------------------------------
# The one-converges sweep cell stops early with the fixed-length run's classes
# ---------------------------------------------------------------------------------------------

def test_one_converges_cell_stops_early_with_the_full_runs_classes():
    """(M0, seed) = (1.5, 11) is a cell where a stop on the rule's own 5 records catches the
    converging mean inside the 0.05 ball before the other mean's separation pushes it out
    (to 0.085) and it returns: stopped there, its class came out undecided; the longer stop
    window must give the fixed-length run's classes."""
    from verify.sweeps import definitions as D
    stopped = 0
    for M0, seed in ((1.5, 11), (4.0, 0), (6.0, 1), (3.0, 2)):
        r = D.one_converges_cell(M0, 2, 2, seed)
        c0, _ = outcomes.far_init(2, 2, M0, r["seed"])
        full = dynamics.run_gd(c0, r["eta"], D.FAR_STEPS, digits=4, progress=False)
        assert r["classes"] == outcomes.classify_outcome(full, outcomes.outcome_rules()), (M0, seed)
        stopped += r["stop_reason"] == "all parameters classified" and r["steps"] < D.FAR_STEPS
    assert stopped >= 3


def test_one_converges_summary_counts_runs_that_stopped_before_the_cap():
    from verify.sweeps import definitions as D
    from verify.sweeps.summaries import summarise_one
    cell = {"M0": 6.0, "n": 2, "d": 2, "seed": 0}
    res = {"exactly_one": True, "classes": [CONVERGED, DIVERGING], "closest_converged": True}
    cells = [(dict(cell, seed=0), dict(res, steps=681, stop_reason="all parameters classified")),
             (dict(cell, seed=1), dict(res, steps=D.FAR_STEPS,
                                       stop_reason="all parameters classified")),
             (dict(cell, seed=2), dict(res, steps=D.FAR_STEPS, stop_reason="max steps"))]
    text = " ".join(summarise_one(cells, "test")["text"])
    assert "1 of 3 runs stopped early, after 681 to 681 steps" in text
