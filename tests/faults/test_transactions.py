"""Nothing lost when a run fails: runrecipe stages its files and swaps them in at the end; every
algorithm writes its outputs aside and swaps them in only on success (issue 15)."""
import json
import os
import shutil
import sqlite3

import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from composite_index_plugin.processing import transaction
from composite_index_plugin.processing.recipe_runner import RecipeRunner
from tests.faults.helpers import SAMPLE, fingerprint, run_recipe, siblings, small_recipe, write_recipe

KEPT = {"run_failed.log", "run_cancelled.log", ".composite_index_outputs.json"}


def _results(folder):
    return {k: v for k, v in fingerprint(folder).items() if k not in KEPT}


@pytest.fixture(scope="module")
def first_run(provider, tmp_path_factory):
    """One good run of the small recipe (every stage, layout included); tests copy it."""
    folder = tmp_path_factory.mktemp("first") / "recipe"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "b.gpkg")
    path = write_recipe(folder, small_recipe())
    result = run_recipe(path)
    return folder, result


@pytest.fixture
def done(first_run, tmp_path):
    """A copy of the first run's folder: (recipe folder, recipe path, fingerprint of output)."""
    folder = tmp_path / "recipe"
    shutil.copytree(first_run[0], folder, symlinks=True)
    return folder, str(folder / "recipe.json"), _results(folder / "output")


def _cells(gpkg, table="zones"):
    con = sqlite3.connect(gpkg)
    try:
        return con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    finally:
        con.close()


def test_first_run_wrote_everything_and_a_manifest(first_run):
    folder, result = first_run
    out = folder / "output"
    assert result["RESULTS"] == str(out / "results.gpkg")
    for name in ("results.gpkg", "assessment.qgz", "run.log", "map.png", "baseline.json",
                 "assessment.pdf", "index_report.html"):
        assert (out / name).exists(), name
    manifest = json.loads((out / ".composite_index_outputs.json").read_text())
    assert {"results.gpkg", "run.log", "baseline.json"} <= set(manifest["files"])
    assert siblings(out) == ["b.gpkg", "output", "recipe.json"]       # no staging left
    log = (out / "run.log").read_text()
    assert "composite_index_staging" not in log and str(out) in log


def test_a_late_failure_leaves_the_previous_results(done, monkeypatch):
    folder, path, before = done

    def broken(self, feedback):
        raise QgsProcessingException("the map could not be drawn")

    monkeypatch.setattr(RecipeRunner, "stage_map", broken)
    with pytest.raises(QgsProcessingException) as err:
        run_recipe(path, **{"OUTPUT_FOLDER": ""})
    assert "the map could not be drawn" in str(err.value)
    out = folder / "output"
    assert _results(out) == before                         # results, baseline, project, map
    assert "the map could not be drawn" in (out / "run_failed.log").read_text()
    assert siblings(out) == ["b.gpkg", "output", "recipe.json"]


@pytest.mark.parametrize("stage", RecipeRunner.STAGES)
def test_cancel_at_each_stage_leaves_the_previous_results(done, monkeypatch, stage):
    folder, path, before = done
    original = getattr(RecipeRunner, f"stage_{stage}")

    def cancelled(self, feedback):
        self.log.cancel()
        return original(self, feedback)

    monkeypatch.setattr(RecipeRunner, f"stage_{stage}", cancelled)
    with pytest.raises(QgsProcessingException) as err:
        run_recipe(path)
    assert "Cancel" in str(err.value) or "cancel" in str(err.value)
    out = folder / "output"
    assert _results(out) == before
    assert (out / "run_cancelled.log").exists()
    assert siblings(out) == ["b.gpkg", "output", "recipe.json"]


def _quick(folder, size):
    """A quicker recipe (no areas: no summaries, no layout) with a given cell size."""
    recipe = small_recipe(geography={"type": "grid", "shape": "square", "size": size})
    del recipe["admin_areas"]
    return write_recipe(folder, recipe, "quick.json")


