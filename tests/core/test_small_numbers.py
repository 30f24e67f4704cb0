"""Small numbers (issue 14): pooling under a minimum denominator, the anchored spatial EB rate,
the warning on zones far from the mean, and classes with ties and zones without incidents.

Every expected number is worked out by hand in the comments (exact fractions where it helps)."""
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core import measures, ranking
from composite_index_plugin.core.diagnostics import Z_WARNING_DEFAULT
from composite_index_plugin.core.index import build_index, spec_fingerprint, validate_spec
from composite_index_plugin.core.measures import MIN_DENOMINATOR_DEFAULT
from composite_index_plugin.core.ranking import NO_INCIDENTS_DEFAULT


def csr(lists):
    indptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
    indices = np.array([j for x in lists for j in x], dtype=np.int64)
    return SimpleNamespace(indptr=indptr, indices=indices)


PATH4 = [[1], [0, 2], [1, 3], [2]]          # four zones on a line: 0 - 1 - 2 - 3


# ------------------------------------------------------------------------ minimum denominator

def test_crude_rate_pools_small_denominators_with_the_study_area():
    # Zones 0 and 1 have 2 and 30 residents (< 50): they take the study-area rate
    # (3 + 0 + 10 + 5) / (2 + 30 + 1000 + 500) = 18 / 1532, their own counts included.
    counts = np.array([3.0, 0.0, 10.0, 5.0, 1.0])
    pop = np.array([2.0, 30.0, 1000.0, 500.0, 0.0])
    r, zero = measures.rate(counts, pop, per=1000, min_denominator=50)
    np.testing.assert_allclose(r[:4], [18000 / 1532, 18000 / 1532, 10.0, 10.0], rtol=1e-14)
    assert np.isnan(r[4]) and zero.tolist() == [False] * 4 + [True]   # zero stays undefined
    assert measures.small_denominator(pop, 50).tolist() == [True, True, False, False, False]
    # Off (0): the crude rates, 1,500 per 1,000 for 3 burglaries among 2 residents.
    assert measures.rate(counts, pop, per=1000)[0][0] == 1500.0
    # A location quotient pools to 1 (the study-area share).
    lq, _ = measures.location_quotient(counts, pop, min_denominator=50)
    np.testing.assert_allclose(lq[:4], [1.0, 1.0, (10 / 1000) / (18 / 1532), (5 / 500) / (18 / 1532)])


def test_eb_rate_leaves_pooled_zones_out_of_the_prior_variance():
    # The 4-zone example of test_eb_rate_by_hand (theta = 0.1, s2 = 1.5/450, mean(P) = 112.5,
    # sigma2 = 11/4500) plus a fifth zone of 10 residents and 1 incident. Its count keeps
    # theta = 46/460 = 0.1; pooled (10 < 20) its rate is not used, so s2 and mean(P) are the
    # 4-zone ones and the four zones get exactly the 4-zone values; the fifth gets theta.
    o = np.array([10.0, 0.0, 30.0, 5.0, 1.0])
    p = np.array([100.0, 100.0, 200.0, 50.0, 10.0])
    eb, _ = measures.eb_rate(o, p, per=1000, min_denominator=20)
    four = [100.0, 1000 * (9 / 31) * 0.1, 1000 * (44 / 53 * 0.15 + 9 / 53 * 0.1), 100.0]
    np.testing.assert_allclose(eb, four + [100.0], rtol=0, atol=1e-9)
    # Not pooled, the fifth zone's rate enters: s2 = 1.5/460, mean(P) = 92,
    # sigma2 = 1.5/460 - 0.1/92 = 1/460; w(P=100) = (1/460) / (1/460 + 1/1000) = 50/73.
    eb0, _ = measures.eb_rate(o, p, per=1000)
    assert eb0[1] == pytest.approx(1000 * (23 / 73) * 0.1, abs=1e-9)


