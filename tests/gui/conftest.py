"""Fixtures of the Builder's tests: one Builder dock on an empty project, closed after.
(QGIS is imported inside the fixture: the Builder's model tests run without QGIS or Qt.)"""
import pytest


@pytest.fixture
def dock(qgis_iface):
    from qgis.core import QgsProject
    from qgis.PyQt.QtCore import QCoreApplication

    from composite_index_plugin.gui.builder_dock import BuilderDock

    QgsProject.instance().clear()
    qgis_iface.messageBar().clear_messages()
    widget = BuilderDock(qgis_iface)
    widget.show()
    yield widget
    widget.disconnect_project()
    widget.hide()
    widget.deleteLater()
    QgsProject.instance().clear()
    QCoreApplication.processEvents()
