"""compositeindex:apportion: area weighting and ancillary points, totals kept, remainders reported."""
import os

import pandas as pd
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsVectorLayer,
)

from tests.helpers import RecordingFeedback as Feedback

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "west_yorkshire")


def run(alg, params, feedback=None):
    import processing

    return processing.run(alg, params, context=QgsProcessingContext(), feedback=feedback or Feedback())


def polygons(rows, crs="EPSG:27700", fields="field=name:string&field=pop:double"):
    layer = QgsVectorLayer(f"Polygon?crs={crs}&{fields}", "p", "memory")
    feats = []
    for wkt, *attrs in rows:
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromWkt(wkt))
        f.setAttributes(list(attrs))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def rect(x0, y0, x1, y1):
    return f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


SOURCES = [(rect(0, 0, 200, 100), "A", 1000.0), (rect(200, 0, 300, 100), "B", 300.0)]


def test_area_weighting_by_hand(provider):
    zones = polygons([(rect(0, 0, 150, 100), "z1", None), (rect(150, 0, 300, 100), "z2", None)])
    fb = Feedback()
    res = run("compositeindex:apportion", {"SOURCES": polygons(SOURCES), "FIELD": "pop", "ZONES": zones,
                                           "OUTPUT": "memory:"}, fb)
    got = {f["name"]: f["population"] for f in res["OUTPUT"].getFeatures()}
    # A (area 20000): 15000 to z1 -> 750, 5000 to z2 -> 250; B all to z2 -> 300
    assert got == {"z1": pytest.approx(750.0), "z2": pytest.approx(550.0)}
    assert res["TOTAL"] == pytest.approx(1300.0, abs=1e-9) and res["UNCOVERED"] == 0


def test_partial_cover_reports_the_remainder(provider):
    zones = polygons([(rect(50, 0, 250, 100), "z", None)])
    fb = Feedback()
    res = run("compositeindex:apportion", {"SOURCES": polygons(SOURCES), "FIELD": "pop", "ZONES": zones,
                                           "OUTPUT_FIELD": "residents", "OUTPUT": "memory:"}, fb)
    got = [f["residents"] for f in res["OUTPUT"].getFeatures()]
    assert got == [pytest.approx(750.0 + 150.0)]
    assert res["UNCOVERED"] == pytest.approx(250.0 + 150.0)
    assert any("outside every zone" in t for t in fb.text)


def test_ancillary_points_follow_addresses(provider):
    zones = polygons([(rect(0, 0, 150, 100), "z1", None), (rect(150, 0, 300, 100), "z2", None)])
    pts = QgsVectorLayer("Point?crs=EPSG:27700", "addr", "memory")
    feats = []
    for wkt in ("POINT(10 10)", "POINT(160 10)", "POINT(170 10)", "POINT(180 10)", "POINT(250 50)"):
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromWkt(wkt))
        feats.append(f)
    pts.dataProvider().addFeatures(feats)
    res = run("compositeindex:apportion", {"SOURCES": polygons(SOURCES), "FIELD": "pop", "ZONES": zones,
                                           "ANCILLARY": pts, "OUTPUT": "memory:"})
    got = {f["name"]: f["population"] for f in res["OUTPUT"].getFeatures()}
    # A: 1 address in z1, 3 in z2 -> 250 / 750; B: its single address in z2 -> 300
    assert got == {"z1": pytest.approx(250.0), "z2": pytest.approx(1050.0)}


def test_geographic_zones_and_bad_field_name_refused(provider):
    zones = polygons([(rect(0, 0, 1, 1), "z", None)], crs="EPSG:4326")
    with pytest.raises(QgsProcessingException, match="EPSG:27700"):
        run("compositeindex:apportion", {"SOURCES": polygons(SOURCES), "FIELD": "pop", "ZONES": zones,
                                         "OUTPUT": "memory:"})
    with pytest.raises(QgsProcessingException, match="output field name"):
        run("compositeindex:apportion", {"SOURCES": polygons(SOURCES), "FIELD": "pop",
                                         "ZONES": polygons([(rect(0, 0, 1, 1), "z", None)]),
                                         "OUTPUT_FIELD": "Pop 2021", "OUTPUT": "memory:"})


