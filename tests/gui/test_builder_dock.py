"""The Composite Index Builder dock, driven through its widgets (pytest-qgis ``qgis_iface``; clicks
and typing with QTest).

Done-when of issue 9: a recipe built through the widgets is saved, the project is reloaded and
the window shows the same state; a run on the tiny synthetic sample adds one styled group; Cancel
leaves nothing in the project and no partial results; bad input is caught before Run.
"""
import json
import os
import shutil
import zipfile

import pytest
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsRectangle,
    QgsTask,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtTest import QTest

from composite_index_plugin.core import vocab
from composite_index_plugin.core.recipe import validate_recipe
from composite_index_plugin.paths import resource_path

FILTER = "\"issue\" = 'burglary'"


@pytest.fixture(scope="module")
def sample_source(tmp_path_factory):
    """birmingham.gpkg and the tiny synthetic 2024 sample (made once: ~1 s)."""
    from composite_index_plugin.processing.sample_io import make_sample

    folder = tmp_path_factory.mktemp("sample")
    shutil.copy(resource_path("sample", "birmingham.gpkg"), folder / "birmingham.gpkg")
    make_sample(str(folder / "synthetic"), size="tiny", years=(2024,))
    return folder


@pytest.fixture
def sample(sample_source, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(sample_source, folder)
    return folder


def add_layer(path, layer_name, name=None):
    layer = QgsVectorLayer(f"{path}|layername={layer_name}", name or layer_name, "ogr")
    assert layer.isValid(), (path, layer_name)
    QgsProject.instance().addMapLayer(layer)
    return layer


def add_sample_layers(folder):
    gpkg = str(folder / "birmingham.gpkg")
    synth = str(folder / "synthetic" / "synthetic_2024.gpkg")
    layers = {name: add_layer(gpkg, name) for name in ("study_area", "lsoa21", "constituencies")}
    for role in ("victims", "offenders", "locations"):
        layers[role] = add_layer(synth, f"synthetic_{role}")
    return layers


def click(widget):
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def choose(combo, word):
    """Pick the item of a combo whose recipe word is ``word`` (the text is its readable label)."""
    index = combo.findData(word)
    assert index >= 0, (combo.objectName(), word)
    combo.setCurrentIndex(index)


def type_into(line_edit, text):
    line_edit.clear()
    QTest.keyClicks(line_edit, text)


def add_role(dock, role):
    action = next(a for a in dock.addRoleButton.menu().actions()
                  if a.text().lower() == role)
    action.trigger()
    return dock.tree.currentItem()


def messages(iface, level):
    return iface.messageBar().get_messages(level)


def build_through_widgets(dock, layers, out_folder):
    """Theme 'Acquisitive crime' > issue 'Residential burglary' with locations (volume) and
    victims (rate per 1,000), a 1,000 m square grid, population, areas, output folder."""
    theme = dock.tree.topLevelItem(0)
    dock.tree.setCurrentItem(theme)
    type_into(dock.groupLabelEdit, "Acquisitive crime")
    issue = theme.child(0)
    dock.tree.setCurrentItem(issue)
    type_into(dock.groupLabelEdit, "Residential burglary")
    dock.groupWeightSpin.setValue(2)

    item = add_role(dock, "locations")
    assert dock.editorStack.currentWidget() is dock.rolePage
    dock.roleLayerCombo.setLayer(layers["locations"])
    dock.roleFilterWidget.setExpression(FILTER)
    dock.roleWeightSpin.setValue(2)
    assert item.text(0) == "Locations: synthetic_locations"

    add_role(dock, "victims")
    dock.roleLayerCombo.setLayer(layers["victims"])
    dock.roleFilterWidget.setExpression(FILTER)
    choose(dock.roleMeasureCombo, "rate")
    dock.rolePerSpin.setValue(1000)
    choose(dock.roleScalingCombo, "minmax")

    dock.tabs.setCurrentWidget(dock.geographyTab)
    dock.studyAreaCombo.setLayer(layers["study_area"])
    dock.gridShapeCombo.setCurrentIndex(dock.gridShapeCombo.findData("square"))
    dock.gridSizeSpin.setValue(1000)
    dock.populationCombo.setLayer(layers["lsoa21"])
    dock.populationFieldCombo.setField("population")
    dock.adminCombo.setLayer(layers["constituencies"])
    dock.adminNameCombo.setField("Cnsttnc")
    type_into(dock.recipeNameEdit, "Test assessment")
    type_into(dock.periodEdit, "2024")
    dock.outputFolderWidget.setFilePath(str(out_folder))
    dock.refresh()


def expected_recipe(folder, out_folder):
    gpkg = str(folder / "birmingham.gpkg")
    synth = str(folder / "synthetic" / "synthetic_2024.gpkg")
    return {
        "recipe_version": 1, "name": "Test assessment", "period": "2024",
        "geography": {"type": "grid", "shape": "square", "size": 1000},
        "study_area": {"source": {"path": gpkg, "layer": "study_area"}},
        "population": {"source": {"path": gpkg, "layer": "lsoa21"}, "field": "population"},
        "admin_areas": {"source": {"path": gpkg, "layer": "constituencies"},
                        "name_field": "Cnsttnc"},
        "themes": [{"name": "acquisitive_crime", "label": "Acquisitive crime", "issues": [
            {"name": "residential_burglary", "label": "Residential burglary", "weight": 2.0,
             "roles": {
                 "victims": {"source": {"path": synth, "layer": "synthetic_victims"},
                             "filter": FILTER, "measure": "rate", "denominator": "population",
                             "per": 1000, "scaling": "minmax", "direction": "higher_is_worse",
                             "weight": 1},
                 "locations": {"source": {"path": synth, "layer": "synthetic_locations"},
                               "filter": FILTER, "measure": "volume", "scaling": "zscore",
                               "direction": "higher_is_worse", "weight": 2.0}}}]}],
        "aggregation": {"issue": "mean", "theme": "mean", "composite": "mean"},
        "output": {"folder": str(out_folder)},
    }


def test_recipe_built_through_the_widgets_is_saved_and_restored_with_the_project(
        dock, sample, tmp_path, qgis_iface):
    layers = add_sample_layers(sample)
    out = tmp_path / "out"
    build_through_widgets(dock, layers, out)
    assert [c for c in dock.checks if c.level == "error"] == []
    assert dock.runButton.isEnabled()
    expected = expected_recipe(sample, out)
    assert dock.recipe() == expected

    # save: paths relative to the recipe's folder, and the file is a valid recipe
    path = sample / "recipe.json"
    dock.save(str(path))
    saved = json.loads(path.read_text())
    assert saved["study_area"]["source"] == {"path": "birmingham.gpkg", "layer": "study_area"}
    assert saved["themes"][0]["issues"][0]["roles"]["victims"]["source"]["path"] == \
        "synthetic/synthetic_2024.gpkg"
    assert saved["output"]["folder"] == "../out"
    assert validate_recipe(saved) == []

    # the set-up is kept in the project: write it, clear, read it back
    project_file = str(tmp_path / "assessment_setup.qgz")
    assert QgsProject.instance().write(project_file)
    QgsProject.instance().clear()
    assert dock.recipe()["themes"][0]["label"] == "Theme 1"       # cleared: a new recipe
    assert QgsProject.instance().read(project_file)
    assert dock.recipe() == expected
    assert dock.recipe_path == str(path)
    assert dock.studyAreaCombo.currentLayer().name() == "study_area"
    assert dock.adminNameCombo.currentField() == "Cnsttnc"
    assert dock.gridSizeSpin.value() == 1000
    issue = dock.tree.topLevelItem(0).child(0)
    assert [issue.child(k).text(0) for k in range(issue.childCount())] == [
        "Victims: synthetic_victims", "Locations: synthetic_locations"]
    assert issue.text(1) == "2"
    dock.tree.setCurrentItem(issue.child(0))
    assert dock.roleLayerCombo.currentLayer().name() == "synthetic_victims"
    assert dock.roleFilterWidget.expression() == FILTER
    assert dock.roleMeasureCombo.currentData() == "rate"
    assert dock.roleMeasureCombo.currentText() == "Rate per population"
    assert dock.roleScalingCombo.currentData() == "minmax"
    assert dock.roleDenominatorCombo.isEnabled()
    # reading did not mark the project as changed
    assert not QgsProject.instance().isDirty()

    # opening the recipe file in an empty project adds its layers and shows the same set-up
    QgsProject.instance().clear()
    assert dock.load(str(path))
    names = sorted(lyr.name() for lyr in QgsProject.instance().mapLayers().values())
    assert names == ["constituencies", "lsoa21", "study_area", "synthetic_locations",
                     "synthetic_victims"]
    assert dock.recipe() == expected


def test_tree_add_rename_reorder_remove(dock):
    click(dock.addThemeButton)                                    # Theme 2
    assert dock.tree.topLevelItemCount() == 2
    second = dock.tree.topLevelItem(1)
    second.setText(0, "Violence and vulnerability")               # rename in the tree
    assert dock.recipe()["themes"][1]["name"] == "violence_and_vulnerability"
    click(dock.addIssueButton)                                    # into the selected theme
    assert second.childCount() == 1
    dock.tree.setCurrentItem(second)
    click(dock.upButton)
    assert [t["label"] for t in dock.recipe()["themes"]] == ["Violence and vulnerability", "Theme 1"]
    # a field name typed by hand no longer follows the label
    dock.tree.setCurrentItem(dock.tree.topLevelItem(0))
    type_into(dock.groupNameEdit, "violence")
    type_into(dock.groupLabelEdit, "Violence")
    assert dock.recipe()["themes"][0]["name"] == "violence"
    dock.tree.topLevelItem(0).setText(1, "3")                     # weight column
    assert dock.recipe()["themes"][0]["weight"] == 3.0
    # an issue moves across themes at the edge of its own
    dock.tree.setCurrentItem(dock.tree.topLevelItem(0).child(0))       # "Issue 2" in Violence
    click(dock.downButton)
    assert [[i["label"] for i in t["issues"]] for t in dock.recipe()["themes"]] == \
        [[], ["Issue 2", "Issue 1"]]
    click(dock.upButton)
    click(dock.upButton)                                             # back into Violence
    assert [[i["label"] for i in t["issues"]] for t in dock.recipe()["themes"]] == \
        [["Issue 2"], ["Issue 1"]]
    dock.tree.setCurrentItem(dock.tree.topLevelItem(1))
    click(dock.removeButton)
    assert [t["label"] for t in dock.recipe()["themes"]] == ["Violence"]


def test_problems_show_next_to_the_widget_and_block_run(dock, sample, tmp_path):
    layers = add_sample_layers(sample)
    build_through_widgets(dock, layers, tmp_path / "out")
    assert dock.runButton.isEnabled()
    issue = dock.tree.topLevelItem(0).child(0)
    dock.tree.setCurrentItem(issue)
    type_into(dock.groupNameEdit, "Bad Name")
    dock.refresh()
    assert "'Bad Name' is not a valid name" in dock.problem_text("groupNameEdit")
    assert not dock.runButton.isEnabled()
    assert dock.problemsTitle.text().startswith("Checks: 1 to fix")
    # the problem is listed; clicking it goes to the issue and the widget
    dock.tree.setCurrentItem(dock.tree.topLevelItem(0))
    assert dock.problem_text("groupNameEdit") == ""            # a theme has no problem
    entry = dock.problemsList.item(0)
    assert "Residential burglary" in entry.text()
    dock.problemsList.itemClicked.emit(entry)
    assert dock.tree.currentItem() is issue
    assert "not a valid name" in dock.problem_text("groupNameEdit")
    type_into(dock.groupNameEdit, "burglary")
    # a rate without population: shown under the denominator of that role
    dock.populationCombo.setLayer(None)
    dock.outputFolderWidget.setFilePath("")
    dock.refresh()
    dock.tree.setCurrentItem(issue.child(0))
    assert "measure 'rate' needs a denominator" in dock.problem_text("roleDenominatorCombo")
    assert "no output folder" in dock.problem_text("outputFolderWidget")
    # the wrapped problem text gets all the height it needs (nothing clipped), and the caption
    # stays level with its field
    dock.resize(380, 700)
    QTest.qWait(50)
    label = dock.view.problems.labels[dock.roleDenominatorCombo]
    assert label.isVisible() and label.height() >= label.heightForWidth(label.width())
    caption = dock.roleDenominatorLabel
    field = dock.roleDenominatorCombo
    assert abs(caption.mapTo(dock, caption.rect().center()).y()
               - field.mapTo(dock, field.rect().center()).y()) <= 3
    assert not dock.runButton.isEnabled()
    # Run refuses too (not only the disabled button)
    assert dock.run() is False


def test_checks_run_as_you_edit(dock, qgis_iface):
    assert dock.problemsTitle.text().startswith("Checks:")
    type_into(dock.recipeNameEdit, "x")
    dock.tree.setCurrentItem(dock.tree.topLevelItem(0))
    type_into(dock.groupNameEdit, "9lives")
    QTest.qWait(400)                                             # the 250 ms debounce
    assert "'9lives' is not a valid name" in dock.problem_text("groupNameEdit")


def test_no_layers_in_the_project(dock):
    dock.refresh()
    assert dock.checks[0].path == "$" and "no layers" in dock.checks[0].message
    assert dock.roleLayerCombo.count() == 1                        # only the empty entry
    assert "a grid needs a study area" in dock.problem_text("studyAreaCombo")
    assert not dock.runButton.isEnabled()


def _memory_points(name, crs="EPSG:27700"):
    layer = QgsVectorLayer(f"Point?crs={crs}&field=issue:string", name, "memory")
    feature = QgsFeature(layer.fields())
    feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(410000, 287000)))
    feature["issue"] = "burglary"
    layer.dataProvider().addFeatures([feature])
    QgsProject.instance().addMapLayer(layer)
    return layer


