"""Read the bundled Birmingham zones for the synthetic generator and write what it makes:
a GeoPackage of synthetic point layers, and the CSV files three agencies would send
(police with lon/lat, council with eastings/northings, probation with postcodes), each with a
few dirty rows so that the import stage has something to cleanse.
"""
import os

import numpy as np
import pandas as pd
from osgeo import gdal, ogr, osr

from composite_index_plugin.core import synth
from composite_index_plugin.paths import resource_path

SAMPLE_GPKG = resource_path("sample", "birmingham.gpkg")
SYNTHETIC_NOTE = ("SYNTHETIC data made by the Composite Index sample generator (seed {seed}, year "
                  "{year}); not real crime records. Based on real ONS boundaries, Census 2021 "
                  "population and IMD 2025 crime-domain scores (OGL v3).")

gdal.UseExceptions()
ogr.UseExceptions()


def _rings(geometry):
    """Every ring of an OGR (multi)polygon as closed (n, 2) arrays."""
    out = []
    geometry = ogr.ForceToMultiPolygon(geometry)
    for p in range(geometry.GetGeometryCount()):
        poly = geometry.GetGeometryRef(p)
        for r in range(poly.GetGeometryCount()):
            pts = np.array(poly.GetGeometryRef(r).GetPoints(), dtype=float)[:, :2]
            if len(pts) >= 4:
                out.append(pts)
    return out


def load_zones(gpkg=SAMPLE_GPKG):
    """The sample's LSOAs (rings, population, IMD crime score) and the study-area outline."""
    ds = ogr.Open(gpkg)
    layer = ds.GetLayerByName("lsoa21")
    rings, pop, crime, codes = [], [], [], []
    for feature in layer:
        rings.append(_rings(feature.GetGeometryRef()))
        pop.append(feature.GetField("population"))
        crime.append(feature.GetField("Crime_score"))
        codes.append(feature.GetField("LSOA21"))
    study = ds.GetLayerByName("study_area")
    outline = []
    for feature in study:
        outline.extend(_rings(feature.GetGeometryRef()))
    return synth.Zones(rings, np.array(pop, float), np.array(crime, float), outline), codes


def write_points_gpkg(frames, path, seed, year):
    """One layer per role, named ``synthetic_<role>``, via a CSV and GDAL (fast for 1M rows)."""
    note = SYNTHETIC_NOTE.format(seed=seed, year=year)
    if os.path.exists(path):
        os.remove(path)
    tmp_dir = os.path.dirname(os.path.abspath(path))
    for role, frame in frames.items():
        tmp = os.path.join(tmp_dir, f".tmp_{role}.csv")
        out = frame.copy()
        out["date"] = out["date"].astype(str)
        out.to_csv(tmp, index=False)
        src = gdal.OpenEx(tmp, gdal.OF_VECTOR,
                          open_options=["X_POSSIBLE_NAMES=x", "Y_POSSIBLE_NAMES=y",
                                        "KEEP_GEOM_COLUMNS=NO", "AUTODETECT_TYPE=YES"])
        gdal.VectorTranslate(
            path, src, format="GPKG", accessMode="append" if os.path.exists(path) else None,
            layerName=f"synthetic_{role}", dstSRS="EPSG:27700", srcSRS="EPSG:27700",
            geometryType="POINT",
            layerCreationOptions=["GEOMETRY_NAME=geom", "FID=fid", "SPATIAL_INDEX=YES",
                                  f"DESCRIPTION={note}"])
        src = None
        os.remove(tmp)
    return path


def _to_lonlat(x, y):
    src = osr.SpatialReference()
    src.ImportFromEPSG(27700)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)
    pts = np.array(ct.TransformPoints(np.column_stack([x, y]).tolist()))
    return pts[:, 0], pts[:, 1]


