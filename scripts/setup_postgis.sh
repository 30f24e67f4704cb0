#!/usr/bin/env bash
# Idempotent: the PostgreSQL + PostGIS 3 server packages the PostGIS tests start a throwaway cluster
# from, in the major version the OS ships (15 on Debian 12, 17 on Debian 13, 16 on Ubuntu 24.04...):
# the one the `postgresql` metapackage depends on. Called by `make setup` after scripts/setup.sh.
set -euo pipefail

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup_postgis: need root (or sudo) to run: $*" >&2; exit 1; fi
}

# An installed server wins (any version with its PostGIS); otherwise ask apt which one the OS has.
have=""
for d in /usr/lib/postgresql/*/bin/initdb; do
  [ -x "$d" ] || continue
  v=$(basename "$(dirname "$(dirname "$d")")")
  if dpkg -s "postgresql-$v-postgis-3" >/dev/null 2>&1; then have=$v; fi
done
[ -n "$have" ] && exit 0

major=$(apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n 1)
if [ -z "$major" ]; then
  as_root apt-get update -qq
  major=$(apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n 1)
fi
if [ -z "$major" ]; then
  echo "setup_postgis: cannot tell which PostgreSQL this OS ships (apt-cache depends postgresql)" >&2
  exit 1
fi
echo "setup_postgis: installing OS packages: postgresql-$major postgresql-$major-postgis-3"
as_root apt-get update -qq
# the packages' post-install may create a default cluster; the tests never use it
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "postgresql-$major" "postgresql-$major-postgis-3" >/dev/null
