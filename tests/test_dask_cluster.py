"""A real Dask cluster (issue 19 item 5): a `dask scheduler` and two `dask worker` processes on
127.0.0.1, started as subprocesses, run a small sweep through `--scheduler tcp://127.0.0.1:PORT`.

* The summary equals the serial run's (`--scheduler none`, the same grid) -- results do not depend
  on where or in which order cells run.
* With one worker killed (SIGKILL, no nanny to restart it) once the first cells are in the cache,
  the sweep still finishes: no cell is lost, none is stored twice (one file per cell, each file's
  key its own name, every grid cell present once), and the summary is the same again.

Slow tier (`python -m pytest -m slow tests/test_dask_cluster.py`): it starts five Python
processes. Every subprocess is killed in a `finally`.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SWEEP = "thm3.4-map"                                   # the cheapest sweep
GRID = "angle_deg=0,30,60,90,120,150;M0=2,4"          # 12 cells, a few seconds each
START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp: Path) -> dict:
    env = dict(os.environ, DASK_TEMPORARY_DIRECTORY=str(tmp), PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    return env


def _start(cmd: list[str], tmp: Path, log: str) -> subprocess.Popen:
    out = open(tmp / log, "w")
    return subprocess.Popen(cmd, cwd=ROOT, env=_env(tmp), stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _wait_for_workers(address: str, n: int, procs) -> None:
    from dask.distributed import Client
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        dead = [p.args for p in procs if p.poll() is not None]
        assert not dead, f"cluster process exited early: {dead}"
        try:
            with Client(address, timeout="5s") as client:
                client.wait_for_workers(n, timeout=START_TIMEOUT_S)
                return
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise


def _sweep(out: Path, scheduler: str, tmp: Path) -> list[str]:
    return [sys.executable, "-m", "verify", "sweep", SWEEP, "--quick", "--grid", GRID,
            "--scheduler", scheduler, "--out", str(out)]


def _summary(out: Path) -> dict:
    return json.loads((out / "sweeps" / SWEEP / "summary.json").read_text())


def _cells_dir(out: Path) -> Path:
    return out / "sweeps" / SWEEP / "cells"


def _check_cache(out: Path, n_cells: int) -> None:
    files = sorted(_cells_dir(out).glob("*.json"))
    assert not list(_cells_dir(out).glob("*.tmp")), "a half-written cell file was left"
    docs = [json.loads(p.read_text()) for p in files]
    assert [d["key"] for d in docs] == [p.stem for p in files]          # each file its own key
    cells = [json.dumps(d["cell"], sort_keys=True) for d in docs]
    assert len(set(cells)) == len(cells), "a cell is stored twice"
    assert len(files) == n_cells, f"{len(files)} cell files for {n_cells} cells"


@pytest.fixture
def cluster(tmp_path):
    """(address, {"scheduler": proc, "w1": proc, "w2": proc}) of a running cluster."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    procs = {"scheduler": _start(dask + ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                                         "--no-dashboard"], tmp_path, "scheduler.log")}
    try:
        for name in ("w1", "w2"):
            procs[name] = _start(dask + ["worker", address, "--nthreads", "1", "--no-nanny",
                                         "--no-dashboard", "--name", name,
                                         "--local-directory", str(tmp_path / name)],
                                 tmp_path, f"{name}.log")
        _wait_for_workers(address, 2, list(procs.values()))
        yield address, procs
    finally:
        _stop(list(procs.values()))


def test_real_cluster_matches_serial_and_survives_a_killed_worker(cluster, tmp_path):
    address, procs = cluster
    from verify.sweeps.cli import parse_grid
    from verify.sweeps.registry import get
    n_cells = len(get(SWEEP).grid(True, parse_grid(GRID)))

    serial = subprocess.run(_sweep(tmp_path / "serial", "none", tmp_path), cwd=ROOT,
                            env=_env(tmp_path), capture_output=True, text=True, timeout=1800)
    assert serial.returncode == 0, serial.stderr
    reference = _summary(tmp_path / "serial")

    first = subprocess.run(_sweep(tmp_path / "cluster", address, tmp_path), cwd=ROOT,
                           env=_env(tmp_path), capture_output=True, text=True, timeout=1800)
    assert first.returncode == 0, first.stderr
    assert _summary(tmp_path / "cluster") == reference
    _check_cache(tmp_path / "cluster", n_cells)

    # The same grid again into a new cache; kill worker w1 once cells start arriving.
    out = tmp_path / "killed"
    run = subprocess.Popen(_sweep(out, address, tmp_path), cwd=ROOT, env=_env(tmp_path),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while not (_cells_dir(out).is_dir() and list(_cells_dir(out).glob("*.json"))):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "no cell finished within 600 s"
            time.sleep(0.2)
        done_before_kill = len(list(_cells_dir(out).glob("*.json")))
        procs["w1"].send_signal(signal.SIGKILL)
        procs["w1"].wait(timeout=30)
        stdout, stderr = run.communicate(timeout=1800)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert done_before_kill < n_cells, "the sweep finished before the worker was killed"
    assert run.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    print(f"killed w1 after {done_before_kill} of {n_cells} cells; sweep stderr: {stderr!r}")
    _check_cache(out, n_cells)
    assert _summary(out) == reference
