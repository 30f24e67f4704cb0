"""Counting onto grids and arbitrary zones, with exact hand-computed numbers."""
import numpy as np
import pytest

from composite_index_plugin.core.aggregate import (
    aggregate_role,
    check_issue_name,
    clean_weights,
    count_points,
    zone_index_for_grid,
)
from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.geometry import points_in_zones
from composite_index_plugin.core.grid import GridSpec


def _unit_squares(n):
    return [[np.array([(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)], dtype=float)]
            for j in range(n) for i in range(n)]


def test_grid_counts_with_edges_and_outside():
    g = GridSpec("square", 1.0)
    # zones: the 2 x 2 block of cells row 0..1, col 0..1, in an arbitrary layer order
    rows = np.array([1, 0, 0, 1])
    cols = np.array([1, 0, 1, 0])
    x = np.array([0.5, 1.0, 1.0, 0.0, 2.0, 1.9999, 1.5, -0.1])
    y = np.array([0.5, 1.0, 0.0, 1.5, 0.5, 1.9999, 2.0, 0.5])
    res = aggregate_role("victims", x, y, 4, grid=g, grid_index=(rows, cols),
                         weights=[1, 2, "x", None, 5, 6, 7, 8])
    # (0.5,.5)->(0,0); (1,1)->(1,1); (1,0)->(0,1); (0,1.5)->(1,0); (2,.5) outside (col 2);
    # (1.9999,1.9999)->(1,1); (1.5,2) outside (row 2); (-0.1,.5) outside.
    assert res.counts.tolist() == [2, 1, 1, 1]
    assert res.n_outside == 3
    assert res.weighted.tolist() == [2 + 6, 1, 0, 0]
    assert res.n_bad_weight == 2


def test_zone_counts_match_grid_counts_on_grid_shaped_zones():
    rng = np.random.default_rng(5)
    x = np.round(rng.uniform(-0.5, 4.5, 3000), 1)  # many points exactly on edges and vertices
    y = np.round(rng.uniform(-0.5, 4.5, 3000), 1)
    zones = _unit_squares(4)
    by_poly = aggregate_role("locations", x, y, 16, zone_rings=zones)
    g = GridSpec("square", 1.0)
    rows = np.repeat(np.arange(4), 4)
    cols = np.tile(np.arange(4), 4)
    by_grid = aggregate_role("locations", x, y, 16, grid=g, grid_index=(rows, cols))
    assert by_poly.counts.tolist() == by_grid.counts.tolist()
    assert by_poly.n_outside == by_grid.n_outside
    inside = (x >= 0) & (x < 4) & (y >= 0) & (y < 4)
    assert by_grid.counts.sum() == inside.sum()
    assert by_poly.n_multi_zone == 0


def test_overlapping_zones_count_once_per_zone():
    a = [np.array([(0, 0), (2, 0), (2, 2), (0, 2)], dtype=float)]
    b = [np.array([(1, 0), (3, 0), (3, 2), (1, 2)], dtype=float)]
    res = aggregate_role("offenders", [0.5, 1.5, 2.5, 5.0], [1, 1, 1, 1], 2, zone_rings=[a, b])
    assert res.counts.tolist() == [2, 2]
    assert res.n_multi_zone == 1
    assert res.n_outside == 1
    assert "overlapping" in res.summary()


def test_duplicated_grid_cells_refused():
    g = GridSpec("square", 1.0)
    with pytest.raises(CompositeIndexError, match="duplicated"):
        zone_index_for_grid(g, np.array([0, 0]), np.array([1, 1]), np.array([0.5]), np.array([0.5]))


def test_weights_and_issue_names():
    w, bad = clean_weights(["1.5", None, "abc", 2])
    assert bad == 2 and w[0] == 1.5 and w[3] == 2
    res = count_points("victims", 3, point_zone=[0, 2, 2, -1], weights=[1.0, np.nan, 3.0, 4.0])
    assert res.counts.tolist() == [1, 0, 2] and res.weighted.tolist() == [1.0, 0.0, 3.0]
    assert check_issue_name("domestic_abuse") == "domestic_abuse"
    for bad_name in ("Domestic", "1abc", "a-b", ""):
        with pytest.raises(CompositeIndexError):
            check_issue_name(bad_name)


