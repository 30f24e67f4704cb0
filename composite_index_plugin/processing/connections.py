"""Database sources for recipes and algorithms: PostGIS by stored connection or service name.

A recipe never holds a password. It names where the data is, and QGIS (or libpq) supplies the
credentials:

* ``{"connection": "warehouse", "schema": "crime", "table": "incidents"}``: a PostGIS connection
  stored in QGIS (Data Source Manager > PostgreSQL > New; its credentials live in the QGIS
  profile or its authentication database), found with the provider connections API
  (``QgsProviderRegistry.providerMetadata("postgres").findConnection``, QGIS >= 3.10).
* ``{"service": "warehouse", "table": "incidents"}``: a libpq service in ``pg_service.conf``
  (``~/.pg_service.conf`` or the file named by ``PGSERVICEFILE``), passwords in ``~/.pgpass``.
* ``{"uri": "dbname=... table=...", "provider": "postgres"}``: a full QGIS data source URI
  (accepted when it has no ``password=``).

Optional keys: ``schema`` (default ``public``), ``table`` (required with connection/service),
``geometry_column`` (default: found from ``geometry_columns``), ``key_column`` (primary key;
default: found by QGIS), ``sql`` (a filter run by the server, e.g. ``"year" = 2024``: a QGIS
filter expression of fields, values, comparisons, AND / OR / NOT, IN, IS NULL, LIKE and
arithmetic, which the plugin translates to SQL and quotes itself - never SQL passed through,
``filter_sql``), ``srid`` and ``geometry_type`` (only for views or tables without a typed
geometry column). Statements of a recipe run stop after ``statement_timeout`` seconds.

When a table cannot be opened, the message says why (``connection_problem``): the password was
refused, the service is unknown, the server cannot be reached, the table does not exist, or the
server refused the filter.

``restrict_to_extent`` and ``points_request`` make reading big point tables cheap: only the
columns needed travel from the server, and a bounding-box filter on the geometry column (which
uses the table's spatial index) keeps out points far outside the study area; the number left out
is counted and reported.
"""

import contextlib
import os

from qgis.core import (
    QgsCoordinateTransform,
    QgsDataSourceUri,
    QgsExpression,
    QgsExpressionNodeBinaryOperator,
    QgsExpressionNodeColumnRef,
    QgsExpressionNodeInOperator,
    QgsExpressionNodeLiteral,
    QgsExpressionNodeUnaryOperator,
    QgsFeatureRequest,
    QgsProviderRegistry,
    QgsRectangle,
    QgsVectorLayer,
    QgsWkbTypes,
)

from composite_index_plugin.core import model
from composite_index_plugin.core.errors import Problem
from composite_index_plugin.qgis_compat import SpatialIndexPresence

DATABASE_KEYS = set(model.Source.DATABASE_KEYS)


class SourceError(Exception):
    """A database source cannot be resolved; ``problem`` is a ``core.errors.Problem``."""

    def __init__(self, problem):
        super().__init__(str(problem))
        self.problem = problem


def is_database_source(source):
    """True for a recipe source that names a stored connection or a pg_service entry."""
    return isinstance(source, dict) and ("connection" in source or "service" in source)


def has_password(text):
    return model.has_password(text)


def validate_database_source(source, path="source"):
    """Structural problems of a database source (no QGIS lookups): a list of ``Problem``.
    The rules live with the recipe model (``core.model.Source``)."""
    from composite_index_plugin.core.recipe import validate_source

    if not isinstance(source, dict):
        return [Problem(path, "must be an object", '{"connection": "name", "table": "incidents"}')]
    return validate_source(source, path)


def stored_connections():
    """Names of the PostGIS connections stored in this QGIS profile."""
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    return sorted(md.connections().keys()) if md is not None else []


def connection_conninfo(name, path="source.connection"):
    """The connection part of a URI for a stored QGIS PostGIS connection (raises SourceError)."""
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    if md is None:
        raise SourceError(Problem(path, "this QGIS has no PostgreSQL provider",
                                  "install QGIS with PostgreSQL support"))
    try:
        conn = md.findConnection(name, False)
    except Exception:  # noqa: BLE001 - some versions raise QgsProviderConnectionException
        conn = None
    if conn is None:
        names = stored_connections()
        hint = ("stored PostGIS connections: " + ", ".join(names)) if names else \
            "this QGIS profile has no stored PostGIS connection: add one in Data Source Manager > " \
            "PostgreSQL > New (same name as in the recipe), or use \"service\" with pg_service.conf"
        raise SourceError(Problem(path, f"no stored PostGIS connection named {name!r}", hint))
    return conn.uri()


