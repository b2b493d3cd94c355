"""Runs claim checks (in a process pool across claims), collects records, merges them into the
report directory and publishes the reports.

Each check runs in its own worker process; a check that raises becomes an ERROR record carrying
the traceback, so one broken check never hides the others' verdicts.

Partial runs keep what exists: the new records replace only their own claims' records in the
``results.json`` already in ``--out`` (each claim keeps the tier, commit and seed of the run that
produced it, in ``provenance["per_claim"]`` when it differs from the current run), and the whole
report is re-rendered and swapped in as one set (:func:`verify.report.io.publish`).  ``--out`` is
checked before anything is computed.

Ctrl-C (:mod:`verify.interrupt`) stops the whole command: running checks stop (an interrupted check
is INCONCLUSIVE with reason "interrupted", never a verdict), pending ones are cancelled, workers
that do not stop within ``GRACE_S`` are terminated; finished records are merged and published,
an interrupted claim's previous record stays, and the exit status is 130.  A second Ctrl-C at any
moment before the new report is swapped in (during the grace wait, the summary, or rendering)
skips publishing: ``--out`` is left exactly as it was.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed, wait
from pathlib import Path

from verify import interrupt, progress
from verify.messages import one_line
from verify.claims import record as rec
from verify.claims.registry import CLAIM_IDS, RUN_TOGETHER, load

EXIT_INTERRUPTED = 130
GRACE_S = 3.0  # how long stopped workers get to hand back their interrupted records
RUN_KEYS = ("tier", "git_commit", "commit_date", "seed", "command")


class PublishError(RuntimeError):
    """The records were computed but (part of) the report could not be published."""


def list_claims() -> int:
    for cid in CLAIM_IDS:
        try:
            title = load(cid).TITLE
        except ImportError as e:
            title = f"(not available: {e})"
        print(f"{cid:10s} {title}")
    return 0


def _blank_record(claim_id: str, tier: str, verdict: str, reason: str) -> rec.ClaimRecord:
    try:
        mod = load(claim_id)
        title, statement, prov = mod.TITLE, mod.STATEMENT, mod.PROVENANCE
    except Exception:  # noqa: BLE001
        title, statement, prov = claim_id, "", ""
    return rec.ClaimRecord(id=claim_id, title=title, statement=statement, provenance=prov,
                           verdict=verdict, assurance="numeric", tier=tier, reason=reason)


def interrupted_record(claim_id: str, tier: str, then: str = "") -> rec.ClaimRecord:
    """The record of a check that Ctrl-C stopped: no verdict, whatever it had computed.  ``then``:
    what the check raised after the Ctrl-C, kept in the reason."""
    more = f"; it then raised {then}" if then else ""
    return _blank_record(claim_id, tier, rec.INCONCLUSIVE,
                         f"{interrupt.REASON} (Ctrl-C stopped the check before it finished{more})")


def is_interrupted(r: rec.ClaimRecord) -> bool:
    return r.verdict == rec.INCONCLUSIVE and r.reason.startswith(interrupt.REASON)


def run_one(claim_id: str, tier: str, seed: int) -> rec.ClaimRecord:
    """Run one check; never raises (an exception becomes an ERROR record, Ctrl-C an
    INCONCLUSIVE "interrupted" one, also when the check returned after the Ctrl-C).  On a
    terminal it says when the check starts (verify.progress); the caller says when it ends."""
    progress.claim_started(claim_id)
    start = time.perf_counter()
    try:
        try:
            with interrupt.armed():
                mod = load(claim_id)
                r = mod.check(tier=tier, seed=seed)
                rec.check_reproducible(r)
        except KeyboardInterrupt:
            interrupt.note()
            raise
        if interrupt.requested():
            r = interrupted_record(claim_id, tier)
    except KeyboardInterrupt:
        r = interrupted_record(claim_id, tier)
    except Exception as e:  # noqa: BLE001 - turned into an ERROR record with the traceback
        if interrupt.requested():
            # raised after a Ctrl-C: code that turned the KeyboardInterrupt into its own error
            # (numba's compiler stopped in the middle reports a half-built library) -- the check
            # did not finish, it did not fail
            r = interrupted_record(claim_id, tier, f"{type(e).__name__}: {one_line(e)}")
        else:
            r = _blank_record(claim_id, tier, rec.ERROR,
                              f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}")
    r.runtime_s = time.perf_counter() - start
    return r


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], timeout=10)
    return out.stdout.strip()


def _git_commit() -> str:
    try:
        commit = _git("rev-parse", "HEAD") or "unknown"
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _commit_date() -> str:
    """The commit's date (deterministic for a commit, so reports stay reproducible)."""
    try:
        return _git("log", "-1", "--format=%cI", "HEAD") or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(argv: list[str], tier: str, seed: int, ids: list[str]) -> dict:
    from verify.claims.common import versions
    return {"command": "python -m verify " + " ".join(argv), "git_commit": _git_commit(),
            "commit_date": _commit_date(), "tier": tier, "seed": seed, "claims": ids,
            "packages": versions()}


