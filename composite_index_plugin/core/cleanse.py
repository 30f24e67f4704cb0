"""Importing and cleansing incident tables (police, council, fire, health, probation...).

Pure pandas/numpy. Every input row ends up either in the clean table or in the rejected table
with one fixed reason code (the first check it fails, in the order of ``REASONS``); the
invariant ``rows in = clean + rejected`` is checked by :func:`cleanse` and stated in the report.

Reading: text files are read with pandas as strings first (``dtype=str``) and parsed afterwards,
so a stray text value in a numeric column is a counted rejection, never a type error.
Encoding is detected (BOM, UTF-8, else Windows-1252) and so is the delimiter (comma, semicolon,
tab, pipe: the one that splits the first lines into the same number of fields, header included).

Parsing is vectorised over the *distinct* values of a column (``pandas.factorize``), which makes
police.uk months and snapped coordinates cheap: a million rows carry a few thousand values.

Rows with more or fewer fields than the header are kept as rows (padded, or cut with the extra
fields named) and rejected as ``malformed_row``: one bad row never shifts the columns of the
others, and never stops the import. Bytes the file's encoding cannot read are replaced by
U+FFFD and reported with their line numbers (``info["notes"]`` of ``read_table``).

Reason codes (public, stable):

``malformed_row``        the row has more or fewer fields than the header;
``no_coordinates``       X or Y (or the postcode) empty, or the layer geometry is empty;
``postcode_not_found``   the normalised postcode is not in the lookup table;
``bad_coordinates``      X or Y cannot be read as a number, or is not finite;
``swapped_latlon``       outside the source CRS's valid area, but inside it once X and Y are
                         swapped; rejected, or fixed when allowed (then counted as a fix);
``outside_crs_area``     outside the valid area of the source CRS (extreme values, wrong CRS),
                         or the point cannot be transformed to the target CRS;
``bad_date``             the date is empty or matches none of the formats;
``outside_date_window``  before ``date_from`` or after ``date_to`` (both inclusive);
``unmapped_category``    the category is not in the mapping (only when mapping is required);
``outside_study_area``   outside the (buffered) study area polygon;
``duplicate``            same values of the key fields as an earlier clean row (rows with an
                         empty key value are never duplicates: police.uk anti-social behaviour
                         rows have no ``Crime ID``).
"""
import codecs
import csv
import datetime
import html
import io
import os
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from composite_index_plugin.core.errors import NO_PROGRESS, CompositeIndexError
from composite_index_plugin.core.geometry import points_in_rings
from composite_index_plugin.core.vocab import NAME_RE
from composite_index_plugin.core.vocab import slug as vocab_slug

REASONS = (
    "malformed_row",
    "no_coordinates",
    "postcode_not_found",
    "bad_coordinates",
    "swapped_latlon",
    "outside_crs_area",
    "bad_date",
    "outside_date_window",
    "unmapped_category",
    "outside_study_area",
    "duplicate",
)
REASON_LABELS = {
    "malformed_row": "More or fewer fields than the header",
    "no_coordinates": "No coordinates (empty X/Y, postcode or geometry)",
    "postcode_not_found": "Postcode not found in the lookup",
    "bad_coordinates": "Coordinates cannot be read as numbers",
    "swapped_latlon": "X and Y probably swapped",
    "outside_crs_area": "Outside the valid area of the source CRS",
    "bad_date": "Date cannot be read",
    "outside_date_window": "Date outside the window",
    "unmapped_category": "Category not in the mapping",
    "outside_study_area": "Outside the study area",
    "duplicate": "Duplicate of an earlier row",
}
_CODE = {name: i for i, name in enumerate(REASONS)}
OK = -1

# Columns added by the import; an input column with one of these names is renamed name + "_orig".
ADDED_CLEAN = ("source_row", "source_file", "issue", "event_date", "fixes")
ADDED_REJECTED = ("source_row", "source_file", "reject_reason", "reject_detail")
RESERVED = tuple(dict.fromkeys(ADDED_CLEAN + ADDED_REJECTED + ("fid", "ogc_fid", "geom")))
# A column read_table adds for rows with the wrong number of fields (why, "" = fine); it never
# reaches an output: cleanse rejects those rows as malformed_row with this text as the detail.
ROW_PROBLEM = "__row_problem__"
HIDDEN = ("source_row", "source_file", ROW_PROBLEM)

# police.uk street-level archive layout (data.police.uk, "street" files, 12 columns).
POLICEUK_COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)
POLICEUK_SETTINGS = {
    "x_field": "Longitude",
    "y_field": "Latitude",
    "source_crs": "EPSG:4326",
    "date_field": "Month",
    "date_formats": ["%Y-%m"],
    "category_field": "Crime type",
    "duplicate_fields": ["Crime ID"],
}

# Formats tried, in this order, when none are given (UK day-first before US month-first).
DATE_FORMATS = (
    "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S.%f",
    "%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y",
    "%Y/%m/%d", "%Y%m%d", "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y", "%Y-%m", "%m/%Y",
)

X_NAMES = ("x", "easting", "eastings", "east", "lon", "long", "lng", "longitude", "x_coord", "xcoord")
Y_NAMES = ("y", "northing", "northings", "north", "lat", "latitude", "y_coord", "ycoord")
POSTCODE_NAMES = ("postcode", "post_code", "post code", "pcd", "pcds", "pcd7", "pcd8", "postal_code")

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_BYTES = 1 << 16
_NAME_RE = NAME_RE


# --------------------------------------------------------------------------------------------
# Reading text files
# --------------------------------------------------------------------------------------------
def _not_text_error(path, what):
    return CompositeIndexError(
        f"'{os.path.basename(str(path))}' is not a text (CSV) file: it looks like {what}.",
        hint="Save it as CSV (comma, semicolon or tab separated) and import that file.")


def _encoding_from_head(head, name):
    """Encoding decided from the first bytes alone (BOM), or None; raises for non-text data."""
    if not head.strip():
        raise CompositeIndexError(f"'{name}' is empty (0 rows, no header).",
                                  hint="Check the export: the file has no data.")
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(b"PK\x03\x04"):
        raise _not_text_error(name, "a ZIP archive or an Excel .xlsx workbook")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _not_text_error(name, "an old Excel .xls workbook")
    if b"\x00" in head:
        raise _not_text_error(name, "binary data (it contains NUL bytes)")
    controls = sum(head.count(bytes([c])) for c in range(1, 32) if c not in (9, 10, 12, 13))
    if controls > 0.05 * len(head):
        raise _not_text_error(name, "binary data (many control characters)")
    return None


