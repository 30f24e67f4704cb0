"""Processing glue for ``compositeindex:importincidents`` (Import and cleanse incidents).

The checks live in ``core.cleanse``; this module reads layers, builds the coordinate transform
(GDAL/OSR, vectorised) and the study-area test, and writes the outputs. Writing a GeoPackage
destination is done in bulk (the sink creates the layer, one SQLite transaction fills it):
about 10x faster than feature-by-feature, which is used for other destinations.
"""
import contextlib
import os

import numpy as np
import pandas as pd
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsRectangle,
    QgsUnitTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QDate, QDateTime, QTime, QVariant

from composite_index_plugin.core import cleanse as cc
from composite_index_plugin.core import model, vocab
from composite_index_plugin.core import policeuk as pu
from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.i18n import translated
from composite_index_plugin.paths import resource_path
from composite_index_plugin.processing import gpkg_fast
from composite_index_plugin.processing.base import (
    CompositeIndexAlgorithm,
    progress_from_feedback,
    table_sink_closing,
)
from composite_index_plugin.processing.connections import guarded
from composite_index_plugin.qgis_compat import (
    CrsWktVariant,
    FeatureRequestFlag,
    GeometryType,
    ProcessingFileParameterBehavior,
    ProcessingNumberParameterType,
    ProcessingParameterFlag,
    ProcessingSourceType,
    WkbType,
    field_type,
)

TEXT_EXTENSIONS = (".csv", ".txt", ".tsv", ".tab", ".dat", ".psv", "")
POLICEUK_MAPPING = ("presets", "policeuk_crime_types.csv")
_CHUNK = 20000
DEFAULT_TARGET_CRS = "EPSG:27700"
# Default study-area buffer (metres): the recipe model's, where it is justified (core/model.py).
IMPORT = model.Import   # the defaults and words of a recipe's import
DEFAULT_STUDY_BUFFER = IMPORT.key("study_buffer").default
PERIOD_KINDS = tuple(None if p == "none" else p for p in vocab.IMPORT_PERIODS)


def policeuk_mapping_path():
    return resource_path(*POLICEUK_MAPPING)


# ------------------------------------------------------------------------------------------
# CRS helpers (vectorised with OSR)
# ------------------------------------------------------------------------------------------
def _osr(crs):
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs.toWkt(CrsWktVariant.PreferredGdal))
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def make_transform(source_crs, target_crs):
    """A vectorised ``f(x, y) -> (tx, ty)`` from ``source_crs`` to ``target_crs`` (QGIS CRS
    objects) using OSR/PROJ; NaN where a point cannot be transformed. Distinct points are
    transformed once (police.uk snaps points to a few thousand map points)."""
    if source_crs == target_crs:
        return None
    from osgeo import osr

    ct = osr.CoordinateTransformation(_osr(source_crs), _osr(target_crs))

    def run(pts):
        try:
            res = np.asarray(ct.TransformPoints(pts), dtype="float64")
            return res[:, 0], res[:, 1]
        except Exception:  # noqa: BLE001 (GDAL raises RuntimeError for a bad point)
            out = np.full((len(pts), 2), np.nan)
            for i, (a, b) in enumerate(pts.tolist()):
                try:
                    out[i] = ct.TransformPoint(a, b)[:2]
                except Exception:  # noqa: BLE001 - as above: this point stays NaN (rejected)
                    pass
            return out[:, 0], out[:, 1]

    def transform(x, y):
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        finite = np.isfinite(x) & np.isfinite(y)
        if not finite.all():
            ox = np.full(len(x), np.nan)
            oy = np.full(len(x), np.nan)
            if finite.any():
                ox[finite], oy[finite] = transform(x[finite], y[finite])
            return ox, oy
        if len(x) == 0:
            return x.copy(), y.copy()
        cx, ux = pd.factorize(x)
        cy, uy = pd.factorize(y)
        codes, uniq = pd.factorize(cx.astype("int64") * len(uy) + cy)
        px = ux[uniq // len(uy)]
        py = uy[uniq % len(uy)]
        tx, ty = run(np.column_stack([px, py]))
        tx = np.where(np.isfinite(tx), tx, np.nan)
        ty = np.where(np.isfinite(ty), ty, np.nan)
        return tx[codes], ty[codes]

    return transform


def crs_area(source_crs, target_crs, context):
    """The valid area shared by the source and target CRSs, as (xmin, ymin, xmax, ymax) in
    source units, or None when it cannot be computed."""
    rect = QgsRectangle(source_crs.bounds())
    other = target_crs.bounds()
    if rect.isEmpty():
        return None
    if not other.isEmpty():
        rect = rect.intersect(other)
        if rect.isEmpty():
            return None
    if source_crs.isGeographic() and source_crs.mapUnits() == QgsCoordinateReferenceSystem(
            "EPSG:4326").mapUnits():
        return (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
    try:
        tr = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), source_crs,
                                    context.transformContext())
        r = tr.transformBoundingBox(rect)
    except Exception:  # noqa: BLE001 (QgsCsException)
        return None
    return (r.xMinimum(), r.yMinimum(), r.xMaximum(), r.yMaximum())


def _rings_of(area):
    rings = []
    polys = area.asMultiPolygon() if area.isMultipart() else [area.asPolygon()]
    for poly in polys:
        for ring in poly:
            rings.append(np.array([(p.x(), p.y()) for p in ring], dtype="float64"))
    return rings, area.boundingBox()


