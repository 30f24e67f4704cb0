"""Composite Index QGIS plugin."""


def classFactory(iface):
    """Entry point QGIS calls when it loads the plugin."""
    from composite_index_plugin.plugin import CompositeIndexPlugin

    return CompositeIndexPlugin(iface)
