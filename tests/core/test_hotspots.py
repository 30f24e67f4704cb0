"""Hotspot statistics: the published esda reference values, hand-computed cases, bad input,
permutations (deterministic, and equal to a naive loop over the same draws), automatic scale."""
import os
import struct

import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core import hotspots as hs
from composite_index_plugin.core.errors import CompositeIndexError, Progress
from composite_index_plugin.core.neighbours import (
    Neighbours,
    distance_band,
    grid_contiguity,
    read_gal,
)

PYSAL = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "pysal")
SIX_POINTS = np.array([(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)], dtype=float)
SIX_Y = np.array([2, 3, 3.2, 5, 8, 7])


def read_dbf(path):
    """Minimal dBASE III reader (numeric fields as float, character fields as str)."""
    with open(path, "rb") as fh:
        data = fh.read()
    n = struct.unpack("<I", data[4:8])[0]
    header_len, record_len = struct.unpack("<HH", data[8:12])
    fields = []
    for off in range(32, header_len - 1, 32):
        name = data[off:off + 11].split(b"\0")[0].decode()
        fields.append((name, chr(data[off + 11]), data[off + 16]))
    rows = []
    for r in range(n):
        pos = header_len + r * record_len + 1
        row = {}
        for name, kind, length in fields:
            raw = data[pos:pos + length].decode("latin-1").strip()
            row[name] = float(raw) if kind in "NF" else raw
            pos += length
        rows.append(row)
    return pd.DataFrame(rows)


def six_point_weights():
    return distance_band(SIX_POINTS[:, 0], SIX_POINTS[:, 1], 15)


# -- published esda values (tests/data/pysal/expected_values.md) -------------------------------
def test_six_points_general_g_and_gi_star():
    nb = six_point_weights()
    assert nb.to_lists() == [[1, 3], [0, 3, 4], [4], [0, 1, 4], [1, 2, 3, 5], [4]]
    g = hs.general_g(SIX_Y, nb)
    assert g["G"] == pytest.approx(0.55709779, abs=1e-7)
    assert g["p_one_sided"] == pytest.approx(0.172936, abs=1e-6)
    gi = hs.gi_star_stats(SIX_Y, nb)
    assert gi["z"][0] == pytest.approx(-1.39727626, abs=1e-7)
    # the whole esda docstring vector for G_Local(star=True, transform='B')
    assert gi["z"] == pytest.approx([-1.39727626, -0.28917762, 0.65064964, -0.28917762,
                                     1.23452088, 2.02424331], abs=1e-7)


def test_stl_global_moran():
    nb, _ = read_gal(os.path.join(PYSAL, "stl", "stl.gal"))
    y = pd.read_csv(os.path.join(PYSAL, "stl", "stl_hom.csv"))["HR8893"].to_numpy()
    m = hs.global_moran(y, nb)
    assert m["I"] == pytest.approx(0.24365582621771659, abs=1e-7)
    assert m["p_norm_one_sided"] == pytest.approx(0.00013573931385468807, abs=1e-7)
    assert m["p_norm"] == pytest.approx(2 * 0.00013573931385468807, abs=1e-7)


def assuncao_reis(events, population):
    """Empirical Bayes standardised rate (Assuncao & Reis 1999), as esda's Moran_Rate uses."""
    rate = events / population
    b = events.sum() / population.sum()
    s2 = (population * (rate - b) ** 2).sum() / population.sum()
    a = s2 - b / population.mean()
    v = a + b / population
    v = np.where(v < 0, b / population, v)
    return (rate - b) / np.sqrt(v)


def test_sids2_global_moran_and_moran_rate():
    nb, _ = read_gal(os.path.join(PYSAL, "sids2", "sids2.gal"))
    df = read_dbf(os.path.join(PYSAL, "sids2", "sids2.dbf"))
    assert len(df) == 100
    m = hs.global_moran(df["SIDR74"].to_numpy(), nb)
    assert m["I"] == pytest.approx(0.24772519320480135, abs=1e-7)
    assert m["p_norm_one_sided"] == pytest.approx(5.7916539074498452e-05, abs=1e-7)
    rate = assuncao_reis(df["SID79"].to_numpy(), df["BIR79"].to_numpy())
    mr = hs.global_moran(rate, nb)
    assert mr["I"] == pytest.approx(0.16622343552567395, abs=1e-7)
    assert mr["p_norm_one_sided"] == pytest.approx(0.004191499504892171, abs=1e-7)


