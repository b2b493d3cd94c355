"""Far regime (issue 11, item 2; SPEC §3 thm3.4, thm3.5, thm3.7): the slow drift of a far cluster
once the near mean has converged.

Configuration (t = 0, centred coordinates, everything on one line u): a near mean c_1 = delta u and a
cluster of m equal far means c_2 = ... = c_{m+1} = r u.  Equal means stay equal under GD and the
configuration stays collinear, so every expectation is a 1-D Gaussian integral over y = <y, u>.
With W = sigmoid(z), z = (r - delta) y - (r^2 - delta^2)/2 + ln m (the cluster's total weight),

    v = delta (1 - W) + r W,    F(delta, r) = E[v^2]   (the loss).

The near mean is a fast variable: its gradient is ~2 (delta - delta*(r)), so it relaxes in ~1/(2 eta)
steps to the quasi-static offset delta*(r) where dF/d delta = 0 (the cluster's pull; delta* ~
e^{-r^2/8}).  On that slow manifold each far mean moves radially by

    dr/dtau = eta g(r),   g(r) = -(1/m) dF/dr (delta*(r), r) = -(1/m) d/dr Ft(r),  Ft(r) = F(delta*(r), r)

(envelope theorem: the delta-derivative vanishes there), i.e. gradient flow of the reduced loss
Ft.  Derived asymptotics (proofs/far_drift.py; checked against the numbers here and in the tests):

    Ft(r) = sqrt(pi m / 8) r e^{-r^2/8} (1 + O(1/r^2)),   g(r) = sqrt(pi / (8 m)) (r^2/4) e^{-r^2/8} (1 + O(1/r^2)),
    along the law: loss ~ 16 m / (eta r^2 tau) ~ 2 m / (eta tau ln tau),  s = dln loss/dln tau = -1 - 8/r^2 + ...
    = -1 - p/ln tau with p = 1.

Two evaluations of the 1-D integrals: float64 composite Gauss-Legendre on panels placed around the
softmax tie point (fast, used for the trajectories; its error estimate is the difference to the
panel-halved rule), and mpmath ``quad`` in a private context with breakpoints at the tie point
(:func:`drift_mp`, the reference the float64 path is checked against).  Nothing touches the global
``mpmath.mp``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath
import numpy as np
from verify.jitcache import njit

from verify.asymptotics.ode import dopri45, hermite
from verify.precision import context

# The reduced law is an asymptotic statement about separated components: below this distance of
# the cluster from the target the near mean's offset is not small and the law is refused.
R_MIN = 3.0

# the law's integration tolerance, and the looser one whose difference is its error estimate
RTOL, RTOL_CHECK = 1e-12, 1e-9

_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)
_GL10_X, _GL10_W = np.polynomial.legendre.leggauss(10)


def _check_regime(r, m, delta=0.0) -> tuple[float, int]:
    r = float(r)
    if not (isinstance(m, (int, np.integer)) and m >= 1):
        raise ValueError(f"m (the number of equal far means) must be an integer >= 1, got {m!r}")
    if not math.isfinite(r) or r < R_MIN:
        raise ValueError(f"r = {r!r}: the far-regime drift needs the cluster separated from the "
                         f"target, r >= {R_MIN} (condition: the near mean converged and the far "
                         "cluster's softmax tie point r/2 far out in the Gaussian tail)")
    if abs(delta) > 0.5:
        raise ValueError(f"delta = {delta!r}: the near mean is not converged (|delta| <= 0.5 needed)")
    return r, int(m)


def tie_point(r: float, delta: float, m: int) -> float:
    """y where the cluster's and the near mean's logits are equal (z = 0)."""
    return (r + delta) / 2 - math.log(m) / (r - delta)


def _nodes(r: float, delta: float, m: int, refine: int = 1):
    """Gauss-Legendre nodes/weights on y in [-14, r + 14]: panels of width ~2/(r - delta) in the
    softmax variable x = (r - delta)(y - y_tie) over x in [-64, 80], and width 0.5 in the bulk."""
    s = r - delta
    yt = tie_point(r, delta, m)
    tie = yt + np.arange(-64.0, 80.0 + 1e-9, 2.0 / refine) / s
    lo, hi = -14.0, max(r + 14.0, tie[-1] + 1.0)
    left = np.arange(lo, tie[0], 0.5 / refine)
    right = np.arange(tie[-1], hi, 0.5 / refine)[1:]
    # already strictly increasing (left < tie[0], tie increasing, right > tie[-1], hi > right):
    # the concatenation is what np.unique would return, without its sort
    edges = np.concatenate([left[left < tie[0]], tie, right, [hi]])
    a, b = edges[:-1, None], edges[1:, None]
    y = ((b - a) / 2 * _GL_X[None, :] + (a + b) / 2).ravel()
    w = ((b - a) / 2 * _GL_W[None, :]).ravel()
    return y, w * np.exp(-y * y / 2) / math.sqrt(2 * math.pi)


def logistic_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sigmoid(z), sigmoid(-z)) in float64 with full relative precision for every z (no
    cancellation, no overflow): both from e = exp(-|z|) <= 1."""
    z = np.asarray(z, float)
    e = np.exp(-np.abs(z))
    big, small = 1 / (1 + e), e / (1 + e)
    pos = z >= 0
    return np.where(pos, big, small), np.where(pos, small, big)


def _integrals(r: float, delta: float, m: int, refine: int = 1) -> np.ndarray:
    """[F, dF/dr, dF/ddelta] at (delta, r) in float64 (dF/dr moves the whole cluster)."""
    y, w = _nodes(r, delta, m, refine)
    z = (r - delta) * y - (r * r - delta * delta) / 2 + math.log(m)
    W, V = logistic_pair(z)                # W and 1 - W without cancellation
    v = delta * V + r * W
    WV = W * V
    dv_dr = W + (r - delta) * WV * (y - r)
    dv_dd = V - (r - delta) * WV * (y - delta)
    return np.array([w @ (v * v), 2 * (w @ (v * dv_dr)), 2 * (w @ (v * dv_dd))])


def _dF_ddelta(r: float, delta: float, m: int) -> float:
    """``_integrals(r, delta, m)[2]`` alone (the same arithmetic, the other two terms skipped)."""
    y, w = _nodes(r, delta, m, 1)
    z = (r - delta) * y - (r * r - delta * delta) / 2 + math.log(m)
    W, V = logistic_pair(z)
    v = delta * V + r * W
    WV = W * V
    dv_dd = V - (r - delta) * WV * (y - delta)
    return 2 * (w @ (v * dv_dd))


def near_offset(r: float, m: int = 1) -> float:
    """delta*(r): the near mean's quasi-static position (dF/ddelta = 0), by the secant method."""
    r, m = _check_regime(r, m)
    d0, f0 = 0.0, _dF_ddelta(r, 0.0, m)
    d1 = -f0 / 2
    for _ in range(30):
        f1 = _dF_ddelta(r, d1, m)
        if f1 == f0:
            break
        d0, d1, f0 = d1, d1 - f1 * (d1 - d0) / (f1 - f0), f1
        if abs(d1 - d0) <= 1e-15 * max(abs(d1), 1e-300):
            break
    return d1


@dataclass
class Drift:
    """g(r) and the reduced loss Ft(r) on the slow manifold, float64, with error estimates."""

    r: float
    m: int
    delta: float          # the near mean's quasi-static offset delta*(r)
    g: float              # dr/dtau = eta g
    g_error: float
    loss: float           # Ft(r) = F(delta*(r), r)
    loss_error: float
    g_frozen: float       # g with the near mean held at exactly 0 (the cruder reduction)
    loss_frozen: float


