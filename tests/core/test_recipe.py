"""The recipe validator reports every problem at once, each with its path and a fix."""
import copy
import json

import pytest

from composite_index_plugin.core import model
from composite_index_plugin.core import recipe as rcp

GOOD = {
    "recipe_version": 1,
    "name": "Test",
    "crs": "EPSG:27700",
    "study_area": {"source": {"path": "b.gpkg", "layer": "study_area"}},
    "geography": {"type": "grid", "shape": "hexagon_flat", "size": 400},
    "population": {"source": {"path": "b.gpkg", "layer": "lsoa21"}, "field": "population"},
    "themes": [
        {"name": "acquisitive", "issues": [
            {"name": "burglary", "roles": {
                "victims": {"source": {"path": "p.gpkg", "layer": "v"}, "measure": "eb_rate",
                            "per": 1000},
                "locations": {"source": {"path": "p.gpkg", "layer": "l"}, "weight": 2,
                              "weight_field": "harm"}}}]},
        {"name": "violence", "weight": 2, "issues": [
            {"name": "robbery", "roles": {
                "offenders": {"source": {"path": "p.gpkg", "layer": "o"},
                              "filter": "\"issue\" = 'robbery'"}}}]},
    ],
    "admin_areas": {"source": {"path": "b.gpkg", "layer": "constituencies"}, "name_field": "Cnsttnc"},
}


def problems(recipe):
    return {(p.path, p.message) for p in rcp.validate_recipe(recipe)}


def paths(recipe):
    return sorted(p.path for p in rcp.validate_recipe(recipe))


def test_good_recipe_has_no_problem():
    assert rcp.validate_recipe(GOOD) == []


def test_every_problem_is_reported_at_once():
    bad = copy.deepcopy(GOOD)
    bad["colour"] = "red"                                            # unknown key
    bad["geography"]["size"] = 0                                     # size <= 0
    bad["geography"]["shape"] = "triangle"                           # unknown shape
    bad["themes"][0]["issues"][0]["roles"]["victims"]["measure"] = "ratez"   # unknown method
    bad["themes"][0]["issues"][0]["roles"]["locations"]["weight"] = -1      # negative weight
    bad["themes"][1]["issues"][0]["name"] = "Robbery!"               # not a field-safe name
    bad["themes"][1]["weight"] = "two"                               # wrong type
    got = paths(bad)
    assert got == sorted([
        "colour", "geography.size", "geography.shape",
        "themes[0].issues[0].roles.victims.measure",
        "themes[0].issues[0].roles.locations.weight",
        "themes[1].issues[0].name", "themes[1].weight"])


def test_messages_say_what_to_do():
    bad = copy.deepcopy(GOOD)
    bad["themes"][0]["issues"][0]["roles"]["victims"]["scaling"] = "zscores"
    (p,) = rcp.validate_recipe(bad)
    assert p.path == "themes[0].issues[0].roles.victims.scaling"
    assert "zscores" in p.message and "zscore" in p.hint and "minmax" in p.hint


def test_weights_summing_to_zero():
    bad = copy.deepcopy(GOOD)
    for theme in bad["themes"]:
        theme["weight"] = 0
    assert ("themes", "the weights of the themes sum to zero") in problems(bad)
    bad = copy.deepcopy(GOOD)
    for role in bad["themes"][0]["issues"][0]["roles"].values():
        role["weight"] = 0
    assert ("themes[0].issues[0].roles", "the weights of the roles sum to zero") in problems(bad)


def test_missing_and_wrong_types():
    bad = copy.deepcopy(GOOD)
    del bad["themes"][0]["issues"][0]["roles"]["victims"]["source"]
    bad["geography"] = {"type": "grid"}
    bad["themes"][1]["issues"] = []
    bad["recipe_version"] = 2
    got = paths(bad)
    assert got == sorted(["themes[0].issues[0].roles.victims.source", "geography.size",
                          "themes[1].issues", "recipe_version"])


def test_unknown_role_and_duplicate_issue():
    bad = copy.deepcopy(GOOD)
    bad["themes"][1]["issues"][0]["roles"]["witnesses"] = {"source": {"path": "x"}}
    bad["themes"][1]["issues"].append(copy.deepcopy(GOOD["themes"][0]["issues"][0]))
    got = problems(bad)
    assert any(p == "themes[1].issues[0].roles.witnesses" for p, _ in got)
    assert ("themes[1].issues[1].name",
            "name 'burglary' is used twice (also by the issue at themes[0].issues[0])") in got


def test_rate_without_population_needs_a_denominator():
    bad = copy.deepcopy(GOOD)
    del bad["population"]
    assert paths(bad) == ["themes[0].issues[0].roles.victims.denominator"]


def test_source_needs_exactly_one_kind():
    bad = copy.deepcopy(GOOD)
    bad["study_area"]["source"] = {"path": "a.gpkg", "uri": "dbname=x"}
    bad["admin_areas"]["source"] = {"layer": "x"}
    assert paths(bad) == ["admin_areas.source", "study_area.source"]


def test_not_an_object_at_all():
    assert paths([1, 2]) == ["$"]


def test_bad_json_names_line_and_column(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"recipe_version": 1,\n "themes": [}\n')
    with pytest.raises(rcp.RecipeError) as err:
        rcp.load_recipe(str(path))
    assert "line 2" in str(err.value) and "column" in str(err.value)


def test_relative_paths_resolve_against_the_recipe_folder(tmp_path):
    assert rcp.resolve_path("data/x.gpkg", "/a/b") == "/a/b/data/x.gpkg"
    assert rcp.resolve_path("/abs/x.gpkg", "/a/b") == "/abs/x.gpkg"


def test_index_spec_reads_the_roles_count_fields():
    recipe, problems = model.parse(GOOD)
    assert problems == []
    spec = recipe.index_spec()
    fields = {(issue.name, key): (column, m.engine_options(column))
              for _t, issue, key, m, column in spec.measured()}
    column, options = fields[("burglary", "victims")]
    assert column == "burglary_victims" and options["denominator"] == "population"
    assert options["per"] == 1000                                    # default of a rate
    column, options = fields[("burglary", "locations")]
    assert column == "burglary_locations_w"                          # weighted
    assert options["weight"] == 2 and options["scaling"] == "zscore"  # default
    assert spec.themes[1].weight == 2
    text = json.dumps(recipe.index_spec_dict())
    assert "source" not in text and "filter" not in text and '"weight_field": "harm"' in text