# -- hand-computed cases ------------------------------------------------------------------------
def test_gi_star_by_hand_on_a_line():
    # 5 zones in a row, each linked to the next: values 1 2 3 4 10
    nb = Neighbours.from_lists([[1], [0, 2], [1, 3], [2, 4], [3]])
    x = np.array([1.0, 2, 3, 4, 10])
    n, mean = 5, 4.0
    s = np.sqrt((x ** 2).mean() - mean ** 2)            # sqrt(26 - 16) = sqrt(10)
    # zone 4: neighbourhood {3, 4}: sum 14, W = 2, S1 = 2
    z4 = (14 - mean * 2) / (s * np.sqrt((n * 2 - 4) / (n - 1)))
    # zone 2: {1, 2, 3}: sum 9, W = 3
    z2 = (9 - mean * 3) / (s * np.sqrt((n * 3 - 9) / (n - 1)))
    gi = hs.gi_star_stats(x, nb)
    assert gi["z"][4] == pytest.approx(z4, abs=1e-12)
    assert gi["z"][2] == pytest.approx(z2, abs=1e-12)
    assert z4 == pytest.approx(6 / (np.sqrt(10) * np.sqrt(1.5)))
    # two-sided normal p: z = 1.959963984540054 gives p = 0.05
    assert hs.two_sided_p(1.959963984540054) == pytest.approx(0.05, abs=1e-12)
    assert hs.normal_sf(0.0) == 0.5


def test_local_moran_by_hand():
    nb = Neighbours.from_lists([[1], [0, 2], [1, 3], [2, 4], [3]])
    x = np.array([1.0, 2, 3, 4, 10])
    z = (x - 4) / np.sqrt(10)
    lag1 = (z[0] + z[2]) / 2
    I1 = (5 - 1) * z[1] * lag1 / (z ** 2).sum()
    lm = hs.local_moran_stats(x, nb)
    assert lm["I"][1] == pytest.approx(I1, abs=1e-12)
    assert lm["EI"][1] == pytest.approx(-1 / 4)
    # zone 1: low value, low neighbours -> Low-Low (3); zone 4: high with a low-ish neighbour
    assert lm["q"].tolist()[1] == 3
    assert lm["q"].tolist()[4] == 4          # z > 0, lag (z of 4 = 0) = 0 -> not > 0 -> HL
    b2 = (z ** 4).mean() / ((z ** 2).mean() ** 2)
    wi2 = 0.5                                 # two neighbours, weights 1/2 each
    v1 = wi2 * (5 - b2) / 4 + (1 - wi2) * (2 * b2 - 5) / (4 * 3) - (1 / 4) ** 2
    assert lm["VI"][1] == pytest.approx(v1, abs=1e-12)


def test_islands_get_nan_not_zero_and_are_reported():
    rng = np.random.default_rng(1)
    r, c = np.divmod(np.arange(36), 6)
    row = np.append(r, 50)                   # one cell far away: an island
    col = np.append(c, 50)
    nb = grid_contiguity(row, col)
    x = rng.poisson(4, 37).astype(float)
    res = hs.analyse(x, nb, field_name="burglary")
    assert np.isnan(res.gi_z[36]) and np.isnan(res.gi_p[36]) and np.isnan(res.gi_bin[36])
    assert np.isnan(res.lisa_i[36]) and res.lisa_cluster[36] is None
    assert res.n_neighbours[36] == 0
    assert np.isfinite(res.gi_z[:36]).all()
    assert res.islands.tolist() == [36]
    assert any("no neighbours" in w for w in res.warnings)
    frame = res.frame()
    assert frame["gi_bin"].isna().tolist() == [False] * 36 + [True]
    assert str(frame["gi_bin"].dtype) == "Int64"
    assert "without neighbours (islands, left empty): 1; tested: 36." in res.summary_lines()[0]
    # the cluster counts of the log: the 36 tested zones by label, alphabetically, the island
    # not counted
    labels = [c for c in res.lisa_cluster.tolist() if c is not None]
    expected = "LISA clusters: " + ", ".join(
        f"{lab}: {labels.count(lab):,}" for lab in sorted(set(labels)))
    assert res.summary_lines()[-1] == expected and len(labels) == 36


