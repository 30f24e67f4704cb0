"""Area summaries of an index, the IMD-style extent and the "gap" (pure numpy / pandas).

Zones (grid cells or small areas carrying ``ci_score`` etc.) are summarised into larger areas
(constituencies, wards). A zone split by area boundaries counts in each area by the share of its
surface inside that area; with a population field the zone's population is shared out in the same
proportion. The Processing glue measures those shares with geometry and hands them over as an
*overlap table* with columns ``zone`` (row position in the zone frame), ``area`` (position in the
list of area names) and ``fraction`` (0..1 of the zone inside the area).

Conventions (the index engine's): higher ``ci_score`` = higher need; rank 1 = highest need;
decile and percentile 1 = the most affected tenth / hundredth of zones in the study area.

Sources:
- Extent: MHCLG, *The English Indices of Deprivation 2019, Technical report* (section on the
  summary measures for higher-level geographies, "extent"): the population-weighted share of an
  area's population living in the most deprived percentiles, with weight 1 for percentiles 1-10
  falling linearly from 0.95 at percentile 11 to 0.05 at percentile 30, and 0 beyond.
- The gap: a contrast of means between the highest-need group and everyone else, as used by
  community-safety partnerships to track "closing the gap"; its definition is configurable.
"""
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from composite_index_plugin.core import vocab
from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.ranking import need_class, need_ranks

WHOLE_STUDY_AREA = "Whole study area"

# The gap's words live in core.vocab and its keys, defaults and rules in core.model.Gap (the recipe's
# ``gap`` section); ``parse_gap(None)`` gives the default: the highest-need zones holding 10 % of the
# residents (decile 1 by population share), population-weighted mean score minus that of everyone
# else; over periods the first period's top group is followed (fixed cohort).
GAP_BY = vocab.GAP_BY
GAP_WEIGHTING = vocab.GAP_WEIGHTING
GAP_WEIGHTING_TITLES = vocab.GAP_WEIGHTING_TITLES
GAP_MODES = vocab.GAP_MODES
GAP_MODE_TITLES = vocab.GAP_MODE_TITLES

SUMMARY_COLUMNS = [
    "area_name", "area_rank", "mean_score", "population", "n_zones", "pop_top_decile_pct",
    "zones_top_decile_pct", "extent_pct", "hotspot_km2", "hotspot_pct", "top_theme_1",
    "top_theme_2", "top_theme_3", "top_issue_1", "top_issue_2", "top_issue_3", "gap_diff",
    "gap_ratio",
]
GAP_COLUMNS = ["area_name", "mean_score", "top_mean", "versus_mean", "gap_diff", "gap_ratio",
               "top_zones", "top_share_pct"]


# --------------------------------------------------------------------------------------------
# ranks, deciles, percentiles
# --------------------------------------------------------------------------------------------
def need_rank(scores):
    """Rank 1 = highest score (highest need); ties share the best rank; NaN stays NaN."""
    s = pd.Series(np.asarray(scores, dtype="float64"))
    return s.rank(ascending=False, method="min").to_numpy()


# Group 1..groups from a need rank among n valid zones, ceil(groups * rank / n): decile
# (groups=10) and percentile (groups=100) 1 hold the highest-need zones; NaN stays NaN. With ties,
# pass the rank of the last zone of each tie group (need_ranks), as the index's ci_decile does.
rank_group = need_class


def extent_weight(percentile):
    """IMD extent weights: 1 for percentiles 1-10, 0.95 at 11 falling linearly to 0.05 at 30,
    0 beyond (MHCLG IoD technical report). Percentile 1 = most affected. NaN -> 0."""
    p = np.asarray(percentile, dtype="float64")
    w = np.zeros(p.shape)
    w[p <= 10] = 1.0
    mid = (p >= 11) & (p <= 30)
    w[mid] = 0.95 - (p[mid] - 11.0) * (0.90 / 19.0)
    # percentiles are integers; a fractional one between 10 and 11 is treated like 11
    between = (p > 10) & (p < 11)
    w[between] = 0.95
    return w


