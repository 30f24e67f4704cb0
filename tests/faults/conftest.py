"""Fixtures of the fault-injection suite (issue 15)."""
import shutil

import pytest

from tests.faults.helpers import SAMPLE


@pytest.fixture
def recipe_dir(tmp_path):
    """A folder holding the sample GeoPackage as b.gpkg (the recipe goes beside it)."""
    folder = tmp_path / "recipe"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "b.gpkg")
    return folder


@pytest.fixture(autouse=True)
def _provider(provider):
    """Every fault test may run the algorithms."""
    yield
