"""core.policeuk: police.uk archives (ZIP or folder) listed, read and cleansed in one call; periods.

The real months are the two West Yorkshire street files in tests/data; archives are made at test
time in the data.police.uk layout (yyyy-mm/yyyy-mm-<force>-street.csv). Expected numbers are
counted independently with the csv module.
"""
import csv
import os
import shutil
import zipfile
from collections import Counter

import numpy as np
import pytest

from composite_index_plugin.core import cleanse as cc
from composite_index_plugin.core import policeuk as pu
from composite_index_plugin.core.errors import CompositeIndexError

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
WY = os.path.join(DATA, "west_yorkshire")
MONTHS = ("2016-07", "2017-07")
BNG_LONLAT = (-9.0, 49.75, 2.01, 61.01)


def street(month):
    return os.path.join(WY, f"{month}-west-yorkshire-street.csv")


def make_zip(path, members):
    """``members``: name inside -> source file path or bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, src in members.items():
            if isinstance(src, bytes):
                zf.writestr(name, src)
            else:
                zf.write(src, name)
    return str(path)


def wy_zip(tmp_path, extra=None):
    members = {f"{m}/{m}-west-yorkshire-street.csv": street(m) for m in MONTHS}
    members.update(extra or {})
    return make_zip(tmp_path / "policeuk.zip", members)


def independent(month):
    """Rows, rows with coordinates and crime types (of rows with coordinates) of a month."""
    with open(street(month), encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with_xy = [r for r in rows if r["Longitude"].strip() and r["Latitude"].strip()]
    return len(rows), len(with_xy), Counter(r["Crime type"] for r in with_xy)


def options():
    opts, _, _ = cc.settings_to_options({"preset": 1}, columns=list(cc.POLICEUK_COLUMNS))
    opts.crs_area = BNG_LONLAT
    return opts


# ---- months and periods -------------------------------------------------------------------
def test_parse_month_range_forms():
    assert pu.parse_month_range(["2018-01", "2018-12"]) == ("2018-01", "2018-12")
    assert pu.parse_month_range("2018-01,2018-12") == ("2018-01", "2018-12")
    assert pu.parse_month_range("2018-01:2018-12") == ("2018-01", "2018-12")
    assert pu.parse_month_range("2018-01 to 2018-12") == ("2018-01", "2018-12")
    assert pu.parse_month_range("2018-03") == ("2018-03", "2018-03")
    assert pu.parse_month_range("") is None and pu.parse_month_range(None) is None
    with pytest.raises(CompositeIndexError, match="after the last month"):
        pu.parse_month_range("2018-12,2018-01")
    with pytest.raises(CompositeIndexError, match="'2018-13' is not a month"):
        pu.parse_month_range("2018-01,2018-13")
    with pytest.raises(CompositeIndexError, match="first and last month"):
        pu.parse_month_range("2018-01,2018-02,2018-03")


def test_month_sequence_crosses_years():
    assert pu.month_sequence("2017-11", "2018-02") == ["2017-11", "2017-12", "2018-01", "2018-02"]


def test_period_labels_month_year_financial_year():
    months = np.array(["2016-03", "2016-04", "2017-03", "2017-04", "", "1999-12"], dtype=object)
    assert cc.period_labels(months, "month").tolist() == list(months)
    assert cc.period_labels(months, "year").tolist() == ["2016", "2016", "2017", "2017", "",
                                                        "1999"]
    # UK financial year: April to March
    assert cc.period_labels(months, "financial_year").tolist() == [
        "2015/16", "2016/17", "2016/17", "2017/18", "", "1999/00"]
    with pytest.raises(CompositeIndexError, match="Unknown period"):
        cc.period_labels(months, "week")


# ---- listing --------------------------------------------------------------------------------
def test_list_zip_selects_street_files_and_counts_the_rest(tmp_path):
    path = wy_zip(tmp_path, {
        "2016-07/2016-07-west-yorkshire-outcomes.csv": b"a,b\n1,2\n",
        "2016-07/2016-07-west-yorkshire-stop-and-search.csv": b"a,b\n1,2\n",
        "2017-07/2017-07-north-yorkshire-street.csv": b"Crime ID\n",
        "README.txt": b"hello",
    })
    listing = pu.list_archive(path)
    assert listing.kind == "zip"
    assert [(f.month, f.force) for f in listing.files] == [
        ("2016-07", "west-yorkshire"), ("2017-07", "north-yorkshire"),
        ("2017-07", "west-yorkshire")]
    assert listing.skipped["outcomes / stop-and-search file(s)"] == 2
    assert listing.skipped["other file(s)"] == 1
    only_wy = pu.list_archive(path, forces="West Yorkshire")
    assert [f.force for f in only_wy.files] == ["west-yorkshire"] * 2
    assert only_wy.skipped["street file(s) of other forces"] == 1
    one = pu.list_archive(path, months=["2017-01", "2017-12"], forces=["west-yorkshire"])
    assert [f.name for f in one.files] == ["2017-07/2017-07-west-yorkshire-street.csv"]
    assert one.skipped["street file(s) outside the months"] == 1
    assert one.skipped["street file(s) of other forces"] == 1
    assert one.missing_months()[:2] == ["2017-01 west-yorkshire", "2017-02 west-yorkshire"]
    assert len(one.missing_months()) == 11
    assert "1 street file(s) selected" in one.describe()


def test_list_folder_any_depth_and_single_file(tmp_path):
    root = tmp_path / "download" / "unzipped"
    for m in MONTHS:
        (root / m).mkdir(parents=True)
        shutil.copy(street(m), root / m)
    listing = pu.list_archive(str(tmp_path / "download"))
    assert listing.kind == "folder"
    assert [f.name for f in listing.files] == [
        f"unzipped/{m}/{m}-west-yorkshire-street.csv" for m in MONTHS]
    single = pu.list_archive(street("2016-07"))
    assert single.kind == "file" and [f.month for f in single.files] == ["2016-07"]


def test_list_errors_are_clear(tmp_path):
    with pytest.raises(CompositeIndexError, match="does not exist"):
        pu.list_archive(str(tmp_path / "nothing.zip"))
    empty = make_zip(tmp_path / "e.zip", {"notes.txt": b"x"})
    with pytest.raises(CompositeIndexError, match="No police.uk street-level file"):
        pu.list_archive(empty)
    path = wy_zip(tmp_path)
    with pytest.raises(CompositeIndexError, match="holds months 2016-07 to 2017-07"):
        pu.list_archive(path, months="2018-01,2018-12")
    twice = make_zip(tmp_path / "twice.zip", {
        "a/2016-07/2016-07-west-yorkshire-street.csv": street("2016-07"),
        "b/2016-07/2016-07-west-yorkshire-street.csv": street("2016-07")})
    with pytest.raises(CompositeIndexError, match="two street files for west-yorkshire in 2016-07"):
        pu.list_archive(twice)


# ---- import: the two real months ------------------------------------------------------------
def test_import_archive_two_months_as_two_periods(tmp_path):
    res = pu.import_archive(wy_zip(tmp_path), options())
    expected = {m: independent(m) for m in MONTHS}
    n_in = sum(e[0] for e in expected.values())
    assert res.n_in == n_in == 27176 + 28537
    assert res.n_clean + res.n_rejected == n_in
    # police.uk rows without coordinates are the only rejections in these two months
    assert res.n_clean == sum(e[1] for e in expected.values()) == 25829 + 26996
    assert res.counts["no_coordinates"] == n_in - res.n_clean
    per_period = res.clean.groupby("period").size().to_dict()
    assert per_period == {m: expected[m][1] for m in MONTHS}
    for m in MONTHS:
        got = Counter(res.clean.loc[res.clean["period"] == m, "Crime type"])
        assert got == expected[m][2], m
    assert set(res.rejected["period"]) == set(MONTHS)
    # rows in = clean + rejected per file, in the report and per_source_counts
    rows = pu.per_source_counts(res)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (f"{m}/{m}-west-yorkshire-street.csv", expected[m][0], expected[m][1]) for m in MONTHS]
    html = cc.report_html(res, sources=None)
    assert "<h2>Per period</h2>" in html and "2017-07" in html
    assert "<th>month</th><th>force</th>" in html


def test_import_archive_financial_years_and_a_month_range(tmp_path):
    path = wy_zip(tmp_path)
    opts = options()
    opts.period = "financial_year"
    res = pu.import_archive(path, opts)
    assert res.clean.groupby("period").size().to_dict() == {"2016/17": 25829, "2017/18": 26996}
    res = pu.import_archive(path, options(), months=("2017-01", "2017-12"))
    assert res.n_in == 28537 and set(res.clean["period"]) == {"2017-07"}


def test_period_follows_the_file_and_month_mismatches_are_noted(tmp_path):
    text = open(street("2016-07"), encoding="utf-8").read().splitlines()
    # the first data row says 2016-06 although it sits in the 2016-07 file
    text[1] = text[1].replace(",2016-07,", ",2016-06,", 1)
    path = make_zip(tmp_path / "odd.zip", {
        "2016-07/2016-07-west-yorkshire-street.csv": ("\n".join(text) + "\n").encode()})
    res = pu.import_archive(path, options())
    assert set(res.clean["period"]) == {"2016-07"}
    assert any("1 row(s) have a Month in another month than their file" in n for n in res.notes)


def test_input_column_named_period_is_kept_as_period_orig(tmp_path):
    text = open(street("2016-07"), encoding="utf-8").read().splitlines()[:4]
    text = [text[0] + ",period"] + [t + ",Q3" for t in text[1:]]
    path = make_zip(tmp_path / "p.zip", {
        "2016-07/2016-07-west-yorkshire-street.csv": ("\n".join(text) + "\n").encode()})
    res = pu.import_archive(path, options())
    cols = list(res.clean.columns) + list(res.rejected.columns)
    assert "period_orig" in cols
    both = list(res.clean["period_orig"]) + list(res.rejected["period_orig"])
    assert both == ["Q3"] * 3
    assert list(res.clean["period"]) + list(res.rejected["period"]) == ["2016-07"] * 3


def test_folder_and_zip_give_the_same_result(tmp_path):
    root = tmp_path / "folder"
    for m in MONTHS:
        (root / m).mkdir(parents=True)
        shutil.copy(street(m), root / m)
    a = pu.import_archive(wy_zip(tmp_path), options())
    b = pu.import_archive(str(root), options())
    assert (a.n_in, a.n_clean) == (b.n_in, b.n_clean)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert a.clean["period"].tolist() == b.clean["period"].tolist()


def test_study_buffer_keeps_points_and_marks_them():
    """The in_study contract: (inside incl. buffer, inside only thanks to the buffer)."""
    frame = cc.combine_tables([(cc.read_table(street("2016-07"))[0], "m")])
    opts = options()

    def in_study(x, y):  # longitudes here (no transform): west of -1.6, buffer 0.01 degree
        inside = x < -1.6
        saved = (x >= -1.6) & (x < -1.59)
        return inside | saved, saved

    res = cc.cleanse(frame, opts, in_study=in_study)
    kept = (res.clean["fixes"] == "in_study_buffer").to_numpy()
    assert res.fixed["in_study_buffer"] == int(kept.sum()) > 0
    assert ((res.x[kept] >= -1.6) & (res.x[kept] < -1.59)).all()
    assert (res.x[~kept] < -1.6).all() and (res.x < -1.59).all()
    assert res.counts["outside_study_area"] > 0


# ---- areas from small-area names --------------------------------------------------------------
def test_area_of_name_strips_the_lsoa_and_msoa_ending():
    got = pu.area_of_name(["Leeds 001A", "Kingston upon Hull 012B", "Leeds 001", None, "",
                           "County Durham 001A ", "Westminster"])
    assert got.tolist() == ["Leeds", "Kingston upon Hull", "Leeds", "", "", "County Durham",
                            "Westminster"]


def test_areas_holding_the_crimes_of_west_yorkshire():
    """The five districts of West Yorkshire and nothing else, from the crimes' own LSOA names
    (counted independently with the csv module)."""
    for month in MONTHS:
        with open(street(month), encoding="utf-8", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["Longitude"].strip()]
        kept, dropped = pu.areas_holding([r["LSOA name"] for r in rows])
        assert sorted(kept) == ["Bradford", "Calderdale", "Kirklees", "Leeds", "Wakefield"]
        want = Counter(r["LSOA name"].rsplit(" ", 1)[0] for r in rows)
        assert kept == {k: want[k] for k in kept}
        assert sum(kept.values()) + sum(dropped.values()) == len(rows)
        assert max(dropped.values()) / len(rows) < 0.002
    assert sum(dropped.values()) == 9  # July 2017: 9 rows in Harrogate, Oldham, Barnsley, Craven
    with pytest.raises(CompositeIndexError, match="no study area"):
        pu.areas_holding(["", None])
