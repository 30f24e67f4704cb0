"""Helpers for the PostGIS tests: run an algorithm, read any output into a sorted table."""
import pandas as pd

# columns that differ by storage only (feature ids, the key PostGIS outputs get)
STORAGE_COLUMNS = {"fid", "id", "ogc_fid"}


def run(alg_id, params, feedback=None, context=None):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    return processing.run(alg_id, params, context=context or QgsProcessingContext(),
                          feedback=feedback or QgsProcessingFeedback())


def as_layer(value, name="layer"):
    """A QgsVectorLayer for a Processing output value (file path, ogr: or postgres:// string)."""
    from qgis.core import QgsVectorLayer

    if isinstance(value, QgsVectorLayer):
        return value
    if value.startswith("postgres://"):
        return QgsVectorLayer(value[len("postgres://"):], name, "postgres")
    if value.startswith("postgis:"):
        return QgsVectorLayer(value[len("postgis:"):], name, "postgres")
    if value.startswith("ogr:"):
        from qgis.core import QgsProviderRegistry
        parts = QgsProviderRegistry.instance().decodeUri("ogr", value[4:])
        del parts
        value = value[4:]
    return QgsVectorLayer(value, name, "ogr")


def table(value, key=None, decimals=6):
    """Attributes and geometry (WKT rounded to ``decimals``) of a layer, sorted by ``key``.

    Storage-only columns (fid, id) are dropped and names are lowercased (QGIS writes PostGIS
    field names in lowercase: an input field ``PCON22C`` comes out as ``pcon22c``), so a
    GeoPackage and a PostGIS copy of the same result compare equal.
    """
    layer = as_layer(value)
    assert layer.isValid(), f"cannot open {value}"
    names = [n for n in layer.fields().names() if n.lower() not in STORAGE_COLUMNS]
    rows = []
    for f in layer.getFeatures():
        row = {n: f[n] for n in names}
        for n, v in row.items():
            if v is not None and hasattr(v, "isNull") and v.isNull():
                row[n] = None
        g = f.geometry()
        if g is not None and not g.isNull():
            g = g.constGet().clone()
            from qgis.core import QgsGeometry
            geom = QgsGeometry(g)
            geom.convertToMultiType()
            row["__geom"] = geom.asWkt(decimals)
        else:
            row["__geom"] = None
        rows.append(row)
    frame = pd.DataFrame(rows, columns=names + ["__geom"])
    frame.columns = [c.lower() for c in frame.columns]
    sort = [key.lower()] if key else list(frame.columns)
    return frame.sort_values(sort, kind="mergesort").reset_index(drop=True)


def assert_same(a, b, key=None):
    """Two outputs hold the same features (attributes and geometries)."""
    ta, tb = table(a, key), table(b, key)
    assert list(ta.columns) == list(tb.columns), (list(ta.columns), list(tb.columns))
    assert len(ta) == len(tb), (len(ta), len(tb))
    pd.testing.assert_frame_equal(ta, tb, check_dtype=False, check_exact=False, rtol=1e-12, atol=1e-9)
    return ta


class RecordingFeedback:
    """Factory for a QgsProcessingFeedback that keeps warnings and infos."""

    @staticmethod
    def make():
        from qgis.core import QgsProcessingFeedback

        class _Feedback(QgsProcessingFeedback):
            def __init__(self):
                super().__init__()
                self.warnings, self.infos, self.errors = [], [], []

            def pushWarning(self, text):
                self.warnings.append(text)
                super().pushWarning(text)

            def pushInfo(self, text):
                self.infos.append(text)
                super().pushInfo(text)

            def reportError(self, text, fatalError=False):
                self.errors.append(text)
                super().reportError(text, fatalError)

        return _Feedback()
