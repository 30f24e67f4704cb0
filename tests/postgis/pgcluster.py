"""A throwaway PostgreSQL + PostGIS 3 cluster in a temporary folder on a free local port.

Used by the PostGIS tests (``tests/postgis/conftest.py``) and by ``benchmarks/bench_postgis.py``.
Needs the OS's PostgreSQL server and PostGIS packages (``postgresql-<N>`` and
``postgresql-<N>-postgis-3``, N = 15 on Debian 12, 17 on Debian 13; ``scripts/setup_postgis.sh``
installs them). PostgreSQL refuses to run as root, so when the tests run as root the cluster is
created and started as the ``postgres`` system user (``runuser``) in a folder that user owns.

Nothing here is silent: when the server cannot be created or started, ``PgCluster.start`` raises
``PgClusterError`` with the command, its output and the server log, and the tests fail with it.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def _debian_bins():
    """Debian's /usr/lib/postgresql/<N>/bin folders, newest first."""
    root = "/usr/lib/postgresql"
    found = [d for d in os.listdir(root) if d.isdigit()] if os.path.isdir(root) else []
    return tuple(os.path.join(root, d, "bin") for d in sorted(found, key=int, reverse=True))


PG_BIN_CANDIDATES = _debian_bins() + ("/usr/local/pgsql/bin",)
DBNAME = "ci"
USER = "postgres"


class PgClusterError(RuntimeError):
    pass


def pg_bin():
    for folder in PG_BIN_CANDIDATES:
        if os.path.exists(os.path.join(folder, "initdb")):
            return folder
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    raise PgClusterError("PostgreSQL is not installed (no initdb found). Install the OS packages "
                         "postgresql-<N> and postgresql-<N>-postgis-3 (bash scripts/setup_postgis.sh).")


def postgis_installed(bin_dir):
    share = subprocess.run([os.path.join(bin_dir, "pg_config"), "--sharedir"], capture_output=True,
                           text=True).stdout.strip()
    return os.path.exists(os.path.join(share, "extension", "postgis.control"))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """``start()`` creates and starts the cluster and a database with PostGIS; ``stop()`` removes it."""

    def __init__(self, dbname=DBNAME):
        self.bin = pg_bin()
        self.dbname = dbname
        self.port = None
        self.folder = None
        self.host = "127.0.0.1"
        self.user = USER
        self.as_root = os.geteuid() == 0
        self._started = False

    # ----- commands -----------------------------------------------------------------------
    def _cmd(self, args, check=True, timeout=120):
        exe = [os.path.join(self.bin, args[0])] + list(args[1:])
        if self.as_root:
            exe = ["runuser", "-u", USER, "--"] + exe
        done = subprocess.run(exe, capture_output=True, text=True, timeout=timeout,
                              cwd=self.folder or "/")
        if check and done.returncode != 0:
            raise PgClusterError(f"{' '.join(exe)} failed ({done.returncode}):\n{done.stdout}\n"
                                 f"{done.stderr}\n{self._log_tail()}")
        return done

    def _log_tail(self):
        path = os.path.join(self.folder or "", "server.log")
        if self.folder and os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                return "server log:\n" + "".join(handle.readlines()[-30:])
        return ""

    def psql(self, sql, check=True):
        """Run SQL with psql; returns stdout (tuples only, unaligned)."""
        done = self._cmd(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", self.host,
                          "-p", str(self.port), "-U", self.user, "-d", self.dbname, "-c", sql],
                         check=check)
        return done.stdout.strip()

    # ----- life cycle ---------------------------------------------------------------------
    def start(self):
        if not postgis_installed(self.bin):
            raise PgClusterError(f"PostGIS is not installed for the PostgreSQL in {self.bin}: install the "
                                 "OS package postgresql-<N>-postgis-3 (bash scripts/setup_postgis.sh).")
        self.folder = tempfile.mkdtemp(prefix="ci_pg_")
        data = os.path.join(self.folder, "data")
        if self.as_root:
            try:
                uid = pwd.getpwnam(USER).pw_uid
                gid = pwd.getpwnam(USER).pw_gid
            except KeyError as err:
                raise PgClusterError("running as root but there is no 'postgres' system user to run "
                                     "the server as (the postgresql server package creates it)") from err
            os.chown(self.folder, uid, gid)
            os.chmod(self.folder, 0o755)
        self._cmd(["initdb", "-D", data, "-U", USER, "-A", "trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])
        for _attempt in range(5):
            self.port = free_port()
            opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                    f"-c unix_socket_directories={self.folder} -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            done = self._cmd(["pg_ctl", "-D", data, "-l", os.path.join(self.folder, "server.log"),
                              "-o", opts, "-w", "-t", "60", "start"], check=False)
            if done.returncode == 0:
                break
        else:
            raise PgClusterError(f"the PostgreSQL server did not start:\n{done.stdout}\n{done.stderr}\n"
                                 f"{self._log_tail()}")
        self._started = True
        self._cmd(["createdb", "-h", self.host, "-p", str(self.port), "-U", USER, self.dbname])
        self.psql("CREATE EXTENSION postgis")
        return self

    def stop(self):
        if self._started:
            self._cmd(["pg_ctl", "-D", os.path.join(self.folder, "data"), "-m", "immediate", "-w",
                       "stop"], check=False)
            self._started = False
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ----- connection strings -------------------------------------------------------------
    def conninfo(self):
        """Connection part of a QGIS postgres URI (no password: the cluster trusts local users)."""
        return f"dbname='{self.dbname}' host={self.host} port={self.port} user='{self.user}' sslmode=disable"

    def gdal_dsn(self):
        return f"PG:dbname={self.dbname} host={self.host} port={self.port} user={self.user}"

    def layer_uri(self, table, geom="geom", schema="public", key=None, sql="", srid=None, wkb_type=None):
        """A QGIS ``postgres`` provider URI for a table."""
        from qgis.core import QgsDataSourceUri

        uri = QgsDataSourceUri(self.conninfo())
        uri.setDataSource(schema, table, geom, sql, key or "")
        if srid:
            uri.setSrid(str(srid))
        if wkb_type is not None:
            uri.setWkbType(wkb_type)
        return uri.uri(False)

    def destination(self, table, geom="geom", schema="public"):
        """A Processing destination that writes a new PostGIS table (``postgres://`` form);
        ``geom=None`` for a table without geometry."""
        geom_part = f" ({geom})" if geom else ""
        return f"postgres://{self.conninfo()} table=\"{schema}\".\"{table}\"{geom_part}"

    def load(self, source, table, layer=None, t_srs=None, extra=()):
        """Copy a file layer into a table with ogr2ogr (primary key ``fid``, spatial index)."""
        args = ["ogr2ogr", "-f", "PostgreSQL", self.gdal_dsn(), source]
        if layer:
            args.append(layer)
        args += ["-nln", table, "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-overwrite"]
        if t_srs:
            args += ["-t_srs", t_srs]
        args += list(extra)
        done = subprocess.run(args, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise PgClusterError(f"ogr2ogr could not load {source} into {table}:\n{done.stderr}")

    def terminate_other_backends(self):
        """Kill every other session on the database (simulates a lost connection)."""
        return self.psql(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         f"WHERE datname = '{self.dbname}' AND pid <> pg_backend_pid()")

    def wait_ready(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if self._cmd(["pg_isready", "-h", self.host, "-p", str(self.port)], check=False).returncode == 0:
                return True
            time.sleep(0.2)
        return False
