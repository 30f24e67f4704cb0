"""Realistic stand-ins for the assessment outputs, built from real Birmingham data.

Zones: the 659 Birmingham 2021 LSOAs with the English Indices of Deprivation 2025 as the index
(``ci_score`` = IMD score; the seven domains play the issues, grouped into four themes; issue
indices are z-scores of the domain scores). Areas: the 10 Birmingham constituencies (2010-2024),
summarised with the fields of ``compositeindex:summariseareas`` (CONTRACTS.md). Hotspot zones:
the dissolved zones whose stand-in ``gi_bin`` is >= 2 (deciles 1-2). None of this is the real
engine: it only has to look and behave like its output.
"""
import os
import shutil

import numpy as np
import pandas as pd

from composite_index_plugin.qgis_compat import field_type

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "birmingham")

THEMES = {
    "deprivation": ["income", "employment"],
    "wellbeing": ["health", "education"],
    "crime": ["crime"],
    "living_environment": ["housing", "environment"],
}
THEME_LABELS = {"deprivation": "Income and work", "wellbeing": "Health and skills",
                "crime": "Crime", "living_environment": "Living environment"}
DOMAIN_COLUMNS = {"income": "Income_score", "employment": "Employment_score",
                  "education": "Education_score", "health": "Health_score",
                  "crime": "Crime_score", "housing": "Housing_and_Services_score",
                  "environment": "Environment_score"}
ISSUES = [i for issues in THEMES.values() for i in issues]


def recipe():
    """A recipe-shaped dict describing the stand-in index (for the methodology note)."""
    return {
        "name": "Birmingham stand-in assessment",
        "themes": [
            {"name": t, "label": THEME_LABELS[t], "weight": 1,
             "issues": [{"name": i, "label": i.capitalize(), "weight": 1,
                         "roles": {"locations": {"measure": "volume", "scaling": "zscore"}}}
                        for i in issues]}
            for t, issues in THEMES.items()],
        "aggregation": {"issue": "mean", "theme": "mean", "composite": "mean"},
        "hotspots": {"enabled": True, "fdr": True},
    }


