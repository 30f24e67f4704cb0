"""Period comparison: Mann-Kendall, transitions, emerging categories, gaps, bad input."""
import math

import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.periods import (
    align_periods,
    compare_periods,
    decile_field,
    emerging_categories,
    hotspot_transition,
    mann_kendall,
    mann_kendall_smallest_p,
    min_periods_for_trend,
    trend_testability,
)


def test_mann_kendall_hand_series_with_ties():
    # x = 1, 2, 2, 3, 1: pair signs from 1st: +,+,+,0 (3); 2nd: 0,+,- (0); 3rd: +,- (0); 4th: - (-1)
    # S = 2; n = 5: 5*4*15 = 300; tie groups {1,1} and {2,2}: 2*1*9 each -> Var = 264/18
    s, var, z, p = mann_kendall([[1, 2, 2, 3, 1],
                                 [1, 2, 3, 4, 5],
                                 [3, 3, 3, 3, 3],
                                 [5, 4, 4, 4, 1],
                                 [1, np.nan, 2, 3, 4]])
    assert s[0] == 2 and var[0] == pytest.approx(264 / 18)
    assert z[0] == pytest.approx(1 / math.sqrt(264 / 18))
    assert p[0] == pytest.approx(math.erfc(z[0] / math.sqrt(2)))
    assert p[0] == pytest.approx(0.79400, abs=5e-5)
    # strictly increasing: S = 10, Var = 300/18 = 16.667, Z = 9/4.0825 = 2.2045, p = 0.02749
    assert s[1] == 10 and var[1] == pytest.approx(300 / 18)
    assert z[1] == pytest.approx(2.20454, abs=1e-5) and p[1] == pytest.approx(0.027486, abs=1e-5)
    # all tied: no variance, no trend
    assert s[2] == 0 and var[2] == 0 and z[2] == 0 and p[2] == 1
    # 5, 4, 4, 4, 1: S = -4-2 (from 5: -1 x4 = -4; from each 4: 0,0,-1 / 0,-1 / -1 -> -3) = -7
    # one tie group of 3: 3*2*11 = 66 -> Var = (300 - 66) / 18 = 13
    assert s[3] == -7 and var[3] == pytest.approx(13)
    assert z[3] == pytest.approx(-6 / math.sqrt(13))
    assert np.isnan(s[4]) and np.isnan(p[4])


def test_hotspot_transitions_hand():
    before = [0, 0, 2, 2, 3, 3, 2, -2, np.nan]
    after = [2, 0, 3, 2, 2, 0, -3, 0, 2]
    got = hotspot_transition(before, after, min_bin=2)
    assert list(got) == ["new", "", "intensifying", "persistent", "diminishing", "ended",
                         "ended", "", None]
    assert list(hotspot_transition([0, 1], [1, 0], min_bin=1)) == ["new", "ended"]


def test_emerging_categories_hand():
    bins = np.array([
        [0, 0, 0, 0, 2],        # new hot
        [0, 0, 0, 2, 3],        # consecutive hot
        [2, 2, 2, 2, 2],        # persistent hot (no trend in bins)
        [1, 2, 2, 3, 3],        # 4/5 hot at min_bin 2 -> 80 % < 90 %: consecutive (run 4)
        [2, 0, 2, 0, 2],        # sporadic hot
        [-2, 0, 0, 0, 2],       # oscillating hot
        [0, 0, 0, 0, -3],       # new cold
        [0, 0, 0, 0, 0],        # no pattern
        [2, 0, 0, 0, 0],        # hot once, not recently: no pattern
    ], dtype=float)
    got = emerging_categories(bins, min_bin=2)
    assert list(got) == ["new hot spot", "consecutive hot spot", "persistent hot spot",
                         "consecutive hot spot", "sporadic hot spot", "oscillating hot spot",
                         "new cold spot", "no pattern", "no pattern"]


def test_emerging_trend_categories_use_z():
    # hot in all 10 periods; z rising strictly -> intensifying; falling -> diminishing
    bins = np.full((4, 10), 3.0)
    z = np.vstack([np.arange(10) + 3.0, 12.0 - np.arange(10), np.full(10, 4.0),
                   -(np.arange(10) + 3.0)])
    bins[3] = -3
    # row 4: hot in 9 of 10 periods but not the last -> historical
    bins = np.vstack([bins, [3] * 9 + [0]])
    z = np.vstack([z, np.full(10, 3.0)])
    got = emerging_categories(bins, z, min_bin=2)
    assert list(got) == ["intensifying hot spot", "diminishing hot spot", "persistent hot spot",
                         "intensifying cold spot", "historical hot spot"]


