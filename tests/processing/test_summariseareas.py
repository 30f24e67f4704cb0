"""compositeindex:summariseareas through processing.run, on hand-made layers."""
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

from composite_index_plugin.qgis_compat import make_field

W20 = 0.95 - 9 * 0.9 / 19


def _rect(x0, y0, x1, y1):
    return QgsGeometry.fromRect(QgsRectangle(x0, y0, x1, y1))


def zone_layer(scores=None, extra=None):
    """Ten 1 km squares in a row (EPSG:27700); zone i has ci_score 10 - i, population 100."""
    scores = scores or [10.0 - i for i in range(10)]
    fields = "field=cell_id:string&field=ci_score:double&field=population:double"
    fields += "&field=crime_idx:double&field=crime_pct:double&field=harm_idx:double&field=harm_pct:double"
    layer = QgsVectorLayer(f"Polygon?crs=EPSG:27700&{fields}", "zones", "memory")
    feats = []
    for i in range(10):
        f = QgsFeature(layer.fields())
        crime = 80.0 if i < 3 else 20.0
        f.setAttributes([f"S1000_r0_c{i}", scores[i], 100.0, crime / 10, crime, (100 - crime) / 10,
                         100 - crime])
        f.setGeometry(_rect(i * 1000, 0, (i + 1) * 1000, 1000))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def area_layer(x_split=4500, offset=0):
    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=name:string&field=code:string", "areas",
                           "memory")
    feats = []
    for name, (x0, x1) in (("West", (0, x_split)), ("East", (x_split, 10000))):
        f = QgsFeature(layer.fields())
        f.setAttributes([name, name[0]])
        f.setGeometry(_rect(x0 + offset, 0 + offset, x1 + offset, 1000 + offset))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def hotspot_layer():
    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=id:integer", "hot", "memory")
    f = QgsFeature(layer.fields())
    f.setAttributes([1])
    f.setGeometry(_rect(0, 0, 2000, 1000))
    layer.dataProvider().addFeatures([f])
    return layer


def _run(params):
    import processing

    return processing.run("compositeindex:summariseareas", params, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())


def _rows(layer):
    names = [f.name() for f in layer.fields()]
    return {f["area_name"]: dict(zip(names, f.attributes())) for f in layer.getFeatures()}


def test_summary_outputs_hand_computed(provider):
    res = _run({"ZONES": zone_layer(), "AREAS": area_layer(), "AREA_NAME_FIELD": "name",
                "HOTSPOTS": hotspot_layer(), "OUTPUT": "memory:", "TABLE": "memory:"})
    table = _rows(res["TABLE"])
    assert set(table) == {"West", "East", "Whole study area"}
    west, east, whole = table["West"], table["East"], table["Whole study area"]
    # West: zones 0-3 whole, zone 4 half -> weights 100 x 4 + 50 on scores 10..6
    assert west["mean_score"] == pytest.approx(3700 / 450)
    assert west["population"] == pytest.approx(450)
    assert west["n_zones"] == 5
    assert west["pop_top_decile_pct"] == pytest.approx(100 * 100 / 450)
    assert west["extent_pct"] == pytest.approx(100 * (100 + 100 * W20 + 100 * 0.05) / 450)
    assert west["gap_diff"] == pytest.approx(10 - 2700 / 350)
    assert west["hotspot_km2"] == pytest.approx(2.0)
    assert west["hotspot_pct"] == pytest.approx(100 * 2 / 4.5)
    assert west["area_rank"] == 1 and east["area_rank"] == 2
    # top theme: the highest mean theme score. West: crime (8 x 3 + 2 x 1.5) / 4.5 = 6 > harm 4;
    # East: harm 8 > crime 2 (the same weights as mean_score: equal populations here)
    assert west["top_theme_1"] == "crime" and east["top_theme_1"] == "harm"
    assert west["crime_mean"] == pytest.approx(6.0) and west["harm_mean"] == pytest.approx(4.0)
    assert east["harm_mean"] == pytest.approx(8.0)
    assert east["mean_score"] == pytest.approx((50 * 6 + 100 * 15) / 550)
    assert whole["population"] == pytest.approx(1000) and whole["n_zones"] == 10
    assert whole["gap_diff"] == pytest.approx(10 - 45 / 9)
    assert whole["hotspot_pct"] == pytest.approx(20)
    assert "crime_mean" in whole
    polys = res["OUTPUT"]
    assert polys.featureCount() == 2
    out = _rows(polys)
    assert out["West"]["code"] == "W" and out["West"]["mean_score"] == pytest.approx(3700 / 450)
    assert out["East"]["area_rank"] == 2


def test_areas_that_do_not_overlap_are_refused(provider):
    with pytest.raises(QgsProcessingException, match="do not overlap any zone"):
        _run({"ZONES": zone_layer(), "AREAS": area_layer(offset=100000), "OUTPUT": "memory:",
              "TABLE": "memory:"})


