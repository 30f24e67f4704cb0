"""compositeindex:newrecipe - a quick start from a police.uk archive (issue 17, done when): the
two real West Yorkshire months, zipped at test time in the police.uk archive layout, imported as
two periods; newrecipe then runrecipe; the counts per issue equal the CSVs' crime types inside
the study area, counted independently (tests/policeuk_reference.py: pandas, OSR, GEOS)."""
import json
import os
import shutil

import pytest
from osgeo import ogr
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

from tests import policeuk_reference as ref

DISTRICTS = ["Bradford", "Calderdale", "Kirklees", "Leeds", "Wakefield"]


def _run(alg, params):
    import processing

    return processing.run(f"compositeindex:{alg}", params, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())


@pytest.fixture(scope="module")
def quick_start(provider, tmp_path_factory):
    """The three steps: the download (a ZIP of both months), newrecipe, runrecipe."""
    folder = tmp_path_factory.mktemp("quick_start")
    ref.make_archive(str(folder / "west-yorkshire.zip"))
    shutil.copy(ref.LSOA, folder / "lsoa11.geojson")
    shutil.copy(ref.CENSUS, folder / "census.csv")
    made = _run("newrecipe", {
        "ARCHIVE": str(folder / "west-yorkshire.zip"), "BOUNDARIES": str(folder / "lsoa11.geojson"),
        "POPULATION_TABLE": str(folder / "census.csv"), "GRID_SIZE": 1000,
        "OUTPUT": str(folder / "wy.json")})
    run = _run("runrecipe", {"RECIPE": made["OUTPUT"]})
    return folder, made, run


def _layer(gpkg, name):
    ds = ogr.Open(str(gpkg))
    layer = ds.GetLayerByName(name)
    assert layer is not None, name
    return ds, layer


def _column_sums(gpkg, name, fields):
    ds, layer = _layer(gpkg, name)
    sums = dict.fromkeys(fields, 0.0)
    for feature in layer:
        for f in fields:
            sums[f] += feature.GetField(f) or 0
    del ds
    return sums


def test_the_recipe_written(quick_start):
    folder, made, _run_result = quick_start
    with open(made["OUTPUT"], encoding="utf-8") as handle:
        doc = json.load(handle)
    assert doc["name"] == "West Yorkshire 2016-07 to 2017-07"
    assert doc["period"] == made["PERIOD"] == "2016-07 to 2017-07"
    assert made["ISSUES"] == 14
    themes = {t["name"]: [i["name"] for i in t["issues"]] for t in doc["themes"]}
    assert themes == {
        "neighbourhood_crime": ["burglary", "robbery", "vehicle_crime", "theft_from_the_person"],
        "violence_vulnerability": ["violence_sexual_offences", "possession_of_weapons", "drugs"],
        "other_acquisitive": ["shoplifting", "bicycle_theft", "other_theft"],
        "asb_disorder": ["anti_social_behaviour", "criminal_damage_arson", "public_order",
                         "other_crime"]}
    role = doc["themes"][0]["issues"][0]["roles"]["locations"]
    assert role == {"source": {"path": "west-yorkshire.zip", "import": {"preset": "police.uk"}},
                    "category_field": "issue"}
    assert doc["study_area"] == {"source": {"path": "wy_areas.gpkg", "layer": "study_area"},
                                 "buffer": 50}
    assert doc["population"]["table"] == {"path": "census.csv"}
    assert (doc["population"]["table_key"], doc["population"]["table_field"]) == \
        ("LSOA Code", "Persons")
    assert doc["geography"] == {"type": "grid", "shape": "hexagon_flat", "size": 1000}
    ds, layer = _layer(made["AREAS"], "admin_areas")
    assert sorted(f.GetField("name") for f in layer) == DISTRICTS
    ds, layer = _layer(made["AREAS"], "small_areas")
    assert layer.GetFeatureCount() == 1388
    del ds, layer


def test_two_periods_and_counts_per_issue_equal_the_csvs(quick_start):
    """Done when: counts per issue equal the CSVs' crime types inside the study area."""
    _folder, _made, result = quick_start
    expected = ref.crimes_inside()
    assert result["SKIPPED"] == "compare"
    gpkg = result["RESULTS"]
    ds, layer = _layer(gpkg, "clean_west-yorkshire")
    periods = {}
    for feature in layer:
        periods[feature.GetField("period")] = periods.get(feature.GetField("period"), 0) + 1
    del ds, layer
    assert periods == {"2016-07": 25778, "2017-07": 26991} == \
        expected.groupby("month").size().to_dict()
    issues = sorted(ref.ISSUE_OF.values())
    sums = _column_sums(gpkg, "aggregated", [f"{i}_locations" for i in issues])
    for issue in issues:
        assert sums[f"{issue}_locations"] == (expected["issue"] == issue).sum(), issue
    assert sum(sums.values()) == len(expected) == 52769
    population = _column_sums(gpkg, "zones_population", ["population"])["population"]
    assert population == pytest.approx(ref.population_total(), abs=1e-3)
    with open(result["LOG"], encoding="utf-8") as handle:
        log = handle.read()
    assert "Aggregating 14 issue(s) in one pass" in log
    assert "months 2016-07 to 2017-07 (the recipe's period '2016-07 to 2017-07')" in log
    assert os.path.getsize(os.path.join(result["FOLDER"], "assessment.pdf")) > 0


