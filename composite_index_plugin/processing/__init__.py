"""Processing provider and algorithms: thin glue between QGIS layers and the core."""
