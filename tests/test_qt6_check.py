"""QGIS 4 / Qt6 readiness: scripts/check_qt6.py catches each Qt5-only construct and finds none in
the tree; composite_index_plugin/qgis_compat.py resolves each enum and field type to what the
running QGIS wants, and agrees with QGIS's own list of legacy names."""
import importlib.util
import os
import re
import warnings

import pytest
from qgis.core import Qgis, QgsVectorLayer
from qgis.PyQt.QtCore import QMetaType, QVariant

from composite_index_plugin import qgis_compat as compat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QGIS_VERSION = tuple(int(p) for p in Qgis.QGIS_VERSION.split("-")[0].split(".")[:2])


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_qt6", os.path.join(ROOT, "scripts", "check_qt6.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_qt6 = _load_checker()

# One construct a line; the trailing tag names the finding the line must give (no tag: none).
BAD = '''\
from PyQt5.QtCore import QTimer  # QT001
import PyQt5.QtWidgets  # QT001
from PyQt5 import sip  # QT001
from qgis.PyQt.Qt import QColor  # QT001
from qgis.PyQt.QtWidgets import QAction  # QT002
from qgis.PyQt.QtCore import QRegExp  # QT003
from qgis.PyQt.QtWidgets import QDesktopWidget  # QT003
from qgis.PyQt.QtWidgets import qApp  # QT003
from . import resources_rc  # QT003
from qgis.PyQt import QtCore, QtWidgets
from qgis.PyQt.QtCore import QDateTime, Qt, QVariant
from qgis.PyQt.QtGui import QFont, QFontMetrics
from qgis.PyQt.QtWidgets import QApplication, QDialog, QDialogButtonBox, QFrame
from qgis.core import Qgis, QgsFeatureSink, QgsField, QgsProcessing, QgsProcessingAlgorithm
from qgis.core import QgsProcessingParameterFeatureSink, QgsProcessingParameterNumber
from qgis.core import QgsVectorFileWriter, QgsWkbTypes
import qgis.core
a = Qt.AlignRight  # QT004
b = QFrame.NoFrame  # QT004
c = QFont.Bold  # QT004
d = Qt.RightDockWidgetArea  # QT004
e = QDialogButtonBox.Ok  # QT004
f = QgsFeatureSink.FastInsert  # QT004
g = QtCore.Qt.AlignLeft  # QT004
h = Qt.MidButton  # QT004
m = Qgis.Info  # QT004
_alias = QFrame
n = _alias.Box  # QT004
i = QgsProcessing.TypeVectorPolygon  # QT005
j = QgsWkbTypes.PolygonGeometry  # QT005
k = QgsProcessingParameterNumber.Double  # QT005
p = QgsProcessingAlgorithm.FlagNoThreading  # QT005
q = QgsProcessingParameterFeatureSink.FlagOptional  # QT005
r = qgis.core.QgsWkbTypes.Point  # QT005
s = QgsProcessing.SourceType.TypeVectorPoint  # QT005
t = QgsField("x", QVariant.Int)  # QT006
u = QVariant.String  # QT006
QDialog().exec_()  # QT007
def exec_(self): pass  # QT007
QgsVectorFileWriter.writeAsVectorFormatV2(None, "x", None, None)  # QT008
QgsVectorFileWriter.writeAsVectorFormat(None, "x", "utf-8")  # QT008
fields = self.parameterAsFields(parameters, "FIELDS", context)  # QT008
legend.setStyleFont(Qgis.LegendComponent.Title, legend.styleFont(Qgis.LegendComponent.Title))  # QT008 QT008
QFontMetrics(QFont()).width("x")  # QT009
combo.activated[str].connect(print)  # QT009
QDateTime(2020, 1, 1, 0, 0, 0, 0, Qt.TimeSpec.UTC)  # QT009
QApplication.desktop()  # QT003
v = QtWidgets.QAction  # QT002
w = "Qt.AlignRight in a string is fine"
x = Qt.AlignmentFlag.AlignRight
y = QgsFeatureSink.Flag.FastInsert
z = Qgis.ProcessingSourceType.VectorPolygon if hasattr(Qgis, "ProcessingSourceType") else None
isinstance(w, QVariant)
QDialog().exec()
QFontMetrics(QFont()).horizontalAdvance("x")
QgsVectorFileWriter.writeAsVectorFormatV3(None, "x", None, None)
try:
    from qgis.PyQt.QtGui import QAction
except ImportError:
    from qgis.PyQt.QtWidgets import QAction
'''


