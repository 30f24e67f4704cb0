"""The Composite Index Builder: one dock where an analyst sets up and runs a whole assessment.

The window edits a recipe (docs/recipe.md): themes, issues and their victims / offenders /
locations layers with how each is measured, the geography, population and areas, and the
output folder. The recipe is checked as it is edited (every problem is shown under the widget
at fault and in the Checks list); Run is allowed only when nothing blocks it. The recipe is kept
in the project (custom properties), so reopening the project restores the window.

How Run works, and why: ``compositeindex:runrecipe`` writes a QGIS project and a print layout,
so it is flagged FlagNoThreading and Processing itself always runs it on the main thread. The
window does the same, honestly: it runs the algorithm on the main thread with a feedback object
wired to the progress bar, the log and the Cancel button, and lets Qt process events (at most
every 50 ms) whenever the algorithm reports progress or a message, so the window repaints and
Cancel can be pressed; a QgsProxyProgressTask shows the progress in QGIS's task manager, as
Processing's own dialog does for main-thread algorithms. While a run is going the set-up is
locked and a second Run is refused.
A run writes into a hidden sibling of the output folder (``.<name>.composite_index_running``);
only when it has finished are its files moved into the output folder (replacing the previous
run's, whose layers are first taken out of the project) and the results added to the project in
one group, styled. A cancelled or failed run adds nothing to the project, leaves the output
folder (and the previous results in it) as they were, and keeps its log as
``run_cancelled.log`` / ``run_failed.log``.
"""
import copy
import json
import os
import shutil
import tempfile
import time

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsFieldProxyModel,
    QgsMapLayerProxyModel,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsProxyProgressTask,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.gui import QgsFileWidget
from qgis.PyQt import uic
from qgis.PyQt.QtCore import QCoreApplication, Qt, QTimer, QUrl, pyqtSignal
from qgis.PyQt.QtGui import QDesktopServices, QIcon
from qgis.PyQt.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QMenu,
    QScrollArea,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from composite_index_plugin.core import model, vocab
from composite_index_plugin.core import recipe as rcp
from composite_index_plugin.gui import recipe_io as rio
from composite_index_plugin.paths import plugin_root, resource_path, ui_path

FORM_CLASS, BASE_CLASS = uic.loadUiType(ui_path("builder_dock.ui"))

PROJECT_SCOPE = "CompositeIndex"
PROJECT_KEY = "builder/state"
RUN_ALG = "compositeindex:runrecipe"
EXPORT_ALG = "compositeindex:exportassessment"
ROLE_TITLES = vocab.ROLE_TITLES
GEOGRAPHY_TYPES = (("grid", "Grid over the study area"), ("zones", "Zones layer"),
                   ("hotspot_zones", "Hotspot zones of an earlier run"))
SHAPE_TITLES = {"square": "Square", "hexagon_flat": "Hexagon, flat top",
                "hexagon_pointy": "Hexagon, pointy top"}
MAX_CELLS_WARNING = 250_000
GLOBAL_SOURCES = ("study_area", "geography", "population", "admin_areas")


def _role_default(key):
    """The default of a role's key, as the recipe model declares it."""
    return model.Role.key(key).default


class Check:
    """One problem or warning, located by its recipe JSON path."""

    def __init__(self, path, message, hint="", level="error"):
        self.path, self.message, self.hint, self.level = path, message, hint, level

    def text(self):
        return self.message + (f" ({self.hint})" if self.hint else "")

    def __repr__(self):
        return f"Check({self.path!r}, {self.message!r}, {self.level})"


class TreeItem(QTreeWidgetItem):
    """A theme, issue or role; ``info`` holds its part of the recipe."""

    def __init__(self, kind, info):
        super().__init__()
        self.kind = kind
        self.info = info
        flags = self.flags() | Qt.ItemIsSelectable | Qt.ItemIsEnabled
        if kind != "role":
            flags |= Qt.ItemIsEditable
        self.setFlags(flags)


class _RunFeedback(QgsProcessingFeedback):
    """Feedback of a run: writes to the dock's log, keeps errors, keeps the window alive."""

    def __init__(self, dock):
        super().__init__()
        self.dock = dock
        self.errors = []
        self.progressChanged.connect(self._progress)

    def _progress(self, value):
        self.dock.progressBar.setValue(int(value))
        self.dock.pump()

    def setProgressText(self, text):
        super().setProgressText(text)
        self.dock.log("STEP", text)
        self.dock.stepStarted.emit(text)
        self.dock.pump()

    def pushInfo(self, text):
        super().pushInfo(text)
        self.dock.log("INFO", text)
        self.dock.pump()

    def pushWarning(self, text):
        super().pushWarning(text)
        self.dock.log("WARNING", text)
        self.dock.pump()

    def pushCommandInfo(self, text):
        super().pushCommandInfo(text)
        self.dock.log("COMMAND", text)
        self.dock.pump()

    def reportError(self, text, fatalError=False):
        super().reportError(text, fatalError)
        self.errors.append(text)
        self.dock.log("ERROR", text)
        self.dock.pump()


