"""compositeindex:exportassessment on real Birmingham data (IMD 2025 as a stand-in index, the 10
constituencies, plus Meriden in Solihull as an area with no zones and one very long name)."""
import glob
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QFontMetricsF, QImage

from composite_index_plugin.processing import assessment_layout as al
from composite_index_plugin.qgis_compat import LegendComponent, item_font, make_field
from tests.processing import assessment_fixtures as fx

LONG = ("Hall Green and Moseley with Sparkhill, Sparkbrook, Springfield, Acocks Green, Tyseley and Hay "
        "Mills: a deliberately long constituency name that has to wrap")


class Feedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.infos, self.warnings = [], []

    def pushInfo(self, text):
        self.infos.append(text)

    def pushWarning(self, text):
        self.warnings.append(text)


def _run(params):
    import processing

    feedback = Feedback()
    result = processing.run("compositeindex:exportassessment", params, context=QgsProcessingContext(),
                            feedback=feedback)
    return result, feedback


@pytest.fixture(scope="module")
def export(provider, tmp_path_factory):
    out = tmp_path_factory.mktemp("assessment")
    data = fx.build(str(out / "data"), extra_areas=("Meriden",), rename={"Hall Green": LONG}, whole_row=True)
    recipe = out / "recipe.json"
    recipe.write_text(json.dumps(data["recipe"]), encoding="utf-8")
    params = {"ZONES": data["zones"], "HOTSPOT_ZONES": data["hotspots"], "AREAS": data["areas"],
              "TITLE": "Birmingham assessment (test)", "RECIPE": str(recipe),
              "PDF": str(out / "assessment.pdf"), "PNG_FOLDER": str(out / "png"),
              "PROJECT": str(out / "assessment.qgz")}
    result, feedback = _run(params)
    return {"out": out, "data": data, "result": result, "feedback": feedback, "params": params}


