"""compositeindex:hotspotzones - dissolve contiguous significant hot cells into hotspot zones."""
import numpy as np
from qgis.core import (
    QgsDistanceArea,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsFields,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import hotspot_zones as hz
from composite_index_plugin.core import model
from composite_index_plugin.core import neighbours as nbmod
from composite_index_plugin.core.geometry import rings_from_wkb
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.io_table import layer_dataframe
from composite_index_plugin.processing.zones import grid_indices
from composite_index_plugin.qgis_compat import (
    GeometryType,
    ProcessingFieldParameterDataType,
    ProcessingNumberParameterType,
    ProcessingSourceType,
    WkbType,
    make_field,
    parameter_as_fields,
)


class HotspotZonesAlgorithm(CompositeIndexAlgorithm):
    NAME = "hotspotzones"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Hotspot zones (dissolve hot cells)")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Hotspots")
    GROUP_ID = "hotspots"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
        "Turns the output of 'Hotspot analysis' into hotspot zones: cells whose gi_bin is at least "
        "MIN_BIN (default 2: hot at 95 % confidence or more) and that touch (queen contiguity: a "
        "shared edge or corner; by cell indices for our grids) are dissolved into one polygon "
        "each. Fields: zone_id, area (in the layer's units squared; ellipsoidal square metres for "
        "a layer in degrees), n_cells, the sum of every field chosen in SUM_FIELDS and of "
        "'population' when the layer has it. The zones can be used as custom zones for "
        "aggregation and the index."))

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            "INPUT", self.tr("Hotspots (output of Hotspot analysis)"), [ProcessingSourceType.VectorPolygon]))
        self.addParameter(QgsProcessingParameterNumber(
            "MIN_BIN", self.tr("Lowest gi_bin counted as hot (1 = 90 %, 2 = 95 %, 3 = 99 %)"),
            ProcessingNumberParameterType.Integer, model.Hotspots.key("min_bin").default, minValue=1,
            maxValue=3))
        self.addParameter(QgsProcessingParameterField(
            "SUM_FIELDS", self.tr("Fields to sum inside each zone (counts)"), None, "INPUT",
            ProcessingFieldParameterDataType.Numeric, allowMultiple=True, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Hotspot zones"), ProcessingSourceType.VectorPolygon))
        self.addOutput(QgsProcessingOutputNumber("ZONES", self.tr("Number of hotspot zones")))

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
    def processAlgorithm(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "INPUT", context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, "INPUT"))
        name = source.sourceName()
        min_bin = self.parameterAsInt(parameters, "MIN_BIN", context)
        sum_fields = parameter_as_fields(self, parameters, "SUM_FIELDS", context) or []
        names = source.fields().names()
        if "gi_bin" not in names:
            raise QgsProcessingException(
                f"'{name}' has no gi_bin field: run 'Hotspot analysis' first and use its output.")
        if QgsWkbTypes.geometryType(source.wkbType()) != GeometryType.Polygon:
            raise QgsProcessingException(f"'{name}' is not a polygon layer; hotspot zones need cells.")
        if "population" in names and "population" not in sum_fields:
            sum_fields = list(sum_fields) + ["population"]
        extra = [c for c in ("grid_shape", "q", "r", "row", "col") if c in names]
        frame = layer_dataframe(source, fields=list(dict.fromkeys(["gi_bin"] + sum_fields + extra)))
        fids = frame["__fid"].to_numpy()
        bins = frame["gi_bin"].to_numpy(dtype=np.float64)
        hot = np.isfinite(bins) & (bins >= min_bin)
        feedback.pushInfo(f"{int(hot.sum()):,} of {len(bins):,} cells have gi_bin >= {min_bin}.")

        # geometry of the hot cells only (and rings of all cells when they are not our grid)
        grid = grid_indices(frame)
        row_of = {int(f): i for i, f in enumerate(fids.tolist())}
        geoms = {}
        rings = [[] for _ in range(len(fids))] if grid is None else None
        req = QgsFeatureRequest().setNoAttributes()
        if grid is not None:
            req.setFilterFids([int(f) for f in fids[hot]])
        for n, f in enumerate(source.getFeatures(req)):
            if n % 5000 == 0 and feedback.isCanceled():
                raise QgsProcessingException("Cancelled by the user.")
            i = row_of.get(f.id())
            if i is None:
                continue
            g = f.geometry()
            if hot[i] and not g.isNull():
                geoms[i] = QgsGeometry(g)
            if rings is not None and not g.isNull():
                rings[i] = rings_from_wkb(bytes(g.asWkb()))
        if grid is not None:
            kind, a, b = grid
            nb = self.run_core(nbmod.hex_contiguity, a, b) if kind == "hex" else \
                self.run_core(nbmod.grid_contiguity, a, b, True)
        else:
            nb = self.run_core(nbmod.polygon_contiguity_from_rings, rings, True, 0.0)
        labels = self.run_core(hz.hot_components, bins, nb, min_bin)
        sums = {f: frame[f].to_numpy(dtype=np.float64) for f in sum_fields}
        table = self.run_core(hz.summarise_components, labels, sums)
        for f, missing in table.attrs.get("missing", {}).items():
            if missing:
                feedback.pushWarning(f"{missing} hot cell(s) have no value in '{f}' (counted as 0).")

        crs = source.sourceCrs()
        area = QgsDistanceArea()
        if crs.isGeographic():
            area.setSourceCrs(crs, context.transformContext())
            area.setEllipsoid(context.ellipsoid() or "EPSG:7030")
        fields = QgsFields()
        fields.append(make_field("zone_id", "int"))
        fields.append(make_field("area", "double"))
        fields.append(make_field("n_cells", "int"))
        for f in sum_fields:
            fields.append(make_field(f, "double"))
        sink, dest_id = self.parameterAsSink(parameters, "OUTPUT", context, fields,
                                             WkbType.MultiPolygon, crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, "OUTPUT"))
        progress = progress_from_feedback(feedback, 50.0, 100.0)
        m = len(table)
        members = [[] for _ in range(m)]
        for i in np.flatnonzero(labels >= 0).tolist():
            if i in geoms:
                members[labels[i]].append(geoms[i])
        for z in range(m):
            geom = QgsGeometry.unaryUnion(members[z])
            if geom.isNull():
                continue
            geom.convertToMultiType()
            feat = QgsFeature(fields)
            feat.setGeometry(geom)
            row = table.iloc[z]
            a = area.measureArea(geom) if crs.isGeographic() else geom.area()
            feat.setAttributes([int(row["zone_id"]), float(a), int(row["n_cells"])]
                               + [float(row[f]) for f in sum_fields])
            sink.addFeature(feat, QgsFeatureSink.Flag.FastInsert)
            self.run_core(progress.report, (z + 1) / max(m, 1))
        feedback.pushInfo(f"{m:,} hotspot zone(s).")
        self.style(context, dest_id, "hotspot_zones", feedback=feedback)
        return {"OUTPUT": dest_id, "ZONES": m}


ALGORITHMS = [HotspotZonesAlgorithm]
