"""Benchmark: the police.uk quick start end to end (issue 17) - newrecipe, then runrecipe - on
the real West Yorkshire months, with the time of every stage.

Cases:

* month: the July 2017 month (28,537 rows) as a police.uk archive; newrecipe with the 2011
  LSOAs (study area = the LSOAs of the districts holding the crimes, districts dissolved from
  their names, Census 2011 population by code), 250 m flat-top hexagons (about 38,400 cells),
  the 13 crime types of the issue (anti-social behaviour left out: ``ASB`` False), summaries by
  district, comparison with July 2016 (run first, not timed), sensitivity 100 runs, the PDF.
* the month's aggregate stage again with one filter per issue (13 aggregatepat calls, as
  recipes ran before the one pass), for comparison;
* year: twelve months made from the two real ones (each month of 2017 a copy of July 2016 or
  July 2017 with its month and crime IDs rewritten: 334,278 rows, real locations and crime
  types; police.uk has no year in tests/data), the same recipe for the period 2017.

Each stage's time is wall clock and CPU time of this process (the machine is shared: CPU time
is what the stage costs; wall time adds the waits for other processes). ``run(size)`` -> rows;
``small`` runs the month only. Run alone:
``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_quickstart.py [small|large]``.
"""
import io
import os
import shutil
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

WY = os.path.join(ROOT, "tests", "data", "west_yorkshire")
TARGET_MONTH, TARGET_YEAR = 60.0, 90.0


def _street(month):
    return os.path.join(WY, f"{month}-west-yorkshire-street.csv")


def _archive(path, months):
    """A police.uk ZIP of ``months``: {month: real month it copies}. A copy gets its own month
    and crime IDs (``<id>-<month>``), so the import keeps every row."""
    import pandas as pd

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for month, real in months.items():
            name = f"{month}/{month}-west-yorkshire-street.csv"
            if month == real:
                zf.write(_street(real), name)
                continue
            frame = pd.read_csv(_street(real), dtype=str, keep_default_na=False)
            frame["Month"] = month
            ids = frame["Crime ID"] != ""
            frame.loc[ids, "Crime ID"] = frame.loc[ids, "Crime ID"] + "-" + month
            text = io.StringIO()
            frame.to_csv(text, index=False)
            zf.writestr(name, text.getvalue())
    return path


class _StageClock:
    """Wall and CPU seconds of every stage of the RecipeRunner while it is installed."""

    def __init__(self):
        from composite_index_plugin.processing.recipe_runner import RecipeRunner

        self.cls = RecipeRunner
        self.times = {}
        self.originals = {s: getattr(RecipeRunner, f"stage_{s}") for s in RecipeRunner.STAGES}
        for stage, method in self.originals.items():
            setattr(RecipeRunner, f"stage_{stage}", self._timed(stage, method))

    def _timed(self, stage, method):
        def timed(runner, feedback):
            w, c = time.perf_counter(), time.process_time()
            try:
                return method(runner, feedback)
            finally:
                self.times[stage] = (time.perf_counter() - w, time.process_time() - c)
        return timed

    def restore(self):
        for stage, method in self.originals.items():
            setattr(self.cls, f"stage_{stage}", method)


def _run(alg, params):
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback

    alg = QgsApplication.processingRegistry().createAlgorithmById(f"compositeindex:{alg}")
    res, ok = alg.run(params, QgsProcessingContext(), QgsProcessingFeedback())
    if not ok:
        raise RuntimeError(f"{alg.id()} failed")
    return res


def _case(tmp, name, archive, months, previous=None, previous_label=None):
    """newrecipe then runrecipe; rows of the run and its stages."""
    for data in ("lsoa11.geojson", "census2011_population_lsoa11_ew_layout.csv"):
        if not os.path.exists(os.path.join(tmp, data)):   # a recipe reads only in its folder
            shutil.copy(os.path.join(WY, data), tmp)
    params = {"ARCHIVE": archive, "MONTHS": months, "BOUNDARIES": os.path.join(tmp, "lsoa11.geojson"),
              "POPULATION_TABLE": os.path.join(tmp, "census2011_population_lsoa11_ew_layout.csv"),
              "ASB": False, "OUTPUT": os.path.join(tmp, f"{name}.json")}
    if previous:
        params.update(PREVIOUS=previous, PREVIOUS_LABEL=previous_label)
    w, c = time.perf_counter(), time.process_time()
    made = _run("newrecipe", params)
    t_new = (time.perf_counter() - w, time.process_time() - c)
    clock = _StageClock()
    try:
        w, c = time.perf_counter(), time.process_time()
        result = _run("runrecipe", {"RECIPE": made["OUTPUT"]})
        t_run = (time.perf_counter() - w, time.process_time() - c)
    finally:
        clock.restore()
    return made, result, t_new, t_run, clock.times


