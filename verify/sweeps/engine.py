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
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from verify.sweeps.definitions import Sweep, SweepError

# Sources whose content decides a cell's result (a change recomputes the cells).
_CODE = ("sweeps/definitions.py", "dynamics.py", "model.py", "quadrature.py", "precision.py",
         "engine_f64.py", "engine_arb.py", "claims/c_thm3_2.py", "claims/c_thm3_4.py",
         "claims/c_thm3_5.py")
CONNECT_TIMEOUT_S = 10


def code_version() -> str:
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for rel in _CODE:
        p = root / rel
        if p.exists():
            h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


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

    def put(self, key: str, cell: dict, result: dict, version: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path(key).with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "cell": cell, "code_version": version,
                                   "result": result}, sort_keys=True, indent=1) + "\n",
                       encoding="utf-8")
        os.replace(tmp, self.path(key))


def _run_cell(name: str, cell: dict) -> dict:
    """The task a worker runs (module-level, so Dask can pickle it by reference)."""
    from verify.sweeps.definitions import get
    return get(name).cell_fn(**cell)


def _progress(total: int, done: int, enabled: bool | None, name: str):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=done, desc=name, unit="cell", file=sys.stderr)


def connect(scheduler: str, workers: int | None):
    """A (client, cluster) pair; cluster is None for an external scheduler."""
    from dask.distributed import Client, LocalCluster
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None,
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
    """Results for ``cells`` (in grid order) and counts {"cached", "computed", "seconds"}."""
    version = code_version()
    store = CellStore(Path(out), sweep.name)
    keys = [cell_key(sweep.name, c, version) for c in cells]
    results = {k: store.get(k) for k in keys}
    todo = [(k, c) for k, c in zip(keys, cells) if results[k] is None]
    todo = list(dict(todo).items())                 # identical cells run once
    cached = len(cells) - len(todo)
    bar = _progress(len(cells), cached, progress, sweep.name)
    start = time.perf_counter()
    try:
        if scheduler == "none" or not todo:
            for k, c in todo:
                results[k] = _run_cell(sweep.name, c)
                store.put(k, c, results[k], version)
                if bar is not None:
                    bar.update(1)
        else:
            _run_dask(sweep, todo, results, store, version, scheduler, workers, bar)
    finally:
        if bar is not None:
            bar.close()
    ordered = [(c, results[k]) for k, c in zip(keys, cells)]
    return ordered, {"cached": cached, "computed": len(todo),
                     "seconds": time.perf_counter() - start, "code_version": version}


def _run_dask(sweep, todo, results, store, version, scheduler, workers, bar) -> None:
    from dask.distributed import as_completed
    client, cluster = connect(scheduler, workers)
    futures = {}
    try:
        for k, c in todo:
            fut = client.submit(_run_cell, sweep.name, c, key=f"{sweep.name}-{k}", retries=2,
                                pure=False)
            futures[fut] = (k, c)
        for fut in as_completed(list(futures)):
            k, c = futures[fut]
            results[k] = fut.result()
            store.put(k, c, results[k], version)
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