def drift(r: float, m: int = 1) -> Drift:
    """The reduced law at distance r (slaved near mean), and the same with the near mean frozen at
    0; errors are the difference to the rule with halved panels."""
    r, m = _check_regime(r, m)
    d, (g, g_error, loss, loss_error) = _slaved(r, m)
    z = _integrals(r, 0.0, m)
    return Drift(r=r, m=m, delta=d, g=g, g_error=g_error, loss=loss, loss_error=loss_error,
                 g_frozen=-z[1] / m, loss_frozen=z[0])


def _slaved(r: float, m: int) -> tuple[float, tuple[float, float, float, float]]:
    """The near mean's offset delta*(r) and (g, g_error, Ft, Ft_error) on the slow manifold:
    the finer rule's values, errors = the difference to the coarser rule plus rounding."""
    d = near_offset(r, m)
    a = _integrals(r, d, m)
    b = _integrals(r, d, m, refine=2)
    tiny = 4 * np.finfo(float).eps
    return d, (-b[1] / m, abs(a[1] - b[1]) / m + tiny * abs(b[1]) / m, b[0],
               abs(a[0] - b[0]) + tiny * b[0])


# ---- asymptotic form (derived in proofs/far_drift.py) -----------------------------------------

def loss_asymptotic(r: float, m: int = 1) -> float:
    """Leading term: Ft(r) ~ sqrt(pi m / 8) r e^{-r^2/8}."""
    return math.sqrt(math.pi * m / 8) * r * math.exp(-r * r / 8)


def g_asymptotic(r: float, m: int = 1, order: int = 0) -> float:
    """Leading term of g: sqrt(pi/(8m)) (r^2/4) e^{-r^2/8}; ``order=1`` adds the derived 1/r^2
    correction factor (1 + b1(m)/r^2), b1 from :func:`correction_b1`."""
    lead = math.sqrt(math.pi / (8 * m)) * r * r / 4 * math.exp(-r * r / 8)
    if order == 0:
        return lead
    return lead * (1 + correction_b1(m) / (r * r))


# ---- mpmath reference ------------------------------------------------------------------------

def drift_mp(r, m: int = 1, delta=0, digits: int = 20) -> tuple[mpmath.mpf, mpmath.mpf]:
    """-(1/m) dF/dr at (delta, r) to ``digits`` significant digits, with an error estimate: mpmath
    ``quad`` (tanh-sinh) in a private context with breakpoints at the tie point, cross-checked by
    Gauss-Legendre; the estimate is the larger of quad's own and the two rules' difference.
    ``delta`` is exact (a near mean held there)."""
    _check_regime(float(r), m, float(delta))
    # quad's convergence floor is absolute (~10^-dps): add the digits of the value's own size,
    # ~e^{-r^2/8} (the integrand lives near the tie point r/2); a context shared per precision
    # keeps quad's nodes
    ctx = context(digits + 15 + int(float(r) ** 2 / (8 * math.log(10))))
    r, d = ctx.mpf(r), ctx.mpf(delta)
    s = r - d
    yt = (r + d) / 2 - ctx.log(m) / s
    pts = [-ctx.inf] + [yt + k / s for k in (-40, -8, -2, 0, 2, 8, 40)] + [ctx.inf]
    if 0 < pts[1]:
        pts.insert(1, ctx.mpf(0))
    lm = ctx.log(m)
    c = 1 / ctx.sqrt(2 * ctx.pi)

    def f(y):
        z = s * y - (r * r - d * d) / 2 + lm
        W = 1 / (1 + ctx.exp(-z))
        V = 1 / (1 + ctx.exp(z))
        v = d * V + r * W
        return 2 * v * (W + s * W * V * (y - r)) * c * ctx.exp(-y * y / 2)

    a, ea = ctx.quad(f, pts, error=True, method="tanh-sinh")
    b = ctx.quad(f, pts, method="gauss-legendre")
    val = -a / m
    err = max(abs(ea), abs(a - b)) / m
    if err > abs(val) * ctx.mpf(10) ** (-digits):
        raise ArithmeticError(f"drift_mp: error {ctx.nstr(err, 3)} misses {digits} digits of "
                              f"{ctx.nstr(val, 5)} at r = {ctx.nstr(r, 8)}")
    return mpmath.mpf(val), mpmath.mpf(err)


# ---- the reduced trajectory ------------------------------------------------------------------

@dataclass
class LawTrajectory:
    """The reduced law integrated from r(0) = r0: arrays aligned on ``tau`` (from :func:`integrate`,
    the inverted time integral, or :func:`integrate_ode`, the Dormand-Prince reference)."""

    r0: float
    eta: float
    m: int
    tau: np.ndarray
    r: np.ndarray
    loss: np.ndarray
    slope: np.ndarray            # s = d ln loss / d ln (tau + tau_offset), exact along the law
    r_error: float               # the two tables' largest r difference on the grid (integrate_ode: two tolerances')
    settings: dict = field(default_factory=dict)
    tau_offset: float = 0.0      # GD step of the law's tau = 0 (slopes are in GD steps)
    drdu: np.ndarray | None = None   # dr/du on the grid, u = ln(1 + tau) (the ODE's right side)

    @property
    def steps(self) -> np.ndarray:
        """The grid in GD steps, tau + tau_offset."""
        return self.tau + self.tau_offset

    def _slopes(self) -> np.ndarray:
        if self.drdu is None:
            self.drdu = np.array([(1 + t) * self.eta * drift_fast(x, self.m)
                                  for t, x in zip(self.tau, self.r)])
        return self.drdu

    def r_at(self, tau) -> np.ndarray:
        """r at law times tau (from r0): cubic Hermite interpolation in u = ln(1 + tau) through the
        grid's values and the law's own slopes dr/du (fourth order)."""
        return hermite(np.log1p(np.asarray(tau, float)), np.log1p(self.tau), self.r, self._slopes())

    def r_at_error(self, tau) -> np.ndarray:
        """Interpolation error estimate of :meth:`r_at`: its difference to the interpolant through
        every other grid point (and the last; an overestimate by ~16x for a fourth-order rule)."""
        u = np.log1p(np.asarray(tau, float))
        idx = np.unique(np.r_[np.arange(0, len(self.tau), 2), len(self.tau) - 1])
        half = hermite(u, np.log1p(self.tau[idx]), self.r[idx], self._slopes()[idx])
        return np.abs(self.r_at(tau) - half)


def _solve(r0: float, eta: float, m: int, tau_max: float, rtol: float, grid: np.ndarray):
    """r and dr/du on the grid of u = ln(1 + tau): dr/du = (1 + tau) eta g(r) = e^u eta g(r)."""
    def rhs(u, r):
        return math.exp(u) * eta * drift_fast(r, m)

    r, drdu, _steps = dopri45(rhs, r0, grid, rtol=rtol, atol=1e-14)
    return r, drdu


def drift_fast(r: float, m: int) -> float:
    """g(r) on the slow manifold (float64, the finer rule only)."""
    d = near_offset(r, m)
    return -_integrals(r, d, m)[1] / m


def _check_law_input(r0, eta, m, tau_max) -> None:
    _check_regime(r0, m)
    if not eta > 0:
        raise ValueError(f"eta must be > 0, got {eta!r}")
    if not tau_max >= 10:
        raise ValueError(f"tau_max must be >= 10, got {tau_max!r}")


