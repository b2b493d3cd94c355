"""The report's first pages, built from the records and sweep summaries: what a reviewer reads first.

- :func:`math_inlines`: record prose with its ASCII formulas as typeset math spans.
- :func:`claims_rows`: one row per claim for the claims table (claim, what was tested, verdict
  with its basis, assurance, the key number, stated against observed).
- :func:`select_headlines`: the headline findings, chosen by a rule on each finding's kind
  (:data:`HEADLINE_PRIORITY`), at most one per source and :data:`MAX_HEADLINES` in all.
- :func:`merge_repeats`: findings of one source that say the same sentence with other numbers
  become one finding.
- :func:`stated_rows`: the "stated against observed" table, one row per stated constant
  (:data:`STATED_CONSTANTS`), every value read from a record or a summary ("not computed" when
  the source is missing).
- :data:`SYMBOLS`: the symbols those tables use, defined where they first appear.

No number is typed here: the rows name where their numbers come from.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from verify.claims.record import ClaimRecord, Finding
from verify.report import text as T
from verify.report.document import Math, Text
from verify.report.mathtext import spans

# ------------------------------------------------------------------------------------------------
# Math in prose


def math_inlines(s: Any) -> list:
    """Record prose -> Text and Math spans (the ASCII formulas typeset)."""
    return [Math(x) if k == "math" else Text(x) for k, x in spans(" ".join(str(s).split()))]


# ------------------------------------------------------------------------------------------------
# Headlines


# Which findings lead the report: by kind, first match wins (a finding of a certified record whose
# evidence is an enclosure counts as "certified").  Each source (claim or sweep) gives at most one
# headline; notes and other readings never lead (they go to "Notes on the checks").
HEADLINE_PRIORITY = ("constant-gap", "convention", "certified", "finding", "time-scale")
MAX_HEADLINES = 8
NEVER_HEADLINE = ("note", "reading")


def finding_class(f: Finding, assurance: str, evidence_is_enclosure: bool) -> str:
    kind = f.kind or "finding"
    if kind == "finding" and assurance == "certified" and evidence_is_enclosure:
        return "certified"
    return kind


def select_headlines(candidates: list[tuple[Any, Finding, str]]) -> list[tuple[Any, Finding]]:
    """``candidates``: (source, finding, class) in report order.  Returns the headlines in
    priority order: for each source its best finding by :data:`HEADLINE_PRIORITY` (ties: the
    first), then sources ranked by that class; at most :data:`MAX_HEADLINES`; constant gaps from
    several sweeps each lead."""
    rank = {k: i for i, k in enumerate(HEADLINE_PRIORITY)}
    best: dict[int, tuple[int, int, Any, Finding]] = {}
    for pos, (src, f, cls) in enumerate(candidates):
        if cls in NEVER_HEADLINE or cls not in rank:
            continue
        key = id(src)
        if key not in best or rank[cls] < best[key][0]:
            best[key] = (rank[cls], pos, src, f)
    chosen = sorted(best.values(), key=lambda t: (t[0], t[1]))[:MAX_HEADLINES]
    return [(src, f) for _, _, src, f in chosen]


_NUM = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


def merge_repeats(findings: list[Finding]) -> list[Finding]:
    """Findings of one source whose headlines differ only in their numbers become one finding;
    where the numbers differ the merged headline lists them ("eps = 0.05, 0.1, 0.2 ... tau =
    2.18e+10, 3.06e+06, 5.4e+04 respectively")."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    order: list[tuple[str, str]] = []
    for f in findings:
        key = (f.kind or "finding", _NUM.sub("#", f.headline))
        if key not in groups:
            order.append(key)
            groups[key] = []
        groups[key].append(f)
    out = []
    for key in order:
        fs = groups[key]
        if len(fs) == 1:
            out.append(fs[0])
            continue
        parts = [_NUM.split(f.headline) for f in fs]
        nums = [_NUM.findall(f.headline) for f in fs]
        text, differ = parts[0][0], False
        for i, sep in enumerate(parts[0][1:]):
            vals = [n[i] for n in nums]
            if len(set(vals)) == 1:
                text += vals[0]
            else:
                text += ", ".join(vals)
                differ = True
            text += sep
        if differ:
            text = text.rstrip(". ") + " (respectively)."
        values = "; ".join(f.value for f in fs if f.value)
        out.append(replace(fs[0], headline=text, value=values,
                           detail=" ".join(f.detail for f in fs if f.detail)))
    return out


# ------------------------------------------------------------------------------------------------
# Claims table


def tested_text(r: ClaimRecord) -> str:
    """What was run: the record's own ``tested`` line, else the sizes read from its inputs."""
    if r.tested:
        return r.tested
    inp = r.inputs or {}
    parts = []
    for key, label in (("n", "n"), ("ns", "n"), ("d", "d"), ("ds", "d"), ("M0", "M0"),
                       ("M0s", "M0"), ("Ms", "M"), ("angles", "angles"), ("steps", "steps"),
                       ("eta", "eta")):
        v = inp.get(key)
        if v is None or isinstance(v, dict):
            continue
        if isinstance(v, list):
            if not v or isinstance(v[0], (list, dict)):
                continue
            v = ", ".join(_short(x) for x in v)
        text = f"{label} = {_short(v)}"
        if len(text) <= 48:
            parts.append(text)
    runs = inp.get("runs")
    if isinstance(runs, list):
        parts.append(f"{len(runs)} runs")
    return "; ".join(parts)


def _short(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.8g}"
    return str(x)


def scope_text(r: ClaimRecord) -> str:
    if not r.in_scope:
        return ""
    words = {"yes": "in scope", "partly": "partly in scope", "no": "outside the stated hypotheses"}
    return words.get(r.in_scope, r.in_scope)


def deciding_conclusion(r: ClaimRecord) -> dict | None:
    """The conclusion that decided the verdict: the first that fails, else the first undecided,
    else the first."""
    cs = r.conclusions or []
    for want in (False, None):
        for c in cs:
            if c.get("holds") is want:
                return c
    return cs[0] if cs else None


# quantities that report the toolkit's own bookkeeping, never the claim's key number
_BOOKKEEPING = re.compile(r"steps passed|spot check|digits of agreement|relative gap|validation|"
                          r"closed form", re.I)


def key_quantity(r: ClaimRecord):
    """Fallback key number for records without conclusions: the first quantity with a claimed
    value that is not bookkeeping (derivation steps, digits of agreement, validation gaps)."""
    for q in r.quantities:
        if q.claimed not in (None, "") and not _BOOKKEEPING.search(q.name):
            return q
    return None


def verdict_basis(r: ClaimRecord) -> str:
    if r.reason:
        return r.reason.strip().splitlines()[0]
    c = deciding_conclusion(r)
    if c and c.get("basis"):
        return str(c["basis"])
    q = key_quantity(r)
    if q is not None:
        return f"{q.name}: {T.leading_digits(q.value, T.SUMMARY_DIGITS)} against {T.claimed_text(q, short=True)}"
    return ""


def key_number(r: ClaimRecord) -> str:
    c = deciding_conclusion(r)
    if c and c.get("observed"):
        return str(c["observed"])
    q = key_quantity(r)
    if q is not None:
        return f"{q.name} = {T.value_with_error(q, short=True)}"
    return ""


def stated_vs_observed(r: ClaimRecord) -> str:
    c = deciding_conclusion(r)
    if c and c.get("claimed") not in (None, ""):
        rel = T.RELATION_TEXT.get(c.get("relation", ""), c.get("relation", ""))
        claimed = _claimed_text(c["claimed"])
        obs = c.get("observed") or "not computed"
        return f"stated {rel} {claimed}; observed {obs}"
    q = key_quantity(r)
    if q is not None:
        return f"stated {T.claimed_text(q, short=True)}; observed {T.leading_digits(q.value, T.SUMMARY_DIGITS)}"
    return ""


def stated_text(r: ClaimRecord) -> str:
    """What the deciding conclusion states ("stated ≤ 0.5"), for claims without a stated constant
    of :data:`STATED_CONSTANTS` (the observed side is the key number)."""
    c = deciding_conclusion(r)
    if c and c.get("claimed") not in (None, ""):
        rel = T.RELATION_TEXT.get(c.get("relation", ""), c.get("relation", ""))
        return f"stated {rel} {_claimed_text(c['claimed'])}".replace("  ", " ")
    return stated_vs_observed(r)


def _claimed_text(x: Any) -> str:
    def one(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.6g}"
        if isinstance(v, list):
            return ", ".join(one(u) for u in v)
        return str(v)
    if isinstance(x, dict):
        return ", ".join(f"{k} {one(v)}" for k, v in x.items())
    return one(x)


def brief(text: str, limit: int) -> str:
    """``text`` cut to at most about ``limit`` characters at a clause boundary ("; " first, else
    ", ") outside brackets, marked with " …" where something was left out (the whole text is in
    the claim's section or the appendix).  Text without such a boundary is kept whole."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    depth, cuts = 0, {";": [], ",": []}
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch in ";," and depth == 0 and text[i + 1:i + 2] == " " and i <= limit:
            cuts[ch].append(i)
    for sep in (";", ","):
        good = [i for i in cuts[sep] if i >= limit // 3]
        if good:
            return text[:good[-1]] + " …"
    return text


# ------------------------------------------------------------------------------------------------
# Stated against observed


SYMBOLS = (
    ("n, d", "the number of student means and the dimension"),
    ("M0", "the distance |m*| of the target mean from the origin (M in the split-threshold sweep)"),
    ("eta, tau", "the gradient-descent step size and step counter"),
    ("delta*", "the split threshold: the largest initial spread from which every mean converges "
               "(found by bisection)"),
    ("A(M)", "the linear amplification of a small spread along the all-equal trajectory: "
             "A(M) = sum_tau ln(1 + 4 eta a_tau^2/n) with a_tau = M (1 - 2 eta/n)^tau, so a spread "
             "grows by e^A(M) in linearised gradient descent"),
    ("K", "the implied constant of thm2.1's bound, loss sqrt(eta tau)/(n^3 d^2)"),
)


@dataclass(frozen=True)
class StatedConstant:
    claim: str                  # claim id whose statement carries the constant
    stated: str                 # the constant as stated (ASCII math)
    observed: str               # what it is compared with (ASCII math)
    source: Callable[[dict, dict], tuple[str, str] | None]   # (stated values, observed) or None


def _record(records, cid) -> ClaimRecord | None:
    return records.get(cid)


def _conclusion(r: ClaimRecord, key: str) -> dict | None:
    """The record's conclusion with this key (or kind, in records that name one)."""
    return next((c for c in r.conclusions if key in (c.get("key"), c.get("kind"))), None)


def _sweep_table(sweeps, name, title_start) -> dict | None:
    s = sweeps.get(name)
    if not s:
        return None
    for t in list(s.get("tables") or []) + ([s["table"]] if s.get("table") else []):
        if str(t.get("title", "")).startswith(title_start):
            return t
    return None


def _col(t: dict, name: str) -> int:
    return [str(c) for c in t.get("columns", [])].index(name)


def _num(x: Any) -> float | None:
    try:
        return float(str(x).split("±")[0].strip())
    except ValueError:
        return None


def _g(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _split_threshold(records, sweeps):
    t = _sweep_table(sweeps, "split-threshold", "Split threshold per cell")
    if t is None:
        return None
    try:
        i_ln, i_st, i_gap = _col(t, "ln delta*"), _col(t, "ln stated"), _col(t, "gap")
    except ValueError:
        return None
    rows = [r for r in t["rows"] if _num(r[i_gap]) is not None]
    if not rows:
        return None
    stated = sorted(-_num(r[i_st]) for r in rows)
    obs = sorted(-_num(r[i_ln]) for r in rows)
    gaps = sorted(_num(r[i_gap]) for r in rows)
    fits = _sweep_table(sweeps, "split-threshold", "Fits per (n, d)")
    slope = ""
    if fits is not None:
        try:
            i_s = _col(fits, "slope vs A(M)")
            vals = [str(r[i_s]).split("±") for r in fits["rows"]]
            pairs = [(float(v), float(e)) for v, e in vals if e.strip()]
            w = [1 / e ** 2 for _, e in pairs]
            mean = sum(v * wi for (v, _), wi in zip(pairs, w)) / sum(w)
            slope = (f"; -ln delta* ~ A(M) + const: inverse-variance mean slope {_g(-mean)} "
                     f"± {_g(1 / math.sqrt(sum(w)), 2)} over {len(pairs)} (n, d) pairs")
        except (ValueError, ZeroDivisionError):
            slope = ""
    return (f"106 n d M^3 + ln(108 n d) = {_g(stated[0])} to {_g(stated[-1])} over {len(rows)} cells",
            f"-ln delta* = {_g(obs[0])} to {_g(obs[-1])}; stated exceeds observed by {_g(gaps[0])} to "
            f"{_g(gaps[-1])} e-folds{slope}")


def _wilson_low(k: int, n: int, z: float = 1.959963984540054) -> float:
    if n == 0:
        return 0.0
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n)


def onset_brackets(t: dict, level: float = 0.95) -> list[str]:
    """Per (n, d): the grid bracket from which the observed frequency stays >= ``level`` (the last
    M0 below and the first at the level), with its seed count and 95% Wilson lower bound (computed
    from the counts in the table)."""
    try:
        i_n, i_d, i_m = _col(t, "n"), _col(t, "d"), _col(t, "M0")
        i_runs = _col(t, "runs") if "runs" in t["columns"] else _col(t, "seeds")
        i_one = _col(t, "exactly one")
    except ValueError:
        return []
    by: dict[tuple, list] = {}
    for r in t["rows"]:
        by.setdefault((r[i_n], r[i_d]), []).append((float(r[i_m]), int(r[i_one]), int(r[i_runs])))
    out = []
    for (n, d), pts in by.items():
        pts.sort()
        first = None
        for j in range(len(pts)):
            if all(k / m >= level for _, k, m in pts[j:] if m):
                first = j
                break
        if first is None:
            out.append(f"n = {n}, d = {d}: frequency below {level} at M0 = {_g(pts[-1][0])}")
            continue
        m0, k, m = pts[first]
        lo = f"between M0 = {_g(pts[first - 1][0])} and {_g(m0)}" if first else f"at or below M0 = {_g(m0)}"
        out.append(f"n = {n}, d = {d}: {lo}; {k} of {m} seeds; 95% lower bound {_wilson_low(k, m):.2f}")
    return out


def _onset(records, sweeps):
    s = sweeps.get("one-converges")
    t = _sweep_table(sweeps, "one-converges", "Exactly one converges")
    if t is None:
        return None
    brackets = onset_brackets(t)
    stated = [x for x in (s.get("text") or []) if "stated condition" in str(x)]
    stated_vals = []
    for x in stated:
        m = re.search(r"(n=\d+, d=\d+).*stated condition is (M0 > [\d.e+]+)", str(x))
        if m:
            stated_vals.append(f"{m.group(1)}: {m.group(2)}")
    r = _record(records, "thm3.5")
    if not stated_vals and r is not None and isinstance(r.inputs.get("stated_scale"), dict):
        st = r.inputs["stated_scale"]
        stated_vals.append(f"n={st.get('n')}, d={st.get('d')}: M0 > {_g(float(st['M0_stated']))}")
    return ("; ".join(stated_vals) or "not computed",
            "frequency of exactly one converging >= 0.95 " + "; ".join(brackets))


def _frequency_bound(records, sweeps):
    t = _sweep_table(sweeps, "one-converges", "Exactly one converges")
    if t is None:
        return None
    try:
        i_b, i_m, i_n, i_one, i_runs = (_col(t, "bound"), _col(t, "M0"), _col(t, "n"),
                                         _col(t, "exactly one"), _col(t, "runs"))
    except ValueError:
        return None
    bounds = [_num(r[i_b]) for r in t["rows"] if _num(r[i_b]) is not None]
    top = max(t["rows"], key=lambda r: float(r[i_m]))
    k, m = int(top[i_one]), int(top[i_runs])
    return (f"1 - n^2 M0^(-1/3) = {_g(min(bounds))} to {_g(max(bounds))} on the grid (vacuous: <= 0)"
            if max(bounds) <= 0 else f"1 - n^2 M0^(-1/3) = {_g(min(bounds))} to {_g(max(bounds))}",
            f"{k} of {m} seeds at M0 = {_g(float(top[i_m]))} (n = {top[i_n]}); 95% lower bound "
            f"{_wilson_low(k, m):.2f}")


def _late_law(records, sweeps):
    out = []
    r = _record(records, "thm2.1")
    if r is not None:
        # its rate conclusion says only that a sup is finite: the late law is one of its findings
        f = next((f for f in r.findings if (f.kind == "finding") and "late law" in f.headline.lower()), None)
        if f:
            m = re.search(r"loss ~ ([^,;]+?) with", f.headline)
            out.append(f"thm2.1: late law loss ~ {m.group(1) if m else f.value}")
    r = _record(records, "thm3.2")
    if r is not None:
        c = _conclusion(r, "rate")
        if c and c.get("observed"):
            out.append(f"thm3.2: {brief(str(c['observed']), 90)}")
        else:
            slopes = [_num(q.value) for q in r.quantities if "log-log slope" in q.name]
            slopes = [s for s in slopes if s is not None]
            if slopes:
                out.append(f"thm3.2: tail log-log slope {_g(max(slopes))} to {_g(min(slopes))} "
                           "(geometric decay)")
    if not out:
        return None
    return ("loss = O(tau^(-1/2)) (thm2.1: O(n^3 d^2 / sqrt(eta tau)); thm3.2: O(1/sqrt(tau)))",
            "; ".join(out))


def _scaling(records, sweeps):
    r = _record(records, "thm2.1")
    if r is None:
        return None
    c = next((c for c in r.conclusions if "scal" in str(c.get("key", "")) + str(c.get("text", ""))), None)
    if c and c.get("observed"):
        return ("n^3 d^2", str(c["observed"]))
    ks = [(q.name, _num(q.value)) for q in r.quantities if q.name.startswith("sup_tau K")]
    ks = [(n, v) for n, v in ks if v is not None]
    if not ks:
        return None
    return ("n^3 d^2", f"no fitted scaling in the record; K = loss sqrt(eta tau)/(n^3 d^2) stays "
                       f"between {_g(min(v for _, v in ks))} and {_g(max(v for _, v in ks))} over "
                       f"{len(ks)} runs (n, d up to 4, 3)")


def _split_vs_construction(records, sweeps):
    r = _record(records, "thm3.4")
    t = _sweep_table(sweeps, "split-threshold", "Split threshold per cell")
    if r is None or t is None:
        return None
    n, d = r.inputs.get("n"), r.inputs.get("d")
    try:
        i_n, i_d, i_m, i_ln = _col(t, "n"), _col(t, "d"), _col(t, "M"), _col(t, "ln delta*")
    except ValueError:
        return None
    cells: dict[float, list[float]] = {}
    for row in t["rows"]:
        if row[i_n] == n and row[i_d] == d and _num(row[i_ln]) is not None:
            cells.setdefault(float(row[i_m]), []).append(_num(row[i_ln]))
    if not cells:
        return None
    parts = []
    for m in sorted(cells):
        lo, hi = min(cells[m]), max(cells[m])
        parts.append(f"M = {_g(m)}: ln delta* = {_g(hi)}" + (f" to {_g(lo)}" if lo != hi else "")
                     + f" against -M/100 = {_g(-m / 100)}")
    return (f"m_1(0) = exp(-M0/100) e_1 (n = {n}, d = {d})",
            "exp(-M0/100) exceeds delta* at every M: " + "; ".join(parts[:4])
            + ("" if len(parts) <= 4 else f"; {len(parts) - 4} more M in the sweep"))


def _factor(records, sweeps):
    r = _record(records, "lem3.3")
    if r is None:
        return None
    c = _conclusion(r, "factor")
    if c and c.get("observed"):
        return (f"1 - eta/n: {_claimed_text(c.get('claimed'))}", str(c["observed"]))
    meas = [q for q in r.quantities if q.name.startswith("measured factor")]
    closed = [q for q in r.quantities if q.name.startswith("contraction factor, closed form")]
    dev = [q for q in r.quantities if q.name.startswith("max |factor - (1 - eta/n)|")]
    if not meas:
        return None
    eta = r.inputs.get("eta", "")
    obs = "; ".join(f"{re.search(r'[(]([^)]*)[)]', q.name).group(1)}: {T.leading_digits(q.value, 8)}"
                    for q in meas[:3])
    return (f"1 - eta/n with eta = {eta}",
            f"measured factor {obs} (= 1 - 2 eta/n: "
            + ", ".join(q.value for q in closed[:3]) + "); off the stated factor by "
            + ", ".join(q.value for q in dev[:3]))


STATED_CONSTANTS = (
    StatedConstant("thm3.2", "(1/(108 n d)) exp(-106 n d M0^3)", "the split threshold delta*",
                   _split_threshold),
    StatedConstant("thm3.5", "M0 > 1e9 sqrt(d) n^10", "the onset of exactly one converging",
                   _onset),
    StatedConstant("thm3.5", "P >= 1 - n^2 M0^(-1/3)", "the observed frequency", _frequency_bound),
    StatedConstant("thm2.1, thm3.2", "loss = O(tau^(-1/2))", "the late law of the loss", _late_law),
    StatedConstant("thm2.1", "loss = O(n^3 d^2 / sqrt(eta tau))", "the scaling in n and d",
                   _scaling),
    StatedConstant("thm3.4", "m_1(0) = exp(-M0/100) e_1", "the split threshold delta*(M0)",
                   _split_vs_construction),
    StatedConstant("lem3.3", "A <- (1 - eta/n) A", "the measured contraction factor", _factor),
)


def stated_rows(records: dict[str, ClaimRecord], sweeps: dict[str, dict]) -> list[tuple[StatedConstant, str, str]]:
    """(constant, stated values, observed) per row; a row whose source is missing says so."""
    out = []
    for sc in STATED_CONSTANTS:
        got = sc.source(records, sweeps)
        if got is None:
            out.append((sc, "not computed", "not computed (its record or sweep summary is missing)"))
        else:
            out.append((sc, got[0], got[1]))
    return out


def reproduce_command(r: ClaimRecord) -> str:
    tier = "" if r.tier == "full" else " --quick"
    return f"python -m verify run {r.id}{tier}"


__all__ = ["math_inlines", "select_headlines", "merge_repeats", "stated_rows", "STATED_CONSTANTS",
           "SYMBOLS", "HEADLINE_PRIORITY", "onset_brackets", "reproduce_command", "tested_text",
           "verdict_basis", "key_number", "stated_vs_observed", "scope_text", "finding_class"]


# ------------------------------------------------------------------------------------------------
# Extra drawing data for sweep figures, read from the summary's own tables


def wilson_errors(summary: dict, figure: dict) -> dict:
    """{line label: (below, above)} error-bar lengths from the summary table's Wilson intervals,
    matched to each frequency line by the key = value pairs of its label and its x values (the
    column named like the figure's x label).  Empty when the summary has no such table."""
    tables = list(summary.get("tables") or []) + ([summary["table"]] if summary.get("table") else [])
    out: dict = {}
    for t in tables:
        cols = [str(c) for c in t.get("columns", [])]
        wil = next((i for i, c in enumerate(cols) if c.lower().startswith("wilson") and "all" in c), None)
        if wil is None:
            wil = next((i for i, c in enumerate(cols) if c.lower().startswith("wilson")), None)
        xcol = str(figure.get("xlabel", ""))
        if wil is None or xcol not in cols:
            continue
        ix = cols.index(xcol)
        for ln in figure.get("lines", []):
            keys = dict(re.findall(r"(\w+)=([-\w.]+)", ln.get("label", "")))
            if not keys or not all(k in cols for k in keys):
                continue
            lo, hi = [], []
            for x, y in zip(ln["x"], ln["y"]):
                row = next((r for r in t["rows"] if _num(r[ix]) == float(x) and
                            all(str(r[cols.index(k)]) == v for k, v in keys.items())), None)
                m = re.match(r"\[\s*([-\d.e]+),\s*([-\d.e]+)\s*\]", str(row[wil])) if row else None
                if not m:
                    break
                lo.append(max(0.0, float(y) - float(m.group(1))))
                hi.append(max(0.0, float(m.group(2)) - float(y)))
            else:
                out[ln["label"]] = (lo, hi)
    return out


def outcome_grid(summary: dict) -> tuple | None:
    """(xs, ys, {(x, y): outcome}, xlabel, ylabel) from a summary table with an outcome column
    named "pattern" keyed by its first two columns (y first, x second), else None."""
    tables = list(summary.get("tables") or []) + ([summary["table"]] if summary.get("table") else [])
    for t in tables:
        cols = [str(c) for c in t.get("columns", [])]
        if "pattern" not in cols or len(cols) < 3:
            continue
        ip = cols.index("pattern")
        cells = {(str(r[1]), str(r[0])): str(r[ip]) for r in t["rows"]}
        xs = sorted({k[0] for k in cells}, key=lambda v: _num(v) if _num(v) is not None else 0)
        ys = sorted({k[1] for k in cells}, key=lambda v: _num(v) if _num(v) is not None else 0)
        return xs, ys, cells, cols[1], cols[0]
    return None
