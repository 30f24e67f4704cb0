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
    new = perturb_spec(spec, np.random.default_rng(0), None, ["rank"]).to_dict()
    loc = new["themes"][0]["issues"][0]["indicators"]["locations"]
    assert loc == {"field": "f1", "scaling": "rank", "weight": 2}
    assert spec["themes"][0]["issues"][0]["indicators"]["locations"]["scale_to"] == 100
    new = perturb_spec(spec, np.random.default_rng(0), 10.0, [])
    themes = [t.weight for t in new.themes]
    assert sum(themes) == pytest.approx(3) and themes != [2, 1]


class _Table:
    def __init__(self, table):
        self.table = table


def _stub_builder(df, spec, neighbours=None, zone_area=None):
    """Score = weighted sum of the raw fields (indicator weights only): a hand-checkable index."""
    score = np.zeros(len(df))
    for *_path, ind, column in spec.measured():
        score += ind.weight * df[column].to_numpy(float)
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
    geo.aggregation.issue = "geometric"
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


# ------------------------------------------------------------ sampled (any shape) grid jitter
def _clip_area(subject, clipper):
    """Area of convex polygon ``subject`` clipped by convex anticlockwise ``clipper``
    (Sutherland-Hodgman, then the shoelace formula): an exact reference for the overlaps."""
    out = [np.asarray(p, dtype=float) for p in subject]
    for i in range(len(clipper)):
        p, q = clipper[i], clipper[(i + 1) % len(clipper)]
        inp, out = out, []

        def side(z, p=p, q=q):
            return (q[0] - p[0]) * (z[1] - p[1]) - (q[1] - p[1]) * (z[0] - p[0])

        for j in range(len(inp)):
            c, d = inp[j], inp[(j + 1) % len(inp)]
            sc, sd = side(c), side(d)
            if sc >= 0:
                out.append(c)
            if (sc >= 0) != (sd >= 0):
                out.append(c + sc / (sc - sd) * (d - c))
        if not out:
            return 0.0
    pts = np.array(out)
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _cells(shape, extent=400.0, size=100.0):
    from composite_index_plugin.core.grid import GridSpec

    return GridSpec(shape, size, 0.0, 0.0).cells_in_box(0.0, 0.0, extent, extent)


def test_cell_samples_equal_area_midpoints():
    from composite_index_plugin.core.sensitivity import cell_samples

    x, y, zone, w = cell_samples("hex_flat", 2.0, 0.0, 0.0, [0], [0])
    assert len(x) == 54 and np.all(zone == 0)
    # hexagon of width 2: area sqrt(3)/2 * 4; the midpoints are symmetric about the centre
    assert w.sum() == pytest.approx(2 * np.sqrt(3)) and np.allclose(w, w[0])
    assert x.mean() == pytest.approx(0, abs=1e-12) and y.mean() == pytest.approx(0, abs=1e-12)
    # sub-triangle centroids, e.g. the one in the corner of the first triangle at the centre:
    # (centre + centre + V0/3 + ...) = (V0 + V1) / 9 with V0 = (R, 0), V1 = (R/2, 1), R = 2/sqrt3
    r = 2 / np.sqrt(3)
    assert np.any(np.isclose(x, 1.5 * r / 9) & np.isclose(y, 1 / 9))
    x, y, zone, w = cell_samples("square", 10.0, 5.0, 0.0, [2], [1], k=2)
    assert sorted(zip(x, y)) == [(17.5, 22.5), (17.5, 27.5), (22.5, 22.5), (22.5, 27.5)]
    assert list(w) == [25.0] * 4


