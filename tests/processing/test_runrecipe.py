"""compositeindex:runrecipe: refuses bad recipes before any work, and runs the sample end to end."""
import json
import os
import shutil

import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

from composite_index_plugin.paths import resource_path


@pytest.fixture
def sample_dir(tmp_path):
    shutil.copy(resource_path("sample", "birmingham.gpkg"), tmp_path / "birmingham.gpkg")
    return tmp_path


def _recipe(**changes):
    recipe = {
        "recipe_version": 1,
        "name": "Test",
        "study_area": {"source": {"path": "birmingham.gpkg", "layer": "study_area"}},
        "geography": {"type": "grid", "shape": "square", "size": 1000},
        "population": {"source": {"path": "birmingham.gpkg", "layer": "lsoa21"},
                       "field": "population"},
        "themes": [{"name": "t", "issues": [{"name": "burglary", "roles": {
            "locations": {"source": {"path": "birmingham.gpkg", "layer": "lsoa21"},
                          "filter": "\"IMD_decile\" = 1"}}}]}],
        "admin_areas": {"source": {"path": "birmingham.gpkg", "layer": "constituencies"},
                        "name_field": "Cnsttnc"},
    }
    recipe.update(changes)
    return recipe


def _run(folder, recipe):
    import processing

    path = folder / "recipe.json"
    path.write_text(json.dumps(recipe))
    return processing.run("compositeindex:runrecipe", {"RECIPE": str(path)},
                          context=QgsProcessingContext(), feedback=QgsProcessingFeedback())


def test_data_problems_are_all_listed_before_any_work(provider, sample_dir):
    recipe = _recipe()
    recipe["population"]["field"] = "people"                                    # no such field
    recipe["admin_areas"]["source"]["layer"] = "constituency"                   # no such layer
    recipe["themes"][0]["issues"][0]["roles"]["victims"] = {
        "source": {"path": "missing.gpkg", "layer": "v"}}                       # no such file
    recipe["themes"][0]["issues"][0]["roles"]["locations"]["filter"] = "\"decile\" = 1"
    with pytest.raises(QgsProcessingException) as err:
        _run(sample_dir, recipe)
    text = str(err.value)
    assert "4 problem(s)" in text
    assert "population.field: field 'people' not found" in text and "LSOA21NM" in text
    assert "admin_areas.source.layer: layer 'constituency' cannot be opened" in text
    assert "themes[0].issues[0].roles.victims.source.path: file not found" in text
    assert "themes[0].issues[0].roles.locations.filter: unknown field(s) decile" in text
    assert not (sample_dir / "output").exists()  # nothing written


def test_structural_problems_come_first(provider, sample_dir):
    recipe = _recipe(geography={"type": "grid", "size": -5})
    recipe["themes"][0]["issues"][0]["roles"]["locations"]["measure"] = "rat"
    with pytest.raises(QgsProcessingException) as err:
        _run(sample_dir, recipe)
    text = str(err.value)
    assert "geography.size: must be greater than 0" in text
    assert "roles.locations.measure: unknown value 'rat'" in text
