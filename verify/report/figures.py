"""Figures of the report: one record Figure -> SVG bytes (Markdown) and PDF bytes (LaTeX).

Matplotlib's object-oriented API with an explicit Agg-family canvas is used, never pyplot, so no
global backend is switched and nothing here depends on (or changes) a display.  Output is
byte-reproducible for a given matplotlib version: rcParams come from a local ``rc_context`` (fixed
font bundled with matplotlib, fixed SVG hash salt), and the date metadata is suppressed.
"""
from __future__ import annotations

import gc
import io
import math
import multiprocessing as mp
import os
import re
import types
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext

import matplotlib
import matplotlib.mathtext
import matplotlib.patches
from matplotlib.figure import Figure as MplFigure

from verify import interrupt
from verify.claims.record import Figure
from verify.report.mathtext import tex_prose

# Everything that influences the bytes of a figure is pinned here rather than read from the
# user's matplotlibrc: a rerun on another machine with the same matplotlib gives the same files.
RC = {
    "svg.hashsalt": "verify-report",
    "svg.fonttype": "none",  # keep text as <text> elements: searchable, small, testable
    "pdf.fonttype": 42,  # TrueType subsets: selectable text in the PDF
    "pdf.compression": 6,
    "font.family": "DejaVu Sans",  # bundled with matplotlib: same glyphs everywhere
    "mathtext.fontset": "dejavusans",
    "font.size": 8.0,
    "axes.titlesize": 8.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.rcParamsDefault["axes.prop_cycle"],
    "lines.linewidth": 1.2,
    "figure.dpi": 100.0,
    "savefig.dpi": 100.0,
    "savefig.bbox": None,
    "path.simplify": True,
    "path.simplify_threshold": 1.0 / 9.0,
}

REFERENCE_COLORS = ("black", "dimgray", "saddlebrown", "darkolivegreen")
LAW_COLORS = ("darkviolet", "teal", "crimson", "darkgoldenrod")
# Drawn at about the size it is printed (the LaTeX report sets two to a row, 0.48 of the line,
# i.e. about 3.2 inches): the fonts below are then read at their own size, not scaled down.
FIGSIZE = (3.6, 2.3)  # inches
LEGEND_FONT = 6.0
SVG_METADATA = {"Date": None, "Creator": "verify report (matplotlib)"}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Creator": "verify report (matplotlib)",
                "Producer": "matplotlib"}


GROUP_ABOVE = 6  # more labelled lines than this: colours by run, one legend entry per run and style
_PAIR = re.compile(r"\b[A-Za-z][A-Za-z0-9_]*\s*=\s*[-+]?[0-9][0-9.e+-]*")
KIND_STYLE = {"data": ("-", "computed"), "law": ((0, (1, 1.5)), "derived law"),
              "reference": ("--", "stated by the paper")}


def _label(s: str) -> str:
    """A record label as mathtext (its ASCII formulas typeset)."""
    return tex_prose(s) if s else s


def _run_of(label: str) -> str:
    """The run a line belongs to: its key = value pairs ("n=2, d=1, M0=1"), wherever they are."""
    return ", ".join(_PAIR.findall(label or ""))


def _family_of(label: str) -> str:
    """The family a line belongs to when its label ends in a per-mean token ("gradient-em |c_2|"
    -> "gradient-em"): everything before the last word."""
    return label.rsplit(" ", 1)[0] if " " in (label or "") else (label or "")


def _groups(labels: list[str]) -> list[str]:
    """One group name per line, for colouring a crowded plot by group: the runs' key = value
    pairs when they tell two or more runs apart, else the families (labels without their last
    word) when those are fewer than the lines; else no grouping (empty names)."""
    runs = [_run_of(x) for x in labels]
    if len({r for r in runs if r}) >= 2:
        return runs
    fams = [_family_of(x) if x else "" for x in labels]
    named = {f for f in fams if f}
    if 2 <= len(named) < len([x for x in labels if x]):
        return fams
    return runs


def _wrap(label: str, width: int = 30) -> str:
    """An axis label longer than ``width`` characters over two lines, broken before its last
    parenthesised remark (never inside a formula), each line typeset on its own."""
    if len(label) <= width:
        return _label(label)
    k = label.rfind(" (")
    if k <= 0:
        return _label(label)
    return _label(label[:k]) + "\n" + _label(label[k + 1:])


