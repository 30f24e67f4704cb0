"""Every algorithm reads PostGIS layers, writes PostGIS tables, and gives the GeoPackage result.

The whole chain (grid -> aggregation -> population -> index -> hotspots -> hotspot zones ->
area summaries, plus import, period comparison and sensitivity) runs twice on the Birmingham
sample: once from a real PostGIS server into PostGIS tables, once from GeoPackages into a
GeoPackage. Each step's two outputs must hold the same features (attributes and geometries).
"""
import json
import os

import pytest
from qgis.core import QgsProcessingContext, QgsProject, QgsVectorLayer

from tests.postgis.helpers import RecordingFeedback, assert_same, run, table

ISSUE = "burglary"
FILTER = "\"issue\" = 'burglary'"
SPEC = {"themes": [{"name": "acquisitive", "issues": [{"name": ISSUE, "indicators": {
    "victims": {"field": f"{ISSUE}_victims", "measure": "rate", "denominator": "population",
                "per": 1000, "scaling": "zscore"},
    "offenders": {"field": f"{ISSUE}_offenders", "scaling": "zscore"},
    "locations": {"field": f"{ISSUE}_locations", "scaling": "minmax", "weight": 2}}}]}]}


def pg_src(pg, table_name):
    return "postgres://" + pg.layer_uri(table_name)


def gpkg_src(path, layer):
    return f"{path}|layername={layer}"


class FailedStep(str):
    """The error of a step that could not run (its test fails with it)."""


def need(out, name):
    value = out.get(name)
    if value is None or isinstance(value, FailedStep):
        raise RuntimeError(f"needs the output of {name}, which failed")
    return value


def chain(pg, pg_data, backend, out_dir):
    """Run every step on one backend; returns {step: output value}."""
    if backend == "pg":
        src = {n: pg_src(pg, n) for n in ("study_area", "lsoa21", "constituencies",
                                          "victims", "offenders", "locations")}

        def dest(name, geom="geom"):
            return pg.destination(name, geom)
    else:
        base, pts = pg_data["base_gpkg"], pg_data["points_gpkg"]
        src = {n: gpkg_src(base, n) for n in ("study_area", "lsoa21", "constituencies")}
        src.update({r: gpkg_src(pts, f"synthetic_{r}") for r in ("victims", "offenders", "locations")})
        gpkg = os.path.join(out_dir, "results.gpkg")

        def dest(name, geom="geom"):
            return f"ogr:dbname='{gpkg}' table=\"{name}\"" + (f" ({geom})" if geom else "")
    out = {}

    def step(name, func):
        """Run one step; a failure is kept (and fails that step's test) so the others still run."""
        try:
            func()
        except Exception as err:  # noqa: BLE001 - reported by the step's test
            out.setdefault(name, FailedStep(f"{name} failed: {err}"))

    def grid():
        out["creategrid"] = run("compositeindex:creategrid", {
            "STUDY_AREA": src["study_area"], "SHAPE": 1, "SIZE": 1500, "KEEP": 0,
            "OUTPUT": dest("grid")})["OUTPUT"]

    def aggregate():
        out["aggregatepat"] = run("compositeindex:aggregatepat", {
            "ZONES": need(out, "creategrid"), "ISSUE": ISSUE,
            "VICTIMS": src["victims"], "OFFENDERS": src["offenders"], "LOCATIONS": src["locations"],
            "VICTIMS_FILTER": FILTER, "OFFENDERS_FILTER": FILTER, "LOCATIONS_FILTER": FILTER,
            "LOCATIONS_WEIGHT": "harm", "OUTPUT": dest("aggregated")})["OUTPUT"]

    def apportion():
        out["apportion"] = run("compositeindex:apportion", {
            "SOURCES": src["lsoa21"], "FIELD": "population", "ZONES": need(out, "aggregatepat"),
            "OUTPUT_FIELD": "population", "OUTPUT": dest("zones_population")})["OUTPUT"]

    def index():
        res = run("compositeindex:buildindex", {
            "INPUT": need(out, "apportion"), "SPEC": json.dumps(SPEC),
            "REPORT": os.path.join(out_dir, "index.html"), "OUTPUT": dest("index"),
            "DIAGNOSTICS": dest("diagnostics", None)})
        out["buildindex"], out["buildindex_diagnostics"] = res["OUTPUT"], res["DIAGNOSTICS"]

    def hotspots():
        out["hotspots"] = run("compositeindex:hotspots", {
            "INPUT": need(out, "buildindex"), "FIELD": "ci_score", "NEIGHBOURHOOD": 0,
            "PERMUTATIONS": 99, "SEED": 3, "FDR": False, "OUTPUT": dest("hotspots")})["OUTPUT"]

    def hotspot_zones():
        out["hotspotzones"] = run("compositeindex:hotspotzones", {
            "INPUT": need(out, "hotspots"), "MIN_BIN": 1, "SUM_FIELDS": [f"{ISSUE}_victims"],
            "OUTPUT": dest("hotspot_zones")})["OUTPUT"]

    def summaries():
        res = run("compositeindex:summariseareas", {
            "ZONES": need(out, "buildindex"), "AREAS": src["constituencies"],
            "AREA_NAME_FIELD": "Cnsttnc", "OUTPUT": dest("area_summary"),
            "TABLE": dest("area_summary_table", None)})
        out["summariseareas"], out["summariseareas_table"] = res["OUTPUT"], res["TABLE"]

    def compare():
        out["compareperiods"] = run("compositeindex:compareperiods", {
            "PERIODS": [need(out, "buildindex"), need(out, "buildindex")], "ID_FIELD": "cell_id",
            "LABELS": "a,b", "OUTPUT": dest("period_change"),
            "GAPS": dest("period_gaps", None)})["OUTPUT"]

    def sensitivity():
        out["sensitivity"] = run("compositeindex:sensitivity", {
            "INPUT": need(out, "apportion"), "SPEC": json.dumps(SPEC), "RUNS": 20, "SEED": 4,
            "CONCENTRATION": 20.0, "OUTPUT": dest("sensitivity")})["OUTPUT"]

    def import_police():
        police = os.path.join(os.path.dirname(pg_data["points_gpkg"]), "agency_csv",
                              "police_incidents_2024.csv")
        out["importincidents"] = run("compositeindex:importincidents", {
            "INPUT": [police], "X_FIELD": "longitude", "Y_FIELD": "latitude",
            "SOURCE_CRS": "EPSG:4326", "TARGET_CRS": "EPSG:27700", "STUDY_AREA": src["study_area"],
            "CLEAN": dest("clean_police"), "REJECTED": dest("rejected_police", None),
            "REPORT": os.path.join(out_dir, "import.html")})["CLEAN"]

    for name, func in (("creategrid", grid), ("aggregatepat", aggregate), ("apportion", apportion),
                       ("buildindex", index), ("hotspots", hotspots), ("hotspotzones", hotspot_zones),
                       ("summariseareas", summaries), ("compareperiods", compare),
                       ("sensitivity", sensitivity), ("importincidents", import_police)):
        step(name, func)
    out.setdefault("buildindex_diagnostics", out.get("buildindex"))
    out.setdefault("summariseareas_table", out.get("summariseareas"))
    return out


