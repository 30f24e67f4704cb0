"""Outputs written as a transaction: the previous result stays whole until the new one is
complete and checked, then one swap puts the new one in its place.

Why: a re-run that failed late, was cancelled or was killed (``kill -9``, a crash, a full disk, a
PostGIS server that went away) used to leave half a result over the last good one: a layer
without its count column, a table of zeros, a dropped table, a new baseline beside an old map.

Two mechanisms, both cleaned up on the next run when a process died half way:

* **An algorithm** (every Composite Index algorithm, through ``CompositeIndexAlgorithm``): each
  file, GeoPackage or PostGIS destination is redirected to a temporary sibling - a file
  ``.<name>.composite_index_tmp-<pid>.<ext>`` in the same folder, a table
  ``<name>__ci_tmp_<pid>`` in the same GeoPackage (or schema), a hidden sibling folder for a
  folder output (PNG pages, the sample's files) - and swapped in when the algorithm has
  finished: a file by one ``os.replace`` (atomic), a folder's files each by ``os.replace``
  (files of other names in the folder stay), a GeoPackage table by
  ``DROP`` + ``ALTER TABLE ... RENAME`` in one SQLite transaction, a PostGIS table the same way
  in one SQL transaction. Before the swap every sink is checked: the features in the written
  layer must equal the features the algorithm gave it, or the run fails naming the layer
  (SQLite refusing a table, a full disk).
* **A run of a recipe** (``StagedFolder``): the whole run writes into a hidden sibling of the
  output folder, ``.<folder>.composite_index_staging``; at the end its files move into the output
  folder under a journal (``.composite_index_swap.json``), so a run killed during the move is
  finished by the next run (rolled forward) - never a mix of two runs. Only files this plugin
  wrote are replaced (``core.sandbox``: the default names, or names in the folder's manifest).

Errors of the file system (full disk, read-only folder, permission) become messages naming the
file and what to do (``explain``).
"""
import errno
import json
import os
import re
import shutil
import socket
import sqlite3
import uuid

from qgis.core import QgsFeatureSink, QgsProcessingException

from composite_index_plugin.core import sandbox
from composite_index_plugin.qgis_compat import PropertyType

TMP_TAG = "composite_index_tmp"
TABLE_TAG = "__ci_tmp_"
STAGING_SUFFIX = ".composite_index_staging"
BACKUP_SUFFIX = ".composite_index_previous"
MARKER = ".composite_index_staging"
JOURNAL = ".composite_index_swap.json"
SQLITE_SIDES = ("-wal", "-shm", "-journal")
SHAPEFILE_SIDES = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qpj", ".qix", ".sbn", ".sbx")
GPKG_MAX_COLUMNS = 2000          # SQLite's default SQLITE_MAX_COLUMN (fid and geometry included)
POSTGRES_MAX_NAME = 63           # PostgreSQL's NAMEDATALEN - 1 (bytes)
SHAPEFILE_MAX_NAME = 10          # dBase field names

# Folders a recipe run is writing into (its staging folder): algorithms run by the run write
# there directly, the run itself is the transaction.
_STAGING = set()


# ------------------------------------------------------------------------------ errors
def explain_os_error(err, path, doing="write"):
    """A message for an OSError met while writing ``path``: what happened and what to do."""
    code = getattr(err, "errno", None)
    folder = os.path.dirname(os.path.abspath(path)) if path else ""
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return (f"The disk holding {path} is full (no space left on the device): nothing was "
                f"replaced. Free some space on it, or write the output to another disk.")
    if code == errno.EROFS:
        return (f"The folder {folder} is on a read-only file system: {path} cannot be written. "
                "Choose an output folder you can write to.")
    if code in (errno.EACCES, errno.EPERM):
        return (f"You may not {doing} {path} (permission denied): choose an output folder you "
                "can write to, or ask for write access to it.")
    return f"Cannot {doing} {path}: {getattr(err, 'strerror', None) or err}."


def explain_write_error(text, path):
    """A message for an error text of SQLite / GDAL / QGIS met while writing ``path``, or None
    when the text is not one this module knows."""
    low = (text or "").lower()
    if "database or disk is full" in low or "no space left on device" in low:
        return explain_os_error(OSError(errno.ENOSPC, "no space"), path)
    if "too many columns on" in low:
        return (f"{path}: the layer has more fields than a GeoPackage (SQLite) table can hold "
                f"(at most {GPKG_MAX_COLUMNS - 2:,} besides the id and geometry). Keep fewer "
                "columns in the input, or write to another format.")
    if "attempt to write a readonly database" in low or "read-only file system" in low:
        return explain_os_error(OSError(errno.EROFS, "read-only"), path)
    if "permission denied" in low and "sqlite" in low:
        return explain_os_error(OSError(errno.EACCES, "permission denied"), path)
    return None


