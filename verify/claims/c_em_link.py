"""Claim ``em-link`` (Lemma 2.2 as reported): near the target, score-matching GD is gradient EM
with a doubled step plus cubic corrections.

Statement: the gradient-EM direction E[w_i (y - c_i)] equals -E[w_i v] (Stein's lemma), so the
first term 2 E[w_i v] of the score-matching gradient is -2 times the EM direction, and along
c = s u the rest, R(s) = grad F + 2 EM, is O(s^3) as s -> 0.
Provenance: as reported by the public summary (Lemma 2.2 and the link to Xu, Fazel, Du 2024);
the s^3 coefficient is this project's derivation (proofs/em_link.py).  Asymptotic claim.

Check: (1) the identity on a few configurations, from two independent integrands in two engines
(the EM direction from mpmath, E[w_i v] from the Arb kernel), within their error estimates;
(2) R(s)/s^3 for s = s0, s0/2, s0/4, ... (high precision: R is s^2 smaller than the gradient):
the ratio stays bounded and converges to the derived s^3 coefficient, with the gap shrinking like
s^2 (factor ~4 per halving).

As data (SPEC §5): the statement claims grad F = factor x EM + O(s^power) with factor -2 and
power 3, and an s^3 coefficient of the remainder (2/n)[a Mbar u_i + b ubar <ubar, u_i>
+ c Mbar ubar + e |ubar|^2 ubar] with (a, b, c, e) = (1, -2, -2, 3) (ubar = mean u_k, Mbar = mean
u_k u_k^T; derived in proofs/em_link.py).  ``observe`` computes grad F and the EM direction at
each s once (both in the Arb kernel, engine_arb); ``decide`` forms the remainder with the claimed
factor, scales it by the claimed power and compares its limit with the claimed coefficient -- so
a twin with a wrong factor, power or coefficient is decided by the same numbers.  The quick tier
runs the derivation's symbolic steps only when asked (the full tier runs them with its spot
check); the verdict rests on the numbers.
"""
from __future__ import annotations

import math

import mpmath

from verify import engine_arb, model
from verify.claims.common import decided_record, plain_tuple, quantity
from verify.claims.statement import Conclusion, Decision, Statement, Twin
from verify.claims.record import Finding
from verify.claims.symbolic_common import run_derivation
from verify.precision import context

ID = "em-link"
TITLE = "Score-matching gradient = -2 x gradient-EM direction + O(s^3) (Lemma 2.2)"
STATEMENT = ("E[w_i (y - c_i)] = -E[w_i v]; hence the score-matching gradient is -2 times the "
             "gradient-EM direction plus a remainder that is cubic in the scale s of the parameters.")
PROVENANCE = ("Lemma 2.2 and the gradient-EM connection as reported by the public summary; "
              "remainder coefficient derived here.")

U_CONFIGS = [
    [["1", "0.5"], ["-0.6", "0.2"], ["0.3", "-0.9"]],   # n = 3, d = 2
    [["0.8"], ["-1.3"]],                                  # n = 2, d = 1
]


# (divisor of u, digits) at which the identity E[w_i(y - c_i)] = -E[w_i v] is checked, per tier
IDENTITY_POINTS = {"quick": [(2, 16)], "full": [(2, 16), (4, 30)]}


def identity_gap(c, digits: int):
    """max |E[w_i (y - c_i)] + E[w_i v]|, whether it is within the two error estimates, and the
    precision.  The two sides come from independent integrands *and* engines: the EM direction
    from mpmath (model.em_direction: the integrands w_i and u w_i on its own rules), E[w_i v] from
    the Arb kernel (moments E[w_i], E[w_i eps] on its rules) at the same working precision.  (The
    Arb side is the cheap one: mpmath's E[w_i v] block climbs to ~15000 nodes at 16 digits for
    n = 3, its EM integrand stays at ~2300.)"""
    em = model.em_direction(c, digits)
    wv = engine_arb.ArbEvaluator(em.precision).wv(model.check_params(c))
    n, d = len(c), len(c[0])
    worst, ok = 0.0, True
    for i in range(n):
        for j in range(d):
            a, b = em.value[i][j], -wv.value[i][j]
            tol = em.error[i][j] + wv.error[i][j]
            ok &= abs(a - b) <= tol
            worst = max(worst, float(abs(a - b)))
    return worst, ok, em.precision


