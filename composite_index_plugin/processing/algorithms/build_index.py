"""compositeindex:buildindex - build the composite index on a zone layer.

Thin glue: reads the spec (JSON text or a .json file; or, for analysts without one, a list of
numeric fields with one scaling and one aggregation), the zone attributes, and when the spec
needs them the zones' areas and neighbours; the maths is ``core.index.build_index``. Writes the
zone layer with the index fields, an optional diagnostics table, an HTML report and the frozen
baseline JSON.
"""
import json

import numpy as np
import pandas as pd
from qgis.core import (
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsFields,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import index as engine
from composite_index_plugin.core import model, vocab
from composite_index_plugin.i18n import translated
from composite_index_plugin.processing.base import (
    CompositeIndexAlgorithm,
    progress_from_feedback,
    table_sink_closing,
)
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.io_table import (
    NUMERIC_TYPES,
    fields_with_columns,
    input_layer,
    layer_dataframe,
    python_value,
    write_with_columns,
)
from composite_index_plugin.processing.spec_io import read_spec
from composite_index_plugin.processing.zones import (
    zone_areas,
    zone_label_field,
    zone_neighbours,
)
from composite_index_plugin.qgis_compat import (
    FeatureRequestFlag,
    ProcessingFieldParameterDataType,
    ProcessingParameterFlag,
    ProcessingSourceType,
    WkbType,
    parameter_as_fields,
)

# Toolbox mode: scalings that need no extra numbers, and every aggregation; the defaults are
# the model's (a recipe's), so the same choices give the same index.
TOOLBOX_SCALINGS = vocab.TOOLBOX_SCALINGS
TOOLBOX_AGGREGATIONS = vocab.AGGREGATIONS
DEFAULT_SCALING = model.Measurement.key("scaling").default
DEFAULT_AGGREGATION = model.Aggregation.key("issue").default

HELP = QT_TRANSLATE_NOOP("CompositeIndex", """\
Builds a composite index of need on a zone layer (grid cells, LSOAs, wards...).

<b>Index spec</b>: JSON text, or the path of a .json file, with themes -> issues -> indicators
(or a recipe, or a recipe's themes: their roles read the counts the aggregation wrote,
&lt;issue&gt;_&lt;role&gt;). Each indicator chooses its field, a measure (value, volume, rate,
eb_rate, eb_rate_spatial, location_quotient, density, clustering; default volume), a scaling
(zscore, minmax, minmax_fixed, zscore_fixed, percentile, rank, exponential, threshold, raw;
default zscore), a direction (higher_is_worse / lower_is_worse), a weight and a missing-data
policy (exclude, zero, mean; default zero). Each level combines its children by mean, sum,
geometric or imd (default mean). The defaults are a recipe's: the same choices give the same
index. Every problem in the spec is listed with its place in the JSON (docs/recipe.md).

<b>Without a spec</b>: choose numeric FIELDS, one SCALING and one AGGREGATION: each field becomes
an indicator of one issue, taken as it is (measure value); a zone with an empty field is left
out of the index (missing exclude).

<b>Outputs</b>: every scaled indicator (&lt;issue&gt;_&lt;indicator&gt;_s), each issue and theme
sub-index (&lt;name&gt;_idx), ci_score, ci_rank, ci_decile and ci_quintile (1 = highest need),
top_theme, top_issue (the largest contribution; empty in a zone without any recorded incident,
ci_no_incidents = 1) and each theme's share (&lt;theme&gt;_pct). Zones with a zero denominator
are flagged (_zd): a crude rate, location quotient or density is then undefined and the
indicator's missing policy applies; an empirical Bayes rate takes the prior mean. Zones left out
for missing data have ci_excluded = 1 and empty index fields. <b>Fields to write</b> (advanced):
"results only" leaves out each indicator's own fields (_s, _m, _zd, _pooled) and keeps the
scores, ranks, classes, sub-indices and top theme and issue: 36 columns instead of 120 for 30
indicators on a grid (the log and the report still count the flagged zones).

<b>Small numbers</b>: a rate on a few residents is noise, so an indicator's
<i>min_denominator</i> (default 50 for rates, 0 = off) pools zones with fewer: a crude rate
takes the study-area rate, an empirical Bayes rate the prior mean (flagged in _pooled, counted
in the log and the report). The spatial EB rate's local prior is anchored to the study-area rate
(<i>anchor</i> "global"; "none" = as GeoDa). Zones more than <i>z_warning</i> (spec key, default
10) standard deviations from an indicator's mean are named in the log and the report.
<b>Ties</b>: tied zones share one decile, that of the last of them, so deciles 1..d never hold
more than d tenths of the zones. Zones with no recorded incident in any count indicator
(ci_no_incidents = 1) rank below all others, in the lowest-need class (spec "no_incidents":
"lowest"; "score" ranks them by their score).
The report shows correlations, Cronbach's alpha and effective weights. The baseline JSON keeps
the fitted scales, so next year's index can be put on this year's scale (BASELINE_IN).""")


def baseline_id(baseline):
    """A short stable id of a baseline's content (the same after a JSON round trip)."""
    import hashlib

    text = json.dumps(baseline, sort_keys=True, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def read_baseline(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as err:
        raise QgsProcessingException(f"Could not read the baseline file {path}: {err}.") from err
    except RecursionError as err:
        raise QgsProcessingException(f"The baseline file {path} is nested too deeply to read: it "
                                     "is not a baseline written by this plugin.") from err
    except json.JSONDecodeError as err:
        raise QgsProcessingException(
            f"The baseline file {path} is not valid JSON ({err.msg} at line {err.lineno}). "
            "Use the BASELINE_OUT file of an earlier run.") from err


FAR_WORDS = "standard deviations from"       # the far-zone messages of core.index
WARNING_WORDS = ("left out", "zero denominator", "pooled", FAR_WORDS)
MAX_FAR_WARNINGS = 3


def is_warning(message):
    """Whether an index message is a warning (zones left out, zero denominators, pooled rates,
    zones far from the mean: this period's, the baseline's or fixed) or information."""
    return any(word in message for word in WARNING_WORDS)


def log_levels(messages, indicators, bound=None):
    """``(text, is_warning)`` for the log, in order. More than ``MAX_FAR_WARNINGS`` indicators
    with far zones (``indicators``: the diagnostics table, ``n_extreme`` per indicator; on
    sparse counts a single incident in a cell is 20-50 SDs out, and a month of West Yorkshire's
    crimes gave 13 warnings in a row) make one warning naming them, before the messages
    themselves, which then go in as information (also in the index report)."""
    far = indicators[indicators["n_extreme"] > 0]
    grouped = len(far) > MAX_FAR_WARNINGS
    out = []
    if grouped:
        names = [f"{r.issue} / {r.indicator}" for r in far.itertuples()]
        limit = f" more than {bound:g} standard deviations" if bound else " far"
        out.append((f"{len(far)} indicators have zones{limit} from their mean ("
                    + ", ".join(names) + "): such zones dominate a z-score, min-max or raw "
                    "scale. Each is listed below with why it matters and what to do, and in the "
                    "index report.", True))
    for m in messages:
        out.append((m, is_warning(m) and not (grouped and FAR_WORDS in m)))
    return out


class BuildIndexAlgorithm(CompositeIndexAlgorithm):
    NAME = "buildindex"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Build composite index")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Composite index")
    GROUP_ID = "index"
    HELP = HELP

    INPUT = "INPUT"
    SPEC = "SPEC"
    FIELDS = "FIELDS"
    SCALING = "SCALING"
    AGGREGATION = "AGGREGATION"
    BASELINE_IN = "BASELINE_IN"
    BASELINE_OUT = "BASELINE_OUT"
    REPORT = "REPORT"
    DIAGNOSTICS = "DIAGNOSTICS"
    OUTPUT_FIELDS = "OUTPUT_FIELDS"
    OUTPUT = "OUTPUT"
    FIELD_CHOICES = (QT_TRANSLATE_NOOP("CompositeIndex", "Everything (each indicator's scaled and "
                                       "measured value and flags too)"),
                     QT_TRANSLATE_NOOP("CompositeIndex", "Results only (scores, ranks, classes, "
                                       "sub-indices, top theme and issue)"))

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.INPUT, self.tr("Zone layer"), [ProcessingSourceType.Vector]))
        self.addParameter(QgsProcessingParameterString(
            self.SPEC, self.tr("Index spec (JSON text or path of a .json file)"), multiLine=True,
            optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.FIELDS, self.tr("Without a spec: indicator fields"), parentLayerParameterName=self.INPUT,
            type=ProcessingFieldParameterDataType.Numeric, allowMultiple=True, optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.SCALING, self.tr("Without a spec: scaling"), options=list(TOOLBOX_SCALINGS),
            defaultValue=TOOLBOX_SCALINGS.index(DEFAULT_SCALING)))
        self.addParameter(QgsProcessingParameterEnum(
            self.AGGREGATION, self.tr("Without a spec: aggregation"), options=list(TOOLBOX_AGGREGATIONS),
            defaultValue=TOOLBOX_AGGREGATIONS.index(DEFAULT_AGGREGATION)))
        self.addParameter(QgsProcessingParameterFile(
            self.BASELINE_IN, self.tr("Frozen baseline to scale on (JSON)"), extension="json",
            optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.BASELINE_OUT, self.tr("Baseline of this run (JSON)"), "JSON files (*.json)",
            optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.REPORT, self.tr("Report"), "HTML files (*.html)", optional=True,
            createByDefault=False))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.DIAGNOSTICS, self.tr("Indicator diagnostics"), ProcessingSourceType.Vector,
            optional=True, createByDefault=False))
        detail = QgsProcessingParameterEnum(
            self.OUTPUT_FIELDS, self.tr("Fields to write"), [translated(c) for c in self.FIELD_CHOICES],
            defaultValue=0, optional=True)   # optional: models saved before it still validate
        detail.setFlags(detail.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(detail)
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, self.tr("Composite index")))
        self.addOutput(QgsProcessingOutputNumber("ZONES_IN_INDEX", self.tr("Zones in the index")))
        self.addOutput(QgsProcessingOutputNumber("ZONES_EXCLUDED", self.tr("Zones left out")))

    def checkParameterValues(self, parameters, context):
        spec = self.parameterAsString(parameters, self.SPEC, context)
        fields = parameter_as_fields(self, parameters, self.FIELDS, context)
        if not (spec or "").strip() and not fields:
            return False, self.tr("Give an index spec (SPEC), or choose indicator FIELDS.")
        return super().checkParameterValues(parameters, context)

    def spec_from_parameters(self, parameters, context, feedback, columns):
        """The typed spec (``model.IndexSpec``), checked once against the layer's fields."""
        text = self.parameterAsString(parameters, self.SPEC, context)
        fields = parameter_as_fields(self, parameters, self.FIELDS, context)
        if (text or "").strip():
            if fields:
                feedback.pushInfo("A spec was given, so FIELDS, SCALING and AGGREGATION are ignored.")
            return read_spec(text, columns)
        if not fields:
            raise QgsProcessingException("Give an index spec (SPEC), or choose indicator FIELDS.")
        scaling = TOOLBOX_SCALINGS[self.parameterAsEnum(parameters, self.SCALING, context)]
        aggregation = TOOLBOX_AGGREGATIONS[self.parameterAsEnum(parameters, self.AGGREGATION, context)]
        doc = engine.simple_spec(fields, scaling=scaling, aggregation=aggregation)
        spec, problems = model.parse_spec(doc)
        problems += model.check_columns(spec, columns) if spec is not None else []
        if problems:
            raise QgsProcessingException("The indicator fields have problem(s):\n"
                                         + "\n".join(f"- {p}" for p in problems))
        return spec

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
    def processAlgorithm(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        kinds = {f.name(): (True if f.type() in NUMERIC_TYPES else None) for f in source.fields()}
        spec = self.spec_from_parameters(parameters, context, feedback, kinds)
        wanted = spec.fields_read()
        label_field = zone_label_field(source.fields())
        feedback.setProgressText(self.tr("Reading the zones"))
        layer = input_layer(self, parameters, self.INPUT, context)
        frame = layer_dataframe(source, fields=wanted, feedback=feedback, layer=layer)
        if feedback.isCanceled():
            return {}
        fids = frame.pop("__fid").to_numpy()
        # the zones' names are read for the few zones a message names, not for every zone
        zone_ids = names_when_asked(source, label_field, fids)
        want_areas, want_neighbours = spec.needs()
        areas = zone_areas(source, context, fids) if want_areas else None
        neighbours = zone_neighbours(source, spec, fids, feedback) if want_neighbours else None
        baseline = None
        baseline_path = self.parameterAsFile(parameters, self.BASELINE_IN, context)
        if baseline_path:
            baseline = read_baseline(baseline_path)
        feedback.setProgressText(self.tr("Building the index"))
        result = self.run_core(engine.build_index, frame, spec, baseline=baseline,
                               neighbours=neighbours, zone_area=areas,
                               progress=progress_from_feedback(feedback, 10, 80), zone_ids=zone_ids)
        summary = result.diagnostics["summary"]
        for text, warn in log_levels(result.messages, result.diagnostics["indicators"],
                                     summary.get("z_warning")):
            (feedback.pushWarning if warn else feedback.pushInfo)(text)
        feedback.pushInfo(f"Index built: {summary['zones_in_index']:,} of {summary['zones']:,} zones, "
                          f"{summary['indicators']} indicators, {summary['issues']} issues, "
                          f"{summary['themes']} themes (spec fingerprint {result.fingerprint}).")

        feedback.setProgressText(self.tr("Writing the index layer"))
        table = result.table.copy(deep=False)   # new columns below replace, never write into
        for column in ("ci_rank", "ci_decile", "ci_quintile"):  # integers, NULL where excluded
            if column in table.columns:
                table[column] = nullable_integers(table[column])
        # Which scale the scores are on: the id of the frozen baseline read, or of the one this
        # run fitted (and writes to BASELINE_OUT). Compare periods trusts score changes only
        # between layers with the same id.
        table["ci_baseline"] = baseline_id(baseline if baseline is not None else result.baseline)
        only = None
        if self.parameterAsEnum(parameters, self.OUTPUT_FIELDS, context) == 1:   # results only
            left_out = set(spec.indicator_fields())
            only = [c for c in table.columns if c not in left_out]
        dest_id = write_with_columns(
            self, parameters, context, source, table, key=self.OUTPUT, feedback=feedback,
            source_layer=layer, fids=fids, only=only)
        outputs = {self.OUTPUT: dest_id, "ZONES_IN_INDEX": summary["zones_in_index"],
                   "ZONES_EXCLUDED": summary["zones_excluded"]}
        try:
            from composite_index_plugin.processing import styling

            styling.style_output(self, context, dest_id, "index_deciles")
        except ImportError:
            pass

        diagnostics_table = self.diagnostics_table(result)
        diag_fields = fields_with_columns(QgsFields(), diagnostics_table)
        sink, diag_id = self.parameterAsSink(parameters, self.DIAGNOSTICS, context, diag_fields,
                                             WkbType.NoGeometry, source.sourceCrs())
        if sink is not None:
            for row in diagnostics_table.itertuples(index=False):
                feature = QgsFeature(diag_fields)
                feature.setAttributes([None if (isinstance(v, float) and v != v) else
                                       (v.item() if hasattr(v, "item") else v) for v in row])
                sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
            with table_sink_closing(sink):
                del sink
            outputs[self.DIAGNOSTICS] = diag_id

        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            with open(report, "w", encoding="utf-8") as handle:
                handle.write(result.report_html())
            outputs[self.REPORT] = report
        baseline_out = self.parameterAsFileOutput(parameters, self.BASELINE_OUT, context)
        if baseline_out:
            with open(baseline_out, "w", encoding="utf-8") as handle:
                json.dump(result.baseline, handle, indent=1)
            outputs[self.BASELINE_OUT] = baseline_out
        feedback.setProgress(100)
        return outputs

    @staticmethod
    def diagnostics_table(result):
        """One row per indicator: the diagnostics plus its correlation with every indicator."""
        table = result.diagnostics["indicators"].copy()
        corr = result.diagnostics["correlation"]
        for key in corr.columns:
            table[f"r_{key}"] = corr[key].to_numpy()
        return table


def zone_names(labels, fids):
    """Each zone's name for messages: its label (``zone_label_field``; a list, None where it
    has none) as text, or "feature <fid>" where it has none or ``labels`` is None."""
    if labels is None:
        labels = [None] * len(fids)
    return [f"feature {int(fid)}" if value is None else str(value)
            for value, fid in zip(labels, np.asarray(fids).tolist())]


def names_when_asked(source, label_field, fids):
    """A function giving the names (``zone_names``) of the zones at some row positions of the
    frame whose feature ids are ``fids``, reading their ``label_field`` (None: no label, the
    feature ids name them) from ``source`` by feature id when asked. England and Wales' 6.9
    million cells: not reading every cell id as text lowers the stage's peak memory from 7.3 to
    6.8 GB (its time does not change beyond the noise)."""
    fids = np.asarray(fids)

    def names(rows):
        wanted = fids[np.asarray(rows, dtype=np.int64)]
        if not label_field or not len(wanted):
            return zone_names(None, wanted)
        at = source.fields().indexOf(label_field)
        request = QgsFeatureRequest().setFilterFids([int(f) for f in wanted.tolist()])
        request.setFlags(FeatureRequestFlag.NoGeometry).setSubsetOfAttributes([at])
        label = {f.id(): python_value(f.attributes()[at]) for f in source.getFeatures(request)}
        return zone_names([label.get(f) for f in wanted.tolist()], wanted)
    return names


def nullable_integers(series):
    """A float column of whole numbers (NaN where missing) as pandas ``Int64``, rounded, made
    from the values and a mask: ``astype("Int64")`` checks every value for NA one by one (6.9
    million zones: 0.8 s a column)."""
    values = series.to_numpy("float64")
    missing = np.isnan(values)
    whole = np.where(missing, 0.0, np.round(values)).astype(np.int64)
    return pd.Series(pd.arrays.IntegerArray(whole, missing), index=series.index)


ALGORITHMS = [BuildIndexAlgorithm]
