"""Filter expressions: parsed and their fields checked before a run, and - for recipes - limited
to an allow-list of QGIS functions.

A recipe comes from someone else, and a QGIS expression can do far more than select features:
``sqlite_fetch_and_increment`` writes into any SQLite file, ``eval`` runs text as an expression,
``env`` reads environment variables, ``file_exists`` / ``exif`` / ``load_layer`` look at the file
system, ``aggregate`` / ``get_feature`` / ``overlay_*`` read other layers. So a recipe filter may
call only functions of the groups that compute on the feature itself (text, numbers, dates,
arrays, maps, colours, conversions, conditionals, geometry, the feature's own attributes), minus
the few of those that reach outside it. The allow-list is built from QGIS's own function list
(``QgsExpression.Functions()``) by group, so a function added by a later QGIS, a plugin or a
user script is refused until it is looked at; the expression is parsed with ``QgsExpression``
and its nodes walked, so a function nested anywhere (inside CASE, IN, arguments) is found.

    problem = check_expression(text, fields, recipe=True)   # None, or (message, hint)
"""
from qgis.core import (
    QgsExpression,
    QgsExpressionNode,
    QgsExpressionNodeBinaryOperator,
    QgsExpressionNodeColumnRef,
    QgsExpressionNodeCondition,
    QgsExpressionNodeFunction,
    QgsExpressionNodeInOperator,
    QgsExpressionNodeUnaryOperator,
)

# Groups whose functions compute on the values of the feature itself.
ALLOWED_GROUPS = ("Arrays", "Conditionals", "Conversions", "Date and Time", "Fuzzy Matching",
                  "Math", "String", "Maps", "Color", "GeometryGroup", "Record and Attributes",
                  "Aggregates")
# ...but not these members of them, nor these of any group: why each is refused.
REFUSED = {
    "sqlite_fetch_and_increment": "it writes into an SQLite database file",
    "eval": "it evaluates text as an expression",
    "eval_template": "it evaluates text as an expression",
    "env": "it reads the environment variables of the computer",
    "var": "it reads QGIS variables (@...) of the user's profile and project",
    "load_layer": "it opens a file as a layer",
    "layer_property": "it reads the properties (file paths) of other layers",
    "decode_uri": "it reads the sources (file paths) of other layers",
    "aggregate": "it reads other layers",
    "relation_aggregate": "it reads other layers",
    "get_feature": "it reads other layers",
    "get_feature_by_id": "it reads other layers",
    "exif_geotag": "it reads files",
    "is_selected": "it reads the selection in the open project",
    "num_selected": "it reads the selection in the open project",
    "display_expression": "it evaluates the layer's display expression",
    "maptip": "it evaluates the layer's map tip",
}
GROUP_REASONS = {
    "Files and Paths": "it reads the file system",
    "General": "it reads the environment, variables or evaluates text",
    "Map Layers": "it reads other layers",
    "Rasters": "it reads raster layers",
    "Layout": "it reads print layouts",
    "Form": "it reads an open form",
    "Processing": "it reads Processing parameters",
}
FILTER_HINT = ("a recipe filter may compare fields and use QGIS functions for text, numbers, "
               "dates, arrays and geometry of the feature itself; to select features another "
               "way, make the layer yourself (e.g. with Extract by expression) and name it in "
               "the recipe")

_GROUPS = None


def function_groups() -> dict:
    """{function name: (group, ...)} of every function this QGIS knows."""
    global _GROUPS
    if _GROUPS is None:
        found = {}
        for function in QgsExpression.Functions():
            found[function.name().lower()] = tuple(function.groups())
            for alias in function.aliases() or []:
                found[alias.lower()] = tuple(function.groups())
        _GROUPS = found
    return _GROUPS


def refusal(name: str):
    """Why a recipe filter may not call the function ``name`` (None: it may)."""
    key = name.lower()
    if key in REFUSED:
        return REFUSED[key]
    if key.startswith("overlay_"):
        return "it reads other layers"
    groups = function_groups().get(key)
    if not groups:
        return "it is not a function this version of QGIS ships"
    if any(g in ALLOWED_GROUPS for g in groups):
        return None
    for group in groups:
        if group in GROUP_REASONS:
            return GROUP_REASONS[group]
    return f"it belongs to the function group {'/'.join(groups)!r}, which recipes may not use"


