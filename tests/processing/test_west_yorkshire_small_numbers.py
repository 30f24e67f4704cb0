"""West Yorkshire end to end (issue 14): two police.uk months, locations only, one issue per
crime type (the police.uk preset: 14 issues), 250 m hexagons, Census 2011 population of the LSOAs
(a table keyed by LSOA code) apportioned to the cells, districts from the LSOA names
("Leeds 001A" -> "Leeds").

Built with the algorithms through processing.run: creategrid, apportion (population table by
code), importincidents (police.uk preset), aggregatepat (every crime type in one pass),
buildindex, summariseareas. The per-issue counts are checked against an independent count (grid
arithmetic on the clean points).

Asserted ("Done when" of issue 14), for both months:
- at most 5 of the 100 highest-need cells have fewer than 25 residents;
- no cell without a recorded incident is in the top half of need (deciles 1-5);
- every decile class the legend shows exists on the map (and every class on the map is shown).
And that the test can fail: the same data without the safeguards (no pooling, classic spatial
EB, ties ranked by first rank) break the first two properties as the issue reported.
"""
import json
import os
import sqlite3
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from qgis.core import (
    QgsFeature,
    QgsFeatureRequest,
    QgsLayerTreeLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsVectorLayer,
)

from composite_index_plugin.core import aggregate as agg
from composite_index_plugin.core import model
from composite_index_plugin.core.grid import GridSpec
from composite_index_plugin.core.index import build_index
from composite_index_plugin.core.neighbours import hex_contiguity
from composite_index_plugin.core.policeuk import area_of_name
from composite_index_plugin.processing import styling
from composite_index_plugin.qgis_compat import make_field

pytestmark = pytest.mark.slow

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                    "west_yorkshire")
MONTHS = ("2016-07", "2017-07")
INDEX_COLUMNS = ("cell_id", "ci_", "burglary_locations_", "robbery_locations_m", "top_theme",
                 "top_issue")


class Feedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings = []
        self.infos = []

    def pushWarning(self, warning):
        self.warnings.append(warning)
        super().pushWarning(warning)

    def pushInfo(self, info):
        self.infos.append(info)
        super().pushInfo(info)


def run(alg, params, feedback=None):
    import processing

    return processing.run(alg, params, context=QgsProcessingContext(),
                          feedback=feedback or QgsProcessingFeedback())


def district_layer():
    """The 1,388 LSOAs with their district from the name (core.policeuk.area_of_name)."""
    src = QgsVectorLayer(os.path.join(DATA, "lsoa11.geojson"), "lsoa", "ogr")
    layer = QgsVectorLayer("MultiPolygon?crs=EPSG:4326", "lsoa", "memory")
    layer.dataProvider().addAttributes([make_field("district", "string")])
    layer.updateFields()
    feats = list(src.getFeatures())
    districts = area_of_name([f["LSOA11NM"] for f in feats])
    out = []
    for f, district in zip(feats, districts):
        g = QgsFeature(layer.fields())
        g.setGeometry(f.geometry())
        g.setAttributes([district])
        out.append(g)
    layer.dataProvider().addFeatures(out)
    return layer


def issue_counts(clean, frame):
    """Locations per issue and cell in one pass over the clean points (grid arithmetic)."""
    spec = GridSpec(frame.grid_shape.iloc[0], frame.grid_size.iloc[0], frame.grid_x0.iloc[0],
                    frame.grid_y0.iloc[0])
    xs, ys, issues = [], [], []
    for f in clean.getFeatures():
        p = f.geometry().asPoint()
        xs.append(p.x())
        ys.append(p.y())
        issues.append(f["issue"])
    row = agg.zone_index_for_grid(spec, frame.q.to_numpy(int), frame.r.to_numpy(int),
                                  np.array(xs), np.array(ys))
    issues = np.array(issues, dtype=object)
    names = sorted(set(issues.tolist()))
    inside = row >= 0
    counts = {name: np.bincount(row[inside & (issues == name)], minlength=len(frame)).astype(float)
              for name in names}
    return counts, int((~inside).sum())


def read_table(gpkg, columns=None):
    """Attributes (all but the geometry, or ``columns``) of the single table of a GeoPackage,
    with SQLite (an independent reader)."""
    con = sqlite3.connect(gpkg)
    try:
        table = con.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
        geom = con.execute("SELECT column_name FROM gpkg_geometry_columns").fetchone()[0]
        names = [row[1] for row in con.execute(f'PRAGMA table_info("{table}")')
                 if row[1] not in (geom, "fid")]
        if columns is not None:
            names = [n for n in names if n in columns or n.startswith(tuple(columns))]
        select = ", ".join(f'"{n}"' for n in names)
        frame = pd.read_sql_query(f'SELECT {select} FROM "{table}" ORDER BY fid', con)
    finally:
        con.close()
    return frame


