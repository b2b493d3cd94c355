"""``python -m verify sweep NAME [--quick] [--grid ...] [--scheduler local|none|tcp://HOST:PORT]
[--resummarise]``.

Runs (or takes from the cache) every cell of the sweep, summarises them (fitted laws, tables,
figures) and writes ``<out>/sweeps/NAME/summary.json`` plus its figures (SVG and PDF); wall times
go to ``timings.json`` beside it, never into the summary, so summaries are reproducible.

``--resummarise`` computes nothing: it rebuilds the summary from the cells already on disk (any
code version, see :func:`verify.sweeps.engine.stored_results`) and records the code version(s)
they came from; a missing cell is bad input (exit 2).  Ctrl-C exits 130 with one line saying how
many cells are finished and kept in the cache.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from verify.sweeps import engine
from verify.sweeps.registry import SWEEPS, SweepError, get

EXIT_OK, EXIT_INTERRUPTED = 0, 130


def main(args) -> int:
    """The ``sweep`` subcommand on parsed arguments (verify.cli); returns the exit status.
    Bad input raises SweepError (a ValueError: one line, exit 2, from verify.cli)."""
    if args.list:
        if args.name:
            raise SweepError(f"sweep --list takes no sweep name (got {args.name!r})")
        return list_sweeps()
    if not args.name:
        raise SweepError("sweep: name a sweep (see `python -m verify sweep --list`)")
    try:
        if getattr(args, "resummarise", False):
            resummarise(args.name, quick=args.quick, out=args.out, grid=args.grid)
        else:
            run_sweep(args.name, quick=args.quick, scheduler=args.scheduler,
                      workers=args.workers, out=args.out, grid=args.grid,
                      progress=args.progress)
    except engine.SweepInterrupted as e:
        print(str(e), file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def parse_grid(text: str | None) -> dict[str, list[float]]:
    """'M=2,3,4;n=2' -> {"M": [2, 3, 4], "n": [2]}.

    Strict: no option (None) means the sweep's own grid, but a given --grid must name at least
    one axis; every part is AXIS=v1,v2,... with a name and at least one number; an axis appears
    once; a lone trailing ';' is tolerated, empty parts elsewhere (';;;', 'M=2;;n=2') are not.
    """
    if text is None:
        return {}
    usage = "expected AXIS=v1,v2,... separated by ';', e.g. 'M=2,3;n=2'"
    parts = text.split(";")
    if len(parts) > 1 and not parts[-1].strip():
        parts = parts[:-1]
    out: dict[str, list[float]] = {}
    for part in parts:
        if not part.strip():
            raise SweepError(f"--grid: empty axis in {text!r}; {usage}")
        if "=" not in part:
            raise SweepError(f"--grid: {usage}, got {part!r}")
        name, vals = (x.strip() for x in part.split("=", 1))
        if not name:
            raise SweepError(f"--grid: a part has no axis name: {part!r}; {usage}")
        if name in out:
            raise SweepError(f"--grid: axis {name!r} given twice; list all its values once, "
                             f"e.g. '{name}=2,3,4'")
        if not vals:
            raise SweepError(f"--grid: axis {name!r} has no values; {usage}")
        items = vals.split(",")
        if any(not v.strip() for v in items):
            raise SweepError(f"--grid: axis {name!r} has an empty value in {vals!r}")
        try:
            out[name] = [float(v) for v in items]
        except ValueError:
            raise SweepError(f"--grid: axis {name!r} needs numbers, got {vals!r}") from None
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
    summary = _summarise(sweep, results, quick, grid, counts["code_version"])
    _write(target, summary, counts, scheduler, workers)
    if not quiet:
        _print(summary, f"{len(cells)} cells ({counts['cached']} cached, {counts['computed']} "
                        f"computed) in {counts['seconds']:.1f} s", target, out)
    return summary


def resummarise(name: str, *, quick: bool = False, out: str = "reports", grid: str | None = None,
                quiet: bool = False) -> dict:
    """Rebuild the summary of ``name`` over the grid from the cells on disk, computing nothing.
    The summary says ``"resummarised": true`` and which code version(s) made the cells."""
    sweep = get(name)
    cells = sweep.grid(quick, parse_grid(grid))
    target = sweep_dir(out, name)
    _check_writable(target)
    start = time.perf_counter()
    results, versions = engine.stored_results(sweep, cells, out)
    summary = _summarise(sweep, results, quick, grid,
                         versions[0] if len(versions) == 1 else versions)
    summary["resummarised"] = True
    counts = {"seconds": time.perf_counter() - start, "cached": len(cells), "computed": 0}
    _write(target, summary, counts, "none", None, resummarised=True)
    if not quiet:
        current = engine.code_version()
        note = "" if versions == [current] else f" (current code version {current})"
        _print(summary, f"resummarised {len(cells)} cells from the cache, 0 computed, "
                        f"code version {', '.join(versions)}{note}", target, out)
    return summary


def _summarise(sweep, results, quick, grid, version) -> dict:
    tier = "custom" if grid else ("quick" if quick else "full")
    summary = sweep.summarise(results, tier)
    summary["cells"] = len(results)
    summary["code_version"] = version
    return summary


def _write(target: Path, summary: dict, counts: dict, scheduler: str, workers: int | None,
           **extra) -> None:
    write_summary(target, summary)
    (target / "timings.json").write_text(json.dumps(
        {"seconds": round(counts["seconds"], 2), "cached": counts["cached"],
         "computed": counts["computed"], "scheduler": scheduler, "workers": workers,
         **{k: counts[k] for k in engine.CELL_SECONDS_KEYS if k in counts}, **extra},
        indent=1) + "\n", encoding="utf-8")


def _print(summary: dict, headline: str, target: Path, out: str) -> None:
    print(f"{summary['name']}: {headline}")
    for line in summary["text"]:
        print("  " + line)
    print(f"written to {target}/; `python -m verify report {out}` renders it into the report")


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
    from verify.report.figures import render_both
    from verify.report.io import write_bytes_atomic, write_text_atomic
    target.mkdir(parents=True, exist_ok=True)
    for f in summary["figures"]:
        rec = Figure(**dict(f, lines=[Line(**ln) for ln in f["lines"]]))
        svg, pdf = render_both(rec)
        write_bytes_atomic(target / f"{rec.id}.svg", svg)
        write_bytes_atomic(target / f"{rec.id}.pdf", pdf)
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
