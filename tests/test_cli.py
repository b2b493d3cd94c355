"""The command line end to end: exit statuses, one-line errors, and a real run that writes the
reports (the LaTeX is compiled when pdflatex is present, as in CI)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verify.cli import main


def test_list_and_help(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for cid in ("score", "gradient", "em-link", "thm2.1", "thm3.1", "thm3.2", "lem3.3", "thm3.4",
                "thm3.5", "thm3.7", "figure"):
        assert cid in out


@pytest.mark.parametrize("argv", [
    ["loss", "--params", "1,0", "--target", "0,0"],                # n < 2
    ["loss", "--params", "1,0;0,1", "--target", "0"],              # mismatched length
    ["loss", "--params", "1,0;0,nan", "--target", "0,0"],          # non-finite
    ["loss", "--params", "1,0;0,1", "--target", "0,0", "--t", "-1"],
    ["loss", "--params", "1,0;0,1", "--target", "0,0", "--dps", "10"],
    ["run", "no-such-claim"],
    ["all", "--jobs", "0"],
])
def test_bad_input_is_one_line_and_status_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_loss_command_prints_value_with_error(capsys):
    assert main(["loss", "--params", "0.5,0;-0.5,0.2", "--target", "0,0", "--digits", "20"]) == 0
    out = capsys.readouterr().out
    assert "loss = " in out and "error <=" in out and "dps=" in out


def test_run_writes_reports_and_json(tmp_path):
    """`python -m verify run score --quick` in a subprocess: records on stdout as JSON, reports
    on disk, LaTeX compiled to PDF when pdflatex is available."""
    out = tmp_path / "rep"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-m", "verify", "run", "score", "--quick", "--json",
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    rec = doc["records"][0]
    assert rec["id"] == "score" and rec["verdict"] in ("CONFIRMED", "REFUTED", "INCONCLUSIVE")
    for name in ("REPORT.md", "report.tex", "results.json", "timings.md"):
        assert (out / name).is_file(), name
    text = (out / "REPORT.md").read_text()
    assert rec["verdict"] in text
    if shutil.which("pdflatex"):
        assert (out / "report.pdf").read_bytes()[:4] == b"%PDF"
    # re-render from the saved records without recomputing: identical Markdown
    again = tmp_path / "again"
    assert main(["report", str(out / "results.json"), "--out", str(again)]) == 0
    assert (again / "REPORT.md").read_text() == text


# ---------------------------------------------------------------------------------------------
# Issue 15: no tracebacks, partial runs that keep what exists, Ctrl-C
# ---------------------------------------------------------------------------------------------

import signal
import threading
import time
import types

from verify import interrupt
from verify.claims import record as rec_mod
from verify.claims import runner


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:"), err
    assert "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv", [
    ["loss", "--params", "1;0", "--target", ""],                    # was IndexError
    ["loss", "--params", "[10,20]", "--target", "0,0"],             # was read as means (1,0),(2,0)
    ["loss", "--params", "[[1],[2]]", "--target", "[[0]]"],
    ["loss", "--params", "1;;0", "--target", "0"],
    ["loss", "--params", "[1", "--target", "0"],
    ["loss", "--params", "1;0", "--target", "0", "--t", "1e100000", "--parameterisation", "clean"],
    ["loss", "--params", "1;0", "--target", "0", "--digits", "abc"],  # argparse's complaint
    ["gradient", "--params", "1;0", "--target", "0", "--form", "x"],
    ["frobnicate"],
    [],                                                              # no command
    ["run", "score", "--seed", "-1", "--no-report"],
])
def test_bad_input_from_the_issue_is_one_line(argv, capsys):
    assert main(argv) == 2
    _one_line_error(capsys)


def test_digits_beyond_the_maximum_are_refused_at_once(capsys):
    from verify import precision
    if not hasattr(precision, "MAX_DIGITS"):
        pytest.skip("precision.MAX_DIGITS not in this tree yet")
    start = time.perf_counter()
    assert main(["loss", "--params", "1;0", "--target", "0", "--digits", "100000"]) == 2
    assert time.perf_counter() - start < 5
    assert "digits" in _one_line_error(capsys)


def test_engine_failures_are_one_line_with_status_1(monkeypatch, capsys):
    from verify import api
    from verify.quadrature import InaccurateError

    def inaccurate(*a, **k):
        raise InaccurateError("error estimate 1e-3 misses 20 digits\n(split rule)")
    monkeypatch.setattr(api, "loss", inaccurate)
    assert main(["loss", "--params", "1;0", "--target", "0", "--digits", "20"]) == 1
    assert "accuracy" in _one_line_error(capsys)

    def broken(*a, **k):
        raise RuntimeError("a bug\nspanning lines")
    monkeypatch.setattr(api, "loss", broken)
    assert main(["loss", "--params", "1;0", "--target", "0"]) == 1
    assert "internal error" in _one_line_error(capsys)

    class R:  # a result whose error is not finite is not presented as a result
        value, error, rule = 1.0, float("inf"), {}
        precision = types.SimpleNamespace(describe=lambda: "float64")
    monkeypatch.setattr(api, "loss", lambda *a, **k: R())
    assert main(["loss", "--params", "1;0", "--target", "0"]) == 1
    assert "could not bound" in _one_line_error(capsys)


def test_huge_parameters_end_in_a_result_or_one_line(capsys):
    rc = main(["loss", "--params", "1e400;0", "--target", "0", "--digits", "10"])
    if rc == 0:
        assert "inf" not in capsys.readouterr().out
    else:
        assert rc == 1
        _one_line_error(capsys)


def test_strings_are_not_vectors():
    import verify
    with pytest.raises(ValueError, match=r"params\[0\]"):
        verify.loss(["10", "20"], [0, 0])
    with pytest.raises(ValueError, match="target"):
        verify.loss([[1], [2]], "0")
    for t in (10 ** 400, "1e100000"):
        with pytest.raises(ValueError, match="t must be"):
            verify.gradient([[1], [0]], [0], t=t, parameterisation="clean", digits=10)


def _stub_claims(monkeypatch, checks: dict):
    """Claims ``checks`` (id -> check function) in place of the real ones, for runner tests."""
    from verify import interrupt
    mods = {cid: types.SimpleNamespace(TITLE=f"stub {cid}", STATEMENT="s", PROVENANCE="p", check=fn)
            for cid, fn in checks.items()}
    monkeypatch.setattr(runner, "CLAIM_IDS", tuple(checks))
    monkeypatch.setattr(runner, "load", mods.__getitem__)
    interrupt.clear()


def _stub_record(cid, tier):
    return rec_mod.ClaimRecord(id=cid, title=f"stub {cid}", statement="s", provenance="p",
                               verdict="CONFIRMED", assurance="numeric", tier=tier)


def test_an_error_raised_after_ctrl_c_is_an_interruption_and_otherwise_an_error(monkeypatch):
    """CI witness: numba's compiler, stopped by Ctrl-C, raised its own error; the check was
    recorded as ERROR (and its text broke the report).  After a Ctrl-C such an error makes the
    record "interrupted" (INCONCLUSIVE, the error named); without one it stays an ERROR."""
    from verify import interrupt

    def after_ctrl_c(tier, seed):
        interrupt.request()
        raise RuntimeError("no object yet for <Library '_log_normal_cdf'>")

    def broken(tier, seed):
        raise RuntimeError("a real failure")

    _stub_claims(monkeypatch, {"a": after_ctrl_c, "b": broken})
    try:
        r = runner.run_one("a", "quick", 0)
        assert r.verdict == "INCONCLUSIVE" and runner.is_interrupted(r), r.reason
        assert "RuntimeError: no object yet" in r.reason
        interrupt.clear()
        r = runner.run_one("b", "quick", 0)
        assert r.verdict == "ERROR" and "a real failure" in r.reason
    finally:
        interrupt.clear()


def test_an_interrupted_run_whose_pdf_fails_still_exits_130(tmp_path, monkeypatch, capsys):
    """Ctrl-C after one check finished: the finished record is published; when LaTeX then fails
    the error is printed and the exit status is still 130 (it was 1, and CI expected 130)."""
    from verify import interrupt

    def ctrl_c(tier, seed):
        interrupt.request()
        raise KeyboardInterrupt

    def no_pdf(*a, **k):
        raise runner.PublishError("report.pdf not built, LaTeX failed: stub")

    _stub_claims(monkeypatch, {"fine": lambda tier, seed: _stub_record("fine", tier), "stop": ctrl_c})
    monkeypatch.setattr(runner, "_publish", no_pdf)
    try:
        code = main(["run", "fine", "stop", "--quick", "--jobs", "1", "--out", str(tmp_path / "r")])
    finally:
        interrupt.clear()
    err = capsys.readouterr().err
    assert code == 130, err
    assert "error: report.pdf not built" in err and "1 of 2 check(s) finished" in err, err
    # and without the Ctrl-C the same failure is exit 1
    _stub_claims(monkeypatch, {"fine": lambda tier, seed: _stub_record("fine", tier)})
    assert main(["run", "fine", "--quick", "--jobs", "1", "--out", str(tmp_path / "r")]) == 1


def _no_compute(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("computed before checking --out")
    monkeypatch.setattr(runner, "run_one", boom)


def test_bad_out_is_refused_before_computing(tmp_path, monkeypatch, capsys):
    _no_compute(monkeypatch)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out in (str(a_file), str(a_file / "sub"), "/proc/verify-x", "/sys/verify-x"):
        assert main(["run", "score", "--quick", "--jobs", "1", "--out", out]) == 2, out
        assert "--out" in _one_line_error(capsys)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text("[1, 2]")
    assert main(["run", "score", "--quick", "--jobs", "1", "--out", str(bad)]) == 2
    assert "results.json" in _one_line_error(capsys)


def test_report_on_missing_or_wrong_sources(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 2                              # no reports/ here
    assert "no results file" in _one_line_error(capsys)
    assert main(["report", str(tmp_path / "none.json")]) == 2
    _one_line_error(capsys)
    assert main(["report", str(tmp_path / "nodir") + "/"]) == 2
    _one_line_error(capsys)
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    assert main(["report", str(lst)]) == 2
    _one_line_error(capsys)
    (tmp_path / "bad.json").write_text('{"schema_version": 2, "records": [1]}')
    assert main(["report", str(tmp_path / "bad.json")]) == 2
    _one_line_error(capsys)


# A tiny fake catalogue, so runner behaviour is tested without the claims' cost.

def _fake_claim(cid, verdict="CONFIRMED", work=None):
    def check(tier, seed):
        if work is not None:
            work()
        return rec_mod.ClaimRecord(id=cid, title=f"fake {cid}", statement="s", provenance="p",
                                   verdict=verdict, assurance="numeric", tier=tier,
                                   reason="" if verdict == "CONFIRMED" else "r")
    return types.SimpleNamespace(TITLE=f"fake {cid}", STATEMENT="s", PROVENANCE="p", check=check)


@pytest.fixture
def fake_claims(monkeypatch):
    """Claims a, b, slow, later; no pdflatex on PATH (the PDF is tested above)."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    claims = {}

    def load(cid):
        return claims[cid]
    monkeypatch.setattr(runner, "CLAIM_IDS", ("a", "b", "slow", "later"))
    monkeypatch.setattr(runner, "load", load)
    claims["a"] = _fake_claim("a")
    claims["b"] = _fake_claim("b")
    claims["later"] = _fake_claim("later")
    return claims


