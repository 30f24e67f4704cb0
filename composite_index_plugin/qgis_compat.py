"""The one place where the plugin meets the differences between QGIS 3.22 and QGIS 3.40+ / 4 (Qt6).

QGIS moved its enums into scoped ones on ``Qgis`` (``QgsProcessing.TypeVectorPolygon`` became
``Qgis.ProcessingSourceType.VectorPolygon`` in 3.36, ``QgsWkbTypes.Point`` became
``Qgis.WkbType.Point`` in 3.30, ...) and QGIS 3.38 made ``QgsField`` take ``QMetaType.Type``
instead of ``QVariant.Type``. QGIS 4 (PyQt6) keeps only the new spellings, QGIS 3.22 has only the
old ones. So each enum the plugin uses is resolved here once, at import, to the scoped member
when the running QGIS has it and to the legacy one otherwise; the classes below are named after
the ``Qgis`` enums, so that when 3.22 support ends ``from composite_index_plugin.qgis_compat
import WkbType`` becomes ``Qgis.WkbType`` with nothing else to change. Which legacy name maps to
which scoped one is QGIS's own list (scripts/qt6_facts/legacy_qgis_enums.txt). QGIS 3.40 and
3.44 have the scoped form of every enum below (3.40 lacks LayoutRenderFlag and LegendComponent),
3.22 of none; tests/test_qt6_check.py checks which one each name resolved to.

Names are given as strings and looked up on ``qgis.core``/``qgis.gui``, so that nothing here
spells a legacy attribute that scripts/check_qt6.py would (rightly) reject elsewhere.
Class enums that stay on their class (``QgsFeatureSink.Flag.FastInsert``, ``Qt.AlignmentFlag``)
need no help: PyQt5 accepts their scoped spelling on every QGIS we support.
"""
import importlib

from qgis.core import QgsField
from qgis.PyQt.QtCore import QMetaType, QVariant

try:
    from qgis.PyQt.QtGui import QAction
except ImportError:  # QGIS 3.22's qgis.PyQt.QtGui does not re-export PyQt5's QAction (3.40 does)
    from qgis.PyQt.QtWidgets import QAction

__all__ = ["QAction", "field_type", "make_field", "NUMERIC_FIELD_TYPES", "USE_QMETATYPE"]

_MODULES = ("qgis.core", "qgis.gui")
PAIRS = []  # (scoped, legacy, picked value) for every enum resolved below, for the tests


def lookup(dotted):
    """The object at ``dotted`` (e.g. ``"Qgis.WkbType.Point"``) in qgis.core or qgis.gui, or None."""
    head, *rest = dotted.split(".")
    for name in _MODULES:
        obj = getattr(importlib.import_module(name), head, None)
        if obj is None:
            continue
        for part in rest:
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    return None


def pick(scoped, legacy):
    """The scoped enum member if this QGIS has it, else the legacy one (QGIS before 3.30/3.36)."""
    value = lookup(scoped)
    if value is None:
        value = lookup(legacy)
    if value is None:
        raise ImportError(f"this QGIS has neither {scoped} nor {legacy}")
    PAIRS.append((scoped, legacy, value))
    return value


class ProcessingSourceType:  # Qgis.ProcessingSourceType
    Vector = pick("Qgis.ProcessingSourceType.Vector", "QgsProcessing.TypeVector")
    VectorAnyGeometry = pick("Qgis.ProcessingSourceType.VectorAnyGeometry",
                             "QgsProcessing.TypeVectorAnyGeometry")
    VectorPoint = pick("Qgis.ProcessingSourceType.VectorPoint", "QgsProcessing.TypeVectorPoint")
    VectorLine = pick("Qgis.ProcessingSourceType.VectorLine", "QgsProcessing.TypeVectorLine")
    VectorPolygon = pick("Qgis.ProcessingSourceType.VectorPolygon", "QgsProcessing.TypeVectorPolygon")


