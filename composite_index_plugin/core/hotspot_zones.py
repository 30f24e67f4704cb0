"""Hotspot zones: connected groups of significant hot cells, found on the neighbour graph.

Cells with ``gi_bin >= min_bin`` (default 2: hot at 95 % confidence or more) are linked when
they are neighbours; each connected component becomes one zone. Components are found with a
vectorised union-find (hooking every link's larger root onto the smaller, then pointer jumping
until nothing changes; Shiloach & Vishkin 1982), so a city grid needs no Python loop per cell.
"""
import numpy as np
import pandas as pd

from composite_index_plugin.core.errors import CompositeIndexError

MIN_BIN = 2


def connected_components(neighbours, mask=None):
    """Component label per zone (0..m-1, numbered by their lowest zone index) over the links
    whose both ends are in ``mask`` (default all zones); zones outside ``mask`` get -1.
    Links are taken as undirected."""
    n = neighbours.n
    mask = np.ones(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    rows = neighbours.rows()
    cols = neighbours.indices
    keep = mask[rows] & mask[cols]
    a, b = rows[keep], cols[keep]
    parent = np.arange(n, dtype=np.int64)
    while True:
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            break
        lo = np.minimum(ra[differ], rb[differ])
        hi = np.maximum(ra[differ], rb[differ])
        np.minimum.at(parent, hi, lo)
        while True:                                   # pointer jumping to the roots
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
    labels = np.full(n, -1, dtype=np.int64)
    roots = parent[mask]
    _, dense = np.unique(roots, return_inverse=True)
    labels[mask] = dense.ravel()
    return labels


def hot_components(gi_bin, neighbours, min_bin=MIN_BIN):
    """Label per cell: the hotspot zone (0..m-1) of cells with ``gi_bin >= min_bin``, -1 for
    the others (missing bins count as not hot)."""
    bins = np.asarray(gi_bin, dtype=np.float64).ravel()
    if len(bins) != neighbours.n:
        raise CompositeIndexError(f"{len(bins)} bins for {neighbours.n} zones in the neighbour graph.")
    if not 1 <= min_bin <= 3:
        raise CompositeIndexError(f"The minimum bin must be 1, 2 or 3 (got {min_bin}).")
    hot = np.isfinite(bins) & (bins >= min_bin)
    return connected_components(neighbours, hot)


def summarise_components(labels, sums=None, area=None):
    """One row per zone: ``zone_id`` (1..m), ``n_cells``, ``area`` (sum of the cells' areas when
    given) and ``<field>`` sums of each array in ``sums`` (dict name -> per-cell values; missing
    values count as 0 and are counted in the ``n_missing_<field>`` attribute of the frame)."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    m = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    inside = labels >= 0
    lab = labels[inside]
    out = {"zone_id": np.arange(1, m + 1, dtype=np.int64),
           "n_cells": np.bincount(lab, minlength=m).astype(np.int64)}
    if area is not None:
        a = np.asarray(area, dtype=np.float64).ravel()[inside]
        out["area"] = np.bincount(lab, weights=np.nan_to_num(a), minlength=m)
    missing = {}
    for name, values in (sums or {}).items():
        v = np.asarray(values, dtype=np.float64).ravel()[inside]
        missing[name] = int(np.sum(~np.isfinite(v)))
        out[name] = np.bincount(lab, weights=np.where(np.isfinite(v), v, 0.0), minlength=m)
    frame = pd.DataFrame(out)
    frame.attrs["missing"] = missing
    return frame
