"""The compiled float64 engine (verify.engine_f64) against the numpy path (model.Evaluator):
two independent engines, each accurate to about machine precision at the digits asked here, so
their GD iterates must agree to 1e-13 relative (issue 10); batched runs equal separate runs; a
step the compiled engine cannot resolve is taken on the numpy path with the reason recorded; a
mixed rule's two ladders (split and smooth directions) keep their values within their estimates
against an independent reference."""
from __future__ import annotations

import math

import numpy as np
import pytest

from verify import dynamics, engine_f64, model

OVERLAP = [[0.15, 0.05], [-0.1, 0.12], [0.03, -0.15]]           # n=3, d=2, k=2, Gauss-Hermite
SEP_1D = [[0.9, -0.3], [-0.6, 0.5]]                              # n=2: one separated direction
SEP_2D = [[1.5, 0.2], [-1.0, 1.2], [0.3, -1.9]]                  # two separated directions
OVERLAP_53 = (np.random.default_rng(1).standard_normal((5, 3)) * 0.3).tolist()


def _final(tr) -> np.ndarray:
    return np.array([[float(x) for x in r] for r in tr.final_c])


def _agree(c0, eta, steps, digits, **kw):
    a = dynamics.run_gd(c0, eta, steps, digits=digits, progress=False, engine="numba", **kw)
    b = dynamics.run_gd(c0, eta, steps, digits=digits, progress=False, engine="numpy", **kw)
    assert a.settings["engine"] == "numba" and b.settings["engine"] == "numpy"
    assert "engine_fallbacks" not in a.settings
    assert a.steps == b.steps and a.stop_reason == b.stop_reason and a.classes == b.classes
    Ca, Cb = _final(a), _final(b)
    rel = np.abs(Ca - Cb).max() / np.abs(Cb).max()
    assert rel <= 1e-13, rel
    for x, y in zip(a.loss, b.loss):
        assert abs(x - y) <= 1e-13 * abs(y) + a.loss_error[-1] + b.loss_error[-1]
    for ra, rb in zip(a.dist, b.dist):
        assert np.allclose(ra, rb, rtol=1e-13, atol=0)
    return a, b


def test_single_evaluation_matches_the_numpy_path_within_both_estimates():
    for c, digits in ((OVERLAP, 12), (SEP_1D, 12), (SEP_2D, 10), (OVERLAP_53, 11)):
        cx = model.check_params(c)
        prec = model._resolve_precision(cx, digits, None, "float64", model._scale_digits(cx))
        F, Fe, G, status, nodes, _ = engine_f64.evaluate_py(np.array(c), digits)
        assert status == engine_f64.OK and nodes > 0
        g, f = model.Evaluator(prec).grad(cx, with_loss=True)
        assert abs(F - float(f.value)) <= Fe + float(f.error)
        assert Fe <= 10.0 ** -digits * abs(F)
        Gn = np.array(g.value, dtype=float)
        assert np.abs(G - Gn).max() <= 10.0 ** -digits * np.linalg.norm(Gn) + g.max_error()


def test_one_compiled_signature_serves_evaluations_runs_and_batches():
    # evaluate_errors is a chunk of run_chunk with arguments of the types dynamics passes; a
    # mismatch (a non-contiguous array, an int where a float goes) would make numba compile the
    # whole engine again for the other signature (about a minute on a cold cache)
    engine_f64.evaluate_py(np.array(OVERLAP), 8)
    dynamics.run_gd(OVERLAP, 0.1, 3, digits=8, progress=False, engine="numba")
    moved = [[x + 0.01 for x in r] for r in OVERLAP]
    dynamics.run_gd_batch([OVERLAP, moved], 0.1, 3, digits=8, progress=False, engine="numba")
    engine_f64.time_steps(OVERLAP, 0.1, 3, 8, repeat=1)
    assert len(engine_f64.run_chunk.signatures) == 1, engine_f64.run_chunk.signatures


def test_iterates_agree_overlapping():
    # 300 steps: 37 probes of the warm-start ladder (every SLACK_STEPS steps) and 29 records; the
    # numpy path costs ~10 ms a step here, and the slow tier runs the same comparison to 10^4 steps
    _agree(OVERLAP, 0.1, 300, 12)


def test_iterates_agree_separated_one_direction():
    _agree(SEP_1D, 0.1, 1000, 12)


def test_iterates_agree_separated_two_directions_short():
    _agree(SEP_2D, 0.1, 10, 10)


@pytest.mark.slow
@pytest.mark.parametrize("c0,digits,steps", [(OVERLAP, 12, 10_000), (SEP_1D, 12, 10_000),
                                             (SEP_2D, 10, 10_000), (OVERLAP_53, 11, 1000)])
def test_iterates_agree_over_1e4_steps(c0, digits, steps):
    # the n=5, d=3 run costs ~0.1 s per numpy step at 11 digits: 1000 steps
    _agree(c0, 0.1, steps, digits)


