"""Test configuration: mpmath backend and Hypothesis profile in the header, a `slow` marker
(registered in pyproject.toml, excluded by default), profiles extending Hypothesis's built-in
`ci` profile, and global mpmath precision reset around every test."""
import os

import mpmath
import pytest
from hypothesis import HealthCheck, settings

# `ci` is Hypothesis's built-in profile (derandomised, no deadline, print blobs), loaded
# automatically when CI is set; we extend it rather than replace it.
settings.register_profile(
    "ci-verify", parent=settings.get_profile("ci"), max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
_profile = os.environ.get("HYPOTHESIS_PROFILE") or ("ci-verify" if os.environ.get("CI") else "dev")
settings.load_profile(_profile)


def pytest_report_header(config):
    return [f"mpmath backend: {mpmath.libmp.BACKEND} (mpmath {mpmath.__version__})",
            f"hypothesis profile: {_profile}"]


@pytest.fixture(autouse=True)
def _reset_mpmath_precision():
    mpmath.mp.prec = 53
    yield
    assert mpmath.mp.prec == 53, "a test or the library left global mpmath precision changed"
    mpmath.mp.prec = 53


# The order in which pytest-xdist hands out test files (`--dist loadfile --no-loadscope-reorder` in
# pyproject.toml).  On a fresh checkout the first test of COMPILES_FIRST compiles the float64
# engine (about a minute; verify/jitcache.py makes every other process wait for that compile
# rather than repeat it), so the files right after it are ones that never call the engine --
# SymPy derivations, the Arb kernels, the report renderer, the certification: about 110 s of
# work, measured with an empty numba cache (nothing compiled) -- and the other worker runs them
# meanwhile instead of waiting on the compile lock.  The rest follow largest first, as xdist's
# own reorder would place them.  Only the order changes: a file that starts using the engine
# still passes, it merely waits for the compile.
COMPILES_FIRST = "tests/test_engine_f64.py"
ENGINE_FREE = ("tests/test_proofs.py", "tests/test_report.py", "tests/test_engine_arb_em.py",
               "tests/test_certify.py", "tests/test_engine_arb.py")


def file_order(counts: dict[str, int]) -> list[str]:
    """Test files (paths as in node ids, with their numbers of tests) in the order to run them."""
    def rank(path):
        if path == COMPILES_FIRST:
            return (0, 0, path)
        if path in ENGINE_FREE:
            return (1, ENGINE_FREE.index(path), path)
        return (2, -counts[path], path)
    return sorted(counts, key=rank)


def pytest_collection_modifyitems(session, config, items):
    by_file: dict[str, list] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::")[0], []).append(item)
    order = file_order({path: len(its) for path, its in by_file.items()})
    items[:] = [item for path in order for item in by_file[path]]
