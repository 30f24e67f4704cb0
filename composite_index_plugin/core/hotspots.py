"""Hotspot statistics in numpy: Getis-Ord Gi*, local Moran's I, global Moran's I, General G,
conditional permutation pseudo p-values, Benjamini-Hochberg FDR and the automatic scale.

Formulas and sources (each checked against esda 2.9.0, whose numbers the tests reproduce):

* **Gi*** (Getis & Ord 1992; Ord & Getis 1995), binary weights with the zone in its own
  neighbourhood (``w_ii = 1``)::

      Gi* = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1)))
      W_i = sum_j w_ij,  S1_i = sum_j w_ij^2,  xbar = sum x / n,  S = sqrt(sum x^2 / n - xbar^2)

  esda's ``G_Local(star=True, transform='B')`` adds a diagonal of ones to the binary matrix and
  computes ``G_i = sum_j w_ij x_j / sum x``, ``E = W_i / n``,
  ``V = W_i (n - W_i) / ((n - 1) n^2) * S^2 / xbar^2``: for binary weights ``S1_i = W_i`` and
  ``(G - E) / sqrt(V)`` is the same z as above when ``xbar > 0`` (for a negative mean esda's z
  changes sign; ours does not, so a high value is always a hot spot).
* **Local Moran's I** (Anselin 1995) with row-standardised weights and ``z = (x - xbar) / S``:
  ``I_i = (n - 1) z_i sum_j w_ij z_j / sum z^2``; moments under total randomisation
  (Sokal, Oden & Thomson 1998, eqs. A3-A4): ``E = -W_i / (n - 1)``,
  ``V = W2_i (n - b2) / (n - 1) + (W_i^2 - W2_i)(2 b2 - n) / ((n - 1)(n - 2)) - E^2`` with
  ``W2_i = sum_j w_ij^2`` and ``b2 = m4 / m2^2``; conditional moments (eqs. A7-A8) are also given.
  Quadrants as esda: 1 High-High, 2 Low-High, 3 Low-Low, 4 High-Low.
* **Global Moran's I** (Moran 1950; Cliff & Ord 1981): ``I = n / S0 * sum_ij w_ij z_i z_j /
  sum z^2``, ``E = -1 / (n - 1)``, variance under normality and under randomisation.
* **General G** (Getis & Ord 1992), binary weights without self: ``G = sum_ij w_ij x_i x_j /
  sum_{i != j} x_i x_j`` with its exact variance (moments b0..b4 of that paper).
* **Conditional permutation** (Anselin 1995): each zone keeps its own value and its ``k_i``
  neighbours are replaced by ``k_i`` values drawn without replacement from the other zones.
  As esda does, one draw of ``max k`` positions per permutation is shared by all zones (the
  positions skip the zone itself). The pseudo p-value is **two-sided, with ties counted in the
  tail being tested** (Davison & Hinkley 1997, ch. 4.2 and 4.4; Phipson & Smyth 2010 for the
  ``+ 1``): with P permutations, ``p_lower = (1 + #(sim <= obs)) / (P + 1)``,
  ``p_upper = (1 + #(sim >= obs)) / (P + 1)`` and ``p = min(1, 2 min(p_lower, p_upper))``, so
  that ``p < 0.10 / 0.05 / 0.01`` means 90 / 95 / 99 % confidence as the analytic (two-sided)
  p does. esda's ``p_sim`` (and GeoDa's) differs on two counts: it is one-tailed
  (``(min(larger, P - larger) + 1) / (P + 1)`` with ``larger = #(sim >= obs)``), so binning it at
  0.10 / 0.05 / 0.01 marks about twice the nominal share of zones under no pattern, and its lower
  tail ``P - larger = #(sim < obs)`` leaves ties out, so on sparse counts (most neighbourhood sums
  equal to the observed one) it reports the smallest possible p for zones that are not extreme
  at all. The smallest two-sided p with P permutations is ``2 / (P + 1)``.
* **Benjamini-Hochberg** (1995): reject the k smallest p with the largest k such that
  ``p_(k) <= k alpha / m``.
* **Gi_Bin** as ArcGIS Hot Spot Analysis: +-3 / +-2 / +-1 for 99 / 95 / 90 % confidence
  (p < 0.01 / 0.05 / 0.10), sign of z; with FDR the bins use Benjamini-Hochberg at those alphas.
* **Automatic scale** as ArcGIS Optimized Hot Spot Analysis: global Moran's I over increasing
  distance bands, the first peak of its z-score, else the largest significant z, else the mean
  distance to the k-th nearest neighbour with ``k = int(0.05 N)`` clamped to 3..30.

Analytic p-values here are two-sided (``2 * (1 - Phi(|z|))``), as ArcGIS reports them; esda's
``p_norm`` for local statistics is one-sided (half of ours).
"""
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.neighbours import (
    MAX_NEIGHBOURS,
    Neighbours,
    distance_band,
    knn_arrays,
    min_band_all_have_neighbour,
)
from composite_index_plugin.core.neighbours import (
    band_counts as nbmod_distance_counts,
)
from composite_index_plugin.core.ranges import ranges

MIN_ZONES = 30
"""Fewer zones than this gives unreliable hotspot statistics (a warning, not a refusal)."""

DEFAULTS = MappingProxyType({
    "neighbourhood": "queen",
    "permutations": 0,
    "seed": 12345,
    "fdr": True,
    "lisa_alpha": 0.05,
})
"""The one set of hotspot defaults, read by the toolbox algorithm, the recipe runner and
``analyse``: queen contiguity, analytic p-values (no permutations), Benjamini-Hochberg false
discovery rate on (as ArcGIS recommends for many zones; it was on in recipes and off in the
toolbox), seed 12345 for permutations (the toolbox's; recipes used 1), local Moran clusters at
5 %. Read-only."""

LISA_LABELS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
NOT_SIGNIFICANT = "Not significant"
GI_BIN_LABELS = {
    3: "Hot spot - 99% confidence", 2: "Hot spot - 95% confidence", 1: "Hot spot - 90% confidence",
    0: "Not significant",
    -1: "Cold spot - 90% confidence", -2: "Cold spot - 95% confidence",
    -3: "Cold spot - 99% confidence",
}
BIN_ALPHAS = ((3, 0.01), (2, 0.05), (1, 0.10))

# zones per chunk of the permutation engine (memory: permutations x chunk doubles, a few times)
_PERM_CHUNK = 2048

_erfc = np.frompyfunc(math.erfc, 1, 1)


# -------------------------------------------------------------------------------------------
# normal distribution and multiple testing
# -------------------------------------------------------------------------------------------
def normal_sf(z):
    """Upper tail 1 - Phi(z) of the standard normal, exact to double precision (libm erfc)."""
    z = np.asarray(z, dtype=np.float64)
    out = np.full(z.shape, np.nan)
    ok = np.isfinite(z)
    out[ok] = 0.5 * _erfc(z[ok] / math.sqrt(2.0)).astype(np.float64)
    out[np.isposinf(z)] = 0.0
    out[np.isneginf(z)] = 1.0
    return out if out.ndim else float(out)


