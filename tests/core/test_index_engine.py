"""The whole index: spec validation, hierarchy, outputs, missing data, baseline, diagnostics."""
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core.errors import CompositeIndexError, Progress
from composite_index_plugin.core.index import (
    AGGREGATIONS,
    DIRECTIONS,
    MEASURES,
    MISSING,
    SCALINGS,
    build_index,
    simple_spec,
    spec_fingerprint,
    validate_spec,
)
from composite_index_plugin.core.recipe import Problem

FRAME = pd.DataFrame({
    "v1": [0.0, 1.0, 2.0, 4.0],
    "v2": [0.0, 2.0, 4.0, 4.0],
    "v3": [4.0, 3.0, 2.0, 0.0],
    "v4": [1.0, 1.0, 3.0, 5.0],
    "pop": [100.0, 200.0, 0.0, 400.0],
    "name": ["a", "b", "c", "d"],
}, index=[10, 11, 12, 13])


def hand_spec():
    return {
        "themes": [
            {"name": "t1", "weight": 2, "issues": [
                {"name": "a", "indicators": {"x": {"field": "v1", "weight": 1, "scaling": "minmax"},
                                             "y": {"field": "v2", "weight": 3, "scaling": "minmax"}}},
                {"name": "b", "indicators": {"x": {"field": "v3", "scaling": "minmax"}}}]},
            {"name": "t2", "weight": 1, "issues": [
                {"name": "c", "indicators": {"x": {"field": "v4", "scaling": "minmax"}}}]},
        ],
        "aggregation": {"issue": "mean", "theme": "mean", "composite": "sum"},
    }


def test_option_names():
    assert MEASURES == ("value", "volume", "rate", "eb_rate", "eb_rate_spatial", "location_quotient",
                        "density", "clustering")
    assert "exponential" in SCALINGS and "minmax_fixed" in SCALINGS and "threshold" in SCALINGS
    assert AGGREGATIONS == ("mean", "sum", "geometric", "imd")
    assert DIRECTIONS == ("higher_is_worse", "lower_is_worse") and MISSING == ("exclude", "zero", "mean")


def test_hierarchy_by_hand():
    r = build_index(FRAME, hand_spec())
    t = r.table
    assert list(t.index) == [10, 11, 12, 13]
    # minmax: v1 -> 0, .25, .5, 1; v2 -> 0, .5, 1, 1; issue a = (v1 + 3 v2) / 4.
    np.testing.assert_allclose(t.a_x_s, [0, 0.25, 0.5, 1])
    np.testing.assert_allclose(t.a_idx, [0, 0.4375, 0.875, 1])
    np.testing.assert_allclose(t.b_idx, [1, 0.75, 0.5, 0])
    np.testing.assert_allclose(t.t1_idx, [0.5, 0.59375, 0.6875, 0.5])
    np.testing.assert_allclose(t.t2_idx, [0, 0, 0.5, 1])
    np.testing.assert_allclose(t.ci_score, [1.0, 1.1875, 1.875, 2.0])   # 2 t1 + t2
    assert t.ci_rank.tolist() == [4, 3, 2, 1]
    assert t.ci_decile.tolist() == [10, 8, 5, 3]                       # ceil(rank * 10 / 4)
    assert t.ci_quintile.tolist() == [5, 4, 3, 2]
    np.testing.assert_allclose(t.t1_pct, [100, 100, 100 * 1.375 / 1.875, 50])
    np.testing.assert_allclose(t.t2_pct, [0, 0, 100 * 0.5 / 1.875, 50])
    assert t.top_theme.tolist() == ["t1", "t1", "t1", "t1"]            # ties: first theme
    assert t.top_issue.tolist() == ["b", "b", "a", "a"]
    assert t.ci_excluded.tolist() == [0, 0, 0, 0]
    assert "a_x_m" not in t.columns   # measure 'value' has no separate measured column


def test_ties_share_the_better_rank():
    df = pd.DataFrame({"v": [1.0, 3.0, 3.0, 2.0]})
    t = build_index(df, simple_spec(["v"])).table
    assert t.ci_rank.tolist() == [4, 1, 1, 3]