def postgres_uri(source, path="source"):
    """A QGIS ``postgres`` provider URI for a recipe source with ``connection`` or ``service``.

    Raises ``SourceError`` (with a ``Problem`` naming the recipe path) when the source is badly
    formed or names a connection this QGIS does not have. The password, when the stored
    connection has one, comes from the QGIS profile, never from the recipe.
    """
    problems = validate_database_source(source, path)
    if problems:
        raise SourceError(problems[0])
    if "connection" in source:
        uri = QgsDataSourceUri(connection_conninfo(source["connection"], f"{path}.connection"))
    elif "service" in source:
        uri = QgsDataSourceUri()
        uri.setConnection(source["service"], "", "", "", QgsDataSourceUri.SslMode.SslPrefer)
        uri.setDatabase("")
    else:
        raise SourceError(Problem(path, "is not a database source",
                                  "use {\"connection\": \"name\", \"table\": ...} or {\"service\": ...}"))
    schema = source.get("schema", "public")
    geometry = source.get("geometry_column") or _geometry_column(uri.connectionInfo(False), schema,
                                                                 source["table"])
    where = filter_sql(source.get("sql", ""), f"{path}.sql")
    uri.setDataSource(schema, source["table"], geometry, where, source.get("key_column", ""))
    if "srid" in source:
        uri.setSrid(str(source["srid"]))
    if source.get("geometry_type"):
        uri.setWkbType(QgsWkbTypes.parseType(source["geometry_type"]))
    return uri.uri(False)


def _geometry_column(conninfo, schema, table):
    """The (first) geometry column of a table, from the catalogue; None when there is none or the
    server cannot be asked (the layer then fails to open with a clear message)."""
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    try:
        conn = md.createConnection(conninfo, {})
        props = conn.table(schema, table)
    except Exception:  # noqa: BLE001 - QgsProviderConnectionException: no such table / server
        return None
    column = props.geometryColumn()
    return column or None


def source_layer(source, path="source", name=None):
    """A valid ``QgsVectorLayer`` for a database source, or raises ``SourceError``.

    This is what ``RecipeRunner.source_layer`` calls for sources with ``connection``/``service``.
    """
    uri = postgres_uri(source, path)
    layer = QgsVectorLayer(uri, name or source.get("layer") or source["table"], "postgres")
    if not layer.isValid():
        where = source.get("connection") or source.get("service")
        kind = "connection" if "connection" in source else "service"
        raise SourceError(connection_problem(QgsDataSourceUri(uri), path, f"{kind} {where!r}"))
    check_filter(layer, path)
    return layer


# ---------------------------------------------------------------------------------------------
# Why a table cannot be opened

_AUTH = ("password authentication failed", "no password supplied", "authentication failed",
         "fe_sendauth", "no pg_hba.conf entry", "role \"")
_SERVICE = ("definition of service", "service file")
_DOWN = ("could not connect to server", "connection refused", "could not translate host name",
         "is the server running", "timeout expired", "server closed the connection",
         "connection to server at", "no route to host", "network is unreachable",
         "the database system is shutting down", "the database system is starting up",
         "terminating connection")


def classify_error(text):
    """``"authentication"``, ``"service"``, ``"server"``, ``"database"`` or ``"other"`` for an
    error text of libpq / the postgres provider."""
    low = (text or "").lower()
    if any(m in low for m in _SERVICE):
        return "service"
    if any(m in low for m in _AUTH) and "does not exist" not in low or \
            ("role" in low and "does not exist" in low):
        return "authentication"
    if any(m in low for m in _DOWN):
        return "server"
    if "database" in low and "does not exist" in low:
        return "database"
    return "other"


