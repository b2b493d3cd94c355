"""Derivation `near-converged` (issue 11 item 1; claims `thm2.1`, the tail of `thm3.2`, the
experiment's M = 4 case): the loss and its gradient expanded around the converged set c = 0.

1. Second order: with c = s u, F = s^2 |ubar|^2 + O(s^4) (F is even in c, so no s^3 term).  The
   Hessian at 0 is (2/n^2) 1 1^T (x) I_d: the mean is stiff (GD contracts it by 1 - 2 eta/n per
   step) and every spread with zero mean is flat at second order.
2. Fourth order: F4(u) = tr(C^2) - 2 ubar^T C ubar, C = (1/n) sum_k ut_k ut_k^T, ut_k = u_k - ubar
   (coefficients solved for by SymPy from the Gaussian moments, then checked on other sizes).
3. Its gradient is the cubic form of the gradient (agrees with the s^3 coefficients of derivation
   em-link): grad_{u_i} F4 = (4/n)[(C - ubar ubar^T) ut_i - C ubar].  On the flat set (ubar = 0)
   the spread obeys ut_i <- ut_i - eta (4/n) C ut_i; the mean obeys
   cbar <- cbar - eta (2/n)(I - 2C) cbar + eta O(|c|^5): the spread does not force the mean below
   fifth order (at (n, d) = (3, 1) the fifth-order forcing is -(sum u^2)(prod u) s^5, nonzero), so
   the slaved mean is O(|spread|^5) and enters the spread equation only at relative order
   |spread|^6.  The decaying mean's transient multiplies the spread along cbar(0) by
   exp(|cbar(0)|^2 / (1 - eta/n)) (to leading order).
4. Symmetric pair c_1 = a u, c_2 = -a u (others 0), invariant under GD (derivation stationary's
   reflection steps): symbolic in n, L(a) = 4a^4/n^2 - 16a^6/n^3 + ..., and independently from the
   direct integrand G(a) = kappa a^3 + lambda a^5 + mu a^7 + ..., kappa = 8/n^2, lambda = -48/n^3,
   G = L'/2.  The step a <- a - eta G(a) gives 1/a^2 <- 1/a^2 + 2 eta kappa
   + (2 eta lambda + 3 eta^2 kappa^2) a^2 + O(a^4), so
   1/a(tau)^2 = 1/a0^2 + 2 eta kappa tau + ((2 lambda + 3 eta kappa^2)/(2 kappa)) ln(1 + 2 eta kappa a0^2 tau).
5. General spread at leading order: S = (1/n) sum c_k c_k^T obeys dS/dtau = -(8 eta/n) S^2, so
   S(tau) = S0 (I + (8 eta/n) S0 tau)^(-1), c_i(tau) = (I + (8 eta/n) S0 tau)^(-1/2) c_i(0), and the
   loss F = tr S^2 -> r n^2 / (64 (eta tau)^2) (r = rank S0) whatever the start.  Plateau time
   T = n^2/(16 eta a0^2) for the pair; sup over tau of F sqrt(eta tau) = (3 sqrt 3/16) a0^3 / n
   (per eigenvalue lambda_j of S0: (9/16) sqrt(n/24) lambda_j^(3/2)).
"""
from __future__ import annotations

import math
import time
from functools import lru_cache

import sympy as sp
from sympy.polys.domains import QQ
from sympy.polys.rings import ring

from proofs import numeric
from proofs import stationary as pair
from proofs.base import Derivation, Grad, Notation as N, Step, eq, vanishes
from proofs.em_link import Series, cauchy
from proofs.symbolic import (dot, matvec, ring_coeff, ring_gaussian_expect, ring_mul_trunc,
                             ring_truncate)

NAME = "near-converged"
STATEMENT = (
    "Around the converged set $c = 0$ the loss is $F = |\\bar c|^2 + \\operatorname{tr}(C^2) - "
    "2 \\bar c^{\\top} C \\bar c + O(|c|^6)$ with $C$ the spread covariance: every zero-mean spread "
    "is flat at second order, and on the flat set the spread moves by the cubic form "
    "$\\nabla_{c_i} F = (4/n) C c_i$.  A symmetric pair $c_{1,2} = \\pm a u$ decays by "
    "$a \\leftarrow a - \\eta \\kappa a^3 - \\eta \\lambda a^5 + O(a^7)$ with $\\kappa = 8/n^2$, "
    "$\\lambda = -48/n^3$; a general spread by $S(\\tau) = S_0 (I + (8\\eta/n) S_0 \\tau)^{-1}$, so "
    "the loss ends on $r n^2/(64 (\\eta\\tau)^2)$ after a plateau of length $n^2/(16 \\eta a_0^2)$, "
    "and $\\sup_\\tau F \\sqrt{\\eta\\tau} = (3\\sqrt3/16) a_0^3/n$ for the pair.")

SIZES = ((2, 1), (2, 2), (3, 1), (3, 2))
FIT_SIZE = (3, 2)          # the size on which the quartic form's coefficients are solved for
PAIR_ORDER = 10            # L(a) through a^10, G(a) through a^9 (remainders O(a^12), O(a^11))

a, n = sp.Symbol("a", positive=True), pair.n
eta, tau, x = sp.symbols("eta tau x", positive=True)


# ---- the loss expanded at c = s u (concrete sizes) -------------------------------------------

