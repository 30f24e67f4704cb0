"""Neighbour graphs: grids by arithmetic, distance band and k nearest against brute force,
polygon contiguity against the queen weights shipped with PySAL's columbus data."""
import json
import os

import numpy as np
import pytest

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.neighbours import (
    MAX_NEIGHBOURS,
    Neighbours,
    distance_band,
    grid_contiguity,
    hex_contiguity,
    knn,
    knn_arrays,
    mean_kth_neighbour_distance,
    min_band_all_have_neighbour,
    polygon_contiguity_from_rings,
    read_gal,
)

PYSAL = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "pysal")


def columbus_rings():
    with open(os.path.join(PYSAL, "columbus", "columbus.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    zones = []
    for feat in data["features"]:
        geom = feat["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        zones.append([np.asarray(ring, dtype=float) for poly in polys for ring in poly])
    return zones


def brute_distances(x, y):
    d = np.sqrt((x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2)
    np.fill_diagonal(d, np.inf)
    return d


# -- CSR basics ---------------------------------------------------------------------------------
def test_from_pairs_drops_self_and_repeats_and_sorts():
    nb = Neighbours.from_pairs(4, [0, 0, 0, 1, 2, 2, 3], [2, 1, 2, 1, 3, 0, 0])
    assert nb.to_lists() == [[1, 2], [], [0, 3], [0]]
    assert nb.counts.tolist() == [2, 0, 2, 1]
    assert nb.islands.tolist() == [1]
    assert not nb.is_symmetric()
    assert nb.symmetrised().to_lists() == [[1, 2, 3], [0], [0, 3], [0, 2]]


def test_lag_row_standardised_and_subset():
    nb = Neighbours.from_lists([[1, 2], [0], [0, 1]])
    x = np.array([1.0, 10.0, 100.0])
    assert nb.lag(x).tolist() == [110.0, 1.0, 11.0]
    assert nb.lag(x, nb.row_standardised_weights()).tolist() == [55.0, 1.0, 5.5]
    sub = nb.subset(np.array([True, False, True]))
    assert sub.to_lists() == [[1], [0]]
    alone = nb.subset(np.array([False, True, True]))
    assert alone.to_lists() == [[], [0]]     # old 1 lost its only neighbour; old 2 keeps old 1
    with pytest.raises(ValueError):
        Neighbours(np.array([0, 2]), np.array([0, 5]))


def test_with_self_adds_the_diagonal():
    nb = Neighbours.from_lists([[1], [0, 2], [1]])
    indptr, indices, weights = nb.with_self()
    assert indptr.tolist() == [0, 2, 5, 7]
    assert indices.tolist() == [0, 1, 0, 1, 2, 1, 2]
    assert weights.tolist() == [1.0] * 7


# -- grids --------------------------------------------------------------------------------------
def test_square_grid_queen_and_rook_counts():
    r, c = np.meshgrid(np.arange(5), np.arange(4), indexing="ij")
    queen = grid_contiguity(r.ravel(), c.ravel(), queen=True)
    rook = grid_contiguity(r.ravel(), c.ravel(), queen=False)
    assert queen.counts.reshape(5, 4).tolist() == [[3, 5, 5, 3], [5, 8, 8, 5], [5, 8, 8, 5],
                                                  [5, 8, 8, 5], [3, 5, 5, 3]]
    assert rook.counts.reshape(5, 4).tolist() == [[2, 3, 3, 2], [3, 4, 4, 3], [3, 4, 4, 3],
                                                 [3, 4, 4, 3], [2, 3, 3, 2]]
    # cell (1, 1) = index 5: rook 1, 4, 6, 9; queen adds 0, 2, 8, 10
    assert rook.neighbours_of(5).tolist() == [1, 4, 6, 9]
    assert queen.neighbours_of(5).tolist() == [0, 1, 2, 4, 6, 8, 9, 10]
    assert queen.is_symmetric() and rook.is_symmetric()


def test_square_grid_with_missing_cells_and_negative_indices_in_any_order():
    # an L of cells with negative indices, shuffled: (-1,-1) (-1,0) (0,-1); (5,5) alone
    row = np.array([0, -1, 5, -1])
    col = np.array([-1, 0, 5, -1])
    queen = grid_contiguity(row, col)
    assert queen.to_lists() == [[1, 3], [0, 3], [], [0, 1]]
    rook = grid_contiguity(row, col, queen=False)
    assert rook.to_lists() == [[3], [3], [], [0, 1]]
    assert rook.islands.tolist() == [2]


def test_grid_refuses_duplicate_cells():
    with pytest.raises(CompositeIndexError, match=r"share the row/col indices \(2, 3\)"):
        grid_contiguity([2, 1, 2], [3, 3, 3])


def test_hex_axial_flower():
    # a centre and its six axial neighbours, plus one cell two steps away
    q = np.array([0, 1, -1, 0, 0, 1, -1, 2])
    r = np.array([0, 0, 0, 1, -1, -1, 1, 0])
    nb = hex_contiguity(q, r)
    assert nb.neighbours_of(0).tolist() == [1, 2, 3, 4, 5, 6]
    # (2, 0) touches (1, 0) and (1, 1)? (1, 1) is absent; it touches (1, 0) and (2, -1)? absent
    assert nb.neighbours_of(7).tolist() == [1]
    # (1, 0) touches centre, (2, 0), (1, -1) = 5 and (0, 1) = 3
    assert nb.neighbours_of(1).tolist() == [0, 3, 5, 7]
    assert nb.is_symmetric()


@pytest.mark.parametrize("kind", ["queen", "rook", "hex"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_graph_equals_the_pair_list_built_cell_by_cell(kind, seed):
    """The grid graph (built as a sorted table of offsets) is the graph ``from_pairs`` gives for
    the links found by a dictionary lookup cell by cell: same row pointers, same neighbour lists
    in the same order, no weights; on shuffled cells with holes, negative indices and a lone
    cell."""
    rng = np.random.default_rng(seed)
    a, b = np.meshgrid(np.arange(-7, 23), np.arange(-3, 38), indexing="ij")
    keep = rng.random(a.size) > 0.3
    a, b = a.ravel()[keep], b.ravel()[keep]
    a, b = np.append(a, 400), np.append(b, -400)            # far from every other cell
    order = rng.permutation(len(a))
    a, b = a[order], b[order]
    offsets = {"queen": [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)],
               "rook": [(-1, 0), (1, 0), (0, -1), (0, 1)],
               "hex": [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)]}[kind]
    where = {(int(x), int(y)): i for i, (x, y) in enumerate(zip(a, b))}
    pairs = [(i, where[(x + da, y + db)]) for i, (x, y) in enumerate(zip(a.tolist(), b.tolist()))
             for da, db in offsets if (x + da, y + db) in where]
    want = Neighbours.from_pairs(len(a), [p[0] for p in pairs], [p[1] for p in pairs])
    got = hex_contiguity(a, b) if kind == "hex" else grid_contiguity(a, b, queen=kind == "queen")
    assert got.weights is None and got.indices.dtype == np.int64
    assert np.array_equal(got.indptr, want.indptr)
    assert np.array_equal(got.indices, want.indices)
    assert got.counts[np.flatnonzero(order == len(a) - 1)[0]] == 0   # the lone cell
    assert len(pairs) > 1000


# -- distance band and k nearest ----------------------------------------------------------------
@pytest.mark.parametrize("n,d", [(7, 30.0), (400, 4.0), (2500, 2.5), (2500, 7.0)])
def test_distance_band_equals_brute_force(n, d):
    rng = np.random.default_rng(n)
    x = rng.random(n) * 100
    y = rng.random(n) * 60
    x[:2] += 500                       # far outliers: islands
    nb = distance_band(x, y, d)
    dist = brute_distances(x, y)
    expected = [np.flatnonzero(dist[i] <= d).tolist() for i in range(n)]
    assert nb.to_lists() == expected


def test_distance_band_is_inclusive_on_a_grid():
    r, c = np.divmod(np.arange(20), 5)
    x, y = c * 100.0, r * 100.0
    assert distance_band(x, y, 100.0).counts.tolist() == \
        grid_contiguity(r, c, queen=False).counts.tolist()
    assert distance_band(x, y, 100.0 * np.sqrt(2)).to_lists() == grid_contiguity(r, c).to_lists()


def test_distance_band_guard_names_a_band_that_fits():
    r, c = np.divmod(np.arange(60 * 60), 60)
    x, y = c * 10.0, r * 10.0
    with pytest.raises(CompositeIndexError) as err:
        distance_band(x, y, 250.0)
    text = str(err.value)
    assert "1,000" in text and "neighbours" in text
    fit = float(text.split("distance band of at most ")[1].split(" ")[0])
    assert 150.0 < fit < 250.0
    nb = distance_band(x, y, fit)            # the suggested band is accepted
    assert nb.counts.max() <= MAX_NEIGHBOURS
    with pytest.raises(CompositeIndexError, match="positive"):
        distance_band(x, y, 0)


@pytest.mark.parametrize("n,k", [(12, 1), (12, 11), (500, 4), (3000, 8)])
def test_knn_equals_brute_force(n, k):
    rng = np.random.default_rng(7 + n)
    x = rng.random(n) * 1000
    y = rng.random(n) * 10          # very elongated extent
    x[:3] = [1e6, 1e6 + 5, -1e6]    # isolated points need the wide search
    idx, dist = knn_arrays(x, y, k)
    d = brute_distances(x, y)
    ref = np.argsort(d, axis=1, kind="stable")[:, :k]
    assert np.array_equal(idx, ref)
    assert np.allclose(dist, np.take_along_axis(d, ref, axis=1))
    nb = knn(x, y, k)
    assert nb.counts.tolist() == [k] * n


def test_knn_ties_go_to_the_lower_index_and_graph_is_not_symmetric():
    x = np.array([0.0, 1.0, -1.0, 5.0])
    y = np.zeros(4)
    idx, dist = knn_arrays(x, y, 1)
    assert idx[:, 0].tolist() == [1, 0, 0, 1]
    assert dist[:, 0].tolist() == [1.0, 1.0, 1.0, 4.0]
    assert not knn(x, y, 1).is_symmetric()
    with pytest.raises(CompositeIndexError, match="at least 5 zones"):
        knn(x, y, 4)
    with pytest.raises(CompositeIndexError, match="more than the 2 allowed"):
        knn(x, y, 3, max_neighbours=2)


def test_min_band_gives_everyone_a_neighbour_and_no_less_does():
    rng = np.random.default_rng(3)
    x = rng.random(300) * 50
    y = rng.random(300) * 50
    x[0] = 80.0                       # the loneliest point decides
    band = min_band_all_have_neighbour(x, y)
    d = brute_distances(x, y)
    assert band == pytest.approx(d.min(axis=1).max(), rel=1e-8)
    assert distance_band(x, y, band).islands.size == 0
    assert distance_band(x, y, band * 0.999).islands.tolist() == [0]
    k3 = mean_kth_neighbour_distance(x, y, 3)
    assert k3 == pytest.approx(np.sort(d, axis=1)[:, 2].mean())


def test_invalid_coordinates_are_refused_by_position():
    with pytest.raises(CompositeIndexError, match="first: feature 1"):
        distance_band([0.0, np.nan, 2.0], [0.0, 0.0, 0.0], 1.0)


# -- polygons and GAL ---------------------------------------------------------------------------
def test_polygon_queen_reproduces_columbus_gal():
    gal, ids = read_gal(os.path.join(PYSAL, "columbus", "columbus.gal"))
    assert gal.n == 49 and ids[:3] == ["1", "2", "3"]
    assert gal.counts.sum() == 236
    assert sorted(gal.neighbours_of(0).tolist()) == [1, 2]     # "1 2 / 2 3" in the file
    queen = polygon_contiguity_from_rings(columbus_rings(), queen=True)
    assert [sorted(a) for a in queen.to_lists()] == [sorted(b) for b in gal.to_lists()]
    rook = polygon_contiguity_from_rings(columbus_rings(), queen=False)
    # rook is a subset of queen (corner-only contacts removed)
    for a, b in zip(rook.to_lists(), queen.to_lists()):
        assert set(a) <= set(b)
    assert rook.counts.sum() == 200


def square(cx, cy, s=1.0):
    return [np.array([[cx, cy], [cx + s, cy], [cx + s, cy + s], [cx, cy + s], [cx, cy]])]


def test_polygon_rook_needs_a_shared_edge_queen_a_shared_vertex():
    zones = [square(0, 0), square(1, 0), square(1, 1), square(5, 5), []]
    queen = polygon_contiguity_from_rings(zones, queen=True)
    rook = polygon_contiguity_from_rings(zones, queen=False)
    assert queen.to_lists() == [[1, 2], [0, 2], [0, 1], [], []]
    assert rook.to_lists() == [[1], [0, 2], [1], [], []]
    # float noise on a shared vertex: exact matching misses it, a tolerance snaps it
    noisy = [square(0, 0), [square(1, 0)[0] + np.array([1e-9, 0.0])]]
    assert polygon_contiguity_from_rings(noisy).to_lists() == [[], []]
    assert polygon_contiguity_from_rings(noisy, tolerance=1e-6).to_lists() == [[1], [0]]


def test_read_gal_with_four_token_header(tmp_path):
    path = tmp_path / "w.gal"
    path.write_text("0 3 test ID\n10 2\n20 30\n20 1\n10\n30 0\n\n", encoding="utf-8")
    nb, ids = read_gal(str(path))
    assert ids == ["10", "20", "30"]
    assert nb.to_lists() == [[1, 2], [0], []]


@pytest.mark.parametrize("shape", ["hex_flat", "hex_pointy", "square"])
def test_grid_arithmetic_equals_shared_vertices_of_the_grid_cells(shape):
    """Axial offsets agree with the geometry that core.grid draws, for both hexagon orientations
    (shared vertices snapped: the hexagon corners come from cos/sin)."""
    from composite_index_plugin.core.grid import GridSpec

    spec = GridSpec(shape, 100.0, 0.0, 0.0)
    a, b = np.meshgrid(np.arange(-4, 5), np.arange(-3, 6), indexing="ij")
    a, b = a.ravel(), b.ravel()
    keep = (a + b) % 5 != 0                     # holes, so some cells lose neighbours
    a, b = a[keep], b[keep]
    rings = spec.vertices(a, b)
    by_geometry = polygon_contiguity_from_rings([[r] for r in rings], queen=True, tolerance=1e-6)
    by_index = hex_contiguity(a, b) if shape != "square" else grid_contiguity(a, b, queen=True)
    assert by_index.to_lists() == by_geometry.to_lists()
    rook = polygon_contiguity_from_rings([[r] for r in rings], queen=False, tolerance=1e-6)
    if shape == "square":
        assert grid_contiguity(a, b, queen=False).to_lists() == rook.to_lists()
    else:
        assert by_index.to_lists() == rook.to_lists()    # hexagons: queen = rook


def test_rows_are_made_once_read_only_and_follow_the_graph():
    nb = Neighbours(np.array([0, 2, 3, 3]), np.array([1, 2, 0]))
    rows = nb.rows()
    assert rows.tolist() == [0, 0, 1] and nb.rows() is rows       # made once, kept
    with pytest.raises(ValueError):
        rows[0] = 5                                                # callers cannot change it
    nb.indptr = np.array([0, 1, 2, 3])                             # another structure
    assert nb.rows().tolist() == [0, 1, 2]
    assert nb.lag([1.0, 2.0, 3.0]).tolist() == [2.0, 3.0, 1.0]