def test_stop_when_classified_and_small_start_switch_agree():
    # converging pair: stops once both are classified (in the compiled loop)
    a, _ = _agree([[0.3, 0.1], [-0.2, 0.25]], 0.5, 20000, 10, stop_when_classified=True,
                  rules=dynamics.Rules(converge_tol=0.05))
    assert a.stop_reason == "all parameters classified" and a.steps[-1] < 20000
    # a small-spread start runs in mpmath first and hands over to the compiled engine
    from verify.claims import c_figure
    c0 = c_figure.initial(6.0, 20260101)      # 1e-7 spread at |c| = 6: mpmath, then float64
    a = dynamics.run_gd(c0, 0.01, 30, digits=2, progress=False, engine="numba")
    b = dynamics.run_gd(c0, 0.01, 30, digits=2, progress=False, engine="numpy")
    assert "switched" in a.precision and a.precision == b.precision
    assert a.steps == b.steps
    # digits=2 on a 1e-7 spread: the policy asks 10 digits of each quantity
    assert np.abs(_final(a) - _final(b)).max() <= 1e-10 * np.abs(_final(b)).max()


def test_batch_equals_separate_runs():
    rng = np.random.default_rng(3)
    starts = [(rng.standard_normal((3, 2)) * s).tolist() for s in (0.2, 0.5, 1.2)]
    kw = dict(digits=8, progress=False, stop_when_classified=True,
              rules=dynamics.Rules(converge_tol=0.05))
    batch = dynamics.run_gd_batch(starts, 0.2, 3000, **kw)
    for c0, tb in zip(starts, batch):
        ts = dynamics.run_gd(c0, 0.2, 3000, **kw)
        da, db = tb.to_dict(), ts.to_dict()
        da.pop("seconds"), db.pop("seconds")
        assert da == db


def test_three_separated_directions_run_compiled():
    """Three separated directions (issue 24; the compiled engine used to hand them to the numpy
    path, which stopped the run): the compiled engine takes every step itself, and its loss at
    step 0 agrees with the independent trapezoid reference of tests/test_accuracy.py."""
    from test_accuracy import trapezoid_reference
    c0 = [[0, 0, 0], [3, 0, 0], [0, 3, 0], [0, 0, 3]]
    tr = dynamics.run_gd(c0, 0.1, 5, digits=3, progress=False, engine="numba")
    assert tr.stop_reason == "max steps" and not tr.settings.get("engine_fallbacks"), (
        tr.stop_reason, tr.settings.get("engine_fallbacks"))
    F, F_err, _, _ = trapezoid_reference(c0, 0.25, 8.0)
    assert tr.steps[0] == 0 and tr.loss_error[0] <= 1e-3 * tr.loss[0]
    assert abs(tr.loss[0] - F) <= tr.loss_error[0] + F_err


def test_four_separated_directions_fall_back_with_the_reason():
    """Four separated directions: beyond the compiled split rule; the numpy path is asked and
    (it has a lower limit) stops the run with its reason -- no silent number."""
    c0 = [[0, 0, 0, 0], [3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0], [0, 0, 0, 3]]
    tr = dynamics.run_gd(c0, 0.1, 5, digits=3, progress=False, engine="numba")
    fb = tr.settings["engine_fallbacks"]
    assert fb["steps"] >= 1 and any("separated directions" in r for r in fb["reasons"])
    assert tr.stop_reason.startswith(("unresolved gradient", "inaccurate gradient")), tr.stop_reason


def test_bad_input_and_time_budget():
    with pytest.raises(ValueError, match="engine"):
        dynamics.run_gd(OVERLAP, 0.1, 5, engine="fortran")
    with pytest.raises(ValueError, match="c0s"):
        dynamics.run_gd_batch([], 0.1, 5)
    with pytest.raises(ValueError, match="same shape"):
        dynamics.run_gd_batch([OVERLAP, SEP_1D], 0.1, 5)
    tr = dynamics.run_gd(OVERLAP, 0.1, 10 ** 7, digits=8, progress=False, max_seconds=0.0)
    assert tr.stop_reason.startswith("time budget") and tr.steps[-1] < 10 ** 7
    assert tr.steps[-1] == int(tr.stop_reason.rsplit(" ", 1)[1])


def test_overflow_is_a_stop_not_a_number():
    # a huge step diverges: the run stops on overflow with an infinite last record
    tr = dynamics.run_gd([[3.0, 0.0], [-3.0, 0.5]], 1e6, 200, digits=4, progress=False)
    if tr.stop_reason == "overflow":
        assert math.isinf(tr.dist[-1][0])
    else:
        assert tr.stop_reason == "max steps"