def _period(ids, scores, bins=None, pop=None):
    frame = pd.DataFrame({"cell_id": ids, "ci_score": scores})
    if bins is not None:
        frame["gi_bin"] = bins
    if pop is not None:
        frame["population"] = pop
    return frame


def test_compare_two_periods_with_baseline_and_gap():
    ids = [f"S1_r0_c{i}" for i in range(10)]
    p1 = _period(ids, np.arange(10, 0, -1.0), [3, 2, 0, 0, 0, 0, 0, 0, 0, 0])
    # second year listed in reverse order; by zone its scores are s2 and its bins b2
    s2 = [12, 1, 2, 3, 4, 5, 6, 7, 10, 9.0]
    b2 = [0, 0, 0, 0, 0, 0, 0, 0, 2, 2]
    p2 = _period(ids[::-1], s2[::-1], b2[::-1])
    res = compare_periods([p1, p2], labels=["2023", "2024"], comparable=True)
    z = res.zones
    assert list(z["cell_id"]) == ids
    assert list(z["score_change"]) == [2, -8, -6, -4, -2, 0, 2, 4, 8, 8]
    # ranks 2024: zone 0 (12) 1, zone 8 (10) 2, zone 9 (9) 3, zone 7 (7) 4 ...
    assert list(z["rank_2024"][[0, 8, 9, 7, 1]]) == [1, 2, 3, 4, 10]
    assert list(z["rank_change"][[0, 8, 9, 1]]) == [0, 9 - 2, 10 - 3, 2 - 10]
    assert list(z["decile_change"][[0, 8, 1]]) == [0, 7, -8]
    assert list(z["hotspot_transition"]) == ["ended", "ended"] + [""] * 6 + ["new", "new"]
    # gap (no population: zones weigh equally): 2023 top zone 10 vs rest mean 5 -> diff 5;
    # 2024 top zone 12 vs rest (10+9+7+6+5+4+3+2+1)/9 = 47/9
    g = res.gaps.set_index("period")
    assert g.loc["2023", "gap_diff"] == pytest.approx(5)
    assert g.loc["2024", "gap_diff"] == pytest.approx(12 - 47 / 9)
    assert g.loc["2024", "gap_diff_change"] == pytest.approx(12 - 47 / 9 - 5)
    assert g.loc["2024", "gap_ratio"] == pytest.approx(12 / (47 / 9))


def test_without_baseline_compares_ranks_and_trend():
    ids = ["a", "b", "c"]
    frames = [_period(ids, [3.0, 2, 1]), _period(ids, [2.0, 3, 1]), _period(ids, [1.0, 3, 2])]
    res = compare_periods(frames, id_field="cell_id")
    z = res.zones
    assert z["score_change"].isna().all()
    assert "rescaled" in res.messages[0]
    # zone a: ranks 1, 2, 3 -> need falls; series -rank = -1, -2, -3: S = -3
    # b: -2, -1, -1 -> S = 2; c: -3, -3, -2 -> S = 2
    assert list(z["trend_s"]) == [-3, 2, 2]
    assert list(z["rank_change"]) == [-2, 1, 1]
    assert "emerging" not in z.columns


def test_gap_per_area_and_population():
    ids = list(range(4))
    p1 = _period(ids, [4.0, 3, 2, 1], pop=[10, 10, 10, 30])
    p2 = _period(ids, [4.0, 3, 2, 2], pop=[10, 10, 10, 30])
    overlaps = pd.DataFrame({"zone": [0, 1, 2, 3], "area": [0, 0, 1, 1], "fraction": 1.0})
    res = compare_periods([p1, p2], id_field="cell_id", comparable=True, area_names=["N", "S"],
                          overlaps=overlaps, gap={"by": "percent", "value": 25})
    g = res.gaps.set_index(["period", "area_name"])
    # top 25 % = zone 0; area N: 4 vs 3 -> 1; whole p1: 4 vs (30+20+30)/50 = 1.6 -> 2.4
    assert g.loc[("p1", "N"), "gap_diff"] == pytest.approx(1)
    assert np.isnan(g.loc[("p1", "S"), "gap_diff"])
    assert g.loc[("p1", "Whole study area"), "gap_diff"] == pytest.approx(4 - 80 / 50)
    assert g.loc[("p2", "Whole study area"), "gap_diff"] == pytest.approx(4 - 110 / 50)
    assert g.loc[("p2", "Whole study area"), "gap_diff_change"] == pytest.approx(-0.6)


