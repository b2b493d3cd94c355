"""Runs claim checks (in a process pool across claims), collects records, writes reports.

Each check runs in its own worker process; a check that raises becomes an ERROR record carrying
the traceback, so one broken check never hides the others' verdicts.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from verify.claims import record as rec
from verify.claims.registry import CLAIM_IDS, load


def list_claims() -> int:
    for cid in CLAIM_IDS:
        try:
            title = load(cid).TITLE
        except ImportError as e:
            title = f"(not available: {e})"
        print(f"{cid:10s} {title}")
    return 0


def run_one(claim_id: str, tier: str, seed: int) -> rec.ClaimRecord:
    """Run one check; never raises (an exception becomes an ERROR record)."""
    start = time.perf_counter()
    try:
        mod = load(claim_id)
        r = mod.check(tier=tier, seed=seed)
    except Exception as e:  # noqa: BLE001 - turned into an ERROR record with the traceback
        try:
            mod = load(claim_id)
            title, statement, prov = mod.TITLE, mod.STATEMENT, mod.PROVENANCE
        except Exception:  # noqa: BLE001
            title, statement, prov = claim_id, "", ""
        r = rec.ClaimRecord(id=claim_id, title=title, statement=statement, provenance=prov,
                            verdict=rec.ERROR, assurance="numeric", tier=tier,
                            reason=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}")
    r.runtime_s = time.perf_counter() - start
    return r


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[2], timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True,
                               cwd=Path(__file__).resolve().parents[2], timeout=10)
        commit = out.stdout.strip() or "unknown"
        return commit + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(argv: list[str], tier: str, seed: int, ids: list[str]) -> dict:
    from verify.claims.common import versions
    return {"command": "python -m verify " + " ".join(argv), "git_commit": _git_commit(),
            "tier": tier, "seed": seed, "claims": ids, "packages": versions()}


def run_claims(ids: list[str] | None, *, quick: bool, seed: int, jobs: int | None, out: str,
               as_json: bool, strict: bool, report: bool, progress: bool | None) -> int:
    ids = list(CLAIM_IDS) if not ids else ids
    for cid in ids:
        if cid not in CLAIM_IDS:
            raise ValueError(f"unknown claim {cid!r}; known: {', '.join(CLAIM_IDS)}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    tier = "quick" if quick else "full"
    jobs = jobs or os.cpu_count() or 1
    show = sys.stderr.isatty() if progress is None else progress
    started = time.perf_counter()
    results: dict[str, rec.ClaimRecord] = {}
    if jobs == 1 or len(ids) == 1:
        for cid in ids:
            if show:
                print(f"[{len(results) + 1}/{len(ids)}] {cid} ...", file=sys.stderr, flush=True)
            results[cid] = run_one(cid, tier, seed)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futs = {pool.submit(run_one, cid, tier, seed): cid for cid in ids}
            for fut in as_completed(futs):
                cid = futs[fut]
                results[cid] = fut.result()
                if show:
                    r = results[cid]
                    print(f"[{len(results)}/{len(ids)}] {cid}: {r.verdict} ({r.runtime_s:.1f} s)",
                          file=sys.stderr, flush=True)
    records = [results[cid] for cid in ids]
    total = time.perf_counter() - started
    argv = sys.argv[1:] if sys.argv and sys.argv[0].endswith(("__main__.py", "verify")) else []
    prov = provenance(argv, tier, seed, ids)
    if as_json:
        sys.stdout.write(rec.dumps(records, prov))
    else:
        for r in records:
            print(f"{r.id:10s} {r.verdict:13s} {r.assurance:11s} {r.runtime_s:8.1f} s  {r.title}")
        print(f"total {total:.1f} s ({tier} tier, {jobs} worker(s))")
    if report:
        from verify.report import render_all
        paths = render_all(records, prov, out, timings={"total": total})
        if not as_json:
            print(f"reports written to {out}/ ({len(paths)} files)")
    errored = any(r.verdict == rec.ERROR for r in records)
    undecided = any(r.verdict in (rec.REFUTED, rec.INCONCLUSIVE) for r in records)
    return 1 if errored or (strict and undecided) else 0