def _tau_grid(tau_max: float, points_per_decade: int) -> np.ndarray:
    taus = np.unique(np.concatenate([[0.0], np.logspace(0, math.log10(tau_max),
                                                          int(points_per_decade * math.log10(tau_max)) + 1)]))
    taus[-1] = tau_max
    return taus


def integrate_ode(r0: float, eta: float, m: int = 1, tau_max: float = 1e12,
                  points_per_decade: int = 20, tau_offset: float = 0.0) -> LawTrajectory:
    """The reference integration of dr/dtau = eta g(r) (the law's first implementation, kept to
    check :func:`integrate` against): error-controlled Dormand-Prince 5(4) in u = ln(1 + tau), every
    stage a fresh quadrature of g; the error is the difference to a 1000x looser run.  Thousands
    of drift evaluations per trajectory."""
    _check_law_input(r0, eta, m, tau_max)
    taus = _tau_grid(tau_max, points_per_decade)
    grid = np.log1p(taus)
    r_lo, _ = _solve(r0, eta, m, tau_max, RTOL_CHECK, grid)
    r_hi, drdu = _solve(r0, eta, m, tau_max, RTOL, grid)
    dr = [drift(x, m) for x in r_hi]
    loss = np.array([x.loss for x in dr])
    g = np.array([x.g for x in dr])
    # s = T Ft'(r) eta g / Ft = -m eta T g^2 / Ft, T = tau + tau_offset (GD steps)
    slope = -m * eta * (taus + tau_offset) * g * g / loss
    return LawTrajectory(r0=r0, eta=eta, m=m, tau=taus, r=r_hi, loss=loss, slope=slope,
                         r_error=float(np.max(np.abs(r_hi - r_lo))),
                         settings={"method": "Dormand-Prince 5(4) in u = ln(1+tau)", "rtol": RTOL,
                                   "error_from": f"rtol {RTOL_CHECK:g} run",
                                   "points_per_decade": points_per_decade},
                         tau_offset=float(tau_offset), drdu=drdu)


# ---- the law by its time integral (one table per m) ------------------------------------------
#
# The law is autonomous in r and time enters linearly: dr/dtau = eta g(r) with g > 0 on r >= R_MIN
# (checked at every node), so tau(r) = (1/eta) int_{r0}^{r} dr'/g(r') and r(tau) is the inverse
# of a strictly increasing function.  One table of 1/g per m serves every r0 and eta: panels of
# width TABLE_PANEL from R_MIN outward (added until the table covers the time asked), and on each
# panel the polynomial interpolant of phi = ln(1/g) through Gauss-Legendre nodes (phi is smooth and
# nearly quadratic, ~ r^2/8 - 2 ln r, so the interpolant converges fast where 1/g itself, growing
# like e^{r^2/8}, would not).  Integrals of e^phi over (parts of) panels are 32-point
# Gauss-Legendre sums of the interpolant, no further drift evaluations.  Two tables with
# independent node sets (TABLE_NODES = (12, 8) nodes per panel) are built; the law's r comes from
# the first, its error estimate is the difference to the second (an overestimate: the second is
# the cruder).  The loss Ft and g on the law's grid are the interpolants of ln Ft and ln g; their
# errors add the two tables' difference to the nodes' own quadrature errors (panel halving).

TABLE_PANEL = 0.5
TABLE_NODES = (12, 8)
_GL32_X, _GL32_W = np.polynomial.legendre.leggauss(32)


