"""Shared pieces of the end-to-end benchmarks (not a benchmark itself: no ``bench_`` prefix).

* ``make_zones``: a GeoPackage of ``n_side**2`` square 100 m cells (our grid fields row/col, so
  hotspots find the grid contiguity) with seeded counts and a population, written by the bulk
  writer;
* ``in_subprocess``: run a script in its own Python process (PyQGIS started when asked), so each
  side's peak memory (VmHWM of /proc/self/status) is its own; the script prints ``RESULT {json}``.
"""
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNT_FIELDS = ("ew_victims", "ew_offenders", "ew_locations")

# The start of every child script: peak memory (VmHWM) and the repository on the path; with
# PyQGIS started and ``args`` read from the command line for QGIS_HEAD. Formatted with root=.
HWM = '''
def _hwm():
    with open("/proc/self/status") as status:
        return next(int(x.split()[1]) for x in status if x.startswith("VmHWM")) / 1024
'''
_HEAD = "\nimport json, os, resource, sys, time\n" + HWM.lstrip("\n") + "sys.path.insert(0, {root!r})\n"
QGIS_HEAD = _HEAD + """from composite_index_plugin.processing.standalone import start_qgis
start_qgis(gui=False)
import processing
from qgis.core import QgsProcessingContext, QgsProcessingFeedback
args = json.loads(sys.argv[1])
"""

QGIS_PRELUDE = QGIS_HEAD + """out = {{}}
def run(alg, params):
    return processing.run(alg, params, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())
def peak():
    return _hwm()
"""

PLAIN_PRELUDE = _HEAD + """args = json.loads(sys.argv[1])
out = {{}}
def peak():
    return _hwm()
"""


def in_subprocess(body, args, qgis=True, timeout=3600):
    prelude = QGIS_PRELUDE if qgis else PLAIN_PRELUDE
    script = prelude.format(root=ROOT) + body
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", script, json.dumps(args)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"benchmark subprocess failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def make_zones(path, n_side, seed=1):
    """Square 100 m cells (row, col, grid_* fields), seeded population and three counts."""
    import pandas as pd
    from osgeo import ogr, osr

    from composite_index_plugin.core.grid import GridSpec
    from composite_index_plugin.processing import gpkg_fast

    if os.path.exists(path):
        os.remove(path)
    sr = osr.SpatialReference()
    sr.ImportFromEPSG(27700)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    lyr = ds.CreateLayer("zones", sr, ogr.wkbMultiPolygon)
    for name in (*COUNT_FIELDS, "population", "grid_size", "grid_x0", "grid_y0"):
        lyr.CreateField(ogr.FieldDefn(name, ogr.OFTReal))
    for name, kind in (("row", ogr.OFTInteger), ("col", ogr.OFTInteger),
                       ("grid_shape", ogr.OFTString)):
        lyr.CreateField(ogr.FieldDefn(name, kind))
    ds = None
    spec = GridSpec("square", 100.0)
    a, b = np.divmod(np.arange(n_side * n_side, dtype=np.int64), n_side)
    rng = np.random.default_rng(seed)
    population = rng.integers(0, 400, len(a)).astype(float)
    hot = np.exp(-((a - n_side * 0.3) ** 2 + (b - n_side * 0.6) ** 2) / (2 * (n_side * 0.05) ** 2))
    frame = pd.DataFrame({
        "ew_victims": rng.poisson(population * 0.01 * (1 + 4 * hot)).astype(float),
        "ew_offenders": rng.poisson(population * 0.005 * (1 + 4 * hot)).astype(float),
        "ew_locations": rng.poisson(population * 0.02 + 1 + 10 * hot).astype(float),
        "population": population, "grid_size": 100.0, "grid_x0": 0.0, "grid_y0": 0.0,
        "row": a, "col": b, "grid_shape": "square"})
    blobs, bounds = gpkg_fast.polygon_blobs(spec.vertices(a, b),
                                            gpkg_fast.layer_srs_id(path), multi=True)
    if not gpkg_fast.fill_layer(path, frame, blobs, bounds):
        raise RuntimeError("could not write the zones")
    return path


def index_spec(fields=COUNT_FIELDS):
    """30 indicators over three count fields: volume, rate per population and global EB rate
    under z-score / min-max / percentile / rank / exponential scaling; one theme per field."""
    scalings = ["zscore", "minmax", "percentile", "rank", "exponential"]
    measures = [("volume", None), ("rate", "population"), ("eb_rate", "population")]
    themes, k = [], 0
    for field in fields:
        issues = []
        for m, (measure, den) in enumerate(measures):
            inds = {}
            for j in range(4 if m == 0 else 3):
                ind = {"field": field, "measure": measure, "scaling": scalings[(k + j) % 5],
                       "weight": 1 + j % 2}
                if den:
                    ind["denominator"] = den
                inds[f"i{j}"] = ind
            k += len(inds)
            issues.append({"name": f"{field}_{measure}", "indicators": inds})
        themes.append({"name": field.replace("ew_", ""), "weight": 1, "issues": issues})
    assert sum(len(i["indicators"]) for th in themes for i in th["issues"]) == 30
    return {"themes": themes, "aggregation": {"issue": "mean", "theme": "mean", "composite": "mean"}}
