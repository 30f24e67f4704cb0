"""The Composite Index Builder: one dock where an analyst sets up and runs a whole assessment.

The window edits a recipe (docs/recipe.md): themes, issues and their victims / offenders /
locations layers with how each is measured, the geography, population and areas, and the
output folder. The recipe is checked as it is edited, with exactly the checks a run makes
(every problem is shown under the widget at fault and in the Checks list); Run is allowed only
when nothing blocks it. The recipe is kept in the project (custom properties), so reopening the
project restores the window.

The parts, each in its own module:
- ``builder_model``: the recipe being edited, as plain Python (no Qt; tested without QGIS);
- ``builder_view``: the widgets, each bound to a path of the model;
- ``builder_checks``: the checks (the recipe model's parse and the runner's data checks);
- ``builder_run``: Run - staging, progress, cancel, the results added to the project.
This module puts them together in the dock, keeps the set-up in the project, opens and saves
recipe files, and offers the other tools (help, the modeler, batch runs, the layout export).
"""
import json
import os

from qgis.core import Qgis, QgsApplication, QgsCoordinateReferenceSystem, QgsProject
from qgis.PyQt import uic
from qgis.PyQt.QtCore import Qt, QTimer, QUrl, pyqtSignal
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import QFileDialog, QMenu, QToolButton

from composite_index_plugin.core import model as rm
from composite_index_plugin.core import recipe as rcp
from composite_index_plugin.gui import recipe_io as rio
from composite_index_plugin.gui.builder_checks import live_checks, staging_folder
from composite_index_plugin.gui.builder_model import GLOBAL_SOURCES, BuilderModel, new_recipe
from composite_index_plugin.gui.builder_run import RUN_ALG, RunController, error_text
from composite_index_plugin.gui.builder_view import BuilderView
from composite_index_plugin.i18n import tr
from composite_index_plugin.paths import plugin_root, resource_path, ui_path

FORM_CLASS, BASE_CLASS = uic.loadUiType(ui_path("builder_dock.ui"))

PROJECT_SCOPE = "CompositeIndex"
PROJECT_KEY = "builder/state"
EXPORT_ALG = "compositeindex:exportassessment"
NEW_RECIPE_ALG = "compositeindex:newrecipe"
COMBOS = {"study_area": "studyAreaCombo", "geography": "zonesCombo",
          "population": "populationCombo", "admin_areas": "adminCombo"}


