"""Measures of the composite index: hand-computed values, published esda values, and esda itself
(run in the separate reference venv .venv-ref, never imported here)."""
import json
import os
import subprocess
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core import measures
from composite_index_plugin.core.errors import CompositeIndexError
from tests.reference import REF_PY, require_reference

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STL = os.path.join(ROOT, "tests", "data", "pysal", "stl")


def csr(lists):
    indptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
    indices = np.array([j for x in lists for j in x], dtype=np.int64)
    return SimpleNamespace(indptr=indptr, indices=indices)


def read_gal(path):
    """Neighbour lists (0-based, in id order 1..n) from a GeoDa .gal file."""
    with open(path) as fh:
        tokens = fh.read().split()
    n = int(tokens[0])
    lists, pos = [None] * n, 1
    for _ in range(n):
        i, k = int(tokens[pos]) - 1, int(tokens[pos + 1])
        lists[i] = [int(t) - 1 for t in tokens[pos + 2:pos + 2 + k]]
        pos += 2 + k
    return lists


# --------------------------------------------------------------------------------- hand values

def test_volume_rate_density_location_quotient_by_hand():
    counts = np.array([4.0, 0.0, 6.0, 10.0])
    pop = np.array([2000.0, 500.0, 0.0, 5000.0])
    v, zero = measures.volume(counts)
    assert v.tolist() == [4, 0, 6, 10] and not zero.any()
    r, zero = measures.rate(counts, pop, per=1000)
    assert r[:2].tolist() == [2.0, 0.0] and r[3] == 2.0
    assert np.isnan(r[2]) and zero.tolist() == [False, False, True, False]
    # LQ: overall share over zones with a denominator = (4 + 0 + 10) / 7500.
    lq, zero = measures.location_quotient(counts, pop)
    assert lq[0] == pytest.approx((4 / 2000) / (14 / 7500), rel=1e-12)
    assert lq[3] == pytest.approx((10 / 5000) / (14 / 7500), rel=1e-12)
    assert np.isnan(lq[2]) and zero[2]
    d, zero = measures.density(counts, np.array([1e6, 2.5e5, 0.0, 4e6]))
    assert d[:2].tolist() == [4.0, 0.0] and d[3] == 2.5 and np.isnan(d[2]) and zero[2]


def test_eb_rate_by_hand():
    # theta = 45/450 = 0.1; s2 = 1.5/450; sigma2 = 1/300 - 0.1/112.5 = 11/4500 (clamp inactive).
    # w = sigma2 / (sigma2 + theta/P): P=100 -> 22/31, P=200 -> 44/53, P=50 -> 11/20.
    o = np.array([10.0, 0.0, 30.0, 5.0])
    p = np.array([100.0, 100.0, 200.0, 50.0])
    eb, zero = measures.eb_rate(o, p, per=1000)
    expected = [100.0, 1000 * (9 / 31) * 0.1, 1000 * (44 / 53 * 0.15 + 9 / 53 * 0.1), 100.0]
    np.testing.assert_allclose(eb, expected, rtol=0, atol=1e-9)
    assert not zero.any()


def test_eb_rate_clamps_prior_variance_so_no_rate_is_negative():
    # theta = 0.02, s2 = 0.025/500 = 5e-5 < theta/mean(P) = 1.6e-4: sigma2 clamps to 0 and
    # every zone gets theta. Unclamped (esda) the weights would be negative.
    o = np.array([2.0, 0.0, 5.0, 3.0])
    p = np.array([100.0, 50.0, 200.0, 150.0])
    eb, _ = measures.eb_rate(o, p, per=1000)
    np.testing.assert_allclose(eb, [20.0] * 4, atol=1e-12)
    # Without the clamp (as esda does) the weights would leave [0, 1]: here w = -0.379 for the
    # zone with P = 50 and w = 11 for P = 200, so the clamp changes the answer.
    theta, v = 0.02, 5e-5 - 0.02 / 125
    w = v / (v + theta / p)
    assert w[1] == pytest.approx(-0.11 / 0.29) and w[2] == pytest.approx(11.0)
    unclamped = 1000 * (w * o / p + (1 - w) * theta)
    assert np.abs(unclamped - eb).max() > 10


