"""Seeded generator of SYNTHETIC victims, offenders and incident locations.

Nothing made here is real crime data. It is built to look like crime data to the methods the
plugin applies, so the sample exercises every stage:

- Incident locations: an inhomogeneous Poisson process. Each zone (LSOA) gets a Poisson count
  with mean proportional to ``population * exp(k * crime_score)`` (the IMD crime domain score is
  a standardised measure of recorded crime risk), placed uniformly inside the zone; plus planted
  hotspots (Gaussian clusters) centred on points of constituency boundaries, so that they cross
  administrative lines.
- Offenders' homes: journey to crime. For the share of incidents with an identified offender,
  home = incident + a random bearing and a gamma-distributed distance (distance decay; e.g.
  Rossmo 2000, Townsley & Sidebottom 2010 for typical means of 1-3 km).
- Victims' homes: for residential crimes (burglary, domestic abuse) at the incident's address
  (a few metres of jitter); for others, half near the incident and half spread by population.

All coordinates are in the zones' projected CRS (EPSG:27700 for the Birmingham sample).
"""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.geometry import points_in_rings


@dataclass(frozen=True)
class IssueModel:
    name: str
    label: str
    theme: str
    share: float            # share of all incidents
    residential: bool       # victim lives where it happens
    deprivation: float      # k in exp(k * crime_score)
    identified: float       # share of incidents with a known offender
    journey_km: float       # mean journey-to-crime distance
    victim_known: float     # share of incidents with a victim's home address
    harm_days: float        # Cambridge-CHI-like harm weight (days of custody), mean
    police_type: str        # police.uk "Crime type" it is recorded under


THEMES = {
    "violence_vulnerability": "Violence and vulnerability",
    "acquisitive": "Acquisitive crime",
    "neighbourhood": "Neighbourhood crime and ASB",
}

ISSUES = (
    IssueModel("domestic_abuse", "Domestic abuse", "violence_vulnerability", 0.15, True, 0.7, 0.65,
               0.4, 0.95, 60.0, "Violence and sexual offences"),
    IssueModel("violence_injury", "Violence with injury", "violence_vulnerability", 0.16, False, 0.6,
               0.45, 1.8, 0.8, 150.0, "Violence and sexual offences"),
    IssueModel("hate_crime", "Hate crime", "violence_vulnerability", 0.04, False, 0.3, 0.3, 2.0, 0.85,
               30.0, "Public order"),
    IssueModel("burglary", "Residential burglary", "acquisitive", 0.12, True, 0.5, 0.12, 2.6, 1.0,
               90.0, "Burglary"),
    IssueModel("robbery", "Robbery", "acquisitive", 0.05, False, 0.6, 0.2, 2.2, 0.8, 365.0,
               "Robbery"),
    IssueModel("vehicle_crime", "Vehicle crime", "acquisitive", 0.11, False, 0.4, 0.08, 2.5, 0.9,
               20.0, "Vehicle crime"),
    IssueModel("asb", "Anti-social behaviour", "neighbourhood", 0.26, False, 0.6, 0.3, 1.0, 0.5, 5.0,
               "Anti-social behaviour"),
    IssueModel("criminal_damage", "Criminal damage and arson", "neighbourhood", 0.11, False, 0.5,
               0.18, 1.2, 0.9, 15.0, "Criminal damage and arson"),
)


@dataclass(frozen=True)
class Hotspot:
    name: str
    x: float
    y: float
    sigma: float                  # metres
    issues: tuple                 # issues it concentrates
    extra: float                  # extra incidents, as a share of each issue's count
    years: tuple = ()             # years active (empty = every year)
    note: str = ""


