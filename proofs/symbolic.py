"""Concrete-size symbolic model of SPEC §2 used by every derivation: n means c_i in R^d, y in R^d.

Two representations of the weights:

* **exact**: w_i = exp(a_i) / sum_j exp(a_j), a_i = <y, c_i> - |c_i|^2/2, with exp(a_i) held as a
  positive symbol E_i whose derivative is E_i da_i (:meth:`SoftmaxModel.diff_exact`), so
  identities become rational-function identities that ``cancel`` decides;
* **polynomial**: w_1..w_n as symbols with the chain rules
  d w_j / d c_{i,l} = w_j (delta_ij - w_i)(y_l - c_{i,l}) and d w_j / d y_l = w_j (c_{j,l} - v_l),
  which :meth:`SoftmaxModel.softmax_rules` proves from the exact form.  Every quantity (v, the
  gradients, the Hessian) is then a polynomial in (w, c, y), and an identity holds on the
  simplex sum_j w_j = 1 iff it expands to 0 after substituting w_n = 1 - sum_{j<n} w_j.
  That is the workhorse: polynomial expansion is fast and decisive.
"""
from __future__ import annotations

import itertools
from functools import cached_property

import sympy as sp
from sympy.polys.domains import QQ
from sympy.polys.rings import PolyElement, ring


def dot(a, b):
    return sp.Add(*[x * y for x, y in zip(a, b)])


def vadd(*vs):
    return [sp.Add(*xs) for xs in zip(*vs)]


def vscale(k, a):
    return [k * x for x in a]


def matvec(m, a):
    return [dot(row, a) for row in m]


