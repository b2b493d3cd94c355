"""Near-converged regime (issue 11, item 1; SPEC §3 thm2.1): the slow law of the spread once every
mean is close to the target, from the SymPy derivation ``proofs/near_converged.py``.

Centred coordinates c_i (SPEC §2), effective step eta on c (eta e^{-2t} for the clean
parameterisation), tau = GD step.  Around c = 0 the loss is |cbar|^2 + tr S^2 + O(|c|^6) on the flat
set (S = (1/n) sum_k ct_k ct_k^T, ct_k = c_k - cbar); the mean contracts by 1 - 2 eta/n per step,
the spread moves by ct_i <- ct_i - eta (4/n) S ct_i, so

    S(tau) = S0 (I + (8 eta/n) S0 (tau - tau0))^(-1),   F(tau) ~ sum_j lam_j(tau)^2 -> r n^2 / (64 (eta tau)^2)

(r = rank S0: any start with a spread ends on this algebraic law; a start without spread --
all means equal -- contracts exponentially and leaves no plateau).  For the symmetric pair
c_1 = a u, c_2 = -a u the derivation gives the step a <- a - eta (kappa a^3 + lam a^5 + mu a^7) with
kappa = 8/n^2, lam = -48/n^3, and the loss L(a) = f4 a^4 + f6 a^6 + f8 a^8; :class:`PairLaw` uses
the log-corrected inverse-square law

    1/a^2 = 1/a0^2 + 2 eta kappa tau + ((2 lam + 3 eta kappa^2)/(2 kappa)) ln(1 + 2 eta kappa a0^2 tau),

plateau time T = 1/(2 eta kappa a0^2) = n^2/(16 eta a0^2), and sup over tau of F sqrt(eta tau) =
(3 sqrt 3/16) a0^3/n at leading order (closed form; per eigenvalue (9/16) sqrt(n/24) lam_j^(3/2)).

Regime: the laws are expansions in the spread amplitude a.  The first omitted term changes the
pair's gradient by the relative amount (|lam|/kappa) a^2 = (6/n) a^2; a law is refused (ValueError
naming the condition) when that exceeds ``REMAINDER_TOL`` = 0.1, i.e. when a > sqrt(0.1 n/6), and
when the mean is not small compared with 1 (the expansion is about all c_i = 0).

Coefficients are evaluated from the derivation's SymPy expressions (exact rationals in n), never
typed in; the derivation itself runs in ``python -m verify derive near-converged``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

REMAINDER_TOL = 0.1     # largest relative size of the first omitted term of the expansion
MEAN_MAX = 0.1          # |cbar| above this: not near the converged set


@lru_cache(maxsize=None)
def coefficients(n: int) -> dict[str, Fraction]:
    """kappa, lam, mu (gradient of the pair) and f4, f6, f8 (loss of the pair) at this n, exact."""
    n = _check_n(n)
    from proofs.near_converged import pair_coefficients_from_loss
    import sympy as sp
    out = {}
    for k, expr in pair_coefficients_from_loss().items():
        val = sp.nsimplify(expr.subs(sp.Symbol("n", positive=True), n))
        out[k] = Fraction(int(val.p), int(val.q))
    return out


def kappa(n: int) -> float:
    """The cubic coefficient of the pair's step a <- a - eta kappa a^3 (kappa = 8/n^2, derived)."""
    return float(coefficients(n)["kappa"])


def remainder_ratio(n: int) -> float:
    """|lam|/kappa: the first omitted term relative to the cubic one is this times a^2."""
    co = coefficients(n)
    return float(abs(co["lam"]) / co["kappa"])


def max_amplitude(n: int, tol: float = REMAINDER_TOL) -> float:
    """The largest spread amplitude the near law accepts: (|lam|/kappa) a^2 <= tol."""
    return math.sqrt(tol / remainder_ratio(n))


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    return int(n)


def _check_eta(eta) -> float:
    eta = float(eta)
    if not (math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}")
    return eta