def _first_line(text):
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def check_writable(folder):
    """Raise QgsProcessingException when no file can be created in ``folder`` (read-only,
    permission, full disk), before any work starts. The folder is created when missing."""
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = _mkstemp(folder)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
            os.remove(probe)
    except OSError as err:
        raise QgsProcessingException(explain_os_error(err, os.path.join(folder, "(output)"))) \
            from err


def _mkstemp(folder):
    import tempfile

    return tempfile.mkstemp(prefix=f".{TMP_TAG}-{os.getpid()}-", dir=folder)


_ACTIVE = set()     # temporary names of the transactions running in this process


def _stale(name):
    """A temporary name of this module left by a process that is gone, or by this process
    outside a running transaction."""
    pid = _tmp_pid(name)
    if pid is None:
        return False
    if pid == os.getpid():
        return not any(token in name for token in _ACTIVE)
    return not _alive(pid)


def _postgres_tables(conninfo, schema):
    from qgis.core import QgsProviderRegistry

    try:
        conn = QgsProviderRegistry.instance().providerMetadata("postgres").createConnection(
            conninfo, {})
        return [t.tableName() for t in conn.tables(schema or "public")]
    except Exception:  # noqa: BLE001 - no server: nothing to clean now
        return []


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _tmp_pid(name):
    """The process id in a temporary name of this module, or None."""
    found = re.search(rf"{TMP_TAG}-(\d+)|{TABLE_TAG}(\d+)_", name)
    if not found:
        return None
    return int(found.group(1) or found.group(2))


def _write_json(path, data):
    """Write JSON data to ``path`` atomically (temporary file, flush, rename)."""
    tmp = f"{path}.{TMP_TAG}-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------ a recipe run
