"""Sweep ``sgd-batch`` (issue 22 item 1): does "exactly one converges, the others diverge, loss ~
1/tau" survive stochastic gradients with B fresh samples per step, and up to which step and loss?

A cell is one seeded start in one of two settings, run twice from the same start: population GD
(verify.dynamics.run_gd, float64 engine) and SGD with batch B (verify.sgd.run_sgd, compiled):

* setting 0, "experiment": the paper's figure, m* = 0, c_i(0) = (M0, 0, 0) + 1e-7 z_i in d = 3,
  eta = 0.01;
* setting 1, "far": thm3.5's random far start (verify.outcomes.far_init) in d = 2 with its step
  rule (verify.outcomes.default_eta).

Both runs are classified by the far claims' explicit rule (verify.outcomes.classify_outcome).  The
population loss F is evaluated (float64 engine, 4 digits) at the SGD iterates of the record steps,
so the two losses are compared at the same steps: the departure step is the first record step
tau >= 10 where F(SGD) / F(GD) leaves [1/2, 2].  The end loss ratio is set beside the derived
jitter law (verify.asymptotics.sgd_noise.excess_ratio_law) at the nearest far mean's distance when
exactly one mean converged.  Everything a cell computes is seeded from its inputs.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from verify.sweeps.base import Axis, Sweep, hash_sources

SEED = 20262201
STEPS = 3000
EXPERIMENT_ETA = 0.01
LEAVE_FACTOR = 2.0
_SOURCES = ("sweeps/sgd_batch.py", "sgd.py", "asymptotics/sgd_noise.py", "outcomes.py")


def source_hash(sources=_SOURCES) -> str:
    """The cell's "code" entry: a hash of the files its result depends on beyond
    verify.sweeps.engine's list, so a change to them recomputes the cells."""
    return hash_sources(sources)


def start(setting: int, M0: float, n: int, seed: int) -> tuple[list[list[float]], float, int]:
    """(c0, eta, d) of a cell's start."""
    from verify import outcomes
    s = SEED + 7919 * seed + int(M0 * 1000) + 100003 * n + 1000003 * setting
    if setting == 0:
        z = np.random.default_rng(s).standard_normal((n, 3))
        c0 = np.array([M0, 0.0, 0.0])[None, :] + 1e-7 * z
        return c0.tolist(), EXPERIMENT_ETA, 3
    c0, _ = outcomes.far_init(n, 2, M0, s)
    return c0, outcomes.default_eta(M0), 2


def population_losses(params: list[np.ndarray]) -> list[float]:
    """F at each parameter array (float64 engine, 4 digits); nan where it cannot say."""
    from verify import engine_f64
    out = []
    for C in params:
        if not np.all(np.isfinite(C)):
            out.append(math.nan)
            continue
        F, _Fe, _G, status, *_ = engine_f64.evaluate_py(C, 4.0)
        out.append(float(F) if status == 0 else math.nan)
    return out


@functools.lru_cache(maxsize=4)
def _population_run(setting: int, M0: float, n: int, seed: int):
    """The population GD run of a start (deterministic; kept per process, so the cells of one
    start with different B -- the grid's fastest axis -- share it on a worker)."""
    from verify import dynamics
    from verify.sweeps.base import _check_interrupt
    c0, eta, _d = start(setting, M0, n, seed)
    gd = dynamics.run_gd(c0, eta, STEPS, digits=4, progress=False)
    _check_interrupt(gd)
    return gd


def sgd_batch_cell(setting: int, M0: float, n: int, seed: int, B: int, code: str = "") -> dict:
    from verify import outcomes, sgd
    from verify.asymptotics import sgd_noise
    c0, eta, d = start(setting, M0, n, seed)
    rules = outcomes.outcome_rules()
    gd = _population_run(setting, M0, n, seed)
    st = sgd.run_sgd(c0, eta, STEPS, batch=int(B), seed=SEED + seed, keep_params=True)
    cls_gd = outcomes.classify_outcome(gd, rules)
    cls_sgd = outcomes.classify_outcome(st, rules)
    F_sgd = population_losses(st.params)
    gd_loss = dict(zip(gd.steps, gd.loss))
    leave, ratios = None, []
    for tau, f in zip(st.steps, F_sgd):
        g = gd_loss.get(tau)
        if g is None or not (g > 0) or not math.isfinite(f):
            continue
        ratios.append((tau, f / g))
        if leave is None and tau >= 10 and not (1 / LEAVE_FACTOR <= f / g <= LEAVE_FACTOR):
            leave = tau
    end_ratio = ratios[-1][1] if ratios else None
    law = None
    conv = [i for i, c in enumerate(cls_sgd) if c == outcomes.CONVERGED]
    if len(conv) == 1:
        far = [r for i, r in enumerate(st.dist[-1]) if i != conv[0] and math.isfinite(r)]
        if far:
            law = sgd_noise.excess_ratio_law(min(far), eta, B, d)
    mc_rel = [e / l if l > 0 else math.inf for e, l in zip(st.loss_error, st.loss)]
    return {"setting": setting, "B": int(B), "M0": M0, "n": n, "d": d, "seed": seed,
            "start_seed": SEED + 7919 * seed + int(M0 * 1000) + 100003 * n + 1000003 * setting,
            "sgd_seed": SEED + seed, "eta": eta, "steps": STEPS,
            "classes_gd": cls_gd, "classes_sgd": cls_sgd,
            "converged_gd": cls_gd.count(outcomes.CONVERGED),
            "converged_sgd": cls_sgd.count(outcomes.CONVERGED),
            "exactly_one_gd": outcomes.exactly_one(cls_gd),
            "exactly_one_sgd": outcomes.exactly_one(cls_sgd),
            "loss_gd_end": gd.loss[-1], "loss_sgd_end": F_sgd[-1] if F_sgd else None,
            "end_ratio": end_ratio, "excess_law": law, "leave_step": leave,
            "mc_loss_rel_se_end": mc_rel[-1] if mc_rel else None,
            "ratios": [[t, r] for t, r in ratios]}


SWEEP = Sweep(
    "sgd-batch", "SGD with B fresh samples per step against population GD: outcomes, loss ratio, "
    "departure step (the experiment's start and thm3.5's far start)",
    (Axis("setting", (1,), (0, 1), 0, 1, True),
     Axis("M0", (4.0,), (4.0, 6.0), 1, 20),
     Axis("n", (3,), (3, 5), 2, 8, True),
     Axis("seed", (0,), (0, 1, 2), 0, 10_000, True),
     Axis("B", (1, 100, 10000), (1, 10, 100, 1000, 10000), 1, 10 ** 6, True)),
    sgd_batch_cell, "verify.sweeps.beyond_summaries:summarise_sgd_batch",
    fixed=(("code", source_hash()),))
