"""Area summaries, extent and gap against hand-computed numbers."""
import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core.assessment import (
    WHOLE_STUDY_AREA,
    area_gaps,
    describe_gap,
    detect_themes_issues,
    extent_weight,
    gap_stats,
    need_rank,
    parse_gap,
    rank_group,
    summarise_areas,
    top_group,
    zone_hotspot_m2,
)
from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.ranking import need_ranks


def _zones():
    # zone i has score 10 - i: zone 0 is the highest need; n = 10 -> rank = decile = i + 1,
    # percentile = 10 * (i + 1)
    return pd.DataFrame({
        "ci_score": np.arange(10, 0, -1, dtype=float),
        "population": [100, 200] + [100] * 8,
        "crime_pct": [70, 60, 50, 40, 20, 10, 10, 10, 10, 10],
        "harm_pct": [30, 40, 50, 60, 80, 90, 90, 90, 90, 90],
        "crime_idx": np.linspace(1, 0, 10),
        "harm_idx": np.linspace(0, 1, 10),
        "theft_idx": [5.0] * 10,
        "assault_idx": [1.0] * 10,
    })


def _overlaps():
    # area A: zones 0, 1, 2 and half of zone 3; area B: the other half of zone 3 and zones 4-9
    rows = [(0, 0, 1.0), (1, 0, 1.0), (2, 0, 1.0), (3, 0, 0.5), (3, 1, 0.5)]
    rows += [(z, 1, 1.0) for z in range(4, 10)]
    return pd.DataFrame(rows, columns=["zone", "area", "fraction"])


W20 = 0.95 - 9 * 0.9 / 19  # extent weight of percentile 20


def test_extent_weights_hand_values():
    got = extent_weight([1, 10, 11, 20, 30, 31, 100, np.nan])
    assert got == pytest.approx([1, 1, 0.95, W20, 0.05, 0, 0, 0])


def test_ranks_and_groups():
    r = need_rank([3.0, 9.0, np.nan, 9.0, 1.0])
    assert np.array_equal(r[[0, 1, 3, 4]], [3, 1, 1, 4]) and np.isnan(r[2])
    assert list(rank_group([1, 2, 3, 4, 20], 20, 10)) == [1, 1, 2, 2, 10]


def test_summary_hand_computed():
    zones = _zones()
    themes, issues = detect_themes_issues(zones.columns)
    assert themes == {"crime": "crime_idx", "harm": "harm_idx"}
    assert set(issues) == {"theft", "assault"}
    hot, tot = zone_hotspot_m2(_overlaps(), np.full(10, 1e6),
                               np.isin(np.arange(10), [0, 3]), 2)
    res = summarise_areas(zones, _overlaps(), ["A", "B"], population="population",
                          themes=themes, issues=issues,
                          theme_means={"crime": "crime_idx"}, hotspot_m2=hot, area_m2=tot)
    t = res.table.set_index("area_name")
    assert list(t.index) == ["A", "B", WHOLE_STUDY_AREA]
    a, b, w = t.loc["A"], t.loc["B"], t.loc[WHOLE_STUDY_AREA]
    # A: weights 100, 200, 100, 50 on scores 10, 9, 8, 7
    assert a.mean_score == pytest.approx(3950 / 450)
    assert a.population == pytest.approx(450)
    assert a.n_zones == 4
    assert a.pop_top_decile_pct == pytest.approx(100 * 100 / 450)
    assert a.zones_top_decile_pct == pytest.approx(100 / 3.5)
    assert a.extent_pct == pytest.approx(100 * (100 + 200 * W20 + 100 * 0.05) / 450)
    assert a.gap_diff == pytest.approx(10 - 2950 / 350)
    assert a.gap_ratio == pytest.approx(10 / (2950 / 350))
    assert a.hotspot_km2 == pytest.approx(1.5) and a.hotspot_pct == pytest.approx(100 * 1.5 / 3.5)
    assert a.area_rank == 1
    # A: mean theme score (weighted as mean_score) crime (1 * 100 + 8/9 * 200 + 7/9 * 100 +
    # 6/9 * 50) / 450 = 0.864 > harm 0.136
    assert (a.top_theme_1, a.top_theme_2, a.top_theme_3) == ("crime", "harm", None)
    assert (a.top_issue_1, a.top_issue_2) == ("theft", "assault")
    # B: 50 on 7, 100 on 6..1; no top-decile zone so no gap
    assert b.mean_score == pytest.approx(2450 / 650)
    assert b.extent_pct == 0 and b.pop_top_decile_pct == 0
    assert np.isnan(b.gap_diff) and np.isnan(b.gap_ratio)
    assert b.area_rank == 2 and b.top_theme_1 == "harm"
    assert b.hotspot_pct == pytest.approx(100 * 0.5 / 6.5)
    # whole study area: every zone once
    assert w.mean_score == pytest.approx(6400 / 1100)
    assert w.population == pytest.approx(1100) and w.n_zones == 10
    assert w.gap_diff == pytest.approx(10 - 5.4) and w.gap_ratio == pytest.approx(10 / 5.4)
    assert w.extent_pct == pytest.approx(100 * (100 + 200 * W20 + 100 * 0.05) / 1100)
    assert w.hotspot_km2 == pytest.approx(2) and w.hotspot_pct == pytest.approx(20)
    assert pd.isna(w.area_rank)
    crime_a = (1 * 100 + (8 / 9) * 200 + (7 / 9) * 100 + (6 / 9) * 50) / 450
    assert a.crime_mean == pytest.approx(crime_a)
    assert any("one side of the gap" in m for m in res.messages)


