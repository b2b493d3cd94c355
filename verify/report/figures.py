"""Figures of the report: one record Figure -> SVG bytes (Markdown) and PDF bytes (LaTeX).

Matplotlib's object-oriented API with an explicit Agg-family canvas is used, never pyplot, so no
global backend is switched and nothing here depends on (or changes) a display.  Output is
byte-reproducible for a given matplotlib version: rcParams come from a local ``rc_context`` (fixed
font bundled with matplotlib, fixed SVG hash salt), and the date metadata is suppressed.
"""
from __future__ import annotations

import io
import math
import textwrap

import matplotlib
from matplotlib.figure import Figure as MplFigure

from verify.claims.record import Figure

# Everything that influences the bytes of a figure is pinned here rather than read from the
# user's matplotlibrc: a rerun on another machine with the same matplotlib gives the same files.
RC = {
    "svg.hashsalt": "verify-report",
    "svg.fonttype": "none",  # keep text as <text> elements: searchable, small, testable
    "pdf.fonttype": 42,  # TrueType subsets: selectable text in the PDF
    "pdf.compression": 6,
    "font.family": "DejaVu Sans",  # bundled with matplotlib: same glyphs everywhere
    "mathtext.fontset": "dejavusans",
    "font.size": 10.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.rcParamsDefault["axes.prop_cycle"],
    "lines.linewidth": 1.5,
    "figure.dpi": 100.0,
    "savefig.dpi": 100.0,
    "savefig.bbox": None,
    "path.simplify": True,
    "path.simplify_threshold": 1.0 / 9.0,
}

REFERENCE_COLORS = ("black", "dimgray", "saddlebrown", "darkolivegreen")
LAW_COLORS = ("darkviolet", "teal", "crimson", "darkgoldenrod")
FIGSIZE = (6.4, 4.0)  # inches
MARGINS = {"left": 0.12, "right": 0.97, "bottom": 0.13, "top": 0.92}
TITLE_CHARS = 70  # a longer title is wrapped (about this many characters fit across FIGSIZE)
TITLE_LINE = 0.05  # fraction of the height one more title line takes from the axes
SVG_METADATA = {"Date": None, "Creator": "verify report (matplotlib)"}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Creator": "verify report (matplotlib)",
                "Producer": "matplotlib"}


def _draw(fig_rec: Figure) -> MplFigure:
    # fixed margins rather than constrained layout: same look, a third of the drawing time
    fig = MplFigure(figsize=FIGSIZE)
    title = textwrap.wrap(fig_rec.title, TITLE_CHARS) or [""]
    fig.subplots_adjust(**dict(MARGINS, top=MARGINS["top"] - TITLE_LINE * (len(title) - 1)))
    ax = fig.add_subplot()
    colors = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
    data_i = ref_i = law_i = 0
    for line in fig_rec.lines:
        x, y = _finite_for_scale(line.x, line.y, fig_rec.xscale, fig_rec.yscale)
        if line.kind == "law":
            # laws this toolkit derived: dotted, in their own colours (neither data nor claim)
            color = LAW_COLORS[law_i % len(LAW_COLORS)]
            law_i += 1
            ax.plot(x, y, linestyle=(0, (1, 1.5)), linewidth=1.8, color=color, label=line.label)
        elif line.kind == "reference":
            # claimed rates: dashed and in neutral colours, so they never pass for data
            color = REFERENCE_COLORS[ref_i % len(REFERENCE_COLORS)]
            ref_i += 1
            ax.plot(x, y, linestyle="--", linewidth=1.2, color=color, label=line.label)
        else:
            color = colors[data_i % len(colors)]
            data_i += 1
            ax.plot(x, y, linestyle="-", color=color, label=line.label)
    for mark in fig_rec.marks:
        mx, my = float(mark["x"]), float(mark["y"])
        ax.plot([mx], [my], marker="o", markersize=5, linestyle="none", color="black")
        label = str(mark.get("label", ""))
        if label:
            ax.annotate(label, (mx, my), xytext=(6, 6), textcoords="offset points", fontsize=9)
    ax.set_xscale(fig_rec.xscale)
    ax.set_yscale(fig_rec.yscale)
    ax.set_xlabel(fig_rec.xlabel)
    ax.set_ylabel(fig_rec.ylabel)
    ax.set_title("\n".join(title))
    if any(ln.label for ln in fig_rec.lines):
        ax.legend(loc="best", fontsize=8, frameon=True)
    return fig


def _finite_for_scale(x: list[float], y: list[float], xscale: str, yscale: str):
    """Drop points a log axis cannot show (<= 0) and non-finite ones, instead of warning."""
    if len(x) != len(y):
        raise ValueError(f"line has {len(x)} x values and {len(y)} y values")
    keep_x = [xi for xi, yi in zip(x, y) if _ok(xi, xscale) and _ok(yi, yscale)]
    keep_y = [yi for xi, yi in zip(x, y) if _ok(xi, xscale) and _ok(yi, yscale)]
    return keep_x, keep_y


def _ok(v: float, scale: str) -> bool:
    v = float(v)
    return math.isfinite(v) and (scale != "log" or v > 0)


def _save(fig_rec: Figure, fmt: str, metadata: dict) -> bytes:
    with matplotlib.rc_context(RC):
        fig = _draw(fig_rec)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()


def render_svg(fig_rec: Figure) -> bytes:
    """The figure as SVG bytes (text kept as text, no date)."""
    return _save(fig_rec, "svg", SVG_METADATA)


def render_pdf(fig_rec: Figure) -> bytes:
    """The figure as PDF bytes (no creation date)."""
    return _save(fig_rec, "pdf", PDF_METADATA)
