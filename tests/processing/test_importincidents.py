"""compositeindex:importincidents through processing.run (real West Yorkshire month + crafted files)."""
import csv
import os

import pytest
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)

from composite_index_plugin.qgis_compat import SpatialIndexPresence

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
WY = os.path.join(DATA, "west_yorkshire", "2016-07-west-yorkshire-street.csv")
BAD = os.path.join(DATA, "bad_files")
ALG = "compositeindex:importincidents"


def run(params, tmp_path, memory=False):
    import processing

    p = {"CLEAN": "memory:" if memory else str(tmp_path / "clean.gpkg"),
         "REJECTED": "memory:" if memory else str(tmp_path / "rejected.gpkg"),
         "REPORT": str(tmp_path / "report.html")}
    p.update(params)
    return processing.run(ALG, p, context=QgsProcessingContext(), feedback=QgsProcessingFeedback())


def layer(value):
    return value if isinstance(value, QgsVectorLayer) else QgsVectorLayer(value, "out", "ogr")


def rows(value):
    lyr = layer(value)
    names = [f.name() for f in lyr.fields()]
    return [dict(zip(names, f.attributes())) | {"_geom": f.geometry()} for f in lyr.getFeatures()]


def _wy_independent():
    """Independent counts of the West Yorkshire file with the csv module."""
    with open(WY, encoding="utf-8", newline="") as fh:
        data = list(csv.DictReader(fh))
    no_xy = sum(1 for r in data if not r["Longitude"].strip() or not r["Latitude"].strip())
    return data, no_xy


def test_west_yorkshire_policeuk(provider, tmp_path):
    data, no_xy = _wy_independent()
    res = run({"INPUT": [WY], "PRESET": 1}, tmp_path)
    assert res["ROWS_IN"] == len(data) == 27176
    assert res["CLEAN_COUNT"] + res["REJECTED_COUNT"] == 27176
    assert res["REJECTED_COUNT"] == no_xy == 1347
    clean = layer(res["CLEAN"])
    rej = layer(res["REJECTED"])
    assert clean.featureCount() == 27176 - no_xy and rej.featureCount() == no_xy
    assert clean.crs().authid() == "EPSG:27700"
    assert clean.dataProvider().hasSpatialIndex() == SpatialIndexPresence.Present
    names = [f.name() for f in clean.fields()]
    for n in ("Crime ID", "LSOA code", "Crime type", "source_row", "source_file", "issue",
              "event_date"):
        assert n in names
    assert {f.name() for f in rej.fields()} >= {"reject_reason", "reject_detail", "Location"}
    # The first clean point, projected independently with QGIS.
    first = next(clean.getFeatures())
    tr = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"),
                                QgsCoordinateReferenceSystem("EPSG:27700"), QgsProject.instance())
    expected = tr.transform(QgsPointXY(float(data[0]["Longitude"]), float(data[0]["Latitude"])))
    got = first.geometry().asPoint()
    assert abs(got.x() - expected.x()) < 2 and abs(got.y() - expected.y()) < 2
    assert first["source_row"] == 1 and first["issue"] == "anti_social_behaviour"
    assert first["LSOA code"] == data[0]["LSOA code"]
    # Issues follow the default crime-type table.
    issues = {f["issue"] for f in clean.getFeatures()}
    assert "violence_sexual_offences" in issues and "" not in issues
    report = open(res["REPORT"], encoding="utf-8").read()
    assert "Rows in 27,176 = clean 25,829 + rejected 1,347" in report
    assert "<td>no_coordinates</td>" in report and "<svg" in report


