"""Grid definition, enumeration and binning by arithmetic, against hand-computed layouts and
an independent point-in-polygon on the cell vertices."""
import math

import numpy as np
import pytest

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.geometry import points_in_rings
from composite_index_plugin.core.grid import (
    GridSpec,
    cell_area,
    check_cell_limit,
    lattice_row_x,
    lattice_row_y,
    lattice_rows,
    size_from_area,
    snap_origin,
)


def test_square_binning_edges_and_corners():
    g = GridSpec("square", 10)
    row, col = g.bin([0, 10, 9.999, 10, -0.001, 25], [0, 0, 10, 10, 5, -5])
    assert col.tolist() == [0, 1, 0, 1, -1, 2]
    assert row.tolist() == [0, 0, 1, 1, 0, -1]
    assert g.cell_ids([1, -1], [0, 2]) == ["S10_r1_c0", "S10_r-1_c2"]


def test_hexagon_geometry_numbers():
    g = GridSpec("hex_flat", 100)
    assert g.radius == pytest.approx(100 / math.sqrt(3))
    assert cell_area("hex_flat", 100) == pytest.approx(8660.254037844386)
    assert size_from_area("hex_pointy", 8660.254037844386) == pytest.approx(100)
    assert size_from_area("square", 2500) == pytest.approx(50)
    cx, cy = g.centres([0, 1, 0], [0, 0, 1])
    assert cx.tolist() == pytest.approx([0, 86.60254037844386, 0])
    assert cy.tolist() == pytest.approx([0, 50, 100])
    v = g.vertices(np.array([0]), np.array([0]))[0]
    # flat top: the top edge is horizontal at y = size / 2
    assert v[1, 1] == pytest.approx(50) and v[2, 1] == pytest.approx(50)
    assert g.cell_ids([3], [-4]) == ["H100_q3_r-4"]
    p = GridSpec("hex_pointy", 100)
    cx, cy = p.centres([1, 0], [0, 1])
    assert cx.tolist() == pytest.approx([100, 50])
    assert cy.tolist() == pytest.approx([0, 86.60254037844386])


def test_hex_edge_rule_flat_top():
    g = GridSpec("hex_flat", 100)
    # On the horizontal edge between (0,0) and (0,1): goes north to (0,1).
    q, r = g.bin([0.0, 10.0], [50.0, 50.0])
    assert list(zip(q.tolist(), r.tolist())) == [(0, 1), (0, 1)]
    # Vertex shared by (0,0), (1,0), (1,-1)... the east vertex of (0,0) at (R, 0): goes to the
    # cells further east, the one further north: (1,-1) centre (86.6,-50) vs (1,0) centre (86.6,50).
    q, r = g.bin([g.radius], [0.0])
    assert (q[0], r[0]) == (1, 0)


def test_hex_edge_rule_pointy_top():
    g = GridSpec("hex_pointy", 100)
    # Vertical edge between (0,0) and (1,0) at x = 50: goes east.
    q, r = g.bin([50.0, 50.0], [0.0, 10.0])
    assert q.tolist() == [1, 1] and r.tolist() == [0, 0]


@pytest.mark.parametrize("shape", ["square", "hex_flat", "hex_pointy"])
def test_binning_agrees_with_point_in_polygon(shape):
    # Independent check with our crossing-number test on the cell vertices (the QgsGeometry
    # check on 100,000 points is in tests/processing/test_creategrid.py).
    g = GridSpec(shape, 37.5, 3.0, -7.0)
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-300, 300, 20000), rng.uniform(-300, 300, 20000)
    a, b = g.bin(x, y)
    cx, cy = g.centres(a, b)
    assert np.all(np.hypot(x - cx, y - cy) <= g.size / math.sqrt(2) + 1e-9)
    cells = np.unique(np.stack([a, b], axis=1), axis=0)
    found = np.zeros(len(x), dtype=int)
    for ca, cb in cells:
        ring = g.vertices(np.array([ca]), np.array([cb]))[0]
        found += points_in_rings(x, y, [ring]).astype(int) * ((a == ca) & (b == cb))
    assert found.sum() == len(x)


