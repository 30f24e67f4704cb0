"""Combining children (indicators, issues or themes) into one parent score.

Every method returns the parent score and each child's *contribution*, an array per child that
adds up to the parent score, so a score can always be explained:
- ``mean``: weighted arithmetic mean, weights normalised to sum 1; contribution ``w_i s_i``.
- ``sum``: weighted sum with the weights as given; contribution ``w_i s_i``.
- ``geometric``: weighted geometric mean ``exp(sum w_i ln s_i)`` (weights normalised); only for
  children whose values are all > 0. Contribution: the parent's log split in proportion,
  ``score * w_i ln s_i / ln score`` (equal split when the score is 1).
- ``imd``: the English Indices of Deprivation way (MHCLG IoD technical report): each child is
  ranked (rank N = highest need, ties share the needier rank), exponentially transformed
  ``X = -C ln(1 - R (1 - e^(-100/C)))`` with R = rank / N, then weighted sum (weights as given);
  contribution ``w_i X_i``.
"""
import numpy as np

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.scaling import (
    DEFAULT_C,
    exponential_transform,
    fraction_from_baseline,
    reference_quantiles,
    sorted_rank_fraction,
)
from composite_index_plugin.core.vocab import AGGREGATIONS


def combine(children, weights, method, names=None, where="", c=DEFAULT_C, rank_params=None):
    """Combine ``children`` (2-D array, one row per child, no NaN) with ``weights``.

    ``rank_params``: for ``imd`` with a frozen baseline, one dict per child with the child's
    reference distribution (see ``scaling.fit``); None ranks within the data.
    Returns ``(score, contributions, fitted)``; ``fitted`` holds per-child reference
    distributions for ``imd`` (to store in a baseline), else None.
    """
    s = np.asarray(children, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    names = names or [str(i) for i in range(len(w))]
    total = w.sum()
    if (w < 0).any() or not total > 0:
        raise CompositeIndexError(f"{where}: weights must be zero or positive and add up to more "
                                  f"than zero (got {w.tolist()}).", hint="Fix the weights.")
    fitted = None
    if method == "mean":
        contrib = (w / total)[:, None] * s
        return contrib.sum(axis=0), contrib, fitted
    if method == "sum":
        contrib = w[:, None] * s
        return contrib.sum(axis=0), contrib, fitted
    if method == "geometric":
        wn = w / total
        active = wn > 0
        bad = active & (s <= 0).any(axis=1)
        if bad.any():
            which = ", ".join(names[i] for i in np.flatnonzero(bad))
            raise CompositeIndexError(
                f"{where}: the geometric mean needs values above zero, but {which} has zero or "
                "negative values.",
                hint="Use percentile, rank or exponential scaling for its children, or combine "
                     "with mean, sum or imd.")
        logs = np.zeros_like(s)
        logs[active] = np.log(s[active])
        log_parts = wn[:, None] * logs
        log_score = log_parts.sum(axis=0)
        score = np.exp(log_score)
        small = np.abs(log_score) < 1e-12
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(small, wn[:, None], log_parts / np.where(small, 1.0, log_score))
        return score, share * score, fitted
    if method == "imd":
        transformed = np.empty_like(s)
        fitted = []
        for i in range(len(s)):
            if rank_params is not None:
                r = fraction_from_baseline(s[i], rank_params[i])
            else:
                sorted_values, r = sorted_rank_fraction(s[i])
                fitted.append(reference_quantiles(None, sorted_values))
            transformed[i] = exponential_transform(r, c)
        contrib = w[:, None] * transformed
        return contrib.sum(axis=0), contrib, (fitted if rank_params is None else None)
    raise CompositeIndexError(f"{where}: unknown aggregation '{method}'.",
                              hint="Use one of: " + ", ".join(AGGREGATIONS) + ".")


def shares(contributions):
    """Each child's signed share of the sum of absolute contributions (rows sum to 1 when all
    contributions are >= 0). Zones where every contribution is 0 get equal shares."""
    c = np.asarray(contributions, dtype=np.float64)
    denom = np.abs(c).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denom > 0, c / np.where(denom > 0, denom, 1.0), 1.0 / max(len(c), 1))
    return out