class ProcessingNumberParameterType:  # Qgis.ProcessingNumberParameterType
    Integer = pick("Qgis.ProcessingNumberParameterType.Integer", "QgsProcessingParameterNumber.Integer")
    Double = pick("Qgis.ProcessingNumberParameterType.Double", "QgsProcessingParameterNumber.Double")


class ProcessingFieldParameterDataType:  # Qgis.ProcessingFieldParameterDataType
    Any = pick("Qgis.ProcessingFieldParameterDataType.Any", "QgsProcessingParameterField.Any")
    Numeric = pick("Qgis.ProcessingFieldParameterDataType.Numeric", "QgsProcessingParameterField.Numeric")
    String = pick("Qgis.ProcessingFieldParameterDataType.String", "QgsProcessingParameterField.String")


class ProcessingParameterFlag:  # Qgis.ProcessingParameterFlag
    Advanced = pick("Qgis.ProcessingParameterFlag.Advanced",
                    "QgsProcessingParameterDefinition.FlagAdvanced")
    Optional = pick("Qgis.ProcessingParameterFlag.Optional",
                    "QgsProcessingParameterDefinition.FlagOptional")
    Hidden = pick("Qgis.ProcessingParameterFlag.Hidden", "QgsProcessingParameterDefinition.FlagHidden")


class ProcessingAlgorithmFlag:  # Qgis.ProcessingAlgorithmFlag
    NoThreading = pick("Qgis.ProcessingAlgorithmFlag.NoThreading",
                       "QgsProcessingAlgorithm.FlagNoThreading")


class ProcessingFileParameterBehavior:  # Qgis.ProcessingFileParameterBehavior
    File = pick("Qgis.ProcessingFileParameterBehavior.File", "QgsProcessingParameterFile.File")
    Folder = pick("Qgis.ProcessingFileParameterBehavior.Folder", "QgsProcessingParameterFile.Folder")


class PropertyType:  # Qgis.PropertyType
    Static = pick("Qgis.PropertyType.Static", "QgsProperty.StaticProperty")


class WkbType:  # Qgis.WkbType
    NoGeometry = pick("Qgis.WkbType.NoGeometry", "QgsWkbTypes.NoGeometry")
    Point = pick("Qgis.WkbType.Point", "QgsWkbTypes.Point")
    MultiPoint = pick("Qgis.WkbType.MultiPoint", "QgsWkbTypes.MultiPoint")
    LineString = pick("Qgis.WkbType.LineString", "QgsWkbTypes.LineString")
    Polygon = pick("Qgis.WkbType.Polygon", "QgsWkbTypes.Polygon")
    MultiPolygon = pick("Qgis.WkbType.MultiPolygon", "QgsWkbTypes.MultiPolygon")


class GeometryType:  # Qgis.GeometryType
    Point = pick("Qgis.GeometryType.Point", "QgsWkbTypes.PointGeometry")
    Line = pick("Qgis.GeometryType.Line", "QgsWkbTypes.LineGeometry")
    Polygon = pick("Qgis.GeometryType.Polygon", "QgsWkbTypes.PolygonGeometry")
    Null = pick("Qgis.GeometryType.Null", "QgsWkbTypes.NullGeometry")


class FeatureRequestFlag:  # Qgis.FeatureRequestFlag
    NoGeometry = pick("Qgis.FeatureRequestFlag.NoGeometry", "QgsFeatureRequest.NoGeometry")


class SpatialIndexPresence:  # Qgis.SpatialIndexPresence
    NotPresent = pick("Qgis.SpatialIndexPresence.NotPresent", "QgsFeatureSource.SpatialIndexNotPresent")
    Present = pick("Qgis.SpatialIndexPresence.Present", "QgsFeatureSource.SpatialIndexPresent")


class DistanceUnit:  # Qgis.DistanceUnit
    Meters = pick("Qgis.DistanceUnit.Meters", "QgsUnitTypes.DistanceMeters")
    Kilometers = pick("Qgis.DistanceUnit.Kilometers", "QgsUnitTypes.DistanceKilometers")


