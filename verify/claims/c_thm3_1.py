"""Claim `thm3.1` (SPEC §3): a stationary point with positive loss for n >= 3.

Statement (as reported by the public summary; theorem number and wording unverified): for every
n >= 3 the configuration c_1 = s e_1, c_2 = -s e_1, c_k = 0 (k >= 3) is a stationary point of the
population loss F for some s* > 0, and its loss is positive (so gradient descent can stall away
from the target).

Kind of check: *tight* (an existence statement checked by computing the point): s* is the root of
a one-dimensional stationarity condition, located to >= ``digits`` digits; the full gradient of F
(the numeric core, a different quadrature rule) at the configuration must vanish below its
precision floor in d = 1, 2, 3.  The Hessian (finite differences of the core's gradient) classifies
the point; the paper's wording ("stationary point") does not say which kind, so the class is a
finding unless a ``claimed_kind`` is passed.

Verdict rule, per n (CONFIRMED only when every n passes):
  * a sign change of G on the scan grid and a converged root, else INCONCLUSIVE;
  * |grad F| (max entry, core, d = 1, 2, 3) <= GRAD_FLOOR_FACTOR x (its error estimate + the
    gradient change across s*'s error bar), else REFUTED with the configuration as witness;
  * L(s*) > 0 with error < L(s*), and the two loss computations (own 1-D tanh-sinh integral and the
    core's F) agree to >= digits - 2 digits, else INCONCLUSIVE (they measure the same number);
  * with ``claimed_kind``: the Hessian class must equal it, else REFUTED (witness: eigenvalues).

Certified (verify.certify, Arb ball arithmetic; decides the assurance): per n, G(lo) > 0 > G(hi)
at a bracket's ends, G' < 0 on the whole bracket (one zero there), s* enclosed to >= digits by an
interval-Newton step, L(s*) > 0, and in d = 1, 2, 3 a direction of negative and one of positive
curvature with u^T H u enclosed (s ranging over the enclosure of s*): the point is a saddle.  The
assurance is "certified" when every n is; an n whose enclosure cannot be made (reason recorded in
inputs["certified"] and a finding) leaves the record "numeric".  The numeric root must lie in the
enclosure widened by its own error bar (INCONCLUSIVE otherwise): the two cross-check each other.
With ``claimed_kind`` other than "saddle" the certified class refutes it.

Stationarity condition (own derivation, 1-D, d = 1; z = y_1): with logits s z - s^2/2,
-s z - s^2/2, 0 (n - 2 times), w = softmax, v = s (w_1 - w_2), h_1 = (s - v) v,
    G(s) = e_1 . grad_{c_1} F = 2 E[w_1 v + w_1 (z - s) h_1]       (direct form, SPEC §2).
``stationarity_sign=-1`` flips the sign of the second term: a deliberately wrong condition whose
root the full gradient must reject (used by the tests).  G and L are integrated folded onto z >= 0
(z -> -z swaps w_1 and w_2), with one exponential for the weights a node.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any

import mpmath

from verify import model
from verify import precision as _precision
from verify.engine_arb import ArbEvaluator
from verify.claims import common
from verify.claims.common import (CONFIRMED, INCONCLUSIVE, REFUTED, Figure, Line, nstr, quantity)
from verify.claims.record import Enclosure, Finding
from verify.claims.statement import Conclusion, Decision, Statement, Twin, judge

ID = "thm3.1"
TITLE = "A stationary point with positive loss: two opposite components and n - 2 at the target"
STATEMENT = (
    "For n >= 3 student components there is s* > 0 such that placing one centred mean at s* e_1, "
    "one at -s* e_1 and the remaining n - 2 exactly at the target is a critical point of the "
    "population score-matching loss, and the loss there is strictly positive.")
PROVENANCE = ("as reported by the public summary of the paper (Theorem 3.1); theorem number and "
              "wording unverified; the kind of stationary point is not stated there")

GRAD_FLOOR_FACTOR = 10      # |grad| within this many error estimates counts as zero
SCAN = [0.5 * k for k in range(1, 13)]    # s grid for the sign change of G (0.5 .. 6)
KINDS = ("local minimum", "local maximum", "saddle", "degenerate")


# ------------------------------------------------------------------------------------------------
# The 1-D integrals (own integrand, tanh-sinh by mpmath.quad in a private context)
# ------------------------------------------------------------------------------------------------

def _breaks(ctx, s, n):
    """Tie points of the softmax (|z| = s/2 + log(n-2)/s, and z = 0): quadrature breakpoints."""
    t = s / 2 + ctx.log(n - 2) / s
    return [ctx.ninf, -t, ctx.zero, t, ctx.inf]


def _folded_weights(ctx, q, su, n):
    """(w_1, w_2) at z >= 0 from u = exp(-s z) (su) and q = exp(-s^2/2): numerator and denominator
    of the softmax times u, w_1 = q / D, w_2 = q u^2 / D, D = q (1 + u^2) + (n - 2) u (no term
    exceeds 1: one exponential a node instead of three)."""
    qu2 = q * su * su
    den = q + qu2 + (n - 2) * su
    return q / den, qu2 / den


def stationarity_G(ctx, s, n: int, sign: int = 1) -> tuple[Any, Any]:
    """(G(s), error): e_1 component of grad_{c_1} F on the configuration, d = 1, own integrand.

    Folded onto z >= 0 (z -> -z swaps w_1 and w_2 and flips v): with f the direct-form integrand,
    f(z) + f(-z) = 2 v [(w_1 - w_2) + sign (w_1 (z - s)(s - v) + w_2 (z + s)(s + v))]; tanh-sinh
    on [0, t, inf], t the tie point."""
    s = ctx.convert(s)
    norm = 1 / ctx.sqrt(2 * ctx.pi)
    q = ctx.exp(-s * s / 2)

    def f(z):
        w1, w2 = _folded_weights(ctx, q, ctx.exp(-s * z), n)
        dw = w1 - w2
        v = s * dw
        return 2 * v * (dw + sign * (w1 * (z - s) * (s - v) + w2 * (z + s) * (s + v))) \
            * ctx.exp(-z * z / 2)

    val, err = ctx.quad(f, _breaks(ctx, s, n)[2:], error=True)
    return val * norm, err * norm


def profile_L(ctx, s, n: int) -> tuple[Any, Any]:
    """(L(s), error): F on the configuration = E[v^2] = s^2 E[(w_1 - w_2)^2] (an even integrand:
    twice the integral over z >= 0, tanh-sinh on [0, t, inf])."""
    s = ctx.convert(s)
    norm = 1 / ctx.sqrt(2 * ctx.pi)
    q = ctx.exp(-s * s / 2)

    def f(z):
        w1, w2 = _folded_weights(ctx, q, ctx.exp(-s * z), n)
        return (s * (w1 - w2)) ** 2 * ctx.exp(-z * z / 2)

    val, err = ctx.quad(f, _breaks(ctx, s, n)[2:], error=True)
    return 2 * norm * val, 2 * norm * err


def find_s_star(n: int, digits: int, sign: int = 1) -> dict:
    """s* from the sign change of G on SCAN (float64), located by the Anderson–Björck bracketing
    solver in float64 and refined by the secant method at digits + 15 working digits, stopped as
    soon as the step or the error bar from the last residual is below 10^-(digits + 10).  Returns
    s*, its error bar |G(s*)| + err / |G'(s*)|, G(s*) and G'(s*) (difference quotient), or
    {'found': False} when G keeps its sign."""
    # the scan and the first root only bracket and seed the refinement: float64 tanh-sinh
    # (mpmath.fp, ~40x faster than 20 digits), a scan value whose sign it does not resolve
    # (|G| within 10 error estimates of 0) at 20 digits
    rough = mpmath.fp
    vals = []
    for x in SCAN:
        v, e = stationarity_G(rough, x, n, sign)
        if not abs(v) > 10 * e:
            v = stationarity_G(_precision.context(20), x, n, sign)[0]
        vals.append(v)
    brackets = [(SCAN[k], SCAN[k + 1]) for k in range(len(SCAN) - 1) if vals[k] * vals[k + 1] < 0]
    if not brackets:
        return {"found": False, "scan": [(x, float(v)) for x, v in zip(SCAN, vals)]}
    lo, hi = brackets[0]
    r0 = rough.findroot(lambda x: stationarity_G(rough, x, n, sign)[0], (lo, hi),
                        solver="anderson", tol=1e-15, maxsteps=40, verify=False)
    # secant at full precision from two points 1e-12 apart around the float64 root: the error
    # is multiplied by the previous one at every step (1e-16, 1e-12, 1e-28, 1e-40, 1e-57 at
    # digits = 40), so three steps after the two seeds reach digits + 10.
    # G(s*) and its error are those of the last iterate; G'(s*) is the slope through the last two
    # iterates (a difference quotient over their step, ~1e-40 at digits + 15 working digits: more
    # digits than the error bar |G(s*)| + err / |G'| needs)
    ctx = _precision.context(digits + 15)
    tol = ctx.mpf(10) ** (-(digits + 10))
    x0, x1 = ctx.convert(r0), ctx.convert(r0) * (1 + ctx.mpf(10) ** -12)
    f0 = stationarity_G(ctx, x0, n, sign)[0]
    f1, e1 = stationarity_G(ctx, x1, n, sign)
    for _ in range(12):
        if f1 == f0:
            break
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x0, f0, x1 = x1, f1, x2
        f1, e1 = stationarity_G(ctx, x1, n, sign)
        # done when the step, or the root's error bar from this iterate's residual (residual +
        # quadrature error over the secant slope), is below the target: the last evaluation then
        # is the one the error bar needs (no further step whose iterates coincide)
        if abs(x1 - x0) < abs(x1) * tol or (
                f1 != f0 and (abs(f1) + e1) * abs(x1 - x0) < abs(x1) * tol * abs(f1 - f0)):
            break
    root, g, g_err = x1, f1, e1
    if f1 == f0 or x1 == x0:   # the iterates met: a central difference gives the slope
        step = ctx.mpf(10) ** (-(digits // 2 + 5))
        gp = (stationarity_G(ctx, root + step, n, sign)[0]
              - stationarity_G(ctx, root - step, n, sign)[0]) / (2 * step)
    else:
        gp = (f1 - f0) / (x1 - x0)
    s_err = (abs(g) + g_err) / abs(gp) + ctx.mpf(10) ** (-(digits + 12))
    return {"found": True, "s": root, "s_err": s_err, "G": g, "G_err": g_err, "G_prime": gp,
            "bracket": (lo, hi), "sign_changes": len(brackets), "dps": ctx.dps, "ctx": ctx}


def configuration(s, n: int, d: int) -> list[list]:
    """c_1 = s e_1, c_2 = -s e_1, c_k = 0 in R^d (entries exact: mpf or 0)."""
    c = [[0] * d for _ in range(n)]
    c[0][0], c[1][0] = s, -s
    return c


# ------------------------------------------------------------------------------------------------
# Checks at s* with the numeric core
# ------------------------------------------------------------------------------------------------

def core_gradient(s, n: int, d: int, digits: int) -> dict:
    """Full gradient (max |entry|, its error) and F from the numeric core at the configuration.

    The core's multiprecision kernel in Arb (verify.engine_arb: its own quadrature of the model's
    direct form, rigorous rounding radii; 15-70x faster here than the mpmath evaluator at 40
    digits, with an error bound ~1000x smaller); it hands to the mpmath evaluator what it does not
    cover, and ``engine`` says which one answered."""
    c = model.check_params(configuration(s, n, d))
    prec = _precision.choose(c, digits, allow_float64=False)
    g, f = ArbEvaluator(prec).grad(c, "direct", with_loss=True)
    flat = [abs(x) for row in g.value for x in row]
    errs = [x for row in g.error for x in row]
    return {"d": d, "max_abs": max(flat), "error": max(errs), "F": f.value, "F_err": f.error,
            "precision": prec, "rule": g.rule.get("rule"), "engine": g.rule.get("engine", "mpmath"),
            "ok": g.ok and f.ok}


def hessian_fd(s, n: int, d: int, digits: int, h_exp: int | None = None) -> dict:
    """Hessian of F at the configuration in d = 1 or 2 (n d x n d), by central differences of the
    core's gradient with steps h and 2h, h = 10^-h_exp (default digits/3: truncation h^2 and
    rounding 10^-digits / h balance).  Value: the step-h difference; error: |H(h) - H(2h)| (about
    3x its truncation error) + 2 x gradient error / h.  Perturbations along e_2 leave the line, so
    their gradients are 2-D integrals (k = 2): they dominate the cost.

    Components 3..n all sit at the target, so swapping two of them fixes the configuration and F:
    the column of component j >= 4 is that of component 3 with the rows of components 3 and j
    swapped (H = P^T H P).  Only the columns of components 1, 2, 3 are differenced (n d columns
    -> 3 d); the others are these permuted, values and errors alike."""
    h_exp = h_exp or max(3, digits // 3)
    base = model.check_params(configuration(s, n, d))
    prec = _precision.choose(base, digits, allow_float64=False)
    ctx = _precision.context(prec.dps + 5)
    N = n * d
    H = [[ctx.zero] * N for _ in range(N)]
    E = [[ctx.zero] * N for _ in range(N)]
    h = ctx.mpf(10) ** (-h_exp)
    used = set()
    for col in range(min(n, 3) * d):
        j, m = divmod(col, d)
        diffs, gerr = {}, ctx.zero
        for step in (h, 2 * h):
            out = []
            for sgn in (1, -1):
                c = [[ctx.convert(x) for x in row] for row in base]
                c[j][m] += sgn * step
                # the compiled float64 engine, strict=False: near the stationary point the
                # gradient is O(h), and the core counts digits relative to its norm, so it may
                # miss them; its policy would then move to multiprecision and raise the precision
                # (10x the time) for digits the classification does not need: what it needs is
                # the absolute error, which enters E below (2 x gradient error / h)
                g = model.grad_F(c, digits=digits, backend="float64", strict=False)
                used.add(g.precision.describe())
                gerr = max(gerr, ctx.mpf(g.max_error()))
                out.append([ctx.convert(x) for row in g.value for x in row])
            diffs[step] = [(a - b) / (2 * step) for a, b in zip(*out)]
        for r in range(N):
            H[r][col] = diffs[h][r]
            E[r][col] = abs(diffs[h][r] - diffs[2 * h][r]) + 2 * gerr / h
    for j in range(3, n):              # the target cluster's other columns: permuted copies
        swap = {2: j, j: 2}
        for m in range(d):
            for r in range(N):
                i, a = divmod(r, d)
                src = swap.get(i, i) * d + a
                H[r][j * d + m] = H[src][2 * d + m]
                E[r][j * d + m] = E[src][2 * d + m]
    return {"H": H, "E": E, "ctx": ctx, "h": h, "d": d, "digits": digits,
            "precision": sorted(used)}


def classify_hessian(H, E, ctx, n: int, d: int, s) -> dict:
    """Symmetrise, take eigenvalues, count signs with tolerance tol = ||E||_F + ||H - H^T||_F
    (Weyl: each eigenvalue of the symmetrised estimate is within ||error||_2 <= ||.||_F of the true
    one).  Rotation symmetry: rotating every c_i in the (e_1, e_j) plane (j = 2..d) keeps F, so its
    generator x = (s e_j, -s e_j, 0, ...) is a null direction; d - 1 zero eigenvalues are expected
    and checked to belong to these generators."""
    N = n * d
    Hs = [[(H[r][q] + H[q][r]) / 2 for q in range(N)] for r in range(N)]
    asym = ctx.sqrt(ctx.fsum((H[r][q] - H[q][r]) ** 2 for r in range(N) for q in range(N)))
    errF = ctx.sqrt(ctx.fsum(E[r][q] ** 2 for r in range(N) for q in range(N)))
    tol = errF + asym
    lam, Q = ctx.eigsy(ctx.matrix(Hs))
    lam = [lam[k] for k in range(N)]
    pos = sum(1 for x in lam if x > tol)
    neg = sum(1 for x in lam if x < -tol)
    zero = N - pos - neg
    residuals = []
    for j in range(1, d):   # rotation generator in the (e_1, e_{j+1}) plane
        x = [ctx.zero] * N
        x[0 * d + j], x[1 * d + j] = ctx.mpf(s), -ctx.mpf(s)
        nx = ctx.sqrt(ctx.fsum(t * t for t in x))
        Hx = [ctx.fsum(Hs[r][q] * x[q] for q in range(N)) for r in range(N)]
        residuals.append(ctx.sqrt(ctx.fsum(t * t for t in Hx)) / nx)
    rotation_null = all(r <= tol for r in residuals)
    expected_zero = d - 1
    # The n - 2 coincident components at the target can split perpendicular to e_1 (c_k = eps u,
    # c_l = -eps u, u orthogonal to e_1): their joint weight changes by O(eps^2) (u.y)^2 - 1 times
    # a function of y_1, whose mean vanishes because u.y is independent of y_1; so F changes only
    # at O(eps^4): (n - 3) (d - 1) more zero eigenvalues of the Hessian (flat to second order).
    split_zero = max(0, n - 3) * (d - 1)
    if pos and neg:
        kind = "saddle"           # strictly negative and strictly positive curvature: decided
    elif zero > expected_zero + split_zero or not rotation_null:
        kind = "degenerate"
    elif neg and zero == expected_zero:
        kind = "local maximum"
    elif zero == expected_zero:
        kind = "local minimum"
    else:
        kind = "degenerate"       # semidefinite with flat splitting directions: not decided at 2nd order
    return {"eigenvalues": sorted(lam), "tol": tol, "asymmetry": asym, "error_fro": errF,
            "positive": pos, "negative": neg, "zero": zero, "expected_zero": expected_zero,
            "split_zero": split_zero, "zero_explained": zero == expected_zero + split_zero,
            "rotation_residuals": residuals, "rotation_null": rotation_null, "kind": kind}


def hessian_d3_from_d2(H2, ctx, n: int):
    """The d = 3 Hessian from the d = 2 one.  The configuration is fixed by rotations about e_1,
    which map e_2 to e_3, so the e_3 block equals the e_2 block and mixed e_2/e_3 and e_1/e_3
    blocks equal the (vanishing, checked) e_1/e_2 cross block: H3 = A (x) e1e1' + B (x) (I - e1e1')."""
    N = 3 * n
    H3 = [[ctx.zero] * N for _ in range(N)]
    for i in range(n):
        for j in range(n):
            H3[3 * i][3 * j] = H2[2 * i][2 * j]
            H3[3 * i + 1][3 * j + 1] = H2[2 * i + 1][2 * j + 1]
            H3[3 * i + 2][3 * j + 2] = H2[2 * i + 1][2 * j + 1]
            H3[3 * i][3 * j + 1] = H2[2 * i][2 * j + 1]
            H3[3 * i + 1][3 * j] = H2[2 * i + 1][2 * j]
    return H3


def _cross_block(H2, n):
    """max |H[(i, e_1), (j, e_2)]|: zero by the reflection y_2 -> -y_2."""
    return max(abs(H2[2 * i][2 * j + 1]) for i in range(n) for j in range(n))


# ------------------------------------------------------------------------------------------------
# Optional cross-checks against the symbolic layer (proofs/), skipped when absent
# ------------------------------------------------------------------------------------------------

def _proofs_s_star(n: int, digits: int):
    try:
        from proofs import stationary
    except Exception:  # the symbolic layer is optional for this check
        return None
    fn = getattr(stationary, "s_star", None)
    if fn is None:
        return None
    return fn(n, digits)


def _proofs_derivation(per_n: dict, digits: int) -> dict | None:
    """The symbolic derivation (proofs.derive('stationary'), SymPy steps only) with this check's
    numbers as its spot check: the derived equation Phi_n(s) = 0 evaluated at the s* found here
    from a different integrand, as the implied distance to Phi_n's root, |Phi_n(s*)| / |Phi_n'|
    with Phi_n' = G'(s*)/s* (G = s Phi_n)."""
    try:
        import proofs
        from proofs import stationary
        der = proofs.derive("stationary", spot_check=False)
    except Exception:
        return None
    points, worst, dps = [], float("inf"), None
    try:
        for n, e in per_n.items():
            ctx = e["ctx"]
            dps = ctx.dps
            val, err = stationary.phi(e["s"], n, ctx)
            slope = abs(e["G_prime"]) / e["s"]
            dist = (abs(val) + abs(err)) / slope
            dg = float(ctx.dps) if dist == 0 else min(float(ctx.dps), float(-ctx.log10(dist / e["s"])))
            worst = min(worst, dg)
            points.append({"n": n, "s_star": ctx.nstr(e["s"], digits + 2),
                           "Phi_at_s_star": ctx.nstr(val, 3), "Phi_error": ctx.nstr(err, 3),
                           "root_agreement_digits": round(dg, 1)})
    except Exception as exc:   # the derivation's numerics changed shape: keep the symbolic part
        der.spot_check = {"skipped": f"spot check failed to run: {exc}", "passed": False}
        return der.to_dict()
    der.spot_check = {"points": points, "dps": dps, "digits": worst, "required_digits": digits - 2,
                      "passed": bool(points) and worst >= digits - 2,
                      "note": "s* from claim thm3.1's own direct-form integrand; Phi_n from the "
                              "derivation's integrand."}
    return der.to_dict()


def _proofs_spectrum(n: int, d: int, digits: int, s):
    try:
        from proofs import hessian
        return hessian.stationary_spectrum(n, d, digits=digits, sv=s)
    except Exception:
        return None


# ------------------------------------------------------------------------------------------------
# Certified enclosures (verify.certify: Arb ball arithmetic, acb.integral)
# ------------------------------------------------------------------------------------------------

def _frac_str(x) -> str:
    return str(x) if getattr(x, "denominator", 1) == 1 else f"{x.numerator}/{x.denominator}"


def certified_point(n: int, digits: int, dims=(1, 2, 3)) -> dict:
    """Enclosures for one n: s* (existence by the signs of G at a bracket's ends, uniqueness by
    G' < 0 on it, location by interval Newton), L(s*) > 0, and the curvature u^T H u / |u|^2
    along a certified negative and positive direction in each d of ``dims`` (the directions are
    the extreme eigenvectors of an approximate Hessian, rounded to dyadic rationals; the
    enclosure of s* is carried through).  Returns {"certified", "reason", "enclosures",
    "stationary", "saddle", "seconds"}."""
    from verify import certify
    t0 = time.perf_counter()
    st = certify.certify_stationary(n, digits)
    out = {"certified": False, "reason": st["reason"], "enclosures": [], "stationary": st,
           "saddle": {}, "seconds": 0.0}
    if not st["certified"]:
        out["seconds"] = time.perf_counter() - t0
        return out
    prec = st["prec_bits"]
    lo_b, hi_b = st["bracket"]
    br = f"[{_frac_str(lo_b)}, {_frac_str(hi_b)}]"

    def enc(name, ball, bits, proves, dg=None):
        lo, hi = certify.enclosure_strings(ball, dg)
        out["enclosures"].append(Enclosure(name=name, lo=lo, hi=hi, prec_bits=bits, proves=proves))

    enc(f"G({_frac_str(lo_b)}) (n={n})", st["G_lo"], 64, "G > 0 at the bracket's left end", 6)
    enc(f"G({_frac_str(hi_b)}) (n={n})", st["G_hi"], 64, "G < 0 at the bracket's right end", 6)
    enc(f"G' on {br} (n={n})", st["Gp_bracket"], 64,
        f"G' < 0 on the bracket ({st['pieces']} pieces): at most one zero there", 6)
    enc(f"s* (n={n})", st["s"], prec,
        f"a zero of G exists in this interval and is the only zero of G in {br} "
        f"(interval Newton: N(X) inside X)", digits + 5)
    enc(f"L(s*) (n={n})", st["L"], prec, "L(s*) > 0", digits + 5)
    A, B = certify.hessian_blocks_approx(n, st["s"])
    seen: dict = {}
    all_signs = True
    for d in dims:
        res = certify.certify_saddle(n, d, st["s"], certify.choose_directions(n, d, A, B), prec=128)
        out["saddle"][d] = res
        for r in res:
            all_signs &= r["proved"]
            # a direction without off-axis entries is the same integral in every d: name it once
            used = tuple(k for k in range(d) if any(row[k] != 0 for row in r["u"]))
            key = (r["label"], tuple(tuple(row[k] for k in used) for row in r["u"]), used)
            if key in seen:
                seen[key][1].append(d)
                continue
            seen[key] = (len(out["enclosures"]), [d])
            sign = "< 0" if r["label"].startswith("negative") else "> 0"
            axes = "e_1" if used == (0,) else "+".join(f"e_{k + 1}" for k in used)
            enc(f"u^T H u / |u|^2, {r['label']} direction along {axes} (n={n}, d={d})",
                r["rayleigh"], 128,
                f"curvature {sign} along u (u from the eigenvectors of an approximate Hessian, "
                f"dyadic entries); s ranges over the whole enclosure of s*", 20)
    for idx, ds in seen.values():   # name every d the enclosure covers
        e = out["enclosures"][idx]
        e.name = e.name.replace(f"d={ds[0]})", "d=" + ",".join(map(str, ds)) + ")")
    if not all_signs:
        out["reason"] = "a curvature sign could not be certified"
    else:
        out["certified"] = True
    out["seconds"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------------------------------------
# The check
# ------------------------------------------------------------------------------------------------

TIERS = {
    # n values; digits of s*/L; (n, d) grid for the core's gradient; Hessian n values and digits;
    # n values cross-checked against proofs.stationary.s_star.  Hessian: {n: digits of the
    # gradients it differentiates}; 10 digits lets the core pick its float64 path (the FD error
    # ~1e-6 is far below the smallest nonzero eigenvalue ~1e-2), more digits force mpmath.
    # The certified enclosures (verify.certify) decide the verdict's numbers; these numeric
    # checks are the independent cross-check, so the redundant ones are trimmed: the
    # configuration is collinear, so the core reduces it to the same 1-D integral in every d
    # (d = 2, 3 at n = 3 only); the finite-difference Hessian runs at the ends
    # of the n range and the closed-form spectrum of proofs.hessian at n = 3 only (the certified
    # curvatures cover every n).
    # quick (issue 20: the quick tier answers the claim at one n, fast): n = 3 at 30 digits; the certified
    # enclosures (s*, L(s*) > 0, both curvature signs in d = 1, 2) decide the class, the core's
    # gradient in d = 1 is the independent stationarity test; the finite-difference Hessian and
    # d = 3 (rotated copies of the d = 2 directions) run in the full tier only.
    "quick": {"ns": (3,), "digits": 30, "grad_dims": {3: (1,)},
              "grad_digits": 30, "hessian": {}, "proofs_ns": (), "certify_dims": (1, 2),
              "derivation": False},
    "full": {"ns": tuple(range(3, 11)), "digits": 40,
             "grad_dims": {n: ((1, 2, 3) if n == 3 else (1,)) for n in range(3, 11)},
             "grad_digits": 40,
             "hessian": {3: 10, 10: 10},
             "proofs_ns": (3,), "certify_dims": (1, 2, 3)},
}


def _compute(tier: str = "quick", seed: int = 20260101, *, stationarity_sign: int = 1,
             claimed_kind: str | None = None, ns: tuple | None = None,
             hessian: bool = True, cross_checks: bool = True,
             claimed_s_star: dict | None = None, certify: bool = True) -> dict:
    """Run the check (``seed`` is unused: nothing is random here; kept for the common interface).

    stationarity_sign=-1 solves a deliberately wrong condition; claimed_kind (one of KINDS) adds a
    claim about the Hessian class; ns overrides the tier's n values (tests); cross_checks=False
    skips the comparisons with the symbolic layer (proofs/), which do not affect the verdict
    unless they disagree.  claimed_s_star {n: value} adds a claimed location: the core's gradient
    at the claimed configuration must vanish below its floor too, else REFUTED.  certify=False
    skips the interval enclosures (then the assurance is "numeric").  The assurance is
    "certified" when every n is certified: s*, L(s*) > 0 and both curvature signs enclosed
    (stationarity of the whole configuration from G(s*) = 0 is the symbolic derivation
    proofs.stationary: the other gradients vanish or are opposite by symmetry)."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {tuple(TIERS)}, got {tier!r}")
    if claimed_kind is not None and claimed_kind not in KINDS:
        raise ValueError(f"claimed_kind must be one of {KINDS}")
    cfg = dict(TIERS[tier])
    if ns is not None:
        cfg["ns"] = tuple(ns)
    t0 = time.perf_counter()
    digits = cfg["digits"]
    quantities, findings, rows, hess_rows = [], [], [], []
    failures: list[tuple[str, dict]] = []     # (verdict, witness/reason)
    profile_lines, marks, spectra_lines = [], [], []
    per_n: dict[int, dict] = {}
    hess_kinds = {}
    certs: dict[int, dict] = {}
    enclosures: list = []
    cert_rows: list = []
    do_certify = certify and stationarity_sign == 1

    for n in cfg["ns"]:
        root = find_s_star(n, digits, stationarity_sign)
        if not root["found"]:
            failures.append((INCONCLUSIVE, {"_key": "exists", "n": n, "reason": f"G keeps its sign on s in "
                                            f"[{SCAN[0]}, {SCAN[-1]}]: no root found"}))
            continue
        ctx, s, s_err = root["ctx"], root["s"], root["s_err"]
        L, L_err = profile_L(ctx, s, n)
        entry = {"s": s, "s_err": s_err, "L": L, "L_err": L_err, "grads": [], "ctx": ctx,
                 "G_prime": root["G_prime"]}
        per_n[n] = entry
        claimed_s = (claimed_s_star or {}).get(n)
        quantities.append(quantity(f"s* (n={n})", s, s_err, precision=f"dps={ctx.dps}",
                                   claimed=None if claimed_s is None else str(claimed_s),
                                   relation="" if claimed_s is None else "==",
                                   digits=digits + 2,
                                   note=f"root of G in {root['bracket']}; "
                                        f"{root['sign_changes']} sign change(s) on the scan grid"))
        quantities.append(quantity(f"L(s*) (n={n})", L, L_err, claimed="0", relation=">=",
                                   precision=f"dps={ctx.dps}", digits=digits + 2,
                                   note="strictly positive required; own 1-D tanh-sinh integral s^2 E[(w_1 - w_2)^2]"))
        if not (L > 0 and L_err < L / 10 ** (digits - 2)):
            failures.append((INCONCLUSIVE, {"_key": "positive_loss", "n": n, "reason": "L(s*) not resolved as positive"}))
        if do_certify:
            cp = certified_point(n, digits, cfg["certify_dims"])
            certs[n] = cp
            enclosures.extend(cp["enclosures"])
            st = cp["stationary"]
            if cp["certified"]:
                # the numeric root (tanh-sinh, own direct-form integrand) must sit in the enclosure
                # widened by its own error bar: the independent cross-check of both
                sc = ctx.mpf(st["s"].mid().str(int(st["prec_bits"] * 0.30103) + 5, radius=False))
                gap = abs(s - sc)
                allowed = s_err + ctx.mpf(st["s"].rad().str(5, radius=False))
                entry["cert_gap"] = gap
                if gap > allowed:
                    failures.append((INCONCLUSIVE, {"_key": "exists", "n": n, "reason": f"numeric s* {nstr(s, 20)} "
                                                    f"outside the certified enclosure (gap {nstr(gap, 3)})"}))
                curv = {r["label"] + f" d={d}": r["rayleigh"] for d, rs in cp["saddle"].items() for r in rs}
                neg = min(curv.items(), key=lambda kv: float(kv[1].mid()))
                pos = max(curv.items(), key=lambda kv: float(kv[1].mid()))
                lo_b, hi_b = st["bracket"]
                cert_rows.append([str(n), f"[{_frac_str(lo_b)}, {_frac_str(hi_b)}]",
                                  st["s"].str(digits + 2, radius=False), f"{float(2 * st['s'].rad()):.1e}",
                                  st["L"].str(12, radius=False),
                                  f"{float(st['Gp_bracket'].upper()):.3g}",
                                  f"{neg[1].str(8, radius=False)} ({neg[0]})",
                                  f"{pos[1].str(8, radius=False)} ({pos[0]})",
                                  (nstr(gap, 2) if gap else "0") + f" (dps={ctx.dps})"])
        # the core's gradient in several dimensions: the independent test of stationarity
        for d in cfg["grad_dims"].get(n, (1,)):
            cg = core_gradient(s, n, d, cfg["grad_digits"])
            # moving s by s_err changes the gradient by about |G'| s_err
            floor = GRAD_FLOOR_FACTOR * (float(cg["error"]) + float(abs(root["G_prime"]) * s_err))
            # the core counts digits relative to the gradient's norm, which it cannot reach for a
            # vanishing gradient (ok=False); zero within its error estimate is the test
            is_zero = math.isfinite(float(cg["error"])) and float(cg["max_abs"]) <= floor
            agree = _agreement_digits(ctx, L, cg["F"])
            entry["grads"].append((d, cg, floor, is_zero, agree))
            rows.append([str(n), str(d), nstr(cg["max_abs"], 4), nstr(cg["error"], 3),
                         f"{floor:.3g}", "yes" if is_zero else "NO", f"{agree:.1f}",
                         cg["precision"].describe()])
            if not is_zero:
                failures.append((REFUTED, {"_key": "stationary", 
                    "n": n, "d": d, "s": nstr(s, digits + 2), "condition_sign": stationarity_sign,
                    "max_abs_grad": nstr(cg["max_abs"], 6), "grad_error": nstr(cg["error"], 3),
                    "floor": f"{floor:.3g}", "precision": cg["precision"].describe(),
                    "why": "the full gradient of F at the computed root is not zero"}))
            elif agree < digits - 2:
                failures.append((INCONCLUSIVE, {"_key": "positive_loss", "n": n, "reason": f"L(s*) from the 1-D integral and "
                                                f"the core's F agree to {agree:.1f} digits only"}))
        if per_n[n]["grads"]:
            d0, cg0 = per_n[n]["grads"][0][:2]
            quantities.append(quantity(f"max |grad F| at s* (n={n}, d={d0})", cg0["max_abs"],
                                       cg0["error"], claimed="0", relation="==",
                                       precision=cg0["precision"], digits=4,
                                       note=f"core kernel {cg0['engine']}, rule {cg0['rule']}"))
        if claimed_s is not None:
            sc = _precision.exact(claimed_s, "claimed s*")
            cg = core_gradient(sc, n, 1, cfg["grad_digits"])
            floor = GRAD_FLOOR_FACTOR * float(cg["error"])
            if float(cg["max_abs"]) > floor:
                failures.append((REFUTED, {"_key": "location", 
                    "n": n, "d": 1, "claimed_s_star": str(claimed_s), "computed_s_star": nstr(s, digits),
                    "max_abs_grad_at_claimed": nstr(cg["max_abs"], 6), "floor": f"{floor:.3g}",
                    "precision": cg["precision"].describe(),
                    "why": "the gradient of F at the claimed s* is not zero"}))
        # cross-check with the symbolic layer's s*
        if cross_checks and n in cfg["proofs_ns"] and stationarity_sign == 1:
            other = _proofs_s_star(n, digits)
            if other is not None:
                ag = _agreement_digits(ctx, s, ctx.convert(other))
                entry["proofs_agreement"] = ag
                findings.append(f"n={n}: s* agrees with the symbolic derivation's root of Phi_n = 0 "
                                f"(proofs/stationary.py) to {ag:.1f} digits.")
                if ag < digits - 2:
                    failures.append((INCONCLUSIVE, {"_key": "exists", "n": n, "reason": f"s* disagrees with "
                                                    f"the symbolic derivation (proofs/stationary.py; {ag:.1f} digits)"}))
        # loss profile for the figure (a plot needs ~15 digits: Arb at 64 bits, ~0.01 s a point)
        xs = [0.2 * k for k in range(1, 21)]
        profile_lines.append(Line(f"n={n}", xs, _profile_points(xs, n)))
        marks.append({"x": float(s), "y": float(L), "label": f"s* (n={n})"})

        # the Hessian
        if hessian and n in cfg["hessian"] and stationarity_sign == 1:
            hd = cfg["hessian"][n]
            H1 = hessian_fd(s, n, 1, hd)
            H2 = hessian_fd(s, n, 2, hd)
            hctx = H2["ctx"]
            cross = _cross_block(H2["H"], n)
            E3 = hessian_d3_from_d2(H2["E"], hctx, n)
            H3 = hessian_d3_from_d2(H2["H"], hctx, n)
            for d, (H, E) in ((1, (H1["H"], H1["E"])), (2, (H2["H"], H2["E"])), (3, (H3, E3))):
                cl = classify_hessian(H, E, hctx, n, d, s)
                hess_kinds[(n, d)] = cl
                hess_rows.append([str(n), str(d), ", ".join(nstr(x, 8) for x in cl["eigenvalues"]),
                                  f"{float(cl['tol']):.2g}", str(cl["negative"]), str(cl["zero"]),
                                  str(cl["expected_zero"]), str(cl["split_zero"]), str(cl["positive"]),
                                  cl["kind"],
                                  f"{hd} digits, h={nstr(H2['h'], 2)}; " + "; ".join(H2["precision"])])
                quantities.append(common.Quantity(
                    name=f"Hessian class (n={n}, d={d})", value=cl["kind"],
                    precision=f"{hd} digits (FD)",
                    claimed=claimed_kind, relation="==" if claimed_kind else "",
                    note=f"{cl['negative']} negative, {cl['zero']} zero (expected {cl['expected_zero']}"
                         f" from rotations + {cl['split_zero']} from splitting the components at the "
                         f"target off the line), {cl['positive']} positive; tol {float(cl['tol']):.2g}"))
                if not cl["zero_explained"]:
                    findings.append(f"n={n}, d={d}: {cl['zero']} zero eigenvalues within the FD "
                                    f"tolerance, expected {cl['expected_zero']} + {cl['split_zero']}.")
                spectra_lines.append(Line(f"n={n}, d={d}", list(range(1, len(cl["eigenvalues"]) + 1)),
                                          [float(x) for x in cl["eigenvalues"]]))
            findings.append(
                f"n={n}: e_1/e_2 cross block of the d=2 Hessian is {nstr(cross, 3)} (zero by the "
                f"reflection y_2 -> -y_2), so the d=3 Hessian is assembled from the e_1 and e_2 blocks.")
            # the closed form at 12 digits (22 working): the comparison below resolves the FD
            # Hessian's ~1e-7 error; 20 digits moved the eigenvalues by 3e-23 and took 1.3x the time
            spec = _proofs_spectrum(n, 2, 12, s) if cross_checks and n == 3 else None
            if spec is not None:
                _, ea, eb, _ = spec
                mine = hess_kinds[(n, 2)]["eigenvalues"]
                theirs = sorted([hctx.convert(x) for x in list(ea) + list(eb)])
                diff = max(abs(a - b) for a, b in zip(mine, theirs))
                findings.append(
                    f"n={n}, d=2: FD Hessian eigenvalues agree with the closed-form expected "
                    f"Hessian of the symbolic derivation (proofs/hessian.py) to {nstr(diff, 2)} "
                    f"(FD tolerance {nstr(hess_kinds[(n, 2)]['tol'], 2)}).")
                if diff > 10 * hess_kinds[(n, 2)]["tol"]:
                    failures.append((INCONCLUSIVE, {"_key": "kind", "n": n, "reason": "FD Hessian disagrees with "
                                                    "the symbolic derivation (proofs/hessian.py)"}))
            if claimed_kind is not None:
                for d in (1, 2, 3):
                    cl = hess_kinds[(n, d)]
                    if cl["kind"] != claimed_kind:
                        failures.append((REFUTED, {"_key": "kind", 
                            "n": n, "d": d, "s": nstr(s, digits), "claimed_kind": claimed_kind,
                            "computed_kind": cl["kind"],
                            "eigenvalues": [nstr(x, 10) for x in cl["eigenvalues"]],
                            "tolerance": nstr(cl["tol"], 3)}))

    # findings about the kind of point
    kinds = sorted({cl["kind"] for cl in hess_kinds.values()})
    if kinds:
        d1 = [(n, cl) for (n, d), cl in hess_kinds.items() if d == 1]
        msg = "; ".join(f"n={n}: {cl['negative']} negative / {cl['positive']} positive eigenvalue(s)"
                        f" in d=1" for n, cl in d1)
        findings.append(
            f"Hessian class at s*: {', '.join(kinds)} ({msg}).  The point is a maximum of the loss "
            "along the family s -> (s e_1, -s e_1, 0, ...) but not a local maximum of F: moving the "
            "components at the target gives positive curvature, so it is a saddle (the paper's "
            "summary only says 'stationary point').  Zero eigenvalues: d - 1 from the common "
            "rotation (checked on its generator) and, for n >= 4, (n - 3)(d - 1) from splitting "
            "the n - 2 coincident components at the target perpendicular to e_1 (F changes only at "
            "fourth order there: the weight change is proportional to (u.y)^2 - 1, of mean zero); "
            "their FD values are O(h^2), inside the error estimate.")
    if per_n:
        findings.append("s* grows slowly with n: " + ", ".join(
            f"n={n}: {nstr(e['s'], 8)}" for n, e in per_n.items()) + ".")

    # the certified statements
    if do_certify and certs:
        ok = [n for n, cp in certs.items() if cp["certified"]]
        bad = {n: cp["reason"] for n, cp in certs.items() if not cp["certified"]}
        if ok:
            worst_w = max(float(2 * certs[n]["stationary"]["s"].rad()) for n in ok)
            negs = "; ".join(f"n={n}: {_min_curv(certs[n]).str(8, radius=False)}" for n in ok)
            findings.append(Finding(
                headline=(f"Proved by interval enclosures (Arb) for n = {ok[0]}..{ok[-1]} in d = "
                          f"{', '.join(map(str, cfg['certify_dims']))}: the stationary point is a "
                          "saddle of F, with a direction of strictly negative and one of strictly "
                          "positive curvature (u^T H u enclosed, s* ranging over its enclosure)."),
                value="most negative enclosed curvature u^T H u / |u|^2: " + negs,
                evidence="Certified enclosures (Arb ball arithmetic)", kind="finding",
                detail=("s* is enclosed to within " + f"{worst_w:.1e}" + " (interval Newton), "
                        "unique in its bracket (G' < 0 there); L(s*) > 0 enclosed.  Off-axis "
                        "directions (d >= 2) reduce exactly to 1-D integrals (2-point Gauss-Hermite "
                        "rule in the other coordinates, exact for the degree <= 2 polynomials "
                        "that appear).")))
        for n, why in bad.items():
            findings.append(Finding(headline=f"n={n}: certified: false -- {why}; this n keeps "
                                             "numeric assurance.", kind="note"))
    certified_all = (do_certify and bool(certs) and set(certs) == set(cfg["ns"])
                     and all(cp["certified"] for cp in certs.values()))
    if claimed_kind is not None and certified_all and claimed_kind != "saddle":
        n0 = min(certs)
        failures.append((REFUTED, {"_key": "kind", "n": n0, "claimed_kind": claimed_kind, "certified_kind": "saddle",
                                   "curvature_enclosures": [f"{e.name}: [{e.lo}, {e.hi}]"
                                                            for e in certs[n0]["enclosures"]
                                                            if e.name.startswith("u^T")]}))

    figures = [Figure(id="thm3.1-profile", title="Loss along the family (s e_1, -s e_1, 0, ...)",
                      xlabel="s", ylabel="L(s)", lines=profile_lines, marks=marks)]
    if spectra_lines:
        figures.append(Figure(id="thm3.1-spectrum", title="Hessian eigenvalues at s* (ascending)",
                              xlabel="index", ylabel="eigenvalue", lines=spectra_lines))
    tables = [{"title": "Full gradient of F at s* (numeric core)",
               "columns": ["n", "d", "max |grad|", "error est.", "floor", "zero", "F vs L digits",
                           "precision"], "rows": rows}]
    if hess_rows:
        tables.append({"title": "Hessian at s* (central differences of the core's gradient)",
                       "columns": ["n", "d", "eigenvalues", "tol", "neg", "zero", "zero: rotations",
                                   "zero: splits of the target cluster", "pos", "class",
                                   "gradient precision"], "rows": hess_rows})
    # the SymPy derivation (a cross-check and the report's formulas: ~10 s) runs in the full tier
    derivation = (_proofs_derivation(per_n, digits)
                  if stationarity_sign == 1 and cross_checks and cfg.get("derivation", True) else None)
    inputs = {"tier": tier, "seed": seed, "ns": list(cfg["ns"]), "digits": digits,
              "grad_dims": {str(k): list(v) for k, v in cfg["grad_dims"].items() if k in cfg["ns"]},
              "grad_digits": cfg["grad_digits"],
              "hessian_digits": {str(k): v for k, v in cfg["hessian"].items()
                                 if k in cfg["ns"]} if hessian else {}, "stationarity_sign": stationarity_sign,
              "claimed_kind": claimed_kind, "cross_checks": cross_checks, "scan_grid": [SCAN[0], SCAN[-1], 0.5],
              "root_solver": "mpmath findroot anderson on own 1-D direct-form integral (tanh-sinh)",
              "grad_floor_factor": GRAD_FLOOR_FACTOR}
    if cert_rows:
        tables.append({"title": "Certified enclosures (Arb ball arithmetic)",
                       "columns": ["n", "bracket (G' < 0, G changes sign)", "s* (midpoint)",
                                   "s* width", "L(s*)", "sup G' on bracket",
                                   "most negative curvature", "most positive curvature",
                                   "|numeric s* - certified|"],
                       "rows": cert_rows})
    if certs:
        inputs["certified"] = {
            str(n): {"certified": cp["certified"], "reason": cp["reason"],
                     "prec_bits": cp["stationary"].get("prec_bits"),
                     "directions": {f"d={d}": {r["label"]: [[_frac_str(x) for x in row] for row in r["u"]]
                                               for r in rs} for d, rs in cp["saddle"].items()}}
            for n, cp in certs.items()}
        inputs["certify_method"] = ("python-flint Arb: acb.integral on [-T, T] + majorant Gaussian "
                                    "tail bound; order-2 series in a perturbation parameter; "
                                    "interval Newton")
    return {"tier": tier, "seed": seed, "ns": list(cfg["ns"]), "digits": digits,
            "per_n": per_n, "hess_kinds": hess_kinds, "certs": certs,
            "certified_all": certified_all, "failures": failures, "quantities": quantities,
            "findings": findings, "figures": figures, "tables": tables, "inputs": inputs,
            "derivation": derivation, "enclosures": enclosures, "cfg": cfg,
            "timings": {f"certification n={n}: seconds": cp["seconds"]
                        for n, cp in sorted(certs.items())},
            "seconds": time.perf_counter() - t0}


