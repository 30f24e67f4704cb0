"""Page content of the printed assessment, checked against values worked out by hand."""
import math
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core.report_pages import (
    area_change_rows,
    build_pages,
    count_rows,
    diverging_classes,
    gap_over_time,
    pretty,
    zone_change_counts,
)
from composite_index_plugin.core.svg_chart import BAR, BAR_LOW, bar_chart_svg, column_chart_svg

MINUS = "\u2212"


def _summary():
    return pd.DataFrame([
        {"area_name": "Whole study area", "area_rank": 0, "mean_score": 14.0, "n_zones": 9,
         "population": 3000.0, "violence_mean": 0.2, "acquisitive_mean": 0.0, "gap_diff": 0.0},
        {"area_name": "Alpha", "area_rank": 2, "mean_score": 10.0, "n_zones": 5, "population": 1000.0,
         "top_theme_1": "violence", "top_theme_2": "acquisitive", "top_theme_3": None,
         "top_issue_1": "robbery", "top_issue_2": None, "top_issue_3": None,
         "violence_mean": 0.5, "acquisitive_mean": -0.2, "gap_diff": np.nan},
        {"area_name": "Beta", "area_rank": 1, "mean_score": 20.0, "n_zones": 4, "population": 2000.0,
         "top_theme_1": "violence", "top_theme_2": "acquisitive", "top_theme_3": None,
         "top_issue_1": "robbery", "top_issue_2": None, "top_issue_3": None,
         "violence_mean": 0.1, "acquisitive_mean": 0.3, "gap_diff": 25.0},
        {"area_name": "Gamma", "area_rank": 0, "mean_score": np.nan, "n_zones": 0, "population": 0.0,
         "top_theme_1": None, "top_theme_2": None, "top_theme_3": None,
         "top_issue_1": None, "top_issue_2": None, "top_issue_3": None,
         "violence_mean": np.nan, "acquisitive_mean": np.nan, "gap_diff": np.nan},
    ])


def test_rows_scores_ranks_and_gaps_by_hand():
    issues = pd.DataFrame({"robbery": [np.nan, 1.234, 2.0, np.nan]})   # rows as in the summary
    pages, rows, city = build_pages(_summary(), issue_means=issues,
                                    city={"issues": {"robbery": 1.0}},
                                    labels={"violence": "Violence and vulnerability"})
    assert list(pages["area_name"]) == ["Alpha", "Beta", "Gamma"]      # the whole-area row is not paged
    assert list(pages["src_row"]) == [1, 2, 3]                          # rows of the summary
    assert city["score"] == 14.0 and city["themes"] == {"violence": 0.2, "acquisitive": 0.0}
    alpha = rows[rows.page_id == 1].drop(columns="page_id").values.tolist()
    assert alpha == [
        [1, "Composite index", "10.0", "2 of 2", f"{MINUS}4.0"],          # gap 10 - 14
        [2, "Theme: Violence and vulnerability", "0.50", "1 of 2", "+0.30"],
        [3, "Theme: Acquisitive", f"{MINUS}0.20", "2 of 2", f"{MINUS}0.20"],
        [4, "Issue: Robbery", "1.23", "2 of 2", "+0.23"],
    ]
    beta = rows[rows.page_id == 2].values.tolist()
    assert beta[0][2:] == ["Composite index", "20.0", "1 of 2", "+6.0"]   # 20 - 14
    # priorities sorted by need: Beta's first theme by contribution (violence, 0.10) comes after
    # acquisitive (0.30)
    assert [r[2] for r in beta[1:3]] == ["Theme: Acquisitive", "Theme: Violence and vulnerability"]
    assert [r[3] for r in beta[1:3]] == ["0.30", "0.10"]
    # the summary's own gap (inside the area) is a key figure, not the difference from the whole
    assert pages.iloc[1]["facts"].endswith("the gap within the area 25.0.")
    assert "gap" not in pages.iloc[0]["facts"]
    assert list(rows.columns) == ["page_id", "row_order", "priority", "score", "rank", "difference"]
    assert rows[rows.page_id == 3]["priority"].tolist() == ["No index zones in this area"]
    gamma = pages.iloc[2]
    assert gamma["no_data"] == 1 and gamma["facts"].startswith("No data")
    assert pages.iloc[0]["facts"].startswith(
        "Rank 2 of 2 areas \u00b7 mean score 10.0 (whole study area 14.0)")
    assert "1,000 residents in 5 zones" in pages.iloc[0]["facts"]
    chart = pages.iloc[0]["chart"]
    assert chart == [("Violence and vulnerability", 0.5, 0.2), ("Acquisitive", -0.2, 0.0)]


