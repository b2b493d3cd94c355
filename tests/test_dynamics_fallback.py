"""GD runs that float64 cannot represent (verify.dynamics, range switch).

A far component (|c_1| = 80) puts the loss's mass near its tie point u = 40, beyond |u| = 36 where
float64 Gaussian weights underflow.  With backend="auto" the run continues from that iterate in
multiprecision and records the switch; with backend="float64" it stops with the reason.  The
multiprecision steps are checked against an independent computation: a plain GD loop written
here on the mpmath reference (model.grad_F(..., backend="mpmath"), i.e. model.Evaluator, not the
Arb kernel the run uses), from the same iterate.  Starts that float64 handles are unchanged.
"""
from __future__ import annotations

import functools
import math
import os
import signal

import mpmath
import numpy as np
import pytest

from verify import dynamics, interrupt, model

DIGITS = 8
FAR_AT_TARGET = [[80.0], [0.0]]       # float64 fails at step 0: the loss is all far mass (~1e-346)
# c_2 contracts by (1 - 2 eta) = 0.1 per step; once it is below ~1e-135 the far mass (~1e-280)
# matters at 8 digits relative to the loss (~c_2^2): float64 fails mid-run
FAR_CONVERGING = [[80.0], [1e-125]]


def _aligned(tr):
    m = len(tr.steps)
    for name in ("loss", "loss_error", "loss_log10", "dist", "dist_log10", "grad_norm"):
        assert len(getattr(tr, name)) == m, name


def _reference_gd(c, eta, steps, recorded=None):
    """The reference run below, computed once per start, step, length and recorded steps: the two
    engines' mid-run switches continue from the same float64 iterate, and each is checked
    against the same multiprecision run (about 5 s)."""
    return _reference_gd_once(tuple(tuple(r) for r in c), eta, steps,
                              None if recorded is None else frozenset(recorded))


@functools.lru_cache(maxsize=None)
def _reference_gd_once(c, eta, steps, recorded):
    """Plain GD on the mpmath reference path from ``c`` (n = 2, d = 1): per step the iterate,
    the loss estimate, the gradient and ``drift``, a bound per parameter on how far a run whose
    gradients are good to 10^-DIGITS of |grad F| (the run under test) can be from this one.

    Here c_1 is far (|c_1| = 80) and c_2 near the target, so F = c_2^2 + O(c_1^2 e^{-c_1^2/8}) and
    the GD map's Jacobian is diag(1, 1 - 2 eta) up to terms of order e^{-800}: an error in c_2
    shrinks by |1 - 2 eta| per step, one in c_1 stays.  drift_i <- lam_i drift_i + eta (10^-DIGITS
    |grad F| + this run's error of component i)."""
    c = [[mpmath.mpf(x) for x in r] for r in c]
    lam = [1, abs(1 - 2 * mpmath.mpf(eta))]
    out, drift = [], [mpmath.mpf(0)] * 2
    with mpmath.workdps(40):
        for k in range(steps + 1):
            g = model.grad_F(c, DIGITS, backend="mpmath")
            # the loss only where the run recorded one (``recorded``: steps from the start)
            f = model.F(c, DIGITS, backend="mpmath") if recorded is None or k in recorded else None
            assert g.precision.backend == "mpmath" and (f is None or f.precision.backend == "mpmath")
            gnorm = mpmath.sqrt(sum(x * x for r in g.value for x in r))
            out.append(([r[:] for r in c], f, g, drift))
            drift = [lam[i] * drift[i] + eta * (10 ** -DIGITS * gnorm + g.error[i][0])
                     for i in range(2)]
            c = [[x - eta * gx for x, gx in zip(r, gr)] for r, gr in zip(c, g.value)]
    return tuple(out)        # shared by the tests through the cache: not to be changed by one


def _final(tr):
    return [[mpmath.mpf(x) for x in r] for r in tr.final_c]


