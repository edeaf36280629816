#!/usr/bin/env bash
# A private PostgreSQL for the test bed: Debian's package, 127.0.0.1 only, a free port,
# data under .local/postgres (ignored by git).
#
#   scripts/pg.sh up     install if missing, start (safe to run twice), print the env file
#   scripts/pg.sh down   stop the server this script started
#   scripts/pg.sh status exit 0 when it runs
set -euo pipefail
source "$(dirname "$0")/env.sh"

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install_postgres() {
  [ -n "$(pg_bin)" ] && return 0
  echo "[pg] installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  # The package starts a cluster of its own on port 5432; this test bed uses its own.
  service postgresql stop >/dev/null 2>&1 || true
}

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

as_postgres() { runuser -u postgres -- "$@"; }

# The server runs as the postgres user, which must reach its folder: .local/postgres when
# every parent folder lets it through, otherwise a folder of its own under /var/tmp.
data_root() {
  mkdir -p "$PG_DIR"
  chmod 755 "$STATE_DIR" "$PG_DIR"
  chown postgres: "$PG_DIR"
  if runuser -u postgres -- test -w "$PG_DIR"; then
    echo "$PG_DIR"
  else
    local dir; dir=/var/tmp/developers-italia-deploy-pg-$(echo "$ROOT" | sha256sum | cut -c1-12)
    mkdir -p "$dir" && chown postgres: "$dir" && chmod 700 "$dir"
    echo "$dir"
  fi
}

up() {
  install_postgres
  local bin root; bin=$(pg_bin); root=$(data_root)
  echo "$root" >"$PG_DIR/data-root"
  if [ -f "$PG_DIR/env" ] && as_postgres "$bin/pg_ctl" -D "$root/data" status >/dev/null 2>&1; then
    echo "[pg] already running ($PG_DIR/env)" >&2
    return 0
  fi
  if [ ! -f "$root/data/PG_VERSION" ]; then
    local pw; pw=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
    echo "$pw" >"$root/pwfile" && chown postgres: "$root/pwfile" && chmod 600 "$root/pwfile"
    as_postgres "$bin/initdb" -D "$root/data" -U postgres --pwfile="$root/pwfile" \
      --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log"
  fi
  local port; port=$(free_port)
  as_postgres "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root -c fsync=off -c max_connections=200" >/dev/null
  local pw; pw=$(cat "$root/pwfile")
  cat >"$PG_DIR/env" <<ENV
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGPASSWORD=$pw PGDATABASE=postgres
export TESTBED_PG_URL=postgres://postgres:$pw@127.0.0.1:$port/postgres?sslmode=disable
ENV
  echo "[pg] PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (env: $PG_DIR/env)" >&2
}

down() {
  local bin root; bin=$(pg_bin); root=$(cat "$PG_DIR/data-root" 2>/dev/null || echo "$PG_DIR")
  if [ -n "$bin" ] && [ -d "$root/data" ]; then
    as_postgres "$bin/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -f "$PG_DIR/env"
  echo "[pg] stopped" >&2
}

# Exit 0 when the server this script manages is running.
status() {
  local bin root; bin=$(pg_bin); root=$(cat "$PG_DIR/data-root" 2>/dev/null) || return 1
  [ -n "$bin" ] && [ -f "$PG_DIR/env" ] && as_postgres "$bin/pg_ctl" -D "$root/data" status >/dev/null 2>&1
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/pg.sh up|down|status" >&2; exit 2 ;;
esac
