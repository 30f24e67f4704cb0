"""compositeindex:hotspots and compositeindex:hotspotzones through processing.run."""
import numpy as np
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingUtils,
    QgsRenderContext,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QVariant

from composite_index_plugin.core import hotspots as hs
from composite_index_plugin.core.hotspot_zones import hot_components
from composite_index_plugin.core.neighbours import distance_band, grid_contiguity, min_band_all_have_neighbour

SIDE = 12
CELL = 100.0


class Recorder(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.infos, self.warnings = [], []

    def pushInfo(self, info):
        self.infos.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning):
        self.warnings.append(warning)
        super().pushWarning(warning)


def grid_values():
    r, c = np.divmod(np.arange(SIDE * SIDE), SIDE)
    v = np.where((r >= 2) & (r < 5) & (c >= 2) & (c < 5), 40.0, 2.0) + (r * 7 + c * 3) % 5
    v = v + np.where((r >= 8) & (c >= 8), 25.0, 0.0)
    return r, c, v


def grid_layer(with_indices=True, nulls=(), constant=False):
    fields = "field=cell_id:string&field=burglary:double&field=population:double"
    if with_indices:
        fields += "&field=row:integer&field=col:integer&field=grid_shape:string"
    layer = QgsVectorLayer(f"Polygon?crs=EPSG:27700&{fields}", "grid", "memory")
    r, c, v = grid_values()
    feats = []
    for i in range(SIDE * SIDE):
        f = QgsFeature(layer.fields())
        x0, y0 = c[i] * CELL, r[i] * CELL
        f.setGeometry(QgsGeometry.fromRect(_rect(x0, y0)))
        value = None if i in nulls else (5.0 if constant else float(v[i]))
        attrs = [f"S100_r{r[i]}_c{c[i]}", value, 100.0]
        if with_indices:
            attrs += [int(r[i]), int(c[i]), "square"]
        f.setAttributes(attrs)
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def _rect(x0, y0):
    from qgis.core import QgsRectangle
    return QgsRectangle(x0, y0, x0 + CELL, y0 + CELL)


def point_layer(crs="EPSG:27700", n=80, seed=3, scale=1000.0, offset=(400000.0, 280000.0)):
    rng = np.random.default_rng(seed)
    x = offset[0] + rng.random(n) * scale
    y = offset[1] + rng.random(n) * scale
    w = rng.poisson(3, n).astype(float) + (x - offset[0] < scale / 3) * 6
    layer = QgsVectorLayer(f"Point?crs={crs}&field=harm:double", "points", "memory")
    feats = []
    for i in range(n):
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x[i], y[i])))
        f.setAttributes([float(w[i])])
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer, x, y, w


def run(alg, params, feedback=None):
    import processing

    context = QgsProcessingContext()
    params = dict(params)
    params.setdefault("OUTPUT", "TEMPORARY_OUTPUT")
    result = processing.run(f"compositeindex:{alg}", params, context=context,
                            feedback=feedback or QgsProcessingFeedback())
    out = result["OUTPUT"]
    if isinstance(out, str):
        out = QgsProcessingUtils.mapLayerFromString(out, context)
    return result, out, context


def column(layer, name):
    def num(v):
        if v is None or (isinstance(v, QVariant) and v.isNull()):
            return np.nan
        return float(v)
    return np.array([num(f[name]) for f in layer.getFeatures()], dtype=float)


def test_grid_queen_matches_the_core(provider):
    layer = grid_layer()
    fb = Recorder()
    result, out, _ = run("hotspots", {"INPUT": layer, "FIELD": "burglary", "NEIGHBOURHOOD": 0,
                                      "FDR": False}, fb)
    r, c, v = grid_values()
    nb = grid_contiguity(r, c, queen=True)
    ref = hs.analyse(v, nb, fdr=False)
    names = out.fields().names()
    for f in ("gi_z", "gi_p", "gi_bin", "n_neighbours", "lisa_i", "lisa_p", "lisa_cluster"):
        assert f in names
    assert out.fields().field("gi_bin").isNumeric() and out.fields().field("gi_bin").typeName() != "double"
    np.testing.assert_allclose(column(out, "gi_z"), ref.gi_z, atol=1e-12)
    np.testing.assert_allclose(column(out, "lisa_p"), ref.lisa_p, atol=1e-12)
    assert column(out, "gi_bin").tolist() == ref.gi_bin.tolist()
    assert column(out, "n_neighbours")[:3].tolist() == [3, 5, 5]
    assert [f["lisa_cluster"] for f in out.getFeatures()] == ref.lisa_cluster.tolist()
    assert result["MORAN_I"] == pytest.approx(ref.moran["I"])
    assert result["GENERAL_G"] == pytest.approx(ref.general_g["G"])
    assert result["N_ISLANDS"] == 0 and result["N_EXCLUDED"] == 0
    assert any("row/col indices" in t for t in fb.infos)
    assert any("Global Moran's I" in t for t in fb.infos)
    # the hot block (2..4, 2..4) centre is a 99 % hot spot
    assert column(out, "gi_bin")[3 * SIDE + 3] == 3