def test_eb_rate_of_a_moorland_cell_is_the_study_area_rate_once_pooled():
    # 3 burglaries among 2.2 residents next to ordinary zones: unpooled, its estimate stays
    # far above theta; pooled it is theta exactly.
    o = np.array([3.0, 2.0, 1.0, 4.0, 0.0, 2.0])
    p = np.array([2.2, 1000.0, 800.0, 1500.0, 600.0, 900.0])
    theta = o.sum() / p.sum()
    pooled, _ = measures.eb_rate(o, p, per=1000, min_denominator=50)
    assert pooled[0] == pytest.approx(1000 * theta, rel=1e-14)
    raw, _ = measures.eb_rate(o, p, per=1000)
    assert raw[0] > 5 * 1000 * theta


# ----------------------------------------------------------------------- anchored spatial EB

def _anchored_by_hand(o, p, lists, min_den=0):
    """The docstring's formulas, zone by zone in exact fractions (an independent scalar version)."""
    n = len(o)
    o = [Fraction(x) for x in o]
    p = [Fraction(x) for x in p]
    usable = [p[i] > 0 and not (0 < p[i] < min_den) for i in range(n)]
    theta = sum(o) / sum(p)
    win = [[i] + list(lists[i]) for i in range(n)]
    ow = [sum(o[j] for j in w) for w in win]
    pw = [sum(p[j] for j in w) for w in win]
    rw = [a / b for a, b in zip(ow, pw)]
    big = [b >= min_den for b in pw]
    pb = [pw[i] for i in range(n) if big[i]]
    s2w = sum(pw[i] * (rw[i] - theta) ** 2 for i in range(n) if big[i]) / sum(pb)
    sig_w = max(Fraction(0), s2w - theta / (sum(pb) / len(pb)))
    m = [sig_w / (sig_w + theta / pw[i]) * rw[i] + (1 - sig_w / (sig_w + theta / pw[i])) * theta
         for i in range(n)]
    out = []
    for i in range(n):
        js = [j for j in win[i] if usable[j]]
        if usable[i] and js:
            pu = sum(p[j] for j in js)
            s2 = sum(p[j] * (o[j] / p[j] - m[i]) ** 2 for j in js) / pu
            sig = max(Fraction(0), s2 - m[i] / (pu / len(js)))
            w = sig / (sig + m[i] / p[i])
        else:
            w = Fraction(0)
        own = o[i] / p[i] if p[i] > 0 else Fraction(0)
        out.append(w * own + (1 - w) * m[i])
    return out, m


def test_anchored_spatial_eb_four_zones_by_hand():
    # O = 0, 0, 6, 2; P = 100, 100, 200, 100 on the line 0-1-2-3. theta = 8/500 = 2/125.
    # Windows (zone + neighbours): P_W = 200, 400, 400, 300; rates R = 0, 3/200, 1/50, 2/75.
    # s2_W = sum P_W (R - theta)^2 / 1300 = 691/9,750,000; mean(P_W) = 325;
    # sigma2_W = 691/9,750,000 - (2/125)/325 = 211/9,750,000.
    # Zone 0: W_0 = sigma2_W / (sigma2_W + theta/200) = 211/991;
    # m_0 = (1 - 211/991) * 2/125 = 312/24,775 (about 0.0126).
    # Local step, window {0, 1}, both rates 0: s2_0 = m_0^2, sigma2_0 = m_0 (m_0 - 1/100) > 0,
    # w_0 = (m_0 - 1/100) / m_0, EB_0 = (1 - w_0) m_0 = 1/100 exactly. The classic spatial EB
    # gives 0 there: its window holds no event.
    o = np.array([0.0, 0.0, 6.0, 2.0])
    p = np.array([100.0, 100.0, 200.0, 100.0])
    exact, m = _anchored_by_hand(o, p, PATH4)
    assert m[0] == Fraction(312, 24775)
    assert exact[0] == Fraction(1, 100)
    eb, zero = measures.eb_rate_spatial(o, p, csr(PATH4), per=1)
    np.testing.assert_allclose(eb, [float(x) for x in exact], rtol=1e-12, atol=0)
    assert eb[0] == pytest.approx(0.01, abs=1e-15) and not zero.any()
    classic, _ = measures.eb_rate_spatial(o, p, csr(PATH4), per=1, anchor="none")
    assert classic[0] == 0.0                    # the bug: exactly 0 with an empty window
    # Every anchored local prior lies between its window's rate and the study-area rate.
    rw = np.array([0, 3 / 200, 1 / 50, 2 / 75])
    lo, hi = np.minimum(rw, 2 / 125), np.maximum(rw, 2 / 125)
    assert all(lo[i] - 1e-15 <= float(m[i]) <= hi[i] + 1e-15 for i in range(4))


