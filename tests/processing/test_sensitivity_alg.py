"""compositeindex:sensitivity through processing.run, on a hand-made zone layer."""
import json

import numpy as np
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsRectangle,
    QgsVectorLayer,
)

from tests.processing.test_summariseareas import area_layer

SPEC = {"themes": [
    {"name": "violence", "issues": [
        {"name": "assault", "indicators": {"victims": {"field": "a_v", "scaling": "zscore"},
                                           "locations": {"field": "a_l", "scaling": "zscore"}}},
        {"name": "robbery", "indicators": {"victims": {"field": "r_v", "scaling": "zscore"}}}]},
    {"name": "harm", "issues": [
        {"name": "damage", "indicators": {"locations": {"field": "d_l", "scaling": "zscore"}}}]},
]}


def zones(n=40, seed=3):
    """n 250 m cells in a row over x 0..10 km (so the West/East areas split them)."""
    rng = np.random.default_rng(seed)
    fields = "&".join(f"field={f}:double" for f in ("a_v", "a_l", "r_v", "d_l", "population"))
    layer = QgsVectorLayer(f"Polygon?crs=EPSG:27700&field=cell_id:string&{fields}", "z", "memory")
    base = rng.gamma(2, 2, n)
    feats = []
    for i in range(n):
        f = QgsFeature(layer.fields())
        vals = [float(np.round(base[i] * rng.uniform(0.2, 1.8) + rng.poisson(1), 2)) for _ in range(4)]
        f.setAttributes([f"c{i}"] + vals + [100.0])
        f.setGeometry(QgsGeometry.fromRect(QgsRectangle(i * 250, 0, (i + 1) * 250, 1000)))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def _run(params):
    import processing

    base = {"SPEC": json.dumps(SPEC), "OUTPUT": "memory:"}
    base.update(params)
    return processing.run("compositeindex:sensitivity", base, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())


def _values(layer, field):
    return np.array([f[field] for f in layer.getFeatures()], dtype=float)


def test_runs_seeded_with_areas(provider):
    layer = zones()
    params = {"INPUT": layer, "RUNS": 30, "SEED": 5, "CONCENTRATION": 5.0,
              "SCALINGS": ["zscore", "rank"], "AREAS": area_layer(),
              "AREA_NAME_FIELD": "name", "AREA_OUTPUT": "memory:"}
    a = _run(params)
    b = _run(params)
    out = a["OUTPUT"]
    assert out.featureCount() == 40
    med = _values(out, "median_rank")
    assert np.array_equal(med, _values(b["OUTPUT"], "median_rank"))
    lo, hi = _values(out, "rank_p05"), _values(out, "rank_p95")
    assert np.all(lo <= med) and np.all(med <= hi) and (hi - lo).max() > 0
    p = _values(out, "p_top_decile")
    assert np.all((p >= 0) & (p <= 1))
    assert np.array_equal(_values(out, "robust_priority"), (p >= 0.8).astype(float))
    areas = {f["name"]: f for f in a["AREA_OUTPUT"].getFeatures()}
    assert set(areas) == {"West", "East"}
    assert sorted([areas["West"]["base_rank"], areas["East"]["base_rank"]]) == [1, 2]


