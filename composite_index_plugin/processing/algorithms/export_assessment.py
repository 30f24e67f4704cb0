"""Export assessment layout: a multi-page PDF (city overview + one atlas page per area)."""
import datetime
import json
import os
import uuid

import numpy as np
import pandas as pd
from qgis.core import (
    QgsCoordinateTransformContext,
    QgsFeature,
    QgsFeatureRequest,
    QgsField,
    QgsLayoutItem,
    QgsLayoutItemMap,
    QgsMapLayerLegendUtils,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
    QgsProcessingUtils,
    QgsProject,
    QgsRectangle,
    QgsSpatialIndex,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import Qt, QVariant

from composite_index_plugin.core.method_note import method_note
from composite_index_plugin.core.report_pages import build_pages, decimals_for, fmt
from composite_index_plugin.core.svg_chart import bar_chart_svg
from composite_index_plugin.processing import assessment_layout as al
from composite_index_plugin.processing import styling
from composite_index_plugin.processing.base import CompositeIndexAlgorithm
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.io_table import layer_dataframe

ATTRIBUTION = ("Contains OS data \u00a9 Crown copyright and database right {year}. Contains public "
               "sector information licensed under the Open Government Licence v3.0.")
LAYOUT_GROUP = "Assessment layout data"
OVERVIEW_ROWS = 11   # rows of the overview table that fit its frame (one line each)
TABLE_COLS = {"rank": 7.0, "area": 23.0, "score": 10.0, "theme": 28.5, "gap": 14.0}   # mm, overview
MAX_NAMED_AREAS = 15   # beyond this the overview map labels areas by rank only
SYNTHETIC = " Synthetic incident data (the plugin's sample), not real crime records."


def first_text_field(layer):
    for field in layer.fields():
        if field.type() == QVariant.String:
            return field.name()
    return None


def labels_from(doc):
    """{name: label} of themes and issues in a recipe/spec dict."""
    out = {}
    for theme in doc.get("themes", []) if isinstance(doc, dict) else []:
        if not isinstance(theme, dict):
            continue
        if theme.get("name") and theme.get("label"):
            out[theme["name"]] = theme["label"]
        for issue in theme.get("issues", []) if isinstance(theme.get("issues"), list) else []:
            if isinstance(issue, dict) and issue.get("name") and issue.get("label"):
                out[issue["name"]] = issue["label"]
    return out


def uses_sample(texts):
    """True when any source path / recipe text points at the bundled synthetic sample."""
    for text in texts:
        t = str(text or "").replace("\\", "/").lower()
        if "resources/sample" in t or "synthetic" in t or "synth_" in t:
            return True
    return False


def short_name(name, limit=24):
    """Names for tables, charts and map labels: cut at a word boundary with an ellipsis."""
    name = " ".join(str(name).split())
    if len(name) <= limit:
        return name
    cut = name[: limit - 1].rsplit(" ", 1)[0] if " " in name[: limit - 1] else name[: limit - 1]
    return cut.rstrip(" ,;-") + "\u2026"


def wrap_label(text, width):
    """Break ``text`` into lines of at most ``width`` characters at spaces (legend labels)."""
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    lines.append(current)
    return "\n".join(lines)


def _write_layer(layer, path, name, overwrite_file):
    opts = QgsVectorFileWriter.SaveVectorOptions()
    opts.driverName = "GPKG"
    opts.layerName = name
    opts.actionOnExistingFile = (QgsVectorFileWriter.CreateOrOverwriteFile if overwrite_file
                                 else QgsVectorFileWriter.CreateOrOverwriteLayer)
    err = QgsVectorFileWriter.writeAsVectorFormatV2(layer, path, QgsCoordinateTransformContext(), opts)
    if err[0] != QgsVectorFileWriter.NoError:
        raise QgsProcessingException(f"Could not write the layout data {path}: {err[1]}")
    return f"{path}|layername={name}"


class ExportAssessmentAlgorithm(CompositeIndexAlgorithm):
    NAME = "exportassessment"
    DISPLAY_NAME = "Export assessment layout"
    GROUP = "Assessment"
    GROUP_ID = "assessment"
    HELP = (
        "Prints the assessment: a PDF with a city overview page and then one page per area "
        "(atlas), each with the index map (index and hotspot zones, the area outline and its "
        "neighbours), legend, scale bar, north arrow, a table of the area's top priorities (score, "
        "rank among the areas, gap to the whole study area), a chart of theme scores, the date, "
        "data attributions and a methodology note written from the recipe. Optionally a PNG per "
        "page, and the two layouts saved in a project (.qgz) for editing in the layout designer.\n"
        "AREAS is the summary layer of 'Summarise areas'. Without a name field the first text "
        "field is used. Areas without zones get a 'no data' page.")

    ZONES = "ZONES"
    HOTSPOT_ZONES = "HOTSPOT_ZONES"
    AREAS = "AREAS"
    AREA_NAME_FIELD = "AREA_NAME_FIELD"
    TITLE = "TITLE"
    METHOD_NOTE = "METHOD_NOTE"
    RECIPE = "RECIPE"
    PDF = "PDF"
    PNG_FOLDER = "PNG_FOLDER"
    PROJECT = "PROJECT"

    def flags(self):
        return super().flags() | QgsProcessingAlgorithm.FlagNoThreading

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.ZONES, self.tr("Index zones (output of Build index)"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.HOTSPOT_ZONES, self.tr("Hotspot zones"), [QgsProcessing.TypeVectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.AREAS, self.tr("Area summaries (output of Summarise areas)"),
            [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.AREA_NAME_FIELD, self.tr("Area name field (default: the first text field)"),
            parentLayerParameterName=self.AREAS, type=QgsProcessingParameterField.String, optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.TITLE, self.tr("Title"), defaultValue="Composite index assessment"))
        self.addParameter(QgsProcessingParameterString(
            self.METHOD_NOTE, self.tr("Methodology note (default: written from the recipe)"),
            multiLine=True, optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.RECIPE, self.tr("Recipe (to write the methodology note)"), extension="json", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.PDF, self.tr("Assessment PDF"), fileFilter="PDF files (*.pdf)"))
        self.addParameter(QgsProcessingParameterFolderDestination(
            self.PNG_FOLDER, self.tr("Folder for a PNG per page"), optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.PROJECT, self.tr("Save the layouts into a project"), fileFilter="QGIS project (*.qgz)",
            optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("PAGES", self.tr("Pages")))

    # ------------------------------------------------------------------ helpers
    def _recipe(self, path, feedback):
        if not path:
            return None, ""
        try:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
            return json.loads(text), text
        except (OSError, ValueError) as err:
            raise QgsProcessingException(
                f"The recipe {path} could not be read ({err}); fix it or leave RECIPE empty.") from err

    def _zone_stats(self, zones, areas_geoms, issues, themes, feedback):
        """Per area: n zones and mean issue index; city means. Zones fall in the area that holds
        their point on surface."""
        names = zones.fields().names()
        wanted = [c for c in dict.fromkeys(["ci_score", "population"] + [f"{i}_idx" for i in issues]
                                           + [f"{t}_idx" for t in themes]) if c in names]
        idx = [zones.fields().indexOf(c) for c in wanted]
        index = QgsSpatialIndex()
        for k, geom in enumerate(areas_geoms):
            if geom is not None and not geom.isEmpty():
                f = QgsFeature(k)
                f.setGeometry(geom)
                index.addFeature(f)
        req = QgsFeatureRequest().setSubsetOfAttributes(idx)
        owner, rows = [], []
        total = max(zones.featureCount(), 1)
        for n, f in enumerate(zones.getFeatures(req)):
            if n % 2000 == 0:
                if feedback.isCanceled():
                    raise QgsProcessingException("Cancelled.")
                feedback.setProgress(5 + 20 * n / total)
            attrs = f.attributes()
            rows.append([attrs[i] for i in idx])
            g = f.geometry()
            hit = -1
            if g is not None and not g.isEmpty():
                p = g.pointOnSurface()
                for cand in index.intersects(p.boundingBox()):
                    if areas_geoms[cand].contains(p):
                        hit = cand
                        break
            owner.append(hit)
        df = pd.DataFrame(rows, columns=wanted).apply(pd.to_numeric, errors="coerce")
        owner = np.asarray(owner)
        outside = int((owner < 0).sum())
        n_zones = np.bincount(owner[owner >= 0], minlength=len(areas_geoms))
        issue_means = pd.DataFrame(index=range(len(areas_geoms)))
        for i in issues:
            col = f"{i}_idx"
            if col in df:
                means = df[col].groupby(owner).mean()
                issue_means[i] = [means.get(k, np.nan) for k in range(len(areas_geoms))]
        city = {"themes": {t: float(df[f"{t}_idx"].mean()) for t in themes if f"{t}_idx" in df},
                "issues": {i: float(df[f"{i}_idx"].mean()) for i in issues if f"{i}_idx" in df}}
        if "ci_score" in df:
            s = df["ci_score"]
            if "population" in df and df["population"].fillna(0).sum() > 0:
                ok = s.notna() & df["population"].notna()
                city["score"] = float(np.average(s[ok], weights=df["population"][ok]))
            else:
                city["score"] = float(s.mean())
        return n_zones, issue_means, city, outside

    # ------------------------------------------------------------------ main
    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
    def processAlgorithm(self, parameters, context, feedback):
        zones_in = self.parameterAsVectorLayer(parameters, self.ZONES, context)
        if zones_in is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.ZONES))
        areas_in = self.parameterAsVectorLayer(parameters, self.AREAS, context)
        if areas_in is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.AREAS))
        hot_in = self.parameterAsVectorLayer(parameters, self.HOTSPOT_ZONES, context)
        name_field = self.parameterAsString(parameters, self.AREA_NAME_FIELD, context)
        title = self.parameterAsString(parameters, self.TITLE, context).strip() \
            or "Composite index assessment"
        note = self.parameterAsString(parameters, self.METHOD_NOTE, context).strip()
        recipe_path = self.parameterAsFile(parameters, self.RECIPE, context)
        pdf_path = self.parameterAsFileOutput(parameters, self.PDF, context)
        png_folder = self.parameterAsString(parameters, self.PNG_FOLDER, context)
        if png_folder:
            png_folder = self.parameterAsFileOutput(parameters, self.PNG_FOLDER, context)
        project_path = self.parameterAsFileOutput(parameters, self.PROJECT, context) \
            if self.parameterAsString(parameters, self.PROJECT, context) else ""

        if not name_field:
            name_field = first_text_field(areas_in)
            if name_field is None:
                raise QgsProcessingException(
                    f"The area layer '{areas_in.name()}' has no text field to name the pages; add one "
                    "(e.g. area_name) or choose AREA_NAME_FIELD.")
            feedback.pushInfo(f"No area name field chosen: using '{name_field}', the first text field of "
                              f"'{areas_in.name()}'.")
        if "ci_decile" not in zones_in.fields().names() and "ci_score" not in zones_in.fields().names():
            raise QgsProcessingException(
                f"The zone layer '{zones_in.name()}' has neither ci_decile nor ci_score; give the output "
                "of 'Build index' as ZONES.")

        recipe, recipe_text = self._recipe(recipe_path, feedback)
        labels = labels_from(recipe) if recipe else {}
        if not note:
            if recipe:
                note = method_note(recipe, max_chars=900)
            else:
                note = "Not recorded: give the recipe (RECIPE) or a note (METHOD_NOTE) to print the method."
                feedback.pushWarning("No recipe and no methodology note given: the method note says so.")
        synthetic = uses_sample([recipe_text, zones_in.source(), areas_in.source(),
                                 hot_in.source() if hot_in else ""])
        attribution = ATTRIBUTION.format(year=datetime.date.today().year) + (SYNTHETIC if synthetic else "")

        # summary table and geometry of the areas
        summary = layer_dataframe(areas_in)
        geoms = [f.geometry() for f in areas_in.getFeatures()]
        if areas_in.crs() != zones_in.crs():
            raise QgsProcessingException(
                f"The area layer '{areas_in.name()}' ({areas_in.crs().authid()}) and the zone layer "
                f"'{zones_in.name()}' ({zones_in.crs().authid()}) use different CRS; reproject the areas.")
        if summary.empty:
            raise QgsProcessingException(f"The area layer '{areas_in.name()}' has no features.")
        summary[name_field] = summary[name_field].fillna("(unnamed)").astype(str)
        themes = [c[:-5] for c in summary.columns if c.endswith("_mean") and c != "mean_score"]
        issues = sorted({str(v) for k in (1, 2, 3) if f"top_issue_{k}" in summary
                         for v in summary[f"top_issue_{k}"].dropna()})
        feedback.pushInfo(f"{len(summary)} area(s), themes: {', '.join(themes) or 'none found'}.")
        n_zones, issue_means, city, outside = self._zone_stats(zones_in, geoms, issues, themes, feedback)
        if outside:
            feedback.pushInfo(f"{outside} zone(s) fall in no area (shown on the maps, not in any area's "
                              "figures).")
        if "n_zones" not in summary:
            summary["n_zones"] = n_zones
        for t in themes:
            if f"{t}_idx" not in zones_in.fields().names():
                city["themes"].pop(t, None)
        missing_issue = [i for i in issues if i not in issue_means]
        if missing_issue:
            feedback.pushWarning(f"No <issue>_idx field for {', '.join(missing_issue)} in the zones: their "
                                 "scores show '-'.")
        pages, priorities, city = build_pages(summary, name_field, issue_means, city, labels)
        feedback.pushInfo(f"{int(pages['no_data'].sum())} area(s) without zones get a 'no data' page.")

        # working folder: beside the project when saved, else temporary
        if project_path:
            folder = os.path.splitext(project_path)[0] + "_files"
        else:
            folder = os.path.join(QgsProcessingUtils.tempFolder(), f"assessment_{uuid.uuid4().hex[:8]}")
        os.makedirs(folder, exist_ok=True)
        if png_folder:
            os.makedirs(png_folder, exist_ok=True)

        family = al.available_font()
        if family != al.TEMPLATE_FONT:
            feedback.pushWarning(f"Font {al.TEMPLATE_FONT} is not installed; using {family}.")

        # charts
        chart_paths = []
        for _, page in pages.iterrows():
            items = [(lab, val) for lab, val, _ in page["chart"]]
            refs = [c for _, _, c in page["chart"]]
            svg = bar_chart_svg(items, "Theme scores in this area (mean of its zones)",
                                reference=refs if any(np.isfinite(refs)) else None,
                                reference_label="whole study area", width=al.RIGHT_W, height=46.0,
                                empty_text="No data")
            path = os.path.join(folder, f"chart_{int(page['page_id']):03d}.svg")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(svg)
            chart_paths.append(path)
        ranked = pages[pages["no_data"] == 0].sort_values("area_rank")
        bars = [(short_name(n, 22), float(s.replace("\u2212", "-").replace(",", ""))) for n, s in
                zip(ranked["area_name"], ranked["score_text"])]
        dec = decimals_for([v for _, v in bars] + [city.get("score", float("nan"))])
        city_text = fmt(city.get("score", float("nan")), dec)
        city["text"] = city_text
        n_bars = OVERVIEW_ROWS
        overview_svg = bar_chart_svg(
            bars[:n_bars], "Mean index score by area" + (f" (top {n_bars})" if len(bars) > n_bars else ""),
            width=al.RIGHT_W, height=46.0, decimals=dec,
            note=f"whole study area: {city_text}" if city_text != "-" else "")
        overview_chart = os.path.join(folder, "chart_overview.svg")
        with open(overview_chart, "w", encoding="utf-8") as handle:
            handle.write(overview_svg)

        # pages layer (atlas coverage) and priorities table, in a GeoPackage
        title_width = al.TITLE_RECT[2]
        pl = QgsVectorLayer(f"MultiPolygon?crs={areas_in.crs().authid()}", "pages", "memory")
        if not areas_in.crs().authid():
            pl.setCrs(areas_in.crs())
        pfields = [QgsField("page_id", QVariant.Int), QgsField("area_name", QVariant.String),
                   QgsField("page_title", QVariant.String), QgsField("page_facts", QVariant.String),
                   QgsField("chart_svg", QVariant.String), QgsField("no_data", QVariant.Int),
                   QgsField("area_rank", QVariant.Int), QgsField("rank_text", QVariant.String),
                   QgsField("score_text", QVariant.String), QgsField("gap_text", QVariant.String),
                   QgsField("top_theme_label", QVariant.String), QgsField("sort_key", QVariant.Int),
                   QgsField("short_name", QVariant.String), QgsField("short_theme", QVariant.String),
                   QgsField("table_name", QVariant.String)]
        pl.dataProvider().addAttributes(pfields)
        pl.updateFields()
        feats = []
        order = pages.assign(_k=np.where(pages["no_data"] == 1, 10 ** 6, pages["area_rank"])) \
            .sort_values(["_k", "area_name"])
        for sort_key, (i, page) in enumerate(order.iterrows()):
            f = QgsFeature(pl.fields())
            f.setGeometry(geoms[int(page["src_row"])])
            f.setAttributes([int(page["page_id"]), page["area_name"],
                             al.wrap_text(page["area_name"], family, al.TITLE_PT, title_width, 2),
                             page["facts"], chart_paths[i], int(page["no_data"]), int(page["area_rank"]),
                             page["rank_text"], page["score_text"], page["gap_text"],
                             page["top_theme_label"], sort_key, short_name(page["area_name"]),
                             al.fit_text(page["top_theme_label"], family, 7.0, TABLE_COLS["theme"]),
                             al.fit_text(page["area_name"], family, 7.0, TABLE_COLS["area"])])
            feats.append(f)
        pl.dataProvider().addFeatures(feats)
        tl = QgsVectorLayer("None", "priorities", "memory")
        tl.dataProvider().addAttributes([QgsField("page_id", QVariant.Int),
                                         QgsField("row_order", QVariant.Int),
                                         QgsField("priority", QVariant.String),
                                         QgsField("score", QVariant.String),
                                         QgsField("rank", QVariant.String), QgsField("gap", QVariant.String)])
        tl.updateFields()
        tfeats = []
        for _, row in priorities.sort_values(["page_id", "row_order"]).iterrows():
            f = QgsFeature(tl.fields())
            f.setAttributes([int(row["page_id"]), int(row["row_order"]), row["priority"], row["score"],
                             row["rank"], row["gap"]])
            tfeats.append(f)
        tl.dataProvider().addFeatures(tfeats)
        gpkg = os.path.join(folder, "assessment_pages.gpkg")
        pages_uri = _write_layer(pl, gpkg, "pages", True)
        table_uri = _write_layer(tl, gpkg, "priorities", False)
        feedback.setProgress(30)

        project = QgsProject()
        if project_path and os.path.exists(project_path):
            # add the layouts to the existing project (e.g. the recipe runner's), keeping its layers
            if project.read(project_path):
                feedback.pushInfo(f"Adding the layouts to the existing project {project_path}.")
            else:
                feedback.pushWarning(f"Could not read the existing project {project_path} "
                                     f"({project.error()}); it will be replaced.")
                project.clear()
        try:
            n_pages = self._layouts_and_render(
                project, zones_in, hot_in, pages_uri, table_uri, title, note, attribution, family,
                overview_chart, pages, city, pdf_path, png_folder, project_path, feedback)
        finally:
            project.clear()
        results = {self.PDF: pdf_path, "PAGES": n_pages}
        if png_folder:
            results[self.PNG_FOLDER] = png_folder
        if project_path:
            results[self.PROJECT] = project_path
        return results

    def _layouts_and_render(self, project, zones_in, hot_in, pages_uri, table_uri, title, note,
                            attribution, family, overview_chart, pages, city, pdf_path, png_folder,
                            project_path, feedback):
        if not project.crs().isValid():
            project.setCrs(zones_in.crs())
        if project_path:
            project.setFileName(project_path)

        def copy(layer, name):
            if layer.providerType() == "memory":
                feedback.pushWarning(f"'{layer.name()}' is a temporary layer: the saved project will not "
                                     "keep it; save it to a file first to edit the layout later.")
                clone = layer.materialize(QgsFeatureRequest())
                clone.setName(name)
                return clone
            return QgsVectorLayer(layer.source(), name, layer.providerType())

        zones = copy(zones_in, "Index decile")
        if "ci_decile" in zones.fields().names():
            styled = os.path.exists(styling.style_path("index_deciles")) and \
                styling.apply_style(zones, "index_deciles", feedback=None) and \
                zones.renderer() is not None and \
                getattr(zones.renderer(), "classAttribute", lambda: "ci_decile")() in zones.fields().names()
            if not styled:
                zones.setRenderer(styling.decile_renderer("ci_decile"))
            zones.setName("Index decile")
        else:
            styling.apply_style(zones, "index_score", feedback=feedback)
            zones.setName("Index score")
        layers = [zones]
        hot = None
        if hot_in is not None:
            hot = copy(hot_in, "Hotspot zones")
            if not (os.path.exists(styling.style_path("hotspot_zones"))
                    and styling.apply_style(hot, "hotspot_zones")):
                hot.setRenderer(styling.hotspot_outline_renderer())
            layers.append(hot)
        overview_outline = QgsVectorLayer(pages_uri, "Areas", "ogr")
        overview_outline.setRenderer(styling.outline_renderer("#000000", 0.6))
        if len(pages) <= MAX_NAMED_AREAS:
            overview_outline.setLabeling(al.area_labels(
                "CASE WHEN \"area_rank\" > 0 THEN \"area_rank\" || '. ' || \"short_name\" "
                "ELSE \"short_name\" END",
                family, size=7.5, wrap=14))
        else:   # too many names for one map: the rank only, and the engine drops clashing labels
            overview_outline.setLabeling(al.area_labels(
                "CASE WHEN \"area_rank\" > 0 THEN to_string(\"area_rank\") ELSE '' END",
                family, size=6.5, wrap=0, display_all=False))
        overview_outline.setLabelsEnabled(True)
        current = "$id = @atlas_featureid"
        area_outline = QgsVectorLayer(pages_uri, "Areas ", "ogr")
        area_outline.setRenderer(al.area_outline_renderer(current))
        area_outline.setLabeling(al.area_labels(f"CASE WHEN {current} THEN NULL ELSE \"short_name\" END",
                                                family, size=7.0, colour="#333333", wrap=14, italic=True))
        area_outline.setLabelsEnabled(True)
        mask = QgsVectorLayer(pages_uri, "Outside this area", "ogr")
        mask.setRenderer(al.mask_renderer(current))
        table = QgsVectorLayer(table_uri, "Assessment priorities", "ogr")
        # the layout's own layers sit in one group, switched off, so they do not clutter the map;
        # a previous export's group and layouts of the same names are replaced
        root = project.layerTreeRoot()
        old_group = root.findGroup(LAYOUT_GROUP)
        if old_group is not None:
            project.removeMapLayers([lyr.layerId() for lyr in old_group.findLayers()])
            root.removeChildNode(old_group)
        group = root.insertGroup(0, LAYOUT_GROUP)
        for layer in layers + [overview_outline, area_outline, mask, table]:
            if not layer.isValid():
                raise QgsProcessingException(f"Could not open the layout layer {layer.name()}.")
            project.addMapLayer(layer, False)
            group.addLayer(layer)
        group.setItemVisibilityChecked(False)
        group.setExpanded(False)
        pages_layer = overview_outline

        variables = {"assessment_title": al.wrap_text(title, family, al.TITLE_PT, al.TITLE_RECT[2], 2),
                     "assessment_method": "Method. " + note.rstrip() + " Tables: ranks are among the "
                     f"{int((pages['no_data'] == 0).sum())} areas with zones; 'gap vs all' is the area's "
                     "value minus that of the whole study area.",
                     "assessment_attribution": attribution,
                     "assessment_date": datetime.date.today().strftime("%d %B %Y").lstrip("0"),
                     "assessment_chart": overview_chart}
        n_areas = int((pages["no_data"] == 0).sum())
        with_zones = f" ({n_areas} with index zones)" if n_areas < len(pages) else ""
        parts = [f"{len(pages)} areas{with_zones}, {zones_in.featureCount():,} zones"]
        if np.isfinite(city.get("score", float("nan"))):
            parts.append(f"mean score of the whole study area {city['text']}")
        parts.append("rank 1 = highest need")
        variables["assessment_facts"] = " \u00b7 ".join(parts) + "."

        overview = al.load_template(project, "overview", f"{title} - overview")
        area = al.load_template(project, "area", f"{title} - areas")
        for layout in (overview, area):
            existing = project.layoutManager().layoutByName(layout.name())
            if existing is not None:
                project.layoutManager().removeLayout(existing)
            project.layoutManager().addLayout(layout)
            al.set_variables(layout, variables)
            if family != al.TEMPLATE_FONT:
                al.use_font(layout, family)

        # overview page
        om = al.item(overview, "map")
        om.setLayers([overview_outline] + list(reversed(layers)))
        om.setKeepLayerSet(True)
        ext = QgsRectangle(zones.extent())
        ext.combineExtentWith(overview_outline.extent())
        al.fit_extent(om, ext, 0.02)
        self._legend(al.item(overview, "legend"), layers + [overview_outline])
        ot = al.table_of(overview)
        ot.setVectorLayer(pages_layer)
        ot.setMaximumNumberOfFeatures(OVERVIEW_ROWS)
        if len(pages) > OVERVIEW_ROWS:
            al.item(overview, "table_title").setText(
                f"Areas ranked by need (top {OVERVIEW_ROWS} of {len(pages)})")
        al.set_columns(ot, [("Rank", "CASE WHEN \"area_rank\" > 0 THEN to_string(\"area_rank\") ELSE '-' END",
                             TABLE_COLS["rank"], Qt.AlignHCenter),
                            ("Area", "\"table_name\"", TABLE_COLS["area"], Qt.AlignLeft),
                            ("Score", "\"score_text\"", TABLE_COLS["score"], Qt.AlignRight),
                            ("Top theme", "\"short_theme\"", TABLE_COLS["theme"], Qt.AlignLeft),
                            ("Gap vs all", "\"gap_text\"", TABLE_COLS["gap"], Qt.AlignRight)])

        # area pages (atlas)
        am = al.item(area, "map")
        am.setLayers([area_outline, mask] + list(reversed(layers)))
        am.setKeepLayerSet(True)
        al.fit_extent(am, ext, 0.02)
        am.setAtlasDriven(True)
        am.setAtlasScalingMode(QgsLayoutItemMap.Auto)
        am.setAtlasMargin(0.18)
        self._legend(al.item(area, "legend"), layers + [area_outline])
        atlas = area.atlas()
        atlas.setCoverageLayer(area_outline)
        atlas.setEnabled(True)
        atlas.setHideCoverage(False)
        atlas.setPageNameExpression("\"area_name\"")
        atlas.setSortFeatures(True)
        atlas.setSortAscending(True)
        atlas.setSortExpression("\"area_name\"")
        at = al.table_of(area)
        at.setVectorLayer(table)
        at.setFilterFeatures(True)
        at.setFeatureFilter("\"page_id\" = attribute(@atlas_feature, 'page_id')")
        at.setMaximumNumberOfFeatures(12)
        al.set_columns(at, [("Priority", "\"priority\"", 36.0, Qt.AlignLeft),
                            ("Score", "\"score\"", 11.0, Qt.AlignRight),
                            ("Rank", "\"rank\"", 12.0, Qt.AlignRight),
                            ("Gap vs all", "\"gap\"", 14.0, Qt.AlignRight)])
        feedback.setProgress(40)

        def seek(i):
            def prepare():
                atlas.seekTo(i)
                area.refresh()
                for it in area.items():
                    if isinstance(it, QgsLayoutItem):
                        it.refreshDataDefinedProperty()
            return prepare

        if not atlas.beginRender():
            raise QgsProcessingException("The atlas over the areas could not start (no areas?).")
        try:
            count = atlas.count()
            sequence = [(overview, overview.refresh)] + [(area, seek(i)) for i in range(count)]
            al.render_pages(sequence, pdf_path, png_folder or None, feedback=feedback)
        finally:
            atlas.endRender()
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled.")
        feedback.pushInfo(f"Wrote {pdf_path}: {1 + count} pages (overview + {count} areas).")
        if project_path:
            if not project.write(project_path):
                raise QgsProcessingException(f"Could not save the project {project_path}: {project.error()}")
            feedback.pushInfo(f"Saved the layouts '{overview.name()}' and '{area.name()}' in {project_path}.")
        return 1 + count

    @staticmethod
    def _legend(legend, layers, wrap_chars=26):
        """Legend of ``layers`` only; class labels longer than ``wrap_chars`` wrap onto two lines
        (user labels with a line break), so a style with long labels never overflows the column."""
        legend.setAutoUpdateModel(False)
        model = legend.model()
        root = model.rootGroup()
        root.removeAllChildren()
        for layer in layers:
            node = root.addLayer(layer)
            nodes = model.layerLegendNodes(node)
            for k, legend_node in enumerate(nodes):
                text = str(legend_node.data(Qt.DisplayRole) or "")
                if len(text) > wrap_chars:
                    QgsMapLayerLegendUtils.setLegendNodeUserLabel(node, k, wrap_label(text, wrap_chars))
            model.refreshLayerLegend(node)
        legend.setTitle("")
        legend.updateLegend()


ALGORITHMS = [ExportAssessmentAlgorithm]
