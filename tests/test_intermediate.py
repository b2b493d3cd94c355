"""Tests of the open-regime sweep (verify.sweeps.intermediate, issue 22 item 3): its per-mean rule,
the boundary extraction of its summary, and agreement with the split-threshold sweep's threshold."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from verify.sweeps import beyond_summaries as bs
from verify.sweeps import intermediate as im


def test_rule_classes():
    dist = [[3.0, 3.0, 3.0], [1.0, 1.2, 4.0], [0.3, 1.3, 5.0], [0.2, 1.4, 6.0], [0.1, 1.5, 7.0],
            [0.05, 1.6, 8.0]]
    cls, how = im.classify(dist)
    assert cls == ["converging", "diverging", "diverging"]
    assert how == ["run", "run", "run"]
    # growing over only the last two records: decided by the far law (another mean converged)
    dist2 = [r[:] for r in dist]
    dist2[2][1] = 1.45
    cls2, how2 = im.classify(dist2)
    assert cls2[1] == "diverging" and how2[1] == "far law"
    # nobody converged: the same mean stays undecided
    dist3 = [[r[1], r[2]] for r in dist2]
    assert im.classify(dist3)[0][0] == "undecided"


def test_boundaries():
    pts = [(-6.0, 3), (-5.0, 3), (-4.0, 2), (-3.0, 2), (-2.0, 1), (-1.0, 1), (0.0, 1)]
    assert bs._boundaries(pts, 3) == (-4.5, -2.5)
    assert bs._boundaries([(-2.0, 3), (0.0, 3)], 3) == (None, None)
    assert bs._boundaries([(-2.0, None), (-1.0, 3), (0.0, 1)], 3) == (-0.5, -0.5)


@pytest.mark.slow
def test_agrees_with_the_split_threshold_sweep():
    """One decade below the committed split threshold delta*(M = 4, n = 3, d = 2, seed 0) every
    mean converges; at delta = 1 they do not all converge (the bisection there is an independent
    computation of the same boundary)."""
    p = Path(__file__).resolve().parents[1] / "reports" / "sweeps" / "split-threshold" / "summary.json"
    if not p.exists():
        pytest.skip("no committed split-threshold summary")
    rows = json.loads(p.read_text())["table"]["rows"]
    row = [r for r in rows if r[0] == 3 and r[1] == 2 and r[2] == "4" and r[3] == 0][0]
    lg_star = float(row[4].split("±")[0])
    below = im.intermediate_cell(4.0, 3, math.floor(lg_star) - 1.0, 0)
    assert below["classes"] == ["converging"] * 3
    above = im.intermediate_cell(4.0, 3, 0.0, 0)
    assert above["converging"] < 3 and above["undecided"] == 0
