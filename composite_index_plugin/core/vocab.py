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

# Readable labels and tooltips of the index's choices, for the Builder, the docs and the
# toolbox: {word: (label, tooltip)}. Every word of MEASURES, SCALINGS, DIRECTIONS, MISSING and
# AGGREGATIONS has one (a test checks).
MEASURE_TEXT = {
    "value": ("Value as it is", "The field's own number, unchanged (for a zone layer that "
              "already holds a score or rate)."),
    "volume": ("Count (volume)", "How many incidents fall in the zone (or the sum of the weight "
               "field): where the demand is."),
    "rate": ("Rate per population", "Count / denominator x per (e.g. per 1,000 residents): the "
             "risk of a resident. Unstable where few people live."),
    "eb_rate": ("Empirical Bayes rate (smoothed towards the average)",
                "A rate pulled towards the study area's average, more so where the denominator "
                "is small: steadier than the raw rate for small populations."),
    "eb_rate_spatial": ("Spatial empirical Bayes rate (smoothed with neighbours)",
                        "A rate pulled towards the rate of the zone's neighbourhood, more so "
                        "where the denominator is small: steady and still local."),
    "location_quotient": ("Location quotient (share compared with the whole area)",
                          "(count / denominator) / (total count / total denominator): above 1 "
                          "the zone has more of this issue than its share."),
    "density": ("Density per km²", "Count per square kilometre of the zone: for zones of "
                "different sizes."),
    "clustering": ("Clustering score (Getis-Ord Gi*)",
                   "How much the zone and its neighbours together stand out: the Gi* z-score of "
                   "the count (or of the rate, with a denominator), or a clustering field as it "
                   "is."),
}
SCALING_TEXT = {
    "zscore": ("z-score (distance from the mean in SDs)",
               "(value - mean) / standard deviation: keeps the gaps between zones; can be "
               "negative."),
    "minmax": ("Min-max (0 to 1)", "Lowest zone 0, highest 1 (or 'scale to'): keeps the gaps, "
               "sensitive to one extreme zone."),
    "minmax_fixed": ("Min-max on a fixed range", "0 at the given minimum, 1 at the given "
                     "maximum: scores comparable between runs."),
    "zscore_fixed": ("z-score on a fixed mean and SD", "(value - given mean) / given SD: scores "
                     "comparable between runs."),
    "percentile": ("Percentile (1-100)", "The zone's position in the ranking, 100 for the "
                   "highest need: ignores the size of the gaps."),
    "rank": ("Rank (1 to number of zones)", "Zones ranked, the highest need ranked highest."),
    "exponential": ("Exponential transform of the rank (as the IMD)",
                    "The rank stretched so the highest-need zones stand out (0-100, about 10 % "
                    "of zones above 50), as the English Indices of Deprivation do."),
    "threshold": ("Threshold (1 at or beyond it, else 0)", "Counts the zone only when the value "
                  "reaches the given threshold."),
    "raw": ("No scaling (raw values)", "The measured values as they are: only for indicators "
            "already on one scale."),
}
DIRECTION_TEXT = {
    "higher_is_worse": ("Higher is worse", "More of it means more need (e.g. crimes)."),
    "lower_is_worse": ("Lower is worse", "Less of it means more need (e.g. guardianship, "
                       "street lighting): the indicator is turned round."),
}
MISSING_TEXT = {
    "exclude": ("Leave the zone out", "A zone with no value (an empty field or a zero "
                "denominator) gets no index score and is counted as excluded."),
    "zero": ("Count it as 0", "A zone with no value scores as if it had none of it."),
    "mean": ("Give it the average", "A zone with no value gets the mean of the other zones."),
}
AGGREGATION_TEXT = {
    "mean": ("Weighted mean", "The weighted average of the parts."),
    "sum": ("Weighted sum", "The parts added up with their weights."),
    "geometric": ("Weighted geometric mean", "A low part pulls the whole down (less "
                  "compensation); needs parts that are always above zero."),
    "imd": ("IMD method (exponential transform of ranks, then weighted sum)",
            "Each part ranked and transformed as in the English Indices of Deprivation, then "
            "added with its weight."),
}
GEOGRAPHY_TYPES = ("grid", "zones")
GEOGRAPHY_TEXT = {
    "grid": ("Grid over the study area", "Square or hexagonal cells of one size cover the study "
             "area."),
    "zones": ("Zones layer", "A polygon layer (LSOAs, wards, beats, or the hotspot zones of an "
              "earlier run)."),
}


def label(texts: dict, value: object) -> str:
    """The readable label of a word (the word itself when it has none)."""
    return texts[value][0] if value in texts else str(value)


def tip(texts: dict, value: object) -> str:
    """The tooltip of a word ("" when it has none)."""
    return texts[value][1] if value in texts else ""


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
# the period field of the clean points (the PERIOD enum of importincidents, in its order)
IMPORT_PERIODS = ("month", "year", "financial_year", "none")
IMPORT_PERIOD_TITLES = ("Month (yyyy-mm)", "Calendar year (yyyy)",
                        "Financial year, April to March (yyyy/yy)", "No period field")
# categories to issues in one pass (the CATEGORY_PRESET enum of aggregatepat, in its order)
CATEGORY_PRESETS = ("none", "police.uk")
CATEGORY_PRESET_TITLES = ("None: the issue is the category, in lowercase_with_underscores",
                          "police.uk crime types (resources/presets/policeuk_crime_types.csv)")


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
