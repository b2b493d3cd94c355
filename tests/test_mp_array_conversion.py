"""The multiprecision paths never hand a whole numpy array to mpmath's scalar conversion.

``mpf + ndarray`` (scalar first) makes mpmath try to convert the array, and its refusal formats
the array's every element into the error message before numpy takes the operation over; the sum
is the same, but in the quadrature integrand that repr cost about 7 s of CPU per test run.  Each
path below runs with that conversion watched: an array reaching it fails the test, naming the
line.  (The arithmetic itself is commutative and correctly rounded either way round.)
"""
import traceback

import numpy as np
import pytest
from mpmath import ctx_mp_python

from verify import dynamics, model
from verify.claims import small_init
from verify.objectives import evaluate as objectives

C2 = [[0.3, -0.2], [-0.1, 0.25], [0.05, 0.1]]


@pytest.fixture
def array_conversions(monkeypatch):
    """Lines of library code that passed an ndarray to mpmath's scalar conversion."""
    seen = []
    original = ctx_mp_python.PythonMPContext.npconvert

    def npconvert(ctx, x):
        if isinstance(x, np.ndarray):
            frames = [f for f in traceback.extract_stack()[:-1] if "/verify/" in f.filename]
            seen.append(f"{frames[-1].filename}:{frames[-1].lineno}: {frames[-1].line}"
                        if frames else "outside verify/")
        return original(ctx, x)

    monkeypatch.setattr(ctx_mp_python.PythonMPContext, "npconvert", npconvert)
    return seen


def test_model_expectations(array_conversions):
    model.F(C2, 12, backend="mpmath")
    model.grad_F(C2, 12, backend="mpmath")
    model.grad_F(C2, 12, form="stein", backend="mpmath")
    model.em_direction(C2, 12, backend="mpmath")
    assert array_conversions == []


@pytest.mark.parametrize("name", ["gradient-em", "reverse-fisher"])
def test_objective_integrands(name, array_conversions):
    objectives.gradient(name, [[0.3], [-0.2]], 10, backend="mpmath")
    assert array_conversions == []


def test_gradient_descent_steps(array_conversions):
    dynamics.run_gd([[0.3], [-0.2]], 0.1, 2, digits=12, backend="mpmath")
    small_init.tracked_gd([[0.3], [-0.2]], 0.1, 2, 12, backend="mpmath")
    dynamics.run_gd([[0.3], [-0.2]], 0.1, 2, digits=12, backend="mpmath",
                    objective="gradient-em")
    assert array_conversions == []
