"""Square and hexagonal analysis grids: definition, cell enumeration, binning by arithmetic.

A grid is fully defined by ``GridSpec(shape, size, x0, y0)``:

* ``shape``: ``"square"``, ``"hex_flat"`` (flat-top hexagons) or ``"hex_pointy"`` (pointy-top);
* ``size``: the cell width in map units: the side of a square, the flat-to-flat width of a
  hexagon (so the circumradius is ``R = size / sqrt(3)`` and the area ``sqrt(3)/2 * size**2``);
* ``(x0, y0)``: the anchor of the lattice. By default (0, 0), so every grid of the same shape and
  size, made in any year from any study area, is a subset of one lattice and its cells (and
  their ids) line up one for one.

Indices. Squares: ``col = floor((x - x0) / size)``, ``row = floor((y - y0) / size)``; the cell
covers ``[x0 + col*s, x0 + (col+1)*s) x [y0 + row*s, y0 + (row+1)*s)``. Hexagons use axial
coordinates ``(q, r)`` (Red Blob Games, "Hexagonal Grids", 2013; cube coordinates x = q,
z = r, y = -q - r):

* flat-top: centre ``x = x0 + 1.5 R q``, ``y = y0 + size * (r + q / 2)``;
* pointy-top: centre ``x = x0 + size * (q + r / 2)``, ``y = y0 + 1.5 R r``.

Edge rule (half-open). A hexagon is the set of points nearer to its centre than to any other
centre (the hexagonal lattice's Voronoi cell), so binning finds the nearest centre by cube
rounding, then checks the six neighbours. A point on an edge or vertex (equidistant from two or
three centres, within ``1e-9 * size``) goes to the tied cell whose centre lies furthest east,
and among those the one furthest north. Squares follow the same rule through ``floor``: a point
on a vertical edge goes to the cell on its east, on a horizontal edge to the cell on its north,
on a corner to the north-east cell. The same rule is used by ``core.geometry`` for any zones.
"""
import math
import struct
from dataclasses import dataclass

import numpy as np

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.vocab import GRID_SHAPE_CODES

SHAPES = GRID_SHAPE_CODES   # what grid layers store in grid_shape (core.vocab)
SHAPE_PREFIX = {"square": "S", "hex_flat": "H", "hex_pointy": "P"}
DEFAULT_MAX_CELLS = 5_000_000
SQRT3 = math.sqrt(3.0)
_TIE = 1e-9
# Axial neighbour offsets, the same for both hexagon orientations.
_HEX_NEIGHBOURS = np.array([(1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1)], dtype=np.int64)


def shape_name(shape):
    """Accept 0/1/2 (the Processing enum) or a name; return the name."""
    if isinstance(shape, (int, np.integer)):
        if not 0 <= int(shape) < len(SHAPES):
            raise CompositeIndexError(f"Unknown grid shape {shape}.", hint="Use 0, 1 or 2.")
        return SHAPES[int(shape)]
    if shape not in SHAPES:
        raise CompositeIndexError(f"Unknown grid shape '{shape}'.", hint=f"Use one of {', '.join(SHAPES)}.")
    return shape


def cell_area(shape, size):
    """Area of one cell of width ``size``."""
    return size * size if shape_name(shape) == "square" else SQRT3 / 2.0 * size * size


def size_from_area(shape, area):
    """Cell width giving cells of ``area`` square map units."""
    if not area > 0:
        raise CompositeIndexError(f"The cell area must be above zero (got {area}).")
    if shape_name(shape) == "square":
        return math.sqrt(area)
    return math.sqrt(2.0 * area / SQRT3)