def test_compiled_sgd_matches_numpy_sgd():
    # same Generator stream (numba reproduces numpy's draws bit for bit); only the order of the
    # sums over the samples differs
    from verify import sgd
    c0 = (np.random.default_rng(5).standard_normal((5, 3)) * 0.8).tolist()
    a = sgd.run_sgd(c0, 0.05, 100, samples=2000, seed=11, engine="numba")
    b = sgd.run_sgd(c0, 0.05, 100, samples=2000, seed=11, engine="numpy")
    assert a.settings["engine"] == "numba" and b.settings["engine"] == "numpy"
    assert a.steps == b.steps and a.stop_reason == b.stop_reason
    assert np.abs(_final(a) - _final(b)).max() <= 1e-12 * np.abs(_final(b)).max()
    assert np.allclose(a.loss, b.loss, rtol=1e-12, atol=0)
    assert np.allclose(a.loss_error, b.loss_error, rtol=1e-9, atol=0)
    with pytest.raises(ValueError, match="engine"):
        sgd.run_sgd(c0, 0.05, 1, engine="gpu")


# Far configurations (issue 15: digits are significant digits).  A far component's mass sits near
# its tie point r/2 (~e^{-r^2/8}), beyond the split rule's default range; once the near component
# has converged that mass *is* the loss.  The compiled engine must integrate it (range widened
# relative to the value, rigorous tail term in the error) or decline (RANGE); and v must be formed
# from the component nearest the target, not from a far one where it cancels to rounding.
FAR = [[[20], [0.5]], [[30], [1e-3]], [[30], [1e-20]], [[45], [1e-2]], [[60], [0]],
       [[25], [-25], [0]], [[25], [-25], [1e-22]], [[40], [0.1], [-0.1]]]


@pytest.mark.parametrize("c", FAR, ids=[str(c) for c in FAR])
def test_far_configurations_values_within_their_bounds_against_mpmath(c):
    F, Fe, G, status, nodes, _, Ge = engine_f64.evaluate_py(np.array(c, dtype=float), 8,
                                                             with_gradient_error=True)
    assert status == engine_f64.OK, engine_f64.STATUS_TEXT.get(status)
    # independent engine: the mpmath reference path at twice the digits
    f = model.F(c, 16, backend="mpmath")
    g = model.grad_F(c, 16, backend="mpmath")
    Fr, Gr = float(f.value), np.array(g.value, dtype=float)
    assert Fr > 0 and F > 0
    assert abs(F - Fr) <= Fe + float(f.error), (F, Fr, Fe)
    assert Fe <= 1e-8 * F                      # 8 significant digits of the loss, not an absolute floor
    assert np.abs(G - Gr).max() <= Ge + g.max_error(), (G, Gr, Ge)
    scale = np.abs(Gr).max()                   # (the squares of ~1e-193 would underflow)
    assert Ge <= 1e-8 * np.linalg.norm(Gr / scale) * scale * 1.01


def test_mass_beyond_the_float64_range_is_declined_not_dropped():
    # r = 80: the loss (~e^{-800}) lives at |u| ~ 40, beyond float64 Gaussian weights: no value
    F, Fe, G, status, *_ = engine_f64.evaluate_py(np.array([[80.0], [0.0]]), 8)
    assert status == engine_f64.RANGE and Fe == math.inf


def test_far_component_run_agrees_with_the_numpy_path():
    # the near component converges to ~2e-27 while the far one's tail mass (~2.6e-48) is the loss;
    # a far reference used to freeze the near one at 30 eps (loss and gradient exactly 0)
    c0 = [[30], [0.5]]
    a = dynamics.run_gd(c0, 0.01, 3000, digits=8, progress=False, engine="numba")
    b = dynamics.run_gd(c0, 0.01, 3000, digits=8, progress=False, engine="numpy")
    assert a.steps == b.steps
    Ca, Cb = _final(a), _final(b)
    assert np.all(np.abs(Ca - Cb) <= 1e-8 * np.abs(Cb)), (Ca, Cb)
    for x, ex, y, ey in zip(a.loss, a.loss_error, b.loss, b.loss_error):
        assert x > 0 and abs(x - y) <= ex + ey, (x, ex, y, ey)
        assert ex <= 1e-8 * x
    assert a.grad_norm[-1] > 0
    if "engine_fallbacks" in a.settings:           # allowed: steps taken on the numpy path
        assert a.settings["engine_fallbacks"]["steps"] >= 1


def _grading_ok(a, b, ties, widths):
    """A panel [a, b] as fine as a tie's own grading makes it: no wider than PANEL_MAX, and within
    the graded zone of a tie (edges at p +- w G^j below PANEL_MAX, G = GRADING, the last at
    distance hl) no wider than max(w, (G - 1) x its distance to the tie)."""
    slack = 1 + 1e-9
    g = engine_f64.GRADING
    if b - a > engine_f64.PANEL_MAX * slack:
        return False
    for p, w in zip(ties, widths):
        hl = w * g ** math.floor(math.log(engine_f64.PANEL_MAX / w, g) - 1e-12)
        dist = 0.0 if a < p < b else min(abs(p - a), abs(p - b))
        if dist * slack < hl and b - a > max(w, (g - 1) * dist) * slack:
            return False
    return True


