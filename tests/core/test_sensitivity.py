"""Monte Carlo sensitivity: reproducibility, no-variation identity, widening, areas, bad input."""
import numpy as np
import pandas as pd
import pytest

from composite_index_plugin.core.errors import Cancelled, CompositeIndexError, Progress
from composite_index_plugin.core.sensitivity import (
    dirichlet_weights,
    parse_scalings,
    perturb_spec,
    run_sensitivity,
)


def _data(n=300, seed=1):
    rng = np.random.default_rng(seed)
    base = rng.gamma(2.0, 2.0, n)
    cols = {f"f{i}": np.round(base * rng.uniform(0.3, 1.7, n) + rng.poisson(2, n), 3)
            for i in range(6)}
    return pd.DataFrame(cols)


def _spec():
    def issue(name, a, b):
        return {"name": name, "indicators": {
            "victims": {"field": a, "scaling": "zscore"},
            "locations": {"field": b, "scaling": "minmax", "scale_to": 100, "weight": 2}}}
    return {"themes": [
        {"name": "violence", "weight": 2, "issues": [issue("assault", "f0", "f1"),
                                                     issue("robbery", "f2", "f3")]},
        {"name": "harm", "issues": [issue("damage", "f4", "f5")]},
    ]}


def test_no_variation_reproduces_base_ranks_exactly():
    from composite_index_plugin.core.index import build_index

    df = _data()
    base = build_index(df, _spec()).table
    res = run_sensitivity(df, _spec(), runs=5, seed=3, allow_no_variation=True)
    z = res.zones
    assert np.array_equal(z["base_rank"].to_numpy(), base["ci_rank"].to_numpy())
    assert np.array_equal(z["median_rank"].to_numpy(), base["ci_rank"].to_numpy(dtype=float))
    assert np.array_equal(z["rank_p05"], z["rank_p95"])
    assert np.array_equal(z["p_top_decile"].to_numpy(), (base["ci_decile"] == 1).to_numpy(float))
    assert z["robust_priority"].sum() == (base["ci_decile"] == 1).sum() == 30
    # an infinite concentration keeps the weights too
    inf = run_sensitivity(df, _spec(), runs=3, seed=3, concentration=float("inf"),
                          allow_no_variation=True)
    assert np.array_equal(inf.zones["median_rank"], z["median_rank"])


def test_same_seed_same_result_other_seed_differs():
    df = _data()
    kw = dict(runs=12, concentration=20, scalings="zscore, minmax, rank")
    a = run_sensitivity(df, _spec(), seed=42, **kw)
    b = run_sensitivity(df, _spec(), seed=42, **kw)
    c = run_sensitivity(df, _spec(), seed=43, **kw)
    assert np.array_equal(a.ranks, b.ranks)
    pd.testing.assert_frame_equal(a.zones, b.zones)
    assert not np.array_equal(a.ranks, c.ranks)


def test_rank_intervals_widen_as_concentration_falls():
    df = _data()
    widths = []
    for conc in (1000.0, 50.0, 2.0):
        z = run_sensitivity(df, _spec(), runs=40, seed=7, concentration=conc).zones
        widths.append(float((z["rank_p95"] - z["rank_p05"]).mean()))
    assert widths[0] < widths[1] < widths[2]
    assert widths[0] > 0


def test_dirichlet_weights_centre_and_spread():
    rng = np.random.default_rng(0)
    w = np.array([2.0, 1.0, 1.0, 0.0])
    draws = np.array([dirichlet_weights(rng, w, 30.0) for _ in range(20000)])
    assert np.allclose(draws.sum(axis=1), 4.0)
    assert np.all(draws[:, 3] == 0)
    assert draws.mean(axis=0) == pytest.approx([2, 1, 1, 0], abs=0.02)
    # share p = 0.5 has variance p(1 - p) / (c + 1); weights are 4 x shares
    assert (draws[:, 0] / 4).var() == pytest.approx(0.25 / 31, rel=0.05)
    # a concentration so small that every gamma draw underflows still gives a valid vertex
    tiny = dirichlet_weights(np.random.default_rng(1), w, 1e-300)
    assert tiny.sum() == pytest.approx(4.0) and np.count_nonzero(tiny) == 1