def _first_line(text):
    """The telling line of a libpq / provider error (not GDAL's "PQconnectdb failed.")."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    told = [line for line in lines if "PQconnectdb failed" not in line]
    return (told or lines or ["unknown error"])[0]


def _libpq_error(conninfo):
    """libpq's own message for a connection that fails (through GDAL's PostgreSQL driver), or
    None when it connects."""
    from osgeo import gdal

    previous = gdal.GetUseExceptions()
    gdal.UseExceptions()
    try:
        gdal.OpenEx(f"PG:{conninfo}", gdal.OF_VECTOR | gdal.OF_READONLY)
    except RuntimeError as err:
        return str(err)
    finally:
        if not previous:
            gdal.DontUseExceptions()
    return None


def check_filter(layer, path):
    """Raise SourceError when the server refuses the layer's filter (a valid-looking layer with a
    filter the server cannot run gives no feature and no error)."""
    uri = QgsDataSourceUri(layer.source())
    if not uri.sql().strip():
        return
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    quoted = '"' + (uri.schema() or "public").replace('"', '""') + '"."' + \
        uri.table().replace('"', '""') + '"'
    try:
        md.createConnection(uri.connectionInfo(True), {}).executeSql(
            f"SELECT 1 FROM {quoted} WHERE {uri.sql()} LIMIT 0")
    except Exception as err:  # QgsProviderConnectionException
        raise SourceError(Problem(f"{path}.sql", f"the server refused the filter: "
                                                 f"{_first_line(err)}",
                                  "check the field names and values of the filter")) from err


def connection_problem(uri, path, label):
    """A Problem saying why the table of the postgres ``uri`` (a QgsDataSourceUri) cannot be
    opened: the server refused the user or password, the service is not in pg_service.conf, the
    server cannot be reached, the database or table does not exist, or the server refused the
    filter (an SQL error). ``label`` names the connection, e.g. ``connection 'warehouse'``."""
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    table = f"{uri.schema() or 'public'}.{uri.table()}"
    conn = None
    try:
        conn = md.createConnection(uri.connectionInfo(True), {})
        conn.executeSql("SELECT 1")
        error = None
    except Exception as err:  # noqa: BLE001 - QgsProviderConnectionException
        # QGIS says only "Connection failed": ask libpq itself, through GDAL, what went wrong
        error = _libpq_error(uri.connectionInfo(True)) or str(err)
    if error is not None:
        kind = classify_error(error)
        detail = _first_line(error)
        if kind == "authentication":
            return Problem(path, f"the PostGIS server refused the user name or password of the "
                                 f"{label} ({detail})",
                           "check the user and password stored with the connection in QGIS (its "
                           "authentication database) or in ~/.pgpass; a recipe never holds one")
        if kind == "service":
            where = os.environ.get("PGSERVICEFILE") or "~/.pg_service.conf"
            return Problem(path, f"the {label} is not defined in pg_service.conf ({detail})",
                           f"add the service to {where} (or the file named by PGSERVICEFILE), or "
                           "use a connection stored in QGIS")
        if kind == "server":
            return Problem(path, f"the PostGIS server of the {label} cannot be reached ({detail})",
                           "check that the server is running and reachable from this computer "
                           "(host, port, network, VPN), then run again")
        if kind == "database":
            return Problem(path, f"the database of the {label} does not exist ({detail})",
                           "check the database name of the connection")
        return Problem(path, f"cannot connect through the {label}: {detail}",
                       "check the connection settings")
    quoted = '"' + (uri.schema() or "public").replace('"', '""') + '"."' + \
        uri.table().replace('"', '""') + '"'
    try:
        conn.executeSql(f"SELECT 1 FROM {quoted} LIMIT 0")
    except Exception as err:  # noqa: BLE001
        return Problem(path, f"table {table} does not exist or this user may not read it "
                             f"({_first_line(err)})",
                       "check the schema and table names (and the user's rights on them)")
    if uri.sql().strip():
        try:
            conn.executeSql(f"SELECT 1 FROM {quoted} WHERE {uri.sql()} LIMIT 0")
        except Exception as err:  # noqa: BLE001
            return Problem(f"{path}.sql", f"the server refused the filter: {_first_line(err)}",
                           "check the field names and values of the filter")
    return Problem(path, f"table {table} cannot be opened through the {label}",
                   "check that its geometry column exists (or give geometry_column, srid and "
                   "geometry_type for a view)")


# ---------------------------------------------------------------------------------------------
# A recipe's `sql`: a filter expression, translated and quoted by the plugin

_BO = QgsExpressionNodeBinaryOperator.BinaryOperator
_SQL_BINARY = {
    _BO.boOr: "OR", _BO.boAnd: "AND",
    _BO.boEQ: "=", _BO.boNE: "<>",
    _BO.boLT: "<", _BO.boGT: ">",
    _BO.boLE: "<=", _BO.boGE: ">=",
    _BO.boLike: "LIKE",
    _BO.boNotLike: "NOT LIKE",
    _BO.boILike: "ILIKE",
    _BO.boNotILike: "NOT ILIKE",
    _BO.boPlus: "+", _BO.boMinus: "-",
    _BO.boMul: "*", _BO.boDiv: "/",
    _BO.boConcat: "||",
}
SQL_FILTER_HINT = ("write a QGIS filter expression of field names (in double quotes), values, "
                   "comparisons, AND / OR / NOT, IN (...), IS [NOT] NULL, LIKE and + - * /, e.g. "
                   "\"year\" = 2024 AND \"type\" IN ('burglary', 'robbery'); the plugin turns "
                   "it into SQL itself (functions and raw SQL are not accepted)")


def _sql_literal(value):
    import math

    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a number that is not finite")
        return repr(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("a text with a NUL character")
        return "'" + value.replace("'", "''") + "'"
    raise ValueError(f"a value of type {type(value).__name__}")


def _sql_ident(name):
    if "\x00" in name:
        raise ValueError("a field name with a NUL character")
    return '"' + name.replace('"', '""') + '"'


def filter_sql(text, path="source.sql"):
    """The SQL of a recipe's ``sql`` filter: the text is read as a QGIS expression and only
    field names, values, comparisons, AND / OR / NOT, IN, IS [NOT] NULL, LIKE / ILIKE, + - * /
    and || are accepted; each is written out by the plugin with identifiers and values quoted.
    Anything else (a function such as ``pg_sleep``, a sub-query, raw SQL) raises SourceError."""
    text = (text or "").strip()
    if not text:
        return ""
    expression = QgsExpression(text)
    if expression.hasParserError():
        raise SourceError(Problem(path, f"the filter {text!r} is not a QGIS filter expression ("
                                  + " ".join(expression.parserErrorString().split())
                                  + "): raw SQL is not accepted", SQL_FILTER_HINT))
    B = QgsExpressionNodeBinaryOperator.BinaryOperator

    def walk(node):
        if isinstance(node, QgsExpressionNodeColumnRef):
            return _sql_ident(node.name())
        if isinstance(node, QgsExpressionNodeLiteral):
            return _sql_literal(node.value())
        if isinstance(node, QgsExpressionNodeBinaryOperator):
            op = node.op()
            if op in (B.boIs, B.boIsNot):
                right = node.opRight()
                neg = " NOT" if op == B.boIsNot else ""
                if isinstance(right, QgsExpressionNodeLiteral) and right.value() is None:
                    return f"({walk(node.opLeft())} IS{neg} NULL)"
                return f"({walk(node.opLeft())} IS{' NOT' if not neg else ''} DISTINCT FROM " \
                       f"{walk(right)})"
            if op not in _SQL_BINARY:
                raise ValueError(f"the operator {node.text()}")
            if op in (B.boLike, B.boNotLike, B.boILike, B.boNotILike) and \
                    not isinstance(node.opRight(), QgsExpressionNodeLiteral):
                raise ValueError("a LIKE pattern that is not a text value")
            return f"({walk(node.opLeft())} {_SQL_BINARY[op]} {walk(node.opRight())})"
        if isinstance(node, QgsExpressionNodeUnaryOperator):
            inner = walk(node.operand())
            if node.op() == QgsExpressionNodeUnaryOperator.UnaryOperator.uoNot:
                return f"(NOT {inner})"
            return f"(-{inner})"
        if isinstance(node, QgsExpressionNodeInOperator):
            items = [walk(item) for item in node.list().list()]
            if not items:
                raise ValueError("an empty IN list")
            neg = " NOT" if node.isNotIn() else ""
            return f"({walk(node.node())}{neg} IN ({', '.join(items)}))"
        kind = type(node).__name__.replace("QgsExpressionNode", "").lower()
        name = ""
        if kind == "function":
            functions = QgsExpression.Functions()
            name = f" {functions[node.fnIndex()].name()}()" if 0 <= node.fnIndex() < len(
                functions) else ""
        raise ValueError(f"a {kind}{name}")

    try:
        return walk(expression.rootNode())
    except ValueError as err:
        raise SourceError(Problem(path, f"the filter uses {err}, which a recipe's sql filter may "
                                  "not use", SQL_FILTER_HINT)) from err


STATEMENT_TIMEOUT = 600   # seconds a statement of a recipe run may take on a PostGIS server


@contextlib.contextmanager
def statement_timeout(seconds=None):
    """While active, new PostgreSQL connections of this process (QGIS's provider and GDAL's,
    both through libpq) stop any statement after ``seconds`` (``PGOPTIONS``). The environment
    variable ``COMPOSITE_INDEX_PG_TIMEOUT`` overrides the default."""
    if seconds is None:
        try:
            seconds = float(os.environ.get("COMPOSITE_INDEX_PG_TIMEOUT", STATEMENT_TIMEOUT))
        except ValueError:
            seconds = STATEMENT_TIMEOUT
    before = os.environ.get("PGOPTIONS")
    option = f"-c statement_timeout={int(max(seconds, 0.001) * 1000)}"
    os.environ["PGOPTIONS"] = f"{before} {option}" if before else option
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = before


# ---------------------------------------------------------------------------------------------
# Speed: warnings about keys and indexes, column subsets and bounding boxes


def speed_warnings(layer):
    """Warnings for a PostGIS layer that will be slow: no primary key, no spatial index.

    Returns a list of texts (empty when the table is fine or not a PostGIS table).
    """
    if layer is None or layer.providerType() != "postgres":
        return []
    out = []
    uri = QgsDataSourceUri(layer.source())
    table = f"{uri.schema() or 'public'}.{uri.table()}"
    if _has_primary_key(uri) is False:
        out.append(f"PostGIS table {table} has no primary key: QGIS numbers its rows itself, which "
                   "is slow on big tables. Add one (ALTER TABLE ... ADD PRIMARY KEY).")
    index = _has_spatial_index(layer)
    if index is False:
        out.append(f"PostGIS table {table} has no spatial index on {uri.geometryColumn() or 'its geometry'}: "
                   "reading only the study area has to scan the whole table. Add one "
                   "(CREATE INDEX ON ... USING GIST (geom)).")
    return out


def _has_primary_key(uri):
    """True / False for the table of a postgres ``QgsDataSourceUri``; None for views, queries or
    when the catalogue cannot be read."""
    if not uri.table() or uri.table().startswith("("):
        return None
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    name = f'"{(uri.schema() or "public")}"."{uri.table()}"'.replace("'", "''")
    sql = (f"SELECT c.relkind, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND "
           f"i.indisprimary) FROM pg_class c WHERE c.oid = to_regclass('{name}')")
    try:
        conn = md.createConnection(uri.connectionInfo(True), {})
        rows = conn.executeSql(sql)
    except Exception:  # noqa: BLE001 - QgsProviderConnectionException
        return None
    if not rows or rows[0][0] not in ("r", "p"):
        return None   # a view or materialised view: no key to speak of
    return rows[0][1] in (True, "t", "true", 1)


def _has_spatial_index(layer):
    """True / False for a PostGIS layer's geometry column, None when it cannot be told."""
    try:
        return layer.dataProvider().hasSpatialIndex() == SpatialIndexPresence.Present
    except AttributeError:
        return None