class StagedFolder:
    """The files of a run written into a hidden sibling of the output folder and moved into it
    when the run has finished.

    ``begin()`` finishes an interrupted swap, removes a staging folder left by a dead run and
    makes a fresh one; ``commit(names)`` moves the finished files in (journaled); ``abort()``
    removes the staging folder. ``replaceable(name)`` tells which existing files a run may
    replace: those an earlier run wrote (``core.sandbox.is_run_output`` or the manifest).
    """

    def __init__(self, folder):
        self.folder = os.path.abspath(folder)
        parent, name = os.path.split(os.path.normpath(self.folder))
        name = name or "output"
        self.staging = os.path.join(parent, f".{name}{STAGING_SUFFIX}")
        self.backup = os.path.join(parent, f".{name}{BACKUP_SUFFIX}")
        self.journal = os.path.join(self.folder, JOURNAL)
        self.manifest = os.path.join(self.folder, sandbox.MANIFEST)

    # ----- what may be replaced
    def written_before(self):
        """Names an earlier run wrote into the folder (its manifest)."""
        try:
            with open(self.manifest, encoding="utf-8") as handle:
                data = json.load(handle)
            return set(data.get("files", [])) if isinstance(data, dict) else set()
        except (OSError, ValueError, RecursionError):
            return set()

    def replaceable(self, name):
        """May a run replace ``name`` in the output folder? Yes when it does not exist, or an
        earlier run wrote it."""
        target = os.path.join(self.folder, name)
        if not os.path.lexists(target):
            return True
        if os.path.islink(target):
            return False
        return sandbox.is_run_output(name) or name in self.written_before()

    # ----- life cycle
    def begin(self):
        """Finish a swap a dead run left half done, clear a dead run's staging folder, and make
        the staging folder of this run."""
        self.recover()
        if os.path.isdir(self.staging):
            owner = self._owner()
            if owner is None:
                raise QgsProcessingException(
                    f"{self.staging} exists but was not made by Composite Index: it was left "
                    "alone. Move it away, then run again.")
            pid, host = owner
            if host == socket.gethostname() and pid != os.getpid() and _alive(pid):
                raise QgsProcessingException(
                    f"Another run (process {pid}) is writing into {self.folder} now: wait for it "
                    "to finish, or write this run to another output folder.")
            shutil.rmtree(self.staging)
        parent = os.path.dirname(self.staging)
        check_writable(parent)
        try:
            os.makedirs(self.staging)
            _write_json(os.path.join(self.staging, MARKER),
                        {"pid": os.getpid(), "host": socket.gethostname(), "folder": self.folder})
        except OSError as err:
            raise QgsProcessingException(explain_os_error(err, self.staging)) from err
        _STAGING.add(sandbox.real(self.staging))
        return self.staging

    def _owner(self):
        try:
            with open(os.path.join(self.staging, MARKER), encoding="utf-8") as handle:
                data = json.load(handle)
            return int(data["pid"]), data.get("host")
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def names(self):
        """The files and folders the run wrote (in the staging folder)."""
        return sorted(n for n in os.listdir(self.staging) if n != MARKER)

    def commit(self, names=None):
        """Move the run's files into the output folder (replacing an earlier run's). Raises
        QgsProcessingException, with the folder untouched, when a file to replace was not
        written by this plugin or the folder cannot be written."""
        names = list(names if names is not None else self.names())
        foreign = [n for n in names if not self.replaceable(n)]
        if foreign:
            raise QgsProcessingException(
                f"The run would replace {', '.join(foreign)} in {self.folder}, which Composite "
                "Index did not write: nothing was replaced. Give the output another name in the "
                "recipe's output section, or move those files away.")
        try:
            os.makedirs(self.folder, exist_ok=True)
            _write_json(self.journal, {"staging": self.staging, "backup": self.backup,
                                       "names": names})
        except OSError as err:
            raise QgsProcessingException(explain_os_error(err, self.journal)) from err
        self._swap(names)
        _STAGING.discard(sandbox.real(self.staging))

    def recover(self):
        """Finish a swap that a killed run left half done (its journal is still there)."""
        try:
            with open(self.journal, encoding="utf-8") as handle:
                data = json.load(handle)
            names = [n for n in data["names"] if isinstance(n, str) and "/" not in n
                     and "\\" not in n and n not in ("", ".", "..")]
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError):
            return False
        # the folders that swap was using (a publish stages elsewhere than a run's default);
        # this run's own folders stay as they are
        staging, backup = (data[key] if isinstance(data.get(key), str) and os.path.isabs(data[key])
                           else getattr(self, key) for key in ("staging", "backup"))
        if not os.path.isdir(staging):
            os.remove(self.journal)
            return False
        self._swap(names, staging, backup)
        return True

    def _swap(self, names, staging=None, backup=None):
        """Move each name: the earlier run's copy (with its SQLite side files) into the backup
        folder, then the new one in from the staging folder (this run's unless given).
        Repeatable: a second call after a crash finishes the job."""
        staging, backup = staging or self.staging, backup or self.backup
        os.makedirs(backup, exist_ok=True)
        for name in names:
            new = os.path.join(staging, name)
            if not os.path.lexists(new):
                continue                                  # moved before a crash
            target = os.path.join(self.folder, name)
            olds = [name] + [name + side for side in SQLITE_SIDES if name + side not in names]
            for old in olds:            # the earlier run's copy, and its SQLite side files
                if os.path.lexists(os.path.join(self.folder, old)):
                    kept = os.path.join(backup, old)
                    if os.path.isdir(kept) and not os.path.islink(kept):
                        shutil.rmtree(kept)
                    os.replace(os.path.join(self.folder, old), kept)
            os.replace(new, target)
        written = sorted(self.written_before() | set(names))
        _write_json(self.manifest, {"written_by": "Composite Index", "files": written})
        os.remove(self.journal)
        shutil.rmtree(backup, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)

    def abort(self):
        """Remove the staging folder (only this run's; not when a swap was begun: the next run
        finishes it from the journal)."""
        _STAGING.discard(sandbox.real(self.staging))
        if os.path.exists(self.journal):
            return
        owner = self._owner()
        if owner is not None and owner[0] == os.getpid():
            shutil.rmtree(self.staging, ignore_errors=True)

    def write_side_file(self, name, text):
        """Write a file of the run straight into the output folder (the log of a run that did not
        finish), atomically and only when it may be replaced. Returns its path or None."""
        if not self.replaceable(name):
            return None
        path = os.path.join(self.folder, name)
        try:
            os.makedirs(self.folder, exist_ok=True)
            tmp = f"{path}.{TMP_TAG}-{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
            written = sorted(self.written_before() | {name})
            _write_json(self.manifest, {"written_by": "Composite Index", "files": written})
        except OSError:
            return None
        return path


def in_staging(path):
    """True when ``path`` lies in the staging folder of a recipe run of this process."""
    if not _STAGING or not path:
        return False
    target = sandbox.real(path)
    return any(target == root or target.startswith(root + os.sep) for root in _STAGING)


# --------------------------------------------------------------------- destinations
_OGR_DEST = re.compile(r"^ogr:dbname='((?:[^']|'')*)'\s+table=\"((?:[^\"]|\"\")*)\"(.*)$", re.S)


def _plain_value(value, context):
    """The destination text of a parameter value, or None when it is not a plain static text."""
    from qgis.core import QgsProcessingOutputLayerDefinition, QgsProperty

    if isinstance(value, QgsProcessingOutputLayerDefinition):
        value = value.sink
    if isinstance(value, QgsProperty):
        if value.propertyType() != PropertyType.Static:
            return None
        value = value.staticValue()
    return value if isinstance(value, str) else None


def _with_value(value, text):
    """``value`` (a text or an output definition) pointing at ``text`` instead; an output to be
    loaded into a project is not loaded from its temporary place (``OutputTransaction`` asks
    Processing to load the final one)."""
    from qgis.core import QgsProcessingOutputLayerDefinition, QgsProperty

    if isinstance(value, QgsProcessingOutputLayerDefinition):
        new = QgsProcessingOutputLayerDefinition(value)
        new.sink = QgsProperty.fromValue(text)
        new.destinationProject = None
        return new
    return text