def test_different_ids_are_refused_naming_them():
    a = _period(["x1", "x2", "x3"], [1.0, 2, 3])
    b = _period(["x1", "x2", "x4"], [1.0, 2, 3])
    with pytest.raises(CompositeIndexError) as err:
        align_periods([a, b], labels=["2023", "2024"])
    text = str(err.value)
    assert "'2023' and '2024' do not have the same zones" in text
    assert "missing in '2024': x3" in text and "not in '2023': x4" in text
    with pytest.raises(CompositeIndexError, match="repeats zone id"):
        align_periods([a, _period(["x1", "x1", "x2"], [1.0, 2, 3])])
    with pytest.raises(CompositeIndexError, match="at least two periods"):
        align_periods([a])
    with pytest.raises(CompositeIndexError, match="no zone id field 'zone'"):
        align_periods([a, a], id_field="zone")
    with pytest.raises(CompositeIndexError, match="2 label"):
        compare_periods([a, a, a], labels=["one", "two"])


# -- can a trend be significant with this many periods? ---------------------------------------
def exact_mk_two_sided_p(series):
    """Exact two-sided Mann-Kendall p of a series without ties: the share of all n! orderings
    whose |S| is at least the observed |S| (Kendall 1975), by enumeration."""
    import itertools

    def score(x):
        return sum(np.sign(x[j] - x[i]) for i in range(len(x)) for j in range(i + 1, len(x)))

    s_obs = abs(score(series))
    all_s = [abs(score(perm)) for perm in itertools.permutations(range(len(series)))]
    return sum(v >= s_obs for v in all_s) / len(all_s)


@pytest.mark.parametrize("n, s_max, var, z, p", [
    # S = n(n-1)/2; Var = n(n-1)(2n+5)/18; Z = (S - 1)/sqrt(Var); p = erfc(Z / sqrt(2))
    (3, 3, 66 / 18, 2 / math.sqrt(66 / 18), 0.296270),     # Z = 1.044466
    (4, 6, 156 / 18, 5 / math.sqrt(156 / 18), 0.089429),   # Z = 1.698416
    (5, 10, 300 / 18, 9 / math.sqrt(300 / 18), 0.027486),  # Z = 2.204541
])
def test_smallest_mann_kendall_p_with_3_4_5_periods(n, s_max, var, z, p):
    rising = np.arange(1.0, n + 1)
    s, v, zz, pp = mann_kendall([rising, rising[::-1]])
    assert s.tolist() == [s_max, -s_max] and v[0] == pytest.approx(var)
    assert zz[0] == pytest.approx(z) and pp[0] == pytest.approx(p, abs=1e-6)
    assert pp[1] == pytest.approx(p, abs=1e-6)
    assert mann_kendall_smallest_p(n) == pytest.approx(p, abs=1e-6)
    # the exact permutation distribution (1 of n! orderings each way) gives 2 / n!:
    # 0.333, 0.0833, 0.0167: below 0.05 from n = 5 too, so the conclusion does not depend on
    # the normal approximation
    exact = exact_mk_two_sided_p(rising)
    assert exact == pytest.approx(2 / math.factorial(n))
    assert (exact < 0.05) == (p < 0.05) == (n >= 5)


def test_exact_and_normal_mann_kendall_p_for_a_non_monotone_series():
    # 1 3 2 5 4: pairs + + + + / - + + / + + / - -> S = 8 - 2 = 6; Var = 50/3; Z = 5 / 4.0825
    x = [1.0, 3, 2, 5, 4]
    s, var, z, p = mann_kendall([x])
    assert s[0] == 6 and z[0] == pytest.approx(5 / math.sqrt(50 / 3))
    assert p[0] == pytest.approx(0.220671, abs=1e-6)
    # exact: |S| >= 6 in 2 * (1 + 4 + 9 + 15) / 120 orderings (S = 10, 8, 6 each way have
    # 1, 4, 9 orderings: Mahonian numbers; S >= 6 <=> at most 2 inversions: 1 + 4 + 9 = 14)
    assert exact_mk_two_sided_p(x) == pytest.approx(2 * 14 / 120)