def in_frame_order(table, frame):
    """Rows of ``table`` in the order of the zones' ``frame`` (matched on cell_id)."""
    return table.set_index("cell_id").loc[frame.cell_id].reset_index()


def recipe_spec(issues, measure="eb_rate_spatial", role_options=None):
    """What runrecipe hands to buildindex for a recipe with one theme, one issue per crime type,
    locations only (the recipe's defaults: zscore, missing zero), rates per 1,000 residents."""
    role = {"source": {"path": "clean.gpkg"}, "measure": measure}
    if role_options:
        role.update(role_options)
    doc = {"recipe_version": 1, "study_area": {"source": {"path": "lsoa11.geojson"}},
           "geography": {"type": "grid", "size": 250},
           "population": {"source": {"path": "lsoa11.geojson"}, "field": "population"},
           "themes": [{"name": "crime", "issues": [
               {"name": name, "roles": {"locations": dict(role)}} for name in issues]}]}
    recipe, problems = model.parse(doc)
    assert problems == []
    spec = recipe.index_spec_dict()
    spec["neighbours"] = {"method": "queen"}
    return spec


@pytest.fixture(scope="module")
def west_yorkshire(provider, tmp_path_factory):
    folder = tmp_path_factory.mktemp("west_yorkshire")
    lsoa = os.path.join(DATA, "lsoa11.geojson")
    grid = run("compositeindex:creategrid", {
        "STUDY_AREA": lsoa, "SHAPE": 1, "SIZE": 250, "KEEP": 0, "TARGET_CRS": "EPSG:27700",
        "OUTPUT": str(folder / "grid.gpkg")})
    zones = run("compositeindex:apportion", {
        "SOURCES": lsoa, "SOURCES_KEY": "LSOA11CD",
        "TABLE": os.path.join(DATA, "census2011_population_lsoa11.csv"),
        "TABLE_KEY": "LSOA Code", "TABLE_FIELD": "Persons", "ZONES": grid["OUTPUT"],
        "OUTPUT": str(folder / "zones.gpkg")})
    assert zones["TOTAL"] == pytest.approx(2_226_058)          # every resident on the grid
    zones_layer = QgsVectorLayer(zones["OUTPUT"], "zones", "ogr")
    frame = read_table(zones["OUTPUT"])
    assert len(frame) == grid["CELLS"] == 38148
    months = {}
    for month in MONTHS:
        csv = os.path.join(DATA, f"{month}-west-yorkshire-street.csv")
        clean = run("compositeindex:importincidents", {
            "INPUT": [csv], "PRESET": 1, "TARGET_CRS": "EPSG:27700",
            "CLEAN": str(folder / f"clean_{month}.gpkg"), "REJECTED": "memory:"})
        clean_layer = QgsVectorLayer(clean["CLEAN"], "clean", "ogr")
        counted = run("compositeindex:aggregatepat", {
            "LOCATIONS": clean_layer, "LOCATIONS_CATEGORY": "Crime type", "CATEGORY_PRESET": 1,
            "ZONES": zones_layer, "OUTPUT": str(folder / f"counts_{month}.gpkg")})
        issues = counted["ISSUES"].split(",")
        assert len(issues) == 14
        table = in_frame_order(read_table(counted["OUTPUT"]), frame)
        counts = {name: table[f"{name}_locations"].to_numpy(float) for name in issues}
        # The same counts, independently: grid arithmetic on the clean points' issue field.
        mine, outside = issue_counts(clean_layer, frame)
        assert set(mine) <= set(issues)
        for name in issues:
            np.testing.assert_array_equal(counts[name], mine.get(name, 0.0 * counts[name]))
        assert outside == clean["CLEAN_COUNT"] - sum(c.sum() for c in counts.values())
        spec = recipe_spec(issues)
        feedback = Feedback()
        report = str(folder / f"report_{month}.html")
        index = run("compositeindex:buildindex", {
            "INPUT": counted["OUTPUT"], "SPEC": json.dumps(spec), "REPORT": report,
            "OUTPUT": str(folder / f"index_{month}.gpkg")}, feedback)
        with open(report, encoding="utf-8") as handle:
            page = handle.read()
        months[month] = {
            "counts": counts, "spec": spec, "warnings": feedback.warnings, "infos": feedback.infos,
            "report": page,
            "index": QgsVectorLayer(index["OUTPUT"], f"index {month}", "ogr"),
            "table": in_frame_order(read_table(index["OUTPUT"], INDEX_COLUMNS), frame),
        }
    return {"folder": folder, "zones": zones_layer, "frame": frame, "months": months}