S3_TERMS = ("Mbar u_i", "ubar <ubar, u_i>", "Mbar ubar", "|ubar|^2 ubar")

STATEMENT_DATA = Statement(
    hypotheses={"regime": "near the target: c = s u with s -> 0",
                "loss": "F(c) = E|v|^2 without a factor 1/2 (the convention of the claims catalogue)"},
    conclusions=(
        Conclusion("identity", "E[w_i (y - c_i)] = -E[w_i v] (Stein's lemma)", "identity", 0, "=="),
        Conclusion("em_factor", "grad F = factor x (gradient-EM direction) + remainder, factor -2",
                   "factor", -2, "=="),
        Conclusion("remainder_order", "the remainder is O(s^3) as s -> 0", "rate", 3, "=="),
        Conclusion("s3_coefficient", "the remainder's s^3 coefficient is (2/n)[Mbar u_i - 2 ubar "
                   "<ubar, u_i> - 2 Mbar ubar + 3 |ubar|^2 ubar]", "value",
                   dict(zip(S3_TERMS, (1, -2, -2, 3))), "=="),
    ),
    reading={"bounded": "|R(s)|/s^power bounded as s -> 0: it grows by at most 1.5x per halving "
                        "of s (it converges to a limit)",
             "coefficient": "R(s)/s^3 converges to the claimed coefficient: the gap shrinks by at "
                            "least 2.5x per halving of s (the next order is s^5, a factor 4)"})

TWINS = [
    Twin("s3-cubic-coefficient", "the s^3 coefficient with |ubar|^2 ubar weighted 1 instead of 3: "
         "the Gaussian moments give 3",
         STATEMENT_DATA.replace("s3_coefficient", claimed=dict(zip(S3_TERMS, (1, -2, -2, 1))))),
    Twin("s3-sign", "the s^3 coefficient with + 2 ubar <ubar, u_i> instead of - 2 ubar <ubar, u_i>",
         STATEMENT_DATA.replace("s3_coefficient", claimed=dict(zip(S3_TERMS, (1, 2, -2, 3))))),
    Twin("em-factor-1", "grad F = -1 x EM + O(s^3) (single step, not doubled): the difference "
         "-EM is of order s, not s^3",
         STATEMENT_DATA.replace("em_factor", claimed=-1)),
    Twin("remainder-order-5", "the remainder O(s^5): its s^3 coefficient is not zero",
         STATEMENT_DATA.replace("remainder_order", claimed=5)),
]

# the scales s of c = s u, per tier
SCALES = {"quick": ["0.2", "0.1", "0.05"], "full": ["0.2", "0.1", "0.05", "0.025", "0.0125"]}


def _basis_terms(u, ctx):
    """The four s^3-coefficient terms (2/n)[Mbar u_i, ubar <ubar, u_i>, Mbar ubar, |ubar|^2 ubar]
    at u (n x d), each n x d."""
    n, d = len(u), len(u[0])
    U = [[ctx.convert(x) for x in r] for r in u]
    ub = [ctx.fsum(U[i][k] for i in range(n)) / n for k in range(d)]
    Mb = [[ctx.fsum(U[i][a] * U[i][b] for i in range(n)) / n for b in range(d)] for a in range(d)]
    ub2 = ctx.fsum(x * x for x in ub)
    Mub = [ctx.fsum(Mb[a][b] * ub[b] for b in range(d)) for a in range(d)]
    f = ctx.mpf(2) / n
    out = []
    for i in range(n):
        Mui = [ctx.fsum(Mb[a][b] * U[i][b] for b in range(d)) for a in range(d)]
        uu = ctx.fsum(a * b for a, b in zip(ub, U[i]))
        out.append([[f * Mui[k] for k in range(d)], [f * ub[k] * uu for k in range(d)],
                    [f * Mub[k] for k in range(d)], [f * ub2 * ub[k] for k in range(d)]])
    return out