def _profile_points(xs, n: int) -> list[float]:
    """L(x) for the figure: Arb midpoints at 64 bits (verify.certify), mpmath if flint is absent."""
    try:
        from verify import certify
        return [float(certify.loss_L(n, x, 64).mid()) for x in xs]
    except ImportError:
        lo = _precision.context(20)
        return [float(profile_L(lo, x, n)[0]) for x in xs]


def _min_curv(cp: dict):
    return min((r["rayleigh"] for rs in cp["saddle"].values() for r in rs),
               key=lambda b: float(b.mid()))


def _agreement_digits(ctx, a, b) -> float:
    a, b = ctx.convert(a), ctx.convert(b)
    if a == b:
        return float(ctx.dps)
    scale = max(abs(a), abs(b))
    return float(-ctx.log10(abs(a - b) / scale)) if scale else float(ctx.dps)


# ------------------------------------------------------------------------------------------------
# The statement as data (SPEC §5): conclusions decided on the evidence of _compute
# ------------------------------------------------------------------------------------------------

STATEMENT_DATA = Statement(
    hypotheses={"n": "n >= 3 student means", "configuration": "c_1 = s e_1, c_2 = -s e_1, "
                "c_k = 0 for k >= 3, some s* > 0", "d": "any dimension d >= 1"},
    conclusions=(
        Conclusion("exists", "for every n there is s* > 0 where the 1-D stationarity condition "
                   "G(s) = 0 holds", "value", "a root for every n", "=="),
        Conclusion("stationary", "the whole gradient of F vanishes at the configuration with s*",
                   "identity", 0, "=="),
        Conclusion("positive_loss", "the loss at the point is strictly positive", "sign",
                   "positive", "=="),
        Conclusion("kind", "the point is a stationary point of F (its kind is not stated)",
                   "class", "stationary point", "=="),
    ),
    reading={"kind": "the statement says 'stationary point' only: the computed class (Hessian "
                     "signs, certified) is reported, and a claimed kind is decided against it"})