def test_bad_gap_and_missing_score(provider):
    with pytest.raises(QgsProcessingException, match="is not a known key"):
        _run({"ZONES": zone_layer(), "AREAS": area_layer(), "GAP": '{"decile": 2}',
              "OUTPUT": "memory:", "TABLE": "memory:"})
    layer = zone_layer()
    layer.dataProvider().deleteAttributes([layer.fields().indexOf("ci_score")])
    layer.updateFields()
    with pytest.raises(QgsProcessingException, match="no score field 'ci_score'"):
        _run({"ZONES": layer, "AREAS": area_layer(), "OUTPUT": "memory:", "TABLE": "memory:"})


def test_styles_load_with_their_fields(qgis_app):
    from composite_index_plugin.paths import resource_path

    for name, field, n in (("change_diverging", "decile_change", 7), ("area_summary", "extent_pct", 5)):
        layer = QgsVectorLayer(f"Polygon?crs=EPSG:27700&field={field}:double&field=area_name:string"
                               "&field=area_rank:double", name, "memory")
        message, ok = layer.loadNamedStyle(resource_path("styles", f"{name}.qml"))
        assert ok, message
        renderer = layer.renderer()
        assert renderer.classAttribute() == field and len(renderer.ranges()) == n
        if name == "change_diverging":
            # diverging: no change in the middle, more need in red, less need in blue
            ranges = renderer.ranges()
            assert ranges[3].label() == "No change" and ranges[3].lowerValue() == -0.5
            assert ranges[6].symbol().color().name() == "#b2182b"
            assert ranges[0].symbol().color().name() == "#2166ac"


class _Feedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings = []

    def pushWarning(self, text):
        self.warnings.append(text)


def test_partly_covered_areas_are_named(provider):
    import processing

    areas = QgsVectorLayer("Polygon?crs=EPSG:27700&field=name:string", "areas", "memory")
    feats = []
    for name, (x0, x1) in (("West", (0, 5000)), ("Far East", (5000, 20000))):
        f = QgsFeature(areas.fields())
        f.setAttributes([name])
        f.setGeometry(_rect(x0, 0, x1, 1000))
        feats.append(f)
    areas.dataProvider().addFeatures(feats)
    feedback = _Feedback()
    processing.run("compositeindex:summariseareas",
                   {"ZONES": zone_layer(), "AREAS": areas, "OUTPUT": "memory:", "TABLE": "memory:"},
                   context=QgsProcessingContext(), feedback=feedback)
    low = [w for w in feedback.warnings if "covered by the zones" in w]
    assert len(low) == 1 and "Far East (33.3 %)" in low[0] and "West" not in low[0]


def test_birmingham_constituencies_from_imd(provider, data_copy):
    """Real data: the 659 Birmingham LSOAs with the IMD 2025 score as the index and Census 2021
    population, summarised by the 10 Birmingham constituencies. Checked against pandas on the
    published table (population conserved; top-decile share and extent recomputed directly)."""
    import os

    import numpy as np
    import pandas as pd
    from qgis.core import QgsFeatureRequest, edit

    folder = os.path.dirname(data_copy("birmingham/lsoa21.gpkg"))
    imd = pd.read_csv(data_copy("birmingham/imd2025_lsoa21.csv")).set_index("lsoa21_code")
    pop = pd.read_csv(data_copy("birmingham/census2021_population_lsoa21.csv")).set_index("mnemonic")
    lsoa = QgsVectorLayer(os.path.join(folder, "lsoa21.gpkg"), "lsoa", "ogr")
    zones = lsoa.materialize(QgsFeatureRequest().setFilterExpression("\"Area\" = 'Birmingham'"))
    with edit(zones):
        zones.addAttribute(make_field("ci_score", "double"))
        zones.addAttribute(make_field("population", "double"))
        zones.updateFields()
        for f in zones.getFeatures():
            f["ci_score"] = float(imd.loc[f["LSOA21"], "IMD_score"])
            f["population"] = float(pop.loc[f["LSOA21"], "total"])
            zones.updateFeature(f)
    areas = QgsVectorLayer(data_copy("birmingham/constituencies_2010.gpkg"), "pcon", "ogr")
    areas.setSubsetString("\"Area\" = 'Birmingham'")
    res = _run({"ZONES": zones, "AREAS": areas, "AREA_NAME_FIELD": "Cnsttnc",
                "OUTPUT": "memory:", "TABLE": "memory:"})
    table = _rows(res["TABLE"])
    whole = table.pop("Whole study area")
    assert len(table) == 10 and whole["n_zones"] == 659
    # independent figures from the published table
    frame = imd.join(pop["total"], how="inner")
    assert len(frame) == 659
    assert whole["population"] == pytest.approx(frame["total"].sum())
    rank = frame["IMD_score"].rank(ascending=False, method="min")
    top = rank <= 65  # ceil(10 * r / 659) == 1 for r <= 65
    assert whole["pop_top_decile_pct"] == pytest.approx(
        100 * frame.loc[top, "total"].sum() / frame["total"].sum())
    pct = np.ceil(100 * rank / 659)
    weight = np.where(pct <= 10, 1.0, np.where(pct <= 30, 0.95 - (pct - 11) * 0.9 / 19, 0.0))
    assert whole["extent_pct"] == pytest.approx(100 * (weight * frame["total"]).sum()
                                                / frame["total"].sum())
    assert whole["mean_score"] == pytest.approx(
        (frame["IMD_score"] * frame["total"]).sum() / frame["total"].sum())
    # the constituencies share out (almost) the whole population: the generalised boundaries
    # leave slivers outside, well under 0.5 %
    total = sum(row["population"] for row in table.values())
    assert total == pytest.approx(whole["population"], rel=5e-3)
    ranks = {name: row["area_rank"] for name, row in table.items()}
    assert sorted(ranks.values()) == list(range(1, 11))
    # Hodge Hill and Ladywood are Birmingham's most deprived; Sutton Coldfield the least
    assert {n for n, r in ranks.items() if r <= 2} == {"Hodge Hill", "Ladywood"}
    assert ranks["Sutton Coldfield"] == 10


