"""Claim records -> the report's document tree (:mod:`verify.report.document`), built once.

Every decision about what the report says and in which order lives here; the Markdown and LaTeX
renderers only write the tree.  Order: the summary table with its legend, then "What the checks
found" (every finding of every record, numbered, each linked to its evidence), an optional "Where
the behaviour starts" section (sweep summaries, when given), one section per claim, and an appendix
with the derivations (typeset once, from the symbolic layer's own LaTeX/Markdown) and the run's
provenance.  Exact inputs stay in results.json; each claim section shows a compact table of the
inputs that matter and points to the record.

Text from records is literal, except the derivation's statement and step descriptions, which the
symbolic layer writes with ``$...$`` inline math (:func:`tex_text` splits them).
"""
from __future__ import annotations

import re
from typing import Any

from verify.claims.record import ASSURANCE_LEVELS, SCHEMA_VERSION, ClaimRecord, Finding
from verify.report import text as T
from verify.report.document import (Anchor, Code, CodeBlock, Document, FigureBlock, FigureRow,
                                    FileLink, Fragment, ItemList, Math, MathBlock, Number,
                                    Paragraph, Section, Table, Text, Verdict, emph, plain, ref, strong)
from verify.report.io import slug

# Findings grouped by kind, in this order (a kind not listed goes last, under its own name).
FINDING_GROUPS = (
    ("finding", "About the paper"),
    ("constant-gap", "Stated constants against observed onsets"),
    ("time-scale", "Time scales"),
    ("convention", "Conventions"),
    ("reading", "Other readings of the statements"),
    ("note", "Notes on the checks"),
)

# Input keys shown in a claim's compact inputs table (sizes, seeds, step size, steps, precision);
# every other key is named and left to results.json.
_INPUT_KEYS = re.compile(
    r"^(seeds?|\w+_seed|n|d|ns|ds|M|M0|M0s|Ms|m_star|eta|eta_rule|steps|steps_\w+|\w+_steps|samples|points|"
    r"digits|\w+_digits|digits_\w+|dps|precision|t|tier|runs|cases|configs|scales|eps|angles|"
    r"parameterisation|init_scale)$")
_INPUT_VALUE_WIDTH = 56
# Record tables longer than this, or taller than LONG_TABLE_LINES estimated lines of type, go to
# the appendix (the claim section links to them).
LONG_TABLE_ROWS = 12
LONG_TABLE_LINES = 24
TINY_LINE = 118  # digit widths across a table line in the smallest type (7 pt; footnotesize: 108)

_DOCUMENT_FRAGMENT = re.compile(r"\\(paragraph|section|subsection|begin\{(enumerate|itemize)\}|noindent)")


