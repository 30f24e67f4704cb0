"""What the Builder checks as the recipe is edited: exactly the checks a run makes.

Errors (Run is refused while there is one) are
1. the recipe's problems from ``core.model.parse``, the one validation a run starts with;
2. when there are none, the runner's own data checks (``RecipeRunner.check_data``: files,
   layers, fields named in filters and weights, denominators, CRSs...) on the very recipe Run
   would write, with the output folder Run would use;
3. the one thing only the window needs: an output folder to publish the results into.
There is no second validator here. Notes (never blocking) say what may surprise: no layers in
the project, a grid that will be slow, a file the recipe reads that is not a layer of the
project, a layer in degrees that will be reprojected.
"""
import copy
import os
import tempfile

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)

from composite_index_plugin.core import model as rm
from composite_index_plugin.core import recipe as rcp
from composite_index_plugin.gui.builder_model import Check
from composite_index_plugin.gui.recipe_paths import source_dicts, source_text
from composite_index_plugin.i18n import tr
from composite_index_plugin.qgis_compat import GeometryType

MAX_CELLS_WARNING = 250_000
GLOBAL_KEYS = ("study_area", "geography", "population", "admin_areas")


def staging_folder(folder):
    """Where a run writes before it is finished: a hidden sibling of the output folder
    (same depth, so the relative paths inside the written project stay right when the
    files move into the output folder)."""
    parent, name = os.path.split(os.path.normpath(folder))
    if not name:                                   # a drive or file-system root
        return os.path.join(folder, ".composite_index_running")
    return os.path.join(parent, f".{name}.composite_index_running")


def run_document(recipe):
    """The recipe as Run writes it into the staging folder: the output folder is that folder."""
    doc = copy.deepcopy(recipe)
    doc.setdefault("output", {})["folder"] = "."
    return doc


def allowed_folders(recipe):
    """The folders of the files the Builder's recipe names: the analyst picked (or saw) each of
    them in the window, so a run from the Builder may read them (runrecipe's ALLOWED_FOLDERS; a
    recipe run otherwise stays inside its own folder and the output folder)."""
    parsed, _ = rm.parse(recipe)
    if parsed is None:
        return []
    from composite_index_plugin.core.sandbox import recipe_paths

    return sorted({os.path.dirname(value) for _p, value, base in recipe_paths(parsed)
                   if base == "recipe" and os.path.isabs(value)})


def data_checks(recipe, staging, project=None):
    """The runner's data checks of ``recipe`` (paths absolute) as Run would make them."""
    from composite_index_plugin.processing.recipe_runner import RecipeRunner

    context = QgsProcessingContext()
    context.setProject(project or QgsProject.instance())
    runner = None
    try:
        runner = RecipeRunner(os.path.join(staging, "recipe.json"), context,
                              QgsProcessingFeedback(), output_folder=staging,
                              doc=run_document(recipe), allowed_folders=allowed_folders(recipe))
        problems = runner.check_data()
    except rcp.RecipeError as err:
        problems = err.problems
    finally:
        if runner is not None:
            runner.release()
    return [Check(p.path, p.message, p.hint) for p in problems]


def live_checks(dock):
    """Every check of the window's recipe now: project notes, the run's checks, notes."""
    model, view = dock.model, dock.view
    recipe = model.recipe()
    checks = project_notes()
    problems = [Check(p.path, p.message, p.hint) for p in rm.parse(recipe)[1]]
    checks += problems
    folder = dock.output_folder()
    if not problems:
        staging = staging_folder(folder) if folder else os.path.join(
            tempfile.gettempdir(), ".composite_index_check")
        checks += data_checks(recipe, staging)
    if not folder:
        checks.append(Check("output.folder", tr("no output folder"), tr("choose where results go")))
    cells, _km2 = dock.estimated_cells()
    if cells and cells > MAX_CELLS_WARNING:
        checks.append(Check("geography.size", tr("about {cells} cells: the run will be slow")
                            .format(cells=f"{cells:,}"), tr("use bigger cells"), "warning"))
    for path, source in source_dicts(recipe):
        if path.startswith("compare") or path in ("population.ancillary", "population.table") \
                or "import" in source:
            continue
        checks += source_notes(path, source, view.layer(path))
    return checks


def project_notes(project=None):
    layers = [lyr for lyr in (project or QgsProject.instance()).mapLayers().values()
              if isinstance(lyr, QgsVectorLayer)]
    if not layers:
        return [Check("$", tr("the project has no layers"), tr(
            "add the victims, offenders and locations layers (Layer ▸ Add Layer) or open a "
            "recipe"), "warning")]
    if not any(lyr.geometryType() == GeometryType.Point for lyr in layers):
        return [Check("$", tr("the project has no point layer"),
                      tr("add the point layers of victims, offenders and locations"), "warning")]
    return []


def source_notes(path, source, layer):
    where = f"{path}.source"
    if layer is None:
        if "path" in source and os.path.exists(source["path"]):
            return [Check(where, tr("{source} is not a layer of the project").format(
                source=source_text(source)), tr("the recipe reads it from its file; add it to "
                                                "the project to pick fields"), "warning")]
        return []
    if layer.crs().isValid() and layer.crs().isGeographic():
        return [Check(where, tr("layer {name} is in a geographic CRS ({crs}, degrees)").format(
            name=repr(layer.name()), crs=layer.crs().authid()),
                      tr("it is reprojected; a projected copy is better"), "warning")]
    return []
