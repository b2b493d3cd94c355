"""Claim records -> the report's document tree (:mod:`verify.report.document`), built once.

Every decision about what the report says and in which order lives here; the Markdown and LaTeX
renderers only write the tree.  Body (the paper's claims, for a reader with ten minutes): the claims
table with its legend, the headline findings, "Stated against observed", "Where the behaviour
starts" (the paper's sweeps, when given) and one short section per claim.  Appendix: the other
findings, the checks beyond the paper, derivations (typeset once, from the symbolic layer's own
LaTeX/Markdown), every digit, tables, further figures, statements, conclusions, twin statements,
readings, inputs and the run's provenance.  Exact inputs stay in results.json.

Text from records is literal, except the derivation's statement and step descriptions, which the
symbolic layer writes with ``$...$`` inline math (:func:`tex_text` splits them).
"""
from __future__ import annotations

import re
from typing import Any

from verify.claims.record import ASSURANCE_LEVELS, SCHEMA_VERSION, ClaimRecord, Finding
from verify.report import text as T
from verify.report.document import (Anchor, Aside, Code, CodeBlock, Document, Emph, FigureBlock,
                                    FigureRow, FileLink, Fragment, ItemList, Math, MathBlock,
                                    Number, Paragraph, Ref, Section, Strong, Table, Text, Verdict,
                                    emph, plain, ref, strong)
from verify.report import front as F
from verify.report.io import slug
from verify.report.mathtext import _SUBSCRIPT_WORDS, FUNCS, GREEK, to_tex

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
        self.details = anchors.new("details", r.id)
        self.twins = anchors.new("twins", r.id)
        self.conclusions_full = anchors.new("conclusions", r.id)
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
            return self.figures[e], [FIGURE]
        for k, t in enumerate(r.tables):
            if t.get("title") == e:
                return self.tables[k], ["table: "] + F.math_inlines(_clean(_first_clause(e)))
        if any(q.name == e for q in r.quantities):
            return self.quantities, ["quantity: "] + F.math_inlines(_clean(e))
        if any(x.name == e for x in r.enclosures):
            return self.enclosures, ["enclosure: "] + F.math_inlines(_clean(e))
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
                return anchor, [FIGURE]
        for t, anchor in zip(self.tables, self.table_anchors):
            if t.get("title") == e:
                return anchor, ["table: "] + F.math_inlines(_clean(_first_clause(e)))
        return self.section, [f"sweep {self.name}" + (f" ({e})" if e else "")]


# ------------------------------------------------------------------------------------------------


# Claims of the paper (SPEC §3), in the catalogue's order; any other record or sweep is rendered
# under "Beyond the paper".
PAPER_CLAIMS = ("score", "gradient", "em-link", "thm2.1", "thm3.1", "thm3.2", "lem3.3", "thm3.4",
                "thm3.5", "thm3.7", "figure")
PAPER_SWEEPS = ("split-threshold", "one-converges", "thm3.4-map")
BODY_FIGURES = 2  # figures per claim section (one row); the others go to the appendix
STATED_OBSERVED = 240  # characters of an observed cell in "Stated against observed" (… marks a cut)
SWEEP_TEXT_ITEMS = 2  # lines of a sweep's summary in the body; the rest in the appendix
BEYOND = "beyond"  # anchor of the appendix section on claims the paper does not make
CATALOGUE = "verify/claims/CATALOGUE.md"


