"""Recipe filters run through an allow-list of QGIS functions; filter text cannot forge log
lines (issue 15)."""
import re
import sqlite3

import pytest
from qgis.core import QgsExpression

from composite_index_plugin.processing import expressions
from composite_index_plugin.processing.recipe_runner import LOG_CONTINUATION, LogFeedback, log_text
from tests.faults.helpers import problems_of, small_recipe, write_recipe

WHERE = "themes[0].issues[0].roles.locations.filter"


def _with_filter(folder, text):
    recipe = small_recipe()
    recipe["themes"][0]["issues"][0]["roles"]["locations"]["filter"] = text
    return problems_of(write_recipe(folder, recipe))


@pytest.mark.parametrize("text,function", [
    ("eval('\"IMD_decile\" = 1')", "eval"),
    ("env('HOME') IS NOT NULL", "env"),
    ("file_exists('/etc/passwd')", "file_exists"),
    ("\"IMD_decile\" = @user_account_name", "var"),
    ("layer_property('lsoa21', 'path') IS NOT NULL", "layer_property"),
    ("aggregate('lsoa21', 'count', 'fid') > 0", "aggregate"),
    ("get_feature('lsoa21', 'fid', 1) IS NOT NULL", "get_feature"),
    ("overlay_intersects('lsoa21')", "overlay_intersects"),
    ("CASE WHEN \"IMD_decile\" IN (1, length(env('PATH'))) THEN true END", "env"),
    ("upper(eval_template('x')) = 'X'", "eval_template"),
])
def test_dangerous_functions_are_refused_with_the_fix(recipe_dir, text, function):
    found = _with_filter(recipe_dir, text)
    assert WHERE in found, found
    assert f"{function}()" in found[WHERE].message
    assert f"remove {function}()" in found[WHERE].hint


def test_sqlite_fetch_and_increment_never_writes(recipe_dir):
    """The issue's case: the filter inserted rows into another SQLite file."""
    target = recipe_dir / "counter.sqlite"
    con = sqlite3.connect(target)
    con.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    con.commit()
    con.close()
    text = (f"sqlite_fetch_and_increment('{target}', 't', 'v', 'k', 'a', map()) > 0 "
            "OR \"IMD_decile\" = 1")
    found = _with_filter(recipe_dir, text)
    assert "sqlite_fetch_and_increment() (it writes into an SQLite database file)" in \
        found[WHERE].message
    con = sqlite3.connect(target)
    assert con.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    con.close()


@pytest.mark.parametrize("text", [
    "\"IMD_decile\" <= 2", "upper(\"LSOA21NM\") LIKE 'BIRMINGHAM%'", "$area > 1000",
    "regexp_match(\"LSOA21\", '^E0') AND year(now()) > 2000",
    "CASE WHEN \"IMD_decile\" < 3 THEN true ELSE false END",
    "array_contains(array(1, 2), \"IMD_decile\")", "coalesce(\"IMD_decile\", 0) = 1"])
def test_ordinary_filters_pass(recipe_dir, text):
    assert WHERE not in _with_filter(recipe_dir, text)


def test_the_allow_list_is_built_from_qgis_function_groups():
    """Every function QGIS ships is either in an allowed group or refused with a reason; the
    file, layer and general groups are refused whole; a function QGIS does not have is refused."""
    groups = expressions.function_groups()
    assert len(groups) > 300
    for name, group in groups.items():
        why = expressions.refusal(name)
        if any(g in ("Files and Paths", "Map Layers", "Rasters", "General") for g in group) and \
                name != "with_variable":
            assert why, name
    assert expressions.refusal("upper") is None and expressions.refusal("$area") is None
    assert expressions.refusal("load_layer")          # 3.40: Map Layers; 3.22: unknown
    assert "not a function" in expressions.refusal("no_such_function_xyz")


def test_every_node_is_walked():
    expr = QgsExpression("CASE WHEN \"a\" IN (1, abs(-2)) THEN upper('x') ELSE lower('y') END "
                         "= 'X' AND NOT (sqrt(4) > 1)")
    assert {"abs", "upper", "lower", "sqrt"} <= set(expressions.functions_in(expr))


def test_missing_field_and_bad_syntax(recipe_dir):
    assert "unknown field(s) decile" in _with_filter(recipe_dir, "\"decile\" = 1")[WHERE].message
    assert "invalid expression" in _with_filter(recipe_dir, "\"IMD_decile\" = ")[WHERE].message


def test_filter_text_cannot_forge_log_lines():
    """Filter text with line breaks lands on continuation lines marked '|', never at the start of
    a log line; other control characters are shown escaped."""
    forged = "\"a\" = 'x\n12:00:00 ERROR   forged line\r\n12:00:01 INFO    another\x1b[2J'"
    log = LogFeedback(None)
    log.pushInfo(f"filter {forged}")
    log.pushCommandInfo(f"compositeindex:aggregatepat: LOCATIONS_FILTER={forged}")
    lines = "\n".join(log.lines).splitlines()
    entry = re.compile(r"^\d\d:\d\d:\d\d (INFO|COMMAND|STEP|WARNING|ERROR)\s")
    starts = [line for line in lines if entry.match(line)]
    assert len(starts) == 2
    assert all(entry.match(line) or line.startswith(LOG_CONTINUATION) for line in lines)
    assert not any(line.startswith("12:00:0") for line in lines)
    assert "\\x1b" in log_text("\x1b") and "\\r" in log_text("a\rb")
