"""Layer attributes <-> pandas, and writing a zone layer with new columns.

Rows of the DataFrame follow the order in which the source yields its features, so columns
computed from ``layer_dataframe`` can be written back with ``write_with_columns``.
"""
import os

import numpy as np
import pandas as pd
from qgis.core import (
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsFields,
    QgsProcessingException,
)
from qgis.PyQt.QtCore import QVariant

from composite_index_plugin.processing.gpkg_fast import column_values
from composite_index_plugin.qgis_compat import NUMERIC_FIELD_TYPES, FeatureRequestFlag, field_type, make_field

FAST_MIN_ROWS = 1   # outputs with at least this many rows go through the bulk GeoPackage writer
NUMERIC_TYPES = NUMERIC_FIELD_TYPES


def python_value(value):
    """QVariant NULL (and friends) become None; everything else stays as it is."""
    if value is None:
        return None
    if isinstance(value, QVariant):
        return None if value.isNull() else value.value()
    return value


def input_layer(alg, parameters, key, context):
    """The QgsVectorLayer behind an input parameter when it is read whole (not "selected
    features only" nor a feature limit), else None: the fast readers and writers need it."""
    from qgis.core import QgsProcessingFeatureSourceDefinition

    value = parameters.get(key)
    if isinstance(value, QgsProcessingFeatureSourceDefinition) and (
            value.selectedFeaturesOnly or getattr(value, "featureLimit", -1) not in (-1, None)):
        return None
    return alg.parameterAsVectorLayer(parameters, key, context)


def layer_dataframe(source, fields=None, request=None, feedback=None, layer=None):
    """Attributes of ``source`` (QgsFeatureSource or QgsVectorLayer) as a DataFrame.

    ``fields``: names to read (default all). Numeric fields become float64 with NaN for NULL;
    other fields stay objects with None for NULL. Column ``__fid`` holds the feature id.
    ``layer``: the QgsVectorLayer behind ``source`` (see ``input_layer``): a plain OGR file
    layer is then read through OGR's Arrow stream (``io_points.read_attributes_fast``), with
    the same values in the same order, without a Python object per feature and field.
    """
    layer_fields = source.fields()
    names = [f.name() for f in layer_fields] if fields is None else list(fields)
    missing = [n for n in names if layer_fields.indexOf(n) < 0]
    if missing:
        existing = ", ".join(f.name() for f in layer_fields)
        raise QgsProcessingException(
            f"Field(s) {', '.join(missing)} not found in layer '{source.sourceName()}'. "
            f"Fields that exist: {existing}.")
    kinds = [layer_fields.at(layer_fields.indexOf(n)).type() for n in names]
    if layer is not None and request is None and \
            all(k in NUMERIC_TYPES or k == field_type("string") for k in kinds):
        from composite_index_plugin.processing.io_points import read_attributes_fast

        frame = read_attributes_fast(layer, names)
        if frame is not None and len(frame) == source.featureCount():
            return frame
    idx = [layer_fields.indexOf(n) for n in names]
    req = QgsFeatureRequest(request) if request is not None else QgsFeatureRequest()
    req.setFlags(req.flags() | FeatureRequestFlag.NoGeometry)
    req.setSubsetOfAttributes(idx)
    total = max(source.featureCount(), 1)
    fids, rows = [], []
    for n, feature in enumerate(source.getFeatures(req)):
        if feedback is not None and n % 5000 == 0:
            if feedback.isCanceled():
                break
            feedback.setProgress(100.0 * n / total)
        fids.append(feature.id())
        attrs = feature.attributes()
        rows.append([python_value(attrs[i]) for i in idx])
    columns_in = list(zip(*rows)) if rows else [()] * len(names)
    data = {}
    for name, i, values in zip(names, idx, columns_in):
        if layer_fields.at(i).type() in NUMERIC_TYPES:
            data[name] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
                dtype="float64")
        else:
            data[name] = pd.Series(values, dtype=object).to_numpy()
    data["__fid"] = np.asarray(fids, dtype="int64")
    frame = pd.DataFrame(data)
    return frame


def _qgs_field(name, series):
    kind = series.dtype.kind
    if kind == "b":
        return make_field(name, "int")
    if kind in "iu":
        return make_field(name, "int64")
    if kind == "f":
        return make_field(name, "double")
    return make_field(name, "string")


def fields_with_columns(base_fields, columns, keep=None, names=None):
    """``base_fields`` plus one field per DataFrame column (replacing same-named fields).
    ``keep``: the names of the base fields to keep (default all), in their own order;
    ``names``: the columns to add (default all)."""
    names = list(columns.columns) if names is None else list(names)
    out = QgsFields()
    replaced = set(names)
    kept = None if keep is None else set(keep)
    for f in base_fields:
        if f.name() not in replaced and (kept is None or f.name() in kept):
            out.append(f)
    for name in names:
        out.append(_qgs_field(name, columns[name]))
    return out


def _gpkg_path_and_layer(uri):
    """(path, layer name or None) of a plain GeoPackage URI ``path[|layername=name]``, else None."""
    if not isinstance(uri, str):
        return None
    path, _, rest = uri.partition("|")
    if not path.lower().endswith(".gpkg") or not os.path.isfile(path):
        return None
    if not rest:
        return path, None
    if rest.startswith("layername=") and "|" not in rest:
        return path, rest[len("layername="):]
    return None