def _records(out):
    doc = json.loads((out / "results.json").read_text())
    return {r["id"]: r for r in doc["records"]}, doc["provenance"]


def _no_strays(out):
    strays = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    strays += [p.name for p in out.rglob("*.tmp")]
    assert not strays, strays


def test_pool_takes_the_previous_run_s_longest_checks_first(tmp_path, fake_claims, monkeypatch):
    """With a report in --out, the pool is handed the checks longest first by that report's
    times for the same tier (untimed ones after, in registry order); a run of another tier, or
    none, keeps registry order; the records come out in registry order either way."""
    out = tmp_path / "rep"
    assert main(["run", "a", "b", "later", "--quick", "--jobs", "1", "--out", str(out)]) == 0
    timings = json.loads((out / "timings.json").read_text())
    timings["claims"] = {"a": 0.0, "b": 3.0, "later": 5.0}
    (out / "timings.json").write_text(json.dumps(timings))
    handed = []
    real = runner._run_pool

    def spy(ids, *a):
        handed.append(list(ids))
        return real(ids, *a)
    monkeypatch.setattr(runner, "_run_pool", spy)
    assert main(["run", "a", "b", "later", "--quick", "--jobs", "2", "--out", str(out)]) == 0
    assert main(["run", "a", "b", "later", "--jobs", "2", "--out", str(out)]) == 0   # full tier
    assert handed == [["later", "b", "a"], ["a", "b", "later"]]
    recs, _ = _records(out)
    assert list(recs) == ["a", "b", "later"]
    assert runner.longest_first(["a", "b"], None, "quick") == ["a", "b"]


