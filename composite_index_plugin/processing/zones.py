"""Helpers on zone layers shared by the algorithms (no algorithm imports another): area
measures and overlaps with larger areas, neighbours, grid cell indices, and writing tables."""
import numpy as np
import pandas as pd
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsDistanceArea,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsFields,
    QgsGeometry,
    QgsProcessingException,
    QgsSpatialIndex,
    QgsWkbTypes,
)

from composite_index_plugin.core import vocab
from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.processing.base import table_sink_closing
from composite_index_plugin.processing.io_table import column_values, fields_with_columns
from composite_index_plugin.qgis_compat import AreaUnit, GeometryType, WkbType, field_type


def zone_label_field(fields):
    """The field that names a layer's zones: ``cell_id`` of a grid, else the first text field
    (an LSOA code, a ward name...), else None (then "feature <fid>"). ``fields``: QgsFields."""
    if fields.indexOf("cell_id") >= 0:
        return "cell_id"
    return next((f.name() for f in fields if not f.isNumeric() and not f.isDateOrTime()), None)


def distance_area(crs, context):
    da = QgsDistanceArea()
    da.setSourceCrs(crs, context.transformContext())
    da.setEllipsoid(context.ellipsoid() or "NONE")
    return da


def area_m2(da, geometry):
    return da.convertAreaMeasurement(da.measureArea(geometry), AreaUnit.SquareMeters)


def area_name_field(source, name_field):
    """The field holding area names: the chosen one, else the first text field, else None."""
    if name_field:
        return name_field
    for f in source.fields():
        if f.type() == field_type("string"):
            return f.name()
    return None


def read_areas(source, name_field, target_crs, context, feedback=None):
    """Area features of ``source``: (names, geometries in ``target_crs``, feature ids).

    Areas without a name are called ``Area <fid>``; empty geometries are skipped and reported.
    """
    field = area_name_field(source, name_field)
    transform = None
    if source.sourceCrs() != target_crs:
        transform = QgsCoordinateTransform(source.sourceCrs(), target_crs, context.transformContext())
    names, geoms, fids = [], [], []
    skipped = 0
    for feature in source.getFeatures():
        geom = QgsGeometry(feature.geometry())
        if geom.isNull() or geom.isEmpty():
            skipped += 1
            continue
        if transform is not None:
            geom.transform(transform)
        if not geom.isGeosValid():
            geom = geom.makeValid()
        value = feature[field] if field else None
        if value is None or (hasattr(value, "isNull") and value.isNull()) or str(value) == "":
            value = f"Area {feature.id()}"
        names.append(str(value))
        geoms.append(geom)
        fids.append(feature.id())
    if skipped and feedback is not None:
        feedback.pushWarning(f"{skipped} area(s) without a geometry were left out.")
    if not geoms:
        raise QgsProcessingException(f"The area layer '{source.sourceName()}' has no polygons.")
    dup = pd.Series(names)[pd.Series(names).duplicated()].unique()
    if len(dup) and feedback is not None:
        feedback.pushWarning(f"Area names repeat ({', '.join(map(str, dup[:5]))}); "
                             "choose a unique name field to tell them apart.")
    return names, geoms, fids


def polygons_in(source, target_crs, context):
    """Non-empty geometries of ``source`` transformed to ``target_crs`` (may be none)."""
    transform = None
    if source.sourceCrs() != target_crs:
        transform = QgsCoordinateTransform(source.sourceCrs(), target_crs, context.transformContext())
    out = []
    for feature in source.getFeatures(QgsFeatureRequest().setNoAttributes()):
        geom = QgsGeometry(feature.geometry())
        if geom.isNull() or geom.isEmpty():
            continue
        if transform is not None:
            geom.transform(transform)
        out.append(geom if geom.isGeosValid() else geom.makeValid())
    return out


class AreaMatcher:
    """Which areas a zone geometry lies in, and what share of it: a spatial index over the
    areas and prepared GEOS engines (built once, asked per zone)."""

    def __init__(self, area_geoms):
        self.geoms = area_geoms
        self.index = QgsSpatialIndex()
        self.engines = []
        for i, geom in enumerate(area_geoms):
            feat = QgsFeature(i)
            feat.setGeometry(geom)
            self.index.addFeature(feat)
            engine = QgsGeometry.createGeometryEngine(geom.constGet())
            engine.prepareGeometry()
            self.engines.append(engine)

    def pieces(self, geom):
        """[(area position, fraction of ``geom``'s area in it)]; a zone without area (a point)
        counts fully in the first area that holds it."""
        g_area = geom.area()
        const = geom.constGet()
        out = []
        for a in self.index.intersects(geom.boundingBox()):
            engine = self.engines[a]
            if g_area <= 0:
                if engine.intersects(const):
                    return [(a, 1.0)]
                continue
            if engine.contains(const):
                frac = 1.0
            elif engine.intersects(const):
                inter = geom.intersection(self.geoms[a])
                frac = inter.area() / g_area if inter is not None and not inter.isEmpty() else 0.0
            else:
                continue
            if frac > 1e-9:
                out.append((a, min(frac, 1.0)))
        return out


