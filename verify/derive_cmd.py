"""`python -m verify derive [NAME...] [--latex]`: print the symbolic derivations (issue 3).

A plain function so the CLI stays thin and tests can call it directly.
"""
from __future__ import annotations

import sys
from typing import TextIO


def run_derive(names: list[str] | None, latex: bool = False, *, spot_check: bool = True,
               digits: int = 30, out: TextIO | None = None) -> int:
    """Run the derivations ``names`` (all of :data:`proofs.NAMES` when None or empty) and print
    each one: its text form with a PASSED/FAILED line per step, or its LaTeX fragment.

    Returns 0 when every step and every spot check passed, else 1.  An unknown name raises
    ValueError naming the valid ones (before anything runs)."""
    import proofs

    out = out or sys.stdout
    names = list(names) if names else list(proofs.NAMES)
    unknown = [n for n in names if n not in proofs.NAMES]
    if unknown:
        raise ValueError(f"unknown derivation(s) {', '.join(map(repr, unknown))}; "
                         f"valid names: {', '.join(proofs.NAMES)}")
    all_passed = True
    for name in names:
        der = proofs.derive(name, spot_check=spot_check, digits=digits)
        if latex:
            out.write(der.to_latex())
            out.write(f"% {name}: {'PASSED' if der.passed else 'FAILED'}\n\n")
        else:
            out.write(der.to_text())
            out.write("\n")
        out.flush()
        all_passed &= der.passed
    summary = "all derivations passed" if all_passed else "some derivation FAILED"
    out.write(("% " if latex else "") + summary + "\n")
    return 0 if all_passed else 1