def _tmp_file(path, visible=False):
    """A temporary sibling of ``path`` with the same ending. ``visible``: no leading dot and no
    dot but the ending's (QGIS reads the format of an ``ogr:dbname=`` destination from the
    text after the first dot)."""
    folder, base = os.path.split(path)
    stem, ext = os.path.splitext(base)
    tag = f"{TMP_TAG}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    if visible:
        return os.path.join(folder, f"{stem.replace('.', '_')}__{tag}{ext}")
    return os.path.join(folder, f".{stem}.{tag}{ext}")


def _tmp_table(name):
    short = re.sub(r"[^A-Za-z0-9_]", "_", name)[:30]
    return f"{short}{TABLE_TAG}{os.getpid()}_{uuid.uuid4().hex[:6]}"


class _Swap:
    """One destination redirected to a temporary place: ``kind`` is "file", "shapefile",
    "gpkg_table", "postgres" or "folder"; ``tokens`` maps temporary texts to final ones (for ids)."""

    def __init__(self, key, kind, final, tmp, tokens, table=None, tmp_table=None, conninfo=None,
                 schema=None, seed_copy=False, dest=None):
        self.key, self.kind, self.final, self.tmp = key, kind, final, tmp
        self.dest = dest or tmp          # what the algorithm is given
        self.load = None                 # (layer name, project): load the final layer there
        self.tokens = tokens
        self.table, self.tmp_table, self.conninfo, self.schema = table, tmp_table, conninfo, schema
        self.seed_copy = seed_copy


class SinkRecord:
    """What one sink was given: the features added, and the first error."""

    def __init__(self, key, dest_id, final_id=None):
        self.key, self.dest_id = key, dest_id
        self.final_id = final_id or dest_id      # how the user named it (for messages)
        self.added = 0
        self.error = None


class CountingSink(QgsFeatureSink):
    """A sink that passes features on, counts them and turns a refused write into an error
    naming the layer (the writers of QGIS answer False and carry on, which used to give an
    empty layer and a run reported as successful)."""

    def __init__(self, sink, record):
        super().__init__()
        self._sink = sink
        self._record = record

    def addFeatures(self, features, flags=None):
        features = list(features)
        ok = self._sink.addFeatures(features) if flags is None else \
            self._sink.addFeatures(features, flags)
        if isinstance(ok, tuple):
            ok = ok[0]
        if not ok:
            self._fail()
        self._record.added += len(features)
        return True

    def addFeature(self, feature, flags=None):
        return self.addFeatures([feature], flags)

    def lastError(self):
        return self._sink.lastError() if hasattr(self._sink, "lastError") else ""

    def flushBuffer(self):
        return self._sink.flushBuffer()

    def _fail(self):
        error = self.lastError() or "the writer refused the features"
        self._record.error = error
        path = self._record.final_id.split("|")[0]
        if path.startswith(("postgres://", "postgis:")):
            from composite_index_plugin.processing import connections

            parts = connections.destination_table(path)
            path = f"the PostGIS table {parts[1]}.{parts[2]}" if parts else "the PostGIS table"
        raise QgsProcessingException(explain_write_error(error, path) or
                                     f"Writing {path} failed: {error}")


def check_field_names(fields, dest):
    """Refuse fields a destination format cannot hold as they are (QGIS would cut or drop them
    silently): more than SQLite's column limit in a GeoPackage, names longer than PostgreSQL's
    63 bytes or a shapefile's 10 characters."""
    names = [f.name() for f in fields]
    low = (dest or "").lower()
    if low.startswith(("postgres://", "postgis:")):
        long_names = [n for n in names if len(n.encode("utf-8")) > POSTGRES_MAX_NAME]
        if long_names:
            raise QgsProcessingException(
                f"Field name(s) longer than PostgreSQL's limit of {POSTGRES_MAX_NAME} bytes: "
                f"{', '.join(long_names)}. PostGIS would cut them (and two could become one). "
                "Use shorter issue or field names, or write to a GeoPackage.")
    path = low.split("|")[0]
    match = _OGR_DEST.match(dest or "")
    if match:
        path = match.group(1).replace("''", "'").lower()
    if path.endswith((".gpkg", ".sqlite")) and len(names) + 2 > GPKG_MAX_COLUMNS:
        raise QgsProcessingException(
            f"{dest}: the layer would have {len(names):,} fields, more than a GeoPackage "
            f"(SQLite) table can hold ({GPKG_MAX_COLUMNS - 2:,} besides the id and geometry). "
            "Keep fewer columns in the input (e.g. only those the analysis needs), or write to "
            "another format.")
    if path.endswith(".shp"):
        long_names = [n for n in names if len(n) > SHAPEFILE_MAX_NAME]
        if long_names:
            raise QgsProcessingException(
                f"Field name(s) longer than a shapefile's limit of {SHAPEFILE_MAX_NAME} "
                f"characters: {', '.join(long_names)}. They would be cut (and two could become "
                "one). Write to a GeoPackage instead.")