def test_anchored_spatial_eb_is_never_zero_where_the_study_area_rate_is_not():
    rng = np.random.default_rng(3)
    side = 15
    n = side * side
    rows, cols = np.divmod(np.arange(n), side)
    lists = [[j for j in range(n) if j != i and abs(rows[j] - rows[i]) <= 1
              and abs(cols[j] - cols[i]) <= 1] for i in range(n)]
    p = rng.integers(0, 400, n).astype(float)
    o = np.where(rng.random(n) < 0.85, 0.0, rng.poisson(3, n)).astype(float)   # sparse counts
    eb, _ = measures.eb_rate_spatial(o, p, csr(lists), per=1000, min_denominator=50)
    classic, _ = measures.eb_rate_spatial(o, p, csr(lists), per=1000, anchor="none")
    assert (classic == 0).sum() > 10            # empty windows give exactly 0 ...
    assert (eb > 0).all()                       # ... anchored, none does
    exact, _ = _anchored_by_hand(o, p, lists, min_den=50)
    np.testing.assert_allclose(eb, [1000 * float(x) for x in exact], rtol=1e-9, atol=1e-12)


def test_spatial_eb_min_denominator_by_hand():
    # A fifth zone of 2 residents with 3 events joins the line (neighbour of zone 3). Pooled
    # (min 50), its events and residents count in every window sum, its rate (1.5) in no
    # variance, and its estimate is its window's anchored prior m_4.
    lists = [[1], [0, 2], [1, 3], [2, 4], [3]]
    o = np.array([0.0, 0.0, 6.0, 2.0, 3.0])
    p = np.array([100.0, 100.0, 200.0, 100.0, 2.0])
    exact, m = _anchored_by_hand(o, p, lists, min_den=50)
    eb, _ = measures.eb_rate_spatial(o, p, csr(lists), per=1, min_denominator=50)
    np.testing.assert_allclose(eb, [float(x) for x in exact], rtol=1e-12)
    assert eb[4] == pytest.approx(float(m[4]), rel=1e-12) and eb[4] < 0.05   # not 1.5


# --------------------------------------------------------------------------- ties and classes

def test_tied_zones_share_the_class_of_the_last_of_them():
    # Scores 5, 4, 4, then seven tied at 1. Competition ranks 1, 2, 2, 4 x 7; the last rank of
    # each tie group 1, 3, 3, 10 x 7; deciles ceil(10 * last / 10) = 1, 3, 3, 10 x 7 and
    # quintiles ceil(5 * last / 10) = 1, 2, 2, 5 x 7. (By first rank the seven would be in
    # decile 4, "above average need".)
    score = np.array([5, 4, 4, 1, 1, 1, 1, 1, 1, 1], dtype=float)
    rank, last = ranking.need_ranks(score)
    assert rank.tolist() == [1, 2, 2] + [4] * 7 and last.tolist() == [1, 3, 3] + [10] * 7
    assert ranking.need_class(last, 10, 10).tolist() == [1, 3, 3] + [10] * 7
    assert ranking.need_class(last, 10, 5).tolist() == [1, 2, 2] + [5] * 7
    # Deciles 1..d never hold more than d tenths of the zones.
    dec = ranking.need_classes(score, 10)
    for d in range(1, 11):
        assert (dec <= d).sum() <= d * len(score) / 10


