"""Build resources/sample/birmingham.gpkg from the real public data in ../shared/data/birmingham.

Run once by the developers (the result is committed): keeps Birmingham's 10 constituencies,
69 wards and 659 LSOAs, joins Census 2021 population and IMD 2025 to the LSOAs, and adds a
dissolved study-area boundary. Usage: python3 scripts/build_sample_base.py [SHARED_DATA_DIR]
"""
import os
import sys

import pandas as pd
from osgeo import ogr, osr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data", "birmingham")
OUT = os.path.join(ROOT, "resources", "sample", "birmingham.gpkg")

ogr.UseExceptions()
if os.path.exists(OUT):
    os.remove(OUT)
driver = ogr.GetDriverByName("GPKG")
out = driver.CreateDataSource(OUT)
srs = osr.SpatialReference()
srs.ImportFromEPSG(27700)


def copy(src_file, name, keep, extra=None):
    ds = ogr.Open(os.path.join(SRC, src_file))
    src = ds.GetLayer(0)
    src.SetAttributeFilter("Area = 'Birmingham'")
    dst = out.CreateLayer(name, srs, ogr.wkbMultiPolygon, ["GEOMETRY_NAME=geom", "FID=fid"])
    defn = src.GetLayerDefn()
    for f in keep:
        dst.CreateField(defn.GetFieldDefn(defn.GetFieldIndex(f)))
    extra = extra or {}
    extra_cols = []
    if extra:
        frame = extra["frame"]
        for col in frame.columns:
            kind = ogr.OFTReal if frame[col].dtype.kind == "f" else (
                ogr.OFTInteger if frame[col].dtype.kind in "iu" else ogr.OFTString)
            dst.CreateField(ogr.FieldDefn(col, kind))
            extra_cols.append(col)
    union = ogr.Geometry(ogr.wkbMultiPolygon)
    n = 0
    for feat in src:
        geom = feat.GetGeometryRef().Clone()
        geom = ogr.ForceToMultiPolygon(geom)
        new = ogr.Feature(dst.GetLayerDefn())
        new.SetGeometry(geom)
        for f in keep:
            new.SetField(f, feat.GetField(f))
        if extra:
            key = feat.GetField(extra["key"])
            row = extra["frame"].loc[key]
            for col in extra_cols:
                value = row[col]
                new.SetField(col, value.item() if hasattr(value, "item") else value)
        dst.CreateFeature(new)
        union = union.Union(geom) if n else geom.Clone()
        n += 1
    print(name, n)
    return union


pop = pd.read_csv(os.path.join(SRC, "census2021_population_lsoa21.csv")).set_index("mnemonic")
imd = pd.read_csv(os.path.join(SRC, "imd2025_lsoa21.csv")).set_index("lsoa21_code")
frame = pd.DataFrame({"population": pop["total"].round().astype("int64")}).join(
    imd[["IMD_score", "IMD_rank", "IMD_decile", "Crime_score", "Crime_rank", "Income_score"]])
copy("constituencies_2010.gpkg", "constituencies", ["Cnsttnc", "PCON22C"])
copy("wards_2018.gpkg", "wards", ["Ward", "WardCode"])
union = copy("lsoa21.gpkg", "lsoa21", ["LSOA21", "LSOA21NM"], {"frame": frame, "key": "LSOA21"})
study = out.CreateLayer("study_area", srs, ogr.wkbMultiPolygon, ["GEOMETRY_NAME=geom", "FID=fid"])
study.CreateField(ogr.FieldDefn("name", ogr.OFTString))
feat = ogr.Feature(study.GetLayerDefn())
feat.SetField("name", "Birmingham")
feat.SetGeometry(ogr.ForceToMultiPolygon(union))
study.CreateFeature(feat)
out = None
print("wrote", OUT)