def test_a_study_area_and_one_month(quick_start, tmp_path):
    """A study area given (Leeds' LSOAs), the small areas overlapping it; MONTHS picks one
    month; anti-social behaviour left out; districts dissolved from a code field."""
    folder, _made, _run_result = quick_start
    from osgeo import gdal

    leeds = tmp_path / "leeds.gpkg"
    gdal.VectorTranslate(str(leeds), str(folder / "lsoa11.geojson"), format="GPKG",
                         layerName="leeds", where="LSOA11NM LIKE 'Leeds %'")
    import processing

    class Errors(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.errors = []

        def reportError(self, text, fatalError=False):
            self.errors.append(text)

    feedback = Errors()
    made = processing.run("compositeindex:newrecipe", {
        "ARCHIVE": str(folder / "west-yorkshire.zip"), "MONTHS": "2017-07",
        "STUDY_AREA": str(leeds), "BOUNDARIES": str(folder / "lsoa11.geojson"),
        "ASB": False, "OUTPUT": str(tmp_path / "leeds.json")}, context=QgsProcessingContext(),
        feedback=feedback)
    # the archive is not in the recipe's folder: the run needs its folder allowed (core.sandbox)
    assert any("outside its folder" in e and f"ALLOWED_FOLDERS={folder}" in e
               for e in feedback.errors)
    with open(made["OUTPUT"], encoding="utf-8") as handle:
        doc = json.load(handle)
    assert doc["period"] == "2017-07" and made["ISSUES"] == 13
    names = [i["name"] for t in doc["themes"] for i in t["issues"]]
    assert "anti_social_behaviour" not in names and len(names) == 13
    # the theme is named after what it counts
    assert [t["label"] for t in doc["themes"]][-1] == "Criminal damage and disorder"
    assert "population" not in doc
    ds, small = _layer(made["AREAS"], "small_areas")
    assert small.GetFeatureCount() == 482          # Leeds' 2011 LSOAs
    ds, admin = _layer(made["AREAS"], "admin_areas")
    assert [f.GetField("name") for f in admin] == ["Leeds"]
    del ds, small, admin


def test_refusals(quick_start, tmp_path):
    folder, _made, _run_result = quick_start
    archive = str(folder / "west-yorkshire.zip")
    with pytest.raises(QgsProcessingException, match="Give a study area"):
        _run("newrecipe", {"ARCHIVE": archive, "OUTPUT": str(tmp_path / "a.json")})
    with pytest.raises(QgsProcessingException, match="matches months 2019-01 to 2019-02"):
        _run("newrecipe", {"ARCHIVE": archive, "MONTHS": "2019-01,2019-02",
                           "BOUNDARIES": str(folder / "lsoa11.geojson"),
                           "OUTPUT": str(tmp_path / "b.json")})
    with pytest.raises(QgsProcessingException, match="needs the small areas"):
        _run("newrecipe", {"ARCHIVE": archive, "STUDY_AREA": str(folder / "lsoa11.geojson"),
                           "POPULATION_TABLE": str(folder / "census.csv"),
                           "OUTPUT": str(tmp_path / "c.json")})


def test_a_comparison_on_the_earlier_scale(quick_start, tmp_path):
    """PREVIOUS adds the comparison, and the earlier run's baseline when it was fitted for the
    same index (same issues and choices); another index is scaled on its own."""
    folder, _made, result = quick_start
    common = {"ARCHIVE": str(folder / "west-yorkshire.zip"), "MONTHS": "2017-07",
              "BOUNDARIES": str(folder / "lsoa11.geojson"), "GRID_SIZE": 1000,
              "PREVIOUS": result["RESULTS"], "PREVIOUS_LABEL": "2016-07 to 2017-07"}
    made = _run("newrecipe", dict(common, OUTPUT=str(tmp_path / "same.json")))
    with open(made["OUTPUT"], encoding="utf-8") as handle:
        doc = json.load(handle)
    prev = os.path.relpath(result["RESULTS"], tmp_path).replace(os.sep, "/")
    assert doc["compare"] == {"previous": [{"path": prev, "layer": "hotspots"}],
                              "labels": ["2016-07 to 2017-07", "2017-07"]}
    assert doc["baseline"] == {"read": prev.replace("results.gpkg", "baseline.json")}
    made = _run("newrecipe", dict(common, ASB=False, OUTPUT=str(tmp_path / "other.json")))
    with open(made["OUTPUT"], encoding="utf-8") as handle:
        doc = json.load(handle)
    assert "compare" in doc and "baseline" not in doc


def test_an_unpacked_archive(quick_start, tmp_path):
    """The archive unpacked into a folder works as the ZIP does (newrecipe and the runner's
    checks), though the dialog's file parameter alone would refuse a folder."""
    import zipfile

    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    folder, _made, _run_result = quick_start
    with zipfile.ZipFile(folder / "west-yorkshire.zip") as zf:
        zf.extractall(tmp_path / "download")
    made = _run("newrecipe", {"ARCHIVE": str(tmp_path / "download"),
                              "BOUNDARIES": str(folder / "lsoa11.geojson"),
                              "OUTPUT": str(tmp_path / "unpacked.json")})
    with open(made["OUTPUT"], encoding="utf-8") as handle:
        doc = json.load(handle)
    assert doc["themes"][0]["issues"][0]["roles"]["locations"]["source"]["path"] == "download"
    assert made["PERIOD"] == "2016-07 to 2017-07"
    runner = RecipeRunner(made["OUTPUT"], QgsProcessingContext(), QgsProcessingFeedback())
    try:
        assert runner.check_data() == []
        listing = runner.archive_listing(
            runner.recipe.themes[0].issues[0].roles["locations"].source, "x")
        assert listing.kind == "folder" and [f.month for f in listing.files] == \
            ["2016-07", "2017-07"]
    finally:
        runner.release()
