"""Executable SymPy derivations of the paper's mathematics (issue 3; SPEC §2 and §3).

One module per statement; each has ``derive(spot_check=True, digits=30) -> Derivation``
(:mod:`proofs.base`).  The registry below maps the claim-style names to modules.
"""
from __future__ import annotations

import importlib

NAMES = ["score", "gradient", "em-link", "stationary", "hessian", "far-drift", "near-converged",
         "all-equal", "sgd-noise", "dsm", "objectives"]


def module(name: str):
    """The module of derivation ``name`` (``em-link`` lives in ``proofs.em_link``)."""
    if name not in NAMES:
        raise ValueError(f"unknown derivation {name!r}; valid names: {', '.join(NAMES)}")
    return importlib.import_module("proofs." + name.replace("-", "_"))


def derive(name: str, **kwargs):
    """Run derivation ``name``: its symbolic steps and (unless spot_check=False) its spot check."""
    return module(name).derive(**kwargs)
