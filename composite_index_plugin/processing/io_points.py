"""Read point layers into numpy: x, y and chosen attribute columns, fast where the provider allows.

Three readers, chosen automatically (``PointData.method`` says which one ran):

* ``ogr-arrow``: file layers of the ``ogr`` provider (GeoPackage, shapefile, FlatGeobuf, ...):
  GDAL's ``GetArrowStreamAsNumPy`` (GDAL >= 3.6) hands over whole batches of coordinates and
  attributes; the layer's subset string and the user's filter expression (translated to OGR SQL
  when simple, see ``expression_to_ogr_sql``) are applied by OGR itself.
* ``pandas-csv``: plain CSV layers of the ``delimitedtext`` provider with X/Y fields and no
  filter (read with pandas, same rows as the provider).
* ``feature-request``: any other case (memory layers, databases, selected features only, complex
  filter expressions): a QgsFeatureRequest with only the needed attributes, the filter and the
  destination CRS; each feature's geometry is handed over as WKB and decoded in bulk.

Whatever the reader: multipoints are split into their points, polygons and lines are replaced by
a point on their surface (with a warning), null and empty geometries are counted, features left
out by the filter are counted, and points are reprojected to the requested CRS (with a message).
"""
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, unquote, urlparse

import numpy as np
import pandas as pd
from osgeo import gdal, ogr, osr
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsExpression,
    QgsExpressionNodeBinaryOperator,
    QgsExpressionNodeColumnRef,
    QgsExpressionNodeInOperator,
    QgsExpressionNodeLiteral,
    QgsExpressionNodeUnaryOperator,
    QgsFeatureRequest,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProviderRegistry,
)
from qgis.PyQt.QtCore import QVariant

from composite_index_plugin.core.geometry import points_from_wkb_array
from composite_index_plugin.qgis_compat import NUMERIC_FIELD_TYPES, CrsWktVariant, GeometryType, field_type

NUMERIC = NUMERIC_FIELD_TYPES


@dataclass
class PointData:
    """Points of one layer: coordinates, attribute columns (one value per point) and counts."""

    x: np.ndarray
    y: np.ndarray
    columns: dict
    crs: QgsCoordinateReferenceSystem = None
    method: str = ""
    n_features: int = 0          # features in the layer (after its own subset string)
    n_filtered_out: int = 0      # left out by the filter expression
    n_null_geometry: int = 0     # null or empty geometry
    n_multipoint: int = 0        # multipoint features (split into their points)
    n_surface: int = 0           # polygon / line features replaced by a point on surface
    reprojected_from: str = ""
    messages: list = field(default_factory=list)

    def __len__(self):
        return len(self.x)

    def report(self, feedback, label):
        """Say what was read and what was left out, through the Processing feedback."""
        if feedback is None:
            return
        feedback.pushInfo(
            f"{label}: {self.n_features:,} features read with the {self.method} reader, "
            f"{len(self.x):,} points; {self.n_filtered_out:,} left out by the filter, "
            f"{self.n_null_geometry:,} with no geometry.")
        if self.n_multipoint:
            feedback.pushInfo(f"{label}: {self.n_multipoint:,} multipoint features split into their points.")
        if self.n_surface:
            feedback.reportError(
                f"{label}: {self.n_surface:,} features are polygons or lines; each was replaced by a "
                "point on its surface. Use a point layer to avoid this.", False)
        if self.reprojected_from:
            feedback.pushInfo(f"{label}: reprojected on the fly from {self.reprojected_from} "
                              f"to {self.crs.authid() or self.crs.description()}.")
        for m in self.messages:
            feedback.pushInfo(f"{label}: {m}")


# ---------------------------------------------------------------------------------------------
# Filter expressions -> OGR SQL (only what is sure to mean the same in both)

_BINARY = {
    QgsExpressionNodeBinaryOperator.BinaryOperator.boOr: "OR",
    QgsExpressionNodeBinaryOperator.BinaryOperator.boAnd: "AND",
    QgsExpressionNodeBinaryOperator.BinaryOperator.boEQ: "=",
    QgsExpressionNodeBinaryOperator.BinaryOperator.boNE: "<>",
    QgsExpressionNodeBinaryOperator.BinaryOperator.boLT: "<",
    QgsExpressionNodeBinaryOperator.BinaryOperator.boGT: ">",
    QgsExpressionNodeBinaryOperator.BinaryOperator.boLE: "<=",
    QgsExpressionNodeBinaryOperator.BinaryOperator.boGE: ">=",
}


_B = QgsExpressionNodeBinaryOperator.BinaryOperator
_MIRROR = {_B.boLT: _B.boGT, _B.boGT: _B.boLT, _B.boLE: _B.boGE, _B.boGE: _B.boLE}


