"""Publishing the report set (verify.report.io.publish): one atomic path, whatever --out holds;
and Ctrl-C around it (a second Ctrl-C skips publishing; a resumed sweep prints no Dask traceback).

The kill tests run publishing in a subprocess that loads ``verify/report/io.py`` by its path (no
package import, so a trial costs one interpreter start), slows every file operation of the carry
and the swap by a pause, and is killed with SIGKILL at a random moment of that phase.  Every file
of the old set says "old", every file of the new set "new", and the two sets have different file
names; the visible directory must hold exactly one of them, with the files the report does not own
(notes, .gitignore, sweep data) intact -- before and after the recovery that the next run does.
"""
from __future__ import annotations

import errno
import importlib.util
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from verify.report import io as report_io

IO_PATH = Path(report_io.__file__).resolve()

OLD = {"REPORT.md", "results.json", "report.tex", "report.pdf", "timings.json",
       "figures/a--old1.svg", "figures/a--old1.pdf", "figures/b--both.svg"}
NEW = {"REPORT.md", "results.json", "report.tex", "timings.json", "timings.md",
       "figures/a--new1.svg", "figures/a--new2.svg", "figures/c--new3.pdf", "figures/b--both.svg"}
MINE = {"notes.txt": "my notes", ".gitignore": "*.log\n", "figures/README.txt": "my figure notes",
        "sweeps/s1/summary.json": "{\"sweep\": 1}", "sweeps/s1/cells/c1.json": "{\"cell\": 1}",
        "sweeps/s2/summary.json": "{\"sweep\": 2}"}

_CHILD = r"""
import importlib.util, os, random, sys, time
spec = importlib.util.spec_from_file_location("publish_io", sys.argv[1])
io = importlib.util.module_from_spec(spec)
spec.loader.exec_module(io)
out, mode, pause, names = sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5].split(",")
if mode == "renames":                      # the swap where renameat2 exchange is not supported
    io._exchange = lambda a, b: False
def slow(fn):
    def wrapped(*a, **k):
        time.sleep(pause * random.random())
        return fn(*a, **k)
    return wrapped
def render(d):
    for rel in names:
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        io.write_text_atomic(d / rel, "new " + rel)
    for name in ("link", "rename", "symlink", "replace"):
        setattr(io.os, name, slow(getattr(io.os, name)))
    io._exchange = slow(io._exchange)
    print("rendered", flush=True)
    return [d / rel for rel in names]
io.publish(out, render)
print("published", flush=True)
"""


def _write_set(out: Path, names, token: str) -> None:
    for rel in names:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(f"{token} {rel}")


def _layout(out: Path, foreign: bool) -> None:
    out.mkdir()
    _write_set(out, OLD, "old")
    if foreign:
        for rel, text in MINE.items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text(text)


def _visible(out: Path, foreign: bool) -> str:
    """'old' or 'new' when ``out`` holds exactly one whole set (and the user's files); else fail."""
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() or p.is_symlink()}
    mine = set(MINE) if foreign else set()
    assert mine <= files, f"lost: {sorted(mine - files)}"
    for rel in mine:
        assert (out / rel).read_text() == MINE[rel], rel
    report = files - mine
    tokens = {(out / rel).read_text().split()[0] for rel in report}
    assert len(tokens) == 1, f"mixed set: {sorted((rel, (out / rel).read_text()) for rel in report)}"
    token = tokens.pop()
    assert report == (OLD if token == "old" else NEW), sorted(report ^ (OLD if token == "old" else NEW))
    for rel in report:
        assert (out / rel).read_text() == f"{token} {rel}"
    return token


