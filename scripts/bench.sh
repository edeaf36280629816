#!/usr/bin/env bash
# npm run bench: starts the test bed if needed, runs bench/run.ts, stops what it started.
# npm run bench -- --commands-only: only the migrations:* rows (Atlas, no test bed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/npm-install.sh
bash scripts/build.sh
if [[ " $* " == *" --commands-only "* ]]; then
  bash tools/build.sh atlas
  source scripts/env.sh
  exec node --disable-warning=ExperimentalWarning -r ts-node/register/transpile-only bench/run.ts "$@"
fi
bash tools/build.sh
source scripts/env.sh
bash scripts/pulumi-plugins.sh
started=()
cleanup() { for ((i = ${#started[@]} - 1; i >= 0; i--)); do bash "scripts/${started[i]}.sh" down || true; done; }
trap cleanup EXIT
bash scripts/pg.sh status || started+=(pg)
bash scripts/pg.sh up
bash scripts/cluster.sh status >/dev/null 2>&1 || started+=(cluster)
bash scripts/cluster.sh up
source scripts/env.sh
node --disable-warning=ExperimentalWarning -r ts-node/register/transpile-only bench/run.ts "$@"
