"""Grid arithmetic overlay (core.overlay through processing.grid_overlay) against GEOS on the
real Birmingham LSOAs 2021 and wards: the fast path of apportion and summariseareas gives the
same output as the GEOS path (OVERLAY=1), and every cell-polygon area equals GEOS's."""
import numpy as np
import pytest
from qgis.core import QgsFeatureRequest, QgsGeometry, QgsProcessingContext, QgsVectorLayer

from composite_index_plugin.core import overlay as ov
from composite_index_plugin.core.geometry import rings_from_wkb
from composite_index_plugin.core.grid import GridSpec
from tests.helpers import RecordingFeedback as Feedback


def run(alg, params, feedback=None):
    import processing

    return processing.run(alg, params, context=QgsProcessingContext(), feedback=feedback or Feedback())


def _log(fb):
    return fb.all()


@pytest.fixture
def birmingham(data_copy, tmp_path):
    lsoa = QgsVectorLayer(data_copy("birmingham/lsoa21.gpkg"), "lsoa", "ogr")
    assert lsoa.isValid() and lsoa.featureCount() == 793
    return lsoa


def test_every_cell_area_equals_geos_on_real_lsoas(birmingham):
    """Share error against GEOS clipping, measured on the 793 Birmingham LSOAs and 200 m
    hexagons: at most 1e-9 of a cell (the measured worst is about 1e-11)."""
    geoms = [QgsGeometry(f.geometry()) for f in birmingham.getFeatures()]
    polys = [rings_from_wkb(bytes(g.asWkb())) for g in geoms]
    ext = birmingham.extent()
    spec = GridSpec("hex_flat", 200.0)
    a, b = spec.cells_in_box(ext.xMinimum(), ext.yMinimum(), ext.xMaximum(), ext.yMaximum())
    res = ov.grid_overlay(spec, a, b, polys)
    got = {(int(c), int(p)): v for c, p, v in zip(res.cell, res.polygon, res.area)}
    verts = spec.vertices(a, b)
    cx, cy = spec.centres(a, b)
    want = {}
    for k, g in enumerate(geoms):
        box = g.boundingBox()
        near = np.flatnonzero((cx > box.xMinimum() - 200) & (cx < box.xMaximum() + 200)
                              & (cy > box.yMinimum() - 200) & (cy < box.yMaximum() + 200))
        for c in near.tolist():
            ring = ", ".join(f"{float(x)!r} {float(y)!r}" for x, y in verts[c])
            cell = QgsGeometry.fromWkt(f"POLYGON(({ring}))")
            assert not cell.isNull()
            inter = g.intersection(cell)
            if inter is not None and not inter.isEmpty() and inter.area() > 0:
                want[(c, k)] = inter.area()
    assert len(want) > 20_000 and res.n_cut > 5_000
    worst = max(abs(want.get(k, 0.0) - got.get(k, 0.0)) for k in set(want) | set(got))
    assert worst <= 1e-9 * res.cell_area
    # and the areas of the LSOAs equal GEOS's
    assert res.polygon_area == pytest.approx([g.area() for g in geoms], rel=1e-12)


@pytest.mark.parametrize("keep", [0, 2])   # whole cells; cells clipped to the study area
def test_apportion_grid_path_equals_geos_path(provider, birmingham, tmp_path, keep):
    grid = run("compositeindex:creategrid", {
        "STUDY_AREA": birmingham, "SHAPE": 1, "SIZE": 250, "KEEP": keep,
        "OUTPUT": str(tmp_path / f"grid{keep}.gpkg")})["OUTPUT"]
    out = {}
    for overlay in (0, 1):
        fb = Feedback()
        res = run("compositeindex:apportion", {
            "SOURCES": birmingham, "FIELD": "LAT", "ZONES": grid, "OVERLAY": overlay,
            "OUTPUT": str(tmp_path / f"pop{keep}_{overlay}.gpkg")}, fb)
        layer = QgsVectorLayer(res["OUTPUT"], "out", "ogr")
        out[overlay] = ({f["cell_id"]: f["population"] for f in layer.getFeatures()}, res, _log(fb))
    fast, slow = out[0], out[1]
    assert "grid arithmetic" in fast[2] and "grid arithmetic" not in slow[2]
    if keep == 2:
        assert "clipped to the study area measured with GEOS" in fast[2]
    assert fast[0].keys() == slow[0].keys() and len(fast[0]) > 3000
    for cell, value in slow[0].items():
        assert fast[0][cell] == pytest.approx(value, rel=1e-9, abs=1e-9)
    assert fast[1]["TOTAL"] == pytest.approx(slow[1]["TOTAL"], rel=1e-12)
    assert fast[1]["UNCOVERED"] == pytest.approx(slow[1]["UNCOVERED"], abs=1e-6)


