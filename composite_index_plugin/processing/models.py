"""The Graphical Modeler models shipped with the plugin (``resources/models/*.model3``).

The provider adds them to the Processing toolbox beside the algorithms (group "Models"), so an
analyst can run them, use them in batch mode, and open them in the Graphical Modeler to see or
edit every step (right click > Edit Model; "Save as" keeps an edited copy in the user's own
models folder, the shipped file is never changed).

A model's id is its file name without ``.model3`` (``compositeindex:oneissue``: no spaces, so it
is easy to type in ``qgis_process`` and scripts); its display name is the name saved in the
model ("Composite index for one issue (victims, offenders, locations)").

``scripts/build_model.py`` writes the models with the QGIS API.
"""
import glob
import os

from qgis.core import Qgis, QgsMessageLog, QgsProcessingModelAlgorithm

from composite_index_plugin.paths import resource_path


def model_files():
    """Paths of the shipped ``.model3`` files, sorted."""
    return sorted(glob.glob(os.path.join(resource_path("models"), "*.model3")))


def model_id(path):
    """The id (name) of the model in ``path``: its file name without the extension."""
    return os.path.splitext(os.path.basename(path))[0]


class ShippedModel(QgsProcessingModelAlgorithm):
    """A shipped model, named by its file (the id) and shown by the name saved in it."""

    def __init__(self, path=None, name=""):
        super().__init__()
        self._path = path
        self._name = name
        if path:
            self.ok = self.fromFile(path)
            self.setSourceFilePath(path)

    def name(self):
        return self._name or super().name()

    def createInstance(self):
        return ShippedModel(self._path, self._name)


def load_model(path):
    """A ``ShippedModel`` read from ``path``, or None (logged) if it cannot be read."""
    model = ShippedModel(path, model_id(path))
    if not model.ok:
        QgsMessageLog.logMessage(f"Composite Index: the model {path} cannot be read; skipped.",
                                 "Composite Index", Qgis.MessageLevel.Warning)
        return None
    return model


def model_algorithms():
    """Every shipped model as an algorithm instance, ready for ``provider.addAlgorithm``.

    The models' child steps are this provider's own algorithms; they are looked up by id each
    time a model runs, so it does not matter that they are registered in the same pass.
    """
    return [m for m in (load_model(p) for p in model_files()) if m is not None]