def test_plain_polygons_give_the_same_answer_by_shared_vertices(provider):
    grid_result, grid_out, _ = run("hotspots", {"INPUT": grid_layer(), "FIELD": "burglary",
                                                "NEIGHBOURHOOD": 1})
    fb = Recorder()
    poly_result, poly_out, _ = run("hotspots", {"INPUT": grid_layer(with_indices=False),
                                                "FIELD": "burglary", "NEIGHBOURHOOD": 1}, fb)
    np.testing.assert_allclose(column(poly_out, "gi_z"), column(grid_out, "gi_z"), atol=1e-12)
    assert column(poly_out, "n_neighbours")[:2].tolist() == [2, 3]
    assert any("rook contiguity of the polygons" in t for t in fb.infos)


def test_points_default_band_and_knn(provider):
    layer, x, y, w = point_layer()
    fb = Recorder()
    result, out, _ = run("hotspots", {"INPUT": layer, "FIELD": "harm", "NEIGHBOURHOOD": 2,
                                      "DISTANCE": 0}, fb)
    band = min_band_all_have_neighbour(x, y)
    assert result["DISTANCE_USED"] == pytest.approx(band)
    ref = hs.analyse(w, distance_band(x, y, band))
    np.testing.assert_allclose(column(out, "gi_z"), ref.gi_z, atol=1e-9)
    assert result["N_ISLANDS"] == 0
    assert any("smallest that gives every zone" in t for t in fb.infos)
    result, out, _ = run("hotspots", {"INPUT": layer, "FIELD": "harm", "NEIGHBOURHOOD": 3, "K": 6})
    assert set(column(out, "n_neighbours").tolist()) == {6}


def test_geographic_points_are_reprojected_and_said_so(provider):
    layer, lon, lat, w = point_layer(crs="EPSG:4326", scale=0.05, offset=(-1.9, 52.45))
    fb = Recorder()
    result, out, _ = run("hotspots", {"INPUT": layer, "FIELD": "harm", "NEIGHBOURHOOD": 2,
                                      "DISTANCE": 800}, fb)
    assert any("geographic CRS" in t and "EPSG:27700" in t for t in fb.warnings)
    assert result["DISTANCE_USED"] == 800
    # 0.05 degrees is a few km: an 800 m band gives several neighbours, not everyone
    n = column(out, "n_neighbours")
    assert 1 < np.nanmean(n) < 40


def test_automatic_scale_is_explained(provider):
    layer = grid_layer()
    fb = Recorder()
    result, out, _ = run("hotspots", {"INPUT": layer, "FIELD": "burglary", "NEIGHBOURHOOD": 4}, fb)
    assert result["DISTANCE_USED"] >= CELL
    assert any("Automatic scale" in t for t in fb.infos)


def test_permutations_are_repeatable_with_a_seed(provider):
    params = {"INPUT": grid_layer(), "FIELD": "burglary", "NEIGHBOURHOOD": 0, "PERMUTATIONS": 199,
              "SEED": 7, "FDR": True}
    _, a, _ = run("hotspots", params)
    _, b, _ = run("hotspots", params)
    pa, pb = column(a, "gi_p"), column(b, "gi_p")
    assert np.array_equal(pa, pb)
    assert np.all(np.isclose(pa * 200, np.round(pa * 200)))


def test_nulls_are_counted_and_left_empty(provider):
    fb = Recorder()
    result, out, _ = run("hotspots", {"INPUT": grid_layer(nulls=(0, 5)), "FIELD": "burglary",
                                      "NEIGHBOURHOOD": 0}, fb)
    assert result["N_EXCLUDED"] == 2
    gz = column(out, "gi_z")
    assert np.isnan(gz[[0, 5]]).all() and np.isfinite(gz[1:5]).all()
    assert any("2 zone(s) have no value in 'burglary'" in t for t in fb.warnings)