class OutputTransaction:
    """The destinations of one algorithm run, redirected to temporary places and swapped in
    only when the run has finished and every sink holds what it was given."""

    def __init__(self, alg, parameters, context):
        self.alg, self.context = alg, context
        self.parameters = dict(parameters)
        self.swaps = []
        self.records = []
        self.styles = []          # (temporary id, style, field): styled once the id is final
        self._new_files = {}      # a new GeoPackage -> its temporary file (several sinks share it)
        self._prepare()

    # ----- before the run
    def _prepare(self):
        from qgis.core import (
            QgsProcessingParameterFeatureSink,
            QgsProcessingParameterFileDestination,
            QgsProcessingParameterFolderDestination,
            QgsProcessingParameterVectorDestination,
        )

        in_place = getattr(self.alg, "OUTPUTS_IN_PLACE", ())
        for definition in self.alg.destinationParameterDefinitions():
            key = definition.name()
            if key in in_place:
                continue
            value = self.parameters.get(key)
            text = _plain_value(value, self.context)
            if not text or text.startswith(("TEMPORARY_OUTPUT", "memory:")):
                continue
            if isinstance(definition, (QgsProcessingParameterFeatureSink,
                                       QgsProcessingParameterVectorDestination)):
                swap = self._vector_swap(key, text)
            elif isinstance(definition, QgsProcessingParameterFileDestination):
                swap = self._file_swap(key, text, seed_copy=True)
            elif isinstance(definition, QgsProcessingParameterFolderDestination):
                swap = self._folder_swap(key, text)
            else:
                swap = None
            if swap is None:
                continue
            for token in swap.tokens:
                _ACTIVE.add(os.path.basename(token))
            self._clean_stale(swap)
            project = getattr(value, "destinationProject", None)
            if project is not None:
                swap.load = (getattr(value, "destinationName", "") or definition.description(),
                             project)
            self.swaps.append(swap)
            self.parameters[key] = _with_value(value, swap.dest)

    def _file_swap(self, key, path, seed_copy=False, visible=False):
        if in_staging(path) or os.path.isdir(path):
            return None
        folder = os.path.dirname(os.path.abspath(path)) or "."
        check_writable(folder)
        tmp = _tmp_file(path, visible=visible)
        kind = "shapefile" if path.lower().endswith(".shp") else "file"
        return _Swap(key, kind, path, tmp, {tmp: path}, seed_copy=seed_copy)

    def _folder_swap(self, key, path):
        """A folder output is written into a hidden sibling folder; its files move into the
        final folder when the run has finished (files of the same name replaced, others kept)."""
        if in_staging(path) or os.path.isfile(path):
            return None
        final = os.path.abspath(path)
        parent, name = os.path.split(os.path.normpath(final))
        check_writable(parent)
        tmp = os.path.join(parent, f".{name}.{TMP_TAG}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        try:
            os.makedirs(tmp)
        except OSError as err:
            raise QgsProcessingException(explain_os_error(err, tmp)) from err
        return _Swap(key, "folder", final, tmp, {tmp: final})

    def _vector_swap(self, key, text):
        from composite_index_plugin.processing import connections

        if connections.is_postgres_destination(text):
            parts = connections.destination_table(text)
            if not parts or not parts[2]:
                return None
            conninfo, schema, table = parts
            tmp_table = _tmp_table(table)
            tmp = connections.with_table(text, tmp_table)
            if connections.destination_table(tmp)[1:] != (schema, tmp_table):
                return None
            return _Swap(key, "postgres", text, tmp, {tmp_table: table}, table=table,
                         tmp_table=tmp_table, conninfo=conninfo, schema=schema)
        match = _OGR_DEST.match(text)
        if match:
            path = match.group(1).replace("''", "'")
            table = match.group(2).replace('""', '"')
            if in_staging(path):
                return None
            check_writable(os.path.dirname(os.path.abspath(path)))
            if not os.path.exists(path):     # a new file: write it aside, rename it in
                shared = self._new_files.get(os.path.abspath(path))
                tmp_path = shared or _tmp_file(path, visible=True)
                self._new_files[os.path.abspath(path)] = tmp_path
                tmp = f"ogr:dbname='{tmp_path.replace(chr(39), chr(39) * 2)}' table=\"" \
                      f"{match.group(2)}\"{match.group(3)}"
                return _Swap(key, "shared" if shared else "file", path, tmp_path,
                             {tmp_path: path}, dest=tmp)
            tmp_table = _tmp_table(table)
            tmp = f"ogr:dbname='{match.group(1)}' table=\"{tmp_table}\"{match.group(3)}"
            return _Swap(key, "gpkg_table", path, tmp, {tmp_table: table}, table=table,
                         tmp_table=tmp_table)
        if text.startswith(("ogr:", "postgis:", "spatialite:", "memory:")) or "|" in text:
            return None              # another kind of destination: written as QGIS does
        ext = os.path.splitext(text)[1].lower()
        if not ext or ext in (".sqlite", ".db", ".spatialite", ".gdb"):
            return None              # formats not handled as one renamable file: in place
        swap = self._file_swap(key, text, visible=ext == ".gpkg")
        if swap is not None and ext == ".gpkg":
            # QGIS names the layer of a new GeoPackage after the file (up to its first dot):
            # the temporary file's layer is renamed so before the file is
            swap.table = os.path.basename(text).split(".")[0]
            swap.tmp_table = os.path.basename(swap.tmp).split(".")[0]
        return swap

    def _clean_stale(self, swap):
        """Remove what an earlier run of this plugin left beside this destination: temporary
        files and tables of a process that is gone, or of this process outside any running
        transaction (a run whose clean-up could not reach a stopped server)."""
        if swap.kind in ("file", "shapefile", "gpkg_table", "folder"):
            folder = os.path.dirname(os.path.abspath(swap.final)) or "."
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            for name in names:
                if TMP_TAG in name and _stale(name):
                    _remove(os.path.join(folder, name))
        if swap.kind == "gpkg_table":
            for table in _gpkg_tables(swap.final):
                if TABLE_TAG in table and _stale(table):
                    _gpkg_drop(swap.final, table)
        elif swap.kind == "postgres":
            from composite_index_plugin.processing import connections

            for table in _postgres_tables(swap.conninfo, swap.schema):
                if TABLE_TAG in table and _stale(table):
                    connections.drop_table(connections.with_table(swap.final, table))

    # ----- during the run
    def record(self, key, dest_id):
        rec = SinkRecord(key, dest_id, self.final_id(dest_id))
        self.records.append(rec)
        return rec

    # ----- after the run
    def verify(self):
        """Every sink's layer holds as many features as it was given; raise otherwise."""
        for rec in self.records:
            if rec.added == 0:
                continue      # written another way (a bulk writer), or nothing to write
            written = count_features(rec.dest_id)
            if written is not None and written != rec.added:
                raise QgsProcessingException(
                    f"Only {written:,} of {rec.added:,} features were written to "
                    f"{self.final_id(rec.dest_id)}: the output was not replaced. Check the disk "
                    "space and the folder, then run again.")

    def final_id(self, text):
        """A destination id or output value with every temporary name turned to its final one."""
        if not isinstance(text, str):
            return text
        for swap in self.swaps:
            for tmp, final in swap.tokens.items():
                text = text.replace(tmp, final)
        return text

    def commit(self, result):
        """Swap every temporary output in; returns ``result`` with the final names. The tables
        of one GeoPackage are swapped in one SQLite transaction."""
        tables = {}
        for swap in self.swaps:
            if swap.kind == "gpkg_table":
                tables.setdefault(swap.final, []).append(swap)
                continue
            try:
                self._commit_one(swap)
            except OSError as err:
                raise QgsProcessingException(explain_os_error(err, swap.final)) from err
        for path, swaps in tables.items():
            present = _gpkg_tables(path)
            pairs = [(s.tmp_table, s.table) for s in swaps if s.tmp_table in present]
            if pairs:
                _gpkg_rename(path, pairs)
        result = self._map(result)
        self._load_layers(result)
        return result

    def is_temporary(self, text):
        return isinstance(text, str) and any(t in text for s in self.swaps for t in s.tokens)

    def _load_layers(self, result):
        """Ask Processing to load the final layers (as it would have loaded the temporary ones)
        and style them as the algorithm asked."""
        from qgis.core import QgsProcessingContext, QgsProcessingUtils

        from composite_index_plugin.processing.styling import style_output

        for swap in self.swaps:
            final_id = result.get(swap.key)
            if swap.load is None or not isinstance(final_id, str):
                continue
            name, project = swap.load
            self.context.addLayerToLoadOnCompletion(final_id, QgsProcessingContext.LayerDetails(
                name, project, swap.key, QgsProcessingUtils.LayerHint.Vector))
        for dest_id, style_name, field in self.styles:
            try:
                style_output(self.alg, self.context, self.final_id(dest_id), style_name, field)
            except Exception:  # noqa: BLE001 - an unstyled layer beats a failed run
                pass

    def _map(self, value):
        if isinstance(value, dict):
            return {k: self._map(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._map(v) for v in value]
        return self.final_id(value)

    def _commit_one(self, swap):
        if swap.kind == "file":
            if not os.path.exists(swap.tmp):
                return                      # an optional output the algorithm did not write
            if swap.final.lower().endswith((".gpkg", ".sqlite", ".db")):
                if swap.tmp_table and swap.tmp_table in _gpkg_tables(swap.tmp):
                    _gpkg_rename(swap.tmp, [(swap.tmp_table, swap.table)])
                _checkpoint(swap.tmp)
                for side in SQLITE_SIDES:  # the old file's: they would corrupt the new one
                    if os.path.exists(swap.final + side):
                        os.remove(swap.final + side)
            os.replace(swap.tmp, swap.final)
        elif swap.kind == "shapefile":
            base_tmp, base_final = os.path.splitext(swap.tmp)[0], os.path.splitext(swap.final)[0]
            if not os.path.exists(swap.tmp):
                return
            for ext in SHAPEFILE_SIDES:
                if os.path.exists(base_tmp + ext):
                    os.replace(base_tmp + ext, base_final + ext)
                elif os.path.exists(base_final + ext):
                    os.remove(base_final + ext)     # the old output's index: out of date
        elif swap.kind == "postgres":
            _postgres_swap(swap)
        elif swap.kind == "folder":
            _merge_folder(swap.tmp, swap.final)

    def discard(self):
        """Remove every temporary output (the previous ones were never touched)."""
        for swap in self.swaps:
            try:
                if swap.kind == "file":
                    for side in ("",) + SQLITE_SIDES:
                        if os.path.exists(swap.tmp + side):
                            os.remove(swap.tmp + side)
                elif swap.kind == "shapefile":
                    base = os.path.splitext(swap.tmp)[0]
                    for ext in SHAPEFILE_SIDES:
                        if os.path.exists(base + ext):
                            os.remove(base + ext)
                elif swap.kind == "gpkg_table":
                    _gpkg_drop(swap.final, swap.tmp_table)
                elif swap.kind == "postgres":
                    from composite_index_plugin.processing import connections

                    connections.drop_table(swap.tmp)
                elif swap.kind == "folder":
                    _remove(swap.tmp)
            except Exception:  # noqa: BLE001 - cleaning up after a failure: the next run retries
                pass

    def release(self):
        """This transaction's temporary names are no longer in use."""
        for swap in self.swaps:
            for token in swap.tokens:
                _ACTIVE.discard(os.path.basename(token))

    def seed(self):
        """File destinations that the algorithm may read and update (a project it adds layouts
        to) start as a copy of the existing file."""
        for swap in self.swaps:
            if swap.seed_copy and os.path.isfile(swap.final):
                try:
                    shutil.copy2(swap.final, swap.tmp)
                except OSError as err:
                    raise QgsProcessingException(explain_os_error(err, swap.tmp)) from err


def _remove(path):
    """Remove a temporary file or folder of this module (never anything else)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except OSError:
        pass


def _merge_folder(tmp, final):
    """Move everything written into ``tmp`` into ``final`` (created when missing): files of the
    same name are replaced, other files in ``final`` stay; ``tmp`` is removed."""
    if not os.path.isdir(tmp):
        return
    os.makedirs(final, exist_ok=True)
    for root, dirs, files in os.walk(tmp):
        target = os.path.join(final, os.path.relpath(root, tmp))
        for d in dirs:
            os.makedirs(os.path.join(target, d), exist_ok=True)
        for f in files:
            os.replace(os.path.join(root, f), os.path.join(target, f))
    shutil.rmtree(tmp, ignore_errors=True)


def _checkpoint(path):
    """Fold a GeoPackage's write-ahead log into the file (so one rename moves everything)."""
    if not os.path.exists(path + "-wal"):
        return
    try:
        con = sqlite3.connect(path)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
    except sqlite3.Error:
        pass


def _gpkg_tables(path):
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")]
        finally:
            con.close()
    except sqlite3.Error:
        return []


def _gdal_update(path):
    from osgeo import gdal

    gdal.UseExceptions()
    return gdal.OpenEx(path, gdal.OF_VECTOR | gdal.OF_UPDATE)


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def _gpkg_rename(path, pairs):
    """In one transaction, for each ``(tmp_table, table)``: drop ``table`` (when it exists) and
    rename ``tmp_table`` to it. GDAL updates the GeoPackage's own tables (contents, geometry
    columns, R-tree, triggers)."""
    from osgeo import gdal

    previous = gdal.GetUseExceptions()
    table = ", ".join(t for _, t in pairs)
    try:
        ds = _gdal_update(path)
        try:
            names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
            ds.StartTransaction()
            try:
                for tmp_table, final in pairs:
                    if final in names:
                        ds.ExecuteSQL(f"DROP TABLE {_quote(final)}")
                    ds.ExecuteSQL(f"ALTER TABLE {_quote(tmp_table)} RENAME TO {_quote(final)}")
                ds.CommitTransaction()
            except RuntimeError:
                ds.RollbackTransaction()
                raise
        finally:
            ds = None
    except RuntimeError as err:
        text = str(err)
        raise QgsProcessingException(
            explain_write_error(text, path) or
            f"The new layer {table!r} could not be put in place in {path}: {text}. The previous "
            "layer was left as it was.") from err
    finally:
        if not previous:
            gdal.DontUseExceptions()
    for tmp_table, _ in pairs:
        _drop_styles(path, tmp_table)


def _drop_styles(path, table):
    try:
        con = sqlite3.connect(path)
        try:
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'layer_styles'").fetchone():
                con.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (table,))
                con.commit()
        finally:
            con.close()
    except sqlite3.Error:
        pass


def _gpkg_drop(path, table):
    from osgeo import gdal

    previous = gdal.GetUseExceptions()
    try:
        ds = _gdal_update(path)
        try:
            names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
            if table in names:
                ds.DeleteLayer(names.index(table))
        finally:
            ds = None
    except RuntimeError:
        pass
    finally:
        if not previous:
            gdal.DontUseExceptions()


def _postgres_swap(swap):
    """``DROP`` the old table and ``RENAME`` the new one in one SQL transaction."""
    from qgis.core import QgsProviderRegistry

    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    schema = _quote(swap.schema or "public")
    sql = (f"BEGIN; DROP TABLE IF EXISTS {schema}.{_quote(swap.table)}; "
           f"ALTER TABLE {schema}.{_quote(swap.tmp_table)} RENAME TO {_quote(swap.table)}; "
           "COMMIT;")
    try:
        conn = md.createConnection(swap.conninfo, {})
        conn.executeSql(sql)
    except Exception as err:
        raise QgsProcessingException(
            f"The new table {swap.schema}.{swap.table} could not be put in place: {err}. The "
            f"previous table was left as it was; the new one is {swap.tmp_table}.") from err


def count_features(dest_id):
    """Features in a written layer (a file, ``path|layername=``, a PostGIS table), or None when
    it cannot be told."""
    if not isinstance(dest_id, str) or not dest_id:
        return None
    path, _, rest = dest_id.partition("|")
    layer = rest[len("layername="):] if rest.startswith("layername=") else None
    if path.lower().endswith(".gpkg") and os.path.isfile(path):
        tables = _gpkg_tables(path)
        table = layer or (tables[0] if len(tables) == 1 else None)
        if table is None or table not in tables:
            return 0 if not tables else None
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                return int(con.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0])
            finally:
                con.close()
        except sqlite3.Error:
            return None
    from qgis.core import QgsVectorLayer

    provider = "postgres" if dest_id.startswith(("postgres://", "dbname=")) else "ogr"
    uri = dest_id.split("://", 1)[1] if dest_id.startswith("postgres://") else dest_id
    if provider == "ogr" and not os.path.exists(path):
        return None
    found = QgsVectorLayer(uri, "check", provider)
    if not found.isValid():
        return 0 if provider == "ogr" else None
    count = found.featureCount()
    return count if count >= 0 else None