@pytest.mark.parametrize("fdr", [False, True])
def test_islands_stay_null_with_permutations_and_do_not_count_in_fdr(fdr):
    r, c = np.divmod(np.arange(64), 8)
    row = np.concatenate([r, [30, 50, 70]])          # three islands
    col = np.concatenate([c, [30, 50, 70]])
    nb = grid_contiguity(row, col)
    x = np.where((r < 3) & (c < 3), 9.0, 1.0) + (np.arange(64) % 3)
    x = np.concatenate([x, [40.0, 0.0, 5.0]])
    res = hs.analyse(x, nb, permutations=199, seed=3, fdr=fdr)
    isl = [64, 65, 66]
    assert res.islands.tolist() == isl
    for arr in (res.gi_z, res.gi_p, res.gi_bin, res.lisa_i, res.lisa_p):
        assert np.isnan(arr[isl]).all()
    assert [res.lisa_cluster[i] for i in isl] == [None, None, None]
    assert res.n_neighbours[isl].tolist() == [0, 0, 0]
    # the islands' values stay in the global mean and variance and in the permutation pool (as
    # in esda): they are observations of the study area, only their own statistic is undefined
    ref = hs.gi_star_stats(x, nb)
    assert np.array_equal(res.gi_z[:64], ref["z"][:64])
    assert np.isfinite(res.gi_p[:64]).all()
    # Benjamini-Hochberg runs over the 64 tested zones (test_fdr: missing p do not count in m)
    bins = hs.gi_bins(res.gi_z[:64], res.gi_p[:64], fdr=fdr)
    assert np.array_equal(bins, res.gi_bin[:64])
    assert any("3 zone(s) have no neighbours" in w for w in res.warnings)
    assert "without neighbours (islands, left empty): 3; tested: 64." in res.summary_lines()[0]
    assert {r.n_tested for r in res.reachability} == {64}


def test_nulls_are_excluded_counted_and_left_empty():
    r, c = np.divmod(np.arange(49), 7)
    nb = grid_contiguity(r, c)
    rng = np.random.default_rng(2)
    x = rng.poisson(6, 49).astype(float)
    x[[3, 10]] = np.nan
    res = hs.analyse(x, nb, field_name="thefts")
    assert res.n_null == 2 and res.n_used == 47
    assert np.isnan(res.gi_z[[3, 10]]).all() and np.isnan(res.n_neighbours[[3, 10]]).all()
    assert any("2 zone(s) have no value in 'thefts'" in w for w in res.warnings)
    # equal to the analysis of the 47 zones alone
    keep = np.isfinite(x)
    alone = hs.gi_star_stats(x[keep], nb.subset(keep))
    assert res.gi_z[keep] == pytest.approx(alone["z"], abs=1e-12)
    # zone 2's neighbours 3 and 10 are gone
    assert res.n_neighbours[2] == 3        # row 0: 1, 8, 9 remain of 1, 3, 8, 9, 10


def test_fewer_than_30_zones_warns_and_zero_variance_refuses():
    nb = six_point_weights()
    res = hs.analyse(SIX_Y, nb)
    assert any("fewer than 30" in w for w in res.warnings)
    with pytest.raises(CompositeIndexError, match="same value .* in 'robbery'"):
        hs.analyse(np.full(6, 3.0), nb, field_name="robbery")
    with pytest.raises(CompositeIndexError, match="same value"):
        hs.gi_star_z(np.full(6, 3.0), nb)
    with pytest.raises(CompositeIndexError, match="no zone has any neighbour|No zone has any"):
        hs.analyse(SIX_Y, Neighbours.from_lists([[]] * 6))


def test_gi_star_z_for_the_index_leaves_missing_out():
    nb = six_point_weights()
    y = SIX_Y.copy()
    z_all = hs.gi_star_z(y, nb)
    assert z_all == pytest.approx(hs.gi_star_stats(y, nb)["z"], nan_ok=True)
    y[2] = np.nan                      # zone 2's only neighbour is 4
    z = hs.gi_star_z(y, nb)
    assert np.isnan(z[2])
    keep = np.isfinite(y)
    assert z[keep] == pytest.approx(hs.gi_star_stats(y[keep], nb.subset(keep))["z"])


def test_general_g_needs_non_negative_values_but_the_rest_runs():
    r, c = np.divmod(np.arange(36), 6)
    x = np.linspace(-3, 4, 36)
    res = hs.analyse(x, grid_contiguity(r, c))
    assert np.isnan(res.general_g["G"]) and "negative" in res.general_g["note"]
    assert np.isfinite(res.moran["I"])