def test_cells_in_box_counts_and_cover():
    for shape in ("square", "hex_flat", "hex_pointy"):
        g = GridSpec(shape, 10)
        box = (3.0, -12.0, 97.0, 55.0)
        a, b = g.cells_in_box(*box)
        assert len(a) == g.count_cells(*box)
        assert len(np.unique(np.stack([a, b], 1), axis=0)) == len(a)
        rng = np.random.default_rng(3)
        x, y = rng.uniform(box[0], box[2], 5000), rng.uniform(box[1], box[3], 5000)
        pa, pb = g.bin(x, y)
        keys = set(zip(a.tolist(), b.tolist()))
        assert all(k in keys for k in zip(pa.tolist(), pb.tolist()))
    g = GridSpec("square", 10)
    assert g.count_cells(0, 0, 99.9, 49.9) == 50


def test_cell_limit_message_names_count_and_size():
    g = GridSpec("square", 1)
    with pytest.raises(CompositeIndexError) as err:
        check_cell_limit(g, (0, 0, 1999.5, 999.5), max_cells=1000)
    text = str(err.value)
    assert "2,000,000 cells" in text and "limit of 1,000" in text
    assert "at least 46" in text  # sqrt(2000) * 1.02 = 45.6 -> 46


def test_bad_size_refused_and_snap():
    with pytest.raises(CompositeIndexError):
        GridSpec("square", 0)
    with pytest.raises(CompositeIndexError):
        GridSpec("hex_flat", -5)
    assert snap_origin(1234.5, 100) == 1200
    assert snap_origin(-1.0, 100, anchor=50) == -50


def test_boundary_cells_catch_corner_clips_and_wkb():
    from composite_index_plugin.core.geometry import rings_from_wkb
    from composite_index_plugin.core.grid import boundary_cells, encode_keys, polygon_wkb

    g = GridSpec("square", 10)
    # a triangle whose edge x + y = 19.95 clips the corner of cell (row 0, col 0) near (10, 10);
    # no boundary sample falls in that cell (samples at (9.975, 11.975) and (11.63, 8.32)).
    ring = np.array([(5.0, 14.95), (14.95, 5.0), (20.0, 20.0), (5.0, 14.95)])
    keys = set(boundary_cells(g, [ring]).tolist())
    assert encode_keys([0], [0])[0] in keys
    assert encode_keys([-2], [-2])[0] not in keys
    v = g.vertices(np.array([0, 2]), np.array([1, -3]))
    blobs = polygon_wkb(v)
    assert len(blobs) == 2 and len(blobs[0]) == 13 + 5 * 16
    assert np.array_equal(rings_from_wkb(blobs[1])[0], v[1])


@pytest.mark.parametrize("shape", ["square", "hex_flat", "hex_pointy"])
@pytest.mark.parametrize("size, x0, y0", [(100.0, 0.0, 0.0), (333.3, 17.25, -3.5), (0.7, -1e5, 6e5)])
def test_lattice_rows_give_the_cells_centre_y_to_the_last_bit(shape, size, x0, y0):
    """``lattice_row_y`` of a cell's lattice row is the very double ``GridSpec.centres`` gives
    its centre y (the centre-inside tests of grids and overlays compare crossings on a row with
    centres, so a last-bit difference would move a cell on an edge), for negative and positive
    indices; and ``j`` places the centre x along the row (to rounding)."""
    spec = GridSpec(shape, size, x0, y0)
    rng = np.random.default_rng(11)
    a = rng.integers(-50_000, 50_000, 20_000)
    b = rng.integers(-50_000, 50_000, 20_000)
    cx, cy = spec.centres(a, b)
    row, j = lattice_rows(spec, a, b)
    assert lattice_row_y(spec, row).tobytes() == cy.tobytes()
    off, step = lattice_row_x(spec, row)
    assert np.allclose(off + step * j, cx, rtol=0, atol=1e-9 * (abs(x0) + size * 1e5))
    # cells one row apart are one row step apart in y
    up = {"square": (a + 1, b), "hex_pointy": (a, b + 1), "hex_flat": (a + 1, b)}[shape]
    assert np.array_equal(lattice_rows(spec, *up)[0], row + 1)
