"""Per-indicator measures: turn a field (a count, a weighted count or any value) into the
quantity that is then scaled.

Every function is vectorised and returns ``(values, zero_denominator)``: a float array and a
boolean mask of the zones whose denominator (population, area, total) is zero, so the caller
can flag them instead of silently zeroing them.

Sources:
- Empirical Bayes rates: Marshall, R. J. (1991) "Mapping disease and mortality rates using
  empirical Bayes estimators", Applied Statistics 40(2), 283-294 (the method-of-moments prior);
  the spatial version is the "local" EB of Anselin, Lozano-Gracia & Koschinsky (2006), "Rate
  transformations and smoothing", GeoDa Center, over each zone's neighbours and itself.
  The anchored variant (the default of the index) shrinks each neighbourhood's rate towards the
  study-area rate with Marshall's global estimator before the local step, a two-level
  (zone -> neighbourhood -> study area) use of the same formulas; see ``eb_rate_spatial``.
- Minimum denominator: rates on very small populations are unstable, which is why official
  statistics suppress or flag rates built on small numbers; adaptive spatial filters pool small
  areas until a minimum population is reached (Talbot, Kulldorff, Forand & Haley (2000),
  "Evaluation of spatial filters to create smoothed maps of health data", Statistics in
  Medicine 19, 2399-2408). Here a zone under the minimum is pooled with the study area (or,
  for the spatial EB rate, its anchored neighbourhood): see ``rate`` and ``eb_rate``.
- Gi*: Getis, A. & Ord, J. K. (1992) "The analysis of spatial association by use of distance
  statistics", Geographical Analysis 24(3); Ord & Getis (1995) Geographical Analysis 27(4)
  (the z form with binary weights and the zone inside its own neighbourhood).
"""
import numpy as np

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.vocab import EB_ANCHORS

MIN_DENOMINATOR_DEFAULT = 50
"""Default minimum denominator of per-population rates (the index's ``min_denominator``; a
location quotient defaults to 0, its denominator being a count of incidents, not people)."""
EB_ANCHOR_DEFAULT = "global"
"""Spatial EB prior (``anchor``): ``global`` shrinks each neighbourhood's rate towards the
study-area rate first; ``none`` is the classic local prior of Anselin et al. (GeoDa, esda)."""


def _csr(neighbours, n):
    """``indptr``/``indices`` of a duck-typed CSR neighbours object, checked against ``n`` zones."""
    if neighbours is None:
        raise CompositeIndexError(
            "This measure needs the zones' neighbours, but none were given.",
            hint="Give a neighbourhood (contiguity, distance band or k nearest) for the zones.")
    indptr = np.asarray(neighbours.indptr, dtype=np.int64)
    indices = np.asarray(neighbours.indices, dtype=np.int64)
    if len(indptr) != n + 1:
        raise CompositeIndexError(
            f"The neighbours describe {len(indptr) - 1} zones but the table has {n}.",
            hint="Build the neighbours from the same zone layer, in the same feature order.")
    return indptr, indices


def neighbourhood_sum(values, neighbours, include_self=True):
    """Sum of ``values`` over each zone's neighbours (CSR, self excluded), plus the zone itself
    when ``include_self``. Vectorised with ``bincount`` over the CSR rows."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    indptr, indices = _csr(neighbours, n)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    total = np.bincount(rows, weights=values[indices], minlength=n)
    if include_self:
        total = total + values
    return total


def volume(counts):
    """The count (or weighted count) as it is. Refuses nothing here; the engine checks signs."""
    values = np.asarray(counts, dtype=np.float64)
    return values.copy(), np.zeros(len(values), dtype=bool)


def small_denominator(denominator, min_denominator):
    """Zones whose denominator is positive but below ``min_denominator`` (the pooled zones)."""
    den = np.asarray(denominator, dtype=np.float64)
    if not min_denominator:
        return np.zeros(len(den), dtype=bool)
    with np.errstate(invalid="ignore"):
        return (den > 0) & (den < float(min_denominator))


def rate(counts, denominator, per=1000.0, min_denominator=0.0):
    """Crude rate ``per * count / denominator``.

    A zone whose denominator is zero (or negative) has no defined rate: it gets NaN and is
    flagged; the indicator's missing policy then decides what happens to it.

    ``min_denominator``: a zone with ``0 < denominator < min_denominator`` has too few people for
    a rate of its own (3 burglaries among 2 residents is 1,500 per 1,000). It is *pooled* with
    the study area: it gets the study-area rate ``sum O / sum D`` (over every zone with a
    positive denominator, its own count included), which is what an empirical Bayes rate gives
    in the limit of no information. Its count still counts everywhere counts are used. The
    caller flags these zones (``small_denominator``).
    """
    counts = np.asarray(counts, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    zero = den <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(zero, np.nan, per * counts / np.where(zero, 1.0, den))
    small = small_denominator(den, min_denominator)
    if small.any():
        ok = (den > 0) & ~np.isnan(counts)
        out[small & ~np.isnan(counts)] = per * counts[ok].sum() / den[ok].sum()
    return out, zero & ~np.isnan(den)


def _eb_weights(theta, sigma2, population):
    """``w = sigma2 / (sigma2 + theta / P)`` with the limits made explicit: w = 0 where
    P = 0 (no information: shrink to the prior) and where sigma2 = theta = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = sigma2 / (sigma2 + theta / population)
    w = np.where(population > 0, w, 0.0)
    return np.where(np.isfinite(w), w, 0.0)


