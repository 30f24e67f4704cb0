"""The recipe as one typed model, read by the validator, the runner, the index engine, the
toolbox defaults, the Builder and the docs (tables in docs/recipe.md are generated from it by
scripts/gen_docs.py).

    recipe, problems = parse(doc)           # a whole recipe: every problem, with its JSON path
    spec, problems = parse_spec(doc)        # an index spec (buildindex, sensitivity)
    recipe.to_dict() == doc                 # the round trip
    recipe.index_spec()                     # the index spec of a recipe (its themes)

Each key is declared once (``core.schema.Key``): its type, default, allowed values, units and
help. Adding a key to a section is one declaration; the parser, the docs tables and the
toolbox defaults follow. The rules between keys (a theme and an issue with one name, a
geometric mean over scales that can be <= 0, a rate without a denominator, ...) live here too,
so the Builder's live checks, the runner and the toolbox refuse the same things.

The index spec (``IndexSpec``) and the recipe share ``Theme``, ``Issue`` and ``Aggregation``: an
issue measures its *roles* (victims, offenders, locations: counted by the aggregation into the
zone fields ``<issue>_<role>``) or, in a spec only, *indicators* naming any numeric field.
Every default is written once, here (``Measurement``).
"""
import re
from typing import Union

from composite_index_plugin.core import hotspot_zones, sandbox, vocab
from composite_index_plugin.core.diagnostics import Z_WARNING_DEFAULT
from composite_index_plugin.core.errors import Problem
from composite_index_plugin.core.grid import DEFAULT_MAX_CELLS
from composite_index_plugin.core.hotspots import DEFAULTS as HOTSPOT_DEFAULTS
from composite_index_plugin.core.measures import EB_ANCHOR_DEFAULT, MIN_DENOMINATOR_DEFAULT
from composite_index_plugin.core.ranking import NO_INCIDENTS_DEFAULT
from composite_index_plugin.core.scaling import DEFAULT_C
from composite_index_plugin.core.schema import (
    Context,
    Crs,
    Expression,
    FieldName,
    Key,
    Name,
    Path,
    Section,
    join,
)

RECIPE_VERSION = 1
_CRS_RE = re.compile(r"^(EPSG|ESRI|IGNF|OGC):\w+$")
_PASSWORD_RE = re.compile(r"(^|\s)password\s*=", re.IGNORECASE)
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# ----------------------------------------------------------------------------------- sources
def has_password(text) -> bool:
    """True when a connection text (a URI) holds a password."""
    return isinstance(text, str) and bool(_PASSWORD_RE.search(text))


class Import(Section):
    """A raw incident file imported and cleansed by `compositeindex:importincidents` before the
    run (its parameters, in lowercase; files relative to the recipe)."""

    preset: str = Key("generic", choices=vocab.IMPORT_PRESETS, positions=True,
                      help="how the file is laid out (`police.uk`: the street-level CSV)")
    x_field: FieldName = Key(help="X / easting / longitude column (empty: guessed)")
    y_field: FieldName = Key(help="Y / northing / latitude column (empty: guessed)")
    source_crs: Crs = Key(help="CRS of the X/Y (or postcode lookup) coordinates", example="EPSG:4326")
    target_crs: Crs = Key(help="CRS of the clean layer (default: the recipe's `crs`)")
    date_field: FieldName = Key(help="column with the date")
    date_formats: str = Key(help="';'-separated formats, e.g. `%d/%m/%Y` (empty: recognised)")
    date_from: str = Key(help="keep dates from (yyyy-mm-dd, yyyy-mm or yyyy)")
    date_to: str = Key(help="keep dates up to (inclusive)")
    category_field: FieldName = Key(help="column with the category (becomes the field `issue`)")
    category_mapping: Path = Key(help="CSV `category,issue` mapping categories to issue names")
    require_mapping: bool = Key(False, help="reject categories missing from the mapping")
    study_area: Path = Key(help="a polygon file to keep points inside (default: the recipe's "
                                "study area)")
    # police.uk snaps every crime to an anonymised map point and codes it against full-resolution
    # boundaries, while study areas are often built from generalised ones. On West Yorkshire
    # (July 2016, super-generalised 2011 LSOAs) the points that fall outside the LSOA police.uk
    # names lie a median 34 m from it (two thirds within 50 m), and the rows coded to a West
    # Yorkshire LSOA yet outside the dissolved LSOAs lie 7-52 m outside (4 of 6 within 50 m;
    # July 2017: 5 of 5, 2-37 m). 50 m keeps those without reaching far into neighbouring areas.
    study_buffer: float = Key(50.0, minimum=0, units="output CRS units (metres)",
                              help="buffer around the study area: points just outside it are kept")
    duplicate_fields: str = Key(help="','-separated fields that identify a duplicate")
    fix_swapped: bool = Key(False, help="fix swapped X/Y instead of rejecting")
    postcode_field: FieldName = Key(help="postcode column (instead of X/Y)")
    postcode_lookup: Path = Key(help="CSV postcode,x,y in the source CRS")
    encoding: str = Key(help="text encoding (empty: detected)")
    delimiter: str = Key("detect", choices=vocab.IMPORT_DELIMITERS, positions=True,
                         help="column separator")
    decimal: str = Key("detect", choices=vocab.IMPORT_DECIMALS, positions=True,
                       help="decimal separator in coordinates")
    # A police.uk archive: the source's `path` is the .zip from data.police.uk or the folder it
    # was unpacked into (yyyy-mm/yyyy-mm-<force>-street.csv files); read with the police.uk preset.
    months: list[str] = Key(help="police.uk archive: the first and last month read (yyyy-mm, "
                                 "inclusive; one month alone: that month). Default: the months "
                                 "of the recipe's `period` (`2018`, `2018-07`, `2018/19`, "
                                 "`2016-07 to 2017-07` or start/end), else every month",
                            example='["2018-01", "2018-12"]',
                            hint='give the first and last month, e.g. ["2018-01", "2018-12"]')
    forces: list[str] = Key(nonempty=True, help="police.uk archive: the forces read, as spelt in "
                                                "the file names (e.g. `west-yorkshire`); "
                                                "default: all", example='["west-yorkshire"]')
    period: str = Key("month", choices=vocab.IMPORT_PERIODS, positions=True,
                      help="the `period` field of the clean points: the month, calendar year or "
                           "April-March financial year of each row (from the archive's file "
                           "names, else from the date field), or none")

    FILE_KEYS = ("category_mapping", "study_area", "postcode_lookup")
    ENUMS = {"preset": vocab.IMPORT_PRESETS, "delimiter": vocab.IMPORT_DELIMITERS,
             "decimal": vocab.IMPORT_DECIMALS, "period": vocab.IMPORT_PERIODS}
    ARCHIVE_KEYS = ("months", "forces")

    def check(self, ctx, path):
        months = self.months
        if isinstance(months, list) and all(isinstance(m, str) for m in months):
            if len(months) not in (1, 2):
                ctx.add(join(path, "months"), f"must have 1 or 2 months, not {len(months)}",
                        'give the first and last month, e.g. ["2018-01", "2018-12"]')
                return
            bad = [k for k, m in enumerate(months) if not _MONTH_RE.match(m.strip())]
            for k in bad:
                ctx.add(join(join(path, "months"), k), f"{months[k]!r} is not a month",
                        "write yyyy-mm, e.g. 2018-01")
            if not bad and months[0].strip() > months[-1].strip():
                ctx.add(join(path, "months"), f"the first month {months[0]} is after the last "
                        f"{months[-1]}", "give the earlier month first")


