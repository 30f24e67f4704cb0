"""Full vectors against PySAL's esda 2.9.0 / libpysal 4.14.1, run in the separate reference venv
``.venv-ref`` (``scripts/setup_ref.sh``) through a subprocess, inputs and outputs as JSON.

Compared to 1e-8: Gi* (``G_Local(star=True, transform='B')``: G, E, V, z and p), local Moran's I
(``Moran_Local``: I, the two sets of analytic moments, quadrants), global Moran's I and General G,
on columbus with its shipped .gal, on distance bands over columbus centroids and on 5 nearest
neighbours; the distance-band and k-nearest graphs themselves are compared to libpysal's.

Permutations: esda's ``p_sim`` is not ours, by design. It is one-tailed, ``(min(larger, P -
larger) + 1) / (P + 1)`` with ``larger = #(sim >= obs)``, so its lower tail ``#(sim < obs)``
leaves ties out; ours is two-sided with ties in both tails (``core.hotspots`` docstring). So the
tests check (1) that esda's ``p_sim`` is that formula of the counts of its own simulations,
(2) that on the same counts our p is ``min(1, 2 min(p_lower, p_upper))`` and esda's is
``min(p_upper, p_lower - ties / (P + 1))`` (equal to half of ours where nothing ties), and
(3) that our permutation engine and esda's, with different random draws, give the same two-sided
p within Monte Carlo error, on columbus and on sparse West Yorkshire robbery counts, where esda's
p_sim calls 867 of 1,388 LSOAs 99 % cold spots and the two-sided p none.
"""
import json
import os
import subprocess

import numpy as np
import pytest

from composite_index_plugin.core import hotspots as hs
from composite_index_plugin.core.neighbours import (
    distance_band,
    knn,
    min_band_all_have_neighbour,
    read_gal,
)
from tests.reference import REF_PY, require_reference

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PYSAL = os.path.join(ROOT, "tests", "data", "pysal")
GAL = os.path.join(PYSAL, "columbus", "columbus.gal")

REFERENCE = r'''
import json, sys, warnings
import numpy as np
import libpysal
from libpysal.weights import W, DistanceBand, KNN
import esda

warnings.simplefilter("ignore")
cases = json.load(sys.stdin)
out = []
for case in cases:
    y = np.asarray(case["y"], dtype=float)
    coords = np.asarray(case["coords"], dtype=float) if case.get("coords") else None

    def weights():
        if case.get("gal"):
            return libpysal.io.open(case["gal"]).read()
        if case.get("band"):
            return DistanceBand(coords, threshold=case["band"], binary=True, silence_warnings=True)
        return KNN(coords, k=case["k"])

    w = weights()
    lists = [sorted(int(w.id_order.index(j)) for j in w.neighbors[i]) for i in w.id_order]
    gl = esda.G_Local(y, weights(), transform="B", star=True, permutations=0)
    ml = esda.Moran_Local(y, weights(), transformation="r", permutations=0)
    mg = esda.Moran(y, weights(), transformation="r", permutations=0, two_tailed=True)
    wb = weights()
    wb.transform = "B"
    gg = esda.G(y, wb, permutations=0)
    out.append({
        "lists": lists,
        "G": gl.Gs.tolist(), "EG": gl.EGs.tolist(), "VG": gl.VGs.tolist(), "Zs": gl.Zs.tolist(),
        "p_norm": gl.p_norm.tolist(),
        "Is": ml.Is.tolist(), "EI": ml.EI.tolist(), "VI": ml.VI.tolist(),
        "EIc": ml.EIc.tolist(), "VIc": ml.VIc.tolist(), "q": ml.q.tolist(),
        "moran": [mg.I, mg.EI, mg.z_norm, mg.p_norm, mg.z_rand, mg.p_rand],
        "general_g": [gg.G, gg.EG, gg.z_norm, gg.p_norm],
    })
json.dump(out, sys.stdout)
'''


PERMUTATION_REFERENCE = r'''
import json, sys, warnings
import numpy as np
from libpysal.weights import W
import esda

warnings.simplefilter("ignore")
def counts(obs, sims):
    # our counting (ties within 1e-10 of the scale count in both tails) and esda's "larger"
    tol = 1e-10 * max(float(np.abs(sims).max()), float(np.abs(obs).max()), 1e-300)
    return {"ge": (sims >= obs[:, None] - tol).sum(1).tolist(),
            "le": (sims <= obs[:, None] + tol).sum(1).tolist(),
            "larger": (sims >= obs[:, None]).sum(1).tolist()}

out = []
for case in json.load(sys.stdin):
    y = np.asarray(case["y"], dtype=float)
    P = case["permutations"]

    def weights():
        return W({i: list(nb) for i, nb in enumerate(case["lists"])}, silence_warnings=True)

    gl = esda.G_Local(y, weights(), transform="B", star=True, permutations=P, seed=case["seed"],
                      keep_simulations=True, n_jobs=1)
    ml = esda.Moran_Local(y, weights(), transformation="r", permutations=P, seed=case["seed"],
                          keep_simulations=True, n_jobs=1)
    out.append({"G": dict(counts(gl.Gs, gl.rGs), p_sim=np.asarray(gl.p_sim, float).tolist(),
                          z=gl.Zs.tolist()),
                "I": dict(counts(ml.Is, ml.rlisas), p_sim=np.asarray(ml.p_sim, float).tolist(),
                          z=ml.z_sim.tolist())})
json.dump(out, sys.stdout)
'''