def _draw(fig_rec: Figure, errors: dict | None = None) -> MplFigure:
    """The plot without a title (the report's caption carries it), legend below the axes, drawn
    with constrained layout so nothing is clipped.  ``errors``: {line label: (lower, upper)}
    error-bar half-lengths per point (Wilson intervals on frequencies)."""
    fig = MplFigure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    colors = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
    labelled = [ln for ln in fig_rec.lines if ln.label]
    runs = _groups([ln.label for ln in fig_rec.lines])
    grouped = len(labelled) > GROUP_ABOVE and len({r for r in runs if r}) >= 2
    run_colour = {}
    palette = colors if len({r for r in runs if r}) <= len(colors) else \
        [matplotlib.colormaps["tab20"](k) for k in range(20)]
    for r in runs:
        if r and r not in run_colour:
            run_colour[r] = palette[len(run_colour) % len(palette)]
    # points, not curves: short lines, or lines over an integer index (a spectrum)
    few_points = all(len(ln.x) <= 12 or (len(ln.x) <= 40 and all(float(v).is_integer() for v in ln.x))
                     for ln in fig_rec.lines)
    data_i = ref_i = law_i = 0
    for line, run in zip(fig_rec.lines, runs):
        x, y = _finite_for_scale(line.x, line.y, fig_rec.xscale, fig_rec.yscale)
        style, _ = KIND_STYLE.get(line.kind, KIND_STYLE["data"])
        if grouped and run:
            color = run_colour[run]
        elif line.kind == "law":
            color = LAW_COLORS[law_i % len(LAW_COLORS)]
            law_i += 1
        elif line.kind == "reference":
            color = REFERENCE_COLORS[ref_i % len(REFERENCE_COLORS)]
            ref_i += 1
        else:
            color = colors[data_i % len(colors)]
            data_i += 1
        label = None if grouped else (_label(line.label) or None)
        width = 1.0 if line.kind == "reference" else 1.5 if line.kind == "law" else 1.2
        marker = "o" if few_points and line.kind == "data" else None
        if errors and line.label in errors:
            lo, hi = errors[line.label]
            ax.errorbar(x, y, yerr=[lo, hi], linestyle=style, color=color, label=label,
                        marker="o", markersize=3, capsize=2, linewidth=width)
        else:
            ax.plot(x, y, linestyle=style, linewidth=width, color=color, label=label,
                    marker=marker, markersize=3)
    crowded = len(fig_rec.marks) > 4  # then only the first and last mark are labelled
    for k, mark in enumerate(fig_rec.marks):
        mx, my = float(mark["x"]), float(mark["y"])
        ax.plot([mx], [my], marker="o", markersize=4, linestyle="none", color="black")
        label = str(mark.get("label", ""))
        if label and (not crowded or k in (0, len(fig_rec.marks) - 1)):
            ax.annotate(_label(label), (mx, my), xytext=(4, 4), textcoords="offset points", fontsize=6)
    ax.set_xscale(fig_rec.xscale)
    yscale = fig_rec.yscale
    ys = [abs(v) for ln in fig_rec.lines for v in ln.y if _ok(v, "linear") and v != 0]
    signs = {math.copysign(1, v) for ln in fig_rec.lines for v in ln.y if _ok(v, "linear") and v != 0}
    if yscale == "linear" and len(signs) == 2 and ys and max(ys) / min(ys) > 100:
        # both signs over decades (a spectrum): logarithmic beyond 1e-4 of the largest magnitude
        ax.set_yscale("symlog", linthresh=10.0 ** (math.floor(math.log10(max(ys))) - 4))
    else:
        ax.set_yscale(yscale)
    ax.set_xlabel(_wrap(fig_rec.xlabel, 60))
    ax.set_ylabel(_wrap(fig_rec.ylabel))
    handles = None
    if grouped:
        from matplotlib.lines import Line2D
        handles = [Line2D([], [], color=c, linestyle="-", label=_label(r)) for r, c in run_colour.items()]
        kinds = [k for k in KIND_STYLE if any(ln.kind == k for ln in fig_rec.lines)]
        if len(kinds) > 1:
            handles += [Line2D([], [], color="black", linestyle=KIND_STYLE[k][0], label=KIND_STYLE[k][1])
                        for k in kinds]
    if handles or labelled:
        n = len(handles) if handles else len(labelled)
        longest = max(len(h.get_label()) for h in handles) if handles else max(len(ln.label) for ln in labelled)
        ncol = 1 if longest > 40 else 2 if longest > 18 or n <= 2 else 3
        kw = dict(loc="outside lower center", ncol=ncol, fontsize=LEGEND_FONT, frameon=False,
                  handlelength=2.2, columnspacing=1.0, labelspacing=0.3, borderaxespad=0.2)
        if handles:
            fig.legend(handles=handles, **kw)
        else:
            fig.legend(**kw)
    return fig