@pytest.mark.parametrize("ties, widths", [
    ([3.6, 3.7, 3.85], [0.13, 0.146, 0.148]),         # a far cell's inner line (n=4, d=2)
    ([-1.53, -0.91, 1.243, 1.353], [0.13, 0.13, 0.146, 0.372]),   # its outer line
    ([-2.0, 0.5, 4.0], [0.05, 0.3, 0.01]),                        # well apart
])
def test_panel_edges_keep_every_tie_grading_and_drop_only_redundant_edges(ties, widths):
    # overlapping gradings used to interleave into slivers (a far n=4 cell spent ~40% of its nodes
    # there); now an edge stays only where the panel without it would be coarser than some tie's
    # grading: every panel meets the grading condition and no interior edge but a tie can go
    L = 7.5
    edges = engine_f64._panel_edges(np.array(ties), np.array(widths), len(ties), L, 0,
                                    engine_f64.workspace())
    assert edges[0] == -L and edges[-1] == L and np.all(np.diff(edges) > 0)
    for p in ties:
        assert np.any(edges == p)
    for a, b in zip(edges, edges[1:]):
        assert _grading_ok(a, b, ties, widths), (a, b)
    for i in range(1, len(edges) - 1):
        if edges[i] not in ties:
            assert not _grading_ok(edges[i - 1], edges[i + 1], ties, widths), edges[i]


def test_panel_edges_single_tie_is_the_plain_grading():
    # one tie: p, p +- w 3^j up to PANEL_MAX (GRADING = 3: panels twice their distance from the
    # tie), uniform pieces no wider than PANEL_MAX beyond
    p, w, L = 0.3, 0.1, 7.5
    edges = engine_f64._panel_edges(np.array([p]), np.array([w]), 1, L, 0, engine_f64.workspace())
    inner = edges[np.abs(edges - p) < 1.7]
    expect = np.sort(np.concatenate([[p], p + w * 3.0 ** np.arange(3), p - w * 3.0 ** np.arange(3)]))
    assert np.allclose(inner, expect, rtol=0, atol=1e-12)
    assert np.all(np.diff(edges) <= engine_f64.PANEL_MAX * (1 + 1e-12))


# Mixed rules (issue: two-way ladder): one separated direction (split Gauss-Legendre) and one
# smooth one (Gauss-Hermite).  The first is thm3.5's far start of the one-converges cell
# (M0, n, d, seed) = (2, 3, 2, 0) (outcomes.far_init), the second a hand-made one.
MIXED = [[[2.1787523354958154, 2.0832198314473747], [1.5614264191574958, 0.11148250738136123],
          [1.43395105604158, 0.27995343736796197]],
         [[2.0, 0.3], [-1.5, 0.0], [0.2, -0.3]]]


def _mixed_state(c, digits):
    """Evaluate from a fresh warm-start state; the state row of the mixed rule (k = 2, one
    separated direction): [GL level, its slack, widenings, GH level, its slack]."""
    st = engine_f64.new_state()
    res = engine_f64.evaluate_py(np.array(c), digits, st, with_gradient_error=True)
    return res, st[2, 1]


@pytest.mark.parametrize("digits", [6, 10])
@pytest.mark.parametrize("c", MIXED, ids=["far-cell", "hand"])
def test_mixed_rule_values_within_their_estimates_against_the_trapezoid_reference(c, digits):
    # the returned error (Gauss-Legendre difference + Gauss-Hermite difference + tail + rounding)
    # must bound the value's true error: an estimate missing either family's difference accepts
    # a rule whose other family is unresolved
    from test_accuracy import trapezoid_reference
    (F, Fe, G, status, nodes, lv, Ge), row = _mixed_state(c, digits)
    assert status == engine_f64.OK, engine_f64.STATUS_TEXT.get(status)
    assert row[3] > row[0], row               # the two-way rule (GH level above GL's) returned it
    Fr, Fre, Gr, Gre = trapezoid_reference(c, 0.1, 9.0)
    assert abs(F - Fr) <= Fe + Fre, (F, Fr, Fe, Fre)
    assert np.abs(G - Gr).max() <= Ge + Gre, (np.abs(G - Gr).max(), Ge, Gre)
    assert Fe <= 10.0 ** -digits * abs(F)
    assert Ge <= 10.0 ** -digits * np.linalg.norm(Gr) * 1.01


def test_mixed_rule_climbs_the_gauss_hermite_ladder_alone():
    # at 6 digits the smooth direction needs a high Gauss-Hermite level; one ladder for both
    # families took the split rule along (level 8: 24->32 Gauss-Legendre nodes per panel, 8200
    # nodes for this evaluation); with two ladders the Gauss-Legendre order stays where its own
    # pair meets the target and the Gauss-Hermite level climbs alone
    (F, Fe, G, status, nodes, lv, Ge), row = _mixed_state(MIXED[0], 6)
    assert status == engine_f64.OK
    assert lv == row[0] and engine_f64.GL_LADDER[lv] <= 10, (lv, row)
    assert row[3] >= lv + 4, row
    assert nodes < 8200 / 2, nodes


