"""Write resources/layouts/assessment_overview.qpt and assessment_area.qpt from the code in
processing/assessment_layout.py. Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/build_layouts.py``.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from composite_index_plugin.processing.assessment_layout import write_templates

    for path in write_templates():
        print("wrote", os.path.relpath(path, ROOT))
    app.exitQgis()


if __name__ == "__main__":
    main()