# -- bins and clusters -------------------------------------------------------------------------
def test_gi_bins_arcgis_convention():
    z = np.array([3.0, 2.0, 1.7, 1.0, -1.7, -2.0, -3.0, np.nan])
    p = hs.two_sided_p(z)
    bins = hs.gi_bins(z, p)
    assert bins[:7].tolist() == [3, 2, 1, 0, -1, -2, -3]
    assert np.isnan(bins[7])


def test_lisa_clusters_on_a_clear_pattern():
    # a block of high values in one corner, low elsewhere: High-High inside the block
    r, c = np.divmod(np.arange(100), 10)
    nb = grid_contiguity(r, c, queen=False)
    x = np.where((r < 3) & (c < 3), 50.0, 1.0) + (np.arange(100) % 7) * 0.01
    res = hs.analyse(x, nb)
    assert res.lisa_cluster[11] == "High-High"      # (1, 1): centre of the block
    assert res.gi_bin[11] == 3
    assert res.lisa_cluster[99] in ("Not significant", "Low-Low")
    assert set(res.lisa_cluster) <= {"High-High", "Low-Low", "High-Low", "Low-High", "Not significant"}
    text = "\n".join(res.summary_lines())
    assert "Global Moran's I" in text and "General G" in text


# -- permutations -------------------------------------------------------------------------------
def naive_counts(y, nb, P, seed):
    """The same conditional permutation, one zone at a time (independent reference)."""
    n = len(y)
    R = hs._draw_distinct(np.random.default_rng(seed), n - 1, P, int(nb.counts.max()))
    obs = nb.lag(y)
    ge = np.zeros(n, dtype=int)
    le = np.zeros(n, dtype=int)
    for i in range(n):
        k = nb.counts[i]
        pos = R[:, :k]
        ids = pos + (pos >= i)                # skip zone i itself
        assert not np.any(ids == i)
        sums = y[ids].sum(axis=1)
        ge[i] = np.sum(sums >= obs[i] - 1e-9)
        le[i] = np.sum(sums <= obs[i] + 1e-9)
    return ge, le


@pytest.mark.parametrize("threads, chunk", [(1, 97), (2, 97), (1, 16), (1, 600)])
def test_permutation_engine_equals_naive_loop(threads, chunk, monkeypatch):
    # block engine: many blocks, partial-shift corrections by bincount (dense blocks of 97 or one
    # block of 600) or by scatter-add (sparse blocks of 16); segment engine: batches of 1 to
    # 600 segments (a 600-zone grid has at most 600 segments)
    rng = np.random.default_rng(11)
    r, c = np.divmod(np.arange(600), 30)
    nb = grid_contiguity(r, c)
    y = rng.poisson(3, 600).astype(float)             # integer counts: many exact ties
    ge2, le2 = naive_counts(y, nb, 199, 5)
    monkeypatch.setattr(hs, "_PERM_CHUNK", chunk)
    monkeypatch.setattr(hs, "_FORCE_BLOCKS", True)
    ge, le = hs.permutation_counts(y, nb, None, 199, seed=5, threads=threads)
    assert np.array_equal(ge, ge2) and np.array_equal(le, le2)
    monkeypatch.setattr(hs, "_FORCE_BLOCKS", False)
    monkeypatch.setattr(hs, "_SEG_BATCH", {97: 1, 16: 7, 600: 600}[chunk])
    ge, le = hs.permutation_counts(y, nb, None, 199, seed=5, threads=threads)
    assert np.array_equal(ge, ge2) and np.array_equal(le, le2)


def naive_weighted_counts(y, nb, w, P, seed):
    """Conditional permutation with link weights, one zone at a time (independent reference;
    ties within the engine's tolerance, 1e-10 of sum |w| max |y|)."""
    n = len(y)
    R = hs._draw_distinct(np.random.default_rng(seed), n - 1, P, int(nb.counts.max()))
    obs = nb.lag(y, w)
    ge = np.zeros(n, dtype=int)
    le = np.zeros(n, dtype=int)
    for i in range(n):
        a, b = nb.indptr[i], nb.indptr[i + 1]
        if a == b:
            continue
        pos = R[:, :b - a]
        ids = pos + (pos >= i)
        sums = (y[ids] * w[a:b]).sum(axis=1)
        t = 1e-10 * np.abs(w[a:b]).sum() * np.abs(y).max()
        ge[i] = np.sum(sums >= obs[i] - t)
        le[i] = np.sum(sums <= obs[i] + t)
    return ge, le


