"""Output folders that can be moved, copied or sent to a colleague.

A recipe run writes everything the project needs inside its output folder and names it relative
to the project: the layers (QGIS saves relative paths), the layout data, charts and north arrow
(``<project>_files``, see ``export_assessment``), and the area outlines (read from the results
GeoPackage, not from the recipe's inputs). A copied folder therefore opens anywhere.

Two things still carry the folder's absolute path: QGIS's fallback references of layout items
(a layer's source beside its id, used only when the id is not found) and the text outputs (run
log, HTML reports). A run that is written in one folder and then moved (the Builder's staging
folder, published when the run has finished) calls ``relocate`` so that none of them names the
folder the files no longer are in: the recipe runner before it moves a finished run out of its
staging folder (``RecipeRunner._run``), the Builder when it publishes its own (``publish``).
"""
import os
import re
import tempfile
import zipfile

TEXT_SUFFIXES = (".log", ".html", ".qgs")


def _pattern(old_folder):
    """``old_folder`` as written by Python (native separators) and by QGIS ('/'), followed by a
    separator, a quote, a pipe, whitespace or the end (so /x/out never matches /x/out2)."""
    old = os.path.abspath(old_folder).rstrip("/\\")
    forms = sorted({old, old.replace(os.sep, "/")}, key=len, reverse=True)
    return re.compile("(?:" + "|".join(re.escape(f) for f in forms) + ")" +
                      r"(?=[/\\\"'|<>&\s]|$)")


def _rewrite_text(text, pattern, new_folder):
    new = os.path.abspath(new_folder).rstrip("/\\")
    out, n = pattern.subn(lambda m: new if os.sep in m.group(0) else new.replace(os.sep, "/"),
                          text)
    return out, n


def _rewrite_qgz(path, pattern, new_folder):
    """Rewrite the .qgs inside a .qgz (the other members are copied as they are)."""
    changed = 0
    handle, tmp = tempfile.mkstemp(suffix=".qgz", dir=os.path.dirname(path))
    os.close(handle)
    try:
        with zipfile.ZipFile(path) as source, \
                zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                data = source.read(info.filename)
                if info.filename.lower().endswith(".qgs"):
                    text, changed = _rewrite_text(data.decode("utf-8"), pattern, new_folder)
                    data = text.encode("utf-8")
                target.writestr(info, data)
        if changed:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return changed


def relocate(folder, old_folder, new_folder=None):
    """The files of a run in ``folder`` are (or are about to be) moved from ``old_folder`` to
    ``new_folder`` (default: ``folder``): every mention of ``old_folder`` in the projects (.qgz,
    .qgs) and text outputs (.log, .html) of ``folder`` (and its sub-folders) names
    ``new_folder`` instead. Data files are never touched. Returns {relative path: number of
    replacements} of the files changed."""
    pattern = _pattern(old_folder)
    new_folder = new_folder or folder
    changed = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            lower = name.lower()
            try:
                if lower.endswith(".qgz"):
                    n = _rewrite_qgz(path, pattern, new_folder)
                elif lower.endswith(TEXT_SUFFIXES):
                    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                        text = handle.read()
                    text, n = _rewrite_text(text, pattern, new_folder)
                    if n:
                        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
                            handle.write(text)
                else:
                    continue
            except (OSError, zipfile.BadZipFile, UnicodeDecodeError):
                continue
            if n:
                changed[os.path.relpath(path, folder)] = n
    return changed


def publish(staging, folder):
    """Move every file of a finished run from ``staging`` (a folder the run was written into)
    into ``folder`` through the recipe run's own swap (``transaction.StagedFolder``: journaled,
    files of an earlier run and their SQLite side files replaced, files Composite Index did not
    write refused, the folder's manifest kept), then ``relocate``. Raises
    QgsProcessingException (nothing replaced) or OSError."""
    from composite_index_plugin.core import sandbox
    from composite_index_plugin.processing.transaction import StagedFolder

    staged = StagedFolder(folder)
    staged.recover()                      # a publish killed half way: finish it first
    staged.staging = os.path.abspath(staging)
    staged.commit([n for n in staged.names() if n != sandbox.MANIFEST])
    return relocate(folder, staging)