def check_small(amplitude: float, n: int, what: str = "a") -> None:
    """Refuse a near-regime law at a spread that is not small (ValueError naming the condition)."""
    amax = max_amplitude(n)
    if not (math.isfinite(amplitude) and abs(amplitude) <= amax):
        raise ValueError(
            f"{what} = {amplitude!r} is not a small spread: the near-converged law needs the "
            f"first omitted term (|lambda|/kappa) a^2 = ({remainder_ratio(n):g}) a^2 <= "
            f"{REMAINDER_TOL} (the O(a^5) remainder of the pair's step), i.e. a <= {amax:.4g} at n = {n}")


def sup_single(lam0: float, n: int, power: float = 0.5, x0: float = 0.0) -> tuple[float, float]:
    """(x*, sup) of lam0^2 x^p / (1 + b lam0 (x - x0))^2 over x = eta tau >= x0, b = 8/n, p < 2
    (closed form: p/x = 2 b lam0/(1 + b lam0 (x - x0)) at x*).  For p >= 2 the sup is the limit or
    infinite: returns (inf, value at infinity or inf)."""
    b = 8.0 / n
    if lam0 <= 0:
        return x0, 0.0
    if power >= 2:
        lim = (n * n / 64.0) if power == 2 else math.inf
        return math.inf, lim
    xs = power * (1 - b * lam0 * x0) / (b * lam0 * (2 - power))
    xs = max(xs, x0)
    return xs, lam0 ** 2 * xs ** power / (1 + b * lam0 * (xs - x0)) ** 2


@dataclass
class PairLaw:
    """The symmetric pair's slow law from amplitude a0 at step tau0 (effective step eta on c)."""

    n: int
    eta: float
    a0: float
    tau0: float = 0.0
    order: int = 2          # 1: leading law; 2: with the log correction (lam and the step's eta^2 term)

    def __post_init__(self):
        self.n = _check_n(self.n)
        self.eta = _check_eta(self.eta)
        self.a0 = abs(float(self.a0))
        check_small(self.a0, self.n, "a0")
        co = coefficients(self.n)
        self.kappa, self.lam = float(co["kappa"]), float(co["lam"])
        self.f = (float(co["f4"]), float(co["f6"]), float(co["f8"]))

    @property
    def plateau_time(self) -> float:
        """T = 1/(2 eta kappa a0^2) = n^2/(16 eta a0^2): a^2 has halved after T steps."""
        return 1.0 / (2 * self.eta * self.kappa * self.a0 ** 2)

    @property
    def late_constant(self) -> float:
        """C in F ~ C/(eta tau)^2 (leading order): n^2/64."""
        return self.f[0] / (2 * self.kappa) ** 2

    def a(self, tau) -> np.ndarray:
        dt = np.maximum(np.asarray(tau, dtype=float) - self.tau0, 0.0)
        g = 2 * self.eta * self.kappa
        inv = 1 / self.a0 ** 2 + g * dt
        if self.order >= 2:
            inv = inv + (2 * self.lam + 3 * self.eta * self.kappa ** 2) / (2 * self.kappa) * \
                np.log1p(g * self.a0 ** 2 * dt)
        return 1 / np.sqrt(inv)

    def loss(self, tau) -> np.ndarray:
        a2 = self.a(tau) ** 2
        f4, f6, f8 = self.f
        if self.order == 1:
            return f4 * a2 ** 2
        return a2 ** 2 * (f4 + a2 * (f6 + a2 * f8))

    def sup_k_closed_form(self, power: float = 0.5) -> float:
        """Leading-order sup over tau >= tau0 of F (eta tau)^power (tau0 = 0: (3 sqrt3/16) a0^3/n
        for power 1/2)."""
        return sup_single(2 * self.a0 ** 2 / self.n, self.n, power, self.eta * self.tau0)[1]