def sniff_encoding(path):
    """Detect the encoding of a text file: ``(encoding, has_bom)``.

    UTF-8 with BOM -> ``utf-8-sig``; UTF-16 with BOM -> ``utf-16``; valid UTF-8 -> ``utf-8``;
    otherwise ``cp1252`` (Windows-1252, the usual Excel "CSV" on UK Windows machines).
    Raises ``CompositeIndexError`` for an empty file or one that is not text (NUL bytes, ZIP/Excel).
    The whole file is checked for UTF-8 validity in 4 MB chunks (a single "£" written by Excel on
    row 900,000 makes the file Windows-1252).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as err:
        raise CompositeIndexError(f"Cannot read '{path}': {err.strerror or err}.",
                                  hint="Check the path and that the file is not open elsewhere.") \
            from err
    bom = _encoding_from_head(head, os.path.basename(path))
    if bom:
        return bom, True
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(1 << 22)
                if not chunk:
                    decoder.decode(b"", final=True)
                    break
                decoder.decode(chunk)
    except UnicodeDecodeError:
        with open(path, "rb") as fh:
            return _utf8_or_cp1252(fh.read()), False
    return "utf-8", False


def sniff_encoding_bytes(data, name="data"):
    """:func:`sniff_encoding` for a file already in memory (e.g. a member of a ZIP archive)."""
    bom = _encoding_from_head(bytes(data[:_SNIFF_BYTES]), name)
    if bom:
        return bom, True
    try:
        codecs.decode(data, "utf-8")
    except UnicodeDecodeError:
        return _utf8_or_cp1252(bytes(data)), False
    return "utf-8", False


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|"
                             rb"[\xf0-\xf4][\x80-\xbf]{3}")


def _utf8_or_cp1252(raw):
    """A file that is not valid UTF-8: UTF-8 all the same when it holds valid UTF-8 characters
    and only a few stray bytes (read as UTF-8, the stray bytes reported: decoding it as
    Windows-1252 would garble every accented letter silently), else Windows-1252."""
    valid = len(_UTF8_MULTIBYTE.findall(raw))
    invalid = raw.decode("utf-8", errors="replace").count("\ufffd") - \
        raw.count("\ufffd".encode("utf-8"))
    return "utf-8" if valid >= 2 * max(invalid, 1) else "cp1252"


_BAD_BYTES = []


def _record_bad_byte(err):
    _BAD_BYTES.append((err.start, err.object[err.start]))
    return "\ufffd", err.start + 1


codecs.register_error("composite_index_record", _record_bad_byte)


def undecodable_bytes(path, encoding, data=None, limit=10):
    """``(count, [(line, byte), ...])``: the bytes of a file that ``encoding`` cannot read
    (they are shown as U+FFFD), the first ``limit`` of them with their line numbers (1 = the
    header line). ``(0, [])`` for a clean file; only a file that fails a strict decoding is
    read whole."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        if data is not None:
            decoder.decode(bytes(data), final=True)
        else:
            with open(path, "rb") as fh:
                while True:
                    chunk = fh.read(1 << 22)
                    decoder.decode(chunk, final=not chunk)
                    if not chunk:
                        break
        return 0, []
    except UnicodeDecodeError:
        pass
    except (LookupError, OSError):
        return 0, []
    if data is None:
        with open(path, "rb") as fh:
            raw = fh.read()
    else:
        raw = bytes(data)
    del _BAD_BYTES[:]
    raw.decode(encoding, errors="composite_index_record")
    found = list(_BAD_BYTES)
    del _BAD_BYTES[:]
    listed = [(raw.count(b"\n", 0, start) + 1, byte) for start, byte in found[:limit]]
    return len(found), listed


def sniff_delimiter(lines):
    """The delimiter splitting ``lines`` (header first) into the same number (> 1) of fields.

    Candidates: comma, semicolon, tab, pipe. Among consistent candidates the one giving the most
    fields wins (ties: comma, semicolon, tab, pipe). A file with decimal commas and semicolons
    ("1,5;2,5") is seen as semicolon-separated because the header has no commas. Returns ","
    when nothing splits (a one-column file).
    """
    lines = [ln for ln in lines if ln.strip()][:50]
    if not lines:
        return ","
    best, best_n = ",", 1
    for delim in DELIMITERS:
        try:
            counts = {len(row) for row in csv.reader(lines, delimiter=delim)}
        except csv.Error:
            continue
        if len(counts) == 1:
            n = counts.pop()
            if n > best_n:
                best, best_n = delim, n
    if best_n == 1:
        # Ragged lines: take the delimiter with most fields in the header.
        header_counts = {d: len(next(csv.reader([lines[0]], delimiter=d))) for d in DELIMITERS}
        d = max(header_counts, key=header_counts.get)
        if header_counts[d] > 1:
            return d
    return best


def _first_lines(path, encoding, n=60, data=None):
    if data is not None:
        text = bytes(data[:_SNIFF_BYTES]).decode(encoding, errors="replace")
    else:
        with open(path, encoding=encoding, errors="replace", newline="") as fh:
            text = fh.read(_SNIFF_BYTES)
    lines = text.splitlines()
    if len(text) >= _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # possibly cut
    return lines[:n]


def read_table(path, encoding=None, delimiter=None, data=None):
    """Read a delimited text file as strings: ``(frame, info)``.

    ``encoding``/``delimiter`` ``None`` or "" = detect. Every column is ``str`` with "" for empty
    cells; column names are stripped of spaces. ``info`` = dict(path, encoding, delimiter, rows).
    ``data``: the file's bytes when it is already in memory (a member of a ZIP archive); ``path``
    is then only its name in messages. Raises ``CompositeIndexError`` for empty/binary files and
    rows with too many fields.
    """
    name = os.path.basename(path)
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as err:
            raise CompositeIndexError(f"Unknown encoding '{encoding}'.",
                                      hint="Use e.g. utf-8, cp1252 (Windows-1252) or latin-1, "
                                           "or leave it empty to detect.") from err
        # still refuse empty and binary files
        sniff_encoding(path) if data is None else sniff_encoding_bytes(data, name)
        enc = encoding
    else:
        enc, _ = sniff_encoding(path) if data is None else sniff_encoding_bytes(data, name)
    if not delimiter:
        delimiter = sniff_delimiter(_first_lines(path, enc, data=data))
    notes = []
    n_bad, bad = undecodable_bytes(path, enc, data=data)
    if n_bad:
        listed = ", ".join(f"line {line} (byte 0x{byte:02x})" for line, byte in bad)
        notes.append(f"'{name}': {n_bad:,} byte(s) cannot be read as {enc} and were replaced by "
                     f"'\ufffd': {listed}{', ...' if n_bad > len(bad) else ''}. Check the file's "
                     "encoding (give ENCODING), or correct those bytes.")
    frame = _read_fast(path, data, name, enc, delimiter)
    if frame is None:             # rows with more or fewer fields than the header
        frame = _read_ragged(path, data, name, enc, delimiter)
    frame.columns = [str(c).strip() for c in frame.columns]
    if ROW_PROBLEM in frame.columns:
        n_rows = int((frame[ROW_PROBLEM] != "").sum())
        if n_rows and n_rows == len(frame):
            raise CompositeIndexError(
                f"'{name}': no row has as many fields as the header "
                f"({len(frame.columns) - 1} {DELIMITERS.get(delimiter, repr(delimiter))}-separated "
                "fields).", hint="Check the delimiter (give DELIMITER) and the quoting of the file.")
        if n_rows:
            first = frame.index[frame[ROW_PROBLEM] != ""][0] + 1
            notes.append(f"'{name}': {n_rows:,} row(s) have more or fewer fields than the header "
                         f"(the first is record {first}); they are rejected as malformed_row.")
    info = {"path": path, "file": name, "encoding": enc, "delimiter": delimiter,
            "rows": len(frame), "columns": [c for c in frame.columns if c != ROW_PROBLEM],
            "notes": notes}
    return frame, info