def _inside(x, y, rings, bbox):
    box = (x >= bbox.xMinimum()) & (x <= bbox.xMaximum()) & \
          (y >= bbox.yMinimum()) & (y <= bbox.yMaximum())
    out = np.zeros(len(x), dtype=bool)
    out[box] = cc.points_in_polygon(x[box], y[box], rings)
    return out


def study_area_test(source, target_crs, buffer, context, feedback=None):
    """``in_study(x, y)`` for a polygon source, dissolved and transformed to ``target_crs``; the
    point test is ``core.cleanse.points_in_polygon``. With a ``buffer`` (target units) it
    returns ``(inside the buffered area, inside only thanks to the buffer)``: points are tested
    against the area itself first and only those outside it against the buffered area."""
    tr = QgsCoordinateTransform(source.sourceCrs(), target_crs, context.transformContext())
    geoms = []
    for f in source.getFeatures(QgsFeatureRequest().setNoAttributes()):
        g = QgsGeometry(f.geometry())
        if g.isNull() or g.isEmpty():
            continue
        g.transform(tr)
        geoms.append(g)
    if not geoms:
        raise QgsProcessingException("The study area layer has no polygons.")
    area = QgsGeometry.unaryUnion(geoms)
    rings, bbox = _rings_of(area)
    buffered = None
    if buffer:
        buffered = _rings_of(area.buffer(float(buffer), 8))
    if feedback is not None:
        feedback.pushInfo(f"Study area: {len(rings)} ring(s), buffer {buffer or 0:g}.")

    def in_study(x, y):
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        inside = _inside(x, y, rings, bbox)
        if buffered is None:
            return inside
        out = np.flatnonzero(~inside)
        saved = np.zeros(len(x), dtype=bool)
        saved[out] = _inside(x[out], y[out], *buffered)
        return inside | saved, saved

    return in_study


# ------------------------------------------------------------------------------------------
# Reading layers
# ------------------------------------------------------------------------------------------
def _text(value):
    """An attribute value as the text a CSV would hold (NULL -> "", dates in ISO form)."""
    if value is None:
        return ""
    if isinstance(value, QVariant):
        if value.isNull():
            return ""
        value = value.value()
    if isinstance(value, QDateTime):
        return "" if value.isNull() else value.toString("yyyy-MM-ddTHH:mm:ss")
    if isinstance(value, QDate):
        return "" if value.isNull() else value.toString("yyyy-MM-dd")
    if isinstance(value, QTime):
        return "" if value.isNull() else value.toString("HH:mm:ss")
    return str(value)


def layer_frame(layer, with_geometry, feedback=None):
    """Attributes of a layer as strings (``""`` for NULL) and, when asked, x/y of the geometry
    (points; other types use their centroid; NaN when empty) in the layer CRS."""
    names = [f.name() for f in layer.fields()]
    req = QgsFeatureRequest()
    if not with_geometry:
        req.setFlags(FeatureRequestFlag.NoGeometry)
    rows, xs, ys = [], [], []
    total = max(layer.featureCount(), 1)
    for i, f in enumerate(layer.getFeatures(req)):
        if feedback is not None and i % 5000 == 0:
            if feedback.isCanceled():
                raise CompositeIndexError("Cancelled by the user.")
            feedback.setProgress(10.0 * i / total)
        rows.append([_text(v) for v in f.attributes()])
        if with_geometry:
            g = f.geometry()
            if g is None or g.isNull() or g.isEmpty():
                xs.append(np.nan)
                ys.append(np.nan)
            else:
                p = g.asPoint() if g.type() == GeometryType.Point and not g.isMultipart() \
                    else g.centroid().asPoint()
                xs.append(p.x())
                ys.append(p.y())
    frame = pd.DataFrame(rows, columns=names, dtype=object) if rows else \
        pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    return frame, np.asarray(xs, dtype="float64"), np.asarray(ys, dtype="float64")


def _is_text_path(value):
    path = value.split("|")[0]
    return os.path.isfile(path) and os.path.splitext(path)[1].lower() in TEXT_EXTENSIONS


# ------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------
def _fields(frame):
    fields = QgsFields()
    for name in frame.columns:
        kind = field_type("int64") if name == "source_row" else field_type("string")
        fields.append(QgsField(name, kind))
    return fields


def _gpkg_srs_id(dest):
    return gpkg_fast.layer_srs_id(dest)


