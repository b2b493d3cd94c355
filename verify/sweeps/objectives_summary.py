"""Summary of the ``objectives`` sweep (issue 21 item 6): a table objective x start family ->
outcome with frequencies, findings that state the contrast in numbers, and one figure per start
family (each mean's distance against the step under all four objectives, first seed and largest
M0).  Outside the cells' cache key."""
from __future__ import annotations

import dataclasses
import math
from collections import defaultdict


def _outcome(r: dict) -> str:
    n = r["n"]
    if r["converged"] == n:
        return "all converge"
    if r["converged"] + r["approaching"] == n:
        return "all converge or approach"
    if r["converged"] == 1 and r["diverging"] == n - 1:
        return "exactly one converges, the rest diverge"
    if r["converged"] == 1:
        return "exactly one converges"
    if r["converged"] == 0 and r["diverging"] == 0:
        return "none converged yet"
    return f"{r['converged']} converge, {r['diverging']} diverge"


def summarise_objectives(cells, grid: str) -> dict:
    from verify.claims.record import Figure, Line
    from verify.sweeps.objectives_sweep import FAMILY_NAMES, OBJECTIVE_NAMES, STEPS
    table = defaultdict(lambda: defaultdict(int))
    counts = defaultdict(list)
    slopes = defaultdict(list)
    drift = defaultdict(list)
    for cell, r in cells:
        key = (OBJECTIVE_NAMES[cell["objective"]], FAMILY_NAMES[cell["family"]])
        table[key][_outcome(r)] += 1
        counts[key].append(r["converged"])
        if math.isfinite(r["slope"]):
            slopes[key].append(r["slope"])
        drift[key].append(r["far_drift"])
    rows = []
    for fam in FAMILY_NAMES:
        for obj in OBJECTIVE_NAMES:
            key = (obj, fam)
            if key not in table:
                continue
            total = sum(table[key].values())
            out = "; ".join(f"{k}: {v}/{total}" for k, v in sorted(table[key].items(),
                                                                  key=lambda kv: -kv[1]))
            sl = slopes[key]
            rows.append([fam, obj, out,
                         f"{sum(counts[key]) / total:.2f}",
                         f"{min(sl):.2f} to {max(sl):.2f}" if sl else "n/a",
                         ", ".join(f"{s:+.0f}" for s in drift[key])])
    findings, conclusions = [], []
    far = [(cell, r) for cell, r in cells if FAMILY_NAMES[cell["family"]] == "far-random"
           and cell["M0"] == max(c["M0"] for c, _ in cells)]
    if far:
        parts = []
        for obj_i, obj in enumerate(OBJECTIVE_NAMES):
            rs = [r for c, r in far if c["objective"] == obj_i]
            if not rs:
                continue
            conv = [r["converged"] for r in rs]
            when = [min((s for s in r["first_within_tol"] if s is not None), default=None)
                    for r in rs]
            last = [max((s for s in r["first_within_tol"] if s is not None), default=None)
                    if r["converged"] == r["n"] else None for r in rs]
            far_d = [max(r["final_dist"]) for r in rs]
            def said(xs):
                return ", ".join("never" if x is None else f"step {x}" for x in xs)
            parts.append(f"{obj}: {sum(conv)} of {sum(r['n'] for r in rs)} means converged "
                         f"over {len(rs)} seed(s) (first mean within 0.1: {said(when)}; all "
                         f"within 0.1: {said(last)}); farthest mean at the end "
                         f"{', '.join(f'{x:.3g}' for x in far_d)}")
        findings.append({"headline": f"From thm3.5's far random start (M0 = {far[0][0]['M0']:g}, "
                                     f"n = 3, {STEPS} steps) the objectives part ways: "
                                     + "; ".join(parts) + ".",
                         "evidence": "objectives-far-random"})
    em_far = [r for c, r in cells if OBJECTIVE_NAMES[c["objective"]] == "gradient-em"]
    if em_far:
        signs = [r["far_drift"] for r in em_far]
        findings.append({"headline": "Under gradient EM the farthest mean's distance was "
                                     f"shrinking at the end in {sum(s < 0 for s in signs)} of "
                                     f"{len(signs)} runs (pulled back where it wins the "
                                     "softmax, slowly); under score matching (forward Fisher) "
                                     "in " + str(sum(r['far_drift'] < 0 for c, r in cells
                                                      if c['objective'] == 0))
                                     + f" of {sum(1 for c, _ in cells if c['objective'] == 0)}.",
                         "evidence": "table"})
    figures = []
    top = max(c["M0"] for c, _ in cells)
    s0 = min(c["seed"] for c, _ in cells)
    for fi, fam in enumerate(FAMILY_NAMES):
        lines = []
        for c, r in cells:
            if c["family"] != fi or c["M0"] != top or c["seed"] != s0:
                continue
            obj = OBJECTIVE_NAMES[c["objective"]]
            for i in range(r["n"]):
                lines.append(Line(f"{obj} |c_{i + 1}|", [float(s) for s in r["steps_rec"]],
                                  [row[i] for row in r["dist_rec"]]))
        if lines:
            figures.append(Figure(id=f"objectives-{fam}", title=f"{fam} start (M0 = {top:g}, "
                                  f"seed {s0}): each mean's distance under the four objectives",
                                  xlabel="GD step", ylabel="|c_i|", lines=lines, xscale="symlog",
                                  yscale="log"))
    conclusions.append(f"{len(cells)} cells: objective x start family x M0 x seed, {STEPS} steps "
                       "each; outcome rule: converged = distance <= 0.1 and non-increasing over "
                       "the last 5 records, approaching = strictly decreasing over them, "
                       "diverging = strictly increasing and above twice the start's largest "
                       "distance")
    for f in findings:
        f.setdefault("kind", "finding")
        f.setdefault("value", "")
    return {"name": "objectives", "grid": grid,
            "title": "Beyond the paper: four objectives from the same starts",
            "text": conclusions, "fits": {}, "findings": findings,
            "table": {"title": "objective x start family -> outcome (frequencies over M0 and "
                                 "seeds)",
                        "columns": ["start family", "objective", "outcome", "mean converged",
                                    "late loss slope", "far drift sign"],
                        "rows": rows},
            "figures": [dataclasses.asdict(f) for f in figures]}
