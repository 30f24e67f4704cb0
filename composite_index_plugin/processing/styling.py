"""Styles for every output layer: .qml files in ``resources/styles`` and the code that applies them.

How an algorithm styles its output (see also ``style_output``)::

    def postProcessAlgorithm(self, context, feedback):          # runs on the main thread
        style_outputs(context, {"OUTPUT": "index_deciles"})      # output key -> style name
        return {}

or, inside ``processAlgorithm`` (the helper creates the post-processor and keeps it alive)::

    style_output(self, context, dest_id, "index_deciles")

Styles whose field depends on the issue (``role_victims``, ``role_offenders``,
``role_locations``) take a ``field``; without one the first field ending in ``_<role>`` is used.
The classes of those views are computed from the data (a class for zero, then quantiles of the
positive values) on a colour-blind-safe single-hue ramp whose lightness falls steadily, so the
classes stay in order when printed in grey (ColorBrewer sequential schemes, Brewer & Harrower,
colorbrewer2.org).
"""
import os
import threading

import numpy as np
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFeatureRequest,
    QgsFillSymbol,
    QgsGradientColorRamp,
    QgsGradientStop,
    QgsGraduatedSymbolRenderer,
    QgsMapLayer,
    QgsProcessingLayerPostProcessorInterface,
    QgsRendererCategory,
    QgsRendererRange,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, QObject, Qt, QThread, pyqtSignal, pyqtSlot
from qgis.PyQt.QtGui import QColor

from composite_index_plugin.paths import resource_path
from composite_index_plugin.qgis_compat import FeatureRequestFlag

# ColorBrewer sequential schemes (light -> dark); colour-blind safe, monotone in lightness.
RAMPS = {
    "Purples": ["#fcfbfd", "#efedf5", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3",
                "#54278f", "#3f007d"],
    "Oranges": ["#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801",
                "#a63603", "#7f2704"],
    "Blues": ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5",
              "#08519c", "#08306b"],
    "YlOrRd": ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
               "#bd0026", "#800026"],
}
ROLE_RAMPS = {"victims": "Purples", "offenders": "Oranges", "locations": "Blues"}
ROLE_LABELS = {"victims": "Victims", "offenders": "Offenders", "locations": "Locations"}

# Keeps every post-processor we hand to Processing alive, so sip never collects one that is
# still waiting for its layer. Keyed by destination id; a new run with the same id replaces it.
_POST_PROCESSORS = {}
_LOCK = threading.Lock()


def style_path(style_name):
    """Full path of ``resources/styles/<style_name>.qml`` (``.qml`` optional in the name)."""
    name = style_name if style_name.endswith(".qml") else style_name + ".qml"
    return resource_path("styles", name)


