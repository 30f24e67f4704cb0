"""Scaling of indicators: hand-computed values for every scaling, ties, direction, and
property tests (hypothesis) for the index invariants."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from composite_index_plugin.core import scaling
from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.index import build_index

X = np.array([2.0, 4.0, 4.0, 10.0])


def scale(values, **options):
    params = scaling.fit(values, options, "test")
    return scaling.apply(values, options, params, "test")


def test_zscore_uses_population_sd():
    # mean 5, population sd sqrt((9 + 1 + 1 + 25) / 4) = 3
    np.testing.assert_allclose(scale(X, scaling="zscore"), [-1, -1 / 3, -1 / 3, 5 / 3])
    np.testing.assert_allclose(scale(X, scaling="zscore", direction="lower_is_worse"),
                               [1, 1 / 3, 1 / 3, -5 / 3])


def test_minmax_and_range_100():
    np.testing.assert_allclose(scale(X, scaling="minmax"), [0, 0.25, 0.25, 1])
    np.testing.assert_allclose(scale(X, scaling="minmax", scale_to=100), [0, 25, 25, 100])
    np.testing.assert_allclose(scale(X, scaling="minmax", direction="lower_is_worse"), [1, 0.75, 0.75, 0])


def test_fixed_scalings_use_given_parameters():
    np.testing.assert_allclose(scale(X, scaling="minmax_fixed", min=0, max=20), [0.1, 0.2, 0.2, 0.5])
    np.testing.assert_allclose(scale(X, scaling="minmax_fixed", min=0, max=20, scale_to=100,
                                     direction="lower_is_worse"), [90, 80, 80, 50])
    np.testing.assert_allclose(scale(X, scaling="zscore_fixed", mean=4, sd=2), [-1, 0, 0, 3])


def test_percentile_rank_ties_share_the_needier_rank():
    # Need ranks from the top: 10 -> 1, the two 4s -> 2 (shared), 2 -> 4; rank N = highest need:
    # R = (N - need_rank + 1) / N = 1, 3/4, 3/4, 1/4.
    np.testing.assert_allclose(scale(X, scaling="rank"), [1, 3, 3, 4])
    np.testing.assert_allclose(scale(X, scaling="percentile"), [25, 75, 75, 100])
    np.testing.assert_allclose(scale(X, scaling="rank", direction="lower_is_worse"), [4, 3, 3, 1])


def test_exponential_transform_by_hand():
    c = 23.0
    expected = [-c * math.log(1 - r * (1 - math.exp(-100 / c))) for r in (0.25, 0.75, 0.75, 1.0)]
    np.testing.assert_allclose(scale(X, scaling="exponential"), expected, rtol=1e-14)
    assert scale(X, scaling="exponential")[3] == pytest.approx(100.0)
    c = 10.0
    expected = [-c * math.log(1 - r * (1 - math.exp(-100 / c))) for r in (0.25, 0.75, 0.75, 1.0)]
    np.testing.assert_allclose(scale(X, scaling="exponential", c=10), expected, rtol=1e-14)


def test_threshold_and_raw():
    np.testing.assert_array_equal(scale(X, scaling="threshold", threshold=4), [0, 1, 1, 1])
    np.testing.assert_array_equal(scale(X, scaling="threshold", threshold=4,
                                        direction="lower_is_worse"), [1, 1, 1, 0])
    np.testing.assert_array_equal(scale(X, scaling="raw"), X)
    np.testing.assert_array_equal(scale(X, scaling="raw", direction="lower_is_worse"), -X)


def test_all_equal_values_refused_under_zscore_and_minmax():
    with pytest.raises(CompositeIndexError, match="burglary.*same value.*standard deviation 0"):
        scaling.fit(np.full(5, 3.0), {"scaling": "zscore"}, "burglary")
    with pytest.raises(CompositeIndexError, match="max = min"):
        scaling.fit(np.full(5, 3.0), {"scaling": "minmax"}, "burglary")


def test_frozen_rank_scaling_places_values_in_the_baseline_distribution():
    base = np.arange(1.0, 101.0)
    params = dict(scaling.fit(base, {"scaling": "percentile"}, "t"), frozen=True)
    out = scaling.apply(np.array([0.0, 1.0, 50.0, 50.5, 100.0, 200.0]), {"scaling": "percentile"}, params)
    np.testing.assert_allclose(out, [1, 1, 50, 50.5, 100, 100])
    # Applied to its own data, a frozen scaling gives the same as ranking the data.
    np.testing.assert_allclose(scaling.apply(base, {"scaling": "percentile"}, params),
                               scale(base, scaling="percentile"))


# ------------------------------------------------------------------------------ properties

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
columns = arrays(np.float64, st.integers(3, 40), elements=finite).filter(
    lambda a: np.ptp(a) > 1e-3 * max(1.0, np.abs(a).max()))


def two_indicator_spec(scaling_name, direction="higher_is_worse"):
    inds = {"a": {"field": "a", "measure": "value", "scaling": scaling_name, "direction": direction},
            "b": {"field": "b", "measure": "value", "scaling": scaling_name}}
    return {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": inds}]}]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(a=columns, factor=st.floats(0.01, 1000), name=st.sampled_from(["zscore", "minmax", "rank"]),
       data=st.data())
def test_ranks_unchanged_when_an_indicator_is_multiplied_by_a_positive_constant(a, factor, name, data):
    b = data.draw(arrays(np.float64, len(a), elements=finite).filter(lambda v: np.ptp(v) > 1e-3 *
                                                                      max(1.0, np.abs(v).max())))
    # Keep values on a grid so multiplying cannot create or break ties by rounding.
    a, b = np.round(a, 2), np.round(b, 2)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return
    spec = two_indicator_spec(name)
    before = build_index(pd.DataFrame({"a": a, "b": b}), spec).table
    after = build_index(pd.DataFrame({"a": a * factor, "b": b}), spec).table
    if name == "rank":
        np.testing.assert_array_equal(before.ci_rank, after.ci_rank)
    else:
        np.testing.assert_allclose(before.ci_score, after.ci_score, rtol=1e-9, atol=1e-9)
        order_before = np.argsort(-before.ci_score.to_numpy(), kind="stable")
        assert np.allclose(after.ci_score.to_numpy()[order_before],
                           np.sort(after.ci_score.to_numpy())[::-1], atol=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(a=columns, name=st.sampled_from(["zscore", "minmax", "rank", "percentile", "exponential",
                                        "raw"]))
def test_reversing_twice_is_identity(a, name):
    a = np.round(a, 3)
    if np.ptp(a) == 0:
        return
    opts = {"scaling": name}
    s = scale(a, **opts)
    np.testing.assert_allclose(scaling.reverse(scaling.reverse(s, name), name), s)
    # Reversing the direction of -x gives the same scale as x (for every scaling).
    np.testing.assert_allclose(scale(-a, scaling=name, direction="lower_is_worse"), s,
                               rtol=1e-12, atol=1e-12)
    # Under z and min-max, direction lower_is_worse is exactly the reversed scale.
    if name in ("zscore", "minmax", "raw"):
        np.testing.assert_allclose(scale(a, scaling=name, direction="lower_is_worse"),
                                   scaling.reverse(s, name), rtol=1e-12, atol=1e-12)
