"""Run a whole assessment from a recipe: every stage that exists, in order.

Each stage is a Processing algorithm of this provider, run as a child algorithm with the
parent's context and feedback, so the recipe runner does nothing an analyst could not do by
hand in the toolbox or the Graphical Modeler. The recipe is read once into the typed model
(``core.model``): parameters and their defaults come from it, so a stage gives what the
algorithm gives from the toolbox for the same choices. A stage without its inputs (say, no
``admin_areas``) is skipped and says so in the log.
"""
import datetime
import json
import os
import time

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsExpression,
    QgsFeatureRequest,
    QgsProcessingException,
    QgsVectorLayer,
)

from composite_index_plugin.core import limits, model, vocab
from composite_index_plugin.core import recipe as rcp
from composite_index_plugin.core.sandbox import Sandbox, recipe_paths
from composite_index_plugin.paths import version
from composite_index_plugin.processing.expressions import check_expression
from composite_index_plugin.processing.progress import ForwardFeedback, StageProgress, stage_weights
from composite_index_plugin.processing.transaction import StagedFolder

check_expression_text = check_expression
# Providers a recipe's `uri` may name: files (checked against the sandbox) and PostGIS (its
# filter translated by the plugin). Others can run SQL over files or reach the network.
URI_PROVIDERS = ("ogr", "delimitedtext", "spatialite", "postgres")


LOG_CONTINUATION = " " * 17 + "| "   # under "HH:MM:SS KIND    ": a line of the entry above


