"""The record a claim check returns (SPEC §3), and its JSON form.

A record is plain data: every field is JSON-serialisable (numbers that need more than double
precision travel as decimal strings), so reports can be re-rendered from saved JSON without
recomputing.  Wall-clock time lives in ``runtime_s`` and is rendered only in a separate, clearly
marked section, so that reports of the same inputs are byte-identical.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

CONFIRMED = "CONFIRMED"
REFUTED = "REFUTED"
INCONCLUSIVE = "INCONCLUSIVE"
ERROR = "ERROR"  # the check itself crashed; never a verdict on the mathematics
VERDICTS = (CONFIRMED, REFUTED, INCONCLUSIVE, ERROR)

# Strongest first.  "asymptotic": a derived reduced (slow) law of the regime, validated against full
# gradient descent where both run and followed to tau = 1e12 (SPEC §3); it sits between "numeric"
# and "float64".
ASSURANCE_LEVELS = ("symbolic", "certified", "numeric", "asymptotic", "float64", "statistical")

SCHEMA_VERSION = 3
# Results files of these versions still load (version 3 added the statement-as-data fields).
READABLE_SCHEMAS = (1, 2, 3)
IN_SCOPE = ("yes", "partly", "no", "")


@dataclass
class Quantity:
    """One computed number next to what the paper claims.

    value, error and claimed are decimal strings (so 40-digit values survive JSON);
    ``precision`` is the working precision in decimal digits, or "float64".
    ``relation`` reads "computed RELATION claimed": "==" (tight), "<=" (computed <= claimed: the
    claimed value is an upper bound), ">=" (computed >= claimed: a lower bound), "~" (same order),
    or "" (no claimed value).
    """

    name: str
    value: str
    error: str | None = None
    claimed: str | None = None
    relation: str = ""
    precision: str = ""
    note: str = ""


# Table columns that would hold wall-clock measurements (results.json must be byte-reproducible).
_WALL_CLOCK = re.compile(r"\b(seconds?|wall[- ]?(clock|time)|run ?time|elapsed|ms|µs|us)\b", re.I)


@dataclass
class Line:
    """One curve of a figure; ``kind`` is "data" (computed), "law" (a reduced law or closed form
    this toolkit derived, drawn for comparison with the data) or "reference" (what the paper
    claims or states, drawn for comparison)."""

    label: str
    x: list[float]
    y: list[float]
    kind: str = "data"


@dataclass
class Figure:
    """A plot the report renders (SVG for Markdown, PDF for LaTeX)."""

    id: str
    title: str
    xlabel: str
    ylabel: str
    lines: list[Line] = field(default_factory=list)
    xscale: str = "linear"
    yscale: str = "linear"
    marks: list[dict[str, Any]] = field(default_factory=list)  # {"x":..,"y":..,"label":..}


@dataclass
class Finding:
    """Something a check found about the paper (a convention difference, a reading's alternative,
    a time scale, a gap between a stated constant and an observed onset).

    headline: one sentence, plain text (no TeX); value: the number behind it with its error or
    precision ("" if none); evidence: the id of a figure, the title of a table or the name of a
    quantity in the same record that shows it; kind: "finding", "convention", "reading",
    "time-scale", "constant-gap", "note".
    """

    headline: str
    value: str = ""
    evidence: str = ""
    kind: str = "finding"
    detail: str = ""


@dataclass
class Enclosure:
    """A rigorous enclosure [lo, hi] (decimal strings, outward rounded) of a named quantity,
    computed in ball arithmetic at ``prec_bits`` bits; ``proves`` says what it establishes."""

    name: str
    lo: str
    hi: str
    prec_bits: int
    proves: str = ""


@dataclass
class ClaimRecord:
    """The result of one claim check."""

    id: str
    title: str
    statement: str
    provenance: str
    verdict: str
    assurance: str
    quantities: list[Quantity] = field(default_factory=list)
    # Findings about the paper; plain strings are accepted and become Finding(headline=...).
    findings: list[Finding] = field(default_factory=list)
    # How the check reads each parameter the public statement leaves open: {parameter: "choice --
    # why"}.  The verdict is about this reading; other readings appear as findings, never as a
    # refutation.
    reading: dict[str, str] = field(default_factory=dict)
    # Rigorous enclosures behind a "certified" assurance (empty otherwise).
    enclosures: list[Enclosure] = field(default_factory=list)
    witness: dict[str, Any] | None = None
    reason: str = ""
    figures: list[Figure] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)  # {"title", "columns": [...], "rows": [[...]]}
    inputs: dict[str, Any] = field(default_factory=dict)
    # The symbolic derivation behind the claim, rendered when the check ran so reports never rerun
    # SymPy: {"name", "statement", "latex" (a LaTeX fragment), "markdown", "steps": [{"description",
    # "check", "passed"}], "spot_check": {...}}.
    derivation: dict[str, Any] | None = None
    tier: str = "quick"
    runtime_s: float = 0.0
    # Other wall-clock measurements of the check (e.g. seconds per GD step), in seconds.  Like
    # ``runtime_s`` they vary between runs, so reports move them to timings.json/timings.md and
    # results.json always holds an empty dict here.
    timings: dict[str, float] = field(default_factory=dict)
    # The statement as data (SPEC §5, verify/claims/statement.py), in plain words.
    # hypotheses: {name: as stated, with the paper's constants}; tested: the domain actually run;
    # in_scope: "yes" | "partly" | "no" (whether ``tested`` meets the hypotheses), with
    # scope_reason in one line; conclusions: [{key, text, claimed, relation, observed, holds,
    # basis}]; twins: the false variants decided on the same evidence, [{name, change, verdict,
    # basis}].  Empty in records from before schema version 3.
    hypotheses: dict[str, str] = field(default_factory=dict)
    tested: str = ""
    in_scope: str = ""
    scope_reason: str = ""
    conclusions: list[dict[str, Any]] = field(default_factory=list)
    twins: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.findings = [f if isinstance(f, Finding) else
                         Finding(**f) if isinstance(f, dict) else Finding(headline=str(f))
                         for f in self.findings]
        self.enclosures = [e if isinstance(e, Enclosure) else Enclosure(**e)
                           for e in self.enclosures]
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.assurance not in ASSURANCE_LEVELS:
            raise ValueError(f"assurance must be one of {ASSURANCE_LEVELS}, got {self.assurance!r}")
        if self.verdict == REFUTED and not self.witness:
            raise ValueError("a REFUTED record needs a witness")
        if self.in_scope not in IN_SCOPE:
            raise ValueError(f"in_scope must be one of yes, partly, no; got {self.in_scope!r}")
        if self.verdict in (INCONCLUSIVE, ERROR) and not self.reason:
            raise ValueError(f"an {self.verdict} record needs a reason")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ClaimRecord":
        d = dict(d)
        d["quantities"] = [Quantity(**q) for q in d.get("quantities", [])]
        figs = []
        for f in d.get("figures", []):
            f = dict(f)
            f["lines"] = [Line(**ln) for ln in f.get("lines", [])]
            figs.append(Figure(**f))
        d["figures"] = figs
        return cls(**d)


def check_reproducible(r: ClaimRecord) -> None:
    """Raise ValueError if a freshly made record carries wall-clock times outside ``timings``
    (a table column of seconds): results.json must be byte-identical across reruns.  Applied by
    the claims runner to each check's record, not on loading, so old results files still load."""
    for t in r.tables:
        clock = [c for c in t.get("columns", []) if _WALL_CLOCK.search(str(c))]
        if clock:
            raise ValueError(f"table {t.get('title', '')!r} has wall-clock column(s) {clock}: "
                             "times vary between runs, so they go to the record's timings")


