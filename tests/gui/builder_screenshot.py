"""Screenshot of the Builder dock over the demo map, in a real X window (Xvfb). Not a test.

    xvfb-run -a -s "-screen 0 1600x1000x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python tests/gui/builder_screenshot.py /tmp/shot docs/images/builder_dock.png

Makes the default-size synthetic sample, opens its 2024 recipe in the dock, runs it (the styled
results land in the map), selects the victims of the first issue and grabs the window. Also
writes ``<name>_geo.png`` and ``<name>_run.png`` (the other tabs) next to it, for checking.
"""
import json
import os
import shutil
import sys
import time
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.append("/usr/share/qgis/python/plugins")


def settle(app, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.05)


def main(work, png):
    from qgis.core import QgsApplication, QgsProject

    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing
    from qgis.gui import QgsLayerTreeMapCanvasBridge, QgsMapCanvas, QgsMessageBar
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtGui import QColor
    from qgis.PyQt.QtWidgets import QMainWindow, QVBoxLayout, QWidget

    from composite_index_plugin.gui.builder_dock import BuilderDock
    from composite_index_plugin.paths import resource_path
    from composite_index_plugin.processing.provider import CompositeIndexProvider
    from composite_index_plugin.processing.sample_io import make_sample
    from composite_index_plugin.processing.sample_recipe import sample_recipe

    Processing.initialize()
    provider = CompositeIndexProvider()
    QgsApplication.processingRegistry().addProvider(provider)

    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    shutil.copy(resource_path("sample", "birmingham.gpkg"), work)
    make_sample(os.path.join(work, "synthetic"), size="default", years=(2024,))
    recipe = sample_recipe(2024, os.path.join(work, "output"), use_csv=False)
    recipe["name"] = "Birmingham strategic assessment 2024"
    with open(os.path.join(work, "recipe.json"), "w", encoding="utf-8") as handle:
        json.dump(recipe, handle, indent=1)

    window = QMainWindow()
    window.setWindowTitle("QGIS – Composite Index demo")
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(0, 0, 0, 0)
    bar = QgsMessageBar()
    layout.addWidget(bar)
    canvas = QgsMapCanvas()
    canvas.setCanvasColor(QColor("white"))
    layout.addWidget(canvas)
    window.setCentralWidget(central)
    bridge = QgsLayerTreeMapCanvasBridge(QgsProject.instance().layerTreeRoot(), canvas)
    iface = mock.MagicMock()
    iface.messageBar.return_value = bar
    iface.mapCanvas.return_value = canvas
    iface.mainWindow.return_value = window
    dock = BuilderDock(iface, window)
    window.addDockWidget(Qt.RightDockWidgetArea, dock)
    window.resize(1500, 980)
    window.show()
    settle(app, 0.5)
    assert dock.load(os.path.join(work, "recipe.json"))
    started = time.monotonic()
    ok = dock.run()
    print(f"run ok={ok} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    if not ok:
        print(dock.last_log[-3000:], file=sys.stderr)
        return 1
    root = QgsProject.instance().layerTreeRoot()
    for node in root.findLayers():
        if node.parent() is root:          # the input layers: hidden, the results show
            node.setItemVisibilityChecked(False)
    group = root.children()[0]
    index = next(n.layer() for n in group.findLayers()
                 if n.layer().name() == "Composite index (deciles)")
    canvas.setExtent(index.extent())
    theme = dock.tree.topLevelItem(0)
    issue = theme.child(0)
    dock.tree.collapseAll()
    theme.setExpanded(True)
    issue.setExpanded(True)
    dock.tree.setCurrentItem(issue.child(0))
    dock.tabs.setCurrentWidget(dock.indicatorsTab)
    settle(app, 1.5)
    canvas.refreshAllLayers()
    settle(app, 3.0)
    app.primaryScreen().grabWindow(window.winId()).save(png)
    for name, tab in (("geo", dock.geographyTab), ("run", dock.runTab)):
        dock.tabs.setCurrentWidget(tab)
        settle(app, 0.3)
        app.primaryScreen().grabWindow(window.winId()).save(png.replace(".png", f"_{name}.png"))
    del bridge
    print(f"saved {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1], sys.argv[2])
    sys.stderr.flush()
    os._exit(code)   # skip Qt/QGIS teardown, which can crash after a grab