def test_floor_zones_rank_below_all_others_tied():
    # Zone 2 has the highest score but is on the floor (no incidents): ranks 1, 2, 4, 3.
    score = np.array([5.0, 4.0, 9.0, 1.0, np.nan])
    rank, last = ranking.need_ranks(score, floor=np.array([False, False, True, False, True]))
    assert rank[:4].tolist() == [1, 2, 4, 3] and last[:4].tolist() == [1, 2, 4, 3]
    assert np.isnan(rank[4]) and np.isnan(last[4])
    assert ranking.need_classes(score, 4, floor=[0, 0, 1, 0, 1])[:4].tolist() == [1, 2, 4, 3]


def _grid_frame():
    """Eight zones: two with incidents, six without; population small in zone 1."""
    return pd.DataFrame({
        "burglary": [40.0, 3.0, 0, 0, 0, 0, 0, 0],
        "robbery": [10.0, 0.0, 0, 0, 0, 0, 0, np.nan],
        "population": [400.0, 2.2, 300, 500, 20, 250, 700, 350],
    }, index=[f"z{i}" for i in range(8)])


def _spec(measure, **extra):
    inds = {
        "burglary": {"field": "burglary", "measure": measure, "scaling": "zscore", "missing": "zero"},
        "robbery": {"field": "robbery", "measure": measure, "scaling": "zscore", "missing": "zero"},
    }
    for ind in inds.values():
        if measure != "volume":
            ind["denominator"] = "population"
    spec = {"themes": [{"name": "crime", "issues": [
        {"name": "b", "indicators": {"locations": inds["burglary"]}},
        {"name": "r", "indicators": {"locations": inds["robbery"]}}]}]}
    spec.update(extra)
    return spec


def test_zones_without_incidents_share_the_lowest_class_whatever_their_score():
    # Global EB rates give the six zones without incidents positive, different rates (the
    # prior mean shrunk by their population), so by score they would spread over the ranks.
    # Rule "lowest": zones 0 and 1 rank 1-2, the six share rank 3 and decile / quintile of the
    # last of them: ceil(10 * 8 / 8) = 10 and 5.
    r = build_index(_grid_frame(), _spec("eb_rate"))
    t = r.table
    assert t.ci_no_incidents.tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    assert t.ci_rank.tolist()[2:] == [3] * 6 and sorted(t.ci_rank.tolist()[:2]) == [1, 2]
    assert t.ci_decile.tolist()[2:] == [10] * 6 and t.ci_quintile.tolist()[2:] == [5] * 6
    assert any("6 of 8 zone(s) (75 %) have no recorded incident" in m and "decile 10" in m
               for m in r.messages)
    assert r.diagnostics["summary"]["zones_no_incidents"] == 6
    assert r.diagnostics["summary"]["deciles_present"] == sorted(set(t.ci_decile.tolist()))
    # Rule "score": the same scores, ranked as they are; the empty zones' EB scores differ.
    s = build_index(_grid_frame(), _spec("eb_rate", no_incidents="score")).table
    np.testing.assert_allclose(s.ci_score, t.ci_score)
    assert len(set(s.ci_rank.tolist()[2:])) > 1


