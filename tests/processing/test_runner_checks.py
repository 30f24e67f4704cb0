"""The runner's data checks that the Builder used to make on its own (issue 16: one set of
checks, the run's): the analysis CRS, a grid over a study area in degrees, a layer without a
CRS, a rate on zones without population. Each is found before anything runs."""
import json
import os
import shutil

from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject, QgsVectorLayer

from composite_index_plugin.paths import resource_path

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def _problems(folder, recipe, project=None):
    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    path = folder / "recipe.json"
    path.write_text(json.dumps(recipe))
    context = QgsProcessingContext()
    if project is not None:
        context.setProject(project)
    runner = RecipeRunner(str(path), context, QgsProcessingFeedback())
    try:
        return {p.path: p for p in runner.check_data()}
    finally:
        runner.release()


def _recipe(**changes):
    recipe = {
        "recipe_version": 1,
        "study_area": {"source": {"path": "birmingham.gpkg", "layer": "study_area"}},
        "geography": {"type": "grid", "shape": "square", "size": 1000},
        "themes": [{"name": "t", "issues": [{"name": "burglary", "roles": {
            "locations": {"source": {"path": "birmingham.gpkg", "layer": "lsoa21"}}}}]}],
    }
    recipe.update(changes)
    return recipe


def test_the_analysis_crs_must_be_known_and_projected(provider, tmp_path):
    shutil.copy(resource_path("sample", "birmingham.gpkg"), tmp_path)
    assert _problems(tmp_path, _recipe(crs="EPSG:27700")) == {}
    bad = _problems(tmp_path, _recipe(crs="EPSG:4326"))
    assert bad["crs"].message == "EPSG:4326 is a geographic CRS (degrees)"
    assert "EPSG:27700" in bad["crs"].hint
    assert _problems(tmp_path, _recipe(crs="EPSG:999999"))["crs"].message == \
        "'EPSG:999999' is not a CRS QGIS knows"


def test_a_grid_over_a_study_area_in_degrees_needs_a_crs(provider, tmp_path):
    wy = tmp_path / "lsoa.geojson"
    shutil.copy(os.path.join(DATA, "west_yorkshire", "lsoa11.geojson"), wy)
    shutil.copy(resource_path("sample", "birmingham.gpkg"), tmp_path)
    recipe = _recipe(study_area={"source": {"path": "lsoa.geojson"}})
    problem = _problems(tmp_path, recipe)["crs"]
    assert problem.message == ("the study area is in a geographic CRS (EPSG:4326): grid cells "
                               "would be sized in degrees")
    assert _problems(tmp_path, dict(recipe, crs="EPSG:27700")) == {}


def test_a_layer_without_a_crs_and_a_rate_on_zones_without_population(provider, tmp_path):
    from osgeo import ogr

    shutil.copy(resource_path("sample", "birmingham.gpkg"), tmp_path)
    ds = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource(str(tmp_path / "nocrs.shp"))
    layer = ds.CreateLayer("nocrs", None, ogr.wkbPoint)        # no .prj: no CRS
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POINT (410000 287000)"))
    layer.CreateFeature(feature)
    ds = feature = layer = None
    project = QgsProject()
    zones = QgsVectorLayer("Polygon?crs=EPSG:27700&field=zone_id:integer&field=households:double",
                           "zones", "memory")
    project.addMapLayer(zones)
    roles = {"victims": {"source": {"path": "nocrs.shp"}, "measure": "rate"}}
    recipe = _recipe(geography={"type": "zones", "source": {"project_layer": "zones"}})
    recipe["themes"][0]["issues"][0]["roles"] = roles
    try:
        found = _problems(tmp_path, recipe, project)
        assert found["themes[0].issues[0].roles.victims.source"].message == \
            "layer 'nocrs.shp' has no CRS"
        # the rate divides by "population": the zones have no such field and no population
        # section makes one
        assert found["themes[0].issues[0].roles.victims.denominator"].message == \
            "field 'population' not found in layer 'zones'"
        roles["victims"]["denominator"] = "households"
        assert "themes[0].issues[0].roles.victims.denominator" not in \
            _problems(tmp_path, recipe, project)
    finally:
        project.removeAllMapLayers()