def _pdf_pages(path):
    if shutil.which("pdfinfo"):
        text = subprocess.run(["pdfinfo", path], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", text, re.M).group(1))
    with open(path, "rb") as handle:
        return len(re.findall(rb"/Type\s*/Page(?![s\w])", handle.read()))


def _gray(image):
    """QImage -> 2-D numpy array of grey values 0..255."""
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    w, h, bpl = image.width(), image.height(), image.bytesPerLine()
    ptr = image.constBits()
    ptr.setsize(h * bpl)
    return np.frombuffer(ptr, dtype=np.uint8).reshape(h, bpl)[:, :w].copy()


def _crop_mm(gray, rect, inset=2.0):
    h, w = gray.shape
    sx, sy = w / al.PAGE_W, h / al.PAGE_H
    x, y, rw, rh = rect
    rows = slice(int((y + inset) * sy), int((y + rh - inset) * sy))
    cols = slice(int((x + inset) * sx), int((x + rw - inset) * sx))
    return gray[rows, cols]


def _page_images(export):
    """Every page of the PDF as a grey array (pdftoppm when installed, else the PNG_FOLDER pages)."""
    pdf = export["params"]["PDF"]
    if shutil.which("pdftoppm"):
        prefix = str(export["out"] / "raster")
        subprocess.run(["pdftoppm", "-r", "30", "-png", pdf, prefix], check=True)
        files = sorted(f for f in os.listdir(export["out"]) if f.startswith("raster"))
        return [_gray(QImage(str(export["out"] / f))) for f in files]
    folder = export["params"]["PNG_FOLDER"]
    return [_gray(QImage(os.path.join(folder, f))) for f in sorted(os.listdir(folder))]


def test_page_count_is_areas_plus_one(export):
    summary = export["data"]["summary"]
    assert summary["area_name"].iloc[0] == "Whole study area"   # a row without geometry: no page
    n_areas = len(summary) - 1                                   # 10 Birmingham + Meriden
    assert n_areas == 11
    assert export["result"]["PAGES"] == 12
    assert _pdf_pages(export["params"]["PDF"]) == n_areas + 1
    pngs = sorted(os.listdir(export["params"]["PNG_FOLDER"]))
    assert pngs == [f"page_{k:02d}.png" for k in range(1, 13)]


def test_every_page_has_a_drawn_map(export):
    pages = _page_images(export)
    assert len(pages) == 12
    for k, gray in enumerate(pages):
        frame = _crop_mm(gray, al.MAP_RECT if k == 0 else al.AREA_MAP_RECT)
        blank = _crop_mm(gray, (0.0, 0.0, al.PAGE_W, 4.5), inset=0.5)   # top margin: nothing there
        assert blank.std() < 1.0 and blank.min() > 250, f"page {k + 1}: margin not blank"
        inked = (frame < 235).mean()
        assert frame.std() > 20, f"page {k + 1}: map frame looks blank (std {frame.std():.1f})"
        assert inked > 0.10, f"page {k + 1}: only {inked:.0%} of the map frame is drawn"


def _layouts(export):
    project = QgsProject()
    assert project.read(export["params"]["PROJECT"])
    layouts = {lay.name(): lay for lay in project.layoutManager().layouts()}
    return project, layouts


def test_project_keeps_both_layouts_and_the_atlas(export):
    project, layouts = _layouts(export)
    assert sorted(layouts) == ["Birmingham assessment (test) - areas",
                               "Birmingham assessment (test) - overview"]
    atlas = layouts["Birmingham assessment (test) - areas"].atlas()
    assert atlas.enabled() and atlas.coverageLayer() is not None and atlas.coverageLayer().isValid()
    assert atlas.coverageLayer().featureCount() == 11


def _text(value, decimals, signed=False):
    return (f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}").replace("-", "\u2212")


def _diff(new, old, decimals):
    """A difference as the page prints it: of the two values rounded as they are printed."""
    v = round(new, decimals) - round(old, decimals)
    return f"{0:.{decimals}f}" if round(v, decimals) == 0 else _text(v, decimals, signed=True)


def test_table_rows_match_the_summary_layer(export):
    """Scores and differences from the whole area by hand: every value population-weighted, the
    area's and the whole study area's alike; themes and issues sorted by need."""
    summary = export["data"]["summary"].set_index("area_name")
    zones = export["data"]["zones_df"]
    labels = fx.THEME_LABELS
    pop = zones["population"].to_numpy()
    project, layouts = _layouts(export)
    layout = layouts["Birmingham assessment (test) - areas"]
    table = al.table_of(layout)
    atlas = layout.atlas()
    assert atlas.beginRender()
    seen = 0
    try:
        for i in range(atlas.count()):
            atlas.seekTo(i)
            name = atlas.layout().reportContext().feature()["area_name"]
            table.refreshAttributes()
            rows = [list(r) for r in table.contents()]
            row = summary.loc[name]
            if row["n_zones"] == 0:
                assert rows == [["No index zones in this area", "-", "-", "-"]]
                continue
            seen += 1
            inside = (zones["area"] == name).to_numpy()
            themes = sorted((row[f"top_theme_{k}"] for k in (1, 2, 3)), key=lambda t: -row[f"{t}_mean"])
            issue_val = {i: np.average(zones.loc[inside, f"{i}_idx"], weights=pop[inside])
                         for i in (row[f"top_issue_{k}"] for k in (1, 2, 3))}
            issues = sorted(issue_val, key=lambda i: -issue_val[i])
            expected = ["Composite index"] + [f"Theme: {labels[t]}" for t in themes] \
                + [f"Issue: {i.capitalize()}" for i in issues]
            assert [r[0] for r in rows] == expected
            assert rows[0][1] == f"{row['mean_score']:.1f}"
            assert rows[0][2] == f"{int(row['area_rank'])} of 10"
            city = np.average(zones["ci_score"], weights=pop)
            assert rows[0][3] == _diff(row["mean_score"], city, 1)
            areas_only = summary.drop(index="Whole study area")
            for k, t in enumerate(themes, start=1):
                whole_t = np.average(zones[f"{t}_idx"], weights=pop)          # like for like
                assert rows[k][1] == _text(row[f"{t}_mean"], 2)
                assert rows[k][3] == _diff(row[f"{t}_mean"], whole_t, 2)
                theme_rank = int((areas_only[f"{t}_mean"].dropna() > row[f"{t}_mean"]).sum()) + 1
                assert rows[k][2] == f"{theme_rank} of 10"
            for k, i in enumerate(issues, start=4):
                # the summary has no <issue>_mean: the zones whose centre is in the area, weighted
                whole_i = np.average(zones[f"{i}_idx"], weights=pop)
                assert rows[k][1] == _text(issue_val[i], 2)
                assert rows[k][3] == _diff(issue_val[i], whole_i, 2)
    finally:
        atlas.endRender()
    assert seen == 10


def test_overview_table_lists_every_area_by_rank(export):
    project, layouts = _layouts(export)
    table = al.table_of(layouts["Birmingham assessment (test) - overview"])
    table.refreshAttributes()
    rows = [list(r) for r in table.contents()]
    summary = export["data"]["summary"]
    assert len(rows) == 11
    ranked = summary[summary["area_rank"] > 0].sort_values("area_rank")
    assert [r[0] for r in rows[:10]] == [str(int(k)) for k in ranked["area_rank"]]
    assert rows[0][1] == "Hodge Hill" and rows[-1][:2] == ["-", "Meriden"]


def test_overview_table_has_room_for_a_whole_theme_name(export):
    """Rank, area, score and top theme fill the right column; a theme name as long as West
    Yorkshire's "Anti-social behaviour and disorder" is shown whole (it was cut to "Violence
    and..." with five columns). The difference from the whole area is on the area pages."""
    from composite_index_plugin.processing.algorithms.export_assessment import TABLE_COLS

    project, layouts = _layouts(export)
    table = al.table_of(layouts["Birmingham assessment (test) - overview"])
    cols = table.columns()
    assert [c.heading() for c in cols] == ["Rank", "Area", "Score", "Top theme"]
    assert [c.width() for c in cols] == [6.0, 23.0, 9.5, 45.0]
    # the frame takes the width of its columns: together they fill the right column
    room = al.content_width(al.RIGHT_W, len(cols), table.cellMargin())
    assert room - 1.0 < sum(c.width() for c in cols) <= room
    frame = layouts["Birmingham assessment (test) - overview"].itemById("priorities")
    assert frame.rect().width() <= al.RIGHT_W
    family = al.available_font()
    for label in ("Anti-social behaviour and disorder", "Violence and vulnerability"):
        assert al.fit_text(label, family, 7.0, TABLE_COLS["theme"]) == label
    # each row's theme is the area's top_theme_1 label, whole
    table.refreshAttributes()
    rows = [list(r) for r in table.contents()]
    summary = export["data"]["summary"].set_index("area_name")
    layer = layouts["Birmingham assessment (test) - overview"].itemById("priorities") \
        .multiFrame().vectorLayer()
    by_short = {f["table_name"]: f["area_name"] for f in layer.getFeatures()}
    for row in rows[:10]:
        top = summary.loc[by_short[row[1]], "top_theme_1"]
        assert row[3] == fx.THEME_LABELS[top]
    # the chart below shows each area's difference: a tick on each of its 10 bars at the whole
    # study area's score (population-weighted), said in its foot
    with open(glob.glob(str(export["out"] / "**" / "chart_overview.svg"), recursive=True)[0],
              encoding="utf-8") as handle:
        svg = handle.read()
    ticks = re.findall(r'<line x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)" y2="[\d.]+" '
                       r'stroke="#[0-9a-fA-F]+" stroke-width="0.5"/>', svg)
    assert len(ticks) == 10 and len({t for pair in ticks for t in pair}) == 1
    zones = export["data"]["zones_df"]
    city = np.average(zones["ci_score"], weights=zones["population"])
    foot = re.search(r"\u2502 = whole study area \(([\d.]+)\)", svg)
    assert foot and float(foot.group(1)) == pytest.approx(city, abs=0.05)


def test_log_names_the_field_and_the_no_data_area(export):
    infos = export["feedback"].infos
    assert any("No area name field chosen: using 'area_name'" in t for t in infos)
    assert any("1 area(s) without zones" in t for t in infos)


def test_long_title_wraps_within_the_title_box(export):
    project, layouts = _layouts(export)
    layer = layouts["Birmingham assessment (test) - areas"].atlas().coverageLayer()
    title = next(f["page_title"] for f in layer.getFeatures() if f["area_name"] == LONG)
    lines = title.split("\n")
    assert len(lines) == 2 and " ".join(lines) == LONG
    family = al.available_font()
    metrics = QFontMetricsF(al._font(al.TITLE_PT, True, family))
    limit = al.TITLE_RECT[2] * al._px_per_mm()
    assert all(metrics.horizontalAdvance(line) <= limit for line in lines)
    assert al.wrap_text("Short", family, al.TITLE_PT, al.TITLE_RECT[2]) == "Short"
    # three lines' worth is cut to two with an ellipsis, still inside the box
    cut = al.wrap_text(LONG + " " + LONG, family, al.TITLE_PT, al.TITLE_RECT[2], 2).split("\n")
    assert len(cut) == 2 and cut[1].endswith(" \u2026") and cut[0] == lines[0]
    assert all(metrics.horizontalAdvance(line) <= limit for line in cut)


def test_font_fallback(qgis_app):
    from qgis.PyQt.QtGui import QFontDatabase

    installed = set(QFontDatabase().families())
    family = al.available_font("No Such Font Family")
    assert family != "No Such Font Family"
    assert family in installed or family == al.QFont().defaultFamily()
    # every text item of a template takes the fallback family
    project = QgsProject()
    layout = al.load_template(project, "area", "fonts")
    al.use_font(layout, "Fallback Family")
    assert item_font(layout.itemById("title")).family() == "Fallback Family"
    assert al.table_of(layout).contentTextFormat().font().family() == "Fallback Family"
    assert item_font(layout.itemById("legend"), LegendComponent.SymbolLabel).family() == "Fallback Family"


def test_areas_without_text_field_fail_clearly(provider, tmp_path):
    data = fx.build(str(tmp_path / "d"))
    areas = QgsVectorLayer("Polygon?crs=EPSG:27700", "codes only", "memory")
    areas.dataProvider().addAttributes([make_field("code", "int")])
    areas.updateFields()
    f = QgsFeature(areas.fields())
    f.setGeometry(QgsGeometry.fromWkt("POLYGON((400000 280000,410000 280000,410000 290000,400000 280000))"))
    f.setAttributes([1])
    areas.dataProvider().addFeatures([f])
    with pytest.raises(QgsProcessingException, match="has no text field to name the pages"):
        _run({"ZONES": data["zones"], "AREAS": areas, "PDF": str(tmp_path / "x.pdf")})


def test_attribution_and_method_note_in_the_layout(export):
    from qgis.core import QgsExpressionContextUtils

    from composite_index_plugin.core.method_note import method_note

    project, layouts = _layouts(export)
    scope = QgsExpressionContextUtils.layoutScope(layouts["Birmingham assessment (test) - areas"])
    attribution = scope.variable("assessment_attribution")
    assert "Contains OS data \u00a9 Crown copyright and database right" in attribution
    assert "Open Government Licence v3.0" in attribution
    assert "Synthetic" not in attribution            # the IMD stand-in is not the synthetic sample
    note = scope.variable("assessment_method")
    assert note.startswith("Method. " + method_note(export["data"]["recipe"], max_chars=900))
    assert "Scaling: z-scores (7)." in note


def test_synthetic_sample_is_detected():
    from composite_index_plugin.processing.algorithms.export_assessment import labels_from, uses_sample

    assert uses_sample(['{"source": {"path": "output/demo/synthetic_2024.gpkg"}}'])
    assert uses_sample(["/x/composite_index_plugin/resources/sample/birmingham.gpkg|layername=lsoa"])
    assert not uses_sample(["/data/police/west_midlands_2024.gpkg", None, ""])
    assert labels_from(fx.recipe())["wellbeing"] == "Health and skills"


def test_existing_project_keeps_its_layers_and_rerun_replaces_layouts(export, tmp_path):
    from qgis.core import QgsPrintLayout

    data = export["data"]
    path = str(tmp_path / "runner.qgz")
    project = QgsProject()
    mine = QgsVectorLayer(data["zones"], "Existing result", "ogr")
    project.addMapLayer(mine)
    keep = QgsPrintLayout(project)
    keep.initializeDefaults()
    keep.setName("Keep me")
    project.layoutManager().addLayout(keep)
    assert project.write(path)
    project.clear()
    params = {"ZONES": data["zones"], "AREAS": data["areas"], "TITLE": "Rerun",
              "PDF": str(tmp_path / "a.pdf"), "PROJECT": path}
    _run(params)
    _, feedback = _run(params)
    assert any("Adding the layouts to the existing project" in t for t in feedback.infos)
    saved = QgsProject()
    assert saved.read(path)
    names = sorted(lay.name() for lay in saved.layoutManager().layouts())
    assert names == ["Keep me", "Rerun - areas", "Rerun - overview"]
    assert [lyr.name() for lyr in saved.mapLayers().values()].count("Existing result") == 1
    group = saved.layerTreeRoot().findGroup("Assessment layout data")
    # zones, 2 outlines, mask, priorities, counts
    assert group is not None and len(group.findLayers()) == 6
    assert not group.itemVisibilityChecked()


def test_69_wards(provider, tmp_path):
    """Many areas: one page each, the overview table shows the top 11 and says so."""
    data = fx.build(str(tmp_path / "d"), areas_file="wards_2018.gpkg", name_field="Ward")
    assert len(data["summary"]) == 69
    project_path = str(tmp_path / "w.qgz")
    result, _ = _run({"ZONES": data["zones"], "AREAS": data["areas"], "TITLE": "Wards",
                      "PDF": str(tmp_path / "w.pdf"), "PROJECT": project_path})
    assert result["PAGES"] == 70 and _pdf_pages(str(tmp_path / "w.pdf")) == 70
    project = QgsProject()
    assert project.read(project_path)
    overview = project.layoutManager().layoutByName("Wards - overview")
    assert overview.itemById("table_title").text() == "Areas ranked by need (top 11 of 69)"
    table = al.table_of(overview)
    table.refreshAttributes()
    rows = [list(r) for r in table.contents()]
    best = data["summary"].sort_values("area_rank").iloc[0]
    assert len(rows) == 11 and rows[0][0] == "1"
    assert rows[0][1] == al.fit_text(best["area_name"], al.available_font(), 7.0, 23.0)


def test_cancel_stops_before_writing(export, tmp_path):
    import processing

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    data = export["data"]
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        processing.run("compositeindex:exportassessment",
                       {"ZONES": data["zones"], "AREAS": data["areas"], "PDF": str(tmp_path / "c.pdf")},
                       context=QgsProcessingContext(), feedback=feedback)
    assert not os.path.exists(tmp_path / "c.pdf")


def test_trends_shown_only_where_they_can_be_significant():
    from composite_index_plugin.processing.algorithms.export_assessment import ExportAssessmentAlgorithm

    note = ExportAssessmentAlgorithm._trend_note
    counts = {"increasing": 12, "decreasing": 3, "no trend": 900}
    for n in (2, 3, 4):
        text = note(n, counts)
        assert text.startswith(f"Trends over time (Mann-Kendall): trend not testable with {n} "
                               "periods: needs at least 5")
        assert "12" not in text          # no counts that cannot be significant
    assert note(5, counts) == ("Trends over time (Mann-Kendall, 5 periods, p < 0.05): 12 zones "
                               "with rising need, 3 with falling need.")