# ---- many issues in one pass (issue 17) ----------------------------------------------------
def test_issue_codes_slug_mapping_and_selection():
    from composite_index_plugin.core.aggregate import issue_codes

    cats = ["Burglary", "burglary ", None, "Drugs", "Other  theft", "ASB"]
    codes, issues, none = issue_codes(cats)
    assert issues == ["asb", "burglary", "drugs", "other_theft"]
    assert codes.tolist() == [1, 1, -1, 2, 3, 0]
    assert none == {"": 1}
    mapping = {"Burglary": "burglary", "Other theft": "theft", "Drugs": "drugs"}
    codes, issues, none = issue_codes(cats, mapping)
    # the mapping's issues in its order, matched ignoring case and repeated spaces
    assert issues == ["burglary", "theft", "drugs"]
    assert codes.tolist() == [0, 0, -1, 2, 1, -1]
    assert none == {"": 1, "ASB": 1}
    codes, issues, none = issue_codes(cats, mapping, issues=["drugs", "robbery"])
    assert issues == ["drugs", "robbery"] and codes.tolist() == [-1, -1, -1, 0, -1, -1]
    assert sum(none.values()) == 5
    with pytest.raises(CompositeIndexError, match="cannot be used in field names"):
        issue_codes(cats, issues=["Bad Name"])
    with pytest.raises(CompositeIndexError, match="listed twice"):
        issue_codes(cats, issues=["drugs", "drugs"])


@pytest.mark.parametrize("overlap", [False, True])
def test_count_categories_equals_one_count_per_issue(overlap):
    """Grid (point -> zone) and polygons (pairs, with overlaps): each issue's column equals
    count_points on that issue's points alone, weights and left-out counts included."""
    from composite_index_plugin.core.aggregate import count_categories, issue_codes

    rng = np.random.default_rng(17)
    n = 5000
    x = np.round(rng.uniform(-0.5, 4.5, n), 1)
    y = np.round(rng.uniform(-0.5, 4.5, n), 1)
    cats = rng.choice(np.array(["Burglary", "Robbery", "Drugs", "", "Unknown"], dtype=object), n)
    weights = rng.integers(0, 5, n).astype(object)
    weights[rng.random(n) < 0.05] = "n/a"
    mapping = {"Burglary": "burglary", "Robbery": "robbery", "Drugs": "drugs"}
    codes, issues, none = issue_codes(cats, mapping)
    zones = _unit_squares(4)
    if overlap:
        zones.append([np.array([(0.5, 0.5), (2.5, 0.5), (2.5, 2.5), (0.5, 2.5)], dtype=float)])
        res = count_categories("locations", len(zones), codes, issues,
                               pairs=points_in_zones(x, y, zones), weights=weights, n_points=n,
                               no_issue=none)
    else:
        g = GridSpec("square", 1.0)
        rows = np.repeat(np.arange(4), 4)
        cols = np.tile(np.arange(4), 4)
        res = count_categories("locations", 16, codes, issues,
                               point_zone=zone_index_for_grid(g, rows, cols, x, y),
                               weights=weights, no_issue=none)
    assert res.n_no_issue == int(np.isin(cats, ["", "Unknown"]).sum()) > 0
    assert res.no_issue == {"": int((cats == "").sum()), "Unknown": int((cats == "Unknown").sum())}
    for k, issue in enumerate(issues):
        sel = cats == {v: c for c, v in mapping.items()}[issue]
        if overlap:
            one = aggregate_role("locations", x[sel], y[sel], len(zones), zone_rings=zones,
                                 weights=weights[sel])
        else:
            one = aggregate_role("locations", x[sel], y[sel], 16, grid=g, grid_index=(rows, cols),
                                 weights=weights[sel])
        got = res.role_counts(k)
        assert got.counts.tolist() == one.counts.tolist()
        assert np.array_equal(got.weighted, one.weighted)
        assert (got.n_points, got.n_outside, got.n_multi_zone, got.n_bad_weight) == \
            (one.n_points, one.n_outside, one.n_multi_zone, one.n_bad_weight)
        assert got.summary() == one.summary()
    assert int(res.counts.sum()) + int(res.n_outside.sum()) >= n - res.n_no_issue
    assert "with a category mapped to no issue" in res.summary()
