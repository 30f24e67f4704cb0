"""``kill -9`` of a ``qgis_process`` in the middle of writing leaves the previous result whole
(issue 15: it left a valid-looking layer with no count column), and the next run clears what the
dead process left."""
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from composite_index_plugin.processing import transaction
from tests.faults.helpers import SAMPLE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QGIS_PROCESS = "/usr/bin/qgis_process.bin"


def _plugin_folder(tmp_path):
    """A plugins folder holding this working tree's plugin (links), as an installed plugin."""
    folder = tmp_path / "plugins" / "composite_index_plugin"
    folder.mkdir(parents=True)
    package = os.path.join(ROOT, "composite_index_plugin")
    for name in os.listdir(package):
        if name != "__pycache__":
            os.symlink(os.path.join(package, name), folder / name)
    for name in ("metadata.txt", "resources", "ui", "LICENSE"):
        os.symlink(os.path.join(ROOT, name), folder / name)
    return folder.parent


def _tables(gpkg):
    try:
        con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True, timeout=0.05)
        try:
            return [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")]
        finally:
            con.close()
    except sqlite3.Error:
        return []


def _columns_and_sum(gpkg, table, column):
    con = sqlite3.connect(gpkg)
    try:
        names = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
        rows, total = con.execute(f'SELECT COUNT(*), SUM("{column}") FROM "{table}"').fetchone()
        return names, rows, total
    finally:
        con.close()


def _aggregate(zones, dest, decile):
    import processing

    return processing.run("compositeindex:aggregatepat", {
        "ZONES": zones, "LOCATIONS": f"{SAMPLE}|layername=lsoa21", "ISSUE": "burglary",
        "LOCATIONS_FILTER": f"\"IMD_decile\" <= {decile}", "OUTPUT": dest})


@pytest.mark.skipif(not os.path.exists(QGIS_PROCESS), reason="no qgis_process on this machine")
def test_kill_9_mid_write_leaves_the_previous_result(tmp_path):
    import processing

    results = tmp_path / "results.gpkg"
    dest = f"ogr:dbname='{results}' table=\"aggregated\" (geom)"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=str(_plugin_folder(tmp_path)),
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"))
    env.pop("QGIS_OPTS", None)
    enabled = subprocess.run([QGIS_PROCESS, "plugins", "enable", "composite_index_plugin"],
                             env=env, capture_output=True, text=True, timeout=300)
    assert enabled.returncode == 0, enabled.stderr
    caught = None
    for size in (120, 70, 45):          # finer zones: a longer write, if the first is too quick
        zones = tmp_path / f"zones_{size}.gpkg"
        processing.run("compositeindex:creategrid", {
            "STUDY_AREA": f"{SAMPLE}|layername=study_area", "SIZE": size, "OUTPUT": str(zones)})
        _aggregate(str(zones), dest, 2)                     # the previous, good result
        before = _columns_and_sum(results, "aggregated", "burglary_locations")
        proc = subprocess.Popen(
            [QGIS_PROCESS, "run", "compositeindex:aggregatepat", "--", f"ZONES={zones}",
             f"LOCATIONS={SAMPLE}|layername=lsoa21", "ISSUE=burglary",
             "LOCATIONS_FILTER=\"IMD_decile\" <= 5", f"OUTPUT={dest}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if any(transaction.TABLE_TAG in t for t in _tables(results)):
                os.kill(proc.pid, signal.SIGKILL)          # mid-write
                caught = proc.wait(30)
                break
            time.sleep(0.005)
        if caught is not None:
            break
        proc.wait(120)
    assert caught == -signal.SIGKILL, "the write never got caught in the act"
    # the previous result: the same rows, its count column and its counts
    assert _columns_and_sum(results, "aggregated", "burglary_locations") == before
    left = [t for t in _tables(results) if transaction.TABLE_TAG in t]
    assert left, "the killed process's half-written table is in the file (and only there)"
    # the next run removes what the dead process left, and writes its own result
    _aggregate(str(zones), dest, 5)
    assert [t for t in _tables(results) if transaction.TABLE_TAG in t] == []
    names, rows, total = _columns_and_sum(results, "aggregated", "burglary_locations")
    assert "burglary_locations" in names and rows == before[1] and total > before[2]
