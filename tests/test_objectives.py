"""The objective layer (SPEC §6, verify.objectives) against independent computations: values
against this file's own mpmath.quad in the reduced coordinates (d = 1, split at the softmax tie
points), gradients against central finite differences of those values at 40 digits, the reverse
Fisher gradient's two forms against each other, the near-target agreement grad F ~ 2 grad K, and
the API / CLI / GD entry points."""
from __future__ import annotations

import math

import mpmath
import pytest

from verify import api, cli, dynamics
from verify import objectives as O

DPS = 40


def _ctx():
    ctx = mpmath.MPContext()
    ctx.dps = DPS
    return ctx


def _E(ctx, f, breaks):
    pts = sorted(set(ctx.mpf(b) for b in breaks) | {ctx.zero})
    g = lambda y: f(y) * ctx.exp(-y * y / 2)   # noqa: E731
    return ctx.quad(g, [-ctx.inf] + pts + [ctx.inf]) / ctx.sqrt(2 * ctx.pi)


def _v(ctx, c, y):
    a = [y * ci - ci * ci / 2 for ci in c]
    top = max(a)
    e = [ctx.exp(x - top) for x in a]
    return ctx.fsum(ei * ci for ei, ci in zip(e, c)) / ctx.fsum(e)


def reference(ctx, name, c, t_range=(0, 1)):
    """The objective at d = 1 by mpmath.quad (own code, not the engine's rules)."""
    c = [ctx.mpf(x) for x in c]
    n = len(c)
    ties = [(a + b) / 2 for i, a in enumerate(c) for b in c[i + 1:]]
    if name == "forward-fisher":
        return _E(ctx, lambda y: _v(ctx, c, y) ** 2, ties)
    if name == "gradient-em":
        def neg_log_ratio(y):
            a = [y * ci - ci * ci / 2 for ci in c]
            top = max(a)
            return -(top + ctx.log(ctx.fsum(ctx.exp(x - top) for x in a) / n))
        return _E(ctx, neg_log_ratio, ties)
    if name == "reverse-fisher":
        return ctx.fsum(_E(ctx, lambda z, cj=cj: _v(ctx, c, cj + z) ** 2, [p - cj for p in ties])
                        for cj in c) / n
    # Gauss-Legendre 20 in t (the integrand is analytic in t; its error is far below 1e-20 on
    # these ranges): a different outer rule from the engine's ladder
    t0, t1 = (ctx.mpf(x) for x in t_range)
    x, w = ctx.gauss_quadrature(20, "legendre")
    return ctx.fsum(wi / 2 * reference(ctx, "forward-fisher",
                                       [ctx.exp(-((t0 + t1) / 2 + (t1 - t0) / 2 * xi)) * ci
                                        for ci in c]) for xi, wi in zip(x, w))


CASES = [(["0.7", "-0.4", "1.3"], 16), (["20", "0", "0.5"], 16), (["25", "0"], 16)]


@pytest.mark.parametrize("name", ["gradient-em",
                                  pytest.param("reverse-fisher", marks=pytest.mark.slow)])
@pytest.mark.parametrize("c,digits", CASES)
def test_value_against_quad(name, c, digits):
    ctx = _ctx()
    est = O.value(name, [[x] for x in c], digits, backend="mpmath")
    ref = reference(ctx, name, c)
    assert abs(ctx.mpf(est.value) - ref) <= ctx.mpf(est.error) + ref * ctx.mpf(10) ** (-DPS + 5)
    assert est.error <= 10 ** -digits * abs(est.value)


@pytest.mark.slow
@pytest.mark.parametrize("c", [["0.7", "-0.4", "1.3"], ["20", "0"]])
def test_time_averaged_value_against_quad(c):
    ctx = _ctx()
    est = O.value("time-averaged", [[x] for x in c], 8, t_range=(0.2, 1.5))
    ref = reference(ctx, "time-averaged", c, (0.2, 1.5))
    assert abs(ctx.mpf(est.value) - ref) <= ctx.mpf(est.error) + ref * ctx.mpf(10) ** -20
    assert est.error <= 1e-8 * abs(est.value)