def test_pretty_names():
    assert pretty("domestic_abuse") == "Domestic abuse"
    assert pretty("x", {"x": "Label"}) == "Label"
    assert pretty(None) == "" and pretty(float("nan")) == ""


def test_chart_svg_bars_and_empty():
    svg = bar_chart_svg([("Crime & disorder", 0.5), ("Health", -0.25), ("Missing", math.nan)],
                        "Theme scores", reference=[0.1, 0.0, 0.0], width=90, height=50)
    root = ET.fromstring(svg)                     # well-formed XML, '&' escaped
    ns = "{http://www.w3.org/2000/svg}"
    rects = root.findall(f"{ns}rect")
    assert len(rects) == 3                        # background + 2 bars (NaN gets "no data" text)
    assert rects[1].get("fill") == BAR and rects[2].get("fill") == BAR_LOW
    # bars start at zero: the positive bar's left edge is the negative bar's right edge
    left_pos = float(rects[1].get("x"))
    right_neg = float(rects[2].get("x")) + float(rects[2].get("width"))
    assert abs(left_pos - right_neg) < 0.02
    # bar lengths are proportional to the values: 0.5 vs 0.25
    assert abs(float(rects[1].get("width")) / float(rects[2].get("width")) - 2.0) < 0.01
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "Crime &amp; disorder" not in texts and "Crime & disorder" in texts
    assert "no data" in texts and f"{MINUS}0.25" in texts and "0.50" in texts
    empty = ET.fromstring(bar_chart_svg([("a", math.nan)], "T", empty_text="No data"))
    assert [t.text for t in empty.iter(f"{ns}text")][-1] == "No data"


def _pages():
    return pd.DataFrame({"page_id": [1, 2, 3], "area_name": ["Alpha", "Beta", "Gamma"],
                         "no_data": [0, 0, 1]})


def test_count_rows_round_split_zones_and_total():
    counts = pd.DataFrame({"burglary_victims": [10.4, 3.0, np.nan], "burglary_locations": [12.6, 0, 0],
                           "asb_locations": [1200.0, 7, 0]})
    rows, roles = count_rows(_pages(), counts, labels={"asb": "Anti-social behaviour"})
    assert roles == ["victims", "locations"]
    alpha = rows[rows.page_id == 1][["issue", "victims", "locations"]].values.tolist()
    assert alpha == [["Burglary", "10", "13"], ["Anti-social behaviour", "-", "1,200"],
                     ["All issues", "10", "1,213"]]
    assert rows[rows.page_id == 3]["issue"].tolist() == ["No index zones in this area"]


def _gaps_table():
    rows = []
    for k, (period, whole, a_mean, a_gap) in enumerate((("2024", (1.2, 0.2, 1.0), 0.5, 0.8),
                                                         ("2025", (0.9, 0.15, 0.75), 0.2, 0.9))):
        top, versus, gap = whole
        rows.append({"period": period, "period_index": k + 1, "area_name": "Whole study area",
                     "mean_score": 0.3, "top_mean": top, "versus_mean": versus, "gap_diff": gap})
        rows.append({"period": period, "period_index": k + 1, "area_name": "Alpha",
                     "mean_score": a_mean, "gap_diff": a_gap})
        rows.append({"period": period, "period_index": k + 1, "area_name": "Beta",
                     "mean_score": 0.4, "gap_diff": np.nan})
    return pd.DataFrame(rows[::-1])   # order of the rows does not matter


def test_gap_over_time_rows_and_headline():
    got = gap_over_time(_gaps_table())
    assert got["periods"] == ["2024", "2025"]
    # one decimal more than the scores', so that top minus versus adds up in print
    assert [list(r.values()) for r in got["rows"]] == [
        [1, "2024", "1.200", "0.200", "1.000", "-"],
        [2, "2025", "0.900", "0.150", "0.750", f"{MINUS}0.250"]]
    assert got["chart"] == [("2024", 1.0), ("2025", 0.75)]
    assert got["headline"] == f"The gap narrowed from 1.000 in 2024 to 0.750 in 2025 ({MINUS}0.250)."
    assert got["change_text"] == f"{MINUS}0.250"     # the overview's "since" figure, the same text