def _postcode_keys(x, y):
    """Postcode-like keys for 100 m squares (synthetic; not real postcodes)."""
    col = (np.asarray(x) // 100).astype(np.int64)
    row = (np.asarray(y) // 100).astype(np.int64)
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    district = 1 + (col * 7 + row * 3) % 45
    sector = (col + row) % 10
    u1 = letters[(col * 31 + row) % 20]
    u2 = letters[(row * 17 + col * 5) % 20]
    keys = np.char.add(np.char.add(np.char.add("B", district.astype(str)), " "),
                       np.char.add(sector.astype(str), np.char.add(u1, u2)))
    # the rare clash of two squares on one key is resolved by the first square
    return keys, col * 100 + 50.0, row * 100 + 50.0


def write_agency_csvs(frames, folder, seed, year):
    """The three agency files (+ postcode lookup). Returns {name: path} and the count of dirty
    rows planted per file and kind, so tests and the demo can check the cleansing."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng([int(seed), int(year), 7])
    labels = {i.name: i.label for i in synth.ISSUES}
    planted = {}

    # Police: incident locations, lon/lat WGS84, UK dates.
    loc = frames["locations"]
    lon, lat = _to_lonlat(loc["x"].to_numpy(), loc["y"].to_numpy())
    police = pd.DataFrame({
        "incident_ref": "WM-" + loc["incident_id"].astype(str).str.zfill(7),
        "date_reported": pd.to_datetime(loc["date"]).dt.strftime("%d/%m/%Y"),
        "category": loc["issue"].map(labels),
        "longitude": np.round(lon, 6).astype(str), "latitude": np.round(lat, 6).astype(str),
        "harm_days": loc["harm"]})
    police, planted["police"] = _dirty(police, rng, lonlat=("longitude", "latitude"),
                                       date="date_reported")
    # Council: victims' homes, eastings/northings, ISO dates.
    vic = frames["victims"]
    council = pd.DataFrame({
        "case_ref": "BCC" + vic["incident_id"].astype(str).str.zfill(7),
        "date": pd.to_datetime(vic["date"]).dt.strftime("%Y-%m-%d"),
        "issue_type": vic["issue"], "easting": vic["x"].round(0).astype(int).astype(str),
        "northing": vic["y"].round(0).astype(int).astype(str), "harm_days": vic["harm"]})
    council, planted["council"] = _dirty(council, rng, xy=("easting", "northing"), date="date")
    # Probation: offenders' home postcodes, and a lookup of postcode centroids.
    off = frames["offenders"]
    keys, cx, cy = _postcode_keys(off["x"].to_numpy(), off["y"].to_numpy())
    probation = pd.DataFrame({
        "offender_ref": "PR" + off["incident_id"].astype(str).str.zfill(7),
        "offence_date": pd.to_datetime(off["date"]).dt.strftime("%d %b %Y"),
        "offence_category": off["issue"].map(labels), "postcode": keys})
    lookup = pd.DataFrame({"postcode": keys, "easting": cx, "northing": cy}).drop_duplicates(
        "postcode")
    probation, planted["probation"] = _dirty(probation, rng, postcode="postcode",
                                             date="offence_date")
    paths = {
        "police": os.path.join(folder, f"police_incidents_{year}.csv"),
        "council": os.path.join(folder, f"council_victims_{year}.csv"),
        "probation": os.path.join(folder, f"probation_offenders_{year}.csv"),
        "postcode_lookup": os.path.join(folder, "postcode_lookup.csv"),
        "category_mapping": os.path.join(folder, "category_mapping.csv"),
    }
    rows = [(i.label, i.name) for i in synth.ISSUES] + [(i.name, i.name) for i in synth.ISSUES]
    pd.DataFrame(rows, columns=["category", "issue"]).to_csv(paths["category_mapping"], index=False)
    police.to_csv(paths["police"], index=False)
    council.to_csv(paths["council"], index=False, sep=";")
    probation.to_csv(paths["probation"], index=False, encoding="cp1252")
    if os.path.exists(paths["postcode_lookup"]):
        lookup = pd.concat([pd.read_csv(paths["postcode_lookup"]), lookup]).drop_duplicates("postcode")
    lookup.to_csv(paths["postcode_lookup"], index=False)
    return paths, planted


def _dirty(frame, rng, lonlat=None, xy=None, postcode=None, date=None, share=0.002):
    """Plant a few realistic faults; returns the new frame and counts by kind."""
    n = len(frame)
    k = max(1, int(n * share))
    frame = frame.copy()
    picks = rng.choice(n, size=min(n, 4 * k), replace=False)
    a, b, c, d = np.array_split(picks, 4)
    counts = {}
    cols = lonlat or xy
    if cols:
        frame.loc[frame.index[a], cols[0]] = ""
        counts["no_coordinates"] = len(a)
    if lonlat:
        i = frame.index[b]
        frame.loc[i, [lonlat[0], lonlat[1]]] = frame.loc[i, [lonlat[1], lonlat[0]]].to_numpy()
        counts["swapped_latlon"] = len(b)
    if xy:
        frame.loc[frame.index[b], xy[0]] = "9999999"
        counts["outside_area"] = len(b)
    if postcode:
        i = frame.index[a]
        frame.loc[i, postcode] = frame.loc[i, postcode].str.lower().str.replace(" ", "", regex=False)
        counts["postcode_untidy_but_valid"] = len(a)
        frame.loc[frame.index[b], postcode] = "ZZ99 9ZZ"
        counts["postcode_not_found"] = len(b)
    if date:
        frame.loc[frame.index[c], date] = "not known"
        counts["bad_date"] = len(c)
    dup = frame.loc[frame.index[d]]
    counts["duplicate"] = len(d)
    frame = pd.concat([frame, dup]).sort_index(kind="stable").reset_index(drop=True)
    return frame, counts


def make_sample(folder, size="default", seed=2024, years=(2024, 2025), progress=None):
    """Write ``synthetic_<year>.gpkg`` and the agency CSVs for each year into ``folder``."""
    zones, _ = load_zones()
    os.makedirs(folder, exist_ok=True)
    made = {}
    for k, year in enumerate(years):
        sub = progress.sub(k / len(years), (k + 1) / len(years)) if progress is not None else None
        frames = synth.generate(zones, size=size, seed=seed, year=year, progress=sub)
        gpkg = write_points_gpkg(frames, os.path.join(folder, f"synthetic_{year}.gpkg"), seed, year)
        csvs, planted = write_agency_csvs(frames, os.path.join(folder, "agency_csv"), seed, year)
        made[year] = {"gpkg": gpkg, "csv": csvs, "planted": planted,
                      "counts": {role: len(f) for role, f in frames.items()}}
    return made