class BuilderDock(BASE_CLASS, FORM_CLASS):
    """The Composite Index Builder dock widget."""

    stepStarted = pyqtSignal(str)  # noqa: N815 - Qt signal names
    runFinished = pyqtSignal(bool)  # noqa: N815
    staging_folder = staticmethod(staging_folder)
    error_text = staticmethod(error_text)

    def __init__(self, iface, parent=None):
        super().__init__(parent)
        self.setupUi(self)
        self.setObjectName("CompositeIndexBuilderDock")
        self.iface = iface
        self.model = BuilderModel(layer_name=self._layer_name)
        self.checks = []
        self.syncing = False          # layers are being removed: combos change by themselves
        self._stored = None           # the state last written to the project
        self._pristine = None         # the state of an untouched new set-up
        self._area_cache = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.refresh)
        self.view = BuilderView(self)
        self.runner = RunController(self)
        menu = QMenu(self.processingButton)
        menu.addAction(tr("Run recipes in batch (e.g. one per year)…"), self.open_batch)
        menu.addAction(tr("Open the Run recipe dialog…"), self.open_run_dialog)
        menu.addAction(tr("Open the stages model in the Graphical Modeler…"), self.open_modeler)
        self.processingButton.setMenu(menu)
        # police.uk quick start: the newrecipe dialog, then the recipe it wrote is opened here
        self.policeukButton = QToolButton(self)
        self.policeukButton.setObjectName("policeukButton")
        self.policeukButton.setText("From police.uk…")
        self.policeukButton.setToolTip(
            "Write a complete recipe from a police.uk download (New recipe from police.uk data: "
            "the archive, a study area or the LSOAs the crimes fall in, a grid size, admin "
            "areas, population) and open it here to edit and run.")
        self.fileBar.insertWidget(1, self.policeukButton)
        self._connect()
        self._restore_or_new()

    @staticmethod
    def _layer_name(layer_id):
        layer = QgsProject.instance().mapLayer(layer_id)
        return layer.name() if layer is not None else None

    def _connect(self):
        self.newButton.clicked.connect(lambda: self.new_recipe())
        self.policeukButton.clicked.connect(lambda: self.new_from_policeuk())
        self.loadButton.clicked.connect(self._ask_load)
        self.saveButton.clicked.connect(self._ask_save)
        self.helpButton.clicked.connect(self.open_help)
        self.addThemeButton.clicked.connect(lambda: self.add_theme())
        self.addIssueButton.clicked.connect(lambda: self.add_issue())
        self.removeButton.clicked.connect(self.remove_selected)
        self.upButton.clicked.connect(lambda: self.move_selected(-1))
        self.downButton.clicked.connect(lambda: self.move_selected(1))
        self.tree.currentItemChanged.connect(
            lambda item, _previous: self.view.show_item(self.view.path_of(item)))
        self.tree.itemChanged.connect(self.view.tree_item_edited)
        self.problemsList.itemClicked.connect(
            lambda entry: self.view.problems.go_to(entry.data(Qt.ItemDataRole.UserRole)))
        self.runButton.clicked.connect(lambda: self.run())
        self.cancelButton.clicked.connect(self.cancel)
        self.exportLayoutButton.clicked.connect(self.export_layout)
        self.openLogButton.clicked.connect(self.open_log)
        for signal, slot in self._project_slots():
            signal.connect(slot)

    def _project_slots(self):
        project = QgsProject.instance()
        return ((project.readProject, self._project_read), (project.cleared, self._project_cleared),
                (project.layersWillBeRemoved, self._layers_will_be_removed),
                (project.layersRemoved, self._layers_removed), (project.layersAdded, self.schedule))

    def disconnect_project(self):
        """Called by the plugin's unload (and tests): stop listening to the project."""
        self._timer.stop()
        for signal, slot in self._project_slots():
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass

    # ----- what the run controller and the tests read --------------------------------------
    @property
    def recipe_path(self):
        return self.model.recipe_path

    @property
    def last_log(self):
        return self.runner.last_log

    @property
    def last_results(self):
        return self.runner.last_results

    def recipe(self, base_dir=None):
        """The recipe the window shows. Paths are absolute, or relative to ``base_dir``."""
        return self.model.recipe(base_dir)

    def layer_ids(self):
        return self.model.all_layer_ids()

    def state(self):
        return self.model.state()

    def output_folder(self):
        folder = self.model.get("output.folder")
        return os.path.abspath(os.path.expanduser(folder)) if isinstance(folder, str) else None

    # ----- the recipe <-> the window ---------------------------------------------------------
    def new_recipe(self):
        """An empty set-up: one theme with one issue, a 400 m hexagon grid."""
        self.model.recipe_path = None
        self._pristine = None
        self.set_recipe(new_recipe(), store=False)
        self._pristine = json.dumps(self.state(), sort_keys=True)
        self._store_in_project()

    def set_recipe(self, recipe, layer_ids=None, add_missing_layers=True, store=True):
        """Fill the window from a recipe whose paths are absolute. Sources that are not layers
        of the project are opened and added to it (so they can be picked), when they exist.
        Raises ValueError (nothing changed) for themes that cannot be shown."""
        self.model.set_recipe(recipe, layer_ids)
        self._area_cache.clear()
        if add_missing_layers:
            project = QgsProject.instance()
            for path in list(GLOBAL_SOURCES) + [p for p, n in self.model.walk() if n.kind == "role"]:
                source = self.model.source(path)
                if source is None or self.view.layer(path) is not None:
                    continue
                layer = rio.open_source(source)
                if layer is not None:
                    project.addMapLayer(layer)
                    self.model.attach_layer(path, layer.id())
        self.view.fill()
        self.update_cell_count()
        self.refresh(store=store)

    def layer_picked(self, key, layer):
        """A layer picked for the study area, the zones, the population or the areas."""
        if self.view.loading or self.syncing:
            return
        self.model.set_source(key, rio.layer_source(layer) if layer else None,
                              layer.id() if layer else None)
        if key == "population" and layer is not None:
            fields = layer.fields().names()
            if self.model.get("population.field") not in fields:
                self.model.set("population.field", "population" if "population" in fields
                               else None)
        self.view.layer_side_effects(key, layer)
        if key == "study_area":
            self.update_cell_count()
        self.schedule()

    # ----- tree editing (each returns the tree item concerned) ------------------------------
    def _selected_path(self, kind):
        path = self.view.current
        node = self.model.find(path) if path else None
        while node is not None and node.kind != kind:
            path = path.rsplit(".", 1 if node.kind == "issue" else 2)[0]
            node = self.model.find(path)
        return path if node is not None else None

    def add_theme(self, label=None):
        return self.view.added(self.model.add_theme(label))

    def add_issue(self, label=None, theme_item=None):
        theme = self.view.path_of(theme_item) if theme_item else self._selected_path("theme")
        had = len(self.model.themes)
        path = self.model.add_issue(theme, label)
        if len(self.model.themes) > had:
            self.view.added(path.split(".")[0])
        return self.view.added(path)

    def add_role(self, role, issue_item=None):
        issue = self.view.path_of(issue_item) if issue_item else self._selected_path("issue")
        if issue is None:
            self.message(tr("Select an issue first, then add its victims, offenders or "
                            "locations."), Qgis.MessageLevel.Warning)
            return None
        known = {n.uid for _p, n in self.model.walk()}
        path = self.model.add_role(issue, role)
        if self.model.node(path).uid in known:
            item = self.view.item(path)
            self.tree.setCurrentItem(item)
            return item
        return self.view.added(path)

    def remove_selected(self):
        if self.view.current and self.model.find(self.view.current) is not None:
            self.view.removed(self.view.current)
            self.schedule()

    def move_selected(self, step):
        path = self.view.current
        if path and self.model.find(path) is not None:
            self.view.moved(path, step)
            self.schedule()

    # ----- geography --------------------------------------------------------------------------
    def estimated_cells(self):
        """(cells, study area km²) for the grid set up now, or (None, None)."""
        layer = self.studyAreaCombo.currentLayer()
        if layer is None or not self.model.applies("geography.size"):
            return None, None
        filt = self.model.get("study_area.filter")
        key = (layer.id(), filt, layer.featureCount())
        if key not in self._area_cache:
            self._area_cache[key] = rio.study_area_m2(layer, filt)
        area = self._area_cache[key]
        size = self.model.value("geography.size")
        cells = rio.estimate_cells(area, self.model.value("geography.shape"),
                                   size if isinstance(size, (int, float)) else 0,
                                   self.model.value("geography.size_is_area") is True)
        return cells, area / 1e6

    def update_cell_count(self, *_args):
        cells, km2 = self.estimated_cells()
        if cells is None:
            self.cellCountLabel.setText(tr("Choose a study area to see how many cells the grid "
                                           "has.") if self.model.applies("geography.size") else "")
        else:
            self.cellCountLabel.setText(tr("≈ {cells} cells over {area} km²").format(
                cells=f"{cells:,}", area=f"{km2:,.1f}"))
        self.schedule()

    # ----- checks -----------------------------------------------------------------------------
    def schedule(self, *_args):
        """Check again (and store the set-up in the project) shortly after the last change."""
        if not self.view.loading:
            self._timer.start()

    def refresh(self, store=True):
        """Run the checks now, show them, and store the set-up in the project."""
        self._timer.stop()
        self.checks = live_checks(self)
        self.view.problems.show(self.checks)
        if store:
            self._store_in_project()
        self.update_buttons()

    def errors(self):
        return [c for c in self.checks if c.level == "error"]

    def locate(self, path):
        return self.view.problems.locate(path)

    def problem_text(self, widget_name):
        return self.view.problems.text(widget_name)

    def update_buttons(self):
        idle = not self.runner.running
        errors = self.errors()
        self.runButton.setEnabled(idle and not errors)
        self.runButton.setToolTip(
            tr("Check the data, then run every stage and add the styled results to the project "
               "in one group.") if not errors else
            tr("Fix the {count} error(s) under Checks first.").format(count=len(errors)))
        self.cancelButton.setEnabled(self.runner.running)
        for widget in (self.indicatorsTab, self.geographyTab, self.outputFolderWidget,
                       self.aggIssueCombo, self.aggThemeCombo, self.aggCompositeCombo,
                       self.hotspotsCheck, self.newButton, self.policeukButton,
                       self.loadButton, self.recipeNameEdit,
                       self.periodEdit):
            widget.setEnabled(idle)
        self.exportLayoutButton.setEnabled(idle and self._algorithm(EXPORT_ALG) is not None
                                           and self.export_parameters() is not None)
        self.openLogButton.setEnabled(self._log_path() is not None)

    # ----- keeping the set-up in the project --------------------------------------------------
    def _store_in_project(self):
        """Keep the set-up in the project's custom properties (only when it changed, and not
        the untouched new set-up: opening or clearing a project must not mark it modified)."""
        if self.view.loading:
            return
        text = json.dumps(self.state(), sort_keys=True)
        if text == self._stored:
            return
        project = QgsProject.instance()
        stored, _ok = project.readEntry(PROJECT_SCOPE, PROJECT_KEY, "")
        if not stored and text == self._pristine:
            return
        if stored != text:
            project.writeEntry(PROJECT_SCOPE, PROJECT_KEY, text)
        self._stored = text

    def _restore_or_new(self):
        if not self.restore_from_project():
            self.new_recipe()

    def restore_from_project(self):
        """Fill the window from the set-up kept in the project; False when there is none."""
        text, ok = QgsProject.instance().readEntry(PROJECT_SCOPE, PROJECT_KEY, "")
        if not ok or not text:
            return False
        try:
            state = json.loads(text)
            self.model.recipe_path = state.get("recipe_path")
            self._stored = text
            self.set_recipe(state.get("recipe") or {}, state.get("layer_ids") or {},
                            add_missing_layers=False)
        except (ValueError, AttributeError):
            self.message(tr("The Composite Index set-up kept in this project is damaged; "
                            "starting a new one."), Qgis.MessageLevel.Warning)
            return False
        return True

    def _project_read(self, *_args):
        if self.runner.running:
            self.runner.project_replaced = True
            return
        self._stored = None
        self._restore_or_new()

    def _project_cleared(self):
        if self.runner.running:
            self.runner.project_replaced = True
            return
        self._stored = None
        self.runner.last_results = None
        self.new_recipe()

    def _layers_will_be_removed(self, _ids):
        self.syncing = True

    def _layers_removed(self, ids):
        """A layer removed while selected: the combo goes empty (never to another layer), the
        recipe keeps the file it named, and the checks say so."""
        self.model.forget_layers(ids)
        self.view.loading = True
        try:
            for key, name in COMBOS.items():
                combo = getattr(self, name)
                combo.setLayer(self.view.layer(key) if self.model.has_source(key) else None)
                self.view.layer_side_effects(key, combo.currentLayer())
        finally:
            self.view.loading = False
            self.syncing = False
        self.view.paint_all()
        self._area_cache.clear()
        self.view.show_item(self.view.current)
        self.update_cell_count()
        if not self.runner.running:
            self.refresh()

    # ----- files ------------------------------------------------------------------------------
    def load(self, path):
        """Open a recipe file (paths relative to it). Problems in it are shown, not raised."""
        try:
            doc = rcp.load_recipe(path)
        except rcp.RecipeError as err:
            self.message(str(err), Qgis.MessageLevel.Critical)
            return False
        if not isinstance(doc, dict):
            self.message(tr("{path} is not a recipe (a JSON object).").format(path=path),
                         Qgis.MessageLevel.Critical)
            return False
        base = os.path.dirname(os.path.abspath(path))
        previous = self.model.recipe_path
        try:
            recipe = rio.absolutize(doc, base)
            if not isinstance(recipe.get("output"), dict) or not recipe["output"].get("folder"):
                recipe["output"] = dict(recipe.get("output") or {},
                                        folder=os.path.join(base, "output"))
            self.model.recipe_path = os.path.abspath(path)
            self.set_recipe(recipe)
        except (AttributeError, TypeError, ValueError, KeyError):
            self.model.recipe_path = previous
            problems = rm.parse(doc)[1]
            self.message(tr("{name} cannot be shown in the Builder: ").format(
                name=os.path.basename(path)) + "; ".join(str(p) for p in problems[:5])
                         + (" …" if len(problems) > 5 else ""), Qgis.MessageLevel.Critical)
            return False
        self.apply_crs(recipe)
        self.message(tr("Opened {name}").format(name=os.path.basename(path)),
                     Qgis.MessageLevel.Info)
        return True

    def apply_crs(self, recipe):
        """The project takes the CRS the analysis is made in: the recipe's ``crs``, else the
        study area's (or the zones')."""
        crs = QgsCoordinateReferenceSystem(recipe["crs"]) if recipe.get("crs") else None
        if crs is None or not crs.isValid():
            layer = self.view.layer("study_area") or self.view.layer("geography")
            crs = layer.crs() if layer is not None else None
        project = QgsProject.instance()
        if crs is not None and crs.isValid() and project.crs() != crs:
            project.setCrs(crs)

    def save(self, path):
        """Write the recipe to ``path`` with paths relative to its folder."""
        base = os.path.dirname(os.path.abspath(path))
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.recipe(base_dir=base), handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        self.model.recipe_path = os.path.abspath(path)
        self._store_in_project()
        self.message(tr("Recipe saved: {path}").format(path=path), Qgis.MessageLevel.Success)
        return path

    def new_from_policeuk(self):
        """Run the dialog of 'New recipe from police.uk data' and open the recipe it writes."""
        import processing

        if self._algorithm(NEW_RECIPE_ALG) is None:
            self.message("The Composite Index Processing provider is not loaded.",
                         Qgis.MessageLevel.Critical)
            return False
        results = processing.execAlgorithmDialog(NEW_RECIPE_ALG, {}) or {}
        path = results.get("OUTPUT")
        return bool(path) and os.path.isfile(path) and self.load(path)

    def _ask_load(self):
        path, _ = QFileDialog.getOpenFileName(self, tr("Open a recipe"), self._dialog_dir(),
                                              tr("Recipes (*.json)"))
        if path:
            self.load(path)

    def _ask_save(self):
        path, _ = QFileDialog.getSaveFileName(self, tr("Save the recipe"), self.recipe_path or
                                              os.path.join(self._dialog_dir(), "recipe.json"),
                                              tr("Recipes (*.json)"))
        if path:
            self.save(path if path.lower().endswith(".json") else path + ".json")

    def _dialog_dir(self):
        if self.recipe_path:
            return os.path.dirname(self.recipe_path)
        return QgsProject.instance().homePath() or os.path.expanduser("~")

    # ----- running ----------------------------------------------------------------------------
    def run(self):
        """Check, then run the recipe; True when the results were added to the project."""
        return self.runner.run()

    def cancel(self):
        self.runner.cancel()

    def export_parameters(self):
        return self.runner.export_parameters()

    # ----- other tools ------------------------------------------------------------------------
    @staticmethod
    def _algorithm(alg_id):
        return QgsApplication.processingRegistry().algorithmById(alg_id)

    def export_layout(self):
        params = self.export_parameters()
        if self._algorithm(EXPORT_ALG) is None or params is None:
            self.message(tr("Run the assessment (with areas) first; the layout is made from its "
                            "results."), Qgis.MessageLevel.Warning)
            return
        import processing

        processing.execAlgorithmDialog(EXPORT_ALG, params)

    def open_batch(self):
        alg = self._algorithm(RUN_ALG)
        if alg is None:
            return
        from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog

        parent = self.iface.mainWindow() if self.iface is not None else None
        dialog = BatchAlgorithmDialog(alg.create(), parent=parent)
        dialog.show()
        self._batch_dialog = dialog

    def open_run_dialog(self):
        import processing

        processing.execAlgorithmDialog(RUN_ALG, {"RECIPE": self.recipe_path}
                                       if self.recipe_path else {})

    @staticmethod
    def model_path():
        folder = resource_path("models")
        if not os.path.isdir(folder):
            return None
        models = sorted(f for f in os.listdir(folder) if f.endswith(".model3"))
        return os.path.join(folder, models[0]) if models else None

    def open_modeler(self):
        path = self.model_path()
        if path is None:
            self.message(tr("No stages model is shipped in this version; the user guide "
                            "explains how to build one in the Graphical Modeler."),
                         Qgis.MessageLevel.Info)
            return
        from processing.modeler.ModelerDialog import ModelerDialog

        dialog = ModelerDialog.create()
        dialog.loadModel(path)
        dialog.show()

    @staticmethod
    def help_path():
        return os.path.join(plugin_root(), "docs", "user_guide.md")

    def open_help(self):
        """The user guide in the system's viewer for .md files, else in a QGIS window."""
        if QDesktopServices.openUrl(QUrl.fromLocalFile(self.help_path())) is False:
            self.show_help_window()

    def show_help_window(self):
        from qgis.PyQt.QtWidgets import QDialog, QTextBrowser, QVBoxLayout

        dialog = QDialog(self)
        dialog.setWindowTitle(tr("Composite Index — user guide"))
        browser = QTextBrowser(dialog)
        browser.setOpenExternalLinks(True)
        browser.setSearchPaths([os.path.dirname(self.help_path())])
        with open(self.help_path(), encoding="utf-8") as handle:
            browser.setMarkdown(handle.read())
        layout = QVBoxLayout(dialog)
        layout.addWidget(browser)
        dialog.resize(760, 820)
        dialog.show()
        self._help_dialog = dialog
        return dialog

    def _log_path(self):
        folder = self.output_folder()
        if folder and os.path.exists(os.path.join(folder, "run.log")):
            return os.path.join(folder, "run.log")
        return None

    def open_log(self):
        path = self._log_path()
        if path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def message(self, text, level=Qgis.MessageLevel.Info):
        if self.iface is not None:
            quiet = level in (Qgis.MessageLevel.Info, Qgis.MessageLevel.Success)
            self.iface.messageBar().pushMessage(tr("Composite Index"), text, level,
                                                10 if quiet else 0)

    def closeEvent(self, event):
        if self.runner.running:
            self.cancel()
        super().closeEvent(event)

