#!/usr/bin/env bash
# The QGIS version matrix: run make targets (default: test) on each QGIS version that analysts use.
#
#   scripts/qgis_matrix.sh VERSIONS [TARGET ...]     e.g.  scripts/qgis_matrix.sh 3.40 test demo
#   make test QGIS=3.40                               (the same, through the Makefile)
#   scripts/qgis_matrix.sh 3.44 -- 'CMD ARG ...'      any command (bash -c), in the repository, on that
#                                                     QGIS, after the set-up; $PY is that version's python
#   scripts/qgis_matrix.sh --list                     the versions and where each one runs
#
# VERSIONS is a comma-separated list of 3.22, 3.40, 3.44, or "all". Each version is the QGIS that
# one Debian suite ships (3.22.16 bookworm, 3.40.6 trixie, 3.44.15 sid). A version the host itself
# runs (3.22 on Debian 12) runs on the host; the others run inside a minimal Debian chroot made with
# debootstrap from Debian's package archive, cached between runs in $QGIS_CHROOT_DIR (default
# /var/cache/composite-index/chroots): a cold one takes 3 to 8 minutes to make (debootstrap, then
# QGIS and its Python bindings from apt; mostly download time), a warm one starts at once. The repository is
# bind-mounted into the chroot at the same path, in a private mount namespace (nothing leaks when
# the run ends or is killed); the chroot's own venvs live inside the chroot (/opt/composite-index),
# so the host's .venv is never touched. Inside, the Makefile's own set-up runs as on a real
# machine of that Debian release (it installs that release's PostgreSQL/PostGIS, for instance).
# Needs root (debootstrap, chroot, mount namespaces). Exits non-zero if any version fails.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd -P)

CHROOT_DIR=${QGIS_CHROOT_DIR:-/var/cache/composite-index/chroots}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the chroot holds before the project's own set-up runs inside it (that set-up is idempotent
# and installs the rest, e.g. PostgreSQL/PostGIS of the release's own version).
CHROOT_PACKAGES="qgis python3-qgis qgis-providers python3-gdal python3-numpy python3-pandas \
python3-venv python3-pip xvfb make git ca-certificates fonts-dejavu-core"

suite_of() {
  case "$1" in
    3.22) echo bookworm ;;
    3.40) echo trixie ;;
    3.44) echo sid ;;
    *) echo "qgis_matrix: unknown QGIS version '$1' (known: 3.22, 3.40, 3.44)" >&2; return 1 ;;
  esac
}

host_qgis() {
  /usr/bin/python3 -c "from qgis.core import Qgis; print('.'.join(Qgis.QGIS_VERSION.split('.')[:2]))" \
    2>/dev/null || true
}

apt_opts() {
  # sid's Release file is not refreshed by the archive mirror these machines reach
  if [ "$1" = sid ]; then echo "-o Acquire::Check-Valid-Until=false"; fi
}

log() { echo "[qgis_matrix $(date +%H:%M:%S)] $*"; }

# What the chroot needs of the host to reach the package archives and PyPI as the host does: its
# resolver and its certificate authorities (a machine behind a TLS-inspecting proxy trusts the
# proxy's CA through /usr/local/share/ca-certificates; Debian's ca-certificates package rebuilds the
# bundle from there, so both the extra CAs and the bundle are copied).
copy_host_network() {
  local dir=$1
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$dir/usr/local/share/ca-certificates"
    cp -r /usr/local/share/ca-certificates/. "$dir/usr/local/share/ca-certificates/"
  fi
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$dir/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  fi
}

chroot_ready() {
  local stamp="$CHROOT_DIR/$1/.composite-index-ready"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(echo "$CHROOT_PACKAGES" | tr -s ' ' | md5sum | cut -c1-12)" ]
}

