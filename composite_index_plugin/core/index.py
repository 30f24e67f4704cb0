"""The composite index engine: indicators -> issue -> theme -> composite.

The spec (see docs/CONTRACTS.md, "The index spec") chooses per indicator a *measure* (what
number describes the zone), a *scaling* (how it is put on a common scale), a *direction* and a
*missing-data policy*, and per level an *aggregation* and weights. ``validate_spec`` lists every
problem with its JSON path; ``build_index`` computes the index, its frozen baseline and its
diagnostics.

Output columns (one row per zone, same index as the input):
- ``<issue>_<indicator>_m`` the measured value (not for ``value`` and ``volume``, which are the
  field itself), ``<issue>_<indicator>_s``
  the scaled value, ``<issue>_<indicator>_zd`` 1 where the denominator is zero (measures with a
  denominator or an area), ``<issue>_<indicator>_pooled`` 1 where a rate was pooled because the
  denominator is below ``min_denominator`` (rates with a minimum above 0);
- ``<issue>_idx``, ``<theme>_idx`` the sub-indices; ``ci_score`` the composite;
- ``ci_rank`` (1 = highest need, ties share the better rank), ``ci_decile`` and ``ci_quintile``
  (1 = highest need, ``ceil(10 * last / N)`` as the English Indices of Deprivation, where
  ``last`` is the rank of the last zone of a tie group: tied zones share one class, see
  ``core.ranking``);
- ``top_theme`` and ``top_issue``: the largest contribution to the zone's score; empty in a
  zone without any recorded incident (``ci_no_incidents`` 1);
- ``<theme>_pct``: the theme's contribution as a percent of the sum of absolute contributions
  (the plain share whenever the contributions are all positive);
- ``ci_no_incidents``: 1 where every count indicator (volume, rates, density, location
  quotient) is 0 or empty: no incident recorded in any role. With the spec's ``no_incidents``
  "lowest" (default) these zones rank below all others, tied, in the lowest-need class. Only
  when the spec has count indicators;
- ``ci_excluded``: 1 where the zone was left out (missing data under the ``exclude`` policy).
Rank, decile and quintile are integers when no zone is excluded, else floats with NaN.
Columns come grouped by type: measured, scaled, sub-indices, ``ci_score``, theme percents, rank,
decile, quintile, zero-denominator and pooled flags, ``ci_no_incidents``, ``ci_excluded``, top
theme and top issue.

Small numbers (declared with their defaults in ``core.model``): per indicator
``min_denominator`` (rates pool zones with fewer people) and ``anchor`` (the spatial EB prior);
per spec ``z_warning`` (name zones more than this many SDs from an indicator's mean) and
``no_incidents`` (where zones without any recorded incident rank).

Missing data (per indicator ``missing``): ``exclude`` (default) leaves the zone out of the index
(all its index outputs are empty) and counts it; ``zero`` treats an empty field as 0 and an
undefined measure (zero denominator) as 0; ``mean`` puts the mean of the zones that have a value.
Zero-denominator zones are always flagged in ``<issue>_<indicator>_zd`` and counted.
"""
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from composite_index_plugin.core import measures as _measures
from composite_index_plugin.core import model
from composite_index_plugin.core import ranking as _ranking
from composite_index_plugin.core import scaling as _scaling
from composite_index_plugin.core.combine import combine, shares
from composite_index_plugin.core.diagnostics import EXTREME_COLUMNS
from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.vocab import (  # noqa: F401 - the engine's words, re-exported
    AGGREGATIONS,
    CLUSTERING_METHODS,
    COUNT_MEASURES,
    DIRECTIONS,
    INDEX_NEIGHBOURS,
    LEVELS,
    MAGNITUDE_SCALINGS,
    MEASURES,
    MISSING,
    NEEDS_DENOMINATOR,
    RESERVED_FIELDS,
    SCALINGS,
    slug,
)

BASELINE_FORMAT = "compositeindex-baseline"
BASELINE_VERSION = 1


# ----------------------------------------------------------------------------------- the spec

def _column_kinds(columns):
    """``columns`` (None, an iterable of names, a mapping name -> numeric? / dtype, or a
    DataFrame) as {name: True / False / None (unknown)}, or None."""
    if columns is None:
        return None
    if isinstance(columns, pd.DataFrame):
        columns = {c: columns[c].dtype for c in columns.columns}
    if not isinstance(columns, dict):
        return {c: None for c in columns}
    kinds = {}
    for name, kind in columns.items():
        if isinstance(kind, bool) or kind is None:
            kinds[name] = kind
        else:
            try:
                kinds[name] = np.dtype(kind).kind in "iufb"
            except TypeError:
                kinds[name] = None
    return kinds


def validate_spec(spec, columns=None) -> list:
    """Every problem of an index spec (or of a recipe's themes), as ``core.errors.Problem``.

    The one validator (``core.model``) checks the structure and the rules; ``columns``
    (optional: an iterable of the layer's field names, a mapping name -> dtype / numeric bool,
    or a DataFrame) also checks that the fields exist and are numeric. Empty = good.
    """
    parsed, problems = model.parse_spec(spec)
    kinds = _column_kinds(columns)
    if kinds is not None and isinstance(parsed, model.IndexSpec):
        problems = problems + model.check_columns(parsed, kinds)
    return problems


