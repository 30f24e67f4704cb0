"""The Builder's police.uk quick start: its button runs the dialog of newrecipe and opens the
recipe written (issue 17); the opened recipe keeps its archive, categories and population table
(paths made absolute, so a run from the Builder's staging folder finds them)."""
import json
import os
import shutil

from qgis.core import QgsProcessingContext, QgsProcessingFeedback
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtTest import QTest

from tests import policeuk_reference as ref


def test_the_button_writes_a_recipe_and_opens_it(dock, tmp_path, monkeypatch, provider):
    import processing

    ref.make_archive(str(tmp_path / "wy.zip"), months=("2017-07",))
    shutil.copy(ref.LSOA, tmp_path / "lsoa11.geojson")
    shutil.copy(ref.CENSUS, tmp_path / "census.csv")
    asked = []

    def dialog(alg_id, parameters):   # what the analyst fills in, then OK
        asked.append((alg_id, parameters))
        return processing.run(alg_id, {
            "ARCHIVE": str(tmp_path / "wy.zip"), "BOUNDARIES": str(tmp_path / "lsoa11.geojson"),
            "POPULATION_TABLE": str(tmp_path / "census.csv"),
            "OUTPUT": str(tmp_path / "recipe" / "wy.json")},
            context=QgsProcessingContext(), feedback=QgsProcessingFeedback())

    monkeypatch.setattr(processing, "execAlgorithmDialog", dialog)
    QTest.mouseClick(dock.policeukButton, Qt.MouseButton.LeftButton)
    assert asked == [("compositeindex:newrecipe", {})]
    assert dock.recipe_path == str(tmp_path / "recipe" / "wy.json")
    shown = dock.recipe()
    with open(dock.recipe_path, encoding="utf-8") as handle:
        written = json.load(handle)
    assert [[i["name"] for i in t["issues"]] for t in shown["themes"]] == \
        [[i["name"] for i in t["issues"]] for t in written["themes"]]
    role = shown["themes"][0]["issues"][0]["roles"]["locations"]
    assert role["category_field"] == "issue"
    assert role["source"]["path"] == str(tmp_path / "wy.zip")
    assert shown["population"]["table"]["path"] == str(tmp_path / "census.csv")
    assert shown["period"] == "2017-07" and shown["study_area"]["buffer"] == 50
    from composite_index_plugin.gui.builder_checks import data_checks

    staging = tmp_path / "elsewhere"                     # as the Builder runs it
    os.makedirs(staging)
    assert data_checks(shown, str(staging)) == []
    dock.refresh()
    assert [c for c in dock.errors()] == []


def test_nothing_happens_when_the_dialog_is_cancelled(dock, monkeypatch, provider):
    import processing

    monkeypatch.setattr(processing, "execAlgorithmDialog", lambda alg_id, parameters: {})
    before = json.dumps(dock.state(), sort_keys=True)
    assert dock.new_from_policeuk() is False
    assert json.dumps(dock.state(), sort_keys=True) == before
