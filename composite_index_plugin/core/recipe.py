"""The recipe: one versioned JSON document describing a whole assessment, and its validator.

``validate_recipe`` checks the document's structure and every choice it makes and returns ALL
problems at once, each with its JSON path, what is wrong and how to fix it. Whether files, layers
and fields exist is checked by the Processing glue (it needs OGR / QGIS), also before any work.
See docs/recipe.md for the schema.
"""
import json
import os
import re
from dataclasses import dataclass

RECIPE_VERSION = 1
ROLES = ("victims", "offenders", "locations")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
GRID_SHAPES = {"square": 0, "hexagon_flat": 1, "hexagon_pointy": 2}
GRID_KEEP = {"intersects": 0, "centre": 1, "clip": 2}
NEIGHBOURHOODS = {"queen": 0, "rook": 1, "distance": 2, "knn": 3, "automatic": 4}

# Defaults for an indicator (a role of an issue) where the recipe is silent.
ROLE_DEFAULTS = {"measure": "volume", "scaling": "zscore", "direction": "higher_is_worse",
                 "weight": 1.0, "missing": "zero"}

# A database source names a stored QGIS connection or a pg_service.conf service, never a password.
DATABASE_KEYS = {"connection", "service", "schema", "table", "geometry_column", "key_column", "sql",
                 "srid", "geometry_type"}
_SOURCE_KEYS = {"path", "layer", "project_layer", "uri", "provider", "import"} | DATABASE_KEYS
_SOURCE_KINDS = ("path", "project_layer", "uri", "connection", "service")
_PASSWORD_RE = re.compile(r"(^|\s)password\s*=", re.IGNORECASE)
_TOP_KEYS = {"recipe_version", "name", "description", "period", "crs", "study_area", "geography",
             "population", "themes", "aggregation", "hotspots", "admin_areas", "baseline",
             "gap", "compare", "sensitivity", "layout", "output"}
