"""The plugin loads and unloads cleanly in QGIS (classFactory -> initProcessing/initGui -> unload)."""
from unittest import mock

from qgis.core import QgsApplication

from composite_index_plugin import classFactory
from composite_index_plugin.paths import metadata


def test_metadata_is_complete():
    meta = metadata()
    for key in ("name", "qgisminimumversion", "description", "about", "version", "author", "email",
                "repository", "tracker", "homepage", "tags", "category", "icon",
                "hasprocessingprovider", "license", "changelog"):
        assert meta.get(key), f"metadata.txt lacks {key}"
    assert meta["qgisminimumversion"] == "3.22"
    assert meta.get("supportsqt6") == "True"  # QGIS 4 lists only plugins that declare it
    assert meta["hasprocessingprovider"] == "yes"


def test_load_and_unload(qgis_iface, qgis_processing, restore_provider):
    registry = QgsApplication.processingRegistry()
    before = registry.providerById("compositeindex")
    if before is not None:  # registered by another test's fixture
        registry.removeProvider(before)
    plugin = classFactory(qgis_iface)
    plugin.initProcessing()
    plugin.initProcessing()  # qgis_process may call it again: must not register twice
    plugin.initGui()
    provider = registry.providerById("compositeindex")
    assert provider is not None
    assert provider.name() == "Composite Index"
    assert registry.algorithmById("compositeindex:runrecipe") is not None
    assert len(plugin.actions) >= 1
    # The pytest-qgis iface stub has no removePluginMenu.
    qgis_iface.removePluginMenu = mock.MagicMock()
    plugin.unload()
    assert registry.providerById("compositeindex") is None
    assert plugin.actions == []
    assert qgis_iface.removePluginMenu.call_count >= 1
