"""An independent count of the real West Yorkshire police.uk months, for the tests of the
quick start (issue 17): pandas reads the CSVs, OSR transforms the points to British National
Grid, and GEOS (through OGR) keeps those inside the LSOAs' union buffered by 50 m - none of the
plugin's code. Also: a police.uk archive (ZIP) made at test time from the months."""
import os
import zipfile

import numpy as np
import pandas as pd

WY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "west_yorkshire")
MONTHS = ("2016-07", "2017-07")
LSOA = os.path.join(WY, "lsoa11.geojson")
CENSUS = os.path.join(WY, "census2011_population_lsoa11_ew_layout.csv")

# police.uk's crime types and the issue names of the preset, written out here (not read from
# the plugin's resources) so that the test checks the mapping too
ISSUE_OF = {
    "Anti-social behaviour": "anti_social_behaviour", "Bicycle theft": "bicycle_theft",
    "Burglary": "burglary", "Criminal damage and arson": "criminal_damage_arson",
    "Drugs": "drugs", "Other crime": "other_crime", "Other theft": "other_theft",
    "Possession of weapons": "possession_of_weapons", "Public order": "public_order",
    "Robbery": "robbery", "Shoplifting": "shoplifting",
    "Theft from the person": "theft_from_the_person", "Vehicle crime": "vehicle_crime",
    "Violence and sexual offences": "violence_sexual_offences",
}


def street_csv(month):
    return os.path.join(WY, f"{month}-west-yorkshire-street.csv")


def make_archive(path, months=MONTHS):
    """A police.uk archive as data.police.uk lays it out: yyyy-mm/yyyy-mm-<force>-street.csv."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for m in months:
            zf.write(street_csv(m), f"{m}/{m}-west-yorkshire-street.csv")
    return path


def _transform():
    from osgeo import osr

    wgs, bng = osr.SpatialReference(), osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    bng.ImportFromEPSG(27700)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    bng.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return osr.CoordinateTransformation(wgs, bng)


def study_area(buffer=50.0):
    """The union of the West Yorkshire LSOAs in EPSG:27700, buffered (an OGR geometry)."""
    from osgeo import ogr

    tr = _transform()
    ds = ogr.Open(LSOA)
    union = ogr.Geometry(ogr.wkbMultiPolygon)
    for feature in ds.GetLayer():
        g = feature.GetGeometryRef().Clone()
        g.Transform(tr)
        for k in range(g.GetGeometryCount()) if g.GetGeometryType() == ogr.wkbMultiPolygon \
                else [None]:
            union.AddGeometry(g if k is None else g.GetGeometryRef(k))
    area = union.UnionCascaded()
    return area.Buffer(buffer, 8) if buffer else area


def crimes_inside(months=MONTHS, buffer=50.0):
    """Rows of the months with coordinates inside the buffered study area: a frame with month,
    issue, x and y (EPSG:27700)."""
    from osgeo import ogr

    frames = []
    for m in months:
        frame = pd.read_csv(street_csv(m), dtype=str, keep_default_na=False)
        frame["month"] = m
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[(rows["Longitude"].str.strip() != "") & (rows["Latitude"].str.strip() != "")]
    xy = np.array(_transform().TransformPoints(
        np.c_[rows["Longitude"].astype(float), rows["Latitude"].astype(float)]))[:, :2]
    rows = rows.assign(x=xy[:, 0], y=xy[:, 1], issue=rows["Crime type"].map(ISSUE_OF))
    unique = rows[["x", "y"]].drop_duplicates()
    points = ogr.Geometry(ogr.wkbMultiPoint)
    for x, y in unique.itertuples(index=False):
        p = ogr.Geometry(ogr.wkbPoint)
        p.AddPoint_2D(float(x), float(y))
        points.AddGeometry(p)
    kept = points.Intersection(study_area(buffer))
    inside = {(kept.GetGeometryRef(k).GetX(), kept.GetGeometryRef(k).GetY())
              for k in range(kept.GetGeometryCount())} if kept.GetGeometryCount() else \
        ({(kept.GetX(), kept.GetY())} if not kept.IsEmpty() else set())
    keep = [(x, y) in inside for x, y in zip(rows["x"], rows["y"])]
    return rows[keep][["month", "issue", "x", "y"]].reset_index(drop=True)


def population_total():
    """The Census 2011 persons of the West Yorkshire LSOAs (first 'Persons' column)."""
    frame = pd.read_csv(CENSUS, dtype=str, keep_default_na=False)
    return int(frame.iloc[:, 9].str.replace(",", "").astype(int).sum())