class SoftmaxModel:
    """Symbols and the derivative operators for one concrete (n, d)."""

    def __init__(self, n: int, d: int):
        self.n, self.d = n, d
        self.c = [[sp.Symbol(f"c{i + 1}{k + 1}", real=True) for k in range(d)] for i in range(n)]
        self.y = [sp.Symbol(f"y{k + 1}", real=True) for k in range(d)]
        self.w = [sp.Symbol(f"w{i + 1}", positive=True) for i in range(n)]
        self.E = [sp.Symbol(f"E{i + 1}", positive=True) for i in range(n)]

    # ---- polynomial representation --------------------------------------------------------

    @cached_property
    def v(self):
        """v = sum_j w_j c_j."""
        return [sp.Add(*[self.w[j] * self.c[j][k] for j in range(self.n)]) for k in range(self.d)]

    @cached_property
    def M(self):
        """M = sum_j w_j c_j c_j^T (d x d, nested lists)."""
        return [[sp.Add(*[self.w[j] * self.c[j][k] * self.c[j][l] for j in range(self.n)])
                 for l in range(self.d)] for k in range(self.d)]

    def d_c(self, expr, i: int, l: int):
        """d expr / d c_{i,l}, with w the softmax weights (chain rule through w).  ``expr`` is a
        SymPy expression or an element of :meth:`ring` (then so is the result)."""
        if isinstance(expr, PolyElement):
            return self._ring_d(expr, self.c[i][l],
                                lambda R, g, j: g["w"][j] * ((1 if i == j else 0) - g["w"][i])
                                * (g["y"][l] - g["c"][i][l]))
        out = sp.diff(expr, self.c[i][l])
        yl_minus = self.y[l] - self.c[i][l]
        for j in range(self.n):
            dwj = sp.diff(expr, self.w[j])
            if dwj != 0:
                out += dwj * self.w[j] * ((1 if i == j else 0) - self.w[i]) * yl_minus
        return out

    def d_y(self, expr, l: int):
        """d expr / d y_l, with w the softmax weights (SymPy expression or ring element)."""
        if isinstance(expr, PolyElement):
            return self._ring_d(expr, self.y[l],
                                lambda R, g, j: g["w"][j] * (g["c"][j][l] - g["v"][l]))
        out = sp.diff(expr, self.y[l])
        for j in range(self.n):
            dwj = sp.diff(expr, self.w[j])
            if dwj != 0:
                out += dwj * self.w[j] * (self.c[j][l] - self.v[l])
        return out

    def _ring_d(self, p, var, dw):
        """The chain rule in the ring of ``p``: d p/d var + sum_j (d p/d w_j) dw(R, gens, j)."""
        R = p.ring
        g = self._ring_gens(R)
        out = p.diff(R.gens[R.symbols.index(var)])
        for j in range(self.n):
            dwj = p.diff(g["w"][j])
            if dwj:
                out += dwj * dw(R, g, j)
        return out

    def _ring_gens(self, R):
        """The generators of ring ``R`` by role (w, c, y) and v = sum_j w_j c_j in ``R``."""
        cache = self.__dict__.setdefault("_ring_gens_cache", {})
        if id(R) not in cache:
            gi = {x: R.gens[k] for k, x in enumerate(R.symbols)}
            w = [gi[x] for x in self.w]
            c = [[gi[x] for x in row] for row in self.c]
            y = [gi[x] for x in self.y]
            v = [sum((w[j] * c[j][k] for j in range(self.n)), R.zero) for k in range(self.d)]
            cache[id(R)] = (R, {"w": w, "c": c, "y": y, "v": v})
        return cache[id(R)][1]

    def on_simplex(self, expr):
        """expr with w_n = 1 - sum_{j<n} w_j, expanded (the canonical form on the simplex)."""
        last = 1 - sp.Add(*self.w[:-1])
        return sp.expand(sp.sympify(expr).subs(self.w[-1], last))

    def ring(self, extra: tuple = ()):
        """(R, w_n, last): the polynomial ring over QQ in (w, c, y, *extra), the generator w_n and
        the ring element 1 - sum_{j<n} w_j.  Cached per tuple of extra symbols.

        Sparse ring arithmetic decides polynomial identities far faster than ``expand`` on the
        large unexpanded trees the chain rule produces (13 s -> 1.6 s for the n = 3, d = 2 Hessian)."""
        cache = self.__dict__.setdefault("_rings", {})
        if extra not in cache:
            syms = self.w + [x for row in self.c for x in row] + self.y + list(extra)
            R, *gens = ring(syms, QQ)
            cache[extra] = (R, gens[self.n - 1], 1 - sum(gens[: self.n - 1], R.zero))
        return cache[extra]

    def to_ring(self, expr, extra: tuple = ()):
        """A polynomial in (w, c, y, *extra) as an element of :meth:`ring` ``(extra)``."""
        return self.ring(extra)[0].from_expr(sp.sympify(expr))

    def is_zero(self, expr) -> bool:
        """Is the polynomial ``expr`` (in w, c, y and any other symbols; or an element of
        :meth:`ring`) zero on the simplex sum_j w_j = 1?"""
        if isinstance(expr, (list, tuple)):
            return all(self.is_zero(e) for e in expr)
        if isinstance(expr, PolyElement):
            R = expr.ring
            g = self._ring_gens(R)
            return expr.compose(g["w"][-1], 1 - sum(g["w"][:-1], R.zero)) == 0
        expr = sp.sympify(expr)
        known = set(self.w) | {x for row in self.c for x in row} | set(self.y)
        extra = tuple(sorted(expr.free_symbols - known, key=str))
        R, wn, last = self.ring(extra)
        return R.from_expr(expr).compose(wn, last) == 0

    # ---- exact representation -------------------------------------------------------------

    def logits(self):
        return [dot(self.y, ci) - dot(ci, ci) / 2 for ci in self.c]

    def exact_weights(self):
        """w_i = E_i / sum_j E_j, where E_i stands for exp(a_i) (see :meth:`diff_exact`)."""
        total = sp.Add(*self.E)
        return [e / total for e in self.E]

    def diff_exact(self, expr, var):
        """d expr / d var for an expression in E_i = exp(a_i): the only fact used is
        d exp(a)/dx = exp(a) da/dx (SymPy would otherwise merge exp(a)^2 into exp(2a) and hide
        the structure from ``cancel``)."""
        out = sp.diff(expr, var)
        for e, a in zip(self.E, self.logits()):
            da = sp.diff(a, var)
            if da != 0:
                out += sp.diff(expr, e) * e * da
        return out

    def softmax_rules(self) -> bool:
        """Prove the two chain rules of the polynomial representation from the exact softmax."""
        wx = self.exact_weights()
        vx = [sp.Add(*[wx[j] * self.c[j][k] for j in range(self.n)]) for k in range(self.d)]
        ok = True
        for j, i, l in itertools.product(range(self.n), range(self.n), range(self.d)):
            lhs = self.diff_exact(wx[j], self.c[i][l])
            rhs = wx[j] * ((1 if i == j else 0) - wx[i]) * (self.y[l] - self.c[i][l])
            ok &= _cancels(lhs - rhs)
        for j, l in itertools.product(range(self.n), range(self.d)):
            lhs = self.diff_exact(wx[j], self.y[l])
            rhs = wx[j] * (self.c[j][l] - vx[l])
            ok &= _cancels(lhs - rhs)
        return bool(ok)

    def to_exact(self, expr):
        """Substitute the exact softmax (in the E_i) for the weight symbols."""
        return sp.sympify(expr).subs(dict(zip(self.w, self.exact_weights())))


