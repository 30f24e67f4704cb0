"""police.uk street-level archives: many months and forces in one import.

data.police.uk hands out street-level crime as a ZIP archive (or, unpacked, a folder) of monthly
folders, one CSV per force and month::

    2018-01/2018-01-west-yorkshire-street.csv
    2018-01/2018-01-west-yorkshire-outcomes.csv      (not read: outcomes)
    2018-01/2018-01-west-yorkshire-stop-and-search.csv   (not read)
    2018-02/...

This module lists such an archive (which street files, which months and forces, what was left
out and why), reads the chosen files (ZIP members are read in memory, never unpacked) and imports
them with :func:`core.cleanse.cleanse` in one call, so ``rows in = clean + rejected`` holds for the
whole set and is reported per file. The month in each file's name becomes the ``period`` field
(month, calendar year or April-March financial year).

Pure Python/pandas (``zipfile`` from the standard library).
"""
import os
import re
import zipfile
from dataclasses import dataclass, field

from composite_index_plugin.core import cleanse as cc
from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError

STREET_RE = re.compile(r"^(\d{4})-(\d{2})-(.+)-street\.csv$", re.IGNORECASE)
OTHER_POLICEUK_RE = re.compile(r"^(\d{4})-(\d{2})-(.+)-(outcomes|stop-and-search)\.csv$",
                               re.IGNORECASE)
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass
class ArchiveFile:
    """One street-level CSV of an archive: its name inside the archive ('/'-separated), month
    (yyyy-mm) and force (as spelt in the file name, e.g. ``west-yorkshire``)."""

    name: str
    month: str
    force: str
    size: int = 0


@dataclass
class ArchiveListing:
    """What an archive holds and which of its street files are read."""

    path: str
    kind: str                                      # "zip", "folder" or "file"
    files: list = field(default_factory=list)      # ArchiveFile, the ones to read, in order
    months_found: list = field(default_factory=list)
    forces_found: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)    # why -> number of files left out
    months: tuple = None                           # (first, last) asked for, or None

    def describe(self):
        """One line for the log."""
        got = sorted({f.month for f in self.files})
        forces = sorted({f.force for f in self.files})
        text = (f"{len(self.files)} street file(s) selected from {self.kind} "
                f"'{os.path.basename(self.path.rstrip(os.sep)) or self.path}': "
                f"{len(got)} month(s) {got[0]} to {got[-1]}, "
                f"{len(forces)} force(s) ({', '.join(forces)})" if self.files else
                f"no street file selected from '{self.path}'")
        left = [f"{n} {why}" for why, n in self.skipped.items() if n]
        if left:
            text += "; left out: " + ", ".join(left)
        return text + "."

    def missing_months(self):
        """Months inside the asked range (or between the first and last selected month) that
        have no street file for some selected force, as 'yyyy-mm force' strings."""
        if not self.files:
            return []
        first, last = self.months or (min(f.month for f in self.files),
                                      max(f.month for f in self.files))
        have = {(f.month, f.force) for f in self.files}
        forces = sorted({f.force for f in self.files})
        return [f"{m} {force}" for m in month_sequence(first, last) for force in forces
                if (m, force) not in have]


def check_month(text, what="month"):
    """``yyyy-mm`` with a month 01-12, else a clear error."""
    t = str(text).strip()
    m = MONTH_RE.match(t)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise CompositeIndexError(f"The {what} '{text}' is not a month written yyyy-mm.",
                                  hint="Write months as 2018-01.")
    return t


