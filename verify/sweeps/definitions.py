"""The named sweeps of issue 14: their grids, cell functions and summaries.

* ``split-threshold`` -- thm3.2's setting (t = 0, target at distance M from a common starting
  point, all n means within delta of it): the largest delta* from which every mean still
  converges, by bisection in log10 delta, next to thm3.2's stated scale
  (1/(108 n d)) exp(-106 n d M^3).  Predictor derived here and checked in the tests: for
  zero-mean spreads eps_i around an all-equal point a, F = |a|^2 - (2/n) sum_i <a, eps_i>^2 +
  O(eps^3), so GD multiplies the spread along a by (1 + 4 eta |a_tau|^2 / n) per step while a
  contracts by (1 - 2 eta/n) (claim lem3.3): the linear amplification
  A(M) = sum_tau ln(1 + 4 eta a_tau^2 / n), a_0 = M.  ln delta* is fitted against M and against A.
* ``one-converges`` -- thm3.5's random far initialisation: the frequency of "exactly one mean
  converges" (95% Wilson interval) against M0 and n, next to the bound 1 - n^2 M0^(-1/3) and the
  stated M0 > 1e9 sqrt(d) n^10; onsets where the frequency passes 0.5 and 0.95.
* ``thm3.4-map`` -- thm3.4's construction (m_1(0) = exp(-M0/100) e_1, the others at 0) over the
  angle between m* and e_1 and M0: which means converge.

A cell is a dict of plain numbers (its inputs); its result a dict of plain numbers and strings.
Cells are deterministic: every random draw is seeded from the cell's own inputs, so results do
not depend on the number of workers or on the order in which cells finish.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import mpmath

from verify import dynamics
from verify import precision as _precision
from verify.sweeps import fit as _fit

SEED = 20260101


class SweepError(ValueError):
    """Bad sweep input (unknown name, grid value out of range): a one-line message."""


@dataclass(frozen=True)
class Axis:
    """One grid axis: the quick and full values, and the range a user may ask for."""

    name: str
    quick: tuple
    full: tuple
    lo: float
    hi: float
    integer: bool = False


@dataclass(frozen=True)
class Sweep:
    name: str
    title: str
    axes: tuple[Axis, ...]
    cell_fn: Callable[..., dict]
    summarise: Callable[[list[tuple[dict, dict]], str], dict]
    fixed: tuple[tuple[str, object], ...] = ()

    def grid(self, quick: bool, overrides: dict[str, list] | None = None) -> list[dict]:
        """The cells in a fixed order (the product of the axes, first axis slowest)."""
        values = []
        overrides = overrides or {}
        unknown = set(overrides) - {a.name for a in self.axes}
        if unknown:
            raise SweepError(f"sweep {self.name!r} has no axis {sorted(unknown)[0]!r}; "
                             f"axes: {', '.join(a.name for a in self.axes)}")
        for a in self.axes:
            vals = overrides.get(a.name, a.quick if quick else a.full)
            for v in vals:
                if not (a.lo <= v <= a.hi) or (a.integer and int(v) != v):
                    raise SweepError(f"{self.name}: {a.name}={v:g} is out of range "
                                     f"[{a.lo:g}, {a.hi:g}]" + (" (integers)" if a.integer else ""))
            values.append([int(v) if a.integer else float(v) for v in vals])
        cells = [{}]
        for a, vals in zip(self.axes, values):
            cells = [dict(c, **{a.name: v}) for c in cells for v in vals]
        return [dict(c, **dict(self.fixed)) for c in cells]


def _check_interrupt(traj) -> None:
    # A GD run turns the first Ctrl-C into a flag and returns early; a cell must never be
    # computed (and cached) from an interrupted run.
    if traj.interrupted:
        raise KeyboardInterrupt


# ----------------------------------------------------------------------------------------------
# split-threshold
# ----------------------------------------------------------------------------------------------

SPLIT_ETA = "0.25"          # thm3.2's step (see verify.claims.c_thm3_2: stable for eta < n)
SPLIT_DIGITS = 6            # correct digits on top of the spread digits (classes need few)
SPLIT_CONVERGED = 0.5       # every |c_i| below this at the end (and not growing): all converge
SPLIT_AWAY = 1.0            # some |c_i| above this at the end: the cluster split
SPLIT_LOG10_TOP = math.log10(0.5)
SPLIT_LOG10_FLOOR = -300.0
SPLIT_RESOLUTION = 0.05     # bisection stops when the bracket in log10 delta is this narrow


def split_steps(M: float, n: int, eta: float = float(SPLIT_ETA)) -> int:
    """Steps for the common point to contract from M to 1e-2 (factor 1 - 2 eta/n per step,
    claim lem3.3) plus 300 for a split to show."""
    return int(math.ceil(math.log(M / 1e-2) / -math.log(1 - 2 * eta / n))) + 300


def linear_amplification(M: float, n: int, eta: float = float(SPLIT_ETA)) -> float:
    """A(M) = sum_tau ln(1 + 4 eta a_tau^2 / n), a_tau = M (1 - 2 eta/n)^tau: the growth, in e-folds,
    of a small spread along the direction of motion while the common point contracts."""
    q = 1 - 2 * eta / n
    a, total = M, 0.0
    while a > 1e-8:
        total += math.log1p(4 * eta * a * a / n)
        a *= q
    return total


def _split_start(M: float, n: int, d: int, log10_delta: float, seed: int):
    """thm3.2's initial condition with its scale replaced by delta = 10^log10_delta: m* = M e_1,
    m_i(0) = r_i u_i (u_i uniform on the sphere, r_i uniform in [delta/2, delta]); centred."""
    from verify.claims import c_thm3_2
    ctx = _precision.context(max(30, int(-log10_delta) + 40))
    delta = ctx.power(10, ctx.mpf(log10_delta))
    return c_thm3_2.initial_parameters(n, d, repr(M), seed, init_scale=delta)["c"]


def split_outcome(M: float, n: int, d: int, log10_delta: float, seed: int) -> dict:
    """One GD run from spread 10^log10_delta: 'converge', 'split' or 'undecided' (after up to
    three extensions of the run by a factor 4)."""
    c0 = _split_start(M, n, d, log10_delta, seed)
    steps = split_steps(M, n)
    for _ in range(3):
        tr = dynamics.run_gd(c0, SPLIT_ETA, steps, digits=SPLIT_DIGITS, progress=False)
        _check_interrupt(tr)
        last = tr.dist[-1]
        if any(not math.isfinite(r) or r > SPLIT_AWAY for r in last):
            return {"outcome": "split", "steps": tr.steps[-1], "final_dist": max(last)}
        growing = len(tr.dist) > 1 and max(tr.dist[-1]) > max(tr.dist[-2])
        if max(last) < SPLIT_CONVERGED and not growing:
            return {"outcome": "converge", "steps": tr.steps[-1], "final_dist": max(last)}
        steps *= 4
    return {"outcome": "undecided", "steps": tr.steps[-1], "final_dist": max(last)}


def split_threshold_cell(M: float, n: int, d: int, seed: int = 0) -> dict:
    """log10 delta*: the bracket [lo, hi] (lo converges, hi splits) narrowed by bisection to
    SPLIT_RESOLUTION, assuming one transition in between (every probe is recorded).  Censored
    results say so: every spread up to 0.5 converges, or none down to 1e-300 does."""
    probes = []

    def probe(x):
        out = split_outcome(M, n, d, x, seed)
        probes.append([round(x, 6), out["outcome"]])
        return out["outcome"]

    base = {"M": M, "n": n, "d": d, "seed": seed, "eta": SPLIT_ETA,
            "rule": f"converge: max_i |c_i| < {SPLIT_CONVERGED} and not growing at the end; split: "
                    f"some |c_i| > {SPLIT_AWAY}; runs of {split_steps(M, n)} steps (x4 up to 3 times)"}
    hi = SPLIT_LOG10_TOP
    top = probe(hi)
    if top == "converge":
        return dict(base, log10_delta_star=None, censored="above", probes=probes)
    if top == "undecided":
        return dict(base, log10_delta_star=None, censored="undecided", probes=probes)
    lo = -2.0
    while True:
        out = probe(lo)
        if out == "converge":
            break
        if out == "undecided":
            return dict(base, log10_delta_star=None, censored="undecided", probes=probes)
        hi = lo
        if lo <= SPLIT_LOG10_FLOOR:
            return dict(base, log10_delta_star=None, censored="below", probes=probes)
        lo = max(2 * lo, SPLIT_LOG10_FLOOR)
    while hi - lo > SPLIT_RESOLUTION:
        mid = (lo + hi) / 2
        out = probe(mid)
        if out == "converge":
            lo = mid
        elif out == "split":
            hi = mid
        else:
            return dict(base, log10_delta_star=None, censored="undecided", probes=probes,
                        bracket=[lo, hi])
    return dict(base, log10_delta_star=(lo + hi) / 2, bracket=[lo, hi], censored="",
                probes=probes)


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

FAR_STEPS = 20000   # the classes of the pair-like small-M0 starts need the longer run


def one_converges_cell(M0: float, n: int, d: int, seed: int) -> dict:
    """One run of thm3.5's random far initialisation (the claim's own initialisation, step rule
    and outcome rule): does exactly one mean converge, and is it the one that started closest?"""
    import numpy as np
    from verify.claims import c_thm3_5 as c35
    s = SEED + 7919 * seed + int(M0 * 1000) + 100003 * n + 10007 * d
    c0, _ = c35.far_init(n, d, M0, s)
    eta = c35.default_eta(M0)
    tr = dynamics.run_gd(c0, eta, FAR_STEPS, digits=4, progress=False)
    _check_interrupt(tr)
    cls = c35.classify_outcome(tr, c35.outcome_rules())
    one = c35.exactly_one(cls)
    closest = int(np.argmin([np.linalg.norm(x) for x in c0]))
    return {"M0": M0, "n": n, "d": d, "seed": s, "eta": eta, "steps": tr.steps[-1],
            "classes": cls, "exactly_one": one,
            "closest_converged": bool(cls[closest] == c35.CONVERGED)}


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

MAP_STEPS = 8000


def thm34_cell(angle_deg: float, M0: float, n: int, d: int) -> dict:
    """thm3.4's construction at one angle (degrees) between m* and e_1 and one M0."""
    from verify.claims import c_thm3_4 as c34
    from verify.claims import c_thm3_5 as c35
    c0, m_star = c34.initial(n, d, M0, math.radians(angle_deg))
    eta = c35.default_eta(M0)
    tr = dynamics.run_gd(c0, eta, MAP_STEPS, digits=4, progress=False)
    _check_interrupt(tr)
    cls = c35.classify_outcome(tr, c35.outcome_rules())
    return {"angle_deg": angle_deg, "M0": M0, "n": n, "d": d, "eta": eta, "steps": tr.steps[-1],
            "classes": cls, "final_dist": [r if math.isfinite(r) else None for r in tr.dist[-1]]}


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