def test_bad_input_is_refused_clearly(provider):
    with pytest.raises(QgsProcessingException, match="same value .* in 'burglary'"):
        run("hotspots", {"INPUT": grid_layer(constant=True), "FIELD": "burglary", "NEIGHBOURHOOD": 0})
    layer, *_ = point_layer()
    with pytest.raises(QgsProcessingException, match="point layer: queen and rook"):
        run("hotspots", {"INPUT": layer, "FIELD": "harm", "NEIGHBOURHOOD": 0})
    with pytest.raises(QgsProcessingException, match="at most 1,000 are allowed"):
        big, *_ = point_layer(n=1200, scale=100.0)
        run("hotspots", {"INPUT": big, "FIELD": "harm", "NEIGHBOURHOOD": 2, "DISTANCE": 5000})


def test_hotspot_zones_dissolve_the_hot_cells(provider):
    _, hot, _ = run("hotspots", {"INPUT": grid_layer(), "FIELD": "burglary", "NEIGHBOURHOOD": 0})
    result, zones, _ = run("hotspotzones", {"INPUT": hot, "MIN_BIN": 2, "SUM_FIELDS": ["burglary"]})
    bins = column(hot, "gi_bin")
    r, c, v = grid_values()
    labels = hot_components(bins, grid_contiguity(r, c), 2)
    m = int(labels.max()) + 1
    assert m >= 1 and result["ZONES"] == m == zones.featureCount()
    feats = sorted(zones.getFeatures(), key=lambda f: f["zone_id"])
    for z, f in enumerate(feats):
        members = labels == z
        assert f["n_cells"] == int(members.sum())
        assert f["area"] == pytest.approx(members.sum() * CELL * CELL)
        assert f["burglary"] == pytest.approx(v[members].sum())
        assert f["population"] == pytest.approx(100.0 * members.sum())
        assert f.geometry().area() == pytest.approx(members.sum() * CELL * CELL)
    assert set(zones.fields().names()) >= {"zone_id", "area", "n_cells", "burglary", "population"}
    with pytest.raises(QgsProcessingException, match="no gi_bin field"):
        run("hotspotzones", {"INPUT": grid_layer(), "MIN_BIN": 2})


def test_styles_load_on_the_outputs(provider):
    from composite_index_plugin.processing.styling import apply_style

    _, out, _ = run("hotspots", {"INPUT": grid_layer(), "FIELD": "burglary", "NEIGHBOURHOOD": 0})
    assert apply_style(out, "gi_bins")
    renderer = out.renderer()
    assert renderer.classAttribute() == "gi_bin"
    labels = [c.label() for c in renderer.categories()]
    assert "Hot spot - 99% confidence" in labels and "Cold spot - 90% confidence" in labels
    assert [str(c.value()) for c in renderer.categories()][:7] == ["3", "2", "1", "0", "-1", "-2", "-3"]
    # the integer field values find their class: the hottest cell is drawn dark red
    ctx = QgsRenderContext()
    renderer.startRender(ctx, out.fields())
    hottest = next(f for f in out.getFeatures() if f["gi_bin"] == 3)
    assert renderer.symbolForFeature(hottest, ctx).color().name() == "#b2182b"
    renderer.stopRender(ctx)
    assert apply_style(out, "lisa_clusters")
    assert out.renderer().classAttribute() == "lisa_cluster"
    assert {c.value() for c in out.renderer().categories()} >= {"High-High", "Low-Low", "High-Low",
                                                                "Low-High", "Not significant"}
    _, zones, _ = run("hotspotzones", {"INPUT": out, "MIN_BIN": 2})
    assert apply_style(zones, "hotspot_zones")


class OrderedRecorder(QgsProcessingFeedback):
    """Every info and warning, in the order they were pushed."""

    def __init__(self):
        super().__init__()
        self.log = []

    def pushInfo(self, info):
        self.log.append(("info", info))
        super().pushInfo(info)

    def pushWarning(self, warning):
        self.log.append(("warning", warning))
        super().pushWarning(warning)


