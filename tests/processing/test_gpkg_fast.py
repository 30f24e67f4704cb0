"""The bulk GeoPackage writer gives the same layer as the Processing sink: features, attributes,
geometry (WKB), the R-tree's content and what spatial filters find; for whole files and for
layers inside a shared GeoPackage."""
import sqlite3

import numpy as np
import pytest
from qgis.core import (
    QgsFeature,
    QgsFeatureRequest,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsRectangle,
    QgsVectorLayer,
)

from composite_index_plugin.processing import gpkg_fast, io_table


def _run(alg, params):
    import processing

    return processing.run(alg, params, context=QgsProcessingContext(),
                          feedback=QgsProcessingFeedback())


def _study():
    study = QgsVectorLayer("Polygon?crs=EPSG:27700", "s", "memory")
    f = QgsFeature()
    f.setGeometry(QgsGeometry.fromWkt("POLYGON((0 0, 5000 0, 5000 3000, 2000 4000, 0 3000, 0 0))"))
    study.dataProvider().addFeatures([f])
    return study


def _table(uri):
    path, _, rest = uri.partition("|")
    con = sqlite3.connect(path)
    try:
        if rest:
            return path, rest.split("=", 1)[1]
        return path, con.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
    finally:
        con.close()


def _rtree(uri):
    path, table = _table(uri)
    con = sqlite3.connect(path)
    try:
        geom = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                           (table,)).fetchone()[0]
        name = f"rtree_{table}_{geom}"
        rows = con.execute(f'SELECT * FROM "{name}" ORDER BY id').fetchall()
        check = con.execute(f"SELECT rtreecheck('{name}')").fetchone()[0]
        count = con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?",
                            (table,)).fetchone()[0]
        extent = con.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE "
                             "table_name = ?", (table,)).fetchone()
        return rows, check, count, extent
    finally:
        con.close()


def assert_same_layers(fast_uri, slow_uri, key_fields=None):
    """Same features (by feature id), attributes, WKB geometry, R-tree and spatial filters."""
    fast = QgsVectorLayer(fast_uri, "fast", "ogr")
    slow = QgsVectorLayer(slow_uri, "slow", "ogr")
    assert fast.isValid() and slow.isValid()
    assert fast.featureCount() == slow.featureCount() > 0
    names = slow.fields().names()
    assert fast.fields().names() == names
    a = {f.id(): f for f in fast.getFeatures()}
    b = {f.id(): f for f in slow.getFeatures()}
    assert sorted(a) == sorted(b)
    for fid, f in a.items():
        g = b[fid]
        assert f.attributes() == g.attributes(), fid
        assert bytes(f.geometry().asWkb()) == bytes(g.geometry().asWkb()), fid
    rows_f, check_f, count_f, extent_f = _rtree(fast_uri)
    rows_s, check_s, count_s, extent_s = _rtree(slow_uri)
    assert check_f == check_s == "ok"
    assert rows_f == rows_s and len(rows_f) == fast.featureCount()
    assert count_f == fast.featureCount()
    assert count_s in (None, count_f)   # GDAL may leave it unset while QGIS holds the file open
    assert extent_f == pytest.approx(extent_s, abs=1e-9)
    ext = slow.extent()
    rng = np.random.default_rng(7)
    for _ in range(25):
        x0 = rng.uniform(ext.xMinimum(), ext.xMaximum())
        y0 = rng.uniform(ext.yMinimum(), ext.yMaximum())
        rect = QgsRectangle(x0, y0, x0 + rng.uniform(1, 900), y0 + rng.uniform(1, 900))
        req = QgsFeatureRequest().setFilterRect(rect).setNoAttributes()
        got = sorted(f.id() for f in fast.getFeatures(req))
        assert got == sorted(f.id() for f in slow.getFeatures(req))
    return fast, slow


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_grid_streamed_into_a_geopackage_equals_the_sink(provider, tmp_path, monkeypatch, shape):
    used = []
    real = gpkg_fast.LayerFiller.close
    monkeypatch.setattr(gpkg_fast.LayerFiller, "close",
                        lambda self, *a: used.append(self.n) or real(self, *a))
    monkeypatch.setattr(gpkg_fast, "_LARGE_PAGES_ROWS", 1000)   # this grid counts as large
    params = {"STUDY_AREA": _study(), "SHAPE": shape, "SIZE": 100}
    fast = _run("compositeindex:creategrid", dict(params, OUTPUT=str(tmp_path / "g.gpkg")))["OUTPUT"]
    assert len(used) == 1 and used[0] > 1000
    monkeypatch.setattr(gpkg_fast, "plain_gpkg", lambda dest: False)   # the sink writes it
    slow = _run("compositeindex:creategrid", dict(params, OUTPUT=str(tmp_path / "s.gpkg")))["OUTPUT"]
    assert len(used) == 1
    assert (_page_size(fast), _page_size(slow)) == (65536, 4096)
    assert_same_layers(fast, slow)