class AreaUnit:  # Qgis.AreaUnit
    SquareMeters = pick("Qgis.AreaUnit.SquareMeters", "QgsUnitTypes.AreaSquareMeters")


class RenderUnit:  # Qgis.RenderUnit
    Millimeters = pick("Qgis.RenderUnit.Millimeters", "QgsUnitTypes.RenderMillimeters")
    Points = pick("Qgis.RenderUnit.Points", "QgsUnitTypes.RenderPoints")


class LayoutUnit:  # Qgis.LayoutUnit
    Millimeters = pick("Qgis.LayoutUnit.Millimeters", "QgsUnitTypes.LayoutMillimeters")


class LayoutRenderFlag:  # Qgis.LayoutRenderFlag (3.44 has it, 3.40 not yet)
    Antialiasing = pick("Qgis.LayoutRenderFlag.Antialiasing", "QgsLayoutRenderContext.FlagAntialiasing")
    UseAdvancedEffects = pick("Qgis.LayoutRenderFlag.UseAdvancedEffects",
                              "QgsLayoutRenderContext.FlagUseAdvancedEffects")
    ForceVectorOutput = pick("Qgis.LayoutRenderFlag.ForceVectorOutput",
                             "QgsLayoutRenderContext.FlagForceVectorOutput")


class LegendComponent:  # Qgis.LegendComponent (3.44 has it, 3.40 not yet)
    Title = pick("Qgis.LegendComponent.Title", "QgsLegendStyle.Title")
    Group = pick("Qgis.LegendComponent.Group", "QgsLegendStyle.Group")
    Subgroup = pick("Qgis.LegendComponent.Subgroup", "QgsLegendStyle.Subgroup")
    Symbol = pick("Qgis.LegendComponent.Symbol", "QgsLegendStyle.Symbol")
    SymbolLabel = pick("Qgis.LegendComponent.SymbolLabel", "QgsLegendStyle.SymbolLabel")


class LabelPlacement:  # Qgis.LabelPlacement
    # 3.40+ also gives QgsPalLayerSettings.OverPoint to LabelPredefinedPointPosition (QGIS's own
    # name clash), which QgsPalLayerSettings.placement refuses: the scoped name is the only safe one
    OverPoint = pick("Qgis.LabelPlacement.OverPoint", "QgsPalLayerSettings.OverPoint")


class ScaleBarSegmentSizeMode:  # Qgis.ScaleBarSegmentSizeMode
    FitWidth = pick("Qgis.ScaleBarSegmentSizeMode.FitWidth", "QgsScaleBarSettings.SegmentSizeFitWidth")


class CrsWktVariant:  # Qgis.CrsWktVariant
    Preferred = pick("Qgis.CrsWktVariant.Preferred", "QgsCoordinateReferenceSystem.WKT_PREFERRED")
    PreferredGdal = pick("Qgis.CrsWktVariant.PreferredGdal",
                         "QgsCoordinateReferenceSystem.WKT_PREFERRED_GDAL")


class LayerFilter:  # Qgis.LayerFilter (was QgsMapLayerProxyModel.Filter, in qgis.gui)
    PointLayer = pick("Qgis.LayerFilter.PointLayer", "QgsMapLayerProxyModel.PointLayer")
    PolygonLayer = pick("Qgis.LayerFilter.PolygonLayer", "QgsMapLayerProxyModel.PolygonLayer")


# ---- calls that QGIS deprecated after 3.22 -----------------------------------------------------

def parameter_as_fields(algorithm, parameters, name, context):
    """Field names of a field parameter: ``parameterAsStrings`` where QGIS has it (3.40 deprecates
    ``parameterAsFields`` for it), ``parameterAsFields`` on 3.22."""
    method = getattr(algorithm, "parameterAsStrings", None)
    if method is None:
        method = getattr(algorithm, "parameterAsFields")  # noqa: B009 - deprecated on 3.40+
    return method(parameters, name, context)


