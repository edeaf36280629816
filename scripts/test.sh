#!/usr/bin/env bash
# npm test: everything CI checks, on a fresh machine too. Installs packages, builds any
# missing tool (cold: about an hour; warm: seconds), runs type, lint and format checks and
# the unit suite, then starts PostgreSQL and the local cluster for the integration and
# end-to-end suites, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
# Where the time goes: each step's duration, printed at the end.
steps=() durations=() last=$SECONDS
step() {
  [ ${#steps[@]} -gt 0 ] && durations+=($((SECONDS - last)))
  last=$SECONDS
  steps+=("$*")
  printf '\n== %s (%ss)\n' "$*" "$((SECONDS - start))"
}

eslint_inputs_digest() {
  git ls-files -coz --exclude-standard -- '*.ts' eslint.config.js tsconfig.json package-lock.json |
    sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
}

step "npm packages"
bash scripts/npm-install.sh

step "tools (tools/build.sh)"
bash tools/build.sh

source scripts/env.sh
bash scripts/pulumi-plugins.sh

results=$STATE_DIR/test-results
rm -rf "$results" && mkdir -p "$results"

# The test bed starts in the background, beside the checks below: most of its 12-14 s is
# the API server starting, and waiting on it would leave the cores to the checks anyway.
# What this run starts, it stops (a bed that was already running stays).
started=() bed=
cleanup() {
  local code=$?
  if [ -n "$bed" ]; then wait "$bed" || true; fi
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do bash "scripts/${started[i]}.sh" down || true; done
  exit "$code"
}
trap cleanup EXIT
bash scripts/pg.sh status || started+=(pg)
bash scripts/pg-matrix.sh status || started+=(pg-matrix)
bash scripts/cluster.sh status >/dev/null 2>&1 || started+=(cluster)
bed_log=$(mktemp)
(bash scripts/pg.sh up && bash scripts/pg-matrix.sh up && bash scripts/cluster.sh up) >"$bed_log" 2>&1 &
bed=$!

step "typecheck, lint, format, workflows; unit tests"
# CPU-bound jobs on two cores, side by side: tsc then prettier, eslint, the workflow checks,
# and the unit suite (in band: measured faster here than two workers). The unit suite's and
# the workflow checks' output is shown, the others' when they fail.
# tsc and prettier keep their caches in .local/lint-cache (tsc's build info; prettier's by
# file content), correct across edits and warm from the last run: 15 s of CPU -> 5 s here.
checks=$(mktemp -d) cache=$STATE_DIR/lint-cache
mkdir -p "$cache"
(tsc --noEmit -p . --incremental --tsBuildInfoFile "$cache/tsc.tsbuildinfo" &&
  prettier --check --log-level warn --cache --cache-strategy content --cache-location "$cache/prettier.json" .) \
  >"$checks/tsc-prettier" 2>&1 &
tsc_prettier=$!
# ESLint's cache is per file, but its type-aware rules read other files' types: a cache is
# kept only while nothing it read changed (a digest of every .ts file, the configs and the
# lockfile names it), so any edit lints everything again. Outside a git checkout, no cache.
eslint_cache=() key=$(eslint_inputs_digest) && {
  eslint_cache=(--cache --cache-location "$cache/eslint-$key")
  find "$cache" -maxdepth 1 -name 'eslint-*' ! -name "eslint-$key" -delete
}
eslint . "${eslint_cache[@]}" >"$checks/eslint" 2>&1 &
lint=$!
# The workflows (.github/workflows) and the npm scripts they run before the suites.
(actionlint && npm run --silent migrations:check && npm run --silent migrations:guard -- --all) \
  >"$checks/workflows" 2>&1 &
workflows=$!
jest --selectProjects unit --runInBand --json --outputFile="$results/unit.json" >"$checks/unit" 2>&1 &
unit=$!
failed=0
wait "$unit" || failed=1
cat "$checks/unit"
wait "$tsc_prettier" || { cat "$checks/tsc-prettier"; failed=1; }
wait "$lint" || { cat "$checks/eslint"; failed=1; }
wait "$workflows" || failed=1
cat "$checks/workflows"
rm -rf "$checks"
[ "$failed" = 0 ]

step "build: bin/, the compiled program and migration commands (scripts/build.sh)"
bash scripts/build.sh --typechecked
bash scripts/build.sh --check

step "test bed: PostgreSQL and the local cluster (started beside the checks)"
wait "$bed" || bed_failed=1
bed=
cat "$bed_log" && rm -f "$bed_log"
[ -z "${bed_failed:-}" ]
source scripts/env.sh

step "integration and end-to-end tests, with today's PostgreSQL majors ($(bash scripts/pg-matrix.sh majors))"
# One jest run, four files at a time: the end-to-end files mostly wait on the cluster and
# the integration files on PostgreSQL and Atlas, and each has its own databases and
# namespaces. What that saves on two cores: docs/performance.md.
projects=(--selectProjects integration)
for m in $(bash scripts/pg-matrix.sh majors); do projects+=("integration-pg$m"); done
projects+=(e2e)
jest "${projects[@]}" --maxWorkers=4 --json --outputFile="$results/integration-e2e.json"

step "done"
for i in "${!durations[@]}"; do printf '%5ss  %s\n' "${durations[i]}" "${steps[i]}"; done
printf '%5ss  total\n' "$((SECONDS - start))"
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