class Source(Section):
    """Where a layer comes from: a file, a project layer, a provider URI, or a PostGIS table by a
    stored QGIS connection or a pg_service.conf service (never a password)."""

    EXAMPLE = '{"path": "data.gpkg", "layer": "burglary"}'
    KINDS = ("path", "project_layer", "uri", "connection", "service")
    DATABASE_KEYS = ("connection", "service", "schema", "table", "geometry_column", "key_column",
                     "sql", "srid", "geometry_type")

    path: Path = Key(help="a file (GeoPackage, shapefile, CSV...), relative to the recipe")
    layer: str = Key(help="the layer inside the file")
    project_layer: str = Key(help="a layer of the open project, by name")
    uri: str = Key(help="a provider URI (no password)")
    provider: str = Key("ogr", help="the provider of `uri`, e.g. `postgres`")
    connection: str = Key(help="a PostGIS connection stored in QGIS, by name")
    service: str = Key(help="a pg_service.conf service")
    schema: str = Key(help="database schema")
    table: str = Key(help="table or view", required_when=(
        lambda s: s.given("connection") or s.given("service"), "a database source"),
        hint='name the table (or view) to read, e.g. "table": "incidents"')
    geometry_column: str = Key(help="geometry column (default: detected)")
    key_column: str = Key(help="unique key column")
    sql: str = Key(empty=True, help="a filter run by the server, written as a QGIS expression "
                                    "(fields, values, comparisons, AND/OR/NOT, IN, IS NULL, LIKE): "
                                    "the plugin turns it into SQL; raw SQL is refused")
    srid: int = Key(help="the geometry's SRID", example=27700)
    geometry_type: str = Key(help="e.g. Point")
    import_: Import = Key(json="import", help="import and cleanse this raw file first")

    def check(self, ctx, path):
        kinds = [k for k in self.KINDS if self.given(k)]
        if len(kinds) != 1:
            ctx.add(path, "needs exactly one of " + ", ".join(self.KINDS),
                    'e.g. {"path": "data.gpkg", "layer": "burglary"} or '
                    '{"connection": "warehouse", "table": "incidents"}')
        if has_password(self.uri):
            ctx.add(join(path, "uri"), "contains a password",
                    "never put a password in a recipe: store the connection in QGIS (with its "
                    "authentication database) or in pg_service.conf + .pgpass, and name it with "
                    '"connection" or "service"')
        if self.given("import") and kinds and kinds[0] != "path":
            ctx.add(join(path, "import"), "an import reads a file",
                    'give the file as "path", e.g. {"path": "crimes.csv", "import": {...}}')

    @property
    def kind(self):
        return next((k for k in self.KINDS if self.given(k)), None)

    def key_text(self) -> str:
        """A stable text naming this source (for caches and logs)."""
        import json

        return json.dumps(self.to_dict(), sort_keys=True)



class LayerRef(Section):
    """A polygon layer and an optional filter."""

    EXAMPLE = '{"source": {"path": "areas.gpkg", "layer": "study_area"}}'
    source: Source = Key(required=True, help="where the layer comes from")
    filter: Expression = Key(help="QGIS expression selecting features, e.g. "
                                  "`\"name\" = 'Birmingham'`")


class StudyArea(LayerRef):
    """The area assessed: a polygon layer and an optional filter."""

    buffer: float = Key(minimum=0, units="metres (the analysis CRS)",
                        help="a buffer around the study area: the grid covers it, and imports "
                             "that use the study area keep the points within it (their own "
                             "`study_buffer` wins). Default: no buffer for the grid; imports keep "
                             "their `study_buffer` (50 m)")


class AdminAreas(LayerRef):
    """Areas for the summaries and the atlas."""

    name_field: FieldName = Key(help="the field naming each area")


_TABLE = (lambda p: p.given("table"), "population with a `table`")
_NO_TABLE = (lambda p: not p.given("table"), "population without a `table`")


class Population(Section):
    """Residents, apportioned to the zones by area (or by ancillary points); becomes the zone
    field `population`."""

    EXAMPLE = '{"source": {"path": "b.gpkg", "layer": "lsoa21"}, "field": "population"}'
    source: Source = Key(required=True, help="polygons holding the count (with `table`: the "
                                             "boundaries the table's codes name)")
    field: FieldName = Key(when=_NO_TABLE, required_when=_NO_TABLE, example='"population"',
                           help="the count field of the polygons (numbers stored as text are "
                                "read and reported)",
                           hint='name the count field, e.g. "field": "population", or give a '
                                "table of counts by area code (table, table_key, table_field, "
                                "source_key)")
    table: Source = Key(help="a table of counts keyed by area code (e.g. a census CSV), joined "
                             "to the `source` polygons on `source_key` = `table_key`")
    table_key: FieldName = Key(when=_TABLE, required_when=_TABLE, example='"LSOA Code"',
                               help="the table's area code field")
    table_field: FieldName = Key(when=_TABLE, required_when=_TABLE, example='"Persons"',
                                 help="the table's count field (numbers stored as text, with "
                                      "thousands separators, are read and reported)")
    source_key: FieldName = Key(when=_TABLE, required_when=_TABLE, example='"LSOA11CD"',
                                help="the area code field of the `source` polygons")
    ancillary: Source = Key(help="points (e.g. address points) to apportion by, instead of area")


class Period(Section):
    """The period an assessment covers."""

    start: str = Key(help="first day, month or year (yyyy-mm-dd, yyyy-mm or yyyy)")
    end: str = Key(help="last day, month or year (inclusive)")
    label: str = Key(help="how the period is called, e.g. `2025`")

    def check(self, ctx, path):
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, str) and not _DATE_RE.match(value):
                ctx.add(join(path, name), f"{value!r} is not a date",
                        "write yyyy, yyyy-mm or yyyy-mm-dd")


# ------------------------------------------------------------------------------- geography
def _is_grid(s):
    return s.type == "grid"


