"""Spatial neighbours as a compressed sparse row (CSR) graph, built with numpy only.

``Neighbours(indptr, indices, weights=None)`` lists, for each of ``n`` zones, the zones it
regards as neighbours (never itself): the neighbours of zone ``i`` are
``indices[indptr[i]:indptr[i + 1]]``, with weights ``weights[...]`` (``None`` = binary, all 1).

Builders (no scipy, no shapely):

* ``grid_contiguity(row, col, queen=True)``: square grid cells from their integer indices;
* ``hex_contiguity(q, r)``: hexagonal cells from axial indices (six neighbours; queen and rook
  are the same on hexagons);
* ``distance_band(x, y, d)``: every zone whose centre lies within ``d`` (inclusive), found by
  hashing the points into square buckets of side ``d`` and looking at the 3 x 3 block;
* ``knn(x, y, k)``: the ``k`` nearest (ties broken by the lower index), found by bucket rings
  that grow until the k-th distance is certain;
* ``polygon_contiguity(...)``: arbitrary polygons; queen = a shared vertex, rook = a shared edge
  (two consecutive shared vertices), found by hashing (optionally snapped) vertex coordinates,
  as GeoDa and PySAL do for contiguity (Anselin, Syabri & Kho 2006, GeoDa; Rey & Anselin 2007,
  PySAL);
* ``min_band_all_have_neighbour(x, y)``: the smallest band that leaves no zone without a
  neighbour (the largest nearest-neighbour distance), the default band of ArcGIS Hot Spot
  Analysis (Esri, "How Hot Spot Analysis (Getis-Ord Gi*) works").

A band giving some zone more than ``MAX_NEIGHBOURS`` neighbours is refused with the band that
would fit, because a neighbourhood that large is no longer local and the graph would not fit in
memory on a city-sized grid.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.ranges import ranges

MAX_NEIGHBOURS = 1000
"""Most neighbours one zone may have (distance band / k nearest)."""

# Largest number of candidate (zone, zone) pairs examined in one numpy step (about 100 MB).
_PAIR_CHUNK = 4_000_000
# Relative tolerance on distances, so centres computed from polygons with float noise (a grid of
# 100 m cells: 100.00000000001 m apart) still count as lying on the band.
_BAND_RTOL = 1e-9


@dataclass
class Neighbours:
    """CSR neighbour lists for ``n = len(indptr) - 1`` zones, self excluded."""

    indptr: np.ndarray
    indices: np.ndarray
    weights: Optional[np.ndarray] = None

    def __post_init__(self):
        self.indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(self.indices, dtype=np.int64)
        if self.weights is not None:
            self.weights = np.ascontiguousarray(self.weights, dtype=np.float64)
            if self.weights.shape != self.indices.shape:
                raise ValueError("weights and indices must have the same length")
        if self.indptr.ndim != 1 or len(self.indptr) < 1 or self.indptr[0] != 0 \
                or self.indptr[-1] != len(self.indices) or np.any(np.diff(self.indptr) < 0):
            raise ValueError("indptr is not a valid CSR row pointer")
        n = len(self.indptr) - 1
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= n):
            raise ValueError("a neighbour index is out of range")

    # -- basic views -----------------------------------------------------------------------
    @property
    def n(self):
        """Number of zones."""
        return len(self.indptr) - 1

    @property
    def counts(self):
        """Number of neighbours of each zone."""
        return np.diff(self.indptr)

    @property
    def islands(self):
        """Indices of zones without any neighbour."""
        return np.flatnonzero(self.counts == 0)

    @property
    def n_links(self):
        return len(self.indices)

    @property
    def is_binary(self):
        return self.weights is None or bool(np.all(self.weights == 1.0))

    def rows(self):
        """The zone (row) of every stored link, aligned with ``indices``: made once per graph
        and kept, read-only (one hotspot analysis asks for it a dozen times: 6.9M hexagons,
        41M links, 0.18 s each)."""
        cached = self.__dict__.get("_rows")
        if cached is not None and cached[0] is self.indptr and cached[1] is self.indices:
            return cached[2]
        rows = np.repeat(np.arange(self.n, dtype=np.int64), self.counts)
        rows.setflags(write=False)
        self.__dict__["_rows"] = (self.indptr, self.indices, rows)
        return rows

    def weight_values(self):
        """Weights of every link (ones when binary)."""
        return np.ones(len(self.indices)) if self.weights is None else self.weights

    def neighbours_of(self, i):
        return self.indices[self.indptr[i]:self.indptr[i + 1]]

    def row_sums(self):
        """Sum of the weights of each zone's links (its number of neighbours when binary)."""
        if self.weights is None:
            return self.counts.astype(np.float64)
        return np.bincount(self.rows(), weights=self.weights, minlength=self.n)

    def lag(self, values, weights=None):
        """Spatial lag ``sum_j w_ij x_j`` for every zone (``weights`` overrides the stored ones)."""
        x = np.asarray(values, dtype=np.float64)
        w = self.weight_values() if weights is None else weights
        return np.bincount(self.rows(), weights=w * x[self.indices], minlength=self.n)

    def row_standardised_weights(self):
        """Link weights divided by their row sum (islands have no links, so nothing to divide)."""
        sums = self.row_sums()
        return self.weight_values() / sums[self.rows()]

    def is_symmetric(self):
        rows = self.rows()
        n = max(self.n, 1)
        fwd = np.sort(rows * n + self.indices)
        bwd = np.sort(self.indices * n + rows)
        return bool(np.array_equal(fwd, bwd))

    def to_lists(self):
        """Plain Python lists of neighbour indices (small graphs, tests)."""
        return [self.neighbours_of(i).tolist() for i in range(self.n)]

    # -- construction and derivation -------------------------------------------------------
    @classmethod
    def from_pairs(cls, n, i, j, weights=None):
        """Graph from link arrays (zone ``i`` has neighbour ``j``). Self links and repeats are
        dropped (a repeated link keeps its first weight); lists are sorted by neighbour index."""
        i = np.asarray(i, dtype=np.int64).ravel()
        j = np.asarray(j, dtype=np.int64).ravel()
        w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
        keep = i != j
        i, j = i[keep], j[keep]
        if w is not None:
            w = w[keep]
        order = np.lexsort((j, i))
        i, j = i[order], j[order]
        if w is not None:
            w = w[order]
        if len(i):
            first = np.ones(len(i), dtype=bool)
            first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
            i, j = i[first], j[first]
            if w is not None:
                w = w[first]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(i, minlength=n), out=indptr[1:])
        return cls(indptr, j, w)

    @classmethod
    def from_lists(cls, lists, weights=None):
        """Graph from a list of neighbour-index lists (and optionally matching weight lists)."""
        n = len(lists)
        counts = np.array([len(x) for x in lists], dtype=np.int64)
        i = np.repeat(np.arange(n), counts)
        j = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists]) if n else np.empty(0)
        w = None
        if weights is not None:
            w = np.concatenate([np.asarray(x, dtype=np.float64) for x in weights]) if n else None
        return cls.from_pairs(n, i, j, w)

    def subset(self, keep):
        """The graph among the zones where boolean ``keep`` is True, renumbered 0..m-1 in order.
        Links to dropped zones disappear (their former neighbours may become islands)."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n,):
            raise ValueError("keep must have one flag per zone")
        new_id = np.full(self.n, -1, dtype=np.int64)
        new_id[keep] = np.arange(int(keep.sum()))
        rows = self.rows()
        link = keep[rows] & keep[self.indices]
        w = None if self.weights is None else self.weights[link]
        return Neighbours.from_pairs(int(keep.sum()), new_id[rows[link]], new_id[self.indices[link]], w)

    def symmetrised(self):
        """Union of the graph and its transpose (binary)."""
        rows = self.rows()
        return Neighbours.from_pairs(self.n, np.concatenate([rows, self.indices]),
                                     np.concatenate([self.indices, rows]))

    def with_self(self, self_weight=1.0):
        """(indptr, indices, weights) of the graph with zone i added to its own list, as the
        Gi* statistic uses it. Returned as plain arrays, because Neighbours excludes self."""
        rows = self.rows()
        n = self.n
        i = np.concatenate([rows, np.arange(n)])
        j = np.concatenate([self.indices, np.arange(n)])
        w = np.concatenate([self.weight_values(), np.full(n, float(self_weight))])
        order = np.lexsort((j, i))
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(i, minlength=n), out=indptr[1:])
        return indptr, j[order], w[order]


# -------------------------------------------------------------------------------------------
# grids
# -------------------------------------------------------------------------------------------
def _lookup_offsets(a, b, offsets, what):
    """Links between integer cells (a, b) that differ by one of ``offsets`` (da, db)."""
    a = np.asarray(a, dtype=np.int64).ravel()
    b = np.asarray(b, dtype=np.int64).ravel()
    if a.shape != b.shape:
        raise CompositeIndexError(f"The {what} indices of the cells have different lengths.")
    n = len(a)
    if n == 0:
        return Neighbours(np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int64))
    a0 = a - a.min() + 1
    b0 = b - b.min() + 1
    width = int(b0.max()) + 2
    if (int(a0.max()) + 2) * width > 2 ** 62:
        raise CompositeIndexError(f"The {what} indices of the grid span too wide a range.")
    key = a0 * width + b0
    order = np.argsort(key, kind="stable")
    skey = key[order]
    dup = np.flatnonzero(skey[1:] == skey[:-1])
    if len(dup):
        first = order[dup[0]]
        raise CompositeIndexError(
            f"Two grid cells share the {what} indices ({a[first]}, {b[first]}) "
            f"(features {order[dup[0]]} and {order[dup[0] + 1]}).",
            hint="Each cell must appear once; remove duplicated cells or use polygon contiguity.")
    # One column per offset (n = no such cell), each row sorted: row i then holds its
    # neighbours in increasing order followed by the blanks, so the kept entries read row by
    # row are the CSR lists ``from_pairs`` would give (no self links, no repeats: the keys are
    # unique and every offset is non-zero), without sorting all the links together.
    # The targets are searched in key order (the sorted keys plus the offset are sorted too),
    # so the binary searches walk memory in order: 6.9M hexagons in grid order 9 s -> 4 s,
    # in random order 41 s -> 4 s.
    table = np.full((n, len(offsets)), n, dtype=np.int64)
    for k, (da, db) in enumerate(offsets):
        target = skey + (da * width + db)
        pos = np.searchsorted(skey, target)
        pos[pos >= n] = n - 1
        found = skey[pos] == target
        table[order[found], k] = order[pos[found]]
        del target, pos, found
    table.sort(axis=1)
    present = table < n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(present.sum(axis=1), out=indptr[1:])
    return Neighbours(indptr, table[present])


_ROOK = [(-1, 0), (1, 0), (0, -1), (0, 1)]
_QUEEN = _ROOK + [(-1, -1), (-1, 1), (1, -1), (1, 1)]
_HEX_AXIAL = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)]


def grid_contiguity(row, col, queen=True):
    """Neighbours of square grid cells from their integer ``row``/``col`` indices.

    Rook: the 4 cells sharing an edge; queen: also the 4 sharing a corner. Cells missing from the
    layer (clipped away) are simply absent. Pure arithmetic: no geometry is read.
    """
    return _lookup_offsets(row, col, _QUEEN if queen else _ROOK, "row/col")


def hex_contiguity(q, r):
    """Neighbours of hexagonal cells from axial indices ``q``/``r`` (flat-top or pointy-top:
    the six axial directions are the same). Hexagons share edges only, so queen = rook.
    Reference: axial coordinates as in Patel, "Hexagonal Grids" (redblobgames.com, 2013)."""
    return _lookup_offsets(q, r, _HEX_AXIAL, "q/r")


# -------------------------------------------------------------------------------------------
# point buckets (grid hashing)
# -------------------------------------------------------------------------------------------
class _Buckets:
    """Points hashed into square buckets of side ``h``: sorted order, bucket keys and ranges."""

    def __init__(self, x, y, h):
        self.x = x
        self.y = y
        self.h = float(h)
        self.x0 = float(x.min())
        self.y0 = float(y.min())
        ix = np.floor((x - self.x0) / self.h).astype(np.int64)
        iy = np.floor((y - self.y0) / self.h).astype(np.int64)
        self.pad = 2
        self.height = int(iy.max()) + 2 * self.pad + 1
        width = int(ix.max()) + 2 * self.pad + 1
        if width * self.height > 2 ** 62 or width * self.height <= 0:
            raise CompositeIndexError(
                f"The distance {h:g} is far too small for the extent of the layer.",
                hint="Check the distance and the layer's units (CRS).")
        self.ix = ix + self.pad
        self.iy = iy + self.pad
        key = self.ix * self.height + self.iy
        self.order = np.argsort(key, kind="stable")
        skey = key[self.order]
        self.ukeys, self.starts, self.sizes = np.unique(skey, return_index=True, return_counts=True)

    def block_ranges(self, pts, radius):
        """For points ``pts`` (original indices) the buckets within ``radius`` buckets: returns
        (point position in ``pts``, start, size) of every non-empty bucket."""
        out_p, out_s, out_c = [], [], []
        base_ix = self.ix[pts]
        base_iy = self.iy[pts]
        nb = len(self.ukeys)
        for dx in range(-radius, radius + 1):
            for dy in range(-radius, radius + 1):
                kx = base_ix + dx
                ky = base_iy + dy
                valid = (kx >= 0) & (ky >= 0) & (ky < self.height)
                key = kx * self.height + ky
                pos = np.searchsorted(self.ukeys, key)
                pos[pos >= nb] = nb - 1
                found = valid & (self.ukeys[pos] == key)
                idx = np.flatnonzero(found)
                out_p.append(idx)
                out_s.append(self.starts[pos[idx]])
                out_c.append(self.sizes[pos[idx]])
        return np.concatenate(out_p), np.concatenate(out_s), np.concatenate(out_c)


def _expand(p, s, c):
    """Expand (point, start, size) ranges into (point, sorted-position) candidate pairs."""
    pos, owner = ranges(s, np.asarray(s) + c)
    return np.asarray(p)[owner], pos


def _check_xy(x, y):
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise CompositeIndexError("x and y coordinates have different lengths.")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise CompositeIndexError(
            f"{int(bad.sum())} zone(s) have no valid location (first: feature {first}).",
            hint="Remove features with empty or invalid geometry first.")
    return x, y


def _chunks_by_weight(weights, budget):
    """Split 0..len(weights) into consecutive chunks whose weights sum to about ``budget``."""
    cum = np.cumsum(weights)
    bounds = [0]
    while bounds[-1] < len(weights):
        start = bounds[-1]
        base = cum[start - 1] if start else 0
        end = int(np.searchsorted(cum, base + budget, side="right"))
        bounds.append(max(end, start + 1))
    return list(zip(bounds[:-1], bounds[1:]))


def iter_band_pairs(x, y, d, progress=None):
    """Yield ``(a, b, i, j, d2)`` chunk by chunk: every pair of distinct points within ``d``
    (inclusive, relative tolerance 1e-9) whose first point ``i`` lies in ``a..b-1``, sorted by
    ``(i, j)``, with the squared distance ``d2``. Chunks come in increasing ``a``; memory per
    chunk is bounded (about ``_PAIR_CHUNK`` candidate pairs)."""
    progress = progress or NO_PROGRESS
    n = len(x)
    buckets = _Buckets(x, y, d)
    limit2 = (d * (1.0 + _BAND_RTOL)) ** 2
    # candidate count per point (3 x 3 block) to size the chunks
    p, s, c = buckets.block_ranges(np.arange(n), 1)
    cand = np.bincount(p, weights=c, minlength=n)
    chunks = _chunks_by_weight(cand, _PAIR_CHUNK)
    for k, (a, b) in enumerate(chunks):
        pts = np.arange(a, b)
        p, s, c = buckets.block_ranges(pts, 1)
        pp, pos = _expand(p, s, c)
        j = buckets.order[pos]
        i = pts[pp]
        d2 = (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2
        ok = (d2 <= limit2) & (i != j)
        i, j, d2 = i[ok], j[ok], d2[ok]
        order = np.argsort((i - a) * n + j, kind="stable")
        yield a, b, i[order], j[order], d2[order]
        progress.report((k + 1) / len(chunks))


def _band_pairs(x, y, d, max_neighbours, progress, count_only=False):
    """Links within distance ``d``, sorted by (i, j); returns (i, j) or, with ``count_only``,
    the counts. Raises _TooManyError(max_count) as soon as a zone has more than
    ``max_neighbours``."""
    n = len(x)
    counts = np.zeros(n, dtype=np.int64)
    out_i, out_j = [], []
    for a, b, i, j, _ in iter_band_pairs(x, y, d, progress):
        cnt = np.bincount(i - a, minlength=b - a)
        counts[a:b] = cnt
        if max_neighbours is not None and cnt.max(initial=0) > max_neighbours:
            raise _TooManyError(int(cnt.max()))
        if not count_only:
            out_i.append(i)
            out_j.append(j)
    if count_only:
        return counts
    return (np.concatenate(out_i) if out_i else np.empty(0, np.int64),
            np.concatenate(out_j) if out_j else np.empty(0, np.int64))


class _TooManyError(Exception):
    def __init__(self, count):
        super().__init__(count)
        self.count = count


def _fitting_band(x, y, d, max_count, max_neighbours):
    """A band below ``d`` that gives no zone more than ``max_neighbours`` (density scaling, then
    checked and shrunk until it holds)."""
    trial = d * np.sqrt(max_neighbours / max_count) * 0.95
    for _ in range(20):
        try:
            _band_pairs(x, y, trial, max_neighbours, NO_PROGRESS, count_only=True)
            return trial
        except _TooManyError as err:
            trial = trial * np.sqrt(max_neighbours / err.count) * 0.95
    return trial


def _too_many_error(what, count, max_neighbours, fit):
    return CompositeIndexError(
        f"The {what} gives some zones {count:,} neighbours; at most {max_neighbours:,} are "
        f"allowed, since a neighbourhood that large is no longer local.",
        hint=f"Use a distance band of at most {fit:.6g} (in the layer's units), or k nearest "
             f"neighbours with a smaller k.")


def distance_band(x, y, d, max_neighbours=MAX_NEIGHBOURS, progress=None):
    """Binary neighbours: every other zone whose centre lies within distance ``d`` (inclusive,
    with a relative tolerance of 1e-9). ``x``/``y``: zone centres (points: their locations).

    Refuses (CompositeIndexError) a band that gives a zone more than ``max_neighbours``,
    naming the band that would fit. Memory stays bounded: pairs are examined in chunks.
    """
    progress = progress or NO_PROGRESS
    x, y = _check_xy(x, y)
    d = float(d)
    if not np.isfinite(d) or d <= 0:
        raise CompositeIndexError(f"The distance band must be a positive number (got {d:g}).")
    n = len(x)
    if n == 0:
        return Neighbours(np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int64))
    try:
        i, j = _band_pairs(x, y, d, max_neighbours, progress)
    except _TooManyError as err:
        fit = _fitting_band(x, y, d, err.count, max_neighbours)
        raise _too_many_error(f"distance band {d:g}", err.count, max_neighbours, fit) from None
    indptr = np.zeros(n + 1, dtype=np.int64)      # pairs come sorted and unique
    np.cumsum(np.bincount(i, minlength=n), out=indptr[1:])
    return Neighbours(indptr, j)


def band_counts(x, y, d):
    """Number of other zones within distance ``d`` of each zone (nothing stored but counts)."""
    x, y = _check_xy(x, y)
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    return _band_pairs(x, y, float(d), None, NO_PROGRESS, count_only=True)


def knn_arrays(x, y, k, progress=None):
    """Indices and distances of the ``k`` nearest other zones: two ``(n, k)`` arrays sorted by
    distance (ties by index). Exact: bucket rings grow until the k-th distance is certain."""
    progress = progress or NO_PROGRESS
    x, y = _check_xy(x, y)
    n = len(x)
    k = int(k)
    if k < 1:
        raise CompositeIndexError(f"The number of neighbours k must be at least 1 (got {k}).")
    if k > n - 1:
        raise CompositeIndexError(
            f"k = {k} nearest neighbours needs at least {k + 1} zones; the layer has {n}.",
            hint=f"Use k of at most {max(n - 1, 0)}.")
    # bucket side for about k points per bucket, from the central 98 % of the points so that a
    # few far outliers do not inflate it (they are then found by the widening search)
    width = float(np.subtract(*np.percentile(x, [99, 1]))) or float(np.ptp(x))
    height = float(np.subtract(*np.percentile(y, [99, 1]))) or float(np.ptp(y))
    if width > 0 and height > 0:
        h = np.sqrt(width * height * k / n)
    else:
        h = max(width, height) * k / n
    if not h > 0:
        h = 1.0
    buckets = _Buckets(x, y, h)
    idx = np.full((n, k), -1, dtype=np.int64)
    dist = np.full((n, k), np.inf)
    todo = np.arange(n)
    radius = 1
    done_count = 0
    while len(todo):
        block = (2 * radius + 1) ** 2
        chunk = max(1, _PAIR_CHUNK // max(block * k, 1))
        still = []
        for a in range(0, len(todo), chunk):
            pts = todo[a:a + chunk]
            p, s, c = buckets.block_ranges(pts, radius)
            pp, pos = _expand(p, s, c)
            j = buckets.order[pos]
            i = pts[pp]
            ok = i != j
            pp, i, j = pp[ok], i[ok], j[ok]
            d2 = (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2
            m = len(pts)
            cnt = np.bincount(pp, minlength=m)
            kth, sel_j, sel_d2 = _k_smallest(pp, j, d2, cnt, k, n)
            enough = cnt >= k
            # the k-th distance is certain when it lies within the searched radius
            certain = enough & (kth <= (radius * h) ** 2)
            certain |= (cnt == n - 1)   # every other zone was seen
            rows = np.flatnonzero(certain)
            idx[pts[rows]] = sel_j[rows]
            dist[pts[rows]] = np.sqrt(sel_d2[rows])
            still.append(pts[~certain])
            done_count += int(certain.sum())
            progress.report(done_count / n)
        todo = np.concatenate(still) if still else np.empty(0, np.int64)
        radius *= 2
        if radius > 4 and len(todo):
            _knn_brute(x, y, k, todo, idx, dist)
            break
    return idx, dist


def _k_smallest(group, j, d2, cnt, k, n):
    """Per group (0..m-1) the k smallest (d2, j) pairs, sorted; groups with fewer than k
    entries are padded with (inf, n). Returns (k-th d2 per group, j (m, k), d2 (m, k)).
    Padded matrices with a partial sort; ties at the k-th distance go to the lower j."""
    m = len(cnt)
    width = max(int(cnt.max(initial=0)), k)
    order = np.argsort(group.astype(np.uint16) if m <= 65535 else group, kind="stable")
    g, jj, dd = group[order], j[order], d2[order]
    first = np.cumsum(cnt) - cnt
    slot = np.arange(len(g)) - np.repeat(first, cnt)
    D = np.full((m, width), np.inf)
    J = np.full((m, width), n, dtype=np.int64)
    D[g, slot] = dd
    J[g, slot] = jj
    rows = np.arange(m)[:, None]
    part = np.argpartition(D, k - 1, axis=1)[:, :k] if width > k else np.tile(np.arange(width), (m, 1))
    kth = D[rows, part].max(axis=1)
    # among entries equal to the k-th distance keep the lowest j
    key = np.where(D < kth[:, None], -1, np.where(D == kth[:, None], J, n + 1))
    part = np.argpartition(key, k - 1, axis=1)[:, :k] if width > k else part
    sel_d, sel_j = D[rows, part], J[rows, part]
    o = np.lexsort((sel_j, sel_d), axis=-1)
    return kth, np.take_along_axis(sel_j, o, axis=1), np.take_along_axis(sel_d, o, axis=1)


def _knn_brute(x, y, k, pts, idx, dist):
    """k nearest of the (few, isolated) points ``pts`` against every point, in chunks."""
    n = len(x)
    chunk = max(1, _PAIR_CHUNK // n)
    others = np.arange(n)
    for a in range(0, len(pts), chunk):
        p = pts[a:a + chunk]
        d2 = (x[p, None] - x[None, :]) ** 2 + (y[p, None] - y[None, :]) ** 2
        d2[np.arange(len(p)), p] = np.inf
        part = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < n else np.argsort(d2, axis=1)[:, :k]
        # exact order with ties by index: include every point tied with the k-th distance
        kth = np.take_along_axis(d2, part, axis=1).max(axis=1)
        for r in range(len(p)):
            cand = others[d2[r] <= kth[r]]
            o = np.lexsort((cand, d2[r, cand]))[:k]
            idx[p[r]] = cand[o]
            dist[p[r]] = np.sqrt(d2[r, cand[o]])


def knn(x, y, k, max_neighbours=MAX_NEIGHBOURS, progress=None):
    """Binary neighbours: the ``k`` nearest other zones of each zone (not symmetric: j may be
    among i's nearest without i being among j's), as ``libpysal.weights.KNN``."""
    k = int(k)
    if max_neighbours is not None and k > max_neighbours:
        raise CompositeIndexError(
            f"k = {k} nearest neighbours is more than the {max_neighbours:,} allowed.",
            hint=f"Use k of at most {max_neighbours:,}.")
    idx, _ = knn_arrays(x, y, k, progress)
    n = idx.shape[0]
    return Neighbours(np.arange(0, n * k + 1, k, dtype=np.int64), np.sort(idx, axis=1).ravel())


def min_band_all_have_neighbour(x, y):
    """The smallest distance band that gives every zone at least one neighbour: the largest
    nearest-neighbour distance (ArcGIS Hot Spot Analysis default), nudged up by 1e-9 so that
    float noise cannot leave the farthest zone alone."""
    _, dist = knn_arrays(x, y, 1)
    return float(dist[:, 0].max()) * (1.0 + 1e-9)


def mean_kth_neighbour_distance(x, y, k):
    """Mean distance from each zone to its k-th nearest neighbour."""
    _, dist = knn_arrays(x, y, k)
    return float(dist[:, -1].mean())


# -------------------------------------------------------------------------------------------
# arbitrary polygons
# -------------------------------------------------------------------------------------------
def _pairs_within_groups(group, zone):
    """All ordered pairs (zone_a, zone_b), a != b, of entries sharing a group label; ``group``
    sorted ascending."""
    out_i, out_j = [], []
    n = len(group)
    s = 1
    while s < n:
        same = group[s:] == group[:-s]
        if not same.any():
            break
        a = zone[:-s][same]
        b = zone[s:][same]
        out_i += [a, b]
        out_j += [b, a]
        s += 1
    if not out_i:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_i), np.concatenate(out_j)


def _vertex_keys(vx, vy, tolerance):
    """An integer id per distinct (snapped) vertex."""
    if tolerance and tolerance > 0:
        kx = np.round(vx / tolerance).astype(np.int64)
        ky = np.round(vy / tolerance).astype(np.int64)
    else:
        kx = (vx + 0.0).view(np.int64)   # + 0.0 turns -0.0 into 0.0
        ky = (vy + 0.0).view(np.int64)
    order = np.lexsort((ky, kx))
    sx, sy = kx[order], ky[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (sx[1:] != sx[:-1]) | (sy[1:] != sy[:-1])
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.cumsum(new) - 1
    return ids


def polygon_contiguity(vx, vy, vertex_zone, vertex_ring, n, queen=True, tolerance=0.0):
    """Contiguity of arbitrary polygons from their vertices.

    ``vx``/``vy``: every vertex of every ring of every zone; ``vertex_zone``: the zone (0..n-1)
    of each vertex; ``vertex_ring``: a ring id per vertex (any integer, unique per ring), with the
    vertices of a ring consecutive and the ring closed (last vertex = first, as in WKB).
    Queen: zones sharing at least one vertex; rook: zones sharing an edge (the same two
    consecutive vertices, either direction). ``tolerance`` > 0 snaps coordinates to a grid of
    that size before comparing (for data whose shared vertices differ by float noise).
    Zones that merely touch a neighbour's edge without sharing its vertices are not linked
    (the usual vertex-based rule).
    """
    vx = np.asarray(vx, dtype=np.float64).ravel()
    vy = np.asarray(vy, dtype=np.float64).ravel()
    zone = np.asarray(vertex_zone, dtype=np.int64).ravel()
    ring = np.asarray(vertex_ring, dtype=np.int64).ravel()
    if not (len(vx) == len(vy) == len(zone) == len(ring)):
        raise CompositeIndexError("Vertex arrays have different lengths.")
    if len(vx) == 0:
        return Neighbours(np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.int64))
    vid = _vertex_keys(vx, vy, tolerance)
    if queen:
        key = vid
        owner = zone
    else:
        same_ring = ring[1:] == ring[:-1]
        a, b = vid[:-1][same_ring], vid[1:][same_ring]
        owner = zone[:-1][same_ring]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        real = lo != hi
        nv = int(vid.max()) + 1
        key = lo[real] * nv + hi[real]
        owner = owner[real]
    # one entry per (key, zone), sorted by key
    order = np.lexsort((owner, key))
    key, owner = key[order], owner[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = (key[1:] != key[:-1]) | (owner[1:] != owner[:-1])
    key, owner = key[first], owner[first]
    i, j = _pairs_within_groups(key, owner)
    return Neighbours.from_pairs(n, i, j)


def polygon_contiguity_from_rings(zones, queen=True, tolerance=0.0):
    """``polygon_contiguity`` for a list (one item per zone) of lists of rings, each ring an
    ``(k, 2)`` array (as ``core.geometry.rings_from_wkb`` returns). Empty zones are islands."""
    xs, ys, zs, rs = [], [], [], []
    ring_id = 0
    for z, rings in enumerate(zones):
        for r in rings:
            arr = np.asarray(r, dtype=np.float64).reshape(-1, 2)
            if len(arr) == 0:
                continue
            if not np.array_equal(arr[0], arr[-1]):
                arr = np.vstack([arr, arr[:1]])
            xs.append(arr[:, 0])
            ys.append(arr[:, 1])
            zs.append(np.full(len(arr), z, dtype=np.int64))
            rs.append(np.full(len(arr), ring_id, dtype=np.int64))
            ring_id += 1
    if not xs:
        return Neighbours(np.zeros(len(zones) + 1, dtype=np.int64), np.empty(0, dtype=np.int64))
    return polygon_contiguity(np.concatenate(xs), np.concatenate(ys), np.concatenate(zs),
                              np.concatenate(rs), len(zones), queen=queen, tolerance=tolerance)


# -------------------------------------------------------------------------------------------
# files
# -------------------------------------------------------------------------------------------
def read_gal(path):
    """Read a GeoDa/PySAL ``.gal`` contiguity file. Returns ``(neighbours, ids)``: zones are
    numbered in the order their ids first appear as records in the file (as libpysal's
    ``W.id_order``), ``ids`` lists those ids as strings.

    Format: a header line (``n`` or ``0 n name key``), then per zone a line ``id k`` and a line
    with its ``k`` neighbour ids.
    """
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    header = lines[0].split()
    n = int(header[0]) if len(header) == 1 else int(header[1])
    tokens = " ".join(lines[1:]).split()
    ids, neigh = [], []
    t = 0
    while t < len(tokens) and len(ids) < n:
        zone_id, k = tokens[t], int(tokens[t + 1])
        ids.append(zone_id)
        neigh.append(tokens[t + 2:t + 2 + k])
        t += 2 + k
    if len(ids) != n:
        raise CompositeIndexError(f"{path}: header says {n} zones, found {len(ids)}.")
    pos = {z: i for i, z in enumerate(ids)}
    try:
        lists = [[pos[z] for z in row] for row in neigh]
    except KeyError as err:
        raise CompositeIndexError(f"{path}: neighbour id {err} has no record of its own.") from None
    counts = np.array([len(r) for r in lists], dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.array([j for r in lists for j in r], dtype=np.int64)
    return Neighbours(indptr, indices), ids
