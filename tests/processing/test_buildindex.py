"""compositeindex:buildindex through processing.run: outputs, toolbox mode, baseline, report,
diagnostics, spatial measures on a grid, bad input, and the IMD 2025 on real data."""
import json
import os

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

from composite_index_plugin.core.index import build_index
from composite_index_plugin.processing.io_table import layer_dataframe
from composite_index_plugin.qgis_compat import make_field
from tests.reference import REF_PY, require_reference

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
SIDE = 5


def grid_layer(nulls=False):
    """A 5 x 5 grid of 100 m squares with counts, a population and one text field."""
    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=cell_id:string&field=row:integer"
                           "&field=col:integer&field=violence:double&field=burglary:integer"
                           "&field=population:double&field=label:string", "zones", "memory")
    rng = np.random.default_rng(3)
    feats = []
    for k in range(SIDE * SIDE):
        r, c = divmod(k, SIDE)
        f = QgsFeature(layer.fields())
        pop = float(rng.integers(50, 500))
        violence = float(rng.poisson(pop / 50))
        f.setAttributes([f"S100_r{r}_c{c}", r, c, None if (nulls and k == 7) else violence,
                         int(rng.poisson(3)), pop, "x"])
        f.setGeometry(QgsGeometry.fromRect(QgsRectangle(c * 100, r * 100, c * 100 + 100, r * 100 + 100)))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


SPEC = {
    "themes": [
        {"name": "violence", "weight": 2, "issues": [
            {"name": "assault", "indicators": {
                "victims": {"field": "violence", "measure": "rate", "denominator": "population",
                            "per": 1000, "scaling": "zscore"},
                "locations": {"field": "violence", "measure": "density", "scaling": "minmax"}}}]},
        {"name": "property", "weight": 1, "issues": [
            {"name": "burglary", "indicators": {
                "victims": {"field": "burglary", "measure": "eb_rate_spatial",
                            "denominator": "population", "scaling": "percentile"}}}]},
    ],
    "neighbours": {"method": "queen"},
    "aggregation": {"issue": "mean", "theme": "mean", "composite": "mean"},
}


def run(params):
    import processing

    feedback = QgsProcessingFeedback()
    result = processing.run("compositeindex:buildindex", params, context=QgsProcessingContext(),
                            feedback=feedback)
    return result


def table_of(layer_or_id):
    layer = layer_or_id if isinstance(layer_or_id, QgsVectorLayer) else QgsVectorLayer(layer_or_id)
    return layer_dataframe(layer)


def test_full_index_with_spatial_measures_matches_core(provider, tmp_path):
    layer = grid_layer()
    report = str(tmp_path / "report.html")
    base = str(tmp_path / "baseline.json")
    diag = str(tmp_path / "diag.gpkg")
    result = run({"INPUT": layer, "SPEC": json.dumps(SPEC), "REPORT": report, "BASELINE_OUT": base,
                  "DIAGNOSTICS": diag, "OUTPUT": "memory:"})
    out = table_of(result["OUTPUT"])
    assert len(out) == 25 and result["ZONES_IN_INDEX"] == 25 and result["ZONES_EXCLUDED"] == 0
    for col in ("assault_victims_s", "assault_idx", "violence_idx", "property_idx", "ci_score",
                "ci_rank", "ci_decile", "ci_quintile", "top_theme", "top_issue", "violence_pct",
                "burglary_victims_m", "burglary_victims_zd", "cell_id"):
        assert col in out.columns, col
    # Same numbers as the core with rook-free queen neighbours on the 5 x 5 grid and 1e4 m^2 cells.
    from composite_index_plugin.core.neighbours import grid_contiguity

    frame = layer_dataframe(layer)
    nb = grid_contiguity(frame.row.to_numpy(int), frame.col.to_numpy(int), queen=True)
    core = build_index(frame, SPEC, neighbours=nb, zone_area=np.full(25, 1e4)).table
    np.testing.assert_allclose(out.ci_score, core.ci_score, rtol=1e-12)
    np.testing.assert_allclose(out.assault_locations_m, frame.violence / 0.01)
    np.testing.assert_allclose(out.burglary_victims_m, core.burglary_victims_m, rtol=1e-12)
    assert sorted(out.ci_rank.astype(int)) == list(range(1, 26))
    page = open(report, encoding="utf-8").read()
    assert "Cronbach" in page and "assault" in page
    saved = json.load(open(base, encoding="utf-8"))
    assert saved["format"] == "compositeindex-baseline"
    assert saved["indicators"]["assault_victims"]["mean"] == pytest.approx(
        (frame.violence / frame.population * 1000).mean())
    diag_table = table_of(result["DIAGNOSTICS"])
    assert list(diag_table.indicator) == ["victims", "locations", "victims"]
    np.testing.assert_allclose(diag_table.effective_weight.sum(), 1.0)
    assert "r_assault_victims" in diag_table.columns


