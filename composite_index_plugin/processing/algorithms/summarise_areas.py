"""compositeindex:summariseareas - summarise index zones by larger areas (constituencies, wards).

The maths is ``core.assessment``; this module measures how much of each zone lies in each area
(PyQGIS geometry intersection, prepared geometries), reads the fields and writes the outputs.
The helpers here (overlaps, table writing, area names) are shared by the other assessment
algorithms.
"""
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
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsSpatialIndex,
    QgsUnitTypes,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from composite_index_plugin.core import assessment as ca
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.processing.io_table import (
    column_values,
    fields_with_columns,
    layer_dataframe,
)


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------
def distance_area(crs, context):
    da = QgsDistanceArea()
    da.setSourceCrs(crs, context.transformContext())
    da.setEllipsoid(context.ellipsoid() or "NONE")
    return da


def area_m2(da, geometry):
    return da.convertAreaMeasurement(da.measureArea(geometry), QgsUnitTypes.AreaSquareMeters)


def area_name_field(source, name_field):
    """The field holding area names: the chosen one, else the first text field, else None."""
    if name_field:
        return name_field
    for f in source.fields():
        if f.type() == QVariant.String:
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


def zone_overlaps(zone_source, area_geoms, context, feedback=None, fid_order=None):
    """How much of each zone lies in each area.

    Returns (overlaps DataFrame with zone/area/fraction, zone_area_m2 array, zone geometries are
    not kept). ``zone`` is the zone's position in ``fid_order`` (the ``__fid`` column of
    ``layer_dataframe``), so the table lines up with the attribute frame. Zones without area
    (points) count fully in the first area that contains them.
    """
    index = QgsSpatialIndex()
    engines = []
    for i, geom in enumerate(area_geoms):
        feat = QgsFeature(i)
        feat.setGeometry(geom)
        index.addFeature(feat)
        engine = QgsGeometry.createGeometryEngine(geom.constGet())
        engine.prepareGeometry()
        engines.append(engine)
    position = None
    if fid_order is not None:
        position = {int(fid): k for k, fid in enumerate(fid_order)}
    da = distance_area(zone_source.sourceCrs(), context)
    n = len(fid_order) if fid_order is not None else max(zone_source.featureCount(), 0)
    zone_m2 = np.zeros(n)
    rows_z, rows_a, rows_f = [], [], []
    total = max(n, 1)
    request = QgsFeatureRequest().setNoAttributes()
    for k, feature in enumerate(zone_source.getFeatures(request)):
        if feedback is not None and k % 2000 == 0:
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled by the user.")
            feedback.setProgress(100.0 * k / total)
        pos = position.get(feature.id(), None) if position is not None else k
        if pos is None:
            continue
        geom = feature.geometry()
        if geom.isNull() or geom.isEmpty():
            continue
        g_area = geom.area()
        zone_m2[pos] = area_m2(da, geom) if g_area > 0 else 0.0
        const = geom.constGet()
        for a in index.intersects(geom.boundingBox()):
            engine = engines[a]
            if g_area <= 0:
                if engine.intersects(const):
                    rows_z.append(pos)
                    rows_a.append(a)
                    rows_f.append(1.0)
                    break
                continue
            if engine.contains(const):
                frac = 1.0
            elif engine.intersects(const):
                inter = geom.intersection(area_geoms[a])
                frac = inter.area() / g_area if inter is not None and not inter.isEmpty() else 0.0
            else:
                continue
            if frac > 1e-9:
                rows_z.append(pos)
                rows_a.append(a)
                rows_f.append(min(frac, 1.0))
    overlaps = pd.DataFrame({"zone": np.asarray(rows_z, dtype="int64"),
                             "area": np.asarray(rows_a, dtype="int64"),
                             "fraction": np.asarray(rows_f, dtype="float64")})
    return overlaps, zone_m2


