#!/usr/bin/env bash
# The main command, against the local default (a cluster and a PostgreSQL on this machine).
#
#   npm run local        build what is missing, start the test bed, `pulumi up` the local stack
#   npm run local:down   stop everything this started (state stays in .local/ for next time)
set -euo pipefail
cd "$(dirname "$0")/.."

up() {
  local start=$SECONDS
  bash scripts/npm-install.sh
  bash scripts/build.sh
  bash tools/build.sh
  source scripts/env.sh
  bash scripts/pulumi-plugins.sh
  bash scripts/pg.sh up
  bash scripts/cluster.sh up
  source scripts/env.sh

  # The API's database and role, owned by that role (the API's startup needs ownership).
  local dir=$STATE_DIR/local
  mkdir -p "$dir" "${PULUMI_BACKEND_URL#file://}"
  [ -f "$dir/db-password" ] || head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$dir/db-password"
  local pw; pw=$(cat "$dir/db-password")
  APP_DB_PASSWORD=$pw psql -v ON_ERROR_STOP=1 -q <<'SQL'
\getenv pw APP_DB_PASSWORD
SELECT 'CREATE ROLE developers_italia LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'developers_italia')\gexec
ALTER ROLE developers_italia PASSWORD :'pw';
SELECT 'CREATE DATABASE developers_italia OWNER developers_italia ENCODING ''UTF8'' TEMPLATE template0'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'developers_italia')\gexec
SQL

  pulumi stack select local --create --non-interactive >/dev/null
  cp Pulumi.local.yaml "$dir/Pulumi.local.yaml"
  # Through stdin: the password never reaches a process list.
  printf 'host=%s port=%s dbname=developers_italia user=developers_italia password=%s sslmode=disable' \
    "$PGHOST" "$PGPORT" "$pw" | pulumi config set --secret databaseDsn --config-file "$dir/Pulumi.local.yaml" --non-interactive
  # --refresh: the cluster may have been recreated since the last run.
  pulumi up --yes --refresh --non-interactive --config-file "$dir/Pulumi.local.yaml"

  echo
  pulumi stack output
  cat <<TXT

Done in $((SECONDS - start)) s. Look around:
  source scripts/env.sh
  kubectl get jobs,deployments,replicasets,pods -n developers-italia
  psql -d developers_italia -c 'SELECT version, description, type, applied, total FROM atlas_schema_revisions.atlas_schema_revisions'
  npm run plan -- --stack local                                 # the migration plan of the next up
  pulumi preview --config-file .local/local/Pulumi.local.yaml    # what the next up would do
  cat .local/cluster/pod-logs/*.log                             # the migration's output
Stop it all: npm run local:down
TXT
}

down() {
  bash scripts/cluster.sh down || true
  bash scripts/pg.sh down || true
}

case " $* " in
  *" --help "* | *" -h "*)
    sed -n '2,5s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
esac
case ${1:-} in
  up) up ;;
  down) down ;;
  *) echo "usage: scripts/local.sh up|down" >&2; exit 2 ;;
esac