@pytest.mark.slow
def test_west_yorkshire_population_onto_a_grid_keeps_the_total(provider):
    pop = pd.read_csv(os.path.join(DATA, "census2011_population_lsoa11.csv"), thousands=",")
    persons = dict(zip(pop["LSOA Code"], pop["Persons"].astype(float)))
    lsoa = QgsVectorLayer(os.path.join(DATA, "lsoa11.geojson"), "lsoa", "ogr")
    rows = [(f.geometry().asWkt(), f["LSOA11CD"], persons[f["LSOA11CD"]]) for f in lsoa.getFeatures()]
    sources = polygons(rows, crs="EPSG:4326")
    total = sum(r[2] for r in rows)
    assert total == pytest.approx(2_226_058)  # Census 2011 usual residents of West Yorkshire
    grid = run("compositeindex:creategrid", {"STUDY_AREA": sources, "SHAPE": 1, "SIZE": 2000, "KEEP": 0,
                                             "TARGET_CRS": "EPSG:27700", "OUTPUT": "memory:"})["OUTPUT"]
    res = run("compositeindex:apportion", {"SOURCES": sources, "FIELD": "pop", "ZONES": grid,
                                           "OUTPUT": "memory:"})
    assert res["TOTAL"] == pytest.approx(total, rel=1e-12)
    assert res["UNCOVERED"] == pytest.approx(0.0, abs=1e-6)
    values = [f["population"] for f in res["OUTPUT"].getFeatures()]
    assert len(values) == grid.featureCount() and min(values) >= 0


# ---- counts in a table keyed by area code (issue 17) ----------------------------------------
EW_LAYOUT = os.path.join(DATA, "census2011_population_lsoa11_ew_layout.csv")


