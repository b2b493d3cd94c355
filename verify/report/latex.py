"""report.tex (and report.pdf): the same content as REPORT.md, as a LaTeX article.

Packages are limited to what Debian's texlive-latex-base, texlive-latex-recommended and lmodern
provide.  Every text field of a record is escaped (:func:`esc`), including non-ASCII characters,
which pdflatex's UTF-8 input would otherwise reject; only the derivation's ``latex`` fragments
(written by ``sympy.latex`` for this purpose) are inserted as LaTeX, inside a display environment.

The PDF is built by :func:`build_pdf` in a temporary directory with pdflatex run until the
cross-references settle, with the PDF's dates, trailer ID and pdfTeX banner suppressed so the same
report.tex gives the same bytes.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from verify.claims.record import SCHEMA_VERSION, ClaimRecord, Figure
from verify.report import text as T
from verify.report.io import unique_slugs

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
\usepackage[hidelinks,pdfcreator={verify report},pdfproducer={pdfTeX}]{hyperref}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5\baselineskip}
\setlength{\LTpre}{0.5\baselineskip}
\setlength{\LTpost}{0.5\baselineskip}
\newcolumntype{P}[1]{>{\raggedright\arraybackslash}p{#1}}
\sloppy
"""

VERDICT_TEX = {
    "CONFIRMED": r"\textbf{CONFIRMED}",
    "REFUTED": r"\textbf{REFUTED}",
    "INCONCLUSIVE": r"\textbf{INCONCLUSIVE}",
    "ERROR": r"\textbf{ERROR}",
}


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


def _summary(records: list[ClaimRecord], labels: dict[str, str]) -> str:
    rows = []
    for r in records:
        q = T.key_quantity(r)
        if q is None:
            key = "---"
        else:
            key = f"{esc(q.name)} $=$ {tt_number(T.value_with_error(q, short=True))}"
            claimed = T.claimed_text(q, short=True)
            key += f" (claimed {_claimed_tex(q, short=True)})" if claimed else " (no claimed value)"
        rows.append([
            rf"\hyperref[{labels[r.id]}]{{\texttt{{{esc(r.id)}}}}} (\S\ref*{{{labels[r.id]}}})",
            esc_par(r.title),
            VERDICT_TEX[r.verdict],
            esc(r.assurance),
            key,
            esc(r.tier),
        ])
    return _longtable(
        [0.11, 0.22, 0.175, 0.11, 0.32, 0.065],
        [r"\textbf{Claim}", r"\textbf{Statement}", r"\textbf{Verdict}", r"\textbf{Assurance}",
         r"\textbf{Key number: computed (claimed)}", r"\textbf{Tier}"],
        rows,
        r"\footnotesize",
    )


def _legend() -> str:
    verdicts = "; ".join(rf"\textbf{{{v}}}: {esc(m)}" for v, m in T.VERDICT_MEANING.items())
    levels = "; ".join(rf"\texttt{{{a}}}: {esc(m)}" for a, m in T.ASSURANCE_MEANING.items())
    return f"{{\\small Verdicts. {verdicts}.\n\nAssurance levels. {levels}.\\par}}"


def _provenance(provenance: dict[str, Any]) -> str:
    if not provenance:
        return r"\emph{No provenance was recorded.}"
    rows = [[rf"\texttt{{{esc(k)}}}", tt_number(T.leaf_text(v))] for k, v in T.flatten(provenance)]
    return _longtable([0.25, 0.75], [r"\textbf{Key}", r"\textbf{Value}"], rows)


def _claimed_tex(q, short: bool = False) -> str:
    """The claimed side, e.g. ``≥ 0.9999`` (relation escaped), with a long number breakable."""
    rel = T.RELATION_TEXT.get(q.relation, q.relation)
    value = T.short_decimal(q.claimed) if short else q.claimed
    return (esc(rel) + " " if rel else "") + tt_number(value)


