"""Far-regime drift laws of the objectives (derived in :mod:`proofs.objectives`, steps 8-9):
one mean at distance r from the target, the other n - 1 at the target.

* gradient EM: the far mean is pulled back, E[w_1 (y - c_1)] = -(pi/2) phi(r/2) / sqrt(n-1)
  (1 + O(1/r^2)), so r <- r - eta (pi/2) phi(r/2)/sqrt(n-1) per step: it comes back, slowly,
  after about (2 sqrt(2 pi (n-1)) / (pi eta)) (4/r) e^{r^2/8} steps (integral of dr / drift);
* reverse Fisher: grad_{c_1} R = (2/n) c_1 (1 + O(e^{-r^2/8})): r <- r (1 - 2 eta / n), a
  geometric return in about n / (2 eta) steps per e-fold;
* forward Fisher (the paper): pushed away, see :mod:`verify.asymptotics.far` (far-drift);
* time-averaged: the forward law at each e^{-t} r, averaged: no law of its own here.

``drift(name, r, n)`` is d r / d(eta tau) (negative: toward the target), in float64 (log-space
for phi, so r up to ~1e150 works).
"""
from __future__ import annotations

import math

LAWS = ("gradient-em", "reverse-fisher")


def drift(name: str, r: float, n: int) -> float:
    """The leading-order drift of the far mean's distance per unit eta."""
    if n < 2:
        raise ValueError("n must be >= 2")
    if name == "gradient-em":
        log_phi = -r * r / 8 - 0.5 * math.log(2 * math.pi)
        return -(math.pi / 2) * math.exp(log_phi) / math.sqrt(n - 1)
    if name == "reverse-fisher":
        return -2.0 * r / n
    raise ValueError(f"no far-drift law for {name!r}; laws: {', '.join(LAWS)}")


def return_steps(name: str, r: float, n: int, eta: float) -> float:
    """Steps for the far mean to come back from r to about r/2 under the leading law
    (EM: int_{r/2}^{r} dr / |drift| ~ (4/r) e^{r^2/8} / ((pi/2) phi(0) / sqrt(n-1)) / eta)."""
    if name == "reverse-fisher":
        return math.log(2) * n / (2 * eta)
    if name == "gradient-em":
        c = (math.pi / 2) / math.sqrt(2 * math.pi) / math.sqrt(n - 1)
        return (4 / r) * math.exp(r * r / 8) / (c * eta)
    raise ValueError(f"no far-drift law for {name!r}; laws: {', '.join(LAWS)}")
