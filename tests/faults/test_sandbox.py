"""A recipe from someone else touches only its own folder, the output folder and the folders the
user allows (issue 15, "Recipe sandbox")."""
import os

import pytest
from qgis.core import QgsProcessingException

from composite_index_plugin.core import model, sandbox
from tests.faults.helpers import problems_of, run_recipe, small_recipe, write_recipe


def _problems(doc):
    return {p.path: p for p in model.parse(doc)[1]}


@pytest.mark.parametrize("key,value", [
    ("geopackage", "/some/where/notes.txt"),
    ("geopackage", "../results.gpkg"),
    ("geopackage", "sub/results.gpkg"),
    ("project", "..\\up.qgz"),
    ("log", "/etc/cron.d/job.log"),
    ("log", "~/.bashrc"),
    ("map_png", "C:map.png"),
    ("log", ".hidden.log"),
])
def test_output_names_are_plain_file_names(key, value):
    found = _problems(small_recipe(output={key: value}))
    assert f"output.{key}" in found, found
    assert "file name" in found[f"output.{key}"].message
    assert found[f"output.{key}"].hint


@pytest.mark.parametrize("key,value,ending", [
    ("geopackage", "notes.txt", ".gpkg"), ("project", "x.gpkg", ".qgz"),
    ("log", "run.gpkg", ".log"), ("map_png", "map.jpg", ".png")])
def test_output_names_have_their_ending(key, value, ending):
    found = _problems(small_recipe(output={key: value}))
    assert ending in found[f"output.{key}"].message


def test_baseline_write_is_a_plain_file_name():
    found = _problems(small_recipe(baseline={"write": "/tmp/baseline.json"}))
    assert "not a plain file name" in found["baseline.write"].message
    assert _problems(small_recipe(baseline={"write": "b2025.json"})) == {}


