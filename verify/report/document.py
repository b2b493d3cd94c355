"""The report's document model: a small tree of blocks that both renderers walk.

:mod:`verify.report.build` turns the claim records into one :class:`Document`; the Markdown and
LaTeX renderers (:mod:`verify.report.markdown`, :mod:`verify.report.latex`) each know how to write
the dozen node types below and nothing about claims.  Structure, order, headings and wording are
decided once, in ``build``, so the two formats cannot drift apart.

Why a tree rather than shared templates (Jinja2, say): the two formats differ in escaping, math
delimiters, anchors, table layout (column widths, splitting wide tables, the appendix moves) and
figures, not in structure; with templates each of those would be template logic written twice,
once per format, which is the drift this replaces.  A tree keeps every decision in Python where it
is tested once, and each renderer is a small function per node type with no claim-specific text.

Inline content is a list of spans (a plain ``str`` is read as :class:`Text`).  Text spans are
literal: each renderer escapes them.  Only :class:`Math` / :class:`MathBlock` (TeX math, typeset by
both formats: ``$...$`` in LaTeX, GitHub's ``$`...`$`` / ```` ```math ```` in Markdown) and
:class:`Fragment` (per-format text produced by the symbolic layer for exactly this purpose) carry
markup.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

# ------------------------------------------------------------------------------------------------
# Inline spans


@dataclass(frozen=True)
class Text:
    """Literal text (escaped by the renderer)."""

    text: str


@dataclass(frozen=True)
class Code:
    """Literal text in a monospace font: identifiers, file names, JSON keys."""

    text: str


@dataclass(frozen=True)
class Number:
    """A decimal string as recorded (monospace; breakable, since 40+ digit values occur)."""

    text: str


@dataclass(frozen=True)
class Math:
    """Inline TeX math, typeset in both formats."""

    tex: str


@dataclass(frozen=True)
class Strong:
    children: tuple = ()


@dataclass(frozen=True)
class Emph:
    children: tuple = ()


@dataclass(frozen=True)
class Ref:
    """A link to an anchor of this document (a section, table, figure or list item)."""

    target: str
    children: tuple = ()


@dataclass(frozen=True)
class FileLink:
    """A link to a file beside the report (relative path, e.g. ``results.json``)."""

    path: str


@dataclass(frozen=True)
class Verdict:
    """A verdict word (rendered bold, with a badge in Markdown)."""

    verdict: str


Inline = Union[str, Text, Code, Number, Math, Strong, Emph, Ref, FileLink, Verdict]
Inlines = list  # list[Inline]


def strong(*children: Inline) -> Strong:
    return Strong(tuple(children))


def emph(*children: Inline) -> Emph:
    return Emph(tuple(children))


def ref(target: str, *children: Inline) -> Ref:
    return Ref(target, tuple(children))


# ------------------------------------------------------------------------------------------------
# Blocks


@dataclass
class Paragraph:
    inlines: Inlines
    small: bool = False


@dataclass
class ItemList:
    """A list; each item is a list of inlines.  ``anchors`` (optional, one per item) make items
    link targets (the numbered findings)."""

    items: list
    ordered: bool = False
    anchors: list | None = None


@dataclass
class Table:
    """``header`` and each row are lists of cells; a cell is a list of inlines.  ``widths`` are the
    columns' fractions of the line (LaTeX); ``anchor`` makes the table a link target."""

    header: list
    rows: list
    widths: list
    anchor: str | None = None
    caption: Inlines | None = None
    small: bool = True
    tiny: bool = False  # many columns: the smallest type (LaTeX)


@dataclass
class FigureBlock:
    """A plot drawn from a record Figure: ``path`` (relative, no extension) names the files
    ``<path>.svg`` (Markdown) and ``<path>.pdf`` (LaTeX), e.g. ``figures/thm3.1--thm3.1-profile``."""

    anchor: str
    path: str
    caption: Inlines
    alt: str = ""
    number: int = 0  # its number in the document (set by the builder; LaTeX numbers its own)


@dataclass
class FigureRow:
    """Figures set side by side where the format allows it (LaTeX: two per row)."""

    figures: list


@dataclass
class Aside:
    """Short blocks (paragraphs, lists: nothing that breaks across pages) with one figure beside
    them where the format allows it (LaTeX: two columns); Markdown writes the blocks, then the
    figure."""

    blocks: list
    figure: FigureBlock


@dataclass
class MathBlock:
    tex: str


@dataclass
class CodeBlock:
    """Preformatted text (JSON, tracebacks); ``lang`` is a Markdown info string."""

    text: str
    lang: str = ""


@dataclass
class Fragment:
    """Text rendered by the symbolic layer for each format (``derivation['latex'|'markdown']``)."""

    latex: str
    markdown: str


@dataclass
class Anchor:
    """A link target that is not a heading."""

    id: str


@dataclass
class Section:
    """A heading with its content.  ``level`` 1 is a top-level section; ``numbered`` sections get
    a number in LaTeX; ``bookmark`` is the plain-text title for PDF bookmarks."""

    title: Inlines
    anchor: str
    blocks: list = field(default_factory=list)
    level: int = 1
    numbered: bool = True
    bookmark: str = ""


@dataclass
class Document:
    """``body`` comes first; ``appendix`` sections follow a page break, lettered in LaTeX."""

    title: str
    subtitle: str
    byline: str
    pdf_title: str
    intro: list
    body: list
    appendix: list = field(default_factory=list)


Block = Union[Paragraph, ItemList, Table, FigureBlock, FigureRow, Aside, MathBlock, CodeBlock,
              Fragment, Anchor, Section]


def plain(inlines: Inlines) -> str:
    """The text of inline content without any markup (bookmarks, alt text)."""
    out = []
    for x in inlines:
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, (Text, Code, Number)):
            out.append(x.text)
        elif isinstance(x, Math):  # readable, not TeX: bookmarks and alt text
            t = re.sub(r"\\(mathrm|operatorname|allowbreak)", "", x.tex)
            t = re.sub(r"\\([A-Za-z]+)", r"\1", t).replace("\\", "")
            out.append(re.sub(r"[{}]", "", t).replace("^*", "*"))
        elif isinstance(x, (Strong, Emph, Ref)):
            out.append(plain(list(x.children)))
        elif isinstance(x, FileLink):
            out.append(x.path)
        elif isinstance(x, Verdict):
            out.append(x.verdict)
    return "".join(out)
