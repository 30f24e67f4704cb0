"""Helpers between the Builder and QGIS: layer <-> recipe source, finding and opening the
layer a source names, and the area of a study area. The pure helpers (relative and absolute
paths, sources of a recipe, JSON paths, the cell-count estimate) are in ``recipe_paths`` and
re-exported here.
"""
import os

from qgis.core import (
    QgsDistanceArea,
    QgsFeatureRequest,
    QgsProject,
    QgsProviderRegistry,
    QgsUnitTypes,
    QgsVectorLayer,
)

from composite_index_plugin.gui.recipe_paths import (  # noqa: F401 - re-exported
    absolutize,
    cell_area,
    estimate_cells,
    node_path,
    relativize,
    source_dicts,
    source_text,
    split_path,
)
from composite_index_plugin.qgis_compat import DistanceUnit


def layer_source(layer):
    """The recipe source for a project layer: a file path (and layer name) when the layer is a
    file OGR can open, a provider URI for databases, else the layer's name in the project."""
    provider = layer.providerType()
    if provider == "ogr":
        parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
        path = parts.get("path") or ""
        if path and os.path.exists(path):
            source = {"path": os.path.abspath(path)}
            if parts.get("layerName"):
                source["layer"] = parts["layerName"]
            return source
    if provider in ("postgres", "spatialite", "mssql", "oracle", "hana"):
        return {"uri": layer.source(), "provider": provider}
    return {"project_layer": layer.name()}


def _norm(path):
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


def same_source(a, b):
    """True when two recipe sources name the same data."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return False
    if "path" in a and "path" in b:
        if _norm(a["path"]) != _norm(b["path"]):
            return False
        la, lb = a.get("layer"), b.get("layer")
        return la == lb or la is None or lb is None
    for key in ("project_layer", "uri"):
        if key in a or key in b:
            return a.get(key) == b.get(key)
    return False


def find_layer(source, project=None, kinds=None):
    """The vector layer of ``project`` that ``source`` names, or None."""
    project = project or QgsProject.instance()
    if not isinstance(source, dict) or "import" in source:
        return None
    for layer in project.mapLayers().values():
        if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
            continue
        if kinds is not None and layer.geometryType() not in kinds:
            continue
        if "project_layer" in source:
            if layer.name() == source["project_layer"]:
                return layer
        elif same_source(layer_source(layer), source):
            return layer
    return None


def open_source(source):
    """A new QgsVectorLayer for a file source (None for other kinds or when it cannot open)."""
    if not isinstance(source, dict) or "path" not in source or "import" in source:
        return None
    if not os.path.exists(source["path"]):
        return None
    uri = source["path"] + (f"|layername={source['layer']}" if source.get("layer") else "")
    name = source.get("layer") or os.path.splitext(os.path.basename(source["path"]))[0]
    layer = QgsVectorLayer(uri, name, "ogr")
    return layer if layer.isValid() else None


def study_area_m2(layer, expression=None):
    """Area of a polygon layer in square metres (ellipsoidal for a geographic CRS)."""
    measure = QgsDistanceArea()
    measure.setSourceCrs(layer.crs(), QgsProject.instance().transformContext())
    if layer.crs().isGeographic():
        measure.setEllipsoid(layer.crs().ellipsoidAcronym() or "EPSG:7030")
    request = QgsFeatureRequest()
    if expression:
        request.setFilterExpression(expression)
    total = 0.0
    for feature in layer.getFeatures(request):
        geom = feature.geometry()
        if geom is not None and not geom.isEmpty():
            total += measure.measureArea(geom)
    if layer.crs().isGeographic():
        return total
    return total * _unit_to_m2(layer)


def _unit_to_m2(layer):
    factor = QgsUnitTypes.fromUnitToUnitFactor(layer.crs().mapUnits(), DistanceUnit.Meters)
    return factor * factor