def report_speed(layer, feedback, label=None):
    """Push ``speed_warnings`` to a Processing feedback; returns them."""
    warnings = speed_warnings(layer)
    if feedback is not None:
        for text in warnings:
            feedback.pushWarning(f"{label}: {text}" if label else text)
    return warnings


def extent_in(rect, from_crs, to_crs, transform_context=None):
    """``rect`` (a QgsRectangle in ``from_crs``) as a rectangle in ``to_crs`` (densified edges)."""
    if not from_crs.isValid() or not to_crs.isValid() or from_crs == to_crs:
        return QgsRectangle(rect)
    from qgis.core import QgsCoordinateTransformContext
    ctx = transform_context or QgsCoordinateTransformContext()   # never the project's (threads)
    return QgsCoordinateTransform(from_crs, to_crs, ctx).transformBoundingBox(rect)


def bbox_sql(layer, rect, rect_crs=None, buffer=0.0):
    """SQL ``"geom" && ST_MakeEnvelope(...)`` keeping the features of a PostGIS layer whose
    bounding box meets ``rect`` (grown by ``buffer`` in the rectangle's units). Uses the GiST
    index when there is one.
    """
    uri = QgsDataSourceUri(layer.source())
    geom = uri.geometryColumn()
    if not geom:
        raise ValueError(f"layer {layer.name()!r} has no geometry column")
    r = QgsRectangle(rect)
    if buffer:
        r.grow(buffer)
    if rect_crs is not None and rect_crs.isValid():
        r = extent_in(r, rect_crs, layer.crs())
    srid = uri.srid() or str(layer.crs().postgisSrid())
    return (f'"{geom}" && ST_MakeEnvelope({r.xMinimum()!r}, {r.yMinimum()!r}, {r.xMaximum()!r}, '
            f'{r.yMaximum()!r}, {int(srid)})')