def ramp(name, n):
    """``n`` QColors sampled evenly from a named ramp (light -> dark)."""
    stops = RAMPS[name]
    if n <= 1:
        return [QColor(stops[len(stops) // 2])]
    idx = np.round(np.linspace(1 if n < len(stops) else 0, len(stops) - 1, n)).astype(int)
    return [QColor(stops[i]) for i in idx]


def gradient_ramp(name):
    """A QgsGradientColorRamp with the stops of a named ramp."""
    stops = RAMPS[name]
    grad = QgsGradientColorRamp(QColor(stops[0]), QColor(stops[-1]))
    n = len(stops) - 1
    grad.setStops([QgsGradientStop(i / n, QColor(c)) for i, c in enumerate(stops[1:-1], start=1)])
    return grad


def _fill(color, outline="#808080", width=0.1):
    return QgsFillSymbol.createSimple({
        "color": color.name() if isinstance(color, QColor) else color,
        "outline_color": outline, "outline_width": str(width), "outline_width_unit": "MM",
    })


def _fmt(value, decimals):
    if decimals == 0:
        return f"{value:,.0f}"
    return f"{value:,.{decimals}f}"


def _decimals(values):
    """Decimals needed to tell class breaks apart: 0 for counts, more for small rates."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.allclose(values, np.round(values)):
        return 0
    span = float(np.nanmax(values) - np.nanmin(values)) or float(np.nanmax(np.abs(values))) or 1.0
    return int(min(4, max(1, 2 - np.floor(np.log10(span)))))


def class_breaks(values, classes=5, mode="quantile"):
    """Class bounds. ``mode="equal"``: equal intervals over the range (a continuous reading).
    ``mode="quantile"``: one class for exact zero (when zeros exist), then quantiles of
    the positive values (duplicates merged). Returns ``(lower, upper)`` pairs.

    Upper bounds of classes: one class for exact zero (when zeros exist), then quantiles of
    the positive values (duplicates merged). Returns ``(lower, upper)`` pairs."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return []
    if mode == "equal":
        lo, hi = float(v.min()), float(v.max())
        if lo == hi:
            return [(lo, hi)]
        edges = np.linspace(lo, hi, classes + 1)
        return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]
    pairs = []
    has_zero = bool(np.any(v == 0)) and v.min() >= 0
    pos = v[v > 0] if has_zero else v
    if has_zero:
        pairs.append((0.0, 0.0))
        classes -= 1
    if pos.size:
        qs = np.quantile(pos, np.linspace(0, 1, max(classes, 1) + 1))
        if np.allclose(pos, np.round(pos)):
            qs = np.floor(qs)   # whole counts: breaks on whole numbers (upper bound inclusive)
        qs = np.unique(qs)
        if qs.size == 1:
            pairs.append((float(qs[0]), float(qs[0])))
        else:
            for lo, hi in zip(qs[:-1], qs[1:]):
                pairs.append((float(lo), float(hi)))
    return pairs


def graduated_renderer(values, field, ramp_name="Purples", classes=5, unit="", mode="quantile"):
    """A graduated renderer on ``field`` with classes from ``values`` (see ``class_breaks``).

    Legend labels read "0 (none)", "1 - 4", "5 - 12" ... with thousands separators; the ramp is
    one of ``RAMPS``. ``unit`` (e.g. "per 1,000") is appended to the last label.
    """
    pairs = class_breaks(values, classes, mode)
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    decimals = 0 if finite.size and np.allclose(finite, np.round(finite)) and mode == "quantile" \
        else _decimals([p for pair in pairs for p in pair])
    colours = ramp(ramp_name, max(len(pairs), 1))
    ranges = []
    for i, (lo, hi) in enumerate(pairs):
        if lo == hi == 0:
            label = "0 (none)"
        elif lo == hi:
            label = _fmt(lo, decimals)
        else:
            shown_lo = lo
            if decimals == 0 and i > 0 and pairs[i - 1][1] != 0 and mode == "quantile":
                shown_lo = np.floor(lo) + 1   # whole counts: the previous class ends at lo
            label = f"{_fmt(shown_lo, decimals)} - {_fmt(hi, decimals)}"
        if unit and i == len(pairs) - 1:
            label += f" {unit}"
        # a tiny upper tolerance keeps the maximum inside the last class after rounding
        ranges.append(QgsRendererRange(lo, hi + (1e-9 if i == len(pairs) - 1 else 0.0),
                                       _fill(colours[i]), label))
    renderer = QgsGraduatedSymbolRenderer(field, ranges)
    renderer.setSourceColorRamp(gradient_ramp(ramp_name))
    renderer.setSourceSymbol(_fill(colours[0]))
    return renderer


def layer_values(layer, field):
    """Values of a numeric field as a float array (NULL -> nan)."""
    idx = layer.fields().indexOf(field)
    if idx < 0:
        return np.array([], dtype=float)
    out = []
    request = QgsFeatureRequest().setFlags(FeatureRequestFlag.NoGeometry).setSubsetOfAttributes([idx])
    for value in (f[idx] for f in layer.getFeatures(request)):
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            out.append(np.nan)
    return np.asarray(out, dtype=float)


def role_field(layer, role):
    """The first field of ``layer`` named ``<issue>_<role>`` (counts), else ``<issue>_<role>_w``."""
    names = layer.fields().names()
    for suffix in (f"_{role}", f"_{role}_w", f"_{role}_kde"):
        for name in names:
            if name.endswith(suffix):
                return name
    return None


def role_renderer(layer, role, field=None, classes=5):
    """The victims / offenders / locations view of an issue on ``layer`` (graduated, from data)."""
    field = field or role_field(layer, role)
    if field is None:
        return None
    return graduated_renderer(layer_values(layer, field), field, ROLE_RAMPS[role], classes)


def score_renderer(layer, field="ci_score", classes=7):
    """The continuous index score: equal intervals over the score's range, light -> dark."""
    values = layer_values(layer, field)
    if not np.isfinite(values).any():
        return None
    renderer = graduated_renderer(values, field, "YlOrRd", classes, mode="equal")
    ranges = renderer.ranges()
    if ranges:
        renderer.updateRangeLabel(0, ranges[0].label() + " (lower need)")
        renderer.updateRangeLabel(len(ranges) - 1, ranges[-1].label() + " (higher need)")
    return renderer


# (lower, upper, label) of p_top_decile, the share of sensitivity runs that put a zone in the
# top decile; robust_priority is 1 from 0.8 (core.sensitivity). QGIS puts a value on a shared
# bound in the first class that holds it: each class stops just short of the next one's lower
# bound, so 0.2 of the runs is "20 - 50 %" and 0.8 a robust priority; the last class reaches
# just past 1 (rounding).
_BELOW = 1e-12
SENSITIVITY_CLASSES = (
    (0.0, 0.0, "never in decile 1"),
    (_BELOW, 0.2 - _BELOW, "in decile 1 in under 20 % of runs"),
    (0.2, 0.5 - _BELOW, "20 - 50 % of runs"),
    (0.5, 0.8 - _BELOW, "50 - 80 % of runs"),
    (0.8, 1.0 + 1e-9, "80 % of runs or more (robust priority)"),
)


def sensitivity_renderer(field="p_top_decile"):
    """The sensitivity view: how often the runs put each zone in the top decile, in fixed
    classes (the last one is the robust priorities), light -> dark purple."""
    colours = ramp("Purples", len(SENSITIVITY_CLASSES) + 1)[1:]
    return QgsGraduatedSymbolRenderer(field, [
        QgsRendererRange(lo, hi, _fill(colour), label)
        for (lo, hi, label), colour in zip(SENSITIVITY_CLASSES, colours)])


def decile_renderer(field="ci_decile"):
    """Fallback decile view (1 = highest need, darkest) used when ``index_deciles.qml`` is absent."""
    colours = list(reversed(ramp("YlOrRd", 10)))
    cats = []
    for d in range(1, 11):
        label = f"{d} - highest need" if d == 1 else (f"{d} - lowest need" if d == 10 else str(d))
        cats.append(QgsRendererCategory(d, _fill(colours[d - 1]), label))
    return QgsCategorizedSymbolRenderer(field, cats)


def _category_value(value):
    """A category's value as a float, or None for the NULL category ('' or NULL)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def keep_present_classes(layer, no_incidents_field="ci_no_incidents"):
    """Drop the categories of a categorized renderer (the decile view) that no feature of
    ``layer`` has, so the legend shows only classes that exist on the map; the NULL category
    ("not in the index") stays only when some value is NULL. The first class kept reads
    "highest need", the last "lowest need"; when ``no_incidents_field`` marks zones with no
    recorded incident, the class holding them says so. Returns the number of classes kept."""
    renderer = layer.renderer() if isinstance(layer, QgsVectorLayer) else None
    if not isinstance(renderer, QgsCategorizedSymbolRenderer):
        return None
    field = renderer.classAttribute()
    values = layer_values(layer, field)
    present = set(np.unique(values[np.isfinite(values)]).tolist())
    has_null = bool(np.isnan(values).any())
    for i in reversed(range(len(renderer.categories()))):
        value = _category_value(renderer.categories()[i].value())
        if (value is None and not has_null) or (value is not None and value not in present):
            renderer.deleteCategory(i)
    classes = [(i, _category_value(c.value())) for i, c in enumerate(renderer.categories())
               if _category_value(c.value()) is not None]
    empty_class = None
    if layer.fields().indexOf(no_incidents_field) >= 0:
        flags = layer_values(layer, no_incidents_field)
        marked = values[(flags == 1) & np.isfinite(values)]
        if marked.size and np.unique(marked).size == 1:
            empty_class = (float(marked[0]), bool((values[np.isfinite(values)] == marked[0]).sum()
                                                  == marked.size))
    for pos, (i, value) in enumerate(classes):
        label = f"{value:g}"
        if pos == 0 and len(classes) > 1:
            label += " - highest need"
        elif pos == len(classes) - 1 and len(classes) > 1:
            label += " - lowest need"
        if empty_class is not None and value == empty_class[0]:
            label += ": no incidents recorded" if empty_class[1] else " (incl. no incidents recorded)"
        renderer.updateCategoryLabel(i, label)
    return len(renderer.categories())


def outline_renderer(color="#1a1a1a", width=0.6):
    symbol = QgsFillSymbol.createSimple({"style": "no", "outline_color": color,
                                         "outline_width": str(width), "outline_width_unit": "MM"})
    return QgsSingleSymbolRenderer(symbol)


def hotspot_outline_renderer():
    """Fallback for hotspot zones (when ``hotspot_zones.qml`` is absent): a black outline over a
    white halo, readable on any fill and in grey."""
    symbol = QgsFillSymbol.createSimple({"style": "no", "outline_color": "#ffffff",
                                         "outline_width": "1.0", "outline_width_unit": "MM"})
    top = QgsFillSymbol.createSimple({"style": "no", "outline_color": "#000000",
                                      "outline_width": "0.45", "outline_width_unit": "MM"})
    symbol.appendSymbolLayer(top.symbolLayer(0).clone())
    return QgsSingleSymbolRenderer(symbol)


def apply_style(layer, style_name, field=None, feedback=None):
    """Apply ``resources/styles/<style_name>.qml`` to ``layer``; returns True when styled.

    ``role_<role>`` styles are rebuilt from the data on ``field`` (or the first ``*_<role>``
    field). A missing style file or a style that fails to load is reported on ``feedback`` (or
    returned as False), never raised: an unstyled layer is better than a failed run.
    """
    if layer is None or not isinstance(layer, QgsMapLayer):
        return False

    def warn(text):
        if feedback is not None:
            feedback.reportError(text, fatalError=False)

    name = style_name[:-4] if style_name.endswith(".qml") else style_name
    path = style_path(name)
    if os.path.exists(path):
        message, ok = layer.loadNamedStyle(path)
        if not ok:
            warn(f"Style {name}.qml could not be applied to {layer.name()}: {message}")
            return False
    elif not name.startswith("role_"):
        warn(f"Style {name}.qml is missing from resources/styles; {layer.name()} left unstyled.")
        return False
    if name.startswith("role_") and isinstance(layer, QgsVectorLayer):
        role = name[len("role_"):]
        if role in ROLE_RAMPS:
            renderer = role_renderer(layer, role, field)
            if renderer is None:
                warn(f"{layer.name()} has no *_{role} field to show; style {name} not applied.")
                return False
            layer.setRenderer(renderer)
    elif name == "index_score" and isinstance(layer, QgsVectorLayer):
        renderer = score_renderer(layer, field or "ci_score")
        if renderer is None:
            warn(f"{layer.name()} has no numeric {field or 'ci_score'} values; score style not applied.")
            return False
        layer.setRenderer(renderer)
    elif field and isinstance(layer, QgsVectorLayer):
        renderer = layer.renderer()
        if hasattr(renderer, "setClassAttribute"):
            renderer.setClassAttribute(field)
    if name == "index_deciles" and isinstance(layer, QgsVectorLayer):
        keep_present_classes(layer)
    layer.triggerRepaint()
    return True


class StylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Applies a named style to an output layer when Processing loads it into the project."""

    def __init__(self, style_name, field=None):
        super().__init__()
        self.style_name = style_name
        self.field = field
        self.created_in = threading.current_thread().name

    def postProcessLayer(self, layer, context, feedback):
        apply_style(layer, self.style_name, self.field, feedback)


def _keep(key, processor):
    with _LOCK:
        _POST_PROCESSORS[key] = processor
        if len(_POST_PROCESSORS) > 500:   # drop the oldest; their layers were loaded long ago
            for old in list(_POST_PROCESSORS)[:100]:
                _POST_PROCESSORS.pop(old, None)


class _MainThreadFactory(QObject):
    """Creates post-processors on the main thread when asked from a worker thread (a Python
    post-processor made in a Processing worker thread is not reliably called: QGIS issue 47533)."""

    request = pyqtSignal(object)

    def __init__(self):
        super().__init__()
        self.request.connect(self._make, Qt.ConnectionType.QueuedConnection)

    @pyqtSlot(object)   # a real slot: a plain method would get a proxy living in the calling thread
    def _make(self, box):
        box["processor"] = StylePostProcessor(box["style"], box["field"])
        box["done"].set()


_FACTORY = []


def _factory():
    with _LOCK:
        if not _FACTORY:
            factory = _MainThreadFactory()
            factory.moveToThread(QCoreApplication.instance().thread())
            _FACTORY.append(factory)
    return _FACTORY[0]


def make_post_processor(style_name, field=None, timeout=10.0):
    """A StylePostProcessor created on the main thread (directly when already there). If the main
    thread does not answer within ``timeout`` seconds (it is blocked waiting for this run), it is
    created here instead rather than dead-locking."""
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() == app.thread():
        return StylePostProcessor(style_name, field)
    box = {"style": style_name, "field": field, "done": threading.Event(), "processor": None}
    factory = _factory()
    factory.request.emit(box)
    if box["done"].wait(timeout) and box["processor"] is not None:
        return box["processor"]
    return StylePostProcessor(style_name, field)


def style_output(alg, context, dest_id, style_name, field=None):
    """Style output ``dest_id`` with ``style_name`` when Processing loads it; returns the
    post-processor or None when the output will not be loaded.

    Call it from ``processAlgorithm`` with the ``dest_id`` returned by ``parameterAsSink`` (or the
    output path), or from ``postProcessAlgorithm`` via ``style_outputs``. Called from a worker
    thread, the post-processor is still created on the main thread (``make_post_processor``). It
    is kept in a module-level registry so sip does not collect it before Processing uses it.
    """
    tx = getattr(alg, "_ci_transaction", None)
    if tx is not None and tx.is_temporary(dest_id):  # written aside: styled once in place
        tx.styles.append((dest_id, style_name, field))
        return None
    if not dest_id or not context.willLoadLayerOnCompletion(dest_id):
        return None
    processor = make_post_processor(style_name, field)
    _keep((alg.name() if alg is not None else "", dest_id), processor)
    context.layerToLoadOnCompletionDetails(dest_id).setPostProcessor(processor)
    return processor


def style_outputs(context, styles, alg=None):
    """In ``postProcessAlgorithm``: style every loaded output by its output key.

    ``styles`` maps an output parameter name (``"OUTPUT"``) to a style name or to a
    ``(style_name, field)`` pair. Returns the number of outputs given a post-processor.
    """
    count = 0
    for dest_id, details in context.layersToLoadOnCompletion().items():
        spec = styles.get(details.outputName)
        if spec is None:
            continue
        style_name, field = (spec, None) if isinstance(spec, str) else spec
        if style_output(alg, context, dest_id, style_name, field) is not None:
            count += 1
    return count