def _fast_gpkg_write(source_layer, dest_id, columns, fids, names=None):
    """Fill the (empty) GeoPackage layer ``dest_id`` with the GeoPackage layer ``source_layer``'s
    rows plus the new ``columns``, in SQLite (``gpkg_fast.copy_with_columns``: set-based copy,
    R-tree copied). Works inside one shared GeoPackage too. Returns False, or raises, when the
    case does not fit: the caller then recreates the sink."""
    from composite_index_plugin.processing import gpkg_fast

    if source_layer is None or source_layer.providerType() != "ogr" or \
            source_layer.subsetString().strip():
        return False
    src = gpkg_fast.gpkg_target(source_layer.source())
    if src is None:
        return False
    return gpkg_fast.copy_with_columns(src, dest_id, columns, fids, column_values, names)


def _source_fids(source_layer, source):
    """Feature ids of a plain GeoPackage layer in the order QGIS iterates them (OGR's sequential
    order, the table's rowid order), read by SQLite; else by iterating ``source``."""
    from composite_index_plugin.processing import gpkg_fast

    src = gpkg_fast.gpkg_target(source_layer.source()) if source_layer is not None else None
    if src is not None and source_layer.providerType() == "ogr" and \
            not source_layer.subsetString().strip():
        con = gpkg_fast.connect(src[0])
        try:
            info = gpkg_fast.TableInfo(con, src[1])
            if info.fid is not None:
                rows = con.execute(f"SELECT {gpkg_fast.quote(info.fid)} FROM "
                                   f"{gpkg_fast.quote(src[1])} ORDER BY rowid").fetchall()
                return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        finally:
            con.close()
    return np.fromiter((f.id() for f in source.getFeatures(
        QgsFeatureRequest().setFlags(FeatureRequestFlag.NoGeometry).setNoAttributes())),
        dtype=np.int64)


def write_with_columns(alg, parameters, context, source, columns, key="OUTPUT", feedback=None,
                       crs=None, request=None, progress_range=(0.0, 100.0), source_layer=None,
                       fids=None, keep_fields=None, only=None):
    """Write every feature of ``source`` with its attributes plus ``columns`` (a DataFrame with
    one row per feature, in the source's feature order). Returns the destination id.
    ``keep_fields``: the names of the source's fields to write (default all; the others are
    left out). ``only``: the columns of ``columns`` to write (default all; naming them spares
    a copy of a large frame without the others).

    A column whose name equals an existing field replaces that field's values. NaN / NA become
    NULL; nullable integer columns stay integer fields. Cancelling raises.

    ``source_layer``: the QgsVectorLayer behind ``source`` when known. When it is a GeoPackage
    layer and the output is a GeoPackage layer (a file of its own or a layer of a shared
    GeoPackage), SQLite copies the rows, the new columns and the R-tree in bulk
    (``gpkg_fast.copy_with_columns``); any other case is written feature by feature.
    ``fids``: the feature id of each row of ``columns``, when the caller has them.
    """
    n_source = source.featureCount()
    if n_source >= 0 and len(columns) != n_source and request is None:
        raise QgsProcessingException(
            f"Internal error: {len(columns)} result rows for {n_source} features of "
            f"'{source.sourceName()}'.")
    index = columns.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        columns = columns.reset_index(drop=True)   # a copy: only when the rows are not 0..n-1
    names = list(columns.columns) if only is None else list(only)
    out_fields = fields_with_columns(source.fields(), columns, keep_fields, names)
    out_crs = crs if crs is not None else source.sourceCrs()
    sink, dest_id = alg.parameterAsSink(parameters, key, context, out_fields, source.wkbType(),
                                        out_crs)
    if sink is None:
        raise QgsProcessingException(alg.invalidSinkError(parameters, key))
    if source_layer is not None and request is None and len(columns) >= FAST_MIN_ROWS and \
            out_crs == source_layer.crs() and _gpkg_path_and_layer(dest_id) is not None:
        del sink  # close the writer: SQLite fills the layer it created
        try:
            if fids is None:
                fids = _source_fids(source_layer, source)
            if _fast_gpkg_write(source_layer, dest_id, columns, fids, names):
                return dest_id
        except Exception as err:  # noqa: BLE001 - fall back to the sink, which is always right
            if feedback is not None:
                feedback.pushInfo(f"Fast GeoPackage write not possible ({err}); writing feature by "
                                  "feature.")
        sink, dest_id = alg.parameterAsSink(parameters, key, context, out_fields,
                                            source.wkbType(), out_crs)
    base_names = [f.name() for f in source.fields()]
    kept = set(base_names if keep_fields is None else keep_fields) - set(names)
    keep = [i for i, name in enumerate(base_names) if name in kept]
    keep_all = keep == list(range(len(base_names)))
    n_rows = len(columns)
    # one list of new values per row, built column-wise (no per-feature comprehension over columns)
    rows = [list(r) for r in zip(*(column_values(columns[c]) for c in names))] \
        if names else [[] for _ in range(n_rows)]
    total = max(n_rows, 1)
    feats = source.getFeatures(request) if request is not None else source.getFeatures()
    batch = []
    for n, feature in enumerate(feats):
        if n >= n_rows:
            break
        if n % 5000 == 0:
            if batch:  # whole batches: far fewer sink calls than one per feature
                sink.addFeatures(batch, QgsFeatureSink.Flag.FastInsert)
                batch = []
            if feedback is not None:
                if feedback.isCanceled():
                    raise QgsProcessingException("Cancelled by the user.")
                lo, hi = progress_range
                feedback.setProgress(lo + (hi - lo) * n / total)
        attrs = feature.attributes()
        out = QgsFeature(out_fields, feature.id())
        out.setGeometry(feature.geometry())
        out.setAttributes((attrs if keep_all else [attrs[i] for i in keep]) + rows[n])
        batch.append(out)
    if batch:
        sink.addFeatures(batch, QgsFeatureSink.Flag.FastInsert)
    return dest_id