def _read_fast(path, data, name, enc, delimiter):
    """The file read by pandas' C parser, or None when a row has more or fewer fields than the
    header (the C parser would stop, cut the extra fields silently, or shift every column by
    taking the first one as an index)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path if data is None else io.BytesIO(data), sep=delimiter,
                                dtype=str, keep_default_na=False, na_filter=False, index_col=False,
                                encoding=enc, encoding_errors="replace", engine="c",
                                skip_blank_lines=True, quotechar='"')
    except pd.errors.EmptyDataError as err:
        raise CompositeIndexError(f"'{name}' is empty (no header line).",
                                  hint="Check the export: the file has no data.") from err
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        return None
    except UnicodeError as err:
        raise CompositeIndexError(f"'{name}' cannot be decoded as {enc}: {err}",
                                  hint="Give the right encoding (e.g. cp1252 or utf-8).") from err
    if len(frame.columns) and frame.iloc[:, -1].isna().any():   # a short row
        return None
    return frame


def _read_ragged(path, data, name, enc, delimiter):
    """The file read row by row (Python's csv module): every record is kept, padded with empty
    fields or cut to the header's width, and the column ROW_PROBLEM says why ("" = fine)."""
    if data is not None:
        handle = io.TextIOWrapper(io.BytesIO(bytes(data)), encoding=enc, errors="replace",
                                  newline="")
    else:
        handle = open(path, encoding=enc, errors="replace", newline="")
    with handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"')
        header = None
        rows, problems = [], []
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue                         # blank lines, as pandas skips them
            if header is None:
                header = record
                width = len(header)
                continue
            n = len(record)
            if n == width:
                rows.append(record)
                problems.append("")
            elif n < width:
                rows.append(record + [""] * (width - n))
                problems.append(f"{n} field(s), the header has {width}")
            else:
                rows.append(record[:width])
                extra = delimiter.join(record[width:])
                problems.append(f"{n} fields, the header has {width}; extra: "
                                f"{extra[:80]!r}{'...' if len(extra) > 80 else ''}")
    if header is None:
        raise CompositeIndexError(f"'{name}' is empty (no header line).",
                                  hint="Check the export: the file has no data.")
    names, seen = [], {}
    for c in (str(c) for c in header):          # repeated names as pandas writes them: a, a.1
        k = seen.get(c, 0)
        seen[c] = k + 1
        names.append(c if k == 0 else f"{c}.{k}")
    frame = pd.DataFrame(rows, columns=names, dtype=object) if rows else \
        pd.DataFrame({c: pd.Series(dtype=object) for c in names})
    frame[ROW_PROBLEM] = pd.Series(problems, dtype=object).to_numpy()
    return frame


def _rename_reserved(frame, reserved=RESERVED):
    """Input columns that clash with added columns get the suffix ``_orig``."""
    lower = {c.lower(): c for c in frame.columns}
    renames = {}
    for name in reserved:
        if name in lower:
            new = lower[name] + "_orig"
            while new.lower() in lower:
                new += "_"
            renames[lower[name]] = new
    return frame.rename(columns=renames) if renames else frame


def clean_field_names(header):
    """The names the input columns ``header`` get in the clean layer (``_rename_reserved``)."""
    return list(_rename_reserved(pd.DataFrame(columns=list(header))).columns)


def combine_tables(tables):
    """Concatenate ``[(frame, source_name), ...]`` into one frame with ``source_file`` and
    ``source_row`` (1-based record number after the header, per source). Columns are the union
    of all sources' columns, in first-seen order; cells a source lacks are ""."""
    frames = []
    columns = []
    for frame, source in tables:
        frame = _rename_reserved(frame)
        for c in frame.columns:
            if c not in columns:
                columns.append(c)
        frames.append((frame, source))
    parts = []
    for frame, source in frames:
        # The frames are the caller's freshly read tables: columns are added in place.
        part = frame.reindex(columns=columns, fill_value="") if list(frame.columns) != columns \
            else frame
        part["source_row"] = np.arange(1, len(part) + 1, dtype="int64")
        part["source_file"] = source
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=columns + ["source_row", "source_file"])
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    return out


# --------------------------------------------------------------------------------------------
# Parsing values
# --------------------------------------------------------------------------------------------
def _blank(u):
    return (u.astype(str).str.strip() == "").to_numpy(bool)


def _by_unique(values, func):
    """Apply ``func`` (unique values -> array) once per distinct value and spread the result."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object).to_numpy(), sort=False)
    res = func(pd.Series(uniques, dtype=object))
    res = np.asarray(res)
    out = res[codes] if len(res) else np.empty(len(codes), dtype=res.dtype)
    if (codes < 0).any():  # missing values (None/NaN)
        out = out.copy()
        missing = codes < 0
        out[missing] = np.nan if out.dtype.kind == "f" else (False if out.dtype.kind == "b" else None)
    return out


_THOUSANDS_COMMA = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_THOUSANDS_DOT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d*)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$|^[+-]?\d+,\d*$")


def _parse_number_uniques(s, decimal):
    s = s.astype(str).str.strip().str.replace("\u00a0", "", regex=False) \
        .str.replace(" ", "", regex=False).str.replace("'", "", regex=False)
    has_comma = s.str.contains(",", regex=False)
    if has_comma.any():
        plain = s.copy()
        both = has_comma & s.str.contains(".", regex=False)
        if both.any():
            # Last separator is the decimal one: 431,234.5 (UK) / 431.234,5 (EU).
            eu = both & (s.str.rfind(",") > s.str.rfind("."))
            plain[both & ~eu] = s[both & ~eu].str.replace(",", "", regex=False)
            plain[eu] = s[eu].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        only = has_comma & ~both
        if only.any():
            so = s[only]
            if decimal == ",":
                as_dec = pd.Series(True, index=so.index)
            elif decimal == ".":
                as_dec = pd.Series(False, index=so.index)
            else:
                # Several commas or one comma before exactly three digits: thousands; a single
                # comma anywhere else: decimal comma (-1,5502 / 53,59).
                as_dec = ~so.str.match(_THOUSANDS_COMMA)
            plain[only & as_dec.reindex(s.index, fill_value=False)] = \
                so[as_dec].str.replace(",", ".", regex=False)
            plain[only & ~as_dec.reindex(s.index, fill_value=True)] = \
                so[~as_dec].str.replace(",", "", regex=False)
        s = plain
    out = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
    return out


def parse_numbers(values, decimal=None):
    """Numbers from text: float array with NaN where unreadable or empty.

    Accepts spaces and non-breaking spaces, thousands separators (``431,234.5``, ``431.234,5``,
    ``1,234,567``) and decimal commas (``-1,5502``). A single comma followed by exactly three
    digits (``431,234``) is read as a thousands separator unless ``decimal=","``.
    """
    return _by_unique(values, lambda u: _parse_number_uniques(u, decimal)).astype("float64")


def _parse_dates_uniques(s, formats):
    s = s.astype(str).str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    todo = s != ""
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce")
        good = parsed.notna()
        out[parsed.index[good]] = parsed[good]
        todo[parsed.index[good]] = False
    return out.to_numpy(dtype="datetime64[ns]")


def friendly_format(fmt):
    """``dd/mm/yyyy``-style formats to strptime codes (``%d/%m/%Y``); ``%`` formats unchanged.
    Tokens: yyyy, yy, mm (month), dd, hh, mi (minutes), ss, mon (Jan), month (January)."""
    fmt = fmt.strip()
    if "%" in fmt:
        return fmt
    out = fmt.lower()
    for token, code in (("yyyy", "%Y"), ("month", "%B"), ("mon", "%b"), ("yy", "%y"),
                        ("mm", "%m"), ("dd", "%d"), ("hh", "%H"), ("mi", "%M"), ("ss", "%S")):
        out = out.replace(token, code)
    return out


def parse_dates(values, formats=None):
    """Dates from text: ``datetime64[ns]`` array, NaT where empty or unreadable.

    Each value is read with the first of ``formats`` (strptime codes, e.g. ``%d/%m/%Y``) that
    matches it, so a column mixing ISO, UK and police.uk month formats is fine. Default formats:
    ``DATE_FORMATS`` (day-first; give ``%m/%d/%Y`` for US dates). ``%Y-%m`` months become the
    first day of the month.
    """
    fmts = [friendly_format(f) for f in formats if f.strip()] if formats else list(DATE_FORMATS)
    fmts = fmts or list(DATE_FORMATS)
    return _by_unique(values, lambda u: _parse_dates_uniques(u, fmts)).astype("datetime64[ns]")


def parse_date_bound(text, end=False):
    """A window bound: ISO ``yyyy-mm-dd``, ``yyyy-mm`` or ``yyyy`` (``end``: last day of it)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if not isinstance(text, str):
        return pd.Timestamp(text)
    t = text.strip()
    for fmt, period in (("%Y-%m-%d", None), ("%Y-%m", "M"), ("%Y", "Y"), ("%d/%m/%Y", None)):
        try:
            ts = pd.Timestamp(datetime.datetime.strptime(t, fmt))
        except ValueError:
            continue
        if end and period:
            ts = (ts + (pd.offsets.MonthEnd(0) if period == "M" else pd.offsets.YearEnd(0)))
        if end:
            ts = ts + pd.Timedelta(days=1) - pd.Timedelta(nanoseconds=1)
        return ts
    raise CompositeIndexError(f"Date window bound '{text}' is not a date.",
                              hint="Use yyyy-mm-dd, yyyy-mm or yyyy (e.g. 2016-07-01).")


