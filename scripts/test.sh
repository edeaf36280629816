#!/usr/bin/env bash
# npm test: everything CI checks, on a fresh machine too. Installs packages, builds any
# missing tool (cold: about an hour; warm: seconds), runs type, lint and format checks and
# the unit suite, then starts PostgreSQL and the local cluster for the integration and
# end-to-end suites, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { printf '\n== %s (%ss)\n' "$*" "$((SECONDS - start))"; }

step "npm packages"
bash scripts/npm-install.sh

step "tools (tools/build.sh)"
bash tools/build.sh

source scripts/env.sh
bash scripts/pulumi-plugins.sh

step "typecheck, lint, format"
tsc --noEmit -p .
eslint .
prettier --check .

step "unit tests"
jest --selectProjects unit

started=()
cleanup() {
  local code=$?
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do bash "scripts/${started[i]}.sh" down || true; done
  exit "$code"
}
trap cleanup EXIT
step "test bed: PostgreSQL and the local cluster"
if [ ! -f "$PG_DIR/env" ]; then started+=(pg); fi
bash scripts/pg.sh up
if ! bash scripts/cluster.sh status >/dev/null 2>&1; then started+=(cluster); fi
bash scripts/cluster.sh up
source scripts/env.sh

step "integration tests (real PostgreSQL, real Atlas)"
jest --selectProjects integration --runInBand

step "end-to-end tests (real Pulumi engine, real control plane)"
jest --selectProjects e2e --runInBand

step "done"