def test_layer_removed_while_selected(dock, sample, tmp_path):
    layers = add_sample_layers(sample)
    build_through_widgets(dock, layers, tmp_path / "out")
    memory = _memory_points("memory burglaries")
    issue = dock.tree.topLevelItem(0).child(0)
    locations = issue.child(1)
    dock.tree.setCurrentItem(locations)
    dock.roleLayerCombo.setLayer(memory)
    assert dock.recipe()["themes"][0]["issues"][0]["roles"]["locations"]["source"] == \
        {"project_layer": "memory burglaries"}
    memory.setName("memory burglaries 2024")                      # renamed: the recipe follows
    assert dock.recipe()["themes"][0]["issues"][0]["roles"]["locations"]["source"] == \
        {"project_layer": "memory burglaries 2024"}
    dock.refresh()
    assert dock.runButton.isEnabled()
    QgsProject.instance().removeMapLayer(memory.id())
    # the combo goes empty, it does not jump to another point layer
    assert dock.roleLayerCombo.currentLayer() is None
    assert "no layer named 'memory burglaries 2024' in the project" in \
        dock.problem_text("roleLayerCombo")
    assert not dock.runButton.isEnabled()
    # a file layer removed: the recipe still reads the file; a note, not an error
    QgsProject.instance().removeMapLayer(layers["study_area"].id())
    assert dock.studyAreaCombo.currentLayer() is None
    assert dock.recipe()["study_area"]["source"]["layer"] == "study_area"
    notes = [c for c in dock.checks if c.path == "study_area.source"]
    assert len(notes) == 1 and notes[0].level == "warning"
    assert "not a layer of the project" in notes[0].message


