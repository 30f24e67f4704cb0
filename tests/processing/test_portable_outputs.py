"""A run's output folder is self-contained: written to a staging folder, published (moved) into
the output folder, then copied to another machine's path, the project opens with every layer
valid, every layout picture (charts, north arrow) found and drawn, on the study area, in the
recipe's CRS; a clean run reports no GDAL error, no picture error, and its rejected rows as
warnings with their counts."""
import os
import shutil
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
from qgis.core import (
    QgsApplication,
    QgsLayoutExporter,
    QgsLayoutItemPicture,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsProviderRegistry,
)
from qgis.PyQt.QtGui import QImage

from composite_index_plugin.processing import assessment_layout as al
from composite_index_plugin.processing import portable
from composite_index_plugin.processing.algorithms.export_assessment import (
    LAYOUT_GROUP,
    OUTLINE_LEGEND,
    OUTLINE_NAMES,
)


class Recorder(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings, self.errors = [], []

    def pushWarning(self, text):
        self.warnings.append(text)

    def reportError(self, text, fatalError=False):
        self.errors.append(text)


def _run(recipe, folder, feedback, allowed=""):
    import processing

    return processing.run("compositeindex:runrecipe", {"RECIPE": recipe, "OUTPUT_FOLDER": folder,
                                                       "ALLOWED_FOLDERS": allowed},
                          context=QgsProcessingContext(), feedback=feedback)


@pytest.fixture(scope="module")
def moved(provider, tmp_path_factory):
    """Two years of the tiny synthetic sample, as ``make demo`` runs them; the second year into
    a staging folder, published into the output folder, which is then copied elsewhere and the
    original removed. Records GDAL errors and QGIS messages of the second run."""
    from osgeo import gdal

    from composite_index_plugin.processing import sample_io
    from composite_index_plugin.processing.sample_recipe import write_sample_recipes

    base = tmp_path_factory.mktemp("portable")
    inp, out = base / "input", base / "out"
    inp.mkdir()
    shutil.copy(sample_io.SAMPLE_GPKG, inp / "birmingham.gpkg")
    sample_io.make_sample(str(inp / "synthetic"), size="tiny", seed=2024, years=(2024, 2025))
    recipes = write_sample_recipes(str(inp), str(out))
    _run(recipes[2024], str(out / "2024"), Recorder())
    staging = base / ".out.composite_index_running"
    gdal_errors, messages = [], []
    gdal.PushErrorHandler(lambda cls, no, msg: gdal_errors.append(msg))
    QgsApplication.messageLog().messageReceived.connect(
        lambda msg, tag, level: messages.append(msg))
    feedback = Recorder()
    try:
        _run(recipes[2025], str(staging), feedback, allowed=str(out))   # reads the 2024 run
    finally:
        gdal.PopErrorHandler()
    staged_text = _qgs_text(staging / "assessment.qgz")
    changed = portable.publish(str(staging), str(out))
    published_text = _qgs_text(out / "assessment.qgz")
    elsewhere = base / "colleague" / "assessment 2025"
    shutil.copytree(out, elsewhere)
    shutil.rmtree(out)
    project = QgsProject()
    assert project.read(str(elsewhere / "assessment.qgz")), project.error()
    yield {"base": base, "staging": str(staging), "out": str(out), "folder": elsewhere,
           "project": project, "feedback": feedback, "gdal": gdal_errors, "messages": messages,
           "staged_text": staged_text, "published_text": published_text, "changed": changed}
    project.clear()


def _qgs_text(qgz):
    with zipfile.ZipFile(qgz) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".qgs"))
        return archive.read(name).decode("utf-8")


def _inside(path, folder):
    return os.path.normcase(os.path.abspath(path)).startswith(
        os.path.normcase(os.path.abspath(folder)) + os.sep)


def test_a_clean_run_reports_no_gdal_or_picture_error(moved):
    assert moved["gdal"] == []                       # no "ERROR 1: No geometry column"
    assert not [m for m in moved["messages"] if "Picture expression" in m]
    feedback = moved["feedback"]
    # routine cleansing is a warning with counts, not an error
    assert not [e for e in feedback.errors if "rejected" in e]
    rejected = [w for w in feedback.warnings if "row(s) rejected: " in w]
    assert any(w.startswith("3 of ") and "bad_date" in w for w in rejected), rejected


