"""The records' ASCII mathematics as TeX: ``n^3 d^2 / sqrt(eta tau)`` -> ``n^{3} d^{2} / \\sqrt{\\eta \\tau}``.

Records are written in plain words with ASCII formulas (SCHEMA.md: no TeX in record text).  The
report typesets them: :func:`spans` cuts prose into text and math runs (a run is math when it holds
an exponent, a subscript, a comparison, a Greek letter or a function like sqrt/exp), and
:func:`to_tex` turns one run into TeX for LaTeX, GitHub math and matplotlib's mathtext alike (only
commands all three know are used).  Pure string functions; nothing here reads a record.
"""
from __future__ import annotations

import re

GREEK = {
    "alpha": r"\alpha", "beta": r"\beta", "gamma": r"\gamma", "delta": r"\delta", "eps": r"\varepsilon",
    "epsilon": r"\varepsilon", "zeta": r"\zeta", "eta": r"\eta", "theta": r"\theta", "kappa": r"\kappa",
    "lambda": r"\lambda", "lam": r"\lambda", "mu": r"\mu", "nu": r"\nu", "xi": r"\xi", "pi": r"\pi",
    "rho": r"\rho", "sigma": r"\sigma", "tau": r"\tau", "phi": r"\phi", "chi": r"\chi", "psi": r"\psi",
    "omega": r"\omega", "Gamma": r"\Gamma", "Delta": r"\Delta", "Phi": r"\Phi", "Sigma": r"\Sigma",
    "Lambda": r"\Lambda", "Omega": r"\Omega",
}
FUNCS = {"sqrt": r"\sqrt", "exp": r"\exp", "ln": r"\ln", "log": r"\log", "log10": r"\log_{10}",
         "grad": r"\nabla", "sum": r"\sum", "sup": r"\sup", "max": r"\max", "min": r"\min", "sin": r"\sin", "cos": r"\cos"}
# words that are mathematics only inside a run that is already math (never start one)
_SUBSCRIPT_WORDS = {"max", "min", "far"}
OPS = {"<-": r"\leftarrow ", "<=": r"\leq ", ">=": r"\geq ", "->": r"\to ", "!=": r"\neq ", "~": r"\sim ", "+-": r"\pm ",
       "±": r"\pm ", "≤": r"\leq ", "≥": r"\geq ", "·": r"\cdot ", "×": r"\times ", "−": "-",
       "∞": r"\infty ", "inf": r"\infty ", "⟨": r"\langle ", "⟩": r"\rangle "}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<op><-|<=|>=|->|!=|\+-|[≤≥±·×−∞])
  | (?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)
  | (?P<word>[A-Za-z]+\d*\*?)
  | (?P<char>.)