def test_script_style_comma_scalings_and_file_spec(provider, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    res = _run({"INPUT": zones(), "SPEC": str(path), "RUNS": 4, "SEED": 1, "CONCENTRATION": 0,
                "SCALINGS": "minmax,rank"})
    assert res["OUTPUT"].featureCount() == 40


def test_nothing_to_vary_and_bad_spec(provider):
    with pytest.raises(QgsProcessingException, match="Nothing to vary"):
        _run({"INPUT": zones(), "RUNS": 5, "CONCENTRATION": 0})
    with pytest.raises(QgsProcessingException, match="not valid JSON"):
        _run({"INPUT": zones(), "SPEC": "{themes", "RUNS": 5})
    with pytest.raises(QgsProcessingException, match="Unknown scaling 'zed'"):
        _run({"INPUT": zones(), "RUNS": 5, "SCALINGS": ["zed"]})
    bad = json.loads(json.dumps(SPEC))
    bad["themes"][0]["issues"][0]["indicators"]["victims"]["field"] = "nope"
    with pytest.raises(QgsProcessingException, match="nope"):
        _run({"INPUT": zones(), "SPEC": json.dumps(bad), "RUNS": 5})
    with pytest.raises(QgsProcessingException, match="do not overlap any zone"):
        _run({"INPUT": zones(), "RUNS": 5, "AREAS": area_layer(offset=100000)})


def square_grid(nx=12, ny=8, size=100.0, seed=5):
    rng = np.random.default_rng(seed)
    fields = ("field=cell_id:string&field=a_v:double&field=a_l:double&field=r_v:double"
              "&field=d_l:double&field=population:double&field=grid_shape:string"
              "&field=grid_size:double&field=grid_x0:double&field=grid_y0:double")
    layer = QgsVectorLayer(f"Polygon?crs=EPSG:27700&{fields}", "grid", "memory")
    feats = []
    for r in range(ny):
        for c in range(nx):
            hot = 15 * np.exp(-((c - 3) ** 2 + (r - 3) ** 2) / 6)
            f = QgsFeature(layer.fields())
            f.setAttributes([f"S100_r{r}_c{c}"] + [float(rng.poisson(hot + 1)) for _ in range(4)]
                            + [100.0, "square", size, 0.0, 0.0])
            f.setGeometry(QgsGeometry.fromRect(QgsRectangle(c * size, r * size, (c + 1) * size,
                                                            (r + 1) * size)))
            feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def test_grid_jitter_on_a_square_grid(provider):
    res = _run({"INPUT": square_grid(), "RUNS": 12, "SEED": 2, "CONCENTRATION": 0,
                "GRID_JITTER": True})
    out = res["OUTPUT"]
    lo, hi = _values(out, "rank_p05"), _values(out, "rank_p95")
    assert out.featureCount() == 96 and (hi - lo).max() > 0
    # the planted hot spot's centre cell (row 3, col 3) is top decile in every run
    p = {f["cell_id"]: f["p_top_decile"] for f in out.getFeatures()}
    assert p["S100_r3_c3"] == 1


def test_grid_jitter_needs_a_grid(provider):
    # the row of cells has no grid_* fields: jitter is refused with a warning, nothing else varies
    with pytest.raises(QgsProcessingException, match="Nothing to vary"):
        _run({"INPUT": zones(), "RUNS": 3, "CONCENTRATION": 0, "GRID_JITTER": True})


def hex_grid(shape="hex_pointy", size=100.0, seed=5, clip_first=False):
    """Hexagon cells laid out like Create grid's (fields grid_* and q/r), a planted hot spot
    around (500, 400); ``clip_first``: the first cell is cut in half (a study-area edge)."""
    from composite_index_plugin.core.grid import GridSpec

    grid = GridSpec(shape, size)
    q, r = grid.cells_in_box(0.0, 0.0, 1200.0, 900.0)
    cx, cy = grid.centres(q, r)
    rings = grid.vertices(q, r)
    rng = np.random.default_rng(seed)
    fields = ("field=cell_id:string&field=q:integer&field=r:integer&field=a_v:double"
              "&field=a_l:double&field=r_v:double&field=d_l:double&field=population:double"
              "&field=grid_shape:string&field=grid_size:double&field=grid_x0:double"
              "&field=grid_y0:double")
    layer = QgsVectorLayer(f"Polygon?crs=EPSG:27700&{fields}", "hex", "memory")
    ids = grid.cell_ids(q, r)
    feats = []
    for i in range(len(q)):
        hot = 15 * np.exp(-((cx[i] - 500) ** 2 + (cy[i] - 400) ** 2) / 60000)
        f = QgsFeature(layer.fields())
        f.setAttributes([ids[i], int(q[i]), int(r[i])]
                        + [float(rng.poisson(hot + 1)) for _ in range(4)]
                        + [100.0, shape, size, 0.0, 0.0])
        wkt = "POLYGON((" + ",".join(f"{float(x)!r} {float(y)!r}" for x, y in rings[i]) + "))"
        geom = QgsGeometry.fromWkt(wkt)
        if clip_first and i == 0:
            geom = geom.intersection(QgsGeometry.fromRect(QgsRectangle(
                cx[i] - size, cy[i] - size, cx[i], cy[i] + size)))
        f.setGeometry(geom)
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer, (cx, cy)


@pytest.mark.parametrize("shape", ["hex_flat", "hex_pointy"])
def test_grid_jitter_on_a_hex_grid_widens_intervals(provider, shape):
    layer, (cx, cy) = hex_grid(shape, clip_first=True)
    n = layer.featureCount()
    params = {"INPUT": layer, "RUNS": 12, "SEED": 2, "CONCENTRATION": 5.0}
    still = _run(params)["OUTPUT"]
    moved = _run(dict(params, GRID_JITTER=True))["OUTPUT"]
    again = _run(dict(params, GRID_JITTER=True))["OUTPUT"]
    assert moved.featureCount() == n
    w_still = _values(still, "rank_p95") - _values(still, "rank_p05")
    w_moved = _values(moved, "rank_p95") - _values(moved, "rank_p05")
    # the same seed draws the same weights; moving the grid as well widens the intervals
    assert w_moved.mean() > 1.2 * w_still.mean()
    assert np.array_equal(_values(moved, "median_rank"), _values(again, "median_rank"))
    assert np.array_equal(_values(moved, "rank_p95"), _values(again, "rank_p95"))
    # the planted hot spot's centre cell stays in the top decile in every run
    centre = int(np.argmin((cx - 500) ** 2 + (cy - 400) ** 2))
    p = _values(moved, "p_top_decile")
    assert p[centre] == 1
    assert np.all(np.isfinite(_values(moved, "median_rank")))


def test_grid_jitter_hex_with_neighbours(provider):
    """A spec with Gi* clustering needs neighbours on every jittered grid: the six hexagons."""
    layer, (cx, cy) = hex_grid("hex_flat")
    spec = json.loads(json.dumps(SPEC))
    spec["themes"][1]["issues"][0]["indicators"]["locations"] = {
        "field": "d_l", "measure": "clustering", "clustering": "gi_star", "scaling": "zscore"}
    feedback = QgsProcessingFeedback()
    import processing

    res = processing.run("compositeindex:sensitivity", {
        "INPUT": layer, "SPEC": json.dumps(spec), "RUNS": 6, "SEED": 3, "CONCENTRATION": 0,
        "GRID_JITTER": True, "OUTPUT": "memory:"}, context=QgsProcessingContext(),
        feedback=feedback)
    out = res["OUTPUT"]
    lo, hi = _values(out, "rank_p05"), _values(out, "rank_p95")
    assert (hi - lo).max() > 0 and np.all(np.isfinite(lo))
    centre = int(np.argmin((cx - 500) ** 2 + (cy - 400) ** 2))
    assert _values(out, "p_top_decile")[centre] == 1