def _quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def _literal(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None


def expression_to_ogr_sql(text, field_types):
    """Translate a simple QGIS filter expression to an OGR SQL attribute filter, or None.

    Handled: AND / OR / NOT, comparisons and IN / NOT IN between a field and literals of the
    field's kind (number with number, text with text), IS [NOT] NULL. Anything else (functions,
    LIKE, arithmetic, dates, mixed kinds) returns None and the caller uses QGIS itself.
    ``field_types``: dict field name -> "number" | "text" | other.
    """
    if not text or not text.strip():
        return ""
    expr = QgsExpression(text)
    if expr.hasParserError() or expr.rootNode() is None:
        return None

    def kind_of_literal(v):
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            return "number"
        if isinstance(v, str):
            return "text"
        return None

    def column(node):
        if isinstance(node, QgsExpressionNodeColumnRef):
            if field_types.get(node.name()) in ("number", "text"):
                return node.name()
        return None

    def walk(node):
        if isinstance(node, QgsExpressionNodeBinaryOperator):
            op = node.op()
            if op in (_B.boAnd, _B.boOr):
                left, right = walk(node.opLeft()), walk(node.opRight())
                if left is None or right is None:
                    return None
                return f"({left} {_BINARY[op]} {right})"
            if op in (_B.boIs, _B.boIsNot):
                name = column(node.opLeft())
                lit = node.opRight()
                if name is None or not isinstance(lit, QgsExpressionNodeLiteral) or lit.value() is not None:
                    return None
                neg = " NOT" if op == _B.boIsNot else ""
                return f"({_quote_ident(name)} IS{neg} NULL)"
            if op in _BINARY:
                left, right = node.opLeft(), node.opRight()
                if column(left) is None:
                    left, right = right, left
                    op = _MIRROR.get(op, op)
                name = column(left)
                if name is None or not isinstance(right, QgsExpressionNodeLiteral):
                    return None
                value = right.value()
                if kind_of_literal(value) != field_types[name]:
                    return None
                lit = _literal(value)
                return None if lit is None else f"({_quote_ident(name)} {_BINARY[op]} {lit})"
            return None
        if isinstance(node, QgsExpressionNodeUnaryOperator):
            if node.op() != QgsExpressionNodeUnaryOperator.UnaryOperator.uoNot:
                return None
            inner = walk(node.operand())
            return None if inner is None else f"(NOT {inner})"
        if isinstance(node, QgsExpressionNodeInOperator):
            name = column(node.node())
            if name is None:
                return None
            items = []
            for item in node.list().list():
                if not isinstance(item, QgsExpressionNodeLiteral):
                    return None
                if kind_of_literal(item.value()) != field_types[name]:
                    return None
                items.append(_literal(item.value()))
            if not items:
                return None
            neg = " NOT" if node.isNotIn() else ""
            return f"({_quote_ident(name)}{neg} IN ({', '.join(items)}))"
        return None

    return walk(expr.rootNode())


# ---------------------------------------------------------------------------------------------
# Helpers


def _field_kinds(fields):
    out = {}
    for f in fields:
        if f.type() in NUMERIC:
            out[f.name()] = "number"
        elif f.type() == field_type("string"):
            out[f.name()] = "text"
        else:
            out[f.name()] = "other"
    return out


def _osr(crs):
    sr = osr.SpatialReference()
    sr.ImportFromWkt(crs.toWkt(CrsWktVariant.Preferred))
    sr.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return sr


def transform_xy(x, y, src_crs, dst_crs):
    """Reproject coordinate arrays with OGR/PROJ (in bulk, not point by point in Python)."""
    if len(x) == 0:
        return x, y
    ct = osr.CoordinateTransformation(_osr(src_crs), _osr(dst_crs))
    out = np.empty((len(x), 3))
    step = 500_000
    for start in range(0, len(x), step):
        pts = np.column_stack([x[start:start + step], y[start:start + step]])
        out[start:start + step] = np.asarray(ct.TransformPoints(pts), dtype="float64")
    return out[:, 0], out[:, 1]


def _surface_points_ogr(blobs):
    """Point on surface of OGR WKB polygons / lines (only the few non-point rows)."""
    xs = np.full(len(blobs), np.nan)
    ys = np.full(len(blobs), np.nan)
    for k, b in enumerate(blobs):
        g = ogr.CreateGeometryFromWkb(bytes(b))
        if g is None or g.IsEmpty():
            continue
        p = g.PointOnSurface()
        if p is not None and not p.IsEmpty():
            xs[k], ys[k] = p.GetX(), p.GetY()
    return xs, ys


def _assemble(blobs, attr_columns, surface_fn):
    """Decode WKB blobs (one per feature) + attribute columns into per-point arrays and counts."""
    decoded = points_from_wkb_array(blobs)
    return _with_surface_points(*decoded, attr_columns, lambda rows: surface_fn(blobs[rows]))


def _with_surface_points(x, y, row, kinds, attr_columns, surface_of_rows):
    """Decoded points (``kinds`` 3: neither point nor multipoint) completed by a point on the
    surface of the others (``surface_of_rows(rows)`` gives their x, y), back in feature order;
    attribute columns repeated per point. Returns x, y, columns and the counts of null
    geometries, multipoints and surface points."""
    other = np.flatnonzero(kinds == 3)
    n_surface = 0
    if len(other):
        sx, sy = surface_of_rows(other)
        ok = np.isfinite(sx) & np.isfinite(sy)
        n_surface = int(ok.sum())
        kinds[other[~ok]] = 2
        x = np.concatenate([x, sx[ok]])
        y = np.concatenate([y, sy[ok]])
        row = np.concatenate([row, other[ok]])
        order = np.argsort(row, kind="stable")
        x, y, row = x[order], y[order], row[order]
    cols = {name: np.asarray(values)[row] if len(values) else np.asarray(values)
            for name, values in attr_columns.items()}
    return x, y, cols, int((kinds == 2).sum()), int((kinds == 1).sum()), n_surface


def _arrow_column(values):
    """Masked Arrow/numpy column -> plain numpy: numbers as float64 with NaN, text as str/None."""
    mask = np.ma.getmaskarray(values)
    data = np.ma.getdata(values)
    if data.dtype.kind in "iufb":
        out = data.astype("float64")
        out[mask] = np.nan
        return out
    if data.dtype.kind == "S":
        out = np.array([v.decode("utf-8", "replace") for v in data.tolist()], dtype=object)
    else:
        out = np.array(data, dtype=object)
    out[mask] = None
    return out


# ---------------------------------------------------------------------------------------------
# Readers


def _geometry_batch(g):
    """One Arrow batch's geometry column -> (object array of WKB or None, or a fixed-width
    ``(n, width)`` uint8 array when GDAL handed every blob at the same length)."""
    data = np.ma.getdata(g)
    mask = np.ma.getmaskarray(g)
    if data.dtype.kind == "V" and not mask.any():
        return data.view(np.uint8).reshape(len(data), data.dtype.itemsize)
    out = np.empty(len(data), dtype=object)
    if data.dtype.kind == "V":
        width = data.dtype.itemsize
        raw = data.view(np.uint8).reshape(len(data), width).tobytes()
        out[:] = [raw[i * width:(i + 1) * width] for i in range(len(data))]
    else:
        out[:] = list(data)
    out[mask] = None
    return out


# a 2D point's WKB, 21 bytes without padding
_POINT_WKB = np.dtype([("order", "u1"), ("code", "<u4"), ("x", "<f8"), ("y", "<f8")])


def _points_from_batches(parts):
    """Decode the geometry batches of ``_geometry_batch``: plain 2D little-endian points held as
    fixed-width rows are decoded in numpy without a Python object per feature; anything else
    goes through ``core.geometry.points_from_wkb_array``. Returns ``(x, y, row, kinds)``."""
    fixed = [p for p in parts if isinstance(p, np.ndarray) and p.dtype == np.uint8]
    if len(fixed) == len(parts) and fixed and all(p.shape[1] == 21 for p in fixed):
        buf = np.concatenate(fixed) if len(fixed) > 1 else fixed[0]
        # one record per point: byte order, type code, x, y (read in place, no sliced copies)
        rec = np.ascontiguousarray(buf).reshape(-1).view(_POINT_WKB)
        if (rec["order"] == 1).all() and (rec["code"] == 1).all():
            x, y = np.array(rec["x"]), np.array(rec["y"])
            kinds = np.zeros(len(x), dtype=np.int8)
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.all():
                return x, y, np.arange(len(x)), kinds
            kinds[~ok] = 2       # POINT EMPTY is written as NaN coordinates
            rows = np.flatnonzero(ok)
            return x[rows], y[rows], rows, kinds
    blobs = []
    for p in parts:
        if isinstance(p, np.ndarray) and p.dtype == np.uint8:
            width = p.shape[1]
            raw = p.tobytes()
            obj = np.empty(len(p), dtype=object)
            obj[:] = [raw[i * width:(i + 1) * width] for i in range(len(p))]
            blobs.append(obj)
        else:
            blobs.append(p)
    blobs = np.concatenate(blobs) if blobs else np.empty(0, dtype=object)
    return points_from_wkb_array(blobs)


def _assemble_batches(parts, attr_columns, wkb_of_rows):
    """Per-point arrays and counts from geometry batches + attribute columns (one per feature).
    ``wkb_of_rows(rows)`` gives the WKB of the rows that are neither points nor multipoints,
    for a point on their surface."""
    return _with_surface_points(*_points_from_batches(parts), attr_columns,
                                lambda rows: _surface_points_ogr(wkb_of_rows(rows)))


class ReadFailure:
    """A stream that broke part way (``cancelled`` when the user stopped it)."""

    def __init__(self, message="", cancelled=False):
        self.message, self.cancelled = message, cancelled


# GDAL before 3.8.1 loops for ever on a GeoPackage Arrow stream of more than 125 columns
# ("too many arguments on function OGR_GPKG_FillArrowArray_INTERNAL", GDAL issue 8757, fixed by
# pull request 8760). Readers keep each stream under this many attribute fields there.
_GPKG_ARROW_MAX_FIELDS = 100


def arrow_field_limit():
    """How many attribute fields one Arrow stream may carry here (None: no limit). GDAL's
    Python layers cannot name their driver before 3.8, so older GDAL keeps the limit for every
    driver (PostGIS and other layers are simply read in groups too)."""
    if int(gdal.VersionInfo("VERSION_NUM")) >= 3080100:
        return None
    return _GPKG_ARROW_MAX_FIELDS


def read_ogr_points(lyr, fields, subset="", sql_filter="", feedback=None, rect=None,
                    method="ogr-arrow", fid_column=None):
    """Points of an open OGR layer ``lyr`` through the Arrow stream (the one reader for files
    and PostGIS). Only ``fields`` and the geometry are read; ``subset`` (the layer's own filter)
    and ``sql_filter`` run in OGR (or the server), ``rect`` becomes a spatial filter.
    Returns a ``PointData``; None when the stream cannot be trusted (the caller reads through
    QGIS); a ``ReadFailure`` when the stream broke part way (with GDAL exceptions on)."""
    if lyr is None or lyr.GetGeomType() == ogr.wkbNone:
        return None
    defn = lyr.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    numeric = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())
               if defn.GetFieldDefn(i).GetType() in (ogr.OFTInteger, ogr.OFTInteger64, ogr.OFTReal)]
    defn = None
    fid_column = fid_column if fid_column is not None else lyr.GetFIDColumn()
    if any(f not in names and f != fid_column for f in fields):
        return None
    want_fid = bool(fid_column) and fid_column in fields
    parts, attrs = [], {f: [] for f in fields}
    keep = set(fields) - {fid_column}
    # GDAL 3.6 hands back empty geometries when every attribute field is ignored: keep one
    # (a numeric one when there is one, cheapest to carry).
    if not keep and names:
        keep = {numeric[0] if numeric else names[0]}
    limit = arrow_field_limit()
    if limit is not None and len(keep) > limit:
        return None   # GDAL < 3.8.1 would loop on so many GeoPackage columns: read via QGIS
    #                (before any filter: a count on PostGIS costs a query)
    try:
        lyr.SetAttributeFilter(subset or None)
        if rect is not None and not rect.isEmpty():
            lyr.SetSpatialFilterRect(rect.xMinimum(), rect.yMinimum(), rect.xMaximum(),
                                     rect.yMaximum())
        n_features = lyr.GetFeatureCount()
        if sql_filter:
            lyr.SetAttributeFilter(f"({subset}) AND {sql_filter}" if subset else sql_filter)
        lyr.SetIgnoredFields([n for n in names if n not in keep])
        geom_name = lyr.GetGeometryColumn() or None
        options = ["INCLUDE_FID=YES" if want_fid else "INCLUDE_FID=NO"]
        for batch in lyr.GetArrowStreamAsNumPy(options=options):
            if feedback is not None and feedback.isCanceled():
                return ReadFailure(cancelled=True)
            if want_fid and fid_column not in batch:
                batch[fid_column] = batch.pop("OGC_FID")
            gkey = geom_name if geom_name in batch else next(
                k for k in batch if k not in keep and k != fid_column)
            parts.append(_geometry_batch(batch[gkey]))
            for f in fields:
                attrs[f].append(_arrow_column(batch[f]))
    except RuntimeError as err:
        text = str(err).strip()
        return ReadFailure(text.splitlines()[0] if text else
                           "the data stopped coming (GDAL gave no reason)")
    except StopIteration:
        return None
    except SystemError as err:
        # GDAL 3.10's GeoPackage Arrow stream has been seen handing back a corrupt batch
        # ("Negative size passed to PyBytes_FromStringAndSize") while the file is being written
        # by another connection in the same run; read the layer the slow, safe way instead.
        if feedback is not None:
            feedback.pushDebugInfo(f"Arrow read failed ({err}); reading feature by feature")
        return None
    attrs = {f: (np.concatenate(v) if v else np.empty(0)) for f, v in attrs.items()}
    n_pass = sum(len(p) for p in parts)

    def wkb_of_rows(rows):
        starts = np.cumsum([0] + [len(p) for p in parts])
        out = np.empty(len(rows), dtype=object)
        for k, r in enumerate(rows.tolist()):
            i = int(np.searchsorted(starts, r, side="right") - 1)
            item = parts[i][r - starts[i]]
            out[k] = item.tobytes() if isinstance(item, np.ndarray) else item
        return out

    x, y, cols, n_null, n_multi, n_surface = _assemble_batches(parts, attrs, wkb_of_rows)
    if n_pass and n_null == n_pass:
        return None  # every geometry empty: do not trust the stream, let QGIS read the layer
    return PointData(x, y, cols, method=method, n_features=n_features,
                     n_filtered_out=n_features - n_pass, n_null_geometry=n_null,
                     n_multipoint=n_multi, n_surface=n_surface)