def test_published_project_names_no_staging_folder(moved):
    staging = moved["staging"]
    assert staging in moved["staged_text"]            # QGIS's fallback sources of layout items
    # the runner's own staging folder (it writes aside and moves in) is named nowhere
    assert ".composite_index_running" not in moved["staged_text"].replace(staging, "")
    assert staging not in moved["published_text"]
    assert moved["out"] + "/assessment_files/assessment_pages.gpkg" in moved["published_text"]
    assert "assessment.qgz" in moved["changed"] and "run.log" in moved["changed"]
    for name in os.listdir(moved["folder"]):
        if name.endswith((".log", ".html")):
            text = (moved["folder"] / name).read_text(encoding="utf-8")
            assert staging not in text, name
    # charts and the north arrow are named relative to the project, never absolutely
    assert "composite_index_plugin/resources" not in moved["published_text"]
    assert "./assessment_files/north_arrow.svg" in moved["published_text"]


def test_every_layer_valid_and_inside_the_copied_folder(moved):
    project, folder = moved["project"], moved["folder"]
    layers = list(project.mapLayers().values())
    assert len(layers) >= 20
    for layer in layers:
        assert layer.isValid(), layer.name()
        path = QgsProviderRegistry.instance().decodeUri(layer.providerType(),
                                                        layer.source())["path"]
        assert _inside(path, folder), (layer.name(), path)
    names = [layer.name() for layer in layers]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    assert all(name == name.strip() and "  " not in name for name in names)


def test_opens_on_the_study_area_in_the_recipe_crs(moved):
    project = moved["project"]
    assert project.crs().authid() == "EPSG:27700"
    view = project.viewSettings().defaultViewExtent()
    assert not view.isNull() and view.crs().authid() == "EPSG:27700"
    zones = project.mapLayersByName("Analysis zones")[0]
    assert view.contains(zones.extent())
    assert view.width() == pytest.approx(zones.extent().width() * 1.05)
    root = project.layerTreeRoot()
    groups = [n for n in root.children() if n.nodeType() == n.NodeGroup]
    assert groups[0].name().startswith("Composite Index – ")
    assert root.children()[-1] is root.findGroup(LAYOUT_GROUP)
    layout_group = root.findGroup(LAYOUT_GROUP)
    assert not layout_group.isExpanded() and not layout_group.itemVisibilityChecked()
    assert {n.layer().name() for n in layout_group.findLayers()} >= set(OUTLINE_NAMES.values())


def _pictures(layout):
    return [it for it in layout.items() if isinstance(it, QgsLayoutItemPicture)]


def _check_pictures(layout, folder):
    found = []
    for picture in _pictures(layout):
        picture.refreshPicture()
        path = picture.evaluatedPath()
        assert not picture.isMissingImage(), (layout.name(), picture.id(), path)
        assert os.path.isfile(path) and _inside(path, folder), (layout.name(), picture.id(), path)
        found.append((picture.id(), os.path.basename(path)))
    return found


def test_every_layout_picture_resolves_in_the_copy(moved):
    project, folder = moved["project"], moved["folder"]
    layouts = {layout.name().rsplit(" - ", 1)[1]: layout
               for layout in project.layoutManager().printLayouts()}
    assert sorted(layouts) == ["areas", "gap over time", "overview"]
    assert sorted(_check_pictures(layouts["overview"], folder)) == [
        ("chart", "chart_overview.svg"), ("north", al.NORTH_ARROW)]
    assert sorted(_check_pictures(layouts["gap over time"], folder)) == [
        ("chart", "chart_gap.svg"), ("north", al.NORTH_ARROW)]
    atlas = layouts["areas"].atlas()
    assert atlas.beginRender()
    charts = set()
    try:
        for k in range(atlas.count()):
            atlas.seekTo(k)
            page = dict(_check_pictures(layouts["areas"], folder))
            charts.add(page["chart"])
    finally:
        atlas.endRender()
    assert len(charts) == atlas.count() == 10        # one chart per constituency


def test_charts_are_drawn_in_the_copy(moved):
    """The overview page rendered from the copied project: its chart box has ink (a missing
    picture would leave it white, or draw QGIS's small 'missing' sign)."""
    project = moved["project"]
    layout = next(lay for lay in project.layoutManager().printLayouts()
                  if lay.name().endswith(" - overview"))
    image = QgsLayoutExporter(layout).renderPageToImage(0, dpi=60)
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    w, h, bpl = image.width(), image.height(), image.bytesPerLine()
    ptr = image.constBits()
    ptr.setsize(h * bpl)
    gray = np.frombuffer(ptr, dtype=np.uint8).reshape(h, bpl)[:, :w]
    chart = layout.itemById("chart").sceneBoundingRect()
    sx = w / al.PAGE_W
    box = gray[int(chart.top() * sx) + 2:int(chart.bottom() * sx) - 2,
               int(chart.left() * sx) + 2:int(chart.right() * sx) - 2]
    assert (box < 128).mean() > 0.02                 # bars, labels and axes


