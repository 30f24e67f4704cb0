"""What each page of the printed assessment says: the table rows, the key figures, the chart data.

Pure pandas. Input is the area summary (fields of ``compositeindex:summariseareas``) plus, when
known, each area's mean issue index and the whole study area's values, weighted as the area's
(population-weighted when the summary is). Ranks are computed among the areas that have data,
1 = highest value (highest need). Names of the measures, the same on every page:
- "difference from the whole area": an area's value minus the whole study area's value
  (positive = more need than the study area as a whole), in the priorities tables;
- "the gap": the top group's mean score minus that of the rest (or of everyone: see
  ``core.assessment.describe_gap``), the headline; an area's own ``gap_diff`` is "the gap within
  the area" in its key figures;
- "change": the last period's value minus the first's.
"""
import math

import numpy as np
import pandas as pd

WHOLE_AREA = "Whole study area"


def pretty(name, labels=None):
    """A reader's label for a theme/issue name: the recipe's label, else "domestic_abuse" ->
    "Domestic abuse"."""
    if name is None or (isinstance(name, float) and math.isnan(name)) or str(name) in ("", "NULL"):
        return ""
    if labels and name in labels:
        return str(labels[name])
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _num(value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return v


def decimals_for(values):
    """1 decimal for scores in the tens or more, 2 below (z-score-like scales)."""
    v = np.abs(np.asarray([x for x in values if np.isfinite(x)], dtype=float))
    if v.size == 0:
        return 2
    return 1 if np.nanmax(v) >= 10 else 2


def fmt(value, decimals, signed=False):
    v = _num(value)
    if not np.isfinite(v):
        return "-"
    if round(v, decimals) == 0:
        v = 0.0   # no "-0.00" / "+0.00"
        signed = False
    text = f"{v:+,.{decimals}f}" if signed else f"{v:,.{decimals}f}"
    return text.replace("-", "\u2212")


def fmt_diff(new, old, decimals):
    """``new - old`` as a page prints it: the difference of the two values each rounded to
    ``decimals``, as they are printed beside it, so a row adds up on the page (0.09 then 0.08
    is a change of -0.01, not "0.00"; 0.08 against 0.07 is +0.01, not "+0.02"). It is at most
    one unit of the last decimal from the unrounded difference, which that many decimals
    cannot tell apart anyway. "-" when either value is missing."""
    a, b = _num(new), _num(old)
    if not (np.isfinite(a) and np.isfinite(b)):
        return "-"
    return fmt(round(a, decimals) - round(b, decimals), decimals, signed=True)


def rank_among(values):
    """Competition ranks (1 = highest) among finite values; NaN stays NaN."""
    s = pd.Series(values, dtype=float)
    return s.rank(ascending=False, method="min")


def theme_names(columns, themes=None):
    """The themes of a summary: ``<theme>_mean`` columns (not ``mean_score``); with ``themes``
    (names known from the index zones, e.g. those with ``<t>_idx`` and ``<t>_pct``) only those,
    so an issue's ``<issue>_mean`` is not taken for a theme."""
    found = [c[: -len("_mean")] for c in columns if c.endswith("_mean") and c != "mean_score"]
    if themes is None:
        return found
    themes = set(themes)
    return [t for t in found if t in themes]


def build_pages(summary, name_field="area_name", issue_means=None, city=None, labels=None,
                themes=None, inner_gap=True):
    """Pages and priority rows for the assessment.

    ``summary``: DataFrame, one row per area (the "Whole study area" row, if present, is used as
    the city reference and not paged). ``issue_means``: DataFrame indexed like ``summary`` with
    one column per issue (the area's mean ``<issue>_idx``, weighted as its score), optional.
    ``city``: dict with ``score``, ``themes`` {name: value}, ``issues`` {name: value}, weighted
    as the areas' values (optional; overridden by a whole-area row). ``themes``: the theme names
    (default: every ``<name>_mean`` column). Returns ``(pages, priorities, city)``: ``pages`` has
    one row per area with ``page_id``, ``src_row`` (row of ``summary``), ``area_name``,
    ``no_data``, ``rank_text``, ``score_text``, ``diff_text``, ``top_theme_label``, ``chart``
    (list of (label, value, city value)) and ``facts``; ``priorities`` has ``page_id``,
    ``row_order``, ``priority``, ``score``, ``rank``, ``difference`` (from the whole area). The
    composite index comes first, then the area's top themes and top issues, each sorted by score
    (highest need first). ``inner_gap``: give the summary's gap within the area in the key
    figures (leave it out when the page shows the gap per period, so one page never shows two
    gaps measured differently).
    """
    labels = labels or {}
    df = summary.reset_index(drop=True).copy()
    names = df[name_field].astype(str)
    whole = names.str.strip().str.lower() == WHOLE_AREA.lower()
    city = {"score": float("nan"), "themes": {}, "issues": {}} if city is None else \
        {"score": city.get("score", float("nan")), "themes": dict(city.get("themes", {})),
         "issues": dict(city.get("issues", {}))}
    themes = theme_names(df.columns, themes)
    if whole.any():
        w = df[whole].iloc[0]
        if np.isfinite(_num(w.get("mean_score"))):
            city["score"] = _num(w.get("mean_score"))
        for t in themes:
            if np.isfinite(_num(w.get(f"{t}_mean"))):
                city["themes"][t] = _num(w.get(f"{t}_mean"))
        if issue_means is not None:
            row = issue_means.reset_index(drop=True)[whole.to_numpy()]
            for c in issue_means.columns:
                if len(row) and np.isfinite(_num(row[c].iloc[0])):
                    city["issues"][c] = _num(row[c].iloc[0])
    keep = ~whole
    src_rows = np.flatnonzero(keep.to_numpy())
    df = df[keep].reset_index(drop=True)
    if issue_means is not None:
        issue_means = issue_means.reset_index(drop=True)[keep.to_numpy()].reset_index(drop=True)
    n_zones = pd.to_numeric(df.get("n_zones", pd.Series(np.nan, index=df.index)), errors="coerce")
    score = pd.to_numeric(df.get("mean_score", pd.Series(np.nan, index=df.index)), errors="coerce")
    no_data = (n_zones.fillna(0) <= 0) | ~np.isfinite(score)
    n_with = int((~no_data).sum())
    score_rank = rank_among(score.where(~no_data))
    if "area_rank" in df.columns:
        given = pd.to_numeric(df["area_rank"], errors="coerce")
        score_rank = given.where((given > 0) & ~no_data, score_rank)
    theme_vals = {t: pd.to_numeric(df[f"{t}_mean"], errors="coerce").where(~no_data) for t in themes}
    theme_rank = {t: rank_among(v) for t, v in theme_vals.items()}
    issue_rank = {}
    if issue_means is not None:
        for c in issue_means.columns:
            issue_rank[c] = rank_among(pd.to_numeric(issue_means[c], errors="coerce").where(~no_data))
    dec = decimals_for(list(score.dropna()) + [city["score"]])
    tdec = decimals_for([v for vals in theme_vals.values() for v in vals.dropna()])

    pages, rows = [], []
    for i, r in df.iterrows():
        pid = i + 1
        nd = bool(no_data.iloc[i])
        chart = [(pretty(t, labels), float(theme_vals[t].iloc[i]), city["themes"].get(t, float("nan")))
                 for t in themes]
        top_theme = pretty(r.get("top_theme_1"), labels)
        page = {"page_id": pid, "src_row": int(src_rows[i]), "area_name": str(r[name_field]),
                "no_data": int(nd),
                "area_rank": int(score_rank.iloc[i]) if not nd and np.isfinite(score_rank.iloc[i]) else 0,
                "rank_text": "-" if nd else f"{int(score_rank.iloc[i])} of {n_with}",
                "score_text": "-" if nd else fmt(score.iloc[i], dec),
                "diff_text": "-" if nd else fmt_diff(score.iloc[i], city["score"], dec),
                "top_theme_label": "-" if nd else top_theme, "chart": chart}
        if nd:
            page["facts"] = "No data: no index zones fall in this area."
            rows.append({"page_id": pid, "row_order": 1, "priority": "No index zones in this area",
                         "score": "-", "rank": "-", "difference": "-"})
        else:
            whole = f" (whole study area {fmt(city['score'], dec)})" if np.isfinite(city["score"]) else ""
            parts = [f"Rank {page['rank_text']} areas", f"mean score {page['score_text']}{whole}"]
            pop = _num(r.get("population"))
            if np.isfinite(pop) and pop > 0:
                parts.append(f"{pop:,.0f} residents in {int(n_zones.iloc[i]):,} zones")
            else:
                parts.append(f"{int(n_zones.iloc[i]):,} zones")
            top_pct = _num(r.get("pop_top_decile_pct"))
            if np.isfinite(top_pct):
                parts.append(f"{top_pct:.0f}% of residents in decile 1 (the 10% highest-need zones)")
            hot = _num(r.get("hotspot_km2"))
            if np.isfinite(hot):
                hp = _num(r.get("hotspot_pct"))
                parts.append(f"hotspots {hot:,.1f} km²" + (f" ({hp:.0f}% of the area)" if np.isfinite(hp)
                                                                   else ""))
            inner = _num(r.get("gap_diff")) if inner_gap else float("nan")
            if np.isfinite(inner):
                parts.append(f"the gap within the area {fmt(inner, dec)}")
            page["facts"] = " \u00b7 ".join(parts) + "."
            rows.append({"page_id": pid, "row_order": 1, "priority": "Composite index",
                         "score": page["score_text"], "rank": page["rank_text"],
                         "difference": page["diff_text"]})
            section = []
            for k in (1, 2, 3):
                t = r.get(f"top_theme_{k}")
                if not pretty(t):
                    continue
                val = theme_vals[t].iloc[i] if t in theme_vals else float("nan")
                rk = theme_rank[t].iloc[i] if t in theme_rank else float("nan")
                cval = city["themes"].get(t, float("nan"))
                section.append((val, {"priority": f"Theme: {pretty(t, labels)}", "score": fmt(val, tdec),
                                      "rank": f"{int(rk)} of {n_with}" if np.isfinite(rk) else "-",
                                      "difference": fmt_diff(val, cval, tdec)}))
            issues = []
            for k in (1, 2, 3):
                s = r.get(f"top_issue_{k}")
                if not pretty(s):
                    continue
                known = issue_means is not None and s in issue_means
                val = _num(issue_means[s].iloc[i]) if known else float("nan")
                rk = issue_rank[s].iloc[i] if s in issue_rank else float("nan")
                cval = city["issues"].get(s, float("nan"))
                issues.append((val, {"priority": f"Issue: {pretty(s, labels)}", "score": fmt(val, tdec),
                                     "rank": f"{int(rk)} of {n_with}" if np.isfinite(rk) else "-",
                                     "difference": fmt_diff(val, cval, tdec)}))
            order = 2
            for group in (section, issues):
                # highest need first; unknown values last, in the summary's order
                for _, row in sorted(group, key=lambda vr: -vr[0] if np.isfinite(vr[0]) else np.inf):
                    rows.append(dict(row, page_id=pid, row_order=order))
                    order += 1
        pages.append(page)
    return pd.DataFrame(pages), pd.DataFrame(rows, columns=["page_id", "row_order", "priority", "score",
                                                            "rank", "difference"]), city


# --------------------------------------------------------------------------------------------
# counts per area
# --------------------------------------------------------------------------------------------
ROLES = ("victims", "offenders", "locations")


def count_columns(columns, issues):
    """{issue: {role: column}} for the ``<issue>_<role>`` count columns present, issue order kept."""
    present = set(columns)
    out = {}
    for issue in issues:
        roles = {r: f"{issue}_{r}" for r in ROLES if f"{issue}_{r}" in present}
        if roles:
            out[issue] = roles
    return out


def count_rows(pages, counts, labels=None):
    """Rows of the "incidents recorded" table of each area page.

    ``pages``: from ``build_pages``. ``counts``: DataFrame indexed like ``pages`` (one row per
    page) with ``<issue>_<role>`` columns (a split zone counting by its share, so the values are
    rounded to whole incidents here). Returns (rows, roles): rows with ``page_id``, ``row_order``,
    ``issue`` and one text column per role used (``victims`` / ``offenders`` / ``locations``);
    the last row of each page is "All issues".
    """
    labels = labels or {}
    issues = []
    for c in counts.columns:
        for r in ROLES:
            if c.endswith(f"_{r}") and c[: -len(r) - 1] not in issues:
                issues.append(c[: -len(r) - 1])
    spec = count_columns(counts.columns, issues)
    roles = [r for r in ROLES if any(r in v for v in spec.values())]
    rows = []
    for k, page in pages.reset_index(drop=True).iterrows():
        pid = int(page["page_id"])
        if int(page.get("no_data", 0)):
            rows.append(dict({"page_id": pid, "row_order": 1, "issue": "No index zones in this area"},
                             **{r: "-" for r in roles}))
            continue
        totals = dict.fromkeys(roles, 0.0)
        order = 1
        for issue, cols in spec.items():
            row = {"page_id": pid, "row_order": order, "issue": pretty(issue, labels)}
            for r in roles:
                v = _num(counts[cols[r]].iloc[k]) if r in cols else float("nan")
                row[r] = f"{v:,.0f}" if np.isfinite(v) else "-"
                if np.isfinite(v):
                    totals[r] += v
            rows.append(row)
            order += 1
        if len(spec) > 1:
            rows.append(dict({"page_id": pid, "row_order": order, "issue": "All issues"},
                             **{r: f"{totals[r]:,.0f}" for r in roles}))
    return pd.DataFrame(rows, columns=["page_id", "row_order", "issue"] + roles), roles


# --------------------------------------------------------------------------------------------
# the year-on-year story
# --------------------------------------------------------------------------------------------
def period_order(gaps):
    """Period labels of a gaps table (``core.periods.period_gaps``), oldest first."""
    g = gaps[["period", "period_index"]].drop_duplicates()
    g = g.assign(k=pd.to_numeric(g["period_index"], errors="coerce")).sort_values("k")
    return [str(p) for p in g["period"]]


def gap_over_time(gaps):
    """The headline gap per period from a gaps table (the "Whole study area" rows).

    Returns a dict: ``periods`` (labels, oldest first), ``rows`` (for the table: ``row_order``,
    ``period``, ``top``, ``versus``, ``gap``, ``change``; texts), ``chart`` [(period, gap)],
    ``decimals``, ``first`` / ``last`` (the gap values), ``change_text`` (last minus first, as
    printed), ``headline`` (one sentence).
    """
    periods = period_order(gaps)
    whole = gaps[gaps["area_name"].astype(str).str.strip().str.lower() == WHOLE_AREA.lower()]
    whole = whole.set_index(whole["period"].astype(str)).reindex(periods)
    gap = pd.to_numeric(whole["gap_diff"], errors="coerce")
    top = pd.to_numeric(whole["top_mean"], errors="coerce")
    versus = pd.to_numeric(whole.get("versus_mean", whole.get("rest_mean")), errors="coerce")
    # one decimal more than the scores': the table's gap is its top minus versus, and with two
    # decimals the rounded figures would not always add up
    dec = decimals_for(list(top.dropna()) + list(versus.dropna()) + list(gap.dropna())) + 1
    rows, chart = [], []
    for k, p in enumerate(periods):
        rows.append({"row_order": k + 1, "period": p, "top": fmt(top.iloc[k], dec),
                     "versus": fmt(versus.iloc[k], dec), "gap": fmt(gap.iloc[k], dec),
                     "change": "-" if k == 0 else fmt_diff(gap.iloc[k], gap.iloc[0], dec)})
        chart.append((p, float(gap.iloc[k])))
    first, last = float(gap.iloc[0]), float(gap.iloc[-1])
    change = round(last, dec) - round(first, dec)     # as printed: the two gaps rounded
    change_text = fmt_diff(last, first, dec)
    if not (np.isfinite(first) and np.isfinite(last)):
        headline = "The gap could not be measured in every period."
    elif round(change, dec) == 0:
        headline = f"The gap stayed at {fmt(last, dec)} from {periods[0]} to {periods[-1]}."
    else:
        verb = ("narrowed" if change < 0 else "widened") if first > 0 else "changed"
        headline = (f"The gap {verb} from {fmt(first, dec)} in {periods[0]} to {fmt(last, dec)} "
                    f"in {periods[-1]} ({change_text}).")
    return {"periods": periods, "rows": rows, "chart": chart, "decimals": dec, "first": first,
            "last": last, "change_text": change_text, "headline": headline}


def zone_change_counts(change, owner, n_areas, periods):
    """Per area (``owner``: the area index of each zone, -1 outside every area): zones in decile 1
    in the first and last period and hotspot cells before and after the last change, from the
    per-zone comparison (``decile_<period>``, ``hotspot_transition``). Returns a DataFrame with
    one row per area: ``decile1_first``, ``decile1_last``, ``hot_before``, ``hot_after``,
    ``hot_new``, ``hot_ended`` (NaN where the field is missing)."""
    owner = np.asarray(owner, dtype="int64")
    inside = owner >= 0
    out = pd.DataFrame(index=range(n_areas))

    def per_area(flag):
        flag = np.asarray(flag, dtype=bool) & inside
        return np.bincount(owner[flag], minlength=n_areas)[:n_areas].astype(float)

    from composite_index_plugin.core.periods import decile_field

    for key, k in (("decile1_first", 0), ("decile1_last", len(periods) - 1)):
        col = decile_field(periods, k)
        out[key] = per_area(pd.to_numeric(change[col], errors="coerce") == 1) if col in change \
            else np.nan
    if "hotspot_transition" in change:
        t = change["hotspot_transition"].fillna("").astype(str).to_numpy()
        stay = np.isin(t, ("persistent", "intensifying", "diminishing"))
        out["hot_before"] = per_area(stay | (t == "ended"))
        out["hot_after"] = per_area(stay | (t == "new"))
        out["hot_new"] = per_area(t == "new")
        out["hot_ended"] = per_area(t == "ended")
    else:
        for key in ("hot_before", "hot_after", "hot_new", "hot_ended"):
            out[key] = np.nan
    return out


def area_change_rows(pages, gaps, zone_counts=None, comparable=True):
    """Rows of the "change" table of each area page: ``page_id``, ``row_order``, ``measure``,
    ``first``, ``last``, ``change`` (last minus first; texts).

    ``gaps``: the gaps table (per period and area: ``mean_score``, ``gap_diff``); ``zone_counts``:
    ``zone_change_counts`` indexed like ``pages``; ``comparable``: scores share one scale (a
    frozen baseline), else the mean score row is left out (ranks still compare).
    """
    periods = period_order(gaps)
    first, last = periods[0], periods[-1]
    g = gaps.assign(_name=gaps["area_name"].astype(str))
    areas = g[g["_name"].str.strip().str.lower() != WHOLE_AREA.lower()]

    names = list(dict.fromkeys(areas["_name"]))

    def table(col):
        values = pd.to_numeric(areas[col], errors="coerce") if col in areas else np.nan
        t = areas.assign(_v=values).pivot_table(index="_name", columns="period", values="_v",
                                                aggfunc="first", dropna=False)
        return t.reindex(index=names, columns=periods)

    means, inner = table("mean_score"), table("gap_diff")
    ranks = means.rank(ascending=False, method="min")
    dec = decimals_for(list(np.ravel(means.to_numpy())) + list(np.ravel(inner.to_numpy())))
    rows = []
    for k, page in pages.reset_index(drop=True).iterrows():
        pid, name = int(page["page_id"]), str(page["area_name"])
        if int(page.get("no_data", 0)) or name not in means.index:
            rows.append({"page_id": pid, "row_order": 1, "measure": "No index zones in this area",
                         "first": "-", "last": "-", "change": "-"})
            continue
        items = []
        m0, m1 = means.loc[name, first], means.loc[name, last]
        if comparable:
            items.append(("Mean score", fmt(m0, dec), fmt(m1, dec), fmt_diff(m1, m0, dec)))
        r0, r1 = ranks.loc[name, first], ranks.loc[name, last]
        n_areas = int(means[last].notna().sum())
        if np.isfinite(r0) and np.isfinite(r1):
            items.append((f"Rank of {n_areas} areas", f"{int(r0)}", f"{int(r1)}",
                          fmt(r1 - r0, 0, signed=True)))
        g0, g1 = inner.loc[name, first], inner.loc[name, last]
        items.append(("The gap within the area", fmt(g0, dec), fmt(g1, dec), fmt_diff(g1, g0, dec)))
        if zone_counts is not None:
            zc = zone_counts.iloc[k]
            if np.isfinite(zc.get("decile1_first", np.nan)):
                d0, d1 = zc["decile1_first"], zc["decile1_last"]
                items.append(("Zones in decile 1", f"{d0:,.0f}", f"{d1:,.0f}", fmt(d1 - d0, 0, signed=True)))
            if np.isfinite(zc.get("hot_after", np.nan)):
                h0, h1 = zc["hot_before"], zc["hot_after"]
                label = "Hotspot cells" if len(periods) == 2 else f"Hotspot cells ({periods[-2]} to {last})"
                items.append((label, f"{h0:,.0f}", f"{h1:,.0f}",
                              f"{zc['hot_new']:,.0f} new, {zc['hot_ended']:,.0f} ended"
                              if h0 or h1 else "0"))
        for order, (measure, a, b, c) in enumerate(items, start=1):
            rows.append({"page_id": pid, "row_order": order, "measure": measure, "first": a,
                         "last": b, "change": c})
    return pd.DataFrame(rows, columns=["page_id", "row_order", "measure", "first", "last", "change"])


def _nice(value):
    """1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    mag = 10 ** np.floor(np.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= value * (1 - 1e-9):
            return float(m * mag)
    return float(10 * mag)


def _step_decimals(step):
    """Decimals that show multiples of ``step`` exactly (0.25 -> 2, 0.5 -> 1, 5 -> 0)."""
    for d in range(0, 7):
        if abs(round(step, d) - step) < 1e-9 * max(step, 1):
            return d
    return 6


def diverging_classes(values, per_side=3):
    """Classes for a change map, symmetric about 0: a middle class around 0 ("about the same")
    and ``per_side`` classes either side, the outer ones open-ended. Breaks fall on multiples of
    a round step (1, 2, 2.5 or 5 times a power of ten) chosen so that ``per_side`` steps reach the
    95th percentile of |change|: -3s or less, -3s to -2s, -2s to -s, -s to +s, ... Whole-number
    changes (deciles, ranks) get whole steps and labels naming whole numbers. Returns
    [(lower, upper, label)], lowest first; a value on a break belongs to the class below it."""
    v = np.asarray(values, dtype=float)
    v = np.abs(v[np.isfinite(v)])
    integer = v.size > 0 and bool(np.allclose(v, np.round(v)))
    reach = float(np.quantile(v, 0.95)) if v.size else 0.0
    if integer:
        step = max(1.0, float(np.ceil(reach / per_side)))
        edges = [k * step - 0.5 for k in range(1, per_side + 1)]   # between whole numbers

        def name(lo, hi):
            a = int(np.floor(lo)) + 1 if np.isfinite(lo) else None
            b = int(np.floor(hi)) if np.isfinite(hi) else None
            if a is None:
                return f"{fmt(b, 0, signed=True)} or less"
            if b is None:
                return f"{fmt(a, 0, signed=True)} or more"
            if a == b:
                return "0 (no change)" if a == 0 else fmt(a, 0, signed=True)
            return f"{fmt(a, 0, signed=True)} to {fmt(b, 0, signed=True)}"
    else:
        step = _nice(reach / per_side) if reach > 0 else 1.0
        edges = [round(k * step, 12) for k in range(1, per_side + 1)]
        dec = _step_decimals(step)

        def name(lo, hi):
            if not np.isfinite(lo):
                return f"{fmt(hi, dec, signed=True)} or less"
            if not np.isfinite(hi):
                return f"{fmt(lo, dec, signed=True)} or more"
            return f"{fmt(lo, dec, signed=True)} to {fmt(hi, dec, signed=True)}"
    bounds = [-np.inf] + [-e for e in reversed(edges)] + edges + [np.inf]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        label = name(lo, hi)
        if lo == -edges[0] and not integer:
            label += " (about the same)"
        elif lo == -edges[0] and label != "0 (no change)":
            label += " (about the same)"
        out.append((float(lo), float(hi), label))
    return out
