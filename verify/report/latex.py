"""report.tex (and report.pdf): the report's document tree (:mod:`verify.report.build`) as LaTeX.

The renderer knows the node types of :mod:`verify.report.document` and nothing about claims.
Packages are limited to what Debian's texlive-latex-base, texlive-latex-recommended and lmodern
provide.  Every text span is escaped (:func:`esc`), including non-ASCII characters, which pdflatex's
UTF-8 input would otherwise reject; only math spans and the derivations' ``latex`` fragments
(written by the symbolic layer for this purpose) go in as LaTeX, so math is typeset once and never
shown as source.  Table columns get widths from their content (``build.column_widths``) and long
tokens get break points, so tables fit the page; one-line displays wider than the line are scaled
down to it.

The PDF is built by :func:`build_pdf` (:func:`compile_latex` also returns the log) in a temporary
directory with pdflatex run until the cross-references settle (the first run in draft mode, which
writes them without making a PDF), with the PDF's dates, trailer ID and pdfTeX banner suppressed
so the same report.tex gives the same bytes.  :func:`tex_leaks` and
:func:`overfull_boxes` are the checks the tests apply to the PDF's text and the log.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from verify.claims.record import ClaimRecord
from verify.report import document as D

# ----------------------------------------------------------------------------------------------
# Escaping

_ASCII = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "%": r"\%",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "-": "-{}",  # no -- / --- ligatures: record text means what it says (also "1e--5")
    "`": r"\textasciigrave{}",
    "'": r"\textquotesingle{}",
}

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "varepsilon", "ϵ": "epsilon",
    "ζ": "zeta", "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu",
    "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon",
    "φ": "varphi", "ϕ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta",
    "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Σ": "Sigma", "Υ": "Upsilon", "Φ": "Phi",
    "Ψ": "Psi", "Ω": "Omega", "µ": "mu",
}
_MATH_SYMBOLS = {
    "≤": "le", "≥": "ge", "≠": "neq", "≈": "approx", "∼": "sim", "≃": "simeq", "≍": "asymp",
    "≪": "ll", "≫": "gg", "→": "to", "←": "leftarrow", "↦": "mapsto", "⇒": "Rightarrow",
    "⇔": "Leftrightarrow", "∞": "infty", "∑": "sum", "∏": "prod", "√": "surd", "∈": "in",
    "∉": "notin", "⊂": "subset", "⊆": "subseteq", "∪": "cup", "∩": "cap", "∀": "forall",
    "∃": "exists", "∂": "partial", "∇": "nabla", "⟨": "langle", "⟩": "rangle", "‖": "|",
    "±": "pm", "∓": "mp", "×": "times", "÷": "div", "·": "cdot", "⋅": "cdot", "∘": "circ",
    "−": "-", "∝": "propto", "ℝ": "mathbb{R}", "ℕ": "mathbb{N}", "✓": "checkmark",
    "✗": "times", "★": "star", "†": "dagger", "′": "prime", "°": "circ", "¬": "neg",
}
_TEXT_SYMBOLS = {
    "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\ldots{}",
    "•": r"\textbullet{}", "\u00a0": "~", "§": r"\S{}", "¶": r"\P{}", "©": r"\copyright{}",
    "€": "EUR", "\t": " ",
}
_SUPERSCRIPT = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ⁿ", "0123456789+-n"))
_SUBSCRIPT = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋ᵢⱼₖₙ", "0123456789+-ijkn"))


def _char(c: str) -> str:
    if c in _ASCII:
        return _ASCII[c]
    if c < "\u0080":
        return c if c.isprintable() else " "  # newlines and control characters: a space
    if c in _GREEK:
        return rf"\ensuremath{{\{_GREEK[c]}}}"
    if c in _MATH_SYMBOLS:
        name = _MATH_SYMBOLS[c]
        return rf"\ensuremath{{{name if not name[0].isalpha() else chr(92) + name}}}"
    if c in _TEXT_SYMBOLS:
        return _TEXT_SYMBOLS[c]
    if c in _SUPERSCRIPT:
        return rf"\textsuperscript{{{_SUPERSCRIPT[c]}}}"
    if c in _SUBSCRIPT:
        return rf"\ensuremath{{{{}}_{{\mathrm{{{_SUBSCRIPT[c]}}}}}}}"
    if "\u00c0" <= c <= "\u017f" and c not in "\u00d7\u00f7":
        return c  # Latin-1 and Latin Extended-A letters: in T1 with UTF-8 input
    # anything else pdflatex cannot typeset from UTF-8 input: show its code point
    return rf"\texttt{{[U+{ord(c):04X}]}}"


def esc(s: Any) -> str:
    """Record text as literal LaTeX text, on one line (multi-line text goes in :func:`tt_block`)."""
    return "".join(_char(c) for c in str(s))


_ASCII_FALLBACK = {"≤": "<=", "≥": ">=", "≠": "!=", "≈": "~", "∼": "~", "→": "->", "←": "<-",
                   "⇒": "=>", "±": "+-", "∓": "-+", "×": "x", "·": ".", "⋅": ".", "−": "-", "∞": "inf",
                   "–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "..."}


def esc_pdf_string(s: Any) -> str:
    """Record text for a PDF bookmark (hyperref's \\texorpdfstring): math symbols as ASCII."""
    out = []
    for c in " ".join(str(s).split()):
        if c in _GREEK:
            c = _GREEK[c].replace("var", "")
        elif c in _ASCII_FALLBACK:
            c = _ASCII_FALLBACK[c]
        elif c >= "\u0080" and not ("\u00c0" <= c <= "\u017f"):
            c = "?"
        out.append(esc(c))
    return "".join(out)


def esc_par(s: Any) -> str:
    """Record text as a paragraph: runs of white space (newlines included) become one space."""
    return esc(" ".join(str(s).split()))


def tt_number(s: str, every: int = 10) -> str:
    """A decimal string in typewriter type, breakable every ``every`` characters (40+ digit values)."""
    chars = [_char(c) for c in str(s)]
    chunks = ["".join(chars[i:i + every]) for i in range(0, len(chars), every)]
    return r"\texttt{" + r"\allowbreak{}".join(chunks) + "}"


def tt_block(body: str, width: int = 92) -> str:
    """Preformatted text (JSON, tracebacks) in a small typewriter block, hard-wrapped at ``width``.

    Built from escaped characters rather than a verbatim environment, so any content is safe.
    """
    lines = []
    for ln in body.rstrip().split("\n"):
        ln = ln.replace("\t", "    ")
        while len(ln) > width:
            lines.append(ln[:width])
            ln = "  " + ln[width:]
        lines.append(ln)
    out = []
    for ln in lines:
        stripped = ln.lstrip(" ")
        ind = len(ln) - len(stripped)
        # spaces -> control spaces so that runs of them are kept in typewriter type
        text = "\\ ".join(esc(part) for part in stripped.split(" "))
        out.append((rf"\hspace*{{{ind}\fontcharwd\font`\ }}" if ind else "") + (text or "~"))
    # "\\{}": the empty group stops \\ from reading a next line's "[" or "*" as its argument
    return (
        "\\begin{flushleft}\\footnotesize\\ttfamily\\frenchspacing\n"
        + "\\\\{}\n".join(out)
        + "\n\\end{flushleft}"
    )


# ----------------------------------------------------------------------------------------------
# Document

PREAMBLE = r"""\documentclass[10pt,a4paper]{article}
% Reproducible PDF: no dates, no trailer ID, no pdfTeX banner (see verify/report/latex.py).
\pdfinfoomitdate=1
\pdftrailerid{}
\pdfsuppressptexinfo=-1
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\usepackage{array}
\usepackage{booktabs}
\usepackage{longtable}
\usepackage{float}
\usepackage{caption}
\captionsetup{font=footnotesize,skip=3pt}
\setlength{\intextsep}{6pt plus 2pt minus 2pt}
\usepackage[hidelinks,pdfcreator={verify report},pdfproducer={pdfTeX}]{hyperref}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.4\baselineskip}
\setlength{\LTpre}{0.5\baselineskip}
\setlength{\LTpost}{0.5\baselineskip}
\newcolumntype{P}[1]{>{\raggedright\arraybackslash}p{#1}}
% A display that is wider than the line is scaled down to it (long SymPy expressions).
\newsavebox{\fitbox}
\newcommand{\fitdisplay}[1]{\sbox{\fitbox}{$\displaystyle #1$}%
  \ifdim\wd\fitbox>\linewidth\resizebox{\linewidth}{!}{\usebox{\fitbox}}\else\usebox{\fitbox}\fi}
\sloppy
% Compact headings: the report is read on screen, section by section.
\makeatletter
\renewcommand\section{\@startsection{section}{1}{\z@}{-2.2ex \@plus -.6ex \@minus -.2ex}{1ex \@plus .2ex}{\normalfont\large\bfseries}}
\renewcommand\subsection{\@startsection{subsection}{2}{\z@}{-1.8ex \@plus -.5ex \@minus -.2ex}{.6ex \@plus .2ex}{\normalfont\normalsize\bfseries}}
\makeatother
"""

def _longtable(fracs: list[float], header: list[str], rows: list[list[str]], size: str = r"\small") -> str:
    """A booktabs longtable whose columns take the given fractions of the line width (sum 1)."""
    spec = "".join(rf"P{{\dimexpr{f:.3f}\linewidth-2\tabcolsep\relax}}" for f in fracs)
    head = " & ".join(header) + r" \\"
    body = "\n".join(" & ".join(_row_start(r)) + r" \\" for r in rows)
    return (
        f"{{{size}\\setlength{{\\tabcolsep}}{{4pt}}\n\\begin{{longtable}}{{{spec}}}\n\\toprule\n{head}\n\\midrule\n\\endfirsthead\n"
        f"\\toprule\n{head}\n\\midrule\n\\endhead\n\\bottomrule\n\\endlastfoot\n{body}\n"
        "\\end{longtable}}"
    )


def _row_start(row: list[str]) -> list[str]:
    """Guard a row's first cell: after \\\\ a leading "[" or "*" would be read as its argument."""
    if row and row[0].lstrip().startswith(("[", "*")):
        return ["{}" + row[0].lstrip()] + row[1:]
    return row


_DISPLAY_ENVS = re.compile(r"^\s*(\\begin\{(equation|align|gather|multline|flalign|displaymath)\*?\}|\\\[|\$\$)")


_EQUATION = re.compile(r"\\begin\{equation\*\}(.*?)\\end\{equation\*\}", re.S)
_TEXT_FRAGMENT = re.compile(r"\\(paragraph|section|subsection|begin\{(enumerate|itemize)\}|noindent)")


def display_math(fragment: str) -> str:
    """A sympy.latex fragment in a display context.

    A fragment that is already a display environment goes in as it is; otherwise it is wrapped in
    ``align*`` (so ``&`` alignment points and ``\\\\`` line breaks of multi-line derivations work).
    Blank lines, which end a paragraph and are illegal in math, are dropped.
    """
    if _TEXT_FRAGMENT.search(fragment):
        # a rendered document fragment (paragraphs, lists, its own display environments), as
        # proofs.base.Derivation.to_latex() produces: it goes in as it is, its one-line displays
        # scaled down to the line where they are wider
        return _EQUATION.sub(lambda m: "\\[\\fitdisplay{" + m.group(1).strip() + "}\\]", fragment.strip())
    body = "\n".join(ln for ln in fragment.strip().split("\n") if ln.strip())
    if _DISPLAY_ENVS.match(body):
        return body
    return "\\begin{align*}\n" + body + "\n\\end{align*}"


# ----------------------------------------------------------------------------------------------
# The document tree -> LaTeX (no claim-specific text here: see verify.report.build)

_BREAK_AFTER = re.compile(r"([,;=/)\]])(?!\s)")


def _breakable(s: str) -> str:
    """Escaped text with break points inside long tokens (table cells are narrow): after
    punctuation and every 10 characters of a long run."""
    out = []
    for tok in re.split(r"(\s+)", s):
        if len(tok) <= 12 or tok.isspace():
            out.append(esc(tok))
            continue
        buf = []
        for piece in _BREAK_AFTER.split(tok):
            if len(piece) == 1 and piece in ",;=/)]":
                buf.append(esc(piece) + r"\allowbreak{}")
            elif len(piece) > 12 and not re.search(r"[A-Za-z]{2}", piece):  # digits, never words
                buf.append(r"\allowbreak{}".join(esc(piece[i:i + 10]) for i in range(0, len(piece), 10)))
            else:
                buf.append(esc(piece))
        out.append("".join(buf))
    return "".join(out)


class _Writer:
    def __init__(self) -> None:
        self.in_table = False
        # figures stay where they are: floats next to longtables overfill pages
        self.placement = "[H]"

    # inline --------------------------------------------------------------------------------
    def inline(self, xs: list) -> str:
        return "".join(self.span(x) for x in xs)

    def span(self, x) -> str:
        if isinstance(x, str):
            x = D.Text(x)
        if isinstance(x, D.Text):
            s = re.sub(r"\s+", " ", x.text)  # one line; edge spaces kept (they separate spans)
            return _breakable(s) if self.in_table else esc(s)
        if isinstance(x, D.Code):
            s = re.sub(r"\s+", " ", x.text)
            if len(s) <= 48 and not self.in_table:  # a command or a name: never broken
                return r"\mbox{\texttt{" + esc(s) + "}}"
            return r"\texttt{" + (_breakable(s) if self.in_table else esc(s)) + "}"
        if isinstance(x, D.Number):
            return tt_number(x.text)
        if isinstance(x, D.Math):
            tex = " ".join(x.tex.split())
            if self.in_table:  # narrow cells: break points after commas and before functions
                tex = tex.replace(r",\ ", r",\allowbreak\ ")
                tex = re.sub(r"(?<=[)}\w]) ?(\\(?:exp|sqrt|sum|ln|log)\b)", r"\\allowbreak \1", tex)
            return "$" + tex + "$"
        if isinstance(x, D.Strong):
            return r"\textbf{" + self.inline(list(x.children)) + "}"
        if isinstance(x, D.Emph):
            return r"\emph{" + self.inline(list(x.children)) + "}"
        if isinstance(x, D.Ref):
            return rf"\hyperref[{x.target}]{{{self.inline(list(x.children))}}}"
        if isinstance(x, D.FileLink):
            return r"\texttt{" + esc(x.path) + "}"
        if isinstance(x, D.Verdict):
            return r"\textbf{" + esc(x.verdict) + "}"
        raise TypeError(f"unknown inline {type(x).__name__}")

    def cell(self, xs: list) -> str:
        self.in_table = True
        try:
            return self.inline(xs)
        finally:
            self.in_table = False

    # blocks --------------------------------------------------------------------------------
    def blocks(self, bs: list) -> list[str]:
        return [self.block(b) for b in bs]

    def block(self, b) -> str:
        if isinstance(b, D.Section):
            return self.section(b)
        if isinstance(b, D.Paragraph):
            text = self.inline(b.inlines)
            return f"{{\\small {text}\\par}}" if b.small else text
        if isinstance(b, D.ItemList):
            env = "enumerate" if b.ordered else "itemize"
            anchors = b.anchors or [None] * len(b.items)
            items = [r"\item{}" + (rf"\phantomsection\label{{{a}}}" if a else "") + " " + self.inline(it)
                     for it, a in zip(b.items, anchors)]
            return f"\\begin{{{env}}}\n" + "\n".join(items) + f"\n\\end{{{env}}}"
        if isinstance(b, D.Table):
            header = [r"\textbf{" + self.cell(h) + "}" for h in b.header]
            rows = [[self.cell(c) for c in row] for row in b.rows]
            lab = rf"\phantomsection\label{{{b.anchor}}}" + "\n" if b.anchor else ""
            size = r"\scriptsize" if b.tiny else r"\footnotesize" if b.small else r"\small"
            return lab + _longtable(b.widths, header, rows, size)
        if isinstance(b, D.FigureRow):
            return self.figures(b.figures)
        if isinstance(b, D.FigureBlock):
            return self.figures([b])
        if isinstance(b, D.Aside):
            return self.aside(b)
        if isinstance(b, D.MathBlock):
            return display_math(b.tex)
        if isinstance(b, D.CodeBlock):
            return tt_block(b.text)
        if isinstance(b, D.Fragment):
            return display_math(b.latex)
        if isinstance(b, D.Anchor):
            return rf"\phantomsection\label{{{b.id}}}"
        raise TypeError(f"unknown block {type(b).__name__}")

    def figures(self, figs: list) -> str:
        width = "0.48"  # two to a row (figures are drawn at about this size); one alone as wide
        parts = []
        for f in figs:
            parts.append(
                f"\\begin{{minipage}}[t]{{{width}\\linewidth}}\n\\centering\n"
                f"\\includegraphics[width=\\linewidth]{{{f.path}.pdf}}\n"
                f"\\caption{{{self.inline(f.caption)}}}\\label{{{f.anchor}}}\n\\end{{minipage}}")
        return f"\\begin{{figure}}{self.placement}\n\\centering\n" + "\\hfill\n".join(parts) + "\n\\end{figure}"

    def aside(self, a: D.Aside) -> str:
        """The blocks in a left column, the figure in a right one, both top-aligned (a figure
        caption outside a float: caption's \\captionof)."""
        f = a.figure
        left = "\n\n".join(self.blocks(a.blocks))
        return ("\\par\\noindent\\begin{minipage}[t]{0.5\\linewidth}\\vspace{0pt}"
                "\\setlength{\\parskip}{0.4\\baselineskip}\n" + left
                + "\n\\end{minipage}\\hfill\n\\begin{minipage}[t]{0.47\\linewidth}\\vspace{0pt}\\centering\n"
                f"\\includegraphics[width=\\linewidth]{{{f.path}.pdf}}\n"
                f"\\captionof{{figure}}{{{self.inline(f.caption)}}}\\label{{{f.anchor}}}\n\\end{{minipage}}\\par")

    def section(self, s: D.Section) -> str:
        cmd = {1: "section", 2: "subsection", 3: "subsubsection"}.get(s.level, "paragraph")
        star = "" if (s.numbered and s.level == 1) else "*"
        title = self.inline(s.title)
        bookmark = esc_pdf_string(s.bookmark or D.plain(s.title))
        head = rf"\{cmd}{star}{{\texorpdfstring{{{title}}}{{{bookmark}}}}}"
        if star:
            head += rf"\phantomsection\label{{{s.anchor}}}"
            if s.level == 1:
                head += rf"\addcontentsline{{toc}}{{section}}{{{bookmark}}}"
        else:
            head += rf"\label{{{s.anchor}}}"
        return "\n\n".join([head] + self.blocks(s.blocks))


APPENDIX_BOOKMARK = "Appendices"


def render_document(doc: D.Document) -> str:
    """The whole report.tex for a document tree (ends with a single newline)."""
    w = _Writer()
    parts = [
        PREAMBLE.rstrip(),
        rf"\hypersetup{{pdftitle={{{esc(doc.pdf_title)}}}}}",
        r"\begin{document}",
        # a compact title block: the claims table belongs on the first page
        r"\begin{center}{\Large\bfseries " + esc(doc.title) + r"}\\[0.3em]{\large " + esc(doc.subtitle)
        + r"}\\[0.2em]{\small " + esc(doc.byline) + r"; rendered by \texttt{verify} from "
        r"\texttt{results.json}}\end{center}",
    ]
    parts += w.blocks(doc.intro)
    parts += w.blocks(doc.body)
    if doc.appendix:
        # one top-level bookmark "Appendices" over the appendix sections: where the body ends
        parts += [r"\clearpage", r"\appendix", r"\phantomsection\label{appendix}",
                  r"\pdfbookmark[0]{" + APPENDIX_BOOKMARK + "}{appendices}"]
        parts += w.blocks(doc.appendix)
    parts.append(r"\end{document}")
    return "\n\n".join(parts) + "\n"


def render_latex(records: list[ClaimRecord], provenance: dict[str, Any]) -> str:
    """report.tex for records (builds the document tree, then renders it)."""
    from verify.report.build import build_document
    return render_document(build_document(records, provenance))


# ----------------------------------------------------------------------------------------------
# PDF

class LatexError(RuntimeError):
    """pdflatex failed, or left undefined references; the message carries the log's tail."""


_RERUN = re.compile(r"Rerun to get|Label\(s\) may have changed|Table widths have changed|Column widths have changed")
_UNDEFINED = re.compile(r"undefined references|Reference `[^']*' on page \d+ undefined|Citation `[^']*' .*undefined")


def pdflatex_available() -> bool:
    return shutil.which("pdflatex") is not None


def build_pdf(tex: str, figure_pdfs: dict[str, bytes], max_runs: int = 4, timeout: float = 180.0) -> bytes:
    """Compile ``tex`` with pdflatex in a temporary directory and return the PDF bytes.

    ``figure_pdfs`` maps a path relative to the document (``figures/x--y.pdf``) to its bytes.
    pdflatex runs at least twice and until no rerun is requested (at most ``max_runs``); an error
    or an undefined reference afterwards raises :class:`LatexError`.
    """
    return compile_latex(tex, figure_pdfs, max_runs, timeout)[0]


def compile_latex(tex: str, figure_pdfs: dict[str, bytes], max_runs: int = 4,
                  timeout: float = 180.0) -> tuple[bytes, str]:
    """:func:`build_pdf`, also returning the last pdflatex log (for the overfull-box check)."""
    env = dict(os.environ)
    env.setdefault("SOURCE_DATE_EPOCH", "0")
    env["FORCE_SOURCE_DATE"] = "1"
    with tempfile.TemporaryDirectory(prefix="verify-latex-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "report.tex").write_text(tex, encoding="utf-8")
        for rel, data in figure_pdfs.items():
            p = tmpdir / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
               "-file-line-error", "report.tex"]
        log = ""
        for run in range(1, max_runs + 1):
            # the first run only writes the cross-references (.aux, .out, .toc): no PDF is made
            # (-draftmode, about a fifth faster); every later run makes one, the last is returned
            draft = ["-draftmode"] if run == 1 else []
            proc = subprocess.run(cmd[:1] + draft + cmd[1:], cwd=tmpdir, env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=timeout)
            log_path = tmpdir / "report.log"
            log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
            if proc.returncode != 0:
                raise LatexError(f"pdflatex failed (run {run}, exit {proc.returncode}):\n{_tail(log)}")
            if run >= 2 and not _RERUN.search(log):
                break
        if _UNDEFINED.search(log):
            raise LatexError("report.tex has undefined references:\n" + "\n".join(
                ln for ln in log.splitlines() if "undefined" in ln))
        return (tmpdir / "report.pdf").read_bytes(), log


# Markup that must never reach the typeset text (math shown as source).
TEX_LEAKS = ("$", "\\frac", "\\mathcal", "\\sum", "_{", "\\begin", "\\left", "\\mathbb")


def tex_leaks(pdf_text: str) -> list[str]:
    """The lines of a PDF's extracted text that show TeX source (see TEX_LEAKS)."""
    return [ln for ln in pdf_text.splitlines() if any(m in ln for m in TEX_LEAKS)]


def overfull_boxes(log: str) -> list[str]:
    """The pdflatex log's overfull-box warnings (content wider than the line: it sticks out)."""
    return [ln for ln in log.splitlines() if ln.startswith(("Overfull \\hbox", "Overfull \\vbox"))]


def _tail(log: str, n: int = 40) -> str:
    lines = log.splitlines()
    errs = [i for i, ln in enumerate(lines) if ln.startswith("!") or re.match(r"^\./.*:\d+: ", ln)]
    start = max(0, errs[0] - 5) if errs else max(0, len(lines) - n)
    return "\n".join(lines[start:start + n])