def _expected(source):
    out = {}
    for number, line in enumerate(source.splitlines(), start=1):
        tags = re.findall(r"\b(QT\d{3})\b", line.partition("#")[2])
        if tags:
            out[number] = tags
    return out


def test_checker_finds_each_construct_once_per_line():
    findings = check_qt6.check_source(BAD, "bad.py")
    got = {}
    for _, line, _col, code, _msg in findings:
        got.setdefault(line, []).append(code)
    expected = _expected(BAD)
    assert got == expected, "\n".join(f"{f[1]}:{f[2]} {f[3]} {f[4]}" for f in findings)
    # every rule the checker documents is exercised
    codes = {c for tags in expected.values() for c in tags}
    assert codes == set(re.findall(r"^(QT\d{3}) ", check_qt6.__doc__, flags=re.M))


def test_checker_names_the_fix():
    by_line = {f[1]: f for f in check_qt6.check_source(BAD, "bad.py")}
    lines = BAD.splitlines()

    def message(prefix):
        number = next(i for i, text in enumerate(lines, start=1) if text.startswith(prefix))
        return by_line[number][4]

    assert "Qt.AlignmentFlag.AlignRight" in message("a = Qt.AlignRight")
    assert "QFrame.Shape.NoFrame" in message("b = QFrame.NoFrame")
    assert "QFont.Weight.Bold" in message("c = QFont.Bold")
    assert "Qt.DockWidgetArea.RightDockWidgetArea" in message("d = ")
    assert "Qt.MouseButton.MiddleButton" in message("h = Qt.MidButton")
    assert "Qgis.ProcessingSourceType.VectorPolygon" in message("i = ")
    assert "Qgis.GeometryType.Polygon" in message("j = ")
    assert "Qgis.ProcessingParameterFlag.Optional" in message("q = ")
    assert "writeAsVectorFormatV3" in message("QgsVectorFileWriter.writeAsVectorFormatV2")


def test_checker_reports_characters_not_bytes():
    src = 'from qgis.PyQt.QtCore import Qt\nx = ("…", Qt.AlignLeft)\n'
    (finding,) = check_qt6.check_source(src, "u.py")
    assert finding[1:4] == (2, 11, "QT004")


def test_tree_has_no_qt5_only_construct():
    """The same gate as `make lint`, so that `make test` (CI) holds it too."""
    findings = check_qt6.check_paths([os.path.join(ROOT, p) for p in check_qt6.DEFAULT_PATHS])
    assert findings == [], "\n".join(f"{f[0]}:{f[1]}:{f[2]}: {f[3]} {f[4]}" for f in findings)


