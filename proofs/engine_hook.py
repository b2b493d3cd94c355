"""Where the numeric core registers itself for the derivations' spot checks.

The derivations compare their closed forms with an independent numeric engine (the spot checks).
That engine lives in verify/, and data flows one way (verify uses proofs, never the reverse), so
proofs/ never imports verify/: ``verify.model`` hands itself in here when it is imported.  Without
a registered engine the spot checks say so and are skipped; the symbolic steps run regardless.
"""
from __future__ import annotations

_CORE: list = []


def register(model) -> None:
    """Make ``model`` (a module with F, grad_F, ... as verify.model has) the spot checks' engine."""
    _CORE[:] = [model]


def registered():
    """(model, "") or (None, reason)."""
    if _CORE:
        return _CORE[0], ""
    return None, ("no numeric core registered (the spot check compares with verify.model, which "
                  "registers itself when imported)")