SWEEPS: dict[str, Sweep] = {s.name: s for s in (
    Sweep("split-threshold", "largest initial spread delta* from which every mean converges "
          "(thm3.2's setting), against the stated scale",
          (Axis("n", (2, 3), (2, 3, 4, 6), 2, 8, True),
           Axis("d", (1,), (1, 2, 3), 1, 3, True),
           Axis("M", (2.0, 3.0, 4.0, 5.0, 6.0), (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0), 0.5, 12),
           Axis("seed", (0,), (0, 1), 0, 10_000, True)),
          split_threshold_cell, summarise_split),
    Sweep("one-converges", "frequency of 'exactly one converges' against M0 and n (thm3.5's "
          "random far initialisation)",
          (Axis("n", (2, 3), (2, 3, 4), 2, 8, True),
           Axis("d", (2,), (2,), 1, 3, True),
           Axis("M0", (0.5, 1.0, 2.0, 4.0), (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0), 0.25, 20),
           Axis("seed", tuple(range(4)), tuple(range(12)), 0, 10_000, True)),
          one_converges_cell, summarise_one),
    Sweep("thm3.4-map", "thm3.4's outcome over the angle between m* and e_1 and M0",
          (Axis("angle_deg", (0.0, 90.0, 180.0), (0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0),
                0, 360),
           Axis("M0", (2.0, 4.0), (1.0, 2.0, 3.0, 4.0, 6.0, 8.0), 0.5, 20)),
          thm34_cell, summarise_map, fixed=(("n", 3), ("d", 2))),
)}


def get(name: str) -> Sweep:
    if name not in SWEEPS:
        raise SweepError(f"unknown sweep {name!r}; known: {', '.join(SWEEPS)}")
    return SWEEPS[name]
