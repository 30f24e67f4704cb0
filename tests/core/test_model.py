"""The recipe model: every section checked in one pass, each problem with its path and a fix,
the round trip, the cross-field rules, one declaration per key and one vocabulary."""
import ast
import copy
import json
import os

import pytest

from composite_index_plugin.core import model, schema, vocab
from composite_index_plugin.core.errors import Problem

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GOOD = {
    "recipe_version": 1,
    "name": "Test",
    "study_area": {"source": {"path": "b.gpkg", "layer": "study_area"}},
    "geography": {"type": "grid", "shape": "hexagon_flat", "size": 400},
    "population": {"source": {"path": "b.gpkg", "layer": "lsoa21"}, "field": "population"},
    "themes": [
        {"name": "acquisitive", "issues": [
            {"name": "burglary", "roles": {
                "victims": {"source": {"path": "p.gpkg", "layer": "v"}, "measure": "eb_rate"},
                "locations": {"source": {"path": "p.gpkg", "layer": "l"}}}}]},
        {"name": "violence", "issues": [
            {"name": "robbery", "roles": {
                "locations": {"source": {"path": "p.gpkg", "layer": "l"},
                              "filter": "\"issue\" = 'robbery'"}}}]},
    ],
    "admin_areas": {"source": {"path": "b.gpkg", "layer": "constituencies"}, "name_field": "Cnsttnc"},
}


def problems_of(doc):
    return {p.path: p for p in model.parse(doc)[1]}


def changed(**parts):
    doc = copy.deepcopy(GOOD)
    for path, value in parts.items():
        target = doc
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        target[keys[-1]] = value
    return doc


# ----------------------------------------------------------------------- the issue's examples

def test_good_recipe_parses_and_round_trips():
    recipe, problems = model.parse(GOOD)
    assert problems == []
    assert recipe.to_dict() == GOOD
    assert json.dumps(recipe.to_dict()) == json.dumps(GOOD)   # key order kept too


@pytest.mark.parametrize("section,value,path,message", [
    ("sensitivity", {"runs": "many"}, "sensitivity.runs", "must be a number, not a text"),
    ("layout", 5, "layout", "must be an object, not a number"),
    ("compare", {"previous": "x"}, "compare.previous", "must be a list, not a text"),
    ("gap", {"by": "quintile"}, "gap.by", "unknown by 'quintile'"),
    ("period", 2025, "period", "must be a text or an object, not a number"),
    ("sensitivity", {"scalings": ["zscore", "threshold"]}, "sensitivity.scalings[1]",
     "unknown scaling 'threshold'"),
    ("hotspots", {"permutations": -1}, "hotspots.permutations", "must be at least 0, not -1"),
    ("baseline", {"read": 3}, "baseline.read", "must be a non-empty text, not a number"),
])
def test_sections_that_were_never_checked_are_checked(section, value, path, message):
    doc = changed(**{section: value})
    found = problems_of(doc)
    assert list(found) == [path]
    assert found[path].message == message and found[path].hint


def test_import_keys_are_checked_and_preset_names_accepted():
    role = {"source": {"path": "crimes.csv", "import": {"preset": "police.uk"}}, "filter": "1 = 1"}
    doc = changed(themes__0__issues__0__roles={"locations": role})
    recipe, problems = model.parse(doc)
    assert problems == []
    imp = recipe.themes[0].issues[0].roles["locations"].source.get("import")
    assert vocab.position(vocab.IMPORT_PRESETS, imp.preset) == 1     # the Processing enum
    assert vocab.position(vocab.IMPORT_PRESETS, 1) == 1               # version 1 wrote positions
    role["source"]["import"] = {"preset": "policeuk", "duplicate_field": "Crime ID"}
    found = problems_of(doc)
    base = "themes[0].issues[0].roles.locations.source.import"
    assert set(found) == {f"{base}.preset", f"{base}.duplicate_field"}
    assert "police.uk" in found[f"{base}.preset"].hint
    assert "duplicate_fields" in found[f"{base}.duplicate_field"].hint   # the right spelling
    role["source"] = {"uri": "x", "import": {}}
    assert "themes[0].issues[0].roles.locations.source.import" in problems_of(doc)


def test_theme_and_issue_with_one_name():
    doc = changed(themes__1__name="burglary")
    found = problems_of(doc)
    assert list(found) == ["themes[1].name"]
    assert "also by the issue at themes[0].issues[0]" in found["themes[1].name"].message