def test_gap_percent_zone_weighted():
    res = summarise_areas(_zones(), _overlaps(), ["A", "B"], population="population",
                          gap='{"by": "percent", "value": 20, "weighting": "zones"}')
    w = res.table.iloc[-1]
    assert w.gap_diff == pytest.approx(9.5 - 4.5)
    assert w.gap_ratio == pytest.approx(9.5 / 4.5)


def test_gap_ratio_undefined_for_non_positive_rest():
    diff, ratio, top, rest = gap_stats([2.0, -1.0, -3.0], [True, False, False], [1, 1, 1])
    assert diff == pytest.approx(4.0) and np.isnan(ratio) and rest == pytest.approx(-2)
    zones = _zones()
    zones["ci_score"] -= 9  # scores 1 .. -8: the rest's mean is negative everywhere
    res = summarise_areas(zones, _overlaps(), ["A", "B"], population="population")
    assert res.table["gap_ratio"].isna().all()
    assert res.table.iloc[-1].gap_diff == pytest.approx(4.6)
    assert any("gap ratio is left empty" in m for m in res.messages)
    # an area whose other zones happen to average above zero gets no ratio either (the old rule
    # gave A: 1 / ((0 - 1 + 0.5 * -2) / 2.5) < 0, and B's "rest" could be tiny and positive)
    zones["ci_score"] = [1.0, 0.2, 0.1, 0.05, -1, -1, -1, -1, -1, -1]
    res = summarise_areas(zones, _overlaps(), ["A", "B"], population="population")
    assert res.table["gap_ratio"].isna().all()
    assert res.table.iloc[0].gap_diff == pytest.approx(1 - (0.2 * 200 + 0.1 * 100 + 0.05 * 50) / 350)


def test_without_population_and_with_missing_scores():
    zones = _zones().drop(columns="population")
    zones.loc[9, "ci_score"] = np.nan
    res = summarise_areas(zones, _overlaps(), ["A", "B"])
    a = res.table.iloc[0]
    assert a.mean_score == pytest.approx((10 + 9 + 8 + 0.5 * 7) / 3.5)
    assert np.isnan(a.population) and np.isnan(a.pop_top_decile_pct)
    # 9 valid zones: ranks 1-4 fall in percentiles ceil(100 r / 9) = 12, 23, 34, 45
    w12, w23 = 0.95 - 1 * 0.9 / 19, 0.95 - 12 * 0.9 / 19
    assert a.extent_pct == pytest.approx(100 * (w12 + w23) / 3.5)
    assert any("1 zone(s) without" in m for m in res.messages)
    assert any("weigh each zone equally" in m for m in res.messages)