def test_pooled_zones_are_flagged_counted_and_reported():
    # Zone 1 (2.2 residents) and zone 4 (20) are under the default minimum of 50: their crude
    # rates take the study-area rate 43 / 2522.2 (burglary) and 10 / 2522.2 (robbery).
    df = _grid_frame()
    r = build_index(df, _spec("rate"))
    t = r.table
    assert MIN_DENOMINATOR_DEFAULT == 50
    assert t.b_locations_pooled.tolist() == [0, 1, 0, 0, 1, 0, 0, 0]
    assert t.r_locations_pooled.tolist() == [0, 1, 0, 0, 1, 0, 0, 0]   # NaN count: zero policy
    assert t.b_locations_m.iloc[1] == pytest.approx(1000 * 43 / 2522.2, rel=1e-12)
    assert t.b_locations_m.iloc[4] == pytest.approx(1000 * 43 / 2522.2, rel=1e-12)
    assert t.b_locations_m.iloc[0] == pytest.approx(100.0)
    row = r.diagnostics["indicators"].set_index("issue").loc["b"]
    assert row.n_pooled == 2
    text = [m for m in r.messages if m.startswith("Small denominators")]
    assert len(text) == 1 and "2 of 8 zone(s) (25 %)" in text[0] and "below min_denominator 50" in text[0]
    assert "They hold 3 of the 53 counted" in text[0]    # 3 burglaries + 0 robberies of 43 + 10
    # Turned off per indicator: the crude rate 3 / 2.2 per 1,000 comes back.
    spec = _spec("rate")
    spec["themes"][0]["issues"][0]["indicators"]["locations"]["min_denominator"] = 0
    off = build_index(df, spec).table
    assert off.b_locations_m.iloc[1] == pytest.approx(3000 / 2.2)
    assert "b_locations_pooled" not in off.columns and "r_locations_pooled" in off.columns


def test_zones_far_from_the_mean_are_named_with_why():
    # Volume of robbery over 30 zones: one zone with 1, the rest 0. mean = 1/30,
    # SD = sqrt(1/30 - 1/900) = sqrt(29)/30, z = (1 - 1/30) / (sqrt(29)/30) = sqrt(29) = 5.39.
    df = pd.DataFrame({"robbery": [0.0] * 29 + [1.0]}, index=[f"cell{i}" for i in range(30)])
    spec = {"themes": [{"name": "t", "issues": [{"name": "r", "indicators": {
        "locations": {"field": "robbery", "measure": "volume", "scaling": "zscore"}}}]}],
        "z_warning": 5}
    r = build_index(df, spec)
    ext = r.diagnostics["extreme"]
    assert ext.zone.tolist() == ["cell29"] and ext.z.iloc[0] == pytest.approx(29 ** 0.5)
    assert ext["count"].iloc[0] == 1 and ext.indicator.iloc[0] == "r_locations"
    msg = [m for m in r.messages if "standard deviations" in m]
    assert len(msg) == 1 and "1 zone(s) lie more than 5 standard deviations" in msg[0]
    assert "cell29" in msg[0] and "z = 5.4" in msg[0] and "Why it matters" in msg[0]
    assert r.diagnostics["indicators"].iloc[0].n_extreme == 1
    html = r.report_html()
    assert "Small numbers" in html and "cell29" in html
    # The default bound (10) is not reached; 0 turns the warning off; zone names by argument.
    assert Z_WARNING_DEFAULT == 10
    spec.pop("z_warning")
    assert build_index(df, spec).diagnostics["extreme"].empty
    spec["z_warning"] = 0
    assert build_index(df, spec).diagnostics["extreme"].empty
    spec["z_warning"] = 5
    named = build_index(df, spec, zone_ids=[f"H{i}" for i in range(30)]).diagnostics["extreme"]
    assert named.zone.tolist() == ["H29"]
    # A rank-based scaling is not dominated by one zone: no warning.
    spec["themes"][0]["issues"][0]["indicators"]["locations"]["scaling"] = "percentile"
    assert build_index(df, spec).diagnostics["extreme"].empty


