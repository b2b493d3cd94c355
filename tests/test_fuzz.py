"""Fuzzing the library API and the command line with random arguments (issue 15, item 4).

Contract under test:

* the API (``verify.loss``, ``verify.gradient``) either returns a result with a finite error or
  raises ``ValueError`` (bad input, naming the argument) or ``InaccurateError`` (the engine could
  not reach the accuracy asked) -- no other exception, no hang, no result with ``error <= inf``;
* the CLI (``verify.cli.main``, called in-process) never lets an exception escape, exits 0, 1 or 2,
  and on 1 or 2 writes exactly one line to stderr (and on 1 it is not an "internal error").

Every call runs under a wall-clock guard (``GUARD_S``): a call that exceeds it fails the test as a
hang.  Numeric arguments are kept cheap (small n, d, digits), the strange ones are what is fuzzed.
``VERIFY_FUZZ_EXAMPLES=500`` runs a longer campaign.
"""
import contextlib
import io
import math
import os
import signal
import tempfile

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import verify
from verify.cli import main
from verify.quadrature import InaccurateError

GUARD_S = 20.0
FUZZ = settings(max_examples=int(os.environ.get("VERIFY_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class Hang(BaseException):
    """A call exceeded the guard (BaseException, so no ``except Exception`` can swallow it)."""


@contextlib.contextmanager
def guard(seconds: float = GUARD_S):
    def on_alarm(signum, frame):
        raise Hang(f"call did not return within {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --- values: mostly strange, sometimes a cheap valid configuration -----------------------------

numbers = st.one_of(
    st.integers(-5, 5),
    st.floats(-20, 20, allow_nan=False),
    st.sampled_from(["0.5", "-1.25", "1e-300", "1e300", "1e400", "-1e400", "1e100000", "nan", "inf",
                     "-inf", "", " ", "abc", "0x10", "1_000", "--1", "1e", "١"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10 ** 400), 10 ** 400),
    st.none(), st.booleans(), st.text(max_size=5),
)
vectors = st.one_of(st.lists(numbers, min_size=0, max_size=3), numbers, st.text(max_size=6),
                    st.dictionaries(st.text(max_size=2), numbers, max_size=2))
params = st.one_of(
    st.lists(st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=2).map(tuple),
             min_size=2, max_size=4).map(lambda rows: [list(r) for r in rows]),
    st.lists(vectors, min_size=0, max_size=4),
    st.text(max_size=8), numbers,
    st.lists(st.text(max_size=3), min_size=2, max_size=3),          # ['10', '20']
)
digits = st.one_of(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12), st.integers(-5, 0), st.integers(10 ** 4, 2 ** 80), st.none(),
                   st.floats(allow_nan=True), st.booleans(), st.text(max_size=3))
t_values = st.one_of(st.just(0), st.floats(0, 5), st.just(0), st.floats(0, 5), numbers, st.just(10 ** 400), st.just("1e100000"))
def choice(good):
    """A valid choice most of the time, sometimes not."""
    return st.sampled_from(list(good) * 6 + [None, "", good[0].upper(), 1])


def _check_result(r):
    errs = [r.error] if not isinstance(r.error, list) else [e for row in r.error for e in row]
    for e in errs:
        try:
            f = float(e)
        except OverflowError:
            f = math.inf
        assert math.isfinite(f) and f >= 0, f"a result with error {e!r}"


entries = st.one_of(st.floats(-4, 4, allow_nan=False), st.integers(-4, 4),
                    st.floats(-4, 4, allow_nan=False),
                    st.sampled_from(["0.5", "-1.5", "1e-200", "3/2", "1e400", "1e3", "nan", "x"]))


@st.composite
def configs(draw):
    """(params, target): half the time n vectors and a target of one length d (entries mostly
    valid), otherwise anything."""
    if draw(st.integers(0, 3)):
        n, d = draw(st.integers(1, 4)), draw(st.integers(1, 2))
        rows = draw(st.lists(st.lists(entries, min_size=d, max_size=d), min_size=n, max_size=n))
        return rows, draw(st.lists(entries, min_size=d, max_size=d))
    return draw(params), draw(vectors)


@FUZZ
@given(configs(), t_values, digits, st.one_of(st.none(), st.none(), st.none(), st.integers(-5, 5000)),
       choice(["noised", "clean"]), choice(["direct", "stein"]), st.booleans())
@example((["10", "20"], [0, 0]), 0, None, None, "noised", "direct", False)
@example(([[1], [0]], [0]), 10 ** 400, 10, None, "clean", "direct", True)
@example(([[1], [0]], [0]), "1e100000", 10, None, "clean", "direct", True)
@example(([[1], [0]], [0]), 0, 2 ** 70, None, "noised", "direct", False)
@example(([[1], [0]], [0]), 0, None, 10 ** 5, "noised", "direct", False)
def test_api_raises_only_value_or_inaccurate_errors(config, t, dig, dps, param, form, grad):
    p, target = config
    kw = dict(digits=dig, dps=dps, parameterisation=param)
    try:
        with guard():
            if grad:
                r = verify.gradient(p, target, t, form=form, **kw)
            else:
                r = verify.loss(p, target, t, **kw)
    except (ValueError, InaccurateError):
        return
    _check_result(r)


# --- the command line ---------------------------------------------------------------------------

_WORK = tempfile.mkdtemp(prefix="verify-fuzz-")  # cwd for the CLI calls: no stray reports/ here

tokens = st.one_of(st.text(max_size=8), st.sampled_from(
    ["1,0;0,1", "1;0", "0", "0,0", "[10,20]", "[[1],[2]]", "[1", "1e400;0", "1;;0", ";", ",",
     "nan", "-1", "0.5", "1e100000", "clean", "stein", "20", "100000", "-3", "", "--", "-h"]))
options = st.sampled_from(["--params", "--target", "--t", "--digits", "--dps", "--parameterisation",
                           "--form", "--out", "--jobs", "--seed", "--quick", "--json", "--bogus"])
commands = st.one_of(st.sampled_from(["loss", "gradient", "report", "run", "list"]),
                     st.text(max_size=6).filter(lambda s: s not in ("all", "bench", "derive")))


@st.composite
def argvs(draw):
    cmd = draw(commands)
    argv = [cmd]
    if cmd in ("loss", "gradient") and draw(st.booleans()):
        argv += ["--params", draw(tokens), "--target", draw(tokens)]
    if cmd == "run":  # ids that are not claims: the run stops before computing anything
        argv += ["no-such-" + draw(st.text(max_size=4))]
    for _ in range(draw(st.integers(0, 4))):
        opt = draw(options)
        argv += [opt] if opt in ("--quick", "--json") else [opt, draw(tokens)]
    if draw(st.booleans()):
        argv += draw(st.lists(tokens, max_size=2))
    return argv


@FUZZ
@given(argvs())
@example(["loss", "--params", "1;0", "--target", ""])
@example(["loss", "--params", "[10,20]", "--target", "0,0"])
@example(["loss", "--params", "1;0", "--target", "0", "--digits", "100000"])
@example(["loss", "--params", "1e400;0", "--target", "0"])
@example(["report"])
@example(["report", "/proc/verify-none", "--out", "/proc/x"])
@example(["run", "no-such", "--out", "/sys/x"])
@example([])
def test_cli_ends_in_a_status_and_at_most_one_line(argv):
    err, out = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(_WORK)
    try:
        with guard(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(argv)
    finally:
        os.chdir(here)
    text = err.getvalue()
    assert rc in (0, 1, 2), (argv, rc, text)
    assert "Traceback" not in text, (argv, text)
    if rc in (1, 2):
        lines = text.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), (argv, text)
        assert "internal error" not in lines[0], (argv, text)
    assert not os.listdir(_WORK), (argv, os.listdir(_WORK))   # bad input writes nothing


# --- sweep grids: parsed strictly (issue 24 item 5) ---------------------------------------------

grid_names = st.sampled_from(["M", "n", "d", "seed", "M0", "", " "])
grid_values = st.lists(st.sampled_from(["2", "3.5", "-1", "", " ", "x", "1e3"]), min_size=0,
                       max_size=3)


@FUZZ
@given(st.lists(st.tuples(grid_names, grid_values), max_size=4), st.booleans())
def test_grid_parts_are_kept_or_refused_never_dropped(parts, trailing):
    """An independent reading of the documented grammar: every part is NAME=v1,v2,... with a
    name, at least one value and only numbers, each name once (one trailing ';' allowed); such a
    grid parses to exactly those axes, anything else raises SweepError (exit 2 in the CLI)."""
    from verify.sweeps.cli import parse_grid
    from verify.sweeps.definitions import SweepError
    text = ";".join(f"{name}={','.join(vals)}" for name, vals in parts) + (";" if trailing else "")

    def number(v):
        try:
            float(v)
            return True
        except ValueError:
            return False
    names = [name.strip() for name, _ in parts]
    valid = (parts and all(name.strip() for name in names) and len(set(names)) == len(names)
             and all(vals and all(number(v) for v in vals) for _, vals in parts))
    if valid:
        assert parse_grid(text) == {name.strip(): [float(v) for v in vals] for name, vals in parts}
    else:
        try:
            got = parse_grid(text)
        except SweepError:
            return
        raise AssertionError(f"{text!r} was accepted as {got}")