def no_overlap_error(zone_source, area_source):
    return QgsProcessingException(
        f"The areas of '{area_source.sourceName()}' do not overlap any zone of "
        f"'{zone_source.sourceName()}'. Check that both layers cover the same place; if they "
        "do, check their coordinate reference systems.")


def write_table(alg, parameters, key, context, frame, crs=None):
    """Write a DataFrame as a table without geometry to the sink ``key``; returns its id."""
    frame = frame.reset_index(drop=True)
    fields = fields_with_columns(QgsFields(), frame)
    sink, dest = alg.parameterAsSink(parameters, key, context, fields, QgsWkbTypes.NoGeometry,
                                     crs if crs is not None else QgsCoordinateReferenceSystem())
    if sink is None:
        raise QgsProcessingException(alg.invalidSinkError(parameters, key))
    columns = [column_values(frame[c]) for c in frame.columns]
    feature = QgsFeature(fields)
    for i in range(len(frame)):
        feature.setAttributes([col[i] for col in columns])
        sink.addFeature(feature, QgsFeatureSink.FastInsert)
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
        sink.addFeature(out, QgsFeatureSink.FastInsert)
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


ROLES = ("victims", "offenders", "locations")


def count_fields(names, issues):
    """The incident count fields ``<issue>_<role>`` among ``names``, issue by issue."""
    present = set(names)
    return [f"{i}_{r}" for i in issues for r in ROLES if f"{i}_{r}" in present]


# --------------------------------------------------------------------------------------------
# the gap's options, shared by Summarise by area and Compare periods
# --------------------------------------------------------------------------------------------
GAP = "GAP"
GAP_PERCENT = "GAP_PERCENT"
GAP_WEIGHTING = "GAP_WEIGHTING"
GAP_MODE = "GAP_MODE"
GAP_HELP = (
    "The gap: the mean score of the highest-need zones (the top group: by default those holding "
    "10 % of the residents) minus that of all other zones. GAP_WEIGHTING: the top group holds "
    "that share of the residents and means are population-weighted (population share), or of "
    "the zones, each weighing the same (zone share). GAP_MODE over periods: fixed cohort (the "
    "first period's top group followed over time: a change is a change of the same places), "
    "re-selected (each period's own top group: a change mixes real change with zones moving in "
    "and out of the group and regression to the mean), or worst against average (the first "
    "period's top group against the mean of the whole area, the floor-target form). Within one "
    "period the first two are the same. The ratio of the means is only given when no score is "
    "below zero. GAP (advanced): the recipe's gap section as JSON, {\"by\": \"decile\" or "
    "\"percent\", \"value\": 1, \"weighting\": \"population\" or \"zones\", \"mode\": "
    "\"cohort\", \"reselected\" or \"worst_vs_average\"}; when given it replaces the three "
    "options.")


