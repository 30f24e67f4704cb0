"""The fast readers give what QGIS's own iteration gives; the per-run read cache; grids that
stream (cells with data, refusals before any cell exists, the outline test against GEOS)."""
import math
import os
import sqlite3

import numpy as np
import pandas as pd
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsVectorLayer,
)

from composite_index_plugin.core import grid as grid_mod
from composite_index_plugin.core.geometry import points_from_wkb_array
from composite_index_plugin.processing import gpkg_fast, io_points, io_table


class Recording(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.lines = []

    def pushInfo(self, text):
        self.lines.append(text)


def _run(alg, params, feedback=None):
    import processing

    return processing.run(alg, params, context=QgsProcessingContext(),
                          feedback=feedback or QgsProcessingFeedback())


def _points_gpkg(path, n=5000, seed=4, extra=True):
    """A point GeoPackage (written by OGR, feature by feature) with NULLs, text and empties."""
    from osgeo import ogr, osr

    ogr.UseExceptions()
    sr = osr.SpatialReference()
    sr.ImportFromEPSG(27700)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    lyr = ds.CreateLayer("pts", sr, ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn("w", ogr.OFTReal))
    lyr.CreateField(ogr.FieldDefn("k", ogr.OFTInteger))
    lyr.CreateField(ogr.FieldDefn("name", ogr.OFTString))
    rng = np.random.default_rng(seed)
    lyr.StartTransaction()
    for i in range(n):
        f = ogr.Feature(lyr.GetLayerDefn())
        if i % 17 != 0:
            f.SetField("w", float(rng.uniform(0, 5)))
        f.SetField("k", int(i % 7))
        if i % 5:
            f.SetField("name", f"é{i % 11}")
        if extra and i % 101 == 0:
            pass      # no geometry
        else:
            f.SetGeometry(ogr.CreateGeometryFromWkt(
                f"POINT ({rng.uniform(0, 5000):.3f} {rng.uniform(0, 3000):.3f})"))
        lyr.CreateFeature(f)
    lyr.CommitTransaction()
    ds = None
    return f"{path}|layername=pts"


@pytest.mark.parametrize("empty", [True, False])
def test_fixed_width_point_batches_decode_like_wkb_objects(empty):
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-1e5, 1e6, 1000), rng.uniform(0, 1e6, 1000)
    if empty:
        x[5] = y[5] = np.nan    # POINT EMPTY
    raw = np.zeros(1000, dtype=[("o", "u1"), ("t", "<u4"), ("x", "<f8"), ("y", "<f8")])
    raw["o"], raw["t"], raw["x"], raw["y"] = 1, 1, x, y
    fixed = raw.view(np.uint8).reshape(1000, 21)
    got = io_points._points_from_batches([fixed[:400], fixed[400:]])
    objects = np.empty(1000, dtype=object)
    objects[:] = [bytes(r) for r in fixed]
    want = points_from_wkb_array(objects)
    assert len(got) == len(want) == 4 and len(got[0]) == 1000 - empty
    for a, b in zip(got, want):
        assert np.array_equal(a, b, equal_nan=True) and a.dtype == b.dtype


def test_fixed_width_batches_of_other_geometries_go_through_wkb():
    """21-byte blobs that are not little-endian 2D points (big-endian points here) are decoded
    by the general WKB reader, not read as little-endian coordinates."""
    raw = np.zeros(3, dtype=[("o", "u1"), ("t", ">u4"), ("x", ">f8"), ("y", ">f8")])
    raw["o"], raw["t"], raw["x"], raw["y"] = 0, 1, [1.5, 2.5, 3.5], [10.0, 20.0, 30.0]
    x, y, rows, kinds = io_points._points_from_batches([raw.view(np.uint8).reshape(3, 21)])
    assert x.tolist() == [1.5, 2.5, 3.5] and y.tolist() == [10.0, 20.0, 30.0]
    assert rows.tolist() == [0, 1, 2] and kinds.tolist() == [0, 0, 0]


def test_arrow_points_equal_qgis_points(provider, tmp_path):
    uri = _points_gpkg(str(tmp_path / "p.gpkg"))
    layer = QgsVectorLayer(uri, "p", "ogr")
    fast = io_points._read_ogr_arrow(layer, ["w", "name"], "", None)
    slow = io_points._read_feature_request(layer, ["w", "name"], "", QgsProcessingContext(), None,
                                           None)
    assert fast.method == "ogr-arrow" and slow.method == "feature-request"
    assert len(fast) == len(slow) == 5000 - 50 and fast.n_null_geometry == slow.n_null_geometry == 50
    assert np.array_equal(fast.x, slow.x) and np.array_equal(fast.y, slow.y)
    assert np.array_equal(fast.columns["w"], slow.columns["w"], equal_nan=True)
    assert list(fast.columns["name"]) == list(slow.columns["name"])