def restrict_to_extent(layer, rect, rect_crs=None, buffer=0.0, feedback=None, label=None):
    """Filter a PostGIS layer (in place, provider side) to the features whose bounding box meets
    ``rect``; combined with the layer's own subset string. Other providers are left alone.

    Returns ``(kept, left_out)`` feature counts (``(None, 0)`` when nothing was done); the number
    left out is reported through ``feedback``, so no point goes missing unannounced.
    """
    if layer is None or layer.providerType() != "postgres" or rect is None or rect.isEmpty():
        return None, 0
    before = layer.featureCount()
    clause = bbox_sql(layer, rect, rect_crs, buffer)
    old = layer.subsetString().strip()
    if not layer.setSubsetString(f"({old}) AND {clause}" if old else clause):
        raise ValueError(f"layer {layer.name()!r}: the bounding-box filter was refused: {clause}")
    kept = layer.featureCount()
    left = max(before - kept, 0) if before >= 0 and kept >= 0 else 0
    if feedback is not None and left:
        feedback.pushInfo(f"{label or layer.name()}: {left:,} of {before:,} features lie outside the "
                          "study area's bounding box and were not read.")
    return kept, left


def points_request(source_fields, fields, rect=None, rect_crs=None, source_crs=None,
                   dest_crs=None, transform_context=None):
    """A ``QgsFeatureRequest`` reading only ``fields`` (names) and, when ``rect`` is given, only
    features meeting that rectangle (the postgres provider turns it into ``&&`` on the index).

    ``rect`` is in ``rect_crs`` (default: ``source_crs``); ``dest_crs`` reprojects geometries.
    In an algorithm pass ``context.transformContext()`` as ``transform_context``.
    """
    request = QgsFeatureRequest()
    request.setSubsetOfAttributes([source_fields.indexOf(f) for f in fields if source_fields.indexOf(f) >= 0])
    if rect is not None and not rect.isEmpty():
        r = rect
        if rect_crs is not None and source_crs is not None:
            r = extent_in(rect, rect_crs, source_crs, transform_context)
        if dest_crs is not None and source_crs is not None and dest_crs != source_crs:
            # the filter rectangle of a request with a destination CRS is in that CRS
            r = extent_in(r, source_crs, dest_crs, transform_context)
        request.setFilterRect(r)
    if dest_crs is not None and source_crs is not None and dest_crs.isValid() and dest_crs != source_crs:
        from qgis.core import QgsCoordinateTransformContext
        request.setDestinationCrs(dest_crs, transform_context or QgsCoordinateTransformContext())
    return request


