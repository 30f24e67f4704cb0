"""Benchmark: import and cleanse a police.uk-like CSV (target: 1,000,000 rows under 15 s).

The CSV is generated (seeded) in a temporary folder with the 12-column street-level layout:
~30% anti-social behaviour rows without Crime ID, ~4% rows without coordinates, coordinates
snapped to 20,000 map points, 12 months, plus a few dirty rows (bad dates, duplicated Crime IDs,
swapped lat/lon). The timed part is ``compositeindex:importincidents`` end to end: reading,
validating, transforming to EPSG:27700, writing CLEAN and REJECTED GeoPackages and the report.

Second case: the same rows as a police.uk archive, a ZIP of 12 monthly folders
(``2016-MM/2016-MM-west-yorkshire-street.csv``), imported in one call through ``ARCHIVE``
(members read in memory, months as the period field).

``run(size)`` -> list of rows ``{"case", "what", "value", "unit", "target", "note"}``.
Run alone: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_import.py [rows]``.
"""
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

TARGET_SECONDS = 15.0
SIZES = {"small": 100_000, "large": 1_000_000}
CRIME_TYPES = ["Anti-social behaviour", "Burglary", "Criminal damage and arson", "Drugs",
               "Other theft", "Public order", "Shoplifting", "Vehicle crime",
               "Violence and sexual offences", "Robbery", "Bicycle theft", "Other crime"]
TYPE_P = np.array([30, 8, 10, 3, 8, 6, 5, 7, 18, 1, 2, 2], dtype=float)