class Geography(Section):
    """The zones the index is built on: a grid over the study area, or a zones layer."""

    EXAMPLE = '{"type": "grid", "shape": "hexagon_flat", "size": 250}'
    type: str = Key(required=True, choices=vocab.GEOGRAPHY_TYPES, help="a grid or a zones layer")
    shape: str = Key("hexagon_flat", choices=vocab.GRID_SHAPES, when=("type", ("grid",)),
                     help="cell shape")
    size: float = Key(above=0, units="map units (metres)", when=("type", ("grid",)),
                      required_when=("type", ("grid",)), example=250,
                      help="cell width: square side, hexagon flat-to-flat",
                      hint="give the cell width in metres, e.g. 250")
    size_is_area: bool = Key(False, when=("type", ("grid",)), help="`size` is a cell area instead")
    keep: str = Key("intersects", choices=vocab.GRID_KEEP, when=("type", ("grid",)),
                    help="which cells to keep: those that intersect the study area, those whose "
                         "centre is inside, or cells clipped to it")
    origin: list[float] = Key(factory=lambda: [0, 0], length=2, doc_default="`[0, 0]`",
                              when=("type", ("grid",)), example="[0, 0]",
                              units="map units", hint="two numbers in the grid's CRS, e.g. [0, 0]",
                              help="a corner of the lattice: grids with the same origin and size "
                                   "line up cell for cell, year after year")
    max_cells: int = Key(DEFAULT_MAX_CELLS, minimum=1, when=("type", ("grid",)),
                         units="cells", help="refuse a grid with more cells than this")
    source: Source = Key(when=("type", ("zones",)), required_when=("type", ("zones",)),
                         help="the zones layer (LSOAs, wards, ...)", hint="name the zones layer")
    id_field: FieldName = Key(when=("type", ("zones",)), help="a unique id field of the zones")


# ------------------------------------------------------------------------ index: measurements
def _per_default(m):
    if m.measure in vocab.PER_MEASURES or (m.measure == "clustering" and m.denominator):
        return 1000
    return None


def _min_denominator_default(m):
    if m.measure in vocab.PER_MEASURES or (m.measure == "clustering" and m.denominator):
        return MIN_DENOMINATOR_DEFAULT
    if m.measure == "location_quotient":
        return 0
    return None


_SCALE_TO = ("scaling", vocab.MINMAX_SCALINGS)
_FIXED_MINMAX = ("scaling", ("minmax_fixed",))
_FIXED_Z = ("scaling", ("zscore_fixed",))
_THRESHOLD = ("scaling", ("threshold",))
_EXPONENTIAL = ("scaling", ("exponential",))
_CLUSTERING = ("measure", ("clustering",))
_DENOMINATOR = ("measure", vocab.NEEDS_DENOMINATOR + ("clustering",))
_PER = ("measure", vocab.PER_MEASURES + ("clustering",))
_SPATIAL_EB = ("measure", ("eb_rate_spatial",))


class Measurement(Section):
    """How a count or value becomes an indicator: measure, scaling, direction, weight and the
    missing-data policy. Shared by a recipe's roles and a spec's indicators: every default of
    the index is here, once."""

    OPTION_KEYS = ("denominator", "per", "scale_to", "min", "max", "mean", "sd", "threshold", "c",
                   "clustering", "min_denominator", "anchor")

    measure: str = Key("volume", choices=vocab.MEASURES,
                       help="what number describes the zone: the value as it is, a count "
                            "(`volume`), a rate, an empirical Bayes rate (plain or spatial), a "
                            "location quotient, a density per km² or a clustering score")
    denominator: FieldName = Key(when=_DENOMINATOR, required_when=("measure", vocab.NEEDS_DENOMINATOR),
                                 fallback="options", help="the zone field to divide by",
                                 hint="name the field to divide by (e.g. population), or use "
                                      "measure volume")
    per: float = Key(_per_default, above=0, when=_PER, fallback="options", doc_default="`1000`",
                     units="per N of the denominator", help="rates per N (e.g. per 1,000 residents)")
    scaling: str = Key("zscore", choices=vocab.SCALINGS,
                       help="how indicators are put on one scale")
    direction: str = Key("higher_is_worse", choices=vocab.DIRECTIONS,
                         help="`lower_is_worse` turns the indicator round")
    weight: float = Key(1.0, minimum=0, help="weight among its siblings")
    missing: str = Key("zero", choices=vocab.MISSING,
                       help="an empty value or undefined measure (zero denominator): leave the "
                            "zone out of the index, count it as 0, or give it the mean")
    scale_to: float = Key(lambda m: 1, above=0, when=_SCALE_TO, fallback="options",
                          doc_default="`1`", help="top of a min-max scale")
    min: float = Key(when=_FIXED_MINMAX, required_when=_FIXED_MINMAX, fallback="options",
                     units="field units", help="fixed bottom of the scale")
    max: float = Key(when=_FIXED_MINMAX, required_when=_FIXED_MINMAX, fallback="options",
                     units="field units", help="fixed top of the scale")
    mean: float = Key(when=_FIXED_Z, required_when=_FIXED_Z, fallback="options",
                      units="field units", help="fixed mean of the reference data")
    sd: float = Key(above=0, when=_FIXED_Z, required_when=_FIXED_Z, fallback="options",
                    units="field units", help="fixed standard deviation of the reference data")
    threshold: float = Key(when=_THRESHOLD, required_when=_THRESHOLD, fallback="options",
                           units="field units", help="1 at or beyond it, else 0")
    c: float = Key(lambda m: DEFAULT_C, above=0, when=_EXPONENTIAL, fallback="options",
                   doc_default="`23`", help="constant of the exponential transform (the IMD's)")
    clustering: str = Key(lambda m: "field", choices=vocab.CLUSTERING_METHODS, when=_CLUSTERING,
                          fallback="options", doc_default="`field`",
                          help="the field as it is, or Getis-Ord Gi* z of it")
    min_denominator: float = Key(
        _min_denominator_default, minimum=0, when=_DENOMINATOR, fallback="options",
        doc_default=f"`{MIN_DENOMINATOR_DEFAULT}` for rates, `0` for location quotients",
        units="denominator units (e.g. residents)",
        help="zones with a denominator above 0 and below this are pooled: a crude rate takes "
             "the study-area rate, an empirical Bayes rate its prior mean (flagged in "
             "`<issue>_<role>_pooled`, counted in the log and report); 0 = off")
    anchor: str = Key(lambda m: EB_ANCHOR_DEFAULT, choices=vocab.EB_ANCHORS, when=_SPATIAL_EB,
                      fallback="options", doc_default=f"`{EB_ANCHOR_DEFAULT}`",
                      help="spatial EB prior: `global` shrinks each neighbourhood's rate towards "
                           "the study-area rate (never 0 where that rate is not); `none` is the "
                           "classic local prior (GeoDa, esda)")
    options: "Options" = Key(help="the method options above, as an object (as earlier "
                                  "recipes wrote them)")

    def check(self, ctx, path):
        if self.scaling == "minmax_fixed" and _number(self.min) and _number(self.max) \
                and not self.max > self.min:
            ctx.add(join(path, "max"), f"max ({self.max}) must be larger than min ({self.min})",
                    "give the range the scale should span")

    def engine_options(self, field: str) -> dict:
        """Every choice of this indicator with its default filled in, as the engine reads it
        (and its fingerprint hashes)."""
        out = {"field": field, "measure": self.measure, "scaling": self.scaling,
               "direction": self.direction, "weight": self.weight, "missing": self.missing}
        for name in self.OPTION_KEYS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Options(Section):
    """Method options of an indicator or role, as an object (same keys as at the top)."""

    def check_keys(self, ctx, path):
        pass  # whether an option applies is checked by the indicator or role holding it


