"""Shared fixtures. pytest-qgis starts one QgsApplication for the whole session."""
import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def provider(qgis_processing):
    """The Composite Index provider registered in the Processing registry (once per session)."""
    from qgis.core import QgsApplication

    from composite_index_plugin.processing.provider import CompositeIndexProvider

    registry = QgsApplication.processingRegistry()
    existing = registry.providerById("compositeindex")
    if existing is not None:
        yield existing
        return
    prov = CompositeIndexProvider()
    registry.addProvider(prov)
    yield prov
    if registry.providerById("compositeindex") is not None:
        registry.removeProvider("compositeindex")


@pytest.fixture
def load_results_without_iface(monkeypatch):
    """Load algorithm results into the project as ``qgis_process`` and scripts do, without an iface.

    QGIS 3.44's result loading passes ``iface.layerTreeView()`` to C++; pytest-qgis's iface stub
    answers that with a MagicMock (there is no real layer tree view without the desktop), which
    C++ refuses. 3.22 never touches iface there."""
    from processing.gui import Postprocessing

    if hasattr(Postprocessing, "iface"):
        monkeypatch.setattr(Postprocessing, "iface", None)


@pytest.fixture
def restore_provider():
    """For tests that unload the plugin: put a provider back afterwards, so later tests find
    the algorithms whatever the order."""
    yield
    from qgis.core import QgsApplication

    from composite_index_plugin.processing.provider import CompositeIndexProvider

    registry = QgsApplication.processingRegistry()
    if registry.providerById("compositeindex") is None:
        _KEEP.append(CompositeIndexProvider())  # keep the Python object alive, or sip deletes it
        registry.addProvider(_KEEP[-1])


_KEEP = []


@pytest.fixture
def data_copy(tmp_path):
    """Copy a file (and, for shapefiles, its siblings) from tests/data into tmp_path."""

    def _copy(name):
        src = os.path.join(DATA, name)
        stem, _ = os.path.splitext(src)
        for sibling in os.listdir(os.path.dirname(src)):
            full = os.path.join(os.path.dirname(src), sibling)
            if os.path.splitext(full)[0] == stem:
                shutil.copy(full, tmp_path / sibling)
        return str(tmp_path / os.path.basename(src))

    return _copy
