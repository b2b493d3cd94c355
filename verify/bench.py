"""``python -m verify bench``: the back ends side by side in one run, with the current targets.

One table: the same tasks on each back end that runs them --

* numpy: the float64 reference path (``model.Evaluator`` at float64, one step per call);
* compiled float64: ``verify.engine_f64`` (numba), many steps per call;
* Arb: ``verify.engine_arb`` (python-flint ball arithmetic), the multiprecision kernel, 50 digits;
* mpmath reference: ``model.Evaluator`` at the same 50 digits (and, for loss + gradient, the naive
  baseline: one ``mpmath.quad`` per quantity in a fresh context; and ``acb.integral``'s certified
  enclosures, :mod:`verify.certify`)

-- then the targets, each with the measured value and whether it is met.  ``--json`` prints one
machine-readable object with the same numbers.  ``--tiers`` also times the quick and full tiers
and the full ``one-converges`` and ``split-threshold`` sweep grids, each as a subprocess writing
into a temporary directory (``quick_tier_s``, ``full_tier_s``, ``sweep_one_converges_s``,
``sweep_split_threshold_s``; null with a note when not measured) and the float64 engine's compile
from an empty cache (``engine_cold_compile_s``, no target) -- long, so opt in, on an idle
machine.  ``--against REV`` times the paper objective's engine in this checkout and in git
revision REV alternately (subprocesses, a temporary worktree) and prints the ratios.

Times are medians of repeated runs (time.perf_counter); the machine's other load shifts all of
them alike, which is why ratios measured in the same run are the results.  Ctrl-C exits 130 in
every phase: bench arms :mod:`verify.interrupt` and checks the flag after each phase, so a Ctrl-C
that arrives inside a compiled or Arb call (where the KeyboardInterrupt cannot propagate) still
stops the run.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import mpmath
import numpy as np

from verify import interrupt, model
from verify.dynamics import run_gd
from verify.precision import Precision


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_c(steps: int) -> dict:
    """The paper's experiment (n = 5, d = 3, M = 4 start) for ``steps`` population GD steps on
    the compiled float64 engine: a timing only (the classes are the figure claim's business; a
    2000-step run is too short to separate them)."""
    rng = np.random.default_rng(7)
    c0 = [[4.0 + 1e-7 * z[0], 1e-7 * z[1], 1e-7 * z[2]] for z in rng.standard_normal((5, 3))]
    run_gd(c0, 0.01, 1, digits=2, backend="float64", progress=False)  # load the compiled engine
    t0 = time.perf_counter()
    # digits=2: the 1e-7 spread takes 8 of float64's digits and |c| ~ 4 another 2 (the policy
    # refuses more); the common motion still carries ~12 digits
    tr = run_gd(c0, 0.01, steps, digits=2, backend="float64", progress=False)
    t = time.perf_counter() - t0
    return {"steps": steps, "seconds": t, "per_step_ms": 1e3 * t / max(1, steps),
            "final_loss": tr.loss[-1], "evaluations": tr.evaluations}


# (d)'s configurations: (name, centred parameters, step, target digits)
F64_CASES = [
    ("n3d2", [[0.15, 0.05], [-0.1, 0.12], [0.03, -0.15]], 0.1, 10),
    ("n5d3", [[0.3, -0.1, 0.05], [-0.2, 0.25, 0.1], [0.1, 0.2, -0.3], [-0.15, -0.2, 0.2],
              [0.05, 0.1, 0.15]], 0.1, 10),
    ("n5d3_separated", [[5.921184894026127, 1.2380349854186653e-07, 4.661293534833085e-08],
                        [0.04635544817768512, 8.362292431712324e-10, 6.166416254921012e-11],
                        [5.903361281848016, -4.8385745144286016e-08, 5.9211412772845056e-08],
                        [5.907613825995221, 1.5898281118089928e-07, -2.5144187403936424e-08],
                        [5.906522825628264, 1.9416340702684788e-07, -4.826735009074597e-08]],
     0.01, 8),
]
F64_TARGET_US = {"n3d2": 20.0, "n5d3_separated": 500.0}


def bench_d(repeat: int, steps: int) -> dict:
    """Per-step medians of the compiled loop (``steps`` steps per timed call) and of the numpy
    path (model.Evaluator + update, warm) on the same start; relative agreement of one step."""
    from verify import engine_f64
    out = {}
    for name, c, eta, digits in F64_CASES:
        us, info = engine_f64.time_steps(c, eta, steps, digits, repeat)
        prec = Precision(digits, 0, 3, None, "float64")
        ev = model.Evaluator(prec)
        C = np.array(c, dtype=float)

        def np_step():
            g = ev.grad(C.tolist())
            return C - eta * np.array(g.value, dtype=float), g

        np_step()
        t_np, (C1, g) = _median_time(np_step, max(1, repeat // 2))
        F, Fe, G, status, nodes, lv = engine_f64.evaluate_py(C, digits)
        agree = float(np.abs(G - np.array(g.value, dtype=float)).max()
                      / np.linalg.norm(np.array(g.value, dtype=float)))
        out[name] = {"us": us * 1e6, "numpy_us": t_np * 1e6, "ratio": t_np / us,
                     "nodes_per_step": info["nodes_per_step"], "digits": digits,
                     "numpy_rule": g.rule.get("rule"), "numpy_nodes": g.rule.get("nodes"),
                     "gradient_rel_difference": agree, "status": status}
    return out



# The current targets: (key in --json's "targets", label, measured value's key in the summary,
# comparison, bound, unit).
TARGETS = [
    ("f64_step_us_n3d2 <= 20", "compiled float64 GD step, n=3 d=2", "f64_step_us_n3d2", "<=",
     20.0, "us"),
    ("f64_step_us_n5d3_separated <= 500", "compiled float64 GD step, n=5 d=3 separated",
     "f64_step_us_n5d3_separated", "<=", 500.0, "us"),
    ("hp50_step_ms_n3d2 <= 30", "Arb 50-digit GD step, n=3 d=2", "hp50_step_ms_n3d2", "<=", 30.0,
     "ms"),
    ("naive/hp50 lossgrad n2 >= 50", "naive mpmath.quad / Arb, 50-digit loss + gradient n=2",
     "ratio_naive_over_hp50_lossgrad_n2", ">=", 50.0, "x"),
]

TIER_KEYS = ("quick_tier_s", "full_tier_s", "sweep_one_converges_s", "sweep_split_threshold_s")
# issue 19's wall-time targets on 2 idle cores (seconds); judged only when measured
TIER_TARGETS = {"quick_tier_s": 30.0, "full_tier_s": 120.0, "sweep_one_converges_s": 240.0,
                "sweep_split_threshold_s": 240.0}
# measured beside the tiers, without a target: what a fresh machine's first run waits for the
# float64 engine to compile (a subprocess with an empty numba cache directory of its own)
INFO_KEYS = ("engine_cold_compile_s",)
_COMPILE_SNIPPET = r"""
import os, sys
os.environ["NUMBA_CACHE_DIR"] = sys.argv[1]        # before numba is imported: an empty cache
from verify import dynamics, engine_f64
import numpy as np
sep = [[1.5, 0.2], [-1.0, 1.2], [0.3, -1.9]]
engine_f64.evaluate_py(np.array(sep), 10)
dynamics.run_gd(sep, 0.1, 3, digits=10, progress=False, engine="numba", backend="float64")
"""
TIERS_NOTE = ("not measured: `python -m verify bench --tiers` times them (subprocesses into a "
              "temporary directory; about 7 minutes on 2 idle cores at the last measured speeds)")


def tier_commands(tmp: str) -> dict[str, list[str]]:
    """The commands ``--tiers`` times, each writing only under ``tmp`` (a cold sweep cache, so
    every cell is computed)."""
    py = [sys.executable, "-m", "verify"]
    return {"quick_tier_s": py + ["all", "--quick", "--out", os.path.join(tmp, "quick")],
            "full_tier_s": py + ["all", "--out", os.path.join(tmp, "full")],
            "sweep_one_converges_s": py + ["sweep", "one-converges", "--out",
                                           os.path.join(tmp, "sweeps")],
            "sweep_split_threshold_s": py + ["sweep", "split-threshold", "--out",
                                             os.path.join(tmp, "sweeps")],
            "engine_cold_compile_s": [sys.executable, "-c", _COMPILE_SNIPPET,
                                      os.path.join(tmp, "numba-cache")]}


def measure_tiers(commands: dict[str, list[str]] | None = None, log=print) -> dict:
    """Wall seconds of each command (run as a subprocess, output discarded) in one temporary
    directory, removed afterwards.  A command that fails gives null and a note with its exit
    status; Ctrl-C stops the running child and raises KeyboardInterrupt."""
    out: dict = {}
    notes = []
    tmp = tempfile.mkdtemp(prefix="verify-bench-tiers-")
    try:
        cmds = commands if commands is not None else tier_commands(tmp)
        for key, cmd in cmds.items():
            log(f"    timing {key[:-2]}: {' '.join(cmd[1:])}")
            t0 = time.perf_counter()
            child = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
            try:
                _, err = child.communicate()
            except KeyboardInterrupt:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                raise
            seconds = time.perf_counter() - t0
            interrupt.check()
            if child.returncode == 0:
                out[key] = round(seconds, 2)
            else:
                out[key] = None
                last = (err or "").strip().splitlines()[-1:] or [""]
                notes.append(f"{key}: exit {child.returncode} ({last[0][:200]})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["tiers_note"] = "; ".join(notes) if notes else \
        f"measured by `bench --tiers` (wall seconds, {os.cpu_count()} cores)"
    return out


# The paper objective's engine timings, measured by the same code in either checkout (bench (d)
# and the two 50-digit Arb benchmarks have kept their interfaces since the objective layer).
_PAPER_SNIPPET = r"""
import json, sys
from verify import bench, engine_arb
repeat, steps = int(sys.argv[1]), int(sys.argv[2])
d = bench.bench_d(repeat, steps)
out = {f"f64_step_us_{k}": v["us"] for k, v in d.items()}
out["hp50_step_ms_n3d2"] = engine_arb.bench_hp50_step_ms_n3d2(repeat, compare=False)["hp50_step_ms_n3d2"]
out["hp50_lossgrad_ms_n2"] = engine_arb.bench_hp50_lossgrad_ms_n2(repeat, compare=False)["hp50_lossgrad_ms_n2"]
print("BENCH " + json.dumps(out))
"""


def _paper_times(tree: str, repeat: int, steps: int) -> dict:
    """One measurement of the paper objective's engine keys by the ``verify`` package in ``tree``
    (a subprocess importing that tree's code only)."""
    env = dict(os.environ, PYTHONPATH=tree)
    child = subprocess.run([sys.executable, "-c", _PAPER_SNIPPET, str(repeat), str(steps)],
                           cwd=tree, env=env, capture_output=True, text=True)
    lines = [ln for ln in child.stdout.splitlines() if ln.startswith("BENCH ")]
    if child.returncode != 0 or not lines:
        last = (child.stderr or "").strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"bench in {tree}: exit {child.returncode} ({last[0][:300]})")
    return json.loads(lines[-1][len("BENCH "):])


