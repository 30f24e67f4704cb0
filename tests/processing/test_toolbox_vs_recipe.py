"""The toolbox and a recipe give the same result for the same choices: each stage of a one-issue
recipe that leaves every optional key out is run again from the toolbox, with the parameters
the toolbox asks for and nothing else, on the same inputs; the outputs are identical."""
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsVectorLayer

from composite_index_plugin.paths import resource_path

ISSUE = "burglary"
CSV = {"x_field": "longitude", "y_field": "latitude", "source_crs": "EPSG:4326",
       "date_field": "date_reported", "date_formats": "%d/%m/%Y", "category_field": "category",
       "category_mapping": "synthetic/agency_csv/category_mapping.csv"}


def _recipe(year, previous=None):
    doc = {
        "recipe_version": 1,
        "name": f"One issue {year}",
        "study_area": {"source": {"path": "birmingham.gpkg", "layer": "study_area"}},
        "geography": {"type": "grid", "size": 1000},
        "population": {"source": {"path": "birmingham.gpkg", "layer": "lsoa21"},
                       "field": "population"},
        "themes": [{"name": "acquisitive", "issues": [{"name": ISSUE, "roles": {
            "locations": {"source": {"path": f"synthetic/agency_csv/police_incidents_{year}.csv",
                                     "import": CSV},
                          "filter": f"\"issue\" = '{ISSUE}'"}}}]}],
        "admin_areas": {"source": {"path": "birmingham.gpkg", "layer": "constituencies"},
                        "name_field": "Cnsttnc"},
        "output": {"folder": str(year)},
    }
    if not previous:   # the earlier period only gives compare its hotspots: no summaries
        del doc["admin_areas"]
        doc["hotspots"] = {"zones": False}
    if previous:
        doc["compare"] = {"previous": [{"path": f"{previous}/results.gpkg", "layer": "hotspots"}]}
        doc["sensitivity"] = {"scalings": ["zscore", "rank"]}   # one role: no weights to vary
    return doc


@pytest.fixture(scope="module")
def runs(provider, tmp_path_factory):
    import processing

    from composite_index_plugin.processing import sample_io

    folder = tmp_path_factory.mktemp("identity")
    shutil.copy(resource_path("sample", "birmingham.gpkg"), folder / "birmingham.gpkg")
    sample_io.make_sample(str(folder / "synthetic"), size="tiny", seed=5, years=(2024, 2025))
    results = {}
    for year, previous in ((2024, None), (2025, "2024")):
        path = folder / f"recipe_{year}.json"
        path.write_text(json.dumps(_recipe(year, previous)))
        results[year] = processing.run("compositeindex:runrecipe", {"RECIPE": str(path)},
                                       context=QgsProcessingContext(),
                                       feedback=QgsProcessingFeedback())
    return folder, results


def _layer(gpkg, name):
    layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    assert layer.isValid(), name
    return layer


def _toolbox(alg, params):
    import processing

    params = dict(params)
    for key in ("OUTPUT", "CLEAN", "REJECTED", "TABLE", "GAPS", "AREA_OUTPUT"):
        if key in params:
            params[key] = "TEMPORARY_OUTPUT"
    return processing.run(f"compositeindex:{alg}", params, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())


def _table(layer):
    if isinstance(layer, str):
        layer = QgsVectorLayer(layer, "out", "ogr")
    names = [f.name() for f in layer.fields() if f.name() != "fid"]
    rows = []
    for feature in layer.getFeatures():
        row = {n: feature[n] for n in names}
        row = {k: (None if hasattr(v, "isNull") and v.isNull() else v) for k, v in row.items()}
        if feature.hasGeometry():
            row["__wkt"] = feature.geometry().asWkt(3)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=names + (["__wkt"] if rows and "__wkt" in rows[0] else []))
    key = [c for c in ("cell_id", "area_name", "source_row", "zone_id") if c in frame.columns]
    return frame.sort_values(key or list(frame.columns)[:1]).reset_index(drop=True)


def _same(recipe_layer, toolbox_output, columns=None):
    a, b = _table(recipe_layer), _table(toolbox_output)
    if columns is not None:
        a, b = a[columns], b[columns]
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) > 0
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=0, atol=0,
                                       err_msg=column)
        else:
            assert x.astype(str).tolist() == y.astype(str).tolist(), column