def test_rate_measure_zero_denominator_flagged_and_excluded():
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "v": {"field": "v4", "measure": "rate", "denominator": "pop", "per": 100,
              "scaling": "minmax", "missing": "exclude"}}}]}]}
    r = build_index(FRAME, spec)
    t = r.table
    np.testing.assert_allclose(t.i_v_m.to_numpy()[[0, 1, 3]], [1.0, 0.5, 1.25])
    assert np.isnan(t.i_v_m.iloc[2])
    assert t.i_v_zd.tolist() == [0, 0, 1, 0]
    assert t.ci_excluded.tolist() == [0, 0, 1, 0]
    assert np.isnan(t.ci_rank.iloc[2]) and t.ci_rank.iloc[[0, 1, 3]].tolist() == [2, 3, 1]
    assert t.top_theme.iloc[2] is None
    np.testing.assert_allclose(t.i_v_s.to_numpy()[[0, 1, 3]], [0.5 / 0.75, 0, 1])
    assert any("1 of 4 zone(s) left out" in m for m in r.messages)
    row = r.diagnostics["indicators"].iloc[0]
    assert row.n_zero_denominator == 1 and row.n_excluded == 1


@pytest.mark.parametrize("policy,expected", [("zero", [0, 0.25, 0, 1.0]),
                                             ("mean", [0, 0.25, 5 / 12, 1.0])])
def test_missing_policies(policy, expected):
    df = FRAME.copy()
    df.loc[12, "v1"] = np.nan
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "v": {"field": "v1", "missing": policy, "scaling": "minmax"}}}]}]}
    r = build_index(df, spec)
    # zero: values 0, 1, 0, 4 -> minmax 0, .25, 0, 1; mean: 0, 1, 5/3, 4.
    np.testing.assert_allclose(r.table.i_v_s, expected)
    assert r.diagnostics["indicators"].iloc[0].n_empty == 1
    assert r.diagnostics["indicators"].iloc[0].n_imputed == 1
    assert r.table.ci_excluded.sum() == 0


def test_exclude_policy_fits_scaling_on_included_zones_only():
    df = FRAME.copy()
    df.loc[13, "v1"] = np.nan
    r = build_index(df, simple_spec(["v1"], scaling="minmax"))
    np.testing.assert_allclose(r.table.all_v1_s.to_numpy()[:3], [0, 0.5, 1])
    assert r.table.ci_rank.dtype.kind == "f" and np.isnan(r.table.ci_rank.iloc[3])


def test_volume_eb_lq_density_and_spatial_measures_in_the_engine():
    nb = SimpleNamespace(indptr=np.array([0, 1, 3, 5, 6]), indices=np.array([1, 0, 2, 1, 3, 2]))
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "vol": {"field": "v4", "measure": "volume"},
        "eb": {"field": "v4", "measure": "eb_rate", "denominator": "pop", "scaling": "raw"},
        "seb": {"field": "v4", "measure": "eb_rate_spatial", "denominator": "pop", "scaling": "raw"},
        "lq": {"field": "v4", "measure": "location_quotient", "denominator": "pop", "missing": "zero"},
        "den": {"field": "v4", "measure": "density"},
        "gi": {"field": "v4", "measure": "clustering", "clustering": "gi_star"},
        "kr": {"field": "v1", "measure": "clustering"},
    }}]}]}
    r = build_index(FRAME, spec, neighbours=nb, zone_area=np.array([1e6, 2e6, 1e6, 5e5]))
    t = r.table
    np.testing.assert_allclose(t.i_den_m, [1, 0.5, 3, 10])
    np.testing.assert_allclose(t.i_lq_m, [(1 / 100) / (7 / 700), (1 / 200) / 0.01, 0, (5 / 400) / 0.01])
    assert t.i_lq_zd.tolist() == [0, 0, 1, 0] and t.ci_excluded.sum() == 0
    # theta = 7/700 per 1000 = 10; s2 < theta / mean(P), so the prior variance clamps to 0 and
    # every zone (also the one with zero population) gets theta.
    np.testing.assert_allclose(t.i_eb_m, [10, 10, 10, 10])
    # Spatial: zone 2 (P = 0) gets its local prior mean over {1, 2, 3}: 6 / 600 per 1000.
    assert t.i_seb_m.iloc[2] == pytest.approx(10.0) and t.i_seb_zd.tolist() == [0, 0, 1, 0]
    np.testing.assert_allclose(t.i_kr_m, FRAME.v1)
    assert t.i_gi_m.notna().all()
    with pytest.raises(CompositeIndexError, match="needs the zones' neighbours"):
        build_index(FRAME, spec, zone_area=np.ones(4))