def test_absolute_output_name_deletes_nothing(recipe_dir, tmp_path):
    """The issue's case: `"geopackage": "/some/where/notes.txt"` deleted that file at run start."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    notes = elsewhere / "notes.txt"
    notes.write_text("my notes")
    path = write_recipe(recipe_dir, small_recipe(output={"geopackage": str(notes)}))
    with pytest.raises(QgsProcessingException) as err:
        run_recipe(path)
    assert "output.geopackage" in str(err.value) and "plain file name" in str(err.value)
    assert notes.read_text() == "my notes"
    assert not (recipe_dir / "output").exists()


def test_log_never_overwrites_a_file_the_plugin_did_not_write(recipe_dir):
    out = recipe_dir / "output"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    path = write_recipe(recipe_dir, small_recipe(output={"log": "notes.txt"}))
    found = problems_of(path)
    assert "output.log" in found
    assert "was not written by Composite Index" in found["output.log"].message
    with pytest.raises(QgsProcessingException):
        run_recipe(path)
    assert (out / "notes.txt").read_text() == "keep me"


def test_a_recipe_cannot_import_a_file_outside_its_folder(recipe_dir):
    """The issue's case: {"path": "/etc/passwd", "import": {...}} put every line into the
    results and the HTML report."""
    recipe = small_recipe()
    recipe["themes"][0]["issues"][0]["roles"]["victims"] = {
        "source": {"path": "/etc/passwd", "import": {"x_field": "a", "y_field": "b",
                                                     "source_crs": "EPSG:27700"}}}
    path = write_recipe(recipe_dir, recipe)
    found = problems_of(path)
    where = "themes[0].issues[0].roles.victims.source.path"
    assert where in found and "outside the folders this recipe may use" in found[where].message
    assert "ALLOWED_FOLDERS" in found[where].hint
    with pytest.raises(QgsProcessingException):
        run_recipe(path)
    assert not (recipe_dir / "output").exists()


@pytest.mark.parametrize("where,change", [
    ("study_area.source.path", lambda r: r["study_area"]["source"].update(path="../b.gpkg")),
    ("baseline.read", lambda r: r.update(baseline={"read": "/etc/hostname"})),
    ("compare.previous[0].path", lambda r: r.update(compare={"previous": [
        {"path": "../../other/results.gpkg", "layer": "hotspots"}]})),
    ("themes[0].issues[0].roles.locations.source.import.category_mapping",
     lambda r: r["themes"][0]["issues"][0]["roles"]["locations"].update(source={
         "path": "b.gpkg", "import": {"category_mapping": "/etc/passwd"}})),
])
def test_every_path_key_stays_inside(recipe_dir, where, change):
    recipe = small_recipe()
    change(recipe)
    found = problems_of(write_recipe(recipe_dir, recipe))
    assert where in found, found
    assert "outside the folders" in found[where].message


def test_a_symbolic_link_out_of_the_folder_is_refused(recipe_dir, tmp_path):
    outside = tmp_path / "outside.gpkg"
    (recipe_dir / "b.gpkg").rename(outside)
    os.symlink(outside, recipe_dir / "b.gpkg")
    found = problems_of(write_recipe(recipe_dir, small_recipe()))
    assert "study_area.source.path" in found and str(outside) in found["study_area.source.path"].message


def test_output_folder_outside_is_refused_unless_given_by_the_user(recipe_dir, tmp_path):
    path = write_recipe(recipe_dir, small_recipe(output={"folder": "../out"}))
    assert "output.folder" in problems_of(path)
    assert problems_of(path, output_folder=str(tmp_path / "chosen")) == {}


def test_allowed_folders_add_to_the_sandbox(recipe_dir, tmp_path):
    """Data kept beside the recipe folder: refused, then allowed for the run by the user."""
    data = tmp_path / "data"
    data.mkdir()
    (recipe_dir / "b.gpkg").rename(data / "b.gpkg")
    recipe = small_recipe()
    for section in (recipe["study_area"], recipe["population"], recipe["admin_areas"],
                    recipe["themes"][0]["issues"][0]["roles"]["locations"]):
        section["source"]["path"] = "../data/b.gpkg"
    path = write_recipe(recipe_dir, recipe)
    assert len(problems_of(path)) == 4
    assert problems_of(path, allowed_folders=[str(data)]) == {}
    # the Processing parameter: folders separated by ;
    from composite_index_plugin.processing.algorithms.run_recipe import allowed_folders

    assert allowed_folders(f"{data}; /tmp/x ;") == [str(data), "/tmp/x"]
    assert allowed_folders([str(data)]) == [str(data)]


@pytest.mark.parametrize("source,message", [
    ({"uri": "/etc/passwd", "provider": "ogr"}, "outside the folders"),
    ({"uri": "file:///etc/passwd?delimiter=:", "provider": "delimitedtext"}, "outside the folders"),
    ({"uri": "?query=SELECT * FROM x", "provider": "virtual"}, "not allowed"),
    ({"uri": "https://example.org/wfs?typename=x", "provider": "WFS"}, "not allowed"),
    ({"uri": "b.gpkg|layername=study_area|subset=1=1", "provider": "ogr"}, "outside the folders"),
    ({"uri": "dbname='x' table=\"(SELECT pg_sleep(60))\" (geom)", "provider": "postgres"},
     "query in place of a table"),
    ({"uri": "dbname='x' table=\"t\" (geom) sql=pg_sleep(3) IS NOT NULL",
      "provider": "postgres"}, "pg_sleep"),
])
def test_uri_sources_stay_inside(recipe_dir, source, message):
    recipe = small_recipe()
    recipe["themes"][0]["issues"][0]["roles"]["locations"]["source"] = source
    found = problems_of(write_recipe(recipe_dir, recipe))
    texts = " ".join(p.message for p in found.values())
    assert message in texts, found


def test_a_uri_inside_the_folder_with_a_subset_is_refused(recipe_dir):
    recipe = small_recipe()
    recipe["themes"][0]["issues"][0]["roles"]["locations"]["source"] = {
        "uri": f"{recipe_dir / 'b.gpkg'}|layername=lsoa21|subset=\"IMD_decile\" = 1",
        "provider": "ogr"}
    found = problems_of(write_recipe(recipe_dir, recipe))
    assert "provider-side filter" in found["themes[0].issues[0].roles.locations.source.uri"].message


def test_recipe_paths_finds_every_path_key():
    recipe, problems = model.parse(small_recipe(baseline={"read": "a.json", "write": "b.json"}))
    assert problems == []
    found = {p: (v, base) for p, v, base in sandbox.recipe_paths(recipe)}
    assert found["baseline.read"] == ("a.json", "recipe")
    assert found["baseline.write"] == ("b.json", "output")
    assert found["study_area.source.path"] == ("b.gpkg", "recipe")


def test_sandbox_contains():
    box = sandbox.Sandbox(["/data/recipes"])
    assert box.contains("/data/recipes/x/y.gpkg")
    assert not box.contains("/data/recipes/../secrets.txt")
    assert not box.contains("/data/recipes2/x.gpkg")
    assert not box.contains("")
    assert not box.contains("/data/recipes/a\x00b")
