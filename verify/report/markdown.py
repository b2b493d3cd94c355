"""REPORT.md: the claim records as GitHub-flavoured Markdown.

Layout: a summary table (one row per claim), the provenance of the run, then one section per claim
(statement, provenance, computed vs claimed, findings, witness or reason, tables, figures, the
inputs that reproduce it, the derivation).  Every string from a record is escaped, so record text
is shown as text, never interpreted as Markdown or HTML; only ``derivation["markdown"]``, which the
symbolic layer renders for this purpose, is inserted as Markdown.
"""
from __future__ import annotations

import re
from typing import Any

from verify.claims.record import SCHEMA_VERSION, ClaimRecord, Figure
from verify.report import text as T
from verify.report.io import unique_slugs

VERDICT_BADGE = {"CONFIRMED": "✅", "REFUTED": "❌", "INCONCLUSIVE": "❔", "ERROR": "⚠️"}

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|$~#])")
_LIST_START = re.compile(r"^(\s*)([-+]|\d+[.)])(\s)")


def esc(s: Any) -> str:
    """Record text as literal Markdown text (inline; newlines kept)."""
    out = _MD_SPECIAL.sub(r"\\\1", str(s))
    return "\n".join(_LIST_START.sub(lambda m: f"{m[1]}\\{m[2]}{m[3]}", ln) for ln in out.split("\n"))


def esc_cell(s: Any) -> str:
    """Record text for a table cell: escaped, on one line."""
    return " ".join(esc(s).split()) or " "


def code(s: Any) -> str:
    """An inline code span that survives backticks and pipes in ``s`` (GFM tables split on |)."""
    s = " ".join(str(s).split("\n"))
    ticks = max((len(m) for m in re.findall(r"`+", s)), default=0) + 1
    fence = "`" * ticks
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}".replace("|", "\\|")


