"""A quick start from police.uk data: the recipe `compositeindex:newrecipe` writes.

Everything here is pure Python/pandas: the themes the police.uk crime types are grouped into,
the period label of a month range, guesses of the fields of boundaries and population tables,
and the recipe itself (a dict the model accepts). The algorithm reads the archive and the
layers, writes the areas, and calls :func:`recipe_for`.

The themes (``THEMES``) group the 14 police.uk crime types so that each theme means one thing
to a partnership board:

* **Neighbourhood crime** - burglary, robbery, vehicle crime, theft from the person: the crimes
  the Home Office counts as "neighbourhood crime" (Beating Crime Plan, 2021: domestic burglary,
  personal robbery, theft of and from vehicles, theft from the person). police.uk's types are
  wider (burglary and robbery include business premises) but are the nearest it publishes.
* **Violence and vulnerability** - violence and sexual offences, possession of weapons, drugs:
  harm to people, and the weapons and drug markets the Serious Violence Duty (Police, Crime,
  Sentencing and Courts Act 2022) asks partnerships to address together.
* **Other acquisitive crime** - shoplifting, bicycle theft, other theft.
* **Anti-social behaviour and disorder** - anti-social behaviour, criminal damage and arson,
  public order, other crime: what makes a place feel unsafe and uncared for. Without
  anti-social behaviour (``newrecipe``'s ASB unticked) the theme is called **Criminal damage and
  disorder**: a page should not name a theme after incidents it does not count.

Every issue is counted where it happens (``locations``) from the archive's ``issue`` field (the
import maps police.uk's crime types to these names), all in one pass. The analyst then edits the
recipe: drops or regroups issues, changes weights, adds victims or offenders layers.
"""
import os
import re

from composite_index_plugin.core import cleanse
from composite_index_plugin.core.errors import CompositeIndexError
from composite_index_plugin.core.policeuk import area_of_name

# (name, label, issues): the police.uk preset's issue names (resources/presets/)
THEMES = (
    ("neighbourhood_crime", "Neighbourhood crime",
     ("burglary", "robbery", "vehicle_crime", "theft_from_the_person")),
    ("violence_vulnerability", "Violence and vulnerability",
     ("violence_sexual_offences", "possession_of_weapons", "drugs")),
    ("other_acquisitive", "Other acquisitive crime",
     ("shoplifting", "bicycle_theft", "other_theft")),
    ("asb_disorder", "Anti-social behaviour and disorder",
     ("anti_social_behaviour", "criminal_damage_arson", "public_order", "other_crime")),
)
ASB = "anti_social_behaviour"
ASB_THEME, LABEL_WITHOUT_ASB = "asb_disorder", "Criminal damage and disorder"
GRID_SIZE = 250
SENSITIVITY_RUNS = 100
STUDY_BUFFER = 50.0

_CODE_NAMES = re.compile(r"^(lsoa|msoa|oa|dz|sa|datazone)\d*(cd|code)$", re.IGNORECASE)
_NAME_NAMES = re.compile(r"^(lsoa|msoa|oa|dz|sa|datazone)\d*(nm|name)$", re.IGNORECASE)
COUNT_NAMES = ("persons", "all usual residents", "usual residents", "population", "total",
               "all persons", "obs_value", "count", "value")


def theme_of(issue):
    """The theme (name) an issue of the police.uk preset belongs to, or None."""
    for name, _label, issues in THEMES:
        if issue in issues:
            return name
    return None


def period_label(first, last):
    """How a month range is called (and read back by ``core.policeuk.months_of_period``):
    ``2018-07``, ``2018`` (January-December), ``2018/19`` (April-March) or ``2016-07 to
    2017-07``."""
    if first == last:
        return first
    y1, m1, y2, m2 = int(first[:4]), int(first[5:7]), int(last[:4]), int(last[5:7])
    if y1 == y2 and m1 == 1 and m2 == 12:
        return str(y1)
    if y2 == y1 + 1 and m1 == 4 and m2 == 3:
        return f"{y1}/{str(y2)[2:]}"
    return f"{first} to {last}"


def force_title(forces):
    """``["west-yorkshire"]`` -> ``"West Yorkshire"``; several forces joined by "and"."""
    names = [" ".join(w.capitalize() if w not in ("and", "of") else w for w in f.split("-"))
             for f in forces]
    return " and ".join(names) if names else "police.uk"


def best_match(columns, wanted, pattern=None):
    """The column of ``columns`` ({name: values}) holding most of the ``wanted`` values, with
    the number it holds; ties go to a name matching ``pattern``. ``(None, 0)`` when none."""
    wanted = {str(w).strip() for w in wanted if str(w).strip()}
    best, hits = None, 0
    for name, values in columns.items():
        n = len(wanted & {str(v).strip() for v in values})
        if n > hits or (n == hits and n and pattern is not None and pattern.match(name)
                        and not pattern.match(best)):
            best, hits = name, n
    return best, hits


def guess_boundary_fields(columns, codes, names):
    """``(code field, name field)`` of small-area boundaries ({field: values}) from the crimes'
    LSOA codes and names (the fields holding most of them); None when no field holds any."""
    code, n_code = best_match(columns, codes, _CODE_NAMES)
    name, n_name = best_match({k: v for k, v in columns.items() if k != code}, names, _NAME_NAMES)
    return (code if n_code else None), (name if n_name else None)