# Centres lie on constituency boundaries (found from the sample's polygons), so each hotspot
# crosses administrative lines.
BIRMINGHAM_HOTSPOTS = (
    Hotspot("ladywood_edgbaston", 406195, 285837, 350, ("violence_injury", "robbery", "asb"), 0.12,
            note="Ladywood / Edgbaston boundary, near the city centre"),
    Hotspot("ladywood_perry_barr", 404483, 289508, 300, ("burglary", "vehicle_crime", "hate_crime"),
            0.10, note="Ladywood / Perry Barr boundary"),
    Hotspot("ladywood_hodge_hill", 410355, 287307, 300,
            ("domestic_abuse", "violence_injury", "criminal_damage"), 0.10, years=(2024,),
            note="Ladywood / Hodge Hill boundary; gone in the second year"),
    Hotspot("selly_oak_hall_green", 408862, 281366, 300, ("burglary", "robbery"), 0.10,
            note="Selly Oak / Hall Green boundary"),
    Hotspot("erdington_sutton", 412479, 292742, 300, ("asb", "criminal_damage", "vehicle_crime"),
            0.12, years=(2025,), note="Erdington / Sutton Coldfield boundary; new in the second year"),
)

SIZES = {"tiny": 5_000, "default": 50_000, "large": 1_000_000}
# points per incident: 1 location + victim_known + identified (about 2 on average)
_POINTS_PER_INCIDENT = 1.0 + sum(i.share * (i.victim_known + i.identified) for i in ISSUES)


@dataclass
class Zones:
    """Polygons as plain arrays: ``rings[i]`` is a list of closed (n, 2) arrays (every ring of
    every part), with the zone's population and IMD crime-domain score."""

    rings: list
    population: np.ndarray
    crime_score: np.ndarray
    outline: list               # rings of the study area (the zones dissolved)
    bbox: np.ndarray = field(init=False)

    def __post_init__(self):
        self.population = np.asarray(self.population, dtype=float)
        self.crime_score = np.asarray(self.crime_score, dtype=float)
        self.bbox = np.array([[np.min([r[:, 0].min() for r in rs]), np.min([r[:, 1].min() for r in rs]),
                               np.max([r[:, 0].max() for r in rs]), np.max([r[:, 1].max() for r in rs])]
                              for rs in self.rings])


def sample_in_zones(zones, counts, rng):
    """``counts[i]`` uniform random points inside zone i. Returns x, y, zone index."""
    xs, ys, zs = [], [], []
    for i in np.flatnonzero(counts):
        need = int(counts[i])
        x0, y0, x1, y1 = zones.bbox[i]
        got_x, got_y = [], []
        while need > 0:
            m = max(16, int(need * 2.5))
            px = rng.uniform(x0, x1, m)
            py = rng.uniform(y0, y1, m)
            keep = points_in_rings(px, py, zones.rings[i])
            px, py = px[keep][:need], py[keep][:need]
            got_x.append(px)
            got_y.append(py)
            need -= len(px)
        xs.append(np.concatenate(got_x))
        ys.append(np.concatenate(got_y))
        zs.append(np.full(int(counts[i]), i))
    if not xs:
        return np.empty(0), np.empty(0), np.empty(0, dtype=int)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(zs)


def _in_study_area(zones, x, y):
    """True where a point lies inside the study area (the outline of all zones)."""
    return points_in_rings(x, y, zones.outline)


def _dates(rng, n, year):
    start = np.datetime64(f"{year}-01-01")
    days = (np.datetime64(f"{year + 1}-01-01") - start).astype(int)
    return start + rng.integers(0, days, n).astype("timedelta64[D]")


