"""The Builder's bindings: each widget of the window, once, with the JSON path of the recipe it
edits and its kind; the kind says how the widget is read and written. Widgets of the theme /
issue and role pages are bound relative to the item selected in the tree. The view
(``builder_view``) connects and fills the widgets from these tables, and the problem display
(``builder_problems``) places each check under the widget whose path it names.
"""
import json

from qgis.core import QgsCoordinateReferenceSystem

from composite_index_plugin.core import vocab

# (widget, JSON path, kind): the window's widgets outside the tree's pages
GLOBAL = (
    ("recipeNameEdit", "name", "text"), ("periodEdit", "period", "text"),
    ("crsWidget", "crs", "crs"), ("studyAreaCombo", "study_area.source", "layer"),
    ("geographyTypeCombo", "geography.type", "choice"),
    ("gridShapeCombo", "geography.shape", "choice"), ("gridSizeSpin", "geography.size", "size"),
    ("zonesCombo", "geography.source", "layer"), ("zonesIdCombo", "geography.id_field", "field"),
    ("populationCombo", "population.source", "layer"),
    ("populationFieldCombo", "population.field", "field"),
    ("adminCombo", "admin_areas.source", "layer"),
    ("adminNameCombo", "admin_areas.name_field", "field"),
    ("aggIssueCombo", "aggregation.issue", "choice"),
    ("aggThemeCombo", "aggregation.theme", "choice"),
    ("aggCompositeCombo", "aggregation.composite", "choice"),
    ("hotspotsCheck", "hotspots.enabled", "bool"), ("outputFolderWidget", "output.folder", "folder"),
)
# (widget, key, kind) of the selected role and of the selected theme or issue
ROLE = (("roleLayerCombo", "source", "layer"), ("roleFilterWidget", "filter", "expression"),
        ("roleWeightFieldCombo", "weight_field", "field"), ("roleMeasureCombo", "measure", "choice"),
        ("roleDenominatorCombo", "denominator", "denominator"), ("rolePerSpin", "per", "int"),
        ("roleScalingCombo", "scaling", "choice"), ("roleDirectionCombo", "direction", "choice"),
        ("roleMissingCombo", "missing", "choice"), ("roleWeightSpin", "weight", "float"))
GROUP = (("groupLabelEdit", "label", "text"), ("groupNameEdit", "name", "text"),
         ("groupWeightSpin", "weight", "float"))
ROLE_TITLES = vocab.ROLE_TITLES


def number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _size(value):
    value = float(value)
    return int(value) if value.is_integer() else value


# kind -> (signal, read(widget), write(widget, value))
KINDS = {
    "text": ("textChanged", lambda w: w.text().strip() or None, None),
    "choice": ("currentIndexChanged", lambda w: w.currentData(),
               lambda w, v: w.setCurrentIndex(max(0, w.findData(v)))),
    "float": ("valueChanged", lambda w: float(w.value()),
              lambda w, v: w.setValue(float(v)) if number(v) else None),
    "int": ("valueChanged", lambda w: int(w.value()),
            lambda w, v: w.setValue(int(v)) if number(v) else None),
    "size": ("valueChanged", lambda w: _size(w.value()),
             lambda w, v: w.setValue(float(v)) if number(v) else None),
    "bool": ("toggled", lambda w: w.isChecked(), lambda w, v: w.setChecked(v is not False)),
    "field": ("fieldChanged", lambda w: w.currentField() or None,
              lambda w, v: w.setField(v if isinstance(v, str) else "")),
    "crs": ("crsChanged", lambda w: (w.crs().authid() or None) if w.crs().isValid() else None,
            lambda w, v: w.setCrs(QgsCoordinateReferenceSystem(v) if isinstance(v, str) and v
                                  else QgsCoordinateReferenceSystem())),
    "folder": ("fileChanged", lambda w: w.filePath().strip() or None,
               lambda w, v: w.setFilePath(v if isinstance(v, str) else "")),
    "expression": ("fieldChanged", lambda w: w.expression().strip() or None,
                   lambda w, v: w.setExpression(v if isinstance(v, str) else "")),
    "denominator": ("currentTextChanged", lambda w: w.currentText().strip() or None,
                    lambda w, v: w.setCurrentText(v if isinstance(v, str) else "")),
}


def write_text(widget, value):
    """A text the window edits; a value of another kind (a period given as an object) is shown
    as JSON and left alone."""
    editable = value is None or isinstance(value, (str, int, float))
    widget.setReadOnly(not editable)
    widget.setText("" if value is None else str(value) if editable else json.dumps(value))


# a problem of a whole section goes under its first widget
SECTIONS = {"study_area": "studyAreaCombo", "geography": "geographyTypeCombo",
            "population": "populationCombo", "admin_areas": "adminCombo",
            "aggregation": "aggCompositeCombo", "hotspots": "hotspotsCheck",
            "output": "outputFolderWidget", "themes": "tree"}