TWINS = [
    Twin("local-maximum", "the point is a local maximum of F: the certified curvature is "
         "positive along a direction moving the components at the target",
         STATEMENT_DATA.replace("kind", claimed="local maximum",
                                text="the point is a local maximum of F")),
    Twin("local-minimum", "the point is a local minimum of F: the certified curvature is negative "
         "along the family s -> (s e_1, -s e_1, 0, ...)",
         STATEMENT_DATA.replace("kind", claimed="local minimum",
                                text="the point is a local minimum of F")),
    Twin("zero-loss", "the loss at the point is zero (a global minimum): L(s*) is enclosed away "
         "from 0", STATEMENT_DATA.replace("positive_loss", claimed="zero",
                                           text="the loss at the point is zero")),
]


def observe(tier: str = "quick", seed: int = 20260101, **kw) -> dict:
    """All the computation (roots, enclosures, core gradients, Hessians), once."""
    return _compute(tier, seed, **kw)


def _failures(obs, key, verdict=None):
    return [w for v, w in obs["failures"] if w.get("_key") == key and (verdict is None or v == verdict)]


def _classes(obs, n) -> set:
    """What the evidence shows the point is at n: 'stationary point' when the full gradient
    vanishes, plus each Hessian class computed (certified enclosures, FD Hessian per d)."""
    out = set()
    if n in obs["per_n"] and obs["per_n"][n]["grads"] and not any(
            w.get("n") == n for w in _failures(obs, "stationary", REFUTED)):
        out.add("stationary point")
    cp = obs["certs"].get(n)
    if cp and cp["certified"]:
        out.add("saddle")
    out |= {cl["kind"] for (m, d), cl in obs["hess_kinds"].items() if m == n}
    return out