# --------------------------------------------------------------------------------------------
# the gap
# --------------------------------------------------------------------------------------------
def parse_gap(gap) -> dict:
    """The gap definition as a dict (``None``/"" -> default). Accepts a dict or JSON text; the
    keys, defaults and rules are the recipe's ``gap`` section (``core.model.Gap``).

    Keys: ``by`` ("decile" or "percent") and ``value``: the top group is the highest-need zones
    holding the top ``value`` deciles (or ``value`` %) of the population or of the zones;
    ``weighting``: "population" (the share is a share of the residents and means are
    population-weighted) or "zones" (a share of the zones, each zone weighing the same);
    ``mode``: "cohort" (over periods, the first period's top group is followed), "reselected"
    (each period's own top group) or "worst_vs_average" (the first period's top group against
    the mean of the whole area, itself included: the floor-target form). Within one period
    "cohort" and "reselected" are the same.
    """
    from composite_index_plugin.core.model import Gap
    from composite_index_plugin.core.schema import Context

    if gap is None or (isinstance(gap, str) and not gap.strip()):
        return Gap().as_dict()
    if isinstance(gap, str):
        try:
            gap = json.loads(gap)
        except (ValueError, RecursionError) as err:
            raise CompositeIndexError(
                f"The gap definition is not valid JSON: {err}.",
                hint='Example: {"by": "decile", "value": 1, "weighting": "population", '
                     '"mode": "cohort"}.') from err
    ctx = Context()
    parsed = Gap.parse(gap, ctx, "gap")
    if ctx.problems:
        first, *more = ctx.problems
        raise CompositeIndexError(f"The gap definition has {len(ctx.problems)} problem(s): "
                                  f"{first}", details=[str(p) for p in more])
    return parsed.as_dict()


def gap_share(gap):
    """The share (0..1) of the population or zones that the top group holds."""
    gap = parse_gap(gap)
    return gap["value"] / 10.0 if gap["by"] == "decile" else gap["value"] / 100.0


def gap_weights(score, gap, population=None):
    """Per-zone weights of the gap: the population (``weighting`` "population" and a population
    with residents), else 1 for every zone; 0 where the score is missing. Returns
    (weights, by_population)."""
    s = np.asarray(score, dtype="float64")
    valid = np.isfinite(s)
    if parse_gap(gap)["weighting"] == "population" and population is not None:
        pop = np.asarray(population, dtype="float64")
        pop = np.where(valid & np.isfinite(pop) & (pop > 0), pop, 0.0)
        if pop.sum() > 0:
            return pop, True
    return valid.astype("float64"), False


def top_group(score, gap, population=None, floor=None):
    """The gap's highest-need group over the whole study area: (boolean per zone, info).

    Zones are taken in order of need (highest score first) while the weight ranked above a zone
    plus that of its tie group stays within the share: with ``weighting`` "zones" every zone
    weighs 1, so the top decile is exactly decile 1 of ``rank_group`` on the last rank of each tie
    group (``core.ranking.need_ranks``, as the index's ci_decile); with "population" the weight is
    the zone's population, so the group holds at most that share of the residents. Tied zones go
    together, in only when all of them fit (82 % of West Yorkshire's cells tie at the bottom in a
    month; by their first rank they would all join a top 20 %); the highest-need zone(s) are
    always in the group.
    ``info``: ``zones`` (number in the group), ``share_pct`` (percent of the weight it holds),
    ``by_population`` (False when population weighting was asked for but no population is known).
    ``floor`` (bool per zone, optional): zones ranked below all others, tied (the index's zones
    with no recorded incident, ``ci_no_incidents``), so they join the group only if everyone does.
    """
    s = np.asarray(score, dtype="float64")
    valid = np.isfinite(s)
    w, by_pop = gap_weights(s, gap, population)
    if floor is not None:
        s = np.where(np.asarray(floor, dtype=bool) & valid, -np.inf, s)
    out = np.zeros(s.shape, dtype=bool)
    if not valid.any():
        return out, {"zones": 0, "share_pct": float("nan"), "by_population": by_pop}
    sv, wv = s[valid], w[valid]
    _, tie = np.unique(-sv, return_inverse=True)          # 0 = the highest score
    tie = tie.reshape(-1)
    per_tie = np.bincount(tie, weights=wv)
    above = np.cumsum(per_tie) - per_tie                   # weight ranked strictly above
    total = wv.sum()
    limit = gap_share(gap) * total * (1 + 1e-12)
    inside = (above[tie] + per_tie[tie] <= limit) | (tie == 0)   # a tie group goes in whole
    out[np.flatnonzero(valid)[inside]] = True
    share = 100.0 * wv[inside].sum() / total if total > 0 else float("nan")
    return out, {"zones": int(inside.sum()), "share_pct": float(share), "by_population": by_pop}


