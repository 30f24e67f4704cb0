"""Recipe sources by stored connection or service name, bounding boxes, lost connections."""
import pytest
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingException,
    QgsProviderRegistry,
    QgsRectangle,
    QgsVectorLayer,
)

from composite_index_plugin.processing import connections as cx
from composite_index_plugin.processing import io_points
from composite_index_plugin.processing.algorithms.aggregate import AggregatePatAlgorithm
from tests.postgis.helpers import RecordingFeedback, run, table


@pytest.fixture
def stored_connection(pg):
    """A PostGIS connection saved in this QGIS profile (removed afterwards). No password."""
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    name = "ci_test_warehouse"
    conn = md.createConnection(f"dbname='{pg.dbname}' host={pg.host} port={pg.port} sslmode=disable", {})
    md.saveConnection(conn, name)
    yield name
    md.deleteConnection(name)


@pytest.fixture
def pg_service(pg, tmp_path, monkeypatch):
    path = tmp_path / "pg_service.conf"
    path.write_text(f"[ci_service]\nhost={pg.host}\nport={pg.port}\ndbname={pg.dbname}\n"
                    f"user={pg.user}\nsslmode=disable\n")
    monkeypatch.setenv("PGSERVICEFILE", str(path))
    return "ci_service"


def test_stored_connection_source(pg, stored_connection):
    source = {"connection": stored_connection, "schema": "public", "table": "wards"}
    uri = cx.postgres_uri(source)
    assert "password" not in uri and "table=\"public\".\"wards\"" in uri
    layer = cx.source_layer(source)
    assert layer.isValid() and layer.featureCount() == 69
    assert layer.isSpatial() and layer.crs().authid() == "EPSG:27700"   # geometry column found
    assert sorted(f["Ward"] for f in layer.getFeatures())[:2] == ["Acocks Green", "Allens Cross"]


def test_service_source_with_sql_filter_and_geometry_column(pg, pg_service):
    source = {"service": pg_service, "table": "victims", "geometry_column": "geom",
              "sql": "\"issue\" = 'burglary'", "key_column": "fid"}
    layer = cx.source_layer(source, name="burglary victims")
    expected = int(pg.psql("SELECT count(*) FROM victims WHERE issue = 'burglary'"))
    assert layer.isValid() and layer.featureCount() == expected > 0
    assert "service='ci_service'" in layer.source()


def test_missing_connection_is_a_clear_problem(pg, stored_connection):
    with pytest.raises(cx.SourceError) as err:
        cx.source_layer({"connection": "warehuose", "table": "wards"},
                        "themes[0].issues[1].roles.victims.source")
    problem = err.value.problem
    assert problem.path == "themes[0].issues[1].roles.victims.source.connection"
    assert "no stored PostGIS connection named 'warehuose'" in problem.message
    assert stored_connection in problem.hint       # lists the names that do exist


def test_missing_table_is_a_clear_problem(pg, stored_connection):
    with pytest.raises(cx.SourceError) as err:
        cx.source_layer({"connection": stored_connection, "table": "no_such_table"}, "population.source")
    assert "table public.no_such_table does not exist" in err.value.problem.message


def test_recipe_sources_never_hold_passwords():
    problems = cx.validate_database_source(
        {"uri": "dbname=x host=y password=secret table=\"a\".\"b\" (geom)", "provider": "postgres"})
    assert [p.path for p in problems] == ["source.uri"] and "password" in problems[0].message
    problems = cx.validate_database_source({"connection": "w", "service": "s"})
    assert {p.path for p in problems} == {"source", "source.table"}
    problems = cx.validate_database_source({"service": "s", "table": "t", "passwd": "x"})
    assert [p.path for p in problems] == ["source.passwd"]


def test_bounding_box_restriction_counts_what_it_leaves_out(pg):
    layer = QgsVectorLayer(pg.layer_uri("victims"), "victims", "postgres")
    total = layer.featureCount()
    rect = QgsRectangle(400000, 280000, 410000, 290000)
    expected = int(pg.psql("SELECT count(*) FROM victims WHERE geom && "
                           "ST_MakeEnvelope(400000, 280000, 410000, 290000, 27700)"))
    fb = RecordingFeedback.make()
    kept, left = cx.restrict_to_extent(layer, rect, QgsCoordinateReferenceSystem("EPSG:27700"),
                                       feedback=fb)
    assert (kept, left) == (expected, total - expected) and 0 < expected < total
    assert f"{total - expected:,} of {total:,} features" in fb.infos[0]
    # a rectangle in degrees is transformed to the table's CRS first
    layer2 = QgsVectorLayer(pg.layer_uri("victims_4326"), "v", "postgres")
    kept2, _ = cx.restrict_to_extent(layer2, rect, QgsCoordinateReferenceSystem("EPSG:27700"))
    assert kept2 >= expected