def build_document(records: list[ClaimRecord], provenance: dict[str, Any],
                   sweeps: list[dict[str, Any]] | None = None,
                   times: dict[str, float | None] | None = None) -> Document:
    """The whole report as a document tree.  ``sweeps``: optional sweep summaries (see
    :func:`sweeps_section`); ``times``: measured seconds per claim (timings.json), shown rounded
    to one significant digit beside each claim's reproduce command."""
    anchors = Anchors()
    claims = [_Claim(r, i, anchors) for i, r in enumerate(records)]
    sweep_refs = [_Sweep(s, anchors) for s in sweeps or []]
    headlines, notes = _number_findings(claims + sweep_refs, anchors)
    rec_by_id = {r.id: r for r in records}
    sweep_by_name = {sw.name: sw.s for sw in sweep_refs}

    affected = []
    for sc in F.STATED_CONSTANTS:
        affected += [Math(to_tex(sc.stated)), f" ({sc.claim}), "]
    if affected:
        affected[-1] = affected[-1].rstrip(", ") + ")."
        affected[-1] = affected[-1][:-2] + "."
    intro = [
        Paragraph([strong("What this is."), " A numerical verification of the paper's claims. "
                   "The paper's full text was not available: the statements below are transcribed "
                   "from the public abstract, the public reviews and a public summary, so theorem "
                   "numbers and constants are as reported there, not as printed in the paper. "
                   "That affects every stated constant this report compares: "] + affected
                  + [" The statements, readings, conventions and hypotheses are catalogued in ",
                     FileLink(CATALOGUE), "; every number here is rendered from ",
                     FileLink("results.json"), " and the sweep summaries."]),
    ]
    paper = [c for c in claims if c.r.id in PAPER_CLAIMS or not PAPER_CLAIMS]
    beyond = [c for c in claims if c not in paper]
    other_sweeps = [sw for sw in sweep_refs if sw.name not in PAPER_SWEEPS]
    if beyond or other_sweeps:
        anchors.used.add(BEYOND)
        what = [f"{len(beyond)} record{'s' if len(beyond) != 1 else ''}"] if beyond else []
        what += [f"{len(other_sweeps)} sweep{'s' if len(other_sweeps) != 1 else ''}"] if other_sweeps else []
        intro.append(Paragraph([strong("Beyond the paper."), f" {' and '.join(what)} on claims the "
                                "paper does not make (its neighbours' claims, other objectives, "
                                "stochastic and finite-sample variants) are in the appendix: ",
                                ref(BEYOND, "Beyond the paper"), "."]))
    counted = paper or claims
    counts = ", ".join(f"{n} {v}" for v, n in T.verdict_counts([c.r for c in counted]))
    intro.insert(1, Paragraph([strong(f"{len(counted)} claims of the paper:"), f" {counts}."]
                              if counted else [strong("No claims were checked.")]))
    shown_figures: dict = {}  # drawn content -> anchor of the body figure that shows it
    body = [Section(["The claims"], anchors.new("summary"),
                    [_claims_table(paper or claims), *_legend()], numbered=False)]
    if headlines:
        body.append(Section(["Headline findings"], anchors.new("findings"),
                            _headline_blocks(headlines, bool(notes)), numbered=False))
    body.append(Section(["Stated against observed"], anchors.new("stated"),
                        _stated_blocks(rec_by_id, sweep_by_name), numbered=False))
    appendix_tables: list = []
    paper_sweeps = [sw for sw in sweep_refs if sw.name in PAPER_SWEEPS]
    sweep = sweeps_section(paper_sweeps, anchors, appendix_tables)
    if sweep is not None:
        body.append(sweep)
    body += [_claim_section(c, times or {}, appendix_tables, shown_figures) for c in paper]

    appendix = []
    if notes:
        appendix.append(Section(["Notes on the checks"], anchors.new("notes"),
                                _notes_blocks(notes), numbered=True))
    if beyond or other_sweeps:
        # checks of claims the paper does not make: after the paper's, in the appendix, so that
        # the body is the paper's claims alone (the first page says where these are)
        blocks: list = [Paragraph(["Checks of claims the paper does not make (its neighbours' "
                                   "claims, other objectives, stochastic and finite-sample "
                                   "variants), rendered from their records and summaries."])]
        blocks += [_claim_section(c, times or {}, appendix_tables, shown_figures, level=2)
                   for c in beyond]
        other = sweeps_section(other_sweeps, anchors, appendix_tables)
        if other is not None:
            blocks += other.blocks
        appendix.append(Section(["Beyond the paper"], BEYOND, blocks))
    derivations = [b for c in claims for b in _derivation_blocks(c)]
    if derivations:
        appendix.append(Section(["Derivations"], anchors.new("appendix-derivations"), derivations))
    full = [b for c in claims for b in _quantities_full_blocks(c)]
    if full:
        appendix.append(Section(["Computed values in full"], anchors.new("appendix-quantities"), full))
    enclosures = [b for c in claims for b in _enclosure_blocks(c)]
    if enclosures:
        appendix.append(Section(["Certified enclosures"], anchors.new("appendix-enclosures"), enclosures))
    if appendix_tables:
        appendix.append(Section(["Tables and further figures"], anchors.new("appendix-tables"),
                                appendix_tables))
    details = [b for c in claims for b in _details_blocks(c)]
    if details:
        appendix.append(Section(["Claims in full: statements, conclusions, twin statements, "
                                 "readings and inputs"], anchors.new("appendix-details"),
                                details))
    appendix.append(Section(["Provenance of the run"], anchors.new("provenance"),
                            [_provenance(provenance)]))
    return _number_figures(Document(
        title="Verification report", subtitle=T.PAPER_TITLE, byline=T.PAPER_CITATION,
        pdf_title=f"Verification report: {T.PAPER_TITLE}", intro=intro, body=body,
        appendix=appendix))


# A link to a figure is written ref(anchor, FIGURE); :func:`_number_figures` makes it "Figure N",
# N the figure's number in the document (the order LaTeX numbers them in), so the text never
# names a figure by its id.
FIGURE = Text("\x00figure")


def _number_figures(doc: Document) -> Document:
    numbers: dict[str, int] = {}

    def visit_blocks(bs: list) -> None:
        for b in bs:
            if isinstance(b, Section):
                visit_blocks(b.blocks)
            elif isinstance(b, FigureRow):
                visit_blocks(b.figures)
            elif isinstance(b, Aside):
                visit_blocks(b.blocks + [b.figure])
            elif isinstance(b, FigureBlock):
                numbers[b.anchor] = len(numbers) + 1
                b.number = numbers[b.anchor]

    visit_blocks(doc.intro + doc.body + doc.appendix)

    def fix(xs: list) -> list:
        out = []
        for x in xs:
            if isinstance(x, Ref):
                kids = list(x.children)
                if kids == [FIGURE]:
                    n = numbers.get(x.target)
                    kids = [f"Figure {n}" if n else "figure"]
                x = Ref(x.target, tuple(fix(kids)))
            elif isinstance(x, (Strong, Emph)):
                x = type(x)(tuple(fix(list(x.children))))
            out.append(x)
        return out

    def fix_blocks(bs: list) -> None:
        for b in bs:
            if isinstance(b, Section):
                b.title = fix(b.title)
                fix_blocks(b.blocks)
            elif isinstance(b, Paragraph):
                b.inlines = fix(b.inlines)
            elif isinstance(b, ItemList):
                b.items = [fix(it) for it in b.items]
            elif isinstance(b, Table):
                b.header = [fix(c) for c in b.header]
                b.rows = [[fix(c) for c in row] for row in b.rows]
            elif isinstance(b, FigureRow):
                fix_blocks(b.figures)
            elif isinstance(b, Aside):
                fix_blocks(b.blocks + [b.figure])
            elif isinstance(b, FigureBlock):
                b.caption = fix(b.caption)

    fix_blocks(doc.intro + doc.body + doc.appendix)
    return doc