def test_grid_in_a_shared_geopackage(provider, tmp_path, monkeypatch):
    shared = str(tmp_path / "results.gpkg")
    params = {"STUDY_AREA": _study(), "SHAPE": 1, "SIZE": 100}
    _run("compositeindex:creategrid", dict(params, OUTPUT=f"ogr:dbname='{shared}' table=\"first\" (geom)"))
    fast = _run("compositeindex:creategrid",
                dict(params, OUTPUT=f"ogr:dbname='{shared}' table=\"zones\" (geom)"))["OUTPUT"]
    assert fast == f"{shared}|layername=zones"
    monkeypatch.setattr(gpkg_fast, "plain_gpkg", lambda dest: False)
    slow = _run("compositeindex:creategrid",
                dict(params, OUTPUT=f"ogr:dbname='{shared}' table=\"slow\" (geom)"))["OUTPUT"]
    assert_same_layers(fast, slow)
    assert_same_layers(f"{shared}|layername=first", slow)


def _points(n=3000, seed=3):
    pts = QgsVectorLayer("Point?crs=EPSG:27700&field=w:double", "p", "memory")
    rng = np.random.default_rng(seed)
    feats = []
    for x, y, w in zip(rng.uniform(1, 4999, n), rng.uniform(1, 2999, n), rng.uniform(0, 3, n)):
        p = QgsFeature(pts.fields())
        p.setAttributes([float(w)])
        p.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        feats.append(p)
    pts.dataProvider().addFeatures(feats)
    return pts


@pytest.mark.parametrize("where", ["same file", "other file"])
def test_zone_outputs_copied_set_based_equal_the_sink(provider, tmp_path, monkeypatch, where):
    shared = str(tmp_path / "results.gpkg")
    zones = _run("compositeindex:creategrid", {"STUDY_AREA": _study(), "SHAPE": 2, "SIZE": 100,
                                               "OUTPUT": f"ogr:dbname='{shared}' table=\"zones\" (geom)"}
                 )["OUTPUT"]
    out = shared if where == "same file" else str(tmp_path / "other.gpkg")
    if where == "other file":
        _run("compositeindex:creategrid", {"STUDY_AREA": _study(), "SHAPE": 0, "SIZE": 1000,
                                           "OUTPUT": f"ogr:dbname='{out}' table=\"x\" (geom)"})
    assert _page_size(out) == 4096
    monkeypatch.setattr(gpkg_fast, "_LARGE_PAGES_ROWS", 1000)   # the copy counts as large
    params = {"ZONES": zones, "LOCATIONS": _points(), "LOCATIONS_WEIGHT": "w", "ISSUE": "x"}
    used = []
    real = io_table._fast_gpkg_write
    monkeypatch.setattr(io_table, "_fast_gpkg_write", lambda *a: used.append(real(*a)) or used[-1])
    fast = _run("compositeindex:aggregatepat",
                dict(params, OUTPUT=f"ogr:dbname='{out}' table=\"agg\" (geom)"))["OUTPUT"]
    assert used == [True]
    monkeypatch.setattr(io_table, "FAST_MIN_ROWS", 10 ** 9)
    slow = _run("compositeindex:aggregatepat",
                dict(params, OUTPUT=f"ogr:dbname='{out}' table=\"agg_slow\" (geom)"))["OUTPUT"]
    assert used == [True]
    assert _page_size(out) == 65536          # moved to large pages before the copy
    layer, _ = assert_same_layers(fast, slow)
    assert sum(f["x_locations"] for f in layer.getFeatures()) == 3000
    # the zones' own R-tree was copied: the same entries
    assert _rtree(fast)[0] == _rtree(zones)[0]
    if where == "other file":   # the layer the file held before it was rewritten is intact
        assert_same_layers(f"{out}|layername=x", f"{out}|layername=x")