""", re.VERBOSE)

_ANGLE = re.compile(r"<([^<>=]*,[^<>=]*)>")  # an inner product <x, mu_i>
_STRONG_CHARS = set("⟨⟩") | set("^_=<>~≤≥±·×∞") | {"<=", ">=", "->", "<-", "!=", "+-"}


def _tokens(s: str) -> list[tuple[str, str]]:
    return [(m.lastgroup, m.group()) for m in _TOKEN.finditer(s)]


def _var_like(w: str) -> bool:
    """A single letter, optionally with digits or a star (M0, r0, m*, x); Greek names; functions."""
    base = w.rstrip("*")
    name = re.match(r"[A-Za-z]+", base).group()
    return (len(name) == 1 or name in GREEK or base in FUNCS or name in FUNCS or base == "inf"
            or _BAR.fullmatch(name) is not None)


_BAR = re.compile(r"([A-Za-z])bar")  # ubar, Mbar: a mean, typeset with a bar


def _strong(kind: str, tok: str, nxt: str) -> bool:
    if kind == "op" or tok in _STRONG_CHARS:
        return True
    if kind == "word":
        base = tok.rstrip("*")
        name = re.match(r"[A-Za-z]+", base).group()
        if tok.endswith("*") or name in GREEK:
            return True
        if base in FUNCS and nxt == "(":
            return True
        if len(name) == 1 and base != name:  # M0, r0, c1
            return True
    return False


def spans(s: str) -> list[tuple[str, str]]:
    """Prose -> [("text", ...) | ("math", tex)], math runs converted by :func:`to_tex`.

    A run is a maximal stretch of variable-like words, numbers, operators and brackets (commas only
    inside brackets); it is typeset when it holds a strong sign of mathematics (an exponent, a
    subscript, a comparison, a Greek letter, a starred symbol, a function call, a digit-indexed
    symbol such as M0) and is left as text otherwise ("a", "n - 2" in prose stay words)."""
    s = _ANGLE.sub(lambda m: "⟨" + m.group(1) + "⟩", str(s))
    toks = _tokens(s)
    out: list[tuple[str, str]] = []
    i, n = 0, len(toks)
    text_buf: list[str] = []

    def flush_text():
        if text_buf:
            out.append(("text", "".join(text_buf)))
            text_buf.clear()

    while i < n:
        kind, tok = toks[i]
        if not (_could_be_math(toks, i) or _subscripted(toks, i)) or _dotted_name(toks, i):
            text_buf.append(tok)
            i += 1
            continue
        j, depth, last_math = i, 0, i - 1
        while j < n:
            k, t = toks[j]
            if t in "([{⟨":
                depth += 1
            elif t in ")]}⟩":
                if depth == 0:
                    break
                depth -= 1
            elif t == "|":
                pass
            elif k == "space":
                pass
            elif t in ",;" and depth > 0:
                pass
            elif not (_could_be_math(toks, j, inside=depth > 0 or _after_math_op(toks, j))
                      or _subscripted(toks, j)):
                break
            if k != "space":
                last_math = j
            j += 1
        a, b = _balance(toks, i, last_math + 1)
        if a >= b:
            text_buf.append(tok)
            i += 1
            continue
        text_buf.extend(t for _, t in toks[i:a])
        run = toks[a:b]
        raw = "".join(t for _, t in run)
        strong = any(_strong(k, t, run[x + 1][1] if x + 1 < len(run) else "")
                     for x, (k, t) in enumerate(run))
        if strong and re.search(r"[A-Za-z0-9]", raw) and not _is_plain_number_range(raw):
            flush_text()
            out.append(("math", to_tex(raw)))
        else:
            text_buf.append(raw)
        i = b
    flush_text()
    return out


def _is_plain_number_range(raw: str) -> bool:
    return re.fullmatch(r"[\d.e+\-\s,/:]+", raw) is not None and "e" not in raw.replace("e+", "").replace("e-", "") \
        and not re.search(r"\d/\d", raw)


def _dotted_name(toks, j) -> bool:
    """A number that ends a dotted name (the 4 of thm3.4, a claim's id) is part of the name."""
    return (toks[j][0] == "num" and j >= 2 and toks[j - 1][1] == "."
            and toks[j - 2][0] == "word" and not _var_like(toks[j - 2][1]))


def _subscripted(toks, j) -> bool:
    """A word carrying a subscript (mean_i, lam_max) is a symbol."""
    return toks[j][0] == "word" and j + 1 < len(toks) and toks[j + 1][1] == "_"


def _after_math_op(toks, j) -> bool:
    """Whether token j follows (over spaces) an operator that takes an argument (^ _ = / < >)."""
    p = j - 1
    while p >= 0 and toks[p][0] == "space":
        p -= 1
    return p >= 0 and toks[p][1] in ("^", "_", "=", "/", "<", ">", "<=", ">=", "*", "~", "≤", "≥")


def _could_be_math(toks, i, inside: bool = False) -> bool:
    kind, tok = toks[i]
    if kind in ("num", "op"):
        return True
    if kind == "word":
        if _var_like(tok):
            return True
        return inside and tok in _SUBSCRIPT_WORDS
    if kind == "char":
        if tok in "^_=<>+-*/()[]{}|~'⟨⟩":
            return True
    return False


def _nested(run: list[str], o: str, c: str) -> bool:
    """Whether the brackets o...c in run close in order (``a}b{c`` has as many of each but is not)."""
    depth = 0
    for t in run:
        depth += (t == o) - (t == c)
        if depth < 0:
            return False
    return depth == 0


def _balance(toks, a: int, b: int) -> tuple[int, int]:
    """Trim toks[a:b] to balanced brackets and bars, no operator at either end; returns the new
    (a, b), with a >= b when nothing is left."""
    tail = ("-", "+", "*", "/", "=", "(", "[", "{", "<", ">", "^", "_", "'", "~", ",")
    head = (")", "]", "}", "*", "/", "=", "^", "_", "~", "<", ">")
    for _ in range(len(toks)):
        while a < b and (toks[b - 1][1] in tail or toks[b - 1][0] == "space"):
            b -= 1
        while a < b and (toks[a][1] in head or toks[a][0] == "space"):
            a += 1
        run = [t for _, t in toks[a:b]]
        bad = next(((o, c) for o, c in ("()", "[]", "{}", "⟨⟩") if not _nested(run, o, c)), None)
        if bad is None and run.count("|") % 2 == 0:
            return a, b
        if a >= b:
            return a, b
        # drop the unmatched side: the last bracket/bar if the run ends in one, else the first
        last, first = toks[b - 1][1], toks[a][1]
        if bad and last in bad or (bad is None and last == "|"):
            b -= 1
        elif bad and first in bad or (bad is None and first == "|"):
            a += 1
        else:
            return a, a
    return a, a


def _number_tex(t: str) -> str:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)e([+-]?)(\d+)", t)
    if not m:
        return t
    mant, sign, exp = m.groups()
    exp = ("-" if sign == "-" else "") + exp.lstrip("0") or "0"
    return f"10^{{{exp}}}" if mant in ("1", "1.0") else f"{mant}\\times 10^{{{exp}}}"