def sweeps_section(sweeps: list | None, anchors: Anchors | None = None,
                   appendix: list | None = None) -> Section | None:
    """"Where the behaviour starts": one subsection per sweep summary, or None without sweeps.

    A summary is what ``verify.sweeps`` writes to ``summary.json``: ``{"name", "title", "text"
    (a string or a list of lines), "tables": [{"title", "columns", "rows"}] and/or "table" (one such
    table; both optional), "findings": [Finding as a dict] (optional; numbered with the records'
    findings, evidence a figure id or table title of the summary), "figures":
    [Figure as a dict]}``; each figure is drawn by the report like a record's, to
    :func:`sweep_figure_path`.  A figure entry may instead be ``{"path", "caption"}`` naming files
    (``<path>.svg``/``.pdf``, relative to the report) that the caller provides.  Tables go to
    ``appendix`` (a list of blocks, when given) and are linked; without it, short tables stay.
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
            blocks.append(Paragraph(F.math_inlines(_clean(text))))
        elif text:
            shown = text if appendix is None else text[:SWEEP_TEXT_ITEMS]
            blocks.append(ItemList([F.math_inlines(_clean(t)) for t in shown]))
            if len(shown) < len(text):
                rest_anchor = sec_anchor + "--rest"
                appendix.append(Section([*F.math_inlines(s.get("title", name)), ": the rest of the summary"],
                                        rest_anchor, [ItemList([F.math_inlines(_clean(t))
                                                                for t in text[len(shown):]])], level=2))
        links: list = []
        if sw.finding_numbers:
            links.append(f"Findings {_number_ranges(sw.finding_numbers)}. ")
        if isinstance(text, list) and appendix is not None and len(text) > SWEEP_TEXT_ITEMS:
            links += [ref(sec_anchor + "--rest", f"{len(text) - SWEEP_TEXT_ITEMS} more lines of its "
                                                 "summary"), "; "]
        long_tables: list = []
        for t, tab_anchor in zip(sw.tables, sw.table_anchors):
            title = t.get("title", "")
            if appendix is not None and (is_long(t) or len(t.get("columns", [])) > 6):
                long_tables += [ref(tab_anchor, *F.math_inlines(_first_clause(title))),
                                f" ({len(t['rows'])} rows); "]
                appendix.append(Section([*F.math_inlines(s.get("title", name)), ": ", *F.math_inlines(_first_clause(title))],
                                        tab_anchor + "--a", [
                    Paragraph([Text(title), " From ", ref(sec_anchor, "the sweep section"), "."], small=True),
                    *_as_blocks(_record_table(t, tab_anchor))], level=2))
                continue
            if title:
                blocks.append(Paragraph([strong("Table."), " ", *F.math_inlines(title)]))
            blocks += _as_blocks(_record_table(t, tab_anchor))
        if long_tables:
            links += ["tables in the appendix: "] + long_tables
        if links:
            if isinstance(links[-1], str):
                links[-1] = links[-1].rstrip("; ") + "."
            blocks.append(Paragraph(links, small=True))
        grid = F.outcome_grid(s) is not None  # drawn as a categorical map: no line styles
        figs = [FigureBlock(anchor, path, _caption(f, caption, key=not grid), alt=caption)
                for f, anchor, path, caption in sw.figures]
        if len(figs) == 1 and appendix is not None:
            blocks = [Aside(blocks, figs[0])]  # the summary beside its one figure
        elif figs:
            blocks += _figure_blocks(figs)
        blocks.append(Paragraph([strong("Reproduce:"), " ", Code(f"python -m verify sweep {name}"),
                                 f" ({s.get('cells', '?')} cells)." if s.get("cells") else "."],
                                small=True))
        subs.append(Section(F.math_inlines(s.get("title", name)), sec_anchor, blocks, level=2))
    return Section(["Where the behaviour starts"], anchors.new("sweeps"), subs, numbered=False)


def sweep_figure_path(summary: dict[str, Any], figure: dict[str, Any]) -> str:
    """Where the report draws a sweep summary's figure (relative, no extension)."""
    return "figures/" + T.figure_stem("sweep-" + str(summary.get("name", "")), str(figure["id"]))


# ------------------------------------------------------------------------------------------------
# Front matter

_LIST_LITERAL = re.compile(r"\[\[.*?\]\]|\[(?:'[^']*'(?:, )?)+\]")


