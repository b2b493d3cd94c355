"""Outcome rules of the far-start dynamics claims (thm3.4, thm3.5, thm3.7, figure) and the sweeps
that repeat them (SPEC §3, §4 "convergence and divergence are classified by explicit, reported
rules"): the per-mean classification from a GD trajectory's recorded distances, "exactly one
converges", thm3.5's random far start, its step-size rule, and batched GD from several starts.

One place for these rules, below the claims (issue 21: no claim imports another claim); the class
names are :mod:`verify.dynamics`'s.
"""
from __future__ import annotations

import numpy as np

from verify import dynamics
from verify.dynamics import CONVERGED, DIVERGING, UNDECIDED


def outcome_rules(converge_tol: float = 0.05, window: int = 4) -> dict:
    """The explicit classification rule (recorded in every record's inputs)."""
    return {"converge_tol": converge_tol, "window": window,
            "rule": "converged: r <= converge_tol at each of the last window+1 records; "
                    "diverging: r strictly increasing over the last window+1 records and "
                    "r_end > r(0); otherwise undecided"}


def classify_outcome(traj, rules: dict) -> list[str]:
    """Per-mean class from the distances recorded in ``traj`` (rows: records, columns: means):
    converged -- r_i <= converge_tol at each of the last ``window`` + 1 records;
    diverging -- r_i not finite at the end, or strictly increasing over the last ``window`` + 1
                 records and ending above r_i(0);
    undecided -- otherwise.
    This is :func:`verify.dynamics.classify` in its "outcome" mode (:func:`gd_rules`), so a run
    can also be stopped by it (``stop_when_classified``)."""
    return dynamics.classify(traj.dist, gd_rules(rules), 0.0)


def gd_rules(rules: dict) -> dynamics.Rules:
    """The outcome rule ``rules`` (:func:`outcome_rules`) as GD stop-and-classify rules."""
    return dynamics.Rules(converge_tol=rules["converge_tol"], window=rules["window"],
                          mode="outcome")


def exactly_one(classes: list[str]) -> bool | None:
    """True/False when every mean is classified, None when some is undecided."""
    if UNDECIDED in classes:
        return None
    return classes.count(CONVERGED) == 1 and classes.count(DIVERGING) == len(classes) - 1


def far_parts(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """thm3.5's random start as (u, z): c_i(0) = M0 u + z_i, u a random unit vector, z_i ~ N(0, I_d)
    (kept apart: at M0 beyond ~1e13 float64 cannot hold M0 u + z_i to the offsets' precision)."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    return u, rng.standard_normal((n, d))


def far_init(n: int, d: int, M0: float, seed: int) -> tuple[list[list[float]], list[float]]:
    """thm3.5's start in centred coordinates c_i(0) = m_i(0) - m*: m* = 0, m = M0 u (u a random
    unit vector), m_i ~ N(m, I_d).  Returns (c0, m)."""
    u, z = far_parts(n, d, seed)
    c = M0 * u[None, :] + z
    return c.tolist(), (M0 * u).tolist()


def default_eta(M0: float) -> float:
    """Step size: 0.01 (the paper's) capped by 0.36 / M0^2 (the Hessian grows like M0^2)."""
    return min(0.01, 0.36 / M0 ** 2)


def run_many(c0s, eta, steps, digits=4):
    """GD from several starts with one step size: the compiled batch engine when present."""
    batch = getattr(dynamics, "run_gd_batch", None)
    if batch is not None and len(c0s) > 1:
        return batch(c0s, eta, steps, digits=digits, progress=False)
    return [dynamics.run_gd(c, eta, steps, digits=digits, progress=False) for c in c0s]


__all__ = ["CONVERGED", "DIVERGING", "UNDECIDED", "outcome_rules", "classify_outcome", "gd_rules",
           "exactly_one", "far_parts", "far_init", "default_eta", "run_many"]