def test_rtree_packed_in_numpy_matches_sqlite_inserts():
    """Entries, structure (rtreecheck), queries and later edits, for sizes around node limits."""
    for n in (0, 1, 51, 52, 2601, 2602, 40_000):
        con = sqlite3.connect(":memory:", isolation_level=None)
        con.execute("CREATE VIRTUAL TABLE a USING rtree(id, minx, maxx, miny, maxy)")
        con.execute("CREATE VIRTUAL TABLE b USING rtree(id, minx, maxx, miny, maxy)")
        rng = np.random.default_rng(n)
        x, y = rng.uniform(-3e5, 7e5, n), rng.uniform(-1e3, 1.2e6, n)
        w = rng.uniform(0, 300, n)
        bounds = np.column_stack([x, x + w, y, y + 0.7 * w])
        ids = rng.permutation(np.arange(1, 3 * n + 1))[:n]
        con.executemany("INSERT INTO a VALUES (?, ?, ?, ?, ?)",
                        zip(ids.tolist(), *(bounds[:, j].tolist() for j in range(4))))
        con.execute("BEGIN")
        gpkg_fast.write_rtree(con, "b", ids, bounds)
        con.execute("COMMIT")
        assert con.execute("SELECT * FROM a ORDER BY id").fetchall() == \
            con.execute("SELECT * FROM b ORDER BY id").fetchall()
        assert con.execute("SELECT rtreecheck('b')").fetchone()[0] == "ok"
        q = "SELECT id FROM {} WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ? ORDER BY id"
        for qx, qy in rng.uniform(0, 5e5, (10, 2)):
            box = (qx, qx + 5e4, qy, qy + 5e4)
            assert con.execute(q.format("a"), box).fetchall() == con.execute(q.format("b"), box).fetchall()
        con.execute("INSERT INTO b VALUES (?, ?, ?, ?, ?)", (10 ** 9, 0, 1, 0, 1))
        for (i,) in con.execute("SELECT id FROM b LIMIT 10").fetchall():
            con.execute("DELETE FROM b WHERE id = ?", (i,))
        assert con.execute("SELECT rtreecheck('b')").fetchone()[0] == "ok"


def test_rtree_rounding_is_sqlites():
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE a USING rtree(id, minx, maxx, miny, maxy)")
    values = np.array([0.1, -0.1, 400123.456789, -400123.456789, 1e-30, 3.0, 16777217.0,
                       -16777217.0, 123456789.123])
    rows = [(i + 1, v, v, v, v) for i, v in enumerate(values.tolist())]
    con.executemany("INSERT INTO a VALUES (?, ?, ?, ?, ?)", rows)
    want = np.array(con.execute("SELECT minx, maxx, miny, maxy FROM a ORDER BY id").fetchall())
    got = gpkg_fast.rtree_bounds(np.column_stack([values] * 4)).astype("float64")
    assert np.array_equal(got, want)
    assert (got[:, 0] <= values).all() and (got[:, 1] >= values).all()


def test_polygon_blobs_carry_their_envelope():
    square = np.array([[[0, 0], [2, 0], [2, 1], [0, 1], [0, 0]]], float)
    (blob,), bounds = gpkg_fast.polygon_blobs(square, 27700)
    assert blob[:2] == b"GP" and blob[3] == 3
    assert np.frombuffer(blob[8:40], "<f8").tolist() == [0, 2, 0, 1] == bounds[0].tolist()
    assert gpkg_fast.blob_envelope(blob) == (0, 2, 0, 1)
    geom = QgsGeometry()
    geom.fromWkb(blob[40:])
    assert geom.asWkt() == "MultiPolygon (((0 0, 2 0, 2 1, 0 1, 0 0)))"


@pytest.mark.parametrize("shape,multi", [("hex_flat", True), ("hex_pointy", False),
                                         ("square", True)])
def test_polygon_blobs_are_the_geopackage_bytes_built_one_by_one(shape, multi):
    """Every blob is, byte for byte, the GeoPackage header (``GP``, version 0, flags: little
    endian + xy envelope, srs id), the envelope and the OGC WKB packed with ``struct`` cell by
    cell; the bounds are each ring's extent."""
    import struct

    from composite_index_plugin.core.grid import GridSpec

    spec = GridSpec(shape, 37.5, 3.0, -11.0)
    a, b = spec.cells_in_box(-1000.0, -800.0, 900.0, 1300.0)
    v = spec.vertices(a, b)
    blobs, bounds = gpkg_fast.polygon_blobs(v, 27700, multi=multi)
    assert len(blobs) == len(a) > 1000
    for i in range(0, len(a), 97):
        ring = v[i]
        env = (ring[:, 0].min(), ring[:, 0].max(), ring[:, 1].min(), ring[:, 1].max())
        wkb = struct.pack("<BIII", 1, 3, 1, len(ring)) + ring.astype("<f8").tobytes()
        if multi:
            wkb = struct.pack("<BII", 1, 6, 1) + wkb
        assert blobs[i] == b"GP" + struct.pack("<BBi4d", 0, 3, 27700, *env) + wkb
        assert bounds[i].tolist() == list(env)
    assert gpkg_fast.polygon_blobs(v[:0], 27700)[0] == []
    assert list(blobs[5:9]) == [blobs[i] for i in range(5, 9)] and blobs[-1] == list(blobs)[-1]
    assert blobs[5:9] == list(blobs)[5:9] and len(blobs[10:3]) == 0


def test_point_blobs_are_the_geopackage_bytes_built_one_by_one():
    import struct

    x = np.array([0.5, -1e6, 123456.789, 3.0])
    y = np.array([2.25, 7e5, -0.001, 3.0])
    blobs = gpkg_fast.point_blobs(x, y, 4326)
    assert list(blobs) == [b"GP" + struct.pack("<BBi", 0, 1, 4326) + struct.pack("<BIdd", 1, 1, a, b)
                           for a, b in zip(x, y)]
    assert gpkg_fast.point_blobs(x[:0], y[:0], 4326) == []


