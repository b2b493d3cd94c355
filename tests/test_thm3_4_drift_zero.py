"""thm3.4's zero r_c of the far drift (near mean at 0): the float64 locator against the mpmath
quadrature, the certified bracket, and the Illinois fallback giving the same zero."""
from __future__ import annotations

import pytest

from proofs import far_drift
from verify.claims import c_thm3_4


@pytest.mark.parametrize("r", [1.0, 2.0, 2.4, 3.0, 6.0])
@pytest.mark.parametrize("m", [1, 2])
def test_drift_f64_against_the_mpmath_quadrature(r, m):
    """drift_f64 (composite Gauss-Legendre in float64) against drift_reference (mpmath tanh-sinh
    and Gauss-Legendre at 20 digits, proofs/far_drift.py), across the sign change of g."""
    g, err = far_drift.drift_reference(r, m, digits=20)
    assert abs(c_thm3_4.drift_f64(r, m) - float(g)) <= 1e-15 + float(err)


def test_drift_zero_is_a_certified_bracket_from_two_quadratures(monkeypatch):
    """The fast path: two mpmath quadratures (at r0 -+ tol/2) with opposite signs, each beyond its
    error estimate, so the zero lies within rc -+ err; err is tol/2."""
    calls = []
    real = far_drift.drift_reference

    def counting(r, m, digits=20):
        calls.append(r)
        return real(r, m, digits=digits)
    monkeypatch.setattr(far_drift, "drift_reference", counting)
    rc, err = c_thm3_4.drift_zero(2)
    assert len(calls) == 2
    assert err == pytest.approx(0.5e-9, rel=1e-3)
    lo, elo = real(rc - err, 2, digits=12)
    hi, ehi = real(rc + err, 2, digits=12)
    assert lo + elo < 0 < hi - ehi


def test_drift_zero_fallback_agrees_with_the_fast_path(monkeypatch):
    """Where the float64 locator misleads (here: a g with no sign change), the Illinois regula
    falsi on the mpmath quadrature gives the same zero within the two brackets."""
    rc, err = c_thm3_4.drift_zero(2)
    monkeypatch.setattr(c_thm3_4, "drift_f64", lambda r, m: 1.0)
    rc2, err2 = c_thm3_4.drift_zero(2)
    assert err2 <= 1e-9 and abs(rc - rc2) <= err + err2
    # a locator that is off by far more than the bracket: the check fails, the fallback answers
    monkeypatch.setattr(c_thm3_4, "drift_f64", lambda r, m: r - 2.0)
    rc3, err3 = c_thm3_4.drift_zero(2)
    assert err3 <= 1e-9 and abs(rc - rc3) <= err + err3
    g_lo, e_lo = far_drift.drift_reference(rc3 - err3, 2, digits=12)
    g_hi, e_hi = far_drift.drift_reference(rc3 + err3, 2, digits=12)
    assert g_lo + e_lo < 0 < g_hi - e_hi


def test_drift_zero_refuses_a_range_without_a_sign_change():
    with pytest.raises(ArithmeticError):
        c_thm3_4.drift_zero(2, lo=3.0, hi=5.0)
