"""Benchmark: points read from PostGIS into the aggregation, beside the same points from a GeoPackage.

A throwaway PostgreSQL 15 + PostGIS 3 server (tests/postgis/pgcluster.py) gets a table of
``size`` seeded random points over Birmingham's bounding box (primary key, GiST index, an
``issue`` text column and a ``harm`` weight); ogr2ogr copies the same table to a GeoPackage. The
timed part is ``compositeindex:aggregatepat`` end to end onto a 500 m hexagon grid of the study
area (reading, binning, writing the zones), for:

* the GeoPackage (OGR Arrow reader),
* the PostGIS table (feature-request reader: only the needed columns travel),
* the PostGIS table with a filter on ``issue`` and the weight field (server-side filter),
* the PostGIS table restricted to the study area's bounding box (``connections.restrict_to_extent``),
* and, read only, the fast PostGIS reader ``io_points.read_postgis_arrow`` (OGR Arrow batches).

The counts from every case must agree (the run fails otherwise).

``run(size)`` -> rows ``{"case", "what", "value", "unit", "target", "note"}``; size "small" is
100,000 points, "large" 1,000,000. Run alone:
``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_postgis.py [small|large|<n>]``.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SIZES = {"small": 100_000, "large": 1_000_000}
SAMPLE = os.path.join(ROOT, "resources", "sample", "birmingham.gpkg")
# Birmingham's extent (EPSG:27700) with a margin, so some points fall outside the study area
BOX = (395000.0, 273000.0, 421000.0, 304000.0)


def _aggregate(points, grid, filter_expr="", weight=""):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    params = {"ZONES": grid, "ISSUE": "bench", "VICTIMS": points, "OUTPUT": "TEMPORARY_OUTPUT"}
    if filter_expr:
        params["VICTIMS_FILTER"] = filter_expr
    if weight:
        params["VICTIMS_WEIGHT"] = weight
    t0 = time.perf_counter()
    out = processing.run("compositeindex:aggregatepat", params, context=QgsProcessingContext(),
                         feedback=QgsProcessingFeedback())["OUTPUT"]
    seconds = time.perf_counter() - t0
    total = sum(f["bench_victims"] for f in out.getFeatures())
    return seconds, total


def run(size="small"):
    import processing
    from qgis.core import (
        QgsApplication,
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsVectorLayer,
    )

    from composite_index_plugin.processing import connections, io_points
    from composite_index_plugin.processing.provider import CompositeIndexProvider
    from tests.postgis.pgcluster import PgCluster

    n = SIZES.get(size, None) or int(size)
    registry = QgsApplication.processingRegistry()
    provider = None
    if registry.providerById("compositeindex") is None:
        provider = CompositeIndexProvider()
        registry.addProvider(provider)
    folder = tempfile.mkdtemp(prefix="bench_postgis_")
    cluster = PgCluster()
    rows = []
    try:
        cluster.start()
        x0, y0, x1, y1 = BOX
        t0 = time.perf_counter()
        cluster.psql(
            "SELECT setseed(0.42); "
            f"CREATE TABLE pts AS SELECT g AS fid, ST_SetSRID(ST_MakePoint({x0} + random() * {x1 - x0}, "
            f"{y0} + random() * {y1 - y0}), 27700)::geometry(Point, 27700) AS geom, "
            "(ARRAY['burglary', 'robbery', 'asb', 'vehicle_crime'])[1 + (g % 4)] AS issue, "
            f"round((random() * 10)::numeric, 1)::float8 AS harm FROM generate_series(1, {n}) g; "
            "ALTER TABLE pts ADD PRIMARY KEY (fid); CREATE INDEX ON pts USING GIST (geom); ANALYZE pts")
        load_s = time.perf_counter() - t0
        gpkg = os.path.join(folder, "pts.gpkg")
        subprocess.run(["ogr2ogr", "-f", "GPKG", gpkg, cluster.gdal_dsn(), "pts", "-nln", "pts"],
                       check=True, capture_output=True, timeout=1200)
        grid = processing.run("compositeindex:creategrid", {
            "STUDY_AREA": f"{SAMPLE}|layername=study_area", "SHAPE": 1, "SIZE": 500,
            "OUTPUT": "TEMPORARY_OUTPUT"}, context=QgsProcessingContext(),
            feedback=QgsProcessingFeedback())["OUTPUT"]
        pg_uri = "postgres://" + cluster.layer_uri("pts", key="fid")
        gpkg_uri = f"{gpkg}|layername=pts"
        g_s, g_total = _aggregate(gpkg_uri, grid)
        p_s, p_total = _aggregate(pg_uri, grid)
        flt = "\"issue\" = 'burglary'"
        gf_s, gf_total = _aggregate(gpkg_uri, grid, flt, "harm")
        pf_s, pf_total = _aggregate(pg_uri, grid, flt, "harm")
        # bounding box of the study area, applied on the server (uses the GiST index)
        layer = QgsVectorLayer(cluster.layer_uri("pts", key="fid"), "pts", "postgres")
        t0 = time.perf_counter()
        kept, left = connections.restrict_to_extent(layer, grid.extent(), grid.crs())
        bbox_sql_s = time.perf_counter() - t0
        b_s, b_total = _aggregate(layer, grid)
        # the fast reader alone (OGR's PostgreSQL driver + Arrow), read only, all points
        full = QgsVectorLayer(cluster.layer_uri("pts", key="fid"), "pts", "postgres")
        t0 = time.perf_counter()
        fast = io_points.read_postgis_arrow(full, ["harm"])
        a_s = time.perf_counter() - t0
        if fast is None or len(fast) != n:
            raise AssertionError("read_postgis_arrow did not read every point")
        if not (g_total == p_total == b_total and gf_total == pf_total):
            raise AssertionError(f"counts differ: gpkg {g_total}, postgis {p_total}, bbox {b_total}; "
                                 f"filtered gpkg {gf_total}, postgis {pf_total}")
        note = f"{n:,} points, {grid.featureCount():,} hexagons of 500 m; {g_total:,} counted"
        rows += [
            {"case": f"aggregate {n:,} points", "what": "GeoPackage (OGR Arrow)", "value": round(g_s, 2),
             "unit": "s", "target": "", "note": note},
            {"case": f"aggregate {n:,} points", "what": "PostGIS table", "value": round(p_s, 2),
             "unit": "s", "target": "", "note": f"{p_s / g_s:.1f} x the GeoPackage time"},
            {"case": f"aggregate {n:,} points", "what": "PostGIS, study-area bounding box",
             "value": round(b_s, 2), "unit": "s", "target": "",
             "note": f"{left:,} points outside the box not read (filter set in {bbox_sql_s:.2f} s)"},
            {"case": f"read {n:,} points + weight", "what": "PostGIS, OGR Arrow reader",
             "value": round(a_s, 2), "unit": "s", "target": "",
             "note": "io_points.read_postgis_arrow, read only (what aggregatepat uses for PostGIS points)"},
            {"case": f"aggregate {n:,} points, filter + weight", "what": "GeoPackage",
             "value": round(gf_s, 2), "unit": "s", "target": "", "note": f"{gf_total:,} counted"},
            {"case": f"aggregate {n:,} points, filter + weight", "what": "PostGIS table",
             "value": round(pf_s, 2), "unit": "s", "target": "",
             "note": f"{pf_s / gf_s:.1f} x the GeoPackage time"},
            {"case": f"load {n:,} points into PostGIS", "what": "SQL generate + index",
             "value": round(load_s, 2), "unit": "s", "target": "", "note": "set-up, not the reader"},
        ]
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
        if provider is not None:
            registry.removeProvider(provider)
    return rows


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from composite_index_plugin.processing.standalone import start_qgis

    start_qgis()
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "small"):
        print(f"{row['case']:42s} {row['what']:34s} {row['value']:>8} {row['unit']}  {row['note']}")
