#!/usr/bin/env bash
# Runs a TypeScript file with the project's Node 22 (type stripping needs no build step).
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec node --disable-warning=ExperimentalWarning -r ts-node/register/transpile-only "$@"
