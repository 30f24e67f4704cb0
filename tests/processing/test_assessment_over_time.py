"""The demo's two-year run, end to end, and what its printed assessment says about the year on
year: the gap-over-time page and each area's change, checked against the period tables, and
every "difference from the whole area" against a population-weighted hand computation.

The demo's own recipes (``sample_recipe.write_sample_recipes``: 2024, then 2025 compared with
2024 on its frozen baseline) on the tiny synthetic sample, with the tiny-sample changes of
``test_runrecipe`` (bigger cells, volumes) and without the sensitivity stage (time).
"""
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from qgis.core import QgsExpressionContextUtils, QgsProcessingContext, QgsProcessingFeedback, QgsProject

from composite_index_plugin.paths import resource_path
from composite_index_plugin.processing import assessment_layout as al

MINUS = "\u2212"


def _labels():
    from composite_index_plugin.core import synth

    labels = dict(synth.THEMES)                       # the recipe's labels, theme and issue
    labels.update({i.name: i.label for i in synth.ISSUES})
    return labels


LABELS = _labels()


def _text(value, decimals, signed=False):
    if round(value, decimals) == 0:
        value, signed = 0.0, False
    return (f"{value:+,.{decimals}f}" if signed else f"{value:,.{decimals}f}").replace("-", MINUS)


def _diff(new, old, decimals):
    """A difference as the page prints it: of the two values rounded as they are printed."""
    v = round(new, decimals) - round(old, decimals)
    return f"{0:.{decimals}f}" if round(v, decimals) == 0 else _text(v, decimals, signed=True)


def _frame(path, layer):
    from osgeo import ogr

    ds = ogr.Open(str(path))
    lay = ds.GetLayerByName(layer)
    defn = lay.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    rows = [[f.GetField(n) for n in names] for f in lay]
    return pd.DataFrame(rows, columns=names)


@pytest.fixture(scope="module")
def two_years(provider, tmp_path_factory):
    import processing

    from composite_index_plugin.processing import sample_io
    from composite_index_plugin.processing.sample_recipe import for_few_points, write_sample_recipes

    folder = tmp_path_factory.mktemp("two_years")
    inp = folder / "input"
    inp.mkdir()
    shutil.copy(resource_path("sample", "birmingham.gpkg"), inp / "birmingham.gpkg")
    sample_io.make_sample(str(inp / "synthetic"), size="tiny", seed=11, years=(2024, 2025))
    recipes = write_sample_recipes(str(inp), str(folder / "out"))
    results = {}
    for year, path in sorted(recipes.items()):
        with open(path, encoding="utf-8") as handle:
            recipe = json.load(handle)
        for_few_points(recipe)
        recipe.pop("sensitivity", None)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(recipe, handle)
        # the sample recipes (in input/) write beside their folder, into out/: allowed
        results[year] = processing.run("compositeindex:runrecipe",
                                       {"RECIPE": path, "ALLOWED_FOLDERS": str(folder / "out")},
                                       context=QgsProcessingContext(),
                                       feedback=QgsProcessingFeedback())
    last = results[2025]
    project = QgsProject()
    assert project.read(last["PROJECT"])
    layouts = {lay.name().rsplit(" - ", 1)[-1]: lay for lay in project.layoutManager().layouts()}
    return {"folder": folder, "result": last, "project": project, "layouts": layouts,
            "gaps": _frame(last["RESULTS"], "period_gaps"),
            "summary": _frame(last["RESULTS"], "area_summary"),
            "zones": _frame(last["RESULTS"], "hotspots")}


def _pdf_pages(path):
    if shutil.which("pdfinfo"):
        text = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", text, re.M).group(1))
    with open(path, "rb") as handle:
        return len(re.findall(rb"/Type\s*/Page(?![s\w])", handle.read()))


def _page_text(pdf, page, layout):
    """The words of a printed page: from the PDF when poppler is installed, else the layout's
    labels as they are printed (expressions evaluated)."""
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
    else:
        from qgis.core import QgsLayoutItemLabel

        text = " ".join(it.currentText() for it in layout.items() if isinstance(it, QgsLayoutItemLabel))
    return " ".join(text.split())


