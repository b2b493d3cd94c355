"""Compiles serialised across processes (verify.jitcache): of processes that start cold together,
one compiles and the others load its cache; a lock that is never released costs a compile, not a
hang; a Ctrl-C while waiting leaves nothing held.  And what is compiled does not depend on who
compiled it first: every compiled function called from a fastmath one declares its own flags."""
from __future__ import annotations

import ast
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


# ------------------------------------------------------------------------------------------------
# Compile flags.  numba compiles a callee that declares no fastmath with the flags of the function
# being compiled when it is first met (numba issue 7168), and the on-disk cache keeps that one
# version: the engine's _panel_edges was built with reassociation when a run compiled it (from
# _lines0) and without when a test called it first, and the panel edges differed by up to 9 ulps;
# sgd._normals, documented "no fastmath", was built with its caller's.  So every compiled function
# that a fastmath function calls declares fastmath itself.  Read from the source with ast.
# ------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _njit_functions(tree: ast.AST) -> dict[str, ast.FunctionDef]:
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                f = dec.func if isinstance(dec, ast.Call) else dec
                if (isinstance(f, ast.Name) and f.id == "njit") or \
                        (isinstance(f, ast.Attribute) and f.attr == "njit"):
                    out[node.name] = node
    return out


def _keyword(fn: ast.FunctionDef, name: str):
    """The value node of keyword ``name`` in fn's njit decorator: None when not given."""
    for dec in fn.decorator_list:
        if isinstance(dec, ast.Call):
            for kw in dec.keywords:
                if kw.arg == name:
                    return kw.value
    return None


def _fastmath(fn: ast.FunctionDef):
    """The fastmath keyword of fn's njit decorator: None when not declared."""
    return _keyword(fn, "fastmath")


def _is_fast(value) -> bool:
    return value is not None and not (isinstance(value, ast.Constant) and value.value is False)


def _inline(fn: ast.FunctionDef) -> bool:
    value = _keyword(fn, "inline")
    return isinstance(value, ast.Constant) and value.value == "always"


def _flags(fn: ast.FunctionDef) -> str:
    """The declared fastmath flags, with none declared and False both "off"."""
    v = _fastmath(fn)
    return ast.dump(v) if _is_fast(v) else "off"


def _compiled_calls(source: str):
    """(caller, callee) function nodes for every call from a compiled function of ``source`` to
    another compiled function of the same module."""
    funcs = _njit_functions(ast.parse(source))
    for fn in funcs.values():
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                callee = funcs.get(node.func.id)
                if callee is not None and callee is not fn:
                    yield fn, callee


def undeclared_callees(source: str) -> list[tuple[str, str]]:
    """(caller, callee) pairs where a compiled fastmath function calls a compiled function of the
    same module that declares no fastmath of its own."""
    return sorted({(fn.name, callee.name) for fn, callee in _compiled_calls(source)
                   if _is_fast(_fastmath(fn)) and _fastmath(callee) is None})


def inline_flag_mismatches(source: str) -> list[tuple[str, str]]:
    """(caller, callee) pairs where a compiled function inlined at numba IR level
    (``inline="always"``) is called from a compiled function that declares other fastmath flags:
    the inlined body is lowered with its caller's flags, not its own."""
    return sorted({(fn.name, callee.name) for fn, callee in _compiled_calls(source)
                   if _inline(callee) and _flags(callee) != _flags(fn)})


def _compiled_modules() -> list[Path]:
    return [p for p in sorted((ROOT / "verify").rglob("*.py"))
            if "njit" in p.read_text() and p.name != "jitcache.py"]


def test_the_compiled_modules_are_found():
    names = {p.name for p in _compiled_modules()}
    assert {"engine_f64.py", "sgd.py", "far.py"} <= names


@pytest.mark.parametrize("path", _compiled_modules(), ids=lambda p: p.name)
def test_every_callee_of_a_fastmath_function_declares_its_flags(path):
    bad = undeclared_callees(path.read_text())
    assert not bad, (f"{path.name}: these callees take their first caller's fastmath flags, so "
                     f"what is compiled depends on which entry point compiled it first: {bad}")


def test_the_flag_check_finds_an_undeclared_callee():
    src = """
@njit(cache=True)
def helper(x):
    return x * 2.0 + 1.0

@njit(cache=True, fastmath=False)
def plain(x):
    return x + 1.0

@njit(cache=True, fastmath={"reassoc"})
def kernel(x):
    return helper(x) + plain(x)

@njit(cache=True)
def slow(x):
    return helper(x)
"""
    assert undeclared_callees(src) == [("kernel", "helper")]


@pytest.mark.parametrize("path", _compiled_modules(), ids=lambda p: p.name)
def test_every_inlined_function_has_its_callers_flags(path):
    bad = inline_flag_mismatches(path.read_text())
    assert not bad, (f"{path.name}: these inlined functions would be compiled with their "
                     f"caller's fastmath flags, not the ones they declare: {bad}")


def test_the_inline_check_finds_a_caller_with_other_flags():
    src = """
@njit(cache=True, inline="always")
def body(x):
    return x * 2.0 + 1.0

@njit(cache=True, fastmath={"reassoc"}, inline="always")
def fast_body(x):
    return x * 2.0

@njit(cache=True)
def plain(x):
    return body(x) + fast_body(x)

@njit(cache=True, fastmath={"reassoc"})
def kernel(x):
    return body(x) + fast_body(x)
"""
    assert inline_flag_mismatches(src) == [("kernel", "body"), ("plain", "fast_body")]


# ------------------------------------------------------------------------------------------------
# The test files' order (tests/conftest.py, file_order): the files listed as never calling the
# compiled engine run while it compiles.  A stale list only costs time, so these tests keep it true.
# ------------------------------------------------------------------------------------------------

def test_the_ordered_test_files_exist():
    import conftest
    for path in (conftest.COMPILES_FIRST,) + conftest.ENGINE_FREE:
        assert (ROOT / path).is_file(), path
    order = conftest.file_order({conftest.COMPILES_FIRST: 1, "tests/test_big.py": 90,
                                 "tests/test_small.py": 3, conftest.ENGINE_FREE[1]: 5,
                                 conftest.ENGINE_FREE[0]: 2})
    assert order == [conftest.COMPILES_FIRST, conftest.ENGINE_FREE[0], conftest.ENGINE_FREE[1],
                     "tests/test_big.py", "tests/test_small.py"]


@pytest.mark.slow
def test_the_engine_free_files_compile_nothing(tmp_path):
    """Run with a numba cache directory of their own, empty, the files conftest.ENGINE_FREE names
    leave it empty: nothing they call is compiled (so they can run while the engine compiles)."""
    import conftest
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    env.pop("NUMBA_DISABLE_JIT", None)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
                        *conftest.ENGINE_FREE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert not list(cache.rglob("*.nbi")), sorted(p.name for p in cache.rglob("*.nbi"))