class SpreadLaw:
    """Leading-order law of a general small configuration from its state c (n x d) at step tau0.

    The mean decays by (1 - 2 eta/n) per step; while it does, it stretches the spread along its own
    direction by exp(|cbar|^2/(1 - eta/n)) (derivation step 'transient'); the spread then follows
    S(tau) = S0 (I + (8 eta/n) S0 (tau - tau0))^(-1)."""

    def __init__(self, c, eta: float, tau0: float = 0.0):
        c = np.asarray(c, dtype=float)
        if c.ndim != 2 or c.shape[0] < 2 or not np.all(np.isfinite(c)):
            raise ValueError(f"c must be an n x d array of finite numbers with n >= 2, got shape {c.shape}")
        self.n, self.d = c.shape
        self.eta, self.tau0 = _check_eta(eta), float(tau0)
        cbar = c.mean(axis=0)
        ct = c - cbar
        m2 = float(cbar @ cbar)
        if math.sqrt(m2) > MEAN_MAX:
            raise ValueError(f"|cbar| = {math.sqrt(m2):.4g} is not small: the near-converged law "
                             f"expands around all c_i = 0 and needs |cbar| <= {MEAN_MAX}")
        amp = float(np.sqrt((ct * ct).sum(axis=1)).max())
        check_small(amp, self.n, "max_i |c_i - cbar|")
        if m2 > 0:
            u = cbar / math.sqrt(m2)
            stretch = math.exp(m2 / (1 - self.eta / self.n)) - 1
            ct = ct + stretch * np.outer(ct @ u, u)
        self.cbar0, self.ct0, self.amplitude = cbar, ct, amp
        S0 = ct.T @ ct / self.n
        lam, vec = np.linalg.eigh(S0)
        # rank: only eigenvalues above the spread's own float64 error count (round-off eigenvalues
        # of a rank-deficient S0, ~1e-20, are not spread): forming ct = c - cbar costs up to
        # eps max|c_i| per entry, so S0 = ct^T ct / n is off by <= 2 eps amp max|c_i| (+ its own
        # rounding), and eigh adds <= eps d |S0|_2 (backward stable); 8x margin
        eps = np.finfo(float).eps
        cmax = float(np.sqrt((c * c).sum(axis=1)).max())
        self.lam_tol = 8 * eps * (2 * amp * cmax + self.d * max(float(lam.max()), 0.0)) + 1e-300
        keep = lam > self.lam_tol
        self.lam0, self.vec = lam[keep][::-1], vec[:, keep][:, ::-1]
        self.rank = int(keep.sum())
        self.q = 1 - 2 * self.eta / self.n

    @property
    def plateau_time(self) -> float:
        """Steps until the largest eigenvalue of S has halved: n/(8 eta lam_max) (inf: no spread)."""
        return math.inf if self.rank == 0 else self.n / (8 * self.eta * self.lam0[0])

    @property
    def late_constant(self) -> float:
        """C in F ~ C/(eta tau)^2: rank(S0) n^2/64 (0 when there is no spread: exponential decay)."""
        return self.rank * self.n ** 2 / 64.0

    def eigenvalues(self, tau) -> np.ndarray:
        dt = np.maximum(np.asarray(tau, dtype=float) - self.tau0, 0.0)[..., None]
        return self.lam0 / (1 + 8 * self.eta / self.n * self.lam0 * dt)

    def mean_norm(self, tau) -> np.ndarray:
        dt = np.maximum(np.asarray(tau, dtype=float) - self.tau0, 0.0)
        return math.sqrt(float(self.cbar0 @ self.cbar0)) * np.power(abs(self.q), dt)

    def loss(self, tau) -> np.ndarray:
        lam = self.eigenvalues(tau)
        return (lam ** 2).sum(axis=-1) + self.mean_norm(tau) ** 2

    def spread_norm(self, tau) -> np.ndarray:
        """sqrt(sum_i |ct_i|^2) = sqrt(n tr S)."""
        return np.sqrt(self.n * self.eigenvalues(tau).sum(axis=-1))

    def dist(self, tau) -> np.ndarray:
        """|c_i(tau)| for every i (rows: taus): ct_i shrunk per eigen-direction plus the mean."""
        dt = np.maximum(np.atleast_1d(np.asarray(tau, dtype=float)) - self.tau0, 0.0)
        coords = self.ct0 @ self.vec                                   # n x r
        shrink = 1 / np.sqrt(1 + 8 * self.eta / self.n * self.lam0[None, :] * dt[:, None])   # T x r
        ct = np.einsum("ir,tr,dr->tid", coords, shrink, self.vec)      # T x n x d
        mean = self.cbar0[None, None, :] * np.power(abs(self.q), dt)[:, None, None]
        return np.sqrt(((ct + mean) ** 2).sum(axis=-1))

    def decreasing_after(self, power: float = 0.5) -> float:
        """The step after which F (eta tau)^power decreases for good under the law (power < 2):
        each eigenvalue's term lam^2 x^p/(1 + b lam (x - x0))^2 and the mean's term are unimodal, so
        past the latest of their peaks (closed form, :func:`sup_single`) the sum decreases."""
        if power >= 2:
            return math.inf
        x0 = self.eta * self.tau0
        peaks = [sup_single(float(l), self.n, power, x0)[0] for l in self.lam0]
        if float(self.cbar0 @ self.cbar0) > 0 and self.q < 1:
            peaks.append(max(x0, power * self.eta / (-2 * math.log(abs(self.q)))))
        return max(peaks, default=x0) / self.eta

    def sup_k(self, power: float = 0.5, tau_from: float | None = None) -> dict:
        """sup over tau >= tau_from (default tau0) of F(tau) (eta tau)^power under the law.

        Returns {"sup", "tau_at", "bounded", "upper_bound"}: ``upper_bound`` is the closed-form sum
        over eigenvalues of each one's sup (plus the mean's), the value the verdict uses; ``sup``
        the maximum on a fine log grid (<= upper_bound, = it for rank 1 and no mean).  For power > 2
        the law makes it grow like tau^(power - 2): bounded=False with the growth law; power = 2
        tends to the late constant."""
        t0 = self.tau0 if tau_from is None else max(float(tau_from), self.tau0)
        x0 = self.eta * t0
        if self.rank == 0 and float(self.cbar0 @ self.cbar0) == 0:
            return {"sup": 0.0, "tau_at": t0, "bounded": True, "upper_bound": 0.0}
        if power > 2 and self.rank > 0:
            return {"sup": math.inf, "tau_at": math.inf, "bounded": False, "upper_bound": math.inf,
                    "growth": f"F (eta tau)^{power:g} ~ {self.late_constant:g} (eta tau)^{power - 2:g}"}
        lam_at_t0 = self.eigenvalues(t0)
        bound = sum(sup_single(float(l), self.n, power, x0)[1] for l in np.atleast_1d(lam_at_t0))
        if power == 2:
            bound = max(bound, self.late_constant)
        m0 = float(self.mean_norm(t0)) ** 2
        if m0 > 0:          # m0 q^(2 (x - x0)/eta) x^p: maximum at x = max(x0, p/(-2 ln|q|/eta))
            rate = -2 * math.log(abs(self.q)) / self.eta
            xm = max(x0, power / rate) if rate > 0 else math.inf
            bound += m0 * math.exp(-rate * (xm - x0)) * xm ** power if math.isfinite(xm) else math.inf
        top = max(t0 * 10, 1e3 * (self.plateau_time if math.isfinite(self.plateau_time) else 1.0) + t0)
        grid = np.unique(np.concatenate([[t0], np.geomspace(max(t0, 1.0), top, 4000)]))
        vals = self.loss(grid) * (self.eta * grid) ** power
        k = int(np.argmax(vals))
        return {"sup": float(vals[k]), "tau_at": float(grid[k]), "bounded": math.isfinite(bound),
                "upper_bound": float(bound)}


