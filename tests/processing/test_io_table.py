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
