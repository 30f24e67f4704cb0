"""Comparing index runs across periods on the same zones (pure numpy / pandas).

What it gives, per zone (aligned on a zone id):
- change in score, rank and decile from the first to the last period; signs are chosen so that
  a **positive change always means more need** (score up, or moved towards rank 1 / decile 1):
  ``score_change = score_last - score_first``, ``rank_change = rank_first - rank_last``,
  ``decile_change = decile_first - decile_last``;
- the hotspot transition between the last two periods from ``gi_bin`` (new, persistent,
  intensifying, diminishing, ended);
- with three or more periods, a Mann-Kendall trend and the emerging-hotspot category;
- whether a trend can be significant at all with this many periods (``trend_testability``):
  with n periods the smallest two-sided Mann-Kendall p is that of a strictly monotone series,
  0.296 (n = 3), 0.089 (n = 4), 0.027 (n = 5), so at the 5 % level the categories use no trend,
  hence no "intensifying" or "diminishing" hot or cold spot, can occur below 5 periods. The
  output says so (``PeriodComparison.trend``, a warning, and ``trend`` = "not testable").

Without a frozen baseline each period's scores are rescaled on their own year, so score changes
mean nothing; the comparison then uses ranks (``score_change`` is left empty and the trend is
computed on the negated rank, so "increasing" still means more need).

Sources:
- Mann-Kendall: Mann (1945), Kendall (1975). ``S = sum_{i<j} sign(x_j - x_i)``,
  ``Var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18`` over groups of tied values,
  ``Z = (S - sign(S)) / sqrt(Var(S))``, two-sided normal p-value.
- Emerging hot spot categories: Esri, ArcGIS Pro, "How Emerging Hot Spot Analysis works".
  Our reading of its rules, with ``hot`` = gi_bin >= min_bin, ``cold`` = gi_bin <= -min_bin,
  T periods, h / c = number of hot / cold periods, trend = Mann-Kendall on the Gi* z series
  (``gi_z`` when present, else on ``gi_bin``) significant at ``alpha``:
    * last period hot:
        - new: hot only in the last period and never significant (hot or cold) before;
        - h / T >= 0.9: intensifying (significant upward trend), diminishing (significant
          downward trend), else persistent;
        - oscillating: some earlier period was cold;
        - consecutive: one uninterrupted final run of >= 2 hot periods, never hot before it;
        - sporadic: otherwise (on and off, never cold);
    * last period not hot and h / T >= 0.9: historical;
    * the cold categories mirror these (intensifying cold = significant downward trend);
    * otherwise "no pattern".
  "Persistent" in Esri's text does not require the last period to be hot, but a location that
  is hot 90 % of the time and not in the last period is exactly Esri's "historical", so we give
  it that name.
"""
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from composite_index_plugin.core.assessment import (
    area_gaps,
    describe_gap,
    parse_gap,
    rank_group,
    ratio_allowed,
    top_group,
)
from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.ranking import need_ranks

TRANSITIONS = ("new", "persistent", "intensifying", "diminishing", "ended")
EMERGING = (
    "new hot spot", "consecutive hot spot", "intensifying hot spot", "persistent hot spot",
    "diminishing hot spot", "sporadic hot spot", "oscillating hot spot", "historical hot spot",
    "new cold spot", "consecutive cold spot", "intensifying cold spot", "persistent cold spot",
    "diminishing cold spot", "sporadic cold spot", "oscillating cold spot", "historical cold spot",
    "no pattern",
)

_erfc = np.frompyfunc(math.erfc, 1, 1)


# --------------------------------------------------------------------------------------------
# Mann-Kendall
# --------------------------------------------------------------------------------------------
def mann_kendall(values):
    """Mann-Kendall trend test for every row of ``values`` (zones x periods), vectorised.

    Returns (S, var_S, Z, p) arrays; rows with any NaN get NaN. Ties use the corrected variance.
    """
    x = np.asarray(values, dtype="float64")
    if x.ndim == 1:
        x = x[None, :]
    n_rows, t = x.shape
    s = np.zeros(n_rows)
    for i in range(t - 1):
        s += np.sign(x[:, i + 1:] - x[:, i:i + 1]).sum(axis=1)
    # ties: each value's group size c; a group of size g contributes g(g-1)(2g+5) once, i.e.
    # (c-1)(2c+5) for each of its members
    counts = (x[:, :, None] == x[:, None, :]).sum(axis=2).astype("float64")
    ties = ((counts - 1) * (2 * counts + 5)).sum(axis=1)
    var = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    p = _erfc(np.abs(z) / math.sqrt(2.0)).astype("float64")
    bad = np.isnan(x).any(axis=1)
    for arr in (s, var, z, p):
        arr[bad] = np.nan
    return s, var, z, p