def _rank_desc(values):
    order = np.argsort(-values, kind="mergesort")
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def zone_table(zone_codes):
    """Index fields for the given LSOA21 codes (pandas DataFrame indexed like ``zone_codes``)."""
    imd = pd.read_csv(os.path.join(DATA, "imd2025_lsoa21.csv")).set_index("lsoa21_code")
    pop = pd.read_csv(os.path.join(DATA, "census2021_population_lsoa21.csv")).set_index("mnemonic")
    imd = imd.reindex(zone_codes)
    df = pd.DataFrame(index=pd.Index(zone_codes, name="code"))
    for issue, col in DOMAIN_COLUMNS.items():
        v = imd[col].to_numpy(float)
        df[f"{issue}_idx"] = (v - v.mean()) / v.std(ddof=0)
    for theme, issues in THEMES.items():
        df[f"{theme}_idx"] = df[[f"{i}_idx" for i in issues]].mean(axis=1)
    theme_idx = df[[f"{t}_idx" for t in THEMES]].to_numpy()
    pos = np.clip(theme_idx - theme_idx.min(axis=0), 0, None)
    share = pos / np.where(pos.sum(axis=1, keepdims=True) == 0, 1, pos.sum(axis=1, keepdims=True))
    for j, theme in enumerate(THEMES):
        df[f"{theme}_pct"] = np.round(100 * share[:, j], 1)
    score = imd["IMD_score"].to_numpy(float)
    df["ci_score"] = score
    df["ci_rank"] = _rank_desc(score)
    n = len(score)
    df["ci_decile"] = np.minimum(10, (df["ci_rank"] - 1) * 10 // n + 1)
    df["ci_quintile"] = np.minimum(5, (df["ci_rank"] - 1) * 5 // n + 1)
    df["top_theme"] = np.array(list(THEMES))[np.argmax(theme_idx, axis=1)]
    df["top_issue"] = np.array(ISSUES)[np.argmax(df[[f"{i}_idx" for i in ISSUES]].to_numpy(), axis=1)]
    df["population"] = pop["total"].reindex(zone_codes).to_numpy(float)
    bins = {1: 3, 2: 2, 3: 1, 8: -1, 9: -2, 10: -3}
    df["gi_bin"] = [bins.get(int(d), 0) for d in df["ci_decile"]]
    return df


def _write(layer, path, name):
    from qgis.core import QgsCoordinateTransformContext, QgsVectorFileWriter

    opts = QgsVectorFileWriter.SaveVectorOptions()
    opts.driverName = "GPKG"
    opts.layerName = name
    err = QgsVectorFileWriter.writeAsVectorFormatV3(layer, path, QgsCoordinateTransformContext(), opts)
    assert err[0] == QgsVectorFileWriter.WriterError.NoError, err
    return f"{path}|layername={name}"


def _memory_layer(kind, crs, columns):
    from qgis.core import QgsField, QgsVectorLayer

    layer = QgsVectorLayer(f"{kind}?crs={crs}", "tmp", "memory")
    fields = []
    for name, dtype in columns:
        qtype = {"s": field_type("string"), "i": field_type("int"), "d": field_type("double")}[dtype]
        fields.append(QgsField(name, qtype))
    layer.dataProvider().addAttributes(fields)
    layer.updateFields()
    return layer


def _py(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if np.isnan(value) else float(value)
    return value


def build(out_dir, extra_areas=(), rename=None, areas_file="constituencies_2010.gpkg", name_field="Cnsttnc",
          whole_row=False):
    """Write zones.gpkg, hotspot_zones.gpkg and areas.gpkg into ``out_dir``; return their URIs.
    Areas: the Birmingham features of ``areas_file`` (constituencies, or wards_2018.gpkg with
    ``name_field="Ward"``). ``whole_row``: put a "Whole study area" row with no geometry first, as
    a summary table may.

    ``extra_areas``: constituency names added even outside Birmingham (e.g. "Meriden": an area
    with no zones). ``rename``: {old: new} area names (e.g. a very long name).
    Returns a dict with keys zones, hotspots, areas, summary (DataFrame), zones_df.
    """
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    os.makedirs(out_dir, exist_ok=True)
    for f in ("lsoa21.gpkg", areas_file):
        shutil.copy(os.path.join(DATA, f), os.path.join(out_dir, "src_" + f))
    lsoa = QgsVectorLayer(os.path.join(out_dir, "src_lsoa21.gpkg"), "lsoa", "ogr")
    cons = QgsVectorLayer(os.path.join(out_dir, "src_" + areas_file), "cons", "ogr")
    assert lsoa.isValid() and cons.isValid()
    crs = lsoa.crs().authid()

    feats = [f for f in lsoa.getFeatures() if f["Area"] == "Birmingham"]
    codes = [f["LSOA21"] for f in feats]
    df = zone_table(codes)
    zone_cols = [("LSOA21", "s"), ("LSOA21NM", "s")] + [
        (c, "s" if df[c].dtype == object else ("i" if np.issubdtype(df[c].dtype, np.integer) else "d"))
        for c in df.columns]
    zl = _memory_layer("Polygon", crs, zone_cols)
    out = []
    for f, (_, row) in zip(feats, df.iterrows()):
        g = QgsFeature(zl.fields())
        g.setGeometry(f.geometry())
        g.setAttributes([f["LSOA21"], f["LSOA21NM"]] + [_py(row[c]) for c in df.columns])
        out.append(g)
    zl.dataProvider().addFeatures(out)
    zones_uri = _write(zl, os.path.join(out_dir, "zones.gpkg"), "zones")

    # hotspot zones: dissolve gi_bin >= 2 into single parts
    hot_geoms = [f.geometry() for f, b in zip(feats, df["gi_bin"]) if b >= 2]
    union = QgsGeometry.unaryUnion(hot_geoms)
    hl = _memory_layer("Polygon", crs, [("hotspot_id", "i"), ("area_km2", "d"), ("max_bin", "i")])
    parts = [QgsGeometry(p.clone()) for p in union.constGet()] if union.isMultipart() else [union]
    hf = []
    for k, part in enumerate(sorted(parts, key=lambda p: -p.area())):
        g = QgsFeature(hl.fields())
        g.setGeometry(part)
        g.setAttributes([k + 1, part.area() / 1e6, 3])
        hf.append(g)
    hl.dataProvider().addFeatures(hf)
    hot_uri = _write(hl, os.path.join(out_dir, "hotspot_zones.gpkg"), "hotspot_zones")

    # area summaries (zone in area by point on surface)
    areas = [f for f in cons.getFeatures() if f["Area"] == "Birmingham" or f[name_field] in extra_areas]
    points = [f.geometry().pointOnSurface() for f in feats]
    rows = []
    zone_area = np.full(len(feats), None, dtype=object)
    for a in areas:
        geom = a.geometry()
        inside = np.array([geom.contains(p) for p in points])
        sub = df[inside]
        name = (rename or {}).get(a[name_field], a[name_field])
        zone_area[inside] = name
        row = {"area_name": name, "n_zones": int(inside.sum())}
        pop = sub["population"].to_numpy()
        row["population"] = float(pop.sum())
        row["mean_score"] = float(np.average(sub["ci_score"], weights=pop)) if len(sub) else np.nan
        top = sub["ci_decile"].to_numpy() == 1
        row["pop_top_decile_pct"] = float(100 * pop[top].sum() / pop.sum()) if len(sub) else np.nan
        row["zones_top_decile_pct"] = float(100 * top.mean()) if len(sub) else np.nan
        row["extent_pct"] = row["zones_top_decile_pct"]
        hot = sum(geom.intersection(h.geometry()).area() for h in hf) / 1e6
        row["hotspot_km2"] = float(hot)
        row["hotspot_pct"] = float(100 * hot / (geom.area() / 1e6))
        # population-weighted, as compositeindex:summariseareas weighs every area value
        tmeans = {t: float(np.average(sub[f"{t}_idx"], weights=pop)) if len(sub) else np.nan
                  for t in THEMES}
        imeans = {i: float(np.average(sub[f"{i}_idx"], weights=pop)) if len(sub) else np.nan
                  for i in ISSUES}
        for t in THEMES:
            row[f"{t}_mean"] = tmeans[t]
        ts = sorted(THEMES, key=lambda t: -tmeans[t]) if len(sub) else [None] * 3
        iss = sorted(ISSUES, key=lambda i: -imeans[i]) if len(sub) else [None] * 3
        for k in range(3):
            row[f"top_theme_{k + 1}"] = ts[k]
            row[f"top_issue_{k + 1}"] = iss[k]
        row["_geom"] = geom
        rows.append(row)
    summary = pd.DataFrame(rows)
    city = float(np.average(df["ci_score"], weights=df["population"]))
    if whole_row:
        whole = {"area_name": "Whole study area", "n_zones": len(df), "mean_score": city,
                 "population": float(df["population"].sum()), "_geom": QgsGeometry()}
        whole.update({f"{t}_mean": float(np.average(df[f"{t}_idx"], weights=df["population"]))
                      for t in THEMES})
        summary = pd.concat([pd.DataFrame([whole]), summary], ignore_index=True)
    summary["gap_diff"] = summary["mean_score"] - city
    summary["gap_ratio"] = summary["mean_score"] / city
    is_whole = (summary["area_name"] == "Whole study area").to_numpy()
    summary.loc[is_whole, "mean_score"] = -np.inf   # not ranked
    rank = _rank_desc(summary["mean_score"].fillna(-np.inf).to_numpy())
    summary.loc[is_whole, "mean_score"] = city
    summary["area_rank"] = np.where((summary["n_zones"] > 0) & ~is_whole, rank, 0)
    cols = ["area_name", "area_rank", "mean_score", "population", "n_zones", "pop_top_decile_pct",
            "zones_top_decile_pct", "extent_pct", "hotspot_km2", "hotspot_pct",
            "top_theme_1", "top_theme_2", "top_theme_3", "top_issue_1", "top_issue_2",
            "top_issue_3", "gap_diff", "gap_ratio"] + [f"{t}_mean" for t in THEMES]
    types = {c: ("s" if c.startswith(("area_name", "top_")) else "i" if c in ("area_rank", "n_zones")
                 else "d") for c in cols}
    al = _memory_layer("MultiPolygon", crs, [(c, types[c]) for c in cols])
    af = []
    for _, row in summary.iterrows():
        g = QgsFeature(al.fields())
        g.setGeometry(row["_geom"])
        g.setAttributes([_py(row[c]) if row[c] is not None else None for c in cols])
        af.append(g)
    al.dataProvider().addFeatures(af)
    areas_uri = _write(al, os.path.join(out_dir, "areas.gpkg"), "areas")
    return {"zones": zones_uri, "hotspots": hot_uri, "areas": areas_uri,
            "summary": summary.drop(columns="_geom"), "zones_df": df.assign(area=zone_area),
            "recipe": recipe()}