def _word_tex(w: str) -> str:
    star = w.endswith("*")
    base = w.rstrip("*")
    m = re.fullmatch(r"([A-Za-z]+)(\d*)", base)
    name, digits = m.groups()
    if base == "sqrt":  # a sqrt without its bracket: a word (TeX's sqrt needs an argument)
        tex = r"\mathrm{sqrt}"
    elif base == "inf":  # as the records write infinity
        tex = r"\infty"
    elif base in FUNCS:
        tex = FUNCS[base]
    elif name in GREEK:
        tex = GREEK[name] + (f"_{{{digits}}}" if digits else "")
    elif len(name) == 1:
        tex = name + (f"_{{{digits}}}" if digits else "")
    elif _BAR.fullmatch(name):
        tex = r"\bar{" + name[0] + "}" + (f"_{{{digits}}}" if digits else "")
    elif name in FUNCS:
        tex = FUNCS[name] + digits
    else:
        tex = r"\mathrm{" + base + "}"
    return tex + ("^{*}" if star else "")


def to_tex(s: str) -> str:
    """One ASCII formula as TeX: ``M0^(-1/3)`` -> ``M_{0}^{-1/3}``, ``sqrt(eta tau)`` ->
    ``\\sqrt{\\eta \\tau}``, ``e^{-r^2/8}`` -> ``e^{-r^{2}/8}``, ``<=`` -> ``\\le``, ``1e9`` -> ``10^{9}``."""
    toks = [t for t in _tokens(str(s))]
    out, _ = _convert(toks, 0, None)
    out = re.sub(r"\s+", " ", out).strip()
    return out + "{}" if out.endswith("\\") else out


def _next_atom(toks, i):
    """Index of the number or (non-function) symbol after token i - 1, over spaces; else None."""
    while i < len(toks) and toks[i][0] == "space":
        i += 1
    if i < len(toks) and (toks[i][0] == "num" or (toks[i][0] == "word" and toks[i][1] not in FUNCS)):
        return i
    return None


def _stripped(tex: str) -> str:
    """TeX without its outer spaces; a control symbol left at the end (``,\\ ``) keeps its space."""
    out = tex.strip()
    return out + " " if out.endswith("\\") else out


