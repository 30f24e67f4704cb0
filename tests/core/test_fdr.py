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