@pytest.mark.parametrize("shape", ["square", "hex_flat", "hex_pointy"])
def test_sampled_jitter_identity_and_totals(shape):
    from composite_index_plugin.core.sensitivity import SampledGridJitter

    a, b = _cells(shape)
    rng = np.random.default_rng(3)
    n = len(a)
    values = pd.DataFrame({"count": rng.poisson(4, n).astype(float),
                           "population": rng.integers(50, 150, n).astype(float),
                           "rate": rng.uniform(0, 1, n)})
    values.loc[3, "rate"] = np.nan
    jit = SampledGridJitter.from_cells(shape, 100.0, 0.0, 0.0, a, b, values,
                                       ["count", "population"])
    frame, area, fa, fb, back = jit.reapportion(100.0, 0.0, 0.0)
    pd.testing.assert_frame_equal(frame.iloc[back].reset_index(drop=True), values)
    assert list(fa[back]) == list(a) and list(fb[back]) == list(b)
    full = 100.0 ** 2 * (1 if shape == "square" else np.sqrt(3) / 2)
    assert np.allclose(area, full)
    for _ in range(5):
        size, x0, y0 = jit.draw(rng)
        frame, area, fa, fb, back = jit.reapportion(size, x0, y0)
        # counts and denominators are shared out, so their totals stay exactly the same
        assert frame["count"].sum() == pytest.approx(values["count"].sum(), rel=1e-12)
        assert frame["population"].sum() == pytest.approx(values["population"].sum(), rel=1e-12)
        assert area.sum() == pytest.approx(n * full, rel=1e-12)
        assert np.all((back >= 0) & (back < len(frame)))
        assert np.nanmin(frame["rate"]) >= 0 and np.nanmax(frame["rate"]) <= 1


def test_sampled_jitter_agrees_with_exact_square():
    """On squares the quadrature shares agree with SquareGridJitter's exact ones: every share
    within 2/k (the bound in SampledGridJitter's docstring, k = 7), mean error below 0.04."""
    from composite_index_plugin.core.sensitivity import SampledGridJitter, SquareGridJitter

    row, col = _cells("square")
    n = len(row)
    values = pd.DataFrame(np.eye(n), columns=[f"e{i}" for i in range(n)])
    exact = SquareGridJitter(col * 100.0, row * 100.0, col * 100.0 + 100, row * 100.0 + 100,
                             100.0, 0.0, 0.0, values, list(values.columns))
    sampled = SampledGridJitter.from_cells("square", 100.0, 0.0, 0.0, row, col, values,
                                           list(values.columns))
    errs = []
    for seed in range(10):
        draw_e = exact.draw(np.random.default_rng(seed))
        draw_s = sampled.draw(np.random.default_rng(seed))
        assert draw_s == pytest.approx(draw_e)
        fe, ae, re_, ce, be = exact.reapportion(*draw_e)
        fs, as_, rs, cs_, bs = sampled.reapportion(*draw_s)
        # every sampled cell is an exact one (slivers between sample points may be missing)
        ke = pd.Series(np.arange(len(re_)), index=list(zip(re_, ce)))
        pos = ke.loc[list(zip(rs, cs_))].to_numpy()
        assert len(re_) - 12 <= len(rs) <= len(re_)
        assert np.array_equal(pos[bs], be)  # the same centre cells
        got = np.zeros((len(re_), n))
        got[pos] = fs.to_numpy()
        want = fe.to_numpy()
        errs.append(np.abs(got - want)[(got > 0) | (want > 0)])
        got_area = np.zeros(len(re_))
        got_area[pos] = as_
        assert np.abs(got_area - ae).max() <= 2 / 7 * 100.0 ** 2
        assert got_area.sum() == pytest.approx(ae.sum())
    errs = np.concatenate(errs)
    assert errs.max() <= 2 / 7 and errs.mean() < 0.04


