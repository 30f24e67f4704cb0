"""compositeindex:creategrid - square or hexagon analysis grid that lines up from year to year."""
import os

import numpy as np
from qgis.core import (
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsFields,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import grid as grid_mod
from composite_index_plugin.core import model, vocab
from composite_index_plugin.core.geometry import rings_from_wkb
from composite_index_plugin.i18n import translated
from composite_index_plugin.processing import gpkg_fast
from composite_index_plugin.processing.base import CompositeIndexAlgorithm
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.qgis_compat import (
    GeometryType,
    ProcessingNumberParameterType,
    ProcessingParameterFlag,
    ProcessingSourceType,
    WkbType,
    make_field,
)

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
    fields.append(make_field("cell_id", "string"))
    for name in spec.index_names:
        fields.append(make_field(name, "int"))
    fields.append(make_field("grid_shape", "string"))
    fields.append(make_field("grid_size", "double"))
    fields.append(make_field("grid_x0", "double"))
    fields.append(make_field("grid_y0", "double"))
    fields.append(make_field("grid_clipped", "int"))
    return fields


def grid_parameter_problem(alg, parameters, context):
    """Why the grid asked for cannot be made (``core.limits.grid_problem`` on the study area's
    extent, in the output CRS), or None. Reads no feature and builds no cell."""
    from qgis.core import QgsCoordinateTransform

    from composite_index_plugin.core import limits

    source = alg.parameterAsSource(parameters, "STUDY_AREA", context)
    if source is None:
        return None               # QGIS's own check names the missing layer
    shape = vocab.grid_shape_code(vocab.GRID_SHAPES[alg.parameterAsEnum(parameters, "SHAPE",
                                                                         context)])
    size = alg.parameterAsDouble(parameters, "SIZE", context)
    extent = source.sourceExtent()
    target = alg.parameterAsCrs(parameters, "TARGET_CRS", context)
    if target.isValid() and target != source.sourceCrs() and not target.isGeographic():
        try:
            extent = QgsCoordinateTransform(source.sourceCrs(), target,
                                            context.transformContext()).transformBoundingBox(extent)
        except Exception:  # noqa: BLE001 - QgsCsException: processAlgorithm reports it
            return None
    if extent.isNull():
        return None
    bbox = (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum())
    # with cells with data only, the cells made are fewer than the extent holds: the limit is
    # checked on them once the data are read (processAlgorithm)
    max_cells = 0 if parameters.get("DATA_LAYERS") else \
        alg.parameterAsInt(parameters, "MAX_CELLS", context)
    return limits.grid_problem(
        shape, size, bbox, alg.parameterAsDouble(parameters, "ORIGIN_X", context),
        alg.parameterAsDouble(parameters, "ORIGIN_Y", context), max_cells,
        alg.parameterAsBool(parameters, "SIZE_IS_AREA", context), what="SIZE")


class CreateGridAlgorithm(CompositeIndexAlgorithm):
    NAME = "creategrid"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Create analysis grid")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Geography")
    GROUP_ID = "geography"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
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
        "refused before any cell is made, with the count, the memory and time they would take and "
        "a cell size that would fit.\n\n"
        "Cells with data: give point layers (victims, offenders, locations, any number) in 'Only "
        "cells holding points of these layers' to make only the cells that hold at least one of "
        "their points, plus DATA_NEIGHBOURS rings of neighbours around them (1 by default, so "
        "hotspot statistics see each cell's neighbours; 0 for none). A national grid at 100 m "
        "then has a few million cells instead of tens of millions. Cells are made and written "
        "in chunks of rows, so memory grows with the cells kept, not the extent."))

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            "STUDY_AREA", self.tr("Study area"), [ProcessingSourceType.VectorAnyGeometry]))
        self.addParameter(QgsProcessingParameterEnum(
            "SHAPE", self.tr("Cell shape"), options=[translated(o) for o in vocab.GRID_SHAPE_TITLES],
            defaultValue=vocab.position(vocab.GRID_SHAPES, GEOGRAPHY.key("shape").default)))
        self.addParameter(QgsProcessingParameterNumber(
            "SIZE", self.tr("Cell size (width in map units, or area)"), ProcessingNumberParameterType.Double,
            100.0))
        self.addParameter(QgsProcessingParameterBoolean(
            "SIZE_IS_AREA", self.tr("Size is a cell area (square map units)"),
            GEOGRAPHY.key("size_is_area").default))
        self.addParameter(QgsProcessingParameterEnum(
            "KEEP", self.tr("Cells to keep"), options=[translated(o) for o in vocab.GRID_KEEP_TITLES],
            defaultValue=vocab.position(vocab.GRID_KEEP, GEOGRAPHY.key("keep").default)))
        for p in (QgsProcessingParameterNumber("ORIGIN_X", self.tr("Grid origin X (default 0)"),
                                               ProcessingNumberParameterType.Double, None, True),
                  QgsProcessingParameterNumber("ORIGIN_Y", self.tr("Grid origin Y (default 0)"),
                                               ProcessingNumberParameterType.Double, None, True)):
            p.setFlags(p.flags() | ProcessingParameterFlag.Advanced)
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterCrs(
            "TARGET_CRS", self.tr("Reproject the study area to"), None, True))
        p = QgsProcessingParameterNumber("MAX_CELLS", self.tr("Largest number of cells"),
                                         ProcessingNumberParameterType.Integer,
                                         GEOGRAPHY.key("max_cells").default, False, 1)
        p.setFlags(p.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(p)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "DATA_LAYERS", self.tr("Only cells holding points of these layers"),
            ProcessingSourceType.VectorAnyGeometry, optional=True))
        p = QgsProcessingParameterNumber(
            "DATA_NEIGHBOURS", self.tr("With cells with data: rings of neighbours kept around them"),
            ProcessingNumberParameterType.Integer, 1, True, 0, 5)
        p.setFlags(p.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(p)
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Grid"), ProcessingSourceType.VectorPolygon))
        self.addOutput(QgsProcessingOutputNumber("CELLS", self.tr("Number of cells")))
        self.addOutput(QgsProcessingOutputString("GRID", self.tr("Grid definition")))

    def checkParameterValues(self, parameters, context):
        """Before any cell exists: the numbers (finite, in range) and the number of cells by
        arithmetic over the study area's extent, with the memory it would take."""
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        problem = grid_parameter_problem(self, parameters, context)
        return (False, problem) if problem else (True, "")

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
            if g.type() == GeometryType.Polygon and not g.isGeosValid():
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
        is_polygon = area.type() == GeometryType.Polygon
        box = area.boundingBox()
        bbox = (box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum())
        rows = grid_mod.LatticeRows(spec, bbox)
        n_box = rows.count()              # arithmetic: no per-cell array exists yet
        candidates = None
        data_layers = self.parameterAsLayerList(parameters, "DATA_LAYERS", context) \
            if parameters.get("DATA_LAYERS") else []
        if data_layers:
            rings_out = max(self.parameterAsInt(parameters, "DATA_NEIGHBOURS", context), 0)
            candidates = self._cells_with_data(spec, rows, data_layers, crs, rings_out, context,
                                               feedback)
            n_make = len(candidates[0])
            feedback.pushInfo(f"{n_make:,} cells hold points of {len(data_layers)} layer(s)"
                              + (f" or are within {rings_out} cell(s) of one" if rings_out else "")
                              + f", out of {n_box:,} over the study area's extent.")
        else:
            n_make = n_box
        self.run_core(grid_mod.check_cell_limit, spec, bbox, max_cells, n_make)
        guess = grid_mod.describe_estimate(n_box if candidates is None else n_make, n_make)
        feedback.pushInfo(f"{spec.describe()}; {n_box:,} cells cover the study area's extent"
                          + (" (size given as an area)" if size_is_area else "")
                          + f"; to make them takes {guess} at most.")
        feedback.setProgress(5)

        rings = rings_from_wkb(bytes(area.asWkb())) if is_polygon else []
        if not is_polygon:
            feedback.reportError("The study area is not a polygon layer: every cell over its extent is "
                                 "kept.", False)
        outline = grid_mod.Outline(spec, rows, rings) if is_polygon else None
        engine = None
        if is_polygon and keep == 2:
            engine = QgsGeometry.createGeometryEngine(area.constGet())
            engine.prepareGeometry()

        fields = grid_fields(spec)
        sink, dest_id = self.parameterAsSink(parameters, "OUTPUT", context, fields,
                                             WkbType.MultiPolygon, crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, "OUTPUT"))
        chunks = self._chunks(rows, candidates)
        written = None
        if keep != 2 and gpkg_fast.plain_gpkg(dest_id):
            del sink  # a GeoPackage layer: SQLite fills the layer the sink created
            try:
                written = self._write_gpkg(dest_id, spec, chunks, outline, keep, feedback)
            except Exception as err:   # the sink below is always right
                if isinstance(err, QgsProcessingException):
                    raise
                feedback.pushInfo(f"Fast GeoPackage write not possible ({err}); writing cell by cell.")
            if written is None:
                sink, dest_id = self.parameterAsSink(parameters, "OUTPUT", context, fields,
                                                     WkbType.MultiPolygon, crs)
        if written is None:
            written = self._write_sink(sink, fields, spec, chunks, outline, engine, keep, feedback)
            del sink  # close (flush) the output before its metadata is written
        n_written, n_clipped = written
        if n_written == 0:
            raise QgsProcessingException("No cell touches the study area: is the cell size far larger "
                                         "than the study area, or is the layer empty?")
        feedback.pushInfo(f"{n_written:,} cells written ({n_clipped:,} clipped).")
        write_grid_abstract(dest_id, context, grid_abstract(spec), feedback)
        self.style(context, dest_id, "area_outline", feedback=feedback)
        return {"OUTPUT": dest_id, "CELLS": n_written, "GRID": spec.describe()}

    @staticmethod
    def _cells_with_data(spec, rows, layers, crs, rings_out, context, feedback):
        """(a, b, row) of the cells of the box holding a point of ``layers`` (any role), and the
        cells within ``rings_out`` neighbour steps of them; sorted by row, then west to east."""
        from composite_index_plugin.processing.io_points import read_layer_points

        keys = []
        for layer in layers:
            pts = read_layer_points(layer, dest_crs=crs, context=context, feedback=feedback)
            pts.report(feedback, layer.name())
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled by the user.")
            a, b = spec.bin(pts.x, pts.y)
            keys.append(np.unique(grid_mod.encode_keys(a, b)))
        keys = np.unique(np.concatenate(keys)) if keys else np.empty(0, np.int64)
        offsets = grid_mod.neighbour_offsets(spec)
        for _ in range(rings_out):
            a, b = grid_mod.decode_keys(keys)
            grown = [keys] + [grid_mod.encode_keys(a + da, b + db) for da, db in offsets.tolist()]
            keys = np.unique(np.concatenate(grown))
        a, b = grid_mod.decode_keys(keys)
        inside = rows.contains(a, b)     # only cells the full grid over the box would have
        a, b = a[inside], b[inside]
        row = rows.row_of(a, b)
        cx, _ = spec.centres(a, b)
        order = np.lexsort((cx, row))
        return a[order], b[order], row[order]

    @staticmethod
    def _chunks(rows, candidates, per_chunk=250_000):
        """The (a, b, row) chunks of the cells to test: the whole box row by row, or the
        candidate cells (cells with data) in pieces. Iterable again from the start (the sink
        writer starts over when the fast writer gave up) and sized (for the progress)."""
        return _Chunks(rows, candidates, per_chunk)

    @staticmethod
    def _kept(spec, outline, keep, a, b, row):
        if outline is None:
            return np.ones(len(a), dtype=bool), np.zeros(len(a), dtype=bool)
        return outline.keep(a, b, row, keep)

    def _write_gpkg(self, dest_id, spec, chunks, outline, keep, feedback):
        """Stream the kept cells into the GeoPackage layer, chunk by chunk, in one transaction."""
        first, second = spec.index_names
        n_written = 0
        with gpkg_fast.LayerFiller(dest_id, rows=chunks.cells) as filler:
            srs = filler.info.srs_id
            sql = {"cell_id": spec.id_sql("{" + first + "}", "{" + second + "}"),
                   "grid_shape": f"'{spec.shape}'", "grid_clipped": "0",
                   "grid_size": repr(float(spec.size)), "grid_x0": repr(float(spec.x0)),
                   "grid_y0": repr(float(spec.y0))}
            for n, (a, b, row) in enumerate(chunks):
                if feedback.isCanceled():
                    raise QgsProcessingException("Cancelled by the user.")
                kept, _ = self._kept(spec, outline, keep, a, b, row)
                idx = np.flatnonzero(kept)
                if len(idx):
                    blobs, bounds = gpkg_fast.polygon_blobs(spec.vertices(a[idx], b[idx]), srs,
                                                            multi=True)
                    count = len(idx)
                    filler.append({first: a[idx], second: b[idx]}, blobs, bounds, sql)
                    n_written += count
                feedback.setProgress(5 + 85 * (n + 1) / max(len(chunks), 1))
        return n_written, 0

    def _write_sink(self, sink, fields, spec, chunks, outline, engine, keep, feedback):
        """Any other output (memory layers, other formats, clipped cells): features in batches."""
        n_written = n_clipped = 0
        shape_, size_, x0_, y0_ = spec.shape, spec.size, spec.x0, spec.y0
        for n, (a, b, row) in enumerate(chunks):
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled by the user.")
            kept, cut = self._kept(spec, outline, keep, a, b, row)
            idx = np.flatnonzero(kept)
            ids = spec.cell_ids(a[idx], b[idx])
            wkbs = grid_mod.polygon_wkb(spec.vertices(a[idx], b[idx]), multi=True)
            ia, ib, cut_list = a[idx].tolist(), b[idx].tolist(), cut[idx].tolist()
            batch = []
            for k in range(len(idx)):
                g = QgsGeometry()
                g.fromWkb(wkbs[k])
                clipped = 0
                if engine is not None and cut_list[k] and not engine.contains(g.constGet()):
                    piece = QgsGeometry(engine.intersection(g.constGet()))
                    piece = piece.convertToType(GeometryType.Polygon, True) \
                        if piece.type() != GeometryType.Polygon else piece
                    if piece is None or piece.isNull() or piece.isEmpty() or piece.area() <= 0:
                        continue
                    if not piece.isMultipart():
                        piece.convertToMultiType()
                    g, clipped = piece, 1
                feature = QgsFeature(fields)
                feature.setGeometry(g)
                feature.setAttributes([ids[k], ia[k], ib[k], shape_, size_, x0_, y0_, clipped])
                batch.append(feature)
                n_written += 1
                n_clipped += clipped
                if len(batch) >= 5000:
                    sink.addFeatures(batch, QgsFeatureSink.Flag.FastInsert)
                    batch = []
            if batch:
                sink.addFeatures(batch, QgsFeatureSink.Flag.FastInsert)
            feedback.setProgress(5 + 85 * (n + 1) / max(len(chunks), 1))
        return n_written, n_clipped


ALGORITHMS = [CreateGridAlgorithm]


class _Chunks:
    """Chunks of cells (see CreateGridAlgorithm._chunks): ``len`` and a fresh iteration each
    time."""

    def __init__(self, rows, candidates, per_chunk):
        self.rows, self.candidates, self.per_chunk = rows, candidates, per_chunk
        if candidates is None:
            self.ranges = rows.chunks(per_chunk)
        else:
            n = len(candidates[0])
            self.ranges = [(s0, min(s0 + per_chunk, n)) for s0 in range(0, n, per_chunk)]
        # cells to test (those kept are fewer where an outline cuts the box)
        self.cells = rows.count() if candidates is None else len(candidates[0])

    def __len__(self):
        return len(self.ranges)

    def __iter__(self):
        for start, stop in self.ranges:
            if self.candidates is None:
                yield self.rows.cells(start, stop)
            else:
                a, b, row = self.candidates
                yield a[start:stop], b[start:stop], row[start:stop]