class _InterpTable:
    """phi = ln(1/g) and ln Ft interpolated on panels [R_MIN + k TABLE_PANEL, ...] through ``p``
    Gauss-Legendre nodes each, for one m; cumulative integrals of 1/g at the panel edges."""

    def __init__(self, m: int, p: int):
        self.m, self.p = m, p
        self.x, _w = np.polynomial.legendre.leggauss(p)
        self.phi = np.empty((0, p))        # Legendre coefficients of phi per panel (x in [-1, 1])
        self.lnF = np.empty((0, p))
        self.g_rel_err = np.empty(0)       # largest relative quadrature error of g at the nodes
        self.F_rel_err = np.empty(0)
        self.H = np.zeros(1)               # int_{R_MIN}^{edge_k} dr/g
        self.evaluations = 0

    @property
    def top(self) -> float:
        return R_MIN + TABLE_PANEL * len(self.phi)

    def add_panel(self) -> None:
        a = self.top
        b = a + TABLE_PANEL
        rs = (b - a) / 2 * self.x + (a + b) / 2
        vals = np.array([node_values(float(r), self.m) for r in rs])   # g, g_err, F, F_err
        self.evaluations += len(rs)
        g, ge, F, Fe = vals.T
        if not np.all(g > ge):
            k = int(np.argmin(g - ge))
            raise ArithmeticError(f"the far drift g({rs[k]:.6g}) = {g[k]:.3g} is not above its "
                                  f"error {ge[k]:.2g} (m = {self.m}): the law's time integral "
                                  "needs g > 0")
        V = np.polynomial.legendre.legvander(self.x, self.p - 1)
        self.phi = np.vstack([self.phi, np.linalg.solve(V, -np.log(g))])
        self.lnF = np.vstack([self.lnF, np.linalg.solve(V, np.log(F))])
        self.g_rel_err = np.append(self.g_rel_err, float(np.max(ge / g)))
        self.F_rel_err = np.append(self.F_rel_err, float(np.max(Fe / F)))
        self.H = np.append(self.H, self.H[-1] + self.partial(np.array([len(self.phi) - 1]),
                                                             np.array([a]), np.array([b]))[0])

    def panel(self, r: np.ndarray) -> np.ndarray:
        return np.clip(np.floor((np.asarray(r, float) - R_MIN) / TABLE_PANEL).astype(int), 0,
                       len(self.phi) - 1)

    def _eval(self, coef: np.ndarray, j: np.ndarray, r: np.ndarray) -> np.ndarray:
        """The panel-j interpolants (coef rows j) at r (same leading shape as j)."""
        a = R_MIN + TABLE_PANEL * j
        x = (r - a) * (2 / TABLE_PANEL) - 1
        V = np.polynomial.legendre.legvander(x, self.p - 1)
        return np.einsum("...k,...k->...", V, coef[j])

    def phi_at(self, r) -> np.ndarray:
        r = np.asarray(r, float)
        return self._eval(self.phi, self.panel(r), r)

    def lnF_at(self, r) -> np.ndarray:
        r = np.asarray(r, float)
        return self._eval(self.lnF, self.panel(r), r)

    def partial(self, j: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """int_lo^hi e^phi dr inside panel j (elementwise), 32-point Gauss-Legendre."""
        half = (hi - lo) / 2
        nodes = half[:, None] * _GL32_X[None, :] + ((hi + lo) / 2)[:, None]
        jj = np.broadcast_to(j[:, None], nodes.shape)
        return half * (np.exp(self._eval(self.phi, jj, nodes)) @ _GL32_W)

    def ensure(self, r0: float, T: float) -> None:
        """Panels up to where int_{r0} dr/g exceeds T (and r0 inside the table)."""
        while self.top <= r0 + TABLE_PANEL:
            self.add_panel()
        while self.time_to(r0, np.array([self.top]))[0] <= T:
            self.add_panel()

    def time_to(self, r0: float, r: np.ndarray) -> np.ndarray:
        """int_{r0}^{r} dr'/g (r >= r0, inside the table), as sums of positive parts (no
        cancellation between large cumulative values)."""
        r = np.asarray(r, float)
        j0 = int(self.panel(np.array([r0]))[0])
        j = self.panel(r)
        j = np.where(r >= self.top, len(self.phi) - 1, j)
        b0 = R_MIN + TABLE_PANEL * (j0 + 1)
        same = j == j0
        lo = np.where(same, r0, R_MIN + TABLE_PANEL * j)
        out = self.partial(j, lo, r)
        head = self.partial(np.array([j0]), np.array([r0]), np.array([b0]))[0]
        mid = self.H[np.maximum(j, j0 + 1)] - self.H[j0 + 1]
        return np.where(same, out, out + head + mid)

    def invert(self, r0: float, T: np.ndarray) -> np.ndarray:
        """r with int_{r0}^{r} dr'/g = T (T >= 0, elementwise): the panel from the cumulative
        times at the edges, then Newton from the panel's upper end (the time is convex in r, so
        the iterates decrease monotonically to the root)."""
        T = np.asarray(T, float)
        j0 = int(self.panel(np.array([r0]))[0])
        edges = R_MIN + TABLE_PANEL * np.arange(j0 + 1, len(self.phi) + 1)
        t_edges = self.time_to(r0, edges)
        k = np.searchsorted(t_edges, T, side="left")          # T <= t_edges[k]
        if np.any(k >= len(edges)):
            raise ArithmeticError("the law's table does not reach the time asked")
        j = j0 + k
        lo = np.where(k == 0, r0, R_MIN + TABLE_PANEL * j)
        base = np.where(k == 0, 0.0, t_edges[np.maximum(k - 1, 0)])
        r = np.minimum(edges[k], R_MIN + TABLE_PANEL * (j + 1))
        for _ in range(60):
            f = base + self.partial(j, lo, r) - T
            step = f * np.exp(-self._eval(self.phi, j, r))
            r_new = np.maximum(r - step, lo)
            done = np.abs(r_new - r) <= 4e-16 * r
            r = r_new
            if np.all(done):
                break
        else:
            raise ArithmeticError("Newton's iteration on the law's time did not converge")
        return np.where(T <= 0, r0, r)


_TABLES: dict = {}


def law_tables(m: int) -> tuple[_InterpTable, _InterpTable]:
    """The two interpolation tables of the law at this m (built once per process, extended on
    demand)."""
    if m not in _TABLES:
        _TABLES[m] = tuple(_InterpTable(m, p) for p in TABLE_NODES)
    return _TABLES[m]


def node_values(r: float, m: int) -> tuple[float, float, float, float]:
    """(g, g_error, Ft, Ft_error) at r on the slow manifold: :func:`drift`'s numbers without the
    frozen-near-mean variant."""
    return _slaved(r, m)[1]


def law_values(r, m: int) -> dict:
    """g and Ft at the points r (inside the built tables) from the first table's interpolants,
    with errors: the two tables' difference plus the nodes' own quadrature errors (relative)."""
    A, B = law_tables(m)
    r = np.asarray(r, float)
    while A.top <= float(np.max(r)) or B.top <= float(np.max(r)):
        for t in (A, B):
            if t.top <= float(np.max(r)):
                t.add_panel()
    gA, gB = np.exp(-A.phi_at(r)), np.exp(-B.phi_at(r))
    FA, FB = np.exp(A.lnF_at(r)), np.exp(B.lnF_at(r))
    ja, jb = A.panel(r), B.panel(r)
    return {"g": gA, "g_error": np.abs(gA - gB) + gA * np.maximum(A.g_rel_err[ja], B.g_rel_err[jb]),
            "loss": FA, "loss_error": np.abs(FA - FB) + FA * np.maximum(A.F_rel_err[ja],
                                                                        B.F_rel_err[jb])}


def integrate(r0: float, eta: float, m: int = 1, tau_max: float = 1e12,
              points_per_decade: int = 20, tau_offset: float = 0.0) -> LawTrajectory:
    """The law dr/dtau = eta g(r) from r(0) = r0 to tau_max on a log grid, by inverting its time
    integral tau(r) = (1/eta) int_{r0}^{r} dr'/g (the two interpolation tables of 1/g above, shared
    by every r0 and eta in the process; r_error is the two tables' largest difference on the
    grid).  The law's tau = 0 is GD step ``tau_offset``; the local slope is taken in GD steps.
    Falls back to :func:`integrate_ode` if g is not positive on the range (the table's premise)."""
    _check_law_input(r0, eta, m, tau_max)
    r0, m = float(r0), int(m)
    taus = _tau_grid(tau_max, points_per_decade)
    A, B = law_tables(m)
    try:
        for t in (A, B):
            t.ensure(r0, eta * tau_max)
        rA = A.invert(r0, eta * taus)
        rB = B.invert(r0, eta * taus)
    except ArithmeticError:
        return integrate_ode(r0, eta, m, tau_max, points_per_decade, tau_offset)
    vals = law_values(rA, m)
    g, loss = vals["g"], vals["loss"]
    slope = -m * eta * (taus + tau_offset) * g * g / loss
    return LawTrajectory(r0=r0, eta=eta, m=m, tau=taus, r=rA, loss=loss, slope=slope,
                         # the tables' difference, and two ulps of r for the float64 inversion
                         r_error=float(np.max(np.abs(rA - rB)) + 4 * np.finfo(float).eps * rA[-1]),
                         settings={"method": "time integral tau(r) = (1/eta) int dr/g inverted "
                                             f"(ln(1/g) interpolated on panels of {TABLE_PANEL:g}, "
                                             f"{TABLE_NODES[0]} Gauss-Legendre nodes each)",
                                   "error_from": f"the {TABLE_NODES[1]}-node table",
                                   "points_per_decade": points_per_decade},
                         tau_offset=float(tau_offset), drdu=(1 + taus) * eta * g)


def steps_to_move(r: float, dr: float, eta: float, m: int = 1) -> float:
    """Steps the law needs to move the cluster from r to r + dr: (1/eta) int dr'/g(r')."""
    _check_regime(r, m)
    a, b = r, r + dr
    k = max(4, int(math.ceil(dr * max(r, 1) / 2)))
    edges = np.linspace(a, b, k + 1)
    tot = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        pts = (hi - lo) / 2 * _GL10_X + (hi + lo) / 2
        tot += (hi - lo) / 2 * sum(wk / drift_fast(p, m) for wk, p in zip(_GL10_W, pts))
    return tot / eta


def first_crossing_after(tau: np.ndarray, f: np.ndarray) -> float | None:
    """The tau after which f (sampled on tau) stays >= 0: the last sign change from < 0 to >= 0,
    linearly interpolated in ln tau (None if f is never negative)."""
    neg = np.nonzero(f < 0)[0]
    if len(neg) == 0:
        return None
    k = neg[-1]
    if k + 1 >= len(tau):
        return math.inf
    x0, x1 = math.log(max(tau[k], 1e-300)), math.log(tau[k + 1])
    t = f[k] / (f[k] - f[k + 1])
    return math.exp(x0 + t * (x1 - x0))


# ---- validation against full gradient descent ------------------------------------------------

@dataclass
class Validation:
    """The reduced law against a full GD trajectory on the taus both cover.

    ``tau0``: the first record where the near mean is within ``near_tol`` of the target and the far
    means form one cluster (the law starts there from the GD value of r); the comparison starts
    ``settle`` steps later (the near mean's relaxation e^{-2 eta tau} to its quasi-static offset).
    Gaps are relative; their errors combine the GD loss error, float64 rounding of the GD iterate
    and the law's integration and quadrature errors."""

    passed: bool
    reason: str
    m: int
    eta: float
    tau0: int
    r0: float
    taus: list
    r_gap: float
    r_gap_error: float
    r_gap_tau: int
    loss_gap: float
    loss_gap_error: float
    loss_gap_tau: int
    gd_steps: int
    law: "LawTrajectory | None" = None
    r_gd: list = field(default_factory=list)
    loss_gd: list = field(default_factory=list)
    r_law: list = field(default_factory=list)
    loss_law: list = field(default_factory=list)
    tolerance: dict = field(default_factory=dict)

    @property
    def gaps_at_end(self) -> tuple[float, float]:
        """Relative gaps in r and in the loss at the last compared tau (nan if none)."""
        if not self.r_gd:
            return math.nan, math.nan
        return (abs(self.r_gd[-1] / self.r_law[-1] - 1), abs(self.loss_gd[-1] / self.loss_law[-1] - 1))

    def summary(self) -> dict:
        return {k: getattr(self, k) for k in ("passed", "reason", "m", "eta", "tau0", "r0",
                                               "r_gap", "r_gap_error", "r_gap_tau", "loss_gap",
                                               "loss_gap_error", "loss_gap_tau", "gd_steps",
                                               "tolerance")} | {"taus": list(self.taus),
                                                                "gaps_at_end": list(self.gaps_at_end)}


# A relative gap this small, not growing along the compared range, cannot change a power of tau or
# a log factor: the verdicts use only the law's rate.  The reduction's own neglected terms (the near
# mean's lag behind its quasi-static offset, discrete vs continuous time) are far smaller.
GAP_TOL = {"r": 1e-3, "loss": 1e-2}


def cluster_split(c: list[list[float]], near_tol: float):
    """(index of the near mean, indices of the far cluster, r) if c is in the far regime: one mean
    within near_tol of the target and all others equal to 1e-9 relative; else None."""
    norms = [math.sqrt(sum(x * x for x in row)) for row in c]
    i = int(np.argmin(norms))
    if norms[i] > near_tol:
        return None
    far = [j for j in range(len(c)) if j != i]
    ref = np.array(c[far[0]], float)
    if any(np.linalg.norm(np.array(c[j], float) - ref) > 1e-9 * np.linalg.norm(ref) for j in far):
        return None
    return i, far, float(np.linalg.norm(ref))


def validate(traj, eta: float, *, near_tol: float = 0.05, tau_max: float = 1e12,
             points_per_decade: int = 20, min_span: float = 10.0) -> Validation:
    """Compare a GD trajectory (verify.dynamics.Trajectory, t = 0, noised parameterisation) in the
    far regime with the reduced law started from it; integrates the law out to tau_max too."""
    dist = traj.dist
    near = min(range(len(dist[0])), key=lambda i: dist[-1][i])
    far_idx = [j for j in range(len(dist[0])) if j != near]
    m = len(far_idx)
    k0 = next((k for k, row in enumerate(dist) if row[near] <= near_tol
               and max(row[j] for j in far_idx) - min(row[j] for j in far_idx)
               <= 1e-9 * row[far_idx[0]]), None)
    empty = dict(taus=[], r_gap=math.nan, r_gap_error=math.nan, r_gap_tau=-1, loss_gap=math.nan,
                 loss_gap_error=math.nan, loss_gap_tau=-1, gd_steps=traj.steps[-1],
                 tolerance=dict(GAP_TOL))
    if k0 is None:
        return Validation(False, f"the near mean never came within {near_tol} of the target with the "
                          "far means equal (not the far regime)", m, eta, -1, math.nan, **empty)
    tau0 = traj.steps[k0]
    r0 = float(np.mean([dist[k0][j] for j in far_idx]))
    if r0 < R_MIN:
        return Validation(False, f"far cluster at r = {r0:.4g} < {R_MIN} when the near mean "
                          "converged (outside the law's regime)", m, eta, tau0, r0, **empty)
    law = integrate(r0, eta, m, tau_max=tau_max, points_per_decade=points_per_decade,
                    tau_offset=tau0)
    settle = math.ceil(10 / eta)
    ks = [k for k, s in enumerate(traj.steps) if s >= tau0 + settle]
    if len(ks) < 3 or traj.steps[-1] < min_span * (tau0 + settle):
        return Validation(False, f"the GD run spans less than a factor {min_span:g} in tau after the "
                          f"near mean settled (tau0 = {tau0}, settle = {settle}, run = "
                          f"{traj.steps[-1]})", m, eta,
                          tau0, r0, **(empty | {"law": law}))
    taus = [traj.steps[k] for k in ks]
    r_gd = np.array([np.mean([dist[k][j] for j in far_idx]) for k in ks])
    l_gd = np.array([traj.loss[k] for k in ks])
    l_gd_err = np.array([traj.loss_error[k] for k in ks])
    r_law = law.r_at(np.array(taus, float) - tau0)
    lv = law_values(r_law, m)
    l_law, l_law_err = lv["loss"], lv["loss_error"]
    rg = np.abs(r_gd / r_law - 1)
    lg = np.abs(l_gd / l_law - 1)
    # the law's r error also moves its loss: dloss/loss = (F'/F) dr ~ (r/4) dr
    dr_law = law.r_error + law.r_at_error(np.array(taus, float) - tau0)
    r_err = dr_law / r_law + np.sqrt(np.array(taus, float)) * 4e-16
    l_err = l_gd_err / l_gd + l_law_err / l_law + r_law / 4 * dr_law
    kr, kl = int(np.argmax(rg)), int(np.argmax(lg))
    passed = bool(rg[kr] <= GAP_TOL["r"] and lg[kl] <= GAP_TOL["loss"])
    reason = "" if passed else (f"gap above tolerance: r {rg[kr]:.3g} (tol {GAP_TOL['r']}), loss "
                                f"{lg[kl]:.3g} (tol {GAP_TOL['loss']})")
    return Validation(passed, reason, m, eta, tau0, r0, taus, float(rg[kr]), float(r_err[kr]),
                      taus[kr], float(lg[kl]), float(l_err[kl]), taus[kl], traj.steps[-1], law,
                      r_gd.tolist(), l_gd.tolist(), r_law.tolist(), l_law.tolist(), dict(GAP_TOL))


# ---- what the claims read off the law --------------------------------------------------------

def crossing_times(law: LawTrajectory, eps_list) -> dict:
    """For each eps, the GD step after which tau^(1+eps) * loss stops decreasing under the law
    (the last crossing of s = -(1+eps) from below, tau in GD steps).  inf when the law still
    decreases it at its end, None when it never decreases."""
    return {eps: first_crossing_after(law.steps[1:], law.slope[1:] + 1 + eps) for eps in eps_list}


def asymptotic_ratios(law: LawTrajectory) -> dict:
    """Along the law, the derived forms' ratios at the end and two decades earlier:
    loss eta tau r^2/(16 m) -> 1, (-1 - s) r^2/8 -> 1, (-1 - s) ln tau -> p = 1, g/g_asym(order 1) -> 1."""
    def at(k):
        t, r, L, s = law.steps[k], law.r[k], law.loss[k], law.slope[k]
        return {"tau": float(t), "r": float(r), "loss": float(L), "slope": float(s),
                "loss_eta_tau_r2_over_16m": float(L * law.eta * t * r * r / (16 * law.m)),
                "slope_excess_r2_over_8": float((-1 - s) * r * r / 8),
                "slope_excess_ln_tau": float((-1 - s) * math.log(t)),
                "g_over_asymptotic": float(drift_fast(r, law.m) / g_asymptotic(r, law.m, order=1))}
    k_end = len(law.tau) - 1
    k_mid = int(np.searchsorted(law.steps, law.steps[-1] / 100))
    return {"end": at(k_end), "earlier": at(k_mid)}


def law_consistent(ratios: dict) -> bool:
    """The law's numbers approach the derived asymptotic forms: every ratio is closer to 1 at the
    end than two decades earlier, and within 0.5 of 1 at the end."""
    keys = ("loss_eta_tau_r2_over_16m", "slope_excess_r2_over_8", "g_over_asymptotic")
    e, b = ratios["end"], ratios["earlier"]
    return all(abs(e[k] - 1) <= abs(b[k] - 1) + 1e-12 and abs(e[k] - 1) < 0.5 for k in keys)


def figures(prefix: str, title: str, traj, val: Validation, plateau_mark: bool = True):
    """Two log-log figures (loss and far distance against the GD step): full GD and the reduced
    law on the same axes out to the law's end, with the plateau time tau0 + e^{r0^2/8}/eta marked."""
    from verify.claims.record import Figure, Line
    law = val.law
    gd_pos = [(s, v) for s, v in zip(traj.steps, traj.loss) if s > 0 and 0 < v < math.inf]
    far_idx = [j for j in range(len(traj.dist[0])) if j != min(range(len(traj.dist[0])),
                                                                  key=lambda i: traj.dist[-1][i])]
    gd_r = [(s, float(np.mean([row[j] for j in far_idx]))) for s, row in zip(traj.steps, traj.dist)
            if s > 0]
    lines_l = [Line("full GD loss", [float(s) for s, _ in gd_pos], [float(v) for _, v in gd_pos])]
    lines_r = [Line("full GD |c| of the far mean(s)", [float(s) for s, _ in gd_r],
                    [v for _, v in gd_r])]
    marks_l, marks_r = [], []
    if law is not None:
        xs = law.steps[1:].tolist()
        lines_l.append(Line(f"reduced law (m = {law.m}) from tau0 = {val.tau0}", xs,
                            law.loss[1:].tolist(), kind="law"))
        lines_r.append(Line(f"reduced law (m = {law.m})", xs, law.r[1:].tolist(), kind="law"))
        # the derived tail 2m/(eta tau ln tau), dashed, over the law's last decades
        tt = [x for x in xs if x >= max(1e3, 10 * val.tau0)]
        if tt:
            lines_l.append(Line("derived tail 2m/(eta tau ln tau)", tt,
                                [2 * law.m / (law.eta * t * math.log(t)) for t in tt],
                                kind="law"))
        Tp = val.tau0 + math.exp(law.r0 ** 2 / 8) / law.eta
        if plateau_mark:
            marks_l.append({"x": Tp, "y": float(np.interp(math.log(Tp), np.log(xs), law.loss[1:])),
                            "label": "plateau time e^{r0^2/8}/eta"})
            marks_r.append({"x": Tp, "y": float(np.interp(math.log(Tp), np.log(xs), law.r[1:])),
                            "label": "plateau time e^{r0^2/8}/eta"})
    return [Figure(id=f"{prefix}-law-loss", title=f"{title}: loss, full GD and the far-regime law",
                   xlabel="GD step tau", ylabel="loss", lines=lines_l, xscale="log", yscale="log",
                   marks=marks_l),
            Figure(id=f"{prefix}-law-r", title=f"{title}: distance of the far mean(s), GD and law",
                   xlabel="GD step tau", ylabel="r = |c_far|", lines=lines_r, xscale="log",
                   yscale="log", marks=marks_r)]


def displacement_check(traj, eta: float, *, near_tol: float = 0.05) -> dict | None:
    """The far cluster's displacement in a GD run against the law's, from the first record after
    the near mean has settled (tau0 + 10/eta) to the end: the drift speed g where the cluster
    moves too little for :func:`validate` (large r).  None when the run never reaches the regime
    or ends before the near mean settles.  The relative gap's error: float64 rounding of the GD
    iterate (~4e-16 r per step, as a random walk) and the law's integration error."""
    dist = traj.dist
    near = min(range(len(dist[0])), key=lambda i: dist[-1][i])
    far_idx = [j for j in range(len(dist[0])) if j != near]
    k0 = next((k for k, row in enumerate(dist) if row[near] <= near_tol
               and max(row[j] for j in far_idx) - min(row[j] for j in far_idx)
               <= 1e-9 * row[far_idx[0]]), None)
    if k0 is None:
        return None
    ka = next((k for k, s in enumerate(traj.steps) if s >= traj.steps[k0] + math.ceil(10 / eta)), None)
    if ka is None or ka == len(traj.steps) - 1:
        return None
    ra = float(np.mean([dist[ka][j] for j in far_idx]))
    rb = float(np.mean([dist[-1][j] for j in far_idx]))
    if ra < R_MIN:
        return None
    span = traj.steps[-1] - traj.steps[ka]
    law = integrate(ra, eta, len(far_idx), tau_max=max(span, 10), points_per_decade=40)
    d_law = float(law.r_at(span) - ra)
    d_gd = rb - ra
    err = (4e-16 * rb * math.sqrt(span) + law.r_error) / abs(d_law)
    return {"tau_from": traj.steps[ka], "tau_to": traj.steps[-1], "r_from": ra, "m": len(far_idx),
            "dr_gd": d_gd, "dr_law": d_law, "rel_gap": abs(d_gd / d_law - 1), "rel_gap_error": err,
            "tolerance": GAP_TOL["loss"],
            "passed": bool(abs(d_gd / d_law - 1) <= GAP_TOL["loss"] + err)}


def rate_time_scale(law: LawTrajectory, eps: float) -> float:
    """The GD step from which a window can see the far regime's rates under the law: the later of
    the plateau's end (the first tau where s < -1, after which tau * loss decreases for good, s
    rising to -1 from below) and the step after which tau^(1+eps) * loss stops decreasing.
    inf when the law does not reach it by its end."""
    below = np.nonzero(law.slope[1:] < -1)[0]
    t_plateau = float(law.steps[1:][below[0]]) if len(below) else math.inf
    t_eps = crossing_times(law, [eps])[eps]
    t_eps = law.tau_offset if t_eps is None else t_eps
    return max(t_plateau, t_eps)


def law_from_state(c, eta: float, *, near_tol: float = 0.05, tau_max: float = 1e12,
                   tau_offset: float = 0.0) -> LawTrajectory:
    """The reduced law started from a parameter state c (n x d, centred, t = 0).  Refused with a
    ValueError naming the condition when c is not in the far regime: one mean within ``near_tol``
    of the target (the near mean converged), all others equal (one far cluster), at r >= R_MIN."""
    rows = [[float(x) for x in row] for row in c]
    if len(rows) < 2:
        raise ValueError("c must hold at least two means (a near one and a far cluster)")
    norms = [math.sqrt(sum(x * x for x in row)) for row in rows]
    if min(norms) > near_tol:
        raise ValueError(f"c: the near mean is not converged (closest mean at {min(norms):.4g} > "
                         f"near_tol = {near_tol}); the far-regime law needs it at the target")
    split = cluster_split(rows, near_tol)
    if split is None:
        raise ValueError("c: the far means are not equal (not one far cluster); the far-regime "
                         "law describes m equal far means")
    _i, far_idx, r = split
    return integrate(r, eta, len(far_idx), tau_max=tau_max, tau_offset=tau_offset)


# ---- the two-phase reduction of a far random start (thm3.5 at its stated M0) -----------------

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2 * math.pi)


