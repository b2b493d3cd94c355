"""Runs a sweep's cells, serially or as Dask tasks, with an on-disk cache of finished cells.

Cache: ``<out>/sweeps/<name>/cells/<key>.json``, one file per finished cell, written atomically
the moment the cell finishes (so Ctrl-C or a dead worker loses only the cells in flight).  The
key hashes the sweep name, the cell's inputs and the *code version* -- a hash of the sources that
determine a cell's result -- so a changed engine recomputes, and an unchanged one skips.

Engines: ``scheduler="local"`` (default) starts an in-process ``distributed.LocalCluster`` with one
single-threaded worker process per core and stops it afterwards; ``"tcp://HOST:PORT"`` uses an
existing cluster (the workers need this package installed); ``"none"`` runs in this process.
Tasks get ``retries=2``: a worker that dies mid-cell loses only that cell, which is rerun.  The
results are gathered by key and ordered by the grid, so they do not depend on the number of
workers or the order in which cells finish.

Ctrl-C: the run stops, the cells in flight are dropped (never cached half-done) and
:class:`SweepInterrupted` says how many cells are finished and kept; the same command continues
from there.  Local Dask workers are started with SIGINT ignored, so the terminal's Ctrl-C (sent to
the whole process group) reaches only this process, which cancels the tasks and stops the
cluster -- no worker prints a traceback.  (The price: a Ctrl-C in the half second the local
cluster takes to start is ignored; the next one stops the run.)

:func:`stored_results` reads the cache without computing: for each cell the stored result whose
cell dict matches exactly, from any code version (``--resummarise``).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from verify.sweeps.base import Sweep, SweepError, hash_sources


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep; ``finished`` of ``total`` cells are in the cache at ``where``."""

    def __init__(self, finished: int, total: int, computed: int, where: Path):
        self.finished, self.total, self.computed, self.where = finished, total, computed, where
        super().__init__(f"interrupted: {finished} of {total} cells are finished and kept in "
                         f"{where} ({computed} computed in this run); the same command "
                         f"continues from there")


# Sources whose content decides a cell's result (a change recomputes the cells).
_CODE = ("sweeps/definitions.py", "dynamics.py", "model.py", "quadrature.py", "precision.py",
         "engine_f64.py", "engine_arb.py", "claims/small_init.py", "claims/c_thm3_4.py",
         "outcomes.py")
CONNECT_TIMEOUT_S = 10
# what run_cells adds to its counts about the cells it computed (summed from each cell's seconds)
CELL_SECONDS_KEYS = ("cells_wall_s", "cells_cpu_s", "longest_cell_wall_s")


def code_version() -> str:
    return hash_sources(_CODE, 16)