@pytest.mark.parametrize("values", ["counts", "continuous", "signed"])
def test_permutation_engines_agree_on_every_kind_of_graph(values, monkeypatch):
    # an irregular graph (a queen grid with holes, so counts 0..8 and islands), binary and
    # row-standardised weights (the segment engine) and uneven weights (the block engine only):
    # both engines equal a loop over zones, whatever the batch size and threads
    rng = np.random.default_rng(21)
    r, c = np.divmod(np.arange(900), 30)
    keep = rng.random(900) < 0.6
    nb = grid_contiguity(r[keep], c[keep])
    n = nb.n
    assert len(nb.islands) > 0 and set(np.unique(nb.counts)) >= {0, 1, 2, 3, 8}
    y = {"counts": rng.poisson(1.5, n).astype(float), "continuous": rng.gamma(2.0, 3.0, n),
         "signed": rng.normal(0, 5, n).round(1)}[values]
    graphs = [("binary", None, nb.weight_values()),
              ("row-standardised", nb.row_standardised_weights(), nb.row_standardised_weights())]
    uneven = rng.uniform(0.5, 2.0, nb.n_links)
    for name, w, wv in graphs:
        expect = naive_weighted_counts(y, nb, wv, 99, 3)
        for force, batch, threads in ((True, 128, 1), (False, 128, 1), (False, 3, 2),
                                      (False, 1, 1)):
            monkeypatch.setattr(hs, "_FORCE_BLOCKS", force)
            monkeypatch.setattr(hs, "_SEG_BATCH", batch)
            got = hs.permutation_counts(y, nb, w, 99, seed=3, threads=threads)
            assert np.array_equal(got[0], expect[0]), (name, force, batch)
            assert np.array_equal(got[1], expect[1]), (name, force, batch)
    assert hs._row_constant(nb, uneven, nb.rows()) is None       # uneven: the block engine
    monkeypatch.setattr(hs, "_FORCE_BLOCKS", False)
    got = hs.permutation_counts(y, nb, uneven, 99, seed=3)
    expect = naive_weighted_counts(y, nb, uneven, 99, 3)
    assert np.array_equal(got[0], expect[0]) and np.array_equal(got[1], expect[1])


def test_permutation_p_values_are_deterministic_for_a_seed():
    rng = np.random.default_rng(4)
    r, c = np.divmod(np.arange(400), 20)
    nb = grid_contiguity(r, c)
    y = rng.gamma(2.0, 3.0, 400)
    a = hs.analyse(y, nb, permutations=99, seed=123)
    b = hs.analyse(y, nb, permutations=99, seed=123)
    other = hs.analyse(y, nb, permutations=99, seed=124)
    assert np.array_equal(a.gi_p, b.gi_p) and np.array_equal(a.lisa_p, b.lisa_p)
    assert not np.array_equal(a.gi_p, other.gi_p)
    # two-sided pseudo p lies on the grid 2 (j + 1) / 100, from 2 / 100 up to 1
    assert np.all(np.isclose(a.gi_p * 50, np.round(a.gi_p * 50)))
    assert a.gi_p.min() >= 0.02 and a.gi_p.max() <= 1.0


def test_permutation_distribution_matches_its_normal_approximation():
    # conditional permutation holds y_i fixed: the neighbours' sum S_i is a sample of k_i of the
    # other n - 1 values, mean k m_i and variance k v_i (n - 1 - k) / (n - 2) (finite population);
    # with 999 permutations the two-sided pseudo p follows the two-sided normal p of that sum
    rng = np.random.default_rng(4)
    r, c = np.divmod(np.arange(400), 20)
    nb = grid_contiguity(r, c)
    y = rng.normal(10, 2, 400)
    res = hs.analyse(y, nb, permutations=999, seed=123)
    n, k, s = 400, nb.counts.astype(float), nb.lag(y)
    m = (y.sum() - y) / (n - 1)
    v = ((y * y).sum() - y * y) / (n - 1) - m ** 2
    z = (s - k * m) / np.sqrt(k * v * (n - 1 - k) / (n - 2))
    approx = hs.two_sided_p(z)
    assert np.corrcoef(approx, res.gi_p)[0, 1] > 0.99
    assert np.median(np.abs(approx - res.gi_p)) < 0.03
    assert np.array_equal(res.gi_p, res.lisa_p)   # both are monotone in S_i on a binary graph
    # no pattern here: about 10 % of zones have p < 0.10, as the analytic test has
    assert np.mean(res.gi_p < 0.10) == pytest.approx(np.mean(approx < 0.10), abs=0.03)