for _name in Measurement.OPTION_KEYS:   # the same declarations, without their conditions
    _key = Measurement.key(_name).copy()
    _key.fallback = _key.when = _key.required_when = None
    _key.default, _key.doc_default = None, None
    _key.type_ = Measurement.types()[_name]
    _key.owner = Options
    setattr(Options, _name, _key)


_CATEGORY = (lambda r: r.given("category_field"), "a role with `category_field`")


class Role(Measurement):
    """Victims, offenders or locations of an issue: which points (source and filter), counted
    per zone into `<issue>_<role>`, and how that count is measured."""

    EXAMPLE = '{"source": {"path": "crime.gpkg", "layer": "victims"}, "filter": "\\"issue\\" = \'burglary\'"}'
    DOC_ORDER = ("source", "filter", "weight_field", "category_field", "category_preset",
                 "category_mapping", "measure", "denominator", "per", "scaling",
                 "direction", "weight", "missing") + Measurement.OPTION_KEYS[2:] + ("options",)
    source: Source = Key(required="recipe", help="the points")
    filter: Expression = Key(help="QGIS expression selecting this issue's points, e.g. "
                                  "`\"issue\" = 'burglary'`")
    weight_field: FieldName = Key(help="a numeric field to sum instead of counting (e.g. harm)")
    category_field: FieldName = Key(
        help="a field holding each point's category (e.g. `issue`, written by the import, or "
             "police.uk's `Crime type`): the role counts the points whose category is this "
             "issue, and the issues that read one source (same filter and weight) this way are "
             "counted in one pass")
    category_preset: str = Key("none", choices=vocab.CATEGORY_PRESETS, when=_CATEGORY,
                               help="`police.uk`: police.uk crime types become issue names by "
                                    "the preset (resources/presets/policeuk_crime_types.csv)")
    category_mapping: Path = Key(when=_CATEGORY,
                                 help="a CSV `category,issue` (or JSON) turning categories into "
                                      "issue names; without it (or a preset) the issue is the "
                                      "category in lowercase_with_underscores")
    kde_bandwidth: float = Key(0.0, minimum=0, units="map units",
                               help="also write a quartic kernel density of this role")
    denominator: FieldName = Key(lambda r: "population" if r.measure in vocab.NEEDS_DENOMINATOR
                                 else None, when=_DENOMINATOR, fallback="options",
                                 doc_default="`population` for rates",
                                 help="the zone field to divide by")

    def count_field(self, issue: str, role: str) -> str:
        return vocab.count_field(issue, role, bool(self.weight_field))

    def check(self, ctx, path):
        super().check(ctx, path)
        if self.given("category_mapping") and self.get("category_preset") not in (None, "none"):
            ctx.add(join(path, "category_mapping"), "a mapping and a preset are given",
                    "keep one of category_preset and category_mapping")


class Indicator(Measurement):
    """A numeric field of the zone layer, measured and scaled (index spec only)."""

    EXAMPLE = '{"field": "burglary_victims", "measure": "rate", "denominator": "population"}'
    DOC_ORDER = ("field", "label", "description", "measure", "denominator", "per", "scaling",
                 "direction", "weight", "missing")
    field: FieldName = Key(required=True, help="the numeric field", example='"burglary_victims"',
                           hint="name the numeric field of the zone layer that holds it")
    label: str = Key(help="shown in reports")
    description: str = Key(help="a note")


# --------------------------------------------------------------------- index: the hierarchy
def _check_weights(items, ctx, path, what):
    weights = [getattr(it, "weight", None) for it in items if isinstance(it, Section)]
    if weights and all(_number(w) and w >= 0 for w in weights) and sum(weights) <= 0:
        ctx.add(path, f"the weights of the {what} sum to zero", "give at least one a weight > 0")


class Issue(Section):
    """One issue (e.g. burglary): its roles (recipe) or indicators (index spec)."""

    EXAMPLE = '{"name": "burglary", "roles": {"victims": {...}}}'
    name: Name = Key(required=True, help="becomes field names (`<name>_idx`)", example='"burglary"')
    label: str = Key(help="shown in reports and the atlas")
    description: str = Key(help="a note")
    weight: float = Key(1.0, minimum=0, help="weight within its theme")
    aggregation: str = Key(choices=vocab.AGGREGATIONS, doc_default="`aggregation.issue`",
                           help="how its indicators combine")
    roles: dict[str, Role] = Key(keys=vocab.ROLES, help="victims, offenders and/or locations")
    indicators: dict[str, Indicator] = Key(help="index spec only: named indicators on fields")

    def check(self, ctx, path):
        if ctx.mode == "recipe" and self.given("indicators"):
            ctx.add(join(path, "indicators"), "a recipe's issues measure roles",
                    'use "roles" (victims, offenders, locations); indicators on any field are '
                    "for the index spec of `buildindex`")
        if not self.given("roles") and not self.given("indicators"):
            ctx.add(join(path, "roles"), "is missing",
                    "give at least one of victims, offenders, locations")
            return
        block = self.roles if self.given("roles") else self.indicators
        what = "roles" if self.given("roles") else "indicators"
        if self.given("roles") and self.given("indicators"):
            ctx.add(join(path, "indicators"), "an issue has roles or indicators, not both",
                    "keep one of them")
        if isinstance(block, dict):
            if not block:
                ctx.add(join(path, what), f"has no {what[:-1]}",
                        "give at least one of victims, offenders, locations" if what == "roles"
                        else 'add e.g. {"victims": {"field": "..."}}')
            _check_weights(list(block.values()), ctx, join(path, what), what)

    def measured(self):
        """(name, Measurement, field) of each role or indicator, in document order (parts that
        are not valid objects are left out)."""
        if self.given("indicators") and isinstance(self.indicators, dict):
            return [(k, ind, ind.field) for k, ind in self.indicators.items()
                    if isinstance(ind, Indicator)]
        roles = self.roles if isinstance(self.roles, dict) else {}
        return [(k, r, r.count_field(self.name, k)) for k, r in roles.items()
                if isinstance(r, Role)]

    @property
    def block(self) -> str:
        """Where its indicators are: "roles" or "indicators"."""
        return "indicators" if self.given("indicators") else "roles"