def test_checks_run_together_go_to_one_worker_in_their_order(tmp_path, fake_claims, monkeypatch):
    """A RUN_TOGETHER group asked for together is one pool job: its checks run in one worker, in
    the group's order (so a later one finds what an earlier one cached in that process).  Here
    `later` needs `b` to have run in its process; `b` takes 1 s, so if they were separate jobs
    the other worker, free after `a`, would take `later`.  After a Ctrl-C, the rest of a job is
    recorded as interrupted without starting."""
    def b_work():
        time.sleep(1.0)
        os.environ["VERIFY_TEST_B_RAN_IN"] = str(os.getpid())

    def later_work():
        if os.environ.get("VERIFY_TEST_B_RAN_IN") != str(os.getpid()):
            raise RuntimeError("b did not run before later in this process")
    monkeypatch.delenv("VERIFY_TEST_B_RAN_IN", raising=False)
    fake_claims["b"] = _fake_claim("b", work=b_work)
    fake_claims["later"] = _fake_claim("later", work=later_work)
    monkeypatch.setattr(runner, "RUN_TOGETHER", (("b", "later"),))
    assert runner.pool_jobs(["later", "a", "b"]) == [("b", "later"), ("a",)]
    assert runner.pool_jobs(["a", "later"]) == [("a",), ("later",)]
    out = tmp_path / "rep"
    assert main(["run", "a", "b", "later", "--quick", "--jobs", "2", "--out", str(out)]) == 0
    recs, _ = _records(out)
    assert list(recs) == ["a", "b", "later"]
    assert {r["verdict"] for r in recs.values()} == {"CONFIRMED"}, recs["later"]["reason"]
    interrupt.request()
    try:
        rs = runner.run_job(("a", "b"), "quick", 0)
    finally:
        interrupt.clear()
    assert [r.id for r in rs] == ["a", "b"] and all(runner.is_interrupted(r) for r in rs)


