"""Check a plugin ZIP against the rules the QGIS plugin repository (plugins.qgis.org) applies on
upload, and a few of the publishing guidelines, before anyone uploads it.

    python3 scripts/check_package.py dist/composite_index_plugin-<version>.zip

The repository's upload validator (QGIS-Django, ``plugins/validator.py``, read 2026-11) refuses
a package when: it is over 25 MB; a member path holds ``..`` or starts with ``/``; it holds a
``.pyc`` file or a ``__MACOSX``, ``.git`` or ``__pycache__`` folder; the ZIP is damaged; there is
no top folder, or the top folder's name does not match ``^[A-Za-z][A-Za-z0-9-_]+$``; the top
folder lacks ``__init__.py``; ``metadata.txt`` has no ``[general]`` section or misses a required
key (name, description, version, qgisMinimumVersion, author, email, about, tracker,
repository); the tracker/repository/homepage is not a URL; there is no ``LICENSE`` in the top
folder; the author contains a slash. It warns about more than one top folder. The PyQGIS
cookbook adds: ``category`` is one of Raster, Vector, Database, Mesh, Web; an icon is given. We
add what our own guidelines ask: no documentation images (they live on the project's web pages)
and no test, venv or output folders. The URLs are checked for form only (no network here).

Prints every problem; exit status 1 when there is one. ``problems(path)`` returns the list.
"""
import configparser
import io
import os
import re
import sys
import zipfile
from urllib.parse import urlparse

MAX_BYTES = 25_000_000
REQUIRED = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about",
            "tracker", "repository")
CATEGORIES = ("Raster", "Vector", "Database", "Mesh", "Web")
FORBIDDEN_DIRS = ("__MACOSX", ".git", "__pycache__")
OUR_FORBIDDEN_DIRS = ("tests", ".venv", "output", "dist", "images")


def problems(path):
    out = []
    if os.path.getsize(path) > MAX_BYTES:
        out.append(f"the ZIP is {os.path.getsize(path) / 1e6:.1f} MB, over the repository's 25 MB")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        return out + [f"not a ZIP file: {err}"]
    with archive:
        names = archive.namelist()
        for name in names:
            parts = name.split("/")
            if ".." in name or name.startswith("/"):
                out.append(f"{name}: path information ('..' or a leading '/') is refused")
            if ".pyc" in name:
                out.append(f"{name}: compiled Python is refused")
            for bad in FORBIDDEN_DIRS:
                if bad in parts:
                    out.append(f"{name}: a '{bad}' folder is refused")
            for bad in OUR_FORBIDDEN_DIRS:
                if bad in parts[1:-1]:
                    out.append(f"{name}: a '{bad}' folder does not belong in the plugin")
        damaged = archive.testzip()
        if damaged:
            out.append(f"damaged ZIP member: {damaged}")
        tops = sorted({n.split("/")[0] for n in names})
        if len(tops) != 1 or not names or "/" not in names[0]:
            out.append(f"the ZIP must hold exactly one top folder, it holds {tops}")
            return out
        top = tops[0]
        if not re.match(r"^[A-Za-z][A-Za-z0-9-_]+$", top):
            out.append(f"top folder name {top!r} must be ASCII letters, digits, '-' or '_'")
        for needed in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{top}/{needed}" not in names:
                out.append(f"{top}/{needed} is missing")
        if f"{top}/metadata.txt" not in names:
            return out
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        try:
            parser.read_file(io.StringIO(archive.read(f"{top}/metadata.txt").decode("utf-8")))
        except (configparser.Error, UnicodeDecodeError) as err:
            return out + [f"metadata.txt cannot be read: {err}"]
        if not parser.has_section("general"):
            return out + ["metadata.txt has no [general] section"]
        meta = dict(parser.items("general"))
        for key in REQUIRED:
            if not meta.get(key, "").strip():
                out.append(f"metadata.txt: {key} is missing or empty")
        for key in ("tracker", "repository", "homepage"):
            if key in meta:
                url = urlparse(meta[key].strip())
                if not (url.scheme in ("http", "https") and url.netloc):
                    out.append(f"metadata.txt: {key} is not a web address: {meta[key]!r}")
        if "/" in meta.get("author", ""):
            out.append("metadata.txt: the author cannot contain '/'")
        if meta.get("category") and meta["category"].strip() not in CATEGORIES:
            out.append(f"metadata.txt: category {meta['category']!r} is not one of {', '.join(CATEGORIES)}")
        icon = meta.get("icon", "").strip()
        if not icon:
            out.append("metadata.txt: no icon")
        elif f"{top}/{icon.removeprefix('./')}" not in names:
            out.append(f"metadata.txt: the icon {icon} is not in the ZIP")
        if not re.match(r"^\d+\.\d+(\.\d+)?$", meta.get("qgisMinimumVersion", "")):
            out.append("metadata.txt: qgisMinimumVersion must look like 3.22")
        if not re.match(r"^\d+(\.\d+){1,3}([-.]?\w+)?$", meta.get("version", "")):
            out.append(f"metadata.txt: version {meta.get('version')!r} is not a version number")
        for flag in ("experimental", "deprecated", "server", "hasProcessingProvider", "supportsQt6"):
            if flag in meta and meta[flag].strip().lower() not in ("true", "false", "yes", "no", "1", "0"):
                out.append(f"metadata.txt: {flag} must be True or False, not {meta[flag]!r}")
    return out


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    found = problems(argv[0])
    for p in found:
        print(f"- {p}")
    print(f"{argv[0]}: {'OK, the repository rules hold' if not found else f'{len(found)} problem(s)'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