class BuilderDock(BASE_CLASS, FORM_CLASS):
    """The Composite Index Builder dock widget."""

    stepStarted = pyqtSignal(str)  # noqa: N815 - Qt signal names
    runFinished = pyqtSignal(bool)  # noqa: N815

    def __init__(self, iface, parent=None):
        super().__init__(parent)
        self.setupUi(self)
        self.setObjectName("CompositeIndexBuilderDock")
        self.iface = iface
        self.recipe_path = None      # the recipe file last opened or saved
        self._extra = {}             # recipe keys the window does not edit, kept as they are
        self._sources = {}           # global sources (study_area, geography, ...) -> dict
        self._loading = False        # widgets are being filled from data: ignore their signals
        self._syncing = False        # layers are being removed: combos change by themselves
        self._running = False
        self._project_replaced = False
        self._feedback = None
        self._task = None
        self._last_pump = 0.0
        self._area_cache = {}
        self.checks = []
        self.last_results = None     # {"folder", "gpkg", "layers", ...} of the last good run
        self.last_log = ""
        self._stored = None          # the state last written to the project
        self._pristine = None        # the state of an untouched new set-up
        self._problem_labels = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.refresh)
        self._set_up_widgets()
        self._connect()
        self._restore_or_new()

    # ----- set-up -----------------------------------------------------------------------------
    def _set_up_widgets(self):
        self.roleMeasureCombo.addItems(vocab.MEASURES)
        self.roleScalingCombo.addItems(vocab.SCALINGS)
        self.roleDirectionCombo.addItems(vocab.DIRECTIONS)
        for combo in (self.aggIssueCombo, self.aggThemeCombo, self.aggCompositeCombo):
            combo.addItems(vocab.AGGREGATIONS)
        for key, title in GEOGRAPHY_TYPES:
            self.geographyTypeCombo.addItem(title, key)
        for key in vocab.GRID_SHAPES:
            self.gridShapeCombo.addItem(SHAPE_TITLES.get(key, key), key)
        self.roleLayerCombo.setFilters(QgsMapLayerProxyModel.PointLayer)
        for combo in (self.studyAreaCombo, self.zonesCombo, self.populationCombo, self.adminCombo):
            combo.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        for combo in (self.roleLayerCombo, self.studyAreaCombo, self.zonesCombo,
                      self.populationCombo, self.adminCombo):
            combo.setAllowEmptyLayer(True)
            combo.setLayer(None)
        self.roleWeightFieldCombo.setFilters(QgsFieldProxyModel.Numeric)
        self.populationFieldCombo.setFilters(QgsFieldProxyModel.Numeric)
        for combo in (self.roleWeightFieldCombo, self.populationFieldCombo, self.zonesIdCombo,
                      self.adminNameCombo):
            combo.setAllowEmptyFieldName(True)
        self.roleDenominatorCombo.addItem("population")
        self.outputFolderWidget.setStorageMode(QgsFileWidget.GetDirectory)
        self.outputFolderWidget.setDialogTitle("Output folder of the assessment")
        self._crs_tip = self.crsWidget.toolTip()   # the widget replaces it on every change
        self.crsWidget.crsChanged.connect(self._crs_tooltip)
        self.crsWidget.setOptionVisible(self.crsWidget.CrsNotSet, True)
        self.crsWidget.setNotSetText("Same as the study area")
        self.crsWidget.setCrs(QgsCoordinateReferenceSystem())
        self._crs_tooltip()
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, self.tree.header().Stretch)
        self.tree.header().setSectionResizeMode(1, self.tree.header().ResizeToContents)
        role_menu = QMenu(self.addRoleButton)
        for role in vocab.ROLES:
            action = role_menu.addAction(ROLE_TITLES[role])
            action.setToolTip(f"Add the {role} role to the selected issue")
            action.triggered.connect(lambda _checked=False, r=role: self.add_role(r))
        self.addRoleButton.setMenu(role_menu)
        self._role_menu = role_menu
        menu = QMenu(self.processingButton)
        menu.addAction("Run recipes in batch (e.g. one per year)…", self.open_batch)
        menu.addAction("Open the Run recipe dialog…", self.open_run_dialog)
        menu.addAction("Open the stages model in the Graphical Modeler…", self.open_modeler)
        self.processingButton.setMenu(menu)
        self._processing_menu = menu
        self.progressBar.setRange(0, 100)
        self.progressBar.setValue(0)
        self._build_problem_labels()
        # The editor pages scroll rather than squeeze their rows when the dock is short.
        index = self.indicatorsLayout.indexOf(self.editorStack)
        self.indicatorsLayout.removeWidget(self.editorStack)
        scroll = QScrollArea()
        scroll.setObjectName("editorScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(self.editorStack)
        self.indicatorsLayout.insertWidget(index, scroll)
        self.indicatorsLayout.setStretchFactor(self.tree, 2)
        self.indicatorsLayout.setStretchFactor(scroll, 3)
        self.editorScroll = scroll

    def _crs_tooltip(self, *_args):
        crs = self.crsWidget.crs()
        self.crsWidget.setToolTip(self._crs_tip + (f"\nNow: {crs.userFriendlyIdentifier()}"
                                                   if crs.isValid() else ""))

    def _build_problem_labels(self):
        """Under every field of every form, a hidden red label for its problems: each field
        goes into a small box with the label below it (a hidden label then takes no room), and
        note rows without a label of their own (cell count, source note) join the box above."""
        self._containers = {}
        for form in self.findChildren(QFormLayout):
            row = 0
            while row < form.rowCount():
                if form.itemAt(row, QFormLayout.FieldRole) is None:
                    row += 1
                    continue
                taken = form.takeRow(row)
                caption = taken.labelItem.widget() if taken.labelItem is not None else None
                container = QWidget()
                box = QVBoxLayout(container)
                box.setContentsMargins(0, 0, 0, 0)
                box.setSpacing(2)
                item = taken.fieldItem
                if item.widget() is not None:
                    widgets = [item.widget()]
                    box.addWidget(item.widget())
                else:
                    inner = item.layout()
                    inner.setParent(None)
                    widgets = [inner.itemAt(k).widget() for k in range(inner.count())
                               if inner.itemAt(k).widget() is not None]
                    box.addLayout(inner)
                while row < form.rowCount() and form.itemAt(row, QFormLayout.LabelRole) is None \
                        and form.itemAt(row, QFormLayout.FieldRole) is not None \
                        and isinstance(form.itemAt(row, QFormLayout.FieldRole).widget(), QLabel):
                    box.addWidget(form.takeRow(row).fieldItem.widget())
                problem = QLabel()
                problem.setWordWrap(True)
                problem.setStyleSheet("color: #b00020;")
                problem.setVisible(False)
                problem.setObjectName(f"problem_{widgets[0].objectName()}" if widgets else "problem")
                box.addWidget(problem)
                if caption is not None:
                    # as tall as its field: QFormLayout puts a label at the top of a tall row,
                    # so the caption stays level with the field when problems show below it
                    height = max(w.sizeHint().height() for w in widgets) if widgets else 0
                    if height > caption.sizeHint().height():
                        caption.setFixedHeight(height)
                    form.insertRow(row, caption, container)
                else:
                    form.insertRow(row, "", container)
                for widget in widgets:
                    self._problem_labels[widget] = problem
                    self._containers[widget] = (caption, container)
                row += 1

    def _connect(self):
        self.newButton.clicked.connect(lambda: self.new_recipe())
        self.loadButton.clicked.connect(self._ask_load)
        self.saveButton.clicked.connect(self._ask_save)
        self.helpButton.clicked.connect(self.open_help)
        self.addThemeButton.clicked.connect(lambda: self.add_theme())
        self.addIssueButton.clicked.connect(lambda: self.add_issue())
        self.removeButton.clicked.connect(self.remove_selected)
        self.upButton.clicked.connect(lambda: self.move_selected(-1))
        self.downButton.clicked.connect(lambda: self.move_selected(1))
        self.tree.currentItemChanged.connect(self._show_item)
        self.tree.itemChanged.connect(self._tree_item_edited)
        # theme / issue editor
        self.groupLabelEdit.textEdited.connect(self._group_label_edited)
        self.groupNameEdit.textEdited.connect(self._group_name_edited)
        self.groupWeightSpin.valueChanged.connect(self._group_weight_changed)
        # role editor
        self.roleLayerCombo.layerChanged.connect(self._role_layer_changed)
        self.roleFilterWidget.fieldChanged.connect(
            lambda text: self._role_set("filter", text.strip() or None))
        self.roleWeightFieldCombo.fieldChanged.connect(
            lambda text: self._role_set("weight_field", text or None))
        self.roleMeasureCombo.currentTextChanged.connect(self._role_measure_changed)
        self.roleDenominatorCombo.currentTextChanged.connect(
            lambda text: self._role_set("denominator", text.strip() or None))
        self.rolePerSpin.valueChanged.connect(lambda v: self._role_set("per", int(v)))
        self.roleScalingCombo.currentTextChanged.connect(lambda t: self._role_set("scaling", t))
        self.roleDirectionCombo.currentTextChanged.connect(lambda t: self._role_set("direction", t))
        self.roleWeightSpin.valueChanged.connect(self._role_weight_changed)
        # geography and output
        for key, combo in self._global_combos().items():
            combo.layerChanged.connect(lambda layer, k=key: self._global_layer_changed(k, layer))
        for widget in (self.recipeNameEdit, self.periodEdit):
            widget.textChanged.connect(self.schedule)
        self.geographyTypeCombo.currentIndexChanged.connect(self._geography_type_changed)
        self.gridShapeCombo.currentIndexChanged.connect(self._update_cell_count)
        self.gridSizeSpin.valueChanged.connect(self._update_cell_count)
        self.crsWidget.crsChanged.connect(self.schedule)
        for combo in (self.zonesIdCombo, self.populationFieldCombo, self.adminNameCombo):
            combo.fieldChanged.connect(self.schedule)
        for combo in (self.aggIssueCombo, self.aggThemeCombo, self.aggCompositeCombo):
            combo.currentIndexChanged.connect(self.schedule)
        self.hotspotsCheck.toggled.connect(self.schedule)
        self.outputFolderWidget.fileChanged.connect(self.schedule)
        self.problemsList.itemClicked.connect(self._go_to_problem)
        self.runButton.clicked.connect(lambda: self.run())
        self.cancelButton.clicked.connect(self.cancel)
        self.exportLayoutButton.clicked.connect(self.export_layout)
        self.openLogButton.clicked.connect(self.open_log)
        project = QgsProject.instance()
        project.readProject.connect(self._project_read)
        project.cleared.connect(self._project_cleared)
        project.layersWillBeRemoved.connect(self._layers_will_be_removed)
        project.layersRemoved.connect(self._layers_removed)
        project.layersAdded.connect(self.schedule)

    def _global_combos(self):
        return {"study_area": self.studyAreaCombo, "geography": self.zonesCombo,
                "population": self.populationCombo, "admin_areas": self.adminCombo}

    def disconnect_project(self):
        """Called by the plugin's unload (and tests): stop listening to the project."""
        self._timer.stop()
        project = QgsProject.instance()
        for signal, slot in ((project.readProject, self._project_read),
                             (project.cleared, self._project_cleared),
                             (project.layersWillBeRemoved, self._layers_will_be_removed),
                             (project.layersRemoved, self._layers_removed),
                             (project.layersAdded, self.schedule)):
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass

    # ----- the recipe <-> the widgets ---------------------------------------------------------
    def new_recipe(self):
        """An empty set-up: one theme with one issue, a 400 m hexagon grid."""
        self.recipe_path = None
        self._pristine = None
        self.set_recipe({
            "recipe_version": 1, "name": "", "geography": {"type": "grid", "shape": "hexagon_flat",
                                                        "size": 400},
            "themes": [{"name": "theme_1", "label": "Theme 1",
                        "issues": [{"name": "issue_1", "label": "Issue 1", "roles": {}}]}],
        }, store=False)
        self._pristine = json.dumps(self.state(), sort_keys=True)
        self._store_in_project()

    def set_recipe(self, recipe, layer_ids=None, add_missing_layers=True, store=True):
        """Fill the window from a recipe whose paths are absolute. Sources that are not layers
        of the project are opened and added to it (so they can be picked), when they exist."""
        layer_ids = layer_ids or {}
        recipe = copy.deepcopy(recipe)
        self._loading = True
        try:
            self._extra = {k: v for k, v in recipe.items() if k not in (
                "recipe_version", "name", "period", "crs", "themes", "aggregation")}
            self.recipeNameEdit.setText(str(recipe.get("name", "")))
            self.periodEdit.setText(str(recipe.get("period", "")))
            crs = QgsCoordinateReferenceSystem(recipe["crs"]) if recipe.get("crs") else \
                QgsCoordinateReferenceSystem()
            self.crsWidget.setCrs(crs)
            self._crs_tooltip()
            geo = recipe.get("geography") or {}
            kind = geo.get("type", "grid")
            source = geo.get("source")
            if kind == "zones" and isinstance(source, dict) and \
                    str(source.get("layer", "")).startswith("hotspot_zones"):
                kind = "hotspot_zones"
            self.geographyTypeCombo.setCurrentIndex(
                max(0, self.geographyTypeCombo.findData(kind)))
            if kind == "grid" or "shape" in geo:   # zones: the grid widgets keep their values
                self.gridShapeCombo.setCurrentIndex(
                    max(0, self.gridShapeCombo.findData(geo.get("shape", "hexagon_flat"))))
            if isinstance(geo.get("size"), (int, float)):
                self.gridSizeSpin.setValue(float(geo["size"]))
            self._sources = {}
            for key in GLOBAL_SOURCES:
                part = recipe.get(key)
                src = part.get("source") if isinstance(part, dict) else None
                if isinstance(src, dict):
                    self._sources[key] = src
                    layer = self._layer_for(src, layer_ids.get(key), add_missing_layers)
                    self._global_combos()[key].setLayer(layer)
                    self._global_layer_side_effects(key, layer)
                else:
                    self._global_combos()[key].setLayer(None)
                    self._global_layer_side_effects(key, None)
            self.zonesIdCombo.setField(geo.get("id_field") or "")
            pop = recipe.get("population") or {}
            self.populationFieldCombo.setField(pop.get("field") or "")
            admin = recipe.get("admin_areas") or {}
            self.adminNameCombo.setField(admin.get("name_field") or "")
            agg = recipe.get("aggregation") or {}
            for level, combo in (("issue", self.aggIssueCombo), ("theme", self.aggThemeCombo),
                                 ("composite", self.aggCompositeCombo)):
                combo.setCurrentIndex(max(0, combo.findText(agg.get(level, "mean"))))
            hotspots = recipe.get("hotspots") or {}
            self.hotspotsCheck.setChecked(hotspots.get("enabled", True) is not False)
            folder = (recipe.get("output") or {}).get("folder", "")
            self.outputFolderWidget.setFilePath(folder)
            self.tree.clear()
            for t, theme in enumerate(recipe.get("themes") or []):
                theme_item = self._make_group("theme", theme)
                self.tree.addTopLevelItem(theme_item)
                for i, issue in enumerate(theme.get("issues") or []):
                    issue_item = self._make_group("issue", issue)
                    theme_item.addChild(issue_item)
                    for role in vocab.ROLES:
                        spec = (issue.get("roles") or {}).get(role)
                        if isinstance(spec, dict):
                            path = f"themes[{t}].issues[{i}].roles.{role}"
                            layer = self._layer_for(spec.get("source"), layer_ids.get(path),
                                                    add_missing_layers)
                            issue_item.addChild(self._make_role(
                                role, spec, layer.id() if layer is not None else None))
            self.tree.expandAll()
        finally:
            self._loading = False
        self._geography_type_changed()
        first = self.tree.topLevelItem(0)
        self.tree.setCurrentItem(first)
        self._show_item(first, None)
        self._update_cell_count()
        self.refresh(store=store)

    def _make_group(self, kind, data):
        info = {"name": data.get("name", ""), "label": data.get("label") or data.get("name", ""),
                "weight": data.get("weight", 1)}
        info["auto_name"] = info["name"] == vocab.slug(info["label"], kind)
        item = TreeItem(kind, info)
        self._paint_item(item)
        return item

    def _make_role(self, role, spec, layer_id=None):
        info = copy.deepcopy(spec)
        info["role"] = role
        if layer_id:
            info["_layer_id"] = layer_id
        item = TreeItem("role", info)
        self._paint_item(item)
        return item

    def _layer_for(self, source, layer_id=None, add_missing=True):
        """The project layer of a source (by stored id, then by source); a file source that is
        not in the project is added to it when ``add_missing``."""
        project = QgsProject.instance()
        if layer_id and project.mapLayer(layer_id) is not None:
            return project.mapLayer(layer_id)
        layer = rio.find_layer(source)
        if layer is None and add_missing:
            layer = rio.open_source(source)
            if layer is not None:
                project.addMapLayer(layer)
        return layer

    def _paint_item(self, item):
        blocked = self.tree.blockSignals(True)
        try:
            info = item.info
            if item.kind == "role":
                layer = self._role_layer(info)
                name = layer.name() if layer is not None else self._source_text(info.get("source"))
                item.setText(0, f"{ROLE_TITLES[info['role']]}: {name}")
            else:
                item.setText(0, info.get("label") or info.get("name") or "")
            weight = info.get("weight", 1)
            item.setText(1, f"{float(weight):g}" if isinstance(weight, (int, float)) else str(weight))
            item.setTextAlignment(1, Qt.AlignRight | Qt.AlignVCenter)
        finally:
            self.tree.blockSignals(blocked)

    @staticmethod
    def _source_text(source):
        if not isinstance(source, dict):
            return "(no layer)"
        if "path" in source:
            base = os.path.basename(source["path"])
            text = base + (f" ▸ {source['layer']}" if source.get("layer") else "")
            return text + (" (imported)" if "import" in source else "")
        return source.get("project_layer") or source.get("uri") or "(no layer)"

    @staticmethod
    def _role_layer(info):
        layer_id = info.get("_layer_id")
        if layer_id and QgsProject.instance().mapLayer(layer_id) is not None:
            return QgsProject.instance().mapLayer(layer_id)
        return rio.find_layer(info.get("source"))

    def recipe(self, base_dir=None):
        """The recipe the window shows. Paths are absolute, or relative to ``base_dir``."""
        out = copy.deepcopy(self._extra)
        out["recipe_version"] = rcp.RECIPE_VERSION
        if self.recipeNameEdit.text().strip():
            out["name"] = self.recipeNameEdit.text().strip()
        if self.periodEdit.text().strip():
            out["period"] = self.periodEdit.text().strip()
        crs = self.crsWidget.crs()
        if crs.isValid() and crs.authid():
            out["crs"] = crs.authid()
        kind = self.geographyTypeCombo.currentData()
        geo = dict(out.get("geography") or {})
        if kind == "grid":
            for key in ("source", "id_field"):
                geo.pop(key, None)
            geo.update({"type": "grid", "shape": self.gridShapeCombo.currentData(),
                        "size": float(self.gridSizeSpin.value())})
            if geo["size"].is_integer():
                geo["size"] = int(geo["size"])
        else:
            for key in ("shape", "size", "size_is_area", "keep", "origin", "max_cells"):
                geo.pop(key, None)
            geo["type"] = "zones"
            if self._sources.get("geography"):
                geo["source"] = self._project_source("geography")
            else:
                geo.pop("source", None)
            if self.zonesIdCombo.currentField():
                geo["id_field"] = self.zonesIdCombo.currentField()
            else:
                geo.pop("id_field", None)
        out["geography"] = geo
        for key, field_combo, field_key in (("study_area", None, None),
                                            ("population", self.populationFieldCombo, "field"),
                                            ("admin_areas", self.adminNameCombo, "name_field")):
            part = dict(out.get(key) or {})
            if self._sources.get(key):
                part["source"] = self._project_source(key)
                if field_combo is not None:
                    if field_combo.currentField():
                        part[field_key] = field_combo.currentField()
                    else:
                        part.pop(field_key, None)
                out[key] = part
            else:
                out.pop(key, None)
        out["themes"] = self._themes()
        out["aggregation"] = {"issue": self.aggIssueCombo.currentText(),
                              "theme": self.aggThemeCombo.currentText(),
                              "composite": self.aggCompositeCombo.currentText()}
        hotspots = dict(out.get("hotspots") or {})
        if self.hotspotsCheck.isChecked():
            hotspots.pop("enabled", None)
        else:
            hotspots["enabled"] = False
        if hotspots:
            out["hotspots"] = hotspots
        else:
            out.pop("hotspots", None)
        folder = self.outputFolderWidget.filePath().strip()
        output = dict(out.get("output") or {})
        if folder:
            output["folder"] = os.path.abspath(os.path.expanduser(folder))
        else:
            output.pop("folder", None)
        if output:
            out["output"] = output
        else:
            out.pop("output", None)
        if base_dir is not None:
            out = rio.relativize(out, base_dir)
        return out

    def _project_source(self, key):
        """A global source; a project-only layer is named as it is called now."""
        source = self._sources[key]
        layer = self._global_combos()[key].currentLayer()
        if "project_layer" in source and layer is not None:
            self._sources[key] = {"project_layer": layer.name()}
        return dict(self._sources[key])

    def _themes(self):
        themes = []
        for t in range(self.tree.topLevelItemCount()):
            theme_item = self.tree.topLevelItem(t)
            theme = self._group_dict(theme_item)
            theme["issues"] = []
            for i in range(theme_item.childCount()):
                issue_item = theme_item.child(i)
                issue = self._group_dict(issue_item)
                issue["roles"] = {}
                for r in range(issue_item.childCount()):
                    info = issue_item.child(r).info
                    spec = {k: copy.deepcopy(v) for k, v in info.items()
                            if k not in ("role", "_layer_id") and v not in (None, "")}
                    if "project_layer" in (spec.get("source") or {}):
                        layer = self._role_layer(info)      # by id: follows a renamed layer
                        if layer is not None:
                            info["source"] = {"project_layer": layer.name()}
                            spec["source"] = dict(info["source"])
                    if spec.get("measure") not in vocab.NEEDS_DENOMINATOR:
                        spec.pop("denominator", None)
                    if spec.get("measure") not in vocab.PER_MEASURES:
                        spec.pop("per", None)
                    issue["roles"][info["role"]] = spec
                theme["issues"].append(issue)
            themes.append(theme)
        return themes

    @staticmethod
    def _group_dict(item):
        info = item.info
        out = {"name": info.get("name", ""), "label": info.get("label") or info.get("name", "")}
        weight = info.get("weight", 1)
        if weight != 1:
            out["weight"] = weight
        return out

    def layer_ids(self):
        """JSON path -> project layer id of every source picked from the project."""
        ids = {}
        for key, combo in self._global_combos().items():
            if combo.currentLayer() is not None and self._sources.get(key):
                ids[key] = combo.currentLayer().id()
        for t in range(self.tree.topLevelItemCount()):
            theme_item = self.tree.topLevelItem(t)
            for i in range(theme_item.childCount()):
                issue_item = theme_item.child(i)
                for r in range(issue_item.childCount()):
                    info = issue_item.child(r).info
                    layer = self._role_layer(info)
                    if layer is not None:
                        ids[f"themes[{t}].issues[{i}].roles.{info['role']}"] = layer.id()
        return ids

    # ----- tree editing -------------------------------------------------------------------------
    def _selected(self, kind=None):
        item = self.tree.currentItem()
        while item is not None and kind is not None and item.kind != kind:
            item = item.parent()
        return item

    def add_theme(self, label=None):
        n = self.tree.topLevelItemCount() + 1
        label = label or f"Theme {n}"
        item = self._make_group("theme", {"name": vocab.slug(label, "theme"), "label": label})
        self.tree.addTopLevelItem(item)
        self.tree.setCurrentItem(item)
        self.schedule()
        return item

    def add_issue(self, label=None, theme_item=None):
        theme_item = theme_item or self._selected("theme")
        if theme_item is None:
            theme_item = self.add_theme()
        n = sum(self.tree.topLevelItem(t).childCount() for t in range(self.tree.topLevelItemCount()))
        label = label or f"Issue {n + 1}"
        item = self._make_group("issue", {"name": vocab.slug(label, "issue"), "label": label})
        theme_item.addChild(item)
        theme_item.setExpanded(True)
        self.tree.setCurrentItem(item)
        self.schedule()
        return item

    def add_role(self, role, issue_item=None):
        issue_item = issue_item or self._selected("issue")
        if issue_item is None:
            self._message("Select an issue first, then add its victims, offenders or locations.",
                          Qgis.Warning)
            return None
        for r in range(issue_item.childCount()):
            if issue_item.child(r).info["role"] == role:
                self.tree.setCurrentItem(issue_item.child(r))
                return issue_item.child(r)
        spec = {"measure": _role_default("measure"), "scaling": _role_default("scaling"),
                "direction": _role_default("direction"), "weight": 1}
        item = self._make_role(role, spec)
        order = [issue_item.child(r).info["role"] for r in range(issue_item.childCount())]
        position = sum(1 for other in order if vocab.ROLES.index(other) < vocab.ROLES.index(role))
        issue_item.insertChild(position, item)
        issue_item.setExpanded(True)
        self.tree.setCurrentItem(item)
        self.schedule()
        return item

    def remove_selected(self):
        item = self.tree.currentItem()
        if item is None:
            return
        parent = item.parent()
        if parent is None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        else:
            parent.removeChild(item)
        self.schedule()

    def move_selected(self, step):
        item = self.tree.currentItem()
        if item is None or item.kind == "role":
            return
        parent = item.parent()
        expanded = self._expanded_state(item)
        if parent is None:
            index = self.tree.indexOfTopLevelItem(item)
            target = index + step
            if not 0 <= target < self.tree.topLevelItemCount():
                return
            self.tree.takeTopLevelItem(index)
            self.tree.insertTopLevelItem(target, item)
        else:
            index = parent.indexOfChild(item)
            target = index + step
            if 0 <= target < parent.childCount():
                parent.takeChild(index)
                parent.insertChild(target, item)
            else:   # past the end of its theme: into the next (or previous) theme
                theme_index = self.tree.indexOfTopLevelItem(parent) + step
                if not 0 <= theme_index < self.tree.topLevelItemCount():
                    return
                theme = self.tree.topLevelItem(theme_index)
                parent.takeChild(index)
                theme.insertChild(theme.childCount() if step < 0 else 0, item)
                theme.setExpanded(True)
        self._restore_expanded(item, expanded)
        self.tree.setCurrentItem(item)
        self.schedule()

    @staticmethod
    def _expanded_state(item):
        return [item.isExpanded()] + [item.child(k).isExpanded() for k in range(item.childCount())]

    @staticmethod
    def _restore_expanded(item, state):
        item.setExpanded(state[0])
        for k in range(item.childCount()):
            item.child(k).setExpanded(state[k + 1] if k + 1 < len(state) else True)

    def rename(self, item, label):
        """Rename a theme or issue (its field name follows until edited by hand)."""
        item.info["label"] = label
        if item.info.get("auto_name", True):
            item.info["name"] = vocab.slug(label, item.kind)
        self._paint_item(item)
        if item is self.tree.currentItem():
            self._show_item(item, None)
        self.schedule()

    def _tree_item_edited(self, item, column):
        if self._loading or not isinstance(item, TreeItem) or item.kind == "role":
            return
        if column == 0:
            text = item.text(0).strip()
            if text and text != item.info.get("label"):
                self.rename(item, text)
            else:
                self._paint_item(item)
        elif column == 1:
            try:
                weight = float(item.text(1).replace(",", "."))
            except ValueError:
                weight = None
            if weight is not None and weight >= 0:
                item.info["weight"] = weight
                if item is self.tree.currentItem():
                    self._show_item(item, None)
                self.schedule()
            self._paint_item(item)

    # ----- the editor pages -----------------------------------------------------------------------
    def _show_item(self, item, _previous=None):
        self._loading = True
        try:
            if item is None:
                self.editorStack.setCurrentWidget(self.emptyPage)
            elif item.kind in ("theme", "issue"):
                self.editorStack.setCurrentWidget(self.groupPage)
                self.groupLabelEdit.setText(item.info.get("label", ""))
                self.groupNameEdit.setText(item.info.get("name", ""))
                self.groupWeightSpin.setValue(float(item.info.get("weight", 1) or 0))
                parent = "composite" if item.kind == "theme" else "theme"
                self.groupWeightSpin.setToolTip(
                    f"Weight of this {item.kind} within its {parent} (relative: 2 counts twice "
                    "as much as 1; 0 leaves it out).")
            else:
                self.editorStack.setCurrentWidget(self.rolePage)
                info = item.info
                layer = self._role_layer(info)
                self.roleLayerCombo.setLayer(layer)
                self.roleFilterWidget.setLayer(layer)
                self.roleFilterWidget.setExpression(info.get("filter") or "")
                for edit in self.roleFilterWidget.findChildren(QLineEdit):
                    edit.setCursorPosition(0)      # show the start of a long expression
                self.roleWeightFieldCombo.setLayer(layer)
                self.roleWeightFieldCombo.setField(info.get("weight_field") or "")
                note = ""
                if layer is None and isinstance(info.get("source"), dict):
                    note = "Reads " + self._source_text(info["source"])
                self.roleSourceNote.setText(note)
                self.roleSourceNote.setVisible(bool(note))
                measure = info.get("measure", _role_default("measure"))
                self.roleMeasureCombo.setCurrentText(measure)
                self._refresh_denominators()
                self.roleDenominatorCombo.setCurrentText(info.get("denominator") or "population")
                self.rolePerSpin.setValue(int(info.get("per", 1000) or 1))
                self.roleScalingCombo.setCurrentText(info.get("scaling", _role_default("scaling")))
                self.roleDirectionCombo.setCurrentText(
                    info.get("direction", _role_default("direction")))
                self.roleWeightSpin.setValue(float(info.get("weight", 1) or 0))
                self._enable_rate_widgets(measure)
        finally:
            self._loading = False
        self._mark_editor()

    def _refresh_denominators(self):
        current = self.roleDenominatorCombo.currentText()
        names = ["population"]
        zones = self.zonesCombo.currentLayer()
        if self.geographyTypeCombo.currentData() != "grid" and zones is not None:
            names += [f.name() for f in zones.fields() if f.isNumeric() and f.name() not in names]
        self.roleDenominatorCombo.blockSignals(True)
        self.roleDenominatorCombo.clear()
        self.roleDenominatorCombo.addItems(names)
        self.roleDenominatorCombo.setCurrentText(current or "population")
        self.roleDenominatorCombo.blockSignals(False)

    def _enable_rate_widgets(self, measure):
        for widget in (self.roleDenominatorCombo, self.roleDenominatorLabel):
            widget.setEnabled(measure in vocab.NEEDS_DENOMINATOR)
        for widget in (self.rolePerSpin, self.rolePerLabel):
            widget.setEnabled(measure in vocab.PER_MEASURES)

    def _current_role(self):
        item = self.tree.currentItem()
        return item if isinstance(item, TreeItem) and item.kind == "role" else None

    def _role_set(self, key, value):
        item = self._current_role()
        if self._loading or item is None:
            return
        if value is None:
            item.info.pop(key, None)
        else:
            item.info[key] = value
        self._paint_item(item)
        self.schedule()

    def _role_layer_changed(self, layer):
        item = self._current_role()
        if self._loading or self._syncing or item is None:
            return
        if layer is None:
            item.info.pop("source", None)
            item.info.pop("_layer_id", None)
        else:
            item.info["source"] = rio.layer_source(layer)
            item.info["_layer_id"] = layer.id()
        self._loading = True
        try:
            self.roleFilterWidget.setLayer(layer)
            self.roleWeightFieldCombo.setLayer(layer)
            self.roleSourceNote.setVisible(False)
        finally:
            self._loading = False
        self._paint_item(item)
        self.schedule()

    def _role_measure_changed(self, measure):
        self._enable_rate_widgets(measure)
        item = self._current_role()
        if self._loading or item is None:
            return
        item.info["measure"] = measure
        if measure in vocab.NEEDS_DENOMINATOR:
            item.info.setdefault("denominator", self.roleDenominatorCombo.currentText() or "population")
        if measure in vocab.PER_MEASURES:
            item.info.setdefault("per", int(self.rolePerSpin.value()))
        self.schedule()

    def _role_weight_changed(self, value):
        self._role_set("weight", float(value))

    def _current_group(self):
        item = self.tree.currentItem()
        return item if isinstance(item, TreeItem) and item.kind != "role" else None

    def _group_label_edited(self, text):
        item = self._current_group()
        if self._loading or item is None:
            return
        item.info["label"] = text
        if item.info.get("auto_name", True):
            item.info["name"] = vocab.slug(text, item.kind)
            self._loading = True
            self.groupNameEdit.setText(item.info["name"])
            self._loading = False
        self._paint_item(item)
        self.schedule()

    def _group_name_edited(self, text):
        item = self._current_group()
        if self._loading or item is None:
            return
        item.info["name"] = text.strip()
        item.info["auto_name"] = False
        self.schedule()

    def _group_weight_changed(self, value):
        item = self._current_group()
        if self._loading or item is None:
            return
        item.info["weight"] = float(value)
        self._paint_item(item)
        self.schedule()

    # ----- geography --------------------------------------------------------------------------
    def _global_layer_changed(self, key, layer):
        if self._loading or self._syncing:
            return
        if layer is None:
            self._sources.pop(key, None)
        else:
            self._sources[key] = rio.layer_source(layer)
        self._global_layer_side_effects(key, layer)
        self.schedule()

    def _global_layer_side_effects(self, key, layer):
        if key == "geography":
            self.zonesIdCombo.setLayer(layer)
        elif key == "population":
            self.populationFieldCombo.setLayer(layer)
            if layer is not None and not self.populationFieldCombo.currentField() and \
                    layer.fields().indexOf("population") >= 0:
                self.populationFieldCombo.setField("population")
        elif key == "admin_areas":
            self.adminNameCombo.setLayer(layer)
        elif key == "study_area":
            self._update_cell_count()

    def _geography_type_changed(self, *_args):
        kind = self.geographyTypeCombo.currentData()
        grid = kind == "grid"
        for widget in (self.gridShapeCombo, self.gridShapeLabel, self.gridSizeSpin,
                       self.gridSizeLabel, self.cellCountLabel):
            widget.setVisible(grid)
        for widget in (self.zonesCombo, self.zonesLabel, self.zonesIdCombo, self.zonesIdLabel):
            widget.setVisible(not grid)
        for widgets, visible in (((self.gridShapeCombo, self.gridSizeSpin), grid),
                                 ((self.zonesCombo, self.zonesIdCombo), not grid)):
            for widget in widgets:
                for part in self._containers[widget]:     # the caption and the field's box
                    if part is not None:
                        part.setVisible(visible)
        self.zonesLabel.setText("Hotspot zones" if kind == "hotspot_zones" else "Zones layer")
        self._update_cell_count()

    def estimated_cells(self):
        """(cells, study area km²) for the grid set up now, or (None, None)."""
        layer = self.studyAreaCombo.currentLayer()
        if layer is None or self.geographyTypeCombo.currentData() != "grid":
            return None, None
        filt = (self._extra.get("study_area") or {}).get("filter")
        key = (layer.id(), filt, layer.featureCount())
        if key not in self._area_cache:
            self._area_cache[key] = rio.study_area_m2(layer, filt)
        area = self._area_cache[key]
        geo = self._extra.get("geography") or {}
        cells = rio.estimate_cells(area, self.gridShapeCombo.currentData(),
                                   self.gridSizeSpin.value(), bool(geo.get("size_is_area")))
        return cells, area / 1e6

    def _update_cell_count(self, *_args):
        cells, km2 = self.estimated_cells()
        if cells is None:
            self.cellCountLabel.setText("Choose a study area to see how many cells the grid has."
                                        if self.geographyTypeCombo.currentData() == "grid" else "")
        else:
            self.cellCountLabel.setText(f"≈ {cells:,} cells over {km2:,.1f} km²")
        self.schedule()

    # ----- checks -----------------------------------------------------------------------------
    def schedule(self, *_args):
        """Check again (and store the set-up in the project) shortly after the last change."""
        if not self._loading:
            self._timer.start()

    def refresh(self, store=True):
        """Run the checks now, show them, and store the set-up in the project."""
        self._timer.stop()
        self.checks = self.compute_checks()
        self._show_checks()
        if store:
            self._store_in_project()
        self._update_buttons()

    def compute_checks(self):
        recipe = self.recipe()
        checks = [Check(p.path, p.message, p.hint) for p in rcp.validate_recipe(recipe)]
        project = QgsProject.instance()
        layers = [lyr for lyr in project.mapLayers().values() if isinstance(lyr, QgsVectorLayer)]
        if not layers:
            checks.insert(0, Check("$", "the project has no layers",
                                   "add the victims, offenders and locations layers (Layer ▸ Add "
                                   "Layer) or open a recipe", "warning"))
        elif not any(lyr.geometryType() == QgsWkbTypes.PointGeometry for lyr in layers):
            checks.insert(0, Check("$", "the project has no point layer",
                                   "add the point layers of victims, offenders and locations",
                                   "warning"))
        analysis_crs = self.crsWidget.crs()
        if analysis_crs.isValid() and analysis_crs.isGeographic():
            checks.append(Check("crs", f"{analysis_crs.authid()} is a geographic CRS (degrees)",
                                "choose a projected CRS in metres, e.g. EPSG:27700"))
        grid = self.geographyTypeCombo.currentData() == "grid"
        if grid and not self._sources.get("study_area"):
            checks.append(Check("study_area", "a grid needs a study area",
                                "choose the polygon layer of the area being assessed"))
        study = self.studyAreaCombo.currentLayer()
        if grid and study is not None and study.crs().isGeographic() and not analysis_crs.isValid():
            checks.append(Check("crs", f"the study area is in a geographic CRS "
                                       f"({study.crs().authid()}); cell sizes would be in degrees",
                                "choose a projected analysis CRS, e.g. EPSG:27700"))
        cells, _ = self.estimated_cells()
        if cells and cells > MAX_CELLS_WARNING:
            checks.append(Check("geography.size", f"about {cells:,} cells: the run will be slow",
                                "use bigger cells", "warning"))
        if not self.outputFolderWidget.filePath().strip():
            checks.append(Check("output.folder", "no output folder", "choose where results go"))
        for path, source in rio.source_dicts(recipe):
            if path.startswith("compare") or path == "population.ancillary":
                continue
            checks.extend(self._source_checks(path, source))
        checks.extend(self._denominator_checks(recipe, grid))
        return checks

    def _denominator_checks(self, recipe, grid):
        """A rate needs its denominator on the zones: population (from the population layer)
        or a field of the zones layer."""
        out = []
        zones = None if grid else self.zonesCombo.currentLayer()
        zone_fields = set(zones.fields().names()) if zones is not None else set()
        has_population = bool(self._sources.get("population"))
        for t, theme in enumerate(recipe.get("themes") or []):
            for i, issue in enumerate(theme.get("issues") or []):
                for role, spec in (issue.get("roles") or {}).items():
                    if spec.get("measure") not in vocab.NEEDS_DENOMINATOR:
                        continue
                    denominator = spec.get("denominator") or "population"
                    if denominator == "population" and has_population:
                        continue
                    if denominator in zone_fields:
                        continue
                    if grid or zones is not None:
                        where = "population layer" if denominator == "population" else \
                            "zones layer"
                        out.append(Check(
                            f"themes[{t}].issues[{i}].roles.{role}.denominator",
                            f"measure {spec['measure']!r} needs the denominator {denominator!r}",
                            f"choose the {where} (Geography tab), or measure volume"))
        return out

    def _source_checks(self, path, source):
        where = f"{path}.source"
        if "import" in source:
            if not os.path.exists(source.get("path", "")):
                return [Check(f"{where}.path", f"file not found: {source.get('path')}")]
            return []
        if path in GLOBAL_SOURCES:
            layer = self._global_combos()[path].currentLayer()
        else:
            t, i, role, _ = rio.split_path(path)
            item = self._role_item(t, i, role)
            layer = self._role_layer(item.info) if item is not None else None
        if layer is None:
            if "path" in source and os.path.exists(source["path"]):
                return [Check(where, f"{self._source_text(source)} is not a layer of the project",
                              "the recipe reads it from its file; add it to the project to pick "
                              "fields", "warning")]
            if "path" in source:
                return [Check(f"{where}.path", f"file not found: {source['path']}",
                              "pick the layer again")]
            if "project_layer" in source:
                return [Check(f"{where}.project_layer",
                              f"layer {source['project_layer']!r} is no longer in the project",
                              "pick the layer again")]
            return []
        out = []
        if not layer.crs().isValid():
            out.append(Check(where, f"layer {layer.name()!r} has no CRS", "set the layer's CRS"))
        elif layer.crs().isGeographic():
            out.append(Check(where, f"layer {layer.name()!r} is in a geographic CRS "
                                    f"({layer.crs().authid()}, degrees)",
                             "it is reprojected; a projected copy is better", "warning"))
        return out

    def _role_item(self, t, i, role):
        if t is None or t >= self.tree.topLevelItemCount():
            return None
        theme_item = self.tree.topLevelItem(t)
        if i is None:
            return theme_item
        if i >= theme_item.childCount():
            return None
        issue_item = theme_item.child(i)
        if role is None:
            return issue_item
        for r in range(issue_item.childCount()):
            if issue_item.child(r).info["role"] == role:
                return issue_item.child(r)
        return None

    _GLOBAL_WIDGETS = (
        ("name", "recipeNameEdit"), ("period", "periodEdit"), ("crs", "crsWidget"),
        ("study_area", "studyAreaCombo"), ("geography.shape", "gridShapeCombo"),
        ("geography.size", "gridSizeSpin"), ("geography.source", "zonesCombo"),
        ("geography.id_field", "zonesIdCombo"), ("geography", "geographyTypeCombo"),
        ("population.field", "populationFieldCombo"), ("population", "populationCombo"),
        ("admin_areas.name_field", "adminNameCombo"), ("admin_areas", "adminCombo"),
        ("output", "outputFolderWidget"), ("aggregation.issue", "aggIssueCombo"),
        ("aggregation.theme", "aggThemeCombo"), ("aggregation.composite", "aggCompositeCombo"),
        ("aggregation", "aggCompositeCombo"), ("hotspots", "hotspotsCheck"), ("themes", "tree"),
    )
    _ROLE_WIDGETS = {"source": "roleLayerCombo", "filter": "roleFilterWidget",
                     "weight_field": "roleWeightFieldCombo", "measure": "roleMeasureCombo",
                     "denominator": "roleDenominatorCombo", "per": "rolePerSpin",
                     "scaling": "roleScalingCombo", "direction": "roleDirectionCombo",
                     "weight": "roleWeightSpin"}
    _GROUP_WIDGETS = {"name": "groupNameEdit", "label": "groupLabelEdit", "weight": "groupWeightSpin"}

    def locate(self, path):
        """(tree item or None, widget object name or None) for a recipe problem path."""
        t, i, role, rest = rio.split_path(path)
        if t is not None:
            item = self._role_item(t, i, role)
            key = rest.split(".")[0].split("[")[0] if rest else ""
            if item is None:
                return None, "tree"
            if item.kind == "role":
                return item, self._ROLE_WIDGETS.get(key, "roleLayerCombo")
            return item, self._GROUP_WIDGETS.get(key)
        if path.startswith("themes"):
            return None, "tree"
        for prefix, widget in self._GLOBAL_WIDGETS:
            if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
                if prefix == "geography" and self.geographyTypeCombo.currentData() != "grid":
                    return None, "zonesCombo" if "source" in path else "geographyTypeCombo"
                return None, widget
        return None, None

    def _show_checks(self):
        for label in set(self._problem_labels.values()):
            label.setVisible(False)
            label.setText("")
        self._clear_item_marks()
        self.problemsList.clear()
        error_icon = QgsApplication.getThemeIcon("/mIconWarning.svg")
        info_icon = QgsApplication.getThemeIcon("/mIconInfo.svg")
        tab_errors = {}
        for check in self.checks:
            item, widget_name = self.locate(check.path)
            where = self._where(check.path, item)
            kind = "Error" if check.level == "error" else "Note"
            entry = QListWidgetItem(error_icon if check.level == "error" else info_icon,
                                    f"{kind} – {where}: {check.text()}")
            entry.setData(Qt.UserRole, check.path)
            entry.setToolTip(check.path)
            self.problemsList.addItem(entry)
            node = item
            while node is not None:
                node.setIcon(0, error_icon if check.level == "error" else info_icon)
                if node is item:
                    tip = node.toolTip(0)
                    node.setToolTip(0, (tip + "\n" if tip else "") + check.text())
                elif not node.toolTip(0):
                    node.setToolTip(0, "Something below needs attention")
                node = node.parent()
            if widget_name and item is None:
                self._mark_widget(getattr(self, widget_name), check)
            tab = self._tab_of(widget_name, item)
            if tab is not None:
                tab_errors[tab] = tab_errors.get(tab, False) or check.level == "error"
        for index in range(self.tabs.count()):
            page = self.tabs.widget(index)
            if page in tab_errors:
                self.tabs.setTabIcon(index, error_icon if tab_errors[page] else info_icon)
            else:
                self.tabs.setTabIcon(index, QIcon())
        errors = sum(1 for c in self.checks if c.level == "error")
        notes = len(self.checks) - errors
        if errors:
            title = f"Checks: {errors} to fix before Run, {notes} note(s)"
        else:
            title = "Checks: ready to run" + (f", {notes} note(s)" if notes else "")
        self.problemsTitle.setText(title)
        self.problemsList.setVisible(bool(self.checks))
        self._mark_editor()

    def _where(self, path, item):
        if item is None:
            return path if path != "$" else "project"
        names = []
        node = item
        while node is not None:
            names.insert(0, ROLE_TITLES[node.info["role"]] if node.kind == "role"
                         else (node.info.get("label") or node.info.get("name") or "?"))
            node = node.parent()
        rest = rio.split_path(path)[3]
        return " ▸ ".join(names) + (f" ({rest})" if rest else "")

    def _tab_of(self, widget_name, item):
        if item is not None:
            return self.indicatorsTab
        if widget_name is None:
            return None
        widget = getattr(self, widget_name)
        for page in (self.indicatorsTab, self.geographyTab, self.runTab):
            if page.isAncestorOf(widget):
                return page
        return None

    def _clear_item_marks(self):
        def clear(node):
            node.setIcon(0, QIcon())
            node.setToolTip(0, "")
            for k in range(node.childCount()):
                clear(node.child(k))
        for t in range(self.tree.topLevelItemCount()):
            clear(self.tree.topLevelItem(t))

    def _mark_widget(self, widget, check):
        label = self._problem_labels.get(widget)
        if label is None:
            return
        text = ("⚠ " if check.level == "error" else "ℹ ") + check.text()
        label.setText(label.text() + "\n" + text if label.text() else text)
        label.setStyleSheet("color: #b00020;" if check.level == "error" else "color: #5a5a5a;")
        label.setVisible(True)

    def _mark_editor(self):
        """Problems of the theme / issue / role being edited, under its widgets."""
        for name in list(self._ROLE_WIDGETS.values()) + list(self._GROUP_WIDGETS.values()):
            label = self._problem_labels.get(getattr(self, name))
            if label is not None:
                label.setVisible(False)
                label.setText("")
        current = self.tree.currentItem()
        if current is None:
            return
        for check in self.checks:
            item, widget_name = self.locate(check.path)
            if item is current and widget_name:
                self._mark_widget(getattr(self, widget_name), check)

    def problem_text(self, widget_name):
        """The problem text shown under a widget ("" when none)."""
        label = self._problem_labels.get(getattr(self, widget_name))
        return label.text() if label is not None and not label.isHidden() else ""

    def _go_to_problem(self, entry):
        item, widget_name = self.locate(entry.data(Qt.UserRole))
        if item is not None:
            self.tabs.setCurrentWidget(self.indicatorsTab)
            self.tree.setCurrentItem(item)
        if widget_name:
            tab = self._tab_of(widget_name, item)
            if tab is not None:
                self.tabs.setCurrentWidget(tab)
            getattr(self, widget_name).setFocus()

    def errors(self):
        return [c for c in self.checks if c.level == "error"]

    def _update_buttons(self):
        idle = not self._running
        self.runButton.setEnabled(idle and not self.errors())
        self.runButton.setToolTip(
            "Check the data, then run every stage and add the styled results to the project in "
            "one group." if not self.errors() else
            f"Fix the {len(self.errors())} error(s) under Checks first.")
        self.cancelButton.setEnabled(self._running)
        for widget in (self.indicatorsTab, self.geographyTab, self.outputFolderWidget,
                       self.aggIssueCombo, self.aggThemeCombo, self.aggCompositeCombo,
                       self.hotspotsCheck, self.newButton, self.loadButton, self.recipeNameEdit,
                       self.periodEdit):
            widget.setEnabled(idle)
        self.exportLayoutButton.setEnabled(idle and self._algorithm(EXPORT_ALG) is not None
                                           and self.export_parameters() is not None)
        self.openLogButton.setEnabled(self._log_path() is not None)

    # ----- keeping the set-up in the project ------------------------------------------------------
    def state(self):
        return {"recipe": self.recipe(), "layer_ids": self.layer_ids(),
                "recipe_path": self.recipe_path}

    def _store_in_project(self):
        """Keep the set-up in the project's custom properties (only when it changed, and not
        the untouched new set-up: opening or clearing a project must not mark it modified)."""
        if self._loading:
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
        except ValueError:
            self._message("The Composite Index set-up kept in this project is damaged; starting "
                          "a new one.", Qgis.Warning)
            return False
        self.recipe_path = state.get("recipe_path")
        self._stored = text
        self.set_recipe(state.get("recipe") or {}, state.get("layer_ids") or {},
                        add_missing_layers=False)
        return True

    def _project_read(self, *_args):
        if self._running:
            self._project_replaced = True
            return
        self._stored = None
        self._area_cache.clear()
        self._restore_or_new()

    def _project_cleared(self):
        if self._running:
            self._project_replaced = True
            return
        self._stored = None
        self.last_results = None
        self._area_cache.clear()
        self.new_recipe()

    def _layers_will_be_removed(self, _ids):
        self._syncing = True

    def _layers_removed(self, _ids):
        """A layer removed while selected: the combo goes empty (never to another layer), the
        recipe keeps the file it named, and the checks say so."""
        self._loading = True
        try:
            for key, combo in self._global_combos().items():
                source = self._sources.get(key)
                combo.setLayer(rio.find_layer(source) if source else None)
                self._global_layer_side_effects(key, combo.currentLayer())
        finally:
            self._loading = False
            self._syncing = False
        for t in range(self.tree.topLevelItemCount()):
            theme_item = self.tree.topLevelItem(t)
            for i in range(theme_item.childCount()):
                issue_item = theme_item.child(i)
                for r in range(issue_item.childCount()):
                    self._paint_item(issue_item.child(r))
        self._area_cache.clear()
        self._show_item(self.tree.currentItem(), None)
        self._update_cell_count()
        if not self._running:
            self.refresh()

    # ----- files ----------------------------------------------------------------------------
    def load(self, path):
        """Open a recipe file (paths relative to it). Problems in it are shown, not raised."""
        try:
            recipe = rcp.load_recipe(path)
        except rcp.RecipeError as err:
            self._message(str(err), Qgis.Critical)
            return False
        if not isinstance(recipe, dict):
            self._message(f"{path} is not a recipe (a JSON object).", Qgis.Critical)
            return False
        base = os.path.dirname(os.path.abspath(path))
        previous = (self.state(), self.recipe_path)
        try:
            recipe = rio.absolutize(recipe, base)
            if not isinstance(recipe.get("output"), dict) or not recipe["output"].get("folder"):
                recipe["output"] = dict(recipe.get("output") or {},
                                        folder=os.path.join(base, "output"))
            self.recipe_path = os.path.abspath(path)
            self.set_recipe(recipe)
        except (AttributeError, TypeError, ValueError, KeyError):
            problems = rcp.validate_recipe(rcp.load_recipe(path))
            self._loading = False
            self.recipe_path = previous[1]
            self.set_recipe(previous[0]["recipe"], previous[0]["layer_ids"],
                            add_missing_layers=False)
            self._message(f"{os.path.basename(path)} cannot be shown in the Builder: "
                          + "; ".join(str(p) for p in problems[:5])
                          + (" …" if len(problems) > 5 else ""), Qgis.Critical)
            return False
        self._message(f"Opened {os.path.basename(path)}", Qgis.Info)
        return True

    def save(self, path):
        """Write the recipe to ``path`` with paths relative to its folder."""
        base = os.path.dirname(os.path.abspath(path))
        recipe = self.recipe(base_dir=base)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(recipe, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        self.recipe_path = os.path.abspath(path)
        self._store_in_project()
        self._message(f"Recipe saved: {path}", Qgis.Success)
        return path

    def _ask_load(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open a recipe", self._dialog_dir(),
                                              "Recipes (*.json)")
        if path:
            self.load(path)

    def _ask_save(self):
        path, _ = QFileDialog.getSaveFileName(self, "Save the recipe", self.recipe_path or
                                              os.path.join(self._dialog_dir(), "recipe.json"),
                                              "Recipes (*.json)")
        if path:
            if not path.lower().endswith(".json"):
                path += ".json"
            self.save(path)

    def _dialog_dir(self):
        if self.recipe_path:
            return os.path.dirname(self.recipe_path)
        home = QgsProject.instance().homePath()
        return home or os.path.expanduser("~")

    # ----- running ----------------------------------------------------------------------------
    def pump(self):
        """Let Qt repaint and take clicks (Cancel) during a run, at most every 50 ms."""
        now = time.monotonic()
        if now - self._last_pump >= 0.05:
            self._last_pump = now
            QCoreApplication.processEvents()

    def log(self, kind, text):
        line = f"{time.strftime('%H:%M:%S')} {kind:7s} {text}"
        self.last_log += line + "\n"
        self.logView.appendPlainText(line)

    @staticmethod
    def _algorithm(alg_id):
        return QgsApplication.processingRegistry().algorithmById(alg_id)

    def output_folder(self):
        folder = self.outputFolderWidget.filePath().strip()
        return os.path.abspath(os.path.expanduser(folder)) if folder else None

    def data_checks(self, recipe_path):
        """The runner's own data checks (files, layers, fields) as Checks."""
        from composite_index_plugin.processing.recipe_runner import RecipeRunner

        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        try:
            runner = RecipeRunner(recipe_path, context, QgsProcessingFeedback())
            problems = runner.check_data()
        except rcp.RecipeError as err:
            problems = err.problems
        return [Check(p.path, p.message, p.hint) for p in problems]

    def run(self):
        """Check, then run the recipe; returns True when the results were added to the project."""
        if self._running:
            self._message("A Composite Index run is already going: wait for it or press Cancel.",
                          Qgis.Warning)
            return False
        if self._algorithm(RUN_ALG) is None:
            self._message("The Composite Index Processing provider is not loaded.", Qgis.Critical)
            return False
        self.refresh()
        if self.errors():
            self._message(f"Fix the {len(self.errors())} problem(s) listed under Checks before "
                          "running.", Qgis.Warning)
            return False
        folder = self.output_folder()
        recipe = self.recipe()
        recipe.setdefault("output", {})["folder"] = "."
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = os.path.join(tmp, "recipe.json")
            with open(tmp_path, "w", encoding="utf-8") as handle:
                json.dump(recipe, handle)
            data = self.data_checks(tmp_path)
        if data:
            self.checks = self.checks + data
            self._show_checks()
            self._update_buttons()
            self._message(f"The data have {len(data)} problem(s), listed under Checks.",
                          Qgis.Warning)
            return False
        staging = self.staging_folder(folder)
        try:
            shutil.rmtree(staging, ignore_errors=True)
            os.makedirs(staging)
            recipe_path = os.path.join(staging, "recipe.json")
            with open(recipe_path, "w", encoding="utf-8") as handle:
                json.dump(recipe, handle, indent=2, ensure_ascii=False)
        except OSError as err:
            self._message(f"Cannot write next to the output folder {folder}: {err.strerror}",
                          Qgis.Critical)
            return False
        return self._run(recipe_path, folder, staging, recipe)

    @staticmethod
    def staging_folder(folder):
        """Where a run writes before it is finished: a hidden sibling of the output folder
        (same depth, so the relative paths inside the written project stay right when the
        files move into the output folder)."""
        parent, name = os.path.split(os.path.normpath(folder))
        if not name:                                   # a drive or file-system root
            return os.path.join(folder, ".composite_index_running")
        return os.path.join(parent, f".{name}.composite_index_running")

    def _run(self, recipe_path, folder, staging, recipe):
        import processing

        self._running = True
        self._project_replaced = False
        self._update_buttons()
        self.logView.clear()
        self.last_log = ""
        self.progressBar.setValue(0)
        feedback = _RunFeedback(self)
        self._feedback = feedback
        self.log("INFO", f"Writing to {staging}; moved to {folder} when the run has finished.")
        # Shown in QGIS's task manager / status bar, as Processing does for main-thread work.
        task = QgsProxyProgressTask(f"Composite Index: {recipe.get('name') or 'assessment'}")
        QgsApplication.taskManager().addTask(task)
        feedback.progressChanged.connect(task.setProxyProgress)
        self._task = task
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        ok = False
        error = None
        result = None
        try:
            result = processing.run(RUN_ALG, {"RECIPE": recipe_path, "OUTPUT_FOLDER": staging},
                                    context=context, feedback=feedback)
            ok = not feedback.isCanceled()
        except QgsProcessingException as err:
            error = str(err)
        except Exception as err:  # noqa: BLE001 - never leave the window locked
            error = f"{type(err).__name__}: {err}"
        try:
            if ok and self._project_replaced:
                final = self.publish(staging, folder)
                self.log("WARNING", "The project was closed during the run: the results were "
                                    f"not added to it; they are in {final} (assessment.qgz).")
                self._message(f"The project was closed during the run; the results are in "
                              f"{final} (open assessment.qgz).", Qgis.Warning)
                self.last_results = None
                self.progressBar.setValue(100)
            elif ok:
                try:
                    self._remove_group(self._group_name(recipe))   # releases the old files
                    final = self.publish(staging, folder)
                    added = self.add_results(final, recipe)
                except Exception as err:  # noqa: BLE001 - shown to the user; the results stay on disk
                    ok, error = False, f"the results could not be added to the project: {err}"
                else:
                    self.progressBar.setValue(100)
                    skipped = (result or {}).get("SKIPPED") or ""
                    self.log("INFO", f"Added {added} layer(s) to the project; results in "
                                     f"{final}" + (f"; stages skipped: {skipped}" if skipped
                                                   else ""))
                    self._message(f"Assessment finished: {added} layers added.", Qgis.Success)
            if not ok:
                kind = "cancelled" if feedback.isCanceled() else "failed"
                if feedback.isCanceled():
                    line = ("Cancelled by the user: nothing was added to the project and the "
                            "output folder was not touched.")
                    self.log("INFO", line)
                    self._message("Run cancelled: nothing was added to the project and the "
                                  f"output folder was not touched (log: run_{kind}.log).",
                                  Qgis.Info)
                else:
                    detail = self._error_text(error, feedback)
                    line = (f"Failed: {detail}. Nothing was added to the project and the output "
                            "folder was not touched.")
                    self.log("ERROR", line)
                    self._message(f"The run failed: {detail} (log: run_{kind}.log in the output "
                                  "folder, and the Output & log tab)", Qgis.Critical)
                self._keep_log(staging, folder, kind, line)
                shutil.rmtree(staging, ignore_errors=True)
                self.progressBar.setValue(0)
        finally:
            task.finalize(ok)
            self._task = None
            self._running = False
            self._feedback = None
            self._update_buttons()
            self.runFinished.emit(ok)
        return ok

    def publish(self, staging, folder):
        """Move a finished run from the staging folder into the output folder (replacing the
        files of an earlier run, and their SQLite side files). Returns the folder the results
        are in: the output folder, or the staging folder when a file could not be replaced
        (e.g. still open in another program on Windows)."""
        os.makedirs(folder, exist_ok=True)
        try:
            for name in sorted(os.listdir(staging)):
                source, target = os.path.join(staging, name), os.path.join(folder, name)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                for side in ("-wal", "-shm", "-journal"):
                    if os.path.exists(target + side):
                        os.remove(target + side)
                os.replace(source, target)
        except OSError as err:
            self.log("WARNING", f"Could not move the results into {folder} ({err}); they stay "
                                f"in {staging}.")
            return staging
        shutil.rmtree(staging, ignore_errors=True)
        log_path = os.path.join(folder, "run.log")
        try:
            with open(log_path, encoding="utf-8") as handle:
                text = handle.read()
            with open(log_path, "w", encoding="utf-8") as handle:
                handle.write(text.replace(staging, folder))
        except OSError:
            pass
        return folder

    def _keep_log(self, staging, folder, kind, line):
        """A run that did not finish leaves its log as run_<kind>.log in the output folder."""
        try:
            os.makedirs(folder, exist_ok=True)
            source = os.path.join(staging, "run.log")
            text = ""
            if os.path.exists(source):
                with open(source, encoding="utf-8") as handle:
                    text = handle.read()
            with open(os.path.join(folder, f"run_{kind}.log"), "w", encoding="utf-8") as handle:
                handle.write(text + f"{time.strftime('%H:%M:%S')} BUILDER {line}\n")
        except OSError as err:
            self.log("WARNING", f"Could not write the log into {folder}: {err}")

    @staticmethod
    def _error_text(error, feedback):
        """One line for the message bar: the last error reported (the exception's own message
        when it is a traceback; the whole text is in the log)."""
        reported = [e for e in feedback.errors if e and "There were errors" not in e]
        text = (reported[-1] if reported else (error or "")).strip()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            return "unknown error"
        if "Traceback (most recent call last)" in lines[0] or lines[0].startswith("Traceback"):
            head = lines[0].split("Traceback")[0].strip()
            return (head + " " if head else "") + lines[-1]
        return lines[0]

    def cancel(self):
        if self._feedback is not None:
            self.log("INFO", "Cancel requested: stopping after the current step.")
            self._feedback.cancel()
            self.cancelButton.setEnabled(False)

    def is_running(self):
        return self._running

    @staticmethod
    def _group_name(recipe):
        name = recipe.get("name") or "assessment"
        period = recipe.get("period")
        suffix = f" ({period})" if period and str(period) not in name else ""
        return f"Composite Index – {name}{suffix}"

    @staticmethod
    def _remove_group(name):
        """Remove a group of results (and its layers) from the project, closing their files."""
        project = QgsProject.instance()
        root = project.layerTreeRoot()
        group = root.findGroup(name)
        if group is None:
            return
        ids = [node.layerId() for node in group.findLayers()]
        root.removeChildNode(group)
        project.removeMapLayers(ids)
        QCoreApplication.processEvents()

    @staticmethod
    def result_tables(gpkg):
        """{table: uri} of a results GeoPackage."""
        from osgeo import ogr

        if not os.path.exists(gpkg):
            return {}
        ds = ogr.Open(gpkg)
        if ds is None:
            return {}
        names = [ds.GetLayerByIndex(k).GetName() for k in range(ds.GetLayerCount())]
        ds = None
        return {name: f"{gpkg}|layername={name}" for name in names}

    def add_results(self, folder, recipe):
        """Add the run's styled layers to the project in one group (replacing the group of an
        earlier run of the same recipe). All or nothing. Returns the number of layers."""
        from composite_index_plugin.processing import project_writer

        gpkg = os.path.join(folder, (recipe.get("output") or {}).get("geopackage", "results.gpkg"))
        layers = self.result_tables(gpkg)
        admin = None
        if self._sources.get("admin_areas"):
            admin = rio.open_source(self._sources["admin_areas"]) or self.adminCombo.currentLayer()
        styled = project_writer.result_layers(layers, None, admin)
        if not styled:
            raise RuntimeError(f"no result layer in {gpkg}")
        project = QgsProject.instance()
        root = project.layerTreeRoot()
        name = self._group_name(recipe)
        old = root.findGroup(name)
        added = []
        group = None
        try:
            group = root.insertGroup(0, name + " (adding…)")
            for layer, visible in reversed(styled):
                project.addMapLayer(layer, False)
                added.append(layer.id())
                node = group.addLayer(layer)
                node.setItemVisibilityChecked(visible)
        except Exception:
            if group is not None:
                root.removeChildNode(group)
            project.removeMapLayers(added)
            raise
        if old is not None:
            old_ids = [node.layerId() for node in old.findLayers()]
            root.removeChildNode(old)
            project.removeMapLayers([i for i in old_ids if i not in added])
        group.setName(name)
        group.setExpanded(True)
        self.last_results = {"folder": folder, "gpkg": gpkg, "layers": layers,
                             "recipe": os.path.join(folder, "recipe.json"),
                             "title": recipe.get("name") or "Strategic assessment"}
        return len(styled)

    # ----- other tools ------------------------------------------------------------------------
    def export_parameters(self):
        """Parameters of compositeindex:exportassessment for the last run's results (None
        when there is no run with area summaries)."""
        results = self.last_results
        if results is None:
            folder = self.output_folder()
            gpkg = os.path.join(folder, "results.gpkg") if folder else None
            if not gpkg or not os.path.exists(gpkg):
                return None
            results = {"folder": folder, "gpkg": gpkg, "layers": self.result_tables(gpkg),
                       "recipe": os.path.join(folder, "recipe.json"),
                       "title": self.recipeNameEdit.text().strip() or "Strategic assessment"}
        layers = results["layers"]
        zones = layers.get("hotspots") or layers.get("index")
        if zones is None or "area_summary" not in layers:
            return None
        params = {"ZONES": zones, "AREAS": layers["area_summary"], "AREA_NAME_FIELD": "area_name",
                  "TITLE": results["title"],
                  "PDF": os.path.join(results["folder"], "assessment.pdf")}
        if "hotspot_zones" in layers:
            params["HOTSPOT_ZONES"] = layers["hotspot_zones"]
        if os.path.exists(results["recipe"]):
            params["RECIPE"] = results["recipe"]
        return params

    def export_layout(self):
        params = self.export_parameters()
        if self._algorithm(EXPORT_ALG) is None or params is None:
            self._message("Run the assessment (with areas) first; the layout is made from its "
                          "results.", Qgis.Warning)
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

        params = {"RECIPE": self.recipe_path} if self.recipe_path else {}
        processing.execAlgorithmDialog(RUN_ALG, params)

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
            self._message("No stages model is shipped in this version; the user guide explains "
                          "how to build one in the Graphical Modeler.", Qgis.Info)
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
        dialog.setWindowTitle("Composite Index — user guide")
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

    def _message(self, text, level=Qgis.Info):
        if self.iface is not None:
            self.iface.messageBar().pushMessage("Composite Index", text, level,
                                                10 if level in (Qgis.Info, Qgis.Success) else 0)

    def closeEvent(self, event):
        if self._running:
            self.cancel()
        super().closeEvent(event)
