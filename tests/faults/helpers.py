"""Helpers of the fault-injection suite (issue 15): a small recipe on the bundled Birmingham
sample, running it, and fingerprinting an output folder."""
import hashlib
import json
import os

from composite_index_plugin.paths import resource_path

SAMPLE = resource_path("sample", "birmingham.gpkg")


def small_recipe(**changes):
    """A whole assessment in a few seconds: a 2 km grid, population, one issue counted from the
    LSOAs (as points on their surface), index, hotspots, areas, project, map and layout."""
    recipe = {
        "recipe_version": 1,
        "name": "Fault test",
        "study_area": {"source": {"path": "b.gpkg", "layer": "study_area"}},
        "geography": {"type": "grid", "shape": "square", "size": 2000},
        "population": {"source": {"path": "b.gpkg", "layer": "lsoa21"}, "field": "population"},
        "themes": [{"name": "t", "issues": [{"name": "burglary", "roles": {
            "locations": {"source": {"path": "b.gpkg", "layer": "lsoa21"},
                          "filter": "\"IMD_decile\" <= 2"}}}]}],
        "admin_areas": {"source": {"path": "b.gpkg", "layer": "constituencies"},
                        "name_field": "Cnsttnc"},
    }
    recipe.update(changes)
    return recipe


def write_recipe(folder, recipe, name="recipe.json"):
    path = os.path.join(str(folder), name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(recipe, handle)
    return path


def run_recipe(path, feedback=None, **params):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    return processing.run("compositeindex:runrecipe", dict({"RECIPE": str(path)}, **params),
                          context=QgsProcessingContext(),
                          feedback=feedback or QgsProcessingFeedback())


def runner(path, **kwargs):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    return RecipeRunner(str(path), QgsProcessingContext(), QgsProcessingFeedback(), **kwargs)


def problems_of(path, **kwargs):
    """{JSON path: Problem} of the runner's checks (nothing runs)."""
    r = runner(path, **kwargs)
    try:
        return {p.path: p for p in r.check_data()}
    finally:
        r.release()


def fingerprint(folder):
    """{relative path: sha1} of every file under ``folder`` (hidden ones included)."""
    out = {}
    for root, _dirs, files in os.walk(str(folder)):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as handle:
                out[os.path.relpath(full, str(folder))] = hashlib.sha1(handle.read()).hexdigest()
    return out


def siblings(folder):
    """Names beside ``folder`` in its parent (staging, backup folders left behind)."""
    return sorted(os.listdir(os.path.dirname(os.path.abspath(str(folder)))))
