"""``python -m verify bench``: side-by-side timings in one run, printed as ratios (issue 2).

(a) one loss + gradient evaluation at 50 digits, n = 2, error <= 1e-45: the engine (one pass of a
    vector integrand over cached, geometry-following rules) against a naive baseline that calls
    ``mpmath.quad`` separately for the loss and for each gradient component, in a fresh mpmath
    context each time so that nothing (nodes included) is cached;
(b) one GD step at 50 digits against the float64 step on the same problem (n = 3, d = 2);
(c) 20000 population GD steps for n = 5, d = 3 in float64 (the paper's experiment, M = 4);
(d) float64 GD steps in the compiled engine (verify.engine_f64) against the numpy path on the same
    configurations: n = 3, d = 2 overlapping; n = 5, d = 3 overlapping; n = 5, d = 3 separated (the
    paper's M = 6 run once one mean has left the cluster).

``--json`` adds one JSON object with the medians and their ratios (issue 10): the float64 steps,
the 50-digit step and loss + gradient (from ``verify.engine_arb`` when importable, else today's
mpmath path, which the object says), and the naive mpmath.quad baseline.

Times are medians of repeated runs (time.perf_counter); the machine's other load shifts all of
them alike, which is why only ratios measured in the same run are reported as results.
"""
from __future__ import annotations

import json
import math
import statistics
import time

import mpmath
import numpy as np

