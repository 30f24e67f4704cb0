"""Styles: every .qml in resources/styles loads onto a layer with its fields and its legend shows
exactly the style's classes; the role / score views classify real numbers as computed by hand;
the Processing post-processor is attached, kept alive and styles the loaded layer."""
import gc
import glob
import os
import xml.etree.ElementTree as ET

import pytest
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFeature,
    QgsField,
    QgsGeometry,
    QgsGraduatedSymbolRenderer,
    QgsLayerTreeLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsRuleBasedRenderer,
    QgsVectorLayer,
)

from composite_index_plugin.paths import resource_path
from composite_index_plugin.processing import styling
from composite_index_plugin.qgis_compat import field_type

STYLE_FILES = sorted(glob.glob(resource_path("styles", "*.qml")))
MINE = ["role_victims", "role_offenders", "role_locations", "area_outline", "index_score",
        "sensitivity"]


def _layer(fields, values=None, geometry="Polygon"):
    """Memory layer with ``fields`` {name: QVariant type} and one square feature per row."""
    layer = QgsVectorLayer(f"{geometry}?crs=EPSG:27700", "test", "memory")
    layer.dataProvider().addAttributes([QgsField(n, t) for n, t in fields.items()])
    layer.updateFields()
    feats = []
    for k, row in enumerate(values or []):
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromWkt(f"POLYGON(({k} 0,{k + 1} 0,{k + 1} 1,{k} 1,{k} 0))"))
        f.setAttributes(list(row))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def _style_fields(path):
    """Fields a style reads: the renderer's attr and the attributes named in rule filters."""
    root = ET.parse(path).getroot()
    names = set()
    for renderer in root.iter("renderer-v2"):
        if renderer.get("attr"):
            names.add(renderer.get("attr").strip('"'))
    for rule in root.iter("rule"):
        expr = rule.get("filter") or ""
        parts = expr.split('"')
        names.update(parts[1::2])
    return names or {"value"}


def _legend_labels(layer):
    nodes = layer.legend().createLayerTreeModelLegendNodes(QgsLayerTreeLayer(layer))
    return [n.data(0) for n in nodes]


def _classes(renderer):
    if isinstance(renderer, QgsGraduatedSymbolRenderer):
        return [r.label() for r in renderer.ranges()]
    if isinstance(renderer, QgsCategorizedSymbolRenderer):
        return [c.label() for c in renderer.categories()]
    if isinstance(renderer, QgsRuleBasedRenderer):
        return [r.label() for r in renderer.rootRule().descendants() if r.symbol() is not None]
    return None


def test_my_styles_exist():
    names = {os.path.splitext(os.path.basename(p))[0] for p in STYLE_FILES}
    assert set(MINE) <= names


@pytest.mark.parametrize("path", STYLE_FILES, ids=[os.path.basename(p) for p in STYLE_FILES])
def test_style_loads_and_legend_matches_classes(path, qgis_app):
    fields = {name: field_type("double") for name in _style_fields(path)}
    layer = _layer(fields)
    message, ok = layer.loadNamedStyle(path)
    assert ok, f"{os.path.basename(path)}: {message}"
    classes = _classes(layer.renderer())
    labels = _legend_labels(layer)
    if classes is not None:
        assert labels == classes
    else:   # single symbol: one legend entry
        assert len(labels) == 1


