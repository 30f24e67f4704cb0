"""Scaling (normalisation) of one indicator, with fitted parameters that can be frozen.

Every scaling works on the *need orientation*: with ``direction = "lower_is_worse"`` the
values are turned round so that a larger scaled value always means more need. Fixed parameters
(``min``/``max``, ``mean``/``sd``, ``threshold``) are given in the field's own units.

Ranks and ties (one rule everywhere, the one the English Indices of Deprivation use): zones are
ranked from the highest need, tied zones share the better (needier) position - competition
ranking "1224" - and the rank-based scalings use ``R = (N - need_rank + 1) / N``, so R = 1 for
the highest need. This reproduces the IMD exponential transform from the published domain ranks
(MHCLG, English Indices of Deprivation 2019/2025 Technical Report, section on combining domains).

- ``percentile`` = 100 R (100 for the highest need);
- ``rank`` = R N, i.e. 1..N with N the highest need;
- ``exponential`` = -C ln(1 - R (1 - e^(-100/C))), 0..100, C = 23 by default;
- ``zscore`` uses the population SD (divide by N); ``minmax`` maps to 0..1, or 0..``scale_to``;
- ``threshold`` = 1 where the value is at or beyond ``threshold`` in the need direction, else 0.
"""
import numpy as np

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.vocab import (  # noqa: F401 - the scalings' names live in vocab
    POSITIVE_SCALINGS,
    RANK_BASED,
    SCALINGS,
)

DEFAULT_C = 23.0
# How many points of the reference distribution a frozen rank-based scaling keeps.
MAX_QUANTILES = 1001


def orient(values, direction):
    """Values in need orientation: as they are, or negated for ``lower_is_worse``."""
    return -values if direction == "lower_is_worse" else values


def reverse(scaled, scaling, scale_to=1.0):
    """Turn a scaled indicator round (more need <-> less need) on its own scale.

    Min-max scales map s -> top - s, others (z, raw) s -> -s. Applying it twice is the identity.
    """
    if scaling in ("minmax", "minmax_fixed"):
        return scale_to - scaled
    if scaling == "threshold":
        return 1.0 - scaled
    return -scaled


def sorted_rank_fraction(oriented):
    """(sorted values, R in original order) with one argsort: R = max_rank / N, where tied
    values share the largest rank of their group (competition ranking from the top)."""
    n = len(oriented)
    order = np.argsort(oriented)
    sorted_values = oriented[order]
    last = np.empty(n, dtype=bool)
    if n:
        last[-1] = True
        np.not_equal(sorted_values[1:], sorted_values[:-1], out=last[:-1])
    group_end = np.minimum.accumulate(np.where(last, np.arange(n), n)[::-1])[::-1]
    r = np.empty(n, dtype=np.float64)
    r[order] = (group_end + 1.0) / max(n, 1)
    return sorted_values, r


def rank_fraction(oriented):
    """``R = max_rank / N`` in (0, 1]: R = 1 for the highest value; tied values share the
    larger rank (competition ranking from the top). NaN is not allowed here."""
    return sorted_rank_fraction(np.asarray(oriented, dtype=np.float64))[1]


def exponential_transform(r, c=DEFAULT_C):
    """IMD exponential transform ``X = -C ln(1 - R (1 - exp(-100 / C)))`` of R in (0, 1];
    X runs from 0 to 100 and stretches the high-need end (MHCLG IoD technical report)."""
    return -c * np.log1p(-r * (1.0 - np.exp(-100.0 / c)))


def reference_quantiles(oriented, sorted_values=None):
    """A compact reference distribution: sorted values at evenly spaced positions, with the
    rank fraction of each (``R`` of the largest of its ties), at most MAX_QUANTILES points."""
    if sorted_values is None:
        sorted_values = np.sort(oriented)
    n = len(sorted_values)
    m = min(n, MAX_QUANTILES)
    pos = np.unique(np.round(np.linspace(0, n - 1, m)).astype(np.int64))
    q = sorted_values[pos]
    p = np.searchsorted(sorted_values, q, side="right") / n
    return {"quantiles": q.tolist(), "fractions": p.tolist(), "n": int(n)}


def fraction_from_baseline(oriented, params):
    q = np.asarray(params["quantiles"], dtype=np.float64)
    p = np.asarray(params["fractions"], dtype=np.float64)
    # Below the reference minimum: the smallest fraction; above the maximum: 1.
    return np.interp(oriented, q, p, left=p[0], right=1.0)


