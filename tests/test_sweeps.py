"""Sweeps (issue 14): Dask and serial runs agree, the cache is hit, fits recover planted laws,
the split-threshold predictor's quadratic form matches the loss, bad input is refused."""
import math
import random
import time

import pytest

from verify import model
from verify.sweeps import engine, fit
from verify.sweeps.cli import parse_grid, run_sweep
from verify.sweeps.definitions import SweepError, get, linear_amplification

TINY = "n=2;d=1;M=3,4;seed=0"


def test_local_cluster_matches_serial_and_cache_is_hit(tmp_path):
    sweep = get("split-threshold")
    cells = sweep.grid(True, parse_grid(TINY))
    serial, c1 = engine.run_cells(sweep, cells, tmp_path / "a", scheduler="none")
    dask_res, c2 = engine.run_cells(sweep, cells, tmp_path / "b", scheduler="local", workers=2)
    assert c1["computed"] == c2["computed"] == 2
    assert serial == dask_res                     # same cells, same results, same order
    again, c3 = engine.run_cells(sweep, cells, tmp_path / "a", scheduler="none")
    assert c3 == dict(c3, cached=2, computed=0) and again == serial
    # every probe recorded, and the bracket is consistent with them
    for _, res in serial:
        lo, hi = res["bracket"]
        assert {"converge", "split"} <= {p[1] for p in res["probes"]}
        assert hi - lo <= 0.05 and lo < res["log10_delta_star"] < hi


def test_summary_is_reproducible_and_rendered(tmp_path):
    s1 = run_sweep("split-threshold", grid=TINY, scheduler="none", out=str(tmp_path), quiet=True)
    text1 = (tmp_path / "sweeps" / "split-threshold" / "summary.json").read_bytes()
    s2 = run_sweep("split-threshold", grid=TINY, scheduler="none", out=str(tmp_path), quiet=True)
    assert (tmp_path / "sweeps" / "split-threshold" / "summary.json").read_bytes() == text1
    assert s1 == s2
    assert (tmp_path / "sweeps" / "split-threshold" / "sweep-split-threshold.svg").exists()


def test_linear_fit_recovers_a_planted_law():
    rng = random.Random(7)
    A = [2.0 + 0.5 * k for k in range(30)]
    y = [1.5 - 0.9 * a + rng.gauss(0, 0.2) for a in A]
    f = fit.linear_fit({"1": [1.0] * len(A), "A": A}, y)
    for true, c, s in zip((1.5, -0.9), f.coef, f.stderr):
        assert abs(c - true) < 4 * s
    # a wrong planted slope is not recovered (the test can fail)
    assert abs(f.coef[1] - (-1.2)) > 4 * f.stderr[1]


def test_onset_interpolates_the_crossing():
    xs = [1, 2, 3, 4]
    assert fit.onset(xs, [0.0, 0.25, 0.75, 1.0], 0.5) == pytest.approx(2.5)
    assert fit.onset(xs, [0.6, 0.7, 0.8, 0.9], 0.5) == 1
    assert fit.onset(xs, [0.0, 0.1, 0.2, 0.3], 0.5) is None


@pytest.mark.parametrize("n", [2, 3])
def test_quadratic_form_behind_the_amplification(n):
    """F(a + eps) = |a|^2 - (2/n) sum_i <a, eps_i>^2 + O(eps^3) for zero-mean spreads eps: the
    premise of linear_amplification, checked against the engine's loss at 25 digits."""
    a = [-3.0, 0.5]
    rng = random.Random(n)
    e = [[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in range(n)]
    mean = [sum(r[j] for r in e) / n for j in range(2)]
    e = [[r[j] - mean[j] for j in range(2)] for r in e]
    gaps = []
    for h in (1e-3, 5e-4):
        c = [[str(a[j] + h * r[j]) for j in range(2)] for r in e]
        F = model.F(c, digits=25, backend="mpmath")
        quad = -(2 / n) * sum((a[0] * r[0] + a[1] * r[1]) ** 2 for r in e) * h * h
        gaps.append(abs(float(F.value) - (a[0] ** 2 + a[1] ** 2) - quad))
    assert gaps[1] < gaps[0] / 4          # the remainder is O(h^3): halving h divides it by ~8


def test_linear_amplification_is_the_product_of_step_factors():
    # direct product over the contraction (independent loop) for n = 3, eta = 0.25, M = 2
    a, logprod = 2.0, 0.0
    for _ in range(400):
        logprod += math.log(1 + 4 * 0.25 * a * a / 3)
        a *= 1 - 2 * 0.25 / 3
    assert linear_amplification(2.0, 3) == pytest.approx(logprod, rel=1e-9)


@pytest.mark.parametrize("grid, msg", [("M=99", "out of range"), ("n=2.5", "integers"),
                                       ("q=1", "no axis"), ("M", "expected AXIS")])
def test_bad_grid(grid, msg, tmp_path):
    with pytest.raises(SweepError, match=msg):
        run_sweep("split-threshold", grid=grid, scheduler="none", out=str(tmp_path))


def test_unknown_sweep_and_unreachable_scheduler(tmp_path):
    with pytest.raises(SweepError, match="unknown sweep"):
        get("nope")
    start = time.perf_counter()
    with pytest.raises(SweepError, match="cannot reach"):
        run_sweep("split-threshold", grid=TINY, scheduler="tcp://127.0.0.1:9", out=str(tmp_path))
    assert time.perf_counter() - start < 15
