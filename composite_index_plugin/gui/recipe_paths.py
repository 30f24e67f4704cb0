"""Pure helpers between the Builder and recipe files (no QGIS, no Qt): relative and absolute
paths, the sources of a recipe, JSON paths of the themes, and the grid's cell-count estimate.

Recipe paths are relative to the recipe file's folder (docs/recipe.md). Inside the Builder every
path is absolute; ``relativize`` makes them relative when a recipe is saved, ``absolutize``
undoes that when one is opened.
"""
import copy
import math
import os
import re

from composite_index_plugin.core import model

# Keys of an import spec that are files (resolved by the runner relative to the recipe).
_IMPORT_FILE_KEYS = model.Import.FILE_KEYS
_PATH_RE = re.compile(r"^themes\[(\d+)\](?:\.issues\[(\d+)\](?:\.roles\.(victims|offenders|locations))?)?"
                      r"(?:\.(.*))?$")


def source_dicts(recipe):
    """Every (json path, source dict) in a recipe, in document order."""
    out = []
    for key in ("study_area", "population", "admin_areas"):
        part = recipe.get(key)
        if isinstance(part, dict) and isinstance(part.get("source"), dict):
            out.append((key, part["source"]))
    pop = recipe.get("population")
    if isinstance(pop, dict) and isinstance(pop.get("ancillary"), dict):
        out.append(("population.ancillary", pop["ancillary"]))
    if isinstance(pop, dict) and isinstance(pop.get("table"), dict):
        out.append(("population.table", pop["table"]))
    geo = recipe.get("geography")
    if isinstance(geo, dict) and isinstance(geo.get("source"), dict):
        out.append(("geography", geo["source"]))
    for t, theme in enumerate(recipe.get("themes") or []):
        for i, issue in enumerate((theme or {}).get("issues") or []):
            for role, spec in ((issue or {}).get("roles") or {}).items():
                if isinstance(spec, dict) and isinstance(spec.get("source"), dict):
                    out.append((f"themes[{t}].issues[{i}].roles.{role}", spec["source"]))
    compare = recipe.get("compare")
    if isinstance(compare, dict):
        for k, ref in enumerate(compare.get("previous") or []):
            if isinstance(ref, dict):
                out.append((f"compare.previous[{k}]", ref))
    return out


def _map_paths(recipe, func):
    recipe = copy.deepcopy(recipe)
    for _path, source in source_dicts(recipe):
        if isinstance(source.get("path"), str):
            source["path"] = func(source["path"])
        imp = source.get("import")
        if isinstance(imp, dict):
            for key in _IMPORT_FILE_KEYS:
                if isinstance(imp.get(key), str):
                    imp[key] = func(imp[key])
    base = recipe.get("baseline")
    if isinstance(base, dict):
        for key in ("read", "write"):
            if isinstance(base.get(key), str):
                base[key] = func(base[key])
    out = recipe.get("output")
    if isinstance(out, dict) and isinstance(out.get("folder"), str):
        out["folder"] = func(out["folder"])
    return recipe


def absolutize(recipe, base_dir):
    """Every path of ``recipe`` made absolute against ``base_dir`` (the recipe's folder)."""
    def to_abs(path):
        path = os.path.expanduser(path)
        return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))
    return _map_paths(recipe, to_abs)


def relativize(recipe, base_dir):
    """Every absolute path of ``recipe`` made relative to ``base_dir``, with / separators
    (a path on another drive stays absolute)."""
    def to_rel(path):
        if not os.path.isabs(path):
            return path
        try:
            rel = os.path.relpath(path, base_dir)
        except ValueError:   # another drive on Windows
            return path
        return rel.replace(os.sep, "/")
    return _map_paths(recipe, to_rel)


def split_path(path):
    """``themes[0].issues[1].roles.victims.filter`` -> (0, 1, "victims", "filter"); a path
    outside the themes -> (None, None, None, path)."""
    match = _PATH_RE.match(path or "")
    if not match:
        return None, None, None, path
    t, i, role, rest = match.groups()
    return int(t), (int(i) if i is not None else None), role, (rest or "")


def node_path(t, i=None, role=None):
    """The JSON path of a theme, an issue or a role: the inverse of ``split_path``."""
    path = f"themes[{t}]"
    if i is not None:
        path += f".issues[{i}]"
        if role is not None:
            path += f".roles.{role}"
    return path


def source_text(source):
    """How a source is named in the window: a file (and its layer), a project layer, a URI."""
    if not isinstance(source, dict):
        return "(no layer)"
    if "path" in source:
        base = os.path.basename(str(source["path"]))
        text = base + (f" ▸ {source['layer']}" if source.get("layer") else "")
        return text + (" (imported)" if "import" in source else "")
    for key in ("project_layer", "uri", "table"):
        if source.get(key):
            return str(source[key])
    return "(no layer)"


def cell_area(shape, size, size_is_area=False):
    """Area of one grid cell: a square of side ``size``, or a hexagon ``size`` wide flat to flat
    (area = sqrt(3)/2 * size^2); ``size_is_area`` means ``size`` is the area itself."""
    if size <= 0:
        return 0.0
    if size_is_area:
        return float(size)
    if shape == "square":
        return float(size) ** 2
    return math.sqrt(3.0) / 2.0 * float(size) ** 2


def estimate_cells(area_m2, shape, size, size_is_area=False):
    """Cells needed to tile ``area_m2`` (the study area / one cell; cells cut by the edge add a
    few more when every intersecting cell is kept)."""
    a = cell_area(shape, size, size_is_area)
    if a <= 0 or area_m2 <= 0:
        return 0
    return int(round(area_m2 / a))