def _issue_zones():
    """Ten 1 km squares, 100 residents each; zone i: score 10 - i, burglary_idx i, 2i victims."""
    fields = ("field=ci_score:double&field=population:double&field=burglary_idx:double"
              "&field=burglary_victims:double&field=burglary_locations:double")
    layer = QgsVectorLayer(f"Polygon?crs=EPSG:27700&{fields}", "zones", "memory")
    feats = []
    for i in range(10):
        f = QgsFeature(layer.fields())
        f.setAttributes([10.0 - i, 100.0, float(i), 2.0 * i, 1.0])
        f.setGeometry(_rect(i * 1000, 0, (i + 1) * 1000, 1000))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def test_gap_options_issue_means_and_counts_from_the_toolbox(provider):
    res = _run({"ZONES": _issue_zones(), "AREAS": area_layer(), "AREA_NAME_FIELD": "name",
                "GAP_PERCENT": 20, "GAP_WEIGHTING": 1, "GAP_MODE": 2,
                "OUTPUT": "memory:", "TABLE": "memory:"})
    table = _rows(res["TABLE"])
    west, whole = table["West"], table["Whole study area"]
    # zone share 20 %: zones 0 and 1 (mean 9.5), against the whole area's mean 5.5 (worst
    # against average); West (zones 0-3, half of 4, each zone weighing its share): 37 / 4.5
    assert whole["gap_diff"] == pytest.approx(9.5 - 5.5)
    assert west["gap_diff"] == pytest.approx(9.5 - 37 / 4.5)
    assert whole["gap_ratio"] == pytest.approx(9.5 / 5.5)        # no score below zero
    # the issue value is population-weighted like the score: West (0+1+2+3+0.5*4) / 4.5
    assert west["burglary_mean"] == pytest.approx(8 / 4.5)
    assert whole["burglary_mean"] == pytest.approx(4.5)
    assert west["burglary_victims"] == pytest.approx(16) and whole["burglary_victims"] == 90
    assert table["East"]["burglary_victims"] == pytest.approx(74)
    assert west["burglary_locations"] == pytest.approx(4.5)
    # the JSON form (the recipe's) replaces the options
    res = _run({"ZONES": _issue_zones(), "AREAS": area_layer(), "AREA_NAME_FIELD": "name",
                "GAP_WEIGHTING": 1, "GAP": '{"by": "percent", "value": 30, "weighting": "zones"}',
                "OUTPUT": "memory:", "TABLE": "memory:"})
    assert _rows(res["TABLE"])["Whole study area"]["gap_diff"] == pytest.approx(9 - 4)


def test_gap_options_left_empty_take_the_defaults(provider):
    # a model saved before the options existed passes nothing (or NULL): 10 % of the residents,
    # the rest; zone 0 (10) against the mean of the others, 5
    res = _run({"ZONES": _issue_zones(), "AREAS": area_layer(), "AREA_NAME_FIELD": "name",
                "GAP_PERCENT": None, "GAP_WEIGHTING": None, "GAP_MODE": None,
                "OUTPUT": "memory:", "TABLE": "memory:"})
    whole = _rows(res["TABLE"])["Whole study area"]
    assert whole["gap_diff"] == pytest.approx(5.0)
    assert whole["gap_definition"].startswith("mean score of the highest-need zones holding 10 % "
                                              "of the residents (1 zone with 10.0 % of the residents)")