_THEME_KEYS = {"name", "label", "weight", "issues"}
_ISSUE_KEYS = {"name", "label", "weight", "roles"}
_ROLE_KEYS = {"source", "filter", "weight_field", "measure", "denominator", "per", "scaling",
              "direction", "weight", "missing", "options", "kde_bandwidth"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a recipe or spec: where (JSON path), what, and how to fix it."""

    path: str
    message: str
    hint: str = ""

    def __str__(self):
        text = f"{self.path}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class RecipeError(Exception):
    """A recipe that cannot run; ``problems`` lists everything wrong."""

    def __init__(self, problems, source=""):
        self.problems = list(problems)
        head = f"The recipe {source} has {len(self.problems)} problem(s):" if source else \
            f"The recipe has {len(self.problems)} problem(s):"
        super().__init__("\n".join([head] + ["- " + str(p) for p in self.problems]))


def load_recipe(path):
    """Read a recipe file. Bad JSON becomes a RecipeError with the line and column."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as err:
        raise RecipeError([Problem("$", f"cannot read the recipe file {path}: {err.strerror}",
                                   "check the path")]) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RecipeError([Problem("$", f"not valid JSON at line {err.lineno}, column {err.colno}: "
                                        f"{err.msg}", "fix the JSON syntax (a JSON linter helps)")],
                          path) from err


def resolve_path(path, base_dir):
    """Recipe paths are relative to the recipe file's folder."""
    if path is None:
        return None
    path = os.path.expanduser(str(path))
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


class _Checker:
    def __init__(self):
        self.problems = []

    def add(self, path, message, hint=""):
        if path.startswith("$."):
            path = path[2:]
        self.problems.append(Problem(path, message, hint))

    def obj(self, value, path, allowed=None, required=()):
        if not isinstance(value, dict):
            self.add(path, f"must be an object, not {_type_name(value)}", "use { ... }")
            return False
        for key in required:
            if key not in value:
                self.add(f"{path}.{key}", "is missing", "add it")
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    self.add(f"{path}.{key}", "is not a known key",
                             f"known keys here: {', '.join(sorted(allowed))}")
        return True

    def number(self, value, path, minimum=None, exclusive=False, integer=False):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(path, f"must be a number, not {_type_name(value)}")
            return False
        if integer and int(value) != value:
            self.add(path, "must be a whole number")
            return False
        if minimum is not None and (value <= minimum if exclusive else value < minimum):
            self.add(path, f"must be {'greater than' if exclusive else 'at least'} {minimum}, "
                           f"not {value}")
            return False
        return True

    def text(self, value, path):
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"must be a non-empty text, not {_type_name(value)}")
            return False
        return True

    def choice(self, value, path, choices):
        if value not in choices:
            self.add(path, f"unknown value {value!r}", f"choose one of: {', '.join(choices)}")
            return False
        return True

    def name(self, value, path):
        if not self.text(value, path):
            return False
        if not NAME_RE.match(value):
            self.add(path, f"{value!r} is not a usable name",
                     "use lowercase letters, digits and _, starting with a letter (it becomes a "
                     "field name)")
            return False
        return True

    def source(self, value, path):
        if not self.obj(value, path, _SOURCE_KEYS):
            return
        kinds = [k for k in _SOURCE_KINDS if k in value]
        if len(kinds) != 1:
            self.add(path, "needs exactly one of " + ", ".join(_SOURCE_KINDS),
                     'e.g. {"path": "data.gpkg", "layer": "burglary"} or '
                     '{"connection": "warehouse", "table": "incidents"}')
        for key in ("path", "layer", "project_layer", "uri", "provider", "connection", "service",
                    "schema", "table", "geometry_column", "key_column", "geometry_type"):
            if key in value:
                self.text(value[key], f"{path}.{key}")
        if "sql" in value and not isinstance(value["sql"], str):
            self.add(f"{path}.sql", f"must be a text, not {_type_name(value['sql'])}")
        if "srid" in value and (isinstance(value["srid"], bool) or not isinstance(value["srid"], int)):
            self.add(f"{path}.srid", "must be a whole number, e.g. 27700")
        if isinstance(value.get("uri"), str) and _PASSWORD_RE.search(value["uri"]):
            self.add(f"{path}.uri", "contains a password",
                     "never put a password in a recipe: store the connection in QGIS (with its "
                     "authentication database) or in pg_service.conf + .pgpass, and name it with "
                     '"connection" or "service"')
        if kinds and kinds[0] in ("connection", "service") and not value.get("table"):
            self.add(f"{path}.table", "is missing",
                     'name the table (or view) to read, e.g. "table": "incidents"')
        if "import" in value:
            self.obj(value["import"], f"{path}.import")

    def weights(self, items, path, what):
        weights = [it.get("weight", 1.0) for it in items if isinstance(it, dict)]
        ok = True
        for i, it in enumerate(items):
            if isinstance(it, dict) and "weight" in it:
                ok &= self.number(it["weight"], f"{path}[{i}].weight", minimum=0)
        if ok and weights and sum(float(w) for w in weights) <= 0:
            self.add(path, f"the weights of the {what} sum to zero", "give at least one a weight > 0")


def _type_name(value):
    return {dict: "an object", list: "a list", str: "a text", bool: "true/false",
            type(None): "null"}.get(type(value), "a number" if isinstance(value, (int, float))
                                       else type(value).__name__)


def _index_options():
    """Option names offered by the index engine (core.index), if it is installed."""
    try:
        from composite_index_plugin.core import index as engine
    except ImportError:  # pragma: no cover - the engine ships with the plugin
        return None
    return engine


