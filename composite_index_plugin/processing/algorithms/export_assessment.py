"""Export assessment layout: a multi-page PDF (city overview + one atlas page per area)."""
import datetime
import json
import os
import shutil
import uuid

import numpy as np
import pandas as pd
from qgis.core import (
    QgsCoordinateTransformContext,
    QgsFeature,
    QgsFeatureRequest,
    QgsLayoutItem,
    QgsLayoutItemMap,
    QgsMapLayerLegendUtils,
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
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, Qt

from composite_index_plugin.core import periods as cp
from composite_index_plugin.core.assessment import detect_themes_issues
from composite_index_plugin.core.method_note import method_note
from composite_index_plugin.core.report_pages import (
    area_change_rows,
    build_pages,
    count_columns,
    count_rows,
    decimals_for,
    diverging_classes,
    fmt,
    gap_over_time,
    theme_names,
    zone_change_counts,
)
from composite_index_plugin.core.svg_chart import bar_chart_svg, column_chart_svg
from composite_index_plugin.processing import assessment_layout as al
from composite_index_plugin.processing import project_writer, styling
from composite_index_plugin.processing.base import CompositeIndexAlgorithm
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.io_table import layer_dataframe, python_value
from composite_index_plugin.qgis_compat import (
    ProcessingAlgorithmFlag,
    ProcessingFieldParameterDataType,
    ProcessingSourceType,
    field_type,
    make_field,
)

LAYOUT_GROUP = "Assessment layout data"
OVERVIEW_ROWS = 11   # rows of the overview table that fit its frame (one line each)
# mm, overview table: with the cell margins (0.8 mm each side) they fill the right column (91 mm).
# The top theme has the room of a whole theme name ("Anti-social behaviour and disorder" is 43.5
# mm in 7 pt DejaVu Sans); the difference from the whole area is on each area's page and in the
# chart below the table (a tick on each bar at the whole study area's score), not in this table.
TABLE_COLS = {"rank": 6.0, "area": 23.0, "score": 9.5, "theme": 45.0}
DIFF_HEADING = "Difference from whole area"
COUNT_HEADINGS = {"victims": "Victims", "offenders": "Offenders", "locations": "Locations"}
MAX_NAMED_AREAS = 15   # beyond this the overview map labels areas by rank only
# The layouts' own layers have names of their own in the project (the layouts find them by id)
# and say in their legends what they show: the area outlines of each page's map are "Areas".
OUTLINE_NAMES = {"overview": "Areas (overview map)", "area": "Areas (area pages)",
                 "change": "Areas (gap over time map)"}
OUTLINE_LEGEND = "Areas"
LAYOUT_SUFFIX = " (layouts)"      # a layout's copy of a result layer: "Hotspot zones (layouts)"
LEGEND_LABEL = "composite_index/legend_label"   # layer property: its label in the legends


def first_text_field(layer):
    for field in layer.fields():
        if field.type() == field_type("string"):
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
    """Names for tables, charts and map labels: cut at a word boundary with an ellipsis (a
    first word longer than ``limit`` is kept whole: never cut inside a word)."""
    name = " ".join(str(name).split())
    if len(name) <= limit:
        return name
    words = name.split(" ")
    while len(words) > 1 and len(" ".join(words)) + 1 > limit:
        words.pop()
    return " ".join(words).rstrip(" ,;-") + "\u2026"


def change_columns(width, label_widths):
    """Widths in mm (Measure, each period, Change) of an area page's change table with ``width``
    mm of content and period labels needing ``label_widths`` mm: the period columns as wide as
    their labels ('2016-07', '2018/19'), at least 8 mm, and never so wide that Measure gets less
    than 12 mm (a longer label wraps); Change 14 mm. The four add up to ``width``."""
    change_w = 14.0
    period_w = min(max(list(label_widths) + [8.0]) + 0.3, (width - change_w - 12.0) / 2)
    return width - 2 * period_w - change_w, period_w, change_w


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


def project_relative(project_path):
    """A function naming a file for the layouts: relative to the project's folder with '/'
    (the picture expressions of ``assessment_layout.file_expression`` resolve it) when a
    project is saved, else absolute."""
    if not project_path:
        return os.path.abspath
    home = os.path.dirname(os.path.abspath(project_path))
    return lambda path: os.path.relpath(os.path.abspath(path), home).replace(os.sep, "/")


def _write_layer(layer, path, name, overwrite_file):
    opts = QgsVectorFileWriter.SaveVectorOptions()
    opts.driverName = "GPKG"
    opts.layerName = name
    action = QgsVectorFileWriter.ActionOnExistingFile
    opts.actionOnExistingFile = (action.CreateOrOverwriteFile if overwrite_file
                                 else action.CreateOrOverwriteLayer)
    err = QgsVectorFileWriter.writeAsVectorFormatV3(layer, path, QgsCoordinateTransformContext(), opts)
    if err[0] != QgsVectorFileWriter.WriterError.NoError:
        raise QgsProcessingException(f"Could not write the layout data {path}: {err[1]}")
    return f"{path}|layername={name}"


class ExportAssessmentAlgorithm(CompositeIndexAlgorithm):
    NAME = "exportassessment"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Export assessment layout")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Assessment")
    GROUP_ID = "assessment"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
        "Prints the assessment: a PDF with a city overview page, a page on the gap over time when "
        "periods were compared, and then one page per area (atlas), each with the index map "
        "(index and hotspot zones, the area outline and its neighbours), legend, scale bar, north "
        "arrow, a table of the area's top priorities (score, rank among the areas, difference "
        "from the whole area; themes and issues sorted by need), a chart of theme scores, the "
        "incidents recorded in the area by issue and role, its change since the first period, "
        "the date, data attributions and a methodology note written from the recipe. Every "
        "difference from the whole area compares like with like: the area's value and the whole "
        "area's are both population-weighted (or both not, when the summary is not). Optionally "
        "a PNG per page, and the layouts saved in a project (.qgz) for editing in the layout "
        "designer.\n"
        "AREAS is the summary layer of 'Summarise by area'. PERIOD_CHANGE and PERIOD_GAPS are the "
        "outputs of 'Compare periods': with them the PDF gains the gap-over-time page (the gap "
        "per period as a table and chart, the change map with classes centred on 0, and the "
        "Mann-Kendall trends only where they can be significant, else why not) and each area "
        "page its change. Without a name field the first text field is used. Areas without zones "
        "get a 'no data' page."))

    ZONES = "ZONES"
    HOTSPOT_ZONES = "HOTSPOT_ZONES"
    AREAS = "AREAS"
    AREA_NAME_FIELD = "AREA_NAME_FIELD"
    PERIOD_CHANGE = "PERIOD_CHANGE"
    PERIOD_GAPS = "PERIOD_GAPS"
    TITLE = "TITLE"
    METHOD_NOTE = "METHOD_NOTE"
    RECIPE = "RECIPE"
    PDF = "PDF"
    PNG_FOLDER = "PNG_FOLDER"
    PROJECT = "PROJECT"
    # The project is read, given its layouts and saved again, and names its working folder
    # (<project>_files) after itself: it is updated in place, not written aside and swapped in.
    OUTPUTS_IN_PLACE = (PROJECT,)

    def flags(self):
        return super().flags() | ProcessingAlgorithmFlag.NoThreading

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.ZONES, self.tr("Index zones (output of Build index)"), [ProcessingSourceType.VectorPolygon]))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.HOTSPOT_ZONES, self.tr("Hotspot zones"), [ProcessingSourceType.VectorPolygon],
            optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.AREAS, self.tr("Area summaries (output of Summarise areas)"),
            [ProcessingSourceType.VectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.AREA_NAME_FIELD, self.tr("Area name field (default: the first text field)"),
            parentLayerParameterName=self.AREAS, type=ProcessingFieldParameterDataType.String, optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.PERIOD_CHANGE, self.tr("Change per zone (output of Compare periods)"),
            [ProcessingSourceType.VectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.PERIOD_GAPS, self.tr("Gap per period (output of Compare periods)"),
            [ProcessingSourceType.Vector], optional=True))
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
        except (OSError, ValueError, RecursionError) as err:
            raise QgsProcessingException(
                f"The recipe {path} could not be read ({err}); fix it or leave RECIPE empty.") from err

    @staticmethod
    def _owned(layer, areas_geoms, wanted, feedback, progress=(5.0, 25.0)):
        """The attributes ``wanted`` of every feature of ``layer`` (numeric where they can be)
        and the area each falls in (the area holding its point on surface; -1 for none)."""
        names = layer.fields().names()
        wanted = [c for c in dict.fromkeys(wanted) if c in names]
        idx = [layer.fields().indexOf(c) for c in wanted]
        index = QgsSpatialIndex()
        for k, geom in enumerate(areas_geoms):
            if geom is not None and not geom.isEmpty():
                f = QgsFeature(k)
                f.setGeometry(geom)
                index.addFeature(f)
        req = QgsFeatureRequest().setSubsetOfAttributes(idx)
        owner, rows = [], []
        total = max(layer.featureCount(), 1)
        for n, f in enumerate(layer.getFeatures(req)):
            if n % 2000 == 0:
                if feedback.isCanceled():
                    raise QgsProcessingException("Cancelled.")
                feedback.setProgress(progress[0] + (progress[1] - progress[0]) * n / total)
            attrs = f.attributes()
            rows.append([python_value(attrs[i]) for i in idx])   # NULL -> None
            g = f.geometry()
            hit = -1
            if g is not None and not g.isEmpty():
                p = g.pointOnSurface()
                for cand in index.intersects(p.boundingBox()):
                    if areas_geoms[cand].contains(p):
                        hit = cand
                        break
            owner.append(hit)
        df = pd.DataFrame(rows, columns=wanted)
        for c in df.columns:
            values = pd.to_numeric(df[c], errors="coerce")
            if values.notna().sum() == df[c].notna().sum():
                df[c] = values
            else:
                df[c] = df[c].where(df[c].notna(), None)
        return df, np.asarray(owner, dtype="int64")

    def _zone_stats(self, zones, areas_geoms, issues, themes, counts, weighted, feedback):
        """Per area (the area holding each zone's point on surface): number of zones, issue means
        and incident counts; and the whole study area's score, theme and issue values. With
        ``weighted`` every mean is population-weighted (zones with a score and residents), as the
        summary's are, so an area's value and the whole area's compare like with like."""
        wanted = ["ci_score", "population"] + [f"{i}_idx" for i in issues] + \
            [f"{t}_idx" for t in themes] + counts
        df, owner = self._owned(zones, areas_geoms, wanted, feedback)
        n_areas = len(areas_geoms)
        outside = int((owner < 0).sum())
        n_zones = np.bincount(owner[owner >= 0], minlength=n_areas)
        scored = df["ci_score"].notna() if "ci_score" in df else pd.Series(True, index=df.index)
        if weighted and "population" in df:
            w = df["population"].where(scored & (df["population"] > 0), 0.0).fillna(0.0)
        else:
            w = scored.astype(float)

        def mean(col):
            v = df[col]
            ok = v.notna() & (w > 0)
            return float((v[ok] * w[ok]).sum() / w[ok].sum()) if w[ok].sum() > 0 else float("nan")

        def area_means(col):            # the weighted mean of every area at once
            v = df[col].to_numpy(dtype="float64")
            ok = np.isfinite(v) & (w.to_numpy() > 0) & (owner >= 0)
            wk = w.to_numpy()[ok]
            sums = np.bincount(owner[ok], weights=v[ok] * wk, minlength=n_areas)
            weights = np.bincount(owner[ok], weights=wk, minlength=n_areas)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(weights > 0, sums / np.where(weights > 0, weights, 1), np.nan)

        issue_means = pd.DataFrame(index=range(n_areas))
        for i in issues:
            col = f"{i}_idx"
            if col in df:
                issue_means[i] = area_means(col)
        count_sums = pd.DataFrame(index=range(n_areas))
        for c in counts:
            if c in df:
                count_sums[c] = np.bincount(owner[owner >= 0], weights=df[c].fillna(0.0)[owner >= 0],
                                            minlength=n_areas)
        city = {"themes": {t: mean(f"{t}_idx") for t in themes if f"{t}_idx" in df},
                "issues": {i: mean(f"{i}_idx") for i in issues if f"{i}_idx" in df},
                "weighted": bool(weighted and "population" in df)}
        if "ci_score" in df:
            city["score"] = mean("ci_score")
        return n_zones, issue_means, count_sums, city, outside

    # ------------------------------------------------------------------ the year-on-year story
    def _comparison(self, change_in, gaps_in, areas_geoms, pages, summary_rows, feedback):
        """The gap per period, the per-area change and the trend note, or None."""
        if gaps_in is None:
            if change_in is not None:
                feedback.pushWarning("PERIOD_CHANGE was given without PERIOD_GAPS (the gaps table "
                                     "of Compare periods): no gap-over-time page.")
            return None
        gaps = layer_dataframe(gaps_in)
        need = {"period", "period_index", "area_name", "gap_diff", "top_mean", "mean_score"}
        missing = sorted(need - set(gaps.columns))
        if missing:
            raise QgsProcessingException(
                f"The layer '{gaps_in.name()}' is not a gaps table of Compare periods: it lacks "
                f"{', '.join(missing)}.")
        story = gap_over_time(gaps)
        periods = story["periods"]
        story["definition"] = str(gaps["gap_definition"].dropna().iloc[0]) \
            if "gap_definition" in gaps and gaps["gap_definition"].notna().any() else ""
        zone_counts, comparable, change_field = None, True, None
        trend_counts = None
        if change_in is not None:
            names = change_in.fields().names()
            wanted = [cp.decile_field(periods, k) for k in (0, len(periods) - 1)] + \
                ["hotspot_transition", "score_change", "decile_change", "trend"]
            change, owner = self._owned(change_in, areas_geoms, wanted, feedback, (25.0, 28.0))
            per_area = zone_change_counts(change, owner, len(areas_geoms), periods)
            zone_counts = per_area.iloc[summary_rows].reset_index(drop=True)
            comparable = "score_change" in change and change["score_change"].notna().any()
            change_field = "score_change" if comparable else \
                ("decile_change" if "decile_change" in names else None)
            story["change_values"] = change[change_field].to_numpy(float) if change_field else None
            if "trend" in change:
                trend_counts = change["trend"].fillna("").astype(str).value_counts().to_dict()
        story["comparable"] = comparable
        story["change_field"] = change_field
        story["area_rows"] = area_change_rows(pages, gaps, zone_counts, comparable)
        story["trend_note"] = self._trend_note(len(periods), trend_counts)
        return story

    @staticmethod
    def _trend_note(n_periods, trend_counts):
        """What the Mann-Kendall trends say, only where they can be significant."""
        info = cp.trend_testability(n_periods)
        ok, note = info.testable, info.note
        if not ok:
            return "Trends over time (Mann-Kendall): " + note[:1].lower() + note[1:].rstrip(".") + "."
        counts = trend_counts or {}
        up, down = int(counts.get("increasing", 0)), int(counts.get("decreasing", 0))
        return (f"Trends over time (Mann-Kendall, {n_periods} periods, p < 0.05): {up:,} zones with "
                f"rising need, {down:,} with falling need.")

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
        change_in = self.parameterAsVectorLayer(parameters, self.PERIOD_CHANGE, context)
        gaps_in = self.parameterAsVectorLayer(parameters, self.PERIOD_GAPS, context)
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
        zone_names = zones_in.fields().names()
        if "ci_decile" not in zone_names and "ci_score" not in zone_names:
            raise QgsProcessingException(
                f"The zone layer '{zones_in.name()}' has neither ci_decile nor ci_score; give the output "
                "of 'Build index' as ZONES.")

        recipe, recipe_text = self._recipe(recipe_path, feedback)
        labels = labels_from(recipe) if recipe else {}
        if not note:
            if recipe:
                note = method_note(recipe, max_chars=760)
            else:
                note = "Not recorded: give the recipe (RECIPE) or a note (METHOD_NOTE) to print the method."
                feedback.pushWarning("No recipe and no methodology note given: the method note says so.")
        synthetic = uses_sample([recipe_text, zones_in.source(), areas_in.source(),
                                 hot_in.source() if hot_in else ""])
        attribution = project_writer.attribution(synthetic)

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
        zone_themes, zone_issues = detect_themes_issues(zone_names)
        themes = theme_names(summary.columns, list(zone_themes) if zone_themes else None)
        issues = sorted({str(v) for k in (1, 2, 3) if f"top_issue_{k}" in summary
                         for v in summary[f"top_issue_{k}"].dropna()})
        counts_spec = count_columns(zone_names, list(zone_issues))
        count_cols = [c for roles in counts_spec.values() for c in roles.values()]
        pop = pd.to_numeric(summary.get("population", pd.Series(dtype=float)), errors="coerce")
        weighted = bool((pop > 0).any())
        feedback.pushInfo(f"{len(summary)} area(s), themes: {', '.join(themes) or 'none found'}.")
        n_zones, zone_issue_means, zone_counts, city, outside = self._zone_stats(
            zones_in, geoms, issues, themes, [c for c in count_cols if c not in summary], weighted,
            feedback)
        if weighted and not city["weighted"]:
            feedback.pushWarning(f"The area summary is population-weighted but the zone layer "
                                 f"'{zones_in.name()}' has no population field: the whole study "
                                 "area's values are not, so differences mix the two.")
        if outside:
            feedback.pushInfo(f"{outside} zone(s) fall in no area (shown on the maps, not in any area's "
                              "figures).")
        if "n_zones" not in summary:
            summary["n_zones"] = n_zones
        for t in themes:
            if f"{t}_idx" not in zone_names:
                city["themes"].pop(t, None)
        # issue values: the summary's (weighted as its score) when it has them, else the zones'
        issue_means = pd.DataFrame(index=summary.index)
        from_zones = []
        for i in issues:
            if f"{i}_mean" in summary and i not in zone_themes:
                issue_means[i] = pd.to_numeric(summary[f"{i}_mean"], errors="coerce")
            elif i in zone_issue_means:
                issue_means[i] = zone_issue_means[i].to_numpy()
                from_zones.append(i)
        if from_zones:
            feedback.pushInfo(f"The area summary has no <issue>_mean for {', '.join(from_zones)}: "
                              "those values are the mean of the zones whose centre lies in the area.")
        missing_issue = [i for i in issues if i not in issue_means]
        if missing_issue:
            feedback.pushWarning(f"No <issue>_idx field for {', '.join(missing_issue)} in the zones: their "
                                 "scores show '-'.")
        city_weighted = city["weighted"]
        pages, priorities, city = build_pages(summary, name_field, issue_means, city, labels,
                                              themes=themes, inner_gap=gaps_in is None)
        city["weighted"] = city_weighted
        feedback.pushInfo(f"{int(pages['no_data'].sum())} area(s) without zones get a 'no data' page.")
        src_rows = pages["src_row"].to_numpy()
        counts = pd.DataFrame({c: pd.to_numeric(summary[c], errors="coerce").to_numpy()[src_rows]
                               if c in summary else zone_counts[c].to_numpy()[src_rows]
                               for c in count_cols})
        count_table, roles = count_rows(pages, counts, labels)
        story = self._comparison(change_in, gaps_in, geoms, pages, src_rows, feedback)

        # working folder: beside the project when saved, else temporary. Beside a project every
        # file the layouts read (charts, north arrow, layout data) is in <project>_files and
        # named relative to the project, so the folder can be copied or moved as a whole.
        if project_path:
            folder = os.path.splitext(project_path)[0] + "_files"
        else:
            folder = os.path.join(QgsProcessingUtils.tempFolder(), f"assessment_{uuid.uuid4().hex[:8]}")
        os.makedirs(folder, exist_ok=True)
        stored = project_relative(project_path)
        north_arrow = None
        if project_path:
            north_arrow = os.path.join(folder, al.NORTH_ARROW)
            shutil.copyfile(al.north_arrow_path(), north_arrow)
        if png_folder:
            os.makedirs(png_folder, exist_ok=True)

        family = al.available_font()
        if family != al.TEMPLATE_FONT:
            feedback.pushWarning(f"Font {al.TEMPLATE_FONT} is not installed; using {family}.")

        # charts
        reference = "whole study area (population-weighted)" if city.get("weighted") \
            else "whole study area"
        chart_paths = []
        for _, page in pages.iterrows():
            items = [(lab, val) for lab, val, _ in page["chart"]]
            refs = [c for _, _, c in page["chart"]]
            svg = bar_chart_svg(items, "Theme scores in this area (mean of its zones)",
                                reference=refs if any(np.isfinite(refs)) else None,
                                reference_label=reference, width=al.RIGHT_W, height=46.0,
                                empty_text="No data")
            path = os.path.join(folder, f"chart_{int(page['page_id']):03d}.svg")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(svg)
            chart_paths.append(stored(path))
        ranked = pages[pages["no_data"] == 0].sort_values("area_rank")
        bars = [(short_name(n, 22), float(s.replace("\u2212", "-").replace(",", ""))) for n, s in
                zip(ranked["area_name"], ranked["score_text"])]
        dec = decimals_for([v for _, v in bars] + [city.get("score", float("nan"))])
        city_text = fmt(city.get("score", float("nan")), dec)
        city["text"] = city_text
        n_bars = OVERVIEW_ROWS
        # each bar's tick: the whole study area's score (the table above has no difference
        # column: the ticks show it)
        shown = bars[:n_bars]
        overview_svg = bar_chart_svg(
            shown, "Mean index score by area" + (f" (top {n_bars})" if len(bars) > n_bars else ""),
            reference=[city.get("score", float("nan"))] * len(shown) if city_text != "-" else None,
            reference_label=f"whole study area ({city_text})",
            width=al.RIGHT_W, height=46.0, decimals=dec)
        overview_chart = os.path.join(folder, "chart_overview.svg")
        with open(overview_chart, "w", encoding="utf-8") as handle:
            handle.write(overview_svg)
        if story is not None:
            gap_chart = os.path.join(folder, "chart_gap.svg")
            story["chart_path"] = stored(gap_chart)
            with open(gap_chart, "w", encoding="utf-8") as handle:
                handle.write(column_chart_svg(story["chart"], "The gap: top group minus the rest"
                                              if "all other zones" in story["definition"] else
                                              "The gap: top group minus the whole area",
                                              width=al.RIGHT_W, height=46.0,
                                              decimals=story["decimals"]))

        # pages layer (atlas coverage) and the tables, in a GeoPackage
        title_width = al.TITLE_RECT[2]
        pl = QgsVectorLayer(f"MultiPolygon?crs={areas_in.crs().authid()}", "pages", "memory")
        if not areas_in.crs().authid():
            pl.setCrs(areas_in.crs())
        pfields = [make_field("page_id", "int"), make_field("area_name", "string"),
                   make_field("page_title", "string"), make_field("page_facts", "string"),
                   make_field("chart_svg", "string"), make_field("no_data", "int"),
                   make_field("area_rank", "int"), make_field("rank_text", "string"),
                   make_field("score_text", "string"), make_field("diff_text", "string"),
                   make_field("top_theme_label", "string"), make_field("sort_key", "int"),
                   make_field("short_name", "string"), make_field("short_theme", "string"),
                   make_field("table_name", "string")]
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
                             page["rank_text"], page["score_text"], page["diff_text"],
                             page["top_theme_label"], sort_key, short_name(page["area_name"]),
                             al.fit_text(page["top_theme_label"], family, 7.0, TABLE_COLS["theme"]),
                             al.fit_text(page["area_name"], family, 7.0, TABLE_COLS["area"])])
            feats.append(f)
        pl.dataProvider().addFeatures(feats)
        gpkg = os.path.join(folder, "assessment_pages.gpkg")
        pages_uri = _write_layer(pl, gpkg, "pages", True)
        table_uri = _write_layer(_table_layer("priorities", priorities), gpkg, "priorities", False)
        counts_uri = _write_layer(_table_layer("counts", count_table), gpkg, "area_counts", False)
        change_uri = gaps_uri = None
        if story is not None:
            change_uri = _write_layer(_table_layer("changes", story["area_rows"]), gpkg, "area_change",
                                      False)
            gaps_uri = _write_layer(_table_layer("gaps", pd.DataFrame(story["rows"])), gpkg,
                                    "gap_periods", False)
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
        data = {"pages": pages_uri, "priorities": table_uri, "counts": counts_uri, "roles": roles,
                "count_texts": {str(v) for r in roles for v in count_table[r]},
                "changes": change_uri, "gaps": gaps_uri, "change_layer": change_in, "story": story,
                "overview_chart": stored(overview_chart), "north_arrow": north_arrow}
        try:
            n_pages = self._layouts_and_render(
                project, zones_in, hot_in, data, title, note, attribution, family, pages, city,
                pdf_path, png_folder, project_path, feedback)
        finally:
            project.clear()
        results = {self.PDF: pdf_path, "PAGES": n_pages}
        if png_folder:
            results[self.PNG_FOLDER] = png_folder
        if project_path:
            results[self.PROJECT] = project_path
        return results

    def _layouts_and_render(self, project, zones_in, hot_in, data, title, note, attribution, family,
                            pages, city, pdf_path, png_folder, project_path, feedback):
        if not project.crs().isValid():
            project.setCrs(zones_in.crs())
        if project_path:
            project.setFileName(project_path)
        story = data["story"]

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
        for layer in layers:
            layer.setCustomProperty(LEGEND_LABEL, layer.name())
            layer.setName(layer.name() + LAYOUT_SUFFIX)
        pages_uri = data["pages"]
        # one name per layer (the layouts find them by id); their legends say "Areas"
        overview_outline = QgsVectorLayer(pages_uri, OUTLINE_NAMES["overview"], "ogr")
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
        area_outline = QgsVectorLayer(pages_uri, OUTLINE_NAMES["area"], "ogr")
        area_outline.setRenderer(al.area_outline_renderer(current))
        area_outline.setLabeling(al.area_labels(f"CASE WHEN {current} THEN NULL ELSE \"short_name\" END",
                                                family, size=7.0, colour="#333333", wrap=14, italic=True))
        area_outline.setLabelsEnabled(True)
        for outline in (overview_outline, area_outline):
            outline.setCustomProperty(LEGEND_LABEL, OUTLINE_LEGEND)
        mask = QgsVectorLayer(pages_uri, "Outside this area", "ogr")
        mask.setRenderer(al.mask_renderer(current))
        table = QgsVectorLayer(data["priorities"], "Assessment priorities", "ogr")
        counts = QgsVectorLayer(data["counts"], "Incidents per area", "ogr")
        extra = []
        change_map = change_outline = None
        if story is not None:
            extra.append(QgsVectorLayer(data["changes"], "Change per area", "ogr"))
            extra.append(QgsVectorLayer(data["gaps"], "Gap per period", "ogr"))
            if data["change_layer"] is not None and story.get("change_field"):
                change_map = copy(data["change_layer"], "Change in need")
                classes = diverging_classes(story["change_values"])
                change_map.setRenderer(al.change_renderer(classes, story["change_field"]))
                change_map.setName(CHANGE_LEGEND[story["change_field"]].format(
                    first=story["periods"][0], last=story["periods"][-1]))
                extra.append(change_map)
            change_outline = QgsVectorLayer(pages_uri, OUTLINE_NAMES["change"], "ogr")
            change_outline.setRenderer(styling.outline_renderer("#000000", 0.6))
            change_outline.setLabeling(overview_outline.labeling().clone())
            change_outline.setLabelsEnabled(True)
            change_outline.setCustomProperty(LEGEND_LABEL, OUTLINE_LEGEND)
            extra.append(change_outline)
        # the layout's own layers sit in one group, switched off, so they do not clutter the map;
        # a previous export's group and layouts of the same names are replaced
        root = project.layerTreeRoot()
        old_group = root.findGroup(LAYOUT_GROUP)
        if old_group is not None:
            project.removeMapLayers([lyr.layerId() for lyr in old_group.findLayers()])
            root.removeChildNode(old_group)
        group = root.addGroup(LAYOUT_GROUP)          # last in the layer tree, collapsed
        for layer in layers + [overview_outline, area_outline, mask, table, counts] + extra:
            if not layer.isValid():
                raise QgsProcessingException(f"Could not open the layout layer {layer.name()}.")
            project.addMapLayer(layer, False)
            group.addLayer(layer)
        group.setItemVisibilityChecked(False)
        group.setExpanded(False)
        pages_layer = overview_outline

        n_areas = int((pages["no_data"] == 0).sum())
        weighting = "both population-weighted" if city.get("weighted") else "both unweighted"
        method = ("Method. " + note.rstrip() + f" Tables: ranks are among the {n_areas} areas with "
                  "zones; an area's top theme is its highest mean theme score; the difference from "
                  "the whole area is the area's value minus that of the whole study area "
                  f"({weighting}).")
        variables = {"assessment_title": al.wrap_text(title, family, al.TITLE_PT, al.TITLE_RECT[2], 2),
                     "assessment_method": method,
                     "assessment_attribution": attribution,
                     "assessment_date": datetime.date.today().strftime("%d %B %Y").lstrip("0"),
                     "assessment_chart": data["overview_chart"],
                     "assessment_change_heading": "Change over time",
                     "assessment_area_method": "" if data["roles"] or story is not None else method,
                     "assessment_area_footer": " Method and definitions: see the overview page."
                     if data["roles"] or story is not None else ""}
        with_zones = f" ({n_areas} with index zones)" if n_areas < len(pages) else ""
        parts = [f"{len(pages)} areas{with_zones}, {zones_in.featureCount():,} zones"]
        if np.isfinite(city.get("score", float("nan"))):
            parts.append(f"mean score of the whole study area {city['text']}")
        if story is not None:
            p0, p1 = story["periods"][0], story["periods"][-1]
            dec = story["decimals"]
            parts.append(f"the gap {fmt(story['last'], dec)} ({story['change_text']} since {p0}; "
                         "page 2)")
            variables.update({
                "assessment_change_title": f"The gap over time, {p0} to {p1}",
                "assessment_change_facts": story["headline"] + " " + (
                    "Map: change in each zone's score, " if story.get("change_field") == "score_change"
                    else "Map: change in each zone's decile, " if story.get("change_field") else
                    "No change per zone was given. ") + (
                    f"{p1} minus {p0} (red = more need, blue = less)." if story.get("change_field") else ""),
                "assessment_change_note": self._change_note(story),
                "assessment_change_chart": story["chart_path"],
                "assessment_change_heading": f"Change since {p0}"})
        parts.append("rank 1 = highest need")
        variables["assessment_facts"] = " \u00b7 ".join(parts) + "."

        north = data.get("north_arrow")
        overview = al.load_template(project, "overview", f"{title} - overview", north)
        area = al.load_template(project, "area", f"{title} - areas", north)
        layouts = [overview, area]
        change = None
        if story is not None:
            change = al.load_template(project, "change", f"{title} - gap over time", north)
            layouts.insert(1, change)
        for layout in layouts:
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
                             TABLE_COLS["rank"], Qt.AlignmentFlag.AlignHCenter),
                            ("Area", "\"table_name\"", TABLE_COLS["area"], Qt.AlignmentFlag.AlignLeft),
                            ("Score", "\"score_text\"", TABLE_COLS["score"], Qt.AlignmentFlag.AlignRight),
                            ("Top theme", "\"short_theme\"", TABLE_COLS["theme"],
                             Qt.AlignmentFlag.AlignLeft)])

        # the gap over time
        if change is not None:
            cm = al.item(change, "map")
            shown = ([change_outline] + ([change_map] if change_map is not None else []))
            cm.setLayers(shown)
            cm.setKeepLayerSet(True)
            al.fit_extent(cm, ext, 0.02)
            self._legend(al.item(change, "legend"), list(reversed(shown)))
            gt = al.table_of(change)
            gt.setVectorLayer(extra[1])
            gt.setMaximumNumberOfFeatures(12)
            first = story["periods"][0]
            versus = "Everyone else" if "minus that of all other zones" in story["definition"] \
                or not story["definition"] else "Whole area"
            al.set_columns(gt, [("Period", "\"period\"", 13.0, Qt.AlignmentFlag.AlignLeft),
                                ("Top group", "\"top\"", 15.0, Qt.AlignmentFlag.AlignRight),
                                (versus, "\"versus\"", 19.0, Qt.AlignmentFlag.AlignRight),
                                ("Gap", "\"gap\"", 13.0, Qt.AlignmentFlag.AlignRight),
                                (f"Change since {first}", "\"change\"", 22.0, Qt.AlignmentFlag.AlignRight)])

        # area pages (atlas)
        am = al.item(area, "map")
        am.setLayers([area_outline, mask] + list(reversed(layers)))
        am.setKeepLayerSet(True)
        al.fit_extent(am, ext, 0.02)
        am.setAtlasDriven(True)
        am.setAtlasScalingMode(QgsLayoutItemMap.AtlasScalingMode.Auto)
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
        page_filter = "\"page_id\" = attribute(@atlas_feature, 'page_id')"
        at = al.table_of(area)
        at.setVectorLayer(table)
        at.setFilterFeatures(True)
        at.setFeatureFilter(page_filter)
        at.setMaximumNumberOfFeatures(12)
        al.set_columns(at, [("Priority", "\"priority\"", 34.0, Qt.AlignmentFlag.AlignLeft),
                            ("Score", "\"score\"", 11.0, Qt.AlignmentFlag.AlignRight),
                            ("Rank", "\"rank\"", 12.0, Qt.AlignmentFlag.AlignRight),
                            (DIFF_HEADING, "\"difference\"", 22.0, Qt.AlignmentFlag.AlignRight)])
        ct = al.table_of(area, "counts")
        ct.setVectorLayer(counts)
        ct.setFilterFeatures(True)
        ct.setFeatureFilter(page_filter)
        roles = data["roles"]
        widest = [al.text_width(COUNT_HEADINGS[r], family, al.BAND_PT, bold=True) for r in roles]
        widest += [al.text_width(t, family, al.BAND_PT) for t in data["count_texts"]]
        role_w = max(widest + [8.0]) + 0.3
        issue_w = al.content_width(al.COUNTS_RECTS[0][2], len(roles) + 1, al.BAND_MARGIN) - \
            role_w * len(roles)
        al.set_columns(ct, [("Issue", "\"issue\"", issue_w, Qt.AlignmentFlag.AlignLeft)] +
                       [(COUNT_HEADINGS[r], f"\"{r}\"", role_w, Qt.AlignmentFlag.AlignRight) for r in roles])
        xt = al.table_of(area, "changes")
        if story is not None:
            xt.setVectorLayer(extra[0])
            xt.setFilterFeatures(True)
            xt.setFeatureFilter(page_filter)
            p0, p1 = story["periods"][0], story["periods"][-1]
            measure_w, period_w, change_w = change_columns(
                al.content_width(al.CHANGE_RECT[2], 4, al.BAND_MARGIN),
                [al.text_width(str(p), family, al.BAND_PT, bold=True) for p in (p0, p1)])
            al.set_columns(xt, [("Measure", "\"measure\"", measure_w, Qt.AlignmentFlag.AlignLeft),
                                (p0, "\"first\"", period_w, Qt.AlignmentFlag.AlignRight),
                                (p1, "\"last\"", period_w, Qt.AlignmentFlag.AlignRight),
                                ("Change", "\"change\"", change_w, Qt.AlignmentFlag.AlignRight)])
        # a block with nothing to show is left out (the method note takes the band when both are)
        hidden = ([] if roles else ["counts_title", "counts", "counts_2"]) + \
            ([] if story is not None else ["change_title", "changes"])
        for item_id in hidden:
            al.item(area, item_id).setVisibility(False)
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
            sequence = [(overview, overview.refresh)]
            if change is not None:
                sequence.append((change, change.refresh))
            sequence += [(area, seek(i)) for i in range(count)]
            al.render_pages(sequence, pdf_path, png_folder or None, feedback=feedback)
        finally:
            atlas.endRender()
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled.")
        front = 1 + (change is not None)
        feedback.pushInfo(f"Wrote {pdf_path}: {front + count} pages (overview"
                          f"{', the gap over time' if change is not None else ''} + {count} areas).")
        if project_path:
            if not project.write(project_path):
                raise QgsProcessingException(f"Could not save the project {project_path}: {project.error()}")
            names = ", ".join(f"'{lay.name()}'" for lay in layouts)
            feedback.pushInfo(f"Saved the layouts {names} in {project_path}.")
        return front + count

    @staticmethod
    def _change_note(story):
        """The note under the map of the gap-over-time page: what the gap is, whether scores
        compare across periods, and what the trend test can say."""
        parts = []
        if story["definition"]:
            parts.append("The gap: " + story["definition"] + ".")
        if story["comparable"]:
            parts.append("Every period was scaled with the same frozen baseline, so scores and their "
                         "changes are on one scale.")
        else:
            parts.append("The periods do not share a frozen baseline: each was rescaled on its own, "
                         "so score changes are not shown (deciles and ranks are compared).")
        parts.append(story["trend_note"])
        parts.append("Area pages show each area's change: its mean score, rank, the gap within it, "
                     "zones in decile 1 and hotspot cells.")
        return " ".join(parts)

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
            if layer.customProperty(LEGEND_LABEL):
                node.setCustomProperty("legend/title-label", layer.customProperty(LEGEND_LABEL))
            nodes = model.layerLegendNodes(node)
            for k, legend_node in enumerate(nodes):
                text = str(legend_node.data(Qt.ItemDataRole.DisplayRole) or "")
                if len(text) > wrap_chars:
                    QgsMapLayerLegendUtils.setLegendNodeUserLabel(node, k, wrap_label(text, wrap_chars))
            model.refreshLayerLegend(node)
        legend.setTitle("")
        legend.updateLegend()


CHANGE_LEGEND = {"score_change": "Change in score, {first} to {last}",
                 "decile_change": "Change in decile, {first} to {last} (+ = towards decile 1)"}


def _table_layer(name, frame):
    """A memory table (no geometry) with ``frame``'s columns: integers for page_id/row_order,
    text for everything else."""
    layer = QgsVectorLayer("None", name, "memory")
    fields = [make_field(c, "int" if c in ("page_id", "row_order") else "string")
              for c in frame.columns]
    layer.dataProvider().addAttributes(fields)
    layer.updateFields()
    feats = []
    sort = [c for c in ("page_id", "row_order") if c in frame.columns]
    for _, row in (frame.sort_values(sort) if sort else frame).iterrows():
        f = QgsFeature(layer.fields())
        f.setAttributes([int(row[c]) if c in ("page_id", "row_order") else
                         (None if row[c] is None else str(row[c])) for c in frame.columns])
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


ALGORITHMS = [ExportAssessmentAlgorithm]
