"""Benjamini-Hochberg on hand-computed cases, and FDR-aware Gi* bins."""
import numpy as np
import pytest

from composite_index_plugin.core import hotspots as hs


def test_step_up_rejects_past_an_intermediate_failure():
    # sorted: .001 .025 .028 .030 .200 against k * .05 / 5 = .01 .02 .03 .04 .05
    # k = 2 fails (.025 > .02) but k = 4 passes (.030 <= .04): reject the four smallest
    p = np.array([0.2, 0.025, 0.001, 0.03, 0.028])
    assert hs.bh_threshold(p, 0.05) == 0.03
    assert hs.bh_reject(p, 0.05).tolist() == [False, True, True, True, True]


def test_nothing_rejected_and_everything_rejected():
    assert hs.bh_reject([0.02, 0.04, 0.9], 0.01).tolist() == [False, False, False]
    assert hs.bh_threshold([0.02, 0.04, 0.9], 0.01) == 0.0
    assert hs.bh_reject([0.001, 0.002, 0.003], 0.01).tolist() == [True, True, True]


def test_missing_p_do_not_count_in_m():
    # m = 2 (the NaN is left out): thresholds .025 .05 -> both rejected
    p = np.array([0.024, np.nan, 0.05])
    assert hs.bh_reject(p, 0.05).tolist() == [True, False, True]
    # with a third p of 1.0, m = 3: .024 > .05 / 3 = .0167 and .05 > .0333: nothing rejected
    assert hs.bh_reject([0.024, 1.0, 0.05], 0.05).tolist() == [False, False, False]


def test_ties_and_p_equal_to_zero():
    assert hs.bh_reject([0.0, 0.5, 0.5], 0.05).tolist() == [True, False, False]
    assert hs.bh_reject([0.03, 0.03, 0.03], 0.05).tolist() == [True, True, True]


def test_adjusted_q_values_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # sorted .005 .01 .03 .04 .5 -> p m / k = .025 .025 .05 .05 .5, then running min from the top
    q = hs.bh_adjusted(p)
    assert q.tolist() == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    # rejecting q <= alpha is the same as BH at alpha
    for alpha in (0.01, 0.025, 0.05, 0.1):
        assert ((q <= alpha) == hs.bh_reject(p, alpha)).all()


def test_gi_bins_with_fdr_are_stricter_than_without():
    # ten zones; p and the sign of z chosen by hand
    z = np.array([3.5, 3.0, 2.2, 2.0, 1.7, -2.6, -1.8, 0.5, -0.2, 0.1])
    p = np.array([0.0005, 0.003, 0.028, 0.046, 0.089, 0.009, 0.072, 0.6, 0.85, 0.92])
    plain = hs.gi_bins(z, p)
    assert plain.tolist() == [3, 3, 2, 2, 1, -3, -1, 0, 0, 0]
    # BH, m = 10, sorted p: .0005 .003 .009 .028 .046 .072 .089 .6 ...
    # alpha .01: k/10*.01 = .001 .002 .003 ...: .0005 ok, .003 > .002, .009 > .003 -> k = 1
    # alpha .05: .005 .010 .015 .020 .025 .030 ...: .009 <= .015 (k=3), .028 > .020,
    #            .046 > .025, .072 > .030, .089 > .035 -> k = 3
    # alpha .10: .01 .02 .03 .04 .05 .06 .07 ...: .046 <= .05 (k=5), .072 > .06, .089 > .07 -> 5
    fdr = hs.gi_bins(z, p, fdr=True)
    assert fdr.tolist() == [3, 2, 1, 1, 0, -2, 0, 0, 0, 0]


# -- what the chosen permutations and FDR can reach --------------------------------------------
def test_reach_for_38k_cells_and_999_permutations_by_hand():
    reach = {r.confidence: r for r in hs.reachable_significance(38148, 999, True)}
    assert set(reach) == {90, 95, 99}
    for r in reach.values():
        assert r.p_min == 0.002 and r.n_tested == 38148 and r.fdr
        assert r.possible and not r.alone
    # k = ceil(n p_min / q): 38148 * 0.002 / 0.05 = 1525.92 -> 1526; / 0.10 -> 762.96 -> 763;
    # / 0.01 -> 7629.6 -> 7630. One zone alone needs 2 / (P + 1) <= q / n: P + 1 >= 2 n / q
    assert (reach[90].zones_needed, reach[95].zones_needed, reach[99].zones_needed) == \
        (763, 1526, 7630)
    assert (reach[90].permutations_needed, reach[95].permutations_needed,
            reach[99].permutations_needed) == (762959, 1525919, 7629599)
    text = "\n".join(hs.reach_warnings(list(reach.values())))
    assert "smallest possible p-value is 0.002" in text
    assert "95 % confidence only if at least 1,526 of the 38,148 zones (4 %)" in text
    assert "1,525,919 for 95 %" in text and "PERMUTATIONS = 0" in text


