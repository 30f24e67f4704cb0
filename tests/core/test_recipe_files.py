"""recipe_version 1 keeps working: every recipe and spec written in the repository (test data,
the docs' examples, the sample and demo recipes) loads unchanged, without a problem."""
import json
import os
import re

import pytest

from composite_index_plugin.core import model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = os.path.join(ROOT, "tests", "data", "recipes")


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.parametrize("name", sorted(os.listdir(RECIPES)))
def test_recipe_files_load_unchanged(name):
    doc = _load(os.path.join(RECIPES, name))
    recipe, problems = model.parse(doc)
    assert problems == []
    assert recipe.to_dict() == doc
    assert json.dumps(recipe.to_dict()) == json.dumps(doc)   # the same order of keys too


def test_every_key_of_version_1_is_in_the_kitchen_sink_recipe():
    """The fixture uses every key the version 1 validator accepted (so none was dropped)."""
    recipe = model.parse(_load(os.path.join(RECIPES, "v1_every_key.json")))[0]
    used = {(type(section).__name__, key) for _path, section in recipe.walk()
            for key in section.to_dict()}
    version_1 = {
        "Recipe": ("recipe_version", "name", "description", "period", "crs", "study_area",
                   "geography", "population", "themes", "aggregation", "hotspots", "admin_areas",
                   "baseline", "gap", "compare", "sensitivity", "layout", "output"),
        "Geography": ("type", "shape", "size", "size_is_area", "keep", "origin", "max_cells"),
        "Theme": ("name", "label", "weight", "issues"),
        "Issue": ("name", "label", "weight", "roles"),
        "Role": ("source", "filter", "weight_field", "measure", "denominator", "per", "scaling",
                 "direction", "weight", "missing", "options", "kde_bandwidth"),
        "Source": ("path", "layer", "project_layer", "uri", "provider", "import", "connection",
                   "service", "schema", "table", "geometry_column", "key_column", "sql", "srid",
                   "geometry_type"),
        "Hotspots": ("field", "neighbourhood", "k", "permutations", "seed", "fdr", "zones",
                     "min_bin", "enabled"),
        "Baseline": ("read", "write"),
        "Output": ("folder", "geopackage", "project", "log", "map_png"),
        "Sensitivity": ("runs", "seed", "concentration", "scalings", "grid_jitter"),
    }
    missing = [(s, k) for s, keys in version_1.items() for k in keys if (s, k) not in used]
    assert missing == []


def test_sample_and_demo_recipes(tmp_path):
    from composite_index_plugin.processing.sample_recipe import sample_recipe, write_sample_recipes

    for use_csv in (True, False):
        for previous in (None, ("../2024", 2024)):
            doc = sample_recipe(2025, str(tmp_path / "out"), previous=previous, use_csv=use_csv)
            recipe, problems = model.parse(doc)
            assert problems == [] and recipe.to_dict() == doc
    (tmp_path / "input").mkdir()
    paths = write_sample_recipes(str(tmp_path / "input"), str(tmp_path))
    for year, path in paths.items():
        assert _load(path) == _load(os.path.join(RECIPES, f"demo_recipe_{year}.json"))


def _json_blocks(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return re.findall(r"```json\n(.*?)```", text, flags=re.S)


def test_docs_examples():
    recipe_doc, spec_example = _json_blocks(os.path.join(ROOT, "docs", "recipe.md"))
    doc = json.loads(recipe_doc)
    recipe, problems = model.parse(doc)
    assert problems == [] and recipe.to_dict() == doc
    spec, problems = model.parse_spec(json.loads(spec_example))
    assert problems == [] and spec.to_dict() == json.loads(spec_example)
    (spec_doc,) = _json_blocks(os.path.join(ROOT, "docs", "CONTRACTS.md"))
    spec, problems = model.parse_spec(json.loads(spec_doc))
    assert problems == [] and spec.to_dict() == json.loads(spec_doc)
    (sources,) = _json_blocks(os.path.join(ROOT, "docs", "models_batch_scripts.md"))
    decoder, at, found = json.JSONDecoder(), 0, 0
    while sources[at:].strip():
        doc, end = decoder.raw_decode(sources, at + len(sources[at:]) - len(sources[at:].lstrip()))
        at, found = end, found + 1
        ctx = model.Context()
        ref = model.LayerRef.parse(doc, ctx, "")
        assert ctx.problems == [] and ref.to_dict() == doc
    assert found == 3