def _function_name(node):
    functions = QgsExpression.Functions()
    index = node.fnIndex()
    return functions[index].name() if 0 <= index < len(functions) else "?"


def _children(node):
    if isinstance(node, QgsExpressionNodeFunction):
        args = node.args()
        return list(args.list()) if args is not None else []
    if isinstance(node, QgsExpressionNodeBinaryOperator):
        return [node.opLeft(), node.opRight()]
    if isinstance(node, QgsExpressionNodeUnaryOperator):
        return [node.operand()]
    if isinstance(node, QgsExpressionNodeInOperator):
        return [node.node()] + list(node.list().list())
    if isinstance(node, QgsExpressionNodeCondition):
        out = []
        for when_then in node.conditions():
            out += [when_then.whenExp(), when_then.thenExp()]
        return out + ([node.elseExp()] if node.elseExp() is not None else [])
    out = []   # index and between operators (newer QGIS), read through their accessors
    for accessor in ("container", "index", "node", "lowerBound", "higherBound"):
        child = getattr(node, accessor, None)
        if callable(child):
            value = child()
            if isinstance(value, QgsExpressionNode):
                out.append(value)
    return out


def functions_in(expression: QgsExpression) -> list:
    """Every function an expression calls (walking its nodes), with QGIS's own list as a
    check, so that a node kind this walker does not know cannot hide a function."""
    found, todo = [], [expression.rootNode()] if expression.rootNode() is not None else []
    while todo:
        node = todo.pop()
        if node is None:
            continue
        if isinstance(node, QgsExpressionNodeFunction):
            found.append(_function_name(node))
        todo.extend(_children(node))
    for name in sorted(expression.referencedFunctions()):
        if name not in found:
            found.append(name)
    return list(dict.fromkeys(found))


def columns_in(expression: QgsExpression) -> list:
    """The field names an expression reads (not QGIS's "all attributes" marker)."""
    names = [c for c in expression.referencedColumns() if c and not c.startswith("#!")]
    todo = [expression.rootNode()]
    while todo:
        node = todo.pop()
        if node is None:
            continue
        if isinstance(node, QgsExpressionNodeColumnRef) and node.name() not in names:
            names.append(node.name())
        todo.extend(_children(node))
    return sorted(set(names))


def check_expression(text, fields=None, recipe=False, what="filter"):
    """``None`` when ``text`` is a usable filter, else ``(message, hint)``: it cannot be parsed,
    it reads a field that does not exist (``fields``: names or a QgsFields; matched as QGIS
    does, exact first, then ignoring case), or - for a recipe - it calls a function outside the
    allow-list (named, with why)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if not isinstance(text, str):
        return (f"the {what} must be a text, not {type(text).__name__}",
                "write a QGIS expression, e.g. \"issue\" = 'burglary'")
    expression = QgsExpression(text)
    if expression.hasParserError():
        return (f"invalid expression: {expression.parserErrorString()}",
                "use QGIS expression syntax, e.g. \"issue\" = 'burglary' (field names in double "
                "quotes, text in single quotes)")
    if recipe:
        refused = [(name, refusal(name)) for name in functions_in(expression)]
        refused = [(name, why) for name, why in refused if why]
        if refused:
            listed = "; ".join(f"{name}() ({why})" for name, why in refused)
            return (f"the {what} uses a function a recipe may not call: {listed}",
                    f"remove {', '.join(n + '()' for n, _ in refused)}: {FILTER_HINT}")
    if fields is not None:
        names = list(fields.names()) if hasattr(fields, "names") else list(fields)
        lower = {n.lower() for n in names}
        missing = [c for c in columns_in(expression) if c not in names and c.lower() not in lower]
        if missing:
            return (f"unknown field(s) {', '.join(missing)}",
                    "fields that exist: " + ", ".join(sorted(names)))
    return None


def raw_expression(parameters, key):
    """The text given for an expression parameter, as given (QGIS 3.22's
    ``parameterAsExpression`` answers "" for an expression it cannot parse, which would drop
    the filter silently)."""
    value = parameters.get(key)
    if value is None:
        return ""
    if hasattr(value, "staticValue") and hasattr(value, "propertyType"):   # a QgsProperty
        value = value.staticValue() if value.propertyType() == 1 else value.asExpression()
    return value if isinstance(value, str) else str(value)
