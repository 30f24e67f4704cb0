"""Run a whole assessment from a recipe: every stage that exists, in order.

Each stage is a Processing algorithm of this provider, run as a child algorithm with the
parent's context and feedback, so the recipe runner does nothing an analyst could not do by
hand in the toolbox or the Graphical Modeler. A stage whose algorithm is not available in this
version is skipped and says so in the log.
"""
import datetime
import json
import os

from qgis.core import (
    QgsApplication,
    QgsExpression,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingMultiStepFeedback,
    QgsVectorLayer,
)

from composite_index_plugin.core import recipe as rcp
from composite_index_plugin.core.hotspots import DEFAULTS as HOTSPOT_DEFAULTS
from composite_index_plugin.paths import version


class LogFeedback(QgsProcessingFeedback):
    """Passes everything to the parent feedback and keeps a copy for the run log."""

    def __init__(self, parent):
        super().__init__()
        self.parent = parent
        self.lines = []
        if parent is not None:
            parent.canceled.connect(self.cancel)

    def _keep(self, kind, text):
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        self.lines.append(f"{stamp} {kind:7s} {text}")

    def setProgressText(self, text):  # noqa: N802
        self._keep("STEP", text)
        if self.parent is not None:
            self.parent.setProgressText(text)

    def pushInfo(self, text):  # noqa: N802
        self._keep("INFO", text)
        if self.parent is not None:
            self.parent.pushInfo(text)

    def pushWarning(self, text):  # noqa: N802
        self._keep("WARNING", text)
        if self.parent is not None:
            self.parent.pushWarning(text)

    def reportError(self, text, fatalError=False):  # noqa: N802, N803
        self._keep("ERROR", text)
        if self.parent is not None:
            self.parent.reportError(text, fatalError)

    def pushDebugInfo(self, text):  # noqa: N802
        if self.parent is not None:
            self.parent.pushDebugInfo(text)

    def pushCommandInfo(self, text):  # noqa: N802
        self._keep("COMMAND", text)
        if self.parent is not None:
            self.parent.pushCommandInfo(text)

    def pushConsoleInfo(self, text):  # noqa: N802
        if self.parent is not None:
            self.parent.pushConsoleInfo(text)

    def setProgress(self, value):  # noqa: N802
        super().setProgress(value)
        if self.parent is not None:
            self.parent.setProgress(value)


def algorithm_available(alg_id):
    return QgsApplication.processingRegistry().algorithmById(alg_id) is not None


