"""The claims catalogue (SPEC §3): IDs in the order reports list them, and their modules."""
from __future__ import annotations

import importlib

CLAIM_IDS = ("score", "gradient", "em-link", "thm2.1", "thm3.1", "thm3.2", "lem3.3", "thm3.4",
             "thm3.5", "thm3.7", "figure", "em-global", "rf-global")


def module_name(claim_id: str) -> str:
    return "verify.claims.c_" + claim_id.replace(".", "_").replace("-", "_")


def load(claim_id: str):
    if claim_id not in CLAIM_IDS:
        raise ValueError(f"unknown claim {claim_id!r}; known: {', '.join(CLAIM_IDS)}")
    return importlib.import_module(module_name(claim_id))