def gap_stats(score, top, weight, versus="rest", ratio=True):
    """(diff, ratio, top_mean, versus_mean) for one set of zones.

    ``weight``: per-zone weights (population x fraction, or fraction). ``versus``: "rest" (the
    zones outside the top group) or "all" (every zone, the top group included: worst against
    average). ``ratio`` = top mean / versus mean, only when ``ratio`` is True (pass False for
    scores that can be negative: a ratio of scores on a scale crossing zero means nothing) and
    the versus mean is positive; else NaN.
    """
    score = np.asarray(score, dtype="float64")
    weight = np.asarray(weight, dtype="float64")
    top = np.asarray(top, dtype=bool)
    ok = np.isfinite(score) & np.isfinite(weight) & (weight > 0)
    wt = weight * (ok & top)
    wr = weight * (ok & ~top) if versus == "rest" else weight * ok
    s = np.where(ok, score, 0.0)
    top_mean = (wt * s).sum() / wt.sum() if wt.sum() > 0 else np.nan
    versus_mean = (wr * s).sum() / wr.sum() if wr.sum() > 0 and (ok & ~top).any() else np.nan
    diff = top_mean - versus_mean
    r = top_mean / versus_mean if ratio and np.isfinite(versus_mean) and versus_mean > 0 \
        else np.nan
    return diff, r, top_mean, versus_mean


def ratio_allowed(score):
    """A ratio of means is only meaningful on a scale that does not cross zero (no score < 0)."""
    s = np.asarray(score, dtype="float64")
    s = s[np.isfinite(s)]
    return bool(s.size) and float(s.min()) >= 0


def _fmt_share(value):
    return f"{value:g}" if float(value) == int(value) else f"{value:.1f}"


def describe_gap(gap, info=None, baseline=None, periods=1):
    """One sentence saying what the gap is, for logs, tables and the printed page.

    ``info``: from ``top_group`` (group size and the share it really holds); ``baseline``: the
    label of the (first) period the group was chosen in; ``periods``: how many periods it spans.
    """
    gap = parse_gap(gap)
    pct = gap_share(gap) * 100
    by_pop = gap["weighting"] == "population" and (info is None or info.get("by_population", True))
    who = "residents" if by_pop else "zones"
    over_time = periods > 1
    text = f"mean score of the highest-need zones holding {_fmt_share(pct)} % of the {who}"
    if over_time and gap["mode"] != "reselected":
        text += f" in {baseline}" if baseline else " in the first period"
    elif over_time:
        text += ", re-selected in each period"
    details = []
    if info is not None and info.get("zones"):
        when = f" in {baseline}" if over_time and gap["mode"] == "reselected" and baseline else ""
        details.append(f"{info['zones']:,} zone{'' if info['zones'] == 1 else 's'}{when}")
        held = info.get("share_pct", float("nan"))
        if by_pop and np.isfinite(held):
            details[-1] += f" with {held:.1f} % of the residents"
    if over_time and gap["mode"] != "reselected":
        details.append("the same zones in every period")
    if details:
        text += f" ({'; '.join(details)})"
    if gap["mode"] == "worst_vs_average":
        text += " minus the mean of the whole area (the top group included)"
    else:
        text += " minus that of all other zones"
    weighting = "population-weighted" if by_pop else "each zone weighing the same"
    if gap["weighting"] == "population" and not by_pop:
        weighting += " (no population known)"
    return f"{text}; {weighting}"