def test_baseline_is_reused_and_another_spec_refused(provider, tmp_path):
    layer = grid_layer()
    base = str(tmp_path / "baseline.json")
    first = run({"INPUT": layer, "SPEC": json.dumps(SPEC), "BASELINE_OUT": base, "OUTPUT": "memory:"})
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC))
    again = run({"INPUT": layer, "SPEC": str(spec_file), "BASELINE_IN": base, "OUTPUT": "memory:"})
    np.testing.assert_allclose(table_of(again["OUTPUT"]).ci_score, table_of(first["OUTPUT"]).ci_score)
    other = json.loads(json.dumps(SPEC))
    other["themes"][0]["weight"] = 5
    with pytest.raises(QgsProcessingException, match="fitted for another index spec"):
        run({"INPUT": layer, "SPEC": json.dumps(other), "BASELINE_IN": base, "OUTPUT": "memory:"})


def test_toolbox_mode_without_spec(provider):
    layer = grid_layer()
    result = run({"INPUT": layer, "FIELDS": ["violence", "burglary"], "SCALING": 0, "AGGREGATION": 0,
                  "OUTPUT": "memory:"})
    out = table_of(result["OUTPUT"])
    frame = layer_dataframe(layer)
    v = (frame.violence - frame.violence.min()) / np.ptp(frame.violence)
    b = (frame.burglary - frame.burglary.min()) / np.ptp(frame.burglary)
    np.testing.assert_allclose(out.ci_score, (v + b) / 2, rtol=1e-12)
    assert set(out.top_issue) == {"all"} and set(out.top_theme) == {"index"}


def test_missing_values_are_left_out_and_reported(provider):
    result = run({"INPUT": grid_layer(nulls=True), "FIELDS": ["violence"], "OUTPUT": "memory:"})
    out = table_of(result["OUTPUT"])
    assert result["ZONES_EXCLUDED"] == 1 and out.ci_excluded.tolist()[7] == 1
    assert np.isnan(out.ci_score.iloc[7]) and out.ci_rank.notna().sum() == 24


def test_bad_input_gives_clear_errors(provider):
    layer = grid_layer()
    bad = json.loads(json.dumps(SPEC))
    bad["themes"][0]["issues"][0]["indicators"]["victims"]["field"] = "nope"
    bad["themes"][1]["issues"][0]["indicators"]["victims"]["scaling"] = "zscor"
    with pytest.raises(QgsProcessingException) as err:
        run({"INPUT": layer, "SPEC": json.dumps(bad), "OUTPUT": "memory:"})
    text = str(err.value)
    assert "2 problem(s)" in text
    assert "themes[0].issues[0].indicators.victims.field: field 'nope' is not in the layer" in text
    assert "themes[1].issues[0].indicators.victims.scaling" in text
    with pytest.raises(QgsProcessingException, match="not valid JSON.*line 1"):
        run({"INPUT": layer, "SPEC": '{"themes": [', "OUTPUT": "memory:"})
    text_field = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "x": {"field": "label"}}}]}]}
    with pytest.raises(QgsProcessingException, match="indicators.x.field: field 'label' is not numeric"):
        run({"INPUT": layer, "SPEC": json.dumps(text_field), "OUTPUT": "memory:"})
    with pytest.raises(QgsProcessingException, match="SPEC.*or choose indicator FIELDS"):
        run({"INPUT": layer, "OUTPUT": "memory:"})


