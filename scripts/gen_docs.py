"""Write the key tables of docs/recipe.md from the recipe model (``core.model``).

Each table lists a section's keys with their type, default, allowed values, units and help,
as the model declares them; the text between the GENERATED markers is replaced, the rest of the
page is left as it is. ``tests/core/test_docs_tables.py`` fails when the committed page differs.

Usage: ``python scripts/gen_docs.py`` (rewrite) or ``python scripts/gen_docs.py --check``.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DOC = os.path.join(ROOT, "docs", "recipe.md")
BEGIN = "<!-- BEGIN GENERATED {name}: scripts/gen_docs.py writes this part from core/model.py -->"
END = "<!-- END GENERATED {name} -->"


def _sections():
    from composite_index_plugin.core import model

    recipe = [
        (model.Recipe, "The recipe (top level)"),
        (model.Geography, "`geography`"),
        (model.StudyArea, "`study_area`"),
        (model.AdminAreas, "`admin_areas`"),
        (model.Population, "`population`"),
        (model.Period, "`period` (as an object)"),
        (model.Theme, "`themes[]`"),
        (model.Issue, "`themes[].issues[]`"),
        (model.Role, "`roles.victims` / `roles.offenders` / `roles.locations`"),
        (model.Source, "A source (`source`, `ancillary`, `compare.previous[]`)"),
        (model.Import, "`source.import`"),
        (model.Aggregation, "`aggregation`"),
        (model.Hotspots, "`hotspots`"),
        (model.Gap, "`gap`"),
        (model.Baseline, "`baseline`"),
        (model.Compare, "`compare`"),
        (model.Sensitivity, "`sensitivity`"),
        (model.Layout, "`layout`"),
        (model.Output, "`output`"),
    ]
    spec = [
        (model.IndexSpec, "The index spec (top level)"),
        (model.Indicator, "`themes[].issues[].indicators.<name>`"),
        (model.Neighbours, "`neighbours`"),
    ]
    return {"recipe keys": recipe, "index spec keys": spec}


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _namer():
    """A section's name in a type column: the title of its table."""
    titles = {}
    for sections in _sections().values():
        for cls, title in sections:
            titles.setdefault(cls, title)

    def name(cls):
        title = titles.get(cls, "The")
        return "object" + ("" if title.startswith("The ") else f" ({title.split(' (')[0]})")
    return name


def table(cls, title):
    """The markdown of one section: a heading, its docstring, and one row per key."""
    doc = " ".join(line.strip() for line in (cls.__doc__ or "").strip().splitlines())
    lines = [f"### {title}", "", doc, "",
             "| key | type | default | allowed | units | what |",
             "|---|---|---|---|---|---|"]
    from composite_index_plugin.core import schema

    for name, kind, default, allowed, units, help_text in schema.doc_rows(cls, _namer()):
        lines.append(f"| `{name}` | {_cell(kind)} | {_cell(default)} | {_cell(allowed)} | "
                     f"{_cell(units)} | {_cell(help_text)} |")
    return "\n".join(lines)


def generated(text):
    """``text`` (the page) with every generated part written afresh."""
    for name, sections in _sections().items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        body = "\n\n".join(table(cls, title) for cls, title in sections)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise SystemExit(f"{DOC} has no '{begin}' ... '{end}' markers")
        text = pattern.sub(lambda _m, b=body, s=begin, e=end: f"{s}\n{b}\n{e}", text)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the page is current")
    args = parser.parse_args()
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    new = generated(text)
    if args.check:
        if new != text:
            sys.exit(f"{os.path.relpath(DOC, ROOT)} is out of date: run python scripts/gen_docs.py")
        print(f"{os.path.relpath(DOC, ROOT)} is current")
        return
    if new != text:
        with open(DOC, "w", encoding="utf-8") as handle:
            handle.write(new)
        print(f"wrote {os.path.relpath(DOC, ROOT)}")
    else:
        print(f"{os.path.relpath(DOC, ROOT)} is current")


if __name__ == "__main__":
    main()
