"""The printed assessment: layout templates (.qpt), the data behind each page, and rendering.

Three templates in ``resources/layouts``: ``assessment_overview.qpt`` (the city page),
``assessment_change.qpt`` (the gap over time, when periods were compared) and
``assessment_area.qpt`` (one atlas page per area). All are A4 landscape and are written by
``write_templates`` (``scripts/build_layouts.py``); an analyst may edit them in the layout
designer as long as the item ids stay (title, facts, map, legend, scalebar, north, priorities,
table_title, chart, method, footer, nodata; on area pages also counts_title, counts, counts_2,
change_title, changes).

What the templates read:
- layout variables ``assessment_title``, ``assessment_method``, ``assessment_attribution``,
  ``assessment_date``, ``assessment_change_title``, ``assessment_change_facts``,
  ``assessment_change_note``, ``assessment_change_chart`` (set by the export, editable in Layout
  Properties > Variables);
- the atlas coverage layer "Assessment pages" (one polygon per area) with fields ``page_id``,
  ``area_name``, ``page_title`` (wrapped), ``page_facts``, ``chart_svg``, ``no_data`` ...;
- the tables (no geometry) "Assessment priorities": ``page_id``, ``row_order``, ``priority``,
  ``score``, ``rank``, ``difference``; "Incidents per area": ``page_id``, ``row_order``,
  ``issue`` and a column per role; "Change per area": ``page_id``, ``row_order``, ``measure``,
  ``first``, ``last``, ``change``; "Gap per period": ``row_order``, ``period``, ``top``,
  ``versus``, ``gap``, ``change``.
Both are written to a GeoPackage beside the project (or in a temporary folder), so the saved
project can be re-exported from the designer.

All layout building and rendering must run on the main thread (the algorithm is NoThreading).
"""
import os

from qgis.core import (
    QgsExpressionContextUtils,
    QgsFillSymbol,
    QgsInvertedPolygonRenderer,
    QgsLayoutExporter,
    QgsLayoutFrame,
    QgsLayoutItemAttributeTable,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemMap,
    QgsLayoutItemPicture,
    QgsLayoutItemScaleBar,
    QgsLayoutMeasurement,
    QgsLayoutObject,
    QgsLayoutPoint,
    QgsLayoutSize,
    QgsLayoutTableColumn,
    QgsLegendStyle,
    QgsPalLayerSettings,
    QgsPathResolver,
    QgsPrintLayout,
    QgsProperty,
    QgsReadWriteContext,
    QgsRectangle,
    QgsRuleBasedRenderer,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtCore import QMarginsF, QSize, Qt
from qgis.PyQt.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetricsF,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
)
from qgis.PyQt.QtXml import QDomDocument

from composite_index_plugin.paths import resource_path
from composite_index_plugin.qgis_compat import (
    DistanceUnit,
    LabelPlacement,
    LayoutRenderFlag,
    LayoutUnit,
    LegendComponent,
    RenderUnit,
    ScaleBarSegmentSizeMode,
    set_font_family,
    set_item_font,
)

PAGE_W, PAGE_H = 297.0, 210.0
FONT_CHOICES = ("DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica")
TEMPLATE_FONT = "DejaVu Sans"
INK = QColor("#1a1a1a")
GREY = QColor("#555555")

# geometry of the page (mm), shared by both templates
MARGIN = 10.0
RIGHT_X = 196.0
RIGHT_W = PAGE_W - MARGIN - RIGHT_X
MAP_RECT = (MARGIN, 34.0, RIGHT_X - MARGIN - 5.0, 128.0)
# area pages: a shorter map, and below it the incidents recorded and the change over time
AREA_MAP_RECT = (MARGIN, 34.0, RIGHT_X - MARGIN - 5.0, 107.0)
BAND_Y = AREA_MAP_RECT[1] + AREA_MAP_RECT[3] + 11.0         # titles of the tables below the map
COUNTS_RECTS = ((MARGIN, BAND_Y + 5.0, 60.0, 196.5 - BAND_Y - 5.0),
                (MARGIN + 62.0, BAND_Y + 5.0, 60.0, 196.5 - BAND_Y - 5.0))