@pytest.mark.slow
def test_imd_2025_through_processing_on_all_english_lsoas(provider):
    path = os.path.join(DATA, "england", "imd2025_lsoa21.csv")
    layer = QgsVectorLayer(f"file://{path}?type=csv&geomType=none&detectTypes=yes", "imd", "delimitedtext")
    assert layer.isValid() and layer.featureCount() == 33755
    weights = {"Income": 0.225, "Employment": 0.225, "Education": 0.135, "Health": 0.135,
               "Crime": 0.093, "Housing_and_Services": 0.093, "Environment": 0.093}
    spec = {"themes": [{"name": d.lower(), "weight": w, "issues": [{"name": f"{d.lower()}_d",
                        "indicators": {"rank": {"field": f"{d}_rank", "scaling": "exponential",
                                                "direction": "lower_is_worse"}}}]}
                       for d, w in weights.items()],
            "aggregation": {"issue": "sum", "theme": "sum", "composite": "sum"}}
    result = run({"INPUT": layer, "SPEC": json.dumps(spec), "OUTPUT": "memory:"})
    out = table_of(result["OUTPUT"])
    assert np.abs(out.ci_score - out.IMD_score).max() < 0.001
    assert np.abs(out.ci_rank - out.IMD_rank).max() <= 1
    assert (out.ci_decile == out.IMD_decile).all()


ESDA_GI = r"""
import json, sys
import geopandas as gpd, numpy as np
from libpysal.weights import Queen
from esda.getisord import G_Local
data = json.load(sys.stdin)
zones = gpd.read_file(data["path"])
keep = zones.LSOA21.isin(list(data["values"]))
sub = zones[keep].reset_index(drop=True)
w = Queen.from_dataframe(sub, use_index=False, silence_warnings=True)
y = np.array([data["values"][c] for c in sub.LSOA21])
g = G_Local(y, w, transform="B", star=True, permutations=0)
print(json.dumps(dict(zip(sub.LSOA21, g.Zs.tolist()))))
"""


@pytest.mark.slow
def test_real_polygons_queen_gi_star_matches_esda_and_missing_zones_are_left_out(provider, tmp_path):
    """Birmingham and Solihull LSOAs (793 polygons); the IMD crime score is known only for the
    659 Birmingham ones, so Solihull is left out (missing policy 'exclude') and Gi* is computed
    over the Birmingham queen contiguity - compared with esda on the same polygons."""
    import subprocess

    import pandas as pd

    gpkg = os.path.join(DATA, "birmingham", "lsoa21.gpkg")
    imd = pd.read_csv(os.path.join(DATA, "birmingham", "imd2025_lsoa21.csv"))
    crime = dict(zip(imd.lsoa21_code, imd.Crime_score))
    source = QgsVectorLayer(gpkg, "lsoa", "ogr")
    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=LSOA21:string&field=crime:double", "z", "memory")
    feats = []
    for f in source.getFeatures():
        g = QgsFeature(layer.fields())
        g.setAttributes([f["LSOA21"], crime.get(f["LSOA21"])])
        g.setGeometry(f.geometry())
        feats.append(g)
    layer.dataProvider().addFeatures(feats)
    spec = {"themes": [{"name": "crime", "issues": [{"name": "all", "indicators": {
        "score": {"field": "crime", "measure": "value", "scaling": "zscore", "missing": "exclude"},
        "cluster": {"field": "crime", "measure": "clustering", "clustering": "gi_star",
                    "scaling": "raw", "missing": "exclude"}}}]}],
        "neighbours": {"method": "queen"}}
    result = run({"INPUT": layer, "SPEC": json.dumps(spec), "OUTPUT": "memory:"})
    assert result["ZONES_EXCLUDED"] == 793 - 659 and result["ZONES_IN_INDEX"] == 659
    out = table_of(result["OUTPUT"]).set_index("LSOA21")
    assert out.ci_excluded.sum() == 134 and out.ci_rank.max() == 659
    require_reference()
    payload = json.dumps({"path": gpkg, "values": {k: v for k, v in crime.items() if k in out.index}})
    done = subprocess.run([REF_PY, "-c", ESDA_GI], input=payload, capture_output=True, text=True,
                          timeout=300, check=True)
    ref = pd.Series(json.loads(done.stdout))
    mine = out.loc[ref.index, "all_cluster_m"]
    np.testing.assert_allclose(mine.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-9)


