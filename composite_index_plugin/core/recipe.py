"""Recipe files: reading one (bad JSON named by line and column), resolving its relative paths,
and the one validator (``core.model``: every key is declared there).

``validate_recipe(doc)`` lists every structural problem at once, each with its JSON path, what
is wrong and how to fix it. Whether files, layers and fields exist is checked by the runner
(it needs OGR / QGIS), also before any work. See docs/recipe.md for the keys.
"""
import json
import os

from composite_index_plugin.core import model
from composite_index_plugin.core.errors import Problem, RecipeError
from composite_index_plugin.core.schema import Context

RECIPE_VERSION = model.RECIPE_VERSION

__all__ = ["RECIPE_VERSION", "Problem", "RecipeError", "load_recipe", "read_recipe",
           "resolve_path", "validate_recipe", "validate_source"]


def load_recipe(path: str) -> dict:
    """Read a recipe file (JSON data). Bad JSON becomes a RecipeError with the line and column."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as err:
        raise RecipeError([Problem("$", f"cannot read the recipe file {path}: {err.strerror}",
                                   "check the path")]) from err
    try:
        return json.loads(text)
    except RecursionError as err:
        raise RecipeError([Problem("$", "the JSON is nested too deeply to read (objects or lists "
                                        "inside each other thousands of levels down)",
                                   "a recipe is a few levels deep: check that this is a recipe "
                                   "file")], path) from err
    except json.JSONDecodeError as err:
        raise RecipeError([Problem("$", f"not valid JSON at line {err.lineno}, column {err.colno}: "
                                        f"{err.msg}", "fix the JSON syntax (a JSON linter helps)")],
                          path) from err


def read_recipe(path: str) -> model.Recipe:
    """The recipe of a file as the typed model; a RecipeError lists every problem."""
    recipe, problems = model.parse(load_recipe(path))
    if problems:
        raise RecipeError(problems, path)
    return recipe


def resolve_path(path, base_dir):
    """Recipe paths are relative to the recipe file's folder."""
    if path is None:
        return None
    path = os.path.expanduser(str(path))
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


def validate_recipe(recipe) -> list:
    """Every structural problem in ``recipe`` (a dict), as a list of Problem. Empty = valid."""
    return model.parse(recipe)[1]


def validate_source(source, path: str = "source") -> list:
    """Problems of one data source (file, project layer, URI or database), as in a recipe."""
    ctx = Context("recipe")
    model.Source.parse(source, ctx, path)
    return ctx.problems