def _clean(s: Any) -> str:
    """Record text for the body: Python list literals as tuples, "dps=N" in words."""
    s = " ".join(str(s).split())
    s = _LIST_LITERAL.sub(lambda m: m.group().replace("'", "").replace("[", "(").replace("]", ")"), s)
    s = re.sub(r"\bdps=(\d+)", r"\1 significant digits", s)
    s = re.sub(r"\b(?:in |of )?verify/[\w/]+\.py\b", "", s)  # the toolkit's files: said by what they do
    s = re.sub(r"\b(?:proofs)/[\w/]+\.py\b", "the symbolic derivation", s)
    s = re.sub(r"\b(?:proofs|verify)(?:\.\w+)+(?:\(\))?", "the symbolic derivation", s)  # module paths
    s = s.replace("**", "^")
    s = re.sub(r"\s*\(SPEC[^)]*\)", "", s)  # the project's internal spec is not in the repository
    s = re.sub(r"\bSPEC\s*§\s*\d+", "the claims catalogue", s)
    s = _SNAKE.sub(_snake_words, s)
    return s


# a code identifier (a name joined to words of two or more letters by underscores: converge_tol,
# M0_power): said in words.  Subscripts stay (c_i, mu_1, lam_max, c_far, x_{k}).
_SNAKE = re.compile(r"\b([A-Za-z][A-Za-z0-9]*)((?:_[A-Za-z]{2,})+)\b")


def _snake_words(m: re.Match) -> str:
    head, tail = m.group(1), m.group(2)
    parts = tail.split("_")[1:]
    if (head in GREEK or head in FUNCS) or (len(parts) == 1 and parts[0] in _SUBSCRIPT_WORDS):
        return m.group()
    if len(head) == 1 and len(parts) == 1 and parts[0] in GREEK:
        return m.group()  # x_eta: a symbol with a Greek subscript
    return head + " " + " ".join(parts)


def _first_clause(s: str) -> str:
    return re.split(r"(?<=\w)[(:;]", str(s), maxsplit=1)[0].strip()


# Longest text (characters) of a claims-table cell; the whole text is in the claim's section.
TABLE_CELL = {"tested": 90, "basis": 90, "key": 90, "stated": 70}


def _claims_table(claims: list) -> Table:
    rows = []
    for c in claims:
        r = c.r
        tested = F.brief(_clean(F.tested_text(r)), TABLE_CELL["tested"])
        scope = F.scope_text(r)
        tested_cell = F.math_inlines(tested) + ([Text("; "), emph(scope)] if scope else [])
        basis = F.brief(_clean(F.verdict_basis(r)), TABLE_CELL["basis"])
        stated = F.brief(_clean(F.stated_text(r)), TABLE_CELL["stated"])
        rows.append([
            [ref(c.section, strong(r.id)), Text(": ")] + F.math_inlines(_clean(r.title)),
            tested_cell or [Text("—")],
            [Verdict(r.verdict)] + ([Text(": ")] + F.math_inlines(basis) if basis else []),
            [Text(r.assurance)],
            F.math_inlines(F.brief(_clean(F.key_number(r)), TABLE_CELL["key"])) or [Text("—")],
            _stated_cell(r) or F.math_inlines(stated) or [Text("—")],
        ])
    header = [["Claim"], ["What was tested"], ["Verdict and basis"], ["Assurance"],
              ["Key number"], ["Stated against observed"]]
    return Table(header, rows, column_widths(header, rows, line=TINY_LINE)[0], tiny=True)


def _stated_cell(r: ClaimRecord) -> list:
    """The claim's stated constants, each against what it is compared with, linked to the
    stated-against-observed table (empty when the claim states none)."""
    out: list = []
    for sc in F.STATED_CONSTANTS:
        if r.id in [x.strip() for x in sc.claim.split(",")]:
            out += ([Text("; ")] if out else []) + F.math_inlines(sc.stated)
    return out + [Text(" (against observed: "), ref("stated", "table"), Text(")")] if out else []


def _legend() -> list:
    verdicts = []
    for v, m in T.VERDICT_BRIEF.items():
        verdicts += [strong(v), f" ({m}), "]
    levels = []
    for a in ASSURANCE_LEVELS:
        levels += [emph(a), f" ({T.ASSURANCE_BRIEF.get(a, '')}), "]
    verdicts[-1] = verdicts[-1].rstrip(", ") + "."
    levels[-1] = levels[-1].rstrip(", ") + "."
    return [Paragraph(["Verdicts: ", *verdicts, " Assurance, strongest first: ", *levels,
                       " The basis, the key number and what was tested are cut to one clause here; "
                       "each claim's section has them whole."], small=True)]