@dataclass(frozen=True)
class GridSpec:
    shape: str
    size: float
    x0: float = 0.0
    y0: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "shape", shape_name(self.shape))
        size = float(self.size)
        if not (size > 0 and math.isfinite(size)):
            raise CompositeIndexError(
                f"The cell size must be a positive number of map units (got {self.size}).",
                hint="Give a cell width above zero, e.g. 100 for 100 m cells in EPSG:27700.")
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "x0", float(self.x0))
        object.__setattr__(self, "y0", float(self.y0))

    @property
    def is_hex(self):
        return self.shape != "square"

    @property
    def radius(self):
        """Hexagon circumradius (centre to vertex)."""
        return self.size / SQRT3

    @property
    def index_names(self):
        return ("q", "r") if self.is_hex else ("row", "col")

    def describe(self):
        return (f"grid_shape={self.shape}; grid_size={self.size!r}; grid_x0={self.x0!r}; "
                f"grid_y0={self.y0!r}")

    # -- centres, vertices, ids ---------------------------------------------------------------
    def centres(self, a, b):
        """Cell centres for index arrays: (row, col) for squares, (q, r) for hexagons."""
        a = np.asarray(a, dtype="float64")
        b = np.asarray(b, dtype="float64")
        s = self.size
        if self.shape == "square":
            return self.x0 + (b + 0.5) * s, self.y0 + (a + 0.5) * s
        if self.shape == "hex_flat":
            return self.x0 + 1.5 * self.radius * a, self.y0 + s * (b + a / 2.0)
        return self.x0 + s * (a + b / 2.0), self.y0 + 1.5 * self.radius * b

    def vertices(self, a, b):
        """Cell vertices as an ``(n, k+1, 2)`` array of closed anticlockwise rings."""
        cx, cy = self.centres(a, b)
        if self.shape == "square":
            h = self.size / 2.0
            ox = np.array([-h, h, h, -h, -h])
            oy = np.array([-h, -h, h, h, -h])
        else:
            start = 0.0 if self.shape == "hex_flat" else 30.0
            ang = np.radians(start + 60.0 * np.arange(7))
            ox = self.radius * np.cos(ang)
            oy = self.radius * np.sin(ang)
            ox[6], oy[6] = ox[0], oy[0]
        return np.stack([cx[:, None] + ox[None, :], cy[:, None] + oy[None, :]], axis=-1)

    def cell_ids(self, a, b):
        """Stable text ids: ``S100_r3_c7`` (squares), ``H100_q12_r-4`` / ``P100_q12_r-4`` (hexagons)."""
        size = self.size
        label = str(int(size)) if float(size).is_integer() else repr(size).replace(".", "p")
        prefix = SHAPE_PREFIX[self.shape] + label
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        if self.shape == "square":
            return [f"{prefix}_r{i}_c{j}" for i, j in zip(a.tolist(), b.tolist())]
        return [f"{prefix}_q{i}_r{j}" for i, j in zip(a.tolist(), b.tolist())]

    # -- binning ------------------------------------------------------------------------------
    def bin(self, x, y):
        """Cell indices (a, b) of points, by arithmetic only (see the module's edge rule)."""
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        if self.shape == "square":
            col = np.floor((x - self.x0) / self.size).astype(np.int64)
            row = np.floor((y - self.y0) / self.size).astype(np.int64)
            return row, col
        a = np.empty(len(x), dtype=np.int64)
        b = np.empty(len(x), dtype=np.int64)
        step = 65_536  # small chunks stay in the CPU cache: about 3x faster than one big step
        for start in range(0, len(x), step):
            sl = slice(start, start + step)
            a[sl], b[sl] = self._bin_hex(x[sl] - self.x0, y[sl] - self.y0)
        return a, b

    def _axial_fraction(self, dx, dy):
        R = self.radius
        if self.shape == "hex_flat":
            q = (2.0 / 3.0) * dx / R
            r = (-dx / 3.0 + SQRT3 / 3.0 * dy) / R
        else:
            q = (SQRT3 / 3.0 * dx - dy / 3.0) / R
            r = (2.0 / 3.0) * dy / R
        return q, r

    def _bin_hex(self, dx, dy):
        qf, rf = self._axial_fraction(dx, dy)
        sf = -qf - rf
        q = np.rint(qf)
        r = np.rint(rf)
        s = np.rint(sf)
        dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
        fix_q = (dq > dr) & (dq > ds)
        fix_r = ~fix_q & (dr > ds)
        q = np.where(fix_q, -r - s, q)
        r = np.where(fix_r, -q - s, r)
        q = q.astype(np.int64)
        r = r.astype(np.int64)
        # Cube rounding breaks exact ties arbitrarily: points within 1e-9 cell widths of an edge
        # (largest projection on the three edge normals close to size/2) are decided again
        # exactly among the rounded cell and its six neighbours, with the documented tie-break.
        cx, cy = self._centres0(q, r)
        ex, ey = dx - cx, dy - cy
        half = 0.5 * self.size
        if self.shape == "hex_flat":
            m = np.maximum(np.abs(ey), np.abs(0.5 * SQRT3 * ex) + np.abs(0.5 * ey))
        else:
            m = np.maximum(np.abs(ex), np.abs(0.5 * ex) + np.abs(0.5 * SQRT3 * ey))
        near = np.flatnonzero(m >= half - 1e-7 * self.size)
        if len(near):
            q[near], r[near] = self._resolve_ties(dx[near], dy[near], q[near], r[near])
        return q, r

    def _centres0(self, q, r):
        if self.shape == "hex_flat":
            return 1.5 * self.radius * q, self.size * (r + q / 2.0)
        return self.size * (q + r / 2.0), 1.5 * self.radius * r

    def _resolve_ties(self, dx, dy, q, r):
        cand_q = np.concatenate([q[:, None], q[:, None] + _HEX_NEIGHBOURS[None, :, 0]], axis=1)
        cand_r = np.concatenate([r[:, None], r[:, None] + _HEX_NEIGHBOURS[None, :, 1]], axis=1)
        cx, cy = self._centres0(cand_q, cand_r)
        d2 = (cx - dx[:, None]) ** 2 + (cy - dy[:, None]) ** 2
        best = d2.min(axis=1, keepdims=True)
        tied = d2 <= best + _TIE * self.size * self.size
        # Among tied candidates: largest centre x, then largest centre y.
        key_x = np.where(tied, cx, -np.inf)
        max_x = key_x.max(axis=1, keepdims=True)
        tied &= cx >= max_x - _TIE * self.size
        key_y = np.where(tied, cy, -np.inf)
        pick = np.argmax(key_y, axis=1)
        rows = np.arange(len(dx))
        return cand_q[rows, pick], cand_r[rows, pick]

    # -- enumeration --------------------------------------------------------------------------
    def _ranges(self, xmin, ymin, xmax, ymax):
        """Per outer index, the inclusive range of the inner index of cells touching the box.

        Squares: outer = row, inner = col. Flat hexagons: outer = q (columns), inner = r.
        Pointy hexagons: outer = r (rows), inner = q. A hexagon is taken when its bounding box
        overlaps the study box (a slight superset; the caller's KEEP test decides).
        """
        s = self.size
        R = self.radius
        if self.shape == "square":
            c0 = math.floor((xmin - self.x0) / s)
            c1 = math.floor((xmax - self.x0) / s)
            r0 = math.floor((ymin - self.y0) / s)
            r1 = math.floor((ymax - self.y0) / s)
            outer = np.arange(r0, r1 + 1, dtype=np.int64)
            return outer, np.full(len(outer), c0, dtype=np.int64), np.full(len(outer), c1, dtype=np.int64)
        if self.shape == "hex_flat":
            lo = math.ceil((xmin - self.x0 - R) / (1.5 * R) - 1e-12)
            hi = math.floor((xmax - self.x0 + R) / (1.5 * R) + 1e-12)
            outer = np.arange(lo, hi + 1, dtype=np.int64)
            # y centre = y0 + s (r + q/2) within (ymin - s/2, ymax + s/2)
            inner_lo = np.ceil((ymin - self.y0 - s / 2) / s - outer / 2.0 - 1e-12).astype(np.int64)
            inner_hi = np.floor((ymax - self.y0 + s / 2) / s - outer / 2.0 + 1e-12).astype(np.int64)
            return outer, inner_lo, inner_hi
        lo = math.ceil((ymin - self.y0 - R) / (1.5 * R) - 1e-12)
        hi = math.floor((ymax - self.y0 + R) / (1.5 * R) + 1e-12)
        outer = np.arange(lo, hi + 1, dtype=np.int64)
        inner_lo = np.ceil((xmin - self.x0 - s / 2) / s - outer / 2.0 - 1e-12).astype(np.int64)
        inner_hi = np.floor((xmax - self.x0 + s / 2) / s - outer / 2.0 + 1e-12).astype(np.int64)
        return outer, inner_lo, inner_hi

    def count_cells(self, xmin, ymin, xmax, ymax):
        """Number of cells ``cells_in_box`` would return, without building them."""
        outer, lo, hi = self._ranges(xmin, ymin, xmax, ymax)
        return int(np.clip(hi - lo + 1, 0, None).sum())

    def cells_in_box(self, xmin, ymin, xmax, ymax):
        """Index arrays (a, b) of the cells touching the box (``index_names`` order)."""
        outer, lo, hi = self._ranges(xmin, ymin, xmax, ymax)
        n = np.clip(hi - lo + 1, 0, None)
        total = int(n.sum())
        out = np.repeat(outer, n)
        start = np.repeat(lo - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
        inner = np.arange(total, dtype=np.int64) + start
        if self.shape == "hex_pointy":  # outer is r, inner is q
            return inner, out
        return out, inner


def snap_origin(value, period, anchor=0.0):
    """Largest ``anchor + k * period`` not above ``value``."""
    return anchor + math.floor((value - anchor) / period) * period


def check_cell_limit(spec, bbox, max_cells=DEFAULT_MAX_CELLS):
    """Refuse grids with more cells than ``max_cells``, naming the count and a size that fits."""
    n = spec.count_cells(*bbox)
    if max_cells and n > max_cells:
        fit = spec.size * math.sqrt(n / float(max_cells)) * 1.02
        magnitude = 10 ** math.floor(math.log10(fit))
        nice = math.ceil(fit / magnitude * 10) / 10 * magnitude
        raise CompositeIndexError(
            f"A {spec.shape} grid of size {spec.size:g} over this study area would make {n:,} cells, "
            f"more than the limit of {max_cells:,}.",
            hint=f"Use a cell size of at least {nice:g} map units, or raise the cell limit.")
    return n


def encode_keys(a, b):
    """One int64 key per (a, b) index pair (|index| < 2**31), for fast lookups."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    return (a << 32) + (b + (1 << 31))


def lookup(keys_sorted_order, zone_keys, point_keys):
    """Zone row for each point key, -1 when no zone has that key.

    ``keys_sorted_order`` is ``np.argsort(zone_keys)`` (computed once).
    """
    sorted_keys = zone_keys[keys_sorted_order]
    pos = np.searchsorted(sorted_keys, point_keys)
    pos = np.clip(pos, 0, max(len(sorted_keys) - 1, 0))
    if len(sorted_keys) == 0:
        return np.full(len(point_keys), -1, dtype=np.int64)
    found = sorted_keys[pos] == point_keys
    return np.where(found, keys_sorted_order[pos], -1).astype(np.int64)


def neighbour_offsets(spec):
    """Index offsets of the cells around a cell: 8 for squares (edges and corners), 6 for hexagons."""
    if spec.is_hex:
        return _HEX_NEIGHBOURS
    return np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)], dtype=np.int64)


def boundary_cells(spec, rings):
    """Keys (``encode_keys``) of every cell that a ring's boundary may cross.

    The boundary is sampled every quarter cell width and the sampled cells are taken with their
    neighbours, so a segment that only clips a cell's corner between two samples is still caught
    (a sample lies within a quarter width of the crossing, hence in the cell or a neighbour).
    A superset: the caller tests these few cells exactly.
    """
    step = spec.size / 4.0
    xs, ys = [], []
    for ring in rings:
        r = np.asarray(ring, dtype="float64").reshape(-1, 2)
        if len(r) < 2:
            continue
        p0, p1 = r[:-1], r[1:]
        seg = np.hypot(*(p1 - p0).T)
        n = np.maximum(np.ceil(seg / step).astype(np.int64), 1)
        t = np.arange(int(n.sum())) - np.repeat(np.concatenate([[0], np.cumsum(n)[:-1]]), n)
        t = t / np.repeat(n, n)
        xs.append(np.repeat(p0[:, 0], n) + t * np.repeat(p1[:, 0] - p0[:, 0], n))
        ys.append(np.repeat(p0[:, 1], n) + t * np.repeat(p1[:, 1] - p0[:, 1], n))
        xs.append(r[-1:, 0])
        ys.append(r[-1:, 1])
    if not xs:
        return np.empty(0, dtype=np.int64)
    a, b = spec.bin(np.concatenate(xs), np.concatenate(ys))
    base = np.unique(np.stack([a, b], axis=1), axis=0)
    offs = np.vstack([[0, 0], neighbour_offsets(spec)])
    allc = (base[:, None, :] + offs[None, :, :]).reshape(-1, 2)
    return np.unique(encode_keys(allc[:, 0], allc[:, 1]))


def polygon_wkb(vertices, multi=False):
    """OGC WKB (little endian) Polygons from an ``(n, k, 2)`` array of closed rings, built in bulk.

    ``multi=True`` wraps each in a one-part MultiPolygon. Returns a list of ``bytes``, one per cell.
    """
    v = np.ascontiguousarray(vertices, dtype="<f8")
    n, k, _ = v.shape
    header = np.frombuffer(_wkb_header(multi, k), dtype=np.uint8)
    body = v.view(np.uint8).reshape(n, k * 16)
    full = np.hstack([np.broadcast_to(header, (n, len(header))), body])
    width = full.shape[1]
    raw = full.tobytes()
    return [raw[i * width:(i + 1) * width] for i in range(n)]


def _wkb_header(multi, k):
    polygon = struct.pack("<BIII", 1, 3, 1, k)
    return struct.pack("<BII", 1, 6, 1) + polygon if multi else polygon
