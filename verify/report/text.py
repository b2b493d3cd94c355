"""Format-neutral text shared by the Markdown and LaTeX renderers: numbers, labels, compact JSON.

Everything here is a pure function of the record data, so the two renderers show the same
content and the output is byte-identical for the same records.
"""
from __future__ import annotations

import json
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

from verify.claims.record import ClaimRecord, Quantity, VERDICTS
from verify.report.io import safe_name

PAPER_TITLE = "Convergence Dynamics of Over-Parameterized Score Matching for a Single Gaussian"
PAPER_CITATION = "Zhang, Xu, Zhou, Fazel, Du; arXiv 2511.22069, ICLR 2026"

SUMMARY_DIGITS = 8  # significant digits of a value in the summary table
BODY_DIGITS = 12  # significant digits of a value in a claim section (all of them in the appendix)
SUMMARY_ERROR_DIGITS = 2  # significant digits of an error estimate in the summary table

# How computed and claimed compare (Quantity.relation), as a claimed-side phrase:
# "claimed <= 1" reads "the paper claims the quantity is at most 1".
RELATION_TEXT = {"==": "=", "<=": "≤", ">=": "≥", "~": "∼", "": ""}
RELATION_MEANING = {
    "==": "tight: computed equals claimed",
    "<=": "upper bound: computed ≤ claimed",
    ">=": "lower bound: computed ≥ claimed",
    "~": "same order as claimed",
    "": "no claimed value",
}

VERDICT_MEANING = {
    "CONFIRMED": "the computation agrees with the claim as stated",
    "REFUTED": "the computation contradicts the claim; the witness gives the inputs and numbers",
    "INCONCLUSIVE": "the evidence does not decide the claim (reason given); never a pass",
    "ERROR": "the check itself failed to run; says nothing about the mathematics",
}

VERDICT_BRIEF = {
    "CONFIRMED": "agrees with the claim as stated",
    "REFUTED": "contradicts it; witness given",
    "INCONCLUSIVE": "undecided, reason given; never a pass",
    "ERROR": "the check did not run",
}
ASSURANCE_BRIEF = {
    "symbolic": "SymPy identity",
    "certified": "interval enclosure",
    "numeric": "high precision with an error estimate",
    "asymptotic": "a derived law validated against gradient descent",
    "float64": "double precision",
    "statistical": "frequency over seeds",
}

ASSURANCE_MEANING = {
    "symbolic": "SymPy identity",
    "certified": "interval enclosure: ball arithmetic with outward rounding proves the bounds",
    "numeric": "high precision with an error estimate",
    "asymptotic": "a derived reduced law of the regime, validated against full gradient descent "
                  "(between numeric and float64)",
    "float64": "double precision",
    "statistical": "frequency over seeds",
}


