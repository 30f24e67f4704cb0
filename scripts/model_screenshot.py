"""Screenshot of the shipped model in the Graphical Modeler: docs/images/modeler.png.

Runs inside the QGIS desktop (under Xvfb on a server), opened with ``--code``::

    xvfb-run -a -s "-screen 0 1600x1050x24" env -u QT_QPA_PLATFORM qgis --nologo \\
        --noversioncheck --profiles-path "$(mktemp -d)" --code scripts/model_screenshot.py

It registers the Composite Index provider from this repository, opens
resources/models/oneissue.model3 in the Modeler, saves the window as a PNG
(``CI_SHOT_OUT`` overrides the path) and quits QGIS.
"""
import os
import sys
import traceback

from qgis.core import QgsApplication, QgsProcessingModelAlgorithm
from qgis.PyQt.QtCore import QTimer

ROOT = os.environ.get("CI_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(
    globals().get("__file__", os.path.join(os.getcwd(), "scripts", "x.py")))))
OUT = os.environ.get("CI_SHOT_OUT", os.path.join(ROOT, "docs", "images", "modeler.png"))
_STATE = {}


def _log(text):
    sys.stderr.write(f"model_screenshot: {text}\n")


def _finish():
    try:
        image = _STATE["dialog"].grab()
        image.save(OUT)
        _log(f"saved {OUT} ({image.width()}x{image.height()})")
    except Exception:  # noqa: BLE001 - report and quit, never hang the desktop
        _log(traceback.format_exc())
    QgsApplication.exit(0)


def _open():
    try:
        if ROOT not in sys.path:
            sys.path.insert(0, ROOT)
        from composite_index_plugin.processing.provider import CompositeIndexProvider

        registry = QgsApplication.processingRegistry()
        if registry.providerById("compositeindex") is None:
            _STATE["provider"] = CompositeIndexProvider()
            registry.addProvider(_STATE["provider"])
        model = QgsProcessingModelAlgorithm()
        model.fromFile(os.path.join(ROOT, "resources", "models", "oneissue.model3"))
        from processing.modeler.ModelerDialog import ModelerDialog

        dialog = ModelerDialog.create(model)
        dialog.resize(1500, 1000)
        dialog.show()
        _STATE["dialog"] = dialog
        QTimer.singleShot(4000, _finish)
    except Exception:  # noqa: BLE001 - a script: log the traceback and exit 1
        _log(traceback.format_exc())
        QgsApplication.exit(1)


QTimer.singleShot(3000, _open)
