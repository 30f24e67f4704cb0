"""Shared base class and helpers for the Composite Index Processing algorithms."""
import os

from qgis.core import QgsProcessingAlgorithm, QgsProcessingException
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from composite_index_plugin.core.errors import CompositeIndexError, Progress
from composite_index_plugin.paths import resource_path


def tr(text, context="CompositeIndex"):
    return QCoreApplication.translate(context, text)


def progress_from_feedback(feedback, start=0.0, end=100.0):
    """A core ``Progress`` that reports to a QgsProcessingFeedback (percent) and its cancel flag."""
    if feedback is None:
        return Progress()
    return Progress(
        on_progress=lambda f: feedback.setProgress(start + (end - start) * f),
        is_cancelled=feedback.isCanceled,
        on_info=feedback.pushInfo,
    )


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
    DISPLAY_NAME = ""

    GROUP = ""
    GROUP_ID = ""
    HELP = ""

    def tr(self, text):
        return tr(text)

    def createInstance(self):
        return type(self)()

    def name(self):
        return self.NAME

    def displayName(self):
        return self.tr(self.DISPLAY_NAME)

    def group(self):
        return self.tr(self.GROUP) if self.GROUP else ""

    def groupId(self):
        return self.GROUP_ID

    def shortHelpString(self):
        return self.tr(self.HELP)

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