def test_bulk_writer_matches_sink_with_its_rtree(provider, tmp_path):
    """The bulk writer packs the R-tree (every point, checked by SQLite); content equals the
    feature-by-feature sink."""
    res = run({"INPUT": [WY], "PRESET": 1}, tmp_path)
    gpkg = layer(res["CLEAN"])
    assert gpkg.featureCount() == 25829
    assert gpkg.dataProvider().hasSpatialIndex() == SpatialIndexPresence.Present
    import sqlite3

    con = sqlite3.connect(res["CLEAN"].split("|")[0])
    name = con.execute("SELECT name FROM sqlite_master WHERE name LIKE 'rtree_%' AND type = 'table' "
                       "AND sql LIKE '%VIRTUAL%'").fetchone()[0]
    assert con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] == 25829
    assert con.execute(f"SELECT rtreecheck('{name}')").fetchone()[0] == "ok"
    con.close()
    mem = run({"INPUT": [WY], "PRESET": 1}, tmp_path, memory=True)
    a = [(f.attributes()[1:], f.geometry().asPoint()) for f in gpkg.getFeatures()]
    b = [(f.attributes(), f.geometry().asPoint()) for f in mem["CLEAN"].getFeatures()]
    assert len(a) == len(b)
    for (attrs_a, pa), (attrs_b, pb) in zip(a[::997], b[::997]):
        assert attrs_a == attrs_b
        assert (pa.x(), pa.y()) == (pb.x(), pb.y())
    # A spatial filter through the index finds the same points.
    from qgis.core import QgsFeatureRequest, QgsRectangle

    box = QgsRectangle(429000, 411000, 430000, 412000)
    n_gpkg = sum(1 for _ in gpkg.getFeatures(QgsFeatureRequest().setFilterRect(box)))
    n_mem = sum(1 for _ in mem["CLEAN"].getFeatures(QgsFeatureRequest().setFilterRect(box)))
    assert n_gpkg == n_mem > 0


def test_cancel_stops_with_message(provider, tmp_path):
    import processing

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        processing.run(ALG, {"INPUT": [WY], "PRESET": 1, "CLEAN": "memory:",
                             "REJECTED": "memory:"},
                       context=QgsProcessingContext(), feedback=feedback)


def test_memory_outputs_same_counts(provider, tmp_path):
    res = run({"INPUT": [os.path.join(BAD, "duplicates.csv")], "X_FIELD": "longitude",
               "Y_FIELD": "latitude", "SOURCE_CRS": "EPSG:4326", "DUPLICATE_FIELDS": "ref"},
              tmp_path, memory=True)
    assert (res["CLEAN_COUNT"], res["REJECTED_COUNT"]) == (5, 2)
    assert res["CLEAN"].featureCount() == 5 and res["REJECTED"].featureCount() == 2
    assert [r["reject_reason"] for r in rows(res["REJECTED"])] == ["duplicate", "duplicate"]


def test_study_area_with_buffer(provider, tmp_path):
    """A rectangle around central Leeds; counted independently with QgsCoordinateTransform."""
    data, _ = _wy_independent()
    xmin, ymin, xmax, ymax = 425000, 428000, 435000, 438000
    area = QgsVectorLayer("Polygon?crs=EPSG:27700", "area", "memory")
    f = QgsFeature()
    f.setGeometry(QgsGeometry.fromWkt(
        f"POLYGON(({xmin} {ymin},{xmax} {ymin},{xmax} {ymax},{xmin} {ymax},{xmin} {ymin}))"))
    area.dataProvider().addFeatures([f])
    tr = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"),
                                QgsCoordinateReferenceSystem("EPSG:27700"), QgsProject.instance())
    buffer = 500.0
    inside = outside = 0
    for r in data:
        if not r["Longitude"] or not r["Latitude"]:
            continue
        p = tr.transform(QgsPointXY(float(r["Longitude"]), float(r["Latitude"])))
        # the buffered rectangle has rounded corners: test against the exact buffered shape
        dx = max(xmin - p.x(), 0, p.x() - xmax)
        dy = max(ymin - p.y(), 0, p.y() - ymax)
        if dx * dx + dy * dy <= buffer * buffer:
            inside += 1
        else:
            outside += 1
    res = run({"INPUT": [WY], "PRESET": 1, "STUDY_AREA": area, "STUDY_BUFFER": buffer}, tmp_path)
    assert res["CLEAN_COUNT"] == pytest.approx(inside, abs=3)  # buffer corners are polygons
    assert res["CLEAN_COUNT"] + res["REJECTED_COUNT"] == 27176
    reasons = [r["reject_reason"] for r in rows(res["REJECTED"])]
    assert reasons.count("outside_study_area") == 27176 - 1347 - res["CLEAN_COUNT"]
    assert abs(reasons.count("outside_study_area") - outside) <= 3


