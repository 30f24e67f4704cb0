"""Uncertainty and sensitivity of the index to the analyst's choices (Monte Carlo; numpy only).

Each run perturbs the index spec and rebuilds the index with ``core.index.build_index``:
- **weights**: at every level (the themes; the issues of each theme; the indicators of each
  issue) the sibling weights ``w`` (sum ``W``) are replaced by ``W * d`` with
  ``d ~ Dirichlet(concentration * w / W)``: centred on the chosen shares, spread shrinking as
  the concentration grows (variance of a share ``p(1 - p) / (concentration + 1)``). A group with
  one member, or ``concentration`` None / 0 / inf, does not vary.
- **scalings**: each run draws one scaling method from the chosen set and applies it to every
  indicator (options that belong to the old scaling, like ``scale_to``, are dropped); with
  ``scaling_mode="indicator"`` each indicator draws its own.

- **grid offset and cell size** (the modifiable areal unit problem; square grids): each run
  lays a grid whose cells are ``size * f`` wide, ``f ~ U(1 - size_jitter, 1 + size_jitter)``,
  with its origin shifted by ``U(0, size * f)`` in x and y, and moves the zones' values onto it
  by areal weighting (``SquareGridJitter``): counts and denominators (extensive fields) are
  shared out in proportion to the overlapping area, other values (intensive) are area-weighted
  means. The index is built on that grid and each original cell takes the score of the
  jittered cell holding its centre, so ranks stay per original cell. Areal weighting assumes
  the counts are spread evenly within a cell; re-binning the incident points themselves would
  be sharper, but needs the points, which the zone layer does not carry. Hexagon grids (and
  any zone polygons) use ``SampledGridJitter``: the same re-apportionment onto a jittered grid
  of the same shape, with the overlaps estimated from fixed quadrature points in each zone.

Reported per zone (over the runs): the median rank, the 5th and 95th percentile of the rank
(numpy's linear interpolation), the probability of being in the top decile (``ci_decile`` == 1)
and ``robust_priority`` = 1 when that probability is at least ``robust_threshold`` (default 0.8:
the zone is a top-decile priority in at least 4 runs out of 5 whatever reasonable choices the
analyst had made). Per area the same for the area ranks (areas ranked by their population-
weighted mean score; "top decile" = the top ``ceil(n_areas / 10)`` areas).

The approach follows the uncertainty analysis of composite indicators in the OECD/JRC
*Handbook on Constructing Composite Indicators* (2008, ch. 7) and COINr (median rank and
5-95 % rank interval over random runs). Runs are seeded (numpy ``Generator``, PCG64): the same
seed gives the same result.
"""
import copy
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from composite_index_plugin.core.assessment import need_rank, weighted_mean_by_area
from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.model import IndexSpec
from composite_index_plugin.core.ranking import need_class, need_ranks
from composite_index_plugin.core.vocab import NEEDS_PARAMETERS, SCALINGS

SCALING_MODES = ("run", "indicator")
ROBUST_THRESHOLD = 0.8


def _default_builder():
    from composite_index_plugin.core.index import build_index

    return build_index


def _as_spec(spec):
    from composite_index_plugin.core.index import as_spec

    return as_spec(spec)


def parse_scalings(scalings):
    """A list of scaling names from a list or a comma-separated string; checked and deduplicated."""
    if scalings is None:
        return []
    if isinstance(scalings, str):
        scalings = [s for s in scalings.replace(";", ",").split(",")]
    names = []
    for s in scalings:
        s = str(s).strip().lower()
        if s and s not in names:
            names.append(s)
    known = SCALINGS
    for s in names:
        if s not in known:
            raise CompositeIndexError(f"Unknown scaling '{s}' in the scalings to vary.",
                                      hint="Use some of: " + ", ".join(x for x in known
                                                                       if x not in NEEDS_PARAMETERS)
                                      + ".")
        if s in NEEDS_PARAMETERS:
            raise CompositeIndexError(
                f"Scaling '{s}' needs parameters of its own for each indicator, so it cannot be "
                "drawn at random.", hint="Leave it out of the scalings to vary.")
    return names


def _weight_groups(spec):
    """Every group of siblings that carry weights (themes; issues per theme; the indicators or
    roles of each issue), in document order, with more than one member."""
    groups = [list(spec.themes)]
    for theme in spec.themes:
        groups.append(list(theme.issues))
        for issue in theme.issues:
            groups.append([m for _key, m, _field in issue.measured()])
    return [g for g in groups if len(g) > 1]


def _indicators(spec):
    return [m for *_x, m, _field in spec.measured()]


