"""The claimed-rate bound lines drawn on the loss figures (verify.claims.common.bound_line) and the
plain-math form of mean configurations (common.plain_tuple) that quantity names use."""
import math

import pytest

from verify.claims import common
from verify.claims.record import Line


def _slope(line):
    (x0, x1), (y0, y1) = line.x, line.y
    return math.log(y1 / y0) / math.log(x1 / x0)


@pytest.mark.parametrize("relation", ["<=", ">="])
def test_bound_line_bounds_every_point_and_passes_through_the_named_one(relation):
    xs = [1.0, 3.0, 10.0, 40.0, 200.0, 1e3, 1e4]
    ys = [0.9, 0.2, 0.3, 0.01, 2e-3, 5e-4, 1e-5]
    p = 0.5
    ref = common.bound_line(Line("d", xs, ys), p, relation, "O(tau^-0.5)")
    assert ref.kind == "reference" and ref.x == [xs[0], xs[-1]]
    assert abs(_slope(ref) + p) < 1e-12
    C = ref.y[0] * ref.x[0] ** p
    # every point lies on the claimed side of C tau^-p (a relative rounding margin only)
    for x, y in zip(xs, ys):
        bound = C * x ** -p
        assert (y <= bound * (1 + 1e-12)) if relation == "<=" else (y >= bound * (1 - 1e-12))
    # the extreme of y tau^p, found by brute force, is the labelled point and is on the line
    k = (max if relation == "<=" else min)(range(len(xs)), key=lambda i: ys[i] * xs[i] ** p)
    assert f"tau = {xs[k]:.3g}" in ref.label and "O(tau^-0.5)" in ref.label
    assert abs(C * xs[k] ** -p / ys[k] - 1) < 1e-12


def test_bound_line_skips_nonpositive_and_early_points_and_gives_none_without_data():
    ref = common.bound_line(Line("d", [0.5, 1, 10], [1e9, 0.0, 0.1]), 1.0, "<=", "O(1/tau)")
    assert ref.x == [10, 10] and "tau = 10" in ref.label
    assert common.bound_line(Line("d", [0.0, 0.5], [1.0, 1.0]), 1.0, "<=", "x") is None


def test_plain_tuple_writes_means_as_math_not_python_lists():
    assert common.plain_tuple([["0.8"], ["-1.3"]]) == "(0.8, -1.3)"
    assert common.plain_tuple([["0.3", "0.1"], ["-0.2", "0.05"]]) == "((0.3, 0.1), (-0.2, 0.05))"
    assert "[" not in common.plain_tuple([[1, 2], [3, 4], [5, 6]])