@pytest.mark.parametrize("shape", ["hex_flat", "hex_pointy"])
def test_sampled_jitter_hex_shares_against_polygon_clipping(shape):
    from composite_index_plugin.core.grid import GridSpec
    from composite_index_plugin.core.sensitivity import SampledGridJitter

    a, b = _cells(shape, extent=250.0)
    n = len(a)
    values = pd.DataFrame(np.eye(n), columns=[f"e{i}" for i in range(n)])
    jit = SampledGridJitter.from_cells(shape, 100.0, 0.0, 0.0, a, b, values,
                                       list(values.columns))
    rng = np.random.default_rng(11)
    cell_area = np.sqrt(3) / 2 * 100.0 ** 2
    zone_v = GridSpec(shape, 100.0).vertices(a, b)[:, :-1]
    errs, area_errs = [], []
    for _ in range(6):
        size, x0, y0 = jit.draw(rng)
        frame, area, fa, fb, back = jit.reapportion(size, x0, y0)
        grid = GridSpec(shape, size, x0, y0)
        # every jittered cell that may touch the zones (a superset), overlaps by clipping
        ja, jb = grid.cells_in_box(-100.0, -100.0, 350.0, 350.0)
        cell_v = grid.vertices(ja, jb)[:, :-1]
        exact = np.array([[_clip_area(zone_v[i], cell_v[c]) for i in range(n)]
                          for c in range(len(ja))]) / cell_area
        assert np.allclose(exact.sum(axis=0), 1.0)  # the reference covers every zone
        ke = pd.Series(np.arange(len(ja)), index=list(zip(ja, jb)))
        pos = ke.loc[list(zip(fa, fb))].to_numpy()
        got = np.zeros_like(exact)
        got[pos] = frame.to_numpy()
        overlap = (got > 0) | (exact > 0)
        errs.append(np.abs(got - exact)[overlap])
        # cell areas: the whole-cell area sqrt(3)/2 s^2 where the zones cover the cell
        got_area = np.zeros(len(ja))
        got_area[pos] = area
        area_errs.append(np.abs(got_area - exact.sum(axis=1) * cell_area) / cell_area)
        inside = exact.sum(axis=1) * cell_area > np.sqrt(3) / 2 * size ** 2 * (1 - 1e-9)
        assert inside.sum() >= 2
        assert got_area[inside].mean() == pytest.approx(np.sqrt(3) / 2 * size ** 2, rel=0.05)
    area_errs = np.concatenate(area_errs)
    assert area_errs.max() < 0.2
    errs = np.concatenate(errs)
    assert errs.max() < 0.12 and errs.mean() < 0.025


def test_sampled_jitter_from_polygons_and_centre_fallback():
    from composite_index_plugin.core.sensitivity import SampledGridJitter, polygon_samples

    # an L-shaped zone (area 3) and a unit square east of it
    ell = [np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2], [0, 0]], dtype=float)]
    sq = [np.array([[2, 0], [3, 0], [3, 1], [2, 1], [2, 0]], dtype=float)]
    x, y, zone, w = polygon_samples([ell, sq], m=4)
    # 4 x 4 lattice over the L's 2 x 2 box: 12 points inside, each 3 / 12
    assert np.count_nonzero(zone == 0) == 12 and np.allclose(w[zone == 0], 0.25)
    assert np.count_nonzero(zone == 1) == 16 and np.allclose(w[zone == 1], 1 / 16)
    values = pd.DataFrame({"n": [30.0, 8.0]})
    # the L's centre point (1.5, 1.5) lies outside it
    jit = SampledGridJitter("square", 1.0, 0.0, 0.0, (x, y, zone, w), [1.5, 2.5], [1.5, 0.5],
                            values, ["n"])
    frame, area, row, col, back = jit.reapportion(2.0, 0.0, 0.0)
    got = {(r, c): v for r, c, v in zip(row, col, frame["n"])}
    # cells of 2: (0, 0) holds all of the L but its top-right quarter; (0, 1) the square
    assert got == {(0, 0): 30.0, (0, 1): 8.0}
    assert list(area) == [3.0, 1.0]
    assert list(back) == [0, 1]
    jit2 = SampledGridJitter("square", 1.0, 0.0, 0.0, (x, y, zone, w), [1.5, 2.5],
                             [1.5, 0.5], values, ["n"])
    frame, area, row, col, back = jit2.reapportion(1.0, 0.0, 0.0)
    # (1, 1) is empty: the L goes back to a cell with its largest share (each holds 10)
    assert back[0] >= 0 and (row[back[0]], col[back[0]]) in {(0, 0), (0, 1), (1, 0)}
    assert frame["n"].sum() == pytest.approx(38.0)
    with pytest.raises(CompositeIndexError, match="zone row 1 has none"):
        SampledGridJitter("square", 1.0, 0, 0, (x[zone == 0], y[zone == 0], zone[zone == 0],
                                                w[zone == 0]), [0, 0], [0, 0], values, ["n"])