def make_policeuk_csv(path, size, seed=20160701):
    """Write a police.uk-like street CSV with ``size`` rows; returns the expected counts."""
    rng = np.random.default_rng(seed)
    n_points = 20000
    plon = np.round(rng.uniform(-2.1, -1.2, n_points), 6)
    plat = np.round(rng.uniform(53.55, 53.95, n_points), 6)
    pt = rng.integers(0, n_points, size)
    lon = pd.Series(plon[pt]).map("{:.6f}".format).to_numpy(object)
    lat = pd.Series(plat[pt]).map("{:.6f}".format).to_numpy(object)
    no_xy = rng.random(size) < 0.04
    lon[no_xy] = ""
    lat[no_xy] = ""
    ctype = rng.choice(len(CRIME_TYPES), size, p=TYPE_P / TYPE_P.sum())
    asb = ctype == 0
    ids = rng.integers(0, 2**63 - 1, size=(size, 4), dtype=np.int64)
    crime_id = pd.Series(ids[:, 0]).map("{:016x}".format).to_numpy(object)
    crime_id = crime_id + pd.Series(ids[:, 1]).map("{:016x}".format).to_numpy(object)
    crime_id[asb] = ""
    months = np.array([f"2016-{m:02d}" for m in range(1, 13)], dtype=object)
    month = months[rng.integers(0, 12, size)]
    # Dirty rows: bad dates, duplicated Crime IDs, swapped lon/lat (all among rows with coords).
    k = max(size // 10000, 3)
    ok_rows = np.nonzero(~no_xy & ~asb)[0]
    pick = rng.choice(ok_rows, 3 * k, replace=False)
    bad_date, dup, swap = pick[:k], pick[k:2 * k], pick[2 * k:]
    month[bad_date] = "2016-13"
    crime_id[dup] = crime_id[ok_rows[:k]]
    lon[swap], lat[swap] = lat[swap], lon[swap].copy()
    lsoa = np.array([f"E0101{i:04d}" for i in range(2000)], dtype=object)[pt % 2000]
    frame = pd.DataFrame({
        "Crime ID": crime_id, "Month": month, "Reported by": "West Yorkshire Police",
        "Falls within": "West Yorkshire Police", "Longitude": lon, "Latitude": lat,
        "Location": np.where(no_xy, "No Location", "On or near Some Street"),
        "LSOA code": np.where(no_xy, "", lsoa), "LSOA name": np.where(no_xy, "", "Leeds 001A"),
        "Crime type": np.array(CRIME_TYPES, dtype=object)[ctype],
        "Last outcome category": np.where(asb, "", "Under investigation"), "Context": ""})
    frame.to_csv(path, index=False)
    return {"rows": size, "no_coordinates": int(no_xy.sum()), "frame": frame}


def make_policeuk_archive(path, frame):
    """The rows of ``frame`` as a police.uk archive: a ZIP of monthly folders, one street file
    per month (rows with a bad month stay in the file of the month they were drawn for)."""
    import zipfile

    months = frame["Month"].where(frame["Month"] != "2016-13", "2016-12")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for month, part in frame.groupby(months.to_numpy(), sort=True):
            zf.writestr(f"{month}/{month}-west-yorkshire-street.csv", part.to_csv(index=False))


def _algorithm():
    from qgis.core import QgsApplication

    if QgsApplication.instance() is None:
        app = QgsApplication([], False)
        app.initQgis()
        _algorithm.app = app
    from composite_index_plugin.processing.provider import CompositeIndexProvider

    registry = QgsApplication.processingRegistry()
    if registry.providerById("compositeindex") is None:
        _algorithm.provider = CompositeIndexProvider()
        registry.addProvider(_algorithm.provider)
    return registry.createAlgorithmById("compositeindex:importincidents")


def run(size=1_000_000):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    size = SIZES.get(size, size) if isinstance(size, str) else size
    size = int(size or SIZES["large"])
    tmp = tempfile.mkdtemp(prefix="bench_import_")
    try:
        src = os.path.join(tmp, "policeuk.csv")
        t0 = time.perf_counter()
        expected = make_policeuk_csv(src, size)
        t_gen = time.perf_counter() - t0
        mb = os.path.getsize(src) / 1e6
        alg = _algorithm()
        params = {"INPUT": [src], "PRESET": 1, "TARGET_CRS": "EPSG:27700",
                  "CLEAN": os.path.join(tmp, "clean.gpkg"),
                  "REJECTED": os.path.join(tmp, "rejected.gpkg"),
                  "REPORT": os.path.join(tmp, "report.html")}
        context = QgsProcessingContext()
        feedback = QgsProcessingFeedback()
        t0 = time.perf_counter()
        c0 = time.process_time()
        res, ok = alg.run(params, context, feedback)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - c0
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        if not ok:
            raise RuntimeError("importincidents failed")
        holds = res["CLEAN_COUNT"] + res["REJECTED_COUNT"] == res["ROWS_IN"] == expected["rows"]
        note = (f"{mb:.0f} MB CSV, {res['CLEAN_COUNT']:,} clean + {res['REJECTED_COUNT']:,} "
                f"rejected (invariant {'holds' if holds else 'BROKEN'}); generation "
                f"{t_gen:.1f} s not timed")
        # The same rows as a 12-month police.uk archive (ZIP), in one call.
        archive = os.path.join(tmp, "policeuk_archive.zip")
        make_policeuk_archive(archive, expected["frame"])
        zmb = os.path.getsize(archive) / 1e6
        params_z = dict(params, INPUT=None, ARCHIVE=archive, PRESET=0,
                        CLEAN=os.path.join(tmp, "clean_z.gpkg"),
                        REJECTED=os.path.join(tmp, "rejected_z.gpkg"),
                        REPORT=os.path.join(tmp, "report_z.html"))
        t0 = time.perf_counter()
        c0 = time.process_time()
        res_z, ok_z = alg.run(params_z, QgsProcessingContext(), QgsProcessingFeedback())
        elapsed_z = time.perf_counter() - t0
        cpu_z = time.process_time() - c0
        if not ok_z:
            raise RuntimeError("importincidents (archive) failed")
        same = (res_z["CLEAN_COUNT"], res_z["REJECTED_COUNT"]) == \
            (res["CLEAN_COUNT"], res["REJECTED_COUNT"])
        return [
            {"case": f"importincidents police.uk archive, 12 months, {size:,} rows",
             "what": "end-to-end time", "value": round(elapsed_z, 2), "unit": "s",
             "target": f"< {TARGET_SECONDS:g} s for 1,000,000 rows",
             "note": f"{zmb:.0f} MB ZIP of 12 monthly street files read in memory; "
                     f"{res_z['CLEAN_COUNT']:,} clean + {res_z['REJECTED_COUNT']:,} rejected, "
                     f"{'the same as' if same else 'DIFFERENT FROM'} the single CSV; period field "
                     "from the month folders"},
            {"case": f"importincidents police.uk archive, 12 months, {size:,} rows",
             "what": "CPU time", "value": round(cpu_z, 2), "unit": "s", "target": "", "note": ""},
            {"case": f"importincidents police.uk {size:,} rows", "what": "end-to-end time",
             "value": round(elapsed, 2), "unit": "s",
             "target": f"< {TARGET_SECONDS:g} s for 1,000,000 rows", "note": note},
            {"case": f"importincidents police.uk {size:,} rows", "what": "CPU time",
             "value": round(cpu, 2), "unit": "s", "target": "",
             "note": f"wall time is inflated on a shared machine: load average {load:.1f} on "
                     f"{os.cpu_count()} cores during the run"},
            {"case": f"importincidents police.uk {size:,} rows", "what": "throughput",
             "value": round(size / elapsed), "unit": "rows/s", "target": "", "note": ""},
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    arg = sys.argv[1] if len(sys.argv) > 1 else "large"
    for row in run(int(arg) if arg.isdigit() else arg):
        print(row)