def test_perturbed_spec_drops_options_of_other_scalings():
    spec = _spec()
    new = perturb_spec(spec, np.random.default_rng(0), None, ["rank"])
    loc = new["themes"][0]["issues"][0]["indicators"]["locations"]
    assert loc == {"field": "f1", "scaling": "rank", "weight": 2}
    assert spec["themes"][0]["issues"][0]["indicators"]["locations"]["scale_to"] == 100
    new = perturb_spec(spec, np.random.default_rng(0), 10.0, [])
    themes = [t["weight"] for t in new["themes"]]
    assert sum(themes) == pytest.approx(3) and themes != [2, 1]


class _Table:
    def __init__(self, table):
        self.table = table


def _stub_builder(df, spec, neighbours=None, zone_area=None):
    """Score = weighted sum of the raw fields (indicator weights only): a hand-checkable index."""
    score = np.zeros(len(df))
    for theme in spec["themes"]:
        for issue in theme["issues"]:
            for ind in issue["indicators"].values():
                score += ind.get("weight", 1) * df[ind["field"]].to_numpy(float)
    rank = pd.Series(score).rank(ascending=False, method="min").to_numpy()
    return _Table(pd.DataFrame({"ci_score": score, "ci_rank": rank,
                                "ci_decile": np.ceil(rank * 10 / len(score))}))


def test_area_ranks_hand_computed():
    df = pd.DataFrame({"a": [10.0, 1, 2, 3, 8, 7], "b": [0.0] * 6})
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "x": {"field": "a"}, "y": {"field": "b"}}}]}]}
    overlaps = pd.DataFrame({"zone": [0, 1, 2, 3, 4, 5], "area": [0, 0, 1, 1, 2, 2],
                             "fraction": 1.0})
    pop = [1.0, 9.0, 1.0, 1.0, 1.0, 1.0]
    res = run_sensitivity(df, spec, runs=3, seed=0, area_names=["N", "S", "E"],
                          overlaps=overlaps, population=pop, builder=_stub_builder,
                          allow_no_variation=True)
    # N: (10 + 9) / 10 = 1.9, S: 2.5, E: 7.5 -> ranks 3, 2, 1
    a = res.areas
    assert list(a["base_rank"]) == [3, 2, 1] and list(a["median_rank"]) == [3, 2, 1]
    assert list(a["p_top_decile"]) == [0, 0, 1] and list(a["robust_priority"]) == [0, 0, 1]
    # with weights varying, the zone ranks still come from the builder each run
    res = run_sensitivity(df, spec, runs=50, seed=0, concentration=1.0, builder=_stub_builder)
    assert res.zones["rank_p95"].max() > res.zones["rank_p05"].min()
    assert (res.zones["median_rank"][0] <= 2)


def test_nothing_to_vary_and_bad_input():
    df = _data(50)
    with pytest.raises(CompositeIndexError, match="Nothing to vary: give a weight"):
        run_sensitivity(df, _spec(), runs=10)
    single = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "victims": {"field": "f0"}}}]}]}
    with pytest.raises(CompositeIndexError, match="alone at its level"):
        run_sensitivity(df, single, runs=10, concentration=10)
    with pytest.raises(CompositeIndexError, match="Unknown scaling 'zcore'"):
        parse_scalings("zscore, zcore")
    with pytest.raises(CompositeIndexError, match="'threshold' needs parameters"):
        parse_scalings(["threshold"])
    with pytest.raises(CompositeIndexError, match="at least 1"):
        run_sensitivity(df, _spec(), runs=0, concentration=5)
    with pytest.raises(CompositeIndexError, match="concentration must be a number"):
        run_sensitivity(df, _spec(), runs=2, concentration=-1)
    geo = perturb_spec(_spec(), np.random.default_rng(0), None, ["rank"])
    geo["aggregation"] = {"issue": "geometric"}
    with pytest.raises(CompositeIndexError, match="with scaling 'zscore' for every indicator"):
        run_sensitivity(df.abs() + 1, geo, runs=2, scalings=["rank", "zscore"])