def _open_file_layer(layer):
    """(dataset, OGR layer) for a plain ``ogr`` file layer, or None."""
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path")
    if not path:
        return None
    try:
        ds = gdal.OpenEx(path, gdal.OF_VECTOR | gdal.OF_READONLY)
    except RuntimeError:
        return None
    if ds is None:
        return None
    name = parts.get("layerName")
    lyr = ds.GetLayerByName(name) if name else ds.GetLayer(int(parts.get("layerId") or 0))
    if lyr is None:
        return None
    return ds, lyr


def _read_ogr_arrow(layer, fields, sql_filter, feedback):
    if not hasattr(ogr.Layer, "GetArrowStreamAsNumPy"):
        return None
    subset = layer.subsetString().strip()
    if subset.lower().startswith("select"):
        return None
    opened = _open_file_layer(layer)
    if opened is None:
        return None
    ds, lyr = opened
    try:
        out = read_ogr_points(lyr, fields, subset, sql_filter, feedback)
    finally:
        del lyr, ds   # the layer before its dataset
    if isinstance(out, ReadFailure):
        if out.cancelled:
            raise QgsProcessingException("Cancelled by the user.")
        return None
    return out


def read_postgis_arrow(layer, fields, sql_filter="", feedback=None, rect=None):
    """Read a PostGIS point layer into a ``PointData`` with OGR's Arrow batches.

    About 4x faster than a QgsFeatureRequest for a million points (see
    ``benchmarks/bench_postgis.py``). Only ``fields`` and the geometry travel from the server;
    ``sql_filter`` (SQL, e.g. from ``expression_to_ogr_sql``) and the layer's own subset string
    run on the server, and ``rect`` (in the layer's CRS) becomes a ``&&`` filter on the spatial
    index. Returns None when OGR cannot read the layer the same way (the caller falls back to
    QGIS). A connection lost part way raises ``QgsProcessingException``: unlike the QGIS
    provider, OGR reports the error, so no point goes missing silently.
    """
    from composite_index_plugin.processing.connections import ogr_dataset_name

    if not hasattr(ogr.Layer, "GetArrowStreamAsNumPy"):
        return None
    target = ogr_dataset_name(layer)
    if target is None:
        return None
    dsn, _name, subset = target
    with GdalExceptions():
        # Open, read, and release the OGR objects (layer before dataset) BEFORE any exception
        # leaves: a traceback that kept them alive could free them in the wrong order.
        try:
            ds = gdal.OpenEx(dsn, gdal.OF_VECTOR | gdal.OF_READONLY)
        except RuntimeError:
            return None
        if ds is None:
            return None
        outcome = None
        try:
            # tables= opened just this table (named without "public." in the public schema)
            if ds.GetLayerCount() == 1:
                lyr = ds.GetLayer(0)
                outcome = read_ogr_points(lyr, fields, subset, sql_filter, feedback, rect,
                                          method="postgis-arrow")
                lyr = None
        finally:
            ds = None
    if isinstance(outcome, ReadFailure):
        if outcome.cancelled:
            raise QgsProcessingException("Cancelled by the user.")
        raise QgsProcessingException(
            f"Reading the PostGIS layer {layer.name()!r} failed part way: {outcome.message}. "
            "Nothing was counted from it; check the server and the network, then run it again.")
    return outcome