def run_reference(cases, script=REFERENCE):
    require_reference()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([REF_PY, "-c", script], input=json.dumps(cases), text=True,
                          capture_output=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def columbus():
    with open(os.path.join(PYSAL, "columbus", "columbus.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    props = [f["properties"] for f in data["features"]]
    cx, cy = [], []
    for f in data["features"]:
        geom = f["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        a_sum = x_sum = y_sum = 0.0
        for poly in polys:
            for ring in poly:
                r = np.asarray(ring, dtype=float)
                x0, y0, x1, y1 = r[:-1, 0], r[:-1, 1], r[1:, 0], r[1:, 1]
                cross = x0 * y1 - x1 * y0
                a_sum += cross.sum() / 2
                x_sum += ((x0 + x1) * cross).sum() / 6
                y_sum += ((y0 + y1) * cross).sum() / 6
        cx.append(x_sum / a_sum)
        cy.append(y_sum / a_sum)
    return props, np.array(cx), np.array(cy)


def compare(ours_nb, y, ref):
    assert [sorted(a) for a in ours_nb.to_lists()] == ref["lists"]
    gi = hs.gi_star_stats(y, ours_nb)
    for key, ref_key in (("G", "G"), ("EG", "EG"), ("VG", "VG"), ("z", "Zs")):
        np.testing.assert_allclose(gi[key], ref[ref_key], rtol=0, atol=1e-8, err_msg=key)
    # esda's p_norm for local G is one-sided; ours is two-sided
    np.testing.assert_allclose(gi["p"], 2 * np.asarray(ref["p_norm"]), rtol=0, atol=1e-8)
    lm = hs.local_moran_stats(y, ours_nb)
    for key, ref_key in (("I", "Is"), ("EI", "EI"), ("VI", "VI"), ("EIc", "EIc"), ("VIc", "VIc")):
        np.testing.assert_allclose(lm[key], ref[ref_key], rtol=0, atol=1e-8, err_msg=key)
    assert lm["q"].tolist() == ref["q"]
    m = hs.global_moran(y, ours_nb)
    I, EI, z_norm, p_norm, z_rand, p_rand = ref["moran"]
    assert m["I"] == pytest.approx(I, abs=1e-10)
    assert m["EI"] == pytest.approx(EI, abs=1e-12)
    assert m["z_norm"] == pytest.approx(z_norm, abs=1e-8)
    assert m["p_norm"] == pytest.approx(p_norm, abs=1e-8)
    assert m["z_rand"] == pytest.approx(z_rand, abs=1e-8)
    assert m["p_rand"] == pytest.approx(p_rand, abs=1e-8)
    g = hs.general_g(y, ours_nb)
    G, EG, z, p_one = ref["general_g"]
    assert g["G"] == pytest.approx(G, abs=1e-10)
    assert g["EG"] == pytest.approx(EG, abs=1e-12)
    assert g["z"] == pytest.approx(z, abs=1e-8)
    assert g["p_one_sided"] == pytest.approx(p_one, abs=1e-8)


@pytest.fixture(scope="module")
def reference_results():
    props, cx, cy = columbus()
    coords = np.column_stack([cx, cy]).tolist()
    crime = [p["CRIME"] for p in props]
    hoval = [p["HOVAL"] for p in props]
    band = min_band_all_have_neighbour(cx, cy)
    cases = [
        {"y": crime, "gal": GAL},
        {"y": hoval, "gal": GAL},
        {"y": crime, "coords": coords, "band": band},
        {"y": crime, "coords": coords, "band": band * 1.6},
        {"y": hoval, "coords": coords, "k": 5},
    ]
    return cases, run_reference(cases), (cx, cy)


@pytest.mark.parametrize("which", [0, 1])
def test_columbus_with_its_gal(reference_results, which):
    cases, refs, _ = reference_results
    nb, _ = read_gal(GAL)
    compare(nb, np.asarray(cases[which]["y"]), refs[which])


@pytest.mark.parametrize("which", [2, 3])
def test_columbus_distance_bands(reference_results, which):
    cases, refs, (cx, cy) = reference_results
    nb = distance_band(cx, cy, cases[which]["band"])
    compare(nb, np.asarray(cases[which]["y"]), refs[which])


def test_columbus_five_nearest(reference_results):
    cases, refs, (cx, cy) = reference_results
    compare(knn(cx, cy, 5), np.asarray(cases[4]["y"]), refs[4])


def test_analyse_outputs_follow_esda(reference_results):
    cases, refs, _ = reference_results
    nb, _ = read_gal(GAL)
    res = hs.analyse(np.asarray(cases[0]["y"]), nb)
    np.testing.assert_allclose(res.gi_z, refs[0]["Zs"], atol=1e-8)
    np.testing.assert_allclose(res.lisa_i, refs[0]["Is"], atol=1e-8)


# -- permutations -------------------------------------------------------------------------------
def west_yorkshire_robbery():
    import pandas as pd

    from tests.core.test_hotspot_calibration import WY, west_yorkshire_lsoas

    codes, nb = west_yorkshire_lsoas()
    crimes = pd.read_csv(os.path.join(WY, "2016-07-west-yorkshire-street.csv"),
                         usecols=["LSOA code", "Crime type"])
    rob = crimes[crimes["Crime type"] == "Robbery"]["LSOA code"].value_counts()
    return rob.reindex(codes, fill_value=0).to_numpy(float), nb


@pytest.fixture(scope="module")
def permutation_reference():
    nb_c, _ = read_gal(GAL)
    props, _, _ = columbus()
    crime = np.array([p["CRIME"] for p in props], dtype=float)
    rob, nb_w = west_yorkshire_robbery()
    cases = [(crime, nb_c, 9999), (rob, nb_w, 999)]
    refs = run_reference([{"y": y.tolist(), "lists": nb.to_lists(), "permutations": P, "seed": 7}
                          for y, nb, P in cases], PERMUTATION_REFERENCE)
    return cases, refs


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("stat", ["G", "I"])
def test_esda_p_sim_against_our_two_sided_p_on_the_same_counts(permutation_reference, which, stat):
    P, ref = permutation_reference[0][which][2], permutation_reference[1][which][stat]
    ge, le, larger = (np.asarray(ref[k]) for k in ("ge", "le", "larger"))
    p_sim = np.asarray(ref["p_sim"])
    # (1) esda's p_sim is its one-tailed fold of "larger" (float32 in esda's parallel code)
    np.testing.assert_allclose(p_sim, (np.minimum(larger, P - larger) + 1) / (P + 1), rtol=1e-6)
    assert np.all(ge >= larger)            # exact ">=" can only miss ties lost to float noise
    ties = ge + le - P
    assert np.all(ties >= 0)
    # (2) on the same counts
    lower, upper = hs.tail_p(ge, le, P)
    ours = hs.permutation_p(ge, le, P)
    np.testing.assert_allclose(ours, np.minimum(1, 2 * np.minimum(lower, upper)), rtol=0, atol=1e-15)
    if stat == "G":                        # esda counted these ties itself
        np.testing.assert_allclose(p_sim, np.minimum(upper, lower - ties / (P + 1)), rtol=1e-6)
        free = ties == 0
        np.testing.assert_allclose(ours[free], np.minimum(1, 2 * p_sim[free]), rtol=1e-6)
    if which == 0:
        # columbus CRIME is continuous: ties only where a zone with 1 or 2 neighbours drew its own
        # neighbours again (1 in 48 or 1 in 1,128 permutations)
        assert int(np.sum(ties > 0)) <= 8 and ties.max() <= 0.002 * P
    else:
        assert int(np.sum(ties > 0)) > 1300     # sparse robbery: nearly every LSOA has ties


@pytest.mark.parametrize("which", [0, 1])
def test_our_permutations_agree_with_esdas(permutation_reference, which):
    (y, nb, P), ref = permutation_reference[0][which], permutation_reference[1][which]
    res = hs.analyse(y, nb, permutations=P, seed=11, fdr=False)
    for stat, ours in (("G", res.gi_p), ("I", res.lisa_p)):
        theirs = hs.permutation_p(np.asarray(ref[stat]["ge"]), np.asarray(ref[stat]["le"]), P)
        diff = np.abs(ours - theirs)
        # Monte Carlo error of a two-sided p: 2 sqrt(p (1 - p) / P), at most 1 / sqrt(P)
        assert diff.mean() < 2.0 / np.sqrt(P) * 0.5, stat
        assert diff.max() < 4.0 / np.sqrt(P), stat
    z = np.asarray(ref["G"]["z"])
    np.testing.assert_allclose(res.gi_z, z, atol=1e-8)
    p_sim = np.asarray(ref["G"]["p_sim"])
    if which == 1:
        # esda's one-tailed p_sim without ties: 867 "99 % cold spots" on robbery; ours: none
        assert int(np.sum((p_sim < 0.01) & (z < 0))) == 867
        assert int(np.sum(res.gi_bin < 0)) == 0
