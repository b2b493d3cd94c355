"""REPORT.md: the report's document tree (:mod:`verify.report.build`) as GitHub-flavoured Markdown.

Every text span is escaped, so record text is shown as text, never interpreted as Markdown or HTML;
only :class:`~verify.report.document.Fragment` (``derivation["markdown"]``, which the symbolic layer
renders for this purpose) is inserted as Markdown.  Math spans use GitHub's ``$`...`$`` and
```` ```math ```` forms; anchors are explicit ``<a id>`` targets and images are relative links
(``figures/<claim>--<figure>.svg``), so the file renders on a code-hosting site as it is.
"""
from __future__ import annotations

import re
from typing import Any

from verify.claims.record import ClaimRecord
from verify.report import document as D

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


def anchor(a: str) -> str:
    """An explicit link target (GitHub keeps it as ``user-content-<a>`` and resolves ``#<a>``)."""
    return f'<a id="{a}"></a>'


# ----------------------------------------------------------------------------------------------
# The document tree -> Markdown (no claim-specific text here: see verify.report.build)


class _Writer:
    def __init__(self) -> None:
        self.in_cell = False

    def inline(self, xs: list) -> str:
        return "".join(self.span(x) for x in xs)

    def span(self, x) -> str:
        if isinstance(x, str):
            x = D.Text(x)
        if isinstance(x, D.Text):
            # one line; edge spaces kept (they separate spans)
            return re.sub(r"\s+", " ", esc(x.text)) if self.in_cell else " ".join(esc(x.text).split("\n"))
        if isinstance(x, (D.Code, D.Number)):
            return code(x.text)
        if isinstance(x, D.Math):
            tex = " ".join(x.tex.split())
            out = f"$`{tex}`$"
            return out.replace("|", "\\|") if self.in_cell else out
        if isinstance(x, D.Strong):
            return f"**{self.inline(list(x.children))}**"
        if isinstance(x, D.Emph):
            return f"*{self.inline(list(x.children))}*"
        if isinstance(x, D.Ref):
            return f"[{self.inline(list(x.children))}](#{x.target})"
        if isinstance(x, D.FileLink):
            return f"[{code(x.path)}]({x.path})"
        if isinstance(x, D.Verdict):
            return f"{VERDICT_BADGE.get(x.verdict, '')} **{x.verdict}**"
        raise TypeError(f"unknown inline {type(x).__name__}")

    def cell(self, xs: list) -> str:
        self.in_cell = True
        try:
            return self.inline(xs).strip() or " "
        finally:
            self.in_cell = False

    def blocks(self, bs: list, appendix: bool = False) -> list[str]:
        out = []
        for i, b in enumerate(bs):
            if appendix and isinstance(b, D.Section):
                out.append(self.section(b, prefix=f"Appendix {chr(ord('A') + i)}: "))
            else:
                out.append(self.block(b))
        return out

    def block(self, b) -> str:
        if isinstance(b, D.Section):
            return self.section(b)
        if isinstance(b, D.Paragraph):
            return self.inline(b.inlines)
        if isinstance(b, D.ItemList):
            anchors = b.anchors or [None] * len(b.items)
            lines = []
            for k, (it, a) in enumerate(zip(b.items, anchors), 1):
                mark = f"{k}." if b.ordered else "-"
                lines.append(f"{mark} " + (anchor(a) if a else "") + self.inline(it))
            return "\n".join(lines)
        if isinstance(b, D.Table):
            t = table([self.cell(h) for h in b.header], [[self.cell(c) for c in r] for r in b.rows])
            return (anchor(b.anchor) + "\n\n" + t) if b.anchor else t
        if isinstance(b, D.FigureRow):
            return "\n\n".join(self.figure(f) for f in b.figures)
        if isinstance(b, D.FigureBlock):
            return self.figure(b)
        if isinstance(b, D.Aside):
            return "\n\n".join(self.blocks(b.blocks) + [self.figure(b.figure)])
        if isinstance(b, D.MathBlock):
            return fenced(b.tex, "math")
        if isinstance(b, D.CodeBlock):
            return fenced(b.text, b.lang)
        if isinstance(b, D.Fragment):
            return b.markdown.strip()
        if isinstance(b, D.Anchor):
            return anchor(b.id)
        raise TypeError(f"unknown block {type(b).__name__}")

    def figure(self, f: D.FigureBlock) -> str:
        alt = re.sub(r"[_^{}*]", "", f.alt)  # alt text is read out as words, not typeset
        return (f"{anchor(f.anchor)}\n\n![{esc_cell(alt)}]({f.path}.svg)\n\n"
                f"*Figure{f' {f.number}' if f.number else ''}: {self.inline(f.caption)}* "
                f"([SVG]({f.path}.svg), [PDF]({f.path}.pdf))")

    def section(self, s: D.Section, prefix: str = "") -> str:
        head = f"{anchor(s.anchor)}\n\n{'#' * (s.level + 1)} {prefix}{self.inline(s.title)}"
        return "\n\n".join([head] + self.blocks(s.blocks))


def render_document(doc: D.Document) -> str:
    """The whole REPORT.md for a document tree (ends with a single newline)."""
    w = _Writer()
    parts = [f"# {esc(doc.title)}", f"**Paper:** *{esc(doc.subtitle)}* ({esc(doc.byline)})."]
    parts += w.blocks(doc.intro) + w.blocks(doc.body)
    if doc.appendix:
        parts += w.blocks(doc.appendix, appendix=True)
    return "\n\n".join(parts) + "\n"


def render_markdown(records: list[ClaimRecord], provenance: dict[str, Any]) -> str:
    """REPORT.md for records (builds the document tree, then renders it)."""
    from verify.report.build import build_document
    return render_document(build_document(records, provenance))