def cell_key(name: str, cell: dict, version: str) -> str:
    text = json.dumps({"sweep": name, "cell": cell, "code": version}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class CellStore:
    """Finished cells of one sweep on disk."""

    def __init__(self, root: Path, name: str):
        self.dir = Path(root) / "sweeps" / name / "cells"

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def get(self, key: str) -> dict | None:
        p = self.path(key)
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))["result"]
        except (ValueError, KeyError):
            return None   # a damaged file is recomputed

    def put(self, key: str, cell: dict, result: dict, version: str, seconds: dict) -> None:
        """Store a finished cell; ``seconds`` (its wall and CPU time where it ran) sits beside
        the result, outside the key: reading a cell never looks at it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path(key).with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "cell": cell, "code_version": version,
                                   "result": result, "seconds": seconds},
                                  sort_keys=True, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.path(key))

    def scan(self) -> dict[str, dict[str, dict]]:
        """Every readable stored cell: {canonical cell JSON: {code version: result}}."""
        found: dict[str, dict[str, dict]] = {}
        for p in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                doc = json.loads(p.read_text(encoding="utf-8"))
                cell, version, result = doc["cell"], doc["code_version"], doc["result"]
            except (ValueError, KeyError, TypeError):
                continue   # a damaged file counts as missing
            found.setdefault(_canonical(cell), {})[version] = result
        return found


def _canonical(cell: dict) -> str:
    return json.dumps(cell, sort_keys=True)


def _describe(cell: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                     for k, v in cell.items())


def stored_results(sweep: Sweep, cells: list[dict], out: Path | str) -> tuple[list, list[str]]:
    """The cached results for ``cells`` (in grid order) from any code version, and the sorted
    code versions they came from.  A cell stored under several versions takes the current
    version's result, else the one result they all agree on.  Raises SweepError naming the
    missing cells (and the ambiguous ones) instead of computing anything."""
    store = CellStore(Path(out), sweep.name)
    found = store.scan()
    current = code_version()
    ordered, versions, missing, ambiguous = [], set(), [], []
    for c in cells:
        stored = found.get(_canonical(c), {})
        if current in stored:
            version = current
        elif len({_canonical(r) for r in stored.values()}) == 1:
            version = sorted(stored)[0]
        else:
            (ambiguous if stored else missing).append(c)
            continue
        ordered.append((c, stored[version]))
        versions.add(version)
    if missing:
        first = "; ".join(_describe(c) for c in missing[:3])
        raise SweepError(f"--resummarise: {len(missing)} of {len(cells)} cells of {sweep.name} are "
                         f"not in the cache {store.dir} (first: {first}"
                         f"{'; ...' if len(missing) > 3 else ''}); run without --resummarise to "
                         f"compute them")
    if ambiguous:
        raise SweepError(f"--resummarise: {len(ambiguous)} cells of {sweep.name} have different "
                         f"results under different code versions (first: "
                         f"{_describe(ambiguous[0])}); run without --resummarise to recompute "
                         f"them with the current code")
    return ordered, sorted(versions)


def _run_cell(name: str, cell: dict) -> dict:
    """One cell's result."""
    from verify.sweeps.registry import get
    return get(name).cell_fn(**cell)


def _timed_cell(name: str, cell: dict) -> tuple[dict, dict]:
    """The task a worker runs (module-level, so Dask can pickle it by reference): the cell's
    result and {"wall_s", "cpu_s"}, timed in the process that computed it (kept in the cell's
    file, so where a grid's time goes can be read without rerunning it)."""
    w0, c0 = time.perf_counter(), time.process_time()
    result = _run_cell(name, cell)
    return result, {"wall_s": round(time.perf_counter() - w0, 4),
                    "cpu_s": round(time.process_time() - c0, 4)}


def _progress(total: int, done: int, enabled: bool | None, name: str):
    """The cell bar (verify.progress): cells done / total, on a terminal unless forced."""
    from verify import progress
    return progress.bar(total, name, "cell", initial=done, flag=enabled)


def connect(scheduler: str, workers: int | None):
    """A (client, cluster) pair; cluster is None for an external scheduler."""
    from dask.distributed import Client, LocalCluster
    if scheduler == "local":
        with _sigint_ignored():
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, dashboard_address=":0",
                                   silence_logs=logging.ERROR)
        return Client(cluster), cluster
    if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise SweepError(f"--scheduler must be 'local', 'none' or an address like "
                         f"tcp://HOST:PORT, got {scheduler!r}")
    try:
        return Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s"), None
    except (OSError, TimeoutError) as e:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler} within "
                         f"{CONNECT_TIMEOUT_S} s ({type(e).__name__})") from None


