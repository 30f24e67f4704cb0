"""Benchmark: how long each stage of a recipe run takes, the evidence for the progress bar's
stage weights (``processing.progress.STAGE_COST``, issue 18).

Cases:

* demo 2024 / demo 2025: ``make demo``'s two recipes on the Birmingham sample (synthetic
  incidents: ``default`` size for ``large``, ``tiny`` for ``small``), CSV imports, 400 m
  hexagons; 2025 compares with 2024 and runs the sensitivity (200 runs with grid jitter);
* West Yorkshire: the real police.uk month July 2016 imported by its preset, 250 m hexagons over
  the 1,388 LSOAs (about 38,000 cells), 13 issues (every crime type but anti-social behaviour)
  in 3 themes, Census 2011 population from the LSOAs, the five districts as areas, hotspots with
  the default permutations, sensitivity 200 runs (``large`` only).

Each run goes through ``RecipeRunner`` (what ``compositeindex:runrecipe`` runs); a row per stage
gives its seconds and its share of the run next to the share the progress bar gives it.
Run alone: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_stages.py [small]``.
"""
import csv
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

WY = os.path.join(ROOT, "tests", "data", "west_yorkshire")
THEMES = {
    "acquisitive": ("bicycle_theft", "burglary", "other_theft", "robbery", "shoplifting",
                    "theft_from_the_person", "vehicle_crime"),
    "violence": ("violence_sexual_offences", "possession_of_weapons", "public_order"),
    "other": ("criminal_damage_arson", "drugs", "other_crime"),
}


def _run_recipe(path):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    from composite_index_plugin.processing.progress import stage_weights
    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    # the sample recipes write beside their folder (demo/out): allowed, as the demo does
    runner = RecipeRunner(path, context, QgsProcessingFeedback(),
                          allowed_folders=[os.path.dirname(os.path.dirname(path))])
    try:
        t0 = time.perf_counter()
        runner.run()
        total = time.perf_counter() - t0
        weights = stage_weights(runner.recipe, runner.STAGES)
        return dict(runner.stage_seconds), weights, total
    finally:
        runner.release()
        QgsProject.instance().removeAllMapLayers()


def _rows(case, seconds, weights, total):
    rows = [{"case": case, "what": "whole run", "value": round(total, 1), "unit": "s",
             "target": "", "note": ""}]
    wsum = sum(weights.values()) or 1.0
    ssum = sum(seconds.values()) or 1.0
    for stage, secs in seconds.items():
        rows.append({"case": case, "what": f"stage {stage}", "value": round(secs, 2), "unit": "s",
                     "target": "", "note": f"{100 * secs / ssum:.0f} % of the run; progress "
                                           f"bar share {100 * weights.get(stage, 0) / wsum:.0f} %"})
    return rows


def _demo(tmp, size):
    from composite_index_plugin.processing import sample_io
    from composite_index_plugin.processing.sample_recipe import write_sample_recipes

    inp = os.path.join(tmp, "demo", "input")
    os.makedirs(inp)
    shutil.copy(sample_io.SAMPLE_GPKG, os.path.join(inp, "birmingham.gpkg"))
    sample_io.make_sample(os.path.join(inp, "synthetic"), size=size, seed=2024, years=(2024, 2025))
    return write_sample_recipes(inp, os.path.join(tmp, "demo", "out"))


def _west_yorkshire(tmp, sensitivity):
    """wy.gpkg (LSOAs in EPSG:27700 with population and district, the districts dissolved) and
    a recipe importing the July 2016 police.uk month."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    folder = os.path.join(tmp, "wy")
    os.makedirs(folder)
    shutil.copy(os.path.join(WY, "2016-07-west-yorkshire-street.csv"), folder)
    population = {}
    with open(os.path.join(WY, "census2011_population_lsoa11.csv"), encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            population[row["LSOA Code"]] = float(row["Persons"].replace(",", ""))
    gpkg = os.path.join(folder, "wy.gpkg")
    context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
    lsoa = processing.run("native:reprojectlayer", {
        "INPUT": os.path.join(WY, "lsoa11.geojson"), "TARGET_CRS": "EPSG:27700",
        "OUTPUT": "TEMPORARY_OUTPUT"}, context=context, feedback=feedback)["OUTPUT"]
    codes = ", ".join(f"'{k}', {v:g}" for k, v in population.items())
    lsoa = processing.run("native:fieldcalculator", {
        "INPUT": lsoa, "FIELD_NAME": "population", "FIELD_TYPE": 0, "FIELD_LENGTH": 12,
        "FIELD_PRECISION": 0, "FORMULA": f"map_get(map({codes}), \"LSOA11CD\")",
        "OUTPUT": "TEMPORARY_OUTPUT"}, context=context, feedback=feedback)["OUTPUT"]
    processing.run("native:fieldcalculator", {
        "INPUT": lsoa, "FIELD_NAME": "district", "FIELD_TYPE": 2, "FIELD_LENGTH": 40,
        "FORMULA": "regexp_replace(\"LSOA11NM\", '\\\\s+\\\\d{3}[A-Za-z]?\\\\s*$', '')",
        "OUTPUT": f"ogr:dbname='{gpkg}' table=\"lsoa\" (geom)"}, context=context, feedback=feedback)
    processing.run("native:dissolve", {
        "INPUT": f"{gpkg}|layername=lsoa", "FIELD": ["district"],
        "OUTPUT": f"ogr:dbname='{gpkg}' table=\"districts\" (geom)"}, context=context,
        feedback=feedback)
    source = {"path": "2016-07-west-yorkshire-street.csv", "import": {"preset": "police.uk"}}
    themes = [{"name": theme, "issues": [{"name": issue, "roles": {"locations": {
        "source": source, "filter": f"\"issue\" = '{issue}'"}}} for issue in issues]}
        for theme, issues in THEMES.items()]
    recipe = {"recipe_version": 1, "name": "West Yorkshire July 2016", "crs": "EPSG:27700",
              "study_area": {"source": {"path": "wy.gpkg", "layer": "lsoa"}},
              "geography": {"type": "grid", "shape": "hexagon_flat", "size": 250},
              "population": {"source": {"path": "wy.gpkg", "layer": "lsoa"},
                             "field": "population"},
              "themes": themes,
              "admin_areas": {"source": {"path": "wy.gpkg", "layer": "districts"},
                              "name_field": "district"},
              "output": {"folder": "out"}}
    if sensitivity:
        recipe["sensitivity"] = {"runs": 200}
    path = os.path.join(folder, "recipe.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(recipe, handle, indent=1)
    return path


def run(size="large"):
    from composite_index_plugin.processing.standalone import start_qgis

    start_qgis()
    tmp = tempfile.mkdtemp(prefix="bench_stages_")
    rows = []
    try:
        recipes = _demo(tmp, "default" if size == "large" else "tiny")
        if size != "large":   # tiny: few points a cell, so volumes (as the tests do)
            from composite_index_plugin.processing.sample_recipe import for_few_points

            for path in recipes.values():
                with open(path, encoding="utf-8") as handle:
                    doc = json.load(handle)
                for_few_points(doc)
                with open(path, "w", encoding="utf-8") as handle:
                    json.dump(doc, handle)
        for year, path in recipes.items():
            rows += _rows(f"demo {year}", *_run_recipe(path))
        rows += _rows("West Yorkshire", *_run_recipe(_west_yorkshire(tmp, size == "large")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "large"):
        print(f"{row['case']:16s} {row['what']:22s} {row['value']:>8} {row['unit']:2s} {row['note']}")
