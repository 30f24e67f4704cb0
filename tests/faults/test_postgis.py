"""PostGIS faults (issue 15): distinct messages for a refused password, an unknown service, a
server that is down and an SQL error; the recipe's sql key is a filter the plugin translates
(``pg_sleep`` refused), statements time out; a server stopped while a layer is read or written
leaves the previous output whole.

A throwaway cluster of its own (``tests/postgis/pgcluster.py``): these tests stop and start it.
"""
import os
import time

import pytest
from qgis.core import (
    QgsDataSourceUri,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProviderRegistry,
    QgsVectorLayer,
)

from composite_index_plugin.processing import connections as cx
from composite_index_plugin.processing import transaction
from tests.faults.helpers import SAMPLE
from tests.postgis.pgcluster import PgCluster, PgClusterError


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cluster = None
    try:
        cluster = PgCluster().start()
        cluster.load(SAMPLE, "study_area", "study_area")
        cluster.load(SAMPLE, "lsoa21", "lsoa21")
        cluster.psql("CREATE TABLE big_points AS SELECT g AS id, (g % 10) AS kind, "
                     "ST_SetSRID(ST_MakePoint(400000 + (g % 1000) * 15, 277000 + (g / 1000) * 50),"
                     " 27700) AS geom FROM generate_series(0, 199999) g; "
                     "ALTER TABLE big_points ADD PRIMARY KEY (id); "
                     "CREATE INDEX ON big_points USING GIST (geom)")
        cluster.psql("CREATE ROLE analyst LOGIN PASSWORD 'right-password'")
        cluster.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO analyst")
        hba = os.path.join(cluster.folder, "data", "pg_hba.conf")
        with open(hba, encoding="utf-8") as handle:
            rules = handle.read()
        with open(hba, "w", encoding="utf-8") as handle:    # the analyst needs a password
            handle.write("host all analyst 127.0.0.1/32 scram-sha-256\n" + rules)
        cluster.psql("SELECT pg_reload_conf()")
    except (PgClusterError, OSError) as err:
        if cluster is not None:
            cluster.stop()
        pytest.fail(f"The PostGIS test server could not be started: {err}", pytrace=False)
    folder = tmp_path_factory.mktemp("pgservice")
    service = folder / "pg_service.conf"
    service.write_text(
        f"[ci_ok]\nhost={cluster.host}\nport={cluster.port}\ndbname={cluster.dbname}\n"
        f"user={cluster.user}\nsslmode=disable\n\n"
        f"[ci_analyst]\nhost={cluster.host}\nport={cluster.port}\ndbname={cluster.dbname}\n"
        "user=analyst\nsslmode=disable\n\n"
        f"[ci_down]\nhost=127.0.0.1\nport={_closed_port()}\ndbname=ci\nuser=postgres\n"
        "sslmode=disable\nconnect_timeout=3\n")
    passfile = folder / "pgpass"
    passfile.write_text(f"{cluster.host}:{cluster.port}:*:analyst:wrong-password\n")
    os.chmod(passfile, 0o600)
    saved = {k: os.environ.get(k) for k in ("PGSERVICEFILE", "PGPASSFILE")}
    os.environ["PGSERVICEFILE"] = str(service)
    os.environ["PGPASSFILE"] = str(passfile)
    yield cluster
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    cluster.stop()


def _closed_port():
    from tests.postgis.pgcluster import free_port

    return free_port()


def _stop(cluster):
    cluster._cmd(["pg_ctl", "-D", os.path.join(cluster.folder, "data"), "-m", "immediate", "-w",
                  "stop"], check=False)


