"""Summaries of the sweeps' cells: fitted laws, tables, text lines and figures (issue 14).

A summary reads finished cells ((cell, result) pairs in grid order) and computes nothing new
from the model, so this module is deliberately *not* among the sources that key the cell cache
(verify.sweeps.engine._CODE): rewording a summary, adding a table or changing a fit never
invalidates a cell, and ``python -m verify sweep NAME --resummarise`` rebuilds the summary from
the cells on disk.  Everything a cell's computation uses lives in verify.sweeps.definitions.

Split-threshold predictor (derived here, its premise checked in tests/test_sweeps.py): for
zero-mean spreads eps_i around an all-equal point a, F = |a|^2 - (2/n) sum_i <a, eps_i>^2 +
O(eps^3), so GD multiplies the spread along a by (1 + 4 eta |a_tau|^2 / n) per step while a
contracts by (1 - 2 eta/n) (claim lem3.3): the linear amplification
A(M) = sum_tau ln(1 + 4 eta a_tau^2 / n), a_0 = M.  ln delta* is fitted against A (slope -1 when
the linearised growth explains the threshold) and, as a plain description, quadratically in M.

Summary record (what summary.json holds; rendered by verify.report):
``{"name", "title", "grid", "text": [lines], "table": {"title", "columns", "rows"}`` (the
per-cell table), ``"tables": [{"title", "columns", "rows"}]`` (optional: compact tables, e.g.
one row per fitted law), ``"figures": [Figure as a dict], "fits": {...}}``; the CLI adds
``"cells"``, ``"code_version"`` (and ``"resummarised"``).
"""
from __future__ import annotations

import dataclasses
import math

from verify.sweeps import fit as _fit
from verify.sweeps.definitions import SPLIT_ETA

# ----------------------------------------------------------------------------------------------
# split-threshold
# ----------------------------------------------------------------------------------------------

def linear_amplification(M: float, n: int, eta: float = float(SPLIT_ETA)) -> float:
    """A(M) = sum_tau ln(1 + 4 eta a_tau^2 / n), a_tau = M (1 - 2 eta/n)^tau: the growth, in e-folds,
    of a small spread along the direction of motion while the common point contracts."""
    q = 1 - 2 * eta / n
    a, total = M, 0.0
    while a > 1e-8:
        total += math.log1p(4 * eta * a * a / n)
        a *= q
    return total


def stated_ln_scale(M: float, n: int, d: int) -> float:
    """ln of thm3.2's stated initial scale (1/(108 n d)) exp(-106 n d M^3)."""
    return -math.log(108 * n * d) - 106 * n * d * M ** 3