class GdalExceptions:
    """GDAL/OGR errors raise (so a broken stream is an error, not a short read), then restore."""

    def __enter__(self):
        self._gdal, self._ogr = gdal.GetUseExceptions(), ogr.GetUseExceptions()
        gdal.UseExceptions()
        ogr.UseExceptions()
        return self

    def __exit__(self, *exc):
        if not self._ogr:        # undo in the reverse order of __enter__
            ogr.DontUseExceptions()
        if not self._gdal:
            gdal.DontUseExceptions()
        return False


_CSV_SAFE_KEYS = {"type", "delimiter", "xfield", "yfield", "crs", "detecttypes", "geomtype",
                  "spatialindex", "subsetindex", "watchfile", "trimfields", "maxfields",
                  "encoding", "useheader", "quote", "escape", "decimalpoint"}


def _read_csv_pandas(layer, fields):
    """Plain CSV layers of the delimited text provider with X/Y columns and defaults."""
    if layer.subsetString().strip():
        return None
    url = urlparse(layer.source())
    if url.scheme != "file":
        return None
    query = {k.lower(): v for k, v in parse_qsl(url.query, keep_blank_values=True)}
    if not set(query) <= _CSV_SAFE_KEYS or "xfield" not in query or "yfield" not in query:
        return None
    if query.get("type", "csv") != "csv" or query.get("delimiter", ",") not in (",", "%2C"):
        return None
    if query.get("useheader", "yes") != "yes" or query.get("decimalpoint", ".") not in (".", ""):
        return None
    if query.get("quote", '"') != '"' or query.get("escape", '"') != '"':
        return None
    if query.get("trimfields", "no") not in ("no", "0", "false", ""):
        return None
    path = unquote(url.path)
    xf, yf = query["xfield"], query["yfield"]
    try:
        frame = pd.read_csv(path, usecols=list(dict.fromkeys([xf, yf, *fields])), dtype=str,
                            keep_default_na=False, encoding=query.get("encoding") or "utf-8")
    except (ValueError, OSError, UnicodeDecodeError):
        return None
    if len(frame) != layer.featureCount():
        return None  # the provider sees other rows (e.g. blank lines): let QGIS read it
    x = pd.to_numeric(frame[xf].str.strip(), errors="coerce").to_numpy(dtype="float64")
    y = pd.to_numeric(frame[yf].str.strip(), errors="coerce").to_numpy(dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y)
    cols = {}
    for f in fields:
        col = frame[f]
        if layer.fields().field(f).type() in NUMERIC:
            values = pd.to_numeric(col.str.strip(), errors="coerce").to_numpy(dtype="float64")
        else:
            values = col.where(col != "", None).to_numpy(dtype=object)
        cols[f] = values[ok]
    return PointData(x[ok], y[ok], cols, method="pandas-csv", n_features=len(frame),
                     n_filtered_out=0, n_null_geometry=int((~ok).sum()))