# ---------------------------------------------------------------------------------------------
# Merging into an existing report
# ---------------------------------------------------------------------------------------------


def load_previous(out: Path) -> tuple[list[rec.ClaimRecord], dict] | None:
    """The records and provenance of the report in ``out``, with their saved run times; None when
    ``out`` holds no results.json.  ValueError (naming --out) when it cannot be read."""
    results = out / "results.json"
    if not results.exists():
        return None
    try:
        records, prov = rec.loads(results.read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError, OSError) as e:
        msg = " ".join(str(e).split())[:200]
        raise ValueError(f"--out {out}: its results.json cannot be read ({msg}); pass another "
                         "--out or move the file away") from None
    try:
        saved = json.loads((out / "timings.json").read_text(encoding="utf-8"))
        times, details = saved.get("claims", {}), saved.get("details", {})
    except (OSError, ValueError, AttributeError):
        times, details = {}, {}
    for r in records:
        t = times.get(r.id) if isinstance(times, dict) else None
        r.runtime_s = float(t) if isinstance(t, (int, float)) else 0.0
        d = details.get(r.id) if isinstance(details, dict) else None
        r.timings = dict(d) if isinstance(d, dict) else {}
    return records, prov if isinstance(prov, dict) else {}


def _run_of(prov: dict, tier: str | None = None) -> dict:
    run = {k: prov[k] for k in RUN_KEYS if k in prov}
    if tier is not None:
        run["tier"] = tier
    return run


def merge(previous, new: list[rec.ClaimRecord], prov_now: dict):
    """Records of the merged report (registry order, then unknown ids in their old order) and its
    provenance: the current run's, plus ``per_claim`` for records whose run differs from it."""
    old_records, old_prov = previous or ([], {})
    old_per_claim = old_prov.get("per_claim") if isinstance(old_prov.get("per_claim"), dict) else {}
    by_id: dict[str, rec.ClaimRecord] = {}
    runs: dict[str, dict] = {}
    for r in old_records:
        by_id[r.id] = r
        saved = old_per_claim.get(r.id)
        runs[r.id] = dict(saved) if isinstance(saved, dict) else _run_of(old_prov, r.tier)
    for r in new:
        by_id[r.id] = r
        runs[r.id] = _run_of(prov_now, r.tier)
    order = [c for c in CLAIM_IDS if c in by_id] + [r.id for r in old_records if r.id not in CLAIM_IDS]
    records = [by_id[c] for c in order]
    prov = dict(prov_now)
    tiers = {r.tier for r in records}
    if len(tiers) > 1:
        prov["tier"] = "mixed (see per_claim)"
    per_claim = {c: runs[c] for c in order if runs[c] != _run_of(prov_now, by_id[c].tier)}
    if per_claim:
        prov["per_claim"] = per_claim
    return records, prov


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def _worker_init(show: bool | None = None) -> None:
    """Pool workers ignore Ctrl-C while idle (no traceback from the pool's loop); run_one arms
    it for the duration of a check.  ``show``: the command's progress switch."""
    interrupt.quiet_worker()
    interrupt.clear()
    progress.configure(show)


def _run_serial(ids, tier, seed, show, results) -> bool:
    """Run in this process; True if Ctrl-C stopped the run."""
    try:
        with interrupt.armed():
            for cid in ids:
                if interrupt.requested():
                    break
                results[cid] = run_one(cid, tier, seed)
                if show:
                    progress.claim_finished(cid, results[cid].verdict, results[cid].runtime_s,
                                            len(results), len(ids))
    except KeyboardInterrupt:
        interrupt.note()
    return interrupt.requested()


def _collect(fut, job, tier, results) -> None:
    """The records of a finished pool job (:func:`run_job`) into ``results``."""
    try:
        for r in fut.result():
            results[r.id] = r
    except BaseException as e:  # noqa: BLE001 - a dead worker (BrokenProcessPool) or a stray signal
        for cid in job:
            if isinstance(e, KeyboardInterrupt) or interrupt.requested():
                results[cid] = interrupted_record(cid, tier)
            else:
                results[cid] = _blank_record(cid, tier, rec.ERROR, f"{type(e).__name__}: {e}")


