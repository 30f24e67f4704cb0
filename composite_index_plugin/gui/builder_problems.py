"""Problems shown where they belong: under the widget bound to the path a check names (a red
label added below every field of the window's forms), on the tree item of the theme, issue or
role, on the tab, and in the Checks list."""
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QFormLayout, QLabel, QListWidgetItem, QVBoxLayout, QWidget

from composite_index_plugin.gui.builder_bindings import GLOBAL, GROUP, ROLE, ROLE_TITLES, SECTIONS
from composite_index_plugin.gui.recipe_paths import split_path
from composite_index_plugin.i18n import tr, translated


class ProblemDisplay:
    """The problem labels of a ``BuilderView``'s widgets, and everything that shows checks."""

    def __init__(self, view):
        self.view = view
        self.dock = view.dock
        self.labels = {}        # widget -> its problem label
        self.containers = {}    # widget -> (caption, the box holding it and its label)
        self._build_labels()

    def _build_labels(self):
        """Under every field of every form, a hidden red label for its problems: each field
        goes into a small box with the label below it (a hidden label then takes no room), and
        note rows without a label of their own (cell count, source note) join the box above."""
        field_role, label_role = QFormLayout.ItemRole.FieldRole, QFormLayout.ItemRole.LabelRole
        for form in self.dock.findChildren(QFormLayout):
            row = 0
            while row < form.rowCount():
                if form.itemAt(row, field_role) is None:
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
                while row < form.rowCount() and form.itemAt(row, label_role) is None \
                        and form.itemAt(row, field_role) is not None \
                        and isinstance(form.itemAt(row, field_role).widget(), QLabel):
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
                    self.labels[widget] = problem
                    self.containers[widget] = (caption, container)
                row += 1

    def locate(self, path):
        """(tree item or None, widget name or None) where the problem at ``path`` belongs."""
        t, i, role, rest = split_path(path)
        if t is not None:
            item = self.view.item(path[:len(path) - len(rest)].rstrip("."))
            if item is None:
                return None, "tree"
            key = rest.split(".")[0].split("[")[0] if rest else ""
            table = ROLE if role is not None else GROUP
            return item, next((n for n, k, _kind in table if k == key),
                              "roleLayerCombo" if role is not None else None)
        best = None
        for name, bound, _kind in GLOBAL:
            if (path == bound or path.startswith(bound + ".") or path.startswith(bound + "[")) \
                    and (best is None or len(bound) > len(best[1])):
                best = (name, bound)
        if best is not None:
            return None, best[0]
        return None, SECTIONS.get(path.split(".")[0].split("[")[0])

    def show(self, checks):
        d = self.dock
        for label in set(self.labels.values()):
            label.setVisible(False)
            label.setText("")
        for item in self.view.items.values():
            item.setIcon(0, QIcon())
            item.setToolTip(0, "")
        d.problemsList.clear()
        error_icon = QgsApplication.getThemeIcon("/mIconWarning.svg")
        info_icon = QgsApplication.getThemeIcon("/mIconInfo.svg")
        tab_errors = {}
        for check in checks:
            item, widget_name = self.locate(check.path)
            icon = error_icon if check.level == "error" else info_icon
            kind = tr("Error") if check.level == "error" else tr("Note")
            entry = QListWidgetItem(icon, f"{kind} – {self.where(check.path, item)}: "
                                          f"{check.text()}")
            entry.setData(Qt.ItemDataRole.UserRole, check.path)
            entry.setToolTip(check.path)
            d.problemsList.addItem(entry)
            node = item
            while node is not None:
                node.setIcon(0, icon)
                if node is item:
                    tip = node.toolTip(0)
                    node.setToolTip(0, (tip + "\n" if tip else "") + check.text())
                elif not node.toolTip(0):
                    node.setToolTip(0, tr("Something below needs attention"))
                node = node.parent()
            if widget_name and item is None:
                self.mark(self.view.w(widget_name), check)
            tab = self.tab_of(widget_name, item)
            if tab is not None:
                tab_errors[tab] = tab_errors.get(tab, False) or check.level == "error"
        for index in range(d.tabs.count()):
            page = d.tabs.widget(index)
            d.tabs.setTabIcon(index, (error_icon if tab_errors[page] else info_icon)
                              if page in tab_errors else QIcon())
        errors = sum(1 for c in checks if c.level == "error")
        notes = len(checks) - errors
        if errors:
            title = tr("Checks: {errors} to fix before Run, {notes} note(s)").format(
                errors=errors, notes=notes)
        elif notes:
            title = tr("Checks: ready to run, {notes} note(s)").format(notes=notes)
        else:
            title = tr("Checks: ready to run")
        d.problemsTitle.setText(title)
        d.problemsList.setVisible(bool(checks))
        self.mark_editor()

    def where(self, path, item):
        if item is None:
            return path if path != "$" else "project"
        names = []
        node = item
        while node is not None:
            model_node = self.view.model.by_uid(node.data(0, Qt.ItemDataRole.UserRole))
            names.insert(0, translated(ROLE_TITLES[model_node.key]) if model_node.kind == "role"
                         else (model_node.data.get("label") or model_node.data.get("name") or "?"))
            node = node.parent()
        rest = split_path(path)[3]
        return " ▸ ".join(names) + (f" ({rest})" if rest else "")

    def tab_of(self, widget_name, item):
        d = self.dock
        if item is not None:
            return d.indicatorsTab
        if widget_name is None:
            return None
        widget = self.view.w(widget_name)
        return next((page for page in (d.indicatorsTab, d.geographyTab, d.runTab)
                     if page.isAncestorOf(widget)), None)

    def mark(self, widget, check):
        label = self.labels.get(widget)
        if label is None:
            return
        text = ("⚠ " if check.level == "error" else "ℹ ") + check.text()
        label.setText(label.text() + "\n" + text if label.text() else text)
        label.setStyleSheet("color: #b00020;" if check.level == "error" else "color: #5a5a5a;")
        label.setVisible(True)

    def mark_editor(self):
        """Problems of the theme / issue / role being edited, under its widgets."""
        for name, _key, _kind in ROLE + GROUP:
            label = self.labels.get(self.view.w(name))
            if label is not None:
                label.setVisible(False)
                label.setText("")
        current = self.view.item(self.view.current)
        if current is None:
            return
        for check in self.dock.checks:
            item, widget_name = self.locate(check.path)
            if item is current and widget_name:
                self.mark(self.view.w(widget_name), check)

    def text(self, widget_name):
        """The problem text shown under a widget ("" when none)."""
        label = self.labels.get(self.view.w(widget_name))
        return label.text() if label is not None and not label.isHidden() else ""

    def go_to(self, path):
        """Show the widget (and the tree item) a problem belongs to."""
        d = self.dock
        item, widget_name = self.locate(path)
        if item is not None:
            d.tabs.setCurrentWidget(d.indicatorsTab)
            d.tree.setCurrentItem(item)
        if widget_name:
            tab = self.tab_of(widget_name, item)
            if tab is not None:
                d.tabs.setCurrentWidget(tab)
            self.view.w(widget_name).setFocus()