def test_a_rerun_replaces_the_results_as_a_whole(recipe_dir):
    path = _quick(recipe_dir, 2000)
    first = run_recipe(path)
    n_first = _cells(first["RESULTS"])
    second = run_recipe(_quick(recipe_dir, 3000))
    assert _cells(second["RESULTS"]) < n_first
    out = recipe_dir / "output"
    assert not os.path.exists(str(out / "results.gpkg-wal"))
    assert siblings(out) == ["b.gpkg", "output", "quick.json"]
    assert not (out / transaction.JOURNAL).exists()


def test_a_swap_cut_short_is_finished_by_the_next_run(recipe_dir, monkeypatch):
    """A run killed while it moves its files in leaves a journal; the next run (or the next
    check) finishes the move: the folder holds the new run's files, never a mix."""
    run_recipe(_quick(recipe_dir, 2000))
    out = recipe_dir / "output"
    staged = {}
    real_replace = os.replace
    moves = {"n": None}

    def crash_once(src, dst):
        if str(dst).endswith(transaction.JOURNAL):            # the swap begins
            staging = transaction.StagedFolder(str(out)).staging
            staged.update({k: v for k, v in fingerprint(staging).items()
                           if k != transaction.MARKER})
            moves["n"] = 0
        elif moves["n"] is not None:
            moves["n"] += 1
            if moves["n"] == 3:                               # two files moved, then the "crash"
                raise OSError(5, "simulated crash")
        return real_replace(src, dst)

    monkeypatch.setattr(transaction.os, "replace", crash_once)
    with pytest.raises(QgsProcessingException):
        run_recipe(_quick(recipe_dir, 3000))
    monkeypatch.setattr(transaction.os, "replace", real_replace)
    assert (out / transaction.JOURNAL).exists()               # the swap was begun
    assert transaction.StagedFolder(str(out)).recover()
    now = {k: v for k, v in fingerprint(out).items() if k not in KEPT}
    assert now == {k: v for k, v in staged.items() if k in now} and set(staged) <= set(now)
    assert siblings(out) == ["b.gpkg", "output", "quick.json"]


def test_a_dead_runs_staging_folder_is_cleaned_and_a_live_one_respected(recipe_dir):
    path = _quick(recipe_dir, 3000)
    staged = transaction.StagedFolder(str(recipe_dir / "output"))
    os.makedirs(staged.staging)
    (recipe_dir / ".output.composite_index_staging" / "partial.gpkg").write_text("x")
    marker = os.path.join(staged.staging, transaction.MARKER)
    import socket

    with open(marker, "w") as handle:
        json.dump({"pid": os.getppid(), "host": socket.gethostname()}, handle)
    with pytest.raises(QgsProcessingException) as err:
        run_recipe(path)
    assert "Another run" in str(err.value)
    with open(marker, "w") as handle:                        # a process that is gone
        json.dump({"pid": 2 ** 22 + 12345, "host": socket.gethostname()}, handle)
    run_recipe(path)
    assert not os.path.exists(staged.staging)
    os.makedirs(staged.staging)                               # not ours: left alone
    with pytest.raises(QgsProcessingException) as err:
        run_recipe(path)
    assert "was not made by Composite Index" in str(err.value)
    assert os.path.isdir(staged.staging)


# ------------------------------------------------------------------------------ algorithms
def _grid(dest, size=3000, feedback=None):
    import processing

    return processing.run("compositeindex:creategrid", {
        "STUDY_AREA": f"{SAMPLE}|layername=study_area", "SIZE": size, "OUTPUT": dest},
        feedback=feedback or QgsProcessingFeedback())


def _tables(gpkg):
    con = sqlite3.connect(gpkg)
    try:
        return sorted(r[0] for r in con.execute("SELECT table_name FROM gpkg_contents"))
    finally:
        con.close()


@pytest.mark.parametrize("form", ["table", "file"])
def test_a_failing_algorithm_leaves_the_previous_layer(tmp_path, monkeypatch, form):
    from composite_index_plugin.processing.algorithms import create_grid

    gpkg = tmp_path / "out.gpkg"
    dest = f"ogr:dbname='{gpkg}' table=\"grid\" (geom)" if form == "table" else str(gpkg)
    table = "grid" if form == "table" else "out"
    _grid(dest, 3000)
    before = _cells(gpkg, table)

    def broken(*args, **kwargs):
        raise QgsProcessingException("disk gone")

    monkeypatch.setattr(create_grid, "write_grid_abstract", broken)   # after the cells are written
    with pytest.raises(QgsProcessingException, match="disk gone"):
        _grid(dest, 2000)
    assert _cells(gpkg, table) == before
    assert _tables(gpkg) == [table]                                    # no temporary table left
    assert sorted(os.listdir(tmp_path)) == ["out.gpkg"]                # no temporary file left


