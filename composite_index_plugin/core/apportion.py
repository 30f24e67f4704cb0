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



# ---------------------------------------------------------------------------------------------
# Counts given in a table keyed by area code (census tables): parsing and joining, reported.

_PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"


@dataclass
class ParsedCounts:
    """Numbers read from a column that may hold text: what was parsed and how."""

    values: np.ndarray           # float64, NaN where empty
    n_text: int = 0              # values stored as text (parsed)
    n_separators: int = 0        # of which with thousands separators ("1,234")
    n_empty: int = 0             # empty / null values (NaN)
    empty_rows: list = field(default_factory=list)   # row labels of the empty ones (first 10)

    def summary(self, label):
        parts = []
        if self.n_text:
            parts.append(f"{self.n_text:,} {label} value(s) stored as text were read as numbers"
                         + (f" ({self.n_separators:,} with thousands separators, e.g. '1,234')"
                            if self.n_separators else ""))
        if self.n_empty:
            parts.append(f"{self.n_empty:,} {label} value(s) are empty, taken as 0 ("
                         + ", ".join(self.empty_rows) + (" ..." if self.n_empty > 10 else "") + ")")
        return "; ".join(parts) + ("." if parts else "")


def parse_counts(values, row_labels=None, label="value"):
    """Numbers from a column of numbers and/or text, never coerced silently.

    Text is stripped (spaces, non-breaking spaces); ``1234``, ``1234.5``, ``-3`` and numbers with
    comma thousands separators (``1,234``, ``12,345.5``) are read. Empty text and nulls are NaN
    (counted). Anything else (``n/a``, ``1.234,5``, ``12,34``, ``x``) and negative counts raise
    ``CompositeIndexError`` naming the rows (``row_labels``, e.g. "row 12 (E01011234)").
    """
    import pandas as pd

    s = pd.Series(values, dtype=object)
    n = len(s)
    labels = [f"row {i + 1}" for i in range(n)] if row_labels is None else list(row_labels)
    isnull = s.isna().to_numpy()
    is_text = np.array([isinstance(v, str) for v in s.tolist()], dtype=bool) if n else \
        np.zeros(0, dtype=bool)
    out = np.full(n, np.nan)
    numeric = ~isnull & ~is_text
    if numeric.any():
        num = pd.to_numeric(s[numeric], errors="coerce").to_numpy(dtype="float64")
        if (~np.isfinite(num)).any():
            bad = np.flatnonzero(numeric)[~np.isfinite(num)]
            raise CompositeIndexError(
                f"{len(bad)} {label} value(s) are not finite numbers: "
                + ", ".join(f"{labels[i]} = {s.iat[i]!r}" for i in bad[:10]) + ".",
                hint="Fix or remove those rows.")
        out[numeric] = num
    text = s[is_text].astype(str).str.replace("\u00a0", "", regex=False).str.strip()
    empty_text = (text == "").to_numpy()
    plain = text.str.match(_PLAIN_NUMBER).to_numpy()
    thousands = text.str.match(_THOUSANDS).to_numpy()
    bad = ~empty_text & ~plain & ~thousands
    if bad.any():
        idx = np.flatnonzero(is_text)[bad]
        raise CompositeIndexError(
            f"{len(idx)} {label} value(s) cannot be read as numbers: "
            + ", ".join(f"{labels[i]} = {s.iat[i]!r}" for i in idx[:10])
            + (" ..." if len(idx) > 10 else "") + ".",
            hint="Numbers may use a point for decimals and commas for thousands (1,234.5). Fix "
                 "those rows, or remove them (their areas then get no value, reported).")
    good = ~empty_text
    cleaned = text[good].str.replace(",", "", regex=False)
    out[np.flatnonzero(is_text)[good]] = pd.to_numeric(cleaned).to_numpy(dtype="float64")
    negative = np.flatnonzero(out < 0)
    if len(negative):
        raise CompositeIndexError(
            f"{len(negative)} {label} value(s) are negative, which a count cannot be: "
            + ", ".join(f"{labels[i]} = {s.iat[i]!r}" for i in negative[:10]) + ".",
            hint="Check the column: it should hold counts (population, households).")
    empty = np.flatnonzero(isnull | np.isin(np.arange(n), np.flatnonzero(is_text)[empty_text]))
    return ParsedCounts(values=out, n_text=int(good.sum()), n_separators=int(thousands.sum()),
                        n_empty=len(empty), empty_rows=[labels[i] for i in empty[:10]])