def _check_done_when(t, counts, population):
    """The three properties of the issue on one index table; returns the numbers."""
    incidents = sum(counts.values())
    order = np.argsort(t.ci_rank.to_numpy(float), kind="stable")
    top100 = order[:100]
    small = int((population[top100] < 25).sum())
    empty = incidents == 0
    empty_top_half = int((empty & (t.ci_decile.to_numpy(float) <= 5)).sum())
    return small, empty_top_half, int(empty.sum())


@pytest.mark.parametrize("month", MONTHS)
def test_done_when_small_denominators_no_incident_cells_and_legend(west_yorkshire, month):
    m = west_yorkshire["months"][month]
    t = m["table"]
    population = west_yorkshire["frame"].population.to_numpy(float)
    assert len(t) == 38148 and t.ci_excluded.sum() == 0
    small, empty_top_half, n_empty = _check_done_when(t, m["counts"], population)
    assert small <= 5                       # issue 14: at most 5 of the top 100 under 25 residents
    assert empty_top_half == 0              # no cell without incidents in deciles 1-5
    assert n_empty > 0.8 * len(t)           # 82 % of the cells hold no incident this month
    # ci_no_incidents says exactly that, from the count fields.
    np.testing.assert_array_equal(t.ci_no_incidents.to_numpy(), (sum(m["counts"].values()) == 0))
    # Zones without incidents: one rank, below every zone with one, one class (decile 10).
    empty = t[t.ci_no_incidents == 1]
    assert empty.ci_rank.nunique() == 1 and empty.ci_rank.iloc[0] == (t.ci_no_incidents == 0).sum() + 1
    assert set(empty.ci_decile) == {10} and set(empty.ci_quintile) == {5}
    # ... and no top theme or issue (the least-below-average theme used to be named there)
    assert empty.top_theme.isna().all() and empty.top_issue.isna().all()
    held = t[t.ci_no_incidents == 0]
    assert held.top_theme.notna().all() and held.top_issue.notna().all()
    # Tied zones share one class; deciles 1..d never hold more than d tenths of the cells.
    for d in range(1, 11):
        assert (t.ci_decile <= d).sum() <= d * len(t) / 10
    # The legend of the decile view shows exactly the classes on the map.
    layer = m["index"]
    assert styling.apply_style(layer, "index_deciles")
    shown = {styling._category_value(c.value()) for c in layer.renderer().categories()}
    on_map = set(t.ci_decile.astype(float))
    assert shown == on_map
    nodes = layer.legend().createLayerTreeModelLegendNodes(QgsLayerTreeLayer(layer))
    labels = [n.data(0) for n in nodes]
    assert len(labels) == len(on_map) and labels[0] == "1 - highest need"
    assert labels[-1] == "10 - lowest need: no incidents recorded"


@pytest.mark.parametrize("month", MONTHS)
def test_anchored_spatial_eb_pooling_and_far_zones_are_reported(west_yorkshire, month):
    m = west_yorkshire["months"][month]
    t = m["table"]
    population = west_yorkshire["frame"].population.to_numpy(float)
    # Spatial EB anchored to the study-area rate: never 0 where that rate is above 0 (the classic
    # spatial EB gives exactly 0 wherever a cell's neighbourhood holds no robbery).
    assert (t.robbery_locations_m > 0).all()
    # Cells with fewer than 50 residents (above 0) are pooled and flagged, in every indicator.
    pooled = (population > 0) & (population < 50)
    np.testing.assert_array_equal(t.burglary_locations_pooled.to_numpy(), pooled)
    assert pooled.mean() > 0.6               # most 250 m cells hold fewer than 50 residents
    text = [w for w in m["warnings"] if w.startswith("Small denominators")]
    assert len(text) == 1 and f"{int(pooled.sum()):,} of 38,148 zone(s)" in text[0]
    # Every indicator has far cells on a month of counts: one warning names them all ...
    summary = [w for w in m["warnings"] if "standard deviations" in w]
    assert len(summary) == 1 and "burglary / locations" in summary[0]
    assert summary[0].startswith("14 indicators have zones more than 10 standard deviations")
    # ... and each message follows in the log: cells named by cell_id, largest first, with why
    # it matters.
    far = [i for i in m["infos"] if "burglary / locations (field" in i and "standard deviations" in i]
    assert len(far) == 1 and "Why it matters" in far[0]
    z = t.burglary_locations_s.to_numpy(float)           # zscore scaling: the scaled value is z
    first = t.cell_id.iat[int(np.argmax(np.abs(z)))]
    assert f"({first}, " in far[0] and f"largest z = {np.abs(z).max():.1f} in zone {first}" in far[0]
    assert f"{int((np.abs(z) > 10).sum())} zone(s) lie more than 10" in far[0]
    assert "Small numbers" in m["report"] and first in m["report"]


