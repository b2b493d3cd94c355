"""Reports rendered from claim records: REPORT.md, report.tex (+ report.pdf), figures/, results.json.

The last step of the data flow (STYLE: parameters -> ... -> records -> reports).  Nothing here
computes mathematics: every number comes from the records, so ``python -m verify report`` can
re-render from a saved ``results.json`` (:func:`rerender`).

One document model: :mod:`verify.report.build` turns the records into a tree of blocks
(:mod:`verify.report.document`: section, paragraph, table, figure, math, code, list), and the
Markdown and LaTeX renderers write that same tree, so the two reports cannot drift apart.

Reproducibility: REPORT.md, report.tex, results.json and the figures are pure functions of the
records and the provenance dict (byte-identical across reruns with the same matplotlib); wall-clock
times go only to ``timings.md`` / ``timings.json``.  Writing is atomic per file, and every file is
rendered in memory before the first one is written, so a failure while rendering leaves the
previous report untouched.  The schema of results.json is described in ``SCHEMA.md`` beside this file.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
import sys
from pathlib import Path
from typing import Any, Mapping

from verify.claims.record import ClaimRecord, Figure, Line, dumps, loads
from verify.report import figures as _figures
from verify.report import front as _front
from verify.report.build import build_document, sweep_figure_path
from verify.report import latex as _latex
from verify.report import markdown as _markdown
from verify.report.io import write_bytes_atomic, write_text_atomic
from verify.report.text import figure_stem

__all__ = ["render_all", "rerender", "DEFAULT_OUT_DIR", "LatexError"]

DEFAULT_OUT_DIR = Path("reports")
LatexError = _latex.LatexError

# Figure files this module owns (so that stale ones from an earlier run can be removed safely).
_FIGURE_FILE = re.compile(r"^[A-Za-z0-9._-]+--[A-Za-z0-9._-]+\.(svg|pdf)$")


def render_all(
    records: list[ClaimRecord],
    provenance: dict[str, Any],
    out_dir: Path | str = DEFAULT_OUT_DIR,
    timings: Mapping[str, float] | None = None,
    *,
    pdf: bool | None = None,
    sweeps: list[dict[str, Any]] | None = None,
) -> list[Path]:
    """Render every report file into ``out_dir`` and return the paths written, in a fixed order.

    ``records`` are rendered in the order given (the caller passes registry order).  Per-claim
    wall-clock times come from ``record.runtime_s``; ``timings`` adds other named times (e.g.
    ``{"total": 812.4}``).  Both go only to timings.md/timings.json; results.json gets
    ``runtime_s = 0``.  ``pdf``: None builds report.pdf when pdflatex is on PATH (a one-line notice on
    stderr otherwise), False never, True requires it.  Raises :class:`LatexError` if the LaTeX does
    not compile; the other files have been written by then.  ``sweeps``: optional sweep summaries
    (``verify.sweeps``' summary.json dicts), rendered as "Where the behaviour starts".
    """
    claim_times = {r.id: float(r.runtime_s) for r in records}
    return _render(records, provenance, Path(out_dir), claim_times, dict(timings or {}), pdf,
                   sweeps=sweeps)


def rerender(source: Path | str, out_dir: Path | str = DEFAULT_OUT_DIR, *, pdf: bool | None = None,
             sweeps: list[dict[str, Any]] | None = None) -> list[Path]:
    """Re-render from a saved results.json (or the directory holding it) without recomputing.

    Run times come from ``timings.json`` beside it when present; otherwise from the records'
    ``runtime_s`` where non-zero (a records file saved by the claims runner), else unknown.
    """
    source = Path(source)
    results = source / "results.json" if source.is_dir() else source
    records, provenance = loads(results.read_text(encoding="utf-8"))
    claim_times: dict[str, float | None] = {r.id: (r.runtime_s or None) for r in records}
    other: dict[str, float] = {}
    saved_details: dict[str, dict[str, float]] = {}
    timings_file = results.parent / "timings.json"
    if timings_file.exists():
        saved = json.loads(timings_file.read_text(encoding="utf-8"))
        claim_times.update({k: v for k, v in saved.get("claims", {}).items() if k in claim_times})
        other = dict(saved.get("other", {}))
        saved_details = {k: v for k, v in saved.get("details", {}).items() if k in claim_times}
    return _render(records, provenance, Path(out_dir), claim_times, other, pdf, saved_details,
                   sweeps=sweeps)


def _render(
    records: list[ClaimRecord],
    provenance: dict[str, Any],
    out_dir: Path,
    claim_times: Mapping[str, float | None],
    other_times: Mapping[str, float],
    pdf: bool | None,
    saved_details: Mapping[str, Mapping[str, float]] | None = None,
    *,
    sweeps: list[dict[str, Any]] | None = None,
) -> list[Path]:
    """``saved_details`` (from a saved timings.json) override the records' own ``timings``."""
    ids = [r.id for r in records]
    details = {r.id: dict(r.timings) for r in records if r.timings}
    details.update({k: dict(v) for k, v in (saved_details or {}).items()})
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate claim ids in records: {sorted({i for i in ids if ids.count(i) > 1})}")
    stripped = [dataclasses.replace(r, runtime_s=0.0, timings={}) for r in records]

    # 1. Render everything in memory: a failure here leaves the previous report untouched.
    to_draw: dict[str, tuple] = {}     # path stem -> (figure or drawing function, error bars)
    for r in stripped:
        for f in r.figures:
            stem = f"figures/{figure_stem(r.id, f.id)}"
            if stem in to_draw:
                raise ValueError(f"duplicate figure id {f.id!r} in claim {r.id!r}")
            to_draw[stem] = (f, None)
    for s in sweeps or []:
        for fd in s.get("figures", []):
            if "lines" not in fd:
                continue  # files the caller provides
            path = sweep_figure_path(s, fd)
            if path in to_draw:
                raise ValueError(f"duplicate sweep figure {path!r}")
            fig = Figure(**dict(fd, lines=[Line(**ln) for ln in fd.get("lines", [])]))
            grid = _front.outcome_grid(s)
            if grid is not None:  # a categorical outcome map, "undecided" its own colour
                to_draw[path] = (functools.partial(_figures.draw_grid, fig.title, *grid), None)
            else:
                to_draw[path] = (fig, _front.wilson_errors(s, fd))
    figure_files: dict[str, bytes] = {}
    for stem, (svg, pdf_bytes) in zip(to_draw, _figures.render_many(list(to_draw.values()))):
        figure_files[f"{stem}.svg"], figure_files[f"{stem}.pdf"] = svg, pdf_bytes
    results_json = dumps(stripped, provenance)
    document = build_document(stripped, provenance, sweeps=sweeps, times=dict(claim_times))  # one tree, two renderings
    report_tex = _latex.render_document(document)
    report_md = _markdown.render_document(document)
    timings_json = _timings_json(records, claim_times, other_times, details)
    timings_md = _timings_md(records, claim_times, other_times, details)

    # 2. Write, each file atomically; REPORT.md last, so it never points at figures not yet written.
    written = []
    for rel in sorted(figure_files):
        written.append(write_bytes_atomic(out_dir / rel, figure_files[rel]))
    written.append(write_text_atomic(out_dir / "results.json", results_json))
    written.append(write_text_atomic(out_dir / "timings.json", timings_json))
    written.append(write_text_atomic(out_dir / "timings.md", timings_md))
    written.append(write_text_atomic(out_dir / "report.tex", report_tex))
    written.append(write_text_atomic(out_dir / "REPORT.md", report_md))
    _remove_stale_figures(out_dir / "figures", set(figure_files))

    # 3. The PDF, when a TeX installation is present.
    if pdf is None:
        pdf = _latex.pdflatex_available()
        if not pdf:
            print("verify report: pdflatex not found on PATH; skipping report.pdf "
                  "(report.tex is written)", file=sys.stderr)
    if pdf:
        figure_pdfs = {rel: data for rel, data in figure_files.items() if rel.endswith(".pdf")}
        written.append(write_bytes_atomic(out_dir / "report.pdf", _latex.build_pdf(report_tex, figure_pdfs)))
    return written


def _remove_stale_figures(fig_dir: Path, current: set[str]) -> None:
    """Delete figure files of ours (``<claim>--<figure>.svg|pdf``) that this render did not produce."""
    if not fig_dir.is_dir():
        return
    for p in sorted(fig_dir.iterdir()):
        if p.is_file() and _FIGURE_FILE.match(p.name) and f"figures/{p.name}" not in current:
            p.unlink()


def _timings_json(records, claim_times, other_times, details) -> str:
    doc = {
        "note": "wall-clock seconds; these vary between runs and are kept out of the reports",
        "claims": {r.id: claim_times.get(r.id) for r in records},
        "details": {r.id: details[r.id] for r in records if details.get(r.id)},
        "other": dict(other_times),
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _natural(key: str) -> list:
    """Sort key reading digit runs as numbers ("n=3" before "n=10")."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def _timings_md(records, claim_times, other_times, details) -> str:
    def fmt(t):
        return "—" if t is None else f"{t:.2f}"

    lines = [
        "# Wall-clock run times",
        "",
        "These times vary from run to run. They are kept here, apart from `REPORT.md`, `report.tex` "
        "and `results.json`, so that those stay byte-identical across reruns of the same inputs.",
        "",
        "| Claim | Verdict | Tier | Run time (s) |",
        "|---|---|---|---|",
    ]
    for r in records:
        lines.append(f"| {_markdown.code(r.id)} | {r.verdict} | {_markdown.esc_cell(r.tier)} | {fmt(claim_times.get(r.id))} |")
    known = [t for t in (claim_times.get(r.id) for r in records) if t is not None]
    if records:
        lines.append(f"| **sum of claims** | | | {fmt(sum(known)) if known else '—'} |")
    if any(details.get(r.id) for r in records):
        lines += ["", "Measured inside the checks:", "", "| Claim | Measurement | Time (s) |",
                  "|---|---|---|"]
        for r in records:
            for k in sorted(details.get(r.id, {}), key=_natural):
                lines.append(f"| {_markdown.code(r.id)} | {_markdown.esc_cell(k)} | "
                             f"{fmt(details[r.id][k])} |")
    if other_times:
        lines += ["", "| Other | Time (s) |", "|---|---|"]
        lines += [f"| {_markdown.esc_cell(k)} | {fmt(other_times[k])} |" for k in sorted(other_times)]
    return "\n".join(lines) + "\n"
