"""Quartic kernel density against direct summation and hand-computed values."""
import math

import numpy as np
import pytest

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.kde import PER_AREA, kde_at, kde_ratio, quartic


def test_quartic_values_and_integral():
    h = 10.0
    assert quartic(0.0, h) == pytest.approx(3 / (math.pi * 100))
    assert quartic(5.0, h) == pytest.approx(3 / (math.pi * 100) * 0.75 ** 2)
    assert quartic(10.0, h) == 0.0
    # integrates to 1 over the disc: sum on a fine lattice
    g = np.arange(-10, 10, 0.05) + 0.025
    gx, gy = np.meshgrid(g, g)
    assert quartic(np.hypot(gx, gy), h).sum() * 0.05 ** 2 == pytest.approx(1.0, abs=1e-4)


def test_kde_single_point_hand_value():
    d = kde_at([0.0, 3.0, 20.0], [0.0, 4.0, 0.0], [0.0], [0.0], 10.0)
    k0 = 3 / (math.pi * 100) * PER_AREA
    assert d.tolist() == pytest.approx([k0, k0 * (1 - 0.25) ** 2, 0.0])


def test_kde_matches_brute_force_with_weights():
    rng = np.random.default_rng(11)
    px, py = rng.uniform(0, 1000, 4000), rng.uniform(0, 1000, 4000)
    w = rng.integers(1, 4, 4000).astype(float)
    tx, ty = rng.uniform(-100, 1100, 300), rng.uniform(-100, 1100, 300)
    got = kde_at(tx, ty, px, py, 75.0, weights=w)
    d = np.hypot(tx[:, None] - px[None, :], ty[:, None] - py[None, :])
    want = (quartic(d, 75.0) * w[None, :]).sum(axis=1) * PER_AREA
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_ratio_and_bad_bandwidth():
    r = kde_ratio([2.0, 1.0, 0.0], [1.0, 0.0, 4.0])
    assert r[0] == 2.0 and np.isnan(r[1]) and r[2] == 0.0
    with pytest.raises(CompositeIndexError):
        kde_at([0], [0], [0], [0], 0)
