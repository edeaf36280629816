#!/usr/bin/env bash
# npm run ci:postgres -- up|down: a throw-away PostgreSQL 18 for a workflow job, started the way
# the test bed starts it (scripts/pg-matrix.sh: the npm package's binaries, 127.0.0.1 only), its
# superuser URL handed to the job's later steps (GITHUB_ENV) as TESTBED_PG_URL. GitHub's runner
# user is not root: the script runs itself again through sudo, as pg-matrix.sh starts the server
# as the postgres user.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then exec sudo --preserve-env=PATH,HOME,GITHUB_ENV bash "$0" "$@"; fi
id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
case ${1:-} in
  up)
    bash scripts/pg-matrix.sh up 18
    # shellcheck source=/dev/null
    source .local/postgres-18/env
    echo "TESTBED_PG_URL=$TESTBED_PG_URL_18" >>"${GITHUB_ENV:?GITHUB_ENV is set by the workflow runner}"
    ;;
  down) bash scripts/pg-matrix.sh down 18 ;;
  *) echo "usage: npm run ci:postgres -- up|down" >&2; exit 2 ;;
esac