def loss_coefficients(n_: int, d: int):
    """(Series, [s^2, s^3, s^4 coefficients of F(s u)]) from the weights to O(s^2)
    (em_link.Series, checked there against the Taylor series of exp) and Gaussian moments; the
    coefficients are elements of the series' ring ``sr.R`` (free of s and y)."""
    sr = Series(n_, d)
    wc = sr.weight_coefficients()
    Z = sr.R.zero
    V = [[sum((wc[j][p] * sr.gu[j][k] for j in range(n_)), Z) for p in range(3)] for k in range(d)]
    out = [Z] * 3
    for k in range(d):
        sq = cauchy(V[k], V[k], 2)         # v = s (V0 + s V1 + s^2 V2): |v|^2 / s^2 to O(s^2)
        out = [o + sr.expect(q) for o, q in zip(out, sq)]
    return sr, out


def spread_covariance(sr: Series):
    """(ut, C): the centred directions and C = (1/n) sum_k ut_k ut_k^T."""
    n_, d = sr.n, sr.d
    ut = [[x - b for x, b in zip(u, sr.ubar)] for u in sr.u]
    C = [[sp.Add(*[ut[j][k] * ut[j][l] for j in range(n_)]) / n_ for l in range(d)] for k in range(d)]
    return ut, C


def quartic_ansatz(sr: Series, al, be, ga):
    """tr C^2 + al |ubar|^2 tr C + be ubar^T C ubar + ga |ubar|^4 (the rotation- and
    permutation-invariant quartics of the mean and the spread that are even in u)."""
    _, C = spread_covariance(sr)
    d, ub = sr.d, sr.ubar
    trC2 = sp.Add(*[C[k][l] ** 2 for k in range(d) for l in range(d)])
    trC = sp.Add(*[C[k][k] for k in range(d)])
    return trC2 + al * dot(ub, ub) * trC + be * dot(ub, matvec(C, ub)) + ga * dot(ub, ub) ** 2


@lru_cache(maxsize=None)
def quartic_coefficients():
    """Solve the s^4 coefficient of F = ansatz for (al, be, ga) at FIT_SIZE."""
    al, be, ga = sp.symbols("alpha beta gamma")
    sr, (_, _, f4) = loss_coefficients(*FIT_SIZE)
    resid = sp.expand(f4.as_expr() - quartic_ansatz(sr, al, be, ga))
    sol = sp.solve(sp.Poly(resid, *[x for r in sr.u for x in r]).coeffs(), [al, be, ga], dict=True)
    if len(sol) != 1:
        raise ArithmeticError(f"quartic form not determined uniquely: {sol}")
    return tuple(sol[0][k] for k in (al, be, ga))


def check_second_order(sizes=SIZES) -> bool:
    for n_, d in sizes:
        sr, (f2, f3, _) = loss_coefficients(n_, d)
        if f2 != sr.to_ring(dot(sr.ubar, sr.ubar)) or f3 != 0:
            return False
    return True


def check_quartic(sizes=SIZES) -> bool:
    al, be, ga = quartic_coefficients()
    for n_, d in sizes:
        sr, (_, _, f4) = loss_coefficients(n_, d)
        if f4 != sr.to_ring(quartic_ansatz(sr, al, be, ga)):
            return False
    return True


def cubic_form(sr: Series, i: int):
    """(4/n)[(C - ubar ubar^T) ut_i - C ubar]."""
    ut, C = spread_covariance(sr)
    ub = sr.ubar
    Cu, Cb = matvec(C, ut[i]), matvec(C, ub)
    return [sp.Rational(4, sr.n) * (Cu[k] - ub[k] * dot(ub, ut[i]) - Cb[k]) for k in range(sr.d)]


def check_gradient_of_quartic(sizes=SIZES) -> bool:
    """grad_{u_i} F4 = cubic_form = em-link's s^3 coefficients (gradient-EM part + remainder)."""
    al, be, ga = quartic_coefficients()
    for n_, d in sizes:
        sr = Series(n_, d)
        F4 = sr.to_ring(quartic_ansatz(sr, al, be, ga))
        for i in range(n_):
            cf = [sr.to_ring(e) for e in cubic_form(sr, i)]
            em, rem = sr.em_s3_formula(i), sr.remainder_s3_formula(i)
            for k in range(d):
                if F4.diff(sr.gu[i][k]) != cf[k]:
                    return False
                if sr.to_ring(em[k] + rem[k]) != cf[k]:
                    return False
    return True


def check_mean_and_spread(sizes=SIZES) -> bool:
    """mean_i of the cubic form is -(4/n) C ubar; its i-dependent part (4/n)(C - ubar ubar^T) ut_i."""
    for n_, d in sizes:
        sr = Series(n_, d)
        ut, C = spread_covariance(sr)
        forms = [[sr.to_ring(e) for e in cubic_form(sr, i)] for i in range(n_)]
        mean = [sum((f[k] for f in forms), sr.R.zero) * QQ(1, n_) for k in range(d)]
        Cb = matvec(C, sr.ubar)
        if any(mean[k] != sr.to_ring(-sp.Rational(4, n_) * Cb[k]) for k in range(d)):
            return False
        for i in range(n_):
            Cu = matvec(C, ut[i])
            want = [sp.Rational(4, n_) * (Cu[k] - sr.ubar[k] * dot(sr.ubar, ut[i])) for k in range(d)]
            if any(forms[i][k] - mean[k] != sr.to_ring(want[k]) for k in range(d)):
                return False
    return True