def observe(tier: str = "quick", seed: int = 20260101) -> dict:
    quick = tier == "quick"
    der, der_ok, qs = (None, None, []) if quick else run_derivation("em-link", digits=30)
    digits = 20 if quick else 30
    scales = SCALES[tier]
    # quick: the n = 2, d = 1 direction (1-D integrals: seconds); full: also n = 3, d = 2
    configs = U_CONFIGS[1:] if quick else U_CONFIGS
    per = []
    for u in configs:
        ident = [(div, idigits) + identity_gap([[float(x) / div for x in r] for r in u], idigits)
                 for div, idigits in IDENTITY_POINTS[tier]]
        at_s = []
        for s in scales:
            extra = math.ceil(2 * -math.log10(float(s))) + 2   # R is ~s^2 below the gradient
            dps = digits + extra + 15
            ctx = context(dps)
            S = ctx.mpf(s)
            c = [[S * ctx.mpf(x) for x in r] for r in u]
            # the Arb kernel for both (~70x the mpmath core; mpmath where it does not apply)
            g = engine_arb.grad_F(c, digits + extra)
            em = engine_arb.em_direction(c, digits + extra)
            at_s.append({"s": s, "dps": dps, "g": g.value, "g_err": g.error, "em": em.value,
                         "em_err": em.error, "precision": g.precision})
        ctx = context(digits + 20)
        import proofs.em_link as pe
        _, derived = pe.s3_coefficients_numeric(u, ctx)
        per.append({"u": u, "identity": ident, "at_s": at_s, "basis": _basis_terms(u, ctx),
                    "derived": derived, "dps": digits + 20})
    return {"tier": tier, "seed": seed, "der": der, "der_ok": der_ok, "qs": qs, "digits": digits,
            "scales": scales, "per": per}


def _remainder(point, factor, power):
    """max |R(s)| / s^power and R(s)/s^3 componentwise, R = grad F - factor x EM, with the error
    of max|R|/s^power."""
    ctx = context(point["dps"])
    S, k = ctx.mpf(point["s"]), ctx.convert(_exact(factor))
    R = [[point["g"][i][j] - k * point["em"][i][j] for j in range(len(point["g"][0]))]
         for i in range(len(point["g"]))]
    err = max(point["g_err"][i][j] + abs(k) * point["em_err"][i][j]
              for i in range(len(R)) for j in range(len(R[0])))
    norm = max(abs(x) for r in R for x in r)
    return norm / S ** power, [[x / S ** 3 for x in r] for r in R], err / S ** power


def _exact(x):
    from verify.precision import exact
    return exact(str(x))