def longest_first(ids: list[str], previous, tier: str) -> list[str]:
    """The order in which a pool takes the checks: longest first by the previous report's run
    times for the same tier (so a long check does not start last and leave one worker idle at
    the end); checks without such a time keep their order, after the timed ones.  The records
    are reported in ``ids`` order whatever the order they ran in."""
    if not previous:
        return list(ids)
    saved = {r.id: r.runtime_s for r in previous[0] if r.tier == tier and r.runtime_s > 0}
    return sorted(ids, key=lambda cid: -saved.get(cid, 0.0))


def pool_jobs(order: list[str]) -> list[tuple[str, ...]]:
    """The pool's jobs for checks taken in ``order``: each check alone, except the checks of a
    ``RUN_TOGETHER`` group that are asked for together: one job, in the group's order, at the
    place of the first of them in ``order``."""
    group_of = {cid: g for g in RUN_TOGETHER for cid in g}
    jobs, taken = [], set()
    for cid in order:
        if cid in taken:
            continue
        job = tuple(c for c in group_of[cid] if c in order) if cid in group_of else (cid,)
        jobs.append(job)
        taken.update(job)
    return jobs


def run_job(job: tuple[str, ...], tier: str, seed: int) -> list[rec.ClaimRecord]:
    """Run the checks of one pool job in turn (:func:`run_one`); after a Ctrl-C the rest are
    recorded as interrupted without starting."""
    return [interrupted_record(cid, tier) if interrupt.requested() else run_one(cid, tier, seed)
            for cid in job]


def _run_pool(ids, tier, seed, jobs, show, results) -> bool:
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init,
                               initargs=(progress.configured(),))
    futs = {}
    stopped = False
    try:
        with interrupt.armed():
            with interrupt.forking():  # a Ctrl-C while the workers start does not kill one
                futs = {pool.submit(run_job, job, tier, seed): job for job in pool_jobs(ids)}
            interrupt.check()  # a Ctrl-C before the pool started
            for fut in as_completed(futs):
                job = futs[fut]
                _collect(fut, job, tier, results)
                if show:
                    for cid in job:
                        r = results[cid]
                        progress.claim_finished(cid, r.verdict, r.runtime_s, len(results), len(ids))
    except KeyboardInterrupt:
        interrupt.note()
        stopped = True
        _stop_pool(pool, futs, tier, results)
    finally:
        pool.shutdown(wait=not stopped, cancel_futures=True)
    return stopped or any(is_interrupted(r) for r in results.values())


def _stop_pool(pool, futs, tier, results) -> None:
    """Cancel pending checks, ask running ones to stop (SIGINT, in case the signal reached only
    this process), keep what they hand back within GRACE_S, terminate the rest."""
    for f in futs:
        f.cancel()
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        try:
            os.kill(p.pid, signal.SIGINT)
        except OSError:
            pass
    running = [f for f in futs if not f.done()]
    try:
        with interrupt.armed():
            wait(running, timeout=GRACE_S)
    except KeyboardInterrupt:  # a second Ctrl-C (interrupt.repeated()): no more waiting
        interrupt.note()
    for f, job in futs.items():
        if all(cid in results for cid in job) or f.cancelled():
            continue
        if f.done():
            _collect(f, job, tier, results)
        else:
            for cid in job:
                results[cid] = interrupted_record(cid, tier)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(1.0)
        if p.is_alive():
            p.kill()


def run_claims(ids: list[str] | None, **kw) -> int:
    """Run the claims (see :func:`_run_claims`) with the progress switch (verify.progress) set
    from ``progress`` for the run and restored afterwards."""
    from verify import progress as _progress
    before = _progress.configured()
    _progress.configure(_progress.enabled(kw.get("progress")))
    try:
        return _run_claims(ids, **kw)
    finally:
        _progress.configure(before)


