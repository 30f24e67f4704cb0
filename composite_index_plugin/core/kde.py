"""Kernel density (quartic kernel) at target points (cell centres), and the dual-kernel ratio.

Quartic (biweight) kernel with bandwidth ``h`` (the search radius, in map units), normalised so
that it integrates to 1 over the plane:

    K(d) = 3 / (pi h^2) * (1 - d^2 / h^2)^2   for d < h, else 0

The density at a target is ``sum_i w_i K(d_i)`` (points, or weights, per square map unit); we
report it per 1,000,000 square map units, i.e. per km^2 when the map units are metres. This is
the kernel of Silverman (1986, eq. 4.5) as used by CrimeStat (Levine, CrimeStat IV, ch. 10) and
by QGIS's Heatmap with the quartic shape.

Dual kernel ratio (CrimeStat's "dual KDE", ratio option): the density of one layer divided by
the density of another with the same bandwidth and targets, e.g. crime locations over
residents. It measures clustering relative to the population at risk: 1 means the incidents are
spread like the residents, above 1 more concentrated. Targets where the denominator density is
zero get no value (NaN).
"""
import math

import numpy as np

from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.ranges import ranges

PER_AREA = 1_000_000.0  # report per 1e6 square map units (per km^2 in metres)
_PAIR_CHUNK = 2_000_000


def quartic(d, h):
    """Quartic kernel value at distances ``d`` (array) for bandwidth ``h``."""
    d = np.asarray(d, dtype="float64")
    u2 = (d / h) ** 2
    return np.where(u2 < 1.0, 3.0 / (math.pi * h * h) * (1.0 - u2) ** 2, 0.0)


def kde_at(tx, ty, px, py, bandwidth, weights=None, progress=None):
    """Quartic kernel density at targets (tx, ty) from points (px, py), per ``PER_AREA``.

    Exact (every point within the bandwidth counts), vectorised: points are bucketed on a square
    grid of side ``bandwidth``; each target looks at its own and the 8 surrounding buckets, and
    the (target, point) pairs are evaluated in chunks of ``_PAIR_CHUNK``.
    """
    progress = progress or NO_PROGRESS
    h = float(bandwidth)
    if not h > 0:
        raise CompositeIndexError(f"The kernel bandwidth must be above zero (got {bandwidth}).")
    tx = np.asarray(tx, dtype="float64")
    ty = np.asarray(ty, dtype="float64")
    px = np.asarray(px, dtype="float64")
    py = np.asarray(py, dtype="float64")
    w = None if weights is None else np.asarray(weights, dtype="float64")
    if w is not None:
        w = np.where(np.isfinite(w), w, 0.0)
    out = np.zeros(len(tx))
    if len(tx) == 0 or len(px) == 0:
        return out
    ox, oy = float(px.min()), float(py.min())
    bx = np.floor((px - ox) / h).astype(np.int64)
    by = np.floor((py - oy) / h).astype(np.int64)
    nbx = int(bx.max()) + 3
    pkey = (by + 1) * nbx + (bx + 1)
    order = np.argsort(pkey, kind="stable")
    sorted_keys = pkey[order]
    sx, sy = px[order], py[order]
    sw = None if w is None else w[order]
    tbx = np.floor((tx - ox) / h).astype(np.int64) + 1
    tby = np.floor((ty - oy) / h).astype(np.int64) + 1
    # Targets far from all points have buckets out of range: they simply find nothing.
    for k, (ddx, ddy) in enumerate([(i, j) for j in (-1, 0, 1) for i in (-1, 0, 1)]):
        cbx = tbx + ddx
        cby = tby + ddy
        valid = (cbx >= 0) & (cbx < nbx) & (cby >= 0)
        key = np.where(valid, cby * nbx + cbx, -1)
        lo = np.searchsorted(sorted_keys, key, side="left")
        hi = np.searchsorted(sorted_keys, key, side="right")
        lengths = np.where(valid, hi - lo, 0)
        targets = np.flatnonzero(lengths)
        if len(targets) == 0:
            continue
        lens = lengths[targets]
        # Process targets in groups whose pair count stays under the chunk size.
        cum = np.cumsum(lens)
        start = 0
        while start < len(targets):
            base = cum[start - 1] if start else 0
            stop = int(np.searchsorted(cum, base + _PAIR_CHUNK, side="right"))
            stop = max(stop, start + 1)
            t = targets[start:stop]
            tl = lens[start:stop]
            pidx, owner = ranges(lo[t], lo[t] + tl)
            rep_t = t[owner]
            d2 = (sx[pidx] - tx[rep_t]) ** 2 + (sy[pidx] - ty[rep_t]) ** 2
            u2 = d2 / (h * h)
            kv = np.where(u2 < 1.0, (1.0 - u2) ** 2, 0.0)
            if sw is not None:
                kv = kv * sw[pidx]
            out += np.bincount(rep_t, weights=kv, minlength=len(tx))
            start = stop
        progress.report((k + 1) / 9.0)
    return out * (3.0 / (math.pi * h * h)) * PER_AREA


def kde_ratio(numerator, denominator):
    """Dual kernel ratio: numerator density / denominator density, NaN where the latter is 0."""
    num = np.asarray(numerator, dtype="float64")
    den = np.asarray(denominator, dtype="float64")
    out = np.full(len(num), np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out
