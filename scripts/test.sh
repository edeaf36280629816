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

step "typecheck, lint, format, workflows"
tsc --noEmit -p .
eslint .
prettier --check .
# The workflows (.github/workflows) and the npm scripts they run before the suites.
actionlint
npm run --silent migrations:check
npm run --silent migrations:guard -- --all

results=$STATE_DIR/test-results
rm -rf "$results" && mkdir -p "$results"
suite() { jest --selectProjects "$1" --runInBand --json --outputFile="$results/$1.json"; }

step "unit tests"
suite unit

started=()
cleanup() {
  local code=$?
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do bash "scripts/${started[i]}.sh" down || true; done
  exit "$code"
}
trap cleanup EXIT
step "test bed: PostgreSQL and the local cluster"
bash scripts/pg.sh status || started+=(pg)
bash scripts/pg.sh up
bash scripts/cluster.sh status >/dev/null 2>&1 || started+=(cluster)
bash scripts/cluster.sh up
source scripts/env.sh

step "integration tests (real PostgreSQL, real Atlas)"
suite integration

step "end-to-end tests (real Pulumi engine, real control plane)"
suite e2e

step "done"
# One closing line for every suite together.
node -e '
  const fs = require("fs"), dir = process.argv[1];
  let passed = 0, failed = 0;
  for (const f of fs.readdirSync(dir)) {
    const r = JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
  }
  console.log(`tests: ${passed} passed, ${failed} failed`);
' "$results"