CHANGE_RECT = (MARGIN + 126.0, BAND_Y + 5.0, RIGHT_X - 5.0 - MARGIN - 126.0, 196.5 - BAND_Y - 5.0)
BAND_PT = 6.5
BAND_MARGIN = 0.6     # cell margin of the tables below the map (mm, each side of each column)
TITLE_RECT = (MARGIN, 10.0, PAGE_W - 2 * MARGIN, 15.0)
TITLE_PT = 15.0
ITEM_IDS = ("kicker", "title", "facts", "map", "north", "scalebar", "legend", "table_title",
            "priorities", "chart", "method", "footer")
KINDS = ("overview", "change", "area")


def template_path(kind):
    return resource_path("layouts", f"assessment_{kind}.qpt")


def available_font(preferred=TEMPLATE_FONT):
    """``preferred`` when installed, else the first installed of FONT_CHOICES, else Qt's default."""
    families = set(QFontDatabase().families())
    for name in (preferred,) + FONT_CHOICES:
        if name in families:
            return name
    return QFont().defaultFamily()


def _font(size, bold=False, family=TEMPLATE_FONT):
    f = QFont(family)
    f.setPointSizeF(size)
    f.setBold(bold)
    return f


def _text_format(size, bold=False, family=TEMPLATE_FONT, colour=INK):
    fmt = QgsTextFormat()
    fmt.setFont(_font(size, bold, family))
    fmt.setSize(size)
    fmt.setSizeUnit(RenderUnit.Points)
    fmt.setColor(colour)
    return fmt


def _place(item, x, y, w, h):
    item.attemptMove(QgsLayoutPoint(x, y, LayoutUnit.Millimeters))
    item.attemptResize(QgsLayoutSize(w, h, LayoutUnit.Millimeters))


def _label(layout, item_id, text, rect, size, bold=False, colour=INK, halign=Qt.AlignmentFlag.AlignLeft,
           valign=Qt.AlignmentFlag.AlignTop):
    label = QgsLayoutItemLabel(layout)
    label.setId(item_id)
    label.setText(text)
    label.setFont(_font(size, bold))
    label.setFontColor(colour)
    label.setHAlign(halign)
    label.setVAlign(valign)
    label.setMarginX(0.0)
    label.setMarginY(0.0)
    layout.addLayoutItem(label)
    _place(label, *rect)
    return label


NORTH_ARROW = "north_arrow.svg"


def north_arrow_path():
    return resource_path("layouts", NORTH_ARROW)


def file_expression(value):
    """A picture source expression for the file named by the expression ``value``: an absolute
    path as it is, a relative one under the project's folder (so a project and its
    ``<project>_files`` folder can be copied or moved together), '' when ``value`` is NULL.
    Never NULL itself: a NULL picture source is logged as "Picture expression eval error"."""
    return (f"with_variable('ci_file', coalesce({value}, ''), "
            "CASE WHEN @ci_file = '' THEN '' "
            "WHEN left(@ci_file, 1) IN ('/', char(92)) OR substr(@ci_file, 2, 1) = ':' "
            "THEN @ci_file "
            "ELSE @project_folder || '/' || @ci_file END)")


# the chart of each page: a field of the atlas feature (none outside the atlas: try()), or a
# variable
PICTURE_SOURCES = {
    "area": file_expression("try(\"chart_svg\", NULL)"),
    "overview": file_expression("@assessment_chart"),
    "change": file_expression("@assessment_change_chart"),
}


def _table(layout, frame_ids, rects, size=7.0, rows=12, margin=0.8):
    """An attribute table (no layer yet) flowing through one frame per id/rect."""
    table = QgsLayoutItemAttributeTable.create(layout)
    table.setHeaderTextFormat(_text_format(size, bold=True))
    table.setContentTextFormat(_text_format(size))
    table.setCellMargin(margin)
    table.setGridStrokeWidth(0.15)
    table.setGridColor(QColor("#9e9e9e"))
    table.setShowGrid(True)
    table.setHorizontalGrid(True)
    table.setVerticalGrid(False)
    table.setEmptyTableBehavior(QgsLayoutItemAttributeTable.EmptyTableMode.ShowMessage)
    table.setEmptyTableMessage("No data")
    table.setWrapBehavior(QgsLayoutItemAttributeTable.WrapBehavior.WrapText)
    table.setMaximumNumberOfFeatures(rows)
    table.setHeaderMode(QgsLayoutItemAttributeTable.HeaderMode.AllFrames)
    layout.addMultiFrame(table)
    for frame_id, rect in zip(frame_ids, rects):
        frame = QgsLayoutFrame(layout, table)
        frame.setId(frame_id)
        frame.setHidePageIfEmpty(False)
        table.addFrame(frame)
        _place(frame, *rect)
    return table