def validate_recipe(recipe):
    """Every structural problem in ``recipe`` (a dict), as a list of Problem. Empty = valid."""
    c = _Checker()
    if not c.obj(recipe, "$", _TOP_KEYS, ("recipe_version", "themes")):
        return c.problems
    version = recipe.get("recipe_version")
    if version is not None and version != RECIPE_VERSION:
        c.add("recipe_version", f"version {version!r} is not supported",
              f"this plugin reads recipe_version {RECIPE_VERSION}")
    if "name" in recipe:
        c.text(recipe["name"], "name")
    if "crs" in recipe and c.text(recipe["crs"], "crs"):
        if not re.match(r"^(EPSG|ESRI|IGNF|OGC):\w+$", recipe["crs"]):
            c.add("crs", f"{recipe['crs']!r} is not a CRS id", 'use an id like "EPSG:27700"')
    if "study_area" in recipe:
        _check_layer_ref(c, recipe["study_area"], "study_area")
    _check_geography(c, recipe.get("geography"))
    if "population" in recipe and c.obj(recipe["population"], "population",
                                        {"source", "field", "ancillary"}, ("source", "field")):
        c.source(recipe["population"].get("source"), "population.source")
        c.text(recipe["population"].get("field"), "population.field")
        if "ancillary" in recipe["population"]:
            c.source(recipe["population"]["ancillary"], "population.ancillary")
    has_population = "population" in recipe or (
        isinstance(recipe.get("geography"), dict) and recipe["geography"].get("type") == "zones")
    _check_themes(c, recipe.get("themes"), has_population)
    if "aggregation" in recipe and c.obj(recipe["aggregation"], "aggregation",
                                         {"issue", "theme", "composite"}):
        engine = _index_options()
        for level, method in recipe["aggregation"].items():
            if engine is not None:
                c.choice(method, f"aggregation.{level}", engine.AGGREGATIONS)
    if "hotspots" in recipe and c.obj(recipe["hotspots"], "hotspots",
                                      {"field", "neighbourhood", "distance", "k", "permutations",
                                       "seed", "fdr", "zones", "min_bin", "enabled"}):
        h = recipe["hotspots"]
        if "neighbourhood" in h:
            c.choice(h["neighbourhood"], "hotspots.neighbourhood", tuple(NEIGHBOURHOODS))
        if "permutations" in h:
            c.number(h["permutations"], "hotspots.permutations", minimum=0, integer=True)
    if "admin_areas" in recipe:
        _check_layer_ref(c, recipe["admin_areas"], "admin_areas", extra={"name_field"})
    if "baseline" in recipe and c.obj(recipe["baseline"], "baseline", {"read", "write"}):
        for key, value in recipe["baseline"].items():
            c.text(value, f"baseline.{key}")
    if "output" in recipe and c.obj(recipe["output"], "output", {"folder", "geopackage", "project",
                                                                   "log", "map_png"}):
        for key, value in recipe["output"].items():
            c.text(value, f"output.{key}")
    return c.problems


def _check_layer_ref(c, value, path, extra=()):
    if c.obj(value, path, {"source", "filter"} | set(extra), ("source",)):
        c.source(value.get("source"), f"{path}.source")
        if "filter" in value:
            c.text(value["filter"], f"{path}.filter")
        for key in extra:
            if key in value:
                c.text(value[key], f"{path}.{key}")


def _check_geography(c, geo):
    if geo is None:
        c.add("geography", "is missing", 'add e.g. {"type": "grid", "shape": "hexagon_flat", '
                                         '"size": 250}')
        return
    if not c.obj(geo, "geography", {"type", "shape", "size", "size_is_area", "keep", "origin",
                                    "source", "id_field", "max_cells"}, ("type",)):
        return
    kind = geo.get("type")
    if not c.choice(kind, "geography.type", ("grid", "zones")):
        return
    if kind == "grid":
        if "shape" in geo:
            c.choice(geo["shape"], "geography.shape", tuple(GRID_SHAPES))
        if "size" not in geo:
            c.add("geography.size", "is missing", "give the cell width in metres, e.g. 250")
        else:
            c.number(geo["size"], "geography.size", minimum=0, exclusive=True)
        if "keep" in geo:
            c.choice(geo["keep"], "geography.keep", tuple(GRID_KEEP))
        if "origin" in geo:
            o = geo["origin"]
            if not (isinstance(o, list) and len(o) == 2 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in o)):
                c.add("geography.origin", "must be [x, y]", "two numbers in the grid's CRS")
    else:
        if "source" not in geo:
            c.add("geography.source", "is missing", "name the zones layer")
        else:
            c.source(geo["source"], "geography.source")


