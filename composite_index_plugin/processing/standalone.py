"""Start PyQGIS outside the QGIS desktop (scripts, the demo, benchmarks) with Processing and the
Composite Index provider registered."""
import os
import sys

_APP = None


def start_qgis(gui=True):
    """A QgsApplication with Processing initialised; safe to call twice."""
    global _APP
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    if _APP is None and QgsApplication.instance() is None:
        QgsApplication.setPrefixPath("/usr", True)
        _APP = QgsApplication([], gui)
        _APP.initQgis()
    for path in ("/usr/share/qgis/python/plugins",):
        if path not in sys.path and os.path.isdir(path):
            sys.path.append(path)
    from processing.core.Processing import Processing

    Processing.initialize()
    from composite_index_plugin.processing.provider import CompositeIndexProvider

    registry = QgsApplication.processingRegistry()
    if registry.providerById("compositeindex") is None:
        provider = CompositeIndexProvider()
        registry.addProvider(provider)
        start_qgis.provider = provider
    return QgsApplication.instance()