TITLES = {
    "overview": ("Composite index assessment", "[% @assessment_title %]", "[% @assessment_facts %]"),
    "change": ("[% @assessment_title %]", "[% @assessment_change_title %]",
               "[% @assessment_change_facts %]"),
    "area": ("[% @assessment_title %]", "[% \"page_title\" %]", "[% \"page_facts\" %]"),
}


def build_template(kind, project):
    """A new layout of ``project`` with every item of the ``kind`` ("overview", "change" or
    "area") page, no layers yet. Keep ``project`` alive as long as the layout."""
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    page = layout.pageCollection().page(0)
    page.setPageSize("A4", 1)   # 1 = landscape
    layout.setName(f"Assessment {kind}")

    kicker, title, facts = TITLES[kind]
    _label(layout, "kicker", kicker, (MARGIN, 5.0, PAGE_W - 2 * MARGIN, 5.0), 8.0, colour=GREY)
    _label(layout, "title", title, TITLE_RECT, TITLE_PT, bold=True)
    _label(layout, "facts", facts, (MARGIN, 25.5, PAGE_W - 2 * MARGIN, 8.0), 8.0)

    map_rect = AREA_MAP_RECT if kind == "area" else MAP_RECT
    mp = QgsLayoutItemMap(layout)
    mp.setId("map")
    mp.setFrameEnabled(True)
    mp.setFrameStrokeWidth(QgsLayoutMeasurement(0.3, LayoutUnit.Millimeters))
    mp.setBackgroundColor(QColor("#ffffff"))
    layout.addLayoutItem(mp)
    _place(mp, *map_rect)
    # a finite placeholder extent (the export zooms to the data); NaN would stick on zoomToExtent
    mp.setExtent(QgsRectangle(0.0, 0.0, map_rect[2] * 100.0, map_rect[3] * 100.0))

    north = QgsLayoutItemPicture(layout)
    north.setId("north")
    north.setPicturePath(north_arrow_path())
    north.setLinkedMap(mp)
    north.setBackgroundEnabled(True)
    north.setBackgroundColor(QColor(255, 255, 255, 200))
    layout.addLayoutItem(north)
    _place(north, map_rect[0] + map_rect[2] - 11.0, map_rect[1] + 2.0, 9.0, 13.0)

    bar = QgsLayoutItemScaleBar(layout)
    bar.setId("scalebar")
    bar.setStyle("Single Box")
    bar.setLinkedMap(mp)
    bar.setUnits(DistanceUnit.Kilometers)
    bar.setUnitLabel("km")
    bar.setNumberOfSegments(2)
    bar.setNumberOfSegmentsLeft(0)
    bar.setSegmentSizeMode(ScaleBarSegmentSizeMode.FitWidth)
    bar.setMinimumBarWidth(25.0)
    bar.setMaximumBarWidth(50.0)
    bar.setTextFormat(_text_format(7.0))
    bar.setHeight(2.0)
    layout.addLayoutItem(bar)
    _place(bar, MARGIN, map_rect[1] + map_rect[3] + 1.5, 70.0, 10.0 if kind != "area" else 7.0)

    legend = QgsLayoutItemLegend(layout)
    legend.setId("legend")
    legend.setTitle("Legend")
    legend.setLinkedMap(mp)
    legend.setResizeToContents(False)
    legend.setColumnCount(2)
    legend.setSplitLayer(True)
    legend.setEqualColumnWidth(False)
    legend.setSymbolWidth(5.0)
    legend.setSymbolHeight(3.2)
    legend.setBoxSpace(1.0)
    legend.setColumnSpace(2.0)
    for style, size, bold in ((LegendComponent.Title, 9.0, True), (LegendComponent.Group, 8.0, True),
                              (LegendComponent.Subgroup, 7.5, True),
                              (LegendComponent.SymbolLabel, 7.0, False)):
        set_item_font(legend, _font(size, bold), style)
    legend.rstyle(LegendComponent.Subgroup).setMargin(QgsLegendStyle.Side.Top, 1.5)
    legend.rstyle(LegendComponent.Symbol).setMargin(QgsLegendStyle.Side.Top, 0.8)
    legend.rstyle(LegendComponent.SymbolLabel).setMargin(QgsLegendStyle.Side.Top, 0.8)
    legend.setFrameEnabled(False)
    # only the classes drawn in this map (an area page shows part of the study area)
    legend.setLegendFilterByMapEnabled(True)
    layout.addLayoutItem(legend)
    _place(legend, RIGHT_X, 34.0, RIGHT_W, 50.0)

    table_title = {"area": "Top priorities in this area", "overview": "Areas ranked by need",
                   "change": "The gap per period"}[kind]
    _label(layout, "table_title", table_title, (RIGHT_X, 86.0, RIGHT_W, 5.0), 9.0, bold=True)
    _table(layout, ["priorities"], [(RIGHT_X, 91.5, RIGHT_W, 58.0)])

    chart = QgsLayoutItemPicture(layout)
    chart.setId("chart")
    chart.setResizeMode(QgsLayoutItemPicture.ResizeMode.Zoom)
    chart.dataDefinedProperties().setProperty(QgsLayoutObject.DataDefinedProperty.PictureSource,
                                              QgsProperty.fromExpression(PICTURE_SOURCES[kind]))
    layout.addLayoutItem(chart)
    _place(chart, RIGHT_X, 150.0, RIGHT_W, 46.0)

    footer = "[% @assessment_attribution %]  Produced [% @assessment_date %]."
    if kind == "area":
        # the method is on the overview page; below the map: incidents recorded, change over time
        footer += "[% @assessment_area_footer %]"
        _label(layout, "counts_title", "Incidents recorded in this area",
               (MARGIN, BAND_Y, 117.0, 5.0), 9.0, bold=True)
        _table(layout, ["counts", "counts_2"], COUNTS_RECTS, size=BAND_PT, rows=40, margin=BAND_MARGIN)
        _label(layout, "change_title", "[% @assessment_change_heading %]",
               (CHANGE_RECT[0], BAND_Y, CHANGE_RECT[2], 5.0), 9.0, bold=True)
        _table(layout, ["changes"], [CHANGE_RECT], size=BAND_PT, rows=10, margin=BAND_MARGIN)
        # the method note, shown here only when there is neither a count nor a change to show
        _label(layout, "method", "[% @assessment_area_method %]",
               (MARGIN, BAND_Y, RIGHT_X - MARGIN - 5.0, 196.5 - BAND_Y), 6.8)
    else:
        note = "[% @assessment_method %]" if kind == "overview" else "[% @assessment_change_note %]"
        _label(layout, "method", note, (MARGIN, 174.0, RIGHT_X - MARGIN - 5.0, 22.5), 6.8)
    _label(layout, "footer", footer, (MARGIN, 198.0, PAGE_W - 2 * MARGIN, 7.0), 6.5, colour=GREY)
    if kind == "area":
        nodata = _label(layout, "nodata",
                        "[% CASE WHEN \"no_data\" = 1 THEN 'No data: no index zones fall in this area.' "
                        "ELSE '' END %]",
                        (map_rect[0] + 30, map_rect[1] + map_rect[3] / 2 - 7, map_rect[2] - 60, 14.0),
                        12.0, bold=True, halign=Qt.AlignmentFlag.AlignHCenter,
                        valign=Qt.AlignmentFlag.AlignVCenter)
        nodata.setBackgroundEnabled(True)
        nodata.setBackgroundColor(QColor(255, 255, 255, 230))
        nodata.setFrameEnabled(True)
        props = nodata.dataDefinedProperties()
        # shown only on "no data" pages: excluded from exports otherwise, and see-through anyway
        ddp = QgsLayoutObject.DataDefinedProperty
        props.setProperty(ddp.ExcludeFromExports, QgsProperty.fromExpression('"no_data" = 0'))
        props.setProperty(ddp.BackgroundColor, QgsProperty.fromExpression(
            "CASE WHEN \"no_data\" = 1 THEN '255,255,255,230' ELSE '255,255,255,0' END"))
        props.setProperty(QgsLayoutObject.DataDefinedProperty.FrameColor, QgsProperty.fromExpression(
            "CASE WHEN \"no_data\" = 1 THEN '0,0,0,255' ELSE '0,0,0,0' END"))
    return layout