def test_date_window_and_formats(provider, tmp_path):
    res = run({"INPUT": [os.path.join(BAD, "three_date_formats.csv")], "X_FIELD": "longitude",
               "Y_FIELD": "latitude", "SOURCE_CRS": "EPSG:4326", "DATE_FIELD": "when",
               "DATE_FORMATS": "yyyy-mm-dd;dd/mm/yyyy;yyyy-mm", "DATE_FROM": "2016-07-02",
               "DATE_TO": "2016-07-31"}, tmp_path)
    assert (res["CLEAN_COUNT"], res["REJECTED_COUNT"]) == (2, 4)
    reasons = sorted(r["reject_reason"] for r in rows(res["REJECTED"]))
    assert reasons == ["bad_date", "bad_date", "outside_date_window", "outside_date_window"]


# ---- the three agency layouts of the sample (documented parameter dicts) --------------------
def _write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return str(path)


def test_agency_eastings_northings(provider, tmp_path):
    src = _write(tmp_path / "council.csv",
                 "ref,date,category,easting,northing\n"
                 "C1,2024-03-01,Fly-tipping,407000,287000\n"
                 "C2,05/03/2024,Graffiti,406500.5,286900\n"
                 "C3,2024-03-09,Graffiti,,\n"
                 "C4,2024-03-10,Graffiti,99999999,286900\n")
    params = {"INPUT": [src], "PRESET": 0, "X_FIELD": "easting", "Y_FIELD": "northing",
              "SOURCE_CRS": "EPSG:27700", "TARGET_CRS": "EPSG:27700", "DATE_FIELD": "date",
              "CATEGORY_FIELD": "category"}
    res = run(params, tmp_path)
    assert (res["CLEAN_COUNT"], res["REJECTED_COUNT"]) == (2, 2)
    clean = rows(res["CLEAN"])
    assert [(r["_geom"].asPoint().x(), r["_geom"].asPoint().y()) for r in clean] == \
        [(407000.0, 287000.0), (406500.5, 286900.0)]
    assert [r["issue"] for r in clean] == ["fly_tipping", "graffiti"]
    assert [r["reject_reason"] for r in rows(res["REJECTED"])] == ["no_coordinates",
                                                                  "outside_crs_area"]


def test_agency_lonlat_with_swapped_row(provider, tmp_path):
    src = _write(tmp_path / "fire.csv",
                 "id,longitude,latitude,when\n"
                 "F1,-1.8904,52.4862,2024-03-01\n"
                 "F2,52.4800,-1.9000,2024-03-02\n"
                 "F3,-1.8800,52.4700,not a date\n")
    params = {"INPUT": [src], "X_FIELD": "longitude", "Y_FIELD": "latitude",
              "SOURCE_CRS": "EPSG:4326", "TARGET_CRS": "EPSG:27700", "DATE_FIELD": "when",
              "FIX_SWAPPED": True}
    res = run(params, tmp_path)
    assert (res["CLEAN_COUNT"], res["REJECTED_COUNT"]) == (2, 1)
    clean = rows(res["CLEAN"])
    assert [r["fixes"] for r in clean] == ["", "swapped_latlon"]
    tr = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"),
                                QgsCoordinateReferenceSystem("EPSG:27700"), QgsProject.instance())
    exp = tr.transform(QgsPointXY(-1.9, 52.48))
    got = clean[1]["_geom"].asPoint()
    assert abs(got.x() - exp.x()) < 2 and abs(got.y() - exp.y()) < 2
    res = run(dict(params, FIX_SWAPPED=False), tmp_path)
    assert [r["reject_reason"] for r in rows(res["REJECTED"])] == ["swapped_latlon", "bad_date"]


def test_agency_postcodes(provider, tmp_path):
    params = {"INPUT": [os.path.join(BAD, "postcodes.csv")], "POSTCODE_FIELD": "postcode",
              "POSTCODE_LOOKUP": os.path.join(BAD, "postcode_lookup.csv"),
              "SOURCE_CRS": "EPSG:27700", "TARGET_CRS": "EPSG:27700",
              "CATEGORY_FIELD": "type"}
    res = run(params, tmp_path)
    assert (res["CLEAN_COUNT"], res["REJECTED_COUNT"]) == (3, 2)
    clean = rows(res["CLEAN"])
    assert [r["_geom"].asPoint().x() for r in clean] == [406700.0, 406700.0, 407100.0]
    assert sorted(r["reject_reason"] for r in rows(res["REJECTED"])) == \
        ["no_coordinates", "postcode_not_found"]


