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
from verify.sweeps.definitions import FAR_STEPS, FAR_STOP_WINDOW, SPLIT_ETA

# ----------------------------------------------------------------------------------------------
# split-threshold
# ----------------------------------------------------------------------------------------------

def linear_amplification(M: float, n: int, eta: float = float(SPLIT_ETA)) -> float:
    """A(M) = sum_tau ln(1 + 4 eta a_tau^2 / n), a_tau = M (1 - 2 eta/n)^tau: the growth, in
    e-folds, of a small spread along the direction of motion while the common point contracts."""
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
    rows, lines, by_nd, gaps, censored = [], [], {}, [], {}
    ln10 = math.log(10)
    for cell, res in cells:
        n, d, M = cell["n"], cell["d"], cell["M"]
        x = res.get("log10_delta_star")
        stated = stated_ln_scale(M, n, d)
        A = linear_amplification(M, n)
        if x is None:
            censored.setdefault(res.get("censored"), []).append(M)
            rows.append([n, d, f"{M:g}", cell["seed"], f"({res.get('censored')})", "",
                         f"{stated:.4g}", "", f"{A:.3g}"])
            continue
        half = (res["bracket"][1] - res["bracket"][0]) / 2
        ln_star = x * ln10
        by_nd.setdefault((n, d), []).append((M, ln_star, A))
        gaps.append((ln_star - stated, half * ln10, n, d, M))
        rows.append([n, d, f"{M:g}", cell["seed"], f"{x:.3f} ± {half:.3f}", f"{ln_star:.3f}",
                     f"{stated:.4g}",
                     f"{ln_star - stated:.4g}", f"{A:.3g}"])
    fits, fit_rows = {}, []
    for (n, d), pts in sorted(by_nd.items()):
        Ms = [p[0] for p in pts]
        y = [p[1] for p in pts]
        quad = _fit.linear_fit({"1": [1.0] * len(Ms), "M": Ms, "M^2": [m * m for m in Ms]}, y)
        amp = _fit.linear_fit({"1": [1.0] * len(Ms), "A(M)": [p[2] for p in pts]}, y)
        fits[f"n={n},d={d}"] = {"quadratic": quad.to_dict() if quad else None,
                                "amplification": amp.to_dict() if amp else None}
        fit_rows.append(_split_fit_row(n, d, len(pts), amp, quad))
        mean = {}
        for M_, v in zip(Ms, y):
            mean.setdefault(M_, []).append(-v)
        xs = sorted(mean)
        lines.append(Line(f"-ln delta* (mean over seeds), n={n}, d={d}", xs,
                          [sum(mean[x]) / len(mean[x]) for x in xs]))
    text = _split_conclusions(fits, gaps, censored, len(cells))
    findings = _split_findings(fits, gaps)
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
            "text": text, "fits": fits, "findings": findings,
            "tables": [{"title": "Fits per (n, d): ln delta* = intercept + slope·A(M) over the "
                                 "cells (least squares, ± one standard error; slope -1 when the "
                                 "linearised spread growth explains the threshold; rms residual "
                                 "of this fit), and the M^2 coefficient c2 of the quadratic fit "
                                 "ln delta* = c0 + c1·M + c2·M^2",
                        "columns": ["n", "d", "points", "slope vs A(M)", "intercept",
                                    "rms residual", "M^2 coefficient"], "rows": fit_rows}],
            "table": {"title": "Split threshold per cell (log10 delta* with its bisection "
                               "half-width; gap = ln delta* - ln stated scale, in e-folds)",
                      "columns": ["n", "d", "M", "seed", "log10 delta*", "ln delta*", "ln stated",
                                  "gap", "A(M)"], "rows": rows},
            "figures": [dataclasses.asdict(fig)]}