def _run_claims(ids: list[str] | None, *, quick: bool, seed: int, jobs: int | None, out: str,
                as_json: bool, strict: bool, report: bool, progress: bool | None,
                argv: list[str] | None = None) -> int:
    ids = list(CLAIM_IDS) if not ids else list(dict.fromkeys(ids))
    for cid in ids:
        if cid not in CLAIM_IDS:
            raise ValueError(f"unknown claim {cid!r}; known: {', '.join(CLAIM_IDS)}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    # --out is checked, and its report read, before anything is computed.
    previous = None
    out_path = None
    if report:
        from verify.report import io as report_io
        out_path = report_io.check_out_dir(out)
        previous = load_previous(out_path) if out_path.is_dir() else None
    tier = "quick" if quick else "full"
    jobs = min(jobs or os.cpu_count() or 1, len(ids))  # a fork pool starts all its workers
    from verify import progress as _progress   # the module (``progress`` is the argument here)
    show = _progress.enabled(progress)
    if argv is None:
        argv = sys.argv[1:] if sys.argv and sys.argv[0].endswith(("__main__.py", "verify")) else []
    prov = provenance(argv, tier, seed, ids)
    interrupt.clear()
    started = time.perf_counter()
    results: dict[str, rec.ClaimRecord] = {}
    # Outside the armed scopes of the run itself a Ctrl-C is only recorded, so the wind-down
    # (grace wait, summary) is never cut in the middle; whether to publish is decided after it.
    with interrupt.deferred():
        if jobs == 1 or len(ids) == 1:
            stopped = _run_serial(ids, tier, seed, show, results)
        else:
            stopped = _run_pool(longest_first(ids, previous, tier), tier, seed, jobs, show,
                                results)
        stopped = stopped or interrupt.requested()
        total = time.perf_counter() - started
        records = [results[cid] for cid in ids if cid in results]
        finished = [r for r in records if not is_interrupted(r)]
        if as_json:
            sys.stdout.write(rec.dumps(records, prov))
        else:
            for r in records:
                print(f"{r.id:10s} {r.verdict:13s} {r.assurance:11s} {r.runtime_s:8.1f} s  {r.title}")
            for cid in ids:
                if cid not in results:
                    print(f"{cid:10s} {'not run':13s} (interrupted before it started)")
            print(f"total {total:.1f} s ({tier} tier, {jobs} worker(s))")
        stopped = stopped or interrupt.requested()  # also a Ctrl-C during the summary
        again = interrupt.repeated()
    if report and again:
        print(f"second Ctrl-C: publishing skipped, {out} left as it was", file=sys.stderr)
    elif report and (finished or not stopped):
        if stopped:
            print(f"interrupted: publishing the {len(finished)} finished record(s) "
                  "(Ctrl-C again leaves the previous report as it is)", file=sys.stderr, flush=True)
        before = _identity(out_path)
        try:
            _publish(out_path, previous, records, prov, total, as_json)
        except PublishError as e:
            if not stopped:
                raise
            print(f"error: {one_line(e)}", file=sys.stderr)  # interrupted all the same: 130
        except KeyboardInterrupt:  # the staging directory is gone; --out is one whole set
            if not stopped:
                raise
            state = "left as it was" if _identity(out_path) == before else \
                "holds the new report (the Ctrl-C came just after the swap)"
            print(f"second Ctrl-C: publishing stopped, {out} {state}", file=sys.stderr)
    elif report:
        print(f"interrupted before any check finished; {out} left as it was", file=sys.stderr)
    if stopped:
        print(f"interrupted: {len(finished)} of {len(ids)} check(s) finished and kept",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    errored = any(r.verdict == rec.ERROR for r in records)
    undecided = any(r.verdict in (rec.REFUTED, rec.INCONCLUSIVE) for r in records)
    return 1 if errored or (strict and undecided) else 0


def _identity(path: Path):
    """Which directory is at ``path`` (the swap puts another one there), None when there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def load_summaries(out_path: Path) -> list[dict]:
    """The sweep summaries already in the report directory (rendered, never recomputed)."""
    from verify.sweeps.cli import load_summaries as _load
    return _load(out_path)


def _publish(out_path: Path, previous, records, prov, total, as_json) -> None:
    """Merge and publish; an interrupted claim's previous record is kept (the new one is used only
    when there is none).  A LaTeX failure still publishes the other files, then raises."""
    from verify import report as _report
    from verify.report import io as report_io
    old_ids = {r.id for r in previous[0]} if previous else set()
    new = [r for r in records if not (is_interrupted(r) and r.id in old_ids)]
    merged, merged_prov = merge(previous, new, prov)
    timings = {"total": total}

    def render(pdf=None):
        kw = {} if pdf is None else {"pdf": pdf}
        return lambda d: _report.render_all(merged, merged_prov, d, timings=timings,
                                            sweeps=load_summaries(out_path), **kw)

    latex_error = getattr(_report, "LatexError", None)
    try:
        paths = report_io.publish(out_path, render())
    except Exception as e:  # noqa: BLE001
        if latex_error is None or not isinstance(e, latex_error):
            raise
        report_io.publish(out_path, render(pdf=False))
        raise PublishError(f"report.pdf not built, LaTeX failed: {one_line(e)}; "
                           f"the other report files are in {out_path}") from None
    if not as_json:
        new_ids = {r.id for r in new}
        kept = sum(1 for r in merged if r.id not in new_ids)
        more = f", {kept} earlier record(s) kept" if kept else ""
        print(f"reports written to {out_path}/ ({len(paths)} files; {len(merged)} claims{more})")