def test_cancel_stops_without_output(provider):
    import processing

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    try:
        result = processing.run("compositeindex:buildindex",
                                {"INPUT": grid_layer(), "FIELDS": ["violence"], "OUTPUT": "memory:"},
                                context=QgsProcessingContext(), feedback=feedback)
    except QgsProcessingException as err:
        assert "Cancelled" in str(err)
    else:
        assert "OUTPUT" not in result


@pytest.mark.parametrize("setting", [{"method": "knn", "k": 4}, {"method": "distance", "distance": 150},
                                     {"method": "rook"}])
def test_neighbour_settings_reach_the_engine(provider, setting):
    from composite_index_plugin.core import measures
    from composite_index_plugin.core.neighbours import distance_band, grid_contiguity, knn

    layer = grid_layer()
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "seb": {"field": "burglary", "measure": "eb_rate_spatial", "denominator": "population",
                "scaling": "raw"}}}]}], "neighbours": setting}
    out = table_of(run({"INPUT": layer, "SPEC": json.dumps(spec), "OUTPUT": "memory:"})["OUTPUT"])
    frame = layer_dataframe(layer)
    x = frame.col.to_numpy(float) * 100 + 50
    y = frame.row.to_numpy(float) * 100 + 50
    nb = {"knn": lambda: knn(x, y, 4), "distance": lambda: distance_band(x, y, 150),
          "rook": lambda: grid_contiguity(frame.row.to_numpy(int), frame.col.to_numpy(int), queen=False)
          }[setting["method"]]()
    expected, _ = measures.eb_rate_spatial(frame.burglary, frame.population, nb, per=1000)
    np.testing.assert_allclose(out.i_seb_m, expected, rtol=1e-12)


def test_scores_carry_the_id_of_their_baseline(provider, tmp_path):
    """A run that reads the baseline another run wrote is on the same scale: same ci_baseline."""
    import processing

    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=a:double&field=b:double", "z", "memory")
    feats = []
    for i, (a, b) in enumerate([(1, 5), (2, 3), (4, 4), (8, 1)]):
        f = QgsFeature(layer.fields())
        f.setAttributes([a, b])
        f.setGeometry(QgsGeometry.fromRect(QgsRectangle(i, 0, i + 1, 1)))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    base = str(tmp_path / "baseline.json")

    def run(**extra):
        params = {"INPUT": layer, "FIELDS": ["a", "b"], "SCALING": 1, "OUTPUT": "memory:"}
        params.update(extra)
        out = processing.run("compositeindex:buildindex", params, context=QgsProcessingContext(),
                             feedback=QgsProcessingFeedback())["OUTPUT"]
        return {f["ci_baseline"] for f in out.getFeatures()}

    first = run(BASELINE_OUT=base)
    second = run(BASELINE_IN=base)
    assert len(first) == 1 and first == second
    layer.dataProvider().changeAttributeValues({1: {0: 100.0}})
    assert run() != first  # refitted on other data: another scale