def test_layouts_refer_to_layers_by_id(moved):
    """Every layer a layout reads (maps, legends, atlas, tables) is named by an id of the
    project, and the layout resolves to exactly that layer."""
    project = moved["project"]
    root = ET.fromstring(moved["published_text"])
    ids = set(project.mapLayers())
    referenced = set()
    for layout in root.iter("Layout"):
        for item in layout.iter("LayoutItem"):
            for layer in item.iter("Layer"):
                referenced.add(layer.text)
            for node in item.iter("layer-tree-layer"):
                referenced.add(node.get("id"))
        for frame in layout.iter("LayoutMultiFrame"):
            if frame.get("vectorLayer"):
                referenced.add(frame.get("vectorLayer"))
        for atlas in layout.iter("Atlas"):
            if atlas.get("coverageLayer"):
                referenced.add(atlas.get("coverageLayer"))
    assert referenced and referenced <= ids
    area = next(lay for lay in project.layoutManager().printLayouts()
                if lay.name().endswith(" - areas"))
    assert area.atlas().coverageLayer().name() == OUTLINE_NAMES["area"]
    legend = area.itemById("legend")
    labels = {node.layer().name(): node.customProperty("legend/title-label")
              for node in legend.model().rootGroup().findLayers()}
    assert labels == {OUTLINE_NAMES["area"]: OUTLINE_LEGEND, "Index decile (layouts)": "Index decile",
                      "Hotspot zones (layouts)": "Hotspot zones"}


def test_relocate_rewrites_only_that_folder(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    new.mkdir()
    (new / "run.log").write_text(f"wrote {old}/results.gpkg and {old}2/other.gpkg\n{old}\n")
    (new / "data.csv").write_text(f"{old}/x\n")
    with zipfile.ZipFile(new / "p.qgz", "w") as archive:
        archive.writestr("p.qgs", f'<l source="{old}/results.gpkg|layername=a"/>')
        archive.writestr("p_data.qgd", b"\x00binary")
    changed = portable.relocate(str(new), str(old))
    assert changed == {"run.log": 2, "p.qgz": 1}
    assert (new / "run.log").read_text() == \
        f"wrote {new}/results.gpkg and {old}2/other.gpkg\n{new}\n"
    assert (new / "data.csv").read_text() == f"{old}/x\n"    # data files are never touched
    assert _qgs_text(new / "p.qgz") == f'<l source="{new}/results.gpkg|layername=a"/>'
    with zipfile.ZipFile(new / "p.qgz") as archive:
        assert archive.read("p_data.qgd") == b"\x00binary"


def test_publish_swaps_like_a_recipe_run(tmp_path):
    """The Builder's publish goes through the recipe run's swap: an earlier run's files are
    replaced and stay listed in the folder's manifest; a file Composite Index did not write
    is refused, with nothing replaced."""
    import json

    from qgis.core import QgsProcessingException

    from composite_index_plugin.core import sandbox

    out = tmp_path / "out"
    for run, extra in ((1, "first_only.txt"), (2, None)):
        staging = tmp_path / f".out.run{run}"
        staging.mkdir()
        (staging / "run.log").write_text(f"run {run} in {staging}\n")
        (staging / "recipe.json").write_text("{}")
        (staging / sandbox.MANIFEST).write_text(json.dumps({"files": ["run.log"]}))
        if extra:
            (staging / extra).write_text("x")
        portable.publish(str(staging), str(out))
        assert not staging.exists()
    assert (out / "run.log").read_text() == f"run 2 in {out}\n"      # relocated
    listed = json.loads((out / sandbox.MANIFEST).read_text())["files"]
    assert {"run.log", "recipe.json", "first_only.txt"} <= set(listed)  # earlier runs' too
    (out / "notes.txt").write_text("the analyst's")
    (out / "recipe.json").unlink()
    (out / "recipe.json").write_text("mine")
    staging = tmp_path / ".out.run3"
    staging.mkdir()
    (staging / "run.log").write_text("run 3\n")
    (staging / "notes.txt").write_text("ours")
    with pytest.raises(QgsProcessingException, match="notes.txt"):
        portable.publish(str(staging), str(out))
    assert (out / "notes.txt").read_text() == "the analyst's"
    assert (out / "run.log").read_text() == f"run 2 in {out}\n"      # nothing replaced