def test_two_sided_p_counts_ties_in_both_tails():
    P = 999
    # ge = #(sim >= obs), le = #(sim <= obs); ties count in both
    ge = np.array([0, 999, 999, 999, 10, 989, 500, 600])
    le = np.array([999, 0, 999, 300, 990, 11, 500, 600])
    lower, upper = hs.tail_p(ge, le, P)
    assert lower.tolist() == pytest.approx([1, 0.001, 1, 0.301, 0.991, 0.012, 0.501, 0.601])
    assert upper.tolist() == pytest.approx([0.001, 1, 1, 1, 0.011, 0.99, 0.501, 0.601])
    p = hs.permutation_p(ge, le, P)
    # nothing as high: 2 / 1000; every simulated sum tied with the observed one: 1; 300 of 999
    # at or below: 2 * 301 / 1000; the median: capped at 1
    assert p.tolist() == pytest.approx([0.002, 0.002, 1, 0.602, 0.022, 0.024, 1, 1])
    assert hs.smallest_p(999) == 0.002 and hs.smallest_p(0) == 0.0 and hs.smallest_p(1) == 1.0


def test_permutation_p_by_hand_on_five_zones():
    """Five zones in a row with sparse counts, nine permutations drawn from a seeded RNG that the
    test replicates; the tallies are done by hand from the drawn table."""
    nb = Neighbours.from_lists([[1], [0, 2], [1, 3], [2, 4], [3]])
    y = np.array([0.0, 0, 0, 1, 2])
    # permutation_counts draws, per permutation, 2 (max k) distinct positions among the n - 1 = 4
    # other zones: the first 2 of an argsort of 4 uniform keys (numpy default_rng(seed))
    R = np.argsort(np.random.default_rng(7).random((9, 4)), axis=1)[:, :2]
    assert R.tolist() == [[3, 0], [2, 0], [3, 2], [0, 1], [2, 1], [3, 1], [0, 2], [3, 2], [0, 1]]
    assert np.array_equal(hs._draw_distinct(np.random.default_rng(7), 4, 9, 2), R)
    ge, le = hs.permutation_counts(y, nb, None, 9, seed=7)
    # zone 0 (k = 1) skips itself: position q is zone q + 1. First column 3 2 3 0 2 3 0 3 0 ->
    # zones 4 3 4 1 3 4 1 4 1 -> values 2 1 2 0 1 2 0 2 0; observed sum y[1] = 0:
    # >= 0: 9, <= 0: 3 (the ties)  ->  p_lower 4/10, p_upper 10/10, p = 0.8
    # zone 1 (k = 2): positions 0 1 2 3 are zones 0 2 3 4; pairs -> sums 2 1 3 0 1 2 1 3 0;
    # observed y[0] + y[2] = 0: >= 0: 9, <= 0: 2  ->  p = 2 * 3/10 = 0.6
    # zone 3 (k = 2): positions are zones 0 1 2 4 -> sums 2 0 2 0 0 2 0 2 0; observed
    # y[2] + y[4] = 2: >= 2: 4, <= 2: 9  ->  p = 2 * 5/10 = 1.0
    assert (ge[0], le[0], ge[1], le[1], ge[3], le[3]) == (9, 3, 9, 2, 4, 9)
    p = hs.permutation_p(ge, le, 9)
    assert p[[0, 1, 3]].tolist() == pytest.approx([0.8, 0.6, 1.0])
    # esda's p_sim would fold to the lower tail without the ties: zone 0 has larger = 9, so
    # min(9, 9 - 9) + 1 = 1 -> 0.1, "significant at 90 %" for a zone that is not low at all
    assert (min(ge[0], 9 - ge[0]) + 1) / 10 == 0.1
    res = hs.analyse(y, nb, permutations=9, seed=7, fdr=False)
    assert res.gi_p[[0, 1, 3]].tolist() == pytest.approx([0.8, 0.6, 1.0])
    assert res.gi_bin.tolist() == [0, 0, 0, 0, 0]