def _number_findings(sources: list, anchors: Anchors) -> tuple[list, list]:
    """Number every finding once, F1, F2, ... across the report: the headlines first (chosen by
    :func:`front.select_headlines`), then the notes (the rest, grouped by kind in the order of
    FINDING_GROUPS).  Repeats within a source are merged first (:func:`front.merge_repeats`).
    Returns (headlines, notes), each a list of (number, anchor, source, finding)."""
    cands = []
    for src in sources:
        src.merged = F.merge_repeats(src.findings())
        for f in src.merged:
            cls = F.finding_class(f, getattr(getattr(src, "r", None), "assurance", ""),
                                  _is_enclosure_evidence(src, f.evidence))
            cands.append((src, f, cls))
    chosen = F.select_headlines(cands)
    chosen_ids = {id(f) for _, f in chosen}
    n = 0
    heads = []
    for src, f in chosen:
        n += 1
        src.finding_numbers.append(n)
        heads.append((n, anchors.new("finding", str(n)), src, f))
    order = [k for k, _ in FINDING_GROUPS]
    rest = [(src, f) for src, f, _ in cands if id(f) not in chosen_ids]
    rest.sort(key=lambda sf: order.index(sf[1].kind) if sf[1].kind in order else len(order))
    notes = []
    for src, f in rest:
        n += 1
        src.finding_numbers.append(n)
        notes.append((n, anchors.new("finding", str(n)), src, f))
    for src in sources:
        src.finding_numbers.sort()
    return heads, notes


def _is_enclosure_evidence(src, e: str) -> bool:
    r = getattr(src, "r", None)
    if r is None or not e:
        return False
    return any(x.name == e for x in r.enclosures) or "enclosure" in e.lower()


def _finding_item(n: int, src, f: Finding, *, with_value: bool = True, brief: bool = False) -> list:
    text = _clean(f.headline)
    if brief:  # a headline is its first sentence, with its number (the value when it has none)
        text = re.split(r"(?<=[a-z0-9)])[.:] (?=[A-Z])", text, maxsplit=1)[0].rstrip(".") + "."
        with_value = with_value and not re.search(r"\d", text)
    item: list = [strong(f"F{n}."), " "] + F.math_inlines(text)
    if with_value and f.value:
        item += [" (", *F.math_inlines(_clean(T.leading_digits(f.value, T.SUMMARY_DIGITS))), ")"]
    target, label = src.evidence(f.evidence) if f.evidence else (src.section, [])
    item += [" (", *src.label()]
    if f.evidence:
        item += [", ", ref(target, *label)]
    item.append(")")
    return item


def _headline_blocks(heads: list, has_notes: bool) -> list:
    items = [_finding_item(n, src, f, brief=True) for n, _, src, f in heads]
    rule: list = ["Chosen by kind, at most one per claim or sweep, in this order: "
                  + ", ".join(F.HEADLINE_PRIORITY).replace("-", " ") + "."]
    if has_notes:
        rule += [" The other findings are in the appendix, ", ref("notes", "Notes on the checks"), "."]
    return [ItemList(items, anchors=[a for _, a, _, _ in heads]), Paragraph(rule, small=True)]


def _notes_blocks(notes: list) -> list:
    titles = dict(FINDING_GROUPS)
    blocks: list = []
    kinds: list[str] = []
    for _, _, _, f in notes:
        if (f.kind or "finding") not in kinds:
            kinds.append(f.kind or "finding")
    for k in kinds:
        items = [(n, a, src, f) for n, a, src, f in notes if (f.kind or "finding") == k]
        rows = []
        for n, _, src, f in items:
            row = _finding_item(n, src, f)
            if f.detail:
                row += [" "] + F.math_inlines(_clean(f.detail))
            rows.append(row)
        blocks.append(Section([titles.get(k, k.capitalize())], f"{items[0][1]}--group",
                              [ItemList(rows, anchors=[a for _, a, _, _ in items])], level=2))
    return blocks


def _stated_blocks(records: dict, sweeps: dict) -> list:
    defs: list = ["Symbols. "]
    for i, (sym, meaning) in enumerate(F.SYMBOLS):
        defs += [Math(", ".join(to_tex(x.strip()) for x in sym.split(","))), ": "]
        defs += F.math_inlines(meaning)
        defs.append("; " if i < len(F.SYMBOLS) - 1 else ".")
    rows = []
    for sc, stated, observed in F.stated_rows(records, sweeps):
        rows.append([[Text(sc.claim)], F.math_inlines(sc.stated), F.math_inlines(stated),
                     F.math_inlines(sc.observed), F.math_inlines(F.brief(_clean(observed), STATED_OBSERVED))])
    header = [["Claim"], ["Stated"], ["Stated values"], ["Against"], ["Observed"]]
    table = Table(header, rows, column_widths(header, rows, line=TINY_LINE)[0], tiny=True)
    return [Paragraph(defs, small=True), table,
            Paragraph(["Onsets are grid brackets: the last grid value where the frequency is below "
                       "the level and the first from which it stays at or above it, with the seed "
                       "count there and the 95% Wilson lower bound of that frequency."], small=True)]


# ------------------------------------------------------------------------------------------------
# One claim