@njit(cache=True)
def _log_normal_tail_into(t: np.ndarray, out: np.ndarray) -> None:
    # compiled, element by element, with the C library's erfc, log and log1p (those math.erfc,
    # math.log and math.log1p call: the scalar formula's values bit for bit, tested)
    for i in range(t.size):
        x = t[i]
        if x < -9.0:
            out[i] = 0.0
        elif x < 25.0:
            out[i] = math.log(0.5 * math.erfc(x / _SQRT2))
        else:
            x2 = x * x
            out[i] = -x2 / 2 - math.log(x * _SQRT2PI) + math.log1p(-1 / x2 + 3 / (x2 * x2))


def log_normal_tail(t: np.ndarray) -> np.ndarray:
    """ln Phi(-t) for any real t in float64 without underflow (erfc below 25, the asymptotic
    series -t^2/2 - ln(t sqrt(2 pi)) + ln(1 - 1/t^2 + 3/t^4) above: relative error < 15/t^6).

    Below t = -9, erfc(t / sqrt 2) rounds to exactly 2.0 in float64 (1 - Phi(9) ~ 1e-19 is under
    half an ulp of 2; tested), so ln Phi(-t) is exactly 0.0 there without an erfc call.  Compiled
    (thm3.5's reduction calls this on ~1e7 tie distances); the shape of ``t`` is kept."""
    t = np.asarray(t, float)
    flat = np.ascontiguousarray(t).ravel()
    out = np.empty_like(flat)
    _log_normal_tail_into(flat, out)
    return out.reshape(t.shape)