def test_small_numbers_reach_the_log_the_layer_and_the_report(provider, tmp_path):
    """One cell of 2 residents with 6 burglaries: pooled (default min_denominator 50), flagged,
    and in the log; a cell far from the mean is named by its cell_id in the log and the report;
    zones without a burglary share the lowest decile."""
    import processing

    layer = grid_layer()
    layer.startEditing()
    pop_idx, burg_idx = layer.fields().indexOf("population"), layer.fields().indexOf("burglary")
    for f in layer.getFeatures():
        layer.changeAttributeValue(f.id(), burg_idx, 0)
        if f["cell_id"] == "S100_r2_c2":
            layer.changeAttributeValue(f.id(), pop_idx, 2.0)
            layer.changeAttributeValue(f.id(), burg_idx, 6)
        if f["cell_id"] == "S100_r4_c4":
            layer.changeAttributeValue(f.id(), burg_idx, 40)
        if f["cell_id"] in ("S100_r0_c0", "S100_r0_c1"):
            layer.changeAttributeValue(f.id(), burg_idx, 1)
    layer.commitChanges()
    spec = {"themes": [{"name": "t", "issues": [{"name": "burglary", "indicators": {
        "victims": {"field": "burglary", "measure": "rate", "denominator": "population",
                    "scaling": "zscore", "missing": "zero"}}}]}], "z_warning": 3}
    report = str(tmp_path / "report.html")
    feedback = QgsProcessingFeedback()
    warnings = []
    feedback.pushWarning = warnings.append
    result = processing.run("compositeindex:buildindex", {
        "INPUT": layer, "SPEC": json.dumps(spec), "REPORT": report, "OUTPUT": "memory:"},
        context=QgsProcessingContext(), feedback=feedback)
    out = table_of(result["OUTPUT"]).set_index("cell_id")
    assert out.loc["S100_r2_c2", "burglary_victims_pooled"] == 1
    assert out.burglary_victims_pooled.sum() == 1
    # Pooled: the study-area rate, 48 burglaries over all residents.
    total_pop = sum(f["population"] for f in layer.getFeatures())
    assert out.loc["S100_r2_c2", "burglary_victims_m"] == pytest.approx(48000 / total_pop)
    assert any("Small denominators: 1 of 25 zone(s)" in w for w in warnings)
    far = [w for w in warnings if "standard deviations from the mean" in w]
    assert len(far) == 1 and "(S100_r4_c4)" in far[0]
    # 21 cells without a burglary: tied at rank 5, all in decile 10 and quintile 5.
    empty = out[out.ci_no_incidents == 1]
    assert len(empty) == 21 and set(empty.ci_rank) == {5} and set(empty.ci_decile) == {10}
    assert set(empty.ci_quintile) == {5} and sorted(set(out.ci_decile)) == [1, 2, 10]
    page = open(report, encoding="utf-8").read()
    assert "Small numbers" in page and "S100_r4_c4" in page


def test_far_zones_on_a_baseline_are_warnings_too():
    """The far-zone message names whose mean it measures from ("the", "the baseline's", "the
    spec's fixed"); each is a warning in the log, as the others (a baseline's message was logged
    as information when the classifier looked for "from the mean")."""
    from composite_index_plugin.processing.algorithms.build_index import is_warning

    for whose in ("the", "the baseline's", "the spec's fixed"):
        assert is_warning(f"t / b / locations (field 'n'): 2 zone(s) lie more than 3 standard "
                          f"deviations from {whose} mean (z1, z2); largest z = 8.5 in zone z2")
    assert is_warning("3 of 25 zone(s) left out of the index (missing data)")
    assert not is_warning("Scaled with the frozen baseline (fingerprint abc); scores are on the "
                          "baseline's scale.")