def zone_overlaps(zone_source, area_geoms, context, feedback=None, fid_order=None):
    """How much of each zone lies in each area.

    Returns (overlaps DataFrame with zone/area/fraction, zone_area_m2 array, zone geometries are
    not kept). ``zone`` is the zone's position in ``fid_order`` (the ``__fid`` column of
    ``layer_dataframe``), so the table lines up with the attribute frame. Zones without area
    (points) count fully in the first area that contains them.
    """
    matcher = AreaMatcher(area_geoms)
    position = None
    if fid_order is not None:
        position = {int(fid): k for k, fid in enumerate(fid_order)}
    da = distance_area(zone_source.sourceCrs(), context)
    n = len(fid_order) if fid_order is not None else max(zone_source.featureCount(), 0)
    zone_m2 = np.zeros(n)
    total = max(n, 1)

    def placed():
        request = QgsFeatureRequest().setNoAttributes()
        for k, feature in enumerate(zone_source.getFeatures(request)):
            if feedback is not None and k % 2000 == 0:
                if feedback.isCanceled():
                    raise QgsProcessingException("Cancelled by the user.")
                feedback.setProgress(100.0 * k / total)
            pos = position.get(feature.id(), None) if position is not None else k
            geom = feature.geometry()
            if pos is not None and not (geom.isNull() or geom.isEmpty()):
                yield pos, geom

    zone, area, frac = overlap_pieces(matcher, da, placed(), zone_m2)
    overlaps = pd.DataFrame({"zone": zone, "area": area, "fraction": frac})
    return overlaps, zone_m2


def overlap_pieces(matcher, da, placed, zone_m2):
    """The pieces of zones in areas, by GEOS: for each ``(position, geometry)`` of ``placed``
    its area in m^2 goes into ``zone_m2[position]`` and each area it overlaps gives a row.
    Returns the zone positions, area indices and fractions of the zone (numpy arrays)."""
    rows_z, rows_a, rows_f = [], [], []
    for pos, geom in placed:
        zone_m2[pos] = area_m2(da, geom) if geom.area() > 0 else 0.0
        for a, frac in matcher.pieces(geom):
            rows_z.append(pos)
            rows_a.append(a)
            rows_f.append(frac)
    return (np.asarray(rows_z, dtype="int64"), np.asarray(rows_a, dtype="int64"),
            np.asarray(rows_f, dtype="float64"))


def no_overlap_error(zone_source, area_source):
    return QgsProcessingException(
        f"The areas of '{area_source.sourceName()}' do not overlap any zone of "
        f"'{zone_source.sourceName()}'. Check that both layers cover the same place; if they "
        "do, check their coordinate reference systems.")


def write_table(alg, parameters, key, context, frame, crs=None):
    """Write a DataFrame as a table without geometry to the sink ``key``; returns its id."""
    frame = frame.reset_index(drop=True)
    fields = fields_with_columns(QgsFields(), frame)
    sink, dest = alg.parameterAsSink(parameters, key, context, fields, WkbType.NoGeometry,
                                     crs if crs is not None else QgsCoordinateReferenceSystem())
    if sink is None:
        raise QgsProcessingException(alg.invalidSinkError(parameters, key))
    columns = [column_values(frame[c]) for c in frame.columns]
    feature = QgsFeature(fields)
    for i in range(len(frame)):
        feature.setAttributes([col[i] for col in columns])
        sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
    with table_sink_closing(sink):
        del sink
    return dest


def write_by_fid(alg, parameters, key, context, source, frame, fids, crs=None):
    """Write the features of ``source`` whose id is in ``fids`` with the columns of ``frame``
    (row k belongs to feature ``fids[k]``; same-named fields are replaced). Returns the id."""
    frame = frame.reset_index(drop=True)
    fields = fields_with_columns(source.fields(), frame)
    sink, dest = alg.parameterAsSink(parameters, key, context, fields, source.wkbType(),
                                     crs if crs is not None else source.sourceCrs())
    if sink is None:
        raise QgsProcessingException(alg.invalidSinkError(parameters, key))
    replaced = set(frame.columns)
    keep = [i for i, f in enumerate(source.fields()) if f.name() not in replaced]
    columns = [column_values(frame[c]) for c in frame.columns]
    row_of = {int(fid): k for k, fid in enumerate(fids)}
    out = QgsFeature(fields)
    for feature in source.getFeatures():
        k = row_of.get(feature.id())
        if k is None:
            continue
        attrs = feature.attributes()
        out.setGeometry(feature.geometry())
        out.setAttributes([attrs[i] for i in keep] + [col[k] for col in columns])
        sink.addFeature(out, QgsFeatureSink.Flag.FastInsert)
    return dest