def test_eb_rate_zero_denominator_gets_prior_mean_and_is_flagged():
    o = np.array([10.0, 0.0, 30.0, 5.0, 3.0])
    p = np.array([100.0, 100.0, 200.0, 50.0, 0.0])
    eb, zero = measures.eb_rate(o, p, per=1000)
    # The zero-population zone does not change the prior (same as the 4-zone case above) ...
    np.testing.assert_allclose(eb[:4], measures.eb_rate(o[:4], p[:4], per=1000)[0], atol=1e-12)
    # ... and gets theta = 0.1 per 1 = 100 per 1000.
    assert eb[4] == pytest.approx(100.0) and zero.tolist() == [False] * 4 + [True]


def test_spatial_eb_rate_by_hand():
    # A path 0-1-2. Zone 0's neighbourhood {0,1}: theta = 10/200 = 0.05, r = (0.08, 0.02),
    # s2 = (100*0.03^2 + 100*0.03^2)/200 = 9e-4, sigma2 = 9e-4 - 0.05/100 = 4e-4,
    # w0 = 4e-4 / (4e-4 + 0.05/100) = 4/9, EB0 = 4/9*0.08 + 5/9*0.05.
    o = np.array([8.0, 2.0, 2.0])
    p = np.array([100.0, 100.0, 100.0])
    nb = csr([[1], [0, 2], [1]])
    eb, _ = measures.eb_rate_spatial(o, p, nb, per=1, anchor="none")
    assert eb[0] == pytest.approx(4 / 9 * 0.08 + 5 / 9 * 0.05, abs=1e-15)
    # Zone 2's neighbourhood {1,2}: both rates 0.02, s2 = 0 -> sigma2 clamps to 0 -> theta.
    assert eb[2] == pytest.approx(0.02, abs=1e-15)


def test_spatial_eb_needs_matching_neighbours():
    with pytest.raises(CompositeIndexError, match="describe 2 zones but the table has 3"):
        measures.eb_rate_spatial(np.ones(3), np.ones(3), csr([[1], [0]]))
    with pytest.raises(CompositeIndexError, match="needs the zones' neighbours"):
        measures.eb_rate_spatial(np.ones(3), np.ones(3), None)


def test_gi_star_published_esda_value():
    # esda 2.9.0 test suite: six points, distance band 15, binary weights, Gi* z of zone 0.
    pts = np.array([(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)], dtype=float)
    y = np.array([2, 3, 3.2, 5, 8, 7])
    dist = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    lists = [[j for j in range(6) if j != i and dist[i, j] <= 15] for i in range(6)]
    z = measures.gi_star_z(y, csr(lists))
    assert z[0] == pytest.approx(-1.39727626, abs=1e-8)


def test_gi_star_agrees_with_the_hotspot_module_incl_missing_values_and_islands():
    from composite_index_plugin.core import hotspots
    from composite_index_plugin.core.neighbours import Neighbours

    rng = np.random.default_rng(5)
    side = 9
    n = side * side
    rows, cols = np.divmod(np.arange(n), side)
    lists = [[j for j in range(n) if j != i and abs(rows[j] - rows[i]) <= 1
              and abs(cols[j] - cols[i]) <= 1] for i in range(n)]
    lists[0] = []                                  # an island ...
    for nbrs in lists[1:]:
        if 0 in nbrs:
            nbrs.remove(0)                         # ... on both sides
    y = rng.poisson(4, n).astype(float)
    y[[10, 40]] = np.nan                           # missing values
    graph = csr(lists)
    mine = measures.gi_star_z(y, graph)
    theirs = hotspots.gi_star_z(y, Neighbours(graph.indptr, graph.indices))
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12, equal_nan=True)
    assert np.isnan(mine[[0, 10, 40]]).all() and np.isfinite(np.delete(mine, [0, 10, 40])).all()