# ---------------------------------------------------------------------------------------------
# Outputs written to PostGIS


def is_postgres_destination(value):
    """True for a Processing destination string that writes to PostGIS."""
    return isinstance(value, str) and value.startswith(("postgres://", "postgis:"))


def _uri_text(value):
    """The data source URI inside a PostGIS destination (``postgres://<uri>`` or
    ``<prefix>:<uri>``)."""
    return value.split("://", 1)[1] if value.startswith("postgres://") else value.split(":", 1)[1]


def destination_table(value):
    """(conninfo, schema, table) of a ``postgres://...`` destination, or None."""
    if not is_postgres_destination(value):
        return None
    text = _uri_text(value)
    uri = QgsDataSourceUri(text)
    return uri.connectionInfo(True), uri.schema() or "public", uri.table()


def with_table(value, table):
    """The ``postgres://...`` destination ``value`` naming ``table`` instead (same connection,
    schema, geometry column and options), parsed rather than searched and replaced: a schema
    may have the table's name."""
    if not is_postgres_destination(value):
        return value
    text = _uri_text(value)
    uri = QgsDataSourceUri(text)
    uri.setTable(table)
    return value[:len(value) - len(text)] + uri.uri(False)


def drop_table(value):
    """Drop the PostGIS table a destination names (used to remove a half-written output).

    Returns True when a table was dropped. Errors (e.g. the connection is gone) return False.
    """
    parts = destination_table(value)
    if not parts or not parts[2]:
        return False
    conninfo, schema, table = parts
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    try:
        conn = md.createConnection(conninfo, {})
        if table not in [t.tableName() for t in conn.tables(schema)]:
            return False
        conn.dropVectorTable(schema, table)
        return True
    except Exception:  # noqa: BLE001 - QgsProviderConnectionException: the server is gone
        return False