def test_points_request_reads_only_needed_columns_in_the_box(pg):
    layer = QgsVectorLayer(pg.layer_uri("victims"), "victims", "postgres")
    rect = QgsRectangle(400000, 280000, 410000, 290000)
    request = cx.points_request(layer.fields(), ["harm"], rect)
    feats = list(layer.getFeatures(request))
    assert len(feats) == int(pg.psql("SELECT count(*) FROM victims WHERE geom && "
                                     "ST_MakeEnvelope(400000, 280000, 410000, 290000, 27700)"))
    harm = layer.fields().indexOf("harm")
    issue = layer.fields().indexOf("issue")
    assert feats[0].attribute(harm) is not None and feats[0].attribute(issue) is None


def test_speed_warnings(pg):
    slow = QgsVectorLayer(pg.layer_uri("victims_nopk"), "slow", "postgres")
    fast = QgsVectorLayer(pg.layer_uri("victims"), "fast", "postgres")
    assert slow.isValid() and fast.isValid()
    texts = cx.speed_warnings(slow)
    assert len(texts) == 2 and "no primary key" in texts[0] and "no spatial index" in texts[1]
    assert cx.speed_warnings(fast) == []


@pytest.fixture(scope="module")
def big_points(pg):
    """200,000 points over Birmingham (enough rows for the reader to be stopped part way)."""
    pg.psql("CREATE TABLE IF NOT EXISTS big_points AS SELECT g AS id, "
            "ST_SetSRID(ST_MakePoint(400000 + (g % 1000) * 15, 277000 + (g / 1000) * 100), 27700) "
            "AS geom FROM generate_series(0, 199999) g")
    pg.psql("ALTER TABLE big_points DROP CONSTRAINT IF EXISTS big_points_pkey; "
            "ALTER TABLE big_points ADD PRIMARY KEY (id)")
    return "postgres://" + pg.layer_uri("big_points", key="id")


class _Terminating:
    """Feedback that kills every server session the 3rd time the algorithm checks for cancel."""

    @staticmethod
    def make(pg):
        from qgis.core import QgsProcessingFeedback

        class _F(QgsProcessingFeedback):
            calls = 0

            def isCanceled(self):
                _F.calls += 1
                if _F.calls == 3:
                    pg.terminate_other_backends()
                return super().isCanceled()

        return _F()


def _lost_connection_run(pg, big_points):
    grid = run("compositeindex:creategrid", {"STUDY_AREA": "postgres://" + pg.layer_uri("study_area"),
                                             "SHAPE": 0, "SIZE": 2000, "OUTPUT": "TEMPORARY_OUTPUT"})
    with pytest.raises(QgsProcessingException) as err:
        run("compositeindex:aggregatepat", {
            "ZONES": grid["OUTPUT"], "ISSUE": "lost", "VICTIMS": big_points,
            "OUTPUT": pg.destination("agg_lost")}, feedback=_Terminating.make(pg))
    return str(err.value)


