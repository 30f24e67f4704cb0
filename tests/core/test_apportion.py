"""Areal and ancillary-point apportioning: totals kept, remainders reported."""
import pytest

from composite_index_plugin.core.apportion import apportion


def test_area_weighting_full_cover_keeps_total_exactly():
    # two sources of area 4 and 2; three zones cut them into pieces
    res = apportion([100, 30], [4.0, 2.0], [0, 0, 1, 1], [0, 1, 1, 2], [1.0, 3.0, 0.5, 1.5], 3)
    assert res.values.tolist() == pytest.approx([25.0, 75.0 + 7.5, 22.5])
    assert res.passed_on == pytest.approx(130.0, abs=1e-12)
    assert res.uncovered == 0.0
    assert res.n_partly_covered == 0


def test_tiny_area_mismatch_is_normalised_and_partial_cover_reported():
    # pieces of source 0 add to 4 - 1e-9 (rounding of intersections): still passed on in full;
    # source 1 covered only half: 10 of its 20 remain uncovered; source 2 not covered at all.
    res = apportion([100, 20, 7], [4.0, 2.0, 1.0], [0, 0, 1], [0, 1, 1],
                    [2.0, 2.0 - 1e-9, 1.0], 2)
    assert res.values.sum() == pytest.approx(100 + 10)
    assert res.values[0] == pytest.approx(100 * 2.0 / (4.0 - 1e-9))
    assert res.uncovered == pytest.approx(10 + 7)
    assert res.n_partly_covered == 1 and res.n_uncovered_sources == 1
    assert res.source_total == pytest.approx(res.passed_on + res.uncovered)


def test_overlapping_zones_do_not_double_count():
    res = apportion([60], [2.0], [0, 0], [0, 1], [2.0, 1.0], 2)
    assert res.values.tolist() == pytest.approx([40.0, 20.0])
    assert res.n_overlapping_sources == 1


def test_null_values_reported():
    res = apportion([None, "12"], [1.0, 1.0], [0, 1], [0, 0], [1.0, 1.0], 1)
    assert res.values.tolist() == [12.0] and res.n_null_values == 1


def test_ancillary_points_share_by_count_and_fall_back_to_area():
    # source 0 (value 90): 3 address points, 2 in zone 0 and 1 in zone 1 -> 60 / 30 (its areas
    # would say 45 / 45). Source 1 (value 10) has no points: area weighting, all to zone 1.
    res = apportion([90, 10], [2.0, 1.0], [0, 0, 1], [0, 1, 1], [1.0, 1.0, 1.0], 2,
                    ancillary_source=[0, 0, 0, -1], ancillary_pairs=([0, 1, 2, 3], [0, 0, 1, 1]))
    assert res.values.tolist() == pytest.approx([60.0, 40.0])
    assert res.n_area_fallback == 1
    # one of three points outside every zone: a third of the value is the uncovered remainder
    res = apportion([90], [2.0], [0], [0], [2.0], 1,
                    ancillary_source=[0, 0, 0], ancillary_pairs=([0, 1], [0, 0]))
    assert res.values.tolist() == pytest.approx([60.0])
    assert res.uncovered == pytest.approx(30.0)