def warn_low_coverage(feedback, overlaps, zone_m2, areas_m2, area_names, limit=0.5):
    """Warn about areas that the zones cover only partly (e.g. slivers along a boundary)."""
    inside = np.bincount(overlaps["area"].to_numpy("int64"),
                         weights=zone_m2[overlaps["zone"].to_numpy("int64")] *
                         overlaps["fraction"].to_numpy("float64"), minlength=len(area_names))
    with np.errstate(invalid="ignore", divide="ignore"):
        cover = np.where(areas_m2 > 0, inside / np.where(areas_m2 > 0, areas_m2, 1), np.nan)
    low = [f"{name} ({100 * c:.1f} %)" for name, c in zip(area_names, cover) if c < limit]
    if low:
        feedback.pushWarning(
            f"{len(low)} area(s) are less than {limit:.0%} covered by the zones, so their figures "
            f"rest on a few (parts of) zones: {', '.join(low[:10])}"
            f"{' ...' if len(low) > 10 else ''}. Check that the area layer matches the study area.")
    return cover


def push_messages(feedback, messages):
    for m in messages:
        feedback.pushInfo(m)


def zone_areas(source, context, fids):
    """Area of each zone in m^2 (ellipsoidal when the project has an ellipsoid), in ``fids`` order."""
    from qgis.core import QgsDistanceArea

    if QgsWkbTypes.geometryType(source.wkbType()) != GeometryType.Polygon:
        raise QgsProcessingException(
            "Measure 'density' needs polygon zones to measure their area; "
            f"'{source.sourceName()}' has no polygons.")
    da = QgsDistanceArea()
    da.setSourceCrs(source.sourceCrs(), context.transformContext())
    da.setEllipsoid(context.ellipsoid() or "NONE")
    areas = {}
    for feature in source.getFeatures(QgsFeatureRequest().setNoAttributes()):
        geom = feature.geometry()
        value = 0.0 if geom.isNull() else da.convertAreaMeasurement(
            da.measureArea(geom), AreaUnit.SquareMeters)
        areas[feature.id()] = value
    return [areas.get(int(f), 0.0) for f in fids]


def zone_neighbours(source, spec, fids, feedback):
    """CSR neighbours of the zones (self excluded), in ``fids`` order, as the spec (a
    ``model.IndexSpec``) asks (default queen contiguity)."""
    from composite_index_plugin.core import neighbours as nb
    from composite_index_plugin.core.geometry import rings_from_wkb

    setting = spec.neighbours
    method = spec.neighbour_method
    position = {int(f): k for k, f in enumerate(fids)}
    n = len(fids)
    if method in ("queen", "rook"):
        zones = [[] for _ in range(n)]
        for feature in source.getFeatures(QgsFeatureRequest().setNoAttributes()):
            k = position.get(feature.id())
            geom = feature.geometry()
            if k is None or geom.isNull() or geom.isEmpty():
                continue
            try:
                zones[k] = rings_from_wkb(geom.asWkb())
            except CompositeIndexError as err:
                raise QgsProcessingException(
                    f"Contiguity neighbours need polygon zones ({err}); use neighbours 'distance' or "
                    "'knn' in the spec for points.") from err
        result = nb.polygon_contiguity_from_rings(zones, queen=(method == "queen"))
    else:
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        for feature in source.getFeatures(QgsFeatureRequest().setNoAttributes()):
            k = position.get(feature.id())
            geom = feature.geometry()
            if k is None or geom.isNull() or geom.isEmpty():
                continue
            point = geom.pointOnSurface().asPoint()
            x[k], y[k] = point.x(), point.y()
        if method == "distance":
            result = nb.distance_band(x, y, float(setting.distance))
        else:
            result = nb.knn(x, y, int(setting.k))
    islands = int((np.diff(np.asarray(result.indptr)) == 0).sum())
    feedback.pushInfo(f"Neighbours ({method}): {len(result.indices):,} links over {n:,} zones"
                      + (f"; {islands} zone(s) have none" if islands else "") + ".")
    return result


def grid_indices(frame):
    """(kind, a, b) when the layer carries our grid's integer cell indices, else None."""
    shape = None
    if "grid_shape" in frame.columns:
        shapes = frame["grid_shape"].dropna().unique()
        if len(shapes) == 1 and shapes[0] in vocab.GRID_SHAPE_CODES:
            shape = shapes[0]
    for kind, names in (("hex", ("q", "r")), ("square", ("row", "col"))):
        if all(n in frame.columns for n in names):
            if shape is not None and (shape == "square") != (kind == "square"):
                continue
            a = pd.to_numeric(frame[names[0]], errors="coerce")
            b = pd.to_numeric(frame[names[1]], errors="coerce")
            if a.isna().any() or b.isna().any() or (a % 1 != 0).any() or (b % 1 != 0).any():
                continue
            return kind, a.to_numpy(dtype=np.int64), b.to_numpy(dtype=np.int64)
    return None
