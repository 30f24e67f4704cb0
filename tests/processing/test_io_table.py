"""layer_dataframe / write_with_columns round trip on a memory layer."""
import numpy as np
import pandas as pd
from qgis.core import (
    NULL,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsVectorLayer,
)

from composite_index_plugin.processing.io_table import layer_dataframe, write_with_columns


def _layer():
    layer = QgsVectorLayer("Point?crs=EPSG:27700&field=name:string&field=n:integer&field=x:double",
                           "pts", "memory")
    feats = []
    for i, (name, n, x) in enumerate([("a", 1, 0.5), ("b", None, 2.5), (None, 3, None)]):
        f = QgsFeature(layer.fields())
        f.setAttributes([name, n, x])
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(i, i)))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def test_layer_dataframe_types_and_nulls(qgis_app):
    frame = layer_dataframe(_layer())
    assert list(frame["name"]) == ["a", "b", None]
    assert frame["n"].dtype == np.float64
    assert frame["n"].iloc[0] == 1 and np.isnan(frame["n"].iloc[1])
    assert np.isnan(frame["x"].iloc[2])


def test_unknown_field_names_the_existing_ones(qgis_app):
    try:
        layer_dataframe(_layer(), ["nope"])
    except QgsProcessingException as err:
        assert "nope" in str(err) and "name, n, x" in str(err)
    else:
        raise AssertionError("expected QgsProcessingException")


class _FakeAlg:
    """Just enough of an algorithm for parameterAsSink."""

    def parameterAsSink(self, parameters, key, context, fields, wkb, crs):
        from qgis.core import QgsProcessingUtils  # noqa: F401
        layer = QgsVectorLayer(f"Point?crs={crs.authid()}", "out", "memory")
        layer.dataProvider().addAttributes(fields.toList())
        layer.updateFields()
        self.layer = layer
        return layer.dataProvider(), "mem"

    def invalidSinkError(self, parameters, key):
        return "bad sink"


def test_write_with_columns_keeps_features_and_adds_columns(qgis_app):
    src = _layer()
    alg = _FakeAlg()
    cols = pd.DataFrame({"score": [0.1, np.nan, 3.0], "n": [7, 8, 9], "label": ["x", None, "z"]})
    write_with_columns(alg, {}, QgsProcessingContext(), src, cols)
    out = list(alg.layer.getFeatures())
    assert [f["name"] for f in out] == ["a", "b", None]
    assert [f["n"] for f in out] == [7, 8, 9]  # replaced in place of the old field
    assert out[0]["score"] == 0.1
    assert out[1]["score"] == NULL
    assert [f["label"] for f in out][0] == "x"
    assert out[2].geometry().asPoint().x() == 2


def test_fast_geopackage_path_writes_what_the_sink_writes(provider, tmp_path, monkeypatch):
    """GeoPackage zones to a GeoPackage output go through GDAL + SQLite; the result must equal
    the feature-by-feature path (memory output) attribute for attribute and geometry for
    geometry, and keep a spatial index."""
    import processing
    from osgeo import ogr

    def run(alg, params):
        return processing.run(alg, params, context=QgsProcessingContext(),
                              feedback=QgsProcessingFeedback())["OUTPUT"]

    study = QgsVectorLayer("Polygon?crs=EPSG:27700", "s", "memory")
    f = QgsFeature()
    f.setGeometry(QgsGeometry.fromWkt("POLYGON((0 0, 4000 0, 4000 3000, 0 3000, 0 0))"))
    study.dataProvider().addFeatures([f])
    grid = run("compositeindex:creategrid", {"STUDY_AREA": study, "SHAPE": 1, "SIZE": 100,
                                             "OUTPUT": str(tmp_path / "grid.gpkg")})
    points = QgsVectorLayer("Point?crs=EPSG:27700&field=w:double", "p", "memory")
    rng = np.random.default_rng(3)
    feats = []
    for x, y in rng.uniform(0, 3000, (3000, 2)):
        p = QgsFeature(points.fields())
        p.setAttributes([float(x % 7)])
        p.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        feats.append(p)
    points.dataProvider().addFeatures(feats)
    params = {"ZONES": grid, "LOCATIONS": points, "LOCATIONS_WEIGHT": "w", "ISSUE": "x"}
    from composite_index_plugin.processing import io_table

    used = []
    real = io_table._fast_gpkg_write
    monkeypatch.setattr(io_table, "_fast_gpkg_write", lambda *a: used.append(real(*a)) or used[-1])
    fast = QgsVectorLayer(run("compositeindex:aggregatepat",
                              dict(params, OUTPUT=str(tmp_path / "out.gpkg"))), "fast", "ogr")
    slow = run("compositeindex:aggregatepat", dict(params, OUTPUT="memory:"))
    assert used == [True]  # the GeoPackage went the fast way
    assert fast.featureCount() == slow.featureCount() > 1000
    assert fast.fields().names() == slow.fields().names()
    by_id = {f["cell_id"]: f for f in slow.getFeatures()}
    total = 0
    for feature in fast.getFeatures():
        other = by_id[feature["cell_id"]]
        for name in slow.fields().names():
            assert feature[name] == other[name], name
        assert feature.geometry().equals(other.geometry())
        total += feature["x_locations"]
    assert total == 3000
    ds = ogr.Open(str(tmp_path / "out.gpkg"))
    layer = ds.GetLayer(0)
    assert layer.TestCapability(ogr.OLCFastSpatialFilter)  # the R-tree is there
