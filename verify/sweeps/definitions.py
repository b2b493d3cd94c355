"""The named sweeps of issue 14: their grids and cell functions (the summaries that read the
cells live in :mod:`verify.sweeps.summaries`, outside the hashed sources, so rewording a summary
never invalidates the cached cells).

* ``split-threshold`` -- thm3.2's setting (t = 0, target at distance M from a common starting
  point, all n means within delta of it): the largest delta* from which every mean still
  converges, by bisection in log10 delta (the predictor it is compared with, the linear
  amplification A(M), is derived in :mod:`verify.sweeps.summaries`).
* ``one-converges`` -- thm3.5's random far initialisation: does exactly one mean converge, per
  seeded run (frequencies, Wilson intervals and onsets are the summary's).
* ``thm3.4-map`` -- thm3.4's construction (m_1(0) = exp(-M0/100) e_1, the others at 0) over the
  angle between m* and e_1 and M0: which means converge.

A cell is a dict of plain numbers (its inputs); its result a dict of plain numbers and strings.
Cells are deterministic: every random draw is seeded from the cell's own inputs, so results do
not depend on the number of workers or on the order in which cells finish.  Everything a cell's
computation uses is defined here (this file is part of the cache key, verify.sweeps.engine).
"""
from __future__ import annotations

import math

from verify import dynamics
from verify import precision as _precision

from verify.sweeps.base import SEED, Axis, Sweep, SweepError, _check_interrupt  # noqa: F401 (SweepError: re-exported)


# ----------------------------------------------------------------------------------------------
# split-threshold
# ----------------------------------------------------------------------------------------------

SPLIT_ETA = "0.25"          # thm3.2's step (see verify.claims.small_init: stable for eta < n)
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


def _split_start(M: float, n: int, d: int, log10_delta: float, seed: int):
    """thm3.2's initial condition with its scale replaced by delta = 10^log10_delta: m* = M e_1,
    m_i(0) = r_i u_i (u_i uniform on the sphere, r_i uniform in [delta/2, delta]); centred."""
    from verify.claims import small_init
    ctx = _precision.context(max(30, int(-log10_delta) + 40))
    delta = ctx.power(10, ctx.mpf(log10_delta))
    return small_init.initial_parameters(n, d, repr(M), seed, init_scale=delta)["c"]


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


# ----------------------------------------------------------------------------------------------
# one-converges
# ----------------------------------------------------------------------------------------------

FAR_STEPS = 20000   # the classes of the pair-like small-M0 starts need the longer run
# The run stops early only when the outcome rule holds over this many records + 1 (about a
# factor 4.6 in steps at 12 records a decade), not over the rule's own 5: a mean that comes
# within converge_tol and is pushed out again while another separates (seen in 4 of the 288
# cells with a 5-record stop) is not stopped on.  Either window implies the rule's classes.
FAR_STOP_WINDOW = 8


def one_converges_cell(M0: float, n: int, d: int, seed: int) -> dict:
    """One run of thm3.5's random far initialisation (the claim's own initialisation, step rule
    and outcome rule): does exactly one mean converge, and is it the one that started closest?
    The run stops at the first record where the outcome rule, held over FAR_STOP_WINDOW + 1
    records, classifies every mean (at most FAR_STEPS steps); ``steps`` says where, and the
    classes are the outcome rule's at the end of the run, as the claim's."""
    import numpy as np
    from verify import outcomes
    s = SEED + 7919 * seed + int(M0 * 1000) + 100003 * n + 10007 * d
    c0, _ = outcomes.far_init(n, d, M0, s)
    eta = outcomes.default_eta(M0)
    rules = outcomes.outcome_rules()
    stop = outcomes.gd_rules(dict(rules, window=FAR_STOP_WINDOW))
    tr = dynamics.run_gd(c0, eta, FAR_STEPS, digits=4, progress=False, rules=stop,
                         stop_when_classified=True)
    _check_interrupt(tr)
    cls = outcomes.classify_outcome(tr, rules)
    one = outcomes.exactly_one(cls)
    closest = int(np.argmin([np.linalg.norm(x) for x in c0]))
    return {"M0": M0, "n": n, "d": d, "seed": s, "eta": eta, "steps": tr.steps[-1],
            "stop_reason": tr.stop_reason, "classes": cls, "exactly_one": one,
            "closest_converged": bool(cls[closest] == outcomes.CONVERGED)}


# ----------------------------------------------------------------------------------------------
# thm3.4-map
# ----------------------------------------------------------------------------------------------

MAP_STEPS = 8000


def thm34_cell(angle_deg: float, M0: float, n: int, d: int) -> dict:
    """thm3.4's construction at one angle (degrees) between m* and e_1 and one M0."""
    from verify.claims import c_thm3_4 as c34
    from verify import outcomes
    c0, m_star = c34.initial(n, d, M0, math.radians(angle_deg))
    eta = outcomes.default_eta(M0)
    tr = dynamics.run_gd(c0, eta, MAP_STEPS, digits=4, progress=False)
    _check_interrupt(tr)
    cls = outcomes.classify_outcome(tr, outcomes.outcome_rules())
    return {"angle_deg": angle_deg, "M0": M0, "n": n, "d": d, "eta": eta, "steps": tr.steps[-1],
            "classes": cls, "final_dist": [r if math.isfinite(r) else None for r in tr.dist[-1]]}


PAPER_SWEEPS: dict[str, Sweep] = {s.name: s for s in (
    Sweep("split-threshold", "largest initial spread delta* from which every mean converges "
          "(thm3.2's setting), against the stated scale",
          (Axis("n", (2, 3), (2, 3, 4, 6), 2, 8, True),
           Axis("d", (1,), (1, 2, 3), 1, 3, True),
           Axis("M", (2.0, 3.0, 4.0, 5.0, 6.0), (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0), 0.5, 12),
           Axis("seed", (0,), (0, 1), 0, 10_000, True)),
          split_threshold_cell, "summarise_split"),
    Sweep("one-converges", "frequency of 'exactly one converges' against M0 and n (thm3.5's "
          "random far initialisation)",
          (Axis("n", (2, 3), (2, 3, 4), 2, 8, True),
           Axis("d", (2,), (2,), 1, 3, True),
           Axis("M0", (0.5, 1.0, 2.0, 4.0), (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0), 0.25, 20),
           Axis("seed", tuple(range(4)), tuple(range(12)), 0, 10_000, True)),
          one_converges_cell, "summarise_one"),
    Sweep("thm3.4-map", "thm3.4's outcome over the angle between m* and e_1 and M0",
          (Axis("angle_deg", (0.0, 90.0, 180.0), (0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0),
                0, 360),
           Axis("M0", (2.0, 4.0), (1.0, 2.0, 3.0, 4.0, 6.0, 8.0), 0.5, 20)),
          thm34_cell, "summarise_map", fixed=(("n", 3), ("d", 2))),
)}