def validation_gap(steps, measured, predicted, errors=None, scale=None) -> dict:
    """Largest relative gap |measured/predicted - 1| over the given steps, with its uncertainty
    (from the measured values' absolute errors, when given) and where it occurred.  With
    ``scale`` (one positive value per step) the gap is |measured - predicted| / scale instead:
    measured against a size other than the prediction's own."""
    steps = np.asarray(steps, dtype=float)
    m = np.asarray(measured, dtype=float)
    p = np.asarray(predicted, dtype=float)
    den = np.abs(p) if scale is None else np.abs(np.asarray(scale, dtype=float))
    ok = np.isfinite(m) & np.isfinite(p) & (den != 0)
    if not ok.any():
        raise ValueError("no comparable points")
    rel = np.abs(m[ok] / p[ok] - 1) if scale is None else np.abs(m[ok] - p[ok]) / den[ok]
    k = int(np.argmax(rel))
    err = 0.0
    if errors is not None:
        e = np.abs(np.asarray(errors, dtype=float)[ok])
        err = float(e[k] / den[ok][k])
    return {"gap": float(rel[k]), "error": err, "at_tau": float(steps[ok][k]),
            "points": int(ok.sum()), "tau_from": float(steps[ok].min()), "tau_to": float(steps[ok].max())}
