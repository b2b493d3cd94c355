"""The types every derivation returns (issue 3), their renderings, and the checks behind a step.

A :class:`Derivation` is a named statement with an ordered list of :class:`Step` s.  Each step shows
one identity (a SymPy expression written in general vector notation, for the reader) and records
how that identity was *checked* on concrete small sizes (n, d) with symbols for every parameter:

``symbolic-zero``
    the difference of the two sides reduces to 0 by ``expand``/``cancel`` (no heuristics);
``symbolic-limit``
    ``sympy.limit`` of an explicit closed-form expression;
``pointwise+lemma:<name>``
    a pointwise identity reduced to 0 symbolically, turned into a statement about expectations by
    the named classical lemma (``stein``: Gaussian integration by parts E[y.g] = E[div g];
    ``odd-symmetry``: y -> -y preserves N(0, I); ...);
``pointwise-random-rational``
    the identity evaluated exactly at random rational points (used only where SymPy is too slow);
``numeric``
    high-precision numbers only.

The renderings (`to_latex`, `to_markdown`, `to_text`, `to_dict`) are built from the same objects,
so a report never retypes a formula.  LaTeX is a fragment that needs only amsmath/amssymb.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import sympy as sp

CHECK_KINDS = ("symbolic-zero", "symbolic-limit", "pointwise+lemma", "pointwise-random-rational",
               "numeric")


# --------------------------------------------------------------------------------------------
# Display notation: vectors are plain symbols; these functions print as the usual notation.
# --------------------------------------------------------------------------------------------

def _p(printer, x, latex: bool) -> str:
    """Print ``x`` with parentheses when it is a sum (so a b^T of sums stays unambiguous)."""
    body = printer._print(x)
    if isinstance(x, sp.Add):
        return (r"\left(%s\right)" if latex else "(%s)") % body
    return body


class Inner(sp.Function):
    """<a, b>; printed as \\langle a, b\\rangle."""

    nargs = 2

    def _latex(self, printer):
        a, b = (printer._print(x) for x in self.args)
        return r"\left\langle %s, %s \right\rangle" % (a, b)

    def _sympystr(self, printer):
        return "<%s, %s>" % tuple(printer._print(x) for x in self.args)


class Sq(sp.Function):
    """|a|^2."""

    nargs = 1

    def _latex(self, printer):
        return r"\left\lVert %s \right\rVert^{2}" % printer._print(self.args[0])

    def _sympystr(self, printer):
        return "|%s|^2" % printer._print(self.args[0])


class Outer(sp.Function):
    """a b^T (a d x d matrix)."""

    nargs = 2

    def _latex(self, printer):
        a, b = (_p(printer, x, True) for x in self.args)
        return r"%s %s^{\top}" % (a, b)

    def _sympystr(self, printer):
        return "%s %s^T" % tuple(_p(printer, x, False) for x in self.args)


class Apply(sp.Function):
    """A matrix applied to a vector, M x (kept unevaluated so the order survives)."""

    nargs = 2

    def _latex(self, printer):
        a, b = (_p(printer, x, True) for x in self.args)
        return r"%s\, %s" % (a, b)

    def _sympystr(self, printer):
        return "%s %s" % tuple(_p(printer, x, False) for x in self.args)


class Expect(sp.Function):
    """E_y[...] over y ~ N(0, I)."""

    nargs = 1

    def _latex(self, printer):
        return r"\mathbb{E}\left[ %s \right]" % printer._print(self.args[0])

    def _sympystr(self, printer):
        return "E[%s]" % printer._print(self.args[0])


class Grad(sp.Function):
    """nabla_{wrt} f."""

    nargs = 2

    def _latex(self, printer):
        f, x = _p(printer, self.args[0], True), printer._print(self.args[1])
        return r"\nabla_{%s} %s" % (x, f)

    def _sympystr(self, printer):
        f, x = _p(printer, self.args[0], False), printer._print(self.args[1])
        return "grad_%s %s" % (x, f)


class Div(sp.Function):
    """div_y g."""

    nargs = 1

    def _latex(self, printer):
        return r"\operatorname{div}_{y} %s" % printer._print(self.args[0])

    def _sympystr(self, printer):
        return "div_y %s" % printer._print(self.args[0])


def eq(lhs, rhs) -> sp.Eq:
    """An unevaluated equation for display."""
    return sp.Eq(lhs, rhs, evaluate=False)


# --------------------------------------------------------------------------------------------
# The checks.
# --------------------------------------------------------------------------------------------

def is_zero_expand(expr) -> bool:
    """True iff ``expand(expr)`` is identically 0 (polynomial identities)."""
    return sp.expand(expr) == 0


def is_zero_cancel(expr) -> bool:
    """True iff the rational function ``expr`` cancels to 0 (numerator expands to 0)."""
    num, _den = sp.fraction(sp.together(expr))
    return sp.expand(num) == 0


def vanishes(expr) -> bool:
    """True iff ``expr`` is shown to be identically 0: first by ``expand``, then by the numerator of
    ``together`` expanded (each reduction to 0 is a proof; they settle the polynomial, rational and
    matching-exponential identities of the derivations in milliseconds), and only if something is
    left by ``simplify`` followed by ``expand`` (the heuristic route, as slow as ever)."""
    expr = sp.sympify(expr)
    return is_zero_expand(expr) or is_zero_cancel(expr) or is_zero_expand(sp.simplify(expr))


def is_zero_random_rational(expr, symbols: Iterable[sp.Symbol], trials: int = 3,
                            seed: int = 0) -> bool:
    """Exact evaluation at random rational points (a necessary condition only; label it so)."""
    rng = random.Random(seed)
    symbols = list(symbols)
    for _ in range(trials):
        point = {x: sp.Rational(rng.randint(-40, 40), rng.randint(1, 13)) for x in symbols}
        if sp.nsimplify(expr.subs(point)) != 0:
            return False
    return True


@dataclass
class Step:
    """One checked step: ``expr`` is the identity shown to the reader, ``check`` how it was checked,
    ``detail`` on which concrete sizes and by which reduction."""

    description: str
    expr: Any
    check: str
    passed: bool
    detail: str = ""

    def __post_init__(self) -> None:
        if not any(self.check == k or self.check.startswith(k + ":") for k in CHECK_KINDS):
            raise ValueError(f"unknown check kind {self.check!r}; expected one of {CHECK_KINDS}")
        self.passed = bool(self.passed)


@dataclass
class Derivation:
    """A statement, its checked steps, the final identity and a numeric spot check.

    ``spot_check`` is a dict: {"points": [...], "dps": int, "digits": float (the smallest number
    of agreeing digits over the points), "required_digits": float, "passed": bool, "note": str}.
    When the numeric core is unavailable it carries "skipped": reason and passed=False: a
    derivation whose spot check did not run is not reported as passed.
    """

    name: str
    statement: str
    steps: list[Step] = field(default_factory=list)
    final: Any = None
    spot_check: dict[str, Any] = field(default_factory=dict)
    runtime_s: dict[str, float] = field(default_factory=dict)

    @property
    def steps_passed(self) -> bool:
        return all(s.passed for s in self.steps)

    @property
    def passed(self) -> bool:
        return self.steps_passed and bool(self.spot_check.get("passed", False))

    # ---- renderings -------------------------------------------------------------------------

    def to_latex(self) -> str:
        out = [r"\paragraph{Derivation \texttt{%s}.} %s" % (_tex_escape(self.name),
                                                             _tex_text(self.statement)),
               r"\begin{enumerate}"]
        for s in self.steps:
            out.append(r"\item %s" % _tex_text(s.description))
            out.append(r"\begin{equation*}" + "\n" + _latex_display(s.expr) + "\n" + r"\end{equation*}")
            out.append(r"\emph{Check:} %s%s --- \textbf{%s}." % (
                _tex_escape(s.check), (" (" + _tex_text(s.detail) + ")") if s.detail else "",
                "passed" if s.passed else "FAILED"))
        out.append(r"\end{enumerate}")
        if self.final is not None:
            out.append(r"\noindent Result:")
            out.append(r"\begin{equation*}" + "\n" + _latex_display(self.final) + "\n" + r"\end{equation*}")
        out.append(r"\noindent Numeric spot check: %s" % _tex_text(self.spot_check_summary()))
        return "\n".join(out) + "\n"

    def to_markdown(self) -> str:
        out = [f"### Derivation `{self.name}`", "", self.statement, ""]
        for k, s in enumerate(self.steps, 1):
            out.append(f"{k}. {s.description}")
            out.append("")
            out.append("   $$" + _latex_inline(s.expr) + "$$")
            out.append("")
            verdict = "passed" if s.passed else "**FAILED**"
            out.append(f"   *Check:* `{s.check}`" + (f" ({s.detail})" if s.detail else "")
                       + f": {verdict}.")
            out.append("")
        if self.final is not None:
            out += ["Result:", "", "$$" + _latex_inline(self.final) + "$$", ""]
        out += ["Numeric spot check: " + self.spot_check_summary(), ""]
        return "\n".join(out)

    def to_text(self) -> str:
        out = [f"== {self.name} ==", plain(self.statement), ""]
        for k, s in enumerate(self.steps, 1):
            out.append(f"[{'PASSED' if s.passed else 'FAILED'}] {k}. {plain(s.description)}")
            out.append(f"      {text_expr(s.expr)}")
            out.append(f"      check: {s.check}" + (f" ({plain(s.detail)})" if s.detail else ""))
        if self.final is not None:
            out.append(f"Result: {text_expr(self.final)}")
        sc = self.spot_check
        out.append(f"[{'PASSED' if sc.get('passed') else 'FAILED'}] spot check: "
                   + self.spot_check_summary())
        if self.runtime_s:
            out.append("time: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.runtime_s.items()))
        out.append(f"{self.name}: {'PASSED' if self.passed else 'FAILED'}")
        return "\n".join(out) + "\n"

    def spot_check_summary(self) -> str:
        sc = self.spot_check
        if not sc:
            return "not run."
        if sc.get("skipped"):
            return f"skipped ({sc['skipped']}); not passed."
        return (f"{len(sc.get('points', []))} point(s) at {sc.get('dps')} working digits; "
                f"smallest agreement {sc.get('digits', 0):.1f} digits (required "
                f"{sc.get('required_digits')}); {'passed' if sc.get('passed') else 'FAILED'}. "
                + sc.get("note", ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "statement": self.statement,
            "latex": self.to_latex(),
            "markdown": self.to_markdown(),
            "steps": [{"description": s.description, "check": s.check, "passed": s.passed,
                       "detail": s.detail} for s in self.steps],
            "spot_check": _jsonable(self.spot_check),
            "passed": self.passed,
        }


_PLAIN = [(r"\\leftrightarrow", "<->"), (r"\\(left|right)(?![A-Za-z])", ""), (r"\\tfrac12", "1/2"),
          (r"\\langle(?![A-Za-z])", "<"), (r"\\rangle(?![A-Za-z])", ">"), (r"\\lVert(?![A-Za-z])", "|"), (r"\\rVert(?![A-Za-z])", "|"),
          (r"\\mathbb\{E\}", "E"), (r"\\nabla(?![A-Za-z])", "grad"), (r"\\top(?![A-Za-z])", "T"), (r"\\sum(?![A-Za-z])", "sum"),
          (r"\\cdot(?![A-Za-z])", "."), (r"\\to(?![A-Za-z])", "->"), (r"\\infty(?![A-Za-z])", "inf"), (r"\\ge(?![A-Za-z])", ">="),
          (r"\\le(?![A-Za-z])", "<="), (r"\\neq(?![A-Za-z])", "!="), (r"\\quad(?![A-Za-z])", " "), (r"\\,", " "),
          (r"\\(eta|sigma|delta|mu|tau|Phi|max|min|sqrt|sinh|cosh|exp|log|bar|tilde|overline|partial|"
           r"mid|epsilon|theta|sim|pi|Delta|otimes|lambda)(?![A-Za-z])", r"\1"),
          (r"\\operatorname\{([a-z]+)\}", r"\1"), (r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)"),
          (r"\\(in|pm|mp|times)(?![A-Za-z])", r"\1"), (r"\\ldots(?![A-Za-z])", "..."),
          (r"\\mathcal\{N\}", "N"), (r"\\mathrm\{([A-Za-z]+)\}", r"\1")]


def plain(text: str) -> str:
    """Prose with $...$ LaTeX math made readable in a terminal (a light, lossy conversion)."""
    def conv(m):
        t = m.group(1)
        for pat, rep in _PLAIN:
            t = re.sub(pat, rep, t)
        t = re.sub(r"_\{([^{}]*)\}", r"_\1", t)
        t = re.sub(r"\^\{([^{}]*)\}", r"^\1", t)
        return t.replace("{", "").replace("}", "")
    return re.sub(r"\$([^$]*)\$", conv, text)


def text_expr(expr) -> str:
    """Terminal form: equations as ``lhs = rhs``, lists joined by ``;``."""
    if isinstance(expr, (list, tuple)):
        return ";   ".join(text_expr(e) for e in expr)
    if isinstance(expr, sp.Equality):
        return f"{sp.sstr(expr.lhs)} = {sp.sstr(expr.rhs)}"
    return sp.sstr(expr)


def _latex_display(expr) -> str:
    if isinstance(expr, (list, tuple)):
        return r" \\ ".join(sp.latex(e) for e in expr) if len(expr) < 2 else \
            r"\begin{gathered}" + r" \\ ".join(sp.latex(e) for e in expr) + r"\end{gathered}"
    return sp.latex(expr)


def _latex_inline(expr) -> str:
    if isinstance(expr, (list, tuple)):
        return r",\quad ".join(sp.latex(e) for e in expr)
    return sp.latex(expr)


_TEX_SPECIAL = {"_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "{": r"\{", "}": r"\}",
                "~": r"\textasciitilde{}", "^": r"\^{}", "<": r"$<$", ">": r"$>$", "|": r"$|$",
                "\\": r"\textbackslash{}"}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_text(text: str) -> str:
    """Escape prose but keep $...$ math segments verbatim (they are valid LaTeX and GitHub math)."""
    parts = re.split(r"(\$[^$]*\$)", text)
    return "".join(p if p.startswith("$") and p.endswith("$") and len(p) > 1 else _tex_escape(p)
                   for p in parts)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    return str(x)


# --------------------------------------------------------------------------------------------
# Display symbols in general notation (the checks run on concrete sizes, see proofs.symbolic).
# --------------------------------------------------------------------------------------------

class Notation:
    """General-n, general-d symbols for display: c_i, w_i, y, v, F, n, ..."""

    i, j, k = sp.symbols("i j k", integer=True, positive=True)
    n = sp.Symbol("n", integer=True, positive=True)
    d = sp.Symbol("d", integer=True, positive=True)
    c = sp.IndexedBase("c")
    w = sp.IndexedBase("w")
    a = sp.IndexedBase("a")
    y = sp.Symbol("y")
    v = sp.Symbol("v")
    F = sp.Symbol("F")
    M = sp.Symbol("M")
    I = sp.Symbol("I_d")
    s = sp.Symbol("s", positive=True)
    z = sp.Symbol("z", real=True)

    @classmethod
    def sum_j(cls, expr):
        return sp.Sum(expr, (cls.j, 1, cls.n))