class Theme(Section):
    """A theme (e.g. acquisitive crime): a group of issues."""

    EXAMPLE = '{"name": "acquisitive", "issues": [...]}'
    name: Name = Key(required=True, help="becomes field names (`<name>_idx`, `<name>_pct`)",
                     example='"acquisitive"')
    label: str = Key(help="shown in reports and the atlas")
    description: str = Key(help="a note")
    weight: float = Key(1.0, minimum=0, help="weight in the composite")
    aggregation: str = Key(choices=vocab.AGGREGATIONS, doc_default="`aggregation.theme`",
                           help="how its issues combine")
    issues: list[Issue] = Key(required=True, nonempty=True, help="its issues",
                              hint="give at least one issue")

    def check(self, ctx, path):
        if isinstance(self.issues, list):
            _check_weights(self.issues, ctx, join(path, "issues"),
                           f"issues of theme {self.name!r}")


class Aggregation(Section):
    """How children combine at each level: `mean` (weighted arithmetic), `sum` (weighted),
    `geometric` (weighted geometric; refused for scales that can be zero or negative), `imd`
    (exponential transform of the children's ranks, then weighted sum)."""

    issue: str = Key("mean", choices=vocab.AGGREGATIONS, what="aggregation", help="indicators into an issue")
    theme: str = Key("mean", choices=vocab.AGGREGATIONS, what="aggregation", help="issues into a theme")
    composite: str = Key("mean", choices=vocab.AGGREGATIONS, what="aggregation", help="themes into the index")
    c: float = Key(DEFAULT_C, above=0, help="constant of the `imd` transform (the IMD uses 23)")


class Neighbours(Section):
    """Neighbours of the zones, for the spatial empirical Bayes rate and Gi* clustering."""

    method: str = Key("queen", choices=vocab.INDEX_NEIGHBOURS, help="who is a neighbour")
    distance: float = Key(above=0, when=("method", ("distance",)),
                          required_when=("method", ("distance",)), units="layer units (metres)",
                          help="the distance band")
    k: int = Key(minimum=1, when=("method", ("knn",)), required_when=("method", ("knn",)),
                 help="how many nearest neighbours", example=8)


class _IndexRules:
    """Rules of the index hierarchy, shared by the recipe and the index spec."""

    def check_index(self, ctx, path=""):
        themes = self.themes if isinstance(self.themes, list) else []
        _check_weights(themes, ctx, join(path, "themes"), "themes")
        names = {}
        outputs = {name: "(reserved)" for name in vocab.RESERVED_FIELDS}

        def claim(col, where):
            if col in outputs:
                ctx.add(where, f"output field '{col}' would be made twice (also by {outputs[col]})",
                        "rename a theme, issue or indicator so output fields differ")
            else:
                outputs[col] = where

        def name_once(item, where, kind):
            name = item.name
            if not vocab.is_name(name):
                return None
            if name in names:
                other_kind, other = names[name]
                ctx.add(join(where, "name"), f"name {name!r} is used twice (also by the "
                        f"{other_kind} at {other})",
                        "give every theme and issue its own name: each makes the field "
                        f"{name}_idx")
                return None
            names[name] = (kind, where)
            return name

        for t, theme in enumerate(themes):
            tpath = join(join(path, "themes"), t)
            if not isinstance(theme, Theme):
                continue
            tname = name_once(theme, tpath, "theme")
            if tname:
                claim(f"{tname}_idx", join(tpath, "name"))
                claim(f"{tname}_pct", join(tpath, "name"))
            for i, issue in enumerate(theme.issues if isinstance(theme.issues, list) else []):
                ipath = join(join(tpath, "issues"), i)
                if not isinstance(issue, Issue):
                    continue
                iname = name_once(issue, ipath, "issue")
                if iname:
                    claim(f"{iname}_idx", join(ipath, "name"))
                    for key, m, _field in issue.measured():
                        where = join(join(ipath, issue.block), key)
                        claim(f"{iname}_{key}_s", where)
                        if m.measure not in ("value", "volume"):
                            claim(f"{iname}_{key}_m", where)
        self._check_positive(ctx, path)

    def _check_positive(self, ctx, path):
        """A geometric mean needs children that are always > 0."""
        agg = self.aggregation if isinstance(self.aggregation, Aggregation) else Aggregation()
        themes = [t for t in (self.themes if isinstance(self.themes, list) else [])
                  if isinstance(t, Theme)]

        def verdict(method, children, where, what):
            live = [(n, pos) for n, pos, w in children if not (_number(w) and w == 0)]
            if method == "geometric":
                bad = [n for n, pos in live if not pos]
                if bad:
                    ctx.add(where[0], f"{where[1]}a geometric mean needs values above zero, but "
                            f"{what} {', '.join(bad)} can be zero or negative",
                            "scale those with percentile, rank or exponential, or aggregate "
                            "with mean, sum or imd")
                return not bad
            if method == "imd":
                return True
            return bool(live) and all(pos for _, pos in live)

        theme_items = []
        for t, theme in enumerate(themes):
            tpath = join(join(path, "themes"), t)
            issue_items = []
            for i, issue in enumerate(theme.issues if isinstance(theme.issues, list) else []):
                if not isinstance(issue, Issue):
                    continue
                ipath = join(join(tpath, "issues"), i)
                children = [(f"{k} ({m.scaling})", m.scaling in vocab.POSITIVE_SCALINGS, m.weight)
                            for k, m, _f in issue.measured()]
                where = (join(ipath, "aggregation"), "") if issue.given("aggregation") else \
                    (join(path, "aggregation.issue"), f"issue {issue.name!r}: ")
                block = "indicator" if issue.given("indicators") else "role"
                pos = verdict(issue.aggregation or agg.issue, children, where, block + "(s)")
                issue_items.append((str(issue.name), pos, issue.weight))
            where = (join(tpath, "aggregation"), "") if theme.given("aggregation") else \
                (join(path, "aggregation.theme"), f"theme {theme.name!r}: ")
            pos = verdict(theme.aggregation or agg.theme, issue_items, where, "issue(s)")
            theme_items.append((str(theme.name), pos, theme.weight))
        verdict(agg.composite, theme_items, (join(path, "aggregation.composite"), ""), "theme(s)")

    def measured(self):
        """(theme, issue, name, Measurement, field) of every indicator, in document order
        (parts that are not valid objects are left out)."""
        for theme in self.themes if isinstance(self.themes, list) else []:
            if not isinstance(theme, Theme) or not isinstance(theme.issues, list):
                continue
            for issue in theme.issues:
                if isinstance(issue, Issue):
                    for name, m, field in issue.measured():
                        yield theme, issue, name, m, field

    def fields_read(self) -> list:
        """Sorted names of every zone field the index reads (indicators and denominators)."""
        names = set()
        for *_x, m, field in self.measured():
            names.add(field)
            if m.denominator:
                names.add(m.denominator)
        return sorted(names)

    def needs(self) -> tuple:
        """``(areas, neighbours)``: does an indicator need the zones' areas (density) or their
        neighbours (spatial EB rate, Gi* clustering)?"""
        areas = neighbours = False
        for *_x, m, _field in self.measured():
            areas |= m.measure == "density"
            neighbours |= m.measure == "eb_rate_spatial" or (
                m.measure == "clustering" and m.clustering == "gi_star")
        return areas, neighbours

    def indicator_fields(self) -> list:
        """Each indicator's own fields in the index layer: its scaled value (``_s``), measured
        value (``_m``) and its zero-denominator and pooled flags (``_zd``, ``_pooled``), as far
        as the indicator has them. The index leaves them out when it writes its results only."""
        out = []
        for theme in self.themes:
            for issue in theme.issues:
                for key, _m, _f in issue.measured():
                    out += [f"{issue.name}_{key}{end}" for end in ("_s", "_m", "_zd", "_pooled")]
        return out

    def output_fields(self) -> list:
        """The fields the index adds to the zones."""
        out = ["ci_score", "ci_rank", "ci_decile", "ci_quintile", "top_theme", "top_issue",
               "ci_excluded"]
        counted = False
        for theme in self.themes:
            out += [f"{theme.name}_idx", f"{theme.name}_pct"]
            for issue in theme.issues:
                out.append(f"{issue.name}_idx")
                for key, m, _f in issue.measured():
                    out.append(f"{issue.name}_{key}_s")
                    if m.measure not in ("value", "volume"):
                        out.append(f"{issue.name}_{key}_m")
                    if _number(m.min_denominator) and m.min_denominator > 0:
                        out.append(f"{issue.name}_{key}_pooled")
                    counted |= m.measure in vocab.COUNT_MEASURES or (
                        m.measure == "clustering" and m.clustering == "gi_star"
                        and bool(m.denominator))
        if counted:
            out.append("ci_no_incidents")
        return out


