"""Command line: each subcommand parses its arguments and calls a plain function.

Exit status: 0 when everything ran (whatever the verdicts), 1 when a check errored (or, with
``--strict``, when a verdict is REFUTED or INCONCLUSIVE), 2 for bad input (a one-line message,
no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys


def _params(text: str):
    """Parse '1,0;0,1' (vectors separated by ';', entries by ',') or JSON [[1,0],[0,1]]."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text, parse_float=str, parse_int=str)
    return [[x.strip() for x in row.split(",")] for row in text.split(";") if row.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verify",
                                description="Check the claims of 'Convergence Dynamics of "
                                            "Over-Parameterized Score Matching for a Single Gaussian'.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def run_opts(sp):
        sp.add_argument("--quick", action="store_true", help="the quick tier (a few minutes)")
        sp.add_argument("--seed", type=int, default=20260101, help="base seed (default 20260101)")
        sp.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
        sp.add_argument("--out", default="reports", help="report directory (default reports/)")
        sp.add_argument("--json", action="store_true", help="print the records as JSON on stdout")
        sp.add_argument("--strict", action="store_true",
                        help="exit 1 on REFUTED or INCONCLUSIVE too")
        sp.add_argument("--no-report", action="store_true", help="skip writing reports")
        sp.add_argument("--progress", action="store_true", default=None,
                        help="force progress display (default: when stderr is a terminal)")

    sub.add_parser("list", help="claim IDs with one-line statements")
    sp = sub.add_parser("all", help="check every claim and write the reports")
    run_opts(sp)
    sp = sub.add_parser("run", help="check the named claims")
    sp.add_argument("ids", nargs="+", metavar="ID")
    run_opts(sp)
    sp = sub.add_parser("derive", help="print the SymPy derivations with their checks")
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    sp = sub.add_parser("report", help="re-render reports from a saved results.json")
    sp.add_argument("source", nargs="?", default="reports", help="results.json or its directory")
    sp.add_argument("--out", default=None, help="output directory (default: the source's)")
    sp = sub.add_parser("bench", help="side-by-side timings, printed as ratios")
    sp.add_argument("--quick", action="store_true", help="fewer repetitions and a shorter run (c)")
    for name in ("loss", "gradient"):
        sp = sub.add_parser(name, help=f"evaluate the population {name} once")
        sp.add_argument("--params", required=True, help="'m1;m2;...' e.g. '1,0;0,1' or JSON")
        sp.add_argument("--target", required=True, help="m*, e.g. '0,0'")
        sp.add_argument("--t", default="0", help="noise level t >= 0")
        sp.add_argument("--digits", type=int, default=None)
        sp.add_argument("--dps", type=int, default=None)
        sp.add_argument("--parameterisation", choices=("noised", "clean"), default="noised")
        if name == "gradient":
            sp.add_argument("--form", choices=("direct", "stein"), default="direct")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed its message
        return int(e.code or 0) and 2
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _dispatch(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    cmd = args.command
    if cmd in ("loss", "gradient"):
        from verify import api
        kw = dict(digits=args.digits, dps=args.dps, parameterisation=args.parameterisation)
        target = _params(args.target)[0]
        if cmd == "loss":
            r = api.loss(_params(args.params), target, args.t, **kw)
            print(f"loss = {r.value}  (error <= {float(r.error):.3g}; {r.precision.describe()}; "
                  f"{r.rule.get('rule')})")
        else:
            r = api.gradient(_params(args.params), target, args.t, form=args.form, **kw)
            for i, (row, err) in enumerate(zip(r.value, r.error)):
                print(f"grad[{i}] = {[str(x) for x in row]}  (error <= {max(float(e) for e in err):.3g})")
            print(f"({r.precision.describe()}; {r.rule.get('rule')})")
        return 0
    if cmd == "derive":
        from verify.derive_cmd import run_derive
        return run_derive(args.names or None, latex=args.latex)
    if cmd == "bench":
        from verify.bench import run_bench
        return run_bench(quick=args.quick)
    if cmd == "report":
        from verify.report import rerender
        paths = rerender(args.source, args.out or (args.source if not args.source.endswith(".json")
                                                  else None))
        for pth in paths:
            print(pth)
        return 0
    from verify.claims import runner
    if cmd == "list":
        return runner.list_claims()
    ids = None if cmd == "all" else args.ids
    return runner.run_claims(ids, quick=args.quick, seed=args.seed, jobs=args.jobs, out=args.out,
                             as_json=args.json, strict=args.strict, report=not args.no_report,
                             progress=args.progress)