@pytest.fixture(scope="module")
def both(pg, pg_data, provider, tmp_path_factory):
    results = {}
    for backend in ("pg", "gpkg"):
        folder = str(tmp_path_factory.mktemp(f"chain_{backend}"))
        results[backend] = chain(pg, pg_data, backend, folder)
    return results


KEYS = {"creategrid": "cell_id", "aggregatepat": "cell_id", "apportion": "cell_id",
        "buildindex": "cell_id", "hotspots": "cell_id", "compareperiods": "cell_id",
        "sensitivity": "cell_id", "summariseareas": "area_name", "summariseareas_table": "area_name",
        "hotspotzones": None, "buildindex_diagnostics": None, "importincidents": None}


@pytest.mark.parametrize("step", list(KEYS))
def test_postgis_run_equals_geopackage_run(both, step):
    pg_out, gpkg_out = both["pg"][step], both["gpkg"][step]
    for value in (pg_out, gpkg_out):
        if isinstance(value, FailedStep):
            pytest.fail(str(value), pytrace=False)
    if step not in ("buildindex_diagnostics", "summariseareas_table"):
        assert pg_out.startswith("postgres://"), pg_out      # really written to PostGIS
    frame = assert_same(pg_out, gpkg_out, KEYS[step])
    assert len(frame) > 0


def test_chain_numbers_are_real(both, pg):
    """The PostGIS run counted every burglary point of the synthetic sample (none lost)."""
    agg = table(both["pg"]["aggregatepat"], "cell_id")
    for role in ("victims", "offenders", "locations"):
        expected = int(pg.psql(f"SELECT count(*) FROM {role} WHERE issue = 'burglary'"))
        assert expected > 10
        # the grid keeps every cell touching the study area, so every point falls in a cell
        assert int(agg[f"{ISSUE}_{role}"].sum()) == expected, role
    pop = table(both["pg"]["apportion"], "cell_id")["population"].sum()
    assert pop == pytest.approx(float(pg.psql("SELECT sum(population) FROM lsoa21")), rel=1e-9)


def test_project_layers_from_postgis(pg, pg_data, provider, tmp_path):
    """Layers of the project (by id), not URIs, work too, and give the same grid."""
    project = QgsProject()
    layer = QgsVectorLayer(pg.layer_uri("study_area"), "Birmingham (PostGIS)", "postgres")
    assert layer.isValid()
    project.addMapLayer(layer)
    context = QgsProcessingContext()
    context.setProject(project)
    by_id = run("compositeindex:creategrid", {"STUDY_AREA": layer.id(), "SHAPE": 0, "SIZE": 2000,
                                              "OUTPUT": pg.destination("grid_project")},
                context=context)["OUTPUT"]
    from_file = run("compositeindex:creategrid", {
        "STUDY_AREA": gpkg_src(pg_data["base_gpkg"], "study_area"), "SHAPE": 0, "SIZE": 2000,
        "OUTPUT": str(tmp_path / "grid.gpkg")})["OUTPUT"]
    frame = assert_same(by_id, from_file, "cell_id")
    assert len(frame) == int(pg.psql("SELECT count(*) FROM grid_project"))