def generate(zones, size="default", seed=2024, year=2024, hotspots=BIRMINGHAM_HOTSPOTS,
             progress=None):
    """Synthetic locations, victims and offenders.

    Returns a dict of three DataFrames (``locations``, ``victims``, ``offenders``), each with
    columns ``x``, ``y``, ``incident_id``, ``issue``, ``theme``, ``date``, ``harm`` and
    ``crime_type``. ``size`` is a name from SIZES or a number of points (all three together).
    """
    total = SIZES.get(size, size) if isinstance(size, str) else int(size)
    if not isinstance(total, (int, np.integer)) or total <= 0:
        raise CompositeIndexError(f"Unknown sample size {size!r}.",
                                  f"Use one of {', '.join(SIZES)} or a positive number of points.")
    rng = np.random.default_rng([int(seed), int(year)])
    n_incidents = total / _POINTS_PER_INCIDENT / 1.12  # planted hotspots add about 12 %
    pop_p = zones.population / zones.population.sum()
    parts = {"locations": [], "victims": [], "offenders": []}
    next_id = 0
    for k, issue in enumerate(ISSUES):
        if progress is not None:
            progress.report(k / len(ISSUES))
        base = n_incidents * issue.share
        intensity = zones.population * np.exp(zones.crime_score * issue.deprivation)
        counts = rng.poisson(base * intensity / intensity.sum())
        lx, ly, _ = sample_in_zones(zones, counts, rng)
        for spot in hotspots:
            if issue.name in spot.issues and (not spot.years or year in spot.years):
                m = rng.poisson(base * spot.extra)
                hx = rng.normal(spot.x, spot.sigma, m)
                hy = rng.normal(spot.y, spot.sigma, m)
                inside = _in_study_area(zones, hx, hy)
                lx, ly = np.concatenate([lx, hx[inside]]), np.concatenate([ly, hy[inside]])
        n = lx.size
        ids = np.arange(next_id, next_id + n)
        next_id += n
        dates = _dates(rng, n, year)
        harm = np.round(rng.gamma(2.0, issue.harm_days / 2.0, n), 1)
        parts["locations"].append(_frame(lx, ly, ids, issue, dates, harm))

        # victims
        has_victim = rng.random(n) < issue.victim_known
        vi = np.flatnonzero(has_victim)
        if issue.residential:
            vx = lx[vi] + rng.normal(0, 8, vi.size)
            vy = ly[vi] + rng.normal(0, 8, vi.size)
        else:
            near = rng.random(vi.size) < 0.5
            vx, vy = _journey(rng, lx[vi], ly[vi], 1.0, zones)
            far = np.flatnonzero(~near)
            zone_pick = rng.choice(len(pop_p), size=far.size, p=pop_p)
            fx, fy, _ = sample_in_zones(zones, np.bincount(zone_pick, minlength=len(pop_p)), rng)
            order = rng.permutation(far.size)
            vx[far], vy[far] = fx[order], fy[order]
        parts["victims"].append(_frame(vx, vy, ids[vi], issue, dates[vi], harm[vi]))

        # offenders: journey to crime, distance decay
        oi = np.flatnonzero(rng.random(n) < issue.identified)
        ox, oy = _journey(rng, lx[oi], ly[oi], issue.journey_km, zones)
        parts["offenders"].append(_frame(ox, oy, ids[oi], issue, dates[oi], harm[oi]))
    if progress is not None:
        progress.report(1.0)
    return {role: pd.concat(frames, ignore_index=True) for role, frames in parts.items()}


def _journey(rng, x, y, mean_km, zones, tries=6):
    """Homes at a gamma-distributed distance (shape 1.5, given mean) and random bearing from
    (x, y), redrawn up to ``tries`` times while outside the study zones (then kept at the
    incident: a local resident)."""
    hx, hy = x.copy(), y.copy()
    todo = np.arange(x.size)
    for _ in range(tries):
        if todo.size == 0:
            break
        d = rng.gamma(1.5, mean_km * 1000.0 / 1.5, todo.size)
        t = rng.uniform(0, 2 * np.pi, todo.size)
        cx, cy = x[todo] + d * np.cos(t), y[todo] + d * np.sin(t)
        ok = _in_study_area(zones, cx, cy)
        hx[todo[ok]], hy[todo[ok]] = cx[ok], cy[ok]
        todo = todo[~ok]
    return hx, hy


def _frame(x, y, ids, issue, dates, harm):
    return pd.DataFrame({"x": np.round(x, 1), "y": np.round(y, 1), "incident_id": ids,
                         "issue": issue.name, "theme": issue.theme, "date": dates, "harm": harm,
                         "crime_type": issue.police_type})