def decide(statement: Statement, obs) -> list[Decision]:
    factor = statement.conclusion("em_factor").claimed
    power = statement.conclusion("remainder_order").claimed
    coeffs = [statement.conclusion("s3_coefficient").claimed[t] for t in S3_TERMS]
    id_ok, id_worst = True, 0.0
    bounded, converging = True, True
    grows, shrink, extraps = [], [], []
    for p in obs["per"]:
        for div, idig, gap, ok, prec in p["identity"]:
            id_ok &= ok
            id_worst = max(id_worst, gap)
        ctx = context(p["dps"])
        claimed = [[ctx.fsum(ctx.convert(_exact(a)) * b[t][k] for t, a in enumerate(coeffs))
                    for k in range(len(p["u"][0]))] for b in p["basis"]]
        scaled, gaps, R3s = [], [], []
        for point in p["at_s"]:
            sc, R3, _err = _remainder(point, factor, power)
            scaled.append(float(sc))
            R3s.append(R3)
            gaps.append(float(max(abs(R3[i][j] - claimed[i][j]) for i in range(len(R3))
                                  for j in range(len(R3[0])))))
        # Richardson: the limit of R(s)/s^3 (next order s^2) from the last two scales must lie
        # within a tenth of the last change of R(s)/s^3 of the claimed coefficient (the
        # extrapolation's own error is O(s^4), the change O(s^2): s^2 = 0.0025 at s = 0.05)
        a, b = R3s[-2], R3s[-1]
        idx = [(i, j) for i in range(len(a)) for j in range(len(a[0]))]
        extrap = max(abs((4 * b[i][j] - a[i][j]) / 3 - claimed[i][j]) for i, j in idx)
        change = max(abs(b[i][j] - a[i][j]) for i, j in idx)
        converging &= extrap <= change / 10
        extraps.append((float(extrap), float(change)))
        ratios = [b / a for a, b in zip(scaled, scaled[1:])]
        bounded &= all(r <= 1.5 for r in ratios)
        grows += ratios
        sh = [a / b if b > 0 else math.inf for a, b in zip(gaps, gaps[1:])]
        converging &= all(r >= 2.5 for r in sh)
        shrink += sh
    out = [Decision("identity", id_ok, f"largest gap {id_worst:.2g}, within the error estimates"
                    if id_ok else f"largest gap {id_worst:.2g} exceeds the error estimates",
                    "the EM direction (mpmath) and -E[w_i v] (Arb kernel): two integrands, "
                    "two engines")]
    # the factor and the power decide one and the same scaled remainder: each is its own conclusion
    # so that a twin changing one of them names it
    gtext = ", ".join(f"{r:.3g}" for r in grows)
    basis = (f"|grad F - ({factor}) EM| / s^{power} at s = {', '.join(obs['scales'])} "
             "(growth per halving of s at most 1.5 = bounded)")
    out.append(Decision("em_factor", bounded, f"growth of the scaled remainder per halving: {gtext}",
                        basis))
    out.append(Decision("remainder_order", bounded,
                        f"growth of the scaled remainder per halving: {gtext}", basis))
    out.append(Decision("s3_coefficient", converging and bounded,
                        "gap of R(s)/s^3 to the claimed coefficient shrinks per halving by "
                        + ", ".join(f"{r:.3g}" for r in shrink) + "; extrapolated limit off the "
                        "claimed coefficient by " + ", ".join(f"{e:.2g} (last change {c:.2g})"
                                                             for e, c in extraps),
                        "at least 2.5x per halving needed (the next order is s^5), and the "
                        "Richardson limit of R(s)/s^3 within a tenth of its last change of the "
                        "claimed coefficient"))
    return out


