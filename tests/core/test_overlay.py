"""core.overlay: exact cell-polygon overlap areas on grids, checked against an independent
clipper (Sutherland-Hodgman on every cell, plain Python) and against hand-computed areas."""
import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core import overlay as ov
from composite_index_plugin.core.geometry import points_in_zones
from composite_index_plugin.core.grid import GridSpec


def _clip(subject, convex):
    """Sutherland-Hodgman: a ring (any simple polygon) clipped by an anticlockwise convex ring;
    the shoelace area of the result is the area of the intersection."""
    out = [tuple(p) for p in subject[:-1]]
    cv = [tuple(p) for p in convex[:-1]]
    for i in range(len(cv)):
        a, b = cv[i], cv[(i + 1) % len(cv)]

        def side(p, a=a, b=b):
            return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])

        def inside(p, side=side):
            return side(p) >= 0

        def cut(p, q, side=side):
            t = side(p) / (side(p) - side(q))
            return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))

        src, out = out, []
        for j in range(len(src)):
            p, q = src[j - 1], src[j]
            if inside(q):
                if not inside(p):
                    out.append(cut(p, q))
                out.append(q)
            elif inside(p):
                out.append(cut(p, q))
        if not out:
            return 0.0
    x = np.array([p[0] for p in out])
    y = np.array([p[1] for p in out])
    return abs(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def _reference(spec, a, b, polygons):
    """{(cell, polygon): area} by clipping every cell against every ring (outer minus holes)."""
    from composite_index_plugin.core.geometry import points_in_rings

    verts = spec.vertices(a, b)
    out = {}
    for k, rings in enumerate(polygons):
        rings = [np.vstack([np.asarray(r, float), np.asarray(r, float)[:1]])
                 if not np.array_equal(r[0], r[-1]) else np.asarray(r, float) for r in rings]
        for c in range(len(a)):
            total = 0.0
            for i, r in enumerate(rings):
                others = [o for j, o in enumerate(rings) if j != i]
                depth = sum(points_in_rings(r[:1, 0], r[:1, 1], [o])[0] for o in others)
                total += (-1 if depth % 2 else 1) * _clip(r, verts[c])
            if total > 1e-9:
                out[(c, k)] = total
    return out


def _as_dict(res):
    return {(int(c), int(p)): float(v) for c, p, v in zip(res.cell, res.polygon, res.area)}


def _compare(spec, polygons, box, tol=1e-9):
    a, b = spec.cells_in_box(*box)
    res = ov.grid_overlay(spec, a, b, polygons)
    want = _reference(spec, a, b, polygons)
    got = _as_dict(res)
    keys = set(want) | set(got)
    worst = max(abs(want.get(k, 0.0) - got.get(k, 0.0)) for k in keys)
    assert worst <= tol * res.cell_area, worst
    return res, want


SQUARE = [[(0.0, 0.0), (30.0, 0.0), (30.0, 20.0), (0.0, 20.0)]]
TRIANGLE = [[(3.0, 2.0), (27.0, 6.0), (11.0, 19.0)]]
# a polygon with a hole, stored clockwise (orientation must not matter), and a two-part one
HOLED = [[(2.0, 1.0), (2.0, 18.0), (28.0, 18.0), (28.0, 1.0)],
         [(9.0, 5.0), (21.0, 5.0), (21.0, 13.0), (9.0, 13.0)]]
TWO_PARTS = [[(31.0, 0.0), (40.0, 0.0), (40.0, 7.0)], [(33.0, 10.0), (44.0, 12.0), (36.0, 19.0)]]


@pytest.mark.parametrize("shape", ["square", "hex_flat", "hex_pointy"])
def test_areas_equal_an_independent_clipper(shape):
    spec = GridSpec(shape, 4.0, 0.37, -0.21)
    polygons = [SQUARE, TRIANGLE, HOLED, TWO_PARTS]
    res, want = _compare(spec, polygons, (-5, -5, 50, 25))
    # every polygon's area is found whole in the cells covering it (they cover everything)
    per_poly = np.bincount(res.polygon, weights=res.area, minlength=4)
    assert per_poly == pytest.approx(res.polygon_area, rel=1e-12)
    assert res.polygon_area.tolist() == pytest.approx(
        [600.0, 0.5 * abs(24 * 17 - 8 * 4), 26 * 17 - 12 * 8, 0.5 * 9 * 7 + 0.5 * abs(11 * 9 - 3 * 2)])
    assert res.n_cut > 0


def test_partition_passes_every_cell_area_on_exactly_once():
    # two polygons sharing an edge (the same vertices) and a vertex exactly on cell centres:
    # square cells of 10 with centres at 5, 15, ...; the shared edge runs through centres
    spec = GridSpec("square", 10.0)
    left = [[(0.0, 0.0), (25.0, 0.0), (15.0, 35.0), (0.0, 40.0)]]
    right = [[(25.0, 0.0), (50.0, 0.0), (50.0, 40.0), (0.0, 40.0), (15.0, 35.0)]]
    res, _ = _compare(spec, [left, right], (0, 0, 49.9, 39.9))
    assert res.n_remeasured > 0            # (15, 35) and (25, 5)... lie on cell centres
    per_cell = np.bincount(res.cell, weights=res.area, minlength=20)
    assert per_cell == pytest.approx(np.full(20, 100.0), rel=1e-12)


def test_overlapping_polygons_each_get_their_share():
    spec = GridSpec("hex_flat", 3.0)
    big = [[(0.0, 0.0), (20.0, 0.0), (20.0, 20.0), (0.0, 20.0)]]
    small = [[(4.0, 4.0), (9.0, 4.5), (7.0, 11.0)]]
    res, want = _compare(spec, [big, small], (-2, -2, 22, 22))
    assert sum(v for (c, p), v in want.items() if p == 1) == pytest.approx(0.5 * abs(5 * 7 - 0.5 * 3))


def test_centres_agree_with_points_in_zones():
    spec = GridSpec("hex_pointy", 1.7, 0.1, 0.2)
    polygons = [SQUARE, TRIANGLE, HOLED, TWO_PARTS]
    a, b = spec.cells_in_box(-3, -3, 46, 22)
    pe = ov.polygon_edges(polygons)
    cell, poly = ov.centre_pairs(spec, a, b, pe)
    x, y = spec.centres(a, b)
    want_pt, want_zone = points_in_zones(x, y, polygons)
    assert sorted(zip(cell.tolist(), poly.tolist())) == sorted(zip(want_pt.tolist(), want_zone.tolist()))


def test_only_the_cells_asked_for_and_far_polygons_are_ignored():
    spec = GridSpec("square", 5.0)
    a = np.array([0, 3, 1])        # rows
    b = np.array([0, 2, 7])        # cols
    res = ov.grid_overlay(spec, a, b, [[[(1.0, 1.0), (4.0, 1.0), (4.0, 3.0)]],
                                       [[(100.0, 100.0), (110.0, 100.0), (110.0, 110.0)]],
                                       [[(0.0, 0.0), (40.0, 0.0), (40.0, 20.0), (0.0, 20.0)]]])
    got = _as_dict(res)
    assert got == pytest.approx({(0, 0): 3.0, (0, 2): 25.0, (1, 2): 25.0, (2, 2): 25.0})


def test_grid_from_columns():
    frame = pd.DataFrame({"grid_shape": ["hex_flat"] * 2, "grid_size": [100.0, 100.0],
                          "grid_x0": [0.0, 0.0], "grid_y0": [5.0, 5.0], "q": [1, 2], "r": [3, -4]})
    spec, a, b = ov.grid_from_columns(frame)
    assert spec == GridSpec("hex_flat", 100.0, 0.0, 5.0)
    assert a.tolist() == [1, 2] and b.tolist() == [3, -4]
    assert ov.grid_from_columns(frame.assign(grid_size=[100.0, 50.0])) is None
    assert ov.grid_from_columns(frame.drop(columns="q")) is None
    assert ov.grid_from_columns(frame.assign(r=[1.5, 2])) is None