def _pm(value: float, err: float | None) -> str:
    """value ± err, the value rounded where the error's second significant digit falls."""
    if err is None or not math.isfinite(err):
        return f"{value:.3g} (no error estimate)"
    if err == 0:
        return f"{value:.6g} ± 0"
    decimals = max(0, 1 - math.floor(math.log10(err)))
    return f"{value:.{decimals}f} ± {err:.{decimals}f}"


def _coef(fit: dict | _fit.LinearFit | None, name: str) -> tuple[float, float | None] | None:
    if fit is None:
        return None
    if isinstance(fit, _fit.LinearFit):
        fit = fit.to_dict()
    k = fit["names"].index(name)
    return fit["coef"][k], fit["stderr"][k]


def _split_fit_row(n: int, d: int, points: int, amp, quad) -> list:
    def show(fit, name):
        c = _coef(fit, name)
        return _pm(*c) if c else "-"
    return [n, d, points, show(amp, "A(M)"), show(amp, "1"),
            f"{amp.rms_residual:.2f}" if amp else "-", show(quad, "M^2")]


def _split_findings(fits: dict, gaps: list) -> list[dict]:
    """The report's finding of this sweep (a Finding as a dict): how far thm3.2's stated scale
    sits below the measured threshold, and the law the threshold follows."""
    if not gaps:
        return []
    lo, hi = min(gaps), max(gaps)
    slopes = [c for c in (_coef(f["amplification"], "A(M)") for f in fits.values())
              if c is not None and c[1]]
    law = ""
    if len(slopes) > 1:
        w = [1 / e ** 2 for _, e in slopes]
        mean = sum(wi * c for wi, (c, _) in zip(w, slopes)) / sum(w)
        law = (f"; the threshold itself follows delta* ~ C e^(-A(M)) with A(M) the derived linear "
               f"amplification of the spread (slope {_pm(mean, sum(w) ** -0.5)} over "
               f"{len(slopes)} (n, d) pairs)")
    return [{"headline": "thm3.2's stated initial scale (1/(108 n d)) exp(-106 n d M^3) is "
                         "conservative: the largest initial spread delta* from which every mean "
                         f"converged in these runs exceeds it, ln delta* by {lo[0]:.4g} e-folds "
                         f"(n={lo[2]}, d={lo[3]}, M={lo[4]:g}) to {hi[0]:.4g} (n={hi[2]}, "
                         f"d={hi[3]}, M={hi[4]:g})" + law,
             "value": f"{_pm(lo[0], lo[1])} to {_pm(hi[0], hi[1])} e-folds",
             "kind": "constant-gap", "evidence": "sweep-split-threshold"}]


