"""thm3.1's numeric path (verify/claims/c_thm3_1.py): the folded 1-D integrals G and L against the
direct form on the whole line (written here from SPEC §2), the secant root's stopping rule, and the
finite-difference Hessian assembled from the target cluster's permuted columns against every column
differenced."""
import mpmath
import pytest

from verify import model
from verify.claims import c_thm3_1
from verify.precision import context

S3 = "2.550550988641223901198534664225517007544"    # s*(3), 40 digits (proofs.stationary)


def _direct(ctx, s, n, which, sign=1):
    """The unfolded integrand on (-inf, inf): logits s z - s^2/2, -s z - s^2/2, 0 (n - 2 times)."""
    s = ctx.mpf(s)

    def f(z):
        logits = [s * z - s * s / 2, -s * z - s * s / 2] + [ctx.zero] * (n - 2)
        top = max(logits)
        e = [ctx.exp(x - top) for x in logits]
        w1, w2 = e[0] / ctx.fsum(e), e[1] / ctx.fsum(e)
        v = s * (w1 - w2)
        if which == "L":
            val = v * v
        else:
            val = 2 * (w1 * v + sign * w1 * (z - s) * (s - v) * v)
        return val * ctx.exp(-z * z / 2) / ctx.sqrt(2 * ctx.pi)

    t = s / 2 + ctx.log(n - 2) / s
    return ctx.quad(f, [ctx.ninf, -t, 0, t, ctx.inf], error=True)


@pytest.mark.parametrize("s,n,sign", [("0.7", 3, 1), ("2", 3, 1), ("2.5", 5, -1), ("4.25", 10, 1),
                                      ("1.5", 7, -1)])
def test_folded_G_and_L_match_the_direct_form(s, n, sign):
    ctx = context(40)
    tol = ctx.mpf(10) ** -36
    g, gerr = c_thm3_1.stationarity_G(ctx, ctx.mpf(s), n, sign)
    ref, rerr = _direct(ctx, s, n, "G", sign)
    assert abs(g - ref) <= gerr + rerr + tol and abs(ref) > 1e-6
    L, lerr = c_thm3_1.profile_L(ctx, ctx.mpf(s), n)
    ref, rerr = _direct(ctx, s, n, "L")
    assert abs(L - ref) <= lerr + rerr + tol and L > 1e-6


def test_find_s_star_stops_on_the_residual_and_keeps_its_error_bar(monkeypatch):
    """The root to the 40 digits known, an error bar below 1e-50 (digits + 10), G' against a
    central difference of the direct form, and no evaluation after the one whose residual meets
    the target (5 at working precision: 2 seeds + 3 secant steps from the float64 root)."""
    calls = []
    orig = c_thm3_1.stationarity_G

    def counted(ctx, s, n, sign=1):
        if ctx is not mpmath.fp:
            calls.append(ctx.dps)
        return orig(ctx, s, n, sign)
    monkeypatch.setattr(c_thm3_1, "stationarity_G", counted)
    r = c_thm3_1.find_s_star(3, 40)
    assert r["found"] and r["dps"] == 55
    assert abs(r["s"] - r["ctx"].mpf(S3)) < 1e-39 and r["s_err"] < 1e-50
    assert abs(r["G"]) + r["G_err"] < 1e-50
    ctx = context(40)
    h = ctx.mpf(10) ** -8
    gp = (_direct(ctx, r["s"] + h, 3, "G")[0] - _direct(ctx, r["s"] - h, 3, "G")[0]) / (2 * h)
    assert abs(r["G_prime"] - gp) < 1e-12
    assert calls.count(55) == 5


def test_hessian_fd_permuted_cluster_columns_match_differenced_ones():
    """n = 5, d = 1: columns 4, 5 are copies of column 3 with rows permuted; the reference
    differences every column here (the same rule, step h = 1e-3), so the two agree within E."""
    n, ctx = 5, context(30)
    s = c_thm3_1.find_s_star(n, 20)["s"]
    out = c_thm3_1.hessian_fd(s, n, 1, 10)
    H, E = out["H"], out["E"]
    h = ctx.mpf(10) ** -3
    base = [[ctx.mpf(s)], [-ctx.mpf(s)]] + [[ctx.zero] for _ in range(n - 2)]
    for col in range(n):
        grads = []
        for sgn in (1, -1):
            c = [row[:] for row in base]
            c[col][0] += sgn * h
            g = model.grad_F(c, digits=10, backend="float64", strict=False)
            grads.append([ctx.convert(row[0]) for row in g.value])
        ref = [(a - b) / (2 * h) for a, b in zip(*grads)]
        for r in range(n):
            assert abs(H[r][col] - ref[r]) <= E[r][col], (r, col)
    # the cluster block: equal diagonal, equal off-diagonal entries, and the two differ
    assert H[3][3] == H[4][4] == H[2][2]
    assert abs(H[3][4] - H[2][3]) <= E[2][3] and abs(H[4][3] - H[2][3]) <= E[2][3]
    assert abs(H[2][2] - H[2][3]) > 1e-3