def check(tier: str = "quick", seed: int = 20260101, *, claimed_power: int = 3):
    """``claimed_power`` is the exponent of the claimed remainder order (3 as reported); a test
    may pass a wrong one: it replaces the statement's power before deciding."""
    obs = observe(tier, seed)
    qs = list(obs["qs"])
    rows = []
    st = STATEMENT_DATA
    for p in obs["per"]:
        u = p["u"]
        for div, idig, gap, ok, prec in p["identity"]:
            qs.append(quantity(f"|E[w_i(y-c_i)] + E[w_i v]| at c = u/{div}, u = {plain_tuple(u)}", gap,
                               claimed="0", relation="==", precision=prec,
                               note="within error estimates" if ok else "EXCEEDS error estimates"))
        ctx = context(p["dps"])
        gaps = []
        for point in p["at_s"]:
            sc3, R3, err3 = _remainder(point, -2, 3)
            scp = _remainder(point, -2, claimed_power)[0]
            gap_c = max(abs(R3[i][j] - p["derived"][i][j]) for i in range(len(u))
                        for j in range(len(u[0])))
            gaps.append(float(gap_c))
            rows.append([plain_tuple(u), point["s"], mpmath.nstr(sc3, 12), mpmath.nstr(scp, 12),
                         mpmath.nstr(gap_c, 3), f"{float(err3):.1e}", point["precision"].describe()])
        last = p["at_s"][-1]
        qs.append(quantity(f"|R(s)|/s^{claimed_power} at s = {last['s']} (u = {plain_tuple(u)})",
                           _remainder(last, -2, claimed_power)[0], claimed="bounded as s -> 0",
                           relation="~", precision=last["precision"]))
        qs.append(quantity(f"max |R(s)/s^3 - derived coefficient| at s = {last['s']}", gaps[-1],
                           claimed="O(s^2) -> 0", relation="~", precision=last["precision"],
                           note="gap ratios per halving: " + ", ".join(
                               f"{a / b:.2f}" for a, b in zip(gaps, gaps[1:]) if b > 0)))
        # the coefficient as this module assembles it against the derivation's closed form
        mine = [[ctx.fsum(a * b[t][k] for t, a in enumerate((1, -2, -2, 3)))
                 for k in range(len(u[0]))] for b in p["basis"]]
        agree = max(abs(mine[i][j] - p["derived"][i][j]) for i in range(len(u)) for j in range(len(u[0])))
        qs.append(quantity(f"stated s^3 coefficient vs the symbolic derivation's closed form "
                           f"(proofs/em_link.py; u = {plain_tuple(u)})", agree,
                           claimed="0", relation="==", precision=f"{p['dps']} digits"))
    if claimed_power != 3:
        st = STATEMENT_DATA.replace("remainder_order", claimed=claimed_power)
    table = {"title": "Remainder R(s) = grad F + 2 EM along c = s u",
             "columns": ["u", "s", "max|R|/s^3", f"max|R|/s^{claimed_power}", "gap to derived coeff.",
                         "error (scaled)", "precision"], "rows": rows}
    inputs = {"configs": [p["u"] for p in obs["per"]], "scales": obs["scales"],
              "digits": obs["digits"], "claimed_power": claimed_power,
              "identity_points": IDENTITY_POINTS[tier],
              "derivation": "symbolic steps and spot check" if obs["der"] else
                            "not run in the quick tier (the numbers decide; the full tier runs it)"}
    findings = [Finding(
        "The s^3 coefficient of the remainder R(s) = grad F + 2 EM agrees with the SymPy "
        "derivation, and the gap to it shrinks like s^2 as s halves: near the target, score "
        "matching is gradient EM with a doubled step.",
        value=f"gap {rows[-1][4]} at s = {obs['scales'][-1]} ({rows[-1][6]})",
        evidence=table["title"], kind="finding")]
    if obs["der"] is not None and not obs["der_ok"]:
        findings.append(Finding("A step of the SymPy derivation 'em-link' did not pass.", kind="note"))
    mod = __import__(__name__, fromlist=["_"])
    if st is not STATEMENT_DATA:   # a test's variant: decide it on the same evidence
        mod = _Variant(mod, st)
    return decided_record(
        mod, obs, assurance="numeric", tier=tier,
        tested="directions u = " + " and ".join(
            "(" + "; ".join(", ".join(row) for row in p["u"]) + ")" for p in obs["per"])
               + f" (means separated by semicolons); s = {', '.join(obs['scales'])}; "
               f"{obs['digits']} digits (plus the digits R loses to cancellation)",
        in_scope="yes", scope_reason="an asymptotic statement as s -> 0: decided by the trend over "
                                     "halvings of s at small s, with the derived s^3 coefficient",
        quantities=qs, tables=[table], derivation=obs["der"], inputs=inputs, findings=findings)


class _Variant:
    """The claim module with another statement (a test's deliberately wrong power)."""

    def __init__(self, mod, statement):
        self.__dict__.update({k: getattr(mod, k) for k in ("ID", "TITLE", "STATEMENT",
                                                           "PROVENANCE", "decide", "TWINS")})
        self.STATEMENT_DATA = statement
