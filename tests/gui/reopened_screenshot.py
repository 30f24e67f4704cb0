"""Screenshots of a run's project reopened from another folder in the real QGIS desktop, under
Xvfb: the map as the project opens (no zooming by the script) and the area pages' layout with its
charts. Not a test: run it by hand when the project or the layouts change.

    .venv/bin/python tests/gui/reopened_screenshot.py docs/images

It makes the default-size synthetic Birmingham sample and its 2024 recipe, runs the recipe
headless, copies the output folder to another path (as if sent to a colleague) and deletes the
original, packages the plugin (scripts/package.py: the ZIP users install) into a fresh QGIS
profile with the plugin enabled, then starts ``qgis`` under ``xvfb-run`` with a start-up script
that opens the copied ``assessment.qgz``, waits for the map, grabs the main window
(reopened_project.png), opens the area pages' layout in the layout designer with the atlas
preview on its first area and grabs the designer (reopened_layout.png). It fails when a layer of
the copy is invalid or a picture of a layout is missing. Needs ``xvfb-run`` and ``qgis``.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

STARTUP = r'''
import os, time, traceback
from qgis.core import QgsApplication, QgsLayoutItemPicture, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface

def settle(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QgsApplication.processEvents()
        time.sleep(0.05)

def grab(widget, path):
    QgsApplication.primaryScreen().grabWindow(widget.winId()).save(path)

def shoot():
    status = "failed"
    try:
        window = iface.mainWindow()
        window.setGeometry(0, 0, 1600, 1000)
        settle(1)
        if not iface.addProject(os.environ["CI_PROJECT"]):
            raise RuntimeError("the project did not open")
        project = QgsProject.instance()
        bad = [layer.name() for layer in project.mapLayers().values() if not layer.isValid()]
        if bad:
            raise RuntimeError(f"invalid layers in the copy: {bad}")
        # this machine lacks PROJ's OSTN15 grid: QGIS's note about it is not the plugin's
        iface.messageBar().clearWidgets()
        settle(3)
        iface.mapCanvas().waitWhileRendering()
        settle(2)
        iface.messageBar().clearWidgets()      # it may come back once the map has drawn
        settle(1)
        grab(window, os.path.join(os.environ["CI_SHOTS"], "reopened_project.png"))
        layout = next(lay for lay in project.layoutManager().printLayouts()
                      if lay.name().endswith(" - areas"))
        designer = iface.openLayoutDesigner(layout)
        dwin = designer.window()
        dwin.setGeometry(0, 0, 1600, 1000)
        atlas = layout.atlas()
        designer.setAtlasPreviewEnabled(True)
        atlas.beginRender()
        atlas.seekTo(0)
        atlas.refreshCurrentFeature()
        settle(2)
        missing = []
        for item in layout.items():
            if isinstance(item, QgsLayoutItemPicture):
                item.refreshPicture()
                if item.isMissingImage() or not os.path.isfile(item.evaluatedPath()):
                    missing.append((item.id(), item.evaluatedPath()))
        if missing:
            raise RuntimeError(f"missing pictures: {missing}")
        designer.view().zoomFull()
        settle(4)
        grab(dwin, os.path.join(os.environ["CI_SHOTS"], "reopened_layout.png"))
        status = "saved"
    except Exception:
        status = traceback.format_exc()
    with open(os.path.join(os.environ["CI_SHOTS"], "status"), "w") as handle:
        handle.write(status)
    QgsApplication.exit(0)

QTimer.singleShot(4000, shoot)
'''


def run_recipe(recipe_path, out):
    """The recipe run headless (in a child process: a clean QGIS of its own)."""
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from composite_index_plugin.processing.standalone import start_qgis\n"
            "start_qgis()\n"
            "import processing\n"
            "from qgis.core import QgsProcessingContext, QgsProcessingFeedback\n"
            "processing.run('compositeindex:runrecipe', {'RECIPE': %r, 'OUTPUT_FOLDER': %r},\n"
            "               context=QgsProcessingContext(), feedback=QgsProcessingFeedback())\n"
            % (ROOT, recipe_path, out))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=900,
                   stdout=subprocess.DEVNULL)


def main(out_dir):
    from composite_index_plugin.paths import resource_path
    from composite_index_plugin.processing.sample_io import make_sample
    from composite_index_plugin.processing.sample_recipe import sample_recipe

    work = tempfile.mkdtemp(prefix="ci_reopen_")
    data = os.path.join(work, "data")
    os.makedirs(data)
    shutil.copy(resource_path("sample", "birmingham.gpkg"), data)
    make_sample(os.path.join(data, "synthetic"), size="default", years=(2024,))
    recipe = sample_recipe(2024, os.path.join(data, "output"), use_csv=False)
    recipe["name"] = "Birmingham strategic assessment 2024"
    recipe_path = os.path.join(data, "recipe.json")
    with open(recipe_path, "w", encoding="utf-8") as handle:
        json.dump(recipe, handle, indent=1)
    first = os.path.join(data, "output")
    run_recipe(recipe_path, first)
    copy = os.path.join(work, "sent to a colleague", "assessment 2024")
    shutil.copytree(first, copy)
    shutil.rmtree(first)                      # nothing may resolve to the original folder

    profile = os.path.join(work, "profiles", "profiles", "default")
    plugins = os.path.join(profile, "python", "plugins")
    os.makedirs(plugins)
    os.makedirs(os.path.join(profile, "QGIS"))
    with open(os.path.join(profile, "QGIS", "QGIS3.ini"), "w", encoding="utf-8") as handle:
        handle.write("[PythonPlugins]\ncomposite_index_plugin=true\n\n"
                     "[qgis]\nshowTips322=false\ncheckVersion=false\nallowVersionCheck=false\n")
    zip_path = os.path.join(work, "plugin.zip")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "package.py"), "--out", zip_path],
                   check=True, stdout=subprocess.DEVNULL)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(plugins)
    startup = os.path.join(work, "startup.py")
    with open(startup, "w", encoding="utf-8") as handle:
        handle.write(STARTUP)
    shots = os.path.join(work, "shots")
    os.makedirs(shots)
    env = dict(os.environ, CI_SHOTS=shots, CI_PROJECT=os.path.join(copy, "assessment.qgz"),
               QT_QPA_PLATFORM="xcb")
    subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "qgis", "--profiles-path",
                    os.path.join(work, "profiles"), "--nologo", "--noversioncheck", "--code",
                    startup], env=env, timeout=900, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status_path = os.path.join(shots, "status")
    status = open(status_path, encoding="utf-8").read() if os.path.exists(status_path) else \
        "QGIS did not run the start-up script"
    if status != "saved":
        print(status, file=sys.stderr)
        return 1
    os.makedirs(out_dir, exist_ok=True)
    for name in ("reopened_project.png", "reopened_layout.png"):
        shutil.copy(os.path.join(shots, name), os.path.join(out_dir, name))
        print(f"wrote {os.path.join(out_dir, name)}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "images")))
