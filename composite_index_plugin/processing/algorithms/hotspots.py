"""compositeindex:hotspots - Getis-Ord Gi* and local Moran's I (LISA) with no extra installs.

Thin glue: reads the field and the zones' locations (or, for our grids' contiguity, only their
cell indices), builds the neighbour graph with ``core.neighbours`` and runs
``core.hotspots.analyse``.
"""
import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsPointXY,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from composite_index_plugin.core import hotspots as hs
from composite_index_plugin.core import model, vocab
from composite_index_plugin.core import neighbours as nbmod
from composite_index_plugin.core.geometry import rings_from_wkb
from composite_index_plugin.i18n import translated
from composite_index_plugin.processing.base import CompositeIndexAlgorithm, progress_from_feedback
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.processing.io_table import input_layer, layer_dataframe, write_with_columns
from composite_index_plugin.processing.zones import grid_indices, zone_label_field
from composite_index_plugin.qgis_compat import (
    GeometryType,
    ProcessingFieldParameterDataType,
    ProcessingNumberParameterType,
    ProcessingParameterFlag,
    ProcessingSourceType,
)

NEIGHBOURHOODS = vocab.HOTSPOT_NEIGHBOURHOOD_TITLES
QUEEN, ROOK, DISTANCE, KNN, AUTOMATIC = (vocab.HOTSPOT_NEIGHBOURHOODS.index(w) for w in (
    "queen", "rook", "distance", "knn", "automatic"))
HOTSPOTS = model.Hotspots   # the defaults of a recipe's hotspots section

# The fields a hotspot layer keeps without the input's others: a grid's cell id and definition
# (so the output can be analysed again by contiguity), the population (summed by hotspot zones)
# and the value analysed.
KEPT_FIELDS = ("cell_id", "q", "r", "row", "col", "grid_shape", "grid_size", "grid_x0", "grid_y0",
               "grid_clipped", "population")

GLOBAL_OUTPUTS = [
    ("MORAN_I", QT_TRANSLATE_NOOP("CompositeIndex", "Global Moran's I")),
    ("MORAN_Z", QT_TRANSLATE_NOOP("CompositeIndex", "Global Moran's I z-score (normality)")),
    ("MORAN_P", QT_TRANSLATE_NOOP("CompositeIndex",
                                  "Global Moran's I p-value (two-sided, normality)")),
    ("GENERAL_G", QT_TRANSLATE_NOOP("CompositeIndex", "General G")),
    ("GENERAL_G_Z", QT_TRANSLATE_NOOP("CompositeIndex", "General G z-score")),
    ("GENERAL_G_P", QT_TRANSLATE_NOOP("CompositeIndex", "General G p-value (two-sided)")),
    ("DISTANCE_USED", QT_TRANSLATE_NOOP("CompositeIndex",
                                        "Distance band used (0 for contiguity / k nearest)")),
    ("N_ISLANDS", QT_TRANSLATE_NOOP("CompositeIndex", "Zones without neighbours")),
    ("N_EXCLUDED", QT_TRANSLATE_NOOP("CompositeIndex", "Zones without a value (excluded)")),
]