def test_targets(tmp_path):
    assert gpkg_fast.gpkg_target(str(tmp_path / "none.gpkg")) is None
    assert gpkg_fast.gpkg_target("memory:") is None


@pytest.mark.parametrize("fixed", [False, True])
@pytest.mark.parametrize("n_rows", [0, 1, 127, 128, 129, 1000, 8193])
def test_multi_row_inserts_equal_one_row_statements(n_rows, fixed):
    """``insert_rows`` (several rows per INSERT) leaves exactly the table ``executemany`` leaves:
    the same rows, values, types (NULL, integer, real, text, blob) and order, around the
    statement and batch boundaries, with expressions using a parameter twice; blobs of one
    width also given as ``FixedBlobs`` (cut by SQLite, still blobs); with ``fixed`` two columns
    also given row by row as a ``RowMajor`` group (bound as one slice a statement)."""
    rng = np.random.default_rng(n_rows)
    rows = []
    for i in range(n_rows):
        value = None if i % 7 == 3 else float(rng.normal()) * 10 ** int(rng.integers(-5, 9))
        size = 29 if fixed else int(rng.integers(0, 40))
        rows.append((i + 1, bytes(rng.integers(0, 256, size, dtype=np.uint8)),
                     int(rng.integers(-2**62, 2**62)), value, None if i % 5 == 0 else f"t{i}?"))
    head = "INSERT INTO t (fid, geom, a, b, c, label, fixed)"
    row_sql = "?1, ?2, ?3, ?4, ?5, 'H_q' || ?3 || '_r' || ?1, 0"
    tables = []
    for fast in (False, True):
        con = sqlite3.connect(":memory:", isolation_level=None)
        con.execute("CREATE TABLE t (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom BLOB, "
                    "a INTEGER, b REAL, c TEXT, label TEXT, fixed INTEGER)")
        con.execute("BEGIN")
        if fast:
            columns = [list(c) for c in zip(*rows)] if rows else [[]] * 5
            if fixed:
                columns[1] = gpkg_fast.FixedBlobs(b"".join(columns[1]), 29, n_rows)
                assert columns[1] == [r[1] for r in rows]
                # a (?3) and b (?4) row by row: one group standing for two parameters
                columns[2:4] = [gpkg_fast.RowMajor([v for r in rows for v in r[2:4]], 2)]
            assert gpkg_fast.insert_rows(con, head, row_sql, columns) == n_rows
        else:
            con.executemany(f"{head} VALUES ({row_sql})", rows)
        con.execute("COMMIT")
        tables.append(con.execute("SELECT fid, geom, a, b, c, label, fixed, typeof(b), typeof(c) "
                                  "FROM t ORDER BY rowid").fetchall())
        con.close()
    assert len(tables[1]) == n_rows
    assert tables[1] == tables[0]
    assert all(isinstance(r[1], bytes) for r in tables[1])
    # a small variable limit (older SQLite builds: 999) gives fewer rows per statement, same table
    if n_rows == 1000:
        con = sqlite3.connect(":memory:", isolation_level=None)
        con.execute("CREATE TABLE t (fid INTEGER PRIMARY KEY, geom BLOB, a INTEGER, b REAL, "
                    "c TEXT, label TEXT, fixed INTEGER)")
        con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 12)   # 2 rows of 5 values
        columns = [np.array(c, dtype=object) for c in zip(*rows)]
        if fixed:
            columns[1] = gpkg_fast.FixedBlobs(b"".join(r[1] for r in rows), 29, n_rows)
            columns[2:4] = [gpkg_fast.RowMajor([v for r in rows for v in r[2:4]], 2)]
        gpkg_fast.insert_rows(con, head, row_sql, columns)
        assert con.execute("SELECT fid, geom, a, b, c, label, fixed, typeof(b), typeof(c) FROM t "
                           "ORDER BY rowid").fetchall() == tables[0]


def test_multi_row_inserts_refuse_what_they_cannot_write():
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (a, b)")
    with pytest.raises(ValueError):   # ?3 with two columns
        gpkg_fast.insert_rows(con, "INSERT INTO t (a, b)", "?1, ?3", [[1], [2]])
    with pytest.raises(ValueError):   # columns of different lengths
        gpkg_fast.insert_rows(con, "INSERT INTO t (a, b)", "?1, ?2", [[1, 2], [2]])
    assert con.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