def test_bad_input_messages():
    with pytest.raises(CompositeIndexError, match="do not overlap any zone"):
        summarise_areas(_zones(), pd.DataFrame(columns=["zone", "area", "fraction"]), ["A"])
    with pytest.raises(CompositeIndexError, match="no score field 'nope'"):
        summarise_areas(_zones(), _overlaps(), ["A", "B"], score="nope")
    with pytest.raises(CompositeIndexError, match="not valid JSON"):
        parse_gap("{by: decile}")
    with pytest.raises(CompositeIndexError, match="gap.decile: is not a known key"):
        parse_gap({"decile": 2})
    with pytest.raises(CompositeIndexError, match="whole decile"):
        parse_gap({"by": "decile", "value": 1.5})
    with pytest.raises(CompositeIndexError, match="names area 5"):
        summarise_areas(_zones(), pd.DataFrame({"zone": [0], "area": [5], "fraction": [1.0]}),
                        ["A", "B"])


def test_top_group_by_population_share_by_hand():
    scores = [10.0, 9, 8, 7, 6]
    pop = [50, 100, 200, 400, 250]   # 1,000 residents
    share = {"by": "percent", "value": 20}
    # zone 0: 0 + 50 <= 200; zone 1: 50 + 100 = 150 <= 200; zone 2: 150 + 200 > 200
    got, info = top_group(scores, share, pop)
    assert got.tolist() == [True, True, False, False, False]
    assert info == {"zones": 2, "share_pct": pytest.approx(15.0), "by_population": True}
    # decile 1 = 10 %: zone 0 alone (50); zone 1 would make 150
    assert top_group(scores, {"by": "decile", "value": 1}, pop)[0].tolist() == [True] + [False] * 4
    # tied zones go together: zones 1 and 2 tie at 9 with 50 ranked above them
    got, _ = top_group([10.0, 9, 9, 7, 6], share, [50, 60, 40, 400, 450])
    assert got.tolist() == [True, True, True, False, False]
    # the highest-need zone is in even when it alone holds more than the share
    got, info = top_group([1.0, 5, 2], share, [10, 80, 10])
    assert got.tolist() == [False, True, False] and info["share_pct"] == pytest.approx(80)
    # missing scores are never in; no population -> zone share, said in the info
    got, info = top_group([np.nan, 3.0, 2, 1, 0], {"by": "percent", "value": 25}, None)
    assert got.tolist() == [False, True, False, False, False] and not info["by_population"]


def test_top_group_by_zone_share_is_decile_one():
    rng = np.random.default_rng(5)
    scores = np.round(rng.normal(size=997), 1)          # many ties
    scores[[3, 50]] = np.nan
    _, last = need_ranks(scores)          # ties: the class of the last of them, as ci_decile
    for value in (1, 2, 3):
        got, info = top_group(scores, {"by": "decile", "value": value, "weighting": "zones"},
                              rng.uniform(0, 100, 997))
        want = rank_group(last, 995, 10) <= value
        assert np.array_equal(got, want) and info["zones"] == int(want.sum())


def test_summary_issue_means_and_counts_weighted_like_the_score():
    zones = _zones()
    zones["burglary_victims"] = np.arange(10.0)
    res = summarise_areas(zones, _overlaps(), ["A", "B"], population="population",
                          issue_means={"crime2": "crime_idx"}, sums=["burglary_victims"])
    t = res.table.set_index("area_name")
    crime_a = (1 * 100 + (8 / 9) * 200 + (7 / 9) * 100 + (6 / 9) * 50) / 450
    assert t.loc["A", "crime2_mean"] == pytest.approx(crime_a)
    whole = np.average(np.linspace(1, 0, 10), weights=zones["population"])
    assert t.loc[WHOLE_STUDY_AREA, "crime2_mean"] == pytest.approx(whole)
    # counts: each zone by the share of it inside the area (zone 3 is split in halves)
    assert t.loc["A", "burglary_victims"] == pytest.approx(0 + 1 + 2 + 1.5)
    assert t.loc["B", "burglary_victims"] == pytest.approx(1.5 + 4 + 5 + 6 + 7 + 8 + 9)
    assert t.loc[WHOLE_STUDY_AREA, "burglary_victims"] == pytest.approx(45)
    assert any(m.startswith("Gap: mean score of the highest-need zones holding 10 % of the "
                            "residents (1 zone with 9.1 % of the residents)") for m in res.messages)