def mann_kendall_smallest_p(n_periods):
    """The smallest two-sided p-value ``mann_kendall`` can give for a series of ``n_periods``
    values: that of a strictly monotone series, ``S = n(n-1)/2``, ``Var = n(n-1)(2n+5)/18``,
    ``p = 2 (1 - Phi((S - 1) / sqrt(Var)))`` (1.0 below 3 periods). Ties can only raise it: each
    tie group of size t lowers the largest |S| by t(t-1)/2 by more than it lowers the variance's
    square root (the tests check every tie pattern up to 12 periods)."""
    n = int(n_periods)
    if n < 3:
        return 1.0
    s = n * (n - 1) / 2.0
    var = n * (n - 1) * (2 * n + 5) / 18.0
    return float(math.erfc((s - 1.0) / math.sqrt(var) / math.sqrt(2.0)))


def min_periods_for_trend(alpha=0.05):
    """The fewest periods with which a Mann-Kendall trend can be significant (``p < alpha``):
    5 at 0.05, 4 at 0.10, 6 at 0.01."""
    n = 3
    while mann_kendall_smallest_p(n) >= alpha:
        n += 1
    return n


@dataclass(frozen=True)
class TrendTestability:
    """Whether a Mann-Kendall trend can be significant with ``periods`` periods at ``alpha``."""

    periods: int
    alpha: float
    smallest_p: float
    min_periods: int
    testable: bool
    note: str


def trend_testability(n_periods, alpha=0.05):
    """Can a trend over ``n_periods`` periods be significant at ``alpha`` (the level the trend
    labels and the emerging categories use)? Returns a ``TrendTestability`` whose ``note`` is
    the sentence to show (e.g. "trend not testable with 4 periods: needs at least 5")."""
    n = int(n_periods)
    p_min = mann_kendall_smallest_p(n)
    need = min_periods_for_trend(alpha)
    ok = p_min < alpha
    if ok:
        note = (f"Mann-Kendall trend testable with {n} periods (the smallest possible p is "
                f"{p_min:.3g}, below {alpha:g}).")
    elif n < 3:
        note = (f"trend not testable with {n} periods: needs at least {need} (a Mann-Kendall "
                f"trend needs at least 3 periods, and {need} to reach p < {alpha:g}).")
    else:
        note = (f"trend not testable with {n} periods: needs at least {need} (with {n} periods "
                f"the smallest possible Mann-Kendall p is {p_min:.2g}, not below {alpha:g}), so no "
                f"zone can show a significant increase or decrease, and 'intensifying' and "
                f"'diminishing' hot and cold spots cannot occur.")
    return TrendTestability(n, float(alpha), p_min, need, ok, note)


def trend_label(s, p, alpha=0.05):
    """'increasing' / 'decreasing' when p < alpha, else 'no trend'; None where S is NaN."""
    s = np.asarray(s, dtype="float64")
    p = np.asarray(p, dtype="float64")
    out = np.full(s.shape, "no trend", dtype=object)
    out[(p < alpha) & (s > 0)] = "increasing"
    out[(p < alpha) & (s < 0)] = "decreasing"
    out[np.isnan(s)] = None
    return out


# --------------------------------------------------------------------------------------------
# hotspots over time
# --------------------------------------------------------------------------------------------
def hotspot_transition(before, after, min_bin=2):
    """Transition of hot spots between two periods from Gi* bins (-3..3).

    hot = bin >= min_bin. new: not hot -> hot; ended: hot -> not hot; while hot in both:
    intensifying (bin rises), diminishing (bin falls), persistent (same bin). Otherwise "" (never
    hot); None where a bin is missing.
    """
    b = np.asarray(before, dtype="float64")
    a = np.asarray(after, dtype="float64")
    hb, ha = b >= min_bin, a >= min_bin
    out = np.full(b.shape, "", dtype=object)
    out[~hb & ha] = "new"
    out[hb & ~ha] = "ended"
    both = hb & ha
    out[both & (a > b)] = "intensifying"
    out[both & (a < b)] = "diminishing"
    out[both & (a == b)] = "persistent"
    out[np.isnan(a) | np.isnan(b)] = None
    return out