def test_column_values_for_sqlite():
    """One conversion for every bulk write (``gpkg_fast.column_values``, also io_table's).
    Columns become Python values for SQLite: NaN / NA / None -> None, integers stay integers
    (numpy, nullable, one-byte flags, booleans), floats keep every bit, text is text; floats
    with few and with many NaN take different routes to the same values."""
    import pandas as pd

    few = np.array([0.1, np.nan, -0.0, 1e300, np.inf, 3.0, 5.5, 7.25, 2.0])
    many = np.array([np.nan, 1.5, np.nan, np.nan, -2.0])
    cases = [
        (pd.Series(few), [0.1, None, -0.0, 1e300, float("inf"), 3.0, 5.5, 7.25, 2.0]),
        (pd.Series(many), [None, 1.5, None, None, -2.0]),
        (pd.Series([1.5, None, 2.0], dtype="Float64"), [1.5, None, 2.0]),
        (pd.Series([3, None, -4], dtype="Int64"), [3, None, -4]),
        (pd.Series([3, 2, 1], dtype="Int64"), [3, 2, 1]),
        (pd.Series(np.array([1, 0, 1], dtype=np.int8)), [1, 0, 1]),
        (pd.Series([True, False]), [1, 0]),
        (pd.Series([True, None], dtype="boolean"), [1, None]),
        (pd.Series(np.array([2**62, -7], dtype=np.int64)), [2**62, -7]),
        (pd.Series(["a", None, "c"], dtype=object), ["a", None, "c"]),
    ]
    for series, expected in cases:
        got = gpkg_fast.column_values(series)
        assert got == expected, (series.dtype, got)
        assert [type(v) for v in got] == [type(v) for v in expected], series.dtype
    assert str(gpkg_fast.column_values(pd.Series(few))[2]) == "-0.0"
    assert io_table.column_values is gpkg_fast.column_values


def _source_and_empty_destination(path, n):
    """A GeoPackage with a point layer ``src`` of ``n`` features and an empty ``dst`` with the
    source's fields and three more (R-tree and its triggers as GDAL makes them)."""
    from osgeo import ogr, osr

    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    sr = osr.SpatialReference()
    sr.ImportFromEPSG(27700)
    src = ds.CreateLayer("src", sr, ogr.wkbPoint)
    for name, kind in (("label", ogr.OFTString), ("keep", ogr.OFTReal), ("old", ogr.OFTReal)):
        src.CreateField(ogr.FieldDefn(name, kind))
    src.StartTransaction()
    for i in range(n):
        f = ogr.Feature(src.GetLayerDefn())
        f.SetField("label", f"z{i}")
        f.SetField("keep", i * 0.5)
        f.SetField("old", -1.0)
        f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({i} {2 * i})"))
        src.CreateFeature(f)
    src.CommitTransaction()
    dst = ds.CreateLayer("dst", sr, ogr.wkbPoint)
    for name, kind in (("label", ogr.OFTString), ("keep", ogr.OFTReal), ("old", ogr.OFTReal),
                       ("score", ogr.OFTReal), ("rank", ogr.OFTInteger64),
                       ("flag", ogr.OFTInteger64)):
        dst.CreateField(ogr.FieldDefn(name, kind))
    ds = None


def _page_size(uri):
    con = sqlite3.connect(uri.partition("|")[0])
    try:
        return con.execute("PRAGMA page_size").fetchone()[0]
    finally:
        con.close()


def _dump(path):
    """Every row of every table and the journal mode: what a rewrite must keep."""
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        rows = {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables if not t.startswith("rtree_") or "_" in t[6:]}
        schema = sorted(con.execute("SELECT type, name, sql FROM sqlite_master").fetchall(),
                        key=repr)
        journal = con.execute("PRAGMA journal_mode").fetchone()[0]
        return rows, schema, journal
    finally:
        con.close()


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_large_pages_rewrite_a_fresh_file_with_the_same_content(tmp_path, journal):
    """Before a large write a fresh GeoPackage moves to 64 KB pages: every table, row, trigger
    and the R-tree as they were, the journal mode put back, OGR reading the same features."""
    from osgeo import ogr

    path = str(tmp_path / "fresh.gpkg")
    _source_and_empty_destination(path, 500)
    sqlite3.connect(path).execute(f"PRAGMA journal_mode = {journal}").fetchall()
    before = _dump(path)
    assert _page_size(path) == 4096 and before[2] == journal
    assert gpkg_fast.large_pages(path, gpkg_fast._LARGE_PAGES_ROWS - 1) is None   # small write
    assert _page_size(path) == 4096
    assert gpkg_fast.large_pages(path, gpkg_fast._LARGE_PAGES_ROWS) == 65536
    assert _page_size(path) == 65536
    assert _dump(path) == before
    con = sqlite3.connect(path)
    assert con.execute("SELECT rtreecheck('rtree_src_geom')").fetchone()[0] == "ok"
    con.close()
    ds = ogr.Open(path)
    layer = ds.GetLayerByName("src")
    layer.SetSpatialFilterRect(99.5, 199.5, 120.5, 241.5)
    assert sorted(f.GetField("label") for f in layer) == [f"z{i}" for i in range(100, 121)]
    ds = None
    assert gpkg_fast.large_pages(path, 10 ** 7) == 65536     # already large: nothing to do