def test_summary_and_period_gap_agree():
    zones = _zones()
    for gap in (None, {"mode": "worst_vs_average"}, {"weighting": "zones", "by": "percent", "value": 30}):
        summary = summarise_areas(zones, _overlaps(), ["A", "B"], population="population",
                                  gap=gap).table
        gaps = area_gaps(zones, ["A", "B"], _overlaps(), population="population", gap=gap)
        assert np.allclose(summary["gap_diff"], gaps["gap_diff"], equal_nan=True)
        assert np.allclose(summary["mean_score"], gaps["mean_score"])
    # worst against average, whole area: 10 against 6400 / 1100
    t = summarise_areas(zones, _overlaps(), ["A", "B"], population="population",
                        gap={"mode": "worst_vs_average"}).table
    assert t.iloc[-1].gap_diff == pytest.approx(10 - 6400 / 1100)


def test_describe_gap_says_which_share():
    assert describe_gap({"weighting": "zones", "by": "percent", "value": 20}) == (
        "mean score of the highest-need zones holding 20 % of the zones minus that of all other "
        "zones; each zone weighing the same")
    text = describe_gap(None, {"zones": 3, "share_pct": 9.0, "by_population": False})
    assert "holding 10 % of the zones (3 zones)" in text and "(no population known)" in text
    assert parse_gap('{"mode": "reselected"}')["mode"] == "reselected"
    with pytest.raises(CompositeIndexError, match=r"gap.mode: unknown mode 'fixed' \(choose one of: cohort"):
        parse_gap({"mode": "fixed"})


def test_ties_share_the_class_of_the_last_of_them_in_summaries():
    """Scores 10, 9, then eight zones tied at 0 (as cells without incidents). Tied zones share
    the class of the last of them: deciles 1, 2, 10 x 8 and percentiles 10, 20, 100 x 8, so the
    tied zones weigh 0 in the extent (by their first rank, 3, they would be in decile 3 and
    percentile 30 with extent weight 0.05)."""
    zones = _zones()
    zones["ci_score"] = [10.0, 9.0] + [0.0] * 8
    overlaps = pd.DataFrame([(z, 0, 1.0) for z in range(10)], columns=["zone", "area", "fraction"])
    res = summarise_areas(zones, overlaps, ["A"], population="population",
                          gap='{"by": "percent", "value": 30, "weighting": "zones"}')
    a = res.table.iloc[0]
    # extent: percentiles 10 and 20 -> weights 1 and W20, the tied zones 0; population weighted.
    assert a.extent_pct == pytest.approx(100 * (100 * 1 + 200 * W20) / 1100)
    assert a.pop_top_decile_pct == pytest.approx(100 * 100 / 1100)
    # A top 30 % holds zones 0 and 1 only: the tie of eight (2 above + 8 > 3) stays out whole
    # (by its first rank, 2 + 1 <= 3, it would join and the group would be every zone).
    top, info = top_group(zones["ci_score"], {"by": "percent", "value": 30, "weighting": "zones"})
    assert top.tolist() == [True, True] + [False] * 8 and info["zones"] == 2
    assert res.table.iloc[-1].gap_diff == pytest.approx(9.5)
    # By population the same: 300 of 1,100 residents above the tie, 800 more would not fit.
    top, _ = top_group(zones["ci_score"], {"by": "percent", "value": 30}, zones["population"])
    assert top.tolist() == [True, True] + [False] * 8


def test_zones_without_incidents_rank_last_in_summaries_and_the_gap():
    """The index's ci_no_incidents zones sit below every other zone on its map (core.ranking);
    the summaries' top decile, extent and the gap's top group follow the same order."""
    zones = _zones()
    zones["ci_no_incidents"] = [1] + [0] * 9       # zone 0 has the top score but no incident
    # without the flag zone 0 is decile 1 and alone in the top group (zone share, 10 %)
    plain = summarise_areas(zones, _overlaps(), ["A", "B"], population="population",
                            gap={"weighting": "zones"}).table
    flagged = summarise_areas(zones, _overlaps(), ["A", "B"], population="population",
                              gap={"weighting": "zones"}, floor="ci_no_incidents").table
    # area A holds zones 0, 1, 2 and half of 3: by zones its top-decile share is 1 / 3.5
    assert plain.zones_top_decile_pct.iloc[0] == pytest.approx(100 / 3.5)
    # flagged: zone 1 (score 9) takes decile 1 (ranks 2..10 move up one; zone 0 is last)
    assert flagged.zones_top_decile_pct.iloc[0] == pytest.approx(100 / 3.5)
    got, info = top_group(zones.ci_score, {"weighting": "zones"}, floor=zones.ci_no_incidents == 1)
    assert got.tolist() == [False, True] + [False] * 8 and info["zones"] == 1
    # the whole-area gap: top group zone 1 (9) against the other nine zones' mean (score 10
    # of zone 0 still counts in the mean: flags move ranks, not scores)
    whole = flagged.iloc[-1]
    assert whole.gap_diff == pytest.approx(9 - (10 + 8 + 7 + 6 + 5 + 4 + 3 + 2 + 1) / 9)
    # extent of A: zone 0 drops to percentile 100 (weight 0), zones 1, 2, 3 move up to
    # percentiles 10, 20, 30 (weights 1, W20, 0.05)
    assert flagged.extent_pct.iloc[0] == pytest.approx(100 * (200 + 100 * W20 + 50 * 0.05) / 450)
    assert plain.extent_pct.iloc[0] == pytest.approx(100 * (100 + 200 * W20 + 100 * 0.05) / 450)


