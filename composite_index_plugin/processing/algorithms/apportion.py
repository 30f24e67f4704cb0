"""compositeindex:apportion - move a count (population) from source polygons to zones."""
import numpy as np
import pandas as pd
from qgis.core import (
    QgsFeatureRequest,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterString,
    QgsSpatialIndex,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import apportion as app_mod
from composite_index_plugin.core.aggregate import check_issue_name
from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.geometry import points_in_zones, rings_from_wkb
from composite_index_plugin.processing.base import CompositeIndexAlgorithm
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.grid_overlay import (
    clipped_geometries,
    polygon_rings,
    read_grid_zones,
    whole_cell_overlaps,
)
from composite_index_plugin.processing.io_points import read_points
from composite_index_plugin.processing.io_table import write_with_columns
from composite_index_plugin.qgis_compat import (
    FeatureRequestFlag,
    GeometryType,
    ProcessingFieldParameterDataType,
    ProcessingParameterFlag,
    ProcessingSourceType,
)


def _value(v):
    return None if (v is None or (hasattr(v, "isNull") and v.isNull())) else v


def _polygons(source, request, feedback, label, field=None, key=None, ids=None):
    """Geometries (repaired when invalid) of a polygon source and a field's values, in feature
    order; ``key``: also the values of this field, appended to ``ids`` with the feature ids."""
    geoms, repaired, values = [], [], []
    for f in source.getFeatures(request):
        if field is not None:
            values.append(_value(f[field]))
        if ids is not None:
            ids.append((f.id(), _value(f[key]) if key else None))
        g = f.geometry()
        if g.isNull() or g.isEmpty():
            geoms.append(None)
            continue
        if g.type() != GeometryType.Polygon:
            raise QgsProcessingException(f"{label}: feature {f.id()} is not a polygon.")
        if not g.isGeosValid():
            g = g.makeValid()
            repaired.append(f.id())
            if g.type() != GeometryType.Polygon:
                g = g.convertToType(GeometryType.Polygon, True)
        geoms.append(g)
    if repaired:
        feedback.reportError(f"{label}: {len(repaired)} invalid polygon(s) repaired (make valid), "
                             f"feature ids {', '.join(str(i) for i in repaired[:10])}"
                             + (" ..." if len(repaired) > 10 else "") + ".", False)
    return geoms, values


def _geos_pieces(src_geoms, zone_geoms, feedback, start, end):
    """Intersection areas of every source with every zone, GEOS through QgsGeometry (prepared
    sources, a spatial index over the zones): ``(source areas, piece source, piece zone, piece
    area)``, or four None when cancelled."""
    index = QgsSpatialIndex()
    for i, g in enumerate(zone_geoms):
        if g is not None:
            index.addFeature(i, g.boundingBox())
    src_area = np.zeros(len(src_geoms))
    p_src, p_zone, p_area = [], [], []
    for s, g in enumerate(src_geoms):
        if s % 200 == 0:
            if feedback.isCanceled():
                return None, None, None, None
            feedback.setProgress(start + (end - start) * s / max(len(src_geoms), 1))
        if g is None:
            continue
        src_area[s] = g.area()
        hits = index.intersects(g.boundingBox())
        if not hits:                  # no engine prepared for sources far from every zone
            continue
        engine = QgsGeometry.createGeometryEngine(g.constGet())
        engine.prepareGeometry()
        for z in hits:
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
    return src_area, p_src, p_zone, p_area


class ApportionAlgorithm(CompositeIndexAlgorithm):
    NAME = "apportion"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Apportion population to zones")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Geography")
    GROUP_ID = "geography"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
        "Moves a count field (population, households) from source polygons (e.g. LSOAs) onto "
        "zones (e.g. grid cells) by area weighting: each zone gets value x area(source and zone) / "
        "area(source) from every source it overlaps. With an ancillary point layer (e.g. address "
        "points, optionally weighted) the shares follow the points instead of the area; sources "
        "holding no point fall back to area weighting.\n\n"
        "Where the zones cover a source completely its value is passed on exactly; the part of "
        "the total falling outside all zones is reported as the uncovered remainder. Overlapping "
        "zones are reported and normalised so nothing is counted twice. Output: the zones with "
        "every attribute plus OUTPUT_FIELD (default population).\n\n"
        "Counts in a table keyed by area code (e.g. a census table per LSOA): give the "
        "boundaries as SOURCES with their code field (SOURCES_KEY, e.g. LSOA11CD) and the table "
        "(TABLE: a CSV or a layer without geometry) with its code field (TABLE_KEY, e.g. 'LSOA "
        "Code') and count field (TABLE_FIELD, e.g. Persons); FIELD is then not needed. Numbers "
        "stored as text, with or without thousands separators ('1,234'), are read and the log "
        "says how many; a value that cannot be read as a number stops the run naming its row "
        "and code; empty values are counted and taken as 0. Codes in the table with no boundary, "
        "and boundaries with no row in the table, are counted and listed (outputs TABLE_ONLY and "
        "BOUNDARY_ONLY). Text values of FIELD are read the same way.\n\n"
        "Zones made by 'Create grid' (grid_* fields) are overlaid by grid arithmetic: cell "
        "centres are placed in the sources along lattice rows and only the cells a source "
        "boundary crosses are clipped, in numpy, so the time grows with cells + source vertices "
        "(all England and Wales onto 100 m cells in seconds). The areas are exact, as GEOS's to "
        "about 1e-9 of a cell. OVERLAY 'GEOS intersection of every zone' uses GEOS for every "
        "zone instead; with ancillary points GEOS is always used."))

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            "SOURCES", self.tr("Source polygons (e.g. LSOAs)"), [ProcessingSourceType.VectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            "FIELD", self.tr("Count field to apportion (or a table below)"), None, "SOURCES",
            ProcessingFieldParameterDataType.Any, optional=True))
        self.addParameter(QgsProcessingParameterField(
            "SOURCES_KEY", self.tr("Area code field of the source polygons (with a table)"), None,
            "SOURCES", ProcessingFieldParameterDataType.Any, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "TABLE", self.tr("Counts by area code: table (CSV or layer without geometry)"),
            [ProcessingSourceType.Vector], optional=True))
        self.addParameter(QgsProcessingParameterField(
            "TABLE_KEY", self.tr("Table: area code field"), None, "TABLE",
            ProcessingFieldParameterDataType.Any, optional=True))
        self.addParameter(QgsProcessingParameterField(
            "TABLE_FIELD", self.tr("Table: count field"), None, "TABLE",
            ProcessingFieldParameterDataType.Any, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "ZONES", self.tr("Zones (grid or polygons)"), [ProcessingSourceType.VectorPolygon]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "ANCILLARY", self.tr("Ancillary points, e.g. address points"),
            [ProcessingSourceType.VectorAnyGeometry], optional=True))
        p = QgsProcessingParameterField(
            "ANCILLARY_WEIGHT", self.tr("Ancillary point weight"), None, "ANCILLARY",
            ProcessingFieldParameterDataType.Numeric, optional=True)
        p.setFlags(p.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(p)
        self.addParameter(QgsProcessingParameterString(
            "OUTPUT_FIELD", self.tr("Output field name"), "population"))
        p = QgsProcessingParameterEnum(
            "OVERLAY", self.tr("Overlap areas"),
            [self.tr("Automatic: grid arithmetic for grids made by 'Create grid', else GEOS"),
             self.tr("GEOS intersection of every zone")], defaultValue=0, optional=True)
        p.setFlags(p.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(p)
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Zones with apportioned values"), ProcessingSourceType.VectorPolygon))
        self.addOutput(QgsProcessingOutputNumber("TOTAL", self.tr("Apportioned total")))
        self.addOutput(QgsProcessingOutputNumber("UNCOVERED", self.tr("Uncovered remainder")))
        self.addOutput(QgsProcessingOutputNumber(
            "TABLE_ONLY", self.tr("Codes in the table with no boundary")))
        self.addOutput(QgsProcessingOutputNumber(
            "BOUNDARY_ONLY", self.tr("Boundaries with no row in the table")))

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
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
        table = self.parameterAsSource(parameters, "TABLE", context)
        key = self.parameterAsString(parameters, "SOURCES_KEY", context)
        if table is None and not field:
            raise QgsProcessingException(
                "Give the count field of the source polygons (FIELD), or a table of counts by area "
                "code (TABLE, TABLE_KEY, TABLE_FIELD) with the polygons' code field (SOURCES_KEY).")
        if table is not None:
            field = None
            for name, value in (("SOURCES_KEY", key),
                                ("TABLE_KEY", self.parameterAsString(parameters, "TABLE_KEY", context)),
                                ("TABLE_FIELD", self.parameterAsString(parameters, "TABLE_FIELD",
                                                                       context))):
                if not value:
                    raise QgsProcessingException(
                        f"With a table of counts, {name} is needed: the area code field of the "
                        "source polygons (SOURCES_KEY), the table's code field (TABLE_KEY) and "
                        "its count field (TABLE_FIELD).")
        for name in [n for n in (field, key) if n]:
            if sources.fields().indexOf(name) < 0:
                raise QgsProcessingException(
                    f"Field '{name}' not found in '{sources.sourceName()}'. Fields that exist: "
                    f"{', '.join(sources.fields().names())}.")
        crs = zones.sourceCrs()
        if crs.isGeographic():
            raise QgsProcessingException(
                f"The zones '{zones.sourceName()}' are in a geographic CRS ({crs.authid()}): areas in "
                "square degrees are not fit for area weighting. Reproject the zones to a projected "
                "CRS first (for Great Britain, EPSG:27700).")
        request = QgsFeatureRequest().setSubsetOfAttributes(
            [sources.fields().indexOf(n) for n in (field, key) if n])
        if sources.sourceCrs() != crs:
            request.setDestinationCrs(crs, context.transformContext())
            feedback.pushInfo(f"Sources reprojected on the fly from {sources.sourceCrs().authid()} to "
                              f"{crs.authid()}.")
        ids = []
        src_geoms, values = _polygons(sources, request, feedback, "Sources", field, key, ids)
        join = None
        if table is not None:
            join = self._join_table(parameters, context, feedback, sources, table, ids)
            values = pd.Series(join.values, dtype=object)
        else:
            labels = [f"feature {fid}" + (f" ({code})" if code is not None else "")
                      for fid, code in ids]
            parsed = self.run_core(app_mod.parse_counts, values, labels, f"'{field}'")
            text = parsed.summary(f"'{field}'")
            if text:
                feedback.pushInfo(text[0].upper() + text[1:])
            values = pd.Series(parsed.values, dtype=object)
        kwargs = {}
        anc = self.parameterAsSource(parameters, "ANCILLARY", context)
        grid = None
        if self.parameterAsEnum(parameters, "OVERLAY", context) == 0 and anc is None:
            grid = read_grid_zones(zones, self.parameterAsVectorLayer(parameters, "ZONES", context))
        if grid is not None:
            n_zones = len(grid.fids)   # > 0: read_grid_zones gives None for an empty layer
            feedback.setProgress(20)
            src_area = np.array([g.area() if g is not None else 0.0 for g in src_geoms])
            rings = self.run_core(polygon_rings, src_geoms)
            res = self.run_core(whole_cell_overlaps, grid, rings, feedback, 20, 70)
            p_src, p_zone, p_area = res.polygon, res.cell, res.area
            cut = clipped_geometries(zones, grid)
            if cut:
                rows = np.asarray(sorted(cut), dtype=np.int64)
                _, c_src, c_zone, c_area = _geos_pieces(src_geoms, [cut[r] for r in rows], feedback,
                                                        70, 75)
                if c_src is None:
                    return {}
                p_src = np.concatenate([p_src, np.asarray(c_src, dtype=p_src.dtype)])
                p_zone = np.concatenate([p_zone, rows[np.asarray(c_zone, dtype=np.int64)]])
                p_area = np.concatenate([p_area, np.asarray(c_area, dtype="float64")])
            feedback.pushInfo(
                f"The zones are a grid made by 'Create grid' ({grid.spec.describe()}): overlaps "
                f"measured by grid arithmetic (exact), {res.n_cut:,} cell(s) crossed by a source "
                f"boundary clipped in numpy" + (f", {len(cut):,} cell(s) clipped to the study area "
                                                "measured with GEOS" if cut else "") + ".")
            fids = grid.fids
        else:
            zone_geoms, _ = _polygons(zones, QgsFeatureRequest().setNoAttributes(), feedback, "Zones")
            if not zone_geoms:
                raise QgsProcessingException(f"The zones layer '{zones.sourceName()}' is empty.")
            n_zones = len(zone_geoms)
            feedback.setProgress(20)
            src_area, p_src, p_zone, p_area = _geos_pieces(src_geoms, zone_geoms, feedback, 20, 70)
            if src_area is None:
                return {}
            fids = None
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
                               n_zones, **kwargs)
        feedback.pushInfo(result.summary())
        if result.uncovered > 0:
            feedback.reportError(f"{result.uncovered:,.3f} of the {result.source_total:,.3f} total lies "
                                 "outside every zone and was not apportioned.", False)
        frame = pd.DataFrame({out_field: result.values})
        dest = write_with_columns(self, parameters, context, zones, frame, "OUTPUT", feedback,
                                  source_layer=self.parameterAsVectorLayer(parameters, "ZONES",
                                                                           context), fids=fids)
        self.style(context, dest, "index_score", out_field, feedback)
        out = {"OUTPUT": dest, "TOTAL": result.passed_on, "UNCOVERED": result.uncovered}
        if join is not None:
            out.update(TABLE_ONLY=len(join.table_only), BOUNDARY_ONLY=len(join.boundary_only)
                       + join.n_boundary_empty_code)
        return out

    def _join_table(self, parameters, context, feedback, sources, table, ids):
        """The table's counts on the source polygons, by code (core.apportion.join_by_code)."""
        t_key = self.parameterAsString(parameters, "TABLE_KEY", context)
        t_field = self.parameterAsString(parameters, "TABLE_FIELD", context)
        missing = [n for n in (t_key, t_field) if table.fields().indexOf(n) < 0]
        if missing:
            raise QgsProcessingException(
                f"Field(s) {', '.join(repr(m) for m in missing)} not found in the table "
                f"'{table.sourceName()}'. Fields that exist: {', '.join(table.fields().names())}.")
        # every attribute is read: with a subset, OGR returns NULL for a field whose name appears
        # twice in a CSV header (census tables repeat 'Persons')
        i_key, i_field = table.fields().indexOf(t_key), table.fields().indexOf(t_field)
        rows = []
        for f in table.getFeatures(QgsFeatureRequest().setFlags(FeatureRequestFlag.NoGeometry)):
            attrs = f.attributes()
            rows.append((f.id(), _value(attrs[i_key]), _value(attrs[i_field])))
        frame = pd.DataFrame(rows, columns=["__fid", t_key, t_field])
        value = parameters.get("TABLE")
        text_file = isinstance(value, str) and value.split("|")[0].lower().endswith(
            (".csv", ".txt", ".tsv"))
        labels = ([f"line {i + 2}" for i in range(len(frame))] if text_file
                  else [f"feature {int(f)}" for f in frame["__fid"]])
        join = self.run_core(app_mod.join_by_code, [code for _, code in ids], frame[t_key].to_numpy(),
                             frame[t_field].to_numpy(), f"'{t_field}'",
                             f"table '{table.sourceName()}'", f"source polygons '{sources.sourceName()}'",
                             labels)
        feedback.pushInfo(f"Counts from '{t_field}' of the table '{table.sourceName()}', joined on "
                          f"'{t_key}' = '{self.parameterAsString(parameters, 'SOURCES_KEY', context)}'.")
        for k, line in enumerate(join.messages(f"'{t_field}'")):
            if k and ("no boundary" in line or "no row" in line or "empty code" in line):
                feedback.reportError(line, False)
            else:
                feedback.pushInfo(line)
        return join


ALGORITHMS = [ApportionAlgorithm]