def write_templates(folder=None):
    """Write the .qpt templates into ``resources/layouts``."""
    from qgis.core import QgsProject

    folder = folder or resource_path("layouts")
    os.makedirs(folder, exist_ok=True)
    paths = []
    project = QgsProject()
    for kind in KINDS:
        layout = build_template(kind, project)
        path = os.path.join(folder, f"assessment_{kind}.qpt")
        context = QgsReadWriteContext()   # file paths relative to the template (no machine's)
        context.setPathResolver(QgsPathResolver(path))
        if not layout.saveAsTemplate(path, context):
            raise OSError(f"could not write {path}")
        paths.append(path)
    return paths


def load_template(project, kind, name, north_arrow=None):
    """A QgsPrintLayout of ``project`` from ``resources/layouts/assessment_<kind>.qpt``; its
    north arrow is ``north_arrow`` (a copy beside the project) or the plugin's own."""
    path = template_path(kind)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    doc = QDomDocument()
    doc.setContent(text)
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    _, ok = layout.loadFromTemplate(doc, QgsReadWriteContext())
    if not ok:
        raise ValueError(f"The layout template {path} could not be read.")
    layout.setName(name)
    north = layout.itemById("north")
    if isinstance(north, QgsLayoutItemPicture):   # the stored path is where the template was built
        north.setPicturePath(north_arrow or north_arrow_path())
    return layout