def _convert(toks, i, stop):
    """Convert tokens from i until the closing bracket ``stop`` (consumed); returns (tex, next i).

    Scripts already on the current atom are tracked (``M0`` is ``M_{0}``, ``1e-5`` is
    ``10^{-5}``, a prime is a superscript): a second subscript or superscript on the same atom
    starts a new, empty atom (``M0_a`` -> ``M_{0}{}_{a}``), which TeX and mathtext both read,
    where ``M_{0}_{a}`` is a "double subscript" error."""
    out: list[str] = []
    scripts: set[str] = set()  # the scripts ("^", "_", "'") on the atom just written

    def atom(tex: str, scripted: bool = False) -> None:
        """Write a new atom; ``scripted``: a word or number whose TeX may carry scripts."""
        out.append(tex)
        scripts.clear()
        if scripted:
            scripts.update(x for x in ("^", "_") if x + "{" in tex)

    while i < len(toks):
        kind, t = toks[i]
        if stop and t == stop:
            return "".join(out), i + 1
        if kind == "space":
            out.append(" ")
            i += 1
        elif kind == "word" and t == "sqrt" and i + 1 < len(toks) and toks[i + 1][1] == "(":
            inner, i = _convert(toks, i + 2, ")")
            inner = _stripped(inner)
            atom(r"\sqrt{" + inner + "}" if inner else r"\mathrm{sqrt}()")
        elif kind == "word" and t == "sqrt" and (j := _next_atom(toks, i + 1)) is not None:
            k2, t2 = toks[j]  # sqrt 3, sqrt n: the root of the next number or symbol
            atom(r"\sqrt{" + (_number_tex(t2) if k2 == "num" else _word_tex(t2)) + "}")
            i = j + 1
        elif kind == "word":
            atom(_word_tex(t) + (" " if t.rstrip("*") in FUNCS or t in GREEK else ""), True)
            i += 1
        elif kind == "num":
            atom(_number_tex(t), True)
            i += 1
        elif kind == "op":
            atom(OPS.get(t, t))
            i += 1
        elif t in ("^", "_"):
            arg, i = _argument(toks, i + 1)
            if t in scripts:
                out.append("{}")
                scripts.clear()
            out.append(f"{t}{{{arg}}}")
            scripts.add(t)
        elif t == "'":
            if "^" in scripts:  # a prime is a superscript: x^{2}' would be a double one
                out.append("{}")
                scripts.clear()
            out.append(t)
            scripts.add("'")
            i += 1
        elif t == "{":
            inner, i = _convert(toks, i + 1, "}")
            atom("{" + inner + "}")
        elif t == "(":
            inner, i = _convert(toks, i + 1, ")")
            atom("(" + inner + ")")
        elif t == "[":
            inner, i = _convert(toks, i + 1, "]")
            atom("[" + inner + "]")
        elif t in ("⟨", "⟩"):
            atom(OPS[t])
            i += 1
        elif t == "*":
            atom(r"\cdot ")
            i += 1
        elif t == "~":
            atom(r"\sim ")
            i += 1
        elif t == ",":
            atom(",\\ ")
            i += 1
            while i < len(toks) and toks[i][0] == "space":
                i += 1
        elif t == "%":
            atom(r"\%")
            i += 1
        elif t in "#$&\\":
            atom("\\" + t if t != "\\" else r"\backslash ")
            i += 1
        else:
            atom(t)
            i += 1
    return "".join(out), i


def _argument(toks, i):
    """The argument of ^ or _: a bracketed group (brackets dropped for ( and {), or an optionally
    signed number/word atom (``e^-2t`` -> ``-2t``, ``tau^-1/2`` -> ``-1/2``)."""
    if i < len(toks) and toks[i][1] in ("(", "{"):
        close = ")" if toks[i][1] == "(" else "}"
        inner, j = _convert(toks, i + 1, close)
        return _stripped(inner), j
    parts = []
    if i < len(toks) and toks[i][1] in ("-", "+"):
        parts.append(toks[i][1])
        i += 1
    if i < len(toks) and toks[i][0] in ("num", "word"):
        k, t = toks[i]
        parts.append(_number_tex(t) if k == "num" else _word_tex(t))
        i += 1
        # a fraction exponent written inline: tau^-1/2, M0^-1/3
        if (i + 1 < len(toks) and toks[i][1] == "/" and toks[i + 1][0] == "num"
                and k == "num" and parts[0] == "-"):
            parts += ["/", toks[i + 1][1]]
            i += 2
        # an attached letter or a starred symbol: e^-2t
        elif (k == "num" and i < len(toks) and toks[i][0] == "word" and len(toks[i][1]) == 1):
            parts.append(toks[i][1])
            i += 1
    return "".join(parts), i


def tex_prose(s: str) -> str:
    """Prose with its math runs as ``$...$`` (matplotlib mathtext labels and titles)."""
    out = []
    for kind, x in spans(s):
        out.append(f"${x}$" if kind == "math" else x.replace("$", r"\$"))
    return "".join(out)


__all__ = ["spans", "to_tex", "tex_prose", "GREEK", "FUNCS"]