def _strays(out: Path) -> list[str]:
    return [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def _trial(tmp: Path, mode: str, foreign: bool, rng: random.Random, pause: float) -> tuple[str, str]:
    out = tmp / "rep"
    _layout(out, foreign)
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(IO_PATH), str(out), mode, str(pause),
                             ",".join(sorted(NEW))], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "rendered"
        # the carry and swap take a few dozen paused operations: kill anywhere in them, or after
        time.sleep(rng.uniform(0.0, pause * (len(MINE) + 6)))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    if out.exists():
        seen = _visible(out, foreign)
    else:  # killed between the two renames of the fallback swap: the old set is parked
        assert mode == "renames"
        parked = [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.old-")]
        assert len(parked) == 1 and _visible(parked[0], foreign) == "old"
        seen = "missing"
    report_io.recover(out)                       # what the next run does first
    after = _visible(out, foreign)
    assert not _strays(out), _strays(out)
    assert seen in (after, "missing")
    return seen, after


def _run_trials(tmp_path, mode, n, seed):
    """``n`` trials, alternating the layout: the report's files only / with the user's files (the
    layout that earlier versions published file by file)."""
    rng = random.Random(seed)
    outcomes = []
    for i in range(n):
        d = tmp_path / f"{mode}-{i}"
        d.mkdir()
        outcomes.append(_trial(d, mode, bool(i % 2), rng, pause=0.004)[1])
    return outcomes


@pytest.mark.parametrize("mode", ["exchange", "renames"])
def test_kill_9_while_publishing_never_leaves_a_mixed_set(tmp_path, mode):
    """SIGKILL at random moments of carrying and swapping: always exactly the old or the new set."""
    outcomes = _run_trials(tmp_path, mode, n=6, seed=1 + (mode == "renames"))
    assert set(outcomes) <= {"old", "new"}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exchange", "renames"])
def test_kill_9_while_publishing_many_trials(tmp_path, mode):
    """The same with 40 trials per swap (20 per layout); both outcomes occur."""
    outcomes = _run_trials(tmp_path, mode, n=40, seed=7 + (mode == "renames"))
    assert set(outcomes) == {"old", "new"}, outcomes


def test_publish_carries_user_files_and_drops_stale_owned_ones(tmp_path):
    out = tmp_path / "rep"
    _layout(out, foreign=True)
    inode = (out / "notes.txt").stat().st_ino

    def render(d):
        _write_set(d, NEW, "new")
        return [d / rel for rel in NEW]
    paths = report_io.publish(out, render)
    assert {str(p.relative_to(out.resolve())) for p in paths} == NEW
    assert _visible(out, foreign=True) == "new"             # report.pdf (old only) is gone
    assert (out / "notes.txt").stat().st_ino == inode       # the user's file itself, not a copy
    assert not _strays(out)


def _never(d):
    raise AssertionError("render must not run")


def test_out_with_a_foreign_directory_is_refused_before_rendering(tmp_path):
    out = tmp_path / "rep"
    _layout(out, foreign=True)
    (out / "notes").mkdir()
    (out / "notes" / "a.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds notes/, not written by verify") as e:
        report_io.publish(out, _never)
    assert "\n" not in str(e.value)
    assert (out / "notes" / "a.txt").read_text() == "mine"
    (out / "notes" / "a.txt").unlink()
    (out / "notes").rmdir()
    assert _visible(out, foreign=True) == "old"
    (out / "figures" / "sub").mkdir()                       # a directory among the figures too
    with pytest.raises(ValueError, match=r"figures/sub/"):
        report_io.check_out_dir(out)
    assert not _strays(out)


def test_out_containing_the_current_directory_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "rep"
    _layout(out, foreign=False)
    monkeypatch.chdir(out)
    with pytest.raises(ValueError, match="current directory"):
        report_io.publish(".", _never)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="current directory"):
        report_io.check_out_dir(tmp_path)
    assert _visible(out, foreign=False) == "old"


def test_a_mount_point_out_is_refused():
    mounts = [p for p in ("/dev/shm", "/proc", "/sys") if os.path.ismount(p)]
    if not mounts:
        pytest.skip("no mount point to try")
    with pytest.raises(ValueError, match="mount point"):
        report_io.check_out_dir(mounts[0])


def test_a_rename_across_devices_is_refused_before_rendering(tmp_path, monkeypatch):
    """The probe moves a file from --out to the staging place, as the swap would; EXDEV (a bind
    mount that ismount does not see) is one line before anything is rendered."""
    out = tmp_path / "rep"
    _layout(out, foreign=False)
    real = os.rename

    def rename(a, b, *k, **kw):
        if Path(a).parent == out.resolve():
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(a))
        return real(a, b, *k, **kw)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(ValueError, match="cross-device") as e:
        report_io.publish(out, _never)
    monkeypatch.setattr(os, "rename", real)
    assert "\n" not in str(e.value)
    assert _visible(out, foreign=False) == "old"
    assert not _strays(out) and not list(out.glob(".probe-*"))