def test_partial_run_merges_into_the_existing_report(tmp_path, fake_claims, capsys):
    out = tmp_path / "rep"
    assert main(["run", "a", "b", "--quick", "--jobs", "1", "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    fake_claims["b"] = _fake_claim("b", verdict="INCONCLUSIVE")
    assert main(["run", "b", "--jobs", "1", "--out", str(out)]) == 0   # full tier, b only
    recs, prov = _records(out)
    assert recs["a"]["tier"] == "quick" and recs["a"]["verdict"] == "CONFIRMED"
    assert recs["b"]["tier"] == "full" and recs["b"]["verdict"] == "INCONCLUSIVE"
    assert prov["per_claim"]["a"]["tier"] == "quick" and "b" not in prov["per_claim"]
    assert prov["tier"].startswith("mixed")
    md = (out / "REPORT.md").read_text()
    assert "fake a" in md and "fake b" in md
    assert (out / "notes.txt").read_text() == "mine"      # a file the report does not own stays
    _no_strays(out)
    # a new directory gets only the new records
    fresh = tmp_path / "fresh"
    assert main(["run", "b", "--quick", "--jobs", "1", "--out", str(fresh)]) == 0
    assert set(_records(fresh)[0]) == {"b"}
    capsys.readouterr()


def _sigint_soon(delay):
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_stops_the_claim_not_only_the_gd_run(tmp_path, fake_claims, capsys):
    """A Ctrl-C inside a GD run: the run returns, the claim's next run refuses to start, the
    record is INCONCLUSIVE "interrupted" (never the CONFIRMED the check would return), later
    claims do not start, and the previous records stay."""
    from verify import dynamics
    out = tmp_path / "rep"
    calls = []

    def two_long_runs():
        for _ in range(2):
            # mpmath steps: no compiled kernel whose first call compiles for seconds
            calls.append(dynamics.run_gd([[0.5], [-0.3]], 1e-3, 10 ** 7, digits=8,
                                         backend="mpmath", progress=False))
    fake_claims["slow"] = _fake_claim("slow", work=two_long_runs)
    assert main(["run", "a", "--quick", "--jobs", "1", "--out", str(out)]) == 0
    before = (out / "results.json").read_text()
    timer = _sigint_soon(1.0)
    start = time.perf_counter()
    try:
        rc = main(["run", "slow", "later", "--quick", "--jobs", "1", "--out", str(out)])
    finally:
        timer.cancel()
    assert rc == 130 and time.perf_counter() - start < 20
    assert len(calls) <= 1 and all(tr.interrupted for tr in calls)  # no second GD run
    captured = capsys.readouterr()
    assert "INCONCLUSIVE" in captured.out and "not run" in captured.out
    assert "interrupted" in captured.err
    assert (out / "results.json").read_text() == before      # nothing finished: report untouched
    assert not interrupt.is_armed()
    _no_strays(out)


def test_interrupted_claim_keeps_its_previous_record(tmp_path, fake_claims, capsys):
    out = tmp_path / "rep"
    fake_claims["slow"] = _fake_claim("slow")
    assert main(["run", "a", "slow", "--quick", "--jobs", "1", "--out", str(out)]) == 0

    def ctrl_c():
        interrupt.request()   # as the GD run's handler does
    fake_claims["slow"] = _fake_claim("slow", work=ctrl_c)
    fake_claims["a"] = _fake_claim("a", verdict="INCONCLUSIVE")
    assert main(["run", "a", "slow", "--jobs", "1", "--out", str(out)]) == 130
    recs, _ = _records(out)
    assert recs["a"]["verdict"] == "INCONCLUSIVE" and recs["a"]["tier"] == "full"  # finished: kept
    assert recs["slow"]["verdict"] == "CONFIRMED" and recs["slow"]["tier"] == "quick"  # previous
    interrupt.clear()
    capsys.readouterr()


_KILL_DURING_RENDER = r"""
import sys, time
from pathlib import Path
from verify.report.io import publish
def render(d):
    (d / "results.json").write_text("new")
    (d / "figures").mkdir()
    (d / "figures" / "x--y.svg").write_text("new")
    print("rendering", flush=True)
    time.sleep(60)
    return []
publish(sys.argv[1], render)
"""


def test_kill_during_rendering_leaves_the_old_report(tmp_path):
    from verify.report.io import publish
    out = tmp_path / "rep"
    out.mkdir()
    (out / "results.json").write_text("old")
    (out / "REPORT.md").write_text("old")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", _KILL_DURING_RENDER, str(out)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "rendering"
    proc.kill()
    proc.wait(10)
    assert (out / "results.json").read_text() == "old" and (out / "REPORT.md").read_text() == "old"
    assert not list(out.rglob("*.tmp"))

    def render(d):
        (d / "results.json").write_text("new")
        return [d / "results.json"]
    assert publish(out, render) == [out.resolve() / "results.json"]
    assert (out / "results.json").read_text() == "new"
    assert not (out / "REPORT.md").exists()                  # owned, not rendered: dropped
    _no_strays(out)                                          # the dead run's staging is gone


def _group_size(pgid: int) -> int:
    """How many live processes are in process group ``pgid`` (from /proc)."""
    n = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        n += fields[0] != "Z" and int(fields[2]) == pgid
    return n


def test_ctrl_c_with_a_process_pool_exits_130_and_keeps_other_records(tmp_path):
    """`verify run thm3.4 thm3.5 --quick --jobs 2`, SIGINT to the process group (as a terminal's
    Ctrl-C) after the claims started: exit 130 within seconds, no worker left behind, and the
    records already in results.json survive."""
    out = tmp_path / "rep"
    out.mkdir()
    keep = rec_mod.ClaimRecord(id="score", title="kept", statement="s", provenance="p",
                               verdict="CONFIRMED", assurance="symbolic", tier="full")
    (out / "results.json").write_text(rec_mod.dumps([keep], {"tier": "full"}))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-m", "verify", "run", "thm3.4", "thm3.5", "--quick",
                             "--jobs", "2", "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    # after the pool's two workers exist (each starts its check at once), however long the
    # imports took on a loaded machine; then 1 s into the checks
    deadline = time.monotonic() + 120
    while _group_size(proc.pid) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    sent = time.perf_counter()
    try:
        stdout, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    waited = time.perf_counter() - sent
    assert proc.returncode == 130, stderr[-2000:]
    assert waited < 10, waited
    assert "Traceback" not in stderr, stderr[-2000:]
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):                  # no worker outlives the command
        os.killpg(proc.pid, 0)
    recs, _ = _records(out)
    assert recs["score"]["title"] == "kept"
    assert "INCONCLUSIVE" in stdout or "not run" in stdout     # something was stopped


@pytest.mark.slow
def test_ctrl_c_during_all_keeps_the_finished_records(tmp_path):
    """Issue 15's "done means": Ctrl-C during `verify all` exits 130 within seconds, and the
    records finished by then are in results.json (none of them an interrupted CONFIRMED)."""
    out = tmp_path / "rep"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-m", "verify", "all", "--quick", "--jobs", "2",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    # 5 s after the pool's workers exist: the symbolic checks have finished, the long ones run
    # (a fixed 25 s from the start came after the whole quick tier, 17.5 s, once it got faster)
    deadline = time.monotonic() + 120
    while _group_size(proc.pid) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(5.0)
    assert proc.poll() is None, "the quick tier finished before the Ctrl-C: nothing was tested"
    os.killpg(proc.pid, signal.SIGINT)
    sent = time.perf_counter()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert time.perf_counter() - sent < 30                   # includes publishing the report
    assert "Traceback" not in stderr
    if (out / "results.json").exists():
        recs, _ = _records(out)
        for r in recs.values():
            assert not (r["verdict"] == "CONFIRMED" and "interrupted" in r["reason"])
        assert any(r["verdict"] != "INCONCLUSIVE" or not r["reason"].startswith("interrupted")
                   for r in recs.values())


# --- inputs a user would type (issue 19 item 6, issue 24 item 5) ---------------------------------

def _loss_value(capsys, argv) -> str:
    assert main(argv) == 0, _one_line_error(capsys)
    out = capsys.readouterr().out
    return out.split("loss = ")[1].split()[0]


@pytest.mark.parametrize("neg, shifted", [
    # The loss depends on c_i = m_i - m* only, so a configuration written with minus signs equals
    # its shift without them: a minus read as an option (or dropped) breaks the equality.
    (["--params", "-1;-2", "--target", "-1.5"], ["--params", "1;0", "--target", "0.5"]),
    (["--params", "-1,0;0,1", "--target", "-1,0"], ["--params", "0,0;1,1", "--target", "0,0"]),
    (["--params", "-.5;0.5", "--target", "-1e-1"], ["--params", "-0.4;0.6", "--target", "0"]),
])
def test_parameters_and_targets_may_start_with_a_minus(neg, shifted, capsys):
    a = _loss_value(capsys, ["loss", *neg, "--digits", "12"])
    b = _loss_value(capsys, ["loss", *shifted, "--digits", "12"])
    assert float(a) == pytest.approx(float(b), rel=1e-11, abs=0), (a, b)
    assert main(["gradient", *neg, "--digits", "10"]) == 0
    capsys.readouterr()
    assert main(["loss", "--params", "-1;-2", "--target", "0", "--t", "-0.5"]) == 2   # t < 0
    assert "t must be" in _one_line_error(capsys)


def test_numpy_integers_are_digits_and_iterators_are_refused():
    np = pytest.importorskip("numpy")
    import verify
    want = verify.loss([[1], [0]], [0.25], digits=25)
    for digits in (np.int64(25), np.int32(25), np.uint8(25)):
        got = verify.loss([[1], [0]], [0.25], digits=digits)
        assert got.precision.digits == 25 and abs(got.value - want.value) <= want.error + got.error
    with pytest.raises(ValueError, match="digits"):
        verify.loss([[1], [0]], [0], digits=True)
    cases = [((r for r in [[1], [0]]), [0], r"^params must be a sequence"),
             (iter([[1], [0]]), [0], r"^params must be a sequence"),
             ([iter([1]), [0]], [0], r"^params\[0\] must be a vector"),
             ([[1], [0]], (x for x in [0]), r"^target must be a vector")]
    for params, target, msg in cases:
        for f in (verify.loss, verify.gradient):
            with pytest.raises(ValueError, match=msg):
                f(params, target, digits=10)


def _results_with(tmp_path, change) -> Path:
    from verify.claims import record as rec
    doc = json.loads((Path(__file__).parent / "fixtures" / "records_small.json").read_text())
    rec.loads(json.dumps(doc))          # the fixture itself reads
    change(doc)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("change, expect", [
    (lambda d: d.update(future_section={"x": 1}), "future_section"),
    (lambda d: d["records"][0].update(new_field=1), "records[0].new_field"),
    (lambda d: d["records"][0]["quantities"][0].update(interval=["0", "1"]),
     "records[0].quantities[0].interval"),
    (lambda d: d.update(schema_version=99), "99"),
])
def test_report_refuses_what_it_does_not_know_naming_schema_versions(tmp_path, change, expect,
                                                                     capsys):
    from verify.claims.record import READABLE_SCHEMAS
    results = _results_with(tmp_path, change)
    assert main(["report", str(results), "--out", str(tmp_path / "out")]) == 2
    err = _one_line_error(capsys)
    assert expect in err and "schema versions " + ", ".join(map(str, READABLE_SCHEMAS)) in err
    assert not (tmp_path / "out").exists()                      # nothing rendered, nothing dropped


@pytest.mark.parametrize("grid", [";;;", "M=", "M=2,3;M=4", "n=2;;M=2", "=2", "M=2,,3", ""])
def test_sweep_grid_empty_or_repeated_axes_exit_2_before_computing(grid, tmp_path, monkeypatch,
                                                                  capsys):
    from verify.sweeps import engine

    def no_cells(*a, **k):
        raise AssertionError("computed a grid that should have been refused")
    monkeypatch.setattr(engine, "run_cells", no_cells)
    assert main(["sweep", "split-threshold", "--grid", grid, "--scheduler", "none",
                 "--out", str(tmp_path)]) == 2
    assert "--grid" in _one_line_error(capsys)


def test_sweep_grid_accepts_what_it_documents():
    from verify.sweeps.cli import parse_grid
    assert parse_grid("M=2,3;n=2") == {"M": [2.0, 3.0], "n": [2.0]}
    assert parse_grid("M=2,3;n=2;") == {"M": [2.0, 3.0], "n": [2.0]}
    assert parse_grid(None) == {}


@pytest.mark.parametrize("argv", [["sweep", "--list", "extra"], ["list", "extra"],
                                  ["bench", "extra"], ["derive", "--latex", "--bogus"]])
def test_extra_positional_arguments_exit_2(argv, capsys):
    assert main(argv) == 2
    _one_line_error(capsys)


# --- bench: one table, and Ctrl-C exits 130 in every phase (issue 19 item 7, issue 24 item 4) ---

def _stub_bench(monkeypatch, swallow_in=None):
    """Replace bench's phases by instant stubs; the phase ``swallow_in`` sees a Ctrl-C that its
    C code swallowed (as acb.integral's callbacks do): the flag is set, nothing is raised."""
    from verify import bench, certify, engine_arb

    def phase(name, value):
        def run(*a, **k):
            if name == swallow_in:
                interrupt.request()
            return value
        return run
    d = {k: {"us": 1.0, "numpy_us": 2.0, "ratio": 2.0, "nodes_per_step": 1,
             "gradient_rel_difference": 0.0} for k in ("n3d2", "n5d3_separated")}
    monkeypatch.setattr(bench, "bench_d", phase("d", d))
    monkeypatch.setattr(engine_arb, "bench_hp50_step_ms_n3d2",
                        phase("step", {"hp50_step_ms_n3d2": 10.0, "mpmath_step_ms": 100.0}))
    monkeypatch.setattr(engine_arb, "bench_hp50_lossgrad_ms_n2",
                        phase("lossgrad", {"hp50_lossgrad_ms_n2": 1.0, "naive_quad_ms_n2": 60.0}))
    monkeypatch.setattr(certify, "bench_acb_lossgrad_n2",
                        phase("acb", {"seconds": 0.5, "digits": 50.0}))
    monkeypatch.setattr(bench, "bench_c", phase("c", {"seconds": 0.1}))
    monkeypatch.setattr(bench, "measure_tiers", phase("tiers", {"quick_tier_s": 1.0}))


@pytest.mark.parametrize("phase", ["d", "step", "lossgrad", "acb", "c", "tiers"])
def test_bench_exits_130_when_a_phase_swallowed_ctrl_c(phase, monkeypatch, capsys):
    _stub_bench(monkeypatch, swallow_in=phase)
    try:
        assert main(["bench", "--quick", "--json", "--tiers"]) == 130
    finally:
        interrupt.clear()
    assert "targets" not in capsys.readouterr().out          # nothing printed as a result


def test_bench_prints_one_table_and_the_tier_keys(monkeypatch, capsys):
    _stub_bench(monkeypatch)
    assert main(["bench", "--quick", "--json"]) == 0
    out = capsys.readouterr().out
    for stale in ("ratio naive/engine", "target >= 20x", "target <= 40x", "undecided"):
        assert stale not in out
    doc = json.loads(out.strip().splitlines()[-1])
    for key in ("quick_tier_s", "full_tier_s", "sweep_one_converges_s", "sweep_split_threshold_s"):
        assert key in doc and doc[key] is None
    assert "bench --tiers" in doc["tiers_note"]
    # stubbed measurements against the stated targets: 1 us <= 20 us, 10 ms <= 30 ms, 60x >= 50x
    assert doc["targets"]["f64_step_us_n3d2 <= 20"] and doc["targets"]["hp50_step_ms_n3d2 <= 30"]
    assert doc["targets"]["naive/hp50 lossgrad n2 >= 50"]
    # tiers not measured: not judged
    assert doc["targets"]["quick_tier_s <= 30"] is None


def test_bench_judges_the_measured_tiers_against_their_targets(monkeypatch, capsys):
    from verify import bench
    _stub_bench(monkeypatch)
    monkeypatch.setattr(bench, "measure_tiers", lambda: {
        "quick_tier_s": 29.0, "full_tier_s": 121.0, "sweep_one_converges_s": None,
        "sweep_split_threshold_s": 240.0, "tiers_note": "stub"})
    assert main(["bench", "--quick", "--json", "--tiers"]) == 0
    out = capsys.readouterr().out
    t = json.loads(out.strip().splitlines()[-1])["targets"]
    assert t["quick_tier_s <= 30"] is True and t["full_tier_s <= 120"] is False
    assert t["sweep_one_converges_s <= 240"] is None and t["sweep_split_threshold_s <= 240"]
    assert "full_tier: 121 s (target <= 240 s)" not in out
    assert "full_tier: 121 s (target <= 120 s) NOT met" in out
    assert "sweep_one_converges: - (target <= 240 s) not measured" in out


def test_bench_against_a_revision_alternates_and_compares(monkeypatch, capsys):
    """--against REV measures this checkout and REV's worktree alternately (stub timings: this
    checkout's keys are 10 and 30, REV's 20 and 25/26), reports medians, ratios this/REV and
    "no slower" within REV's own range, and removes the worktree; a revision git does not know
    is refused."""
    from verify import bench
    root = Path(bench.__file__).resolve().parents[1]
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True).returncode:
        pytest.skip("not a git checkout: --against needs one")
    seen = []

    def stub(tree, repeat, steps):
        here = not tree.endswith("rev")
        seen.append("this" if here else "rev")
        k = sum(1 for x in seen if x == seen[-1])
        return {"a_us": 10.0, "b_ms": 30.0} if here else {"a_us": 20.0, "b_ms": 24.0 + k}
    monkeypatch.setattr(bench, "_paper_times", stub)
    assert main(["bench", "--against", "HEAD", "--quick", "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out.strip().splitlines()[-1])
    assert seen == ["this", "rev", "this", "rev"]
    a, b = doc["keys"]["a_us"], doc["keys"]["b_ms"]
    assert a["ratio"] == 0.5 and a["no_slower"] and a["rev_range"] == [20.0, 20.0]
    assert b["rev"] == 25.5 and not b["no_slower"] and abs(b["ratio"] - 30 / 25.5) < 1e-12
    assert "NO" in out
    listed = subprocess.run(["git", "worktree", "list"], capture_output=True, text=True,
                            cwd=root).stdout
    assert "verify-bench-rev-" not in listed
    with pytest.raises(ValueError, match="worktree"):
        bench.compare_revision("no-such-revision-xyz", rounds=1)


def test_bench_tiers_times_commands_and_reports_failures():
    from verify.bench import measure_tiers
    got = measure_tiers({"quick_tier_s": [sys.executable, "-c", "pass"],
                         "full_tier_s": [sys.executable, "-c", "import sys; sys.exit(3)"]},
                        log=lambda *a: None)
    assert got["quick_tier_s"] >= 0 and got["full_tier_s"] is None
    assert "full_tier_s: exit 3" in got["tiers_note"]


def test_ctrl_c_inside_a_callback_from_c_prints_no_traceback(monkeypatch):
    """On a fresh machine a Ctrl-C often lands while numba compiles and llvmlite calls back into
    Python to write its cache: the handler's Interrupted cannot propagate from a C callback and
    Python printed it as 'Exception ignored ... Traceback' (seen in a clean CI run of the bench
    test below). Inside an armed scope it is dropped silently (the Ctrl-C stays recorded and the
    next check raises it); other exceptions from callbacks still reach the previous hook, which
    prints them."""
    import ctypes
    reported = []          # what reaches the hook that prints (sys.unraisablehook before arming)
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(type(u.exc_value).__name__))

    def raises(exc):
        def cb():
            raise exc
        return ctypes.CFUNCTYPE(None)(cb)

    interrupt.clear()
    try:
        with interrupt.armed(install_handler=False):
            interrupt.request()
            raises(interrupt.Interrupted(interrupt.REASON))()    # as the SIGINT handler does
            assert reported == []
            with pytest.raises(interrupt.Interrupted):
                interrupt.check()
            raises(ValueError("a real error"))()
            assert reported == ["ValueError"]
        raises(interrupt.Interrupted(interrupt.REASON))()        # outside the scope: reported
        assert reported == ["ValueError", "Interrupted"]
    finally:
        interrupt.clear()


def _sigint_state():
    """(SIGINT blocked?, SIGINT ignored?) in the calling process."""
    return (signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []),
            signal.getsignal(signal.SIGINT) == signal.SIG_IGN)