def test_geographic_crs_and_live_cell_count(dock, tmp_path):
    square = QgsVectorLayer("Polygon?crs=EPSG:27700", "square area", "memory")
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(400000, 280000, 410000, 290000)))
    square.dataProvider().addFeatures([feature])
    QgsProject.instance().addMapLayer(square)
    dock.studyAreaCombo.setLayer(square)
    dock.gridShapeCombo.setCurrentIndex(dock.gridShapeCombo.findData("square"))
    dock.gridSizeSpin.setValue(1000)
    assert dock.cellCountLabel.text() == "≈ 100 cells over 100.0 km²"    # 10 km x 10 km / 1 km²
    dock.gridShapeCombo.setCurrentIndex(dock.gridShapeCombo.findData("hexagon_flat"))
    # hexagon 1,000 m flat to flat: sqrt(3)/2 km² each -> 100 / 0.8660 = 115.47
    assert dock.cellCountLabel.text() == "≈ 115 cells over 100.0 km²"
    dock.gridSizeSpin.setValue(15)
    dock.refresh()
    assert "about 513,200 cells" in dock.problem_text("gridSizeSpin")  # 1e8 / 194.86 m²

    wgs = _memory_points("gps points", crs="EPSG:4326")
    issue = dock.tree.topLevelItem(0).child(0)
    dock.tree.setCurrentItem(issue)
    add_role(dock, "offenders")
    dock.roleLayerCombo.setLayer(wgs)
    dock.refresh()
    assert "geographic CRS (EPSG:4326, degrees)" in dock.problem_text("roleLayerCombo")
    note = [c for c in dock.checks if c.path.endswith("roles.offenders.source")][0]
    assert note.level == "warning"
    dock.crsWidget.setCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    dock.refresh()
    assert "EPSG:4326 is a geographic CRS" in dock.problem_text("crsWidget")