# --------------------------------------------------------------------------------------------
# overlaps
# --------------------------------------------------------------------------------------------
def check_overlaps(overlaps, n_zones, n_areas):
    """Validate the overlap table and return (zone, area, fraction) arrays."""
    if overlaps is None or len(overlaps) == 0:
        raise CompositeIndexError(
            "The areas do not overlap any zone.",
            hint="Check that the area and zone layers cover the same place (and their CRS).")
    frame = pd.DataFrame(overlaps)
    missing = [c for c in ("zone", "area", "fraction") if c not in frame.columns]
    if missing:
        raise CompositeIndexError(f"Overlap table lacks column(s) {', '.join(missing)}.")
    zone = frame["zone"].to_numpy(dtype="int64")
    area = frame["area"].to_numpy(dtype="int64")
    frac = frame["fraction"].to_numpy(dtype="float64")
    bad = (zone < 0) | (zone >= n_zones)
    if bad.any():
        raise CompositeIndexError(f"Overlap table row {int(np.argmax(bad))} names zone "
                                  f"{int(zone[bad][0])}, but there are {n_zones} zones.")
    bad = (area < 0) | (area >= n_areas)
    if bad.any():
        raise CompositeIndexError(f"Overlap table row {int(np.argmax(bad))} names area "
                                  f"{int(area[bad][0])}, but there are {n_areas} areas.")
    bad = ~np.isfinite(frac) | (frac < 0) | (frac > 1 + 1e-6)
    if bad.any():
        raise CompositeIndexError(f"Overlap table row {int(np.argmax(bad))} has fraction "
                                  f"{frac[bad][0]!r}; fractions must be within 0..1.")
    keep = frac > 0
    return zone[keep], area[keep], np.minimum(frac[keep], 1.0)


def zone_hotspot_m2(overlaps, zone_area_m2, hot, n_areas):
    """Hotspot surface per area (and, last, for the whole study area) from zones flagged hot.

    Returns (hotspot_m2, area_m2) arrays of length ``n_areas + 1``; an area's surface is taken as
    the surface of the zones inside it (use the glue's polygon areas when they are known).
    """
    zone, area, frac = check_overlaps(overlaps, len(zone_area_m2), n_areas)
    za = np.nan_to_num(np.asarray(zone_area_m2, dtype="float64"))
    hot = np.asarray(hot, dtype=bool)
    hot_m2 = np.bincount(area, weights=za[zone] * frac * hot[zone], minlength=n_areas)
    all_m2 = np.bincount(area, weights=za[zone] * frac, minlength=n_areas)
    return (np.append(hot_m2, (za * hot).sum()), np.append(all_m2, za.sum()))


# --------------------------------------------------------------------------------------------
# the summary
# --------------------------------------------------------------------------------------------
@dataclass
class AreaSummary:
    """``table``: one row per area plus the whole-study-area row (last). ``messages``: what was
    excluded or could not be computed, for the log."""

    table: pd.DataFrame
    messages: list = field(default_factory=list)


def _numeric(zones, column, what):
    if column not in zones.columns:
        raise CompositeIndexError(
            f"The zones have no {what} field '{column}'.",
            hint=f"Fields that exist: {', '.join(map(str, zones.columns))}.")
    values = pd.to_numeric(zones[column], errors="coerce").to_numpy(dtype="float64")
    raw = zones[column]
    bad = raw.notna().to_numpy() & np.isnan(values)
    if bad.any():
        raise CompositeIndexError(
            f"The {what} field '{column}' is not numeric (row {int(np.argmax(bad))}: "
            f"{raw.iloc[int(np.argmax(bad))]!r}).", hint="Choose a numeric field.")
    return values


def weighted_mean_by_area(values, zone, area, w, n_areas):
    """Weighted mean of ``values[zone]`` per area with weights ``w`` (NaN values ignored)."""
    v = values[zone]
    ok = np.isfinite(v) & (w > 0)
    num = np.bincount(area, weights=np.where(ok, v * w, 0.0), minlength=n_areas)
    den = np.bincount(area, weights=np.where(ok, w, 0.0), minlength=n_areas)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def detect_themes_issues(columns):
    """From index output columns: themes have ``<t>_idx`` and ``<t>_pct``; issues ``<i>_idx`` only.

    Returns (themes, issues): dicts name -> the column that ranks them in an area, the
    sub-index ``<name>_idx`` for both. An area's top themes are those with the highest mean
    score (the values of its ``<theme>_mean`` and of its page's chart), not the highest mean
    ``<theme>_pct``: a zone's percent is its signed share of the sum of absolute
    contributions, and on sparse data (most zones without an incident, every theme below the
    mean on z-scores) the mean percent ranks first the theme least below average in the empty
    zones. West Yorkshire, July 2017: 84 % of the 38,388 zones empty; mean percent put
    violence first in all five districts, whose highest theme score was that of criminal
    damage and disorder (criminal damage and arson, public order, other crime) in each."""
    cols = set(columns)
    themes, issues = {}, {}
    for c in columns:
        if c.endswith("_idx") and c != "_idx":
            name = c[:-4]
            if f"{name}_pct" in cols:
                themes[name] = c
            else:
                issues[name] = c
    return themes, issues


