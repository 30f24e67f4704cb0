"""Point in polygon, areas and WKB parsing on hand-made shapes."""
import struct

import numpy as np
import pytest

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.geometry import (
    PointIndex,
    points_from_wkb_array,
    points_in_rings,
    points_in_zones,
    polygon_area,
    rings_from_wkb,
)

SQ = np.array([(0, 0), (2, 0), (2, 2), (0, 2)], dtype=float)


def test_square_inside_outside_and_edges():
    x = np.array([1, 3, 0, 2, 1, 1, 0, 2, 2])
    y = np.array([1, 1, 1, 1, 0, 2, 0, 0, 2])
    got = points_in_rings(x, y, [SQ])
    # west edge in, east edge out, south edge in, north edge out; SW corner in, SE, NE out
    assert got.tolist() == [True, False, True, False, True, False, True, False, False]


def test_hole_excluded_and_area():
    hole = np.array([(0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5)])
    assert points_in_rings([1.0, 0.25], [1.0, 0.25], [SQ, hole]).tolist() == [False, True]
    assert polygon_area([SQ, hole]) == pytest.approx(4 - 1)
    assert polygon_area([SQ]) == pytest.approx(4)
    # two parts, one with a hole
    far = SQ + 10
    assert polygon_area([SQ, hole, far]) == pytest.approx(7)


def test_shared_edges_and_vertices_of_a_partition_go_to_one_zone():
    # 3 x 3 unit squares plus a triangle split: every lattice point and edge point once.
    zones = []
    for i in range(3):
        for j in range(3):
            zones.append([np.array([(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)], dtype=float)])
    gx, gy = np.meshgrid(np.arange(0, 3.01, 0.5), np.arange(0, 3.01, 0.5))
    x, y = gx.ravel(), gy.ravel()
    pts, zs = points_in_zones(x, y, zones)
    counts = np.bincount(pts, minlength=len(x))
    inner = (x < 3) & (y < 3)
    assert counts[inner].tolist() == [1] * int(inner.sum())
    assert counts[~inner].sum() == 0  # east and north boundary of the whole block: outside
    # the point (1, 1) is a vertex of four squares: it goes to the north-east one (i=1, j=1)
    k = np.flatnonzero((x == 1) & (y == 1))[0]
    assert zs[pts == k].tolist() == [1 * 3 + 1]


def test_slanted_shared_edge_is_exactly_one():
    a = [np.array([(0, 0), (3, 1), (0, 1)], dtype=float)]
    b = [np.array([(0, 0), (3, 0), (3, 1)], dtype=float)]
    t = np.linspace(0, 1, 101)
    x, y = 3 * t, t  # points on the shared diagonal (floating point)
    x, y = x[1:-1], y[1:-1]
    ina = points_in_rings(x, y, a[0:1])
    inb = points_in_rings(x, y, b[0:1])
    assert (ina ^ inb).all()


def test_point_index_query_matches_brute_force():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 100, 5000), rng.uniform(0, 50, 5000)
    idx = PointIndex(x, y)
    got = np.sort(idx.query(10, 5, 30.5, 22))
    want = np.flatnonzero((x >= 10) & (x <= 30.5) & (y >= 5) & (y <= 22))
    assert got.tolist() == want.tolist()


def _poly_wkb(rings, endian="<"):
    out = struct.pack(endian + "BI", 1 if endian == "<" else 0, 3) + struct.pack(endian + "I", len(rings))
    for r in rings:
        out += struct.pack(endian + "I", len(r)) + np.asarray(r, dtype=endian + "f8").tobytes()
    return out


def test_rings_from_wkb_polygon_and_multipolygon():
    ring = np.vstack([SQ, SQ[:1]])
    got = rings_from_wkb(_poly_wkb([ring]))
    assert len(got) == 1 and np.array_equal(got[0], ring)
    multi = struct.pack(">BII", 0, 6, 2) + _poly_wkb([ring], ">") + _poly_wkb([ring + 5], ">")
    got = rings_from_wkb(multi)
    assert len(got) == 2 and np.array_equal(got[1], ring + 5)
    with pytest.raises(CompositeIndexError):
        rings_from_wkb(struct.pack("<BIdd", 1, 1, 1.0, 2.0))


def test_points_from_wkb_array_kinds():
    p = struct.pack("<BIdd", 1, 1, 1.5, 2.5)
    pz = struct.pack(">BIddd", 0, 1001, 3.0, 4.0, 9.0)
    mp = (struct.pack("<BII", 1, 4, 2) + struct.pack("<BIdd", 1, 1, 5.0, 6.0)
          + struct.pack("<BIdd", 1, 1, 7.0, 8.0))
    empty = struct.pack("<BIdd", 1, 1, float("nan"), float("nan"))
    poly = _poly_wkb([np.vstack([SQ, SQ[:1]])])
    x, y, row, kinds = points_from_wkb_array(np.array([p, None, mp, pz, empty, poly], dtype=object))
    assert x.tolist() == [1.5, 5.0, 7.0, 3.0]
    assert y.tolist() == [2.5, 6.0, 8.0, 4.0]
    assert row.tolist() == [0, 2, 2, 3]
    assert kinds.tolist() == [0, 2, 1, 0, 2, 3]