def _text_format_holder(item, component):
    """What holds the QgsTextFormat of a layout label (``component`` None) or of a legend
    component, where this QGIS has text formats there (3.40: yes; 3.22: fonts only)."""
    holder = item if component is None else item.rstyle(component)
    return holder if hasattr(holder, "setTextFormat") else None


def item_font(item, component=None):
    """The QFont of a QgsLayoutItemLabel, or of one legend component of a QgsLayoutItemLegend."""
    holder = _text_format_holder(item, component)
    if holder is not None:
        return holder.textFormat().font()
    if component is None:
        return item.font()
    return getattr(item, "styleFont")(component)  # noqa: B009 - deprecated on 3.40+


def set_item_font(item, font, component=None):
    """Give a layout label (or one legend component) ``font``, its point size included (what
    the deprecated ``setFont``/``setStyleFont`` do on 3.40)."""
    holder = _text_format_holder(item, component)
    if holder is None:
        if component is None:
            item.setFont(font)
        else:
            getattr(item, "setStyleFont")(component, font)  # noqa: B009 - deprecated on 3.40+
        return
    fmt = holder.textFormat()
    fmt.setFont(font)
    if font.pointSizeF() > 0:
        fmt.setSize(font.pointSizeF())
        fmt.setSizeUnit(RenderUnit.Points)
    holder.setTextFormat(fmt)


def set_font_family(item, family, component=None):
    """Give a layout label (or one legend component) the font ``family``, keeping its size."""
    holder = _text_format_holder(item, component)
    if holder is None:
        font = item_font(item, component)
        font.setFamily(family)
        set_item_font(item, font, component)
        return
    fmt = holder.textFormat()
    font = fmt.font()
    font.setFamily(family)
    fmt.setFont(font)
    holder.setTextFormat(fmt)


# ---- field types -------------------------------------------------------------------------------

# QMetaType.Type names for our kinds; QVariant.Type has the same numbers under older names.
_KINDS = {"int": ("Int", "Int"), "uint": ("UInt", "UInt"), "int64": ("LongLong", "LongLong"),
          "uint64": ("ULongLong", "ULongLong"), "double": ("Double", "Double"),
          "string": ("QString", "String"), "bool": ("Bool", "Bool"), "date": ("QDate", "Date"),
          "datetime": ("QDateTime", "DateTime"), "time": ("QTime", "Time")}


def _qgsfield_takes_qmetatype():
    """QGIS 3.38+ builds QgsField from QMetaType.Type (and warns on QVariant.Type); older ones
    accept only QVariant.Type. Asked of the running QGIS rather than of its version number."""
    try:
        QgsField("x", QMetaType.Type.Int)
    except TypeError:
        return False
    return True


USE_QMETATYPE = _qgsfield_takes_qmetatype()


def _resolve_type(kind):
    try:
        meta_name, variant_name = _KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown field kind {kind!r}; known: {', '.join(_KINDS)}") from None
    if USE_QMETATYPE:
        return getattr(QMetaType.Type, meta_name)
    return getattr(QVariant, variant_name)


_TYPES = {kind: _resolve_type(kind) for kind in _KINDS}


def field_type(kind):
    """The field type this QGIS wants for ``kind`` ("int", "uint", "int64", "uint64", "double",
    "string", "bool", "date", "datetime", "time"): ``QMetaType.Type`` on QGIS 3.38+,
    ``QVariant.Type`` before. Compare ``QgsField.type()`` with it as well."""
    try:
        return _TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown field kind {kind!r}; known: {', '.join(_KINDS)}") from None


def make_field(name, kind, length=0, precision=0):
    """``QgsField(name, <type of kind>, ...)`` without the deprecated QVariant constructor."""
    if length or precision:
        return QgsField(name, field_type(kind), "", length, precision)
    return QgsField(name, field_type(kind))


NUMERIC_FIELD_TYPES = tuple(field_type(k) for k in ("int", "uint", "int64", "uint64", "double"))
