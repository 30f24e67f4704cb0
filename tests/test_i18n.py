"""Translations: every string the plugin marks can be extracted (no tr() of a variable), the
template holds the menu, the algorithms (names, groups, help, labels, choices), the Builder's
form and its messages; a pseudo-translated catalogue, built from that template and loaded
for the QGIS locale, shows in the menu, the toolbox names and the Builder; and the .qm this
project writes translates exactly as one compiled by Qt's lrelease."""
import importlib.util
import os
import shutil
import subprocess

import pytest
from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QTranslator

from composite_index_plugin import i18n

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tool():
    spec = importlib.util.spec_from_file_location(
        "translations", os.path.join(ROOT, "scripts", "translations.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def extracted():
    tool = _tool()
    messages, problems = tool.extract()
    return tool, messages, problems


def test_every_marked_string_can_be_extracted(extracted):
    _tool, _messages, problems = extracted
    assert problems == []


def test_template_holds_menu_toolbox_builder_and_choices(extracted, tmp_path):
    tool, messages, _ = extracted
    texts = {text for _context, text in messages}
    assert {"&Composite Index", "Composite Index Builder", "Run assessment from recipe…"} <= texts
    from composite_index_plugin.processing.provider import algorithm_classes

    for cls in algorithm_classes():                   # names, groups, help
        assert cls.DISPLAY_NAME in texts and cls.GROUP in texts, cls.NAME
        parts = cls.HELP if isinstance(cls.HELP, tuple) else (cls.HELP,)
        assert all(part in texts for part in parts), cls.NAME
    assert "Victims (points)" in texts                 # a parameter label
    assert "Hexagon (flat top)" in texts               # a choice (core.vocab)
    assert "Spatial empirical Bayes rate (smoothed with neighbours)" in texts
    assert ("BuilderDock", "Composite Index Builder") in messages        # the form
    assert "Opened {name}" in texts                    # a Builder message
    path = tool.write_ts(str(tmp_path / "composite_index.ts"), messages)
    done, language = tool.read_ts(path)
    assert done == {} and language == ""               # a template: nothing translated yet


@pytest.fixture
def pseudo_locale(extracted, tmp_path, monkeypatch):
    """A catalogue for the locale 'xx' in which every text reads »text«, QGIS set to that
    locale and the plugin reading i18n/ from tmp_path."""
    tool, messages, _ = extracted
    folder = tmp_path / "i18n"
    folder.mkdir()
    translations = {key: tool.pseudo(key[1]) for key in messages}
    ts = tool.write_ts(str(folder / "composite_index_xx.ts"), messages, "xx", translations)
    assert tool.compile_all(str(folder)) == [str(folder / "composite_index_xx.qm")]
    monkeypatch.setattr(i18n, "i18n_folder", lambda: str(folder))
    settings = QgsSettings()
    before = {k: settings.value(k) for k in ("locale/overrideFlag", "locale/userLocale")}
    settings.setValue("locale/overrideFlag", True)
    settings.setValue("locale/userLocale", "xx_XX")
    yield tool, ts
    for key, value in before.items():
        if value is None:
            settings.remove(key)
        else:
            settings.setValue(key, value)


def test_pseudo_catalogue_shows_in_menu_toolbox_and_builder(pseudo_locale, qgis_iface,
                                                            monkeypatch, restore_provider):
    tool, _ts = pseudo_locale
    p = tool.pseudo
    from composite_index_plugin import classFactory
    from composite_index_plugin.processing.provider import CompositeIndexProvider

    assert QgsApplication.locale() == "xx_XX"
    plugin = classFactory(qgis_iface)
    assert plugin.translator is not None
    try:
        monkeypatch.setattr(plugin, "initProcessing", lambda: None)   # the test provider's
        plugin.initGui()
        # the menu
        assert plugin.menu == p("&Composite Index")
        assert [a.text() for a in plugin.actions] == [p("Composite Index Builder"),
                                                      p("Run assessment from recipe…")]
        assert plugin.builder_action.toolTip().startswith("\u00bbOpen the Composite Index Builder")
        # the toolbox: names, groups, help and labels of the algorithms
        provider = CompositeIndexProvider()
        provider.loadAlgorithms()
        run = next(a for a in provider.algorithms() if a.name() == "runrecipe")
        assert run.displayName() == p("Run assessment from recipe")
        assert run.group() == p("Assessment")
        assert run.shortHelpString().startswith("\u00bbRuns a whole Composite Index assessment")
        grid = next(a for a in provider.algorithms() if a.name() == "creategrid").createInstance()
        grid.initAlgorithm()
        assert grid.parameterDefinition("STUDY_AREA").description() == p("Study area")
        assert grid.parameterDefinition("SHAPE").options()[1] == p("Hexagon (flat top)")
        compare = next(a for a in provider.algorithms() if a.name() == "compareperiods")
        assert compare.shortHelpString().count("\u00bb") == 2          # its two marked parts
        # the Builder: its form (Qt translates it when loading it) and its own messages
        plugin.builder_action.trigger()
        dock = plugin.builder
        assert dock.windowTitle() == p("Composite Index Builder")
        assert dock.cellCountLabel.text() == p("Choose a study area to see how many cells the "
                                               "grid has.")
        combo = dock.gridShapeCombo                    # the choices' words (core.vocab)
        assert [combo.itemText(k) for k in range(combo.count())] == [
            p("Square"), p("Hexagon (flat top)"), p("Hexagon (pointy top)")]
        assert dock.problemsTitle.text().startswith("\u00bbChecks")
    finally:
        plugin.unload()
    assert plugin.translator is None
    assert i18n.tr("Composite Index Builder") == "Composite Index Builder"   # removed


def test_no_catalogue_for_the_locale_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "i18n_folder", lambda: str(tmp_path))
    assert i18n.install("de_DE") is None
    assert i18n.catalogue("de") is None


def test_full_locale_first_then_language(tmp_path):
    tool = _tool()
    for name in ("composite_index_pt.qm", "composite_index_pt_BR.qm"):
        tool.write_qm(str(tmp_path / name), {})
    assert i18n.catalogue("pt_BR", str(tmp_path)).endswith("composite_index_pt_BR.qm")
    assert i18n.catalogue("pt_PT", str(tmp_path)).endswith("composite_index_pt.qm")
    assert i18n.catalogue("pt", str(tmp_path)).endswith("composite_index_pt.qm")


@pytest.mark.skipif(shutil.which("lrelease") is None, reason="Qt's lrelease is not installed")
def test_qm_translates_as_lreleases(pseudo_locale, extracted, tmp_path):
    """The same .ts compiled by Qt's lrelease and by scripts/translations.py: QTranslator gives
    the same text for every message (the files differ: lrelease adds sections Qt needs not)."""
    tool, ts = pseudo_locale
    _tool_, messages, _ = extracted
    theirs = tmp_path / "lrelease.qm"
    subprocess.run(["lrelease", "-silent", ts, "-qm", str(theirs)], check=True)
    ours = os.path.splitext(ts)[0] + ".qm"
    assert len(messages) > 400

    def through(path):
        """Every message translated by QCoreApplication with only ``path`` installed (it passes
        the texts as UTF-8, as the plugin's tr() does)."""
        translator = QTranslator()
        assert translator.load(path), path
        QCoreApplication.installTranslator(translator)
        try:
            return {key: QCoreApplication.translate(*key) for key in messages}, \
                QCoreApplication.translate("CompositeIndex", "not in the catalogue")
        finally:
            QCoreApplication.removeTranslator(translator)

    mine, missing_mine = through(ours)
    qt, missing_qt = through(str(theirs))
    assert mine == qt == {key: tool.pseudo(key[1]) for key in messages}
    assert missing_mine == missing_qt == "not in the catalogue"


def test_the_committed_template_holds_every_string_of_the_code(extracted):
    """i18n/composite_index.ts is what translators start from: its messages (context, source)
    are the code's (line numbers may drift; `make ts` rewrites them)."""
    tool, messages, _ = extracted
    import xml.etree.ElementTree as ET

    root = ET.parse(tool.TEMPLATE).getroot()
    committed = {(c.findtext("name"), m.findtext("source"))
                 for c in root.iter("context") for m in c.iter("message")}
    missing = sorted(set(messages) - committed)
    stale = sorted(committed - set(messages))
    assert not missing and not stale, (f"{len(missing)} new and {len(stale)} old string(s): "
                                       f"run make ts (first new: {missing[:1]}, old: {stale[:1]})")