def write_frame(alg, parameters, key, context, frame, crs, x=None, y=None, feedback=None):
    """Write ``frame`` (strings, ``source_row`` int) to the sink ``key``: points when x/y are
    given, else a table. Returns the destination id."""
    fields = _fields(frame)
    wkb = WkbType.Point if x is not None else WkbType.NoGeometry
    sink, dest_id = alg.parameterAsSink(parameters, key, context, fields, wkb, crs)
    if sink is None:
        raise QgsProcessingException(alg.invalidSinkError(parameters, key))
    table = x is None   # no geometry: closed quietly (base.table_sink_closing says why)
    if len(frame) > 1000 and gpkg_fast.plain_gpkg(dest_id):
        with table_sink_closing(sink) if table else contextlib.nullcontext():
            del sink
        try:
            if x is None:
                filled = gpkg_fast.fill_layer(dest_id, frame)
            else:
                srs = _gpkg_srs_id(dest_id)
                filled = srs is not None and gpkg_fast.fill_layer(
                    dest_id, frame, gpkg_fast.point_blobs(x, y, srs),
                    np.column_stack([x, x, y, y]))
            if filled:
                return dest_id
        except Exception as err:  # noqa: BLE001 (fall back to the sink below)
            if feedback is not None:
                feedback.pushInfo(f"Bulk GeoPackage write failed ({err}); writing feature by "
                                  "feature.")
        sink, dest_id = alg.parameterAsSink(parameters, key, context, fields, wkb, crs)
    cols = [frame[c].tolist() for c in frame.columns]
    xs = x.tolist() if x is not None else None
    ys = y.tolist() if y is not None else None
    n = len(frame)
    batch = []
    for i in range(n):
        f = QgsFeature(fields)
        f.setAttributes([c[i] for c in cols])
        if xs is not None:
            f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(xs[i], ys[i])))
        batch.append(f)
        if len(batch) >= _CHUNK:
            sink.addFeatures(batch, QgsFeatureSink.Flag.FastInsert)
            batch = []
            if feedback is not None:
                if feedback.isCanceled():
                    break
                feedback.setProgress(90 + 10.0 * i / max(n, 1))
    if batch:
        sink.addFeatures(batch, QgsFeatureSink.Flag.FastInsert)
    with table_sink_closing(sink) if table else contextlib.nullcontext():
        del sink
    return dest_id


