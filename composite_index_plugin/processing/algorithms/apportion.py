"""compositeindex:apportion - move a count (population) from source polygons to zones."""
import numpy as np
import pandas as pd
from qgis.core import (
    QgsFeatureRequest,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterString,
    QgsSpatialIndex,
    QgsWkbTypes,
)

from composite_index_plugin.core import apportion as app_mod
from composite_index_plugin.core.aggregate import check_issue_name
from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.geometry import points_in_zones, rings_from_wkb
from composite_index_plugin.processing.base import CompositeIndexAlgorithm
from composite_index_plugin.processing.io_points import read_points
from composite_index_plugin.processing.io_table import write_with_columns


def _polygons(source, request, feedback, label, field=None):
    """Geometries (repaired when invalid) of a polygon source and a field's values, in feature order."""
    geoms, repaired, values = [], [], []
    for f in source.getFeatures(request):
        if field is not None:
            v = f[field]
            values.append(None if (v is None or (hasattr(v, "isNull") and v.isNull())) else v)
        g = f.geometry()
        if g.isNull() or g.isEmpty():
            geoms.append(None)
            continue
        if g.type() != QgsWkbTypes.PolygonGeometry:
            raise QgsProcessingException(f"{label}: feature {f.id()} is not a polygon.")
        if not g.isGeosValid():
            g = g.makeValid()
            repaired.append(f.id())
            if g.type() != QgsWkbTypes.PolygonGeometry:
                g = g.convertToType(QgsWkbTypes.PolygonGeometry, True)
        geoms.append(g)
    if repaired:
        feedback.reportError(f"{label}: {len(repaired)} invalid polygon(s) repaired (make valid), "
                             f"feature ids {', '.join(str(i) for i in repaired[:10])}"
                             + (" ..." if len(repaired) > 10 else "") + ".", False)
    return geoms, values