def run_cells(sweep: Sweep, cells: list[dict], out: Path | str, *, scheduler: str = "local",
              workers: int | None = None, progress: bool | None = None) -> tuple[list, dict]:
    """Results for ``cells`` (in grid order) and counts {"cached", "computed", "seconds", and
    over the cells computed here, their wall and CPU seconds summed and the longest wall}.
    Ctrl-C raises :class:`SweepInterrupted` once the finished cells are on disk."""
    version = code_version()
    store = CellStore(Path(out), sweep.name)
    keys = [cell_key(sweep.name, c, version) for c in cells]
    results = {k: store.get(k) for k in keys}
    todo = [(k, c) for k, c in zip(keys, cells) if results[k] is None]
    todo = list(dict(todo).items())                 # identical cells run once
    cached = len(cells) - len(todo)
    bar = _progress(len(cells), cached, progress, sweep.name)
    start = time.perf_counter()
    done = []                                       # keys computed and stored in this run

    spent = dict.fromkeys(CELL_SECONDS_KEYS, 0.0)

    def finished(k, c, result, seconds):
        results[k] = result
        store.put(k, c, result, version, seconds)
        spent["cells_wall_s"] += seconds["wall_s"]
        spent["cells_cpu_s"] += seconds["cpu_s"]
        spent["longest_cell_wall_s"] = max(spent["longest_cell_wall_s"], seconds["wall_s"])
        done.append(k)
        if bar is not None:
            bar.update(1)

    try:
        if scheduler == "none" or not todo:
            _run_serial(sweep, todo, finished)
        else:
            _run_dask(sweep, todo, finished, scheduler, workers)
    except KeyboardInterrupt:
        kept = sum(1 for k in set(keys) if store.path(k).exists())
        raise SweepInterrupted(kept, len(set(keys)), len(done), store.dir) from None
    finally:
        if bar is not None:
            bar.close()
    ordered = [(c, results[k]) for k, c in zip(keys, cells)]
    return ordered, {"cached": cached, "computed": len(todo),
                     "seconds": time.perf_counter() - start, "code_version": version,
                     **{k: round(v, 2) for k, v in spent.items()}}


def _run_serial(sweep, todo, finished) -> None:
    """In this process, under the claims runner's Ctrl-C scope (verify.interrupt): a Ctrl-C
    inside a GD run ends that run and the next one refuses to start; a cell computed while the
    flag was raised is dropped rather than trusted."""
    from verify import interrupt
    interrupt.clear()
    with interrupt.armed():
        for k, c in todo:
            result, seconds = _timed_cell(sweep.name, c)
            if interrupt.requested():
                raise interrupt.Interrupted(interrupt.REASON)
            finished(k, c, result, seconds)


@contextmanager
def _sigint_ignored():
    """SIGINT ignored while worker processes are spawned: they inherit the disposition (ignored
    signals survive fork and exec), so a Ctrl-C sent to the process group stops only us."""
    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


_NOISY_LOGGERS = ("distributed", "tornado", "asyncio")


def _quiet_worker_logs() -> None:
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextmanager
def _quiet_shutdown(client, cluster):
    """Stopping a local cluster -- after Ctrl-C, or at the end of a resumed run -- makes workers
    and nannies lose the scheduler while they still send heartbeats, and the comms closing
    underneath them log ``CommClosedError`` tracebacks.  These are expected then, so the loggers
    of this process (restored afterwards) and of the cluster's workers and nannies (which are
    about to stop) are raised to CRITICAL for the shutdown.  An external cluster's processes are
    left alone: closing our client does not stop them."""
    saved = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    _quiet_worker_logs()
    try:
        if cluster is not None:
            try:
                client.run(_quiet_worker_logs)
                client.run(_quiet_worker_logs, nanny=True)
            except (OSError, TimeoutError):  # a comm already closed: nothing left to quiet there
                pass
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def heavy_first(cell: dict) -> int:
    """The Dask priority of a cell (higher starts first): cells with more means first, since
    their runs take longest (more means, more quadrature nodes a step, and in the full
    one-converges grid 66 of the 96 n = 4 cells run the whole 20000 steps, against 36 of 96 for
    n = 2), so the last cells to finish are short ones and no worker idles through a long tail.
    Only the order of work changes: a cell's result does not depend on it."""
    return int(cell.get("n", 0))


def _run_dask(sweep, todo, finished, scheduler, workers) -> None:
    from dask.distributed import as_completed
    client, cluster = connect(scheduler, workers)
    futures = {}
    try:
        for k, c in sorted(todo, key=lambda kc: -heavy_first(kc[1])):  # stable: grid order next
            fut = client.submit(_timed_cell, sweep.name, c, key=f"{sweep.name}-{k}", retries=2,
                                pure=False, priority=heavy_first(c))
            futures[fut] = (k, c)
        for fut in as_completed(list(futures)):
            k, c = futures[fut]
            finished(k, c, *fut.result())
    except KeyboardInterrupt:
        with _sigint_ignored():     # a second Ctrl-C does not break the shutdown
            for fut in futures:
                fut.cancel()
        raise
    finally:
        with _sigint_ignored(), _quiet_shutdown(client, cluster):
            client.close()
            if cluster is not None:
                cluster.close()
