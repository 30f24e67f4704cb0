"""One fast writer for GeoPackage outputs: whole files or layers inside a shared GeoPackage.

Writing features one by one through a Processing sink costs about 10 microseconds of Python per
feature, and GDAL then rebuilds the spatial index when the dataset closes. For a large output
the sink only creates the (empty) layer with the right fields; this module then fills it with
SQLite directly:

* one transaction; the table's triggers are dropped during the insert and put back after;
* geometry blobs built in numpy (GeoPackage binary: a ``GP`` header with the envelope, then
  little-endian WKB), rows inserted in chunks (``LayerFiller``), or copied set-based from another
  GeoPackage table with the new columns joined from a temporary table (``copy_with_columns``);
* the R-tree (GeoPackage ``gpkg_rtree_index`` extension, an SQLite R*Tree module table) written
  directly into its three shadow tables from numpy (sort-tile-recursive packing, Leutenegger,
  Lopez and Edgington, "STR: a simple and efficient algorithm for R-tree packing", ICDE 1997), or
  its shadow tables copied from the source's R-tree when the geometries and feature ids are
  unchanged. Nothing is rebuilt when GDAL next opens or closes the file;
* a fresh file about to take a large write first moves to SQLite's largest page size
  (``large_pages``): the same rows cost fewer pages and B-tree cells.

The R-tree node format is SQLite's own (``ext/rtree/rtree.c``, documented in its header): a
node is a blob of ``4 + 24 * n`` bytes or more (big-endian 16-bit tree depth, on the root only,
and 16-bit cell count, then cells of a 64-bit rowid or child node number and four 32-bit floats
minx, maxx, miny, maxy); ``%_rowid`` maps each entry to its leaf and ``%_parent`` each node to
its parent. Coordinates are rounded outwards to 32-bit floats the way SQLite rounds them
(``rtreeValueDown`` / ``rtreeValueUp``), so the index holds exactly what an INSERT would give;
``rtreecheck()`` verifies the structure in the tests.

Anything unexpected returns False (or raises) before the commit, and the caller writes through
the sink instead, which is always right.
"""
import os
import re
import sqlite3
from collections.abc import Sequence

import numpy as np

from composite_index_plugin.core.grid import polygon_wkb

_RTREE_ROUND = 1.0 / 8388608.0   # SQLite's RNDTOWARDS / RNDAWAY: 1 -+ 2**-23
_CHUNK = 100_000
_ROWS_PER_STATEMENT = 128   # rows of one multi-row INSERT (fewer when they would pass the limit)
_WAL_COMMIT_VALUES = 30_000_000   # values per transaction of a bulk write in WAL mode (~250 MB)
LARGE_PAGE_SIZE = 65536        # SQLite's largest page: bulk writes about 1.6x faster than at 4096
_LARGE_PAGES_ROWS = 50_000     # a write of this many rows first moves a fresh file to large pages
_FRESH_FILE_BYTES = 16 << 20   # ... when the file is no bigger than this (rewritten in a blink)


# ---------------------------------------------------------------------------------------------
# Destinations


def gpkg_target(dest_id):
    """``(path, table)`` of a destination that is a layer of a GeoPackage file (``path`` alone
    when the file holds one layer, or ``path|layername=name``), else None."""
    if not isinstance(dest_id, str):
        return None
    path, _, rest = dest_id.partition("|")
    if not path.lower().endswith(".gpkg") or not os.path.isfile(path):
        return None
    if rest and not (rest.startswith("layername=") and "|" not in rest):
        return None
    table = rest[len("layername="):] if rest else None
    try:
        con = sqlite3.connect(path, timeout=30)
        try:
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type IN ('features', "
                "'attributes')")]
        finally:
            con.close()
    except sqlite3.Error:
        return None
    if table is None:
        return (path, names[0]) if len(names) == 1 else None
    match = [n for n in names if n == table] or [n for n in names if n.lower() == table.lower()]
    return (path, match[0]) if match else None


def plain_gpkg(dest_id):
    """True for a destination that looks like a GeoPackage layer (a whole file, or
    ``path|layername=name``). GDAL may create the layer's table only when the sink closes, so
    the writers check the table itself (``gpkg_target``) after closing the sink."""
    if not isinstance(dest_id, str):
        return False
    path, _, rest = dest_id.partition("|")
    return path.lower().endswith(".gpkg") and os.path.isfile(path) and \
        (not rest or (rest.startswith("layername=") and "|" not in rest))


def layer_srs_id(dest_id):
    """The GeoPackage srs_id of a layer's geometry column (None for a table or no layer)."""
    target = gpkg_target(dest_id)
    if target is None:
        return None
    con = sqlite3.connect(target[0], timeout=30)
    try:
        row = con.execute("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = ?",
                          (target[1],)).fetchone()
    finally:
        con.close()
    return None if row is None else row[0]


def connect(path):
    """An SQLite connection in autocommit mode (transactions are explicit), waiting for locks."""
    con = sqlite3.connect(path, isolation_level=None, timeout=60)
    con.execute("PRAGMA cache_size = -65536")      # 64 MB of page cache for the bulk write
    con.execute("PRAGMA temp_store = MEMORY")
    # The GeoPackage's R-tree triggers name these SpatiaLite-style functions; they are dropped
    # while rows go in, but SQLite must know them to parse the schema of some statements.
    for function in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        con.create_function(function, 1, _no_geometry_function)
    return con