def _split_conclusions(fits: dict, gaps: list, censored: dict, total: int) -> list[str]:
    """The text lines of the split-threshold summary, read off the fits (never typed in)."""
    text = []
    slopes = [(key, _coef(f["amplification"], "A(M)")) for key, f in fits.items()]
    slopes = [(key, c) for key, c in slopes if c is not None and c[1] is not None]
    if slopes:
        lo = min(slopes, key=lambda s: s[1][0])
        hi = max(slopes, key=lambda s: s[1][0])
        near = [key for key, (c, e) in slopes if abs(c + 1) <= 2 * e]
        far = [f"{key.replace(',', ', ')}: {_pm(*c)}" for key, c in slopes if key not in near]
        w = [1 / e ** 2 for _, (c, e) in slopes]
        mean = sum(wi * c for wi, (_, (c, e)) in zip(w, slopes)) / sum(w)
        chi2 = sum(wi * (c - mean) ** 2 for wi, (_, (c, e)) in zip(w, slopes))
        text.append(f"Against the linear amplification A(M), the slope of ln delta* ranges from "
                    f"{_pm(*lo[1])} ({lo[0].replace(',', ', ')}) to {_pm(*hi[1])} "
                    f"({hi[0].replace(',', ', ')}); {len(near)} of {len(slopes)} (n, d) pairs "
                    f"are within 2 standard errors of -1, the slope at which the linearised "
                    f"spread growth alone sets the threshold"
                    + (f" (not: {'; '.join(far)})" if far else "")
                    + (f"; inverse-variance mean {_pm(mean, sum(w) ** -0.5)} (chi^2 {chi2:.2g} "
                       f"for {len(slopes) - 1} degrees of freedom)" if len(slopes) > 1 else ""))
    quads = [(key, _coef(f["quadratic"], "M^2")) for key, f in fits.items()]
    quads = [(key, c) for key, c in quads if c is not None and c[1] is not None]
    if quads:
        lo = min(quads, key=lambda s: s[1][0])
        hi = max(quads, key=lambda s: s[1][0])
        zero = sum(abs(c) <= 2 * e for _, (c, e) in quads)
        rms = [f["quadratic"]["rms_residual"] for f in fits.values() if f["quadratic"]]
        text.append(f"Fitted as a quadratic in M instead (rms residuals {min(rms):.2f} to "
                    f"{max(rms):.2f}), ln delta* has an M^2 coefficient from {_pm(*lo[1])} to "
                    f"{_pm(*hi[1])}, within 2 standard errors of 0 for {zero} of {len(quads)} "
                    f"(n, d) pairs (each in the fits table)")
    if gaps:
        lo, hi = min(gaps), max(gaps)
        text.append(f"Gap between the measured ln delta* and thm3.2's stated exponent: "
                    f"{_pm(lo[0], lo[1])} e-folds (n={lo[2]}, d={lo[3]}, M={lo[4]:g}) to "
                    f"{_pm(hi[0], hi[1])} (n={hi[2]}, d={hi[3]}, M={hi[4]:g}); the errors are "
                    f"the bisection half-widths")
    if censored:
        what = {"above": "every spread up to 0.5 converges", "below": "none down to 1e-300 does",
                "undecided": "a run stayed undecided"}
        parts = [f"{len(Ms)} {kind} ({what.get(kind, kind)}; M = "
                 f"{', '.join(f'{m:g}' for m in sorted(set(Ms)))})"
                 for kind, Ms in sorted(censored.items())]
        text.append(f"Censored cells, left out of the fits: {'; '.join(parts)} of {total}")
    return text


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
    text, onsets, lines, vacuous, stated_by = [], {}, [], [], {}
    for (n, d), pts in sorted(curves.items()):
        pts = [p for p in pts if p[1] is not None]     # cells with no decided run drop out
        xs = [p[0] for p in pts]
        fr = [p[1] for p in pts]
        on = {str(level): _fit.onset(xs, fr, level) for level in (0.5, 0.95)}
        onsets[f"n={n},d={d}"] = on
        stated = 1e9 * math.sqrt(d) * n ** 10
        stated_by[(n, d)] = stated
        def show(v):
            if v is None:
                return "not reached on the grid"
            return f"<= {v:g} (already at the first grid point)" if v == xs[0] else f"{v:.3g}"
        text.append(f"n={n}, d={d}: the frequency of 'exactly one converges' (undecided runs "
                    f"counted as not) passes 0.5 at M0 "
                    f"{show(on['0.5'])} and 0.95 at M0 {show(on['0.95'])}; the stated condition "
                    f"is M0 > {stated:.3g}")
        lines.append(Line(f"frequency, n={n}, d={d}", xs, fr))
        # the stated probability bound says nothing where it is <= 0 (M0 <= n^6): drawn only where
        # it is positive, so it does not set the plot's scale
        pos = [(x, 1 - n * n * x ** (-1 / 3)) for x in xs if 1 - n * n * x ** (-1 / 3) > 0]
        if pos:
            lines.append(Line(f"bound 1 - n^2 M0^(-1/3), n={n}", [p[0] for p in pos],
                              [p[1] for p in pos], kind="reference"))
        else:
            vacuous.append(n)
    early = [res["steps"] for _, res in cells
             if res.get("stop_reason") == "all parameters classified" and res["steps"] < FAR_STEPS]
    if early:
        text.append(f"Each run takes up to {FAR_STEPS} steps and stops earlier at the first record "
                    f"where the outcome rule holds for every mean over {FAR_STOP_WINDOW + 1} "
                    f"records (the classes are the rule's over the last 5 at the end): "
                    f"{len(early)} of {len(cells)} runs stopped early, after {min(early)} to "
                    f"{max(early)} steps")
    if vacuous:
        text.append(f"The stated lower bound 1 - n^2 M0^(-1/3) on the probability is <= 0 at every M0 "
                    f"of the grid for n = {', '.join(map(str, vacuous))} (it is positive only for "
                    f"M0 > n^6), so the figure leaves it out there; its values are in the table")
    findings = []
    starts = [(f"n={n}, d={d}", onsets[f"n={n},d={d}"]["0.95"], stated)
              for (n, d), stated in sorted(stated_by.items())
              if onsets[f"n={n},d={d}"].get("0.95") is not None]
    if starts:
        orders = [math.log10(stated / m0) for _, m0, stated in starts]
        findings.append({
            "headline": "thm3.5's stated condition M0 > 1e9 sqrt(d) n^10 is far from where the "
                        "behaviour starts: exactly one mean converges in at least 95% of the seeds "
                        "from " + ", ".join(f"M0 = {m0:.3g} ({key}; stated "
                                            f"{stated:.3g})" for key, m0, stated in starts)
                        + f", {min(orders):.1f} to {max(orders):.1f} orders of magnitude earlier "
                        "(undecided runs counted as not, so the frequencies are lower bounds)",
            "value": ", ".join(f"{m0:.3g}" for _, m0, _ in starts),
            "kind": "constant-gap", "evidence": "sweep-one-converges"})
    fig = Figure(id="sweep-one-converges", title="Frequency of 'exactly one mean converges' "
                 "(thm3.5's far initialisation)", xlabel="M0", ylabel="frequency",
                 lines=lines)
    return {"name": "one-converges", "grid": grid,
            "title": "Exactly one converges: onset against M0",
            "text": text, "fits": {"onsets": onsets}, "findings": findings,
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
        rows.append([f"{res['angle_deg']:g}", f"{res['M0']:g}",
                     " ".join(c[:4] for c in res["classes"]), pat])
        by_angle.setdefault(res["angle_deg"], []).append(
            (res["M0"], sum(c == "converged" for c in res["classes"])))
    lines = [Line(f"angle {a:g} deg", [p[0] for p in pts], [p[1] for p in pts])
             for a, pts in sorted(by_angle.items())]
    first = {}
    for cell, res in cells:
        if _pattern(res["classes"]).startswith("only m_1"):
            a = res["angle_deg"]
            first[a] = min(first.get(a, math.inf), res["M0"])
    by_first: dict = {}
    for a in sorted(by_angle):
        by_first.setdefault(first.get(a), []).append(f"{a:g}")
    grid_M0 = ", ".join(f"{m:g}" for m in sorted({res["M0"] for _, res in cells}))
    text = [f"The claimed pattern (only m_1 converges) first appears at M0 = {m:g} for angle(s) "
            f"{', '.join(by_first[m])} deg" for m in sorted(k for k in by_first if k is not None)]
    if None in by_first:
        text.append(f"The claimed pattern appears at no M0 of the grid ({grid_M0}) for angle(s) "
                    f"{', '.join(by_first[None])} deg")
    fig = Figure(id="sweep-thm3.4-map", title="thm3.4's construction: number of converging means "
                 "over angle and M0", xlabel="M0", ylabel="means converged", lines=lines)
    return {"name": "thm3.4-map", "grid": grid, "title": "thm3.4 over angle and M0",
            "text": text, "fits": {"first_M0": {str(k): v for k, v in first.items()}},
            "table": {"title": "Outcome per (angle, M0)", "columns": ["angle (deg)", "M0",
                                                                       "classes", "pattern"],
                      "rows": rows},
            "figures": [dataclasses.asdict(fig)]}