def _persons():
    """'LSOA Code' -> persons (the first Persons column), read with the csv module."""
    import csv

    with open(EW_LAYOUT, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        code, persons = header.index("LSOA Code"), header.index("Persons")
        return {r[code]: r[persons] for r in reader}


@pytest.mark.slow
def test_population_table_by_code_with_thousands_separators(provider):
    raw = _persons()
    total = sum(float(v.replace(",", "")) for v in raw.values())
    assert total == pytest.approx(2_226_058)  # Census 2011 usual residents of West Yorkshire
    with_commas = sum("," in v for v in raw.values())
    assert with_commas > 1000
    lsoa = os.path.join(DATA, "lsoa11.geojson")
    grid = run("compositeindex:creategrid", {"STUDY_AREA": lsoa, "SHAPE": 1, "SIZE": 2000, "KEEP": 0,
                                             "TARGET_CRS": "EPSG:27700", "OUTPUT": "memory:"})["OUTPUT"]
    fb = Feedback()
    res = run("compositeindex:apportion", {
        "SOURCES": lsoa, "SOURCES_KEY": "LSOA11CD", "TABLE": EW_LAYOUT, "TABLE_KEY": "LSOA Code",
        "TABLE_FIELD": "Persons", "ZONES": grid, "OUTPUT": "memory:"}, fb)
    assert res["TOTAL"] == pytest.approx(total, rel=1e-12)
    assert (res["TABLE_ONLY"], res["BOUNDARY_ONLY"]) == (0, 0)
    log = fb.all()
    assert "1,388 boundary(ies) matched by code" in log
    assert (f"1,388 'Persons' value(s) stored as text were read as numbers ({with_commas:,} with "
            "thousands separators") in log
    # The same numbers as apportioning a layer that already carries the count.
    lyr = QgsVectorLayer(lsoa, "lsoa", "ogr")
    rows = [(f.geometry().asWkt(), f["LSOA11CD"], float(raw[f["LSOA11CD"]].replace(",", "")))
            for f in lyr.getFeatures()]
    joined = run("compositeindex:apportion", {"SOURCES": polygons(rows, crs="EPSG:4326"),
                                              "FIELD": "pop", "ZONES": grid, "OUTPUT": "memory:"})
    a = [f["population"] for f in res["OUTPUT"].getFeatures()]
    b = [f["population"] for f in joined["OUTPUT"].getFeatures()]
    assert a == pytest.approx(b, rel=1e-12, abs=1e-9)


def _table(rows, fields="field=code:string&field=n:string"):
    layer = QgsVectorLayer(f"None?{fields}", "counts", "memory")
    feats = []
    for attrs in rows:
        f = QgsFeature(layer.fields())
        f.setAttributes(list(attrs))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def test_table_codes_and_boundaries_without_a_match_are_counted(provider):
    sources = polygons([(rect(0, 0, 100, 100), "A", None), (rect(100, 0, 200, 100), "B", None),
                        (rect(200, 0, 300, 100), "C", None)])
    zones = polygons([(rect(0, 0, 300, 100), "all", None)])
    table = _table([("A", "1,000"), ("C", " 30 "), ("Z", "7"), ("Y", "")])
    fb = Feedback()
    res = run("compositeindex:apportion", {
        "SOURCES": sources, "SOURCES_KEY": "name", "TABLE": table, "TABLE_KEY": "code",
        "TABLE_FIELD": "n", "ZONES": zones, "OUTPUT": "memory:"}, fb)
    assert res["TOTAL"] == pytest.approx(1030.0)
    assert (res["TABLE_ONLY"], res["BOUNDARY_ONLY"]) == (2, 1)
    log = fb.all()
    assert "2 code(s) in the table have no boundary and are not used: Z, Y." in log
    assert "1 boundary(ies) have no row in the table and get no 'n' (taken as 0): B." in log
    assert "1 'n' value(s) are empty, taken as 0 (feature" in log
    assert "3 'n' value(s) stored as text were read as numbers (1 with thousands separators" in log


def test_unreadable_or_duplicated_table_values_stop_the_run(provider, tmp_path):
    sources = polygons([(rect(0, 0, 100, 100), "A", None), (rect(100, 0, 200, 100), "B", None)])
    zones = polygons([(rect(0, 0, 200, 100), "all", None)])
    csv_path = tmp_path / "pop.csv"
    csv_path.write_text('code,persons\nA,"1,200"\nB,n/a\n', encoding="utf-8")
    params = {"SOURCES": sources, "SOURCES_KEY": "name", "TABLE": str(csv_path),
              "TABLE_KEY": "code", "TABLE_FIELD": "persons", "ZONES": zones, "OUTPUT": "memory:"}
    with pytest.raises(QgsProcessingException, match=r"line 3 \(B\) = 'n/a'"):
        run("compositeindex:apportion", params)
    csv_path.write_text('code,persons\nA,"1,200"\nA,5\n', encoding="utf-8")
    with pytest.raises(QgsProcessingException, match="more than once in the table 'pop': A"):
        run("compositeindex:apportion", params)
    with pytest.raises(QgsProcessingException, match="TABLE_FIELD is needed"):
        run("compositeindex:apportion", dict(params, TABLE_FIELD=None))
    with pytest.raises(QgsProcessingException, match="Give the count field"):
        run("compositeindex:apportion", {"SOURCES": sources, "ZONES": zones, "OUTPUT": "memory:"})


def test_count_field_stored_as_text_is_read_and_reported(provider):
    fields = "field=name:string&field=pop:string"
    zones = polygons([(rect(0, 0, 300, 100), "all", None)])
    sources = polygons([(rect(0, 0, 200, 100), "A", "1,000"), (rect(200, 0, 300, 100), "B", "300")],
                       fields=fields)
    fb = Feedback()
    res = run("compositeindex:apportion", {"SOURCES": sources, "FIELD": "pop", "ZONES": zones,
                                           "OUTPUT": "memory:"}, fb)
    assert res["TOTAL"] == pytest.approx(1300.0)
    assert "2 'pop' value(s) stored as text were read as numbers (1 with thousands" in fb.all()
    bad = polygons([(rect(0, 0, 200, 100), "A", "1,000"), (rect(200, 0, 300, 100), "B", "lots")],
                   fields=fields)
    with pytest.raises(QgsProcessingException, match=r"feature \d+ = 'lots'"):
        run("compositeindex:apportion", {"SOURCES": bad, "FIELD": "pop", "ZONES": zones,
                                         "OUTPUT": "memory:"})