def _quantities(r: ClaimRecord) -> str:
    rows = []
    for q in r.quantities:
        claimed = T.claimed_text(q)
        rows.append([
            esc_par(q.name),
            tt_number(q.value),
            tt_number(q.error) if q.error else "---",
            _claimed_tex(q) if claimed else "---",
            esc(T.precision_label(q.precision) or "---"),
        ])
    out = _longtable(
        [0.2, 0.31, 0.13, 0.25, 0.11],
        [r"\textbf{Quantity}", r"\textbf{Computed}", r"\textbf{Error}", r"\textbf{Claimed}",
         r"\textbf{Precision}"],
        rows,
    )
    notes = [q for q in r.quantities if q.note]
    if notes:
        out += "\n\n{\\small Notes.\\begin{itemize}\n" + "\n".join(
            rf"\item{{}} {esc_par(q.name)}: {esc_par(q.note)}" for q in notes) + "\n\\end{itemize}}"
    return out


def _record_table(t: dict[str, Any]) -> str:
    cols = list(t.get("columns", []))
    rows = [[esc_par(T.cell(x)) for x in row] for row in t.get("rows", [])]
    ncol = max([len(cols)] + [len(r) for r in rows]) or 1
    cols += [""] * (ncol - len(cols))
    rows = [r + [""] * (ncol - len(r)) for r in rows]
    header = [rf"\textbf{{{esc_par(c)}}}" for c in cols]
    return _longtable([1.0 / ncol] * ncol, header, rows, r"\footnotesize")


def _figure(r: ClaimRecord, f: Figure) -> str:
    stem = T.figure_stem(r.id, f.id)
    return (
        "\\begin{figure}[H]\n\\centering\n"
        f"\\includegraphics[width=0.82\\linewidth]{{figures/{stem}.pdf}}\n"
        f"\\caption{{{esc_par(f.title)} (\\texttt{{{esc(f.id)}}})}}\n"
        "\\end{figure}"
    )


_DISPLAY_ENVS = re.compile(r"^\s*(\\begin\{(equation|align|gather|multline|flalign|displaymath)\*?\}|\\\[|\$\$)")


_TEXT_FRAGMENT = re.compile(r"\\(paragraph|section|subsection|begin\{(enumerate|itemize)\}|noindent)")


def display_math(fragment: str) -> str:
    """A sympy.latex fragment in a display context.

    A fragment that is already a display environment goes in as it is; otherwise it is wrapped in
    ``align*`` (so ``&`` alignment points and ``\\\\`` line breaks of multi-line derivations work).
    Blank lines, which end a paragraph and are illegal in math, are dropped.
    """
    if _TEXT_FRAGMENT.search(fragment):
        # a rendered document fragment (paragraphs, lists, its own display environments), as
        # proofs.base.Derivation.to_latex() produces: it goes in as it is
        return fragment.strip()
    body = "\n".join(ln for ln in fragment.strip().split("\n") if ln.strip())
    if _DISPLAY_ENVS.match(body):
        return body
    return "\\begin{align*}\n" + body + "\n\\end{align*}"


def _derivation(d: dict[str, Any]) -> list[str]:
    out = []
    head = rf"\textbf{{{esc_par(d['name'])}}}" if d.get("name") else ""
    if d.get("statement"):
        head = f"{head}: {esc_par(d['statement'])}" if head else esc_par(d["statement"])
    if head:
        out.append(head)
    frags = d.get("latex") or []
    for frag in frags if isinstance(frags, list) else [frags]:
        out.append(display_math(str(frag)))
    steps = d.get("steps") or []
    if steps:
        rows = [
            [str(i), esc_par(s.get("description", "")), esc_par(s.get("check", "")),
             r"$\checkmark$ yes" if s.get("passed") else r"\textbf{no}"]
            for i, s in enumerate(steps, 1)
        ]
        out.append(_longtable([0.05, 0.5, 0.35, 0.1],
                              [r"\textbf{\#}", r"\textbf{Step}", r"\textbf{How it was checked}",
                               r"\textbf{Passed}"], rows, r"\footnotesize"))
    if d.get("spot_check"):
        out.append("Numeric spot check:\n" + tt_block(T.compact_json(d["spot_check"], width=92)))
    return out


