"""compositeindex:creategrid through Processing, and binning checked against QgsGeometry."""
import math

import numpy as np
import pytest
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsVectorLayer,
)

from composite_index_plugin.core.grid import GridSpec


def _run(params):
    import processing

    return processing.run("compositeindex:creategrid", params, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())


def polygon_layer(wkts, crs="EPSG:27700"):
    layer = QgsVectorLayer(f"Polygon?crs={crs}", "study", "memory")
    feats = []
    for w in wkts:
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromWkt(w))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def cells(layer):
    return {f["cell_id"]: f for f in layer.getFeatures()}


# An L-shaped study area, 2 km x 1.5 km with a notch, away from the origin.
STUDY = "POLYGON((400010 300020, 402010 300020, 402010 300820, 401210 300820, 401210 301520, " \
        "400010 301520, 400010 300020))"


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_binning_agrees_with_qgsgeometry_on_100000_points(provider, shape):
    out = _run({"STUDY_AREA": polygon_layer([STUDY]), "SHAPE": shape, "SIZE": 100, "KEEP": 0,
                "OUTPUT": "memory:"})["OUTPUT"]
    feats = list(out.getFeatures())
    spec = GridSpec(("square", "hex_flat", "hex_pointy")[shape], 100)
    names = spec.index_names
    rng = np.random.default_rng(42 + shape)
    n = 100_000
    box = out.extent()
    x = rng.uniform(box.xMinimum(), box.xMaximum(), n)
    y = rng.uniform(box.yMinimum(), box.yMaximum(), n)
    a, b = spec.bin(x, y)
    brute = np.full(n, -1, dtype=np.int64)
    hits = np.zeros(n, dtype=np.int64)
    index_of = {}
    for k, f in enumerate(feats):
        index_of[k] = (f[names[0]], f[names[1]])
        g = f.geometry()
        bb = g.boundingBox()
        cand = np.flatnonzero((x >= bb.xMinimum()) & (x <= bb.xMaximum()) & (y >= bb.yMinimum())
                              & (y <= bb.yMaximum()))
        for i in cand.tolist():
            if g.contains(QgsPointXY(x[i], y[i])):
                brute[i] = k
                hits[i] += 1
    assert hits.max() == 1  # random points never sit exactly on an edge
    covered = brute >= 0
    assert covered.sum() > 0.6 * n  # the kept cells cover most of the box
    ba = np.array([index_of[k][0] for k in brute[covered]])
    bb_ = np.array([index_of[k][1] for k in brute[covered]])
    assert np.array_equal(a[covered], ba) and np.array_equal(b[covered], bb_)  # 100 % agreement


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_points_on_edges_and_vertices_follow_the_documented_rule(provider, shape):
    out = _run({"STUDY_AREA": polygon_layer([STUDY]), "SHAPE": shape, "SIZE": 100, "KEEP": 0,
                "OUTPUT": "memory:"})["OUTPUT"]
    spec = GridSpec(("square", "hex_flat", "hex_pointy")[shape], 100)
    names = spec.index_names
    feats = list(out.getFeatures())[:60]
    checked = 0
    for f in feats:
        ring = f.geometry().asMultiPolygon()[0][0]
        for p0, p1 in zip(ring[:-1], ring[1:]):
            for t in (0.0, 0.5):  # a vertex and an edge midpoint
                px, py = p0.x() + t * (p1.x() - p0.x()), p0.y() + t * (p1.y() - p0.y())
                # cells touching the point, by QgsGeometry (distance within 1e-6 m)
                pt = QgsGeometry.fromPointXY(QgsPointXY(px, py))
                touching = [g for g in feats if g.geometry().distance(pt) < 1e-6]
                a, b = spec.bin(np.array([px]), np.array([py]))
                cx, cy = spec.centres(a, b)
                # the rule: among all lattice cells touching the point, the one furthest east,
                # then furthest north; the chosen cell must touch the point
                radius = spec.size / (math.sqrt(2) if shape == 0 else math.sqrt(3))
                assert math.hypot(px - cx[0], py - cy[0]) <= radius + 1e-6
                for g in touching:
                    gx, gy = spec.centres(np.array([g[names[0]]]), np.array([g[names[1]]]))
                    assert (gx[0] < cx[0] + 1e-6) or (abs(gx[0] - cx[0]) < 1e-6 and gy[0] <= cy[0] + 1e-6)
                checked += 1
    assert checked > 300


def test_grids_line_up_across_study_areas_and_keep_modes(provider):
    small = "POLYGON((400510 300520, 401010 300520, 401010 301020, 400510 301020, 400510 300520))"
    g1 = cells(_run({"STUDY_AREA": polygon_layer([STUDY]), "SHAPE": 1, "SIZE": 100, "KEEP": 0,
                     "OUTPUT": "memory:"})["OUTPUT"])
    g2 = cells(_run({"STUDY_AREA": polygon_layer([small]), "SHAPE": 1, "SIZE": 100, "KEEP": 0,
                     "OUTPUT": "memory:"})["OUTPUT"])
    assert set(g2) <= set(g1)
    for cid, f in g2.items():
        assert f.geometry().equals(g1[cid].geometry())
        assert f["grid_shape"] == "hex_flat" and f["grid_size"] == 100 and f["grid_x0"] == 0
    assert next(iter(g2)).startswith("H100_q")
    study = QgsGeometry.fromWkt(STUDY)
    # keep = intersects: exactly the cells GEOS says intersect; centre: centre inside; clip: areas add up
    n_inter = sum(1 for f in g1.values()
                  if f.geometry().intersects(study) and not f.geometry().touches(study))
    assert n_inter == len(g1)
    # and every lattice cell over the extent that shares area with the study area is there
    spec = GridSpec("hex_flat", 100)
    a, b = spec.cells_in_box(400010, 300020, 402010, 301520)
    ids = spec.cell_ids(a, b)
    verts = spec.vertices(a, b)
    want = set()
    for cid, ring in zip(ids, verts):
        cell = QgsGeometry.fromPolygonXY([[QgsPointXY(px, py) for px, py in ring]])
        if cell.intersection(study).area() > 0:
            want.add(cid)
    assert set(g1) == want
    centre = cells(_run({"STUDY_AREA": polygon_layer([STUDY]), "SHAPE": 1, "SIZE": 100, "KEEP": 1,
                         "OUTPUT": "memory:"})["OUTPUT"])
    want = {cid for cid, f in g1.items() if study.contains(f.geometry().centroid())}
    assert set(centre) == want
    clip = cells(_run({"STUDY_AREA": polygon_layer([STUDY]), "SHAPE": 1, "SIZE": 100, "KEEP": 2,
                       "OUTPUT": "memory:"})["OUTPUT"])
    assert set(clip) == set(g1)
    assert sum(f.geometry().area() for f in clip.values()) == pytest.approx(study.area(), rel=1e-9)
    assert sum(f["grid_clipped"] for f in clip.values()) > 0


