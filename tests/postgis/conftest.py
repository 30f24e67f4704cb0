"""A real PostgreSQL 15 + PostGIS 3 server for the PostGIS tests, loaded with the Birmingham sample.

One throwaway cluster per test session (temp folder, free local port, trust authentication on
127.0.0.1 only), stopped and deleted at the end. If it cannot start, every PostGIS test FAILS with
the reason (never a silent skip): install the packages with ``bash scripts/setup_postgis.sh``.

Tables (all EPSG:27700 unless said):
  study_area, wards, lsoa21, constituencies   the bundled sample (resources/sample/birmingham.gpkg)
  victims, offenders, locations               synthetic points ("tiny", seed 7, year 2024)
  victims_nopk                                victims copied with no primary key and no spatial index
  victims_4326, study_area_4326               the same in a geographic CRS (EPSG:4326)
The same layers sit in the GeoPackages ``base_gpkg`` and ``points_gpkg`` for the comparisons.
"""
import getpass
import os
import shutil

import pytest

from tests.postgis.pgcluster import PgCluster, PgClusterError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "resources", "sample", "birmingham.gpkg")
BASE_LAYERS = ("study_area", "wards", "lsoa21", "constituencies")
ROLES = ("victims", "offenders", "locations")


@pytest.fixture(scope="session")
def pg_data(tmp_path_factory):
    """GeoPackages with the sample zones and synthetic points (the file side of each comparison)."""
    from composite_index_plugin.processing import sample_io

    folder = tmp_path_factory.mktemp("pgdata")
    base = str(folder / "birmingham.gpkg")
    shutil.copy(SAMPLE, base)
    made = sample_io.make_sample(str(folder / "synthetic"), size="tiny", seed=7, years=[2024])
    return {"base_gpkg": base, "points_gpkg": made[2024]["gpkg"], "folder": str(folder)}


@pytest.fixture(scope="session")
def pg(pg_data):
    """The running cluster (a ``PgCluster``) with every table above loaded."""
    cluster = None
    try:
        cluster = PgCluster().start()
        me = getpass.getuser()
        if me != "postgres":
            # stored QGIS connections may carry no user name: let the OS user in as well
            cluster.psql(f'CREATE ROLE "{me}" SUPERUSER LOGIN')
        for name in BASE_LAYERS:
            cluster.load(pg_data["base_gpkg"], name, name)
        for role in ROLES:
            cluster.load(pg_data["points_gpkg"], role, f"synthetic_{role}")
        cluster.psql("CREATE TABLE victims_nopk AS SELECT * FROM victims")
        cluster.load(pg_data["points_gpkg"], "victims_4326", "synthetic_victims", t_srs="EPSG:4326")
        cluster.load(pg_data["base_gpkg"], "study_area_4326", "study_area", t_srs="EPSG:4326")
        cluster.psql("ANALYZE")
    except (PgClusterError, OSError) as err:
        if cluster is not None:
            cluster.stop()
        pytest.fail(f"The PostGIS test server could not be started: {err}", pytrace=False)
    yield cluster
    cluster.stop()