def _decimal(s: str) -> Decimal | None:
    """The finite, non-zero Decimal a record's decimal string holds, else None."""
    try:
        d = Decimal(s.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() and d != 0 else None


def leading_digits(s: str | None, digits: int = BODY_DIGITS) -> str:
    """The first ``digits`` significant digits of a decimal string, cut (never rounded) and marked
    with "…" where digits were dropped, so the digits shown are exactly those of the recorded
    value and its error estimate still applies to it.  Plain decimals stay positional when the cut
    falls after the decimal point; otherwise the result is scientific (``1.2345678…e11``).
    Strings that are not plain decimals, and decimals with at most ``digits`` significant digits,
    are returned unchanged."""
    if s is None:
        return ""
    t, d = s.strip(), _decimal(s)
    if d is None:
        return t
    sign, digs, _ = d.as_tuple()
    while len(digs) > 1 and digs[-1] == 0 and "e" not in t.lower() and "." in t:
        digs = digs[:-1]  # trailing zeros of a positional fraction are not dropped digits
    if len(digs) <= digits:
        return t
    if "e" not in t.lower() and "." in t:
        seen, started = 0, False
        for i, ch in enumerate(t):
            if ch.isdigit():
                started = started or ch != "0"
                seen += started
                if seen == digits:
                    if i > t.index("."):
                        return t[:i + 1] + "…"
                    break
    head = "".join(str(x) for x in digs[:digits])
    return f"{'-' if sign else ''}{head[0]}.{head[1:]}…e{d.adjusted()}"


def error_up(s: str | None, digits: int = SUMMARY_ERROR_DIGITS) -> str:
    """An error estimate shortened to ``digits`` significant digits, rounded up (away from zero),
    so the shortened estimate still bounds what the full one bounds.  Non-decimals unchanged."""
    if s is None:
        return ""
    t, d = s.strip(), _decimal(s)
    if d is None:
        return t
    if len(d.as_tuple().digits) <= digits:
        return t
    q = Decimal(1).scaleb(d.adjusted() - digits + 1)
    up = d.quantize(q, rounding=ROUND_UP)
    return str(up).replace("E", "e").replace("e+", "e")


def precision_label(precision: str) -> str:
    """``"60"`` -> ``"60 digits"``; ``"float64"`` stays; empty -> ``""``."""
    p = (precision or "").strip()
    return f"{p} digits" if p.isdigit() else p


def key_quantity(record: ClaimRecord) -> Quantity | None:
    """The quantity the summary shows: the first one with a claimed value, else the first one."""
    for q in record.quantities:
        if q.claimed not in (None, ""):
            return q
    return record.quantities[0] if record.quantities else None


def value_with_error(q: Quantity, short: bool = False) -> str:
    """``value ± error`` from the record's strings, in full or shortened for the summary."""
    if short:
        v = leading_digits(q.value, SUMMARY_DIGITS)
        e = error_up(q.error, SUMMARY_ERROR_DIGITS) if q.error else ""
    else:
        v, e = q.value, q.error or ""
    return f"{v} ± {e}" if e else v


def claimed_text(q: Quantity, short: bool = False) -> str:
    """``"≤ 1"`` style phrase for the claimed side, or ``""`` when nothing is claimed."""
    if q.claimed in (None, ""):
        return ""
    c = leading_digits(q.claimed, SUMMARY_DIGITS) if short else q.claimed
    rel = RELATION_TEXT.get(q.relation, q.relation)
    return f"{rel} {c}".strip()


def verdict_counts(records: list[ClaimRecord]) -> list[tuple[str, int]]:
    """(verdict, count) in the fixed order of VERDICTS, omitting zero counts."""
    counts = {v: 0 for v in VERDICTS}
    for r in records:
        counts[r.verdict] += 1
    return [(v, n) for v, n in counts.items() if n]


def cell(x: Any) -> str:
    """A table cell from a record table value (None -> em dash, bool -> yes/no, else str/repr)."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return repr(x)
    if isinstance(x, (dict, list)):
        return json.dumps(x, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    return str(x)


def compact_json(obj: Any, width: int = 88, indent: int = 0, lead: int = 0) -> str:
    """Valid JSON, as short as possible while lines stay within ``width`` where they can.

    Containers that fit on the rest of the line are printed inline; otherwise dicts get one key per
    line and lists of scalars are filled line by line.  Keys are sorted, so output is stable.
    ``indent`` is the current block indentation, ``lead`` the characters already on this line
    (one more is kept free for a trailing comma).
    """
    inline = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    if lead + len(inline) + 1 <= width or not isinstance(obj, (dict, list)) or not obj:
        return inline
    pad = " " * (indent + 2)
    end = "\n" + " " * indent
    if isinstance(obj, dict):
        items = []
        for k in sorted(obj):
            key = json.dumps(k, ensure_ascii=False) + ": "
            items.append(pad + key + compact_json(obj[k], width, indent + 2, len(pad) + len(key)))
        return "{\n" + ",\n".join(items) + end + "}"
    if all(not isinstance(x, (dict, list)) for x in obj):
        lines, cur = [], ""
        for x in obj:
            tok = json.dumps(x, ensure_ascii=False)
            if cur and len(pad) + len(cur) + 3 + len(tok) > width:  # ", " + token + ","
                lines.append(cur + ",")
                cur = tok
            else:
                cur = f"{cur}, {tok}" if cur else tok
        lines.append(cur)
        return "[\n" + "\n".join(pad + ln for ln in lines) + end + "]"
    items = [pad + compact_json(x, width, indent + 2, len(pad)) for x in obj]
    return "[\n" + ",\n".join(items) + end + "]"


def flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dict -> sorted (dotted.key, leaf value) pairs; lists stay as leaves."""
    out: list[tuple[str, Any]] = []
    for k in sorted(d, key=str):
        v = d[k]
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.extend(flatten(v, key + "."))
        else:
            out.append((key, v))
    return out


def leaf_text(v: Any) -> str:
    """A provenance/witness leaf as text: strings as they are, everything else as compact JSON."""
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def figure_stem(claim_id: str, figure_id: str) -> str:
    """File stem of a figure: ``<claim-id>--<figure-id>`` with both parts made file-name safe."""
    return f"{safe_name(claim_id)}--{safe_name(figure_id)}"