def _side_categories(sig, other, trend_up, trend_down, kind):
    """Emerging categories for one side (hot or cold); ``other`` = significant the other way."""
    n_rows, t = sig.shape
    h = sig.sum(axis=1)
    c = other.sum(axis=1)
    last = sig[:, -1]
    run = np.cumprod(sig[:, ::-1], axis=1).sum(axis=1)
    often = h / t >= 0.9
    out = np.full(n_rows, None, dtype=object)
    conds = [
        (last & (h == 1) & (c == 0), "new"),
        (last & often & trend_up, "intensifying"),
        (last & often & trend_down, "diminishing"),
        (last & often, "persistent"),
        (last & (c > 0), "oscillating"),
        (last & (run >= 2) & (run == h), "consecutive"),
        (last, "sporadic"),
        (~last & often, "historical"),
    ]
    for cond, name in conds:
        take = cond & (out == None)  # noqa: E711 (elementwise on an object array)
        out[take] = f"{name} {kind} spot"
    return out


def emerging_categories(bins, z=None, min_bin=2, alpha=0.05):
    """Emerging hot/cold spot category per zone (rows) from Gi* bins over periods (columns).

    ``z``: the Gi* z-scores (same shape) for the trend; without them the trend uses the bins.
    Rules: see the module docstring. Rows with a missing bin get None.
    """
    b = np.asarray(bins, dtype="float64")
    if b.ndim != 2 or b.shape[1] < 3:
        raise CompositeIndexError("Emerging hot spot categories need at least three periods.")
    series = b if z is None else np.asarray(z, dtype="float64")
    s, _, _, p = mann_kendall(series)
    sig_trend = np.nan_to_num(p, nan=1.0) < alpha
    up, down = sig_trend & (s > 0), sig_trend & (s < 0)
    hot, cold = b >= min_bin, b <= -min_bin
    out = _side_categories(hot, cold, up, down, "hot")
    cold_cat = _side_categories(cold, hot, down, up, "cold")
    take = out == None  # noqa: E711
    out[take] = cold_cat[take]
    out[out == None] = "no pattern"  # noqa: E711
    out[np.isnan(b).any(axis=1)] = None
    return out


# --------------------------------------------------------------------------------------------
# aligning and comparing
# --------------------------------------------------------------------------------------------
def _list_ids(ids, limit=10):
    ids = sorted(map(str, ids))
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def zone_keys(series):
    """Zone ids as text for matching (1.0 and 1 match; missing ids become None)."""
    key = series.astype(object).where(series.notna(), None)
    return key.map(lambda v: None if v is None else (
        str(int(v)) if isinstance(v, float) and float(v).is_integer() else str(v)))


def align_periods(frames, id_field="cell_id", labels=None):
    """Check that every period has exactly the same zone ids and reorder them as the first.

    Returns (ids, frames aligned on the first period's order). Refuses duplicate ids, missing
    ids and different id sets, naming the ids (and the periods) that differ.
    """
    if len(frames) < 2:
        raise CompositeIndexError("Comparing periods needs at least two periods.",
                                  hint="Give two or more index layers, oldest first.")
    labels = period_labels(len(frames), labels)
    keys = []
    for label, frame in zip(labels, frames):
        if id_field not in frame.columns:
            raise CompositeIndexError(
                f"Period '{label}' has no zone id field '{id_field}'.",
                hint=f"Fields that exist: {', '.join(map(str, frame.columns))}.")
        key = zone_keys(frame[id_field])
        if key.isna().any():
            raise CompositeIndexError(
                f"Period '{label}' has {int(key.isna().sum())} zone(s) without an id in "
                f"'{id_field}'.", hint="Every zone needs an id to be matched across periods.")
        dup = key[key.duplicated()].unique()
        if len(dup):
            raise CompositeIndexError(
                f"Period '{label}' repeats zone id(s) in '{id_field}': {_list_ids(dup)}.",
                hint="Zone ids must be unique; choose another id field.")
        keys.append(key)
    first = pd.Index(keys[0])
    for label, key in zip(labels[1:], keys[1:]):
        other = pd.Index(key)
        missing = first.difference(other)
        extra = other.difference(first)
        if len(missing) or len(extra):
            details = []
            if len(missing):
                details.append(f"{len(missing)} id(s) of '{labels[0]}' missing in '{label}': "
                               f"{_list_ids(missing)}")
            if len(extra):
                details.append(f"{len(extra)} id(s) of '{label}' not in '{labels[0]}': "
                               f"{_list_ids(extra)}")
            raise CompositeIndexError(
                f"Periods '{labels[0]}' and '{label}' do not have the same zones.",
                hint="Compare runs made on the same grid or zones (same cell size and origin).",
                details=details)
    aligned = [frames[0].reset_index(drop=True)]
    for frame, key in zip(frames[1:], keys[1:]):
        pos = pd.Index(key).get_indexer(first)
        aligned.append(frame.iloc[pos].reset_index(drop=True))
    return first.to_numpy(dtype=object), aligned