def parse_month_range(value):
    """``(first, last)`` months (inclusive) from ``["2018-01", "2018-12"]``, ``"2018-01,2018-12"``,
    ``"2018-01:2018-12"``, ``"2018-01 to 2018-12"`` or a single month; None for empty."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        parts = [str(v).strip() for v in value if str(v).strip()]
    else:
        text = str(value).strip()
        if not text:
            return None
        parts = [p.strip() for p in re.split(r"\s*(?:,|;|:|\bto\b|/)\s*", text) if p.strip()]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise CompositeIndexError(
            f"Months '{value}' should be the first and last month, e.g. 2018-01,2018-12.",
            hint="Give two months yyyy-mm (inclusive), or one for a single month.")
    first, last = check_month(parts[0], "first month"), check_month(parts[1], "last month")
    if first > last:
        raise CompositeIndexError(f"The first month {first} is after the last month {last}.",
                                  hint="Give the earlier month first.")
    return first, last


def month_sequence(first, last):
    """Every month from ``first`` to ``last`` inclusive (yyyy-mm strings)."""
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _parse_forces(forces):
    if forces is None:
        return None
    items = forces if isinstance(forces, (list, tuple)) else re.split(r"[,;]", str(forces))
    out = {cc.slug(f).replace("_", "-") for f in items if str(f).strip()}
    return out or None


def list_archive(path, months=None, forces=None):
    """List the police.uk street files of a ZIP archive, a folder (searched at any depth) or a
    single ``yyyy-mm-<force>-street.csv`` file.

    ``months``: ``(first, last)`` or anything :func:`parse_month_range` reads; ``forces``: names
    as in the file names (``west-yorkshire``; case, spaces and ``_`` ignored), None = all.
    Raises ``CompositeIndexError`` when the path is not there, holds no street file, when nothing
    is left after the month and force selection, or when one month and force appears twice.
    """
    months = parse_month_range(months)
    wanted = _parse_forces(forces)
    path = str(path)
    entries = []  # (name inside, size)
    if os.path.isdir(path):
        kind = "folder"
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for n in sorted(names):
                full = os.path.join(root, n)
                entries.append((os.path.relpath(full, path).replace(os.sep, "/"),
                                os.path.getsize(full)))
    elif os.path.isfile(path) and zipfile.is_zipfile(path):
        kind = "zip"
        try:
            with zipfile.ZipFile(path) as zf:
                entries = [(i.filename, i.file_size) for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as err:
            raise CompositeIndexError(f"Cannot read the archive '{path}': {err}.",
                                      hint="Download it again; the ZIP file may be incomplete.") \
                from err
    elif os.path.isfile(path):
        kind = "file"
        entries = [(os.path.basename(path), os.path.getsize(path))]
    else:
        raise CompositeIndexError(f"The police.uk archive '{path}' does not exist.",
                                  hint="Give the downloaded .zip file or the folder it was "
                                       "unpacked into.")
    listing = ArchiveListing(path=path, kind=kind, months=months)
    skipped = {"outcomes / stop-and-search file(s)": 0, "street file(s) outside the months": 0,
               "street file(s) of other forces": 0, "other file(s)": 0}
    found, seen = [], {}
    for name, size in entries:
        base = name.rsplit("/", 1)[-1]
        if base.startswith(".") or "__MACOSX/" in name:
            continue
        m = STREET_RE.match(base)
        if not m:
            key = ("outcomes / stop-and-search file(s)" if OTHER_POLICEUK_RE.match(base)
                   else "other file(s)")
            skipped[key] += 1
            continue
        month = f"{m.group(1)}-{m.group(2)}"
        if not 1 <= int(m.group(2)) <= 12:
            skipped["other file(s)"] += 1
            continue
        force = m.group(3).lower()
        found.append(ArchiveFile(name, month, force, size))
    if not found:
        raise CompositeIndexError(
            f"No police.uk street-level file (yyyy-mm-<force>-street.csv) in '{path}'.",
            hint="Give the archive downloaded from data.police.uk (folders such as "
                 "2018-01/2018-01-west-yorkshire-street.csv), or the folder it was unpacked "
                 "into.")
    listing.months_found = sorted({f.month for f in found})
    listing.forces_found = sorted({f.force for f in found})
    for f in found:
        if months is not None and not months[0] <= f.month <= months[1]:
            skipped["street file(s) outside the months"] += 1
            continue
        if wanted is not None and f.force not in wanted:
            skipped["street file(s) of other forces"] += 1
            continue
        key = (f.month, f.force)
        if key in seen:
            raise CompositeIndexError(
                f"The archive holds two street files for {f.force} in {f.month}: "
                f"'{seen[key]}' and '{f.name}'.",
                hint="Keep one of them: reading both would count those crimes twice.")
        seen[key] = f.name
        listing.files.append(f)
    listing.files.sort(key=lambda f: (f.month, f.force, f.name))
    listing.skipped = skipped
    if not listing.files:
        asked = []
        if months is not None:
            asked.append(f"months {months[0]} to {months[1]}")
        if wanted is not None:
            asked.append(f"forces {', '.join(sorted(wanted))}")
        raise CompositeIndexError(
            f"No street file of '{path}' matches {' and '.join(asked)}.",
            hint=f"The archive holds months {listing.months_found[0]} to "
                 f"{listing.months_found[-1]} for {', '.join(listing.forces_found)}.")
    return listing


def read_archive(listing, encoding=None, delimiter=None, progress=None):
    """Read the selected street files: ``(tables, infos)`` as :func:`core.cleanse.combine_tables`
    takes them (``source_file`` = the file's name inside the archive). Each info also has
    ``month`` and ``force``."""
    progress = progress or NO_PROGRESS
    tables, infos = [], []
    zf = zipfile.ZipFile(listing.path) if listing.kind == "zip" else None
    try:
        for i, f in enumerate(listing.files):
            if listing.kind == "zip":
                frame, info = cc.read_table(f.name, encoding, delimiter, data=zf.read(f.name))
            elif listing.kind == "folder":
                frame, info = cc.read_table(os.path.join(listing.path, *f.name.split("/")),
                                            encoding, delimiter)
            else:
                frame, info = cc.read_table(listing.path, encoding, delimiter)
            info.update(file=f.name, month=f.month, force=f.force)
            tables.append((frame, f.name))
            infos.append(info)
            progress.report((i + 1) / len(listing.files))
    finally:
        if zf is not None:
            zf.close()
    return tables, infos


def import_archive(path, options, months=None, forces=None, encoding=None, delimiter=None,
                   to_target=None, in_study=None, progress=None):
    """List, read and cleanse a police.uk archive in one go (the recipe runner's entry point).

    ``options``: :class:`core.cleanse.CleanseOptions` (e.g. from ``settings_to_options`` with the
    police.uk preset); its ``source_months`` is filled from the file names and ``period``
    defaults to months. Returns the :class:`core.cleanse.CleanseResult` with ``sources`` = read
    info per file and ``listing`` = the :class:`ArchiveListing`.
    """
    progress = progress or NO_PROGRESS
    listing = list_archive(path, months, forces)
    tables, infos = read_archive(listing, encoding, delimiter, progress.sub(0.0, 0.3))
    if sum(i["rows"] for i in infos) == 0:
        raise CompositeIndexError("No data rows: every street file of the archive has only a "
                                  "header.", hint="Check the download.")
    frame = cc.combine_tables(tables)
    options.source_months = {f.name: f.month for f in listing.files}
    if options.period is None:
        options.period = "month"
    result = cc.cleanse(frame, options, to_target=to_target, in_study=in_study,
                        progress=progress.sub(0.3, 1.0))
    result.sources = infos
    result.listing = listing
    return result


def per_source_counts(result):
    """``[(source, rows in, clean, rejected), ...]`` in the order of ``result.sources``."""
    clean = result.clean["source_file"].value_counts(sort=False)
    rejected = result.rejected["source_file"].value_counts(sort=False)
    out = []
    for info in result.sources:
        c, r = int(clean.get(info["file"], 0)), int(rejected.get(info["file"], 0))
        out.append((info["file"], c + r, c, r))
    return out


# ---------------------------------------------------------------------------------------------
# Areas from small-area names: districts from LSOA names, the study area from the crimes

SMALL_AREA_SUFFIX = re.compile(r"\s+\d{3}[A-Za-z]?\s*$")
DEFAULT_MIN_SHARE = 0.01


def area_of_name(names):
    """The area named in small-area names: ONS LSOA and MSOA names are the local authority's
    name, a three-digit number and (LSOAs) a letter, so ``"Leeds 001A"`` and ``"Leeds 001"`` ->
    ``"Leeds"``. Names without that ending are kept whole; empty stays empty. Vectorised."""
    import pandas as pd

    s = pd.Series(names, dtype=object)
    text = s.where(s.notna(), "").astype(str).str.strip()
    return text.str.replace(SMALL_AREA_SUFFIX, "", regex=True).str.strip().to_numpy(object)


def areas_holding(names, min_share=DEFAULT_MIN_SHARE):
    """The areas (from small-area names, see :func:`area_of_name`) holding at least
    ``min_share`` of the rows: ``(kept, dropped)``, both dicts area -> rows, largest first.

    This is how "the LSOAs these crimes fall in" becomes a study area: police.uk codes every
    crime to an LSOA, and a force's file holds a few crimes coded to its neighbours' LSOAs (West
    Yorkshire, July 2016: 71 of 25,829 located crimes, 0.3 %, in 9 other districts, none above
    0.11 %; its five districts hold 8 % to 36 % each), so a 1 % share separates them.
    """
    import pandas as pd

    areas = pd.Series(area_of_name(names), dtype=object)
    counts = areas[areas != ""].value_counts()
    total = int(counts.sum())
    if total == 0:
        raise CompositeIndexError("No row names a small area, so no study area can be made from "
                                  "them.", hint="Give a study area layer instead.")
    share = counts / total
    kept = {str(k): int(v) for k, v in counts[share >= min_share].items()}
    dropped = {str(k): int(v) for k, v in counts[share < min_share].items()}
    return kept, dropped


# ---------------------------------------------------------------------------------------------
# A recipe's period as months, and an archive's header

_YEAR_RE = re.compile(r"^\d{4}$")
_DAY_RE = re.compile(r"^(\d{4}-\d{2})-\d{2}$")
_FINANCIAL_RE = re.compile(r"^(\d{4})\s*/\s*(\d{2}|\d{4})$")


def _month_bound(text, last):
    """``yyyy`` -> its first (or ``last``) month, ``yyyy-mm`` -> itself, ``yyyy-mm-dd`` -> its
    month; None for anything else."""
    t = str(text).strip()
    if _YEAR_RE.match(t):
        return f"{t}-12" if last else f"{t}-01"
    day = _DAY_RE.match(t)
    if day:
        t = day.group(1)
    m = MONTH_RE.match(t)
    return t if m and 1 <= int(m.group(2)) <= 12 else None


def months_of_period(period):
    """``(first, last)`` months a recipe's ``period`` names, or None when it names none.

    ``period``: a text - ``"2018"`` (January to December), ``"2018-07"`` (that month),
    ``"2018/19"`` or ``"2018/2019"`` (the April-March financial year), ``"2016-07 to 2017-07"``
    (from the first month of the one to the last of the other; years and days work too) - or a
    mapping / object with ``start`` and ``end`` (both needed). Other labels (``"Q1"``,
    ``"winter"``) name no months: None.
    """
    if period is None:
        return None
    if isinstance(period, str):
        text = period.strip()
        fin = _FINANCIAL_RE.match(text)
        if fin:
            year = int(fin.group(1))
            end = fin.group(2)
            if (len(end) == 2 and int(end) == (year + 1) % 100) or \
                    (len(end) == 4 and int(end) == year + 1):
                return f"{year:04d}-04", f"{year + 1:04d}-03"
            return None
        parts = re.split(r"\s+to\s+", text)
        if len(parts) == 1:
            parts = parts * 2
        if len(parts) != 2:
            return None
        start, end = parts
    else:
        get = period.get if isinstance(period, dict) else (lambda k: getattr(period, k, None))
        start, end = get("start"), get("end")
        if start is None or end is None:
            return None
    first, last = _month_bound(start, False), _month_bound(end, True)
    if first is None or last is None or first > last:
        return None
    return first, last


def archive_header(listing):
    """The column names of the first selected street file of an archive listing (its first
    line only; ``[]`` when it cannot be read)."""
    import csv
    import io

    if not listing.files:
        return []
    name = listing.files[0].name
    try:
        if listing.kind == "zip":
            with zipfile.ZipFile(listing.path) as zf, zf.open(name) as handle:
                line = handle.readline()
        else:
            path = listing.path if listing.kind == "file" else os.path.join(listing.path,
                                                                            *name.split("/"))
            with open(path, "rb") as handle:
                line = handle.readline()
    except (OSError, KeyError, zipfile.BadZipFile):
        return []
    text = line.decode("utf-8-sig", errors="replace")
    return [c.strip() for c in next(csv.reader(io.StringIO(text)), [])]
