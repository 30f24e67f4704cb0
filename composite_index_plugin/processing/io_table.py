"""Layer attributes <-> pandas, and writing a zone layer with new columns.

Rows of the DataFrame follow the order in which the source yields its features, so columns
computed from ``layer_dataframe`` can be written back with ``write_with_columns``.
"""
import numpy as np
import pandas as pd
from qgis.core import (
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessingException,
)
from qgis.PyQt.QtCore import QVariant

NUMERIC_TYPES = (QVariant.Int, QVariant.UInt, QVariant.LongLong, QVariant.ULongLong, QVariant.Double)


def _python_value(value):
    """QVariant NULL (and friends) become None; everything else stays as it is."""
    if value is None:
        return None
    if isinstance(value, QVariant):
        return None if value.isNull() else value.value()
    return value


def layer_dataframe(source, fields=None, request=None, feedback=None):
    """Attributes of ``source`` (QgsFeatureSource or QgsVectorLayer) as a DataFrame.

    ``fields``: names to read (default all). Numeric fields become float64 with NaN for NULL;
    other fields stay objects with None for NULL. Column ``__fid`` holds the feature id.
    """
    layer_fields = source.fields()
    names = [f.name() for f in layer_fields] if fields is None else list(fields)
    missing = [n for n in names if layer_fields.indexOf(n) < 0]
    if missing:
        existing = ", ".join(f.name() for f in layer_fields)
        raise QgsProcessingException(
            f"Field(s) {', '.join(missing)} not found in layer '{source.sourceName()}'. "
            f"Fields that exist: {existing}.")
    idx = [layer_fields.indexOf(n) for n in names]
    req = QgsFeatureRequest(request) if request is not None else QgsFeatureRequest()
    req.setFlags(req.flags() | QgsFeatureRequest.NoGeometry)
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
        rows.append([_python_value(attrs[i]) for i in idx])
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
        return QgsField(name, QVariant.Int)
    if kind in "iu":
        return QgsField(name, QVariant.LongLong)
    if kind == "f":
        return QgsField(name, QVariant.Double)
    return QgsField(name, QVariant.String)


def column_values(series):
    """Python values for a column: NaN / None / pd.NA -> None (NULL), numpy scalars -> Python
    scalars. Nullable integer columns (pandas ``Int64``) stay integers."""
    kind = series.dtype.kind
    missing = series.isna().to_numpy()
    if kind == "f":
        out = series.to_numpy(dtype="float64").astype(object)
    elif kind in "iub":
        out = series.to_numpy(dtype=object, na_value=None) if missing.any() else \
            series.to_numpy(dtype="int64").astype(object)
        if not missing.any():
            return out.tolist()
        out = np.array([None if m else int(v) for v, m in zip(out, missing)], dtype=object)
    else:
        out = series.astype(object).to_numpy()
        out = np.array([str(v) for v in out], dtype=object) if not missing.any() else \
            np.array([None if m else str(v) for v, m in zip(out, missing)], dtype=object)
    out[missing] = None
    return out.tolist()


def fields_with_columns(base_fields, columns):
    """``base_fields`` plus one field per DataFrame column (replacing same-named fields)."""
    out = QgsFields()
    replaced = set(columns.columns)
    for f in base_fields:
        if f.name() not in replaced:
            out.append(f)
    for name in columns.columns:
        out.append(_qgs_field(name, columns[name]))
    return out


def write_with_columns(alg, parameters, context, source, columns, key="OUTPUT", feedback=None,
                       crs=None, request=None, progress_range=(0.0, 100.0)):
    """Write every feature of ``source`` with its attributes plus ``columns`` (a DataFrame with
    one row per feature, in the source's feature order). Returns the destination id.

    A column whose name equals an existing field replaces that field's values. NaN / NA become
    NULL; nullable integer columns stay integer fields. Cancelling raises.
    """
    n_source = source.featureCount()
    if n_source >= 0 and len(columns) != n_source and request is None:
        raise QgsProcessingException(
            f"Internal error: {len(columns)} result rows for {n_source} features of "
            f"'{source.sourceName()}'.")
    columns = columns.reset_index(drop=True)
    out_fields = fields_with_columns(source.fields(), columns)
    sink, dest_id = alg.parameterAsSink(parameters, key, context, out_fields, source.wkbType(),
                                        crs if crs is not None else source.sourceCrs())
    if sink is None:
        raise QgsProcessingException(alg.invalidSinkError(parameters, key))
    base_names = [f.name() for f in source.fields()]
    keep = [i for i, name in enumerate(base_names) if name not in set(columns.columns)]
    values = [column_values(columns[c]) for c in columns.columns]
    total = max(len(columns), 1)
    feats = source.getFeatures(request) if request is not None else source.getFeatures()
    batch = []
    for n, feature in enumerate(feats):
        if n >= len(columns):
            break
        if n % 5000 == 0:
            if batch:  # whole batches: far fewer sink calls than one per feature
                sink.addFeatures(batch, QgsFeatureSink.FastInsert)
                batch = []
            if feedback is not None:
                if feedback.isCanceled():
                    raise QgsProcessingException("Cancelled by the user.")
                lo, hi = progress_range
                feedback.setProgress(lo + (hi - lo) * n / total)
        attrs = feature.attributes()
        out = QgsFeature(out_fields, feature.id())
        out.setGeometry(feature.geometry())
        out.setAttributes([attrs[i] for i in keep] + [col[n] for col in values])
        batch.append(out)
    if batch:
        sink.addFeatures(batch, QgsFeatureSink.FastInsert)
    return dest_id
