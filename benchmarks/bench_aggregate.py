"""Benchmark: counting points onto a hexagon grid, ours against QGIS's own chain, side by side.

Case (``large``): 1,000,000 synthetic points (seeded; uniform over Birmingham's extent in
EPSG:27700 with a third of them in Gaussian clusters) split over three role layers (victims,
offenders, locations) in one GeoPackage, counted onto a 100 m flat-top hexagon grid covering the
extent of ``tests/data/birmingham/lsoa21.gpkg`` (about 101,000 cells).

* ours: ``compositeindex:creategrid`` (written to a GeoPackage, as a grid kept for years would
  be) then ``compositeindex:aggregatepat`` with the three layers, written to a GeoPackage (read,
  bin, write);
* QGIS: ``native:creategrid`` (hexagons of the same size) then ``native:countpointsinpolygon``
  once per role layer (each on the previous output), written to a GeoPackage.

Each side runs in its own Python process so its peak memory (``ru_maxrss``, which includes the
QGIS libraries, about 200 MB) is its own. ``small``: 100,000 points on a 250 m grid (about 16,000
cells), under a minute. Scaling rows time the core steps (arithmetic binning, zone lookup,
bincount) in this process for 10^4..10^6 points and 10^3..10^6 cells.

``run(size)`` -> rows ``{"case", "what", "value", "unit", "target", "note"}``.
Run alone: ``.venv/bin/python benchmarks/bench_aggregate.py [small|large]``.
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

# Birmingham and Solihull LSOAs (real data copied into tests/data)
STUDY = os.path.join(ROOT, "tests", "data", "birmingham", "lsoa21.gpkg")
SIZES = {"large": (1_000_000, 100.0), "small": (100_000, 250.0)}
ROLES = ("victims", "offenders", "locations")
EXTENT = (397807.692, 272225.366, 427774.902, 301222.0296)  # lsoa21.gpkg, EPSG:27700


def study_extent():
    """Extent of the Birmingham LSOAs (read with OGR; the constant is the fallback)."""
    try:
        from osgeo import ogr

        ds = ogr.Open(STUDY)
        xmin, xmax, ymin, ymax = ds.GetLayer(0).GetExtent()
        return (xmin, ymin, xmax, ymax)
    except Exception:  # noqa: BLE001 - fall back to the recorded extent
        return EXTENT


def make_points(folder, n_total, extent, seed=2024):
    """Three seeded point layers in one GeoPackage (written by GDAL from a CSV, no Python loop)."""
    from osgeo import gdal

    gdal.UseExceptions()
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = extent
    path = os.path.join(folder, "points.gpkg")
    for k, role in enumerate(ROLES):
        n = n_total // 3 + (1 if k < n_total % 3 else 0)
        n_cluster = n // 3
        centres = np.column_stack([rng.uniform(xmin, xmax, 40), rng.uniform(ymin, ymax, 40)])
        pick = rng.integers(0, 40, n_cluster)
        cx = np.clip(centres[pick, 0] + rng.normal(0, 400, n_cluster), xmin, xmax)
        cy = np.clip(centres[pick, 1] + rng.normal(0, 400, n_cluster), ymin, ymax)
        x = np.concatenate([rng.uniform(xmin, xmax, n - n_cluster), cx])
        y = np.concatenate([rng.uniform(ymin, ymax, n - n_cluster), cy])
        harm = rng.integers(1, 10, n)
        csv = os.path.join(folder, f"{role}.csv")
        with open(csv, "w", encoding="ascii") as handle:
            handle.write("x,y,harm\n")
            np.savetxt(handle, np.column_stack([x, y, harm]), fmt=["%.3f", "%.3f", "%d"], delimiter=",")
        src = gdal.OpenEx(csv, gdal.OF_VECTOR, open_options=["X_POSSIBLE_NAMES=x", "Y_POSSIBLE_NAMES=y",
                                                             "AUTODETECT_TYPE=YES"])
        gdal.VectorTranslate(path, src, format="GPKG", accessMode="append" if k else None, layerName=role,
                             dstSRS="EPSG:27700", srcSRS="EPSG:27700", geometryType="POINT")
        src = None
        os.remove(csv)
    return path


def study_polygon(folder, extent):
    """The extent as a one-polygon GeoPackage, so both sides grid the same rectangle."""
    from osgeo import ogr, osr

    path = os.path.join(folder, "extent.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    sr = osr.SpatialReference()
    sr.ImportFromEPSG(27700)
    layer = ds.CreateLayer("extent", sr, ogr.wkbPolygon)
    xmin, ymin, xmax, ymax = extent
    f = ogr.Feature(layer.GetLayerDefn())
    f.SetGeometry(ogr.CreateGeometryFromWkt(
        f"POLYGON(({xmin} {ymin}, {xmax} {ymin}, {xmax} {ymax}, {xmin} {ymax}, {xmin} {ymin}))"))
    layer.CreateFeature(f)
    ds = None
    return path


_PRELUDE = """
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
from composite_index_plugin.processing.standalone import start_qgis
start_qgis(gui=False)
import processing
from qgis.core import QgsProcessingContext, QgsProcessingFeedback
args = json.loads(sys.argv[1])
out = {{}}
class Feedback(QgsProcessingFeedback):
    def pushInfo(self, info):
        if info.startswith("Binning took"):
            out["bin_s"] = float(info.split()[2])
