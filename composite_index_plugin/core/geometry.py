"""Vectorised planar geometry on plain numpy arrays: point in polygon, areas, WKB rings.

A polygon (zone) is a list of rings, each an ``(k, 2)`` float array of vertices (closed or not).
Exterior rings and holes are not told apart: the point-in-polygon test uses the even-odd
(crossing number) rule over all rings of the zone, which is right for valid polygons and
multipolygons (parts do not overlap, holes lie inside their exterior).

Edge rule (half-open, documented for users): an edge is taken with its lower end first and counts
as crossed by the horizontal ray going east from point (px, py) when
``y_low <= py < y_high`` and ``px < x_at(py)``. Consequences:

* a point exactly on an edge shared by two zones (same two vertices in both zones) belongs to
  exactly one of them: the zone lying to the east of a non-horizontal edge, the zone lying to
  the north of a horizontal edge;
* a point exactly on a vertex shared by several zones of a partition goes to exactly one zone
  (the one containing points just north-east of it, in the same sense);
* the same rule is used for our square grid cells (a point on a cell edge goes east / north),
  so arbitrary-zone counting and grid binning agree on grid-shaped zones.

Because ``x_at(py)`` is computed from the edge ordered by y, both zones sharing an edge compute
exactly the same floating-point number, so the rule holds in floating point, not only on paper.
Reference: the crossing-number test (Shimrat 1962; Haines, "Point in Polygon Strategies",
Graphics Gems IV, 1994) with the usual half-open convention of scan-line rasterisation.
"""
import struct

import numpy as np

from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.ranges import ranges

# Largest number of (point, edge) pairs evaluated in one numpy step (memory cap, about 100 MB).
_PAIR_CHUNK = 4_000_000


def as_ring(coords):
    """An ``(k, 2)`` float64 array of a ring, closed (last vertex equal to the first)."""
    ring = np.asarray(coords, dtype="float64").reshape(-1, 2)
    if len(ring) and not np.array_equal(ring[0], ring[-1]):
        ring = np.vstack([ring, ring[:1]])
    return ring


def ring_edges(rings):
    """Edges of a list of rings as four arrays ``(x_low, y_low, x_high, y_high)`` ordered by y.

    Horizontal edges are dropped (they never count under the half-open rule).
    """
    parts = []
    for ring in rings:
        r = as_ring(ring)
        if len(r) < 4:
            continue
        parts.append(np.hstack([r[:-1], r[1:]]))
    if not parts:
        empty = np.empty(0)
        return empty, empty, empty, empty
    e = np.vstack(parts)
    swap = e[:, 1] > e[:, 3]
    e[swap] = e[swap][:, [2, 3, 0, 1]]
    e = e[e[:, 1] < e[:, 3]]
    return e[:, 0].copy(), e[:, 1].copy(), e[:, 2].copy(), e[:, 3].copy()