def test_large_pages_leave_a_big_or_busy_file_alone(tmp_path, monkeypatch):
    """A file above the fresh size keeps its pages; so does one another connection is
    reading (no waiting for it). A connection left open, idle, in WAL mode (as QGIS keeps a
    layer's file) does not stop the move, and reads the same rows after it."""
    path = str(tmp_path / "busy.gpkg")
    _source_and_empty_destination(path, 500)
    before = _dump(path)
    monkeypatch.setattr(gpkg_fast, "_FRESH_FILE_BYTES", 50_000)
    assert gpkg_fast.large_pages(path, 10 ** 6) is None
    monkeypatch.undo()
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM src").fetchone()[0] == 500   # holds a lock
    assert gpkg_fast.large_pages(path, 10 ** 6) == 4096
    reader.execute("COMMIT")
    assert _page_size(path) == 4096 and _dump(path) == before
    reader.execute("PRAGMA journal_mode = wal").fetchall()   # open in WAL mode, idle
    assert gpkg_fast.large_pages(path, 10 ** 6) == 65536
    assert reader.execute("SELECT label, keep FROM src ORDER BY fid").fetchall() == \
        [(f"z{i}", i * 0.5) for i in range(500)]
    reader.close()
    assert _dump(path) == (before[0], before[1], "wal")


def test_large_pages_leave_rowid_feature_ids_alone(tmp_path):
    """A layer without an INTEGER PRIMARY KEY has its rowids as feature ids, which VACUUM may
    renumber: such a file keeps its pages."""
    path = str(tmp_path / "rowids.gpkg")
    _source_and_empty_destination(path, 50)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE plain (name TEXT)")
    con.executemany("INSERT INTO plain VALUES (?)", [(f"n{i}",) for i in range(10)])
    con.execute("DELETE FROM plain WHERE name = 'n3'")
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier) VALUES "
                "('plain', 'attributes', 'plain')")
    con.commit()
    con.close()
    before = _dump(path)
    assert gpkg_fast.large_pages(path, 10 ** 6) == 4096
    assert _page_size(path) == 4096 and _dump(path) == before


def _triggers(path, table):
    con = sqlite3.connect(path)
    try:
        return sorted(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                  "AND tbl_name = ?", (table,)).fetchall())
    finally:
        con.close()


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_copy_with_columns_joins_new_values_by_feature_id(tmp_path, monkeypatch, journal):
    """The copy joins the new values to the source rows by feature id, in any row order of the
    frame, across chunk boundaries: each row keeps its geometry and source fields, takes its
    own new values (a same-named column replaces the field), with NULLs and types as given.
    In WAL mode (as QGIS opens a GeoPackage) it commits along the way, with the same table."""
    import pandas as pd

    path = str(tmp_path / "copy.gpkg")
    n = 12_345
    _source_and_empty_destination(path, n)
    sqlite3.connect(path).execute(f"PRAGMA journal_mode = {journal}").fetchall()
    triggers = _triggers(path, "dst")
    assert len(triggers) >= 4
    commits = []
    real_wrote = gpkg_fast.WalCommits.wrote

    def wrote(self, n_values):
        real_wrote(self, n_values)
        commits.append(self.committed)

    monkeypatch.setattr(gpkg_fast.WalCommits, "wrote", wrote)
    monkeypatch.setattr(gpkg_fast, "_WAL_COMMIT_VALUES", 20_000)
    rng = np.random.default_rng(4)
    fids = rng.permutation(np.arange(1, n + 1))          # frame rows in no particular order
    score = fids * 0.25
    score[fids % 11 == 0] = np.nan
    rank = pd.Series(fids * 3, dtype="Int64")
    rank[fids % 13 == 0] = pd.NA
    frame = pd.DataFrame({"score": score, "rank": rank, "flag": (fids % 2).astype(np.int8),
                          "old": fids * 1.0})
    monkeypatch.setattr(gpkg_fast, "_CHUNK", 1000)     # several chunks
    assert gpkg_fast.copy_with_columns((path, "src"), f"{path}|layername=dst", frame, fids,
                                       io_table.column_values)
    assert len(commits) == 3 and any(commits) == (journal == "wal")
    assert _triggers(path, "dst") == triggers
    con = sqlite3.connect(path)
    got = con.execute("SELECT fid, label, keep, old, score, rank, flag, typeof(rank), "
                      "typeof(score), geom FROM dst ORDER BY rowid").fetchall()
    src_geom = dict(con.execute("SELECT fid, geom FROM src").fetchall())
    con.close()
    assert [r[0] for r in got] == list(range(1, n + 1))
    for fid, label, keep, old, sc, rk, flag, rank_type, score_type, geom in got:
        assert (label, keep, old, flag) == (f"z{fid - 1}", (fid - 1) * 0.5, float(fid), fid % 2)
        assert sc == (None if fid % 11 == 0 else fid * 0.25)
        assert score_type == ("null" if fid % 11 == 0 else "real")
        assert rk == (None if fid % 13 == 0 else fid * 3)
        assert rank_type == ("null" if fid % 13 == 0 else "integer")
        assert geom == src_geom[fid]


