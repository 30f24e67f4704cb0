"""compositeindex:sensitivity - how robust the index is to the analyst's choices (Monte Carlo).

The maths is ``core.sensitivity`` (which rebuilds the index with ``core.index.build_index`` for
each run); this module reads the zones and the spec, builds what the spec needs (zone areas,
neighbours), measures the area overlaps and writes the outputs.

``GRID_JITTER`` varies the grid offset and cell size (the modifiable areal unit problem) on
grids made by ``creategrid`` (fields grid_shape, grid_size, grid_x0, grid_y0): each run shifts
the grid by up to one cell and scales the cells by up to +-25 %, moving the zones' values onto
it by areal weighting: exactly on square grids (``core.sensitivity.SquareGridJitter``), by
quadrature points on hexagon grids, flat-top or pointy-top (``SampledGridJitter``; whole cells
get the regular 54-point pattern, cells clipped at the study-area edge a lattice kept inside
their polygon). The jittered grid's neighbours, when the spec needs them, are its queen/rook
contiguity (squares) or its six hexagon neighbours.
"""

import numpy as np
from qgis.core import (
    QgsFeatureRequest,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterMatrix,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import model, vocab
from composite_index_plugin.core import sensitivity as cs
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.io_table import (
    NUMERIC_TYPES,
    input_layer,
    layer_dataframe,
    write_with_columns,
)
from composite_index_plugin.processing.spec_io import read_spec
from composite_index_plugin.processing.zones import (
    area_m2,
    distance_area,
    no_overlap_error,
    push_messages,
    read_areas,
    write_by_fid,
    zone_neighbours,
    zone_overlaps,
)
from composite_index_plugin.qgis_compat import ProcessingNumberParameterType, ProcessingSourceType


def zone_geometry_arrays(source, fids, context, planar=None):
    """Area (m^2), centroid x/y and extent (xmin, ymin, xmax, ymax) of every zone, in the order
    of ``fids``; NaN where a zone has no geometry. ``planar``: an array to fill with the
    planar areas (map units), when given."""
    pos = {int(f): k for k, f in enumerate(fids)}
    n = len(fids)
    area = np.zeros(n)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    box = np.full((n, 4), np.nan)
    da = distance_area(source.sourceCrs(), context)
    for feature in source.getFeatures(QgsFeatureRequest().setNoAttributes()):
        k = pos.get(feature.id())
        geom = feature.geometry()
        if k is None or geom.isNull() or geom.isEmpty():
            continue
        plain = geom.area()
        area[k] = area_m2(da, geom) if plain > 0 else 0.0
        if planar is not None:
            planar[k] = plain
        c = geom.centroid().asPoint()
        x[k], y[k] = c.x(), c.y()
        b = geom.boundingBox()
        box[k] = (b.xMinimum(), b.yMinimum(), b.xMaximum(), b.yMaximum())
    return area, x, y, box


SENSITIVITY = model.Sensitivity   # the defaults of a recipe's sensitivity section


def spec_fields(spec):
    """(fields the spec reads, the extensive ones: counts and denominators); ``spec`` is a
    ``model.IndexSpec``."""
    fields, extensive = [], set()
    for *_path, m, field in spec.measured():
        fields.append(field)
        if m.measure in vocab.COUNT_MEASURES or (m.measure == "clustering"
                                                 and m.clustering == "gi_star"):
            extensive.add(field)
        if m.denominator:
            fields.append(m.denominator)
            extensive.add(m.denominator)
    return list(dict.fromkeys(fields)), extensive


def zone_rings(source, fids, rows):
    """Rings (``core.geometry`` form) of the zones at positions ``rows`` of ``fids``."""
    from composite_index_plugin.core.geometry import rings_from_wkb

    want = {int(fids[k]): i for i, k in enumerate(rows)}
    out = [[] for _ in rows]
    if not want:
        return out
    request = QgsFeatureRequest().setFilterFids(list(want)).setNoAttributes()
    for feature in source.getFeatures(request):
        geom = feature.geometry()
        if not geom.isNull() and not geom.isEmpty():
            out[want[feature.id()]] = rings_from_wkb(bytes(geom.asWkb()))
    return out


def hex_samples(grid, x, y, box, planar, rings_of):
    """Quadrature points of the zones of a hexagon grid: whole cells (extent and area of a full
    cell around the centroid) get ``cell_samples``, the others (clipped at the study-area edge)
    ``polygon_samples`` of their polygon. Returns ``((x, y, zone, weight), n_clipped)``."""
    from composite_index_plugin.core.grid import cell_area
    from composite_index_plugin.core.sensitivity import cell_samples, polygon_samples

    ok = np.isfinite(x) & np.isfinite(y)
    a, b = grid.bin(np.where(ok, x, grid.x0), np.where(ok, y, grid.y0))
    v = grid.vertices(a, b)
    full = np.stack([v[:, :, 0].min(axis=1), v[:, :, 1].min(axis=1),
                     v[:, :, 0].max(axis=1), v[:, :, 1].max(axis=1)], axis=1)
    tol = 1e-6 * grid.size
    whole = (ok & np.all(np.abs(box - full) <= tol, axis=1)
             & (np.abs(planar - cell_area(grid.shape, grid.size)) <= tol * grid.size))
    rows = np.flatnonzero(whole)
    sx, sy, sz, sw = cell_samples(grid.shape, grid.size, grid.x0, grid.y0, a[rows], b[rows])
    parts = [(sx, sy, rows[sz], sw)]
    other = np.flatnonzero(~whole)
    if len(other):
        rings = rings_of(other)
        empty = [int(k) for k, r in zip(other, rings) if not r]
        if empty:
            raise QgsProcessingException(
                f"{len(empty)} zone(s) have no geometry (first: feature position {empty[0]}); "
                "grid jitter needs every cell's polygon. Remove them or switch grid jitter off.")
        px, py, pz, pw = polygon_samples(rings)
        parts.append((px, py, other[pz], pw))
    samples = tuple(np.concatenate([p[i] for p in parts]) for i in range(4))
    return samples, len(other)


def make_jitter(spec, frame, box, feedback, x=None, y=None, planar=None, rings_of=None):
    """A grid jitter for a grid layer made by Create grid: ``SquareGridJitter`` on squares,
    ``SampledGridJitter`` on hexagons (needs the centroids ``x``/``y``, the ``planar`` areas and
    ``rings_of(rows)`` -> rings); None (with a warning) when the layer is not such a grid."""
    from composite_index_plugin.core.grid import SHAPES, GridSpec

    missing = [f for f in ("grid_shape", "grid_size", "grid_x0", "grid_y0") if f not in frame.columns]
    if missing or len(frame) == 0:
        feedback.reportError(
            "Grid jitter needs a grid made by 'Create grid' (fields grid_shape, grid_size, grid_x0, "
            f"grid_y0; missing: {', '.join(missing) or 'features'}); the grid is not varied.",
            fatalError=False)
        return None
    shape = str(frame["grid_shape"].iloc[0])
    if shape not in SHAPES:
        feedback.reportError(f"Grid jitter works on square and hexagon grids made by Create grid "
                             f"(grid_shape {', '.join(SHAPES)}); this grid is '{shape}', so the "
                             "grid is not varied.", fatalError=False)
        return None
    fields, extensive = spec_fields(spec)
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise QgsProcessingException(f"The spec reads field(s) the zone layer lacks: "
                                     f"{', '.join(missing)}.")
    size = float(frame["grid_size"].iloc[0])
    x0 = float(frame["grid_x0"].iloc[0])
    y0 = float(frame["grid_y0"].iloc[0])
    values = frame[fields].apply(lambda c: c.astype("float64"))
    if shape == "square":
        feedback.pushInfo(f"Grid jitter: square cells of {size:g} shifted by up to one cell and "
                          "scaled by up to +-25 % in each run; values moved by areal weighting.")
        return cs.SquareGridJitter(box[:, 0], box[:, 1], box[:, 2], box[:, 3], size, x0, y0,
                                   values, extensive, size_jitter=0.25)
    grid = GridSpec(shape, size, x0, y0)
    samples, n_clipped = hex_samples(grid, x, y, box, planar, rings_of)
    kind = "flat-top" if shape == "hex_flat" else "pointy-top"
    feedback.pushInfo(
        f"Grid jitter: {kind} hexagons of width {size:g} shifted by up to one cell and scaled by "
        "up to +-25 % in each run; values moved by areal weighting estimated from "
        f"{len(samples[0]):,} sample points ({n_clipped} cell(s) clipped at the edge sampled "
        "from their polygon).")
    return cs.SampledGridJitter(shape, size, x0, y0, samples, x, y, values, extensive,
                                size_jitter=0.25)


class SensitivityAlgorithm(CompositeIndexAlgorithm):
    NAME = "sensitivity"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Uncertainty and sensitivity")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Assessment")
    GROUP_ID = "assessment"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
        "Monte Carlo over the analyst's choices: each run rebuilds the index with weights drawn "
        "from a Dirichlet distribution centred on the chosen ones (a higher CONCENTRATION keeps "
        "them closer; 0 keeps them as they are) and, when SCALINGS are listed, one scaling drawn "
        "from that list for every indicator. Runs are seeded: the same SEED gives the same "
        "result.\n\nPer zone: base_rank, median_rank, rank_p05 and rank_p95 (the 5-95 % range "
        "of its rank over the runs), p_top_decile (share of runs in which it is in the top "
        "decile) and robust_priority (1 when p_top_decile >= 0.8). Per area (optional) the same "
        "for the area ranks (population-weighted mean score).\n\nGRID_JITTER varies the grid "
        "offset (up to one cell) and the cell size (+-25 %) on square or hexagon (flat-top or "
        "pointy-top) grids made by Create grid, moving the zones' counts onto each jittered grid "
        "of the same shape by areal weighting (counts are assumed spread evenly within a cell; "
        "on hexagons the overlaps are estimated from about 50 sample points per cell, within a "
        "few per cent); each cell then takes the score of the jittered cell that holds its "
        "centre. With neighbours in the spec, the jittered grid uses queen or rook contiguity "
        "(squares) or its six hexagon neighbours."
    ))

    INPUT = "INPUT"
    SPEC = "SPEC"
    RUNS = "RUNS"
    SEED = "SEED"
    CONCENTRATION = "CONCENTRATION"
    SCALINGS = "SCALINGS"
    GRID_JITTER = "GRID_JITTER"
    AREAS = "AREAS"
    AREA_NAME_FIELD = "AREA_NAME_FIELD"
    OUTPUT = "OUTPUT"
    AREA_OUTPUT = "AREA_OUTPUT"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.INPUT, self.tr("Zones with the indicator fields"),
            [ProcessingSourceType.VectorPolygon]))
        self.addParameter(QgsProcessingParameterString(
            self.SPEC, self.tr("Index spec (JSON text or path to a .json file)"), multiLine=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.RUNS, self.tr("Number of runs"), ProcessingNumberParameterType.Integer,
            defaultValue=SENSITIVITY.key("runs").default, minValue=SENSITIVITY.key("runs").minimum,
            maxValue=SENSITIVITY.key("runs").maximum))
        self.addParameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), ProcessingNumberParameterType.Integer,
            defaultValue=SENSITIVITY.key("seed").default, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.CONCENTRATION, self.tr("Weight concentration (0 = keep the weights)"),
            ProcessingNumberParameterType.Double, defaultValue=SENSITIVITY.key("concentration").default,
            minValue=0.0))
        self.addParameter(QgsProcessingParameterMatrix(
            self.SCALINGS, self.tr("Scalings to draw from (e.g. zscore, minmax, rank)"),
            headers=[self.tr("Scaling")], optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.GRID_JITTER, self.tr("Vary grid offset and cell size (square or hexagon grids)"),
            defaultValue=SENSITIVITY.key("grid_jitter").default))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.AREAS, self.tr("Areas"), [ProcessingSourceType.VectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.AREA_NAME_FIELD, self.tr("Area name field"), parentLayerParameterName=self.AREAS,
            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("Rank uncertainty per zone"), ProcessingSourceType.VectorPolygon))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.AREA_OUTPUT, self.tr("Rank uncertainty per area"), ProcessingSourceType.VectorPolygon,
            optional=True, createByDefault=False))

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
    def processAlgorithm(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        spec = read_spec(self.parameterAsString(parameters, self.SPEC, context),
                         {f.name(): (True if f.type() in NUMERIC_TYPES else None)
                          for f in source.fields()})
        runs = self.parameterAsInt(parameters, self.RUNS, context)
        seed = self.parameterAsInt(parameters, self.SEED, context)
        concentration = self.parameterAsDouble(parameters, self.CONCENTRATION, context)
        scalings = [str(s).strip() for s in self.parameterAsMatrix(parameters, self.SCALINGS, context)
                    if s is not None and not (hasattr(s, "isNull") and s.isNull()) and str(s).strip()]
        grid_jitter = self.parameterAsBoolean(parameters, self.GRID_JITTER, context)
        areas = self.parameterAsSource(parameters, self.AREAS, context)
        name_field = self.parameterAsString(parameters, self.AREA_NAME_FIELD, context)
        scalings = self.run_core(cs.parse_scalings, scalings)

        feedback.setProgressText(self.tr("Reading the zones"))
        layer = input_layer(self, parameters, self.INPUT, context)
        key = set(layer.dataProvider().pkAttributeIndexes()) if layer is not None else set()
        frame = layer_dataframe(source, [f.name() for i, f in enumerate(source.fields())
                                         if i not in key], layer=layer)   # the fid is __fid
        fids = frame["__fid"].to_numpy()
        zone_area = neighbours = jitter = jitter_nb = None
        needs_area, needs_nb = spec.needs()
        if needs_area or needs_nb or grid_jitter:
            planar = np.zeros(len(fids))
            zone_area, x, y, box = zone_geometry_arrays(source, fids, context, planar)
            if needs_nb:  # the same neighbours as buildindex (default queen contiguity)
                neighbours = zone_neighbours(source, spec, fids, feedback)
            if grid_jitter:
                jitter = self.run_core(make_jitter, spec, frame, box, feedback, x, y, planar,
                                       lambda rows: zone_rings(source, fids, rows))
                if jitter is not None and needs_nb:
                    method = spec.neighbour_method
                    if method not in ("queen", "rook"):
                        raise QgsProcessingException(
                            f"Grid jitter with '{method}' neighbours is not supported; use queen "
                            "or rook neighbours in the spec, or switch grid jitter off.")
                    from composite_index_plugin.core import neighbours as nb

                    if isinstance(jitter, cs.SampledGridJitter):  # hexagons: queen = rook
                        def jitter_nb(q, r):
                            return nb.hex_contiguity(q, r)
                    else:
                        def jitter_nb(row, col, queen=method == "queen"):
                            return nb.grid_contiguity(row, col, queen=queen)

        area_names, overlaps, population, area_fids = [], None, None, None
        if areas is not None:
            area_names, area_geoms, area_fids = read_areas(areas, name_field, source.sourceCrs(),
                                                           context, feedback)
            overlaps, _ = zone_overlaps(source, area_geoms, context, None, fids)
            if len(overlaps) == 0:
                raise no_overlap_error(source, areas)
            if "population" in frame.columns:
                population = frame["population"].to_numpy("float64")
                feedback.pushInfo("Areas are ranked by their population-weighted mean score.")

        feedback.setProgressText(self.tr("Running {runs} index variants").format(runs=runs))
        result = self.run_core(
            cs.run_sensitivity, frame.drop(columns="__fid"), spec, runs=runs, seed=seed,
            concentration=concentration, scalings=scalings, area_names=area_names,
            overlaps=overlaps, population=population, neighbours=neighbours,
            zone_area=zone_area, jitter=jitter, jitter_neighbours=jitter_nb,
            progress=progress_from_feedback(feedback, 5.0, 95.0))
        push_messages(feedback, result.messages)
        dest = write_with_columns(self, parameters, context, source,
                                  result.zones.reset_index(drop=True), self.OUTPUT,
                                  source_layer=layer, fids=fids)
        out = {self.OUTPUT: dest}
        from composite_index_plugin.processing import styling

        styling.style_output(self, context, dest, "sensitivity")
        wants_areas = bool(self.parameterAsOutputLayer(parameters, self.AREA_OUTPUT, context))
        if result.areas is not None and wants_areas:
            out[self.AREA_OUTPUT] = write_by_fid(self, parameters, self.AREA_OUTPUT, context,
                                                 areas, result.areas, area_fids)
        elif result.areas is not None:
            feedback.pushInfo("Area results: " + "; ".join(
                f"{r.area_name}: median rank {r.median_rank:g} ({r.rank_p05:g}-{r.rank_p95:g})"
                for r in result.areas.itertuples()))
        return out


ALGORITHMS = [SensitivityAlgorithm]
