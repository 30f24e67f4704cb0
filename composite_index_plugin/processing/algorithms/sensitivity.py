"""compositeindex:sensitivity - how robust the index is to the analyst's choices (Monte Carlo).

The maths is ``core.sensitivity`` (which rebuilds the index with ``core.index.build_index`` for
each run); this module reads the zones and the spec, builds what the spec needs (zone areas,
neighbours), measures the area overlaps and writes the outputs.

Grid offset and cell size (the modifiable areal unit problem) are not varied yet: they need the
incident points, which this algorithm does not take; ``GRID_JITTER`` is accepted and reported.
"""
import json
import os

import numpy as np
from qgis.core import (
    QgsFeatureRequest,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterMatrix,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from composite_index_plugin.core import sensitivity as cs
from composite_index_plugin.processing.algorithms.summarise_areas import (
    area_m2,
    distance_area,
    no_overlap_error,
    push_messages,
    read_areas,
    write_by_fid,
    zone_overlaps,
)
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.processing.io_table import layer_dataframe, write_with_columns


def read_spec(text):
    """The index spec from JSON text or the path of a .json file."""
    text = (text or "").strip()
    if not text:
        raise QgsProcessingException("No index spec given: paste the spec's JSON or give the "
                                     "path of a .json file.")
    if not text.startswith("{") and os.path.isfile(text):
        try:
            with open(text, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as err:
            raise QgsProcessingException(f"Cannot read the spec file: {err}.") from err
    try:
        spec = json.loads(text)
    except ValueError as err:
        raise QgsProcessingException(
            f"The index spec is not valid JSON ({err}); give JSON text or the path of a .json "
            "file.") from err
    if not isinstance(spec, dict):
        raise QgsProcessingException("The index spec must be a JSON object with 'themes'.")
    return spec


def _measures(spec):
    out = set()
    for theme in spec.get("themes", []):
        for issue in theme.get("issues", []):
            inds = issue.get("indicators", {})
            for ind in (inds.values() if isinstance(inds, dict) else inds):
                out.add(ind.get("measure", "value"))
                if ind.get("clustering") == "gi_star":
                    out.add("gi_star")
    return out


def zone_areas_and_centres(source, fids, context):
    """Area (m^2) and centroid x/y of every zone, in the order of ``fids``."""
    pos = {int(f): k for k, f in enumerate(fids)}
    n = len(fids)
    area, x, y = np.zeros(n), np.full(n, np.nan), np.full(n, np.nan)
    da = distance_area(source.sourceCrs(), context)
    for feature in source.getFeatures(QgsFeatureRequest().setNoAttributes()):
        k = pos.get(feature.id())
        geom = feature.geometry()
        if k is None or geom.isNull() or geom.isEmpty():
            continue
        area[k] = area_m2(da, geom) if geom.area() > 0 else 0.0
        c = geom.centroid().asPoint()
        x[k], y[k] = c.x(), c.y()
    return area, x, y


def build_neighbours(spec, frame, x, y):
    """The neighbours the spec asks for (``spec['neighbours']``), from grid indices or centres."""
    from composite_index_plugin.core import neighbours as nb

    conf = spec.get("neighbours") or {}
    method = conf.get("method", "queen")
    if method in ("queen", "rook"):
        if {"row", "col"} <= set(frame.columns):
            return nb.grid_contiguity(frame["row"].to_numpy("int64"), frame["col"].to_numpy("int64"),
                                      queen=method == "queen")
        if {"q", "r"} <= set(frame.columns):
            return nb.hex_contiguity(frame["q"].to_numpy("int64"), frame["r"].to_numpy("int64"))
        raise QgsProcessingException(
            f"The spec asks for {method} neighbours, which the sensitivity run can build only on "
            "grids (fields row/col or q/r). Use neighbours 'distance' or 'knn' in the spec.")
    if method == "distance":
        return nb.distance_band(x, y, float(conf["distance"]))
    if method == "knn":
        return nb.knn(x, y, int(conf["k"]))
    raise QgsProcessingException(f"Unknown neighbour method '{method}' in the spec.")


class SensitivityAlgorithm(CompositeIndexAlgorithm):
    NAME = "sensitivity"
    DISPLAY_NAME = "Uncertainty and sensitivity"
    GROUP = "Assessment"
    GROUP_ID = "assessment"
    HELP = (
        "Monte Carlo over the analyst's choices: each run rebuilds the index with weights drawn "
        "from a Dirichlet distribution centred on the chosen ones (a higher CONCENTRATION keeps "
        "them closer; 0 keeps them as they are) and, when SCALINGS are listed, one scaling drawn "
        "from that list for every indicator. Runs are seeded: the same SEED gives the same "
        "result.\n\nPer zone: base_rank, median_rank, rank_p05 and rank_p95 (the 5-95 % range "
        "of its rank over the runs), p_top_decile (share of runs in which it is in the top "
        "decile) and robust_priority (1 when p_top_decile >= 0.8). Per area (optional) the same "
        "for the area ranks (population-weighted mean score).\n\nGRID_JITTER (grid offset and "
        "cell size) is not available yet in this algorithm."
    )

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
            [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterString(
            self.SPEC, self.tr("Index spec (JSON text or path to a .json file)"), multiLine=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.RUNS, self.tr("Number of runs"), QgsProcessingParameterNumber.Integer,
            defaultValue=200, minValue=1, maxValue=100000))
        self.addParameter(QgsProcessingParameterNumber(
            self.SEED, self.tr("Random seed"), QgsProcessingParameterNumber.Integer,
            defaultValue=1, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.CONCENTRATION, self.tr("Weight concentration (0 = keep the weights)"),
            QgsProcessingParameterNumber.Double, defaultValue=50.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterMatrix(
            self.SCALINGS, self.tr("Scalings to draw from (e.g. zscore, minmax, rank)"),
            headers=[self.tr("Scaling")], optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.GRID_JITTER, self.tr("Vary grid offset and cell size (not available yet)"),
            defaultValue=False))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.AREAS, self.tr("Areas"), [QgsProcessing.TypeVectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.AREA_NAME_FIELD, self.tr("Area name field"), parentLayerParameterName=self.AREAS,
            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("Rank uncertainty per zone"), QgsProcessing.TypeVectorPolygon))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.AREA_OUTPUT, self.tr("Rank uncertainty per area"), QgsProcessing.TypeVectorPolygon,
            optional=True, createByDefault=False))

    def processAlgorithm(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        spec = read_spec(self.parameterAsString(parameters, self.SPEC, context))
        runs = self.parameterAsInt(parameters, self.RUNS, context)
        seed = self.parameterAsInt(parameters, self.SEED, context)
        concentration = self.parameterAsDouble(parameters, self.CONCENTRATION, context)
        scalings = [str(s).strip() for s in self.parameterAsMatrix(parameters, self.SCALINGS, context)
                    if s is not None and not (hasattr(s, "isNull") and s.isNull()) and str(s).strip()]
        jitter = self.parameterAsBoolean(parameters, self.GRID_JITTER, context)
        areas = self.parameterAsSource(parameters, self.AREAS, context)
        name_field = self.parameterAsString(parameters, self.AREA_NAME_FIELD, context)
        if jitter:
            feedback.reportError(
                "Varying the grid offset and cell size is not available yet in this algorithm "
                "(it needs the incident points); only weights and scalings are varied.",
                fatalError=False)
        scalings = self.run_core(cs.parse_scalings, scalings)

        feedback.setProgressText(self.tr("Reading the zones"))
        frame = layer_dataframe(source)
        fids = frame["__fid"].to_numpy()
        measures = _measures(spec)
        zone_area = neighbours = None
        if "density" in measures or "neighbours" in spec:
            zone_area, x, y = zone_areas_and_centres(source, fids, context)
            if "neighbours" in spec and (measures & {"eb_rate_spatial", "clustering", "gi_star"}):
                neighbours = self.run_core(build_neighbours, spec, frame, x, y)

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

        feedback.setProgressText(self.tr(f"Running {runs} index variants"))
        result = self.run_core(
            cs.run_sensitivity, frame.drop(columns="__fid"), spec, runs=runs, seed=seed,
            concentration=concentration, scalings=scalings, area_names=area_names,
            overlaps=overlaps, population=population, neighbours=neighbours,
            zone_area=zone_area, progress=progress_from_feedback(feedback, 5.0, 95.0))
        push_messages(feedback, result.messages)
        dest = write_with_columns(self, parameters, context, source,
                                  result.zones.reset_index(drop=True), self.OUTPUT)
        out = {self.OUTPUT: dest}
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
