"""The plugin object QGIS creates: registers the Processing provider, menu and toolbar."""
from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon

from composite_index_plugin import i18n
from composite_index_plugin.i18n import tr
from composite_index_plugin.paths import resource_path
from composite_index_plugin.processing.provider import CompositeIndexProvider
from composite_index_plugin.qgis_compat import QAction


class CompositeIndexPlugin:
    def __init__(self, iface):
        self.iface = iface
        # the catalogue for the QGIS locale (i18n/composite_index_<locale>.qm), before any text
        # is made: qgis_process creates the plugin too, so the toolbox names are translated there
        self.translator = i18n.install()
        self.menu = tr("&Composite Index")
        self.provider = None
        self.actions = []
        self.toolbar = None
        self.builder = None          # the Composite Index Builder dock, made on first use
        self.builder_action = None

    # qgis_process calls only this: no GUI code here, and safe to call twice.
    def initProcessing(self):
        if self.provider is not None:
            return
        self.provider = CompositeIndexProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):
        self.initProcessing()
        self.toolbar = self.iface.addToolBar(tr("Composite Index"))
        self.toolbar.setObjectName("CompositeIndexToolbar")
        builder_action = QAction(QIcon(resource_path("icons", "icon.svg")),
                                 tr("Composite Index Builder"), self.iface.mainWindow())
        builder_action.setObjectName("CompositeIndexBuilder")
        builder_action.setToolTip(tr("Open the Composite Index Builder: set up, check and run an "
                                     "assessment in one window"))
        builder_action.setCheckable(True)
        builder_action.triggered.connect(self.toggle_builder)
        self.builder_action = builder_action
        self._add_action(builder_action, toolbar=True)
        run_action = QAction(QIcon(resource_path("icons", "run_recipe.svg")),
                             tr("Run assessment from recipe…"), self.iface.mainWindow())
        run_action.setObjectName("CompositeIndexRunRecipe")
        run_action.setToolTip(tr("Run a whole assessment from a recipe file (the Processing "
                                 "dialog of compositeindex:runrecipe)"))
        run_action.triggered.connect(self.open_run_recipe)
        self._add_action(run_action, toolbar=True)

    def _add_action(self, action, toolbar=False):
        self.iface.addPluginToMenu(self.menu, action)
        if toolbar and self.toolbar is not None:
            self.toolbar.addAction(action)
        self.actions.append(action)

    def open_run_recipe(self):
        import processing

        processing.execAlgorithmDialog("compositeindex:runrecipe", {})

    def toggle_builder(self, checked=True):
        """Show or hide the Builder dock (created the first time)."""
        if self.builder is None:
            from qgis.PyQt.QtCore import Qt

            from composite_index_plugin.gui.builder_dock import BuilderDock

            self.builder = BuilderDock(self.iface, self.iface.mainWindow())
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.builder)
            self.builder.visibilityChanged.connect(self.builder_action.setChecked)
        self.builder.setVisible(bool(checked))
        if checked:
            self.builder.raise_()

    def unload(self):
        if self.builder is not None:
            self.builder.disconnect_project()
            self.iface.removeDockWidget(self.builder)
            self.builder.deleteLater()
            self.builder = None
        for action in self.actions:
            self.iface.removePluginMenu(self.menu, action)
            if self.toolbar is not None:
                self.toolbar.removeAction(action)
        self.actions = []
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        i18n.remove(self.translator)
        self.translator = None