def fit(values, options, label):
    """Fit the parameters of ``options["scaling"]`` on ``values`` (field units, no NaN).

    ``label`` names the indicator in error messages. Returns a JSON-serialisable dict.
    """
    scaling = options.get("scaling", "minmax")
    direction = options.get("direction", "higher_is_worse")
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        raise CompositeIndexError(f"Indicator {label}: no zone has a value to scale.",
                                  hint="Check the field and the missing-data policy.")
    if scaling == "zscore":
        mean = float(values.mean())
        sd = float(values.std())
        if not sd > 0 or sd <= 1e-12 * max(1.0, abs(mean)):
            raise CompositeIndexError(
                f"Indicator {label}: every zone has the same value ({mean:g}), so its z-score "
                "is undefined (standard deviation 0).",
                hint="Remove the indicator, or use another scaling (e.g. raw or threshold).")
        return {"scaling": scaling, "mean": mean, "sd": sd}
    if scaling == "minmax":
        lo, hi = float(values.min()), float(values.max())
        if not hi > lo:
            raise CompositeIndexError(
                f"Indicator {label}: every zone has the same value ({lo:g}), so min-max "
                "scaling is undefined (max = min).",
                hint="Remove the indicator, or use minmax_fixed with a given range.")
        return {"scaling": scaling, "min": lo, "max": hi}
    if scaling in RANK_BASED:
        out = {"scaling": scaling, "direction": direction}
        out.update(reference_quantiles(orient(values, direction)))
        return out
    return {"scaling": scaling}


def fit_apply(values, options, label):
    """``fit`` then ``apply`` on the same values, sorting only once for rank-based scalings.
    Returns ``(params, scaled)``."""
    scaling = options.get("scaling", "minmax")
    if scaling not in RANK_BASED:
        params = fit(values, options, label)
        return params, apply(values, options, params, label)
    direction = options.get("direction", "higher_is_worse")
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        raise CompositeIndexError(f"Indicator {label}: no zone has a value to scale.",
                                  hint="Check the field and the missing-data policy.")
    sorted_values, r = sorted_rank_fraction(orient(x, direction))
    params = {"scaling": scaling, "direction": direction}
    params.update(reference_quantiles(None, sorted_values))
    return params, _from_fraction(r, len(x), options)


def _from_fraction(r, n, options):
    scaling = options.get("scaling")
    if scaling == "percentile":
        return 100.0 * r
    if scaling == "rank":
        return r * n
    return exponential_transform(r, float(options.get("c", DEFAULT_C)))


def apply(values, options, params=None, label=""):
    """Scale ``values`` (field units; NaN stays NaN) with ``options`` and fitted ``params``.

    ``params`` comes from ``fit`` on this data, or from a frozen baseline. Rank-based scalings
    with params from this same data rank the values directly; with a baseline they place each
    value within the baseline's reference distribution (linear interpolation between stored
    quantiles), so a later year is measured on the baseline year's scale.
    """
    scaling = options.get("scaling", "minmax")
    direction = options.get("direction", "higher_is_worse")
    sign = -1.0 if direction == "lower_is_worse" else 1.0
    x = np.asarray(values, dtype=np.float64)
    scale_to = float(options.get("scale_to", 1))
    if scaling in ("zscore", "zscore_fixed"):
        src = params if scaling == "zscore" else options
        return sign * (x - float(src["mean"])) / float(src["sd"])
    if scaling in ("minmax", "minmax_fixed"):
        src = params if scaling == "minmax" else options
        lo, hi = float(src["min"]), float(src["max"])
        t = (x - lo) / (hi - lo)
        if sign < 0:
            t = 1.0 - t
        return scale_to * t
    if scaling in RANK_BASED:
        oriented = sign * x
        r = np.full(len(x), np.nan)
        ok = ~np.isnan(oriented)
        if params is not None and params.get("frozen"):
            r[ok] = fraction_from_baseline(oriented[ok], params)
            n = params["n"]
        else:
            r[ok] = rank_fraction(oriented[ok])
            n = int(ok.sum())
        return _from_fraction(r, n, options)
    if scaling == "threshold":
        thr = float(options["threshold"])
        flag = (sign * x) >= (sign * thr)
        out = flag.astype(np.float64)
        out[np.isnan(x)] = np.nan
        return out
    if scaling == "raw":
        return sign * x
    raise CompositeIndexError(f"Indicator {label}: unknown scaling '{scaling}'.",
                              hint="Use one of: " + ", ".join(SCALINGS) + ".")