class RecipeRunner:
    """Validates a recipe (structure and data) and runs its stages."""

    STAGES = ("import", "geography", "population", "aggregate", "index", "hotspots",
              "hotspot_zones", "summaries", "compare", "sensitivity", "project", "map", "layout")

    def __init__(self, recipe_path, context, feedback, output_folder=None):
        self.recipe_path = os.path.abspath(recipe_path)
        self.base_dir = os.path.dirname(self.recipe_path)
        self.context = context
        self.log = LogFeedback(feedback)
        self.recipe = rcp.load_recipe(self.recipe_path)
        problems = rcp.validate_recipe(self.recipe)
        if problems:
            raise rcp.RecipeError(problems, self.recipe_path)
        out = self.recipe.get("output", {})
        self.folder = output_folder or rcp.resolve_path(out.get("folder", "output"), self.base_dir)
        self.gpkg = os.path.join(self.folder, out.get("geopackage", "results.gpkg"))
        self.project_path = os.path.join(self.folder, out.get("project", "assessment.qgz"))
        self.log_path = os.path.join(self.folder, out.get("log", "run.log"))
        self.map_png = os.path.join(self.folder, out.get("map_png", "map.png"))
        self.layers = {}     # name in results.gpkg -> layer uri
        self.skipped = []
        self._cache = {}     # source json -> layer

    # ----- sources -------------------------------------------------------------------------
    def source_layer(self, source, path, filter_expression=None):
        """A QgsVectorLayer for a recipe source, or a Problem."""
        key = json.dumps([source, filter_expression], sort_keys=True)
        if key in self._cache:
            return self._cache[key]
        if "path" in source:
            file_path = rcp.resolve_path(source["path"], self.base_dir)
            if not os.path.exists(file_path):
                return rcp.Problem(f"{path}.path", f"file not found: {file_path}",
                                   "paths are relative to the recipe file's folder")
            uri = file_path + (f"|layername={source['layer']}" if "layer" in source else "")
            layer = QgsVectorLayer(uri, source.get("layer", os.path.basename(file_path)), "ogr")
        elif "project_layer" in source:
            found = self.context.project().mapLayersByName(source["project_layer"]) \
                if self.context.project() is not None else []
            if not found:
                return rcp.Problem(f"{path}.project_layer",
                                   f"no layer named {source['project_layer']!r} in the project",
                                   "add the layer to the project or give a file path")
            layer = found[0].clone()
        elif "connection" in source or "service" in source:
            from composite_index_plugin.processing import connections

            try:
                layer = connections.source_layer(source, path)
            except connections.SourceError as err:
                return err.problem
        else:
            provider = source.get("provider", "ogr")
            layer = QgsVectorLayer(source["uri"], source.get("layer", "layer"), provider)
        if not layer.isValid():
            if "path" in source and "layer" in source:
                return rcp.Problem(f"{path}.layer", f"layer {source['layer']!r} cannot be opened in "
                                   f"{source['path']}", "check the layer name (ogrinfo lists them)")
            return rcp.Problem(path, "the layer cannot be opened", "check the source")
        if filter_expression:
            if not layer.setSubsetString(filter_expression):
                # not a provider-side SQL filter: use a QGIS expression instead
                return self._filtered(layer, filter_expression, path, key)
        self._cache[key] = layer
        return layer

    def _filtered(self, layer, expression, path, key):
        from qgis.core import QgsFeatureRequest
        expr = QgsExpression(expression)
        if expr.hasParserError():
            return rcp.Problem(f"{path}.filter", f"invalid expression: {expr.parserErrorString()}",
                               "use QGIS expression syntax, e.g. \"Area\" = 'Birmingham'")
        sub = layer.materialize(QgsFeatureRequest(expr))
        self._cache[key] = sub
        return sub

    def check_data(self):
        """Every missing file, layer and field, before any work starts."""
        problems = []
        r = self.recipe

        def need_fields(layer, fields, path):
            names = set(layer.fields().names())
            for label, field in fields:
                if field and field not in names:
                    problems.append(rcp.Problem(f"{path}.{label}", f"field {field!r} not found in "
                                                f"layer {layer.name()!r}",
                                                "fields that exist: " + ", ".join(sorted(names))))

        def check_expression(layer, expression, path):
            expr = QgsExpression(expression)
            if expr.hasParserError():
                problems.append(rcp.Problem(path, f"invalid expression: {expr.parserErrorString()}"))
                return
            names = set(layer.fields().names())
            missing = [c for c in expr.referencedColumns() if c not in names and c != "*"]
            if missing:
                problems.append(rcp.Problem(path, f"unknown field(s) {', '.join(missing)} in layer "
                                            f"{layer.name()!r}", "fields that exist: "
                                            + ", ".join(sorted(names))))

        def check_ref(ref, path, fields=()):
            if ref.get("filter"):
                layer = self.source_layer(ref["source"], f"{path}.source")
                if isinstance(layer, rcp.Problem):
                    problems.append(layer)
                    return None
                check_expression(layer, ref["filter"], f"{path}.filter")
            layer = self.source_layer(ref["source"], f"{path}.source", ref.get("filter"))
            if isinstance(layer, rcp.Problem):
                problems.append(layer)
                return None
            need_fields(layer, fields, path)
            return layer

        if "study_area" in r:
            check_ref(r["study_area"], "study_area")
        geo = r["geography"]
        zone_fields = set()
        if geo["type"] == "zones":
            layer = check_ref({"source": geo["source"]}, "geography",
                              [("id_field", geo.get("id_field"))])
            if layer is not None:
                zone_fields = set(layer.fields().names())
        if "population" in r:
            check_ref({"source": r["population"]["source"]}, "population",
                      [("field", r["population"]["field"])])
        if "admin_areas" in r:
            check_ref(r["admin_areas"], "admin_areas", [("name_field", r["admin_areas"].get("name_field"))])
        for t, theme in enumerate(r["themes"]):
            for i, issue in enumerate(theme["issues"]):
                for role, spec in issue["roles"].items():
                    path = f"themes[{t}].issues[{i}].roles.{role}"
                    if "import" in spec["source"]:
                        continue  # checked by the import stage, which reports every row
                    layer = self.source_layer(spec["source"], f"{path}.source")
                    if isinstance(layer, rcp.Problem):
                        problems.append(layer)
                        continue
                    need_fields(layer, [("weight_field", spec.get("weight_field"))], path)
                    if spec.get("filter"):
                        check_expression(layer, spec["filter"], f"{path}.filter")
                    denominator = spec.get("denominator")
                    if denominator and denominator != "population" and zone_fields and \
                            denominator not in zone_fields:
                        problems.append(rcp.Problem(f"{path}.denominator",
                                                    f"field {denominator!r} is not in the zones layer",
                                                    "name a field of the zones, or 'population'"))
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
        if algorithm_available("compositeindex:buildindex"):
            from composite_index_plugin.core import index as engine
            for p in engine.validate_spec(rcp.index_spec(r)):
                problems.append(rcp.Problem(rcp.spec_path_to_recipe(p.path), p.message, p.hint))
        return problems

    def release(self):
        """Drop every layer the run opened, and the log's link to the caller's feedback."""
        self._cache.clear()
        if self.log is not None and self.log.parent is not None:
            try:
                self.log.parent.canceled.disconnect(self.log.cancel)
            except (TypeError, RuntimeError):
                pass
            self.log.parent = None

    # ----- running ------------------------------------------------------------------------
    def destination(self, table):
        return f"ogr:dbname='{self.gpkg}' table=\"{table}\" (geom)"

    def run_child(self, alg_id, params, feedback):
        import processing

        feedback.pushCommandInfo(f"{alg_id}: " + ", ".join(
            f"{k}={v if not isinstance(v, QgsVectorLayer) else v.name()}" for k, v in params.items()))
        try:
            result = processing.run(alg_id, params, context=self.context, feedback=feedback,
                                    is_child_algorithm=True)
        except QgsProcessingException as err:
            raise QgsProcessingException(f"Stage {alg_id} failed: {err}") from err
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled by the user.")
        return result

    def run(self):
        started = datetime.datetime.now()
        self.log.pushInfo(f"Composite Index {version()}: recipe {self.recipe_path}")
        problems = self.check_data()
        if problems:
            raise rcp.RecipeError(problems, self.recipe_path)
        os.makedirs(self.folder, exist_ok=True)
        for path in (self.gpkg, self.gpkg + "-wal", self.gpkg + "-shm"):
            if os.path.exists(path):  # a stale WAL file would corrupt the new GeoPackage
                os.remove(path)
        steps = QgsProcessingMultiStepFeedback(len(self.STAGES), self.log)
        outputs = {}
        try:
            for n, stage in enumerate(self.STAGES):
                steps.setCurrentStep(n)
                if self.log.isCanceled():
                    raise QgsProcessingException("Cancelled by the user.")
                getattr(self, f"stage_{stage}")(steps)
        finally:
            self._write_log(started)
        outputs.update({"RESULTS": self.gpkg, "PROJECT": self.project_path, "LOG": self.log_path,
                        "FOLDER": self.folder, "LAYERS": dict(self.layers),
                        "SKIPPED": list(self.skipped)})
        return outputs

    def _write_log(self, started):
        os.makedirs(self.folder, exist_ok=True)
        with open(self.log_path, "w", encoding="utf-8") as handle:
            handle.write(f"Composite Index {version()} run log, started {started:%Y-%m-%d %H:%M:%S}\n")
            handle.write(f"Recipe: {self.recipe_path}\n\n")
            handle.write("\n".join(self.log.lines) + "\n")

    def skip(self, stage, why, feedback):
        self.skipped.append(stage)
        feedback.pushInfo(f"Stage '{stage}' skipped: {why}")

    def stage_import(self, feedback):
        sources = []
        for _theme, issue in rcp.issues_of(self.recipe):
            for spec in issue["roles"].values():
                if "import" in spec["source"]:
                    sources.append(spec)
        if not sources:
            self.skip("import", "no raw files in the recipe", feedback)
            return
        if not algorithm_available("compositeindex:importincidents"):
            raise QgsProcessingException("The recipe has raw files to import but this version has "
                                         "no import algorithm.")
        for spec in sources:
            key = json.dumps(spec["source"], sort_keys=True)
            if key in self._cache:
                continue
            src = spec["source"]
            path = rcp.resolve_path(src["path"], self.base_dir)
            stem = os.path.splitext(os.path.basename(path))[0].lower()
            params = {}
            for k, v in src["import"].items():
                if isinstance(v, str) and k.lower() in ("postcode_lookup", "category_mapping",
                                                         "study_area"):
                    v = rcp.resolve_path(v, self.base_dir)
                params[k.upper()] = v
            if "STUDY_AREA" not in params and "study_area" in self.recipe:
                params["STUDY_AREA"] = self.study_area_layer()
            params.update({"INPUT": [path], "CLEAN": self.destination(f"clean_{stem}"),
                           "REJECTED": self.destination(f"rejected_{stem}"),
                           "REPORT": os.path.join(self.folder, f"import_{stem}.html")})
            params.setdefault("TARGET_CRS", self.recipe.get("crs", "EPSG:27700"))
            feedback.setProgressText(f"Importing {os.path.basename(path)}")
            result = self.run_child("compositeindex:importincidents", params, feedback)
            layer = QgsVectorLayer(result["CLEAN"], f"clean_{stem}", "ogr")
            self._cache[key] = layer
            self._cache[json.dumps([src, None], sort_keys=True)] = layer
            self.layers[f"clean_{stem}"] = result["CLEAN"]
            self.layers[f"rejected_{stem}"] = result["REJECTED"]

    def study_area_layer(self):
        ref = self.recipe["study_area"]
        return self.source_layer(ref["source"], "study_area.source", ref.get("filter"))

    def stage_geography(self, feedback):
        geo = self.recipe["geography"]
        if geo["type"] == "grid":
            if "study_area" not in self.recipe:
                raise QgsProcessingException("A grid needs a study_area in the recipe.")
            params = {"STUDY_AREA": self.study_area_layer(),
                      "SHAPE": rcp.GRID_SHAPES[geo.get("shape", "hexagon_flat")],
                      "SIZE": geo["size"], "SIZE_IS_AREA": bool(geo.get("size_is_area", False)),
                      "KEEP": rcp.GRID_KEEP[geo.get("keep", "intersects")],
                      "OUTPUT": self.destination("zones")}
            if "origin" in geo:
                params["ORIGIN_X"], params["ORIGIN_Y"] = geo["origin"]
            if "max_cells" in geo:
                params["MAX_CELLS"] = geo["max_cells"]
            if "crs" in self.recipe:
                params["TARGET_CRS"] = self.recipe["crs"]
            feedback.setProgressText("Creating the analysis grid")
            result = self.run_child("compositeindex:creategrid", params, feedback)
        else:
            layer = self.source_layer(geo["source"], "geography.source")
            feedback.setProgressText("Copying (and repairing) the zones")
            result = self.run_child("native:fixgeometries",
                                    {"INPUT": layer, "OUTPUT": self.destination("zones")}, feedback)
        self.layers["zones"] = result["OUTPUT"]
        self.zones = result["OUTPUT"]

    def stage_population(self, feedback):
        pop = self.recipe.get("population")
        if not pop:
            self.skip("population", "no population section in the recipe", feedback)
            return
        params = {"SOURCES": self.source_layer(pop["source"], "population.source"),
                  "FIELD": pop["field"], "ZONES": self.zones, "OUTPUT_FIELD": "population",
                  "OUTPUT": self.destination("zones_population")}
        if "ancillary" in pop:
            params["ANCILLARY"] = self.source_layer(pop["ancillary"], "population.ancillary")
        feedback.setProgressText("Apportioning population to the zones")
        result = self.run_child("compositeindex:apportion", params, feedback)
        self.layers["zones_population"] = result["OUTPUT"]
        self.zones = result["OUTPUT"]

    def stage_aggregate(self, feedback):
        issues = list(rcp.issues_of(self.recipe))
        current = self.zones
        for n, (_theme, issue) in enumerate(issues):
            params = {"ZONES": current, "ISSUE": issue["name"]}
            bandwidth = 0.0
            for role, spec in issue["roles"].items():
                key = role.upper()
                path = f"{issue['name']}.roles.{role}.source"
                params[key] = self.source_layer(spec["source"], path)
                if isinstance(params[key], rcp.Problem):
                    raise QgsProcessingException(str(params[key]))
                if spec.get("filter"):
                    params[f"{key}_FILTER"] = spec["filter"]
                if spec.get("weight_field"):
                    params[f"{key}_WEIGHT"] = spec["weight_field"]
                bandwidth = max(bandwidth, float(spec.get("kde_bandwidth", 0) or 0))
            if bandwidth:
                params["KDE_BANDWIDTH"] = bandwidth
            last = n == len(issues) - 1
            params["OUTPUT"] = self.destination("aggregated") if last else "TEMPORARY_OUTPUT"
            feedback.setProgressText(f"Aggregating {issue.get('label', issue['name'])}")
            current = self.run_child("compositeindex:aggregatepat", params, feedback)["OUTPUT"]
        self.layers["aggregated"] = current
        self.zones = current

    def stage_index(self, feedback):
        if not algorithm_available("compositeindex:buildindex"):
            self.skip("index", "the index engine is not in this version", feedback)
            return
        baseline = self.recipe.get("baseline", {})
        params = {"INPUT": self.zones, "SPEC": json.dumps(rcp.index_spec(self.recipe)),
                  "REPORT": os.path.join(self.folder, "index_report.html"),
                  "DIAGNOSTICS": self.destination("index_diagnostics"),
                  "OUTPUT": self.destination("index")}
        if baseline.get("read"):
            params["BASELINE_IN"] = rcp.resolve_path(baseline["read"], self.base_dir)
        params["BASELINE_OUT"] = rcp.resolve_path(baseline.get("write", "baseline.json"), self.folder)
        feedback.setProgressText("Building the composite index")
        result = self.run_child("compositeindex:buildindex", params, feedback)
        self.layers["index"] = result["OUTPUT"]
        self.zones = result["OUTPUT"]

    def stage_hotspots(self, feedback):
        h = self.recipe.get("hotspots", {})
        if h.get("enabled") is False:
            self.skip("hotspots", "disabled in the recipe", feedback)
            return
        if not algorithm_available("compositeindex:hotspots") or "index" not in self.layers:
            self.skip("hotspots", "needs the index and the hotspot algorithm", feedback)
            return
        params = {"INPUT": self.zones, "FIELD": h.get("field", "ci_score"),
                  "NEIGHBOURHOOD": rcp.NEIGHBOURHOODS[h.get("neighbourhood",
                                                            HOTSPOT_DEFAULTS["neighbourhood"])],
                  "PERMUTATIONS": int(h.get("permutations", HOTSPOT_DEFAULTS["permutations"])),
                  "SEED": int(h.get("seed", HOTSPOT_DEFAULTS["seed"])),
                  "FDR": bool(h.get("fdr", HOTSPOT_DEFAULTS["fdr"])),
                  "OUTPUT": self.destination("hotspots")}
        if "distance" in h:
            params["DISTANCE"] = h["distance"]
        if "k" in h:
            params["K"] = h["k"]
        feedback.setProgressText("Finding hotspots")
        result = self.run_child("compositeindex:hotspots", params, feedback)
        self.layers["hotspots"] = result["OUTPUT"]
        self.zones = result["OUTPUT"]

    def stage_hotspot_zones(self, feedback):
        if "hotspots" not in self.layers or not algorithm_available("compositeindex:hotspotzones"):
            self.skip("hotspot_zones", "needs the hotspot stage", feedback)
            return
        h = self.recipe.get("hotspots", {})
        sums = [f"{i['name']}_{role}" for _, i in rcp.issues_of(self.recipe) for role in i["roles"]]
        params = {"INPUT": self.zones, "MIN_BIN": int(h.get("min_bin", 2)), "SUM_FIELDS": sums,
                  "OUTPUT": self.destination("hotspot_zones")}
        result = self.run_child("compositeindex:hotspotzones", params, feedback)
        self.layers["hotspot_zones"] = result["OUTPUT"]

    def admin_layer(self):
        ref = self.recipe["admin_areas"]
        return self.source_layer(ref["source"], "admin_areas.source", ref.get("filter"))

    def stage_summaries(self, feedback):
        if "admin_areas" not in self.recipe or "index" not in self.layers or \
                not algorithm_available("compositeindex:summariseareas"):
            self.skip("summaries", "needs admin_areas, the index and the summary algorithm", feedback)
            return
        params = {"ZONES": self.zones, "AREAS": self.admin_layer(),
                  "AREA_NAME_FIELD": self.recipe["admin_areas"].get("name_field", ""),
                  "OUTPUT": self.destination("area_summary"),
                  "TABLE": self.destination("area_summary_table")}
        if "hotspot_zones" in self.layers:
            params["HOTSPOTS"] = self.layers["hotspot_zones"]
        if "gap" in self.recipe:
            params["GAP"] = json.dumps(self.recipe["gap"])
        feedback.setProgressText("Summarising by area")
        result = self.run_child("compositeindex:summariseareas", params, feedback)
        self.layers["area_summary"] = result["OUTPUT"]
        self.layers["area_summary_table"] = result["TABLE"]

    def stage_compare(self, feedback):
        comp = self.recipe.get("compare")
        if not comp or "index" not in self.layers or \
                not algorithm_available("compositeindex:compareperiods"):
            self.skip("compare", "no earlier period named in the recipe", feedback)
            return
        periods = []
        for k, ref in enumerate(comp.get("previous", [])):
            layer = self.source_layer(ref, f"compare.previous[{k}]")
            if isinstance(layer, rcp.Problem):
                raise QgsProcessingException(str(layer))
            periods.append(layer)
        periods.append(QgsVectorLayer(self.zones, "this period", "ogr"))
        params = {"PERIODS": periods, "ID_FIELD": comp.get("id_field", "cell_id"),
                  "LABELS": ",".join(str(x) for x in comp.get("labels", [])),
                  "OUTPUT": self.destination("period_change"),
                  "GAPS": self.destination("period_gaps")}
        if "admin_areas" in self.recipe:
            params["AREAS"] = self.admin_layer()
            params["AREA_NAME_FIELD"] = self.recipe["admin_areas"].get("name_field", "")
        if "gap" in self.recipe:
            params["GAP"] = json.dumps(self.recipe["gap"])
        feedback.setProgressText("Comparing periods")
        result = self.run_child("compositeindex:compareperiods", params, feedback)
        self.layers["period_change"] = result["OUTPUT"]
        self.layers["period_gaps"] = result["GAPS"]

    def stage_sensitivity(self, feedback):
        sens = self.recipe.get("sensitivity")
        if not sens or "aggregated" not in self.layers or \
                not algorithm_available("compositeindex:sensitivity"):
            self.skip("sensitivity", "no sensitivity section in the recipe", feedback)
            return
        params = {"INPUT": self.layers["index"], "SPEC": json.dumps(rcp.index_spec(self.recipe)),
                  "RUNS": int(sens.get("runs", 200)), "SEED": int(sens.get("seed", 1)),
                  "CONCENTRATION": float(sens.get("concentration", 50)),
                  "SCALINGS": list(sens.get("scalings", [])),
                  "GRID_JITTER": bool(sens.get("grid_jitter", False)),
                  "OUTPUT": self.destination("sensitivity")}
        if "admin_areas" in self.recipe:
            params["AREAS"] = self.admin_layer()
            params["AREA_NAME_FIELD"] = self.recipe["admin_areas"].get("name_field", "")
            params["AREA_OUTPUT"] = self.destination("sensitivity_areas")
        feedback.setProgressText("Uncertainty and sensitivity")
        result = self.run_child("compositeindex:sensitivity", params, feedback)
        self.layers["sensitivity"] = result["OUTPUT"]
        if result.get("AREA_OUTPUT"):
            self.layers["sensitivity_areas"] = result["AREA_OUTPUT"]

    def stage_project(self, feedback):
        from composite_index_plugin.processing import project_writer

        feedback.setProgressText("Writing the project")
        project_writer.write_project(self.project_path, self.layers, self.recipe, feedback,
                                     self.admin_layer() if "admin_areas" in self.recipe else None)

    def stage_map(self, feedback):
        from composite_index_plugin.processing import project_writer

        feedback.setProgressText("Rendering the main map")
        note = project_writer.ATTRIBUTION
        if "synthetic" in json.dumps(self.recipe).lower():
            note = "Synthetic incident data (not real crime records). " + note
        project_writer.render_main_map(self.map_png, self.layers, feedback,
                                       self.admin_layer() if "admin_areas" in self.recipe else None,
                                       title=self.recipe.get("name", "Composite Index"), note=note)

    def stage_layout(self, feedback):
        if "area_summary" not in self.layers or \
                not algorithm_available("compositeindex:exportassessment"):
            self.skip("layout", "needs the area summaries and the layout algorithm", feedback)
            return
        params = {"ZONES": self.layers.get("hotspots", self.layers.get("index")),
                  "AREAS": self.layers["area_summary"], "AREA_NAME_FIELD": "area_name",
                  "TITLE": self.recipe.get("name", "Strategic assessment"),
                  "RECIPE": self.recipe_path,
                  "PDF": os.path.join(self.folder, "assessment.pdf"),
                  "PROJECT": self.project_path}
        if "hotspot_zones" in self.layers:
            params["HOTSPOT_ZONES"] = self.layers["hotspot_zones"]
        if "period_gaps" in self.layers:
            params["PERIOD_GAPS"] = self.layers["period_gaps"]
            params["PERIOD_CHANGE"] = self.layers["period_change"]
        layout = self.recipe.get("layout", {})
        if layout.get("png_pages"):
            params["PNG_FOLDER"] = os.path.join(self.folder, "pages")
        feedback.setProgressText("Exporting the assessment layout")
        self.run_child("compositeindex:exportassessment", params, feedback)