def dirichlet_weights(rng, weights, concentration):
    """New weights for one sibling group: ``sum(w) * Dirichlet(concentration * w / sum(w))``.

    Zero weights stay zero. Gamma draws that all underflow (tiny concentrations) fall back to
    the Dirichlet's limit, one member chosen with probability ``w / sum(w)``.
    """
    w = np.asarray(weights, dtype="float64")
    total = w.sum()
    pos = w > 0
    out = np.zeros_like(w)
    alpha = concentration * w[pos] / total
    g = rng.standard_gamma(alpha)
    if g.sum() > 0:
        out[pos] = total * g / g.sum()
    else:
        pick = rng.choice(int(pos.sum()), p=w[pos] / total)
        vals = np.zeros(int(pos.sum()))
        vals[pick] = total
        out[pos] = vals
    return out


def set_scaling(indicator, scaling: str) -> None:
    """Give an indicator (a ``core.model.Measurement``) another scaling, dropping the options
    that no longer apply (as the model declares them)."""
    indicator.scaling = scaling
    options = indicator.get("options")
    for name in indicator.OPTION_KEYS:
        if not indicator.key(name).applies(indicator):
            indicator.unset(name)
            if options is not None and hasattr(options, "unset"):
                options.unset(name)


def perturb_spec(spec, rng, concentration=None, scalings=(), scaling_mode="run") -> "IndexSpec":
    """A copy of ``spec`` (an index spec, as a dict or ``core.model.IndexSpec``) with weights
    and/or scalings drawn at random (see module docstring); an ``IndexSpec``."""
    new = copy.deepcopy(_as_spec(spec))
    if _varies_weights(concentration):
        for group in _weight_groups(new):
            w = [float(item.weight) for item in group]
            for item, nw in zip(group, dirichlet_weights(rng, w, concentration)):
                item.weight = float(nw)
    if scalings:
        inds = _indicators(new)
        if scaling_mode == "run":
            choice = scalings[int(rng.integers(len(scalings)))]
            for ind in inds:
                set_scaling(ind, choice)
        else:
            for ind in inds:
                set_scaling(ind, scalings[int(rng.integers(len(scalings)))])
    return new


def _recheck(spec):
    """The rules of a changed spec (e.g. a geometric mean over a drawn scaling)."""
    from composite_index_plugin.core.model import parse_spec

    return parse_spec(spec.to_dict())[1]


def _varies_weights(concentration):
    return concentration is not None and concentration > 0 and math.isfinite(concentration)


