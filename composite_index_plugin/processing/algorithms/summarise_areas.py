"""compositeindex:summariseareas - summarise index zones by larger areas (constituencies, wards).

The maths is ``core.assessment``; ``processing.zones`` measures how much of each zone lies in
each area (PyQGIS geometry intersection, prepared geometries); this module reads the fields and
writes the outputs.
"""
import numpy as np
from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import assessment as ca
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.gap_options import (
    GAP,
    GAP_HELP,
    add_gap_parameters,
    gap_from_parameters,
)
from composite_index_plugin.processing.grid_overlay import (
    grid_columns,
    grid_zone_overlaps,
    read_grid_zones,
)
from composite_index_plugin.processing.io_table import (
    layer_dataframe,
)
from composite_index_plugin.processing.zones import (
    area_m2,
    distance_area,
    no_overlap_error,
    polygons_in,
    push_messages,
    read_areas,
    warn_low_coverage,
    write_by_fid,
    write_table,
    zone_overlaps,
)
from composite_index_plugin.qgis_compat import (
    ProcessingFieldParameterDataType,
    ProcessingParameterFlag,
    ProcessingSourceType,
)

ROLES = ("victims", "offenders", "locations")
NO_INCIDENTS_FIELD = "ci_no_incidents"


def count_fields(names, issues):
    """The incident count fields ``<issue>_<role>`` among ``names``, issue by issue."""
    present = set(names)
    return [f"{i}_{r}" for i in issues for r in ROLES if f"{i}_{r}" in present]


# --------------------------------------------------------------------------------------------
# the algorithm
# --------------------------------------------------------------------------------------------
class SummariseAreasAlgorithm(CompositeIndexAlgorithm):
    NAME = "summariseareas"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Summarise by area")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Assessment")
    GROUP_ID = "assessment"
    HELP = (QT_TRANSLATE_NOOP("CompositeIndex", (
        "Summarises index zones by larger areas (constituencies, wards): population-weighted mean"
        " score, share of the population and of the zones in the study area's top decile, the "
        "IMD-style extent (population-weighted share in the most affected percentiles: weight 1 "
        "for percentiles 1-10, falling from 0.95 at 11 to 0.05 at 30), hotspot area and share, "
        "the three themes and issues with the highest mean scores (weighted as the score), the "
        "gap between the highest-need zones and the rest, and the area's rank (1 = highest need)."
        " A zone split by area boundaries counts in each area by the share of its surface inside "
        "it (its population shared out in the same proportion). The table has one more row for "
        "the whole study area. Each area's issue values (<issue>_mean) are weighted as its score,"
        " and the incident counts (<issue>_<role>) are summed, a split zone counting by its "
        "share. Zones made by 'Create grid' are overlaid with the areas by grid arithmetic "
        "(exact, the time growing with cells + area vertices); OVERLAY 'GEOS intersection of "
        "every zone' measures every zone with GEOS instead.\n\n")),
        GAP_HELP)   # parts, translated apart

    ZONES = "ZONES"
    AREAS = "AREAS"
    AREA_NAME_FIELD = "AREA_NAME_FIELD"
    POPULATION_FIELD = "POPULATION_FIELD"
    SCORE_FIELD = "SCORE_FIELD"
    HOTSPOTS = "HOTSPOTS"
    GAP = GAP
    OVERLAY = "OVERLAY"
    OUTPUT = "OUTPUT"
    TABLE = "TABLE"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.ZONES, self.tr("Index zones"), [ProcessingSourceType.VectorPolygon]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.AREAS, self.tr("Areas to summarise by"), [ProcessingSourceType.VectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.AREA_NAME_FIELD, self.tr("Area name field"), parentLayerParameterName=self.AREAS,
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.POPULATION_FIELD, self.tr("Population field (default: population, when present)"),
            parentLayerParameterName=self.ZONES, type=ProcessingFieldParameterDataType.Numeric,
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.SCORE_FIELD, self.tr("Score field"), defaultValue="ci_score",
            parentLayerParameterName=self.ZONES, type=ProcessingFieldParameterDataType.Numeric,
            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.HOTSPOTS, self.tr("Hotspot zones (polygons)"), [ProcessingSourceType.VectorPolygon],
            optional=True))
        add_gap_parameters(self)
        p = QgsProcessingParameterEnum(
            self.OVERLAY, self.tr("Overlap areas"),
            [self.tr("Automatic: grid arithmetic for grids made by 'Create grid', else GEOS"),
             self.tr("GEOS intersection of every zone")], defaultValue=0, optional=True)
        p.setFlags(p.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(p)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("Area summary"), ProcessingSourceType.VectorPolygon))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.TABLE, self.tr("Area summary table"), ProcessingSourceType.Vector))

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
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
        # the index's zones without incidents rank last, as on its map (core.ranking)
        floor = NO_INCIDENTS_FIELD if (NO_INCIDENTS_FIELD in names_in
                                       and score_field == "ci_score") else None
        if floor:
            wanted.append(floor)
        wanted = list(dict.fromkeys(wanted))
        feedback.setProgressText(self.tr("Reading the zones"))
        zones_layer = self.parameterAsVectorLayer(parameters, self.ZONES, context)
        by_grid = self.parameterAsEnum(parameters, self.OVERLAY, context) == 0
        if by_grid:   # the grid's cell indices read in the same pass
            wanted = list(dict.fromkeys(wanted + grid_columns(zones, zones_layer)))
        frame = layer_dataframe(zones, wanted, layer=zones_layer)

        feedback.setProgressText(self.tr("Measuring zone and area overlaps"))
        area_names, area_geoms, area_fids = read_areas(areas, name_field, zones.sourceCrs(),
                                                       context, feedback)
        da = distance_area(zones.sourceCrs(), context)
        grid = None
        if by_grid:
            grid = read_grid_zones(zones, zones_layer, frame=frame)
        if grid is not None:
            overlaps, zone_m2, res = self.run_core(
                grid_zone_overlaps, grid, zones, area_geoms, da, frame["__fid"].to_numpy(),
                feedback, 0, 100)
            feedback.pushInfo(
                f"The zones are a grid made by 'Create grid' ({grid.spec.describe()}): overlaps "
                f"measured by grid arithmetic (exact), {res.n_cut:,} cell(s) crossed by an area "
                "boundary clipped in numpy" + (f", {int(grid.clipped.sum()):,} cell(s) clipped "
                                               "to the study area measured with GEOS"
                                               if grid.clipped.any() else "") + ".")
        else:
            overlaps, zone_m2 = zone_overlaps(zones, area_geoms, context, feedback,
                                              frame["__fid"].to_numpy())
        if len(overlaps) == 0:
            raise no_overlap_error(zones, areas)
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
            floor=floor, progress=progress_from_feedback(feedback))
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