def table_exists(value):
    parts = destination_table(value)
    if not parts:
        return False
    conninfo, schema, table = parts
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    conn = md.createConnection(conninfo, {})
    return table in [t.tableName() for t in conn.tables(schema)]


__all__ = [
    "DATABASE_KEYS", "SourceError", "is_database_source", "validate_database_source",
    "stored_connections", "postgres_uri", "source_layer", "speed_warnings", "report_speed",
    "bbox_sql", "restrict_to_extent", "points_request", "is_postgres_destination",
    "destination_table", "drop_table", "table_exists",
]


# ---------------------------------------------------------------------------------------------
# A guard around an algorithm run: speed warnings, lost connections, no half-written tables

_READ_ERROR_MARKERS = ("Fetching from cursor", "Database error", "connection to server",
                       "server closed the connection", "terminating connection")


class PostgisWatch:
    """Collects the PostGIS provider's error messages logged while it is active.

    The postgres provider does not raise when the connection is lost while features are being
    read: the iterator just ends early and the provider logs "Fetching from cursor ... failed"
    to the message log. This watch catches those messages so the run can fail instead of
    silently working on part of the table.
    """

    def __init__(self):
        self.errors = []
        self._connected = False

    def _on_message(self, message, tag, *rest):
        if tag == "PostGIS" and any(m in message for m in _READ_ERROR_MARKERS):
            self.errors.append(message.strip().splitlines()[0] + (
                " (" + message.strip().splitlines()[-1].strip() + ")"
                if len(message.strip().splitlines()) > 1 else ""))

    def __enter__(self):
        from qgis.core import QgsApplication
        QgsApplication.messageLog().messageReceived.connect(self._on_message)
        self._connected = True
        return self

    def check(self):
        """Deliver pending log messages; True when a PostGIS read error was seen."""
        from qgis.PyQt.QtCore import QCoreApplication
        QCoreApplication.processEvents()
        return bool(self.errors)

    def __exit__(self, *exc):
        if self._connected:
            from qgis.core import QgsApplication
            try:
                QgsApplication.messageLog().messageReceived.disconnect(self._on_message)
            except (TypeError, RuntimeError):
                pass
            self._connected = False
        return False


def postgres_layers(alg, parameters, context):
    """(key, layer) for every input parameter of ``alg`` that is a PostGIS layer."""
    from qgis.core import (
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterMultipleLayers,
        QgsProcessingParameterVectorLayer,
    )
    out = []
    for definition in alg.parameterDefinitions():
        key = definition.name()
        if key not in parameters or parameters[key] is None:
            continue
        layers = []
        try:
            if isinstance(definition, (QgsProcessingParameterFeatureSource,
                                       QgsProcessingParameterVectorLayer)):
                layers = [alg.parameterAsVectorLayer(parameters, key, context)]
            elif isinstance(definition, QgsProcessingParameterMultipleLayers):
                layers = alg.parameterAsLayerList(parameters, key, context)
        except Exception:  # noqa: BLE001 - an unreadable input is the algorithm's to report
            layers = []
        for layer in layers:
            if layer is not None and layer.providerType() == "postgres":
                out.append((key, layer))
    return out


def postgres_destinations(alg, parameters, context):
    """{key: destination} for the output parameters of ``alg`` that write PostGIS tables."""
    from qgis.core import QgsProcessingOutputLayerDefinition, QgsProcessingParameterFeatureSink
    out = {}
    for definition in alg.destinationParameterDefinitions():
        if not isinstance(definition, QgsProcessingParameterFeatureSink):
            continue
        value = parameters.get(definition.name())
        if isinstance(value, QgsProcessingOutputLayerDefinition):
            value = value.sink.valueAsString(context.expressionContext())[0]
        if is_postgres_destination(value):
            out[definition.name()] = value
    return out