def points_in_rings(x, y, rings):
    """Boolean array: which points lie inside the polygon made of ``rings`` (even-odd rule over
    all rings, so holes and multi-parts work for valid geometries; half-open crossing-number
    test, Haines 1994). The one point-in-polygon routine of the plugin.

    Points are sorted by y once; each edge only looks at the points in its y band
    (``searchsorted``), so the cost is about n x (edges crossed by a horizontal line), not n x E.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    x1, y1, x2, y2 = ring_edges(rings)
    inside = np.zeros(len(x), dtype=bool)
    if len(x) == 0 or len(x1) == 0:
        return inside
    slope = (x2 - x1) / (y2 - y1)
    order = np.argsort(y, kind="stable")
    ys, xs = y[order], x[order]
    flag = np.zeros(len(x), dtype=bool)
    starts = np.searchsorted(ys, y1, side="left")    # first point with y >= y1
    ends = np.searchsorted(ys, y2, side="left")      # first point with y >= y2
    for k in np.flatnonzero(ends > starts):
        s, e = starts[k], ends[k]
        flag[s:e] ^= xs[s:e] < x1[k] + (ys[s:e] - y1[k]) * slope[k]
    inside[order] = flag
    return inside


def ring_signed_area(ring):
    """Signed shoelace area of one ring (positive when anticlockwise)."""
    r = as_ring(ring)
    if len(r) < 4:
        return 0.0
    x, y = r[:, 0], r[:, 1]
    # Shift to the first vertex to keep precision with large projected coordinates.
    x = x - x[0]
    y = y - y[0]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def polygon_area(rings):
    """Area of a polygon given as rings: even-odd, so holes subtract.

    With the exterior first and holes after (the OGC order), the area is
    ``|exterior| - sum |holes|``; for a list of several parts (multipolygon rings, any order) we
    use the nesting-free form: each ring counts with the sign given by its nesting depth, which
    for valid input equals outer minus holes. Here: rings whose first vertex lies inside an
    odd number of the other rings are holes.
    """
    rings = [as_ring(r) for r in rings if len(as_ring(r)) >= 4]
    if not rings:
        return 0.0
    areas = np.array([abs(ring_signed_area(r)) for r in rings])
    if len(rings) == 1:
        return float(areas[0])
    total = 0.0
    for i, r in enumerate(rings):
        depth = 0
        for j, other in enumerate(rings):
            if i != j and points_in_rings(r[:1, 0], r[:1, 1], [other])[0]:
                depth += 1
        total += areas[i] if depth % 2 == 0 else -areas[i]
    return float(total)


def rings_bbox(rings):
    """``(xmin, ymin, xmax, ymax)`` of a list of rings (NaN when empty)."""
    rings = [np.asarray(r, dtype="float64").reshape(-1, 2) for r in rings]
    rings = [r for r in rings if len(r)]
    if not rings:
        return (np.nan, np.nan, np.nan, np.nan)
    allv = np.vstack(rings)
    return (float(allv[:, 0].min()), float(allv[:, 1].min()),
            float(allv[:, 0].max()), float(allv[:, 1].max()))


class PointIndex:
    """Points bucketed on a coarse square grid, to find the points inside a bounding box fast.

    Points are sorted by bucket (row-major); for a box we take, per bucket row, one contiguous
    slice of the sorted order, then filter exactly. Build cost O(n log n), memory O(n).
    """

    def __init__(self, x, y, target_per_bucket=64):
        self.x = np.asarray(x, dtype="float64")
        self.y = np.asarray(y, dtype="float64")
        n = len(self.x)
        if n == 0:
            self.xmin = self.ymin = 0.0
            self.cell = 1.0
            self.nx = self.ny = 1
            self.order = np.empty(0, dtype=np.int64)
            self.starts = np.zeros(2, dtype=np.int64)
            return
        self.xmin, self.xmax = float(self.x.min()), float(self.x.max())
        self.ymin, self.ymax = float(self.y.min()), float(self.y.max())
        w = max(self.xmax - self.xmin, 1e-9)
        h = max(self.ymax - self.ymin, 1e-9)
        buckets = max(1, n // target_per_bucket)
        self.cell = max(np.sqrt(w * h / buckets), 1e-9)
        self.nx = int(w // self.cell) + 1
        self.ny = int(h // self.cell) + 1
        bx = ((self.x - self.xmin) // self.cell).astype(np.int64)
        by = ((self.y - self.ymin) // self.cell).astype(np.int64)
        key = by * self.nx + bx
        self.order = np.argsort(key, kind="stable")
        counts = np.bincount(key, minlength=self.nx * self.ny)
        self.starts = np.concatenate([[0], np.cumsum(counts)])

    def query(self, xmin, ymin, xmax, ymax):
        """Indices (into the original arrays) of points with xmin <= x <= xmax, ymin <= y <= ymax."""
        if len(self.order) == 0:
            return np.empty(0, dtype=np.int64)
        c0 = int(max(0, np.floor((xmin - self.xmin) / self.cell)))
        c1 = int(min(self.nx - 1, np.floor((xmax - self.xmin) / self.cell)))
        r0 = int(max(0, np.floor((ymin - self.ymin) / self.cell)))
        r1 = int(min(self.ny - 1, np.floor((ymax - self.ymin) / self.cell)))
        if c1 < c0 or r1 < r0:
            return np.empty(0, dtype=np.int64)
        rows = np.arange(r0, r1 + 1)
        lo = self.starts[rows * self.nx + c0]
        hi = self.starts[rows * self.nx + c1 + 1]
        pos, _ = ranges(lo, hi)          # the rows' slices, one after another
        if len(pos) == 0:
            return np.empty(0, dtype=np.int64)
        idx = self.order[pos]
        sel = (self.x[idx] >= xmin) & (self.x[idx] <= xmax) & (self.y[idx] >= ymin) & (self.y[idx] <= ymax)
        return idx[sel]


def points_in_zones(x, y, zones, progress=None):
    """Which zone(s) each point falls in, for any polygon zones (vectorised point in polygon).

    ``zones``: list (one per zone) of lists of rings. Returns ``(point_idx, zone_idx)`` int64
    arrays of every (point, zone) pair with the point inside the zone (half-open edge rule, see
    the module docstring). A point inside several overlapping zones appears once per zone.
    The loop runs over zones (each step vectorised over the candidate points found with a
    bounding-box index), never over points.
    """
    progress = progress or NO_PROGRESS
    index = PointIndex(x, y)
    pts, zs = [], []
    n = len(zones)
    for k, rings in enumerate(zones):
        if k % 256 == 0:
            progress.report(k / max(n, 1))
        xmin, ymin, xmax, ymax = rings_bbox(rings)
        if not np.isfinite(xmin):
            continue
        cand = index.query(xmin, ymin, xmax, ymax)
        if len(cand) == 0:
            continue
        inside = points_in_rings(index.x[cand], index.y[cand], rings)
        hit = cand[inside]
        pts.append(hit)
        zs.append(np.full(len(hit), k, dtype=np.int64))
    progress.report(1.0)
    if not pts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(pts).astype(np.int64), np.concatenate(zs)


# ---------------------------------------------------------------------------------------------
# WKB parsing (plain bytes -> numpy rings), so the glue can hand over geometries in bulk.

_WKB_POLYGON, _WKB_MULTIPOLYGON, _WKB_POINT, _WKB_MULTIPOINT = 3, 6, 1, 4


def _wkb_type(data, offset):
    order = data[offset]
    endian = "<" if order == 1 else ">"
    (code,) = struct.unpack_from(endian + "I", data, offset + 1)
    has_z = bool(code & 0x80000000) or (1000 <= code % 10000 < 2000) or (3000 <= code % 10000 < 4000)
    has_m = bool(code & 0x40000000) or (2000 <= code % 10000 < 4000)
    base = (code & 0x0FFFFFFF) % 1000
    return endian, base, 2 + int(has_z) + int(has_m)


def _read_polygon(data, offset, endian, dims):
    (nrings,) = struct.unpack_from(endian + "I", data, offset)
    offset += 4
    rings = []
    for _ in range(nrings):
        (npts,) = struct.unpack_from(endian + "I", data, offset)
        offset += 4
        arr = np.frombuffer(data, dtype=endian + "f8", count=npts * dims, offset=offset)
        rings.append(arr.reshape(npts, dims)[:, :2].astype("float64"))
        offset += 8 * npts * dims
    return rings, offset


def rings_from_wkb(data):
    """Rings (list of ``(k, 2)`` arrays) of an OGC WKB Polygon or MultiPolygon (2D, Z, M, ZM).

    Returns an empty list for empty geometries; raises CompositeIndexError for other types.
    """
    data = bytes(data)
    endian, base, dims = _wkb_type(data, 0)
    if base == _WKB_POLYGON:
        rings, _ = _read_polygon(data, 5, endian, dims)
        return rings
    if base == _WKB_MULTIPOLYGON:
        (nparts,) = struct.unpack_from(endian + "I", data, 5)
        offset = 9
        rings = []
        for _ in range(nparts):
            pend, pbase, pdims = _wkb_type(data, offset)
            if pbase != _WKB_POLYGON:
                raise CompositeIndexError("A multipolygon holds a part that is not a polygon.")
            part, offset = _read_polygon(data, offset + 5, pend, pdims)
            rings.extend(part)
        return rings
    raise CompositeIndexError(
        f"Expected a polygon geometry (WKB type 3 or 6) but found WKB type {base}.",
        hint="Use a polygon layer for zones.")


def points_from_wkb_array(blobs):
    """Coordinates of an object array of WKB blobs (Points, MultiPoints; None for null).

    Returns ``(x, y, source_row, kinds)`` where ``source_row`` gives, for each output point, the
    input row it came from (multipoints are split into one point per part) and ``kinds`` is a
    per-row int array: 0 point, 1 multipoint, 2 null/empty, 3 other geometry type (not
    returned; the caller decides what to do with them, e.g. point on surface).
    Plain 2D little-endian points, the common case, are decoded in one numpy step.
    """
    blobs = np.asarray(blobs, dtype=object)
    n = len(blobs)
    kinds = np.full(n, 2, dtype=np.int8)
    if n == 0:
        e = np.empty(0)
        return e, e, np.empty(0, dtype=np.int64), kinds
    lengths = np.fromiter((len(b) if b is not None else 0 for b in blobs), dtype=np.int64, count=n)
    fast = lengths == 21
    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    if fast.any():
        buf = np.frombuffer(b"".join(blobs[fast].tolist()), dtype=np.uint8).reshape(-1, 21)
        little = buf[:, 0] == 1
        code_le = buf[:, 1:5].copy().view("<u4").ravel()
        ok = little & (code_le == 1)
        coords = buf[:, 5:21].copy().view("<f8").reshape(-1, 2)
        idx = np.flatnonzero(fast)
        xs[idx[ok]] = coords[ok, 0]
        ys[idx[ok]] = coords[ok, 1]
        kinds[idx[ok]] = 0
        fast[idx[~ok]] = False  # big-endian or unusual: decode below
    extra_x, extra_y, extra_row = [], [], []
    for i in np.flatnonzero(~fast & (lengths > 0)):
        data = bytes(blobs[i])
        endian, base, dims = _wkb_type(data, 0)
        if base == _WKB_POINT:
            vals = np.frombuffer(data, dtype=endian + "f8", count=2, offset=5)
            xs[i], ys[i] = vals
            kinds[i] = 0
        elif base == _WKB_MULTIPOINT:
            (parts,) = struct.unpack_from(endian + "I", data, 5)
            offset = 9
            kinds[i] = 1
            for _ in range(parts):
                pend, _pbase, pdims = _wkb_type(data, offset)
                vals = np.frombuffer(data, dtype=pend + "f8", count=2, offset=offset + 5)
                offset += 5 + 8 * pdims
                if np.all(np.isfinite(vals)):
                    extra_x.append(vals[0])
                    extra_y.append(vals[1])
                    extra_row.append(i)
        else:
            kinds[i] = 3
    single = (kinds == 0) & np.isfinite(xs) & np.isfinite(ys)
    kinds[(kinds == 0) & ~single] = 2  # POINT EMPTY is written as NaN coordinates
    rows = np.flatnonzero(single)
    x = np.concatenate([xs[rows], np.asarray(extra_x, dtype="float64")])
    y = np.concatenate([ys[rows], np.asarray(extra_y, dtype="float64")])
    row = np.concatenate([rows, np.asarray(extra_row, dtype=np.int64)])
    if len(extra_row):
        order = np.argsort(row, kind="stable")
        x, y, row = x[order], y[order], row[order]
    return x, y, row.astype(np.int64), kinds
