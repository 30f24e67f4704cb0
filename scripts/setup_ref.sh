#!/usr/bin/env bash
# Idempotent: a reference venv (.venv-ref) with PySAL's esda + libpysal, used ONLY by tests and
# benchmarks to compare our hotspot numbers with an independent implementation. The plugin never
# imports them. A plain venv over /usr/bin/python3 WITHOUT system site packages, so PyPI's
# numpy/scipy never meet Debian's numpy that QGIS is built against.
set -euo pipefail
cd "$(dirname "$0")/.."

SYS_PY=/usr/bin/python3
VENV=${REF_VENV:-.venv-ref}
# Pinned: esda/libpysal match the versions the reference data in tests/data/pysal come from;
# the rest is what pip resolved for them on Python 3.11 (Debian 12).
PINS="esda==2.9.0
libpysal==4.14.1
numpy==2.4.6
pandas==3.1.1
scipy==1.17.1
scikit-learn==1.9.1
geopandas==1.2.0
shapely==2.2.0
pyogrio==0.13.0
pyproj==3.7.2
beautifulsoup4==4.15.0
soupsieve==2.10
requests==2.34.2
certifi==2026.10.19.post1
charset-normalizer==3.5.3
idna==3.20
urllib3==2.8.0
platformdirs==4.14.8
packaging==26.4
joblib==1.6.0
threadpoolctl==3.8.0
python-dateutil==4.0.0
tzdata==2026.6
narwhals==2.29.0
cloudpickle==3.1.3
Jinja2==3.1.6
MarkupSafe==3.0.4
typing_extensions==4.16.0"

stamp="$VENV/.pins"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$PINS" ] \
   && "$VENV/bin/python" -c "import esda, libpysal" >/dev/null 2>&1; then
  exit 0
fi
if ! "$SYS_PY" -m venv --help >/dev/null 2>&1; then
  echo "setup_ref: python3-venv is missing (apt-get install python3-venv)" >&2; exit 1
fi
echo "setup_ref: creating $VENV with esda and libpysal (tests/benchmarks only)"
rm -rf "$VENV"
"$SYS_PY" -m venv "$VENV"
req=$(mktemp)
trap 'rm -f "$req"' EXIT
printf '%s\n' "$PINS" > "$req"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
"$VENV/bin/python" -c "import esda, libpysal"
printf '%s' "$PINS" > "$stamp"