class Anchors:
    """Unique, deterministic anchor ids (lower-case slugs joined by single hyphens; a counter
    suffix on a repeat).  They never contain "--", so ``anchor + "--part"`` names a part of an
    anchored thing (a section's heading, say) without clashing with any other anchor."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, *parts: str) -> str:
        base = "-".join(slug(p) for p in parts)
        a, k = base, 2
        while a in self.used:
            a, k = f"{base}-{k}", k + 1
        self.used.add(a)
        return a


def tex_text(s: str) -> list:
    """Text with ``$...$`` inline math (the symbolic layer's prose) as Text/Math spans.

    An unbalanced ``$`` means the text is not TeX-flavoured: it is kept literal.
    """
    s = " ".join(str(s).split())
    parts = re.split(r"(?<!\\)\$", s)
    if len(parts) % 2 == 0:
        return [Text(s)]
    out = []
    for i, p in enumerate(parts):
        if not p:
            continue
        out.append(Math(p) if i % 2 else Text(p.replace("\\$", "$")))
    return out


def _cell(x: Any) -> list:
    return [Text(T.cell(x))]


def _findings_of(r: ClaimRecord) -> list[Finding]:
    return [f if isinstance(f, Finding) else Finding(headline=str(f)) for f in r.findings]


class _Claim:
    """Anchors of one claim's section and of its evidence (figures, tables, quantities)."""

    def __init__(self, r: ClaimRecord, index: int, anchors: Anchors) -> None:
        self.r, self.index = r, index
        self.section = anchors.new("claim", r.id)
        self.quantities = anchors.new("quantities", r.id)
        self.quantities_full = anchors.new("quantities-full", r.id)
        self.reading = anchors.new("reading", r.id)
        self.enclosures = anchors.new("enclosures", r.id)
        self.derivation = anchors.new("derivation", r.id)
        self.figures = {f.id: anchors.new("fig", r.id, f.id) for f in r.figures}
        self.tables = [anchors.new("table", r.id, str(k)) for k in range(len(r.tables))]
        self.finding_numbers: list[int] = []

    def label(self) -> list:
        return [ref(self.section, Code(self.r.id))]

    def findings(self) -> list[Finding]:
        return _findings_of(self.r)

    def evidence(self, e: str) -> tuple[str, list]:
        """(anchor, link text) of a finding's evidence: a figure id, a table title, a quantity or
        enclosure name, "reading", else the claim's section."""
        r = self.r
        if e in self.figures:
            return self.figures[e], ["figure ", Code(e)]
        for k, t in enumerate(r.tables):
            if t.get("title") == e:
                return self.tables[k], [f"table: {e}"]
        if any(q.name == e for q in r.quantities):
            return self.quantities, [f"quantity: {e}"]
        if any(x.name == e for x in r.enclosures):
            return self.enclosures, [f"enclosure: {e}"]
        if e == "reading" and r.reading:
            return self.reading, ["reading"]
        return self.section, [f"section {r.id}" + (f" ({e})" if e else "")]


class _Sweep:
    """Anchors of one sweep summary's subsection, tables and figures (made before the findings
    are numbered, so a sweep's findings link to them like a claim's)."""

    def __init__(self, s: dict[str, Any], anchors: Anchors) -> None:
        self.s = s
        self.name = str(s.get("name") or s.get("title", "sweep"))
        self.section = anchors.new("sweep", self.name)
        self.tables = list(s.get("tables") or []) + ([s["table"]] if s.get("table") else [])
        self.table_anchors = [anchors.new("sweep-table", self.name) for _ in self.tables]
        self.figures = []   # (figure dict, anchor, path, caption)
        for f in s.get("figures", []):
            if "lines" in f:
                path, caption = sweep_figure_path(s, f), f.get("title", f.get("id", ""))
            else:
                path, caption = f["path"], f.get("caption", f["path"])
            self.figures.append((f, anchors.new("sweep-fig", self.name, f.get("id", path)), path, caption))
        self.finding_numbers: list[int] = []

    def label(self) -> list:
        return [ref(self.section, "sweep ", Code(self.name))]

    def findings(self) -> list[Finding]:
        return [Finding(**f) if isinstance(f, dict) else Finding(headline=str(f))
                for f in self.s.get("findings") or []]

    def evidence(self, e: str) -> tuple[str, list]:
        for f, anchor, _, _ in self.figures:
            if f.get("id") == e:
                return anchor, ["figure ", Code(e)]
        for t, anchor in zip(self.tables, self.table_anchors):
            if t.get("title") == e:
                return anchor, [f"table: {e}"]
        return self.section, [f"sweep {self.name}" + (f" ({e})" if e else "")]


# ------------------------------------------------------------------------------------------------


def build_document(records: list[ClaimRecord], provenance: dict[str, Any],
                   sweeps: list[dict[str, Any]] | None = None) -> Document:
    """The whole report as a document tree.  ``sweeps``: optional sweep summaries (see
    :func:`sweeps_section`), rendered as "Where the behaviour starts" when given."""
    anchors = Anchors()
    claims = [_Claim(r, i, anchors) for i, r in enumerate(records)]
    findings_anchor = anchors.new("findings")
    sweep_refs = [_Sweep(s, anchors) for s in sweeps or []]
    numbered = _number_findings(claims + sweep_refs, anchors)

    counts = ", ".join(f"{n} {v}" for v, n in T.verdict_counts(records))
    intro = [
        Paragraph(["Every number in this document is rendered from the check records in ",
                   FileLink("results.json"), f" (schema version {SCHEMA_VERSION}, described in ",
                   Code("verify/report/SCHEMA.md"), "), which also hold each check's exact inputs. "
                   "Wall-clock run times are kept apart in ", FileLink("timings.md"),
                   ", so that this file is byte-identical across reruns of the same inputs."]),
        Paragraph([strong(f"{len(records)} claims:"), f" {counts}."] if records
                  else [strong("No claims were checked.")]),
    ]
    body = [
        Section(["Summary"], anchors.new("summary"), [_summary(claims), *_legend()], numbered=False),
        Section(["What the checks found"], findings_anchor, _findings(claims, numbered),
                numbered=False),
    ]
    sweep_long: list = []
    sweep = sweeps_section(sweep_refs, anchors, sweep_long)
    if sweep is not None:
        body.append(sweep)
    body += [_claim_section(c) for c in claims]
    appendix = []
    derivations = [b for c in claims for b in _derivation_blocks(c)]
    if derivations:
        appendix.append(Section(["Derivations"], anchors.new("appendix-derivations"), derivations))
    full = [b for c in claims for b in _quantities_full_blocks(c)]
    if full:
        appendix.append(Section(["Computed values in full"], anchors.new("appendix-quantities"), full))
    enclosures = [b for c in claims for b in _enclosure_blocks(c)]
    if enclosures:
        appendix.append(Section(["Certified enclosures"], anchors.new("appendix-enclosures"), enclosures))
    long_tables = [b for c in claims for b in _long_table_blocks(c)] + sweep_long
    if long_tables:
        appendix.append(Section(["Long tables"], anchors.new("appendix-tables"), long_tables))
    appendix.append(Section(["Provenance of the run"], anchors.new("provenance"),
                            [_provenance(provenance)]))
    return Document(
        title="Verification report", subtitle=T.PAPER_TITLE, byline=T.PAPER_CITATION,
        pdf_title=f"Verification report: {T.PAPER_TITLE}", intro=intro, body=body,
        appendix=appendix)


def sweeps_section(sweeps: list | None, anchors: Anchors | None = None,
                   appendix: list | None = None) -> Section | None:
    """"Where the behaviour starts": one subsection per sweep summary, or None without sweeps.

    A summary is what ``verify.sweeps`` writes to ``summary.json``: ``{"name", "title", "text"
    (a string or a list of lines), "tables": [{"title", "columns", "rows"}] and/or "table" (one such
    table; both optional), "findings": [Finding as a dict] (optional; numbered with the records'
    findings, evidence a figure id or table title of the summary), "figures":
    [Figure as a dict]}``; each figure is drawn by the report like a record's, to
    :func:`sweep_figure_path`.  A figure entry may instead be ``{"path", "caption"}`` naming files
    (``<path>.svg``/``.pdf``, relative to the report) that the caller provides.  A long table
    (:func:`is_long`) is appended to ``appendix`` (a list of blocks, when given) and linked.
    ``sweeps`` holds summary dicts or their :class:`_Sweep` anchor holders (made by
    :func:`build_document` before the findings are numbered).
    """
    if not sweeps:
        return None
    anchors = anchors or Anchors()
    subs = []
    for sw in sweeps:
        sw = sw if isinstance(sw, _Sweep) else _Sweep(sw, anchors)
        s, name, sec_anchor = sw.s, sw.name, sw.section
        blocks: list = []
        text = s.get("text") or []
        if isinstance(text, str):
            blocks.append(Paragraph([Text(" ".join(text.split()))]))
        elif text:
            blocks.append(ItemList([[Text(" ".join(str(t).split()))] for t in text]))
        if sw.finding_numbers:
            blocks.append(Paragraph([f"Findings {_number_ranges(sw.finding_numbers)} (listed under ",
                                     ref("findings", "What the checks found"), ")."]))
        for t, tab_anchor in zip(sw.tables, sw.table_anchors):
            title = t.get("title", "")
            if appendix is not None and is_long(t):
                blocks.append(Paragraph([strong("Table."), " ", Text(title), f" ({len(t['rows'])} rows, in "
                                         "the appendix: ", ref(tab_anchor, "table"), ")."]))
                appendix.append(Section([Text(s.get("title", name)), ": ", Text(title)],
                                        tab_anchor + "--a", [
                    Paragraph(["From ", ref(sec_anchor, "the sweep section"), "."]),
                    *_as_blocks(_record_table(t, tab_anchor))], level=2))
                continue
            if title:
                blocks.append(Paragraph([strong("Table."), " ", Text(title)]))
            blocks += _as_blocks(_record_table(t, tab_anchor))
        figs = [FigureBlock(anchor, path, [Text(caption)], alt=caption)
                for _, anchor, path, caption in sw.figures]
        if figs:
            refs: list = ["Figures: "]
            for i, f in enumerate(figs):
                refs += [ref(f.anchor, Text(f.alt)), "; " if i < len(figs) - 1 else "."]
            blocks += [Paragraph(refs)] + _figure_blocks(figs)
        subs.append(Section([Text(s.get("title", name))], sec_anchor, blocks, level=2))
    return Section(["Where the behaviour starts"], anchors.new("sweeps"), subs, numbered=False)


def sweep_figure_path(summary: dict[str, Any], figure: dict[str, Any]) -> str:
    """Where the report draws a sweep summary's figure (relative, no extension)."""
    return "figures/" + T.figure_stem("sweep-" + str(summary.get("name", "")), str(figure["id"]))


# ------------------------------------------------------------------------------------------------
# Front matter


def _key_number(r: ClaimRecord) -> list:
    q = T.key_quantity(r)
    if q is None:
        return ["—"]
    out = [Text(q.name), " = ", Number(T.value_with_error(q, short=True))]
    claimed = T.claimed_text(q, short=True)
    return out + ([" (claimed ", Text(claimed), ")"] if claimed else [" (no claimed value)"])


def _summary(claims: list[_Claim]) -> Table:
    rows = [[[ref(c.section, Code(c.r.id))], [Text(c.r.title)], [Verdict(c.r.verdict)],
             [Text(c.r.assurance)], _key_number(c.r), [Text(c.r.tier)]] for c in claims]
    return Table([["Claim"], ["Statement"], ["Verdict"], ["Assurance"],
                  ["Key number: computed (claimed)"], ["Tier"]], rows,
                 [0.1, 0.23, 0.18, 0.11, 0.31, 0.07])


def _legend() -> list:
    verdicts = []
    for v, m in T.VERDICT_MEANING.items():
        verdicts += [strong(v), f": {m}; "]
    levels = []
    for a in ASSURANCE_LEVELS:
        levels += [Code(a), f": {T.ASSURANCE_MEANING.get(a, '')}; "]
    verdicts[-1] = verdicts[-1].rstrip("; ") + "."
    levels[-1] = levels[-1].rstrip("; ") + "."
    return [Paragraph(["Verdicts. ", *verdicts], small=True),
            Paragraph(["Assurance levels, strongest first. ", *levels], small=True)]


def _number_findings(claims: list, anchors: Anchors) -> dict[str, list]:
    """Findings by kind, in the order of FINDING_GROUPS, numbered F1, F2, ... across the report
    (``claims``: the claims' and the sweeps' anchor holders, in report order)."""
    by_kind: dict[str, list] = {}
    for c in claims:
        for f in c.findings():
            by_kind.setdefault(f.kind or "finding", []).append((c, f))
    order = [k for k, _ in FINDING_GROUPS] + sorted(k for k in by_kind if k not in dict(FINDING_GROUPS))
    out, n = {}, 0
    for k in order:
        if k not in by_kind:
            continue
        items = []
        for c, f in by_kind[k]:
            n += 1
            c.finding_numbers.append(n)
            items.append((n, anchors.new("finding", str(n)), c, f))
        out[k] = items
    return out


def _findings(claims: list[_Claim], numbered: dict[str, list]) -> list:
    blocks: list = []
    if not numbered:
        blocks.append(Paragraph(["No findings were recorded."]))
    titles = dict(FINDING_GROUPS)
    for kind, items in numbered.items():
        rows, ids = [], []
        for n, anchor, c, f in items:
            item: list = [strong(f"F{n}."), " ", Text(f.headline)]
            if f.value:
                item += [" Value: ", Number(f.value), "."]
            item += [" (", *c.label()]
            if f.evidence:
                target, label = c.evidence(f.evidence)
                item += ["; evidence: ", ref(target, *label)]
            item.append(")")
            rows.append(item)
            ids.append(anchor)
        blocks.append(Section([titles.get(kind, kind.capitalize())], f"{ids[0]}--group",
                              [ItemList(rows, anchors=ids)], level=2))
    readings = [c for c in claims if c.r.reading]
    if readings:
        items = []
        for c in readings:
            params = ", ".join(sorted(c.r.reading))
            items.append([ref(c.section, Code(c.r.id)), " (", Verdict(c.r.verdict),
                          f"): the verdict is about one reading of {params}; ",
                          ref(c.reading, f"reading of {c.r.id}"), "."])
        blocks.append(Section(["Verdicts that depend on a reading"], "findings--readings",
                              [ItemList(items)], level=2))
    return blocks


# ------------------------------------------------------------------------------------------------
# One claim


def _claim_section(c: _Claim) -> Section:
    r = c.r
    blocks: list = [
        Paragraph([strong("Verdict:"), " ", Verdict(r.verdict), " · ", strong("Assurance:"),
                   f" {r.assurance} ({T.ASSURANCE_MEANING.get(r.assurance, '')}) · ",
                   strong("Tier:"), f" {r.tier}"]),
        Paragraph([strong("Statement."), " ", Text(r.statement)]),
        Paragraph([strong("Provenance."), " ", Text(r.provenance)]),
    ]
    if r.reading:
        blocks.append(Section(["Reading"], c.reading + "--h", [_reading(c)], level=2))
    if r.quantities:
        blocks.append(Section(["Computed vs claimed"], c.quantities + "--h", _quantities(c), level=2))
    if r.enclosures:
        blocks.append(Section(["Certified enclosures"], c.enclosures + "--h", _enclosures_brief(c), level=2))
    fs = _findings_of(r)
    if fs:
        nums = _number_ranges(c.finding_numbers)
        par = Paragraph([f"Findings {nums} (listed under ", ref("findings", "What the checks found"),
                         ")."])
        details = [[strong(f"F{n}."), " ", Text(f.detail)] for n, f in zip(c.finding_numbers, fs)
                   if f.detail]
        blocks.append(Section(["Findings"], c.section + "--findings",
                              [par] + ([ItemList(details)] if details else []), level=2))
    if r.witness:
        intro = [Paragraph(["The inputs and numbers that break the claim:"])] if r.verdict == "REFUTED" else []
        blocks.append(Section(["Witness"], c.section + "--witness",
                              intro + [CodeBlock(T.compact_json(r.witness, width=92), "json")], level=2))
    if r.reason:
        reason = r.reason.rstrip()
        body = CodeBlock(reason) if "\n" in reason else Paragraph([Text(reason)])
        blocks.append(Section(["Reason"], c.section + "--reason", [body], level=2))
    for k, t in enumerate(r.tables):
        if is_long(t):
            blocks.append(Section([Text(f"Table: {t.get('title', '')}")], c.tables[k] + "--h", [
                Paragraph([f"{len(t['rows'])} rows, in the appendix: ",
                           ref(c.tables[k], f"table {t.get('title', '')}"), "."])], level=2))
        else:
            blocks.append(Section([Text(f"Table: {t.get('title', '')}")], c.tables[k] + "--h",
                                  _as_blocks(_record_table(t, c.tables[k])), level=2))
    if r.figures:
        figs = [FigureBlock(c.figures[f.id], "figures/" + T.figure_stem(r.id, f.id),
                            [Text(f.title), " (", Code(f.id), ")"], alt=f.title) for f in r.figures]
        refs: list = ["Plotted from the record: "]
        for i, f in enumerate(r.figures):
            refs += [ref(c.figures[f.id], "figure ", Code(f.id)), f" ({f.title})"]
            refs.append("; " if i < len(r.figures) - 1 else ".")
        blocks.append(Section(["Figures"], c.section + "--figures",
                              [Paragraph(refs)] + _figure_blocks(figs), level=2))
    blocks.append(Section(["Inputs"], c.section + "--inputs", _inputs(c), level=2))
    if r.derivation:
        blocks.append(Section(["Derivation"], c.section + "--derivation", [_derivation_summary(c)], level=2))
    return Section([Code(r.id), ": ", Text(r.title)], c.section, blocks, bookmark=f"{r.id}: {r.title}")


def _number_ranges(numbers: list[int]) -> str:
    """[4, 5, 6, 9] -> "F4-F6, F9" (runs of consecutive finding numbers as ranges)."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"F{r[0]}" if len(r) == 1 else f"F{r[0]}–F{r[-1]}" for r in runs)


def _reading(c: _Claim) -> Table:
    rows = []
    for param in sorted(c.r.reading):
        choice, _, why = str(c.r.reading[param]).partition(" -- ")
        rows.append([[Code(param)], [Text(choice.strip())], [Text(why.strip())]])
    return Table([["Parameter"], ["Reading"], ["Why"]], rows, [0.18, 0.37, 0.45], anchor=c.reading)


def _quantity_table(c: _Claim, *, full: bool) -> Table:
    """The claim's quantities, one per row.  In the claim section (``full=False``) values and
    claimed values show their first T.BODY_DIGITS significant digits (cut and marked "…", so the
    error column still applies); the appendix copy (``full=True``) shows every recorded digit."""
    def num(x: str) -> Number:
        return Number(x if full else T.leading_digits(x))

    rows = []
    for q in c.r.quantities:
        claimed = T.claimed_text(q)
        rel = T.RELATION_TEXT.get(q.relation, q.relation)
        rows.append([[Text(q.name)], [num(q.value)], [Number(q.error)] if q.error else ["—"],
                     ([Text(rel + " "), num(q.claimed)] if rel else [num(q.claimed)]) if claimed else ["—"],
                     [Text(T.precision_label(q.precision) or "—")]])
    header = [["Quantity"], ["Computed"], ["Error"], ["Claimed"], ["Precision"]]
    widths = [0.3, 0.25, 0.12, 0.22, 0.11] if full else column_widths(header, rows)[0]
    return Table(header, rows, widths, anchor=c.quantities_full if full else c.quantities)


def _any_cut(c: _Claim) -> bool:
    """Whether the claim section shows some value or claimed value cut short."""
    return any(T.leading_digits(x) != x.strip() for q in c.r.quantities for x in (q.value, q.claimed) if x)


def _needs_full_copy(c: _Claim) -> bool:
    return any(q.note for q in c.r.quantities) or _any_cut(c)


def _quantities(c: _Claim) -> list:
    out: list = [_quantity_table(c, full=False)]
    if _needs_full_copy(c):
        what = (f"values cut to {T.BODY_DIGITS} significant digits (marked …); every digit"
                if _any_cut(c) else "the table")
        notes = " and the notes on how each was computed" if any(q.note for q in c.r.quantities) else ""
        out.append(Paragraph([what[0].upper() + what[1:], notes, ": ",
                              ref(c.quantities_full, f"appendix, {c.r.id}"), "."], small=True))
    return out


def _quantities_full_blocks(c: _Claim) -> list:
    if not c.r.quantities or not _needs_full_copy(c):
        return []
    blocks: list = [Paragraph(["From the section of claim ", ref(c.section, Code(c.r.id)), "."]),
                    _quantity_table(c, full=True)]
    notes = [[Text(q.name), ": ", Text(q.note)] for q in c.r.quantities if q.note]
    if notes:
        blocks += [Paragraph(["Notes:"], small=True), ItemList(notes)]
    return [Section([Code(c.r.id), ": computed vs claimed"], c.quantities_full + "--a", blocks, level=2)]


def _enclosure_table(c: _Claim, anchor: str | None) -> Table:
    rows = [[[Text(e.name)], ["[", Number(e.lo), ", ", Number(e.hi), "]"], [Text(str(e.prec_bits))],
             [Text(e.proves or "—")]] for e in c.r.enclosures]
    return Table([["Quantity"], ["Enclosure [lo, hi]"], ["Bits"], ["What it proves"]], rows,
                 [0.22, 0.38, 0.07, 0.33], anchor=anchor)


def _enclosures_brief(c: _Claim) -> list:
    """Short lists in place; a long one in the appendix, with a count and the bits here."""
    es = c.r.enclosures
    if len(es) <= LONG_TABLE_ROWS:
        return [_enclosure_table(c, c.enclosures)]
    bits = sorted({e.prec_bits for e in es})
    span = f"{bits[0]}" if len(bits) == 1 else f"{bits[0]} to {bits[-1]}"
    return [Anchor(c.enclosures), Paragraph([f"{len(es)} interval enclosures at {span} bits, "
                       "each with what it proves, listed in the appendix: ",
                       ref(c.enclosures + "--full", f"enclosures of {c.r.id}"), "."])]


def _enclosure_blocks(c: _Claim) -> list:
    if len(c.r.enclosures) <= LONG_TABLE_ROWS:
        return []
    return [Section([Code(c.r.id), ": certified enclosures"], c.enclosures + "--a", [
        Paragraph(["From the section of claim ", ref(c.section, Code(c.r.id)), "."]),
        _enclosure_table(c, c.enclosures + "--full")], level=2)]


def is_long(t: dict[str, Any]) -> bool:
    """Whether a record/sweep table goes to the appendix: more than LONG_TABLE_ROWS rows, or
    taller than LONG_TABLE_LINES lines once its cells wrap in their columns."""
    rows = t.get("rows", [])
    return len(rows) > LONG_TABLE_ROWS or table_lines(t) > LONG_TABLE_LINES


def table_lines(t: dict[str, Any]) -> int:
    """Estimated lines of type a table takes (header included), from the column widths that
    :func:`_record_table` would choose; a table split into parts counts each part."""
    parts = _as_blocks(_record_table(t, None))
    total = 0
    for part in parts:
        if not isinstance(part, Table):
            total += 1
            continue
        line = TINY_LINE if part.tiny else 108
        for row in [part.header] + part.rows:
            total += max([-(-len(plain(cell)) // max(1, int(w * line) - 2)) for cell, w in
                          zip(row, part.widths)] + [1])
    return total


def _record_table(t: dict[str, Any], anchor: str | None) -> Any:
    """A record table; one too wide for the page even in the smallest type is split into parts
    that each repeat the first column."""
    cols = [[Text(str(x))] for x in t.get("columns", [])]
    rows = [[_cell(x) for x in row] for row in t.get("rows", [])]
    ncol = max([len(cols)] + [len(r) for r in rows]) or 1
    cols += [[Text("")] for _ in range(ncol - len(cols))]
    rows = [r + [[Text("")] for _ in range(ncol - len(r))] for r in rows]
    widths, fits = column_widths(cols, rows)
    if fits:
        return Table(cols, rows, widths, anchor=anchor)
    widths, fits = column_widths(cols, rows, line=TINY_LINE)
    if fits or ncol <= 2:
        return Table(cols, rows, widths, anchor=anchor, tiny=True)
    groups, cur = [], []
    for j in range(1, ncol):
        trial = [0] + cur + [j]
        if cur and not column_widths([cols[i] for i in trial], [[r[i] for i in trial] for r in rows],
                                     line=TINY_LINE)[1]:
            groups.append(cur)
            cur = [j]
        else:
            cur.append(j)
    groups.append(cur)
    parts = []
    for g, group in enumerate(groups):
        idx = [0] + group
        sub_cols = [cols[i] for i in idx]
        sub_rows = [[r[i] for i in idx] for r in rows]
        if g:
            parts.append(Paragraph([f"(continued, part {g + 1} of {len(groups)})"], small=True))
        parts.append(Table(sub_cols, sub_rows, column_widths(sub_cols, sub_rows, line=TINY_LINE)[0],
                           anchor=anchor if g == 0 else None, tiny=True))
    return parts


_NARROW, _WIDE = set("iljtf.,;:|!'()[]/ "), set("mwMW")


def word_width(w: str) -> float:
    """A word's typeset width in digit widths (Latin Modern): narrow letters and punctuation about
    half, m/w and capitals wider, '=' and '+' a third wider; enough to keep a word in its column."""
    total = 0.0
    for ch in w:
        if ch in _NARROW:
            total += 0.5
        elif ch in _WIDE:
            total += 1.6
        elif ch.isupper() or ch in "=+<>~%&#@":
            total += 1.4
        else:
            total += 1.0
    return total


def column_widths(header: list, rows: list, line: int = 108, cap: int = 60) -> tuple[list[float], bool]:
    """Fractions of the line per column, from the text they hold (``line``: characters of a table
    line in the small type of tables).  Every column first gets room for its longest word (in
    digit widths, :func:`word_width`; a bold header word counts 1.2 times) plus the column padding;
    the rest of the line is shared out in proportion to how much more the longest cell (up to
    ``cap`` characters) would like."""
    pad = 2.5
    lows, wants = [], []
    for j in range(len(header)):
        head = plain(header[j])
        body = [plain(r[j]) for r in rows if j < len(r)]
        word = max([word_width(w) * 1.2 for w in head.split()] +
                   [word_width(w) for c in body for w in c.split()] + [1])
        low = min(word, 26) + pad
        want = max(low, min(max([len(c) for c in body] + [len(head)]), cap) + pad)
        lows.append(low)
        wants.append(want)
    if sum(wants) <= line:
        widths = [w * line / sum(wants) for w in wants]
    elif sum(lows) >= line:
        widths = [w * line / sum(lows) for w in lows]
    else:
        extra = [w - lo for w, lo in zip(wants, lows)]
        share = (line - sum(lows)) / sum(extra)
        widths = [lo + e * share for lo, e in zip(lows, extra)]
    fr = [round(w / line, 3) for w in widths]
    fr[-1] = round(1 - sum(fr[:-1]), 3)
    return fr, sum(lows) <= line


def _as_blocks(x: Any) -> list:
    return x if isinstance(x, list) else [x]


def _figure_blocks(figs: list[FigureBlock]) -> list:
    return [FigureRow(figs[i:i + 2]) for i in range(0, len(figs), 2)]


def _input_value(v: Any) -> str:
    text = T.leaf_text(v)
    if len(text) <= _INPUT_VALUE_WIDTH:
        return text
    if isinstance(v, (list, dict)):
        return f"{len(v)} entries (in results.json)"
    return text[:_INPUT_VALUE_WIDTH - 1] + "…"


def _inputs(c: _Claim) -> list:
    inputs = c.r.inputs or {}
    shown = [k for k in sorted(inputs) if _INPUT_KEYS.match(k)]
    rest = [k for k in sorted(inputs) if k not in shown]
    line: list = []
    for i, k in enumerate(shown):
        line += [Code(k), " = ", Text(_input_value(inputs[k])), "; " if i < len(shown) - 1 else ". "]
    tail = ["The exact inputs that reproduce this record are in ", FileLink("results.json"),
            f", record {c.index} (", Code(c.r.id), "), field ", Code("inputs")]
    if rest:
        tail += ["; also there: ", Text(", ".join(rest))]
    return [Paragraph(line + tail + ["."], small=True)]


# ------------------------------------------------------------------------------------------------
# Derivations (appendix)


def _derivation_summary(c: _Claim) -> Paragraph:
    d = c.r.derivation or {}
    steps = d.get("steps") or []
    passed = sum(1 for s in steps if s.get("passed"))
    out: list = [strong(str(d.get("name", c.r.id))), ": "] if d.get("name") else []
    if d.get("statement"):
        out += tex_text(d["statement"]) + [" "]
    if steps:
        out.append(f"{passed} of {len(steps)} steps checked and passed. ")
    spot = _spot_check_line(d.get("spot_check"))
    if spot:
        out += ["Numeric spot check: ", Text(spot), ". "]
    out += ["Typeset in the appendix: ", ref(c.derivation, f"derivation of {c.r.id}"), "."]
    return Paragraph(out)


def _spot_check_line(spot: Any) -> str:
    """The spot check's scalar entries (its points are in results.json)."""
    if not isinstance(spot, dict):
        return ""
    items = [(k, v) for k, v in sorted(spot.items()) if not isinstance(v, (list, dict))
             and len(T.leaf_text(v)) <= 40]
    return ", ".join(f"{k} = {T.cell(v)}" for k, v in items)


def _derivation_blocks(c: _Claim) -> list:
    d = c.r.derivation
    if not d:
        return []
    frags = d.get("latex") or []
    frags = [str(f) for f in (frags if isinstance(frags, list) else [frags])]
    complete = any(_DOCUMENT_FRAGMENT.search(f) for f in frags)
    blocks: list = [Anchor(c.derivation)]
    if not complete:
        # a bare formula: give it its heading, statement and step table
        head: list = [strong(f"Derivation {d.get('name', c.r.id)}"), " (claim ", ref(c.section, Code(c.r.id)), ")."]
        if d.get("statement"):
            head += [" "] + tex_text(d["statement"])
        blocks.append(Paragraph(head))
    if d.get("markdown"):
        blocks.append(Fragment("\n\n".join(frags), str(d["markdown"]).strip()))
    else:
        blocks += [MathBlock(f) for f in frags]
    if not complete:
        steps = d.get("steps") or []
        if steps:
            rows = [[[Text(str(i))], tex_text(s.get("description", "")),
                     tex_text(" ".join(x for x in (s.get("check", ""), s.get("detail", "")) if x)),
                     [strong("yes")] if s.get("passed") else [strong("NO")]]
                    for i, s in enumerate(steps, 1)]
            blocks.append(Table([["#"], ["Step"], ["How it was checked"], ["Passed"]], rows,
                                [0.05, 0.5, 0.35, 0.1]))
    spot = _spot_check_line(d.get("spot_check"))
    if spot:
        blocks.append(Paragraph([emph("Numeric spot check: "), Text(spot),
                                 " (its points are in ", FileLink("results.json"), ")."], small=True))
    return blocks


def _long_table_blocks(c: _Claim) -> list:
    out = []
    for k, t in enumerate(c.r.tables):
        if is_long(t):
            out.append(Section([Code(c.r.id), ": ", Text(t.get("title", ""))], c.tables[k] + "--a", [
                Paragraph(["From the section of claim ", ref(c.section, Code(c.r.id)), "."]),
                *_as_blocks(_record_table(t, c.tables[k]))], level=2))
    return out


def _provenance(provenance: dict[str, Any]) -> Any:
    if not provenance:
        return Paragraph([emph("No provenance was recorded.")])
    rows = [[[Code(k)], [Number(T.leaf_text(v))]] for k, v in T.flatten(provenance)]
    return Table([["Key"], ["Value"]], rows, [0.25, 0.75])


__all__ = ["build_document", "sweeps_section", "tex_text", "FINDING_GROUPS", "Anchors"]
