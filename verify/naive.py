"""The naive multiprecision baseline: one mpmath.quad call per loss/gradient component (n = 2).

It sits below the engines so that both the benchmark (:mod:`verify.bench`) and the Arb kernel's
benchmark hook (:mod:`verify.engine_arb`) can compare against it without an engine importing the
benchmark.  Independent of :mod:`verify.quadrature`: it shares only the 1-D reduction of SPEC §2.
"""
from __future__ import annotations

import mpmath


def naive_loss_and_gradient(c, dps: int, split: bool = True):
    """Loss and direct-form gradient, each component its own mpmath.quad call (n = 2).

    The baseline uses the same 1-D reduction (n = 2 depends on y only through the projection on
    c_1 - c_2, plus E[y g] = e E[u g]) and splits at the tie point, so it differs from the engine
    only in how the quadrature is organised.  Returns (values, max error estimate).
    """
    ctx = mpmath.MPContext()
    ctx.dps = dps
    C = [[ctx.mpf(x) for x in ci] for ci in c]
    dvec = [a - b for a, b in zip(C[1], C[0])]
    nd = ctx.sqrt(ctx.fsum(x * x for x in dvec))
    e = [x / nd for x in dvec]
    o2 = -(ctx.fsum(a * b for a, b in zip(C[0], dvec)) + nd * nd / 2)   # logit_2 - logit_1 at u=0
    tie = -o2 / nd
    norm = 1 / ctx.sqrt(2 * ctx.pi)

    def parts(u):
        w2 = 1 / (1 + ctx.exp(-(nd * u + o2)))
        w = [1 - w2, w2]
        v = [C[0][j] + w2 * dvec[j] for j in range(len(dvec))]
        return w, v

    def integrand(kind, i=None, j=None):
        def f(u):
            w, v = parts(u)
            g = ctx.exp(-u * u / 2) * norm
            if kind == "F":
                return ctx.fsum(x * x for x in v) * g
            h = ctx.fsum((C[i][m] - v[m]) * v[m] for m in range(len(v)))
            # 2 (w_i v_j + w_i (y_j - c_ij) h_i), with E[y_j g(u)] = e_j E[u g(u)]
            return 2 * (w[i] * v[j] + w[i] * (e[j] * u - C[i][j]) * h) * g
        return f

    vals, errs = [], []
    for kind, i, j in [("F", None, None)] + [("g", i, j) for i in range(2) for j in range(len(dvec))]:
        ctx = mpmath.MPContext()   # fresh context: its tanh-sinh node cache starts empty
        ctx.dps = dps
        pts = [-ctx.inf, tie, ctx.inf] if split else [-ctx.inf, ctx.inf]
        val, err = ctx.quad(integrand(kind, i, j), pts, error=True)
        vals.append(val)
        errs.append(err)
    return vals, max(errs)
