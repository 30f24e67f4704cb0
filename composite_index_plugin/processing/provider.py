"""The Composite Index Processing provider (id ``compositeindex``)."""
import importlib
import pkgutil

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from composite_index_plugin.paths import resource_path, version

PROVIDER_ID = "compositeindex"


def algorithm_classes():
    """Every algorithm class listed in an ``ALGORITHMS`` list of a module of ``algorithms``."""
    from composite_index_plugin.processing import algorithms

    classes = []
    for info in sorted(pkgutil.iter_modules(algorithms.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{algorithms.__name__}.{info.name}")
        classes.extend(getattr(module, "ALGORITHMS", []))
    return classes


class CompositeIndexProvider(QgsProcessingProvider):
    def id(self):
        return PROVIDER_ID

    def name(self):
        return "Composite Index"

    def longName(self):
        return f"Composite Index {version()}"

    def icon(self):
        return QIcon(resource_path("icons", "icon.svg"))

    def svgIconPath(self):
        return resource_path("icons", "icon.svg")

    def versionInfo(self):
        return version()

    def loadAlgorithms(self):
        for cls in algorithm_classes():
            self.addAlgorithm(cls())
        # The shipped Graphical Modeler models (resources/models/*.model3), editable in the Modeler.
        from composite_index_plugin.processing.models import model_algorithms

        for model in model_algorithms():
            self.addAlgorithm(model)