def test_local_moran_permutation_p_is_two_sided_in_i():
    # zone with z_i > 0: I grows with the neighbours' sum; z_i < 0: I falls as it grows; the
    # two-sided p is the same either way. z_i = 0: I = 0 in every permutation, p = 1.
    rng = np.random.default_rng(3)
    r, c = np.divmod(np.arange(120), 12)
    nb = grid_contiguity(r, c)
    y = rng.permutation(np.repeat([0.0, 1, 2, 3, 4], 24))      # mean exactly 2
    res = hs.analyse(y, nb, permutations=199, seed=9, fdr=False)
    ge, le = hs.permutation_counts(y, nb, None, 199, seed=9)
    expected = np.minimum(1, 2 * (np.minimum(ge, le) + 1) / 200)
    zc = y - y.mean()
    assert (zc == 0).sum() == 24
    assert not np.all(expected[zc == 0] == 1.0)   # the sums vary ...
    expected[zc == 0] = 1.0                         # ... but I_i = 0 throughout
    assert res.lisa_p.tolist() == pytest.approx(expected.tolist())
    assert np.all(res.lisa_cluster[zc == 0] == "Not significant")
    # a row-standardised graph (non-binary path) gives the same p on this binary graph
    y2 = y.copy()
    y2[5] = 50.0                               # one outlier, High-Low around it
    a = hs.analyse(y2, nb, permutations=199, seed=9, fdr=False)
    ge2, le2 = hs.permutation_counts(y2, nb, nb.row_standardised_weights(), 199, seed=9)
    exp2 = np.minimum(1, 2 * (np.minimum(ge2, le2) + 1) / 200)
    exp2[(y2 - y2.mean()) == 0] = 1.0
    assert a.lisa_p.tolist() == pytest.approx(exp2.tolist())


def test_sparse_zero_neighbourhoods_are_not_cold_spots():
    # 90 % zeros: a zone with 0 and all neighbours 0 has many simulated sums equal to 0 too
    # (about 0.9^k of them: 0.43 for 8 neighbours, 0.73 for 3); counting those ties in the lower
    # tail gives p = min(1, 2 * 0.9^k) >= 0.8, not the smallest p (esda: 1 / (P + 1))
    rng = np.random.default_rng(12)
    r, c = np.divmod(np.arange(900), 30)
    nb = grid_contiguity(r, c)
    y = np.where(rng.random(900) < 0.1, 1.0, 0.0)
    res = hs.analyse(y, nb, permutations=999, seed=1, fdr=False)
    empty = (y == 0) & (nb.lag(y) == 0)
    assert empty.sum() > 300
    assert res.gi_p[empty].min() > 0.75
    inner = empty & (nb.counts == 8)
    assert np.median(res.gi_p[inner]) == pytest.approx(2 * 0.9 ** 8, abs=0.06)
    assert np.all(res.gi_p[empty & (nb.counts == 3)] == 1.0)
    ge, le = hs.permutation_counts(y, nb, None, 999, seed=1)
    esda_p = (np.minimum(ge, 999 - ge) + 1) / 1000
    assert np.all(esda_p[empty] == 0.001)          # the artefact this replaces
    assert not np.any(res.gi_bin < 0)
    ana = hs.analyse(y, nb, fdr=False)
    assert not np.any(ana.gi_bin < 0)


def test_draws_are_distinct_within_each_permutation():
    rng = np.random.default_rng(0)
    for pool, k in [(10, 10), (5000, 900), (100000, 30)]:
        R = hs._draw_distinct(rng, pool, 50, k)
        assert R.shape == (50, k) and R.min() >= 0 and R.max() < pool
        assert all(len(set(row)) == k for row in R.tolist())


def test_cancel_stops_the_permutations():
    r, c = np.divmod(np.arange(10000), 100)
    nb = grid_contiguity(r, c)
    y = np.random.default_rng(0).random(10000)
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(CompositeIndexError, match="Cancelled"):
        hs.analyse(y, nb, permutations=999, seed=1, progress=Progress(is_cancelled=cancelled))