def test_layer_dataframe_through_arrow_equals_feature_iteration(provider, tmp_path, monkeypatch):
    uri = _points_gpkg(str(tmp_path / "p.gpkg"))
    layer = QgsVectorLayer(uri, "p", "ogr")
    calls = []
    real = io_points.read_attributes_fast
    monkeypatch.setattr(io_points, "read_attributes_fast",
                        lambda *a: calls.append(1) or real(*a))
    fast = io_table.layer_dataframe(layer, ["w", "k", "name"], layer=layer)
    slow = io_table.layer_dataframe(layer, ["w", "k", "name"])
    assert calls == [1]
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow.reset_index(drop=True),
                                  check_dtype=False)
    assert fast["name"].isna().sum() == 1000 and fast["w"].isna().sum() == 295


def test_read_cache_reads_a_layer_once_per_run(provider, tmp_path):
    uri = _points_gpkg(str(tmp_path / "p.gpkg"), extra=False)
    zones = _run("compositeindex:creategrid", {
        "STUDY_AREA": _rect(), "SHAPE": 1, "SIZE": 250, "OUTPUT": str(tmp_path / "z.gpkg")})["OUTPUT"]
    params = {"ZONES": zones, "LOCATIONS": uri, "LOCATIONS_WEIGHT": "w", "ISSUE": "x",
              "OUTPUT": "memory:"}

    def counts(feedback):
        out = _run("compositeindex:aggregatepat", params, feedback)["OUTPUT"]
        return sorted((f["cell_id"], f["x_locations"], round(f["x_locations_w"], 9))
                      for f in out.getFeatures())

    plain = Recording()
    first = counts(plain)
    with io_points.read_cache() as cache:
        a, b = Recording(), Recording()
        assert counts(a) == first
        assert counts(b) == first
        assert cache.hits == 1
        assert not any("already read" in t for t in a.lines)
        assert any("already read in this run (5,000 points)" in t for t in b.lines)
    assert not any("already read" in t for t in plain.lines)
    c = Recording()
    counts(c)
    assert not any("already read" in t for t in c.lines)   # nothing kept after the run
    with io_points.read_cache() as cache:                 # a layer read by either reader
        layer = QgsVectorLayer(uri, "p", "ogr")
        by_layer = io_points.read_layer_points(layer, ["w"], dest_crs=layer.crs())
        d = Recording()
        assert counts(d) == first
        assert cache.hits == 1 and any("already read" in t for t in d.lines)
        assert len(by_layer) == 5000


def _rect(wkt="POLYGON((0 0, 5000 0, 5000 3000, 0 3000, 0 0))"):
    layer = QgsVectorLayer("Polygon?crs=EPSG:27700", "s", "memory")
    f = QgsFeature()
    f.setGeometry(QgsGeometry.fromWkt(wkt))
    layer.dataProvider().addFeatures([f])
    return layer


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_cells_with_data_are_the_full_grids_cells_near_points(provider, tmp_path, shape):
    pts = QgsVectorLayer("Point?crs=EPSG:27700", "p", "memory")
    rng = np.random.default_rng(shape)
    xy = np.column_stack([rng.uniform(200, 4800, 300), rng.uniform(200, 2800, 300)])
    xy[:3] = [(-500, -500), (0.0, 0.0), (2500.0, 1500.0)]   # outside, on a corner, inside
    feats = []
    for x, y in xy:
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        feats.append(f)
    pts.dataProvider().addFeatures(feats)
    study = _rect("POLYGON((0 0, 5000 0, 5000 3000, 1000 2600, 0 3000, 0 0))")
    full = _run("compositeindex:creategrid", {"STUDY_AREA": study, "SHAPE": shape, "SIZE": 100,
                                              "OUTPUT": "memory:"})["OUTPUT"]
    spec = grid_mod.GridSpec(grid_mod.SHAPES[shape], 100)
    names = spec.index_names
    full_cells = {(f[names[0]], f[names[1]]): f["cell_id"] for f in full.getFeatures()}
    for rings_out in (0, 1, 2):
        out = _run("compositeindex:creategrid", {
            "STUDY_AREA": study, "SHAPE": shape, "SIZE": 100, "DATA_LAYERS": [pts],
            "DATA_NEIGHBOURS": rings_out, "OUTPUT": str(tmp_path / f"d{shape}{rings_out}.gpkg")})
        got = {(f[names[0]], f[names[1]]): f["cell_id"] for f in QgsVectorLayer(out["OUTPUT"]).getFeatures()}
        a, b = spec.bin(xy[:, 0], xy[:, 1])
        want = set(zip(a.tolist(), b.tolist()))
        offs = grid_mod.neighbour_offsets(spec).tolist()
        for _ in range(rings_out):
            want |= {(i + da, j + db) for i, j in want for da, db in offs}
        want &= set(full_cells)
        assert set(got) == want and out["CELLS"] == len(want)
        assert all(full_cells[k] == v for k, v in got.items())