def test_pdf_has_the_gap_over_time_page(two_years):
    pdf = two_years["result"]["FOLDER"] + "/assessment.pdf"
    n_areas = len(two_years["summary"])
    assert _pdf_pages(pdf) == 2 + n_areas
    assert sorted(two_years["layouts"]) == ["areas", "gap over time", "overview"]
    whole = two_years["gaps"][two_years["gaps"]["area_name"] == "Whole study area"] \
        .sort_values("period_index")
    g0, g1 = whole["gap_diff"].tolist()
    text = _page_text(pdf, 2, two_years["layouts"]["gap over time"])
    assert "The gap over time, 2024 to 2025" in text
    verb = "narrowed" if g1 < g0 else "widened"
    headline = (f"The gap {verb} from {_text(g0, 3)} in 2024 to {_text(g1, 3)} in 2025 "
                f"({_diff(g1, g0, 3)}).")
    assert headline in text
    # the trend test cannot be significant with two periods, and the page says so
    assert "trend not testable with 2 periods" in text
    # the gap's definition: the 2024 top group by population share, followed
    assert "holding 10 % of the residents in 2024" in text and "the same zones in every period" in text
    # page 1 carries the headline too
    assert f"the gap {_text(g1, 3)} ({_diff(g1, g0, 3)} since 2024; page 2)" in \
        _page_text(pdf, 1, two_years["layouts"]["overview"])


def test_gap_table_matches_the_period_gaps(two_years):
    layout = two_years["layouts"]["gap over time"]
    table = al.table_of(layout)
    table.refreshAttributes()
    rows = [list(r) for r in table.contents()]
    whole = two_years["gaps"][two_years["gaps"]["area_name"] == "Whole study area"] \
        .sort_values("period_index")
    assert set(whole["top_group_of"]) == {"2024"} and set(whole["gap_mode"]) == {"cohort"}
    expected = []
    for k, (_, r) in enumerate(whole.iterrows()):
        expected.append([r["period"], _text(r["top_mean"], 3), _text(r["versus_mean"], 3),
                         _text(r["gap_diff"], 3),
                         "-" if k == 0 else _diff(r["gap_diff"], whole["gap_diff"].iloc[0], 3)])
    assert rows == expected
    headings = [c.heading() for c in table.columns()]
    assert headings == ["Period", "Top group", "Everyone else", "Gap", "Change since 2024"]
    # the change map: classes symmetric about 0 on the zones' score change
    scope = QgsExpressionContextUtils.layoutScope(layout)
    assert scope.variable("assessment_change_title") == "The gap over time, 2024 to 2025"
    change = next(lay for lay in two_years["project"].mapLayers().values()
                  if lay.name() == "Change in score, 2024 to 2025")
    ranges = change.renderer().ranges()
    assert len(ranges) == 7 and change.renderer().classAttribute() == "score_change"
    lows = [r.lowerValue() for r in ranges][1:]
    highs = [r.upperValue() for r in ranges][:-1]
    assert lows == pytest.approx([-h for h in reversed(highs)])
    assert "(about the same)" in ranges[3].label() and ranges[3].lowerValue() == -ranges[3].upperValue()