def _read_feature_request(source, fields, expression, context, dest_crs, feedback):
    qfields = source.fields()
    idx = [qfields.indexOf(f) for f in fields]
    request = QgsFeatureRequest()
    request.setSubsetOfAttributes(idx)
    if expression:
        request.setFilterExpression(expression)
        request.setExpressionContext(context.expressionContext())
    if dest_crs is not None and dest_crs.isValid() and source.sourceCrs() != dest_crs:
        request.setDestinationCrs(dest_crs, context.transformContext())
    n_features = source.featureCount()
    blobs, rows = [], []
    n_surface = 0
    for n, feature in enumerate(source.getFeatures(request)):
        if n % 10000 == 0 and feedback is not None and feedback.isCanceled():
            break
        geom = feature.geometry()
        if geom.isNull() or geom.isEmpty():
            blobs.append(None)
        elif geom.type() == GeometryType.Point:
            blobs.append(bytes(geom.asWkb()))
        else:
            # Polygons and lines: a point on the surface (one Python call per such feature).
            p = geom.pointOnSurface()
            if p is None or p.isNull() or p.isEmpty():
                blobs.append(None)
            else:
                blobs.append(bytes(p.asWkb()))
                n_surface += 1
        attrs = feature.attributes()
        rows.append([attrs[i] for i in idx])
    n_pass = len(blobs)
    arr = np.empty(n_pass, dtype=object)
    arr[:] = blobs
    attr_cols = {}
    for j, f in enumerate(fields):
        vals = [None if (r[j] is None or (isinstance(r[j], QVariant) and r[j].isNull())) else r[j]
                for r in rows]
        if qfields.field(f).type() in NUMERIC:
            series = pd.Series(vals, dtype=object)
            attr_cols[f] = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
        else:
            col = np.empty(len(vals), dtype=object)
            col[:] = vals
            attr_cols[f] = col
    x, y, cols, n_null, n_multi, _ = _assemble(arr, attr_cols, _surface_points_ogr)
    return PointData(x, y, cols, method="feature-request", n_features=n_features,
                     n_filtered_out=max(n_features - n_pass, 0), n_null_geometry=n_null,
                     n_multipoint=n_multi, n_surface=n_surface)


