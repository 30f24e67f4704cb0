"""The Builder's Run: runs ``compositeindex:runrecipe`` on the window's recipe, shows its progress
and log, lets it be cancelled, and adds the results to the project.

Why on the main thread: ``compositeindex:runrecipe`` writes a QGIS project and a print layout,
so it is flagged FlagNoThreading and Processing itself always runs it on the main thread. The
window does the same, honestly: it runs the algorithm with a feedback wired to the progress bar,
the log and the Cancel button, and lets Qt process events (at most every 50 ms) whenever the
algorithm reports progress or a message, so the window repaints and Cancel can be pressed; a
QgsProxyProgressTask shows the progress in QGIS's task manager, as Processing's own dialog does
for main-thread algorithms. While a run is going the set-up is locked and a second Run is
refused.

A run writes into a hidden sibling of the output folder (``.<name>.composite_index_running``);
only when it has finished are its files moved into the output folder (replacing the previous
run's, whose layers are first taken out of the project) and the results added to the project in
one group, styled. A cancelled or failed run adds nothing to the project, leaves the output
folder (and the previous results in it) as they were, and keeps its log as
``run_cancelled.log`` / ``run_failed.log``.
"""
import json
import os
import shutil
import time

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsProxyProgressTask,
)
from qgis.PyQt.QtCore import QCoreApplication

from composite_index_plugin.gui import recipe_io as rio
from composite_index_plugin.gui.builder_checks import run_document, staging_folder
from composite_index_plugin.i18n import tr

RUN_ALG = "compositeindex:runrecipe"


class RunFeedback(QgsProcessingFeedback):
    """Feedback of a run: progress to the bar (and the task manager), messages to the log,
    errors kept, the window kept alive."""

    def __init__(self, runner):
        super().__init__()
        self.runner = runner
        self.errors = []
        self.progressChanged.connect(self._progress)

    def _progress(self, value):
        self.runner.dock.progressBar.setValue(int(value))
        self.runner.pump()

    def setProgressText(self, text):
        super().setProgressText(text)
        self.runner.log("STEP", text)
        self.runner.dock.stepStarted.emit(text)
        self.runner.pump()

    def pushInfo(self, text):
        super().pushInfo(text)
        self.runner.log("INFO", text)
        self.runner.pump()

    def pushWarning(self, text):
        super().pushWarning(text)
        self.runner.log("WARNING", text)
        self.runner.pump()

    def pushCommandInfo(self, text):
        super().pushCommandInfo(text)
        self.runner.log("COMMAND", text)
        self.runner.pump()

    def reportError(self, text, fatalError=False):
        super().reportError(text, fatalError)
        self.errors.append(text)
        self.runner.log("ERROR", text)
        self.runner.pump()


def error_text(error, feedback):
    """One line for the message bar: the last error reported (the exception's own message
    when it is a traceback; the whole text is in the log)."""
    reported = [e for e in feedback.errors if e and "There were errors" not in e]
    text = (reported[-1] if reported else (error or "")).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    if "Traceback (most recent call last)" in lines[0] or lines[0].startswith("Traceback"):
        head = lines[0].split("Traceback")[0].strip()
        return (head + " " if head else "") + lines[-1]
    return lines[0]


def group_name(recipe):
    name = recipe.get("name") or "assessment"
    period = recipe.get("period")
    suffix = f" ({period})" if period and str(period) not in name else ""
    return f"Composite Index – {name}{suffix}"


def result_tables(gpkg):
    """{table: uri} of a results GeoPackage."""
    from osgeo import ogr

    if not os.path.exists(gpkg):
        return {}
    ds = ogr.Open(gpkg)
    if ds is None:
        return {}
    names = [ds.GetLayerByIndex(k).GetName() for k in range(ds.GetLayerCount())]
    ds = None
    return {name: f"{gpkg}|layername={name}" for name in names}


def remove_group(name):
    """Remove a group of results (and its layers) from the project, closing their files."""
    project = QgsProject.instance()
    root = project.layerTreeRoot()
    group = root.findGroup(name)
    if group is None:
        return
    ids = [node.layerId() for node in group.findLayers()]
    root.removeChildNode(group)
    project.removeMapLayers(ids)
    QCoreApplication.processEvents()


