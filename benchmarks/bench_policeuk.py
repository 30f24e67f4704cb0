"""Benchmark: from a police.uk download to counts per issue (issue 17), on the real West
Yorkshire months in tests/data.

Cases (the same for ``small`` and ``large``; the data is one real month and does not scale):

* import: the two months (July 2016 and July 2017, 55,713 rows) as a police.uk ZIP archive
  (``2016-07/2016-07-west-yorkshire-street.csv`` ...) in one ``importincidents`` call, with the
  2011 LSOAs as study area (default 50 m buffer);
* grid: 250 m flat-top hexagons over the LSOAs (about 38,000 cells);
* aggregation of the July 2016 month (25,829 crimes with a location) onto that grid for the 13
  police.uk crime types (every type but anti-social behaviour), as the issue describes:
  ``aggregatepat`` once with a category field (one read of the points, one bincount) against 13
  ``aggregatepat`` runs each filtered to one issue. The counts of both ways are compared.

Everything runs in this process through ``QgsProcessingAlgorithm.run`` (Processing's own entry
point), writing GeoPackages as the recipe runner does. ``run(size)`` -> table rows.
Run alone: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_policeuk.py``.
"""
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
MONTHS = ("2016-07", "2017-07")
CRIME_ISSUES = ("bicycle_theft", "burglary", "criminal_damage_arson", "drugs", "other_crime",
                "other_theft", "possession_of_weapons", "public_order", "robbery", "shoplifting",
                "theft_from_the_person", "vehicle_crime", "violence_sexual_offences")


def _run(alg_id, params):
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback

    alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
    res, ok = alg.run(params, QgsProcessingContext(), QgsProcessingFeedback())
    if not ok:
        raise RuntimeError(f"{alg_id} failed")
    return res


def _counts(path, fields):
    from osgeo import ogr

    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    out = {f: [] for f in fields}
    for feature in layer:
        for f in fields:
            out[f].append(feature.GetField(f))
    return out


def run(size="large"):
    from composite_index_plugin.processing.standalone import start_qgis

    start_qgis(gui=False)
    tmp = tempfile.mkdtemp(prefix="bench_policeuk_")
    rows = []
    try:
        archive = os.path.join(tmp, "policeuk.zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for m in MONTHS:
                zf.write(os.path.join(WY, f"{m}-west-yorkshire-street.csv"),
                         f"{m}/{m}-west-yorkshire-street.csv")
        lsoa = os.path.join(WY, "lsoa11.geojson")
        case = "West Yorkshire police.uk, 2 months"
        t0 = time.perf_counter()
        imp = _run("compositeindex:importincidents", {
            "ARCHIVE": archive, "STUDY_AREA": lsoa, "CLEAN": os.path.join(tmp, "clean.gpkg"),
            "REJECTED": os.path.join(tmp, "rejected.gpkg"), "REPORT": os.path.join(tmp, "r.html")})
        rows.append({"case": case, "what": "import the ZIP archive (2 monthly files) in one call",
                     "value": round(time.perf_counter() - t0, 2), "unit": "s", "target": "",
                     "note": f"{imp['ROWS_IN']:,} rows = {imp['CLEAN_COUNT']:,} clean + "
                             f"{imp['REJECTED_COUNT']:,} rejected; study area = the 1,388 LSOAs, "
                             "50 m buffer"})
        t0 = time.perf_counter()
        grid = _run("compositeindex:creategrid", {
            "STUDY_AREA": lsoa, "SHAPE": 1, "SIZE": 250, "TARGET_CRS": "EPSG:27700",
            "OUTPUT": os.path.join(tmp, "grid.gpkg")})
        rows.append({"case": case, "what": "grid of 250 m hexagons over the LSOAs",
                     "value": round(time.perf_counter() - t0, 2), "unit": "s", "target": "",
                     "note": f"{grid['CELLS']:,} cells"})
        month = f"{imp['CLEAN']}|layername=clean"
        points = _run("native:extractbyattribute", {
            "INPUT": month, "FIELD": "period", "OPERATOR": 0, "VALUE": MONTHS[0],
            "OUTPUT": os.path.join(tmp, "month.gpkg")})["OUTPUT"]
        case = "West Yorkshire July 2016, 13 crime types, 250 m hexagons"
        t0 = time.perf_counter()
        one = _run("compositeindex:aggregatepat", {
            "ZONES": grid["OUTPUT"], "LOCATIONS": points, "LOCATIONS_CATEGORY": "issue",
            "ISSUES": ",".join(CRIME_ISSUES), "OUTPUT": os.path.join(tmp, "one.gpkg")})
        t_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        outs = []
        for issue in CRIME_ISSUES:
            outs.append(_run("compositeindex:aggregatepat", {
                "ZONES": grid["OUTPUT"], "LOCATIONS": points, "ISSUE": issue,
                "LOCATIONS_FILTER": f"\"issue\" = '{issue}'",
                "OUTPUT": os.path.join(tmp, f"per_{issue}.gpkg")}))
        t_many = time.perf_counter() - t0
        fields = [f"{i}_locations" for i in CRIME_ISSUES]
        got = _counts(one["OUTPUT"], fields)
        same = all(_counts(o["OUTPUT"], [f])[f] == got[f] for o, f in zip(outs, fields))
        n = sum(sum(v) for v in got.values())
        rows.append({"case": case, "what": "aggregatepat, all 13 issues in one pass",
                     "value": round(t_one, 2), "unit": "s", "target": "",
                     "note": f"{n:,} crimes counted into 13 fields; one read of the points"})
        rows.append({"case": case, "what": "aggregatepat, 13 separate runs (one per issue)",
                     "value": round(t_many, 2), "unit": "s", "target": "",
                     "note": f"{t_many / len(CRIME_ISSUES):.2f} s per run, filter on issue; counts "
                             f"{'identical to' if same else 'DIFFERENT FROM'} the one pass"})
        rows.append({"case": case, "what": "speed-up of the one pass", "value":
                     round(t_many / t_one, 1), "unit": "x", "target": "", "note": ""})
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "large"):
        print(row)
