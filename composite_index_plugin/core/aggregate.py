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
from composite_index_plugin.core.vocab import count_field, is_name

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


@dataclass
class CategoryCounts:
    """Counts of one role layer onto n zones for many issues at once (one column per issue),
    from a category field mapped to issues, with what was left out and why."""

    role: str
    issues: list
    counts: np.ndarray                 # (n_zones, n_issues) int64
    weighted: np.ndarray = None        # (n_zones, n_issues) float64, when weights are given
    n_points: int = 0                  # points read
    n_issue_points: np.ndarray = None  # points with each issue (in zones or not)
    n_outside: np.ndarray = None       # points with each issue outside all zones
    n_multi_zone: np.ndarray = None    # points with each issue in more than one zone
    n_bad_weight: np.ndarray = None    # points with each issue and a null/non-numeric weight
    n_no_issue: int = 0                # points whose category maps to no (selected) issue
    no_issue: dict = field(default_factory=dict)   # category -> points, for the log
    codes: np.ndarray = None           # issue index per point (-1 = none)

    def role_counts(self, k):
        """The :class:`RoleCounts` of issue ``k`` alone: what a one-issue run would give."""
        res = RoleCounts(self.role, self.counts[:, k].copy(), n_points=int(self.n_issue_points[k]),
                         n_outside=int(self.n_outside[k]), n_multi_zone=int(self.n_multi_zone[k]))
        if self.weighted is not None:
            res.weighted = self.weighted[:, k].copy()
            res.n_bad_weight = int(self.n_bad_weight[k])
        return res

    def summary(self):
        text = (f"{self.role}: {self.n_points:,} points, {len(self.issues)} issue(s), "
                f"{int(self.counts.sum()):,} counted in zones, {int(self.n_outside.sum()):,} "
                "outside all zones")
        if self.n_no_issue:
            cats = sorted(self.no_issue.items(), key=lambda kv: -kv[1])
            text += (f", {self.n_no_issue:,} with a category mapped to no issue, not counted ("
                     + ", ".join(f"{c or '(empty)'} {n:,}" for c, n in cats[:8])
                     + (" ..." if len(cats) > 8 else "") + ")")
        if int(self.n_multi_zone.sum()):
            text += (f", {int(self.n_multi_zone.sum()):,} in more than one (overlapping) zone, "
                     "counted once per zone")
        if self.weighted is not None:
            text += (f", {int(self.n_bad_weight.sum()):,} with a null or non-numeric weight "
                     "(counted, weight 0)")
        return text


def issue_codes(categories, mapping=None, issues=None):
    """Issue of every point from its category: ``(codes, issues, no_issue)``.

    ``categories``: one value per point (None/NaN = empty). ``mapping``: dict category -> issue
    (matched ignoring case and repeated spaces, as the import does), or None: the issue is the
    category written in lowercase_with_underscores (so points imported with an ``issue`` field
    map to themselves). ``issues``: the issue names to count, in output order; None = every
    issue of the mapping (in its order, so the fields are the same whatever the data) or, without
    a mapping, every issue found (sorted). ``codes``: index into ``issues`` per point, -1 for a
    category mapped to no selected issue; ``no_issue``: those categories -> number of points.
    """
    from composite_index_plugin.core.cleanse import map_categories, slug

    values = np.asarray(pd.Series(categories, dtype=object).where(
        pd.notna(pd.Series(categories, dtype=object)), ""), dtype=object)
    if mapping is None:
        codes_u, uniq = pd.factorize(values, sort=False)
        names = np.array([slug(v) for v in uniq], dtype=object)
        issue = names[codes_u] if len(codes_u) else np.empty(0, dtype=object)
    else:
        issue, _ = map_categories(values, mapping)
    if issues is None:
        if mapping is not None:
            issues = list(dict.fromkeys(mapping.values()))
        else:
            issues = sorted({i for i in pd.unique(issue) if i})
    issues = [check_issue_name(i) for i in issues]
    if len(set(issues)) != len(issues):
        dup = sorted({i for i in issues if issues.count(i) > 1})
        raise CompositeIndexError(f"Issue(s) listed twice: {', '.join(dup)}.",
                                  hint="List each issue once.")
    codes = pd.Index(issues).get_indexer(pd.Series(issue, dtype=object)) if len(issue) else \
        np.zeros(0, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    no_issue = {}
    if (codes < 0).any():
        miss = pd.Series(values[codes < 0], dtype=object).astype(str).str.strip()
        no_issue = {str(k): int(v) for k, v in miss.value_counts(sort=False).items()}
    return codes, list(issues), no_issue


def count_categories(role, n_zones, codes, issues, point_zone=None, pairs=None, weights=None,
                     n_points=None, no_issue=None):
    """Counts per zone and issue in one pass: ``bincount(zone * n_issues + issue)``.

    ``codes``: issue index per point (-1 = not counted). ``point_zone`` / ``pairs`` /
    ``weights`` as in :func:`count_points`; the column of issue k equals what
    :func:`count_points` gives for the points of issue k alone.
    """
    codes = np.asarray(codes, dtype=np.int64)
    k = len(issues)
    n_points = len(codes) if n_points is None else n_points
    if len(codes) != n_points:
        raise CompositeIndexError("Internal error: one issue code per point is needed.")
    has = codes >= 0
    n_issue_points = np.bincount(codes[has], minlength=k).astype(np.int64)
    if pairs is None:
        point_zone = np.asarray(point_zone, dtype=np.int64)
        pts = np.flatnonzero(has & (point_zone >= 0))
        zones = point_zone[pts]
        n_multi = np.zeros(k, dtype=np.int64)
        hit = np.zeros(n_points, dtype=bool)
        hit[pts] = True
    else:
        p_pts, p_zones = (np.asarray(v, dtype=np.int64) for v in pairs)
        keep = has[p_pts] if len(p_pts) else np.zeros(0, dtype=bool)
        pts, zones = p_pts[keep], p_zones[keep]
        hits = np.bincount(pts, minlength=n_points) if n_points else np.zeros(0, dtype=np.int64)
        hit = hits > 0
        n_multi = np.bincount(codes[has & (hits > 1)], minlength=k).astype(np.int64)
    n_outside = np.bincount(codes[has & ~hit], minlength=k).astype(np.int64)
    flat = zones * k + codes[pts]
    counts = np.bincount(flat, minlength=n_zones * k).astype(np.int64).reshape(n_zones, k)
    res = CategoryCounts(role, list(issues), counts, n_points=int(n_points),
                         n_issue_points=n_issue_points, n_outside=n_outside, n_multi_zone=n_multi,
                         n_no_issue=int((~has).sum()), no_issue=dict(no_issue or {}),
                         codes=codes)
    if weights is not None:
        w, _ = clean_weights(weights)
        if len(w) != n_points:
            raise CompositeIndexError("Internal error: one weight per point is needed.")
        bad = ~np.isfinite(w)
        res.n_bad_weight = np.bincount(codes[has & bad], minlength=k).astype(np.int64)
        w = np.where(bad, 0.0, w)
        res.weighted = np.bincount(flat, weights=w[pts], minlength=n_zones * k).reshape(n_zones, k)
    return res


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


field_names = count_field   # output field of a role: <issue>_<role>, _w, _kde (core.vocab)


def check_issue_name(issue):
    """Issue names become field names: lowercase letters, digits and ``_``, starting with a letter."""
    if not is_name(issue):
        raise CompositeIndexError(
            f"The issue name '{issue}' cannot be used in field names.",
            hint="Use lowercase letters, digits and _ only, starting with a letter, e.g. domestic_abuse.")
    return issue
