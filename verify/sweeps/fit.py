"""Laws fitted to sweep cells: linear least squares with standard errors, and onsets.

Everything here is plain float64 arithmetic on the cells' results (which are themselves float
summaries: log10 of a threshold, a frequency); the uncertainties are the usual least-squares ones
(residual variance times (X^T X)^-1), so a fit with fewer points than parameters + 1 reports no
uncertainty rather than a made-up one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LinearFit:
    """y ~ sum_j coef[j] * basis_j(x); ``stderr`` per coefficient (None when not estimable)."""

    names: list[str]
    coef: list[float]
    stderr: list[float | None]
    rms_residual: float
    points: int
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"names": self.names, "coef": self.coef, "stderr": self.stderr,
                "rms_residual": self.rms_residual, "points": self.points, **self.extra}

    def describe(self, fmt: str = ".3g") -> str:
        parts = []
        for name, c, s in zip(self.names, self.coef, self.stderr):
            parts.append(f"{c:{fmt}}" + (f" ± {s:.2g}" if s is not None else "") +
                         ("" if name == "1" else f"·{name}"))
        return " + ".join(parts).replace("+ -", "- ")


def linear_fit(columns: dict[str, list[float]], y: list[float]) -> LinearFit | None:
    """Least squares y = X coef with the named columns of X (use "1" for the intercept)."""
    names = list(columns)
    X = np.array([columns[k] for k in names], dtype=float).T
    Y = np.array(y, dtype=float)
    if X.ndim != 2 or len(Y) < len(names) or len(Y) == 0:
        return None
    coef, *_ = np.linalg.lstsq(X, Y, rcond=None)
    resid = Y - X @ coef
    dof = len(Y) - len(names)
    rms = float(math.sqrt(float((resid ** 2).mean())))
    if dof > 0:
        s2 = float((resid ** 2).sum()) / dof
        try:
            cov = s2 * np.linalg.inv(X.T @ X)
            stderr = [float(math.sqrt(max(v, 0.0))) for v in np.diag(cov)]
        except np.linalg.LinAlgError:
            stderr = [None] * len(names)
    else:
        stderr = [None] * len(names)
    return LinearFit(names, [float(c) for c in coef], stderr, rms, len(Y))


def onset(xs: list[float], freqs: list[float], level: float) -> float | None:
    """The smallest x at which the frequency reaches ``level``, interpolated linearly between the
    last grid point below and the first at or above it; None if never reached; xs[0] if already
    reached at the first point (a lower bound then, flagged by the caller)."""
    pts = sorted(zip(xs, freqs))
    for k, (x, f) in enumerate(pts):
        if f >= level:
            if k == 0:
                return x
            x0, f0 = pts[k - 1]
            return x0 + (level - f0) * (x - x0) / (f - f0)
    return None