def test_mixed_rule_warm_started_levels_still_climb_where_needed():
    # a run's warm start carries both levels to the next configuration; here to one whose split
    # direction needs more Gauss-Legendre nodes than the state holds (the lowest level, where the
    # Gauss-Legendre slack of an earlier, smoother stretch can bring it) while the Gauss-Hermite
    # level is high (the two-way rule from the first pass on): the value must stay within its
    # estimate, so the Gauss-Legendre difference must be in it and make lv climb
    from test_accuracy import trapezoid_reference
    st = engine_f64.new_state()
    engine_f64.evaluate_py(np.array(MIXED[0]), 10, st)
    assert st[2, 1, 3] >= 8, st[2, 1]
    st[2, 1, 0] = 1
    c = [[4.0, 0.3], [-3.5, 0.0], [0.2, -0.3]]
    F, Fe, G, status, nodes, lv, Ge = engine_f64.evaluate_py(np.array(c), 10, st,
                                                             with_gradient_error=True)
    assert status == engine_f64.OK
    Fr, Fre, Gr, Gre = trapezoid_reference(c, 0.1, 10.0)
    assert abs(F - Fr) <= Fe + Fre, (F, Fr, Fe, Fre)
    assert np.abs(G - Gr).max() <= Ge + Gre, (np.abs(G - Gr).max(), Ge, Gre)
    assert 1 < lv < st[2, 1, 3], st[2, 1]


# ----------------------------------------------------------------------------------------------
# The split rule's cost controls (issue 19): the vectorised exponential, the way down the ladder,
# the outer grading -- each against an independent value
# ----------------------------------------------------------------------------------------------

def test_vectorised_exponential_matches_libm_within_an_ulp():
    rng = np.random.default_rng(7)
    x = np.concatenate([-rng.random(20_000) * 700, -rng.random(20_000), -rng.random(2_000) * 1e-12,
                        [0.0, -0.0, -1e-300, -0.5 * math.log(2), -math.log(2), -707.9, -708.0]])
    out, tb, kb = np.empty_like(x), np.empty_like(x), np.empty(len(x), dtype=np.int64)
    engine_f64._exp_nonpos(x, out, tb, kb)
    ref = np.exp(x)                                   # libm's, not ours
    assert np.all(np.abs(out - ref) <= 1.5 * np.spacing(ref)), np.max(np.abs(out - ref) / ref)
    # below -708 the weight is exp(-708) ~ 3e-308: nothing next to the largest weight (1)
    y = np.array([-708.5, -745.0, -1e4, -np.inf])
    o = np.empty_like(y)
    engine_f64._exp_nonpos(y, o, np.empty_like(y), np.empty(4, dtype=np.int64))
    assert np.all(np.abs(o - math.exp(-708.0)) <= np.spacing(math.exp(-708.0)))


# thm3.5's far start (M0, n, d, seed) = (2, 4, 2, 6) of the one-converges sweep at steps 2000 and
# 20000 (one mean converged, three far apart: two separated directions, ties and triple points)
FAR_CELL = [[[-1.8294148124014862, 4.627521295789784], [-0.078409810006343, 0.05570589958329774],
             [-4.892889877802498, 0.45636489578856776], [-4.6193912167031606, 2.4899613082090544]],
            [[-3.12029621387205, 7.1176972791291515], [-0.004285857163559473, 0.002877030033165718],
             [-7.613230869057294, 1.0679642445105986], [-6.758196924339371, 3.566716771901891]]]


def _levels(c, digits, start, times):
    """Ladder levels of ``times`` evaluations at c from a warm-start state at level ``start``."""
    C = np.array(c)
    st = engine_f64.new_state()
    fresh = engine_f64.evaluate_py(C, digits, st)          # sets the range's widenings
    assert fresh[3] == engine_f64.OK
    st[2, 2, 0], st[2, 2, 1] = start, 0
    return fresh[5], [engine_f64.evaluate_py(C, digits, st)[5] for _ in range(times)]


@pytest.mark.parametrize("c", FAR_CELL, ids=["step2000", "step20000"])
@pytest.mark.parametrize("digits", [4, 6])
def test_split_level_comes_down_only_when_the_rung_below_meets_the_target(c, digits):
    # a run that once needed a higher rung used to keep it for good (one-converges cells ran 20000
    # steps at GL 6->8 where GL 4->6 met the target: the pair's estimate includes the range's tail
    # term, held near a quarter of the allowance, so "4 digits better" never held)
    need, _ = _levels(c, digits, 1, 0)          # the lowest level a fresh evaluation accepts
    k = engine_f64.SLACK_STEPS
    _, down = _levels(c, digits, need + 2, k + 1)
    # the probe comes every SLACK_STEPS steps, one rung at a time (the rung below, more accurate
    # than the one a fresh evaluation accepts, meets the target)
    assert down == [need + 2] * k + [need + 1]
    # where the rung below failed, the probe (0.3 digits to spare) keeps the level
    _, stay = _levels(c, digits, need, 3 * k)
    assert stay == [need] * (3 * k)