def test_new_keys_validated_and_defaults_named():
    """The keys are declared in core.model (type, default, choices, units): a spec and a recipe
    read them the same way, and every wrong value is reported at its path."""
    from composite_index_plugin.core import model

    assert NO_INCIDENTS_DEFAULT == "lowest"
    spec = _spec("eb_rate_spatial", z_warning=-1, no_incidents="first")
    spec["themes"][0]["issues"][0]["indicators"]["locations"].update(min_denominator="fifty",
                                                                      anchor="local")
    volume = spec["themes"][0]["issues"][1]["indicators"]["locations"]
    volume.update(measure="volume", anchor="global")
    volume.pop("denominator")
    text = [str(p) for p in validate_spec(spec)]
    assert "z_warning: must be at least 0, not -1 (give a number >= 0, in standard deviations)" \
        in text
    assert "no_incidents: unknown no_incidents 'first' (choose one of: lowest, score)" in text
    assert any(t.startswith("themes[0].issues[0].indicators.locations.min_denominator: must be a "
                            "number") for t in text)
    assert any(t.startswith("themes[0].issues[0].indicators.locations.anchor: unknown anchor "
                            "'local'") for t in text)
    assert any(t.startswith("themes[0].issues[1].indicators.locations.anchor: 'anchor' does not "
                            "apply to measure 'volume'") for t in text)
    assert len(text) == 5
    # Options may also come in "options" (as a recipe's roles give them).
    ok = _spec("eb_rate_spatial", neighbours={"method": "queen"})
    ok["themes"][0]["issues"][0]["indicators"]["locations"]["options"] = {"min_denominator": 10,
                                                                          "anchor": "none"}
    assert validate_spec(ok) == []
    # Defaults from the model: 50 for rates, 0 for a location quotient, none for volume.
    parsed, problems = model.parse_spec(_spec("rate"))
    assert problems == [] and parsed.z_warning == Z_WARNING_DEFAULT == 10
    assert parsed.no_incidents == "lowest"
    roles = [m for t in parsed.themes for i in t.issues for _k, m, _f in i.measured()]
    assert [m.min_denominator for m in roles] == [MIN_DENOMINATOR_DEFAULT] * 2
    assert roles[0].anchor is None
    parsed, _ = model.parse_spec(_spec("location_quotient"))
    assert [m.min_denominator for t in parsed.themes for i in t.issues
            for _k, m, _f in i.measured()] == [0, 0]
    parsed, _ = model.parse_spec(_spec("eb_rate_spatial"))
    assert parsed.themes[0].issues[0].indicators["locations"].anchor == "global"
    # Defaults are part of the fingerprint: writing them out changes nothing.
    explicit = _spec("rate")
    for issue in explicit["themes"][0]["issues"]:
        issue["indicators"]["locations"]["min_denominator"] = MIN_DENOMINATOR_DEFAULT
    assert spec_fingerprint(explicit) == spec_fingerprint(_spec("rate"))


def test_a_recipe_reaches_every_option_and_each_is_checked():
    """A recipe gives the options on its roles (or in their "options") and the spec-level keys
    at its top; its index spec carries them to the engine; a bad value is reported at its path."""
    from composite_index_plugin.core import model
    from composite_index_plugin.core.recipe import validate_recipe

    def recipe(role, **top):
        return dict({"recipe_version": 1, "study_area": {"source": {"path": "area.gpkg"}},
                     "geography": {"type": "grid", "size": 250},
                     "population": {"source": {"path": "p.gpkg"}, "field": "population"},
                     "themes": [{"name": "t", "issues": [{"name": "burglary", "roles": {
                         "locations": dict({"source": {"path": "x.gpkg"},
                                            "measure": "eb_rate_spatial"}, **role)}}]}]}, **top)

    for role in ({"min_denominator": 100, "anchor": "none"},
                 {"options": {"min_denominator": 100, "anchor": "none"}}):
        doc = recipe(role, z_warning=4, no_incidents="score")
        assert validate_recipe(doc) == []
        spec = model.parse(doc)[0].index_spec()
        m = spec.themes[0].issues[0].roles["locations"]
        assert (m.min_denominator, m.anchor) == (100, "none")
        assert (spec.z_warning, spec.no_incidents) == (4, "score")
        options = m.engine_options("burglary_locations")
        assert options["min_denominator"] == 100 and options["anchor"] == "none"
    # Left out: the defaults, and the JSON spec a recipe hands to buildindex says nothing more.
    spec = model.parse(recipe({}))[0].index_spec()
    m = spec.themes[0].issues[0].roles["locations"]
    assert (m.min_denominator, m.anchor, spec.z_warning, spec.no_incidents) == (50, "global", 10, "lowest")
    problems = [str(p) for p in validate_recipe(recipe({"min_denominator": -5},
                                                        no_incidents="never"))]
    assert any(p.startswith("themes[0].issues[0].roles.locations.min_denominator: must be at "
                            "least 0") for p in problems)
    assert any(p.startswith("no_incidents: unknown no_incidents 'never'") for p in problems)


