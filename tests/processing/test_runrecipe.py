"""compositeindex:runrecipe: refuses bad recipes before any work, and runs the sample end to end."""
import json
import os
import shutil

import pytest
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsVectorLayer,
)

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
    assert "roles.locations.measure: unknown measure 'rat'" in text


class _Counted:
    """Counts the calls of a function (and their first argument) while a run goes on."""

    def __init__(self, owner, name):
        self.owner, self.name, self.original = owner, name, getattr(owner, name)
        self.args = []

        def counted(*args, **kwargs):
            self.args.append(args[1] if name == "_open" else None)
            return self.original(*args, **kwargs)

        setattr(owner, name, counted)

    def restore(self):
        setattr(self.owner, self.name, self.original)


@pytest.fixture(scope="module")
def tiny_run(provider, tmp_path_factory):
    """The sample recipe for one year on the tiny synthetic sample, run once for the module
    (counting how often the recipe is checked, its spec read and its layers opened)."""
    from composite_index_plugin.core import model
    from composite_index_plugin.processing import sample_io
    from composite_index_plugin.processing.recipe_runner import RecipeRunner
    from composite_index_plugin.processing.sample_recipe import for_few_points, sample_recipe

    folder = tmp_path_factory.mktemp("tiny")
    shutil.copy(resource_path("sample", "birmingham.gpkg"), folder / "birmingham.gpkg")
    made = sample_io.make_sample(str(folder / "synthetic"), size="tiny", seed=11, years=(2024,))
    recipe = sample_recipe(2024, str(folder / "out"))
    recipe["output"] = {"folder": "out"}
    for_few_points(recipe)       # few points: bigger cells, volumes
    counters = {"parse": _Counted(model, "parse"), "parse_spec": _Counted(model, "parse_spec"),
                "open": _Counted(RecipeRunner, "_open")}
    try:
        result = _run(folder, recipe)
    finally:
        for counter in counters.values():
            counter.restore()
    made["counts"] = {k: c.args for k, c in counters.items()}
    return folder, result, made


def test_one_run_checks_the_recipe_once_and_opens_each_layer_once(tiny_run):
    """The recipe is parsed (checked) once; its spec is read once more by buildindex (a child
    algorithm takes text); each source is opened once, though most are used by several stages."""
    counts = tiny_run[2]["counts"]
    assert len(counts["parse"]) == 1 and len(counts["parse_spec"]) == 1
    opened = [source.key_text() for source in counts["open"]]
    assert len(opened) == len(set(opened)) == 3   # study area, LSOAs, constituencies


def test_sample_recipe_runs_end_to_end(tiny_run):
    from osgeo import ogr

    folder, result, made = tiny_run
    out = folder / "out"
    assert result["RESULTS"] == str(out / "results.gpkg")
    for name in ("results.gpkg", "assessment.qgz", "run.log", "map.png"):
        assert (out / name).exists(), name
    ds = ogr.Open(str(out / "results.gpkg"))
    tables = {ds.GetLayer(i).GetName(): ds.GetLayer(i) for i in range(ds.GetLayerCount())}
    assert {"zones", "zones_population", "aggregated", "clean_police_incidents_2024",
            "rejected_police_incidents_2024"} <= set(tables)
    # every clean incident of the police file is counted in exactly one cell
    clean = tables["clean_police_incidents_2024"].GetFeatureCount()
    rejected = tables["rejected_police_incidents_2024"].GetFeatureCount()
    planted = made[2024]["planted"]["police"]
    assert clean + rejected == made[2024]["counts"]["locations"] + planted["duplicate"]
    agg = tables["aggregated"]
    fields = [agg.GetLayerDefn().GetFieldDefn(i).GetName()
              for i in range(agg.GetLayerDefn().GetFieldCount())]
    loc_fields = [f for f in fields if f.endswith("_locations")]
    assert len(loc_fields) == 8
    total = 0
    for feature in agg:
        total += sum(feature.GetField(f) or 0 for f in loc_fields)
    assert total == clean
    log = (out / "run.log").read_text()
    assert "compositeindex:aggregatepat" in log