def test_toolbox_spec():
    spec = simple_spec(["Crime Rate", "2019", "crime_rate"], scaling="zscore", aggregation="sum")
    inds = spec["themes"][0]["issues"][0]["indicators"]
    assert list(inds) == ["crime_rate", "f_2019", "crime_rate_2"]
    assert inds["f_2019"] == {"field": "2019", "measure": "value", "missing": "exclude",
                              "scaling": "zscore"}
    assert validate_spec(spec, ["Crime Rate", "2019", "crime_rate"]) == []


# ---------------------------------------------------------------------------- validation

def test_validate_spec_lists_every_problem_with_its_path():
    spec = {
        "themes": [
            {"name": "violence", "weight": -1, "issues": [
                {"name": "da", "indicators": {
                    "victims": {"field": "v1", "scaling": "zscor"},
                    "offenders": {"field": "nope", "measure": "rate"}}},
                {"name": "da", "indicators": {
                    "victims": {"field": "name", "scaling": "minmax_fixed", "min": 5, "max": 1,
                                "threshold": 3, "weight": 0}}}]},
        ],
        "aggregation": {"issue": "median"},
    }
    problems = validate_spec(spec, {c: FRAME[c].dtype for c in FRAME.columns})
    assert all(isinstance(p, Problem) for p in problems)
    paths = {p.path: p for p in problems}
    assert "themes[0].weight" in paths
    assert "unknown scaling 'zscor'" in paths["themes[0].issues[0].indicators.victims.scaling"].message
    assert "not in the layer" in paths["themes[0].issues[0].indicators.offenders.field"].message
    assert "measure 'rate' needs 'denominator'" in \
        paths["themes[0].issues[0].indicators.offenders.denominator"].message
    assert "used twice" in paths["themes[0].issues[1].name"].message
    assert "not numeric" in paths["themes[0].issues[1].indicators.victims.field"].message
    assert "larger than min" in paths["themes[0].issues[1].indicators.victims.max"].message
    assert "does not apply" in paths["themes[0].issues[1].indicators.victims.threshold"].message
    assert "sum to zero" in paths["themes[0].issues[1].indicators"].message
    assert "unknown aggregation 'median'" in paths["aggregation.issue"].message
    assert all(p.hint for p in problems)


def test_geometric_over_scales_that_can_be_zero_is_refused_by_validation():
    spec = hand_spec()
    spec["aggregation"]["issue"] = "geometric"
    problems = validate_spec(spec)
    assert [p.path for p in problems] == ["aggregation.issue"] * 3
    assert [p.message.split(":")[0] for p in problems] == ["issue 'a'", "issue 'b'", "issue 'c'"]
    assert "x (minmax) can be zero or negative" in problems[1].message
    for ind in ("x", "y"):
        spec["themes"][0]["issues"][0]["indicators"][ind]["scaling"] = "percentile"
    spec["themes"][0]["issues"][0]["aggregation"] = "geometric"
    spec["aggregation"]["issue"] = "mean"
    assert validate_spec(spec) == []
    spec["aggregation"]["theme"] = "geometric"   # t1 mixes a positive and a minmax issue
    problems = validate_spec(spec)
    assert [p.path for p in problems] == ["aggregation.theme"] * 2
    assert [p.message.split(":")[0] for p in problems] == ["theme 't1'", "theme 't2'"]


