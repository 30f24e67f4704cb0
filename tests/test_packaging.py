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


def _check_package():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        import check_package
    finally:
        sys.path.pop(0)
    return check_package


def test_zip_passes_the_plugin_repository_rules(plugin_zip):
    """What plugins.qgis.org's upload validator and the publishing guidelines check."""
    assert _check_package().problems(str(plugin_zip)) == []
    with zipfile.ZipFile(plugin_zip) as archive:
        names = archive.namelist()
    assert not [n for n in names if "/docs/images/" in n]
    assert "composite_index_plugin/docs/user_guide.md" in names
    # the full licence text, not a notice
    licence = zipfile.ZipFile(plugin_zip).read("composite_index_plugin/LICENSE").decode()
    assert "TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION" in licence


def test_repository_rules_catch_each_fault(tmp_path):
    """Each rule fires on a package that breaks it (a checker that finds nothing proves nothing)."""
    check = _check_package()
    good = {"pk/__init__.py": "", "pk/LICENSE": "GPL", "pk/icon.svg": "<svg/>",
            "pk/metadata.txt": "[general]\nname=P\ndescription=d\nversion=1.0\nqgisMinimumVersion=3.22\n"
                              "author=A\nemail=a@b.c\nabout=x\ntracker=https://t.org/i\n"
                              "repository=https://t.org/r\ncategory=Vector\nicon=icon.svg\n"}

    def zipped(files, name):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for arc, text in files.items():
                archive.writestr(arc, text)
        return str(path)

    assert check.problems(zipped(good, "good.zip")) == []
    meta = good["pk/metadata.txt"]
    faults = {
        "pyc": dict(good, **{"pk/x.pyc": ""}),
        "pycache": dict(good, **{"pk/__pycache__/a.py": ""}),
        "dotdot": dict(good, **{"pk/../evil": ""}),
        "two tops": dict(good, **{"qk/x": ""}),
        "no licence": {k: v for k, v in good.items() if k != "pk/LICENSE"},
        "no init": {k: v for k, v in good.items() if k != "pk/__init__.py"},
        "email": dict(good, **{"pk/metadata.txt": meta.replace("email=a@b.c\n", "")}),
        "category": dict(good, **{"pk/metadata.txt": meta.replace("Vector", "Analysis")}),
        "url": dict(good, **{"pk/metadata.txt": meta.replace("https://t.org/i", "bugs")}),
        "author": dict(good, **{"pk/metadata.txt": meta.replace("author=A", "author=A/B")}),
        "icon": dict(good, **{"pk/metadata.txt": meta.replace("icon=icon.svg", "icon=gone.svg")}),
        "images": dict(good, **{"pk/docs/images/a.png": ""}),
        "top name": {k.replace("pk/", "9pk/", 1): v for k, v in good.items()},
    }
    for what, files in faults.items():
        assert check.problems(zipped(files, f"{what}.zip")), what


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