def read_layer_points(layer, fields=(), dest_crs=None, context=None, feedback=None):
    """Points of a QgsVectorLayer (all features, no filter): the fast readers where the provider
    allows, else a feature request. Coordinates in ``dest_crs`` when given."""
    from qgis.core import QgsProcessingContext

    fields = [f for f in dict.fromkeys(fields or []) if f]
    context = context if context is not None else QgsProcessingContext()
    return _read_layer(layer, layer, fields, "", context, dest_crs, feedback)[0]


def _read_layer(layer, source, fields, expression, context, dest_crs, feedback):
    """``(PointData, from the run's cache)`` of ``source``: when ``layer`` (the same data as a
    plain QgsVectorLayer) is given, through the fastest reader its provider allows and the
    run's read cache; else (a selection, a feature limit) through a feature request."""
    cache_key = None
    if layer is not None:
        cache_key = ("points", _source_key(layer), tuple(fields), expression, _crs_key(dest_crs))
        data = _cached(cache_key)
        if data is not None:
            return data, True
    src_crs = source.sourceCrs()
    data = None
    provider = layer.providerType() if layer is not None else ""
    if provider in ("ogr", "postgres"):
        # only the needed columns, through GDAL's Arrow reader (PostGIS: about 4x QGIS's own)
        sql = expression_to_ogr_sql(expression, _field_kinds(source.fields())) if expression else ""
        if sql is not None:
            data = (_read_ogr_arrow if provider == "ogr" else read_postgis_arrow)(
                layer, fields, sql, feedback)
    elif provider == "delimitedtext" and not expression:
        data = _read_csv_pandas(layer, fields)
    if data is None:
        data = _read_feature_request(source, fields, expression, context, dest_crs, feedback)
        if dest_crs is not None and dest_crs.isValid() and src_crs != dest_crs:
            data.reprojected_from = src_crs.authid() or src_crs.description()
        data.crs = dest_crs if dest_crs is not None and dest_crs.isValid() else src_crs
    else:
        _reproject(data, src_crs, dest_crs)
    if feedback is not None and feedback.isCanceled():
        raise QgsProcessingException("Cancelled by the user.")
    _drop_unplaced(data)
    if cache_key is not None:
        _store(cache_key, data)
    return data, False