def normalise_postcodes(values):
    """UK-style postcode keys: upper case, spaces removed, one space before the last 3
    characters (``b11aa`` / ``B1  1AA`` -> ``B1 1AA``). Empty stays empty."""
    def norm(u):
        s = u.astype(str).str.upper().str.replace(r"\s+", "", regex=True)
        long_enough = s.str.len() > 3
        return np.where(long_enough, s.str[:-3] + " " + s.str[-3:], s).astype(object)
    return _by_unique(values, norm)


def slug(text):
    """An issue name from a category label (``core.vocab.slug``); a blank label gives ""."""
    return vocab_slug(text, "c") if str(text).strip() else ""


def _category_key(values):
    return pd.Series(values, dtype=object).astype(str).str.strip().str.casefold() \
        .str.replace(r"\s+", " ", regex=True)


def _mapping_from_json(path):
    """A JSON mapping: ``{"category": "issue", ...}`` or ``{"issue": ["category", ...], ...}``."""
    import json

    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            data = json.load(fh)
    except (OSError, ValueError, RecursionError) as err:
        raise CompositeIndexError(f"Category mapping '{name}' cannot be read as JSON: {err}",
                                  hint='Write {"Burglary": "burglary", ...} or '
                                       '{"burglary": ["Burglary"], ...}.') from err
    if not isinstance(data, dict):
        raise CompositeIndexError(f"Category mapping '{name}' must be a JSON object.",
                                  hint='Write {"Burglary": "burglary", ...}.')
    mapping, bad = {}, []
    for key, value in data.items():
        pairs = [(c, key) for c in value] if isinstance(value, list) else [(key, value)]
        for cat, iss in pairs:
            if not isinstance(cat, str) or not isinstance(iss, str):
                bad.append(f"{key!r}: {value!r}")
                continue
            if not _NAME_RE.match(iss.strip()):
                bad.append(f"'{cat}' -> '{iss}'")
                continue
            if cat.strip():
                mapping[cat] = iss.strip()
    if bad:
        raise CompositeIndexError(
            f"Category mapping '{name}' has issue names that are not lowercase letters, digits "
            "and _ (or values that are not text):", hint="Fix these entries.", details=bad[:20])
    return mapping


def read_category_mapping(path):
    """A category -> issue mapping from a CSV file with columns ``category,issue`` (or the first
    two columns), or a JSON file (``{"category": "issue"}`` or ``{"issue": ["category", ...]}``).
    Issue names must be lowercase letters, digits and ``_``; an empty issue means
    "drop this category" is NOT supported: every listed category must map to a name."""
    if str(path).lower().endswith(".json"):
        return _mapping_from_json(path)
    frame, _ = read_table(path)
    if frame.shape[1] < 2:
        raise CompositeIndexError(
            f"Category mapping '{os.path.basename(path)}' needs two columns (category,issue); "
            f"it has: {', '.join(frame.columns)}.", hint="Write a header line 'category,issue'.")
    cols = [c.lower() for c in frame.columns]
    c_cat = frame.columns[cols.index("category")] if "category" in cols else frame.columns[0]
    c_iss = frame.columns[cols.index("issue")] if "issue" in cols else frame.columns[1]
    mapping = {}
    bad = []
    for i, (cat, iss) in enumerate(zip(frame[c_cat], frame[c_iss]), start=2):
        iss = iss.strip()
        if not cat.strip():
            continue
        if not _NAME_RE.match(iss):
            bad.append(f"line {i}: '{cat}' -> '{iss}'")
            continue
        mapping[cat] = iss
    if bad:
        raise CompositeIndexError(
            f"Category mapping '{os.path.basename(path)}' has issue names that are not lowercase "
            "letters, digits and _:", hint="Fix these lines.", details=bad[:20])
    return mapping


def map_categories(values, mapping):
    """``(issue, mapped)`` arrays. ``mapping``: dict category -> issue (matched ignoring case
    and repeated spaces) or a callable(category) -> issue or None/""."""
    if callable(mapping):
        def fn(u):
            return np.array([(mapping(v) or "") for v in u], dtype=object)
        issue = _by_unique(values, fn)
    else:
        table = {k: v for k, v in zip(_category_key(list(mapping.keys())), mapping.values())}
        issue = _by_unique(values, lambda u: _category_key(u).map(table).fillna("").to_numpy(object))
    issue = np.where(pd.isna(issue), "", issue).astype(object)
    return issue, issue != ""


def read_postcode_lookup(path_or_frame, postcode_field=None, x_field=None, y_field=None):
    """A postcode lookup as a frame ``postcode`` (normalised), ``x``, ``y`` (floats).

    Columns found by name when not given: postcode/pcd..., x/easting/lon..., y/northing/lat....
    Duplicated postcodes: the first one is used. Rows with unreadable coordinates are dropped
    (their count is in ``frame.attrs["dropped"]``).
    """
    if isinstance(path_or_frame, pd.DataFrame):
        frame, name = path_or_frame, "lookup"
    else:
        frame, _ = read_table(path_or_frame)
        name = os.path.basename(path_or_frame)
    cols = list(frame.columns)
    pc = postcode_field or find_column(cols, POSTCODE_NAMES)
    xc = x_field or find_column(cols, X_NAMES)
    yc = y_field or find_column(cols, Y_NAMES)
    missing = [what for what, c in (("postcode", pc), ("x/easting", xc), ("y/northing", yc))
               if c is None or c not in cols]
    if missing:
        raise CompositeIndexError(
            f"Postcode lookup '{name}' lacks column(s) {', '.join(missing)}. "
            f"Columns that exist: {', '.join(cols)}.",
            hint="Name them postcode, easting/x/longitude and northing/y/latitude.")
    out = pd.DataFrame({"postcode": normalise_postcodes(frame[pc].to_numpy(object)),
                        "x": parse_numbers(frame[xc].to_numpy(object)),
                        "y": parse_numbers(frame[yc].to_numpy(object))})
    good = np.isfinite(out["x"].to_numpy()) & np.isfinite(out["y"].to_numpy()) & \
        (out["postcode"] != "").to_numpy()
    dropped = int((~good).sum())
    out = out[good].drop_duplicates("postcode", keep="first").reset_index(drop=True)
    out.attrs["dropped"] = dropped
    return out


def find_column(columns, candidates):
    """The first column whose name (case-insensitive, spaces as _) is one of ``candidates``."""
    norm = {str(c).strip().lower().replace(" ", "_"): c for c in columns}
    for cand in candidates:
        key = cand.lower().replace(" ", "_")
        if key in norm:
            return norm[key]
    return None


def looks_like_policeuk(columns):
    return all(c in list(columns) for c in POLICEUK_COLUMNS)


