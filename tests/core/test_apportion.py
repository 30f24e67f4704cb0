"""Areal and ancillary-point apportioning: totals kept, remainders reported."""
import numpy as np
import pytest

from composite_index_plugin.core.apportion import apportion
from composite_index_plugin.core.errors import CompositeIndexError


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


# ---- counts by area code (issue 17) -------------------------------------------------------
def test_parse_counts_reads_text_and_separators_and_reports():
    from composite_index_plugin.core.apportion import parse_counts

    res = parse_counts(["1,234", " 56 ", 7, None, "", "12,345.5", "1\u00a0000", 3.5])
    assert np.allclose(res.values, [1234, 56, 7, np.nan, np.nan, 12345.5, 1000, 3.5],
                       equal_nan=True)
    assert (res.n_text, res.n_separators, res.n_empty) == (4, 2, 2)
    assert res.empty_rows == ["row 4", "row 5"]
    assert "4 'n' value(s) stored as text were read as numbers (2 with thousands separators" in \
        res.summary("'n'")


@pytest.mark.parametrize("bad", ["n/a", "1.234,5", "12,34", "x", "1,2345", "--1"])
def test_parse_counts_refuses_what_is_not_a_number(bad):
    from composite_index_plugin.core.apportion import parse_counts

    with pytest.raises(CompositeIndexError, match=r"row 2 \(E2\) = "):
        parse_counts(["10", bad], ["row 1 (E1)", "row 2 (E2)"])


def test_parse_counts_refuses_negative_counts():
    from composite_index_plugin.core.apportion import parse_counts

    with pytest.raises(CompositeIndexError, match="negative"):
        parse_counts(["10", "-3"])


def test_join_by_code_lists_what_does_not_match():
    from composite_index_plugin.core.apportion import join_by_code

    j = join_by_code(["A", " B", "C", "", 1234], ["A", "B", "D", "1234.0"],
                     ["1,000", 20, "3", "4"], label="'pop'")
    assert np.allclose(j.values, [1000, 20, np.nan, np.nan, 4], equal_nan=True)
    assert (j.n_matched, j.table_only, j.boundary_only, j.n_boundary_empty_code) == \
        (3, ["D"], ["C"], 1)
    text = "\n".join(j.messages("'pop'"))
    assert "1 code(s) in the table have no boundary and are not used: D." in text
    assert "1 boundary(ies) have no row in the table and get no 'pop' (taken as 0): C." in text
    with pytest.raises(CompositeIndexError, match="more than once in the table: A"):
        join_by_code(["A"], ["A", "A"], [1, 2])
    with pytest.raises(CompositeIndexError, match="more than one feature of the boundaries: A"):
        join_by_code(["A", "A"], ["A"], [1])
    with pytest.raises(CompositeIndexError, match="No code of the boundaries is in the table"):
        join_by_code(["A"], ["B"], [1])
    with pytest.raises(CompositeIndexError, match=r"line 3 \(B\) = 'x'"):
        join_by_code(["A"], ["A", "B"], [1, "x"], row_labels=["line 2", "line 3"])