def test_pool_workers_start_with_ctrl_c_held_then_ignore_it():
    """A worker forked inside interrupt.forking() starts with SIGINT blocked (a Ctrl-C to the
    process group cannot run the parent's handler in it before its initializer); quiet_worker
    then ignores SIGINT and unblocks it, so a Ctrl-C sent to the worker later is discarded rather
    than held pending forever, and the parent's mask is back as it was."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    state = _sigint_state
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool:
        with interrupt.forking():
            inside = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
            started = pool.submit(state).result()
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork"),
                             initializer=interrupt.quiet_worker) as pool:
        with interrupt.forking():
            quiet = pool.submit(state).result()
    assert inside and started == (True, False)       # blocked from the fork on
    assert quiet == (False, True)                    # ignored, no longer blocked
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before


def test_bench_ctrl_c_exits_130(tmp_path):
    """A real SIGINT to `python -m verify bench --quick` a few seconds in: exit 130, one line."""
    proc = subprocess.Popen([sys.executable, "-m", "verify", "bench", "--quick"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()                                  # the first line: measuring
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (proc.returncode, err)
    assert err.strip().splitlines()[-1:] == ["interrupted"] and "Traceback" not in err


# --- progress display (issue 19 item 3): on a terminal only ------------------------------------

def _run_with_terminal_stderr(argv, cwd, timeout=300) -> tuple[int, str, str]:
    """Run ``python -m verify ARGV`` with stderr on a pseudo-terminal (stdout a pipe); returns
    (exit status, what the terminal showed, stdout)."""
    import pty
    import select
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "verify", *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:        # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        out = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, shown.decode(errors="replace"), out


def test_progress_lines_per_claim_on_a_terminal_and_silence_otherwise(tmp_path):
    argv = ["run", "score", "lem3.3", "--quick", "--jobs", "2", "--no-report"]
    rc, shown, out = _run_with_terminal_stderr(argv, tmp_path)
    assert rc == 0, shown
    for cid in ("score", "lem3.3"):
        assert f"{cid} started" in shown, shown
        assert any(ln.startswith("[") and f"] {cid}: " in ln and ln.rstrip().endswith(" s)")
                   for ln in shown.splitlines()), shown
    assert "started" not in out                               # progress never on stdout
    piped = subprocess.run([sys.executable, "-m", "verify", *argv], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and piped.stderr.strip() == "", piped.stderr


def test_progress_forced_and_switch_restored(fake_claims, capsys):
    from verify import progress
    assert main(["run", "a", "b", "--quick", "--jobs", "1", "--no-report", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "a started" in err and "[1/2] a: CONFIRMED (" in err and "[2/2] b: CONFIRMED (" in err
    assert progress.configured() is None                      # the run's switch does not leak
    assert main(["run", "a", "b", "--quick", "--jobs", "1", "--no-report"]) == 0
    assert "started" not in capsys.readouterr().err           # not a terminal: silent


def test_sweep_shows_a_cell_bar_on_a_terminal(tmp_path):
    # a hang guard, not a speed test: on a fresh checkout this subprocess compiles the float64
    # engine itself while the test workers compile it too (measured 2026-12-03: 136 s alone,
    # 287-290 s with two compiles at once), so 300 s timed out in CI; 900 s still stops a hang
    rc, shown, _ = _run_with_terminal_stderr(
        ["sweep", "thm3.4-map", "--grid", "angle_deg=0;M0=2,4", "--scheduler", "none",
         "--out", str(tmp_path)], tmp_path, timeout=900)
    assert rc == 0, shown
    assert "thm3.4-map" in shown and "2/2" in shown and "cell" in shown, shown


def test_one_line_collapses_whitespace_and_cuts_at_the_limit():
    """verify.messages.one_line (the CLI's error line, the runner's and the falsifier's lines)."""
    from verify.messages import one_line
    assert one_line("a\n  b\tc\r\n") == "a b c"
    assert one_line(ValueError("x\ny")) == "x y"
    assert one_line("abcdef", 6) == "abcdef"
    assert one_line("abcdefg", 6) == "abc..."
    assert len(one_line("word " * 200)) == 300