def test_zones_needed_is_what_benjamini_hochberg_does():
    n, P = 1388, 999
    reach = {r.confidence: r for r in hs.reachable_significance(n, P, True, lisa_alpha=0.05)}
    k = reach[95].zones_needed
    assert k == 56                                     # ceil(1388 * 0.002 / 0.05) = ceil(55.52)
    for m, rejected in ((k - 1, 0), (k, k), (k + 10, k + 10)):
        p = np.ones(n)
        p[:m] = hs.smallest_p(P)
        assert hs.bh_reject(p, 0.05).sum() == rejected
        z = np.where(p < 1, 3.0, 0.0)
        assert (hs.gi_bins(z, p, fdr=True) >= 2).sum() == rejected
    # with the permutations needed, one zone at the floor is enough; one fewer is not
    need = reach[95].permutations_needed
    assert need == 55519                                # 2 * 1388 / 0.05 - 1
    for perms, rejected in ((need, 1), (need - 1, 0)):
        p = np.ones(n)
        p[0] = hs.smallest_p(perms)
        assert hs.bh_reject(p, 0.05).sum() == rejected
    lisa = [r for r in hs.reachable_significance(n, P, True, 0.05) if r.statistic != "Gi*"]
    assert len(lisa) == 1 and lisa[0].confidence == 95 and lisa[0].zones_needed == 56


def test_reach_without_fdr_and_analytic():
    # 99 permutations: smallest p 2 / 100 = 0.02, never below 0.01; 200 permutations give
    # 2 / 201 < 0.01 (199 give exactly 0.01, which is not below it)
    reach = {r.confidence: r for r in hs.reachable_significance(500, 99, False)}
    assert not reach[99].possible and reach[99].permutations_needed == 200
    assert reach[95].alone and reach[90].alone
    assert not {r.confidence: r for r in hs.reachable_significance(500, 199, False)}[99].possible
    assert {r.confidence: r for r in hs.reachable_significance(500, 200, False)}[99].alone
    assert hs.gi_bins([3.0, 3.0], [hs.smallest_p(199), hs.smallest_p(200)]).tolist() == [2, 3]
    text = hs.reach_warnings(list(reach.values()))
    assert len(text) == 1
    assert "99 % confidence never (p must be below 0.01)" in text[0] and "200 for 99 %" in text[0]
    # analytic p-values have no floor; enough permutations without FDR: nothing to say
    assert all(r.alone for r in hs.reachable_significance(38148, 0, True, 0.05))
    assert hs.reach_warnings(hs.reachable_significance(38148, 0, True, 0.05)) == []
    assert hs.reach_warnings(hs.reachable_significance(38148, 999, False, 0.05)) == []


def test_analyse_reports_reach_over_the_zones_it_tests():
    from composite_index_plugin.core.neighbours import grid_contiguity

    r, c = np.divmod(np.arange(100), 10)
    row, col = np.append(r, [40, 60]), np.append(c, [40, 60])      # two islands
    nb = grid_contiguity(row, col)
    x = np.random.default_rng(5).poisson(3, 102).astype(float)
    x[[1, 10, 11]] = np.nan                 # corner zone 0 loses all its neighbours
    assert hs.tested_zones(x, nb) == 102 - 3 - 3
    res = hs.analyse(x, nb, permutations=99, seed=1, fdr=True)
    assert res.islands.tolist() == [0, 100, 101]
    assert {r.n_tested for r in res.reachability} == {96}
    assert {(r.statistic, r.confidence) for r in res.reachability} == \
        {("Gi*", 90), ("Gi*", 95), ("Gi*", 99), ("local Moran", 95)}
    r95 = next(r for r in res.reachability if r.confidence == 95 and r.statistic == "Gi*")
    assert r95.zones_needed == 39                     # ceil(96 * 0.02 / 0.05) = ceil(38.4)