@pytest.mark.parametrize("fails", ["text", "numbers"])
@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_failed_bulk_write_leaves_the_layer_empty(tmp_path, monkeypatch, journal, fails):
    """A write that fails half way (here the third chunk's values: text columns or the block
    of numbers) leaves the destination as it was given, empty with its R-tree triggers, also
    when WAL mode committed chunks before."""
    import pandas as pd

    path = str(tmp_path / "fail.gpkg")
    n = 12_345
    _source_and_empty_destination(path, n)
    sqlite3.connect(path).execute(f"PRAGMA journal_mode = {journal}").fetchall()
    triggers = _triggers(path, "dst")
    monkeypatch.setattr(gpkg_fast, "_WAL_COMMIT_VALUES", 20_000)
    monkeypatch.setattr(gpkg_fast, "_CHUNK", 1000)
    calls = []

    def failing(real):
        def convert(values):
            calls.append(1)
            if len(calls) > 2:
                raise OSError("disk full")
            return real(values)
        return convert

    fids = np.arange(1, n + 1)
    frame = pd.DataFrame({"score": fids * 0.5, "label": [f"x{i}" for i in fids.tolist()]})
    to_values = io_table.column_values
    if fails == "text":
        to_values = failing(to_values)
    else:
        monkeypatch.setattr(gpkg_fast, "float_rows", failing(gpkg_fast.float_rows))
    with pytest.raises(OSError):
        gpkg_fast.copy_with_columns((path, "src"), f"{path}|layername=dst", frame, fids,
                                    to_values)
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM dst").fetchone()[0] == 0
    con.close()
    assert _triggers(path, "dst") == triggers
    # the bulk layer filler too
    with pytest.raises(OSError):
        with gpkg_fast.LayerFiller(f"{path}|layername=dst") as filler:
            for start in range(1, n, 5000):
                ids = np.arange(start, min(start + 5000, n + 1))
                filler.append({"score": ids * 1.0, "label": [f"z{i}" for i in ids.tolist()]},
                              blobs=gpkg_fast.point_blobs(ids * 1.0, ids * 2.0, 27700),
                              bounds=np.column_stack([ids, ids, ids * 2, ids * 2]))
            raise OSError("cancelled")
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM dst").fetchone()[0] == 0
    con.close()
    assert _triggers(path, "dst") == triggers


def test_wal_commits_inside_a_shared_geopackage_equal_the_sink(provider, tmp_path, monkeypatch):
    """A stage written into the GeoPackage QGIS has open in WAL mode (a run's shared results),
    committing every few thousand values: the same layer as the Processing sink writes, and the
    commits did happen."""
    shared = str(tmp_path / "results.gpkg")
    zones = _run("compositeindex:creategrid", {"STUDY_AREA": _study(), "SHAPE": 2, "SIZE": 100,
                                               "OUTPUT": f"ogr:dbname='{shared}' table=\"zones\" (geom)"}
                 )["OUTPUT"]
    open_layer = QgsVectorLayer(zones, "zones", "ogr")     # QGIS holds the file, as in a run
    assert open_layer.isValid() and open_layer.featureCount() > 1000
    con = sqlite3.connect(shared)
    con.execute("PRAGMA journal_mode = wal").fetchall()
    con.close()
    seen = []
    real_init = gpkg_fast.WalCommits.__init__

    def init(self, con, values=None):
        real_init(self, con, values)
        seen.append(self)

    monkeypatch.setattr(gpkg_fast.WalCommits, "__init__", init)
    monkeypatch.setattr(gpkg_fast, "_WAL_COMMIT_VALUES", 5_000)
    params = {"ZONES": zones, "LOCATIONS": _points(), "LOCATIONS_WEIGHT": "w", "ISSUE": "x"}
    fast = _run("compositeindex:aggregatepat",
                dict(params, OUTPUT=f"ogr:dbname='{shared}' table=\"agg\" (geom)"))["OUTPUT"]
    assert seen and all(c.wal for c in seen) and any(c.committed for c in seen)
    monkeypatch.setattr(io_table, "FAST_MIN_ROWS", 10 ** 9)
    slow = _run("compositeindex:aggregatepat",
                dict(params, OUTPUT=f"ogr:dbname='{shared}' table=\"agg_slow\" (geom)"))["OUTPUT"]
    layer, _ = assert_same_layers(fast, slow)
    assert sum(f["x_locations"] for f in layer.getFeatures()) == 3000
    assert _rtree(fast)[0] == _rtree(zones)[0]


