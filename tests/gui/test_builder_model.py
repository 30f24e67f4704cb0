"""The Builder's model without QGIS or Qt (issue 16): widgets bind to JSON paths of the recipe;
defaults, what applies, choices and their labels come from the recipe model; the problems are
core.model.parse's. No qgis / PyQt import here: the last test runs this file in a Python where
importing them fails."""
import copy
import os
import subprocess
import sys

import pytest

from composite_index_plugin.core import model as rm
from composite_index_plugin.core import vocab
from composite_index_plugin.gui.builder_model import BuilderModel, Check, new_recipe

ROLE = "themes[0].issues[0].roles.victims"


def test_a_new_set_up_and_its_problems_are_the_recipe_models():
    m = BuilderModel()
    assert m.recipe() == {
        "recipe_version": 1,
        "geography": {"type": "grid", "shape": "hexagon_flat", "size": 400},
        "themes": [{"name": "theme_1", "label": "Theme 1",
                    "issues": [{"name": "issue_1", "label": "Issue 1", "roles": {}}]}],
        "aggregation": {"issue": "mean", "theme": "mean", "composite": "mean"}}
    problems = m.problems()
    assert problems == [Check(p.path, p.message, p.hint) for p in rm.parse(m.recipe())[1]]
    assert {p.path for p in problems} == {"themes[0].issues[0].roles", "study_area"}


def test_values_fall_back_to_the_schema_defaults():
    m = BuilderModel()
    assert m.get("geography.keep") is None and m.value("geography.keep") == "intersects"
    assert m.value("hotspots.enabled") is True and m.value("aggregation.c") == 23
    m.add_role("themes[0].issues[0]", "victims")
    assert m.get(f"{ROLE}.missing") is None and m.value(f"{ROLE}.missing") == "zero"
    assert m.value(f"{ROLE}.per") is None                 # a count has no "per"
    m.set(f"{ROLE}.measure", "rate")
    assert m.get(f"{ROLE}.per") == 1000 and m.get(f"{ROLE}.denominator") == "population"


def test_what_applies_and_what_is_required_follow_the_measure():
    m = BuilderModel()
    m.add_role("themes[0].issues[0]", "victims")
    # (denominator applies, per applies, the denominator left out means)
    cases = {"volume": (False, False, None), "rate": (True, True, "population"),
             "location_quotient": (True, False, "population"), "density": (False, False, None),
             "clustering": (True, True, None)}
    for measure, (denominator, per, default) in cases.items():
        m.set(f"{ROLE}.measure", measure)
        assert (m.applies(f"{ROLE}.denominator"), m.applies(f"{ROLE}.per"),
                m.default(f"{ROLE}.denominator")) == (denominator, per, default), measure
    assert not m.required(f"{ROLE}.denominator")           # a role's has a default
    assert m.required("geography.size") and not m.required("geography.shape")
    assert m.applies("geography.size") and not m.applies("geography.source")
    m.set("geography.type", "zones")
    assert not m.applies("geography.size") and m.applies("geography.source")


def test_keys_that_do_not_apply_are_left_out_and_come_back():
    m = BuilderModel()
    m.add_role("themes[0].issues[0]", "victims")
    m.set(f"{ROLE}.measure", "eb_rate")
    m.set(f"{ROLE}.per", 10000)
    role = m.recipe()["themes"][0]["issues"][0]["roles"]["victims"]
    assert (role["measure"], role["denominator"], role["per"]) == ("eb_rate", "population", 10000)
    m.set(f"{ROLE}.measure", "location_quotient")          # a ratio: no "per"
    role = m.recipe()["themes"][0]["issues"][0]["roles"]["victims"]
    assert role["denominator"] == "population" and "per" not in role
    m.set(f"{ROLE}.measure", "volume")
    assert "denominator" not in m.recipe()["themes"][0]["issues"][0]["roles"]["victims"]
    m.set(f"{ROLE}.measure", "rate")                      # remembered meanwhile
    assert m.recipe()["themes"][0]["issues"][0]["roles"]["victims"]["per"] == 10000
    m.set(f"{ROLE}.scaling", "minmax")
    m.set(f"{ROLE}.scale_to", 100)
    m.set(f"{ROLE}.scaling", "zscore")
    assert "scale_to" not in m.recipe()["themes"][0]["issues"][0]["roles"]["victims"]