def log_weight_mass(t: np.ndarray, k: np.ndarray) -> np.ndarray:
    """ln of the bound E[w_b] <= E[min(1, e^{k(x - t)})] = Phi(-t) + e^{k^2/2 - k t} Phi(t - k),
    x ~ N(0, 1): a far mean b's softmax weight against the closest mean a, with k = |b - a| and
    t = (|b|^2 - |a|^2) / (2k) the tie point's distance from the origin (w_b <= e^{l_b - l_a})."""
    t, k = np.asarray(t, float), np.asarray(k, float)
    return np.logaddexp(log_normal_tail(t), k * k / 2 - k * t + log_normal_tail(k - t))


@dataclass
class TwoPhase:
    """The two-phase reduction of one start: phase 1, the closest mean a contracts as
    (1 - 2 eta)^tau (its gradient is 2a while every other weight is negligible); phase 2, a at the
    target and each other mean at r >= R_MIN drifts outward by the far law (g > 0).  ``applies``:
    the bound on the others' total displacement during phase 1 (and on the perturbation of a's
    contraction) is below ``allow``, so the reduction decides the start: exactly a converges."""

    closest: int
    applies: bool
    log10_displacement: float     # log10 of the bound on the largest displacement of another mean
    log10_perturbation: float     # log10 of the bound on |grad_a - 2a| / (2 near_tol)
    phase1_time: float            # eta * tau at the end of phase 1 (continuous time)
    min_tie: float                # smallest tie distance t over phase 1 (others shifted by allow)
    r_far_min: float              # the nearest other mean's distance at the end of phase 1 (lower bound)


