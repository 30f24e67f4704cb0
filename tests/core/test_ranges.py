"""``core.ranges.ranges``: many integer ranges at once."""
import numpy as np

from composite_index_plugin.core.ranges import ranges


def test_ranges_by_hand():
    values, owner = ranges([3, 10, 7, -2], [6, 10, 5, 1])   # 3..5, none, none, -2..0
    assert values.tolist() == [3, 4, 5, -2, -1, 0]
    assert owner.tolist() == [0, 0, 0, 3, 3, 3]
    assert values.dtype == owner.dtype == np.int64


def test_ranges_from_a_number_are_positions_inside_each_range():
    k, owner = ranges(0, np.array([2, 0, 3]))
    assert k.tolist() == [0, 1, 0, 1, 2] and owner.tolist() == [0, 0, 2, 2, 2]


def test_ranges_equal_a_python_loop():
    rng = np.random.default_rng(4)
    lo = rng.integers(-1000, 1000, 500)
    hi = lo + rng.integers(-5, 40, 500)
    values, owner = ranges(lo, hi)
    want = [(v, i) for i, (l, h) in enumerate(zip(lo.tolist(), hi.tolist())) for v in range(l, h)]
    assert values.tolist() == [v for v, _ in want] and owner.tolist() == [i for _, i in want]


def test_no_ranges():
    values, owner = ranges(np.empty(0, np.int64), np.empty(0, np.int64))
    assert len(values) == len(owner) == 0 and values.dtype == np.int64