def as_spec(spec) -> "model.IndexSpec":
    """The typed spec of a spec or recipe dict (or an IndexSpec / Recipe); raises
    CompositeIndexError listing every problem."""
    if isinstance(spec, model.IndexSpec):
        return spec
    if isinstance(spec, model.Recipe):
        return spec.index_spec()
    parsed, problems = model.parse_spec(spec)
    if problems:
        raise CompositeIndexError(f"The index spec has {len(problems)} problem(s).",
                                  hint="Fix them and run again.",
                                  details=[str(p) for p in problems])
    return parsed


# ------------------------------------------------------------------------------------- the plan

@dataclass
class Indicator:
    theme: str
    issue: str
    name: str
    key: str            # "<issue>_<indicator>"
    path: str
    field: str
    measure: str
    scaling: str
    direction: str
    missing: str
    weight: float
    options: dict


@dataclass
class Node:
    name: str
    label: str
    path: str
    weight: float
    method: str
    children: list


def _plan(spec):
    """The spec as nested Nodes with every default filled in (from the model)."""
    spec = as_spec(spec)
    agg = spec.aggregation
    themes = []
    for ti, theme in enumerate(spec.themes):
        tpath = f"themes[{ti}]"
        issues = []
        for ii, issue in enumerate(theme.issues):
            ipath = f"{tpath}.issues[{ii}]"
            block = "indicators" if issue.given("indicators") else "roles"
            inds = [Indicator(theme.name, issue.name, key, f"{issue.name}_{key}",
                              f"{ipath}.{block}.{key}", column, m.measure, m.scaling,
                              m.direction, m.missing, float(m.weight), m.engine_options(column))
                    for key, m, column in issue.measured()]
            issues.append(Node(issue.name, issue.label or issue.name, ipath, float(issue.weight),
                               issue.aggregation or agg.issue, inds))
        themes.append(Node(theme.name, theme.label or theme.name, tpath, float(theme.weight),
                           theme.aggregation or agg.theme, issues))
    root = Node("ci", "Composite index", "", 1.0, agg.composite, themes)
    return root, float(agg.c)


def _plan_json(root, c):
    def node(n):
        if isinstance(n, Indicator):
            return {"name": n.name, "options": n.options}
        return {"name": n.name, "weight": n.weight, "method": n.method,
                "children": [node(ch) for ch in n.children]}
    return {"root": node(root), "c": c}


def spec_fingerprint(spec) -> str:
    """A short hash of what the spec computes (labels and descriptions left out, defaults filled
    in), so a baseline can only be applied to the spec it was fitted for."""
    return _fingerprint(*_plan(spec))