@dataclass
class CodeJoin:
    """Values of a table joined to boundaries by area code, and what did not match."""

    values: np.ndarray                                  # per boundary, NaN where no table row
    parsed: ParsedCounts = None
    n_table_rows: int = 0
    n_matched: int = 0
    table_only: list = field(default_factory=list)      # codes in the table with no boundary
    boundary_only: list = field(default_factory=list)   # boundary codes with no table row
    n_boundary_empty_code: int = 0

    def messages(self, label="value", max_codes=10):
        """Lines for the log: what was read, matched and left out."""
        def some(codes):
            return ", ".join(codes[:max_codes]) + (" ..." if len(codes) > max_codes else "")

        lines = [f"Table: {self.n_table_rows:,} row(s); {self.n_matched:,} boundary(ies) matched "
                 "by code."]
        text = self.parsed.summary(label) if self.parsed is not None else ""
        if text:
            lines.append(text[0].upper() + text[1:])
        if self.table_only:
            lines.append(f"{len(self.table_only):,} code(s) in the table have no boundary and "
                         f"are not used: {some(self.table_only)}.")
        if self.boundary_only:
            lines.append(f"{len(self.boundary_only):,} boundary(ies) have no row in the table "
                         f"and get no {label} (taken as 0): {some(self.boundary_only)}.")
        if self.n_boundary_empty_code:
            lines.append(f"{self.n_boundary_empty_code:,} boundary(ies) have an empty code and "
                         f"get no {label} (taken as 0).")
        return lines


def _codes(values):
    import pandas as pd

    s = pd.Series(values, dtype=object)
    text = s.where(s.notna(), "").astype(str).str.strip()
    # codes read as numbers by a spreadsheet (1234.0) are written back as integers
    text = text.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    return text.to_numpy(object)


def join_by_code(boundary_codes, table_codes, table_values, label="value", table_name="table",
                 boundary_name="boundaries", row_labels=None):
    """Give each boundary the value of the table row with its code.

    Codes are compared as text with spaces trimmed (so ``E01011234`` and ``" E01011234"`` match,
    and 1234 and "1234" too). Table values are read with :func:`parse_counts`. Raises
    ``CompositeIndexError`` when a code appears twice in the table or in the boundaries, or when
    nothing matches. Unmatched codes on either side are listed in the result. ``row_labels``:
    how to name the table's rows in messages (default "table row 1" ...), the code is added.
    """
    import pandas as pd

    b = _codes(boundary_codes)
    t = _codes(table_codes)
    names = row_labels if row_labels is not None else [f"table row {i + 1}" for i in range(len(t))]
    t_rows = [f"{r} ({c or 'no code'})" for r, c in zip(names, t)]
    parsed = parse_counts(table_values, t_rows, label)
    dup_t = pd.Series(t[t != ""]).duplicated(keep=False)
    if dup_t.any():
        codes = sorted(set(pd.Series(t[t != ""])[dup_t.to_numpy()]))
        raise CompositeIndexError(
            f"{len(codes)} code(s) appear more than once in the {table_name}: "
            + ", ".join(codes[:10]) + (" ..." if len(codes) > 10 else "") + ".",
            hint="Keep one row per area code (e.g. the total, not the breakdown rows).")
    dup_b = pd.Series(b[b != ""]).duplicated(keep=False)
    if dup_b.any():
        codes = sorted(set(pd.Series(b[b != ""])[dup_b.to_numpy()]))
        raise CompositeIndexError(
            f"{len(codes)} code(s) appear on more than one feature of the {boundary_name}: "
            + ", ".join(codes[:10]) + (" ..." if len(codes) > 10 else "") + ".",
            hint="Dissolve the boundaries by the code first, so each code has one polygon.")
    pos = pd.Index(t).get_indexer(b)
    pos[b == ""] = -1
    values = np.where(pos >= 0, parsed.values[np.maximum(pos, 0)], np.nan)
    matched = pos >= 0
    if len(b) and not matched.any():
        raise CompositeIndexError(
            f"No code of the {boundary_name} is in the {table_name} (e.g. boundary "
            f"{b[0]!r}, table {t[0] if len(t) else 'empty'!r}).",
            hint="Check the key fields: they must hold the same codes (e.g. LSOA11CD and "
                 "'LSOA Code').")
    used = np.zeros(len(t), dtype=bool)
    used[pos[matched]] = True
    return CodeJoin(values=values, parsed=parsed, n_table_rows=len(t), n_matched=int(matched.sum()),
                    table_only=[c for c in t[~used] if c],
                    boundary_only=[c for c in b[~matched] if c],
                    n_boundary_empty_code=int((b == "").sum()))
