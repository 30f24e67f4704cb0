"""Benchmark: one recipe year of the Birmingham sample, every stage, through ``runrecipe``.

The sample (``processing.sample_io.make_sample``: SYNTHETIC incidents as agency CSV files, 8
issues x 3 roles) is made first (not timed); then ``compositeindex:runrecipe`` runs the first
year's recipe (import, grid, population, aggregation, index, hotspots, hotspot zones, summaries,
sensitivity, project, map and the PDF layout) in its own PyQGIS process, as ``make demo`` does.
``large``: the sample generator's ``large`` size (about 1,000,000 points in a year); ``small``:
its ``default`` size.

Run alone: ``.venv/bin/python benchmarks/bench_recipe.py [small|large]``.
"""
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import io_cases  # noqa: E402

_RUN = """
t, c = time.perf_counter(), time.process_time()
res = run("compositeindex:runrecipe", {"RECIPE": args["recipe"], "ALLOWED_FOLDERS": args["out"]})
out["total_s"] = time.perf_counter() - t
out["cpu_s"] = time.process_time() - c
out["load"] = os.getloadavg()[0]
out["maxrss_mb"] = peak()
import re
log = open(res["LOG"], encoding="utf-8").read()
out["stages"] = len(re.findall(r" STEP ", log))
skipped = res.get("SKIPPED") or []
out["skipped"] = [s for s in skipped.split(",") if s] if isinstance(skipped, str) else list(skipped)
times = re.search(r"Stage times \\(wall / CPU of this process\\): (.*)", log)
out["stage_times"] = times.group(1).strip() if times else ""
print("RESULT " + json.dumps(out))
"""


def run(size="small"):
    from composite_index_plugin.processing import sample_io
    from composite_index_plugin.processing.sample_recipe import write_sample_recipes

    sample_size = "large" if size == "large" else "default"
    with tempfile.TemporaryDirectory(prefix="bench_recipe_") as folder:
        inp = os.path.join(folder, "input")
        os.makedirs(inp)
        t = time.perf_counter()
        shutil.copy(sample_io.SAMPLE_GPKG, os.path.join(inp, "birmingham.gpkg"))
        made = sample_io.make_sample(os.path.join(inp, "synthetic"), size=sample_size, seed=2024,
                                     years=(2024,))
        recipes = write_sample_recipes(inp, os.path.join(folder, "out"))
        prep = time.perf_counter() - t
        year = min(recipes)
        got = io_cases.in_subprocess(_RUN, {"recipe": recipes[year],
                                            "out": os.path.join(folder, "out")})
    counts = made[year]["counts"] if year in made else next(iter(made.values()))["counts"]
    points = sum(v for v in counts.values() if isinstance(v, int))
    case = f"recipe year, sample size {sample_size} ({points:,} rows)"
    return [
        {"case": case, "what": "sample made (not timed below)", "value": round(prep, 1), "unit": "s",
         "target": "", "note": ", ".join(f"{k} {v:,}" for k, v in counts.items())},
        {"case": case, "what": "runrecipe, every stage (one processing.run, in-process)",
         "value": round(got["total_s"], 1), "unit": "s",
         "target": "< 30 s" if size == "large" else "",
         "note": f"the recipe's stages (import from CSV, grid, population, 8 issues x 3 roles, "
                 f"index, hotspots, summaries, project, map, PDF); skipped: "
                 f"{', '.join(got['skipped']) or 'none'}; CPU {got['cpu_s']:.1f} s, load average "
                 f"{got['load']:.1f} at the end"},
        {"case": case, "what": "runrecipe: time of each stage (wall / CPU)",
         "value": "", "unit": "", "target": "", "note": got["stage_times"] or "not logged"},
        {"case": case, "what": "peak memory", "value": round(got["maxrss_mb"]), "unit": "MB",
         "target": "", "note": "VmHWM, QGIS included"},
    ]


if __name__ == "__main__":
    from composite_index_plugin.processing.standalone import start_qgis

    start_qgis(gui=False)
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "small"):
        print(row)
