"""Area summaries, extent and gap against hand-computed numbers."""
import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core.assessment import (
    WHOLE_STUDY_AREA,
    detect_themes_issues,
    extent_weight,
    gap_stats,
    need_rank,
    parse_gap,
    rank_group,
    summarise_areas,
    zone_hotspot_m2,
)
from composite_index_plugin.core.errors import CompositeIndexError


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
    assert themes == {"crime": "crime_pct", "harm": "harm_pct"}
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
    # A: crime (70*100 + 60*200 + 50*100 + 40*50) / 450 = 57.8 > harm 42.2
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
