"""The index spec of `buildindex` and `sensitivity`: JSON text or the path of a .json file,
read into the typed model (``core.model``) once, with every problem listed."""
import json
import os

from qgis.core import QgsProcessingException

from composite_index_plugin.core import model


def read_spec_text(text):
    """The JSON data of a spec given as JSON text or as the path of a .json file."""
    text = (text or "").strip()
    where = "the SPEC text"
    if not text:
        raise QgsProcessingException("No index spec given: paste the spec's JSON or give the "
                                     "path of a .json file.")
    if not text.startswith("{") and os.path.isfile(text):
        where = f"the spec file {text}"
        try:
            with open(text, encoding="utf-8-sig") as handle:
                text = handle.read()
        except OSError as err:
            raise QgsProcessingException(f"Could not read {where}: {err}.") from err
    elif not text.startswith("{"):
        raise QgsProcessingException(
            f"SPEC is neither JSON (it does not start with '{{') nor an existing file: {text[:80]!r}.")
    try:
        return json.loads(text)
    except RecursionError as err:
        raise QgsProcessingException(
            f"{where} is nested too deeply to read (objects or lists inside each other thousands "
            "of levels down): an index spec is a few levels deep.") from err
    except json.JSONDecodeError as err:
        raise QgsProcessingException(
            f"{where} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}.") from err


def raise_problems(problems, what="The index spec"):
    if problems:
        raise QgsProcessingException(f"{what} has {len(problems)} problem(s):\n"
                                     + "\n".join(f"- {p}" for p in problems))


def read_spec(text, columns=None):
    """The ``model.IndexSpec`` of SPEC (an index spec, or a whole recipe: its themes); with
    ``columns`` ({field: numeric?}) the fields it reads are checked too. Every problem is
    listed in one QgsProcessingException."""
    spec, problems = model.parse_spec(read_spec_text(text))
    if columns is not None and isinstance(spec, model.IndexSpec):
        problems = problems + model.check_columns(spec, columns)
    raise_problems(problems)
    return spec