@pytest.mark.parametrize("keep", [0, 2])    # 2: cells clipped to the study area (GEOS part)
def test_summariseareas_grid_path_equals_geos_path(provider, birmingham, data_copy, tmp_path, keep):
    grid = run("compositeindex:creategrid", {
        "STUDY_AREA": birmingham, "SHAPE": 2, "SIZE": 300, "KEEP": keep,
        "OUTPUT": str(tmp_path / "grid.gpkg")})["OUTPUT"]
    zones = run("compositeindex:apportion", {
        "SOURCES": birmingham, "FIELD": "LAT", "ZONES": grid,
        "OUTPUT": str(tmp_path / "zones.gpkg")})["OUTPUT"]
    wards = QgsVectorLayer(data_copy("birmingham/wards_2018.gpkg"), "wards", "ogr")
    tables = {}
    for overlay in (0, 1):
        fb = Feedback()
        res = run("compositeindex:summariseareas", {
            "ZONES": zones, "AREAS": wards, "SCORE_FIELD": "population", "OVERLAY": overlay,
            "OUTPUT": "memory:", "TABLE": "memory:"}, fb)
        names = [f.name() for f in res["TABLE"].fields()]
        tables[overlay] = {f["area_name"]: dict(zip(names, f.attributes()))
                           for f in res["TABLE"].getFeatures(QgsFeatureRequest())}
        assert ("grid arithmetic" in _log(fb)) == (overlay == 0)
    assert tables[0].keys() == tables[1].keys() and len(tables[0]) > 20
    for name, row in tables[1].items():
        for key, value in row.items():
            if isinstance(value, float):
                assert tables[0][name][key] == pytest.approx(value, rel=1e-9, abs=1e-9), (name, key)
            else:
                assert tables[0][name][key] == value, (name, key)


def test_a_grid_with_one_edited_cell_is_measured_with_geos(provider, birmingham, tmp_path):
    """grid_* fields not the same on every row (checked by SQL on a GeoPackage): not a grid."""
    path = str(tmp_path / "grid.gpkg")
    run("compositeindex:creategrid", {"STUDY_AREA": birmingham, "SHAPE": 0, "SIZE": 1000,
                                      "KEEP": 0, "OUTPUT": path})
    layer = QgsVectorLayer(path, "grid", "ogr")
    fid = next(layer.getFeatures()).id()
    assert layer.dataProvider().changeAttributeValues({fid: {layer.fields().indexOf("grid_size"): 999.0}})
    del layer
    fb = Feedback()
    res = run("compositeindex:apportion", {"SOURCES": birmingham, "FIELD": "LAT", "ZONES": path,
                                           "OUTPUT": "memory:"}, fb)
    assert "grid arithmetic" not in fb.all()
    assert res["TOTAL"] == pytest.approx(sum(f["LAT"] for f in birmingham.getFeatures()), rel=1e-9)


@pytest.mark.parametrize("edit", [None, ("first", "grid_size", 999.0), ("middle", "grid_x0", 0.5),
                                  ("last", "grid_shape", "square"), ("middle", "grid_y0", None),
                                  ("first", "grid_shape", None), "empty"])
