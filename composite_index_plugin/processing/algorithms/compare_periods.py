"""compositeindex:compareperiods - compare index runs of two or more periods on the same zones.

The maths is ``core.periods``; this module reads the layers, checks that they share a grid,
finds whether they share a frozen baseline (field ``ci_baseline``, the baseline's id written by
the index), measures the area overlaps for the gap and writes the outputs.
"""
import numpy as np
import pandas as pd
from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import model
from composite_index_plugin.core import periods as cp
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.gap_options import GAP_HELP, add_gap_parameters, gap_from_parameters
from composite_index_plugin.processing.io_table import layer_dataframe, write_with_columns
from composite_index_plugin.processing.zones import (
    no_overlap_error,
    push_messages,
    read_areas,
    write_table,
    zone_overlaps,
)
from composite_index_plugin.qgis_compat import ProcessingSourceType

GRID_FIELDS = ("grid_shape", "grid_size", "grid_x0", "grid_y0")
OPTIONAL_FIELDS = ("ci_score", "population", "gi_bin", "gi_z", "ci_baseline") + GRID_FIELDS


def grid_signature(frame):
    """(shape, size, x0, y0) of a grid layer from its grid_* fields, or None."""
    if not all(f in frame.columns for f in GRID_FIELDS) or len(frame) == 0:
        return None
    row = frame.iloc[0]
    return tuple(str(row[f]) for f in GRID_FIELDS)


def shared_baseline(frames):
    """The baseline id every period was scaled with, or None when they differ or are missing."""
    values = set()
    for frame in frames:
        if "ci_baseline" not in frame.columns:
            return None
        vals = frame["ci_baseline"].dropna().astype(str)
        vals = vals[vals != ""]
        if len(vals) == 0:
            return None
        values.update(vals.unique())
    return values.pop() if len(values) == 1 else None