def test_choices_and_their_readable_labels_come_from_the_model_and_vocab():
    m = BuilderModel()
    m.add_role("themes[0].issues[0]", "victims")
    measures = m.choices(f"{ROLE}.measure")
    assert [w for w, _l, _t in measures] == list(vocab.MEASURES)
    assert dict((w, label) for w, label, _t in measures)["eb_rate_spatial"] == \
        "Spatial empirical Bayes rate (smoothed with neighbours)"
    assert all(tip for _w, _l, tip in measures)
    for key in ("scaling", "direction", "missing"):
        assert all(label != word and tip for word, label, tip in m.choices(f"{ROLE}.{key}"))
    assert [label for _w, label, _t in m.choices("geography.type")] == \
        ["Grid over the study area", "Zones layer"]
    assert [w for w, _l, _t in m.choices("aggregation.theme")] == list(vocab.AGGREGATIONS)
    assert m.choices("name") == [] and m.choices(f"{ROLE}.weight") == []
    assert "cell width" in m.help("geography.size") and "metres" in m.help("geography.size")


def test_switches_written_only_when_off_and_paths_made_absolute():
    m = BuilderModel()
    m.set("hotspots.enabled", False)
    assert m.recipe()["hotspots"] == {"enabled": False}
    m.set("hotspots.enabled", True)
    assert "hotspots" not in m.recipe()
    m.set("output.folder", "~/assessments/2025")
    assert m.recipe()["output"]["folder"] == os.path.expanduser("~/assessments/2025")
    m.set("output.folder", None)
    assert "output" not in m.recipe()
    m.set("name", "  ")
    assert "name" not in m.recipe()


def test_names_follow_labels_until_edited():
    m = BuilderModel()
    m.set("themes[0].label", "Violence & vulnerability")
    assert m.get("themes[0].name") == "violence_vulnerability"
    m.set("themes[0].name", "violence ")
    m.set("themes[0].label", "Violence")
    assert m.recipe()["themes"][0]["name"] == "violence"
    m.set("themes[0].issues[0].weight", 2.0)
    assert m.recipe()["themes"][0]["issues"][0]["weight"] == 2.0
    m.set("themes[0].issues[0].weight", 1.0)
    assert "weight" not in m.recipe()["themes"][0]["issues"][0]


def test_tree_operations():
    m = BuilderModel()
    assert m.add_theme() == "themes[1]"
    assert m.add_issue("themes[1]", "Hate crime") == "themes[1].issues[0]"
    assert m.get("themes[1].issues[0].name") == "hate_crime"
    assert m.add_issue() == "themes[2].issues[0]"            # no theme given: a new one
    issue = "themes[0].issues[0]"
    assert m.add_role(issue, "locations") == f"{issue}.roles.locations"
    assert m.add_role(issue, "victims") == f"{issue}.roles.victims"
    assert list(m.recipe()["themes"][0]["issues"][0]["roles"]) == ["victims", "locations"]
    uid = m.node(f"{issue}.roles.victims").uid
    assert m.add_role(issue, "victims") == f"{issue}.roles.victims"   # once per issue
    assert m.node(f"{issue}.roles.victims").uid == uid
    role = m.recipe()["themes"][0]["issues"][0]["roles"]["victims"]
    assert role == {"measure": "volume", "scaling": "zscore", "direction": "higher_is_worse",
                    "weight": 1}
    # an issue past the edge of its theme moves into the next, and back
    assert m.move(issue, 1) == "themes[1].issues[0]"
    assert [[i["name"] for i in t["issues"]] for t in m.recipe()["themes"]] == \
        [[], ["issue_1", "hate_crime"], ["issue_3"]]
    assert m.move("themes[1].issues[0]", -1) == "themes[0].issues[0]"
    assert m.move("themes[0]", -1) is None and m.move("themes[2]", 1) is None
    assert m.move("themes[2]", -2 + 1) == "themes[1]"
    m.remove("themes[0]")
    assert [t["label"] for t in m.recipe()["themes"]] == ["Theme 3", "Theme 2"]
    with pytest.raises(KeyError):
        m.node("themes[5]")


