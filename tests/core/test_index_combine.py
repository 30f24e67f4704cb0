"""Aggregation methods (mean, sum, geometric, imd) with hand-computed values."""
import math

import numpy as np
import pytest

from composite_index_plugin.core.combine import combine, shares
from composite_index_plugin.core.errors import CompositeIndexError


def test_weighted_mean_and_sum():
    s = np.array([[1.0, 2.0], [3.0, 6.0]])
    score, contrib, _ = combine(s, [1, 3], "mean")
    np.testing.assert_allclose(score, [2.5, 5.0])         # (1 + 9) / 4, (2 + 18) / 4
    np.testing.assert_allclose(contrib, [[0.25, 0.5], [2.25, 4.5]])
    score, contrib, _ = combine(s, [1, 3], "sum")
    np.testing.assert_allclose(score, [10.0, 20.0])
    np.testing.assert_allclose(contrib.sum(axis=0), score)


def test_weighted_geometric_mean():
    s = np.array([[1.0, 4.0], [16.0, 4.0]])
    score, contrib, _ = combine(s, [3, 1], "geometric")
    np.testing.assert_allclose(score, [2.0, 4.0])          # exp((3 ln 1 + ln 16) / 4) = 2
    np.testing.assert_allclose(contrib.sum(axis=0), score)
    # Equal weights: plain geometric mean.
    score, _, _ = combine(np.array([[2.0], [8.0]]), [1, 1], "geometric")
    assert score[0] == pytest.approx(4.0)


def test_geometric_refused_on_zero_or_negative_children():
    s = np.array([[1.0, 0.0], [2.0, 3.0]])
    with pytest.raises(CompositeIndexError, match="theme 'x'.*victims has zero or negative"):
        combine(s, [1, 1], "geometric", names=["victims", "offenders"], where="theme 'x'")
    # A child with weight 0 takes no part, so its zeros do not matter.
    score, _, _ = combine(s, [0, 1], "geometric", names=["victims", "offenders"])
    np.testing.assert_allclose(score, [2.0, 3.0])


def test_imd_aggregation_ranks_transforms_and_sums():
    s = np.array([[1.0, 2.0, 3.0, 4.0], [40.0, 30.0, 20.0, 10.0]])

    def x(r, c=23.0):
        return -c * math.log(1 - r * (1 - math.exp(-100 / c)))

    score, contrib, fitted = combine(s, [0.6, 0.4], "imd")
    expected = [0.6 * x(r1) + 0.4 * x(r2) for r1, r2 in ((0.25, 1), (0.5, 0.75), (0.75, 0.5), (1, 0.25))]
    np.testing.assert_allclose(score, expected, rtol=1e-13)
    assert len(fitted) == 2 and fitted[0]["n"] == 4
    score10, _, _ = combine(s, [0.6, 0.4], "imd", c=10)
    assert score10[3] == pytest.approx(0.6 * x(1, 10) + 0.4 * x(0.25, 10))


def test_bad_weights_refused():
    s = np.ones((2, 3))
    with pytest.raises(CompositeIndexError, match="weights must be zero or positive"):
        combine(s, [1, -1], "mean", where="issue 'a'")
    with pytest.raises(CompositeIndexError, match="add up to more than zero"):
        combine(s, [0, 0], "sum", where="issue 'a'")


def test_shares_of_absolute_contributions():
    c = np.array([[1.0, -1.0, 0.0], [3.0, 3.0, 0.0]])
    np.testing.assert_allclose(shares(c), [[0.25, -0.25, 0.5], [0.75, 0.75, 0.5]])