# ------------------------------------------------------------------------------------------
# The algorithm
# ------------------------------------------------------------------------------------------
class ImportIncidents(CompositeIndexAlgorithm):
    INPUT = "INPUT"
    PRESET = "PRESET"
    X_FIELD = "X_FIELD"
    Y_FIELD = "Y_FIELD"
    SOURCE_CRS = "SOURCE_CRS"
    TARGET_CRS = "TARGET_CRS"
    DATE_FIELD = "DATE_FIELD"
    DATE_FORMATS = "DATE_FORMATS"
    DATE_FROM = "DATE_FROM"
    DATE_TO = "DATE_TO"
    CATEGORY_FIELD = "CATEGORY_FIELD"
    CATEGORY_MAPPING = "CATEGORY_MAPPING"
    REQUIRE_MAPPING = "REQUIRE_MAPPING"
    STUDY_AREA = "STUDY_AREA"
    STUDY_BUFFER = "STUDY_BUFFER"
    DUPLICATE_FIELDS = "DUPLICATE_FIELDS"
    FIX_SWAPPED = "FIX_SWAPPED"
    POSTCODE_FIELD = "POSTCODE_FIELD"
    POSTCODE_LOOKUP = "POSTCODE_LOOKUP"
    ENCODING = "ENCODING"
    DELIMITER = "DELIMITER"
    DECIMAL = "DECIMAL"
    ARCHIVE = "ARCHIVE"
    MONTHS = "MONTHS"
    FORCES = "FORCES"
    PERIOD = "PERIOD"
    CLEAN = "CLEAN"
    REJECTED = "REJECTED"
    REPORT = "REPORT"

    PRESETS = vocab.IMPORT_PRESET_TITLES   # the words of a recipe: vocab.IMPORT_PRESETS
    PERIODS = vocab.IMPORT_PERIOD_TITLES

    NAME = "importincidents"
    DISPLAY_NAME = QT_TRANSLATE_NOOP("CompositeIndex", "Import and cleanse incidents")
    GROUP = QT_TRANSLATE_NOOP("CompositeIndex", "Data preparation")
    GROUP_ID = "datapreparation"
    HELP = QT_TRANSLATE_NOOP("CompositeIndex", (
        "Turns incident tables from police, council, fire, health or probation into a clean point "
        "layer, and proves nothing was lost: every input row is either in CLEAN or in REJECTED "
        "with a reason code (no_coordinates, postcode_not_found, bad_coordinates, swapped_latlon, "
        "outside_crs_area, bad_date, outside_date_window, unmapped_category, outside_study_area, "
        "duplicate). The HTML report states rows in = clean + rejected and counts per reason, "
        "month, category and source.\n\n"
        "ARCHIVE: a police.uk download in one go: the .zip from data.police.uk or the folder it "
        "was unpacked into, holding monthly folders of yyyy-mm-<force>-street.csv files (any "
        "number of months and forces; outcomes and stop-and-search files are left out and "
        "counted). MONTHS picks the first and last month (e.g. 2018-01,2018-12; empty: all), "
        "FORCES the forces by their file-name spelling (e.g. west-yorkshire; empty: all). The "
        "police.uk preset is used. Every row gets a period field from its file's month (PERIOD: "
        "month, calendar year or April-March financial year); rows in = clean + rejected holds for "
        "the whole set and is reported per file, in the log and the report.\n\n"
        "INPUT: one or more CSV/text files (encoding and delimiter detected: UTF-8 with or "
        "without BOM, Windows-1252; comma, semicolon, tab, pipe) or table/point layers, e.g. one "
        "file per month. It is a multiple-layer input: in the dialog tick project layers or add "
        "files with the '...' button; in qgis_process repeat --INPUT=file.csv; from Python pass "
        "a list of paths and/or layers. Text files are read as text (never guessed types), so "
        "no value is lost. "
        "Location from X_FIELD/Y_FIELD in SOURCE_CRS (empty: guessed from the column names "
        "x/easting/longitude... and the values), from POSTCODE_FIELD joined to POSTCODE_LOOKUP "
        "(a CSV with postcode and x/easting and y/northing columns in SOURCE_CRS), or from the "
        "layer geometry. Coordinates may use decimal commas or thousands separators.\n\n"
        "PRESET police.uk: checks the 12-column street-level layout and fills the settings left "
        "empty: Longitude/Latitude in EPSG:4326, Month (yyyy-mm), Crime type mapped with "
        "resources/presets/policeuk_crime_types.csv, duplicates on Crime ID (anti-social "
        "behaviour rows without a Crime ID are never duplicates).\n\n"
        "DATE_FORMATS: formats separated by ';', strptime codes (%d/%m/%Y) or dd/mm/yyyy "
        "style; empty = ISO, dd/mm/yyyy, yyyy-mm and others recognised. DATE_FROM/DATE_TO: "
        "yyyy-mm-dd, yyyy-mm or yyyy, inclusive. CATEGORY_MAPPING: CSV category,issue; without "
        "it the issue is the category in lowercase_with_underscores. DUPLICATE_FIELDS: field "
        "names separated by ','. FIX_SWAPPED: points that fit the CRS area only with X and Y "
        "swapped are fixed and kept (field fixes) instead of rejected.\n\n"
        "CLEAN keeps every original field (as text) plus source_row (record number after the "
        "header), source_file, issue, event_date, fixes and period (when months are known: from the "
        "archive, else from the date field); an input field with one of these names is renamed "
        "name_orig. REJECTED keeps every original field plus source_row, source_file, "
        "reject_reason, reject_detail and period.\n\n"
        "STUDY_AREA and STUDY_BUFFER: rows outside the study area are rejected "
        "(outside_study_area). The default buffer of 50 m keeps points snapped just outside "
        "generalised boundaries: police.uk moves each crime to an anonymised map point coded "
        "against full-resolution boundaries, and generalised boundaries move edges by tens of "
        "metres (on West Yorkshire, points falling outside their own super-generalised LSOA lie a "
        "median 34 m from it). Rows kept thanks to the buffer are counted in the log and marked "
        "in_study_buffer in the field fixes. Set 0 for the exact boundary."
    ))

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUT, self.tr("Incident files (CSV/text) or layers"), ProcessingSourceType.Vector,
            optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.ARCHIVE, self.tr("police.uk archive (.zip, or the folder it was unpacked into)"),
            ProcessingFileParameterBehavior.File, fileFilter="ZIP archives (*.zip *.ZIP)",
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.MONTHS, self.tr("Archive months: first,last (yyyy-mm,yyyy-mm; empty: all)"),
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.FORCES, self.tr("Archive forces (','-separated, e.g. west-yorkshire; empty: all)"),
            optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.PERIOD, self.tr("Period field"), options=[translated(p) for p in self.PERIODS],
            defaultValue=vocab.position(vocab.IMPORT_PERIODS, IMPORT.key("period").default),
            optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.PRESET, self.tr("Preset"), options=[translated(p) for p in self.PRESETS],
            defaultValue=vocab.position(vocab.IMPORT_PRESETS, IMPORT.key("preset").default)))
        for key, label in ((self.X_FIELD, self.tr("X / easting / longitude field (empty: guess)")),
                           (self.Y_FIELD, self.tr("Y / northing / latitude field (empty: guess)"))):
            self.addParameter(QgsProcessingParameterString(key, label, optional=True))
        self.addParameter(QgsProcessingParameterCrs(
            self.SOURCE_CRS, self.tr("CRS of the X/Y (or postcode lookup) coordinates "
                                     "(empty: guess)"), optional=True))
        self.addParameter(QgsProcessingParameterCrs(
            self.TARGET_CRS, self.tr("Output CRS (projected)"), defaultValue="EPSG:27700",
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.DATE_FIELD, self.tr("Date field"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.DATE_FORMATS, self.tr("Date formats (';'-separated; empty: recognise)"),
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.DATE_FROM, self.tr("Keep dates from (yyyy-mm-dd)"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.DATE_TO, self.tr("Keep dates up to (yyyy-mm-dd, inclusive)"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.CATEGORY_FIELD, self.tr("Category field"), optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.CATEGORY_MAPPING, self.tr("Category to issue mapping (CSV category,issue)"),
            extension="csv", optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.REQUIRE_MAPPING, self.tr("Reject categories missing from the mapping"),
            defaultValue=False))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.STUDY_AREA, self.tr("Study area"), [ProcessingSourceType.VectorPolygon],
            optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.STUDY_BUFFER, self.tr("Study area buffer (output CRS units; default 50 m)"),
            ProcessingNumberParameterType.Double, defaultValue=DEFAULT_STUDY_BUFFER, minValue=0.0))
        self.addParameter(QgsProcessingParameterString(
            self.DUPLICATE_FIELDS, self.tr("Duplicate key fields (','-separated)"), optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.FIX_SWAPPED, self.tr("Fix swapped X/Y (lat/lon) instead of rejecting"),
            defaultValue=False))
        self.addParameter(QgsProcessingParameterString(
            self.POSTCODE_FIELD, self.tr("Postcode field (instead of X/Y)"), optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.POSTCODE_LOOKUP, self.tr("Postcode lookup (CSV postcode,x,y in the source CRS)"),
            extension="csv", optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.ENCODING, self.tr("Encoding (empty: detect)"), optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            self.DELIMITER, self.tr("Delimiter"),
            options=[translated(t) for t in vocab.IMPORT_DELIMITER_TITLES],
            defaultValue=vocab.position(vocab.IMPORT_DELIMITERS, IMPORT.key("delimiter").default)))
        self.addParameter(QgsProcessingParameterEnum(
            self.DECIMAL, self.tr("Decimal separator in coordinates"),
            options=[translated(t) for t in vocab.IMPORT_DECIMAL_TITLES],
            defaultValue=vocab.position(vocab.IMPORT_DECIMALS, IMPORT.key("decimal").default)))
        for key in (self.DATE_FORMATS, self.DATE_FROM, self.DATE_TO, self.REQUIRE_MAPPING,
                    self.STUDY_BUFFER, self.ENCODING, self.DELIMITER, self.DECIMAL, self.FORCES,
                    self.PERIOD):
            definition = self.parameterDefinition(key)
            definition.setFlags(definition.flags() | ProcessingParameterFlag.Advanced)
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.CLEAN, self.tr("Clean incidents"), ProcessingSourceType.VectorPoint))
        self.addParameter(QgsProcessingParameterFeatureSink(
            self.REJECTED, self.tr("Rejected rows"), ProcessingSourceType.Vector))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.REPORT, self.tr("Data-quality report"), self.tr("HTML files (*.html)"),
            optional=True, createByDefault=True))
        for key, label in (("ROWS_IN", self.tr("Rows in")), ("CLEAN_COUNT", self.tr("Clean rows")),
                           ("REJECTED_COUNT", self.tr("Rejected rows"))):
            self.addOutput(QgsProcessingOutputNumber(key, label))

    def checkParameterValues(self, parameters, context):
        """INPUT may list text files that OGR cannot open (empty, binary, odd delimiters): they
        are accepted here and reported with a clear message by the reader. Other values must be
        layers; the other parameters get the standard checks."""
        value = parameters.get(self.INPUT)
        values = value if isinstance(value, (list, tuple)) else [value]
        archive = parameters.get(self.ARCHIVE)
        archive = archive.strip() if isinstance(archive, str) else archive
        if archive and not (isinstance(archive, str) and os.path.exists(archive)):
            return False, self.tr("The police.uk archive '{archive}' does not exist: give the "
                                  ".zip file or the folder it was unpacked into.").format(
                                      archive=archive)
        if not archive and (value is None or not [v for v in values if v is not None and v != ""]):
            return False, self.tr("Give at least one incident file or layer (INPUT), or a police.uk "
                                  "archive (ARCHIVE).")
        for v in values:
            if v is None or v == "":
                continue
            if isinstance(v, str) and v and not os.path.isfile(v.split("|")[0]) and \
                    QgsProcessingUtils.mapLayerFromString(v, context) is None:
                return False, self.tr("INPUT '{value}' is neither an existing file nor a "
                                      "layer.").format(value=v)
        for definition in self.parameterDefinitions():
            if definition.name() in (self.INPUT, self.ARCHIVE) or definition.isDestination():
                continue
            if not definition.checkValueIsAcceptable(parameters.get(definition.name()), context):
                return False, self.tr("Incorrect parameter value for {name}").format(
                    name=definition.name())
        return True, ""

    # -- reading -------------------------------------------------------------------------
    def _read_archive(self, parameters, context, feedback, encoding, delimiter, progress):
        """Tables and infos of the police.uk archive (none when ARCHIVE is empty) and its
        listing."""
        path = (self.parameterAsFile(parameters, self.ARCHIVE, context) or "").strip()
        if not path:
            return [], [], None
        months = self.parameterAsString(parameters, self.MONTHS, context).strip() or None
        forces = self.parameterAsString(parameters, self.FORCES, context).strip() or None
        listing = self.run_core(pu.list_archive, path, months, forces)
        feedback.pushInfo("police.uk archive: " + listing.describe())
        gaps = listing.missing_months()
        if gaps:
            text = (f"No street file for {len(gaps)} month(s) between the first and last month"
                    f": {', '.join(gaps[:12])}{' ...' if len(gaps) > 12 else ''}.")
            if listing.months:  # a range was asked for: a gap is worth a warning
                feedback.reportError(text + " Those months are absent from the import.", False)
            else:
                feedback.pushInfo(text)
        tables, infos = self.run_core(pu.read_archive, listing, encoding, delimiter, progress)
        for info in infos:
            feedback.pushInfo(f"  {info['file']}: {info['rows']:,} rows")
        return tables, infos, listing

    def _read_inputs(self, parameters, context, feedback, encoding, delimiter, progress):
        values = [v for v in self.parameterAsFileList(parameters, self.INPUT, context) if v]
        texts, layers, seen = [], [], set()
        for v in values:
            if _is_text_path(v):
                texts.append(v.split("|")[0])
                seen.add(os.path.abspath(v.split("|")[0]))
        for lyr in self.parameterAsLayerList(parameters, self.INPUT, context):
            src = lyr.source().split("|")[0]
            if os.path.isfile(src) and os.path.abspath(src) in seen:
                continue
            if lyr.providerType() == "delimitedtext":
                from qgis.PyQt.QtCore import QUrl

                path = QUrl(lyr.source()).toLocalFile()
                if os.path.isfile(path) and os.path.abspath(path) not in seen:
                    texts.append(path)
                    seen.add(os.path.abspath(path))
                    continue
            layers.append(lyr)
        for v in values:
            if not _is_text_path(v) and os.path.abspath(v.split("|")[0]) not in seen and \
                    QgsProcessingUtils.mapLayerFromString(v, context) is None:
                raise QgsProcessingException(
                    f"Input '{v}' is neither a readable text/CSV file nor a layer. Give CSV or "
                    "text files, or layers (GeoPackage, shapefile, spreadsheet...).")
        if not texts and not layers:
            return [], [], []
        tables, infos, geo = [], [], []
        for i, path in enumerate(texts):
            feedback.pushInfo(f"Reading {path}")
            frame, info = self.run_core(cc.read_table, path, encoding, delimiter)
            feedback.pushInfo(f"  {info['rows']:,} rows, encoding {info['encoding']}, delimiter "
                              f"{cc.DELIMITERS.get(info['delimiter'], info['delimiter'])}")
            tables.append((frame, os.path.basename(path)))
            infos.append(info)
            progress.report((i + 1) / (len(texts) + len(layers)))
        for lyr in layers:
            feedback.pushInfo(f"Reading layer {lyr.name()}")
            spatial = lyr.isSpatial()
            frame, x, y = self.run_core(layer_frame, lyr, spatial, feedback)
            tables.append((frame, lyr.name()))
            infos.append({"path": lyr.source(), "file": lyr.name(), "encoding": "(layer)",
                          "delimiter": "(layer)", "rows": len(frame),
                          "columns": list(frame.columns)})
            geo.append((lyr, x, y) if spatial else (lyr, None, None))
        return tables, infos, geo

    @guarded   # PostGIS inputs and outputs: speed warnings, lost connections, no half tables
    def processAlgorithm(self, parameters, context, feedback):
        progress = progress_from_feedback(feedback)
        preset = self.parameterAsEnum(parameters, self.PRESET, context)
        s = {
            "x_field": self.parameterAsString(parameters, self.X_FIELD, context).strip(),
            "y_field": self.parameterAsString(parameters, self.Y_FIELD, context).strip(),
            "date_field": self.parameterAsString(parameters, self.DATE_FIELD, context).strip(),
            "date_formats": [f for f in self.parameterAsString(
                parameters, self.DATE_FORMATS, context).split(";") if f.strip()],
            "category_field": self.parameterAsString(parameters, self.CATEGORY_FIELD,
                                                     context).strip(),
            "duplicate_fields": [f.strip() for f in self.parameterAsString(
                parameters, self.DUPLICATE_FIELDS, context).split(",") if f.strip()],
            "postcode_field": self.parameterAsString(parameters, self.POSTCODE_FIELD,
                                                     context).strip(),
        }
        mapping_path = self.parameterAsFile(parameters, self.CATEGORY_MAPPING, context)
        lookup_path = self.parameterAsFile(parameters, self.POSTCODE_LOOKUP, context)
        source_crs = self.parameterAsCrs(parameters, self.SOURCE_CRS, context)
        target_crs = self.parameterAsCrs(parameters, self.TARGET_CRS, context)
        if not target_crs.isValid():
            target_crs = QgsCoordinateReferenceSystem(DEFAULT_TARGET_CRS)
        if not target_crs.isValid() or target_crs.isGeographic():
            raise QgsProcessingException(
                f"The output CRS ({target_crs.authid() or 'invalid'}) must be a projected CRS in "
                "metres, e.g. EPSG:27700 (British National Grid).")
        encoding = self.parameterAsString(parameters, self.ENCODING, context).strip() or None
        delimiter = cc.DELIMITER_ENUM[self.parameterAsEnum(parameters, self.DELIMITER, context)] \
            or None
        decimal = cc.DECIMAL_ENUM[self.parameterAsEnum(parameters, self.DECIMAL, context)]

        archive_tables, archive_infos, listing = self._read_archive(
            parameters, context, feedback, encoding, delimiter, progress.sub(0.0, 0.2))
        tables, infos, geo = self._read_inputs(parameters, context, feedback, encoding, delimiter,
                                               progress.sub(0.2, 0.3))
        if not tables and not archive_tables:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        if listing is not None and preset != 1:
            preset = 1
            feedback.pushInfo("A police.uk archive is read with the police.uk preset.")
        tables = archive_tables + tables
        infos = archive_infos + infos
        frame = cc.combine_tables(tables)
        n_in = len(frame)
        for info in infos:
            if info["rows"] == 0:
                feedback.reportError(f"'{info['file']}' has a header but no data rows.", False)
        if n_in == 0:
            raise QgsProcessingException(
                "No data rows to import: " + ", ".join(f"'{i['file']}'" for i in infos) +
                " contain(s) only a header. Check the export.")
        columns = [c for c in frame.columns if c not in cc.HIDDEN]
        notes = []
        for info in infos:      # stray bytes, rows with the wrong number of fields
            for note in info.get("notes", []):
                feedback.reportError(note, False)
                notes.append(note)
        if preset == 1:
            s = self.run_core(cc.apply_preset, s, columns)
            if not mapping_path:
                mapping_path = policeuk_mapping_path()
            if not source_crs.isValid():
                source_crs = QgsCoordinateReferenceSystem(cc.POLICEUK_SETTINGS["source_crs"])
        elif cc.looks_like_policeuk(columns) and not s["x_field"]:
            feedback.pushInfo("The input looks like a police.uk street-level file: consider "
                              "PRESET = 1 (police.uk).")

        # Location mode -----------------------------------------------------------------
        xy = None
        geometry_mode = bool(not s["x_field"] and not s["postcode_field"] and geo and
                             all(x is not None for _, x, _ in geo) and len(geo) == len(tables))
        if geometry_mode:
            xs, ys = [], []
            for lyr, x, y in geo:
                tf = make_transform(lyr.crs(), target_crs)
                tx, ty = tf(x, y) if tf is not None else (x, y)
                xs.append(tx)
                ys.append(ty)
            xy = (np.concatenate(xs), np.concatenate(ys))
            source_crs = target_crs
            notes.append("Locations from the layer geometry, transformed to the output CRS.")
        elif not s["postcode_field"]:
            if not s["x_field"]:
                s["x_field"] = cc.find_column(columns, cc.X_NAMES)
            if not s["y_field"]:
                s["y_field"] = cc.find_column(columns, cc.Y_NAMES)
            if not s["x_field"] or not s["y_field"]:
                raise QgsProcessingException(
                    "Cannot tell which columns hold the coordinates. Give X_FIELD and Y_FIELD "
                    "(or POSTCODE_FIELD with a POSTCODE_LOOKUP). Columns that exist: "
                    + ", ".join(repr(c) for c in columns) + ".")
            feedback.pushInfo(f"Coordinates from '{s['x_field']}' and '{s['y_field']}'.")
        needed = [s["date_field"], s["category_field"]] + s["duplicate_fields"]
        if not geometry_mode:
            needed += [s["postcode_field"]] if s["postcode_field"] else [s["x_field"], s["y_field"]]
        missing = [c for c in needed if c and c not in columns]
        if missing:
            raise QgsProcessingException(str(cc.missing_columns_error(missing, columns)))
        lookup = None
        if s["postcode_field"]:
            if not lookup_path:
                raise QgsProcessingException(
                    "POSTCODE_FIELD is set but POSTCODE_LOOKUP is empty: give a CSV with "
                    "postcode, easting/x and northing/y columns.")
            lookup = self.run_core(cc.read_postcode_lookup, lookup_path)
            if lookup.attrs.get("dropped"):
                feedback.reportError(f"Postcode lookup: {lookup.attrs['dropped']:,} rows without "
                                     "a postcode or readable coordinates were ignored.", False)
            feedback.pushInfo(f"Postcode lookup: {len(lookup):,} postcodes.")
        if not source_crs.isValid():
            if s["postcode_field"]:
                gx, gy = lookup["x"].to_numpy(), lookup["y"].to_numpy()
            else:
                sample = frame[[s["x_field"], s["y_field"]]].head(5000)
                gx = cc.parse_numbers(sample[s["x_field"]].to_numpy(object), decimal)
                gy = cc.parse_numbers(sample[s["y_field"]].to_numpy(object), decimal)
            geographic = cc.guess_geographic(np.asarray(gx), np.asarray(gy)) is not False
            source_crs = QgsCoordinateReferenceSystem("EPSG:4326" if geographic else "EPSG:27700")
            looks = "longitude/latitude" if geographic else "eastings/northings"
            msg = (f"SOURCE_CRS not given: assumed {source_crs.authid()} because the values look "
                   f"like {looks}. Set SOURCE_CRS if this is wrong.")
            feedback.reportError(msg, False)
            notes.append(msg)

        # Options -------------------------------------------------------------------------
        mapping = self.run_core(cc.read_category_mapping, mapping_path) if mapping_path else None
        if mapping is not None and not s["category_field"]:
            raise QgsProcessingException("CATEGORY_MAPPING is set but CATEGORY_FIELD is empty: "
                                         "name the column holding the categories.")
        area = crs_area(source_crs, target_crs, context)
        if area is None:
            notes.append("The valid area of the source CRS is unknown: no CRS-area check.")
        options = cc.CleanseOptions(
            x_field=None if geometry_mode else s["x_field"],
            y_field=None if geometry_mode else s["y_field"],
            postcode_field=s["postcode_field"] or None, postcode_lookup=lookup,
            crs_area=area, fix_swapped=self.parameterAsBool(parameters, self.FIX_SWAPPED, context),
            decimal=decimal, date_field=s["date_field"] or None,
            date_formats=s["date_formats"] or None,
            date_from=self.parameterAsString(parameters, self.DATE_FROM, context).strip() or None,
            date_to=self.parameterAsString(parameters, self.DATE_TO, context).strip() or None,
            category_field=s["category_field"] or None, category_mapping=mapping,
            require_mapping=self.parameterAsBool(parameters, self.REQUIRE_MAPPING, context),
            duplicate_fields=s["duplicate_fields"],
            period=PERIOD_KINDS[self.parameterAsEnum(parameters, self.PERIOD, context)],
            source_months={f.name: f.month for f in listing.files} if listing else None)
        study = self.parameterAsSource(parameters, self.STUDY_AREA, context)
        in_study = None
        buffer = 0.0
        if study is not None:
            buffer = self.parameterAsDouble(parameters, self.STUDY_BUFFER, context)
            unit = QgsUnitTypes.toAbbreviatedString(target_crs.mapUnits())
            if buffer > 0:
                feedback.pushInfo(
                    f"Study area buffered by {buffer:g} {unit}"
                    + (" (the default)" if buffer == DEFAULT_STUDY_BUFFER else "") +
                    ": points snapped just outside generalised boundaries are kept (police.uk "
                    "snaps crimes to map points coded on full-resolution boundaries; generalised "
                    "boundaries move edges by tens of metres - on West Yorkshire, a median 34 m). "
                    "Set STUDY_BUFFER to 0 for the exact boundary.")
            in_study = study_area_test(study, target_crs, buffer, context, feedback)
        to_target = None if geometry_mode else make_transform(source_crs, target_crs)
        result = self.run_core(cc.cleanse, frame, options, xy=xy, to_target=to_target,
                               in_study=in_study, progress=progress.sub(0.3, 0.75))
        result.sources = infos
        result.listing = listing
        if listing is not None:
            notes.append("police.uk archive: " + listing.describe())
        for note in result.notes:
            feedback.reportError(note, False)
        result.notes = notes + result.notes
        feedback.pushInfo(result.summary())
        per_file = pu.per_source_counts(result)
        if len(per_file) > 1 or listing is not None:
            feedback.pushInfo("Per file (rows in = clean + rejected):")
            for name, n_file, n_clean, n_rej in per_file:
                feedback.pushInfo(f"  {name}: {n_file:,} = {n_clean:,} + {n_rej:,}")
        if result.period is not None:
            per_period = result.clean["period"].value_counts(sort=False).sort_index()
            feedback.pushInfo("Clean rows per period: " + ", ".join(
                f"{lab or '(unknown)'} {int(c):,}" for lab, c in per_period.items()) + ".")
        if study is not None and buffer > 0:
            kept = result.fixed.get("in_study_buffer", 0)
            feedback.pushInfo(
                f"Study area buffer: {kept:,} row(s) lie outside the study area's boundary but "
                f"within {buffer:g} {unit} of it and were kept (fixes = in_study_buffer); "
                f"{result.counts['outside_study_area']:,} row(s) lie beyond the buffer and were "
                "rejected.")
        # routine cleansing, not a failure: a warning with the count of each reason
        for reason, count in result.counts.items():
            if count:
                feedback.pushWarning(f"{count:,} of {result.n_in:,} row(s) rejected: {reason} "
                                     f"({cc.REASON_LABELS[reason]}); kept in the rejected layer.")
        if feedback.isCanceled():
            return {}

        # Outputs -------------------------------------------------------------------------
        feedback.pushInfo("Writing the clean points...")
        clean_id = write_frame(self, parameters, self.CLEAN, context, result.clean, target_crs,
                               result.x, result.y, feedback)
        feedback.setProgress(90)
        feedback.pushInfo("Writing the rejected rows...")
        rejected_id = write_frame(self, parameters, self.REJECTED, context, result.rejected,
                                  target_crs, feedback=feedback)
        outputs = {self.CLEAN: clean_id, self.REJECTED: rejected_id, "ROWS_IN": result.n_in,
                   "CLEAN_COUNT": result.n_clean, "REJECTED_COUNT": result.n_rejected}
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            settings = {
                "preset": self.PRESETS[preset],
                "location": ("layer geometry" if geometry_mode else
                             f"postcode {s['postcode_field']}" if s["postcode_field"] else
                             f"{s['x_field']} / {s['y_field']}"),
                "source CRS": source_crs.authid() or source_crs.description(),
                "output CRS": target_crs.authid() or target_crs.description(),
                "CRS valid area (source units)": ", ".join(f"{v:.6g}" for v in area) if area
                else "none",
                "date field": s["date_field"] or "none",
                "date window": f"{options.date_from or '...'} to {options.date_to or '...'}",
                "category field": s["category_field"] or "none",
                "mapping": mapping_path or "none",
                "duplicate key": ", ".join(s["duplicate_fields"]) or "none",
                "fix swapped": str(options.fix_swapped),
                "study area": (f"yes, buffer {buffer:g}" if study is not None else "none"),
                "period field": self.PERIODS[self.parameterAsEnum(parameters, self.PERIOD,
                                                                  context)],
            }
            if listing is not None:
                settings["police.uk archive"] = listing.path
                settings["months"] = (f"{listing.months[0]} to {listing.months[1]}"
                                      if listing.months else "all")
            cats = frame[s["category_field"]].to_numpy(object) if s["category_field"] else None
            text = cc.report_html(result, settings=settings, categories=cats,
                                  sources=frame["source_file"].to_numpy(object))
            with open(report, "w", encoding="utf-8") as fh:
                fh.write(text)
            outputs[self.REPORT] = report
        from composite_index_plugin.processing.transaction import count_features

        for label, dest, expected in (("clean", clean_id, result.n_clean),
                                      ("rejected", rejected_id, result.n_rejected)):
            written = count_features(dest)   # what is in the layer, not what was handed over
            if written is not None and written != expected:
                raise QgsProcessingException(
                    f"The {label} layer holds {written:,} row(s), not the {expected:,} the import "
                    "made: it was not written whole (full disk, or a limit of the format). "
                    "Nothing was replaced; check the disk and the output, then run again.")
        feedback.pushInfo(f"Rows in {result.n_in:,} = clean {result.n_clean:,} + rejected "
                          f"{result.n_rejected:,} (invariant holds; both layers checked).")
        return outputs


ALGORITHMS = [ImportIncidents]

