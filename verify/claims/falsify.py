"""`python -m verify falsify [ID...] [--quick]`: run each claim's false twins (SPEC §5, issue 20).

For each claim the evidence is computed once (``observe``), then every twin in ``TWINS`` is
decided on it with the claim's own ``decide`` -- the same decision path as the true statement.
One line per twin; a twin that is not REFUTED (INCONCLUSIVE or, worse, CONFIRMED) shows a check
without teeth.  A claim whose module has no twins yet, or whose evidence could not be computed,
gives one error line (never a crash, never a silent pass).

Exit status: 0 only if every twin of every claim asked came out REFUTED; 1 otherwise; 2 for an
unknown claim ID (refused before anything is computed); 130 on Ctrl-C.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor

from verify import interrupt
from verify.messages import one_line
from verify.claims.record import REFUTED
from verify.claims.registry import CLAIM_IDS, load
from verify.claims.statement import judge

__all__ = ["falsify_claim", "run_falsify"]


def falsify_claim(claim_id: str, tier: str, seed: int) -> tuple[list[str], int, int, float]:
    """(lines, twins refuted, twins in all, seconds) for one claim.  Never raises except on
    Ctrl-C: a claim without twins or whose evidence fails is one 'error' line counted as 1 twin
    not refuted."""
    start = time.perf_counter()
    try:
        mod = load(claim_id)
        twins = list(getattr(mod, "TWINS", []) or [])
        if not twins or not hasattr(mod, "observe") or not hasattr(mod, "decide"):
            return ([f"{claim_id:8s} error: no false twins declared (the claim is not yet a "
                     "statement as data: it needs STATEMENT_DATA, TWINS, observe and decide)"],
                    0, 1, time.perf_counter() - start)
        obs = mod.observe(tier, seed)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - reported as the claim's error line, counted as a failure
        if os.environ.get("VERIFY_DEBUG"):
            traceback.print_exc()
        return ([f"{claim_id:8s} error: the evidence could not be computed "
                 f"({one_line(f'{type(e).__name__}: {e}', 200)})"], 0, 1,
                time.perf_counter() - start)
    lines, refuted = [], 0
    for t in twins:
        try:
            verdict, witness, reason, decisions = judge(mod.decide, t.statement, obs)
        except Exception as e:  # noqa: BLE001 - one twin's decide failing is that twin's error line
            lines.append(f"{claim_id:8s} {t.name:22s} ERROR  {one_line(f'{type(e).__name__}: {e}')}")
            continue
        if verdict == REFUTED:
            refuted += 1
            why = "; ".join(f"{d.key}: {d.observed}" for d in decisions if d.holds is False)
        else:
            why = reason or "every conclusion held: " + "; ".join(
                f"{d.key}: {d.observed}" for d in decisions)
        lines.append(f"{claim_id:8s} {t.name:22s} {verdict:12s} {one_line(why, 220)}  "
                     f"[{one_line(t.change, 160)}]")
    return lines, refuted, len(twins), time.perf_counter() - start


def run_falsify(ids: list[str] | None, *, quick: bool, seed: int = 20260101,
                jobs: int | None = None, out=None) -> int:
    """Run the twins of ``ids`` (default: every claim) and print one line per twin to ``out``
    (default stdout), then a summary line.  Returns the exit status."""
    out = out or sys.stdout
    ids = list(ids) if ids else list(CLAIM_IDS)
    unknown = [i for i in ids if i not in CLAIM_IDS]
    if unknown:
        print(f"error: falsify: unknown claim {', '.join(map(repr, unknown))}; known: "
              f"{', '.join(CLAIM_IDS)}", file=sys.stderr)
        return 2
    ids = list(dict.fromkeys(ids))
    tier = "quick" if quick else "full"
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(ids)))
    total = refuted = 0
    results = []
    if jobs == 1:
        for cid in ids:
            results.append(falsify_claim(cid, tier, seed))
            _emit(cid, results[-1], out)
    else:
        with ProcessPoolExecutor(max_workers=jobs, initializer=interrupt.quiet_worker) as pool:
            with interrupt.forking():
                futures = [pool.submit(falsify_claim, cid, tier, seed) for cid in ids]
            for cid, fut in zip(ids, futures):  # print in registry/argument order
                results.append(fut.result())
                _emit(cid, results[-1], out)
    for _lines, r, n, _s in results:
        refuted += r
        total += n
    ok = refuted == total
    print(f"falsify ({tier} tier): {refuted} of {total} twins REFUTED over {len(ids)} claim(s)"
          + ("" if ok else " -- a twin that is not REFUTED shows a check without teeth"), file=out)
    return 0 if ok else 1


def _emit(cid, result, out) -> None:
    lines, _r, _n, seconds = result
    for ln in lines:
        print(ln, file=out)
    print(f"{cid:8s} ({seconds:.1f} s)", file=sys.stderr)
