"""Progress of a recipe run reaches the caller (issue 18): the values a feedback receives through
its ``progressChanged`` signal - what the Processing dialog, the task manager, the Builder's bar
and ``qgis_process`` listen to - rise monotonically to 100, stage by stage, weighted by cost."""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingMultiStepFeedback,
    QgsProject,
)

from composite_index_plugin.paths import resource_path
from composite_index_plugin.processing.progress import StageProgress, stage_weights

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QGIS_PROCESS = "/usr/bin/qgis_process.bin"


class Recorder(QgsProcessingFeedback):
    """Records every progress value (from the signal, as C++ callers emit it) and the progress
    at each step text."""

    def __init__(self):
        super().__init__(False)
        self.values = []
        self.steps = []
        self.progressChanged.connect(self.values.append)

    def setProgressText(self, text):
        self.steps.append((text, self.progress()))


def test_stage_shares_children_and_cancel():
    top = Recorder()
    progress = StageProgress(top, {"a": 1.0, "b": 3.0, "skipped": 0.0})
    a = progress.stage("a")
    a.setProgress(50)
    assert top.progress() == pytest.approx(12.5)            # half of a's quarter
    b = progress.stage("b")
    assert top.progress() == pytest.approx(25.0)
    b.expect(2)
    first = b.child()
    first.setProgress(100)
    assert top.progress() == pytest.approx(62.5)            # 25 + 75 / 2
    second = b.child()
    second.setProgress(0)                                   # a child starting over: no step back
    assert top.progress() == pytest.approx(62.5)
    # C++ callers: a multi-step feedback inside a child reaches the top through the signal
    inner = QgsProcessingMultiStepFeedback(2, second)
    inner.setCurrentStep(1)
    assert top.progress() == pytest.approx(62.5 + 37.5 / 2)
    top.cancel()
    assert a.isCanceled() is False                          # a stage already finished is let go
    assert b.isCanceled() and second.isCanceled() and inner.isCanceled()
    progress.stage("skipped")
    progress.finish()
    assert top.values[-1] == 100
    assert top.values == sorted(top.values)


def test_log_feedback_passes_progress_set_by_cpp():
    """The bug of issue 18: LogFeedback overrode setProgress in Python, which C++ never calls,
    so nothing reached the caller. Now a C++ multi-step feedback driving it reaches the top."""
    from composite_index_plugin.processing.recipe_runner import LogFeedback

    top = Recorder()
    log = LogFeedback(top)
    steps = QgsProcessingMultiStepFeedback(4, log)
    steps.setCurrentStep(2)
    steps.setProgress(50)
    assert top.progress() == pytest.approx(62.5)
    log.detach()


def test_weights_follow_the_recipe():
    from composite_index_plugin.core import model

    doc = {"recipe_version": 1, "geography": {"type": "grid", "size": 250},
           "study_area": {"source": {"path": "a.gpkg"}},
           "themes": [{"name": "t", "issues": [
               {"name": f"i{k}", "roles": {"locations": {"source": {"path": "p.gpkg"}}}}
               for k in range(4)]}]}
    recipe, problems = model.parse(doc)
    assert problems == []
    stages = ("import", "geography", "population", "aggregate", "hotspots", "sensitivity",
              "layout")
    small = stage_weights(recipe, stages, zones=2_000)
    assert small["import"] == small["population"] == small["sensitivity"] == small["layout"] == 0
    # aggregation: 4 issues of (0.07 + 0.75 c) s, c = zones / 10,000
    assert small["aggregate"] == pytest.approx(4 * (0.07 + 0.75 * 0.2))
    large = stage_weights(recipe, stages, zones=40_000)
    assert large["aggregate"] / large["geography"] > small["aggregate"] / small["geography"]
    doc["sensitivity"] = {"runs": 400, "grid_jitter": True}
    doc["hotspots"] = {"enabled": False}
    recipe, _ = model.parse(doc)
    weights = stage_weights(recipe, stages, zones=2_000)
    assert weights["hotspots"] == 0
    assert weights["sensitivity"] == pytest.approx(2 * 1.6 * (6.2 + 3.6 * 0.2))