def test_role_view_classes_hand_computed(qgis_app):
    # zeros get their own class; quantiles of the positive values 1,2,3,4,5,8,13,21,40 at
    # 0, .25, .5, .75, 1 (linear interpolation, index 8q) are 1, 3, 5, 13, 40
    values = [0, 0, 0, 1, 2, 3, 4, 5, 8, 13, 21, 40]
    layer = _layer({"burglary_victims": field_type("int"), "burglary_offenders": field_type("int")},
                   [(v, 0) for v in values])
    assert styling.apply_style(layer, "role_victims")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsGraduatedSymbolRenderer)
    assert renderer.classAttribute() == "burglary_victims"
    assert [(r.lowerValue(), round(r.upperValue(), 6)) for r in renderer.ranges()] == \
        [(0, 0), (1, 3), (3, 5), (5, 13), (13, 40)]
    assert _legend_labels(layer) == ["0 (none)", "1 - 3", "4 - 5", "6 - 13", "14 - 40"]
    # QGIS puts a value in the first range holding it (bounds inclusive): the labels agree
    for v, label in ((0, "0 (none)"), (3, "1 - 3"), (4, "4 - 5"), (13, "6 - 13"), (21, "14 - 40"),
                     (40, "14 - 40")):
        hit = next(r for r in renderer.ranges() if r.lowerValue() <= v <= r.upperValue())
        assert hit.label() == label
    # lightness falls class by class (readable in grey)
    grey = [r.symbol().color().lightness() for r in renderer.ranges()]
    assert grey == sorted(grey, reverse=True) and len(set(grey)) == len(grey)


def test_role_view_explicit_field_and_missing_field(qgis_app):
    layer = _layer({"a_locations": field_type("double"), "b_locations": field_type("double")},
                   [(0.5, 1.0), (1.5, 2.0), (2.5, 3.0)])
    assert styling.apply_style(layer, "role_locations", field="b_locations")
    assert layer.renderer().classAttribute() == "b_locations"
    plain = _layer({"population": field_type("double")}, [(1.0,)])
    feedback = QgsProcessingFeedback()
    assert styling.apply_style(plain, "role_offenders", feedback=feedback) is False


def test_score_view_equal_intervals(qgis_app):
    layer = _layer({"ci_score": field_type("double")}, [(v,) for v in (10, 20, 45, 80)])
    assert styling.apply_style(layer, "index_score")
    ranges = layer.renderer().ranges()
    assert len(ranges) == 7
    assert [round(r.lowerValue(), 6) for r in ranges] == [10, 20, 30, 40, 50, 60, 70]
    assert ranges[0].label() == "10 - 20 (lower need)"
    assert ranges[-1].label() == "70 - 80 (higher need)"


def test_decile_fallback_labels(qgis_app):
    renderer = styling.decile_renderer()
    labels = [c.label() for c in renderer.categories()]
    assert labels[0] == "1 - highest need" and labels[-1] == "10 - lowest need" and len(labels) == 10
    dark = [c.symbol().color().lightness() for c in renderer.categories()]
    assert dark == sorted(dark)   # decile 1 darkest


def test_missing_style_is_reported_not_raised(qgis_app):
    layer = _layer({"x": field_type("double")})
    messages = []

    class Feedback(QgsProcessingFeedback):
        def reportError(self, error, fatalError=False):
            messages.append(error)

    assert styling.apply_style(layer, "no_such_style", feedback=Feedback()) is False
    assert "no_such_style.qml is missing" in messages[0]


def test_post_processor_attached_kept_and_applied(qgis_app):
    project = QgsProject()
    layer = _layer({"robbery_offenders": field_type("int")}, [(v,) for v in (0, 1, 2, 5, 9)])
    project.addMapLayer(layer)
    context = QgsProcessingContext()
    context.setProject(project)
    details = QgsProcessingContext.LayerDetails("out", project, "OUTPUT")
    context.addLayerToLoadOnCompletion(layer.id(), details)
    assert styling.style_output(None, context, "not-loaded", "role_offenders") is None
    assert styling.style_outputs(context, {"OUTPUT": "role_offenders", "OTHER": "area_outline"}) == 1
    processor = context.layerToLoadOnCompletionDetails(layer.id()).postProcessor()
    assert processor is not None
    assert any(p is processor for p in styling._POST_PROCESSORS.values())
    gc.collect()
    processor.postProcessLayer(layer, context, QgsProcessingFeedback())
    assert isinstance(layer.renderer(), QgsGraduatedSymbolRenderer)
    assert layer.renderer().classAttribute() == "robbery_offenders"


