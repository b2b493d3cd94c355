"""Sweeps (issue 14): Dask and serial runs agree, the cache is hit, a summary rebuilt from the
cache (--resummarise) equals the computed one, Ctrl-C keeps the finished cells, fits recover
planted laws, the split-threshold predictor's quadratic form matches the loss, bad input is
refused."""
import json
import math
import random
import signal

import pytest

from verify import cli as verify_cli
from verify import interrupt, model
from verify.sweeps import engine, fit
from verify.sweeps.cli import parse_grid, resummarise, run_sweep
from verify.sweeps.registry import SweepError, get
from verify.sweeps.summaries import linear_amplification, stated_ln_scale, summarise_split

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


def test_each_computed_cell_keeps_its_times_outside_its_key(tmp_path, monkeypatch):
    """A computed cell's file holds its wall and CPU seconds beside the result; a cached run
    reads the result alone and rewrites nothing; the key (so the result found) does not depend
    on the times."""
    ticks = iter(range(100))
    monkeypatch.setattr(engine, "_run_cell", lambda name, cell: {"M": cell["M"]})
    monkeypatch.setattr(engine.time, "process_time", lambda: 0.25 * next(ticks))
    sweep = get("split-threshold")
    cells = sweep.grid(True, parse_grid(TINY))
    first, c1 = engine.run_cells(sweep, cells, tmp_path, scheduler="none")
    files = sorted((tmp_path / "sweeps" / "split-threshold" / "cells").glob("*.json"))
    docs = [json.loads(p.read_text()) for p in files]
    assert c1["computed"] == len(files) == 2 and c1["cells_cpu_s"] == 0.5
    for d in docs:
        assert d["seconds"]["cpu_s"] == 0.25 and d["seconds"]["wall_s"] >= 0
        assert d["result"] == {"M": d["cell"]["M"]}
        assert d["key"] == engine.cell_key("split-threshold", d["cell"], d["code_version"])
    before = [p.read_bytes() for p in files]
    again, c2 = engine.run_cells(sweep, cells, tmp_path, scheduler="none")
    assert c2["cached"] == 2 and again == first and c2["cells_cpu_s"] == 0
    assert [p.read_bytes() for p in files] == before


def test_summary_is_reproducible_and_rendered(tmp_path):
    s1 = run_sweep("split-threshold", grid=TINY, scheduler="none", out=str(tmp_path), quiet=True)
    text1 = (tmp_path / "sweeps" / "split-threshold" / "summary.json").read_bytes()
    s2 = run_sweep("split-threshold", grid=TINY, scheduler="none", out=str(tmp_path), quiet=True)
    assert (tmp_path / "sweeps" / "split-threshold" / "summary.json").read_bytes() == text1
    assert s1 == s2
    assert (tmp_path / "sweeps" / "split-threshold" / "sweep-split-threshold.svg").exists()


def test_summarising_is_outside_the_cache_key():
    assert "sweeps/summaries.py" not in engine._CODE and "sweeps/definitions.py" in engine._CODE
    assert get("split-threshold").summarise.__func__ is get("one-converges").summarise.__func__