class RunController:
    """Runs the recipe of ``dock`` (the Builder) and adds its results to the project."""

    def __init__(self, dock):
        self.dock = dock
        self.running = False
        self.project_replaced = False   # the project was closed or replaced during the run
        self.feedback = None
        self.task = None
        self.last_results = None        # {"folder", "gpkg", "layers", ...} of the last good run
        self.last_log = ""
        self._last_pump = 0.0

    def pump(self):
        """Let Qt repaint and take clicks (Cancel) during a run, at most every 50 ms."""
        now = time.monotonic()
        if now - self._last_pump >= 0.05:
            self._last_pump = now
            QCoreApplication.processEvents()

    def log(self, kind, text):
        line = f"{time.strftime('%H:%M:%S')} {kind:7s} {text}"
        self.last_log += line + "\n"
        self.dock.logView.appendPlainText(line)

    def run(self):
        """Check, then run the recipe; True when the results were added to the project."""
        dock = self.dock
        if self.running:
            dock.message(tr("A Composite Index run is already going: wait for it or press "
                            "Cancel."), Qgis.MessageLevel.Warning)
            return False
        if QgsApplication.processingRegistry().algorithmById(RUN_ALG) is None:
            dock.message(tr("The Composite Index Processing provider is not loaded."),
                         Qgis.MessageLevel.Critical)
            return False
        dock.refresh()
        if dock.errors():
            dock.message(tr("Fix the {count} problem(s) listed under Checks before running.")
                         .format(count=len(dock.errors())), Qgis.MessageLevel.Warning)
            return False
        folder = dock.output_folder()
        recipe = dock.model.recipe()
        dock.apply_crs(recipe)
        staging = staging_folder(folder)
        try:
            shutil.rmtree(staging, ignore_errors=True)
            os.makedirs(staging)
            recipe_path = os.path.join(staging, "recipe.json")
            with open(recipe_path, "w", encoding="utf-8") as handle:
                json.dump(run_document(recipe), handle, indent=2, ensure_ascii=False)
        except OSError as err:
            dock.message(tr("Cannot write next to the output folder {folder}: {error}").format(
                folder=folder, error=err.strerror), Qgis.MessageLevel.Critical)
            return False
        return self._run(recipe_path, folder, staging, recipe)

    def _run(self, recipe_path, folder, staging, recipe):
        import processing

        dock = self.dock
        self.running, self.project_replaced = True, False
        dock.update_buttons()
        dock.logView.clear()
        self.last_log = ""
        dock.progressBar.setValue(0)
        feedback = self.feedback = RunFeedback(self)
        self.log("INFO", tr("Writing to {staging}; moved to {folder} when the run has "
                            "finished.").format(staging=staging, folder=folder))
        # Shown in QGIS's task manager / status bar, as Processing does for main-thread work.
        task = self.task = QgsProxyProgressTask(
            f"Composite Index: {recipe.get('name') or 'assessment'}")
        QgsApplication.taskManager().addTask(task)
        feedback.progressChanged.connect(task.setProxyProgress)
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        ok, error, result = False, None, None
        try:
            from composite_index_plugin.gui.builder_checks import allowed_folders

            result = processing.run(RUN_ALG, {"RECIPE": recipe_path, "OUTPUT_FOLDER": staging,
                                              "ALLOWED_FOLDERS": allowed_folders(recipe)},
                                    context=context, feedback=feedback)
            ok = not feedback.isCanceled()
        except QgsProcessingException as err:
            error = str(err)
        except Exception as err:  # noqa: BLE001 - never leave the window locked
            error = f"{type(err).__name__}: {err}"
        try:
            if ok:
                ok, error = self._finish(staging, folder, recipe, result)
            if not ok:
                self._stopped(staging, folder, feedback, error)
        finally:
            task.finalize(ok)
            self.task = None
            self.running = False
            self.feedback = None
            dock.update_buttons()
            dock.runFinished.emit(ok)
        return ok

    def _finish(self, staging, folder, recipe, result):
        dock = self.dock
        if self.project_replaced:
            final = self.publish(staging, folder)
            self.log("WARNING", tr("The project was closed during the run: the results were "
                                   "not added to it; they are in {folder} (assessment.qgz).")
                     .format(folder=final))
            dock.message(tr("The project was closed during the run; the results are in {folder} "
                            "(open assessment.qgz).").format(folder=final),
                         Qgis.MessageLevel.Warning)
            self.last_results = None
            dock.progressBar.setValue(100)
            return True, None
        try:
            remove_group(group_name(recipe))       # releases the old files
            final = self.publish(staging, folder)
            added = self.add_results(final, recipe)
        except Exception as err:  # noqa: BLE001 - shown to the user; the results stay on disk
            return False, tr("the results could not be added to the project: {error}").format(
                error=err)
        dock.progressBar.setValue(100)
        skipped = (result or {}).get("SKIPPED") or ""
        self.log("INFO", tr("Added {count} layer(s) to the project; results in {folder}").format(
            count=added, folder=final) + (tr("; stages skipped: {stages}").format(stages=skipped)
                                          if skipped else ""))
        dock.message(tr("Assessment finished: {count} layers added.").format(count=added),
                     Qgis.MessageLevel.Success)
        return True, None

    def _stopped(self, staging, folder, feedback, error):
        dock = self.dock
        kind = "cancelled" if feedback.isCanceled() else "failed"
        if feedback.isCanceled():
            line = tr("Cancelled by the user: nothing was added to the project and the output "
                      "folder was not touched.")
            self.log("INFO", line)
            dock.message(tr("Run cancelled: nothing was added to the project and the output "
                            "folder was not touched (log: {log}).").format(log=f"run_{kind}.log"),
                         Qgis.MessageLevel.Info)
        else:
            detail = error_text(error, feedback)
            line = tr("Failed: {detail}. Nothing was added to the project and the output "
                      "folder was not touched.").format(detail=detail)
            self.log("ERROR", line)
            dock.message(tr("The run failed: {detail} (log: {log} in the output folder, and the "
                            "Output & log tab)").format(detail=detail, log=f"run_{kind}.log"),
                         Qgis.MessageLevel.Critical)
        self.keep_log(staging, folder, kind, line)
        shutil.rmtree(staging, ignore_errors=True)
        dock.progressBar.setValue(0)

    def publish(self, staging, folder):
        """Move a finished run from the staging folder into the output folder (replacing the
        files of an earlier run, and their SQLite side files). Returns the folder the results
        are in: the output folder, or the staging folder when a file could not be replaced
        (e.g. still open in another program on Windows)."""
        from qgis.core import QgsProcessingException

        from composite_index_plugin.processing import portable

        try:   # the project and the logs then name the output folder, not the staging one
            portable.publish(staging, folder)
        except (OSError, QgsProcessingException) as err:
            self.log("WARNING", tr("Could not move the results into {folder} ({error}); they "
                                   "stay in {staging}.").format(folder=folder, error=err,
                                                                 staging=staging))
            return staging
        return folder

    def keep_log(self, staging, folder, kind, line):
        """A run that did not finish leaves its log as run_<kind>.log in the output folder
        (written as the runner writes it: only where Composite Index may replace it)."""
        from composite_index_plugin.processing.transaction import StagedFolder

        text = ""
        for name in ("run.log", f"run_{kind}.log"):   # the runner keeps an unfinished run's log
            source = os.path.join(staging, name)
            try:
                with open(source, encoding="utf-8") as handle:
                    text = handle.read()
                break
            except OSError:
                continue
        text += f"{time.strftime('%H:%M:%S')} BUILDER {line}\n"
        if StagedFolder(folder).write_side_file(f"run_{kind}.log", text) is None:
            self.log("WARNING", tr("Could not write the log into {folder}").format(folder=folder))

    def cancel(self):
        if self.feedback is not None:
            self.log("INFO", tr("Cancel requested: stopping after the current step."))
            self.feedback.cancel()
            self.dock.cancelButton.setEnabled(False)

    def add_results(self, folder, recipe):
        """Add the run's styled layers to the project in one group (replacing the group of an
        earlier run of the same recipe). All or nothing. Returns the number of layers."""
        from composite_index_plugin.processing import project_writer

        gpkg = os.path.join(folder, (recipe.get("output") or {}).get("geopackage", "results.gpkg"))
        layers = result_tables(gpkg)
        admin = None
        source = self.dock.model.source("admin_areas")
        if source:
            admin = rio.open_source(source) or self.dock.adminCombo.currentLayer()
        styled = project_writer.result_layers(layers, None, admin)
        if not styled:
            raise RuntimeError(f"no result layer in {gpkg}")
        project = QgsProject.instance()
        root = project.layerTreeRoot()
        name = group_name(recipe)
        old = root.findGroup(name)
        added = []
        group = None
        try:
            group = root.insertGroup(0, name + " (adding…)")
            for layer, visible in reversed(styled):
                project.addMapLayer(layer, False)
                added.append(layer.id())
                node = group.addLayer(layer)
                node.setItemVisibilityChecked(visible)
        except Exception:
            if group is not None:
                root.removeChildNode(group)
            project.removeMapLayers(added)
            raise
        if old is not None:
            old_ids = [node.layerId() for node in old.findLayers()]
            root.removeChildNode(old)
            project.removeMapLayers([i for i in old_ids if i not in added])
        group.setName(name)
        group.setExpanded(True)
        self.last_results = {"folder": folder, "gpkg": gpkg, "layers": layers,
                             "recipe": os.path.join(folder, "recipe.json"),
                             "title": recipe.get("name") or "Strategic assessment"}
        return len(styled)

    def export_parameters(self):
        """Parameters of compositeindex:exportassessment for the last run's results (None
        when there is no run with area summaries)."""
        results = self.last_results
        if results is None:
            folder = self.dock.output_folder()
            gpkg = os.path.join(folder, "results.gpkg") if folder else None
            if not gpkg or not os.path.exists(gpkg):
                return None
            results = {"folder": folder, "gpkg": gpkg, "layers": result_tables(gpkg),
                       "recipe": os.path.join(folder, "recipe.json"),
                       "title": self.dock.model.recipe().get("name") or "Strategic assessment"}
        layers = results["layers"]
        zones = layers.get("hotspots") or layers.get("index")
        if zones is None or "area_summary" not in layers:
            return None
        params = {"ZONES": zones, "AREAS": layers["area_summary"], "AREA_NAME_FIELD": "area_name",
                  "TITLE": results["title"],
                  "PDF": os.path.join(results["folder"], "assessment.pdf")}
        if "hotspot_zones" in layers:
            params["HOTSPOT_ZONES"] = layers["hotspot_zones"]
        if os.path.exists(results["recipe"]):
            params["RECIPE"] = results["recipe"]
        return params
