"""Build the plugin ZIP QGIS installs: one top folder composite_index_plugin/ holding the code,
metadata.txt, LICENSE, resources/, ui/ and docs/ (the guides, without their images: those are
for the project's web pages and would add about 2 MB to every install), and i18n/ with a .qm
catalogue compiled from each translation i18n/composite_index_<locale>.ts (scripts/translations.py).

Only files git tracks go in (as they are in the working tree), so caches, venvs and outputs
never ship. Usage: python scripts/package.py --out dist/composite_index_plugin-<version>.zip
"""
import argparse
import os
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "composite_index_plugin"
# top-level entries that go inside the package folder of the ZIP
EXTRA = ("metadata.txt", "LICENSE", "resources", "ui", "docs", "README.md")
# tracked paths under EXTRA that stay out of the ZIP
LEFT_OUT = ("docs/images/",)


def tracked_files():
    out = subprocess.run(["git", "ls-files", "-z", "--cached"], cwd=ROOT, check=True,
                         capture_output=True).stdout.decode("utf-8")
    return [f for f in out.split("\0") if f]


def build(out_path):
    files = []
    for rel in tracked_files():
        top = rel.split("/", 1)[0]
        if not os.path.exists(os.path.join(ROOT, rel)):
            continue  # deleted in the working tree
        if top == PACKAGE:
            files.append((rel, rel))
        elif top in EXTRA and not rel.startswith(LEFT_OUT):
            files.append((rel, f"{PACKAGE}/{rel}"))
    bad = [arc for _, arc in files if "__pycache__" in arc or arc.endswith((".pyc", ".pyo"))]
    if bad:
        sys.exit(f"refusing to package caches: {bad[:3]}")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import tempfile

    import translations

    tracked = {os.path.join(ROOT, rel) for rel in tracked_files()}
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as archive, \
            tempfile.TemporaryDirectory() as tmp:
        for rel, arc in sorted(files, key=lambda x: x[1]):
            archive.write(os.path.join(ROOT, rel), arc)
        for ts in translations.language_files():
            if ts not in tracked:
                continue
            qm = os.path.join(tmp, os.path.splitext(os.path.basename(ts))[0] + ".qm")
            translations.write_qm(qm, translations.read_ts(ts)[0])
            archive.write(qm, f"{PACKAGE}/i18n/{os.path.basename(qm)}")
            files.append((ts, qm))
    return out_path, len(files)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    path, n = build(args.out)
    print(f"wrote {os.path.relpath(path, ROOT)} ({n} files, {os.path.getsize(path) / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
