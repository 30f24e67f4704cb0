"""Need ranks and classes (deciles, quintiles, percentiles) that stay meaningful with ties.

Rank 1 is the highest need. Tied zones share the better rank (competition ranking, "1224"), as
league tables print them. Classes follow the English Indices of Deprivation, ``ceil(groups *
rank / N)`` (MHCLG, English Indices of Deprivation 2019 Technical Report, section 3), with one
rule for ties: **a tie group takes the class of its last member**, i.e.
``class = ceil(groups * last / N)`` with ``last`` the number of zones at least as high in need
(the rank of the last zone of the tie group). So:

- tied zones always share one class;
- deciles 1..d together never hold more than ``d / 10`` of the zones (a tie can never push the
  top decile above a tenth);
- a large group tied at the bottom (cells where nothing was recorded) is in the lowest class it
  reaches, never in a class that reads as above-average need. (Ranking ties by their first
  member, as ``ceil(10 * rank / N)`` does, put 82 % of one month's West Yorkshire hexagons,
  all tied at the lowest score, in decile 2.)

Classes that no zone reaches are simply absent (with 82 % of cells tied, only deciles 1, 2 and
10 exist): the styles and legends show only the classes present.

``floor``: zones ranked below every other zone, all tied (the index puts zones with no recorded
incident there, see ``core.index``).
"""
import numpy as np

NO_INCIDENTS_DEFAULT = "lowest"
"""The index's ``no_incidents``: zones with no recorded incident rank below all others, tied
(``floor`` here); "score" ranks them by their score like any zone."""


def need_ranks(score, floor=None):
    """``(rank, last)`` of each zone, floats with NaN where the score is NaN.

    ``rank`` = 1 + the number of zones with a strictly higher need; ``last`` = the number of
    zones with a higher or equal need (``rank == last`` for a zone without ties). ``floor``
    (bool mask, optional): zones placed below all others and tied among themselves, whatever
    their score.
    """
    s = np.asarray(score, dtype=np.float64)
    valid = np.isfinite(s)
    key = s.copy()
    if floor is not None:
        key[np.asarray(floor, dtype=bool) & valid] = -np.inf
    rank = np.full(s.shape, np.nan)
    last = np.full(s.shape, np.nan)
    k = key[valid]
    n = k.size
    if n:
        ordered = np.sort(k)
        rank[valid] = n - np.searchsorted(ordered, k, side="right") + 1
        last[valid] = n - np.searchsorted(ordered, k, side="left")
    return rank, last


def need_class(last, n, groups):
    """Class 1..``groups`` (1 = highest need) from ``last`` of ``need_ranks`` among ``n`` zones:
    ``ceil(groups * last / n)``. NaN stays NaN."""
    last = np.asarray(last, dtype=np.float64)
    if n <= 0:
        return np.full(last.shape, np.nan)
    with np.errstate(invalid="ignore"):
        return np.clip(np.ceil(groups * last / n), 1, groups)


def need_classes(score, groups, floor=None):
    """Classes of ``score`` directly (``need_ranks`` then ``need_class``); NaN scores stay NaN
    and are not counted in N."""
    rank, last = need_ranks(score, floor)
    return need_class(last, int(np.isfinite(rank).sum()), groups)
