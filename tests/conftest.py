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