def test_area_change_rows_by_hand():
    change = pd.DataFrame({"decile_2024": [1, 1, 2, 1, 5], "decile_2025": [1, 2, 1, 1, 1],
                           "hotspot_transition": ["new", "persistent", "ended", "", None]})
    owner = [0, 0, 0, 1, -1]      # the last zone is outside every area
    zc = zone_change_counts(change, owner, 3, ["2024", "2025"])
    assert zc.loc[0].tolist() == [2, 2, 2, 2, 1, 1]     # decile 1 2 -> 2; hot 2 -> 2 (1 new, 1 ended)
    assert zc.loc[1, "decile1_first"] == 1 and zc.loc[2, "decile1_last"] == 0
    rows = area_change_rows(_pages(), _gaps_table(), zc)
    alpha = rows[rows.page_id == 1][["measure", "first", "last", "change"]].values.tolist()
    assert alpha == [["Mean score", "0.50", "0.20", f"{MINUS}0.30"],
                     ["Rank of 2 areas", "1", "2", "+1"],      # Beta's 0.40 is above Alpha's 0.20
                     ["The gap within the area", "0.80", "0.90", "+0.10"],
                     ["Zones in decile 1", "2", "2", "0"],
                     ["Hotspot cells", "2", "2", "1 new, 1 ended"]]
    beta = rows[rows.page_id == 2][["measure", "first", "last", "change"]].values.tolist()
    assert beta[2] == ["The gap within the area", "-", "-", "-"]
    # without a shared scale the mean score row goes, ranks stay
    rows = area_change_rows(_pages(), _gaps_table(), zc, comparable=False)
    assert rows[rows.page_id == 1]["measure"].tolist()[0] == "Rank of 2 areas"
    assert rows[rows.page_id == 3]["measure"].tolist() == ["No index zones in this area"]


def test_diverging_classes_centred_on_zero():
    rng = np.random.default_rng(1)
    classes = diverging_classes(rng.normal(0, 0.3, 1000))
    # |change| 95th percentile ~0.59 -> step 0.2 (3 steps reach it)
    assert [c[2] for c in classes] == [
        f"{MINUS}0.6 or less", f"{MINUS}0.6 to {MINUS}0.4", f"{MINUS}0.4 to {MINUS}0.2",
        f"{MINUS}0.2 to +0.2 (about the same)", "+0.2 to +0.4", "+0.4 to +0.6", "+0.6 or more"]
    lows = [c[0] for c in classes]
    highs = [c[1] for c in classes]
    assert lows[1:] == [-h for h in reversed(highs[:-1])]     # symmetric about 0
    whole = diverging_classes([0, 1, -1, 2, -3, 4, 0, 0])
    assert [c[2] for c in whole] == [f"{MINUS}6 or less", f"{MINUS}5 to {MINUS}4",
                                     f"{MINUS}3 to {MINUS}2", f"{MINUS}1 to +1 (about the same)",
                                     "+2 to +3", "+4 to +5", "+6 or more"]
    deciles = diverging_classes([0, 1, -1, 0, 2, 0, -1, 0, 3, 0] * 5)
    assert [c[2] for c in deciles][2:5] == [f"{MINUS}1", "0 (no change)", "+1"]


def test_chart_labels_cut_at_a_word_boundary():
    svg = bar_chart_svg([("Violence against the person including harassment and stalking offences", 1.0),
                         ("b", 0.5), ("c", 0.2), ("d", 0.1), ("e", 0.3), ("f", 0.2), ("g", 0.1),
                         ("h", 0.1), ("i", 0.1), ("j", 0.1), ("k", 0.1), ("l", 0.1)],
                        "T", width=90, height=40)
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in ET.fromstring(svg).iter(f"{ns}text")]
    label = [t for t in texts if t.startswith("Violence")]
    assert len(label) == 1 and label[0].endswith("\u2026")
    words = "Violence against the person including harassment and stalking offences".split()
    assert label[0][:-1].split() == words[: len(label[0][:-1].split())]   # whole words only


def test_column_chart_of_periods():
    svg = column_chart_svg([("2023", 1.2), ("2024", 1.0), ("2025", -0.25)], "The gap per period",
                           width=90, height=46, decimals=2)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    rects = root.findall(f"{ns}rect")[1:]
    assert [r.get("fill") for r in rects] == [BAR, BAR, BAR_LOW]
    heights = [float(r.get("height")) for r in rects]
    assert heights[0] / heights[1] == pytest.approx(1.2, abs=0.01)
    assert heights[1] / heights[2] == pytest.approx(4.0, abs=0.02)
    # bars stand on one zero line: the positive bars end where the negative one starts
    assert float(rects[0].get("y")) + heights[0] == pytest.approx(float(rects[2].get("y")), abs=0.01)
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert {"2023", "2024", "2025", "1.20", "1.00", f"{MINUS}0.25"} <= set(texts)