def decide(statement: Statement, obs) -> list[Decision]:
    ns, per_n = obs["ns"], obs["per_n"]
    out = []
    missing = [n for n in ns if n not in per_n]
    und = _failures(obs, "exists", INCONCLUSIVE)
    cert = [n for n in ns if obs["certs"].get(n, {}).get("certified")]
    out.append(Decision("exists", None if (missing or und) else True,
                        (f"s* found for n = {', '.join(map(str, per_n))}"
                         + (f"; none for n = {', '.join(map(str, missing))}" if missing else "")
                         + (f"; enclosed (interval Newton) for n = {', '.join(map(str, cert))}"
                            if cert else "")),
                        "sign change of G on the scan grid, root to the digits asked; Arb "
                        "enclosure where certified"))
    bad = _failures(obs, "stationary", REFUTED)
    rows = [(n, g) for n, e in per_n.items() for g in e["grads"]]
    worst = max(rows, key=lambda r: float(r[1][1]["max_abs"]) / max(r[1][2], 1e-300)) if rows else None
    out.append(Decision(
        "stationary", False if bad else (True if rows and not missing else None),
        (f"largest |grad F| {nstr(worst[1][1]['max_abs'], 3)} against its floor "
         f"{worst[1][2]:.3g} (n={worst[0]}, d={worst[1][0]})" if worst else "no gradient computed"),
        "the engine's full gradient at s* in d = 1..3 (another integrand and rule than G)"))
    claimed = statement.conclusion("positive_loss").claimed
    signs, texts = [], []
    for n in ns:
        if n not in per_n:
            signs.append(None)
            continue
        e = per_n[n]
        cp = obs["certs"].get(n)
        if cp and cp["certified"]:
            lo = cp["stationary"]["L"].lower()
            sign = "positive" if lo > 0 else None
            texts.append(f"n={n}: L(s*) >= {float(lo):.6g} (enclosure)")
        else:
            sign = "positive" if e["L"] > 0 and e["L_err"] < e["L"] else None
            texts.append(f"n={n}: L(s*) = {nstr(e['L'], 8)} +- {nstr(e['L_err'], 2)}")
        signs.append(sign)
    if any(sg is None for sg in signs):
        holds = None
    else:
        holds = all(sg == claimed for sg in signs)
    out.append(Decision("positive_loss", holds, "; ".join(texts),
                        "Arb enclosure of L(s*) where certified, else the 1-D integral with its "
                        "error"))
    kind = statement.conclusion("kind").claimed
    per_n_hold, texts = [], []
    for n in ns:
        cls = _classes(obs, n)
        texts.append(f"n={n}: {', '.join(sorted(cls)) or 'nothing decided'}")
        if n not in per_n or not per_n[n]["grads"]:
            per_n_hold.append(None)       # no point found or no gradient computed at this n
        elif kind in cls:
            per_n_hold.append(True)
        elif kind == "stationary point" or cls - {"stationary point"}:
            per_n_hold.append(False)
        else:
            per_n_hold.append(None)       # no Hessian class computed at this n
    holds = False if False in per_n_hold else (None if None in per_n_hold else True)
    out.append(Decision("kind", holds, "; ".join(texts),
                        "stationarity from the full gradient; class from the certified curvature "
                        "signs and the finite-difference Hessian"))
    loc = [c for c in statement.conclusions if c.key == "location"]
    if loc:
        fails = _failures(obs, "location", REFUTED)
        out.append(Decision("location", not fails,
                            "; ".join(f"n={w['n']}: computed s* {w['computed_s_star']}, gradient "
                                      f"at the claimed {w['max_abs_grad_at_claimed']}" for w in fails)
                            or "the gradient vanishes at the claimed s*",
                            "the engine's gradient at the claimed s*"))
    return out


