"""Screenshots of the Builder dock in the real QGIS desktop, under Xvfb. Not a test: run it by
hand when the window changes.

    .venv/bin/python tests/gui/builder_screenshot.py docs/images/builder_dock.png
    .venv/bin/python tests/gui/builder_screenshot.py --progress docs/images/builder_progress.png

It packages the plugin (scripts/package.py: the ZIP users install), unpacks it into a fresh QGIS
profile with the plugin enabled, makes the default-size synthetic Birmingham sample and its 2024
recipe, then starts ``qgis`` under ``xvfb-run`` with a start-up script that opens the Builder
from the plugin's own action, opens the recipe and presses Run. By default it waits for the run,
selects the victims of the first issue and grabs the main window over the results; with
``--progress`` it grabs the window while the run is going - the Output & log tab, the log
scrolling and the progress bar part-way - once the bar has passed a third (the script fails if
the bar never moved). Needs ``xvfb-run`` and the ``qgis`` binary.
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
from qgis.core import QgsApplication, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, plugins

def settle(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QgsApplication.processEvents()
        time.sleep(0.05)

def grab(window, path):
    QgsApplication.primaryScreen().grabWindow(window.winId()).save(path)


def shoot():
    status = "failed"
    progress = os.environ.get("CI_MODE") == "progress"
    try:
        window = iface.mainWindow()
        window.setGeometry(0, 0, 1600, 1000)
        plugin = plugins["composite_index_plugin"]
        plugin.builder_action.trigger()
        dock = plugin.builder
        settle(1)
        dock.load(os.environ["CI_RECIPE"])
        seen = []

        def during_run(text):
            # a step starts: grab once the bar is past a third, with the log in view
            value = dock.progressBar.value()
            seen.append(value)
            if progress and not os.path.exists(os.environ["CI_SHOT"]) and value > 33:
                dock.tabs.setCurrentWidget(dock.runTab)
                # this machine lacks PROJ's OSTN15 grid: QGIS's note about it is not the plugin's
                iface.messageBar().clearWidgets()
                for _ in range(20):                # let the dock, the map and the bar repaint
                    QgsApplication.processEvents()
                    time.sleep(0.02)
                grab(window, os.environ["CI_SHOT"])
                with open(os.environ["CI_SHOT"] + ".value", "w") as handle:
                    handle.write(f"{value} {text}")

        if progress:
            layer = dock.studyAreaCombo.currentLayer()
            extent = layer.extent()
            extent.scale(1.1)
            iface.mapCanvas().setExtent(extent)
            iface.mapCanvas().refreshAllLayers()
            settle(3)
        dock.stepStarted.connect(during_run)
        if not dock.run():
            raise RuntimeError(dock.last_log[-3000:])
        if progress:
            if not os.path.exists(os.environ["CI_SHOT"]):
                raise RuntimeError(f"the bar never passed a third: {seen}")
            raise StopIteration
        root = QgsProject.instance().layerTreeRoot()
        for node in root.findLayers():
            if node.parent() is root:          # inputs hidden: the results show
                node.setItemVisibilityChecked(False)
        group = root.children()[0]
        index = next(n.layer() for n in group.findLayers()
                     if n.layer().name() == "Composite index (deciles)")
        extent = index.extent()
        extent.scale(1.12)
        iface.mapCanvas().setExtent(extent)
        theme = dock.tree.topLevelItem(0)
        issue = theme.child(0)
        dock.tree.collapseAll()
        theme.setExpanded(True)
        issue.setExpanded(True)
        dock.tree.setCurrentItem(issue.child(0))
        settle(2)
        iface.mapCanvas().refreshAllLayers()
        settle(4)
        grab(window, os.environ["CI_SHOT"])
        status = "saved"
    except StopIteration:
        status = "saved"
    except Exception:
        status = traceback.format_exc()
    with open(os.environ["CI_SHOT"] + ".status", "w") as handle:
        handle.write(status)
    QgsApplication.exit(0)

QTimer.singleShot(3000, shoot)
'''


def main(out_png, mode="done"):
    from composite_index_plugin.paths import resource_path
    from composite_index_plugin.processing.sample_io import make_sample
    from composite_index_plugin.processing.sample_recipe import sample_recipe

    work = tempfile.mkdtemp(prefix="ci_shot_")
    profile = os.path.join(work, "profiles", "profiles", "default")
    plugins = os.path.join(profile, "python", "plugins")
    os.makedirs(plugins)
    os.makedirs(os.path.join(profile, "QGIS"))
    with open(os.path.join(profile, "QGIS", "QGIS3.ini"), "w", encoding="utf-8") as handle:
        handle.write("[PythonPlugins]\ncomposite_index_plugin=true\n\n"
                     "[qgis]\nshowTips322=false\ncheckVersion=false\nallowVersionCheck=false\n")
    zip_path = os.path.join(work, "plugin.zip")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "package.py"), "--out", zip_path],
                   check=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(plugins)
    data = os.path.join(work, "data")
    os.makedirs(data)
    shutil.copy(resource_path("sample", "birmingham.gpkg"), data)
    make_sample(os.path.join(data, "synthetic"), size="default", years=(2024,))
    recipe = sample_recipe(2024, os.path.join(data, "output"), use_csv=False)
    recipe["name"] = "Birmingham strategic assessment 2024"
    recipe_path = os.path.join(data, "recipe.json")
    with open(recipe_path, "w", encoding="utf-8") as handle:
        json.dump(recipe, handle, indent=1)
    startup = os.path.join(work, "startup.py")
    with open(startup, "w", encoding="utf-8") as handle:
        handle.write(STARTUP)
    shot = os.path.join(work, "shot.png")
    env = dict(os.environ, CI_SHOT=shot, CI_RECIPE=recipe_path, CI_MODE=mode,
               QT_QPA_PLATFORM="xcb")
    subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "qgis", "--profiles-path",
                    os.path.join(work, "profiles"), "--nologo", "--noversioncheck", "--code",
                    startup], env=env, timeout=600, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(shot + ".status", encoding="utf-8") as handle:
        status = handle.read()
    if status != "saved":
        print(status, file=sys.stderr)
        return 1
    shutil.copy(shot, out_png)
    if os.path.exists(shot + ".value"):
        with open(shot + ".value", encoding="utf-8") as handle:
            print("grabbed at " + handle.read())
    shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {out_png}")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    mode = "progress" if "--progress" in args else "done"
    sys.exit(main([a for a in args if a != "--progress"][0], mode))