def projected_crs_for(lon, lat):
    """EPSG:27700 inside Great Britain, else the WGS 84 UTM zone of (lon, lat)."""
    if -9.0 <= lon <= 2.5 and 49.5 <= lat <= 61.0:
        return QgsCoordinateReferenceSystem("EPSG:27700")
    zone = min(max(int((lon + 180.0) // 6.0) + 1, 1), 60)
    return QgsCoordinateReferenceSystem(f"EPSG:{(32600 if lat >= 0 else 32700) + zone}")


def read_locations(source, need_rings, feedback, transform=None):
    """Feature ids, centres (polygon centroids; points their location) and optionally rings, in
    feature order. Missing geometry gives NaN centres."""
    fids, xs, ys, rings = [], [], [], []
    req = QgsFeatureRequest().setNoAttributes()
    total = max(source.featureCount(), 1)
    for n, f in enumerate(source.getFeatures(req)):
        if n % 5000 == 0:
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled by the user.")
            feedback.setProgress(20.0 * n / total)
        fids.append(f.id())
        g = f.geometry()
        if g is None or g.isNull() or g.isEmpty():
            xs.append(np.nan)
            ys.append(np.nan)
            rings.append([])
            continue
        c = g.centroid()
        p = c.asPoint() if not c.isNull() else QgsPointXY(np.nan, np.nan)
        if transform is not None and np.isfinite(p.x()):
            p = transform.transform(p)
        xs.append(p.x())
        ys.append(p.y())
        if need_rings:
            rings.append(rings_from_wkb(bytes(g.asWkb())))
    return np.asarray(fids), np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), rings


class HotspotsAlgorithm(CompositeIndexAlgorithm):
    NAME = "hotspots"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Hotspot analysis (Gi* and local Moran's I)")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Hotspots")
    GROUP_ID = "hotspots"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
        "Finds where a value is concentrated: Getis-Ord Gi* (binary weights, each zone in its own "
        "neighbourhood) and local Moran's I (row-standardised weights), on a numeric field of a "
        "grid, any polygon layer or weighted points. Needs nothing beyond QGIS.\n\n"
        "Neighbourhood: queen or rook contiguity (by cell indices for grids made by 'Create "
        "analysis grid', by shared vertices / edges for other polygons), a fixed distance band "
        "(0 = the smallest band that gives every zone a neighbour, as ArcGIS does), the k nearest "
        "neighbours, or automatic (global Moran's I over increasing bands; the first peak of its "
        "z-score, as ArcGIS Optimized Hot Spot Analysis). Distances are between zone centroids "
        "(points: their own location) in the layer's units; a layer in degrees is reprojected to a "
        "metric CRS for the distances (and DISTANCE is then in metres).\n\n"
        "Significance: analytic (normal, two-sided) p-values, or with PERMUTATIONS > 0 two-sided "
        "conditional permutation pseudo p-values (simulated values equal to the observed one count "
        "as extreme, so sparse counts do not give false cold spots; repeatable with SEED). Either "
        "way gi_bin 1/2/3 means p below 0.10/0.05/0.01. FDR (on by default) applies "
        "Benjamini-Hochberg to the bins and clusters (the z and p fields themselves are not "
        "adjusted). With P permutations the smallest p is 2 / (P + 1): when that, with FDR over "
        "the zones, cannot reach a confidence level, a warning says so before the run, with the "
        "number of permutations needed.\n\n"
        "Output fields: gi_z, gi_p, gi_bin (-3..3: cold/hot spot at 99/95/90 % confidence), "
        "n_neighbours, lisa_i, lisa_p, lisa_cluster (High-High, Low-Low, High-Low, Low-High, Not "
        "significant). Global Moran's I and General G are in the log and the outputs. Zones "
        "without a value are left out and counted; zones without neighbours are reported and get "
        "empty results, not zeros. Fewer than 30 zones gives a warning; a field that does not vary "
        "is refused; a band giving more than 1,000 neighbours is refused with a band that fits.\n\n"
        "Keep the input's fields (advanced, on by default): off, the output holds only the zone's "
        "id (cell_id, or the first text field), the grid's own fields, the population (which "
        "'Hotspot zones' sums), the value analysed and the results, joined back to the input by "
        "that id: much less to write for a large grid."))

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFeatureSource(
            "INPUT", self.tr("Zones or points"),
            [ProcessingSourceType.VectorPolygon, ProcessingSourceType.VectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            "FIELD", self.tr("Value (count, rate, score or point weight)"), None, "INPUT",
            ProcessingFieldParameterDataType.Numeric))
        self.addParameter(QgsProcessingParameterEnum(
            "NEIGHBOURHOOD", self.tr("Neighbourhood"), [translated(o) for o in NEIGHBOURHOODS],
            defaultValue=vocab.position(vocab.HOTSPOT_NEIGHBOURHOODS,
                                        HOTSPOTS.key("neighbourhood").default)))
        self.addParameter(QgsProcessingParameterNumber(
            "DISTANCE", self.tr("Distance band (0 = smallest that gives every zone a neighbour)"),
            ProcessingNumberParameterType.Double, HOTSPOTS.key("distance").default, minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(
            "K", self.tr("Number of nearest neighbours"), ProcessingNumberParameterType.Integer,
            HOTSPOTS.key("k").default,
            minValue=1, maxValue=nbmod.MAX_NEIGHBOURS))
        self.addParameter(QgsProcessingParameterNumber(
            "PERMUTATIONS", self.tr("Permutations (0 = analytic p-values only)"),
            ProcessingNumberParameterType.Integer, HOTSPOTS.key("permutations").default, minValue=0,
            maxValue=HOTSPOTS.key("permutations").maximum))
        seed = QgsProcessingParameterNumber("SEED", self.tr("Random seed for permutations"),
                                            ProcessingNumberParameterType.Integer,
                                            HOTSPOTS.key("seed").default, minValue=0)
        seed.setFlags(seed.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(seed)
        self.addParameter(QgsProcessingParameterBoolean(
            "FDR", self.tr("False discovery rate correction (Benjamini-Hochberg)"),
            HOTSPOTS.key("fdr").default))
        keep = QgsProcessingParameterBoolean(
            "KEEP_FIELDS", self.tr("Keep the input's fields (off: zone id, grid fields, "
                                   "population and the value analysed only)"), True,
            optional=True)   # optional: models saved before it still validate
        keep.setFlags(keep.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(keep)
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", self.tr("Hotspots")))
        for key, label in GLOBAL_OUTPUTS:
            self.addOutput(QgsProcessingOutputNumber(key, translated(label)))
        self.addOutput(QgsProcessingOutputString("NEIGHBOURHOOD_USED", self.tr("Neighbourhood used")))

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
    def processAlgorithm(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "INPUT", context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, "INPUT"))
        field = self.parameterAsString(parameters, "FIELD", context)
        method = self.parameterAsEnum(parameters, "NEIGHBOURHOOD", context)
        distance = self.parameterAsDouble(parameters, "DISTANCE", context)
        k = self.parameterAsInt(parameters, "K", context)
        permutations = self.parameterAsInt(parameters, "PERMUTATIONS", context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        fdr = self.parameterAsBoolean(parameters, "FDR", context)
        name = source.sourceName()
        if source.fields().indexOf(field) < 0:
            raise QgsProcessingException(
                f"Field '{field}' not found in '{name}'. Fields that exist: "
                f"{', '.join(source.fields().names())}.")
        is_points = QgsWkbTypes.geometryType(source.wkbType()) == GeometryType.Point
        if is_points and method in (QUEEN, ROOK):
            raise QgsProcessingException(
                f"'{name}' is a point layer: queen and rook contiguity need polygons. Choose a "
                f"fixed distance band, k nearest neighbours or automatic.")

        extra = [c for c in ("grid_shape", "q", "r", "row", "col") if source.fields().indexOf(c) >= 0]
        layer = input_layer(self, parameters, "INPUT", context)
        frame = layer_dataframe(source, fields=[field] + extra, layer=layer)
        values = frame[field].to_numpy(dtype=np.float64)
        fids = frame["__fid"].to_numpy()
        progress = progress_from_feedback(feedback, 20.0, 88.0)

        used_distance = 0.0
        grid = grid_indices(frame) if method in (QUEEN, ROOK) and not is_points else None
        if grid is not None:
            kind, a, b = grid
            if kind == "hex":
                nb = self.run_core(nbmod.hex_contiguity, a, b)
                text = "Neighbours: hexagonal grid contiguity from the cells' q/r indices (6 neighbours)."
            else:
                nb = self.run_core(nbmod.grid_contiguity, a, b, method == QUEEN)
                text = (f"Neighbours: square grid {'queen' if method == QUEEN else 'rook'} contiguity "
                        f"from the cells' row/col indices.")
        else:
            crs = source.sourceCrs()
            transform = None
            if crs.isGeographic() and method not in (QUEEN, ROOK):
                ext = source.sourceExtent()
                target = projected_crs_for(ext.center().x(), ext.center().y())
                transform = QgsCoordinateTransform(crs, target, context.transformContext())
                feedback.pushWarning(
                    f"'{name}' is in a geographic CRS ({crs.authid()}, degrees): zone centres were "
                    f"reprojected to {target.authid()} ({target.description()}) so that distances are "
                    f"in metres; DISTANCE is read in metres.")
            got_fids, x, y, rings = read_locations(source, method in (QUEEN, ROOK), feedback, transform)
            if len(got_fids) != len(fids) or not np.array_equal(got_fids, fids):
                raise QgsProcessingException(f"'{name}' changed while it was being read; try again.")
            no_geom = ~(np.isfinite(x) & np.isfinite(y))
            if no_geom.any():
                feedback.pushWarning(
                    f"{int(no_geom.sum())} feature(s) of '{name}' have no geometry and were left out "
                    f"(feature ids {', '.join(str(i) for i in fids[no_geom][:10])}).")
                values = np.where(no_geom, np.nan, values)
            ok = ~no_geom
            if method in (QUEEN, ROOK):
                span = max(float(np.nanmax(x) - np.nanmin(x)), float(np.nanmax(y) - np.nanmin(y)), 1e-12)
                nb = self.run_core(nbmod.polygon_contiguity_from_rings, rings, method == QUEEN,
                                   span * 1e-9)
                text = (f"Neighbours: {'queen' if method == QUEEN else 'rook'} contiguity of the "
                        f"polygons (shared {'vertex' if method == QUEEN else 'edge'}).")
            else:
                kind = {DISTANCE: "distance", KNN: "knn", AUTOMATIC: "automatic"}[method]
                sub, text, used_distance = self.run_core(
                    hs.neighbours_for_points, kind, x[ok], y[ok], distance, k, values[ok],
                    progress.sub(0.0, 0.4))
                nb = self._expand(sub, ok)
            progress = progress.sub(0.4, 1.0) if method not in (QUEEN, ROOK) else progress
        feedback.pushInfo(text)
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled by the user.")

        alpha = hs.DEFAULTS["lisa_alpha"]
        reach = hs.reachable_significance(hs.tested_zones(values, nb), permutations, fdr, alpha)
        for w in hs.reach_warnings(reach):
            feedback.pushWarning(w)
        res = self.run_core(hs.analyse, values, nb, permutations, seed, fdr, field, alpha, progress,
                            fids)
        for w in res.warnings:
            feedback.pushWarning(w)
        for line in res.summary_lines():
            feedback.pushInfo(line)
        keep_fields = None if self.parameterAsBoolean(parameters, "KEEP_FIELDS", context) \
            else kept_fields(source.fields(), field)
        dest_id = write_with_columns(
            self, parameters, context, source, res.frame(), "OUTPUT", feedback,
            progress_range=(90.0, 100.0), source_layer=layer, fids=fids, keep_fields=keep_fields)
        self.style(context, dest_id, "gi_bins", feedback=feedback)
        m, g = res.moran, res.general_g
        return {
            "OUTPUT": dest_id, "MORAN_I": m["I"], "MORAN_Z": m["z_norm"], "MORAN_P": m["p_norm"],
            "GENERAL_G": g["G"], "GENERAL_G_Z": g["z"], "GENERAL_G_P": g["p"],
            "DISTANCE_USED": used_distance, "N_ISLANDS": len(res.islands), "N_EXCLUDED": res.n_null,
            "NEIGHBOURHOOD_USED": text,
        }

    @staticmethod
    def _expand(sub, ok):
        """A graph over the zones with a location (``ok``) renumbered onto all zones."""
        ids = np.flatnonzero(ok)
        rows = ids[sub.rows()]
        return nbmod.Neighbours.from_pairs(len(ok), rows, ids[sub.indices])


ALGORITHMS = [HotspotsAlgorithm]


def kept_fields(fields, field):
    """The input fields a hotspot layer keeps without the others: the zone's id (``cell_id``,
    else the first text field), the grid's own fields, the population and the value analysed."""
    names = fields.names()
    wanted = {field, zone_label_field(fields)} | set(KEPT_FIELDS)
    return [n for n in names if n in wanted]
