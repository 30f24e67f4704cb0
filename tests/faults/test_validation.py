"""Validate before starting (issue 15): numbers with their allowed range, the grid's cells by
arithmetic, filters parsed and their fields checked, ragged and malformed CSV rows rejected with
their reason, stray bytes reported, negative or text weights refused, unknown import keys,
field names a format cannot hold, JSON nested too deeply."""
import json
import os

import pytest
from qgis.core import QgsProcessingException

from composite_index_plugin.core import cleanse as cc
from composite_index_plugin.core import limits, model
from composite_index_plugin.core.errors import RecipeError
from composite_index_plugin.qgis_compat import field_type
from tests.faults.helpers import SAMPLE, problems_of, run_recipe, small_recipe, write_recipe

STUDY = f"{SAMPLE}|layername=study_area"
LSOA = f"{SAMPLE}|layername=lsoa21"


def _run(alg, params):
    import processing

    return processing.run(f"compositeindex:{alg}", params)


def _refused(alg, params):
    with pytest.raises(QgsProcessingException) as err:
        _run(alg, params)
    return str(err.value)


# ------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("params,words", [
    ({"SIZE": float("nan")}, ["SIZE", "finite"]),
    ({"SIZE": float("inf")}, ["SIZE", "finite"]),
    ({"SIZE": "inf"}, ["SIZE", "finite"]),
    ({"SIZE": 0}, ["SIZE", "positive"]),
    ({"SIZE": -250}, ["SIZE", "positive"]),
    ({"ORIGIN_X": float("nan")}, ["ORIGIN_X", "finite"]),
    ({"ORIGIN_Y": 1e300}, ["grid origin", "cell numbers must stay within"]),
    ({"MAX_CELLS": 0}, ["MAX_CELLS", "at least 1"]),
    ({"MAX_CELLS": 2.5}, ["MAX_CELLS", "whole number"]),
])
def test_grid_numbers_refused_with_the_allowed_range(params, words):
    text = _refused("creategrid", dict({"STUDY_AREA": STUDY, "SIZE": 500,
                                        "OUTPUT": "TEMPORARY_OUTPUT"}, **params))
    for word in words:
        assert word in text, text
    assert "Traceback" not in text


