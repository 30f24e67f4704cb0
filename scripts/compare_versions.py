"""Same results on every QGIS version: compare demo runs made from the same input files.

    python3 scripts/compare_versions.py output/ci/demo-3.22 output/ci/demo-3.40 output/ci/demo-3.44

Each folder is the output of ``scripts/demo.py`` (the QGIS version matrix runs it on each version
with ``--inputs`` pointing at one set of input files, because numpy's random streams may differ
between versions). Checks, against the first folder:
- ``ci_score`` of every cell in the ``index`` layer of ``results.gpkg`` equal within 1e-9 (same
  cells, by ``cell_id``), for the last year and the first year (``<folder>/2024``);
- ``mean_score`` of every area in ``area_summary`` equal within 1e-9;
- ``assessment.pdf`` has the same number of pages (11 for the Birmingham demo) in each.
Reads the GeoPackages with plain SQLite (no QGIS needed). Exit status 1 on any difference.
"""
import os
import re
import sqlite3
import sys

TOLERANCE = 1e-9


def table(gpkg, layer, key, value):
    with sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True) as db:
        rows = db.execute(f'SELECT "{key}", "{value}" FROM "{layer}"').fetchall()
    return {k: v for k, v in rows}


def pdf_pages(path):
    """Page objects in a PDF written by Qt (no compressed object streams)."""
    with open(path, "rb") as handle:
        data = handle.read()
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def compare(name, ref, other, label):
    problems = []
    if set(ref) != set(other):
        problems.append(f"{label}: {name}: {len(set(ref) ^ set(other))} keys differ")
        return problems, float("nan")
    worst = 0.0
    for key, a in ref.items():
        b = other[key]
        if a is None or b is None:
            if (a is None) != (b is None):
                problems.append(f"{label}: {name}[{key}] is {a} vs {b}")
            continue
        worst = max(worst, abs(a - b))
    if worst > TOLERANCE:
        problems.append(f"{label}: {name} differs by up to {worst:.3g} (> {TOLERANCE:g})")
    return problems, worst


def main(folders):
    if len(folders) < 2:
        sys.exit(__doc__)
    ref_dir = folders[0]
    problems = []
    for folder in folders:
        for need in ("results.gpkg", "assessment.pdf"):
            if not os.path.isfile(os.path.join(folder, need)):
                problems.append(f"{folder}: no {need}")
    if problems:
        print("\n".join(problems))
        return 1
    pages = {f: pdf_pages(os.path.join(f, "assessment.pdf")) for f in folders}
    for folder in folders:
        print(f"{folder}: assessment.pdf has {pages[folder]} pages")
        if pages[folder] != pages[ref_dir]:
            problems.append(f"{folder}: {pages[folder]} PDF pages, {ref_dir} has {pages[ref_dir]}")
    for sub in ("", "2024"):
        ref_gpkg = os.path.join(ref_dir, sub, "results.gpkg")
        if not os.path.isfile(ref_gpkg):
            continue
        ref_cells = table(ref_gpkg, "index", "cell_id", "ci_score")
        ref_areas = table(ref_gpkg, "area_summary", "area_name", "mean_score")
        for folder in folders[1:]:
            gpkg = os.path.join(folder, sub, "results.gpkg")
            label = (f"{folder}/{sub} vs {ref_dir}/{sub}" if sub else f"{folder} vs {ref_dir}")
            p1, worst_cells = compare("ci_score", ref_cells, table(gpkg, "index", "cell_id", "ci_score"),
                                      label)
            p2, worst_areas = compare("mean_score", ref_areas,
                                      table(gpkg, "area_summary", "area_name", "mean_score"), label)
            problems += p1 + p2
            print(f"{label}: {len(ref_cells):,} cells, max |ci_score diff| {worst_cells:.3g}; "
                  f"{len(ref_areas)} areas, max |mean_score diff| {worst_areas:.3g}")
    if problems:
        print("DIFFERENT:\n  " + "\n  ".join(problems))
        return 1
    print(f"The same results on all {len(folders)} runs (within {TOLERANCE:g}).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