def test_without_the_safeguards_the_issue_comes_back(west_yorkshire):
    """The same July 2016 cells through the core with the safeguards off reproduce what the
    issue saw (small cells at the top, empty cells in the top deciles); with them on, every
    measure passes."""
    m = west_yorkshire["months"]["2016-07"]
    frame = west_yorkshire["frame"]
    population = frame.population.to_numpy(float)
    df = pd.DataFrame({f"{n}_locations": c for n, c in m["counts"].items()})
    df["population"] = population
    nb = hex_contiguity(frame.q.to_numpy(int), frame.r.to_numpy(int))
    issues = list(m["counts"])
    off = recipe_spec(issues, role_options={"min_denominator": 0, "anchor": "none"})
    off["no_incidents"] = "score"
    t = build_index(df, off, neighbours=nb).table
    small, empty_top_half, _ = _check_done_when(t, m["counts"], population)
    empty = sum(m["counts"].values()) == 0
    assert small >= 26                      # the issue: 26 of the top 100 under 25 residents
    assert (empty & (t.ci_decile <= 1)).sum() > 500    # ... and empty cells in decile 1
    # With the defaults, every measure a recipe offers keeps the properties.
    found = Counter()
    for measure in ("volume", "rate", "eb_rate", "eb_rate_spatial"):
        t = build_index(df, recipe_spec(issues, measure), neighbours=nb).table
        small, empty_top_half, _ = _check_done_when(t, m["counts"], population)
        found[measure] = small
        assert small <= 5 and empty_top_half == 0, measure
        assert sorted(set(t.ci_decile)) == [1, 2, 10]
    assert found["rate"] == 0


def test_district_summaries_count_a_tenth_at_most_in_the_top_decile(west_yorkshire):
    """Districts dissolved from the LSOA names; the area summary's top decile follows the
    index's classes (ties share the class of the last of them), so the study area has at most
    10 % of its cells there."""
    districts = run("native:dissolve", {"INPUT": district_layer(), "FIELD": ["district"],
                                        "OUTPUT": "memory:"})["OUTPUT"]
    names = sorted(f["district"] for f in districts.getFeatures())
    assert names == ["Bradford", "Calderdale", "Kirklees", "Leeds", "Wakefield"]
    index = west_yorkshire["months"]["2016-07"]["index"]
    res = run("compositeindex:summariseareas", {
        "ZONES": index, "AREAS": districts, "AREA_NAME_FIELD": "district",
        "POPULATION_FIELD": "population", "OUTPUT": "memory:", "TABLE": "memory:"})
    rows = {f["area_name"]: f for f in res["TABLE"].getFeatures(QgsFeatureRequest())}
    assert set(names) <= set(rows)
    t = west_yorkshire["months"]["2016-07"]["table"]
    whole = [r for name, r in rows.items() if name not in names]
    assert len(whole) == 1
    assert whole[0]["zones_top_decile_pct"] == pytest.approx(100 * (t.ci_decile == 1).mean(), abs=0.05)
    assert whole[0]["zones_top_decile_pct"] <= 10.0


def test_spatial_eb_of_robbery_per_lsoa_is_anchored(provider):
    """Robbery per LSOA (police.uk's own LSOA code, queen contiguity of the 1,388 LSOAs): the
    classic spatial EB rate is exactly 0 in every LSOA whose neighbourhood holds no robbery
    (hundreds of them); anchored to the West Yorkshire rate it is 0 nowhere, and stays below it
    where the neighbourhood had none."""
    from composite_index_plugin.core import measures
    from composite_index_plugin.core.geometry import rings_from_wkb
    from composite_index_plugin.core.neighbours import polygon_contiguity_from_rings

    layer = QgsVectorLayer(os.path.join(DATA, "lsoa11.geojson"), "lsoa", "ogr")
    codes, rings = [], []
    for f in layer.getFeatures():
        codes.append(f["LSOA11CD"])
        rings.append(rings_from_wkb(bytes(f.geometry().asWkb())))
    nb = polygon_contiguity_from_rings(rings, queen=True)
    pop = pd.read_csv(os.path.join(DATA, "census2011_population_lsoa11.csv"), thousands=",")
    p = pop.set_index("LSOA Code").loc[codes, "Persons"].to_numpy(float)
    crimes = pd.read_csv(os.path.join(DATA, "2016-07-west-yorkshire-street.csv"))
    robbery = crimes[crimes["Crime type"] == "Robbery"]["LSOA code"].value_counts()
    o = np.array([robbery.get(c, 0) for c in codes], dtype=float)
    assert o.sum() == 155 and (o == 0).sum() == 1271
    theta = 1000 * o.sum() / p.sum()
    classic, _ = measures.eb_rate_spatial(o, p, nb, per=1000, anchor="none")
    anchored, _ = measures.eb_rate_spatial(o, p, nb, per=1000)
    window = np.asarray(measures.neighbourhood_sum(o, nb)) == 0
    assert (classic == 0).sum() == window.sum() > 600
    assert (anchored > 0).all()
    assert (anchored[window] < theta).all()