def test_ties_never_lower_the_smallest_p():
    def partitions(n, largest=None):
        if n == 0:
            yield []
            return
        for k in range(min(n, largest or n), 0, -1):
            for rest in partitions(n - k, k):
                yield [k] + rest

    for n in range(3, 13):
        rows = [np.repeat(np.arange(len(groups), dtype=float), groups)
                for groups in partitions(n) if len(groups) > 1]
        _, _, _, p = mann_kendall(np.vstack(rows))
        assert p.min() == pytest.approx(mann_kendall_smallest_p(n)), n


def test_trend_testability_and_its_note():
    assert min_periods_for_trend(0.05) == 5
    assert min_periods_for_trend(0.10) == 4                 # 0.089 < 0.10
    assert min_periods_for_trend(0.01) == 6                 # n = 6: 0.0085
    four = trend_testability(4)
    assert not four.testable and four.min_periods == 5 and four.periods == 4
    assert four.smallest_p == pytest.approx(0.089429, abs=1e-6)
    assert four.note.startswith("trend not testable with 4 periods: needs at least 5")
    assert "0.089" in four.note and "'intensifying'" in four.note
    assert not trend_testability(3).testable and "0.3" in trend_testability(3).note
    assert trend_testability(5).testable and "0.0275" in trend_testability(5).note
    assert trend_testability(4, alpha=0.10).testable
    assert trend_testability(2).note.startswith("trend not testable with 2 periods: needs at least 5")


def _periods(scores, bins, z=None):
    ids = [f"z{i}" for i in range(scores.shape[0])]
    frames = []
    for k in range(scores.shape[1]):
        f = _period(ids, scores[:, k], bins[:, k])
        if z is not None:
            f["gi_z"] = z[:, k]
        frames.append(f)
    return frames


@pytest.mark.parametrize("t", [3, 4, 5])
def test_compare_says_when_a_trend_cannot_be_significant(t):
    k = np.arange(t, dtype=float)
    # zone 0 rises every period, zone 1 falls, zone 2 is flat with a blip; zone 3 hot every
    # period with a rising z (intensifying when testable), zone 4 never hot
    scores = np.vstack([1 + k, 10 - k, 5 + (k == 1), 3 + 0 * k, 2 + 0 * k])
    bins = np.vstack([0 * k, 0 * k, 0 * k, 3 + 0 * k, 0 * k])
    z = np.vstack([0 * k, 0 * k, 0 * k, 3 + k, 0 * k])
    res = compare_periods(_periods(scores, bins, z), comparable=True)
    trend, emerging = list(res.zones["trend"]), list(res.zones["emerging"])
    p = res.zones["trend_p"].to_numpy()
    assert p[0] == pytest.approx(mann_kendall_smallest_p(t))
    assert res.trend.periods == t
    if t < 5:
        assert not res.trend.testable
        assert trend == ["not testable"] * 5
        assert emerging[3] == "persistent hot spot"
        assert len(res.warnings) == 1
        assert res.warnings[0].startswith(f"Trend not testable with {t} periods: needs at least 5")
        assert res.warnings[0][1:] == res.trend.note[1:]
    else:
        assert res.trend.testable and res.warnings == []
        assert trend[:2] == ["increasing", "decreasing"] and trend[2] == "no trend"
        assert emerging[3] == "intensifying hot spot"


def test_two_periods_say_there_is_no_trend():
    ids = ["a", "b", "c"]
    res = compare_periods([_period(ids, [3.0, 2, 1]), _period(ids, [2.0, 3, 1])])
    assert "trend" not in res.zones.columns
    assert not res.trend.testable and res.trend.periods == 2
    assert any("No trend with 2 periods" in m and "at least 5" in m for m in res.messages)
    assert res.warnings == []


# --------------------------------------------------------------------------------------------
# the gap over time: fixed cohort, re-selected top group, worst against average
# --------------------------------------------------------------------------------------------
def _gap_periods():
    # five zones; residents 50, 100, 200, 400, 250 (1,000). Top 20 % of the residents in the
    # first period: zone 0 (50) and zone 1 (50 + 100 = 150 <= 200); zone 2 would make 350.
    ids = ["z0", "z1", "z2", "z3", "z4"]
    pop = [50, 100, 200, 400, 250]
    p1 = _period(ids, [10.0, 9, 8, 7, 6], pop=pop)
    p2 = _period(ids, [6.0, 7, 9, 8, 10], pop=pop)
    overlaps = pd.DataFrame({"zone": [0, 1, 2, 3, 4], "area": [0, 0, 0, 1, 1], "fraction": 1.0})
    return [p1, p2], overlaps