from verify import model
from verify.dynamics import run_gd
from verify.naive import naive_loss_and_gradient  # noqa: F401  (bench's baseline; lives below the engines)
from verify.precision import Precision


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_a(repeat: int) -> dict:
    c = [["0.9", "-0.3"], ["-0.6", "0.5"]]
    digits = 45
    # cold: rules built inside the timed call (a fresh Evaluator and emptied rule caches)
    from verify import quadrature
    def engine_cold():
        quadrature._rule_mp.cache_clear()
        return model.grad_F(c, digits, dps=55)
    t_cold, _ = _median_time(engine_cold, 1)
    ev_prec = model.grad_F(c, digits, dps=55).precision
    ev = model.Evaluator(ev_prec)
    cx = model.check_params(c)
    t_warm, (g, f) = _median_time(lambda: ev.grad(cx, with_loss=True), repeat)
    t_naive, (vals, nerr) = _median_time(lambda: naive_loss_and_gradient(c, 50), max(1, repeat // 2))
    t_plain, (pvals, perr) = _median_time(lambda: naive_loss_and_gradient(c, 50, split=False), 1)
    ours_err = max(float(f.error), g.max_error())
    agree = max([abs(float(vals[0] - f.value))] + [abs(float(vals[1 + 2 * i + j] - g.value[i][j]))
                                                    for i in range(2) for j in range(2)])
    return {"engine_warm_s": t_warm, "engine_cold_s": t_cold, "naive_s": t_naive,
            "ratio_warm": t_naive / t_warm, "ratio_cold": t_naive / t_cold,
            "plain_s": t_plain, "plain_error": float(perr), "ratio_plain": t_plain / t_warm,
            "engine_error": ours_err, "naive_error": float(nerr), "max_difference": agree,
            "rule": g.rule.get("rule"), "nodes": g.rule.get("nodes")}


def bench_b(repeat: int) -> dict:
    # Overlapping components (the regime where 50-digit runs are used, e.g. thm3.2): a tensor
    # Gauss-Hermite rule in the 2-D difference span.  Separated components in two directions
    # need the nested split rule, which at 50 digits costs minutes per step in mpmath.
    c = [[0.15, 0.05], [-0.1, 0.12], [0.03, -0.15]]
    p50 = Precision(40, 0, 10, 50, "mpmath")
    p64 = Precision(10, 0, 3, None, "float64")
    ev50, ev64 = model.Evaluator(p50), model.Evaluator(p64)
    c50 = model.check_params(c)
    eta = 0.1

    def step(ev, cc):
        g = ev.grad(cc)
        return [[a - eta * b for a, b in zip(r, gr)] for r, gr in zip(cc, g.value)], g

    step(ev50, c50)
    step(ev64, c)                                       # warm both (rules, ladder level)
    t50, (_, g50) = _median_time(lambda: step(ev50, c50), repeat)
    t64, (_, g64) = _median_time(lambda: step(ev64, c), repeat * 10)
    diff = max(abs(float(a) - b) for ra, rb in zip(g50.value, g64.value) for a, b in zip(ra, rb))
    return {"mp50_step_s": t50, "float64_step_s": t64, "ratio": t50 / t64,
            "mp50_rule": g50.rule.get("rule"), "mp50_nodes": g50.rule.get("nodes"),
            "float64_rule": g64.rule.get("rule"), "float64_nodes": g64.rule.get("nodes"),
            "gradient_difference": diff, "float64_error": g64.max_error()}


def bench_c(steps: int) -> dict:
    rng = np.random.default_rng(7)
    c0 = [[4.0 + 1e-7 * z[0], 1e-7 * z[1], 1e-7 * z[2]] for z in rng.standard_normal((5, 3))]
    run_gd(c0, 0.01, 1, digits=2, backend="float64", progress=False)  # load the compiled engine
    t0 = time.perf_counter()
    # digits=2: the 1e-7 spread takes 8 of float64's digits and |c| ~ 4 another 2 (the policy
    # refuses more); the common motion still carries ~12 digits
    tr = run_gd(c0, 0.01, steps, digits=2, backend="float64", progress=False)
    t = time.perf_counter() - t0
    return {"steps": steps, "seconds": t, "per_step_ms": 1e3 * t / max(1, steps),
            "classes": tr.classes, "final_loss": tr.loss[-1], "evaluations": tr.evaluations}


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


def _hp50(repeat: int) -> dict:
    """The 50-digit entries: verify.engine_arb's benchmarks when importable, else today's mpmath
    path (bench (a)/(b)) -- the result says which."""
    try:
        from verify import engine_arb
        s = engine_arb.bench_hp50_step_ms_n3d2(repeat)
        lg = engine_arb.bench_hp50_lossgrad_ms_n2(repeat)
        return {"hp50_source": "verify.engine_arb (python-flint Arb)",
                "hp50_step_ms_n3d2": s["hp50_step_ms_n3d2"],
                "hp50_lossgrad_ms_n2": lg["hp50_lossgrad_ms_n2"],
                "naive_quad_ms_n2": lg.get("naive_quad_ms_n2"),
                "hp50_step_digits": s.get("digits"), "hp50_lossgrad_digits": lg.get("digits"),
                "mpmath_step_ms_n3d2": s.get("mpmath_step_ms"),
                "mpmath_lossgrad_ms_n2": lg.get("mpmath_ms")}
    except ImportError as e:
        a, b = bench_a(repeat), bench_b(repeat)
        return {"hp50_source": f"today's mpmath path (verify.engine_arb not importable: {e})",
                "hp50_step_ms_n3d2": b["mp50_step_s"] * 1e3,
                "hp50_lossgrad_ms_n2": a["engine_warm_s"] * 1e3,
                "naive_quad_ms_n2": a["naive_s"] * 1e3}


def summary(d: dict, hp: dict) -> dict:
    """The JSON object of ``bench --json``: medians (us, ms) and ratios measured in one run."""
    out = {f"f64_step_us_{k}": v["us"] for k, v in d.items()}
    out.update({f"numpy_f64_step_us_{k}": v["numpy_us"] for k, v in d.items()})
    out.update({f"ratio_numpy_over_f64_{k}": v["ratio"] for k, v in d.items()})
    out.update({f"f64_nodes_per_step_{k}": v["nodes_per_step"] for k, v in d.items()})
    out.update({f"f64_gradient_rel_difference_{k}": v["gradient_rel_difference"]
                for k, v in d.items()})
    out.update(hp)
    if hp.get("hp50_step_ms_n3d2") and "n3d2" in d:
        out["ratio_hp50_over_f64_step_n3d2"] = hp["hp50_step_ms_n3d2"] * 1e3 / d["n3d2"]["us"]
    if hp.get("naive_quad_ms_n2") and hp.get("hp50_lossgrad_ms_n2"):
        out["ratio_naive_over_hp50_lossgrad_n2"] = hp["naive_quad_ms_n2"] / hp["hp50_lossgrad_ms_n2"]
    out["targets"] = {
        "f64_step_us_n3d2 <= 20": out.get("f64_step_us_n3d2", math.inf) <= 20,
        "f64_step_us_n5d3_separated <= 500": out.get("f64_step_us_n5d3_separated", math.inf) <= 500,
        "hp50_step_ms_n3d2 <= 30": (hp.get("hp50_step_ms_n3d2") or math.inf) <= 30,
        "naive/hp50 lossgrad n2 >= 50": out.get("ratio_naive_over_hp50_lossgrad_n2", 0) >= 50}
    return out


def run_bench(quick: bool = False, as_json: bool = False) -> int:
    repeat = 3 if quick else 7
    print(f"mpmath backend: {mpmath.libmp.BACKEND}")
    a = bench_a(repeat)
    print("(a) loss + gradient, n=2, d=2, 50 digits, error <= 1e-45")
    print(f"    engine (warm rules) {a['engine_warm_s'] * 1e3:9.1f} ms   error estimate {a['engine_error']:.1e}"
          f"   [{a['rule']}, {a['nodes']} nodes]")
    print(f"    engine (cold rules) {a['engine_cold_s'] * 1e3:9.1f} ms")
    print(f"    naive mpmath.quad   {a['naive_s'] * 1e3:9.1f} ms   error estimate {a['naive_error']:.1e}"
          f"   (5 separate quad calls, fresh contexts)")
    print(f"    naive, no split     {a['plain_s'] * 1e3:9.1f} ms   error estimate {a['plain_error']:.1e}"
          f"   (quad over (-inf, inf) without the tie point)")
    print(f"    ratio naive/engine: {a['ratio_warm']:.1f}x warm, {a['ratio_cold']:.1f}x cold; "
          f"no-split naive/engine {a['ratio_plain']:.1f}x (target >= 20x); values agree to "
          f"{a['max_difference']:.1e}")
    try:   # the same loss + gradient as rigorous Arb enclosures (verify.certify, issue 12)
        from verify import certify
        ac = certify.bench_acb_lossgrad_n2(repeat)
        print(f"    acb.integral (Arb)  {ac['seconds'] * 1e3:9.1f} ms   certified {ac['digits']:.1f} "
              f"digits, widest enclosure {ac['max_width']:.1e}; engine/acb "
              f"{a['engine_warm_s'] / ac['seconds']:.2f}x, naive/acb {a['naive_s'] / ac['seconds']:.2f}x")
    except ImportError as e:
        print(f"    acb.integral (Arb)  skipped: {e}")
    b = bench_b(repeat)
    print("(b) one GD step, n=3, d=2")
    print(f"    50 digits {b['mp50_step_s'] * 1e3:9.2f} ms  [{b['mp50_rule']}, {b['mp50_nodes']} nodes]")
    print(f"    float64   {b['float64_step_s'] * 1e3:9.2f} ms  [{b['float64_rule']}, {b['float64_nodes']} nodes]")
    print(f"    ratio 50-digit/float64: {b['ratio']:.1f}x (target <= 40x); gradients agree to "
          f"{b['gradient_difference']:.1e} (float64 error estimate {b['float64_error']:.1e})")
    steps = 2000 if quick else 20000
    cres = bench_c(steps)
    print(f"(c) {steps} population GD steps, n=5, d=3, float64 (M = 4 start)")
    print(f"    {cres['seconds']:.1f} s total, {cres['per_step_ms']:.2f} ms/step"
          f"{'' if quick else ' (target < 120 s)'}; classes {cres['classes']}")
    d = bench_d(repeat, 200 if quick else 1000)
    print("(d) float64 GD step: compiled engine (numba) vs numpy path")
    for name, r in d.items():
        tgt = F64_TARGET_US.get(name)
        print(f"    {name:15s} {r['us']:9.1f} us  numpy {r['numpy_us']:9.1f} us  ratio "
              f"{r['ratio']:6.1f}x  [{r['nodes_per_step']:.0f} nodes/step, {r['digits']} digits; "
              f"gradients agree to {r['gradient_rel_difference']:.1e}]"
              + (f" (target <= {tgt:g} us)" if tgt else ""))
    if as_json:
        hp = _hp50(repeat)
        print(json.dumps(summary(d, hp), sort_keys=True))
    return 0
