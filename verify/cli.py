"""Command line: each subcommand parses its arguments and calls a plain function.

Every path ends in a result or in exactly one line on stderr:

* exit 0: everything ran (whatever the verdicts);
* exit 1: a check errored, the engine could not reach the accuracy asked (the line gives the
  reason), the report could not be published, or -- with ``--strict`` -- a verdict is REFUTED or
  INCONCLUSIVE;
* exit 2: bad input (the line names the argument);
* exit 130: interrupted by Ctrl-C (finished records are kept, see :mod:`verify.claims.runner`).

No traceback reaches the user; ``VERIFY_DEBUG=1`` prints it for an unexpected internal error.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import traceback

from verify import messages

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_MESSAGE = 400


class BadInput(ValueError):
    """Bad command-line input (argparse's complaints included)."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting (one line, our format).

    A value that starts with a minus followed by a digit, a point or inf/nan (``--params
    '-1;-2'``, ``--target -1,0``, ``--t -.5``) is read as a value, never as an option: no option
    of ours looks like that (argparse's own rule only covers plain numbers such as ``-1``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(?:\d|\.\d|inf|nan)", re.IGNORECASE)

    def error(self, message):
        raise BadInput(f"{self.prog.replace('python -m verify', '').strip() or 'verify'}: {message}")


def one_line(msg: str) -> str:
    """Collapse whitespace and cut to MAX_MESSAGE characters."""
    return messages.one_line(msg, MAX_MESSAGE)


def _json(text: str, option: str):
    try:
        return json.loads(text, parse_float=str, parse_int=str)
    except ValueError as e:
        raise BadInput(f"{option}: not valid JSON ({e})") from None


def _params(text: str, option: str = "--params") -> list:
    """Parse '1,0;0,1' (vectors separated by ';', entries by ',') or JSON [[1,0],[0,1]].

    Entries stay strings (read exactly by the library).  JSON must be a list of lists: a flat
    list such as [10,20] is refused rather than read as vectors of its characters.
    """
    text = text.strip()
    if text.startswith("["):
        doc = _json(text, option)
        if not isinstance(doc, list) or not all(isinstance(row, list) for row in doc):
            raise BadInput(f"{option}: JSON must be a list of vectors, e.g. [[1,0],[0,1]]")
        return doc
    rows = [row for row in text.split(";")]
    if not text or any(not row.strip() for row in rows):
        raise BadInput(f"{option}: expected vectors separated by ';' with entries separated by ',' "
                       f"(e.g. '1,0;0,1'), got {text!r}")
    return [[x.strip() for x in row.split(",")] for row in rows]


def _vector(text: str, option: str = "--target") -> list:
    """Parse one vector: '0,0' or JSON [0,0]."""
    text = text.strip()
    if text.startswith("["):
        doc = _json(text, option)
        if not isinstance(doc, list) or any(isinstance(x, (list, dict)) for x in doc):
            raise BadInput(f"{option}: JSON must be one vector, e.g. [0,0]")
        return doc
    if not text or ";" in text:
        raise BadInput(f"{option}: expected one vector with entries separated by ',' (e.g. '0,0'), "
                       f"got {text!r}")
    return [x.strip() for x in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m verify",
                description="Check the claims of 'Convergence Dynamics of Over-Parameterized "
                            "Score Matching for a Single Gaussian'.",
                epilog="Exit status: 0 ran, 1 a check errored or the accuracy asked was not "
                       "reached, 2 bad input, 130 interrupted.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def run_opts(sp):
        sp.add_argument("--quick", action="store_true", help="the quick tier (a few minutes)")
        sp.add_argument("--seed", type=int, default=20260101, help="base seed (default 20260101)")
        sp.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
        sp.add_argument("--out", default="reports",
                        help="report directory (default reports/); records merge into its "
                             "results.json")
        sp.add_argument("--json", action="store_true", help="print the records as JSON on stdout")
        sp.add_argument("--strict", action="store_true",
                        help="exit 1 on REFUTED or INCONCLUSIVE too")
        sp.add_argument("--no-report", action="store_true", help="skip writing reports")
        sp.add_argument("--progress", action="store_true", default=None,
                        help="force progress display (default: when stderr is a terminal)")

    sub.add_parser("list", help="claim IDs with one-line statements")
    sp = sub.add_parser("all", help="check every claim and write the reports")
    run_opts(sp)
    sp = sub.add_parser("run", help="check the named claims (merged into the existing report)")
    sp.add_argument("ids", nargs="+", metavar="ID")
    run_opts(sp)
    sp = sub.add_parser("falsify", help="run the claims' false twins; exit 0 only if every "
                                        "twin is REFUTED")
    sp.add_argument("ids", nargs="*", metavar="ID")
    sp.add_argument("--quick", action="store_true", help="the quick tier's evidence")
    sp.add_argument("--seed", type=int, default=20260101, help="base seed (default 20260101)")
    sp.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    sp = sub.add_parser("derive", help="print the SymPy derivations with their checks")
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    sp = sub.add_parser("report", help="re-render reports from a saved results.json")
    sp.add_argument("source", nargs="?", default="reports", help="results.json or its directory")
    sp.add_argument("--out", default=None, help="output directory (default: the source's)")
    sp = sub.add_parser("bench", help="side-by-side timings, printed as ratios")
    sp.add_argument("--quick", action="store_true", help="fewer repetitions and a shorter run (c)")
    sp.add_argument("--json", action="store_true", help="also print one JSON summary object")
    sp.add_argument("--tiers", action="store_true",
                    help="also time the quick and full tiers and the full one-converges and "
                         "split-threshold sweeps (subprocesses, temp dirs; long: use an idle "
                         "machine)")
    sp.add_argument("--against", metavar="REV", default=None,
                    help="time the paper objective's engine here and in git revision REV, "
                         "alternately, and print this/REV ratios (REV checked out into a "
                         "temporary worktree)")
    sp = sub.add_parser("sweep", help="run a parameter sweep (Dask) and write its summary")
    sp.add_argument("name", nargs="?", metavar="NAME", help="split-threshold, one-converges, "
                                                             "thm3.4-map")
    sp.add_argument("--list", action="store_true", help="list the sweeps and their grids")
    sp.add_argument("--quick", action="store_true", help="the coarse grid (under 2 minutes)")
    sp.add_argument("--scheduler", default="local",
                    help="'local' (a LocalCluster started and stopped here, default), 'none' "
                         "(serial, in this process) or tcp://HOST:PORT of a running scheduler")
    sp.add_argument("--workers", type=int, default=None,
                    help="worker processes of the local cluster (default: cores)")
    sp.add_argument("--grid", default=None, help="override axes, e.g. 'M=2,3;n=2'")
    sp.add_argument("--out", default="reports", help="report directory (cells and summary go "
                                                     "to OUT/sweeps/NAME/)")
    sp.add_argument("--progress", action="store_true", default=None,
                    help="force the progress bar (default: when stderr is a terminal)")
    sp.add_argument("--resummarise", action="store_true",
                    help="rebuild the summary from the cached cells only (computes nothing)")
    for name in ("loss", "gradient"):
        sp = sub.add_parser(name, help=f"evaluate the population {name} once")
        sp.add_argument("--params", required=True, help="'m1;m2;...' e.g. '1,0;0,1' or JSON")
        sp.add_argument("--target", required=True, help="m*, e.g. '0,0' or JSON [0,0]")
        sp.add_argument("--t", default="0", help="noise level t >= 0")
        sp.add_argument("--digits", type=int, default=None,
                        help="significant digits wanted (see verify.api for the maximum)")
        sp.add_argument("--dps", type=int, default=None, help="fixed working precision (digits)")
        sp.add_argument("--parameterisation", choices=("noised", "clean"), default="noised")
        sp.add_argument("--objective", default="forward-fisher",
                        choices=("forward-fisher", "gradient-em", "reverse-fisher", "time-averaged"),
                        help="the objective (SPEC §6; default the paper's forward-fisher)")
        sp.add_argument("--t-range", default=None, metavar="T0,T1",
                        help="the time average's range in t (default 0,1)")
        sp.add_argument("--no-strict", action="store_true",
                        help="print the value with its error and the digits reached even when "
                             "they fall short of --digits (default: exit 1)")
        if name == "gradient":
            sp.add_argument("--form", choices=("direct", "stein", "pathwise", "score"),
                            default=None, help="gradient form (direct/stein for forward-fisher, "
                                               "pathwise/score for reverse-fisher)")
            sp.add_argument("--accuracy", choices=("quantity", "per-mean"), default="quantity",
                            help="digits relative to the whole gradient's norm (default) or to "
                                 "each mean's own gradient block (per-mean)")
    return p


def _fail(msg: str, code: int) -> int:
    print(f"error: {one_line(msg)}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (never raises, except SystemExit from --help).

    Called as the program (``argv`` None: ``python -m verify`` and the ``verify`` script), a
    command that ends interrupted ignores any further Ctrl-C from then on, so the exit status
    stays 130: a Ctrl-C while the interpreter exits (joining the pool's threads, running exit
    handlers) would otherwise kill it by SIGINT or print a traceback from an exit handler."""
    import signal
    global _as_program
    _as_program = argv is None
    try:
        code = _main(argv)
    except KeyboardInterrupt:  # a Ctrl-C just as the command returned
        code = _interrupted()
    if argv is None and code == EXIT_INTERRUPTED:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


_as_program = False   # main() runs as the program (argv None), not called in-process


def _interrupted() -> int:
    from verify import interrupt
    interrupt.note()
    print("interrupted", file=sys.stderr)
    if _as_program:
        # An object the Ctrl-C caught half-built (an llvmlite handle inside numba's compiler,
        # seen when bench was stopped 1 s in) fails in its __del__ once the interrupt's frames
        # are freed, after the line above, and Python prints "Exception ignored ... Traceback"
        # below it.  The command has said it was interrupted and exits 130: what those
        # half-built objects report is that interrupt's aftermath, so it is not printed.
        sys.unraisablehook = lambda _unraisable: None
    return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    from verify.quadrature import InaccurateError
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help / --version: argparse printed it
            return EXIT_OK if not e.code else EXIT_BAD_INPUT
        if args.command is None:
            raise BadInput("a command is required (list, all, run, falsify, derive, report, bench, sweep, "
                           "loss, gradient); see --help")
        return _dispatch(args, argv)
    except KeyboardInterrupt:
        return _interrupted()
    except InaccurateError as e:
        return _fail(f"the engine could not reach the accuracy asked: {e}", EXIT_FAILED)
    except ValueError as e:
        return _fail(str(e), EXIT_BAD_INPUT)
    except RecursionError as e:
        return _fail(f"input too deeply nested ({e})", EXIT_BAD_INPUT)
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        return _fail(f"{e.strerror or e}{where}", EXIT_FAILED)
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, exit 1
        from verify.claims.runner import PublishError
        if isinstance(e, PublishError):
            return _fail(str(e), EXIT_FAILED)
        if isinstance(e, (ArithmeticError, MemoryError)):
            return _fail(f"the computation failed: {type(e).__name__}: {e}", EXIT_FAILED)
        if os.environ.get("VERIFY_DEBUG"):
            traceback.print_exc()
        return _fail(f"internal error ({type(e).__name__}: {e}); please report it, "
                     "VERIFY_DEBUG=1 shows the traceback", EXIT_FAILED)


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def _evaluate(args) -> int:
    from verify import api
    kw = dict(digits=args.digits, dps=args.dps, parameterisation=args.parameterisation,
              objective=args.objective, t_range=_t_range(args.t_range), strict=not args.no_strict)
    params, target = _params(args.params), _vector(args.target)
    if args.command == "loss":
        r = api.loss(params, target, args.t, **kw)
        errs = [r.error]
    else:
        r = api.gradient(params, target, args.t, form=args.form, accuracy=args.accuracy, **kw)
        errs = [e for row in r.error for e in row]
    if not all(_finite(e) for e in errs):
        return _fail("the engine could not bound the error of this evaluation (error estimate "
                     f"not finite; {r.precision.describe()})", EXIT_FAILED)
    if args.command == "loss":
        name = "loss" if args.objective == "forward-fisher" else args.objective
        print(f"{name} = {r.value}  (error <= {float(r.error):.3g}; {r.precision.describe()}; "
              f"{r.rule.get('rule')}{_digits_note(r)})")
    else:
        for i, (row, err) in enumerate(zip(r.value, r.error)):
            print(f"grad[{i}] = {[str(x) for x in row]}  (error <= {max(float(e) for e in err):.3g})")
        print(f"({r.precision.describe()}; {r.rule.get('rule')}{_digits_note(r)})")
    return EXIT_OK


def _digits_note(r) -> str:
    """'; k of D digits' (significant digits the error bound certifies, of those asked), with
    the reason when short; empty when the engine did not measure them."""
    k, asked = r.rule.get("digits_reached"), r.rule.get("digits_asked", r.precision.digits)
    if k is None:
        return ""
    got = "all" if k == math.inf else ("0" if k <= 0 else f"{k:.1f}")
    per = " per mean" if r.rule.get("per") == "per-mean" else ""
    if k >= asked:
        return f"; {got} digits certified{per} ({asked} asked)"
    note = f"; {got} of {asked} digits{per}"
    if not r.ok and r.rule.get("unresolved"):
        note += f" -- short: {r.rule['unresolved']}"
    return note


def _t_range(text: str | None):
    """'T0,T1' -> (T0, T1) for the time-averaged objective (None: its default)."""
    if text is None:
        return None
    parts = [x.strip() for x in text.split(",")]
    try:
        t0, t1 = (float(x) for x in parts)
    except ValueError:
        raise BadInput(f"--t-range: expected two numbers T0,T1, got {text!r}") from None
    if not (math.isfinite(t0) and math.isfinite(t1) and 0 <= t0 < t1):
        raise BadInput(f"--t-range: need 0 <= T0 < T1 (finite), got {text!r}")
    return (t0, t1)


def _report(args) -> int:
    """Re-render from saved records into --out (default: the source's directory), as one set."""
    from pathlib import Path

    from verify.claims import record as rec
    from verify.report import io as report_io
    from verify.report import rerender
    source = Path(args.source)
    results = source / "results.json" if source.is_dir() else source
    if not results.exists():
        hint = " (run `python -m verify all` first, or name a results.json)" \
            if args.source == "reports" else ""
        raise BadInput(f"report: no results file at {results}{hint}")
    if not results.is_file():
        raise BadInput(f"report: {results} is not a file")
    try:
        rec.loads(results.read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise BadInput(f"report: {results}: {e}") from None
    out = args.out if args.out is not None else str(results.parent)
    report_io.check_out_dir(out)
    from verify.sweeps.cli import load_summaries
    sweeps = load_summaries(results.parent)
    for pth in report_io.publish(out, lambda d: rerender(results, d, sweeps=sweeps)):
        print(pth)
    return EXIT_OK


def _dispatch(args, argv) -> int:
    cmd = args.command
    if cmd in ("loss", "gradient"):
        return _evaluate(args)
    if cmd == "derive":
        from verify.derive_cmd import run_derive
        return run_derive(args.names or None, latex=args.latex)
    if cmd == "bench":
        from verify.bench import run_bench
        if args.against:
            from verify.bench import run_against
            return run_against(args.against, quick=args.quick, as_json=args.json)
        return run_bench(quick=args.quick, as_json=args.json, tiers=args.tiers)
    if cmd == "report":
        return _report(args)
    if cmd == "falsify":
        from verify.claims.falsify import run_falsify
        return run_falsify(args.ids, quick=args.quick, seed=args.seed, jobs=args.jobs)
    if cmd == "sweep":
        from verify.sweeps import cli as sweep_cli
        return sweep_cli.main(args)
    from verify.claims import runner
    if cmd == "list":
        return runner.list_claims()
    ids = None if cmd == "all" else args.ids
    return runner.run_claims(ids, quick=args.quick, seed=args.seed, jobs=args.jobs, out=args.out,
                             as_json=args.json, strict=args.strict, report=not args.no_report,
                             progress=args.progress,
                             argv=list(argv) if argv is not None else None)
