"""Benchmark: the assessment cores (target: Monte Carlo of 1,000 runs on 30,000 zones x 20
indicators, time reported; the "small" size finishes in under 30 s).

Zones get seeded Poisson counts and a population; the spec has 5 themes x 2 issues x 2
indicators (z-score and min-max). The timed parts:
- ``core.sensitivity.run_sensitivity``: weights from a Dirichlet (concentration 20) and one
  scaling per run from zscore / minmax / rank, each run a full ``core.index.build_index``, with
  10 areas ranked per run;
- the same with grid offset / cell size jitter for a fifth of the runs, on a square grid
  (``SquareGridJitter``) and on a pointy-top hexagon grid (``SampledGridJitter``);
- ``core.assessment.summarise_areas`` over 10 areas (zones split 5 % across two areas);
- ``core.periods.compare_periods`` over 5 periods with Gi* bins (Mann-Kendall and emerging
  categories for every zone).

``run(size)`` -> list of rows ``{"case", "what", "value", "unit", "target", "note"}``; size is
"large" (30,000 zones, 1,000 runs), "small" (5,000 zones, 100 runs) or "<zones>x<runs>".
Run alone: ``.venv/bin/python benchmarks/bench_assessment.py [size]``.
"""
import os
import sys
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SIZES = {"large": (30_000, 1_000), "small": (5_000, 100)}
N_AREAS = 10


def make_data(zones, seed=2024):
    rng = np.random.default_rng(seed)
    need = rng.gamma(2.0, 1.0, zones)
    cols = {f"c{k:02d}": rng.poisson(need * rng.uniform(0.5, 3.0)).astype(float) for k in range(20)}
    cols["population"] = rng.integers(800, 2000, zones).astype(float)
    return pd.DataFrame(cols)


def make_spec():
    themes, k = [], 0
    for t in range(5):
        issues = []
        for i in range(2):
            inds = {}
            for role, scaling in (("victims", "zscore"), ("locations", "minmax")):
                inds[role] = {"field": f"c{k:02d}", "scaling": scaling, "weight": 1 + k % 2}
                k += 1
            issues.append({"name": f"issue{t}{i}", "indicators": inds})
        themes.append({"name": f"theme{t}", "weight": 1 + t % 3, "issues": issues})
    return {"themes": themes}


def make_overlaps(zones, seed=7):
    """Zones in 10 bands; 5 % of them split 60/40 with the next area."""
    rng = np.random.default_rng(seed)
    area = np.arange(zones) * N_AREAS // zones
    split = rng.random(zones) < 0.05
    nxt = np.minimum(area + 1, N_AREAS - 1)
    split &= nxt != area
    zone = np.concatenate([np.arange(zones), np.flatnonzero(split)])
    areas = np.concatenate([area, nxt[split]])
    frac = np.concatenate([np.where(split, 0.6, 1.0), np.full(int(split.sum()), 0.4)])
    return pd.DataFrame({"zone": zone, "area": areas, "fraction": frac})


