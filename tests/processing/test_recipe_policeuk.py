"""The recipe runner on a police.uk archive (issue 17): months of the archive as periods, every
issue of a category field counted in one aggregatepat call per role source (counts identical to
one call per issue), population from a table keyed by LSOA code, and a study-area buffer the grid
covers; problems of these keys found before any work. Real data: the two West Yorkshire months,
zipped at test time in the police.uk archive layout; expected counts from an independent
implementation (tests/policeuk_reference.py)."""
import copy
import json
import shutil

import numpy as np
import pytest
from osgeo import ogr
from qgis.core import QgsProcessingContext, QgsProcessingFeedback

from tests import policeuk_reference as ref

ISSUES = ("burglary", "robbery", "vehicle_crime", "violence_sexual_offences", "drugs",
          "anti_social_behaviour", "public_order")


def _recipe(category=True, **changes):
    source = {"path": "policeuk.zip", "import": {"preset": "police.uk",
                                                 "months": ["2016-07", "2017-07"]}}

    def role(issue):
        if category:
            return {"source": copy.deepcopy(source), "category_field": "issue"}
        return {"source": copy.deepcopy(source), "filter": f"\"issue\" = '{issue}'"}

    doc = {
        "recipe_version": 1,
        "name": "West Yorkshire",
        "crs": "EPSG:27700",
        "study_area": {"source": {"path": "lsoa11.geojson"}, "buffer": 50},
        "geography": {"type": "grid", "shape": "hexagon_flat", "size": 1000},
        "population": {"source": {"path": "lsoa11.geojson"}, "source_key": "LSOA11CD",
                       "table": {"path": "census.csv"}, "table_key": "LSOA Code",
                       "table_field": "Persons"},
        "themes": [{"name": "crime", "issues": [
            {"name": i, "roles": {"locations": role(i)}} for i in ISSUES]}],
    }
    doc.update(changes)
    return doc


@pytest.fixture(scope="module")
def folder(provider, tmp_path_factory):
    path = tmp_path_factory.mktemp("policeuk_recipe")
    ref.make_archive(str(path / "policeuk.zip"))
    shutil.copy(ref.LSOA, path / "lsoa11.geojson")
    shutil.copy(ref.CENSUS, path / "census.csv")
    return path


def _runner(folder, doc, name):
    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    path = folder / f"{name}.json"
    doc = dict(doc, output={"folder": f"out_{name}"})
    path.write_text(json.dumps(doc))
    return RecipeRunner(str(path), QgsProcessingContext(), QgsProcessingFeedback())


def _run_stages(runner, stages):
    """Run some stages of a recipe (as RecipeRunner.run does), counting the child algorithms."""
    import os

    calls = []
    original = runner.run_child

    def counted(alg_id, params, feedback):
        calls.append(alg_id)
        return original(alg_id, params, feedback)

    runner.run_child = counted
    assert runner.check_data() == []
    os.makedirs(runner.folder, exist_ok=True)
    for stage in stages:
        getattr(runner, f"stage_{stage}")(runner.log)
    return calls


def _sums(uri, fields):
    path, layer = uri.split("|layername=")
    ds = ogr.Open(path)
    lyr = ds.GetLayerByName(layer)
    out = {f: [] for f in fields}
    for feature in lyr:
        for f in fields:
            out[f].append(feature.GetField(f))
    return {f: np.array(v, dtype=float) for f, v in out.items()}


@pytest.fixture(scope="module")
def runs(folder):
    """The same recipe with a category field (one pass) and with one filter per issue."""
    out = {}
    for name, category in (("one_pass", True), ("per_issue", False)):
        runner = _runner(folder, _recipe(category), name)
        try:
            calls = _run_stages(runner, ("import", "geography", "population", "aggregate"))
            out[name] = (calls, dict(runner.layers), list(runner.log.lines))
        finally:
            runner.release()
    return out


def test_one_pass_is_one_call_per_source_and_equals_one_call_per_issue(runs):
    fields = [f"{i}_locations" for i in ISSUES]
    calls, layers, log = runs["one_pass"]
    assert calls.count("compositeindex:aggregatepat") == 1
    assert calls.count("compositeindex:importincidents") == 1     # one archive, imported once
    assert any(f"Aggregating {len(ISSUES)} issue(s) in one pass" in line for line in log)
    per_calls, per_layers, _log = runs["per_issue"]
    assert per_calls.count("compositeindex:aggregatepat") == len(ISSUES)
    one = _sums(layers["aggregated"], fields)
    per = _sums(per_layers["aggregated"], fields)
    for f in fields:
        np.testing.assert_array_equal(one[f], per[f], err_msg=f)