def draw_grid(title: str, xs: list, ys: list, cells: dict, xlabel: str, ylabel: str) -> MplFigure:
    """A categorical map: one coloured square per (x, y), a colour per outcome (``cells``:
    {(x, y): outcome}); "undecided" always grey, never a count."""
    from matplotlib.patches import Patch
    fig = MplFigure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    outcomes = sorted({v for v in cells.values()}, key=lambda v: (v == "undecided", v))
    palette = ["tab:green", "tab:orange", "tab:blue", "tab:purple", "tab:red", "tab:brown"]
    colour, k = {}, 0
    for o in outcomes:
        if o == "undecided":
            colour[o] = "lightgrey"
        else:
            colour[o] = palette[k % len(palette)]
            k += 1
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            o = cells.get((x, y))
            if o is not None:
                ax.add_patch(matplotlib.patches.Rectangle((i - 0.45, j - 0.45), 0.9, 0.9,
                                                          color=colour[o], linewidth=0))
    ax.set_xlim(-0.6, len(xs) - 0.4)
    ax.set_ylim(-0.6, len(ys) - 0.4)
    ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [str(y) for y in ys])
    ax.grid(False)
    ax.set_xlabel(_label(xlabel))
    ax.set_ylabel(_label(ylabel))
    fig.legend(handles=[Patch(color=colour[o], label=_label(o)) for o in outcomes],
               loc="outside lower center", ncol=min(3, len(outcomes)), fontsize=LEGEND_FONT,
               frameon=False)
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


# Tables of a TrueType font that a PDF viewer never reads (glyph substitution and positioning,
# kerning: matplotlib has placed every glyph already).  Subsetting them is about a third of the
# time a figure's PDF takes (DejaVu's GSUB/GPOS are large), so the fonts embedded in our PDFs go
# without them: the glyph outlines, metrics, names and character map are what is shown and copied.
UNREAD_PDF_TABLES = ("GSUB", "GPOS", "GDEF", "kern")


@contextmanager
def _lean_font_subsets():
    """Within the scope, matplotlib's PDF font subsets leave out :data:`UNREAD_PDF_TABLES`.

    matplotlib subsets each embedded font with fontTools' ``subset.Options`` (its
    ``_backend_pdf_ps.get_glyphs_subset``); here that module sees an ``Options`` that also drops
    those tables.  Another matplotlib without that module attribute is left as it is."""
    from matplotlib.backends import _backend_pdf_ps as pdf_ps
    module = getattr(pdf_ps, "subset", None)
    options = getattr(module, "Options", None)
    if options is None:
        yield
        return

    class LeanOptions(options):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.drop_tables += [t for t in UNREAD_PDF_TABLES if t not in self.drop_tables]

    lean = types.SimpleNamespace(**vars(module))
    lean.Options = LeanOptions
    pdf_ps.subset = lean
    try:
        yield
    finally:
        pdf_ps.subset = module


def _figure(fig_rec, errors=None) -> MplFigure:
    # a record Figure, or a function returning a matplotlib figure (draw_grid); under RC
    return fig_rec() if callable(fig_rec) else _draw(fig_rec, errors)


def _write(fig: MplFigure, fmt: str, metadata: dict) -> bytes:
    buf = io.BytesIO()
    with _lean_font_subsets() if fmt == "pdf" else nullcontext():
        fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()


def render_svg(fig_rec, errors: dict | None = None) -> bytes:
    """The figure as SVG bytes (text kept as text, no date).  ``fig_rec``: a record Figure, or a
    function returning a matplotlib figure (:func:`draw_grid`)."""
    with matplotlib.rc_context(RC):
        return _write(_figure(fig_rec, errors), "svg", SVG_METADATA)