def test_lost_connection_guard_on_the_aggregation(pg, provider, big_points, monkeypatch):
    """With the guard, a connection lost while reading stops the run, says so, and leaves no table."""
    original = AggregatePatAlgorithm.processAlgorithm
    if not getattr(original, "__composite_index_guarded__", False):
        monkeypatch.setattr(AggregatePatAlgorithm, "processAlgorithm", cx.guarded(original))
    message = _lost_connection_run(pg, big_points)
    assert "connection to the PostGIS database was lost while reading VICTIMS" in message
    assert "run it again" in message
    assert pg.psql("SELECT to_regclass('public.agg_lost') IS NULL") == "t"
    # and the server is usable again straight after
    whole = run("compositeindex:aggregatepat", {
        "ZONES": run("compositeindex:creategrid", {
            "STUDY_AREA": "postgres://" + pg.layer_uri("study_area"), "SHAPE": 0, "SIZE": 2000,
            "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"],
        "ISSUE": "lost", "VICTIMS": big_points, "OUTPUT": pg.destination("agg_whole")})
    counted = table(whole["OUTPUT"], "cell_id")["lost_victims"].sum()
    inside = int(pg.psql("SELECT count(*) FROM big_points b, study_area s "
                         "WHERE ST_Intersects(b.geom, s.geom)"))
    assert inside <= counted <= 200000


def test_every_algorithm_with_layers_is_guarded(provider):
    """Every algorithm with a layer input or output decorates its processAlgorithm with
    connections.guarded (lost PostGIS connections, half-written tables, speed warnings)."""
    from qgis.core import (
        QgsProcessingParameterFeatureSink,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterMultipleLayers,
        QgsProcessingParameterVectorDestination,
        QgsProcessingParameterVectorLayer,
    )

    from composite_index_plugin.processing.provider import algorithm_classes

    kinds = (QgsProcessingParameterFeatureSink, QgsProcessingParameterFeatureSource,
             QgsProcessingParameterMultipleLayers, QgsProcessingParameterVectorDestination,
             QgsProcessingParameterVectorLayer)
    with_layers, unguarded = [], []
    for cls in algorithm_classes():
        alg = cls()
        alg.initAlgorithm()
        if any(isinstance(p, kinds) for p in alg.parameterDefinitions()):
            with_layers.append(cls.__name__)
            if not getattr(cls.processAlgorithm, "__composite_index_guarded__", False):
                unguarded.append(cls.__name__)
    assert len(with_layers) >= 11
    assert unguarded == [], "add @guarded to processAlgorithm of: " + ", ".join(unguarded)


def test_fast_postgis_reader_equals_qgis_reader(pg, big_points):
    """read_postgis_arrow gives the same points and weights as QGIS's own feature iterator."""
    import numpy as np

    layer = QgsVectorLayer(big_points[len("postgres://"):], "big", "postgres")
    data = io_points.read_postgis_arrow(layer, ["id"], "\"id\" >= 1000")
    assert data is not None and data.method == "postgis-arrow"
    assert (data.n_features, len(data), data.n_filtered_out) == (200000, 199000, 1000)
    order = np.argsort(data.columns["id"])
    ids = data.columns["id"][order]
    assert ids[0] == 1000 and ids[-1] == 199999
    # the table's formula: x = 400000 + (id % 1000) * 15, y = 277000 + (id // 1000) * 100
    assert np.array_equal(data.x[order], 400000 + (ids % 1000) * 15)
    assert np.array_equal(data.y[order], 277000 + (ids // 1000) * 100)
    # with the study area's box: only what the server keeps is read
    rect = QgsRectangle(400000, 277000, 404985, 286900)
    boxed = io_points.read_postgis_arrow(layer, [], rect=rect)
    assert len(boxed) == int(pg.psql(
        "SELECT count(*) FROM big_points "
        "WHERE geom && ST_MakeEnvelope(400000, 277000, 404985, 286900, 27700)"))


def test_fast_postgis_reader_fails_loudly_on_a_lost_connection(pg, big_points):
    from qgis.core import QgsProcessingFeedback

    class Killer(QgsProcessingFeedback):
        def isCanceled(self):
            pg.terminate_other_backends()
            return False

    layer = QgsVectorLayer(big_points[len("postgres://"):], "big", "postgres")
    with pytest.raises(QgsProcessingException) as err:
        io_points.read_postgis_arrow(layer, ["id"], feedback=Killer())
    assert "Reading the PostGIS layer 'big' failed part way" in str(err.value)


@pytest.mark.parametrize("prefix", ["postgres://", "postgis:"])
def test_destination_table_and_with_table_parse_the_uri(prefix):
    """A destination's connection, schema and table are parsed from its URI, and another
    table is named in the same connection and schema, also when the schema has the table's
    name; anything else passes through."""
    value = prefix + ("dbname='crime' host=db.example port=5433 sslmode=disable key='fid' "
                      "srid=27700 type=MultiPolygon table=\"index\".\"index\" (geom)")
    conninfo, schema, name = cx.destination_table(value)
    assert (schema, name) == ("index", "index")
    assert "dbname='crime'" in conninfo and "port=5433" in conninfo and "table" not in conninfo
    other = cx.with_table(value, "index_tmp")
    assert other.startswith(prefix)
    assert cx.destination_table(other) == (conninfo, "index", "index_tmp")
    assert "(geom)" in other and "srid=27700" in other
    assert cx.destination_table("/data/out.gpkg") is None
    assert cx.with_table("/data/out.gpkg", "t") == "/data/out.gpkg"