def test_split_level_probe_reaches_the_lower_rung_at_the_far_cell():
    # the measured case: 4 digits at step 20000 need GL 4->6 only; from GL 6->8 the probe brings
    # the run down after SLACK_STEPS steps
    need, down = _levels(FAR_CELL[1], 4, 2, engine_f64.SLACK_STEPS + 1)
    assert need == 1 and down[-1] == 1


@pytest.mark.parametrize("c", FAR_CELL, ids=["step2000", "step20000"])
def test_far_cell_values_within_their_estimates_against_the_numpy_rules(c):
    # triple points along the outer coordinate are graded from OUTER_WIDTH transition widths and
    # the ties along the inner line by GRADING: the values must stay within the estimates,
    # against the independent multiprecision rules (verify.quadrature) at more digits
    # (the multiprecision 2-D split rule's node budget stops short of these digits: the
    # independent numpy float64 rules of verify.quadrature at 8 digits are the reference)
    f = model.F(c, 8, backend="float64")
    g = model.grad_F(c, 8, backend="float64")
    for digits in (4, 5):
        F, Fe, G, status, _, _, Ge = engine_f64.evaluate_py(np.array(c), digits,
                                                            with_gradient_error=True)
        assert status == engine_f64.OK
        Fr, Gr = float(f.value), np.array(g.value, dtype=float)
        assert abs(F - Fr) <= Fe + float(f.error), (digits, F, Fr, Fe)
        assert Fe <= 10.0 ** -digits * F
        assert np.abs(G - Gr).max() <= Ge + g.max_error(), (digits, G, Gr, Ge)
        assert Ge <= 10.0 ** -digits * np.linalg.norm(Gr) * 1.01


def test_a_climb_restarts_the_probe_count():
    # a level just reached by climbing is not probed on the same step (the rung below just
    # failed): an evaluation that climbs costs the same whatever count the state carried
    C = np.array(FAR_CELL[1])
    need, _ = _levels(FAR_CELL[1], 6, 1, 0)
    assert need >= 2
    nodes = []
    for count in (0, engine_f64.SLACK_STEPS - 1):
        st = engine_f64.new_state()
        engine_f64.evaluate_py(C, 6, st)
        st[2, 2, 0], st[2, 2, 1] = need - 1, count
        out = engine_f64.evaluate_py(C, 6, st)
        assert out[5] == need and st[2, 2, 1] == 0
        nodes.append(out[4])
    assert nodes[0] == nodes[1]


def test_a_reused_work_space_gives_each_evaluation_the_values_of_a_fresh_one():
    # the lines' work arrays live for a whole trajectory: nothing one line or evaluation leaves
    # there (edges, graded distances, node rows, a buffer grown for a longer line) may reach the
    # next, but the kept edges of a line whose ties did not move -- and these configurations'
    # ties are far apart, or (at the turn) the same.  Every configuration is evaluated in one
    # shared work space, in an order that passes from two separated directions to one, to none
    # (Gauss-Hermite) and a mixed rule and back, and must give exactly (bit for bit) what it
    # gives in a fresh one
    configs = [np.array(c) for c in FAR_CELL + [[[30.0], [0.5]], OVERLAP, MIXED[0]]]
    configs = configs + configs[::-1]
    params = engine_f64.Config(5).params
    ws = engine_f64.workspace()
    for C in configs:
        shared, fresh = np.empty_like(C), np.empty_like(C)
        errs = np.zeros(2)
        a = engine_f64.evaluate_errors(C, params, engine_f64.new_state(), shared, errs, ws)
        b = engine_f64.evaluate_errors(C, params, engine_f64.new_state(), fresh, np.zeros(2))
        assert a == b and np.array_equal(shared, fresh), (C.tolist(), a, b)
    assert ws[0][engine_f64.W_NODES].shape[0] > engine_f64.WORK_INIT      # it did grow


def _far_run(C, steps, chunks, ws, digits=4.0, h=0.01):
    """``steps`` GD steps of the compiled loop from C in chunks of the given sizes (one run: its
    warm-start state and step count carry over), all in the work space ``ws`` or, with ws None,
    each chunk in a fresh one; returns the final iterate."""
    C = np.array(C, dtype=float)
    n = C.shape[0]
    params = engine_f64.Config(digits).params
    sched = np.zeros(steps + 2, dtype=np.bool_)
    rec = (np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1), np.zeros((1, n)),
           np.zeros((1, n)), np.zeros(1))
    st, ist = engine_f64.new_state(), np.zeros(engine_f64.IST_LEN, dtype=np.int64)
    for m in chunks:
        code = engine_f64.run_chunk(C, h, steps, m, sched, params, st, ist,
                                    np.array([5, 0], dtype=np.int64), np.array([0.0, np.inf]),
                                    *rec, engine_f64.workspace() if ws is None else ws,
                                    np.empty_like(C), np.zeros(3))
        assert code in (engine_f64.CHUNK_END, engine_f64.MAX_STEPS)
        assert ist[engine_f64.IST_STATUS] == engine_f64.OK
    assert ist[engine_f64.IST_TAU] == steps
    return C


