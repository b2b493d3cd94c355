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