@pytest.mark.slow
@pytest.mark.parametrize("name,c", [("gradient-em", ["0.7", "-0.4", "1.3"]),
                                    ("gradient-em", ["20", "0", "0.5"]),
                                    ("reverse-fisher", ["0.7", "-0.4", "1.3"]),
                                    ("reverse-fisher", ["20", "0", "0.5"]),
                                    ("time-averaged", ["2.5", "0.2"])])
def test_gradient_against_finite_differences(name, c):
    """Central differences of the reference value, h = 1e-12 at 40 digits: O(h^2) + 1e-28."""
    ctx = _ctx()
    kw = {"t_range": (0, 1)} if name == "time-averaged" else {}
    digits = 8 if name == "time-averaged" else 14
    g = O.gradient(name, [[x] for x in c], digits, backend="mpmath" if digits > 10 else "auto",
                   **kw)
    h = ctx.mpf("1e-12")
    for i in range(len(c)):
        up = [ctx.mpf(x) for x in c]
        dn = list(up)
        up[i] += h
        dn[i] -= h
        fd = (reference(ctx, name, up) - reference(ctx, name, dn)) / (2 * h)
        assert abs(ctx.mpf(g.value[i][0]) - fd) <= ctx.mpf(g.error[i][0]) + ctx.mpf("1e-20")


@pytest.mark.slow
def test_far_em_gradient_has_significant_digits():
    """Separation 25: the far mean's EM gradient, about Phi(-12.5) x 12.5 ~ 1e-34, comes back
    with its own digits (recomputed past the absolute floor) and matches finite differences."""
    ctx = _ctx()
    ctx.dps = 80
    g = O.gradient("gradient-em", [["25"], ["0"]], 12)
    h = ctx.mpf("1e-20")
    fd = (reference(ctx, "gradient-em", [25 + h, 0]) - reference(ctx, "gradient-em", [25 - h, 0])) / (2 * h)
    assert abs(ctx.mpf(g.value[0][0]) - fd) <= ctx.mpf(g.error[0][0]) + abs(fd) * ctx.mpf("1e-30")
    assert g.error[0][0] < 1e-10 * abs(g.value[0][0])


def test_reverse_fisher_forms_agree_2d():
    """Pathwise (Stein under N(c_i, I)) and score-function forms: two integrands, one gradient."""
    c = [["0.6", "0.1"], ["-0.3", "0.4"], ["2.5", "-1"]]
    a = O.gradient("reverse-fisher", c, 9, form="pathwise")
    b = O.gradient("reverse-fisher", c, 9, form="score")
    for ra, rb, ea, eb in zip(a.value, b.value, a.error, b.error):
        for x, y, ex, ey in zip(ra, rb, ea, eb):
            assert abs(x - y) <= ex + ey


def test_near_target_forward_fisher_is_twice_gradient_em():
    """grad F - 2 grad K = O(s^3) (derivation em-link): the ratio to s^3 settles as s halves."""
    u = [["1", "0.5"], ["-0.6", "0.2"], ["0.3", "-0.9"]]
    ratios = []
    for s in ("0.1", "0.05", "0.025"):
        c = [[str(mpmath.mpf(s) * mpmath.mpf(x)) for x in r] for r in u]
        gF = O.gradient("forward-fisher", c, 12)
        gK = O.gradient("gradient-em", c, 12)
        diff = max(abs(float(a) - 2 * float(b)) for ra, rb in zip(gF.value, gK.value)
                   for a, b in zip(ra, rb))
        size = max(abs(float(a)) for r in gF.value for a in r)
        ratios.append(diff / float(s) ** 3)
        assert diff < 0.5 * size
    assert 0.5 < ratios[-1] / ratios[-2] < 1.5   # bounded, converging ratio R(s)/s^3
    assert ratios[-1] > 1e-3                     # and not zero: the cubic term is there