def test_output_name_clash_and_bad_names():
    spec = {"themes": [{"name": "a_b", "issues": [
        {"name": "a", "indicators": {"b_c": {"field": "v1"}}},
        {"name": "a_b_x", "indicators": {"c": {"field": "v1"}}},
        {"name": "Bad-Name", "indicators": {"c": {"field": "v1"}}}]}]}
    spec["themes"][0]["issues"][1]["name"] = "a_b"
    problems = validate_spec(spec)
    messages = " | ".join(str(p) for p in problems)
    assert "used twice" in messages and "not a valid name" in messages


def test_build_index_reports_all_spec_problems():
    spec = hand_spec()
    spec["themes"][0]["issues"][0]["indicators"]["x"]["field"] = "missing_field"
    spec["themes"][1]["weight"] = "heavy"
    with pytest.raises(CompositeIndexError) as err:
        build_index(FRAME, spec)
    text = str(err.value)
    assert "2 problem(s)" in text
    assert "themes[0].issues[0].indicators.x.field: field 'missing_field' is not in the layer" in text
    assert "themes[1].weight" in text


def test_bad_data_errors():
    df = FRAME.copy()
    df["txt"] = ["1", "2", "x", "4"]
    with pytest.raises(CompositeIndexError, match="not numeric"):
        build_index(df, simple_spec(["txt"]))
    df["neg"] = [1.0, -2.0, 3.0, 4.0]
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "v": {"field": "neg", "measure": "volume"}}}]}]}
    with pytest.raises(CompositeIndexError, match="negative count.*row 1"):
        build_index(df, spec)
    df["flat"] = 7.0
    with pytest.raises(CompositeIndexError, match="t / i / v \\(field 'flat'\\).*same value"):
        build_index(df, {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
            "v": {"field": "flat", "scaling": "zscore"}}}]}]})
    # Numbers held as text are fine.
    df["numtxt"] = ["1", "2", None, "4"]
    r = build_index(df, {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "v": {"field": "numtxt", "missing": "zero", "scaling": "minmax"}}}]}]})
    np.testing.assert_allclose(r.table.i_v_s, [0.25, 0.5, 0, 1])


# ------------------------------------------------------------------------------- baseline

def test_baseline_round_trip_and_next_year_on_this_year_scale():
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "z": {"field": "v1", "scaling": "zscore"},
        "m": {"field": "v2", "scaling": "minmax", "scale_to": 100},
        "p": {"field": "v4", "scaling": "percentile"}}}]}],
        "aggregation": {"issue": "imd"}}
    year1 = build_index(FRAME, spec)
    baseline = json.loads(json.dumps(year1.baseline))
    assert baseline["indicators"]["i_z"]["mean"] == pytest.approx(1.75)
    assert baseline["indicators"]["i_m"] == {"scaling": "minmax", "min": 0.0, "max": 4.0}
    again = build_index(FRAME, spec, baseline=baseline)
    pd.testing.assert_frame_equal(again.table, year1.table)
    year2 = FRAME.copy()
    year2["v2"] = year2.v2 * 2
    later = build_index(year2, spec, baseline=baseline)
    np.testing.assert_allclose(later.table.i_m_s, [0, 100, 200, 200])
    assert later.used_baseline and "frozen baseline" in later.report_html()


def test_baseline_from_another_spec_is_refused():
    base = build_index(FRAME, hand_spec()).baseline
    other = hand_spec()
    other["themes"][0]["issues"][0]["indicators"]["x"]["scaling"] = "rank"
    assert spec_fingerprint(other) != spec_fingerprint(hand_spec())
    with pytest.raises(CompositeIndexError, match="fitted for another index spec"):
        build_index(FRAME, other, baseline=base)
    with pytest.raises(CompositeIndexError, match="not a Composite Index baseline"):
        build_index(FRAME, hand_spec(), baseline={"hello": 1})
    # Labels do not change what the spec computes, so they keep the fingerprint.
    labelled = hand_spec()
    labelled["themes"][0]["label"] = "Violence"
    assert spec_fingerprint(labelled) == spec_fingerprint(hand_spec())