def _marshall_variance(o, p, theta, usable):
    """Marshall's prior variance ``max(0, s2 - theta / mean(P))`` around ``theta``, with
    ``s2 = sum P (r - theta)^2 / sum P`` over the ``usable`` zones only (0 when there are none)."""
    if not usable.any():
        return 0.0
    pu, ou = p[usable], o[usable]
    s2 = float((pu * (ou / pu - theta) ** 2).sum() / pu.sum())
    return max(0.0, s2 - theta / pu.mean())


def eb_rate(counts, population, per=1000.0, min_denominator=0.0):
    """Global empirical Bayes rate (Marshall 1991, method of moments).

    ``theta = sum O / sum P``; ``s2 = sum P_i (r_i - theta)^2 / sum P``;
    ``sigma2 = max(0, s2 - theta / mean(P))``; ``w_i = sigma2 / (sigma2 + theta / P_i)``;
    ``EB_i = w_i r_i + (1 - w_i) theta``, all times ``per``.

    The prior variance is clamped at zero (Marshall's recommendation), so no rate is negative
    and with ``sigma2 = 0`` every zone gets ``theta``. (esda's ``Empirical_Bayes`` does not clamp.)

    Zero denominator: such a zone carries no information about its own rate, so it takes no part
    in fitting the prior (theta, s2 and mean(P) use zones with P > 0 only) and its estimate is
    the prior mean theta (the limit w -> 0 as P -> 0). It is flagged, never zeroed.

    ``min_denominator``: zones with ``0 < P < min_denominator`` are pooled: their count and
    population count in ``theta`` (the study-area rate) but their own rate, too noisy to say
    anything, is left out of ``s2`` and ``mean(P)`` (a few tiny zones with huge rates would
    otherwise inflate the prior variance and so the weight every small zone gets), and their
    estimate is ``theta``. Default 0: Marshall's estimator as published.
    """
    counts = np.asarray(counts, dtype=np.float64)
    pop = np.asarray(population, dtype=np.float64)
    ok = (pop > 0) & ~np.isnan(counts)
    zero = (pop <= 0)
    if not ok.any():
        raise CompositeIndexError("Empirical Bayes rate: no zone has a positive denominator.",
                                  hint="Check the denominator field (population).")
    o = np.where(ok, counts, 0.0)
    p = np.where(ok, pop, 0.0)
    theta = o.sum() / p.sum()
    small = small_denominator(pop, min_denominator)
    sigma2 = _marshall_variance(o, p, theta, ok & ~small)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(pop > 0, counts / np.where(pop > 0, pop, 1.0), theta)
    w = _eb_weights(theta, sigma2, pop)
    w[small] = 0.0
    out = per * (w * raw + (1.0 - w) * theta)
    out[np.isnan(counts) | np.isnan(pop)] = np.nan
    return out, zero & ~np.isnan(pop)