def test_square_grid_ids_and_size_as_area(provider):
    out = cells(_run({"STUDY_AREA": polygon_layer(["POLYGON((0 0, 250 0, 250 150, 0 150, 0 0))"]),
                      "SHAPE": 0, "SIZE": 10000, "SIZE_IS_AREA": True, "KEEP": 0,
                      "OUTPUT": "memory:"})["OUTPUT"])
    # 100 m squares: columns 0..2, rows 0..1 -> 6 cells (cells touching only at the edge x=250? no:
    # [200, 300) intersects the study area which ends at 250)
    assert sorted(out) == sorted(f"S100_r{r}_c{c}" for r in range(2) for c in range(3))
    assert out["S100_r1_c2"].geometry().area() == pytest.approx(10000)


def test_geographic_crs_refused_or_reprojected(provider):
    wgs = polygon_layer(["POLYGON((-1.6 53.7, -1.5 53.7, -1.5 53.8, -1.6 53.8, -1.6 53.7))"], "EPSG:4326")
    with pytest.raises(QgsProcessingException, match="EPSG:27700"):
        _run({"STUDY_AREA": wgs, "SHAPE": 1, "SIZE": 500, "OUTPUT": "memory:"})
    res = _run({"STUDY_AREA": wgs, "SHAPE": 1, "SIZE": 500, "OUTPUT": "memory:",
                "TARGET_CRS": QgsCoordinateReferenceSystem("EPSG:27700")})
    assert res["OUTPUT"].crs().authid() == "EPSG:27700"
    assert 338 < res["CELLS"] < 420  # 6.6 km x 11.1 km = 73 km2 / 0.2165 km2 = 338, plus the edge


def test_cell_limit_and_bad_size(provider):
    study = polygon_layer([STUDY])
    with pytest.raises(QgsProcessingException, match=r"would make 30,351 cells.*at least 57"):
        _run({"STUDY_AREA": study, "SHAPE": 0, "SIZE": 10, "MAX_CELLS": 1000, "OUTPUT": "memory:"})
    with pytest.raises(QgsProcessingException, match="positive"):
        _run({"STUDY_AREA": study, "SHAPE": 0, "SIZE": 0, "OUTPUT": "memory:"})


def test_grid_definition_in_the_layer_abstract(provider, tmp_path):
    study = polygon_layer(["POLYGON((0 0, 250 0, 250 150, 0 150, 0 0))"])
    mem = _run({"STUDY_AREA": study, "SHAPE": 2, "SIZE": 50, "OUTPUT": "memory:"})["OUTPUT"]
    path = str(tmp_path / "grid.gpkg")
    _run({"STUDY_AREA": study, "SHAPE": 2, "SIZE": 50, "OUTPUT": path})
    for layer in (mem, QgsVectorLayer(path, "g", "ogr")):
        text = layer.metadata().abstract()
        assert "grid_shape=hex_pointy; grid_size=50.0; grid_x0=0.0; grid_y0=0.0" in text


def test_the_sink_writer_starts_over_when_the_fast_writer_gives_up(provider, tmp_path,
                                                                   monkeypatch):
    """Chunks are read again from the first: a fast GeoPackage write that failed after some
    chunks must not leave the sink writer the rest only. Progress reaches 90 %, never more."""
    from composite_index_plugin.processing import gpkg_fast
    from composite_index_plugin.processing.algorithms import create_grid as cg

    params = {"STUDY_AREA": polygon_layer([STUDY]), "SHAPE": 1, "SIZE": 50, "KEEP": 0}
    expected = _run(dict(params, OUTPUT="memory:"))["OUTPUT"].featureCount()
    monkeypatch.setattr(cg.CreateGridAlgorithm, "_chunks",
                        staticmethod(lambda rows, candidates: cg._Chunks(rows, candidates, 100)))
    real, calls = gpkg_fast.LayerFiller.append, []

    def fail_on_third(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk hiccup")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(gpkg_fast.LayerFiller, "append", fail_on_third)
    seen = []

    class Progress(QgsProcessingFeedback):
        def setProgress(self, value):
            seen.append(value)
            super().setProgress(value)

    import processing

    out = processing.run("compositeindex:creategrid",
                         dict(params, OUTPUT=str(tmp_path / "grid.gpkg")),
                         context=QgsProcessingContext(), feedback=Progress())["OUTPUT"]
    assert len(calls) >= 3                                   # the fast writer was tried
    assert QgsVectorLayer(out, "grid", "ogr").featureCount() == expected > 300
    assert max(seen) <= 100 and any(89.9 <= v <= 90.0 for v in seen)