def two_sided_p(z):
    """Two-sided normal p-value ``2 (1 - Phi(|z|))``."""
    return np.minimum(1.0, 2.0 * normal_sf(np.abs(np.asarray(z, dtype=np.float64))))


def bh_threshold(p, alpha):
    """Benjamini-Hochberg cut-off: the largest ``p_(k)`` with ``p_(k) <= k alpha / m`` (m = number
    of non-missing p), or 0.0 when nothing is rejected. Reject every p <= the cut-off."""
    p = np.asarray(p, dtype=np.float64)
    v = np.sort(p[np.isfinite(p)])
    m = len(v)
    if m == 0:
        return 0.0
    ok = np.flatnonzero(v <= alpha * np.arange(1, m + 1) / m)
    return float(v[ok[-1]]) if len(ok) else 0.0


def bh_reject(p, alpha):
    """Boolean array: which hypotheses Benjamini-Hochberg rejects at FDR ``alpha``
    (missing p are never rejected and do not count in m)."""
    p = np.asarray(p, dtype=np.float64)
    cut = bh_threshold(p, alpha)
    out = np.zeros(p.shape, dtype=bool)
    if cut > 0 or np.any(p[np.isfinite(p)] == 0):
        fin = np.isfinite(p)
        out[fin] = p[fin] <= cut
    return out


def bh_adjusted(p):
    """Benjamini-Hochberg adjusted p-values (q-values): ``min_{j>=i} p_(j) m / j``, capped at 1."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    fin = np.flatnonzero(np.isfinite(p))
    m = len(fin)
    if m == 0:
        return out
    order = fin[np.argsort(p[fin], kind="stable")]
    q = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    out[order] = np.minimum(q, 1.0)
    return out


def gi_bins(z, p, fdr=False):
    """ArcGIS Gi_Bin: +-3 / +-2 / +-1 where p < 0.01 / 0.05 / 0.10 (sign of z), else 0; with
    ``fdr`` the significance at each level is Benjamini-Hochberg at that alpha. Missing z or p
    give NaN (float array, so that it can hold the missing)."""
    z = np.asarray(z, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    out = np.zeros(z.shape)
    missing = ~(np.isfinite(z) & np.isfinite(p))
    sign = np.sign(z)
    for level, alpha in reversed(BIN_ALPHAS):   # 1 first, then overwrite with 2 and 3
        sig = bh_reject(np.where(missing, np.nan, p), alpha) if fdr else (p < alpha)
        sig &= ~missing & (sign != 0)
        out[sig] = level * sign[sig]
    out[missing] = np.nan
    return out


# -------------------------------------------------------------------------------------------
# statistics on clean data (no missing values)
# -------------------------------------------------------------------------------------------
def _clean(values, name):
    y = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(y)):
        raise CompositeIndexError(f"{name}: missing or infinite values must be excluded first.")
    return y


def gi_star_stats(values, neighbours):
    """Getis-Ord Gi* with binary weights and self included, analytic moments.

    Returns a dict of arrays: ``G`` (esda's statistic, ``sum_j w*_ij x_j / sum x``), ``EG``,
    ``VG``, ``z`` and ``p`` (two-sided). Zones without neighbours get NaN (their "neighbourhood"
    would be the zone alone: no evidence of clustering).
    """
    y = _clean(values, "Gi*")
    n = len(y)
    nb = neighbours
    ones = np.ones(nb.n_links)
    lag = nb.lag(y, ones)                  # binary: sum over neighbours
    wi = nb.counts.astype(np.float64) + 1.0    # with self
    s1 = wi                                  # binary: sum w^2 = sum w
    mean = y.mean()
    sd = math.sqrt(max((y * y).mean() - mean * mean, 0.0))
    num = lag + y - mean * wi
    with np.errstate(divide="ignore", invalid="ignore"):
        den = sd * np.sqrt((n * s1 - wi * wi) / (n - 1))
        z = num / den
        total = y.sum()
        G = (lag + y) / total
        EG = wi / n
        VG = wi * (n - wi) / (n - 1) / n ** 2 * (sd * sd) / (mean * mean)
    island = nb.counts == 0
    for arr in (z, G, EG, VG):
        arr[island] = np.nan
    return {"G": G, "EG": EG, "VG": VG, "z": z, "p": two_sided_p(z), "lag": lag}


def gi_star_z(values, neighbours, name="values"):
    """Gi* z-score (binary weights, self included) for every zone, as the index's "clustering"
    measure uses it. Missing values (NaN) are left out of the statistic and get NaN, as do zones
    without neighbours. Raises CompositeIndexError when the values do not vary."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) != neighbours.n:
        raise CompositeIndexError(
            f"{name}: {len(x)} values for {neighbours.n} zones in the neighbour graph.")
    valid = np.isfinite(x)
    out = np.full(len(x), np.nan)
    if valid.sum() < 3:
        return out
    y = x[valid]
    if np.ptp(y) == 0:
        raise CompositeIndexError(
            f"{name}: every zone has the same value ({y[0]:g}), so clustering cannot be measured.",
            hint="Choose a field that varies between zones.")
    nb = neighbours if valid.all() else neighbours.subset(valid)
    out[valid] = gi_star_stats(y, nb)["z"]
    return out


def local_moran_stats(values, neighbours):
    """Local Moran's I with row-standardised weights (Anselin 1995), analytic moments.

    Returns a dict of arrays: ``I``, ``EI``/``VI`` (total randomisation), ``EIc``/``VIc``
    (conditional randomisation), ``z`` = (I - EI) / sqrt(VI), ``p`` (two-sided), ``q``
    (quadrant 1 HH, 2 LH, 3 LL, 4 HL) and ``lag`` (row-standardised lag of z). Zones without
    neighbours get NaN (quadrant 0).
    """
    y = _clean(values, "Local Moran")
    n = len(y)
    nb = neighbours
    z = y - y.mean()
    z = z / y.std()
    wr = nb.row_standardised_weights()
    lag = nb.lag(z, wr)
    den = (z * z).sum()
    I = (n - 1) * z * lag / den
    wi = np.bincount(nb.rows(), weights=wr, minlength=n)
    wi2 = np.bincount(nb.rows(), weights=wr * wr, minlength=n)
    m2 = den / n
    m4 = (z ** 4).sum() / n
    b2 = m4 / m2 ** 2
    EI = -wi / (n - 1)
    VI = wi2 * (n - b2) / (n - 1) + (wi ** 2 - wi2) * (2 * b2 - n) / ((n - 1) * (n - 2)) - EI ** 2
    EIc = -(z ** 2 * wi) / ((n - 1) * m2)
    VIc = (z / m2) ** 2 * (n / (n - 2)) * (wi2 - wi ** 2 / (n - 1)) * (m2 - z ** 2 / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        zi = (I - EI) / np.sqrt(VI)
    zp, lp = z > 0, lag > 0
    q = np.where(zp & lp, 1, np.where(~zp & lp, 2, np.where(~zp & ~lp, 3, 4)))
    island = nb.counts == 0
    for arr in (I, EI, VI, EIc, VIc, zi):
        arr[island] = np.nan
    q[island] = 0
    return {"I": I, "EI": EI, "VI": VI, "EIc": EIc, "VIc": VIc, "z": zi, "p": two_sided_p(zi),
            "q": q, "lag": lag}


def _reverse_links(neighbours):
    """Where each link's reverse is: ``(order, pos, found)`` with ``order`` the permutation that
    sorts the links by (row, column) (None when they already are), ``pos`` the sorted position
    of the reverse of each sorted link and ``found`` whether it exists. Depends only on the
    graph's structure, so one call serves every weighting of it (``_s012``)."""
    n = neighbours.n
    rows = neighbours.rows()
    cols = neighbours.indices
    key = rows * n + cols
    order = None
    if len(key) > 1 and not np.all(key[1:] > key[:-1]):
        order = np.argsort(key, kind="stable")
        key = key[order]
    rev = cols * n + rows if order is None else (cols * n + rows)[order]
    pos = np.minimum(np.searchsorted(key, rev), max(len(key) - 1, 0))
    found = key[pos] == rev if len(key) else np.zeros(0, dtype=bool)
    return order, pos, found


def _s012(neighbours, w, reverse=None):
    """S0, S1, S2 of a weight matrix given as CSR links with weights ``w`` (Cliff & Ord 1981).
    ``reverse``: ``_reverse_links(neighbours)`` when already known."""
    n = neighbours.n
    rows = neighbours.rows()
    cols = neighbours.indices
    s0 = float(w.sum())
    # S1 = 1/2 sum_ij (w_ij + w_ji)^2: each link's reverse found by binary search on sorted keys
    order, pos, found = _reverse_links(neighbours) if reverse is None else reverse
    w_sorted = w if order is None else w[order]
    w_rev = np.where(found, w_sorted[pos] if len(w_sorted) else 0.0, 0.0)
    s1 = float((((w_sorted + w_rev) ** 2).sum() + (w_sorted[~found] ** 2).sum()) / 2.0)
    out_sum = np.bincount(rows, weights=w, minlength=n)
    in_sum = np.bincount(cols, weights=w, minlength=n)
    s2 = float(((out_sum + in_sum) ** 2).sum())
    return s0, s1, s2


def global_moran(values, neighbours, row_standardise=True, reverse=None):
    """Global Moran's I (row-standardised by default) with moments under normality and
    randomisation. Returns a dict: I, EI, VI_norm, z_norm, p_norm (two-sided),
    p_norm_one_sided, VI_rand, z_rand, p_rand (two-sided), p_rand_one_sided. ``reverse``:
    ``_reverse_links(neighbours)`` when already known."""
    y = _clean(values, "Moran's I")
    nb = neighbours
    w = nb.row_standardised_weights() if row_standardise else nb.weight_values()
    z = y - y.mean()
    s0, s1, s2 = _s012(nb, w, reverse)
    cross = (z * nb.lag(z, w)).sum()
    return _moran_result(z, s0, s1, s2, cross)


def _moran_result(z, s0, s1, s2, cross):
    """Moran's I and its moments from the centred values ``z``, the weight sums S0, S1, S2 and
    ``cross = sum_ij w_ij z_i z_j`` (Cliff & Ord 1981)."""
    n = len(z)
    z2ss = (z * z).sum()
    I = n / s0 * cross / z2ss
    EI = -1.0 / (n - 1)
    VI_norm = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n - 1) * (n + 1) * s0 * s0) - EI ** 2
    k = ((z ** 4).sum() / n) / ((z2ss / n) ** 2)
    A = n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
    B = k * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
    VI_rand = (A - B) / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - EI ** 2
    z_norm = (I - EI) / math.sqrt(VI_norm)
    z_rand = (I - EI) / math.sqrt(VI_rand) if VI_rand > 0 else float("nan")
    return {"I": float(I), "EI": EI, "VI_norm": float(VI_norm), "z_norm": float(z_norm),
            "p_norm": float(two_sided_p(z_norm)), "p_norm_one_sided": float(normal_sf(abs(z_norm))),
            "VI_rand": float(VI_rand), "z_rand": float(z_rand),
            "p_rand": float(two_sided_p(z_rand)), "p_rand_one_sided": float(normal_sf(abs(z_rand)))}