def _section(r: ClaimRecord, label: str) -> str:
    parts = [
        rf"\section{{\texorpdfstring{{\texttt{{{esc(r.id)}}}: {esc_par(r.title)}}}"
        rf"{{{esc_pdf_string(r.id + ': ' + r.title)}}}}}\label{{{label}}}",
        rf"\textbf{{Verdict:}} {VERDICT_TEX[r.verdict]} \quad "
        rf"\textbf{{Assurance:}} {esc(r.assurance)} ({esc(T.ASSURANCE_MEANING.get(r.assurance, ''))}) \quad "
        rf"\textbf{{Tier:}} {esc(r.tier)}",
        rf"\textbf{{Statement.}} {esc_par(r.statement)}",
        rf"\textbf{{Provenance.}} {esc_par(r.provenance)}",
    ]
    if r.quantities:
        parts += [r"\subsection*{Computed vs claimed}", _quantities(r)]
    if r.findings:
        parts += [r"\subsection*{Findings}",
                  "\\begin{itemize}\n" + "\n".join(rf"\item{{}} {esc_par(f.headline)}" for f in r.findings) + "\n\\end{itemize}"]
    if r.witness:
        intro = ["The inputs and numbers that break the claim:"] if r.verdict == "REFUTED" else []
        parts += [r"\subsection*{Witness}", *intro, tt_block(T.compact_json(r.witness, width=92))]
    if r.reason:
        reason = r.reason.rstrip()
        parts += [r"\subsection*{Reason}", tt_block(reason) if "\n" in reason else esc_par(reason)]
    for t in r.tables:
        parts += [rf"\subsection*{{Table: {esc_par(t.get('title', ''))}}}", _record_table(t)]
    if r.figures:
        parts += [r"\subsection*{Figures}"] + [_figure(r, f) for f in r.figures]
    parts += [r"\subsection*{Inputs that reproduce it}", tt_block(T.compact_json(r.inputs, width=92))]
    if r.derivation:
        parts += [r"\subsection*{Derivation}"] + _derivation(r.derivation)
    return "\n\n".join(parts)


def render_latex(records: list[ClaimRecord], provenance: dict[str, Any]) -> str:
    """The whole report.tex as one string (ends with a single newline)."""
    labels = {rid: f"claim:{s}" for rid, s in unique_slugs([r.id for r in records]).items()}
    counts = ", ".join(f"{n} {v}" for v, n in T.verdict_counts(records))
    parts = [
        PREAMBLE.rstrip(),
        rf"\hypersetup{{pdftitle={{Verification report: {esc(T.PAPER_TITLE)}}}}}",
        r"\title{Verification report\\[0.3em]\large " + esc(T.PAPER_TITLE) + "}",
        r"\author{" + esc(T.PAPER_CITATION) + r"\\[0.3em]\small rendered by \texttt{verify} from \texttt{results.json}}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        "Every number in this document is rendered from the check records in \\texttt{results.json} "
        f"(schema version {SCHEMA_VERSION}). Wall-clock run times are kept apart in "
        "\\texttt{timings.md}, so that this file is byte-identical across reruns of the same inputs.",
        (rf"\textbf{{{len(records)} claims:}} {counts}." if records else r"\textbf{No claims were checked.}"),
        r"\section*{Summary}",
        _summary(records, labels),
        _legend(),
        r"\section*{Provenance}",
        _provenance(provenance),
    ]
    parts += [_section(r, labels[r.id]) for r in records]
    parts.append(r"\end{document}")
    return "\n\n".join(parts) + "\n"


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
            proc = subprocess.run(cmd, cwd=tmpdir, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
            log_path = tmpdir / "report.log"
            log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
            if proc.returncode != 0:
                raise LatexError(f"pdflatex failed (run {run}, exit {proc.returncode}):\n{_tail(log)}")
            if run >= 2 and not _RERUN.search(log):
                break
        if _UNDEFINED.search(log):
            raise LatexError("report.tex has undefined references:\n" + "\n".join(
                ln for ln in log.splitlines() if "undefined" in ln))
        return (tmpdir / "report.pdf").read_bytes()


def _tail(log: str, n: int = 40) -> str:
    lines = log.splitlines()
    errs = [i for i, ln in enumerate(lines) if ln.startswith("!") or re.match(r"^\./.*:\d+: ", ln)]
    start = max(0, errs[0] - 5) if errs else max(0, len(lines) - n)
    return "\n".join(lines[start:start + n])
