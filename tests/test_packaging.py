"""The ZIP unpacks to one folder QGIS can load, with no caches, and qgis_process runs from it."""
import configparser
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QGIS_PROCESS = "/usr/bin/qgis_process.bin"


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "composite_index_plugin.zip"
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "package.py"), "--out", str(out)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def unpacked(plugin_zip, tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugins")
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(folder)
    return folder


def test_zip_has_one_top_folder_and_what_qgis_needs(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as archive:
        names = archive.namelist()
    assert {n.split("/")[0] for n in names} == {"composite_index_plugin"}
    for needed in ("metadata.txt", "__init__.py", "LICENSE", "resources/icons/icon.svg",
                   "resources/sample/birmingham.gpkg", "resources/sample/README.md"):
        assert f"composite_index_plugin/{needed}" in names, needed
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.split("/")[1] in ("tests", ".venv", "output", "dist")]


def test_metadata_in_zip_is_valid(unpacked):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(unpacked / "composite_index_plugin" / "metadata.txt")
    general = parser["general"]
    assert general["qgisMinimumVersion"] == "3.22"
    assert (unpacked / "composite_index_plugin" / general["icon"]).exists()
    for key in ("repository", "tracker", "homepage"):
        assert general[key].startswith("https://") and "example" not in general[key]


def test_unpacked_plugin_loads_with_qgis_utils(unpacked, qgis_iface, monkeypatch, restore_provider):
    """Load the installed copy (not the repository) the way QGIS's plugin manager does."""
    import qgis.utils
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    old = registry.providerById("compositeindex")
    if old is not None:
        registry.removeProvider(old)
    saved = {k: v for k, v in sys.modules.items() if k.startswith("composite_index_plugin")}
    for k in saved:
        del sys.modules[k]
    monkeypatch.syspath_prepend(str(unpacked))
    try:
        monkeypatch.setattr(qgis.utils, "iface", qgis_iface)
        monkeypatch.setattr(qgis.utils, "plugin_paths", [str(unpacked)])
        qgis.utils.updateAvailablePlugins()  # reads metadata.txt as the plugin manager does
        assert "composite_index_plugin" in qgis.utils.available_plugins
        assert qgis.utils.pluginMetadata("composite_index_plugin", "name") == "Composite Index"
        assert qgis.utils.loadPlugin("composite_index_plugin")
        assert qgis.utils.startPlugin("composite_index_plugin")
        module = sys.modules["composite_index_plugin"]
        assert os.path.dirname(module.__file__) == str(unpacked / "composite_index_plugin")
        from composite_index_plugin.paths import plugin_root, resource_path
        assert plugin_root() == str(unpacked / "composite_index_plugin")
        assert os.path.exists(resource_path("sample", "birmingham.gpkg"))
        assert registry.algorithmById("compositeindex:runrecipe") is not None
        qgis_iface.removePluginMenu = lambda *a: None
        assert qgis.utils.unloadPlugin("composite_index_plugin")
        assert registry.providerById("compositeindex") is None
    finally:
        for k in [k for k in sys.modules if k.startswith("composite_index_plugin")]:
            del sys.modules[k]
        sys.modules.update(saved)


def _qgis_process(args, env):
    return subprocess.run([QGIS_PROCESS] + args, env=env, capture_output=True, text=True,
                          timeout=300)


def test_qgis_process_runs_an_algorithm_from_the_installed_zip(unpacked, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=str(unpacked),
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"))
    env.pop("QGIS_OPTS", None)
    enabled = _qgis_process(["plugins", "enable", "composite_index_plugin"], env)
    assert enabled.returncode == 0, enabled.stderr
    listing = _qgis_process(["list"], env)
    assert "compositeindex:runrecipe" in listing.stdout
    out = tmp_path / "sample"
    run = _qgis_process(["run", "compositeindex:makesample", "--", "SIZE=0", "SEED=5",
                         "YEARS=2024", f"OUTPUT_FOLDER={out}"], env)
    assert run.returncode == 0, run.stdout + run.stderr
    from osgeo import ogr
    ds = ogr.Open(str(out / "synthetic_2024.gpkg"))
    counts = {ds.GetLayer(i).GetName(): ds.GetLayer(i).GetFeatureCount()
              for i in range(ds.GetLayerCount())}
    assert set(counts) == {"synthetic_locations", "synthetic_victims", "synthetic_offenders"}
    # "tiny" is about 5,000 points in all
    assert 4000 < sum(counts.values()) < 6500
    assert f"locations {counts['synthetic_locations']:,}" in run.stdout
