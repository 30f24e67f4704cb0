"""Shared base class and helpers for the Composite Index Processing algorithms."""
import contextlib
import math
import os
import re

from qgis.core import QgsProcessingAlgorithm, QgsProcessingException
from qgis.PyQt.QtGui import QIcon

from composite_index_plugin.core.errors import CompositeIndexError, Progress
from composite_index_plugin.i18n import tr, translated
from composite_index_plugin.paths import metadata, resource_path
from composite_index_plugin.qgis_compat import ProcessingFieldParameterDataType, ProcessingNumberParameterType

HELP_DOC = "algorithms.md"   # docs/algorithms.md: one section per algorithm, by display name


def heading_anchor(heading):
    """The anchor GitHub gives a Markdown heading: lowercase, punctuation dropped (letters,
    digits, '_', '-' and spaces kept), spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def docs_url(doc, heading=""):
    """Address of ``docs/<doc>`` (at ``#heading``) on the project's repository page
    (metadata.txt's ``homepage``, else ``repository``)."""
    info = metadata()
    home = (info.get("homepage") or info.get("repository") or "").rstrip("/")
    return f"{home}/blob/main/docs/{doc}" + (f"#{heading_anchor(heading)}" if heading else "")


def progress_from_feedback(feedback, start=0.0, end=100.0):
    """A core ``Progress`` that reports to a QgsProcessingFeedback (percent) and its cancel flag."""
    if feedback is None:
        return Progress()
    return Progress(
        on_progress=lambda f: feedback.setProgress(start + (end - start) * f),
        is_cancelled=feedback.isCanceled,
        on_info=feedback.pushInfo,
    )


@contextlib.contextmanager
def table_sink_closing(sink):
    """Close a sink of a table without geometry: ``with table_sink_closing(sink): del sink``.

    Why: behind every ``ogr:`` GeoPackage destination (the recipe runner writes its results into
    one GeoPackage that way) QGIS's QgsVectorLayerExporter asks the provider for a spatial index
    when the sink closes, even for a table without geometry (QGIS 3.22 to 3.44), and GDAL
    refuses on stderr with "ERROR 1: No geometry column". The table is complete and right;
    only that refusal is kept quiet. The rows are flushed first, outside the quiet window, so a
    real write error is still raised."""
    if sink is not None and not sink.flushBuffer():
        error = sink.lastError() if hasattr(sink, "lastError") else ""
        raise QgsProcessingException(f"Could not write the table: {error or 'write failed'}")
    del sink   # the caller's ``del`` must close it, inside the quiet window
    from osgeo import gdal

    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        yield
    finally:
        gdal.PopErrorHandler()


def raise_processing(error):
    """Turn a core error into the exception Processing shows the user."""
    raise QgsProcessingException(str(error)) from error


class CompositeIndexAlgorithm(QgsProcessingAlgorithm):
    """Base class: translation, icon, group and help. Subclasses keep no state between runs.

    Subclasses set ``NAME`` (lowercase letters only), ``DISPLAY_NAME``, ``GROUP``/``GROUP_ID`` and
    ``HELP``, and implement ``initAlgorithm`` and ``processAlgorithm``. An algorithm with layer
    inputs or outputs decorates its ``processAlgorithm`` with ``connections.guarded`` (PostGIS:
    speed warnings, a lost connection stops the run clearly, no half-written output table).
    """

    NAME = ""
    DISPLAY_NAME = ""   # these three marked QT_TRANSLATE_NOOP("CompositeIndex", ...) (see i18n)

    def __init_subclass__(cls, **kwargs):
        """Every algorithm's outputs are a transaction (``processing.transaction``): written
        aside, checked, and swapped in only when the run has finished."""
        super().__init_subclass__(**kwargs)
        if "processAlgorithm" in cls.__dict__:
            from composite_index_plugin.processing.transaction import transactional

            cls.processAlgorithm = transactional(cls.__dict__["processAlgorithm"])

    def parameterAsSink(self, parameters, name, context, fields, *args, **kwargs):
        """The sink of ``name``; fields a format cannot hold refused first, and every write
        counted and checked (``transaction.CountingSink``)."""
        from composite_index_plugin.processing import transaction

        value = parameters.get(name)
        text = transaction._plain_value(value, context) if value is not None else None
        if text:
            transaction.check_field_names(fields, text)
        sink, dest_id = super().parameterAsSink(parameters, name, context, fields, *args, **kwargs)
        tx = getattr(self, "_ci_transaction", None)
        if sink is None or tx is None:
            return sink, dest_id
        return transaction.CountingSink(sink, tx.record(name, dest_id)), dest_id

    def checkParameterValues(self, parameters, context):
        """Numbers first, each refused with its allowed range (QGIS says only "Incorrect
        parameter value"), then QGIS's own checks."""
        problem = number_problem(self, parameters) or field_problem(self, parameters, context)
        if problem:
            return False, problem
        return super().checkParameterValues(parameters, context)

    GROUP = ""
    GROUP_ID = ""
    HELP = ""

    tr = staticmethod(tr)   # self.tr("literal"): context CompositeIndex, as scripts/translations.py

    def createInstance(self):
        return type(self)()

    def name(self):
        return self.NAME

    def displayName(self):
        return translated(self.DISPLAY_NAME)

    def group(self):
        return translated(self.GROUP) if self.GROUP else ""

    def groupId(self):
        return self.GROUP_ID

    def shortHelpString(self):
        parts = self.HELP if isinstance(self.HELP, tuple) else (self.HELP,)
        return "".join(translated(part) for part in parts)

    def helpUrl(self):
        """Its section of docs/algorithms.md (written by scripts/gen_algorithm_docs.py)."""
        return docs_url(HELP_DOC, self.DISPLAY_NAME)

    def icon(self):
        return QIcon(resource_path("icons", "icon.svg"))

    def style(self, context, dest_id, style_name, field=None, feedback=None):
        """Style the output ``dest_id`` when Processing loads it (resources/styles/<name>.qml).
        Styling never fails a run: a problem is only reported."""
        try:
            from composite_index_plugin.processing.styling import style_output

            style_output(self, context, dest_id, style_name, field)
        except Exception as err:  # noqa: BLE001 - an unstyled layer beats a failed run
            if feedback is not None:
                feedback.reportError(f"Could not attach the {style_name} style: {err}", False)

    def run_core(self, func, *args, **kwargs):
        """Call a core function, turning its errors into QgsProcessingException."""
        try:
            return func(*args, **kwargs)
        except CompositeIndexError as error:
            raise_processing(error)


def output_is_file(path):
    return bool(path) and not path.startswith(("memory:", "postgres:", "ogr:", "TEMPORARY_OUTPUT")) \
        and os.path.splitext(path)[1] != ""


def _range_text(definition):
    lo, hi = definition.minimum(), definition.maximum()
    integer = definition.dataType() == ProcessingNumberParameterType.Integer
    fmt = (lambda v: f"{int(v):,}") if integer else (lambda v: f"{v:g}")
    if lo > -1e300 and hi < 1e300:
        return f"between {fmt(lo)} and {fmt(hi)}"
    if lo > -1e300:
        return f"at least {fmt(lo)}"
    if hi < 1e300:
        return f"at most {fmt(hi)}"
    return "a finite number"


def number_problem(alg, parameters):
    """The first number parameter of ``alg`` given a value it cannot take - not a number, not
    finite, outside its range, not whole for an integer - as a message with the allowed range;
    None when every number is fine."""
    from qgis.core import QgsProcessingParameterNumber, QgsProperty

    for definition in alg.parameterDefinitions():
        if not isinstance(definition, QgsProcessingParameterNumber):
            continue
        value = parameters.get(definition.name())
        if value is None or isinstance(value, QgsProperty) or \
                (isinstance(value, str) and not value.strip()):
            continue
        label = f"{definition.description()} ({definition.name()})"
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            return f"{label} must be a number, not {value!r}: give {_range_text(definition)}."
        if not math.isfinite(number):
            return f"{label} must be a finite number, not {value!r}: give {_range_text(definition)}."
        if definition.dataType() == ProcessingNumberParameterType.Integer and number != int(number):
            return f"{label} must be a whole number, not {value!r}: give {_range_text(definition)}."
        if number < definition.minimum() or number > definition.maximum():
            return f"{label} is {number:g}, out of range: give {_range_text(definition)}."
    return None


def field_problem(alg, parameters, context):
    """The first field parameter declared numeric that names a field which is not a number
    (QGIS does not check the type: a text field went on to a traceback), as a message; None
    when every such field is numeric (or cannot be looked at yet)."""
    from qgis.core import QgsProcessingParameterField

    for definition in alg.parameterDefinitions():
        if not isinstance(definition, QgsProcessingParameterField) or \
                definition.dataType() != ProcessingFieldParameterDataType.Numeric:
            continue
        value = parameters.get(definition.name())
        parent = definition.parentLayerParameterName()
        if not value or not parent or not parameters.get(parent):
            continue
        names = value if isinstance(value, (list, tuple)) else [value]
        try:
            source = alg.parameterAsSource(parameters, parent, context)
        except Exception:  # noqa: BLE001 - an unreadable layer is QGIS's own check to report
            source = None
        if source is None:
            continue
        fields = source.fields()
        for name in names:
            if not isinstance(name, str):
                continue
            index = fields.lookupField(name)
            if index >= 0 and not fields.at(index).isNumeric():
                return (f"{definition.description()} ({definition.name()}): the field '{name}' of "
                        f"'{source.sourceName()}' is a {fields.at(index).typeName() or 'text'} "
                        "field, not a number. Choose a numeric field (a count, rate or score), "
                        "or convert it with the field calculator.")
    return None