def test_cancel_stops_the_loop():
    calls = []

    def on_progress(f):
        calls.append(f)

    progress = Progress(on_progress, is_cancelled=lambda: len(calls) > 3)
    with pytest.raises(Cancelled):
        run_sensitivity(_data(50), _spec(), runs=100, seed=1, concentration=5, progress=progress)
    assert len(calls) == 4


# ------------------------------------------------------------------------------ grid jitter
def _grid(nx=20, ny=15, size=100.0, seed=2):
    rng = np.random.default_rng(seed)
    col, row = np.meshgrid(np.arange(nx), np.arange(ny))
    col, row = col.ravel(), row.ravel()
    hot = np.exp(-((col - 5) ** 2 + (row - 4) ** 2) / 8.0) * 20
    values = pd.DataFrame({f"f{i}": rng.poisson(hot + 1).astype(float) for i in range(6)})
    values["population"] = 100.0
    return col * size, row * size, (col + 1) * size, (row + 1) * size, values


def test_reapportion_hand_computed():
    from composite_index_plugin.core.sensitivity import SquareGridJitter

    values = pd.DataFrame({"a": [10.0, 20.0], "b": [1.0, 3.0]})
    jit = SquareGridJitter([0, 10], [0, 0], [10, 20], [10, 10], 10, 0, 0, values, ["a"])
    frame, area, row, col, back = jit.reapportion(10.0, -5.0, 0.0)
    assert list(col) == [0, 1, 2] and list(row) == [0, 0, 0]
    assert list(frame["a"]) == [5, 15, 10] and list(frame["b"]) == [1, 2, 3]
    assert list(area) == [50, 100, 50] and list(back) == [1, 2]
    frame, area, row, col, back = jit.reapportion(20.0, 0.0, 0.0)
    assert list(frame["a"]) == [30] and list(frame["b"]) == [2] and list(back) == [0, 0]
    assert list(area) == [200]


def test_reapportion_conserves_counts_and_identity():
    from composite_index_plugin.core.sensitivity import SquareGridJitter

    x0, y0, x1, y1, values = _grid()
    jit = SquareGridJitter(x0, y0, x1, y1, 100.0, 0.0, 0.0, values, list(values.columns))
    frame, area, _, _, back = jit.reapportion(100.0, 0.0, 0.0)
    pd.testing.assert_frame_equal(frame.iloc[back].reset_index(drop=True), values)
    frame, area, _, _, back = jit.reapportion(137.0, 61.0, -23.0)
    assert np.allclose(frame.sum().to_numpy(), values.sum().to_numpy())
    assert area.sum() == pytest.approx(20 * 15 * 100 * 100)
    assert (back >= 0).all()


def test_grid_jitter_runs():
    from composite_index_plugin.core.sensitivity import SquareGridJitter

    x0, y0, x1, y1, values = _grid()
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "victims": {"field": "f0", "measure": "rate", "denominator": "population"},
        "locations": {"field": "f1", "measure": "volume"}}}, {"name": "j", "indicators": {
            "victims": {"field": "f2", "measure": "volume", "scaling": "rank"}}}]}]}
    fixed = SquareGridJitter(x0, y0, x1, y1, 100.0, 0.0, 0.0, values, list(values.columns),
                             size_jitter=0.0, offset=False)
    same = run_sensitivity(values, spec, runs=3, seed=1, jitter=fixed)
    assert np.array_equal(same.zones["median_rank"], same.zones["base_rank"].astype(float))
    moving = SquareGridJitter(x0, y0, x1, y1, 100.0, 0.0, 0.0, values, list(values.columns),
                              size_jitter=0.3)
    a = run_sensitivity(values, spec, runs=15, seed=4, jitter=moving)
    b = run_sensitivity(values, spec, runs=15, seed=4, jitter=moving)
    assert np.array_equal(a.ranks, b.ranks)
    width = (a.zones["rank_p95"] - a.zones["rank_p05"]).mean()
    assert width > 0
    # the planted hot spot around (5, 4) stays a robust priority whatever the grid
    centre = 4 * 20 + 5
    assert a.zones["p_top_decile"][centre] == 1
    with pytest.raises(CompositeIndexError, match="size jitter must be within 0 and 1"):
        SquareGridJitter(x0, y0, x1, y1, 100.0, 0, 0, values, [], size_jitter=1.5)
