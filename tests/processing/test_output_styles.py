"""Outputs arrive styled when Processing loads them into the project (post-processors)."""
import pytest
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)


@pytest.fixture
def loaded(provider, load_results_without_iface):
    """Run an algorithm as the toolbox does (results loaded into the project); clean up after."""
    import processing

    added = []

    def run(alg, params):
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        before = set(QgsProject.instance().mapLayers())
        result = processing.runAndLoadResults(alg, params, context=context,
                                              feedback=QgsProcessingFeedback())
        new = [QgsProject.instance().mapLayer(i) for i in
               set(QgsProject.instance().mapLayers()) - before]
        added.extend(layer.id() for layer in new)
        return result, {layer.name(): layer for layer in new}

    yield run
    QgsProject.instance().removeMapLayers(added)


def _study():
    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=name:string", "study", "memory")
    f = QgsFeature(layer.fields())
    f.setAttributes(["A"])
    f.setGeometry(QgsGeometry.fromWkt("POLYGON((0 0, 2000 0, 2000 2000, 0 2000, 0 0))"))
    layer.dataProvider().addFeatures([f])
    return layer


def test_grid_and_counts_are_styled(loaded):
    _, grid_layers = loaded("compositeindex:creategrid", {"STUDY_AREA": _study(), "SHAPE": 0,
                                                          "SIZE": 500, "OUTPUT": "TEMPORARY_OUTPUT"})
    (grid,) = grid_layers.values()
    symbol = grid.renderer().symbol()
    assert symbol.color().alpha() == 0 or symbol.symbolLayer(0).brushStyle() == 0  # outline only
    points = QgsVectorLayer("Point?crs=EPSG:27700", "p", "memory")
    feats = []
    for i in range(40):
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(100 + (i % 4) * 500, 100 + i * 10)))
        feats.append(f)
    points.dataProvider().addFeatures(feats)
    _, counted = loaded("compositeindex:aggregatepat", {"ZONES": grid, "LOCATIONS": points,
                                                        "ISSUE": "asb", "OUTPUT": "TEMPORARY_OUTPUT"})
    (layer,) = counted.values()
    renderer = layer.renderer()
    assert renderer.type() == "graduatedSymbol"
    assert renderer.classAttribute() == "asb_locations"
    assert len(renderer.ranges()) >= 2
