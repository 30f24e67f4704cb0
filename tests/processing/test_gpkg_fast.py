"""The bulk GeoPackage writer gives the same layer as the Processing sink."""
import sqlite3

import numpy as np
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsVectorLayer,
)

from composite_index_plugin.processing import gpkg_fast


def _run(alg, params):
    import processing

    return processing.run(alg, params, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_grid_written_in_bulk_equals_the_sink(provider, tmp_path, monkeypatch, shape):
    used = []
    real = gpkg_fast.fill_layer
    monkeypatch.setattr(gpkg_fast, "fill_layer", lambda *a, **k: used.append(real(*a, **k)) or used[-1])
    study = QgsVectorLayer("Polygon?crs=EPSG:27700", "s", "memory")
    f = QgsFeature()
    f.setGeometry(QgsGeometry.fromWkt("POLYGON((0 0, 5000 0, 5000 3000, 2000 4000, 0 3000, 0 0))"))
    study.dataProvider().addFeatures([f])
    params = {"STUDY_AREA": study, "SHAPE": shape, "SIZE": 100}
    fast = QgsVectorLayer(_run("compositeindex:creategrid",
                               dict(params, OUTPUT=str(tmp_path / "g.gpkg")))["OUTPUT"], "f", "ogr")
    slow = _run("compositeindex:creategrid", dict(params, OUTPUT="memory:"))["OUTPUT"]
    assert used == [True]
    assert fast.featureCount() == slow.featureCount() > 1000
    names = slow.fields().names()
    assert [n for n in fast.fields().names() if n != "fid"] == names
    by_id = {g["cell_id"]: g for g in slow.getFeatures()}
    for g in fast.getFeatures():
        other = by_id[g["cell_id"]]
        assert [g[n] for n in names] == [other[n] for n in names]
        assert g.geometry().equals(other.geometry())
        assert g.geometry().boundingBox() == other.geometry().boundingBox()
    a, b = fast.extent(), slow.extent()
    assert [a.xMinimum(), a.yMinimum(), a.xMaximum(), a.yMaximum()] == pytest.approx(
        [b.xMinimum(), b.yMinimum(), b.xMaximum(), b.yMaximum()], abs=1e-6)
    # the R-tree holds every cell with its envelope
    con = sqlite3.connect(str(tmp_path / "g.gpkg"))
    table = con.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
    n, minx = con.execute(f'SELECT COUNT(*), MIN(minx) FROM "rtree_{table}_geom"').fetchone()
    assert n == fast.featureCount() and minx == pytest.approx(slow.extent().xMinimum(), abs=1e-6)


def test_polygon_blobs_carry_their_envelope():
    square = np.array([[[0, 0], [2, 0], [2, 1], [0, 1], [0, 0]]], float)
    (blob,), bounds = gpkg_fast.polygon_blobs(square, 27700)
    assert blob[:2] == b"GP" and blob[3] == 3
    assert np.frombuffer(blob[8:40], "<f8").tolist() == [0, 2, 0, 1] == bounds[0].tolist()
    geom = QgsGeometry()
    geom.fromWkb(blob[40:])
    assert geom.asWkt() == "MultiPolygon (((0 0, 2 0, 2 1, 0 1, 0 0)))"