def summarise_split(cells: list[tuple[dict, dict]], grid: str) -> dict:
    from verify.claims.record import Figure, Line
    rows, lines, by_nd = [], [], {}
    ln10 = math.log(10)
    for cell, res in cells:
        n, d, M = cell["n"], cell["d"], cell["M"]
        x = res.get("log10_delta_star")
        stated = stated_ln_scale(M, n, d)
        A = linear_amplification(M, n)
        if x is None:
            rows.append([n, d, f"{M:g}", cell["seed"], f"({res.get('censored')})", "",
                         f"{stated:.4g}", "", f"{A:.3g}"])
            continue
        half = (res["bracket"][1] - res["bracket"][0]) / 2
        ln_star = x * ln10
        by_nd.setdefault((n, d), []).append((M, ln_star, A))
        rows.append([n, d, f"{M:g}", cell["seed"], f"{x:.3f} ± {half:.3f}", f"{ln_star:.3f}",
                     f"{stated:.4g}",
                     f"{ln_star - stated:.4g}", f"{A:.3g}"])
    fits, text = {}, []
    for (n, d), pts in sorted(by_nd.items()):
        Ms = [p[0] for p in pts]
        y = [p[1] for p in pts]
        quad = _fit.linear_fit({"1": [1.0] * len(Ms), "M": Ms, "M^2": [m * m for m in Ms]}, y)
        amp = _fit.linear_fit({"1": [1.0] * len(Ms), "A(M)": [p[2] for p in pts]}, y)
        fits[f"n={n},d={d}"] = {"quadratic": quad.to_dict() if quad else None,
                                "amplification": amp.to_dict() if amp else None}
        if quad:
            text.append(f"n={n}, d={d}: ln delta* = {quad.describe()} (rms residual "
                        f"{quad.rms_residual:.2g}, {quad.points} points)")
        if amp:
            text.append(f"n={n}, d={d}: ln delta* = {amp.describe()} against the linear "
                        f"amplification A(M) (slope -1 means the linearised spread growth explains "
                        f"the threshold)")
        mean = {}
        for M_, v in zip(Ms, y):
            mean.setdefault(M_, []).append(-v)
        xs = sorted(mean)
        lines.append(Line(f"-ln delta* (mean over seeds), n={n}, d={d}", xs,
                          [sum(mean[x]) / len(mean[x]) for x in xs]))
    gaps = [(float(r[7]), r) for r in rows if r[7]]
    if gaps:
        lo, hi = min(gaps), max(gaps)
        text.append(f"Gap between the measured ln delta* and thm3.2's stated exponent: "
                    f"{lo[0]:.4g} e-folds (n={lo[1][0]}, d={lo[1][1]}, M={lo[1][2]}) to "
                    f"{hi[0]:.4g} (n={hi[1][0]}, d={hi[1][1]}, M={hi[1][2]})")
    all_M = sorted({cell["M"] for cell, _ in cells})
    ref = sorted({(cell["n"], cell["d"]) for cell, _ in cells})[:1]
    for n, d in ref:
        lines.append(Line(f"-ln (stated scale), n={n}, d={d}", all_M,
                          [-stated_ln_scale(M, n, d) for M in all_M], kind="reference"))
    fig = Figure(id="sweep-split-threshold", title="Largest initial spread from which every mean "
                 "converges, against thm3.2's stated scale", xlabel="distance M of the target",
                 ylabel="-ln delta", lines=lines, yscale="log")
    return {"name": "split-threshold", "grid": grid,
            "title": "Split threshold: how small must the initial spread be?",
            "text": text, "fits": fits,
            "table": {"title": "Split threshold per cell (log10 delta* with its bisection half-width; "
                               "gap = ln delta* - ln stated scale, in e-folds)",
                      "columns": ["n", "d", "M", "seed", "log10 delta*", "ln delta*", "ln stated",
                                  "gap", "A(M)"], "rows": rows},
            "figures": [dataclasses.asdict(fig)]}


# ----------------------------------------------------------------------------------------------
# one-converges
# ----------------------------------------------------------------------------------------------