def test_zones_without_incidents_have_no_top_theme_or_issue():
    # Two themes on z-scores: in the six empty zones both are below their means (burglary
    # (0 - 5.375) / sd, robbery (0 - 1.25) / sd), and the "largest contribution" used to name
    # the theme least below average (robbery's) as their top theme.
    spec = {"themes": [
        {"name": "acquisitive", "issues": [{"name": "b", "indicators": {"locations": {
            "field": "burglary", "measure": "volume", "scaling": "zscore", "missing": "zero"}}}]},
        {"name": "violence", "issues": [{"name": "r", "indicators": {"locations": {
            "field": "robbery", "measure": "volume", "scaling": "zscore", "missing": "zero"}}}]}]}
    t = build_index(_grid_frame(), spec).table
    assert t.ci_no_incidents.tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    b = (np.array([40.0, 3.0]) - 43 / 8) / np.std([40.0, 3, 0, 0, 0, 0, 0, 0])
    r = (np.array([10.0, 0.0]) - 10 / 8) / np.std([10.0, 0, 0, 0, 0, 0, 0, 0])
    # zone 0: robbery 2.646 just above burglary 2.638; zone 1: burglary -0.18 above -0.38
    assert b[0] < r[0] and b[1] > r[1]
    assert t.top_theme.tolist() == ["violence", "acquisitive"] + [None] * 6
    assert t.top_issue.tolist() == ["r", "b"] + [None] * 6
    # the empty zones' contributions are still there, below zero
    assert (t.violence_pct.iloc[2:] < 0).all() and (t.acquisitive_pct.iloc[2:] < 0).all()


def test_far_zones_are_measured_on_the_scale_the_index_uses():
    """With a frozen baseline the z-scores of the index are the baseline's; the extreme-zone
    check counts and reports on that scale ("from the baseline's mean"), so the largest z it
    names is the zone's scaled value (West Yorkshire's robbery: 49.1 by the month's own mean,
    56.4 in the index)."""
    spec = {"themes": [{"name": "t", "issues": [{"name": "b", "indicators": {"locations": {
        "field": "n", "measure": "volume", "scaling": "zscore", "missing": "zero"}}}]}],
        "z_warning": 3}
    year1 = pd.DataFrame({"n": [0.0] * 18 + [1.0, 3.0]})          # mean 0.2, SD 0.6782
    base = build_index(year1, spec).baseline
    mean, sd = base["indicators"]["b_locations"]["mean"], base["indicators"]["b_locations"]["sd"]
    assert mean == pytest.approx(0.2) and sd == pytest.approx(np.std(year1.n))
    year2 = pd.DataFrame({"n": [0.0] * 16 + [1.0, 2.0, 3.0, 6.0]})  # mean 0.6, SD 1.428
    r = build_index(year2, spec, baseline=base)
    scaled = r.table.b_locations_s.to_numpy()
    np.testing.assert_allclose(scaled, (year2.n - mean) / sd)
    far = np.abs(scaled) > 3                                        # 3, 6 -> z 4.13, 8.55
    assert far.sum() == 2
    row = r.diagnostics["indicators"].iloc[0]
    assert row.n_extreme == 2 and row.max_abs_z == pytest.approx(np.abs(scaled).max())
    msg = next(m for m in r.messages if "standard deviations" in m)
    assert "2 zone(s) lie more than 3 standard deviations from the baseline's mean" in msg
    assert f"largest z = {scaled.max():.1f}" in msg and "field value 6" in msg
    # without the baseline: the year's own mean and SD (only the 6 is beyond 3 SD: z 3.78)
    own = build_index(year2, spec)
    z_own = (year2.n - year2.n.mean()) / year2.n.std(ddof=0)
    assert own.diagnostics["indicators"].iloc[0].n_extreme == int((np.abs(z_own) > 3).sum()) == 1
    assert any("1 zone(s) lie more than 3 standard deviations from the mean" in m
               for m in own.messages)