def read_csv_columns(path):
    """A delimited table's columns as {name: values} (text), through the importer's reader
    (``cleanse.read_table``: encoding and delimiter detected; an empty file is refused there);
    a repeated name keeps its first column under that name."""
    frame, _info = cleanse.read_table(path)
    return {c: frame[c].tolist() for c in frame.columns if c != cleanse.ROW_PROBLEM}


def guess_table_fields(columns, codes, key=None, field=None):
    """``(key, field)`` of a population table ({column: values}): the column holding most of
    the boundaries' ``codes``, and the count column (``field``, else the first whose name is a
    usual one: Persons, All usual residents, population, total...). Raises with the columns
    when a guess fails."""
    names = ", ".join(f"'{c}'" for c in columns)
    if key is None:
        key, hits = best_match(columns, codes)
        if not hits:
            raise CompositeIndexError(
                "No column of the population table holds the small areas' codes.",
                hint=f"Name the table's area code column (POPULATION_KEY); columns: {names}.")
    elif key not in columns:
        raise CompositeIndexError(f"The population table has no column '{key}'.",
                                  hint=f"Columns: {names}.")
    if field is None:
        field = cleanse.find_column(columns, COUNT_NAMES)
        if field is None:
            raise CompositeIndexError(
                "Cannot tell which column of the population table holds the count.",
                hint=f"Name it (POPULATION_FIELD); columns: {names}.")
    elif field not in columns:
        raise CompositeIndexError(f"The population table has no column '{field}'.",
                                  hint=f"Columns: {names}.")
    return key, field


def districts(names):
    """District of each small-area name (``Leeds 001A`` -> ``Leeds``; ``core.policeuk``)."""
    return area_of_name(names)


def relative(path, folder):
    """``path`` relative to ``folder`` with / separators when they share more than the root
    (else, or on another drive, the absolute path)."""
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    try:
        common = os.path.commonpath([path, folder])
    except ValueError:   # another drive
        return path
    if os.path.dirname(common) == common:   # only the root (or the drive) in common
        return path
    return os.path.relpath(path, folder).replace(os.sep, "/")


def recipe_for(archive, months, forces, issues, study_area, grid_size=GRID_SIZE,
               shape="hexagon_flat", crs="EPSG:27700", admin_areas=None, population=None,
               previous=None, previous_label=None, runs=SENSITIVITY_RUNS,
               buffer=STUDY_BUFFER, output_folder="output", labels=None, title=None):
    """The recipe (a dict) of a police.uk quick start.

    ``archive``: the archive's path as the recipe names it; ``months``: (first, last);
    ``forces``: the forces read (None = all); ``issues``: the issue names to count, in any order
    (each goes to its theme in ``THEMES``; issues of no theme go to a theme "other");
    ``study_area`` / ``admin_areas``: ``{"path", "layer"[, "name_field"]}``; ``population``:
    ``{"path", "layer", "source_key", "table", "table_key", "table_field"}``; ``previous``: an
    earlier period's results.gpkg (as the recipe names it) to compare with; ``labels``: issue
    name -> label; ``title``: who the data is of (default: the forces).
    """
    labels = labels or {}
    first, last = months
    period = period_label(first, last)
    source = {"path": archive, "import": {"preset": "police.uk"}}
    if forces:
        source["import"]["forces"] = list(forces)
    themes = []
    groups = [(n, lab, [i for i in iss if i in issues]) for n, lab, iss in THEMES]
    other = [i for i in issues if theme_of(i) is None]
    if other:
        groups.append(("other", "Other", other))
    for name, label, members in groups:
        if not members:
            continue
        if name == ASB_THEME and ASB not in members:
            label = LABEL_WITHOUT_ASB
        themes.append({"name": name, "label": label, "issues": [
            {"name": i, "label": labels.get(i, i.replace("_", " ").capitalize()),
             "roles": {"locations": {"source": source, "category_field": "issue"}}}
            for i in members]})
    doc = {
        "recipe_version": 1,
        "name": f"{title or force_title(forces or [])} {period}",
        "description": "Written by compositeindex:newrecipe from a police.uk archive: every crime "
                       "type counted where it happens, in one pass, grouped into themes. Edit it: "
                       "the months follow 'period' (or give import.months), drop or regroup "
                       "issues, change weights, add victims or offenders layers.",
        "period": period,
        "crs": crs,
        "study_area": {"source": {"path": study_area["path"], "layer": study_area["layer"]},
                       "buffer": int(buffer) if float(buffer).is_integer() else buffer},
        "geography": {"type": "grid", "shape": shape, "size": grid_size},
    }
    if population is not None:
        doc["population"] = {
            "source": {"path": population["path"], "layer": population["layer"]},
            "source_key": population["source_key"],
            "table": {"path": population["table"]},
            "table_key": population["table_key"], "table_field": population["table_field"]}
    doc["themes"] = themes
    if admin_areas is not None:
        doc["admin_areas"] = {"source": {"path": admin_areas["path"],
                                         "layer": admin_areas["layer"]},
                              "name_field": admin_areas["name_field"]}
    if previous:
        doc["compare"] = {"previous": [{"path": previous, "layer": "hotspots"}]}
        if previous_label:
            doc["compare"]["labels"] = [previous_label, period]
    doc["sensitivity"] = {"runs": runs}
    doc["output"] = {"folder": output_folder}
    return doc