def test_geometric_aggregation_over_z_scores():
    doc = changed(aggregation={"issue": "geometric"})
    found = model.parse(doc)[1]
    assert [p.path for p in found] == ["aggregation.issue", "aggregation.issue"]
    assert "issue 'burglary'" in found[0].message and "victims (zscore)" in found[0].message
    doc["themes"][0]["issues"][0]["roles"]["victims"]["scaling"] = "rank"
    doc["themes"][0]["issues"][0]["roles"]["locations"]["scaling"] = "percentile"
    doc["themes"][1]["issues"][0]["aggregation"] = "mean"
    assert model.parse(doc)[1] == []


def test_every_problem_at_once_with_a_hint():
    doc = changed(colour="red", geography={"type": "grid", "size": 0, "shape": "triangle"},
                  hotspots={"neighbourhood": "queen", "k": 4}, output={"folder": ""})
    doc["themes"][0]["issues"][0]["roles"]["victims"]["per"] = 100
    doc["themes"][0]["issues"][0]["roles"]["victims"]["measure"] = "volume"
    found = model.parse(doc)[1]
    assert sorted(p.path for p in found) == [
        "colour", "geography.shape", "geography.size", "hotspots.k", "output.folder",
        "themes[0].issues[0].roles.victims.per"]
    assert all(isinstance(p, Problem) and p.hint for p in found)
    by_path = {p.path: p for p in found}
    assert by_path["hotspots.k"].message == "'k' does not apply to neighbourhood 'queen'"
    assert "knn" in by_path["hotspots.k"].hint


def test_rules_between_sections():
    no_area = changed()
    del no_area["study_area"]
    assert list(problems_of(no_area)) == ["study_area"]
    no_pop = changed()
    del no_pop["population"]
    assert list(problems_of(no_pop)) == ["themes[0].issues[0].roles.victims.denominator"]
    odd = changed(themes__0__issues__0__roles__victims__denominator="households")
    assert "a grid has no field 'households'" in problems_of(odd)[
        "themes[0].issues[0].roles.victims.denominator"].message
    labels = changed(compare={"previous": [{"path": "a.gpkg"}], "labels": ["2024"]})
    assert "1 label(s) for 2 periods" in problems_of(labels)["compare.labels"].message
    zones = changed(geography={"type": "zones", "source": {"path": "lsoa.gpkg"}},
                    sensitivity={"grid_jitter": True})
    del zones["study_area"]
    assert list(problems_of(zones)) == ["sensitivity.grid_jitter"]
    alone = changed(themes=[GOOD["themes"][1]], sensitivity={"runs": 50})
    assert "nothing to vary" in problems_of(alone)["sensitivity"].message
    assert model.parse(changed(themes=[GOOD["themes"][1]], sensitivity={"grid_jitter": True}))[1] == []
    hot = changed(hotspots={"field": "burglary_victim"})
    assert "burglary_victims" in problems_of(hot)["hotspots.field"].hint
    kde = changed(hotspots={"field": "burglary_victims_kde"},
                  themes__0__issues__0__roles__locations__kde_bandwidth=400)
    assert model.parse(kde)[1] == []    # every role of the issue gets a density field
    password = changed(admin_areas={"source": {"uri": "dbname=x password=secret"}})
    assert problems_of(password)["admin_areas.source.uri"].message == "contains a password"


def test_round_trip_keeps_unknown_keys_and_wrong_values():
    doc = changed(colour="red", hotspots={"permutations": "lots"})
    doc["themes"][0]["issues"][0]["roles"]["witnesses"] = {"source": 1}
    recipe, problems = model.parse(doc)
    assert problems and recipe.to_dict() == doc


def test_defaults_and_changes():
    recipe, _ = model.parse(GOOD)
    victims = recipe.themes[0].issues[0].roles["victims"]
    assert (victims.scaling, victims.missing, victims.per, victims.denominator) == \
        ("zscore", "zero", 1000, "population")
    locations = recipe.themes[0].issues[0].roles["locations"]
    assert (locations.measure, locations.per, locations.denominator) == ("volume", None, None)
    assert recipe.hotspots.fdr is True and recipe.sensitivity is None
    recipe.hotspots.permutations = 999              # a change is written back
    recipe.themes[0].issues[0].roles["victims"].unset("measure")
    out = recipe.to_dict()
    assert out["hotspots"] == {"permutations": 999}
    assert "measure" not in out["themes"][0]["issues"][0]["roles"]["victims"]
    assert model.parse(out)[1] == []