def finite_or_none(obj: Any) -> Any:
    """A copy of ``obj`` with every non-finite float replaced by None (strict JSON has no inf/nan:
    a diverged run's last distance is recorded as null)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def dumps(records: list[ClaimRecord], provenance: dict[str, Any]) -> str:
    """Stable, strict JSON text for a list of records (sorted keys, fixed indentation)."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "provenance": provenance,
        "records": [r.to_dict() for r in records],
    }
    return json.dumps(finite_or_none(doc), indent=2, sort_keys=True, ensure_ascii=False,
                      allow_nan=False) + "\n"


def loads(text: str) -> tuple[list[ClaimRecord], dict[str, Any]]:
    doc = json.loads(text)
    if not isinstance(doc, dict) or "records" not in doc:
        raise ValueError("not a verify results file (expected a JSON object with 'records')")
    version = doc.get("schema_version")
    readable = ", ".join(str(v) for v in READABLE_SCHEMAS)
    if version not in READABLE_SCHEMAS:
        raise ValueError(f"unsupported results schema version {version!r} (this verify reads "
                         f"schema versions {readable}; was the file written by a newer verify?)")
    unknown = unknown_fields(doc)
    if unknown:
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise ValueError(f"the results file has field(s) this verify does not know "
                         f"({', '.join(unknown[:3])}{more}); it reads schema versions {readable} "
                         f"and the file says {version}: written by a newer verify? Re-render it "
                         "with the verify that wrote it (fields are never dropped silently)")
    return [ClaimRecord.from_dict(r) for r in doc["records"]], doc.get("provenance", {})


# The nested record types whose fields loads() checks (lists of objects under these keys).
_NESTED = {ClaimRecord: {"quantities": Quantity, "findings": Finding, "enclosures": Enclosure,
                         "figures": Figure},
           Figure: {"lines": Line}}


def unknown_fields(doc: dict[str, Any]) -> list[str]:
    """Paths of the fields of a results document that this version's dataclasses do not have
    (e.g. ``records[2].quantities[0].interval``): a newer writer's additions.  loads() refuses
    them rather than drop them on a re-render."""
    out = [k for k in sorted(doc) if k not in ("schema_version", "provenance", "records")]

    def walk(obj: Any, cls: type, path: str) -> None:
        if not isinstance(obj, dict):
            return
        names = {f.name for f in dataclasses.fields(cls)}
        out.extend(f"{path}.{k}" for k in sorted(obj) if k not in names)
        for key, sub in _NESTED.get(cls, {}).items():
            items = obj.get(key)
            for i, item in enumerate(items if isinstance(items, list) else []):
                walk(item, sub, f"{path}.{key}[{i}]")

    records = doc.get("records")
    for i, r in enumerate(records if isinstance(records, list) else []):
        walk(r, ClaimRecord, f"records[{i}]")
    return out