def two_phase(c0=None, *, far_parts=None, near_tol: float = 0.05, allow: float | None = None,
              grid: int = 400) -> TwoPhase:
    """Decide a start (centred, t = 0) by the two-phase reduction, in float64 log-space.  The start
    is ``c0`` (n x d) or ``far_parts = (M0, u, z)`` meaning c_i = M0 u + z_i (u a unit vector):
    at M0 beyond ~1e13 float64 cannot hold c_i itself (its ulp exceeds the offsets), so every
    difference below is formed from the offsets z and M0 separately, never from c_i -- e.g.
    |c_j|^2 - |c_i|^2 = 2 M0 u.(z_j - z_i) + |z_j|^2 - |z_i|^2 -- and no step overflows,
    underflows or cancels at any M0.

    Along phase 1, a = lambda a0 with lambda from 1 down to near_tol/|a0|.  Each other mean b,
    shifted by up to ``allow`` (a continuity argument: the bound must come out below ``allow``;
    default the smaller of 0.1 and a quarter of the gap |b| - |a| to the next-closest mean),
    has weight mass <= exp(log_weight_mass(t, k)); by Cauchy-Schwarz its gradient (direct form) is
    at most 2 sqrt(mass) (R + 2 R^2 sqrt(d + R^2)), R = max |c_i(0)| + allow, and a's gradient
    differs from 2a by at most 2 sqrt(mass) (3R + 2 R^2 sqrt(d + R^2)) per other mean.  Phase 1 lasts
    eta tau = ln(|a0| / near_tol) / (2 (1 - p)) in continuous time, p the relative perturbation."""
    if far_parts is None:
        z = np.asarray(c0, float)
        M0, u = 0.0, np.zeros(z.shape[1])
    else:
        M0, u, z = float(far_parts[0]), np.asarray(far_parts[1], float), np.asarray(far_parts[2], float)
    n, d = z.shape
    excess = 2 * M0 * (z @ u) + np.einsum("ij,ij->i", z, z)      # |c_i|^2 - M0^2
    norms = np.sqrt(M0 * M0 + excess)
    i = int(np.argmin(excess))
    na = float(norms[i])
    others = [j for j in range(n) if j != i]
    gap2s = {j: float(excess[j] - excess[i]) for j in others}    # |b|^2 - |a|^2 >= 0
    if allow is None:
        gaps = [gap2s[j] / (norms[j] + na) for j in others]
        allow = min(0.1, min(gaps) / 4) if gaps else 0.1
        if not allow > 0:
            allow = 0.1       # a tie: the bound below decides (it will not apply)
    R = float(norms.max()) + allow
    poly_b = math.log(R + 2 * R * R * math.sqrt(d + R * R))
    poly_a = math.log(3 * R + 2 * R * R * math.sqrt(d + R * R))
    lam = np.concatenate([[1.0], np.geomspace(1.0, max(near_tol / na, 1e-300), grid)[1:]]) \
        if na > near_tol else np.array([1.0])
    worst_log_mass, min_tie = -math.inf, math.inf
    r_far = math.inf
    for j in others:
        delta = z[j] - z[i]
        a_dot = M0 * float(delta @ u) + float(z[i] @ delta)        # <a, b - a>
        # |b|^2 - lam^2 |a|^2 = (|b|^2 - |a|^2) + (1 - lam^2) |a|^2
        num = gap2s[j] + (1 - lam * lam) * na * na
        k = np.sqrt(np.maximum(float(delta @ delta) + 2 * (1 - lam) * a_dot
                               + (1 - lam) ** 2 * na * na, 0.0))
        # b moved by up to `allow`: |b'|^2 >= (|b| - allow)^2, |b' - lam a| <= k + allow
        nb = float(norms[j])
        num_s = num - 2 * allow * nb + allow * allow
        t = num_s / (2 * (k + allow))
        lm = log_weight_mass(t, k + allow)
        worst_log_mass = max(worst_log_mass, float(lm.max()))
        min_tie = min(min_tie, float(t.min()))
        r_far = min(r_far, nb - allow)
    # phase-1 time, with a's contraction rate reduced by the perturbation (bounded below)
    log_pert = math.log(2 * (n - 1)) + worst_log_mass / 2 + poly_a - math.log(2 * near_tol)
    p = math.exp(min(log_pert, 0.0))
    s1 = math.log(max(na / near_tol, 1.0)) / (2 * max(1 - p, 1e-300)) if p < 1 else math.inf
    log_disp = (math.log(max(s1, 1e-300)) + math.log(2) + worst_log_mass / 2 + poly_b
                if math.isfinite(s1) else math.inf)
    applies = bool(log_disp <= math.log(allow) and log_pert <= math.log(0.1) and min_tie > 0
                   and r_far >= R_MIN)
    ln10 = math.log(10)
    return TwoPhase(closest=i, applies=applies, log10_displacement=log_disp / ln10,
                    log10_perturbation=log_pert / ln10, phase1_time=s1, min_tie=min_tie,
                    r_far_min=r_far)