def test_area_pages_show_change_and_counts_from_the_tables(two_years):
    gaps, summary = two_years["gaps"], two_years["summary"].set_index("area_name")
    layout = two_years["layouts"]["areas"]
    changes, counts = al.table_of(layout, "changes"), al.table_of(layout, "counts")
    per_area = gaps[gaps["area_name"] != "Whole study area"]
    means = per_area.pivot(index="area_name", columns="period", values="mean_score")
    inner = per_area.pivot(index="area_name", columns="period", values="gap_diff")
    ranks = means.rank(ascending=False, method="min")
    issues = [c[:-len("_locations")] for c in summary.columns if c.endswith("_locations")]
    assert len(issues) == 8
    atlas = layout.atlas()
    assert atlas.beginRender()
    try:
        for i in range(atlas.count()):
            atlas.seekTo(i)
            name = atlas.layout().reportContext().feature()["area_name"]
            changes.refreshAttributes()
            rows = {r[0]: list(r[1:]) for r in changes.contents()}
            m0, m1 = means.loc[name, "2024"], means.loc[name, "2025"]
            assert rows["Mean score"] == [_text(m0, 2), _text(m1, 2), _diff(m1, m0, 2)]
            n = len(means)
            r0, r1 = int(ranks.loc[name, "2024"]), int(ranks.loc[name, "2025"])
            assert rows[f"Rank of {n} areas"] == [str(r0), str(r1), _text(r1 - r0, 0, True)]
            g0, g1 = inner.loc[name, "2024"], inner.loc[name, "2025"]
            if np.isfinite(g0) and np.isfinite(g1):
                assert rows["The gap within the area"] == [_text(g0, 2), _text(g1, 2),
                                                           _diff(g1, g0, 2)]
            assert "Zones in decile 1" in rows and "Hotspot cells" in rows
            # incidents recorded: the area summary's counts, rounded
            counts.refreshAttributes()
            got = {r[0]: list(r[1:]) for r in counts.contents()}
            row = summary.loc[name]
            for issue in issues:
                label = LABELS[issue]
                want = [f"{row[f'{issue}_{role}']:,.0f}" for role in ("victims", "offenders", "locations")]
                assert got[label] == want
            total = sum(row[f"{i}_locations"] for i in issues)
            assert got["All issues"][2] == f"{total:,.0f}"
    finally:
        atlas.endRender()


def test_change_table_columns_fit_the_band(two_years):
    """The area pages' change table fills its band: Measure, two period columns of one width
    (at least 8 mm, as wide as their labels) and Change (14 mm); a period label too long for
    the band wraps rather than leave Measure under 12 mm."""
    from composite_index_plugin.processing.algorithms.export_assessment import change_columns

    columns = al.table_of(two_years["layouts"]["areas"], "changes").columns()
    widths = [c.width() for c in columns]
    band = al.content_width(al.CHANGE_RECT[2], 4, al.BAND_MARGIN)
    assert [c.heading() for c in columns] == ["Measure", "2024", "2025", "Change"]
    assert sum(widths) == pytest.approx(band)
    assert widths[1] == widths[2] >= 8.3 and widths[3] == 14.0 and widths[0] >= 12.0
    # by hand: labels of 10 and 11 mm in 60 mm; 5 and 6 mm (the 8 mm floor); one of 40 mm
    assert change_columns(60.0, [10.0, 11.0]) == pytest.approx((60 - 2 * 11.3 - 14, 11.3, 14))
    assert change_columns(60.0, [5.0, 6.0]) == pytest.approx((60 - 2 * 8.3 - 14, 8.3, 14))
    assert change_columns(60.0, [40.0, 9.0]) == pytest.approx((12.0, 17.0, 14.0))


def test_differences_from_the_whole_area_are_weighted_like_for_like(two_years):
    """Each theme and issue row: the summary's population-weighted area value minus the whole
    study area's population-weighted value, computed here by hand from the zones."""
    zones, summary = two_years["zones"], two_years["summary"].set_index("area_name")
    ok = zones["ci_score"].notna() & (zones["population"] > 0)
    pop = zones.loc[ok, "population"].to_numpy()

    def whole(column):
        v = zones.loc[ok, column]
        return float(np.average(v[v.notna()], weights=pop[v.notna().to_numpy()]))

    labels = LABELS
    layout = two_years["layouts"]["areas"]
    table = al.table_of(layout)
    atlas = layout.atlas()
    checked = 0
    assert atlas.beginRender()
    try:
        for i in range(atlas.count()):
            atlas.seekTo(i)
            name = atlas.layout().reportContext().feature()["area_name"]
            table.refreshAttributes()
            for priority, score, _, difference in [list(r) for r in table.contents()][1:]:
                kind, label = priority.split(": ", 1)
                key = next(k for k, v in labels.items() if v == label)
                value = summary.loc[name, f"{key}_mean"]
                assert score == _text(value, 2)
                assert difference == _diff(value, whole(f"{key}_idx"), 2), (name, label)
                checked += 1
    finally:
        atlas.endRender()
    assert checked >= 5 * len(summary)