@lru_cache(maxsize=None)
def mean_forcing_fifth_order():
    """At (n, d) = (3, 1), zero-mean spread u = (u1, u2, -u1-u2): the s^0..s^5 coefficients of
    sum_i grad_{c_i} F = d/dh F(c + h) = 2 E[v] - E[y v^2] (translation c -> c + h shifts y by h),
    from the weights to O(s^4) (Taylor series of exp, em_link.Series.weights_from_exp), by
    truncated products in the series' ring."""
    sr = Series(3, 1)
    s, y = sr.gs, sr.gy[0]
    w = sr.weights_from_exp(4)
    gu = [r[0] for r in sr.gu]
    v = sr.mul(sum((w[j] * gu[j] for j in range(3)), sr.R.zero), s, 5)
    f = 2 * v - sr.mul(y, sr.mul(v, v, 5), 5)
    f = f.compose(gu[2], -gu[0] - gu[1])
    u = [r[0] for r in sr.u]
    return [sp.factor(sr.expect(ring_coeff(f, 0, k)).as_expr()) for k in range(6)], u


def check_mean_forcing() -> tuple[bool, sp.Expr]:
    coeffs, u = mean_forcing_fifth_order()
    u3 = -u[0] - u[1]
    want = -(u[0] ** 2 + u[1] ** 2 + u3 ** 2) * u[0] * u[1] * u3
    ok = all(c == 0 for c in coeffs[:5]) and sp.expand(coeffs[5] - want) == 0 and coeffs[5] != 0
    return ok, coeffs[5]


def check_transient_sum() -> bool:
    """sum_{tau >= 0} eta (4/n) |cbar0|^2 q^(2 tau), q = 1 - 2 eta/n, equals |cbar0|^2/(1 - eta/n)."""
    m2 = sp.Symbol("m2", positive=True)
    q = 1 - 2 * eta / n
    total = eta * 4 / n * m2 / (1 - q ** 2)
    return vanishes(total - m2 / (1 - eta / n))


# ---- the symmetric pair, symbolic in n ------------------------------------------------------

# The pair series are polynomials in (a or s, z) with coefficients polynomial in 1/n (D = n (1 + x)
# with x = (2 cosh + (n - 2) e^{s^2/2})/n - 1): they are computed in the sparse ring
# QQ[var, z, 1/n] and converted to SymPy expressions (expanded, 1/n written back) at the end.
_N_INV = sp.Symbol("n_inv", positive=True)


def _pair_ring(var):
    """(R, var, z, 1/n): the ring QQ[var, z, 1/n] and its generators."""
    R, gv, gz, gm = ring([var, pair.z, _N_INV], QQ)
    return R, gv, gz, gm


def _from_pair_ring(p):
    """A ring element of :func:`_pair_ring` as an expanded SymPy expression in (var, z, n)."""
    return sp.expand(p.as_expr().xreplace({_N_INV: 1 / n}))


