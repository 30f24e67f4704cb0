"""The assessment's QGIS project (.qgz) with styled layers, and a PNG of the main map.

Works on a fresh ``QgsProject`` object (never ``QgsProject.instance()``), so it can run inside an
algorithm and headless.
"""
import datetime
import os

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsLayerTreeGroup,
    QgsMapRendererCustomPainterJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsReferencedRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize, Qt
from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter

# (results table, display name, style, visible), drawn bottom to top
LAYER_ORDER = (
    ("zones", "Analysis zones", "area_outline", False),
    ("aggregated", "Victims, offenders and locations (counts)", "role_locations", False),
    ("index", "Composite index (deciles)", "index_deciles", True),
    ("hotspots", "Hotspots of the index (Gi*)", "gi_bins", False),
    ("sensitivity", "Robust priorities (sensitivity: share of runs in decile 1)", "sensitivity",
     False),
    ("period_change", "Change since the previous period", "change_diverging", False),
    ("hotspot_zones", "Hotspot zones", "hotspot_zones", True),
    # styled on extent_pct (area_summary.qml): the name says what the map shows
    ("area_summary", "Area summaries (IMD-style extent, % of residents)",
     "area_summary", False),
)


def _style(layer, style, feedback):
    try:
        from composite_index_plugin.processing.styling import apply_style
    except ImportError:  # pragma: no cover - styling ships with the plugin
        return
    if style:
        apply_style(layer, style, feedback=feedback)


OUTLINE_NAME = "Areas"   # the admin areas' outlines, drawn over the results


def result_layers(layers, feedback=None, admin_layer=None):
    """Styled QgsVectorLayers for the results, bottom to top, with their visibility.

    The admin areas' outlines are read from the area summaries in the results GeoPackage (the
    same polygons) rather than from the recipe's input, so the project needs nothing outside
    its folder; ``admin_layer`` is used only when there are no summaries."""
    out = []
    for table, title, style, visible in LAYER_ORDER:
        uri = layers.get(table)
        if not uri:
            continue
        layer = QgsVectorLayer(uri, title, "ogr")
        if not layer.isValid():
            continue
        _style(layer, style, feedback)
        field = getattr(layer.renderer(), "classAttribute", lambda: "")()
        if style and style.startswith("role_") and field:
            # the layer holds every count, its style maps one: say which (the West Yorkshire
            # project's "Victims, offenders and locations (counts)" showed burglary locations)
            layer.setName(f"{title[:-1]}; styled on {field})" if title.endswith(")")
                          else f"{title} (styled on {field})")
        out.append((layer, visible))
    for table, uri in layers.items():
        if table.startswith(("clean_", "rejected_")):
            layer = QgsVectorLayer(uri, table.replace("_", " ", 1), "ogr")
            if layer.isValid():
                out.insert(0, (layer, False))
    outline = None
    if layers.get("area_summary"):
        outline = QgsVectorLayer(layers["area_summary"], OUTLINE_NAME, "ogr")
    elif admin_layer is not None:
        outline = admin_layer.clone()
        outline.setName(OUTLINE_NAME)
    if outline is not None and outline.isValid():
        _style(outline, "area_outline", feedback)
        out.append((outline, True))
    return out


def study_extent(layers, scale=1.05):
    """The extent to open the map on: the analysis zones (the grid covers the study area), else
    every layer drawn; with a small margin."""
    zones = [layer for layer, _ in layers if layer.name() == LAYER_ORDER[0][1]]
    chosen = zones or [layer for layer, on in layers if on and layer.name() != OUTLINE_NAME] \
        or [layer for layer, _ in layers]
    extent = QgsRectangle()
    for layer in chosen:
        if layer.isSpatial() and not layer.extent().isEmpty():
            extent.combineExtentWith(layer.extent())
    if not extent.isEmpty():
        extent.scale(scale)
    return extent, (chosen[0].crs() if chosen else QgsCoordinateReferenceSystem())


def write_project(path, layers, recipe, feedback=None, admin_layer=None):
    project = QgsProject()
    project.setFileName(path)
    project.setTitle(recipe.get("name", "Composite Index assessment"))
    crs = None
    group = QgsLayerTreeGroup(f"Composite Index – {recipe.get('name', 'assessment')}")
    project.layerTreeRoot().insertChildNode(0, group)
    made = result_layers(layers, feedback, admin_layer)
    for layer, visible in reversed(made):
        project.addMapLayer(layer, False)
        node = group.addLayer(layer)
        node.setItemVisibilityChecked(visible)
        node.setExpanded(False)
        if crs is None and layer.crs().isValid():
            crs = layer.crs()
    # the map in the recipe's CRS (else the results'), opened on the study area: QGIS uses the
    # default view extent when a project has no saved map canvas (one written headless)
    wanted = QgsCoordinateReferenceSystem(recipe.get("crs") or "")
    if wanted.isValid():
        crs = wanted
    if crs is not None:
        project.setCrs(crs)
    extent, extent_crs = study_extent(made)
    if not extent.isEmpty():
        project.viewSettings().setDefaultViewExtent(QgsReferencedRectangle(extent, extent_crs))
    if not project.write(path):
        raise OSError(f"Could not write the project {path}: {project.error()}")
    if feedback is not None:
        feedback.pushInfo(f"Project written: {path}")
    return path