# Below this many figures a pool's start-up is not worth it: they are drawn in this process.
POOL_FROM = 6


def render_both(fig_rec, errors: dict | None = None) -> tuple[bytes, bytes]:
    """(SVG, PDF) bytes of one drawing: laid out once for the SVG, and the PDF written with that
    layout (the layout engine is switched off before the second save, so both files place every
    element alike, no creation date).  The SVG bytes are :func:`render_svg`'s."""
    with matplotlib.rc_context(RC):
        fig = _figure(fig_rec, errors)
        svg = _write(fig, "svg", SVG_METADATA)
        fig.set_layout_engine("none")
        return svg, _write(fig, "pdf", PDF_METADATA)


def _both(item) -> tuple[bytes, bytes]:
    # a pool task: render_both looked up at call time (the tests replace it)
    return render_both(*item)


@contextmanager
def _shared_mathtext():
    """Within the scope, one cache of parsed mathtext for all renderers.

    Matplotlib caches a parse per MathTextParser instance (``_parse_cached``, keyed on the
    instance, 50 entries), and every savefig makes new renderers with new parsers: drawing the
    quick tier's 18 figures as SVG and PDF parsed 1604 times for 86 distinct expressions, about
    40% of the drawing time.  The parse depends on the instance only through its output type,
    so here the key is (output type, the same arguments); the rcParams it reads are pinned by
    :data:`RC` for every figure drawn in the scope, and the cache goes with the scope.  A hit
    returns the shared parse, as matplotlib's own cache does.  Without the undecorated function
    (another matplotlib) nothing changes.  The bytes are those of an uncached drawing
    (tests/test_report.py)."""
    cls = matplotlib.mathtext.MathTextParser
    original = cls.__dict__.get("_parse_cached")
    inner = getattr(original, "__wrapped__", None)
    if inner is None:
        yield
        return
    cache: dict = {}

    def _parse_cached(self, s, dpi, prop, antialiased, load_glyph_flags):
        key = (self._output_type, s, dpi, prop, antialiased, load_glyph_flags)
        if key not in cache:
            cache[key] = inner(self, s, dpi, prop, antialiased, load_glyph_flags)
        return cache[key]

    cls._parse_cached = _parse_cached
    try:
        yield
    finally:
        cls._parse_cached = original


def render_many(items: list, workers: int | None = None) -> list[tuple[bytes, bytes]]:
    """(SVG, PDF) bytes of each ``(fig_rec, errors)`` in ``items``, in order (mathtext parsed
    once per expression: :func:`_shared_mathtext`).

    Drawing a figure costs most of a second (text layout and the PDF's font subsets dominate;
    each figure is laid out once for both files: :func:`render_both`), so from
    ``POOL_FROM`` figures on they are drawn in ``workers`` forked processes (default: the usable
    cores).  Each figure is drawn from its own input under the same pinned rcParams, so the bytes
    are those of a drawing in this process (tests/test_report.py compares them)."""
    with _shared_mathtext():
        return _render_many(items, workers)


def _render_many(items: list, workers: int | None = None) -> list[tuple[bytes, bytes]]:
    # the body of render_many, inside its mathtext scope
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers <= 1 or len(items) < POOL_FROM or "fork" not in mp.get_all_start_methods():
        return [_both(it) for it in items]
    # the forked workers inherit this process's objects; frozen, the workers' garbage collector
    # leaves them alone, so their pages stay shared (~0.8 s of 9 s after a claims run)
    gc.collect()
    gc.freeze()
    try:
        return _draw_in_pool(items, workers)
    finally:
        gc.unfreeze()


def _draw_in_pool(items: list, workers: int) -> list[tuple[bytes, bytes]]:
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=mp.get_context("fork"),
                             initializer=interrupt.quiet_worker) as pool:
        # Ctrl-C reaches the whole process group: the workers leave it to this process, whose
        # KeyboardInterrupt stops the render (the caller keeps the previous report)
        with interrupt.forking():
            futs = [pool.submit(_both, it) for it in items]
        try:
            return [f.result() for f in futs]
        except BaseException:
            for f in futs:
                f.cancel()
            raise