def summarise_one(cells: list[tuple[dict, dict]], grid: str) -> dict:
    from verify.claims.common import wilson_interval
    from verify.claims.record import Figure, Line
    groups: dict = {}
    for cell, res in cells:
        groups.setdefault((cell["n"], cell["d"], cell["M0"]), []).append(res["exactly_one"])
    rows, curves = [], {}
    for (n, d, M0), outs in sorted(groups.items()):
        # An undecided run (typically two means still closing in on the target on the slow
        # cubic law of a symmetric pair) is counted as *not* "exactly one": the frequency is then
        # a lower bound, and the decided-only frequency is shown beside it.
        decided = [o for o in outs if o is not None]
        k = sum(bool(o) for o in decided)
        lo, hi = wilson_interval(k, len(outs))
        freq = k / len(outs)
        bound = 1 - n * n * M0 ** (-1 / 3)
        rows.append([n, d, f"{M0:g}", len(outs), len(decided), k, f"{freq:.3f}",
                     f"{k / len(decided):.3f}" if decided else "-", f"[{lo:.3f}, {hi:.3f}]",
                     f"{bound:.3f}"])
        curves.setdefault((n, d), []).append((M0, freq, lo, hi))
    text, onsets, lines = [], {}, []
    for (n, d), pts in sorted(curves.items()):
        pts = [p for p in pts if p[1] is not None]     # cells with no decided run drop out
        xs = [p[0] for p in pts]
        fr = [p[1] for p in pts]
        on = {str(level): _fit.onset(xs, fr, level) for level in (0.5, 0.95)}
        onsets[f"n={n},d={d}"] = on
        stated = 1e9 * math.sqrt(d) * n ** 10
        def show(v):
            if v is None:
                return "not reached on the grid"
            return f"<= {v:g} (already at the first grid point)" if v == xs[0] else f"{v:.3g}"
        text.append(f"n={n}, d={d}: the frequency of 'exactly one converges' (undecided runs "
                    f"counted as not) passes 0.5 at M0 "
                    f"{show(on['0.5'])} and 0.95 at M0 {show(on['0.95'])}; the stated condition "
                    f"is M0 > {stated:.3g}")
        lines.append(Line(f"frequency, n={n}, d={d}", xs, fr))
        lines.append(Line(f"bound 1 - n^2 M0^(-1/3), n={n}", xs,
                          [1 - n * n * x ** (-1 / 3) for x in xs], kind="reference"))
    fig = Figure(id="sweep-one-converges", title="Frequency of 'exactly one mean converges' "
                 "(thm3.5's far initialisation)", xlabel="M0", ylabel="frequency",
                 lines=lines)
    return {"name": "one-converges", "grid": grid,
            "title": "Exactly one converges: onset against M0",
            "text": text, "fits": {"onsets": onsets},
            "table": {"title": "Exactly one converges (95% Wilson intervals) next to the bound",
                      "columns": ["n", "d", "M0", "runs", "decided", "exactly one",
                                  "freq (all runs)", "freq (decided)", "Wilson 95% (all)",
                                  "bound"], "rows": rows},
            "figures": [dataclasses.asdict(fig)]}


# ----------------------------------------------------------------------------------------------
# thm3.4-map
# ----------------------------------------------------------------------------------------------

def _pattern(cls: list[str]) -> str:
    if "undecided" in cls:
        return "undecided"
    conv = [i + 1 for i, c in enumerate(cls) if c == "converged"]
    if conv == [1]:
        return "only m_1 converges (as claimed)"
    if len(conv) == len(cls):
        return "all converge"
    return "converge: " + ", ".join(f"m_{i}" for i in conv) if conv else "none converges"


def summarise_map(cells: list[tuple[dict, dict]], grid: str) -> dict:
    from verify.claims.record import Figure, Line
    rows, by_angle = [], {}
    for cell, res in cells:
        pat = _pattern(res["classes"])
        rows.append([f"{res['angle_deg']:g}", f"{res['M0']:g}", " ".join(c[:4] for c in res["classes"]),
                     pat])
        by_angle.setdefault(res["angle_deg"], []).append(
            (res["M0"], sum(c == "converged" for c in res["classes"])))
    lines = [Line(f"angle {a:g} deg", [p[0] for p in pts], [p[1] for p in pts])
             for a, pts in sorted(by_angle.items())]
    first = {}
    for cell, res in cells:
        if _pattern(res["classes"]).startswith("only m_1"):
            a = res["angle_deg"]
            first[a] = min(first.get(a, math.inf), res["M0"])
    text = [f"angle {a:g} deg: the claimed pattern (only m_1 converges) first appears at M0 = {m:g}"
            for a, m in sorted(first.items())]
    text += [f"angle {a:g} deg: the claimed pattern appears at no M0 of the grid"
             for a in sorted(by_angle) if a not in first]
    fig = Figure(id="sweep-thm3.4-map", title="thm3.4's construction: number of converging means "
                 "over angle and M0", xlabel="M0", ylabel="means converged", lines=lines)
    return {"name": "thm3.4-map", "grid": grid, "title": "thm3.4 over angle and M0",
            "text": text, "fits": {"first_M0": {str(k): v for k, v in first.items()}},
            "table": {"title": "Outcome per (angle, M0)", "columns": ["angle (deg)", "M0",
                                                                       "classes", "pattern"],
                      "rows": rows},
            "figures": [dataclasses.asdict(fig)]}