def test_main_exit_codes(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("from qgis.PyQt.QtCore import Qt\nx = Qt.AlignLeft\n")
    good = tmp_path / "good.py"
    good.write_text("from qgis.PyQt.QtCore import Qt\nx = Qt.AlignmentFlag.AlignLeft\n")
    assert check_qt6.main([str(bad)]) == 1
    assert "QT004" in capsys.readouterr().out
    assert check_qt6.main([str(good)]) == 0
    assert check_qt6.main([str(tmp_path / "missing.py")]) == 2


# ---- the facts and the compatibility module ----------------------------------------------------

def test_compat_pairs_are_qgis_own_pairs():
    """Every legacy -> scoped pair qgis_compat uses is one QGIS itself declares."""
    facts = check_qt6.load_legacy()
    assert len(facts) > 2000
    assert facts["QgsProcessing.TypeVectorPolygon"] == ["Qgis.ProcessingSourceType.VectorPolygon"]
    # QGIS's own clash, behind the 3.40 label placement failure: the later assignment wins
    assert facts["QgsPalLayerSettings.OverPoint"] == ["Qgis.LabelPlacement.OverPoint",
                                                      "Qgis.LabelPredefinedPointPosition.OverPoint"]
    assert len(compat.PAIRS) >= 40
    for scoped, legacy, _ in compat.PAIRS:
        assert scoped in facts.get(legacy, []), legacy


def test_compat_picks_scoped_when_this_qgis_has_it():
    fallbacks = set()
    for scoped, legacy, value in compat.PAIRS:
        want = compat.lookup(scoped)
        if want is None:
            want = compat.lookup(legacy)
            fallbacks.add(scoped.split(".")[1])
        assert value is want, (scoped, legacy)
    everything = {scoped.split(".")[1] for scoped, _, _ in compat.PAIRS}
    if QGIS_VERSION >= (3, 44):
        assert fallbacks == set()
    elif QGIS_VERSION >= (3, 40):
        assert fallbacks == {"LayoutRenderFlag", "LegendComponent"}
    else:  # 3.22: no scoped Qgis enum for anything the plugin uses
        assert fallbacks == everything


def test_legacy_facts_agree_with_this_qgis():
    """Where this QGIS knows both names of a pair they are the same member."""
    both = 0
    for legacy, targets in check_qt6.load_legacy().items():
        old, new = compat.lookup(legacy), compat.lookup(targets[-1])
        if old is None or new is None:
            continue
        both += 1
        assert old == new, (legacy, targets)
    # 3.22 knows both names only of the pairs that stay on their class (QgsPalLayerSettings.Size
    # and QgsPalLayerSettings.Property.Size...); 3.40+ of nearly all
    assert both > (1400 if QGIS_VERSION >= (3, 40) else 400)


def test_field_types_are_what_qgsfield_wants():
    expected = {"int": "Int", "uint": "UInt", "int64": "LongLong", "uint64": "ULongLong",
                "double": "Double", "string": ("QString", "String"), "bool": "Bool",
                "date": ("QDate", "Date"), "datetime": ("QDateTime", "DateTime")}
    assert compat.USE_QMETATYPE == (QGIS_VERSION >= (3, 38))
    for kind, name in expected.items():
        meta, var = name if isinstance(name, tuple) else (name, name)
        want = getattr(QMetaType.Type, meta) if compat.USE_QMETATYPE else getattr(QVariant, var)
        assert compat.field_type(kind) == want, kind
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no deprecated QgsField constructor on 3.38+
            field = compat.make_field(f"f_{kind}", kind)
        assert field.type() == compat.field_type(kind)
    with pytest.raises(ValueError, match="unknown field kind"):
        compat.field_type("decimal")


def test_fields_round_trip_through_a_layer():
    layer = QgsVectorLayer("Point?crs=EPSG:27700", "t", "memory")
    kinds = ["int", "int64", "double", "string", "date"]
    layer.dataProvider().addAttributes([compat.make_field(k, k) for k in kinds]
                                       + [compat.make_field("d2", "double", 10, 3)])
    layer.updateFields()
    fields = layer.fields()
    assert [fields.field(k).type() for k in kinds] == [compat.field_type(k) for k in kinds]
    assert (fields.field("d2").length(), fields.field("d2").precision()) == (10, 3)
    assert fields.field("int").type() in compat.NUMERIC_FIELD_TYPES
    assert fields.field("string").type() not in compat.NUMERIC_FIELD_TYPES


def test_qaction_comes_from_qtgui_where_qgis_has_it_there():
    from qgis.PyQt import QtGui

    in_qtgui = getattr(QtGui, "QAction", None)
    if QGIS_VERSION >= (3, 40):
        assert in_qtgui is not None  # re-exported from QtGui, where PyQt6 has it
    else:
        assert in_qtgui is None  # 3.22: only in QtWidgets, hence the fallback
    if in_qtgui is not None:
        assert compat.QAction is in_qtgui
    assert compat.QAction("x", None).text() == "x"