# ---------------------------------------------------------------------------- diagnostics

def test_cronbach_alpha_and_effective_weights_by_hand():
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [0.0, 2.0, 1.0]})
    d = build_index(df, simple_spec(["a", "b"])).diagnostics
    # var(a) = var(b) = 1/6 after min-max, var(a + b) = 1/2: alpha = 2 (1 - (1/3) / (1/2)) = 2/3.
    assert d["alpha"]["index"] == pytest.approx(2 / 3)
    np.testing.assert_allclose(d["correlation"].to_numpy(), [[1, 0.5], [0.5, 1]])
    # Uncorrelated indicators weighted 3:1 -> shares of variance 9:1.
    df = pd.DataFrame({"x1": [0.0, 1, 0, 1], "x2": [0.0, 0, 1, 1]})
    spec = simple_spec(["x1", "x2"])
    spec["themes"][0]["issues"][0]["indicators"]["x1"]["weight"] = 3
    table = build_index(df, spec).diagnostics["indicators"]
    np.testing.assert_allclose(table.path_weight, [0.75, 0.25])
    np.testing.assert_allclose(table.effective_weight, [0.9, 0.1])


def test_report_html_is_self_contained():
    r = build_index(FRAME, hand_spec())
    page = r.report_html()
    assert page.startswith("<!DOCTYPE html>") and "Cronbach" in page and "t1" in page
    assert "http" not in page and "<script" not in page and "src=" not in page
    # counts read like the pages' ("38,388 zones", not "38388 zones")
    big = pd.DataFrame({"x1": np.arange(1200, dtype=float), "x2": np.arange(1200, 0, -1.0)})
    head = build_index(big, simple_spec(["x1", "x2"])).report_html()
    assert "<p>1,200 zones, 1,200 in the index, 0 left out for missing data." in head


def test_progress_reports_and_cancel():
    seen = []
    build_index(FRAME, hand_spec(), progress=Progress(on_progress=seen.append))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(CompositeIndexError, match="Cancelled"):
        build_index(FRAME, hand_spec(), progress=Progress(is_cancelled=lambda: True))


def test_options_object_as_the_recipe_writes_it():
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "v": {"field": "v4", "measure": "rate", "scaling": "minmax_fixed",
              "options": {"denominator": "pop", "per": 100, "min": 0, "max": 2}},
        "w": {"field": "v1", "options": {"bogus": 1}}}}]}]}
    problems = validate_spec(spec, list(FRAME.columns))
    assert [p.path for p in problems] == ["themes[0].issues[0].indicators.w.options.bogus"]
    del spec["themes"][0]["issues"][0]["indicators"]["w"]
    from composite_index_plugin.core.index import spec_fields, spec_needs

    assert spec_fields(spec) == ["pop", "v4"] and spec_needs(spec) == (False, False)
    t = build_index(FRAME, spec).table
    # rates per 100: 1, 0.5, (zero denominator: excluded), 1.25; fixed range 0-2.
    np.testing.assert_allclose(t.i_v_s.to_numpy()[[0, 1, 3]], [0.5, 0.25, 0.625])


def test_empty_denominator_and_eb_zero_denominator_messages():
    df = FRAME.copy()
    df.loc[11, "pop"] = np.nan
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "r": {"field": "v4", "measure": "rate", "denominator": "pop", "missing": "mean"},
        "e": {"field": "v4", "measure": "eb_rate", "denominator": "pop", "scaling": "raw",
              "missing": "exclude"}}}]}]}
    r = build_index(df, spec)
    rows = r.diagnostics["indicators"].set_index("indicator")
    # rate: row 11 has no population (empty), row 12 a zero one; both get the mean of the
    # other two rates (10 and 12.5 per 1000).
    assert rows.loc["r", "n_empty"] == 1 and rows.loc["r", "n_zero_denominator"] == 1
    assert rows.loc["r", "n_imputed"] == 2
    np.testing.assert_allclose(r.table.i_r_m, [10, 11.25, 11.25, 12.5])
    # EB: the zero-population zone gets the prior mean; the empty one is left out.
    assert r.table.ci_excluded.tolist() == [0, 1, 0, 0]
    assert any("prior mean rate" in m for m in r.messages)
    assert any("1 zone(s) without a value left out of the index" in m for m in r.messages)