# ------------------------------------------------------------------------- published esda values

@pytest.fixture(scope="module")
def stl():
    frame = pd.read_csv(os.path.join(STL, "stl_hom.csv"))
    return frame.HC7984.to_numpy(float), frame.PO7984.to_numpy(float), \
        read_gal(os.path.join(STL, "stl.gal"))


def test_eb_rates_match_esda_docstring_values(stl):
    # Published in esda's Empirical_Bayes / Spatial_Empirical_Bayes docstrings (stl_hom, stl.gal).
    e, b, lists = stl
    eb, _ = measures.eb_rate(e, b, per=1)
    np.testing.assert_allclose(eb[:3], [2.36718950e-05, 4.54539167e-05, 4.78114019e-05], rtol=1e-8)
    seb, _ = measures.eb_rate_spatial(e, b, csr(lists), per=1, anchor="none")
    np.testing.assert_allclose(seb[:3], [4.01485749e-05, 3.62437513e-05, 4.93034844e-05], rtol=1e-8)


ESDA_SCRIPT = r"""
import json, sys
import numpy as np
from libpysal.weights import W
from esda.smoothing import Empirical_Bayes, Spatial_Empirical_Bayes
data = json.load(sys.stdin)
e, b = np.array(data["e"]), np.array(data["b"])
lists = data["lists"]
w = W({i: lists[i] for i in range(len(lists))}, id_order=list(range(len(lists))), silence_warnings=True)
print(json.dumps({"eb": Empirical_Bayes(e, b).r.ravel().tolist(),
                  "seb": Spatial_Empirical_Bayes(e, b, w).r.ravel().tolist()}))
"""


def esda(e, b, lists):
    require_reference()
    payload = json.dumps({"e": e.tolist(), "b": b.tolist(), "lists": lists})
    done = subprocess.run([REF_PY, "-c", ESDA_SCRIPT], input=payload, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout)


def test_eb_rates_match_esda_on_stl(stl):
    e, b, lists = stl
    ref = esda(e, b, lists)
    eb, _ = measures.eb_rate(e, b, per=1e5)
    seb, _ = measures.eb_rate_spatial(e, b, csr(lists), per=1e5, anchor="none")
    # Rates per 100,000, compared to 1e-9.
    np.testing.assert_allclose(eb, np.array(ref["eb"]) * 1e5, rtol=0, atol=1e-9)
    np.testing.assert_allclose(seb, np.array(ref["seb"]) * 1e5, rtol=0, atol=1e-9)


def test_eb_rates_match_esda_on_random_grid():
    rng = np.random.default_rng(7)
    side = 12
    n = side * side
    b = rng.integers(200, 5000, n).astype(float)
    e = rng.poisson(b * rng.uniform(0.002, 0.02, n)).astype(float)
    rows, cols = np.divmod(np.arange(n), side)
    lists = [[int(j) for j in range(n) if j != i and abs(rows[j] - rows[i]) <= 1
              and abs(cols[j] - cols[i]) <= 1] for i in range(n)]
    ref = esda(e, b, lists)
    # esda does not clamp the global prior variance: compare only where it is positive here.
    theta = e.sum() / b.sum()
    s2 = (b * (e / b - theta) ** 2).sum() / b.sum()
    assert s2 - theta / b.mean() > 0
    eb, _ = measures.eb_rate(e, b, per=1000)
    seb, _ = measures.eb_rate_spatial(e, b, csr(lists), per=1000, anchor="none")
    np.testing.assert_allclose(eb, np.array(ref["eb"]) * 1000, rtol=0, atol=1e-9)
    np.testing.assert_allclose(seb, np.array(ref["seb"]) * 1000, rtol=0, atol=1e-9)