def test_resummarise_rebuilds_the_summary_from_any_code_version(tmp_path, monkeypatch, capsys):
    computed = run_sweep("split-threshold", grid=TINY, scheduler="none", out=str(tmp_path),
                         quiet=True)
    made_by = computed["code_version"]
    monkeypatch.setattr(engine, "code_version", lambda: "0" * 16)   # the sources changed since
    again = resummarise("split-threshold", grid=TINY, out=str(tmp_path), quiet=True)
    target = tmp_path / "sweeps" / "split-threshold"
    on_disk = json.loads((target / "summary.json").read_text())
    assert on_disk["resummarised"] is True and on_disk["code_version"] == made_by
    strip = ("code_version", "resummarised")
    assert {k: v for k, v in on_disk.items() if k not in strip} == \
        json.loads(json.dumps({k: v for k, v in computed.items() if k not in strip}))
    assert again["code_version"] == made_by
    timings = json.loads((target / "timings.json").read_text())
    assert timings["computed"] == 0 and timings["cached"] == 2
    # a cell missing from the cache: exit 2, the count and the cell named, nothing computed
    cells = sorted((target / "cells").glob("*.json"))
    gone = json.loads(cells[0].read_text())["cell"]
    cells[0].unlink()
    with pytest.raises(SweepError, match=r"1 of 2 cells .* not in the cache"):
        resummarise("split-threshold", grid=TINY, out=str(tmp_path), quiet=True)
    rc = verify_cli.main(["sweep", "split-threshold", "--resummarise", "--grid", TINY,
                          "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and f"M={gone['M']:g}" in err and len(err.strip().splitlines()) == 1
    assert len(list((target / "cells").glob("*.json"))) == 1


def _interrupt_after(monkeypatch, n_ok, how):
    """engine._run_cell answering n_ok cells with a stand-in result, then Ctrl-C ``how``."""
    calls = []

    def fake(name, cell):
        calls.append(cell)
        if len(calls) <= n_ok:
            return {"stand_in": len(calls)}
        if how == "raise":            # Ctrl-C outside a GD run
            raise KeyboardInterrupt
        interrupt.request()           # Ctrl-C seen by a GD run that still returned a result
        return {"stand_in": "interrupted"}
    monkeypatch.setattr(engine, "_run_cell", fake)
    return calls


@pytest.mark.parametrize("how", ["raise", "flag"])
def test_ctrl_c_keeps_the_finished_cells(tmp_path, monkeypatch, capsys, how):
    _interrupt_after(monkeypatch, 2, how)
    handler = signal.getsignal(signal.SIGINT)
    try:
        rc = verify_cli.main(["sweep", "split-threshold", "--grid", "n=2;d=1;M=2,3,4,5;seed=0",
                              "--scheduler", "none", "--out", str(tmp_path)])
    finally:
        interrupt.clear()
    err = capsys.readouterr().err
    assert rc == 130 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "2 of 4 cells are finished and kept" in err
    stored = [json.loads(p.read_text())["result"]
              for p in (tmp_path / "sweeps" / "split-threshold" / "cells").glob("*.json")]
    assert sorted(r["stand_in"] for r in stored) == [1, 2]     # the cell in flight is dropped
    assert signal.getsignal(signal.SIGINT) is handler and not interrupt.is_armed()


def test_split_conclusions_read_planted_slopes():
    """Cells with ln delta* = 3 + slope*A(M) + noise planted: the text counts the pairs within
    2 standard errors of -1 from the fits, names the one that is not, and the fits table carries
    one row per (n, d) with the planted slope inside its error bar."""
    rng = random.Random(11)
    planted = {(2, 1): -1.0, (3, 1): -1.5}
    cells = []
    for (n, d), slope in planted.items():
        for M in (2.0, 3.0, 4.0, 5.0, 6.0, 7.0):
            for seed in (0, 1):
                ln_star = 3 + slope * linear_amplification(M, n) + rng.gauss(0, 0.05)
                x = ln_star / math.log(10)
                cells.append(({"n": n, "d": d, "M": M, "seed": seed},
                              {"log10_delta_star": x, "bracket": [x - 0.02, x + 0.02]}))
    cells.append(({"n": 2, "d": 1, "M": 1.0, "seed": 0},
                  {"log10_delta_star": None, "censored": "above"}))
    s = summarise_split(cells, "custom")
    assert "1 of 2 (n, d) pairs are within 2 standard errors of -1" in s["text"][0]
    assert "not: n=3, d=1: -1.5" in s["text"][0]
    assert s["text"][-1].startswith("Censored cells, left out of the fits: 1 above")
    assert len(s["text"]) <= 4 and len(s["table"]["rows"]) == 25
    (table,) = s["tables"]
    assert [r[:3] for r in table["rows"]] == [[2, 1, 12], [3, 1, 12]]
    for row, slope in zip(table["rows"], planted.values()):
        value, err = (float(v) for v in row[3].split(" ± "))
        assert abs(value - slope) < 3 * err < 0.1
    # the report's finding: the gap to the stated exponent, from the cells, with its evidence
    (finding,) = s["findings"]
    gaps = [c["log10_delta_star"] * math.log(10) - stated_ln_scale(k["M"], k["n"], k["d"])
            for k, c in cells if c.get("log10_delta_star") is not None]
    assert finding["kind"] == "constant-gap" and finding["evidence"] == s["figures"][0]["id"]
    assert f"by {min(gaps):.4g} e-folds" in finding["headline"]
    assert f"to {max(gaps):.4g} (n=" in finding["headline"]


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


def test_unknown_sweep_and_unreachable_scheduler(tmp_path, monkeypatch):
    with pytest.raises(SweepError, match="unknown sweep"):
        get("nope")
    # the connection gives up after CONNECT_TIMEOUT_S (10 s by default) with a one-line error that
    # names the address and the wait; shortened here so the test does not sit out the default
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(SweepError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9 within 1 s"):
        run_sweep("split-threshold", grid=TINY, scheduler="tcp://127.0.0.1:9", out=str(tmp_path))


def test_cells_with_more_means_are_submitted_first_and_run_first(tmp_path, monkeypatch):
    """The Dask path submits the cells with more means first and gives them the higher priority
    (the longest runs start first; a long tail on one worker was the risk), in grid order
    otherwise; every cell's result still lands under its own key."""
    submitted = []

    class Future:
        def __init__(self, cell):
            self.cell = cell

        def result(self):
            return {"n": self.cell["n"]}, {"wall_s": 1.0, "cpu_s": 1.0}

        def cancel(self):
            pass

    class Client:
        def submit(self, fn, name, cell, key, retries, pure, priority):
            submitted.append((cell["n"], cell["M0"], priority))
            return Future(cell)

        def close(self):
            pass

    monkeypatch.setattr(engine, "connect", lambda scheduler, workers: (Client(), None))
    monkeypatch.setattr("dask.distributed.as_completed", lambda futs: iter(futs))
    sweep = get("one-converges")
    cells = sweep.grid(True)
    results, counts = engine.run_cells(sweep, cells, tmp_path, scheduler="tcp://fake:1")
    ns = [n for n, _, _ in submitted]
    assert ns == sorted(ns, reverse=True) and len(set(ns)) > 1
    assert [p for _, _, p in submitted] == ns                  # priority grows with n
    order = [(c["n"], c["M0"]) for c in cells]
    assert [(n, m) for n, m, _ in submitted] == sorted(order, key=lambda x: -x[0])  # stable
    assert all(r == {"n": c["n"]} for c, r in results) and counts["computed"] == len(cells)
