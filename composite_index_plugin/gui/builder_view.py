"""The Builder's widgets, bound to paths of the recipe model (``builder_model``).

Each widget of the window is listed once below with the JSON path it edits and its kind; the
kind says how the widget is read and written. Widgets of the theme / issue and role pages are
bound relative to the item selected in the tree. The same table places every problem under the
widget whose path it names. Nothing here decides what is valid: choices and their labels come
from the model, problems from the checks (``builder_checks``).
"""
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFieldProxyModel,
    QgsMapLayerProxyModel,
    QgsProject,
)
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QFrame,
    QHeaderView,
    QLineEdit,
    QMenu,
    QScrollArea,
    QTreeWidgetItem,
)

from composite_index_plugin.core import vocab
from composite_index_plugin.gui import recipe_io as rio
from composite_index_plugin.gui.builder_bindings import (
    GLOBAL,
    GROUP,
    KINDS,
    ROLE,
    ROLE_TITLES,
    number,
    write_text,
)
from composite_index_plugin.gui.builder_model import role_choices
from composite_index_plugin.gui.builder_problems import ProblemDisplay
from composite_index_plugin.gui.recipe_paths import source_text, split_path
from composite_index_plugin.i18n import tr, translated


class BuilderView:
    """The widgets of ``dock`` (made from ui/builder_dock.ui) bound to ``dock.model``."""

    def __init__(self, dock):
        self.dock = dock
        self.model = dock.model
        self.loading = False          # widgets are being filled from the model: ignore them
        self._current = None          # uid of the theme, issue or role being edited
        self.items = {}               # node uid -> tree item
        self.expanded = {}            # node uid -> expanded
        self._set_up()

    def w(self, name):
        return getattr(self.dock, name)

    @property
    def current(self):
        """The path of the theme, issue or role being edited (None: nothing)."""
        node = self.model.by_uid(self._current) if self._current is not None else None
        return self.model.path_of(node) if node is not None else None

    # ----- set-up ----------------------------------------------------------------------------
    def _set_up(self):
        d = self.dock
        for name, path, kind in GLOBAL:
            if kind == "choice":
                self._fill_choices(self.w(name), self.model.choices(path))
        for name, key, kind in ROLE:
            if kind == "choice":
                self._fill_choices(self.w(name), role_choices(key))
        d.roleLayerCombo.setFilters(QgsMapLayerProxyModel.Filter.PointLayer)
        for combo in (d.studyAreaCombo, d.zonesCombo, d.populationCombo, d.adminCombo):
            combo.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        for combo in (d.roleLayerCombo, d.studyAreaCombo, d.zonesCombo, d.populationCombo,
                      d.adminCombo):
            combo.setAllowEmptyLayer(True)
            combo.setLayer(None)
        d.roleWeightFieldCombo.setFilters(QgsFieldProxyModel.Filter.Numeric)
        d.populationFieldCombo.setFilters(QgsFieldProxyModel.Filter.Numeric)
        for combo in (d.roleWeightFieldCombo, d.populationFieldCombo, d.zonesIdCombo,
                      d.adminNameCombo):
            combo.setAllowEmptyFieldName(True)
        d.outputFolderWidget.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        d.outputFolderWidget.setDialogTitle(tr("Output folder of the assessment"))
        self._crs_tip = d.crsWidget.toolTip()       # the widget replaces it on every change
        d.crsWidget.crsChanged.connect(self._crs_tooltip)
        d.crsWidget.setOptionVisible(d.crsWidget.CrsOption.CrsNotSet, True)
        d.crsWidget.setNotSetText(tr("Same as the study area"))
        d.crsWidget.setCrs(QgsCoordinateReferenceSystem())
        self._crs_tooltip()
        header = d.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        menu = QMenu(d.addRoleButton)
        for role in vocab.ROLES:
            action = menu.addAction(translated(ROLE_TITLES[role]))
            action.setToolTip(tr("Add the {role} role to the selected issue").format(
                role=translated(ROLE_TITLES[role]).lower()))
            action.triggered.connect(lambda _checked=False, r=role: d.add_role(r))
        d.addRoleButton.setMenu(menu)
        d.progressBar.setRange(0, 100)
        d.progressBar.setValue(0)
        self.problems = ProblemDisplay(self)
        # The editor pages scroll rather than squeeze their rows when the dock is short.
        index = d.indicatorsLayout.indexOf(d.editorStack)
        d.indicatorsLayout.removeWidget(d.editorStack)
        scroll = QScrollArea()
        scroll.setObjectName("editorScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(d.editorStack)
        d.indicatorsLayout.insertWidget(index, scroll)
        d.indicatorsLayout.setStretchFactor(d.tree, 2)
        d.indicatorsLayout.setStretchFactor(scroll, 3)
        d.editorScroll = scroll
        self._connect()

    @staticmethod
    def _fill_choices(combo, choices):
        combo.clear()
        for k, (word, label, tip) in enumerate(choices):   # words of core.vocab: translated
            combo.addItem(translated(label), word)
            if tip:
                combo.setItemData(k, translated(tip), Qt.ItemDataRole.ToolTipRole)

    def _crs_tooltip(self, *_args):
        crs = self.dock.crsWidget.crs()
        self.dock.crsWidget.setToolTip(self._crs_tip + (
            "\n" + tr("Now: {crs}").format(crs=crs.userFriendlyIdentifier())
            if crs.isValid() else ""))

    def _connect(self):
        for name, path, kind in GLOBAL:
            widget = self.w(name)
            if kind == "layer":
                self._connect_layer(widget, path.split(".")[0])
            else:
                getattr(widget, KINDS[kind][0]).connect(
                    lambda *_a, n=name, p=path, k=kind: self._edited(p, KINDS[k][1](self.w(n))))
        for table, page in ((ROLE, "role"), (GROUP, "group")):
            for name, key, kind in table:
                widget = self.w(name)
                if kind == "layer":
                    widget.layerChanged.connect(lambda layer: self._role_layer_picked(layer))
                else:
                    getattr(widget, KINDS[kind][0]).connect(
                        lambda *_a, n=name, key=key, k=kind, page=page: self._item_edited(
                            page, key, KINDS[k][1](self.w(n))))

    def _connect_layer(self, combo, key):
        combo.layerChanged.connect(lambda layer: self.dock.layer_picked(key, layer))

    # ----- widgets -> model ------------------------------------------------------------------
    def _edited(self, path, value):
        if self.loading:
            return
        self.model.set(path, value)
        if path == "geography.type":
            self.show_geography()
        if path.startswith("geography"):
            self.dock.update_cell_count()
        self.dock.schedule()

    def _item_edited(self, page, key, value):
        node = self.model.find(self.current) if self.current else None
        if self.loading or node is None or (node.kind == "role") != (page == "role"):
            return
        self.model.set(f"{self.current}.{key}", value)
        if key == "label":                          # the name follows the label
            self.loading = True
            try:
                write_text(self.dock.groupNameEdit, node.data.get("name"))
            finally:
                self.loading = False
        elif page == "role" and key in ("measure", "scaling"):
            self._role_state(self.current)          # what applies to this measure
        self.paint(node)
        self.dock.schedule()

    def _role_layer_picked(self, layer):
        if self.loading or self.dock.syncing or self.current is None:
            return
        node = self.model.find(self.current)
        if node is None or node.kind != "role":
            return
        self.model.set_source(self.current, rio.layer_source(layer) if layer else None,
                              layer.id() if layer else None)
        self.loading = True
        try:
            self.dock.roleFilterWidget.setLayer(layer)
            self.dock.roleWeightFieldCombo.setLayer(layer)
            self.dock.roleSourceNote.setVisible(False)
        finally:
            self.loading = False
        self.paint(node)
        self.dock.schedule()

    # ----- model -> widgets ------------------------------------------------------------------
    def layer(self, path):
        """The project layer a global section or role reads (by id, else by its source)."""
        layer_id = self.model.layer_id(path)
        project = QgsProject.instance()
        if layer_id and project.mapLayer(layer_id) is not None:
            return project.mapLayer(layer_id)
        return rio.find_layer(self.model.source(path))

    def fill(self):
        """Every widget from the model; the tree rebuilt."""
        self.loading = True
        try:
            for name, path, kind in GLOBAL:
                widget = self.w(name)
                if kind == "layer":
                    key = path.split(".")[0]
                    widget.setLayer(self.layer(key) if self.model.has_source(key) else None)
                    self.layer_side_effects(key, widget.currentLayer())
                elif kind == "text":
                    write_text(widget, self.model.get(path))
                else:
                    KINDS[kind][2](widget, self.model.value(path))
            self._crs_tooltip()
        finally:
            self.loading = False
        self.show_geography()
        self.rebuild()

    def layer_side_effects(self, key, layer):
        """The field combos of a section follow its layer."""
        d = self.dock
        combo = {"geography": d.zonesIdCombo, "population": d.populationFieldCombo,
                 "admin_areas": d.adminNameCombo}.get(key)
        if combo is None:
            return
        path = {"geography": "geography.id_field", "population": "population.field",
                "admin_areas": "admin_areas.name_field"}[key]
        loading, self.loading = self.loading, True
        try:
            combo.setLayer(layer)
            combo.setField(self.model.get(path) or "")
        finally:
            self.loading = loading

    def show_geography(self):
        d = self.dock
        grid = self.model.applies("geography.size")
        zones = self.model.applies("geography.source")
        for widgets, visible in (((d.gridShapeCombo, d.gridSizeSpin), grid),
                                 ((d.zonesCombo, d.zonesIdCombo), zones)):
            for widget in widgets:
                for part in self.problems.containers[widget]:   # the caption and the field's box
                    if part is not None:
                        part.setVisible(visible)
        d.cellCountLabel.setVisible(grid)

    # ----- the tree --------------------------------------------------------------------------
    def rebuild(self, select=None):
        """The tree from the model; ``select`` (a path) becomes the current item."""
        tree = self.dock.tree
        for uid, item in self.items.items():
            self.expanded[uid] = item.isExpanded()
        current = self.current
        blocked = tree.blockSignals(True)
        try:
            tree.clear()
            self.items = {}
            for theme in self.model.themes:
                tree.addTopLevelItem(self._make_item(theme))
            for uid, item in self.items.items():
                item.setExpanded(self.expanded.get(uid, True))
        finally:
            tree.blockSignals(blocked)
        target = self.model.find(select or current or "") if (select or current) else None
        if target is None and self.model.themes:
            target = self.model.themes[0]
        item = self.items.get(target.uid) if target is not None else None
        tree.setCurrentItem(item)
        self.show_item(self.path_of(item))

    def _make_item(self, node):
        item = QTreeWidgetItem()
        item.setData(0, Qt.ItemDataRole.UserRole, node.uid)
        flags = item.flags() | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
        if node.kind != "role":
            flags |= Qt.ItemFlag.ItemIsEditable
        item.setFlags(flags)
        self.items[node.uid] = item
        self.paint(node)
        for child in node.children:
            item.addChild(self._make_item(child))
        return item

    def _detach(self, item):
        parent = item.parent()
        if parent is not None:
            parent.takeChild(parent.indexOfChild(item))
        else:
            tree = self.dock.tree
            tree.takeTopLevelItem(tree.indexOfTopLevelItem(item))

    def _place(self, path):
        """Put the item of the node at ``path`` where the model has it now (made if new)."""
        node = self.model.node(path)
        t, i, _role, _rest = split_path(path)
        item = self.items.get(node.uid)
        if item is None:
            item = self._make_item(node)
        else:
            self._detach(item)
        if node.kind == "theme":
            self.dock.tree.insertTopLevelItem(t, item)
        else:
            parent_path = path.rsplit(".", 1 if node.kind == "issue" else 2)[0]
            parent = self.item(parent_path)
            parent.insertChild(self.model.node(parent_path).children.index(node), item)
            parent.setExpanded(True)
        return item

    def _select(self, item):
        self.dock.tree.setCurrentItem(item)
        self.show_item(self.path_of(item))
        self.dock.schedule()
        return item

    def added(self, path):
        """A theme, issue or role added to the model: its item, selected."""
        blocked = self.dock.tree.blockSignals(True)
        try:
            item = self._place(path)
            item.setExpanded(True)
        finally:
            self.dock.tree.blockSignals(blocked)
        return self._select(item)

    def removed(self, path):
        """Remove the node at ``path`` from the model and its item from the tree."""
        node = self.model.node(path)
        item = self.items.get(node.uid)
        self.model.remove(path)
        stack = [node]
        while stack:
            gone = stack.pop()
            self.items.pop(gone.uid, None)
            stack.extend(gone.children)
        if item is not None:
            self._detach(item)
        self._select(self.dock.tree.currentItem())

    def moved(self, path, step):
        """Move a theme or issue up or down (an issue across themes at the edge of its own)."""
        node = self.model.node(path)
        item = self.items.get(node.uid)
        state = [item.isExpanded()] + [item.child(k).isExpanded() for k in range(item.childCount())]
        new = self.model.move(path, step)
        if new is None:
            return
        blocked = self.dock.tree.blockSignals(True)
        try:
            self._place(new)
            item.setExpanded(state[0])
            for k in range(item.childCount()):
                item.child(k).setExpanded(state[k + 1] if k + 1 < len(state) else True)
        finally:
            self.dock.tree.blockSignals(blocked)
        self._select(item)

    def path_of(self, item):
        if item is None:
            return None
        node = self.model.by_uid(item.data(0, Qt.ItemDataRole.UserRole))
        return self.model.path_of(node) if node is not None else None

    def item(self, path):
        node = self.model.find(path) if path else None
        return self.items.get(node.uid) if node is not None else None

    def paint(self, node):
        item = self.items.get(node.uid)
        if item is None:
            return
        tree = self.dock.tree
        blocked = tree.blockSignals(True)
        try:
            if node.kind == "role":
                layer = self.layer(self.model.path_of(node))
                name = layer.name() if layer is not None else source_text(node.data.get("source"))
                item.setText(0, f"{translated(ROLE_TITLES[node.key])}: {name}")
            else:
                item.setText(0, node.data.get("label") or node.data.get("name") or "")
            weight = node.data.get("weight", 1)
            item.setText(1, f"{float(weight):g}" if number(weight) else str(weight))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        finally:
            tree.blockSignals(blocked)

    def paint_all(self):
        for _path, node in self.model.walk():
            self.paint(node)

    def tree_item_edited(self, item, column):
        """A theme or issue renamed (column 0) or weighted (column 1) in the tree itself."""
        path = self.path_of(item)
        node = self.model.find(path) if path else None
        if self.loading or node is None or node.kind == "role":
            return
        if column == 0:
            text = item.text(0).strip()
            if text and text != node.data.get("label"):
                self.model.set(f"{path}.label", text)
        elif column == 1:
            try:
                weight = float(item.text(1).replace(",", "."))
            except ValueError:
                weight = None
            if weight is not None and weight >= 0:
                self.model.set(f"{path}.weight", weight)
        self.paint(node)
        if path == self.current:
            self.show_item(path)
        self.dock.schedule()

    # ----- the editor pages ------------------------------------------------------------------
    def show_item(self, path):
        """The theme / issue page or the role page for the item at ``path``."""
        d = self.dock
        node = self.model.find(path) if path else None
        self._current = node.uid if node is not None else None
        self.loading = True
        try:
            if node is None:
                d.editorStack.setCurrentWidget(d.emptyPage)
            elif node.kind != "role":
                d.editorStack.setCurrentWidget(d.groupPage)
                for name, key, kind in GROUP:
                    if kind == "text":
                        write_text(self.w(name), node.data.get(key))
                    else:
                        KINDS[kind][2](self.w(name), self.model.value(f"{path}.{key}"))
                parent = "composite" if node.kind == "theme" else "theme"
                d.groupWeightSpin.setToolTip(
                    tr("Weight of this theme within the composite (relative: 2 counts twice as "
                       "much as 1; 0 leaves it out).") if parent == "composite" else
                    tr("Weight of this issue within its theme (relative: 2 counts twice as much "
                       "as 1; 0 leaves it out)."))
            else:
                d.editorStack.setCurrentWidget(d.rolePage)
                self._show_role(path, node)
        finally:
            self.loading = False
        self.problems.mark_editor()

    def _show_role(self, path, node):
        d = self.dock
        layer = self.layer(path)
        d.roleLayerCombo.setLayer(layer)
        d.roleFilterWidget.setLayer(layer)
        d.roleWeightFieldCombo.setLayer(layer)
        note = ""
        if layer is None and isinstance(node.data.get("source"), dict):
            note = "Reads " + source_text(node.data["source"])
        d.roleSourceNote.setText(note)
        d.roleSourceNote.setVisible(bool(note))
        self.fill_denominators(path)
        for name, key, kind in ROLE:
            if kind not in ("layer", "denominator"):
                KINDS[kind][2](self.w(name), self.model.value(f"{path}.{key}"))
        for edit in d.roleFilterWidget.findChildren(QLineEdit):
            edit.setCursorPosition(0)      # show the start of a long expression
        self._role_state(path)

    def _role_state(self, path):
        """The denominator and per of a role: offered, filled and enabled as the measure asks."""
        loading, self.loading = self.loading, True
        try:
            self.fill_denominators(path)
            KINDS["int"][2](self.dock.rolePerSpin, self.model.value(f"{path}.per"))
            for name, label, key in (("roleDenominatorCombo", "roleDenominatorLabel", "denominator"),
                                     ("rolePerSpin", "rolePerLabel", "per")):
                applies = self.model.applies(f"{path}.{key}")
                self.w(name).setEnabled(applies)
                self.w(label).setEnabled(applies)
        finally:
            self.loading = loading

    def fill_denominators(self, path):
        """A rate's denominator: population, or a numeric field of the zones layer."""
        combo = self.dock.roleDenominatorCombo
        key = f"{path}.denominator"
        optional = not self.model.required(key) and self.model.default(key) is None
        names = ["", "population"] if optional else ["population"]
        zones = self.dock.zonesCombo.currentLayer()
        if not self.model.applies("geography.size") and zones is not None:
            names += [f.name() for f in zones.fields() if f.isNumeric() and f.name() not in names]
        blocked = combo.blockSignals(True)
        combo.clear()
        combo.addItems(names)
        combo.setCurrentText(self.model.value(f"{path}.denominator") or "")
        combo.blockSignals(blocked)