class ApportionAlgorithm(CompositeIndexAlgorithm):
    NAME = "apportion"
    DISPLAY_NAME = "Apportion population to zones"
    GROUP = "Geography"
    GROUP_ID = "geography"
    HELP = (
        "Moves a count field (population, households) from source polygons (e.g. LSOAs) onto "
        "zones (e.g. grid cells) by area weighting: each zone gets value x area(source and zone) / "
        "area(source) from every source it overlaps. With an ancillary point layer (e.g. address "
        "points, optionally weighted) the shares follow the points instead of the area; sources "
        "holding no point fall back to area weighting.\n\n"
        "Where the zones cover a source completely its value is passed on exactly; the part of "
        "the total falling outside all zones is reported as the uncovered remainder. Overlapping "
        "zones are reported and normalised so nothing is counted twice. Output: the zones with "
        "every attribute plus OUTPUT_FIELD (default population).")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            "SOURCES", self.tr("Source polygons (e.g. LSOAs)"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            "FIELD", self.tr("Count field to apportion"), None, "SOURCES",
            QgsProcessingParameterField.Any))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "ZONES", self.tr("Zones (grid or polygons)"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "ANCILLARY", self.tr("Ancillary points, e.g. address points (optional)"),
            [QgsProcessing.TypeVectorAnyGeometry], optional=True))
        p = QgsProcessingParameterField(
            "ANCILLARY_WEIGHT", self.tr("Ancillary point weight (optional)"), None, "ANCILLARY",
            QgsProcessingParameterField.Numeric, optional=True)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(p)
        self.addParameter(QgsProcessingParameterString(
            "OUTPUT_FIELD", self.tr("Output field name"), "population"))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Zones with apportioned values"), QgsProcessing.TypeVectorPolygon))
        self.addOutput(QgsProcessingOutputNumber("TOTAL", self.tr("Apportioned total")))
        self.addOutput(QgsProcessingOutputNumber("UNCOVERED", self.tr("Uncovered remainder")))

    def processAlgorithm(self, parameters, context, feedback):
        sources = self.parameterAsSource(parameters, "SOURCES", context)
        if sources is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, "SOURCES"))
        zones = self.parameterAsSource(parameters, "ZONES", context)
        if zones is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, "ZONES"))
        field = self.parameterAsString(parameters, "FIELD", context)
        out_field = self.parameterAsString(parameters, "OUTPUT_FIELD", context).strip()
        try:
            check_issue_name(out_field)
        except CompositeIndexError as err:
            raise QgsProcessingException(
                f"The output field name '{out_field}' should use lowercase letters, digits and _ "
                "only, starting with a letter (e.g. population).") from err
        if sources.fields().indexOf(field) < 0:
            raise QgsProcessingException(f"Field '{field}' not found in '{sources.sourceName()}'.")
        crs = zones.sourceCrs()
        if crs.isGeographic():
            raise QgsProcessingException(
                f"The zones '{zones.sourceName()}' are in a geographic CRS ({crs.authid()}): areas in "
                "square degrees are not fit for area weighting. Reproject the zones to a projected "
                "CRS first (for Great Britain, EPSG:27700).")
        request = QgsFeatureRequest().setSubsetOfAttributes([sources.fields().indexOf(field)])
        if sources.sourceCrs() != crs:
            request.setDestinationCrs(crs, context.transformContext())
            feedback.pushInfo(f"Sources reprojected on the fly from {sources.sourceCrs().authid()} to "
                              f"{crs.authid()}.")
        src_geoms, values = _polygons(sources, request, feedback, "Sources", field)
        values = pd.Series(values, dtype=object)
        zone_geoms, _ = _polygons(zones, QgsFeatureRequest().setNoAttributes(), feedback, "Zones")
        if not zone_geoms:
            raise QgsProcessingException(f"The zones layer '{zones.sourceName()}' is empty.")
        feedback.setProgress(20)

        # Intersection areas (GEOS through QgsGeometry); the arithmetic is in core.apportion.
        index = QgsSpatialIndex()
        for i, g in enumerate(zone_geoms):
            if g is not None:
                index.addFeature(i, g.boundingBox())
        src_area = np.zeros(len(src_geoms))
        p_src, p_zone, p_area = [], [], []
        for s, g in enumerate(src_geoms):
            if s % 200 == 0:
                if feedback.isCanceled():
                    return {}
                feedback.setProgress(20 + 50 * s / max(len(src_geoms), 1))
            if g is None:
                continue
            src_area[s] = g.area()
            engine = QgsGeometry.createGeometryEngine(g.constGet())
            engine.prepareGeometry()
            for z in index.intersects(g.boundingBox()):
                zg = zone_geoms[z]
                if not engine.intersects(zg.constGet()):
                    continue
                if engine.contains(zg.constGet()):
                    area = zg.area()
                else:
                    piece = QgsGeometry(engine.intersection(zg.constGet()))
                    area = piece.area() if piece is not None and not piece.isNull() else 0.0
                if area > 0:
                    p_src.append(s)
                    p_zone.append(z)
                    p_area.append(area)
        kwargs = {}
        anc = self.parameterAsSource(parameters, "ANCILLARY", context)
        if anc is not None:
            wname = self.parameterAsString(parameters, "ANCILLARY_WEIGHT", context)
            pts = read_points(self, parameters, "ANCILLARY", context, feedback,
                              fields=[wname] if wname else [], dest_crs=crs, label="Ancillary points")
            pts.report(feedback, "Ancillary points")
            src_rings = [rings_from_wkb(bytes(g.asWkb())) if g is not None else [] for g in src_geoms]
            zone_rings = [rings_from_wkb(bytes(g.asWkb())) if g is not None else [] for g in zone_geoms]
            sp, sz = points_in_zones(pts.x, pts.y, src_rings)
            point_source = np.full(len(pts), -1, dtype=np.int64)
            point_source[sp[::-1]] = sz[::-1]  # overlapping sources: the first one wins
            kwargs = {"ancillary_source": point_source,
                      "ancillary_pairs": points_in_zones(pts.x, pts.y, zone_rings),
                      "ancillary_weight": pts.columns.get(wname) if wname else None}
            outside = int((point_source < 0).sum())
            if outside:
                feedback.pushInfo(f"{outside:,} ancillary points lie outside every source polygon and "
                                  "were not used.")
        result = self.run_core(app_mod.apportion, values.to_numpy(), src_area, p_src, p_zone, p_area,
                               len(zone_geoms), **kwargs)
        feedback.pushInfo(result.summary())
        if result.uncovered > 0:
            feedback.reportError(f"{result.uncovered:,.3f} of the {result.source_total:,.3f} total lies "
                                 "outside every zone and was not apportioned.", False)
        frame = pd.DataFrame({out_field: result.values})
        dest = write_with_columns(self, parameters, context, zones, frame, "OUTPUT", feedback,
                                  source_layer=self.parameterAsVectorLayer(parameters, "ZONES",
                                                                           context))
        self.style(context, dest, "index_score", out_field, feedback)
        return {"OUTPUT": dest, "TOTAL": result.passed_on, "UNCOVERED": result.uncovered}


ALGORITHMS = [ApportionAlgorithm]