def run(size="large"):
    from composite_index_plugin.core.assessment import summarise_areas
    from composite_index_plugin.core.index import build_index
    from composite_index_plugin.core.periods import compare_periods
    from composite_index_plugin.core.sensitivity import run_sensitivity

    if size in SIZES:
        zones, runs = SIZES[size]
    else:
        z, _, r = str(size).partition("x")
        zones, runs = int(z), int(r or 100)
    df = make_data(zones)
    spec = make_spec()
    overlaps = make_overlaps(zones)
    names = [f"Area {a}" for a in range(N_AREAS)]
    rows = []

    t0 = time.perf_counter()
    res = run_sensitivity(df, spec, runs=runs, seed=1, concentration=20.0,
                          scalings=["zscore", "minmax", "rank"], area_names=names,
                          overlaps=overlaps, population=df["population"].to_numpy())
    t_mc = time.perf_counter() - t0
    z = res.zones
    width = float((z["rank_p95"] - z["rank_p05"]).median())
    rows.append({
        "case": f"sensitivity {runs:,} runs x {zones:,} zones x 20 indicators",
        "what": "core time", "value": round(t_mc, 2), "unit": "s",
        "target": "reported (small: < 30 s)",
        "note": f"{t_mc / runs * 1000:.0f} ms per run (each a full build_index); "
                f"{int(z['robust_priority'].sum())} robust priorities; median 5-95 % rank "
                f"width {width:.0f}; {N_AREAS} areas ranked per run"})

    # grid jitter: the zones laid out as a square grid of 100 m cells
    from composite_index_plugin.core.sensitivity import SquareGridJitter

    width = int(np.ceil(np.sqrt(zones)))
    col, row = np.arange(zones) % width, np.arange(zones) // width
    fields = list(df.columns)
    jitter = SquareGridJitter(col * 100.0, row * 100.0, col * 100.0 + 100, row * 100.0 + 100,
                              100.0, 0.0, 0.0, df[fields], fields, size_jitter=0.25)
    j_runs = max(runs // 5, 1)
    t0 = time.perf_counter()
    res_j = run_sensitivity(df, spec, runs=j_runs, seed=1, concentration=20.0, jitter=jitter)
    t_j = time.perf_counter() - t0
    zj = res_j.zones
    rows.append({
        "case": f"sensitivity + grid jitter {j_runs:,} runs x {zones:,} cells",
        "what": "core time", "value": round(t_j, 2), "unit": "s", "target": "",
        "note": f"{t_j / j_runs * 1000:.0f} ms per run (re-apportion + build_index); median "
                f"5-95 % rank width {float((zj['rank_p95'] - zj['rank_p05']).median()):.0f}"})

    # the same on a pointy-top hexagon grid of 100 m cells (SampledGridJitter: 54 quadrature
    # points per cell, binned onto each jittered hexagon grid)
    from composite_index_plugin.core.sensitivity import SampledGridJitter

    hr = np.arange(zones) // width
    hq = np.arange(zones) % width - hr // 2  # offset rows -> axial q/r
    t0 = time.perf_counter()
    hjit = SampledGridJitter.from_cells("hex_pointy", 100.0, 0.0, 0.0, hq, hr, df[fields],
                                        fields, size_jitter=0.25)
    t_build = time.perf_counter() - t0
    rng = np.random.default_rng(5)
    t0 = time.perf_counter()
    for _ in range(5):
        hjit.reapportion(*hjit.draw(rng))
    t_re = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    res_h = run_sensitivity(df, spec, runs=j_runs, seed=1, concentration=20.0, jitter=hjit)
    t_h = time.perf_counter() - t0
    zh = res_h.zones
    rows.append({
        "case": f"sensitivity + hexagon grid jitter {j_runs:,} runs x {zones:,} cells",
        "what": "core time", "value": round(t_h, 2), "unit": "s", "target": "",
        "note": f"{t_h / j_runs * 1000:.0f} ms per run, of which re-apportion "
                f"{t_re * 1000:.0f} ms ({len(hjit.sx):,} sample points); sampler built in "
                f"{t_build:.2f} s; median 5-95 % rank width "
                f"{float((zh['rank_p95'] - zh['rank_p05']).median()):.0f}"})

    table = build_index(df, spec).table
    zones_df = pd.concat([df[["population"]], table], axis=1)
    t0 = time.perf_counter()
    summary = summarise_areas(zones_df, overlaps, names, population="population",
                              themes={f"theme{t}": f"theme{t}_idx" for t in range(5)},
                              issues={f"issue{t}{i}": f"issue{t}{i}_idx" for t in range(5)
                                      for i in range(2)})
    t_sum = time.perf_counter() - t0
    rows.append({"case": f"summarise_areas {zones:,} zones, {N_AREAS} areas",
                 "what": "core time", "value": round(t_sum, 3), "unit": "s", "target": "",
                 "note": f"{len(summary.table)} rows incl. the whole study area"})

    rng = np.random.default_rng(3)
    ids = np.array([f"S100_r{i // 200}_c{i % 200}" for i in range(zones)], dtype=object)
    frames = []
    for _ in range(5):
        frames.append(pd.DataFrame({
            "cell_id": ids, "ci_score": table["ci_score"].to_numpy() + rng.normal(0, 0.2, zones),
            "gi_bin": rng.choice([-3, -2, -1, 0, 0, 0, 1, 2, 3], zones),
            "gi_z": rng.normal(0, 2, zones), "population": df["population"].to_numpy()}))
    t0 = time.perf_counter()
    comp = compare_periods(frames, comparable=True, area_names=names, overlaps=overlaps)
    t_cmp = time.perf_counter() - t0
    rows.append({"case": f"compare_periods 5 periods x {zones:,} zones",
                 "what": "core time", "value": round(t_cmp, 3), "unit": "s", "target": "",
                 "note": f"Mann-Kendall + emerging categories; "
                         f"{comp.zones['emerging'].nunique()} categories seen"})
    return rows


if __name__ == "__main__":
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "small"):
        print(row)