def test_auto_detect_columns_and_crs(provider, tmp_path):
    res = run({"INPUT": [os.path.join(BAD, "semicolon.csv"), os.path.join(BAD, "bom.csv"),
                         os.path.join(BAD, "tab.tsv")]}, tmp_path)
    assert (res["ROWS_IN"], res["CLEAN_COUNT"]) == (7, 7)
    files = [r["source_file"] for r in rows(res["CLEAN"])]
    assert files == ["semicolon.csv"] * 3 + ["bom.csv"] * 2 + ["tab.tsv"] * 2


def test_layer_geometry_input(provider, tmp_path):
    from qgis.PyQt.QtCore import QDate, QDateTime, QTime

    lyr = QgsVectorLayer("Point?crs=EPSG:4326&field=kind:string&field=n:integer&field=d:date"
                         "&field=t:datetime", "pts", "memory")
    feats = []
    stamp = QDateTime(QDate(2024, 3, 1), QTime(10, 30, 0))
    for kind, n, wkt in (("a", 1, "POINT(-1.55 53.80)"), ("b", 2, None), ("c", 3, "POINT(-1.5 53.7)")):
        f = QgsFeature(lyr.fields())
        f.setAttributes([kind, n, QDate(2024, 3, n), stamp])
        if wkt:
            f.setGeometry(QgsGeometry.fromWkt(wkt))
        feats.append(f)
    lyr.dataProvider().addFeatures(feats)
    res = run({"INPUT": [lyr], "TARGET_CRS": "EPSG:27700", "DATE_FIELD": "t"}, tmp_path)
    assert (res["CLEAN_COUNT"], res["REJECTED_COUNT"]) == (2, 1)
    clean = rows(res["CLEAN"])
    assert [r["kind"] for r in clean] == ["a", "c"] and [r["n"] for r in clean] == ["1", "3"]
    assert [r["d"] for r in clean] == ["2024-03-01", "2024-03-03"]
    assert [r["event_date"] for r in clean] == ["2024-03-01", "2024-03-01"]
    tr = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"),
                                QgsCoordinateReferenceSystem("EPSG:27700"), QgsProject.instance())
    exp = tr.transform(QgsPointXY(-1.5, 53.7))
    got = clean[1]["_geom"].asPoint()
    assert abs(got.x() - exp.x()) < 2 and abs(got.y() - exp.y()) < 2
    assert rows(res["REJECTED"])[0]["reject_reason"] == "no_coordinates"


# ---- bad input gives clear errors --------------------------------------------------------------
@pytest.mark.parametrize("name, params, message", [
    ("empty.csv", {}, "is empty"),
    ("binary.csv", {}, "not a text (CSV) file"),
    ("header_only.csv", {}, "only a header"),
    ("missing_columns.csv", {"X_FIELD": "easting", "Y_FIELD": "northing"},
     "Columns that exist: 'ref', 'east', 'north'"),
    ("semicolon.csv", {"PRESET": 1}, "police.uk preset expects the 12-column"),
    ("postcodes.csv", {"POSTCODE_FIELD": "postcode"}, "POSTCODE_LOOKUP is empty"),
])
def test_bad_files_messages(provider, tmp_path, name, params, message):
    with pytest.raises(QgsProcessingException) as err:
        run(dict({"INPUT": [os.path.join(BAD, name)]}, **params), tmp_path)
    assert message in str(err.value)