def missing_columns_error(missing, columns, source="the input"):
    lower = {str(c).strip().lower(): c for c in columns}
    close = [f"'{m}' -> '{lower[m.strip().lower()]}'" for m in missing
             if m.strip().lower() in lower]
    hint = "Give the field names exactly as in the header (case and spaces matter)."
    if close:
        hint += " Did you mean: " + ", ".join(close) + "?"
    return CompositeIndexError(
        f"Column(s) {', '.join(repr(m) for m in missing)} not found in {source}. "
        f"Columns that exist: {', '.join(repr(c) for c in columns)}.", hint=hint)


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------
points_in_polygon = points_in_rings   # the one point-in-polygon test (core.geometry)


def guess_geographic(x, y):
    """True when (almost) all finite coordinates fit longitude/latitude ranges."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    fits = (np.abs(x[ok]) <= 180) & (np.abs(y[ok]) <= 90)
    return bool(fits.mean() >= 0.9)


# --------------------------------------------------------------------------------------------
# The cleanse
# --------------------------------------------------------------------------------------------
@dataclass
class CleanseOptions:
    """What to check. Field names are exact column names of the combined frame.

    ``crs_area``: (xmin, ymin, xmax, ymax) of the source CRS's valid area in source units
    (None = no check). ``postcode_lookup``: frame from :func:`read_postcode_lookup` (x/y in the
    source CRS) used when ``postcode_field`` is set (instead of X/Y). ``category_mapping``: dict
    or callable; None with a ``category_field`` = issue is the slug of the category.
    """
    x_field: str = None
    y_field: str = None
    postcode_field: str = None
    postcode_lookup: pd.DataFrame = None
    crs_area: tuple = None
    fix_swapped: bool = False
    decimal: str = None
    date_field: str = None
    date_formats: list = None
    date_from: object = None
    date_to: object = None
    category_field: str = None
    category_mapping: object = None
    require_mapping: bool = False
    default_issue: str = ""
    duplicate_fields: list = field(default_factory=list)
    period: str = None           # "month", "year", "financial_year" or None: the period field
    source_months: dict = None   # source_file -> yyyy-mm (police.uk archives), else from dates


@dataclass
class CleanseResult:
    clean: pd.DataFrame          # original columns + source_row, source_file, issue, event_date, fixes
    x: np.ndarray                # clean points, target CRS
    y: np.ndarray
    rejected: pd.DataFrame       # original columns + source_row, source_file, reject_reason, detail
    n_in: int
    counts: dict                 # reason -> rejected rows
    fixed: dict                  # fix name -> rows fixed and kept
    dates: np.ndarray = None     # parsed dates of all input rows (NaT where none), input order
    reason: np.ndarray = None    # reason code per input row (-1 = clean), input order
    sources: list = field(default_factory=list)   # read info per file
    notes: list = field(default_factory=list)
    period: np.ndarray = None    # period label of every input row ("" unknown), input order
    listing: object = None       # core.policeuk.ArchiveListing when read from an archive

    @property
    def n_clean(self):
        return len(self.clean)

    @property
    def n_rejected(self):
        return len(self.rejected)

    def summary(self):
        parts = [f"{self.n_in:,} rows in = {self.n_clean:,} clean + {self.n_rejected:,} rejected"]
        parts += [f"{k}: {v:,}" for k, v in self.counts.items() if v]
        parts += [f"{k} fixed: {v:,}" for k, v in self.fixed.items() if v]
        return "; ".join(parts)


def _require(frame, names, source="the input"):
    missing = [n for n in names if n and n not in frame.columns]
    if missing:
        raise missing_columns_error(missing, [c for c in frame.columns if c not in HIDDEN],
                                    source)


def _r(values):
    """Marks a column to be shown with quotes (repr) in a detail text."""
    return ("repr", values)


def _detail(mask, *parts):
    """Detail texts for the rows in ``mask`` (vectorised): literal strings and columns (arrays
    over all rows, sliced by ``mask`` before formatting; ``_r(col)`` quotes the values)."""
    mask = np.asarray(mask, dtype=bool)
    k = int(mask.sum())
    out = np.full(k, "", dtype=object)
    for part in parts:
        if isinstance(part, str):
            out = out + part
            continue
        quote = isinstance(part, tuple)
        values = np.asarray(part[1] if quote else part)[mask]
        text = pd.Series(values, dtype=object).map(repr if quote else str).to_numpy(object)
        out = out + text
    return out


def cleanse(frame, options, xy=None, to_target=None, in_study=None, progress=None):
    """Check every row of ``frame`` (strings, with ``source_row``/``source_file``).

    ``xy``: optional (x, y) float arrays from layer geometries (NaN = empty); otherwise X/Y or
    postcode columns are parsed. ``to_target(x, y) -> (tx, ty)``: transform to the target CRS
    (NaN/inf where it fails); None = identity. ``in_study(tx, ty) -> bool array``: study-area
    test in the target CRS; None = no test. Returns a :class:`CleanseResult`; raises
    ``CompositeIndexError`` for missing columns and if the row invariant fails.
    """
    progress = progress or NO_PROGRESS
    o = options
    if o.period and "period" in frame.columns:
        frame = _rename_reserved(frame, ("period",))
    n = len(frame)
    reason = np.full(n, OK, dtype="int8")
    detail = np.full(n, "", dtype=object)

    def reject(mask, code, text=None):
        """Reject rows in ``mask`` still clean; ``text`` an array over mask's True rows or str."""
        mask = np.asarray(mask, dtype=bool)
        new = mask & (reason == OK)
        if not new.any():
            return new
        reason[new] = _CODE[code]
        if text is not None:
            if isinstance(text, str):
                detail[new] = text
            else:
                text = np.asarray(text, dtype=object)
                detail[new] = text[new[mask]]
        return new

    if ROW_PROBLEM in frame.columns:      # 0. rows with more or fewer fields than the header
        why = frame[ROW_PROBLEM].to_numpy(object)
        malformed = pd.Series(why, dtype=object).fillna("").to_numpy(object) != ""
        reject(malformed, "malformed_row", why[malformed])

    needed = [o.date_field, o.category_field] + list(o.duplicate_fields or [])
    if xy is None:
        needed += [o.postcode_field] if o.postcode_field else [o.x_field, o.y_field]
    _require(frame, [c for c in needed if c])

    # 1. Location -------------------------------------------------------------------------
    progress.report(0.0)
    if xy is not None:
        x = np.asarray(xy[0], dtype="float64").copy()
        y = np.asarray(xy[1], dtype="float64").copy()
        reject(~(np.isfinite(x) & np.isfinite(y)), "no_coordinates", "empty geometry")
    elif o.postcode_field:
        if o.postcode_lookup is None:
            raise CompositeIndexError("A postcode field is given but no postcode lookup table.",
                                      hint="Give a CSV with postcode, x and y columns.")
        raw = frame[o.postcode_field].to_numpy(object)
        pcs = normalise_postcodes(raw)
        empty = pcs == ""
        reject(empty, "no_coordinates", f"{o.postcode_field} empty")
        lk = o.postcode_lookup
        pos = pd.Index(lk["postcode"]).get_indexer(pcs)
        nf = (pos < 0) & ~empty
        reject(nf, "postcode_not_found",
               _detail(nf, f"{o.postcode_field} ", _r(raw), " (normalised ", _r(pcs), ")"))
        x = np.where(pos >= 0, lk["x"].to_numpy()[np.maximum(pos, 0)], np.nan)
        y = np.where(pos >= 0, lk["y"].to_numpy()[np.maximum(pos, 0)], np.nan)
    else:
        xs = frame[o.x_field].to_numpy(object)
        ys = frame[o.y_field].to_numpy(object)
        x_empty = _by_unique(xs, _blank).astype(bool)
        y_empty = _by_unique(ys, _blank).astype(bool)
        no_xy = x_empty | y_empty
        reject(no_xy, "no_coordinates",
               np.where(x_empty & y_empty, f"{o.x_field} and {o.y_field} empty",
                        np.where(x_empty, f"{o.x_field} empty", f"{o.y_field} empty"))[no_xy])
        x = parse_numbers(xs, o.decimal)
        y = parse_numbers(ys, o.decimal)
        bad = ~(np.isfinite(x) & np.isfinite(y))
        reject(bad, "bad_coordinates",
               _detail(bad, f"{o.x_field}=", _r(xs), f", {o.y_field}=", _r(ys)))
    progress.report(0.25)

    # 2. Valid area of the source CRS, swapped X/Y ------------------------------------------
    fixed = {"swapped_latlon": 0}
    if o.crs_area is not None:
        xmin, ymin, xmax, ymax = o.crs_area
        live = reason == OK
        inside = (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)
        swapped_in = (y >= xmin) & (y <= xmax) & (x >= ymin) & (x <= ymax)
        swapped = live & ~inside & swapped_in
        if o.fix_swapped:
            x[swapped], y[swapped] = y[swapped], x[swapped].copy()
            fixed["swapped_latlon"] = int(swapped.sum())
        else:
            reject(swapped, "swapped_latlon",
                   _detail(swapped, "x=", x, ", y=", y, " fit the CRS area only when swapped"))
        out = live & ~inside & ~swapped
        area_text = f" outside the CRS valid area [{xmin:.6g}, {ymin:.6g}, {xmax:.6g}, {ymax:.6g}]"
        reject(out, "outside_crs_area", _detail(out, "x=", x, ", y=", y, area_text))
    else:
        swapped = np.zeros(n, dtype=bool)

    live = reason == OK
    tx = np.full(n, np.nan)
    ty = np.full(n, np.nan)
    if live.any():
        if to_target is None:
            tx[live], ty[live] = x[live], y[live]
        else:
            rx, ry = to_target(x[live], y[live])
            tx[live], ty[live] = rx, ry
    failed = live & ~(np.isfinite(tx) & np.isfinite(ty))
    reject(failed, "outside_crs_area", "cannot be transformed to the target CRS")
    progress.report(0.45)

    # 3. Dates ------------------------------------------------------------------------------
    dates = None
    if o.date_field:
        draw = frame[o.date_field].to_numpy(object)
        dates = parse_dates(draw, o.date_formats)
        nat = np.isnat(dates)
        reject(nat, "bad_date", _detail(nat, f"{o.date_field}=", _r(draw)))
        lo = parse_date_bound(o.date_from)
        hi = parse_date_bound(o.date_to, end=True)
        if lo is not None or hi is not None:
            outw = np.zeros(n, dtype=bool)
            if lo is not None:
                outw |= ~nat & (dates < np.datetime64(lo.to_datetime64()))
            if hi is not None:
                outw |= ~nat & (dates > np.datetime64(hi.to_datetime64()))
            window = f" outside {lo.date() if lo is not None else '...'} to " \
                     f"{hi.date() if hi is not None else '...'}"
            reject(outw, "outside_date_window",
                   _detail(outw, f"{o.date_field}=", draw, window))
    period, period_notes = _periods(frame, o, dates)
    progress.report(0.6)

    # 4. Categories -> issues ---------------------------------------------------------------
    issue = np.full(n, o.default_issue or "", dtype=object)
    if o.category_field:
        craw = frame[o.category_field].to_numpy(object)
        if o.category_mapping is None:
            issue = _by_unique(craw, lambda u: np.array([slug(v) for v in u], dtype=object))
            mapped = issue != ""
        else:
            issue, mapped = map_categories(craw, o.category_mapping)
        if o.require_mapping:
            reject(~mapped, "unmapped_category",
                   _detail(~mapped, f"{o.category_field}=", _r(craw)))
        elif o.default_issue:
            issue = np.where(mapped, issue, o.default_issue).astype(object)
    progress.report(0.7)

    # 5. Study area -------------------------------------------------------------------------
    live = reason == OK
    in_buffer = np.zeros(n, dtype=bool)
    if in_study is not None and live.any():
        inside = np.zeros(n, dtype=bool)
        got = in_study(tx[live], ty[live])
        if isinstance(got, tuple):  # (inside the buffered area, only inside the buffer)
            in_buffer[live] = np.asarray(got[1], dtype=bool)
            got = got[0]
        inside[live] = np.asarray(got, dtype=bool)
        in_buffer &= inside
        reject(live & ~inside, "outside_study_area", "outside the (buffered) study area")
    progress.report(0.85)

    # 6. Duplicates among rows still clean ----------------------------------------------------
    if o.duplicate_fields:
        live = reason == OK
        cols = [frame[c].to_numpy(object) for c in o.duplicate_fields]
        stripped = [pd.Series(c).str.strip() for c in cols]
        has_key = np.logical_and.reduce([(s != "").to_numpy() for s in stripped])
        cand = live & has_key
        if cand.sum() > 1:
            key = stripped[0][cand]
            for s in stripped[1:]:
                key = key.str.cat(s[cand], sep="\x1f")
            codes, _ = pd.factorize(key.to_numpy(object))
            _, first = np.unique(codes, return_index=True)
            idx = np.nonzero(cand)[0]
            first_row = idx[first[codes]]
            dup = np.zeros(n, dtype=bool)
            dup[idx] = first_row != idx
            first_of = np.zeros(n, dtype="int64")
            first_of[idx] = first_row
            src_row = frame["source_row"].to_numpy()[first_of]
            src_file = frame["source_file"].to_numpy(object)[first_of]
            reject(dup, "duplicate", _detail(dup, f"same {', '.join(o.duplicate_fields)} as row ",
                                             src_row, " of ", src_file))
    progress.report(0.92)

    # Assemble --------------------------------------------------------------------------------
    ok = reason == OK
    if ROW_PROBLEM in frame.columns:
        frame = frame.drop(columns=[ROW_PROBLEM])
    clean = frame[ok].reset_index(drop=True)
    clean["issue"] = issue[ok]
    if dates is not None:
        clean["event_date"] = _format_dates(dates[ok], "%Y-%m-%d", "")
    else:
        clean["event_date"] = ""
    fixes = np.where(swapped & o.fix_swapped, "swapped_latlon", "").astype(object)
    kept_by_buffer = in_buffer & ok
    if kept_by_buffer.any():
        fixes[kept_by_buffer] = np.where(fixes[kept_by_buffer] == "", "in_study_buffer",
                                         fixes[kept_by_buffer] + ";in_study_buffer")
        fixed["in_study_buffer"] = int(kept_by_buffer.sum())
    clean["fixes"] = fixes[ok]
    if period is not None:
        clean["period"] = period[ok]
    rej = frame[~ok].reset_index(drop=True)
    rej["reject_reason"] = np.asarray(REASONS, dtype=object)[reason[~ok]]
    rej["reject_detail"] = detail[~ok]
    if period is not None:
        rej["period"] = period[~ok]
    counts = {r: 0 for r in REASONS}
    for code, cnt in zip(*np.unique(reason[~ok], return_counts=True)):
        counts[REASONS[code]] = int(cnt)
    result = CleanseResult(clean=clean, x=tx[ok], y=ty[ok], rejected=rej, n_in=n, counts=counts,
                           fixed=fixed, dates=dates, reason=reason, period=period)
    result.notes.extend(period_notes)
    if o.category_field and not o.require_mapping:
        kept = int((clean["issue"] == "").sum())
        if kept:
            result.notes.append(
                f"{kept:,} clean row(s) have an empty issue: their {o.category_field} is empty or "
                "not in the mapping (set REQUIRE_MAPPING to reject them instead).")
    check_invariant(result)
    progress.report(1.0)
    return result


