"""Tests of core.cleanse: reading, parsing, reasons, invariant, report (no QGIS)."""
import csv
import os
import re

import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core import cleanse as cc
from composite_index_plugin.core.errors import CompositeIndexError

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
BAD = os.path.join(DATA, "bad_files")
WY = os.path.join(DATA, "west_yorkshire", "2016-07-west-yorkshire-street.csv")
MAPPING = os.path.join(os.path.dirname(os.path.dirname(DATA)), "resources", "presets",
                       "policeuk_crime_types.csv")
# Valid area of EPSG:27700 in lon/lat (QGIS/PROJ bounds), the check used for lon/lat input
# projected to British National Grid.
BNG_LONLAT = (-9.0, 49.75, 2.01, 61.01)
LONLAT = dict(x_field="longitude", y_field="latitude", crs_area=(-180.0, -90.0, 180.0, 90.0))


def bad(name):
    return os.path.join(BAD, name)


def run(name, **kw):
    return cc.import_tables([bad(name)], cc.CleanseOptions(**kw))


# ---- the real West Yorkshire month, against an independent count -------------------------
def _independent_counts():
    """Reason counts computed with the csv module and plain Python (no call into cleanse)."""
    with open(WY, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    counts = {"no_coordinates": 0, "bad_coordinates": 0, "outside_crs_area": 0,
              "bad_date": 0, "duplicate": 0}
    seen_ids = set()
    clean = 0
    for r in rows:
        lon, lat = r["Longitude"].strip(), r["Latitude"].strip()
        if not lon or not lat:
            counts["no_coordinates"] += 1
            continue
        try:
            x, y = float(lon), float(lat)
        except ValueError:
            counts["bad_coordinates"] += 1
            continue
        if not (BNG_LONLAT[0] <= x <= BNG_LONLAT[2] and BNG_LONLAT[1] <= y <= BNG_LONLAT[3]):
            counts["outside_crs_area"] += 1
            continue
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", r["Month"].strip()):
            counts["bad_date"] += 1
            continue
        cid = r["Crime ID"].strip()
        if cid and cid in seen_ids:
            counts["duplicate"] += 1
            continue
        if cid:
            seen_ids.add(cid)
        clean += 1
    return len(rows), clean, counts


def test_west_yorkshire_counts_match_independent_count():
    n, clean, expected = _independent_counts()
    assert n == 27176
    opts = cc.CleanseOptions(x_field="Longitude", y_field="Latitude", crs_area=BNG_LONLAT,
                             date_field="Month", date_formats=["%Y-%m"],
                             category_field="Crime type",
                             category_mapping=cc.read_category_mapping(MAPPING),
                             require_mapping=True, duplicate_fields=["Crime ID"])
    res = cc.import_tables([WY], opts)
    assert res.n_in == 27176
    assert res.n_clean + res.n_rejected == 27176
    assert res.n_clean == clean
    for reason, count in expected.items():
        assert res.counts[reason] == count, reason
    assert res.counts["unmapped_category"] == 0
    assert sum(res.counts.values()) == res.n_rejected
    # The file's known shape: ~5% without coordinates, all rejected for that reason only.
    assert res.counts["no_coordinates"] == 1347
    assert res.n_clean == 25829
    # Anti-social behaviour rows have no Crime ID and are not duplicates of each other.
    asb = res.clean[res.clean["Crime type"] == "Anti-social behaviour"]
    assert (asb["Crime ID"] == "").all() and len(asb) > 5000
    assert set(res.clean["issue"]) <= set(cc.read_category_mapping(MAPPING).values())
    assert "LSOA code" in res.clean.columns
    first = res.clean.iloc[0]
    assert (first["source_row"], first["issue"], first["event_date"]) == \
        (1, "anti_social_behaviour", "2016-07-01")


# ---- bad files ------------------------------------------------------------------------------
def test_empty_file():
    with pytest.raises(CompositeIndexError, match="empty"):
        run("empty.csv", x_field="easting", y_field="northing")


def test_header_only():
    with pytest.raises(CompositeIndexError, match="only a header"):
        run("header_only.csv", x_field="easting", y_field="northing")


def test_missing_columns_lists_existing():
    with pytest.raises(CompositeIndexError) as err:
        run("missing_columns.csv", x_field="easting", y_field="northing")
    text = str(err.value)
    assert "'easting'" in text and "'northing'" in text
    assert "Columns that exist: 'ref', 'east', 'north'" in text


def test_missing_column_suggests_case():
    with pytest.raises(CompositeIndexError, match="Did you mean: 'EAST' -> 'east'"):
        run("missing_columns.csv", x_field="EAST", y_field="north")


def test_binary_file():
    with pytest.raises(CompositeIndexError, match="not a text"):
        run("binary.csv", x_field="x", y_field="y")


def test_zip_file(tmp_path):
    p = tmp_path / "book.csv"
    p.write_bytes(b"PK\x03\x04" + b"rest of an xlsx")
    with pytest.raises(CompositeIndexError, match="Excel"):
        cc.read_table(str(p))


def test_ragged_rows_are_rejected_not_fatal():
    """A row with more fields than the header goes to the rejects with its reason (issue 15:
    it used to stop the import; tests/faults covers the other ragged layouts)."""
    res = run("ragged.csv", x_field="easting", y_field="northing")
    assert (res.n_in, res.n_clean, res.counts["malformed_row"]) == (2, 1, 1)
    assert res.rejected["reject_detail"].tolist() == [
        "5 fields, the header has 3; extra: 'extra,fields'"]


def test_mixed_types():
    res = run("mixed_types.csv", x_field="easting", y_field="northing",
              crs_area=(-1e5, -1e5, 8e5, 1.4e6))
    assert res.n_clean == 3 and res.counts["bad_coordinates"] == 2
    assert res.rejected["id"].tolist() == ["2", "3"]
    assert res.rejected["reject_detail"].tolist() == [
        "easting='n/a', northing='433100'", "easting='430200', northing='12abc'"]
    assert res.x.tolist() == [430000.0, 430300.0, 430400.0]


def test_decimal_commas_semicolon():
    frame, info = cc.read_table(bad("decimal_commas.csv"))
    assert info["delimiter"] == ";"
    res = run("decimal_commas.csv", **LONLAT)
    assert res.n_clean == 3
    assert res.x.tolist() == [-1.5502, -1.5411, -1.5]
    assert res.y.tolist() == [53.7975, 53.8008, 53.8]


def test_thousands_separators():
    res = run("thousands_separators.csv", x_field="easting", y_field="northing")
    assert res.x.tolist() == [430123.5, 431000.0, 432000.0]
    assert res.y.tolist() == [433456.25, 434000.0, 435000.0]


def test_extreme_coordinates():
    res = run("extreme_coordinates.csv", x_field="longitude", y_field="latitude",
              crs_area=BNG_LONLAT)
    assert res.n_clean == 2
    assert res.counts["outside_crs_area"] == 3
    assert res.counts["bad_coordinates"] == 1          # "inf"
    reasons = dict(zip(res.rejected["id"], res.rejected["reject_reason"]))
    assert reasons == {"2": "outside_crs_area", "3": "outside_crs_area", "4": "bad_coordinates",
                       "5": "outside_crs_area"}


def test_swapped_latlon_rejected_or_fixed():
    res = run("swapped_latlon.csv", x_field="longitude", y_field="latitude", crs_area=BNG_LONLAT)
    assert res.counts["swapped_latlon"] == 2 and res.n_clean == 2
    assert res.rejected["id"].tolist() == ["2", "4"]
    res = run("swapped_latlon.csv", x_field="longitude", y_field="latitude", crs_area=BNG_LONLAT,
              fix_swapped=True)
    assert res.n_clean == 4 and res.n_rejected == 0
    assert res.fixed["swapped_latlon"] == 2
    assert res.clean["fixes"].tolist() == ["", "swapped_latlon", "", "swapped_latlon"]
    assert res.x.tolist() == [-1.5502, -1.5411, -1.56, -1.6]
    assert res.y.tolist() == [53.7975, 53.8008, 53.81, 53.7]


def test_three_date_formats():
    res = run("three_date_formats.csv", date_field="when", **LONLAT)
    assert res.counts["bad_date"] == 2
    assert res.rejected["id"].tolist() == ["4", "5"]
    assert res.clean["event_date"].tolist() == ["2016-07-14", "2016-07-14", "2016-07-01",
                                                "2016-08-01"]


def test_date_window_inclusive():
    res = run("three_date_formats.csv", date_field="when", date_from="2016-07-02",
              date_to="2016-07", **LONLAT)
    # window 2016-07-02 .. 2016-07-31: the two 14 July rows are in; 2016-07 (1 July) and
    # 1 August are out; 31/02 and empty are bad dates.
    assert res.n_clean == 2
    assert res.counts["outside_date_window"] == 2
    assert res.counts["bad_date"] == 2


def test_duplicates_ignore_empty_keys():
    res = run("duplicates.csv", duplicate_fields=["ref"], **LONLAT)
    assert res.counts["duplicate"] == 2
    assert res.n_clean == 5
    assert res.rejected["source_row"].tolist() == [3, 6]
    assert res.rejected["reject_detail"].tolist() == ["same ref as row 1 of duplicates.csv",
                                                      "same ref as row 2 of duplicates.csv"]


def test_duplicates_on_two_fields():
    res = run("duplicates.csv", duplicate_fields=["ref", "type"], **LONLAT)
    assert res.counts["duplicate"] == 1        # A1/Burglary twice; A2 Burglary vs Robbery differ


def test_postcodes_lookup():
    lookup = cc.read_postcode_lookup(bad("postcode_lookup.csv"))
    assert lookup["postcode"].tolist() == ["B1 1AA", "B2 4QA"]
    assert lookup.attrs["dropped"] == 1
    res = run("postcodes.csv", postcode_field="postcode", postcode_lookup=lookup,
              crs_area=(-1e5, -1e5, 8e5, 1.4e6))
    assert res.counts["postcode_not_found"] == 1
    assert res.counts["no_coordinates"] == 1
    assert res.n_clean == 3
    assert res.x.tolist() == [406700.0, 406700.0, 407100.0]
    assert res.rejected["reject_detail"].tolist()[0] == \
        "postcode 'ZZ9 9ZZ' (normalised 'ZZ9 9ZZ')"


def test_windows_1252_pound():
    frame, info = cc.read_table(bad("cp1252_pound.csv"))
    assert info["encoding"] == "cp1252"
    assert frame["note"].tolist() == ["Stolen goods \u00a3250", "Caf\u00e9 window"]


def test_semicolon_tab_bom():
    f, info = cc.read_table(bad("semicolon.csv"))
    assert info["delimiter"] == ";" and f.shape == (3, 3)
    f, info = cc.read_table(bad("tab.tsv"))
    assert info["delimiter"] == "\t" and list(f.columns) == ["id", "easting", "northing"]
    f, info = cc.read_table(bad("bom.csv"))
    assert info["encoding"] == "utf-8-sig" and list(f.columns) == ["id", "easting", "northing"]
    assert f["id"].tolist() == ["1", "2"]


def test_given_encoding_and_delimiter():
    f, info = cc.read_table(bad("semicolon.csv"), encoding="latin-1", delimiter=";")
    assert (info["encoding"], f.shape) == ("latin-1", (3, 3))
    with pytest.raises(CompositeIndexError, match="Unknown encoding"):
        cc.read_table(bad("semicolon.csv"), encoding="klingon")


def test_category_mapping_required_and_slug():
    opts = dict(category_field="type", **LONLAT)
    res = run("duplicates.csv", category_mapping={"burglary": "burglary"}, require_mapping=True,
              **opts)
    assert res.counts["unmapped_category"] == 4 and res.n_clean == 3
    res = run("duplicates.csv", category_mapping={"burglary": "burglary"}, **opts)
    assert res.n_clean == 7 and res.clean["issue"].tolist() == ["burglary"] * 3 + [""] * 4
    assert res.notes[0].startswith("4 clean row(s) have an empty issue")
    res = run("duplicates.csv", **opts)
    assert res.clean["issue"].tolist()[3] == "anti_social_behaviour"
    res = run("duplicates.csv", category_mapping=lambda c: "asb" if "social" in c else None,
              **opts)
    assert res.clean["issue"].tolist()[3:5] == ["asb", "asb"]


def test_study_area_and_transform_callables():
    calls = []

    def to_target(x, y):
        calls.append(len(x))
        return x * 2.0, y * 2.0

    def in_study(x, y):
        return x > -3.11  # after doubling: lon > -1.555

    frame = cc.combine_tables([(cc.read_table(bad("duplicates.csv"))[0], "d.csv")])
    res = cc.cleanse(frame, cc.CleanseOptions(**LONLAT), to_target=to_target, in_study=in_study)
    assert calls == [7]
    assert res.counts["outside_study_area"] == 3      # lon -1.56, -1.57, -1.57
    assert res.x.tolist() == [-3.1, -3.1, -3.1, -3.1]
    assert res.rejected["reject_reason"].tolist() == ["outside_study_area"] * 3


def test_reserved_column_renamed():
    frame = pd.DataFrame({"issue": ["x"], "lon": ["-1.5"], "lat": ["53.8"]})
    combined = cc.combine_tables([(frame, "a.csv")])
    assert "issue_orig" in combined.columns
    res = cc.cleanse(combined, cc.CleanseOptions(x_field="lon", y_field="lat"))
    assert res.clean["issue_orig"].tolist() == ["x"] and res.clean["issue"].tolist() == [""]


def test_several_files_union_of_columns():
    res = cc.import_tables([bad("semicolon.csv"), bad("tab.tsv")],
                           cc.CleanseOptions(x_field="easting", y_field="northing"))
    assert res.n_in == 5 and res.n_clean == 5
    assert res.clean["source_file"].tolist() == ["semicolon.csv"] * 3 + ["tab.tsv"] * 2
    assert res.clean["source_row"].tolist() == [1, 2, 3, 1, 2]


# ---- parsing units --------------------------------------------------------------------------
def test_parse_numbers():
    values = ["1,5", "431,234.5", "431.234,5", "-1,550626", " 12 ", "abc", "", "1\u00a0234",
              "1,234,567", "431,234", "+3.5", "1e3"]
    got = cc.parse_numbers(values)
    expected = [1.5, 431234.5, 431234.5, -1.550626, 12.0, np.nan, np.nan, 1234.0, 1234567.0,
                431234.0, 3.5, 1000.0]
    np.testing.assert_array_equal(got, np.array(expected))
    assert cc.parse_numbers(["431,234"], decimal=",")[0] == 431.234


def test_parse_dates_and_bounds():
    got = cc.parse_dates(["2016-07", "01/02/2016", "2016-02-03", "13/13/2016", "", "3 Mar 2016",
                          "2016-02-03 14:05:00"])
    assert pd.Series(got).dt.strftime("%Y-%m-%d %H:%M").fillna("NaT").tolist() == [
        "2016-07-01 00:00", "2016-02-01 00:00", "2016-02-03 00:00", "NaT", "NaT",
        "2016-03-03 00:00", "2016-02-03 14:05"]
    us = cc.parse_dates(["02/01/2016"], ["mm/dd/yyyy"])
    assert str(us[0])[:10] == "2016-02-01"
    assert cc.parse_date_bound("2016-02", end=True) == pd.Timestamp("2016-02-29 23:59:59.999999999")
    assert cc.parse_date_bound("2016") == pd.Timestamp("2016-01-01")
    with pytest.raises(CompositeIndexError, match="not a date"):
        cc.parse_date_bound("last tuesday")


def test_normalise_postcodes():
    got = cc.normalise_postcodes(["b11aa", "B1  1AA", "", "sw1a 1aa", "ab", " m1 1ae "])
    assert got.tolist() == ["B1 1AA", "B1 1AA", "", "SW1A 1AA", "AB", "M1 1AE"]


def test_sniff_delimiter():
    assert cc.sniff_delimiter(["a;b;c", "1,5;2,5;3"]) == ";"
    assert cc.sniff_delimiter(["a,b", "1,2"]) == ","
    assert cc.sniff_delimiter(["a\tb\tc", "1\t2\t3"]) == "\t"
    assert cc.sniff_delimiter(['a,b', '"x,y",2']) == ","
    assert cc.sniff_delimiter(["single", "1"]) == ","


def test_points_in_polygon_with_hole():
    outer = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    hole = np.array([[4, 4], [6, 4], [6, 6], [4, 6]], dtype=float)
    far = np.array([[20, 20], [30, 20], [25, 30]], dtype=float)
    x = np.array([1, 5, 9, 11, -1, 5, 25, 25, 3])
    y = np.array([1, 5, 9, 5, 5, 11, 22, 31, 7])
    got = cc.points_in_polygon(x, y, [outer, hole, far])
    assert got.tolist() == [True, False, True, False, False, False, True, False, True]


def test_points_in_polygon_matches_brute_force():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    r = 5 + 2 * np.sin(5 * t)
    ring = np.column_stack([r * np.cos(t), r * np.sin(t)])
    x, y = rng.uniform(-8, 8, 4000), rng.uniform(-8, 8, 4000)
    # brute force crossing count, one point at a time
    expected = []
    for px, py in zip(x, y):
        inside = False
        for k in range(len(ring)):
            (x1, y1), (x2, y2) = ring[k], ring[(k + 1) % len(ring)]
            if (y1 <= py < y2 or y2 <= py < y1) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        expected.append(inside)
    assert cc.points_in_polygon(x, y, [ring]).tolist() == expected
    assert 0.2 < np.mean(expected) < 0.6


def test_guess_and_slug_and_columns():
    assert cc.guess_geographic(np.array([-1.5, -1.6]), np.array([53.8, 53.7])) is True
    assert cc.guess_geographic(np.array([430000.0]), np.array([433000.0])) is False
    assert cc.slug("Violence and sexual offences") == "violence_and_sexual_offences"
    assert cc.slug("2nd hand") == "c_2nd_hand"
    assert cc.find_column(["ID", "Easting", "Northing"], cc.X_NAMES) == "Easting"
    assert cc.find_column(["Post Code"], cc.POSTCODE_NAMES) == "Post Code"


def test_policeuk_preset_checks_layout():
    with pytest.raises(CompositeIndexError) as err:
        cc.apply_preset({}, ["Crime ID", "Month", "Longitude"])
    assert "'Latitude'" in str(err.value) and "Columns that exist: 'Crime ID'" in str(err.value)
    s = cc.apply_preset({"date_field": "Mine"}, list(cc.POLICEUK_COLUMNS))
    assert s["date_field"] == "Mine" and s["x_field"] == "Longitude"


def test_bad_mapping_file(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("category,issue\nBurglary,Burglary Dwelling\nDrugs,drugs\n", encoding="utf-8")
    with pytest.raises(CompositeIndexError) as err:
        cc.read_category_mapping(str(p))
    assert "line 2: 'Burglary' -> 'Burglary Dwelling'" in str(err.value)


def test_report_html_counts_and_invariant():
    frame = cc.combine_tables([(cc.read_table(bad("three_date_formats.csv"))[0], "t.csv")])
    res = cc.cleanse(frame, cc.CleanseOptions(date_field="when", **LONLAT))
    res.sources = [{"file": "t.csv", "encoding": "utf-8", "delimiter": ",", "rows": 6}]
    tabs = cc.report_tables(res, frame["id"].to_numpy(object), frame["source_file"].to_numpy(object))
    assert tabs["months"] == [("(no date)", 0, 2), ("2016-07", 3, 0), ("2016-08", 1, 0)]
    assert tabs["sources"] == [("t.csv", 6, 4, 2)]
    text = cc.report_html(res, categories=frame["id"].to_numpy(object),
                          sources=frame["source_file"].to_numpy(object))
    assert "Rows in 6 = clean 4 + rejected 2" in text and "invariant holds" in text
    assert "<td>bad_date</td><td>Date cannot be read</td><td>2</td>" in text
    assert text.count("<svg") == 1 and "<rect x=" in text


def test_invariant_check_raises():
    res = cc.CleanseResult(clean=pd.DataFrame({"a": [1]}), x=np.zeros(1), y=np.zeros(1),
                           rejected=pd.DataFrame({"a": []}), n_in=2, counts={}, fixed={})
    with pytest.raises(CompositeIndexError, match="2 rows in but 1 clean"):
        cc.check_invariant(res)


def test_settings_to_options_recipe_style():
    """The recipe's lowercase import settings drive the core import directly."""
    opts, read, crs = cc.settings_to_options(
        {"preset": 0, "x_field": "easting", "y_field": "northing", "source_crs": "EPSG:27700",
         "delimiter": 2, "duplicate_fields": "id"})
    assert (crs, read["delimiter"], opts.duplicate_fields) == ("EPSG:27700", ";", ["id"])
    res = cc.import_tables([bad("semicolon.csv")], opts, **read)
    assert res.n_clean == 3 and res.x.tolist() == [430000.0, 431000.0, 432000.0]

    opts, read, crs = cc.settings_to_options(
        {"POSTCODE_FIELD": "postcode", "postcode_lookup": "postcode_lookup.csv",
         "category_field": "type", "date_formats": "%d/%m/%Y;%Y-%m-%d"}, base_dir=BAD)
    assert opts.date_formats == ["%d/%m/%Y", "%Y-%m-%d"] and len(opts.postcode_lookup) == 2
    res = cc.import_tables([bad("postcodes.csv")], opts, **read)
    assert res.counts["postcode_not_found"] == 1 and res.n_clean == 3

    frame, _ = cc.read_table(WY)
    opts, read, crs = cc.settings_to_options({"preset": 1}, columns=list(frame.columns))
    assert (opts.x_field, opts.date_field, crs) == ("Longitude", "Month", "EPSG:4326")
    assert opts.category_mapping["Burglary"] == "burglary"
    assert opts.duplicate_fields == ["Crime ID"]


def test_thumbnail_extent_and_empty():
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(0, 1, 500), 1000.0]
    y = np.r_[rng.normal(0, 1, 500), 1000.0]
    svg = cc.svg_thumbnail(x, y)
    assert "beyond this extent" in svg and svg.startswith("<svg") and svg.endswith("</svg>")
    assert "no points" in cc.svg_thumbnail([], [])


def test_utf16_file(tmp_path):
    p = tmp_path / "u16.csv"
    p.write_bytes("id,easting,northing\n1,430000,433000\n".encode("utf-16"))
    frame, info = cc.read_table(str(p))
    assert info["encoding"] == "utf-16" and frame["easting"].tolist() == ["430000"]


def test_clean_field_names_are_those_the_import_writes():
    """The recipe checks name the fields the import will write: a column clashing with an added
    one gets _orig, and one more _ when that name is taken too."""
    header = ["event_date", "event_date_orig", "Crime type"]
    assert cc.clean_field_names(header) == ["event_date_orig_", "event_date_orig",
                                                 "Crime type"]
