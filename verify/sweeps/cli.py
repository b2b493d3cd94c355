"""``python -m verify sweep NAME [--quick] [--scheduler local|none|tcp://HOST:PORT]``.

Runs (or takes from the cache) every cell of the sweep, summarises them (fitted laws, tables,
figures) and writes ``<out>/sweeps/NAME/summary.json`` plus its figures (SVG and PDF); wall times
go to ``timings.json`` beside it, never into the summary, so summaries are reproducible.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from verify.sweeps import engine
from verify.sweeps.definitions import SWEEPS, SweepError, get


def parse_grid(text: str | None) -> dict[str, list[float]]:
    """'M=2,3,4;n=2' -> {"M": [2, 3, 4], "n": [2]}."""
    if not text:
        return {}
    out = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise SweepError(f"--grid: expected AXIS=v1,v2,... separated by ';', got {part!r}")
        name, vals = part.split("=", 1)
        try:
            out[name.strip()] = [float(v) for v in vals.split(",") if v.strip()]
        except ValueError:
            raise SweepError(f"--grid: axis {name.strip()!r} needs numbers, got {vals!r}") from None
        if not out[name.strip()]:
            raise SweepError(f"--grid: axis {name.strip()!r} has no values")
    return out


def list_sweeps() -> int:
    for s in SWEEPS.values():
        axes = ", ".join(f"{a.name} in {list(a.full)}" for a in s.axes)
        print(f"{s.name:16s} {s.title}\n{'':16s} full grid: {axes}")
    return 0


def sweep_dir(out: Path | str, name: str) -> Path:
    return Path(out) / "sweeps" / name


def run_sweep(name: str, *, quick: bool = False, scheduler: str = "local",
              workers: int | None = None, out: str = "reports", grid: str | None = None,
              progress: bool | None = None, quiet: bool = False) -> dict:
    """Run one sweep end to end and return its summary (also written to disk)."""
    sweep = get(name)
    cells = sweep.grid(quick, parse_grid(grid))
    if workers is not None and workers < 1:
        raise SweepError(f"--workers must be >= 1, got {workers}")
    target = sweep_dir(out, name)
    _check_writable(target)
    results, counts = engine.run_cells(sweep, cells, out, scheduler=scheduler, workers=workers,
                                       progress=progress)
    tier = "custom" if grid else ("quick" if quick else "full")
    summary = sweep.summarise(results, tier)
    summary["cells"] = len(cells)
    summary["code_version"] = counts["code_version"]
    write_summary(target, summary)
    (target / "timings.json").write_text(json.dumps(
        {"seconds": round(counts["seconds"], 2), "cached": counts["cached"],
         "computed": counts["computed"], "scheduler": scheduler, "workers": workers}, indent=1)
        + "\n", encoding="utf-8")
    if not quiet:
        print(f"{name}: {len(cells)} cells ({counts['cached']} cached, {counts['computed']} "
              f"computed) in {counts['seconds']:.1f} s")
        for line in summary["text"]:
            print("  " + line)
        print(f"written to {target}/; `python -m verify report {out}` renders it into the report")
    return summary


def _check_writable(target: Path) -> None:
    for p in [target, *target.parents]:
        if p.exists():
            if not p.is_dir():
                raise SweepError(f"--out: {p} exists and is not a directory")
            break
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise SweepError(f"--out: cannot write to {target} ({e.strerror or e})") from None


def write_summary(target: Path, summary: dict) -> None:
    from verify.claims.record import Figure, Line
    from verify.report.figures import render_pdf, render_svg
    from verify.report.io import write_bytes_atomic, write_text_atomic
    target.mkdir(parents=True, exist_ok=True)
    for f in summary["figures"]:
        rec = Figure(**dict(f, lines=[Line(**ln) for ln in f["lines"]]))
        write_bytes_atomic(target / f"{rec.id}.svg", render_svg(rec))
        write_bytes_atomic(target / f"{rec.id}.pdf", render_pdf(rec))
    write_text_atomic(target / "summary.json",
                      json.dumps(summary, indent=1, sort_keys=True, allow_nan=False,
                                 default=_jsonable) + "\n")


def _jsonable(x):
    if dataclasses.is_dataclass(x):
        return dataclasses.asdict(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def load_summaries(out: Path | str) -> list[dict]:
    """The committed sweep summaries under ``<out>/sweeps/*/summary.json``, in registry order."""
    found = []
    for name in SWEEPS:
        p = sweep_dir(out, name) / "summary.json"
        if p.exists():
            try:
                found.append(json.loads(p.read_text(encoding="utf-8")))
            except ValueError:
                print(f"warning: {p} is not valid JSON; skipped", file=sys.stderr)
    return found