def fit_extent(map_item, extent, margin=0.02):
    """Show ``extent`` (plus ``margin`` of its size) in ``map_item``, keeping the item's aspect."""
    rect = map_item.rect()
    ratio = rect.width() / rect.height() if rect.height() > 0 else 1.0
    ext = QgsRectangle(extent)
    w, h = ext.width() * (1 + 2 * margin), ext.height() * (1 + 2 * margin)
    if w <= 0 or h <= 0:
        w = h = max(w, h, 1000.0)
    if w / h < ratio:
        w = h * ratio
    else:
        h = w / ratio
    c = ext.center()
    map_item.setExtent(QgsRectangle(c.x() - w / 2, c.y() - h / 2, c.x() + w / 2, c.y() + h / 2))


def item(layout, item_id):
    return layout.itemById(item_id)


def use_font(layout, family):
    """Swap every item's font family for ``family`` (fallback when the template font is missing)."""
    for it in layout.items():
        if isinstance(it, QgsLayoutItemLabel):
            set_font_family(it, family)
        elif isinstance(it, QgsLayoutItemLegend):
            for style in (LegendComponent.Title, LegendComponent.Group, LegendComponent.Subgroup,
                          LegendComponent.SymbolLabel):
                set_font_family(it, family, style)
        elif isinstance(it, QgsLayoutItemScaleBar):
            fmt = it.textFormat()
            f = fmt.font()
            f.setFamily(family)
            fmt.setFont(f)
            it.setTextFormat(fmt)
    for mf in layout.multiFrames():
        if isinstance(mf, QgsLayoutItemAttributeTable):
            for getter, setter in ((mf.headerTextFormat, mf.setHeaderTextFormat),
                                   (mf.contentTextFormat, mf.setContentTextFormat)):
                fmt = getter()
                f = fmt.font()
                f.setFamily(family)
                fmt.setFont(f)
                setter(fmt)


def table_of(layout, frame_id="priorities"):
    frame = layout.itemById(frame_id)
    return frame.multiFrame() if frame is not None else None


def set_columns(table, columns):
    """``columns``: list of (heading, expression, width_mm, align). A column takes its width
    plus the table's cell margin on each side (see ``content_width``)."""
    cols = []
    for heading, expr, width, align in columns:
        col = QgsLayoutTableColumn(heading)
        col.setAttribute(expr)
        col.setWidth(width)
        col.setHAlignment(align)
        cols.append(col)
    table.setColumns(cols)