@pytest.mark.parametrize("size,area", [(1e-6, False), (1e-9, True)])
def test_a_grid_too_fine_is_refused_by_arithmetic(size, area):
    """SIZE=1e-6 asked numpy for 189 GiB; SIZE_IS_AREA=1 SIZE=1e-9 was killed at 23 GB. Both are
    refused before any array exists, with the count, the memory and a size that fits."""
    import tracemalloc

    tracemalloc.start()               # counts Python's and numpy's allocations of this run only
    try:
        text = _refused("creategrid", {"STUDY_AREA": STUDY, "SIZE": size, "SIZE_IS_AREA": area,
                                       "OUTPUT": "TEMPORARY_OUTPUT"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "more than the limit of 5,000,000" in text and "of memory" in text
    assert "Give a cell size of at least" in text
    assert peak < 50_000_000          # no per-row or per-cell array was built


def test_cells_by_arithmetic_match_the_lattice():
    # 10 km x 5 km, 1 km squares from the origin: 10 x 5 cells plus the row and column that a
    # box edge on a lattice line can touch -> an upper bound of 12 x 7
    assert limits.cells_in_box("square", 1000, (0, 0, 10000, 5000)) == 12 * 7
    assert limits.grid_problem("square", 1000, (0, 0, 10000, 5000), max_cells=100) is None
    text = limits.grid_problem("square", 10, (0, 0, 10000, 5000), max_cells=1000)
    assert "would make 500,000 cells" in text or "would make 501" in text   # exact count
    assert limits.grid_problem("square", float("nan"), (0, 0, 1, 1)).endswith("not nan.")


@pytest.mark.parametrize("alg,params,words", [
    ("hotspots", {"K": 0, "NEIGHBOURHOOD": 1}, ["K", "between 1 and"]),
    ("hotspots", {"DISTANCE": -100}, ["DISTANCE", "at least 0"]),
    ("hotspots", {"PERMUTATIONS": float("nan")}, ["PERMUTATIONS", "finite"]),
    ("aggregatepat", {"KDE_BANDWIDTH": -50}, ["KDE_BANDWIDTH", "at least 0"]),
    ("aggregatepat", {"KDE_BANDWIDTH": float("inf")}, ["KDE_BANDWIDTH", "finite"]),
])
def test_other_numbers_refused_with_the_allowed_range(alg, params, words):
    base = {"hotspots": {"INPUT": LSOA, "FIELD": "IMD_score", "OUTPUT": "TEMPORARY_OUTPUT"},
            "aggregatepat": {"ZONES": LSOA, "LOCATIONS": LSOA, "OUTPUT": "TEMPORARY_OUTPUT"}}[alg]
    text = _refused(alg, dict(base, **params))
    for word in words:
        assert word in text, text
    assert "Incorrect parameter value" not in text.replace("Unable to execute algorithm", "")


def test_the_recipe_grid_is_checked_before_the_run(recipe_dir):
    path = write_recipe(recipe_dir, small_recipe(
        geography={"type": "grid", "shape": "square", "size": 1, "size_is_area": True}))
    found = problems_of(path)
    assert "geography.size" in found and "more than the limit" in found["geography.size"].message


# ------------------------------------------------------------------------------- filters
def test_an_unparseable_filter_is_refused_not_dropped():
    """QGIS 3.22 answers '' for a filter it cannot parse: every point was counted."""
    text = _refused("aggregatepat", {"ZONES": LSOA, "LOCATIONS": LSOA,
                                     "LOCATIONS_FILTER": "\"IMD_decile\" = = 1",
                                     "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "Locations filter" in text and "invalid expression" in text


def test_a_filter_on_a_missing_field_is_refused():
    """A filter on a field the layer does not have counted 0 with no word."""
    text = _refused("aggregatepat", {"ZONES": LSOA, "LOCATIONS": LSOA,
                                     "LOCATIONS_FILTER": "\"decile\" = 1",
                                     "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "unknown field(s) decile" in text and "IMD_decile" in text


# ------------------------------------------------------------------------------- weights
def _points(tmp_path, weights, kind="Real"):
    from osgeo import ogr, osr

    path = str(tmp_path / "pts.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(27700)
    layer = ds.CreateLayer("pts", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("w", ogr.OFTReal if kind == "Real" else ogr.OFTString))
    for i, w in enumerate(weights):
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetField("w", w)
        f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT({406000 + 100 * i} {287000})"))
        layer.CreateFeature(f)
    ds = None
    return path


def test_negative_weights_are_refused(tmp_path):
    pts = _points(tmp_path, [1.0, -2.5, 3.0, -1.0])
    text = _refused("aggregatepat", {"ZONES": LSOA, "VICTIMS": pts, "VICTIMS_WEIGHT": "w",
                                     "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "2 point(s) have a negative 'w'" in text and "-2.5" in text


def test_a_text_field_as_the_weight_is_refused(tmp_path):
    pts = _points(tmp_path, ["high", "low", "medium"], kind="String")
    text = _refused("aggregatepat", {"ZONES": LSOA, "VICTIMS": pts, "VICTIMS_WEIGHT": "w",
                                     "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "is a text field with no number in it" in text and "'high'" in text


def test_a_text_field_as_the_hotspot_value_is_refused():
    text = _refused("hotspots", {"INPUT": LSOA, "FIELD": "LSOA21NM", "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "LSOA21NM" in text and "Traceback" not in text


# ------------------------------------------------------------------------------- CSV rows
def _csv(tmp_path, text, name="in.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def test_a_ragged_first_row_no_longer_shifts_every_column(tmp_path):
    """pandas took the first column of a longer first row as an index: every value moved one
    column left. The row is rejected as malformed_row; the others keep their columns."""
    path = _csv(tmp_path, "ref,easting,northing\n1,430000,433000,extra\n2,431000,434000\n"
                          "3,432000,435000\n")
    res = cc.import_tables([path], cc.CleanseOptions(x_field="easting", y_field="northing"))
    assert res.clean["ref"].tolist() == ["2", "3"]
    assert res.x.tolist() == [431000.0, 432000.0]
    assert res.counts["malformed_row"] == 1
    assert res.rejected["reject_detail"].tolist() == ["4 fields, the header has 3; extra: 'extra'"]


def test_short_and_long_rows_go_to_the_rejects_with_their_reason(tmp_path):
    path = _csv(tmp_path, "ref,easting,northing\n1,430000,433000\n2,431000\n"
                          "3,432000,435000,x,y\n\n4,433000,436000\n")
    res = cc.import_tables([path], cc.CleanseOptions(x_field="easting", y_field="northing"))
    assert (res.n_in, res.n_clean, res.n_rejected) == (4, 2, 2)
    assert dict(zip(res.rejected["ref"], res.rejected["reject_detail"])) == {
        "2": "2 field(s), the header has 3", "3": "5 fields, the header has 3; extra: 'x,y'"}
    assert res.rejected["source_row"].tolist() == [2, 3]
    assert cc.ROW_PROBLEM not in res.clean.columns and cc.ROW_PROBLEM not in res.rejected.columns


def test_a_file_whose_rows_all_disagree_with_the_header_is_an_error(tmp_path):
    path = _csv(tmp_path, "a,b\n1,2,3\n4,5,6\n")
    with pytest.raises(Exception) as err:
        cc.read_table(path)
    assert "no row has as many fields as the header" in str(err.value)


def test_ragged_rows_through_the_algorithm(tmp_path):
    path = _csv(tmp_path, "ref,easting,northing\n1,410000,285000,9\n2,410100,285100\n")
    res = _run("importincidents", {"INPUT": [path], "SOURCE_CRS": "EPSG:27700",
                                   "CLEAN": "TEMPORARY_OUTPUT", "REJECTED": "TEMPORARY_OUTPUT",
                                   "REPORT": ""})
    assert (res["ROWS_IN"], res["CLEAN_COUNT"], res["REJECTED_COUNT"]) == (2, 1, 1)


def test_a_stray_byte_is_reported_with_its_line(tmp_path):
    """A UTF-8 file with one stray byte was read as Windows-1252 (every accented letter garbled)
    or the byte replaced silently: it stays UTF-8 and the byte is reported with its line."""
    text = "ref,easting,northing,place\n1,430000,433000,Café\n2,431000,434000,Saint-Étienne\n"
    raw = text.encode("utf-8").replace(b"2,431000", b"2\xff,431000")
    frame, info = cc.read_table(_csv(tmp_path, raw))
    assert info["encoding"] == "utf-8"
    assert frame["place"].tolist() == ["Café", "Saint-Étienne"]
    assert frame["ref"].tolist()[1] == "2\ufffd"
    assert any("line 3 (byte 0xff)" in note for note in info["notes"]), info["notes"]


def test_bytes_the_given_encoding_cannot_read_are_reported(tmp_path):
    path = _csv(tmp_path, b"ref,x,y\n1,2,3\n\x81,4,5\n")
    _, info = cc.read_table(path, encoding="cp1252")
    assert any("line 3 (byte 0x81)" in note and "cp1252" in note for note in info["notes"])
    _, clean_info = cc.read_table(_csv(tmp_path, "ref,x\n1,2\n", "ok.csv"))
    assert clean_info["notes"] == []


def test_a_cp1252_file_is_still_read_as_cp1252(tmp_path):
    path = _csv(tmp_path, "ref,place\n1,£5 Café\n", encoding="cp1252")
    frame, info = cc.read_table(path)
    assert info["encoding"] == "cp1252" and frame["place"].tolist() == ["£5 Café"]
    assert info["notes"] == []


# ------------------------------------------------------------------------------- the recipe
def test_unknown_import_keys_are_refused():
    """A misspelt duplicate_field kept 48 duplicates."""
    recipe = small_recipe()
    recipe["themes"][0]["issues"][0]["roles"]["locations"]["source"] = {
        "path": "crimes.csv", "import": {"preset": "police.uk", "duplicate_field": "Crime ID"}}
    problems = {p.path: p for p in model.parse(recipe)[1]}
    where = "themes[0].issues[0].roles.locations.source.import.duplicate_field"
    assert problems[where].message == "is not a known key"
    assert "duplicate_fields" in problems[where].hint


def test_json_nested_too_deeply_is_a_clear_error(tmp_path):
    from composite_index_plugin.core.recipe import load_recipe

    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(RecipeError) as err:
        load_recipe(str(path))
    assert "nested too deeply" in str(err.value)
    deep = {"x": 1}
    for _ in range(300):
        deep = {"x": deep}
    recipe = small_recipe(description=deep)
    problems = {p.path: p for p in model.parse(recipe)[1]}
    assert "must be a non-empty text" in problems["description"].message


def test_a_deep_spec_through_the_algorithm(tmp_path):
    text = _refused("buildindex", {"INPUT": LSOA, "SPEC": "{\"themes\": " + "[" * 100_000
                                   + "]" * 100_000 + "}", "OUTPUT": "TEMPORARY_OUTPUT"})
    assert "nested too deeply" in text


# ------------------------------------------------------------------------------- formats
def test_field_names_too_long_for_postgis_are_refused():
    from qgis.core import QgsField, QgsFields

    from composite_index_plugin.processing import transaction

    fields = QgsFields()
    fields.append(QgsField("burglary_dwelling_and_garages_in_residential_areas_victims_w_kde",
                           field_type("double")))
    with pytest.raises(QgsProcessingException) as err:
        transaction.check_field_names(fields, "postgres://dbname='x' table=\"t\" (geom)")
    assert "63 bytes" in str(err.value)
    with pytest.raises(QgsProcessingException) as err:
        transaction.check_field_names(fields, "/data/out.shp")
    assert "10 characters" in str(err.value)
    transaction.check_field_names(fields, "/data/out.gpkg")


def test_a_2000_column_csv_is_refused_before_anything_is_written(tmp_path):
    """A 2,000-column CSV gave an empty clean layer, exit 0 and 'invariant holds'."""
    header = "x,y," + ",".join(f"c{i}" for i in range(2000))
    rows = "\n".join(f"{410000 + i},{285000 + i}," + ",".join("v" * 1 for _ in range(2000))
                     for i in range(5))
    path = _csv(tmp_path, header + "\n" + rows + "\n")
    out = tmp_path / "out"
    out.mkdir()
    text = _refused("importincidents", {"INPUT": [path], "SOURCE_CRS": "EPSG:27700",
                                        "CLEAN": str(out / "clean.gpkg"),
                                        "REJECTED": str(out / "rejected.gpkg"), "REPORT": ""})
    assert "more than a GeoPackage (SQLite) table can hold" in text
    assert os.listdir(out) == []


def test_a_recipe_on_a_missing_data_file_names_it(recipe_dir):
    recipe = small_recipe()
    recipe["population"]["source"]["path"] = "nowhere.gpkg"
    with pytest.raises(QgsProcessingException) as err:
        run_recipe(write_recipe(recipe_dir, recipe))
    assert "population.source.path: file not found" in str(err.value)


def test_model_round_trip_still_holds_for_the_sample_recipes():
    """The sandbox's checks are on names only: version 1 recipes load unchanged."""
    here = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "recipes")
    for name in ("demo_recipe_2024.json", "demo_recipe_2025.json", "v1_every_key.json"):
        with open(os.path.join(here, name), encoding="utf-8") as handle:
            doc = json.load(handle)
        recipe, problems = model.parse(doc)
        assert problems == [] and recipe.to_dict() == doc, name