def period_labels(n, labels=None):
    """Labels for ``n`` periods, made safe for field names (``p1``.. when not given)."""
    if labels is None or len(labels) == 0:
        return [f"p{i + 1}" for i in range(n)]
    labels = [str(x).strip() for x in labels]
    if len(labels) != n:
        raise CompositeIndexError(f"{len(labels)} label(s) given for {n} periods.",
                                  hint="Give one label per period, comma-separated, oldest first.")
    safe = [re.sub(r"[^a-z0-9_]+", "_", x.lower()).strip("_") or f"p{i + 1}"
            for i, x in enumerate(labels)]
    if len(set(safe)) != n:
        raise CompositeIndexError(f"Period labels must be different: {', '.join(labels)}.")
    return safe


def decile_field(periods, k):
    """The per-zone comparison's field with the deciles of period ``k`` of ``periods`` (the
    labels as the gaps table shows them, e.g. ``2016-07``: the field is ``decile_2016_07``)."""
    return f"decile_{period_labels(len(periods), periods)[k]}"


@dataclass
class PeriodComparison:
    """``zones``: one row per zone (first period's order). ``gaps``: the gap per period and area
    with its change since the first period. ``messages``: notes for the log; ``warnings``: what
    the user must be told (e.g. a trend that cannot be significant); ``trend``: the
    ``TrendTestability`` of the Mann-Kendall trend (its ``note`` is for the printed report)."""

    zones: pd.DataFrame
    gaps: pd.DataFrame
    messages: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    trend: TrendTestability = None


def _scores(frame, score, label):
    if score not in frame.columns:
        raise CompositeIndexError(f"Period '{label}' has no score field '{score}'.",
                                  hint="Use the output of the index for each period.")
    return pd.to_numeric(frame[score], errors="coerce").to_numpy(dtype="float64")


def compare_periods(frames, id_field="cell_id", labels=None, score="ci_score", comparable=False,
                    area_names=(), overlaps=None, population="population", gap=None,
                    min_bin=2, alpha=0.05, progress=None):
    """Compare two or more index runs (oldest first) on the same zones.

    comparable: True when the runs share a frozen baseline (scores on one scale); otherwise
        score changes are left empty and the trend uses ranks.
    area_names / overlaps: areas for the gap (overlap table as in ``core.assessment``).
    population: population column for the gap weighting (used when every period has it).
    min_bin: a zone is a hot spot when ``gi_bin >= min_bin`` (2 = 95 % confidence).
    """
    progress = progress or NO_PROGRESS
    safe = period_labels(len(frames), labels)      # in field names
    # in the gaps table's text: as given, a blank one by its field name (p2, ...)
    shown = [str(x).strip() or f for x, f in zip(labels, safe)] if labels else safe
    labels = safe
    ids, frames = align_periods(frames, id_field, labels)
    t = len(frames)
    messages = []
    if not comparable:
        messages.append("The periods do not share a frozen baseline: each period's scores are "
                        "rescaled on that period alone, so score changes are not comparable; "
                        "the comparison uses ranks (and deciles).")
    scores = np.column_stack([_scores(f, score, lab) for f, lab in zip(frames, labels)])
    both = [need_ranks(scores[:, k]) for k in range(t)]      # (rank, rank of the last tied)
    ranks = np.column_stack([rank for rank, _last in both])
    n_valid = np.isfinite(scores).sum(axis=0)
    deciles = np.column_stack([rank_group(last, n_valid[k], 10)  # ties: the class of the last
                               for k, (_rank, last) in enumerate(both)])
    out = {id_field: ids}
    for k, lab in enumerate(labels):
        out[f"score_{lab}"] = scores[:, k]
        out[f"rank_{lab}"] = ranks[:, k]
        out[f"decile_{lab}"] = deciles[:, k]
    out["score_change"] = scores[:, -1] - scores[:, 0] if comparable else np.full(len(ids), np.nan)
    out["rank_change"] = ranks[:, 0] - ranks[:, -1]
    out["decile_change"] = deciles[:, 0] - deciles[:, -1]
    missing = int(np.isnan(scores).any(axis=1).sum())
    if missing:
        messages.append(f"{missing} zone(s) lack a score in at least one period; their changes "
                        "and trends are left empty.")
    progress.report(0.3)

    has_bins = all("gi_bin" in f.columns for f in frames)
    if has_bins:
        bins = np.column_stack([pd.to_numeric(f["gi_bin"], errors="coerce").to_numpy("float64")
                                for f in frames])
        out["hotspot_transition"] = hotspot_transition(bins[:, -2], bins[:, -1], min_bin)
    else:
        messages.append("Not every period has a gi_bin field: no hotspot transitions.")
    trend = trend_testability(t, alpha)
    warnings = []
    if t >= 3:
        series = scores if comparable else -ranks
        s, _, z, p = mann_kendall(series)
        out["trend_s"] = s
        out["trend_z"] = z
        out["trend_p"] = p
        label = trend_label(s, p, alpha)
        if not trend.testable:
            label[label == "no trend"] = "not testable"
        out["trend"] = label
        if has_bins:
            gz = None
            if all("gi_z" in f.columns for f in frames):
                gz = np.column_stack([pd.to_numeric(f["gi_z"], errors="coerce").to_numpy("float64")
                                      for f in frames])
            out["emerging"] = emerging_categories(bins, gz, min_bin, alpha)
    if not trend.testable and t >= 3:
        warnings.append(trend.note[0].upper() + trend.note[1:])
    elif not trend.testable:
        messages.append(f"No trend with {t} periods: a Mann-Kendall trend needs at least "
                        f"{trend.min_periods} periods to be significant at {alpha:g}.")
    progress.report(0.6)

    gaps, gap_text = period_gaps(frames, shown, score, area_names, overlaps, population, gap,
                                 progress=lambda f: progress.report(0.6 + 0.4 * f))
    messages.append("Gap per period: " + gap_text + ".")
    return PeriodComparison(pd.DataFrame(out), gaps, messages, warnings, trend)


