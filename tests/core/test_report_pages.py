"""Page content of the printed assessment, checked against values worked out by hand."""
import math
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from composite_index_plugin.core.report_pages import build_pages, pretty
from composite_index_plugin.core.svg_chart import BAR, BAR_LOW, bar_chart_svg

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
         "top_theme_1": "acquisitive", "top_theme_2": "violence", "top_theme_3": None,
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
    # the summary's own gap (inside the area) is a key figure, not the table's gap
    assert pages.iloc[1]["facts"].endswith("gap between its highest-need zones and the rest 25.0.")
    assert "gap between" not in pages.iloc[0]["facts"]
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