def summarise_areas(zones, overlaps, area_names, score="ci_score", population=None,
                    themes=None, issues=None, theme_means=None, hotspot_m2=None, area_m2=None,
                    gap=None, issue_means=None, sums=None, floor=None, progress=None):
    """Summarise index zones by larger areas.

    zones: DataFrame with the ``score`` column (and ``population`` when given, and the theme /
        issue columns). Zones with a missing score are left out and counted in ``messages``.
    overlaps: table (zone, area, fraction), see the module docstring.
    area_names: names of the areas, indexed by the overlap table's ``area``.
    population: name of the population column, or None (then zones weigh by their share only).
    themes / issues: dict name -> column whose weighted mean (weighted as ``mean_score``) ranks
        them in each area for ``top_theme_k`` / ``top_issue_k``: the sub-index ``<name>_idx``
        (see ``detect_themes_issues``).
    theme_means: dict theme -> column (``<theme>_idx``) written as ``<theme>_mean``.
    issue_means: dict issue -> column (``<issue>_idx``) written as ``<issue>_mean`` (weighted as
        ``mean_score``, so an area's issue value compares like with like with the whole area's).
    sums: columns (e.g. incident counts ``<issue>_<role>``) summed per area, each zone counting
        by the share of it inside the area; written under the same names.
    hotspot_m2, area_m2: arrays of length n_areas + 1 (last = whole study area), or None.
    gap: dict or JSON text (``parse_gap``): the top group is chosen over the whole study area
        (``top_group``); each area's ``gap_diff`` contrasts its zones in that group with its
        other zones (or, for "worst_vs_average", with all its zones). ``gap_ratio`` only on a
        score scale that does not cross zero.

    floor: name of a 0/1 column (the index's ``ci_no_incidents``): those zones rank below all
        others, tied, for the deciles, the extent and the gap's top group, as on the index map
        (``core.ranking``); their scores still count in the means.

    Ranks, deciles and percentiles are those of the whole study area (as IMD uses national
    ranks); ``area_rank`` ranks the areas by mean score (1 = highest need).
    """
    progress = progress or NO_PROGRESS
    gap = parse_gap(gap)
    area_names = [str(a) for a in area_names]
    n_areas = len(area_names)
    if n_areas == 0:
        raise CompositeIndexError("There are no areas to summarise by.",
                                  hint="Choose an area layer with at least one polygon.")
    n_all = len(zones)
    if n_all == 0:
        raise CompositeIndexError("The zone layer has no zones.")
    s = _numeric(zones, score, "score")
    messages = []
    valid = np.isfinite(s)
    n_missing = int((~valid).sum())
    if n_missing:
        messages.append(f"{n_missing} zone(s) without a {score} value were left out.")
    n = int(valid.sum())
    if n == 0:
        raise CompositeIndexError(f"No zone has a value in '{score}'.",
                                  hint="Run the index first, or choose the score field.")

    if population is not None:
        pop = _numeric(zones, population, "population")
        bad_pop = valid & (~np.isfinite(pop) | (pop < 0))
        if bad_pop.any():
            messages.append(f"{int(bad_pop.sum())} zone(s) with a missing or negative "
                            f"{population} count with weight 0 in population-weighted figures.")
        pop = np.where(np.isfinite(pop) & (pop > 0), pop, 0.0)
    else:
        pop = None
    if gap["weighting"] == "population" and pop is None:
        messages.append("No population field: the gap and means weigh each zone equally.")

    low = None
    if floor is not None and floor in zones.columns:
        low = np.nan_to_num(_numeric(zones, floor, "no-incidents flag")) > 0
    # tied zones share the class of the last of them; zones without incidents rank last
    _, last = need_ranks(s, low)
    decile = rank_group(last, n, 10)
    pct = rank_group(last, n, 100)
    top = valid & (decile == 1)
    ew = extent_weight(pct)
    in_gap, gap_info = top_group(s, gap, pop, floor=low)
    gap_by_pop = gap_info["by_population"]
    messages.append("Gap: " + describe_gap(gap, gap_info) + ".")

    zone, area, frac = check_overlaps(overlaps, n_all, n_areas)
    keep = valid[zone]
    zone, area, frac = zone[keep], area[keep], frac[keep]
    if len(zone) == 0:
        raise CompositeIndexError("The areas overlap only zones without a score.")
    covered = np.zeros(n_all, dtype=bool)
    covered[zone] = True
    n_outside = int((valid & ~covered).sum())
    if n_outside:
        messages.append(f"{n_outside} zone(s) lie outside every area; they count only in the "
                        f"'{WHOLE_STUDY_AREA}' row.")
    progress.report(0.3)

    # one extra "area" (index n_areas) = the whole study area, each valid zone once, fully
    all_idx = np.flatnonzero(valid)
    zone = np.concatenate([zone, all_idx])
    area = np.concatenate([area, np.full(len(all_idx), n_areas)])
    frac = np.concatenate([frac, np.ones(len(all_idx))])
    m = n_areas + 1

    w_pop = pop[zone] * frac if pop is not None else None
    w_main = w_pop if pop is not None else frac

    out = pd.DataFrame({"area_name": area_names + [WHOLE_STUDY_AREA]})
    out["mean_score"] = weighted_mean_by_area(s, zone, area, w_main, m)
    out["population"] = (np.bincount(area, weights=w_pop, minlength=m) if pop is not None
                         else np.full(m, np.nan))
    out["n_zones"] = np.bincount(area, minlength=m).astype("int64")
    out["pop_top_decile_pct"] = (100 * weighted_mean_by_area(top.astype(float), zone, area, w_pop, m)
                                 if pop is not None else np.full(m, np.nan))
    out["zones_top_decile_pct"] = 100 * weighted_mean_by_area(top.astype(float), zone, area, frac, m)
    out["extent_pct"] = 100 * weighted_mean_by_area(ew, zone, area, w_main, m)

    if hotspot_m2 is not None and area_m2 is not None:
        hot = np.asarray(hotspot_m2, dtype="float64")
        tot = np.asarray(area_m2, dtype="float64")
        if hot.shape != (m,) or tot.shape != (m,):
            raise CompositeIndexError(f"hotspot_m2 and area_m2 need {m} values (areas + whole).")
        out["hotspot_km2"] = hot / 1e6
        with np.errstate(invalid="ignore", divide="ignore"):
            out["hotspot_pct"] = np.where(tot > 0, 100 * hot / np.where(tot > 0, tot, 1), np.nan)
    else:
        out["hotspot_km2"] = np.nan
        out["hotspot_pct"] = np.nan
    progress.report(0.6)

    area_means = {}     # column -> its weighted mean per area (ranking and <name>_mean share it)

    def area_mean(column, what):
        if column not in area_means:
            area_means[column] = weighted_mean_by_area(_numeric(zones, column, what), zone, area,
                                                       w_main, m)
        return area_means[column]

    for kind, spec in (("theme", themes or {}), ("issue", issues or {})):
        names = list(spec)
        if names:
            means = np.column_stack([area_mean(spec[k], f"{kind} index") for k in names])
        else:
            means = np.zeros((m, 0))
        for j in range(3):
            col = []
            for row in range(m):
                vals = means[row]
                order = [i for i in np.argsort(-np.nan_to_num(vals, nan=-np.inf), kind="stable")
                         if np.isfinite(vals[i])]
                col.append(names[order[j]] if j < len(order) else None)
            out[f"top_{kind}_{j + 1}"] = col

    w_gap = w_pop if gap_by_pop else frac
    versus = "all" if gap["mode"] == "worst_vs_average" else "rest"
    with_ratio = ratio_allowed(s)
    diffs, ratios = np.full(m, np.nan), np.full(m, np.nan)
    order = np.argsort(area, kind="stable")
    bounds = np.searchsorted(area[order], np.arange(m + 1))
    for a in range(m):
        sel = order[bounds[a]:bounds[a + 1]]
        if len(sel):
            d, r, _, _ = gap_stats(s[zone[sel]], in_gap[zone[sel]], w_gap[sel], versus, with_ratio)
            diffs[a], ratios[a] = d, r
    out["gap_diff"] = diffs
    out["gap_ratio"] = ratios
    out["gap_definition"] = describe_gap(gap, gap_info)

    for theme, column in (theme_means or {}).items():
        out[f"{theme}_mean"] = area_mean(column, "theme index")
    for issue, column in (issue_means or {}).items():
        if f"{issue}_mean" not in out.columns:
            out[f"{issue}_mean"] = area_mean(column, "issue index")
    for column in sums or ():
        values = np.nan_to_num(_numeric(zones, column, "count"))
        out[column] = np.bincount(area, weights=values[zone] * frac, minlength=m)

    area_scores = out["mean_score"].to_numpy()[:n_areas]
    ranks = need_rank(area_scores)
    out["area_rank"] = pd.Series(np.round(np.append(ranks, np.nan)), index=out.index).astype("Int64")
    empty = [area_names[i] for i in range(n_areas) if out["n_zones"].iloc[i] == 0]
    if empty:
        messages.append(f"{len(empty)} area(s) overlap no zone with a score: "
                        f"{', '.join(empty[:10])}{' ...' if len(empty) > 10 else ''}.")
    no_gap = [area_names[i] for i in range(n_areas)
              if out["n_zones"].iloc[i] > 0 and not math.isfinite(diffs[i])]
    if no_gap:
        messages.append(f"{len(no_gap)} area(s) have no zone on one side of the gap "
                        f"(gap left empty): {', '.join(no_gap[:10])}.")
    if np.isfinite(diffs).any() and not with_ratio:
        messages.append("The gap ratio is left empty: scores below zero occur (a scale such as "
                        "z-scores crosses zero), so a ratio of means says nothing; use the "
                        "difference.")
    rest = [c for c in out.columns if c not in SUMMARY_COLUMNS]
    out = out[SUMMARY_COLUMNS + rest]
    progress.report(1.0)
    return AreaSummary(out, messages)


