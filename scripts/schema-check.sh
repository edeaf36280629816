#!/usr/bin/env bash
# npm run migrations:schema: the schema our migrations build, compared with the API's GORM
# model (test/integration/schema.test.ts, the same test npm test runs), on the PostgreSQL in
# TESTBED_PG_URL: a CI service container, or the one `scripts/pg.sh up` starts. Builds the
# atlas binary first if it is missing (tools/build.sh atlas).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh atlas
source scripts/env.sh
if [ -z "${TESTBED_PG_URL:-}" ]; then
  echo "TESTBED_PG_URL is not set: give a PostgreSQL superuser URL, or run scripts/pg.sh up" >&2
  exit 2
fi
exec jest --selectProjects integration --runInBand --testPathPattern 'test/integration/schema\.test\.ts$'