PERIOD_KINDS = ("month", "year", "financial_year")


def period_labels(months, kind):
    """Period labels from months written ``yyyy-mm`` ("" where unknown): ``month`` keeps
    ``yyyy-mm``, ``year`` gives ``yyyy``, ``financial_year`` the UK April-to-March year
    ``yyyy/yy`` (2016-04 .. 2017-03 -> ``2016/17``). Vectorised over the distinct months."""
    if kind not in PERIOD_KINDS:
        raise CompositeIndexError(f"Unknown period '{kind}'.",
                                  hint="Use month, year or financial_year.")

    def lab(u):
        s = u.astype(str).str.strip()
        ok = s.str.match(r"^\d{4}-\d{2}$")
        if kind == "month":
            return s.where(ok, "").to_numpy(object)
        if kind == "year":
            return s.str[:4].where(ok, "").to_numpy(object)
        y = pd.to_numeric(s.str[:4].where(ok), errors="coerce")
        m = pd.to_numeric(s.str[5:7].where(ok), errors="coerce")
        start = y.where(m >= 4, y - 1)
        text = start.map(lambda v: "" if pd.isna(v) else f"{int(v)}/{(int(v) + 1) % 100:02d}")
        return text.to_numpy(object)

    return _by_unique(np.asarray(months, dtype=object), lab).astype(object)