def _fingerprint(root, c):
    text = json.dumps(_plan_json(root, c), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def spec_fields(spec) -> list:
    """Sorted names of every field the spec reads (indicator fields and denominators)."""
    return as_spec(spec).fields_read()


def spec_needs(spec) -> tuple:
    """``(areas, neighbours)``: does any indicator need the zones' areas (density) or their
    neighbours (spatial EB rate, Gi* clustering)?"""
    return as_spec(spec).needs()


def simple_spec(fields, scaling=None, aggregation=None, direction=None) -> dict:
    """The toolbox spec for analysts without a recipe: one theme, one issue, one indicator per
    field, the same scaling for each, combined with ``aggregation``. The fields are any numeric
    fields, not counts: measure ``value``, and a zone with an empty field is left out of the
    index (``missing: exclude``). Choices left out take the model's defaults."""
    inds = {}
    for f in fields:
        key = slug(f, "f") if str(f).strip() else "field"
        base, n = key, 2
        while key in inds:
            key, n = f"{base}_{n}", n + 1
        inds[key] = {"field": f, "measure": "value", "missing": "exclude"}
        if scaling is not None:
            inds[key]["scaling"] = scaling
        if direction is not None:
            inds[key]["direction"] = direction
    spec = {"themes": [{"name": "index", "issues": [{"name": "all", "indicators": inds}]}]}
    if aggregation is not None:
        spec["aggregation"] = {"issue": aggregation}
    return spec


# ------------------------------------------------------------------------------------ the engine

@dataclass
class IndexResult:
    """What ``build_index`` returns.

    ``table``: the output columns (module docstring), same index as the input. ``baseline``: the
    fitted scaling parameters, JSON-serialisable, tagged with ``fingerprint``. ``diagnostics``:
    ``indicators`` (DataFrame, one row per indicator), ``correlation`` (DataFrame),
    ``alpha`` ({theme: Cronbach's alpha}) and ``summary`` (dict). ``messages``: what was left
    out, imputed or flagged, for the user. ``report_html()``: the plain HTML report.
    """

    table: pd.DataFrame
    baseline: dict
    diagnostics: dict
    fingerprint: str
    messages: list = field(default_factory=list)
    spec: dict = field(default_factory=dict)
    used_baseline: bool = False
    plan: object = None      # the spec as a tree of Nodes with defaults filled in

    def report_html(self, title="Composite index report"):
        from composite_index_plugin.core.diagnostics import render_html

        return render_html(self, title)


def _numeric_columns(df, wanted):
    """{name: float array} for the wanted columns; raises for text that is not a number."""
    out = {}
    for name in wanted:
        col = df[name]
        if col.dtype.kind in "iufb":
            out[name] = col.to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        converted = pd.to_numeric(col, errors="coerce")
        bad = converted.isna() & col.notna()
        if bad.any():
            first = bad.to_numpy().nonzero()[0][0]
            raise CompositeIndexError(
                f"Field '{name}' is not numeric: {int(bad.sum())} value(s) are not numbers, the "
                f"first at row {df.index[first]!r} ({col.iloc[first]!r}).",
                hint="Choose a numeric field, or fix or convert the values.")
        out[name] = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _check_baseline(baseline, fingerprint):
    if not isinstance(baseline, dict) or baseline.get("format") != BASELINE_FORMAT:
        raise CompositeIndexError("The baseline is not a Composite Index baseline file.",
                                  hint="Use the BASELINE_OUT file written by an earlier run.")
    if baseline.get("version", 0) > BASELINE_VERSION:
        raise CompositeIndexError(
            f"The baseline was written by a newer version (format {baseline.get('version')}).",
            hint="Update the plugin, or fit a new baseline.")
    if baseline.get("spec_fingerprint") != fingerprint:
        raise CompositeIndexError(
            f"The baseline was fitted for another index spec (fingerprint "
            f"{baseline.get('spec_fingerprint')}, this spec {fingerprint}): its scales would not "
            "match these indicators.",
            hint="Use the baseline written by a run of this same spec (same indicators, "
                 "measures, scalings and weights), or run without a baseline to fit a new one.")


def _measure(ind, cols, n, zone_area, neighbours):
    """Measured value of one indicator, its zero-denominator mask, its empty-field mask, its
    label and its pooled (small-denominator) mask."""
    o = ind.options
    raw = cols[ind.field].copy()
    empty = np.isnan(raw)
    if o.get("denominator"):
        empty = empty | np.isnan(cols[o["denominator"]])
    if ind.missing == "zero":
        raw[np.isnan(raw)] = 0.0
    label = f"{ind.theme} / {ind.issue} / {ind.name} (field '{ind.field}')"
    measure = ind.measure
    counts_like = measure in COUNT_MEASURES or (
        measure == "clustering" and o["clustering"] == "gi_star" and bool(o.get("denominator")))
    if counts_like:
        neg = raw < 0
        if neg.any():
            first = int(np.flatnonzero(neg)[0])
            raise CompositeIndexError(
                f"Indicator {label}: {int(neg.sum())} zone(s) have a negative count (first at row "
                f"{first}: {raw[first]:g}); measure '{measure}' needs counts >= 0.",
                hint="Fix the counts, or use measure 'value' for a field that can be negative.")
    den = None
    if o.get("denominator"):
        den = cols[o["denominator"]]
        neg = den < 0
        if neg.any():
            first = int(np.flatnonzero(neg)[0])
            raise CompositeIndexError(
                f"Indicator {label}: the denominator '{o['denominator']}' is negative in "
                f"{int(neg.sum())} zone(s) (first at row {first}: {den[first]:g}).",
                hint="A denominator (population, total) must be >= 0.")
    zero = np.zeros(n, dtype=bool)
    min_den = float(o.get("min_denominator", 0) or 0)
    pooled = np.zeros(n, dtype=bool)
    if den is not None and min_den > 0 and not (measure == "clustering" and o["clustering"] == "field"):
        pooled = _measures.small_denominator(den, min_den) & ~np.isnan(raw)
    if measure in ("value", "volume") or (measure == "clustering" and o["clustering"] == "field"):
        values = raw.copy()
    elif measure == "rate":
        values, zero = _measures.rate(raw, den, o["per"], min_den)
    elif measure == "eb_rate":
        values, zero = _measures.eb_rate(raw, den, o["per"], min_den)
    elif measure == "eb_rate_spatial":
        if neighbours is None:
            raise CompositeIndexError(
                f"Indicator {label}: the spatial empirical Bayes rate needs the zones' neighbours.",
                hint="Give a neighbourhood (spec 'neighbours'), or use eb_rate.")
        values, zero = _measures.eb_rate_spatial(raw, den, neighbours, o["per"],
                                                 o["anchor"], min_den)
    elif measure == "location_quotient":
        values, zero = _measures.location_quotient(raw, den, min_den)
    elif measure == "density":
        if zone_area is None:
            raise CompositeIndexError(f"Indicator {label}: density needs the zones' areas.",
                                      hint="Run on a polygon layer (areas are taken from it).")
        values, zero = _measures.density(raw, np.asarray(zone_area, dtype=np.float64))
    elif measure == "clustering":
        if neighbours is None:
            raise CompositeIndexError(
                f"Indicator {label}: Gi* clustering needs the zones' neighbours.",
                hint="Give a neighbourhood (spec 'neighbours'), or use clustering 'field'.")
        base = raw
        if den is not None:
            base, zero = _measures.rate(raw, den, o["per"], min_den)
        values = _measures.gi_star_z(base, neighbours)
    else:  # validated earlier
        raise CompositeIndexError(f"Indicator {label}: unknown measure '{measure}'.")
    return values, zero, empty, label, pooled


def _class_messages(ci, rank, decile, floor, no_incidents, included, rule):
    """What the ties and the no-incident rule did to the ranks and classes, in words."""
    out = []
    n_in = len(ci)
    if no_incidents is not None:
        k = int(no_incidents[included].sum())
        if k and rule == "lowest":
            r = int(rank[floor][0])
            d = int(decile[floor][0])
            out.append(f"{k:,} of {n_in:,} zone(s) ({100.0 * k / n_in:.0f} %) have no recorded "
                       f"incident in any count indicator: ranked below every zone with one "
                       f"(tied at rank {r:,}) and all in decile {d} (no_incidents 'lowest'); "
                       "flagged in ci_no_incidents.")
        elif k:
            out.append(f"{k:,} of {n_in:,} zone(s) have no recorded incident in any count "
                       "indicator; they are ranked by their score (no_incidents 'score'), "
                       "flagged in ci_no_incidents.")
    values, sizes = np.unique(ci if floor is None else np.where(floor, -np.inf, ci),
                              return_counts=True)
    big = int(sizes.max()) if sizes.size else 0
    if big > max(1, n_in // 100):
        where = int(np.argmax(sizes))
        d = int(decile[(ci if floor is None else np.where(floor, -np.inf, ci)) == values[where]][0])
        present = _deciles_present(decile)
        out.append(f"Ties: {big:,} zone(s) ({100.0 * big / n_in:.0f} %) share one place in the "
                   f"ranking; tied zones share the class of the last of them (decile {d}). Deciles "
                   f"present: {', '.join(map(str, present))}.")
    return out


# pandas 1.x/2.x copy every block in concat unless told not to; pandas 3 never copies (and
# deprecates the keyword).
_NO_COPY = {"copy": False} if int(pd.__version__.split(".")[0]) < 3 else {}


_POOLED_HOW = {
    "rate": "they take the study-area rate",
    "clustering": "they take the study-area rate",
    "eb_rate": "they take the prior mean (the study-area rate) and are left out of the prior "
               "variance",
    "eb_rate_spatial": "they take their neighbourhood's prior mean and are left out of the "
                       "local variances",
    "location_quotient": "their quotient is 1 (the study-area share)",
}


def _counts_like(ind):
    return ind.measure in COUNT_MEASURES or (
        ind.measure == "clustering" and ind.options.get("clustering") == "gi_star"
        and bool(ind.options.get("denominator")))


def _z_reference(ind, base_params):
    """The (mean, SD) the index's own z-scores of ``ind`` use when they are not this period's:
    a frozen baseline's for ``zscore``, the spec's for ``zscore_fixed``; else None (the values'
    own mean and SD). The extreme-zone check then counts on the scale the index uses: with a
    baseline from July 2016, West Yorkshire's robbery in July 2017 was "z = 49.1" by the month's
    own mean but 56.4 in the index's scaled field."""
    try:
        if ind.scaling == "zscore" and base_params is not None:
            return float(base_params["mean"]), float(base_params["sd"])
        if ind.scaling == "zscore_fixed":
            return float(ind.options["mean"]), float(ind.options["sd"])
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _extremes(ind, label, values, included, bound, cols, zone_ids, reference=None):
    """Zones in the index whose measured value lies more than ``bound`` SDs from the mean, as a
    table for the diagnostics (``EXTREME_COLUMNS``, largest |z| first, None when there are
    none), and the largest |z|. ``zone_ids``: an object array of the zones' names, or None
    (the names are put in later by ``_name_zones``). ``reference``: the (mean, SD) to measure
    from (``_z_reference``), else the values' own. No z of every zone is kept, and the table
    is built column by column (6.9 million cells, 1,830 of them that far out: 0.19 s -> 0.11 s
    an indicator)."""
    v = values[included]
    n_finite = int(np.count_nonzero(np.isfinite(v)))
    if bound <= 0 or n_finite < 2:
        return None, float("nan")
    if reference is not None:
        mean, sd = reference
    else:
        w = v if n_finite == len(v) else v[np.isfinite(v)]
        mean, sd = w.mean(), w.std()
    if not sd > 0:
        return None, 0.0
    # The largest |z| from the extremes (division and rounding keep the order, so it is the
    # same number as the largest of every |z|); the zones beyond the bound are looked for among
    # those just inside it too, then their z computed as before.
    max_z = float(max(np.nanmax(v) - mean, mean - np.nanmin(v)) / sd)
    if ind.scaling not in MAGNITUDE_SCALINGS:
        return None, max_z
    reach = bound * sd * (1 - 1e-9)
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero((v > mean + reach) | (v < mean - reach))
    z = (v[near] - mean) / sd
    keep = np.abs(z) > bound
    near, z = near[keep], z[keep]
    if not len(near):
        return None, max_z
    order = np.argsort(-np.abs(z), kind="stable")
    hit, z = np.flatnonzero(included)[near[order]], z[order]
    den_name = ind.options.get("denominator")
    rows = pd.DataFrame({
        "indicator": ind.key, "label": label,
        "zone": None if zone_ids is None else zone_ids[hit].tolist(), "row": hit.astype(np.int64),
        "z": z, "measured": np.asarray(values, dtype="float64")[hit],
        "count": np.asarray(cols[ind.field], dtype="float64")[hit],
        "denominator": np.asarray(cols[den_name], dtype="float64")[hit] if den_name
        else np.full(len(hit), np.nan)}, columns=EXTREME_COLUMNS)
    return rows, max_z


def _deciles_present(decile):
    """The distinct deciles, in order, as Python integers (a set of millions of floats made
    one by one took 1.6 s)."""
    return [int(d) for d in np.unique(np.asarray(decile))]


def _name_zones(tables, names):
    """Put the zone names in the ``zone`` column of the far-out-zone ``tables`` by one call of
    ``names`` (row positions, ascending and distinct -> their names, in that order) for the
    rows of all of them."""
    if not tables:
        return
    rows = np.unique(np.concatenate([t["row"].to_numpy(dtype=np.int64) for t in tables]))
    got = list(names(rows))
    if len(got) != len(rows):
        raise CompositeIndexError(f"zone_ids gave {len(got)} names for {len(rows)} zones.")
    for table in tables:
        table["zone"] = [got[k] for k in np.searchsorted(rows, table["row"].to_numpy()).tolist()]


def _extreme_message(ind, label, rows, bound, n_pooled, whose="the"):
    top = rows.iloc[0]
    zones = ", ".join(str(z) for z in rows["zone"].iloc[:5]) + (", ..." if len(rows) > 5 else "")
    detail = f"largest z = {top['z']:.1f} in zone {top['zone']}: field value {top['count']:g}"
    if ind.options.get("denominator"):
        detail += f", {ind.options['denominator']} {top['denominator']:.4g}"
    why = (f"a few zones this far out dominate the {ind.scaling} scale of the indicator and can "
           "carry the composite on their own")
    if ind.options.get("denominator"):
        why += "; small denominators are the usual cause: raise min_denominator (now " \
               f"{ind.options.get('min_denominator', 0):g})"
        if ind.measure == "rate":
            why += ", use eb_rate"
        if ind.name == "locations":
            why += "; incidents happen where people go, not only where they live, so for " \
                   "locations volume or density usually describes demand better than a rate " \
                   "per resident"
    else:
        why += "; consider a rank-based scaling (percentile, rank, exponential)"
    return (f"{label}: {len(rows)} zone(s) lie more than {bound:g} standard deviations from "
            f"{whose} mean ({zones}); {detail}. Why it matters: {why}.")


def _argmax_rows(rows):
    """``np.argmax(np.vstack(rows), axis=0)`` with one row in memory at a time: the first
    largest, and the first NaN where a column has one (as ``argmax``)."""
    best = best_at = None
    for k, row in enumerate(rows):
        if best is None:
            best, best_at = row.copy(), np.zeros(len(row), dtype=np.int64)
            continue
        take = (row > best) | (np.isnan(row) & ~np.isnan(best))
        best[take] = row[take]
        best_at[take] = k
    return best_at


def build_index(df: pd.DataFrame, spec, baseline: dict = None, neighbours=None, zone_area=None,
                progress=None, zone_ids=None) -> "IndexResult":
    """Compute the composite index of ``spec`` over the zones of ``df``.

    ``spec``: an index spec or recipe (dict: parsed and checked here, with the fields of
    ``df``), or a ``core.model.IndexSpec`` / ``Recipe`` already checked by the caller.

    ``baseline``: a dict written by an earlier run (``IndexResult.baseline``) to scale on that
    run's parameters. ``neighbours``: CSR (``.indptr``, ``.indices``; self excluded), for
    ``eb_rate_spatial`` and Gi* clustering. ``zone_area``: m^2 per zone, for ``density``.
    ``zone_ids``: names of the zones for messages and diagnostics (default: the frame's index),
    or a function giving the names of the zones at some row positions (an ascending int64
    array) in that order, called once for the few zones named: a caller reading a layer of
    millions of zones then need not read every zone's name.
    Raises CompositeIndexError naming the spec path, field or row for anything wrong.

    Small numbers (issue 14): rates pool zones under ``min_denominator``; zones whose measured
    value is more than ``z_warning`` SDs from the mean are named in the messages and in
    ``diagnostics["extreme"]``; with ``no_incidents`` "lowest" (default) zones without any
    recorded incident rank below all others (``core.ranking``).
    """
    progress = progress or NO_PROGRESS
    if isinstance(spec, (model.IndexSpec, model.Recipe)):
        spec, problems = as_spec(spec), []   # parsed (and checked) by the caller
    else:
        spec, problems = model.parse_spec(spec)
    if isinstance(spec, model.IndexSpec):
        kinds = {c: None for c in df.columns}
        for c in spec.fields_read():
            if c not in kinds:
                continue
            if df[c].dtype.kind in "iufb":
                kinds[c] = True
            else:  # text columns holding numbers (or nothing) are fine
                conv = pd.to_numeric(df[c], errors="coerce")
                kinds[c] = bool((conv.notna() | df[c].isna()).all())
        problems = problems + model.check_columns(spec, kinds)
    if problems:
        raise CompositeIndexError(
            f"The index spec has {len(problems)} problem(s).",
            hint="Fix them and run again.", details=[str(p) for p in problems])
    root, c = _plan(spec)
    fingerprint = _fingerprint(root, c)
    if baseline is not None:
        _check_baseline(baseline, fingerprint)
    n = len(df)
    if n == 0:
        raise CompositeIndexError("The zone layer has no features.", hint="Choose a layer with zones.")
    indicators = [ind for th in root.children for iss in th.children for ind in iss.children]
    wanted = sorted({ind.field for ind in indicators} |
                    {ind.options["denominator"] for ind in indicators if ind.options.get("denominator")})
    cols = _numeric_columns(df, wanted)
    if zone_area is not None and len(zone_area) != n:
        raise CompositeIndexError(f"zone_area has {len(zone_area)} values for {n} zones.")

    name_later = zone_ids if callable(zone_ids) else None
    zone_ids = None if name_later else \
        np.asarray(df.index if zone_ids is None else zone_ids, dtype=object)
    if zone_ids is not None and len(zone_ids) != n:
        raise CompositeIndexError(f"zone_ids has {len(zone_ids)} values for {n} zones.")
    z_bound = float(spec.z_warning)
    no_incidents_rule = spec.no_incidents
    measured_out, flags_out = {}, {}
    messages = []
    pooled_groups = {}
    measured = {}
    counts = {}
    excluded = np.zeros(n, dtype=bool)
    steps = len(indicators) + 4
    for k, ind in enumerate(indicators):
        values, zero, empty, label, pooled = _measure(ind, cols, n, zone_area, neighbours)
        undefined = np.isnan(values)
        info = {"empty": int(empty.sum()), "zero_denominator": int(zero.sum()),
                "imputed": 0, "excluded": 0, "pooled": int(pooled.sum()), "extreme": 0,
                "max_abs_z": float("nan")}
        if undefined.any():
            if ind.missing == "exclude":
                info["excluded"] = int(undefined.sum())
                excluded |= undefined
            elif ind.missing == "zero":
                info["imputed"] = int(undefined.sum())
                values = np.where(undefined, 0.0, values)
            else:
                if undefined.all():
                    raise CompositeIndexError(f"Indicator {label}: no zone has a value, so the mean "
                                              "cannot be imputed.", hint="Check the field.")
                info["imputed"] = int(undefined.sum())
                values = np.where(undefined, values[~undefined].mean(), values)
        if info["empty"] and ind.missing == "zero":
            info["imputed"] += info["empty"] - int((empty & undefined).sum())
        if info["empty"] or info["zero_denominator"]:
            text = f"{label}: {info['empty']} empty value(s), {info['zero_denominator']} zero " \
                   "denominator(s)"
            if ind.measure in ("eb_rate", "eb_rate_spatial") and info["zero_denominator"]:
                text += "; a zone with a zero denominator gets the prior mean rate (flagged)"
            n_undefined = int(undefined.sum())
            if n_undefined:
                how = {"exclude": "left out of the index", "zero": "given 0",
                       "mean": "given the mean"}[ind.missing]
                text += f"; {n_undefined} zone(s) without a value {how}"
            if info["empty"] and ind.missing == "zero":
                text += "; empty values counted as 0"
            messages.append(text + ".")
        if info["pooled"]:
            field_counts = cols[ind.field]
            group = pooled_groups.setdefault(
                (ind.options["denominator"], float(ind.options["min_denominator"]), ind.measure),
                {"zones": info["pooled"], "names": [], "held": 0.0, "total": 0.0})
            group["names"].append(ind.key)
            group["held"] += float(np.nansum(field_counts[pooled]))
            group["total"] += float(np.nansum(field_counts))
        counts[ind.key] = info
        measured[ind.key] = values
        if ind.measure not in ("value", "volume"):
            measured_out[f"{ind.key}_m"] = values
        if ind.options.get("denominator") or ind.measure == "density":
            flags_out[f"{ind.key}_zd"] = zero
        if float(ind.options.get("min_denominator", 0) or 0) > 0:
            flags_out[f"{ind.key}_pooled"] = pooled
        progress.report((k + 1) / steps)

    for (den_name, min_den, measure), group in pooled_groups.items():
        names = group["names"]
        which = names[0] if len(names) == 1 else f"{len(names)} indicators ({', '.join(names)})"
        messages.append(
            f"Small denominators: {group['zones']:,} of {n:,} zone(s) ({100.0 * group['zones'] / n:.0f} "
            f"%) have a {den_name} above 0 and below min_denominator {min_den:g}; their {measure} "
            f"for {which} is pooled ({_POOLED_HOW[measure]}). They hold {group['held']:,.0f} of "
            f"the {group['total']:,.0f} counted, which still count; flagged in "
            "<indicator>_pooled.")
    included = ~excluded
    n_in = int(included.sum())
    if n_in == 0:
        raise CompositeIndexError("Every zone was left out because of missing data.",
                                  hint="Use the missing policy 'zero' or 'mean' for sparse indicators.")
    if excluded.any():
        messages.insert(0, f"{int(excluded.sum())} of {n} zone(s) left out of the index "
                           "(missing data under the 'exclude' policy); their index fields are empty.")
    # Zones without a recorded incident: every count indicator (higher is worse) is 0 or empty.
    count_inds = [ind for ind in indicators if _counts_like(ind) and ind.direction == "higher_is_worse"]
    no_incidents = None
    if count_inds:
        no_incidents = np.ones(n, dtype=bool)
        for ind in count_inds:
            no_incidents &= ~(np.nan_to_num(cols[ind.field]) != 0)

    any_excluded = bool(excluded.any())
    trio_cols = ["ci_rank", "ci_decile", "ci_quintile"]
    float_cols = list(measured_out) + [f"{ind.key}_s" for ind in indicators]
    for theme in root.children:
        float_cols += [f"{issue.name}_idx" for issue in theme.children] + [f"{theme.name}_idx"]
    float_cols += ["ci_score"] + [f"{theme.name}_pct" for theme in root.children]
    # 0/1 flags are one byte each (a million zones x 40 flags: 40 MB, not 320 MB); written as
    # integer fields like any integer column.
    flag_cols = list(flags_out) + (["ci_no_incidents"] if no_incidents is not None else []) + \
        ["ci_excluded"]
    # Rank, decile and quintile are floats (NaN for excluded zones) or integers.
    int_cols = [] if any_excluded else trio_cols
    if any_excluded:
        float_cols += trio_cols
    # One preallocated block per dtype, so pandas neither copies nor consolidates columns.
    block = np.empty((len(float_cols), n))
    int_block = np.empty((len(int_cols), n), dtype=np.int64)
    flag_block = np.empty((len(flag_cols), n), dtype=np.int8)
    rows = iter(range(len(float_cols)))

    def put(values, whole=False):
        """Write the next result row of the block. Returns the row when it holds the values
        themselves (every zone), so the caller keeps that view and frees its own array: at 7M
        zones x 30 indicators the measured and scaled values would be 3 GB twice over."""
        row = block[next(rows)]
        if whole or not any_excluded:
            row[:] = values
            return row
        row.fill(np.nan)
        row[included] = values
        return values

    for ind in indicators:   # the measured rates first, in the order of their columns
        if f"{ind.key}_m" in measured_out:
            measured[ind.key] = put(measured_out.pop(f"{ind.key}_m"), whole=True)
    extreme_rows, far_out = [], []
    base_ind = baseline.get("indicators", {}) if baseline else {}
    for ind in indicators:
        label = f"{ind.theme} / {ind.issue} / {ind.name} (field '{ind.field}')"
        reference = _z_reference(ind, base_ind.get(ind.key) if baseline else None)
        rows_, max_z = _extremes(ind, label, measured[ind.key], included, z_bound, cols, zone_ids,
                                 reference)
        counts[ind.key]["extreme"] = 0 if rows_ is None else len(rows_)
        counts[ind.key]["max_abs_z"] = max_z
        if rows_ is not None:
            extreme_rows.append(rows_)
            whose = "the" if reference is None else \
                "the baseline's" if ind.scaling == "zscore" else "the spec's fixed"
            far_out.append((ind, label, rows_, whose))
    if name_later is not None:
        _name_zones(extreme_rows, name_later)
    for ind, label, rows_, whose in far_out:
        messages.append(_extreme_message(ind, label, rows_, z_bound, counts[ind.key]["pooled"],
                                         whose))
    fitted = {"indicators": {}, "nodes": {}}
    base_nodes = baseline.get("nodes", {}) if baseline else {}
    scaled = {}
    for ind in indicators:
        label = f"{ind.theme} / {ind.issue} / {ind.name} (field '{ind.field}')"
        v = measured[ind.key][included]
        if baseline is not None:
            params = base_ind.get(ind.key)
            if params is None:
                raise CompositeIndexError(f"The baseline has no parameters for indicator {label}.",
                                          hint="Fit a new baseline.")
            params = dict(params, frozen=True)
        else:
            params = None
        if params is None:
            params, values = _scaling.fit_apply(v, ind.options, label)
        else:
            values = _scaling.apply(v, ind.options, params, label)
        scaled[ind.key] = put(values)
        del v, values
        fitted["indicators"][ind.key] = {k: v_ for k, v_ in params.items() if k != "frozen"}
    measured = None   # scaled and (rates) in the block: the volumes' copies are not needed now
    progress.report((len(indicators) + 1) / steps)

    def node_score(node, kind, get_child):
        names = [ch.name for ch in node.children]
        stack = np.vstack([get_child(ch) for ch in node.children])
        weights = [ch.weight for ch in node.children]
        key = f"{kind}:{node.name}"
        rank_params = base_nodes.get(key) if (baseline is not None and node.method == "imd") else None
        if baseline is not None and node.method == "imd" and rank_params is None:
            raise CompositeIndexError(f"The baseline has no reference ranks for {kind} '{node.name}'.",
                                      hint="Fit a new baseline.")
        where = f"{kind} '{node.name}'" if kind != "composite" else "the composite"
        score, contrib, fit_nodes = combine(stack, weights, node.method, names, where, c, rank_params)
        if node.method == "imd":
            fitted["nodes"][key] = rank_params if rank_params is not None else fit_nodes
        return score, contrib

    issue_scores, theme_scores = {}, {}
    issue_share_in_theme = {}
    for theme in root.children:
        for issue in theme.children:
            s, _ = node_score(issue, "issue", lambda ind: scaled[ind.key])
            issue_scores[issue.name] = put(s)
        s, contrib = node_score(theme, "theme", lambda iss: issue_scores[iss.name])
        theme_scores[theme.name] = put(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            for issue, cpart in zip(theme.children, contrib):
                frac = np.where(s != 0, cpart / np.where(s != 0, s, 1.0),
                                issue.weight / sum(i.weight for i in theme.children))
                issue_share_in_theme[issue.name] = frac
    ci, theme_contrib = node_score(root, "composite", lambda th: theme_scores[th.name])
    put(ci)
    progress.report((len(indicators) + 2) / steps)

    for part in 100.0 * shares(theme_contrib):
        put(part)
    floor = None
    if no_incidents is not None and no_incidents_rule == "lowest":
        floor = no_incidents[included]
    rank, last = _ranking.need_ranks(ci, floor)
    decile = _ranking.need_class(last, n_in, 10)
    quintile = _ranking.need_class(last, n_in, 5)
    trio = [rank, decile, quintile]
    if any_excluded:
        for values in trio:
            put(values)
    else:
        int_block[:3] = trio
    for i, zero in enumerate(flags_out.values()):
        flag_block[i] = zero
    if no_incidents is not None:
        flag_block[-2] = no_incidents
    flag_block[-1] = excluded
    del flags_out
    messages += _class_messages(ci, rank, decile, floor, no_incidents, included, no_incidents_rule)
    theme_names = np.array([th.name for th in root.children], dtype=object)
    issue_list = [(t_i, iss) for t_i, th in enumerate(root.children) for iss in th.children]
    issue_names = np.array([iss.name for _, iss in issue_list], dtype=object)
    tops = np.full((2, n), None, dtype=object)
    tops[0, included] = theme_names[np.argmax(theme_contrib, axis=0)]
    tops[1, included] = issue_names[_argmax_rows(
        theme_contrib[t_i] * issue_share_in_theme.pop(iss.name) for t_i, iss in issue_list)]
    if no_incidents is not None:
        # a zone without any recorded incident has no top theme or issue: its "largest
        # contribution" would be the theme least below average (z-scores) or the first of
        # equal zeros (min-max), which a map of top themes would paint over most of a sparse
        # study area (West Yorkshire, one month: 84 % of the zones)
        tops[:, no_incidents.astype(bool)] = None
    frames = [pd.DataFrame(block.T, index=df.index, columns=float_cols, copy=False),
              pd.DataFrame(int_block.T, index=df.index, columns=int_cols, copy=False),
              pd.DataFrame(flag_block.T, index=df.index, columns=flag_cols, copy=False),
              pd.DataFrame(tops.T, index=df.index, columns=["top_theme", "top_issue"], copy=False)]
    table = pd.concat(frames, axis=1, **_NO_COPY)
    progress.report((len(indicators) + 3) / steps)

    baseline_out = {
        "format": BASELINE_FORMAT, "version": BASELINE_VERSION, "spec_fingerprint": fingerprint,
        "n_zones": n_in,
        "note": "Fitted scaling parameters in field units (means, SDs, ranges); rank-based "
                "scalings and imd aggregation keep reference quantiles in need orientation.",
        "indicators": fitted["indicators"], "nodes": fitted["nodes"],
    }
    if baseline is not None:
        baseline_out = baseline
        messages.append("Scaled with the frozen baseline (fingerprint "
                        f"{fingerprint}); scores are on the baseline's scale.")
    from composite_index_plugin.core.diagnostics import compute_diagnostics

    diagnostics = compute_diagnostics(root, indicators, scaled, ci, counts, theme_scores, n, n_in,
                                      extremes=extreme_rows, z_bound=z_bound)
    diagnostics["summary"]["zones_no_incidents"] = int(no_incidents[included].sum()) \
        if no_incidents is not None else None
    diagnostics["summary"]["no_incidents"] = no_incidents_rule if no_incidents is not None else None
    diagnostics["summary"]["deciles_present"] = _deciles_present(decile)
    progress.report(1.0)
    return IndexResult(table=table, baseline=baseline_out, diagnostics=diagnostics,
                       fingerprint=fingerprint, messages=messages, spec=spec,
                       used_baseline=baseline is not None, plan=root)
