"""Pure numpy / pandas computation. Nothing here may import qgis or Qt."""