def _periods(frame, o, dates):
    """``(labels, notes)``: the period label of every row (None when no period is asked for or
    known), from the archive file's month (``o.source_months``), else from the date field;
    notes count rows whose date falls in another month than their file."""
    if not o.period:
        return None, []
    notes = []
    if o.source_months:
        codes, names = pd.factorize(frame["source_file"].to_numpy(object))
        month_of = np.array([o.source_months.get(nm, "") for nm in names], dtype=object)
        months = month_of[codes] if len(codes) else np.empty(0, dtype=object)
        if dates is not None and len(months):
            date_month = _format_dates(np.asarray(dates).astype("datetime64[M]"), "%Y-%m", "")
            differ = (date_month != "") & (date_month != months)
            if differ.any():
                i = int(np.flatnonzero(differ)[0])
                notes.append(
                    f"{int(differ.sum()):,} row(s) have a {o.date_field} in another month than "
                    f"their file (e.g. row {frame['source_row'].iat[i]} of "
                    f"{frame['source_file'].iat[i]}: {date_month[i]}); their period follows the "
                    "file.")
    elif dates is not None:
        months = _format_dates(np.asarray(dates).astype("datetime64[M]"), "%Y-%m", "")
    else:
        return None, []
    return period_labels(months, o.period), notes


def _format_dates(dates, fmt, missing):
    """Format a datetime64 array once per distinct value; NaT -> ``missing``."""
    codes, uniques = pd.factorize(np.asarray(dates, dtype="datetime64[ns]"))
    text = np.asarray(pd.DatetimeIndex(uniques).strftime(fmt), dtype=object)
    out = np.full(len(codes), missing, dtype=object)
    good = codes >= 0
    out[good] = text[codes[good]]
    return out


def check_invariant(result):
    """Raise if rows in != clean + rejected or the reason counts do not add up."""
    if result.n_clean + result.n_rejected != result.n_in or \
            sum(result.counts.values()) != result.n_rejected or len(result.x) != result.n_clean:
        raise CompositeIndexError(
            f"Internal error: {result.n_in} rows in but {result.n_clean} clean + "
            f"{result.n_rejected} rejected (reasons add up to {sum(result.counts.values())}).",
            hint="Please report this with the input file.")


def apply_preset(settings, columns):
    """Fill unset settings (dict with keys of ``POLICEUK_SETTINGS``) for the police.uk preset
    after checking the 12-column layout; raises listing missing and existing columns."""
    missing = [c for c in POLICEUK_COLUMNS if c not in columns]
    if missing:
        raise CompositeIndexError(
            "The police.uk preset expects the 12-column street-level layout; missing: "
            f"{', '.join(repr(m) for m in missing)}. Columns that exist: "
            f"{', '.join(repr(c) for c in columns)}.",
            hint="Use the generic preset and name the X/Y/date fields, or check the file.")
    out = dict(settings)
    for k, v in POLICEUK_SETTINGS.items():
        if not out.get(k):
            out[k] = v
    return out


def import_tables(paths, options, encoding=None, delimiter=None, to_target=None, in_study=None,
                  progress=None):
    """Read text files and cleanse them in one go (the recipe runner's entry point).

    ``paths``: file paths (e.g. one per month). ``options``: :class:`CleanseOptions`.
    Returns a :class:`CleanseResult` with ``sources`` = read info per file. ``to_target``
    transforms source to target coordinates (None = keep, e.g. eastings/northings in EPSG:27700
    to a EPSG:27700 grid). Raises ``CompositeIndexError`` when every file is empty.
    """
    progress = progress or NO_PROGRESS
    tables, infos = [], []
    for i, path in enumerate(paths):
        frame, info = read_table(path, encoding, delimiter)
        tables.append((frame, os.path.basename(path)))
        infos.append(info)
        progress.report(0.3 * (i + 1) / max(len(paths), 1))
    if sum(info["rows"] for info in infos) == 0:
        raise CompositeIndexError(
            "No data rows: " + ", ".join(f"'{i['file']}' has only a header" for i in infos) + ".",
            hint="Check the export; the file(s) contain column names but no rows.")
    frame = combine_tables(tables)
    result = cleanse(frame, options, to_target=to_target, in_study=in_study,
                     progress=progress.sub(0.3, 1.0))
    result.sources = infos
    return result


DELIMITER_ENUM = ("", ",", ";", "\t", "|")   # the DELIMITER parameter's options, in order
DECIMAL_ENUM = (None, ".", ",")               # the DECIMAL parameter's options, in order


def _as_list(value, sep):
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(sep) if v.strip()]


