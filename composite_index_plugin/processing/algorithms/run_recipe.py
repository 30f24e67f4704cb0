"""compositeindex:runrecipe - run a whole assessment from a recipe file."""
from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputFolder,
    QgsProcessingOutputString,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.recipe import RecipeError
from composite_index_plugin.processing.base import CompositeIndexAlgorithm
from composite_index_plugin.processing.recipe_runner import RecipeRunner
from composite_index_plugin.qgis_compat import ProcessingAlgorithmFlag, ProcessingParameterFlag


class RunRecipeAlgorithm(CompositeIndexAlgorithm):
    NAME = "runrecipe"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Run assessment from recipe")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Assessment")
    GROUP_ID = "assessment"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
            "Runs a whole Composite Index assessment described by a recipe (a JSON file, see the "
            "user guide): import and cleansing, the analysis grid or zones, population, "
            "aggregation of victims, offenders and locations, the composite index, hotspots, "
            "area summaries, comparison with earlier periods, sensitivity and the printed "
            "assessment. Each stage is one of this provider's algorithms, run in order. Writes "
            "one GeoPackage of results, a QGIS project (.qgz) with styled layers, a PNG of the "
            "main map and a run log into the output folder.\n\n"
            "The recipe is checked first (structure, files, layers and fields); every problem is "
            "listed at once, with where it is and how to fix it, before any work starts.\n\n"
            "Safety: a recipe may come from someone else. It reads and writes only inside its "
            "own folder and the output folder - plus the folders you list in 'Also allow these "
            "folders' (ALLOWED_FOLDERS, separated by ;) - and its filters may use only QGIS "
            "functions that work on the feature itself. The run writes into a hidden folder "
            "beside the output folder and moves its files in only when it has finished: a "
            "failed or cancelled run leaves the previous results as they were."))

    RECIPE = "RECIPE"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    # The run stages its output folder itself (transaction.StagedFolder: a journal, the
    # manifest of files it may replace), so the algorithm's own transaction leaves it alone.
    OUTPUTS_IN_PLACE = (OUTPUT_FOLDER,)
    ALLOWED_FOLDERS = "ALLOWED_FOLDERS"

    def flags(self):
        # Writes a project and a print layout: runs on the main thread.
        return super().flags() | ProcessingAlgorithmFlag.NoThreading

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFile(
            self.RECIPE, self.tr("Recipe (JSON)"), extension="json"))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.OUTPUT_FOLDER, self.tr("Output folder (default: the recipe's output.folder)"),
            optional=True, createByDefault=False))
        allowed = QgsProcessingParameterString(
            self.ALLOWED_FOLDERS, self.tr("Also allow these folders (separated by ;): the recipe "
                                          "may read and write there too"),
            optional=True, multiLine=False)
        allowed.setFlags(allowed.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(allowed)
        self.addOutput(QgsProcessingOutputFile("RESULTS", self.tr("Results GeoPackage")))
        self.addOutput(QgsProcessingOutputFile("PROJECT", self.tr("QGIS project")))
        self.addOutput(QgsProcessingOutputFile("LOG", self.tr("Run log")))
        self.addOutput(QgsProcessingOutputFolder("FOLDER", self.tr("Output folder")))
        self.addOutput(QgsProcessingOutputString("SKIPPED", self.tr("Stages skipped")))

    def processAlgorithm(self, parameters, context, feedback):
        path = self.parameterAsFile(parameters, self.RECIPE, context)
        folder = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context) or None
        if folder and folder.startswith("TEMPORARY_OUTPUT"):
            folder = None
        allowed = allowed_folders(parameters.get(self.ALLOWED_FOLDERS))
        runner, message = None, None
        try:
            runner = RecipeRunner(path, context, feedback, output_folder=folder,
                                  allowed_folders=allowed)
            result = runner.run()
        except (RecipeError, CompositeIndexError, QgsProcessingException) as err:
            # raised afresh below, so the traceback keeps no frame holding the run's layers
            message = str(err)
        finally:
            if runner is not None:
                runner.release()  # no layer may outlive the run (nor QGIS, in scripts and tests)
            runner = None
        if message is not None:
            raise QgsProcessingException(message)
        feedback.pushInfo("Results: " + ", ".join(sorted(result["LAYERS"])))
        return {"RESULTS": result["RESULTS"], "PROJECT": result["PROJECT"], "LOG": result["LOG"],
                "FOLDER": result["FOLDER"], "SKIPPED": ",".join(result["SKIPPED"])}


def allowed_folders(value):
    """The folders of ALLOWED_FOLDERS: a text with ``;`` (or line breaks) between folders, or a
    list of folders."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).replace("\n", ";").split(";")
    return [item.strip() for item in items if item.strip()]


ALGORITHMS = [RunRecipeAlgorithm]
