"""What each page of the printed assessment says: the table rows, the key figures, the chart data.

Pure pandas. Input is the area summary (fields of ``compositeindex:summariseareas``) plus, when
known, each area's mean issue index and the whole study area's values. Ranks are computed among
the areas that have data, 1 = highest value (highest need); the table's gap is the area's value
minus the whole study area's value (positive = more need than the study area as a whole). The
summary's own ``gap_diff`` (highest-need group vs the rest, inside the area) goes in the key figures.
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


def rank_among(values):
    """Competition ranks (1 = highest) among finite values; NaN stays NaN."""
    s = pd.Series(values, dtype=float)
    return s.rank(ascending=False, method="min")


def theme_names(columns):
    return [c[: -len("_mean")] for c in columns if c.endswith("_mean") and c != "mean_score"]


def build_pages(summary, name_field="area_name", issue_means=None, city=None, labels=None):
    """Pages and priority rows for the assessment.

    ``summary``: DataFrame, one row per area (the "Whole study area" row, if present, is used as
    the city reference and not paged). ``issue_means``: DataFrame indexed like ``summary`` with
    one column per issue (mean ``<issue>_idx`` of the area's zones), optional. ``city``: dict
    with ``score``, ``themes`` {name: value}, ``issues`` {name: value} (optional; overridden by a
    whole-area row). Returns ``(pages, priorities, city)``: ``pages`` has one row per area with
    ``page_id``, ``src_row`` (row of ``summary``), ``area_name``, ``no_data``, ``rank_text``,
    ``score_text``, ``gap_text``, ``top_theme_label``, ``chart`` (list of (label, value, city
    value)) and ``facts``;
    ``priorities`` has ``page_id``, ``row_order``, ``priority``, ``score``, ``rank``, ``gap``.
    """
    labels = labels or {}
    df = summary.reset_index(drop=True).copy()
    names = df[name_field].astype(str)
    whole = names.str.strip().str.lower() == WHOLE_AREA.lower()
    city = {"score": float("nan"), "themes": {}, "issues": {}} if city is None else \
        {"score": city.get("score", float("nan")), "themes": dict(city.get("themes", {})),
         "issues": dict(city.get("issues", {}))}
    themes = theme_names(df.columns)
    if whole.any():
        w = df[whole].iloc[0]
        if np.isfinite(_num(w.get("mean_score"))):
            city["score"] = _num(w.get("mean_score"))
        for t in themes:
            if np.isfinite(_num(w.get(f"{t}_mean"))):
                city["themes"][t] = _num(w.get(f"{t}_mean"))
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
        gap = score.iloc[i] - city["score"] if np.isfinite(city["score"]) else float("nan")
        chart = [(pretty(t, labels), float(theme_vals[t].iloc[i]), city["themes"].get(t, float("nan")))
                 for t in themes]
        top_theme = pretty(r.get("top_theme_1"), labels)
        page = {"page_id": pid, "src_row": int(src_rows[i]), "area_name": str(r[name_field]),
                "no_data": int(nd),
                "area_rank": int(score_rank.iloc[i]) if not nd and np.isfinite(score_rank.iloc[i]) else 0,
                "rank_text": "-" if nd else f"{int(score_rank.iloc[i])} of {n_with}",
                "score_text": "-" if nd else fmt(score.iloc[i], dec),
                "gap_text": "-" if nd else fmt(gap, dec, signed=True),
                "top_theme_label": "-" if nd else top_theme, "chart": chart}
        if nd:
            page["facts"] = "No data: no index zones fall in this area."
            rows.append({"page_id": pid, "row_order": 1, "priority": "No index zones in this area",
                         "score": "-", "rank": "-", "gap": "-"})
        else:
            whole = f" (whole study area {fmt(city['score'], dec)})" if np.isfinite(city["score"]) else ""
            parts = [f"Rank {page['rank_text']} areas", f"mean score {page['score_text']}{whole}"]
            pop = _num(r.get("population"))
            if np.isfinite(pop) and pop > 0:
                parts.append(f"{pop:,.0f} residents in {int(n_zones.iloc[i])} zones")
            else:
                parts.append(f"{int(n_zones.iloc[i])} zones")
            top_pct = _num(r.get("pop_top_decile_pct"))
            if np.isfinite(top_pct):
                parts.append(f"{top_pct:.0f}% of residents in the 10% highest-need zones")
            hot = _num(r.get("hotspot_km2"))
            if np.isfinite(hot):
                hp = _num(r.get("hotspot_pct"))
                parts.append(f"hotspots {hot:,.1f} km²" + (f" ({hp:.0f}% of the area)" if np.isfinite(hp)
                                                                   else ""))
            inner = _num(r.get("gap_diff"))
            if np.isfinite(inner):
                parts.append(f"gap between its highest-need zones and the rest {fmt(inner, dec)}")
            page["facts"] = " \u00b7 ".join(parts) + "."
            rows.append({"page_id": pid, "row_order": 1, "priority": "Composite index",
                         "score": page["score_text"], "rank": page["rank_text"], "gap": page["gap_text"]})
            order = 2
            for k in (1, 2, 3):
                t = r.get(f"top_theme_{k}")
                if not pretty(t):
                    continue
                val = theme_vals[t].iloc[i] if t in theme_vals else float("nan")
                rk = theme_rank[t].iloc[i] if t in theme_rank else float("nan")
                cval = city["themes"].get(t, float("nan"))
                rows.append({"page_id": pid, "row_order": order, "priority": f"Theme: {pretty(t, labels)}",
                             "score": fmt(val, tdec),
                             "rank": f"{int(rk)} of {n_with}" if np.isfinite(rk) else "-",
                             "gap": fmt(val - cval, tdec, signed=True) if np.isfinite(cval) else "-"})
                order += 1
            for k in (1, 2, 3):
                s = r.get(f"top_issue_{k}")
                if not pretty(s):
                    continue
                known = issue_means is not None and s in issue_means
                val = _num(issue_means[s].iloc[i]) if known else float("nan")
                rk = issue_rank[s].iloc[i] if s in issue_rank else float("nan")
                cval = city["issues"].get(s, float("nan"))
                rows.append({"page_id": pid, "row_order": order, "priority": f"Issue: {pretty(s, labels)}",
                             "score": fmt(val, tdec),
                             "rank": f"{int(rk)} of {n_with}" if np.isfinite(rk) else "-",
                             "gap": fmt(val - cval, tdec, signed=True) if np.isfinite(cval) else "-"})
                order += 1
        pages.append(page)
    return pd.DataFrame(pages), pd.DataFrame(rows, columns=["page_id", "row_order", "priority", "score",
                                                            "rank", "gap"]), city