def test_cli_refuses_a_foreign_out_before_computing(tmp_path, capsys, monkeypatch):
    """`verify run` with such an --out: exit 2, one line, nothing computed or written."""
    from verify.claims import runner
    from verify.cli import main
    out = tmp_path / "rep"
    _layout(out, foreign=False)
    (out / "notes").mkdir()
    monkeypatch.setattr(runner, "run_one", _never)
    assert main(["run", "score", "--quick", "--jobs", "1", "--out", str(out)]) == 2
    r = capsys.readouterr()
    assert r.err.count("\n") == 1 and "notes/" in r.err and r.out == "", r.err
    assert _visible(out, foreign=False) == "old"


def test_cli_report_into_the_current_directory_is_refused(tmp_path, monkeypatch, capsys):
    """Issue 24's case `cd D && verify report D/results.json --out .`: exit 2, one line, D intact
    (it was published file by file, and mixed on kill -9, before)."""
    from verify.cli import main
    out = tmp_path / "rep"
    before = _old_report(out)
    monkeypatch.chdir(out)
    assert main(["report", str(out / "results.json"), "--out", "."]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "current directory" in err, err
    assert (out / "results.json").read_bytes() == before and not _strays(out)


def test_io_module_loads_alone():
    """The kill tests load io.py by its path: it must need nothing but the standard library."""
    spec = importlib.util.spec_from_file_location("publish_io_alone", IO_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.publish.__doc__


# ---------------------------------------------------------------------------------------------
# Ctrl-C and publishing: a second Ctrl-C at any moment before the swap leaves --out as it was
# ---------------------------------------------------------------------------------------------

# `verify run fast slow` with stub claims: "fast" returns at once; "slow" runs until Ctrl-C and
# then takes TAIL seconds to stop (a check that is slow to hand back its record), so the runner's
# grace wait lasts that long.  With RENDER_PAUSE the rendering announces itself and sleeps.
_RUN_STUBS = r"""
import os, sys, time, types
from verify.claims import record as rec, runner
from verify import report, cli
TAIL, RENDER_PAUSE = float(os.environ["STUB_TAIL"]), float(os.environ["STUB_RENDER_PAUSE"])
FORK_PAUSE = float(os.environ.get("STUB_FORK_PAUSE", "0"))
if FORK_PAUSE:  # each pool worker, between its fork and its initializer, announces itself and waits
    import multiprocessing.util
    class _Hook:
        pass
    _hook = _Hook()
    def _starting(_obj):
        print("worker starting", file=sys.stderr, flush=True)
        end = time.monotonic() + FORK_PAUSE
        while time.monotonic() < end:
            time.sleep(0.02)
    multiprocessing.util.register_after_fork(_hook, _starting)
EXIT_PAUSE = float(os.environ.get("STUB_EXIT_PAUSE", "0"))
if EXIT_PAUSE:  # an exit handler that outlasts a late Ctrl-C
    import atexit
    def _exiting():
        print("exiting", file=sys.stderr, flush=True)
        end = time.monotonic() + EXIT_PAUSE
        while time.monotonic() < end:
            time.sleep(0.02)
    atexit.register(_exiting)
def claim(cid, slow):
    def check(tier, seed):
        if not slow:
            print(f"started {cid}", file=sys.stderr, flush=True)
        else:  # as a GD run: a Ctrl-C is only recorded, and the check winds down for TAIL s
            from verify import interrupt
            with interrupt.deferred():
                print(f"started {cid}", file=sys.stderr, flush=True)  # a Ctrl-C from now on
                while not interrupt.requested():
                    time.sleep(0.02)
                end = time.monotonic() + TAIL
                while time.monotonic() < end:
                    time.sleep(0.02)
        return rec.ClaimRecord(id=cid, title=f"stub {cid}", statement="s", provenance="p",
                               verdict="CONFIRMED", assurance="numeric", tier=tier)
    return types.SimpleNamespace(TITLE=f"stub {cid}", STATEMENT="s", PROVENANCE="p", check=check)
claims = {"fast": claim("fast", False), "slow": claim("slow", True)}
runner.CLAIM_IDS = ("fast", "slow")
runner.load = claims.__getitem__
render_all = report.render_all
def slow_render(*a, **k):
    if RENDER_PAUSE:
        print("rendering", file=sys.stderr, flush=True)
        end = time.monotonic() + RENDER_PAUSE
        while time.monotonic() < end:
            time.sleep(0.02)
    return render_all(*a, **k)
report.render_all = slow_render
run_one = runner.run_one
def said_returned(cid, tier, seed):  # the check's record is final (its worker may take the next)
    r = run_one(cid, tier, seed)
    print(f"returned {cid}", file=sys.stderr, flush=True)
    return r
runner.run_one = said_returned
sys.exit(cli.main())  # as the program: the arguments are read from sys.argv
"""


def _old_report(out: Path) -> bytes:
    from verify.claims import record as rec_mod
    keep = rec_mod.ClaimRecord(id="score", title="kept", statement="s", provenance="p",
                               verdict="CONFIRMED", assurance="symbolic", tier="full")
    out.mkdir()
    (out / "results.json").write_text(rec_mod.dumps([keep], {"tier": "full"}))
    (out / "REPORT.md").write_text("old report")
    return (out / "results.json").read_bytes()


def _ctrl_c_run(out: Path, jobs: int, seconds: list, after=("started slow", "returned fast"),
                tail: float = 2.0, render_pause: float = 0.0, fork_pause: float = 0.0,
                exit_pause: float = 0.0) -> tuple[int, str]:
    """Run the stubs; once every line of ``after`` (a string or several) appeared on stderr, send
    SIGINT to the process group (as a terminal's Ctrl-C) at each of ``seconds`` (measured from
    then); a later time may instead be a string ("rendering", "exiting"): sent when that line
    appears.  By default "fast" has returned its record and "slow" runs.  Returns (exit status,
    stderr)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]),
               PATH=os.path.dirname(sys.executable), STUB_TAIL=str(tail),
               STUB_RENDER_PAUSE=str(render_pause), STUB_FORK_PAUSE=str(fork_pause),
               STUB_EXIT_PAUSE=str(exit_pause))
    waiting = {after} if isinstance(after, str) else set(after)
    proc = subprocess.Popen([sys.executable, "-c", _RUN_STUBS, "run", "fast", "slow", "--quick",
                             "--jobs", str(jobs), "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    err = []
    # two processes print "started ..." at once: print() writes the text and the newline
    # separately, so the lines can come glued ("started faststarted slow"): match by containment.
    # A watchdog ends the run if the awaited line never comes (reading stderr would block forever)
    watchdog = threading.Timer(300.0, lambda: os.killpg(proc.pid, signal.SIGKILL))
    watchdog.start()
    try:
        for line in proc.stderr:
            err.append(line)
            waiting = {w for w in waiting if w not in line}
            if not waiting:
                break
        t0 = time.monotonic()
        for when in seconds:
            if isinstance(when, str):
                for line in proc.stderr:
                    err.append(line)
                    if when in line:
                        break
            else:
                time.sleep(max(0.0, t0 + when - time.monotonic()))
            os.killpg(proc.pid, signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    finally:
        watchdog.cancel()
    return proc.returncode, "".join(err) + rest


@pytest.mark.parametrize("jobs", [2, pytest.param(1, marks=pytest.mark.slow)], ids=["pool", "serial"])
def test_second_ctrl_c_during_the_grace_wait_skips_publishing(tmp_path, jobs):
    """The first Ctrl-C stops "slow", which takes 2 s to hand back its record; a second one 0.3 s
    later (inside that wait, before anything is rendered) leaves --out byte for byte as it was."""
    out = tmp_path / "rep"
    before = _old_report(out)
    rc, err = _ctrl_c_run(out, jobs, [0.0, 0.3])
    assert rc == 130, err[-2000:]
    assert "second Ctrl-C: publishing skipped" in err and "Traceback" not in err, err[-2000:]
    assert (out / "results.json").read_bytes() == before
    assert (out / "REPORT.md").read_text() == "old report"
    assert not _strays(out)


def test_ctrl_c_while_pool_workers_start_kills_none_of_them(tmp_path):
    """A Ctrl-C reaches the whole process group, pool workers included.  One that lands while a
    worker is still starting (after its fork, before its initializer ignores SIGINT) must not kill
    it: that printed a worker's traceback and broke the pool (a CI run failed so).  Here each worker
    waits 1 s at that point and the Ctrl-C comes then; the workers start, "fast" finishes, and the
    run stops as for any first Ctrl-C."""
    out = tmp_path / "rep"
    _old_report(out)
    rc, err = _ctrl_c_run(out, 2, [0.0], after="worker starting", fork_pause=1.0)
    assert rc == 130, err[-2000:]
    assert "Traceback" not in err and "ForkProcess" not in err, err[-2000:]
    assert "started fast" in err and "publishing the 1 finished record(s)" in err, err[-2000:]


def test_a_ctrl_c_while_the_interrupted_program_exits_keeps_status_130(tmp_path):
    """After a Ctrl-C the run publishes "fast" and exits 130; a second Ctrl-C that lands while
    the interpreter exits (here during an exit handler that takes 1 s) changes neither: no
    traceback, no death by SIGINT (a CI run once ended so, status -2)."""
    out = tmp_path / "rep"
    _old_report(out)
    rc, err = _ctrl_c_run(out, 2, [0.0, "exiting"], tail=0.2, exit_pause=1.0)
    assert rc == 130, err[-2000:]
    assert "publishing the 1 finished record(s)" in err and "Traceback" not in err, err[-2000:]
    import json
    recs = {r["id"] for r in json.loads((out / "results.json").read_text())["records"]}
    assert "fast" in recs


@pytest.mark.slow
def test_one_ctrl_c_publishes_the_finished_records(tmp_path):
    """The control for the test above: with only the first Ctrl-C, "fast" is published."""
    out = tmp_path / "rep"
    _old_report(out)
    rc, err = _ctrl_c_run(out, 2, [0.0])
    assert rc == 130, err[-2000:]
    assert "publishing the 1 finished record(s)" in err and "Traceback" not in err, err[-2000:]
    import json
    recs = {r["id"]: r for r in json.loads((out / "results.json").read_text())["records"]}
    assert recs["fast"]["verdict"] == "CONFIRMED" and recs["score"]["title"] == "kept"
    assert "slow" not in recs or recs["slow"]["reason"].startswith("interrupted")


@pytest.mark.slow
def test_second_ctrl_c_while_rendering_leaves_the_old_report(tmp_path):
    out = tmp_path / "rep"
    before = _old_report(out)
    rc, err = _ctrl_c_run(out, 2, [0.0, "rendering"], tail=0.2, render_pause=3.0)
    assert rc == 130, err[-2000:]
    assert "second Ctrl-C: publishing stopped" in err and "left as it was" in err, err[-2000:]
    assert "Traceback" not in err
    assert (out / "results.json").read_bytes() == before
    assert not _strays(out)


@pytest.mark.slow
def test_sweep_interrupted_and_resumed_prints_no_dask_traceback(tmp_path):
    """A local-cluster sweep stopped by Ctrl-C once a cell is cached, then the same command again:
    130 then 0, every cell cached, and neither stderr holds a traceback or a CommClosedError."""
    grid = "angle_deg=0,90;M0=2,4"
    cmd = [sys.executable, "-m", "verify", "sweep", "thm3.4-map", "--grid", grid, "--workers", "2",
           "--out", str(tmp_path)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cells = tmp_path / "sweeps" / "thm3.4-map" / "cells"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not (cells.exists() and list(cells.glob("*.json"))) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        _, first = proc.communicate(timeout=120)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode in (0, 130), first[-3000:]          # 0 if every cell was done by then
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(cells.glob("*.json"))) == 4
    for err in (first, again.stderr):
        assert "Traceback" not in err and "CommClosedError" not in err, err[-3000:]
