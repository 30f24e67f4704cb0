"""make demo: the Birmingham sample, end to end, headless.

1. Copies the real Birmingham boundaries, population and IMD 2025 and generates the SYNTHETIC
   incidents for two years (agency CSV files with a few dirty rows, and clean GeoPackages).
2. Writes one recipe per year (output/demo/input/recipe_<year>.json).
3. Runs compositeindex:runrecipe for the first year (output/demo/<year>/), then for the second
   year (output/demo/) comparing with the first.
4. Prints what it made.
Usage: python scripts/demo.py [--size tiny|default|large] [--out output/demo] [--inputs DIR]
``--inputs DIR`` reuses the input files of an earlier demo (DIR = its ``input`` folder) instead of
generating them: the QGIS version matrix runs the same files on every version and compares the
scores (``scripts/compare_versions.py``), since numpy's random streams may differ between versions.
"""
import argparse
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="default")
    parser.add_argument("--out", default=os.path.join(ROOT, "output", "demo"))
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--inputs", help="the input folder of an earlier demo, reused as it is")
    args = parser.parse_args()

    from composite_index_plugin.processing.standalone import start_qgis

    start_qgis()
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsVectorLayer

    from composite_index_plugin.processing import sample_io
    from composite_index_plugin.processing.sample_recipe import write_sample_recipes

    out = os.path.abspath(args.out)
    inp = os.path.join(out, "input")
    os.makedirs(inp, exist_ok=True)
    t0 = time.time()
    if args.inputs:
        source = os.path.abspath(args.inputs)
        if not os.path.isfile(os.path.join(source, "birmingham.gpkg")):
            sys.exit(f"demo: {source} is not the input folder of a demo (no birmingham.gpkg)")
        if source != inp:
            shutil.rmtree(inp)
            shutil.copytree(source, inp, ignore=shutil.ignore_patterns("recipe_*.json", "*-wal", "*-shm"))
        print(f"Input files reused from {source}")
    else:
        shutil.copy(sample_io.SAMPLE_GPKG, os.path.join(inp, "birmingham.gpkg"))
        made = sample_io.make_sample(os.path.join(inp, "synthetic"), size=args.size, seed=args.seed,
                                     years=(2024, 2025))
        print(f"Synthetic sample ({args.size}, seed {args.seed}) in {time.time() - t0:.1f} s:")
        for year, info in made.items():
            print(f"  {year}: " + ", ".join(f"{k} {v:,}" for k, v in info["counts"].items()))
    recipes = write_sample_recipes(inp, out)

    class Feedback(QgsProcessingFeedback):
        def setProgressText(self, text):
            print(f"  - {text}", flush=True)

        def reportError(self, text, fatalError=False):
            print(f"  ! {text}", flush=True)

    results = {}
    for year, recipe in recipes.items():
        print(f"Running the {year} assessment ({os.path.relpath(recipe, ROOT)})", flush=True)
        t1 = time.time()
        context = QgsProcessingContext()
        # the recipes (in input/) write their results beside that folder: allowed for the run
        result = processing.run("compositeindex:runrecipe",
                                {"RECIPE": recipe, "ALLOWED_FOLDERS": out}, context=context,
                                feedback=Feedback())
        results[year] = result
        print(f"  done in {time.time() - t1:.1f} s", flush=True)

    last = results[max(results)]
    folder = last["FOLDER"]
    print(f"\nMade in {os.path.relpath(folder, ROOT)}/:")
    for name in sorted(os.listdir(folder)):
        full = os.path.join(folder, name)
        if os.path.isfile(full) and not name.endswith(("-wal", "-shm")):
            print(f"  {name:34s} {os.path.getsize(full) / 1024:10.0f} KB")
    from osgeo import ogr

    ds = ogr.Open(last["RESULTS"])
    print("Layers in the results GeoPackage:")
    for layer in ds:
        print(f"  {layer.GetName():28s} {layer.GetFeatureCount():8,d} features")
    summary = QgsVectorLayer(f"{last['RESULTS']}|layername=area_summary", "s", "ogr")
    if summary.isValid() and "area_rank" in summary.fields().names():
        rows = sorted(summary.getFeatures(), key=lambda f: f["area_rank"])
        print("Areas by need (1 = highest):")
        for f in rows:
            print(f"  {int(f['area_rank']):>2}  {f['area_name']:28s} mean score {f['mean_score']:.3f}"
                  f"  top theme: {f['top_theme_1']}")
    if last.get("SKIPPED"):
        print(f"Stages not in this version: {last['SKIPPED']}")
    print(f"\nOpen {os.path.relpath(last['PROJECT'], ROOT)} in QGIS to explore the styled layers.")
    print(json.dumps({"total_seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