def _check_against_reference(tr, c_switch, k, eta, steps):
    """The run's steps k..steps against the reference GD from the iterate at step k (1% slack
    on each bound for the dropped e^{-800} terms and the first-order expansion of F)."""
    ref = _reference_gd(c_switch, eta, steps - k, recorded={s - k for s in tr.steps if s >= k})
    ln10 = math.log(10)
    checked = 0
    for step, lg, dl in zip(tr.steps, tr.loss_log10, tr.dist_log10):
        if step < k:
            continue
        c_ref, f_ref, g_ref, drift = ref[step - k]
        # relative: the run's own 10^-DIGITS, the reference's stated error, and the change of F
        # over the distance between the iterates (first order: sum_i |dF/dc_i| drift_i)
        dF = sum(abs(g_ref.value[i][0]) * drift[i] for i in range(2))
        rel = 10.0 ** -DIGITS + float((f_ref.error + dF) / f_ref.value)
        assert abs(lg - float(mpmath.log10(f_ref.value))) <= rel / ln10 * 1.01, (step, lg)
        for i, row in enumerate(c_ref):
            r = abs(row[0])
            if r:  # | |c_i| - |c_i ref| | <= drift_i
                assert abs(dl[i] - float(mpmath.log10(r))) <= float(drift[i] / r) / ln10 * 1.01 \
                    + 1e-15, (step, i)
        checked += 1
    assert checked >= 4
    drift = ref[-1][3]
    for i, (ra, rb) in enumerate(zip(_final(tr), ref[-1][0])):
        assert abs(ra[0] - rb[0]) <= drift[i] * 1.01, (ra, rb, drift)
        if rb[0]:
            # the bound is not vacuous: 10^-DIGITS per step, relative to c_2 it grows by
            # 2 eta 10^-DIGITS / |1 - 2 eta| per step (c_2 and its error shrink alike), so
            # ~8e-7 after the 9 multiprecision steps of the mid-run case
            assert drift[i] <= 1e-5 * abs(rb[0])


def test_far_start_continues_in_multiprecision_from_step_0():
    eta, steps = 0.1, 8
    tr = dynamics.run_gd(FAR_AT_TARGET, eta, steps, digits=DIGITS, progress=False)
    assert tr.stop_reason == "max steps"
    assert tr.steps == dynamics.record_schedule(steps)
    _aligned(tr)
    sw = tr.settings["backend_switch"]
    assert sw["step"] == 0 and sw["from"] == "float64" and sw["to"] == "mpmath"
    assert "float64 Gaussian weights underflow" in sw["reason"] and sw["dps"] >= 15
    assert tr.precision["backend"] == "mpmath" and tr.precision["dps"] == sw["dps"]
    assert tr.precision["raised"]["step"] == 0
    assert tr.precision["raised"]["from"]["backend"] == "float64"
    assert tr.precision["digits"] == DIGITS
    _check_against_reference(tr, FAR_AT_TARGET, 0, eta, steps)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_far_start_switches_mid_run_without_a_lost_or_repeated_step(engine):
    eta, steps = 0.45, 20
    tr = dynamics.run_gd(FAR_CONVERGING, eta, steps, digits=DIGITS, progress=False,
                         engine=engine)
    # the same run with an explicit float64 backend stops where float64 gives up
    f64 = dynamics.run_gd(FAR_CONVERGING, eta, steps, digits=DIGITS, progress=False,
                          backend="float64", engine=engine)
    k = tr.settings["backend_switch"]["step"]
    assert 0 < k < steps
    assert f64.stop_reason.startswith(f"unresolved gradient at step {k}:")
    assert "backend_switch" not in f64.settings
    assert tr.stop_reason == "max steps" and tr.steps == dynamics.record_schedule(steps)
    _aligned(tr)
    # the float64 part is the float64 run's, record for record; the rest follows on
    m = len(f64.steps)
    assert f64.steps == [s for s in tr.steps if s < k] and m > 0
    for name in ("loss", "loss_error", "loss_log10", "dist", "dist_log10", "grad_norm"):
        assert getattr(tr, name)[:m] == getattr(f64, name), name
    assert tr.steps[m] >= k
    # f64.final_c is the float64 iterate at step k: the multiprecision steps from there against
    # the reference
    _check_against_reference(tr, [[float(x) for x in r] for r in f64.final_c], k, eta, steps)