def test_top_theme_is_the_highest_mean_score_on_sparse_data():
    """Most zones without an incident: on z-scores every theme is below its mean there, and the
    signed percent (share of the sum of absolute contributions) of the theme least below average
    is the least negative. The mean percent then puts that theme first although the area scores
    higher on another (the West Yorkshire case: violence "top" in every district by mean
    percent, criminal damage and disorder the highest theme score in each). The top theme is the one
    with the highest mean score, the value shown as <theme>_mean."""
    # zones 0-1 with incidents (asb high), zones 2-9 empty: asb -0.3, violence -0.1
    asb = np.array([2.0, 1.5] + [-0.3] * 8)
    violence = np.array([0.5, 0.4] + [-0.1] * 8)
    contrib = np.vstack([asb, violence]) / 2          # mean of two themes, equal weights
    pct = 100 * contrib / np.abs(contrib).sum(axis=0)
    zones = pd.DataFrame({"ci_score": contrib.sum(axis=0), "population": [100.0] * 10,
                          "asb_idx": asb, "asb_pct": pct[0],
                          "violence_idx": violence, "violence_pct": pct[1]})
    overlaps = pd.DataFrame({"zone": np.arange(10), "area": 0, "fraction": 1.0})
    themes, issues = detect_themes_issues(zones.columns)
    assert themes == {"asb": "asb_idx", "violence": "violence_idx"} and issues == {}
    # by mean percent violence would come first: asb (80 + 78.9 + 8 * -75) / 10 = -44.1 <
    # violence (20 + 21.1 + 8 * -25) / 10 = -15.9
    assert pct[0].mean() == pytest.approx(-44.105, abs=1e-3)
    assert pct[1].mean() == pytest.approx(-15.895, abs=1e-3)
    res = summarise_areas(zones, overlaps, ["Only"], population="population", themes=themes,
                          theme_means={t: f"{t}_idx" for t in themes})
    row = res.table.set_index("area_name").loc["Only"]
    # mean scores: asb (2 + 1.5 - 2.4) / 10 = 0.11 > violence (0.5 + 0.4 - 0.8) / 10 = 0.01
    assert row.asb_mean == pytest.approx(0.11) and row.violence_mean == pytest.approx(0.01)
    assert (row.top_theme_1, row.top_theme_2, row.top_theme_3) == ("asb", "violence", None)


def test_each_area_mean_is_computed_once(monkeypatch):
    """Themes and issues are ranked by the means written as <name>_mean: one pass over the
    overlaps per column (it was two: one to rank, one to write)."""
    from composite_index_plugin.core import assessment

    seen = []
    real = assessment.weighted_mean_by_area
    monkeypatch.setattr(assessment, "weighted_mean_by_area",
                        lambda values, *args: seen.append(values) or real(values, *args))
    zones = _zones()
    themes, issues = detect_themes_issues(zones.columns)
    res = summarise_areas(zones, _overlaps(), ["A", "B"], population="population",
                          themes=themes, issues=issues,
                          theme_means={t: f"{t}_idx" for t in themes},
                          issue_means={i: f"{i}_idx" for i in issues})
    # mean score, two top-decile shares, extent, then 2 themes and 2 issues once each
    assert len(seen) == 4 + 2 + 2
    t = res.table.set_index("area_name")
    assert t.loc["A", "top_theme_1"] == "crime" and t.loc["A", "crime_mean"] == pytest.approx(
        (1 * 100 + (8 / 9) * 200 + (7 / 9) * 100 + (6 / 9) * 50) / 450)