def test_counts_per_issue_and_period_equal_an_independent_count(runs):
    """Both months, imported from the ZIP in one call, are two periods; every crime inside the
    study area and its 50 m buffer is counted (the grid covers the buffer)."""
    expected = ref.crimes_inside()
    _calls, layers, log = runs["one_pass"]
    counts = _sums(layers["aggregated"], [f"{i}_locations" for i in ISSUES])
    for issue in ISSUES:
        assert counts[f"{issue}_locations"].sum() == (expected["issue"] == issue).sum(), issue
    path, name = layers["clean_policeuk"].split("|layername=")
    ds = ogr.Open(path)
    periods = {}
    for feature in ds.GetLayerByName(name):
        periods[feature.GetField("period")] = periods.get(feature.GetField("period"), 0) + 1
    assert periods == expected.groupby("month").size().to_dict()
    assert len(periods) == 2
    assert any("months 2016-07 to 2017-07 (the import's months)" in line for line in log)
    assert any("fall in cells" in line for line in log)


def test_population_from_the_census_table_by_code(runs):
    _calls, layers, log = runs["one_pass"]
    pop = _sums(layers["zones_population"], ["population"])["population"]
    assert pop.sum() == pytest.approx(ref.population_total(), abs=1e-3)
    assert any("1,388 'Persons' value(s) stored as text were read as numbers" in line
               for line in log)


def test_the_grid_covers_the_buffer(runs):
    """With study_area.buffer the grid has the cells of the buffer ring too; without it the
    grid is the study area's."""
    _calls, layers, _log = runs["one_pass"]
    path, name = layers["zones"].split("|layername=")
    ds = ogr.Open(path)   # kept: OGR layers die with their data source
    with_buffer = ds.GetLayerByName(name).GetFeatureCount()
    import processing

    plain = processing.run("compositeindex:creategrid", {
        "STUDY_AREA": ref.LSOA, "SHAPE": 1, "SIZE": 1000, "TARGET_CRS": "EPSG:27700",
        "OUTPUT": "TEMPORARY_OUTPUT"}, context=QgsProcessingContext(),
        feedback=QgsProcessingFeedback())
    assert with_buffer > plain["CELLS"]


def test_months_follow_the_recipe_period(folder):
    doc = _recipe(period="2017-07")
    for theme in doc["themes"]:
        for issue in theme["issues"]:
            del issue["roles"]["locations"]["source"]["import"]["months"]
    runner = _runner(folder, doc, "period")
    try:
        imp = runner.recipe.themes[0].issues[0].roles["locations"].source.get("import")
        assert runner.archive_months(imp) == (("2017-07", "2017-07"),
                                              "the recipe's period '2017-07'")
        runner.recipe.period = "Summer"
        assert runner.archive_months(imp) == (None, "every month of the archive")
        imp.months = ["2016-07"]
        assert runner.archive_months(imp) == (("2016-07", "2016-07"), "the import's months")
    finally:
        runner.release()


def test_problems_of_the_new_keys_before_any_work(folder):
    doc = _recipe()
    issues = doc["themes"][0]["issues"]
    issues[0]["roles"]["locations"] = {
        "source": {"path": "policeuk.zip", "import": {"preset": "police.uk",
                                                      "months": ["2019-01", "2019-12"]}},
        "category_field": "issue"}
    issues[1]["roles"]["locations"]["category_field"] = "kind"         # not a field
    issues[2]["name"] = "car_crime"                                    # not a preset issue
    issues[2]["roles"]["locations"] = {"source": {"path": "lsoa11.geojson"},
                                       "category_field": "LSOA11NM",
                                       "category_preset": "police.uk"}
    doc["population"]["table_field"] = "People"
    doc["crs"] = "EPSG:4326"
    runner = _runner(folder, doc, "problems")
    try:
        found = {p.path: p for p in runner.check_data()}
    finally:
        runner.release()
    base = "themes[0].issues[{}].roles.locations"
    months = found[base.format(0) + ".source.import.months"]
    assert "matches months 2019-01 to 2019-12" in months.message
    assert "2016-07 to 2017-07" in months.hint
    kind = found[base.format(1) + ".category_field"]
    assert kind.message == "field 'kind' not found in policeuk.zip"
    assert "Crime type" in kind.hint and "period" in kind.hint and "issue" in kind.hint
    car = found[base.format(2) + ".category_preset"]
    assert car.message == "no category maps to the issue 'car_crime', so this role would " \
                          "count nothing"
    assert "vehicle_crime" in car.hint
    assert "field 'People' not found" in found["population.table_field"].message
    assert "is a geographic CRS" in found["crs"].message         # a 50 m buffer in degrees
    assert len(found) == 5