def _start(cluster):
    opts = (f"-c port={cluster.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={cluster.folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
    cluster._cmd(["pg_ctl", "-D", os.path.join(cluster.folder, "data"), "-l",
                  os.path.join(cluster.folder, "server.log"), "-o", opts, "-w", "-t", "60",
                  "start"])
    assert cluster.wait_ready()


def _problem(source):
    with pytest.raises(cx.SourceError) as err:
        cx.source_layer(source, "population.source")
    return err.value.problem


# --------------------------------------------------------------------------- distinct messages
def test_a_refused_password_is_named(server):
    problem = _problem({"service": "ci_analyst", "table": "lsoa21"})
    assert "refused the user name or password of the service 'ci_analyst'" in problem.message
    assert ".pgpass" in problem.hint


def test_an_unknown_service_is_named(server):
    problem = _problem({"service": "no_such_service", "table": "lsoa21"})
    assert "service 'no_such_service' is not defined in pg_service.conf" in problem.message
    assert "pg_service.conf" in problem.hint


def test_a_server_that_is_down_is_named(server):
    problem = _problem({"service": "ci_down", "table": "lsoa21"})
    assert "cannot be reached" in problem.message and "server is running" in problem.hint


def test_a_missing_table_and_an_sql_error_are_named(server):
    assert "table public.no_such_table does not exist" in _problem(
        {"service": "ci_ok", "table": "no_such_table"}).message
    problem = _problem({"service": "ci_ok", "table": "lsoa21", "sql": "\"no_column\" = 1"})
    assert problem.path == "population.source.sql"
    assert "the server refused the filter" in problem.message and "no_column" in problem.message


# --------------------------------------------------------------------------- the sql key
def test_the_sql_key_is_translated_and_quoted(server):
    assert cx.filter_sql("\"kind\" = 3 AND \"name\" IN ('a', 'b''c') OR \"x\" IS NULL") == \
        "(((\"kind\" = 3) AND (\"name\" IN ('a', 'b''c'))) OR (\"x\" IS NULL))"
    layer = cx.source_layer({"service": "ci_ok", "table": "big_points", "sql": "\"kind\" = 3"})
    assert layer.featureCount() == 20000


@pytest.mark.parametrize("text", ["pg_sleep(3) IS NOT NULL", "\"kind\" = 1; DROP TABLE lsoa21",
                                  "\"kind\" IN (SELECT 1)", "length(\"kind\") > 1",
                                  "\"kind\" = 1 OR 1 = (SELECT pg_sleep(3))"])
def test_sql_that_is_not_a_plain_filter_is_refused_before_any_query(server, text):
    """`pg_sleep(3) IS NOT NULL` hung a run past 600 s."""
    started = time.time()
    problem = _problem({"service": "ci_ok", "table": "lsoa21", "sql": text})
    assert problem.path == "population.source.sql"
    assert "sql filter may not use" in problem.message or "raw SQL is not accepted" in \
        problem.message
    assert time.time() - started < 2
    assert server.psql("SELECT to_regclass('public.lsoa21') IS NOT NULL") == "t"


def test_statements_time_out(server):
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    conninfo = QgsDataSourceUri(server.layer_uri("lsoa21")).connectionInfo(True)
    started = time.time()
    with cx.statement_timeout(1):
        conn = md.createConnection(conninfo, {})
        with pytest.raises(Exception) as err:
            conn.executeSql("SELECT pg_sleep(20)")
    assert "statement timeout" in str(err.value)
    assert time.time() - started < 10


# --------------------------------------------------------------------------- server stopped
def _grid(size):
    import processing

    return processing.run("compositeindex:creategrid", {
        "STUDY_AREA": f"{SAMPLE}|layername=study_area", "SIZE": size,
        "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]


def _count_sum(gpkg, table):
    import sqlite3

    con = sqlite3.connect(gpkg)
    try:
        return con.execute(f'SELECT COUNT(*), SUM("stop_victims") FROM "{table}"').fetchone()
    finally:
        con.close()


def test_a_server_stopped_mid_read_leaves_the_previous_output(server, tmp_path, monkeypatch):
    import processing

    from composite_index_plugin.processing import io_points

    gpkg = tmp_path / "results.gpkg"
    dest = f"ogr:dbname='{gpkg}' table=\"aggregated\" (geom)"
    points = "postgres://" + server.layer_uri("big_points", key="id")
    zones = _grid(2000)
    params = {"ZONES": zones, "ISSUE": "stop", "VICTIMS": points, "VICTIMS_WEIGHT": "kind",
              "OUTPUT": dest}
    processing.run("compositeindex:aggregatepat", params)
    before = _count_sum(str(gpkg), "aggregated")
    original = io_points._arrow_column
    batches = []

    def stop_after_the_first_batch(values):    # the reader has a batch; the server goes
        batches.append(len(values))
        if len(batches) == 1:
            _stop(server)
        return original(values)

    monkeypatch.setattr(io_points, "_arrow_column", stop_after_the_first_batch)
    try:
        with pytest.raises(QgsProcessingException) as err:
            processing.run("compositeindex:aggregatepat", dict(params, VICTIMS_FILTER="\"kind\" < 8"))
    finally:
        _start(server)
    text = str(err.value)
    assert "PostGIS" in text and ("failed part way" in text or "was lost" in text), text
    assert len(batches) == 1 and batches[0] < 160000          # stopped part way
    assert _count_sum(str(gpkg), "aggregated") == before
    assert transaction._gpkg_tables(str(gpkg)) == ["aggregated"]


def test_a_server_stopped_mid_write_leaves_the_previous_table(server):
    """A server stopped while a PostGIS output was written replaced the old table with zeros or
    dropped it: the new table is written aside and the old one is only replaced at the end."""
    import processing

    points = "postgres://" + server.layer_uri("big_points", key="id")
    zones = _grid(150)                             # over 5,000 zones: written in batches
    dest = server.destination("agg_out")
    params = {"ZONES": zones, "ISSUE": "stop", "VICTIMS": points, "OUTPUT": dest}
    processing.run("compositeindex:aggregatepat", params)
    before = server.psql("SELECT count(*), sum(stop_victims) FROM agg_out")
    assert int(before.split("|")[0]) > 5000

    class Stopping(QgsProcessingFeedback):
        counted = False
        stopped = False

        def setProgress(self, value):
            super().setProgress(value)
            if value == 75:                          # counted: the zones are written next
                Stopping.counted = True
            elif Stopping.counted and not Stopping.stopped:
                Stopping.stopped = True
                _stop(server)

    try:
        with pytest.raises(QgsProcessingException) as err:
            processing.run("compositeindex:aggregatepat",
                           dict(params, VICTIMS_FILTER="\"kind\" < 5"), feedback=Stopping())
    finally:
        _start(server)
    assert Stopping.stopped, str(err.value)
    assert "PostGIS" in str(err.value) and "writing the output" in str(err.value)
    assert server.psql("SELECT count(*), sum(stop_victims) FROM agg_out") == before
    # what the stopped run left aside is removed by the next run
    processing.run("compositeindex:aggregatepat", params)
    left = server.psql(f"SELECT count(*) FROM pg_tables WHERE tablename LIKE "
                       f"'%{transaction.TABLE_TAG}%'")
    assert left == "0"


def test_an_output_in_a_schema_of_its_own_name(server):
    """The temporary table is named by parsing the destination (a text replace renamed the
    schema when schema and table had the same name)."""
    import processing

    server.psql("CREATE SCHEMA IF NOT EXISTS twin")
    zones = _grid(1000)
    points = "postgres://" + server.layer_uri("big_points", key="id")
    dest = server.destination("twin", schema="twin")
    n_zones = zones.featureCount() if hasattr(zones, "featureCount") else \
        QgsVectorLayer(zones, "zones", "ogr").featureCount()
    for _ in range(2):                              # written, then replaced
        processing.run("compositeindex:aggregatepat",
                       {"ZONES": zones, "ISSUE": "tw", "VICTIMS": points, "OUTPUT": dest})
    assert int(server.psql("SELECT count(*) FROM twin.twin")) == n_zones > 100
    left = server.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'twin'")
    assert int(left) == 1                           # no temporary table left