def test_no_coordinate_columns(provider, tmp_path):
    src = _write(tmp_path / "abc.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(QgsProcessingException) as err:
        run({"INPUT": [src]}, tmp_path)
    assert "Cannot tell which columns hold the coordinates" in str(err.value)
    assert "Columns that exist: 'a', 'b', 'c'" in str(err.value)
    with pytest.raises(QgsProcessingException, match="neither an existing file nor a layer"):
        run({"INPUT": [str(tmp_path / "nothere.csv")]}, tmp_path)


def test_geographic_target_refused(provider, tmp_path):
    with pytest.raises(QgsProcessingException, match="projected CRS"):
        run({"INPUT": [os.path.join(BAD, "semicolon.csv")], "TARGET_CRS": "EPSG:4326"}, tmp_path)


def test_windows_1252_written_as_text(provider, tmp_path):
    res = run({"INPUT": [os.path.join(BAD, "cp1252_pound.csv")]}, tmp_path)
    assert [r["note"] for r in rows(res["CLEAN"])] == ["Stolen goods \u00a3250", "Caf\u00e9 window"]


@pytest.mark.parametrize("name, params, clean, reasons", [
    ("mixed_types.csv", {"SOURCE_CRS": "EPSG:27700"}, 3, {"bad_coordinates": 2}),
    ("decimal_commas.csv", {}, 3, {}),
    ("thousands_separators.csv", {"SOURCE_CRS": "EPSG:27700"}, 3, {}),
    ("extreme_coordinates.csv", {"SOURCE_CRS": "EPSG:4326"}, 2,
     {"outside_crs_area": 3, "bad_coordinates": 1}),
    ("swapped_latlon.csv", {"SOURCE_CRS": "EPSG:4326"}, 2, {"swapped_latlon": 2}),
    ("duplicates.csv", {"DUPLICATE_FIELDS": "ref"}, 5, {"duplicate": 2}),
    ("three_date_formats.csv", {"DATE_FIELD": "when"}, 4, {"bad_date": 2}),
    ("duplicates.csv", {"CATEGORY_FIELD": "type", "REQUIRE_MAPPING": True,
                        "CATEGORY_MAPPING": os.path.join(
                            os.path.dirname(os.path.dirname(DATA)), "resources", "presets",
                            "policeuk_crime_types.csv")}, 7, {}),
])
def test_crafted_files_reasons(provider, tmp_path, name, params, clean, reasons):
    res = run(dict({"INPUT": [os.path.join(BAD, name)]}, **params), tmp_path)
    got = {}
    for r in rows(res["REJECTED"]):
        got[r["reject_reason"]] = got.get(r["reject_reason"], 0) + 1
    assert res["CLEAN_COUNT"] == clean and got == reasons
    assert res["ROWS_IN"] == clean + sum(reasons.values())


# ---- police.uk archives (issue 17): a ZIP of monthly folders, in one call -----------------
WY_MONTHS = ("2016-07", "2017-07")
LSOA = os.path.join(DATA, "west_yorkshire", "lsoa11.geojson")


def _wy_archive(tmp_path):
    """The two real months in the data.police.uk layout, plus an outcomes file to leave out."""
    import zipfile

    path = str(tmp_path / "policeuk_download.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for m in WY_MONTHS:
            zf.write(os.path.join(DATA, "west_yorkshire", f"{m}-west-yorkshire-street.csv"),
                     f"{m}/{m}-west-yorkshire-street.csv")
        zf.writestr("2016-07/2016-07-west-yorkshire-outcomes.csv", "Crime ID,Month\n")
    return path


def _wy_outside_distances():
    """Per month: distance (m) of every row with coordinates to the dissolved LSOAs (0 inside),
    computed with OGR/GEOS (not the plugin's point in polygon), on distinct points."""
    from osgeo import ogr, osr

    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    bng = osr.SpatialReference()
    bng.ImportFromEPSG(27700)
    ct = osr.CoordinateTransformation(wgs, bng)
    ds = ogr.Open(LSOA)
    parts = ogr.Geometry(ogr.wkbMultiPolygon)
    for f in ds.GetLayer(0):
        g = f.GetGeometryRef().Clone()
        g.Transform(ct)
        for k in range(g.GetGeometryCount()) if g.GetGeometryType() == ogr.wkbMultiPolygon else [None]:
            parts.AddGeometry(g if k is None else g.GetGeometryRef(k))
    union = parts.UnionCascaded()
    out = {}
    for m in WY_MONTHS:
        with open(os.path.join(DATA, "west_yorkshire", f"{m}-west-yorkshire-street.csv"),
                  encoding="utf-8", newline="") as fh:
            data = [r for r in csv.DictReader(fh) if r["Longitude"].strip() and r["Latitude"].strip()]
        dist = {}
        for key in {(r["Longitude"], r["Latitude"]) for r in data}:
            x, y, _ = ct.TransformPoint(float(key[0]), float(key[1]))
            p = ogr.Geometry(ogr.wkbPoint)
            p.AddPoint_2D(x, y)
            dist[key] = 0.0 if union.Contains(p) else union.Distance(p)
        out[m] = [(dist[(r["Longitude"], r["Latitude"])], r["Crime type"]) for r in data]
    return out


def test_policeuk_archive_two_periods_study_area_and_buffer(provider, tmp_path):
    from collections import Counter

    import processing

    from tests.helpers import RecordingFeedback

    archive = _wy_archive(tmp_path)
    expected = _wy_outside_distances()
    # Exact boundary: clean = rows with coordinates inside the dissolved LSOAs, per month and type.
    res = run({"ARCHIVE": archive, "STUDY_AREA": LSOA, "STUDY_BUFFER": 0}, tmp_path)
    assert res["ROWS_IN"] == 27176 + 28537
    assert res["CLEAN_COUNT"] + res["REJECTED_COUNT"] == res["ROWS_IN"]
    clean = rows(res["CLEAN"])
    for m in WY_MONTHS:
        want = Counter(t for d, t in expected[m] if d == 0)
        got = Counter(r["Crime type"] for r in clean if r["period"] == m)
        assert got == want, m
    outside = {m: sum(1 for d, _ in expected[m] if d > 0) for m in WY_MONTHS}
    assert outside == {"2016-07": 74, "2017-07": 14}
    reasons = Counter((r["period"], r["reject_reason"]) for r in rows(res["REJECTED"]))
    assert reasons[("2016-07", "outside_study_area")] == 74
    assert reasons[("2017-07", "outside_study_area")] == 14
    # The default buffer (50 m) keeps the rows within 50 m of the boundary, marked and counted.
    feedback = RecordingFeedback()
    res50 = processing.run(ALG, {"ARCHIVE": archive, "STUDY_AREA": LSOA,
                                 "CLEAN": str(tmp_path / "c50.gpkg"),
                                 "REJECTED": str(tmp_path / "r50.gpkg")},
                           context=QgsProcessingContext(), feedback=feedback)
    saved = {m: sum(1 for d, _ in expected[m] if 0 < d <= 50) for m in WY_MONTHS}
    assert saved == {"2016-07": 23, "2017-07": 9}
    assert res50["CLEAN_COUNT"] - res["CLEAN_COUNT"] == 32
    clean50 = rows(res50["CLEAN"])
    marked = Counter(r["period"] for r in clean50 if r["fixes"] == "in_study_buffer")
    assert dict(marked) == saved
    log = feedback.all()
    assert "Study area buffered by 50 m (the default)" in log
    assert "32 row(s) lie outside the study area's boundary but within 50 m" in log
    assert "2016-07/2016-07-west-yorkshire-street.csv: 27,176 = " in log
    assert "left out: 1 outcomes / stop-and-search file(s)" in log
    assert "Clean rows per period: 2016-07 " in log


def test_policeuk_archive_folder_months_forces_and_period(provider, tmp_path):
    import shutil

    folder = tmp_path / "unzipped"
    for m in WY_MONTHS:
        (folder / m).mkdir(parents=True)
        shutil.copy(os.path.join(DATA, "west_yorkshire", f"{m}-west-yorkshire-street.csv"),
                    folder / m)
    res = run({"ARCHIVE": str(folder), "MONTHS": "2017-01,2017-12", "FORCES": "west-yorkshire",
               "PERIOD": 2}, tmp_path)
    assert res["ROWS_IN"] == 28537 and res["CLEAN_COUNT"] == 26996
    assert {r["period"] for r in rows(res["CLEAN"])} == {"2017/18"}
    report = open(res["REPORT"], encoding="utf-8").read()
    assert "<h2>Per period</h2>" in report and "2017-07/2017-07-west-yorkshire-street.csv" in report
    with pytest.raises(QgsProcessingException, match="holds months 2016-07 to 2017-07"):
        run({"ARCHIVE": str(folder), "MONTHS": "2019-01,2019-12"}, tmp_path)


def test_archive_or_input_is_needed(provider, tmp_path):
    import processing

    with pytest.raises(QgsProcessingException, match="or a police.uk archive"):
        processing.run(ALG, {"CLEAN": "memory:", "REJECTED": "memory:"},
                       context=QgsProcessingContext(), feedback=QgsProcessingFeedback())
    with pytest.raises(QgsProcessingException, match="does not exist"):
        processing.run(ALG, {"ARCHIVE": str(tmp_path / "none.zip"), "CLEAN": "memory:",
                             "REJECTED": "memory:"},
                       context=QgsProcessingContext(), feedback=QgsProcessingFeedback())
