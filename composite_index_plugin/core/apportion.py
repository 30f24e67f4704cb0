"""Apportioning a count (population, households) from source polygons to zones.

Areal weighting (Goodchild and Lam 1980; Flowerdew and Green 1994): a source's value is shared
among the zones in proportion to the area of each source-zone intersection,

    zone_z = sum_s value_s * area(s & z) / area(s).

Dasymetric variant with ancillary points (e.g. address points): the share is the number (or
weight) of ancillary points of source s that fall in zone z over all of s's ancillary points;
sources holding no ancillary point fall back to area weighting (and are reported).

Totals: where the zones cover a source completely (covered share >= 1 - ``COVER_TOL``) the
source's value is divided by the covered amount itself, so it is passed on exactly; where they
cover it partly the uncovered share of its value is reported as the remainder. Overlapping zones
(covered share > 1) are normalised the same way, so nothing is counted twice, and reported.
"""
from dataclasses import dataclass, field

import numpy as np

from composite_index_plugin.core.aggregate import clean_weights
from composite_index_plugin.core.errors import CompositeIndexError

COVER_TOL = 1e-6


@dataclass
class Apportioned:
    values: np.ndarray                 # per zone
    source_total: float                # sum of valid source values
    passed_on: float                   # sum of ``values``
    uncovered: float                   # share of the source total no zone received
    covered_share: np.ndarray          # per source, 0..1 (after normalising overlaps)
    n_null_values: int = 0
    n_partly_covered: int = 0
    n_uncovered_sources: int = 0
    n_overlapping_sources: int = 0
    n_area_fallback: int = 0
    notes: list = field(default_factory=list)

    def summary(self):
        lines = [f"Source total {self.source_total:,.3f}; apportioned to zones {self.passed_on:,.3f}; "
                 f"uncovered remainder {self.uncovered:,.3f}."]
        if self.n_null_values:
            lines.append(f"{self.n_null_values} source(s) with a null or non-numeric value, taken as 0.")
        if self.n_partly_covered:
            lines.append(f"{self.n_partly_covered} source(s) only partly covered by the zones.")
        if self.n_uncovered_sources:
            lines.append(f"{self.n_uncovered_sources} source(s) not covered by any zone.")
        if self.n_overlapping_sources:
            lines.append(f"{self.n_overlapping_sources} source(s) covered more than once: the zones "
                         "overlap; each such source's value was shared without double counting.")
        if self.n_area_fallback:
            lines.append(f"{self.n_area_fallback} source(s) hold no ancillary point: area weighting used.")
        return " ".join(lines + self.notes)


def _shares(src, zone, amount, totals, n_sources):
    """Share of each piece in its source, normalised where the pieces exceed the source."""
    covered = np.bincount(src, weights=amount, minlength=n_sources)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(totals > 0, covered / totals, 0.0)
    full = frac >= 1.0 - COVER_TOL
    denom = np.where(full, covered, totals)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(denom[src] > 0, amount / denom[src], 0.0)
    return share, np.minimum(frac, 1.0), full, frac


def apportion(source_values, source_areas, piece_source, piece_zone, piece_area, n_zones,
              ancillary_source=None, ancillary_pairs=None, ancillary_weight=None):
    """Share ``source_values`` among ``n_zones`` zones.

    ``piece_*``: one entry per non-empty source-zone intersection (source row, zone row, area).
    Ancillary points (optional): ``ancillary_source`` (source row per point, -1 outside all
    sources), ``ancillary_pairs = (point_idx, zone_idx)`` (every point-zone pair with the point
    inside the zone) and ``ancillary_weight`` per point (default 1).
    """
    values, n_null = clean_weights(source_values)
    values = np.where(np.isfinite(values), values, 0.0)
    areas = np.asarray(source_areas, dtype="float64")
    n_sources = len(values)
    if len(areas) != n_sources:
        raise CompositeIndexError("Internal error: one area per source is needed.")
    src = np.asarray(piece_source, dtype=np.int64)
    zone = np.asarray(piece_zone, dtype=np.int64)
    amt = np.asarray(piece_area, dtype="float64")
    if (amt < 0).any():
        raise CompositeIndexError("Internal error: negative intersection area.")
    share, cover, full, frac = _shares(src, zone, amt, areas, n_sources)
    contrib = values[src] * share
    n_fallback = 0
    if ancillary_source is not None:
        a_src = np.asarray(ancillary_source, dtype=np.int64)
        a_w = np.ones(len(a_src)) if ancillary_weight is None else clean_weights(ancillary_weight)[0]
        a_w = np.where(np.isfinite(a_w), a_w, 0.0)
        pair_pt, pair_zone = (np.asarray(v, dtype=np.int64) for v in ancillary_pairs)
        in_src = a_src >= 0
        totals = np.bincount(a_src[in_src], weights=a_w[in_src], minlength=n_sources)
        has = totals > 0
        keep = a_src[pair_pt] >= 0
        p_src = a_src[pair_pt[keep]]
        p_zone = pair_zone[keep]
        p_w = a_w[pair_pt[keep]]
        a_share, a_cover, a_full, a_frac = _shares(p_src, p_zone, p_w, totals, n_sources)
        a_contrib = values[p_src] * a_share
        # Sources with ancillary points use them; the others keep area weighting.
        keep_area = ~has[src]
        contrib = np.concatenate([contrib[keep_area], a_contrib])
        zone = np.concatenate([zone[keep_area], p_zone])
        cover = np.where(has, a_cover, cover)
        full = np.where(has, a_full, full)
        frac = np.where(has, a_frac, frac)
        n_fallback = int((~has & (values != 0)).sum())
    zone_values = np.bincount(zone, weights=contrib, minlength=n_zones) if len(zone) else np.zeros(n_zones)
    covered_value = np.where(full, values, values * cover)
    uncovered = float((values - covered_value).sum())
    return Apportioned(
        values=zone_values,
        source_total=float(values.sum()),
        passed_on=float(zone_values.sum()),
        uncovered=uncovered,
        covered_share=np.where(full, 1.0, cover),
        n_null_values=n_null,
        n_partly_covered=int(((cover > 0) & ~full).sum()),
        n_uncovered_sources=int((cover <= 0).sum()),
        n_overlapping_sources=int((frac > 1.0 + COVER_TOL).sum()),
        n_area_fallback=n_fallback,
    )

