"""Recipes for the Birmingham sample: one per year, written next to the sample data.

The second year compares with the first and reads its frozen baseline, so scores are on one
scale. Incident sources are the agency CSV files (imported and cleansed by the recipe), or with
``use_csv=False`` the clean synthetic GeoPackages.
"""
import json
import os

from composite_index_plugin.core import synth

YEARS = (2024, 2025)

# How each role is normalised in the sample: residents' rates smoothed by empirical Bayes (many
# cells have few residents), incident locations by volume (where the demand is).
ROLE_SETTINGS = {
    "victims": {"measure": "eb_rate_spatial", "per": 1000, "scaling": "zscore"},
    "offenders": {"measure": "eb_rate_spatial", "per": 1000, "scaling": "zscore"},
    "locations": {"measure": "volume", "scaling": "zscore"},
}


def _csv_sources(year):
    """How each agency file is imported (the import algorithm's parameters, in lowercase)."""
    base = "synthetic/agency_csv"
    common = {"preset": 0, "category_mapping": f"{base}/category_mapping.csv",
              "require_mapping": True}
    return {
        "locations": {"path": f"{base}/police_incidents_{year}.csv",
                      "import": dict(common, x_field="longitude", y_field="latitude",
                                     source_crs="EPSG:4326", date_field="date_reported",
                                     date_formats="%d/%m/%Y", category_field="category",
                                     fix_swapped=True, duplicate_fields="incident_ref")},
        "victims": {"path": f"{base}/council_victims_{year}.csv",
                    "import": dict(common, x_field="easting", y_field="northing",
                                   source_crs="EPSG:27700", date_field="date",
                                   date_formats="%Y-%m-%d", category_field="issue_type",
                                   duplicate_fields="case_ref", delimiter=2)},
        "offenders": {"path": f"{base}/probation_offenders_{year}.csv",
                      "import": dict(common, postcode_field="postcode",
                                     postcode_lookup=f"{base}/postcode_lookup.csv",
                                     source_crs="EPSG:27700", date_field="offence_date",
                                     date_formats="%d %b %Y", category_field="offence_category",
                                     duplicate_fields="offender_ref", encoding="cp1252")},
    }


def sample_recipe(year, out_folder, previous=None, use_csv=True):
    csv = _csv_sources(year)
    themes = []
    for theme_name, theme_label in synth.THEMES.items():
        issues = []
        for issue in synth.ISSUES:
            if issue.theme != theme_name:
                continue
            roles = {}
            for role, settings in ROLE_SETTINGS.items():
                if use_csv:  # the import stage adds the field "issue" from the category
                    src = csv[role]
                else:
                    src = {"path": f"synthetic/synthetic_{year}.gpkg", "layer": f"synthetic_{role}"}
                roles[role] = dict(settings, source=src, filter=f"\"issue\" = '{issue.name}'")
            issues.append({"name": issue.name, "label": issue.label, "roles": roles})
        themes.append({"name": theme_name, "label": theme_label, "issues": issues})
    recipe = {
        "recipe_version": 1,
        "name": f"Birmingham strategic assessment {year} (synthetic sample)",
        "description": "Synthetic incidents on real Birmingham boundaries, Census 2021 population "
                       "and IMD 2025. Not real crime data.",
        "period": str(year),
        "crs": "EPSG:27700",
        "study_area": {"source": {"path": "birmingham.gpkg", "layer": "study_area"}},
        "geography": {"type": "grid", "shape": "hexagon_flat", "size": 400, "origin": [0, 0]},
        "population": {"source": {"path": "birmingham.gpkg", "layer": "lsoa21"},
                       "field": "population"},
        "themes": themes,
        "aggregation": {"issue": "mean", "theme": "mean", "composite": "mean"},
        "hotspots": {"field": "ci_score", "neighbourhood": "queen", "permutations": 0, "fdr": True},
        "admin_areas": {"source": {"path": "birmingham.gpkg", "layer": "constituencies"},
                        "name_field": "Cnsttnc"},
        "output": {"folder": os.path.relpath(out_folder, os.path.dirname(out_folder))},
    }
    if previous is not None:
        prev_folder, prev_year = previous
        recipe["compare"] = {"previous": [{"path": f"{prev_folder}/results.gpkg",
                                           "layer": "hotspots"}],
                             "labels": [str(prev_year), str(year)]}
        recipe["baseline"] = {"read": f"{prev_folder}/baseline.json"}
        recipe["sensitivity"] = {"runs": 200, "seed": 7, "concentration": 20, "grid_jitter": True}
    return recipe


def for_few_points(recipe, size=1500):
    """``recipe`` (a sample recipe) made fit for the ``tiny`` sample: bigger cells and volumes
    rather than smoothed rates (with about 30 points an issue, empirical Bayes shrinks some
    rates to one constant, which the index refuses). Changes and returns ``recipe``."""
    recipe["geography"]["size"] = size
    for theme in recipe["themes"]:
        for issue in theme["issues"]:
            for role in issue["roles"].values():
                role["measure"] = "volume"
                role.pop("per", None)
    return recipe


def write_sample_recipes(input_folder, output_folder):
    """recipe_<year>.json in ``input_folder``; the first year writes to <output>/<year>, the last
    to <output> itself. Returns {year: path}."""
    paths = {}
    prev = None
    for k, year in enumerate(YEARS):
        last = k == len(YEARS) - 1
        out = output_folder if last else os.path.join(output_folder, str(year))
        rel_out = os.path.relpath(out, input_folder)
        recipe = sample_recipe(year, out, previous=prev)
        recipe["output"] = {"folder": rel_out}
        path = os.path.join(input_folder, f"recipe_{year}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(recipe, handle, indent=2)
        paths[year] = path
        prev = (rel_out, year)
    return paths
