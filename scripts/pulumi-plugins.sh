#!/usr/bin/env bash
# Registers the locally built resource plugins with this project's PULUMI_HOME (offline:
# the engine never downloads them). The version must equal what the npm SDK asks for.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$ROOT/tools/versions.env"
want=$(node -p 'require("@pulumi/kubernetes/package.json").version')
if [ "$want" != "$PULUMI_KUBERNETES_VERSION" ]; then
  echo "@pulumi/kubernetes is $want but tools/versions.env builds the provider at $PULUMI_KUBERNETES_VERSION: make them equal" >&2
  exit 1
fi
if [ ! -x "$PULUMI_HOME/plugins/resource-kubernetes-v$want/pulumi-resource-kubernetes" ]; then
  pulumi plugin install resource kubernetes "$want" --file "$(dirname "$TOOLS_BIN")/plugins/pulumi-resource-kubernetes" >/dev/null
  echo "[plugins] registered kubernetes v$want in $PULUMI_HOME" >&2
fi