@pytest.fixture(scope="module")
def tiny_recipe(tmp_path_factory):
    """The sample recipe of one year on the tiny synthetic sample (CSV imports, every stage but
    compare and sensitivity), as test_runrecipe's."""
    from composite_index_plugin.processing import sample_io
    from composite_index_plugin.processing.sample_recipe import for_few_points, sample_recipe

    folder = tmp_path_factory.mktemp("tiny_progress")
    shutil.copy(resource_path("sample", "birmingham.gpkg"), folder / "birmingham.gpkg")
    sample_io.make_sample(str(folder / "synthetic"), size="tiny", seed=11, years=(2024,))
    recipe = sample_recipe(2024, str(folder / "out"))
    recipe["output"] = {"folder": "out"}
    for_few_points(recipe)
    path = folder / "recipe.json"
    path.write_text(json.dumps(recipe))
    return path


def test_progress_rises_to_100_through_a_recipe_run(provider, tiny_recipe, tmp_path):
    import processing

    feedback = Recorder()
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    try:
        processing.run("compositeindex:runrecipe", {"RECIPE": str(tiny_recipe),
                                                    "OUTPUT_FOLDER": str(tmp_path / "out")},
                       context=context, feedback=feedback)
    finally:
        QgsProject.instance().removeAllMapLayers()
    values = feedback.values
    assert values == sorted(values)                       # never back
    assert values[-1] == 100
    assert len(set(round(v) for v in values)) >= 30       # it moves, not jumps
    steps = dict(feedback.steps)
    # every stage starts further along than the one before, weighted by cost: the imports of
    # three files come first, the layout (the costliest fixed stage) last
    order = ["Importing council_victims_2024.csv", "Creating the analysis grid",
             "Apportioning population to the zones", "Building the composite index",
             "Finding hotspots", "Summarising by area", "Writing the project",
             "Rendering the main map", "Exporting the assessment layout"]
    at = [steps[text] for text in order]
    assert at == sorted(at) and at[0] < 5 and 0 < at[1] < at[-1] < 90
    assert at[-1] > 50


def _tick_tokens():
    return ["0"] + ["." if k % 4 else str(k // 4 * 10) for k in range(1, 41)]


def console_ticks(stdout):
    """The progress ticks qgis_process printed ("0...10...20..." at the start of lines, between
    the messages it prints)."""
    tokens, k, got, lines = _tick_tokens(), 0, [], []
    for n, line in enumerate(stdout.splitlines()):
        while k < len(tokens) and line.startswith(tokens[k]):
            line = line[len(tokens[k]):]
            got.append(tokens[k])
            lines.append(n)
            k += 1
    return "".join(got), lines


def test_qgis_process_prints_the_ticks(tiny_recipe, tmp_path):
    """The real qgis_process binary (plugin from the packaged ZIP, throwaway profile) prints
    0...10...20... up to 100 while a recipe runs."""
    zip_path = tmp_path / "plugin.zip"
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "package.py"), "--out",
                    str(zip_path)], check=True, capture_output=True)
    plugins = tmp_path / "plugins"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(plugins)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=str(plugins),
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"))
    env.pop("QGIS_OPTS", None)
    enabled = subprocess.run([QGIS_PROCESS, "plugins", "enable", "composite_index_plugin"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert enabled.returncode == 0, enabled.stderr
    run = subprocess.run([QGIS_PROCESS, "run", "compositeindex:runrecipe", "--",
                          f"RECIPE={tiny_recipe}", f"OUTPUT_FOLDER={tmp_path / 'out'}"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ticks, where = console_ticks(run.stdout)
    assert ticks == "0...10...20...30...40...50...60...70...80...90...100"
    assert re.search(r"100 - done\.$", run.stdout, re.MULTILINE)
    # printed while the stages ran, not all at the end: 30 % before the layout stage starts
    lines = run.stdout.splitlines()
    layout = next(n for n, line in enumerate(lines) if "Exporting the assessment layout" in line)
    assert where[_tick_tokens().index("30")] < layout


def test_a_stage_feedback_is_still_a_qgsfeedback():
    """An algorithm may ask its feedback for progress(): the stage's bar does not hide it, and
    the stage's 0-100 fills its share of the run's bar."""
    from qgis.core import QgsProcessingFeedback

    from composite_index_plugin.processing.progress import StageFeedback, StageProgress

    parent = QgsProcessingFeedback()
    bar = StageProgress(parent, {"a": 1.0, "b": 3.0})
    fb = StageFeedback(bar, parent, *bar.ranges["b"])
    fb.setProgress(50)
    assert fb.progress() == 50
    assert parent.progress() == 62.5