def fenced(body: str, lang: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run in ``body``."""
    ticks = max(3, max((len(m) for m in re.findall(r"`+", body)), default=0) + 1)
    fence = "`" * ticks
    return f"{fence}{lang}\n{body.rstrip()}\n{fence}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _summary(records: list[ClaimRecord], anchors: dict[str, str]) -> str:
    rows = []
    for r in records:
        q = T.key_quantity(r)
        if q is None:
            key = "—"
        else:
            key = f"{esc_cell(q.name)} = {code(T.value_with_error(q, short=True))}"
            claimed = T.claimed_text(q, short=True)
            key += f" (claimed {esc_cell(claimed)})" if claimed else " (no claimed value)"
        rows.append([
            f"[{code(r.id)}](#claim-{anchors[r.id]})",
            esc_cell(r.title),
            f"{VERDICT_BADGE[r.verdict]} **{r.verdict}**",
            esc_cell(r.assurance),
            key,
            esc_cell(r.tier),
        ])
    return table(["Claim", "Statement", "Verdict", "Assurance", "Key number: computed (claimed)", "Tier"], rows)


def _legend() -> str:
    verdicts = "; ".join(f"**{v}**: {esc(m)}" for v, m in T.VERDICT_MEANING.items())
    levels = "; ".join(f"`{a}`: {esc(m)}" for a, m in T.ASSURANCE_MEANING.items())
    return f"Verdicts. {verdicts}.\n\nAssurance levels. {levels}."


def _provenance(provenance: dict[str, Any]) -> str:
    if not provenance:
        return "_No provenance was recorded._"
    rows = [[code(k), code(T.leaf_text(v))] for k, v in T.flatten(provenance)]
    return table(["Key", "Value"], rows)


def _quantities(r: ClaimRecord) -> str:
    has_note = any(q.note for q in r.quantities)
    header = ["Quantity", "Computed ± error", "Claimed", "Precision"] + (["Note"] if has_note else [])
    rows = []
    for q in r.quantities:
        claimed = T.claimed_text(q)
        row = [
            esc_cell(q.name),
            code(T.value_with_error(q)),
            code(claimed) if claimed else "—",
            esc_cell(T.precision_label(q.precision) or "—"),
        ]
        if has_note:
            row.append(esc_cell(q.note) if q.note else " ")
        rows.append(row)
    return table(header, rows)


def _record_table(t: dict[str, Any]) -> str:
    cols = [esc_cell(c) for c in t.get("columns", [])]
    rows = [[esc_cell(T.cell(x)) for x in row] for row in t.get("rows", [])]
    ncol = max([len(cols)] + [len(r) for r in rows]) or 1
    return table(cols + [" "] * (ncol - len(cols)), [r + [" "] * (ncol - len(r)) for r in rows])


def _paragraph_or_block(s: str) -> str:
    """Single-paragraph text as escaped Markdown; multi-line text (tracebacks) as a code block."""
    s = s.rstrip()
    return fenced(s) if "\n" in s else esc(s)


def _figure(r: ClaimRecord, f: Figure) -> str:
    stem = T.figure_stem(r.id, f.id)
    return (
        f"![{esc_cell(f.title)}](figures/{stem}.svg)\n\n"
        f"*Figure {code(f.id)}: {esc(f.title)}* ([SVG](figures/{stem}.svg), [PDF](figures/{stem}.pdf))"
    )


def _derivation(d: dict[str, Any]) -> list[str]:
    out = []
    head = f"**{esc(d['name'])}**" if d.get("name") else ""
    if d.get("statement"):
        head = f"{head}: {esc(d['statement'])}" if head else esc(d["statement"])
    if head:
        out.append(head)
    if d.get("markdown"):
        out.append(str(d["markdown"]).strip())
    elif d.get("latex"):
        frags = d["latex"] if isinstance(d["latex"], list) else [d["latex"]]
        out += [fenced(str(f), "math") for f in frags]
    steps = d.get("steps") or []
    if steps:
        rows = [
            [str(i), esc_cell(s.get("description", "")), esc_cell(s.get("check", "")),
             "✓ yes" if s.get("passed") else "✗ **no**"]
            for i, s in enumerate(steps, 1)
        ]
        out.append(table(["#", "Step", "How it was checked", "Passed"], rows))
    if d.get("spot_check"):
        out.append("Numeric spot check:\n\n" + fenced(T.compact_json(d["spot_check"]), "json"))
    return out


def _section(r: ClaimRecord, anchor: str) -> str:
    parts = [
        f'<a id="claim-{anchor}"></a>\n\n## {code(r.id)}: {esc(r.title)}',
        f"**Verdict:** {VERDICT_BADGE[r.verdict]} **{r.verdict}** · "
        f"**Assurance:** {esc(r.assurance)} ({esc(T.ASSURANCE_MEANING.get(r.assurance, ''))}) · "
        f"**Tier:** {esc(r.tier)}",
        f"**Statement.** {esc(r.statement)}",
        f"**Provenance.** {esc(r.provenance)}",
    ]
    if r.quantities:
        parts += ["### Computed vs claimed", _quantities(r)]
    if r.findings:
        parts += ["### Findings", "\n".join("- " + esc(f.headline).replace("\n", "\n  ") for f in r.findings)]
    if r.witness:
        intro = ["The inputs and numbers that break the claim:"] if r.verdict == "REFUTED" else []
        parts += ["### Witness", *intro, fenced(T.compact_json(r.witness), "json")]
    if r.reason:
        parts += ["### Reason",
                  _paragraph_or_block(r.reason)]
    for t in r.tables:
        parts += [f"### Table: {esc(t.get('title', ''))}", _record_table(t)]
    if r.figures:
        parts += ["### Figures"] + [_figure(r, f) for f in r.figures]
    parts += ["### Inputs that reproduce it", fenced(T.compact_json(r.inputs), "json")]
    if r.derivation:
        parts += ["### Derivation"] + _derivation(r.derivation)
    return "\n\n".join(parts)


def render_markdown(records: list[ClaimRecord], provenance: dict[str, Any]) -> str:
    """The whole REPORT.md as one string (ends with a single newline)."""
    anchors = unique_slugs([r.id for r in records])
    counts = " · ".join(f"{n} {v}" for v, n in T.verdict_counts(records))
    parts = [
        "# Verification report",
        f"**Paper:** *{esc(T.PAPER_TITLE)}* ({esc(T.PAPER_CITATION)}).",
        "Rendered by `verify` from the check records in [`results.json`](results.json) "
        f"(schema version {SCHEMA_VERSION}, described in `verify/report/SCHEMA.md`). "
        "Every number below comes from those records. Wall-clock run times are kept apart in "
        "[`timings.md`](timings.md), so this file is byte-identical across reruns of the same inputs.",
        f"**{len(records)} claims:** {counts}" if records else "**No claims were checked.**",
        "## Summary",
        _summary(records, anchors),
        _legend(),
        "## Provenance",
        _provenance(provenance),
    ]
    parts += [_section(r, anchors[r.id]) for r in records]
    return "\n\n".join(parts) + "\n"
