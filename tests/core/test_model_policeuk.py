"""The recipe keys of a police.uk quick start (issue 17): an archive source with months, forces
and a period field; roles counted from a category field (one pass); population from a table
keyed by area code; the study-area buffer; and the months a recipe's period names."""
import copy

import pytest

from composite_index_plugin.core import model, policeuk

ARCHIVE = {"path": "policeuk.zip", "import": {"preset": "police.uk",
                                              "months": ["2018-01", "2018-12"],
                                              "forces": ["west-yorkshire"], "period": "year"}}
DOC = {
    "recipe_version": 1,
    "period": "2018",
    "crs": "EPSG:27700",
    "study_area": {"source": {"path": "areas.gpkg", "layer": "study_area"}, "buffer": 50},
    "geography": {"type": "grid", "size": 250},
    "population": {"source": {"path": "areas.gpkg", "layer": "lsoa"}, "source_key": "LSOA11CD",
                   "table": {"path": "census.csv"}, "table_key": "LSOA Code",
                   "table_field": "Persons"},
    "themes": [{"name": "acquisitive", "issues": [
        {"name": "burglary", "roles": {"locations": {"source": copy.deepcopy(ARCHIVE),
                                                     "category_field": "issue"}}},
        {"name": "robbery", "roles": {"locations": {"source": copy.deepcopy(ARCHIVE),
                                                    "category_field": "Crime type",
                                                    "category_preset": "police.uk"}}}]}],
}


def problems(doc):
    return {p.path: p for p in model.parse(doc)[1]}


def test_the_quick_start_keys_parse_and_round_trip():
    recipe, found = model.parse(DOC)
    assert found == []
    assert recipe.to_dict() == DOC
    imp = recipe.themes[0].issues[0].roles["locations"].source.get("import")
    assert imp.months == ["2018-01", "2018-12"] and imp.forces == ["west-yorkshire"]
    assert imp.period == "year"
    assert recipe.study_area.buffer == 50
    assert recipe.population.table.path == "census.csv" and recipe.population.field is None
    role = recipe.themes[0].issues[1].roles["locations"]
    assert (role.category_field, role.category_preset, role.category_mapping) == \
        ("Crime type", "police.uk", None)


def test_defaults():
    doc = copy.deepcopy(DOC)
    del doc["study_area"]["buffer"]
    for issue in doc["themes"][0]["issues"]:
        del issue["roles"]["locations"]["source"]["import"]["period"]
    recipe, found = model.parse(doc)
    assert found == []
    assert recipe.study_area.buffer is None                   # no grid buffer unless asked
    imp = recipe.themes[0].issues[0].roles["locations"].source.get("import")
    assert imp.period == "month" and imp.study_buffer == 50.0
    role = recipe.themes[0].issues[0].roles["locations"]
    assert role.category_preset == "none"
    plain = recipe.themes[0].issues[0]
    del plain.roles["locations"].category_field
    assert plain.roles["locations"].category_preset is None   # only with a category field


@pytest.mark.parametrize("path,value,where,message", [
    ("months", ["2018-13"], "months[0]", "'2018-13' is not a month"),
    ("months", ["2018-01", "2018", "2019-01"], "months", "must have 1 or 2 months, not 3"),
    ("months", ["2019-01", "2018-12"], "months", "the first month 2019-01 is after the last "
                                                 "2018-12"),
    ("months", "2018-01", "months", "must be a list, not a text"),
    ("forces", [], "forces", "must be a non-empty list"),
    ("period", "quarter", "period", "unknown period 'quarter'"),
])
def test_archive_keys_are_checked(path, value, where, message):
    doc = copy.deepcopy(DOC)
    doc["themes"][0]["issues"][0]["roles"]["locations"]["source"]["import"][path] = value
    found = problems(doc)
    key = f"themes[0].issues[0].roles.locations.source.import.{where}"
    assert list(found) == [key]
    assert found[key].message == message and found[key].hint


def test_category_keys_are_checked():
    doc = copy.deepcopy(DOC)
    role = doc["themes"][0]["issues"][1]["roles"]["locations"]
    role["category_mapping"] = "types.csv"                    # with the preset: one of them
    role["category_preset"] = "police"
    plain = doc["themes"][0]["issues"][0]["roles"]["locations"]
    del plain["category_field"]
    plain["category_mapping"] = "types.csv"                   # no category field
    found = problems(doc)
    base = "themes[0].issues[{}].roles.locations."
    assert found[base.format(1) + "category_preset"].message == "unknown category_preset 'police'"
    assert found[base.format(0) + "category_mapping"].message == "does not apply here"
    assert "category_field" in found[base.format(0) + "category_mapping"].hint
    role["category_preset"] = "police.uk"
    found = problems(doc)
    assert found[base.format(1) + "category_mapping"].message == \
        "a mapping and a preset are given"


def test_population_table_keys():
    doc = copy.deepcopy(DOC)
    del doc["population"]["table_key"], doc["population"]["source_key"]
    doc["population"]["field"] = "Persons"                    # the polygons' field, with a table
    found = problems(doc)
    assert set(found) == {"population.table_key", "population.source_key", "population.field"}
    assert found["population.table_key"].message == "is missing"
    assert found["population.field"].message == "does not apply here"
    doc = copy.deepcopy(DOC)
    del doc["population"]["table"]                            # a table's keys without a table
    found = problems(doc)
    assert found["population.field"].message == "is missing"
    assert "table" in found["population.field"].hint
    assert {"population.table_key", "population.table_field", "population.source_key"} < \
        set(found)


def test_buffer_is_checked():
    doc = copy.deepcopy(DOC)
    doc["study_area"]["buffer"] = -5
    assert problems(doc)["study_area.buffer"].message == "must be at least 0, not -5"


@pytest.mark.parametrize("period,months", [
    ("2018", ("2018-01", "2018-12")),
    ("2018-07", ("2018-07", "2018-07")),
    ("2018/19", ("2018-04", "2019-03")),
    ("2018/2019", ("2018-04", "2019-03")),
    ("2016-07 to 2017-07", ("2016-07", "2017-07")),
    ("2016 to 2017-03", ("2016-01", "2017-03")),
    ({"start": "2018-01-15", "end": "2018"}, ("2018-01", "2018-12")),
    ("2018/20", None), ("Q1", None), ("2019 to 2018", None), ({"start": "2018"}, None),
    ("2018-13", None),
])
def test_months_of_a_period(period, months):
    assert policeuk.months_of_period(period) == months
