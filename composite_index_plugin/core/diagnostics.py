"""Diagnostics of a composite index, and its plain HTML report.

- Indicator correlation matrix (Pearson, over the zones in the index).
- Cronbach's alpha per theme over its scaled indicators:
  ``alpha = k / (k - 1) * (1 - sum var(x_i) / var(sum x_i))`` (Cronbach 1951; as used in the
  OECD/JRC Handbook on Constructing Composite Indicators, 2008, section 4.2).
- Effective weights: each indicator's share of the composite's variance,
  ``a_i cov(x_i, CI) / sum_j a_j cov(x_j, CI)`` with ``a_i`` the product of the weights along
  the indicator's path (normalised at mean/geometric levels, as given at sum/imd levels). For
  linear hierarchies (mean and sum) this is exactly ``a_i cov(x_i, CI) / var(CI)``; with
  geometric or imd levels it is a first-order approximation. Also the Pearson correlation of
  each indicator with the composite (Paruolo, Saisana & Saltelli 2013 use r^2 as main effect).
- Counts of empty values, zero denominators, imputed and excluded zones per indicator, of zones
  pooled for a small denominator, and the zones whose measured value lies more than the spec's
  ``z_warning`` standard deviations from the mean (``extreme``: which indicator, which zone, its
  z, count and denominator), listed in the report with why they matter.
"""
import html

import numpy as np
import pandas as pd


def _path_weight(node_weights, method):
    w = np.asarray(node_weights, dtype=np.float64)
    return w / w.sum() if method in ("mean", "geometric") else w


Z_WARNING_DEFAULT = 10.0
"""The index's ``z_warning``: zones more than this many standard deviations from an indicator's
mean are named (0 = off)."""
EXTREME_COLUMNS = ["indicator", "label", "zone", "row", "z", "measured", "count", "denominator"]


_CHUNK = 1 << 18   # zones per block of the covariance sums


def compute_diagnostics(root, indicators, scaled, ci, counts, theme_scores, n, n_in, extremes=None,
                        z_bound=None):
    """Diagnostics as DataFrames and dicts (see the module docstring)."""
    keys = [ind.key for ind in indicators]
    # Path coefficients a_i.
    coef = {}
    tw = _path_weight([t.weight for t in root.children], root.method)
    for ti, theme in enumerate(root.children):
        iw = _path_weight([i.weight for i in theme.children], theme.method)
        for ii, issue in enumerate(theme.children):
            dw = _path_weight([d.weight for d in issue.children], issue.method)
            for di, ind in enumerate(issue.children):
                coef[ind.key] = tw[ti] * iw[ii] * dw[di]
    a = np.array([coef[k] for k in keys])
    rows = [np.asarray(scaled[k], dtype=float) for k in keys]
    means = np.array([r.mean() for r in rows]) if n_in else np.full(len(keys), np.nan)
    mins, maxs = (np.array([r.min() for r in rows]), np.array([r.max() for r in rows])) \
        if n_in else (means, means)
    # Covariances with the index and between indicators, over zones in chunks: a stack of every
    # scaled indicator would be a copy of them all (7M zones x 30 indicators: 1.7 GB).
    ci_mean = ci.mean()
    cov = np.zeros(len(keys))
    gram = np.zeros((len(keys), len(keys)))
    for start in range(0, n_in if keys else 0, _CHUNK):
        xc = np.vstack([r[start:start + _CHUNK] for r in rows])
        xc -= means[:, None]
        cov += xc @ (ci[start:start + _CHUNK] - ci_mean)
        gram += xc @ xc.T
    cov /= max(n_in, 1)
    gram /= max(n_in, 1)
    yc = ci - ci_mean
    sd_x = np.sqrt(np.maximum(np.diag(gram), 0.0))
    sd_y = float(np.sqrt((yc * yc).mean()))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr_ci = cov / (sd_x * sd_y)
        contrib = a * cov
        total = contrib.sum()
        eff = contrib / total if total != 0 else np.full(len(keys), np.nan)
        corr = gram / np.outer(sd_x, sd_x)
    corr[~np.isfinite(corr)] = np.nan
    rows = []
    alpha = {}
    for theme in root.children:
        t_keys = [ind.key for issue in theme.children for ind in issue.children]
        idx = [keys.index(k) for k in t_keys]
        k = len(idx)
        if k >= 2:
            var_items = gram[idx, idx].sum()
            var_total = gram[np.ix_(idx, idx)].sum()
            alpha[theme.name] = float(k / (k - 1) * (1 - var_items / var_total)) if var_total > 0 \
                else float("nan")
        else:
            alpha[theme.name] = float("nan")
    for i, ind in enumerate(indicators):
        info = counts[ind.key]
        rows.append({
            "theme": ind.theme, "issue": ind.issue, "indicator": ind.name, "field": ind.field,
            "measure": ind.measure, "scaling": ind.scaling, "direction": ind.direction,
            "missing": ind.missing, "weight": ind.weight, "path_weight": float(a[i]),
            "effective_weight": float(eff[i]), "corr_with_index": float(corr_ci[i]),
            "theme_alpha": alpha[ind.theme],
            "n_empty": info["empty"], "n_zero_denominator": info["zero_denominator"],
            "n_imputed": info["imputed"], "n_excluded": info["excluded"],
            "n_pooled": info.get("pooled", 0), "n_extreme": info.get("extreme", 0),
            "max_abs_z": info.get("max_abs_z", float("nan")),
            "scaled_mean": float(means[i]) if n_in else float("nan"),
            "scaled_sd": float(sd_x[i]) if n_in else float("nan"),
            "scaled_min": float(mins[i]) if n_in else float("nan"),
            "scaled_max": float(maxs[i]) if n_in else float("nan"),
        })
    table = pd.DataFrame(rows)
    return {
        "indicators": table,
        "correlation": pd.DataFrame(corr, index=keys, columns=keys),
        "alpha": alpha,
        "extreme": pd.concat(extremes, ignore_index=True) if extremes else
        pd.DataFrame(columns=EXTREME_COLUMNS),
        "summary": {"zones": n, "zones_in_index": n_in, "zones_excluded": n - n_in,
                    "z_warning": z_bound,
                    "indicators": len(keys), "themes": len(root.children),
                    "issues": sum(len(t.children) for t in root.children),
                    "composite_method": root.method},
    }