def test_defaults_are_the_core_defaults(provider):
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById("compositeindex:hotspots")
    assert alg.parameterDefinition("FDR").defaultValue() is True
    assert alg.parameterDefinition("SEED").defaultValue() == hs.DEFAULTS["seed"] == 12345
    assert alg.parameterDefinition("PERMUTATIONS").defaultValue() == hs.DEFAULTS["permutations"] == 0
    assert alg.parameterDefinition("NEIGHBOURHOOD").defaultValue() == 0        # queen
    assert hs.DEFAULTS["fdr"] is True and hs.DEFAULTS["neighbourhood"] == "queen"
    # a run without FDR/SEED/PERMUTATIONS is the core's default analysis
    _, out, _ = run("hotspots", {"INPUT": grid_layer(), "FIELD": "burglary"})
    r, c, v = grid_values()
    ref = hs.analyse(v, grid_contiguity(r, c, queen=True))
    assert ref.fdr is True
    assert column(out, "gi_bin").tolist() == ref.gi_bin.tolist()


def test_recipe_runner_uses_the_same_hotspot_defaults(provider, monkeypatch, tmp_path):
    from composite_index_plugin.core import model
    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    runner = RecipeRunner.__new__(RecipeRunner)
    runner.recipe = model.Recipe()                    # no hotspots section: the defaults
    runner.layers = {"index": "index-layer"}
    runner.zones = "index-layer"
    runner.gpkg = str(tmp_path / "results.gpkg")
    seen = {}

    def fake_child(alg_id, params, feedback):
        seen[alg_id] = params
        return {"OUTPUT": "hot-layer"}

    monkeypatch.setattr(runner, "run_child", fake_child)
    runner.stage_hotspots(QgsProcessingFeedback())
    params = seen["compositeindex:hotspots"]
    assert (params["FDR"], params["SEED"], params["PERMUTATIONS"], params["NEIGHBOURHOOD"]) == \
        (True, 12345, 0, 0)
    runner.recipe = model.Recipe(hotspots=model.Hotspots(fdr=False, seed=3, permutations=99))
    runner.stage_hotspots(QgsProcessingFeedback())
    params = seen["compositeindex:hotspots"]
    assert (params["FDR"], params["SEED"], params["PERMUTATIONS"]) == (False, 3, 99)


def test_unreachable_significance_is_said_before_the_run(provider):
    # 144 zones, 99 permutations, FDR: smallest p 2 / 100 = 0.02; BH over 144 zones needs
    # ceil(144 * 0.02 / q) zones at that p: 29 at 90 %, 58 at 95 %, 288 > 144 at 99 % (never);
    # one zone alone needs P + 1 >= 2 * 144 / q: 2,879 / 5,759 / 28,799 permutations
    fb = OrderedRecorder()
    run("hotspots", {"INPUT": grid_layer(), "FIELD": "burglary", "NEIGHBOURHOOD": 0,
                     "PERMUTATIONS": 99, "FDR": True}, fb)
    warnings = [t for kind, t in fb.log if kind == "warning"]
    gi = next(t for t in warnings if t.startswith("Gi* hot and cold spots"))
    assert "smallest possible p-value is 0.02" in gi
    assert "99 % confidence never (the smallest p is above 0.01)" in gi
    assert "95 % confidence only if at least 58 of the 144 zones (40 %)" in gi
    assert "90 % confidence only if at least 29 of the 144 zones (20 %)" in gi
    assert "28,799 for 99 %, 5,759 for 95 %, 2,879 for 90 %" in gi
    lisa = next(t for t in warnings if t.startswith("local Moran clusters"))
    assert "95 % confidence only if at least 58" in lisa
    # said before the results: ahead of the global statistics in the log
    first_result = next(i for i, (_, t) in enumerate(fb.log) if "Global Moran's I" in t)
    assert fb.log.index(("warning", gi)) < first_result
    # the text is the core's, from the core's numbers
    core = hs.reach_warnings(hs.reachable_significance(144, 99, True, 0.05))
    assert core == [gi, lisa]
    # enough permutations without FDR: no such warning
    fb = OrderedRecorder()
    run("hotspots", {"INPUT": grid_layer(), "FIELD": "burglary", "NEIGHBOURHOOD": 0,
                     "PERMUTATIONS": 999, "FDR": False}, fb)
    assert not any("smallest possible p-value" in t for _, t in fb.log)


