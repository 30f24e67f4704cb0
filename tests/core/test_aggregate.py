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