def guarded(process_algorithm):
    """Decorate a ``processAlgorithm`` so that PostGIS inputs and outputs are safe:

    * a warning about speed for every PostGIS input without a primary key or spatial index;
    * a lost connection while reading (see ``PostgisWatch``) or any error in the run drops the
      PostGIS output tables this run created (no half-written table is left) and raises a
      ``QgsProcessingException`` that says what happened and what to do.

    Every algorithm with layer inputs or outputs applies it to its ``processAlgorithm``
    (``@guarded``; a test checks that none is missing).
    """
    import functools

    from qgis.core import QgsProcessingException

    @functools.wraps(process_algorithm)
    def run(self, parameters, context, feedback):
        inputs = postgres_layers(self, parameters, context)
        outputs = postgres_destinations(self, parameters, context)
        if not inputs and not outputs:
            return process_algorithm(self, parameters, context, feedback)
        for key, layer in inputs:
            report_speed(layer, feedback, f"{key} ({layer.name()})")
        fresh = {k: v for k, v in outputs.items() if not _safe_exists(v)}
        with PostgisWatch() as watch:
            try:
                result = process_algorithm(self, parameters, context, feedback)
            except Exception as err:
                dropped = [v for v in fresh.values() if drop_table(v)]
                lost = watch.check()
                if dropped and feedback is not None:
                    feedback.pushInfo("Removed the unfinished PostGIS output table(s): " +
                                      ", ".join(destination_table(v)[2] for v in dropped))
                if lost:
                    writing = "Writing " in str(err) or "features were written" in str(err)
                    raise QgsProcessingException(
                        _lost_message(inputs, watch, dropped, writing)) from err
                raise
            if watch.check():
                dropped = [v for v in fresh.values() if drop_table(v)]
                raise QgsProcessingException(_lost_message(inputs, watch, dropped,
                                                           "either" if outputs else False))
        return result

    run.__composite_index_guarded__ = True
    return run


def _safe_exists(value):
    try:
        return table_exists(value)
    except Exception:  # noqa: BLE001 - no server: the sink will say so
        return False


def _lost_message(inputs, watch, dropped, writing=False):
    names = ", ".join(f"{k} ({layer.name()})" for k, layer in inputs) or "a PostGIS layer"
    if writing:
        when = (f"while reading {names} or writing the output" if writing == "either" else
                f"while the output was written (after reading {names})")
        text = (f"The connection to the PostGIS database was lost {when}: "
                f"{watch.errors[0]}. The run was stopped; the previous output was left as it was")
        if dropped:
            text += " and the unfinished table(s) removed"
        return text + ". Check the server and the network, then run it again."
    if any("statement timeout" in e for e in watch.errors):
        text = (f"A statement on the PostGIS server took longer than the run's time limit while "
                f"reading {names}: {watch.errors[0]}. The layer was read only in part, so the run "
                "was stopped")
        if dropped:
            text += " and its unfinished output table(s) removed"
        return text + (". Make the table quicker to read (an index, a simpler view) or raise "
                       "the limit (COMPOSITE_INDEX_PG_TIMEOUT, in seconds).")
    text = (f"The connection to the PostGIS database was lost while reading {names}: "
            f"{watch.errors[0]}. The layer was read only in part, so the run was stopped")
    if dropped:
        text += " and its unfinished output table(s) removed (" + \
            ", ".join(destination_table(v)[2] for v in dropped) + ")"
    return text + ". Check the server and the network, then run it again."


# ---------------------------------------------------------------------------------------------
# Opening a PostGIS table with OGR (the Arrow reader itself is io_points.read_postgis_arrow)


def ogr_dataset_name(layer):
    """``(dsn, layer_name, where)`` to open a PostGIS layer with OGR, or None when OGR cannot
    read it the same way (query layers, unknown geometry column). Credentials stored in the QGIS
    authentication database are expanded in memory only (never written anywhere)."""
    if layer is None or layer.providerType() != "postgres":
        return None
    uri = QgsDataSourceUri(layer.source())
    table, geom = uri.table(), uri.geometryColumn()
    if not table or table.startswith("(") or not geom:
        return None
    schema = uri.schema() or "public"
    conninfo = uri.connectionInfo(True)
    dsn = f"PG:{conninfo} tables={schema}.{table}({geom})"
    return dsn, f"{schema}.{table}", layer.subsetString().strip()