def _cancels(expr) -> bool:
    num, _ = sp.fraction(sp.together(expr))
    return sp.expand(num) == 0


def gaussian_moment(k: int) -> int:
    """E[z^k], z ~ N(0, 1): 0 for odd k, (k-1)!! for even k."""
    if k % 2:
        return 0
    return int(sp.factorial2(k - 1)) if k else 1


def gaussian_expect(expr, ys) -> sp.Expr:
    """E over independent standard normal ys of a polynomial in ys (coefficients anything)."""
    poly = sp.Poly(expr, *ys)
    out = sp.Integer(0)
    for monom, coeff in poly.terms():
        m = 1
        for k in monom:
            m *= gaussian_moment(k)
            if m == 0:
                break
        if m:
            out += coeff * m
    return sp.expand(out)


# --------------------------------------------------------------------------------------------
# Truncated series in sparse polynomial rings (sympy.polys.rings over QQ): the same polynomials
# as expanding and truncating expression trees, by dictionary arithmetic on exponent tuples.
# --------------------------------------------------------------------------------------------

def ring_truncate(p, i: int, order: int):
    """The terms of the ring element ``p`` of degree <= ``order`` in the ring's ``i``-th generator."""
    return p.new([(m, c) for m, c in p.items() if m[i] <= order])


def ring_mul_trunc(a, b, i: int, order: int):
    """``a * b`` truncated after degree ``order`` in generator ``i`` (terms beyond are never
    formed)."""
    out = a.ring.zero.copy()
    bt = list(b.items())
    for ma, ca in a.items():
        room = order - ma[i]
        if room < 0:
            continue
        for mb, cb in bt:
            if mb[i] <= room:
                m = tuple(x + y for x, y in zip(ma, mb))
                out[m] = out.get(m, 0) + ca * cb
    return out.new([(m, c) for m, c in out.items() if c])


def ring_coeff(p, i: int, k: int):
    """The coefficient of g_i^k in ``p`` (a ring element free of g_i)."""
    return p.new([(m[:i] + (0,) + m[i + 1:], c) for m, c in p.items() if m[i] == k])


def ring_gaussian_expect(p, idx):
    """E over independent standard normals standing at the generator positions ``idx`` (a ring
    element free of them): each monomial's moments prod_j (k_j - 1)!! or 0."""
    idx = tuple(idx)
    out: dict = {}
    for m, c in p.items():
        f = 1
        for j in idx:
            f *= gaussian_moment(m[j])
            if not f:
                break
        if f:
            key = tuple(0 if j in idx else e for j, e in enumerate(m))
            out[key] = out.get(key, 0) + c * f
    return p.new([(m, c) for m, c in out.items() if c])