def test_a_cancelled_algorithm_leaves_the_previous_layer(tmp_path):
    gpkg = tmp_path / "out.gpkg"
    _grid(str(gpkg), 3000)
    before = _cells(gpkg, "out")

    class Cancelling(QgsProcessingFeedback):
        def pushInfo(self, info):                  # the cells are counted: cancel the writing
            super().pushInfo(info)
            if "cells cover" in info:
                self.cancel()

    try:
        result = _grid(str(gpkg), 500, Cancelling())
    except QgsProcessingException as err:            # an algorithm may say so, or return {}
        assert "Cancelled" in str(err)
        result = {}
    assert result == {} or "OUTPUT" not in result
    assert _cells(gpkg, "out") == before
    assert sorted(os.listdir(tmp_path)) == ["out.gpkg"]


def test_tables_of_one_geopackage_are_swapped_in_together(tmp_path):
    """importincidents writes its clean and rejected tables into one existing GeoPackage: both
    are written aside and renamed in one SQLite transaction; other tables stay."""
    import processing

    gpkg = tmp_path / "results.gpkg"
    shutil.copy(SAMPLE, gpkg)
    csv = tmp_path / "in.csv"
    csv.write_text("x,y\n410000,285000\n410100,285100\nbad,1\n")
    params = {"INPUT": [str(csv)], "SOURCE_CRS": "EPSG:27700",
              "CLEAN": f"ogr:dbname='{gpkg}' table=\"clean\" (geom)",
              "REJECTED": f"ogr:dbname='{gpkg}' table=\"rejected\"", "REPORT": ""}
    result = processing.run("compositeindex:importincidents", params)
    assert result["CLEAN"] == f"{gpkg}|layername=clean"
    assert _cells(gpkg, "clean") == 2 and _cells(gpkg, "rejected") == 1
    assert set(_tables(gpkg)) == {"clean", "rejected", "study_area", "wards", "lsoa21",
                                  "constituencies"}


def test_a_stale_temporary_file_of_a_dead_process_is_cleaned(tmp_path):
    gpkg = tmp_path / "out.gpkg"
    stale = tmp_path / f".out.{transaction.TMP_TAG}-{2 ** 22 + 777}-abcdef.gpkg"
    stale.write_bytes(b"half")
    _grid(str(gpkg), 3000)
    assert sorted(os.listdir(tmp_path)) == ["out.gpkg"]


def test_a_sink_that_refuses_features_stops_the_run():
    class Refusing:
        def addFeatures(self, features, flags=None):
            return False

        def lastError(self):
            return "sqlite3_exec(INSERT ...) failed: database or disk is full"

    record = transaction.SinkRecord("OUTPUT", "/data/out.gpkg")
    sink = transaction.CountingSink(Refusing(), record)
    with pytest.raises(QgsProcessingException) as err:
        sink.addFeatures([object()])
    assert "/data/out.gpkg" in str(err.value) and "full" in str(err.value)


def test_features_written_are_counted_against_features_given(tmp_path):
    gpkg = tmp_path / "x.gpkg"
    _grid(str(gpkg), 3000)
    n = _cells(gpkg, "x")

    class Alg:
        def destinationParameterDefinitions(self):
            return []

    tx = transaction.OutputTransaction(Alg(), {}, None)
    tx.record("OUTPUT", str(gpkg)).added = n
    tx.verify()
    tx.record("OUTPUT2", str(gpkg)).added = n + 5
    with pytest.raises(QgsProcessingException) as err:
        tx.verify()
    assert f"Only {n:,} of {n + 5:,} features" in str(err.value)