_Z_WARNING_HELP = ("name the zones whose measured value lies more than this many standard "
                   "deviations from an indicator's mean, for scales kept by magnitude (zscore, "
                   "minmax, raw; a z-score scaled on a frozen baseline or fixed values is "
                   "measured from that mean and SD); 0 = off")
_NO_INCIDENTS_HELP = ("zones with no recorded incident in any count indicator: `lowest` ranks "
                      "them below every other zone, tied, in the lowest-need class; `score` "
                      "ranks them by their score")


class IndexSpec(Section, _IndexRules):
    """What `compositeindex:buildindex` and `compositeindex:sensitivity` read: themes -> issues ->
    indicators (or a recipe's roles), and how each level combines."""

    EXAMPLE = '{"themes": [...], "aggregation": {...}}'
    themes: list[Theme] = Key(required=True, nonempty=True, help="the themes",
                              hint="add at least one theme with at least one issue and one "
                                   "indicator")
    aggregation: Aggregation = Key(factory=Aggregation, help="how each level combines")
    neighbours: Neighbours = Key(help="neighbours for the spatial EB rate and Gi* clustering "
                                      "(default queen contiguity)")
    name: str = Key(help="a name")
    label: str = Key(help="a label")
    description: str = Key(help="a note")
    version: int = Key(help="your own version number")
    z_warning: float = Key(Z_WARNING_DEFAULT, minimum=0, units="standard deviations",
                           help=_Z_WARNING_HELP)
    no_incidents: str = Key(NO_INCIDENTS_DEFAULT, choices=vocab.NO_INCIDENTS,
                            help=_NO_INCIDENTS_HELP)

    def check(self, ctx, path):
        self.check_index(ctx, path)

    @property
    def neighbour_method(self) -> str:
        return self.neighbours.method if isinstance(self.neighbours, Neighbours) else "queen"


# ------------------------------------------------------------------------- the later stages
class Hotspots(Section):
    """Hotspot analysis of the index (Getis-Ord Gi* and local Moran's I) and hotspot zones.
    The defaults of the analysis are ``core.hotspots.DEFAULTS``."""

    field: FieldName = Key("ci_score", help="the field analysed")
    neighbourhood: str = Key(HOTSPOT_DEFAULTS["neighbourhood"], choices=vocab.HOTSPOT_NEIGHBOURHOODS,
                             help="who is a neighbour; `automatic` finds the scale (optimised "
                                  "hot spot analysis)")
    distance: float = Key(0.0, minimum=0, when=("neighbourhood", ("distance", "automatic")),
                          units="map units (metres)",
                          help="distance band (0 = the smallest that gives every zone a neighbour)")
    k: int = Key(8, minimum=1, maximum=1000, when=("neighbourhood", ("knn",)),
                 help="number of nearest neighbours")
    permutations: int = Key(HOTSPOT_DEFAULTS["permutations"], minimum=0, maximum=99999,
                            units="permutations",
                            help="0 = analytic p-values")
    seed: int = Key(HOTSPOT_DEFAULTS["seed"], minimum=0, help="random seed of the permutations")
    fdr: bool = Key(HOTSPOT_DEFAULTS["fdr"],
                    help="false discovery rate correction (Benjamini-Hochberg)")
    zones: bool = Key(True, help="dissolve hot cells into hotspot zones")
    min_bin: int = Key(hotspot_zones.MIN_BIN, choices=vocab.GI_BINS,
                       help="hotspot zones: cells with |gi_bin| at least this (1 = 90 %, "
                            "2 = 95 %, 3 = 99 %)")
    enabled: bool = Key(True, help="run the hotspot stages")


class Gap(Section):
    """How the gap between the highest-need zones and the rest is measured."""

    by: str = Key("decile", choices=vocab.GAP_BY, help="the top group by need decile or percent")
    value: float = Key(1, above=0, help="how many top deciles, or what top percent")
    weighting: str = Key("population", choices=vocab.GAP_WEIGHTING,
                         help="top group by population or zone share; means weighted the same way")
    mode: str = Key("cohort", choices=vocab.GAP_MODES,
                    help="over periods: the first period's top group followed (cohort), each "
                         "period's own top group (reselected), or the first period's top group "
                         "against the whole-area mean (worst_vs_average)")

    def check(self, ctx, path):
        if not _number(self.value):
            return
        if self.by == "decile" and not (1 <= self.value <= 9 and self.value == int(self.value)):
            ctx.add(join(path, "value"), f"must be a whole decile 1-9, not {self.value!r}",
                    "e.g. 1: the zones in the top decile of need against the rest")
        elif self.by == "percent" and not self.value < 100:
            ctx.add(join(path, "value"), f"must be a percent below 100, not {self.value!r}",
                    "e.g. 20: the top 20 % of zones against the rest")

    def as_dict(self) -> dict:
        """The gap as ``core.assessment`` reads it (every default filled in)."""
        value = int(self.value) if self.by == "decile" else self.value
        return {"by": self.by, "value": value, "weighting": self.weighting, "mode": self.mode}


class Baseline(Section):
    """A frozen baseline: scores on an earlier run's scale."""

    read: Path = Key(help="a baseline.json of an earlier run, relative to the recipe")
    write: Path = Key("baseline.json", help="where this run's baseline goes (in the output folder)")

    def check(self, ctx, path):
        _plain_names(self, ctx, path, {"write": sandbox.BASELINE_ENDINGS})


