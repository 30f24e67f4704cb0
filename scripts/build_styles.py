"""Write the shared .qml styles of resources/styles from the code in processing/styling.py.

Run from the repository: ``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/build_styles.py``.
The role and score styles are rebuilt from the data when applied (``styling.apply_style``); the
files carry the look (ramp, outline) and a placeholder classification.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    from qgis.core import QgsApplication, QgsVectorLayer

    app = QgsApplication([], False)
    app.initQgis()
    from composite_index_plugin.processing import styling

    def save(layer, name):
        path = styling.style_path(name)
        message, ok = layer.saveNamedStyle(path)
        if not ok:
            raise SystemExit(f"could not write {path}: {message}")
        print("wrote", os.path.relpath(path, ROOT))

    for role, ramp_name in styling.ROLE_RAMPS.items():
        layer = QgsVectorLayer(f"Polygon?crs=EPSG:27700&field=issue_{role}:double", role, "memory")
        renderer = styling.graduated_renderer([0, 0, 1, 2, 3, 5, 8, 13, 21, 34], f"issue_{role}",
                                              ramp_name, 5)
        layer.setRenderer(renderer)
        save(layer, f"role_{role}")

    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=ci_score:double", "score", "memory")
    layer.setRenderer(styling.graduated_renderer(list(range(0, 101)), "ci_score", "YlOrRd", 7,
                                                 mode="equal"))
    save(layer, "index_score")

    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=p_top_decile:double", "sensitivity",
                           "memory")
    layer.setRenderer(styling.sensitivity_renderer())
    save(layer, "sensitivity")

    layer = QgsVectorLayer("Polygon?crs=EPSG:27700&field=area_name:string", "areas", "memory")
    layer.setRenderer(styling.outline_renderer())
    save(layer, "area_outline")
    app.exitQgis()


if __name__ == "__main__":
    main()