def test_many_far_indicators_make_one_warning():
    """West Yorkshire's month: 13 indicators with far zones were 13 warnings in a row. More than
    three make one warning naming them (from the diagnostics table); each message still goes to
    the log (as information)."""
    import pandas as pd

    from composite_index_plugin.processing.algorithms.build_index import log_levels

    def far(issue, n):
        return (f"theme / {issue} / locations (field '{issue}_locations'): {n} zone(s) lie more "
                "than 10 standard deviations from the baseline's mean (z1); largest z = 20.1")

    def table(extreme):
        return pd.DataFrame({"issue": list(extreme), "indicator": "locations",
                             "n_extreme": list(extreme.values())})

    few = ["Scaled with the frozen baseline.", far("robbery", 181), far("drugs", 12)]
    assert log_levels(few, table({"robbery": 181, "drugs": 12, "burglary": 0}), 10) == [
        (few[0], False), (few[1], True), (few[2], True)]
    issues = ("burglary", "robbery", "drugs", "shoplifting")
    many = [far(i, 5) for i in issues] + ["3 of 25 zone(s) left out of the index (missing data)"]
    levels = log_levels(many, table({**dict.fromkeys(issues, 5), "vehicle": 0}), 10)
    assert len(levels) == 6 and levels[0][1] is True
    assert levels[0][0].startswith(
        "4 indicators have zones more than 10 standard deviations from their mean (burglary / "
        "locations, robbery / locations, drugs / locations, shoplifting / locations)")
    assert levels[1:] == [(m, False) for m in many[:4]] + [(many[4], True)]


def test_far_zone_warning_in_the_log(provider):
    """Through the algorithm: five indicators each with one far cell give one warning (and
    the five messages as information)."""
    import processing

    layer = grid_layer()
    fields = [f"c{k}" for k in range(5)]
    layer.dataProvider().addAttributes([make_field(f, "double") for f in fields])
    layer.updateFields()
    changes = {}
    for f in layer.getFeatures():
        far = f["cell_id"] == "S100_r4_c4"
        changes[f.id()] = {layer.fields().indexOf(c): (100.0 if far else float(f.id() % 2))
                           for c in fields}
    layer.dataProvider().changeAttributeValues(changes)
    spec = {"themes": [{"name": "t", "issues": [{"name": c, "indicators": {"locations": {
        "field": c, "measure": "volume", "scaling": "zscore", "missing": "zero"}}}
        for c in fields]}], "z_warning": 3}
    feedback = QgsProcessingFeedback()
    warnings, infos = [], []
    feedback.pushWarning = warnings.append
    feedback.pushInfo = infos.append
    processing.run("compositeindex:buildindex", {"INPUT": layer, "SPEC": json.dumps(spec),
                                                 "OUTPUT": "memory:"},
                   context=QgsProcessingContext(), feedback=feedback)
    far = [w for w in warnings if "standard deviations" in w]
    assert len(far) == 1 and far[0].startswith("5 indicators have zones more than 3 standard")
    assert sum("(S100_r4_c4)" in i for i in infos) == 5


@pytest.mark.parametrize("where", ["gpkg", "memory"])
def test_results_only_leaves_out_each_indicators_own_fields(provider, tmp_path, where,
                                                          monkeypatch):
    """OUTPUT_FIELDS 1: the scaled and measured values and flags of the three indicators are
    not written; every other field holds what the full output holds."""
    from qgis.core import QgsCoordinateTransformContext, QgsVectorFileWriter

    layer = grid_layer()
    if where == "gpkg":      # the fast GeoPackage copy
        path = str(tmp_path / "zones.gpkg")
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        writer = getattr(QgsVectorFileWriter, "writeAsVectorFormatV3",
                         QgsVectorFileWriter.writeAsVectorFormatV2)
        assert writer(layer, path, QgsCoordinateTransformContext(), options)[0] == 0
        layer = QgsVectorLayer(path, "zones", "ogr")
    dest = str(tmp_path / "slim.gpkg") if where == "gpkg" else "memory:"
    from composite_index_plugin.processing import io_table

    fast, real = [], io_table._fast_gpkg_write
    monkeypatch.setattr(io_table, "_fast_gpkg_write", lambda *a: fast.append(real(*a)) or fast[-1])
    full = table_of(run({"INPUT": layer, "SPEC": json.dumps(SPEC), "OUTPUT": "memory:"})["OUTPUT"])
    slim = table_of(run({"INPUT": layer, "SPEC": json.dumps(SPEC), "OUTPUT_FIELDS": 1,
                         "OUTPUT": dest})["OUTPUT"])
    left_out = {"assault_victims_s", "assault_victims_m", "assault_victims_zd",
                "assault_victims_pooled", "assault_locations_s", "assault_locations_m",
                "assault_locations_zd", "burglary_victims_s", "burglary_victims_m",
                "burglary_victims_zd", "burglary_victims_pooled"}
    full_cols = [c for c in full.columns if c not in ("fid", "__fid")]
    slim_cols = [c for c in slim.columns if c not in ("fid", "__fid")]
    assert fast == ([True] if where == "gpkg" else [])   # the GeoPackage copy wrote it
    assert set(full_cols) - set(slim_cols) == left_out
    assert slim_cols == [c for c in full_cols if c not in left_out]
    for c in slim_cols:
        a, b = full[c].tolist(), slim[c].tolist()
        assert a == b or np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=0,
                                     atol=0, equal_nan=True), c


