"""Hotspot zones: connected components of hot cells on the neighbour graph."""
from collections import deque

import numpy as np
import pytest

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.hotspot_zones import (
    connected_components,
    hot_components,
    summarise_components,
)
from composite_index_plugin.core.neighbours import Neighbours, grid_contiguity, knn

BINS = np.array([
    [3, 2, 0, 0, 0],
    [2, 0, 0, 2, 1],
    [0, 0, 3, 0, 0],
    [0, 0, 0, 0, -3],
    [1, 2, 2, 0, np.nan],
], dtype=float)


def grid():
    r, c = np.divmod(np.arange(25), 5)
    return r, c


def test_queen_links_diagonals_rook_does_not():
    r, c = grid()
    queen = hot_components(BINS.ravel(), grid_contiguity(r, c, queen=True), min_bin=2)
    rook = hot_components(BINS.ravel(), grid_contiguity(r, c, queen=False), min_bin=2)
    q = queen.reshape(5, 5)
    # top-left L (0,0) (0,1) (1,0); (1,3) and (2,2) touch diagonally; (4,1) (4,2)
    assert q[0, 0] == q[0, 1] == q[1, 0] == 0
    assert q[1, 3] == q[2, 2] == 1
    assert q[4, 1] == q[4, 2] == 2
    assert queen.max() == 2
    assert (queen == -1).sum() == 25 - 7
    rk = rook.reshape(5, 5)
    assert rk[1, 3] != rk[2, 2]
    assert rook.max() == 3
    # bin 1 and missing cells are never hot at min_bin 2; at min_bin 1 (1,4) joins (1,3)
    one = hot_components(BINS.ravel(), grid_contiguity(r, c), min_bin=1).reshape(5, 5)
    assert one[1, 4] == one[1, 3] and one[4, 0] == one[4, 1]
    with pytest.raises(CompositeIndexError, match="1, 2 or 3"):
        hot_components(BINS.ravel(), grid_contiguity(r, c), min_bin=0)


def bfs_components(nb, mask):
    lists = nb.symmetrised().to_lists()
    labels = -np.ones(nb.n, dtype=int)
    cur = 0
    for s in range(nb.n):
        if not mask[s] or labels[s] >= 0:
            continue
        labels[s] = cur
        todo = deque([s])
        while todo:
            u = todo.popleft()
            for v in lists[u]:
                if mask[v] and labels[v] < 0:
                    labels[v] = cur
                    todo.append(v)
        cur += 1
    return labels


def test_union_find_equals_breadth_first_search_on_a_random_graph():
    rng = np.random.default_rng(3)
    x, y = rng.random(3000), rng.random(3000)
    nb = knn(x, y, 3)                   # directed graph: components of its symmetrisation
    mask = rng.random(3000) < 0.5
    assert np.array_equal(connected_components(nb, mask), bfs_components(nb, mask))


def test_long_snake_needs_many_hooks():
    # a path of 2,000 zones numbered from the far end: the worst case for naive propagation
    n = 2000
    order = np.arange(n)[::-1]
    lists = [[] for _ in range(n)]
    for a, b in zip(order[:-1], order[1:]):
        lists[a].append(b)
    nb = Neighbours.from_lists(lists)
    assert connected_components(nb).tolist() == [0] * n


def test_summary_sums_counts_and_areas():
    labels = np.array([0, 0, -1, 1, 1, 1])
    frame = summarise_components(labels, sums={"burglary_victims": [1, 2, 50, 3, np.nan, 4],
                                               "population": [10, 20, 30, 40, 50, 60]},
                                 area=[1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    assert frame["zone_id"].tolist() == [1, 2]
    assert frame["n_cells"].tolist() == [2, 3]
    assert frame["area"].tolist() == [2.0, 6.0]
    assert frame["burglary_victims"].tolist() == [3.0, 7.0]
    assert frame["population"].tolist() == [30.0, 150.0]
    assert frame.attrs["missing"] == {"burglary_victims": 1, "population": 0}
    empty = summarise_components(np.array([-1, -1]))
    assert len(empty) == 0
