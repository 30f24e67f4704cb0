#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 / 13 / Ubuntu machine: QGIS from the OS packages, a venv over
# the system Python (with system site packages, so it sees PyQGIS), and the test tools.
# VENV (default .venv) and REF_VENV (default .venv-ref) name the venvs; the QGIS version matrix
# (scripts/qgis_matrix.sh) gives each Debian chroot its own.
set -euo pipefail
cd "$(dirname "$0")/.."

SYS_PY=/usr/bin/python3
VENV=${VENV:-.venv}
APT_PACKAGES="qgis python3-qgis python3-gdal python3-numpy python3-pandas xvfb python3-venv python3-pip"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: need root (or sudo) to run: $*" >&2; exit 1; fi
}

missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ] || ! "$SYS_PY" -c "import qgis.core" >/dev/null 2>&1; then
  echo "setup: installing OS packages:$missing"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $APT_PACKAGES >/dev/null
fi

stamp="$VENV/.requirements-dev.txt"
if [ ! -x "$VENV/bin/python" ] || ! cmp -s requirements-dev.txt "$stamp"; then
  echo "setup: creating $VENV over the system Python"
  [ -x "$VENV/bin/python" ] || "$SYS_PY" -m venv --system-site-packages "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements-dev.txt
  cp requirements-dev.txt "$stamp"
fi

# Reference implementations (PySAL esda) used only by tests and benchmarks, in their own venv.
if [ -f scripts/setup_ref.sh ]; then
  bash scripts/setup_ref.sh
fi

# PostgreSQL + PostGIS 3 (the version the OS ships) for the PostGIS tests (each test run starts its own throwaway cluster).
if [ -f scripts/setup_postgis.sh ]; then
  bash scripts/setup_postgis.sh
fi