def eb_rate_spatial(counts, population, neighbours, per=1000.0, anchor=EB_ANCHOR_DEFAULT,
                    min_denominator=0.0):
    """Spatial (local) empirical Bayes rate: the global EB formulas over each zone's
    neighbourhood including the zone itself (Anselin et al. 2006; esda's
    ``Spatial_Empirical_Bayes`` computes the same, and also clamps sigma2 at zero).

    For zone i with neighbourhood N_i (neighbours + i, zones with P > 0 only), window rate
    ``R_i = sum_{N_i} O / sum_{N_i} P`` and the local prior mean ``m_i``:

    - ``anchor="none"`` (classic, as GeoDa and esda): ``m_i = R_i``. A neighbourhood without a
      single event gives exactly 0, and a neighbourhood of a few residents gives its own wild
      rate: nothing ties the local prior to the study area.
    - ``anchor="global"`` (default in the index): the neighbourhood is treated as one area and
      its rate shrunk towards the study-area rate ``theta = sum O / sum P`` with Marshall's
      global estimator over the neighbourhoods: ``s2_W = sum_i P_Wi (R_i - theta)^2 / sum P_W``,
      ``sigma2_W = max(0, s2_W - theta / mean(P_W))``, ``W_i = sigma2_W / (sigma2_W +
      theta / P_Wi)`` with ``P_Wi = sum_{N_i} P``, and ``m_i = W_i R_i + (1 - W_i) theta``.
      ``m_i`` lies between ``R_i`` and ``theta``; it is never 0 where ``theta > 0`` (an empty
      neighbourhood of ``P_W`` residents gets ``(1 - W_i) theta``), and a neighbourhood of very
      few residents stays near ``theta`` instead of borrowing one neighbour's extreme rate.

    Then, as in Anselin et al. around ``m_i``: ``s2_i = sum_{N_i} P_j (r_j - m_i)^2 / sum P_j``;
    ``sigma2_i = max(0, s2_i - m_i / mean_{N_i}(P))``;
    ``EB_i = w_i r_i + (1 - w_i) m_i`` with ``w_i = sigma2_i / (sigma2_i + m_i / P_i)``.

    Zero denominator: as in ``eb_rate``, the zone is left out of every prior and gets its local
    prior mean ``m_i`` (flagged). A neighbourhood with no positive denominator gives NaN with
    ``anchor="none"`` and ``theta`` when anchored. ``min_denominator``: zones (and, when
    anchored, neighbourhoods) with fewer people are pooled: their counts and populations count
    in every sum of O and P, but their own rates are left out of the variances, and such a zone
    gets ``m_i``.
    """
    if anchor not in EB_ANCHORS:
        raise CompositeIndexError(f"Spatial EB anchor must be one of {', '.join(EB_ANCHORS)}, "
                                  f"not {anchor!r}.")
    counts = np.asarray(counts, dtype=np.float64)
    pop = np.asarray(population, dtype=np.float64)
    n = len(counts)
    indptr, indices = _csr(neighbours, n)
    ok = (pop > 0) & ~np.isnan(counts)
    small = small_denominator(pop, min_denominator)
    usable = ok & ~small
    o = np.where(ok, counts, 0.0)
    p = np.where(ok, pop, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(ok, o / np.where(ok, p, 1.0), 0.0)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    all_rows = np.concatenate([rows, np.arange(n)])
    all_cols = np.concatenate([indices, np.arange(n)])

    def window_sum(values):
        return np.bincount(all_rows, weights=values[all_cols], minlength=n)

    sum_o = window_sum(o)
    sum_p = window_sum(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        window_rate = sum_o / sum_p
    if anchor == "global":
        if not ok.any():
            raise CompositeIndexError("Spatial empirical Bayes rate: no zone has a positive "
                                      "denominator.", hint="Check the denominator field (population).")
        theta = o.sum() / p.sum()
        has_window = sum_p > 0
        big_window = has_window & ~small_denominator(sum_p, min_denominator)
        sigma2_w = _marshall_variance(np.where(has_window, sum_o, 0.0), sum_p, theta, big_window)
        big_w = _eb_weights(theta, sigma2_w, sum_p)
        prior = np.where(has_window, big_w * np.where(has_window, window_rate, 0.0)
                         + (1.0 - big_w) * theta, theta)
    else:
        prior = window_rate
    u = usable.astype(np.float64)
    sum_pu = window_sum(p * u)
    n_u = window_sum(u)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = r[all_cols] - prior[all_rows]
        s2 = np.bincount(all_rows, weights=(p * u)[all_cols] * dev * dev, minlength=n) / sum_pu
        sigma2 = np.maximum(0.0, s2 - prior / (sum_pu / n_u))
    sigma2 = np.where(sum_pu > 0, sigma2, 0.0)
    w = _eb_weights(prior, sigma2, pop)
    w[small] = 0.0
    raw = np.where(ok, r, 0.0)
    out = per * (w * raw + (1.0 - w) * prior)
    undefined = np.isnan(counts) | np.isnan(pop)
    if anchor == "none":
        undefined |= ~(sum_p > 0)
    out[undefined] = np.nan
    return out, (pop <= 0) & ~np.isnan(pop)


def location_quotient(counts, denominator, min_denominator=0.0):
    """Location quotient ``(O_i / D_i) / (sum O / sum D)`` (sums over zones with D > 0).

    ``D`` is typically the zone's total of all incidents (or population): LQ > 1 means the
    zone has more of this issue than its share. Zero denominator: undefined, NaN and flagged.
    ``min_denominator``: a zone with ``0 < D < min_denominator`` is pooled with the study area
    and gets 1 (its share is the overall share), as ``rate`` does.
    """
    counts = np.asarray(counts, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    ok = (den > 0) & ~np.isnan(counts)
    if not ok.any() or counts[ok].sum() == 0:
        raise CompositeIndexError(
            "Location quotient: the overall share is zero (no counts on zones with a positive "
            "denominator), so the quotient is undefined.",
            hint="Use volume or rate for this indicator, or check the fields.")
    overall = counts[ok].sum() / den[ok].sum()
    values, zero = rate(counts, den, per=1.0, min_denominator=min_denominator)
    return values / overall, zero


def density(counts, zone_area_m2):
    """Density per square kilometre: ``count / (area_m2 / 1e6)``. Zero area: NaN, flagged."""
    return rate(counts, np.asarray(zone_area_m2, dtype=np.float64) / 1e6, per=1.0)


def _subset(indptr, indices, keep):
    """CSR of the zones in ``keep`` only (links to dropped zones removed, renumbered)."""
    n = len(indptr) - 1
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    rows = np.repeat(np.arange(n), np.diff(indptr))
    ok = keep[rows] & keep[indices]
    rows, cols = new_id[rows[ok]], new_id[indices[ok]]
    counts = np.bincount(rows, minlength=int(keep.sum()))
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), cols


def gi_star_z(values, neighbours):
    """Getis-Ord Gi* z-score with binary weights, each zone in its own neighbourhood.

    ``Gi*_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n W_i - W_i^2) / (n - 1)))`` with
    ``W_i = |N_i| + 1``, ``xbar = mean(x)``, ``S = sqrt(mean(x^2) - xbar^2)`` (Ord & Getis 1995),
    the same statistic as ``core.hotspots.gi_star_z``. Zones without a value (NaN: an empty field
    or a zero denominator) are left out of the statistic and get NaN, and so do zones without
    neighbours (no evidence of clustering); the indicator's missing policy then applies.
    """
    x = np.asarray(values, dtype=np.float64)
    n_all = len(x)
    indptr, indices = _csr(neighbours, n_all)
    valid = np.isfinite(x)
    out = np.full(n_all, np.nan)
    if valid.sum() < 3:
        return out
    if not valid.all():
        indptr, indices = _subset(indptr, indices, valid)
    y = x[valid]
    n = len(y)
    wsum = np.diff(indptr).astype(np.float64) + 1.0
    xbar = y.mean()
    s = np.sqrt(max((y * y).mean() - xbar * xbar, 0.0))
    if s == 0 or np.ptp(y) == 0:
        raise CompositeIndexError("Gi* clustering: every zone has the same value, so there is no "
                                  "clustering to measure.", hint="Use another measure.")
    rows = np.repeat(np.arange(n), np.diff(indptr))
    local = np.bincount(rows, weights=y[indices], minlength=n) + y
    den = s * np.sqrt(np.maximum(n * wsum - wsum * wsum, 0.0) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (local - xbar * wsum) / den
    z[(wsum == 1.0) | ~(den > 0)] = np.nan
    out[valid] = z
    return out