def test_indicator_fields_of_a_spec():
    from composite_index_plugin.core import model

    spec, problems = model.parse_spec(SPEC)
    assert not problems
    assert spec.indicator_fields() == [
        f"{k}{end}" for k in ("assault_victims", "assault_locations", "burglary_victims")
        for end in ("_s", "_m", "_zd", "_pooled")]


def test_ranks_and_classes_become_nullable_integers_as_pandas_casts_them():
    import pandas as pd

    from composite_index_plugin.processing.algorithms.build_index import nullable_integers

    values = pd.Series([1.0, np.nan, 10.0, 2.9999999999, 7.0, np.nan, 1e6, 0.0],
                       index=[5, 6, 7, 8, 9, 10, 11, 12])
    got = nullable_integers(values)
    assert str(got.dtype) == "Int64" and got.index.tolist() == values.index.tolist()
    assert got.tolist() == [1, pd.NA, 10, 3, 7, pd.NA, 1000000, 0]
    pd.testing.assert_series_equal(got, pd.Series(np.round(values.to_numpy())).astype("Int64")
                                   .set_axis(values.index))


def test_zone_names_are_the_labels_or_the_feature_id():
    from composite_index_plugin.processing.algorithms.build_index import zone_names

    fids = np.array([3, 4, 9])
    assert zone_names(["H1_2", "H1_3", "H2_2"], fids) == ["H1_2", "H1_3", "H2_2"]
    assert zone_names(["E01", None, "E03"], fids) == ["E01", "feature 4", "E03"]
    assert zone_names(None, fids) == ["feature 3", "feature 4", "feature 9"]
    assert zone_names([101, 102, 103], fids) == ["101", "102", "103"]


def test_zone_names_read_by_feature_id_when_asked():
    """buildindex reads the names of the zones a message names, not every zone's: the label
    by feature id, "feature <fid>" where it is NULL or the layer has no label field."""
    from qgis.core import NULL, QgsFeature, QgsVectorLayer

    from composite_index_plugin.processing.algorithms.build_index import names_when_asked

    layer = QgsVectorLayer("Point?crs=EPSG:27700&field=cell_id:string&field=v:double", "z", "memory")
    feats = []
    for name in ["H1", "H2", None, "H4", "H5"]:
        f = QgsFeature(layer.fields())
        f.setAttributes([NULL if name is None else name, 1.0])
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    fids = np.array([f.id() for f in layer.getFeatures()])
    assert len(fids) == 5
    names = names_when_asked(layer, "cell_id", fids)
    assert list(names(np.array([0, 3]))) == ["H1", "H4"]
    assert list(names(np.array([1, 2, 4]))) == ["H2", f"feature {fids[2]}", "H5"]
    assert list(names(np.array([], dtype=np.int64))) == []
    assert names_when_asked(layer, None, fids)(np.array([2])) == [f"feature {fids[2]}"]