def _ring_taylor_pieces(R, gv, gz, m: int):
    """Taylor polynomials through var^m of e^{var z}, sinh(var z), cosh(var z), e^{var^2/2} in R."""
    E = sum((QQ(1, math.factorial(k)) * (gv * gz) ** k for k in range(m + 1)), R.zero)
    Sh = sum((QQ(1, math.factorial(k)) * (gv * gz) ** k for k in range(1, m + 1, 2)), R.zero)
    Ch = sum((QQ(1, math.factorial(k)) * (gv * gz) ** k for k in range(0, m + 1, 2)), R.zero)
    Q = sum((QQ(1, math.factorial(k) * 2 ** k) * gv ** (2 * k) for k in range(m // 2 + 1)), R.zero)
    return E, Sh, Ch, Q


def _ring_inverse_den(R, gv, gm, Ch, Q, m: int):
    """1/D = (1/n) sum_k (-x)^k through var^m, D = n (1 + x), x = (2 Ch + (n - 2) Q)/n - 1 =
    2 Ch/n + Q - 2 Q/n - 1 = O(var^2), by Horner's rule with a truncation after every product."""
    x = ring_truncate(2 * Ch * gm + Q - 2 * Q * gm - 1, 0, m)
    inv = R.one
    for _ in range(m // 2):
        inv = 1 - ring_mul_trunc(x, inv, 0, m)
    return inv * gm


@lru_cache(maxsize=None)
def pair_series(order: int = PAIR_ORDER):
    """(L, G): the loss along the pair family and the e_1 component of grad_{c_1} F, as
    polynomials in a through a^order and a^(order-1), symbolic in n.  L from delta^2
    (derivation stationary's profile), G from the *direct* integrand of c_1 (an independent route)."""
    s = pair.s
    L = pair.small_s_series(order).subs(s, a)
    g = pair.integrands_1d()["c1_e1"]
    R, gs, gz, _ = _pair_ring(s)
    ser = _taylor_1d(g, order - 1)
    G = _from_pair_ring(ring_gaussian_expect(ser, (1,))).subs(s, a)
    return sp.expand(L), sp.expand(G)


def _taylor_1d(expr, m: int):
    """The Taylor polynomial through s^m of a 1-D pair integrand (a polynomial in e^{sz},
    sinh(sz), cosh(sz), e^{s^2/2}, s, z and 1/D, D = derivation stationary's denominator): the
    same polynomial as ``sympy.series(expr, s, 0, m + 1)``, by truncated products of the Taylor
    polynomials of the pieces (1/D = (1/n) sum_k (-x)^k with D = n (1 + x), x = O(s^2), by
    Horner's rule), much faster than sympy.series on the whole quotient.  Returns an element of
    the ring QQ[s, z, 1/n] (:func:`_pair_ring`)."""
    s, z = pair.s, pair.z
    Y = sp.Dummy("Y")                                       # 1/D
    fE, fS, fC, fQ = sp.exp(s * z), sp.sinh(s * z), sp.cosh(s * z), sp.exp(s ** 2 / 2)
    poly_expr = expr.subs(pair.den(), 1 / Y)
    P = sp.Poly(sp.expand(poly_expr), Y, fE, fS, fC, fQ)
    if any(g.has(s) and not g.is_polynomial(s) for g in P.coeffs()) or \
            any(c.has(sp.exp, sp.sinh, sp.cosh, Y) for c in P.coeffs()):
        raise ValueError("the integrand is not a polynomial in the pieces")
    R, gs, gz, gm = _pair_ring(s)
    E, Sh, Ch, Q = _ring_taylor_pieces(R, gs, gz, m)
    pieces = [_ring_inverse_den(R, gs, gm, Ch, Q, m), E, Sh, Ch, Q]
    powers: dict = {}

    def power(i, k):
        if (i, k) not in powers:
            powers[(i, k)] = R.one if k == 0 else ring_mul_trunc(power(i, k - 1), pieces[i], 0, m)
        return powers[(i, k)]

    out = R.zero
    for monom, coeff in P.terms():
        term = R.from_expr(coeff)         # a polynomial in s and z (n enters only through D)
        for i, k in enumerate(monom):
            if k:
                term = ring_mul_trunc(term, power(i, k), 0, m)
        out += term
    return out


@lru_cache(maxsize=None)
def pair_coefficients() -> dict:
    """kappa, lam, mu (G = kappa a^3 + lam a^5 + mu a^7 + O(a^9)) and f4, f6, f8 (L = f4 a^4 + ...),
    SymPy expressions in n."""
    L, G = pair_series()
    return {"kappa": sp.factor(G.coeff(a, 3)), "lam": sp.factor(G.coeff(a, 5)),
            "mu": sp.factor(G.coeff(a, 7)), "f4": sp.factor(L.coeff(a, 4)),
            "f6": sp.factor(L.coeff(a, 6)), "f8": sp.factor(L.coeff(a, 8))}


def pair_loss_polynomial(order: int = 8):
    """L(a) = a^2 E[delta^2] through a^order by truncated power-series arithmetic on the Taylor
    polynomials of sinh(az), cosh(az), e^{a^2/2} (delta = 2 sinh/(2 cosh + (n-2) e^{a^2/2})) and
    1/(n (1 + x)) = (1/n) sum (-x)^k; the same series as derivation stationary's, without
    sympy.series (checked equal in step 'series along the pair').  Ring arithmetic in
    QQ[a, z, 1/n]."""
    m = order - 2                        # delta^2 through a^m
    R, ga, gz, gm = _pair_ring(a)
    _, sh, ch, ex = _ring_taylor_pieces(R, ga, gz, m)
    inv = _ring_inverse_den(R, ga, gm, ch, ex, m)
    dl = ring_mul_trunc(2 * sh, inv, 0, m)
    return _from_pair_ring(ga ** 2 * ring_gaussian_expect(ring_mul_trunc(dl, dl, 0, m), (1,)))


@lru_cache(maxsize=None)
def pair_coefficients_from_loss(order: int = 8) -> dict:
    """The same coefficients from L alone, G = L'/2 (step 'series along the pair' checks that the
    direct integrand gives the same G): the cheap route for library code."""
    L = pair_loss_polynomial(order)
    G = sp.expand(sp.diff(L, a) / 2)
    return {"kappa": sp.factor(G.coeff(a, 3)), "lam": sp.factor(G.coeff(a, 5)),
            "mu": sp.factor(G.coeff(a, 7)), "f4": sp.factor(L.coeff(a, 4)),
            "f6": sp.factor(L.coeff(a, 6)), "f8": sp.factor(L.coeff(a, 8))}


def check_pair_series() -> bool:
    L, G = pair_series()
    co = pair_coefficients()
    low = all(G.coeff(a, k) == 0 for k in (0, 1, 2, 4, 6)) and all(L.coeff(a, k) == 0 for k in (0, 1, 2, 3, 5, 7))
    cheap = pair_coefficients_from_loss(8)      # the route verify.asymptotics.near uses
    same = all(vanishes(cheap[k] - co[k]) for k in cheap) and \
        vanishes(pair_loss_polynomial(PAIR_ORDER) - L)
    return low and same and vanishes(sp.diff(L, a) / 2 - G) and vanishes(co["f4"] - 4 / n ** 2)


def check_pair_against_cubic_form(sizes=((3, 1), (4, 2))) -> bool:
    """The general cubic form at u_1 = e_1, u_2 = -e_1, others 0 gives kappa e_1 for c_1."""
    kappa = pair_coefficients()["kappa"]
    for n_, d in sizes:
        sr = Series(n_, d)
        at = {x: 0 for r in sr.u for x in r}
        at[sr.u[0][0]], at[sr.u[1][0]] = 1, -1
        cf = [e.subs(at) for e in cubic_form(sr, 0)]
        if sp.simplify(cf[0] - kappa.subs(n, n_)) != 0 or any(e != 0 for e in cf[1:]):
            return False
    return True


def inverse_square_drift():
    """Series of 1/a+^2 - 1/a^2 for a+ = a - eta (kappa a^3 + lam a^5), through a^2."""
    k, l = sp.symbols("kappa lambda")
    ap = a - eta * (k * a ** 3 + l * a ** 5)
    drift = sp.series(1 / ap ** 2 - 1 / a ** 2, a, 0, 3).removeO()
    return sp.expand(drift), k, l


def check_inverse_square_drift() -> bool:
    drift, k, l = inverse_square_drift()
    return sp.expand(drift - (2 * eta * k + (2 * eta * l + 3 * eta ** 2 * k ** 2) * a ** 2)) == 0


def pair_law(a0, order: int = 2):
    """1/a(tau)^2 (order 1: leading; order 2: with the log correction), symbolic."""
    k, l = sp.symbols("kappa lambda")
    base = 1 / a0 ** 2 + 2 * eta * k * tau
    if order == 1:
        return base, k, l
    return base + (2 * l + 3 * eta * k ** 2) / (2 * k) * sp.log(1 + 2 * eta * k * a0 ** 2 * tau), k, l


def check_pair_law() -> bool:
    """d/dtau of the law's 1/a^2 equals the per-step drift evaluated on the leading law,
    2 eta kappa + (2 eta lam + 3 eta^2 kappa^2) a^2 with a^2 = a0^2/(1 + 2 eta kappa a0^2 tau)."""
    a0 = sp.Symbol("a0", positive=True)
    inv, k, l = pair_law(a0)
    lead = a0 ** 2 / (1 + 2 * eta * k * a0 ** 2 * tau)
    want = 2 * eta * k + (2 * eta * l + 3 * eta ** 2 * k ** 2) * lead
    return vanishes(sp.diff(inv, tau) - want)


def check_spread_law() -> bool:
    """Per eigen-direction of S0 (all matrices commute): c(tau) = (1 + b lam0 tau)^(-1/2) c0 solves
    dc/dtau = -eta (4/n) lam(tau) c with lam(tau) = lam0/(1 + b lam0 tau), b = 8 eta/n, and lam
    solves dlam/dtau = -b lam^2 (S = (1/n) sum c c^T)."""
    lam0, c0 = sp.symbols("lambda0 c0", positive=True)
    b = 8 * eta / n
    lam = lam0 / (1 + b * lam0 * tau)
    c = c0 / sp.sqrt(1 + b * lam0 * tau)
    return (vanishes(sp.diff(c, tau) + eta * 4 / n * lam * c)
            and vanishes(sp.diff(lam, tau) + b * lam ** 2)
            and vanishes(lam - lam0 * (c / c0) ** 2))


def sup_closed_forms():
    """(x*, sup) of lam^2 sqrt(x)/(1 + (8/n) lam x)^2 over x = eta tau > 0 (one eigenvalue), its
    value for the pair (lam = 2 a0^2/n), the late limit of F (eta tau)^2 per eigenvalue and the
    plateau time of the pair (where a^2 has halved)."""
    lam0, a0 = sp.symbols("lambda0 a0", positive=True)
    h = lam0 ** 2 * sp.sqrt(x) / (1 + 8 / n * lam0 * x) ** 2
    crit = sp.solve(sp.diff(sp.log(h), x), x)
    xs = crit[0]
    sup = sp.simplify(h.subs(x, xs))
    pair_sup = sp.simplify(sup.subs(lam0, 2 * a0 ** 2 / n))
    late = sp.limit(lam0 ** 2 / (1 + 8 / n * lam0 * x) ** 2 * x ** 2, x, sp.oo)
    kappa = pair_coefficients()["kappa"]
    T = sp.solve(sp.Eq(2 * kappa * a0 ** 2 * x, 1), x)[0] / eta
    return {"x_star": xs, "sup": sup, "pair_sup": pair_sup, "late": late, "T": sp.simplify(T),
            "critical_points": crit}


def check_sup_closed_forms() -> bool:
    r = sup_closed_forms()
    lam0, a0 = sp.symbols("lambda0 a0", positive=True)
    return (len(r["critical_points"]) == 1
            and vanishes(r["pair_sup"] - 3 * sp.sqrt(3) / 16 * a0 ** 3 / n)
            and vanishes(r["sup"] - sp.Rational(9, 16) * sp.sqrt(n / 24) * lam0 ** sp.Rational(3, 2))
            and vanishes(r["late"] - n ** 2 / 64)
            and vanishes(r["T"] - n ** 2 / (16 * eta * a0 ** 2)))


# ---- display --------------------------------------------------------------------------------

def _display():
    c, F, i = N.c, N.F, N.i
    cb, C, S = sp.Symbol(r"\bar{c}"), sp.Symbol("C"), sp.Symbol("S")
    ct = sp.IndexedBase(r"\tilde{c}")
    I = sp.Symbol("I")
    co = pair_coefficients()
    kap, lam = sp.Symbol(r"\kappa"), sp.Symbol(r"\lambda")
    a0, ap = sp.Symbol("a_0"), sp.Symbol("a^{+}")
    etas, taus, nn = sp.Symbol(r"\eta"), sp.Symbol(r"\tau"), N.n
    Tr = sp.Function("tr")
    r = sup_closed_forms()
    L, G = pair_series()
    return {
        "second": eq(F, sp.Symbol(r"\lvert \bar c \rvert^{2}") + sp.Order(sp.Symbol(r"\lvert c\rvert") ** 4)),
        "quartic": eq(sp.Symbol("F_4"), Tr(C ** 2) - 2 * sp.Symbol(r"\bar c^{\top} C \bar c")),
        "cubic": eq(Grad(sp.Symbol("F_4"), c[i]), 4 / nn * ((C - sp.Symbol(r"\bar c \bar c^{\top}")) * ct[i] - C * cb)),
        "mean": [eq(sp.Symbol(r"\bar c^{+}"), cb - etas * 2 / nn * (I - 2 * C) * cb + sp.Order(sp.Symbol(r"\lvert c\rvert") ** 5)),
                 eq(sp.Symbol(r"\tilde c_i^{+}"), ct[i] - etas * 4 / nn * (C - sp.Symbol(r"\bar c \bar c^{\top}")) * ct[i]
                    + sp.Order(sp.Symbol(r"\lvert c\rvert") ** 5))],
        "forcing": eq(sp.Function(r"\Sigma_{\nabla}")(N.s),
                      -(sp.Symbol("u_{1}") ** 2 + sp.Symbol("u_{2}") ** 2 + sp.Symbol("u_{3}") ** 2)
                      * sp.Symbol("u_{1}") * sp.Symbol("u_{2}") * sp.Symbol("u_{3}") * N.s ** 5
                      + sp.Order(N.s ** 7)),
        "transient": eq(sp.Symbol(r"\prod_\tau (1 + \tfrac{4\eta}{n} \lvert \bar c_\tau \rvert^2)"),
                        sp.exp(sp.Symbol(r"\lvert \bar c_0 \rvert^2") / (1 - etas / nn))),
        "pair": [eq(sp.Function("L")(a), L + sp.Order(a ** (PAIR_ORDER + 2))),
                 eq(sp.Function("G")(a), G + sp.Order(a ** (PAIR_ORDER + 1)))],
        "kappa": [eq(kap, co["kappa"]), eq(lam, co["lam"]),
                  eq(ap, a - etas * kap * a ** 3 - etas * lam * a ** 5 + sp.Order(a ** 7))],
        "drift": eq(1 / ap ** 2, 1 / a ** 2 + 2 * etas * kap + (2 * etas * lam + 3 * etas ** 2 * kap ** 2) * a ** 2
                    + sp.Order(a ** 4)),
        "law": eq(1 / sp.Symbol("a(\\tau)") ** 2, 1 / a0 ** 2 + 2 * etas * kap * taus
                  + (2 * lam + 3 * etas * kap ** 2) / (2 * kap) * sp.log(1 + 2 * etas * kap * a0 ** 2 * taus)),
        "spread": [eq(S, sp.Symbol(r"\tfrac{1}{n} \sum_k c_k c_k^{\top}")),
                   eq(sp.Symbol(r"S(\tau)"), sp.Symbol(r"S_0 (I + \tfrac{8\eta}{n} S_0 \tau)^{-1}")),
                   eq(sp.Symbol(r"c_i(\tau)"), sp.Symbol(r"(I + \tfrac{8\eta}{n} S_0 \tau)^{-1/2} c_i(0)"))],
        "sup": [eq(sp.Symbol("T"), r["T"].subs({eta: etas, sp.Symbol("a0", positive=True): a0})),
                eq(sp.Symbol(r"\lim F (\eta\tau)^2"), sp.Symbol("r") * nn ** 2 / 64),
                eq(sp.Symbol(r"\sup_\tau F \sqrt{\eta\tau}"), 3 * sp.sqrt(3) / 16 * a0 ** 3 / nn)],
    }


# ---- the derivation -------------------------------------------------------------------------

def derive(spot_check: bool = True, digits: int = 30) -> Derivation:
    t0 = time.perf_counter()
    disp = _display()
    steps: list[Step] = []
    where = "n, d in " + ", ".join(f"({a_},{b_})" for a_, b_ in SIZES)
    gen = "symbolic in n"

    steps.append(Step(
        "Second order: with $c = s u$ and the weights to $O(s^2)$ (derivation em-link, checked "
        "against the series of exp), Gaussian moments give $F = s^2 |\\bar u|^2 + 0 \\cdot s^3 + "
        "O(s^4)$.  The Hessian at 0 is $(2/n^2) \\mathbf{1}\\mathbf{1}^{\\top} \\otimes I$: the mean "
        "is stiff (GD contracts it by $1 - 2\\eta/n$), every zero-mean spread is flat.",
        disp["second"], "pointwise+lemma:gaussian-moments", check_second_order(), where))

    al, be, ga = quartic_coefficients()
    steps.append(Step(
        "Fourth order: the $s^4$ coefficient equals $\\operatorname{tr} C^2 + \\alpha |\\bar u|^2 "
        "\\operatorname{tr} C + \\beta \\bar u^{\\top} C \\bar u + \\gamma |\\bar u|^4$ with "
        f"$(\\alpha, \\beta, \\gamma) = ({sp.latex(al)}, {sp.latex(be)}, {sp.latex(ga)})$, solved "
        f"for at $(n, d) = {FIT_SIZE}$ and checked on the other sizes.",
        disp["quartic"], "pointwise+lemma:gaussian-moments", check_quartic(), where))

    steps.append(Step(
        "The gradient of the quartic form is the cubic form of the gradient: it equals the "
        "$s^3$ coefficients of derivation em-link (gradient-EM part plus cubic remainder), so the "
        "loss and gradient expansions agree.",
        disp["cubic"], "symbolic-zero", check_gradient_of_quartic(), where))

    steps.append(Step(
        "Mean and spread: the cubic form's mean over $i$ is $-(4/n) C \\bar c$ and its $i$-dependent "
        "part $(4/n)(C - \\bar c \\bar c^{\\top}) \\tilde c_i$; with the linear term $(2/n)\\bar c$ "
        "the mean is a fast mode the spread does not force below fifth order, and on the flat "
        "set the spread moves by $(4/n) C \\tilde c_i$.",
        disp["mean"], "symbolic-zero", check_mean_and_spread(), where))

    ok_f, f5 = check_mean_forcing()
    steps.append(Step(
        "Fifth-order forcing of the mean: a translation $c \\to c + h$ shifts $y$ by $h$, so "
        "$\\Sigma_{\\nabla} = \\sum_i \\nabla_{c_i} F = 2\\mathbb{E}[v] - \\mathbb{E}[y |v|^2]$; its series at a "
        "zero-mean spread, $(n, d) = (3, 1)$, from the weights to $O(s^4)$, starts at $s^5$ with "
        f"coefficient ${sp.latex(f5)}$ (nonzero unless the spread is symmetric).  So the slaved "
        "mean is $O(|\\text{spread}|^5)$ and enters the spread equation at relative order "
        "$|\\text{spread}|^6$, beyond the $O(a^5)$ terms kept below.",
        disp["forcing"], "pointwise+lemma:gaussian-moments+translation", ok_f,
        "(n, d) = (3, 1), s^0..s^5 coefficients"))

    steps.append(Step(
        "Transient: while the mean decays, $c_\\tau \\approx (1 - 2\\eta/n)^\\tau \\bar c_0$, the "
        "term $-(4/n)\\bar c \\bar c^{\\top}$ stretches the spread along $\\bar c_0$ by "
        "$\\prod_\\tau (1 + (4\\eta/n)|\\bar c_\\tau|^2) \\approx \\exp(|\\bar c_0|^2/(1 - \\eta/n))$ "
        "(geometric sum): the spread's effective start on the flat set.",
        disp["transient"], "symbolic-zero", check_transient_sum(), gen))

    ok_sym = pair.check_zero_components() and pair.check_opposite() and pair.check_profile_derivative()
    steps.append(Step(
        "Symmetric pair $c_{1,2} = \\pm a u$, others 0: by the reflection steps of derivation "
        "stationary the others' gradients vanish and $\\nabla_{c_2} F = -\\nabla_{c_1} F = G(a) u$, "
        "so the family is invariant under GD, and $L' = 2G$ pointwise.",
        disp["kappa"][2], "pointwise+lemma:odd-symmetry", ok_sym, gen))

    co = pair_coefficients()
    steps.append(Step(
        "Series along the pair, symbolic in $n$: $L$ from $\\delta^2$ and, independently, $G$ from "
        "the direct integrand of $c_1$ (Gaussian moments); $L'/2 = G$ coefficient by coefficient.  "
        f"$\\kappa = {sp.latex(co['kappa'])}$, $\\lambda = {sp.latex(co['lam'])}$, "
        f"$\\mu = {sp.latex(co['mu'])}$.",
        disp["pair"] + disp["kappa"][:2], "pointwise+lemma:gaussian-moments", check_pair_series(),
        gen + f"; L through a^{PAIR_ORDER}, G through a^{PAIR_ORDER - 1}"))

    steps.append(Step(
        "The general cubic form at the pair gives $\\kappa e_1$ for $c_1$: the two routes agree.",
        disp["kappa"][0], "symbolic-zero", check_pair_against_cubic_form(), "n, d in (3,1), (4,2)"))

    steps.append(Step(
        "Slow map: $1/a^2$ grows per step by $2\\eta\\kappa + (2\\eta\\lambda + 3\\eta^2\\kappa^2) a^2 "
        "+ O(a^4)$ (series of $1/(a - \\eta G)^2$); summed along the leading law it gives the "
        "log-corrected law below (its $\\tau$-derivative equals the drift on the leading law).",
        [disp["drift"], disp["law"]], "symbolic-zero",
        check_inverse_square_drift() and check_pair_law(), "kappa, lambda, eta symbolic"))

    steps.append(Step(
        "General spread at leading order: with $S = \\frac1n\\sum_k c_k c_k^{\\top}$, "
        "$\\dot c_i = -\\eta (4/n) S c_i$ gives $\\dot S = -(8\\eta/n) S^2$, solved per eigenvalue "
        "(all the matrices commute).",
        disp["spread"], "symbolic-zero", check_spread_law(), gen))

    steps.append(Step(
        "Time scales: the pair's $a^2$ halves at $T = n^2/(16\\eta a_0^2)$; per nonzero eigenvalue "
        "$F (\\eta\\tau)^2 \\to n^2/64$ (any start with a spread ends on $r n^2/(64(\\eta\\tau)^2)$, "
        "$r = \\operatorname{rank} S_0$; a start without spread contracts exponentially); "
        "$\\sup_x \\lambda^2 \\sqrt{x}/(1 + 8\\lambda x/n)^2 = (9/16)\\sqrt{n/24}\\,\\lambda^{3/2}$ at "
        "$x = n/(24\\lambda)$, i.e. $(3\\sqrt3/16) a_0^3/n$ for the pair.",
        disp["sup"], "symbolic-limit", check_sup_closed_forms(), gen))

    t1 = time.perf_counter()
    der = Derivation(NAME, STATEMENT, steps, disp["kappa"] + [disp["law"]] + disp["sup"])
    der.spot_check = run_spot_check(digits) if spot_check else {"skipped": "not requested",
                                                               "passed": False}
    der.runtime_s = {"symbolic": t1 - t0, "spot_check": time.perf_counter() - t1}
    return der


# ---- numeric spot check ---------------------------------------------------------------------

SPOT_N = (2, 3, 5)
SPOT_A = "2e-3"                 # series remainder O(a^11)/O(a^3) ~ 3e-22 relative for G
SPREAD_U = ((3, 2, 1.0, 31),)   # zero-mean spreads (the random config minus its mean)
SPREAD_S = ("8e-3", "4e-3", "2e-3")   # Neville extrapolation in s^2 to F4 (error O(s^6))


def run_spot_check(digits: int = 30) -> dict:
    """(a) The numeric core's gradient and loss at the pair c = (a, -a, 0, ...), d = 1, a = 2e-3,
    against the derived series (remainder ~ a^8 relative); (b) its loss at c = s u for a
    zero-mean spread u, F / s^4 extrapolated in s^2 to s = 0 (three points), against tr C^2."""
    model, reason = numeric.load_model()
    if model is None:
        return {"skipped": reason, "passed": False}
    ctx = numeric.context(digits + 10)
    co = pair_coefficients()
    L, G = pair_series()
    # the first omitted terms, from one more order of the (cheap) loss series: L gains
    # f_next a^(K+2), G gains (K+2)/2 f_next a^(K+1), K = PAIR_ORDER
    f_next = pair_loss_polynomial(PAIR_ORDER + 2).coeff(a, PAIR_ORDER + 2)
    points, worst, need = [], float("inf"), float("inf")
    av = ctx.mpf(SPOT_A)
    for nn in SPOT_N:
        c = [[SPOT_A], ["-" + SPOT_A]] + [["0"]] * (nn - 2)
        g = model.grad_F(c, digits=digits, strict=False).value[0][0]
        f = model.F(c, digits=digits, strict=False).value
        gs = numeric.compile_mp([a], G.subs(n, nn), ctx)(av)
        ls = numeric.compile_mp([a], L.subs(n, nn), ctx)(av)
        # required digits: the size of the first omitted term relative to the value, less one
        # digit for the terms after it, capped by the working precision
        fn = ctx.mpf(sp.Rational(f_next.subs(n, nn)))
        rel_g = abs(fn * (PAIR_ORDER + 2) / 2 * av ** (PAIR_ORDER + 1) / gs)
        rel_l = abs(fn * av ** (PAIR_ORDER + 2) / ls)
        req_g = min(digits - 2, float(-ctx.log10(rel_g)) - 1)
        req_l = min(digits - 2, float(-ctx.log10(rel_l)) - 1)
        dg, dl = numeric.agreement_digits(ctx, g, gs), numeric.agreement_digits(ctx, f, ls)
        worst, need = min(worst, dg - req_g, dl - req_l), min(need, req_g, req_l)
        points.append({"n": nn, "a": SPOT_A, "kappa": str(co["kappa"].subs(n, nn)),
                       "grad_digits": round(dg, 1), "grad_required": round(req_g, 1),
                       "loss_digits": round(dl, 1), "loss_required": round(req_l, 1)})
    for nn, d, scale, seed in SPREAD_U:
        u = [[ctx.mpf(x) for x in row] for row in numeric.random_config(nn, d, scale, seed)]
        ub = [ctx.fsum(r[k] for r in u) / nn for k in range(d)]
        u = [[r[k] - ub[k] for k in range(d)] for r in u]
        C = [[ctx.fsum(r[k] * r[l] for r in u) / nn for l in range(d)] for k in range(d)]
        trC2 = ctx.fsum(C[k][l] ** 2 for k in range(d) for l in range(d))
        hs, est = [], []
        for s_txt in SPREAD_S:
            sv = ctx.mpf(s_txt)
            c = numeric.as_input(ctx, [[sv * x for x in r] for r in u])
            hs.append(sv ** 2)
            # 20 digits suffice: the extrapolation's own error is ~s^6 ~ 1e-13
            # (strict=False: an estimate that misses its target is judged by the agreement below)
            est.append(ctx.mpf(model.F(c, digits=min(digits, 20), strict=False).value) / sv ** 4)
        # F/s^4 = F4 + F6 s^2 + F8 s^4 + O(s^6): the quadratic through the three points, at s = 0
        extrap = sum(est[i] * ctx.fprod(hs[j] / (hs[j] - hs[i]) for j in range(3) if j != i)
                     for i in range(3))
        req = float(-ctx.log10(ctx.mpf(SPREAD_S[0]) ** 6)) - 2
        dq = numeric.agreement_digits(ctx, extrap, trC2)
        worst, need = min(worst, dq - req), min(need, req)
        points.append({"n": nn, "d": d, "quantity": "F/s^4 extrapolated to s = 0 vs tr C^2",
                       "digits": round(dq, 1), "required": req})
    digits_min = min(p.get("digits", min(p.get("grad_digits", 99), p.get("loss_digits", 99)))
                     for p in points)
    return {"points": points, "dps": ctx.dps, "digits": digits_min, "required_digits": round(need, 1),
            "passed": worst >= 0,
            "note": ("each point's required digits come from its first omitted term (the next order "
                     "of the pair series, derived; s^6 for the extrapolated F4), less one digit; "
                     "gradient and loss from the numeric core.")}