def test_geography_keeps_both_kinds_and_writes_the_one_chosen():
    m = BuilderModel()
    m.set("geography.shape", "square")
    m.set("geography.size", 1000)
    m.set("geography.type", "zones")
    m.set_source("geography", {"path": "/data/z.gpkg", "layer": "hotspot_zones"}, "z1")
    m.set("geography.id_field", "zone_id")
    zones = {"type": "zones", "source": {"path": "/data/z.gpkg", "layer": "hotspot_zones"},
             "id_field": "zone_id"}
    assert m.recipe()["geography"] == zones
    m.set_recipe(m.recipe())               # no guess from a layer's name: the recipe's own keys
    assert m.value("geography.type") == "zones" and m.recipe()["geography"] == zones
    m.set("geography.type", "grid")
    assert m.recipe()["geography"] == {"type": "grid", "shape": "square", "size": 1000}


def test_a_recipe_opens_and_comes_back_unchanged():
    doc = copy.deepcopy(new_recipe())
    del doc["name"]                                          # an empty name is not written
    doc.update({"description": "kept", "period": {"start": "2025-01", "end": "2025-12"},
                "crs": "EPSG:27700", "sensitivity": {"runs": 50},
                "hotspots": {"permutations": 99, "neighbourhood": "knn", "k": 6},
                "study_area": {"source": {"path": "/d/a.gpkg", "layer": "s"}, "filter": "1"},
                "population": {"source": {"path": "/d/a.gpkg", "layer": "p"}, "field": "pop"}})
    doc["geography"].update({"origin": [5, 5], "keep": "centre"})
    doc["themes"][0].update({"description": "a theme", "aggregation": "geometric"})
    doc["themes"][0]["issues"][0]["roles"] = {"offenders": {
        "source": {"path": "/d/o.csv", "import": {"preset": "police.uk"}},
        "filter": "\"issue\" = 'x'", "measure": "rate", "per": 100, "missing": "exclude",
        "scaling": "percentile", "weight": 3}}
    m = BuilderModel()
    m.set_recipe(doc)
    assert m.recipe() == doc
    assert list(m.recipe()) == [k for k in rm.Recipe.keys() if k in doc]   # schema order
    assert m.recipe(base_dir="/d")["study_area"]["source"]["path"] == "a.gpkg"


def test_recipes_the_tree_cannot_show_are_refused_and_nothing_changes():
    m = BuilderModel()
    m.set("name", "kept")
    for themes in ([{"name": "t", "issues": [{"name": "i", "roles": ["victims"]}]}],
                   [{"name": "t", "issues": [{"name": "i", "roles": {"witnesses": {}}}]}],
                   "themes", [["t"]]):
        with pytest.raises(ValueError):
            m.set_recipe(dict(new_recipe(), themes=themes))
    assert m.recipe()["name"] == "kept"


def test_project_layers_by_id_follow_a_rename_and_outlive_a_removal():
    names = {"L1": "burglaries 2024"}
    m = BuilderModel(layer_name=names.get)
    m.add_role("themes[0].issues[0]", "victims")
    m.set_source(ROLE, {"project_layer": "burglaries"}, "L1")
    m.set_source("study_area", {"path": "/d/a.gpkg", "layer": "s"}, "L2")
    assert m.recipe()["themes"][0]["issues"][0]["roles"]["victims"]["source"] == \
        {"project_layer": "burglaries 2024"}
    assert m.all_layer_ids() == {"study_area": "L2", ROLE: "L1"}
    m.forget_layers(["L1"])
    del names["L1"]
    assert m.recipe()["themes"][0]["issues"][0]["roles"]["victims"]["source"] == \
        {"project_layer": "burglaries 2024"}
    assert m.all_layer_ids() == {"study_area": "L2"}
    m.set_source("study_area", None)
    assert "study_area" not in m.recipe() and m.all_layer_ids() == {}
    restored = BuilderModel()
    restored.set_recipe(m.state()["recipe"], m.state()["layer_ids"])
    assert restored.recipe() == m.recipe()


BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("qgis", "PyQt5", "PyQt6", "osgeo"):
            raise ImportError(f"{name} is blocked: the Builder's model must not need it")
sys.meta_path.insert(0, Block())
"""


def test_the_model_and_these_tests_run_without_qgis_or_qt():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = BLOCK + (
        "sys.path.insert(0, %r)\n"
        "import pytest\n"
        "sys.exit(pytest.main(['-q', '-p', 'no:pytest_qgis', '-p', 'no:cacheprovider', %r, "
        "'-k', 'not without_qgis']))\n") % (root, os.path.abspath(__file__))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
