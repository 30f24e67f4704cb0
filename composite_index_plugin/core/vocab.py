"""One word for one thing: every vocabulary the recipe, the index engine, the toolbox and the
Builder share, in one module that imports nothing of the plugin.

A Processing enum lists its options in the order of the tuple here, so an enum position and a
recipe word are always translated through this module (``position`` / ``word``), never by a
second list that could drift.
"""
import re

# ------------------------------------------------------------------------------------- names
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
NAME_HINT = "use lowercase letters, digits and _, starting with a letter (it becomes a field name)"


def is_name(text: object) -> bool:
    """True for a usable theme / issue / indicator name (it becomes part of field names)."""
    return isinstance(text, str) and bool(NAME_RE.match(text))


def slug(text: object, fallback: str = "item") -> str:
    """A usable name from a label: lowercase letters, digits and ``_``, starting with a letter.

    Runs of other characters become one ``_``; a name that would start with a digit gets
    ``<fallback>_`` in front, and an empty one is ``fallback``.
    """
    s = re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_")
    if not s:
        return fallback
    return s if s[0].isalpha() else f"{fallback}_{s}"


# ------------------------------------------------------------------------------ roles, counts
ROLES = ("victims", "offenders", "locations")
ROLE_TITLES = {"victims": "Victims", "offenders": "Offenders", "locations": "Locations"}


def count_field(issue: str, role: str, weighted: bool = False, kde: bool = False) -> str:
    """A zone field the aggregation writes for a role of an issue (and the index reads): the
    count ``<issue>_<role>``, the weighted sum ``_w`` or the kernel density ``_kde``."""
    return f"{issue}_{role}" + ("_w" if weighted else "_kde" if kde else "")


# ---------------------------------------------------------------------------- the index engine
MEASURES = ("value", "volume", "rate", "eb_rate", "eb_rate_spatial", "location_quotient", "density",
            "clustering")
NEEDS_DENOMINATOR = ("rate", "eb_rate", "eb_rate_spatial", "location_quotient")
PER_MEASURES = ("rate", "eb_rate", "eb_rate_spatial")
# measures of counts (extensive: shared out by area when zones change, never negative)
COUNT_MEASURES = ("volume", "rate", "eb_rate", "eb_rate_spatial", "location_quotient", "density")
CLUSTERING_METHODS = ("field", "gi_star")

SCALINGS = ("zscore", "minmax", "minmax_fixed", "zscore_fixed", "percentile", "rank", "exponential",
            "threshold", "raw")
RANK_BASED = ("percentile", "rank", "exponential")
POSITIVE_SCALINGS = RANK_BASED          # always > 0, so a geometric mean of them is defined
MINMAX_SCALINGS = ("minmax", "minmax_fixed")
# scalings with numbers of their own per indicator (cannot be drawn at random)
NEEDS_PARAMETERS = ("minmax_fixed", "zscore_fixed", "threshold")
# the SCALING enum of buildindex's toolbox mode (positions are kept: saved models use them)
TOOLBOX_SCALINGS = ("minmax", "zscore", "percentile", "rank", "exponential", "raw")
DIRECTIONS = ("higher_is_worse", "lower_is_worse")
MISSING = ("exclude", "zero", "mean")
AGGREGATIONS = ("mean", "sum", "geometric", "imd")
LEVELS = ("issue", "theme", "composite")
INDEX_NEIGHBOURS = ("queen", "rook", "distance", "knn")
# scalings that keep magnitudes: one extreme zone squeezes the others (the z warning is for them)
MAGNITUDE_SCALINGS = ("zscore", "zscore_fixed", "minmax", "minmax_fixed", "raw")
# spatial EB prior: shrunk towards the study-area rate, or the classic local one (GeoDa, esda)
EB_ANCHORS = ("global", "none")
# zones with no recorded incident: below every other zone (lowest class), or ranked by score
NO_INCIDENTS = ("lowest", "score")
# output fields of the index that no theme, issue or indicator may make
RESERVED_FIELDS = ("ci_score", "ci_rank", "ci_decile", "ci_quintile", "top_theme", "top_issue",
                   "ci_excluded", "ci_no_incidents")

# ---------------------------------------------------------------------------------- the grid
# Recipe and toolbox words; grid layers store the short code in their grid_shape field (kept as
# it is so grids written by earlier versions still read).
GRID_SHAPES = ("square", "hexagon_flat", "hexagon_pointy")
GRID_SHAPE_CODES = ("square", "hex_flat", "hex_pointy")
GRID_SHAPE_TITLES = ("Square", "Hexagon (flat top)", "Hexagon (pointy top)")
GRID_KEEP = ("intersects", "centre", "clip")
GRID_KEEP_TITLES = ("Cells that intersect the study area", "Cells whose centre is inside the study area",
                    "Cells clipped to the study area")


def grid_shape_code(shape: str) -> str:
    """``hexagon_flat`` -> ``hex_flat`` (what grid layers store); codes pass through."""
    if shape in GRID_SHAPE_CODES:
        return shape
    return GRID_SHAPE_CODES[GRID_SHAPES.index(shape)]


def grid_shape_word(code: str) -> str:
    """``hex_flat`` (a grid layer's grid_shape) -> ``hexagon_flat``; words pass through."""
    if code in GRID_SHAPES:
        return code
    return GRID_SHAPES[GRID_SHAPE_CODES.index(code)]


# ------------------------------------------------------------------------------------ hotspots
HOTSPOT_NEIGHBOURHOODS = ("queen", "rook", "distance", "knn", "automatic")
HOTSPOT_NEIGHBOURHOOD_TITLES = ("Queen contiguity (shared edge or corner)",
                                "Rook contiguity (shared edge)", "Fixed distance band",
                                "K nearest neighbours", "Automatic (optimised scale)")
GI_BINS = (1, 2, 3)   # |gi_bin|: 90, 95, 99 % confidence

# --------------------------------------------------------------------------------- the gap
GAP_BY = ("decile", "percent")
GAP_WEIGHTING = ("population", "zones")
GAP_WEIGHTING_TITLES = (
    "Population share: the top group holds that share of the residents; means weighted by "
    "population",
    "Zone share: the top group holds that share of the zones; each zone weighs the same")
GAP_MODES = ("cohort", "reselected", "worst_vs_average")
GAP_MODE_TITLES = (
    "Fixed cohort: the first period's top group, followed over time, against everyone else",
    "Re-selected: each period's own top group against everyone else",
    "Worst against average: the first period's top group against the whole area's average")

# ------------------------------------------------------------------------------ the importer
IMPORT_PRESETS = ("generic", "police.uk")
IMPORT_PRESET_TITLES = ("Generic table", "police.uk street-level CSV")
IMPORT_DELIMITERS = ("detect", "comma", "semicolon", "tab", "pipe")
IMPORT_DELIMITER_TITLES = ("Detect", "Comma", "Semicolon", "Tab", "Pipe")
IMPORT_DECIMALS = ("detect", "point", "comma")
IMPORT_DECIMAL_TITLES = ("Detect", "Point", "Comma")


def position(words: tuple, value: object) -> int:
    """The Processing enum position of ``value``: a word of ``words`` or already a position."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not one of {', '.join(words)}")
    if isinstance(value, int) and 0 <= value < len(words):
        return value
    if value in words:
        return words.index(value)
    raise ValueError(f"{value!r} is not one of {', '.join(words)}")


def word(words: tuple, value: object) -> str:
    """The word for ``value``: a word of ``words`` or an enum position of them."""
    return words[position(words, value)]