def drift_positive_beyond(r_from: float, m: int = 1, r_switch: float = 30.0,
                          step: float = 0.25) -> tuple[bool, float, str]:
    """Is the far law's g(r) > 0 for every r >= r_from?  On [max(r_from, R_MIN), r_switch] by the
    float64 rule on a grid (each value beyond its error estimate, the grid spacing far below the
    scale on which g varies, ~4/r), beyond r_switch by the derived two-term form, whose relative
    correction |b1|/r^2 + the spot-checked remainder 2|b2|/r^4 stays below 1.  Returns (positive,
    smallest g/error ratio on the grid, basis)."""
    from proofs.far_drift import g_coefficients
    lo = max(r_from, R_MIN)
    worst = math.inf
    if lo < r_switch:
        for r in np.arange(lo, r_switch + step / 2, step):
            dr = drift(float(r), m)
            worst = min(worst, dr.g / dr.g_error)
            if not dr.g > dr.g_error:
                return False, worst, f"g({r:.3g}) = {dr.g:.3g} not above its error {dr.g_error:.2g}"
    rs = max(lo, r_switch)
    corr = abs(correction_b1(m)) / rs ** 2 + (2 * abs(float(g_coefficients(m, 2)[1])) / rs ** 4)
    ok = corr < 1
    return ok, worst, (f"g > 0 on [{lo:.3g}, {r_switch:g}] (grid {step:g}, smallest g/error "
                       f"{worst:.3g}) and beyond by the derived series (relative correction "
                       f"<= {corr:.2g} < 1)")


def correction_b1(m: int) -> float:
    """b1(m) of the derived series (proofs/far_drift): the first of ``g_coefficients(m, 2)``, the
    series with m substituted (cached there; drift_positive_beyond needs the same call, so a
    process pays for one SymPy series per m instead of two -- the series in symbolic m,
    ``far_drift.correction_b1``, is the slower route to the same number, compared in the tests)."""
    from proofs.far_drift import g_coefficients
    return float(g_coefficients(m, 2)[0])


def two_phase_batch(M0: float, u: np.ndarray, z: np.ndarray, *, near_tol: float = 0.05,
                    grid: int = 400) -> dict:
    """:func:`two_phase` for S starts at once (``far_parts = (M0, u[s], z[s])``, u of shape (S, d),
    z of shape (S, n, d)), with the default ``allow``: the same arithmetic as the scalar rule,
    vectorised across the starts (agreement with it is tested).  Returns arrays keyed like
    :class:`TwoPhase`'s fields."""
    M0 = float(M0)
    u, z = np.asarray(u, float), np.asarray(z, float)
    S, n, d = z.shape
    excess = 2 * M0 * np.einsum("snd,sd->sn", z, u) + np.einsum("snd,snd->sn", z, z)
    norms = np.sqrt(M0 * M0 + excess)
    i = np.argmin(excess, axis=1)
    rows = np.arange(S)
    na = norms[rows, i]
    gap2 = excess - excess[rows, i][:, None]                          # (S, n)
    other = np.ones((S, n), bool)
    other[rows, i] = False
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.where(other, gap2 / (norms + na[:, None]), np.inf)
    if n > 1:
        allow = np.minimum(0.1, gaps.min(axis=1) / 4)
        allow = np.where(allow > 0, allow, 0.1)
    else:
        allow = np.full(S, 0.1)
    R = norms.max(axis=1) + allow
    poly_b = np.log(R + 2 * R * R * np.sqrt(d + R * R))
    poly_a = np.log(3 * R + 2 * R * R * np.sqrt(d + R * R))
    far_start = na > near_tol
    stop = np.where(far_start, np.maximum(near_tol / np.where(far_start, na, 1.0), 1e-300), 1.0)
    lam = np.geomspace(np.ones(S), stop, grid, axis=1)
    lam[:, 0] = 1.0
    lam[~far_start] = 1.0      # the scalar rule's single lam = 1 (repeats change no max or min)
    worst = np.full(S, -np.inf)
    min_tie = np.full(S, np.inf)
    r_far = np.full(S, np.inf)
    zi = z[rows, i]                                                   # (S, d)
    for j in range(n):
        sel = other[:, j]
        if not sel.any():
            continue
        zs, us, lams = zi[sel], u[sel], lam[sel]
        delta = z[sel, j] - zs
        a_dot = M0 * np.einsum("sd,sd->s", delta, us) + np.einsum("sd,sd->s", zs, delta)
        nas = na[sel][:, None]
        num = gap2[sel, j][:, None] + (1 - lams * lams) * nas * nas
        k = np.sqrt(np.maximum(np.einsum("sd,sd->s", delta, delta)[:, None]
                               + 2 * (1 - lams) * a_dot[:, None] + (1 - lams) ** 2 * nas * nas, 0.0))
        nb = norms[sel, j][:, None]
        al = allow[sel][:, None]
        num_s = num - 2 * al * nb + al * al
        t = num_s / (2 * (k + al))
        ka = k + al
        lm = np.logaddexp(log_normal_tail(t), ka * ka / 2 - ka * t + log_normal_tail(ka - t))
        worst[sel] = np.maximum(worst[sel], lm.max(axis=1))
        min_tie[sel] = np.minimum(min_tie[sel], t.min(axis=1))
        r_far[sel] = np.minimum(r_far[sel], norms[sel, j] - allow[sel])
    log_pert = math.log(2 * (n - 1)) + worst / 2 + poly_a - math.log(2 * near_tol) if n > 1 \
        else np.full(S, -np.inf)
    p = np.exp(np.minimum(log_pert, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        s1 = np.where(p < 1, np.log(np.maximum(na / near_tol, 1.0))
                      / (2 * np.maximum(1 - p, 1e-300)), np.inf)
        log_disp = np.where(np.isfinite(s1), np.log(np.maximum(s1, 1e-300)) + math.log(2)
                            + worst / 2 + poly_b, np.inf)
    applies = ((log_disp <= np.log(allow)) & (log_pert <= math.log(0.1)) & (min_tie > 0)
               & (r_far >= R_MIN))
    ln10 = math.log(10)
    return {"closest": i, "applies": applies, "log10_displacement": log_disp / ln10,
            "log10_perturbation": log_pert / ln10, "phase1_time": s1, "min_tie": min_tie,
            "r_far_min": r_far}