def large_pages(path, rows):
    """Before a bulk write of ``rows`` rows into the GeoPackage ``path``: move a fresh file (at
    most ``_FRESH_FILE_BYTES``: new, or holding a few small layers) to SQLite's largest page
    size, ``LARGE_PAGE_SIZE`` (``PRAGMA page_size`` then ``VACUUM``, which rewrites the file
    with the same tables and rows; the journal mode is put back). GDAL creates GeoPackages
    with 4 KB pages; with 64 KB pages a bulk write stores far fewer pages and B-tree cells for
    the same bytes: 2M rows of 42 values copied inside one file in WAL mode, 6.0 s -> 3.8 s
    (rollback journal: 3.9 s -> 1.9 s); all of England and Wales (``bench_national.py large``,
    every stage into one GeoPackage), runs interleaved, 181.9 and 184.8 s -> 165.6 and 158.6 s
    end to end. Readers need nothing: SQLite reads the page size from the file's header, and
    the R-tree's node size (1,228 bytes) does not depend on it.

    Nothing happens for a small write, a large file (its pages stay as they are: a rewrite
    would cost more than it saves), a file with a layer whose feature ids are rowids (VACUUM
    may renumber them) or a file another connection is reading or writing (no waiting: the
    write goes ahead with the pages it has); a connection left open and idle (QGIS holding a
    layer) does not stop it. Returns the page size the file has after, None when it was not
    looked at."""
    if rows < _LARGE_PAGES_ROWS:
        return None
    try:
        if os.path.getsize(path) > _FRESH_FILE_BYTES:
            return None
        con = sqlite3.connect(path, isolation_level=None, timeout=0)
    except (OSError, sqlite3.Error):
        return None
    try:
        page = con.execute("PRAGMA page_size").fetchone()[0]
        if page >= LARGE_PAGE_SIZE or not _fids_kept_by_vacuum(con):
            return page
        journal = str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        try:
            if journal == "wal" and str(con.execute(
                    "PRAGMA journal_mode = DELETE").fetchone()[0]).lower() == "wal":
                return page        # WAL mode could not be left
            con.execute(f"PRAGMA page_size = {LARGE_PAGE_SIZE}")
            con.execute("VACUUM")
        except sqlite3.Error:
            pass               # busy or locked: the pages stay as they are
        finally:
            if journal == "wal":
                con.execute("PRAGMA journal_mode = WAL").fetchall()
        return con.execute("PRAGMA page_size").fetchone()[0]
    except sqlite3.Error:
        return None
    finally:
        con.close()


def _fids_kept_by_vacuum(con):
    """True when every layer of the GeoPackage has an INTEGER PRIMARY KEY: VACUUM may renumber
    the rowids of a table without one, and GDAL takes such a table's rowid as the feature id."""
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM gpkg_contents WHERE data_type IN ('features', 'attributes')")]
    for table in tables:
        info = con.execute(f"PRAGMA table_info({quote(table)})").fetchall()
        keys = [r for r in info if r[5]]
        if len(keys) != 1 or str(keys[0][2]).upper() != "INTEGER":
            return False
    return True


def _no_geometry_function(_blob):
    raise ValueError("a GeoPackage geometry trigger ran during a bulk write")


def quote(name):
    return '"' + str(name).replace('"', '""') + '"'


class FixedBlobs(Sequence):
    """Blobs of one width laid end to end in one ``bytes`` (``raw``): a read-only sequence of
    ``bytes`` (indexing, slices, iteration, ``==`` with a list) that ``insert_rows`` writes
    without making one Python object per blob (each statement binds its rows' bytes once and
    SQLite cuts them with ``substr``, which keeps a blob a blob)."""

    __slots__ = ("raw", "width", "n")

    def __init__(self, raw, width, n):
        if width <= 0 or len(raw) != width * n:
            raise ValueError("the bytes do not hold n blobs of that width")
        self.raw, self.width, self.n = bytes(raw), int(width), int(n)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(self.n)
            if step != 1:
                return [self[k] for k in range(start, stop, step)]
            stop = max(stop, start)
            return FixedBlobs(self.raw[start * self.width:stop * self.width], self.width,
                              stop - start)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError("blob index out of range")
        return self.raw[i * self.width:(i + 1) * self.width]

    def __eq__(self, other):
        if isinstance(other, FixedBlobs):
            return self.width == other.width and self.raw == other.raw
        if isinstance(other, (list, tuple)):
            return len(other) == self.n and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __add__(self, other):
        return list(self) + list(other)

    def __radd__(self, other):
        return list(other) + list(self)

    def __repr__(self):
        return f"FixedBlobs({self.n} x {self.width} bytes)"


class RowMajor:
    """Several columns given row by row in one list (row 0's ``width`` values, then row 1's,
    ...), as ``ndarray.ravel().tolist()`` makes them from a 2-D block in one C pass:
    ``insert_rows`` binds a statement's rows of it as one slice, with no interleaving of
    column lists. In ``row_sql`` it stands for ``width`` consecutive parameters."""

    __slots__ = ("values", "width", "n")

    def __init__(self, values, width):
        if width <= 0 or len(values) % width:
            raise ValueError("the values do not fill whole rows of that width")
        self.values, self.width, self.n = values, int(width), len(values) // int(width)

    def __len__(self):
        return self.n


