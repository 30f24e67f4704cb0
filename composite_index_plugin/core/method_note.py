"""The methodology note printed on the assessment: plain text written from a recipe or index spec.

Pure Python. Accepts a recipe dict (issues carry ``roles``) or an index spec (issues carry
``indicators``); says which measures, scalings, weights and aggregations were chosen, grouped so
the note stays short enough for a printed page.
"""

MEASURE_TEXT = {
    "volume": "counts",
    "rate": "rates",
    "share": "shares",
    "density": "densities per km²",
    "location_quotient": "location quotients",
    "eb_rate": "empirical Bayes smoothed rates",
    "eb_rate_spatial": "spatial empirical Bayes smoothed rates",
}
RATE_MEASURES = ("rate", "eb_rate", "eb_rate_spatial")
SCALING_TEXT = {
    "zscore": "z-scores",
    "zscore_fixed": "z-scores against a fixed mean and SD",
    "minmax": "min-max (0-1)",
    "minmax_fixed": "min-max against fixed bounds",
    "rank": "ranks",
    "percentile": "percentile ranks",
    "exponential": "exponential transform of ranks (as in the IMD)",
    "threshold": "share above a threshold",
    "raw": "no rescaling",
}
AGG_TEXT = {"mean": "weighted mean", "sum": "weighted sum",
            "geometric": "weighted geometric mean",
            "imd": "ranks, exponential transform and weighted sum (IMD method)"}
ROLE_ORDER = ("victims", "offenders", "locations")


def _label(item):
    return str(item.get("label") or item.get("name", "")).strip() or "?"


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def _join(words):
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _indicators(issue):
    block = issue.get("indicators") if isinstance(issue.get("indicators"), dict) else issue.get("roles")
    return block if isinstance(block, dict) else {}


def _weight_text(items, what):
    weights = [(_label(i), i.get("weight", 1)) for i in items]
    values = {float(w) if isinstance(w, (int, float)) else 1.0 for _, w in weights}
    if len(values) <= 1:
        return f"{what}s weighted equally"
    parts = [f"{name} {float(w):g}" for name, w in weights]
    return f"{what} weights: " + ", ".join(parts)


def method_lines(doc, defaults=None):
    """Sentences of the note (list of str) from a recipe or index spec dict."""
    defaults = dict({"measure": "volume", "scaling": "zscore"}, **(defaults or {}))
    themes = [t for t in doc.get("themes", []) if isinstance(t, dict)]
    if not themes:
        return ["Method: no index specification was given; see the project recipe."]
    issues = [(t, i) for t in themes for i in t.get("issues", []) if isinstance(i, dict)]
    lines = []
    period = doc.get("period")
    head = (f"Composite index of {_plural(len(themes), 'theme')} "
            f"({'; '.join(_label(t) for t in themes)}) built from {_plural(len(issues), 'issue')}")
    if isinstance(period, dict) and (period.get("start") or period.get("end")):
        head += f", {period.get('start', '...')} to {period.get('end', '...')}"
    elif isinstance(period, str) and period:
        head += f", {period}"
    lines.append(head + ".")

    # which roles were used, how measured and scaled (grouped by choice)
    measures, scalings, roles_used, per_values, denominators = {}, {}, set(), set(), set()
    directions = 0
    n_ind = 0
    for _, issue in issues:
        for role, ind in _indicators(issue).items():
            if not isinstance(ind, dict):
                continue
            n_ind += 1
            roles_used.add(role)
            m = ind.get("measure", defaults["measure"])
            s = ind.get("scaling", defaults["scaling"])
            measures.setdefault(m, []).append(role)
            scalings[s] = scalings.get(s, 0) + 1
            if m in RATE_MEASURES:
                per_values.add(ind.get("per", 1000))
                denominators.add(str(ind.get("denominator", "population")))
            if ind.get("direction") == "lower_is_worse":
                directions += 1
    roles_text = _join(r for r in ROLE_ORDER if r in roles_used) or "no"
    lines.append(f"{_plural(n_ind, 'indicator')} describe {roles_text} per issue.")
    mparts = []
    for m, roles in sorted(measures.items(), key=lambda kv: -len(kv[1])):
        text = f"{MEASURE_TEXT.get(m, m)} ({len(roles)})"
        if m in RATE_MEASURES and per_values:
            per = _join(f"{float(p):,g}" for p in sorted(per_values))
            text = f"{MEASURE_TEXT.get(m, m)} per {per} {_join(sorted(denominators))} ({len(roles)})"
        mparts.append(text)
    if mparts:
        lines.append("Measures: " + "; ".join(mparts) + ".")
    if scalings:
        sparts = [f"{SCALING_TEXT.get(s, s)} ({n})" for s, n in
                  sorted(scalings.items(), key=lambda kv: -kv[1])]
        lines.append("Scaling: " + "; ".join(sparts) + ".")
    if directions:
        lines.append(f"{_plural(directions, 'indicator')} where lower values mean more need "
                     "were turned round.")

    agg = doc.get("aggregation") if isinstance(doc.get("aggregation"), dict) else {}
    a_issue = AGG_TEXT.get(agg.get("issue", "mean"), agg.get("issue", "mean"))
    a_theme = AGG_TEXT.get(agg.get("theme", "mean"), agg.get("theme", "mean"))
    a_comp = AGG_TEXT.get(agg.get("composite", "mean"), agg.get("composite", "mean"))
    if a_issue == a_theme == a_comp:
        lines.append(f"Indicators, issues and themes are combined by {a_issue}.")
    else:
        lines.append(f"Indicators are combined into issues by {a_issue}, issues into themes by "
                     f"{a_theme}, themes into the index by {a_comp}.")
    wparts = [_weight_text(themes, "Theme")]
    unequal = [t for t in themes if len({float(i.get("weight", 1)) for i in t.get("issues", [])
                                          if isinstance(i, dict)}) > 1]
    if unequal:
        for t in unequal:
            wparts.append(_weight_text(t.get("issues", []), f"{_label(t)} issue"))
    else:
        wparts.append("issues weighted equally within each theme")
    lines.append("; ".join(wparts) + ".")
    lines.append("Rank 1 and decile 1 mark the highest need.")
    hot = doc.get("hotspots")
    if isinstance(hot, dict) and hot.get("enabled", True):
        fdr = hot.get("fdr", True)
        lines.append("Hotspots: Getis-Ord Gi* on the index score"
                     + (" with false discovery rate control." if fdr else "."))
    return lines


def method_note(doc, max_chars=None, defaults=None):
    """The note as one paragraph; cut at a sentence boundary to ``max_chars`` (with "...")."""
    if not isinstance(doc, dict):
        return "Method: not recorded."
    lines = method_lines(doc, defaults)
    text = " ".join(lines)
    if max_chars is not None and len(text) > max_chars:
        kept = []
        for line in lines:
            if len(" ".join(kept + [line])) > max_chars - 4:
                break
            kept.append(line)
        text = " ".join(kept) + " ..."
    return text