def _move_values(values, extensive, intensive, zone, cell, n_cells, part, share):
    """Zone values onto cells, from (zone, cell) pieces of overlap ``part`` (area) and ``share``
    (of the zone): extensive columns (counts, denominators) are split by share and summed,
    the others are overlap-weighted means. Missing values are left out; a cell with no value
    gets NaN."""
    out = {}
    for c in extensive:
        v = values[c].to_numpy("float64")[zone]
        ok = np.isfinite(v)
        total = np.bincount(cell, weights=np.where(ok, v * share, 0.0), minlength=n_cells)
        seen = np.bincount(cell, weights=ok * part, minlength=n_cells)
        total[seen == 0] = np.nan
        out[c] = total
    for c in intensive:
        v = values[c].to_numpy("float64")[zone]
        ok = np.isfinite(v)
        num = np.bincount(cell, weights=np.where(ok, v * part, 0.0), minlength=n_cells)
        den = np.bincount(cell, weights=ok * part, minlength=n_cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[c] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return pd.DataFrame(out, columns=list(values.columns))


class SquareGridJitter:
    """Areal re-apportionment of zone values onto shifted and rescaled square grids.

    ``xmin``..``ymax``: each zone's extent (grid cells, possibly clipped at the study-area edge);
    ``size``: the cell width; ``x0``/``y0``: the grid origin; ``values``: DataFrame of the fields
    the index reads (one row per zone); ``extensive``: the columns that are counts or
    denominators (summed by overlap share), the others are area-weighted means.
    """

    def __init__(self, xmin, ymin, xmax, ymax, size, x0, y0, values, extensive,
                 size_jitter=0.25, offset=True):
        self.xmin = np.asarray(xmin, dtype="float64")
        self.ymin = np.asarray(ymin, dtype="float64")
        self.xmax = np.asarray(xmax, dtype="float64")
        self.ymax = np.asarray(ymax, dtype="float64")
        self.size, self.x0, self.y0 = float(size), float(x0), float(y0)
        if not (self.size > 0 and math.isfinite(self.size)):
            raise CompositeIndexError(f"Grid jitter needs a positive cell size, not {size!r}.")
        if not 0 <= size_jitter < 1:
            raise CompositeIndexError("The cell size jitter must be within 0 and 1 (e.g. 0.25 for "
                                      f"+-25 %), not {size_jitter!r}.")
        bad = ~(np.isfinite(self.xmin) & np.isfinite(self.ymin) & (self.xmax > self.xmin)
                & (self.ymax > self.ymin))
        if bad.any():
            raise CompositeIndexError(f"{int(bad.sum())} zone(s) have no extent (first: row "
                                      f"{int(np.argmax(bad))}); grid jitter needs polygon cells.")
        self.values = values.reset_index(drop=True)
        self.extensive = [c for c in values.columns if c in set(extensive)]
        self.intensive = [c for c in values.columns if c not in set(extensive)]
        self.size_jitter = float(size_jitter)
        self.offset = bool(offset)
        self.cx = (self.xmin + self.xmax) / 2
        self.cy = (self.ymin + self.ymax) / 2

    def draw(self, rng):
        """(size, x origin, y origin) of one jittered grid."""
        f = 1.0 + (rng.uniform(-self.size_jitter, self.size_jitter) if self.size_jitter else 0.0)
        size = self.size * f
        dx, dy = (rng.uniform(0, size), rng.uniform(0, size)) if self.offset else (0.0, 0.0)
        return size, self.x0 + dx, self.y0 + dy

    def reapportion(self, size, x0, y0):
        """Zone values on the grid (size, x0, y0).

        Returns (frame, cell_area, row, col, back): one row per jittered cell that overlaps a
        zone; ``back[i]`` = row of the jittered cell holding zone i's centre.
        """
        c0 = np.floor((self.xmin - x0) / size).astype("int64")
        c1 = np.ceil((self.xmax - x0) / size).astype("int64") - 1
        r0 = np.floor((self.ymin - y0) / size).astype("int64")
        r1 = np.ceil((self.ymax - y0) / size).astype("int64") - 1
        span_c = int((c1 - c0).max()) + 1
        span_r = int((r1 - r0).max()) + 1
        zone_idx, cols, rows, parts = [], [], [], []
        for dc in range(span_c):
            col = c0 + dc
            ox = np.minimum(self.xmax, x0 + (col + 1) * size) - np.maximum(self.xmin, x0 + col * size)
            for dr in range(span_r):
                row = r0 + dr
                oy = np.minimum(self.ymax, y0 + (row + 1) * size) - \
                    np.maximum(self.ymin, y0 + row * size)
                ok = (ox > 0) & (oy > 0)
                zone_idx.append(np.flatnonzero(ok))
                cols.append(col[ok])
                rows.append(row[ok])
                parts.append((ox * oy)[ok])
        zone_idx = np.concatenate(zone_idx)
        cols = np.concatenate(cols)
        rows = np.concatenate(rows)
        part = np.concatenate(parts)
        zone_area = (self.xmax - self.xmin) * (self.ymax - self.ymin)
        keys = cols * 4294967296 + (rows + 2147483648)
        uniq, cell = np.unique(keys, return_inverse=True)
        n_cells = len(uniq)
        cell_area = np.bincount(cell, weights=part, minlength=n_cells)
        share = part / zone_area[zone_idx]
        frame = _move_values(self.values, self.extensive, self.intensive, zone_idx, cell, n_cells,
                             part, share)
        col_of = (uniq // 4294967296).astype("int64")
        row_of = (uniq % 4294967296 - 2147483648).astype("int64")
        centre_keys = (np.floor((self.cx - x0) / size).astype("int64") * 4294967296
                       + np.floor((self.cy - y0) / size).astype("int64") + 2147483648)
        back = np.searchsorted(uniq, centre_keys)
        back = np.where((back < n_cells) & (uniq[np.minimum(back, n_cells - 1)] == centre_keys),
                        back, -1)
        return frame, cell_area, row_of, col_of, back


def cell_samples(shape, size, x0, y0, a, b, k=None):
    """Quadrature points of whole grid cells (indices ``a``/``b`` as ``GridSpec`` names them).

    Each cell is cut into pieces of equal area and represented by the pieces' centroids (the
    composite midpoint rule): squares into ``k x k`` sub-squares (default k = 7, 49 points),
    hexagons into their 6 centre triangles, each cut into ``k x k`` similar sub-triangles
    (default k = 3, 54 points). Returns ``(x, y, zone, weight)`` with ``weight`` = cell area /
    number of points (flat-to-flat width s: a hexagon's area is sqrt(3)/2 * s^2).
    """
    from composite_index_plugin.core.grid import GridSpec, cell_area

    spec = GridSpec(shape, size, x0, y0)
    a = np.asarray(a, dtype="int64")
    b = np.asarray(b, dtype="int64")
    cx, cy = spec.centres(a, b)
    if spec.shape == "square":
        k = int(k or 7)
        t = (np.arange(k) + 0.5) / k - 0.5
        ox, oy = np.meshgrid(t * spec.size, t * spec.size)
        ox, oy = ox.ravel(), oy.ravel()
    else:
        k = int(k or 3)
        # barycentric centroids of the k*k sub-triangles of the triangle (centre, V_j, V_j+1)
        i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        up = (i + j) <= k - 1
        down = (i + j) <= k - 2
        u = np.concatenate([(i[up] + 1 / 3) / k, (i[down] + 2 / 3) / k])
        v = np.concatenate([(j[up] + 1 / 3) / k, (j[down] + 2 / 3) / k])
        ring = spec.vertices(np.zeros(1), np.zeros(1))[0] - np.array(spec.centres(0, 0))
        ox = (u[None, :] * ring[:6, 0, None] + v[None, :] * ring[1:7, 0, None]).ravel()
        oy = (u[None, :] * ring[:6, 1, None] + v[None, :] * ring[1:7, 1, None]).ravel()
    m = len(ox)
    x = (cx[:, None] + ox[None, :]).ravel()
    y = (cy[:, None] + oy[None, :]).ravel()
    zone = np.repeat(np.arange(len(a), dtype="int64"), m)
    weight = np.full(len(x), cell_area(spec.shape, spec.size) / m)
    return x, y, zone, weight


def polygon_samples(zones, m=7):
    """Quadrature points of any polygon zones (``zones``: list of lists of rings).

    An ``m x m`` lattice of cell-centred points over each zone's bounding box, kept when inside
    the zone (``core.geometry.points_in_rings``); each kept point carries area / count of its
    zone. A zone too thin for the lattice is tried again with 4x and 16x finer lattices and
    otherwise represented by its vertices' mean. The loop over zones runs once, when the
    sampler is built. Returns ``(x, y, zone, weight)``.
    """
    from composite_index_plugin.core.geometry import points_in_rings, polygon_area, rings_bbox

    xs, ys, zs, ws = [], [], [], []
    for z, rings in enumerate(zones):
        xmin, ymin, xmax, ymax = rings_bbox(rings)
        if not (np.isfinite(xmin) and xmax > xmin and ymax > ymin):
            raise CompositeIndexError(f"Zone {z} has no area; grid jitter needs polygon zones.")
        area = polygon_area(rings)
        px = py = np.empty(0)
        for n in (m, 4 * m, 16 * m):
            t = (np.arange(n) + 0.5) / n
            gx, gy = np.meshgrid(xmin + t * (xmax - xmin), ymin + t * (ymax - ymin))
            gx, gy = gx.ravel(), gy.ravel()
            inside = points_in_rings(gx, gy, rings)
            if inside.any():
                px, py = gx[inside], gy[inside]
                break
        if len(px) == 0:
            allv = np.vstack([np.asarray(r, dtype="float64").reshape(-1, 2) for r in rings])
            px, py = allv[:, 0].mean(keepdims=True), allv[:, 1].mean(keepdims=True)
        xs.append(px)
        ys.append(py)
        zs.append(np.full(len(px), z, dtype="int64"))
        ws.append(np.full(len(px), area / len(px)))
    return (np.concatenate(xs), np.concatenate(ys), np.concatenate(zs), np.concatenate(ws))


class SampledGridJitter:
    """Re-apportionment of zone values onto shifted and rescaled grids of any shape, by
    quadrature: the same interface as ``SquareGridJitter`` (``draw``, ``reapportion``).

    Each original zone is represented by fixed sample points (``cell_samples`` for grid cells,
    ``polygon_samples`` for any polygons; sorted by zone, every zone at least one point), each
    carrying a part of the zone's area. ``reapportion`` bins all points onto the jittered grid
    with ``GridSpec.bin`` in one vectorised step and estimates the overlap of zone i with
    jittered cell c as the summed weight of i's points falling in c: extensive values (counts,
    denominators) are shared out by these shares, intensive ones are area-weighted means.

    Accuracy: this is a quadrature estimate of the areal overlap. The shares of every zone
    sum to 1, so totals of extensive values are preserved exactly (to rounding); a zone left
    whole in a cell is exact. The error of a share comes only from the sub-pieces that a
    jittered cell's edge cuts: on squares with ``k x k`` points it is below 1/k of the zone's
    width per axis, so below 2/k of its area (k = 7: 0.29) in the worst case. Measured against
    exact overlaps (polygon clipping; 20 random jitters of a 4 x 4 km block of 100 m cells), the
    mean absolute error of a share over the overlapping (zone, cell) pairs was 0.016 on hexagons
    (54 points, worst 0.09) and 0.028 on squares (49 points, worst 0.14; squares use the exact
    ``SquareGridJitter`` in the Processing tool) - small beside the change the jitter itself
    makes (a shift of up to a whole cell). A jittered cell that only clips a zone between its
    sample points gets none of it (the sliver goes to the neighbouring cell), so a few edge
    cells of the exact method may be missing. ``cell_area`` is the summed weight of the points
    in the cell, estimated like the shares (so a density of evenly spread counts comes out
    exactly) and conserved in total; a cell inside the study area is a whole cell,
    sqrt(3)/2 * s^2 for hexagons of width s (s^2 for squares), up to the quadrature error
    (measured on hexagons: mean 0.025, worst 0.16 of a whole cell's area).

    ``shape``/``size``/``x0``/``y0``: the original grid; ``samples``: ``(x, y, zone, weight)``;
    ``centre_x``/``centre_y``: a point per zone (``back`` maps zone i to the jittered cell
    holding it; when no sample of the zone is in that cell, to the cell holding the largest
    share of the zone); ``values``/``extensive``/``size_jitter``/``offset`` as for
    ``SquareGridJitter``. Each run shifts the grid by a uniform point of one lattice period
    (the parallelogram of the two cell-to-cell steps: up to one cell along each axis of the
    lattice) and scales the cells by ``U(1 - size_jitter, 1 + size_jitter)``.
    """

    # (zone, cell) pairs are summed in a dense table of zones x (2k+1)^2 local cells while it
    # stays this small (k: the furthest a sample lands from its zone's first sample, in cells;
    # None: 4 entries per sample point or 2^20, whichever is more), else by sorting
    dense_limit = None

    def __init__(self, shape, size, x0, y0, samples, centre_x, centre_y, values, extensive,
                 size_jitter=0.25, offset=True):
        from composite_index_plugin.core.grid import GridSpec

        self.grid = GridSpec(shape, size, x0, y0)
        self.shape, self.size, self.x0, self.y0 = (self.grid.shape, self.grid.size,
                                                   self.grid.x0, self.grid.y0)
        if not 0 <= size_jitter < 1:
            raise CompositeIndexError("The cell size jitter must be within 0 and 1 (e.g. 0.25 for "
                                      f"+-25 %), not {size_jitter!r}.")
        self.values = values.reset_index(drop=True)
        n = len(self.values)
        sx, sy, sz, sw = (np.asarray(s) for s in samples)
        sz = sz.astype("int64")
        order = np.argsort(sz, kind="stable")
        self.sx = sx[order].astype("float64")
        self.sy = sy[order].astype("float64")
        self.sz = sz[order]
        self.sw = sw[order].astype("float64")
        counts = np.bincount(self.sz, minlength=n) if len(self.sz) else np.zeros(n, "int64")
        if len(counts) > n or (counts == 0).any() or not (self.sw > 0).all():
            bad = int(np.argmax(counts == 0)) if (counts == 0).any() else -1
            raise CompositeIndexError(
                "Grid jitter needs sample points with positive weights for every zone"
                + (f" (zone row {bad} has none)." if bad >= 0 else "."))
        self.counts = counts
        self.first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.zone_w = np.bincount(self.sz, weights=self.sw, minlength=n)
        self.cx = np.asarray(centre_x, dtype="float64")
        self.cy = np.asarray(centre_y, dtype="float64")
        self.extensive = [c for c in values.columns if c in set(extensive)]
        self.intensive = [c for c in values.columns if c not in set(extensive)]
        self.size_jitter = float(size_jitter)
        self.offset = bool(offset)

    @classmethod
    def from_cells(cls, shape, size, x0, y0, a, b, values, extensive, k=None, **kw):
        """For whole cells ``a``/``b`` of the grid (shape, size, x0, y0)."""
        from composite_index_plugin.core.grid import GridSpec

        cx, cy = GridSpec(shape, size, x0, y0).centres(a, b)
        return cls(shape, size, x0, y0, cell_samples(shape, size, x0, y0, a, b, k), cx, cy,
                   values, extensive, **kw)

    def _steps(self, size):
        from composite_index_plugin.core.grid import GridSpec

        if self.shape == "square":  # a = row (a step in y), b = col (a step in x)
            return (0.0, size), (size, 0.0)
        g = GridSpec(self.shape, size)
        c0x, c0y = g.centres(0, 0)
        ax, ay = g.centres(1, 0)
        bx, by = g.centres(0, 1)
        return (float(ax - c0x), float(ay - c0y)), (float(bx - c0x), float(by - c0y))

    def draw(self, rng):
        """(size, x origin, y origin) of one jittered grid (on squares the same draws as
        ``SquareGridJitter`` for the same generator state)."""
        f = 1.0 + (rng.uniform(-self.size_jitter, self.size_jitter) if self.size_jitter else 0.0)
        size = self.size * f
        if not self.offset:
            return size, self.x0, self.y0
        u, v = rng.uniform(0, 1), rng.uniform(0, 1)
        ea, eb = self._steps(size)
        if self.shape == "square":  # x first, as SquareGridJitter draws it
            u, v = v, u
        return size, self.x0 + u * ea[0] + v * eb[0], self.y0 + u * ea[1] + v * eb[1]

    def _pairs(self, a, b):
        """(zone, a, b, weight) of every (zone, jittered cell) with sample points in common."""
        n = len(self.zone_w)
        a0, b0 = a[self.first], b[self.first]
        da = a - np.repeat(a0, self.counts)
        db = b - np.repeat(b0, self.counts)
        k = int(max(-da.min(), da.max(), -db.min(), db.max())) if len(da) else 0
        w = 2 * k + 1
        limit = max(4 * len(a), 1 << 20) if self.dense_limit is None else self.dense_limit
        if n * w * w <= limit:
            slot = self.sz * (w * w) + (da + k) * w + (db + k)
            tot = np.bincount(slot, weights=self.sw, minlength=n * w * w)
            hit = np.flatnonzero(tot > 0)
            zone = hit // (w * w)
            loc = hit % (w * w)
            pa = a0[zone] + loc // w - k
            pb = b0[zone] + loc % w - k
            return zone, pa, pb, tot[hit]
        from composite_index_plugin.core.grid import encode_keys

        ukey, cell = np.unique(encode_keys(a, b), return_inverse=True)
        pair, inv = np.unique(self.sz * len(ukey) + cell.ravel(), return_inverse=True)
        tot = np.bincount(inv.ravel(), weights=self.sw)
        zone = pair // len(ukey)
        key = ukey[pair % len(ukey)]
        return zone, key >> 32, (key & 0xFFFFFFFF) - (1 << 31), tot

    def reapportion(self, size, x0, y0):
        """Zone values on the grid (size, x0, y0) of the original shape.

        Returns (frame, cell_area, a, b, back): one row per jittered cell holding sample points
        (``a``/``b``: its indices, row/col or q/r); ``back[i]`` = row of the jittered cell holding
        zone i's centre.
        """
        from composite_index_plugin.core.grid import GridSpec, encode_keys

        spec = GridSpec(self.shape, size, x0, y0)
        a, b = spec.bin(self.sx, self.sy)
        zone, pa, pb, part = self._pairs(a, b)
        keys = encode_keys(pa, pb)
        uniq, cell = np.unique(keys, return_inverse=True)
        cell = cell.ravel()
        n_cells = len(uniq)
        area = np.bincount(cell, weights=part, minlength=n_cells)
        share = part / self.zone_w[zone]
        frame = _move_values(self.values, self.extensive, self.intensive, zone, cell, n_cells,
                             part, share)
        a_of = (uniq >> 32).astype("int64")
        b_of = ((uniq & 0xFFFFFFFF) - (1 << 31)).astype("int64")
        ca, cb = spec.bin(self.cx, self.cy)
        ckeys = encode_keys(ca, cb)
        pos = np.minimum(np.searchsorted(uniq, ckeys), n_cells - 1)
        back = np.where(uniq[pos] == ckeys, pos, -1)
        # a centre in no cell of its zone's samples (a clipped or odd-shaped zone): take the cell
        # with the zone's largest share
        n = len(self.zone_w)
        has = np.zeros(n, dtype=bool)
        has[zone[cell == back[zone]]] = True
        if not has.all():
            order = np.lexsort((-part, zone))
            best = cell[order][np.searchsorted(zone[order], np.arange(n))]
            back = np.where(has, back, best)
        return frame, area, a_of, b_of, back


@dataclass
class SensitivityResult:
    """``zones``: per zone ``base_rank``, ``median_rank``, ``rank_p05``, ``rank_p95``,
    ``p_top_decile``, ``robust_priority`` (same row order as the input). ``areas``: the same per
    area (or None). ``runs``: runs done. ``ranks``: the rank of every zone in every run
    (runs x zones, 0 = left out), kept for further analysis."""

    zones: pd.DataFrame
    areas: pd.DataFrame = None
    runs: int = 0
    messages: list = field(default_factory=list)
    ranks: np.ndarray = None


def _ranks_deciles(table):
    score = pd.to_numeric(table["ci_score"], errors="coerce").to_numpy("float64")
    if "ci_rank" in table.columns:
        rank = pd.to_numeric(table["ci_rank"], errors="coerce").to_numpy("float64")
    else:
        rank = need_rank(score)
    n = int(np.isfinite(rank).sum())
    if "ci_decile" in table.columns:
        decile = pd.to_numeric(table["ci_decile"], errors="coerce").to_numpy("float64")
    else:
        decile = need_class(need_ranks(score)[1], n, 10)
    return score, rank, decile


def _area_ranks(score, zone, area, weight, n_areas):
    return need_rank(weighted_mean_by_area(score, zone, area, weight, n_areas))


def _jittered_run(jitter, jitter_neighbours, rng, builder, spec_k, k):
    """One run on a jittered grid; scores, ranks and deciles per original zone."""
    size, x0, y0 = jitter.draw(rng)
    frame, cell_area, row, col, back = jitter.reapportion(size, x0, y0)
    nb = jitter_neighbours(row, col) if jitter_neighbours is not None else None
    try:
        res = builder(frame, spec_k, neighbours=nb, zone_area=cell_area)
    except CompositeIndexError as err:
        raise CompositeIndexError(
            f"The index failed in run {k + 1} (grid of {size:g} with origin {x0:g}, {y0:g}): "
            f"{err.message}", hint=err.hint, details=err.details) from err
    cell_score = pd.to_numeric(res.table["ci_score"], errors="coerce").to_numpy("float64")
    score = np.where(back >= 0, cell_score[np.maximum(back, 0)], np.nan)
    rank, last = need_ranks(score)   # ties share the class of the last of them, as ci_decile
    decile = need_class(last, int(np.isfinite(rank).sum()), 10)
    return score, rank, decile


def _summarise(ranks, top_hits, runs, robust_threshold, chunk=4096):
    """Median, 5th and 95th percentile of ranks (runs x items, 0 = missing) per item."""
    n_items = ranks.shape[1]
    med = np.full(n_items, np.nan)
    p05 = np.full(n_items, np.nan)
    p95 = np.full(n_items, np.nan)
    for start in range(0, n_items, chunk):
        block = ranks[:, start:start + chunk].astype("float64")
        missing = (block == 0).any(axis=0)
        q = np.percentile(block, [50, 5, 95], axis=0)
        q[:, missing] = np.nan
        med[start:start + chunk], p05[start:start + chunk], p95[start:start + chunk] = q
    p_top = top_hits / runs
    p_top[np.isnan(med)] = np.nan
    robust = (np.nan_to_num(p_top) >= robust_threshold).astype("int64")
    return med, p05, p95, p_top, robust


def run_sensitivity(df, spec, runs=200, seed=None, concentration=None, scalings=None,
                    scaling_mode="run", area_names=(), overlaps=None, population=None,
                    robust_threshold=ROBUST_THRESHOLD, allow_no_variation=False, builder=None,
                    neighbours=None, zone_area=None, jitter=None, jitter_neighbours=None,
                    progress=None):
    """Monte Carlo over weights and scalings; see the module docstring.

    df, spec, neighbours, zone_area: as for ``build_index``. runs: number of perturbed runs
    (the base run comes on top). seed: int or None (None = fresh entropy; give one to repeat).
    concentration: Dirichlet concentration of the weights (None/0/inf = keep the weights).
    scalings: scalings to draw from (list or comma text). area_names / overlaps / population:
    areas to rank per run (overlap table as in ``core.assessment``; population per zone or
    None). allow_no_variation: let a run with nothing to vary through (for tests: it must
    reproduce the base ranks). builder: the index function (default ``build_index``).
    jitter: a ``SquareGridJitter`` or ``SampledGridJitter`` to vary the grid offset and cell
    size in every run; jitter_neighbours: ``f(a, b) -> Neighbours`` (row/col or q/r) on a
    jittered grid, when the spec needs neighbours. Zones sharing a jittered cell share its
    score (and the better rank).
    """
    progress = progress or NO_PROGRESS
    builder = builder or _default_builder()
    scalings = parse_scalings(scalings)
    if scaling_mode not in SCALING_MODES:
        raise CompositeIndexError(f"scaling_mode must be one of {', '.join(SCALING_MODES)}.")
    try:
        runs = int(runs)
    except (TypeError, ValueError) as err:
        raise CompositeIndexError(f"The number of runs must be a whole number, not {runs!r}.") \
            from err
    if runs < 1:
        raise CompositeIndexError("The number of runs must be at least 1.",
                                  hint="Use 100 or more for stable intervals.")
    if concentration is not None and (not isinstance(concentration, (int, float))
                                      or math.isnan(concentration) or concentration < 0):
        raise CompositeIndexError(f"The weight concentration must be a number >= 0 "
                                  f"(0 = keep the weights), not {concentration!r}.")
    spec = _as_spec(spec)   # parsed and checked once
    varies_w = _varies_weights(concentration)
    messages = []
    if varies_w and not _weight_groups(spec):
        if not scalings and jitter is None:
            raise CompositeIndexError(
                "Nothing to vary in the weights: every theme, issue and indicator is alone at its "
                "level.", hint="Vary the scalings instead, or add themes / issues / indicators.")
        varies_w = False
        messages.append("Every theme, issue and indicator is alone at its level, so the weights "
                        "are not varied (only the scalings or the grid).")
    if not varies_w and not scalings and jitter is None and not allow_no_variation:
        raise CompositeIndexError(
            "Nothing to vary: give a weight concentration above 0, at least one scaling method "
            "or grid jitter.",
            hint="For example a concentration of 50 and the scalings zscore, minmax, rank.")

    def build(spec_k, what):
        try:
            return builder(df, spec_k, neighbours=neighbours, zone_area=zone_area)
        except CompositeIndexError as err:
            raise CompositeIndexError(f"The index failed {what}: {err.message}",
                                      hint=err.hint, details=err.details) from err

    base = build(spec, "with the chosen spec")
    base_score, base_rank, base_decile = _ranks_deciles(base.table)
    n = len(base_rank)
    # each scaling once, before the long loop, so an impossible choice fails early and clearly
    for s in scalings:
        trial = copy.deepcopy(spec)
        for ind in _indicators(trial):
            set_scaling(ind, s)
        what = f"with scaling '{s}' for every indicator"
        problems = _recheck(trial)
        if problems:
            raise CompositeIndexError(f"The index failed {what}: {problems[0]}",
                                      details=[str(p) for p in problems[1:]])
        build(trial, what)
    progress.report(0.02)

    area_names = [str(a) for a in area_names]
    n_areas = len(area_names)
    if n_areas:
        frame = pd.DataFrame(overlaps) if overlaps is not None else pd.DataFrame()
        if len(frame) == 0:
            raise CompositeIndexError("The areas do not overlap any zone.",
                                      hint="Check that both layers cover the same place.")
        zone = frame["zone"].to_numpy("int64")
        area = frame["area"].to_numpy("int64")
        frac = frame["fraction"].to_numpy("float64")
        pop = np.ones(n) if population is None else np.nan_to_num(
            np.asarray(population, dtype="float64"))
        a_weight = frac * pop[zone]
        area_base = _area_ranks(base_score, zone, area, a_weight, n_areas)
        area_ranks = np.zeros((runs, n_areas), dtype=np.uint16 if n_areas < 65535 else np.uint32)
        area_top = np.zeros(n_areas)
        n_top_areas = math.ceil(n_areas / 10)

    rng = np.random.default_rng(seed)
    dtype = np.uint16 if n < 65535 else np.uint32
    ranks = np.zeros((runs, n), dtype=dtype)
    top_hits = np.zeros(n)
    for k in range(runs):
        spec_k = perturb_spec(spec, rng, concentration if varies_w else None, scalings,
                              scaling_mode)
        if jitter is None:
            res = build(spec_k, f"in run {k + 1}")
            score, rank, decile = _ranks_deciles(res.table)
        else:
            score, rank, decile = _jittered_run(jitter, jitter_neighbours, rng, builder, spec_k,
                                                k)
        ranks[k] = np.nan_to_num(rank, nan=0).astype(dtype)
        top_hits += decile == 1
        if n_areas:
            ar = _area_ranks(score, zone, area, a_weight, n_areas)
            area_ranks[k] = np.nan_to_num(ar, nan=0).astype(area_ranks.dtype)
            area_top += ar <= n_top_areas
        progress.report(0.02 + 0.95 * (k + 1) / runs)

    med, p05, p95, p_top, robust = _summarise(ranks, top_hits, runs, robust_threshold)
    zones = pd.DataFrame({"base_rank": base_rank, "median_rank": med, "rank_p05": p05,
                          "rank_p95": p95, "p_top_decile": p_top, "robust_priority": robust},
                         index=df.index)
    areas = None
    if n_areas:
        amed, a05, a95, atop, arob = _summarise(area_ranks, area_top, runs, robust_threshold)
        areas = pd.DataFrame({"area_name": area_names, "base_rank": area_base,
                              "median_rank": amed, "rank_p05": a05, "rank_p95": a95,
                              "p_top_decile": atop, "robust_priority": arob})
    n_robust = int(robust.sum())
    n_base_top = int((base_decile == 1).sum())
    messages.append(f"{runs} run(s): {n_robust} zone(s) are robust priorities (in the top decile "
                    f"in at least {robust_threshold:.0%} of runs), of {n_base_top} in the top "
                    "decile with the chosen spec.")
    progress.report(1.0)
    return SensitivityResult(zones, areas, runs, messages, ranks)