def test_outline_keeps_what_geos_says_shares_area(provider):
    """Random star-shaped outline with a hole: kept cells = cells whose intersection with the
    study area has area (GEOS), for all three shapes and keep rules 0 and 1."""
    rng = np.random.default_rng(11)
    ang = np.sort(rng.uniform(0, 2 * math.pi, 120))
    rad = rng.uniform(600, 1500, 120)
    ring = [(3000 + r * math.cos(t), 2000 + r * math.sin(t)) for t, r in zip(ang, rad)]
    hole = [(2903.3, 1911.1), (3097.7, 1911.1), (3097.7, 2089.9), (2903.3, 2089.9)]
    wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring + ring[:1]) + "), (" + \
        ", ".join(f"{x} {y}" for x, y in hole + hole[:1]) + "))"
    area = QgsGeometry.fromWkt(wkt)
    study = _rect(wkt)
    for shape in (0, 1, 2):
        spec = grid_mod.GridSpec(grid_mod.SHAPES[shape], 100)
        box = area.boundingBox()
        a, b = spec.cells_in_box(box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum())
        want, centre = set(), set()
        for i, j, ring_v in zip(a.tolist(), b.tolist(), spec.vertices(a, b)):
            cell = QgsGeometry.fromPolygonXY([[QgsPointXY(x, y) for x, y in ring_v]])
            if cell.intersection(area).area() > 0:
                want.add((i, j))
            cx, cy = spec.centres(np.array([i]), np.array([j]))
            if area.contains(QgsPointXY(cx[0], cy[0])):
                centre.add((i, j))
        names = spec.index_names
        for keep, expected in ((0, want), (1, centre)):
            out = _run("compositeindex:creategrid", {"STUDY_AREA": study, "SHAPE": shape, "SIZE": 100,
                                                     "KEEP": keep, "OUTPUT": "memory:"})["OUTPUT"]
            got = {(f[names[0]], f[names[1]]) for f in out.getFeatures()}
            assert got == expected, (shape, keep)


def test_a_grid_far_too_fine_is_refused_at_once_with_its_cost(provider):
    import resource
    import time

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with pytest.raises(QgsProcessingException, match=r"would make [\d,]+ cells.*memory.*at least"):
        _run("compositeindex:creategrid", {"STUDY_AREA": _rect(), "SHAPE": 1, "SIZE": 1e-9,
                                           "SIZE_IS_AREA": True, "OUTPUT": "memory:"})
    assert time.perf_counter() - t < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000   # kB
    spec = grid_mod.GridSpec("hex_flat", grid_mod.size_from_area("hex_flat", 1e-9))
    n = spec.count_cells(0, 0, 5000, 3000)
    assert n == pytest.approx(5000 * 3000 / 1e-9, rel=0.01)


def test_grid_rows_count_and_enumerate_the_box(provider):
    for shape in grid_mod.SHAPES:
        for size in (100, 37.3):
            spec = grid_mod.GridSpec(shape, size, 13.0, -7.0)
            box = (1234.5, -876.0, 9876.5, 5432.1)
            rows = grid_mod.LatticeRows(spec, box)
            a, b = spec.cells_in_box(*box)
            parts = [rows.cells(s, e) for s, e in rows.chunks(5000)]
            ga = np.concatenate([p[0] for p in parts])
            gb = np.concatenate([p[1] for p in parts])
            assert rows.count() == len(a) == len(ga)
            assert set(zip(ga.tolist(), gb.tolist())) == set(zip(a.tolist(), b.tolist()))
            assert rows.contains(ga, gb).all()
            assert not rows.contains(ga + 10_000, gb).any()


def test_cells_written_in_chunks_keep_their_rtree(provider, tmp_path, monkeypatch):
    """Several chunks: ids 1..n in order, the R-tree checked by SQLite."""
    from composite_index_plugin.processing.algorithms import create_grid

    real = create_grid.CreateGridAlgorithm._chunks
    monkeypatch.setattr(create_grid.CreateGridAlgorithm, "_chunks",
                        staticmethod(lambda rows, cand, per_chunk=0: real(rows, cand, 300)))
    out = _run("compositeindex:creategrid", {"STUDY_AREA": _rect(), "SHAPE": 2, "SIZE": 100,
                                             "OUTPUT": str(tmp_path / "g.gpkg")})
    path = out["OUTPUT"].split("|")[0]
    con = sqlite3.connect(path)
    table = con.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
    assert con.execute(f'SELECT COUNT(*), MIN(fid), MAX(fid) FROM "{table}"').fetchone() == \
        (out["CELLS"], 1, out["CELLS"])
    assert con.execute(f"SELECT rtreecheck('rtree_{table}_geom')").fetchone()[0] == "ok"
    assert con.execute(f'SELECT COUNT(*) FROM "rtree_{table}_geom"').fetchone()[0] == out["CELLS"]
    con.close()
    assert os.path.getsize(path) > 0
    assert gpkg_fast.gpkg_target(path) == (path, table)