def _reproject(data, src_crs, dest_crs):
    data.crs = src_crs
    if dest_crs is not None and dest_crs.isValid() and src_crs != dest_crs:
        data.x, data.y = transform_xy(data.x, data.y, src_crs, dest_crs)
        data.reprojected_from = src_crs.authid() or src_crs.description()
        data.crs = dest_crs


def _drop_unplaced(data):
    bad = ~(np.isfinite(data.x) & np.isfinite(data.y))
    if bad.any():  # e.g. points that could not be reprojected
        data.messages.append(f"{int(bad.sum()):,} points could not be placed (reprojection failed) "
                             "and were left out.")
        keep = ~bad
        data.x, data.y = data.x[keep], data.y[keep]
        data.columns = {k: v[keep] for k, v in data.columns.items()}
        data.n_null_geometry += int(bad.sum())


def read_points(alg, parameters, key, context, feedback=None, fields=(), expression="",
                dest_crs=None, label=None):
    """Read the point layer of parameter ``key`` into a ``PointData``.

    ``fields``: attribute names to read (e.g. a weight field); ``expression``: a QGIS filter
    expression (features for which it is not true are left out and counted); ``dest_crs``: the
    CRS wanted for the coordinates (normally the zones' CRS). Raises QgsProcessingException for
    a missing layer or field.
    """
    label = label or key
    source = alg.parameterAsSource(parameters, key, context)
    if source is None:
        raise QgsProcessingException(alg.invalidSourceError(parameters, key))
    fields = [f for f in dict.fromkeys(fields or []) if f]
    missing = [f for f in fields if source.fields().indexOf(f) < 0]
    if missing:
        raise QgsProcessingException(
            f"{label}: field(s) {', '.join(missing)} not found. Fields that exist: "
            f"{', '.join(source.fields().names())}.")
    expression = (expression or "").strip()
    if expression:
        expr = QgsExpression(expression)
        if expr.hasParserError():
            raise QgsProcessingException(f"{label}: the filter expression '{expression}' cannot be "
                                         f"read: {expr.parserErrorString()}")
    value = parameters.get(key)
    plain = not (isinstance(value, QgsProcessingFeatureSourceDefinition)
                 and (value.selectedFeaturesOnly or getattr(value, "featureLimit", -1) not in (-1, None)))
    layer = alg.parameterAsVectorLayer(parameters, key, context) if plain else None
    data, cached = _read_layer(layer, source, fields, expression, context, dest_crs, feedback)
    if cached and feedback is not None:
        feedback.pushInfo(f"{label}: already read in this run ({len(data):,} points).")
    return data


# ---------------------------------------------------------------------------------------------
# One read per layer in a run: a cache the recipe runner (or any script) switches on