def test_post_processor_made_on_main_thread_from_a_worker(qgis_app):
    import threading
    import time

    from qgis.PyQt.QtCore import QCoreApplication

    made = {}
    worker = threading.Thread(
        target=lambda: made.setdefault("p", styling.make_post_processor("role_victims")), name="worker")
    worker.start()
    deadline = time.time() + 10
    while worker.is_alive() and time.time() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    worker.join(1)
    assert made["p"].created_in == threading.main_thread().name
    assert made["p"].style_name == "role_victims"
    # a blocked main thread (no event processing): the worker falls back after the timeout
    blocked = {}
    worker = threading.Thread(
        target=lambda: blocked.setdefault("p", styling.make_post_processor("role_victims", timeout=0.2)),
        name="worker2")
    worker.start()
    worker.join(5)
    assert blocked["p"].created_in == "worker2"
    QCoreApplication.processEvents()   # let the late request run; it must not break anything


def test_decile_view_shows_only_the_classes_on_the_map(qgis_app):
    """Deciles 1, 2 and 10 only (82 % of West Yorkshire hexagons tie at the bottom): the legend
    lists exactly those, decile 10 says it holds the zones with no incident recorded, and the
    NULL class appears only when a zone is out of the index."""
    rows = [(1, 0), (2, 0), (2, 0), (10, 1), (10, 1), (10, 1)]
    layer = _layer({"ci_decile": field_type("int"), "ci_no_incidents": field_type("int")}, rows)
    assert styling.apply_style(layer, "index_deciles")
    assert _legend_labels(layer) == ["1 - highest need", "2",
                                     "10 - lowest need: no incidents recorded"]
    # A zone with incidents in decile 10 too, and one zone out of the index (NULL).
    rows = [(1, 0), (4, 0), (10, 0), (10, 1), (None, 0)]
    layer = _layer({"ci_decile": field_type("int"), "ci_no_incidents": field_type("int")}, rows)
    assert styling.apply_style(layer, "index_deciles")
    assert _legend_labels(layer) == ["1 - highest need", "4",
                                     "10 - lowest need (incl. no incidents recorded)",
                                     "not in the index (missing data)"]
    # Every class shown exists on the map.
    shown = {c.value() for c in layer.renderer().categories()}
    assert {str(v) for v in (1, 4, 10)} | {""} == {str(v) for v in shown}


def test_sensitivity_classes(qgis_app):
    """How often the runs put a zone in the top decile: 0 alone, then under 20 %, 20-50 %,
    50-80 %, and 80 % or more, the robust priorities (robust_priority is 1 from 0.8): a zone in
    exactly 20 of 100 runs is in "20 - 50 %", one in 80 of 100 a robust priority."""
    layer = _layer({"p_top_decile": field_type("double"), "robust_priority": field_type("int")},
                   [[0.0, 0], [0.01, 0], [0.19, 0], [0.2, 0], [0.5, 0], [0.79, 0], [0.8, 1],
                    [1.0, 1]])
    assert styling.apply_style(layer, "sensitivity")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsGraduatedSymbolRenderer)
    assert renderer.classAttribute() == "p_top_decile"
    labels = [renderer.rangeForValue(f["p_top_decile"]).label() for f in layer.getFeatures()]
    assert labels == ["never in decile 1", "in decile 1 in under 20 % of runs",
                      "in decile 1 in under 20 % of runs", "20 - 50 % of runs",
                      "50 - 80 % of runs", "50 - 80 % of runs",
                      "80 % of runs or more (robust priority)",
                      "80 % of runs or more (robust priority)"]
    robust = [f["robust_priority"] for f in layer.getFeatures()]
    assert [lab.endswith("(robust priority)") for lab in labels] == [r == 1 for r in robust]
