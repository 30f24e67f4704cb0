"""A full disk and a read-only folder are clear errors naming the file and what to do, and the
previous outputs stay (issue 15). The disk is a small tmpfs mounted for the test (root only);
where the machine cannot mount one the tests are skipped with the reason."""
import os
import shutil
import subprocess

import pytest
from qgis.core import QgsProcessingException

from tests.faults.helpers import SAMPLE, fingerprint, run_recipe, small_recipe, write_recipe


def _mount(folder, size):
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        reason = f"cannot mount a {size} tmpfs here ({done.stderr.strip() or 'not root'})"
        print(reason)
        pytest.skip(reason)


def _unmount(folder):
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    _mount(disk, "8m")
    yield disk
    _unmount(disk)


def _fill(disk, leave=150_000):
    """Fill the disk but for ``leave`` bytes."""
    stat = os.statvfs(str(disk))
    free = stat.f_bavail * stat.f_frsize
    with open(disk / "filler.bin", "wb") as handle:
        handle.write(b"\0" * max(free - leave, 0))


def _csv(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("ref,easting,northing,note\n")
        for i in range(rows):
            handle.write(f"{i},{406000 + i % 5000},{287000 + i % 3000},{'x' * 60}\n")
    return str(path)


def _import(csv, clean, rejected):
    import processing

    return processing.run("compositeindex:importincidents", {
        "INPUT": [csv], "SOURCE_CRS": "EPSG:27700", "CLEAN": clean, "REJECTED": rejected,
        "REPORT": ""})


def test_a_full_disk_is_a_clear_error_and_the_old_layer_stays(small_disk, tmp_path):
    """A full disk gave an empty clean layer, exit 0 and 'invariant holds'."""
    clean, rejected = str(small_disk / "clean.gpkg"), str(small_disk / "rejected.gpkg")
    _import(_csv(tmp_path / "small.csv", 20), clean, rejected)
    before = fingerprint(small_disk)
    _fill(small_disk)
    with pytest.raises(QgsProcessingException) as err:
        _import(_csv(tmp_path / "big.csv", 40_000), clean, rejected)
    text = str(err.value)
    assert "is full" in text and "Free some space" in text, text
    assert str(small_disk) in text
    after = fingerprint(small_disk)
    assert after["clean.gpkg"] == before["clean.gpkg"] and after["rejected.gpkg"] == before[
        "rejected.gpkg"]
    assert sorted(os.listdir(small_disk)) == ["clean.gpkg", "filler.bin", "rejected.gpkg"]


def test_a_full_disk_during_a_recipe_run_keeps_the_previous_results(small_disk, recipe_dir):
    recipe = small_recipe()
    del recipe["admin_areas"]                      # quicker: no summaries, no layout
    path = write_recipe(recipe_dir, recipe)
    out = small_disk / "output"
    run_recipe(path, OUTPUT_FOLDER=str(out))
    before = fingerprint(out)
    _fill(small_disk, leave=100_000)
    with pytest.raises(QgsProcessingException) as err:
        run_recipe(path, OUTPUT_FOLDER=str(out))
    assert "full" in str(err.value), str(err.value)
    kept = {k: v for k, v in before.items() if k != ".composite_index_outputs.json"}
    assert {k: v for k, v in fingerprint(out).items() if k in kept} == kept
    assert sorted(os.listdir(small_disk)) == ["filler.bin", "output"]     # no staging left


@pytest.fixture
def read_only(tmp_path):
    folder = tmp_path / "ro"
    _mount(folder, "4m")
    shutil.copy(SAMPLE, folder / "old.gpkg")
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    yield folder
    _unmount(folder)


def test_a_read_only_folder_is_refused_before_any_work(read_only):
    import processing

    before = fingerprint(read_only)
    with pytest.raises(QgsProcessingException) as err:
        processing.run("compositeindex:creategrid", {
            "STUDY_AREA": f"{SAMPLE}|layername=study_area", "SIZE": 2000,
            "OUTPUT": str(read_only / "old.gpkg")})
    text = str(err.value)
    assert "read-only" in text and str(read_only) in text and "output folder you can write" in text
    assert fingerprint(read_only) == before


def test_a_recipe_run_into_a_read_only_folder_is_refused(read_only, recipe_dir):
    path = write_recipe(recipe_dir, small_recipe())
    with pytest.raises(QgsProcessingException) as err:
        run_recipe(path, OUTPUT_FOLDER=str(read_only / "output"))
    assert "read-only" in str(err.value)
    assert sorted(os.listdir(read_only)) == ["old.gpkg"]
