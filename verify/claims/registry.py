"""The claims catalogue (SPEC §3): IDs in the order reports list them, and their modules."""
from __future__ import annotations

import importlib

CLAIM_IDS = ("score", "gradient", "em-link", "thm2.1", "thm3.1", "thm3.2", "lem3.3", "thm3.4",
             "thm3.5", "thm3.7", "figure", "em-global", "rf-global")

# Checks that share a computation cached per process: thm3.7's long run and its validated far law
# are thm3.5's rate run (verify.claims.far_common.law_run).  A pool runs each group, when more
# than one of its checks is asked for, in one worker, in this order (thm3.7 full: 26 s alone,
# ~1.4 s after thm3.5).
RUN_TOGETHER = (("thm3.5", "thm3.7"),)


def module_name(claim_id: str) -> str:
    return "verify.claims.c_" + claim_id.replace(".", "_").replace("-", "_")


def load(claim_id: str):
    if claim_id not in CLAIM_IDS:
        raise ValueError(f"unknown claim {claim_id!r}; known: {', '.join(CLAIM_IDS)}")
    return importlib.import_module(module_name(claim_id))