def test_data_problems_found_before_run_and_nothing_written(dock, sample, tmp_path, provider):
    layers = add_sample_layers(sample)
    out = tmp_path / "out"
    build_through_widgets(dock, layers, out)
    locations = dock.tree.topLevelItem(0).child(0).child(1)
    dock.tree.setCurrentItem(locations)
    dock.roleFilterWidget.setExpression("\"crime_kind\" = 'burglary'")
    assert dock.run() is False
    assert "unknown field(s) crime_kind" in dock.problem_text("roleFilterWidget")
    assert not os.path.exists(out / "results.gpkg")
    assert any("problem(s)" in m for m in messages(dock.iface, Qgis.MessageLevel.Warning))


def test_run_on_the_sample_adds_one_styled_group(dock, sample, tmp_path, provider, qgis_iface):
    layers = add_sample_layers(sample)
    out = tmp_path / "out"
    build_through_widgets(dock, layers, out)
    before = set(QgsProject.instance().mapLayers())
    steps = []
    tasks = []
    bar = []
    dock.stepStarted.connect(steps.append)
    dock.stepStarted.connect(lambda _t: tasks.append(
        (dock.runner.task.description(), dock.runner.task.status(), dock.runner.task.progress())
        if dock.runner.task else None))
    dock.stepStarted.connect(lambda _t: bar.append(dock.progressBar.value()))
    assert dock.run() is True, dock.last_log
    assert tasks[0][:2] == ("Composite Index: Test assessment", QgsTask.TaskStatus.Running)
    assert "Creating the analysis grid" in steps
    # the bar (and the task manager) move during the run, stage by stage, never back
    assert bar == sorted(bar) and bar[0] < 10 and 0 < bar[len(bar) // 2] < bar[-1] < 100
    assert tasks[-1][2] == pytest.approx(bar[-1], abs=1) and tasks[-1][2] > 25
    assert dock.progressBar.value() == 100
    assert QgsProject.instance().crs().authid() == "EPSG:27700"        # the study area's
    assert sorted(os.listdir(tmp_path)) == ["data", "out"]           # staging moved in
    assert {"results.gpkg", "run.log", "recipe.json", "assessment.qgz"} <= set(os.listdir(out))
    assert "composite_index_running" not in (out / "run.log").read_text()
    with zipfile.ZipFile(out / "assessment.qgz") as archive:   # published: no staging path left
        assert not [n for n in archive.namelist() if n.endswith(".qgs") and
                    b"composite_index_running" in archive.read(n)]
    root = QgsProject.instance().layerTreeRoot()
    group = root.findGroup("Composite Index – Test assessment (2024)")
    assert group is not None and root.children()[0] is group
    names = [node.layer().name() for node in group.findLayers()]
    assert "Composite index (deciles)" in names and "Areas" in names
    index_layer = next(node.layer() for node in group.findLayers()
                       if node.layer().name() == "Composite index (deciles)")
    assert index_layer.renderer().type() in ("categorizedSymbol", "graduatedSymbol")
    assert len(index_layer.renderer().legendSymbolItems()) >= 5
    index_layer_count = index_layer.featureCount()
    new = set(QgsProject.instance().mapLayers()) - before
    assert new == {node.layerId() for node in group.findLayers()}
    assert any("Assessment finished" in m for m in messages(qgis_iface, Qgis.MessageLevel.Success))
    assert f"Added {len(names)} layer(s) to the project; results in {out}" in dock.last_log
    assert "Creating the analysis grid" in dock.logView.toPlainText()
    assert dock.openLogButton.isEnabled()
    params = dock.export_parameters()
    assert params["AREAS"].endswith("|layername=area_summary")
    assert params["PDF"] == str(out / "assessment.pdf")
    assert dock.exportLayoutButton.isEnabled()
    # the hotspot zones of this run as the zones of the next one
    hot = next(node.layer() for node in group.findLayers()
               if node.layer().name() == "Hotspot zones")
    choose(dock.geographyTypeCombo, "zones")
    assert dock.geographyTypeCombo.currentText() == "Zones layer"
    assert dock.zonesCombo.isVisibleTo(dock) and not dock.gridSizeSpin.isVisibleTo(dock)
    dock.zonesCombo.setLayer(hot)
    geography = dock.recipe()["geography"]
    assert geography == {"type": "zones", "source": {"path": str(out / "results.gpkg"),
                                                     "layer": "hotspot_zones"}}
    # shown again from the recipe's own keys (no guess from the layer's name)
    dock.set_recipe(dock.recipe())
    assert dock.geographyTypeCombo.currentData() == "zones"
    assert dock.zonesCombo.currentLayer().id() == hot.id()
    assert dock.recipe()["geography"] == geography
    choose(dock.geographyTypeCombo, "grid")
    assert dock.recipe()["geography"] == {"type": "grid", "shape": "square", "size": 1000}
    # a second run replaces the group instead of adding another
    assert dock.run() is True
    groups = [g.name() for g in root.children() if g.name().startswith("Composite Index")]
    assert groups == ["Composite Index – Test assessment (2024)"]
    rerun = root.findGroup(groups[0])
    counts = {n.layer().name(): n.layer().featureCount() for n in rerun.findLayers()}
    assert counts["Composite index (deciles)"] == index_layer_count > 0
    assert all(n.layer().isValid() for n in rerun.findLayers())


def test_cancel_mid_run_leaves_nothing_and_a_second_run_is_refused(
        dock, sample, tmp_path, provider, qgis_iface):
    layers = add_sample_layers(sample)
    out = tmp_path / "out"
    build_through_widgets(dock, layers, out)
    before_layers = set(QgsProject.instance().mapLayers())
    before_tree = [c.name() for c in QgsProject.instance().layerTreeRoot().children()]
    seen = {}

    def second_run_then_cancel():
        # delivered by the event loop while the run is going (the window stays responsive)
        seen["second_run"] = dock.run()
        seen["cancel_enabled"] = dock.cancelButton.isEnabled()
        click(dock.cancelButton)
        seen["cancelled"] = True

    def on_step(text):
        if text.startswith("Aggregating") and "gpkg_existed" not in seen:
            # the grid and the population are already written (in the staging folder: the
            # runner's own, beside the Builder's)
            from composite_index_plugin.processing.transaction import StagedFolder

            staging = StagedFolder(dock.staging_folder(str(out))).staging
            seen["gpkg_existed"] = os.path.exists(os.path.join(staging, "results.gpkg"))
            QTimer.singleShot(0, second_run_then_cancel)

    dock.stepStarted.connect(on_step)
    assert dock.run() is False
    assert seen == {"gpkg_existed": True, "second_run": False, "cancel_enabled": True,
                    "cancelled": True}
    assert any("already going" in m for m in messages(qgis_iface, Qgis.MessageLevel.Warning))
    assert any("Run cancelled" in m for m in messages(qgis_iface, Qgis.MessageLevel.Info))
    assert set(QgsProject.instance().mapLayers()) == before_layers
    assert [c.name() for c in QgsProject.instance().layerTreeRoot().children()] == before_tree
    assert sorted(os.listdir(tmp_path)) == ["data", "out"]           # no staging folder left
    # the log of the cancelled run, and the manifest naming it as Composite Index's
    assert sorted(os.listdir(out)) == [".composite_index_outputs.json", "run_cancelled.log"]
    log = (out / "run_cancelled.log").read_text()
    assert "Creating the analysis grid" in log and "Cancelled by the user" in log
    assert dock.runButton.isEnabled() and not dock.cancelButton.isEnabled()
    assert dock.indicatorsTab.isEnabled()


def test_help_modeler_and_batch_entry_points(dock, monkeypatch, qgis_iface):
    from composite_index_plugin.gui import builder_dock

    opened = []
    monkeypatch.setattr(builder_dock.QDesktopServices, "openUrl", lambda url: opened.append(url))
    click(dock.helpButton)
    assert opened and opened[0].toLocalFile().endswith(os.path.join("docs", "user_guide.md"))
    assert os.path.exists(opened[0].toLocalFile())
    titles = [a.text() for a in dock.processingButton.menu().actions()]
    assert any("batch" in t for t in titles) and any("Graphical Modeler" in t for t in titles)
    assert not dock.exportLayoutButton.isEnabled()                # no results yet


def test_every_widget_has_a_tooltip(dock):
    import xml.etree.ElementTree as ET

    from composite_index_plugin.paths import ui_path

    interactive = {"QToolButton", "QPushButton", "QLineEdit", "QComboBox", "QgsMapLayerComboBox",
                   "QgsFieldComboBox", "QgsFieldExpressionWidget", "QgsFileWidget",
                   "QgsProjectionSelectionWidget", "QDoubleSpinBox", "QSpinBox", "QCheckBox",
                   "QTreeWidget", "QListWidget", "QPlainTextEdit", "QProgressBar"}
    names = [w.get("name") for w in ET.parse(ui_path("builder_dock.ui")).iter("widget")
             if w.get("class") in interactive]
    assert len(names) >= 40
    missing = [n for n in names if not getattr(dock, n).toolTip()]
    assert missing == []
    assert all(dock.tabs.tabToolTip(k) for k in range(dock.tabs.count()))


def test_modeler_entry_opens_the_shipped_model_or_says_how(dock, monkeypatch, qgis_iface):
    import importlib

    modeler_module = importlib.import_module("processing.modeler.ModelerDialog")

    loaded = []

    class FakeModeler:
        def loadModel(self, path):
            loaded.append(path)

        def show(self):
            loaded.append("shown")

    monkeypatch.setattr(modeler_module.ModelerDialog, "create", staticmethod(lambda *a: FakeModeler()))
    monkeypatch.setattr(type(dock), "model_path", staticmethod(lambda: "/models/stages.model3"))
    dock.open_modeler()
    assert loaded == ["/models/stages.model3", "shown"]
    monkeypatch.setattr(type(dock), "model_path", staticmethod(lambda: None))
    dock.open_modeler()
    assert any("user guide explains" in m for m in messages(qgis_iface, Qgis.MessageLevel.Info))


def test_plugin_menu_opens_and_unload_removes_the_dock(qgis_iface, monkeypatch):
    from composite_index_plugin import classFactory
    from composite_index_plugin.gui.builder_dock import BuilderDock

    plugin = classFactory(qgis_iface)
    monkeypatch.setattr(plugin, "initProcessing", lambda: None)   # provider: the test fixture's
    plugin.initGui()
    names = [a.objectName() for a in plugin.actions]
    assert names == ["CompositeIndexBuilder", "CompositeIndexRunRecipe"]
    # two toolbar buttons, two different icons (both drawn: not empty)
    images = [a.icon().pixmap(32, 32).toImage() for a in plugin.actions]
    assert not any(image.isNull() for image in images) and images[0] != images[1]
    plugin.builder_action.trigger()
    assert isinstance(plugin.builder, BuilderDock) and not plugin.builder.isHidden()
    assert plugin.builder_action.isChecked()
    plugin.builder_action.trigger()
    assert plugin.builder.isHidden()
    plugin.unload()
    assert plugin.builder is None and plugin.actions == []
    QgsProject.instance().clear()


def test_recipe_paths_relative_on_save_absolute_on_open(tmp_path):
    from composite_index_plugin.gui import recipe_io as rio

    base = str(tmp_path / "recipes")
    recipe = {"study_area": {"source": {"path": str(tmp_path / "data" / "b.gpkg"), "layer": "s"}},
              "geography": {"type": "zones", "source": {"path": str(tmp_path / "z.shp")}},
              "themes": [{"name": "t", "issues": [{"name": "i", "roles": {"victims": {
                  "source": {"path": str(tmp_path / "v.csv"),
                             "import": {"postcode_lookup": str(tmp_path / "pc.csv"),
                                        "x_field": "x"}}}}}]}],
              "baseline": {"read": str(tmp_path / "2024" / "baseline.json")},
              "compare": {"previous": [{"path": str(tmp_path / "2024" / "results.gpkg"),
                                        "layer": "index"}]},
              "output": {"folder": str(tmp_path / "recipes" / "out")}}
    rel = rio.relativize(recipe, base)
    assert rel["study_area"]["source"]["path"] == "../data/b.gpkg"
    assert rel["geography"]["source"]["path"] == "../z.shp"
    victims = rel["themes"][0]["issues"][0]["roles"]["victims"]["source"]
    assert victims["path"] == "../v.csv" and victims["import"]["postcode_lookup"] == "../pc.csv"
    assert victims["import"]["x_field"] == "x"
    assert rel["baseline"]["read"] == "../2024/baseline.json"
    assert rel["compare"]["previous"][0]["path"] == "../2024/results.gpkg"
    assert rel["output"]["folder"] == "out"
    assert rio.absolutize(rel, base) == recipe
    assert vocab.slug("Hate crime & ASB (2025)") == "hate_crime_asb_2025"
    assert vocab.slug("2025 burglary", "issue") == "issue_2025_burglary"
    assert rio.split_path("themes[2].issues[0].roles.offenders.filter") == (2, 0, "offenders",
                                                                             "filter")
    assert rio.split_path("themes[1].weight") == (1, None, None, "weight")
    assert rio.split_path("admin_areas.name_field") == (None, None, None, "admin_areas.name_field")


def test_measure_options_follow_the_measure(dock):
    issue = dock.tree.topLevelItem(0).child(0)
    item = dock.add_role("offenders", issue)
    assert dock.tree.currentItem() is item
    assert not dock.roleDenominatorCombo.isEnabled() and not dock.rolePerSpin.isEnabled()
    choose(dock.roleMeasureCombo, "eb_rate")
    assert dock.roleDenominatorCombo.isEnabled() and dock.rolePerSpin.isEnabled()
    dock.rolePerSpin.setValue(10000)
    role = dock.recipe()["themes"][0]["issues"][0]["roles"]["offenders"]
    assert (role["measure"], role["denominator"], role["per"]) == ("eb_rate", "population", 10000)
    choose(dock.roleMeasureCombo, "location_quotient")   # a ratio: no "per"
    assert dock.roleDenominatorCombo.isEnabled() and not dock.rolePerSpin.isEnabled()
    role = dock.recipe()["themes"][0]["issues"][0]["roles"]["offenders"]
    assert role["denominator"] == "population" and "per" not in role
    choose(dock.roleMeasureCombo, "density")
    role = dock.recipe()["themes"][0]["issues"][0]["roles"]["offenders"]
    assert "denominator" not in role and "per" not in role
    assert dock.add_role("offenders", issue) is item               # one offenders role per issue
    assert issue.childCount() == 1


def test_a_sample_recipe_opens_and_saves_back_unchanged(dock, sample, tmp_path):
    """Keys the window does not edit (description, import specs, hotspot options, grid origin)
    are kept; CSV sources to import are shown as such."""
    from composite_index_plugin.processing.sample_recipe import sample_recipe

    original = sample_recipe(2024, str(sample / "output"), use_csv=True)
    path = sample / "recipe_2024.json"
    path.write_text(json.dumps(original))
    QgsProject.instance().setCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    assert dock.load(str(path))
    assert QgsProject.instance().crs().authid() == "EPSG:27700"        # the recipe's crs
    victims = dock.tree.topLevelItem(0).child(0).child(0)
    dock.tree.setCurrentItem(victims)
    assert victims.text(0) == "Victims: council_victims_2024.csv (imported)"
    assert dock.roleLayerCombo.currentLayer() is None
    assert dock.roleSourceNote.text() == "Reads council_victims_2024.csv (imported)"
    assert dock.errors() == []
    copy_path = sample / "copy.json"
    dock.save(str(copy_path))
    assert json.loads(copy_path.read_text()) == original


def test_opening_or_clearing_a_project_does_not_mark_it_modified(dock, tmp_path):
    QgsProject.instance().clear()
    assert not QgsProject.instance().isDirty()
    assert QgsProject.instance().readEntry("CompositeIndex", "builder/state", "")[0] == ""
    type_into(dock.recipeNameEdit, "Changed")
    dock.refresh()
    assert QgsProject.instance().isDirty()
    assert "Changed" in QgsProject.instance().readEntry("CompositeIndex", "builder/state", "")[0]


def test_help_window_fallback_shows_the_guide(dock):
    dialog = dock.show_help_window()
    from qgis.PyQt.QtWidgets import QTextBrowser

    text = dialog.findChild(QTextBrowser).toPlainText()
    assert text.startswith("Composite Index — user guide")
    assert "Cancel" in text
    dialog.close()


def test_error_line_for_the_message_bar():
    from composite_index_plugin.gui.builder_run import error_text

    class Feedback:
        errors = ["Stage compositeindex:summariseareas failed: Traceback (most recent call last):\n"
                  "  File \"x.py\", line 3, in f\n    g()\nKeyError: 'area_name'",
                  "There were errors executing the algorithm."]

    assert error_text("ignored", Feedback()) == \
        "Stage compositeindex:summariseareas failed: KeyError: 'area_name'"
    Feedback.errors = ["Stage x failed: the zones layer is empty.\nSee the log."]
    assert error_text(None, Feedback()) == "Stage x failed: the zones layer is empty."
    Feedback.errors = []
    assert error_text("Cancelled by the user.", Feedback()) == "Cancelled by the user."
    assert error_text(None, Feedback()) == "unknown error"


def test_project_closed_during_a_run_gets_no_results(dock, sample, tmp_path, provider, qgis_iface):
    layers = add_sample_layers(sample)
    out = tmp_path / "out"
    build_through_widgets(dock, layers, out)

    def on_step(text):
        if text.startswith("Writing the project"):
            QgsProject.instance().clear()

    dock.stepStarted.connect(on_step)
    assert dock.run() is True
    assert QgsProject.instance().mapLayers() == {}
    assert any("closed during the run" in m for m in messages(qgis_iface, Qgis.MessageLevel.Warning))
    assert os.path.exists(out / "results.gpkg")


def test_batch_dialog_opens_for_the_run_recipe_algorithm(dock, provider):
    dock.open_batch()
    dialog = dock._batch_dialog
    assert dialog.algorithm().id() == "compositeindex:runrecipe"
    dialog.close()


def test_cancelled_rerun_keeps_the_previous_results_and_group(dock, sample, tmp_path, provider):
    layers = add_sample_layers(sample)
    out = tmp_path / "out"
    build_through_widgets(dock, layers, out)
    assert dock.run() is True
    group_name = "Composite Index – Test assessment (2024)"
    before_ids = {n.layerId() for n in
                  QgsProject.instance().layerTreeRoot().findGroup(group_name).findLayers()}
    before_files = {name: os.path.getmtime(out / name) for name in os.listdir(out)}

    def on_step(text):
        if text.startswith("Aggregating"):
            QTimer.singleShot(0, dock.cancel)

    dock.stepStarted.connect(on_step)
    assert dock.run() is False
    group = QgsProject.instance().layerTreeRoot().findGroup(group_name)
    assert {n.layerId() for n in group.findLayers()} == before_ids
    assert all(n.layer().isValid() and n.layer().featureCount() > 0 for n in group.findLayers())
    after = {name: os.path.getmtime(out / name) for name in os.listdir(out)}
    assert set(after) == set(before_files) | {"run_cancelled.log"}
    manifest = ".composite_index_outputs.json"                  # now also lists the log
    assert all(after[name] == before_files[name] for name in before_files if name != manifest)


def test_a_broken_recipe_is_refused_with_its_problems(dock, tmp_path, qgis_iface):
    type_into(dock.recipeNameEdit, "Kept")
    dock.refresh()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"recipe_version": 1, "geography": {"type": "grid", "size": 250},
                               "themes": [{"name": "t", "issues": [{"name": "i",
                                                                    "roles": ["victims"]}]}]}))
    assert dock.load(str(bad)) is False
    critical = messages(qgis_iface, Qgis.MessageLevel.Critical)
    assert critical and "themes[0].issues[0].roles: must be an object, not a list" in critical[-1]
    assert dock.recipe()["name"] == "Kept"
    (tmp_path / "syntax.json").write_text('{"recipe_version": 1,,}')
    assert dock.load(str(tmp_path / "syntax.json")) is False
    assert "not valid JSON at line 1, column 22" in messages(qgis_iface, Qgis.MessageLevel.Critical)[-1]