def _gaps(mode, weighting="population"):
    frames, overlaps = _gap_periods()
    res = compare_periods(frames, labels=["2024", "2025"], comparable=True, area_names=["A", "B"],
                          overlaps=overlaps,
                          gap={"by": "percent", "value": 20, "weighting": weighting, "mode": mode})
    return res, res.gaps.set_index(["period", "area_name"])


def test_gap_fixed_cohort_by_hand():
    res, g = _gaps("cohort")
    whole = "Whole study area"
    # 2024: top (10*50 + 9*100) / 150 = 9.333; rest (8*200 + 7*400 + 6*250) / 850 = 6.941
    assert g.loc[("2024", whole), "top_mean"] == pytest.approx(1400 / 150)
    assert g.loc[("2024", whole), "versus_mean"] == pytest.approx(5900 / 850)
    assert g.loc[("2024", whole), "gap_diff"] == pytest.approx(1400 / 150 - 5900 / 850)
    assert g.loc[("2024", whole), "gap_ratio"] == pytest.approx((1400 / 150) / (5900 / 850))
    assert g.loc[("2024", whole), "top_zones"] == 2
    assert g.loc[("2024", whole), "top_share_pct"] == pytest.approx(15.0)
    # 2025, the same two zones: (6*50 + 7*100) / 150 = 6.667 against (9*200 + 8*400 + 10*250) / 850
    gap25 = 1000 / 150 - 7500 / 850
    assert g.loc[("2025", whole), "gap_diff"] == pytest.approx(gap25)
    assert g.loc[("2025", whole), "gap_diff_change"] == pytest.approx(
        gap25 - (1400 / 150 - 5900 / 850))
    assert set(res.gaps["top_group_of"]) == {"2024"} and set(res.gaps["gap_mode"]) == {"cohort"}
    # per area: A holds the cohort and zone 2; B none of it
    assert g.loc[("2024", "A"), "gap_diff"] == pytest.approx(1400 / 150 - 8)
    assert g.loc[("2025", "A"), "gap_diff"] == pytest.approx(1000 / 150 - 9)
    assert np.isnan(g.loc[("2025", "B"), "gap_diff"])
    # area means are population-weighted as in the area summary: A 2025 = (300 + 700 + 1800) / 350
    assert g.loc[("2025", "A"), "mean_score"] == pytest.approx(2800 / 350)
    text = res.messages[-1]
    assert "holding 20 % of the residents in 2024 (2 zones with 15.0 % of the residents; the same " \
           "zones in every period) minus that of all other zones; population-weighted" in text


def test_gap_reselected_by_hand():
    res, g = _gaps("reselected")
    whole = "Whole study area"
    assert g.loc[("2024", whole), "gap_diff"] == pytest.approx(1400 / 150 - 5900 / 850)
    # 2025's own top group: zone 4 (10, 250 residents) alone already holds 25 % > 20 %, but the
    # highest-need zone is always in: 10 against (6*50 + 7*100 + 9*200 + 8*400) / 750 = 8
    assert g.loc[("2025", whole), "gap_diff"] == pytest.approx(2.0)
    assert g.loc[("2025", whole), "top_zones"] == 1
    assert g.loc[("2025", whole), "top_share_pct"] == pytest.approx(25.0)
    assert g.loc[("2025", whole), "gap_diff_change"] == pytest.approx(2 - (1400 / 150 - 5900 / 850))
    assert list(res.gaps["top_group_of"].unique()) == ["2024", "2025"]
    assert "re-selected in each period (2 zones in 2024" in res.messages[-1]


def test_gap_worst_against_average_by_hand():
    res, g = _gaps("worst_vs_average")
    whole = "Whole study area"
    # the 2024 group against everyone (itself included): 9.333 - 7300 / 1000; 6.667 - 8500 / 1000
    assert g.loc[("2024", whole), "versus_mean"] == pytest.approx(7.3)
    assert g.loc[("2024", whole), "gap_diff"] == pytest.approx(1400 / 150 - 7.3)
    assert g.loc[("2025", whole), "gap_diff"] == pytest.approx(1000 / 150 - 8.5)
    # area A: against its own mean (all three zones)
    assert g.loc[("2024", "A"), "gap_diff"] == pytest.approx(1400 / 150 - 3000 / 350)
    assert "minus the mean of the whole area (the top group included)" in res.messages[-1]


