"""verify/claims/CATALOGUE.md, generated from the claim modules so that it cannot drift from them.

The report cites this file for each claim's statement, hypotheses (with the paper's constants),
conclusions, reading and false twins.  Each claim module's ``STATEMENT_DATA`` and ``TWINS``
(verify/claims/statement.py) are the source; a module without them contributes its prose
statement only.  ``python -m verify.report.catalogue`` rewrites the file; ``--check`` exits 1 when
the committed file differs from what the modules give (the test suite checks the same).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from verify.claims import registry
from verify.report.mathtext import spans

PATH = Path(__file__).resolve().parents[1] / "claims" / "CATALOGUE.md"

INTRO = """\
# The claims catalogue

Generated from the claim modules (`verify/claims/c_*.py`) by `python -m verify.report.catalogue`;
do not edit by hand.  The verification report cites this file.

**Where the statements come from.** The paper ("Convergence Dynamics of Over-Parameterized Score
Matching for a Single Gaussian", Zhang, Xu, Zhou, Fazel, Du; arXiv 2511.22069, ICLR 2026) was not
available in full. Every statement below is transcribed from the public abstract, the public
reviews and a public summary, so theorem numbers and constants are as reported there. Where a
stated constant disagrees with what the computation gives, the report says so as a finding.

**Conventions.** Data N(m*, I_d), noised by the Ornstein-Uhlenbeck process, so q_t = N(e^-t m*, I_d).
The student is (1/n) sum_i N(mu_i, I_d) with mu_i = e^-t m_i. The loss is the population score
matching loss E|s(x) - grad log q_t(x)|^2 without a factor 1/2 (a convention the public material
leaves open: where it matters, both are decided and the difference is named). Gradient descent is
full-batch on the noised means unless a record says otherwise; c_i = mu_i - mu* are the centred
coordinates.

Each claim lists its hypotheses as stated, its conclusions (each decided by the check: kind, the
stated value, how the observation is compared with it), the reading of what the statement leaves
open, and the false twins: variants the mathematics makes false, which the same evidence must
refute (`python -m verify falsify`).
"""


def _cell(x: Any, table: bool = True) -> str:
    """Text with its ASCII formulas as GitHub math (``$`...`$``); pipes escaped in table cells."""
    if isinstance(x, dict):
        x = ", ".join(f"{k} {v}" for k, v in x.items())
    out = "".join(f"$`{t}`$" if kind == "math" else t for kind, t in spans(" ".join(str(x).split())))
    return out.replace("|", "\\|") if table else out


def render_catalogue() -> str:
    parts = [INTRO]
    for cid in registry.CLAIM_IDS:
        mod = registry.load(cid)
        parts.append(f"## {cid}: {_cell(getattr(mod, 'TITLE', ''), False)}\n")
        parts.append(f"**Statement.** {_cell(getattr(mod, 'STATEMENT', ''), False)}\n")
        parts.append(f"**Provenance.** {_cell(getattr(mod, 'PROVENANCE', ''), False)}\n")
        st = getattr(mod, "STATEMENT_DATA", None)
        if st is None:
            parts.append("*This claim's statement is not yet recorded as data.*\n")
            continue
        if st.hypotheses:
            rows = [f"| {_cell(k)} | {_cell(v)} |" for k, v in st.hypotheses.items()]
            parts.append("**Hypotheses, as stated.**\n\n| name | as stated |\n|---|---|\n"
                         + "\n".join(rows) + "\n")
        if st.conclusions:
            rows = [f"| {c.key} | {_cell(c.text)} | {c.kind} | {_cell(c.relation)} "
                    f"| {_cell(c.claimed)} |" for c in st.conclusions]
            parts.append("**Conclusions** (observed *relation* stated).\n\n"
                         "| key | conclusion | kind | relation | stated |\n|---|---|---|---|---|\n"
                         + "\n".join(rows) + "\n")
        if st.reading:
            rows = []
            for k, v in st.reading.items():
                choice, _, why = str(v).partition(" -- ")
                rows.append(f"| {_cell(k)} | {_cell(choice)} | {_cell(why)} |")
            parts.append("**Reading.**\n\n| parameter | reading | why |\n|---|---|---|\n"
                         + "\n".join(rows) + "\n")
        twins = getattr(mod, "TWINS", None) or []
        if twins:
            parts.append("**False twins.**\n\n" + "\n".join(f"- `{t.name}`: {_cell(t.change, False)}"
                                                          for t in twins) + "\n")
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m verify.report.catalogue [--check]``: rewrite the catalogue, or (``--check``)
    exit 1 when the committed file differs from what the modules give.  ``--help`` prints the
    usage and exits 0 without touching the file; an unknown argument exits 2."""
    parser = argparse.ArgumentParser(
        prog="python -m verify.report.catalogue",
        description=f"Regenerate {PATH.relative_to(PATH.parents[2])} from the claim modules "
                    "(their STATEMENT, STATEMENT_DATA and TWINS).")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the committed file is out of date")
    args = parser.parse_args(argv)
    text = render_catalogue()
    if args.check:
        same = PATH.is_file() and PATH.read_text(encoding="utf-8") == text
        print(f"{PATH}: {'up to date' if same else 'differs from the claim modules'}")
        return 0 if same else 1
    if PATH.is_file() and PATH.read_text(encoding="utf-8") == text:
        print(f"{PATH}: up to date")
        return 0
    PATH.write_text(text, encoding="utf-8")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
