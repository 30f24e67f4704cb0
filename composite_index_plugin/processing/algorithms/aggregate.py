"""compositeindex:aggregatepat - count victims, offenders and locations of one issue onto zones."""
import time

import numpy as np
import pandas as pd
from qgis.core import (
    QgsFeatureRequest,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExpression,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import aggregate as agg
from composite_index_plugin.core import kde as kde_mod
from composite_index_plugin.core import model, vocab
from composite_index_plugin.core.geometry import points_in_rings, points_in_zones, rings_from_wkb
from composite_index_plugin.core.overlay import GRID_FIELDS
from composite_index_plugin.i18n import translated
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.expressions import check_expression, raw_expression
from composite_index_plugin.processing.grid_overlay import clipped_geometries, read_grid_zones
from composite_index_plugin.processing.io_points import read_points
from composite_index_plugin.processing.io_table import write_with_columns
from composite_index_plugin.qgis_compat import (
    GeometryType,
    ProcessingFieldParameterDataType,
    ProcessingFileParameterBehavior,
    ProcessingNumberParameterType,
    ProcessingParameterFlag,
    ProcessingSourceType,
)

ROLE_KEYS = {"victims": "VICTIMS", "offenders": "OFFENDERS", "locations": "LOCATIONS"}
CATEGORY_PRESETS = vocab.CATEGORY_PRESET_TITLES


class Zones:
    """Zones of a layer, in feature order: grid definition (when it is one of ours) and rings."""

    def __init__(self):
        self.n = 0
        self.fids = None
        self.spec = None          # GridSpec when the zones are our grid
        self.index = None         # (a, b) per zone for grids
        self.clipped = None       # bool per zone (grid cells cut by the study area)
        self.rings = {}           # zone row -> list of rings (all zones, or clipped cells only)
        self.anchor = None        # (x, y) per zone: point on surface / cell centre
        self.n_repaired = 0
        self.repaired_fids = []
        self.n_null = 0


def read_zones(zones_source, feedback, need_anchor=False, force_polygons=False, layer=None):
    """Read the zones: our grids by their attributes (no geometry unless clipped), others as rings.

    ``layer``: the zones as a QgsVectorLayer when it is a plain layer (file layers are then read
    through OGR's Arrow stream, much faster than feature by feature).
    """
    z = Zones()
    names = zones_source.fields().names()
    if all(f in names for f in GRID_FIELDS) and not force_polygons:
        grid = read_grid_zones(zones_source, layer=layer)
        if grid is None:
            feedback.reportError("The zones carry grid_* fields, but they do not describe the "
                                 "cells (was the grid reprojected or edited?): counting by point "
                                 "in polygon instead.", False)
        else:
            z.spec, z.index, z.fids = grid.spec, (grid.a, grid.b), grid.fids
            z.n, z.clipped = len(grid.fids), grid.clipped
            if need_anchor:
                z.anchor = grid.spec.centres(grid.a, grid.b)
            for r, g in clipped_geometries(zones_source, grid).items():
                z.rings[r] = rings_from_wkb(bytes(g.asWkb()))
            return z
    fids, anchors = [], []
    for i, f in enumerate(zones_source.getFeatures(QgsFeatureRequest().setNoAttributes())):
        if i % 5000 == 0 and feedback.isCanceled():
            break
        fids.append(f.id())
        g = f.geometry()
        if g.isNull() or g.isEmpty():
            z.n_null += 1
            z.rings[i] = []
            anchors.append((np.nan, np.nan))
            continue
        if g.type() != GeometryType.Polygon:
            raise QgsProcessingException(
                f"Zone feature {f.id()} of '{zones_source.sourceName()}' is not a polygon: use a polygon "
                "layer (or a grid from Create analysis grid) as zones.")
        if not g.isGeosValid():
            g = g.makeValid()
            z.n_repaired += 1
            z.repaired_fids.append(f.id())
            if g.type() != GeometryType.Polygon:
                g = g.convertToType(GeometryType.Polygon, True) or QgsGeometry()
        z.rings[i] = rings_from_wkb(bytes(g.asWkb())) if not g.isNull() else []
        if need_anchor:
            p = g.pointOnSurface()
            pt = p.asPoint() if not p.isNull() else None
            anchors.append((pt.x(), pt.y()) if pt is not None else (np.nan, np.nan))
    z.fids = np.asarray(fids)
    z.n = len(fids)
    if need_anchor:
        arr = np.asarray(anchors, dtype="float64").reshape(-1, 2)
        z.anchor = (arr[:, 0], arr[:, 1])
    if z.n_repaired:
        feedback.reportError(
            f"{z.n_repaired} invalid zone polygon(s) were repaired (make valid) before counting, "
            f"feature ids {', '.join(str(i) for i in z.repaired_fids[:10])}"
            + (" ..." if z.n_repaired > 10 else "") + ".", False)
    if z.n_null:
        feedback.reportError(f"{z.n_null} zone(s) have no geometry: they get zero counts.", False)
    return z


def grid_point_zones(points, zones):
    """Zone row of every point on a grid (-1 outside), clipped cells tested by their polygon."""
    point_zone = agg.zone_index_for_grid(zones.spec, zones.index[0], zones.index[1], points.x, points.y)
    if zones.clipped is not None and zones.clipped.any():
        # Cells cut by the study area: keep only the points inside what is left of the cell.
        in_clipped = np.flatnonzero((point_zone >= 0) & zones.clipped[np.maximum(point_zone, 0)])
        for zrow in np.unique(point_zone[in_clipped]).tolist():
            sel = in_clipped[point_zone[in_clipped] == zrow]
            inside = points_in_rings(points.x[sel], points.y[sel], zones.rings.get(zrow, []))
            point_zone[sel[~inside]] = -1
    return point_zone


def count_role(role, points, zones, progress=None, weight=None):
    """RoleCounts of ``points`` (PointData) on ``zones`` (Zones); ``weight``: the name of the
    weight column (default: the only column read, if any)."""
    weights = None
    if weight:
        weights = points.columns[weight]
    elif points.columns and weight is None:
        weights = next(iter(points.columns.values()))
    if zones.spec is not None:
        point_zone = grid_point_zones(points, zones)
        return agg.count_points(role, zones.n, point_zone=point_zone, weights=weights)
    zone_rings = [zones.rings.get(i, []) for i in range(zones.n)]
    return agg.aggregate_role(role, points.x, points.y, zones.n, zone_rings=zone_rings, weights=weights,
                              progress=progress)


def count_role_by_issue(role, points, zones, category, mapping, issues, weight=None, progress=None):
    """CategoryCounts of ``points`` on ``zones``: every issue of the ``category`` column in one
    pass over the points (one zone lookup, one bincount)."""
    codes, issues, no_issue = agg.issue_codes(points.columns[category], mapping, issues)
    weights = points.columns[weight] if weight else None
    if zones.spec is not None:
        return agg.count_categories(role, zones.n, codes, issues,
                                    point_zone=grid_point_zones(points, zones), weights=weights,
                                    no_issue=no_issue)
    zone_rings = [zones.rings.get(i, []) for i in range(zones.n)]
    pairs = points_in_zones(points.x, points.y, zone_rings, progress=progress)
    return agg.count_categories(role, zones.n, codes, issues, pairs=pairs, weights=weights,
                                n_points=len(points.x), no_issue=no_issue)


class AggregatePatAlgorithm(CompositeIndexAlgorithm):
    NAME = "aggregatepat"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Aggregate victims, offenders and locations")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Geography")
    GROUP_ID = "geography"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
        "For one issue, counts where victims live, where offenders live and where it happens, onto "
        "zones: a grid made by 'Create analysis grid' (binned by arithmetic, very fast) or any "
        "polygon layer (point in polygon). Each role layer is optional (give at least one), with an "
        "optional filter expression and an optional weight field (e.g. a harm score).\n\n"
        "Output: the zones with every attribute, plus <issue>_victims, <issue>_offenders, "
        "<issue>_locations (counts), <issue>_<role>_w (weighted sums, when a weight is given) and "
        "<issue>_<role>_kde (quartic kernel density per km2 at the cell centre or the zone's point on "
        "surface, when KDE_BANDWIDTH > 0). With a ratio layer (e.g. residents or address points, "
        "optionally weighted by population) <issue>_<role>_kde_ratio is the dual kernel ratio, a "
        "'clustering' measure: 1 = as spread as the population, above 1 = more concentrated.\n\n"
        "Edge rule: a point exactly on an edge shared by two zones is counted once, in the zone to "
        "its east (north for a horizontal edge). Points outside all zones, features without "
        "geometry, features left out by the filter and null or non-numeric weights are counted "
        "and reported. Polygons or lines in a role layer are replaced by a point on their surface "
        "(with a warning); multipoints are split. Overlapping zones are warned about: a point is "
        "then counted once in every zone it falls in. Points in another CRS are reprojected to "
        "the zones' CRS.\n\n"
        "Boundaries matter: police.uk's own 'LSOA code' column is assigned on full-resolution "
        "boundaries. Counted on the super-generalised 2011 LSOAs, 84.7 % of one month of West "
        "Yorkshire crimes fall in the LSOA police.uk names; the others lie a median 34 m from "
        "that LSOA, just across a simplified boundary. "
        "Use full-resolution boundaries when exact membership of small areas matters.\n\n"
        "Many issues in one pass: give each role layer a category field (<ROLE>_CATEGORY, e.g. "
        "the field issue written by 'Import and cleanse incidents', or police.uk's Crime type) "
        "and every issue is counted in a single read of the points, into <issue>_<role> fields "
        "(ISSUE is then not used). Categories become issues through CATEGORY_MAPPING (a CSV "
        "category,issue or a JSON {\"category\": \"issue\"} file) or CATEGORY_PRESET (police.uk "
        "crime types, 14 issues); with neither, the issue is the category in "
        "lowercase_with_underscores. ISSUES (comma-separated) picks and orders the issues; "
        "listed issues with no points get zero fields, so every period has the same fields. "
        "Points whose category maps to no issue are counted and reported, not counted in zones. "
        "The counts are those of one run per issue with a filter on the category."))

    def initAlgorithm(self, config=None):
        labels = {
            "VICTIMS": (self.tr("Victims (points)"), self.tr("Victims: filter expression"),
                        self.tr("Victims: weight field"),
                        self.tr("Victims: category field (many issues in one pass)")),
            "OFFENDERS": (self.tr("Offenders (points)"), self.tr("Offenders: filter expression"),
                          self.tr("Offenders: weight field"),
                          self.tr("Offenders: category field (many issues in one pass)")),
            "LOCATIONS": (self.tr("Locations (points)"), self.tr("Locations: filter expression"),
                          self.tr("Locations: weight field"),
                          self.tr("Locations: category field (many issues in one pass)")),
        }
        for key in ROLE_KEYS.values():
            layer_label, filter_label, weight_label, category_label = labels[key]
            self.addParameter(QgsProcessingParameterFeatureSource(
                key, layer_label, [ProcessingSourceType.VectorAnyGeometry], optional=True))
            self.addParameter(QgsProcessingParameterExpression(
                f"{key}_FILTER", filter_label, None, key, True))
            self.addParameter(QgsProcessingParameterField(
                f"{key}_WEIGHT", weight_label, None, key, ProcessingFieldParameterDataType.Any,
                optional=True))
            self.addParameter(QgsProcessingParameterField(
                f"{key}_CATEGORY", category_label, None, key, ProcessingFieldParameterDataType.Any,
                optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "ZONES", self.tr("Zones (grid or polygons)"), [ProcessingSourceType.VectorPolygon]))
        self.addParameter(QgsProcessingParameterString(
            "ISSUE", self.tr("Issue name (used in field names)"), "issue"))
        self.addParameter(QgsProcessingParameterEnum(
            "CATEGORY_PRESET", self.tr("Categories to issues: preset"),
            options=[translated(p) for p in CATEGORY_PRESETS],
            defaultValue=vocab.position(vocab.CATEGORY_PRESETS,
                                        model.Role.key("category_preset").default), optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "CATEGORY_MAPPING", self.tr("Categories to issues: mapping table (CSV category,issue or "
                                        "JSON)"),
            ProcessingFileParameterBehavior.File, fileFilter="Mapping (*.csv *.json *.txt)",
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            "ISSUES", self.tr("Issues to count, comma-separated (empty: all)"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "KDE_BANDWIDTH", self.tr("Kernel density bandwidth in map units (0 = none)"),
            ProcessingNumberParameterType.Double, model.Role.key("kde_bandwidth").default, False, 0.0))
        ratio = [
            QgsProcessingParameterFeatureSource(
                "RATIO_LAYER", self.tr("Kernel ratio: population at risk (points)"),
                [ProcessingSourceType.VectorAnyGeometry], optional=True),
            QgsProcessingParameterField(
                "RATIO_WEIGHT", self.tr("Kernel ratio: population field"), None,
                "RATIO_LAYER", ProcessingFieldParameterDataType.Numeric, optional=True),
            QgsProcessingParameterEnum(
                "RATIO_ROLE", self.tr("Kernel ratio: numerator"),
                options=[self.tr("Victims"), self.tr("Offenders"), self.tr("Locations")], defaultValue=2),
        ]
        for p in ratio:
            p.setFlags(p.flags() | ProcessingParameterFlag.Advanced)
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Zones with counts"), ProcessingSourceType.VectorPolygon))
        self.addOutput(QgsProcessingOutputString("SUMMARY", self.tr("What was counted")))
        self.addOutput(QgsProcessingOutputString("ISSUES", self.tr("Issues counted (comma-separated)")))

    def checkParameterValues(self, parameters, context):
        if not any(parameters.get(k) for k in ROLE_KEYS.values()):
            return False, self.tr("Give at least one of the victims, offenders or locations layers.")
        for role, key in ROLE_KEYS.items():
            # the text as given: QGIS 3.22 answers "" for a filter it cannot parse
            text = raw_expression(parameters, f"{key}_FILTER")
            if not text.strip() or not parameters.get(key):
                continue
            source = self.parameterAsSource(parameters, key, context)
            found = check_expression(text, source.fields() if source is not None else None)
            if found:
                return False, f"{role.capitalize()} filter {text!r}: {found[0]} ({found[1]})."
        return super().checkParameterValues(parameters, context)

    @staticmethod
    def _checked_weights(pts, weight, role):
        """Refuse weights that cannot be meant: a text field with no number in it, or negative
        weights (a weight is a count or a harm score: 0 or more), naming how many and an example.
        Text values that are not numbers among numbers are counted and reported by the count."""
        if not weight or weight not in pts.columns:
            return
        values = pts.columns[weight]
        if values.dtype == object:
            text = pd.Series(values, dtype=object)
            numbers = pd.to_numeric(text.map(lambda v: v.strip() if isinstance(v, str) else v),
                                    errors="coerce")
            bad = text.notna() & (text.astype(str).str.strip() != "") & numbers.isna()
            if bad.any() and not numbers.notna().any():
                raise QgsProcessingException(
                    f"{role.capitalize()}: the weight field '{weight}' is a text field with no "
                    f"number in it (e.g. {text[bad].iloc[0]!r}): choose a numeric field (a count "
                    "or a harm score).")
            values = numbers.to_numpy(dtype="float64")   # a stray text is reported below
        values = np.asarray(values, dtype="float64")
        negative = values < 0
        if negative.any():
            raise QgsProcessingException(
                f"{role.capitalize()}: {int(negative.sum()):,} point(s) have a negative '{weight}' "
                f"(the smallest is {values[negative].min():g}): a weight is 0 or more. Correct "
                f"those values, or leave the points out with a filter such as \"{weight}\" >= 0.")

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
    def processAlgorithm(self, parameters, context, feedback):
        t_start = time.perf_counter()
        zones_source = self.parameterAsSource(parameters, "ZONES", context)
        if zones_source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, "ZONES"))
        issue = self.run_core(agg.check_issue_name,
                              self.parameterAsString(parameters, "ISSUE", context).strip())
        bandwidth = self.parameterAsDouble(parameters, "KDE_BANDWIDTH", context)
        if zones_source.sourceCrs().isGeographic():
            feedback.reportError(
                f"The zones '{zones_source.sourceName()}' are in a geographic CRS "
                f"({zones_source.sourceCrs().authid()}): counts are right, but kernel bandwidths "
                "would be in degrees. A projected CRS (EPSG:27700 in Great Britain) is better.", False)
        roles = [r for r, k in ROLE_KEYS.items()
                 if self.parameterAsSource(parameters, k, context) is not None]
        if not roles:
            raise QgsProcessingException(
                "Give at least one of the victims, offenders or locations layers.")
        ratio_source = self.parameterAsSource(parameters, "RATIO_LAYER", context)
        ratio_role = agg.ROLES[self.parameterAsEnum(parameters, "RATIO_ROLE", context)]
        if ratio_source is not None and bandwidth <= 0:
            raise QgsProcessingException(
                "A kernel ratio needs a kernel density bandwidth above zero (KDE_BANDWIDTH).")
        if ratio_source is not None and ratio_role not in roles:
            raise QgsProcessingException(
                f"The kernel ratio's numerator is {ratio_role}, but no {ratio_role} layer was given.")

        zones_value = parameters.get("ZONES")
        plain = not isinstance(zones_value, QgsProcessingFeatureSourceDefinition)
        zones_layer = self.parameterAsVectorLayer(parameters, "ZONES", context) if plain else None
        zones = read_zones(zones_source, feedback, need_anchor=bandwidth > 0, layer=zones_layer)
        if zones.n == 0:
            raise QgsProcessingException(f"The zones layer '{zones_source.sourceName()}' is empty.")
        how = (f"grid ({zones.spec.describe()}), binned by arithmetic" if zones.spec is not None
               else "polygons, point in polygon")
        feedback.pushInfo(f"Zones: {zones.n:,} {how}.")
        feedback.setProgress(10)
        categories = {r: self.parameterAsString(parameters, f"{ROLE_KEYS[r]}_CATEGORY", context)
                      for r in roles}
        if any(categories.values()):
            return self._process_by_issue(parameters, context, feedback, roles, categories, zones,
                                          zones_source, zones_layer, bandwidth, ratio_source,
                                          ratio_role, t_start)
        columns = {}
        summary = []
        bin_seconds = 0.0
        point_sets = {}
        crs = zones_source.sourceCrs()
        for k, role in enumerate(roles):
            key = ROLE_KEYS[role]
            weight = self.parameterAsString(parameters, f"{key}_WEIGHT", context)
            expression = raw_expression(parameters, f"{key}_FILTER") or \
                self.parameterAsExpression(parameters, f"{key}_FILTER", context)
            pts = read_points(self, parameters, key, context, feedback, fields=[weight] if weight else [],
                              expression=expression, dest_crs=crs, label=role.capitalize())
            pts.report(feedback, role.capitalize())
            if feedback.isCanceled():
                return {}
            self._checked_weights(pts, weight, role)
            t0 = time.perf_counter()
            res = self.run_core(count_role, role, pts, zones,
                                progress_from_feedback(feedback, 10 + 60 * k / len(roles),
                                                       10 + 60 * (k + 1) / len(roles)))
            bin_seconds += time.perf_counter() - t0
            columns[agg.field_names(issue, role)] = res.counts
            if res.weighted is not None:
                columns[agg.field_names(issue, role, weighted=True)] = res.weighted
            line = res.summary() + f" (+{pts.n_filtered_out:,} filtered out, {pts.n_null_geometry:,} " \
                                   "without geometry)"
            summary.append(line)
            feedback.pushInfo(line)
            if res.n_outside:
                feedback.reportError(f"{role.capitalize()}: {res.n_outside:,} points lie outside all zones "
                                     "and are not counted.", False)
            if res.n_multi_zone:
                feedback.reportError(f"The zones overlap: {res.n_multi_zone:,} {role} points fall in more "
                                     "than one zone and are counted in each.", False)
            if res.n_bad_weight:
                feedback.reportError(f"{role.capitalize()}: {res.n_bad_weight:,} points have a null or "
                                     f"non-numeric '{weight}' and add 0 to the weighted sum.", False)
            point_sets[role] = pts
        feedback.pushInfo(f"Binning took {bin_seconds:.3f} s.")
        if bandwidth > 0:
            tx, ty = zones.anchor
            densities = {}
            for role, pts in point_sets.items():
                densities[role] = self.run_core(kde_mod.kde_at, tx, ty, pts.x, pts.y, bandwidth)
                columns[agg.field_names(issue, role, kde=True)] = densities[role]
            if ratio_source is not None:
                rw = self.parameterAsString(parameters, "RATIO_WEIGHT", context)
                rp = read_points(self, parameters, "RATIO_LAYER", context, feedback,
                                 fields=[rw] if rw else [], dest_crs=crs, label="Population at risk")
                rp.report(feedback, "Population at risk")
                den = self.run_core(kde_mod.kde_at, tx, ty, rp.x, rp.y, bandwidth,
                                    rp.columns.get(rw) if rw else None)
                ratio = kde_mod.kde_ratio(densities[ratio_role], den)
                columns[agg.field_names(issue, ratio_role, kde=True) + "_ratio"] = ratio
                feedback.pushInfo(f"Kernel ratio {ratio_role} / population at risk: "
                                  f"{int(np.isfinite(ratio).sum()):,} zones with a value, "
                                  f"{int((~np.isfinite(ratio)).sum()):,} where the population density is 0.")
        feedback.setProgress(75)
        frame = pd.DataFrame(columns)
        dest = write_with_columns(self, parameters, context, zones_source, frame, "OUTPUT", feedback,
                                  source_layer=zones_layer, fids=zones.fids)
        feedback.pushInfo(f"Done in {time.perf_counter() - t_start:.2f} s.")
        # the victims / offenders / locations view of this issue (the first role given)
        self.style(context, dest, f"role_{roles[0]}", agg.field_names(issue, roles[0]), feedback)
        return {"OUTPUT": dest, "SUMMARY": "\n".join(summary), "ISSUES": issue}

    # -- many issues in one pass ----------------------------------------------------------------
    def _mapping(self, parameters, context):
        """The category -> issue mapping (dict) of CATEGORY_MAPPING or CATEGORY_PRESET, or None."""
        from composite_index_plugin.core.cleanse import read_category_mapping
        from composite_index_plugin.paths import resource_path

        path = (self.parameterAsFile(parameters, "CATEGORY_MAPPING", context) or "").strip()
        preset = self.parameterAsEnum(parameters, "CATEGORY_PRESET", context)
        if path and preset:
            raise QgsProcessingException(
                "Give either a category mapping table (CATEGORY_MAPPING) or a preset "
                "(CATEGORY_PRESET), not both.")
        if preset == 1:
            path = resource_path("presets", "policeuk_crime_types.csv")
        return (self.run_core(read_category_mapping, path) if path else None), path

    def _process_by_issue(self, parameters, context, feedback, roles, categories, zones,
                          zones_source, zones_layer, bandwidth, ratio_source, ratio_role, t_start):
        missing = [r for r in roles if not categories[r]]
        if missing:
            given = ", ".join(f"{r} ({categories[r]})" for r in roles if categories[r])
            raise QgsProcessingException(
                f"A category field is given for {given} but not for {', '.join(missing)}: give one "
                "for every role layer (many issues in one pass), or none (one issue, ISSUE).")
        mapping, mapping_path = self._mapping(parameters, context)
        wanted = [i.strip() for i in self.parameterAsString(parameters, "ISSUES", context).split(",")
                  if i.strip()] or None
        crs = zones_source.sourceCrs()
        point_sets, weights = {}, {}
        for role in roles:
            key = ROLE_KEYS[role]
            weight = self.parameterAsString(parameters, f"{key}_WEIGHT", context)
            expression = raw_expression(parameters, f"{key}_FILTER") or \
                self.parameterAsExpression(parameters, f"{key}_FILTER", context)
            pts = read_points(self, parameters, key, context, feedback,
                              fields=[f for f in (categories[role], weight) if f],
                              expression=expression, dest_crs=crs, label=role.capitalize())
            pts.report(feedback, role.capitalize())
            if feedback.isCanceled():
                return {}
            self._checked_weights(pts, weight, role)
            point_sets[role], weights[role] = pts, weight
        if wanted is None and mapping is None:
            # the issues found in any role, so that every role has the same fields
            found = set()
            for role, pts in point_sets.items():
                found.update(self.run_core(agg.issue_codes, pts.columns[categories[role]])[1])
            wanted = sorted(found)
            if not wanted:
                raise QgsProcessingException(
                    "No point has a category: the category field(s) "
                    + ", ".join(f"'{categories[r]}'" for r in roles) + " are empty.")
        feedback.pushInfo(
            f"Categories to issues: {'mapping ' + mapping_path if mapping_path else 'the category itself'}"
            f"; {len(wanted) if wanted else len(dict.fromkeys(mapping.values()))} issue(s).")
        results, summary = {}, []
        t0 = time.perf_counter()
        for k, role in enumerate(roles):
            pts = point_sets[role]
            res = self.run_core(count_role_by_issue, role, pts, zones, categories[role], mapping, wanted,
                                weights[role] or None,
                                progress_from_feedback(feedback, 10 + 60 * k / len(roles),
                                                       10 + 60 * (k + 1) / len(roles)))
            results[role] = res
            line = res.summary() + f" (+{pts.n_filtered_out:,} filtered out, {pts.n_null_geometry:,} " \
                                   "without geometry)"
            summary.append(line)
            feedback.pushInfo(line)
            if res.n_no_issue:
                feedback.reportError(f"{role.capitalize()}: {res.n_no_issue:,} points have a category "
                                     "mapped to no issue and are not counted.", False)
            if int(res.n_outside.sum()):
                feedback.reportError(f"{role.capitalize()}: {int(res.n_outside.sum()):,} points lie "
                                     "outside all zones and are not counted.", False)
            if int(res.n_multi_zone.sum()):
                feedback.reportError(f"The zones overlap: {int(res.n_multi_zone.sum()):,} {role} points "
                                     "fall in more than one zone and are counted in each.", False)
            if res.weighted is not None and int(res.n_bad_weight.sum()):
                feedback.reportError(f"{role.capitalize()}: {int(res.n_bad_weight.sum()):,} points have "
                                     f"a null or non-numeric '{weights[role]}' and add 0 to the "
                                     "weighted sum.", False)
        issues = results[roles[0]].issues
        feedback.pushInfo(f"Counting {len(issues)} issue(s) x {len(roles)} role(s) in one pass took "
                          f"{time.perf_counter() - t0:.3f} s.")
        columns = {}
        for k, name in enumerate(issues):
            for role in roles:
                res = results[role]
                columns[agg.field_names(name, role)] = res.counts[:, k]
                if res.weighted is not None:
                    columns[agg.field_names(name, role, weighted=True)] = res.weighted[:, k]
            feedback.pushInfo(f"  {name}: " + ", ".join(
                f"{role} {int(results[role].counts[:, k].sum()):,}" for role in roles))
        if bandwidth > 0:
            tx, ty = zones.anchor
            den = None
            if ratio_source is not None:
                rw = self.parameterAsString(parameters, "RATIO_WEIGHT", context)
                rp = read_points(self, parameters, "RATIO_LAYER", context, feedback,
                                 fields=[rw] if rw else [], dest_crs=crs, label="Population at risk")
                rp.report(feedback, "Population at risk")
                den = self.run_core(kde_mod.kde_at, tx, ty, rp.x, rp.y, bandwidth,
                                    rp.columns.get(rw) if rw else None)
            for k, name in enumerate(issues):
                for role in roles:
                    pts, sel = point_sets[role], results[role].codes == k
                    dens = self.run_core(kde_mod.kde_at, tx, ty, pts.x[sel], pts.y[sel], bandwidth)
                    columns[agg.field_names(name, role, kde=True)] = dens
                    if den is not None and role == ratio_role:
                        columns[agg.field_names(name, role, kde=True) + "_ratio"] = \
                            kde_mod.kde_ratio(dens, den)
                if feedback.isCanceled():
                    return {}
        feedback.setProgress(75)
        frame = pd.DataFrame(columns)
        dest = write_with_columns(self, parameters, context, zones_source, frame, "OUTPUT", feedback,
                                  source_layer=zones_layer, fids=zones.fids)
        feedback.pushInfo(f"Done in {time.perf_counter() - t_start:.2f} s.")
        self.style(context, dest, f"role_{roles[0]}", agg.field_names(issues[0], roles[0]), feedback)
        return {"OUTPUT": dest, "SUMMARY": "\n".join(summary), "ISSUES": ",".join(issues)}


ALGORITHMS = [AggregatePatAlgorithm]