def insert_rows(con, head, row_sql, columns, tail=""):
    """``INSERT`` rows given by ``columns`` (one sequence per parameter, all of one length),
    several rows per statement: ``head`` is ``INSERT INTO t (cols)`` and ``row_sql`` one row's
    values written with numbered parameters ``?1`` .. ``?n`` for the n columns (expressions may
    use one more than once, e.g. ``?1, ?2, 'H' || ?2``; no ``?`` may stand inside a string
    literal). The same rows in the same order as
    ``con.executemany(head + " VALUES (" + row_sql + ")", zip(*columns))``, in about half the
    time: a statement of one row costs SQLite more than binding its values (measured with
    101,267 grid cells: 0.17 s -> 0.07 s), and the values are interleaved by list slices
    rather than row tuples. A ``FixedBlobs`` column is bound once per statement (its rows'
    bytes) and cut by SQLite (``substr``), so no Python object per blob is needed. A
    ``RowMajor`` group (several columns, row by row) is bound as one slice per statement and
    stands for its ``width`` consecutive parameters in ``row_sql``.

    ``tail`` follows the rows' ``VALUES`` list: with a ``head`` ending in ``SELECT ... FROM (``
    and a ``tail`` such as ``) AS v JOIN t ON ...``, the rows are a table joined in one
    statement. Returns the number of rows the statements inserted."""
    columns = [c if isinstance(c, (list, FixedBlobs, RowMajor)) else list(c) for c in columns]
    # one slot per parameter ?1 .. ?n: (column, position inside a RowMajor group)
    slots = [(k, i) for k, c in enumerate(columns)
             for i in range(c.width if isinstance(c, RowMajor) else 1)]
    n_params = len(slots)
    if n_params == 0:
        raise ValueError("no columns to insert")
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError("the columns have different lengths")
    param = re.compile(r"\?(\d+)")
    if any(not 1 <= int(m) <= n_params for m in param.findall(row_sql)):
        raise ValueError("a row's parameters must be numbered ?1 .. ?n (one per column)")
    if n == 0:
        return 0
    try:
        limit = con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except (AttributeError, sqlite3.Error):   # Python < 3.11: SQLite's smallest default
        limit = 999
    kinds = [FixedBlobs if isinstance(c, FixedBlobs) else RowMajor if isinstance(c, RowMajor)
             else list for c in columns]
    plain = [k for k, kind in enumerate(kinds) if kind is list]      # bound row by row
    blob_cols = [k for k, kind in enumerate(kinds) if kind is FixedBlobs]   # once a statement
    groups = [k for k, kind in enumerate(kinds) if kind is RowMajor]     # a slice a statement
    m_row = len(plain)
    per_row = m_row + sum(columns[k].width for k in groups)   # parameters bound per row
    per = max(1, min(_ROWS_PER_STATEMENT, (limit - len(blob_cols)) // max(per_row, 1)))
    if per == 1 and not blob_cols and not groups:
        return con.executemany(f"{head} VALUES ({row_sql}){tail}", zip(*columns)).rowcount
    rank = {k: r for r, k in enumerate(plain)}

    def statement(k):
        # parameters of a statement of k rows: the plain columns row by row, then each blob
        # column's bytes, then each group's k rows
        base, offset = k * m_row + len(blob_cols), {}
        for g in groups:
            offset[g] = base
            base += k * columns[g].width

        def row(j):
            def one(match):
                c, i = slots[int(match.group(1)) - 1]
                if kinds[c] is FixedBlobs:
                    w = columns[c].width
                    return f"substr(?{k * m_row + blob_cols.index(c) + 1}, {j * w + 1}, {w})"
                if kinds[c] is RowMajor:
                    return f"?{offset[c] + j * columns[c].width + i + 1}"
                return f"?{j * m_row + rank[c] + 1}"
            return "(" + param.sub(one, row_sql) + ")"
        return f"{head} VALUES " + ", ".join(row(j) for j in range(k)) + tail

    full = statement(per)
    cursor = con.cursor()
    block = 64 * per
    inserted = 0
    for start in range(0, n, block):
        m = min(block, n - start)
        flat = [None] * (m * m_row)
        for r, k in enumerate(plain):
            flat[r::m_row] = columns[k][start:start + m]
        for first in range(0, m, per):
            k = min(per, m - first)
            values = flat[first * m_row:(first + k) * m_row]
            row0 = start + first
            for c in blob_cols:
                w = columns[c].width
                values.append(columns[c].raw[row0 * w:(row0 + k) * w])
            for g in groups:
                w = columns[g].width
                values += columns[g].values[row0 * w:(row0 + k) * w]
            inserted += cursor.execute(full if k == per else statement(k), values).rowcount
    return inserted


class TableInfo:
    """What a GeoPackage feature table looks like: fid and geometry columns, fields, R-tree."""

    def __init__(self, con, table, schema="main"):
        self.schema, self.name = schema, table
        s = quote(schema)
        info = con.execute(f"PRAGMA {s}.table_info({quote(table)})").fetchall()
        self.columns = [r[1] for r in info]
        pk = [r[1] for r in info if r[5] == 1]
        self.fid = pk[0] if len(pk) == 1 else None
        row = con.execute(f"SELECT column_name, srs_id FROM {s}.gpkg_geometry_columns WHERE "
                          "table_name = ?", (table,)).fetchone()
        self.geom, self.srs_id = (row[0], row[1]) if row else (None, None)
        self.rtree = None
        if self.geom is not None:
            name = f"rtree_{table}_{self.geom}"
            if con.execute(f"SELECT 1 FROM {s}.sqlite_master WHERE name = ?", (name,)).fetchone():
                self.rtree = name
        self.fields = [c for c in self.columns if c not in (self.fid, self.geom)]

    def qualified(self, name=None):
        return f"{quote(self.schema)}.{quote(name or self.name)}"


# ---------------------------------------------------------------------------------------------
# Geometry blobs


def _split(raw, width, n):
    return [raw[i * width:(i + 1) * width] for i in range(n)]


def _fixed(raw, width, n):
    return FixedBlobs(raw, width, n) if n else []


def point_blobs(x, y, srs_id):
    """GeoPackage point blobs (no envelope), one per point (a ``FixedBlobs``; [] for none)."""
    rec = np.zeros(len(x), dtype=[("magic", "S2"), ("version", "u1"), ("flags", "u1"),
                                  ("srs", "<i4"), ("order", "u1"), ("type", "<u4"),
                                  ("x", "<f8"), ("y", "<f8")])
    rec["magic"] = b"GP"
    rec["flags"] = 1          # little endian, no envelope, not empty
    rec["srs"] = srs_id
    rec["order"] = 1
    rec["type"] = 1           # wkbPoint
    rec["x"] = x
    rec["y"] = y
    return _fixed(rec.tobytes(), rec.dtype.itemsize, len(rec))


def polygon_blobs(vertices, srs_id, multi=True):
    """GeoPackage (multi)polygon blobs with their envelope, from an ``(n, k, 2)`` array of
    closed rings; returns ``(blobs, bounds)`` with blobs a ``FixedBlobs`` ([] for none) and
    bounds ``(n, 4)`` = minx, maxx, miny, maxy. Each blob is one record of a numpy structured
    array (header, envelope, WKB prefix and the ring's coordinates), so the bytes are laid out
    once."""
    v = np.ascontiguousarray(vertices, dtype="<f8")
    n = len(v)
    if n == 0:
        return [], np.empty((0, 4))
    k = v.shape[1]
    bounds = np.empty((n, 4))
    for j, (axis, reduce) in enumerate(((0, np.minimum), (0, np.maximum), (1, np.minimum),
                                        (1, np.maximum))):
        out = bounds[:, j]
        out[:] = v[:, 0, axis]
        for m in range(1, k):   # k vertices: k - 1 element-wise steps beat a reduce of length k
            reduce(out, v[:, m, axis], out=out)
    prefix = np.frombuffer(b"".join(polygon_wkb(v[:1], multi=multi)), dtype=np.uint8)[:-k * 16]
    rec = np.empty(n, dtype=[("magic", "S2"), ("version", "u1"), ("flags", "u1"),
                             ("srs", "<i4"), ("env", "<f8", (4,)), ("wkb", "u1", (len(prefix),)),
                             ("xy", "<f8", (k, 2))])
    rec["magic"] = b"GP"
    rec["version"] = 0
    rec["flags"] = 1 | (1 << 1)  # little endian, envelope [minx, maxx, miny, maxy]
    rec["srs"] = srs_id
    rec["env"] = bounds
    rec["wkb"] = prefix
    rec["xy"] = v
    return _fixed(rec.tobytes(), rec.dtype.itemsize, n), bounds


# ---------------------------------------------------------------------------------------------
# The R-tree, written straight into SQLite's shadow tables


def rtree_bounds(bounds):
    """``(n, 4)`` float64 minx, maxx, miny, maxy -> float32 rounded outwards as SQLite does
    (``rtreeValueDown`` for minima, ``rtreeValueUp`` for maxima)."""
    b = np.asarray(bounds, dtype="float64").reshape(-1, 4)
    out = b.astype(np.float32)
    for j in range(4):
        d = b[:, j]
        f = out[:, j]
        down = j in (0, 2)
        wrong = (f.astype("float64") > d) if down else (f.astype("float64") < d)
        if wrong.any():
            dd = d[wrong]
            if down:   # d < 0: RNDAWAY, else RNDTOWARDS
                factor = np.where(dd < 0, 1.0 + _RTREE_ROUND, 1.0 - _RTREE_ROUND)
            else:      # d < 0: RNDTOWARDS, else RNDAWAY
                factor = np.where(dd < 0, 1.0 - _RTREE_ROUND, 1.0 + _RTREE_ROUND)
            f[wrong] = (dd * factor).astype(np.float32)
    return out


def _str_order(cx, cy, per_node):
    """Sort-tile-recursive order of boxes with centres (cx, cy) for nodes of ``per_node``."""
    n = len(cx)
    leaves = -(-n // per_node)
    slices = max(int(np.ceil(np.sqrt(leaves))), 1)
    by_x = np.argsort(cx, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_x] = np.arange(n)
    slab = rank // (slices * per_node)
    return np.lexsort((cy, slab))


def _node_blobs(entries, boxes, per_node, node_size, depth=None):
    """Node blobs (an ``(groups, node_size)`` uint8 array) for consecutive groups of
    ``per_node`` entries, and each entry's group."""
    n = len(entries)
    groups = -(-n // per_node)
    cell = np.zeros(groups * per_node, dtype=[("id", ">i8"), ("box", ">f4", (4,))])
    cell["id"][:n] = entries
    cell["box"][:n] = boxes
    head = np.zeros(groups, dtype=[("depth", ">u2"), ("count", ">u2")])
    head["count"] = per_node
    head["count"][-1] = n - per_node * (groups - 1)
    if depth is not None:
        head["depth"] = depth
    raw = np.zeros((groups, node_size), dtype=np.uint8)
    raw[:, :4] = head.view(np.uint8).reshape(groups, 4)
    raw[:, 4:4 + per_node * 24] = cell.view(np.uint8).reshape(groups, per_node * 24)
    return raw, np.arange(n) // per_node


def write_rtree(con, rtree, ids, bounds, schema="main"):
    """Replace the content of the (existing) R-tree ``rtree`` by entries ``ids`` with ``bounds``
    (``(n, 4)`` minx, maxx, miny, maxy in float64), packed in numpy. Inside the caller's
    transaction."""
    s = quote(schema)
    row = con.execute(f"SELECT length(data) FROM {s}.{quote(rtree + '_node')} WHERE nodeno = 1"
                      ).fetchone()
    node_size = row[0] if row else 1228
    per_node = (node_size - 4) // 24
    for part in ("node", "rowid", "parent"):
        con.execute(f"DELETE FROM {s}.{quote(rtree + '_' + part)}")
    ids = np.asarray(ids, dtype=np.int64)
    boxes = rtree_bounds(bounds) if len(ids) else np.empty((0, 4), np.float32)
    node_table = f"{s}.{quote(rtree + '_node')}"
    if len(ids) == 0:
        con.execute(f"INSERT INTO {node_table} VALUES (1, zeroblob({node_size}))")
        return
    # levels bottom-up: leaves hold the entries, each level above holds the nodes below
    levels = []
    level_ids, level_boxes = ids, boxes
    while True:
        if len(level_ids) > per_node:
            order = _str_order((level_boxes[:, 0] + level_boxes[:, 1]) * 0.5,
                               (level_boxes[:, 2] + level_boxes[:, 3]) * 0.5, per_node)
            level_ids, level_boxes = level_ids[order], level_boxes[order]
        levels.append((level_ids, level_boxes))
        if len(level_ids) <= per_node:
            break
        groups = -(-len(level_ids) // per_node)
        gb = np.empty((groups, 4), dtype=np.float32)
        starts = np.arange(0, len(level_ids), per_node)
        gb[:, 0] = np.minimum.reduceat(level_boxes[:, 0], starts)
        gb[:, 1] = np.maximum.reduceat(level_boxes[:, 1], starts)
        gb[:, 2] = np.minimum.reduceat(level_boxes[:, 2], starts)
        gb[:, 3] = np.maximum.reduceat(level_boxes[:, 3], starts)
        level_ids = np.arange(groups, dtype=np.int64)   # groups of the level below
        level_boxes = gb
    depth = len(levels) - 1
    # number the nodes: root 1, then level by level from the top
    next_no = 2
    node_numbers = []     # per level (bottom-up), the node number of each group
    for lev in range(depth, -1, -1):
        groups = -(-len(levels[lev][0]) // per_node)
        if lev == depth:
            node_numbers.append(np.array([1], dtype=np.int64))
        else:
            node_numbers.append(np.arange(next_no, next_no + groups, dtype=np.int64))
            next_no += groups
    node_numbers = node_numbers[::-1]
    for lev in range(depth + 1):
        entries, entry_boxes = levels[lev]
        if lev > 0:   # the children: node numbers of the groups of the level below
            entries = node_numbers[lev - 1][entries]
        raw, group_of = _node_blobs(entries, entry_boxes, per_node, node_size,
                                       depth if lev == depth else None)
        numbers = node_numbers[lev]
        insert_rows(con, f"INSERT INTO {node_table}", "?1, ?2",
                    [numbers.tolist(), _split(raw.tobytes(), node_size, len(numbers))])
        if lev == 0:   # in rowid order: appends to the shadow table's B-tree, no page shuffling
            by_id = np.argsort(entries, kind="stable")
            leaf_of = numbers[group_of][by_id]
            sorted_ids = entries[by_id]
            for start in range(0, len(sorted_ids), 1_000_000):
                insert_rows(con, f"INSERT INTO {s}.{quote(rtree + '_rowid')}", "?1, ?2",
                            [sorted_ids[start:start + 1_000_000].tolist(),
                             leaf_of[start:start + 1_000_000].tolist()])
        else:
            insert_rows(con, f"INSERT INTO {s}.{quote(rtree + '_parent')}", "?1, ?2",
                        [entries.tolist(), numbers[group_of].tolist()])


def copy_rtree(con, source_schema, source_rtree, rtree, schema="main"):
    """Copy an R-tree's shadow tables (same feature ids, same geometries); False when the node
    sizes differ (then the caller writes the R-tree from the bounds)."""
    src, dst = quote(source_schema), quote(schema)
    a = con.execute(f"SELECT length(data) FROM {src}.{quote(source_rtree + '_node')} WHERE "
                    "nodeno = 1").fetchone()
    b = con.execute(f"SELECT length(data) FROM {dst}.{quote(rtree + '_node')} WHERE nodeno = 1"
                    ).fetchone()
    if a is None or (b is not None and a[0] != b[0]):
        return False
    for part in ("node", "rowid", "parent"):
        con.execute(f"DELETE FROM {dst}.{quote(rtree + '_' + part)}")
        con.execute(f"INSERT INTO {dst}.{quote(rtree + '_' + part)} SELECT * FROM "
                    f"{src}.{quote(source_rtree + '_' + part)}")
    return True


# ---------------------------------------------------------------------------------------------
# Filling a layer


class LayerFiller:
    """Fill the empty GeoPackage layer ``dest_id`` chunk by chunk in one transaction.

    ``append(columns, blobs, bounds, sql_values)``: ``columns`` maps field names to sequences
    (one value per row); ``sql_values`` maps field names to SQL expressions over the bound
    parameters (``?1``, ``?2``... numbered after the blob and the columns, in their order), e.g.
    a text id made by SQLite from two integer columns. Rows get feature ids 1, 2, 3...; the
    R-tree is written at ``close()`` from the bounds kept (16 bytes per row). Use as a context
    manager: after an exception the layer is empty again, its triggers back (``WalCommits``).
    ``rows``: about how many rows will come (a fresh file then gets large pages first,
    ``large_pages``).
    """

    def __init__(self, dest_id, rows=0):
        target = gpkg_target(dest_id)
        if target is None:
            raise ValueError("not a GeoPackage layer")
        self.path, self.table = target
        large_pages(self.path, rows)
        self.con = connect(self.path)
        self.info = TableInfo(self.con, self.table)
        if self.info.fid is None:
            self.con.close()
            raise ValueError("the layer has no integer primary key")
        if self.con.execute(f"SELECT COUNT(*) FROM {quote(self.table)}").fetchone()[0] != 0:
            self.con.close()
            raise ValueError("the layer is not empty")
        self.n = 0
        self._boxes = []
        self._triggers = []
        self._open = False

    def __enter__(self):
        self._commits = WalCommits(self.con)
        self.con.execute("BEGIN")
        self._open = True
        self._triggers = self.con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
            (self.table,)).fetchall()
        for name, _ in self._triggers:
            self.con.execute(f"DROP TRIGGER {quote(name)}")
        return self

    def append(self, columns, blobs=None, bounds=None, sql_values=None):
        """Insert rows: ``columns`` {field: values}; ``sql_values`` {field: SQL expression} where
        ``{name}`` stands for the value of column ``name`` of the row (columns that are only
        used in expressions may be named ``_something``, they are not written), e.g.
        ``{"cell_id": "'H100_q' || {q} || '_r' || {r}", "grid_shape": "'hex_flat'"}``."""
        sql_values = dict(sql_values or {})
        cols = list(columns)
        written = [c for c in cols if not c.startswith("_")]
        unknown = [c for c in written + list(sql_values) if c not in self.info.fields]
        if unknown:
            raise ValueError(f"fields not in the layer: {', '.join(unknown)}")
        if (blobs is None) != (self.info.geom is None):
            raise ValueError("geometry given for a table, or missing for a spatial layer")
        values = [columns[c] for c in cols]
        count = len(values[0]) if values else len(blobs) if blobs is not None else 0
        target, params = [quote(self.info.fid)], ["?1"]
        bound = [range(self.n + 1, self.n + count + 1)]
        if blobs is not None:
            target.append(quote(self.info.geom))
            bound.append(blobs)
            params.append(f"?{len(bound)}")
        slot = {}
        for c, v in zip(cols, values):
            bound.append(v.tolist() if hasattr(v, "tolist") else list(v))
            slot[c] = f"?{len(bound)}"
            if not c.startswith("_"):
                target.append(quote(c))
                params.append(slot[c])
        for c, expr in sql_values.items():
            target.append(quote(c))
            params.append(expr.format(**slot))
        insert_rows(self.con, f"INSERT INTO {quote(self.table)} ({', '.join(target)})",
                    ", ".join(params), bound)
        if blobs is not None:
            self._boxes.append(np.asarray(bounds, dtype="float64").reshape(-1, 4))
        self.n += count
        self._commits.wrote(count * len(target))

    def close(self, extent=None):
        """Write the R-tree, put the triggers back, set the extent and count; commit."""
        con = self.con
        boxes = np.vstack(self._boxes) if self._boxes else np.empty((0, 4))
        if self.info.rtree is not None:
            write_rtree(con, self.info.rtree, np.arange(1, self.n + 1), boxes)
        _finish(con, self.table, self._triggers, self.n, boxes if extent is None else None,
                extent)
        con.execute("COMMIT")
        self._open = False

    def __exit__(self, kind, value, tb):
        try:
            if kind is not None and self._open:
                self.con.execute("ROLLBACK")
                self._commits.undo(self.table, self._triggers)
            elif self._open:
                self.close()
        finally:
            self.con.close()
        return False


class WalCommits:
    """Commits along a bulk write when the GeoPackage is in WAL mode (as QGIS opens one it
    writes to, such as a run's shared ``results.gpkg``): SQLite writes a transaction's pages to
    the WAL and copies them into the file at the checkpoint, and a transaction of gigabytes
    overflows the page cache on the way (SQLite's own advice: rollback journals for
    transactions above about 100 MB). Committing every ``values`` bound values keeps the WAL
    small. England and Wales' 6.9M cells x 107 new columns into the shared file: the write
    135 s -> 80 s (into a file of its own, rollback journal: 69 s).

    The table being written is a staged temporary one (``transaction``), never seen before it
    is complete; ``undo`` empties it again after a failure. ``synchronous`` is NORMAL for this
    connection, which in WAL mode keeps the file consistent on power loss. Outside WAL mode
    one transaction is kept (a rollback journal holds no new pages)."""

    def __init__(self, con, values=None):
        self.con, self.limit = con, _WAL_COMMIT_VALUES if values is None else values
        self.wal = str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
        if self.wal:
            con.execute("PRAGMA synchronous = NORMAL")
        self.pending = 0
        self.committed = False

    def wrote(self, n_values):
        """``n_values`` more values written in the open transaction: commit and begin again
        past the limit."""
        if not self.wal:
            return
        self.pending += n_values
        if self.pending >= self.limit:
            self.con.execute("COMMIT")
            self.con.execute("BEGIN")
            self.pending = 0
            self.committed = True

    def undo(self, table, triggers):
        """After a failure and ROLLBACK: remove the rows committed on the way and put the
        triggers back, so the table is empty as it was given."""
        if not self.committed:
            return
        self.con.execute("BEGIN")
        self.con.execute(f"DELETE FROM {quote(table)}")
        for _, sql_text in triggers:
            if sql_text:
                self.con.execute(sql_text)
        self.con.execute("COMMIT")


def _finish(con, table, triggers, n_rows, boxes=None, extent=None):
    for _, sql_text in triggers:
        if sql_text:
            con.execute(sql_text)
    if extent is None and boxes is not None and len(boxes):
        extent = (float(boxes[:, 0].min()), float(boxes[:, 2].min()), float(boxes[:, 1].max()),
                  float(boxes[:, 3].max()))
    if extent is not None:
        con.execute("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? "
                    "WHERE table_name = ?", (*extent, table))
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
        con.execute("UPDATE gpkg_ogr_contents SET feature_count = ? WHERE table_name = ?",
                    (n_rows, table))


def fill_layer(dest, frame, blobs=None, bounds=None):
    """Fill the empty GeoPackage layer ``dest`` (a file with one layer, or
    ``path|layername=name``) with ``frame``'s rows (columns must be fields of the layer) and, for
    a spatial layer, ``blobs`` (GeoPackage geometries) with their ``bounds`` (minx, maxx, miny,
    maxy). One SQLite transaction (committed along the way in WAL mode: ``WalCommits``); the
    R-tree is written directly (the packed R-tree costs about a microsecond per row).
    Returns False (nothing written) when the layer does not look as expected."""
    try:
        filler = LayerFiller(dest, rows=len(frame))
    except (ValueError, sqlite3.Error):
        return False
    with filler:
        if any(c not in filler.info.fields for c in frame.columns) or \
                (blobs is None) != (filler.info.geom is None):
            filler.con.execute("ROLLBACK")
            filler._open = False
            return False
        for start in range(0, max(len(frame), 1), _CHUNK):
            part = frame.iloc[start:start + _CHUNK]
            if len(part) == 0:
                break
            filler.append({c: column_values(part[c]) for c in part.columns},
                          None if blobs is None else blobs[start:start + _CHUNK],
                          None if bounds is None else np.asarray(bounds)[start:start + _CHUNK])
    return True


def _float_list(arr):
    """A 1-D float array as Python floats, NaN -> None. tolist() makes the floats in C; the few
    NaN are then set to None one by one (through an object array when there are many).
    7M zones x 107 columns: 16 s -> 10 s."""
    nan = np.flatnonzero(np.isnan(arr))
    if len(nan) > len(arr) // 8:
        out = arr.astype(object)
        out[nan] = None
        return out.tolist()
    out = arr.tolist()
    for i in nan.tolist():
        out[i] = None
    return out


def float_rows(block):
    """A ``RowMajor`` of the numeric DataFrame ``block``: its rows as Python floats one after
    another (one ``tolist`` of the 2-D float block, no interleaving of column lists); NaN and
    missing values are None (NULL), as ``column_values`` makes them."""
    plain = all(isinstance(d, np.dtype) for d in block.dtypes)   # no pandas Float64 (NA)
    arr = block.to_numpy(dtype="float64") if plain else \
        block.to_numpy(dtype="float64", na_value=np.nan)
    return RowMajor(_float_list(arr.ravel()), block.shape[1])


def int_rows(block):
    """A ``RowMajor`` of the DataFrame ``block`` of numpy integer and boolean columns (never
    missing): Python integers, as ``column_values`` makes them, row after row."""
    return RowMajor(block.to_numpy(dtype="int64").ravel().tolist(), block.shape[1])


def _row_group(series):
    """Which block a new column travels in: "float" (any float column, NaN -> NULL), "int"
    (numpy integers and booleans) or None (``to_values``: text, nullable integers)."""
    kind = series.dtype.kind
    if kind == "f":
        return "float"
    if kind in "iub" and isinstance(series.dtype, np.dtype):
        return "int"
    return None


def column_values(series):
    """Python values for a column: NaN / None / pd.NA -> None (NULL), numpy scalars -> Python
    scalars. Nullable integer columns (pandas ``Int64``) stay integers."""
    kind = series.dtype.kind
    if kind == "f":
        return _float_list(series.to_numpy(dtype="float64") if isinstance(series.dtype, np.dtype)
                           else series.to_numpy(dtype="float64", na_value=np.nan))  # Float64
    if kind in "iub" and isinstance(series.dtype, np.dtype):   # numpy integers: never missing
        return series.to_numpy(dtype="int64").tolist()
    if kind in "iub":   # pandas Int64 / boolean: NA -> None, the rest Python integers
        return series.astype("Int64").to_numpy(dtype=object, na_value=None).tolist()
    missing = series.isna().to_numpy()
    return [None if m else str(v) for v, m in zip(series.tolist(), missing.tolist())]


# ---------------------------------------------------------------------------------------------
# A copy of a layer with new columns


def copy_with_columns(source, dest_id, frame, fids, to_values, names=None):
    """Fill the empty GeoPackage layer ``dest_id`` with every row of the GeoPackage table
    ``source`` = ``(path, table)`` (same feature ids, geometries and attributes) plus the
    columns of ``frame`` (or its columns ``names``; one row per entry of ``fids``, joined on
    the feature id; a column named like a source field replaces it). ``to_values(series)``
    turns a column that is neither float nor a numpy integer (text, nullable integers) into
    Python values for SQLite;
    float and integer columns go as one block each (``float_rows``, ``int_rows``), with the
    same values. Set-based: each chunk's new values are a VALUES table joined to the source
    rows by fid in one ``INSERT ... SELECT``; the R-tree's shadow tables are copied from the
    source's R-tree. Destination fields that neither the source nor ``frame`` has stay NULL.
    Returns False when the case does not fit (nothing written)."""
    target = gpkg_target(dest_id)
    if target is None:
        return False
    dst_path, dst_table = target
    src_path, src_table = source
    same_file = os.path.samefile(src_path, dst_path)
    if same_file and src_table == dst_table:
        return False
    large_pages(dst_path, len(fids))
    con = connect(dst_path)
    try:
        schema = "main"
        if not same_file:
            con.execute("ATTACH DATABASE ? AS src", (src_path,))
            schema = "src"
        src = TableInfo(con, src_table, schema)
        dst = TableInfo(con, dst_table)
        if src.fid is None or dst.fid is None or (src.geom is None) != (dst.geom is None):
            return False
        if src.geom is not None and src.srs_id != dst.srs_id:
            return False
        # one scan for both counts (rows; rows with a geometry, for the R-tree copy below)
        n_src, n_geom = con.execute(
            f"SELECT COUNT(*), {f'COUNT({quote(src.geom)})' if src.geom else '0'} FROM "
            f"{src.qualified()}").fetchone()
        if n_src != len(fids) or n_src != len(frame) or \
                con.execute(f"SELECT COUNT(*) FROM {quote(dst_table)}").fetchone()[0] != 0:
            return False
        new = list(frame.columns) if names is None else list(names)
        if any(c not in dst.fields for c in new):
            return False
        # Float columns, then integer ones, travel as one block each a chunk, row by row
        # (``RowMajor``: one tolist, no interleaving of column lists); the others (text,
        # nullable integers) through ``to_values``. The VALUES rows hold them in that order.
        kind = {c: _row_group(frame[c]) for c in new}
        floats = [c for c in new if kind[c] == "float"]
        ints = [c for c in new if kind[c] == "int"]
        new = floats + ints + [c for c in new if kind[c] is None]
        fid_array = np.asarray(fids, dtype=np.int64)
        order = np.argsort(fid_array, kind="stable")
        fid_sorted = fid_array[order]
        if len(fid_sorted) > 1 and (np.diff(fid_sorted) == 0).any():
            return False
        kept = [c for c in dst.fields if c in src.fields and c not in new]
        target_cols = [dst.fid] + ([dst.geom] if dst.geom else []) + kept + new
        # The new values of a few hundred rows are a VALUES table (columns column1 = fid,
        # column2.. = the new columns) joined to the source rows by fid, in one INSERT ...
        # SELECT: no temporary table is written and read back (7M zones x 107 new columns,
        # with io_table's faster column values: 84 s -> 70 s). CROSS JOIN keeps the VALUES
        # rows, in fid order, as the outer loop.
        select = [f"s.{quote(src.fid)}"] + ([f"s.{quote(src.geom)}"] if src.geom else []) + \
            [f"s.{quote(c)}" for c in kept] + [f"v.column{i + 2}" for i in range(len(new))]
        commits = WalCommits(con)
        triggers = []
        con.execute("BEGIN")
        try:
            triggers = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                   "AND tbl_name = ?", (dst_table,)).fetchall()
            for name, _ in triggers:
                con.execute(f"DROP TRIGGER {quote(name)}")
            head = (f"INSERT INTO {quote(dst_table)} ({', '.join(quote(c) for c in target_cols)}) "
                    f"SELECT {', '.join(select)} FROM (")
            tail = f") AS v CROSS JOIN {src.qualified()} AS s ON s.{quote(src.fid)} = v.column1"
            new_row = ", ".join(f"?{k + 1}" for k in range(len(new) + 1))
            others = new[len(floats) + len(ints):]
            done = 0
            in_order = np.array_equal(order, np.arange(len(order)))
            step = max(5_000, min(_CHUNK, 3_000_000 // max(len(new), 1)))   # ~3M values a chunk
            for start in range(0, len(fid_sorted), step):
                part = frame.iloc[start:start + step] if in_order else \
                    frame.iloc[order[start:start + step]]
                values = ([float_rows(part[floats])] if floats else []) + \
                    ([int_rows(part[ints])] if ints else []) + [to_values(part[c]) for c in others]
                rows = insert_rows(con, head, new_row,
                                   [fid_sorted[start:start + step].tolist(), *values], tail)
                done += rows
                commits.wrote(rows * len(target_cols))
                del values, part
            if done != n_src:
                raise ValueError(f"{done} rows copied for {n_src} features")
            extent = None
            if dst.geom is not None:
                extent = con.execute(f"SELECT min_x, min_y, max_x, max_y FROM "
                                     f"{quote(schema)}.gpkg_contents WHERE table_name = ?",
                                     (src_table,)).fetchone()
                if extent is not None and any(v is None for v in extent):
                    extent = None
                if dst.rtree is not None:
                    copied = src.rtree is not None and con.execute(
                        f"SELECT COUNT(*) FROM {src.qualified(src.rtree + '_rowid')}"
                    ).fetchone()[0] == n_geom and copy_rtree(con, schema, src.rtree, dst.rtree)
                    if not copied:
                        ids, bounds = _geometry_bounds(con, dst_table, dst)
                        write_rtree(con, dst.rtree, ids, bounds)
            _finish(con, dst_table, triggers, n_src, extent=extent)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            commits.undo(dst_table, triggers)
            raise
        return True
    finally:
        con.close()


def _geometry_bounds(con, table, info):
    """Feature ids and envelopes of a GeoPackage table's geometries, read from the blobs'
    headers (with their envelope) or, without one, from the geometry decoded by OGR."""
    ids, boxes = [], []
    for fid, blob in con.execute(f"SELECT {quote(info.fid)}, {quote(info.geom)} FROM "
                                 f"{quote(table)} WHERE {quote(info.geom)} IS NOT NULL"):
        box = blob_envelope(blob)
        if box is None:
            continue
        ids.append(fid)
        boxes.append(box)
    return np.asarray(ids, dtype=np.int64), np.asarray(boxes, dtype="float64").reshape(-1, 4)


def blob_envelope(blob):
    """(minx, maxx, miny, maxy) of a GeoPackage geometry blob, None for an empty geometry."""
    flags = blob[3]
    if flags & 0x10:          # empty geometry flag
        return None
    env = (flags >> 1) & 0x07
    order = "<" if flags & 1 else ">"
    if env:
        return tuple(np.frombuffer(blob, dtype=f"{order}f8", count=4, offset=8).tolist())
    from osgeo import ogr

    g = ogr.CreateGeometryFromWkb(bytes(blob[8:]))
    if g is None or g.IsEmpty():
        return None
    return g.GetEnvelope()
