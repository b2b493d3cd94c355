"""Claims as data (verify/claims/statement.py) and `verify falsify` (verify/claims/falsify.py)."""
from __future__ import annotations

import pytest

from verify.claims.record import CONFIRMED, INCONCLUSIVE, REFUTED
from verify.claims.statement import (Conclusion, Decision, Statement, Twin, combine, compare,
                                     conclusions_table, decision, twins_table)


def _stmt():
    return Statement(hypotheses={"n": "n >= 3"},
                     conclusions=(Conclusion("rate", "loss decays like tau^-1", "rate", -1.0, "=="),
                                  Conclusion("count", "exactly one converges", "count", 1)),
                     reading={"direction": "e_1 -- the construction's axis"})


def test_replace_changes_one_conclusion_only():
    s = _stmt()
    t = s.replace("rate", claimed=-2.5)
    assert t.conclusion("rate").claimed == -2.5
    assert s.conclusion("rate").claimed == -1.0          # the original is untouched (frozen)
    assert t.conclusion("count") == s.conclusion("count")
    assert t.hypotheses == s.hypotheses and t.reading == s.reading
    with pytest.raises(KeyError):
        s.replace("nope", claimed=0)
    with pytest.raises(KeyError):
        s.conclusion("nope")


def test_bad_kind_relation_and_duplicate_keys_rejected():
    with pytest.raises(ValueError):
        Conclusion("k", "t", "colour", 1)
    with pytest.raises(ValueError):
        Conclusion("k", "t", "count", 1, relation="!=")
    with pytest.raises(ValueError):
        Statement(conclusions=(Conclusion("k", "a", "count", 1), Conclusion("k", "b", "count", 2)))


@pytest.mark.parametrize("obs,err,claimed,rel,expected", [
    (1.0, 0.1, 1.05, "==", True), (1.0, 0.01, 1.05, "==", False),
    (1.0, 0.1, 2.0, "<=", True), (3.0, 0.1, 2.0, "<=", False), (2.0, 0.1, 2.0, "<=", None),
    (3.0, 0.1, 2.0, ">=", True), (1.0, 0.1, 2.0, ">=", False), (2.05, 0.1, 2.0, ">=", None),
])
def test_compare_by_relation(obs, err, claimed, rel, expected):
    assert compare(obs, err, claimed, rel) is expected


def test_combine_three_ways():
    t, f, u = (Decision("a", True, "1", "b"), Decision("b", False, "2 +- 0.1", "law"),
               Decision("c", None, "?", "budget"))
    assert combine([t, t]) == (CONFIRMED, None, "")
    v, w, r = combine([t, f, u])
    assert v == REFUTED and w["failing conclusions"] == "b" and "2 +- 0.1" in w["b"]
    v, w, r = combine([t, u])
    assert v == INCONCLUSIVE and w is None and "c" in r and "budget" in r
    assert combine([])[0] == INCONCLUSIVE


def test_twin_decided_by_the_same_evidence():
    """A decide() reading the claimed value from the statement refutes the twin and confirms the
    original on the same observation."""
    def decide(st, obs):
        return [decision(st, "rate", obs["slope"], obs["err"], "fit"),
                Decision("count", obs["count"] == st.conclusion("count").claimed,
                         str(obs["count"]), "runs")]
    s = _stmt()
    obs = {"slope": -1.002, "err": 0.01, "count": 1}
    twins = [Twin("rate-2.5", "rate tau^-2.5", s.replace("rate", claimed=-2.5)),
             Twin("all", "all converge", s.replace("count", claimed=3))]
    assert combine(decide(s, obs))[0] == CONFIRMED
    rows = twins_table(decide, twins, obs)
    assert [r["verdict"] for r in rows] == [REFUTED, REFUTED]
    assert "rate" in rows[0]["basis"] and "count" in rows[1]["basis"]
    table = conclusions_table(s, decide(s, obs))
    assert [c["holds"] for c in table] == [True, True]
    assert table[0]["claimed"] == -1.0 and table[0]["relation"] == "=="


def test_decision_coerces_numpy_bool():
    import numpy as np
    d = Decision("a", np.bool_(True), "x", "y")
    assert d.holds is True and type(d.holds) is bool


