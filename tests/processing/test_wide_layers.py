"""Layers wider than a GeoPackage Arrow stream can carry on older GDAL.

GDAL before 3.8.1 loops for ever (printing "too many arguments on function
OGR_GPKG_FillArrowArray_INTERNAL") when a GeoPackage Arrow stream holds more than 125 columns
(GDAL issue 8757). A results layer with many indicators is that wide; the readers split the
columns into groups (attributes) or hand over to QGIS (points) there.
"""
import faulthandler

import numpy as np
import pytest
from osgeo import gdal, ogr
from qgis.core import QgsVectorLayer

from composite_index_plugin.processing import io_points

N_FIELDS, N_ROWS = 260, 40


@pytest.fixture()
def wide_gpkg(tmp_path):
    path = str(tmp_path / "wide.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    lyr = ds.CreateLayer("zones", geom_type=ogr.wkbPoint)
    for i in range(N_FIELDS):
        lyr.CreateField(ogr.FieldDefn(f"f{i}", ogr.OFTReal))
    lyr.StartTransaction()
    for r in range(N_ROWS):
        feature = ogr.Feature(lyr.GetLayerDefn())
        for i in range(N_FIELDS):
            feature.SetField(i, r * 1000.0 + i)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({r} {2 * r})"))
        lyr.CreateFeature(feature)
    lyr.CommitTransaction()
    ds = None
    layer = QgsVectorLayer(f"{path}|layername=zones", "zones", "ogr")
    assert layer.isValid()
    faulthandler.dump_traceback_later(120, exit=True)   # a hang here must fail, not stall CI
    yield path, layer
    faulthandler.cancel_dump_traceback_later()


# one stream only where GDAL can (before 3.8.1 it would loop for ever)
ONE_STREAM = [None] if io_points.arrow_field_limit() is None else []


@pytest.mark.parametrize("limit", ONE_STREAM + [7, io_points.arrow_field_limit() or 100])
def test_every_column_of_a_wide_layer_is_read_in_feature_order(wide_gpkg, monkeypatch, limit):
    """In one stream, in groups of 7 (the grouped read runs on every GDAL), and as this GDAL
    needs."""
    _path, layer = wide_gpkg
    monkeypatch.setattr(io_points, "arrow_field_limit", lambda: limit)
    fields = [f"f{i}" for i in range(N_FIELDS)]
    frame = io_points.read_attributes_fast(layer, fields)
    assert frame is not None and len(frame) == N_ROWS
    expected = np.arange(N_ROWS)[:, None] * 1000.0 + np.arange(N_FIELDS)[None, :]
    np.testing.assert_array_equal(frame[fields].to_numpy(), expected)
    assert frame["__fid"].tolist() == list(range(1, N_ROWS + 1))


@pytest.mark.parametrize("limit", ONE_STREAM + [7])
def test_points_of_a_wide_layer_come_back_or_go_through_qgis(wide_gpkg, monkeypatch, limit):
    path, _layer = wide_gpkg
    monkeypatch.setattr(io_points, "arrow_field_limit", lambda: limit)
    ds = gdal.OpenEx(path, gdal.OF_VECTOR | gdal.OF_READONLY)
    lyr = ds.GetLayer(0)
    fields = [f"f{i}" for i in range(N_FIELDS)]
    got = io_points.read_ogr_points(lyr, fields)
    if limit is not None:
        assert got is None                    # too wide for one stream: read through QGIS
    else:
        np.testing.assert_array_equal(got.x, np.arange(N_ROWS))
        np.testing.assert_array_equal(got.columns["f259"], np.arange(N_ROWS) * 1000.0 + 259)
