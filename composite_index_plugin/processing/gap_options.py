"""The gap's options as toolbox parameters, shared by Summarise by area and Compare periods.

The words are ``core.vocab``'s, the keys, defaults and rules ``core.model.Gap`` (the recipe's
``gap`` section), read through ``core.assessment.parse_gap``.
"""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import assessment as ca
from composite_index_plugin.i18n import translated
from composite_index_plugin.qgis_compat import ProcessingNumberParameterType, ProcessingParameterFlag

# --------------------------------------------------------------------------------------------
GAP = "GAP"
GAP_PERCENT = "GAP_PERCENT"
GAP_WEIGHTING = "GAP_WEIGHTING"
GAP_MODE = "GAP_MODE"
GAP_HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
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
    "options."))


def add_gap_parameters(alg):
    """The gap's options as toolbox parameters (``core.assessment`` declares the words). They
    are optional with defaults, so models saved before them still validate."""
    alg.addParameter(QgsProcessingParameterNumber(
        GAP_PERCENT, alg.tr("Gap: top group, percent of the residents (or zones)"),
        ProcessingNumberParameterType.Double, 10.0, optional=True, minValue=0.001, maxValue=99.999))
    alg.addParameter(QgsProcessingParameterEnum(
        GAP_WEIGHTING, alg.tr("Gap: top group by"),
        [translated(t) for t in ca.GAP_WEIGHTING_TITLES],
        defaultValue=ca.GAP_WEIGHTING.index(ca.parse_gap(None)["weighting"]), optional=True))
    alg.addParameter(QgsProcessingParameterEnum(
        GAP_MODE, alg.tr("Gap over periods"), [translated(t) for t in ca.GAP_MODE_TITLES],
        defaultValue=ca.GAP_MODES.index(ca.parse_gap(None)["mode"]), optional=True))
    text = QgsProcessingParameterString(
        GAP, alg.tr("Gap definition as JSON (replaces the options above)"), optional=True,
        multiLine=False)
    text.setFlags(text.flags() | ProcessingParameterFlag.Advanced)
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