class _Variant:
    """The module with another statement (a test's claimed kind or location)."""

    def __init__(self, statement):
        mod = sys.modules[__name__]
        self.__dict__.update({k: getattr(mod, k) for k in ("ID", "TITLE", "STATEMENT",
                                                           "PROVENANCE", "TWINS", "decide")})
        self.STATEMENT_DATA = statement


def check(tier: str = "quick", seed: int = 20260101, *, stationarity_sign: int = 1,
          claimed_kind: str | None = None, ns: tuple | None = None,
          hessian: bool = True, cross_checks: bool = True,
          claimed_s_star: dict | None = None, certify: bool = True) -> common.ClaimRecord:
    """Run the check (``seed`` is unused: nothing is random here).  The keyword arguments are
    for tests: stationarity_sign=-1 solves a deliberately wrong condition; claimed_kind (one of
    KINDS) replaces the statement's kind; claimed_s_star {n: value} adds a claimed location; ns
    overrides the tier's n values; hessian/cross_checks/certify=False skip parts."""
    from dataclasses import replace as _replace
    t0 = time.perf_counter()
    obs = _compute(tier, seed, stationarity_sign=stationarity_sign, claimed_kind=claimed_kind,
                   ns=ns, hessian=hessian, cross_checks=cross_checks,
                   claimed_s_star=claimed_s_star, certify=certify)
    st = STATEMENT_DATA
    if claimed_kind is not None:
        st = st.replace("kind", claimed=claimed_kind, text=f"the point is a {claimed_kind} of F")
    if claimed_s_star:
        st = _replace(st, conclusions=st.conclusions + (Conclusion(
            "location", "s* = " + ", ".join(f"{v} (n={n})" for n, v in claimed_s_star.items()),
            "value", {str(n): str(v) for n, v in claimed_s_star.items()}, "=="),))
    mod = sys.modules[__name__] if st is STATEMENT_DATA else _Variant(st)
    verdict = judge(mod.decide, st, obs)[0]
    refuted = [{k: v for k, v in w.items() if k != "_key"} for v0, w in obs["failures"]
               if v0 == REFUTED]
    extra = dict(refuted[0], further_failures=len(refuted) - 1) if refuted else {}
    cfg = obs["cfg"]
    ns_run = obs["ns"]
    rec = common.decided_record(
        mod, obs, assurance="certified" if obs["certified_all"] and verdict == CONFIRMED else "numeric",
        tier=tier,
        tested=(f"n = {ns_run[0]}" + (f"..{ns_run[-1]}" if len(ns_run) > 1 else "")
                + "; the engine's full gradient in d = "
                + "; ".join(f"{', '.join(map(str, ds))} at n = {n}" for n, ds in cfg["grad_dims"].items()
                            if n in ns_run and len(ds) > 1) + (" and " if any(
                                len(ds) > 1 for n, ds in cfg["grad_dims"].items() if n in ns_run) else "")
                + "1 otherwise; certified enclosures of s*, L(s*) and both curvature signs in d = "
                f"{', '.join(map(str, cfg['certify_dims']))}; "
                + ("finite-difference Hessian at n = " + ", ".join(map(str, cfg["hessian"])) + "; "
                   if cfg["hessian"] else "")
                + f"{obs['digits']} digits"),
        in_scope="partly",
        scope_reason=f"the statement is for every n >= 3 and every d; n up to {ns_run[-1]} and "
                     "d up to 3 were run (the configuration is collinear, so larger d adds only "
                     "rotated copies of the d = 2 directions)",
        quantities=obs["quantities"], findings=obs["findings"], witness=extra,
        figures=obs["figures"], tables=obs["tables"], inputs=obs["inputs"],
        derivation=obs["derivation"],
        enclosures=obs["enclosures"] if obs["certified_all"] else [], timings=obs["timings"])
    rec.runtime_s = time.perf_counter() - t0
    return rec