def test_live_checks_are_exactly_the_checks_of_a_run(dock, sample, tmp_path, provider):
    """The Builder runs no validator of its own: its errors are the recipe model's problems,
    then (when there are none) the runner's data checks on the recipe Run would write."""
    from composite_index_plugin.core import model
    from composite_index_plugin.gui.builder_checks import allowed_folders, run_document
    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    layers = add_sample_layers(sample)
    build_through_widgets(dock, layers, tmp_path / "out")
    locations = dock.tree.topLevelItem(0).child(0).child(1)
    dock.tree.setCurrentItem(locations)
    dock.roleFilterWidget.setExpression("\"crime_kind\" = 'burglary'")    # no such field
    dock.crsWidget.setCrs(QgsCoordinateReferenceSystem("EPSG:4326"))      # degrees
    dock.refresh()
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "recipe.json").write_text(json.dumps(run_document(dock.recipe())))
    runner = RecipeRunner(str(staging / "recipe.json"), QgsProcessingContext(),
                          QgsProcessingFeedback(), output_folder=str(staging),
                          allowed_folders=allowed_folders(dock.recipe()))   # as Run gives them
    try:
        run_problems = {(p.path, p.message) for p in runner.check_data()}
    finally:
        runner.release()
    assert {(c.path, c.message) for c in dock.errors()} == run_problems
    assert {path for path, _m in run_problems} == {
        "themes[0].issues[0].roles.locations.filter", "crs"}
    assert "unknown field(s) crime_kind" in dock.problem_text("roleFilterWidget")
    assert "EPSG:4326 is a geographic CRS" in dock.problem_text("crsWidget")
    assert not dock.runButton.isEnabled()
    # a problem of the recipe itself: that is all a run would say first
    dock.tree.setCurrentItem(dock.tree.topLevelItem(0))
    type_into(dock.groupNameEdit, "Bad Name")
    dock.refresh()
    assert {(c.path, c.message) for c in dock.errors()} == {
        (p.path, p.message) for p in model.parse(dock.recipe())[1]}
    assert [c.path for c in dock.errors()] == ["themes[0].name"]