def test_record_fields_round_trip_and_version_2_still_loads():
    import json
    from verify.claims.record import ClaimRecord, SCHEMA_VERSION, dumps, loads
    r = ClaimRecord(id="x", title="t", statement="s", provenance="p", verdict=CONFIRMED,
                    assurance="numeric", hypotheses={"n": "n >= 3"}, tested="n = 3..10",
                    in_scope="partly", scope_reason="n up to 10 only",
                    conclusions=conclusions_table(_stmt(), []),
                    twins=[{"name": "a", "change": "b", "verdict": REFUTED, "basis": "c"}])
    text = dumps([r], {})
    assert json.loads(text)["schema_version"] == SCHEMA_VERSION == 3
    (back,), _ = loads(text)
    assert back == r
    old = json.loads(text)
    old["schema_version"] = 2
    for k in ("hypotheses", "tested", "in_scope", "scope_reason", "conclusions", "twins"):
        del old["records"][0][k]
    (v2,), _ = loads(json.dumps(old))
    assert v2.tested == "" and v2.twins == [] and v2.in_scope == ""
    with pytest.raises(ValueError):
        ClaimRecord(id="x", title="t", statement="s", provenance="p", verdict=CONFIRMED,
                    assurance="numeric", in_scope="maybe")


def _fake_module(twins_refuted=True, with_twins=True, broken=False):
    import types
    from verify.claims.statement import Twin
    m = types.ModuleType("fake")
    st = _stmt()
    m.STATEMENT_DATA = st

    def observe(tier, seed):
        if broken:
            raise RuntimeError("engine down")
        return {"slope": -1.0, "count": 1}

    def decide(s, obs):
        c = s.conclusion("count")
        return [Decision("count", obs["count"] == c.claimed, str(obs["count"]), "runs")]
    m.observe, m.decide = observe, decide
    if with_twins:
        m.TWINS = [Twin("all", "all converge", st.replace("count", claimed=3 if twins_refuted else 1))]
    return m


@pytest.mark.parametrize("kind,status,needle", [
    ("good", 0, "REFUTED"), ("toothless", 1, "CONFIRMED"), ("no-twins", 1, "no false twins"),
    ("broken", 1, "engine down")])
def test_falsify_exit_status_and_lines(monkeypatch, capsys, kind, status, needle):
    import verify.claims.falsify as fz
    mod = {"good": _fake_module(), "toothless": _fake_module(twins_refuted=False),
           "no-twins": _fake_module(with_twins=False), "broken": _fake_module(broken=True)}[kind]
    monkeypatch.setattr(fz, "load", lambda cid: mod)
    assert fz.run_falsify(["score"], quick=True, jobs=1) == status
    out = capsys.readouterr().out
    assert needle in out and out.strip().splitlines()[0].startswith("score")


def test_falsify_unknown_id_is_status_2(capsys):
    from verify.cli import main
    assert main(["falsify", "no-such-claim", "--quick"]) == 2
    assert "unknown claim" in capsys.readouterr().err


def test_score_twins_refuted_on_numerical_gradients():
    """The score statement and its twins decided on two random points: the claimed formula is
    evaluated from the statement (mixture variance, logit coefficient) against mpmath's
    numerical gradient of the log mixture density."""
    from verify.claims import c_score
    from verify.claims.statement import judge
    obs = {"dps": 30, "points": c_score._points(2, 30, seed=7), "need": 20, "der_ok": True,
           "steps": 1, "steps_passed": 1}
    assert judge(c_score.decide, c_score.STATEMENT_DATA, obs)[0] == CONFIRMED
    for t in c_score.TWINS:
        verdict, witness, _, _ = judge(c_score.decide, t.statement, obs)
        assert verdict == REFUTED and witness["failing conclusions"] == "score_formula", t.name


def test_figure_counts_decide_the_twins_and_undecided_means_stay_undecided():
    from types import SimpleNamespace
    from verify.claims import c_figure
    from verify.claims.statement import judge

    def run(classes, steps=20000):
        return {"classes": classes, "rules": {"converge_tol": 0.4}, "steps_run": steps,
                "fit": {"slope": -0.85, "stderr": 0.03, "x_from": 147.0, "x_to": 20000.0},
                "traj": SimpleNamespace()}
    obs = {"runs": {("population", 4.0): run(["converged"] * 5),
                    ("population", 6.0): run(["diverging", "converged"] + ["diverging"] * 3)}}
    assert judge(c_figure.decide, c_figure.STATEMENT_DATA, obs)[0] == CONFIRMED
    assert {t.name: judge(c_figure.decide, t.statement, obs)[0] for t in c_figure.TWINS} == \
        {"M6-all-converge": REFUTED, "M4-exactly-one": REFUTED, "M6-slope-2": REFUTED}
    # an undecided mean that could still converge leaves "exactly one" undecided, not refuted
    obs["runs"][("population", 6.0)] = run(["undecided", "converged"] + ["diverging"] * 3)
    decs = {d.key: d.holds for d in c_figure.decide(c_figure.STATEMENT_DATA, obs)}
    assert decs["M6_converged"] is None       # 1 converged + 1 undecided: 1 or 2 in the end
    # ... but "all five converge" is out of reach with 3 diverging: refuted all the same
    twin = {t.name: t for t in c_figure.TWINS}["M6-all-converge"]
    assert judge(c_figure.decide, twin.statement, obs)[0] == REFUTED