def test_zone_change_counts_find_the_deciles_of_labels_shown_as_given():
    """The gaps table shows periods as given ("2016-07"); the per-zone fields are field-safe
    (decile_2016_07). The counts of zones in decile 1 are still found (they were NaN, and the
    area pages lost their "Zones in decile 1" row)."""
    change = pd.DataFrame({"decile_2016_07": [1, 1, 2], "decile_2017_07": [1, 2, 1],
                           "hotspot_transition": ["new", "", "ended"]})
    zc = zone_change_counts(change, [0, 0, 1], 2, ["2016-07", "2017-07"])
    assert zc["decile1_first"].tolist() == [2, 0] and zc["decile1_last"].tolist() == [1, 1]


def test_differences_add_up_on_the_page():
    """A printed difference is that of the printed values: 0.09 then 0.08 is -0.01 (the
    Birmingham demo's Edgbaston page printed 0.09, 0.08 and a change of 0.00), 0.08 against 0.07
    is +0.01 (it printed +0.02)."""
    from composite_index_plugin.core.report_pages import fmt_diff

    assert fmt_diff(0.0849, 0.0851, 2) == "\u22120.01"     # unrounded -0.0002
    assert fmt_diff(0.0851, 0.0849, 2) == "+0.01"          # unrounded +0.0002 would print 0.00
    assert fmt_diff(0.0846, 0.0654, 2) == "+0.01"          # unrounded +0.0192 would print +0.02
    assert fmt_diff(2.1096, 1.6254, 3) == "+0.485"         # 2.110 - 1.625, not +0.484
    assert fmt_diff(0.081, 0.079, 2) == "0.00"              # both print 0.08: no sign
    assert fmt_diff(3.0, float("nan"), 1) == "-" and fmt_diff(None, 1.0, 1) == "-"
    assert fmt_diff(7, 4, 0) == "+3"


def test_zone_counts_have_thousands_separators_like_the_residents():
    """West Yorkshire's Leeds page read "750,857 residents in 10555 zones"."""
    summary = _summary()
    summary.loc[1, "n_zones"] = 10555
    summary.loc[2, ["n_zones", "population"]] = [2048, np.nan]
    pages, _rows, _city = build_pages(summary)
    assert "1,000 residents in 10,555 zones" in pages.iloc[0]["facts"]
    assert " \u00b7 2,048 zones \u00b7 " in pages.iloc[1]["facts"]


def test_whole_area_ticks_never_run_through_a_value_label():
    """The overview's bars each have a tick at the whole study area's score; on the demo the
    ticks made one line through the labels of the bars shorter than it ("0.02"). Such a label
    starts past the tick; the others stay at their bar's end."""
    svg = bar_chart_svg([("A", 0.02), ("B", 1.0)], "Mean score", reference=[0.05, 0.05],
                        width=91, height=46)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in root.findall(f"{ns}rect") if r.get("fill") == BAR]
    ticks = [ln for ln in root.findall(f"{ns}line") if ln.get("stroke-width") == "0.5"]
    texts = {t.text: t for t in root.findall(f"{ns}text")}
    x_tick = float(ticks[0].get("x1"))
    assert len(ticks) == 2 and ticks[1].get("x1") == ticks[0].get("x1")
    a_end = float(bars[0].get("x")) + float(bars[0].get("width"))
    b_end = float(bars[1].get("x")) + float(bars[1].get("width"))
    assert a_end < x_tick < a_end + 0.8 + 4 * 0.64 * 2.21      # the tick was inside "0.02"
    assert float(texts["0.02"].get("x")) == pytest.approx(x_tick + 0.8, abs=0.01)
    assert float(texts["1.00"].get("x")) == pytest.approx(b_end + 0.8, abs=0.01)
    # a label running left (a negative bar) moves left of a tick it would cross
    neg = ET.fromstring(bar_chart_svg([("C", -0.02), ("D", -1.0)], "T", reference=[-0.05, -0.05],
                                      width=91, height=46))
    tick = float([ln for ln in neg.findall(f"{ns}line") if ln.get("stroke-width") == "0.5"][0]
                 .get("x1"))
    label = next(t for t in neg.findall(f"{ns}text") if t.text == "\u22120.02")
    assert label.get("text-anchor") == "end"
    assert float(label.get("x")) == pytest.approx(tick - 0.8, abs=0.01)