def _reused_lines(ws):
    return int(ws[1][engine_f64.WI_CTRL][engine_f64.CT_REUSED])


def test_kept_edges_do_not_depend_on_where_chunks_begin():
    # a run's work space (with the panel edges it keeps from step to step) lives as long as the
    # run, so the iterates are the same bits however the steps are cut into chunks (dynamics cuts
    # them by wall time); a work space per chunk would rebuild every line at each chunk's start
    steps = 60
    one_ws, cut_ws = engine_f64.workspace(), engine_f64.workspace()
    whole = _far_run(FAR_CELL[1], steps, [steps], one_ws)
    cut = _far_run(FAR_CELL[1], steps, [7, 1, 20, 32], cut_ws)
    assert np.array_equal(whole, cut)
    assert _reused_lines(one_ws) == _reused_lines(cut_ws) > 0
    # (a fresh work space at each cut, the run otherwise the same: the iterates differ, by far
    # less than the runs' 4 digits)
    fresh = _far_run(FAR_CELL[1], steps, [7, 1, 20, 32], None)
    assert not np.array_equal(whole, fresh) and np.abs(whole - fresh).max() < 1e-6


def test_kept_edges_give_values_within_both_estimates_and_moved_ties_are_rebuilt():
    # along a far run (n = 4, d = 2: two separated directions) the kept edges' values agree with
    # a rebuild of every line (a fresh work space) within the sum of the two error estimates; at
    # the same iterate again the kept edges are the rebuilt ones (same ties), and where every tie
    # moved by far more than REUSE_SHIFT of its width, every line is rebuilt: both bit for bit
    # what a fresh work space gives (and a copy that skipped the ties' check, or took another
    # line's edges, would fail the one or the other)
    digits = 4.0
    params = engine_f64.Config(digits).params
    ws = engine_f64.workspace()
    C = np.array(FAR_CELL[1], dtype=float)
    st = engine_f64.new_state()
    checked = 0
    for step in range(40):
        G, errs = np.empty_like(C), np.zeros(2)
        before = _reused_lines(ws)
        F, Fe, status, _, _ = engine_f64.evaluate_errors(C, params, st, G, errs, ws)
        assert status == engine_f64.OK
        G0, errs0 = np.empty_like(C), np.zeros(2)
        F0, Fe0, *_ = engine_f64.evaluate_errors(C, params, st.copy(), G0, errs0)
        assert abs(F - F0) <= Fe + Fe0, (step, F, F0, Fe, Fe0)
        assert np.all(np.abs(G - G0) <= errs[1] + errs0[1]), (step, np.abs(G - G0).max())
        checked += _reused_lines(ws) > before
        C = C - 0.01 * G
    assert checked >= 30                   # most steps took kept edges
    ws = engine_f64.workspace()
    engine_f64.evaluate_errors(C, params, st.copy(), np.empty_like(C), np.zeros(2), ws)  # builds
    moved = C.copy()
    moved[1, 0] += 0.3         # the near mean: its ties with the far ones move ~0.15 ~ their width
    L = ws[0][engine_f64.W_CL][:2].copy()
    for C2 in (C, moved):
        before = _reused_lines(ws)
        G, G0 = np.empty_like(C2), np.empty_like(C2)
        a = engine_f64.evaluate_errors(C2, params, st.copy(), G, np.zeros(2), ws)
        b = engine_f64.evaluate_errors(C2, params, st.copy(), G0, np.zeros(2))
        assert a == b and np.array_equal(G, G0)
        assert (_reused_lines(ws) > before) == (C2 is C)
    assert np.array_equal(ws[0][engine_f64.W_CL][:2], L)    # the same range: the ties decided