ensure_chroot() {
  local suite=$1 dir="$CHROOT_DIR/$1" stamp want
  want=$(echo "$CHROOT_PACKAGES" | tr -s ' ' | md5sum | cut -c1-12)
  stamp="$dir/.composite-index-ready"
  if chroot_ready "$suite"; then return 0; fi
  local t0=$SECONDS
  mkdir -p "$CHROOT_DIR"
  if [ ! -x "$dir/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || {
      log "installing debootstrap"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    log "making a Debian $suite chroot in $dir (debootstrap, about 30 s)"
    local try
    for try in 1 2 3; do
      rm -rf "$dir.partial"
      if debootstrap --variant=minbase "$suite" "$dir.partial" "$MIRROR" > "$CHROOT_DIR/$suite.debootstrap.log" 2>&1; then
        break
      fi
      log "debootstrap failed (try $try of 3; log: $CHROOT_DIR/$suite.debootstrap.log)"
      [ "$try" = 3 ] && { tail -n 20 "$CHROOT_DIR/$suite.debootstrap.log" >&2; return 1; }
      sleep 10
    done
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
  fi
  copy_host_network "$dir"
  log "installing QGIS and its Python bindings into the $suite chroot (2-7 minutes)"
  local opts; opts=$(apt_opts "$suite")
  # shellcheck disable=SC2086
  chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    bash -c "apt-get $opts update -qq && apt-get $opts install -y -qq --no-install-recommends $CHROOT_PACKAGES" \
    > "$CHROOT_DIR/$suite.apt.log" 2>&1 || { tail -n 30 "$CHROOT_DIR/$suite.apt.log" >&2; return 1; }
  # apt in the chroot must keep working without the stale-Release check failing (sid)
  if [ "$suite" = sid ]; then
    echo 'Acquire::Check-Valid-Until "false";' > "$dir/etc/apt/apt.conf.d/99no-check-valid-until"
  fi
  copy_host_network "$dir"   # ca-certificates' post-install rebuilt the bundle without the host's CAs
  echo "$want" > "$stamp"
  log "the $suite chroot is ready ($((SECONDS - t0)) s)"
}

run_in_chroot() {
  local version=$1 suite=$2; shift 2
  local dir="$CHROOT_DIR/$suite"
  copy_host_network "$dir"
  mkdir -p "$dir$REPO"
  # A private mount namespace: the mounts vanish with the last process, however the run ends.
  # a git worktree keeps its repository elsewhere (.git is a file naming it): mount that too
  local common
  common=$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  case "$common" in "$REPO"/*|"") common="" ;; *) mkdir -p "$dir$common" ;; esac
  unshare --mount --propagation private -- /bin/bash -euc '
    dir=$1 repo=$2 version=$3 common=$4; shift 4
    mount -t proc proc "$dir/proc"
    mount --rbind /dev "$dir/dev"
    mount --rbind /sys "$dir/sys"
    mount --bind "$repo" "$dir$repo"
    [ -z "$common" ] || mount --bind "$common" "$dir$common"
    exec chroot "$dir" /usr/bin/env -i HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      QT_QPA_PLATFORM=offscreen PYTHONDONTWRITEBYTECODE=1 CI="${CI:-}" QGIS_MATRIX_VERSION="$version" \
      VENV=/opt/composite-index/venv REF_VENV=/opt/composite-index/venv-ref \
      BENCH_ARGS="${BENCH_ARGS:-}" DEMO_ARGS="${DEMO_ARGS:-}" PYTEST_ARGS="${PYTEST_ARGS:-}" \
      /bin/bash -c "cd \"$repo\" && $*"
  ' bash "$dir" "$REPO" "$version" "$common" "$@"
}

list() {
  local host; host=$(host_qgis)
  echo "version  Debian suite  runs"
  for v in 3.22 3.40 3.44; do
    local s; s=$(suite_of "$v")
    if [ "$host" = "$v" ]; then where="on this host"; else where="chroot $CHROOT_DIR/$s"; fi
    [ -f "$CHROOT_DIR/$s/.composite-index-ready" ] && [ "$host" != "$v" ] && where="$where (cached)"
    printf '%-8s %-13s %s\n' "$v" "$s" "$where"
  done
}

# The whole run is one function, so that bash has read all of it before it starts: editing this
# file while a long run is going on cannot change what that run does.
main() {
  [ $# -ge 1 ] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
  if [ "$1" = --list ]; then list; exit 0; fi
  versions=$1; shift
  [ $# -ge 1 ] || set -- test
  # what runs in the repository: make TARGETS, or (after --) a command after the set-up
  if [ "$1" = -- ]; then
    shift
    [ $# -ge 1 ] || { echo "qgis_matrix: nothing to run after --" >&2; exit 2; }
    command_line="make -s setup QGIS= && PY=\"\${VENV:-.venv}/bin/python\" && export PY && $*"
    what="$*"
  else
    command_line="make $* QGIS="
    what="make $*"
  fi
  [ "$versions" = all ] && versions=3.22,3.40,3.44

  if [ "$(id -u)" != 0 ]; then
    echo "qgis_matrix: needs root for debootstrap, chroot and mounts (run with sudo)" >&2; exit 1
  fi

  host=$(host_qgis)
  declare -a summary=()
  failed=0
  IFS=, read -r -a wanted <<< "$versions"
  for version in "${wanted[@]}"; do
    suite=$(suite_of "$version")
    t0=$SECONDS
    log "QGIS $version: $what"
    if [ "$host" = "$version" ]; then
      if QGIS= bash -c "$command_line"; then rc=0; else rc=$?; fi
    else
      mkdir -p "$CHROOT_DIR"
      # builds take the lock alone; runs share it, so a chroot is never rebuilt under a running suite
      if { chroot_ready "$suite" || ( flock -x 9; ensure_chroot "$suite" ) 9>"$CHROOT_DIR/$suite.lock"; } \
         && ( flock -s 9; run_in_chroot "$version" "$suite" "$command_line" ) 9>"$CHROOT_DIR/$suite.lock"; then
        rc=0
      else
        rc=$?
      fi
    fi
    where=$([ "$host" = "$version" ] && echo host || echo "$suite chroot")
    status=$([ "$rc" = 0 ] && echo passed || echo "FAILED (exit $rc)")
    summary+=("QGIS $version ($where): $what $status in $((SECONDS - t0)) s")
    [ "$rc" = 0 ] || failed=1
  done
  echo
  log "summary"
  printf '  %s\n' "${summary[@]}"
  return $failed
}

main "$@"