def log_text(text) -> str:
    """One log entry: a line break inside a message (a recipe's filter text, say) continues the
    entry on a line marked with ``|`` under it, and other control characters are shown escaped,
    so no text can start a log line of its own."""
    text = str(text).replace("\r\n", "\n")
    out = []
    for c in text:
        if c == "\n":
            out.append("\n" + LOG_CONTINUATION)
        elif (ord(c) < 32 and c != "\t") or c in "\x7f\x85\u2028\u2029":
            out.append("\\r" if c == "\r" else f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return "".join(out)


def uri_problem(source, path, sandbox):
    """A Problem for a `uri` source the recipe may not use, else None: a provider outside
    URI_PROVIDERS, a file outside the sandbox, provider-side SQL (``subset=`` / ``sql=``) that is
    not a plain filter, or a query in place of a PostGIS table."""
    from qgis.core import QgsDataSourceUri, QgsProviderRegistry

    provider = source.provider or "ogr"
    if provider not in URI_PROVIDERS:
        return rcp.Problem(f"{path}.provider", f"provider {provider!r} is not allowed in a recipe",
                           "name a file with \"path\", a PostGIS table with \"connection\" or "
                           "\"service\", or a uri of: " + ", ".join(URI_PROVIDERS))
    if provider == "postgres":
        from composite_index_plugin.processing import connections

        uri = QgsDataSourceUri(source.uri)
        if uri.table().strip().startswith("("):
            return rcp.Problem(f"{path}.uri", "a query in place of a table is not allowed in a "
                                              "recipe", "name a table or view, and filter it with "
                                                        "\"sql\" (a QGIS filter expression)")
        if uri.sql().strip():
            try:
                connections.filter_sql(uri.sql())
            except connections.SourceError as err:
                return rcp.Problem(f"{path}.uri", err.problem.message, err.problem.hint)
        return None
    parts = QgsProviderRegistry.instance().decodeUri(provider, source.uri) or {}
    file_path = parts.get("path") or parts.get("dbname") or ""
    if file_path.startswith("file://"):
        file_path = file_path[len("file://"):]
    if not file_path or not sandbox.contains(file_path):
        return sandbox.problem(f"{path}.uri", file_path or source.uri)
    if str(parts.get("subset") or "").strip() or "subset=" in source.uri.lower():
        return rcp.Problem(f"{path}.uri", "a provider-side filter (subset) is not allowed in a "
                                          "recipe's uri", "filter the features with the recipe's "
                                                          "\"filter\" key instead")
    return None


class LogFeedback(ForwardFeedback):
    """Passes everything to the parent feedback (progress too, through its signal: see
    ``processing.progress``) and keeps a copy of the messages for the run log."""

    def __init__(self, parent):
        super().__init__(parent)
        self.lines = []

    def _keep(self, kind, text):
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        self.lines.append(f"{stamp} {kind:7s} {log_text(text)}")

    def setProgressText(self, text):
        self._keep("STEP", text)
        super().setProgressText(text)

    def pushInfo(self, text):
        self._keep("INFO", text)
        super().pushInfo(text)

    def pushWarning(self, text):
        self._keep("WARNING", text)
        super().pushWarning(text)

    def reportError(self, text, fatalError=False):
        self._keep("ERROR", text)
        super().reportError(text, fatalError)

    def pushCommandInfo(self, text):
        self._keep("COMMAND", text)
        super().pushCommandInfo(text)


class RecipeRunner:
    """Reads a recipe once into the typed model (``core.model``), checks its data once, opens
    each of its layers once, and runs its stages."""

    STAGES = ("import", "geography", "population", "aggregate", "index", "hotspots",
              "hotspot_zones", "summaries", "compare", "sensitivity", "project", "map", "layout")

    def __init__(self, recipe_path, context, feedback, output_folder=None, doc=None,
                 allowed_folders=()):
        self.recipe_path = os.path.abspath(recipe_path)
        self.base_dir = os.path.dirname(self.recipe_path)
        self.context = context
        self.log = LogFeedback(feedback)
        # ``doc``: the recipe as JSON data already (the Builder's live checks), paths relative
        # to ``recipe_path``'s folder
        self.doc = rcp.load_recipe(self.recipe_path) if doc is None else doc
        self.recipe, problems = model.parse(self.doc)          # the one validation
        if problems:
            raise rcp.RecipeError(problems, self.recipe_path)
        self.folder_given = bool(output_folder)
        self._set_folder(os.path.abspath(output_folder) if output_folder else
                         rcp.resolve_path(self.recipe.output.folder, self.base_dir))
        self.final_folder = self.folder
        # What the recipe may touch: its folder, the output folder, the folders the user allows.
        self.allowed_folders = [os.path.abspath(os.path.expanduser(f)) for f in allowed_folders
                                if f and str(f).strip()]
        self.sandbox = Sandbox([self.base_dir] + ([self.folder] if self.folder_given else [])
                               + self.allowed_folders)
        self.layers = {}     # name in results.gpkg -> layer uri
        self.skipped = []
        self.stage_seconds = {}  # stage -> seconds it took (the progress weights' evidence)
        self._opened = {}    # source key -> layer: each source is opened once
        self._filtered = {}  # (source key, filter) -> layer made from the opened one
        self._listings = {}  # source key -> police.uk archive listing (or Problem)
        self._mappings = {}  # mapping file -> category -> issue
        self._spec_text = None

    def _set_folder(self, folder):
        """Where the run's files go (the staging folder while a run goes on)."""
        out = self.recipe.output
        self.folder = folder
        self.gpkg = os.path.join(folder, out.geopackage)
        self.project_path = os.path.join(folder, out.project)
        self.log_path = os.path.join(folder, out.log)
        self.map_png = os.path.join(folder, out.map_png)

    # ----- sources -------------------------------------------------------------------------
    def source_layer(self, source, path, filter_expression=None):
        """The QgsVectorLayer of a recipe source (a ``model.Source``), or a Problem. Each
        source is opened once; a filter makes a memory copy of the features it selects."""
        key = source.key_text()
        layer = self._opened.get(key)
        if layer is None:
            layer = self._open(source, path)
            if isinstance(layer, rcp.Problem):
                return layer
            self._opened[key] = layer
        if not filter_expression:
            return layer
        fkey = (key, filter_expression)
        if fkey not in self._filtered:
            found = check_expression(filter_expression, layer.fields(), recipe=True)
            if found:
                return rcp.Problem(f"{path}.filter", *found)
            self._filtered[fkey] = layer.materialize(
                QgsFeatureRequest(QgsExpression(filter_expression)))
        return self._filtered[fkey]

    def _open(self, source, path):
        kind = source.kind
        refused = self._source_problem(source, path)
        if refused is not None:
            return refused
        if kind == "path":
            file_path = rcp.resolve_path(source.path, self.base_dir)
            if not os.path.exists(file_path):
                return rcp.Problem(f"{path}.path", f"file not found: {file_path}",
                                   "paths are relative to the recipe file's folder")
            uri = file_path + (f"|layername={source.layer}" if source.layer else "")
            layer = QgsVectorLayer(uri, source.layer or os.path.basename(file_path), "ogr")
        elif kind == "project_layer":
            project = self.context.project()
            found = project.mapLayersByName(source.project_layer) if project is not None else []
            if not found:
                return rcp.Problem(f"{path}.project_layer",
                                   f"no layer named {source.project_layer!r} in the project",
                                   "add the layer to the project or give a file path")
            layer = found[0].clone()
        elif kind in ("connection", "service"):
            from composite_index_plugin.processing import connections

            try:
                layer = connections.source_layer(source.to_dict(), path)
            except connections.SourceError as err:
                return err.problem
        else:
            layer = QgsVectorLayer(source.uri, source.layer or "layer", source.provider)
        if not layer.isValid():
            if kind == "path" and source.layer:
                return rcp.Problem(f"{path}.layer", f"layer {source.layer!r} cannot be opened in "
                                   f"{source.path}", "check the layer name (ogrinfo lists them)")
            return rcp.Problem(path, "the layer cannot be opened", "check the source")
        return layer

    # ----- what the recipe may touch -----------------------------------------------------
    def _source_problem(self, source, path):
        """A Problem when a source reaches outside what the recipe may touch (a file outside
        the allowed folders, a provider that can run SQL or reach the network), else None."""
        kind = source.kind
        if kind == "path":
            file_path = rcp.resolve_path(source.path, self.base_dir)
            if not self.sandbox.contains(file_path):
                return self.sandbox.problem(f"{path}.path", file_path)
        elif kind == "uri":
            return uri_problem(source, path, self.sandbox)
        return None

    def sandbox_problems(self):
        """Every file the recipe names outside the folders it may use, every output name that
        would replace a file this plugin did not write."""
        problems = []
        if not self.folder_given and not self.sandbox.contains(self.folder):
            problems.append(self.sandbox.problem("output.folder", self.folder, "output folder"))
        for json_path, value, base in recipe_paths(self.recipe):
            if json_path == "output.folder":
                continue
            resolved = rcp.resolve_path(value, self.folder if base == "output" else self.base_dir)
            if not self.sandbox.contains(resolved):
                problems.append(self.sandbox.problem(json_path, resolved))
        for json_path, source in self.recipe.sources():
            if source.kind == "uri":
                found = uri_problem(source, json_path, self.sandbox)
                if found is not None:
                    problems.append(found)
        staged = StagedFolder(self.folder)
        out = self.recipe.output
        chosen = {"output.geopackage": out.geopackage, "output.project": out.project,
                  "output.log": out.log, "output.map_png": out.map_png,
                  "baseline.write": self.recipe.baseline.write}
        for json_path, name in chosen.items():
            if isinstance(name, str) and not staged.replaceable(name):
                problems.append(rcp.Problem(
                    json_path, f"{os.path.join(self.folder, name)} exists and was not written by "
                               "Composite Index: the run would replace it",
                    "give the output another name, or move that file away"))
        return problems

    def check_data(self):
        """Every file outside the sandbox, missing file, layer and field, before any work
        starts. Files outside the sandbox are not opened at all."""
        from composite_index_plugin.processing.connections import statement_timeout

        with statement_timeout():
            return self._check_data()

    def _check_data(self):
        problems = self.sandbox_problems()
        if problems:
            return problems
        r = self.recipe

        def need_fields(layer, fields, path, numeric=False):
            names = set(layer.fields().names())
            for label, field in fields:
                if not field:
                    continue
                if field not in names:
                    problems.append(rcp.Problem(f"{path}.{label}", f"field {field!r} not found in "
                                                f"layer {layer.name()!r}",
                                                "fields that exist: " + ", ".join(sorted(names))))
                elif numeric and not layer.fields().field(field).isNumeric():
                    problems.append(rcp.Problem(f"{path}.{label}", f"field {field!r} of layer "
                                                f"{layer.name()!r} is not numeric",
                                                "choose a numeric field, or convert it"))

        def check_expression(names, layer_name, expression, path):
            found = check_expression_text(expression, names, recipe=True)
            if found:
                message, hint = found
                if message.startswith("unknown field"):
                    message += f" in layer {layer_name!r}"
                problems.append(rcp.Problem(path, message, hint))

        def check_crs(layer, path):
            if not layer.crs().isValid():
                problems.append(rcp.Problem(path, f"layer {layer.name()!r} has no CRS",
                                            "set the layer's CRS (or give the file a .prj)"))

        def check_ref(ref, path, fields=(), numeric=False):
            layer = self.source_layer(ref.source, f"{path}.source")
            if isinstance(layer, rcp.Problem):
                problems.append(layer)
                return None
            check_crs(layer, f"{path}.source")
            if getattr(ref, "filter", None):
                check_expression(set(layer.fields().names()), layer.name(), ref.filter,
                                 f"{path}.filter")
            need_fields(layer, fields, path, numeric)
            return layer

        geo = r.geography
        if r.crs:
            crs = QgsCoordinateReferenceSystem(r.crs)
            if not crs.isValid():
                problems.append(rcp.Problem("crs", f"{r.crs!r} is not a CRS QGIS knows",
                                            'use an id like "EPSG:27700"'))
            elif crs.isGeographic():
                problems.append(rcp.Problem("crs", f"{r.crs} is a geographic CRS (degrees)",
                                            "choose a projected CRS in metres, e.g. EPSG:27700"))
        study = check_ref(r.study_area, "study_area") if r.study_area is not None else None
        if study is not None and geo.type == "grid" and not r.crs and study.crs().isGeographic():
            problems.append(rcp.Problem(
                "crs", f"the study area is in a geographic CRS ({study.crs().authid()}): "
                "grid cells would be sized in degrees", "give the recipe a projected crs in "
                "metres, e.g. EPSG:27700"))
        if geo.type == "grid" and study is not None and not any(p.path == "crs" for p in problems):
            found = self._grid_problem(study, geo)
            if found:
                problems.append(rcp.Problem("geography.size", found,
                                            "give a larger cell size, or raise geography.max_cells"))
        zone_fields = None
        if geo.type == "zones":
            layer = check_ref(geo, "geography", [("id_field", geo.id_field)])
            if layer is not None:
                zone_fields = layer.fields()
        if r.population is not None:
            pop = r.population
            # text numbers of the count field are read (and reported) by apportion
            check_ref(pop, "population", [("field", pop.field), ("source_key", pop.source_key)])
            if pop.table is not None:
                table = self.source_layer(pop.table, "population.table")
                if isinstance(table, rcp.Problem):
                    problems.append(table)
                else:
                    need_fields(table, [("table_key", pop.table_key),
                                        ("table_field", pop.table_field)], "population")
            if r.population.ancillary is not None:
                layer = self.source_layer(r.population.ancillary, "population.ancillary")
                if isinstance(layer, rcp.Problem):
                    problems.append(layer)
        if r.admin_areas is not None:
            check_ref(r.admin_areas, "admin_areas", [("name_field", r.admin_areas.name_field)])
        for path, _theme, issue, _role, spec in r.roles():
            source = spec.source
            if source.get("import") is not None:
                problems.extend(self._check_import(source, issue, spec, path, check_expression))
                continue
            layer = self.source_layer(source, f"{path}.source")
            if isinstance(layer, rcp.Problem):
                problems.append(layer)
                continue
            check_crs(layer, f"{path}.source")
            need_fields(layer, [("weight_field", spec.weight_field)], path, numeric=True)
            need_fields(layer, [("category_field", spec.category_field)], path)
            problems.extend(self._check_categories(issue, spec, path))
            if spec.filter:
                check_expression(set(layer.fields().names()), layer.name(), spec.filter,
                                 f"{path}.filter")
            denominator = spec.denominator
            if denominator and zone_fields is not None and (denominator != "population"
                                                            or r.population is None):
                need_fields(_Named(zone_fields, "zones"), [("denominator", denominator)], path,
                            numeric=True)
        if zone_fields is not None and r.hotspots.enabled:
            field = r.hotspots.field
            if field not in zone_fields.names() and field not in r.zone_fields():
                problems.append(rcp.Problem("hotspots.field", f"the zones will have no field "
                                            f"{field!r}", "choose a field of the zones or of the "
                                            "index, e.g. ci_score"))
        if r.compare is not None:
            for k, ref in enumerate(r.compare.previous):
                layer = self.source_layer(ref, f"compare.previous[{k}]")
                if isinstance(layer, rcp.Problem):
                    problems.append(layer)
                elif r.compare.id_field not in layer.fields().names():
                    problems.append(rcp.Problem(
                        f"compare.previous[{k}]", f"layer {layer.name()!r} has no field "
                        f"{r.compare.id_field!r}", "compare layers of runs on the same grid, or "
                        "set compare.id_field"))
        if r.baseline.read:
            path = rcp.resolve_path(r.baseline.read, self.base_dir)
            if not os.path.isfile(path):
                problems.append(rcp.Problem("baseline.read", f"file not found: {path}",
                                            "paths are relative to the recipe file's folder"))
        project = self.context.project()
        if project is not None and os.path.exists(self.gpkg):
            target = os.path.normcase(os.path.abspath(self.gpkg))
            open_layers = [layer.name() for layer in project.mapLayers().values()
                           if os.path.normcase(os.path.abspath(
                               layer.source().split("|")[0])) == target]
            if open_layers:
                problems.append(rcp.Problem(
                    "output.folder", f"the results of an earlier run in {self.folder} are open in "
                    f"the project ({', '.join(sorted(open_layers)[:5])})",
                    "remove those layers from the project, or write to another output folder"))
        return problems

    def _grid_problem(self, study, geo):
        """The grid's cells counted by arithmetic over the study area's extent (in the recipe's
        CRS), before any cell exists (``core.limits``)."""
        from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform

        extent = study.extent()
        crs = QgsCoordinateReferenceSystem(self.recipe.crs) if self.recipe.crs else study.crs()
        if crs.isValid() and crs != study.crs() and not crs.isGeographic():
            try:
                extent = QgsCoordinateTransform(study.crs(), crs, self.context.transformContext()
                                                ).transformBoundingBox(extent)
            except Exception:  # noqa: BLE001 - QgsCsException: the grid stage reports it
                return None
        if extent.isNull():
            return None
        return limits.grid_problem(
            vocab.grid_shape_code(geo.shape), geo.size,
            (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()),
            geo.origin[0], geo.origin[1], geo.max_cells, geo.size_is_area, what="geography.size")

    def _check_import(self, source, issue, role, path, check_expression):
        """A raw file (or police.uk archive) to import: the file and the import's own files
        exist, an archive holds street files for the months and forces asked for, and the
        role's filter, weight and category fields are fields the clean layer will have (the
        file's columns and the added ones)."""
        problems = []
        file_path = rcp.resolve_path(source.path, self.base_dir)
        imp = source.get("import")
        archive = is_archive(file_path, imp)
        if not (os.path.isfile(file_path) or (archive and os.path.isdir(file_path))):
            return [rcp.Problem(f"{path}.source.path", f"file not found: {file_path}",
                                "paths are relative to the recipe file's folder")]
        for key in model.Import.FILE_KEYS:
            value = imp.get(key)
            if value and not os.path.exists(rcp.resolve_path(value, self.base_dir)):
                problems.append(rcp.Problem(f"{path}.source.import.{key}", f"file not found: "
                                            f"{rcp.resolve_path(value, self.base_dir)}",
                                            "paths are relative to the recipe file's folder"))
        columns = None
        if archive:
            listing = self.archive_listing(source, f"{path}.source")
            if isinstance(listing, rcp.Problem):
                problems.append(listing)
            else:
                columns = archive_columns(listing, imp)
        elif role.filter or role.weight_field or role.category_field:
            columns = import_columns(file_path, imp)
        label = os.path.basename(file_path.rstrip(os.sep))
        if columns is not None and role.filter:
            check_expression(columns, label, role.filter, f"{path}.filter")
        for key in ("weight_field", "category_field"):
            value = role.get(key)
            if columns is not None and value and value not in columns:
                problems.append(rcp.Problem(f"{path}.{key}", f"field {value!r} not found in "
                                            f"{label}", "fields it will have: "
                                            + ", ".join(sorted(columns))))
        problems.extend(self._check_categories(issue, role, path))
        return problems

    def archive_listing(self, source, path):
        """The police.uk archive listing of an import source (``core.policeuk.list_archive``
        with its months and forces), or a Problem; listed once per source."""
        key = source.key_text()
        if key not in self._listings:
            from composite_index_plugin.core import policeuk
            from composite_index_plugin.core.errors import CompositeIndexError

            imp = source.get("import")
            months, _why = self.archive_months(imp)
            try:
                self._listings[key] = policeuk.list_archive(
                    rcp.resolve_path(source.path, self.base_dir), months, imp.forces)
            except CompositeIndexError as err:
                where = f"{path}.import.months" if (months and "match" in err.message) else \
                    f"{path}.path"
                self._listings[key] = rcp.Problem(where, err.message, err.hint or "")
        return self._listings[key]

    def archive_months(self, imp):
        """``((first, last) or None, why)``: the months an archive import reads - its own
        ``months``, else the months the recipe's period names, else all (None)."""
        from composite_index_plugin.core import policeuk

        if imp.months:
            return policeuk.parse_month_range(imp.months), "the import's months"
        period = self.recipe.period
        months = policeuk.months_of_period(period if isinstance(period, str) else
                                           period.to_dict() if period is not None else None)
        if months is not None:
            return months, f"the recipe's period {_period_text(period)}"
        return None, "every month of the archive"

    def category_mapping(self, role):
        """The category -> issue mapping of a role with a category field (a dict, from its
        preset or mapping file), or None (the category itself); raises CompositeIndexError."""
        from composite_index_plugin.core.cleanse import read_category_mapping
        from composite_index_plugin.paths import resource_path

        if role.category_mapping:
            path = rcp.resolve_path(role.category_mapping, self.base_dir)
        elif role.category_preset == "police.uk":
            path = resource_path("presets", "policeuk_crime_types.csv")
        else:
            return None, None
        if path not in self._mappings:
            self._mappings[path] = read_category_mapping(path)
        return self._mappings[path], path

    def _check_categories(self, issue, role, path):
        """A role with a category field and a mapping: the mapping file reads, and the issue is
        one of its issues (else the role would count nothing)."""
        from composite_index_plugin.core.errors import CompositeIndexError

        if not role.category_field:
            return []
        if role.category_mapping and not os.path.isfile(
                rcp.resolve_path(role.category_mapping, self.base_dir)):
            return [rcp.Problem(f"{path}.category_mapping", "file not found: "
                                f"{rcp.resolve_path(role.category_mapping, self.base_dir)}",
                                "paths are relative to the recipe file's folder")]
        where = f"{path}.category_mapping" if role.category_mapping else \
            f"{path}.category_preset"
        try:
            mapping, _ = self.category_mapping(role)
        except CompositeIndexError as err:
            return [rcp.Problem(where, err.message, err.hint or "fix the mapping")]
        if mapping is not None and issue.name not in set(mapping.values()):
            issues = list(dict.fromkeys(mapping.values()))
            return [rcp.Problem(where, f"no category maps to the issue {issue.name!r}, so this "
                                "role would count nothing", "name the issue after one of the "
                                "mapping's issues: " + ", ".join(issues))]
        return []

    def release(self):
        """Drop every layer the run opened, and the log's link to the caller's feedback."""
        self._opened.clear()
        self._filtered.clear()
        if self.log is not None:
            self.log.detach()

    # ----- running ------------------------------------------------------------------------
    def destination(self, table):
        return f"ogr:dbname='{self.gpkg}' table=\"{table}\" (geom)"

    def run_child(self, alg_id, params, feedback):
        import processing

        feedback.pushCommandInfo(f"{alg_id}: " + ", ".join(
            f"{k}={v if not isinstance(v, QgsVectorLayer) else v.name()}" for k, v in params.items()))
        try:
            result = processing.run(alg_id, params, context=self.context,
                                    feedback=feedback.child(), is_child_algorithm=True)
        except QgsProcessingException as err:
            raise QgsProcessingException(f"Stage {alg_id} failed: {err}") from err
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled by the user.")
        return result

    def run(self):
        """Check everything, then run every stage into a staging folder beside the output folder
        and move the results in only when the whole run has finished (``StagedFolder``): a run
        that fails, is cancelled or is killed leaves the previous results, baseline, project and
        map as they were (a failed or cancelled run leaves its log as run_failed.log /
        run_cancelled.log)."""
        from composite_index_plugin.processing.connections import statement_timeout

        with statement_timeout():
            return self._run()

    def _run(self):
        started = datetime.datetime.now()
        self.log.pushInfo(f"Composite Index {version()}: recipe {self.recipe_path}")
        problems = self._check_data()
        if problems:
            raise rcp.RecipeError(problems, self.recipe_path)
        final = self.final_folder
        staged = StagedFolder(final)
        staging = staged.begin()
        self._set_folder(staging)
        progress = StageProgress(self.log, stage_weights(self.recipe, self.STAGES,
                                                         base_dir=self.base_dir))
        from composite_index_plugin.processing.io_points import read_cache

        committed = False
        try:
            timing = []   # (stage, wall s, CPU s) for the log: where a run's time goes
            with read_cache():   # a layer read by one stage is not read again by the next
                for stage in self.STAGES:
                    feedback = progress.stage(stage)
                    if self.log.isCanceled():
                        raise QgsProcessingException("Cancelled by the user.")
                    wall, cpu = time.perf_counter(), time.process_time()
                    getattr(self, f"stage_{stage}")(feedback)
                    if stage not in self.skipped:
                        timing.append((stage, time.perf_counter() - wall,
                                       time.process_time() - cpu))
                    if stage == "geography":   # the stages' costs, now that the zones are known
                        zones = QgsVectorLayer(self.zones, "zones", "ogr").featureCount()
                        progress.reweight(stage_weights(self.recipe, self.STAGES, zones=zones,
                                                        base_dir=self.base_dir))
            if self.log.isCanceled():
                raise QgsProcessingException("Cancelled by the user.")
            self.log.pushInfo("Stage times (wall / CPU of this process): " + ", ".join(
                f"{stage} {w:.1f} / {c:.1f} s" for stage, w, c in timing))
            self.log.pushInfo(f"Moving the results into {final}")
            self.stage_seconds = dict(progress.seconds)
            self._write_log(started, self.log_path, staging, final)
            self._release_outputs()
            from composite_index_plugin.processing import portable

            portable.relocate(staging, staging, final)   # the project names the final folder
            staged.commit()
            committed = True
            progress.finish()
        except BaseException as err:
            kind = "cancelled" if self.log.isCanceled() else "failed"
            self.log.reportError(f"Run {kind}: {err} The output folder {final} was left as it "
                                 "was.", False)
            staged.abort()
            staged.write_side_file(f"run_{kind}.log", self._log_text(started, staging, final))
            raise
        finally:
            progress.close()
            self.stage_seconds = dict(progress.seconds)
            self._set_folder(final)
            if not committed:
                staged.abort()

        def moved(value):
            return value.replace(staging, final) if isinstance(value, str) else value

        return {"RESULTS": self.gpkg, "PROJECT": self.project_path, "LOG": self.log_path,
                "FOLDER": final, "LAYERS": {k: moved(v) for k, v in self.layers.items()},
                "SKIPPED": list(self.skipped)}

    def _release_outputs(self):
        """Let go of the layers the run opened before its files move."""
        self._opened.clear()
        self._filtered.clear()
        store = self.context.temporaryLayerStore() if self.context is not None else None
        if store is not None:
            staging = self.folder
            for layer_id, layer in list(store.mapLayers().items()):
                if staging in (layer.source() or ""):
                    store.removeMapLayer(layer_id)

    def _log_text(self, started, staging=None, final=None):
        text = (f"Composite Index {version()} run log, started {started:%Y-%m-%d %H:%M:%S}\n"
                f"Recipe: {self.recipe_path}\n\n" + "\n".join(self.log.lines) + "\n")
        return text.replace(staging, final) if staging and final else text

    def _write_log(self, started, path=None, staging=None, final=None):
        from composite_index_plugin.processing.transaction import explain_os_error

        path = path or self.log_path
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(self._log_text(started, staging, final))
        except OSError as err:
            raise QgsProcessingException(explain_os_error(err, path)) from err

    def skip(self, stage, why, feedback):
        self.skipped.append(stage)
        feedback.pushInfo(f"Stage '{stage}' skipped: {why}")

    def stage_import(self, feedback):
        sources = {}
        for _path, _theme, _issue, _role, spec in self.recipe.roles():
            if spec.source.get("import") is not None:
                sources.setdefault(spec.source.key_text(), (spec.source, _path))
        if not sources:
            self.skip("import", "no raw files in the recipe", feedback)
            return
        feedback.expect(len(sources))
        stems = set()
        for key, (src, where) in sources.items():
            path = rcp.resolve_path(src.path, self.base_dir)
            imp = src.get("import")
            archive = is_archive(path, imp)
            stem = _unique(os.path.splitext(os.path.basename(path.rstrip(os.sep)))[0].lower(),
                           stems)
            params = {}
            for name in imp.to_dict():
                value = imp.get(name)
                if name in model.Import.ENUMS:
                    value = vocab.position(model.Import.ENUMS[name], value)
                elif name in model.Import.FILE_KEYS:
                    value = rcp.resolve_path(value, self.base_dir)
                elif name in model.Import.ARCHIVE_KEYS:
                    continue
                params[name.upper()] = value
            if "STUDY_AREA" not in params and self.recipe.study_area is not None:
                params["STUDY_AREA"] = self.study_area_layer()
                buffer = self.recipe.study_area.buffer
                if buffer is not None and "STUDY_BUFFER" not in params:
                    params["STUDY_BUFFER"] = buffer
            if archive:
                listing = self.archive_listing(src, f"{where}.source")
                if isinstance(listing, rcp.Problem):   # checked before the run
                    raise QgsProcessingException(str(listing))
                months, why = self.archive_months(imp)
                params["ARCHIVE"] = path
                if months is not None:
                    params["MONTHS"] = f"{months[0]},{months[1]}"
                if imp.forces:
                    params["FORCES"] = ",".join(imp.forces)
                feedback.pushInfo(f"police.uk archive {os.path.basename(path.rstrip(os.sep))}: "
                                  + (f"months {months[0]} to {months[1]} ({why})" if months
                                     else why) + ".")
            else:
                params["INPUT"] = [path]
            params.update({"CLEAN": self.destination(f"clean_{stem}"),
                           "REJECTED": self.destination(f"rejected_{stem}"),
                           "REPORT": os.path.join(self.folder, f"import_{stem}.html")})
            params.setdefault("TARGET_CRS", self.recipe.crs or "EPSG:27700")
            feedback.setProgressText(f"Importing {os.path.basename(path.rstrip(os.sep))}")
            result = self.run_child("compositeindex:importincidents", params, feedback)
            self._opened[key] = QgsVectorLayer(result["CLEAN"], f"clean_{stem}", "ogr")
            self.layers[f"clean_{stem}"] = result["CLEAN"]
            self.layers[f"rejected_{stem}"] = result["REJECTED"]

    def _layer(self, source, path, filter_expression=None):
        layer = self.source_layer(source, path, filter_expression)
        if isinstance(layer, rcp.Problem):  # checked before the run: the data changed since
            raise QgsProcessingException(str(layer))
        return layer

    def study_area_layer(self):
        ref = self.recipe.study_area
        return self._layer(ref.source, "study_area.source", ref.filter)

    def admin_layer(self):
        ref = self.recipe.admin_areas
        return self._layer(ref.source, "admin_areas.source", ref.filter)

    def stage_geography(self, feedback):
        geo = self.recipe.geography
        if geo.type == "grid":
            study = self.study_area_layer()
            if self.recipe.study_area.buffer:
                study = self.buffered_study_area(study, self.recipe.study_area.buffer, feedback)
            params = {"STUDY_AREA": study,
                      "SHAPE": vocab.position(vocab.GRID_SHAPES, geo.shape),
                      "SIZE": geo.size, "SIZE_IS_AREA": geo.size_is_area,
                      "KEEP": vocab.position(vocab.GRID_KEEP, geo.keep),
                      "ORIGIN_X": geo.origin[0], "ORIGIN_Y": geo.origin[1],
                      "MAX_CELLS": geo.max_cells, "OUTPUT": self.destination("zones")}
            if self.recipe.crs:
                params["TARGET_CRS"] = self.recipe.crs
            feedback.setProgressText("Creating the analysis grid")
            result = self.run_child("compositeindex:creategrid", params, feedback)
        else:
            layer = self._layer(geo.source, "geography.source")
            feedback.setProgressText("Copying (and repairing) the zones")
            result = self.run_child("native:fixgeometries",
                                    {"INPUT": layer, "OUTPUT": self.destination("zones")}, feedback)
        self.layers["zones"] = result["OUTPUT"]
        self.zones = result["OUTPUT"]

    def buffered_study_area(self, study, buffer, feedback):
        """The study area (in the recipe's CRS) buffered by ``buffer`` and dissolved, for the
        grid: cells then cover the points an import keeps within the buffer."""
        from qgis.core import QgsCoordinateReferenceSystem

        feedback.pushInfo(f"The grid covers the study area and its {buffer:g} m buffer "
                          "(study_area.buffer), so the points an import keeps within the buffer "
                          "fall in cells.")
        crs = QgsCoordinateReferenceSystem(self.recipe.crs) if self.recipe.crs else None
        if crs is not None and crs.isValid() and study.crs() != crs:
            study = self.run_child("native:reprojectlayer", {
                "INPUT": study, "TARGET_CRS": crs, "OUTPUT": "TEMPORARY_OUTPUT"},
                feedback)["OUTPUT"]
        return self.run_child("native:buffer", {
            "INPUT": study, "DISTANCE": float(buffer), "SEGMENTS": 8, "END_CAP_STYLE": 0,
            "JOIN_STYLE": 0, "MITER_LIMIT": 2, "DISSOLVE": True, "OUTPUT": "TEMPORARY_OUTPUT"},
            feedback)["OUTPUT"]

    def stage_population(self, feedback):
        pop = self.recipe.population
        if pop is None:
            self.skip("population", "no population section in the recipe", feedback)
            return
        params = {"SOURCES": self._layer(pop.source, "population.source"),
                  "ZONES": self.zones, "OUTPUT_FIELD": "population",
                  "OUTPUT": self.destination("zones_population")}
        if pop.table is not None:
            params.update({"TABLE": self._layer(pop.table, "population.table"),
                           "TABLE_KEY": pop.table_key, "TABLE_FIELD": pop.table_field,
                           "SOURCES_KEY": pop.source_key})
        else:
            params["FIELD"] = pop.field
        if pop.ancillary is not None:
            params["ANCILLARY"] = self._layer(pop.ancillary, "population.ancillary")
        feedback.setProgressText("Apportioning population to the zones")
        result = self.run_child("compositeindex:apportion", params, feedback)
        self.layers["zones_population"] = result["OUTPUT"]
        self.zones = result["OUTPUT"]

    def aggregate_calls(self):
        """The ``aggregatepat`` calls of the run, in order: ``[(issues, roles, bandwidth,
        mapping)]`` with ``roles`` = {role: (Role, path)}.

        Roles with a category field are counted in one pass per source: one call for every
        role layer (same source, filter, weight, category field and mapping) and every issue
        that reads it, and roles of different kinds share a call when they count the same
        issues. Other roles make one call per issue, as before (so a recipe without category
        fields runs the same calls, in the same order). ``mapping``: (preset, mapping file) of
        a category call, None for a one-issue call."""
        groups, singles = {}, []
        for theme, issue in self.recipe.issues():
            del theme
            roles = {}
            bandwidth = max([float(spec.kde_bandwidth) for spec in issue.roles.values()] + [0.0])
            for role, spec in issue.roles.items():
                path = f"{issue.name}.roles.{role}"
                if spec.category_field:
                    key = (role, spec.source.key_text(), spec.filter or "", spec.weight_field or "",
                           spec.category_field, spec.category_preset or "none",
                           spec.category_mapping or "", bandwidth)
                    groups.setdefault(key, {"issues": [], "spec": spec, "path": path})
                    groups[key]["issues"].append(issue.name)
                else:
                    roles[role] = (spec, path)
            if roles:
                singles.append(([issue.name], roles, bandwidth, None))
        calls = []
        for key, group in groups.items():
            role, bandwidth = key[0], key[-1]
            mapping = (key[5], key[6])
            for issues, roles, bw, mp in calls:
                if issues == group["issues"] and bw == bandwidth and mp == mapping and \
                        role not in roles:
                    roles[role] = (group["spec"], group["path"])
                    break
            else:
                calls.append((group["issues"], {role: (group["spec"], group["path"])},
                              bandwidth, mapping))
        return calls + singles

    def stage_aggregate(self, feedback):
        calls = self.aggregate_calls()
        feedback.expect(len(calls))
        current = self.zones
        for n, (issues, roles, bandwidth, mapping) in enumerate(calls):
            params = {"ZONES": current}
            for role, (spec, path) in roles.items():
                key = role.upper()
                params[key] = self._layer(spec.source, f"{path}.source")
                if spec.filter:
                    params[f"{key}_FILTER"] = spec.filter
                if spec.weight_field:
                    params[f"{key}_WEIGHT"] = spec.weight_field
                if spec.category_field:
                    params[f"{key}_CATEGORY"] = spec.category_field
            if mapping is None:
                params["ISSUE"] = issues[0]
                label = next(issue.label or issue.name for _t, issue in self.recipe.issues()
                             if issue.name == issues[0])
                feedback.setProgressText(f"Aggregating {label}")
            else:
                preset, mapping_file = mapping
                params["ISSUES"] = ",".join(issues)
                if mapping_file:
                    params["CATEGORY_MAPPING"] = rcp.resolve_path(mapping_file, self.base_dir)
                elif preset != "none":
                    params["CATEGORY_PRESET"] = vocab.position(vocab.CATEGORY_PRESETS, preset)
                feedback.setProgressText(
                    f"Aggregating {len(issues)} issue(s) in one pass: {', '.join(roles)} by "
                    + ", ".join(f"'{spec.category_field}'" for spec, _p in roles.values()))
            if bandwidth:
                params["KDE_BANDWIDTH"] = bandwidth
            last = n == len(calls) - 1
            params["OUTPUT"] = self.destination("aggregated") if last else "TEMPORARY_OUTPUT"
            current = self.run_child("compositeindex:aggregatepat", params, feedback)["OUTPUT"]
        self.layers["aggregated"] = current
        self.zones = current

    def spec_text(self):
        """The index spec of the recipe as JSON text (SPEC of buildindex and sensitivity),
        written once."""
        if self._spec_text is None:
            self._spec_text = json.dumps(self.recipe.index_spec_dict())
        return self._spec_text

    def stage_index(self, feedback):
        baseline = self.recipe.baseline
        params = {"INPUT": self.zones, "SPEC": self.spec_text(),
                  "REPORT": os.path.join(self.folder, "index_report.html"),
                  "DIAGNOSTICS": self.destination("index_diagnostics"),
                  "OUTPUT": self.destination("index")}
        if baseline.read:
            params["BASELINE_IN"] = rcp.resolve_path(baseline.read, self.base_dir)
        params["BASELINE_OUT"] = rcp.resolve_path(baseline.write, self.folder)
        feedback.setProgressText("Building the composite index")
        result = self.run_child("compositeindex:buildindex", params, feedback)
        self.layers["index"] = result["OUTPUT"]
        self.zones = result["OUTPUT"]

    def stage_hotspots(self, feedback):
        h = self.recipe.hotspots
        if not h.enabled:
            self.skip("hotspots", "disabled in the recipe", feedback)
            return
        params = {"INPUT": self.zones, "FIELD": h.field,
                  "NEIGHBOURHOOD": vocab.position(vocab.HOTSPOT_NEIGHBOURHOODS, h.neighbourhood),
                  "PERMUTATIONS": h.permutations, "SEED": h.seed, "FDR": h.fdr,
                  "OUTPUT": self.destination("hotspots")}
        if h.distance is not None:
            params["DISTANCE"] = h.distance
        if h.k is not None:
            params["K"] = h.k
        feedback.setProgressText("Finding hotspots")
        result = self.run_child("compositeindex:hotspots", params, feedback)
        self.layers["hotspots"] = result["OUTPUT"]
        self.zones = result["OUTPUT"]

    def stage_hotspot_zones(self, feedback):
        h = self.recipe.hotspots
        if "hotspots" not in self.layers or not h.zones:
            self.skip("hotspot_zones", "needs the hotspot stage" if h.zones else
                      "hotspots.zones is off in the recipe", feedback)
            return
        sums = [vocab.count_field(issue.name, role) for _t, issue in self.recipe.issues()
                for role in issue.roles]
        params = {"INPUT": self.zones, "MIN_BIN": h.min_bin, "SUM_FIELDS": sums,
                  "OUTPUT": self.destination("hotspot_zones")}
        result = self.run_child("compositeindex:hotspotzones", params, feedback)
        self.layers["hotspot_zones"] = result["OUTPUT"]

    def stage_summaries(self, feedback):
        if self.recipe.admin_areas is None:
            self.skip("summaries", "no admin_areas in the recipe", feedback)
            return
        params = {"ZONES": self.zones, "AREAS": self.admin_layer(),
                  "AREA_NAME_FIELD": self.recipe.admin_areas.name_field or "",
                  "OUTPUT": self.destination("area_summary"),
                  "TABLE": self.destination("area_summary_table")}
        if "hotspot_zones" in self.layers:
            params["HOTSPOTS"] = self.layers["hotspot_zones"]
        if self.recipe.given("gap"):
            params["GAP"] = json.dumps(self.recipe.gap.as_dict())
        feedback.setProgressText("Summarising by area")
        result = self.run_child("compositeindex:summariseareas", params, feedback)
        self.layers["area_summary"] = result["OUTPUT"]
        self.layers["area_summary_table"] = result["TABLE"]

    def stage_compare(self, feedback):
        comp = self.recipe.compare
        if comp is None:
            self.skip("compare", "no earlier period named in the recipe", feedback)
            return
        periods = [self._layer(ref, f"compare.previous[{k}]")
                   for k, ref in enumerate(comp.previous)]
        periods.append(QgsVectorLayer(self.zones, "this period", "ogr"))
        params = {"PERIODS": periods, "ID_FIELD": comp.id_field,
                  "LABELS": ",".join(str(x) for x in comp.labels or []),
                  "OUTPUT": self.destination("period_change"),
                  "GAPS": self.destination("period_gaps")}
        if self.recipe.admin_areas is not None:
            params["AREAS"] = self.admin_layer()
            params["AREA_NAME_FIELD"] = self.recipe.admin_areas.name_field or ""
        if self.recipe.given("gap"):
            params["GAP"] = json.dumps(self.recipe.gap.as_dict())
        feedback.setProgressText("Comparing periods")
        result = self.run_child("compositeindex:compareperiods", params, feedback)
        self.layers["period_change"] = result["OUTPUT"]
        self.layers["period_gaps"] = result["GAPS"]

    def stage_sensitivity(self, feedback):
        sens = self.recipe.sensitivity
        if sens is None:
            self.skip("sensitivity", "no sensitivity section in the recipe", feedback)
            return
        params = {"INPUT": self.layers["index"], "SPEC": self.spec_text(),
                  "RUNS": sens.runs, "SEED": sens.seed, "CONCENTRATION": sens.concentration,
                  "SCALINGS": list(sens.scalings or []), "GRID_JITTER": sens.grid_jitter,
                  "OUTPUT": self.destination("sensitivity")}
        if self.recipe.admin_areas is not None:
            params["AREAS"] = self.admin_layer()
            params["AREA_NAME_FIELD"] = self.recipe.admin_areas.name_field or ""
            params["AREA_OUTPUT"] = self.destination("sensitivity_areas")
        feedback.setProgressText("Uncertainty and sensitivity")
        result = self.run_child("compositeindex:sensitivity", params, feedback)
        self.layers["sensitivity"] = result["OUTPUT"]
        if result.get("AREA_OUTPUT"):
            self.layers["sensitivity_areas"] = result["AREA_OUTPUT"]

    def stage_project(self, feedback):
        from composite_index_plugin.processing import project_writer

        feedback.setProgressText("Writing the project")
        project_writer.write_project(self.project_path, self.layers, self.doc, feedback,
                                     self.admin_layer() if self.recipe.admin_areas else None)

    def stage_map(self, feedback):
        from composite_index_plugin.processing import project_writer

        feedback.setProgressText("Rendering the main map")
        note = project_writer.attribution(synthetic=_mentions(self.doc, "synthetic"))
        project_writer.render_main_map(self.map_png, self.layers, feedback,
                                       self.admin_layer() if self.recipe.admin_areas else None,
                                       title=self.recipe.name or "Composite Index", note=note)

    def stage_layout(self, feedback):
        if "area_summary" not in self.layers:
            self.skip("layout", "needs the area summaries", feedback)
            return
        from composite_index_plugin.core.method_note import method_note

        params = {"ZONES": self.layers.get("hotspots", self.layers.get("index")),
                  "AREAS": self.layers["area_summary"], "AREA_NAME_FIELD": "area_name",
                  "TITLE": self.recipe.name or "Strategic assessment",
                  "METHOD_NOTE": method_note(self.recipe, max_chars=900),
                  "RECIPE": self.recipe_path,
                  "PDF": os.path.join(self.folder, "assessment.pdf"),
                  "PROJECT": self.project_path}
        if "hotspot_zones" in self.layers:
            params["HOTSPOT_ZONES"] = self.layers["hotspot_zones"]
        if "period_gaps" in self.layers:
            params["PERIOD_GAPS"] = self.layers["period_gaps"]
            params["PERIOD_CHANGE"] = self.layers["period_change"]
        if self.recipe.layout.png_pages:
            params["PNG_FOLDER"] = os.path.join(self.folder, "pages")
        feedback.setProgressText("Exporting the assessment layout")
        self.run_child("compositeindex:exportassessment", params, feedback)


class _Named:
    """Fields with a name, as a layer offers them (for checks against the zones' fields)."""

    def __init__(self, fields, name):
        self._fields, self._name = fields, name

    def fields(self):
        return self._fields

    def name(self):
        return self._name


def _unique(name, used):
    """``name``, or ``name_2``, ``name_3``... when it is in ``used`` (which gets it)."""
    out, n = name, 1
    while out in used:
        n += 1
        out = f"{name}_{n}"
    used.add(out)
    return out


def _mentions(value, word):
    """True when any text in the JSON data ``value`` contains ``word`` (any case)."""
    if isinstance(value, str):
        return word in value.lower()
    if isinstance(value, dict):
        return any(_mentions(k, word) or _mentions(v, word) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(v, word) for v in value)
    return False


def is_archive(path, imp):
    """Is an import source a police.uk archive (a .zip, a folder, or a file read with months or
    forces)?"""
    return os.path.isdir(path) or path.lower().endswith(".zip") or any(
        imp.given(k) for k in model.Import.ARCHIVE_KEYS)


def archive_columns(listing, imp):
    """The fields the clean layer of an archive import will have: the street files' header and
    the fields the import adds (with ``period``)."""
    from composite_index_plugin.core import cleanse, policeuk

    header = policeuk.archive_header(listing) or list(cleanse.POLICEUK_COLUMNS)
    renamed = cleanse.clean_field_names(header)
    added = set(cleanse.ADDED_CLEAN) | ({"period"} if imp.period != "none" else set())
    return set(renamed) | added


def _period_text(period):
    if isinstance(period, str):
        return f"'{period}'"
    return " to ".join(str(v) for v in (period.start, period.end) if v)


def import_columns(path, imp):
    """The fields the clean layer of an import will have: the file's header (read with the
    encoding and delimiter the import would use) and the fields the import adds. None when the
    header cannot be read (the import stage then reports why)."""
    import csv

    from composite_index_plugin.core import cleanse
    from composite_index_plugin.core.errors import CompositeIndexError

    try:
        encoding = imp.encoding or cleanse.sniff_encoding(path)[0]
        with open(path, encoding=encoding, errors="replace", newline="") as handle:
            lines = [handle.readline() for _ in range(50)]
    except (OSError, LookupError, CompositeIndexError):
        return None
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return None
    word = vocab.word(vocab.IMPORT_DELIMITERS, imp.delimiter)
    delimiter = cleanse.DELIMITER_ENUM[vocab.position(vocab.IMPORT_DELIMITERS, word)] or \
        cleanse.sniff_delimiter(lines)
    header = [c.strip() for c in next(csv.reader(lines[:1], delimiter=delimiter))]
    return set(cleanse.clean_field_names(header)) | set(cleanse.ADDED_CLEAN)