def _check_themes(c, themes, has_population):
    if themes is None:
        return
    if not isinstance(themes, list) or not themes:
        c.add("themes", "must be a non-empty list of themes",
              'e.g. [{"name": "acquisitive", "issues": [...]}]')
        return
    engine = _index_options()
    c.weights(themes, "themes", "themes")
    seen_issues = {}
    seen_themes = set()
    for t, theme in enumerate(themes):
        tp = f"themes[{t}]"
        if not c.obj(theme, tp, _THEME_KEYS, ("name", "issues")):
            continue
        if c.name(theme.get("name"), f"{tp}.name"):
            if theme["name"] in seen_themes:
                c.add(f"{tp}.name", f"theme {theme['name']!r} appears twice", "rename one")
            seen_themes.add(theme["name"])
        issues = theme.get("issues")
        if not isinstance(issues, list) or not issues:
            c.add(f"{tp}.issues", "must be a non-empty list of issues")
            continue
        c.weights(issues, f"{tp}.issues", f"issues of theme {theme.get('name')!r}")
        for i, issue in enumerate(issues):
            ip = f"{tp}.issues[{i}]"
            if not c.obj(issue, ip, _ISSUE_KEYS, ("name", "roles")):
                continue
            if c.name(issue.get("name"), f"{ip}.name"):
                if issue["name"] in seen_issues:
                    c.add(f"{ip}.name", f"issue {issue['name']!r} already used at "
                                        f"{seen_issues[issue['name']]}", "issue names must be unique")
                seen_issues.setdefault(issue["name"], ip)
            roles = issue.get("roles")
            if not c.obj(roles, f"{ip}.roles", set(ROLES)):
                continue
            if not roles:
                c.add(f"{ip}.roles", "has no role", "give at least one of victims, offenders, locations")
                continue
            role_weights = [r.get("weight", 1.0) if isinstance(r, dict) else None
                            for r in roles.values()]
            if all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0
                   for w in role_weights):
                if sum(role_weights) <= 0:
                    c.add(f"{ip}.roles", "the role weights sum to zero", "give at least one a weight > 0")
            for role, spec in roles.items():
                _check_role(c, spec, f"{ip}.roles.{role}", engine, has_population)


def _check_role(c, spec, path, engine, has_population):
    if not c.obj(spec, path, _ROLE_KEYS, ("source",)):
        return
    if "source" in spec:
        c.source(spec["source"], f"{path}.source")
    for key in ("filter", "weight_field", "denominator"):
        if key in spec and spec[key] is not None:
            c.text(spec[key], f"{path}.{key}")
    if "weight" in spec:
        c.number(spec["weight"], f"{path}.weight", minimum=0)
    if "per" in spec:
        c.number(spec["per"], f"{path}.per", minimum=0, exclusive=True)
    if "kde_bandwidth" in spec:
        c.number(spec["kde_bandwidth"], f"{path}.kde_bandwidth", minimum=0)
    if engine is not None:
        for key, options in (("measure", engine.MEASURES), ("scaling", engine.SCALINGS),
                             ("direction", engine.DIRECTIONS), ("missing", engine.MISSING)):
            if key in spec:
                c.choice(spec[key], f"{path}.{key}", tuple(options))
    measure = spec.get("measure", ROLE_DEFAULTS["measure"])
    if measure in ("rate", "eb_rate", "eb_rate_spatial", "location_quotient"):
        if spec.get("denominator") is None and not has_population:
            c.add(f"{path}.denominator", f"measure {measure!r} needs a denominator",
                  'add "population" to the recipe, or name a field of the zones layer')


def validate_source(source, path="source"):
    """Problems of one data source (file, project layer, URI or database), as in a recipe."""
    c = _Checker()
    c.source(source, path)
    return c.problems


def issues_of(recipe):
    """(theme, issue) pairs in recipe order."""
    for theme in recipe.get("themes", []):
        for issue in theme.get("issues", []):
            yield theme, issue


def index_spec(recipe):
    """The index engine's spec from a recipe: roles become indicators on ``<issue>_<role>``."""
    themes = []
    for theme in recipe["themes"]:
        issues = []
        for issue in theme["issues"]:
            indicators = {}
            for role, spec in issue["roles"].items():
                ind = {k: v for k, v in spec.items()
                       if k not in ("source", "filter", "weight_field", "kde_bandwidth")}
                for key, default in ROLE_DEFAULTS.items():
                    ind.setdefault(key, default)
                ind["field"] = f"{issue['name']}_{role}" + ("_w" if spec.get("weight_field") else "")
                if ind["measure"] in ("rate", "eb_rate", "eb_rate_spatial", "location_quotient"):
                    ind.setdefault("denominator", "population")
                indicators[role] = ind
            issues.append({"name": issue["name"], "label": issue.get("label", issue["name"]),
                           "weight": issue.get("weight", 1.0), "indicators": indicators})
        themes.append({"name": theme["name"], "label": theme.get("label", theme["name"]),
                       "weight": theme.get("weight", 1.0), "issues": issues})
    return {"themes": themes, "aggregation": dict(recipe.get("aggregation", {}))}


def spec_path_to_recipe(path):
    """Map a problem path in the index spec back to the recipe's own path."""
    return path.replace(".indicators.", ".roles.")