def _claim_section(c: _Claim, times: dict, appendix: list, shown: dict | None = None,
                   level: int = 1) -> Section:
    r = c.r
    head: list = [strong("Verdict:"), " ", Verdict(r.verdict)]
    basis = _clean(F.verdict_basis(r))
    if basis:
        head += [" (", *F.math_inlines(basis), ")"]
    head += [". ", strong("Assurance:"), " ", Text(r.assurance), "."]
    tested = _clean(F.tested_text(r))
    if tested or r.in_scope:
        head += [" ", strong("Tested:"), " "] + F.math_inlines(tested or "—")
        if r.in_scope:
            head += ["; ", emph(F.scope_text(r))]
            if r.scope_reason:
                head += [": "] + F.math_inlines(_clean(r.scope_reason))
        head.append(".")
    blocks: list = [Paragraph(head),
                    Paragraph([strong("Statement."), " "] + F.math_inlines(_clean(r.statement)))]
    if r.reading:
        rd: list = [strong("Reading."), " "]
        for i, p in enumerate(sorted(r.reading)):
            choice = str(r.reading[p]).partition(" -- ")[0].strip()
            rd += F.math_inlines(_clean(f"{p}: {choice}")) + ["; " if i < len(r.reading) - 1 else ""]
        rd += [" (why: ", ref(c.reading, "appendix"), ")."]
        blocks.append(Paragraph(rd, small=True))
    blocks += _deciding(c)
    if r.witness:
        blocks.append(Paragraph([strong("Witness:"), " ", Text(_clean(T.compact_json(r.witness, width=200)))],
                                small=True))
    shown = {} if shown is None else shown
    body_figs, rest, same = _choose_figures(r, shown)
    if body_figs:
        figs = [FigureBlock(c.figures[f.id], "figures/" + T.figure_stem(r.id, f.id),
                            _caption(f, f.title), alt=f.title) for f in body_figs]
        for f in body_figs:
            shown[_figure_key(f)] = c.figures[f.id]
        blocks += _figure_blocks(figs)
    if same:
        blocks += [Anchor(c.figures[f.id]) for f, _ in same]  # findings may link to them
        line: list = ["The same run is drawn in "]
        for i, (f, target) in enumerate(same):
            line += [ref(target, FIGURE), ", " if i < len(same) - 1 else "."]
        blocks.append(Paragraph(line, small=True))
    if rest:
        figs = [FigureBlock(c.figures[f.id], "figures/" + T.figure_stem(r.id, f.id),
                            _caption(f, f.title), alt=f.title) for f in rest]
        appendix.append(Section([Text(r.id), ": further figures"], c.section + "--morefigs",
                                _figure_blocks(figs), level=2))
    for k, t in enumerate(r.tables):
        appendix.append(Section([Text(r.id), ": ", *F.math_inlines(_first_clause(t.get("title", "")))],
                                c.tables[k] + "--a", [
            Paragraph([*F.math_inlines(_clean(t.get("title", ""))), " From the section of claim ",
                       ref(c.section, r.id), "."], small=True),
            *_as_blocks(_record_table(t, c.tables[k]))], level=2))
    tail: list = _twins_line(c) + [" "] if r.twins else []
    if c.finding_numbers:
        tail += [f"Findings {_number_ranges(c.finding_numbers)}. "]
    more = []
    if r.tables:
        more.append("tables")
    if r.quantities:
        more.append("every digit")
    if r.derivation:
        more.append("the derivation")
    if more:
        tail += [f"In the appendix: {', '.join(more)}, inputs and provenance ("]
        tail += [ref(c.quantities_full if r.quantities and _needs_full_copy(c) else c.details, "here"), "). "]
    tail += [strong("Reproduce:"), " ", Code(F.reproduce_command(r))]
    secs = times.get(r.id)
    tail.append(f" (measured: {_about(secs)})." if secs else ".")
    blocks.append(Paragraph(tail, small=True))
    return Section([strong(r.id), ": ", *F.math_inlines(_clean(r.title))], c.section, blocks,
                   level=level, bookmark=f"{r.id}: {r.title}")


def _figure_key(f: Any) -> str:
    """What a figure draws (its lines' data and scales), to spot the same plot in two records."""
    return repr((f.xscale, f.yscale, [(ln.x, ln.y) for ln in f.lines]))


def _shows_claim(f: Any) -> bool:
    return any(ln.kind == "reference" for ln in f.lines)


def _choose_figures(r: ClaimRecord, shown: dict) -> tuple[list, list, list]:
    """(figures for the body, figures for the appendix, [(figure, anchor)] drawn already).

    At most BODY_FIGURES in the body, one row: those that draw what the paper states (a claimed
    bound or rate) first, then in the record's order; a figure whose plot is already in the body
    (thm3.7 follows thm3.5's run) is referred to instead of drawn again."""
    fresh, same = [], []
    for f in r.figures:
        key = _figure_key(f)
        (same.append((f, shown[key])) if key in shown else fresh.append(f))
    order = sorted(fresh, key=lambda f: not _shows_claim(f))  # stable: record order otherwise
    body = [f for f in fresh if f in order[:BODY_FIGURES]]
    return body, [f for f in fresh if f not in body], same


def _twins_line(c: _Claim) -> list:
    """The false twins in one line: how many the evidence refutes; each in the appendix."""
    tw = c.r.twins
    refuted = sum(1 for t in tw if str(t.get("verdict", "")) == "REFUTED")
    other = [t for t in tw if str(t.get("verdict", "")) != "REFUTED"]
    line: list = [strong("Twin statements made false on purpose:"),
                  f" {refuted} of {len(tw)} refuted on the same evidence"]
    if other:
        line += [" (not refuted: "]
        for i, t in enumerate(other):
            line += [emph(_clean(t.get("name", ""))), ": ", Verdict(str(t.get("verdict", ""))),
                     ", " if i < len(other) - 1 else ")"]
    line += [" (", ref(c.twins, "each with its change and basis"), ")."]
    return line


