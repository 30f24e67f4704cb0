"""The Graphical Modeler models shipped with the plugin (``resources/models/*.model3``).

The provider adds them to the Processing toolbox beside the algorithms (group "Models"), so an
analyst can run them, use them in batch mode, and open them in the Graphical Modeler to see or
edit every step (right click > Edit Model; "Save as" keeps an edited copy in the user's own
models folder, the shipped file is never changed).

``scripts/build_model.py`` writes the models with the QGIS API.
"""
import glob
import os

from qgis.core import Qgis, QgsMessageLog, QgsProcessingModelAlgorithm

from composite_index_plugin.paths import resource_path


def model_files():
    """Paths of the shipped ``.model3`` files, sorted."""
    return sorted(glob.glob(os.path.join(resource_path("models"), "*.model3")))


def load_model(path):
    """A ``QgsProcessingModelAlgorithm`` read from ``path``, or None (logged) if it cannot be read."""
    model = QgsProcessingModelAlgorithm()
    if not model.fromFile(path):
        QgsMessageLog.logMessage(f"Composite Index: the model {path} cannot be read; skipped.",
                                 "Composite Index", Qgis.MessageLevel.Warning)
        return None
    model.setSourceFilePath(path)
    return model


def model_algorithms():
    """Every shipped model as an algorithm instance, ready for ``provider.addAlgorithm``.

    The models' child steps are this provider's own algorithms; they are looked up by id each
    time a model runs, so it does not matter that they are registered in the same pass.
    """
    return [m for m in (load_model(p) for p in model_files()) if m is not None]
