"""The synthetic generator: seeded, sized, and shaped like crime data."""
import numpy as np
import pytest

from composite_index_plugin.core import synth
from composite_index_plugin.core.errors import CompositeIndexError


def _square(x0, y0, size):
    return np.array([[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]],
                    float)


@pytest.fixture(scope="module")
def zones():
    # four 10 km squares: two well-off (crime score -1), two deprived (+1), the same population
    rings = [[_square(x, y, 10_000)] for x in (0, 10_000) for y in (0, 10_000)]
    outline = [_square(0, 0, 20_000)]
    return synth.Zones(rings, [5000, 5000, 5000, 5000], [-1.0, 1.0, -1.0, 1.0], outline)


SPOT = synth.Hotspot("test", 5_000, 5_000, 200, ("burglary",), 0.3, years=(2025,))


def test_same_seed_same_points_and_size_is_respected(zones):
    a = synth.generate(zones, size=20_000, seed=3, year=2024, hotspots=())
    b = synth.generate(zones, size=20_000, seed=3, year=2024, hotspots=())
    c = synth.generate(zones, size=20_000, seed=4, year=2024, hotspots=())
    for role in a:
        assert a[role].equals(b[role])
    assert not a["locations"].equals(c["locations"])
    total = sum(len(f) for f in a.values())
    assert 0.85 * 20_000 < total < 1.05 * 20_000
    assert set(a["locations"]["issue"]) == {i.name for i in synth.ISSUES}
    assert (a["locations"]["date"].dt.year == 2024).all()


def test_intensity_follows_deprivation(zones):
    loc = synth.generate(zones, size=40_000, seed=1, year=2024, hotspots=())["locations"]
    deprived = (loc["y"] >= 10_000).to_numpy()  # zones 1 and 3 have crime score +1
    share = deprived.mean()
    # mean intensity ratio exp(2k) with k between 0.3 and 0.7 across issues: 65% to 80% deprived
    assert 0.62 < share < 0.82


def test_hotspot_only_in_its_years(zones):
    def near(frame):
        b = frame[frame["issue"] == "burglary"]
        return int((np.hypot(b["x"] - 5_000, b["y"] - 5_000) < 400).sum())

    y24 = synth.generate(zones, size=30_000, seed=2, year=2024, hotspots=(SPOT,))["locations"]
    y25 = synth.generate(zones, size=30_000, seed=2, year=2025, hotspots=(SPOT,))["locations"]
    n_burglary = (y25["issue"] == "burglary").sum()
    # the planted cluster adds ~30% of burglaries, most of them within 2 sigma of the centre
    assert near(y25) > near(y24) + 0.15 * n_burglary


def test_journey_to_crime_and_residential_victims(zones):
    out = synth.generate(zones, size=60_000, seed=5, year=2024, hotspots=())
    loc = out["locations"].set_index("incident_id")
    off = out["offenders"]
    vic = out["victims"]
    for issue in synth.ISSUES:
        o = off[off["issue"] == issue.name]
        d = np.hypot(o["x"].to_numpy() - loc.loc[o["incident_id"], "x"].to_numpy(),
                     o["y"].to_numpy() - loc.loc[o["incident_id"], "y"].to_numpy())
        # gamma with the issue's mean, shortened a little by redrawing homes outside the area
        assert 0.6 * issue.journey_km * 1000 < np.median(d) / 0.78 < 1.3 * issue.journey_km * 1000
        v = vic[vic["issue"] == issue.name]
        dv = np.hypot(v["x"].to_numpy() - loc.loc[v["incident_id"], "x"].to_numpy(),
                      v["y"].to_numpy() - loc.loc[v["incident_id"], "y"].to_numpy())
        if issue.residential:
            assert np.percentile(dv, 99) < 40  # the victim's home is the scene
        else:
            assert np.median(dv) > 500
    inside = (off["x"].between(0, 20_000) & off["y"].between(0, 20_000)).mean()
    assert inside == 1.0


def test_unknown_size_is_refused(zones):
    with pytest.raises(CompositeIndexError, match="Unknown sample size"):
        synth.generate(zones, size="huge")
