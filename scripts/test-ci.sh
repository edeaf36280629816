#!/usr/bin/env bash
# npm run test:ci: npm test in a GitHub-hosted runner, as root (the test bed starts PostgreSQL
# as the postgres user with runuser), keeping the runner's PATH and HOME (the tools cache).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then exec sudo --preserve-env=PATH,HOME,CI,GITHUB_STEP_SUMMARY bash "$0" "$@"; fi
exec bash scripts/test.sh