def test_islands_stay_null_and_are_counted_in_the_log(provider):
    layer = grid_layer(with_indices=False)
    far = QgsFeature(layer.fields())
    far.setGeometry(QgsGeometry.fromRect(_rect(5000.0, 5000.0)))
    far.setAttributes(["far", 30.0, 100.0])
    layer.dataProvider().addFeatures([far])
    fb = OrderedRecorder()
    result, out, _ = run("hotspots", {"INPUT": layer, "FIELD": "burglary", "NEIGHBOURHOOD": 0,
                                      "PERMUTATIONS": 99, "SEED": 2}, fb)
    assert result["N_ISLANDS"] == 1
    last = [f for f in out.getFeatures()][-1]
    assert last["cell_id"] == "far"
    for name in ("gi_z", "gi_p", "gi_bin", "lisa_i", "lisa_p", "lisa_cluster"):
        value = last[name]
        assert value is None or (isinstance(value, QVariant) and value.isNull()) or \
            str(value) == "NULL", name
    assert last["n_neighbours"] == 0
    assert np.isfinite(column(out, "gi_p")[:SIDE * SIDE]).all()
    texts = [t for _, t in fb.log]
    assert any("1 zone(s) have no neighbours" in t for t in texts)
    assert any("without neighbours (islands, left empty): 1; tested: 144." in t for t in texts)


def _labelled_grid():
    """``grid_layer`` with one more field, ``note``, that a hotspot layer can leave out."""
    from composite_index_plugin.qgis_compat import make_field

    layer = grid_layer()
    layer.dataProvider().addAttributes([make_field("note", "string")])
    layer.updateFields()
    index = layer.fields().indexOf("note")
    layer.dataProvider().changeAttributeValues({f.id(): {index: "checked"}
                                                for f in layer.getFeatures()})
    return layer


def _gpkg_grid(tmp_path):
    """``_labelled_grid`` in a GeoPackage (so the output is written by the fast copy)."""
    from qgis.core import QgsCoordinateTransformContext, QgsVectorFileWriter

    path = str(tmp_path / "grid.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    writer = getattr(QgsVectorFileWriter, "writeAsVectorFormatV3",
                     QgsVectorFileWriter.writeAsVectorFormatV2)
    assert writer(_labelled_grid(), path, QgsCoordinateTransformContext(), options)[0] == 0
    return QgsVectorLayer(path, "grid", "ogr")


@pytest.mark.parametrize("where", ["gpkg", "memory"])
def test_without_the_input_fields_only_id_grid_value_and_results_are_written(provider, tmp_path,
                                                                               where, monkeypatch):
    """KEEP_FIELDS off: the note (another input field) is left out; the zone id, the grid's
    fields, the population, the value analysed and every result stay, with the same results as
    with every field kept, on the fast GeoPackage copy and on the feature-by-feature path."""
    layer = _gpkg_grid(tmp_path) if where == "gpkg" else _labelled_grid()
    dest = str(tmp_path / "slim.gpkg") if where == "gpkg" else "TEMPORARY_OUTPUT"
    from composite_index_plugin.processing import io_table

    fast, real = [], io_table._fast_gpkg_write
    monkeypatch.setattr(io_table, "_fast_gpkg_write", lambda *a: fast.append(real(*a)) or fast[-1])
    _, full, _ = run("hotspots", {"INPUT": layer, "FIELD": "burglary", "FDR": False})
    _, slim, _ = run("hotspots", {"INPUT": layer, "FIELD": "burglary", "FDR": False,
                                  "KEEP_FIELDS": False, "OUTPUT": dest})
    assert fast == ([True] if where == "gpkg" else [])   # the GeoPackage copy wrote it
    results = ["gi_z", "gi_p", "gi_bin", "n_neighbours", "lisa_i", "lisa_p", "lisa_cluster"]
    names = [n for n in slim.fields().names() if n != "fid"]
    assert names[:6] == ["cell_id", "burglary", "population", "row", "col", "grid_shape"]
    assert "note" not in names and set(results) <= set(names)
    assert "note" in full.fields().names()
    assert slim.featureCount() == full.featureCount() == SIDE * SIDE
    by_id = {f["cell_id"]: f for f in full.getFeatures()}
    for f in slim.getFeatures():
        twin = by_id[f["cell_id"]]
        assert f.geometry().equals(twin.geometry())
        for name in ["burglary", "population", "row", "col"] + results:
            assert f[name] == twin[name], (f["cell_id"], name)


def test_kept_fields_name_the_zone_by_its_first_text_field_without_a_cell_id():
    from qgis.core import QgsFields

    from composite_index_plugin.processing.algorithms.hotspots import kept_fields
    from composite_index_plugin.qgis_compat import make_field

    fields = QgsFields()
    for name, kind in (("pop", "double"), ("lsoa11cd", "string"), ("name", "string"),
                       ("harm", "double"), ("population", "double")):
        fields.append(make_field(name, kind))
    assert kept_fields(fields, "harm") == ["lsoa11cd", "harm", "population"]