def test_numbers_as_one_float_block_store_what_column_values_store(tmp_path, monkeypatch):
    """The copy's float and integer columns go to SQLite as one block each a chunk
    (``float_rows``, ``int_rows``). Against the same copy with every column through
    ``column_values``, each stored value and its SQLite type are the same, for floats (NaN,
    inf, -0.0, tiny and huge), one-byte flags, integers (also beyond 2**53), nullable
    integers, floats and booleans, into INTEGER, REAL, BOOLEAN and TEXT fields."""
    import pandas as pd
    from osgeo import ogr, osr

    n = 12_001      # three chunks of 5,000 rows (the smallest chunk) with _CHUNK patched below
    rng = np.random.default_rng(8)
    flo = rng.normal(size=n) * 10.0 ** rng.integers(-300, 300, n)
    flo[::7], flo[1::11], flo[2::13], flo[3::17] = np.nan, np.inf, -0.0, -np.inf
    big = rng.integers(-2 ** 62, 2 ** 62, n)
    nullable = pd.Series(rng.integers(-10 ** 15, 10 ** 15, n), dtype="Int64")
    nullable[::5] = pd.NA
    ffloat = pd.Series(rng.normal(size=n), dtype="Float64")
    ffloat[1::4] = pd.NA
    boolean = pd.Series(rng.random(n) < 0.5, dtype="boolean")
    boolean[::9] = pd.NA
    frame = pd.DataFrame({
        "f": flo, "flag": (rng.random(n) < 0.3).astype(np.int8), "big": big,
        "small": rng.integers(-1000, 1000, n), "nullable": nullable, "ffloat": ffloat,
        "b": rng.random(n) < 0.5, "boolean": boolean, "u8": rng.integers(0, 255, n).astype(np.uint8),
        "int_as_real": rng.integers(-5, 5, n), "int_as_text": rng.integers(-5, 5, n),
        "float_as_int": np.round(rng.normal(size=n) * 3, 1),
        "label": [None if i % 6 == 0 else f"t{i}" for i in range(n)]})
    kinds = {"f": (ogr.OFTReal, 0), "flag": (ogr.OFTInteger, 0), "big": (ogr.OFTInteger64, 0),
             "small": (ogr.OFTInteger, 0), "nullable": (ogr.OFTInteger64, 0),
             "ffloat": (ogr.OFTReal, 0), "b": (ogr.OFTInteger, ogr.OFSTBoolean),
             "boolean": (ogr.OFTInteger, ogr.OFSTBoolean), "u8": (ogr.OFTInteger, 0),
             "int_as_real": (ogr.OFTReal, 0), "int_as_text": (ogr.OFTString, 0),
             "float_as_int": (ogr.OFTInteger, 0), "label": (ogr.OFTString, 0)}
    tables = []
    for fast in (True, False):
        path = str(tmp_path / f"copy_{fast}.gpkg")
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
        sr = osr.SpatialReference()
        sr.ImportFromEPSG(27700)
        src = ds.CreateLayer("src", sr, ogr.wkbPoint)
        src.StartTransaction()
        for i in range(n):
            f = ogr.Feature(src.GetLayerDefn())
            f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({i} {i})"))
            src.CreateFeature(f)
        src.CommitTransaction()
        dst = ds.CreateLayer("dst", sr, ogr.wkbPoint)
        for name, (kind, sub) in kinds.items():
            field = ogr.FieldDefn(name, kind)
            field.SetSubType(sub)
            dst.CreateField(field)
        ds = None
        routed = []
        real = gpkg_fast._row_group
        monkeypatch.setattr(gpkg_fast, "_row_group", lambda s, _r=real, _f=fast, _seen=routed:
                            (_seen.append((s.name, _r(s))) or _r(s)) if _f else None)
        monkeypatch.setattr(gpkg_fast, "_CHUNK", 1000)
        assert gpkg_fast.copy_with_columns((path, "src"), f"{path}|layername=dst", frame,
                                           np.arange(1, n + 1), io_table.column_values)
        if fast:
            groups = dict(routed)
            assert [c for c in kinds if groups[c] == "float"] == ["f", "ffloat", "float_as_int"]
            assert [c for c in kinds if groups[c] is None] == ["nullable", "boolean", "label"]
        con = sqlite3.connect(path)
        cols = ", ".join(f'quote("{c}"), typeof("{c}")' for c in kinds)
        tables.append(con.execute(f"SELECT fid, {cols} FROM dst ORDER BY fid").fetchall())
        types = dict(con.execute("SELECT name, type FROM pragma_table_info('dst')").fetchall())
        con.close()
    assert len(tables[0]) == n and tables[0] == tables[1]
    assert types["b"] == "BOOLEAN" and types["int_as_text"] == "TEXT"
    got = {c: [r[1 + 2 * k] for r in tables[0]] for k, c in enumerate(kinds)}
    assert got["big"][0] == str(int(big[0]))      # every digit: not rounded through a double
    assert got["flag"][:3] == [str(v) for v in frame["flag"][:3]]   # integers, not 1.0


def test_a_row_major_group_holds_whole_rows():
    with pytest.raises(ValueError):
        gpkg_fast.RowMajor([1.0, 2.0, 3.0], 2)