def _wide_frame(n, seed=8):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.poisson(2.0, n).astype(float) for f in ("c1", "c2", "c3")})
    frame["pop"] = rng.gamma(1.0, 12.0, n)
    return frame


def _wide_spec():
    """30 indicators: volumes, rates and EB rates of three counts under five scalings."""
    scalings = ["zscore", "minmax", "percentile", "rank", "exponential"]
    themes = []
    for t, field in enumerate(("c1", "c2", "c3")):
        issues = []
        for m, measure in enumerate(("volume", "rate", "eb_rate")):
            inds = {f"i{j}": dict({"field": field, "measure": measure,
                                   "scaling": scalings[(t + m + j) % 5], "weight": 1 + j % 2},
                                  **({"denominator": "pop"} if measure != "volume" else {}))
                    for j in range(4 if m == 0 else 3)}
            issues.append({"name": f"{field}_{measure}", "indicators": inds})
        themes.append({"name": f"t{field}", "issues": issues})
    return {"themes": themes}


def test_argmax_one_row_at_a_time_is_numpys():
    """The top issue is found one row at a time: the first largest, NaN as numpy ranks it."""
    from composite_index_plugin.core.index import _argmax_rows

    rng = np.random.default_rng(2)
    for _ in range(200):
        rows = rng.integers(0, 3, (int(rng.integers(1, 7)), 40)).astype(float)
        rows[rng.random(rows.shape) < 0.15] = np.nan
        np.testing.assert_array_equal(_argmax_rows(iter(rows)), np.argmax(rows, axis=0))


def test_diagnostics_summed_over_zone_chunks_equal_one_pass(monkeypatch):
    """Covariances are summed over blocks of zones (no stack of every scaled indicator): with
    blocks of 7 zones the diagnostics equal one block to 1e-12."""
    from composite_index_plugin.core import diagnostics

    frame = _wide_frame(3000)
    one = build_index(frame, _wide_spec()).diagnostics
    monkeypatch.setattr(diagnostics, "_CHUNK", 7)
    many = build_index(frame, _wide_spec()).diagnostics
    np.testing.assert_allclose(many["correlation"].to_numpy(), one["correlation"].to_numpy(),
                               rtol=1e-12, atol=1e-12)
    numeric = one["indicators"].select_dtypes("number").columns
    np.testing.assert_allclose(many["indicators"][numeric].to_numpy(float),
                               one["indicators"][numeric].to_numpy(float), rtol=1e-12, atol=1e-12)
    assert many["alpha"] == pytest.approx(one["alpha"], rel=1e-12)


def test_build_index_holds_little_beyond_its_table():
    """Peak memory of the engine over 200,000 zones x 30 indicators, against the 64 float
    columns it must return (102 MB): under 2.6 times that. The measured and scaled values live
    in the table's block, flags are one byte, the diagnostics sum over blocks of zones; before,
    4.1 times (and 15 GB at 6.9M zones)."""
    import tracemalloc

    n = 200_000
    frame = _wide_frame(n)
    tracemalloc.start()
    try:
        result = build_index(frame, _wide_spec())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    floats = [c for c in result.table.columns if result.table[c].dtype == np.float64]
    assert len(floats) == 64
    assert peak < 2.6 * n * 8 * len(floats), peak / (n * 8 * len(floats))
    flags = [c for c in result.table.columns if c.endswith(("_zd", "_pooled"))]
    assert len(flags) == 36 and all(result.table[c].dtype == np.int8 for c in flags)