def test_postgis_destination_forms(pg, provider):
    """Both destination spellings QGIS 3.22 knows write a PostGIS table."""
    a = run("compositeindex:creategrid", {"STUDY_AREA": pg_src(pg, "study_area"), "SHAPE": 2,
                                          "SIZE": 3000, "OUTPUT": pg.destination("form_a")})
    b = run("compositeindex:creategrid", {
        "STUDY_AREA": pg_src(pg, "study_area"), "SHAPE": 2, "SIZE": 3000,
        "OUTPUT": f"postgis:{pg.conninfo()} table=\"public\".\"form_b\" (geom)"})
    assert a["CELLS"] == b["CELLS"] == int(pg.psql("SELECT count(*) FROM form_b")) > 0
    assert pg.psql("SELECT Find_SRID('public', 'form_b', 'geom')") == "27700"


def test_table_without_key_or_index_works_with_a_speed_warning(pg, provider):
    fb = RecordingFeedback.make()
    grid = run("compositeindex:creategrid", {"STUDY_AREA": pg_src(pg, "study_area"), "SHAPE": 0,
                                             "SIZE": 2000, "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    slow = run("compositeindex:aggregatepat", {
        "ZONES": grid, "ISSUE": ISSUE, "VICTIMS": pg_src(pg, "victims_nopk"),
        "VICTIMS_FILTER": FILTER, "OUTPUT": "TEMPORARY_OUTPUT"}, feedback=fb)["OUTPUT"]
    fast = run("compositeindex:aggregatepat", {
        "ZONES": grid, "ISSUE": ISSUE, "VICTIMS": pg_src(pg, "victims"),
        "VICTIMS_FILTER": FILTER, "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    a = table(slow, "cell_id")
    assert a[f"{ISSUE}_victims"].sum() == int(pg.psql(
        "SELECT count(*) FROM victims_nopk WHERE issue = 'burglary'"))
    assert_same(slow, fast, "cell_id")
    text = " ".join(fb.warnings)
    assert "no primary key" in text and "no spatial index" in text, fb.warnings


def test_geographic_crs_table(pg, provider):
    """Points and a study area stored in EPSG:4326 are reprojected, not refused or misplaced."""
    grid_bng = run("compositeindex:creategrid", {
        "STUDY_AREA": pg_src(pg, "study_area"), "SHAPE": 0, "SIZE": 2000,
        "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    # a geographic study area needs a projected target CRS (the grid refuses degrees)
    grid_geo = run("compositeindex:creategrid", {
        "STUDY_AREA": pg_src(pg, "study_area_4326"), "SHAPE": 0, "SIZE": 2000,
        "TARGET_CRS": "EPSG:27700", "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    assert grid_geo.crs().authid() == "EPSG:27700"
    ids_bng = set(table(grid_bng, "cell_id")["cell_id"])
    ids_geo = set(table(grid_geo, "cell_id")["cell_id"])
    # the study area went to degrees and back: the same cells, give or take a boundary sliver
    assert len(ids_bng ^ ids_geo) <= 0.01 * len(ids_bng)
    counts = {}
    for name in ("victims", "victims_4326"):
        out = run("compositeindex:aggregatepat", {
            "ZONES": grid_bng, "ISSUE": ISSUE, "VICTIMS": pg_src(pg, name), "VICTIMS_FILTER": FILTER,
            "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
        counts[name] = table(out, "cell_id").set_index("cell_id")[f"{ISSUE}_victims"]
    total = int(pg.psql("SELECT count(*) FROM victims WHERE issue = 'burglary'"))
    assert counts["victims_4326"].sum() == counts["victims"].sum() == total
    # degrees -> metres moves a point by far less than a millimetre: the same cell for (almost) all
    moved = (counts["victims_4326"] - counts["victims"]).abs().sum()
    assert moved <= 2


def test_export_assessment_reads_postgis_layers(both, tmp_path):
    """The layout reads its zones and areas from PostGIS and makes the same pages as from files."""
    pages = {}
    for backend in ("pg", "gpkg"):
        res = run("compositeindex:exportassessment", {
            "ZONES": both[backend]["hotspots"], "HOTSPOT_ZONES": both[backend]["hotspotzones"],
            "AREAS": both[backend]["summariseareas"], "AREA_NAME_FIELD": "area_name",
            "TITLE": "PostGIS test", "PDF": str(tmp_path / f"{backend}.pdf")})
        pages[backend] = res["PAGES"]
        assert os.path.getsize(tmp_path / f"{backend}.pdf") > 10000
    assert pages["pg"] == pages["gpkg"] >= 2