def test_inner_lines_in_blocks_equal_the_lines_one_at_a_time_within_rounding():
    # the inner lines of an outer line are integrated in blocks of about NODE_BLOCK nodes (several
    # lines per accumulation): the block sums must be the per-line sums, up to the order of
    # summation -- each differs from the other by at most 2 M eps times the sum of the magnitudes
    # (M nodes), whatever their order.  A line's nodes given another line's coordinates, weight or
    # offset would be off by the line's whole contribution
    C = np.array(FAR_CELL[1])
    D, _, E, o, k = engine_f64._reduce(C)
    assert k == 2
    n, d = C.shape
    ncomp = 1 + n * d + n + k * n
    nl = 30
    us = np.zeros((nl, k))
    us[:, 1] = np.linspace(-3.0, 3.0, nl)
    Wl = np.exp(-us[:, 1] ** 2 / 2) * np.linspace(0.5, 1.5, nl)
    cfg = engine_f64.Config(5)
    gli, L, margin = 2, cfg.L, cfg.margin
    pos, wid = np.empty(200), np.empty(200)
    ws = engine_f64.workspace()
    block, mag = np.zeros(ncomp), np.zeros(ncomp)
    # the blocks as _inner_lines takes them (its loop, here in Python: called from Python, that
    # inlined function would be compiled once more on its own, ~5 s of a cold test run)
    M, t = 0, 0
    while t < nl:
        got, t = engine_f64._lines0(E, o, C, D, us, Wl, t, nl, gli, L, margin, block, mag, pos,
                                    wid, ws)
        M += got
    one = np.zeros(ncomp)
    t, m = 0, 0
    while t < nl:
        got, t1 = engine_f64._lines0(E, o, C, D, us, Wl, t, t + 1, gli, L, margin, one,
                                     np.zeros(0), pos, wid, ws)
        assert t1 == t + 1
        m += got
        t = t1
    assert m == M and M > 3 * engine_f64.NODE_BLOCK      # several blocks of several lines
    tol = 2 * M * engine_f64.EPS * mag
    assert np.all(np.abs(block - one) <= tol), np.abs(block - one) / mag


def _blocks_from_definitions(A, U, Ws, C):
    """The integrand's blocks at each node, written from their definitions (not the engine's
    reduced form): softmax weights w = A / sum A, v = sum_i w_i c_i, F = |v|^2, wv_ij = w_i v_j,
    wh_i = w_i (c_i - v).v, uwh_mi = u_m wh_i, each weighted by Ws and summed over the nodes;
    and the rounding magnitudes the engine documents, with va = |c_0| + sum_i w_i |c_i - c_0|."""
    n, d = C.shape
    k = U.shape[0]
    w = A / A.sum(axis=0)                               # (n, q)
    v = w.T @ C                                         # (q, d)
    f = (v * v).sum(axis=1)
    h = ((C[None, :, :] - v[:, None, :]) * v[:, None, :]).sum(axis=2).T      # (n, q)
    dn = np.linalg.norm(C - C[0], axis=1)
    vs = (w * dn[:, None]).sum(axis=0)
    va = np.linalg.norm(C[0]) + vs
    gam = 0.5 * (n + 3)
    val = [np.sum(Ws * f)]
    mag = [np.sum(Ws * (f + gam * va * (np.sqrt(f) + 2 * gam * engine_f64.EPS * va)))]
    for i in range(n):
        for j in range(d):
            val.append(np.sum(Ws * w[i] * v[:, j]))
            mag.append(np.sum(Ws * w[i] * va))
    r = Ws * w * (dn[:, None] + vs) * va                # (n, q)
    val += list((Ws * w * h).sum(axis=1))
    mag += list(r.sum(axis=1))
    for m in range(k):
        val += list((U[m] * Ws * w * h).sum(axis=1))
        mag += list((np.abs(U[m]) * r).sum(axis=1))
    return np.array(val), np.array(mag)


@pytest.mark.parametrize("n,d,k,q", [(2, 1, 1, 1), (3, 2, 2, 7), (4, 2, 2, 1000), (5, 3, 3, 33)])
def test_node_block_sums_are_the_blocks_of_their_definitions(n, d, k, q):
    # the accumulation works in the reduced form (d_i = c_i - c_0, v' = sum_i w_i d_i, h_i =
    # (d_i - v').(c_0 + v')), pass by pass over the nodes, into the flat layout F, wv (n*d),
    # wh (n), uwh (k*n).  Against the definitions at every node, summed in numpy: the two differ
    # by rounding only, at most (q + 4 n d) eps times the magnitude sums.  Work rows that hold
    # another block's values (as they do inside a chunk) must not leak into the sums
    rng = np.random.default_rng(n * 100 + q)
    C = rng.standard_normal((n, d)) * 2.0
    D = C - C[0]
    A = np.exp(rng.uniform(-30.0, 0.0, (n, q)))
    U = rng.standard_normal((k, q)) * 3.0
    Ws = rng.uniform(0.0, 1.0, q)
    want, wmag = _blocks_from_definitions(A, U, Ws, C)
    ncomp = 1 + n * d + n + k * n
    for rnd in (True, False):
        acc = np.full(ncomp, 0.25)                      # the sums are added to what is there
        aacc = np.full(ncomp, 0.5) if rnd else np.zeros(0)
        V, H = np.full((d, q), 7.0), np.full((n, q), -3.0)
        Fc, Vs, R = np.full(q, 11.0), np.full(q, 13.0), np.full(q, 17.0)
        engine_f64._accum_block(A.copy(), q, U, Ws, C, D, acc, aacc, V, H, Fc, Vs, R)
        tol = (q + 4 * n * d) * engine_f64.EPS * (wmag + 1.0)
        assert np.all(np.abs(acc - 0.25 - want) <= tol), (rnd, np.abs(acc - 0.25 - want) / wmag)
        if rnd:
            assert np.all(np.abs(aacc - 0.5 - wmag) <= tol), np.abs(aacc - 0.5 - wmag) / wmag