def test_combos_read_as_an_analyst_would(dock):
    """Every method, scaling, direction and missing-value choice shows its readable label with a
    tooltip (from core.vocab); the recipe gets the word."""
    issue = dock.tree.topLevelItem(0).child(0)
    dock.add_role("victims", issue)
    for combo, words, texts in (
            (dock.roleMeasureCombo, vocab.MEASURES, vocab.MEASURE_TEXT),
            (dock.roleScalingCombo, vocab.SCALINGS, vocab.SCALING_TEXT),
            (dock.roleDirectionCombo, vocab.DIRECTIONS, vocab.DIRECTION_TEXT),
            (dock.roleMissingCombo, vocab.MISSING, vocab.MISSING_TEXT),
            (dock.aggIssueCombo, vocab.AGGREGATIONS, vocab.AGGREGATION_TEXT),
            (dock.geographyTypeCombo, vocab.GEOGRAPHY_TYPES, vocab.GEOGRAPHY_TEXT)):
        assert [combo.itemData(k) for k in range(combo.count())] == list(words)
        assert [combo.itemText(k) for k in range(combo.count())] == \
            [texts[w][0] for w in words]
        assert [combo.itemData(k, Qt.ItemDataRole.ToolTipRole) for k in range(combo.count())] == \
            [texts[w][1] for w in words]
    assert dock.roleMeasureCombo.itemText(vocab.MEASURES.index("eb_rate_spatial")) == \
        "Spatial empirical Bayes rate (smoothed with neighbours)"
    assert dock.roleMissingCombo.currentData() == "zero"                # the model's default
    choose(dock.roleMissingCombo, "exclude")
    choose(dock.roleDirectionCombo, "lower_is_worse")
    role = dock.recipe()["themes"][0]["issues"][0]["roles"]["victims"]
    assert (role["missing"], role["direction"]) == ("exclude", "lower_is_worse")