# -- automatic scale ----------------------------------------------------------------------------
def test_automatic_scale_finds_clustering_and_explains():
    rng = np.random.default_rng(8)
    r, c = np.divmod(np.arange(900), 30)
    x, y = c * 100.0, r * 100.0
    # smooth blobs of about 300 m: strong positive autocorrelation at short range
    v = np.exp(-((x - 800) ** 2 + (y - 900) ** 2) / (2 * 300 ** 2)) * 20 \
        + np.exp(-((x - 2200) ** 2 + (y - 2000) ** 2) / (2 * 300 ** 2)) * 20 + rng.random(900)
    choice = hs.automatic_band(x, y, v)
    assert choice.distance >= 100.0
    assert choice.table[0][0] == pytest.approx(100.0, rel=1e-6)
    assert "Automatic scale" in choice.reason and f"{choice.distance:.6g}" in choice.reason
    zs = [row[2] for row in choice.table]
    assert max(zs) > 1.96


def test_automatic_scale_falls_back_to_kth_neighbour_distance():
    rng = np.random.default_rng(9)
    n = 200
    x, y = rng.random(n) * 1000, rng.random(n) * 1000
    v = np.zeros(n)
    v[::2] = 1.0                          # alternating by index: no spatial structure ...
    v = rng.permutation(v)                # ... shuffled in space
    choice = hs.automatic_band(x, y, v, steps=6)
    assert max(row[2] for row in choice.table) < 1.96     # no significant clustering anywhere
    assert choice.k == 10                                  # int(0.05 * 200)
    d = np.sqrt((x[:, None] - x) ** 2 + (y[:, None] - y) ** 2)
    np.fill_diagonal(d, np.inf)
    assert choice.distance == pytest.approx(np.sort(d, axis=1)[:, 9].mean())
    assert "10th nearest" in choice.reason


def test_automatic_scale_takes_the_first_peak(monkeypatch):
    zs = [1.0, 2.5, 2.2, 3.0, 3.5, 2.0]

    def fake_scan(x, y, values, bands, progress=None):
        return [{"I": 0.1, "z_rand": z} for z in zs[:len(bands)]]

    monkeypatch.setattr(hs, "band_moran_scan", fake_scan)
    x = np.arange(50, dtype=float)
    choice = hs.automatic_band(x, np.zeros(50), np.arange(50.0), steps=6)
    assert [row[0] for row in choice.table] == pytest.approx([1, 2, 3, 4, 5, 6], rel=1e-6)
    assert choice.distance == pytest.approx(2.0, rel=1e-6)   # start 1, step 1: second band
    assert "first peak" in choice.reason


def test_automatic_scale_stops_before_too_many_neighbours():
    r, c = np.divmod(np.arange(400), 20)
    v = np.random.default_rng(2).random(400)
    choice = hs.automatic_band(c * 10.0, r * 10.0, v, steps=10, max_mean_neighbours=40)
    # rook at 10 m: 3.8 on average; (d / 10)^2 growth passes 40 beyond 30 m
    assert [row[0] for row in choice.table] == pytest.approx([10, 20, 30], rel=1e-6)
    assert "not tried" in choice.reason


def test_band_scan_equals_one_band_at_a_time():
    rng = np.random.default_rng(21)
    x, y = rng.random(700) * 1000, rng.random(700) * 1000
    x[:3] += 5000                                   # islands at every band
    v = rng.gamma(2, 2, 700) + (x < 400) * 3
    bands = [40.0, 75.0, 110.0, 160.0]
    scan = hs.band_moran_scan(x, y, v, bands)
    for d, got in zip(bands, scan):
        ref = hs.global_moran(v, distance_band(x, y, d))
        for key in ("I", "z_norm", "z_rand", "VI_norm", "VI_rand"):
            assert got[key] == pytest.approx(ref[key], rel=1e-9, abs=1e-12), (d, key)


def test_index_measure_gi_star_agrees_with_ours():
    """core.measures (the index's "clustering" measure) has its own Gi*; both must agree."""
    from composite_index_plugin.core import measures
    nb, _ = read_gal(os.path.join(PYSAL, "stl", "stl.gal"))
    y = pd.read_csv(os.path.join(PYSAL, "stl", "stl_hom.csv"))["HR8893"].to_numpy().copy()
    y[[4, 30]] = np.nan
    ours = hs.gi_star_z(y, nb)
    theirs = measures.gi_star_z(y, nb)
    np.testing.assert_allclose(theirs, ours, atol=1e-12)
    assert np.isnan(ours[[4, 30]]).all() and np.isfinite(ours).sum() == 76
