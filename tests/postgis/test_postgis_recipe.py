"""runrecipe with PostGIS sources: by URI, by stored QGIS connection, by pg_service name.

The same small recipe (one theme, two issues, a 1.5 km hexagon grid) runs from the GeoPackages
and from PostGIS; the index layers in the two results.gpkg must be identical.
"""
import json
import os

import pytest
from qgis.core import QgsProcessingException, QgsProviderRegistry

from tests.postgis.helpers import assert_same, run, table

ISSUES = ("burglary", "asb")


def recipe(sources, out_folder):
    """``sources``: role or layer name -> recipe source dict."""
    themes = [{"name": "sample", "label": "Sample", "issues": [
        {"name": issue, "label": issue, "roles": {
            role: {"source": sources[role], "filter": f"\"issue\" = '{issue}'",
                   "measure": "volume", "scaling": "zscore"}
            for role in ("victims", "locations")}} for issue in ISSUES]}]
    return {
        "recipe_version": 1, "name": "PostGIS recipe test", "crs": "EPSG:27700",
        "study_area": {"source": sources["study_area"]},
        "geography": {"type": "grid", "shape": "hexagon_flat", "size": 1500, "origin": [0, 0]},
        "population": {"source": sources["lsoa21"], "field": "population"},
        "themes": themes,
        "hotspots": {"field": "ci_score", "neighbourhood": "queen", "permutations": 0, "fdr": False},
        "output": {"folder": out_folder},
    }


def write(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    return str(path)


def file_sources(pg_data):
    base, pts = pg_data["base_gpkg"], pg_data["points_gpkg"]
    out = {n: {"path": base, "layer": n} for n in ("study_area", "lsoa21")}
    out.update({r: {"path": pts, "layer": f"synthetic_{r}"} for r in ("victims", "locations")})
    return out


def run_recipe(path, folder, allowed=()):
    # the recipes name the session's data folder (outside their own): allowed for the run
    return run("compositeindex:runrecipe", {"RECIPE": path, "OUTPUT_FOLDER": str(folder),
                                            "ALLOWED_FOLDERS": list(allowed)})


@pytest.fixture(scope="module")
def gpkg_run(pg_data, provider, tmp_path_factory):
    folder = tmp_path_factory.mktemp("recipe_gpkg")
    path = write(folder / "recipe.json", recipe(file_sources(pg_data), "out"))
    run_recipe(path, folder / "out", [pg_data["folder"]])
    return str(folder / "out" / "results.gpkg")


def index_of(gpkg):
    return f"{gpkg}|layername=index"


def test_recipe_with_postgis_uris(pg, gpkg_run, tmp_path):
    sources = {n: {"uri": pg.layer_uri(n), "provider": "postgres"}
               for n in ("study_area", "lsoa21", "victims", "locations")}
    path = write(tmp_path / "recipe.json", recipe(sources, "out"))
    run_recipe(path, tmp_path / "out")
    frame = assert_same(index_of(str(tmp_path / "out" / "results.gpkg")), index_of(gpkg_run), "cell_id")
    assert int(frame["burglary_victims"].sum()) == int(pg.psql(
        "SELECT count(*) FROM victims WHERE issue = 'burglary'"))


@pytest.fixture
def stored_connection(pg):
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    conn = md.createConnection(f"dbname='{pg.dbname}' host={pg.host} port={pg.port} sslmode=disable", {})
    md.saveConnection(conn, "ci_recipe_warehouse")
    yield "ci_recipe_warehouse"
    md.deleteConnection("ci_recipe_warehouse")


def test_recipe_with_a_stored_connection_and_a_service(pg, gpkg_run, stored_connection, tmp_path,
                                                       monkeypatch):
    service_file = tmp_path / "pg_service.conf"
    service_file.write_text(f"[ci_recipe]\nhost={pg.host}\nport={pg.port}\ndbname={pg.dbname}\n"
                            f"user={pg.user}\nsslmode=disable\n")
    monkeypatch.setenv("PGSERVICEFILE", str(service_file))
    sources = {n: {"connection": stored_connection, "schema": "public", "table": n}
               for n in ("study_area", "lsoa21")}
    sources.update({r: {"service": "ci_recipe", "table": r, "geometry_column": "geom"}
                    for r in ("victims", "locations")})
    path = write(tmp_path / "recipe.json", recipe(sources, "out"))
    text = open(path, encoding="utf-8").read()
    assert "password" not in text
    run_recipe(path, tmp_path / "out")
    assert_same(index_of(str(tmp_path / "out" / "results.gpkg")), index_of(gpkg_run), "cell_id")


def test_recipe_naming_a_missing_connection_is_a_clear_error(pg, provider, tmp_path):
    sources = {n: {"connection": "no_such_warehouse", "table": n}
               for n in ("study_area", "lsoa21", "victims", "locations")}
    path = write(tmp_path / "recipe.json", recipe(sources, "out"))
    with pytest.raises(QgsProcessingException) as err:
        run_recipe(path, tmp_path / "out")
    text = str(err.value)
    assert "no stored PostGIS connection named 'no_such_warehouse'" in text
    assert "study_area.source.connection" in text
    assert not os.path.exists(tmp_path / "out" / "results.gpkg")


def test_gpkg_recipe_numbers(gpkg_run, pg_data):
    """The reference run itself counted every point (so the comparisons above mean something)."""
    from osgeo import ogr
    frame = table(index_of(gpkg_run), "cell_id")
    ds = ogr.Open(pg_data["points_gpkg"])
    for issue in ISSUES:
        lyr = ds.GetLayerByName("synthetic_locations")
        lyr.SetAttributeFilter(f"issue = '{issue}'")
        assert int(frame[f"{issue}_locations"].sum()) == lyr.GetFeatureCount() > 10
