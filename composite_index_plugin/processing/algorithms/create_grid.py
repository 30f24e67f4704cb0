"""compositeindex:creategrid - square or hexagon analysis grid that lines up from year to year."""
import os

import numpy as np
from qgis.core import (
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from composite_index_plugin.core import grid as grid_mod
from composite_index_plugin.core import model, vocab
from composite_index_plugin.core.geometry import points_in_rings, rings_from_wkb
from composite_index_plugin.processing import gpkg_fast
from composite_index_plugin.processing.base import CompositeIndexAlgorithm
from composite_index_plugin.processing.connections import guarded

GEOGRAPHY = model.Geography   # defaults and choices of a recipe's grid


def suggest_projected_crs(extent_lonlat):
    """A projected CRS suited to an extent in degrees: EPSG:27700 in Great Britain, else UTM."""
    xmin, ymin, xmax, ymax = extent_lonlat
    cx, cy = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
    if -9.0 <= cx <= 2.5 and 49.5 <= cy <= 61.0:
        return "EPSG:27700 (British National Grid, for Great Britain)"
    zone = int((cx + 180.0) // 6.0) + 1
    zone = min(max(zone, 1), 60)
    code = (32600 if cy >= 0 else 32700) + zone
    return f"EPSG:{code} (WGS 84 / UTM zone {zone}{'N' if cy >= 0 else 'S'})"


def grid_abstract(spec):
    """The text stored as the grid layer's abstract (description)."""
    return (f"Analysis grid made by Composite Index: {spec.describe()}. Cells: {spec.shape} of width "
            f"{spec.size:g} map units on a lattice anchored at ({spec.x0:g}, {spec.y0:g}); indices "
            f"{'/'.join(spec.index_names)}.")


def write_grid_abstract(dest_id, context, text, feedback):
    """Put the grid definition in the output's metadata: the layer abstract of a layer held by the
    context (memory outputs), or the description of a GeoPackage layer (read by QGIS as the
    abstract). Failure only warns: the grid_* fields carry the same definition."""
    from qgis.core import QgsProcessingUtils

    try:
        layer = QgsProcessingUtils.mapLayerFromString(dest_id, context, False)
        if layer is not None and layer.providerType() == "memory":
            meta = layer.metadata()
            meta.setAbstract(text)
            layer.setMetadata(meta)
            return
        path = dest_id.split("|")[0]
        if not path.lower().endswith(".gpkg") or not os.path.exists(path):
            return
        from osgeo import gdal

        name = None
        if "|layername=" in dest_id:
            name = dest_id.split("|layername=")[1].split("|")[0]
        layer = None  # release any handle before opening for update
        ds = gdal.OpenEx(path, gdal.OF_VECTOR | gdal.OF_UPDATE)
        lyr = ds.GetLayerByName(name) if name else ds.GetLayer(0)
        lyr.SetMetadataItem("DESCRIPTION", text)
        ds = None
    except Exception as err:  # noqa: BLE001 - metadata is a courtesy, never a failure
        feedback.pushInfo(f"The grid definition could not be written to the layer metadata ({err}); "
                          "it is in the grid_* fields.")


def grid_fields(spec):
    fields = QgsFields()
    fields.append(QgsField("cell_id", QVariant.String))
    for name in spec.index_names:
        fields.append(QgsField(name, QVariant.Int))
    fields.append(QgsField("grid_shape", QVariant.String))
    fields.append(QgsField("grid_size", QVariant.Double))
    fields.append(QgsField("grid_x0", QVariant.Double))
    fields.append(QgsField("grid_y0", QVariant.Double))
    fields.append(QgsField("grid_clipped", QVariant.Int))
    return fields


class CreateGridAlgorithm(CompositeIndexAlgorithm):
    NAME = "creategrid"
    DISPLAY_NAME = "Create analysis grid"
    GROUP = "Geography"
    GROUP_ID = "geography"
    HELP = (
        "Square or hexagon cells covering a study area, on a lattice anchored at a fixed origin "
        "(0, 0 unless you give one), so grids made in different years or from different layers "
        "line up cell for cell and keep the same cell_id.\n\n"
        "SIZE is the cell width in map units: the side of a square, the flat-to-flat width of a "
        "hexagon (tick 'size is an area' to give the cell area instead). Each cell has a stable "
        "text id (S100_r3_c7, H100_q12_r-4, P100_q12_r-4), its integer indices (row/col or axial "
        "q/r) and the grid definition (grid_shape, grid_size, grid_x0, grid_y0), so 'Aggregate "
        "victims, offenders and locations' can count points into the cells by arithmetic. "
        "grid_clipped is 1 for cells cut by the study area boundary (KEEP = clip).\n\n"
        "The CRS must be projected (metres or feet): a geographic study area is refused unless "
        "you name a target CRS (for Great Britain, EPSG:27700). Grids above MAX_CELLS cells are "
        "refused, with the count and a cell size that would fit.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            "STUDY_AREA", self.tr("Study area"), [QgsProcessing.TypeVectorAnyGeometry]))
        self.addParameter(QgsProcessingParameterEnum(
            "SHAPE", self.tr("Cell shape"), options=[self.tr(o) for o in vocab.GRID_SHAPE_TITLES],
            defaultValue=vocab.position(vocab.GRID_SHAPES, GEOGRAPHY.key("shape").default)))
        self.addParameter(QgsProcessingParameterNumber(
            "SIZE", self.tr("Cell size (width in map units, or area)"), QgsProcessingParameterNumber.Double,
            100.0))
        self.addParameter(QgsProcessingParameterBoolean(
            "SIZE_IS_AREA", self.tr("Size is a cell area (square map units)"),
            GEOGRAPHY.key("size_is_area").default))
        self.addParameter(QgsProcessingParameterEnum(
            "KEEP", self.tr("Cells to keep"), options=[self.tr(o) for o in vocab.GRID_KEEP_TITLES],
            defaultValue=vocab.position(vocab.GRID_KEEP, GEOGRAPHY.key("keep").default)))
        for p in (QgsProcessingParameterNumber("ORIGIN_X", self.tr("Grid origin X (default 0)"),
                                               QgsProcessingParameterNumber.Double, None, True),
                  QgsProcessingParameterNumber("ORIGIN_Y", self.tr("Grid origin Y (default 0)"),
                                               QgsProcessingParameterNumber.Double, None, True)):
            p.setFlags(p.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterCrs(
            "TARGET_CRS", self.tr("Reproject the study area to (optional)"), None, True))
        p = QgsProcessingParameterNumber("MAX_CELLS", self.tr("Largest number of cells"),
                                         QgsProcessingParameterNumber.Integer,
                                         GEOGRAPHY.key("max_cells").default, False, 1)
        p.setFlags(p.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(p)
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Grid"), QgsProcessing.TypeVectorPolygon))
        self.addOutput(QgsProcessingOutputNumber("CELLS", self.tr("Number of cells")))
        self.addOutput(QgsProcessingOutputString("GRID", self.tr("Grid definition")))

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
    def processAlgorithm(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "STUDY_AREA", context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, "STUDY_AREA"))
        shape = vocab.grid_shape_code(vocab.GRID_SHAPES[self.parameterAsEnum(parameters, "SHAPE",
                                                                              context)])
        size = self.parameterAsDouble(parameters, "SIZE", context)
        keep = self.parameterAsEnum(parameters, "KEEP", context)
        max_cells = self.parameterAsInt(parameters, "MAX_CELLS", context)
        target = self.parameterAsCrs(parameters, "TARGET_CRS", context)
        crs = source.sourceCrs()
        request = QgsFeatureRequest().setNoAttributes()
        if target.isValid() and target != crs:
            if target.isGeographic():
                raise QgsProcessingException(
                    f"The target CRS {target.authid()} is geographic (degrees); grid cells need a "
                    "projected CRS in metres or feet, e.g. EPSG:27700 for Great Britain.")
            request.setDestinationCrs(target, context.transformContext())
            feedback.pushInfo(f"Study area reprojected from {crs.authid()} to {target.authid()}.")
            crs = target
        elif crs.isGeographic():
            ext = source.sourceExtent()
            suggestion = suggest_projected_crs(
                (ext.xMinimum(), ext.yMinimum(), ext.xMaximum(), ext.yMaximum()))
            raise QgsProcessingException(
                f"The study area '{source.sourceName()}' is in a geographic CRS ({crs.authid()}, degrees), "
                f"so cells of {size:g} units would not be squares or hexagons on the ground. "
                f"Name a projected CRS in 'Reproject the study area to', e.g. {suggestion}.")
        size_is_area = self.parameterAsBool(parameters, "SIZE_IS_AREA", context)
        if size_is_area:
            size = self.run_core(grid_mod.size_from_area, shape, size)
        # An unset origin reads as 0: the lattice is anchored at (0, 0).
        x0 = self.parameterAsDouble(parameters, "ORIGIN_X", context)
        y0 = self.parameterAsDouble(parameters, "ORIGIN_Y", context)
        spec = self.run_core(grid_mod.GridSpec, shape, size, x0, y0)

        # Study area as one geometry (union), repaired when invalid.
        geoms, n_null, n_repaired = [], 0, 0
        for f in source.getFeatures(request):
            g = f.geometry()
            if g.isNull() or g.isEmpty():
                n_null += 1
                continue
            if g.type() == QgsWkbTypes.PolygonGeometry and not g.isGeosValid():
                g = g.makeValid()
                n_repaired += 1
            geoms.append(g)
        if not geoms:
            raise QgsProcessingException(
                f"The study area '{source.sourceName()}' has no features with a geometry.")
        if n_null:
            feedback.reportError(f"{n_null} study area feature(s) without a geometry were ignored.", False)
        if n_repaired:
            feedback.reportError(f"{n_repaired} invalid study area polygon(s) were repaired (make valid).",
                                 False)
        area = QgsGeometry.unaryUnion(geoms) if len(geoms) > 1 else geoms[0]
        is_polygon = area.type() == QgsWkbTypes.PolygonGeometry
        box = area.boundingBox()
        bbox = (box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum())
        n_box = self.run_core(grid_mod.check_cell_limit, spec, bbox, max_cells)
        feedback.pushInfo(f"{spec.describe()}; {n_box:,} cells cover the study area's extent"
                          + (" (size given as an area)" if size_is_area else ""))
        a, b = spec.cells_in_box(*bbox)
        feedback.setProgress(10)

        clipped = np.zeros(len(a), dtype=bool)
        geometry_override = {}
        if is_polygon:
            rings = rings_from_wkb(bytes(area.asWkb()))
            cx, cy = spec.centres(a, b)
            centre_in = points_in_rings(cx, cy, rings)
            verts = spec.vertices(a, b)
            near = np.isin(grid_mod.encode_keys(a, b), grid_mod.boundary_cells(spec, rings))
            feedback.setProgress(30)
            if keep == 1:
                keep_mask = centre_in
            else:
                # Away from the boundary a cell is wholly inside or wholly outside: its centre
                # decides. Cells the boundary may cross are tested exactly with GEOS.
                keep_mask = ~near & centre_in
                engine = QgsGeometry.createGeometryEngine(area.constGet())
                engine.prepareGeometry()
                todo = np.flatnonzero(near)
                wkbs = grid_mod.polygon_wkb(verts[todo])
                for n, (i, blob) in enumerate(zip(todo.tolist(), wkbs)):
                    if n % 2000 == 0:
                        if feedback.isCanceled():
                            return {}
                        feedback.setProgress(30 + 40 * n / max(len(todo), 1))
                    cell = QgsGeometry()
                    cell.fromWkb(blob)
                    # Cells that only touch the study area (no shared area) are left out.
                    if not engine.intersects(cell.constGet()) or engine.touches(cell.constGet()):
                        continue
                    if keep == 2 and not engine.contains(cell.constGet()):
                        piece = QgsGeometry(engine.intersection(cell.constGet()))
                        piece = piece.convertToType(QgsWkbTypes.PolygonGeometry, True) \
                            if piece.type() != QgsWkbTypes.PolygonGeometry else piece
                        if piece is None or piece.isNull() or piece.isEmpty() or piece.area() <= 0:
                            continue
                        if not piece.isMultipart():
                            piece.convertToMultiType()
                        geometry_override[i] = piece
                        clipped[i] = True
                    keep_mask[i] = True
        else:
            feedback.reportError("The study area is not a polygon layer: every cell over its extent is "
                                 "kept.", False)
            keep_mask = np.ones(len(a), dtype=bool)
        idx = np.flatnonzero(keep_mask)
        if len(idx) == 0:
            raise QgsProcessingException("No cell touches the study area: is the cell size far larger "
                                         "than the study area, or is the layer empty?")
        fields = grid_fields(spec)
        sink, dest_id = self.parameterAsSink(parameters, "OUTPUT", context, fields,
                                             QgsWkbTypes.MultiPolygon, crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, "OUTPUT"))
        ids = spec.cell_ids(a[idx], b[idx])
        if len(idx) > 1000 and not geometry_override and gpkg_fast.plain_gpkg(dest_id):
            # A new GeoPackage: fill it in one SQLite transaction (geometries built in numpy).
            del sink
            if self._fill_gpkg(dest_id, spec, ids, a[idx], b[idx], feedback):
                feedback.pushInfo(f"{len(idx):,} cells written (0 clipped).")
                write_grid_abstract(dest_id, context, grid_abstract(spec), feedback)
                self.style(context, dest_id, "area_outline", feedback=feedback)
                return {"OUTPUT": dest_id, "CELLS": len(idx), "GRID": spec.describe()}
            sink, dest_id = self.parameterAsSink(parameters, "OUTPUT", context, fields,
                                                 QgsWkbTypes.MultiPolygon, crs)
        wkbs = grid_mod.polygon_wkb(spec.vertices(a[idx], b[idx]), multi=True)
        ia, ib = a[idx].tolist(), b[idx].tolist()
        clip_list = clipped[idx].tolist()
        batch = []
        shape_, size_, x0_, y0_ = spec.shape, spec.size, spec.x0, spec.y0
        for n, i in enumerate(idx.tolist()):
            if n % 5000 == 0:
                if feedback.isCanceled():
                    return {}
                feedback.setProgress(70 + 30 * n / len(idx))
            g = geometry_override.get(i)
            if g is None:
                g = QgsGeometry()
                g.fromWkb(wkbs[n])
            feature = QgsFeature(fields)
            feature.setGeometry(g)
            feature.setAttributes([ids[n], ia[n], ib[n], shape_, size_, x0_, y0_, int(clip_list[n])])
            batch.append(feature)
            if len(batch) >= 5000:
                sink.addFeatures(batch, QgsFeatureSink.FastInsert)
                batch = []
        if batch:
            sink.addFeatures(batch, QgsFeatureSink.FastInsert)
        del sink  # close (flush) the output before its metadata is written
        feedback.pushInfo(f"{len(idx):,} cells written ({int(clipped.sum()):,} clipped).")
        write_grid_abstract(dest_id, context, grid_abstract(spec), feedback)
        self.style(context, dest_id, "area_outline", feedback=feedback)
        return {"OUTPUT": dest_id, "CELLS": len(idx), "GRID": spec.describe()}

    @staticmethod
    def _fill_gpkg(dest_id, spec, ids, a, b, feedback):
        """The cells straight into the GeoPackage the sink created; False to use the sink."""
        import sqlite3

        import pandas as pd

        try:
            con = sqlite3.connect(dest_id)
            try:
                row = con.execute("SELECT srs_id FROM gpkg_geometry_columns").fetchone()
            finally:
                con.close()
            if row is None:
                return False
            blobs, bounds = gpkg_fast.polygon_blobs(spec.vertices(a, b), row[0], multi=True)
            first, second = spec.index_names
            frame = pd.DataFrame({"cell_id": list(ids), first: a.astype("int64"),
                                  second: b.astype("int64"), "grid_shape": spec.shape,
                                  "grid_size": float(spec.size), "grid_x0": float(spec.x0),
                                  "grid_y0": float(spec.y0), "grid_clipped": 0})
            return gpkg_fast.fill_layer(dest_id, frame, blobs, bounds)
        except Exception as err:  # noqa: BLE001 - the sink below is always right
            feedback.pushInfo(f"Fast GeoPackage write not possible ({err}); writing cell by cell.")
            return False


ALGORITHMS = [CreateGridAlgorithm]