def _twins_table(c: _Claim) -> Table:
    rows = []
    for t in c.r.twins:
        basis = str(t.get("basis", ""))
        rows.append([[emph(_clean(t.get("name", "")))], F.math_inlines(_clean(t.get("change", ""))),
                     [Verdict(str(t.get("verdict", "")))], F.math_inlines(_clean(basis))])
    header = [["Twin"], ["What is changed"], ["Verdict"], ["Basis"]]
    return Table(header, rows, column_widths(header, rows, line=TINY_LINE)[0], anchor=c.twins, tiny=True)


def _about(secs: float) -> str:
    """A run time as a coarse upper bound (under 10 s, 1 min, 5 min, 30 min), so that reruns,
    whose times vary, almost always render the same words."""
    for limit, text in ((10, "under 10 s"), (60, "under 1 min"), (300, "under 5 min"),
                        (1800, "under 30 min")):
        if secs < limit:
            return text
    return f"about {round(secs / 600) * 10} min"


def _deciding(c: _Claim) -> list:
    """The deciding numbers: the conclusions when the record has them, else the quantities
    pivoted to one row per run (cut to SUMMARY_DIGITS)."""
    r = c.r
    if r.conclusions:
        return _as_blocks(_conclusions_table(c, full=False))
    return _pivot(c)


SECTION_OBSERVED = 200  # characters of a conclusion's observed numbers in the claim's section


def _conclusions_table(c: _Claim, *, full: bool) -> Table:
    """One row per conclusion: as stated, the stated value, what was observed, whether it holds;
    the appendix copy (``full``) adds how each was decided and keeps every observed number."""
    rows = []
    cut = any(len(_clean(str(k.get("observed", "")))) > SECTION_OBSERVED for k in c.r.conclusions)
    for k in c.r.conclusions:
        holds = k.get("holds")
        obs = _clean(T.leading_digits(str(k.get("observed", "")), T.SUMMARY_DIGITS)
                     if k.get("observed") else "not computed")
        row = [F.math_inlines(_clean(k.get("text", k.get("key", "")))),
               F.math_inlines(_clean(f"{T.RELATION_TEXT.get(k.get('relation', ''), '')} "
                                     f"{F._claimed_text(k.get('claimed', ''))}".strip())),
               F.math_inlines(obs if full else F.brief(obs, SECTION_OBSERVED)),
               [strong("yes" if holds else "undecided" if holds is None else "NO")]]
        if full:
            row.append(F.math_inlines(_clean(str(k.get("basis", "")))))
        rows.append(row)
    header = [["Conclusion"], ["Stated"], ["Observed"], ["Holds"]] + ([["How decided"]] if full else [])
    table = Table(header, rows, column_widths(header, rows, line=TINY_LINE)[0],
                  anchor=c.conclusions_full if full else c.quantities, tiny=True)
    if full or not cut:
        return table
    return [table, Paragraph(["Observed numbers cut at a clause (…); all of them, with how each "
                              "conclusion was decided: ", ref(c.conclusions_full, "appendix"), "."],
                             small=True)]


_RUN_SUFFIX = re.compile(r"^(.*?)\s*\(([^()]*(?:n|M0?|d)\s*=[^()]*)\)\s*$")


def _pivot(c: _Claim) -> list:
    """Quantities named "what (run)" as a table with one row per run and one column per what;
    quantities without a run go in a short list.  Only what has a claimed value, or belongs to a
    run, is shown; every digit is in the appendix."""
    runs: dict[str, dict[str, str]] = {}
    cols: list[str] = []
    single = []
    for q in c.r.quantities:
        m = _RUN_SUFFIX.match(q.name)
        if m and not F._BOOKKEEPING.search(q.name):
            what, run = m.group(1), m.group(2)
            if what not in cols:
                cols.append(what)
            v = T.leading_digits(q.value, T.SUMMARY_DIGITS)
            if q.claimed not in (None, ""):
                v += f" ({T.RELATION_TEXT.get(q.relation, '')} {T.leading_digits(q.claimed, 6)})"
            runs.setdefault(run, {})[what] = v
        elif q.claimed not in (None, "") and not F._BOOKKEEPING.search(q.name):
            single.append(q)
    for run in list(runs):
        head = run.rsplit(",", 1)[0].strip()
        if head != run and head in runs and not set(runs[head]) & set(runs[run]):
            runs[head].update(runs.pop(run))
    out: list = []
    if runs and len(cols) <= 5:
        rows = [[F.math_inlines(_clean(run))] + [F.math_inlines(_clean(vals.get(w, "—"))) for w in cols]
                for run, vals in list(runs.items())[:10]]
        header = [["Run"]] + [F.math_inlines(_clean(w)) for w in cols]
        out.append(Table(header, rows, column_widths(header, rows)[0], anchor=c.quantities, tiny=True))
        if len(runs) > 10:
            out.append(Paragraph([f"{len(runs) - 10} more runs in the appendix."], small=True))
    if single:
        items = [F.math_inlines(_clean(f"{q.name} = {T.value_with_error(q, short=True)}; stated "
                                       f"{T.claimed_text(q, short=True)}")) for q in single[:4]]
        out.append(ItemList(items))
    if not (runs and len(cols) <= 5):
        out.insert(0, Anchor(c.quantities))
    return out


