"""The methodology note printed on the assessment: plain text written from a recipe or index spec.

Pure Python. Reads the recipe or index spec through the recipe model (``core.model``), so a
choice left out is described by the default the run used; says which measures, scalings,
weights and aggregations were chosen, grouped so the note stays short enough for a printed page.
"""
from composite_index_plugin.core import model, vocab

MEASURE_TEXT = {
    "value": "values as given",
    "volume": "counts",
    "rate": "rates",
    "eb_rate": "empirical Bayes smoothed rates",
    "eb_rate_spatial": "spatial empirical Bayes smoothed rates",
    "location_quotient": "location quotients",
    "density": "densities per km²",
    "clustering": "clustering scores",
}
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


def _label(item):
    return str(item.label or item.name or "").strip() or "?"


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def _join(words):
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _weight_text(items, what):
    weights = [(_label(i), i.weight) for i in items]
    values = {float(w) if isinstance(w, (int, float)) else 1.0 for _, w in weights}
    if len(values) <= 1:
        return f"{what}s weighted equally"
    parts = [f"{name} {float(w):g}" for name, w in weights]
    return f"{what} weights: " + ", ".join(parts)


def _as_model(doc):
    """The typed recipe or spec of ``doc`` (best effort: a part that is wrong is left out)."""
    if isinstance(doc, (model.Recipe, model.IndexSpec)):
        return doc
    if "recipe_version" in doc:
        return model.Recipe.parse(doc, model.Context("recipe"), "")
    return model.IndexSpec.parse(doc, model.Context("spec"), "")


def method_lines(doc) -> list:
    """Sentences of the note (list of str) from a recipe or index spec (a dict or the model).
    Choices left out take the model's defaults."""
    doc = _as_model(doc)
    themes = [t for t in (doc.themes if doc is not None and isinstance(doc.themes, list) else [])
              if isinstance(t, model.Theme)]
    if not themes:
        return ["Method: no index specification was given; see the project recipe."]
    issues = [(t, i) for t in themes for i in (t.issues if isinstance(t.issues, list) else [])
              if isinstance(i, model.Issue)]
    lines = []
    period = doc.get("period") if isinstance(doc, model.Recipe) else None
    head = (f"Composite index of {_plural(len(themes), 'theme')} "
            f"({'; '.join(_label(t) for t in themes)}) built from {_plural(len(issues), 'issue')}")
    if isinstance(period, model.Period) and (period.start or period.end):
        head += f", {period.start or '...'} to {period.end or '...'}"
    elif isinstance(period, str) and period:
        head += f", {period}"
    lines.append(head + ".")

    # which roles were used, how measured and scaled (grouped by choice)
    measures, scalings, roles_used, per_values, denominators = {}, {}, set(), set(), set()
    minimums = set()
    directions = 0
    n_ind = 0
    for _, issue in issues:
        for role, ind, _field in issue.measured():
            n_ind += 1
            roles_used.add(role)
            m, s = ind.measure, ind.scaling
            measures.setdefault(m, []).append(role)
            scalings[s] = scalings.get(s, 0) + 1
            if m in vocab.PER_MEASURES:
                per_values.add(ind.per)
                denominators.add(str(ind.denominator))
            if isinstance(ind.min_denominator, (int, float)) and ind.min_denominator > 0 \
                    and m in vocab.PER_MEASURES:
                minimums.add(float(ind.min_denominator))
            if ind.direction == "lower_is_worse":
                directions += 1
    roles_text = _join(r for r in vocab.ROLES if r in roles_used) or "no"
    lines.append(f"{_plural(n_ind, 'indicator')} describe {roles_text} per issue.")
    mparts = []
    for m, roles in sorted(measures.items(), key=lambda kv: -len(kv[1])):
        text = f"{MEASURE_TEXT.get(m, m)} ({len(roles)})"
        if m in vocab.PER_MEASURES and per_values:
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

    agg = doc.aggregation if isinstance(doc.aggregation, model.Aggregation) else model.Aggregation()
    a_issue = AGG_TEXT.get(agg.issue, agg.issue)
    a_theme = AGG_TEXT.get(agg.theme, agg.theme)
    a_comp = AGG_TEXT.get(agg.composite, agg.composite)
    if a_issue == a_theme == a_comp:
        lines.append(f"Indicators, issues and themes are combined by {a_issue}.")
    else:
        lines.append(f"Indicators are combined into issues by {a_issue}, issues into themes by "
                     f"{a_theme}, themes into the index by {a_comp}.")
    wparts = [_weight_text(themes, "Theme")]
    issues_of = {id(t): [i for th, i in issues if th is t] for t in themes}
    unequal = [t for t in themes if len({float(i.weight) for i in issues_of[id(t)]
                                         if isinstance(i.weight, (int, float))}) > 1]
    if unequal:
        for t in unequal:
            wparts.append(_weight_text(issues_of[id(t)], f"{_label(t)} issue"))
    else:
        wparts.append("issues weighted equally within each theme")
    lines.append("; ".join(wparts) + ".")
    if minimums:
        lines.append(f"Rates on fewer than {_join(f'{m:,g}' for m in sorted(minimums))} "
                     f"{_join(sorted(denominators))} are pooled with the study-area rate.")
    text = "Rank 1 and decile 1 mark the highest need; tied zones share a decile"
    if getattr(doc, "no_incidents", "lowest") == "lowest" and \
            any(m in vocab.COUNT_MEASURES for m in measures):
        text += ", and zones with no recorded incident are in the lowest"
    lines.append(text + ".")
    hot = doc.hotspots if isinstance(doc, model.Recipe) else None   # a recipe runs them
    if isinstance(hot, model.Hotspots) and hot.enabled:
        lines.append("Hotspots: Getis-Ord Gi* on the index score"
                     + (" with false discovery rate control." if hot.fdr else "."))
    return lines


def method_note(doc, max_chars: int = None) -> str:
    """The note as one paragraph; cut at a sentence boundary to ``max_chars`` (with "...")."""
    if not isinstance(doc, (dict, model.Recipe, model.IndexSpec)):
        return "Method: not recorded."
    lines = method_lines(doc)
    text = " ".join(lines)
    if max_chars is not None and len(text) > max_chars:
        kept = []
        for line in lines:
            if len(" ".join(kept + [line])) > max_chars - 4:
                break
            kept.append(line)
        text = " ".join(kept) + " ..."
    return text