def test_gradient_term_integrals_assemble_the_engines_two_forms():
    """The gradient claim's own term integrals (mpmath tanh-sinh over the reduced Gaussian),
    weighted by the stated coefficients, against the engine's direct and Stein forms
    (verify.model, another integrand layout and rule) at an overlapping configuration."""
    import mpmath
    from verify import model
    from verify.claims import c_gradient as g
    c = g.CONFIGS[0]
    terms = g.term_expectations([[g._exact(x) for x in r] for r in c], 30)
    for form, key in (("direct", "direct_form"), ("stein", "stein_form")):
        coeffs = g._coefficients(g.STATEMENT_DATA, key)
        mine, err = g._form(terms[form], coeffs, 30)
        eng = model.grad_F(c, 15, form=form)
        flat = [x for r in eng.value for x in r]
        ferr = [x for r in eng.error for x in r]
        for a, e, b, fe in zip(mine, err, flat, ferr):
            assert abs(a - b) <= e + fe + mpmath.mpf(10) ** -25, (form, a, b)


def test_gradient_vector_tanh_sinh_is_quad_per_component():
    """The term integrals' shared-node tanh-sinh gives each component exactly what its own
    ctx.quad call gives (values and error estimates, bit for bit), including a component that
    converges later than the others and an interval split at breakpoints."""
    from verify.claims import c_gradient as g
    from verify.precision import context
    ctx = context(30)

    def fz(z):
        e = ctx.exp(-z * z / 2)
        return [e, e / (1 + z * z), e * ctx.cos(3 * z) / (2 + ctx.sin(z))]
    points = [ctx.ninf, ctx.mpf(-1) / 3, ctx.mpf(2), ctx.inf]
    vals, errs = g._tanh_sinh_components(ctx, fz, points, 3)
    for m in range(3):
        v, e = ctx.quad(lambda z, m=m: fz(z)[m], points, error=True)
        assert (vals[m], errs[m]) == (v, abs(e)), m


def test_gradient_arb_loss_and_direct_form_agree_with_the_independent_ones():
    """engine_loss (Arb kernel) against the claim's own tanh-sinh loss_F, and engine_gradient's
    direct form (Arb kernel) against verify.model's, within their error estimates; the Arb
    kernel answered (no fallback) at every configuration of the claim."""
    from verify import model
    from verify.claims import c_gradient as g
    for c in g.CONFIGS:
        grad = g.engine_gradient(c, 15, "direct")
        assert grad.rule["engine"] == "arb"
        ref = model.grad_F(c, 15, form="direct") if g.reduced_dim(c) == 1 else None
        if ref is not None:
            for a, e, b, f in zip(*(sum(x, []) for x in (grad.value, grad.error, ref.value,
                                                          ref.error))):
                assert abs(a - b) <= e + f, (c, a, b)
    c = g.CONFIGS[1]
    f, fe = g.engine_loss(c, 30)
    f2, fe2 = g.loss_F([[g._exact(x) for x in r] for r in c], 30)
    assert abs(f - f2) <= fe + fe2 and fe <= abs(f) * 10 ** -30


def test_gradient_2d_stein_form_from_the_derivation_is_sharp():
    """On the 2-D reduction the Stein form comes from the derivation's integrand: it agrees with
    the Arb kernel's direct form within the two error estimates, which are far below the
    gradient (a wrong coefficient, an O(1) change, could not hide in them)."""
    from verify.claims import c_gradient as g
    c = g.CONFIGS[2]
    assert g.reduced_dim(c) == 2
    d = g.engine_gradient(c, 15, "direct")
    (sv, se), name = g.stein_by_derivation(c, 15)
    assert "Gauss-Hermite" in name
    dv, de = sum(d.value, []), sum(d.error, [])
    assert all(abs(a - b) <= e + f for a, e, b, f in zip(dv, de, sv, se))
    assert max(se) < 1e-17 * max(abs(x) for x in dv)