def _caption(f: Any, title: str, key: bool = True) -> list:
    """One caption: the figure's title and what its line styles mean (the plot carries no title)."""
    lines = f.lines if hasattr(f, "lines") else [type("L", (), ln) for ln in f.get("lines", [])]
    kinds = {getattr(ln, "kind", "data") for ln in lines}
    styles = []
    if "data" in kinds:
        styles.append("solid: computed")
    if "law" in kinds:
        styles.append("dotted: a law derived here")
    if "reference" in kinds:
        styles.append("dashed: what the paper states")
    what = FIGURE_NOTES.get(getattr(f, "id", None) or (f.get("id") if isinstance(f, dict) else None), "")
    out = F.math_inlines(_clean(title)) + ["."]
    if what:
        out += [" "] + F.math_inlines(what)
    if key and styles:
        out += [" (" + "; ".join(styles) + ")."]
    return out


# Where to look in each figure, by figure id (a record Figure has no caption field yet).  Neutral on
# purpose: what to compare, never what the comparison shows (that is the record's to say).
FIGURE_NOTES = {
    "thm2_1-near-law": "Compare full GD with the derived near-converged law and with the stated "
                       "O(1/sqrt(eta tau)) line; the dots mark the plateau time scales.",
    "thm3.1-profile": "The dots mark s* on each curve, the stationary point along this family.",
    "thm3.1-spectrum": "Eigenvalues in ascending order on a symmetric logarithmic axis: their signs "
                       "classify the stationary point.",
    "thm3.2-loss": "Log-log axes: a tau^(-1/2) decay would be a straight line of slope -1/2.",
    "thm3.2-dist": "Each mean's distance to the target, one colour per run.",
    "lem3.3-centre": "The centre's distance against the derived factor 1 - 2 eta/n and the reported "
                     "1 - eta/n, one colour per run.",
    "thm3_4-law-r": "Full GD and the far-regime law that continues it to tau = 1e12.",
    "thm3_5-law-r": "Full GD and the far-regime law that continues it to tau = 1e12.",
    "thm3_7-law-r": "Full GD and the far-regime law that continues it to tau = 1e12.",
    "thm3_4-law-loss": "Full GD, the far-regime law and its derived tail 2m/(eta tau ln tau).",
    "thm3_5-law-loss": "Full GD, the far-regime law and its derived tail 2m/(eta tau ln tau).",
    "thm3_7-law-loss": "Full GD, the far-regime law and its derived tail 2m/(eta tau ln tau).",
    "figure_M6-loss": "Log-log axes, with the paper's tau^-1 for comparison.",
    "sweep-split-threshold": "The measured -ln delta* per (n, d) against thm3.2's stated exponent.",
    "sweep-one-converges": "Frequencies over seeds with their 95% Wilson intervals as error bars.",
    "sweep-thm3.4-map": "One cell per run, coloured by its outcome; undecided runs are grey.",
}


def _details_blocks(c: _Claim) -> list:
    """The claim's statement data in full: provenance, hypotheses, reading with its reasons,
    inputs, derivation summary, enclosures (appendix)."""
    r = c.r
    blocks: list = [Anchor(c.details),
                    Paragraph([strong("Provenance."), " "] + F.math_inlines(_clean(r.provenance)), small=True)]
    if r.hypotheses:
        blocks.append(Paragraph([strong("Hypotheses as stated."), " "]
                                + [x for k in sorted(r.hypotheses) for x in
                                   (F.math_inlines(_clean(f"{k}: {r.hypotheses[k]}")) + ["; "])][:-1] + ["."],
                                small=True))
    if r.conclusions:
        blocks += [Paragraph([strong("Conclusions"), ", each with how it was decided."], small=True),
                   _conclusions_table(c, full=True)]
    if r.reading:
        blocks.append(_reading(c))
    if r.twins:
        blocks += [Paragraph([strong("Twin statements"), " (variants of the statement that the "
                              "mathematics makes false, decided on the same evidence: each should "
                              "be refuted)."], small=True),
                   _twins_table(c)]
    if r.enclosures:
        blocks += _enclosures_brief(c)
    if r.derivation:
        blocks.append(_derivation_summary(c))
    blocks += _inputs(c)
    return [Section([Text(r.id)], c.details + "--h", blocks, level=2)]


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
        rows.append([F.math_inlines(_clean(param)), F.math_inlines(_clean(choice.strip())),
                     F.math_inlines(_clean(why.strip()))])
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
        rows.append([F.math_inlines(_clean(q.name)), [num(q.value)], [Number(q.error)] if q.error else ["—"],
                     ([Text(rel + " "), num(q.claimed)] if rel else [num(q.claimed)]) if claimed else ["—"],
                     [Text(_clean(T.precision_label(q.precision)) or "—")]])
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
        bold = [any(isinstance(x, (Verdict, Strong)) for x in r[j]) for r in rows if j < len(r)]
        word = max([word_width(w) * 1.2 for w in head.split()] +
                   [word_width(w) * (1.2 if b else 1.0) for c, b in zip(body, bold) for w in c.split()]
                   + [1])
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
    return Table([["Key"], ["Value"]], rows, [0.4, 0.6])


__all__ = ["build_document", "sweeps_section", "tex_text", "FINDING_GROUPS", "Anchors"]