def _fmt(value, digits=3):
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return "n/a"
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(frame, digits=3, index=False):
    head = ([""] if index else []) + [html.escape(str(c)) for c in frame.columns]
    out = ["<table>", "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for label, row in frame.iterrows():
        cells = ([f"<th>{html.escape(str(label))}</th>"] if index else []) + \
                [f"<td>{_fmt(v, digits)}</td>" for v in row.tolist()]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _corr_table(corr):
    keys = list(corr.columns)
    out = ["<table class='corr'>", "<tr><th></th>" + "".join(
        f"<th>{html.escape(k)}</th>" for k in keys) + "</tr>"]
    for k in keys:
        cells = []
        for v in corr.loc[k].tolist():
            if v is None or np.isnan(v):
                cells.append("<td>n/a</td>")
                continue
            # Blue for positive, orange for negative (colour-blind safe), strength by opacity.
            rgb = "33,102,172" if v >= 0 else "230,97,1"
            cells.append(f"<td style='background:rgba({rgb},{abs(v) * 0.6:.2f})'>{v:.2f}</td>")
        out.append(f"<tr><th>{html.escape(k)}</th>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _named(node):
    if node.label and node.label != node.name:
        return f"{html.escape(node.label)} ({html.escape(node.name)})"
    return html.escape(node.name)


def _hierarchy(root):
    lines = [f"<li>Composite: {html.escape(root.method)}<ul>"]
    for theme in root.children:
        lines.append(f"<li><b>{_named(theme)}</b>, weight "
                     f"{theme.weight:g}, combines its issues by {html.escape(theme.method)}<ul>")
        for issue in theme.children:
            lines.append(f"<li>{_named(issue)}, weight "
                         f"{issue.weight:g}, combines its indicators by {html.escape(issue.method)}<ul>")
            for ind in issue.children:
                extra = f" per {ind.options['denominator']}" if ind.options.get("denominator") else ""
                lines.append(f"<li>{html.escape(ind.name)}: field {html.escape(ind.field)}, "
                             f"{html.escape(ind.measure + extra)}, {html.escape(ind.scaling)}, "
                             f"{html.escape(ind.direction)}, weight {ind.weight:g}, missing "
                             f"{html.escape(ind.missing)}</li>")
            lines.append("</ul></li>")
        lines.append("</ul></li>")
    lines.append("</ul></li>")
    return "<ul>" + "\n".join(lines) + "</ul>"


EXTREME_LIMIT = 25
"""Zones listed per indicator in the HTML report (all of them are in ``diagnostics["extreme"]``)."""


def _extreme_section(d, table):
    """The report's section on small denominators and zones far from the mean."""
    bound = d["summary"].get("z_warning")
    extreme = d.get("extreme")
    pooled = table[table.get("n_pooled", pd.Series(0, index=table.index)) > 0] \
        if "n_pooled" in table.columns else table.iloc[0:0]
    parts = ["<h2>Small numbers: pooled zones and zones far from the mean</h2>"]
    if len(pooled):
        rows = pooled[["issue", "indicator", "field", "measure", "n_pooled"]]
        parts += ["<p class='note'>Rates on a handful of people are noise (3 burglaries among 2 "
                  "residents is 1,500 per 1,000). Zones whose denominator is above 0 and below the "
                  "indicator's min_denominator are pooled: a crude rate takes the study-area rate, "
                  "an empirical Bayes rate the prior mean. Their counts still count. Each is "
                  "flagged in &lt;issue&gt;_&lt;indicator&gt;_pooled.</p>", _table(rows)]
    if not bound:
        parts.append("<p class='note'>The warning on zones far from the mean is off "
                     "(z_warning = 0).</p>")
        return parts
    if extreme is None or not len(extreme):
        parts.append(f"<p class='note'>No zone's measured value lies more than {bound:g} standard "
                     "deviations from the mean of an indicator scaled by magnitude.</p>")
        return parts
    parts.append(f"<p class='note'>These zones' measured values lie more than {bound:g} standard "
                 "deviations from the indicator's mean (for a z-score on a frozen baseline or on "
                 "fixed values, that mean and SD: z is then the zone's scaled value). On a "
                 "z-score, min-max or raw scale such a zone dominates the indicator (everything "
                 "else is squeezed near zero) and can carry the composite by itself. The usual "
                 "cause is a small denominator: raise the indicator's min_denominator, use an "
                 "empirical Bayes rate, or use volume or "
                 "density; or scale by rank (percentile, rank, exponential). Largest first; at "
                 f"most {EXTREME_LIMIT} per indicator here.</p>")
    for _key, group in extreme.groupby("indicator", sort=False):
        shown = group.head(EXTREME_LIMIT)
        title = html.escape(str(group["label"].iloc[0]))
        more = f" (showing {len(shown)})" if len(group) > len(shown) else ""
        parts.append(f"<h3>{title}: {len(group)} zone(s){more}</h3>")
        cols = ["zone", "z", "measured", "count"]
        if group["denominator"].notna().any():
            cols.append("denominator")
        parts.append(_table(shown[cols]))
    return parts


CSS = """body{font-family:sans-serif;max-width:70em;margin:1em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}
th,td{border:1px solid #bbb;padding:2px 6px;text-align:right}th{background:#eee}
td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:0.9em}"""


def render_html(result, title="Composite index report"):
    """A self-contained HTML page (no scripts, no external files) explaining the index."""
    d = result.diagnostics
    s = d["summary"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{s['zones']:,} zones, {s['zones_in_index']:,} in the index, {s['zones_excluded']:,} left "
        f"out for missing data. {s['themes']} theme(s), {s['issues']} issue(s), "
        f"{s['indicators']} indicator(s). Spec fingerprint <code>{html.escape(result.fingerprint)}"
        "</code>" + (" (scaled with a frozen baseline)" if result.used_baseline else "") + ".</p>",
    ]
    if result.messages:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(m)}</li>"
                                                    for m in result.messages) + "</ul>")
    parts += ["<h2>How the index is built</h2>", _hierarchy(result.plan),
              "<p class='note'>Ranks: 1 = highest need; ties share the better rank. Deciles and "
              "quintiles: 1 = highest need. Theme percentages are each theme's share of the sum "
              "of absolute contributions to the score.</p>"]
    table = d["indicators"].copy()
    parts += ["<h2>Indicators</h2>",
              "<p class='note'>Effective weight: the indicator's share of the variance of the "
              "composite score (compare with its path weight). An indicator with a much larger or "
              "smaller effective weight than intended dominates or barely matters.</p>",
              _table(table)]
    parts += _extreme_section(d, table)
    alpha = pd.DataFrame({"theme": list(d["alpha"].keys()), "cronbach_alpha": list(d["alpha"].values())})
    parts += ["<h2>Internal consistency (Cronbach's alpha per theme)</h2>",
              "<p class='note'>Over the theme's scaled indicators; n/a with fewer than two. Values "
              "above about 0.7 suggest the indicators measure one thing.</p>", _table(alpha)]
    parts += ["<h2>Correlation between scaled indicators</h2>",
              "<p class='note'>Pearson, over the zones in the index. Blue positive, orange "
              "negative. Pairs above 0.9 may double count.</p>", _corr_table(d["correlation"])]
    parts.append("</body></html>")
    return "\n".join(parts)