class ReadCache:
    """Points read during one run, keyed by the layer's source (with its subset string and,
    for files, their size and time of change), the fields, the filter and the CRS asked for.

    Use ``with read_cache():`` around the stages of one run: every ``read_points`` /
    ``read_layer_points`` of a layer read before in the same run gets the arrays already in
    memory (the same numbers: a copy of the counts, the arrays shared and never changed in
    place). Outside such a block nothing is kept.
    """

    def __init__(self, max_points=60_000_000):
        self.store = {}
        self.max_points = max_points
        self.points = 0
        self.hits = 0

    def get(self, key):
        data = self.store.get(key)
        if data is None:
            return None
        self.hits += 1
        return replace(data, columns=dict(data.columns), messages=list(data.messages))

    def put(self, key, data):
        if self.points + len(data) > self.max_points:
            return   # memory first: a later stage reads the layer again
        self.store[key] = replace(data, columns=dict(data.columns), messages=list(data.messages))
        self.points += len(data)


_ACTIVE = []


@contextmanager
def read_cache(cache=None):
    """Switch the per-run cache on for the block (nested blocks share the outer cache)."""
    if _ACTIVE:
        yield _ACTIVE[-1]
        return
    cache = cache if cache is not None else ReadCache()
    _ACTIVE.append(cache)
    try:
        yield cache
    finally:
        _ACTIVE.remove(cache)
        cache.store.clear()


def _cached(key):
    return _ACTIVE[-1].get(key) if _ACTIVE and key is not None else None


def _store(key, data):
    if _ACTIVE and key is not None:
        _ACTIVE[-1].put(key, data)


def _source_key(layer):
    import os

    source = layer.source()
    stamp = None
    path = source.split("|")[0]
    if layer.providerType() in ("ogr", "delimitedtext"):
        if layer.providerType() == "delimitedtext":
            path = unquote(urlparse(source).path)
        try:
            st = os.stat(path)
            stamp = (st.st_size, st.st_mtime_ns)
        except OSError:
            stamp = None
    if layer.providerType() == "memory":
        return ("memory", layer.id(), source)   # memory layers: this very layer object only
    return (layer.providerType(), source, layer.subsetString(), stamp)


def _crs_key(crs):
    if crs is None or not crs.isValid():
        return ""
    return crs.authid() or crs.toWkt()


def read_attributes_fast(layer, fields):
    """Attribute columns of a plain OGR file layer through the Arrow stream, in feature order.

    Returns a DataFrame with ``fields`` plus ``__fid`` (numbers as float64, text as str/None),
    or None when the layer is not a plain ``ogr`` layer (then use io_table.layer_dataframe).
    The order is OGR's sequential order, the order in which QGIS's ogr provider iterates.
    """
    if layer is None or layer.providerType() != "ogr" or layer.subsetString().strip():
        return None
    if not hasattr(ogr.Layer, "GetArrowStreamAsNumPy"):
        return None
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path")
    try:
        ds = gdal.OpenEx(path, gdal.OF_VECTOR | gdal.OF_READONLY) if path else None
    except RuntimeError:
        return None
    if ds is None:
        return None
    name = parts.get("layerName")
    lyr = ds.GetLayerByName(name) if name else ds.GetLayer(int(parts.get("layerId") or 0))
    if lyr is None or lyr.GetFeatureCount() != layer.featureCount():
        return None
    defn = lyr.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    if any(f not in names for f in fields) or not lyr.GetFIDColumn():
        return None
    fields = list(fields)
    limit = arrow_field_limit() or max(len(fields), 1)
    groups = [fields[i:i + limit] for i in range(0, len(fields), limit)] or [[]]
    cols = {f: [] for f in fields}
    fid_name = lyr.GetFIDColumn()
    fids = None
    try:
        for group in groups:   # one stream per group of columns (GDAL < 3.8.1: see above)
            lyr.SetIgnoredFields([n for n in names if n not in group] + ["OGR_GEOMETRY"])
            lyr.ResetReading()
            group_fids = []
            for batch in lyr.GetArrowStreamAsNumPy(options=["INCLUDE_FID=YES"]):
                group_fids.append(np.asarray(np.ma.getdata(batch[fid_name]), dtype=np.int64))
                for f in group:
                    cols[f].append(_arrow_column(batch[f]))
            group_fids = np.concatenate(group_fids) if group_fids else np.empty(0, np.int64)
            if fids is None:
                fids = group_fids
            elif not np.array_equal(fids, group_fids):
                return None   # the groups came back in different orders: do not pair them
    except (RuntimeError, KeyError):
        return None
    frame = pd.DataFrame({f: (np.concatenate(v) if v else np.empty(0)) for f, v in cols.items()})
    frame["__fid"] = fids
    if len(frame) != layer.featureCount():
        return None
    return frame