# ------------------------------------------------------------------------ the wrapper
def transactional(process_algorithm):
    """Wrap a ``processAlgorithm``: outputs go to temporary places, are checked, and are swapped
    in only when it returns normally and was not cancelled; otherwise they are removed and the
    previous outputs stay as they were. OS errors (full disk, read-only folder) become clear
    messages. ``CompositeIndexAlgorithm`` applies it to every algorithm."""
    import functools

    if getattr(process_algorithm, "__composite_index_transactional__", False):
        return process_algorithm

    @functools.wraps(process_algorithm)
    def run(self, parameters, context, feedback):
        tx = OutputTransaction(self, parameters, context)
        tx.seed()
        self._ci_transaction = tx
        try:
            try:
                result = process_algorithm(self, tx.parameters, context, feedback)
            except OSError as err:
                where = getattr(err, "filename", None) or next(
                    (s.final for s in tx.swaps if s.kind != "postgres"), "the output")
                raise QgsProcessingException(explain_os_error(err, tx.final_id(where))) from err
            except sqlite3.OperationalError as err:
                where = next((s.final for s in tx.swaps if s.kind != "postgres"), "the output")
                raise QgsProcessingException(
                    explain_write_error(str(err), where) or f"Writing {where} failed: {err}") \
                    from err
            except QgsProcessingException as err:   # a writer's error text: say what it means
                where = next((s.final for s in tx.swaps if s.kind != "postgres"), None)
                known = explain_write_error(str(err), where) if where else None
                if known and known not in str(err):
                    raise QgsProcessingException(f"{known} ({_first_line(str(err))})") from err
                raise
            if feedback is not None and feedback.isCanceled():
                tx.discard()
                feedback.pushInfo("Cancelled: the previous outputs were left as they were.")
                return {}
            tx.verify()
            return tx.commit(result or {})
        except BaseException:
            tx.discard()
            raise
        finally:
            self._ci_transaction = None
            tx.release()

    run.__composite_index_transactional__ = True
    return run