def settings_to_options(settings, columns=None, base_dir=None):
    """The algorithm's parameters as a recipe writes them (keys in any case: ``x_field``,
    ``date_formats`` "a;b" or list, ``duplicate_fields`` "a,b" or list, ``delimiter`` enum index
    or character, ``preset`` 0/1, ``category_mapping`` / ``postcode_lookup`` paths relative to
    ``base_dir``...) -> ``(CleanseOptions, read_kwargs, source_crs)``.

    ``columns`` (of the file) is needed for the police.uk preset check and for guessing X/Y
    columns when not given. ``source_crs`` is the authid string given (or the preset's), else
    None. The CRS valid area is not set here (it needs a CRS library): set ``crs_area``.
    """
    s = {str(k).lower(): v for k, v in settings.items()}

    def path(key):
        p = s.get(key)
        if not p:
            return None
        return p if os.path.isabs(p) or base_dir is None else os.path.join(base_dir, p)

    core = {"x_field": s.get("x_field") or "", "y_field": s.get("y_field") or "",
            "date_field": s.get("date_field") or "",
            "date_formats": _as_list(s.get("date_formats"), ";"),
            "category_field": s.get("category_field") or "",
            "duplicate_fields": _as_list(s.get("duplicate_fields"), ","),
            "postcode_field": s.get("postcode_field") or "",
            "source_crs": s.get("source_crs") or ""}
    mapping_path = path("category_mapping")
    if int(s.get("preset") or 0) == 1:
        core = apply_preset(core, list(columns or []))
        if not mapping_path:
            here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            for root in (here, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
                candidate = os.path.join(root, "resources", "presets", "policeuk_crime_types.csv")
                if os.path.exists(candidate):
                    mapping_path = candidate
                    break
    if columns is not None and not core["postcode_field"]:
        core["x_field"] = core["x_field"] or find_column(columns, X_NAMES)
        core["y_field"] = core["y_field"] or find_column(columns, Y_NAMES)
    delimiter = s.get("delimiter")
    if isinstance(delimiter, (int, float)) or (isinstance(delimiter, str) and delimiter.isdigit()):
        delimiter = DELIMITER_ENUM[int(delimiter)]
    decimal = s.get("decimal")
    if isinstance(decimal, (int, float)) or (isinstance(decimal, str) and decimal.isdigit()):
        decimal = DECIMAL_ENUM[int(decimal)]
    lookup = path("postcode_lookup")
    options = CleanseOptions(
        x_field=core["x_field"] or None, y_field=core["y_field"] or None,
        postcode_field=core["postcode_field"] or None,
        postcode_lookup=read_postcode_lookup(lookup) if lookup else None,
        fix_swapped=bool(s.get("fix_swapped", False)), decimal=decimal or None,
        date_field=core["date_field"] or None, date_formats=core["date_formats"] or None,
        date_from=s.get("date_from") or None, date_to=s.get("date_to") or None,
        category_field=core["category_field"] or None,
        category_mapping=read_category_mapping(mapping_path) if mapping_path else None,
        require_mapping=bool(s.get("require_mapping", False)),
        duplicate_fields=core["duplicate_fields"])
    read_kwargs = {"encoding": s.get("encoding") or None, "delimiter": delimiter or None}
    return options, read_kwargs, core["source_crs"] or None


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def svg_thumbnail(x, y, width=360, height=360, bins=120, title="clean points"):
    """A small SVG density map of points (2-D histogram, darker = more), made with numpy only."""
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">'
            f'<rect width="{width}" height="{height}" fill="#f7f7f7" stroke="#999"/>')
    if len(x) == 0:
        return head + f'<text x="10" y="{height // 2}" font-size="12">no points</text></svg>'
    # Extent of the central 99% (a few far-away points would shrink the map to a dot), plus 5%.
    xmin, xmax = np.percentile(x, [0.5, 99.5]) if len(x) >= 200 else (x.min(), x.max())
    ymin, ymax = np.percentile(y, [0.5, 99.5]) if len(y) >= 200 else (y.min(), y.max())
    span = max(xmax - xmin, ymax - ymin, 1e-9) * 1.05
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    xr = (cx - span / 2 * 1.02, cx + span / 2 * 1.02)
    yr = (cy - span / 2 * 1.02, cy + span / 2 * 1.02)
    hist, _, _ = np.histogram2d(x, y, bins=bins, range=[xr, yr])
    cell = width / bins
    ii, jj = np.nonzero(hist)
    vals = np.log1p(hist[ii, jj])
    shade = 0.25 + 0.75 * vals / vals.max()
    parts = [head]
    for i, j, s in zip(ii.tolist(), jj.tolist(), shade.tolist()):
        parts.append(f'<rect x="{i * cell:.1f}" y="{(bins - 1 - j) * cell * height / width:.1f}" '
                     f'width="{cell + 0.2:.1f}" height="{cell * height / width + 0.2:.1f}" '
                     f'fill="#08519c" fill-opacity="{s:.2f}"/>')
    outside = int(len(x) - hist.sum())
    if outside:
        parts.append(f'<text x="6" y="{height - 6}" font-size="11" fill="#444">'
                     f'{outside:,} point(s) beyond this extent</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headers, rows):
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in headers)
    body = "".join("<tr>" + "".join(
        f"<td>{html.escape(f'{v:,}' if isinstance(v, (int, np.integer)) else str(v))}</td>"
        for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def report_tables(result, frame_categories=None, frame_sources=None):
    """Counts for the report as plain lists (also useful in tests): dict of name -> rows."""
    reason = result.reason
    ok = reason == OK
    out = {}
    out["reasons"] = [(r, REASON_LABELS[r], result.counts.get(r, 0)) for r in REASONS]
    if result.dates is not None:
        months = pd.Series(_format_dates(result.dates.astype("datetime64[M]"), "%Y-%m",
                                         "(no date)"))
        tab = pd.crosstab(months.to_numpy(), ok)
        out["months"] = [(m, int(tab.loc[m].get(True, 0)), int(tab.loc[m].get(False, 0)))
                         for m in tab.index]
    if frame_categories is not None:
        tab = pd.crosstab(pd.Series(frame_categories).replace("", "(empty)").to_numpy(), ok)
        out["categories"] = sorted(((c, int(tab.loc[c].get(True, 0)), int(tab.loc[c].get(False, 0)))
                                    for c in tab.index), key=lambda t: -(t[1] + t[2]))
    if frame_sources is not None:
        tab = pd.crosstab(pd.Series(frame_sources).to_numpy(), ok)
        out["sources"] = [(s, int(tab.loc[s].sum()), int(tab.loc[s].get(True, 0)),
                           int(tab.loc[s].get(False, 0))) for s in tab.index]
    if result.period is not None and len(result.period):
        tab = pd.crosstab(pd.Series(result.period).replace("", "(unknown)").to_numpy(), ok)
        out["periods"] = [(p, int(tab.loc[p].sum()), int(tab.loc[p].get(True, 0)),
                           int(tab.loc[p].get(False, 0))) for p in tab.index]
    return out


def report_html(result, title="Incident import: data-quality report", settings=None,
                categories=None, sources=None, thumbnail_svg=None):
    """The data-quality report: invariant, counts per reason, month, category and source, map.

    ``categories``/``sources``: raw category and source_file per input row (input order).
    """
    tabs = report_tables(result, categories, sources)
    holds = result.n_clean + result.n_rejected == result.n_in
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:1.5em}}"
        "table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #bbb;"
        "padding:2px 8px;text-align:left}td:nth-child(n+2){text-align:right}.ok{color:#1a7f37}"
        ".bad{color:#b00}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='{'ok' if holds else 'bad'}'><b>Rows in {result.n_in:,} = clean "
        f"{result.n_clean:,} + rejected {result.n_rejected:,}</b> "
        f"({'invariant holds' if holds else 'INVARIANT BROKEN'}).</p>",
    ]
    fixes = [(k, v) for k, v in result.fixed.items() if v]
    if fixes:
        parts.append("<p>Fixed and kept: " + ", ".join(f"{html.escape(k)} {v:,}" for k, v in fixes)
                     + " (see the field <code>fixes</code>).</p>")
    if result.sources:
        monthly = any("month" in i for i in result.sources)
        parts.append("<h2>Files read</h2>" + _table(
            ["file"] + (["month", "force"] if monthly else []) + ["encoding", "delimiter", "rows"],
            [(i["file"],) + ((i.get("month", ""), i.get("force", "")) if monthly else ()) +
             (i["encoding"], DELIMITERS.get(i["delimiter"], repr(i["delimiter"])), int(i["rows"]))
             for i in result.sources]))
    parts.append("<h2>Rejected rows per reason</h2>" + _table(
        ["reason code", "meaning", "rows"], tabs["reasons"] + [("total", "", result.n_rejected)]))
    if "sources" in tabs:
        parts.append("<h2>Per source</h2>" + _table(["source", "rows in", "clean", "rejected"],
                                                    tabs["sources"]))
    if "periods" in tabs:
        parts.append("<h2>Per period</h2>" + _table(["period", "rows in", "clean", "rejected"],
                                                    tabs["periods"]))
    if "months" in tabs:
        parts.append("<h2>Per month</h2>" + _table(["month", "clean", "rejected"], tabs["months"]))
    if "categories" in tabs:
        parts.append("<h2>Per category</h2>" + _table(["category", "clean", "rejected"],
                                                      tabs["categories"]))
    parts.append("<h2>Map of the clean points</h2>")
    parts.append(thumbnail_svg if thumbnail_svg is not None else svg_thumbnail(result.x, result.y))
    if settings:
        parts.append("<h2>Settings</h2>" + _table(["setting", "value"],
                                                  [(k, v) for k, v in settings.items()]))
    if result.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>"
                                                    for n in result.notes) + "</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def write_report(path, text):
    with io.open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