def add_gap_parameters(alg):
    """The gap's options as toolbox parameters (``core.assessment`` declares the words). They
    are optional with defaults, so models saved before them still validate."""
    alg.addParameter(QgsProcessingParameterNumber(
        GAP_PERCENT, alg.tr("Gap: top group, percent of the residents (or zones)"),
        QgsProcessingParameterNumber.Double, 10.0, optional=True, minValue=0.001, maxValue=99.999))
    alg.addParameter(QgsProcessingParameterEnum(
        GAP_WEIGHTING, alg.tr("Gap: top group by"),
        [alg.tr(t) for t in ca.GAP_WEIGHTING_TITLES],
        defaultValue=ca.GAP_WEIGHTING.index(ca.GAP_DEFAULT["weighting"]), optional=True))
    alg.addParameter(QgsProcessingParameterEnum(
        GAP_MODE, alg.tr("Gap over periods"), [alg.tr(t) for t in ca.GAP_MODE_TITLES],
        defaultValue=ca.GAP_MODES.index(ca.GAP_DEFAULT["mode"]), optional=True))
    text = QgsProcessingParameterString(
        GAP, alg.tr("Gap definition as JSON (replaces the options above)"), optional=True,
        multiLine=False)
    text.setFlags(text.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    alg.addParameter(text)


def gap_from_parameters(alg, parameters, context):
    """The gap definition (``core.assessment.parse_gap``) from the toolbox parameters."""
    text = alg.parameterAsString(parameters, GAP, context)
    if text and text.strip():
        return alg.run_core(ca.parse_gap, text)
    gap = {"by": "percent", "value": alg.parameterAsDouble(parameters, GAP_PERCENT, context),
           "weighting": ca.GAP_WEIGHTING[alg.parameterAsEnum(parameters, GAP_WEIGHTING, context)],
           "mode": ca.GAP_MODES[alg.parameterAsEnum(parameters, GAP_MODE, context)]}
    return alg.run_core(ca.parse_gap, gap)


# --------------------------------------------------------------------------------------------
# the algorithm
# --------------------------------------------------------------------------------------------
class SummariseAreasAlgorithm(CompositeIndexAlgorithm):
    NAME = "summariseareas"
    DISPLAY_NAME = "Summarise by area"
    GROUP = "Assessment"
    GROUP_ID = "assessment"
    HELP = (
        "Summarises index zones by larger areas (constituencies, wards): population-weighted mean "
        "score, share of the population and of the zones in the study area's top decile, the "
        "IMD-style extent (population-weighted share in the most affected percentiles: weight 1 "
        "for percentiles 1-10, falling from 0.95 at 11 to 0.05 at 30), hotspot area and share, "
        "the three themes and issues contributing most, the gap between the highest-need zones "
        "and the rest, and the area's rank (1 = highest need). A zone split by area boundaries "
        "counts in each area by the share of its surface inside it (its population shared out "
        "in the same proportion). The table has one more row for the whole study area. Each "
        "area's issue values (<issue>_mean) are weighted as its score, and the incident counts "
        "(<issue>_<role>) are summed, a split zone counting by its share.\n\n" + GAP_HELP
    )

    ZONES = "ZONES"
    AREAS = "AREAS"
    AREA_NAME_FIELD = "AREA_NAME_FIELD"
    POPULATION_FIELD = "POPULATION_FIELD"
    SCORE_FIELD = "SCORE_FIELD"
    HOTSPOTS = "HOTSPOTS"
    GAP = GAP
    OUTPUT = "OUTPUT"
    TABLE = "TABLE"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.ZONES, self.tr("Index zones"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.AREAS, self.tr("Areas to summarise by"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.AREA_NAME_FIELD, self.tr("Area name field"), parentLayerParameterName=self.AREAS,
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.POPULATION_FIELD, self.tr("Population field (default: population, when present)"),
            parentLayerParameterName=self.ZONES, type=QgsProcessingParameterField.Numeric,
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.SCORE_FIELD, self.tr("Score field"), defaultValue="ci_score",
            parentLayerParameterName=self.ZONES, type=QgsProcessingParameterField.Numeric,
            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.HOTSPOTS, self.tr("Hotspot zones (polygons)"), [QgsProcessing.TypeVectorPolygon],
            optional=True))
        add_gap_parameters(self)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("Area summary"), QgsProcessing.TypeVectorPolygon))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.TABLE, self.tr("Area summary table"), QgsProcessing.TypeVector))

    def processAlgorithm(self, parameters, context, feedback):
        zones = self.parameterAsSource(parameters, self.ZONES, context)
        if zones is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.ZONES))
        areas = self.parameterAsSource(parameters, self.AREAS, context)
        if areas is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.AREAS))
        hotspots = self.parameterAsSource(parameters, self.HOTSPOTS, context)
        name_field = self.parameterAsString(parameters, self.AREA_NAME_FIELD, context)
        pop_field = self.parameterAsString(parameters, self.POPULATION_FIELD, context)
        score_field = self.parameterAsString(parameters, self.SCORE_FIELD, context) or "ci_score"
        gap = gap_from_parameters(self, parameters, context)

        names_in = [f.name() for f in zones.fields()]
        if score_field not in names_in:
            raise QgsProcessingException(
                f"The zone layer '{zones.sourceName()}' has no score field '{score_field}'. "
                "Run the index first (it writes ci_score), or choose the score field.")
        if not pop_field and "population" in names_in:
            pop_field = "population"
        themes, issues = ca.detect_themes_issues(names_in)
        theme_means = {t: f"{t}_idx" for t in themes}
        wanted = [score_field] + ([pop_field] if pop_field else [])
        counts = count_fields(names_in, issues)
        wanted += list(themes.values()) + list(theme_means.values()) + list(issues.values())
        wanted += counts
        if "gi_bin" in names_in:
            wanted.append("gi_bin")
        wanted = list(dict.fromkeys(wanted))
        feedback.setProgressText(self.tr("Reading the zones"))
        frame = layer_dataframe(zones, wanted)

        feedback.setProgressText(self.tr("Measuring zone and area overlaps"))
        area_names, area_geoms, area_fids = read_areas(areas, name_field, zones.sourceCrs(),
                                                       context, feedback)
        overlaps, zone_m2 = zone_overlaps(zones, area_geoms, context, feedback,
                                          frame["__fid"].to_numpy())
        if len(overlaps) == 0:
            raise no_overlap_error(zones, areas)
        da = distance_area(zones.sourceCrs(), context)
        areas_m2 = np.array([area_m2(da, g) for g in area_geoms])
        warn_low_coverage(feedback, overlaps, zone_m2, areas_m2, area_names)

        hot_m2 = tot_m2 = None
        if hotspots is not None:
            hot_geoms = polygons_in(hotspots, zones.sourceCrs(), context)
            per_area = np.zeros(len(area_geoms))
            for hg in hot_geoms:
                for a, ag in enumerate(area_geoms):
                    if hg.boundingBox().intersects(ag.boundingBox()):
                        inter = hg.intersection(ag)
                        if inter is not None and not inter.isEmpty():
                            per_area[a] += area_m2(da, inter)
            hot_m2 = np.append(per_area, sum(area_m2(da, g) for g in hot_geoms))
            tot_m2 = np.append(areas_m2, zone_m2.sum())
        elif "gi_bin" in frame.columns:
            hot = frame["gi_bin"].to_numpy("float64") >= 2
            hot_m2, _ = ca.zone_hotspot_m2(overlaps, zone_m2, hot, len(area_names))
            tot_m2 = np.append(areas_m2, zone_m2.sum())
            feedback.pushInfo("Hotspot area from the zones with gi_bin >= 2 (95 % confidence).")
        else:
            feedback.pushInfo("No hotspot zones and no gi_bin field: hotspot area left empty.")

        feedback.setProgressText(self.tr("Summarising"))
        result = self.run_core(
            ca.summarise_areas, frame, overlaps, area_names, score=score_field,
            population=pop_field or None, themes=themes, issues=issues, theme_means=theme_means,
            hotspot_m2=hot_m2, area_m2=tot_m2, gap=gap, issue_means=issues, sums=counts,
            progress=progress_from_feedback(feedback))
        push_messages(feedback, result.messages)
        table = result.table
        polygons = table.iloc[:len(area_names)].reset_index(drop=True)
        # area features in the order read_areas kept them (features without geometry skipped)
        dest_out = write_by_fid(self, parameters, self.OUTPUT, context, areas, polygons,
                                area_fids)
        dest_table = write_table(self, parameters, self.TABLE, context, table)
        self.style(context, dest_out, "area_summary", feedback=feedback)
        return {self.OUTPUT: dest_out, self.TABLE: dest_table}


ALGORITHMS = [SummariseAreasAlgorithm]
