"""Compiles serialised across processes (verify.jitcache): of processes that start cold together,
one compiles and the others load its cache; a lock that is never released costs a compile, not a
hang; a Ctrl-C while waiting leaves nothing held."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verify import jitcache

MODULE = '''
from verify.jitcache import njit

@njit(cache=True)
def inner(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s

@njit(cache=True)
def outer(x):
    return inner(x) + 1.0
'''

RUN = '''
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import jitmod
v = jitmod.outer(np.arange(3.0))
print(json.dumps({"v": v, "hits": sum(jitmod.outer._cache_hits.values()),
                  "misses": sum(jitmod.outer._cache_misses.values())}))
'''


def _start(tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_processes_starting_cold_together_compile_once(tmp_path):
    """Three processes need the same uncached function while the lock is held (as by a fourth,
    compiling): none finishes until it is released, then exactly one compiles (a cache miss) and
    the others load its result (cache hits); all compute the same value."""
    (tmp_path / "jitmod.py").write_text(MODULE)
    lock = tmp_path / "__pycache__" / jitcache.LOCK_NAME
    lock.parent.mkdir()
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        procs = [_start(tmp_path) for _ in range(3)]
        time.sleep(3.0)
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out))
    assert [o["v"] for o in outs] == [6.0] * 3
    assert sorted(o["misses"] for o in outs) == [0, 0, 1], outs
    assert sorted(o["hits"] for o in outs) == [0, 1, 1], outs


def test_a_lock_never_released_costs_a_compile_not_a_hang(tmp_path, monkeypatch):
    path = tmp_path / jitcache.LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        monkeypatch.setattr(jitcache, "MAX_WAIT_S", 0.3)
        t = time.monotonic()
        assert jitcache._acquire(path) is None
        assert 0.3 <= time.monotonic() - t < 5.0
    finally:
        os.close(fd)
    got = jitcache._acquire(path)                        # free now: held, then released
    assert got is not None
    os.close(got)


def test_ctrl_c_while_waiting_leaves_nothing_open(tmp_path, monkeypatch):
    path = tmp_path / jitcache.LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    before = len(os.listdir("/proc/self/fd"))

    def ctrl_c(_):
        raise KeyboardInterrupt

    monkeypatch.setattr(jitcache.time, "sleep", ctrl_c)
    try:
        with pytest.raises(KeyboardInterrupt):
            with jitcache._lock(tmp_path):
                pass
        assert jitcache._held == 0                       # the next compile takes the lock again
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        os.close(fd)