def band_moran_scan(x, y, values, bands, progress=None):
    """Global Moran's I (row-standardised, binary distance bands) for several increasing
    ``bands`` at once, equal to ``global_moran(values, distance_band(x, y, d))`` for each band.

    One sweep over the pairs within the largest band accumulates, per zone and band, the number
    of neighbours and the sum of their centred values; a second sweep sums ``1 / k_j`` over each
    zone's neighbours, which gives S1 and S2 of the row-standardised symmetric matrix:
    ``S1 = sum_i 1/k_i + sum_i (1/k_i) sum_{j in N(i)} 1/k_j`` and
    ``S2 = sum_i (1 + sum_{j in N(i)} 1/k_j)^2`` over zones with neighbours. Memory: a few
    ``n x len(bands)`` arrays plus one chunk of pairs. Returns a list of result dicts."""
    from composite_index_plugin.core.neighbours import _BAND_RTOL, iter_band_pairs

    progress = progress or NO_PROGRESS
    v = _clean(values, "Moran's I")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    bands = np.asarray(bands, dtype=np.float64)
    n, T = len(v), len(bands)
    z = v - v.mean()
    limits = (bands * (1.0 + _BAND_RTOL)) ** 2
    cnt = np.zeros(n * T)
    lag = np.zeros(n * T)
    for _, _, i, j, d2 in iter_band_pairs(x, y, float(bands.max()), progress.sub(0, 0.5)):
        key = i * T + np.searchsorted(limits, d2, side="left")
        cnt += np.bincount(key, minlength=n * T)
        lag += np.bincount(key, weights=z[j], minlength=n * T)
    cnt = np.cumsum(cnt.reshape(n, T), axis=1)
    lag = np.cumsum(lag.reshape(n, T), axis=1)
    has = cnt > 0
    inv = np.where(has, 1.0 / np.where(has, cnt, 1.0), 0.0)
    acc = np.zeros((n, T))
    step = max(1, 4_000_000 // max(T, 1))
    for _, _, i, j, d2 in iter_band_pairs(x, y, float(bands.max()), progress.sub(0.5, 1.0)):
        first = np.searchsorted(limits, d2, side="left")
        for a in range(0, len(i), step):
            ii, jj, ff = i[a:a + step], j[a:a + step], first[a:a + step]
            vals = np.where(np.arange(T)[None, :] >= ff[:, None], inv[jj], 0.0)
            for t in range(T):
                acc[:, t] += np.bincount(ii, weights=vals[:, t], minlength=n)
    out = []
    for t in range(T):
        h = has[:, t]
        s0 = float(h.sum())
        s1 = float(inv[:, t].sum() + (inv[:, t] * acc[:, t]).sum())
        s2 = float(((h + acc[:, t]) ** 2).sum())
        cross = float((z * lag[:, t] * inv[:, t]).sum())
        if s0 == 0:
            out.append({"I": float("nan"), "z_rand": float("nan"), "z_norm": float("nan")})
            continue
        res = _moran_result(z, s0, s1, s2, cross)
        res["mean_neighbours"] = float(cnt[:, t].mean())
        out.append(res)
    return out


def general_g(values, neighbours, reverse=None):
    """Getis-Ord General G with binary weights (no self), exact moments (Getis & Ord 1992).
    Defined for non-negative values. Returns a dict: G, EG, VG, z, p (two-sided),
    p_one_sided. ``reverse``: ``_reverse_links(neighbours)`` when already known."""
    y = _clean(values, "General G")
    n = len(y)
    nb = neighbours
    w = np.ones(nb.n_links)
    s0, s1, s2 = _s012(nb, w, reverse)
    G = float((y * nb.lag(y, w)).sum() / (y.sum() ** 2 - (y * y).sum()))
    EG = s0 / (n * (n - 1))
    n2 = n * n
    b0 = (n2 - 3 * n + 3) * s1 - n * s2 + 3 * s0 ** 2
    b1 = -((n2 - n) * s1 - 2 * n * s2 + 6 * s0 ** 2)
    b2 = -(2 * n * s1 - (n + 3) * s2 + 6 * s0 ** 2)
    b3 = 4 * (n - 1) * s1 - 2 * (n + 1) * s2 + 8 * s0 ** 2
    b4 = s1 - s2 + s0 ** 2
    m1, m2, m3, m4 = y.sum(), (y ** 2).sum(), (y ** 3).sum(), (y ** 4).sum()
    EG2 = (b0 * m2 ** 2 + b1 * m4 + b2 * m1 ** 2 * m2 + b3 * m1 * m3 + b4 * m1 ** 4) / (
        (m1 ** 2 - m2) ** 2 * n * (n - 1) * (n - 2) * (n - 3))
    VG = EG2 - EG ** 2
    z = (G - EG) / math.sqrt(VG) if VG > 0 else float("nan")
    return {"G": G, "EG": EG, "VG": float(VG), "z": float(z), "p": float(two_sided_p(z)),
            "p_one_sided": float(normal_sf(abs(z)))}


# -------------------------------------------------------------------------------------------
# conditional permutation
# -------------------------------------------------------------------------------------------
def _draw_distinct(rng, pool, permutations, k):
    """``(permutations, k)`` positions in 0..pool-1, distinct within each row, uniformly at
    random (duplicates are redrawn until none is left)."""
    if k == 0:
        return np.empty((permutations, 0), dtype=np.int64)
    if pool * permutations <= 20_000_000 and (k * 4 > pool or pool <= 64):
        keys = rng.random((permutations, pool))
        return np.argsort(keys, axis=1)[:, :k].astype(np.int64)
    r = rng.integers(0, pool, size=(permutations, k), dtype=np.int64)
    for _ in range(1000):
        order = np.argsort(r, axis=1, kind="stable")
        s = np.take_along_axis(r, order, axis=1)
        dup_sorted = np.zeros(r.shape, dtype=bool)
        dup_sorted[:, 1:] = s[:, 1:] == s[:, :-1]
        if not dup_sorted.any():
            return r
        rows, cols = np.nonzero(dup_sorted)
        pos = order[rows, cols]
        r[rows, pos] = rng.integers(0, pool, size=len(rows), dtype=np.int64)
    raise RuntimeError("could not draw distinct permutation positions")  # pragma: no cover


def _padded_weights(neighbours, weights, kmax):
    """(n, kmax) matrix of each zone's link weights, left-aligned, zero padded."""
    n = neighbours.n
    counts = neighbours.counts
    rows = neighbours.rows()
    col = np.arange(neighbours.n_links) - np.repeat(neighbours.indptr[:-1], counts)
    W = np.zeros((n, kmax))
    W[rows, col] = weights
    return W


def permutation_counts(values, neighbours, weights=None, permutations=999, seed=None,
                       progress=None, threads=None):
    """Conditional permutation of the neighbourhood sums ``S_i = sum_j w_ij x_j``.

    For every permutation, each zone i keeps its value and its ``k_i`` neighbours are replaced by
    values drawn without replacement from the other n - 1 zones (esda's scheme: one draw of
    ``max k`` positions per permutation shared by all zones, skipping zone i). Returns
    ``(ge, le)``: per zone, how many simulated sums are >= and <= the observed sum (with a
    relative tolerance of 1e-10, so exact ties count in both). ``permutation_p(ge, le, P)`` turns
    them into the two-sided p of any statistic that is a monotone function of ``S_i`` (Gi*;
    local Moran's I when ``z_i != 0``).

    Two engines give the same counts (tests compare them with each other and with a loop over
    zones):

    * weights equal within each zone's row and positive (binary, row-standardised: every graph
      ``analyse`` permutes) - ``_counts_by_segments``: zone i's simulated sum in permutation p
      is ``c_i`` times the sum of the first ``k_i`` drawn values, where a draw at position r
      among the others is zone ``r`` when ``r < i`` and zone ``r + 1`` otherwise. Zones between
      two consecutive drawn positions therefore share every simulated sum (at most
      ``P max k + 1`` such segments, whatever n): per segment and neighbour count the P sums are
      sorted once and each zone's counts are two binary searches. Cost about
      ``P max k (max k + log P) + n log P`` instead of ``n P max k``;
    * any other weights - ``_counts_by_blocks``: the simulated sums of a block of zones are one
      matrix product of the drawn values with the block's weights, plus a small correction for
      draws that must skip a zone inside the block.

    Deterministic for a given ``seed`` (numpy ``default_rng``), whatever ``threads`` and however
    the work is cut into batches.
    """
    progress = progress or NO_PROGRESS
    y = _clean(values, "permutation")
    n = len(y)
    nb = neighbours
    w = nb.weight_values() if weights is None else np.asarray(weights, dtype=np.float64)
    counts = nb.counts
    kmax = int(counts.max(initial=0))
    P = int(permutations)
    ge = np.zeros(n, dtype=np.int64)
    le = np.zeros(n, dtype=np.int64)
    if P <= 0 or kmax == 0 or n < 2:
        return ge, le
    rng = np.random.default_rng(seed)
    R = _draw_distinct(rng, n - 1, P, kmax)                     # positions among the others
    A = y[R]                                                    # value if i > position
    D = y[np.minimum(R + 1, n - 1)] - A                         # shift when i <= position
    observed = nb.lag(y, w)
    rows = nb.rows()
    scale = np.bincount(rows, weights=np.abs(w), minlength=n) * np.abs(y).max()
    tol = 1e-10 * np.maximum(scale, 1e-300)
    threads = threads or min(2, os.cpu_count() or 1)
    c = _row_constant(nb, w, rows)
    if c is not None and not _FORCE_BLOCKS:
        _counts_by_segments(R, A, D, counts, c, observed, tol, P, ge, le, progress, threads)
    else:
        _counts_by_blocks(y, nb, w, R, A, D, observed, tol, P, ge, le, progress, threads)
    island = counts == 0
    ge[island] = 0
    le[island] = 0
    return ge, le


# the engine for weights constant within rows can be switched off (tests compare the two)
_FORCE_BLOCKS = False
# segments of zones per batch of the segment engine (memory: batch x P x max k doubles, a few)
_SEG_BATCH = 128


def _row_constant(nb, w, rows):
    """The weight ``c_i`` shared by every link of row i when each row's weights are equal and
    positive (1 for islands), else None."""
    n = nb.n
    c = np.ones(n)
    if nb.n_links == 0:
        return c
    first = nb.indptr[:-1][nb.counts > 0]
    c[nb.counts > 0] = w[first]
    if not (np.all(c > 0) and np.array_equal(w, c[rows])):
        return None
    return c


def _run_batches(work, n_batches, progress, threads):
    """``work(b)`` for b in 0..n_batches-1, on ``threads`` threads (results are written by
    ``work`` into disjoint slices, so the order does not matter), in waves so that a cancel
    (raised by ``progress.report``) is honoured promptly."""
    done = 0
    if threads > 1 and n_batches > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for start in range(0, n_batches, threads * 2):
                wave = [pool.submit(work, b) for b in range(start, min(start + threads * 2,
                                                                       n_batches))]
                for fut in wave:
                    fut.result()
                    done += 1
                progress.report(done / n_batches)
    else:
        for b in range(n_batches):
            work(b)
            done += 1
            progress.report(done / n_batches)


def _counts_by_segments(R, A, D, counts, c, observed, tol, P, ge, le, progress, threads):
    """``ge``/``le`` filled for weights ``c_i`` constant within each row (see
    ``permutation_counts``). A zone i in the segment starting at s sees draw r shifted (zone
    r + 1) exactly when ``r >= s``: no drawn position lies in ``s .. i - 1``."""
    n = len(counts)
    kmax = R.shape[1]
    starts = np.unique(R + 1)
    starts = np.concatenate([[0], starts[starts < n]])
    bounds = np.append(starts, n)
    n_seg = len(starts)
    # each zone's simulated sums are c_i * C with C the sum of its first k_i draws: compare C
    # with the observed bounds divided by c_i
    low = (observed - tol) / c                                   # ge: #(C >= low)
    high = (observed + tol) / c                                  # le: #(C <= high)
    steps = max(int(P).bit_length(), 1)                          # 2**steps > P
    batch = max(int(_SEG_BATCH), 1)

    def work(b):
        g0, g1 = b * batch, min((b + 1) * batch, n_seg)
        z0, z1 = int(bounds[g0]), int(bounds[g1])
        k = counts[z0:z1]
        live = np.flatnonzero(k > 0)
        if not len(live):
            return
        seg = np.repeat(np.arange(g1 - g0), np.diff(bounds[g0:g1 + 1]))[live]
        key = seg * kmax + (k[live] - 1)
        pairs, which = np.unique(key, return_inverse=True)       # (segment, k) pairs in use
        shifted = R[None, :, :] >= starts[g0:g1, None, None]     # (segments, P, K)
        sums = np.cumsum(A[None, :, :] + D[None, :, :] * shifted, axis=2)
        sims = sums[pairs // kmax, :, pairs % kmax]              # (pairs, P)
        sims.sort(axis=1)
        flat = sims.ravel()
        base = which.reshape(-1) * P
        for target, strict, out in ((low[z0:z1][live], True, "ge"),
                                    (high[z0:z1][live], False, "le")):
            lo = np.zeros(len(live), dtype=np.int64)             # binary search per zone
            hi = np.full(len(live), P, dtype=np.int64)
            for _ in range(steps):
                mid = (lo + hi) >> 1
                v = flat[base + np.minimum(mid, P - 1)]
                go = (v < target) if strict else (v <= target)
                open_ = lo < hi
                lo = np.where(open_ & go, mid + 1, lo)
                hi = np.where(open_ & ~go, mid, hi)
            if out == "ge":
                ge[z0 + live] = P - lo                           # lo = #(C < low)
            else:
                le[z0 + live] = lo                               # lo = #(C <= high)

    _run_batches(work, -(-n_seg // batch), progress, threads)


def _counts_by_blocks(y, nb, w, R, A, D, observed, tol, P, ge, le, progress, threads):
    """``ge``/``le`` filled for any weights: blocks of zones, one matrix product each (see
    ``permutation_counts``)."""
    n = len(y)
    kmax = R.shape[1]
    Wpad = _padded_weights(nb, w, kmax)
    Rflat, Dflat = R.ravel(), D.ravel()
    pidx = np.repeat(np.arange(P), kmax)
    kidx = np.tile(np.arange(kmax), P)
    sort = np.argsort(Rflat, kind="stable")
    Rs = Rflat[sort]
    bounds = [(a, min(a + _PERM_CHUNK, n)) for a in range(0, n, _PERM_CHUNK)]

    def block(number):
        a, b = bounds[number]
        Wb = Wpad[a:b]                                          # (B, K)
        full = R >= (b - 1)                                     # i <= R for every i in block
        S = (A + D * full) @ Wb.T                               # (P, B)
        # draws whose position falls inside the block: zone i shifts only when i <= R
        lo, hi = np.searchsorted(Rs, [a, b - 1], side="left")
        sel = sort[lo:hi]                                       # a <= R < b - 1
        if len(sel):
            r = Rflat[sel]
            span = r - a + 1                                    # zones a..r get the shift
            i_loc, e = ranges(0, span)
            contrib = Dflat[sel][e] * Wb[i_loc, kidx[sel][e]]
            rows_e = pidx[sel][e]
            if 4 * len(e) > S.size:     # dense (few large blocks): one bincount over S
                S += np.bincount(rows_e * (b - a) + i_loc, weights=contrib,
                                 minlength=S.size).reshape(S.shape)
            else:                       # sparse (many blocks): scatter-add the few entries
                np.add.at(S, (rows_e, i_loc), contrib)
        obs = observed[a:b]
        t = tol[a:b]
        ge[a:b] = (S >= obs - t).sum(axis=0)
        le[a:b] = (S <= obs + t).sum(axis=0)

    _run_batches(block, len(bounds), progress, threads)


def tail_p(ge, le, permutations):
    """One-tailed permutation p-values ``(p_lower, p_upper)`` from the counts of simulated
    values ``le = #(sim <= obs)`` and ``ge = #(sim >= obs)``: ``(1 + count) / (P + 1)``; ties
    count as extreme in both tails."""
    P = float(permutations)
    ge = np.asarray(ge, dtype=np.float64)
    le = np.asarray(le, dtype=np.float64)
    return (le + 1.0) / (P + 1.0), (ge + 1.0) / (P + 1.0)


def permutation_p(ge, le, permutations):
    """Two-sided permutation p-value ``min(1, 2 min(p_lower, p_upper))`` (see ``tail_p``), on the
    grid ``2 (j + 1) / (P + 1)``; its smallest value is ``2 / (P + 1)``. Binned at 0.10 / 0.05 /
    0.01 it means what the analytic two-sided p means (module docstring)."""
    lower, upper = tail_p(ge, le, permutations)
    return np.minimum(1.0, 2.0 * np.minimum(lower, upper))


def smallest_p(permutations):
    """The smallest p-value a test can give: ``2 / (P + 1)`` with P permutations (two-sided),
    0.0 for the analytic test (``permutations`` = 0)."""
    P = int(permutations or 0)
    return 0.0 if P <= 0 else min(1.0, 2.0 / (P + 1.0))


# -------------------------------------------------------------------------------------------
# what significance the chosen permutations and FDR can reach
# -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reach:
    """Whether one significance level can be reached (see ``reachable_significance``).

    ``zones_needed``: how many zones must have the smallest possible p (``p_min``) before any
    zone is significant at this level (1 = a zone can be significant on its own; more than
    ``n_tested`` = impossible). ``permutations_needed``: the fewest permutations with which a
    single zone can reach it (0 for the analytic test)."""

    statistic: str
    confidence: int
    alpha: float
    permutations: int
    fdr: bool
    n_tested: int
    p_min: float
    zones_needed: int
    permutations_needed: int

    @property
    def possible(self):
        """Some zone can be significant at this level (when enough zones reach ``p_min``)."""
        return self.zones_needed <= self.n_tested

    @property
    def alone(self):
        """A single zone can be significant at this level whatever the others do."""
        return self.zones_needed <= 1


def _permutations_for(alpha, fdr, n_tested):
    """Fewest permutations P at which ``2 / (P + 1)`` passes the test: ``< alpha`` without FDR,
    ``<= alpha / n`` (Benjamini-Hochberg's first step) with it."""
    if fdr:
        ok = lambda P: 2.0 / (P + 1.0) <= alpha / max(n_tested, 1) * (1 + 1e-12)  # noqa: E731
        P = max(int(math.ceil(2.0 * max(n_tested, 1) / alpha)) - 1, 1)
    else:
        ok = lambda P: 2.0 / (P + 1.0) < alpha  # noqa: E731
        P = max(int(math.floor(2.0 / alpha)), 1)
    while P > 1 and ok(P - 1):
        P -= 1
    while not ok(P):
        P += 1
    return P


def reachable_significance(n_tested, permutations, fdr, lisa_alpha=None):
    """What the chosen test can reach, before running it: one ``Reach`` per Gi* bin (90 / 95 /
    99 %) and, with ``lisa_alpha``, one for the local Moran clusters.

    With P permutations the smallest two-sided p is ``p_min = 2 / (P + 1)``. Without FDR a level
    ``alpha`` is reachable when ``p_min < alpha``. With Benjamini-Hochberg over ``n_tested``
    zones at level ``q`` (= alpha), a zone is significant only if some k satisfies
    ``p_(k) <= k q / n``; the best case is k zones all at ``p_min``, so at least
    ``k = ceil(n p_min / q)`` zones must reach the floor (``n / ((P + 1) q)`` for a one-sided
    floor ``1 / (P + 1)``; twice that here). The analytic test has no floor (``p_min = 0``).
    """
    P = int(permutations or 0)
    n = int(n_tested)
    p_min = smallest_p(P)
    tests = [("Gi*", conf, alpha) for conf, alpha in
             ((90, 0.10), (95, 0.05), (99, 0.01))]
    if lisa_alpha is not None:
        tests.append(("local Moran", int(round(100 * (1 - lisa_alpha))), float(lisa_alpha)))
    out = []
    for stat, conf, alpha in tests:
        if P <= 0:
            need, perms = (1 if n > 0 else 0), 0
        elif fdr:
            need = max(int(math.ceil(n * p_min / alpha * (1 - 1e-12))), 1)
            perms = _permutations_for(alpha, True, n)
        else:
            need = 1 if p_min < alpha else n + 1
            perms = _permutations_for(alpha, False, n)
        out.append(Reach(stat, conf, alpha, P, bool(fdr), n, p_min, need, perms))
    return out


def tested_zones(values, neighbours):
    """How many zones get a p-value: a finite value and at least one neighbour with a value."""
    x = np.asarray(values, dtype=np.float64).ravel()
    valid = np.isfinite(x)
    nb = neighbours if valid.all() else neighbours.subset(valid)
    return int(valid.sum() - len(nb.islands))


def reach_warnings(reach):
    """Warnings (text) for the levels in ``reach`` (from ``reachable_significance``) that a
    single zone cannot reach, naming the smallest p, the zones needed and the permutations
    needed; an empty list when every level can be reached."""
    lines = []
    for stat in dict.fromkeys(r.statistic for r in reach):
        rows = [r for r in reach if r.statistic == stat and not r.alone]
        if not rows:
            continue
        r0 = rows[0]
        what = "Gi* hot and cold spots" if stat == "Gi*" else "local Moran clusters"
        head = (f"{what}: with {r0.permutations:,} permutations the smallest possible p-value is "
                f"{r0.p_min:.3g} (two-sided, 2 / ({r0.permutations:,} + 1))")
        parts, fixes = [], []
        for r in sorted(rows, key=lambda r: -r.confidence):
            if r.fdr and r.possible:
                share = 100.0 * r.zones_needed / max(r.n_tested, 1)
                parts.append(f"{r.confidence} % confidence only if at least {r.zones_needed:,} of "
                             f"the {r.n_tested:,} zones ({share:.2g} %) reach that smallest p")
            elif r.fdr:
                parts.append(f"{r.confidence} % confidence never (the smallest p is above "
                             f"{r.alpha:g})")
            else:
                parts.append(f"{r.confidence} % confidence never (p must be below {r.alpha:g})")
            fixes.append(f"{r.permutations_needed:,} for {r.confidence} %")
        fdr_text = (f"with the false discovery rate (Benjamini-Hochberg) over "
                    f"{r0.n_tested:,} zones, " if r0.fdr else "")
        lines.append(
            f"{head}; {fdr_text}a zone can reach " + "; ".join(parts) + ". A single zone needs "
            "at least " + ", ".join(fixes) + " permutations; analytic p-values "
            "(PERMUTATIONS = 0) have no such floor.")
    return lines


# -------------------------------------------------------------------------------------------
# the whole analysis
# -------------------------------------------------------------------------------------------
@dataclass
class HotspotResult:
    """Per-zone outputs (arrays of the input's length; NaN / None where not computed) and the
    global statistics, plus what the user should be told."""

    gi_z: np.ndarray
    gi_p: np.ndarray
    gi_bin: np.ndarray
    n_neighbours: np.ndarray
    lisa_i: np.ndarray
    lisa_p: np.ndarray
    lisa_cluster: np.ndarray
    moran: dict
    general_g: dict
    n_zones: int
    n_used: int
    n_null: int
    islands: np.ndarray
    permutations: int
    fdr: bool
    warnings: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    reachability: list = field(default_factory=list)

    def frame(self):
        """The output columns as a DataFrame (gi_bin and n_neighbours nullable Int64)."""
        return pd.DataFrame({
            "gi_z": self.gi_z,
            "gi_p": self.gi_p,
            "gi_bin": pd.Series(self.gi_bin).astype("Int64"),
            "n_neighbours": pd.Series(self.n_neighbours).astype("Int64"),
            "lisa_i": self.lisa_i,
            "lisa_p": self.lisa_p,
            "lisa_cluster": pd.Series(self.lisa_cluster, dtype=object),
        })

    def summary_lines(self):
        """Human-readable global results and counts for the log."""
        m, g = self.moran, self.general_g
        lines = [
            f"Zones: {self.n_zones:,}; with a value: {self.n_used:,}; excluded (no value): "
            f"{self.n_null:,}; without neighbours (islands, left empty): {len(self.islands):,}; "
            f"tested: {self.n_used - len(self.islands):,}.",
            f"Global Moran's I = {m['I']:.6f} (expected {m['EI']:.6f}), z = {m['z_norm']:.4f}, "
            f"p = {m['p_norm']:.4g} (normality); z = {m['z_rand']:.4f}, p = {m['p_rand']:.4g} "
            f"(randomisation).",
        ]
        if np.isfinite(g.get("G", np.nan)):
            lines.append(f"General G = {g['G']:.6g} (expected {g['EG']:.6g}), z = {g['z']:.4f}, "
                         f"p = {g['p']:.4g}.")
        else:
            lines.append("General G not computed: " + g.get("note", "values must be non-negative."))
        kind = f"two-sided pseudo p-values from {self.permutations:,} conditional permutations " \
            f"(ties count as extreme; smallest possible p {smallest_p(self.permutations):.3g})" \
            if self.permutations else "analytic (normal, two-sided) p-values"
        lines.append(f"Significance: {kind}" + ("; bins and clusters use Benjamini-Hochberg FDR."
                                               if self.fdr else "."))
        counts = {b: int(np.sum(self.gi_bin == b)) for b in (3, 2, 1, -1, -2, -3)}
        lines.append("Gi* bins: " + ", ".join(f"{GI_BIN_LABELS[b]}: {c:,}" for b, c in counts.items()))
        # counted by pandas (hashing, no Python loop over the zones: 6.9M cells 1.4 s -> 0.1 s),
        # in the labels' alphabetical order; islands (None) are not counted
        clusters = pd.Series(self.lisa_cluster, dtype=object).value_counts(dropna=True).sort_index()
        lines.append("LISA clusters: " + ", ".join(f"{lab}: {int(c):,}" for lab, c in clusters.items()))
        return lines


def _sample(ids, limit=10):
    ids = list(ids)
    text = ", ".join(str(i) for i in ids[:limit])
    return text + (f" ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def analyse(values, neighbours, permutations=DEFAULTS["permutations"], seed=DEFAULTS["seed"],
            fdr=DEFAULTS["fdr"], field_name="value", alpha=DEFAULTS["lisa_alpha"], progress=None,
            zone_labels=None, threads=None):
    """Gi* and local Moran's I for every zone, global Moran's I and General G.

    ``values``: one number per zone (NaN = missing: excluded and counted); ``neighbours``: the
    graph over all zones (binary); ``permutations`` > 0 replaces the analytic p by two-sided
    conditional permutation pseudo p-values (``seed`` makes them repeatable); ``fdr`` makes
    gi_bin and the LISA clusters use Benjamini-Hochberg; ``alpha`` is the LISA significance
    level. Defaults: ``DEFAULTS``. ``zone_labels`` (optional) names zones in messages (e.g.
    feature ids).

    Refuses zero variance (naming ``field_name``) and fewer than 3 usable zones; warns below
    ``MIN_ZONES``. Zones without neighbours (islands) get NaN statistics, never a fake zero:
    no z, no p, no bin, no cluster; they are counted in the warnings and the summary and do not
    count in the false discovery rate. Their values stay in the global mean and variance and in
    the permutation pool (as in esda): they are observations of the study area.
    ``result.reachability`` says which confidence levels the chosen permutations and FDR can
    reach (``reachable_significance``); callers warn with ``reach_warnings`` before running
    (``tested_zones`` gives the count).
    """
    progress = progress or NO_PROGRESS
    x = np.asarray(values, dtype=np.float64).ravel()
    N = len(x)
    if neighbours.n != N:
        raise CompositeIndexError(f"{N} values for {neighbours.n} zones in the neighbour graph.")
    labels = np.arange(N) if zone_labels is None else np.asarray(zone_labels)
    valid = np.isfinite(x)
    n_null = int(N - valid.sum())
    warnings_, messages = [], []
    if n_null:
        warnings_.append(f"{n_null:,} zone(s) have no value in '{field_name}' and were left out "
                         f"(their outputs are empty): {_sample(labels[~valid])}.")
    n = int(valid.sum())
    if n < 3:
        raise CompositeIndexError(
            f"Only {n} zone(s) have a value in '{field_name}'; hotspot statistics need many more.",
            hint=f"Use a layer with at least {MIN_ZONES} zones with values.")
    y = x[valid]
    if np.ptp(y) == 0:
        raise CompositeIndexError(
            f"Every zone has the same value ({y[0]:g}) in '{field_name}': with no variation there "
            f"are no hot or cold spots to find.",
            hint="Choose a field whose values differ between zones.")
    if n < MIN_ZONES:
        warnings_.append(f"Only {n} zones have values: with fewer than {MIN_ZONES} the results are "
                         f"unreliable.")
    nb = neighbours if n_null == 0 else neighbours.subset(valid)
    islands_local = nb.islands
    islands = np.flatnonzero(valid)[islands_local]
    if len(islands):
        warnings_.append(f"{len(islands):,} zone(s) have no neighbours; their statistics are left "
                         f"empty: {_sample(labels[islands])}.")
    if len(islands) == n:
        raise CompositeIndexError(
            "No zone has any neighbour with this neighbourhood, so nothing can be computed.",
            hint="Use a larger distance band, k nearest neighbours or contiguity.")
    reach = reachable_significance(n - len(islands), permutations, fdr, alpha)
    progress.report(0.02)
    gi = gi_star_stats(y, nb)
    lm = local_moran_stats(y, nb)
    progress.report(0.1)
    P = int(permutations or 0)
    if P > 0:
        sub = progress.sub(0.1, 0.9)
        ge_b, le_b = None, None
        if nb.is_binary:
            ge, le = permutation_counts(y, nb, None, P, seed, sub, threads)
            ge_b, le_b = ge, le
        else:
            ge_b, le_b = permutation_counts(y, nb, np.ones(nb.n_links), P, seed, sub.sub(0, 0.5),
                                            threads)
            ge, le = permutation_counts(y, nb, nb.row_standardised_weights(), P, seed,
                                        sub.sub(0.5, 1), threads)
        # Gi* increases with the neighbours' sum S_i (y_i is held fixed); local Moran's I_i
        # increases with S_i when z_i > 0 and decreases when z_i < 0: either way the two-sided
        # p of I_i is the two-sided p of S_i. When z_i = 0, I_i = 0 in every permutation: p = 1.
        gi_p = permutation_p(ge_b, le_b, P)
        lisa_p = permutation_p(ge, le, P)
        zc = y - y.mean()
        lisa_p[np.abs(zc) <= 1e-12 * max(float(np.abs(zc).max()), 1e-300)] = 1.0
        gi_p[islands_local] = np.nan
        lisa_p[islands_local] = np.nan
    else:
        gi_p = gi["p"]
        lisa_p = lm["p"]
    progress.report(0.92)
    bins = gi_bins(gi["z"], gi_p, fdr)
    sig = bh_reject(lisa_p, alpha) if fdr else (lisa_p < alpha)
    names = np.array([None] + [LISA_LABELS[q] for q in (1, 2, 3, 4)], dtype=object)
    cluster = names[lm["q"]]
    cluster[~sig] = NOT_SIGNIFICANT
    cluster[islands_local] = None

    reverse = _reverse_links(nb)              # shared by both global statistics
    moran = global_moran(y, nb, reverse=reverse)
    if np.all(y >= 0):
        gg = general_g(y, nb, reverse)
    else:
        gg = {"G": float("nan"), "EG": float("nan"), "VG": float("nan"), "z": float("nan"),
              "p": float("nan"), "p_one_sided": float("nan"),
              "note": f"'{field_name}' has negative values; General G needs non-negative values."}

    def full(arr, fill=np.nan, dtype=np.float64):
        out = np.full(N, fill, dtype=dtype)
        out[valid] = arr
        return out

    progress.report(1.0)
    return HotspotResult(
        gi_z=full(gi["z"]), gi_p=full(gi_p), gi_bin=full(bins),
        n_neighbours=full(nb.counts.astype(np.float64)),
        lisa_i=full(lm["I"]), lisa_p=full(lisa_p), lisa_cluster=full(cluster, None, object),
        moran=moran, general_g=gg, n_zones=N, n_used=n, n_null=n_null, islands=islands,
        permutations=P, fdr=bool(fdr), warnings=warnings_, messages=messages,
        reachability=reach)


# -------------------------------------------------------------------------------------------
# automatic scale (optimised hot spot analysis)
# -------------------------------------------------------------------------------------------
@dataclass
class ScaleChoice:
    distance: float
    reason: str
    table: list          # (band, I, z) per distance tried
    k: int = 0


def automatic_band(x, y, values, steps=10, max_neighbours=MAX_NEIGHBOURS, progress=None,
                   max_mean_neighbours=150):
    """The distance band for "automatic" hotspots (ArcGIS Optimized Hot Spot Analysis).

    Global Moran's I (row-standardised, z under randomisation) is computed for ``steps`` bands
    starting at the smallest band that gives every zone a neighbour and growing by the mean
    nearest-neighbour distance. The first peak of z (a band whose z is larger than both
    neighbours' and significant at 5 %) is taken; else the band with the largest significant z;
    else the mean distance to the k-th nearest neighbour, ``k = int(0.05 N)`` clamped to 3..30.
    Missing values are left out. Bands expected to give zones more than ``max_mean_neighbours``
    neighbours on average are not tried (clustering that broad is not a hotspot, and a city grid
    would need gigabytes). Returns a ScaleChoice whose ``reason`` says what was chosen and why.
    """
    progress = progress or NO_PROGRESS
    v = np.asarray(values, dtype=np.float64).ravel()
    ok = np.isfinite(v)
    x = np.asarray(x, dtype=np.float64)[ok]
    y = np.asarray(y, dtype=np.float64)[ok]
    v = v[ok]
    n = len(v)
    if n < 4:
        raise CompositeIndexError("Automatic scale needs at least 4 zones with values.")
    _, nn = knn_arrays(x, y, 1)
    start = float(nn[:, 0].max()) * (1 + 1e-9)
    step = float(nn[:, 0].mean())
    if step <= 0:
        step = start / 10 if start > 0 else 1.0
    start = max(start, step)
    stopped = ""
    # how many bands to try: stop before the mean number of neighbours passes the cap (estimated
    # from the first band, growing with the area of the band) or the per-zone guard
    first = nbmod_distance_counts(x, y, start)
    bands = [start]
    for t in range(1, steps):
        d = start + t * step
        expected = float(first.mean()) * (d / start) ** 2
        if expected > max_mean_neighbours or float(first.max()) * (d / start) ** 2 > max_neighbours:
            stopped = (f" Larger bands were not tried: they would give about {expected:.0f} "
                       f"neighbours per zone or more (limit {max_mean_neighbours} on average, "
                       f"{max_neighbours:,} for any zone).")
            break
        bands.append(d)
    table = []
    if np.ptp(v) > 0:
        for d, m in zip(bands, band_moran_scan(x, y, v, bands, progress)):
            table.append((d, m["I"], m["z_rand"]))
    zs = np.array([row[2] for row in table], dtype=np.float64)
    described = "; ".join(f"{d:.6g}: z = {z:.3f}" for d, _, z in table)
    for t in range(1, len(zs) - 1):
        if zs[t] > zs[t - 1] and zs[t] >= zs[t + 1] and zs[t] > 1.96:
            return ScaleChoice(table[t][0], (
                f"Automatic scale: global Moran's I was computed over {len(table)} distance bands "
                f"from {start:.6g} by {step:.6g} ({described}); the first peak of its z-score is at "
                f"{table[t][0]:.6g} (z = {zs[t]:.3f}), the distance at which clustering is most "
                f"pronounced, so that band is used." + stopped), table)
    if len(zs) and np.nanmax(zs) > 1.96:
        t = int(np.nanargmax(zs))
        return ScaleChoice(table[t][0], (
            f"Automatic scale: global Moran's I over {len(table)} distance bands from {start:.6g} "
            f"by {step:.6g} ({described}) shows no peak; the band with the largest z-score, "
            f"{table[t][0]:.6g} (z = {zs[t]:.3f}), is used." + stopped), table)
    k = min(max(int(0.05 * n), 3), 30, n - 1)
    _, dist = knn_arrays(x, y, k)
    d = float(dist[:, -1].mean())
    return ScaleChoice(d, (
        f"Automatic scale: global Moran's I over {len(table)} distance bands "
        f"({described or 'none could be computed'}) shows no significant clustering peak, so the "
        f"band is the mean distance to the {k}th nearest neighbour (k = 5% of {n} zones, "
        f"between 3 and 30): {d:.6g}." + stopped), table, k)


def neighbours_for_points(method, x, y, distance=None, k=8, values=None, progress=None):
    """Distance-based neighbourhoods shared by the algorithm and scripts:
    ``method`` 'distance' (``distance`` or, when None/0, the smallest band giving everyone a
    neighbour), 'knn' (``k``), 'automatic' (``automatic_band`` on ``values``).
    Returns ``(Neighbours, text for the log, distance band used or 0.0 for knn)``."""
    from composite_index_plugin.core.neighbours import knn

    if method == "knn":
        return knn(x, y, k, progress=progress), f"Neighbours: the {k} nearest zones.", 0.0
    if method == "automatic":
        choice = automatic_band(x, y, values, progress=progress.sub(0, 0.5) if progress else None)
        nb = distance_band(x, y, choice.distance, progress=progress.sub(0.5, 1) if progress else None)
        return nb, choice.reason, choice.distance
    if method == "distance":
        if not distance:
            d = min_band_all_have_neighbour(x, y)
            text = (f"Neighbours: distance band {d:.6g}, the smallest that gives every zone at "
                    f"least one neighbour (the ArcGIS default).")
        else:
            d = float(distance)
            text = f"Neighbours: distance band {d:.6g}."
        return distance_band(x, y, d, progress=progress), text, d
    raise CompositeIndexError(f"Unknown neighbourhood '{method}'.")


__all__ = ["Neighbours", "analyse", "gi_star_z", "gi_star_stats", "local_moran_stats",
           "global_moran", "general_g", "bh_reject", "bh_threshold", "bh_adjusted", "gi_bins",
           "permutation_counts", "permutation_p", "tail_p", "smallest_p", "Reach",
           "reachable_significance", "reach_warnings", "tested_zones", "DEFAULTS",
           "automatic_band", "neighbours_for_points",
           "normal_sf", "two_sided_p", "HotspotResult", "ScaleChoice"]