class Compare(Section):
    """Comparison with earlier periods on the same grid."""

    EXAMPLE = '{"previous": [{"path": "../2024/results.gpkg", "layer": "hotspots"}]}'
    previous: list[Source] = Key(required=True, nonempty=True,
                                 help="earlier runs' `hotspots` (or `index`) layers, oldest first",
                                 hint='e.g. [{"path": "../2024/results.gpkg", "layer": "hotspots"}]')
    labels: list[str] = Key(help="one label per period, this one last", example='["2024", "2025"]')
    id_field: FieldName = Key("cell_id", help="the zone id shared by the periods")

    def check(self, ctx, path):
        if isinstance(self.previous, list) and isinstance(self.labels, list) and self.labels \
                and len(self.labels) != len(self.previous) + 1:
            ctx.add(join(path, "labels"), f"has {len(self.labels)} label(s) for "
                    f"{len(self.previous) + 1} periods",
                    "give one label per earlier period and one for this run, oldest first")


class Sensitivity(Section):
    """Uncertainty and sensitivity of the ranks (Monte Carlo over weights and scalings)."""

    runs: int = Key(200, minimum=1, maximum=100000, units="runs", help="index variants")
    seed: int = Key(1, minimum=0, help="random seed (the same seed gives the same result)")
    concentration: float = Key(50.0, minimum=0, help="Dirichlet concentration of the weights "
                                                     "(lower = weights vary more; 0 = fixed)")
    scalings: list[str] = Key(choices=tuple(s for s in vocab.SCALINGS
                                            if s not in vocab.NEEDS_PARAMETERS), what="scaling",
                              help="scalings to draw from", example='["zscore", "rank"]')
    grid_jitter: bool = Key(False, help="vary the grid offset and cell size")


class Layout(Section):
    """The printed assessment."""

    png_pages: bool = Key(False, help="also write a PNG per page")


class Output(Section):
    """What the run writes, and where."""

    folder: Path = Key("output", help="the output folder, relative to the recipe")
    geopackage: str = Key("results.gpkg", help="results GeoPackage")
    project: str = Key("assessment.qgz", help="QGIS project")
    log: str = Key("run.log", help="run log")
    map_png: str = Key("map.png", help="the main map as PNG")

    def check(self, ctx, path):
        _plain_names(self, ctx, path, sandbox.OUTPUT_ENDINGS)


def _plain_names(section, ctx, path, endings):
    """Names of files a run writes are plain file names in the output folder (a recipe cannot
    write or replace a file anywhere else: core.sandbox)."""
    for name, ends in endings.items():
        if section.given(name):
            found = sandbox.plain_name_problem(section.get(name), ends)
            if found:
                ctx.add(join(path, name), *found)


# ----------------------------------------------------------------------------- the recipe
class Recipe(Section, _IndexRules):
    """One JSON file describing a whole assessment."""

    EXAMPLE = '{"recipe_version": 1, "geography": {...}, "themes": [...]}'
    recipe_version: int = Key(required=True, choices=(RECIPE_VERSION,), what="recipe version",
                              hint=f"this plugin reads recipe_version {RECIPE_VERSION}",
                              help="`1`")
    name: str = Key(help="shown in the project, the log and the layout")
    description: str = Key(help="a note")
    period: Union[str, Period] = Key(help="the period covered, e.g. `\"2025\"` or "
                                          "`{\"start\": \"2025-01\", \"end\": \"2025-12\"}`")
    crs: Crs = Key(help="projected CRS of the analysis (default: the study area's)",
                   example='"EPSG:27700"')
    study_area: StudyArea = Key(help="the area assessed (needed for a grid)")
    geography: Geography = Key(required=True, help="the zones", example=Geography.EXAMPLE)
    population: Population = Key(help="residents, for rates")
    themes: list[Theme] = Key(required=True, nonempty=True, help="the themes",
                              hint='e.g. [{"name": "acquisitive", "issues": [...]}]')
    aggregation: Aggregation = Key(factory=Aggregation, help="how each level combines")
    z_warning: float = Key(Z_WARNING_DEFAULT, minimum=0, units="standard deviations",
                           help=_Z_WARNING_HELP)
    no_incidents: str = Key(NO_INCIDENTS_DEFAULT, choices=vocab.NO_INCIDENTS,
                            help=_NO_INCIDENTS_HELP)
    hotspots: Hotspots = Key(factory=Hotspots, help="hotspot analysis")
    admin_areas: AdminAreas = Key(help="areas for the summaries and the atlas")
    baseline: Baseline = Key(factory=Baseline, help="frozen baselines")
    gap: Gap = Key(factory=Gap, help="how the gap is measured")
    compare: Compare = Key(help="comparison with earlier periods")
    sensitivity: Sensitivity = Key(help="uncertainty and sensitivity")
    layout: Layout = Key(factory=Layout, help="the printed assessment")
    output: Output = Key(factory=Output, help="outputs")

    def check(self, ctx, path):
        if isinstance(self.crs, str) and self.crs.strip() and not _CRS_RE.match(self.crs):
            ctx.add("crs", f"{self.crs!r} is not a CRS id", 'use an id like "EPSG:27700"')
        if isinstance(self.themes, list) and self.themes:
            self.check_index(ctx, "")
        geo = self.geography if isinstance(self.geography, Geography) else None
        grid = geo is not None and geo.type == "grid"
        if grid and not self.given("study_area"):
            ctx.add("study_area", "a grid needs a study area",
                    'add e.g. {"source": {"path": "areas.gpkg", "layer": "study_area"}}')
        has_population = self.given("population") or (geo is not None and geo.type == "zones")
        for _t, _i, _key, role, path_ in self._roles():
            if role.measure in vocab.NEEDS_DENOMINATOR and not has_population and \
                    role.denominator in (None, "population"):
                ctx.add(join(path_, "denominator"), f"measure {role.measure!r} needs a denominator",
                        'add "population" to the recipe, or name a field of the zones layer')
            elif grid and role.denominator and role.denominator != "population":
                ctx.add(join(path_, "denominator"), f"a grid has no field {role.denominator!r}",
                        'use "population" (from the recipe\'s population section)')
        sens = self.sensitivity if isinstance(self.sensitivity, Sensitivity) else None
        if sens is not None and sens.grid_jitter and geo is not None and not grid:
            ctx.add("sensitivity.grid_jitter", "needs a grid geography",
                    "switch it off for a zones layer")
        if sens is not None and self._index_ok() and not sens.scalings and not sens.grid_jitter \
                and _number(sens.concentration) and (sens.concentration in (0, float("inf"))
                                                     or not self._has_siblings()):
            ctx.add("sensitivity", "has nothing to vary: no scalings, no grid jitter, and no "
                    "weights to draw (a concentration of 0, or every theme, issue and role alone "
                    "at its level)",
                    'vary the scalings (e.g. "scalings": ["zscore", "rank"]) or the grid '
                    '("grid_jitter": true), or add themes, issues or roles')
        hot = self.hotspots
        if isinstance(hot, Hotspots) and hot.enabled and grid and isinstance(hot.field, str) \
                and self._index_ok() and hot.field not in self.zone_fields():
            ctx.add("hotspots.field", f"the zones will have no field {hot.field!r}",
                    "choose one of: " + ", ".join(self.zone_fields()))

    def _has_siblings(self):
        """Does any level have more than one theme, issue or role (weights to vary)?"""
        return len(self.themes) > 1 or any(
            len(t.issues) > 1 or any(len(i.measured()) > 1 for i in t.issues) for t in self.themes)

    def _index_ok(self):
        try:
            return all(isinstance(t, Theme) and isinstance(t.issues, list) and all(
                isinstance(i, Issue) and isinstance(i.name, str) for i in t.issues)
                       for t in self.themes)
        except TypeError:
            return False

    def _roles(self):
        """(t, i, role name, Role, path) of every role, in document order."""
        for t, theme in enumerate(self.themes if isinstance(self.themes, list) else []):
            if not isinstance(theme, Theme) or not isinstance(theme.issues, list):
                continue
            for i, issue in enumerate(theme.issues):
                if not isinstance(issue, Issue) or not isinstance(issue.roles, dict):
                    continue
                for key, role in issue.roles.items():
                    if isinstance(role, Role):
                        yield t, i, key, role, f"themes[{t}].issues[{i}].roles.{key}"

    def roles(self):
        """(path, Theme, Issue, role name, Role) of every role, in document order."""
        for t, i, key, role, path in self._roles():
            yield path, self.themes[t], self.themes[t].issues[i], key, role

    def issues(self):
        """(Theme, Issue) pairs in recipe order."""
        for theme in self.themes:
            for issue in theme.issues:
                yield theme, issue

    def count_fields(self) -> list:
        """The fields the aggregation writes: `<issue>_<role>`, with `_w` when weighted and
        `_kde` for every role of an issue with a KDE bandwidth."""
        out = []
        for _theme, issue in self.issues():
            roles = {k: r for k, r in (issue.roles if isinstance(issue.roles, dict) else {}).items()
                     if isinstance(r, Role)}
            kde = any(_number(r.kde_bandwidth) and r.kde_bandwidth > 0 for r in roles.values())
            for key, role in roles.items():
                out.append(vocab.count_field(issue.name, key))
                if role.weight_field:
                    out.append(vocab.count_field(issue.name, key, weighted=True))
                if kde:
                    out.append(vocab.count_field(issue.name, key, kde=True))
        return out

    def zone_fields(self) -> list:
        """Fields the zones will hold after the index (on a grid: all of them)."""
        out = list(self.count_fields())
        if self.given("population"):
            out.append("population")
        return out + self.output_fields()

    def index_spec(self) -> IndexSpec:
        """The index spec of this recipe: its themes and aggregation (roles read the count
        fields the aggregation writes). Shares the recipe's objects."""
        spec = IndexSpec()
        spec.themes = self.themes
        for key in ("aggregation", "z_warning", "no_incidents"):
            if self.given(key):
                setattr(spec, key, getattr(self, key))
        return spec

    def index_spec_dict(self) -> dict:
        """The index spec as JSON data for `buildindex` / `sensitivity` (SPEC): the themes
        without what only the aggregation reads (sources, filters, KDE bandwidths)."""
        doc = self.index_spec().to_dict()
        for theme in doc["themes"]:
            for issue in theme["issues"]:
                for role in issue.get("roles", {}).values():
                    for key in ("source", "filter", "kde_bandwidth"):
                        role.pop(key, None)
        return doc

    def sources(self):
        """(path, Source) of every source of the recipe, in document order."""
        for path, section in self.walk():
            if isinstance(section, Source):
                yield path, section