def test_extreme_zones_of_several_indicators_in_order_with_their_denominators():
    # 60 zones; two far-out zones on the volume of burglary (z by the population SD: the counts
    # 40 and 25 over 58 zones of 1), one on the rate of assault per resident (denominator 100,
    # above the smallest one taken as it is, where the others have 1,000). Expected: per
    # indicator, in the spec's order, largest |z| first, with the zone's own count and
    # denominator.
    n = 60
    burglary = np.ones(n)
    burglary[[7, 31]] = [25.0, 40.0]
    assault = 5.0 + np.arange(n) % 3
    assault[12] = 9.0
    pop = np.full(n, 1000.0)
    pop[12] = 100.0
    df = pd.DataFrame({"burglary": burglary, "assault": assault, "pop": pop},
                      index=[f"z{i:02d}" for i in range(n)])
    spec = {"themes": [{"name": "t", "issues": [
        {"name": "b", "indicators": {"v": {"field": "burglary", "measure": "volume",
                                           "scaling": "zscore"}}},
        {"name": "a", "indicators": {"r": {"field": "assault", "measure": "rate",
                                           "denominator": "pop", "scaling": "minmax"}}}]}],
        "z_warning": 3}
    ext = build_index(df, spec).diagnostics["extreme"]
    zb = (burglary - burglary.mean()) / burglary.std()
    rate = assault / pop * 1000   # per 1,000 residents, the rate's default
    zr = (rate - rate.mean()) / rate.std()
    assert zb[31] > zb[7] > 3 and zr[12] > 3 and (np.abs(np.delete(zb, [7, 31])) < 3).all()
    assert ext.zone.tolist() == ["z31", "z07", "z12"]
    assert ext.indicator.tolist() == ["b_v", "b_v", "a_r"]
    assert ext.row.tolist() == [31, 7, 12]
    np.testing.assert_allclose(ext.z.to_numpy(float), [zb[31], zb[7], zr[12]])
    np.testing.assert_allclose(ext["count"].to_numpy(float), [40, 25, 9])
    assert np.isnan(ext.denominator.iloc[0]) and ext.denominator.iloc[2] == 100
    np.testing.assert_allclose(ext.measured.to_numpy(float), [40, 25, rate[12]])
    assert ext.label.iloc[2] == "t / a / r (field 'assault')"
    # Names given by a function (a layer of millions of zones names only these): asked once,
    # for the rows named, ascending and distinct; the same table and messages as a name list.
    asked = []

    def names(rows):
        asked.append(rows.tolist())
        return [f"cell {r}" for r in rows.tolist()]

    lazy = build_index(df, spec, zone_ids=names)
    assert asked == [[7, 12, 31]]
    eager = build_index(df, spec, zone_ids=[f"cell {i}" for i in range(n)])
    assert lazy.diagnostics["extreme"].zone.tolist() == ["cell 31", "cell 7", "cell 12"]
    pd.testing.assert_frame_equal(lazy.diagnostics["extreme"], eager.diagnostics["extreme"])
    assert lazy.messages == eager.messages and any("cell 31" in m for m in lazy.messages)
    spec["z_warning"] = 0   # nothing named: never asked
    build_index(df, spec, zone_ids=names)
    assert asked == [[7, 12, 31]]