class ComparePeriodsAlgorithm(CompositeIndexAlgorithm):
    NAME = "compareperiods"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Compare periods")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Assessment")
    GROUP_ID = "assessment"
    HELP = (QT_TRANSLATE_NOOP("CompositeIndex", (
        "Compares two or more index runs (oldest first) on the same zones, matched by a zone id. "
        "Per zone: score, rank and decile of each period and their change from the first to the "
        "last (a positive change always means more need), the hotspot transition between the "
        "last two periods from gi_bin (new, persistent, intensifying, diminishing, ended; hot = "
        "gi_bin >= 2), and with three or more periods a Mann-Kendall trend and the emerging hot "
        "spot category (Esri's rules). The gap per period and area, and its change since the "
        "first period, goes to the gaps table (column top_group_of: the period whose top group "
        "is used; the log says what the gap is).\n\n"
        "A Mann-Kendall trend can only be significant (p < 0.05) with 5 or more periods: with 4 "
        "the smallest possible p is 0.089, with 3 it is 0.30. With fewer periods the tool warns, "
        "trend says 'not testable' instead of 'no trend', and the output TREND_NOTE says why "
        "'intensifying' and 'diminishing' hot and cold spots cannot occur.\n\n"
        "Scores are only comparable when every period was scaled with the same frozen baseline "
        "(field ci_baseline); otherwise each year is rescaled on its own, so the tool compares "
        "ranks and leaves score_change empty. Periods with different zone ids or grids are "
        "refused, naming the ids that differ.\n\n")), GAP_HELP)   # parts, translated apart

    PERIODS = "PERIODS"
    ID_FIELD = "ID_FIELD"
    LABELS = "LABELS"
    AREAS = "AREAS"
    AREA_NAME_FIELD = "AREA_NAME_FIELD"
    OUTPUT = "OUTPUT"
    GAPS = "GAPS"

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.PERIODS, self.tr("Index layers, oldest first"), ProcessingSourceType.VectorAnyGeometry))
        self.addParameter(QgsProcessingParameterString(
            self.ID_FIELD, self.tr("Zone id field"), defaultValue=model.Compare.key("id_field").default))
        self.addParameter(QgsProcessingParameterString(
            self.LABELS, self.tr("Period labels (comma-separated, e.g. 2023,2024)"), optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.AREAS, self.tr("Areas for the gap"), [ProcessingSourceType.VectorPolygon],
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.AREA_NAME_FIELD, self.tr("Area name field"), parentLayerParameterName=self.AREAS,
            optional=True))
        add_gap_parameters(self)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.OUTPUT, self.tr("Change per zone"), ProcessingSourceType.VectorAnyGeometry))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.GAPS, self.tr("Gap per period"), ProcessingSourceType.Vector))
        self.addOutput(QgsProcessingOutputString(
            "TREND_NOTE", self.tr("Whether a trend can be significant with these periods")))
        self.addOutput(QgsProcessingOutputNumber(
            "TREND_TESTABLE", self.tr("1 when a Mann-Kendall trend can be significant, else 0")))

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
    def processAlgorithm(self, parameters, context, feedback):
        layers = self.parameterAsLayerList(parameters, self.PERIODS, context)
        id_field = self.parameterAsString(parameters, self.ID_FIELD, context) or "cell_id"
        labels_text = self.parameterAsString(parameters, self.LABELS, context)
        areas = self.parameterAsSource(parameters, self.AREAS, context)
        name_field = self.parameterAsString(parameters, self.AREA_NAME_FIELD, context)
        gap = gap_from_parameters(self, parameters, context)
        layers = [lay for lay in layers if lay is not None]
        if len(layers) < 2:
            raise QgsProcessingException("Compare periods needs at least two index layers "
                                         "(oldest first).")
        not_vector = [lay.name() for lay in layers if not isinstance(lay, QgsVectorLayer)]
        if not_vector:
            raise QgsProcessingException(f"These periods are not vector layers: "
                                         f"{', '.join(not_vector)}.")
        given = [x.strip() for x in labels_text.split(",")] if labels_text.strip() else None
        safe = self.run_core(cp.period_labels, len(layers), given)   # checked: one each, distinct
        labels = given or safe   # as written (compare_periods makes field names of them)

        frames = []
        for k, (layer, label) in enumerate(zip(layers, labels)):
            names = [f.name() for f in layer.fields()]
            if id_field not in names:
                raise QgsProcessingException(
                    f"Period '{label}' (layer '{layer.name()}') has no zone id field "
                    f"'{id_field}'. Fields that exist: {', '.join(names)}.")
            if "ci_score" not in names:
                raise QgsProcessingException(
                    f"Period '{label}' (layer '{layer.name()}') has no ci_score field: use the "
                    "output of the index for each period.")
            wanted = [id_field] + [f for f in OPTIONAL_FIELDS if f in names and f != id_field]
            frames.append(layer_dataframe(layer, wanted, layer=layer))
            feedback.setProgress(20.0 * (k + 1) / len(layers))
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled by the user.")

        grids = [grid_signature(f) for f in frames]
        if all(g is not None for g in grids) and len(set(grids)) > 1:
            detail = "; ".join(f"{lab}: shape {g[0]}, size {g[1]}, origin {g[2]}, {g[3]}"
                               for lab, g in zip(labels, grids))
            raise QgsProcessingException(
                f"The periods are on different grids ({detail}). Build every period on the same "
                "grid (same shape, cell size and origin) to compare them zone by zone.")
        baseline = shared_baseline(frames)
        if baseline is not None:
            feedback.pushInfo(f"Every period was scaled with the frozen baseline {baseline}: "
                              "scores are comparable.")

        area_names, overlaps = [], None
        if areas is not None:
            first = layers[0]
            area_names, area_geoms, _ = read_areas(areas, name_field, first.sourceCrs(), context,
                                                   feedback)
            overlaps, _ = zone_overlaps(first, area_geoms, context, None,
                                        frames[0]["__fid"].to_numpy())
            if len(overlaps) == 0:
                raise no_overlap_error(first, areas)

        feedback.setProgressText(self.tr("Comparing"))
        progress = progress_from_feedback(feedback, 30.0, 80.0)
        result = self.run_core(cp.compare_periods, frames, id_field, labels,
                               comparable=baseline is not None, area_names=area_names,
                               overlaps=overlaps, gap=gap, progress=progress)
        push_messages(feedback, result.messages)
        for warning in result.warnings:
            feedback.pushWarning(warning)
        trend = result.trend
        zones = result.zones
        if "emerging" in zones.columns:
            counts = zones["emerging"].value_counts()
            absent = "" if trend.testable else (
                f" ('intensifying' and 'diminishing' cannot occur with {trend.periods} periods: "
                f"a trend needs at least {trend.min_periods})")
            feedback.pushInfo("Emerging hot spot categories: " + ", ".join(
                f"{k} {v}" for k, v in counts.items()) + absent)
        if "hotspot_transition" in zones.columns:
            counts = zones["hotspot_transition"].replace("", np.nan).dropna().value_counts()
            if len(counts):
                feedback.pushInfo("Hotspot transitions: " + ", ".join(
                    f"{k} {v}" for k, v in counts.items()))

        # write onto the last period's features, in that layer's order
        last = layers[-1]
        last_keys = cp.zone_keys(frames[-1][id_field])
        pos = pd.Index(zones[id_field]).get_indexer(last_keys)
        columns = zones.iloc[pos].reset_index(drop=True).drop(columns=[id_field])
        dest = write_with_columns(self, parameters, context, last, columns, self.OUTPUT,
                                  feedback=None, source_layer=last,
                                  fids=frames[-1]["__fid"].to_numpy())
        gaps_dest = write_table(self, parameters, self.GAPS, context, result.gaps)
        feedback.setProgress(100)
        self.style(context, dest, "change_diverging", feedback=feedback)
        return {self.OUTPUT: dest, self.GAPS: gaps_dest, "TREND_NOTE": trend.note,
                "TREND_TESTABLE": int(trend.testable)}


ALGORITHMS = [ComparePeriodsAlgorithm]