def test_options_object_of_version_1_recipes():
    role = {"source": {"path": "p.gpkg"}, "scaling": "minmax_fixed", "options": {"min": 0, "max": 9}}
    doc = changed(themes__0__issues__0__roles={"locations": role})
    recipe, problems = model.parse(doc)
    assert problems == []
    loc = recipe.themes[0].issues[0].roles["locations"]
    assert (loc.min, loc.max, loc.scale_to) == (0, 9, 1)
    role["options"] = {"min": 5, "max": 1}
    assert "must be larger than min" in problems_of(doc)[
        "themes[0].issues[0].roles.locations.max"].message


# ----------------------------------------------------------------------- one declaration

def _all_keys():
    for section in model.SECTIONS:
        for name, key in section.keys().items():
            yield section, name, key


def test_every_key_is_declared_with_a_type_and_help():
    for section, name, key in _all_keys():
        assert key.help, f"{section.__name__}.{name} has no help text"
        assert schema.type_text(key.type)
        assert section.__doc__, section.__name__


def test_every_default_is_a_valid_value():
    """Each declared default passes its own key's checks."""
    for section, name, key in _all_keys():
        if key.default is None or callable(key.default) or key.factory is not None:
            continue
        ctx = schema.Context()
        schema.parse_value(key.type, key, key.default, ctx, name)
        assert ctx.problems == [], (section.__name__, name, ctx.problems)


def test_shared_keys_are_declared_once():
    """Roles and indicators share every index choice (and its default) through Measurement."""
    for name in ("measure", "scaling", "direction", "weight", "missing", "per", "c"):
        assert model.Role.key(name) is model.Indicator.key(name) is model.Measurement.key(name)


# ----------------------------------------------------------------------- one vocabulary

def test_one_vocabulary():
    from composite_index_plugin.core import combine, grid, index, scaling
    from composite_index_plugin.core.method_note import MEASURE_TEXT, SCALING_TEXT

    assert index.MEASURES is vocab.MEASURES and scaling.SCALINGS is vocab.SCALINGS
    assert combine.AGGREGATIONS is vocab.AGGREGATIONS and grid.SHAPES is vocab.GRID_SHAPE_CODES
    assert set(MEASURE_TEXT) == set(vocab.MEASURES) and set(SCALING_TEXT) == set(vocab.SCALINGS)
    assert [vocab.grid_shape_code(s) for s in vocab.GRID_SHAPES] == list(vocab.GRID_SHAPE_CODES)
    assert vocab.grid_shape_word("hex_flat") == "hexagon_flat"
    assert vocab.slug("Hate crime & ASB (2025)") == "hate_crime_asb_2025"
    assert vocab.slug("2nd hand", "c") == "c_2nd_hand" and vocab.slug("!!") == "item"


def _plugin_sources():
    base = os.path.join(ROOT, "composite_index_plugin")
    for folder, _dirs, files in os.walk(base):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, ROOT), open(path, encoding="utf-8").read()


def test_vocabularies_are_not_copied():
    """The lists of words live in core/vocab.py only (a copy elsewhere is how they drift)."""
    words = {"rate measures": "\"rate\", \"eb_rate\", \"eb_rate_spatial\"",
             "grid shapes": "\"hex_flat\", \"hex_pointy\"",
             "name pattern": "[a-z][a-z0-9_]*",
             "aggregations": "\"mean\", \"sum\", \"geometric\", \"imd\""}
    for path, text in _plugin_sources():
        if path.endswith(os.path.join("core", "vocab.py")):
            continue
        for what, snippet in words.items():
            assert snippet not in text, f"{path} copies the {what}"


def test_no_import_loops_and_no_algorithm_imports_another():
    modules = {}
    for path, text in _plugin_sources():
        name = path[:-3].replace(os.sep, ".").removesuffix(".__init__")
        modules[name] = text
    graph = {}
    for name, text in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "composite_index_plugin"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in modules)
        graph[name] = {d for d in deps if d in modules and d != name}
    algorithms = "composite_index_plugin.processing.algorithms."
    for name, deps in graph.items():
        if name.startswith(algorithms):
            assert not [d for d in deps if d.startswith(algorithms)], name

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for dep in graph[todo.pop()]:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    loops = sorted(name for name in graph if name in reach(name))
    assert loops == [], f"import loops through {loops}"