def run(alg, params):
    return processing.run(alg, params, context=QgsProcessingContext(), feedback=Feedback())
"""

_OURS = """
t0 = time.perf_counter()
grid = run("compositeindex:creategrid", {"STUDY_AREA": args["extent"], "SHAPE": 1, "SIZE": args["size"],
                                         "KEEP": 0, "OUTPUT": args["grid"]})
out["grid_s"] = time.perf_counter() - t0
out["cells"] = grid["CELLS"]
t1 = time.perf_counter()
params = {"ZONES": grid["OUTPUT"], "ISSUE": "bench", "OUTPUT": args["dest"]}
for role in ("victims", "offenders", "locations"):
    params[role.upper()] = args["points"] + "|layername=" + role
res = run("compositeindex:aggregatepat", params)
out["aggregate_s"] = time.perf_counter() - t1
out["total_s"] = time.perf_counter() - t0
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from qgis.core import QgsVectorLayer
layer = QgsVectorLayer(res["OUTPUT"])
out["counted"] = sum(sum(f[k] for k in ("bench_victims", "bench_offenders", "bench_locations"))
                     for f in layer.getFeatures())
print("RESULT " + json.dumps(out))
"""

_NATIVE = """
xmin, ymin, xmax, ymax = args["bbox"]
size = args["size"]
t0 = time.perf_counter()
grid = run("native:creategrid", {"TYPE": 4, "EXTENT": f"{xmin},{xmax},{ymin},{ymax} [EPSG:27700]",
                                 "HSPACING": size * 3 ** 0.5 / 2, "VSPACING": size, "HOVERLAY": 0,
                                 "VOVERLAY": 0, "CRS": "EPSG:27700", "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
out["grid_s"] = time.perf_counter() - t0
layer = grid
roles = ("victims", "offenders", "locations")
for k, role in enumerate(roles):
    t = time.perf_counter()
    dest = args["dest"] if k == len(roles) - 1 else "TEMPORARY_OUTPUT"
    points = args["points"] + "|layername=" + role
    layer = run("native:countpointsinpolygon", {"POLYGONS": layer, "POINTS": points,
                                                "FIELD": "n_" + role, "OUTPUT": dest})["OUTPUT"]
    out["count_" + role + "_s"] = time.perf_counter() - t
out["total_s"] = time.perf_counter() - t0
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from qgis.core import QgsVectorLayer
final = QgsVectorLayer(layer) if isinstance(layer, str) else layer
out["cells"] = final.featureCount()
out["counted"] = sum(sum(f["n_" + r] for r in roles) for f in final.getFeatures())
print("RESULT " + json.dumps(out))
"""


def _subprocess(body, args, timeout=1800):
    script = _PRELUDE.format(root=ROOT) + body
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", script, json.dumps(args)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"benchmark subprocess failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def scaling_rows(size):
    """Core timings (bin + zone lookup + bincount) as points and cells grow."""
    from composite_index_plugin.core.aggregate import count_points, zone_index_for_grid
    from composite_index_plugin.core.grid import GridSpec

    rows = []
    rng = np.random.default_rng(1)
    side = 30_000.0
    big = 1_000_000 if size == "large" else 100_000
    x_all = rng.uniform(0, side, big)
    y_all = rng.uniform(0, side, big)

    def timed(spec, a, b, x, y):
        best = np.inf
        for _ in range(3):
            t = time.perf_counter()
            zone = zone_index_for_grid(spec, a, b, x, y)
            count_points("locations", len(a), point_zone=zone)
            best = min(best, time.perf_counter() - t)
        return best

    spec = GridSpec("hex_flat", 100.0)
    a, b = spec.cells_in_box(0, 0, side, side)
    for n in [10_000, 100_000, 1_000_000]:
        if n > big:
            continue
        rows.append({"case": "scaling: points", "what": f"{n:,} points onto {len(a):,} hexagons",
                     "value": round(timed(spec, a, b, x_all[:n], y_all[:n]), 4), "unit": "s", "target": "",
                     "note": "core: bin + lookup + count, best of 3"})
    for cells in [1_000, 10_000, 100_000, 1_000_000]:
        if size == "small" and cells > 100_000:
            continue
        width = float(np.sqrt(side * side / cells / (np.sqrt(3) / 2)))
        spec = GridSpec("hex_flat", width)
        a, b = spec.cells_in_box(0, 0, side, side)
        rows.append({"case": "scaling: cells", "what": f"{big:,} points onto {len(a):,} hexagons",
                     "value": round(timed(spec, a, b, x_all, y_all), 4), "unit": "s", "target": "",
                     "note": f"core, cell width {width:.0f} m"})
    return rows


def run(size="small"):
    n_points, cell = SIZES[size]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_aggregate_") as folder:
        extent = study_extent()
        t = time.perf_counter()
        points = make_points(folder, n_points, extent)
        prep = time.perf_counter() - t
        rect = study_polygon(folder, extent)
        case = f"{n_points:,} points in 3 layers, {cell:g} m hexagons"
        ours = _subprocess(_OURS, {"extent": rect, "size": cell, "points": points,
                                   "grid": os.path.join(folder, "grid.gpkg"),
                                   "dest": os.path.join(folder, "ours.gpkg")})
        native = _subprocess(_NATIVE, {"bbox": list(extent), "size": cell, "points": points,
                                       "dest": os.path.join(folder, "native.gpkg")})
    speedup = native["total_s"] / ours["total_s"]
    large = size == "large"  # the targets are set for the large case
    rows += [
        {"case": case, "what": "points prepared (GeoPackage)", "value": round(prep, 1), "unit": "s",
         "target": "", "note": "seeded synthetic, not timed below"},
        {"case": case, "what": "ours: end to end (grid + read + bin + write)",
         "value": round(ours["total_s"], 2), "unit": "s", "target": "",
         "note": f"{ours['cells']:,} cells; grid {ours['grid_s']:.2f} s"},
        {"case": case, "what": "ours: binning (3 layers)", "value": round(ours["bin_s"], 3), "unit": "s",
         "target": "< 0.5 s" if large else "", "note": "arithmetic hexagon binning + zone lookup + counts"},
        {"case": case, "what": "ours: peak memory", "value": round(ours["maxrss_mb"]), "unit": "MB",
         "target": "< 1024 MB" if large else "", "note": "ru_maxrss of our process, QGIS included"},
        {"case": case, "what": "QGIS: end to end (creategrid + 3 x countpointsinpolygon)",
         "value": round(native["total_s"], 2), "unit": "s", "target": "",
         "note": f"{native['cells']:,} cells; grid {native['grid_s']:.2f} s; per layer "
                 + ", ".join(f"{native['count_' + r + '_s']:.1f}" for r in ROLES) + " s"},
        {"case": case, "what": "QGIS: peak memory", "value": round(native["maxrss_mb"]), "unit": "MB",
         "target": "", "note": "ru_maxrss of the QGIS process"},
        {"case": case, "what": "speed-up, end to end", "value": round(speedup, 1), "unit": "x",
         "target": ">= 10 x" if large else "",
         "note": f"points counted: ours {int(ours['counted']):,}, QGIS {int(native['counted']):,} "
                 "(QGIS's hexagons start with a vertex on the extent's edge, leaving small gaps along it)"},
    ]
    rows += scaling_rows(size)
    return rows


if __name__ == "__main__":
    from composite_index_plugin.processing.standalone import start_qgis

    start_qgis(gui=False)
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "small"):
        print(row)
