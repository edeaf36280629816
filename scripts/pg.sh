#!/usr/bin/env bash
# A private PostgreSQL for the test bed: Debian's package, 127.0.0.1 only, a free port,
# data under .local/postgres (ignored by git).
#
#   scripts/pg.sh up     install if missing, start (safe to run twice), print the env file
#   scripts/pg.sh down   stop the server this script started
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

up() {
  install_postgres
  local bin; bin=$(pg_bin)
  mkdir -p "$PG_DIR"
  if [ -f "$PG_DIR/env" ] && as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    echo "[pg] already running ($PG_DIR/env)" >&2
    return 0
  fi
  chown postgres: "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    local pw; pw=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
    echo "$pw" >"$PG_DIR/pwfile" && chown postgres: "$PG_DIR/pwfile" && chmod 600 "$PG_DIR/pwfile"
    as_postgres "$bin/initdb" -D "$PG_DIR/data" -U postgres --pwfile="$PG_DIR/pwfile" \
      --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log"
  fi
  local port; port=$(free_port)
  as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PG_DIR -c fsync=off -c max_connections=200" >/dev/null
  local pw; pw=$(cat "$PG_DIR/pwfile")
  cat >"$PG_DIR/env" <<ENV
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGPASSWORD=$pw PGDATABASE=postgres
export TESTBED_PG_URL=postgres://postgres:$pw@127.0.0.1:$port/postgres?sslmode=disable
ENV
  echo "[pg] PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (env: $PG_DIR/env)" >&2
}

down() {
  local bin; bin=$(pg_bin)
  if [ -n "$bin" ] && [ -d "$PG_DIR/data" ]; then
    as_postgres "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -f "$PG_DIR/env"
  echo "[pg] stopped" >&2
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) echo "usage: scripts/pg.sh up|down" >&2; exit 2 ;;
esac