def test_each_stage_from_the_toolbox_with_defaults_equals_the_recipe(runs):
    folder, results = runs
    this = results[2025]
    gpkg = this["RESULTS"]
    study = _layer(folder / "birmingham.gpkg", "study_area")
    lsoa = _layer(folder / "birmingham.gpkg", "lsoa21")
    areas = _layer(folder / "birmingham.gpkg", "constituencies")

    # importincidents: the recipe's import keys are the toolbox's parameters in lowercase
    csv = str(folder / "synthetic" / "agency_csv" / "police_incidents_2025.csv")
    params = {k.upper(): v for k, v in CSV.items()}
    params["CATEGORY_MAPPING"] = str(folder / CSV["category_mapping"])
    out = _toolbox("importincidents", dict(params, INPUT=[csv], STUDY_AREA=study, CLEAN="",
                                           REJECTED=""))
    _same(_layer(gpkg, "clean_police_incidents_2025"), out["CLEAN"])

    out = _toolbox("creategrid", {"STUDY_AREA": study, "SIZE": 1000, "OUTPUT": ""})
    _same(_layer(gpkg, "zones"), out["OUTPUT"])

    out = _toolbox("apportion", {"SOURCES": lsoa, "FIELD": "population",
                                 "ZONES": _layer(gpkg, "zones"), "OUTPUT": ""})
    _same(_layer(gpkg, "zones_population"), out["OUTPUT"])

    out = _toolbox("aggregatepat", {"ZONES": _layer(gpkg, "zones_population"), "ISSUE": ISSUE,
                                    "LOCATIONS": _layer(gpkg, "clean_police_incidents_2025"),
                                    "LOCATIONS_FILTER": f"\"issue\" = '{ISSUE}'", "OUTPUT": ""})
    _same(_layer(gpkg, "aggregated"), out["OUTPUT"])

    # buildindex: the recipe's themes as SPEC, and the FIELDS mode with the toolbox's defaults
    recipe_doc = json.loads((folder / "recipe_2025.json").read_text())
    spec = json.dumps({"themes": recipe_doc["themes"]})
    out = _toolbox("buildindex", {"INPUT": _layer(gpkg, "aggregated"), "SPEC": spec,
                                  "OUTPUT": ""})
    index = _layer(gpkg, "index")
    _same(index, out["OUTPUT"], [f.name() for f in index.fields()
                                 if f.name() not in ("fid", "ci_baseline")])
    out = _toolbox("buildindex", {"INPUT": _layer(gpkg, "aggregated"),
                                  "FIELDS": [f"{ISSUE}_locations"], "OUTPUT": ""})
    _same(index, out["OUTPUT"], ["cell_id", "ci_score", "ci_rank", "ci_decile", "ci_quintile"])

    out = _toolbox("hotspots", {"INPUT": index, "FIELD": "ci_score", "OUTPUT": ""})
    _same(_layer(gpkg, "hotspots"), out["OUTPUT"])

    hot = _layer(gpkg, "hotspots")
    out = _toolbox("hotspotzones", {"INPUT": hot, "SUM_FIELDS": [f"{ISSUE}_locations"],
                                    "OUTPUT": ""})
    _same(_layer(gpkg, "hotspot_zones"), out["OUTPUT"])

    out = _toolbox("summariseareas", {"ZONES": hot, "AREAS": areas, "AREA_NAME_FIELD": "Cnsttnc",
                                      "HOTSPOTS": _layer(gpkg, "hotspot_zones"), "OUTPUT": "",
                                      "TABLE": ""})
    _same(_layer(gpkg, "area_summary"), out["OUTPUT"])
    _same(_layer(gpkg, "area_summary_table"), out["TABLE"])

    previous = _layer(results[2024]["RESULTS"], "hotspots")
    out = _toolbox("compareperiods", {"PERIODS": [previous, hot], "AREAS": areas,
                                      "AREA_NAME_FIELD": "Cnsttnc", "OUTPUT": "", "GAPS": ""})
    _same(_layer(gpkg, "period_change"), out["OUTPUT"])
    _same(_layer(gpkg, "period_gaps"), out["GAPS"])

    out = _toolbox("sensitivity", {"INPUT": index, "SPEC": spec, "SCALINGS": ["zscore", "rank"],
                                   "AREAS": areas,
                                   "AREA_NAME_FIELD": "Cnsttnc", "OUTPUT": "",
                                   "AREA_OUTPUT": ""})
    _same(_layer(gpkg, "sensitivity"), out["OUTPUT"])
    _same(_layer(gpkg, "sensitivity_areas"), out["AREA_OUTPUT"])


def test_toolbox_defaults_are_the_models():
    """The defaults the toolbox shows are the ones the recipe model declares."""
    from qgis.core import QgsApplication

    from composite_index_plugin.core import model, vocab

    def default(alg, key):
        return QgsApplication.processingRegistry().algorithmById(
            f"compositeindex:{alg}").parameterDefinition(key).defaultValue()

    geo, hot, sens = model.Geography, model.Hotspots, model.Sensitivity
    assert vocab.GRID_SHAPES[default("creategrid", "SHAPE")] == geo.key("shape").default
    assert vocab.GRID_KEEP[default("creategrid", "KEEP")] == geo.key("keep").default
    assert default("creategrid", "MAX_CELLS") == geo.key("max_cells").default
    assert vocab.HOTSPOT_NEIGHBOURHOODS[default("hotspots", "NEIGHBOURHOOD")] == \
        hot.key("neighbourhood").default
    for key in ("permutations", "seed", "fdr", "k", "distance"):
        assert default("hotspots", key.upper()) == hot.key(key).default, key
    assert default("hotspotzones", "MIN_BIN") == hot.key("min_bin").default
    for key in ("runs", "seed", "concentration", "grid_jitter"):
        assert default("sensitivity", key.upper()) == sens.key(key).default, key
    assert default("compareperiods", "ID_FIELD") == model.Compare.key("id_field").default
    assert default("aggregatepat", "KDE_BANDWIDTH") == model.Role.key("kde_bandwidth").default
    assert vocab.TOOLBOX_SCALINGS[default("buildindex", "SCALING")] == \
        model.Measurement.key("scaling").default
    assert vocab.AGGREGATIONS[default("buildindex", "AGGREGATION")] == \
        model.Aggregation.key("issue").default
    imp = model.Import
    assert vocab.IMPORT_PRESETS[default("importincidents", "PRESET")] == imp.key("preset").default
    assert vocab.IMPORT_DELIMITERS[default("importincidents", "DELIMITER")] == \
        imp.key("delimiter").default
    assert default("importincidents", "STUDY_BUFFER") == imp.key("study_buffer").default
    assert os.path.basename(__file__)