def test_grid_constants_by_sql(provider, birmingham, tmp_path, edit):
    """``_grid_constants``: the grid_* values when every row holds the same ones; ``{}`` when one
    row differs (the first, one in the middle or the last; a value or a NULL) or the layer has no
    rows; None for a layer that is not a GeoPackage table."""
    from composite_index_plugin.processing.grid_overlay import _grid_constants

    path = str(tmp_path / "grid.gpkg")
    run("compositeindex:creategrid", {"STUDY_AREA": birmingham, "SHAPE": 1, "SIZE": 1000,
                                      "KEEP": 0, "OUTPUT": path})
    layer = QgsVectorLayer(path, "grid", "ogr")
    fids = sorted(f.id() for f in layer.getFeatures(QgsFeatureRequest().setNoAttributes()))
    assert len(fids) > 300
    if edit == "empty":
        assert layer.dataProvider().deleteFeatures(fids)
    elif edit is not None:
        where, field, value = edit
        fid = {"first": fids[0], "middle": fids[len(fids) // 2], "last": fids[-1]}[where]
        assert layer.dataProvider().changeAttributeValues(
            {fid: {layer.fields().indexOf(field): value}})
    layer = QgsVectorLayer(path, "grid", "ogr")
    got = _grid_constants(layer)
    if edit is None:
        assert got == {"grid_shape": "hex_flat", "grid_size": 1000.0, "grid_x0": 0.0, "grid_y0": 0.0}
    else:
        assert got == {}
    assert _grid_constants(QgsVectorLayer(path + "|subset=fid > 3", "part", "ogr")) is None
    memory = layer.materialize(QgsFeatureRequest().setLimit(5))
    assert _grid_constants(memory) is None


@pytest.mark.parametrize("where", ["gpkg", "memory"])
def test_summariseareas_reads_a_grid_once(provider, birmingham, data_copy, tmp_path, monkeypatch,
                                          where):
    """The zones' attributes are read in one pass, grid columns included: a GeoPackage grid
    without its grid_* fields (one SQL query checks them), a memory grid (the Modeler's
    temporary outputs) with them; either way by grid arithmetic."""
    from composite_index_plugin.processing import grid_overlay
    from composite_index_plugin.processing.algorithms import summarise_areas

    dest = str(tmp_path / "grid.gpkg") if where == "gpkg" else "memory:"
    grid = run("compositeindex:creategrid", {"STUDY_AREA": birmingham, "SHAPE": 1, "SIZE": 500,
                                             "KEEP": 0, "OUTPUT": dest})["OUTPUT"]
    zones = run("compositeindex:apportion", {"SOURCES": birmingham, "FIELD": "LAT", "ZONES": grid,
                                             "OUTPUT": dest if where == "memory" else
                                             str(tmp_path / "zones.gpkg")})["OUTPUT"]
    reads = []
    for module in (summarise_areas, grid_overlay):
        real = module.layer_dataframe
        monkeypatch.setattr(module, "layer_dataframe",
                            lambda source, fields=None, *a, _real=real, **k:
                            reads.append(list(fields)) or _real(source, fields, *a, **k))
    wards = QgsVectorLayer(data_copy("birmingham/wards_2018.gpkg"), "wards", "ogr")
    fb = Feedback()
    run("compositeindex:summariseareas", {"ZONES": zones, "AREAS": wards,
                                          "SCORE_FIELD": "population", "OUTPUT": "memory:",
                                          "TABLE": "memory:"}, fb)
    assert "grid arithmetic" in _log(fb)
    assert len(reads) == 1
    assert {"q", "r", "grid_clipped"} <= set(reads[0])
    assert ("grid_size" in reads[0]) == (where == "memory")


def test_ellipsoidal_cell_areas_exact_and_by_block(qgis_app):
    """With an ellipsoid, whole cells are measured one by one, or once per 16 x 16 block of a
    large grid: within 1e-4 of the cell-by-cell figures at 100 m, 240 km from the central meridian."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransformContext, QgsDistanceArea

    from composite_index_plugin.processing.grid_overlay import GridZones, whole_cell_m2

    spec = GridSpec("hex_flat", 100.0)
    a, b = spec.cells_in_box(640_000, 300_000, 644_000, 304_000)   # East Anglia, 240 km east
    grid = GridZones(spec, a, b, np.arange(len(a)), np.zeros(len(a), dtype=bool))
    da = QgsDistanceArea()
    da.setSourceCrs(QgsCoordinateReferenceSystem("EPSG:27700"), QgsCoordinateTransformContext())
    da.setEllipsoid("EPSG:7001")   # Airy 1830
    rows = np.arange(len(a))
    exact = whole_cell_m2(grid, da, rows)
    blocks = whole_cell_m2(grid, da, rows, exact_limit=10)
    planar = spec.size ** 2 * np.sqrt(3) / 2
    assert np.abs(exact / planar - 1).max() > 1e-4          # the ellipsoid matters here
    assert len(a) > 1000 and 0 < np.abs(blocks / exact - 1).max() < 1e-4
    da.setEllipsoid("NONE")
    assert whole_cell_m2(grid, da, rows) == pytest.approx(np.full(len(a), planar))