def test_sampled_jitter_hex_runs_widen_and_repeat():
    from composite_index_plugin.core.grid import GridSpec
    from composite_index_plugin.core.neighbours import hex_contiguity
    from composite_index_plugin.core.sensitivity import SampledGridJitter

    g = GridSpec("hex_pointy", 100.0)
    q, r = g.cells_in_box(0.0, 0.0, 1500.0, 1200.0)
    cx, cy = g.centres(q, r)
    rng = np.random.default_rng(2)
    hot = np.exp(-((cx - 500) ** 2 + (cy - 500) ** 2) / 2.0e5) * 20
    values = pd.DataFrame({f"f{i}": rng.poisson(hot + 1).astype(float) for i in range(3)})
    values["population"] = 100.0
    spec = {"themes": [{"name": "t", "issues": [{"name": "i", "indicators": {
        "victims": {"field": "f0", "measure": "rate", "denominator": "population"},
        "locations": {"field": "f1", "measure": "volume"}}}, {"name": "j", "indicators": {
            "victims": {"field": "f2", "measure": "volume", "scaling": "rank"}}}]}]}
    fixed = SampledGridJitter.from_cells("hex_pointy", 100.0, 0.0, 0.0, q, r, values,
                                         list(values.columns), size_jitter=0.0, offset=False)
    same = run_sensitivity(values, spec, runs=2, seed=1, jitter=fixed,
                           jitter_neighbours=lambda a, b: hex_contiguity(a, b))
    assert np.array_equal(same.zones["median_rank"], same.zones["base_rank"].astype(float))
    moving = SampledGridJitter.from_cells("hex_pointy", 100.0, 0.0, 0.0, q, r, values,
                                          list(values.columns))
    a = run_sensitivity(values, spec, runs=10, seed=4, jitter=moving)
    b = run_sensitivity(values, spec, runs=10, seed=4, jitter=moving)
    assert np.array_equal(a.ranks, b.ranks)
    assert (a.zones["rank_p95"] - a.zones["rank_p05"]).mean() > 0
    centre = int(np.argmin((cx - 500) ** 2 + (cy - 500) ** 2))
    assert a.zones["p_top_decile"][centre] == 1


def test_sampled_jitter_sparse_pairs_match_dense():
    from composite_index_plugin.core.sensitivity import SampledGridJitter

    a, b = _cells("hex_flat")
    rng = np.random.default_rng(5)
    values = pd.DataFrame({"n": rng.poisson(3, len(a)).astype(float),
                           "v": rng.uniform(0, 1, len(a))})
    dense = SampledGridJitter.from_cells("hex_flat", 100.0, 0.0, 0.0, a, b, values, ["n"])
    sparse = SampledGridJitter.from_cells("hex_flat", 100.0, 0.0, 0.0, a, b, values, ["n"])
    sparse.dense_limit = 0
    for draw in [(80.0, 13.0, -40.0), (123.0, 7.0, 77.0)]:
        got, want = sparse.reapportion(*draw), dense.reapportion(*draw)
        pd.testing.assert_frame_equal(got[0], want[0])
        for g, w in zip(got[1:], want[1:]):
            assert np.allclose(g, w) and len(g) == len(w)