# The attribution printed on every map and page of a run: OS boundaries and public sector
# information (police.uk, ONS, councils) under the OGL, as the assessment PDF says it. Not the
# sample's own sources: a recipe on West Yorkshire's 2011 LSOAs and police.uk crimes uses neither
# Census 2021 nor IMD 2025 (the main map said so for every recipe).
ATTRIBUTION = ("Contains OS data \u00a9 Crown copyright and database right {year}. Contains public "
               "sector information licensed under the Open Government Licence v3.0.")
SYNTHETIC = " Synthetic incident data (the plugin's sample), not real crime records."


def attribution(synthetic=False, year=None):
    """The attribution line of a map or page (``year``: this year by default), and the
    synthetic-data warning when the incidents are the plugin's sample."""
    year = datetime.date.today().year if year is None else year
    return ATTRIBUTION.format(year=year) + (SYNTHETIC if synthetic else "")


def render_main_map(path, layers, feedback=None, admin_layer=None, title="", size=(1600, 1200),
                    note=None):
    """Index deciles, hotspot zones and area outlines to a PNG with a title and legend; ``note``
    (default ``attribution()``) along the bottom."""
    note = attribution() if note is None else note
    visible = [layer for layer, on in result_layers(layers, feedback, admin_layer) if on]
    if not visible:
        if feedback is not None:
            feedback.pushInfo("No result layers to draw; map PNG not written.")
        return None
    extent = QgsRectangle()
    for layer in visible:
        if layer.name() != OUTLINE_NAME or len(visible) == 1:
            extent.combineExtentWith(layer.extent())
    extent.scale(1.05)
    settings = QgsMapSettings()
    settings.setLayers(list(reversed(visible)))
    settings.setDestinationCrs(visible[0].crs())
    settings.setOutputSize(QSize(*size))
    settings.setExtent(extent)
    settings.setBackgroundColor(QColor("white"))
    image = QImage(QSize(*size), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.renderSynchronously()
    legend_x = _draw_title_and_legend(painter, visible, title, size)
    if note:
        painter.setFont(QFont("DejaVu Sans", 10))
        painter.setPen(QColor("#4d4d4d"))
        metrics = painter.fontMetrics()
        lines = wrap_words(note, legend_x - 24 - 16, metrics.horizontalAdvance)
        step = metrics.lineSpacing()
        for k, line in enumerate(reversed(lines)):     # from the bottom up, left of the legend
            painter.drawText(24, size[1] - 16 - k * step, line)
    painter.end()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    image.save(path, "PNG")
    if feedback is not None:
        feedback.pushInfo(f"Map written: {path}")
    return path


def wrap_words(text, width, advance):
    """``text`` in lines no wider than ``width`` by ``advance(text)`` (a word wider than a line
    has a line of its own)."""
    lines = []
    for word in str(text).split():
        if lines and advance(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _draw_title_and_legend(painter, layers, title, size):
    """The title, and the legend in the lower right corner, as wide as its longest label (up to
    45 % of the image; longer labels are cut with an ellipsis). Returns the legend's left edge
    (the image's width without a legend)."""
    from qgis.core import QgsSymbolLayerUtils

    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont("DejaVu Sans", 20, QFont.Weight.Bold)
    painter.setFont(font)
    painter.setPen(QColor("#1a1a1a"))
    painter.drawText(24, 44, title)
    entries = []
    for layer in layers:
        renderer = layer.renderer()
        if renderer is None:
            continue
        items = renderer.legendSymbolItems()
        if len(items) > 1:
            entries.append((layer.name(), None))
        for item in items:
            if item.symbol() is not None:
                entries.append((item.label() or layer.name(), item.symbol().clone()))
    if not entries:
        return size[0]
    small = QFont("DejaVu Sans", 11)
    heading = QFont("DejaVu Sans", 11, QFont.Weight.Bold)
    row = 24

    def advance(font, text):
        painter.setFont(font)
        return painter.fontMetrics().horizontalAdvance(text)

    need = max((10 if symbol is None else 52) + advance(heading if symbol is None else small, label)
               for label, symbol in entries) + 14
    width = int(min(max(need, 200), size[0] * 0.45))
    height = row * len(entries) + 16
    x0, y0 = size[0] - width - 20, size[1] - height - 20
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(255, 255, 255, 225))
    painter.drawRect(x0, y0, width, height)
    y = y0 + 8
    for label, symbol in entries:
        left = 10 if symbol is None else 52
        painter.setFont(heading if symbol is None else small)
        painter.setPen(QColor("#1a1a1a"))
        text = painter.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight,
                                                width - left - 14)
        if symbol is not None:
            pix = QgsSymbolLayerUtils.symbolPreviewPixmap(symbol, QSize(28, 16))
            painter.drawPixmap(x0 + 14, y + 4, pix)
        painter.drawText(x0 + left, y + 17, text)
        y += row
    return x0