def content_width(frame_width, n_columns, margin):
    """The width left for the columns' contents in a frame: the cell margins take 2 x ``margin``
    per column, and a little is kept for the grid lines."""
    return frame_width - 2.0 * margin * n_columns - 0.5


def set_variables(layout, values):
    for key, value in values.items():
        QgsExpressionContextUtils.setLayoutVariable(layout, key, value)


def wrap_text(text, family, size_pt, width_mm, max_lines=2, bold=True):
    """Wrap ``text`` at word boundaries to lines no wider than ``width_mm`` for this font; more
    than ``max_lines`` lines are cut with an ellipsis. Words longer than a line are broken."""
    font = _font(size_pt, bold, family)
    metrics = QFontMetricsF(font)
    # QFontMetricsF measures in pixels at the screen's logical dpi, as the point size does
    limit = width_mm * _px_per_mm() * 0.96

    def width(s):
        return metrics.horizontalAdvance(s)  # Qt 5.11+; width() is gone in Qt6

    lines, current = [], ""
    for word in str(text).split():
        while width(word) > limit and len(word) > 1:   # a single word longer than the line
            cut = len(word)
            while cut > 1 and width(word[:cut] + "-") > limit:
                cut -= 1
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:cut] + "-")
            word = word[cut:]
        trial = f"{current} {word}".strip()
        if current and width(trial) > limit:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        words = lines[max_lines - 1].split(" ")
        while len(words) > 1 and width(" ".join(words) + " \u2026") > limit:
            words.pop()      # whole words only
        lines = lines[: max_lines - 1] + [" ".join(words).rstrip() + " \u2026"]
    return "\n".join(lines)


def fit_text(text, family, size_pt, width_mm, bold=False):
    """``text`` on one line of ``width_mm`` in this font: whole when it fits, else cut after the
    last word that fits, with an ellipsis (never inside a word; a first word longer than the
    line is kept whole)."""
    text = " ".join(str(text).split())
    metrics = QFontMetricsF(_font(size_pt, bold, family))
    limit = width_mm * _px_per_mm() * 0.98
    if metrics.horizontalAdvance(text) <= limit:
        return text
    words = text.split(" ")
    while len(words) > 1 and \
            metrics.horizontalAdvance(" ".join(words).rstrip(" ,;-&") + "\u2026") > limit:
        words.pop()
    return " ".join(words).rstrip(" ,;-&") + "\u2026"


def text_width(text, family, size_pt, bold=False):
    """Width of ``text`` on one line in this font (mm)."""
    metrics = QFontMetricsF(_font(size_pt, bold, family))
    return metrics.horizontalAdvance(str(text)) / _px_per_mm()


def _px_per_mm():
    """Pixels per mm of QFontMetricsF (the screen's logical dpi)."""
    from qgis.PyQt.QtGui import QGuiApplication

    screen = QGuiApplication.primaryScreen()
    dpi = screen.logicalDotsPerInch() if screen is not None else 96.0
    return dpi / 25.4


CHANGE_COLOURS = ("#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b")
"""ColorBrewer RdBu (7), blue = less need, red = more need; the middle class near white."""


def change_renderer(classes, field):
    """A graduated renderer of a change field with ``classes`` from
    ``core.report_pages.diverging_classes`` (symmetric about 0, blue = less need, red = more)."""
    from qgis.core import QgsGraduatedSymbolRenderer, QgsRendererRange

    colours = CHANGE_COLOURS if len(classes) == 7 else \
        [CHANGE_COLOURS[round(k * 6 / max(len(classes) - 1, 1))] for k in range(len(classes))]
    ranges = []
    for (lo, hi, label), colour in zip(classes, colours):
        lo = -1e12 if lo == float("-inf") else lo
        hi = 1e12 if hi == float("inf") else hi
        ranges.append(QgsRendererRange(lo, hi, outline_symbol("#b0b0b0", 0.05, fill=colour), label))
    renderer = QgsGraduatedSymbolRenderer(field, ranges)
    return renderer