def test_explicit_float64_still_stops_with_the_reason():
    tr = dynamics.run_gd(FAR_AT_TARGET, 0.1, 20, digits=DIGITS, progress=False,
                         backend="float64")
    assert tr.stop_reason.startswith("unresolved gradient at step 0:")
    assert "float64 Gaussian weights underflow" in tr.stop_reason
    assert tr.steps == [] and "backend_switch" not in tr.settings
    assert tr.precision["backend"] == "float64" and "raised" not in tr.precision


# values computed before the range switch existed (commit e15995e), numpy path: a start that
# float64 handles must give the same iterates (up to a few ulps across numpy builds)
BEFORE = {"[[30.0], [0.5]]": ("0.0011662528339757131", 0.01, 300)}


def test_start_that_float64_handles_is_unchanged():
    c0 = [[30.0], [0.5]]
    want, eta, steps = BEFORE[str(c0)]
    a = dynamics.run_gd(c0, eta, steps, digits=DIGITS, progress=False, engine="numpy")
    b = dynamics.run_gd(c0, eta, steps, digits=DIGITS, progress=False)
    for tr in (a, b):
        assert "backend_switch" not in tr.settings and "raised" not in tr.precision
        assert tr.precision["backend"] == "float64" and tr.stop_reason == "max steps"
    assert a.final_c[0] == ["30.0"]
    assert abs(float(a.final_c[1][0]) - float(want)) <= 1e-14 * float(want)
    assert abs(float(b.final_c[1][0]) - float(want)) <= 1e-8 * float(want)


def test_batch_continues_the_far_starts_alone_and_matches_separate_runs():
    starts = [FAR_AT_TARGET, [[0.9], [-0.3]], FAR_CONVERGING]
    eta, steps = 0.45, 40
    kw = dict(digits=DIGITS, progress=False)
    batch = dynamics.run_gd_batch(starts, eta, steps, **kw)
    assert [("backend_switch" in tr.settings) for tr in batch] == [True, False, True]
    for c0, tb in zip(starts, batch):
        assert tb.stop_reason == "max steps" and tb.steps == dynamics.record_schedule(steps)
        ts = dynamics.run_gd(c0, eta, steps, **kw)
        da, db = tb.to_dict(), ts.to_dict()
        da.pop("seconds"), db.pop("seconds")
        assert da == db
    # an explicit float64 batch: the far starts stop alone, each with its own reason
    f64 = dynamics.run_gd_batch(starts, eta, steps, backend="float64", **kw)
    assert f64[0].stop_reason.startswith("unresolved gradient at step 0:")
    assert f64[2].stop_reason.startswith(
        f"unresolved gradient at step {batch[2].settings['backend_switch']['step']}:")
    assert f64[1].stop_reason == "max steps" and f64[1].final_c == batch[1].final_c


def test_rerun_is_identical():
    a = dynamics.run_gd(FAR_CONVERGING, 0.45, 15, digits=DIGITS, progress=False).to_dict()
    b = dynamics.run_gd(FAR_CONVERGING, 0.45, 15, digits=DIGITS, progress=False).to_dict()
    a.pop("seconds"), b.pop("seconds")
    assert a == b and "backend_switch" in a["settings"]


def test_ctrl_c_after_the_switch_stops_cleanly(monkeypatch):
    """Ctrl-C arrives during the third multiprecision evaluation (step 2 of a run switched at
    step 0): the run records step 2 and stops there, interrupted."""
    real = dynamics.evaluator_for

    class CtrlCOnThirdCall:
        def __init__(self, ev):
            self.ev, self.integrator, self.calls = ev, ev.integrator, 0

        def grad(self, *a, **k):
            self.calls += 1
            if self.calls == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return self.ev.grad(*a, **k)

    monkeypatch.setattr(dynamics, "evaluator_for", lambda prec: CtrlCOnThirdCall(real(prec)))
    try:
        tr = dynamics.run_gd(FAR_AT_TARGET, 0.1, 20, digits=DIGITS, progress=False)
    finally:
        interrupt.clear()
    assert tr.settings["backend_switch"]["step"] == 0
    assert tr.interrupted and tr.stop_reason == "interrupted at step 2"
    assert tr.steps == [0, 1, 2]
    _aligned(tr)
    assert np.isfinite(tr.loss_log10).all()