# ----- folder outputs (makesample's folder, exportassessment's PNG pages)
def _sample(folder, seed):
    import processing

    return processing.run("compositeindex:makesample", {
        "SIZE": 0, "SEED": seed, "YEARS": "2024", "OUTPUT_FOLDER": str(folder)},
        feedback=QgsProcessingFeedback())


def _contents(folder):
    """Every file under ``folder`` (relative name -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_folder_output_is_written_aside_and_moved_in(tmp_path):
    folder = tmp_path / "sample"
    result = _sample(folder, 1)
    assert result["OUTPUT_FOLDER"] == str(folder)
    assert str(folder) in result["SUMMARY"] and transaction.TMP_TAG not in result["SUMMARY"]
    first = _contents(folder)
    assert any(name.endswith(".gpkg") for name in first)
    (folder / "notes.txt").write_text("the analyst's own file")
    _sample(folder, 2)                                 # another seed: other points, same names
    second = _contents(folder)
    assert second["notes.txt"] == b"the analyst's own file"       # not ours: kept
    changed = [n for n in first if first[n] != second[n]]
    assert changed and set(second) == set(first) | {"notes.txt"}
    assert sorted(os.listdir(tmp_path)) == ["sample"]            # no temporary folder left


def test_a_failing_folder_output_leaves_the_previous_files(tmp_path, monkeypatch):
    from composite_index_plugin.processing import sample_io

    folder = tmp_path / "sample"
    _sample(folder, 1)
    before = _contents(folder)
    real = sample_io.make_sample

    def half_then_fail(out, **kwargs):
        real(out, **kwargs)                            # every file written (aside) ...
        raise QgsProcessingException("disk gone")      # ... then the run fails

    monkeypatch.setattr(sample_io, "make_sample", half_then_fail)
    with pytest.raises(QgsProcessingException, match="disk gone"):
        _sample(folder, 2)
    assert _contents(folder) == before
    assert sorted(os.listdir(tmp_path)) == ["sample"]


def test_a_dead_process_temporary_folder_is_cleaned(tmp_path):
    stale = tmp_path / f".sample.{transaction.TMP_TAG}-{2 ** 22 + 777}-abcdef"
    stale.mkdir()
    (stale / "half.gpkg").write_bytes(b"half")
    _sample(tmp_path / "sample", 1)
    assert sorted(os.listdir(tmp_path)) == ["sample"]


def test_a_publish_cut_short_is_finished_from_its_own_staging_folder(tmp_path, monkeypatch):
    """The Builder's publish stages elsewhere than a run's default; a publish killed half way
    is finished by ``recover`` from the folders its journal names (before: the journal was
    dropped and the files not yet moved were lost)."""
    folder, staging = tmp_path / "out", tmp_path / "builder_staging"
    folder.mkdir()
    staging.mkdir()
    for name in ("assessment.pdf", "results.gpkg", "run.log"):
        (folder / name).write_text("old " + name)
        (staging / name).write_text("new " + name)
    staged = transaction.StagedFolder(str(folder))
    staged.staging = str(staging)
    real_replace = os.replace
    moves = {"n": 0}

    def crash_after_one(src, dst):
        if str(src).startswith(str(staging)):
            moves["n"] += 1
            if moves["n"] == 2:
                raise OSError(5, "simulated crash")
        return real_replace(src, dst)

    monkeypatch.setattr(transaction.os, "replace", crash_after_one)
    with pytest.raises(OSError):
        staged.commit(["assessment.pdf", "results.gpkg", "run.log"])
    monkeypatch.setattr(transaction.os, "replace", real_replace)
    assert (folder / transaction.JOURNAL).exists()
    later = transaction.StagedFolder(str(folder))
    default = (later.staging, later.backup)
    assert later.recover()
    assert (later.staging, later.backup) == default   # the next run stages where it always does
    assert {p.name: p.read_text() for p in folder.iterdir() if p.name != sandbox_manifest()} == {
        "assessment.pdf": "new assessment.pdf", "results.gpkg": "new results.gpkg",
        "run.log": "new run.log"}
    assert not staging.exists() and not (folder / transaction.JOURNAL).exists()


def sandbox_manifest():
    from composite_index_plugin.core import sandbox

    return sandbox.MANIFEST
