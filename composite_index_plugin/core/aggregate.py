"""Counting victims, offenders and locations onto zones: grid cells by arithmetic, any polygons
by vectorised point in polygon.

Every point is accounted for: the result says how many landed in a zone, how many fell outside
all zones, and (for weighted counts) how many weights were null or not numbers. The edge rule is
the half-open rule of ``core.grid`` / ``core.geometry``: a point on a shared edge is counted in
exactly one zone (the one to its east, or north for a horizontal edge).
"""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from composite_index_plugin.core import grid as grid_mod
from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.geometry import points_in_zones

ROLES = ("victims", "offenders", "locations")


@dataclass
class RoleCounts:
    """Counts of one role layer onto n zones, with what was left out and why."""

    role: str
    counts: np.ndarray
    weighted: np.ndarray = None
    n_points: int = 0
    n_outside: int = 0
    n_multi_zone: int = 0
    n_bad_weight: int = 0
    notes: list = field(default_factory=list)

    def summary(self):
        text = (f"{self.role}: {self.n_points:,} points, {int(self.counts.sum()):,} counted in zones, "
                f"{self.n_outside:,} outside all zones")
        if self.n_multi_zone:
            text += f", {self.n_multi_zone:,} in more than one (overlapping) zone, counted once per zone"
        if self.weighted is not None:
            text += f", {self.n_bad_weight:,} with a null or non-numeric weight (counted, weight 0)"
        return text


def clean_weights(values):
    """Numeric weights: float64 with NaN for null / non-numeric. Returns ``(weights, n_bad)``."""
    series = pd.Series(values, copy=False)
    if series.dtype.kind in "iufb":
        w = series.to_numpy(dtype="float64")
    else:
        w = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(w)
    return w, int(bad.sum())


def zone_index_for_grid(spec, zone_a, zone_b, x, y):
    """Zone row of each point on a grid layer (-1 outside all zones), by arithmetic binning.

    ``zone_a``, ``zone_b``: the layer's integer cell indices (row/col or q/r) per zone row.
    Raises when two zones carry the same cell indices (the grid layer was altered).
    """
    zone_keys = grid_mod.encode_keys(zone_a, zone_b)
    order = np.argsort(zone_keys, kind="stable")
    dup = np.flatnonzero(np.diff(zone_keys[order]) == 0)
    if len(dup):
        i = order[dup[0]]
        raise CompositeIndexError(
            f"The grid layer has {len(dup)} duplicated cell(s), e.g. zone row {int(i)} "
            f"({spec.index_names[0]}={int(zone_a[i])}, {spec.index_names[1]}={int(zone_b[i])}).",
            hint="Remake the grid with Create analysis grid, or remove the duplicates.")
    a, b = spec.bin(x, y)
    zone_a = np.asarray(zone_a, dtype=np.int64)
    zone_b = np.asarray(zone_b, dtype=np.int64)
    if len(zone_a):
        a0, a1 = int(zone_a.min()), int(zone_a.max())
        b0, b1 = int(zone_b.min()), int(zone_b.max())
        span = (a1 - a0 + 1) * (b1 - b0 + 1)
        if span <= 8 * len(zone_a) + 1_000_000:
            # Dense table over the zones' index box: one array lookup per point.
            width = b1 - b0 + 1
            table = np.full(span, -1, dtype=np.int64)
            table[(zone_a - a0) * width + (zone_b - b0)] = np.arange(len(zone_a))
            inside = (a >= a0) & (a <= a1) & (b >= b0) & (b <= b1)
            out = np.full(len(a), -1, dtype=np.int64)
            out[inside] = table[(a[inside] - a0) * width + (b[inside] - b0)]
            return out
    return grid_mod.lookup(order, zone_keys, grid_mod.encode_keys(a, b))


def count_points(role, n_zones, point_zone=None, pairs=None, weights=None, n_points=None):
    """Counts (and weighted sums) per zone.

    Give either ``point_zone`` (one zone row per point, -1 = outside) or ``pairs`` =
    ``(point_idx, zone_idx)`` for possibly overlapping zones (a point counted once per zone).
    ``weights``: per-point values (any dtype); null / non-numeric weights count as 0 and are
    reported in ``n_bad_weight``.
    """
    if pairs is None:
        point_zone = np.asarray(point_zone, dtype=np.int64)
        n_points = len(point_zone) if n_points is None else n_points
        inside = point_zone >= 0
        pts = np.flatnonzero(inside)
        zones = point_zone[inside]
        n_outside = int((~inside).sum())
        n_multi = 0
    else:
        pts, zones = (np.asarray(p, dtype=np.int64) for p in pairs)
        if n_points is None:
            raise CompositeIndexError("Internal error: n_points is needed with pairs.")
        hits = np.bincount(pts, minlength=n_points) if n_points else np.zeros(0, dtype=np.int64)
        n_outside = int((hits == 0).sum())
        n_multi = int((hits > 1).sum())
    counts = np.bincount(zones, minlength=n_zones).astype(np.int64)
    result = RoleCounts(role, counts, n_points=int(n_points), n_outside=n_outside, n_multi_zone=n_multi)
    if weights is not None:
        w, n_bad = clean_weights(weights)
        if len(w) != n_points:
            raise CompositeIndexError("Internal error: one weight per point is needed.")
        w = np.where(np.isfinite(w), w, 0.0)
        result.weighted = np.bincount(zones, weights=w[pts], minlength=n_zones)
        result.n_bad_weight = n_bad
    return result


def overlapping_zone_pairs(pairs_pts, pairs_zones):
    """Number of points that fell in more than one zone (a sign that the zones overlap)."""
    if len(pairs_pts) == 0:
        return 0
    return int((np.bincount(pairs_pts) > 1).sum())


def aggregate_role(role, x, y, n_zones, grid=None, grid_index=None, zone_rings=None, weights=None,
                   progress=None):
    """Count one role's points onto zones.

    Either ``grid`` (a GridSpec) with ``grid_index = (a, b)`` per zone (binning by arithmetic) or
    ``zone_rings`` (list per zone of ring arrays; point in polygon, overlaps allowed).
    """
    progress = progress or NO_PROGRESS
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if grid is not None:
        point_zone = zone_index_for_grid(grid, grid_index[0], grid_index[1], x, y)
        progress.report(1.0)
        return count_points(role, n_zones, point_zone=point_zone, weights=weights)
    if zone_rings is None:
        raise CompositeIndexError("Internal error: give a grid or zone rings.")
    pairs = points_in_zones(x, y, zone_rings, progress=progress)
    return count_points(role, n_zones, pairs=pairs, weights=weights, n_points=len(x))


def field_names(issue, role, weighted=False, kde=False):
    """Output field name(s) of a role: ``<issue>_<role>``, ``_w``, ``_kde``."""
    name = f"{issue}_{role}"
    if weighted:
        return name + "_w"
    if kde:
        return name + "_kde"
    return name


def check_issue_name(issue):
    """Issue names become field names: lowercase letters, digits and ``_``, starting with a letter."""
    import re

    if not issue or not re.fullmatch(r"[a-z][a-z0-9_]*", issue):
        raise CompositeIndexError(
            f"The issue name '{issue}' cannot be used in field names.",
            hint="Use lowercase letters, digits and _ only, starting with a letter, e.g. domestic_abuse.")
    return issue
