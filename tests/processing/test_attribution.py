"""The attribution line of the main map and of the assessment pages: one text for both, the
sources every run uses (OS boundaries, public sector information under the OGL), never the
sample's own (the main map used to print "ONS Census 2021 and MHCLG IMD 2025" for every recipe,
West Yorkshire's 2011 LSOAs and police.uk crimes included)."""
from types import SimpleNamespace

from composite_index_plugin.processing import project_writer
from composite_index_plugin.processing.recipe_runner import RecipeRunner


def test_attribution_text():
    assert project_writer.attribution(year=2026) == (
        "Contains OS data \u00a9 Crown copyright and database right 2026. Contains public sector "
        "information licensed under the Open Government Licence v3.0.")
    synthetic = project_writer.attribution(True, year=2026)
    assert synthetic.startswith(project_writer.attribution(year=2026))
    assert synthetic.endswith(" Synthetic incident data (the plugin's sample), not real crime "
                              "records.")


def _note_of_main_map(monkeypatch, doc):
    seen = {}

    def render(path, layers, feedback=None, admin_layer=None, title="", note=None, **kw):
        seen["note"] = note

    monkeypatch.setattr(project_writer, "render_main_map", render)
    runner = SimpleNamespace(doc=doc, map_png="map.png", layers={},
                             recipe=SimpleNamespace(admin_areas=None, name="West Yorkshire"),
                             admin_layer=lambda: None)
    feedback = SimpleNamespace(setProgressText=lambda text: None)
    RecipeRunner.stage_map(runner, feedback)
    return seen["note"]


def test_main_map_says_what_the_pages_say(monkeypatch):
    real = _note_of_main_map(monkeypatch, {"name": "West Yorkshire 2017-07",
                                           "sources": [{"path": "wy/2017-07-west-yorkshire-street.csv"}]})
    assert real == project_writer.attribution()
    assert "IMD" not in real and "Census 2021" not in real
    sample = _note_of_main_map(monkeypatch, {"name": "Birmingham sample",
                                             "description": "SYNTHETIC data made by the sample generator"})
    assert sample == project_writer.attribution(True)


def test_wrap_words():
    assert project_writer.wrap_words("aa bb cc dd", 5, len) == ["aa bb", "cc dd"]
    assert project_writer.wrap_words("a toolongword b", 4, len) == ["a", "toolongword", "b"]
    assert project_writer.wrap_words("", 10, len) == []


def test_main_map_legend_holds_its_longest_label():
    """The sample map's "10 - lowest need (incl. no incidents recorded)" ran past the image's
    right edge (a legend of fixed width): the legend is as wide as its longest label, inside
    the image, and says where it starts so the attribution wraps left of it."""
    from qgis.core import (
        QgsCategorizedSymbolRenderer,
        QgsFillSymbol,
        QgsRendererCategory,
        QgsVectorLayer,
    )
    from qgis.PyQt.QtGui import QColor, QImage, QPainter

    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=d:integer", "deciles", "memory")
    long_label = "10 - lowest need (incl. no incidents recorded)"
    cats = [QgsRendererCategory(1, QgsFillSymbol.createSimple({"color": "#440154"}),
                                "1 - highest need"),
            QgsRendererCategory(10, QgsFillSymbol.createSimple({"color": "#fde725"}), long_label)]
    layer.setRenderer(QgsCategorizedSymbolRenderer("d", cats))
    size = (1600, 1200)
    image = QImage(size[0], size[1], QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    x0 = project_writer._draw_title_and_legend(painter, [layer], "", size)
    painter.setFont(project_writer.QFont("DejaVu Sans", 11))
    need = painter.fontMetrics().horizontalAdvance(long_label)
    painter.end()
    assert 0 < x0 and size[0] - 20 - x0 >= 52 + need        # room for the symbol and the label
    # nothing dark at the legend's right edge or beyond (the label's last letters end inside)
    dark_x = [x for y in range(size[1] - 100, size[1] - 20) for x in range(x0, size[0])
              if QColor(image.pixel(x, y)).lightness() < 100]
    assert dark_x and max(dark_x) < size[0] - 20 - 8
    assert max(dark_x) > x0 + 52 + need - 20                # the whole label was drawn
