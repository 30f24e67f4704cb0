#!/usr/bin/env bash
# Idempotent: the PostgreSQL 15 + PostGIS 3 server packages the PostGIS tests start a throwaway
# cluster from (Debian 12). Called by `make setup` after scripts/setup.sh.
set -euo pipefail
PACKAGES="postgresql-15 postgresql-15-postgis-3"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup_postgis: need root (or sudo) to run: $*" >&2; exit 1; fi
}

missing=""
for p in $PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup_postgis: installing OS packages:$missing"
  as_root apt-get update -qq
  # the packages' post-install may create a default cluster; the tests never use it
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $missing >/dev/null
fi
