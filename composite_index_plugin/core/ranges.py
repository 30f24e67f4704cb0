"""Many integer ranges at once, without a Python loop over them.

Grid rows, polygon edges cut into pieces, points of a spatial index's buckets, neighbours of a
block of zones: each is a set of ranges ``lo[i] .. hi[i] - 1`` whose members are wanted one
after another, with the range each came from.
"""
import numpy as np


def ranges(lo, hi):
    """``(values, owner)``: the integers ``lo[i] .. hi[i] - 1`` of every ``i`` in turn (none
    where ``hi[i] <= lo[i]``), and the ``i`` of each; both int64. The same as
    ``np.concatenate([np.arange(l, h) for l, h in zip(lo, hi)])`` and the matching
    ``np.repeat(np.arange(len(lo)), ...)``. ``lo`` may be a number (e.g. 0: the positions
    inside each range)."""
    hi = np.asarray(hi, dtype=np.int64)
    lo = np.broadcast_to(np.asarray(lo, dtype=np.int64), hi.shape)
    n = np.clip(hi - lo, 0, None)
    owner = np.repeat(np.arange(len(n), dtype=np.int64), n)
    first = np.cumsum(n) - n                     # where each range starts in the output
    values = np.arange(int(n.sum()), dtype=np.int64) + np.repeat(lo - first, n)
    return values, owner
