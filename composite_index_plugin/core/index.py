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
  denominator or an area);
- ``<issue>_idx``, ``<theme>_idx`` the sub-indices; ``ci_score`` the composite;
- ``ci_rank`` (1 = highest need, ties share the better rank), ``ci_decile`` and ``ci_quintile``
  (1 = highest need, ``ceil(rank * 10 / N)`` as the English Indices of Deprivation);
- ``top_theme`` and ``top_issue``: the largest contribution to the zone's score;
- ``<theme>_pct``: the theme's contribution as a percent of the sum of absolute contributions
  (the plain share whenever the contributions are all positive);
- ``ci_excluded``: 1 where the zone was left out (missing data under the ``exclude`` policy).
Rank, decile and quintile are integers when no zone is excluded, else floats with NaN.
Columns come grouped by type: measured, scaled, sub-indices, ``ci_score``, theme percents, rank,
decile, quintile, zero-denominator flags, ``ci_excluded``, top theme and top issue.

Missing data (per indicator ``missing``): ``exclude`` (default) leaves the zone out of the index
(all its index outputs are empty) and counts it; ``zero`` treats an empty field as 0 and an
undefined measure (zero denominator) as 0; ``mean`` puts the mean of the zones that have a value.
Zero-denominator zones are always flagged in ``<issue>_<indicator>_zd`` and counted.
"""
import hashlib
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from composite_index_plugin.core import measures as _measures
from composite_index_plugin.core import scaling as _scaling
from composite_index_plugin.core.combine import AGGREGATIONS, combine, shares
from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.recipe import Problem
from composite_index_plugin.core.scaling import DEFAULT_C, SCALINGS

MEASURES = ("value", "volume", "rate", "eb_rate", "eb_rate_spatial", "location_quotient", "density",
            "clustering")
DIRECTIONS = ("higher_is_worse", "lower_is_worse")
MISSING = ("exclude", "zero", "mean")
LEVELS = ("issue", "theme", "composite")
CLUSTERING_METHODS = ("field", "gi_star")
NEIGHBOUR_METHODS = ("queen", "rook", "distance", "knn")

INDICATOR_KEYS = ("field", "label", "description", "measure", "denominator", "per", "scaling",
                  "direction", "weight", "missing", "scale_to", "min", "max", "mean", "sd",
                  "threshold", "c", "clustering", "options")
# Keys that may also be given inside an indicator's "options" object (the recipe's roles do).
OPTION_KEYS = ("denominator", "per", "scale_to", "min", "max", "mean", "sd", "threshold", "c",
               "clustering")
ISSUE_KEYS = ("name", "label", "description", "weight", "indicators", "aggregation")
THEME_KEYS = ("name", "label", "description", "weight", "issues", "aggregation")
SPEC_KEYS = ("themes", "aggregation", "neighbours", "name", "label", "description", "version")
RESERVED = ("ci_score", "ci_rank", "ci_decile", "ci_quintile", "top_theme", "top_issue",
            "ci_excluded")

NEEDS_DENOMINATOR = ("rate", "eb_rate", "eb_rate_spatial", "location_quotient")
COUNT_MEASURES = ("volume", "rate", "eb_rate", "eb_rate_spatial", "location_quotient", "density")
NEEDS_NEIGHBOURS = ("eb_rate_spatial",)
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
BASELINE_FORMAT = "compositeindex-baseline"
BASELINE_VERSION = 1

# Which options apply to which choice; any other option is reported as not applying.
_OPTION_FOR = {
    "denominator": ("measure", NEEDS_DENOMINATOR + ("clustering",)),
    "per": ("measure", ("rate", "eb_rate", "eb_rate_spatial", "clustering")),
    "clustering": ("measure", ("clustering",)),
    "scale_to": ("scaling", ("minmax", "minmax_fixed")),
    "min": ("scaling", ("minmax_fixed",)),
    "max": ("scaling", ("minmax_fixed",)),
    "mean": ("scaling", ("zscore_fixed",)),
    "sd": ("scaling", ("zscore_fixed",)),
    "threshold": ("scaling", ("threshold",)),
    "c": ("scaling", ("exponential",)),
}
_REQUIRED_FOR = {"minmax_fixed": ("min", "max"), "zscore_fixed": ("mean", "sd"),
                 "threshold": ("threshold",)}


# ----------------------------------------------------------------------------------- validation

def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _choices(options):
    return ", ".join(options)


def _column_kinds(columns):
    """Normalise ``columns``: None, an iterable of names (existence only) or a mapping
    name -> numeric? (bool, numpy dtype or dtype string). Returns (names, {name: bool|None})."""
    if columns is None:
        return None, {}
    if isinstance(columns, pd.DataFrame):
        columns = {c: columns[c].dtype for c in columns.columns}
    if isinstance(columns, dict):
        kinds = {}
        for name, kind in columns.items():
            if isinstance(kind, bool) or kind is None:
                kinds[name] = kind
            else:
                try:
                    kinds[name] = np.dtype(kind).kind in "iufb"
                except TypeError:
                    kinds[name] = None
        return set(columns), kinds
    names = set(columns)
    return names, {}


def _check_weight(obj, path, problems):
    if "weight" in obj and not (_is_number(obj["weight"]) and obj["weight"] >= 0):
        problems.append(Problem(f"{path}.weight", f"weight must be a number >= 0, got {obj['weight']!r}.",
                                "Use a non-negative number; weights default to 1."))


def _check_sibling_weights(items, path, what, problems):
    weights = [it.get("weight", 1) for it in items if isinstance(it, dict)]
    if weights and all(_is_number(w) and w >= 0 for w in weights) and sum(weights) <= 0:
        problems.append(Problem(path, f"the weights of the {what} add up to zero.",
                                "Give at least one of them a positive weight."))


def _check_name(obj, path, problems, seen):
    name = obj.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(Problem(f"{path}.name", f"name {name!r} is not a valid name.",
                                "Use lowercase letters, digits and _, starting with a letter "
                                "(it becomes part of field names)."))
        return None
    if name in seen:
        problems.append(Problem(f"{path}.name", f"name '{name}' is used twice (also at {seen[name]}).",
                                "Give every theme and issue its own name."))
        return None
    seen[name] = path
    return name


def flatten_indicator(ind):
    """The indicator with its ``options`` object merged in (options given at the top win)."""
    opts = ind.get("options")
    if not isinstance(opts, dict):
        return ind
    flat = {k: v for k, v in ind.items() if k != "options"}
    for k, v in opts.items():
        if k in OPTION_KEYS:
            flat.setdefault(k, v)
    return flat


def _check_indicator(key, ind, path, problems, names, kinds):
    if not isinstance(ind, dict):
        problems.append(Problem(path, "an indicator must be an object with at least a 'field'.",
                                'Write e.g. {"field": "my_field"}.'))
        return None
    opts = ind.get("options", {})
    if not isinstance(opts, dict):
        problems.append(Problem(f"{path}.options", "options must be an object.",
                                'Write e.g. {"min": 0, "max": 100}.'))
    else:
        for k in opts:
            if k not in OPTION_KEYS:
                problems.append(Problem(f"{path}.options.{k}", f"unknown option '{k}'.",
                                        "Options are: " + _choices(OPTION_KEYS) + "."))
    if isinstance(opts, dict):
        ind = flatten_indicator(ind)
    else:
        ind = {k: v for k, v in ind.items() if k != "options"}
    if not isinstance(key, str) or not NAME_RE.match(key):
        problems.append(Problem(path, f"indicator name {key!r} is not a valid name.",
                                "Use lowercase letters, digits and _, starting with a letter."))
    for k in ind:
        if k not in INDICATOR_KEYS:
            problems.append(Problem(f"{path}.{k}", f"unknown option '{k}'.",
                                    "Options are: " + _choices(INDICATOR_KEYS) + "."))
    measure = ind.get("measure", "value")
    scaling = ind.get("scaling", "minmax")
    if measure not in MEASURES:
        problems.append(Problem(f"{path}.measure", f"unknown measure {measure!r}.",
                                "Use one of: " + _choices(MEASURES) + "."))
    if scaling not in SCALINGS:
        problems.append(Problem(f"{path}.scaling", f"unknown scaling {scaling!r}.",
                                "Use one of: " + _choices(SCALINGS) + "."))
    if ind.get("direction", "higher_is_worse") not in DIRECTIONS:
        problems.append(Problem(f"{path}.direction", f"unknown direction {ind.get('direction')!r}.",
                                "Use one of: " + _choices(DIRECTIONS) + "."))
    if ind.get("missing", "exclude") not in MISSING:
        problems.append(Problem(f"{path}.missing", f"unknown missing-data policy {ind.get('missing')!r}.",
                                "Use one of: " + _choices(MISSING) + "."))
    _check_weight(ind, path, problems)
    fld = ind.get("field")
    if not isinstance(fld, str) or not fld:
        problems.append(Problem(f"{path}.field", "the indicator has no field.",
                                "Name the numeric field of the zone layer that holds it."))
    current = {"measure": measure, "scaling": scaling}
    for opt, (level, allowed) in _OPTION_FOR.items():
        if opt in ind and current[level] not in allowed:
            problems.append(Problem(f"{path}.{opt}", f"'{opt}' does not apply to {level} '{current[level]}'.",
                                    f"Remove it, or use a {level} it applies to: {_choices(allowed)}."))
    for opt in ("per", "scale_to", "c"):
        if opt in ind and not (_is_number(ind[opt]) and ind[opt] > 0):
            problems.append(Problem(f"{path}.{opt}", f"'{opt}' must be a number > 0, got {ind[opt]!r}.",
                                    "Use a positive number."))
    for opt in _REQUIRED_FOR.get(scaling, ()):
        if opt not in ind:
            problems.append(Problem(f"{path}.{opt}", f"scaling '{scaling}' needs '{opt}'.",
                                    f"Give {', '.join(_REQUIRED_FOR[scaling])} in the field's units."))
        elif not _is_number(ind[opt]):
            problems.append(Problem(f"{path}.{opt}", f"'{opt}' must be a number, got {ind[opt]!r}.",
                                    "Use a number in the field's units."))
    if scaling == "minmax_fixed" and _is_number(ind.get("min")) and _is_number(ind.get("max")) \
            and not ind["max"] > ind["min"]:
        problems.append(Problem(f"{path}.max", f"max ({ind['max']}) must be larger than min ({ind['min']}).",
                                "Give the range the scale should span."))
    if scaling == "zscore_fixed" and _is_number(ind.get("sd")) and not ind["sd"] > 0:
        problems.append(Problem(f"{path}.sd", f"sd must be > 0, got {ind['sd']}.",
                                "Give the standard deviation of the reference data."))
    if measure in NEEDS_DENOMINATOR and not ind.get("denominator"):
        problems.append(Problem(f"{path}.denominator", f"measure '{measure}' needs a denominator field.",
                                "Name the field to divide by (e.g. population), or use measure "
                                "volume."))
    if "clustering" in ind and ind["clustering"] not in CLUSTERING_METHODS:
        problems.append(Problem(f"{path}.clustering", f"unknown clustering {ind['clustering']!r}.",
                                "Use 'field' (a kernel-ratio field as it is) or 'gi_star'."))
    for opt in ("field", "denominator"):
        col = ind.get(opt)
        if not isinstance(col, str) or not col or names is None:
            continue
        if col not in names:
            problems.append(Problem(f"{path}.{opt}", f"field '{col}' is not in the layer.",
                                    "Fields that exist: " + ", ".join(sorted(names)) + "."))
        elif kinds.get(col) is False:
            problems.append(Problem(f"{path}.{opt}", f"field '{col}' is not numeric.",
                                    "Choose a numeric field, or convert it with the field calculator."))
    return scaling


def _method(obj, spec_agg, level):
    return obj.get("aggregation", spec_agg.get(level, "mean")) if isinstance(obj, dict) else "mean"


def validate_spec(spec, columns=None):
    """Every problem of an index spec, as ``core.recipe.Problem(path, message, hint)``.

    ``columns``: optional; an iterable of the layer's field names (checks that fields exist) or
    a mapping name -> dtype / numeric bool (also checks they are numeric), or a DataFrame.
    An empty list means the spec is good.
    """
    problems = []
    names, kinds = _column_kinds(columns)
    if not isinstance(spec, dict):
        return [Problem("$", "the index spec must be a JSON object with 'themes'.",
                        'Start from {"themes": [...], "aggregation": {...}}.')]
    for k in spec:
        if k not in SPEC_KEYS:
            problems.append(Problem(k, f"unknown key '{k}'.", "Keys are: " + _choices(SPEC_KEYS) + "."))
    agg = spec.get("aggregation", {})
    if not isinstance(agg, dict):
        problems.append(Problem("aggregation", "aggregation must be an object.",
                                'Write e.g. {"issue": "mean", "theme": "mean", "composite": "mean"}.'))
        agg = {}
    for k, v in agg.items():
        if k == "c":
            if not (_is_number(v) and v > 0):
                problems.append(Problem("aggregation.c", f"c must be a number > 0, got {v!r}.",
                                        "The IMD uses 23."))
        elif k not in LEVELS:
            problems.append(Problem(f"aggregation.{k}", f"unknown level '{k}'.",
                                    "Levels are: issue, theme, composite (and c for imd)."))
        elif v not in AGGREGATIONS:
            problems.append(Problem(f"aggregation.{k}", f"unknown aggregation {v!r}.",
                                    "Use one of: " + _choices(AGGREGATIONS) + "."))
    nb = spec.get("neighbours")
    if nb is not None:
        if not isinstance(nb, dict) or nb.get("method") not in NEIGHBOUR_METHODS:
            problems.append(Problem("neighbours.method", "neighbours need a method.",
                                    "Use one of: " + _choices(NEIGHBOUR_METHODS) + "."))
        elif nb["method"] == "distance" and not (_is_number(nb.get("distance")) and nb["distance"] > 0):
            problems.append(Problem("neighbours.distance", "a distance band needs 'distance' > 0.",
                                    "Give the band in layer units (metres for a projected CRS)."))
        elif nb["method"] == "knn" and not (isinstance(nb.get("k"), int) and nb["k"] > 0):
            problems.append(Problem("neighbours.k", "k nearest neighbours needs an integer 'k' > 0.",
                                    "E.g. 8."))
    themes = spec.get("themes")
    if not isinstance(themes, list) or not themes:
        problems.append(Problem("themes", "the spec has no themes.",
                                "Add at least one theme with at least one issue and one indicator."))
        return problems
    seen_names = {}
    outputs = {name: "(reserved)" for name in RESERVED}

    def claim(col, path):
        if col in outputs:
            problems.append(Problem(path, f"output field '{col}' would be made twice (also by "
                                          f"{outputs[col]}).",
                                    "Rename a theme, issue or indicator so output fields differ."))
        else:
            outputs[col] = path

    _check_sibling_weights(themes, "themes", "themes", problems)
    theme_items = []
    for ti, theme in enumerate(themes):
        tpath = f"themes[{ti}]"
        if not isinstance(theme, dict):
            problems.append(Problem(tpath, "a theme must be an object.",
                                    'Write {"name": ..., "issues": [...]}.'))
            continue
        for k in theme:
            if k not in THEME_KEYS:
                problems.append(Problem(f"{tpath}.{k}", f"unknown key '{k}'.",
                                        "Keys are: " + _choices(THEME_KEYS) + "."))
        tname = _check_name(theme, tpath, problems, seen_names)
        _check_weight(theme, tpath, problems)
        if tname:
            claim(f"{tname}_idx", f"{tpath}.name")
            claim(f"{tname}_pct", f"{tpath}.name")
        if "aggregation" in theme and theme["aggregation"] not in AGGREGATIONS:
            problems.append(Problem(f"{tpath}.aggregation", f"unknown aggregation {theme['aggregation']!r}.",
                                    "Use one of: " + _choices(AGGREGATIONS) + "."))
        issues = theme.get("issues")
        if not isinstance(issues, list) or not issues:
            problems.append(Problem(f"{tpath}.issues", "the theme has no issues.",
                                    "Add at least one issue with indicators."))
            continue
        _check_sibling_weights(issues, f"{tpath}.issues", "issues", problems)
        issue_positive = []
        for ii, issue in enumerate(issues):
            ipath = f"{tpath}.issues[{ii}]"
            if not isinstance(issue, dict):
                problems.append(Problem(ipath, "an issue must be an object.",
                                        'Write {"name": ..., "indicators": {...}}.'))
                issue_positive.append(False)
                continue
            for k in issue:
                if k not in ISSUE_KEYS:
                    problems.append(Problem(f"{ipath}.{k}", f"unknown key '{k}'.",
                                            "Keys are: " + _choices(ISSUE_KEYS) + "."))
            iname = _check_name(issue, ipath, problems, seen_names)
            _check_weight(issue, ipath, problems)
            if iname:
                claim(f"{iname}_idx", f"{ipath}.name")
            if "aggregation" in issue and issue["aggregation"] not in AGGREGATIONS:
                problems.append(Problem(f"{ipath}.aggregation",
                                        f"unknown aggregation {issue['aggregation']!r}.",
                                        "Use one of: " + _choices(AGGREGATIONS) + "."))
            inds = issue.get("indicators")
            if not isinstance(inds, dict) or not inds:
                problems.append(Problem(f"{ipath}.indicators", "the issue has no indicators.",
                                        'Add e.g. {"victims": {"field": "..."}}.'))
                issue_positive.append(False)
                continue
            _check_sibling_weights(list(inds.values()), f"{ipath}.indicators", "indicators", problems)
            positive = []
            for key, ind in inds.items():
                path = f"{ipath}.indicators.{key}"
                scaling = _check_indicator(key, ind, path, problems, names, kinds)
                if scaling is None:
                    positive.append((key, False, 1))
                    continue
                if iname and isinstance(key, str):
                    claim(f"{iname}_{key}_s", path)
                    if ind.get("measure", "value") != "value":
                        claim(f"{iname}_{key}_m", path)
                positive.append((key, scaling in _scaling.POSITIVE_SCALINGS, ind.get("weight", 1)))
            method = _method(issue, agg, "issue")
            issue_positive.append(_node_positive(method, positive, ipath, "aggregation" in issue,
                                                 "issue", problems, "indicator", _scaling_of(inds)))
        tmethod = _method(theme, agg, "theme")
        issue_items = [(it.get("name", str(i)) if isinstance(it, dict) else str(i), pos,
                        it.get("weight", 1) if isinstance(it, dict) else 1)
                       for i, (it, pos) in enumerate(zip(issues, issue_positive))]
        theme_items.append((theme.get("name", str(ti)),
                            _node_positive(tmethod, issue_items, tpath, "aggregation" in theme,
                                           "theme", problems, "issue", {}),
                            theme.get("weight", 1)))
    _node_positive(agg.get("composite", "mean"), theme_items, "", True, "composite", problems,
                   "theme", {})
    return problems


def _scaling_of(inds):
    return {k: v.get("scaling", "minmax") for k, v in inds.items() if isinstance(v, dict)}


def _node_positive(method, children, path, explicit, level, problems, what, scalings):
    """Is the node's score always > 0? Reports a geometric mean over children that may be <= 0.

    ``children``: (name, positive?, weight); ``explicit``: the node sets its own aggregation."""
    if method not in AGGREGATIONS:
        return False
    live = [(name, pos) for name, pos, w in children if not (_is_number(w) and w == 0)]
    if method == "geometric":
        bad = [name for name, pos in live if not pos]
        if bad:
            if level == "composite":
                where = "aggregation.composite"
            elif explicit:
                where = f"{path}.aggregation"
            else:
                where = f"{path}.aggregation (from aggregation.{level})"
            detail = ", ".join(f"{b} ({scalings[b]})" if b in scalings else b for b in bad)
            problems.append(Problem(
                where, f"a geometric mean needs values above zero, but {what} {detail} can be zero "
                       "or negative.",
                "Scale those children with percentile, rank or exponential, or aggregate with "
                "mean, sum or imd."))
        return not bad
    if method == "imd":
        return True
    return all(pos for _, pos in live) and bool(live)


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
    """The validated spec as nested Nodes with every default filled in."""
    agg = spec.get("aggregation", {})
    themes = []
    for ti, theme in enumerate(spec["themes"]):
        tpath = f"themes[{ti}]"
        issues = []
        for ii, issue in enumerate(theme["issues"]):
            ipath = f"{tpath}.issues[{ii}]"
            inds = []
            for key, ind in issue["indicators"].items():
                opts = {k: v for k, v in flatten_indicator(ind).items() if k not in ("label", "description")}
                opts.setdefault("measure", "value")
                opts.setdefault("scaling", "minmax")
                opts.setdefault("direction", "higher_is_worse")
                opts.setdefault("missing", "exclude")
                opts.setdefault("weight", 1)
                if opts["measure"] in ("rate", "eb_rate", "eb_rate_spatial") or (
                        opts["measure"] == "clustering" and opts.get("denominator")):
                    opts.setdefault("per", 1000)
                if opts["measure"] == "clustering":
                    opts.setdefault("clustering", "field")
                if opts["scaling"] in ("minmax", "minmax_fixed"):
                    opts.setdefault("scale_to", 1)
                if opts["scaling"] == "exponential":
                    opts.setdefault("c", DEFAULT_C)
                inds.append(Indicator(theme["name"], issue["name"], key, f"{issue['name']}_{key}",
                                      f"{ipath}.indicators.{key}", opts["field"], opts["measure"],
                                      opts["scaling"], opts["direction"], opts["missing"],
                                      float(opts["weight"]), opts))
            issues.append(Node(issue["name"], issue.get("label", issue["name"]), ipath,
                               float(issue.get("weight", 1)),
                               issue.get("aggregation", agg.get("issue", "mean")), inds))
        themes.append(Node(theme["name"], theme.get("label", theme["name"]), tpath,
                           float(theme.get("weight", 1)),
                           theme.get("aggregation", agg.get("theme", "mean")), issues))
    root = Node("ci", "Composite index", "", 1.0, agg.get("composite", "mean"), themes)
    return root, float(agg.get("c", DEFAULT_C))


def _plan_json(root, c):
    def node(n):
        if isinstance(n, Indicator):
            return {"name": n.name, "options": n.options}
        return {"name": n.name, "weight": n.weight, "method": n.method,
                "children": [node(ch) for ch in n.children]}
    return {"root": node(root), "c": c}


def spec_fingerprint(spec):
    """A short hash of what the spec computes (labels and descriptions left out, defaults filled
    in), so a baseline can only be applied to the spec it was fitted for."""
    root, c = _plan(spec)
    text = json.dumps(_plan_json(root, c), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _indicators_of(spec):
    for theme in spec.get("themes", []) if isinstance(spec, dict) else []:
        for issue in theme.get("issues", []) if isinstance(theme, dict) else []:
            inds = issue.get("indicators", {}) if isinstance(issue, dict) else {}
            for ind in inds.values() if isinstance(inds, dict) else []:
                if isinstance(ind, dict):
                    yield flatten_indicator(ind)


def spec_fields(spec):
    """Sorted names of every field the spec reads (indicator fields and denominators)."""
    names = set()
    for ind in _indicators_of(spec):
        for key in ("field", "denominator"):
            if isinstance(ind.get(key), str) and ind[key]:
                names.add(ind[key])
    return sorted(names)


def spec_needs(spec):
    """``(areas, neighbours)``: does any indicator need the zones' areas (density) or their
    neighbours (spatial EB rate, Gi* clustering)?"""
    areas = neighbours = False
    for ind in _indicators_of(spec):
        measure = ind.get("measure", "value")
        areas |= measure == "density"
        neighbours |= measure == "eb_rate_spatial" or (
            measure == "clustering" and ind.get("clustering") == "gi_star")
    return areas, neighbours


def simple_spec(fields, scaling="minmax", aggregation="mean", direction="higher_is_worse"):
    """The toolbox spec for analysts without a recipe: one theme, one issue, one indicator per
    field (measure ``value``), the same scaling for each, combined with ``aggregation``."""
    inds = {}
    for f in fields:
        key = re.sub(r"[^a-z0-9_]", "_", str(f).lower()).strip("_") or "field"
        if not key[0].isalpha():
            key = "f_" + key
        base, n = key, 2
        while key in inds:
            key, n = f"{base}_{n}", n + 1
        inds[key] = {"field": f, "scaling": scaling, "direction": direction}
    return {"themes": [{"name": "index", "issues": [{"name": "all", "indicators": inds}]}],
            "aggregation": {"issue": aggregation, "theme": "mean", "composite": "mean"}}


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
    """Measured value of one indicator, its zero-denominator mask and its empty-field mask."""
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
    if measure in ("value", "volume") or (measure == "clustering" and o["clustering"] == "field"):
        values = raw.copy()
    elif measure == "rate":
        values, zero = _measures.rate(raw, den, o["per"])
    elif measure == "eb_rate":
        values, zero = _measures.eb_rate(raw, den, o["per"])
    elif measure == "eb_rate_spatial":
        if neighbours is None:
            raise CompositeIndexError(
                f"Indicator {label}: the spatial empirical Bayes rate needs the zones' neighbours.",
                hint="Give a neighbourhood (spec 'neighbours'), or use eb_rate.")
        values, zero = _measures.eb_rate_spatial(raw, den, neighbours, o["per"])
    elif measure == "location_quotient":
        values, zero = _measures.location_quotient(raw, den)
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
            base, zero = _measures.rate(raw, den, o["per"])
        values = _measures.gi_star_z(base, neighbours)
    else:  # validated earlier
        raise CompositeIndexError(f"Indicator {label}: unknown measure '{measure}'.")
    return values, zero, empty, label


# pandas 1.x/2.x copy every block in concat unless told not to; pandas 3 never copies (and
# deprecates the keyword).
_NO_COPY = {"copy": False} if int(pd.__version__.split(".")[0]) < 3 else {}


def _rank_desc(score):
    """Competition rank from the top: 1 = largest, ties share the better rank."""
    sorted_scores = np.sort(score)
    return len(score) - np.searchsorted(sorted_scores, score, side="right") + 1


def build_index(df, spec, baseline=None, neighbours=None, zone_area=None, progress=None):
    """Compute the composite index of ``spec`` over the zones of ``df``.

    ``baseline``: a dict written by an earlier run (``IndexResult.baseline``) to scale on that
    run's parameters. ``neighbours``: CSR (``.indptr``, ``.indices``; self excluded), for
    ``eb_rate_spatial`` and Gi* clustering. ``zone_area``: m^2 per zone, for ``density``.
    Raises CompositeIndexError naming the spec path, field or row for anything wrong.
    """
    progress = progress or NO_PROGRESS
    kinds = {c: None for c in df.columns}
    for c in spec_fields(spec):
        if c not in kinds:
            continue
        if df[c].dtype.kind in "iufb":
            kinds[c] = True
        else:  # text columns holding numbers (or nothing) are fine
            conv = pd.to_numeric(df[c], errors="coerce")
            kinds[c] = bool((conv.notna() | df[c].isna()).all())
    problems = validate_spec(spec, kinds)
    if problems:
        raise CompositeIndexError(
            f"The index spec has {len(problems)} problem(s).",
            hint="Fix them and run again.", details=[str(p) for p in problems])
    root, c = _plan(spec)
    fingerprint = spec_fingerprint(spec)
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

    measured_out, flags_out = {}, {}
    messages = []
    measured = {}
    counts = {}
    excluded = np.zeros(n, dtype=bool)
    steps = len(indicators) + 4
    for k, ind in enumerate(indicators):
        values, zero, empty, label = _measure(ind, cols, n, zone_area, neighbours)
        undefined = np.isnan(values)
        info = {"empty": int(empty.sum()), "zero_denominator": int(zero.sum()),
                "imputed": 0, "excluded": 0}
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
        counts[ind.key] = info
        measured[ind.key] = values
        if ind.measure not in ("value", "volume"):
            measured_out[f"{ind.key}_m"] = values
        if ind.options.get("denominator") or ind.measure == "density":
            flags_out[f"{ind.key}_zd"] = zero
        progress.report((k + 1) / steps)

    included = ~excluded
    n_in = int(included.sum())
    if n_in == 0:
        raise CompositeIndexError("Every zone was left out because of missing data.",
                                  hint="Use the missing policy 'zero' or 'mean' for sparse indicators.")
    if excluded.any():
        messages.insert(0, f"{int(excluded.sum())} of {n} zone(s) left out of the index "
                           "(missing data under the 'exclude' policy); their index fields are empty.")

    fitted = {"indicators": {}, "nodes": {}}
    base_ind = baseline.get("indicators", {}) if baseline else {}
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
            params, scaled[ind.key] = _scaling.fit_apply(v, ind.options, label)
        else:
            scaled[ind.key] = _scaling.apply(v, ind.options, params, label)
        fitted["indicators"][ind.key] = {k: v_ for k, v_ in params.items() if k != "frozen"}
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
            issue_scores[issue.name] = s
        s, contrib = node_score(theme, "theme", lambda iss: issue_scores[iss.name])
        theme_scores[theme.name] = s
        with np.errstate(divide="ignore", invalid="ignore"):
            for issue, cpart in zip(theme.children, contrib):
                frac = np.where(s != 0, cpart / np.where(s != 0, s, 1.0),
                                issue.weight / sum(i.weight for i in theme.children))
                issue_share_in_theme[issue.name] = frac
    ci, theme_contrib = node_score(root, "composite", lambda th: theme_scores[th.name])
    progress.report((len(indicators) + 2) / steps)

    any_excluded = bool(excluded.any())
    trio_cols = ["ci_rank", "ci_decile", "ci_quintile"]
    float_cols = list(measured_out) + [f"{ind.key}_s" for ind in indicators]
    for theme in root.children:
        float_cols += [f"{issue.name}_idx" for issue in theme.children] + [f"{theme.name}_idx"]
    float_cols += ["ci_score"] + [f"{theme.name}_pct" for theme in root.children]
    int_cols = list(flags_out) + ["ci_excluded"]
    # Rank, decile and quintile are floats (NaN for excluded zones) or integers.
    if any_excluded:
        float_cols += trio_cols
    else:
        int_cols = trio_cols + int_cols
    # One preallocated block per dtype, so pandas neither copies nor consolidates columns.
    block = np.empty((len(float_cols), n))
    int_block = np.empty((len(int_cols), n), dtype=np.int64)
    rows = iter(range(len(float_cols)))

    def put(values, whole=False):
        row = block[next(rows)]
        if whole or not any_excluded:
            row[:] = values
        else:
            row.fill(np.nan)
            row[included] = values

    for values in measured_out.values():
        put(values, whole=True)
    for ind in indicators:
        put(scaled[ind.key])
    for theme in root.children:
        for issue in theme.children:
            put(issue_scores[issue.name])
        put(theme_scores[theme.name])
    put(ci)
    for part in 100.0 * shares(theme_contrib):
        put(part)
    rank = _rank_desc(ci)
    trio = [rank, np.ceil(rank * 10.0 / n_in), np.ceil(rank * 5.0 / n_in)]
    if any_excluded:
        for values in trio:
            put(values)
    else:
        int_block[:3] = trio
    for i, zero in enumerate(flags_out.values(), start=len(int_cols) - len(flags_out) - 1):
        int_block[i] = zero
    int_block[-1] = excluded
    theme_names = np.array([th.name for th in root.children], dtype=object)
    issue_list = [(t_i, iss) for t_i, th in enumerate(root.children) for iss in th.children]
    issue_contrib = np.vstack([theme_contrib[t_i] * issue_share_in_theme[iss.name]
                               for t_i, iss in issue_list])
    issue_names = np.array([iss.name for _, iss in issue_list], dtype=object)
    tops = np.full((2, n), None, dtype=object)
    tops[0, included] = theme_names[np.argmax(theme_contrib, axis=0)]
    tops[1, included] = issue_names[np.argmax(issue_contrib, axis=0)]
    frames = [pd.DataFrame(block.T, index=df.index, columns=float_cols, copy=False),
              pd.DataFrame(int_block.T, index=df.index, columns=int_cols, copy=False),
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

    diagnostics = compute_diagnostics(root, indicators, scaled, ci, counts, theme_scores, n, n_in)
    progress.report(1.0)
    return IndexResult(table=table, baseline=baseline_out, diagnostics=diagnostics,
                       fingerprint=fingerprint, messages=messages, spec=spec,
                       used_baseline=baseline is not None, plan=root)