def test_api_and_cli_objectives(capsys):
    r = api.loss([[1], [0], ["0.5"]], [0], objective="gradient-em", digits=12)
    ref = reference(_ctx(), "gradient-em", ["1", "0", "0.5"])
    assert abs(mpmath.mpf(r.value) - ref) <= mpmath.mpf(r.error) + mpmath.mpf("1e-30")
    assert cli.main(["loss", "--params", "1;0;0.5", "--target", "0", "--objective",
                     "gradient-em", "--digits", "10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gradient-em = ") and "error <=" in out
    assert cli.main(["loss", "--params", "1;0", "--target", "0", "--objective",
                     "time-averaged", "--t-range", "2,1"]) == 2
    assert cli.main(["gradient", "--params", "1;0", "--target", "0", "--objective",
                     "gradient-em", "--t-range", "0,1"]) == 2
    with pytest.raises(ValueError, match="objective must be one of"):
        api.loss([[1], [0]], [0], objective="kl")


def test_gd_is_the_em_update():
    """One GD step on K from c equals c_i + eta E[w_i (y - c_i)] from the existing EM direction."""
    from verify import model
    c0 = [[1.5], [-0.5], [0.2]]
    tr = dynamics.run_gd(c0, 0.3, 1, digits=8, objective="gradient-em")
    em = model.em_direction(c0, 10)
    for row, r0, e in zip(tr.final_c, c0, em.value):
        assert abs(float(row[0]) - (r0[0] + 0.3 * float(e[0]))) < 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 3])
def test_far_drift_laws_against_engine(n):
    """EM: the engine's far-mean drift over the derived law -> 1 with an O(1/r^2) gap (shrinking
    as r grows); RF: the gradient over (2/n) r -> 1 to e^{-r^2/8}."""
    from verify.objectives import farlaw
    gaps = []
    for r in (10, 20):
        c = [[r]] + [[0]] * (n - 1)
        g = O.gradient("gradient-em", c, 10)
        gaps.append(abs(-float(g.value[0][0]) / farlaw.drift("gradient-em", r, n) - 1))
        gr = O.gradient("reverse-fisher", c, 10)
        assert abs(-float(gr.value[0][0]) / farlaw.drift("reverse-fisher", r, n) - 1) \
            < 10 * math.exp(-r * r / 8) + float(gr.error[0][0]) / abs(float(gr.value[0][0])) \
            + 4e-16
    assert gaps[1] < gaps[0] / 3 and gaps[0] < 0.1   # O(1/r^2): a factor ~4 per doubling of r


def _cli_value(capsys, name, params, digits):
    """``python -m verify loss --objective NAME`` in-process: (value, error bound) as printed
    (strings: parsed at the test's precision, not mpmath's global 15 digits)."""
    assert cli.main(["loss", "--params", params, "--target", "0", "--objective", name,
                     "--digits", str(digits)]) == 0
    out = capsys.readouterr().out.strip()
    head, rest = out.split("(error <=", 1)
    label, value = head.split("=", 1)
    assert label.strip() == name
    return value.strip(), rest.split(";", 1)[0].strip()


def _time_reference(ctx, c, orders):
    """The time average by Gauss-Legendre of two orders in t over the reference F: the value of
    the higher order and the difference as its error estimate (orders the engine's ladder
    (3, 4, 6, 8, 12, 16, 24, ...) does not use)."""
    vals = []
    for order in orders:
        x, w = ctx.gauss_quadrature(order, "legendre")
        vals.append(ctx.fsum(wi / 2 * reference(ctx, "forward-fisher",
                                                [ctx.exp(-(1 + xi) / 2) * ctx.mpf(ci) for ci in c])
                             for xi, wi in zip(x, w)))
    return vals[-1], abs(vals[-1] - vals[0])