def outline_symbol(colour, width, fill=None):
    props = {"style": "solid" if fill else "no", "color": fill or "0,0,0,0", "outline_color": colour,
             "outline_width": str(width), "outline_width_unit": "MM"}
    return QgsFillSymbol.createSimple(props)


def area_outline_renderer(current_expr):
    """This area thick and black, neighbours thin and grey (rule-based, atlas aware)."""
    root = QgsRuleBasedRenderer.Rule(None)
    this = QgsRuleBasedRenderer.Rule(outline_symbol("#000000", 0.9), 0, 0, current_expr, "This area")
    other = QgsRuleBasedRenderer.Rule(outline_symbol("#4d4d4d", 0.35), 0, 0, f"NOT ({current_expr})",
                                      "Neighbouring areas")
    root.appendChild(this)
    root.appendChild(other)
    return QgsRuleBasedRenderer(root)


def mask_renderer(current_expr):
    """Fades everything outside the current area (inverted polygon, white at 55%)."""
    root = QgsRuleBasedRenderer.Rule(None)
    sym = QgsFillSymbol.createSimple({"color": "255,255,255,140", "outline_style": "no"})
    root.appendChild(QgsRuleBasedRenderer.Rule(sym, 0, 0, current_expr, "Outside this area"))
    return QgsInvertedPolygonRenderer(QgsRuleBasedRenderer(root))


def area_labels(expression, family, size=7.5, colour="#262626", wrap=16, italic=False, display_all=True):
    settings = QgsPalLayerSettings()
    settings.fieldName = expression
    settings.isExpression = True
    # scoped where QGIS has it: on 3.40+ QgsPalLayerSettings.OverPoint names a point position instead
    settings.placement = LabelPlacement.OverPoint
    settings.centroidInside = True
    settings.displayAll = display_all
    settings.autoWrapLength = wrap
    fmt = _text_format(size, bold=not italic, family=family, colour=QColor(colour))
    if italic:
        f = fmt.font()
        f.setItalic(True)
        fmt.setFont(f)
    buf = QgsTextBufferSettings()
    buf.setEnabled(True)
    buf.setSize(0.9)
    buf.setSizeUnit(RenderUnit.Millimeters)
    buf.setColor(QColor("#ffffff"))
    fmt.setBuffer(buf)
    settings.setFormat(fmt)
    return QgsVectorLayerSimpleLabeling(settings)


def render_pages(pages, pdf_path, png_folder=None, dpi=200, feedback=None, png_dpi=110):
    """Render ``pages`` into one PDF (and a PNG per page).

    ``pages``: iterable of ``(layout, prepare)`` where ``prepare()`` (or None) makes the layout
    show the right content (e.g. moves the atlas on). Returns the list of PNG paths.
    """
    writer = QPdfWriter(pdf_path)
    writer.setResolution(int(dpi))
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Landscape,
                                     QMarginsF(0, 0, 0, 0)))
    writer.setCreator("Composite Index (QGIS)")
    painter = QPainter()
    pngs = []
    started = False
    try:
        for n, (layout, prepare) in enumerate(pages):
            if feedback is not None and feedback.isCanceled():
                break
            if prepare is not None:
                prepare()
            ctx = layout.renderContext()
            ctx.setDpi(dpi)
            ctx.setFlag(LayoutRenderFlag.Antialiasing, True)
            ctx.setFlag(LayoutRenderFlag.UseAdvancedEffects, True)
            ctx.setFlag(LayoutRenderFlag.ForceVectorOutput, True)
            exporter = QgsLayoutExporter(layout)
            if not started:
                if not painter.begin(writer):
                    raise OSError(f"Cannot write the PDF {pdf_path} (is it open in another program?).")
                started = True
            else:
                writer.newPage()
            exporter.renderPage(painter, 0)
            if png_folder:
                ctx.setFlag(LayoutRenderFlag.ForceVectorOutput, False)
                image = exporter.renderPageToImage(0, QSize(), png_dpi)
                path = os.path.join(png_folder, f"page_{n + 1:02d}.png")
                image.save(path, "PNG")
                pngs.append(path)
            if feedback is not None:
                feedback.pushInfo(f"Page {n + 1}: {layout.name()}")
    finally:
        if started:
            painter.end()
    return pngs


__all__ = ["build_template", "load_template", "render_pages", "write_templates"]