def test_gap_by_zone_share_by_hand():
    _, g = _gaps("cohort", weighting="zones")
    whole = "Whole study area"
    # 20 % of 5 zones = zone 0 alone, means unweighted: 10 - 7.5; 2025: 6 - 8.5
    assert g.loc[("2024", whole), "gap_diff"] == pytest.approx(2.5)
    assert g.loc[("2025", whole), "gap_diff"] == pytest.approx(-2.5)
    assert g.loc[("2024", whole), "top_share_pct"] == pytest.approx(20.0)
    # the area means stay population-weighted (the gap's weighting is the gap's own)
    assert g.loc[("2024", "A"), "mean_score"] == pytest.approx((500 + 900 + 1600) / 350)


def test_no_gap_ratio_on_a_scale_crossing_zero():
    # z-like scores: the rest of area A has a small positive mean (0.15), which gave absurd
    # ratios (1 / 0.15); on a scale crossing zero no ratio is given anywhere, in any period
    ids = ["a", "b", "c", "d", "e"]
    p1 = _period(ids, [1.0, 0.5, -0.2, -0.5, -1.0])
    p2 = _period(ids, [2.0, 1.5, 1.0, 0.5, 0.2])
    overlaps = pd.DataFrame({"zone": [0, 1, 2, 3, 4], "area": [0, 0, 0, 1, 1], "fraction": 1.0})
    res = compare_periods([p1, p2], comparable=True, area_names=["A", "B"], overlaps=overlaps,
                          gap={"by": "percent", "value": 20, "weighting": "zones"})
    g = res.gaps
    assert g["gap_ratio"].isna().all()
    a1 = g[(g.period == "p1") & (g.area_name == "A")].iloc[0]
    assert a1.gap_diff == pytest.approx(1 - 0.15)


def test_tied_zones_share_the_decile_of_the_last_of_them():
    # 2023: scores 10, 9 and eight tied at 0 -> deciles 1, 2, 10 x 8 (by first rank, 3 x 8).
    # 2024: zone 2 rises to 20 -> deciles 2, 3, 1, then seven tied at 0 -> 10.
    ids = [f"S1_r0_c{i}" for i in range(10)]
    p1 = _period(ids, [10.0, 9.0] + [0.0] * 8)
    p2 = _period(ids, [10.0, 9.0, 20.0] + [0.0] * 7)
    z = compare_periods([p1, p2], labels=["2023", "2024"], comparable=True).zones
    assert list(z["decile_2023"]) == [1, 2] + [10] * 8
    assert list(z["decile_2024"]) == [2, 3, 1] + [10] * 7
    assert list(z["decile_change"]) == [-1, -1, 9] + [0] * 7


def test_labels_name_fields_safely_and_read_as_given_in_the_gaps():
    """'2016-07' is rank_2016_07 as a field, and '2016-07' where a board reads it (the gaps
    table feeds the printed gap-over-time page and the area pages' change table)."""
    ids = [f"S1_r0_c{i}" for i in range(4)]
    p1 = _period(ids, [4.0, 3, 2, 1], [0, 0, 0, 0])
    p2 = _period(ids, [1.0, 2, 3, 4], [0, 0, 0, 0])
    res = compare_periods([p1, p2], labels=["2016-07", "2017-07"], comparable=True)
    assert "rank_2016_07" in res.zones.columns and "rank_2017_07" in res.zones.columns
    assert sorted(set(res.gaps["period"])) == ["2016-07", "2017-07"]


def test_a_blank_period_label_reads_as_its_field_name():
    """A blank label names its fields p2.. and shows as p2 in the gaps table (not as an empty
    cell on the printed page), so the area pages find its decile field."""
    ids = [f"S1_r0_c{i}" for i in range(4)]
    p1 = _period(ids, [4.0, 3, 2, 1], [0, 0, 0, 0])
    p2 = _period(ids, [1.0, 2, 3, 4], [0, 0, 0, 0])
    res = compare_periods([p1, p2], labels=["2016", "  "], comparable=True)
    assert "rank_p2" in res.zones.columns
    assert sorted(set(res.gaps["period"])) == ["2016", "p2"]
    assert decile_field(["2016", "p2"], 1) == "decile_p2" and "decile_p2" in res.zones.columns