def _rows(case, made, result, t_new, t_run, stages, target, n_rows):
    from osgeo import ogr

    ds = ogr.Open(result["RESULTS"])
    cells = ds.GetLayerByName("zones").GetFeatureCount()
    clean = next(ds.GetLayerByName(n).GetFeatureCount() for n in
                 (ds.GetLayerByIndex(i).GetName() for i in range(ds.GetLayerCount()))
                 if n.startswith("clean_"))
    ds = None
    rows = [{"case": case, "what": "newrecipe (read the archive, areas, recipe)",
             "value": round(t_new[0], 2), "unit": "s", "target": "",
             "note": f"CPU {t_new[1]:.1f} s; {made['ISSUES']} issues, period {made['PERIOD']}"},
            {"case": case, "what": "runrecipe end to end", "value": round(t_run[0], 1),
             "unit": "s", "target": f"< {target:g} s",
             "note": f"CPU {t_run[1]:.1f} s; {n_rows:,} rows, {clean:,} clean points, "
                     f"{cells:,} cells; skipped: {result['SKIPPED'] or 'none'}"}]
    for stage, (wall, cpu) in stages.items():
        if stage in (result["SKIPPED"] or "").split(","):
            continue
        rows.append({"case": case, "what": f"  stage {stage}", "value": round(wall, 2),
                     "unit": "s", "target": "", "note": f"CPU {cpu:.2f} s"})
    return rows


def _per_issue_aggregate(tmp, recipe_path):
    """The month's recipe with one filter per issue instead of the category field (as recipes
    were before the one pass): the import, grid and population stages, then the aggregate stage
    timed. Returns (wall, CPU, aggregatepat calls)."""
    import json

    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    with open(recipe_path, encoding="utf-8") as handle:
        doc = json.load(handle)
    for theme in doc["themes"]:
        for issue in theme["issues"]:
            role = issue["roles"]["locations"]
            del role["category_field"]
            role["filter"] = f"\"issue\" = '{issue['name']}'"
    doc.pop("compare", None)
    doc.pop("baseline", None)
    doc["output"] = {"folder": "per_issue_output"}
    path = os.path.join(os.path.dirname(recipe_path), "per_issue.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    runner = RecipeRunner(path, QgsProcessingContext(), QgsProcessingFeedback())
    calls = []
    original = runner.run_child

    def counted(alg_id, params, feedback):
        calls.append(alg_id)
        return original(alg_id, params, feedback)

    runner.run_child = counted
    try:
        os.makedirs(runner.folder, exist_ok=True)
        for stage in ("import", "geography", "population"):
            getattr(runner, f"stage_{stage}")(runner.log)
        w, c = time.perf_counter(), time.process_time()
        runner.stage_aggregate(runner.log)
        return time.perf_counter() - w, time.process_time() - c, \
            calls.count("compositeindex:aggregatepat")
    finally:
        runner.release()


def run(size="large"):
    from composite_index_plugin.processing.standalone import start_qgis

    start_qgis(gui=False)
    tmp = tempfile.mkdtemp(prefix="bench_quickstart_")
    rows = []
    try:
        archive = _archive(os.path.join(tmp, "wy_months.zip"),
                           {"2016-07": "2016-07", "2017-07": "2017-07"})
        _made, before, _tn, _tr, _st = _case(tmp, "wy_2016_07", archive, "2016-07")
        previous = before["RESULTS"]
        case = "West Yorkshire July 2017, 13 crime types, 250 m hexagons"
        made, result, t_new, t_run, stages = _case(tmp, "wy_2017_07", archive, "2017-07",
                                                   previous, "2016-07")
        rows += _rows(case, made, result, t_new, t_run, stages, TARGET_MONTH, 28537)
        wall, cpu, n_calls = _per_issue_aggregate(tmp, made["OUTPUT"])
        rows.append({"case": case, "what": "  stage aggregate with one filter per issue",
                     "value": round(wall, 2), "unit": "s", "target": "",
                     "note": f"CPU {cpu:.2f} s; {n_calls} aggregatepat calls (the one pass above "
                             "is 1 call)"})
        if size != "small":
            year = {f"2017-{m:02d}": ("2016-07" if m % 2 else "2017-07") for m in range(1, 13)}
            archive = _archive(os.path.join(tmp, "wy_2017.zip"), year)
            case = "West Yorkshire 2017 (12 months made from the 2 real ones), 13 crime types"
            made, result, t_new, t_run, stages = _case(tmp, "wy_2017", archive, "2017-01,2017-12",
                                                       previous, "2016-07")
            rows += _rows(case, made, result, t_new, t_run, stages, TARGET_YEAR,
                          6 * 27176 + 6 * 28537)
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "large"):
        print(row)