# ------------------------------------------------------------------------------- entry points
def parse(doc) -> tuple:
    """``(Recipe, [Problem])``: the recipe and every problem in it (structure and rules; files,
    layers and fields are checked by the runner, which can open them)."""
    ctx = Context("recipe")
    if not isinstance(doc, dict):
        ctx.add("$", f"must be an object, not {_kind(doc)}", "a recipe is a JSON object { ... }")
        return None, ctx.problems
    return Recipe.parse(doc, ctx, ""), ctx.problems


def parse_spec(doc) -> tuple:
    """``(IndexSpec, [Problem])`` of an index spec, or of a whole recipe (its themes and
    aggregation; the recipe is checked as a recipe)."""
    if isinstance(doc, dict) and "recipe_version" in doc:
        recipe, problems = parse(doc)
        return (recipe.index_spec() if not problems else None), problems
    ctx = Context("spec")
    if not isinstance(doc, dict):
        ctx.add("$", "the index spec must be a JSON object with 'themes'",
                'start from {"themes": [...], "aggregation": {...}}')
        return None, ctx.problems
    return IndexSpec.parse(doc, ctx, ""), ctx.problems


def _kind(value):
    from composite_index_plugin.core.schema import type_name

    return type_name(value)


def as_spec(spec) -> IndexSpec:
    """An IndexSpec from a spec (or recipe) dict, or the IndexSpec itself; raises RecipeError
    listing every problem."""
    from composite_index_plugin.core.errors import RecipeError

    if isinstance(spec, IndexSpec):
        return spec
    if isinstance(spec, Recipe):
        return spec.index_spec()
    parsed, problems = parse_spec(spec)
    if problems:
        raise RecipeError(problems)
    return parsed


def check_columns(spec: IndexSpec, columns) -> list:
    """Problems of the fields an index spec reads against a layer: ``columns`` maps each field
    name to numeric? (True / False / None = unknown) or is an iterable of names."""
    kinds = dict(columns) if isinstance(columns, dict) else {c: None for c in columns}
    problems = []
    for t, theme in enumerate(spec.themes if isinstance(spec.themes, list) else []):
        if not isinstance(theme, Theme) or not isinstance(theme.issues, list):
            continue
        for i, issue in enumerate(theme.issues):
            if not isinstance(issue, Issue):
                continue
            for key, m, field in issue.measured():
                path = f"themes[{t}].issues[{i}].{issue.block}.{key}"
                for label, col in (("field", field), ("denominator", m.denominator)):
                    if not isinstance(col, str) or not col:
                        continue
                    where = path if (label == "field" and issue.block == "roles") else \
                        join(path, label)
                    if col not in kinds:
                        problems.append(Problem(where, f"field '{col}' is not in the layer",
                                                "fields that exist: " + ", ".join(sorted(kinds))))
                    elif kinds[col] is False:
                        problems.append(Problem(where, f"field '{col}' is not numeric",
                                                "choose a numeric field, or convert it with the "
                                                "field calculator"))
    return problems


SECTIONS = (Recipe, Geography, StudyArea, AdminAreas, Population, Period, Theme, Issue,
            Role, Indicator, Measurement, Options, Source, Import, Aggregation, Hotspots, Gap, Baseline,
            Compare, Sensitivity, Layout, Output, IndexSpec, Neighbours)