def period_gaps(frames, labels, score="ci_score", area_names=(), overlaps=None,
                population="population", gap=None, progress=None):
    """The gap per period and area (``core.assessment.area_gaps``) and its change since the first
    period; returns (table, a sentence saying what the gap is).

    The top group follows ``gap["mode"]``: "cohort" and "worst_vs_average" keep the first
    period's top group in every period (a fixed cohort: a change is a change of the same
    places), "reselected" takes each period's own (a change then mixes real change with zones
    moving in and out of the group and with regression to the mean). The population weights are
    used when every period has the population field. The ratio is left out in every period when
    any period has a score below zero.
    Columns: ``period``, ``period_index``, ``top_group_of`` (the period whose top group is used),
    ``GAP_COLUMNS``, ``gap_diff_change``, ``gap_ratio_change``, ``gap_mode``, ``gap_definition``
    (the sentence).
    """
    gap = parse_gap(gap)
    labels = list(labels)
    use_pop = population if population and all(population in f.columns for f in frames) else None
    scores = [_scores(f, score, lab) for f, lab in zip(frames, labels)]
    with_ratio = all(ratio_allowed(x) for x in scores)
    pops = [pd.to_numeric(f[use_pop], errors="coerce").to_numpy("float64") if use_pop else None
            for f in frames]
    first_group, info = top_group(scores[0], gap, pops[0])
    fixed = None if gap["mode"] == "reselected" else first_group
    rows = []
    for k, (frame, lab) in enumerate(zip(frames, labels)):
        g = area_gaps(frame, area_names, overlaps, score, use_pop, gap, group=fixed,
                      ratio=with_ratio)
        g.insert(0, "period", lab)
        g.insert(1, "period_index", k + 1)
        g.insert(2, "top_group_of", labels[0] if fixed is not None else lab)
        rows.append(g)
        if progress is not None:
            progress((k + 1) / len(frames))
    gaps = pd.concat(rows, ignore_index=True)
    first = gaps[gaps["period_index"] == 1].set_index("area_name")
    for col in ("gap_diff", "gap_ratio"):
        gaps[f"{col}_change"] = gaps[col].to_numpy() - \
            first[col].reindex(gaps["area_name"]).to_numpy()
    gaps["gap_mode"] = gap["mode"]
    text = describe_gap(gap, info, baseline=labels[0], periods=len(frames))
    gaps["gap_definition"] = text
    return gaps, text