def area_gaps(zones, area_names=(), overlaps=None, score="ci_score", population=None, gap=None,
              group=None, ratio=None):
    """The gap per area and for the whole study area (last row) for one set of zones.

    Columns (``GAP_COLUMNS``): ``area_name``, ``mean_score`` (population-weighted when a
    population is given, as in ``summarise_areas``), ``top_mean`` (the top group's zones in the
    area), ``versus_mean`` (the area's other zones, or all its zones for "worst_vs_average"),
    ``gap_diff`` = top_mean - versus_mean, ``gap_ratio`` (only when ``ratio``; by default when no
    score is below zero), ``top_zones`` (zones of the group in the area), ``top_share_pct`` (the
    share of the area's residents, or zones, in the group).
    group: boolean per zone, the top group to use (e.g. an earlier period's: a fixed cohort);
        by default this period's own (``top_group`` over the whole study area).
    Without areas only the whole-study-area row is returned.
    """
    gap = parse_gap(gap)
    area_names = [str(a) for a in area_names]
    s = _numeric(zones, score, "score")
    valid = np.isfinite(s)
    if not valid.any():
        raise CompositeIndexError(f"No zone has a value in '{score}'.")
    pop = None
    if population is not None:
        pop = _numeric(zones, population, "population")
        pop = np.where(valid & np.isfinite(pop) & (pop > 0), pop, 0.0)
        if pop.sum() <= 0:
            pop = None
    if group is None:
        in_gap, _ = top_group(s, gap, pop)
    else:
        in_gap = np.asarray(group, dtype=bool)
        if in_gap.shape != s.shape:
            raise CompositeIndexError(f"The top group has {in_gap.size} values for {s.size} zones.")
    in_gap = in_gap & valid
    w_gap, _ = gap_weights(s, gap, pop)
    versus = "all" if gap["mode"] == "worst_vs_average" else "rest"
    if ratio is None:
        ratio = ratio_allowed(s)
    groups = []
    if area_names:
        zone, area, frac = check_overlaps(overlaps, len(zones), len(area_names))
        for a in range(len(area_names)):
            sel = area == a
            groups.append((zone[sel], frac[sel]))
    all_idx = np.flatnonzero(valid)
    groups.append((all_idx, np.ones(len(all_idx))))
    rows = []
    for name, (z, f) in zip(area_names + [WHOLE_STUDY_AREA], groups):
        wm = f * pop[z] if pop is not None else f
        ok = valid[z] & (wm > 0)
        mean = (wm[ok] * s[z][ok]).sum() / wm[ok].sum() if ok.any() else np.nan
        wg = f * w_gap[z]
        diff, r, top_mean, versus_mean = gap_stats(s[z], in_gap[z], wg, versus, ratio)
        top = in_gap[z]
        held = 100.0 * wg[top].sum() / wg.sum() if wg.sum() > 0 else np.nan
        rows.append((name, mean, top_mean, versus_mean, diff, r, int(top.sum()), held))
    return pd.DataFrame(rows, columns=GAP_COLUMNS)