@pytest.mark.parametrize("name,params,digits", [
    ("gradient-em", "20;0;0.5", 12), ("gradient-em", "30;-0.5", 12),
    ("reverse-fisher", "20;0;0.5", 12), ("reverse-fisher", "30;-0.5", 12),
    ("time-averaged", "22;0", 8),
    pytest.param("time-averaged", "20;0;0.5", 6, marks=pytest.mark.slow)])
def test_cli_loss_far_against_quad(capsys, name, params, digits):
    """``verify loss --objective NAME`` at separations 20 to 30.5 against this file's mpmath.quad
    (split at the softmax ties, DPS digits; for the time average, its own Gauss-Legendre pair in
    t on [0, 1] at 25 digits, the pair's difference as the reference's error): the printed value
    lies within its printed bound of the reference, and has the digits asked."""
    c = params.split(";")
    val_s, err_s = _cli_value(capsys, name, params, digits)
    if name == "time-averaged":
        ctx = mpmath.MPContext()
        ctx.dps = 25
        ref, ref_err = _time_reference(ctx, c, (14, 18) if len(c) == 2 else (18, 22))
        assert ref_err <= ref * ctx.mpf(10) ** -(digits + 3)   # the reference is good enough
    else:
        ctx = _ctx()
        ref, ref_err = reference(ctx, name, c), 0
    val, err = ctx.mpf(val_s), ctx.mpf(err_s)
    slack = ref_err + ref * ctx.mpf(10) ** -(min(ctx.dps, 25) - 5)
    assert abs(val - ref) <= err + slack
    assert err <= ctx.mpf(10) ** -digits * abs(val)
    assert abs(val - ref) <= ctx.mpf(10) ** -digits * ref


def test_objective_gd_drops_to_float64_like_an_mpmath_run():
    """A start whose 1e-10 spread needs multiprecision drops to float64 once the policy allows
    (rechecked after every step; that it is the first such step is tests/test_stop_rules.py's
    concern) and ends where the all-mpmath run ends: each step's
    gradient is good to 10^-digits of its norm and EM contracts here, so the two iterates differ
    by at most steps x 10^-digits x the start's scale."""
    c0, steps, digits = [["3"], ["3.0000000001"]], 40, 4
    a = dynamics.run_gd(c0, 0.5, steps, digits=digits, objective="gradient-em")
    b = dynamics.run_gd(c0, 0.5, steps, digits=digits, objective="gradient-em", backend="mpmath")
    assert a.precision["backend"] == "mpmath" and a.precision["switched"]["backend"] == "float64"
    assert "switched" not in b.precision
    for ra, rb in zip(a.final_c, b.final_c):
        assert abs(mpmath.mpf(ra[0]) - mpmath.mpf(rb[0])) <= steps * 10 ** -digits * 3


def test_time_averaged_step_on_arb_matches_model_evaluator():
    """The time average's inner F / grad F on the Arb kernel (what a multiprecision GD step
    uses) against model.Evaluator (mpmath): the same values within the two error bounds."""
    from verify import model
    from verify.objectives import starts
    c = model.check_params(starts.start("experiment", 5, 3, 4.0, 1), "c")
    prec = model._resolve_precision(c, 4, None, "auto", model._scale_digits(c))
    assert not prec.is_float64
    fa, ga = O.Stepper("time-averaged", prec, evaluator=dynamics.evaluator_for(prec))(c)
    fb, gb = O.Stepper("time-averaged", prec)(c)
    assert "Arb" in fa.rule["rule"] and "Arb" not in fb.rule["rule"]
    assert abs(fa.value - fb.value) <= fa.error + fb.error
    for ra, rb, ea, eb in zip(ga.value, gb.value, ga.error, gb.error):
        for x, y, ex, ey in zip(ra, rb, ea, eb):
            assert abs(x - y) <= ex + ey