def test_project_has_the_styled_group(tiny_run):
    from qgis.core import QgsProject

    folder, result, _ = tiny_run
    project = QgsProject()
    assert project.read(result["PROJECT"])
    groups = [n for n in project.layerTreeRoot().children() if n.nodeType() == n.NodeGroup
              and n.name().startswith("Composite Index")]
    assert [g.name() for g in groups] == ["Composite Index – Birmingham strategic assessment 2024 "
                                          "(synthetic sample)"]
    assert project.layoutManager().layouts()  # the assessment layouts were added, not a new file
    in_group = {layer.name() for layer in groups[0].findLayers()}
    assert {"Composite index (deciles)", "Hotspot zones", "Areas"} <= {
        n.layer().name() for n in groups[0].findLayers()} == in_group
    index = project.mapLayersByName("Composite index (deciles)")[0]
    assert index.renderer().type() == "categorizedSymbol"  # styled from index_deciles.qml
    names = [layer.name() for layer in project.mapLayers().values()]
    assert "Analysis zones" in names and "Areas" in names
    # the counts layer says which of its counts its style maps
    counts = [layer for layer in project.mapLayers().values()
              if layer.name().startswith("Victims, offenders and locations (counts; styled on ")]
    assert len(counts) == 1
    field = counts[0].renderer().classAttribute()
    assert counts[0].name() == f"Victims, offenders and locations (counts; styled on {field})"
    assert field.endswith(("_victims", "_offenders", "_locations")) and field in \
        counts[0].fields().names()
    summaries = project.mapLayersByName(
        "Area summaries (IMD-style extent, % of residents)")
    assert len(summaries) == 1 and summaries[0].renderer().classAttribute() == "extent_pct"
    assert all(layer.isValid() for layer in project.mapLayers().values())


def test_rerun_refused_while_the_earlier_results_are_open(tiny_run):
    """Overwriting a GeoPackage that the project still reads corrupts it: refuse, and say why."""
    import processing
    from qgis.core import QgsProject, QgsVectorLayer

    folder, result, _ = tiny_run
    project = QgsProject()
    project.addMapLayer(QgsVectorLayer(result["RESULTS"] + "|layername=zones", "old zones", "ogr"))
    context = QgsProcessingContext()
    context.setProject(project)
    try:
        processing.run("compositeindex:runrecipe", {"RECIPE": str(folder / "recipe.json")},
                       context=context, feedback=QgsProcessingFeedback())
        message = ""
    except QgsProcessingException as err:
        message = str(err)
    finally:  # no layer or project may outlive QGIS
        project.removeAllMapLayers()
        context.setProject(None)
    assert "output.folder: the results of an earlier run" in message
    assert "old zones" in message
    assert os.path.getsize(result["RESULTS"]) > 0  # untouched


def _runner(folder, recipe):
    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    path = folder / "recipe.json"
    path.write_text(json.dumps(recipe))
    return RecipeRunner(str(path), QgsProcessingContext(), QgsProcessingFeedback())


def test_import_preset_by_name_and_filters_checked_against_the_file(provider, tmp_path):
    """A police.uk file named by its preset ("police.uk", not the enum position) imports; a
    filter naming a column the file does not have is found before anything runs."""
    source = os.path.join(os.path.dirname(__file__), "..", "data", "west_yorkshire",
                          "2016-07-west-yorkshire-street.csv")
    with open(source, encoding="utf-8") as handle:
        (tmp_path / "crimes.csv").write_text("".join(handle.readlines()[:201]), encoding="utf-8")
    shutil.copy(os.path.join(os.path.dirname(source), "lsoa11.geojson"), tmp_path / "lsoa.geojson")
    role = {"source": {"path": "crimes.csv", "import": {"preset": "police.uk"}},
            "filter": "\"Crime typ\" = 'Burglary'", "weight_field": "harm"}
    recipe = _recipe(study_area={"source": {"path": "lsoa.geojson"}}, crs="EPSG:27700",
                     population={"source": {"path": "lsoa.geojson"}, "field": "population"},
                     admin_areas={"source": {"path": "lsoa.geojson"}})
    recipe["themes"][0]["issues"][0]["roles"] = {"locations": role}
    runner = _runner(tmp_path, recipe)
    try:
        problems = {p.path: p for p in runner.check_data()}
        assert "population.field" in problems     # the LSOAs have no population field here
        bad = problems["themes[0].issues[0].roles.locations.filter"]
        assert bad.message == "unknown field(s) Crime typ in layer 'crimes.csv'"
        assert "Crime type" in bad.hint and "issue" in bad.hint   # the file's and the added
        assert "'harm' not found" in problems["themes[0].issues[0].roles.locations.weight_field"].message
    finally:
        runner.release()
    role["filter"] = "\"Crime type\" = 'Burglary'"
    del role["weight_field"], recipe["population"]
    runner = _runner(tmp_path, recipe)
    try:
        assert runner.check_data() == []
        os.makedirs(runner.folder)
        runner.stage_import(runner.log)
        clean = QgsVectorLayer(runner.layers["clean_crimes"], "clean", "ogr")
        rejected = QgsVectorLayer(runner.layers["rejected_crimes"], "rejected", "ogr")
        assert clean.featureCount() + rejected.featureCount() == 200
        assert clean.featureCount() > 150 and "issue" in clean.fields().names()
        assert any("PRESET=1" in line for line in runner.log.lines)   # the enum position
    finally:
        runner.release()
