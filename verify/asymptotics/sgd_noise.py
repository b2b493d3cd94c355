"""Stochastic-gradient noise (issue 22 item 1; SPEC §7): the second moment of the per-sample
gradient, computed with an error bound, and the laws derived from it in proofs/sgd_noise.py.

Per-sample gradient of mean i (SPEC §2 direct form): g_i(y) = 2 [w_i v + w_i (y - c_i) <c_i - v, v>].
For a collinear configuration c_i = a_i u (the configurations of the laws: converged means at 0, far
means on a line) w and v depend on y only through y_1 = <y, u>, and with h_i = w_i (a_i - v) v

    g_i along u = 2 [w_i v + (y_1 - a_i) h_i],     g_i across u = 2 h_i y_perp,

so E[g_i], E[g_i,par^2] and E[g_i,perp^2] (per perpendicular dimension, E[y_perp^2] = 1) are 1-D
Gaussian integrals.  They are computed with mpmath ``quad`` in a private context (nothing touches
the global ``mpmath.mp``), with breakpoints at every softmax tie point (a_i + a_j)/2 and +-8/|a_i-a_j|
around it; the error reported is the larger of quad's own estimate and the difference to a second
evaluation at 10 more digits, so it bounds the error of the returned value (the Gaussian tails
beyond the breakpoints are inside the infinite end intervals, not truncated).

Laws (proofs/sgd_noise.py, leading order, corrections O(1/r^2)):
  rho(r, B)     batch noise-to-drift ratio of a far mean at r with k converged means at 0;
  rho_efold     the same accumulated over one e-fold of the drift, r^2 sqrt(3 eta / (128 B));
  jitter        stationary covariance of the converged mean, tr P = eta tr Q_1 / (4 B (1 - eta))
                (tr Q_1 from the quadrature here, or its leading form);
  excess ratio  (3/512) eta (r^4 + 4 (d-1) r^2) / (B (1 - eta)), the jitter's loss over the loss.
At the target itself Q = 0 (every per-sample gradient vanishes), so there is no loss floor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath

RHO_K = 2 ** 0.25 * math.sqrt(3) / (2 * math.pi ** 0.25)   # proofs.sgd_noise.rho_constant()


@dataclass
class Moments:
    """Per mean i (floats): E[g_i] along u, E[g_i,par^2], E[g_i,perp^2] per perpendicular
    dimension, each with an error bound; ``d`` the dimension they were combined for."""

    a: list[float]
    d: int
    mean: list[float]
    mean_err: list[float]
    second_par: list[float]
    second_par_err: list[float]
    second_perp: list[float]
    second_perp_err: list[float]

    def trace_cov(self, i: int) -> tuple[float, float]:
        """tr Q_i = Var(g_i,par) + (d - 1) E[g_i,perp^2], with its error bound."""
        val = self.second_par[i] - self.mean[i] ** 2 + (self.d - 1) * self.second_perp[i]
        err = (self.second_par_err[i] + 2 * abs(self.mean[i]) * self.mean_err[i]
               + (self.d - 1) * self.second_perp_err[i])
        return val, err

    def trace_second(self, i: int) -> tuple[float, float]:
        val = self.second_par[i] + (self.d - 1) * self.second_perp[i]
        return val, self.second_par_err[i] + (self.d - 1) * self.second_perp_err[i]


def _integrals(a: list[float], dps: int):
    ctx = mpmath.mp.clone()
    ctx.dps = dps
    A = [ctx.mpf(x) for x in a]
    n = len(A)
    pts = set()
    for i in range(n):
        for j in range(i + 1, n):
            if A[i] != A[j]:
                mid = (A[i] + A[j]) / 2
                wid = 8 / abs(A[i] - A[j])
                pts.update([mid - wid, mid, mid + wid])
    brk = [-ctx.inf] + sorted(pts) + [ctx.inf]
    if len(brk) == 2:
        brk = [-ctx.inf, 0, ctx.inf]

    def parts(t):
        logits = [Ai * t - Ai ** 2 / 2 for Ai in A]
        top = max(logits)
        e = [ctx.exp(z - top) for z in logits]
        Z = sum(e)
        w = [x / Z for x in e]
        v = sum(wi * Ai for wi, Ai in zip(w, A))
        h = [wi * (Ai - v) * v for wi, Ai in zip(w, A)]
        par = [2 * (wi * v + (t - Ai) * hi) for wi, Ai, hi in zip(w, A, h)]
        perp = [2 * hi for hi in h]
        return par, perp

    def dens(t):
        return ctx.exp(-t * t / 2) / ctx.sqrt(2 * ctx.pi)

    out = {"mean": [], "par": [], "perp": []}
    errs = {"mean": [], "par": [], "perp": []}
    for i in range(n):
        for key, f in (("mean", lambda t: parts(t)[0][i] * dens(t)),
                       ("par", lambda t: parts(t)[0][i] ** 2 * dens(t)),
                       ("perp", lambda t: parts(t)[1][i] ** 2 * dens(t))):
            val, err = ctx.quad(f, brk, error=True)
            out[key].append(val)
            errs[key].append(err)
    return out, errs


def collinear_moments(a, d: int, digits: int = 15) -> Moments:
    """Moments of the per-sample gradient at c_i = a_i u (floats a, dimension d >= 1), each to
    about ``digits`` digits with an error bound (two working precisions and quad's estimate)."""
    a = [float(x) for x in a]
    if len(a) < 1 or d < 1:
        raise ValueError("collinear_moments needs at least one mean and d >= 1")
    lo, elo = _integrals(a, digits + 5)
    hi, _ = _integrals(a, digits + 15)

    def pick(key):
        vals = [float(x) for x in hi[key]]
        err = [float(max(abs(x - y), e)) + 1e-300 for x, y, e in zip(hi[key], lo[key], elo[key])]
        return vals, err
    m, me = pick("mean")
    p, pe = pick("par")
    q, qe = pick("perp")
    return Moments(a, d, m, me, p, pe, q, qe)


# ---- laws ------------------------------------------------------------------------------------

def rho_law(r: float, B: float, d: int, k: int = 1) -> float:
    """Leading-order batch noise-to-drift ratio of a far mean at r (k converged means at 0)."""
    return (RHO_K * k ** 0.25 * math.sqrt(r) * math.exp(r * r / 16)
            * math.sqrt(1 + 4 * (d - 1) / r ** 2) / math.sqrt(B))


def rho_quadrature(r: float, B: float, d: int, k: int = 1, digits: int = 15) -> tuple[float, float]:
    """The same ratio, sqrt(tr Q_far / B) / |E g_far|, from the quadrature (value, error bound)."""
    mo = collinear_moments([0.0] * k + [r], d, digits)
    tq, tqe = mo.trace_cov(k)
    g, ge = abs(mo.mean[k]), mo.mean_err[k]
    val = math.sqrt(tq / B) / g
    err = val * (0.5 * tqe / tq + ge / g)
    return val, err


def rho_efold_law(r: float, eta: float, B: float) -> float:
    """Accumulated noise over accumulated drift while the drift moves r by 4/r."""
    return r * r * math.sqrt(3 * eta / (128 * B))


def jitter_trace(eta: float, B: float, trace_q: float) -> float:
    """tr P, P the stationary covariance of the converged mean (Lyapunov, H = 2 I)."""
    return eta * trace_q / (4 * B * (1 - eta))


def excess_ratio_law(r: float, eta: float, B: float, d: int) -> float:
    """The jitter's excess loss over the population loss, leading order."""
    return 3 / 512 * eta * (r ** 4 + 4 * (d - 1) * r ** 2) / (B * (1 - eta))


def jitter_experiment(r: float, d: int, eta: float, B: int, steps: int, seed: int,
                      burn: int = 2000, blocks: int = 20) -> dict:
    """The Lyapunov law against a run: the converged mean at 0 under SGD with batch B while one far
    mean is held at r u (the law's configuration; the far mean's own drift is much slower).
    Returns the measured tr Cov(c_1) over ``steps`` steps after ``burn`` (with its batch-means
    standard error over ``blocks`` blocks), the law eta tr Q_1 / (4 B (1 - eta)) with tr Q_1 from
    the quadrature, and their relative gap."""
    import numpy as np

    from verify import sgd
    C = np.zeros((2, d))
    C[1, 0] = r
    rng = np.random.default_rng(seed)
    xs = np.empty((steps, d))
    for tau in range(burn + steps):
        G, _, _ = sgd.sample_gradient(C, rng.standard_normal((B, d)))
        C[0] -= eta * G[0]
        if tau >= burn:
            xs[tau - burn] = C[0]
    measured = float(xs.var(axis=0).sum())
    per = [float(xs[k * steps // blocks:(k + 1) * steps // blocks].var(axis=0).sum())
           for k in range(blocks)]
    se = float(np.std(per, ddof=1) / math.sqrt(blocks))
    tq, tqe = collinear_moments([0.0, r], d, digits=10).trace_cov(0)
    law = jitter_trace(eta, B, tq)
    return {"r": r, "d": d, "eta": eta, "B": B, "steps": steps, "seed": seed,
            "measured": measured, "measured_se": se, "law": law,
            "law_rel_error": tqe / tq, "gap": measured / law - 1}