def compare_revision(rev: str, rounds: int = 3, repeat: int = 5, steps: int = 500,
                     log=print) -> dict:
    """The paper objective's engine timings (compiled float64 GD steps of bench (d), the 50-digit
    Arb GD step and loss + gradient) of this checkout against git revision ``rev`` (checked out
    into a temporary worktree), measured alternately in one run: ``rounds`` times this checkout,
    then ``rev``, so the machine's load falls on both alike.  Per key: both sides' medians and
    ranges over the rounds, and ratio = this / rev; "no slower" when this median is at most the
    largest time ``rev`` gave (within its own run-to-run spread)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="verify-bench-rev-")
    tree = os.path.join(tmp, "rev")
    git = subprocess.run(["git", "-C", here, "worktree", "add", "--detach", tree, rev],
                         capture_output=True, text=True)
    if git.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(f"--against {rev!r}: git worktree failed: {git.stderr.strip()[:300]}")
    runs: dict[str, list[dict]] = {"this": [], "rev": []}
    try:
        for k in range(rounds):
            for side, path in (("this", here), ("rev", tree)):
                log(f"    round {k + 1}/{rounds}: {'this checkout' if side == 'this' else rev}")
                runs[side].append(_paper_times(path, repeat, steps))
                interrupt.check()
    finally:
        subprocess.run(["git", "-C", here, "worktree", "remove", "--force", tree],
                       capture_output=True, text=True)
        shutil.rmtree(tmp, ignore_errors=True)
    out = {}
    for key in sorted(set(runs["this"][0]) & set(runs["rev"][0])):
        a = [r[key] for r in runs["this"]]
        b = [r[key] for r in runs["rev"]]
        ma, mb = statistics.median(a), statistics.median(b)
        out[key] = {"this": ma, "rev": mb, "this_range": [min(a), max(a)],
                    "rev_range": [min(b), max(b)], "ratio": ma / mb, "no_slower": ma <= max(b)}
    return {"rev": rev, "rounds": rounds, "repeat": repeat, "steps": steps, "keys": out}


def summary(d: dict, step: dict, lossgrad: dict, tiers: dict | None = None) -> dict:
    """The JSON object of ``bench --json``: medians (us, ms) and ratios measured in one run, the
    targets (met or not), and the tier/sweep timings (null unless ``--tiers``)."""
    out = {f"f64_step_us_{k}": v["us"] for k, v in d.items()}
    out.update({f"numpy_f64_step_us_{k}": v["numpy_us"] for k, v in d.items()})
    out.update({f"ratio_numpy_over_f64_{k}": v["ratio"] for k, v in d.items()})
    out.update({f"f64_nodes_per_step_{k}": v["nodes_per_step"] for k, v in d.items()})
    out.update({f"f64_gradient_rel_difference_{k}": v["gradient_rel_difference"]
                for k, v in d.items()})
    out.update({"hp50_source": "verify.engine_arb (python-flint Arb)",
                "hp50_step_ms_n3d2": step["hp50_step_ms_n3d2"],
                "hp50_lossgrad_ms_n2": lossgrad["hp50_lossgrad_ms_n2"],
                "naive_quad_ms_n2": lossgrad.get("naive_quad_ms_n2"),
                "hp50_step_digits": step.get("digits"), "hp50_lossgrad_digits": lossgrad.get("digits"),
                "mpmath_step_ms_n3d2": step.get("mpmath_step_ms"),
                "mpmath_lossgrad_ms_n2": lossgrad.get("mpmath_ms")})
    if "n3d2" in d:
        out["ratio_hp50_over_f64_step_n3d2"] = step["hp50_step_ms_n3d2"] * 1e3 / d["n3d2"]["us"]
    if lossgrad.get("naive_quad_ms_n2"):
        out["ratio_naive_over_hp50_lossgrad_n2"] = (lossgrad["naive_quad_ms_n2"]
                                                    / lossgrad["hp50_lossgrad_ms_n2"])
    out["targets"] = {key: _met(out.get(value_key), op, bound)
                      for key, _, value_key, op, bound, _ in TARGETS}
    tiers = tiers or {}
    out.update({k: tiers.get(k) for k in TIER_KEYS + INFO_KEYS})
    out["tiers_note"] = tiers.get("tiers_note", TIERS_NOTE)
    for k in TIER_KEYS:       # null (not judged) unless measured
        out["targets"][_tier_target(k)] = None if out[k] is None else _met(out[k], "<=",
                                                                           TIER_TARGETS[k])
    return out


def _tier_target(key: str) -> str:
    return f"{key} <= {TIER_TARGETS[key]:g}"


def _met(value, op: str, bound: float) -> bool:
    if value is None or not math.isfinite(value):
        return False
    return value <= bound if op == "<=" else value >= bound


def _fmt(value, unit: str) -> str:
    """A time in ``unit`` (us, ms, s) shown in the unit that suits it; a ratio ("x") as 12.3x."""
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.1f}x"
    seconds = value * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]
    for scale, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(seconds) >= scale or name == "us":
            return f"{seconds / scale:.3g} {name}"


def run_against(rev: str, quick: bool = False, as_json: bool = False) -> int:
    """``bench --against REV``: :func:`compare_revision`, printed as a table (and JSON)."""
    interrupt.clear()
    with interrupt.armed():
        print(f"bench --against {rev}: the paper objective's engine, this checkout and {rev} "
              "alternately", flush=True)
        res = compare_revision(rev, rounds=2 if quick else 3, repeat=3 if quick else 5)
    rows = [("key", "this", rev[:12], "this / rev", "no slower")]
    for key, v in res["keys"].items():
        unit = "us" if key.endswith("_us") or "_us_" in key else "ms"
        rows.append((key, _fmt(v["this"], unit), _fmt(v["rev"], unit), f"{v['ratio']:.2f}",
                     "yes" if v["no_slower"] else "NO"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
    if as_json:
        print(json.dumps(res, sort_keys=True))
    return 0


def run_bench(quick: bool = False, as_json: bool = False, tiers: bool = False) -> int:
    """Measure, then print the table and the targets (and with ``as_json`` one JSON object).
    Ctrl-C raises KeyboardInterrupt out of any phase (the CLI exits 130)."""
    repeat = 3 if quick else 7
    steps_c = 2000 if quick else 20000
    from verify import certify, engine_arb
    interrupt.clear()
    with interrupt.armed():
        print(f"bench: {'quick, ' if quick else ''}medians of {repeat} (mpmath backend "
              f"{mpmath.libmp.BACKEND})", flush=True)
        d = bench_d(repeat, 200 if quick else 1000)
        interrupt.check()
        step = engine_arb.bench_hp50_step_ms_n3d2(repeat)
        interrupt.check()
        lossgrad = engine_arb.bench_hp50_lossgrad_ms_n2(repeat)
        interrupt.check()
        acb = certify.bench_acb_lossgrad_n2(1)
        interrupt.check()
        cres = bench_c(steps_c)
        interrupt.check()
        tier_times = measure_tiers() if tiers else None
        interrupt.check()
    out = summary(d, step, lossgrad, tier_times)

    rows = [("task", "numpy", "compiled f64", "Arb 50 digits", "mpmath 50 digits")]
    names = {"n3d2": "GD step, n=3 d=2", "n5d3": "GD step, n=5 d=3",
             "n5d3_separated": "GD step, n=5 d=3 separated (M=6)"}
    for name, r in d.items():
        arb = mp = None
        if name == "n3d2":
            arb, mp = step["hp50_step_ms_n3d2"], step.get("mpmath_step_ms")
        rows.append((names.get(name, name), _fmt(r["numpy_us"], "us"), _fmt(r["us"], "us"),
                     _fmt(arb, "ms"), _fmt(mp, "ms")))
    rows.append(("loss + gradient, n=2 d=2", "-", "-",
                 _fmt(lossgrad["hp50_lossgrad_ms_n2"], "ms"), _fmt(lossgrad.get("mpmath_ms"), "ms")))
    rows.append((f"{steps_c} GD steps, n=5 d=3 (M=4)", "-", _fmt(cres["seconds"], "s"), "-", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
    agree = [f"{k} {v['gradient_rel_difference']:.0e}" for k, v in d.items()]
    print(f"  compiled vs numpy gradients agree (relative): {', '.join(agree)}; Arb vs mpmath: "
          f"{step.get('agreement_digits', float('nan')):.0f} and "
          f"{lossgrad.get('agreement_digits', float('nan')):.0f} digits")
    print(f"  other 50-digit loss + gradient, n=2: naive mpmath.quad "
          f"{_fmt(lossgrad.get('naive_quad_ms_n2'), 'ms')}; acb.integral "
          f"{_fmt(acb['seconds'] * 1e3, 'ms')} (certified to {acb['digits']:.1f} digits)")
    print("targets")
    for key, label, value_key, op, bound, unit in TARGETS:
        value = out.get(value_key)
        print(f"  {label}: {_fmt(value, unit)} (target {op} {_fmt(bound, unit)}) "
              f"{'met' if out['targets'][key] else 'NOT met'}")
    if tier_times is None:
        print(f"tiers and sweeps: {TIERS_NOTE}")
    else:
        print(f"tiers and sweeps (wall) [{out['tiers_note']}]")
        for k in TIER_KEYS:
            met = out["targets"][_tier_target(k)]
            verdict = "not measured" if met is None else ("met" if met else "NOT met")
            print(f"  {k[:-2]}: {_fmt(out[k], 's')} (target <= {_fmt(TIER_TARGETS[k], 's')}) "
                  f"{verdict}")
        for k in INFO_KEYS:
            print(f"  {k[:-2]}: {_fmt(out[k], 's')} (no target)")
    if as_json:
        print(json.dumps(out, sort_keys=True))
    return 0
